/* SPDX-License-Identifier: GPL-2.0-only */
/* The command line: getopt_long plus the --disk mini-language. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "options.h"
#include "virtio_blk.h"

#define PROG "xen-virtio-blk"

#ifndef XVB_VERSION
#define XVB_VERSION "unknown"
#endif

_Static_assert(DEFAULT_SPI + MAX_DISKS - 1 <= DISK_IRQ_MAX,
	       "default SPIs must be valid");
_Static_assert(DEFAULT_MMIO_BASE % DISK_MMIO_STRIDE == 0,
	       "default base must be aligned");

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Every error is one line, "xen-virtio-blk: <argument>: <reason>". */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s: ", PROG);

	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* A value option given twice: refused rather than one value silently
 * winning (a --pidfile in /etc/default would leave the init script
 * watching another file). */
static int given_twice(char *err, size_t errlen, const char *name,
		       const char *arg)
{
	return fail(err, errlen, "%s '%s': %s given twice", name, arg, name);
}

/* Unsigned decimal, or hexadecimal after "0x" when hex_ok. No sign, no
 * blanks, nothing after the digits: strtoull alone would take " -1" and
 * "12abc". A leading 0 is decimal, not octal. 0, -EINVAL or -ERANGE. */
static int parse_u64(const char *s, bool hex_ok, uint64_t *v)
{
	unsigned long long x;
	char *end;
	int base = 10;

	if (hex_ok && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		base = 16;
		/* strtoull would take a second "0x" as well. */
		if (!isxdigit((unsigned char)*s) ||
		    (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
			return -EINVAL;
	} else if (!isdigit((unsigned char)*s)) {
		return -EINVAL;
	}
	errno = 0;
	x = strtoull(s, &end, base);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*v = x;
	return 0;
}

static int disk_base(const char *spec, const char *val, struct disk_opts *d,
		     char *err, size_t errlen)
{
	uint64_t v;
	int r = parse_u64(val, true, &v);

	if (r == -ERANGE)
		return fail(err, errlen, "--disk '%s': base '%s' out of range",
			    spec, val);
	if (r)
		return fail(err, errlen,
			    "--disk '%s': base must be a number (decimal or "
			    "0x-hex)",
			    spec);
	if (v % DISK_MMIO_STRIDE)
		return fail(err, errlen,
			    "--disk '%s': base 0x%llx is not 0x%x-aligned",
			    spec, (unsigned long long)v, DISK_MMIO_STRIDE);
	if (v > UINT64_MAX - DISK_MMIO_STRIDE)
		return fail(err, errlen,
			    "--disk '%s': base 0x%llx: window passes the end "
			    "of the address space",
			    spec, (unsigned long long)v);
	d->base = v;
	return 0;
}

static int disk_irq(const char *spec, const char *val, struct disk_opts *d,
		    char *err, size_t errlen)
{
	uint64_t v;
	int r = parse_u64(val, false, &v);

	if (r == -EINVAL)
		return fail(err, errlen, "--disk '%s': irq must be a number",
			    spec);
	if (r || v < DISK_IRQ_MIN || v > DISK_IRQ_MAX)
		return fail(err, errlen,
			    "--disk '%s': irq %s is outside the SPI range "
			    "%d..%d",
			    spec, val, DISK_IRQ_MIN, DISK_IRQ_MAX);
	d->irq = (unsigned)v;
	return 0;
}

/* virtio-blk's ID string is 20 bytes (VIRTIO_BLK_ID_BYTES); the guest
 * shows it in sysfs, so only printable ASCII. */
static int disk_serial(const char *spec, const char *val, struct disk_opts *d,
		       char *err, size_t errlen)
{
	size_t len = strlen(val);

	if (len == 0)
		return fail(err, errlen, "--disk '%s': serial is empty", spec);
	if (len > sizeof(d->serial) - 1)
		return fail(err, errlen,
			    "--disk '%s': serial longer than %zu bytes", spec,
			    sizeof(d->serial) - 1);
	for (size_t i = 0; i < len; i++)
		if (val[i] < 0x20 || val[i] > 0x7e || val[i] == ',')
			return fail(err, errlen,
				    "--disk '%s': serial must be printable "
				    "ASCII without commas",
				    spec);
	memcpy(d->serial, val, len + 1);
	d->has_serial = true;
	return 0;
}

int options_parse_disk(const char *spec, struct disk_opts *d, char *err,
		       size_t errlen)
{
	struct disk_opts t = *d;
	char *copy = strdup(spec), *rest, *item;
	bool after_serial = false;
	int ret = -1;

	if (!copy)
		return fail(err, errlen, "--disk '%s': out of memory", spec);
	rest = copy;
	item = strsep(&rest, ",");
	if (!*item) {
		fail(err, errlen, "--disk '%s': empty path", spec);
		goto out;
	}
	if (strlen(item) >= sizeof(t.path)) {
		fail(err, errlen, "--disk '%.64s...': path too long", spec);
		goto out;
	}
	strcpy(t.path, item);
	t.read_only = false;
	t.has_serial = false;
	t.serial[0] = '\0';
	t.has_base = false;
	t.has_irq = false;

	while ((item = strsep(&rest, ",")) != NULL) {
		char *val = strchr(item, '=');

		if (val)
			*val++ = '\0';
		if (!*item) {
			fail(err, errlen, "--disk '%s': empty option", spec);
			goto out;
		}
		if (strcmp(item, "ro") == 0) {
			after_serial = false;
			if (val) {
				fail(err, errlen,
				     "--disk '%s': 'ro' takes no value", spec);
				goto out;
			}
			if (t.read_only) {
				fail(err, errlen,
				     "--disk '%s': 'ro' given twice", spec);
				goto out;
			}
			t.read_only = true;
			continue;
		}
		bool *seen = strcmp(item, "base") == 0	   ? &t.has_base
			     : strcmp(item, "irq") == 0	   ? &t.has_irq
			     : strcmp(item, "serial") == 0 ? &t.has_serial
							   : NULL;
		if (!seen) {
			fail(err, errlen,
			     "--disk '%s': unknown disk option '%s'%s", spec,
			     item,
			     after_serial ? " (a serial cannot contain ',')"
					  : "");
			goto out;
		}
		after_serial = seen == &t.has_serial;
		if (*seen) {
			fail(err, errlen, "--disk '%s': '%s' given twice", spec,
			     item);
			goto out;
		}
		if (!val) {
			fail(err, errlen, "--disk '%s': '%s' needs a value",
			     spec, item);
			goto out;
		}
		if (seen == &t.has_base) {
			if (disk_base(spec, val, &t, err, errlen))
				goto out;
			t.has_base = true;
		} else if (seen == &t.has_irq) {
			if (disk_irq(spec, val, &t, err, errlen))
				goto out;
			t.has_irq = true;
		} else if (disk_serial(spec, val, &t, err, errlen)) {
			goto out;
		}
	}
	*d = t;
	ret = 0;
out:
	free(copy);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: " PROG " --watch [OPTION]...\n"
	    "       " PROG " --domid N [OPTION]...\n"
	    "       " PROG " --domid N --disk SPEC [--disk SPEC]... "
	    "[OPTION]...\n"
	    "Serve virtio-mmio block devices to Xen guests.\n"
	    "\n"
	    "  --watch            the dom0 service: one backend process "
	    "per guest that xl\n"
	    "                     gives virtio disks (see "
	    "xen-virtio-blk(8))\n"
	    "  --domid N          the guest's domain id (0..%d); without "
	    "--disk, serve\n"
	    "                     every virtio disk xenstore lists for it\n"
	    "  --disk SPEC        one disk (up to %d), in guest order, "
	    "bypassing xenstore:\n"
	    "                       PATH[,ro][,base=ADDR][,irq=N]"
	    "[,serial=S]\n"
	    "                     PATH  raw image file or block device (no "
	    "comma);\n"
	    "                           null:SIZE is a benchmarking disk "
	    "that stores nothing\n"
	    "                     ro    read-only\n"
	    "                     base  MMIO window, decimal or 0x-hex, "
	    "0x%x-aligned\n"
	    "                           (default 0x%llx + n * 0x%x for the "
	    "n-th disk)\n"
	    "                     irq   SPI %d..%d (default %d + n)\n"
	    "                     serial  up to 20 printable characters, "
	    "no comma\n"
	    "  -F, --foreground   stay attached and log to stderr "
	    "(default: detach, syslog)\n"
	    "  --syslog           log to syslog (facility daemon) even in "
	    "the foreground\n"
	    "  --log-level LEVEL  error, warn, info (default) or debug\n"
	    "  --pidfile PATH     write the daemon's pid to PATH (--watch, "
	    "detached:\n"
	    "                     " DEFAULT_WATCH_PIDFILE " unless given)\n"
	    "  --runas USER       once set up, drop root and run as USER "
	    "(--watch: its\n"
	    "                     per-guest processes do)\n"
	    "  --poll-us N        after each request, poll for the next one "
	    "for up to N\n"
	    "                     microseconds before sleeping (0..%d, "
	    "default %d)\n"
	    "  --irq-poll-us N    after each interrupt, poll up to N "
	    "microseconds for the\n"
	    "                     guest's acknowledgement (0..%d, default "
	    "%d)\n"
	    "  --idle-grace-us N  once a queue drains, keep the guest from "
	    "notifying for N\n"
	    "                     microseconds and collect its requests then "
	    "(0..%d, 0: off);\n"
	    "                     auto (the default): as long as the guest "
	    "takes to answer\n"
	    "                     an interrupt, where that is 250 us or more "
	    "and it keeps\n"
	    "                     8 or more requests in flight\n"
	    "  --queues N         request queues per disk (1..%d, default 1); "
	    "more than one\n"
	    "                     offers VIRTIO_BLK_F_MQ, served by the same "
	    "thread\n"
	    "  --submit-batch N   at most N requests per io_submit (0..%d, "
	    "default 0: no\n"
	    "                     limit); 2 suits storage that completes each "
	    "submission\n"
	    "                     as a unit\n"
	    "  --io-threads       serve each request queue on a thread of its "
	    "own (with\n"
	    "                     --queues N, N threads per disk)\n"
	    "  -h, --help         show this help and exit\n"
	    "  --version          show the version and exit\n"
	    "SIGTERM, SIGINT: finish in-flight requests, clean up, exit 0. "
	    "SIGHUP: look at\n"
	    "the images' sizes now. SIGUSR1: log statistics.\n",
	    MAX_DOMID, MAX_DISKS, DISK_MMIO_STRIDE, DEFAULT_MMIO_BASE,
	    DISK_MMIO_STRIDE, DISK_IRQ_MIN, DISK_IRQ_MAX, DEFAULT_SPI,
	    MAX_POLL_US, DEFAULT_POLL_US, MAX_POLL_US, DEFAULT_IRQ_POLL_US,
	    MAX_POLL_US, VIRTIO_BLK_MAX_QUEUES, MAX_SUBMIT_BATCH);
}

enum {
	OPT_DOMID = 256,
	OPT_DISK,
	OPT_LOG_LEVEL,
	OPT_PIDFILE,
	OPT_WATCH,
	OPT_SYSLOG,
	OPT_RUNAS,
	OPT_POLL_US,
	OPT_IRQ_POLL_US,
	OPT_IDLE_GRACE_US,
	OPT_QUEUES,
	OPT_SUBMIT_BATCH,
	OPT_IO_THREADS,
	OPT_VERSION,
};

static const struct option long_options[] = {
    {"domid", required_argument, NULL, OPT_DOMID},
    {"disk", required_argument, NULL, OPT_DISK},
    {"foreground", no_argument, NULL, 'F'},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"pidfile", required_argument, NULL, OPT_PIDFILE},
    {"watch", no_argument, NULL, OPT_WATCH},
    {"syslog", no_argument, NULL, OPT_SYSLOG},
    {"runas", required_argument, NULL, OPT_RUNAS},
    {"poll-us", required_argument, NULL, OPT_POLL_US},
    {"irq-poll-us", required_argument, NULL, OPT_IRQ_POLL_US},
    {"idle-grace-us", required_argument, NULL, OPT_IDLE_GRACE_US},
    {"queues", required_argument, NULL, OPT_QUEUES},
    {"submit-batch", required_argument, NULL, OPT_SUBMIT_BATCH},
    {"io-threads", no_argument, NULL, OPT_IO_THREADS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Whether arg is "--name" or "--name=...": glibc also takes any unique
 * prefix, which a config file would keep using after a new option made it
 * ambiguous or gave it another meaning. */
static bool spelt_out(const char *arg, const char *name)
{
	size_t n = strlen(name);

	return strncmp(arg, "--", 2) == 0 && strncmp(arg + 2, name, n) == 0 &&
	       (arg[2 + n] == '\0' || arg[2 + n] == '=');
}

/* Refuses arg, an abbreviation of --name, naming the option in full. */
static int abbreviated(char *err, size_t errlen, const char *arg,
		       const char *name)
{
	return fail(err, errlen, "option '%s': write it in full, '--%s'", arg,
		    name);
}

/* The argument getopt stopped at, argv[at]: "--name[=value]" as typed, or
 * "-c" (within a cluster such as "-Fx", the letter that failed). */
static void bad_option(int argc, char **argv, int at, char *err, size_t errlen,
		       const char *what)
{
	const char *arg = at >= 1 && at < argc ? argv[at] : "";

	/* An abbreviation is refused as such, whatever else is wrong with
	 * it (a missing value, a value it takes none of): glibc names the
	 * long option it matched by its value in optopt (each value is one
	 * option's). */
	for (const struct option *l = long_options;
	     strncmp(arg, "--", 2) == 0 && optopt && l->name; l++)
		if (l->val == optopt && !spelt_out(arg, l->name)) {
			abbreviated(err, errlen, arg, l->name);
			return;
		}
	/* glibc sets optopt for a known long option given a value it does
	 * not take, and leaves it 0 for an unknown one. */
	if (strncmp(arg, "--", 2) == 0 && optopt && strchr(arg, '='))
		fail(err, errlen, "option '%s' takes no value", arg);
	else if (strncmp(arg, "--", 2) == 0 || !optopt)
		fail(err, errlen, "%s option '%s'", what, arg);
	else
		fail(err, errlen, "%s option '-%c'", what, optopt);
}

static int cross_check(const struct options *o, const char *const *specs,
		       char *err, size_t errlen)
{
	for (unsigned j = 1; j < o->ndisks; j++) {
		const struct disk_opts *b = &o->disks[j];

		for (unsigned i = 0; i < j; i++) {
			const struct disk_opts *a = &o->disks[i];

			if (a->base < b->base + DISK_MMIO_STRIDE &&
			    b->base < a->base + DISK_MMIO_STRIDE)
				return fail(
				    err, errlen,
				    "--disk '%s': base 0x%llx%s "
				    "overlaps --disk '%s' at 0x%llx",
				    specs[j], (unsigned long long)b->base,
				    b->has_base ? "" : " (default)", specs[i],
				    (unsigned long long)a->base);
			if (a->irq == b->irq)
				return fail(err, errlen,
					    "--disk '%s': irq %u%s is already "
					    "used by --disk '%s'",
					    specs[j], b->irq,
					    b->has_irq ? "" : " (default)",
					    specs[i]);
		}
	}
	return 0;
}

/* A decimal option value in min..max; -1 with the one-line reason. */
static int parse_option_number(const char *name, const char *arg, uint64_t min,
			       uint64_t max, uint64_t *v, char *err,
			       size_t errlen)
{
	int r = parse_u64(arg, false, v);

	if (r == -EINVAL)
		return fail(err, errlen, "%s '%s': must be a number", name,
			    arg);
	if (r || *v < min || *v > max)
		return fail(err, errlen, "%s '%s': out of range %llu..%llu",
			    name, arg, (unsigned long long)min,
			    (unsigned long long)max);
	return 0;
}

/* The numeric options: their range, where they go, and (in this order)
 * what --watch passes on to its children. */
static const struct num_spec {
	int id;
	const char *name;
	unsigned min, max;
	size_t field; /* offsetof(struct options, the num_option) */
} num_specs[] = {
    {OPT_POLL_US, "--poll-us", 0, MAX_POLL_US, offsetof(struct options, poll)},
    {OPT_IRQ_POLL_US, "--irq-poll-us", 0, MAX_POLL_US,
     offsetof(struct options, irq_poll)},
    {OPT_IDLE_GRACE_US, "--idle-grace-us", 0, MAX_POLL_US,
     offsetof(struct options, idle_grace)},
    {OPT_QUEUES, "--queues", 1, VIRTIO_BLK_MAX_QUEUES,
     offsetof(struct options, queues)},
    {OPT_SUBMIT_BATCH, "--submit-batch", 0, MAX_SUBMIT_BATCH,
     offsetof(struct options, submit_batch)},
};
#define NUM_SPECS (sizeof(num_specs) / sizeof(num_specs[0]))
_Static_assert(NUM_SPECS + 1 == OPTIONS_PASS_ON_MAX,
	       "every tuning option (the numeric ones, --io-threads) can be "
	       "passed on");

static const struct num_spec *num_spec(int id)
{
	for (size_t i = 0; i < NUM_SPECS; i++)
		if (num_specs[i].id == id)
			return &num_specs[i];
	return NULL;
}

static int parse_num(const struct num_spec *sp, const char *arg,
		     struct options *opts, char *err, size_t errlen)
{
	struct num_option *o = (struct num_option *)((char *)opts + sp->field);
	uint64_t v;

	if (o->given)
		return given_twice(err, errlen, sp->name, arg);
	if (sp->id == OPT_IDLE_GRACE_US && !strcmp(arg, "auto")) {
		o->val = VIRTIO_BLK_GRACE_AUTO;
		o->given = true;
		snprintf(o->arg, sizeof(o->arg), "%s=auto", sp->name);
		return 0;
	}
	if (parse_option_number(sp->name, arg, sp->min, sp->max, &v, err,
				errlen))
		return -1;
	o->val = (unsigned)v;
	o->given = true;
	snprintf(o->arg, sizeof(o->arg), "%s=%u", sp->name, o->val);
	return 0;
}

void options_pass_on(const struct options *o,
		     const char *out[OPTIONS_PASS_ON_MAX + 1])
{
	unsigned n = 0;

	for (unsigned i = 0; i < NUM_SPECS; i++) {
		const struct num_option *v =
		    (const struct num_option *)((const char *)o +
						num_specs[i].field);

		if (v->given)
			out[n++] = v->arg;
	}
	if (o->io_threads)
		out[n++] = "--io-threads";
	out[n] = NULL;
}

int options_parse(int argc, char **argv, struct options *o, char *err,
		  size_t errlen)
{
	const char *specs[MAX_DISKS];
	bool has_log_level = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->log_level = LOG_LVL_INFO;
	o->poll.val = DEFAULT_POLL_US;
	o->irq_poll.val = DEFAULT_IRQ_POLL_US;
	o->idle_grace.val = VIRTIO_BLK_GRACE_AUTO;
	o->queues.val = 1;
	/* 0, not 1: glibc then also resets its internal state, so tests can
	 * parse several command lines in one process. */
	optind = 0;
	opterr = 0;
	for (;;) {
		/* The argument getopt is about to read (glibc moves optind
		 * past a cluster of letters only at its last one). */
		int at = optind ? optind : 1;
		int li = -1;
		uint64_t v;

		c = getopt_long(argc, argv, "+:Fh", long_options, &li);
		if (c == -1)
			break;
		if (li >= 0 && !spelt_out(argv[at], long_options[li].name))
			return abbreviated(err, errlen, argv[at],
					   long_options[li].name);

		switch (c) {
		case OPT_DOMID:
			if (o->has_domid)
				return given_twice(err, errlen, "--domid",
						   optarg);
			if (parse_option_number("--domid", optarg, 0, MAX_DOMID,
						&v, err, errlen))
				return OPTIONS_ERROR;
			o->domid = (uint32_t)v;
			o->has_domid = true;
			break;
		case OPT_DISK: {
			unsigned n = o->ndisks;
			struct disk_opts *d;

			if (n == MAX_DISKS)
				return fail(err, errlen,
					    "--disk '%s': at most %d disks",
					    optarg, MAX_DISKS);
			d = &o->disks[n];
			d->base = DEFAULT_MMIO_BASE + n * DISK_MMIO_STRIDE;
			d->irq = DEFAULT_SPI + n;
			if (options_parse_disk(optarg, d, err, errlen))
				return OPTIONS_ERROR;
			specs[n] = optarg;
			o->ndisks++;
			break;
		}
		case 'F':
			o->foreground = true;
			break;
		case OPT_LOG_LEVEL:
			if (has_log_level)
				return given_twice(err, errlen, "--log-level",
						   optarg);
			has_log_level = true;
			o->log_level = log_level_parse(optarg);
			if (o->log_level < 0)
				return fail(err, errlen,
					    "--log-level '%s': must be error, "
					    "warn, info or debug",
					    optarg);
			break;
		case OPT_PIDFILE:
			if (o->pidfile[0])
				return given_twice(err, errlen, "--pidfile",
						   optarg);
			if (!*optarg)
				return fail(err, errlen,
					    "--pidfile '': empty path");
			if (strlen(optarg) >= sizeof(o->pidfile))
				return fail(err, errlen,
					    "--pidfile: path too long");
			strcpy(o->pidfile, optarg);
			break;
		case OPT_WATCH:
			o->watch = true;
			break;
		case OPT_SYSLOG:
			o->syslog = true;
			break;
		case OPT_IO_THREADS:
			o->io_threads = true;
			break;
		case OPT_RUNAS:
			if (o->runas[0])
				return given_twice(err, errlen, "--runas",
						   optarg);
			if (!*optarg || strlen(optarg) >= sizeof(o->runas))
				return fail(err, errlen,
					    "--runas '%s': not a user name",
					    optarg);
			strcpy(o->runas, optarg);
			break;
		case 'h':
			usage(stdout);
			return OPTIONS_EXIT;
		case OPT_VERSION:
			printf(PROG " " XVB_VERSION "\n");
			return OPTIONS_EXIT;
		case ':':
			bad_option(argc, argv, at, err, errlen,
				   "missing argument for");
			return OPTIONS_ERROR;
		default:
			if (num_spec(c)) {
				if (parse_num(num_spec(c), optarg, o, err,
					      errlen))
					return OPTIONS_ERROR;
				break;
			}
			bad_option(argc, argv, at, err, errlen,
				   "unknown or ambiguous");
			return OPTIONS_ERROR;
		}
	}
	if (optind < argc)
		return fail(err, errlen,
			    "'%s': unexpected argument (see --help)",
			    argv[optind]);
	if (o->watch && o->has_domid)
		return fail(err, errlen,
			    "--domid %u: --watch serves every guest and takes "
			    "no --domid",
			    o->domid);
	if (o->watch && o->ndisks)
		return fail(err, errlen,
			    "--disk '%s': --watch takes its disks from "
			    "xenstore, not --disk",
			    specs[0]);
	if (o->ndisks && !o->has_domid)
		return fail(err, errlen, "--disk '%s': --disk requires --domid",
			    specs[0]);
	if (!o->watch && !o->has_domid)
		return fail(err, errlen,
			    "--domid: required, or --watch (see --help)");
	/* Xen gives no domain an IOREQ server for itself; without --disk a
	 * domid 0 is refused by xenstore (it has no disks of its own). */
	if (o->ndisks && o->domid == 0)
		return fail(err, errlen,
			    "--domid 0: dom0 is not a guest; give the domid "
			    "of the guest to serve");
	if (cross_check(o, specs, err, errlen))
		return OPTIONS_ERROR;
	return OPTIONS_OK;
}
