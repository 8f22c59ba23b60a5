/* SPDX-License-Identifier: GPL-2.0-only */
/* libFuzzer target: the split-virtqueue walker (src/virtqueue.c) over guest
 * RAM whose every byte comes from the input: descriptor table, avail ring,
 * indirect tables, ring addresses, queue size and features. A short program
 * of device actions (pop, push, flush, notification control, restarts, and
 * driver-side index bumps) runs against it while the walker's contract is
 * checked after every step.
 *
 * Input: a 48-byte header, then the initial contents of guest RAM.
 *   0  u16 num: bit 15 set = raw value, else 1 << (num % 11)
 *   2  u8  flags: 1 EVENT_IDX, 2 INDIRECT_DESC, 4 raw 64-bit ring addresses
 *   3  u8  unused
 *   4  u64 desc, avail, used: raw, or RAM_BASE + v % (RAM_SIZE + 256)
 *   28 u8  ops[20]: low 3 bits the action, high 5 bits its argument */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "fake_guest_mem.h"
#include "fuzz_input.h"
#include "log.h"
#include "virtqueue.h"

#define RAM_BASE 0x40000000ull
#define RAM_SIZE 0x10000u
#define NOPS	 20

enum {
	OP_DRAIN,
	OP_POP,
	OP_PUSH,
	OP_ENABLE,
	OP_DISABLE,
	OP_KICK,
	OP_RESTART,
	OP_EVENT
};

struct pending {
	uint16_t head;
	uint32_t len;
};

struct state {
	struct guest_mem *gm;
	uint8_t *ram;
	struct virtq vq;
	bool event_idx, indirect;
	uint16_t num;
	uint64_t desc, avail, used;
	bool started, broken;
	uint16_t pushed;    /* used entries pushed since start */
	uint16_t signalled; /* pushed at the last flush */
	struct pending pend[4 * VIRTQ_MAX_SIZE];
	unsigned npend;
};

static struct virtq_chain chain;

