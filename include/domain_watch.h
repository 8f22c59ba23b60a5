/* SPDX-License-Identifier: GPL-2.0-only */
/* A guest domain's fate, for a backend that must stop serving it once it
 * dies or shuts down for good. xenstore fires @releaseDomain for every
 * domain that goes, naming none (e2e-testbed.md Part 2 Q5), so each event
 * asks Xen about ours. */
#ifndef XVB_DOMAIN_WATCH_H
#define XVB_DOMAIN_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

enum domain_fate {
	DOMAIN_ALIVE, /* running, paused, or suspended / soft-reset */
	DOMAIN_ENDED, /* shut down for good (poweroff, reboot, crash...) */
	DOMAIN_DYING,
	DOMAIN_GONE,
	DOMAIN_UNKNOWN, /* Xen could not be asked */
};

struct domain_watch;
/* Watch domain domid: once attached to a loop, ended(opaque, why) is called
 * there once, with a one-line reason, when its fate is no longer
 * DOMAIN_ALIVE/UNKNOWN. NULL with a one-line reason in err if xenstore
 * cannot be watched. */
struct domain_watch *
domain_watch_new(uint32_t domid, void (*ended)(void *opaque, const char *why),
		 void *opaque, char *err, size_t errlen);
/* Start reacting to events in `loop`; 0 or -errno. */
int domain_watch_attach(struct domain_watch *w, struct loop *loop);
/* Ask Xen now (also before any event), with the reason in why. */
enum domain_fate domain_watch_fate(struct domain_watch *w, char *why,
				   size_t whylen);
/* Before the process drops root: close the libxenctrl handle. No Xen
 * restriction covers it, and an open privcmd descriptor issues any
 * hypercall whoever holds it. From then on only xenstore is asked, which
 * tells a domain that is gone or dying (DOMAIN_GONE) but not one that shut
 * down and is kept (DOMAIN_UNKNOWN). */
void domain_watch_unprivileged(struct domain_watch *w);
void domain_watch_free(struct domain_watch *w);

#endif
