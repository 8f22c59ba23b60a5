/* SPDX-License-Identifier: GPL-2.0-only */
/* The virtio block device (virtio 1.2 §5.2). Every chain is parsed by byte
 * offset (VERSION_1 implies ANY_LAYOUT, §2.6.4): the header is the first 16
 * readable bytes, the status the last writable byte, and data whatever lies
 * between, however the driver split it into descriptors. */
#include "virtio_blk.h"

#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aio_engine.h"
#include "image.h"
#include "log.h"

#define SECTOR_SHIFT	     9
#define SECTOR_SIZE	     512u
#define BLK_DEFAULT_QUEUE    256
#define BLK_MIN_QUEUE	     4
#define BLK_MAX_ENGINE_DEPTH 512 /* see engine_depth() */
/* Largest data transfer of one IN/OUT request; with seg_max it sets
 * size_max, and it keeps every request within the engine's bounce budget. */
#define BLK_MAX_DATA	    (32u << 20)
#define BLK_DWZ_MAX_SEG	    16
#define BLK_DWZ_MAX_SECTORS (1u << 22) /* 2 GiB per segment */
#define BLK_HDR_SIZE	    16
#define DWZ_ENTRY_SIZE	    16
#define STATUS_PENDING	    0xff /* not a virtio status: the engine has it */
#define STATUS_RETRY	    0xfe /* nor this: no mapping room, pop it later */

/* Longest a request queued without a notification waits for a completion
 * to collect it before the ring is looked at anyway (see notify_slack). */
#define BLK_COLLECT_US 1000
/* The longest grace --idle-grace-us=auto takes, whatever the guest's
 * measured reaction (a guest stalled for seconds must not stretch it). */
#define BLK_AUTO_GRACE_MAX_US 10000
/* The depth from which --idle-grace-us=auto takes a grace: enough
 * requests then arrive during one to spare several notifications, where a
 * shallower driver's few would mostly wait (docs/performance.md, change
 * 13: 4 KiB reads at depth 4 through the simulator lost 7-38 %). */
#define BLK_AUTO_GRACE_MIN_DEPTH 8
/* ... and only where the guest takes at least this long (µs) to answer an
 * interrupt: there its traps, not the disk, bound it. Through the
 * simulator (46 µs) the grace measured neutral to 6-10 % slower, under
 * emulated Xen (1-2.5 ms) a third faster (docs/performance.md, change
 * 13). */
#define BLK_AUTO_GRACE_MIN_REACTION_US 250

#define F(bit) (1ULL << (bit))

enum { ST_READ, ST_WRITE, ST_FLUSH, ST_DWZ, ST_OTHER, ST_KINDS };
_Static_assert(ST_KINDS == sizeof(((struct virtio_blk_stats *)0)->reqs) /
			       sizeof(uint64_t),
	       "virtio_blk_stats.reqs has a counter per kind");

struct blk_req;

/* One engine request; DISCARD/WRITE_ZEROES have one per segment. */
struct blk_part {
	struct aio_req aio;
	struct blk_req *r;
};

struct blk_req {
	struct blk_queue *q;
	struct blk_req *next_free;
	uint64_t gen; /* device generation at pop */
	uint16_t head;
	bool rw; /* a READ or WRITE counted in rw_in_flight */
	bool has_status;
	uint64_t status_gpa;
	/* The status byte stays mapped from pop to completion, so that the
	 * outcome can always be written (guest_mem's cache may be full of
	 * other requests' buffers by then). */
	struct guest_sg status_sg;
	struct iovec status_iov;
	struct gm_bucket *status_pin;
	uint8_t status;	       /* worst so far */
	uint32_t data_written; /* device-writable data bytes on success */
	uint32_t used_len;     /* writable bytes written (zero_writable) */
	unsigned parts_left;
	struct guest_sg sg;
	struct blk_part part[BLK_DWZ_MAX_SEG];
};

/* What the statistics count per queue (summed in virtio_blk_get_stats). */
struct blk_counters {
	uint64_t reqs[ST_KINDS];
	uint64_t bytes_read, bytes_written, errors, unsupported, interrupts;
	uint64_t completed; /* requests published */
};

/* Per-virtqueue state, so that multiqueue is one array away. With
 * --io-threads each queue has a thread, loop and engine of its own; the
 * thread touches the queue only while its loop holds `lock`, and the
 * guest's loop thread takes `lock` to start, stop or reset the queue
 * (running, gen, vq) and to read its counters. Without, `loop` and `eng`
 * are the disk's and `lock` is only taken for those. */
struct blk_queue {
	struct virtio_blk *b;
	unsigned index;
	struct loop *loop;
	struct aio_engine *eng;
	bool running; /* started, not reset or quiesced since */
	uint64_t gen; /* bumped by reset */
	struct virtq *vq;
	struct blk_req *reqs, *free;
	struct iovec *iov_pool;
	struct gm_bucket **pin_pool;
	unsigned in_flight;
	unsigned rw_in_flight; /* READ/WRITE requests the engine holds */
	unsigned rw_peak;      /* most rw_in_flight since the last drain */
	unsigned depth_hint;   /* recent rw_peak, less one per drain */
	struct blk_counters c;
	bool drained;	      /* rw_in_flight fell to 0 in this batch */
	bool stalled;	      /* out of requests: resume on completion */
	bool broken;	      /* needs_reset reported */
	bool need_flush;      /* pushed entries not yet published */
	bool no_room;	      /* a chain waits for guest_mem mapping room */
	uint64_t grace_until; /* loop_now_us(): see notify_slack */
	struct loop_timer *collect; /* see notify_slack */
	struct virtq_chain chain;

	pthread_mutex_t lock;
	pthread_t thread;
	/* The I/O thread as it sees itself (process_queue's check): `thread`
	 * is written by pthread_create(), maybe after the thread started. */
	pthread_t self;
	bool has_thread;
	bool exit;   /* the thread should return (under lock) */
	int kick_fd; /* eventfd: a notification or `exit` (I/O thread) */
};

/* A reset or shutdown waiting for every queue's engine to be idle (with
 * I/O threads: each engine says so on its own thread). */
struct blk_idle_wait {
	struct virtio_blk *b;
	void (*fn)(void *opaque);
	void *opaque;
	_Atomic unsigned left; /* queues not idle yet, +1 while registering */
	bool used;
};

struct virtio_blk {
	struct loop *loop; /* the guest's */
	struct guest_mem *gm;
	struct image img;
	struct aio_engine *eng; /* every queue's, without I/O threads */
	uint64_t offered, negotiated;
	/* Sectors. Changes when the image is resized, while queue threads
	 * (--io-threads) check requests against it: read it once per use. */
	_Atomic uint64_t capacity;
	uint32_t config_gen; /* bumped with every change of cfg */
	struct virtio_blk_config cfg;
	char serial[VIRTIO_BLK_SERIAL_MAX];
	unsigned queue_size, seg_max, size_max, max_pieces;
	unsigned idle_grace_us; /* virtio_blk_params.idle_grace_us */
	unsigned (*guest_reaction_us)(void *opaque); /* and its opaque: */
	void *reaction_opaque;			     /* the params' */
	uint64_t max_data;
	struct virtio_notify notify;
	bool polling; /* poll_avail registered with the loop */
	uint64_t gen; /* bumped by reset; each queue has its copy */
	unsigned nq;  /* virtqueues offered */
	struct blk_queue *q;
	uint64_t notifies;

	/* --io-threads: the guest's loop hears from the queues' threads on
	 * main_fd: idle waits that finished, a queue whose ring broke. */
	bool io_threads;
	unsigned index; /* virtio_blk_params.index */
	int main_fd;
	struct blk_idle_wait waits[AIO_IDLE_WAITERS];
	_Atomic uint64_t broken_gen; /* gen + 1 of a broken ring, or 0 */
};

static void process_queue(struct blk_queue *q);

/* ------------------------------------------------------ chain helpers */

enum chain_op { CH_READ, CH_WRITE, CH_SG };

/* Apply op to bytes [off, off + len) of the chain's readable (or writable)
 * part, across descriptor boundaries. 0, -EFAULT, -E2BIG, or -EINVAL if
 * the part is shorter. */
