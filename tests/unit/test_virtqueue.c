/* SPDX-License-Identifier: GPL-2.0-only */
/* Unit tests for src/virtqueue.c: the test plays the driver, writing rings
 * into fake guest RAM, and checks what the device side makes of them. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <linux/virtio_ring.h>

#include "fake_guest_mem.h"
#include "unit.h"
#include "virtqueue.h"

#define RAM_BASE  0x40000000ULL
#define RAM_SIZE  (4ULL << 20)
#define DESC_GPA  (RAM_BASE + 0x0000)
#define AVAIL_GPA (RAM_BASE + 0x4000)
#define USED_GPA  (RAM_BASE + 0x5000)
#define TABLE_GPA (RAM_BASE + 0x10000) /* indirect tables, 16 KiB apart */
#define DATA_GPA  (RAM_BASE + 0x100000)

#define F_NEXT	   VRING_DESC_F_NEXT
#define F_WRITE	   VRING_DESC_F_WRITE
#define F_INDIRECT VRING_DESC_F_INDIRECT

static struct guest_mem *gm;
static struct virtq vq;
static struct virtq_chain chain;
static uint16_t drv_avail_idx; /* the driver's copy of avail->idx */

static void *host(uint64_t gpa)
{
	return fake_guest_mem_ptr(gm) + (gpa - RAM_BASE);
}

static struct vring_avail *avail(void)
{
	return host(AVAIL_GPA);
}

static struct vring_used *used(void)
{
	return host(USED_GPA);
}

static void put_desc(uint64_t table_gpa, unsigned i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc *d = (struct vring_desc *)host(table_gpa) + i;

	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	put_desc(DESC_GPA, i, addr, len, flags, next);
}

static void make_avail(uint16_t head)
{
	avail()->ring[drv_avail_idx % vq.num] = htole16(head);
	drv_avail_idx++;
	avail()->idx = htole16(drv_avail_idx);
}

static uint16_t used_idx(void)
{
	return le16toh(used()->idx);
}

static void set_used_event(uint16_t v)
{
	avail()->ring[vq.num] = htole16(v);
}

static uint16_t get_avail_event(void)
{
	return le16toh(*(uint16_t *)&used()->ring[vq.num]);
}

static void setup_ring(unsigned num, bool event_idx, bool indirect)
{
	gm = fake_guest_mem_new(RAM_BASE, RAM_SIZE);
	memset(&vq, 0, sizeof(vq));
	drv_avail_idx = 0;
	vq.num = num;
	vq.desc_gpa = DESC_GPA;
	vq.avail_gpa = AVAIL_GPA;
	vq.used_gpa = USED_GPA;
	CHECK_EQ(virtq_start(&vq, gm, event_idx, indirect), 0);
	CHECK_EQ(fake_guest_mem_ranges(gm), 3);
}

static void teardown(void)
{
	virtq_stop(&vq);
	CHECK(!vq.started);
	CHECK_EQ(fake_guest_mem_ranges(gm), 0);
	CHECK_EQ(fake_guest_mem_pins(gm), 0);
	fake_guest_mem_free(gm);
	gm = NULL;
}

/* A well-formed chain on descriptors num-2, num-1 must pop after any
 * malformed one: the bad chain was consumed and nothing is stuck. */
static void check_good_chain_pops(void)
{
	uint16_t h = vq.num - 2;

	desc(h, DATA_GPA, 16, F_NEXT, h + 1);
	desc(h + 1, DATA_GPA + 16, 1, F_WRITE, 0);
	make_avail(h);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(chain.head, h);
	CHECK_EQ(chain.nseg, 2);
	CHECK_EQ(virtq_pop(&vq, &chain), 0);
}

/* Pop one chain expecting -EINVAL with the given head, then recover. */
static void check_malformed(uint16_t head)
{
	CHECK_EQ(virtq_pop(&vq, &chain), -EINVAL);
	CHECK_EQ(chain.head, head);
	CHECK_EQ(chain.nseg, 0);
	CHECK(!vq.broken);
	check_good_chain_pops();
}