/* Host pointer of [gpa, gpa + len) inside the fake RAM, or NULL. */
static uint8_t *ram_at(struct state *s, uint64_t gpa, uint64_t len)
{
	if (gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE ||
	    len > RAM_SIZE - (gpa - RAM_BASE))
		return NULL;
	return s->ram + (gpa - RAM_BASE);
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void wr16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

/* What virtq_start must decide, from virtio 1.2 §2.7 alone. */
static bool rings_acceptable(struct state *s)
{
	unsigned n = s->num;

	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return false;
	if (s->desc % 16 || s->avail % 2 || s->used % 4)
		return false;
	return ram_at(s, s->desc, 16ull * n) &&
	       ram_at(s, s->avail, 6 + 2ull * n) &&
	       ram_at(s, s->used, 6 + 8ull * n);
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool rings_overlap(struct state *s)
{
	uint64_t n = s->num;

	return overlap(s->used, 6 + 8 * n, s->desc, 16 * n) ||
	       overlap(s->used, 6 + 8 * n, s->avail, 6 + 2 * n) ||
	       overlap(s->desc, 16 * n, s->avail, 6 + 2 * n);
}

static void start(struct state *s)
{
	bool expect = rings_acceptable(s);
	int rc;

	s->vq.num = s->num;
	s->vq.desc_gpa = s->desc;
	s->vq.avail_gpa = s->avail;
	s->vq.used_gpa = s->used;
	rc = virtq_start(&s->vq, s->gm, s->event_idx, s->indirect);
	FUZZ_ASSERT(rc == 0 || rc == -EINVAL || rc == -EFAULT);
	/* Valid rings are accepted, invalid ones refused; rings that overlap
	 * may be refused too (the device writes the used ring). */
	FUZZ_ASSERT(rc != 0 || expect);
	FUZZ_ASSERT(rc == 0 || !expect || rings_overlap(s));
	FUZZ_ASSERT(s->vq.started == (rc == 0));
	FUZZ_ASSERT(fake_guest_mem_ranges(s->gm) == (rc == 0 ? 3u : 0u));
	s->started = rc == 0;
	s->broken = false;
	s->pushed = s->signalled = 0;
	s->npend = 0;
}

/* The chain's own bookkeeping (virtqueue.h struct virtq_chain). */
static void check_chain(const struct state *s, const struct virtq_chain *c)
{
	uint64_t rd = 0, wr = 0;

	FUZZ_ASSERT(c->head < s->num);
	FUZZ_ASSERT(c->nseg <= VIRTQ_MAX_CHAIN);
	FUZZ_ASSERT(c->nreadable <= c->nseg);
	for (unsigned i = 0; i < c->nseg; i++) {
		/* Readable segments first, then writable ones (2.7.4.2). */
		FUZZ_ASSERT(c->seg[i].device_writes == (i >= c->nreadable));
		if (c->seg[i].device_writes)
			wr += c->seg[i].len;
		else
			rd += c->seg[i].len;
	}
	FUZZ_ASSERT(rd == c->readable_bytes);
	FUZZ_ASSERT(wr == c->writable_bytes);
}

/* One virtq_pop with its contract checked; returns its result. */
static int pop(struct state *s)
{
	uint16_t before = s->vq.last_avail;
	int rc = virtq_pop(&s->vq, &chain);

	if (!s->started) {
		FUZZ_ASSERT(rc == 0);
		return rc;
	}
	/* Broken stays broken until the queue is started again. */
	if (s->broken)
		FUZZ_ASSERT(rc == -EIO);
	switch (rc) {
	case 1:
		check_chain(s, &chain);
		FUZZ_ASSERT(s->vq.last_avail == (uint16_t)(before + 1));
		break;
	case -EINVAL:
		/* A malformed chain is consumed all the same. */
		FUZZ_ASSERT(s->vq.last_avail == (uint16_t)(before + 1));
		break;
	case 0:
		FUZZ_ASSERT(s->vq.last_avail == before);
		break;
	case -EIO:
		FUZZ_ASSERT(s->vq.last_avail == before);
		FUZZ_ASSERT(s->vq.broken);
		s->broken = true;
		break;
	default:
		FUZZ_ASSERT(0);
	}
	if ((rc == 1 || rc == -EINVAL) &&
	    s->npend < sizeof(s->pend) / sizeof(s->pend[0])) {
		s->pend[s->npend].head = chain.head;
		s->pend[s->npend].len =
		    rc == 1 ? (uint32_t)chain.writable_bytes : 0;
		s->npend++;
	}
	return rc;
}

/* Pop until the ring is empty or broken. The guest cannot change RAM while
 * we pop here: the walker may finish the entries it already accepted, then
 * read avail->idx once more and take at most num new ones (2.7.13.3: never
 * more than num buffers outstanding); anything beyond means it lost track
 * of the index, and a device would loop. */
static int pop_all(struct state *s)
{
	unsigned n = 0;
	unsigned bound =
	    (uint16_t)(s->vq.avail_idx - s->vq.last_avail) + s->num;
	int rc;

	while ((rc = pop(s)) == 1 || rc == -EINVAL)
		FUZZ_ASSERT(++n <= bound);
	return rc;
}

static void check_enable(struct state *s)
{
	bool more = virtq_enable_notify(&s->vq);
	uint8_t *used = ram_at(s, s->used, 6 + 8ull * s->num);
	uint8_t *avail = ram_at(s, s->avail, 6 + 2ull * s->num);

	if (!s->started || s->broken) {
		FUZZ_ASSERT(!more);
		return;
	}
	if (s->event_idx)
		FUZZ_ASSERT(rd16(used + 4 + 8 * s->num) == s->vq.last_avail);
	else
		FUZZ_ASSERT(rd16(used) == 0);
	FUZZ_ASSERT(more == (rd16(avail + 2) != s->vq.last_avail));
}

static void check_disable(struct state *s)
{
	uint8_t *used = ram_at(s, s->used, 6 + 8ull * s->num);

	virtq_disable_notify(&s->vq);
	if (s->started && !s->event_idx)
		FUZZ_ASSERT(rd16(used) == VRING_USED_F_NO_NOTIFY);
}

/* Push `count` pending entries and flush; the used ring in RAM must then
 * show them, and the interrupt decision must follow 2.7.7.2 / 2.7.10. */
static void push_flush(struct state *s, unsigned count)
{
	uint8_t *used = ram_at(s, s->used, 6 + 8ull * s->num);
	uint8_t *avail = ram_at(s, s->avail, 6 + 2ull * s->num);
	uint16_t old = s->signalled;
	struct pending last = {0, 0};
	bool irq, want;

	if (count > s->npend)
		count = s->npend;
	for (unsigned i = 0; i < count; i++) {
		virtq_push(&s->vq, s->pend[i].head, s->pend[i].len);
		last = s->pend[i];
		if (s->started)
			s->pushed++;
	}
	memmove(s->pend, s->pend + count,
		(s->npend - count) * sizeof(s->pend[0]));
	s->npend -= count;
	irq = virtq_flush_used(&s->vq);
	if (!s->started) {
		FUZZ_ASSERT(!irq);
		return;
	}
	if (s->pushed == old) {
		FUZZ_ASSERT(!irq);
		return;
	}
	FUZZ_ASSERT(rd16(used + 2) == s->pushed);
	if (count) {
		/* 2.7.8: the last entry pushed sits at slot (idx - 1) % num. */
		unsigned slot = (uint16_t)(s->pushed - 1) & (s->num - 1);

		FUZZ_ASSERT(rd32(used + 4 + 8 * slot) == last.head);
		FUZZ_ASSERT(rd32(used + 8 + 8 * slot) == last.len);
	}
	if (s->event_idx)
		want = vring_need_event(rd16(avail + 4 + 2 * s->num), s->pushed,
					old);
	else
		want = !(rd16(avail) & VRING_AVAIL_F_NO_INTERRUPT);
	FUZZ_ASSERT(irq == want);
	s->signalled = s->pushed;
}

static void run_op(struct state *s, uint8_t op)
{
	unsigned arg = op >> 3;
	uint8_t *avail = ram_at(s, s->avail, 6 + 2ull * s->num);

	switch (op & 7) {
	case OP_DRAIN:
		/* A device's notify handler: suppress, drain, re-enable and
		 * look again (2.7.10), then publish everything. */
		check_disable(s);
		if (pop_all(s) == 0 && s->started) {
			/* Drained, and the driver did nothing since: the
			 * device's own stores (used->flags, avail_event) must
			 * not make buffers appear, or a device following
			 * 2.7.10 (pop again while this returns true) never
			 * leaves its notify handler. */
			FUZZ_ASSERT(!virtq_enable_notify(&s->vq));
		}
		push_flush(s, s->npend);
		break;
	case OP_POP:
		for (unsigned i = 0; i <= arg % 4; i++)
			pop(s);
		break;
	case OP_PUSH:
		push_flush(s, arg ? arg : s->npend);
		break;
	case OP_ENABLE:
		check_enable(s);
		break;
	case OP_DISABLE:
		check_disable(s);
		break;
	case OP_KICK:
		/* The driver makes arg more entries available (or, from 16
		 * on, moves the index backwards: a hostile driver). */
		if (avail)
			wr16(avail + 2, (uint16_t)(rd16(avail + 2) + arg -
						   (arg >= 16 ? 32 : 0)));
		break;
	case OP_RESTART:
		virtq_stop(&s->vq);
		FUZZ_ASSERT(!s->vq.started);
		FUZZ_ASSERT(fake_guest_mem_ranges(s->gm) == 0);
		/* arg bit 0 toggles EVENT_IDX, bit 1 INDIRECT_DESC. */
		s->event_idx ^= arg & 1;
		s->indirect ^= (arg >> 1) & 1;
		start(s);
		break;
	case OP_EVENT:
		if (avail) {
			wr16(avail, arg & 1 ? VRING_AVAIL_F_NO_INTERRUPT : 0);
			wr16(avail + 4 + 2 * s->num,
			     (uint16_t)(s->pushed + (arg >> 1) - 8));
		}
		break;
	}
}

static uint64_t ring_addr(uint64_t v, bool raw)
{
	return raw ? v : RAM_BASE + v % (RAM_SIZE + 256);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Guest-error warnings are the expected output here. */
	log_init("fuzz_virtqueue", false, LOG_LVL_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state st;
	struct state *s = &st;
	struct fuzz_in in;
	uint16_t num;
	uint8_t flags, ops[NOPS];

	fuzz_in_init(&in, data, size);
	num = fuzz_u16(&in);
	flags = fuzz_u8(&in);
	(void)fuzz_u8(&in);
	memset(s, 0, offsetof(struct state, pend));
	s->num = num & 0x8000 ? num & 0x7fff : 1u << (num % 11);
	s->event_idx = flags & 1;
	s->indirect = flags & 2;
	s->desc = ring_addr(fuzz_u64(&in), flags & 4);
	s->avail = ring_addr(fuzz_u64(&in), flags & 4);
	s->used = ring_addr(fuzz_u64(&in), flags & 4);
	fuzz_bytes(&in, ops, sizeof(ops));

	s->gm = fake_guest_mem_new(RAM_BASE, RAM_SIZE);
	s->ram = fake_guest_mem_ptr(s->gm);
	fuzz_bytes(&in, s->ram, in.left < RAM_SIZE ? in.left : RAM_SIZE);

	start(s);
	for (unsigned i = 0; i < NOPS; i++)
		run_op(s, ops[i]);
	/* Whatever is left is published, as a device finishing its I/O. */
	push_flush(s, s->npend);
	virtq_stop(&s->vq);
	FUZZ_ASSERT(fake_guest_mem_ranges(s->gm) == 0);
	fake_guest_mem_free(s->gm);
	return 0;
}