static int chain_io(struct guest_mem *gm, const struct virtq_chain *c,
		    bool writable, uint64_t off, uint64_t len, enum chain_op op,
		    void *buf, struct guest_sg *sg)
{
	unsigned i = writable ? c->nreadable : 0;
	unsigned end = writable ? c->nseg : c->nreadable;
	char *p = buf;

	for (; i < end && len; i++) {
		uint64_t sl = c->seg[i].len, gpa, n;
		int r;

		if (off >= sl) {
			off -= sl;
			continue;
		}
		n = sl - off < len ? sl - off : len;
		gpa = c->seg[i].gpa + off;
		if (gpa < c->seg[i].gpa)
			return -EFAULT;
		if (op == CH_READ)
			r = guest_mem_read(gm, gpa, p, n);
		else if (op == CH_WRITE)
			r = guest_mem_write(gm, gpa, p, n);
		else
			r = guest_mem_sg_add(gm, sg, gpa, n);
		if (r)
			return r;
		if (p)
			p += n;
		len -= n;
		off = 0;
	}
	return len ? -EINVAL : 0;
}

/* Zero bytes [from, status) of the chain's writable part, those the
 * request did not write, and return how far from its start the writable
 * part is now known written: the used length, which §2.7.8.1 bounds by
 * what the device wrote. Normally every writable byte, so that the status,
 * the last of them, is inside it for the driver (§2.7.8.2: it ignores what
 * lies beyond); a normal request leaves nothing to zero (a read fills its
 * buffers, a write's only writable byte is its status). Not beyond what
 * one read may carry (max_data bytes in seg_max buffers), so that a
 * hostile chain's shape does not become our work, and not where the chain
 * leaves RAM: such a chain's length stops where the writing did. */
static uint32_t zero_writable(struct virtio_blk *b, const struct virtq_chain *c,
			      uint32_t from)
{
	uint32_t all = c->writable_bytes > UINT32_MAX
			   ? UINT32_MAX
			   : (uint32_t)c->writable_bytes;
	static uint8_t zeros[65536]; /* never written */
	uint64_t end = c->writable_bytes - 1, at = from, n;

	if (at >= end)
		return all;
	/* Within a data request's limits (bytes, and buffers besides the
	 * status): a chain spread over 1024 descriptors would otherwise have
	 * us map a thousand buckets for a request that does nothing. */
	if (end - at > b->max_data || c->nseg - c->nreadable > b->seg_max + 1)
		return from;
	/* at stays within from + max_data: 32 bits hold it. */
	for (; at < end; at += n) {
		n = end - at < sizeof(zeros) ? end - at : sizeof(zeros);
		if (chain_io(b->gm, c, true, at, n, CH_WRITE, zeros, NULL))
			return (uint32_t)at;
	}
	return all;
}

/* The status byte: the last device-writable byte of the chain. */
static bool find_status(const struct virtq_chain *c, uint64_t *gpa)
{
	for (unsigned i = c->nseg; i-- > c->nreadable;) {
		if (c->seg[i].len) {
			*gpa = c->seg[i].gpa + c->seg[i].len - 1;
			return *gpa >= c->seg[i].gpa;
		}
	}
	return false;
}

/* --------------------------------------------------------- completion */

/* Publish q's pushed entries; whether the driver wants an interrupt. */
static bool publish_queue(struct blk_queue *q)
{
	if (!q->need_flush || !q->vq)
		return false;
	q->need_flush = false;
	return virtq_flush_used(q->vq);
}

/* The used buffer interrupt, counted against the queue that wanted it. */
static void raise_used(struct blk_queue *q)
{
	struct virtio_blk *b = q->b;

	if (b->notify.used) {
		q->c.interrupts++;
		b->notify.used(b->notify.opaque);
	}
}

/* Without I/O threads: publish every queue's pushed entries, then one
 * interrupt at most. virtio-mmio has a single one for all queues
 * (§4.2.3.4), and the driver's handler looks at every queue's used ring,
 * so a second interrupt for the same pass would cost it two trapped
 * accesses for nothing. */
static void publish_all(struct virtio_blk *b)
{
	struct blk_queue *irq_for = NULL;

	for (unsigned i = 0; i < b->nq; i++)
		if (publish_queue(&b->q[i]) && !irq_for)
			irq_for = &b->q[i];
	if (irq_for)
		raise_used(irq_for);
}

/* After a pass over q: publish what it pushed. An I/O thread publishes
 * its own queue only (the others are other threads'); without, every
 * queue's, as publish_all(). */
static void publish(struct blk_queue *q)
{
	if (!q->b->io_threads)
		publish_all(q->b);
	else if (publish_queue(q))
		raise_used(q);
}

static void complete(struct blk_req *r, uint8_t status)
{
	struct blk_queue *q = r->q;
	struct virtio_blk *b = q->b;

	if (status == VIRTIO_BLK_S_IOERR)
		q->c.errors++;
	else if (status == VIRTIO_BLK_S_UNSUPP)
		q->c.unsupported++;
	/* After a reset the rings belong to the next driver instance: write
	 * nothing (virtio 1.2 §2.4: the device is quiet until re-init). */
	if (r->gen == q->gen) {
		/* A read that failed leaves zeros, not half a transfer, in
		 * the buffers the used length counts (see zero_writable): a
		 * pending request has data_written only if it is a read, and
		 * then r->sg is its buffers. */
		if (status != VIRTIO_BLK_S_OK && r->data_written)
			for (unsigned i = 0; i < r->sg.n; i++)
				memset(r->sg.iov[i].iov_base, 0,
				       r->sg.iov[i].iov_len);
		if (r->has_status)
			*(volatile uint8_t *)r->status_iov.iov_base = status;
		/* len: the writable bytes written, normally every one with
		 * the status the last (zero_writable); 0 if not even the
		 * status could be written. */
		virtq_push(q->vq, r->head, r->has_status ? r->used_len : 0);
		q->need_flush = true;
		q->c.completed++;
	}
	guest_mem_sg_release(b->gm, &r->sg);
	guest_mem_sg_release(b->gm, &r->status_sg);
	r->next_free = q->free;
	q->free = r;
	q->in_flight--;
	if (r->rw && --q->rw_in_flight == 0)
		q->drained = true;
}

static void blk_done(struct aio_req *aio, int res)
{
	struct blk_part *p = (struct blk_part *)aio;
	struct blk_req *r = p->r;
	struct blk_queue *q = r->q;
	struct virtio_blk *b = q->b;

	if (res == -ECANCELED) {
		/* Abandoned (aio_engine_abandon) at a reset, a QueueReady=0,
		 * the domain's death or teardown: no disk fault to log. */
		r->status = VIRTIO_BLK_S_IOERR;
	} else if (res < 0) {
		log_guest_warn("%s: I/O error at byte %llu (+%llu): %s",
			       b->img.path, (unsigned long long)aio->offset,
			       (unsigned long long)aio->len, strerror(-res));
		r->status = VIRTIO_BLK_S_IOERR;
	} else if (aio->op == AIO_READ) {
		q->c.bytes_read += aio->len;
	} else if (aio->op == AIO_WRITE) {
		q->c.bytes_written += aio->len;
	}
	if (--r->parts_left == 0)
		complete(r, r->status);
}

/* How long the queue that just drained keeps the driver from notifying
 * (see notify_slack). With --idle-grace-us=auto: as long as the guest
 * now takes to answer an interrupt, which is what the notification the
 * grace saves would cost it (tens of µs on hardware, a millisecond or
 * more under emulation), only where that is slow, and only while it
 * keeps many requests in flight: a shallow driver has little to queue during
 * the grace but its next requests, which would wait out the grace instead of
 * notifying. The depth is remembered over drains (one less per drain), as a
 * busy guest's bursts come and go: a drain after a lone request is no sign that
 * the driver went shallow (docs/performance.md, change 13). */