static void test_simple_chain(void)
{
	setup_ring(16, false, false);
	CHECK_EQ(virtq_pop(&vq, &chain), 0);
	/* virtio-blk read: header, data, status on scattered slots. */
	desc(3, DATA_GPA, 16, F_NEXT, 7);
	desc(7, DATA_GPA + 0x1000, 512, F_NEXT | F_WRITE, 1);
	desc(1, DATA_GPA + 0x2000, 1, F_WRITE, 0);
	make_avail(3);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(chain.head, 3);
	CHECK_EQ(chain.nseg, 3);
	CHECK_EQ(chain.nreadable, 1);
	CHECK_EQ(chain.readable_bytes, 16);
	CHECK_EQ(chain.writable_bytes, 513);
	CHECK_EQ(chain.seg[0].gpa, DATA_GPA);
	CHECK_EQ(chain.seg[0].len, 16);
	CHECK(!chain.seg[0].device_writes);
	CHECK_EQ(chain.seg[1].gpa, DATA_GPA + 0x1000);
	CHECK_EQ(chain.seg[1].len, 512);
	CHECK(chain.seg[1].device_writes);
	CHECK_EQ(chain.seg[2].gpa, DATA_GPA + 0x2000);
	CHECK_EQ(chain.seg[2].len, 1);
	CHECK(chain.seg[2].device_writes);
	CHECK_EQ(virtq_pop(&vq, &chain), 0);
	teardown();
}

static void test_multi_segment(void)
{
	setup_ring(16, false, false);
	/* A write request; a zero-length descriptor is skipped, and data
	 * addresses are passed through unchecked (even outside RAM). */
	desc(0, DATA_GPA, 16, F_NEXT, 1);
	desc(1, DATA_GPA + 0x1000, 4096, F_NEXT, 2);
	desc(2, DATA_GPA + 0x3000, 0, F_NEXT, 3);
	desc(3, 0xdead00000000ULL, 8192, F_NEXT, 4);
	desc(4, DATA_GPA + 0x9000, 1, F_WRITE, 0);
	make_avail(0);
	/* Two chains available at once come out in ring order. */
	desc(5, DATA_GPA, 16, F_NEXT, 6);
	desc(6, DATA_GPA + 0x1000, 1, F_WRITE, 0);
	make_avail(5);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(chain.head, 0);
	CHECK_EQ(chain.nseg, 4);
	CHECK_EQ(chain.nreadable, 3);
	CHECK_EQ(chain.readable_bytes, 16 + 4096 + 8192);
	CHECK_EQ(chain.writable_bytes, 1);
	CHECK_EQ(chain.seg[2].gpa, 0xdead00000000ULL);
	CHECK_EQ(chain.seg[2].len, 8192);
	CHECK(!chain.seg[2].device_writes);
	CHECK(chain.seg[3].device_writes);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(chain.head, 5);
	CHECK_EQ(chain.nseg, 2);
	CHECK_EQ(virtq_pop(&vq, &chain), 0);
	teardown();
}

