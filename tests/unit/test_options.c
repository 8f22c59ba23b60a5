/* SPDX-License-Identifier: GPL-2.0-only */
/* The command line: defaults, every accepted form, every error class. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "options.h"
#include "virtio_blk.h"
#include "unit.h"

#define MAXARGS 64

static struct options opts;
static char err[1024];

/* Parse "xen-virtio-blk" + args (NULL-terminated) into opts/err. */
static int parse(const char *const *args)
{
	char *argv[MAXARGS + 2];
	int argc = 0;

	argv[argc++] = (char *)"xen-virtio-blk";
	for (; *args && argc <= MAXARGS; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	memset(err, 0, sizeof(err));
	return options_parse(argc, argv, &opts, err, sizeof(err));
}

#define ARGS(...)  ((const char *const[]){__VA_ARGS__, NULL})
#define PARSE(...) parse(ARGS(__VA_ARGS__))

/* The parse fails with one line that starts with the program name and
 * contains both fragments (the offending argument and the reason). */
static void check_error(int line, const char *arg, const char *why,
			const char *const *args)
{
	int r = parse(args);
	char what[1200];

	snprintf(what, sizeof(what), "error naming \"%s\" / \"%s\", got %d: %s",
		 arg, why, r, err);
	unit_result(
	    r == OPTIONS_ERROR && strncmp(err, "xen-virtio-blk: ", 16) == 0 &&
		strstr(err, arg) && strstr(err, why) && !strchr(err, '\n'),
	    __FILE__, line, what);
}

#define ERR(arg, why, ...) check_error(__LINE__, arg, why, ARGS(__VA_ARGS__))

static void test_one_disk_defaults(void)
{
	CHECK_EQ(PARSE("--domid", "5", "--disk", "a.img"), OPTIONS_OK);
	CHECK(opts.has_domid);
	CHECK_EQ(opts.domid, 5);
	CHECK_EQ(opts.ndisks, 1);
	CHECK(strcmp(opts.disks[0].path, "a.img") == 0);
	CHECK_EQ(opts.disks[0].base, 0x02000000);
	CHECK_EQ(opts.disks[0].irq, 33);
	CHECK(!opts.disks[0].read_only);
	CHECK(!opts.disks[0].has_serial);
	CHECK_EQ(opts.disks[0].serial[0], '\0');
	CHECK(!opts.foreground);
	CHECK(!opts.watch);
	CHECK_EQ(opts.log_level, LOG_LVL_INFO);
	CHECK_EQ(opts.pidfile[0], '\0');
}

static void test_three_disks_defaults(void)
{
	CHECK_EQ(PARSE("--disk", "/dev/vg/a", "--disk", "b.img,ro", "--domid",
		       "12", "--disk", "c.img"),
		 OPTIONS_OK);
	CHECK_EQ(opts.domid, 12);
	CHECK_EQ(opts.ndisks, 3);
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ(opts.disks[i].base, 0x02000000 + i * 0x200);
		CHECK_EQ(opts.disks[i].irq, 33 + i);
	}
	CHECK(strcmp(opts.disks[0].path, "/dev/vg/a") == 0);
	CHECK(strcmp(opts.disks[1].path, "b.img") == 0);
	CHECK(strcmp(opts.disks[2].path, "c.img") == 0);
	CHECK(!opts.disks[0].read_only);
	CHECK(opts.disks[1].read_only);
	CHECK(!opts.disks[2].read_only);
}

static void test_max_disks(void)
{
	const char *args[2 * MAX_DISKS + 3];
	char specs[MAX_DISKS][16];
	int n = 0;

	args[n++] = "--domid";
	args[n++] = "1";
	for (int i = 0; i < MAX_DISKS; i++) {
		snprintf(specs[i], sizeof(specs[i]), "d%d.img", i);
		args[n++] = "--disk";
		args[n++] = specs[i];
	}
	args[n] = NULL;
	CHECK_EQ(parse(args), OPTIONS_OK);
	CHECK_EQ(opts.ndisks, MAX_DISKS);
	CHECK_EQ(opts.disks[MAX_DISKS - 1].irq, 33 + MAX_DISKS - 1);
	CHECK_EQ(opts.disks[MAX_DISKS - 1].base,
		 0x02000000 + (MAX_DISKS - 1) * 0x200);
}