static unsigned idle_grace_us(struct blk_queue *q)
{
	struct virtio_blk *b = q->b;
	unsigned us;

	if (q->rw_peak > q->depth_hint)
		q->depth_hint = q->rw_peak;
	else if (q->depth_hint)
		q->depth_hint--;
	q->rw_peak = 0;
	if (b->idle_grace_us != VIRTIO_BLK_GRACE_AUTO)
		return b->idle_grace_us;
	if (q->depth_hint < BLK_AUTO_GRACE_MIN_DEPTH || !b->guest_reaction_us)
		return 0;
	us = b->guest_reaction_us(b->reaction_opaque);
	if (us < BLK_AUTO_GRACE_MIN_REACTION_US)
		return 0;
	return us < BLK_AUTO_GRACE_MAX_US ? us : BLK_AUTO_GRACE_MAX_US;
}

/* After a batch of completions: collect what the driver queued meanwhile
 * without notifying us (see notify_slack) and refresh the notification
 * threshold. The caller publishes the completions after (one interrupt at
 * most). */
static void after_batch(struct blk_queue *q)
{
	if (!q->vq)
		return;
	/* Only a queue that drained in this batch starts a grace: one timer
	 * per drain, not per batch of another queue. */
	if (q->drained && !q->rw_in_flight) {
		unsigned grace = idle_grace_us(q);

		if (grace)
			q->grace_until = loop_now_us() + grace;
	}
	q->drained = false;
	/* Serve the queue first, publish after: the interrupt then covers
	 * what completed while we submitted, and the guest's InterruptStatus
	 * read and InterruptACK write, each a trap that blocks its vCPU,
	 * find us idle rather than waiting behind the next io_submit
	 * (docs/performance.md, change 8). */
	if (q->running)
		process_queue(q);
}

/* The disk's engine finished a batch (every queue's requests). */
static void blk_batch_done(void *opaque)
{
	struct virtio_blk *b = opaque;

	for (unsigned i = 0; i < b->nq; i++)
		after_batch(&b->q[i]);
	publish_all(b);
}

/* A queue's own engine finished a batch (I/O thread). */
static void queue_batch_done(void *opaque)
{
	struct blk_queue *q = opaque;

	after_batch(q);
	publish(q);
}

/* ------------------------------------------------------------ requests */

struct dwz_entry {
	uint64_t sector;
	uint32_t num_sectors, flags;
};

static bool in_range(const struct virtio_blk *b, uint64_t sector,
		     uint64_t bytes)
{
	uint64_t cap = atomic_load_explicit(&b->capacity, memory_order_relaxed);

	/* sector <= cap keeps sector << 9 from overflowing. */
	return sector <= cap && bytes <= ((cap - sector) << SECTOR_SHIFT);
}

/* A driver that turned FLUSH down (we always offer it) may take the cache
 * for write-through: every write, discard and write-zeroes must then be
 * stable before it completes (§5.2.6.2, case 1; §5.2.5.1). */
static bool write_through(const struct virtio_blk *b)
{
	return !(b->negotiated & F(VIRTIO_BLK_F_FLUSH));
}

/* Part i of r, counted in r->parts_left beforehand. A part the engine
 * refuses (out of memory) fails the request and is counted out: it will
 * not complete. */
static void queue_part(struct blk_req *r, unsigned i, enum aio_op op,
		       uint64_t offset, uint64_t len, bool unmap)
{
	struct blk_part *p = &r->part[i];

	p->r = r;
	p->aio.op = op;
	p->aio.offset = offset;
	p->aio.len = len;
	p->aio.iov = r->sg.iov;
	p->aio.iovcnt = r->sg.n;
	p->aio.unmap = unmap;
	p->aio.stable =
	    op != AIO_READ && op != AIO_FLUSH && write_through(r->q->b);
	p->aio.done = blk_done;
	if (aio_engine_queue(r->q->eng, &p->aio) < 0) {
		r->status = VIRTIO_BLK_S_IOERR;
		r->parts_left--;
	}
}

/* After queueing every part: pending until the last completes, or the
 * request's status now if the engine took none. */
static uint8_t parts_queued(const struct blk_req *r)
{
	return r->parts_left ? STATUS_PENDING : r->status;
}

/* IN and OUT (§5.2.6): data is every writable byte before the status
 * (IN) or every readable byte after the header (OUT). */
static uint8_t start_rw(struct blk_req *r, const struct virtq_chain *c,
			bool write, uint64_t sector)
{
	struct virtio_blk *b = r->q->b;
	uint64_t len =
	    write ? c->readable_bytes - BLK_HDR_SIZE : c->writable_bytes - 1;
	int err;

	if (write && b->img.read_only) {
		log_guest_warn("virtio-blk: write to a read-only disk");
		return VIRTIO_BLK_S_IOERR;
	}
	if (len % SECTOR_SIZE || len > b->max_data ||
	    !in_range(b, sector, len)) {
		log_guest_warn("virtio-blk: bad %s: sector %llu, %llu bytes",
			       write ? "write" : "read",
			       (unsigned long long)sector,
			       (unsigned long long)len);
		return VIRTIO_BLK_S_IOERR;
	}
	err = chain_io(b->gm, c, !write, write ? BLK_HDR_SIZE : 0, len, CH_SG,
		       NULL, &r->sg);
	if (err == -ENOMEM)
		return STATUS_RETRY;
	if (err) {
		log_guest_warn("virtio-blk: data buffer not usable: %s",
			       strerror(-err));
		return VIRTIO_BLK_S_IOERR;
	}
	if (!write)
		r->data_written = (uint32_t)len;
	r->parts_left = 1;
	r->rw = true;
	if (++r->q->rw_in_flight > r->q->rw_peak)
		r->q->rw_peak = r->q->rw_in_flight;
	queue_part(r, 0, write ? AIO_WRITE : AIO_READ, sector << SECTOR_SHIFT,
		   len, false);
	return parts_queued(r);
}

/* DISCARD and WRITE_ZEROES (§5.2.6.2): an array of 16-byte segments.
 * Everything is copied and checked before anything is queued. */
static uint8_t start_dwz(struct blk_req *r, const struct virtq_chain *c,
			 bool wz)
{
	struct virtio_blk *b = r->q->b;
	uint8_t raw[BLK_DWZ_MAX_SEG * DWZ_ENTRY_SIZE];
	struct dwz_entry ent[BLK_DWZ_MAX_SEG];
	uint64_t len = c->readable_bytes - BLK_HDR_SIZE;
	const char *what = wz ? "write-zeroes" : "discard";
	unsigned n, nparts = 0;
	int err;

	if (b->img.read_only) {
		log_guest_warn("virtio-blk: %s on a read-only disk", what);
		return VIRTIO_BLK_S_IOERR;
	}
	if (!(b->negotiated &
	      F(wz ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD))) {
		log_guest_warn("virtio-blk: %s not negotiated", what);
		return VIRTIO_BLK_S_UNSUPP;
	}
	if (!len || len % DWZ_ENTRY_SIZE ||
	    len > BLK_DWZ_MAX_SEG * DWZ_ENTRY_SIZE) {
		log_guest_warn("virtio-blk: %s with %llu bytes of segments",
			       what, (unsigned long long)len);
		return VIRTIO_BLK_S_IOERR;
	}
	n = (unsigned)(len / DWZ_ENTRY_SIZE);
	err = chain_io(b->gm, c, false, BLK_HDR_SIZE, len, CH_READ, raw, NULL);
	if (err == -ENOMEM)
		return STATUS_RETRY;
	if (err) {
		log_guest_warn("virtio-blk: %s segments not in RAM", what);
		return VIRTIO_BLK_S_IOERR;
	}
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *e = raw + i * DWZ_ENTRY_SIZE;
		uint64_t s64;
		uint32_t s32;

		memcpy(&s64, e, 8);
		ent[i].sector = le64toh(s64);
		memcpy(&s32, e + 8, 4);
		ent[i].num_sectors = le32toh(s32);
		memcpy(&s32, e + 12, 4);
		ent[i].flags = le32toh(s32);
		/* Only WRITE_ZEROES knows a flag: UNMAP. A flag we do not
		 * know makes the whole command unsupported, whatever the
		 * other segments say. */
		if (ent[i].flags &
		    ~(wz ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0u)) {
			log_guest_warn("virtio-blk: %s with flags %#x", what,
				       ent[i].flags);
			return VIRTIO_BLK_S_UNSUPP;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (ent[i].num_sectors > BLK_DWZ_MAX_SECTORS ||
		    !in_range(b, ent[i].sector,
			      (uint64_t)ent[i].num_sectors << SECTOR_SHIFT)) {
			log_guest_warn("virtio-blk: bad %s: sector %llu, "
				       "%u sectors",
				       what, (unsigned long long)ent[i].sector,
				       ent[i].num_sectors);
			return VIRTIO_BLK_S_IOERR;
		}
		if (ent[i].num_sectors)
			nparts++;
	}
	if (!nparts)
		return VIRTIO_BLK_S_OK;
	/* All parts are counted first; queue_part counts out any the engine
	 * refuses. */
	r->parts_left = nparts;
	for (unsigned i = 0, j = 0; i < n; i++) {
		if (!ent[i].num_sectors)
			continue;
		queue_part(
		    r, j++, wz ? AIO_WRITE_ZEROES : AIO_DISCARD,
		    ent[i].sector << SECTOR_SHIFT,
		    (uint64_t)ent[i].num_sectors << SECTOR_SHIFT,
		    wz && (ent[i].flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP));
	}
	return parts_queued(r);
}

