/* SPDX-License-Identifier: GPL-2.0-only */
/* The virtio-mmio register file against a scripted device: the Linux probe
 * sequence, feature negotiation, queue setup rules, interrupts, deferred
 * reset, config space and hostile access patterns. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "fake_guest_mem.h"
#include "log.h"
#include "unit.h"
#include "virtio_mmio.h"

#define RAM_BASE 0x40000000ull
#define RAM_SIZE (1u << 20)
#define NUM_MAX	 64
#define CFG_SIZE 24

#define F(bit) (1ull << (bit))
#define OFFERED                                                                \
	(F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX) |                  \
	 F(VIRTIO_RING_F_INDIRECT_DESC) | F(9) /* FLUSH */ |                   \
	 F(6) /* BLK_SIZE */)

struct fake_dev {
	uint64_t features;
	bool accept;
	int set_features_calls;
	uint64_t set_features_arg;
	uint8_t cfg[CFG_SIZE];
	int cfg_writes;
	uint32_t cfg_wr_off, cfg_wr_len;
	uint8_t cfg_wr[8];
	int starts;
	struct virtq *vqs;
	unsigned nvq;
	const struct virtio_notify *notify;
	int notifies;
	unsigned last_notify;
	int resets;
	bool defer_reset;
	void (*reset_done)(void *opaque);
	void *reset_opaque;
	int quiesces;
	int stops;
	bool defer_stop;
	void (*stop_done)(void *opaque);
	void *stop_opaque;
	/* With mq_gated, queues once features are set: 1 unless bit 12 (as
	 * virtio-blk without MQ); before that, and after a reset, 2. */
	bool mq_gated, negotiated;
	uint64_t negotiated_features;
	uint32_t gen; /* the config generation */
};

struct fake_host {
	int irqs;
	int completions;
	unsigned completed[8];
};

static uint64_t dev_features(void *d)
{
	return ((struct fake_dev *)d)->features;
}

static bool dev_set_features(void *d, uint64_t f)
{
	struct fake_dev *fd = d;

	fd->set_features_calls++;
	fd->set_features_arg = f;
	if (fd->accept) {
		fd->negotiated = true;
		fd->negotiated_features = f;
	}
	return fd->accept;
}

static uint32_t dev_config_read(void *d, uint32_t off, void *buf, uint32_t len)
{
	struct fake_dev *fd = d;

	/* A sloppy device: junk past its config must still read as 0. */
	memset(buf, 0xee, len);
	if (off < CFG_SIZE)
		memcpy(buf, fd->cfg + off,
		       len < CFG_SIZE - off ? len : CFG_SIZE - off);
	return CFG_SIZE;
}

static void dev_config_write(void *d, uint32_t off, const void *buf,
			     uint32_t len)
{
	struct fake_dev *fd = d;

	fd->cfg_writes++;
	fd->cfg_wr_off = off;
	fd->cfg_wr_len = len;
	memcpy(fd->cfg_wr, buf, len <= 8 ? len : 8);
}

static void dev_start(void *d, struct virtq *vqs, unsigned nvq,
		      const struct virtio_notify *notify)
{
	struct fake_dev *fd = d;

	fd->starts++;
	fd->vqs = vqs;
	fd->nvq = nvq;
	fd->notify = notify;
}

static void dev_queue_notify(void *d, unsigned q)
{
	struct fake_dev *fd = d;

	fd->notifies++;
	fd->last_notify = q;
}

static void dev_reset(void *d, void (*done)(void *opaque), void *opaque)
{
	struct fake_dev *fd = d;

	fd->resets++;
	fd->negotiated = false;
	if (fd->defer_reset) {
		fd->reset_done = done;
		fd->reset_opaque = opaque;
		return;
	}
	done(opaque);
}

static void dev_quiesce(void *d, void (*done)(void *opaque), void *opaque)
{
	((struct fake_dev *)d)->quiesces++;
	done(opaque);
}

static void dev_stop(void *d, void (*done)(void *opaque), void *opaque)
{
	struct fake_dev *fd = d;

	fd->stops++;
	if (fd->defer_stop) {
		fd->stop_done = done;
		fd->stop_opaque = opaque;
		return;
	}
	done(opaque);
}

static unsigned dev_num_queues(void *d)
{
	const struct fake_dev *fd = d;

	return fd->mq_gated && fd->negotiated &&
		       !(fd->negotiated_features & F(12))
		   ? 1
		   : 2;
}

static uint32_t dev_config_generation(void *d)
{
	return ((struct fake_dev *)d)->gen;
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
    .config_generation = dev_config_generation,
    .start = dev_start,
    .queue_notify = dev_queue_notify,
    .reset = dev_reset,
    .quiesce = dev_quiesce,
    .stop = dev_stop,
};

static void host_raise(void *opaque)
{
	((struct fake_host *)opaque)->irqs++;
}

static void host_complete(void *opaque, unsigned vcpu)
{
	struct fake_host *h = opaque;

	if (h->completions < 8)
		h->completed[h->completions] = vcpu;
	h->completions++;
}

struct fixture {
	struct fake_dev dev;
	struct fake_host host;
	struct guest_mem *gm;
	struct virtio_mmio *t;
};

static void setup(struct fixture *f)
{
	struct virtio_mmio_host host = {
	    .raise_irq = host_raise,
	    .complete_deferred = host_complete,
	    .opaque = &f->host,
	};

	memset(f, 0, sizeof(*f));
	f->dev.features = OFFERED;
	f->dev.accept = true;
	for (unsigned i = 0; i < CFG_SIZE; i++)
		f->dev.cfg[i] = (uint8_t)(0xa0 + i);
	f->gm = fake_guest_mem_new(RAM_BASE, RAM_SIZE);
	CHECK(f->gm != NULL);
	f->t = virtio_mmio_new(&fake_ops, &f->dev, f->gm, &host);
	CHECK(f->t != NULL);
}