static void test_explicit_values(void)
{
	const struct disk_opts *d = &opts.disks[0];

	CHECK_EQ(PARSE("--domid", "1", "--disk", "a.img,base=67108864"),
		 OPTIONS_OK);
	CHECK_EQ(d->base, 0x04000000);
	CHECK(d->has_base);
	CHECK_EQ(PARSE("--domid", "1", "--disk", "a.img,base=0x3000000"),
		 OPTIONS_OK);
	CHECK_EQ(d->base, 0x03000000);
	CHECK_EQ(PARSE("--domid", "1", "--disk", "a.img,base=0X3000A00"),
		 OPTIONS_OK);
	CHECK_EQ(d->base, 0x03000a00);
	/* A leading zero is still decimal (not octal): 01024 = 0x400. */
	CHECK_EQ(PARSE("--domid", "1", "--disk", "a.img,base=01024"),
		 OPTIONS_OK);
	CHECK_EQ(d->base, 0x400);
	CHECK_EQ(PARSE("--domid", "1", "--disk", "a.img,base=0x0"), OPTIONS_OK);
	CHECK_EQ(d->base, 0);
	/* strtoull would read past a second prefix. */
	CHECK_EQ(PARSE("--domid", "1", "--disk", "a.img,base=0x0x2000000"),
		 OPTIONS_ERROR);

	CHECK_EQ(PARSE("--domid", "1", "--disk", "a.img,irq=40"), OPTIONS_OK);
	CHECK_EQ(d->irq, 40);
	CHECK(d->has_irq);
	CHECK_EQ(d->base, 0x02000000);
	CHECK_EQ(PARSE("--domid", "1", "--disk", "a.img,irq=32"), OPTIONS_OK);
	CHECK_EQ(d->irq, 32);
	CHECK_EQ(PARSE("--domid", "1", "--disk", "a.img,irq=987"), OPTIONS_OK);
	CHECK_EQ(d->irq, 987);

	CHECK_EQ(PARSE("--domid", "1", "--disk", "a.img,serial=ABC-12 x_y"),
		 OPTIONS_OK);
	CHECK(d->has_serial);
	CHECK(strcmp(d->serial, "ABC-12 x_y") == 0);
	CHECK_EQ(PARSE("--domid", "1", "--disk",
		       "a.img,serial=12345678901234567890"),
		 OPTIONS_OK);
	CHECK(strcmp(d->serial, "12345678901234567890") == 0);

	CHECK_EQ(PARSE("--domid", "1", "--disk",
		       "b.img,serial=S1,irq=50,ro,base=0x2000400"),
		 OPTIONS_OK);
	CHECK(strcmp(d->path, "b.img") == 0);
	CHECK(d->read_only);
	CHECK_EQ(d->base, 0x02000400);
	CHECK_EQ(d->irq, 50);
	CHECK(strcmp(d->serial, "S1") == 0);

	/* An explicit base or irq does not shift the next disk's defaults. */
	CHECK_EQ(PARSE("--domid", "1", "--disk", "a,base=0x3000000,irq=60",
		       "--disk", "b"),
		 OPTIONS_OK);
	CHECK_EQ(opts.disks[1].base, 0x02000200);
	CHECK_EQ(opts.disks[1].irq, 34);
	CHECK(!opts.disks[1].has_base);
	/* Disk 1 takes what would have been disk 0's default slot. */
	CHECK_EQ(PARSE("--domid", "1", "--disk", "a,base=0x3000000,irq=60",
		       "--disk", "b,base=0x2000000,irq=33"),
		 OPTIONS_OK);
}

