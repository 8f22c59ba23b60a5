/* SPDX-License-Identifier: GPL-2.0-only */
/* --watch: one backend process per guest, started from xenstore events. */
#include "supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenstore.h>

#include "daemonize.h"
#include "log.h"
#include "loop.h"
#include "options.h"
#include "signals.h"
#include "xs_backend.h"
#include "xs_claim.h"
#include "xs_values.h"

/* Domids looked at in one batch of watch events; more means "all". */
#define MAX_BATCH 64

struct child {
	pid_t pid;
	uint32_t domid;
};

struct supervisor {
	struct supervisor_params p;
	/* p.pass_on points here: the caller's list need not outlive us. */
	const char *pass_on[SUPERVISOR_PASS_ON_MAX + 1];
	struct loop *loop;
	struct signals *sig;
	struct xs_handle *xs;
	int xs_fd, timer_fd;
	bool xs_in_loop, timer_in_loop, watching;
	uint32_t self;
	char base[80]; /* /local/domain/<self>/backend/virtio_disk */
	size_t base_len;
	char claim[48]; /* once held: /local/domain/<self>/xen-virtio-blk */
	/* Guests that got a process and whose directory still exists: no
	 * second one, even after the first exited. */
	uint8_t started[(MAX_DOMID + 8) / 8];
	struct child *child;
	unsigned nchild, cap;
	bool stopping;
};

static bool was_started(const struct supervisor *s, uint32_t domid)
{
	return s->started[domid / 8] & (1u << (domid % 8));
}

static void mark_started(struct supervisor *s, uint32_t domid, bool on)
{
	if (on)
		s->started[domid / 8] |= (uint8_t)(1u << (domid % 8));
	else
		s->started[domid / 8] &= (uint8_t) ~(1u << (domid % 8));
}

static struct child *find_child(struct supervisor *s, uint32_t domid)
{
	for (unsigned i = 0; i < s->nchild; i++)
		if (s->child[i].domid == domid)
			return &s->child[i];
	return NULL;
}

/* -------------------------------------------------------------- children */

/* In the forked child, between fork and exec: only async-signal-safe calls
 * (the parent may have other threads, e.g. inside libxenstore). */
