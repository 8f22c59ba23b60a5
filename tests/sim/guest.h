/* SPDX-License-Identifier: GPL-2.0-only */
/* A guest driver for the simulator that behaves like Linux 6.1's virtio_mmio
 * and virtio_blk: the same probe and feature negotiation, the same split-ring
 * layout and notification rules (EVENT_IDX, NO_NOTIFY, NO_INTERRUPT), one
 * descriptor chain per request (indirect when negotiated and the chain has
 * more than one descriptor), and an interrupt handler that reads
 * InterruptStatus, acknowledges it and scans every queue.
 *
 * Several vCPU threads may use one device at once; each passes its own vCPU
 * id (one MMIO access at a time per vCPU, as on real hardware). The ring
 * state is protected by one mutex per device, like the kernel's vq lock;
 * QueueNotify and the interrupt handler's register accesses happen outside
 * it. Rings and buffers live in the domain's guest RAM (sim_dom_ram) and
 * come from a small allocator that leaves the first MiB of RAM to raw
 * tests. */
#ifndef SIM_GUEST_H
#define SIM_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_hv.h"

#define GUEST_RESERVED_LOW	 (1ULL << 20) /* never allocated: for mem-write */
#define GUEST_MAX_QUEUES	 16
#define GUEST_DEFAULT_TIMEOUT_MS 20000

struct guest;
struct gdev;

/* The guest: RAM allocator and vCPU count, in domain dom (guest_new: the
 * hypervisor's default domain; NULL if it has none). */
struct guest *guest_new(struct sim_hv *hv, unsigned vcpus);
struct guest *guest_new_dom(struct sim_dom *dom, unsigned vcpus);
void guest_free(struct guest *g);
/* How long one register access may take (default
 * GUEST_DEFAULT_TIMEOUT_MS); longer means the vCPU would hang. */
void guest_set_timeout(struct guest *g, int timeout_ms);
unsigned guest_vcpus(const struct guest *g);
struct sim_hv *guest_hv(const struct guest *g);
struct sim_dom *guest_dom(const struct guest *g);

/* Guest RAM: allocate size bytes aligned to align (power of two), returns
 * the guest physical address or 0 when RAM is exhausted. A range never
 * spans two banks (sim_hv.h). By default the lowest free RAM that fits is
 * taken; with alloc_high, the lowest of the highest free extent that fits:
 * with RAM in bank 1 everything lies there until bank 1 is full. */
uint64_t guest_alloc(struct guest *g, uint64_t size, uint64_t align);
void guest_mfree(struct guest *g, uint64_t gpa, uint64_t size);
void guest_set_alloc_high(struct guest *g, bool on);
/* Host pointer to [gpa, gpa+len) or NULL if not all of it is guest RAM. */
void *guest_ptr(struct guest *g, uint64_t gpa, uint64_t len);

/* How a request's bytes are cut into descriptors. */
enum greq_layout {
	GREQ_LAYOUT_LINUX,  /* header | data segments | status */
	GREQ_LAYOUT_SPLIT,  /* header in two pieces, odd-sized data pieces */
	GREQ_LAYOUT_MERGED, /* header+data (OUT) or data+status (IN) merged */
};

/* One virtio-mmio block device at base (window 0x200) with its SPI. */
struct gdev *gdev_new(struct guest *g, uint64_t base, unsigned irq);
void gdev_free(struct gdev *d);

/* Register access from vCPU cpu, offset relative to the window. Returns
 * sim_dom_mmio's result (0, -ENODEV, -ETIMEDOUT, -EPIPE, -EPROTO...). */
int gdev_mmio_read(struct gdev *d, unsigned cpu, uint32_t off, unsigned size,
		   uint64_t *val);
int gdev_mmio_write(struct gdev *d, unsigned cpu, uint32_t off, unsigned size,
		    uint64_t val);
/* An x86 string access (sim_dom_mmio_rep): *data in, the answer out. */
int gdev_mmio_rep(struct gdev *d, unsigned cpu, uint32_t off, unsigned size,
		  uint32_t count, bool ptr, bool write, uint64_t *data);

/* Probe and initialise as Linux does (virtio_mmio_probe, virtio_dev_probe,
 * virtblk_probe). The driver accepts what Linux 6.1 accepts, intersected
 * with feature_mask. 0, or -errno with a one-line reason in err. */
int gdev_init(struct gdev *d, unsigned cpu, uint64_t feature_mask, char *err,
	      size_t errlen);
/* Write Status 0, as Linux's vm_reset() (the device may hold the write
 * while requests drain), and read it back once: -EBUSY unless 0, as the
 * reset must be complete once the write is answered. Requests still in
 * flight are aborted. */
int gdev_reset(struct gdev *d, unsigned cpu);
/* After gdev_reset() (Linux's virtblk_freeze(): a reset, then del_vqs):
 * set the device up again as virtio_device_restore() and virtblk_restore()
 * do, with the features negotiated at probe and new rings; the capacity
 * and the rest of the config space are not read again. 0, or -errno with
 * err. */
int gdev_restore(struct gdev *d, unsigned cpu, char *err, size_t errlen);
bool gdev_ready(const struct gdev *d);

/* What probe found and negotiated. */
struct gdev_info {
	uint64_t base;
	unsigned irq;
	uint32_t magic, version, device_id, vendor_id;
	uint64_t device_features, driver_features;
	unsigned nqueues, queue_num, queue_num_max;
	uint32_t generation;
	/* virtio_blk_config fields, host byte order */
	uint64_t capacity;
	uint32_t size_max, seg_max, blk_size;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint8_t physical_block_exp, alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t wce;
	uint16_t num_queues;
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	/* the driver's limits derived from the above, as virtblk_probe does */
	unsigned max_data_segs; /* data descriptors per request */
	uint32_t max_seg_bytes; /* bytes per data descriptor */
};
const struct gdev_info *gdev_info(const struct gdev *d);
bool gdev_has(const struct gdev *d, unsigned feature_bit);
/* Where queue qi's rings are in guest RAM: 0, or -ENOENT if the queue is
 * not set up. */