static void test_indirect(void)
{
	unsigned i;

	setup_ring(16, false, true);
	/* Table entries chained out of order: next indexes the table. The
	 * WRITE bit on the pointing descriptor is ignored (2.7.5.3.2). */
	put_desc(TABLE_GPA, 0, DATA_GPA, 16, F_NEXT, 2);
	put_desc(TABLE_GPA, 2, DATA_GPA + 0x1000, 4096, F_NEXT | F_WRITE, 1);
	put_desc(TABLE_GPA, 1, DATA_GPA + 0x3000, 1, F_WRITE, 0);
	desc(4, TABLE_GPA, 3 * 16, F_INDIRECT | F_WRITE, 0);
	make_avail(4);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(chain.head, 4);
	CHECK_EQ(chain.nseg, 3);
	CHECK_EQ(chain.nreadable, 1);
	CHECK_EQ(chain.seg[0].gpa, DATA_GPA);
	CHECK_EQ(chain.seg[1].gpa, DATA_GPA + 0x1000);
	CHECK_EQ(chain.seg[1].len, 4096);
	CHECK_EQ(chain.seg[2].gpa, DATA_GPA + 0x3000);
	CHECK_EQ(chain.readable_bytes, 16);
	CHECK_EQ(chain.writable_bytes, 4097);

	/* Direct descriptors followed by an indirect one (2.7.5.3.2). */
	put_desc(TABLE_GPA + 0x4000, 0, DATA_GPA + 0x5000, 512,
		 F_WRITE | F_NEXT, 1);
	put_desc(TABLE_GPA + 0x4000, 1, DATA_GPA + 0x6000, 1, F_WRITE, 0);
	desc(0, DATA_GPA, 16, F_NEXT, 1);
	desc(1, TABLE_GPA + 0x4000, 2 * 16, F_INDIRECT, 0);
	make_avail(0);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(chain.head, 0);
	CHECK_EQ(chain.nseg, 3);
	CHECK_EQ(chain.nreadable, 1);
	CHECK_EQ(chain.writable_bytes, 513);

	/* The largest table, VIRTQ_MAX_CHAIN entries, is accepted. */
	for (i = 0; i < VIRTQ_MAX_CHAIN; i++)
		put_desc(TABLE_GPA, i, DATA_GPA + i, 1,
			 i + 1 < VIRTQ_MAX_CHAIN ? F_NEXT : 0, i + 1);
	desc(2, TABLE_GPA, VIRTQ_MAX_CHAIN * 16, F_INDIRECT, 0);
	make_avail(2);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(chain.nseg, VIRTQ_MAX_CHAIN);
	CHECK_EQ(chain.readable_bytes, VIRTQ_MAX_CHAIN);
	CHECK_EQ(chain.seg[VIRTQ_MAX_CHAIN - 1].gpa,
		 DATA_GPA + VIRTQ_MAX_CHAIN - 1);
	teardown();
}

static void test_index_wrap(void)
{
	unsigned i;
	int ok_heads = 1, ok_used = 1;

	/* Both rings wrap at num and the free-running indices at 65536. */
	setup_ring(4, true, false);
	for (i = 0; i < 4; i++)
		desc(i, DATA_GPA + i, 1, 0, 0);
	for (i = 0; i < 70000; i++) {
		struct vring_used_elem *e;

		make_avail(i % 3);
		ok_heads &= virtq_pop(&vq, &chain) == 1 &&
			    chain.head == i % 3 &&
			    chain.seg[0].gpa == DATA_GPA + i % 3;
		virtq_push(&vq, chain.head, i);
		virtq_flush_used(&vq);
		e = (struct vring_used_elem *)&used()->ring[i % 4];
		ok_used &=
		    le32toh(e->len) == i && used_idx() == (uint16_t)(i + 1);
	}
	CHECK(ok_heads);
	CHECK(ok_used);
	CHECK_EQ(virtq_pop(&vq, &chain), 0);
	teardown();
}

static void test_used_ring(void)
{
	struct vring_used_elem *e;

	setup_ring(4, false, false);
	CHECK(!virtq_flush_used(&vq)); /* nothing pushed yet */
	virtq_push(&vq, 2, 513);
	CHECK_EQ(used_idx(), 0); /* not visible before the flush */
	CHECK(virtq_flush_used(&vq));
	CHECK_EQ(used_idx(), 1);
	e = (struct vring_used_elem *)&used()->ring[0];
	CHECK_EQ(le32toh(e->id), 2);
	CHECK_EQ(le32toh(e->len), 513);
	CHECK(!virtq_flush_used(&vq)); /* nothing new since */

	/* Four more: slots 1, 2, 3 then wrap to 0; one idx store. */
	virtq_push(&vq, 0, 10);
	virtq_push(&vq, 1, 11);
	virtq_push(&vq, 3, 13);
	virtq_push(&vq, 2, 12);
	CHECK_EQ(used_idx(), 1);
	CHECK(virtq_flush_used(&vq));
	CHECK_EQ(used_idx(), 5);
	e = (struct vring_used_elem *)&used()->ring[1];
	CHECK_EQ(le32toh(e->id), 0);
	CHECK_EQ(le32toh(e->len), 10);
	e = (struct vring_used_elem *)&used()->ring[3];
	CHECK_EQ(le32toh(e->id), 3);
	e = (struct vring_used_elem *)&used()->ring[0];
	CHECK_EQ(le32toh(e->id), 2);
	CHECK_EQ(le32toh(e->len), 12);
	/* The avail_event slot just past the ring is not clobbered. */
	CHECK_EQ(get_avail_event(), 0);
	teardown();
}

