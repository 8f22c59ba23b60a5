/* SPDX-License-Identifier: GPL-2.0-only */
/* fork/setsid with a start-up handshake over a pipe; the pidfile. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemonize.h"
#include "log.h"

/* The most a pidfile of ours holds: a pid (at most 4194304) and a newline,
 * with room to spare. */
#define PIDFILE_MAX 32

/* Write end of the handshake pipe, in the child until daemonize_ready(). */
static int ready_fd = -1;

static ssize_t read_retry(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

static ssize_t write_retry(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/* The parent: a byte means "ready"; end-of-file means the child died (or
 * closed the pipe) without getting there, so mirror its exit status. */
static void __attribute__((noreturn)) parent_wait(pid_t child, int fd)
{
	char c;
	int st;

	if (read_retry(fd, &c, 1) == 1)
		_exit(0);
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	if (WIFEXITED(st))
		_exit(WEXITSTATUS(st));
	_exit(1);
}

int daemonize_std_fds(void)
{
	int fd;

	/* open() returns the lowest free descriptor: once it is above 2,
	 * 0-2 are all open. Not close-on-exec, as stdio is inherited. */
	do {
		fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			return -1;
	} while (fd <= 2);
	close(fd);
	return 0;
}

void daemonize_close_fds(int fd)
{
	struct rlimit rl;

	if (close_range((unsigned)fd, ~0U, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > 1048576)
		rl.rlim_cur = 1048576;
	for (rlim_t i = (rlim_t)fd; i < rl.rlim_cur; i++)
		close((int)i);
}

int daemonize_start(char *err, size_t errlen)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot detach: pipe: %s",
			 strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "cannot detach: fork: %s",
			 strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		parent_wait(pid, p[0]);
	}
	close(p[0]);
	ready_fd = p[1];
	/* Leave the terminal's session: no SIGHUP or SIGINT from it. Cannot
	 * fail, as a fresh child is never a process group leader. */
	setsid();
	return 0;
}

int daemonize_ready(char *err, size_t errlen)
{
	int fd;

	/* Do not pin the mount the daemon was started from. */
	if (chdir("/") < 0) {
		snprintf(err, errlen, "chdir /: %s", strerror(errno));
		return -1;
	}
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "/dev/null: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	for (int i = 0; i <= 2; i++) {
		if (dup2(fd, i) < 0) {
			snprintf(err, errlen, "dup2 /dev/null: %s",
				 strerror(errno));
			close(fd);
			return -1;
		}
	}
	close(fd);
	if (ready_fd >= 0) {
		char c = 1;

		if (write_retry(ready_fd, &c, 1) != 1) {
			snprintf(err, errlen, "cannot tell the parent: %s",
				 strerror(errno));
			return -1;
		}
		close(ready_fd);
		ready_fd = -1;
	}
	return 0;
}

/* Whether fd is a pidfile: a regular file, empty or holding a pid (*pid,
 * 0 for none), ours, a stale one or another instance's. A mistyped
 * --pidfile naming an image, a device or any other file must not lose its
 * content to us, neither on a good start nor on a failed one. */
static bool holds_a_pid(int fd, long *pid)
{
	char buf[PIDFILE_MAX + 1];
	struct stat st;
	ssize_t n, i = 0;

	*pid = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > PIDFILE_MAX)
		return false;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return false;
	for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		if (*pid < 100000000) /* a message's pid; no overflow */
			*pid = *pid * 10 + (buf[i] - '0');
	return i == n || (i > 0 && i + 1 == n && buf[i] == '\n');
}

static void not_a_pidfile(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	snprintf(err, errlen, "--pidfile '%s': %s; refusing to overwrite it",
		 path,
		 fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
		     ? "holds something other than a pid"
		     : "not a regular file");
}

int pidfile_open(const char *path, bool *busy, char *err, size_t errlen)
{
	long pid;
	int fd;

	*busy = false;
	for (int tries = 0;; tries++) {
		struct stat held, now;

		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0) {
			snprintf(err, errlen, "--pidfile '%s': %s", path,
				 strerror(errno));
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0)
			break;
		/* An instance exiting unlinks the file, then lets go of it:
		 * a lock taken in between is on a file nobody else will find.
		 * Only the file still at path counts. */
		if (fstat(fd, &held) == 0 && stat(path, &now) == 0 &&
		    held.st_dev == now.st_dev && held.st_ino == now.st_ino) {
			if (holds_a_pid(fd, &pid))
				return fd;
			not_a_pidfile(fd, path, err, errlen);
			close(fd);
			return -1;
		}
		close(fd);
		if (tries == 10) {
			snprintf(err, errlen,
				 "--pidfile '%s': keeps being replaced", path);
			return -1;
		}
	}
	if (errno == EWOULDBLOCK) {
		/* Locked by someone, but no pidfile of anyone's (an image a
		 * running backend holds): the mistyped path it is. */
		if (!holds_a_pid(fd, &pid)) {
			not_a_pidfile(fd, path, err, errlen);
			close(fd);
			return -1;
		}
		*busy = true;
		if (pid > 0)
			snprintf(err, errlen,
				 "already running (pid %ld holds --pidfile "
				 "'%s')",
				 pid, path);
		else
			snprintf(err, errlen,
				 "already running (--pidfile '%s' is locked)",
				 path);
	} else {
		snprintf(err, errlen, "--pidfile '%s': lock: %s", path,
			 strerror(errno));
	}
	close(fd);
	return -1;
}

int pidfile_write(int fd, const char *path, char *err, size_t errlen)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len ||
	    fsync(fd) < 0) {
		snprintf(err, errlen, "--pidfile '%s': write failed: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* Whether the first line of buf (n bytes read) is our pid. */
static bool names_us(char *buf, ssize_t n)
{
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strtol(buf, NULL, 10) == (long)getpid();
}

void pidfile_remove(const char *path, int fd)
{
	char buf[32];
	int cur = open(path, O_RDONLY | O_CLOEXEC);

	if (cur >= 0) {
		bool ours =
		    names_us(buf, read_retry(cur, buf, sizeof(buf) - 1));

		close(cur);
		/* A newer instance may have taken the file over: leave it
		 * alone. */
		if (ours && unlink(path) == 0) {
			if (fd >= 0)
				close(fd);
			return;
		}
	}
	/* Not ours to unlink any more (root's directory, privileges since
	 * dropped): empty our own file if it still names us. */
	if (fd >= 0) {
		if (names_us(buf, pread(fd, buf, sizeof(buf) - 1, 0)) &&
		    ftruncate(fd, 0) < 0)
			log_debug("--pidfile '%s': cannot remove or empty it: "
				  "%s",
				  path, strerror(errno));
		close(fd);
	}
}
