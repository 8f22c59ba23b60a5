/* SPDX-License-Identifier: GPL-2.0-only */
/* What a virtio device offers its transport: features, config space, queue
 * processing and reset. The device never sees transport registers; the
 * transport never sees requests. */
#ifndef XVB_VIRTIO_DEV_H
#define XVB_VIRTIO_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "virtqueue.h"

/* Calls from the device back to its transport. */
struct virtio_notify {
	/* Used entries were published and the driver wants an interrupt. A
	 * device may call it from an I/O thread of its own, never after
	 * stop() or reset() returned. */
	void (*used)(void *opaque);
	/* The device found an unrecoverable driver error (2.1.2). The
	 * loop's thread only. */
	void (*needs_reset)(void *opaque);
	/* The device's config space changed (e.g. its capacity): raise a
	 * configuration change notification (§2.5.2). The loop's thread
	 * only. */
	void (*config_changed)(void *opaque);
	void *opaque;
};

struct virtio_device_ops {
	uint32_t device_id; /* 2 = block */
	/* How many virtqueues the device has under the features negotiated
	 * so far: before set_features() (and after a reset) every queue it
	 * can offer, which is the most it ever reports. */
	unsigned (*num_queues)(void *dev);
	/* QueueNumMax: the largest ring the device has request slots for. */
	uint16_t (*queue_num_max)(void *dev);
	uint64_t (*features)(void *dev);
	/* FEATURES_OK: the driver's subset of features(). false = refuse. */
	bool (*set_features)(void *dev, uint64_t features);
	/* Device config space, little-endian: copy len bytes at off into buf.
	 * Returns the config size; bytes past it read as 0 (caller zeroes). */
	uint32_t (*config_read)(void *dev, uint32_t off, void *buf,
				uint32_t len);
	/* ConfigGeneration (§2.5.1): changes whenever the config space did,
	 * so a driver reading a field in several accesses can tell. */
	uint32_t (*config_generation)(void *dev);
	/* Driver writes to config space (writable fields only, e.g. wce). */
	void (*config_write)(void *dev, uint32_t off, const void *buf,
			     uint32_t len);
	/* DRIVER_OK: queues [0, nvq) are configured (started or not ready). */
	void (*start)(void *dev, struct virtq *vqs, unsigned nvq,
		      const struct virtio_notify *notify);
	/* QueueNotify for a started queue. */
	void (*queue_notify)(void *dev, unsigned q);
	/* Reset: stop touching the queues now, write nothing more into guest
	 * memory, call done(opaque) once nothing is in flight (maybe now). */
	void (*reset)(void *dev, void (*done)(void *opaque), void *opaque);
	/* Shutdown: take no new requests; in-flight ones complete and are
	 * published as usual; done(opaque) once nothing is in flight. */
	void (*quiesce)(void *dev, void (*done)(void *opaque), void *opaque);
	/* The driver took a queue away while the device ran (4.2.2.1: the
	 * device must not touch it again): take nothing more from any queue
	 * and write nothing more into guest memory, as reset() does, and call
	 * done(opaque) once nothing is in flight (maybe now); only a reset()
	 * follows. */
	void (*stop)(void *dev, void (*done)(void *opaque), void *opaque);
};

#endif