static void test_event_idx_interrupt(void)
{
	setup_ring(8, true, false);
	set_used_event(0);
	virtq_push(&vq, 0, 1);
	CHECK(virtq_flush_used(&vq)); /* idx 0 -> 1 crosses used_event 0 */
	virtq_push(&vq, 1, 1);
	CHECK(!virtq_flush_used(&vq)); /* 1 -> 2 does not */
	set_used_event(4);
	virtq_push(&vq, 2, 1);
	virtq_push(&vq, 3, 1);
	CHECK(!virtq_flush_used(&vq)); /* 2 -> 4: entry 4 not yet used */
	virtq_push(&vq, 4, 1);
	CHECK(virtq_flush_used(&vq)); /* 4 -> 5 */
	set_used_event(6);
	virtq_push(&vq, 5, 1);
	virtq_push(&vq, 6, 1);
	virtq_push(&vq, 7, 1);
	CHECK(virtq_flush_used(&vq)); /* batch 5 -> 8 passes 6 */
	CHECK_EQ(used_idx(), 8);
	/* With EVENT_IDX the NO_INTERRUPT flag is ignored (2.7.7.2). */
	avail()->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	set_used_event(8);
	virtq_push(&vq, 0, 1);
	CHECK(virtq_flush_used(&vq));
	teardown();
}

static void test_no_interrupt_flag(void)
{
	setup_ring(8, false, false);
	avail()->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	virtq_push(&vq, 0, 1);
	CHECK(!virtq_flush_used(&vq));
	CHECK_EQ(used_idx(), 1); /* published even without an interrupt */
	avail()->flags = 0;
	virtq_push(&vq, 1, 1);
	CHECK(virtq_flush_used(&vq));
	/* used_event is ignored without EVENT_IDX. */
	set_used_event(100);
	virtq_push(&vq, 2, 1);
	CHECK(virtq_flush_used(&vq));
	teardown();
}

static void test_enable_notify_race(void)
{
	/* Flags mode. */
	setup_ring(16, false, false);
	virtq_disable_notify(&vq);
	CHECK_EQ(le16toh(used()->flags), VRING_USED_F_NO_NOTIFY);
	CHECK(!virtq_enable_notify(&vq)); /* empty: nothing missed */
	CHECK_EQ(le16toh(used()->flags), 0);
	virtq_disable_notify(&vq);
	/* The driver adds a buffer while kicks are off. */
	desc(0, DATA_GPA, 16, 0, 0);
	make_avail(0);
	CHECK(virtq_enable_notify(&vq)); /* must be caught */
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK(!virtq_enable_notify(&vq));
	teardown();

	/* EVENT_IDX mode: avail_event names the next entry to consume. */
	setup_ring(16, true, false);
	desc(0, DATA_GPA, 16, 0, 0);
	make_avail(0);
	make_avail(0);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK(!virtq_enable_notify(&vq));
	CHECK_EQ(get_avail_event(), 2);
	virtq_disable_notify(&vq);
	CHECK_EQ(le16toh(used()->flags), 0); /* flags untouched (2.7.10) */
	make_avail(0);
	CHECK(virtq_enable_notify(&vq));
	CHECK_EQ(get_avail_event(), 2);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK(!virtq_enable_notify(&vq));
	CHECK_EQ(get_avail_event(), 3);
	teardown();
}

/* Notification slack: the driver is asked to notify at the (slack+1)-th
 * new buffer; up to slack buffers may wait, more must be popped at once. */
