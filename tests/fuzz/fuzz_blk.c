/* SPDX-License-Identifier: GPL-2.0-only */
/* libFuzzer target: the virtio-blk request parser (src/virtio_blk.c) with
 * its real I/O engine, event loop and a small raw image on tmpfs. The input
 * fills guest RAM (rings, headers, DISCARD segments), picks the features
 * and then plays the transport and the driver: notifies, ring index bumps,
 * RAM stores, resets, config reads, shutdown. Checked: no crash or
 * sanitizer report; whenever the device is idle every popped chain has
 * exactly one used entry and it is published; each used entry answers a
 * chain taken and not yet answered, with a length within the chain's
 * writable bytes (0 for a malformed chain) and, where it covers the status
 * byte, a status of OK, IOERR or UNSUPP (§5.2.6); a chain is put back only
 * right after it was taken; no guest_mem pin outlives its request; nothing
 * is pushed after reset(). Records can also fill guest_mem's mapping cache,
 * so that requests are put back or refused for want of it.
 *
 * io_destroy() takes tens of milliseconds, so the devices (one per
 * read-only/serial/queue-size combination), the loop and guest RAM are made
 * once and reused: each input starts the device like a freshly booted
 * driver and ends with a device reset, so an input also checks that reset
 * leaves nothing behind for the next one. A crash that needs the history of
 * earlier inputs shows up as one that does not reproduce alone.
 *
 * Input: a 12-byte header { u8 cfg; u8 num; u16 n; u16 desc, avail, used;
 * u16 mq }, n bytes copied to guest RAM (at most PREFILL_MAX), then
 * 8-byte records { u8 op; u8 a; u16 b; u32 v } (enum rec).
 *   cfg: 1 read-only, 2 serial given, 4 queue_size 4 (else the default),
 *        8 rings at the header's offsets (aligned down; they may overlap)
 *        instead of the fixed DESC_OFF, AVAIL_OFF, USED_OFF,
 *        0x10 EVENT_IDX, 0x20 INDIRECT_DESC, 0x40 DISCARD,
 *        0x80 WRITE_ZEROES (features only if offered)
 *   num: QueueNum = 1 << (num % 9)
 *   mq & 1: a device with two request queues and MQ negotiated; queue 1's
 *        rings (QueueNum as queue 0's) are at Q1_OFF; REC_NOTIFY's a & 1
 *        and REC_KICK's b & 1 pick the queue. Otherwise one queue. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "fake_guest_mem.h"
#include "fuzz_input.h"
#include "log.h"
#include "loop.h"
#include "virtio_blk.h"

#define RAM_BASE    0x40000000ull
#define RAM_SIZE    (256u << 10)
#define PREFILL_MAX 0xc000u /* past queue 1's rings */
#define DESC_OFF    0x0000u
#define AVAIL_OFF   0x1000u
#define USED_OFF    0x2000u
#define USED_END    (USED_OFF + 6 + 8 * 256 + 2)
#define Q1_OFF	    0x9000u /* queue 1: desc, avail +0x1000, used +0x2000 */
#define Q1_USED_END (Q1_OFF + 0x2000 + 6 + 8 * 256 + 2)
#define NQ_MAX	    2
#define IMAGE_SIZE  (1u << 20)

#define F(bit) (1ull << (bit))

enum rec {
	REC_NOTIFY,  /* QueueNotify */
	REC_RUN,     /* let the loop run until the device is idle */
	REC_KICK,    /* the driver makes a more entries available */
	REC_RAM,     /* the driver stores v at RAM offset 4 * b */
	REC_RESET,   /* device reset; restart unless a & 1 */
	REC_CONFIG,  /* config space read */
	REC_QUIESCE, /* shutdown, if a is 0x51 */
	REC_STATS,   /* statistics; or, by a, the mapping cache (GM_*) */
};

/* REC_STATS's a: guest_mem's cache at its cap from RAM offset 16 * b on,
 * with v % 3 pins held by others (fake_guest_mem_full), those pins let
 * go at the next refusal, or room again. */
enum { GM_FULL = 0xf1, GM_OTHERS_LEAVE = 0xf2, GM_ROOM = 0xf0 };

struct fz {
	struct loop *loop;
	struct guest_mem *gm;
	uint8_t *ram;
	struct virtio_blk *b;
	struct virtq vq[NQ_MAX];
	unsigned nq; /* queues in use: 1, or 2 with MQ */
	uint8_t cfg;
	bool own_rings; /* cfg & 8: the rings are where the input says */
	uint32_t desc, avail, used; /* ring offsets in RAM */
	uint16_t num;
	unsigned queue_size;
	bool started, quiesced, reset_pending, quiesce_pending;
	int pump_fd;
	bool (*until)(struct fz *f);
};