static void test_domid_forms(void)
{
	CHECK_EQ(PARSE("--domid=7", "--disk", "a"), OPTIONS_OK);
	CHECK_EQ(opts.domid, 7);
	CHECK_EQ(PARSE("--domid", "0", "--disk", "a"), OPTIONS_ERROR);
	CHECK(strstr(err, "dom0 is not a guest"));
	CHECK_EQ(PARSE("--domid", "0"), OPTIONS_OK); /* xenstore refuses */
	CHECK_EQ(opts.domid, 0);
	CHECK_EQ(PARSE("--domid", "32751", "--disk", "a"), OPTIONS_OK);
	CHECK_EQ(opts.domid, 0x7fef);
	CHECK_EQ(PARSE("--domid", "007", "--disk", "a"), OPTIONS_OK);
	CHECK_EQ(opts.domid, 7);
}

static void test_flags(void)
{
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	static const int values[] = {LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO,
				     LOG_LVL_DEBUG};

	for (int i = 0; i < 4; i++) {
		CHECK_EQ(PARSE("--domid", "1", "--disk", "a", "--log-level",
			       levels[i]),
			 OPTIONS_OK);
		CHECK_EQ(opts.log_level, values[i]);
		CHECK_EQ(log_level_parse(levels[i]), values[i]);
	}
	CHECK_EQ(log_level_parse("verbose"), -1);
	CHECK_EQ(log_level_parse(""), -1);

	CHECK_EQ(PARSE("--domid", "1", "--disk", "a", "-F"), OPTIONS_OK);
	CHECK(opts.foreground);
	CHECK_EQ(PARSE("--foreground", "--domid", "1", "--disk", "a"),
		 OPTIONS_OK);
	CHECK(opts.foreground);
	CHECK_EQ(
	    PARSE("--domid", "1", "--disk", "a", "--pidfile", "/run/x.pid"),
	    OPTIONS_OK);
	CHECK(strcmp(opts.pidfile, "/run/x.pid") == 0);
	/* --watch is parsed now; the mode itself needs no --domid/--disk. */
	CHECK_EQ(PARSE("--watch"), OPTIONS_OK);
	CHECK(opts.watch);
	CHECK_EQ(opts.ndisks, 0);
	CHECK_EQ(PARSE("--domid", "1", "--poll-us", "250"), OPTIONS_OK);
	CHECK_EQ(opts.poll.val, 250);
	CHECK(opts.poll.given && strcmp(opts.poll.arg, "--poll-us=250") == 0);
	CHECK_EQ(PARSE("--watch", "--poll-us=16"), OPTIONS_OK);
	CHECK(strcmp(opts.poll.arg, "--poll-us=16") == 0);
	CHECK_EQ(opts.irq_poll.val, DEFAULT_IRQ_POLL_US);
	CHECK(!opts.irq_poll.given);
	CHECK_EQ(PARSE("--watch", "--irq-poll-us", "0"), OPTIONS_OK);
	CHECK(opts.irq_poll.given && opts.irq_poll.val == 0);
	CHECK(strcmp(opts.irq_poll.arg, "--irq-poll-us=0") == 0);
	CHECK(!opts.idle_grace.given &&
	      opts.idle_grace.val == VIRTIO_BLK_GRACE_AUTO);
	CHECK_EQ(PARSE("--watch", "--idle-grace-us", "1500"), OPTIONS_OK);
	CHECK(opts.idle_grace.given && opts.idle_grace.val == 1500);
	CHECK(strcmp(opts.idle_grace.arg, "--idle-grace-us=1500") == 0);
	CHECK_EQ(PARSE("--watch", "--idle-grace-us=auto"), OPTIONS_OK);
	CHECK(opts.idle_grace.given &&
	      opts.idle_grace.val == VIRTIO_BLK_GRACE_AUTO);
	CHECK(strcmp(opts.idle_grace.arg, "--idle-grace-us=auto") == 0);
	CHECK_EQ(PARSE("--watch", "--idle-grace-us=Auto"), OPTIONS_ERROR);
	CHECK_EQ(PARSE("--watch", "--idle-grace-us=auto1"), OPTIONS_ERROR);
	CHECK(!opts.queues.given && opts.queues.val == 1);
	CHECK(!opts.submit_batch.given && opts.submit_batch.val == 0);
	CHECK_EQ(PARSE("--domid", "1", "--submit-batch", "2"), OPTIONS_OK);
	CHECK(opts.submit_batch.given && opts.submit_batch.val == 2);
	CHECK_EQ(PARSE("--domid", "1", "--queues", "8"), OPTIONS_OK);
	CHECK(opts.queues.given && opts.queues.val == 8);
	/* --watch passes on exactly the ones given, in a fixed order. */
	{
		const char *on[OPTIONS_PASS_ON_MAX + 1];

		CHECK_EQ(
		    PARSE("--watch", "--idle-grace-us", "7", "--poll-us=3"),
		    OPTIONS_OK);
		options_pass_on(&opts, on);
		CHECK(on[0] && strcmp(on[0], "--poll-us=3") == 0);
		CHECK(on[1] && strcmp(on[1], "--idle-grace-us=7") == 0);
		CHECK(on[2] == NULL);
		CHECK_EQ(PARSE("--watch", "--queues=2", "--irq-poll-us=0",
			       "--poll-us=1", "--idle-grace-us=2"),
			 OPTIONS_OK);
		options_pass_on(&opts, on);
		CHECK(on[0] && strcmp(on[0], "--poll-us=1") == 0);
		CHECK(on[1] && strcmp(on[1], "--irq-poll-us=0") == 0);
		CHECK(on[2] && strcmp(on[2], "--idle-grace-us=2") == 0);
		CHECK(on[3] && strcmp(on[3], "--queues=2") == 0);
		CHECK(on[4] == NULL);
		CHECK_EQ(PARSE("--watch", "--submit-batch=4", "--queues=2",
			       "--irq-poll-us=0", "--poll-us=1",
			       "--idle-grace-us=2"),
			 OPTIONS_OK);
		options_pass_on(&opts, on);
		CHECK(on[3] && strcmp(on[3], "--queues=2") == 0);
		CHECK(on[4] && strcmp(on[4], "--submit-batch=4") == 0);
		CHECK(on[5] == NULL);
		CHECK(!opts.io_threads);
		CHECK_EQ(PARSE("--watch", "--io-threads", "--submit-batch=4",
			       "--queues=2", "--irq-poll-us=0", "--poll-us=1",
			       "--idle-grace-us=2"),
			 OPTIONS_OK);
		CHECK(opts.io_threads);
		options_pass_on(&opts, on);
		CHECK(on[4] && strcmp(on[4], "--submit-batch=4") == 0);
		CHECK(on[5] && strcmp(on[5], "--io-threads") == 0);
		CHECK(on[6] == NULL);
	}
	/* Every field is reset between parses. */
	CHECK_EQ(PARSE("--domid", "3", "--disk", "a"), OPTIONS_OK);
	CHECK(!opts.watch && !opts.foreground && opts.pidfile[0] == '\0');
	CHECK_EQ(opts.log_level, LOG_LVL_INFO);
	CHECK(!opts.poll.given && opts.poll.val == DEFAULT_POLL_US);
	CHECK(!opts.idle_grace.given &&
	      opts.idle_grace.val == VIRTIO_BLK_GRACE_AUTO);
	CHECK(!opts.queues.given && opts.queues.val == 1);
}