static void test_enable_notify_slack(void)
{
	setup_ring(16, true, false);
	desc(0, DATA_GPA, 16, 0, 0);
	make_avail(0);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK(!virtq_enable_notify_slack(&vq, 3));
	CHECK_EQ(get_avail_event(), 4); /* last_avail 1 + slack 3 */
	make_avail(0);
	make_avail(0);
	make_avail(0);
	/* Three waiting = the slack: the caller may leave them. */
	CHECK(!virtq_enable_notify_slack(&vq, 3));
	/* A fourth is past what the driver was told: pop now. */
	make_avail(0);
	CHECK(virtq_enable_notify_slack(&vq, 3));
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(virtq_pop(&vq, &chain), 1);
	/* Slack 0 is plain virtq_enable_notify(). */
	CHECK(!virtq_enable_notify_slack(&vq, 0));
	CHECK_EQ(get_avail_event(), 5);
	make_avail(0);
	CHECK(virtq_enable_notify_slack(&vq, 0));
	teardown();

	/* Flags mode cannot count: slack leaves notifications off, and any
	 * buffer already there must be popped. */
	setup_ring(16, false, false);
	CHECK(!virtq_enable_notify_slack(&vq, 2));
	CHECK_EQ(le16toh(used()->flags), VRING_USED_F_NO_NOTIFY);
	desc(0, DATA_GPA, 16, 0, 0);
	make_avail(0);
	CHECK(virtq_enable_notify_slack(&vq, 2));
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK(!virtq_enable_notify_slack(&vq, 0));
	CHECK_EQ(le16toh(used()->flags), 0);
	teardown();
}

static void test_direct_loop(void)
{
	setup_ring(16, false, false);
	desc(0, DATA_GPA, 16, F_NEXT, 1);
	desc(1, DATA_GPA, 16, F_NEXT, 0);
	make_avail(0);
	check_malformed(0);
	desc(5, DATA_GPA, 16, F_NEXT, 5); /* self loop */
	make_avail(5);
	check_malformed(5);
	teardown();
}

static void test_indirect_loop(void)
{
	setup_ring(16, false, true);
	put_desc(TABLE_GPA, 0, DATA_GPA, 16, F_NEXT, 1);
	put_desc(TABLE_GPA, 1, DATA_GPA, 16, F_NEXT, 2);
	put_desc(TABLE_GPA, 2, DATA_GPA, 16, F_NEXT, 1);
	desc(0, TABLE_GPA, 3 * 16, F_INDIRECT, 0);
	make_avail(0);
	check_malformed(0);
	teardown();
}

static void test_chain_too_long(void)
{
	unsigned i;

	/* num 4: a chain of 5 descriptors revisits one. */
	setup_ring(4, false, true);
	desc(0, DATA_GPA, 1, F_NEXT, 1);
	desc(1, DATA_GPA, 1, F_NEXT, 2);
	desc(2, DATA_GPA, 1, F_NEXT, 3);
	desc(3, DATA_GPA, 1, F_NEXT, 1);
	make_avail(0);
	check_malformed(0);
	teardown();

	/* One direct buffer plus a full table: VIRTQ_MAX_CHAIN + 1. */
	setup_ring(16, false, true);
	for (i = 0; i < VIRTQ_MAX_CHAIN; i++)
		put_desc(TABLE_GPA, i, DATA_GPA, 1,
			 i + 1 < VIRTQ_MAX_CHAIN ? F_NEXT : 0, i + 1);
	desc(0, DATA_GPA, 1, F_NEXT, 1);
	desc(1, TABLE_GPA, VIRTQ_MAX_CHAIN * 16, F_INDIRECT, 0);
	make_avail(0);
	check_malformed(0);
	/* ... and one entry fewer fits exactly. */
	desc(1, TABLE_GPA, (VIRTQ_MAX_CHAIN - 1) * 16, F_INDIRECT, 0);
	put_desc(TABLE_GPA, VIRTQ_MAX_CHAIN - 2, DATA_GPA, 1, 0, 0);
	make_avail(0);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(chain.nseg, VIRTQ_MAX_CHAIN);
	teardown();
}

static void test_head_out_of_range(void)
{
	setup_ring(16, false, false);
	make_avail(16);
	check_malformed(16);
	make_avail(0xffff);
	check_malformed(0xffff);
	teardown();
}

static void test_next_out_of_range(void)
{
	setup_ring(16, false, true);
	desc(0, DATA_GPA, 16, F_NEXT, 16);
	make_avail(0);
	check_malformed(0);
	/* Inside a table next is bounded by the table, not by num. */
	put_desc(TABLE_GPA, 0, DATA_GPA, 16, F_NEXT, 1);
	put_desc(TABLE_GPA, 1, DATA_GPA, 16, F_NEXT, 3);
	put_desc(TABLE_GPA, 2, DATA_GPA, 16, 0, 0);
	put_desc(TABLE_GPA, 3, DATA_GPA, 16, 0, 0);
	desc(1, TABLE_GPA, 3 * 16, F_INDIRECT, 0);
	make_avail(1);
	check_malformed(1);
	teardown();
}

