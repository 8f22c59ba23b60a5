/* SPDX-License-Identifier: GPL-2.0-only */
/* sd_notify(3)'s READY=1, by hand: one datagram to $NOTIFY_SOCKET. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service_notify.h"

int service_notify_init(struct service_notify *n, char *err, size_t errlen)
{
	const char *v = getenv("NOTIFY_SOCKET");
	size_t len = v ? strlen(v) : 0;

	memset(n, 0, sizeof(*n));
	if (!v)
		return 0;
	/* systemd gives an absolute path, or @ for the abstract namespace
	 * (sd_notify(3)); a vsock address or a relative path is not ours to
	 * guess at. */
	if (len < 2 || (v[0] != '/' && v[0] != '@') ||
	    len > sizeof(n->addr.sun_path)) {
		snprintf(err, errlen,
			 "NOTIFY_SOCKET '%.200s': not an absolute path or "
			 "@name; the service manager will not hear that we "
			 "are ready",
			 v);
		unsetenv("NOTIFY_SOCKET");
		return -1;
	}
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, v, len);
	if (v[0] == '@')
		n->addr.sun_path[0] = '\0';
	n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	unsetenv("NOTIFY_SOCKET");
	return 0;
}

int service_notify_ready(const struct service_notify *n, char *err,
			 size_t errlen)
{
	static const char msg[] = "READY=1";
	int fd, saved;
	ssize_t r;

	if (!n->addrlen)
		return 0;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "NOTIFY_SOCKET: socket: %s",
			 strerror(errno));
		return -1;
	}
	r = sendto(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL,
		   (const struct sockaddr *)&n->addr, n->addrlen);
	saved = errno;
	close(fd);
	if (r != (ssize_t)sizeof(msg) - 1) {
		snprintf(err, errlen, "NOTIFY_SOCKET: cannot send READY=1: %s",
			 r < 0 ? strerror(saved) : "short send");
		return -1;
	}
	return 0;
}