static void __attribute__((noreturn))
exec_child(const char *exe, char *const argv[])
{
	sigset_t keep;

	/* The mask and ignored dispositions survive exec. The signals the
	 * new process reads from its signalfd stay blocked through its
	 * start: a SIGUSR1 forwarded for statistics (or a SIGTERM) before it
	 * has set up would otherwise kill it with the default action and
	 * leave the guest without its disks; blocked, it waits for the
	 * signalfd. Everything else starts clean. */
	signals_handled_set(&keep);
	sigprocmask(SIG_SETMASK, &keep, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* Our epoll, signalfd, xenstore connection... are ours alone. */
	daemonize_close_fds(3);
	execv(exe, argv);
	_exit(127);
}

/* Every device of the guest that no process of ours will tear down gets
 * `hotplug-error` = why and state 6: the reason is in xenstore, and libxl's
 * destroy or reboot does not wait its 10 s for state 6. waiting_only: only
 * those in state 1 or 5 (any other may be served by someone else). Returns
 * how many were closed. */
static unsigned close_orphans(struct supervisor *s, uint32_t domid,
			      const char *why, bool waiting_only)
{
	char dir[128], claim[80];
	pid_t holder;

	/* Not ours to close while a process we did not start serves the
	 * guest (one run by hand, or left by a supervisor before us): ours
	 * found its claim and left. A killed process's claim goes. */
	xs_backend_claim_path(s->self, domid, claim, sizeof(claim));
	holder = xs_claim_holder(s->xs, claim);
	if (holder) {
		log_debug("domain %u: served by pid %ld, not started here: "
			  "its devices are left to it",
			  domid, (long)holder);
		return 0;
	}
	xs_claim_drop_stale(s->xs, claim);
	snprintf(dir, sizeof(dir), "%s/%u", s->base, domid);
	return xs_backend_close_orphans(s->xs, dir, why, waiting_only);
}

static void log_waiting_closed(uint32_t domid, unsigned n)
{
	if (n)
		log_warn("domain %u: %u virtio disk(s) left waiting for a "
			 "backend closed (state 6)",
			 domid, n);
}

/* No backend process for the guest, and none will be tried again (no
 * restart loop): its devices are closed with the reason. */
static void cannot_start(struct supervisor *s, uint32_t domid, const char *why)
{
	char msg[96];
	unsigned n;

	snprintf(msg, sizeof(msg), "no backend process: %s", why);
	n = close_orphans(s, domid, msg, true);
	log_error("domain %u: cannot start a backend: %s; %u virtio disk(s) "
		  "closed (state 6)",
		  domid, why, n);
}

static void spawn(struct supervisor *s, uint32_t domid)
{
	char dom[16];
	char *argv[10 + SUPERVISOR_PASS_ON_MAX] = {
	    (char *)s->p.argv0, "--domid",     dom,
	    "--foreground",	"--log-level", (char *)s->p.log_level,
	};
	unsigned argc = 6;
	pid_t pid;

	if (s->p.child_syslog)
		argv[argc++] = "--syslog";
	if (s->p.runas) {
		argv[argc++] = "--runas";
		argv[argc++] = (char *)s->p.runas;
	}
	for (unsigned i = 0; s->pass_on[i]; i++)
		argv[argc++] = (char *)s->pass_on[i];
	argv[argc] = NULL;

	snprintf(dom, sizeof(dom), "%u", domid);
	/* No restart loop, whatever happens to this one. */
	mark_started(s, domid, true);
	if (s->nchild == s->cap) {
		unsigned cap = s->cap ? 2 * s->cap : 16;
		struct child *c = realloc(s->child, cap * sizeof(*c));

		if (!c) {
			cannot_start(s, domid, strerror(ENOMEM));
			return;
		}
		s->child = c;
		s->cap = cap;
	}
	pid = fork();
	if (pid < 0) {
		char why[64];

		snprintf(why, sizeof(why), "fork: %s", strerror(errno));
		cannot_start(s, domid, why);
		return;
	}
	if (pid == 0)
		exec_child(s->p.exe, argv);
	s->child[s->nchild++] = (struct child){.pid = pid, .domid = domid};
	log_info("domain %u: started backend process %ld", domid, (long)pid);
}

/* Once a guest's process has exited, no device of the guest waits for
 * it. One killed, or that never ran, tore nothing down: every device not
 * in state 6 is closed. Any other exit tore down what it served, but may
 * leave devices it never took (it refused all it had seen, and libxl added
 * one more after) or the state 5 of a domain it saw die: those in 1 or 5
 * are closed. */
static void after_exit(struct supervisor *s, uint32_t domid, pid_t pid, int st)
{
	bool torn_down = WIFEXITED(st) && WEXITSTATUS(st) != 127;
	char why[96];
	unsigned n;

	if (WIFSIGNALED(st))
		snprintf(why, sizeof(why),
			 "backend process %ld killed by "
			 "signal %d",
			 (long)pid, WTERMSIG(st));
	else if (!torn_down)
		snprintf(why, sizeof(why),
			 "backend process %ld could not "
			 "run",
			 (long)pid);
	else
		snprintf(why, sizeof(why),
			 "backend process %ld exited with status %d", (long)pid,
			 WEXITSTATUS(st));
	n = close_orphans(s, domid, why, torn_down);
	if (torn_down)
		log_waiting_closed(domid, n);
	else if (n)
		log_warn("domain %u: %u virtio disk(s) it left open closed "
			 "(state 6)",
			 domid, n);
}

static bool dir_gone(struct supervisor *s, uint32_t domid);

static void reap(struct supervisor *s)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		unsigned i;

		for (i = 0; i < s->nchild; i++)
			if (s->child[i].pid == pid)
				break;
		if (i == s->nchild)
			continue; /* not one of ours (cannot happen) */
		uint32_t domid = s->child[i].domid;

		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			log_info("domain %u: backend process %ld exited with "
				 "status 0",
				 domid, (long)pid);
		else if (WIFEXITED(st))
			log_warn("domain %u: backend process %ld exited with "
				 "status %d%s",
				 domid, (long)pid, WEXITSTATUS(st),
				 WEXITSTATUS(st) == 2
				     ? " (refused to serve: see its log)"
				 : WEXITSTATUS(st) == 127
				     ? " (could not execute it)"
				     : "");
		else if (WIFSIGNALED(st))
			log_warn("domain %u: backend process %ld killed by "
				 "signal %d (%s)",
				 domid, (long)pid, WTERMSIG(st),
				 strsignal(WTERMSIG(st)));
		s->child[i] = s->child[--s->nchild];
		after_exit(s, domid, pid, st);
		/* If libxl removed the guest before we reaped it, the event
		 * that would have forgotten the domid has already gone by. */
		if (!s->stopping && dir_gone(s, domid))
			mark_started(s, domid, false);
	}
	if (s->stopping && s->nchild == 0) {
		log_info("every backend process has exited");
		loop_stop(s->loop);
	}
}

