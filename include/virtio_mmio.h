/* SPDX-License-Identifier: GPL-2.0-only */
/* The virtio-mmio transport, modern (Version 2) register layout (virtio 1.2
 * section 4.2.2): register file, device status machine, feature windows,
 * queue configuration, interrupt status and the device config window. */
#ifndef XVB_VIRTIO_MMIO_H
#define XVB_VIRTIO_MMIO_H

#include <stdint.h>

#include "guest_mem.h"
#include "virtio_dev.h"

#define VIRTIO_MMIO_WINDOW 0x200 /* libxl's VIRTIO_MMIO_DEV_SIZE */

struct virtio_mmio;

/* Calls from the transport to the layer above (the ioreq server). */
struct virtio_mmio_host {
	/* Inject the device's interrupt (InterruptStatus already set). Called
	 * from the device's I/O threads too, if it has any. */
	void (*raise_irq)(void *opaque);
	/* A write that returned VIRTIO_MMIO_DEFERRED is now done. */
	void (*complete_deferred)(void *opaque, unsigned vcpu);
	/* Optional (may be NULL): the device went live (DRIVER_OK accepted
	 * and the device started; status has VIRTIO_CONFIG_S_DRIVER_OK) or
	 * a reset finished (status 0). For the toolstack's view of the
	 * device (xenstore state), not for the data path. */
	void (*status_changed)(void *opaque, uint32_t status);
	void *opaque;
};

struct virtio_mmio *virtio_mmio_new(const struct virtio_device_ops *ops,
				    void *dev, struct guest_mem *gm,
				    const struct virtio_mmio_host *host);
/* t is another device of the guest other serves (same RAM): a queue's
 * rings over a queue of either is refused like an overlap within one. */
void virtio_mmio_join(struct virtio_mmio *t, struct virtio_mmio *other);
/* Leaves the guest's other devices alone (unjoined first). */
void virtio_mmio_free(struct virtio_mmio *t);

#define VIRTIO_MMIO_DEFERRED 1
#define VIRTIO_MMIO_NOTIFIED 2
/* A guest access at off (< VIRTIO_MMIO_WINDOW) of size 1, 2, 4 or 8.
 * Reads return the zero-extended value. Writes return 0;
 * VIRTIO_MMIO_DEFERRED when the access must be held (a reset waiting for
 * in-flight requests), complete_deferred(vcpu) releases it later; or
 * VIRTIO_MMIO_NOTIFIED for a queue notification, which is only recorded:
 * answer the access, then call virtio_mmio_process(). */
uint64_t virtio_mmio_read(struct virtio_mmio *t, uint32_t off, unsigned size);
int virtio_mmio_write(struct virtio_mmio *t, uint32_t off, unsigned size,
		      uint64_t val, unsigned vcpu);
/* Serve the queues notified since the last call. */
void virtio_mmio_process(struct virtio_mmio *t);
/* Shutdown (SIGTERM, guest going away): stop taking requests, let in-flight
 * ones complete and be published, then done(opaque). Later notifies are
 * ignored. */
void virtio_mmio_quiesce(struct virtio_mmio *t, void (*done)(void *opaque),
			 void *opaque);

#endif
