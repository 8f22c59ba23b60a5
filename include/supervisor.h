/* SPDX-License-Identifier: GPL-2.0-only */
/* --watch, the dom0 service: watches /local/domain/<self>/backend/
 * virtio_disk and starts one backend process per guest (`xen-virtio-blk
 * --domid N --foreground`, a fresh exec of this binary) as soon as one of
 * the guest's devices is in state 1, so that one guest's failure cannot
 * touch another's disks. Never two processes for one domid and no
 * automatic restart: a rebooted guest is a new domid and gets a new
 * process. Children are reaped through SIGCHLD and every exit is logged;
 * SIGUSR1 is forwarded to them; SIGTERM/SIGINT forward SIGTERM, wait up to
 * SUPERVISOR_STOP_SECONDS for them to drain, SIGKILL the rest, exit 0. */
#ifndef XVB_SUPERVISOR_H
#define XVB_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>

#define SUPERVISOR_STOP_SECONDS 20

#define SUPERVISOR_PASS_ON_MAX 6

struct supervisor_params {
	const char *exe;       /* what to exec; "/proc/self/exe" */
	const char *argv0;     /* the children's argv[0] */
	const char *log_level; /* passed on as --log-level */
	bool child_syslog;     /* children log to syslog (we are detached) */
	const char *runas;     /* passed on as --runas, or NULL */
	/* More words for each child, NULL-terminated (at most
	 * SUPERVISOR_PASS_ON_MAX are used), e.g. "--poll-us=20"; NULL: none.
	 * The list is copied; the words must outlive the supervisor. */
	const char *const *pass_on;
};

struct supervisor;
/* Connect to xenstore, watch the backend directory, set up signals. NULL
 * with a one-line reason in err. */
struct supervisor *supervisor_new(const struct supervisor_params *p, char *err,
				  size_t errlen);
/* Serve until SIGTERM/SIGINT and every child has gone: 0, or 1 if the
 * event loop failed. */
int supervisor_run(struct supervisor *s);
void supervisor_free(struct supervisor *s);

#endif
