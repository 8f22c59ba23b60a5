/* SPDX-License-Identifier: GPL-2.0-only */
/* @releaseDomain, and Xen's answer about one domain (domain_watch.h). */

/* xenctrl.h pulls in Xen public headers that refuse strict ISO C (they use
 * anonymous unions); only domain info is needed from it. */
#undef __STRICT_ANSI__
#include <xenctrl.h>

#include "domain_watch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <xenstore.h>

#include "log.h"
#include "xen_logger.h"

#define RELEASE_TOKEN "release"
/* Xen's shutdown reasons (xen/sched.h SHUTDOWN_*). */
#define SHUTDOWN_SUSPEND_CODE	 2
#define SHUTDOWN_SOFT_RESET_CODE 5

struct domain_watch {
	struct loop *loop;
	uint32_t domid;
	struct xs_handle *xs;
	xc_interface *xc;
	int xs_fd;
	bool watching, in_loop, reported;
	void (*ended)(void *opaque, const char *why);
	void *opaque;
};

static const char *shutdown_name(unsigned reason)
{
	static const char *const names[] = {
	    "poweroff", "reboot", "suspend", "crash", "watchdog", "soft_reset"};

	return reason < sizeof(names) / sizeof(names[0]) ? names[reason]
							 : "unknown";
}

/* Without libxenctrl: xenstored forgets a domain once it is dying or
 * gone, and fires @releaseDomain then. A failed query says nothing (the
 * library answers false for it too, with errno set). */
static enum domain_fate fate_from_xenstore(struct domain_watch *w, char *why,
					   size_t whylen)
{
	if (!w->xs)
		return DOMAIN_UNKNOWN;
	errno = 0;
	if (xs_is_domain_introduced(w->xs, w->domid))
		return DOMAIN_UNKNOWN;
	if (errno) {
		log_warn("domain %u: xenstore cannot say if it exists: %s",
			 w->domid, strerror(errno));
		return DOMAIN_UNKNOWN;
	}
	snprintf(why, whylen, "domain %u is gone (xenstore)", w->domid);
	return DOMAIN_GONE;
}

enum domain_fate domain_watch_fate(struct domain_watch *w, char *why,
				   size_t whylen)
{
	xc_domaininfo_t info;
	unsigned reason;
	int n;

	snprintf(why, whylen, "domain %u is alive", w->domid);
	if (!w->xc)
		return fate_from_xenstore(w, why, whylen);
	memset(&info, 0, sizeof(info));
	/* getinfolist, not xc_domain_getinfo: Xen 4.18 removed the latter
	 * (and xc_dominfo_t); the list call is in every release we build
	 * against. It returns the domains from domid on: none, or another
	 * one first, means ours is gone. */
	n = xc_domain_getinfolist(w->xc, w->domid, 1, &info);
	if (n < 0) {
		log_warn("domain %u: xc_domain_getinfolist: %s", w->domid,
			 strerror(errno));
		return DOMAIN_UNKNOWN;
	}
	if (n == 0 || info.domain != w->domid) {
		snprintf(why, whylen, "domain %u is gone", w->domid);
		return DOMAIN_GONE;
	}
	if (info.flags & XEN_DOMINF_dying) {
		snprintf(why, whylen, "domain %u is dying", w->domid);
		return DOMAIN_DYING;
	}
	if (!(info.flags & XEN_DOMINF_shutdown))
		return DOMAIN_ALIVE;
	/* A suspend (save, checkpoint) or soft reset resumes the same
	 * domain: still ours to serve. Any other reason (poweroff, reboot,
	 * crash, watchdog) ends it. */
	reason =
	    (info.flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
	if (reason != SHUTDOWN_SUSPEND_CODE &&
	    reason != SHUTDOWN_SOFT_RESET_CODE) {
		snprintf(why, whylen, "domain %u has shut down (%s)", w->domid,
			 shutdown_name(reason));
		return DOMAIN_ENDED;
	}
	log_debug("domain %u: shutdown (%s), still served", w->domid,
		  shutdown_name(reason));
	return DOMAIN_ALIVE;
}

static void on_xs(void *opaque, uint32_t events)
{
	struct domain_watch *w = opaque;
	bool fired = false;
	char why[128];
	char **vec;

	(void)events;
	while ((vec = xs_check_watch(w->xs))) {
		fired |= strcmp(vec[XS_WATCH_TOKEN], RELEASE_TOKEN) == 0;
		free(vec);
	}
	if (errno != EAGAIN && errno != EINTR) {
		log_error("xenstore: lost the connection (%s); domain %u's "
			  "death will go unnoticed until SIGTERM",
			  strerror(errno), w->domid);
		loop_del(w->loop, w->xs_fd);
		w->in_loop = false;
	}
	if (!fired || w->reported)
		return;
	switch (domain_watch_fate(w, why, sizeof(why))) {
	case DOMAIN_ENDED:
	case DOMAIN_DYING:
	case DOMAIN_GONE:
		w->reported = true;
		w->ended(w->opaque, why);
		break;
	case DOMAIN_ALIVE:
	case DOMAIN_UNKNOWN:
		break;
	}
}

struct domain_watch *
domain_watch_new(uint32_t domid, void (*ended)(void *opaque, const char *why),
		 void *opaque, char *err, size_t errlen)
{
	struct domain_watch *w = calloc(1, sizeof(*w));

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->domid = domid;
	w->ended = ended;
	w->opaque = opaque;
	w->xc = xc_interface_open(xen_logger(), xen_logger(), 0);
	if (!w->xc)
		log_warn("cannot open libxenctrl (%s): domain %u's end is "
			 "noticed only once it is destroyed",
			 strerror(errno), domid);
	w->xs = xs_open(0);
	if (!w->xs) {
		snprintf(err, errlen, "cannot connect to xenstore: %s",
			 strerror(errno));
		goto fail;
	}
	w->watching = xs_watch(w->xs, "@releaseDomain", RELEASE_TOKEN);
	if (!w->watching) {
		snprintf(err, errlen, "cannot watch @releaseDomain: %s",
			 strerror(errno));
		goto fail;
	}
	w->xs_fd = xs_fileno(w->xs);
	if (w->xs_fd < 0) {
		snprintf(err, errlen, "no xenstore fd to watch");
		goto fail;
	}
	return w;

fail:
	domain_watch_free(w);
	return NULL;
}

int domain_watch_attach(struct domain_watch *w, struct loop *loop)
{
	int r = loop_add(loop, w->xs_fd, EPOLLIN, on_xs, w);

	if (r < 0)
		return r;
	w->loop = loop;
	w->in_loop = true;
	return 0;
}

void domain_watch_unprivileged(struct domain_watch *w)
{
	if (w->xc)
		xc_interface_close(w->xc);
	w->xc = NULL;
}

void domain_watch_free(struct domain_watch *w)
{
	if (!w)
		return;
	if (w->in_loop)
		loop_del(w->loop, w->xs_fd);
	if (w->xs) {
		if (w->watching)
			xs_unwatch(w->xs, "@releaseDomain", RELEASE_TOKEN);
		xs_close(w->xs);
	}
	if (w->xc)
		xc_interface_close(w->xc);
	free(w);
}