int gdev_queue_rings(const struct gdev *d, unsigned qi, uint64_t *desc,
		     uint64_t *avail, uint64_t *used);
/* Largest data length one read/write request may carry (segments times
 * segment size, capped at 1 MiB as a block layer would split it). */
uint32_t gdev_max_request_bytes(const struct gdev *d, enum greq_layout layout);
/* Feature bit name, or NULL. */
const char *gdev_feature_name(unsigned bit);

#define GREQ_ABORTED  (-2) /* the device was reset with the request queued */
#define GREQ_MAX_SEGS 1024 /* data descriptors per request, at most */

struct greq_priv;

/* One virtio-blk request. The caller fills the first block; the driver owns
 * the rest until done is true (read it only after gdev_wait said so). */
struct greq {
	uint32_t type; /* VIRTIO_BLK_T_* */
	uint32_t ioprio;
	uint64_t sector;
	uint8_t *buf;  /* OUT: source; IN/GET_ID: destination;
			* DISCARD/WRITE_ZEROES: the 16-byte ranges */
	uint32_t len;  /* data bytes */
	unsigned nseg; /* data descriptors wanted; 0 = one per 4 KiB */
	enum greq_layout layout;
	bool no_indirect;	 /* never use an indirect table */
	bool device_writes_data; /* override: data direction for odd types */
	bool dir_override;
	/* Results. */
	bool done;
	int status; /* VIRTIO_BLK_S_*, or GREQ_ABORTED */
	uint32_t used_len;
	/* Private to the driver. */
	unsigned q;
	uint16_t head;
	unsigned ndesc; /* ring descriptors used (1 if indirect) */
	bool indirect;
	struct greq_priv *priv;
};

/* Queue r on the queue of vCPU cpu and notify the device if it asks for it.
 * 0; -ENOSPC when the ring has no room (wait for completions and retry);
 * -ENOMEM when guest RAM is full; -EIO when the device is broken or needs a
 * reset; -EINVAL for a request the driver cannot express; or an MMIO error. */
int gdev_submit(struct gdev *d, unsigned cpu, struct greq *r);
/* Wait until `want` of the n requests are done (want = n: all), handling
 * interrupts from vCPU cpu meanwhile. 0, -ETIMEDOUT, -EPIPE (the daemon
 * died with requests outstanding), -EIO (device broken, see gdev_error). */
int gdev_wait(struct gdev *d, unsigned cpu, struct greq *const *reqs,
	      unsigned n, unsigned want, int timeout_ms);
/* Submit and wait for one request. */
int gdev_run(struct gdev *d, unsigned cpu, struct greq *r, int timeout_ms);
/* Queue r (a plain request the caller filled) with a deliberately malformed
 * chain of the given kind, bypassing the driver's own rules: loop, oob,
 * wrap, huge, nested, indirect-next, indirect-size, indirect-empty,
 * bad-next, no-status, write-before-read, short-header, or avail-jump (no
 * chain: the available index moves by more than the queue size; r never
 * completes). -EINVAL for an unknown kind, else as gdev_submit. */
int gdev_submit_hostile(struct gdev *d, unsigned cpu, struct greq *r,
			const char *kind);
/* Forget every request in flight (marked done, GREQ_ABORTED) without
 * touching the device: for a device that is gone. */
void gdev_abort(struct gdev *d);
/* While on, memory the driver gives up at a reset (rings, buffers of aborted
 * requests) stays allocated with a snapshot of its bytes; the check then
 * fails if the device wrote any of it afterwards, frees it, and turns the
 * quarantine off. */
void gdev_quarantine(struct gdev *d, bool on);
/* Hold the device's interrupt off (true) or let it in again (false), as
 * Linux's virtio_queue_rqs() adds a plugged batch with its queue's lock
 * taken and interrupts disabled: a vCPU queueing meanwhile takes no
 * interrupt on its way back from a submission (a vCPU waiting for
 * requests still does). For commands that need requests in flight when
 * something happens next. */
void gdev_hold_irq(struct gdev *d, bool hold);
int gdev_check_quarantine(struct gdev *d, char *err, size_t errlen);
/* Scan the used rings without an interrupt (e.g. after the daemon exited). */
void gdev_poll(struct gdev *d);
/* Handle a pending interrupt, if any, as the IRQ handler would. */
int gdev_handle_irq(struct gdev *d, unsigned cpu);

/* Why the device is unusable (broken ring, NEEDS_RESET...), or NULL. */
const char *gdev_error(const struct gdev *d);
bool gdev_needs_reset(const struct gdev *d);

/* Counters of the driver's view. */
struct gdev_stats {
	uint64_t requests, completed, errors, bytes_read, bytes_written;
	uint64_t notifies, kicks_suppressed, interrupts, spurious_interrupts;
	uint64_t config_interrupts, indirect_requests, resets;
	/* Per virtqueue: requests the device completed (not aborted). */
	uint64_t completed_on[GUEST_MAX_QUEUES];
};
void gdev_get_stats(struct gdev *d, struct gdev_stats *st);

/* Interrupt edges seen by the driver so far (raw tests wait past it). */
uint64_t gdev_irq_seen(struct gdev *d);
void gdev_set_irq_seen(struct gdev *d, uint64_t edges);

#endif