static void test_nested_indirect(void)
{
	setup_ring(16, false, true);
	put_desc(TABLE_GPA + 0x4000, 0, DATA_GPA, 16, 0, 0);
	put_desc(TABLE_GPA, 0, DATA_GPA, 16, F_NEXT, 1);
	put_desc(TABLE_GPA, 1, TABLE_GPA + 0x4000, 16, F_INDIRECT, 0);
	desc(0, TABLE_GPA, 2 * 16, F_INDIRECT, 0);
	make_avail(0);
	check_malformed(0);
	teardown();
}

static void test_indirect_with_next(void)
{
	setup_ring(16, false, true);
	put_desc(TABLE_GPA, 0, DATA_GPA, 16, 0, 0);
	desc(0, TABLE_GPA, 16, F_INDIRECT | F_NEXT, 1);
	desc(1, DATA_GPA, 1, F_WRITE, 0);
	make_avail(0);
	check_malformed(0);
	teardown();
}

static void test_indirect_not_negotiated(void)
{
	setup_ring(16, false, false);
	put_desc(TABLE_GPA, 0, DATA_GPA, 16, 0, 0);
	desc(0, TABLE_GPA, 16, F_INDIRECT, 0);
	make_avail(0);
	check_malformed(0);
	teardown();
}

static void test_indirect_bad_len(void)
{
	static const uint32_t lens[] = {
	    0, 8, 24, 16 * 3 + 1, (VIRTQ_MAX_CHAIN + 1) * 16, 0xfffffff0u};
	unsigned i;

	setup_ring(16, false, true);
	for (i = 0; i < VIRTQ_MAX_CHAIN + 1; i++)
		put_desc(TABLE_GPA, i, DATA_GPA, 16, 0, 0);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		desc(0, TABLE_GPA, lens[i], F_INDIRECT, 0);
		make_avail(0);
		check_malformed(0);
	}
	teardown();
}

static void test_indirect_outside_ram(void)
{
	static const uint64_t addrs[] = {
	    RAM_BASE + RAM_SIZE - 16, /* straddles the end of RAM */
	    RAM_BASE + RAM_SIZE,      /* just past it */
	    RAM_BASE - 32,	      /* ends exactly at the start */
	    0x1000,		      /* below RAM */
	    UINT64_MAX - 15,	      /* addr + len wraps */
	};
	unsigned i;

	setup_ring(16, false, true);
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		desc(0, addrs[i], 32, F_INDIRECT, 0);
		make_avail(0);
		check_malformed(0);
	}
	teardown();
}

/* A table that cannot be mapped for now (-ENOMEM: every mapping in use)
 * is not the driver's fault: nothing is consumed and the same chain pops
 * once there is room. virtq_unpop() gives a popped chain back the same
 * way. */
static void test_indirect_no_room(void)
{
	setup_ring(16, false, true);
	put_desc(TABLE_GPA, 0, DATA_GPA, 16, F_NEXT, 1);
	put_desc(TABLE_GPA, 1, DATA_GPA + 0x1000, 1, F_WRITE, 0);
	desc(3, TABLE_GPA, 2 * 16, F_INDIRECT, 0);
	make_avail(3);
	fake_guest_mem_full(gm, TABLE_GPA, 1);
	CHECK_EQ(virtq_pop(&vq, &chain), -EAGAIN);
	CHECK_EQ(virtq_pop(&vq, &chain), -EAGAIN);
	CHECK_EQ(vq.last_avail, 0);
	CHECK(!vq.broken);
	fake_guest_mem_full(gm, UINT64_MAX, 0);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(chain.head, 3);
	CHECK_EQ(chain.nseg, 2);
	virtq_unpop(&vq);
	CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(chain.head, 3);
	CHECK_EQ(chain.writable_bytes, 1);
	CHECK_EQ(virtq_pop(&vq, &chain), 0);
	teardown();
}

