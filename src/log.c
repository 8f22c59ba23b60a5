/* SPDX-License-Identifier: GPL-2.0-only */
/* Logging sinks, levels and the per-call-site rate limiter. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 1024

/* Written at start-up only, before any other thread exists; read-only after,
 * so worker threads may log without locking. */
static char log_ident[64] = "xen-virtio-blk";
static char log_syslog_ident[64];
static bool log_syslog;
static bool log_stderr = true;
static enum log_level log_stderr_max = LOG_LVL_DEBUG; /* most verbose */
static enum log_level log_threshold = LOG_LVL_INFO;

static const char *const level_names[] = {
    [LOG_LVL_ERROR] = "error",
    [LOG_LVL_WARN] = "warn",
    [LOG_LVL_INFO] = "info",
    [LOG_LVL_DEBUG] = "debug",
};

/* syslog readers take "tag[pid]:" apart, so "name[dom5]" would lose the
 * real pid; the syslog tag becomes "name-dom5" and LOG_PID adds the pid. */
static void make_syslog_ident(const char *ident)
{
	size_t j = 0;

	for (size_t i = 0; ident[i] && j + 1 < sizeof(log_syslog_ident); i++) {
		if (ident[i] == '[')
			log_syslog_ident[j++] = '-';
		else if (ident[i] != ']')
			log_syslog_ident[j++] = ident[i];
	}
	log_syslog_ident[j] = '\0';
}

/* How many bytes at s make a control character a terminal would act on:
 * 1 for C0 (below 0x20) and DEL, 2 for a C1 control in UTF-8 (U+0080 to
 * U+009F, CSI among them), 0 for anything else. */
static size_t control_len(const char *s)
{
	unsigned char c = (unsigned char)s[0];

	if (c == 0)
		return 0;
	if (c < 0x20 || c == 0x7f)
		return 1;
	if (c == 0xc2 && (unsigned char)s[1] >= 0x80 &&
	    (unsigned char)s[1] <= 0x9f)
		return 2;
	return 0;
}

void log_printable(char *dst, size_t len, const char *src)
{
	size_t i, c;

	for (i = 0; i < len - 1 && src[i]; i++) {
		c = control_len(src + i);
		dst[i] = c ? '?' : src[i];
		if (c == 2 && i + 1 < len - 1)
			dst[++i] = '?';
	}
	dst[i] = '\0';
}

void log_init(const char *ident, bool use_syslog, enum log_level level)
{
	if (log_syslog)
		closelog();
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_threshold = level;
	log_syslog = use_syslog;
	log_stderr = !use_syslog;
	log_stderr_max = LOG_LVL_DEBUG;
	if (use_syslog) {
		make_syslog_ident(log_ident);
		openlog(log_syslog_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
}

void log_also_stderr(bool on)
{
	if (!log_syslog)
		return;
	log_stderr = on;
	log_stderr_max = LOG_LVL_WARN;
}

int log_level_parse(const char *s)
{
	for (int i = 0; i <= LOG_LVL_DEBUG; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

/* One write() per line so lines from several threads never interleave. */
static void write_stderr(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(STDERR_FILENO, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void emit(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const prefix[] = {
	    [LOG_LVL_ERROR] = "error: ",
	    [LOG_LVL_WARN] = "warning: ",
	    [LOG_LVL_INFO] = "",
	    [LOG_LVL_DEBUG] = "debug: ",
	};
	static const int prio[] = {
	    [LOG_LVL_ERROR] = LOG_ERR,
	    [LOG_LVL_WARN] = LOG_WARNING,
	    [LOG_LVL_INFO] = LOG_INFO,
	    [LOG_LVL_DEBUG] = LOG_DEBUG,
	};
	char msg[LOG_LINE_MAX];
	int saved_errno = errno;
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (n < 0)
		return;
	/* Keep the one-line-per-message promise whatever was formatted, and
	 * let no escape sequence a quoted path or name holds reach a
	 * terminal. */
	size_t len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (msg[i] == '\n' || msg[i] == '\r' || msg[i] == '\t')
			msg[i] = ' ';
	log_printable(msg, sizeof(msg), msg);

	if (log_syslog)
		syslog(prio[level], "%s%s", prefix[level], msg);
	if (log_stderr && level <= log_stderr_max) {
		char line[LOG_LINE_MAX + 96];
		int l = snprintf(line, sizeof(line), "%s: %s%s\n", log_ident,
				 prefix[level], msg);

		if (l > 0) {
			if ((size_t)l >= sizeof(line)) {
				l = sizeof(line) - 1;
				line[l - 1] = '\n';
			}
			write_stderr(line, (size_t)l);
		}
	}
	errno = saved_errno;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	emit(level, fmt, ap);
	va_end(ap);
}

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Call sites are shared by the I/O threads (--io-threads). */
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

void log_guest(struct log_ratelimit *rl, enum log_level level, const char *fmt,
	       ...)
{
	va_list ap;
	long long now;
	unsigned suppressed = 0;
	bool print;

	if (level > log_threshold)
		return;
	now = monotonic_ms();
	pthread_mutex_lock(&ratelimit_lock);
	if ((rl->printed == 0 && rl->suppressed == 0) ||
	    now - rl->window_start_ms >= LOG_RATELIMIT_INTERVAL_MS) {
		suppressed = rl->suppressed;
		rl->window_start_ms = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	print = rl->printed < LOG_RATELIMIT_BURST;
	if (print)
		rl->printed++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&ratelimit_lock);
	if (suppressed)
		log_msg(level, "%u similar messages suppressed", suppressed);
	if (!print)
		return;
	va_start(ap, fmt);
	emit(level, fmt, ap);
	va_end(ap);
}

void err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