static struct fz fz;

/* ------------------------------------------- what the device takes and
 * gives back (the linker routes its virtq_pop/unpop/push calls here) */

#define TAKEN_MAX 1024

struct taken {
	uint16_t head;
	bool malformed;	   /* virtq_pop said -EINVAL: answered with len 0 */
	bool has_status;   /* a writable byte exists: the status, the last */
	uint64_t writable; /* bytes */
	uint64_t status_gpa;
};

/* Per queue, the chains taken and not yet answered, oldest first. */
static struct {
	struct taken t[TAKEN_MAX];
	unsigned n;
	bool just_popped; /* the last call on this queue was a pop of 1 */
} taken[NQ_MAX];

int __real_virtq_pop(struct virtq *vq, struct virtq_chain *c);
void __real_virtq_unpop(struct virtq *vq);
void __real_virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
int __wrap_virtq_pop(struct virtq *vq, struct virtq_chain *c);
void __wrap_virtq_unpop(struct virtq *vq);
void __wrap_virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

static unsigned vq_index(const struct virtq *vq)
{
	unsigned i = (unsigned)(vq - fz.vq);

	FUZZ_ASSERT(i < NQ_MAX);
	return i;
}

static unsigned taken_total(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < NQ_MAX; i++)
		n += taken[i].n;
	return n;
}

int __wrap_virtq_pop(struct virtq *vq, struct virtq_chain *c)
{
	unsigned q = vq_index(vq);
	int r = __real_virtq_pop(vq, c);
	struct taken *t;

	taken[q].just_popped = r == 1;
	if (r != 1 && r != -EINVAL)
		return r;
	FUZZ_ASSERT(taken[q].n < TAKEN_MAX);
	t = &taken[q].t[taken[q].n++];
	*t = (struct taken){.head = c->head,
			    .malformed = r == -EINVAL,
			    .writable = c->writable_bytes};
	for (unsigned i = c->nseg; r == 1 && i-- > c->nreadable;) {
		if (c->seg[i].len) {
			t->has_status = true;
			t->status_gpa = c->seg[i].gpa + c->seg[i].len - 1;
			break;
		}
	}
	return r;
}

void __wrap_virtq_unpop(struct virtq *vq)
{
	unsigned q = vq_index(vq);

	/* virtqueue.h: only the chain the last pop returned, before any
	 * other pop or push. */
	FUZZ_ASSERT(taken[q].just_popped && taken[q].n > 0);
	taken[q].n--;
	taken[q].just_popped = false;
	__real_virtq_unpop(vq);
}

/* How much a taken chain accepts as its used length. */
static uint64_t fit(const struct taken *t)
{
	return t->malformed ? 0 : t->writable + 1;
}

void __wrap_virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	unsigned q = vq_index(vq), i, k;
	struct taken t;

	FUZZ_ASSERT(fz.started);
	taken[q].just_popped = false;
	/* The chain with this head that such an answer fits most tightly.
	 * A guest may offer a head twice, and the two chains complete in
	 * either order; what a chain accepts (len 0 if malformed, else up
	 * to its writable bytes) is nested, so the tightest fit never takes
	 * a chain a later answer needs. */
	for (k = 0, i = taken[q].n; k < taken[q].n; k++) {
		const struct taken *c = &taken[q].t[k];

		if (c->head != head ||
		    (c->malformed ? len != 0 : len > c->writable))
			continue;
		if (i == taken[q].n || fit(c) < fit(&taken[q].t[i]))
			i = k;
	}
	FUZZ_ASSERT(i < taken[q].n);
	t = taken[q].t[i];
	/* A used length that reaches the status byte: it holds a status.
	 * Only with no other request alive, whose data could land on it. */
	if (!t.malformed && t.has_status && len && len == t.writable &&
	    taken_total() == 1 && t.status_gpa >= RAM_BASE &&
	    t.status_gpa < RAM_BASE + RAM_SIZE)
		FUZZ_ASSERT(fz.ram[t.status_gpa - RAM_BASE] <=
			    VIRTIO_BLK_S_UNSUPP);
	memmove(&taken[q].t[i], &taken[q].t[i + 1],
		(taken[q].n - i - 1) * sizeof(t));
	taken[q].n--;
	__real_virtq_push(vq, head, len);
}
static struct virtio_blk *devices[16]; /* by cfg & 7, +8 with two queues */

