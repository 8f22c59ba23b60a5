/* SPDX-License-Identifier: GPL-2.0-only */
/* The modern virtio-mmio register file (virtio 1.2 §4.2.2) and the device
 * status machine (§2.1, §3.1). Every value written by the guest is
 * untrusted: it is checked here before it reaches the device or the
 * virtqueue layer, and a driver error ends in DEVICE_NEEDS_RESET, never in a
 * host-side fault. */
#include "virtio_mmio.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "log.h"
#include "virtqueue.h"

#define MMIO_MAGIC   0x74726976u /* "virt" */
#define MMIO_VERSION 2u
/* Any value is allowed (§4.2.2); "XENV" in little-endian bytes names this
 * backend to a curious driver. */
#define MMIO_VENDOR 0x564e4558u

/* The deferred-reset vCPU set. Xen 4.17 has one ioreq page of 128 slots, so
 * no vCPU id can be larger (xen-ioreq-facts.md §1.2 step 3). */
#define MMIO_MAX_VCPUS 128

#define F(bit) (1ull << (bit))
/* Transport features this register file cannot honour: it has neither the
 * packed ring nor QueueReset nor notification data, so such bits are never
 * offered even if the device would. */
#define MMIO_UNSUPPORTED                                                       \
	(F(VIRTIO_F_RING_PACKED) | F(VIRTIO_F_RING_RESET) |                    \
	 F(38) /* VIRTIO_F_NOTIFICATION_DATA, absent from the 6.1 header */)

/* Status bits the driver owns; NEEDS_RESET is set only by the device. */
#define DRIVER_STATUS_BITS                                                     \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |                \
	 VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FEATURES_OK |             \
	 VIRTIO_CONFIG_S_FAILED)

/* Driver-visible queue registers. They are a shadow: the virtq itself is
 * only filled in at QueueReady=1, so nothing the driver writes later can
 * change a ring the device is walking. */
struct mmio_queue {
	uint32_t num;
	uint64_t desc, avail, used;
	bool ready;	/* QueueReady as the driver reads it */
	bool disabling; /* QueueReady=0 written, held until the device stops */
	bool live;	/* vq is started (rings mapped) */
	bool notified;	/* QueueNotify seen, virtio_mmio_process() due */
};

/* vCPUs whose register write is answered only once the device has let go
 * of guest memory (a reset, or a queue taken away while running). */
struct held {
	uint64_t vcpus[MMIO_MAX_VCPUS / 64];
};

struct virtio_mmio {
	const struct virtio_device_ops *ops;
	void *dev;
	struct guest_mem *gm;
	struct virtio_mmio_host host;
	struct virtio_notify notify;

	uint16_t num_max; /* QueueNumMax for existing queues */
	unsigned nq;
	struct virtq *vqs;
	struct mmio_queue *q;

	uint32_t status;
	uint32_t dev_feat_sel, drv_feat_sel;
	uint64_t driver_features;  /* as written by the driver */
	bool driver_features_high; /* a bit set in a bank past 1 */
	uint64_t negotiated;	   /* accepted at FEATURES_OK */
	uint32_t queue_sel, shm_sel;
	/* Atomic: a device with I/O threads (--io-threads) raises its used
	 * buffer interrupt from them (dev_used); all else is the loop's. */
	_Atomic uint32_t isr;

	_Atomic bool started;	/* ops->start() called since the last reset */
	bool stopped;		/* ops->stop() called since the last reset */
	bool quiescing;		/* shutdown: no new work, ever */
	_Atomic bool resetting; /* ops->reset() has not called done yet */
	bool in_reset_call;
	struct held reset_waiters;
	bool in_stop_call;
	/* ops->stop() calls whose done has not come yet: a QueueReady=0 waits
	 * while any is out (a reset answers it too, idle being idle; a late
	 * done of an earlier stop is not taken for a later one's). */
	unsigned stops_out;
	struct held stop_waiters;
	/* The configuration generation of the driver's last config access
	 * (config space or ConfigGeneration), if any, kept across resets: a
	 * change after it, before DRIVER_OK, is announced at DRIVER_OK. */
	uint32_t gen_seen;
	bool gen_seen_valid;
	/* The guest's other devices, a ring through this field (itself when
	 * alone): all share the guest's RAM. */
	struct virtio_mmio *peer;
};

