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

#include "log.h"
#include "xs_txn.h"

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

/* The claim at path as read in t: *pid is the process it names (0:
 * none); 1 if that is another process, still running, 0 if not, -errno
 * if the node could not be read for another reason than its absence. */
static int read_claim(struct xs_handle *xs, xs_transaction_t t,
		      const char *path, pid_t *pid)
{
	unsigned int len;
	char *cur;
	bool other;

	errno = 0;
	cur = xs_read(xs, t, path, &len);
	if (!cur && errno != ENOENT)
		return errno ? -errno : -EIO;
	other = held_by_other(cur, pid);
	free(cur);
	return other;
}

struct claim_op {
	const char *path;
	const char *mine; /* what to write; NULL: remove ours */
	bool stale_too;	  /* removing: also one that names a process gone */
	pid_t pid;	  /* whom the claim named */
};

/* Take the claim unless another live process holds it (then nothing to
 * do), or remove it if it is ours. */
static int claim_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	struct claim_op *c = arg;
	int r = read_claim(xs, t, c->path, &c->pid);

	if (r)
		return r > 0 ? 0 : r;
	if (c->mine)
		return xs_write(xs, t, c->path, c->mine,
				(unsigned)strlen(c->mine))
			   ? 1
			   : -errno;
	if (c->pid != getpid() && !(c->stale_too && c->pid))
		return 0;
	return xs_rm(xs, t, c->path) ? 1 : -errno;
}

int xs_claim(struct xs_handle *xs, const char *path, pid_t *holder)
{
	char mine[48];
	struct claim_op c = {.path = path, .mine = mine};
	int r;

	*holder = 0;
	snprintf(mine, sizeof(mine), "%ld %llu", (long)getpid(),
		 start_time(getpid()));
	r = xs_txn_run(xs, CLAIM_TRIES, claim_txn, &c);
	if (r == 0) {
		*holder = c.pid;
		return -EBUSY;
	}
	if (r < 0)
		return r;
	if (c.pid && c.pid != getpid())
		log_info("%s named pid %ld, which is gone: taken over", path,
			 (long)c.pid);
	return 0;
}

void xs_claim_release(struct xs_handle *xs, const char *path)
{
	struct claim_op c = {.path = path};

	xs_txn_run(xs, CLAIM_TRIES, claim_txn, &c);
}

pid_t xs_claim_holder(struct xs_handle *xs, const char *path)
{
	pid_t pid;

	return read_claim(xs, XBT_NULL, path, &pid) == 1 ? pid : 0;
}

void xs_claim_drop_stale(struct xs_handle *xs, const char *path)
{
	struct claim_op c = {.path = path, .stale_too = true};

	xs_txn_run(xs, CLAIM_TRIES, claim_txn, &c);
}