/* Run a parse with stdout captured; returns what it printed. */
static const char *captured(int *r, const char *const *args)
{
	static char out[8192];
	FILE *tmp = tmpfile();
	int saved;
	size_t n;

	memset(out, 0, sizeof(out));
	if (!tmp)
		return out;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fileno(tmp), STDOUT_FILENO);
	*r = parse(args);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return out;
}

static void test_help_version(void)
{
	const char *out;
	int r = -5;

	out = captured(&r, ARGS("--version"));
	CHECK_EQ(r, OPTIONS_EXIT);
	CHECK(strcmp(out, "xen-virtio-blk " XVB_VERSION "\n") == 0);
	r = -5;
	out = captured(&r, ARGS("--help"));
	CHECK_EQ(r, OPTIONS_EXIT);
	CHECK(strncmp(out, "Usage: xen-virtio-blk ", 22) == 0);
	CHECK(strstr(out, "--disk") && strstr(out, "--domid") &&
	      strstr(out, "--pidfile") && strstr(out, "--log-level"));
	r = -5;
	out = captured(&r, ARGS("-h"));
	CHECK_EQ(r, OPTIONS_EXIT);
	CHECK(strncmp(out, "Usage:", 6) == 0);
	/* --help wins over missing --domid: it comes first. */
	r = -5;
	captured(&r, ARGS("--help", "--disk", "a"));
	CHECK_EQ(r, OPTIONS_EXIT);
}