static void test_writable_before_readable(void)
{
	setup_ring(16, false, true);
	desc(0, DATA_GPA, 16, F_WRITE | F_NEXT, 1);
	desc(1, DATA_GPA, 16, 0, 0);
	make_avail(0);
	check_malformed(0);
	/* Inside a table. */
	put_desc(TABLE_GPA, 0, DATA_GPA, 16, F_WRITE | F_NEXT, 1);
	put_desc(TABLE_GPA, 1, DATA_GPA, 16, 0, 0);
	desc(2, TABLE_GPA, 2 * 16, F_INDIRECT, 0);
	make_avail(2);
	check_malformed(2);
	/* Across a direct writable and a readable table entry. */
	put_desc(TABLE_GPA + 0x4000, 0, DATA_GPA, 16, 0, 0);
	desc(3, DATA_GPA, 16, F_WRITE | F_NEXT, 4);
	desc(4, TABLE_GPA + 0x4000, 16, F_INDIRECT, 0);
	make_avail(3);
	check_malformed(3);
	teardown();
}

static void test_avail_idx_jump(void)
{
	unsigned i;

	setup_ring(4, false, false);
	/* Exactly num outstanding is legal. */
	desc(0, DATA_GPA, 16, 0, 0);
	for (i = 0; i < 4; i++)
		make_avail(0);
	for (i = 0; i < 4; i++)
		CHECK_EQ(virtq_pop(&vq, &chain), 1);
	CHECK_EQ(virtq_pop(&vq, &chain), 0);
	/* num + 1 is not. */
	avail()->idx = htole16(4 + 5);
	CHECK_EQ(virtq_pop(&vq, &chain), -EIO);
	CHECK(vq.broken);
	/* Once broken, always broken until the next start. */
	avail()->idx = htole16(5);
	CHECK_EQ(virtq_pop(&vq, &chain), -EIO);
	CHECK(!virtq_enable_notify(&vq));
	teardown();

	/* A backwards jump is a jump of nearly 65536. */
	setup_ring(4, false, false);
	avail()->idx = htole16(0xffff);
	CHECK_EQ(virtq_pop(&vq, &chain), -EIO);
	/* A restart resets the ring state. */
	avail()->idx = 0;
	CHECK_EQ(virtq_start(&vq, gm, false, false), 0);
	CHECK(!vq.broken);
	CHECK_EQ(virtq_pop(&vq, &chain), 0);
	teardown();
}

/* virtq_start must fail with `err` and leave nothing mapped. */
static void check_start_fails(unsigned num, uint64_t d, uint64_t a, uint64_t u,
			      int err)
{
	vq.num = num;
	vq.desc_gpa = d;
	vq.avail_gpa = a;
	vq.used_gpa = u;
	CHECK_EQ(virtq_start(&vq, gm, true, true), err);
	CHECK(!vq.started);
	CHECK_EQ(fake_guest_mem_ranges(gm), 0);
	CHECK_EQ(virtq_pop(&vq, &chain), 0);
}

/* virtq_start must succeed, map three ranges, and unmap them on stop. */
static void check_start_ok(unsigned num, uint64_t d, uint64_t a, uint64_t u)
{
	vq.num = num;
	vq.desc_gpa = d;
	vq.avail_gpa = a;
	vq.used_gpa = u;
	CHECK_EQ(virtq_start(&vq, gm, true, true), 0);
	CHECK(vq.started);
	CHECK_EQ(fake_guest_mem_ranges(gm), 3);
	virtq_stop(&vq);
	CHECK_EQ(fake_guest_mem_ranges(gm), 0);
}

