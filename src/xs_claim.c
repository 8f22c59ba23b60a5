/* SPDX-License-Identifier: GPL-2.0-only */
/* A xenstore node held by one live process at a time. A pidfile only
 * guards the processes that agree on its path; xenstore is the one thing
 * every supervisor of a host shares, whatever its command line. */
#include "xs_claim.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Enough retries for a transaction that races only other claimants. */
#define CLAIM_TRIES 16

/* When process pid started, in clock ticks since boot (proc(5), field 22
 * of /proc/PID/stat), 0 if there is no such process or it has exited (a
 * zombie not yet reaped is gone for our purpose). With the pid it names
 * one process for good: a pid alone may have been reused since. */
static unsigned long long start_time(pid_t pid)
{
	char path[48], buf[1024], *p;
	unsigned long long t = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: the
	 * fields after it start at the last ')'. Field 3 follows, 22 is 19
	 * further on. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %llu", &t) != 1)
		return 0;
	return t;
}

/* Whether value names a process other than us that is still running;
 * its pid goes to *pid either way (0 if value is not a claim). */
static bool held_by_other(const char *value, pid_t *pid)
{
	long p;
	unsigned long long t;

	*pid = 0;
	if (!value || sscanf(value, "%ld %llu", &p, &t) != 2 || p <= 0 ||
	    p > INT32_MAX)
		return false;
	*pid = (pid_t)p;
	if (*pid == getpid())
		return false;
	/* Written without a start time (no /proc): the pid alone. */
	if (!t)
		return kill(*pid, 0) == 0 || errno == EPERM;
	return start_time(*pid) == t;
}

/* Start a transaction and read the claim at path in it: *pid is the
 * process it names (0: none), *other whether that is another process, still
 * running. XBT_NULL (errno set) if no transaction could start or the node
 * could not be read for another reason than its absence. */
static xs_transaction_t begin(struct xs_handle *xs, const char *path,
			      pid_t *pid, bool *other)
{
	xs_transaction_t t = xs_transaction_start(xs);
	unsigned int len;
	char *cur;
	int e;

	if (t == XBT_NULL)
		return XBT_NULL;
	errno = 0;
	cur = xs_read(xs, t, path, &len);
	if (!cur && errno != ENOENT) {
		e = errno ? errno : EIO;
		xs_transaction_end(xs, t, true);
		errno = e;
		return XBT_NULL;
	}
	*other = held_by_other(cur, pid);
	free(cur);
	return t;
}

int xs_claim(struct xs_handle *xs, const char *path, pid_t *holder,
	     pid_t *stale_pid)
{
	char mine[48];

	*holder = *stale_pid = 0;
	snprintf(mine, sizeof(mine), "%ld %llu", (long)getpid(),
		 start_time(getpid()));
	for (int i = 0; i < CLAIM_TRIES; i++) {
		pid_t pid;
		bool other;
		xs_transaction_t t = begin(xs, path, &pid, &other);
		int e;

		if (t == XBT_NULL)
			return -errno;
		if (other) {
			xs_transaction_end(xs, t, true);
			*holder = pid;
			return -EBUSY;
		}
		if (!xs_write(xs, t, path, mine, (unsigned)strlen(mine))) {
			e = errno;
			xs_transaction_end(xs, t, true);
			return -e;
		}
		if (xs_transaction_end(xs, t, false)) {
			*stale_pid = pid != getpid() ? pid : 0;
			return 0;
		}
		if (errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
}

void xs_claim_release(struct xs_handle *xs, const char *path)
{
	for (int i = 0; i < CLAIM_TRIES; i++) {
		pid_t pid;
		bool other;
		xs_transaction_t t = begin(xs, path, &pid, &other);

		if (t == XBT_NULL)
			return;
		if (other || pid != getpid()) {
			xs_transaction_end(xs, t, true);
			return;
		}
		xs_rm(xs, t, path);
		if (xs_transaction_end(xs, t, false) || errno != EAGAIN)
			return;
	}
}
