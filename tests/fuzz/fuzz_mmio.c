/* SPDX-License-Identifier: GPL-2.0-only */
/* libFuzzer target: the virtio-mmio register file (src/virtio_mmio.c)
 * driven by a sequence of guest accesses from several vCPUs, with a scripted
 * device whose queue_notify really walks the rings (src/virtqueue.c) in
 * fake guest RAM that the input partly fills. The transport's promises to
 * the device and to the ioreq layer are checked after every access.
 *
 * Input: u16 n, then n bytes copied to guest RAM at RAM_BASE (at most
 * PREFILL_MAX), then 8-byte records { u8 op; u16 a; u8 b; u32 val }:
 * op & 7 selects the action (see enum rec), op >> 3 the vCPU (31 = vCPU
 * 200, beyond what the transport can hold). */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "fake_guest_mem.h"
#include "fuzz_input.h"
#include "log.h"
#include "virtio_mmio.h"

#define RAM_BASE    0x40000000ull
#define RAM_SIZE    (1u << 20)
#define PREFILL_MAX 0x4000u
#define NUM_MAX	    64
#define NQUEUES	    2
#define CFG_SIZE    24
#define MAX_VCPUS   128 /* what the transport can hold, as in Xen 4.17 */
#define MAX_HELD    256

#define F(bit) (1ull << (bit))
#define OFFERED                                                                \
	(F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX) |                  \
	 F(VIRTIO_RING_F_INDIRECT_DESC) | F(9) | F(6))
/* The device also claims a packed ring; the transport must hide it. */
#define CLAIMED	       (OFFERED | F(VIRTIO_F_RING_PACKED))
#define STATUS_ALLOWED 0xffu

enum rec {
	REC_READ,      /* any offset below 0x400, any size */
	REC_WRITE,     /* likewise */
	REC_REG,       /* a 32-bit write to a real register, value shaped */
	REC_DEVICE,    /* the device completes what it holds */
	REC_RAM,       /* the driver stores val at RAM_BASE + 4 * a */
	REC_DEV_ERROR, /* the device reports a driver error */
	REC_QUIESCE,   /* shutdown, if b is 0x51 */
	REC_READ_REG,  /* a 32-bit read of a real register */
};

struct held {
	unsigned q;
	uint16_t head;
	uint32_t len;
};

/* A reset or stop the device answers later: with I/O in flight, done()
 * comes when REC_DEVICE completes it. */
struct later {
	bool on;
	void (*done)(void *opaque);
	void *opaque;
};

struct fdev {
	struct virtio_mmio *t;
	struct guest_mem *gm;
	bool started, quiescing, hold;
	struct later reset, stop;
	struct virtq *vqs;
	unsigned nvq;
	struct virtio_notify notify;
	struct held held[MAX_HELD];
	unsigned nheld;
	uint64_t waiting[MAX_VCPUS / 64]; /* vCPUs holding a deferred write */
	unsigned irqs;
};

static struct fdev dev;
static struct virtq_chain chain;

static const uint32_t write_regs[] = {
    VIRTIO_MMIO_DEVICE_FEATURES_SEL,
    VIRTIO_MMIO_DRIVER_FEATURES,
    VIRTIO_MMIO_DRIVER_FEATURES_SEL,
    VIRTIO_MMIO_QUEUE_SEL,
    VIRTIO_MMIO_QUEUE_NUM,
    VIRTIO_MMIO_QUEUE_READY,
    VIRTIO_MMIO_QUEUE_NOTIFY,
    VIRTIO_MMIO_INTERRUPT_ACK,
    VIRTIO_MMIO_STATUS,
    VIRTIO_MMIO_QUEUE_DESC_LOW,
    VIRTIO_MMIO_QUEUE_DESC_HIGH,
    VIRTIO_MMIO_QUEUE_AVAIL_LOW,
    VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
    VIRTIO_MMIO_QUEUE_USED_LOW,
    VIRTIO_MMIO_QUEUE_USED_HIGH,
    VIRTIO_MMIO_SHM_SEL,
    VIRTIO_MMIO_GUEST_PAGE_SIZE,
    VIRTIO_MMIO_MAGIC_VALUE,
};

