/* SPDX-License-Identifier: GPL-2.0-only */
/* Telling a service manager that we are ready: systemd's notification
 * protocol (sd_notify(3), a unit of Type=notify), without libsystemd, which
 * would be one more library for one datagram. The daemon then stays the
 * unit's main process, so its exit status is the unit's. */
#ifndef XVB_SERVICE_NOTIFY_H
#define XVB_SERVICE_NOTIFY_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

struct service_notify {
	struct sockaddr_un addr;
	socklen_t addrlen; /* 0: nobody to tell */
};

/* Take $NOTIFY_SOCKET (a path, or @name in the abstract namespace) into n
 * and remove it from the environment, so that no process we start (the
 * supervisor's per-guest processes) speaks for us. First thing at start,
 * before any thread exists. 0 (also without one), or -1 with err for a
 * value that names no socket (n then tells nobody). */
int service_notify_init(struct service_notify *n, char *err, size_t errlen);
/* Send READY=1, once everything is set up. Nothing without a socket. 0, or
 * -1 with err. */
int service_notify_ready(const struct service_notify *n, char *err,
			 size_t errlen);

#endif