/* GET_ID: up to 20 bytes of serial, NUL padded, not necessarily
 * terminated, truncated to the buffer (§5.2.6). */
static uint8_t do_get_id(struct blk_req *r, const struct virtq_chain *c)
{
	struct virtio_blk *b = r->q->b;
	uint64_t len = c->writable_bytes - 1;
	int err;

	if (len > VIRTIO_BLK_SERIAL_MAX)
		len = VIRTIO_BLK_SERIAL_MAX;
	err = chain_io(b->gm, c, true, 0, len, CH_WRITE, b->serial, NULL);
	if (err == -ENOMEM)
		return STATUS_RETRY;
	if (err) {
		log_guest_warn("virtio-blk: GET_ID buffer not in RAM");
		return VIRTIO_BLK_S_IOERR;
	}
	r->data_written = (uint32_t)len;
	return VIRTIO_BLK_S_OK;
}

/* Start one request. Returns the final status, STATUS_PENDING when the
 * engine owns it now, or STATUS_RETRY when guest memory it needs cannot be
 * mapped until other requests complete (nothing was started). */
static uint8_t start_request(struct blk_req *r, const struct virtq_chain *c)
{
	struct virtio_blk *b = r->q->b;
	uint8_t hdr[BLK_HDR_SIZE];
	uint32_t type;
	uint64_t sector;
	unsigned kind = ST_OTHER;
	uint8_t status;
	int err;

	err = chain_io(b->gm, c, false, 0, BLK_HDR_SIZE, CH_READ, hdr, NULL);
	if (err == -ENOMEM)
		return STATUS_RETRY;
	if (err) {
		log_guest_warn("virtio-blk: request header not in RAM");
		r->q->c.reqs[ST_OTHER]++;
		return VIRTIO_BLK_S_IOERR;
	}
	memcpy(&type, hdr, 4);
	type = le32toh(type);
	memcpy(&sector, hdr + 8, 8);
	sector = le64toh(sector);

	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		kind = type == VIRTIO_BLK_T_OUT ? ST_WRITE : ST_READ;
		status = start_rw(r, c, type == VIRTIO_BLK_T_OUT, sector);
		break;
	case VIRTIO_BLK_T_FLUSH:
		kind = ST_FLUSH;
		/* Nothing was written through a read-only disk, so nothing
		 * needs making durable; and an image on a file system with
		 * no fsync (squashfs, iso9660) would fail every sync. */
		if (b->img.read_only) {
			status = VIRTIO_BLK_S_OK;
			break;
		}
		r->parts_left = 1;
		queue_part(r, 0, AIO_FLUSH, 0, 0, false);
		status = parts_queued(r);
		break;
	case VIRTIO_BLK_T_GET_ID:
		status = do_get_id(r, c);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		kind = ST_DWZ;
		status = start_dwz(r, c, type == VIRTIO_BLK_T_WRITE_ZEROES);
		break;
	default:
		log_guest_warn("virtio-blk: unsupported request type %u", type);
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	/* A request put back counts when it is taken for good. */
	if (status != STATUS_RETRY)
		r->q->c.reqs[kind]++;
	return status;
}

/* Whether a request that got -ENOMEM from guest_mem should wait: yes if,
 * when its data buffer failed to map, other requests held mappings that
 * their completions will release (counted at the failure: with I/O
 * threads another queue may release them before we look). If nothing
 * else did, dom0 cannot map even this request alone. A failed copy
 * (header, segments, ID: a bucket or two) waits, as a status byte does:
 * it fits once room returns. */
static bool worth_waiting(const struct blk_req *r)
{
	return r->sg.held_elsewhere > r->status_sg.n;
}

/* Undo handle_chain's start for a chain left in the ring for later. */
static void put_back(struct blk_req *r)
{
	struct blk_queue *q = r->q;

	guest_mem_sg_release(q->b->gm, &r->sg);
	guest_mem_sg_release(q->b->gm, &r->status_sg);
	r->next_free = q->free;
	q->free = r;
	q->in_flight--;
	virtq_unpop(q->vq);
}

/* Start the chain; false if it was put back unconsumed (see STATUS_RETRY):
 * a full mapping cache is our limit, not the driver's error, and a
 * request completed without its status would read as a stale success. */
static bool handle_chain(struct blk_queue *q, const struct virtq_chain *c)
{
	struct virtio_blk *b = q->b;
	struct blk_req *r = q->free;
	uint8_t status;
	int err;

	q->free = r->next_free;
	q->in_flight++;
	r->gen = q->gen;
	r->head = c->head;
	r->status = VIRTIO_BLK_S_OK;
	r->data_written = 0;
	r->parts_left = 0;
	r->rw = false;
	r->has_status = find_status(c, &r->status_gpa);
	/* A status byte we cannot write would hide the outcome from the
	 * driver: map it before touching the image, and keep it mapped. */
	if (r->has_status) {
		err = guest_mem_sg_add(b->gm, &r->status_sg, r->status_gpa, 1);
		/* Our cap, or dom0 short of memory for mappings: either way
		 * the byte is RAM, and one byte fits once room returns, so
		 * the chain waits even with nothing else in flight (retried
		 * every BLK_COLLECT_US). Completing it would leave the
		 * driver a stale status. */
		if (err == -ENOMEM) {
			put_back(r);
			return false;
		}
		if (err) {
			log_guest_warn("virtio-blk: status byte at %#llx not "
				       "in RAM",
				       (unsigned long long)r->status_gpa);
			r->has_status = false;
		}
	}

	if (!r->has_status || c->readable_bytes < BLK_HDR_SIZE) {
		/* No room for a header or a status: answer with IOERR where
		 * possible, else with an empty used entry. */
		log_guest_warn("virtio-blk: malformed request: %llu readable, "
			       "%llu writable bytes",
			       (unsigned long long)c->readable_bytes,
			       (unsigned long long)c->writable_bytes);
		q->c.reqs[ST_OTHER]++;
		if (r->has_status)
			r->used_len = zero_writable(b, c, 0);
		complete(r, VIRTIO_BLK_S_IOERR);
		return true;
	}
	r->sg.held_elsewhere = UINT_MAX; /* no data buffer failure yet */
	status = start_request(r, c);
	if (status == STATUS_RETRY) {
		bool wait = worth_waiting(r);

		guest_mem_sg_release(b->gm, &r->sg);
		if (wait) {
			put_back(r);
			return false;
		}
		log_guest_warn("virtio-blk: a request needs more guest RAM "
			       "mapped at once than the daemon allows");
		q->c.reqs[ST_OTHER]++;
		status = VIRTIO_BLK_S_IOERR;
	}
	/* What the request does not write of its writable part: all of it
	 * if it failed here, else what follows its data (GET_ID's short
	 * ID, the room a driver gave a write). */
	r->used_len =
	    zero_writable(b, c,
			  status == VIRTIO_BLK_S_OK || status == STATUS_PENDING
			      ? r->data_written
			      : 0);
	if (status != STATUS_PENDING)
		complete(r, status);
	return true;
}

