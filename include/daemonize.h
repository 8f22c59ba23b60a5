/* SPDX-License-Identifier: GPL-2.0-only */
/* Detaching from the terminal (not --foreground) and the pidfile.
 *
 * The fork happens first, before any disk, Xen handle, thread or libaio
 * context exists (none of those survive a fork), and the parent stays until
 * the child has finished starting: it exits 0 once the child calls
 * daemonize_ready(), or with the child's own exit status if the child dies
 * first. So whoever started the daemon sees start-up errors and a truthful
 * exit code, and by the time it returns the guest's devices are served. */
#ifndef XVB_DAEMONIZE_H
#define XVB_DAEMONIZE_H

#include <stdbool.h>
#include <stddef.h>

/* Make sure stdin, stdout and stderr are open (on /dev/null where they
 * were closed), first thing in main(): a starter that closed them would
 * otherwise have our pipes, pidfile or Xen handles land on 0-2, where a
 * log line or daemonize_ready()'s /dev/null would hit them. 0, or -1. */
int daemonize_std_fds(void);
/* Close every descriptor from fd on: close_range(), or on a kernel without
 * it (before 5.9) one close() per possible descriptor. Async-signal-safe,
 * so usable between fork and exec. */
void daemonize_close_fds(int fd);

/* Fork and become a session leader. Returns 0 in the child only (the parent
 * never returns), or -1 with a one-line reason in err (nothing forked). */
int daemonize_start(char *err, size_t errlen);
/* In the child: chdir to /, point stdin/stdout/stderr at /dev/null and let
 * the parent exit 0. Open relative paths (images, pidfile) before this.
 * 0, or -1 with err (the parent then exits 1 when the child does). */
int daemonize_ready(char *err, size_t errlen);

/* Open path (created, mode 0644 before umask) and lock it for as long as
 * it stays open: a second instance with the same pidfile is refused, not
 * run beside the first (two supervisors would both serve every guest).
 * Before daemonize_start(), so that a bad path is a start-up error; the
 * lock passes to the child with the file. Returns the file, or -1 with
 * err; *busy tells that another process holds it (err names its pid). */
int pidfile_open(const char *path, bool *busy, char *err, size_t errlen);
/* Replace the file's content with getpid(). 0, or -1 with err. */
int pidfile_write(int fd, const char *path, char *err, size_t errlen);
/* Remove it again at exit, if it still holds our pid, and close fd. Where
 * that is no longer allowed (privileges dropped since, the directory being
 * root's) the file is emptied through fd instead: a stale pid could name
 * an unrelated process later. */
void pidfile_remove(const char *path, int fd);

#endif
