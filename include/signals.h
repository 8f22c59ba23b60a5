/* SPDX-License-Identifier: GPL-2.0-only */
/* SIGTERM and SIGINT (shutdown), SIGHUP (look at the images' sizes again,
 * rather than the default exit that would drop every request in flight),
 * SIGUSR1 (statistics) and SIGCHLD (the supervisor's children) arrive
 * through a signalfd in the event loop, so each runs as an ordinary
 * callback; SIGPIPE is ignored (a write to a closed socket or pipe reports
 * EPIPE instead of killing the daemon). */
#ifndef XVB_SIGNALS_H
#define XVB_SIGNALS_H

#include <signal.h>
#include <stddef.h>

#include "loop.h"

/* Block SIGTERM/SIGINT/SIGHUP/SIGUSR1/SIGCHLD and ignore SIGPIPE. Call before
 * any thread exists: threads inherit the mask, and a thread with the signals
 * unblocked would take the default action (exit) instead of leaving them to
 * the signalfd. 0, or -1 with a one-line reason in err. */
int signals_block(char *err, size_t errlen);
/* The set signals_block() blocks: for a process about to exec another that
 * reads them through its own signalfd (async-signal-safe). */
void signals_handled_set(sigset_t *set);

struct signals;
/* Read the blocked signals from a signalfd watched in loop and call
 * fn(opaque, signo) once per signal. Signals that arrived before this call
 * are delivered too. NULL with a one-line reason in err. */
struct signals *signals_new(struct loop *loop,
			    void (*fn)(void *opaque, int signo), void *opaque,
			    char *err, size_t errlen);
/* Stop watching and close the signalfd; not from inside fn. */
void signals_free(struct signals *s);

#endif