static void teardown(struct fixture *f)
{
	virtio_mmio_free(f->t);
	/* Every ring mapping was given back. */
	CHECK_EQ(fake_guest_mem_ranges(f->gm), 0);
	fake_guest_mem_free(f->gm);
}

static uint32_t rd(struct fixture *f, uint32_t off)
{
	return (uint32_t)virtio_mmio_read(f->t, off, 4);
}

/* As the ioreq server does it: a notification is served after the answer. */
static int wr(struct fixture *f, uint32_t off, uint32_t val)
{
	int rc = virtio_mmio_write(f->t, off, 4, val, 0);

	if (rc == VIRTIO_MMIO_NOTIFIED)
		virtio_mmio_process(f->t);
	return rc;
}

/* The driver side of §3.1.1 up to FEATURES_OK, as Linux 6.1 does it. */
static void negotiate(struct fixture *f, uint64_t want)
{
	CHECK_EQ(wr(f, VIRTIO_MMIO_STATUS, 0), 0);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(f, VIRTIO_MMIO_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(want >> 32));
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)want);
	wr(f, VIRTIO_MMIO_STATUS,
	   rd(f, VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_FEATURES_OK);
}

#define DESC(q)	 (RAM_BASE + 0x10000 * (q))
#define AVAIL(q) (DESC(q) + 0x4000)
#define USED(q)	 (DESC(q) + 0x8000)

static void setup_queue(struct fixture *f, unsigned q, uint32_t num)
{
	wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, num);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC(q));
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(DESC(q) >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)AVAIL(q));
	wr(f, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(AVAIL(q) >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)USED(q));
	wr(f, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(USED(q) >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
}

/* Negotiated, both queues live, DRIVER_OK. */
static void bring_up(struct fixture *f)
{
	int starts = f->dev.starts;

	negotiate(f, F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX));
	setup_queue(f, 0, NUM_MAX);
	setup_queue(f, 1, 16);
	wr(f, VIRTIO_MMIO_STATUS,
	   rd(f, VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(f->dev.starts, starts + 1);
}

static void test_linux_probe(void)
{
	struct fixture f;
	uint32_t st;

	setup(&f);
	/* e2e-testbed.md "Throwaway program log excerpt", step by step. */
	CHECK_EQ(rd(&f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_VERSION), 2);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_DEVICE_ID), 2);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_VENDOR_ID), 0x564e4558);
	CHECK_EQ(wr(&f, VIRTIO_MMIO_STATUS, 0), 0);
	CHECK_EQ(f.dev.resets, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0);
	wr(&f, VIRTIO_MMIO_STATUS, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 1);
	wr(&f, VIRTIO_MMIO_STATUS, 3);
	wr(&f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_DEVICE_FEATURES), 1);
	wr(&f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_DEVICE_FEATURES), (uint32_t)OFFERED);
	wr(&f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(&f, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(&f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(&f, VIRTIO_MMIO_DRIVER_FEATURES, F(VIRTIO_RING_F_INDIRECT_DESC));
	st = rd(&f, VIRTIO_MMIO_STATUS);
	CHECK_EQ(st, 3);
	wr(&f, VIRTIO_MMIO_STATUS, st | VIRTIO_CONFIG_S_FEATURES_OK);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0xb);
	CHECK_EQ(f.dev.set_features_calls, 1);
	CHECK_EQ(f.dev.set_features_arg,
		 F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_INDIRECT_DESC));

	for (unsigned q = 0; q < 2; q++) {
		wr(&f, VIRTIO_MMIO_QUEUE_SEL, q);
		CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
		CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_NUM_MAX), NUM_MAX);
		setup_queue(&f, q, NUM_MAX);
		CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 1);
	}
	/* A third queue does not exist (Linux: QueueNumMax 0 = -ENOENT). */
	wr(&f, VIRTIO_MMIO_QUEUE_SEL, 2);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
	wr(&f, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);

	CHECK_EQ(f.dev.starts, 0);
	wr(&f, VIRTIO_MMIO_STATUS, 0xf);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0xf);
	CHECK_EQ(f.dev.starts, 1);
	CHECK_EQ(f.dev.nvq, 2);
	CHECK(f.dev.vqs != NULL && f.dev.notify != NULL);
	if (f.dev.vqs) {
		CHECK_EQ(f.dev.vqs[0].num, NUM_MAX);
		CHECK_EQ(f.dev.vqs[0].desc_gpa, DESC(0));
		CHECK_EQ(f.dev.vqs[0].avail_gpa, AVAIL(0));
		CHECK_EQ(f.dev.vqs[1].used_gpa, USED(1));
		/* Negotiated INDIRECT_DESC but not EVENT_IDX. */
		CHECK(f.dev.vqs[0].indirect);
		CHECK(!f.dev.vqs[0].event_idx);
	}
	CHECK_EQ(f.host.irqs, 0);

	/* A request round trip: kick, the device publishes, the driver's
	 * interrupt handler reads and acknowledges InterruptStatus. */
	wr(&f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	CHECK_EQ(f.dev.notifies, 1);
	CHECK_EQ(f.dev.last_notify, 1);
	f.dev.notify->used(f.dev.notify->opaque);
	CHECK_EQ(f.host.irqs, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(&f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	teardown(&f);
}

static void test_misc_registers(void)
{
	struct fixture f;

	setup(&f);
	wr(&f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr(&f, VIRTIO_MMIO_SHM_SEL, 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_SHM_BASE_LOW), 0xffffffff);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_SHM_BASE_HIGH), 0xffffffff);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	/* Legacy registers: a Version 2 device reads them as 0. */
	wr(&f, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	wr(&f, VIRTIO_MMIO_QUEUE_PFN, 0x40000);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_PFN), 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_GUEST_PAGE_SIZE), 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_ALIGN), 0);
	/* Writes to read-only registers change nothing. */
	wr(&f, VIRTIO_MMIO_MAGIC_VALUE, 0);
	wr(&f, VIRTIO_MMIO_INTERRUPT_STATUS, 3);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	teardown(&f);
}