static unsigned in_flight(struct fz *f)
{
	struct virtio_blk_stats st;

	virtio_blk_get_stats(f->b, &st);
	return (unsigned)st.in_flight;
}

/* ------------------------------------------------------- the transport */

static void on_used(void *opaque)
{
	struct fz *f = opaque;

	/* Interrupts only while started (after reset the device is quiet). */
	FUZZ_ASSERT(f->started);
}

static void on_needs_reset(void *opaque)
{
	struct fz *f = opaque;

	FUZZ_ASSERT(f->started);
}

static const struct virtio_notify notify = {
    .used = on_used,
    .needs_reset = on_needs_reset,
    .opaque = &fz,
};

static void reset_done(void *opaque)
{
	struct fz *f = opaque;

	FUZZ_ASSERT(f->reset_pending);
	f->reset_pending = false;
}

static void quiesce_done(void *opaque)
{
	struct fz *f = opaque;

	FUZZ_ASSERT(f->quiesce_pending);
	f->quiesce_pending = false;
}

/* The always-readable eventfd: runs once per loop round and stops the loop
 * when the awaited condition holds. A device that never gets there is a
 * hang, which libFuzzer's -timeout reports. */
static void on_pump(void *opaque, uint32_t events)
{
	struct fz *f = opaque;

	(void)events;
	if (f->until(f))
		loop_stop(f->loop);
}

static bool idle(struct fz *f)
{
	return in_flight(f) == 0;
}

static bool reset_finished(struct fz *f)
{
	return !f->reset_pending;
}

static bool quiesce_finished(struct fz *f)
{
	return !f->quiesce_pending;
}

static void run_until(struct fz *f, bool (*until)(struct fz *f))
{
	if (until(f))
		return;
	f->until = until;
	FUZZ_ASSERT(loop_run(f->loop) == 0);
}

/* Idle: every chain taken has its used entry, published (§2.7.8), and
 * nothing is pinned any more. */
static void check_idle(struct fz *f)
{
	uint16_t idx;

	FUZZ_ASSERT(fake_guest_mem_pins(f->gm) == 0);
	if (!f->started)
		return;
	for (unsigned i = 0; i < f->nq; i++) {
		FUZZ_ASSERT(f->vq[i].used_idx == f->vq[i].last_avail);
		FUZZ_ASSERT(taken[i].n == 0);
	}
	/* Only meaningful if nothing but the device's publications writes
	 * the used ring. A request may have the device write its data or
	 * status over a used ring (the driver's own doing); on its own queue
	 * the publication of that request comes after and restores the
	 * index, but with two queues a read on one can land on the other's
	 * index after that queue's last publication (a regression input
	 * does), so only one queue's index is compared. */
	if (f->own_rings || f->nq > 1)
		return;
	memcpy(&idx, f->ram + USED_OFF + 2, 2);
	FUZZ_ASSERT(le16toh(idx) == f->vq[0].used_idx);
}

