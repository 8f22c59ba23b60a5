/* SPDX-License-Identifier: GPL-2.0-only */
/* Split virtqueue, device side (virtio 1.2 section 2.7). Walks descriptor
 * chains (direct and indirect) with every guest value bounds-checked and
 * copied once, publishes used entries with release ordering, and decides
 * notifications in both directions (EVENT_IDX or flags). */
#ifndef XVB_VIRTQUEUE_H
#define XVB_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"

#define VIRTQ_MAX_SIZE	1024 /* largest QueueNumMax we ever offer */
#define VIRTQ_MAX_CHAIN 1024 /* descriptors per chain, indirect included */

/* One buffer of a chain, in chain order: readable ones come first. */
struct virtq_seg {
	uint64_t gpa;
	uint32_t len;
	bool device_writes; /* VRING_DESC_F_WRITE */
};

struct virtq_chain {
	uint16_t head; /* id to give back in virtq_push() */
	unsigned nseg;
	unsigned nreadable; /* segs [0, nreadable) are device-readable */
	uint64_t readable_bytes, writable_bytes;
	struct virtq_seg seg[VIRTQ_MAX_CHAIN];
};

struct virtq {
	/* Set by the transport while the queue is not ready. */
	uint16_t num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Private from here on. */
	struct guest_mem *gm;
	void *desc_map, *avail_map, *used_map;
	volatile struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	bool event_idx, indirect, started, broken;
	uint16_t last_avail;	 /* next avail entry to consume */
	uint16_t avail_idx;	 /* avail->idx as last read and checked */
	uint16_t used_idx;	 /* shadow of used->idx */
	uint16_t signalled_used; /* used_idx at the last interrupt decision */
};

/* Map the three rings and start consuming at index 0. Fails (-EINVAL or
 * -EFAULT) if num is not a power of two in [1, VIRTQ_MAX_SIZE], an address is
 * misaligned (2.7: desc 16, avail 2, used 4) or the rings are not RAM. */
int virtq_start(struct virtq *vq, struct guest_mem *gm, bool event_idx,
		bool indirect);
/* Unmap the rings; the queue keeps its addresses but is no longer started. */
void virtq_stop(struct virtq *vq);
/* Two started queues whose rings clash: either's used ring (the device
 * writes it) overlaps any ring of the other. Sharing read-only rings is
 * allowed. */
bool virtq_rings_clash(const struct virtq *a, const struct virtq *b);

/* Take the next available chain into *c.
 * 1: got one; 0: ring empty; -EINVAL: this chain is malformed (loop, too
 * long, bad index, nested indirect, bad indirect size, address not RAM...):
 * it has been consumed, c->head is valid, the caller should complete it with
 * an error status and 0 bytes; -EIO: the ring itself is broken (avail index
 * jumped by more than num): the device must go to DEVICE_NEEDS_RESET;
 * -EAGAIN: the chain's indirect table could not be read for want of
 * mapping room (guest_mem -ENOMEM, every mapping held by in-flight I/O):
 * nothing was consumed, pop again once some I/O has completed. */
int virtq_pop(struct virtq *vq, struct virtq_chain *c);
/* Give back the chain the last virtq_pop() returned (1), unconsumed: the
 * next virtq_pop() walks it again from guest memory. Only valid before
 * anything else is popped or pushed. */
void virtq_unpop(struct virtq *vq);

/* Whether the driver has made buffers available that virtq_pop() has not
 * taken (a peek for pollers: virtq_pop() checks the index). */
bool virtq_has_avail(const struct virtq *vq);

/* Queue a used entry (len = bytes written into device-writable buffers);
 * visible to the driver at the next virtq_flush_used(). */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
/* Publish the pushed entries (release order) and return whether the driver
 * wants an interrupt for them (EVENT_IDX used_event, or NO_INTERRUPT flag). */
bool virtq_flush_used(struct virtq *vq);

/* Driver->device notification suppression. After draining the ring, call
 * virtq_enable_notify(); if it returns true more buffers arrived in the race
 * window and the caller must pop again. */
bool virtq_enable_notify(struct virtq *vq);
/* The same, but the driver is asked to notify only once it has made more
 * than `slack` further buffers available (EVENT_IDX; without it a non-zero
 * slack leaves notifications off). Up to `slack` buffers may then sit in
 * the ring without a notification: the caller must look at the ring again
 * on its own (e.g. when the requests it has in flight complete). Returns
 * true if the caller must pop again now. */
bool virtq_enable_notify_slack(struct virtq *vq, uint16_t slack);
void virtq_disable_notify(struct virtq *vq);

#endif
