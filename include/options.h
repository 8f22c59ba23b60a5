/* SPDX-License-Identifier: GPL-2.0-only */
/* The command line. */
#ifndef XVB_OPTIONS_H
#define XVB_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_DISKS 11	/* SPIs 33..43: GUEST_VIRTIO_MMIO_SPI_FIRST..LAST */
#define DEFAULT_MMIO_BASE 0x02000000ULL	/* GUEST_VIRTIO_MMIO_BASE */
#define DEFAULT_SPI 33			/* GUEST_VIRTIO_MMIO_SPI_FIRST */

struct disk_opts {
	char path[4096];
	bool read_only;
	uint64_t base;	/* defaults: DEFAULT_MMIO_BASE + n * 0x200 */
	unsigned irq;	/* defaults: DEFAULT_SPI + n */
	char serial[21];/* empty: derived from the image */
	bool has_serial;
};

struct options {
	uint32_t domid;
	bool has_domid;
	bool watch;
	bool foreground;
	int log_level;	/* enum log_level */
	unsigned ndisks;
	struct disk_opts disks[MAX_DISKS];
};

enum { OPTIONS_OK = 0, OPTIONS_EXIT = 1, OPTIONS_ERROR = -1 };
/* Parse argv. OPTIONS_EXIT: --help/--version printed, exit 0.
 * OPTIONS_ERROR: a one-line reason in err, exit 2. */
int options_parse(int argc, char **argv, struct options *o, char *err,
		  size_t errlen);
/* Parse one --disk value "PATH[,ro][,base=ADDR][,irq=N][,serial=S]" into d
 * (defaults already filled in by the caller). 0 or -1 with err. */
int options_parse_disk(const char *spec, struct disk_opts *d, char *err,
		       size_t errlen);

#endif
