/* SPDX-License-Identifier: GPL-2.0-only */
/* libsyslog.so: an LD_PRELOAD stand-in for syslog(3). Each line the
 * daemon sends to syslog is appended to $XVB_SYSLOG_FILE instead, as
 *     PRIORITY IDENT: MESSAGE
 * (PRIORITY the number syslog() was given, facility included), so that a
 * test can see what reached syslog on a machine with no /dev/log reader.
 * Nothing goes to the real syslog. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

static const char *ident = "";

void openlog(const char *id, int option, int facility)
{
	(void)option;
	(void)facility;
	ident = id ? id : "";
}

void closelog(void)
{
}

void vsyslog(int priority, const char *fmt, va_list ap)
{
	const char *path = getenv("XVB_SYSLOG_FILE");
	char line[4096];
	int n, m, fd;

	if (!path)
		return;
	n = snprintf(line, sizeof(line), "%d %s: ", priority, ident);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	n += (size_t)m < sizeof(line) - (size_t)n - 1
		 ? m
		 : (int)(sizeof(line) - (size_t)n - 2);
	line[n++] = '\n';
	/* One write per line, appended: threads and processes never mix. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) < 0) {
		/* nothing to be done */
	}
	close(fd);
}

void syslog(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(priority, fmt, ap);
	va_end(ap);
}

/* glibc's entry points when built with _FORTIFY_SOURCE. */
void __vsyslog_chk(int priority, int flag, const char *fmt, va_list ap);
void __syslog_chk(int priority, int flag, const char *fmt, ...);

void __vsyslog_chk(int priority, int flag, const char *fmt, va_list ap)
{
	(void)flag;
	vsyslog(priority, fmt, ap);
}

void __syslog_chk(int priority, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	vsyslog(priority, fmt, ap);
	va_end(ap);
}