/* FEATURES_OK, QueueReady and DRIVER_OK, as the transport does them. */
static void start(struct fz *f)
{
	uint64_t offer = virtio_blk_ops.features(f->b);
	int rc;
	uint64_t want = F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_SEG_MAX) |
			F(VIRTIO_BLK_F_SIZE_MAX) | F(VIRTIO_BLK_F_BLK_SIZE) |
			F(VIRTIO_BLK_F_FLUSH) | F(VIRTIO_BLK_F_RO);

	FUZZ_ASSERT(offer & F(VIRTIO_F_VERSION_1));
	if (f->cfg & 0x10)
		want |= F(VIRTIO_RING_F_EVENT_IDX);
	if (f->cfg & 0x20)
		want |= F(VIRTIO_RING_F_INDIRECT_DESC);
	if (f->cfg & 0x40)
		want |= F(VIRTIO_BLK_F_DISCARD);
	if (f->cfg & 0x80)
		want |= F(VIRTIO_BLK_F_WRITE_ZEROES);
	if (f->nq > 1)
		want |= F(VIRTIO_BLK_F_MQ);
	want &= offer;
	FUZZ_ASSERT(f->nq == 1 || (want & F(VIRTIO_BLK_F_MQ)));
	/* Legacy drivers and unoffered bits are refused (the transport
	 * filters both already; the device must not rely on it). */
	FUZZ_ASSERT(
	    !virtio_blk_ops.set_features(f->b, want & ~F(VIRTIO_F_VERSION_1)));
	if (!(offer & F(50)))
		FUZZ_ASSERT(!virtio_blk_ops.set_features(f->b, want | F(50)));
	FUZZ_ASSERT(virtio_blk_ops.set_features(f->b, want));

	/* A driver (re)initialising hands over a zeroed used ring. */
	memset(f->ram + f->used, 0, 6 + 8u * f->num + 2);
	memset(f->vq, 0, sizeof(f->vq));
	f->vq[0].num = f->num;
	f->vq[0].desc_gpa = RAM_BASE + f->desc;
	f->vq[0].avail_gpa = RAM_BASE + f->avail;
	f->vq[0].used_gpa = RAM_BASE + f->used;
	rc = virtq_start(&f->vq[0], f->gm, want & F(VIRTIO_RING_F_EVENT_IDX),
			 want & F(VIRTIO_RING_F_INDIRECT_DESC));
	/* The fixed rings are valid; the input's may be refused (overlap),
	 * and the device then starts with its queue not ready. */
	FUZZ_ASSERT(rc == 0 || f->own_rings);
	if (f->nq > 1) {
		memset(f->ram + Q1_OFF + 0x2000, 0, 6 + 8u * f->num + 2);
		f->vq[1].num = f->num;
		f->vq[1].desc_gpa = RAM_BASE + Q1_OFF;
		f->vq[1].avail_gpa = RAM_BASE + Q1_OFF + 0x1000;
		f->vq[1].used_gpa = RAM_BASE + Q1_OFF + 0x2000;
		FUZZ_ASSERT(
		    virtq_start(&f->vq[1], f->gm,
				want & F(VIRTIO_RING_F_EVENT_IDX),
				want & F(VIRTIO_RING_F_INDIRECT_DESC)) == 0);
		/* The transport refuses rings that clash across queues. */
		if (virtq_rings_clash(&f->vq[0], &f->vq[1]))
			virtq_stop(&f->vq[0]);
	}
	f->started = true;
	virtio_blk_ops.start(f->b, f->vq, f->nq, &notify);
}

static void reset(struct fz *f)
{
	uint16_t used_idx[NQ_MAX], signalled[NQ_MAX];

	for (unsigned i = 0; i < NQ_MAX; i++) {
		used_idx[i] = f->vq[i].used_idx;
		signalled[i] = f->vq[i].signalled_used;
	}

	f->reset_pending = true;
	f->started = false;
	virtio_blk_ops.reset(f->b, reset_done, f);
	run_until(f, reset_finished);
	/* Completions after reset() only free resources. */
	for (unsigned i = 0; i < NQ_MAX; i++) {
		FUZZ_ASSERT(f->vq[i].used_idx == used_idx[i]);
		FUZZ_ASSERT(f->vq[i].signalled_used == signalled[i]);
	}
	FUZZ_ASSERT(fake_guest_mem_pins(f->gm) == 0);
	FUZZ_ASSERT(in_flight(f) == 0);
	for (unsigned i = 0; i < NQ_MAX; i++) {
		virtq_stop(&f->vq[i]);
		/* What was taken before is the old driver's: never answered. */
		taken[i].n = 0;
		taken[i].just_popped = false;
	}
}