/* How many more requests the driver may queue without notifying us. A
 * notification costs the guest a full ioreq round trip (trap, event
 * channel, our answer, its vCPU blocked throughout), so while reads or
 * writes are in flight the driver is not asked to notify at all: every
 * completion batch looks at the ring (blk_batch_done), and those in-flight
 * requests guarantee one. With nothing in flight every new request
 * notifies at once. A request so collected waits until the next of the
 * in-flight ones completes, or BLK_COLLECT_US if none does before (a slow
 * request must not hold back the ones queued behind it). Under real Xen
 * this halves the round trips per request at QD16 (docs/performance.md).
 *
 * With --idle-grace-us, the same holds for that long after the queue
 * drains: a driver that keeps the device busy only in bursts (its vCPU
 * the bottleneck) then queues its next burst without a trap, which costs
 * it a full round trip, and we collect it when the grace ends. A fixed
 * grace is never the default: a request queued then waits up to the
 * grace, which on hardware is longer than the trap it saves
 * (docs/performance.md, change 9); the default, auto, takes one only
 * where the guest answers interrupts slowly and keeps many requests in
 * flight (change 13). */
static uint16_t notify_slack(const struct blk_queue *q, bool grace)
{
	return q->rw_in_flight || grace ? q->vq->num : 0;
}

/* The eventfds between the guest's loop thread and the I/O threads: one
 * side signals, the other's loop wakes and clears. */
static void efd_signal(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0)
		log_error("virtio-blk: eventfd: %s", strerror(errno));
}

static void efd_clear(int fd)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_error("virtio-blk: eventfd: %s", strerror(errno));
}

/* Tell the guest's loop thread something happened on an I/O thread. */
static void wake_main(struct virtio_blk *b)
{
	efd_signal(b->main_fd);
}

/* The ring is broken (§2.1.2): the transport sets DEVICE_NEEDS_RESET. It
 * lives on the guest's loop thread, so an I/O thread leaves word there. */
static void report_broken(struct blk_queue *q)
{
	struct virtio_blk *b = q->b;

	if (!b->io_threads) {
		if (b->notify.needs_reset)
			b->notify.needs_reset(b->notify.opaque);
		return;
	}
	b->broken_gen = q->gen + 1;
	wake_main(b);
}

static void process_queue(struct blk_queue *q)
{
	/* At most a ring's worth per call: chains that complete at once
	 * (malformed, GET_ID, out of range) hold no request, and a guest
	 * refilling the ring as fast as we drain it must not keep the loop
	 * here, starving the other vCPUs, disks and signals. */
	unsigned budget = q->vq ? q->vq->num : 0;
	bool more = false;
	/* One reading of the clock for the whole pass: the slack offered and
	 * the timer that honours it must agree, or a request queued in the
	 * grace could be left with neither a notification nor a collection. */
	uint64_t now = q->grace_until ? loop_now_us() : 0;
	bool grace = now < q->grace_until;
	bool no_room = false;
	int r;

	if (!q->running || !q->vq || q->broken)
		return;
	/* With I/O threads a queue's requests are its own thread's alone:
	 * the guest's loop thread only passes notifications on. Kept in
	 * release builds: it costs a pthread_self(), and a queue served
	 * from two threads would corrupt its ring without a trace. */
	assert(!q->b->io_threads || pthread_equal(pthread_self(), q->self));
	q->stalled = false;
	for (;;) {
		virtq_disable_notify(q->vq);
		for (;;) {
			if (!budget--) {
				more = true;
				break;
			}
			if (!q->free) {
				/* More requests than we can hold (a driver
				 * reusing heads): resume on completion. */
				q->stalled = true;
				break;
			}
			r = virtq_pop(q->vq, &q->chain);
			if (r == 0)
				break;
			if (r == -EAGAIN) {
				q->stalled = no_room = true;
				break;
			}
			if (r == -EIO) {
				/* virtq_pop logged why: one line per fault. */
				q->broken = true;
				report_broken(q);
				break;
			}
			if (r < 0) {
				/* virtq_pop logged why. The chain's addresses
				 * are not trusted, so no status byte is
				 * written: used len 0. */
				q->c.errors++;
				virtq_push(q->vq, q->chain.head, 0);
				q->need_flush = true;
				continue;
			}
			if (!handle_chain(q, &q->chain)) {
				q->stalled = no_room = true;
				break;
			}
		}
		/* One io_submit for everything popped. */
		aio_engine_submit(q->eng);
		if (more || q->stalled || q->broken ||
		    !virtq_enable_notify_slack(q->vq, notify_slack(q, grace)))
			break;
	}
	/* Rate-limited: the guest's own requests bring this about. */
	if (no_room && !q->no_room)
		log_guest_warn(
		    "virtio-blk: queue %u: no room to map guest RAM (the "
		    "daemon's cap reached, or dom0 short of memory); the "
		    "next request waits for it",
		    q->index);
	q->no_room = no_room;
	/* Each pass moves the deadline: it expires only when nothing has
	 * completed for that long. With nothing in flight the driver
	 * notifies again and the timer has nothing to collect. Budget spent:
	 * the rest after the loop's other work. Waiting for mapping room
	 * held by another disk's requests: try again as often. */
	if (more)
		loop_timer_arm(q->collect, 0);
	else if ((q->rw_in_flight || no_room) && !q->broken)
		loop_timer_arm(q->collect, BLK_COLLECT_US);
	else if (grace && !q->broken)
		loop_timer_arm(q->collect, q->grace_until - now);
	else
		loop_timer_cancel(q->collect);
}

static void collect_expired(void *opaque)
{
	struct blk_queue *q = opaque;

	if (q->vq) {
		process_queue(q);
		publish(q);
	}
}

/* Loop poller: requests the driver queued without notifying us (see
 * notify_slack) are taken as soon as they appear, not at the next
 * completion. */
static bool poll_avail(void *opaque)
{
	struct virtio_blk *b = opaque;
	bool work = false;

	for (unsigned i = 0; i < b->nq; i++) {
		struct blk_queue *q = &b->q[i];

		if (!q->running || !q->vq || q->stalled || q->broken ||
		    !virtq_has_avail(q->vq))
			continue;
		process_queue(q);
		work = true;
	}
	publish_all(b);
	return work;
}

/* ----------------------------------------------------------------- ops */

static uint64_t blk_features(void *dev)
{
	return ((struct virtio_blk *)dev)->offered;
}

static uint32_t blk_config_generation(void *dev)
{
	return ((struct virtio_blk *)dev)->config_gen;
}

bool virtio_blk_check_capacity(struct virtio_blk *b, uint64_t *new_sectors)
{
	uint64_t size, sectors, old = atomic_load(&b->capacity);
	int r = image_size_now(&b->img, &size);

	if (r < 0) {
		log_debug("%s: cannot size the image: %s", b->img.path,
			  strerror(-r));
		return false;
	}
	sectors = size >> SECTOR_SHIFT;
	if (sectors == old)
		return false;
	log_info("%s: resized from %llu to %llu sectors; telling the guest",
		 b->img.path, (unsigned long long)old,
		 (unsigned long long)sectors);
	/* Requests already checked against the old capacity may still run:
	 * past a shrunken end they read short, which is an I/O error. */
	atomic_store(&b->capacity, sectors);
	b->cfg.capacity = htole64(sectors);
	b->config_gen++;
	if (b->notify.config_changed)
		b->notify.config_changed(b->notify.opaque);
	*new_sectors = sectors;
	return true;
}

static bool blk_set_features(void *dev, uint64_t features)
{
	struct virtio_blk *b = dev;

	/* Legacy drivers are not served; nor are bits we never offered. */
	if (!(features & F(VIRTIO_F_VERSION_1)) || (features & ~b->offered))
		return false;
	b->negotiated = features;
	return true;
}

static uint32_t blk_config_read(void *dev, uint32_t off, void *buf,
				uint32_t len)
{
	struct virtio_blk *b = dev;
	uint32_t size = sizeof(b->cfg);

	if (off < size)
		memcpy(buf, (const char *)&b->cfg + off,
		       len < size - off ? len : size - off);
	return size;
}