static const uint32_t read_regs[] = {
    VIRTIO_MMIO_MAGIC_VALUE,
    VIRTIO_MMIO_VERSION,
    VIRTIO_MMIO_DEVICE_ID,
    VIRTIO_MMIO_VENDOR_ID,
    VIRTIO_MMIO_DEVICE_FEATURES,
    VIRTIO_MMIO_QUEUE_NUM_MAX,
    VIRTIO_MMIO_QUEUE_READY,
    VIRTIO_MMIO_INTERRUPT_STATUS,
    VIRTIO_MMIO_STATUS,
    VIRTIO_MMIO_SHM_LEN_LOW,
    VIRTIO_MMIO_CONFIG_GENERATION,
    VIRTIO_MMIO_QUEUE_NUM,
    VIRTIO_MMIO_QUEUE_DESC_LOW,
    VIRTIO_MMIO_CONFIG,
};

static const unsigned sizes[8] = {1, 2, 4, 8, 4, 4, 3, 0};

/* ------------------------------------------------------------ the device */

static uint64_t dev_features(void *d)
{
	(void)d;
	return CLAIMED;
}

static bool dev_set_features(void *d, uint64_t f)
{
	(void)d;
	/* The transport filters: VERSION_1 present, nothing unoffered, and
	 * never a bit it cannot honour itself. */
	FUZZ_ASSERT(f & F(VIRTIO_F_VERSION_1));
	FUZZ_ASSERT(!(f & ~OFFERED));
	FUZZ_ASSERT(!dev.started && !dev.reset.on);
	/* Refuse one combination so that refusal is reachable too. */
	return (f & (F(9) | F(6))) != F(6);
}

static uint32_t dev_config_read(void *d, uint32_t off, void *buf, uint32_t len)
{
	static const uint8_t cfg[CFG_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8};

	(void)d;
	FUZZ_ASSERT(len >= 1 && len <= 8 && off < 0x100);
	/* A sloppy device: the bytes past its config are junk. */
	memset(buf, 0xee, len);
	if (off < CFG_SIZE)
		memcpy(buf, cfg + off,
		       len < CFG_SIZE - off ? len : CFG_SIZE - off);
	return CFG_SIZE;
}

static void dev_config_write(void *d, uint32_t off, const void *buf,
			     uint32_t len)
{
	(void)d;
	(void)buf;
	FUZZ_ASSERT(!dev.reset.on);
	FUZZ_ASSERT(len >= 1 && len <= 8 && off + len <= 0x100);
}

static void dev_start(void *d, struct virtq *vqs, unsigned nvq,
		      const struct virtio_notify *notify)
{
	(void)d;
	/* Once per reset, never while resetting or shutting down. */
	FUZZ_ASSERT(!dev.started && !dev.reset.on && !dev.quiescing);
	FUZZ_ASSERT(nvq == NQUEUES && vqs && notify && notify->used &&
		    notify->needs_reset);
	dev.started = true;
	dev.vqs = vqs;
	dev.nvq = nvq;
	dev.notify = *notify;
}

/* Publish what was pushed on q and interrupt if the driver wants it. */
static void flush(unsigned q)
{
	if (virtq_flush_used(&dev.vqs[q]))
		dev.notify.used(dev.notify.opaque);
}

static void dev_queue_notify(void *d, unsigned q)
{
	struct virtq *vq;
	int rc = 0;

	(void)d;
	FUZZ_ASSERT(dev.started && !dev.reset.on && !dev.quiescing);
	FUZZ_ASSERT(q < dev.nvq);
	vq = &dev.vqs[q];
	/* A queue the transport reports ready has its rings mapped. */
	FUZZ_ASSERT(vq->started);
	virtq_disable_notify(vq);
	for (unsigned round = 0; round < 4; round++) {
		unsigned n = 0;

		while ((rc = virtq_pop(vq, &chain)) == 1 || rc == -EINVAL) {
			uint32_t len =
			    rc == 1 ? (uint32_t)chain.writable_bytes : 0;

			FUZZ_ASSERT(++n <= 2u * VIRTQ_MAX_SIZE);
			if (dev.hold && dev.nheld < MAX_HELD)
				dev.held[dev.nheld++] = (struct held){
				    .q = q, .head = chain.head, .len = len};
			else
				virtq_push(vq, chain.head, len);
		}
		if (rc == -EIO) {
			dev.notify.needs_reset(dev.notify.opaque);
			break;
		}
		if (!virtq_enable_notify(vq))
			break;
	}
	FUZZ_ASSERT(rc == 0 || rc == -EIO || rc == 1 || rc == -EINVAL);
	flush(q);
}

