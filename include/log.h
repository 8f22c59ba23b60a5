/* SPDX-License-Identifier: GPL-2.0-only */
/* Logging: stderr in the foreground, syslog (facility daemon) when detached. */
#ifndef XVB_LOG_H
#define XVB_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Choose the sink at start-up; ident is e.g. "xen-virtio-blk[dom5]". May be
 * called again (e.g. once the domid is known); until the first call, lines
 * go to stderr as "xen-virtio-blk" at info level. */
void log_init(const char *ident, bool use_syslog, enum log_level level);
/* With syslog chosen, also copy warnings and errors to stderr: a detached
 * daemon keeps its start-up problems visible to whoever started it until
 * it has finished starting and let go of the terminal (an init script's
 * "Starting ..." line stays clean when all goes well). */
void log_also_stderr(bool on);
/* Parse "error|warn|info|debug"; returns -1 if unknown. */
int log_level_parse(const char *s);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* For messages a guest can trigger: at most LOG_RATELIMIT_BURST lines per
 * LOG_RATELIMIT_INTERVAL_MS per call site (CLOCK_MONOTONIC), then, at the
 * first message after the interval, one "N similar messages suppressed"
 * line. `rl` is a static per call site; loop thread only. */
#define LOG_RATELIMIT_BURST	  10
#define LOG_RATELIMIT_INTERVAL_MS 5000
struct log_ratelimit {
	long long window_start_ms;
	unsigned printed, suppressed;
};
void log_guest(struct log_ratelimit *rl, enum log_level level, const char *fmt,
	       ...) __attribute__((format(printf, 3, 4)));

/* src into dst (len bytes with the NUL; dst may be src) with each control
 * character a terminal would act on as '?': C0, DEL and the UTF-8 C1
 * controls (CSI among them). For quoting what someone typed (a path, a
 * name) in one harmless line. */
void log_printable(char *dst, size_t len, const char *src);

/* Write a one-line reason for the caller to report (NULL or 0 ignored):
 * how layers below main() explain a refusal. */
void err_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
/* A rate-limited line about guest behaviour, one limiter per call site:
 * a warning (the guest did something wrong) or news (it did something a
 * guest may do, but as often as it likes). */
#define log_guest_warn(...)                                                    \
	do {                                                                   \
		static struct log_ratelimit rl__;                              \
		log_guest(&rl__, LOG_LVL_WARN, __VA_ARGS__);                   \
	} while (0)
#define log_guest_info(...)                                                    \
	do {                                                                   \
		static struct log_ratelimit rl__;                              \
		log_guest(&rl__, LOG_LVL_INFO, __VA_ARGS__);                   \
	} while (0)

#endif