static void kill_all(struct supervisor *s, int sig)
{
	for (unsigned i = 0; i < s->nchild; i++)
		if (kill(s->child[i].pid, sig) < 0 && errno != ESRCH)
			log_warn("domain %u: kill(%ld, %d): %s",
				 s->child[i].domid, (long)s->child[i].pid, sig,
				 strerror(errno));
}

/* ------------------------------------------------------------- xenstore */

/* Is any device of the guest waiting for a backend (state 1)? */
static bool wants_backend(struct supervisor *s, uint32_t domid)
{
	char dir[128], path[192];
	unsigned n = 0;
	char **devs;
	bool want = false;

	snprintf(dir, sizeof(dir), "%s/%u", s->base, domid);
	devs = xs_directory(s->xs, XBT_NULL, dir, &n);
	for (unsigned i = 0; devs && i < n && !want; i++) {
		unsigned len = 0;
		char *v;

		snprintf(path, sizeof(path), "%s/%s/state", dir, devs[i]);
		v = xs_read(s->xs, XBT_NULL, path, &len);
		want = v && strlen(v) == len &&
		       xsv_parse_state(v) == XB_INITIALISING;
		free(v);
	}
	free(devs);
	return want;
}

static bool dir_gone(struct supervisor *s, uint32_t domid)
{
	char dir[128];
	unsigned n = 0;
	char **v;

	snprintf(dir, sizeof(dir), "%s/%u", s->base, domid);
	v = xs_directory(s->xs, XBT_NULL, dir, &n);
	free(v);
	return !v && errno == ENOENT;
}

static void consider(struct supervisor *s, uint32_t domid)
{
	if (was_started(s, domid)) {
		if (find_child(s, domid))
			return;
		/* Forget it once libxl has removed it: Xen may hand the
		 * domid out again one day. Until then, a device libxl adds
		 * or closes finds no process (none is restarted): it is
		 * closed at once rather than wait libxl's 10 s. */
		if (dir_gone(s, domid))
			mark_started(s, domid, false);
		else
			log_waiting_closed(
			    domid, close_orphans(s, domid,
						 "no backend process: it has "
						 "exited (see the log)",
						 true));
		return;
	}
	if (domid == s->self) {
		log_debug("ignoring virtio disks for our own domain %u", domid);
		return;
	}
	if (wants_backend(s, domid))
		spawn(s, domid);
}

static void scan_all(struct supervisor *s)
{
	unsigned n = 0;
	char **names = xs_directory(s->xs, XBT_NULL, s->base, &n);
	static uint8_t listed[(MAX_DOMID + 8) / 8];

	if (!names && errno != ENOENT) {
		log_warn("xenstore: %s: %s", s->base, strerror(errno));
		return;
	}
	memset(listed, 0, sizeof(listed));
	for (unsigned i = 0; names && i < n; i++) {
		uint64_t domid;

		if (xsv_parse_dec(names[i], MAX_DOMID, &domid) < 0) {
			log_debug("ignoring '%.40s' in %s", names[i], s->base);
			continue;
		}
		listed[domid / 8] |= (uint8_t)(1u << (domid % 8));
		consider(s, (uint32_t)domid);
	}
	free(names);
	for (uint32_t d = 0; d <= MAX_DOMID; d++)
		if (was_started(s, d) && !(listed[d / 8] & (1u << (d % 8))) &&
		    !find_child(s, d))
			mark_started(s, d, false);
}

