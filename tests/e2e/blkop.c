/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * blkop: the block ioctls busybox lacks, for the e2e guest.
 *   blkop zeroout DEV OFFSET LEN   BLKZEROOUT (virtio-blk WRITE_ZEROES)
 *   blkop discard DEV OFFSET LEN   BLKDISCARD
 *   blkop flush DEV                fsync() of the device (virtio-blk FLUSH)
 * Exit 0 on success; otherwise prints strerror and exits 1 (2: usage).
 * Built static for arm64 by tests/e2e/run.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: blkop zeroout|discard DEV OFFSET LEN\n"
			"       blkop flush DEV\n");
	return 2;
}

int main(int argc, char **argv)
{
	uint64_t range[2];
	unsigned long req;
	int fd, r;

	if (argc == 3 && strcmp(argv[1], "flush") == 0) {
		fd = open(argv[2], O_WRONLY);
		if (fd < 0 || fsync(fd) != 0) {
			fprintf(stderr, "blkop: flush %s: %s\n", argv[2],
				strerror(errno));
			return 1;
		}
		return close(fd) ? 1 : 0;
	}
	if (argc != 5)
		return usage();
	if (strcmp(argv[1], "zeroout") == 0)
		req = BLKZEROOUT;
	else if (strcmp(argv[1], "discard") == 0)
		req = BLKDISCARD;
	else
		return usage();
	range[0] = strtoull(argv[3], NULL, 0);
	range[1] = strtoull(argv[4], NULL, 0);
	fd = open(argv[2], O_WRONLY);
	if (fd < 0) {
		fprintf(stderr, "blkop: open %s: %s\n", argv[2],
			strerror(errno));
		return 1;
	}
	r = ioctl(fd, req, range);
	if (r != 0) {
		fprintf(stderr, "blkop: %s %s: %s\n", argv[1], argv[2],
			strerror(errno));
		close(fd);
		return 1;
	}
	return close(fd) ? 1 : 0;
}