static void test_unsupported_features_hidden(void)
{
	struct fixture f;

	setup(&f);
	f.dev.features = OFFERED | F(VIRTIO_F_RING_PACKED) |
			 F(VIRTIO_F_RING_RESET) | F(VIRTIO_F_ACCESS_PLATFORM);
	wr(&f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CHECK_EQ(
	    rd(&f, VIRTIO_MMIO_DEVICE_FEATURES),
	    (uint32_t)((F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_ACCESS_PLATFORM)) >>
		       32));
	/* ...and accepting a hidden one is refused. */
	negotiate(&f, F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_PACKED));
	CHECK(!(rd(&f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK));
	CHECK_EQ(f.dev.set_features_calls, 0);
	teardown(&f);
}

static void test_feature_refusal(void)
{
	struct fixture f;
	uint32_t st;

	/* No VERSION_1: §3.1.1, refused by leaving FEATURES_OK clear. */
	setup(&f);
	negotiate(&f, F(VIRTIO_RING_F_EVENT_IDX));
	st = rd(&f, VIRTIO_MMIO_STATUS);
	CHECK_EQ(st, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	CHECK_EQ(f.dev.set_features_calls, 0);
	/* The driver gives up (FAILED); that is an added bit, accepted. */
	wr(&f, VIRTIO_MMIO_STATUS, st | VIRTIO_CONFIG_S_FAILED);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), st | VIRTIO_CONFIG_S_FAILED);
	teardown(&f);

	/* A bit the device never offered. */
	setup(&f);
	negotiate(&f, F(VIRTIO_F_VERSION_1) | F(5) /* RO */);
	CHECK(!(rd(&f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK));
	CHECK_EQ(f.dev.set_features_calls, 0);
	teardown(&f);

	/* The device itself says no. */
	setup(&f);
	f.dev.accept = false;
	negotiate(&f, F(VIRTIO_F_VERSION_1));
	CHECK(!(rd(&f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK));
	CHECK_EQ(f.dev.set_features_calls, 1);
	/* After a refusal the driver may not start the device either. */
	wr(&f, VIRTIO_MMIO_STATUS,
	   rd(&f, VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(f.dev.starts, 0);
	CHECK(rd(&f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	teardown(&f);

	/* Features written before DRIVER are ignored, so VERSION_1 is
	 * missing at FEATURES_OK. */
	setup(&f);
	wr(&f, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(&f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(&f, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(&f, VIRTIO_MMIO_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	       VIRTIO_CONFIG_S_FEATURES_OK);
	CHECK(!(rd(&f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK));
	teardown(&f);

	/* Features written after FEATURES_OK do not reach the queues. */
	setup(&f);
	negotiate(&f, F(VIRTIO_F_VERSION_1));
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0xb);
	wr(&f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(&f, VIRTIO_MMIO_DRIVER_FEATURES, F(VIRTIO_RING_F_EVENT_IDX));
	setup_queue(&f, 0, NUM_MAX);
	wr(&f, VIRTIO_MMIO_STATUS, 0xf);
	CHECK_EQ(f.dev.starts, 1);
	if (f.dev.vqs)
		CHECK(!f.dev.vqs[0].event_idx);
	teardown(&f);
}

static void test_status_rules(void)
{
	struct fixture f;

	/* DRIVER_OK without FEATURES_OK: NEEDS_RESET + config interrupt. */
	setup(&f);
	wr(&f, VIRTIO_MMIO_STATUS, 1);
	wr(&f, VIRTIO_MMIO_STATUS, 3);
	wr(&f, VIRTIO_MMIO_STATUS, 7);
	CHECK_EQ(f.dev.starts, 0);
	CHECK(rd(&f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(f.host.irqs, 1);
	/* Reset clears it all. */
	CHECK_EQ(wr(&f, VIRTIO_MMIO_STATUS, 0), 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	teardown(&f);

	/* Clearing a bit other than by reset is ignored. */
	setup(&f);
	negotiate(&f, F(VIRTIO_F_VERSION_1));
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0xb);
	wr(&f, VIRTIO_MMIO_STATUS, 3);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0xb);
	/* The driver cannot set or clear NEEDS_RESET itself. */
	wr(&f, VIRTIO_MMIO_STATUS, 0xb | VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0xb);
	teardown(&f);

	/* FEATURES_OK and DRIVER_OK in one write, as a terse driver may. */
	setup(&f);
	wr(&f, VIRTIO_MMIO_STATUS, 3);
	wr(&f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(&f, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	setup_queue(&f, 0, 8);
	wr(&f, VIRTIO_MMIO_STATUS, 0xf);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0xf);
	CHECK_EQ(f.dev.starts, 1);
	teardown(&f);
}

static void test_device_needs_reset(void)
{
	struct fixture f;

	setup(&f);
	bring_up(&f);
	f.dev.notify->needs_reset(f.dev.notify->opaque);
	CHECK(rd(&f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(f.host.irqs, 1);
	/* Kicks still reach the device: it stops the queue that broke and
	 * serves the others until the driver resets it. */
	wr(&f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(f.dev.notifies, 1);
	/* Both interrupt causes accumulate; ACK clears only what it names. */
	f.dev.notify->used(f.dev.notify->opaque);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS),
		 VIRTIO_MMIO_INT_CONFIG | VIRTIO_MMIO_INT_VRING);
	wr(&f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(&f, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	/* After the reset the old device callbacks are dead. */
	f.dev.notify->used(f.dev.notify->opaque);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	teardown(&f);
}

static void test_queue_rules(void)
{
	struct fixture f;

	/* Queue registers written while QueueReady=1 are ignored. */
	setup(&f);
	negotiate(&f, F(VIRTIO_F_VERSION_1));
	setup_queue(&f, 0, 32);
	wr(&f, VIRTIO_MMIO_QUEUE_NUM, 16);
	wr(&f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)RAM_BASE + 0x80000);
	wr(&f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 1);
	wr(&f, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0);
	wr(&f, VIRTIO_MMIO_QUEUE_USED_HIGH, 7);
	/* ...and stay ignored across a QueueReady off/on cycle. */
	wr(&f, VIRTIO_MMIO_QUEUE_READY, 0);
	wr(&f, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 1);
	wr(&f, VIRTIO_MMIO_STATUS, 0xf);
	CHECK_EQ(f.dev.starts, 1);
	if (f.dev.vqs) {
		CHECK_EQ(f.dev.vqs[0].num, 32);
		CHECK_EQ(f.dev.vqs[0].desc_gpa, DESC(0));
		CHECK_EQ(f.dev.vqs[0].avail_gpa, AVAIL(0));
		CHECK_EQ(f.dev.vqs[0].used_gpa, USED(0));
	}
	teardown(&f);

	/* QueueNum not a power of two, above QueueNumMax, or 0: the queue
	 * stays off and the device needs a reset. */
	const uint32_t bad[] = {48, NUM_MAX * 2, 0};
	for (unsigned i = 0; i < 3; i++) {
		setup(&f);
		negotiate(&f, F(VIRTIO_F_VERSION_1));
		setup_queue(&f, 0, bad[i]);
		CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
		CHECK(rd(&f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
		CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_CONFIG);
		CHECK_EQ(f.host.irqs, 1);
		teardown(&f);
	}

	/* Rings virtq_start refuses: misaligned, and outside guest RAM. */
	setup(&f);
	negotiate(&f, F(VIRTIO_F_VERSION_1));
	wr(&f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(&f, VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(&f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)RAM_BASE + 8);
	wr(&f, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)AVAIL(0));
	wr(&f, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)USED(0));
	wr(&f, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK(rd(&f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	teardown(&f);
	setup(&f);
	negotiate(&f, F(VIRTIO_F_VERSION_1));
	wr(&f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(&f, VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(&f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0xfffff000);
	wr(&f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0xffffffff);
	wr(&f, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)AVAIL(0));
	wr(&f, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)USED(0));
	wr(&f, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK(rd(&f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	teardown(&f);

	/* QueueReady=0 before DRIVER_OK stops the queue and reads back 0;
	 * the registers are writable again. */
	setup(&f);
	negotiate(&f, F(VIRTIO_F_VERSION_1));
	setup_queue(&f, 0, 32);
	wr(&f, VIRTIO_MMIO_QUEUE_READY, 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(&f, 0, 16);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 1);
	wr(&f, VIRTIO_MMIO_STATUS, 0xf);
	if (f.dev.vqs)
		CHECK_EQ(f.dev.vqs[0].num, 16);
	CHECK(!(rd(&f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET));
	teardown(&f);

	/* QueueReady=0 on a running queue: reads back 0, device flagged
	 * and told to stop touching the queues (4.2.2.1), once; the rings
	 * stay mapped until reset. */
	setup(&f);
	bring_up(&f);
	CHECK_EQ(f.dev.stops, 0);
	wr(&f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(&f, VIRTIO_MMIO_QUEUE_READY, 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK(rd(&f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK_EQ(f.dev.stops, 1);
	CHECK(f.dev.vqs && f.dev.vqs[0].started);
	/* The stopped device serves no queue: a kick on the other one, still
	 * ready, is not passed on. */
	wr(&f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	CHECK_EQ(f.dev.notifies, 0);
	wr(&f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(&f, VIRTIO_MMIO_QUEUE_NUM, 8);
	if (f.dev.vqs)
		CHECK_EQ(f.dev.vqs[0].num, NUM_MAX);
	wr(&f, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
	wr(&f, VIRTIO_MMIO_STATUS, 0);
	CHECK(f.dev.vqs && !f.dev.vqs[0].started);
	teardown(&f);

	/* Enabling a queue after DRIVER_OK is a driver error. */
	setup(&f);
	negotiate(&f, F(VIRTIO_F_VERSION_1));
	setup_queue(&f, 0, 8);
	wr(&f, VIRTIO_MMIO_STATUS, 0xf);
	setup_queue(&f, 1, 8);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK(rd(&f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	teardown(&f);
}

/* The queues that exist follow the features negotiated (virtio-blk has one
 * without MQ, §5.2.2); a driver that set its queues up before FEATURES_OK
 * gets the ring layout it then negotiated; two queues' rings may not
 * overlap where the device writes. */
static void test_queues_and_features(void)
{
	struct fixture f;

	setup(&f);
	f.dev.features = OFFERED | F(12);
	f.dev.mq_gated = true;
	wr(&f, VIRTIO_MMIO_QUEUE_SEL, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_NUM_MAX), NUM_MAX);
	negotiate(&f, F(VIRTIO_F_VERSION_1));
	wr(&f, VIRTIO_MMIO_QUEUE_SEL, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	setup_queue(&f, 0, 8);
	setup_queue(&f, 1, 8);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
	wr(&f, VIRTIO_MMIO_STATUS, 0xf);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0xf);
	wr(&f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	CHECK_EQ(f.dev.notifies, 0);
	wr(&f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_mmio_process(f.t);
	CHECK_EQ(f.dev.notifies, 1);
	CHECK(f.dev.vqs[0].started && !f.dev.vqs[1].started);

	/* With bit 12 both exist. */
	negotiate(&f, F(VIRTIO_F_VERSION_1) | F(12));
	wr(&f, VIRTIO_MMIO_QUEUE_SEL, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_NUM_MAX), NUM_MAX);
	setup_queue(&f, 0, 8);
	setup_queue(&f, 1, 8);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 1);
	teardown(&f);

	/* Queues set up before FEATURES_OK (FEATURES_OK and DRIVER_OK in
	 * one write): EVENT_IDX as negotiated; queue 1 dropped without
	 * bit 12. */
	setup(&f);
	f.dev.features = OFFERED | F(12);
	f.dev.mq_gated = true;
	wr(&f, VIRTIO_MMIO_STATUS, 3);
	wr(&f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(&f, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(&f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(&f, VIRTIO_MMIO_DRIVER_FEATURES,
	   F(VIRTIO_RING_F_EVENT_IDX) | F(VIRTIO_RING_F_INDIRECT_DESC));
	setup_queue(&f, 0, 8);
	setup_queue(&f, 1, 8);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 1);
	wr(&f, VIRTIO_MMIO_STATUS, 0xf);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0xf);
	CHECK(f.dev.vqs[0].started && f.dev.vqs[0].event_idx);
	CHECK(f.dev.vqs[0].indirect);
	CHECK(!f.dev.vqs[1].started);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
	teardown(&f);

	/* Queue 1's used ring over queue 0's avail ring, and the reverse:
	 * NEEDS_RESET. Sharing the driver's rings is allowed. */
	for (int k = 0; k < 3; k++) {
		uint64_t used1 = k == 0 ? AVAIL(0) : k == 1 ? USED(0) : USED(1);
		uint64_t avail1 = k == 2 ? AVAIL(0) : AVAIL(1);

		setup(&f);
		f.dev.features = OFFERED | F(12);
		f.dev.mq_gated = true;
		negotiate(&f, F(VIRTIO_F_VERSION_1) | F(12));
		setup_queue(&f, 0, 8);
		setup_queue(&f, 1, 8);
		wr(&f, VIRTIO_MMIO_QUEUE_READY, 0);
		wr(&f, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used1);
		wr(&f, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail1);
		wr(&f, VIRTIO_MMIO_QUEUE_READY, 1);
		if (k < 2) {
			CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
			CHECK(rd(&f, VIRTIO_MMIO_STATUS) &
			      VIRTIO_CONFIG_S_NEEDS_RESET);
		} else {
			CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 1);
			CHECK(!(rd(&f, VIRTIO_MMIO_STATUS) &
				VIRTIO_CONFIG_S_NEEDS_RESET));
		}
		teardown(&f);
	}
}

static void test_notify_rules(void)
{
	struct fixture f;

	setup(&f);
	negotiate(&f, F(VIRTIO_F_VERSION_1));
	setup_queue(&f, 0, 8);
	/* Before DRIVER_OK. */
	wr(&f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(f.dev.notifies, 0);
	wr(&f, VIRTIO_MMIO_STATUS, 0xf);
	/* Queue 1 exists but is not ready; 2 and ~0 do not exist. */
	wr(&f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	wr(&f, VIRTIO_MMIO_QUEUE_NOTIFY, 2);
	wr(&f, VIRTIO_MMIO_QUEUE_NOTIFY, 0xffffffff);
	CHECK_EQ(f.dev.notifies, 0);
	wr(&f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(f.dev.notifies, 1);
	CHECK_EQ(f.dev.last_notify, 0);
	/* Narrow notify writes are not 32-bit: ignored. */
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_QUEUE_NOTIFY, 2, 0, 0), 0);
	CHECK_EQ(f.dev.notifies, 1);

	/* The write only records the notification; the device is called
	 * once, however many notifications came before the processing. */
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0, 0),
		 VIRTIO_MMIO_NOTIFIED);
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0, 0),
		 VIRTIO_MMIO_NOTIFIED);
	CHECK_EQ(f.dev.notifies, 1);
	virtio_mmio_process(f.t);
	CHECK_EQ(f.dev.notifies, 2);
	virtio_mmio_process(f.t);
	CHECK_EQ(f.dev.notifies, 2);

	/* A notification recorded before a reset is dropped with it. */
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0, 0),
		 VIRTIO_MMIO_NOTIFIED);
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_STATUS, 4, 0, 0), 0);
	virtio_mmio_process(f.t);
	CHECK_EQ(f.dev.notifies, 2);

	teardown(&f);
}

static int quiesce_done;
static void on_quiesced(void *opaque)
{
	(void)opaque;
	quiesce_done++;
}

static void test_quiesce(void)
{
	struct fixture f;

	setup(&f);
	bring_up(&f);
	quiesce_done = 0;
	virtio_mmio_quiesce(f.t, on_quiesced, NULL);
	CHECK_EQ(f.dev.quiesces, 1);
	CHECK_EQ(quiesce_done, 1);
	wr(&f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(f.dev.notifies, 0);
	f.dev.notify->used(f.dev.notify->opaque);
	CHECK_EQ(f.host.irqs, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	/* A reset and a new DRIVER_OK do not restart a quiesced device. */
	wr(&f, VIRTIO_MMIO_STATUS, 0);
	negotiate(&f, F(VIRTIO_F_VERSION_1));
	setup_queue(&f, 0, 8);
	wr(&f, VIRTIO_MMIO_STATUS, 0xf);
	CHECK_EQ(f.dev.starts, 1);
	teardown(&f);
}

/* A device whose config changed (a resize) gets a configuration change
 * interrupt while the driver runs it, none before DRIVER_OK or after a
 * reset (the driver reads the config afresh then). */
static void test_config_changed(void)
{
	struct fixture f;
	const struct virtio_notify *n;

	setup(&f);
	bring_up(&f);
	n = f.dev.notify;
	n->config_changed(n->opaque);
	CHECK_EQ(f.host.irqs, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	wr(&f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	wr(&f, VIRTIO_MMIO_STATUS, 0);
	n->config_changed(n->opaque);
	CHECK_EQ(f.host.irqs, 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	teardown(&f);
}

/* A config change after the driver read the config and before DRIVER_OK
 * (the device cannot interrupt a driver that has not started) is
 * announced at DRIVER_OK (§4.2.2.1), once: Linux read a capacity that is
 * stale by then. Not when the driver read the config after the change,
 * nor when it never read it. */
static void test_config_change_before_driver_ok(void)
{
	struct fixture f;

	for (int round = 0; round < 3; round++) {
		setup(&f);
		negotiate(&f, F(VIRTIO_F_VERSION_1));
		setup_queue(&f, 0, NUM_MAX);
		setup_queue(&f, 1, 16);
		if (round < 2) {
			CHECK_EQ(rd(&f, VIRTIO_MMIO_CONFIG_GENERATION), 0);
			(void)rd(&f, VIRTIO_MMIO_CONFIG);
		}
		f.dev.gen++; /* resized */
		if (round == 1)
			CHECK_EQ(rd(&f, VIRTIO_MMIO_CONFIG_GENERATION), 1);
		wr(&f, VIRTIO_MMIO_STATUS,
		   rd(&f, VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
		CHECK_EQ(f.dev.starts, 1);
		CHECK_EQ(f.host.irqs, round == 0 ? 1 : 0);
		CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS),
			 round == 0 ? VIRTIO_MMIO_INT_CONFIG : 0);
		teardown(&f);
	}
	/* A reset keeps the generation read before it (Linux's restore from
	 * freeze starts the device again without reading the capacity); a
	 * generation read after the reset replaces it (a probe), a field read
	 * alone does not (the restore reads num_queues with MQ). */
	for (int round = 0; round < 3; round++) {
		setup(&f);
		CHECK_EQ(rd(&f, VIRTIO_MMIO_CONFIG_GENERATION), 0);
		(void)rd(&f, VIRTIO_MMIO_CONFIG);
		wr(&f, VIRTIO_MMIO_STATUS, 0);
		f.dev.gen++;
		if (round == 1)
			CHECK_EQ(rd(&f, VIRTIO_MMIO_CONFIG_GENERATION), 1);
		if (round >= 1)
			(void)rd(&f, VIRTIO_MMIO_CONFIG + 34);
		bring_up(&f);
		CHECK_EQ(f.host.irqs, round == 1 ? 0 : 1);
		teardown(&f);
	}
}

/* QueueReady=0 on a running queue is answered only once the device has
 * nothing in flight (§4.2.2.2: the driver reuses the memory once it reads
 * 0 back); every vCPU taking a queue away meanwhile waits the same. */
static void test_deferred_stop(void)
{
	struct fixture f;

	setup(&f);
	bring_up(&f);
	f.dev.defer_stop = true;
	wr(&f, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_QUEUE_READY, 4, 0, 3),
		 VIRTIO_MMIO_DEFERRED);
	CHECK_EQ(f.dev.stops, 1);
	CHECK(f.dev.stop_done != NULL);
	CHECK_EQ(f.host.completions, 0);
	CHECK(rd(&f, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* Until then the queue still reads ready to every vCPU, and writing
	 * 0 again waits as well. */
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 1);
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_QUEUE_READY, 4, 0, 4),
		 VIRTIO_MMIO_DEFERRED);
	wr(&f, VIRTIO_MMIO_QUEUE_SEL, 1);
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_QUEUE_READY, 4, 0, 5),
		 VIRTIO_MMIO_DEFERRED);
	CHECK_EQ(f.dev.stops, 1);
	CHECK_EQ(f.host.completions, 0);

	f.dev.stop_done(f.dev.stop_opaque);
	CHECK_EQ(f.host.completions, 3);
	CHECK_EQ(f.host.completed[0], 3);
	CHECK_EQ(f.host.completed[1], 4);
	CHECK_EQ(f.host.completed[2], 5);
	for (unsigned q = 0; q < 2; q++) {
		wr(&f, VIRTIO_MMIO_QUEUE_SEL, q);
		CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
	}
	/* A second done() is harmless; only a reset brings it back. */
	f.dev.stop_done(f.dev.stop_opaque);
	CHECK_EQ(f.host.completions, 3);
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_STATUS, 4, 0, 3), 0);

	/* A reset finishing first answers a held stop too: idle is idle. */
	bring_up(&f);
	wr(&f, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_QUEUE_READY, 4, 0, 6),
		 VIRTIO_MMIO_DEFERRED);
	f.dev.defer_reset = true;
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_STATUS, 4, 0, 7),
		 VIRTIO_MMIO_DEFERRED);
	f.dev.reset_done(f.dev.reset_opaque);
	CHECK_EQ(f.host.completions, 5);
	CHECK_EQ(f.host.completed[3], 6);
	CHECK_EQ(f.host.completed[4], 7);
	/* The first stop's done, come late, is not taken for the done of a
	 * stop begun after the reset: that one's write waits for its own. */
	f.dev.defer_reset = false;
	bring_up(&f);
	wr(&f, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_QUEUE_READY, 4, 0, 1),
		 VIRTIO_MMIO_DEFERRED);
	f.dev.stop_done(f.dev.stop_opaque);
	CHECK_EQ(f.host.completions, 5);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 1);
	f.dev.stop_done(f.dev.stop_opaque);
	CHECK_EQ(f.host.completions, 6);
	CHECK_EQ(f.host.completed[5], 1);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_STATUS, 4, 0, 3), 0);
	f.dev.defer_stop = false;
	bring_up(&f);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0xf);
	teardown(&f);
}

static void test_deferred_reset(void)
{
	struct fixture f;

	setup(&f);
	bring_up(&f);
	f.dev.notify->used(f.dev.notify->opaque);
	f.dev.defer_reset = true;
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_STATUS, 4, 0, 3),
		 VIRTIO_MMIO_DEFERRED);
	CHECK_EQ(f.dev.resets, 2);
	CHECK(f.dev.reset_done != NULL);
	CHECK_EQ(f.host.completions, 0);
	/* Until the device is done the old state stays visible and other
	 * writes are dropped. */
	CHECK(rd(&f, VIRTIO_MMIO_STATUS) != 0);
	wr(&f, VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(&f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(f.dev.notifies, 0);
	virtio_mmio_write(f.t, VIRTIO_MMIO_CONFIG, 1, 0x55, 1);
	CHECK_EQ(f.dev.cfg_writes, 0);
	/* Late completions from the device no longer interrupt. */
	f.dev.notify->used(f.dev.notify->opaque);
	CHECK_EQ(f.host.irqs, 1);
	/* A second vCPU resetting too waits for the same completion, and
	 * the device is asked only once. */
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_STATUS, 4, 0, 5),
		 VIRTIO_MMIO_DEFERRED);
	CHECK_EQ(f.dev.resets, 2);

	f.dev.reset_done(f.dev.reset_opaque);
	CHECK_EQ(f.host.completions, 2);
	CHECK_EQ(f.host.completed[0], 3);
	CHECK_EQ(f.host.completed[1], 5);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_SEL), 0);
	for (unsigned q = 0; q < 2; q++) {
		wr(&f, VIRTIO_MMIO_QUEUE_SEL, q);
		CHECK_EQ(rd(&f, VIRTIO_MMIO_QUEUE_READY), 0);
		CHECK(f.dev.vqs && !f.dev.vqs[q].started);
	}
	CHECK_EQ(fake_guest_mem_ranges(f.gm), 0);
	/* A second done() is harmless. */
	f.dev.reset_done(f.dev.reset_opaque);
	CHECK_EQ(f.host.completions, 2);

	/* The device comes up again from scratch. */
	f.dev.defer_reset = false;
	bring_up(&f);
	CHECK_EQ(f.dev.starts, 2);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0xf);
	teardown(&f);
}

static void test_config_space(void)
{
	struct fixture f;
	uint64_t v;

	setup(&f);
	/* cfg[i] = 0xa0 + i; little-endian assembly of the bytes. */
	CHECK_EQ(virtio_mmio_read(f.t, 0x100, 1), 0xa0);
	CHECK_EQ(virtio_mmio_read(f.t, 0x105, 1), 0xa5);
	CHECK_EQ(virtio_mmio_read(f.t, 0x101, 2), 0xa2a1);
	CHECK_EQ(virtio_mmio_read(f.t, 0x103, 4), 0xa6a5a4a3);
	CHECK_EQ(virtio_mmio_read(f.t, 0x100, 8), 0xa7a6a5a4a3a2a1a0ull);
	CHECK_EQ(virtio_mmio_read(f.t, 0x10f, 8), 0xb6b5b4b3b2b1b0afull);
	/* Straddling the end of the config: the missing bytes are 0. */
	CHECK_EQ(virtio_mmio_read(f.t, 0x100 + CFG_SIZE - 2, 4), 0xb7b6);
	CHECK_EQ(virtio_mmio_read(f.t, 0x100 + CFG_SIZE - 1, 8), 0xb7);
	/* Past it. */
	CHECK_EQ(virtio_mmio_read(f.t, 0x100 + CFG_SIZE, 1), 0);
	CHECK_EQ(virtio_mmio_read(f.t, 0x180, 4), 0);
	CHECK_EQ(virtio_mmio_read(f.t, 0x1f8, 8), 0);
	CHECK_EQ(virtio_mmio_read(f.t, 0x1ff, 1), 0);
	/* Linux reads a 64-bit field as two 32-bit halves. */
	v = virtio_mmio_read(f.t, 0x100, 4) | virtio_mmio_read(f.t, 0x104, 4)
						  << 32;
	CHECK_EQ(v, 0xa7a6a5a4a3a2a1a0ull);

	/* Writes reach the device with the right offset, length and bytes
	 * (the upper register bits Arm leaves in place are dropped). */
	virtio_mmio_write(f.t, 0x120, 1, 0xdeadbeef01ull, 0);
	CHECK_EQ(f.dev.cfg_writes, 1);
	CHECK_EQ(f.dev.cfg_wr_off, 0x20);
	CHECK_EQ(f.dev.cfg_wr_len, 1);
	CHECK_EQ(f.dev.cfg_wr[0], 0x01);
	virtio_mmio_write(f.t, 0x106, 2, 0xffff1234, 0);
	CHECK_EQ(f.dev.cfg_wr_off, 6);
	CHECK_EQ(f.dev.cfg_wr_len, 2);
	CHECK(f.dev.cfg_wr[0] == 0x34 && f.dev.cfg_wr[1] == 0x12);
	virtio_mmio_write(f.t, 0x108, 8, 0x0807060504030201ull, 0);
	CHECK_EQ(f.dev.cfg_wr_len, 8);
	CHECK(f.dev.cfg_wr[0] == 1 && f.dev.cfg_wr[7] == 8);
	CHECK_EQ(f.dev.cfg_writes, 3);
	/* Straddling the window end never reaches the device. */
	virtio_mmio_write(f.t, 0x1fc, 8, 0, 0);
	CHECK_EQ(f.dev.cfg_writes, 3);
	teardown(&f);
}

static void test_bad_control_access(void)
{
	struct fixture f;

	setup(&f);
	/* Narrow, wide and unaligned control register reads give 0. */
	CHECK_EQ(virtio_mmio_read(f.t, VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
	CHECK_EQ(virtio_mmio_read(f.t, VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
	CHECK_EQ(virtio_mmio_read(f.t, VIRTIO_MMIO_MAGIC_VALUE, 8), 0);
	CHECK_EQ(virtio_mmio_read(f.t, VIRTIO_MMIO_MAGIC_VALUE + 2, 4), 0);
	CHECK_EQ(virtio_mmio_read(f.t, VIRTIO_MMIO_VERSION + 1, 1), 0);
	/* Odd sizes the transport never expects. */
	CHECK_EQ(virtio_mmio_read(f.t, VIRTIO_MMIO_MAGIC_VALUE, 3), 0);
	CHECK_EQ(virtio_mmio_read(f.t, VIRTIO_MMIO_MAGIC_VALUE, 0), 0);
	CHECK_EQ(virtio_mmio_read(f.t, VIRTIO_MMIO_MAGIC_VALUE, 16), 0);

	/* The same for writes: nothing changes. */
	virtio_mmio_write(f.t, VIRTIO_MMIO_STATUS, 1, 1, 0);
	virtio_mmio_write(f.t, VIRTIO_MMIO_STATUS, 2, 1, 0);
	virtio_mmio_write(f.t, VIRTIO_MMIO_STATUS, 8, 1, 0);
	virtio_mmio_write(f.t, VIRTIO_MMIO_STATUS + 1, 4, 1, 0);
	virtio_mmio_write(f.t, VIRTIO_MMIO_STATUS, 3, 1, 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0);
	/* A narrow write of 0 to Status is not a reset. */
	wr(&f, VIRTIO_MMIO_STATUS, 1);
	CHECK_EQ(virtio_mmio_write(f.t, VIRTIO_MMIO_STATUS, 1, 0, 0), 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 1);
	CHECK_EQ(f.dev.resets, 0);
	/* Arm hands over the whole 64-bit register: the high half of a
	 * 32-bit write is not part of the value. */
	wr(&f, VIRTIO_MMIO_STATUS, 3);
	virtio_mmio_write(f.t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4,
			  0xffffffff00000001ull, 0);
	virtio_mmio_write(f.t, VIRTIO_MMIO_DRIVER_FEATURES, 4,
			  0x1234567800000001ull, 0);
	wr(&f, VIRTIO_MMIO_STATUS, 0xb);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0xb);
	CHECK_EQ(f.dev.set_features_arg, F(VIRTIO_F_VERSION_1));
	teardown(&f);
}

/* Every offset and size in the window, and well past it: the caller
 * promises off < 0x200, but a wrong promise must not become a fault. */
static void test_every_offset(void)
{
	static const unsigned sizes[] = {0, 1, 2, 3, 4, 5, 8, 16};
	struct fixture f;
	uint64_t sum = 0;

	setup(&f);
	bring_up(&f);
	for (uint32_t off = 0; off < 0x400; off++)
		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			sum += virtio_mmio_read(f.t, off, sizes[i]);
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		sum += virtio_mmio_read(f.t, 0xffffffff, sizes[i]);
		sum += virtio_mmio_read(f.t, 0xfffffffc, sizes[i]);
		CHECK_EQ(virtio_mmio_write(f.t, 0xfffffffc, sizes[i], ~0ull, 0),
			 0);
		CHECK_EQ(virtio_mmio_write(f.t, 0x200, sizes[i], ~0ull, 0), 0);
	}
	/* Past the window everything reads 0. */
	for (uint32_t off = 0x200; off < 0x400; off++)
		CHECK_EQ(virtio_mmio_read(f.t, off, 4), 0);
	CHECK(sum != 0);
	CHECK_EQ(rd(&f, VIRTIO_MMIO_STATUS), 0xf);
	CHECK_EQ(f.dev.cfg_writes, 0);
	teardown(&f);
}

int main(void)
{
	/* Guest-error warnings are expected by the dozen here. */
	log_init("test_mmio", false, LOG_LVL_ERROR);
	UNIT_RUN(test_linux_probe);
	UNIT_RUN(test_misc_registers);
	UNIT_RUN(test_unsupported_features_hidden);
	UNIT_RUN(test_feature_refusal);
	UNIT_RUN(test_status_rules);
	UNIT_RUN(test_device_needs_reset);
	UNIT_RUN(test_queue_rules);
	UNIT_RUN(test_queues_and_features);
	UNIT_RUN(test_notify_rules);
	UNIT_RUN(test_quiesce);
	UNIT_RUN(test_config_changed);
	UNIT_RUN(test_config_change_before_driver_ok);
	UNIT_RUN(test_deferred_stop);
	UNIT_RUN(test_deferred_reset);
	UNIT_RUN(test_config_space);
	UNIT_RUN(test_bad_control_access);
	UNIT_RUN(test_every_offset);
	return UNIT_DONE();
}