static void test_missing_required(void)
{
	ERR("--disk 'a.img'", "requires --domid", "--disk", "a.img");
	check_error(__LINE__, "--domid", "required",
		    (const char *const[]){NULL});
	ERR("--domid", "required", "-F");
	/* --domid alone is xenstore mode; --watch takes neither. */
	CHECK_EQ(PARSE("--domid", "1"), OPTIONS_OK);
	CHECK(opts.has_domid && opts.ndisks == 0 && !opts.watch);
	ERR("--domid 4", "takes no --domid", "--watch", "--domid", "4");
	ERR("--disk 'a.img'", "not --disk", "--watch", "--disk", "a.img");
	CHECK_EQ(PARSE("--watch", "--syslog", "-F"), OPTIONS_OK);
	CHECK(opts.watch && opts.syslog && opts.foreground);
	CHECK_EQ(PARSE("--domid", "1"), OPTIONS_OK);
	CHECK(!opts.syslog);
}

static void test_bad_domid(void)
{
	ERR("--domid 'abc'", "must be a number", "--domid", "abc", "--disk",
	    "a");
	ERR("--domid '5x'", "must be a number", "--domid", "5x", "--disk", "a");
	ERR("--domid '-1'", "must be a number", "--domid", "-1", "--disk", "a");
	ERR("--domid '+5'", "must be a number", "--domid", "+5", "--disk", "a");
	ERR("--domid ' 5'", "must be a number", "--domid", " 5", "--disk", "a");
	ERR("--domid '0x10'", "must be a number", "--domid", "0x10", "--disk",
	    "a");
	ERR("--domid ''", "must be a number", "--domid", "", "--disk", "a");
	ERR("--domid '32752'", "out of range", "--domid", "32752", "--disk",
	    "a");
	ERR("--domid '99999999999999999999999'", "out of range", "--domid",
	    "99999999999999999999999", "--disk", "a");
	ERR("--domid '2'", "twice", "--domid", "1", "--domid", "2", "--disk",
	    "a");
	/* No value option silently overrides another (--disk excepted:
	 * one per disk). */
	ERR("--pidfile '/b'", "--pidfile given twice", "--watch", "--pidfile",
	    "/a", "--pidfile", "/b");
	ERR("--runas 'nosuch'", "--runas given twice", "--watch", "--runas",
	    "root", "--runas", "nosuch");
	ERR("--log-level 'info'", "--log-level given twice", "--watch",
	    "--log-level", "debug", "--log-level", "info");
	ERR("--queues '2'", "--queues given twice", "--watch", "--queues=1",
	    "--queues=2");
	ERR("--poll-us '0'", "--poll-us given twice", "--watch", "--poll-us=0",
	    "--poll-us=0");
}