static void blk_config_write(void *dev, uint32_t off, const void *buf,
			     uint32_t len)
{
	/* No writable field is offered (no CONFIG_WCE). */
	(void)dev;
	(void)off;
	(void)buf;
	(void)len;
}

/* §5.2.2: without VIRTIO_BLK_F_MQ there is one request queue. */
static unsigned blk_num_queues(void *dev)
{
	const struct virtio_blk *b = dev;

	return b->negotiated && !(b->negotiated & F(VIRTIO_BLK_F_MQ)) ? 1
								      : b->nq;
}

static void blk_start(void *dev, struct virtq *vqs, unsigned nvq,
		      const struct virtio_notify *notify)
{
	struct virtio_blk *b = dev;
	unsigned used = blk_num_queues(b);

	b->notify = *notify;
	for (unsigned i = 0; i < b->nq; i++) {
		struct blk_queue *q = &b->q[i];

		pthread_mutex_lock(&q->lock);
		/* A queue the driver left unused, or that does not exist
		 * under the features negotiated, stays NULL for good: none
		 * can be enabled after DRIVER_OK (4.2.2, no RING_RESET). */
		q->vq = i < nvq && i < used && vqs[i].started ? &vqs[i] : NULL;
		q->stalled = q->broken = q->need_flush = q->drained = false;
		q->grace_until = 0;
		q->rw_peak = q->depth_hint = 0;
		q->running = true;
		pthread_mutex_unlock(&q->lock);
	}
}

/* The transport passes only queues that exist and are ready; a device
 * keeps its own bounds all the same. */
static void notify_unused(unsigned qi)
{
	log_guest_warn("virtio-blk: notify for queue %u, not in use", qi);
}

static void blk_queue_notify(void *dev, unsigned qi)
{
	struct virtio_blk *b = dev;
	struct blk_queue *q;

	b->notifies++;
	if (qi >= b->nq) {
		notify_unused(qi);
		return;
	}
	q = &b->q[qi];
	if (b->io_threads) {
		/* The queue's thread looks at q->vq itself, under its lock. */
		efd_signal(q->kick_fd);
		return;
	}
	if (!q->vq) {
		notify_unused(qi);
		return;
	}
	process_queue(q);
	publish(q);
}

/* Results nobody will see: a guest's 16 segments of 2 GiB of WRITE_ZEROES
 * per request, all of them written out where the storage cannot zero by
 * itself, would otherwise hold a reset or a teardown for hours. */
void virtio_blk_abandon(struct virtio_blk *b)
{
	if (b->eng)
		aio_engine_abandon(b->eng);
	if (b->io_threads)
		for (unsigned i = 0; i < b->nq; i++)
			if (b->q[i].eng)
				aio_engine_abandon(b->q[i].eng);
}

/* Take nothing more from any queue; what is in flight completes without
 * touching guest memory. From here on no queue touches its ring or raises
 * an interrupt: with I/O threads, each queue's lock is taken, so none is
 * in the middle of it. */
static void stop_queues(struct virtio_blk *b)
{
	b->gen++; /* in-flight completions now only free resources */
	for (unsigned i = 0; i < b->nq; i++) {
		struct blk_queue *q = &b->q[i];

		pthread_mutex_lock(&q->lock);
		q->running = false;
		q->gen = b->gen;
		q->vq = NULL;
		q->stalled = q->need_flush = q->no_room = false;
		pthread_mutex_unlock(&q->lock);
	}
	virtio_blk_abandon(b);
}

/* Call the waits whose engines are all idle (the guest's loop thread). */
static void finish_idle_waits(struct virtio_blk *b)
{
	for (unsigned i = 0; i < AIO_IDLE_WAITERS; i++) {
		struct blk_idle_wait *w = &b->waits[i];

		if (w->used && atomic_load(&w->left) == 0) {
			w->used = false;
			w->fn(w->opaque);
		}
	}
}

/* An engine is idle: count it off the wait. On an I/O thread the last
 * one hands the wait to the guest's loop thread. */
static void queue_idle(void *opaque)
{
	struct blk_idle_wait *w = opaque;
	/* Read before the count drops: once it is 0 the guest's loop thread
	 * may finish the wait and reuse the slot. */
	struct virtio_blk *b = w->b;

	if (atomic_fetch_sub(&w->left, 1) != 1)
		return;
	if (b->io_threads)
		wake_main(b);
	else
		finish_idle_waits(b);
}

/* Block until q's engine is idle: when_idle()'s fallbacks. With I/O
 * threads the lock keeps the queue's thread out meanwhile; without, it is
 * not taken, since a wait the drain finishes may read the statistics. */
static void drain_engine(struct blk_queue *q)
{
	if (q->b->io_threads)
		pthread_mutex_lock(&q->lock);
	aio_engine_drain(q->eng);
	if (q->b->io_threads)
		pthread_mutex_unlock(&q->lock);
}

/* done(opaque) once every queue's engine is idle (maybe now). */
static void when_idle(struct virtio_blk *b, void (*done)(void *opaque),
		      void *opaque)
{
	struct blk_idle_wait *w = NULL;
	unsigned engines = b->io_threads ? b->nq : 1;

	for (unsigned i = 0; i < AIO_IDLE_WAITERS && !w; i++)
		if (!b->waits[i].used)
			w = &b->waits[i];
	if (!w) {
		/* Cannot happen with one reset, one stop and one quiesce at
		 * most; if it did, block rather than never answer. */
		log_error("virtio-blk: too many waits for idle engines");
		for (unsigned i = 0; i < engines; i++)
			drain_engine(&b->q[i]);
		done(opaque);
		return;
	}
	*w = (struct blk_idle_wait){
	    .b = b, .fn = done, .opaque = opaque, .used = true};
	atomic_store(&w->left, engines + 1);
	for (unsigned i = 0; i < engines; i++) {
		struct blk_queue *q = &b->q[i];
		int busy;

		pthread_mutex_lock(&q->lock);
		busy = aio_engine_when_idle(q->eng, queue_idle, w);
		pthread_mutex_unlock(&q->lock);
		if (busy) {
			/* As above (AIO_IDLE_WAITERS per engine). */
			log_error("virtio-blk: queue %u: engine busy", i);
			drain_engine(q);
			atomic_fetch_sub(&w->left, 1); /* never the last */
		}
	}
	/* Registered with every engine: drop the registration's own count;
	 * if the engines were all idle already, done now. */
	if (atomic_fetch_sub(&w->left, 1) == 1)
		finish_idle_waits(b);
}

/* The guest's loop thread, woken by an I/O thread (wake_main). */
static void main_woken(void *opaque, uint32_t events)
{
	struct virtio_blk *b = opaque;
	uint64_t broken;

	(void)events;
	efd_clear(b->main_fd);
	/* A ring that broke before the last reset is the old driver's. */
	broken = atomic_exchange(&b->broken_gen, 0);
	if (broken && broken - 1 == b->gen && b->notify.needs_reset)
		b->notify.needs_reset(b->notify.opaque);
	finish_idle_waits(b);
}

/* A queue's I/O thread: its loop, holding q->lock whenever it works. */
static void *queue_thread(void *opaque)
{
	struct blk_queue *q = opaque;

	pthread_mutex_lock(&q->lock);
	q->self = pthread_self();
	pthread_mutex_unlock(&q->lock);
	if (loop_run(q->loop) < 0)
		log_error("virtio-blk: queue %u: event loop failed", q->index);
	return NULL;
}

/* On the queue's thread: a notification the guest's loop passed on, or
 * the order to return. */
static void queue_kicked(void *opaque, uint32_t events)
{
	struct blk_queue *q = opaque;

	(void)events;
	efd_clear(q->kick_fd);
	if (q->exit) {
		loop_stop(q->loop);
		return;
	}
	if (!q->vq) {
		if (q->running) /* else a notification raced a stop */
			notify_unused(q->index);
		return;
	}
	process_queue(q);
	publish(q);
}

static void blk_stop(void *dev, void (*done)(void *opaque), void *opaque)
{
	stop_queues(dev);
	when_idle(dev, done, opaque);
}