/* The guest a watch event is about: base/<domid>[/...]; -1 for the base
 * itself (or anything unexpected), which means "look at everything". */
static long event_domid(const struct supervisor *s, const char *path)
{
	char num[16];
	const char *p, *end;
	uint64_t v;

	if (strncmp(path, s->base, s->base_len) != 0 ||
	    path[s->base_len] != '/')
		return -1;
	p = path + s->base_len + 1;
	end = strchr(p, '/');
	if (!end)
		end = p + strlen(p);
	if ((size_t)(end - p) >= sizeof(num))
		return -1;
	memcpy(num, p, (size_t)(end - p));
	num[end - p] = '\0';
	if (xsv_parse_dec(num, MAX_DOMID, &v) < 0)
		return -1;
	return (long)v;
}

static void on_xs(void *opaque, uint32_t events)
{
	struct supervisor *s = opaque;
	uint32_t batch[MAX_BATCH];
	unsigned nb = 0;
	bool all = false;
	char **vec;

	(void)events;
	while ((vec = xs_check_watch(s->xs))) {
		long d = event_domid(s, vec[XS_WATCH_PATH]);
		unsigned i;

		free(vec);
		if (d < 0 || nb == MAX_BATCH) {
			all = true;
			continue;
		}
		for (i = 0; i < nb && batch[i] != (uint32_t)d; i++)
			;
		if (i == nb)
			batch[nb++] = (uint32_t)d;
	}
	if (errno != EAGAIN && errno != EINTR) {
		log_error("xenstore: lost the connection (%s): no new guest "
			  "will be served; running ones keep their backends",
			  strerror(errno));
		loop_del(s->loop, s->xs_fd);
		s->xs_in_loop = false;
		return;
	}
	if (s->stopping)
		return;
	if (all) {
		scan_all(s);
		return;
	}
	for (unsigned i = 0; i < nb; i++)
		consider(s, batch[i]);
}

/* -------------------------------------------------------------- signals */

static void on_timer(void *opaque, uint32_t events)
{
	struct supervisor *s = opaque;
	uint64_t n;

	(void)events;
	if (read(s->timer_fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	if (!s->nchild)
		return;
	log_warn("%u backend process(es) still running after %d s: SIGKILL",
		 s->nchild, SUPERVISOR_STOP_SECONDS);
	kill_all(s, SIGKILL);
}

static void start_stop(struct supervisor *s, const char *name)
{
	struct itimerspec its = {
	    .it_value = {.tv_sec = SUPERVISOR_STOP_SECONDS}};

	s->stopping = true;
	if (!s->nchild) {
		log_info("%s: no backend process running, exiting", name);
		loop_stop(s->loop);
		return;
	}
	log_info("%s: stopping %u backend process(es)", name, s->nchild);
	kill_all(s, SIGTERM);
	s->timer_fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_fd < 0 ||
	    timerfd_settime(s->timer_fd, 0, &its, NULL) < 0 ||
	    loop_add(s->loop, s->timer_fd, EPOLLIN, on_timer, s) < 0) {
		/* Without a deadline we wait as long as they take. */
		log_warn("cannot arm the %d s stop timer: %s",
			 SUPERVISOR_STOP_SECONDS, strerror(errno));
		return;
	}
	s->timer_in_loop = true;
}

static void log_children(struct supervisor *s)
{
	char buf[900];
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < s->nchild && len + 40 < sizeof(buf); i++)
		len += (size_t)snprintf(
		    buf + len, sizeof(buf) - len, "%s dom%u (pid %ld)",
		    i ? "," : ":", s->child[i].domid, (long)s->child[i].pid);
	log_info("stats: %u backend process(es)%s", s->nchild, buf);
}

static void on_signal(void *opaque, int signo)
{
	struct supervisor *s = opaque;

	switch (signo) {
	case SIGCHLD:
		reap(s);
		break;
	case SIGHUP:
		/* Each backend looks at its images' sizes. */
		log_info("SIGHUP: passed on to %u backend process(es)",
			 s->nchild);
		kill_all(s, SIGHUP);
		break;
	case SIGUSR1:
		log_children(s);
		kill_all(s, SIGUSR1);
		break;
	case SIGTERM:
	case SIGINT:
		if (!s->stopping)
			start_stop(s, signo == SIGINT ? "SIGINT" : "SIGTERM");
		else
			log_info("still waiting for %u backend process(es)",
				 s->nchild);
		break;
	}
}

