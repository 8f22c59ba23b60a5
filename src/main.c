/* SPDX-License-Identifier: GPL-2.0-only */
/* xen-virtio-blk: parse, detach, run one of the three modes (--watch,
 * --domid N from xenstore, --domid N --disk ...), exit with a status that
 * tells why: 0 clean stop, 1 runtime failure, 2 bad configuration. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemonize.h"
#include "guest.h"
#include "log.h"
#include "options.h"
#include "service_notify.h"
#include "signals.h"
#include "supervisor.h"
#include "usergroup.h"
#include "xs_backend.h"

/* Large (MAX_DISKS paths): static rather than on the stack. */
static struct options opts;
/* --runas: who to become, looked up once at start-up. */
static struct usergroup runas;
/* Who to tell that we are ready, under systemd (Type=notify). */
static struct service_notify notify;

/* The pidfile is removed after chdir("/"), so keep its absolute path. */
static int absolute_pidfile(char *path, size_t len)
{
	char cwd[PATH_MAX], tmp[sizeof(opts.pidfile)];

	if (!path[0] || path[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", cwd, path) >= len)
		return -1;
	strcpy(path, tmp);
	return 0;
}

static const char *level_name(int level)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	return level >= 0 && level <= LOG_LVL_DEBUG ? names[level] : "info";
}

_Static_assert(OPTIONS_PASS_ON_MAX <= SUPERVISOR_PASS_ON_MAX,
	       "--watch passes every tuning option on");

/* What one mode needs from main: run it, then free it. */
struct mode {
	struct guest *g;
	struct xs_backend *xsb;
	struct supervisor *sup;
};

static int mode_new(struct mode *m, char *err, size_t errlen)
{
	struct guest_tuning tune = {.poll_us = opts.poll.val,
				    .irq_poll_us = opts.irq_poll.val,
				    .idle_grace_us = opts.idle_grace.val,
				    .queues = opts.queues.val,
				    .submit_batch = opts.submit_batch.val,
				    .io_threads = opts.io_threads};
	const char *pass_on[OPTIONS_PASS_ON_MAX + 1];
	int status = 1;

	err[0] = '\0';
	if (opts.watch) {
		struct supervisor_params p = {
		    .exe = "/proc/self/exe",
		    .argv0 = "xen-virtio-blk",
		    .log_level = level_name(opts.log_level),
		    /* A detached supervisor's stderr is /dev/null. */
		    .child_syslog = !opts.foreground || opts.syslog,
		    .runas = opts.runas[0] ? opts.runas : NULL,
		    .pass_on = pass_on,
		};

		options_pass_on(&opts, pass_on);
		m->sup = supervisor_new(&p, err, errlen);
		return m->sup ? 0 : 1;
	}
	if (opts.ndisks == 0) {
		m->xsb =
		    xs_backend_new(opts.domid, &tune, &status, err, errlen);
		return m->xsb ? 0 : status;
	}
	m->g = guest_new(opts.domid, opts.disks, opts.ndisks, &tune, &status,
			 err, errlen);
	return m->g ? 0 : status;
}

static int mode_run(struct mode *m)
{
	if (m->sup)
		return supervisor_run(m->sup);
	if (m->xsb)
		return xs_backend_run(m->xsb);
	return guest_run(m->g);
}

static void mode_free(struct mode *m)
{
	supervisor_free(m->sup);
	xs_backend_free(m->xsb);
	guest_free(m->g);
}

/* /run/xen is created by xencommons/Debian's xen script; make sure of it
 * for our default pidfile (XEN_RUN_DIR is mode 0700 there too). */
static void make_run_dir(const char *pidfile)
{
	char dir[sizeof(opts.pidfile)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", pidfile);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warn("cannot create %s: %s", dir, strerror(errno));
}

/* xs_backend_when_running(): the guest runs, every disk is open. opaque:
 * the xs_backend, if any. */
static bool drop_root(void *opaque)
{
	char err[256];

	if (opaque)
		xs_backend_unprivileged(opaque);
	if (usergroup_drop(&runas, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return false;
	}
	log_info("running as %s", opts.runas);
	return true;
}

/* A usage error is one line on stderr, whatever the argument it quotes
 * holds. */
static void usage_error(const char *err)
{
	char line[1024];

	log_printable(line, sizeof(line), err);
	fprintf(stderr, "%s\n", line);
}

/* A refusal found once logging is set up: one line on the terminal, and in
 * syslog where the process logs there (a supervisor's per-guest process
 * has only syslog). */
static void start_error(const struct options *o, const char *err)
{
	char line[1024];

	log_printable(line, sizeof(line), err);
	/* In --foreground the log reaches syslog only (with --syslog);
	 * detached, it reaches the terminal too until the daemon detaches. */
	if (o->foreground)
		fprintf(stderr, "xen-virtio-blk: %s\n", line);
	if (!o->foreground || o->syslog)
		log_error("%s", line);
}

/* A start that failed after the pidfile was taken leaves no file behind:
 * it is ours while we hold its lock, whatever it holds yet. */
static int pidfile_abandon(int pidfd, int status)
{
	if (pidfd >= 0) {
		unlink(opts.pidfile);
		close(pidfd);
	}
	return status;
}

int main(int argc, char **argv)
{
	char err[1024], ident[64];
	struct mode m = {0};
	int pidfd = -1;
	int status;

	/* Nothing can be reported without a stderr: exit 1 silently. */
	if (daemonize_std_fds() < 0)
		return 1;
	switch (options_parse(argc, argv, &opts, err, sizeof(err))) {
	case OPTIONS_EXIT:
		/* --help, --version: a failed write is a failure. */
		return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
	case OPTIONS_ERROR:
		usage_error(err);
		return 2;
	}
	if (opts.watch)
		snprintf(ident, sizeof(ident), "xen-virtio-blk");
	else
		snprintf(ident, sizeof(ident), "xen-virtio-blk[dom%u]",
			 opts.domid);
	/* A service keeps none of its starter's files: a pipe a script reads
	 * to its end, or a lock, would stay open as long as we run. */
	if (!opts.foreground)
		daemonize_close_fds(3);
	/* Logging first: a per-guest process the supervisor starts has its
	 * stderr on /dev/null, and a refusal it cannot log is a mystery. */
	log_init(ident, !opts.foreground || opts.syslog, opts.log_level);
	/* Start-up warnings and errors reach both syslog and the terminal. */
	if (!opts.foreground)
		log_also_stderr(true);
	if (service_notify_init(&notify, err, sizeof(err)) < 0)
		log_warn("%s", err);
	if (opts.runas[0] &&
	    usergroup_check(opts.runas, &runas, err, sizeof(err))) {
		start_error(&opts, err);
		return 2;
	}
	if (opts.watch && !opts.foreground && !opts.pidfile[0])
		strcpy(opts.pidfile, DEFAULT_WATCH_PIDFILE);
	if (absolute_pidfile(opts.pidfile, sizeof(opts.pidfile)) < 0) {
		char line[sizeof(opts.pidfile) + 64];

		snprintf(line, sizeof(line),
			 "--pidfile '%.900s': cannot make it absolute",
			 opts.pidfile);
		start_error(&opts, line);
		return 2;
	}
	/* Before anything is set up, so that a bad path or a second
	 * instance costs nothing. */
	if (opts.pidfile[0]) {
		bool busy;

		if (!strcmp(opts.pidfile, DEFAULT_WATCH_PIDFILE))
			make_run_dir(opts.pidfile);
		pidfd = pidfile_open(opts.pidfile, &busy, err, sizeof(err));
		if (pidfd < 0) {
			start_error(&opts, err);
			return busy ? 1 : 2;
		}
	}
	if (!opts.foreground) {
		if (daemonize_start(err, sizeof(err)) < 0) {
			log_error("%s", err);
			return pidfile_abandon(pidfd, 1);
		}
	}
	/* After the fork, before the first thread (image engines). */
	if (signals_block(err, sizeof(err)) < 0) {
		log_error("%s", err);
		return pidfile_abandon(pidfd, 1);
	}

	status = mode_new(&m, err, sizeof(err));
	if (status) {
		if (err[0])
			log_error("%s", err);
		mode_free(&m);
		return pidfile_abandon(pidfd, status);
	}
	if (pidfd >= 0 &&
	    pidfile_write(pidfd, opts.pidfile, err, sizeof(err)) < 0) {
		log_error("%s", err);
		mode_free(&m);
		return pidfile_abandon(pidfd, 1);
	}
	/* Set up as root; serve the guest as someone else. The supervisor
	 * stays root: it starts the per-guest processes, which drop. With
	 * xenstore, libxl may still be adding the guest's disks one by one
	 * (images only root may open): drop when the guest first runs, by
	 * which time they are all there. Otherwise now, before the readiness
	 * handshake, so that a failure here is what the caller of a detached
	 * daemon sees. */
	if (opts.runas[0] && m.xsb) {
		xs_backend_when_running(m.xsb, drop_root, m.xsb);
	} else if (opts.runas[0] && !opts.watch && !drop_root(NULL)) {
		mode_free(&m);
		if (pidfd >= 0)
			pidfile_remove(opts.pidfile, pidfd);
		return 1;
	}
	if (!opts.foreground) {
		if (daemonize_ready(err, sizeof(err)) < 0) {
			log_error("%s", err);
			mode_free(&m);
			if (pidfd >= 0)
				pidfile_remove(opts.pidfile, pidfd);
			return 1;
		}
		log_also_stderr(false);
	}
	if (service_notify_ready(&notify, err, sizeof(err)) < 0)
		log_warn("%s", err);

	status = mode_run(&m);
	mode_free(&m);
	if (pidfd >= 0)
		pidfile_remove(opts.pidfile, pidfd);
	log_info("exiting with status %d", status);
	return status;
}
