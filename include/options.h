/* SPDX-License-Identifier: GPL-2.0-only */
/* The command line. Three modes: --domid N --disk SPEC... serves the given
 * disks (manual, for debugging); --domid N alone serves every virtio disk
 * xenstore lists for guest N (one process per guest); --watch is the dom0
 * service that starts one --domid process per new guest. */
#ifndef XVB_OPTIONS_H
#define XVB_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_DISKS	    11 /* SPIs 33..43: GUEST_VIRTIO_MMIO_SPI_FIRST..LAST */
#define DEFAULT_MMIO_BASE   0x02000000ULL /* GUEST_VIRTIO_MMIO_BASE */
#define DEFAULT_SPI	    33		  /* GUEST_VIRTIO_MMIO_SPI_FIRST */
#define DISK_MMIO_STRIDE    0x200 /* libxl's VIRTIO_MMIO_DEV_SIZE (one window) */
#define DISK_IRQ_MIN	    32	  /* SPIs: 32..987 (GICv2/v3 SPI range) */
#define DISK_IRQ_MAX	    987
#define MAX_DOMID	    0x7FEF /* DOMID_FIRST_RESERVED - 1 */
#define MAX_POLL_US	    1000000
#define DEFAULT_POLL_US	    0
#define DEFAULT_IRQ_POLL_US 50
#define MAX_SUBMIT_BATCH    1024
/* Where --watch writes its pid when detached and no --pidfile is given
 * (XEN_RUN_DIR, as xencommons' daemons do). */
#define DEFAULT_WATCH_PIDFILE "/run/xen/xen-virtio-blk.pid"

struct disk_opts {
	char path[4096];
	bool read_only;
	uint64_t base;	 /* defaults: DEFAULT_MMIO_BASE + n * 0x200 */
	unsigned irq;	 /* defaults: DEFAULT_SPI + n */
	char serial[21]; /* empty: derived from the image */
	bool has_serial;
	bool has_base, has_irq; /* given explicitly */
};

/* A numeric option (a time in microseconds, a count): its value, whether
 * it was given, and "--name=value" as given, for --watch to pass on to its
 * children. */
struct num_option {
	unsigned val;
	bool given;
	char arg[40];
};

struct options {
	uint32_t domid;
	bool has_domid;
	bool watch;
	bool foreground;
	bool syslog;		      /* log to syslog even in the foreground */
	int log_level;		      /* enum log_level; default LOG_LVL_INFO */
	char pidfile[4096];	      /* empty: none */
	char runas[64];		      /* empty: stay root */
	struct num_option poll;	      /* --poll-us: the event loop's window */
	struct num_option irq_poll;   /* --irq-poll-us: for an irq's acks */
	struct num_option idle_grace; /* --idle-grace-us: after a drain */
	struct num_option queues;     /* --queues: per disk, default 1 */
	struct num_option submit_batch; /* --submit-batch: 0 = no limit */
	bool io_threads;		/* --io-threads */
	unsigned ndisks;
	struct disk_opts disks[MAX_DISKS];
};

enum { OPTIONS_OK = 0, OPTIONS_EXIT = 1, OPTIONS_ERROR = -1 };
/* The given tuning options (the numeric ones as "--name=value", then
 * --io-threads) as words, NULL-terminated (at most OPTIONS_PASS_ON_MAX of
 * them), for --watch's children. */
#define OPTIONS_PASS_ON_MAX 6
void options_pass_on(const struct options *o,
		     const char *out[OPTIONS_PASS_ON_MAX + 1]);
/* Parse argv. OPTIONS_EXIT: --help/--version printed, exit 0.
 * OPTIONS_ERROR: a one-line reason in err naming the offending argument,
 * e.g. "xen-virtio-blk: --disk 'x.img,irq=abc': irq must be a number";
 * print it and exit 2. Callable more than once (getopt is reset). */
int options_parse(int argc, char **argv, struct options *o, char *err,
		  size_t errlen);
/* Parse one --disk value "PATH[,ro][,base=ADDR][,irq=N][,serial=S]" into d
 * (defaults already filled in by the caller). 0 or -1 with a one-line
 * reason in err. Checks each value alone; clashes between disks are
 * options_parse()'s business. */
int options_parse_disk(const char *spec, struct disk_opts *d, char *err,
		       size_t errlen);

#endif