static void test_start_rejects(void)
{
	const uint64_t end = RAM_BASE + RAM_SIZE;

	gm = fake_guest_mem_new(RAM_BASE, RAM_SIZE);
	memset(&vq, 0, sizeof(vq));
	check_start_fails(0, DESC_GPA, AVAIL_GPA, USED_GPA, -EINVAL);
	check_start_fails(3, DESC_GPA, AVAIL_GPA, USED_GPA, -EINVAL);
	check_start_fails(48, DESC_GPA, AVAIL_GPA, USED_GPA, -EINVAL);
	check_start_fails(2 * VIRTQ_MAX_SIZE, DESC_GPA, AVAIL_GPA, USED_GPA,
			  -EINVAL);
	check_start_fails(16, DESC_GPA + 8, AVAIL_GPA, USED_GPA, -EINVAL);
	check_start_fails(16, DESC_GPA, AVAIL_GPA + 1, USED_GPA, -EINVAL);
	check_start_fails(16, DESC_GPA, AVAIL_GPA, USED_GPA + 2, -EINVAL);
	/* Each ring in turn outside RAM or straddling its end. */
	check_start_fails(16, end - 128, AVAIL_GPA, USED_GPA, -EFAULT);
	check_start_fails(16, 0x1000, AVAIL_GPA, USED_GPA, -EFAULT);
	check_start_fails(16, DESC_GPA, end - 32, USED_GPA, -EFAULT);
	check_start_fails(16, DESC_GPA, AVAIL_GPA, end - 132, -EFAULT);
	check_start_fails(16, DESC_GPA, AVAIL_GPA, UINT64_MAX - 3, -EFAULT);
	/* The used ring (the part we write) over the avail ring or the
	 * descriptor table: our stores would move the driver's indices. */
	check_start_fails(4, DESC_GPA, DESC_GPA + 0x102, DESC_GPA + 0x104,
			  -EINVAL);
	check_start_fails(16, DESC_GPA, AVAIL_GPA, AVAIL_GPA + 36, -EINVAL);
	check_start_fails(16, DESC_GPA, AVAIL_GPA, DESC_GPA + 16 * 15, -EINVAL);
	check_start_fails(16, DESC_GPA + 0x100, AVAIL_GPA, DESC_GPA + 0x100 - 4,
			  -EINVAL);

	/* Boundaries that must work: sizes 1 and the maximum, and each ring
	 * ending exactly at the end of RAM (sizes 16n, 6+2n, 6+8n; 2.7). */
	check_start_ok(1, DESC_GPA, AVAIL_GPA, USED_GPA);
	check_start_ok(VIRTQ_MAX_SIZE, DESC_GPA, RAM_BASE + 0x8000,
		       RAM_BASE + 0x9000);
	check_start_ok(16, end - 16 * 16, AVAIL_GPA, USED_GPA);
	check_start_ok(16, DESC_GPA, end - (6 + 2 * 16), USED_GPA);
	/* Adjacent but not overlapping: desc | avail | used back to back. */
	check_start_ok(16, DESC_GPA, DESC_GPA + 256, DESC_GPA + 256 + 40);
	fake_guest_mem_free(gm);
	/* 6 + 8n is never a multiple of 4: give RAM an odd end. */
	gm = fake_guest_mem_new(RAM_BASE, 0x8000 + 6 + 8 * 16);
	check_start_ok(16, DESC_GPA, AVAIL_GPA, RAM_BASE + 0x8000);
	check_start_fails(16, DESC_GPA, AVAIL_GPA, RAM_BASE + 0x8004, -EFAULT);
	fake_guest_mem_free(gm);
	gm = NULL;
}

int main(void)
{
	UNIT_RUN(test_simple_chain);
	UNIT_RUN(test_multi_segment);
	UNIT_RUN(test_indirect);
	UNIT_RUN(test_indirect_no_room);
	UNIT_RUN(test_index_wrap);
	UNIT_RUN(test_used_ring);
	UNIT_RUN(test_event_idx_interrupt);
	UNIT_RUN(test_no_interrupt_flag);
	UNIT_RUN(test_enable_notify_race);
	UNIT_RUN(test_enable_notify_slack);
	UNIT_RUN(test_direct_loop);
	UNIT_RUN(test_indirect_loop);
	UNIT_RUN(test_chain_too_long);
	UNIT_RUN(test_head_out_of_range);
	UNIT_RUN(test_next_out_of_range);
	UNIT_RUN(test_nested_indirect);
	UNIT_RUN(test_indirect_with_next);
	UNIT_RUN(test_indirect_not_negotiated);
	UNIT_RUN(test_indirect_bad_len);
	UNIT_RUN(test_indirect_outside_ram);
	UNIT_RUN(test_writable_before_readable);
	UNIT_RUN(test_avail_idx_jump);
	UNIT_RUN(test_start_rejects);
	return UNIT_DONE();
}