/* Complete every held chain (the I/O finished). After a reset they are
 * dropped instead: the device no longer writes into guest memory. */
static void complete_held(void)
{
	bool touched[NQUEUES] = {false};

	for (unsigned i = 0; i < dev.nheld; i++) {
		struct held *h = &dev.held[i];

		if (!dev.started)
			continue;
		virtq_push(&dev.vqs[h->q], h->head, h->len);
		touched[h->q] = true;
	}
	dev.nheld = 0;
	for (unsigned q = 0; q < NQUEUES; q++)
		if (touched[q])
			flush(q);
}

/* done() now if nothing is held, else once REC_DEVICE completes it. */
static void answer(struct later *l, void (*done)(void *opaque), void *opaque)
{
	if (!dev.nheld) {
		done(opaque);
		return;
	}
	*l = (struct later){.on = true, .done = done, .opaque = opaque};
}

static void dev_reset(void *d, void (*done)(void *opaque), void *opaque)
{
	(void)d;
	FUZZ_ASSERT(!dev.reset.on);
	dev.started = false;
	answer(&dev.reset, done, opaque);
}

static void quiesced(void *opaque)
{
	(void)opaque;
}

static void dev_quiesce(void *d, void (*done)(void *opaque), void *opaque)
{
	(void)d;
	dev.quiescing = true;
	if (!dev.reset.on && !dev.stop.on)
		complete_held();
	done(opaque);
}

/* A queue taken away while running: from here on the device writes
 * nothing, as after a reset (held chains are dropped, when REC_DEVICE
 * says they completed; done() comes then). */
static void dev_stop(void *d, void (*done)(void *opaque), void *opaque)
{
	(void)d;
	FUZZ_ASSERT(dev.started && !dev.reset.on && !dev.stop.on);
	dev.started = false;
	answer(&dev.stop, done, opaque);
}

static unsigned dev_num_queues(void *d)
{
	(void)d;
	return NQUEUES;
}

static uint16_t dev_queue_num_max(void *d)
{
	(void)d;
	return NUM_MAX;
}

static const struct virtio_device_ops fake_ops = {
    .device_id = 2,
    .num_queues = dev_num_queues,
    .queue_num_max = dev_queue_num_max,
    .features = dev_features,
    .set_features = dev_set_features,
    .config_read = dev_config_read,
    .config_write = dev_config_write,
    .start = dev_start,
    .queue_notify = dev_queue_notify,
    .reset = dev_reset,
    .quiesce = dev_quiesce,
    .stop = dev_stop,
};

/* -------------------------------------------------------------- the host */

static bool vcpu_waiting(unsigned v)
{
	return v < MAX_VCPUS && (dev.waiting[v / 64] >> (v % 64) & 1);
}

static void host_raise(void *opaque)
{
	(void)opaque;
	dev.irqs++;
	/* The cause is visible before the interrupt arrives. */
	FUZZ_ASSERT(virtio_mmio_read(dev.t, VIRTIO_MMIO_INTERRUPT_STATUS, 4));
}

static void host_complete(void *opaque, unsigned vcpu)
{
	(void)opaque;
	/* Only a held access is released, and only once. */
	FUZZ_ASSERT(vcpu_waiting(vcpu));
	dev.waiting[vcpu / 64] &= ~(1ull << (vcpu % 64));
}

static void host_status(void *opaque, uint32_t status)
{
	(void)opaque;
	if (status == 0) {
		/* A reset finished: the device let go of everything. */
		FUZZ_ASSERT(!dev.started);
		FUZZ_ASSERT(fake_guest_mem_ranges(dev.gm) == 0);
		FUZZ_ASSERT(virtio_mmio_read(dev.t, VIRTIO_MMIO_STATUS, 4) ==
			    0);
	} else {
		/* The device went live. */
		FUZZ_ASSERT(status & VIRTIO_CONFIG_S_DRIVER_OK);
		FUZZ_ASSERT(dev.started);
	}
}

/* --------------------------------------------------------------- checks */

/* Everything a completed reset clears (virtio 1.2 §2.1, §4.2.2.1). */
static void check_reset_state(void)
{
	FUZZ_ASSERT(virtio_mmio_read(dev.t, VIRTIO_MMIO_STATUS, 4) == 0);
	FUZZ_ASSERT(virtio_mmio_read(dev.t, VIRTIO_MMIO_INTERRUPT_STATUS, 4) ==
		    0);
	FUZZ_ASSERT(fake_guest_mem_ranges(dev.gm) == 0);
	FUZZ_ASSERT(!dev.waiting[0] && !dev.waiting[1]);
}