static void blk_reset(void *dev, void (*done)(void *opaque), void *opaque)
{
	struct virtio_blk *b = dev;

	stop_queues(b);
	memset(&b->notify, 0, sizeof(b->notify));
	b->negotiated = 0;
	when_idle(b, done, opaque);
}

static void blk_quiesce(void *dev, void (*done)(void *opaque), void *opaque)
{
	struct virtio_blk *b = dev;

	for (unsigned i = 0; i < b->nq; i++) {
		pthread_mutex_lock(&b->q[i].lock);
		b->q[i].running = false;
		pthread_mutex_unlock(&b->q[i].lock);
	}
	when_idle(b, done, opaque);
}

/* QueueNumMax is "the maximum size of the queue the device is ready to
 * process" (virtio 1.2 §4.2.2): our request pool, so that a driver filling
 * its whole ring never stalls on the pool. */
static uint16_t blk_queue_num_max(void *dev)
{
	return (uint16_t)((struct virtio_blk *)dev)->queue_size;
}

const struct virtio_device_ops virtio_blk_ops = {
    .device_id = 2, /* VIRTIO_ID_BLOCK */
    .num_queues = blk_num_queues,
    .queue_num_max = blk_queue_num_max,
    .features = blk_features,
    .set_features = blk_set_features,
    .config_read = blk_config_read,
    .config_generation = blk_config_generation,
    .config_write = blk_config_write,
    .start = blk_start,
    .queue_notify = blk_queue_notify,
    .reset = blk_reset,
    .quiesce = blk_quiesce,
    .stop = blk_stop,
};

/* ---------------------------------------------------------- lifecycle */

/* Stable across restarts: a hash of where the image lives. */
static void derive_serial(struct virtio_blk *b, const struct stat *st)
{
	uint64_t v[2] = {(uint64_t)st->st_dev, (uint64_t)st->st_ino};
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	char buf[VIRTIO_BLK_SERIAL_MAX + 1];

	if (S_ISBLK(st->st_mode)) {
		v[0] = (uint64_t)st->st_rdev;
		v[1] = 0;
	}
	for (unsigned i = 0; i < sizeof(v); i++) {
		h ^= ((const uint8_t *)v)[i];
		h *= 0x100000001b3ULL;
	}
	snprintf(buf, sizeof(buf), "xvb-%016llx", (unsigned long long)h);
	memcpy(b->serial, buf, VIRTIO_BLK_SERIAL_MAX);
}

static void setup_config(struct virtio_blk *b, const struct stat *st)
{
	struct virtio_blk_config *c = &b->cfg;
	const struct image *img = &b->img;
	/* Files: 512, so an image keeps its LBA size when it moves between
	 * hosts (unaligned I/O to a 4 KiB O_DIRECT file is handled by the
	 * engine). Block devices: their own logical block. */
	uint32_t blk_size = img->is_blkdev ? img->logical_block : SECTOR_SIZE;
	uint32_t align = img->is_blkdev ? img->logical_block : SECTOR_SIZE;

	if (!img->is_blkdev && st->st_blksize > 0 &&
	    st->st_blksize <= (1 << 20) &&
	    !(st->st_blksize & (st->st_blksize - 1)) &&
	    (uint32_t)st->st_blksize > align)
		align = (uint32_t)st->st_blksize;
	align /= SECTOR_SIZE;

	memset(c, 0, sizeof(*c));
	c->capacity = htole64(b->capacity);
	c->size_max = htole32(b->size_max);
	c->seg_max = htole32(b->seg_max);
	c->blk_size = htole32(blk_size);
	c->num_queues = htole16((uint16_t)b->nq);
	if (b->offered & F(VIRTIO_BLK_F_DISCARD)) {
		c->max_discard_sectors = htole32(BLK_DWZ_MAX_SECTORS);
		c->max_discard_seg = htole32(BLK_DWZ_MAX_SEG);
		c->discard_sector_alignment = htole32(align);
	}
	if (b->offered & F(VIRTIO_BLK_F_WRITE_ZEROES)) {
		c->max_write_zeroes_sectors = htole32(BLK_DWZ_MAX_SECTORS);
		c->max_write_zeroes_seg = htole32(BLK_DWZ_MAX_SEG);
		c->write_zeroes_may_unmap = img->can_discard;
	}
}

static int setup_queue(struct virtio_blk *b, unsigned index)
{
	struct blk_queue *q = &b->q[index];
	size_t n = (size_t)b->queue_size * b->max_pieces;

	q->reqs = calloc(b->queue_size, sizeof(*q->reqs));
	q->iov_pool = calloc(n, sizeof(*q->iov_pool));
	q->pin_pool = calloc(n, sizeof(*q->pin_pool));
	if (!q->reqs || !q->iov_pool || !q->pin_pool)
		return -ENOMEM;
	for (unsigned i = b->queue_size; i-- > 0;) {
		struct blk_req *r = &q->reqs[i];

		r->q = q;
		r->sg.max = b->max_pieces;
		r->status_sg.max = 1;
		r->status_sg.iov = &r->status_iov;
		r->status_sg.pin = &r->status_pin;
		r->sg.iov = q->iov_pool + (size_t)i * b->max_pieces;
		r->sg.pin = q->pin_pool + (size_t)i * b->max_pieces;
		r->next_free = q->free;
		q->free = r;
	}
	return 0;
}

/* The kernel AIO context's depth: every request of every queue, capped at
 * BLK_MAX_ENGINE_DEPTH or one queue's worth, whichever is larger: the
 * depths of all AIO contexts on the host count against fs.aio-max-nr
 * (65536 by default), and requests beyond it wait in the engine. With I/O
 * threads each queue has a context of its own, with an equal share of the
 * cap (at most a queue's worth). */
static unsigned engine_depth(unsigned qs, unsigned nq, bool per_queue)
{
	unsigned all = qs * nq, share = BLK_MAX_ENGINE_DEPTH / nq;

	if (per_queue)
		return share < qs ? share : qs;
	if (all <= BLK_MAX_ENGINE_DEPTH)
		return all;
	return qs > BLK_MAX_ENGINE_DEPTH ? qs : BLK_MAX_ENGINE_DEPTH;
}

/* With --io-threads: queue q's own loop, engine and notification eventfd,
 * on the thread start_threads() starts. */
static int setup_queue_thread(struct virtio_blk *b, struct blk_queue *q,
			      unsigned submit_batch)
{
	q->loop = loop_new();
	if (!q->loop)
		return -ENOMEM;
	loop_set_lock(q->loop, &q->lock);
	q->eng = aio_engine_new(q->loop, &b->img,
				engine_depth(b->queue_size, b->nq, true),
				queue_batch_done, q);
	if (!q->eng)
		return -EIO;
	aio_engine_set_submit_batch(q->eng, submit_batch);
	q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->kick_fd < 0)
		return -errno;
	return loop_add(q->loop, q->kick_fd, EPOLLIN, queue_kicked, q);
}

/* The threads take no signal: the guest's loop thread handles them. */
static int start_threads(struct virtio_blk *b)
{
	sigset_t all, old;
	int r = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < b->nq && !r; i++) {
		char name[16];

		r = pthread_create(&b->q[i].thread, NULL, queue_thread,
				   &b->q[i]);
		b->q[i].has_thread = r == 0;
		/* For ps -L and top -H; the tests look for them too. A
		 * name has 15 characters at most, hence the % 100. */
		snprintf(name, sizeof(name), "xvb-d%u-q%u", b->index % 100,
			 i % 100);
		if (!r)
			pthread_setname_np(b->q[i].thread, name);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}

static void stop_threads(struct virtio_blk *b)
{
	for (unsigned i = 0; i < b->nq; i++) {
		struct blk_queue *q = &b->q[i];

		if (!q->has_thread)
			continue;
		pthread_mutex_lock(&q->lock);
		q->exit = true;
		pthread_mutex_unlock(&q->lock);
		efd_signal(q->kick_fd);
		pthread_join(q->thread, NULL);
		q->has_thread = false;
	}
}