static void test_bad_options(void)
{
	ERR("'--bogus'", "unknown", "--domid", "1", "--disk", "a", "--bogus");
	ERR("'--bogus=3'", "unknown", "--bogus=3", "--domid", "1");
	ERR("'-x'", "unknown", "--domid", "1", "--disk", "a", "-x");
	ERR("'-x'", "unknown", "-Fx", "--domid", "1", "--disk", "a");
	/* Inside a cluster the failing letter is named, not the argument
	 * before it. */
	ERR("'-x'", "unknown", "--watch", "-xF");
	ERR("unknown or ambiguous option '-x'", "unknown", "--domid=5", "-xF",
	    "--disk", "a");
	/* Abbreviations are refused, however unique. */
	ERR("'--dom': write it in full, '--domid'", "in full", "--dom", "1",
	    "--disk", "a");
	/* ... also where getopt itself fails on them (a value given to an
	 * option that takes none, or none to one that needs it). */
	ERR("'--fore=1': write it in full, '--foreground'", "in full",
	    "--fore=1", "--domid", "1", "--disk", "a");
	ERR("'--dom': write it in full, '--domid'", "in full", "--disk", "a",
	    "--dom");
	ERR("missing argument for option '--domid'", "missing", "--disk", "a",
	    "--domid");
	ERR("'--dom=1': write it in full", "in full", "--dom=1", "--disk", "a");
	ERR("'--foreground=1'", "takes no value", "--foreground=1", "--domid",
	    "1", "--disk", "a");
	ERR("'--d'", "ambiguous", "--d", "1", "--disk", "a");
	ERR("'--domid'", "missing argument", "--disk", "a", "--domid");
	ERR("'--disk'", "missing argument", "--domid", "1", "--disk");
	ERR("'stray'", "unexpected argument", "--domid", "1", "--disk", "a",
	    "stray");
	ERR("--log-level 'verbose'", "error, warn, info or debug", "--domid",
	    "1", "--disk", "a", "--log-level", "verbose");
	ERR("--pidfile ''", "empty", "--domid", "1", "--disk", "a", "--pidfile",
	    "");
	ERR("--poll-us 'fast'", "must be a number", "--domid", "1", "--poll-us",
	    "fast");
	ERR("--poll-us '-1'", "must be a number", "--domid", "1", "--poll-us",
	    "-1");
	ERR("--poll-us '1000001'", "out of range 0..1000000", "--domid", "1",
	    "--poll-us", "1000001");
	ERR("--irq-poll-us '1e3'", "must be a number", "--domid", "1",
	    "--irq-poll-us", "1e3");
	ERR("--idle-grace-us '1000001'", "out of range 0..1000000", "--domid",
	    "1", "--idle-grace-us", "1000001");
	ERR("--queues '0'", "out of range 1..8", "--domid", "1", "--queues",
	    "0");
	ERR("--submit-batch '1025'", "out of range 0..1024", "--domid", "1",
	    "--submit-batch", "1025");
	ERR("--submit-batch 'x'", "must be a number", "--watch",
	    "--submit-batch", "x");
	ERR("--queues '9'", "out of range 1..8", "--domid", "1", "--queues",
	    "9");
	ERR("--queues 'two'", "must be a number", "--watch", "--queues", "two");
	ERR("--queues '99999999999999999999'", "out of range 1..8", "--watch",
	    "--queues", "99999999999999999999");
}

static void test_bad_disk_syntax(void)
{
	ERR("--disk ''", "empty path", "--domid", "1", "--disk", "");
	ERR("--disk ',ro'", "empty path", "--domid", "1", "--disk", ",ro");
	ERR("--disk 'a.img,foo=1'", "unknown disk option 'foo'", "--domid", "1",
	    "--disk", "a.img,foo=1");
	ERR("--disk 'a.img,rw'", "unknown disk option 'rw'", "--domid", "1",
	    "--disk", "a.img,rw");
	ERR("--disk 'a.img,,ro'", "empty option", "--domid", "1", "--disk",
	    "a.img,,ro");
	ERR("--disk 'a.img,'", "empty option", "--domid", "1", "--disk",
	    "a.img,");
	ERR("--disk 'a.img,ro=1'", "takes no value", "--domid", "1", "--disk",
	    "a.img,ro=1");
	ERR("--disk 'a.img,ro,ro'", "twice", "--domid", "1", "--disk",
	    "a.img,ro,ro");
	ERR("--disk 'a.img,irq=40,irq=41'", "'irq' given twice", "--domid", "1",
	    "--disk", "a.img,irq=40,irq=41");
	ERR("--disk 'a.img,base'", "'base' needs a value", "--domid", "1",
	    "--disk", "a.img,base");
}

