/* SPDX-License-Identifier: GPL-2.0-only */
/* The virtio block device (virtio 1.2 section 5.2): feature bits, config
 * space, request parsing and status codes. Requests go to the I/O engine;
 * completions come back here and go out through the virtqueue. */
#ifndef XVB_VIRTIO_BLK_H
#define XVB_VIRTIO_BLK_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"
#include "loop.h"
#include "virtio_dev.h"

#define VIRTIO_BLK_SERIAL_MAX 20 /* VIRTIO_BLK_ID_BYTES */
/* Request queues a disk may offer (VIRTIO_BLK_F_MQ). Each costs its own
 * request pool (about 4 MiB at the default queue size). */
#define VIRTIO_BLK_MAX_QUEUES 8
/* virtio_blk_params.idle_grace_us: sized by the guest's reaction. */
#define VIRTIO_BLK_GRACE_AUTO UINT_MAX

struct virtio_blk_params {
	const char *path;
	bool read_only;
	const char *serial;  /* NULL: derived from the image */
	unsigned queue_size; /* QueueNumMax offered; 0 = default */
	/* Request queues offered, 1..VIRTIO_BLK_MAX_QUEUES (0 = 1); more than
	 * one offers VIRTIO_BLK_F_MQ. All are served by the caller's loop
	 * unless io_threads. */
	unsigned num_queues;
	/* Most requests per io_submit (aio_engine_set_submit_batch); 0 = no
	 * limit. */
	unsigned submit_batch;
	/* Once a queue has nothing in flight, keep the driver from notifying
	 * for this long (µs) and collect what it queued then; 0 = off;
	 * VIRTIO_BLK_GRACE_AUTO: what guest_reaction_us() says, where that
	 * is slow and the driver keeps many requests in flight (the rule is
	 * virtio_blk.c's idle_grace_us()). */
	unsigned idle_grace_us;
	/* How long the guest takes to answer an interrupt, in µs (0: not
	 * known); called with reaction_opaque from the queue's thread. */
	unsigned (*guest_reaction_us)(void *opaque);
	void *reaction_opaque;
	/* Serve each queue on an I/O thread of its own (its own loop and
	 * engine; notifications are passed on to it), instead of on the
	 * caller's loop. */
	bool io_threads;
	/* The disk's number in its guest, for the I/O threads' names
	 * (xvb-dINDEX-qQUEUE). */
	unsigned index;
	/* How long an image in use is waited for (image_open_wait). */
	unsigned in_use_wait_ms;
};

struct virtio_blk;
/* Open the image and its I/O engine. NULL with a one-line reason in err. */
struct virtio_blk *virtio_blk_new(struct loop *loop, struct guest_mem *gm,
				  const struct virtio_blk_params *p, char *err,
				  size_t errlen);
void virtio_blk_free(struct virtio_blk *b);
/* Look at the image's size again; if it changed by whole sectors, serve
 * the new capacity (*sectors) and tell the driver (a configuration change
 * interrupt, §5.2.4: Linux re-reads the capacity) and return true. The
 * guest's loop thread. */
bool virtio_blk_check_capacity(struct virtio_blk *b, uint64_t *sectors);
/* Nobody will see what is in flight (the domain is gone; a reset and
 * teardown do it too): zeroing that writes stops between two chunks
 * (aio_engine_abandon; those requests end in IOERR). Reads and writes,
 * bounded, still run. The guest's loop thread. */
void virtio_blk_abandon(struct virtio_blk *b);
/* The ops for virtio_mmio_new(ops, b, ...). */
extern const struct virtio_device_ops virtio_blk_ops;

struct virtio_blk_stats {
	uint64_t reqs[5]; /* read, write, flush, discard+wz, other */
	uint64_t bytes_read, bytes_written;
	uint64_t errors, unsupported, in_flight, notifies, interrupts;
	uint64_t capacity_sectors;
	unsigned queues; /* offered */
	uint64_t
	    queue_completed[VIRTIO_BLK_MAX_QUEUES]; /* requests, per queue */
};
/* Safe while I/O threads run (each queue's lock is taken in turn). */
void virtio_blk_get_stats(struct virtio_blk *b, struct virtio_blk_stats *s);

#endif
