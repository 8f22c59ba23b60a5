/* SPDX-License-Identifier: GPL-2.0-only */
/* The disk image: a raw file or a block device, opened once; or the null
 * backend "null:SIZE" (e.g. null:1G), an image with no storage behind it
 * for measuring the daemon's own per-request cost: the engine completes
 * every request at once, reads leave the guest's buffer untouched and
 * writes are dropped. For benchmarks only. */
#ifndef XVB_IMAGE_H
#define XVB_IMAGE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct image {
	int fd; /* O_DIRECT when direct is true */
	bool read_only;
	bool direct; /* O_DIRECT accepted by the file system */
	bool is_blkdev;
	uint64_t size;		/* bytes */
	uint32_t logical_block; /* O_DIRECT alignment: offset and length */
	uint32_t mem_align;	/* O_DIRECT alignment: buffer address */
	bool can_discard;	/* punch hole / BLKDISCARD accepted */
	bool can_write_zeroes;
	bool is_null; /* "null:SIZE": no fd, nothing stored */
	/* A data sync failed: the kernel may have dropped the dirty pages
	 * it could not write, and reports that to one sync only, so no later
	 * flush may claim durability (aio_engine.c). Until reopened. */
	_Atomic bool sync_failed;
	/* Held across each data sync, so that no two overlap (aio_engine.c). */
	pthread_mutex_t sync_lock;
	/* The same file opened once more, for data syncs only; -1 for a
	 * read-only image, or with no /proc to reopen it by: syncs then use
	 * fd. Linux reports each writeback error once per open file, to
	 * whichever sync looks first, and a write-through write's RWF_DSYNC
	 * on fd is such a sync: on fd alone it could take the report a later
	 * flush needs. On a file of its own nothing else looks. */
	int sync_fd;
	char path[4096];
};

/* The prefix that names the null backend instead of a file. */
#define IMAGE_NULL_PREFIX "null:"
/* Open path; `ro` opens read-only. 0, or -errno with a one-line reason
 * written to err (size errlen). */
int image_open(struct image *img, const char *path, bool ro, char *err,
	       size_t errlen);
/* As image_open(), but an image in use (another process holds its lock,
 * or a block device is claimed) is tried again for up to wait_ms: the
 * backend of a guest that just died may still be finishing with it when
 * the guest's next domain is created. */
int image_open_wait(struct image *img, const char *path, bool ro,
		    unsigned wait_ms, char *err, size_t errlen);
void image_close(struct image *img);
/* The image's size now, in bytes (it may have grown or shrunk since it was
 * opened: a file extended, a logical volume resized). 0, or -errno; the
 * null backend keeps its size. */
int image_size_now(const struct image *img, uint64_t *size);

#endif