struct virtio_blk *virtio_blk_new(struct loop *loop, struct guest_mem *gm,
				  const struct virtio_blk_params *p, char *err,
				  size_t errlen)
{
	struct virtio_blk *b;
	unsigned qs = p->queue_size ? p->queue_size : BLK_DEFAULT_QUEUE;
	unsigned nq = p->num_queues ? p->num_queues : 1;
	struct stat st;
	int r;

	if (qs < BLK_MIN_QUEUE || qs > VIRTQ_MAX_SIZE || (qs & (qs - 1))) {
		snprintf(err, errlen,
			 "queue size %u: not a power of two in [%d, %d]", qs,
			 BLK_MIN_QUEUE, VIRTQ_MAX_SIZE);
		return NULL;
	}
	if (nq > VIRTIO_BLK_MAX_QUEUES) {
		snprintf(err, errlen, "%u queues: at most %d", nq,
			 VIRTIO_BLK_MAX_QUEUES);
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->q = calloc(nq, sizeof(*b->q));
	if (!b->q) {
		free(b);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->nq = nq;
	b->loop = loop;
	b->gm = gm;
	b->img.fd = b->img.sync_fd = -1;
	b->main_fd = -1;
	b->io_threads = p->io_threads;
	b->index = p->index;
	for (unsigned i = 0; i < nq; i++) {
		b->q[i].b = b;
		b->q[i].index = i;
		b->q[i].loop = loop;
		b->q[i].kick_fd = -1;
		pthread_mutex_init(&b->q[i].lock, NULL);
	}
	r = image_open_wait(&b->img, p->path, p->read_only, p->in_use_wait_ms,
			    err, errlen);
	if (r)
		goto fail;
	memset(&st, 0, sizeof(st)); /* the null backend has nothing to stat */
	if (!b->img.is_null && fstat(b->img.fd, &st) < 0) {
		snprintf(err, errlen, "cannot stat %s: %s", p->path,
			 strerror(errno));
		goto fail;
	}
	b->capacity = b->img.size >> SECTOR_SHIFT;
	if (b->img.size % SECTOR_SIZE)
		log_warn("%s: its last %u bytes are not a whole sector; the "
			 "guest does not see them",
			 p->path, (unsigned)(b->img.size % SECTOR_SIZE));
	b->queue_size = qs;
	b->idle_grace_us = p->idle_grace_us;
	b->guest_reaction_us = p->guest_reaction_us;
	b->reaction_opaque = p->reaction_opaque;
	/* Room for the header and status descriptors in a direct chain. */
	b->seg_max = (qs < 256 ? qs : 256) - 2;
	b->size_max = (BLK_MAX_DATA / b->seg_max) & ~4095u;
	if (b->size_max < 4096)
		b->size_max = 4096;
	b->max_data = (uint64_t)b->seg_max * b->size_max;
	/* Worst case for a driver within seg_max: every segment (and the two
	 * that may share header or status) split at bucket edges. */
	b->max_pieces = 2 * (b->seg_max + 2) +
			(unsigned)(b->max_data / GUEST_MEM_BUCKET_SIZE) + 2;

	if (p->serial) {
		size_t n = strnlen(p->serial, VIRTIO_BLK_SERIAL_MAX);

		memcpy(b->serial, p->serial, n);
	} else {
		derive_serial(b, &st);
	}

	b->offered = F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_INDIRECT_DESC) |
		     F(VIRTIO_RING_F_EVENT_IDX) | F(VIRTIO_BLK_F_SEG_MAX) |
		     F(VIRTIO_BLK_F_SIZE_MAX) | F(VIRTIO_BLK_F_BLK_SIZE) |
		     F(VIRTIO_BLK_F_FLUSH);
	if (nq > 1)
		b->offered |= F(VIRTIO_BLK_F_MQ);
	if (b->img.read_only)
		b->offered |= F(VIRTIO_BLK_F_RO);
	if (!b->img.read_only && b->img.can_discard)
		b->offered |= F(VIRTIO_BLK_F_DISCARD);
	if (!b->img.read_only && b->img.can_write_zeroes)
		b->offered |= F(VIRTIO_BLK_F_WRITE_ZEROES);
	setup_config(b, &st);

	for (unsigned i = 0; i < b->nq; i++) {
		if (setup_queue(b, i)) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (b->io_threads) {
		for (unsigned i = 0; i < b->nq; i++) {
			r = setup_queue_thread(b, &b->q[i], p->submit_batch);
			if (r) {
				snprintf(err, errlen,
					 "%s: cannot start queue %u's I/O "
					 "thread: %s",
					 p->path, i, strerror(-r));
				goto fail;
			}
		}
		b->main_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		r = b->main_fd < 0
			? -errno
			: loop_add(loop, b->main_fd, EPOLLIN, main_woken, b);
		if (r) {
			snprintf(err, errlen, "%s: eventfd: %s", p->path,
				 strerror(-r));
			goto fail;
		}
	} else {
		b->eng = aio_engine_new(loop, &b->img,
					engine_depth(qs, b->nq, false),
					blk_batch_done, b);
		if (!b->eng) {
			snprintf(err, errlen, "%s: cannot start the I/O engine",
				 p->path);
			goto fail;
		}
		aio_engine_set_submit_batch(b->eng, p->submit_batch);
		for (unsigned i = 0; i < b->nq; i++)
			b->q[i].eng = b->eng;
		/* Polling is the guest loop's (--poll-us); I/O threads
		 * sleep between events. */
		if (loop_add_poller(loop, poll_avail, b)) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		b->polling = true;
	}
	for (unsigned i = 0; i < b->nq; i++) {
		b->q[i].collect =
		    loop_timer_new(b->q[i].loop, collect_expired, &b->q[i]);
		if (!b->q[i].collect) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (b->io_threads && (r = start_threads(b))) {
		snprintf(err, errlen, "%s: cannot start I/O threads: %s",
			 p->path, strerror(-r));
		goto fail;
	}
	return b;

fail:
	virtio_blk_free(b);
	return NULL;
}

void virtio_blk_free(struct virtio_blk *b)
{
	if (!b)
		return;
	/* From here on one thread: the guest's. */
	stop_threads(b);
	/* Whatever is still in flight completes without touching rings. */
	b->gen++;
	for (unsigned i = 0; i < b->nq; i++) {
		b->q[i].running = false;
		b->q[i].gen = b->gen;
		b->q[i].vq = NULL;
	}
	if (b->polling)
		loop_del_poller(b->loop, poll_avail, b);
	for (unsigned i = 0; i < b->nq; i++)
		loop_timer_free(b->q[i].collect);
	virtio_blk_abandon(b);
	if (b->eng)
		aio_engine_free(b->eng);
	if (b->io_threads)
		for (unsigned i = 0; i < b->nq; i++)
			aio_engine_free(b->q[i].eng); /* NULL if never made */
	/* Draining may have finished a reset the transport holds. */
	finish_idle_waits(b);
	if (b->main_fd >= 0) {
		loop_del(b->loop, b->main_fd);
		close(b->main_fd);
	}
	image_close(&b->img);
	for (unsigned i = 0; i < b->nq; i++) {
		struct blk_queue *q = &b->q[i];

		if (q->kick_fd >= 0)
			close(q->kick_fd);
		if (q->loop != b->loop) /* its own, not set up yet otherwise */
			loop_free(q->loop);
		pthread_mutex_destroy(&q->lock);
		free(q->reqs);
		free(q->iov_pool);
		free(q->pin_pool);
	}
	free(b->q);
	free(b);
}

void virtio_blk_get_stats(struct virtio_blk *b, struct virtio_blk_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->notifies = b->notifies;
	s->queues = b->nq;
	for (unsigned i = 0; i < b->nq; i++) {
		struct blk_queue *q = &b->q[i];
		struct blk_counters c;

		pthread_mutex_lock(&q->lock);
		c = q->c;
		s->in_flight += q->in_flight;
		pthread_mutex_unlock(&q->lock);
		for (unsigned k = 0; k < ST_KINDS; k++)
			s->reqs[k] += c.reqs[k];
		s->bytes_read += c.bytes_read;
		s->bytes_written += c.bytes_written;
		s->errors += c.errors;
		s->unsupported += c.unsupported;
		s->interrupts += c.interrupts;
		s->queue_completed[i] = c.completed;
	}
	s->capacity_sectors = b->capacity;
}
