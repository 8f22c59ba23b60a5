/* SPDX-License-Identifier: GPL-2.0-only */
/* xen-virtio-blk: parse, detach, serve one guest, exit with a status that
 * tells why: 0 clean stop, 1 runtime failure, 2 bad configuration. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemonize.h"
#include "guest.h"
#include "log.h"
#include "options.h"
#include "signals.h"

/* Large (MAX_DISKS paths): static rather than on the stack. */
static struct options opts;

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

int main(int argc, char **argv)
{
	char err[1024], ident[64];
	struct guest *g;
	int status;

	switch (options_parse(argc, argv, &opts, err, sizeof(err))) {
	case OPTIONS_EXIT:
		return 0;
	case OPTIONS_ERROR:
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (opts.watch) {
		fprintf(stderr, "xen-virtio-blk: --watch: not available yet\n");
		return 2;
	}
	if (absolute_pidfile(opts.pidfile, sizeof(opts.pidfile)) < 0) {
		fprintf(
		    stderr,
		    "xen-virtio-blk: --pidfile '%s': cannot make it absolute\n",
		    opts.pidfile);
		return 2;
	}

	snprintf(ident, sizeof(ident), "xen-virtio-blk[dom%u]", opts.domid);
	log_init(ident, !opts.foreground, opts.log_level);
	if (!opts.foreground) {
		/* Start-up errors reach both syslog and the terminal. */
		log_also_stderr(true);
		if (daemonize_start(err, sizeof(err)) < 0) {
			log_error("%s", err);
			return 1;
		}
	}
	/* After the fork, before the first thread (image engines). */
	if (signals_block(err, sizeof(err)) < 0) {
		log_error("%s", err);
		return 1;
	}

	g = guest_new(opts.domid, opts.disks, opts.ndisks, &status, err,
		      sizeof(err));
	if (!g) {
		if (err[0])
			log_error("%s", err);
		return status;
	}
	if (opts.pidfile[0] && pidfile_write(opts.pidfile, err, sizeof(err))) {
		log_error("%s", err);
		guest_free(g);
		return 1;
	}
	if (!opts.foreground) {
		if (daemonize_ready(err, sizeof(err)) < 0) {
			log_error("%s", err);
			guest_free(g);
			if (opts.pidfile[0])
				pidfile_remove(opts.pidfile);
			return 1;
		}
		log_also_stderr(false);
	}

	status = guest_run(g);
	guest_free(g);
	if (opts.pidfile[0])
		pidfile_remove(opts.pidfile);
	log_info("exiting with status %d", status);
	return status;
}