/* The held chains completed after a stop or reset: nothing is written for
 * them; whether l was waiting. */
static bool finish(struct later *l)
{
	if (!l->on)
		return false;
	dev.nheld = 0;
	l->on = false;
	l->done(l->opaque);
	return true;
}

/* A pending stop, then a pending reset, answered. */
static void finish_stop_reset(void)
{
	finish(&dev.stop);
	if (finish(&dev.reset))
		check_reset_state();
}

static void check_read(uint32_t off, unsigned size, uint64_t v)
{
	bool valid = size == 1 || size == 2 || size == 4 || size == 8;

	if (!valid || off >= VIRTIO_MMIO_WINDOW ||
	    size > VIRTIO_MMIO_WINDOW - off) {
		FUZZ_ASSERT(v == 0);
		return;
	}
	if (size < 8)
		FUZZ_ASSERT(v >> (8 * size) == 0);
	if (off >= VIRTIO_MMIO_CONFIG + CFG_SIZE)
		FUZZ_ASSERT(v == 0);
	if (off < VIRTIO_MMIO_CONFIG && (size != 4 || off % 4))
		FUZZ_ASSERT(v == 0);
	if (size != 4 || off >= VIRTIO_MMIO_CONFIG)
		return;
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		FUZZ_ASSERT(v == 0x74726976);
		break;
	case VIRTIO_MMIO_VERSION:
		FUZZ_ASSERT(v == 2);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		FUZZ_ASSERT(v <= 1);
		break;
	case VIRTIO_MMIO_STATUS:
		FUZZ_ASSERT(!(v & ~STATUS_ALLOWED));
		break;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		FUZZ_ASSERT(!(v & ~3ull));
		break;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		FUZZ_ASSERT(!(v & ~(uint64_t)(uint32_t)OFFERED) ||
			    v == (uint32_t)(OFFERED >> 32));
		break;
	}
}

static void do_write(uint32_t off, unsigned size, uint64_t val, unsigned vcpu)
{
	bool was_resetting = dev.reset.on;
	bool unready =
	    off == VIRTIO_MMIO_QUEUE_READY && size == 4 && !(uint32_t)val;
	bool was_ready =
	    unready && virtio_mmio_read(dev.t, VIRTIO_MMIO_QUEUE_READY, 4);
	int rc = virtio_mmio_write(dev.t, off, size, val, vcpu);
	bool reset = off == VIRTIO_MMIO_STATUS && size == 4 && !(uint32_t)val;

	FUZZ_ASSERT(rc == 0 || rc == VIRTIO_MMIO_DEFERRED ||
		    rc == VIRTIO_MMIO_NOTIFIED);
	if (rc == VIRTIO_MMIO_NOTIFIED) {
		/* Only a notification is served after its answer. */
		FUZZ_ASSERT(off == VIRTIO_MMIO_QUEUE_NOTIFY && size == 4);
		virtio_mmio_process(dev.t);
	} else if (rc == VIRTIO_MMIO_DEFERRED) {
		/* Only a reset or a queue taken away from a running device
		 * waits, while the device has I/O in flight, and only for a
		 * vCPU it can track. */
		FUZZ_ASSERT((reset || unready) && vcpu < MAX_VCPUS &&
			    (dev.reset.on || dev.stop.on));
		dev.waiting[vcpu / 64] |= 1ull << (vcpu % 64);
	} else if (reset && !was_resetting && !dev.reset.on) {
		/* A reset completed inside the write. */
		check_reset_state();
	} else if (was_ready && vcpu < MAX_VCPUS && !dev.reset.on &&
		   !dev.quiescing) {
		/* Answered (not dropped by a reset or shutdown in progress):
		 * the driver may reuse the queue's memory now (§4.2.2.2), so
		 * the device is done with it and says so. */
		FUZZ_ASSERT(!dev.stop.on);
		FUZZ_ASSERT(
		    !virtio_mmio_read(dev.t, VIRTIO_MMIO_QUEUE_READY, 4));
	}
	FUZZ_ASSERT(fake_guest_mem_ranges(dev.gm) <= 3 * NQUEUES);
}