static void test_bad_base(void)
{
	ERR("--disk 'x,base=xyz'", "base must be a number", "--domid", "1",
	    "--disk", "x,base=xyz");
	ERR("--disk 'x,base='", "base must be a number", "--domid", "1",
	    "--disk", "x,base=");
	ERR("--disk 'x,base=0x'", "base must be a number", "--domid", "1",
	    "--disk", "x,base=0x");
	ERR("--disk 'x,base=-512'", "base must be a number", "--domid", "1",
	    "--disk", "x,base=-512");
	ERR("--disk 'x,base=0x-200'", "base must be a number", "--domid", "1",
	    "--disk", "x,base=0x-200");
	ERR("--disk 'x,base=+512'", "base must be a number", "--domid", "1",
	    "--disk", "x,base=+512");
	ERR("--disk 'x,base=0x2000000z'", "base must be a number", "--domid",
	    "1", "--disk", "x,base=0x2000000z");
	ERR("--disk 'x,base=512 '", "base must be a number", "--domid", "1",
	    "--disk", "x,base=512 ");
	ERR("--disk 'x,base= 512'", "base must be a number", "--domid", "1",
	    "--disk", "x,base= 512");
	ERR("--disk 'x,base=99999999999999999999999'", "out of range",
	    "--domid", "1", "--disk", "x,base=99999999999999999999999");
	ERR("--disk 'x,base=0x10000000000000000'", "out of range", "--domid",
	    "1", "--disk", "x,base=0x10000000000000000");
	ERR("--disk 'x,base=0x2000100'", "not 0x200-aligned", "--domid", "1",
	    "--disk", "x,base=0x2000100");
	ERR("--disk 'x,base=100'", "not 0x200-aligned", "--domid", "1",
	    "--disk", "x,base=100");
	ERR("--disk 'x,base=0xfffffffffffffe00'", "end of the address space",
	    "--domid", "1", "--disk", "x,base=0xfffffffffffffe00");
}

static void test_overlapping_base(void)
{
	ERR("--disk 'b'", "overlaps --disk 'a,base=0x2000200'", "--domid", "1",
	    "--disk", "a,base=0x2000200", "--disk", "b");
	ERR("--disk 'b,base=0x5000000'", "overlaps --disk 'a,base=83886080'",
	    "--domid", "1", "--disk", "a,base=83886080", "--disk",
	    "b,base=0x5000000");
	ERR("--disk 'c,base=0x2000000'", "overlaps --disk 'a'", "--domid", "1",
	    "--disk", "a", "--disk", "b", "--disk", "c,base=0x2000000");
}

static void test_bad_irq(void)
{
	ERR("--disk 'x.img,irq=abc'", "irq must be a number", "--domid", "1",
	    "--disk", "x.img,irq=abc");
	ERR("--disk 'x,irq=0x21'", "irq must be a number", "--domid", "1",
	    "--disk", "x,irq=0x21");
	ERR("--disk 'x,irq=33x'", "irq must be a number", "--domid", "1",
	    "--disk", "x,irq=33x");
	ERR("--disk 'x,irq=-33'", "irq must be a number", "--domid", "1",
	    "--disk", "x,irq=-33");
	ERR("--disk 'x,irq='", "irq must be a number", "--domid", "1", "--disk",
	    "x,irq=");
	ERR("--disk 'x,irq=31'", "SPI range 32..987", "--domid", "1", "--disk",
	    "x,irq=31");
	ERR("--disk 'x,irq=988'", "SPI range 32..987", "--domid", "1", "--disk",
	    "x,irq=988");
	ERR("--disk 'x,irq=4294967329'", "SPI range", "--domid", "1", "--disk",
	    "x,irq=4294967329");
	ERR("--disk 'x,irq=99999999999999999999999'", "SPI range", "--domid",
	    "1", "--disk", "x,irq=99999999999999999999999");
}

static void test_colliding_irq(void)
{
	ERR("--disk 'b'",
	    "irq 34 (default) is already used by --disk "
	    "'a,irq=34'",
	    "--domid", "1", "--disk", "a,irq=34", "--disk", "b");
	ERR("--disk 'b,irq=40'", "already used by --disk 'a,irq=40'", "--domid",
	    "1", "--disk", "a,irq=40", "--disk", "b,irq=40");
}