static void run_record(struct fz *f, struct fuzz_in *in)
{
	uint8_t op = fuzz_u8(in), a = fuzz_u8(in);
	uint16_t b = fuzz_u16(in);
	uint32_t v = fuzz_u32(in);
	uint8_t cfg[64];
	uint16_t idx;
	uint32_t off;

	switch (op & 7) {
	case REC_NOTIFY:
		/* The transport drops notifies before DRIVER_OK and after
		 * shutdown started. */
		if (f->started && !f->quiesced)
			virtio_blk_ops.queue_notify(f->b, a % f->nq);
		break;
	case REC_RUN:
		run_until(f, idle);
		check_idle(f);
		break;
	case REC_KICK:
		off = (b % f->nq ? Q1_OFF + 0x1000 : f->avail) + 2;
		memcpy(&idx, f->ram + off, 2);
		idx = htole16((uint16_t)(le16toh(idx) + a % 16));
		memcpy(f->ram + off, &idx, 2);
		break;
	case REC_RAM:
		/* Anywhere but the used rings, whose idx check_idle reads. */
		off = 4u * b;
		if ((f->own_rings || off + 4 <= USED_OFF || off >= USED_END) &&
		    (f->nq == 1 || off + 4 <= Q1_OFF + 0x2000 ||
		     off >= Q1_USED_END))
			memcpy(f->ram + off, &v, 4);
		break;
	case REC_RESET:
		if (f->quiesced)
			break;
		reset(f);
		if (!(a & 1))
			start(f);
		break;
	case REC_CONFIG:
		off = b % 80;
		FUZZ_ASSERT(
		    virtio_blk_ops.config_read(f->b, off, cfg, 1u << (a % 4)) ==
		    sizeof(struct virtio_blk_config));
		break;
	case REC_QUIESCE:
		if (a != 0x51 || f->quiesced)
			break;
		f->quiesced = true;
		f->quiesce_pending = true;
		virtio_blk_ops.quiesce(f->b, quiesce_done, f);
		run_until(f, quiesce_finished);
		check_idle(f);
		break;
	case REC_STATS:
		if (a == GM_FULL)
			fake_guest_mem_full(f->gm, RAM_BASE + 16ull * b, v % 3);
		else if (a == GM_OTHERS_LEAVE)
			fake_guest_mem_others_leave(f->gm);
		else if (a == GM_ROOM)
			fake_guest_mem_full(f->gm, UINT64_MAX, 0);
		FUZZ_ASSERT(in_flight(f) <= f->queue_size * f->nq);
		break;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct fz *f = &fz;
	uint64_t one = 1;

	(void)argc;
	(void)argv;
	log_init("fuzz_blk", false, LOG_LVL_ERROR);
	f->gm = fake_guest_mem_new(RAM_BASE, RAM_SIZE);
	f->ram = fake_guest_mem_ptr(f->gm);
	f->loop = loop_new();
	f->pump_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!f->loop || f->pump_fd < 0 ||
	    write(f->pump_fd, &one, sizeof(one)) != sizeof(one) ||
	    loop_add(f->loop, f->pump_fd, EPOLLIN, on_pump, f)) {
		perror("fuzz_blk: loop");
		exit(1);
	}
	return 0;
}

/* An unnamed tmpfs file, opened by a device through /proc so that nothing
 * is left behind however the fuzzer exits; one per device, since a device
 * locks its image. */
static void temp_image(char *path, size_t len)
{
	static const char *const dirs[] = {"/dev/shm", "/tmp"};
	int fd = -1;

	for (unsigned i = 0; i < 2 && fd < 0; i++)
		fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, IMAGE_SIZE) < 0) {
		perror("fuzz_blk: temporary image");
		exit(1);
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
}

/* The device for cfg's low three bits and the queue count, made on first
 * use. */
static struct virtio_blk *device(uint8_t cfg, unsigned nq)
{
	char image_path[64];
	static const char serial[] = "fuzz-serial-0123456789";
	struct virtio_blk **b = &devices[(cfg & 7) + (nq > 1 ? 8 : 0)];
	struct virtio_blk_params p = {
	    .path = image_path,
	    .read_only = cfg & 1,
	    .serial = cfg & 2 ? serial : NULL,
	    .queue_size = cfg & 4 ? 4 : 0,
	    .num_queues = nq,
	};
	char err[256];

	if (!*b) {
		temp_image(image_path, sizeof(image_path));
		*b = virtio_blk_new(fz.loop, fz.gm, &p, err, sizeof(err));
		if (!*b) {
			fprintf(stderr, "fuzz_blk: %s\n", err);
			abort();
		}
	}
	return *b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *f = &fz;
	struct fuzz_in in;
	size_t n;

	fuzz_in_init(&in, data, size);
	f->cfg = fuzz_u8(&in);
	f->num = (uint16_t)(1u << (fuzz_u8(&in) % 9));
	n = fuzz_u16(&in);
	f->own_rings = f->cfg & 8;
	f->desc = fuzz_u16(&in) & ~15u;
	f->avail = fuzz_u16(&in) & ~1u;
	f->used = fuzz_u16(&in) & ~3u;
	f->nq = fuzz_u16(&in) & 1 ? 2 : 1;
	if (!f->own_rings) {
		f->desc = DESC_OFF;
		f->avail = AVAIL_OFF;
		f->used = USED_OFF;
	}
	f->queue_size = f->cfg & 4 ? 4 : 256;
	f->b = device(f->cfg, f->nq);
	f->started = f->quiesced = false;
	FUZZ_ASSERT(in_flight(f) == 0);

	memset(f->ram, 0, RAM_SIZE);
	fake_guest_mem_full(f->gm, UINT64_MAX, 0);
	if (n > PREFILL_MAX)
		n = PREFILL_MAX;
	fuzz_bytes(&in, f->ram, n < in.left ? n : in.left);

	start(f);
	while (in.left)
		run_record(f, &in);
	run_until(f, idle);
	check_idle(f);
	reset(f);
	FUZZ_ASSERT(fake_guest_mem_ranges(f->gm) == 0);
	return 0;
}