static uint64_t offered_features(const struct virtio_mmio *t)
{
	return t->ops->features(t->dev) & ~MMIO_UNSUPPORTED;
}

static void raise_int(struct virtio_mmio *t, uint32_t bits)
{
	t->isr |= bits;
	t->host.raise_irq(t->host.opaque);
}

/* §2.1.2: the device sets DEVICE_NEEDS_RESET and sends a configuration
 * change notification. Raised once; the driver must reset to clear it. */
static void set_needs_reset(struct virtio_mmio *t)
{
	if (t->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	t->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	raise_int(t, VIRTIO_MMIO_INT_CONFIG);
}

/* ------------------------------------------------ callbacks from the device */

static void dev_used(void *opaque)
{
	struct virtio_mmio *t = opaque;

	/* After reset() the device must stay silent (§4.2.2.1: InterruptStatus
	 * is cleared by reset); a late call is dropped. */
	if (!t->started || t->resetting)
		return;
	raise_int(t, VIRTIO_MMIO_INT_VRING);
}

static void dev_config_changed(void *opaque)
{
	struct virtio_mmio *t = opaque;

	if (!t->started || t->resetting)
		return;
	raise_int(t, VIRTIO_MMIO_INT_CONFIG);
}

static void dev_needs_reset(void *opaque)
{
	struct virtio_mmio *t = opaque;

	if (!t->started || t->resetting)
		return;
	/* The device logged the driver's error: one line per fault. */
	set_needs_reset(t);
}

/* ---------------------------------------------------------------- reset */

static void queue_defaults(struct virtio_mmio *t, unsigned i)
{
	struct mmio_queue *q = &t->q[i];

	if (q->live)
		virtq_stop(&t->vqs[i]);
	/* QueueNum is write-only in MMIO; starting from the maximum lets a
	 * driver that never writes it still get a valid ring size. */
	*q = (struct mmio_queue){.num = t->num_max};
}

/* Everything a reset clears (§4.2.2.1: InterruptStatus and every
 * QueueReady; §2.1: status 0). Only called once the device has stopped
 * touching the queues, so unmapping the rings here is safe. */
static void clear_state(struct virtio_mmio *t)
{
	for (unsigned i = 0; i < t->nq; i++)
		queue_defaults(t, i);
	t->status = 0;
	t->dev_feat_sel = t->drv_feat_sel = 0;
	t->driver_features = t->negotiated = 0;
	t->driver_features_high = false;
	t->queue_sel = t->shm_sel = 0;
	t->isr = 0;
	t->started = false;
	t->stopped = false;
	/* gen_seen survives: Linux's restore from freeze resets and starts
	 * the device again without re-reading the capacity, so a resize
	 * meanwhile must still be announced at the next DRIVER_OK. */
}

/* Hold vcpu's write until release(): VIRTIO_MMIO_DEFERRED, or 0 for a vCPU
 * that cannot be tracked (answered at once rather than never). */
static int hold(struct held *h, unsigned vcpu, const char *what)
{
	if (vcpu >= MMIO_MAX_VCPUS) {
		log_guest_warn("virtio-mmio: %s from vCPU %u not held", what,
			       vcpu);
		return 0;
	}
	h->vcpus[vcpu / 64] |= 1ull << (vcpu % 64);
	return VIRTIO_MMIO_DEFERRED;
}

/* Answer every write held in h. */
static void release(struct virtio_mmio *t, struct held *h)
{
	struct held now = *h;

	memset(h, 0, sizeof(*h));
	for (unsigned v = 0; v < MMIO_MAX_VCPUS; v++)
		if (now.vcpus[v / 64] & (1ull << (v % 64)))
			t->host.complete_deferred(t->host.opaque, v);
}

static void reset_done(void *opaque)
{
	struct virtio_mmio *t = opaque;

	if (!t->resetting)
		return; /* a second done() from a confused device */
	clear_state(t);
	t->resetting = false;
	/* Idle after a stop too: a held QueueReady=0 (whose own done may
	 * come later, or never count once a new stop began) is answered. */
	release(t, &t->stop_waiters);
	if (t->host.status_changed)
		t->host.status_changed(t->host.opaque, 0);
	/* Completed inside ops->reset(): the write returns 0 to its caller,
	 * nobody else can be waiting yet. */
	if (t->in_reset_call)
		memset(&t->reset_waiters, 0, sizeof(t->reset_waiters));
	else
		release(t, &t->reset_waiters);
}

static int start_reset(struct virtio_mmio *t, unsigned vcpu)
{
	int held = hold(&t->reset_waiters, vcpu, "reset");

	if (t->resetting)
		return held;
	t->resetting = true;
	t->in_reset_call = true;
	t->ops->reset(t->dev, reset_done, t);
	t->in_reset_call = false;
	return t->resetting ? held : 0;
}

/* --------------------------------------------------------------- status */

/* The queues that exist now: after FEATURES_OK the device may have fewer
 * than it allocated (virtio-blk without MQ has one, §5.2.2); the others
 * read QueueNumMax 0 and ignore their registers, as absent ones do. */
static unsigned queues_now(const struct virtio_mmio *t)
{
	unsigned n = t->ops->num_queues(t->dev);

	return n < t->nq ? n : t->nq;
}

static void features_ok(struct virtio_mmio *t, uint32_t *val)
{
	uint64_t want = t->driver_features, offer = offered_features(t);

	/* §3.1.1 step 5-6: the device refuses by leaving FEATURES_OK clear. */
	if (!(want & F(VIRTIO_F_VERSION_1))) {
		log_guest_warn("virtio-mmio: driver did not accept VERSION_1 "
			       "(features %#llx), refused",
			       (unsigned long long)want);
		*val &= ~VIRTIO_CONFIG_S_FEATURES_OK;
		return;
	}
	if ((want & ~offer) || t->driver_features_high) {
		log_guest_warn(
		    "virtio-mmio: driver accepted unoffered features "
		    "%#llx%s, refused",
		    (unsigned long long)(want & ~offer),
		    t->driver_features_high ? " and bits past 63" : "");
		*val &= ~VIRTIO_CONFIG_S_FEATURES_OK;
		return;
	}
	if (!t->ops->set_features(t->dev, want)) {
		log_guest_warn("virtio-mmio: device refused features %#llx",
			       (unsigned long long)want);
		*val &= ~VIRTIO_CONFIG_S_FEATURES_OK;
		return;
	}
	t->negotiated = want;
	/* §3.1.1 has the driver set up its queues after FEATURES_OK; one
	 * that did so before (e.g. FEATURES_OK and DRIVER_OK in one write)
	 * gets the ring layout it negotiated, and loses a queue that does
	 * not exist under those features (virtio-blk without MQ). */
	for (unsigned i = 0; i < t->nq; i++) {
		if (!t->q[i].live)
			continue;
		if (i >= queues_now(t)) {
			log_guest_warn("virtio-mmio: queue %u set up, but the "
				       "features negotiated give %u",
				       i, queues_now(t));
			virtq_stop(&t->vqs[i]);
			t->q[i].ready = t->q[i].live = false;
			continue;
		}
		t->vqs[i].event_idx = (want & F(VIRTIO_RING_F_EVENT_IDX)) != 0;
		t->vqs[i].indirect =
		    (want & F(VIRTIO_RING_F_INDIRECT_DESC)) != 0;
	}
}

static uint32_t config_gen(const struct virtio_mmio *t)
{
	return t->ops->config_generation ? t->ops->config_generation(t->dev)
					 : 0;
}

static void driver_ok(struct virtio_mmio *t)
{
	if (!(t->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		/* §3.1.1: DRIVER_OK only after FEATURES_OK. */
		log_guest_warn("virtio-mmio: DRIVER_OK without FEATURES_OK");
		set_needs_reset(t);
		return;
	}
	if (t->status & VIRTIO_CONFIG_S_NEEDS_RESET) {
		log_guest_warn("virtio-mmio: DRIVER_OK while needing reset");
		return;
	}
	if (t->quiescing)
		return;
	t->started = true;
	t->ops->start(t->dev, t->vqs, t->nq, &t->notify);
	if (t->host.status_changed)
		t->host.status_changed(t->host.opaque, t->status);
	/* A change (a resize) between the driver's reading of the config
	 * and now had no one to tell (config_changed is silent before
	 * DRIVER_OK): §4.2.2.1 wants the event presented from the moment it
	 * takes place, and Linux handles it once probed. */
	if (t->gen_seen_valid && config_gen(t) != t->gen_seen)
		raise_int(t, VIRTIO_MMIO_INT_CONFIG);
}

static int write_status(struct virtio_mmio *t, uint32_t val, unsigned vcpu)
{
	uint32_t old = t->status & DRIVER_STATUS_BITS;
	uint32_t added;

	if (val == 0)
		return start_reset(t, vcpu);
	val &= ~(uint32_t)VIRTIO_CONFIG_S_NEEDS_RESET;
	if (val & ~DRIVER_STATUS_BITS) {
		log_guest_warn("virtio-mmio: unknown status bits %#x ignored",
			       val & ~DRIVER_STATUS_BITS);
		val &= DRIVER_STATUS_BITS;
	}
	/* §2.1: the driver only ever adds bits; clearing needs a reset. */
	if (old & ~val) {
		log_guest_warn("virtio-mmio: status %#x -> %#x clears bits, "
			       "ignored",
			       old, val);
		return 0;
	}
	added = val & ~old;
	if (added & VIRTIO_CONFIG_S_FEATURES_OK)
		features_ok(t, &val);
	t->status = (t->status & VIRTIO_CONFIG_S_NEEDS_RESET) | val;
	if (added & VIRTIO_CONFIG_S_DRIVER_OK)
		driver_ok(t);
	return 0;
}

/* ---------------------------------------------------------------- queues */

static struct mmio_queue *sel_queue(struct virtio_mmio *t)
{
	return t->queue_sel < queues_now(t) ? &t->q[t->queue_sel] : NULL;
}

/* A queue register write is only legal while the queue is off (§4.2.2.2);
 * a queue still mapped by a started device also stays untouched. */
static struct mmio_queue *writable_queue(struct virtio_mmio *t)
{
	struct mmio_queue *q = sel_queue(t);

	if (!q) {
		log_guest_warn("virtio-mmio: queue %u does not exist",
			       t->queue_sel);
		return NULL;
	}
	if (q->ready || q->live) {
		log_guest_warn("virtio-mmio: queue %u register written while "
			       "ready, ignored",
			       t->queue_sel);
		return NULL;
	}
	return q;
}

static void set_lo(uint64_t *r, uint32_t v)
{
	*r = (*r & ~0xffffffffull) | v;
}

static void set_hi(uint64_t *r, uint32_t v)
{
	*r = (*r & 0xffffffffull) | (uint64_t)v << 32;
}

/* Every queue of every device of the guest sees the same RAM: one queue's
 * used ring (which we write) over another's rings would let our stores for
 * one move the other's indices, as within one queue. Whether queue i of t,
 * just started, overlaps any other live queue's rings. */
static bool rings_clash(struct virtio_mmio *t, unsigned i)
{
	struct virtio_mmio *o = t;

	do {
		for (unsigned j = 0; j < o->nq; j++) {
			if ((o == t && j == i) || !o->q[j].live ||
			    !virtq_rings_clash(&t->vqs[i], &o->vqs[j]))
				continue;
			log_guest_warn("virtio-mmio: queue %u rings overlap "
				       "queue %u's%s",
				       i, j, o == t ? "" : " of another disk");
			return true;
		}
		o = o->peer;
	} while (o != t);
	return false;
}

static void queue_ready_on(struct virtio_mmio *t, struct mmio_queue *q,
			   unsigned i)
{
	struct virtq *vq = &t->vqs[i];
	int rc;

	if (t->status & VIRTIO_CONFIG_S_DRIVER_OK) {
		/* The device got its queue set at DRIVER_OK; without
		 * VIRTIO_F_RING_RESET a queue cannot join later. */
		log_guest_warn("virtio-mmio: queue %u enabled after DRIVER_OK",
			       i);
		set_needs_reset(t);
		return;
	}
	if (q->num == 0 || q->num > t->num_max || (q->num & (q->num - 1))) {
		log_guest_warn("virtio-mmio: queue %u bad size %u (max %u)", i,
			       q->num, t->num_max);
		set_needs_reset(t);
		return;
	}
	memset(vq, 0, sizeof(*vq));
	vq->num = (uint16_t)q->num;
	vq->desc_gpa = q->desc;
	vq->avail_gpa = q->avail;
	vq->used_gpa = q->used;
	rc = virtq_start(vq, t->gm, t->negotiated & F(VIRTIO_RING_F_EVENT_IDX),
			 t->negotiated & F(VIRTIO_RING_F_INDIRECT_DESC));
	if (rc < 0) {
		log_guest_warn("virtio-mmio: queue %u rings rejected (%s): "
			       "desc %#llx avail %#llx used %#llx",
			       i, strerror(-rc), (unsigned long long)q->desc,
			       (unsigned long long)q->avail,
			       (unsigned long long)q->used);
		set_needs_reset(t);
		return;
	}
	if (rings_clash(t, i)) {
		virtq_stop(vq);
		set_needs_reset(t);
		return;
	}
	/* Where the guest put its rings: one line per queue and reset, for
	 * an operator (or a test) to see which of the guest's RAM banks the
	 * device works in. */
	log_debug("virtio-mmio: queue %u ready: %u entries, desc %#llx "
		  "avail %#llx used %#llx",
		  i, q->num, (unsigned long long)q->desc,
		  (unsigned long long)q->avail, (unsigned long long)q->used);
	q->ready = q->live = true;
}

/* The device has stopped: the queues taken away read QueueReady 0 from
 * now on (not before: another vCPU reading 0 could reuse the memory). */
static void stop_settled(struct virtio_mmio *t)
{
	for (unsigned i = 0; i < t->nq; i++) {
		if (t->q[i].disabling)
			t->q[i].ready = false;
		t->q[i].disabling = false;
	}
}

static void stop_done(void *opaque)
{
	struct virtio_mmio *t = opaque;

	if (t->stops_out)
		t->stops_out--;
	if (t->stops_out)
		return;
	stop_settled(t);
	if (t->in_stop_call)
		return; /* idle already: the write is answered at once */
	release(t, &t->stop_waiters);
}

static int write_queue_ready(struct virtio_mmio *t, uint32_t val, unsigned vcpu)
{
	struct mmio_queue *q = sel_queue(t);
	unsigned i = t->queue_sel;

	if (!q) {
		log_guest_warn("virtio-mmio: QueueReady for missing queue %u",
			       i);
		return 0;
	}
	if (val == 1) {
		if (q->ready)
			return 0;
		if (q->live) {
			log_guest_warn("virtio-mmio: queue %u re-enabled "
				       "before reset",
				       i);
			return 0;
		}
		queue_ready_on(t, q, i);
		return 0;
	}
	if (val != 0) {
		/* Only 1 and 0 mean anything (§4.2.2). Taken as 1 it could
		 * enable rings the driver is still writing; as 0 it would
		 * tear down a running queue. */
		log_guest_warn("virtio-mmio: QueueReady %#x ignored", val);
		return 0;
	}
	if (!q->ready)
		return 0;
	if (t->started) {
		/* The driver may reuse the queue's memory, buffers included,
		 * once it reads 0 back (§4.2.2.2): the device stops touching
		 * every queue now, even if it already needs a reset (another
		 * queue's ring broke and the rest still ran), and QueueReady
		 * reads 0 (the write is answered) once nothing is in flight
		 * any more, as for a reset. The rings stay mapped until
		 * reset. Flag the error. */
		if (!q->disabling)
			log_guest_warn("virtio-mmio: queue %u disabled while "
				       "running",
				       i);
		q->disabling = true;
		if (!t->stopped) {
			t->stopped = t->in_stop_call = true;
			t->stops_out++;
			t->ops->stop(t->dev, stop_done, t);
			t->in_stop_call = false;
		}
		set_needs_reset(t);
		if (!t->stops_out) {
			stop_settled(t);
			return 0;
		}
		return hold(&t->stop_waiters, vcpu, "stop");
	}
	q->ready = false;
	virtq_stop(&t->vqs[i]);
	q->live = false;
	return 0;
}

static bool queue_serviceable(const struct virtio_mmio *t, uint32_t i)
{
	return i < queues_now(t) && t->q[i].ready && t->started &&
	       (t->status & VIRTIO_CONFIG_S_DRIVER_OK);
}

static int write_queue_notify(struct virtio_mmio *t, uint32_t val)
{
	if (!queue_serviceable(t, val)) {
		log_guest_warn("virtio-mmio: notify for queue %u ignored "
			       "(missing, not ready or no DRIVER_OK)",
			       val);
		return 0;
	}
	/* Not dropped for DEVICE_NEEDS_RESET alone: the device stops the
	 * queue that broke and serves the others (as its polling and
	 * completions do) until the driver resets it. A device stopped by a
	 * QueueReady=0 has no queue left to serve. */
	if (t->quiescing || t->stopped)
		return 0;
	t->q[val].notified = true;
	return VIRTIO_MMIO_NOTIFIED;
}

static void write_driver_features(struct virtio_mmio *t, uint32_t val)
{
	/* §3.1.1: features are written after DRIVER and before FEATURES_OK;
	 * later changes would desynchronise device and driver. */
	if (!(t->status & VIRTIO_CONFIG_S_DRIVER) ||
	    (t->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		log_guest_warn("virtio-mmio: DriverFeatures write in status "
			       "%#x ignored",
			       t->status);
		return;
	}
	if (t->drv_feat_sel == 0)
		set_lo(&t->driver_features, val);
	else if (t->drv_feat_sel == 1)
		set_hi(&t->driver_features, val);
	else if (val) {
		/* Bits the device cannot have offered (it offers none past
		 * 63): accepting them fails FEATURES_OK (§3.1.1). */
		log_guest_warn("virtio-mmio: DriverFeatures bank %u: %#x "
			       "never offered",
			       t->drv_feat_sel, val);
		t->driver_features_high = true;
	}
}

/* ------------------------------------------------------- register file */

static uint32_t read_reg(struct virtio_mmio *t, uint32_t off)
{
	struct mmio_queue *q = sel_queue(t);
	uint64_t f;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->dev_feat_sel > 1)
			return 0;
		f = offered_features(t);
		return (uint32_t)(f >> (32 * t->dev_feat_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? t->num_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return t->isr;
	case VIRTIO_MMIO_STATUS:
		return t->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		/* Length and base ~0: no such region (§4.2.2; Linux's
		 * vm_get_shm_region reads the length). */
		return 0xffffffffu;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		t->gen_seen = config_gen(t);
		t->gen_seen_valid = true;
		return t->gen_seen;
	default:
		/* Write-only, legacy (GuestPageSize, QueueAlign, QueuePFN:
		 * this is a Version 2 device) and reserved offsets read 0. */
		return 0;
	}
}

static int write_reg(struct virtio_mmio *t, uint32_t off, uint32_t val,
		     unsigned vcpu)
{
	struct mmio_queue *q;

	if (t->resetting) {
		/* Another vCPU resetting as well joins the wait; anything else
		 * would race with the state being cleared. */
		if (off == VIRTIO_MMIO_STATUS && val == 0)
			return start_reset(t, vcpu);
		log_guest_warn("virtio-mmio: write %#x during reset ignored",
			       off);
		return 0;
	}
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->dev_feat_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		write_driver_features(t, val);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->drv_feat_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if ((q = writable_queue(t)))
			q->num = val;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		return write_queue_ready(t, val, vcpu);
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		return write_queue_notify(t, val);
	case VIRTIO_MMIO_INTERRUPT_ACK:
		t->isr &= ~val;
		break;
	case VIRTIO_MMIO_STATUS:
		return write_status(t, val, vcpu);
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		if ((q = writable_queue(t)))
			set_lo(&q->desc, val);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if ((q = writable_queue(t)))
			set_hi(&q->desc, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		if ((q = writable_queue(t)))
			set_lo(&q->avail, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if ((q = writable_queue(t)))
			set_hi(&q->avail, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		if ((q = writable_queue(t)))
			set_lo(&q->used, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if ((q = writable_queue(t)))
			set_hi(&q->used, val);
		break;
	case VIRTIO_MMIO_SHM_SEL:
		t->shm_sel = val;
		break;
	case VIRTIO_MMIO_GUEST_PAGE_SIZE:
	case VIRTIO_MMIO_QUEUE_ALIGN:
	case VIRTIO_MMIO_QUEUE_PFN:
		/* Legacy (Version 1) registers: a modern driver never writes
		 * them. */
		log_guest_warn("virtio-mmio: legacy register %#x ignored", off);
		break;
	default:
		log_guest_warn("virtio-mmio: write to read-only/reserved "
			       "register %#x ignored",
			       off);
		break;
	}
	return 0;
}

/* Config space: any size at any offset (Linux reads 8-byte fields as two
 * 32-bit halves, §4.2.2.2); bytes past the device's config read 0. */
static uint64_t read_config(struct virtio_mmio *t, uint32_t coff, unsigned size)
{
	uint8_t buf[8] = {0};
	uint64_t v = 0;
	uint32_t cfg_size;

	cfg_size = t->ops->config_read(t->dev, coff, buf, size);
	/* What the driver has seen is what it read under ConfigGeneration
	 * (Linux's loop for the 8-byte capacity, §2.5.1): a field read
	 * alone (num_queues, as Linux's restore from freeze reads) says
	 * nothing about the capacity. Failing any such read, its first
	 * config read. An interrupt too many costs the driver a re-read. */
	if (!t->gen_seen_valid) {
		t->gen_seen = config_gen(t);
		t->gen_seen_valid = true;
	}
	for (unsigned i = 0; i < size; i++)
		if (coff + i < cfg_size)
			v |= (uint64_t)buf[i] << (8 * i);
	return v;
}

static void write_config(struct virtio_mmio *t, uint32_t coff, unsigned size,
			 uint64_t val)
{
	uint8_t buf[8];

	if (t->resetting) {
		log_guest_warn("virtio-mmio: config write during reset "
			       "ignored");
		return;
	}
	for (unsigned i = 0; i < size; i++)
		buf[i] = (uint8_t)(val >> (8 * i));
	t->ops->config_write(t->dev, coff, buf, size);
}

static bool valid_size(unsigned size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

/* Control registers: §4.2.2.2 "only 32 bit wide and aligned". */
static bool control_access_ok(uint32_t off, unsigned size)
{
	return size == 4 && (off & 3) == 0;
}

uint64_t virtio_mmio_read(struct virtio_mmio *t, uint32_t off, unsigned size)
{
	if (!valid_size(size)) {
		log_guest_warn("virtio-mmio: read of size %u at %#x ignored",
			       size, off);
		return 0;
	}
	if (off >= VIRTIO_MMIO_WINDOW || size > VIRTIO_MMIO_WINDOW - off) {
		log_guest_warn("virtio-mmio: read at %#x size %u outside the "
			       "register window",
			       off, size);
		return 0;
	}
	if (off >= VIRTIO_MMIO_CONFIG)
		return read_config(t, off - VIRTIO_MMIO_CONFIG, size);
	if (!control_access_ok(off, size)) {
		log_guest_warn("virtio-mmio: %u-byte read at %#x not 32-bit "
			       "aligned, reads 0",
			       size, off);
		return 0;
	}
	return read_reg(t, off);
}

int virtio_mmio_write(struct virtio_mmio *t, uint32_t off, unsigned size,
		      uint64_t val, unsigned vcpu)
{
	if (!valid_size(size)) {
		log_guest_warn("virtio-mmio: write of size %u at %#x ignored",
			       size, off);
		return 0;
	}
	if (off >= VIRTIO_MMIO_WINDOW || size > VIRTIO_MMIO_WINDOW - off) {
		log_guest_warn("virtio-mmio: write at %#x size %u outside the "
			       "register window",
			       off, size);
		return 0;
	}
	/* Only the low `size` bytes are used below: Arm's whole-register
	 * value never leaks into a register or the config space. */
	if (off >= VIRTIO_MMIO_CONFIG) {
		write_config(t, off - VIRTIO_MMIO_CONFIG, size, val);
		return 0;
	}
	if (!control_access_ok(off, size)) {
		log_guest_warn("virtio-mmio: %u-byte write at %#x not 32-bit "
			       "aligned, ignored",
			       size, off);
		return 0;
	}
	return write_reg(t, off, (uint32_t)val, vcpu);
}

void virtio_mmio_process(struct virtio_mmio *t)
{
	for (unsigned i = 0; i < t->nq; i++) {
		if (!t->q[i].notified)
			continue;
		t->q[i].notified = false;
		/* Whatever happened since the write (nothing, in the ioreq
		 * server's order) is checked again. */
		if (queue_serviceable(t, i) && !t->quiescing && !t->stopped)
			t->ops->queue_notify(t->dev, i);
	}
}

void virtio_mmio_quiesce(struct virtio_mmio *t, void (*done)(void *opaque),
			 void *opaque)
{
	/* From now on notifies and DRIVER_OK are dropped; completions of
	 * requests already taken still raise interrupts as usual. */
	t->quiescing = true;
	t->ops->quiesce(t->dev, done, opaque);
}

struct virtio_mmio *virtio_mmio_new(const struct virtio_device_ops *ops,
				    void *dev, struct guest_mem *gm,
				    const struct virtio_mmio_host *host)
{
	struct virtio_mmio *t;

	if (!ops || !host || !host->raise_irq || !host->complete_deferred ||
	    !ops->num_queues || !ops->queue_num_max || !ops->features ||
	    !ops->set_features || !ops->config_read || !ops->config_write ||
	    !ops->start || !ops->queue_notify || !ops->reset || !ops->quiesce) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ops = ops;
	t->dev = dev;
	t->gm = gm;
	t->host = *host;
	t->notify = (struct virtio_notify){
	    .used = dev_used,
	    .needs_reset = dev_needs_reset,
	    .config_changed = dev_config_changed,
	    .opaque = t,
	};
	t->nq = ops->num_queues(dev);
	t->num_max = ops->queue_num_max(dev);
	if (t->num_max > VIRTQ_MAX_SIZE)
		t->num_max = VIRTQ_MAX_SIZE;
	/* One spare entry keeps calloc(0) out of the picture. */
	t->vqs = calloc(t->nq + 1, sizeof(*t->vqs));
	t->q = calloc(t->nq + 1, sizeof(*t->q));
	if (!t->vqs || !t->q) {
		free(t->vqs);
		free(t->q);
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	clear_state(t);
	t->peer = t;
	return t;
}

void virtio_mmio_join(struct virtio_mmio *t, struct virtio_mmio *other)
{
	t->peer = other->peer;
	other->peer = t;
}

void virtio_mmio_free(struct virtio_mmio *t)
{
	struct virtio_mmio *prev = t;

	if (!t)
		return;
	while (prev->peer != t)
		prev = prev->peer;
	prev->peer = t->peer;
	/* The caller has quiesced the device: nothing uses the rings. */
	for (unsigned i = 0; i < t->nq; i++)
		if (t->q[i].live)
			virtq_stop(&t->vqs[i]);
	free(t->vqs);
	free(t->q);
	free(t);
}