static void test_bad_serial(void)
{
	ERR("--disk 'x,serial=123456789012345678901'", "longer than 20",
	    "--domid", "1", "--disk", "x,serial=123456789012345678901");
	/* The comma ends the serial; what follows is no disk option. */
	ERR("--disk 'x,serial=a,b'", "unknown disk option 'b'", "--domid", "1",
	    "--disk", "x,serial=a,b");
	ERR("--disk 'x,serial=a,b=c'", "serial cannot contain ','", "--domid",
	    "1", "--disk", "x,serial=a,b=c");
	/* Only right after a serial is a comma the likely mistake. */
	CHECK_EQ(PARSE("--domid", "1", "--disk", "x,ro,b"), OPTIONS_ERROR);
	CHECK(strstr(err, "unknown disk option 'b'") && !strstr(err, "serial"));
	ERR("--disk 'x,serial=a\tb'", "printable ASCII", "--domid", "1",
	    "--disk", "x,serial=a\tb");
	ERR("--disk 'x,serial=caf\xc3\xa9'", "printable ASCII", "--domid", "1",
	    "--disk", "x,serial=caf\xc3\xa9");
	ERR("--disk 'x,serial=a\x7f'", "printable ASCII", "--domid", "1",
	    "--disk", "x,serial=a\x7f");
	ERR("--disk 'x,serial='", "serial is empty", "--domid", "1", "--disk",
	    "x,serial=");
}

static void test_too_many_disks(void)
{
	const char *args[2 * (MAX_DISKS + 1) + 3];
	char specs[MAX_DISKS + 1][16];
	int n = 0;

	args[n++] = "--domid";
	args[n++] = "1";
	for (int i = 0; i <= MAX_DISKS; i++) {
		snprintf(specs[i], sizeof(specs[i]), "d%d.img", i);
		args[n++] = "--disk";
		args[n++] = specs[i];
	}
	args[n] = NULL;
	check_error(__LINE__, "--disk 'd11.img'", "at most 11 disks", args);
}

/* options_parse_disk() alone: fills d on success, leaves it on error. */
static void test_parse_disk_direct(void)
{
	struct disk_opts d = {.base = 0x2000000, .irq = 33};
	char e[256];

	CHECK_EQ(options_parse_disk("img,ro,serial=Q", &d, e, sizeof(e)), 0);
	CHECK(d.read_only && d.has_serial && strcmp(d.path, "img") == 0);
	CHECK_EQ(d.base, 0x2000000);
	CHECK_EQ(d.irq, 33);
	CHECK_EQ(options_parse_disk("other,irq=zz", &d, e, sizeof(e)), -1);
	CHECK(strcmp(d.path, "img") == 0 && d.read_only && d.irq == 33);
	CHECK(strstr(e, "--disk 'other,irq=zz'") != NULL);
	/* A too-small buffer still gets a terminated prefix. */
	CHECK_EQ(options_parse_disk("", &d, e, 8), -1);
	CHECK_EQ(strlen(e), 7);
}

int main(void)
{
	UNIT_RUN(test_one_disk_defaults);
	UNIT_RUN(test_three_disks_defaults);
	UNIT_RUN(test_max_disks);
	UNIT_RUN(test_explicit_values);
	UNIT_RUN(test_domid_forms);
	UNIT_RUN(test_flags);
	UNIT_RUN(test_help_version);
	UNIT_RUN(test_missing_required);
	UNIT_RUN(test_bad_domid);
	UNIT_RUN(test_bad_options);
	UNIT_RUN(test_bad_disk_syntax);
	UNIT_RUN(test_bad_base);
	UNIT_RUN(test_overlapping_base);
	UNIT_RUN(test_bad_irq);
	UNIT_RUN(test_colliding_irq);
	UNIT_RUN(test_bad_serial);
	UNIT_RUN(test_too_many_disks);
	UNIT_RUN(test_parse_disk_direct);
	return UNIT_DONE();
}
