/* SPDX-License-Identifier: GPL-2.0-only */
/* A xenstore node that one live process at a time may hold: the --watch
 * supervisor's guard against a second supervisor on the same host, and a
 * guest's backend process's against a second one for the same guest. */
#ifndef XVB_XS_CLAIM_H
#define XVB_XS_CLAIM_H

#include <sys/types.h>
#include <xenstore.h>

/* Write "PID STARTTIME" of this process to path, in one transaction,
 * unless it names another process that is still running. 0 when held
 * (taken over, with a log line, from a process that is gone), -EBUSY with
 * *holder set when another live process holds it, -errno else. */
int xs_claim(struct xs_handle *xs, const char *path, pid_t *holder);

/* Remove path if this process still holds it. */
void xs_claim_release(struct xs_handle *xs, const char *path);

/* The live process, other than this one, that holds path; 0 if none. */
pid_t xs_claim_holder(struct xs_handle *xs, const char *path);

/* Remove path if it names a process that is gone (one that was killed). */
void xs_claim_drop_stale(struct xs_handle *xs, const char *path);

#endif