/* ------------------------------------------------------------ lifecycle */

/* One supervisor per host: a second would start a second backend process
 * for every new guest, and the one that lost the race for the image would
 * refuse the disk (hotplug-error) that the other serves. The service's
 * pidfile keeps it single, but not one started by hand without it. */
static bool claim(struct supervisor *s, char *err, size_t errlen)
{
	char path[sizeof(s->claim)];
	pid_t holder;
	int r;

	snprintf(path, sizeof(path), "/local/domain/%u/xen-virtio-blk",
		 s->self);
	r = xs_claim(s->xs, path, &holder);
	if (r == -EBUSY) {
		snprintf(err, errlen,
			 "already running (pid %ld holds xenstore %s)",
			 (long)holder, path);
		return false;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path,
			 strerror(-r));
		return false;
	}
	memcpy(s->claim, path, sizeof(path));
	return true;
}

struct supervisor *supervisor_new(const struct supervisor_params *p, char *err,
				  size_t errlen)
{
	struct supervisor *s = calloc(1, sizeof(*s));
	int r;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->p = *p;
	for (unsigned i = 0;
	     p->pass_on && i < SUPERVISOR_PASS_ON_MAX && p->pass_on[i]; i++)
		s->pass_on[i] = p->pass_on[i];
	s->p.pass_on = s->pass_on; /* calloc'ed: NULL-terminated */
	s->timer_fd = -1;
	s->loop = loop_new();
	if (!s->loop) {
		snprintf(err, errlen, "cannot create the event loop: %s",
			 strerror(errno));
		goto fail;
	}
	s->sig = signals_new(s->loop, on_signal, s, err, errlen);
	if (!s->sig)
		goto fail;
	s->xs = xs_open(0);
	if (!s->xs) {
		snprintf(err, errlen, "cannot connect to xenstore: %s",
			 strerror(errno));
		goto fail;
	}
	s->self = xs_backend_self_domid(s->xs);
	snprintf(s->base, sizeof(s->base), "/local/domain/%u/backend/%s",
		 s->self, XS_BACKEND_KIND);
	s->base_len = strlen(s->base);
	if (!claim(s, err, errlen))
		goto fail;
	/* A watch on a path that does not exist yet is fine: it fires when
	 * libxl creates the first virtio disk. */
	s->watching = xs_watch(s->xs, s->base, "be");
	if (!s->watching) {
		snprintf(err, errlen, "cannot watch %s: %s", s->base,
			 strerror(errno));
		goto fail;
	}
	s->xs_fd = xs_fileno(s->xs);
	r = s->xs_fd < 0 ? -EBADF
			 : loop_add(s->loop, s->xs_fd, EPOLLIN, on_xs, s);
	if (r < 0) {
		snprintf(err, errlen,
			 "cannot watch the xenstore connection: %s",
			 strerror(-r));
		goto fail;
	}
	s->xs_in_loop = true;
	log_info("watching %s", s->base);
	return s;
fail:
	supervisor_free(s);
	return NULL;
}

int supervisor_run(struct supervisor *s)
{
	int r;

	/* Guests created while we were not running. Only now: a detached
	 * daemon has let go of the terminal, which children must not keep. */
	scan_all(s);
	r = loop_run(s->loop);

	if (r < 0) {
		log_error("event loop failed: %s", strerror(-r));
		return 1;
	}
	return 0;
}

void supervisor_free(struct supervisor *s)
{
	if (!s)
		return;
	if (s->timer_in_loop)
		loop_del(s->loop, s->timer_fd);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->xs_in_loop)
		loop_del(s->loop, s->xs_fd);
	if (s->xs) {
		if (s->watching)
			xs_unwatch(s->xs, s->base, "be");
		if (s->claim[0])
			xs_claim_release(s->xs, s->claim);
		xs_close(s->xs);
	}
	signals_free(s->sig);
	loop_free(s->loop);
	free(s->child);
	free(s);
}