/* A well-formed 32-bit register write whose value is mostly sensible. */
static uint32_t shape(uint32_t reg, uint8_t b, uint32_t val)
{
	if (b & 0x80)
		return val;
	switch (reg) {
	case VIRTIO_MMIO_QUEUE_SEL:
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		return val % (NQUEUES + 1);
	case VIRTIO_MMIO_QUEUE_NUM:
		return 1u << (val % 8);
	/* Aligned as §2.7 wants (16, 2, 4), so that most inputs get a
	 * working queue; b & 0x80 gives any value. */
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		return (uint32_t)RAM_BASE + (val % PREFILL_MAX & ~15u);
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		return (uint32_t)RAM_BASE + (val % PREFILL_MAX & ~1u);
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		return (uint32_t)RAM_BASE + (val % PREFILL_MAX & ~3u);
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return 0;
	case VIRTIO_MMIO_STATUS:
		return val & 0xff;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		return val & 1;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		return val & 3;
	default:
		return val;
	}
}

static void run_record(struct fuzz_in *in)
{
	uint8_t op = fuzz_u8(in), b;
	uint16_t a = fuzz_u16(in);
	uint32_t val, reg, off;
	unsigned vcpu = op >> 3 == 31 ? 200 : op >> 3;
	uint64_t v;

	b = fuzz_u8(in);
	val = fuzz_u32(in);
	/* A vCPU whose write is held is stopped in Xen: it issues nothing. */
	if (vcpu_waiting(vcpu))
		return;
	switch (op & 7) {
	case REC_READ:
		off = a % 0x400;
		v = virtio_mmio_read(dev.t, off, sizes[b & 7]);
		check_read(off, sizes[b & 7], v);
		break;
	case REC_WRITE:
		do_write(a % 0x400, sizes[b & 7], (uint64_t)val << 32 | val,
			 vcpu);
		break;
	case REC_REG:
		reg =
		    write_regs[a % (sizeof(write_regs) / sizeof(*write_regs))];
		do_write(reg, 4, shape(reg, b, val), vcpu);
		break;
	case REC_DEVICE:
		/* b bit 0: hold chains from now on (asynchronous I/O). */
		if (dev.reset.on || dev.stop.on) {
			finish_stop_reset();
			/* Nothing else holds a vCPU. */
			FUZZ_ASSERT(!dev.waiting[0] && !dev.waiting[1]);
		} else {
			complete_held();
		}
		dev.hold = b & 1;
		break;
	case REC_RAM:
		memcpy(fake_guest_mem_ptr(dev.gm) + 4u * a, &val, 4);
		break;
	case REC_DEV_ERROR:
		if (dev.started && !dev.reset.on)
			dev.notify.needs_reset(dev.notify.opaque);
		break;
	case REC_QUIESCE:
		if (b == 0x51 && !dev.quiescing)
			virtio_mmio_quiesce(dev.t, quiesced, NULL);
		break;
	case REC_READ_REG:
		reg = read_regs[a % (sizeof(read_regs) / sizeof(*read_regs))];
		check_read(reg, 4, virtio_mmio_read(dev.t, reg, 4));
		break;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_mmio", false, LOG_LVL_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_mmio_host host = {
	    .raise_irq = host_raise,
	    .complete_deferred = host_complete,
	    .status_changed = host_status,
	};
	struct fuzz_in in;
	size_t n;

	fuzz_in_init(&in, data, size);
	memset(&dev, 0, sizeof(dev));
	dev.gm = fake_guest_mem_new(RAM_BASE, RAM_SIZE);
	n = fuzz_u16(&in);
	if (n > PREFILL_MAX)
		n = PREFILL_MAX;
	if (n > in.left)
		n = in.left;
	fuzz_bytes(&in, fake_guest_mem_ptr(dev.gm), n);
	dev.t = virtio_mmio_new(&fake_ops, &dev, dev.gm, &host);
	FUZZ_ASSERT(dev.t);

	while (in.left)
		run_record(&in);

	/* The I/O finishes; a pending stop or reset completes and releases
	 * every held vCPU. */
	finish_stop_reset();
	complete_held();
	FUZZ_ASSERT(!dev.waiting[0] && !dev.waiting[1]);
	virtio_mmio_free(dev.t);
	FUZZ_ASSERT(fake_guest_mem_ranges(dev.gm) == 0);
	fake_guest_mem_free(dev.gm);
	return 0;
}
