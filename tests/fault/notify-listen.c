/* SPDX-License-Identifier: GPL-2.0-only */
/* notify-listen SOCKET SECONDS [FILE]: systemd's end of sd_notify(3), for
 * tests. Binds an AF_UNIX datagram socket at SOCKET (a path, or @name in
 * the abstract namespace), prints "ready" once bound, then one line per
 * message received, "pid=SENDER MESSAGE" (newlines in it as spaces), with
 * FILE's first line as it was when the message came (" file=LINE", "-"
 * for none: what the sender had done by then), until SECONDS have passed
 * or SIGTERM. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;
	int fd, on = 1;
	long long deadline;

	if (argc < 3 || argc > 4 || (len = strlen(argv[1])) < 2 ||
	    len > sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: notify-listen SOCKET SECONDS [FILE]\n");
		return 2;
	}
	memcpy(sa.sun_path, argv[1], len);
	if (argv[1][0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) <
		0) {
		perror("notify-listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	deadline = now_ms() + atoi(argv[2]) * 1000LL;
	for (;;) {
		char buf[4096], cbuf[CMSG_SPACE(sizeof(struct ucred))];
		struct iovec iov = {buf, sizeof(buf) - 1};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		struct pollfd p = {fd, POLLIN, 0};
		long long left = deadline - now_ms();
		long pid = -1;
		ssize_t n;

		if (left <= 0)
			return 0;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = recvmsg(fd, &mh, 0);
		if (n < 0)
			continue;
		buf[n] = '\0';
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\n' || buf[i] == '\0')
				buf[i] = ' ';
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
		     c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_CREDENTIALS) {
				struct ucred cr;

				memcpy(&cr, CMSG_DATA(c), sizeof(cr));
				pid = cr.pid;
			}
		printf("pid=%ld %s", pid, buf);
		if (argc == 4) {
			char line[256] = "";
			FILE *f = fopen(argv[3], "r");

			if (f) {
				if (!fgets(line, sizeof(line), f))
					line[0] = '\0';
				fclose(f);
			}
			line[strcspn(line, "\n")] = '\0';
			printf(" file=%s", line[0] ? line : "-");
		}
		printf("\n");
		fflush(stdout);
	}
}
