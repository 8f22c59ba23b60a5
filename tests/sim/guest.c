/* SPDX-License-Identifier: GPL-2.0-only */
/* The Linux-like guest driver: see guest.h. Facts from
 * xen-ioreq-facts.md section 7 and Linux 6.1 drivers/virtio/virtio_mmio.c,
 * virtio_ring.c (split ring) and drivers/block/virtio_blk.c. */
#include "guest.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#define WAIT_SLICE_MS 100
#define RING_ALIGN    4096 /* VIRTIO_MMIO_VRING_ALIGN = PAGE_SIZE */
#define ALLOC_GRAIN   64

/* ------------------------------------------------------------ guest RAM */

struct extent {
	uint64_t off, len;
};

struct guest {
	struct sim_hv *hv;
	struct sim_dom *dom;
	unsigned vcpus;
	int timeout_ms; /* a register access that takes longer failed */
	uint8_t *ram;
	uint64_t ram_size;
	pthread_mutex_t mu;
	/* By RAM offset, sorted, coalesced within a bank but never across
	 * its edge: an allocation is contiguous in guest physical space. */
	struct extent *free;
	unsigned nfree, maxfree;
	bool alloc_high; /* the highest extent that fits first */
};

struct guest *guest_new(struct sim_hv *hv, unsigned vcpus)
{
	struct sim_dom *dom = sim_hv_default_domain(hv);

	return dom ? guest_new_dom(dom, vcpus) : NULL;
}

struct guest *guest_new_dom(struct sim_dom *dom, unsigned vcpus)
{
	struct guest *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->hv = sim_dom_hv(dom);
	g->dom = dom;
	g->vcpus = vcpus ? vcpus : 1;
	g->timeout_ms = GUEST_DEFAULT_TIMEOUT_MS;
	g->ram = sim_dom_ram(dom);
	g->ram_size = sim_dom_ram_size(dom);
	pthread_mutex_init(&g->mu, NULL);
	g->maxfree = 64;
	g->free = calloc(g->maxfree, sizeof(*g->free));
	if (!g->free) {
		free(g);
		return NULL;
	}
	uint64_t bank0 = sim_ram_bank0(g->ram_size);

	if (bank0 > GUEST_RESERVED_LOW)
		g->free[g->nfree++] = (struct extent){
		    GUEST_RESERVED_LOW, bank0 - GUEST_RESERVED_LOW};
	if (g->ram_size > bank0)
		g->free[g->nfree++] =
		    (struct extent){bank0, g->ram_size - bank0};
	return g;
}

void guest_free(struct guest *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->mu);
	free(g->free);
	free(g);
}

void guest_set_alloc_high(struct guest *g, bool on)
{
	g->alloc_high = on;
}

void guest_set_timeout(struct guest *g, int timeout_ms)
{
	g->timeout_ms = timeout_ms;
}

unsigned guest_vcpus(const struct guest *g)
{
	return g->vcpus;
}

struct sim_hv *guest_hv(const struct guest *g)
{
	return g->hv;
}

struct sim_dom *guest_dom(const struct guest *g)
{
	return g->dom;
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int extent_insert(struct guest *g, unsigned at, uint64_t off,
			 uint64_t len)
{
	if (g->nfree == g->maxfree) {
		unsigned n = g->maxfree * 2;
		struct extent *e = realloc(g->free, n * sizeof(*e));

		if (!e)
			return -ENOMEM;
		g->free = e;
		g->maxfree = n;
	}
	memmove(&g->free[at + 1], &g->free[at],
		(g->nfree - at) * sizeof(*g->free));
	g->free[at].off = off;
	g->free[at].len = len;
	g->nfree++;
	return 0;
}

static void extent_remove(struct guest *g, unsigned at)
{
	memmove(&g->free[at], &g->free[at + 1],
		(g->nfree - at - 1) * sizeof(*g->free));
	g->nfree--;
}

/* Take size bytes aligned to align from the start of extent i: true and
 * the RAM offset in *off, or false if they do not fit (or on ENOMEM). */
static bool extent_take(struct guest *g, unsigned i, uint64_t size,
			uint64_t align, uint64_t *off)
{
	struct extent *e = &g->free[i];
	uint64_t start = round_up(e->off, align);
	uint64_t end = e->off + e->len;

	if (start >= end || end - start < size)
		return false;
	/* Keep the tail, then trim or split the head. */
	uint64_t tail_off = start + size, tail_len = end - tail_off;
	uint64_t head_len = start - e->off;

	if (head_len == 0 && tail_len == 0) {
		extent_remove(g, i);
	} else if (head_len == 0) {
		e->off = tail_off;
		e->len = tail_len;
	} else {
		e->len = head_len;
		if (tail_len && extent_insert(g, i + 1, tail_off, tail_len) < 0)
			return false;
	}
	*off = start;
	return true;
}

uint64_t guest_alloc(struct guest *g, uint64_t size, uint64_t align)
{
	uint64_t off, gpa = 0;

	if (size == 0)
		size = 1;
	size = round_up(size, ALLOC_GRAIN);
	if (align < ALLOC_GRAIN)
		align = ALLOC_GRAIN;
	pthread_mutex_lock(&g->mu);
	for (unsigned k = 0; k < g->nfree; k++) {
		unsigned i = g->alloc_high ? g->nfree - 1 - k : k;

		if (extent_take(g, i, size, align, &off)) {
			gpa = sim_ram_gpa(off);
			break;
		}
	}
	pthread_mutex_unlock(&g->mu);
	return gpa;
}

void guest_mfree(struct guest *g, uint64_t gpa, uint64_t size)
{
	uint64_t off;
	unsigned i;

	if (!gpa || !sim_ram_range(g->ram_size, gpa, 1, &off))
		return;
	if (size == 0)
		size = 1;
	size = round_up(size, ALLOC_GRAIN);
	pthread_mutex_lock(&g->mu);
	for (i = 0; i < g->nfree && g->free[i].off < off; i++)
		;
	/* Bank 0 ends at RAM offset SIM_RAM0_SIZE: nothing merges over it. */
	bool merge_prev = i > 0 && off != SIM_RAM0_SIZE &&
			  g->free[i - 1].off + g->free[i - 1].len == off;
	bool merge_next = i < g->nfree && off + size != SIM_RAM0_SIZE &&
			  off + size == g->free[i].off;

	if (merge_prev && merge_next) {
		g->free[i - 1].len += size + g->free[i].len;
		extent_remove(g, i);
	} else if (merge_prev) {
		g->free[i - 1].len += size;
	} else if (merge_next) {
		g->free[i].off = off;
		g->free[i].len += size;
	} else {
		/* On ENOMEM the range leaks: harmless in a test process. */
		(void)extent_insert(g, i, off, size);
	}
	pthread_mutex_unlock(&g->mu);
}

void *guest_ptr(struct guest *g, uint64_t gpa, uint64_t len)
{
	uint64_t off;

	if (!sim_ram_range(g->ram_size, gpa, len, &off))
		return NULL;
	return g->ram + off;
}

/* ------------------------------------------------------------- the device */

struct gqueue {
	unsigned index, num;
	uint64_t ring_gpa, ring_bytes;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t *used_event;  /* avail->ring[num] */
	uint16_t *avail_event; /* after used->ring[num] */
	uint16_t avail_idx_shadow, avail_flags_shadow, last_used_idx;
	unsigned num_added, num_free;
	uint16_t free_head;
	uint16_t *next_free; /* private chain links: never read back from RAM */
	struct greq **data;  /* per head */
	bool event_triggered;
};

struct gdev {
	struct guest *g;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool irq_leader;
	uint64_t irq_seen;
	/* Linux's spurious-interrupt rule (kernel/irq/spurious.c,
	 * note_interrupt): of each 100,000 interrupts, more than 99,900 not
	 * handled and the line is disabled for good. */
	unsigned irq_count, irqs_unhandled;
	long long last_unhandled_ms;
	bool irq_disabled;
	bool irq_held; /* gdev_hold_irq() */
	int irq_err;   /* take_pending_irq()'s failure, for the next wait */
	struct gdev_info info;
	bool ready, broken, needs_reset;
	char err[256];
	struct gqueue q[GUEST_MAX_QUEUES];
	unsigned nq;
	struct gdev_stats st;
	/* Memory the device must not write any more (see gdev_quarantine). */
	bool quarantine;
	struct qpiece {
		uint64_t gpa, len;
		uint8_t *snap;
	} * qp;
	unsigned nqp, maxqp;
};

struct gbuf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

struct greq_priv {
	unsigned nbufs;
	struct gbuf bufs[GREQ_MAX_SEGS + 4];
	unsigned nchunks; /* data, in order, for copying in and out */
	struct gbuf chunks[GREQ_MAX_SEGS];
	unsigned nallocs;
	struct extent allocs[GREQ_MAX_SEGS + 4];
	uint64_t hdr_gpa, status_gpa, table_gpa;
	bool placed; /* its descriptors written by gdev_submit() */
};

static const char *const feature_names[64] = {
    [VIRTIO_BLK_F_SIZE_MAX] = "SIZE_MAX",
    [VIRTIO_BLK_F_SEG_MAX] = "SEG_MAX",
    [VIRTIO_BLK_F_GEOMETRY] = "GEOMETRY",
    [VIRTIO_BLK_F_RO] = "RO",
    [VIRTIO_BLK_F_BLK_SIZE] = "BLK_SIZE",
    [VIRTIO_BLK_F_FLUSH] = "FLUSH",
    [VIRTIO_BLK_F_TOPOLOGY] = "TOPOLOGY",
    [VIRTIO_BLK_F_CONFIG_WCE] = "CONFIG_WCE",
    [VIRTIO_BLK_F_MQ] = "MQ",
    [VIRTIO_BLK_F_DISCARD] = "DISCARD",
    [VIRTIO_BLK_F_WRITE_ZEROES] = "WRITE_ZEROES",
    [15] = "LIFETIME",
    [VIRTIO_BLK_F_SECURE_ERASE] = "SECURE_ERASE",
    [17] = "ZONED",
    [24] = "NOTIFY_ON_EMPTY",
    [27] = "ANY_LAYOUT",
    [VIRTIO_RING_F_INDIRECT_DESC] = "INDIRECT_DESC",
    [VIRTIO_RING_F_EVENT_IDX] = "EVENT_IDX",
    [VIRTIO_F_VERSION_1] = "VERSION_1",
    [VIRTIO_F_ACCESS_PLATFORM] = "ACCESS_PLATFORM",
    [VIRTIO_F_RING_PACKED] = "RING_PACKED",
    [VIRTIO_F_IN_ORDER] = "IN_ORDER",
    [VIRTIO_F_ORDER_PLATFORM] = "ORDER_PLATFORM",
    [VIRTIO_F_SR_IOV] = "SR_IOV",
    [38] = "NOTIFICATION_DATA",
    [40] = "RING_RESET",
};

const char *gdev_feature_name(unsigned bit)
{
	return bit < 64 ? feature_names[bit] : NULL;
}

/* What Linux 6.1 accepts over virtio-mmio: virtio_blk's feature table and
 * vring_transport_features() minus RING_PACKED and ACCESS_PLATFORM, which
 * this driver does not implement (the daemon must not need them). */
static uint64_t linux_accepts(void)
{
	static const unsigned bits[] = {
	    VIRTIO_BLK_F_SEG_MAX,
	    VIRTIO_BLK_F_SIZE_MAX,
	    VIRTIO_BLK_F_GEOMETRY,
	    VIRTIO_BLK_F_RO,
	    VIRTIO_BLK_F_BLK_SIZE,
	    VIRTIO_BLK_F_FLUSH,
	    VIRTIO_BLK_F_TOPOLOGY,
	    VIRTIO_BLK_F_CONFIG_WCE,
	    VIRTIO_BLK_F_MQ,
	    VIRTIO_BLK_F_DISCARD,
	    VIRTIO_BLK_F_WRITE_ZEROES,
	    VIRTIO_BLK_F_SECURE_ERASE,
	    VIRTIO_RING_F_INDIRECT_DESC,
	    VIRTIO_RING_F_EVENT_IDX,
	    VIRTIO_F_VERSION_1,
	};
	uint64_t m = 0;

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		m |= 1ULL << bits[i];
	return m;
}

struct gdev *gdev_new(struct guest *g, uint64_t base, unsigned irq)
{
	struct gdev *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->g = g;
	d->info.base = base;
	d->info.irq = irq;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	d->irq_seen = sim_dom_irq_edges(g->dom, irq);
	return d;
}

static void free_queues(struct gdev *d);

void gdev_free(struct gdev *d)
{
	if (!d)
		return;
	d->quarantine = false;
	free_queues(d);
	for (unsigned i = 0; i < d->nqp; i++)
		free(d->qp[i].snap);
	free(d->qp);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

bool gdev_ready(const struct gdev *d)
{
	return d->ready;
}

const struct gdev_info *gdev_info(const struct gdev *d)
{
	return &d->info;
}

int gdev_queue_rings(const struct gdev *d, unsigned qi, uint64_t *desc,
		     uint64_t *avail, uint64_t *used)
{
	if (qi >= d->nq || !d->q[qi].ring_gpa)
		return -ENOENT;
	*desc = d->q[qi].desc_gpa;
	*avail = d->q[qi].avail_gpa;
	*used = d->q[qi].used_gpa;
	return 0;
}

bool gdev_has(const struct gdev *d, unsigned bit)
{
	return bit < 64 && (d->info.driver_features >> bit) & 1;
}

const char *gdev_error(const struct gdev *d)
{
	return d->err[0] ? d->err : NULL;
}

bool gdev_needs_reset(const struct gdev *d)
{
	return d->needs_reset;
}

uint64_t gdev_irq_seen(struct gdev *d)
{
	uint64_t v;

	pthread_mutex_lock(&d->mu);
	v = d->irq_seen;
	pthread_mutex_unlock(&d->mu);
	return v;
}

void gdev_set_irq_seen(struct gdev *d, uint64_t edges)
{
	pthread_mutex_lock(&d->mu);
	if (edges > d->irq_seen)
		d->irq_seen = edges;
	pthread_mutex_unlock(&d->mu);
}

void gdev_get_stats(struct gdev *d, struct gdev_stats *st)
{
	pthread_mutex_lock(&d->mu);
	*st = d->st;
	pthread_mutex_unlock(&d->mu);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void set_err(struct gdev *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(struct gdev *d, const char *fmt, ...)
{
	va_list ap;

	if (d->err[0])
		return; /* keep the first reason */
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
}

int gdev_mmio_read(struct gdev *d, unsigned cpu, uint32_t off, unsigned size,
		   uint64_t *val)
{
	*val = 0;
	return sim_dom_mmio(d->g->dom, cpu, d->info.base + off, size, false,
			    val, d->g->timeout_ms);
}

int gdev_mmio_write(struct gdev *d, unsigned cpu, uint32_t off, unsigned size,
		    uint64_t val)
{
	return sim_dom_mmio(d->g->dom, cpu, d->info.base + off, size, true,
			    &val, d->g->timeout_ms);
}

int gdev_mmio_rep(struct gdev *d, unsigned cpu, uint32_t off, unsigned size,
		  uint32_t count, bool ptr, bool write, uint64_t *data)
{
	return sim_dom_mmio_rep(d->g->dom, cpu, d->info.base + off, size, count,
				ptr, write, data, d->g->timeout_ms);
}

/* readl/writel of a control register. */
static int rd32(struct gdev *d, unsigned cpu, uint32_t off, uint32_t *v)
{
	uint64_t x;
	int rc = gdev_mmio_read(d, cpu, off, 4, &x);

	*v = (uint32_t)x;
	return rc;
}

static int wr32(struct gdev *d, unsigned cpu, uint32_t off, uint32_t v)
{
	return gdev_mmio_write(d, cpu, off, 4, v);
}

/* virtio_add_status(): read the status, write it back with bits added. */
static int add_status(struct gdev *d, unsigned cpu, uint32_t bits)
{
	uint32_t st;
	int rc = rd32(d, cpu, VIRTIO_MMIO_STATUS, &st);

	if (rc)
		return rc;
	return wr32(d, cpu, VIRTIO_MMIO_STATUS, (st & 0xff) | bits);
}

/* vm_get(): 1, 2 and 4-byte fields with one access each. */
static int cfg_read(struct gdev *d, unsigned cpu, uint32_t off, unsigned size,
		    uint64_t *v)
{
	return gdev_mmio_read(d, cpu, VIRTIO_MMIO_CONFIG + off, size, v);
}

/* virtio_cread64(): two 32-bit reads, retried while ConfigGeneration moves
 * (virtio 1.2 section 4.2.2.2: 64-bit fields are read as two halves). */
static int cfg_read64(struct gdev *d, unsigned cpu, uint32_t off, uint64_t *v)
{
	uint32_t gen, old;
	uint64_t lo, hi;
	int rc, tries = 0;

	rc = rd32(d, cpu, VIRTIO_MMIO_CONFIG_GENERATION, &gen);
	if (rc)
		return rc;
	do {
		old = gen;
		rc = cfg_read(d, cpu, off, 4, &lo);
		if (!rc)
			rc = cfg_read(d, cpu, off + 4, 4, &hi);
		if (!rc)
			rc = rd32(d, cpu, VIRTIO_MMIO_CONFIG_GENERATION, &gen);
		if (rc)
			return rc;
		if (++tries > 1000)
			return -EAGAIN; /* a device that never settles */
	} while (gen != old);
	d->info.generation = gen;
	*v = (hi << 32) | (lo & 0xffffffffu);
	return 0;
}

#define CFG_OFF(field) offsetof(struct virtio_blk_config, field)

static int read_config(struct gdev *d, unsigned cpu)
{
	struct gdev_info *in = &d->info;
	uint64_t v;
	int rc;

#define RD(field, size, dst)                                                   \
	do {                                                                   \
		rc = cfg_read(d, cpu, CFG_OFF(field), size, &v);               \
		if (rc)                                                        \
			return rc;                                             \
		dst = v;                                                       \
	} while (0)

	rc = cfg_read64(d, cpu, CFG_OFF(capacity), &in->capacity);
	if (rc)
		return rc;
	if (gdev_has(d, VIRTIO_BLK_F_SIZE_MAX))
		RD(size_max, 4, in->size_max);
	if (gdev_has(d, VIRTIO_BLK_F_GEOMETRY)) {
		RD(geometry.cylinders, 2, in->cylinders);
		RD(geometry.heads, 1, in->heads);
		RD(geometry.sectors, 1, in->sectors);
	}
	if (gdev_has(d, VIRTIO_BLK_F_BLK_SIZE))
		RD(blk_size, 4, in->blk_size);
	if (gdev_has(d, VIRTIO_BLK_F_TOPOLOGY)) {
		RD(physical_block_exp, 1, in->physical_block_exp);
		RD(alignment_offset, 1, in->alignment_offset);
		RD(min_io_size, 2, in->min_io_size);
		RD(opt_io_size, 4, in->opt_io_size);
	}
	if (gdev_has(d, VIRTIO_BLK_F_CONFIG_WCE))
		RD(wce, 1, in->wce);
	if (gdev_has(d, VIRTIO_BLK_F_DISCARD)) {
		RD(max_discard_sectors, 4, in->max_discard_sectors);
		RD(max_discard_seg, 4, in->max_discard_seg);
		RD(discard_sector_alignment, 4, in->discard_sector_alignment);
	}
	if (gdev_has(d, VIRTIO_BLK_F_WRITE_ZEROES)) {
		RD(max_write_zeroes_sectors, 4, in->max_write_zeroes_sectors);
		RD(max_write_zeroes_seg, 4, in->max_write_zeroes_seg);
		RD(write_zeroes_may_unmap, 1, in->write_zeroes_may_unmap);
	}
#undef RD
	return 0;
}

/* Keep [gpa, gpa+len) allocated and remember its bytes, instead of freeing
 * it. Returns false (caller frees) if there is no room to remember it. */
static bool quarantine(struct gdev *d, uint64_t gpa, uint64_t len)
{
	if (!d->quarantine || !gpa)
		return false;
	if (d->nqp == d->maxqp) {
		unsigned n = d->maxqp ? d->maxqp * 2 : 64;
		struct qpiece *qp = realloc(d->qp, n * sizeof(*qp));

		if (!qp)
			return false;
		d->qp = qp;
		d->maxqp = n;
	}
	uint8_t *snap = malloc(len);

	if (!snap)
		return false;
	memcpy(snap, guest_ptr(d->g, gpa, len), len);
	d->qp[d->nqp].gpa = gpa;
	d->qp[d->nqp].len = len;
	d->qp[d->nqp].snap = snap;
	d->nqp++;
	return true;
}

void gdev_quarantine(struct gdev *d, bool on)
{
	pthread_mutex_lock(&d->mu);
	d->quarantine = on;
	pthread_mutex_unlock(&d->mu);
}

int gdev_check_quarantine(struct gdev *d, char *err, size_t errlen)
{
	int ret = 0;

	pthread_mutex_lock(&d->mu);
	for (unsigned i = 0; i < d->nqp; i++) {
		struct qpiece *qp = &d->qp[i];
		const uint8_t *now = guest_ptr(d->g, qp->gpa, qp->len);

		if (!ret && memcmp(now, qp->snap, qp->len)) {
			uint64_t k = 0;

			while (now[k] == qp->snap[k])
				k++;
			snprintf(err, errlen,
				 "guest RAM at 0x%llx changed after the reset",
				 (unsigned long long)(qp->gpa + k));
			ret = -EIO;
		}
		guest_mfree(d->g, qp->gpa, qp->len);
		free(qp->snap);
	}
	d->nqp = 0;
	d->quarantine = false;
	pthread_mutex_unlock(&d->mu);
	return ret;
}

static void free_queues(struct gdev *d)
{
	for (unsigned i = 0; i < d->nq; i++) {
		struct gqueue *q = &d->q[i];

		if (!quarantine(d, q->ring_gpa, q->ring_bytes))
			guest_mfree(d->g, q->ring_gpa, q->ring_bytes);
		free(q->next_free);
		free(q->data);
		memset(q, 0, sizeof(*q));
	}
	d->nq = 0;
}

/* vm_setup_vq() with vring_create_virtqueue_split()'s layout: descriptors,
 * then the available ring, then the used ring on the next page. */
static int setup_queue(struct gdev *d, unsigned cpu, unsigned index, char *err,
		       size_t errlen)
{
	struct gqueue *q = &d->q[index];
	uint32_t v, num;
	int rc;

	rc = wr32(d, cpu, VIRTIO_MMIO_QUEUE_SEL, index);
	if (!rc)
		rc = rd32(d, cpu, VIRTIO_MMIO_QUEUE_READY, &v);
	if (rc)
		return rc;
	if (v) {
		snprintf(err, errlen, "queue %u: QueueReady is %u before setup",
			 index, v);
		return -ENOENT;
	}
	rc = rd32(d, cpu, VIRTIO_MMIO_QUEUE_NUM_MAX, &num);
	if (rc)
		return rc;
	if (num == 0 || num > 32768 || (num & (num - 1))) {
		snprintf(err, errlen, "queue %u: bad QueueNumMax %u", index,
			 num);
		return -ENOENT;
	}
	uint64_t avail_off = 16ULL * num;
	uint64_t used_off = round_up(avail_off + 2 * (3 + num), RING_ALIGN);
	uint64_t bytes = used_off + 6 + 8ULL * num;

	q->index = index;
	q->num = num;
	q->ring_bytes = bytes;
	q->ring_gpa = guest_alloc(d->g, bytes, RING_ALIGN);
	q->next_free = calloc(num, sizeof(*q->next_free));
	q->data = calloc(num, sizeof(*q->data));
	if (!q->ring_gpa || !q->next_free || !q->data) {
		snprintf(err, errlen, "queue %u: out of memory", index);
		return -ENOMEM;
	}
	uint8_t *p = guest_ptr(d->g, q->ring_gpa, bytes);

	memset(p, 0, bytes);
	q->desc_gpa = q->ring_gpa;
	q->avail_gpa = q->ring_gpa + avail_off;
	q->used_gpa = q->ring_gpa + used_off;
	q->desc = (struct vring_desc *)p;
	q->avail = (struct vring_avail *)(p + avail_off);
	q->used = (struct vring_used *)(p + used_off);
	q->used_event = &q->avail->ring[num];
	q->avail_event = (uint16_t *)&q->used->ring[num];
	for (unsigned i = 0; i < num; i++)
		q->next_free[i] = (uint16_t)(i + 1);
	q->free_head = 0;
	q->num_free = num;

	rc = wr32(d, cpu, VIRTIO_MMIO_QUEUE_NUM, num);
	if (!rc)
		rc = wr32(d, cpu, VIRTIO_MMIO_QUEUE_DESC_LOW,
			  (uint32_t)q->desc_gpa);
	if (!rc)
		rc = wr32(d, cpu, VIRTIO_MMIO_QUEUE_DESC_HIGH,
			  (uint32_t)(q->desc_gpa >> 32));
	if (!rc)
		rc = wr32(d, cpu, VIRTIO_MMIO_QUEUE_AVAIL_LOW,
			  (uint32_t)q->avail_gpa);
	if (!rc)
		rc = wr32(d, cpu, VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
			  (uint32_t)(q->avail_gpa >> 32));
	if (!rc)
		rc = wr32(d, cpu, VIRTIO_MMIO_QUEUE_USED_LOW,
			  (uint32_t)q->used_gpa);
	if (!rc)
		rc = wr32(d, cpu, VIRTIO_MMIO_QUEUE_USED_HIGH,
			  (uint32_t)(q->used_gpa >> 32));
	if (!rc)
		rc = wr32(d, cpu, VIRTIO_MMIO_QUEUE_READY, 1);
	return rc;
}

static const char *errname(int rc)
{
	switch (rc) {
	case -ENODEV:
		return "data abort (no ioreq server covers the address)";
	case -ETIMEDOUT:
		return "timed out (the vCPU would hang)";
	case -EPIPE:
		return "the daemon died";
	case -EPROTO:
		return "ioreq protocol violation";
	default:
		return strerror(-rc);
	}
}

static void abort_pending(struct gdev *d);
static unsigned scan(struct gdev *d, struct gqueue *q);

/* gdev_init(), or with restore, gdev_restore(): Linux's
 * virtio_device_restore() and virtblk_restore() write the features
 * negotiated at probe again without reading the device's, and set the
 * queues up again; nothing else of the probe is repeated. */
static int init_device(struct gdev *d, unsigned cpu, uint64_t feature_mask,
		       bool restore, char *err, size_t errlen)
{
	struct gdev_info *in = &d->info;
	uint32_t v, lo, hi;
	int rc;

	err[0] = 0;
	if (restore && !in->driver_features) {
		snprintf(err, errlen, "never initialised: nothing to restore");
		return -EINVAL;
	}
	if (d->ready || d->nq) {
		rc = gdev_reset(d, cpu);
		if (rc) {
			snprintf(err, errlen, "reset: %s", errname(rc));
			return rc;
		}
	}
	pthread_mutex_lock(&d->mu);
	d->err[0] = 0;
	d->broken = d->needs_reset = false;
	pthread_mutex_unlock(&d->mu);

#define CHECK(expr, what)                                                      \
	do {                                                                   \
		rc = (expr);                                                   \
		if (rc) {                                                      \
			if (!err[0])                                           \
				snprintf(err, errlen, "%s: %s", what,          \
					 errname(rc));                         \
			goto fail;                                             \
		}                                                              \
	} while (0)

	if (restore) {
		/* virtio_device_restore(): a reset, then ACKNOWLEDGE and
		 * DRIVER each added to what Status reads. */
		CHECK(wr32(d, cpu, VIRTIO_MMIO_STATUS, 0), "Status reset");
		CHECK(add_status(d, cpu, VIRTIO_CONFIG_S_ACKNOWLEDGE),
		      "Status ACKNOWLEDGE");
		CHECK(add_status(d, cpu, VIRTIO_CONFIG_S_DRIVER),
		      "Status DRIVER");
		goto finalize_features;
	}
	/* virtio_mmio_probe() */
	CHECK(rd32(d, cpu, VIRTIO_MMIO_MAGIC_VALUE, &in->magic), "MagicValue");
	if (in->magic != 0x74726976) {
		snprintf(err, errlen, "wrong magic value 0x%08x", in->magic);
		return -ENODEV;
	}
	CHECK(rd32(d, cpu, VIRTIO_MMIO_VERSION, &in->version), "Version");
	if (in->version != 2) {
		snprintf(err, errlen, "version %u not supported (modern only)",
			 in->version);
		return -ENODEV;
	}
	CHECK(rd32(d, cpu, VIRTIO_MMIO_DEVICE_ID, &in->device_id), "DeviceID");
	if (in->device_id != 2) {
		snprintf(err, errlen, "device id %u is not a block device",
			 in->device_id);
		return -ENODEV;
	}
	CHECK(rd32(d, cpu, VIRTIO_MMIO_VENDOR_ID, &in->vendor_id), "VendorID");

	/* register_virtio_device(): reset, ACKNOWLEDGE; virtio_dev_probe():
	 * DRIVER. The first read-back doubles as the reset check. */
	CHECK(wr32(d, cpu, VIRTIO_MMIO_STATUS, 0), "Status reset");
	CHECK(rd32(d, cpu, VIRTIO_MMIO_STATUS, &v), "Status");
	if (v != 0) {
		snprintf(err, errlen, "Status reads 0x%x after reset", v);
		rc = -EIO;
		goto fail;
	}
	CHECK(wr32(d, cpu, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE),
	      "Status ACKNOWLEDGE");
	CHECK(add_status(d, cpu, VIRTIO_CONFIG_S_DRIVER), "Status DRIVER");

	/* vm_get_features(): the high word first. */
	CHECK(wr32(d, cpu, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1),
	      "DeviceFeaturesSel");
	CHECK(rd32(d, cpu, VIRTIO_MMIO_DEVICE_FEATURES, &hi), "DeviceFeatures");
	CHECK(wr32(d, cpu, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0),
	      "DeviceFeaturesSel");
	CHECK(rd32(d, cpu, VIRTIO_MMIO_DEVICE_FEATURES, &lo), "DeviceFeatures");
	in->device_features = ((uint64_t)hi << 32) | lo;
	in->driver_features =
	    in->device_features & linux_accepts() & feature_mask;
	if (!gdev_has(d, VIRTIO_F_VERSION_1)) {
		snprintf(err, errlen,
			 "version 2 device without VIRTIO_F_VERSION_1");
		rc = -EINVAL;
		goto fail;
	}
finalize_features:
	/* vm_finalize_features() */
	CHECK(wr32(d, cpu, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1),
	      "DriverFeaturesSel");
	CHECK(wr32(d, cpu, VIRTIO_MMIO_DRIVER_FEATURES,
		   (uint32_t)(in->driver_features >> 32)),
	      "DriverFeatures");
	CHECK(wr32(d, cpu, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0),
	      "DriverFeaturesSel");
	CHECK(wr32(d, cpu, VIRTIO_MMIO_DRIVER_FEATURES,
		   (uint32_t)in->driver_features),
	      "DriverFeatures");
	/* virtio_features_ok() */
	CHECK(add_status(d, cpu, VIRTIO_CONFIG_S_FEATURES_OK),
	      "Status FEATURES_OK");
	CHECK(rd32(d, cpu, VIRTIO_MMIO_STATUS, &v), "Status");
	if (!(v & VIRTIO_CONFIG_S_FEATURES_OK)) {
		snprintf(err, errlen, "device refused features 0x%llx",
			 (unsigned long long)in->driver_features);
		rc = -ENODEV;
		goto fail;
	}

	/* virtblk_probe(): seg_max, then the queues, then the rest;
	 * virtblk_restore(): the queues. */
	uint64_t x;

	if (!restore)
		in->seg_max = 0;
	if (!restore && gdev_has(d, VIRTIO_BLK_F_SEG_MAX)) {
		CHECK(cfg_read(d, cpu, CFG_OFF(seg_max), 4, &x), "seg_max");
		in->seg_max = (uint32_t)x;
	}
	in->num_queues = 1;
	if (gdev_has(d, VIRTIO_BLK_F_MQ)) {
		CHECK(cfg_read(d, cpu, CFG_OFF(num_queues), 2, &x),
		      "num_queues");
		in->num_queues = (uint16_t)x;
		/* init_vq(): "MQ advertised but zero queues reported". */
		if (!in->num_queues) {
			snprintf(err, errlen, "MQ offered with num_queues 0");
			rc = -EINVAL;
			goto fail;
		}
	}
	unsigned nq = in->num_queues;

	if (nq > d->g->vcpus)
		nq = d->g->vcpus; /* nr_cpu_ids */
	if (nq > GUEST_MAX_QUEUES)
		nq = GUEST_MAX_QUEUES;
	for (unsigned i = 0; i < nq; i++) {
		d->nq = i + 1;
		CHECK(setup_queue(d, cpu, i, err, errlen), "queue setup");
	}
	in->nqueues = nq;
	in->queue_num = in->queue_num_max = d->q[0].num;
	if (restore)
		goto driver_ok;
	CHECK(read_config(d, cpu), "config space");

	/* Driver limits, as virtblk_probe derives them. */
	in->max_data_segs = in->seg_max ? in->seg_max : 1;
	if (in->max_data_segs > GREQ_MAX_SEGS)
		in->max_data_segs = GREQ_MAX_SEGS;
	if (!gdev_has(d, VIRTIO_RING_F_INDIRECT_DESC) &&
	    in->max_data_segs > in->queue_num - 2)
		in->max_data_segs = in->queue_num > 2 ? in->queue_num - 2 : 1;
	in->max_seg_bytes = 1u << 20;
	if (gdev_has(d, VIRTIO_BLK_F_SIZE_MAX) && in->size_max < (1u << 20))
		in->max_seg_bytes = in->size_max < 4096 ? 4096 : in->size_max;

driver_ok:
	CHECK(add_status(d, cpu, VIRTIO_CONFIG_S_DRIVER_OK),
	      "Status DRIVER_OK");
	/* virtio_device_restore() looks whether the driver's restore set
	 * DRIVER_OK. */
	if (restore)
		CHECK(rd32(d, cpu, VIRTIO_MMIO_STATUS, &v), "Status");
#undef CHECK
	pthread_mutex_lock(&d->mu);
	d->ready = true;
	pthread_mutex_unlock(&d->mu);
	return 0;

fail:
	/* virtio_dev_probe()'s error path: FAILED, queues stay allocated
	 * until the next reset frees them. */
	if (rc != -EPIPE && rc != -ETIMEDOUT)
		(void)add_status(d, cpu, VIRTIO_CONFIG_S_FAILED);
	return rc ? rc : -EIO;
}

int gdev_init(struct gdev *d, unsigned cpu, uint64_t feature_mask, char *err,
	      size_t errlen)
{
	return init_device(d, cpu, feature_mask, false, err, errlen);
}

int gdev_restore(struct gdev *d, unsigned cpu, char *err, size_t errlen)
{
	return init_device(d, cpu, 0, true, err, errlen);
}

int gdev_reset(struct gdev *d, unsigned cpu)
{
	uint32_t v = 0;
	unsigned q_ready_err = 0; /* queue + 1 */
	int rc;

	pthread_mutex_lock(&d->mu);
	d->ready = false;
	pthread_mutex_unlock(&d->mu);
	rc = wr32(d, cpu, VIRTIO_MMIO_STATUS, 0);
	/* Linux's vm_reset() writes 0 and goes on to free the rings: the
	 * reset must be complete once the write is answered (the daemon
	 * holds it until in-flight requests drain). One read checks that,
	 * at once; Linux would not look at all. A device gone meanwhile
	 * (the daemon exited) leaves nothing to check: the write's answer
	 * stands. */
	if (!rc && rd32(d, cpu, VIRTIO_MMIO_STATUS, &v))
		v = 0;
	pthread_mutex_lock(&d->mu);
	/* What the device published before the reset completed is valid
	 * (virtio 1.2 section 2.4); the rest never will be. */
	if (!rc && v == 0)
		for (unsigned i = 0; i < d->nq; i++)
			scan(d, &d->q[i]);
	pthread_mutex_unlock(&d->mu);
	/* del_vqs() after the reset, as virtblk_remove() does:
	 * vm_del_vq() selects each queue, writes QueueReady 0 and warns
	 * unless it reads 0 back. */
	for (unsigned i = 0; !rc && v == 0 && i < d->nq && !q_ready_err; i++) {
		uint32_t ready = 0;

		if (wr32(d, cpu, VIRTIO_MMIO_QUEUE_SEL, i) ||
		    wr32(d, cpu, VIRTIO_MMIO_QUEUE_READY, 0) ||
		    rd32(d, cpu, VIRTIO_MMIO_QUEUE_READY, &ready))
			break; /* the device went away: nothing to check */
		if (ready)
			q_ready_err = i + 1;
	}
	pthread_mutex_lock(&d->mu);
	abort_pending(d);
	free_queues(d);
	/* vm_del_vqs() frees the interrupt, the next vm_find_vqs()
	 * requests it again: __setup_irq() starts the spurious count
	 * afresh and enables a line it had disabled. */
	d->irq_count = d->irqs_unhandled = 0;
	d->irq_disabled = false;
	d->irq_err = 0;
	d->st.resets++;
	d->broken = d->needs_reset = false;
	d->err[0] = 0;
	if (!rc && v)
		snprintf(d->err, sizeof(d->err),
			 "Status reads 0x%x once the reset write is answered",
			 v);
	else if (q_ready_err)
		snprintf(d->err, sizeof(d->err),
			 "queue %u: QueueReady reads 1 after the reset and a "
			 "0 written (Linux's vm_del_vq warns)",
			 q_ready_err - 1);
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	if (rc)
		return rc;
	if (q_ready_err)
		return -EBUSY;
	return v == 0 ? 0 : -EBUSY; /* answered, but not reset */
}

/* Data descriptors a request of this layout may use: the split layout
 * spends one more on the header. */
static unsigned data_budget(const struct gdev_info *in, enum greq_layout layout)
{
	if (layout == GREQ_LAYOUT_SPLIT && in->max_data_segs > 1)
		return in->max_data_segs - 1;
	return in->max_data_segs;
}

uint32_t gdev_max_request_bytes(const struct gdev *d, enum greq_layout layout)
{
	uint64_t m =
	    (uint64_t)data_budget(&d->info, layout) * d->info.max_seg_bytes;

	/* Merged: the header or status shares the one data descriptor. */
	if (layout == GREQ_LAYOUT_MERGED)
		m = d->info.max_seg_bytes - 512;

	/* Linux 6.1's virtio_blk leaves max_sectors at the block layer's
	 * default, BLK_DEF_MAX_SECTORS: 2560 sectors. */
	if (m > 2560 * 512)
		m = 2560 * 512;
	return (uint32_t)(m & ~511ULL);
}

/* ------------------------------------------------------------- requests */

static void release_bufs(struct gdev *d, struct greq *r)
{
	struct greq_priv *p = r->priv;

	if (!p)
		return;
	for (unsigned i = 0; i < p->nallocs; i++)
		if (r->status != GREQ_ABORTED ||
		    !quarantine(d, p->allocs[i].off, p->allocs[i].len))
			guest_mfree(d->g, p->allocs[i].off, p->allocs[i].len);
	free(p);
	r->priv = NULL;
}

static uint64_t palloc(struct gdev *d, struct greq_priv *p, uint64_t size,
		       uint64_t align)
{
	uint64_t gpa;

	if (p->nallocs == sizeof(p->allocs) / sizeof(p->allocs[0]))
		return 0;
	gpa = guest_alloc(d->g, size, align);
	if (gpa) {
		p->allocs[p->nallocs].off = gpa;
		p->allocs[p->nallocs].len = size;
		p->nallocs++;
	}
	return gpa;
}

static void add_buf(struct greq_priv *p, uint64_t gpa, uint32_t len, bool write)
{
	p->bufs[p->nbufs].gpa = gpa;
	p->bufs[p->nbufs].len = len;
	p->bufs[p->nbufs].write = write;
	p->nbufs++;
}

static void add_chunk(struct greq_priv *p, uint64_t gpa, uint32_t len)
{
	p->chunks[p->nchunks].gpa = gpa;
	p->chunks[p->nchunks].len = len;
	p->nchunks++;
}

static bool data_to_device(const struct greq *r)
{
	if (r->dir_override)
		return !r->device_writes_data;
	return r->type != VIRTIO_BLK_T_IN && r->type != VIRTIO_BLK_T_GET_ID;
}

/* Cut len bytes into at most `want` pieces of at most `max` bytes, 512-byte
 * multiples where possible (as bio segments are). 0 on success. */
static int cut(uint32_t len, unsigned want, uint32_t max, uint32_t *sizes,
	       unsigned *n)
{
	uint32_t left = len;
	unsigned i;

	for (i = 0; left && i < want; i++) {
		uint32_t sz = left / (want - i);

		if (sz < left && sz >= 512)
			sz = (uint32_t)round_up(sz, 512);
		if (sz == 0)
			sz = left;
		if (sz > left)
			sz = left;
		if (sz > max)
			sz = max & ~511u ? max & ~511u : max;
		sizes[i] = sz;
		left -= sz;
	}
	*n = i;
	return left ? -EINVAL : 0;
}

/* What a buffer the device is to fill held before: Linux reads into pages
 * whose old bytes have nothing to do with the sectors asked for, where our
 * allocator would hand back the buffer an earlier write of the same size
 * filled, and a device that left a read's data out would pass a write then
 * verify. Not every byte (the 1 MiB reads of the benchmark): 8 in every
 * 128 and the last 8, enough to catch a sector left out or cut short; the
 * pattern depends on the address, not on any data written before. */
static uint64_t poison_at(uint64_t gpa)
{
	return 0x5a17c0dedeadbeefULL ^ gpa * 0x9e3779b97f4a7c15ULL;
}

static void poison(uint8_t *p, uint32_t len, uint64_t gpa)
{
	for (uint32_t off = 0; off < len; off += 128) {
		uint64_t v = poison_at(gpa + off);

		memcpy(p + off, &v, len - off < 8 ? len - off : 8);
	}
	if (len > 8) {
		uint64_t v = ~poison_at(gpa + len);

		memcpy(p + len - 8, &v, 8);
	}
}

/* Build the buffers of r in guest RAM (outside the ring lock). */
static int build(struct gdev *d, struct greq *r)
{
	const struct gdev_info *in = &d->info;
	struct greq_priv *p = calloc(1, sizeof(*p));
	bool out = data_to_device(r);
	uint8_t *h;

	if (!p)
		return -ENOMEM;
	r->priv = p;
	if (r->len && !r->buf)
		return -EINVAL;

	/* Header and status share one small allocation, like the request's
	 * private data in blk-mq; the indirect table gets its own. */
	uint64_t area = palloc(d, p, 64, 64);

	if (!area)
		return -ENOMEM;
	p->hdr_gpa = area;
	p->status_gpa = area + 32;
	h = guest_ptr(d->g, area, 64);
	uint32_t t32 = htole32(r->type), p32 = htole32(r->ioprio);
	uint64_t s64 = htole64(r->sector);

	memcpy(h, &t32, 4);
	memcpy(h + 4, &p32, 4);
	memcpy(h + 8, &s64, 8);
	h[32] = 0xff; /* a status the device never wrote stays invalid */

	uint32_t sizes[GREQ_MAX_SEGS];
	unsigned nseg = 0;

	if (r->len) {
		unsigned want = r->nseg ? r->nseg : (r->len + 4095) / 4096;

		unsigned need =
		    (unsigned)((r->len + (uint64_t)in->max_seg_bytes - 1) /
			       in->max_seg_bytes);

		if (want > r->len / 512)
			want = r->len >= 512 ? r->len / 512 : 1;
		if (want < need)
			want = need; /* no piece may exceed size_max */
		if (want > data_budget(in, r->layout))
			want = data_budget(in, r->layout);
		if (want > GREQ_MAX_SEGS)
			want = GREQ_MAX_SEGS;
		if (cut(r->len, want, in->max_seg_bytes, sizes, &nseg) < 0)
			return -EINVAL;
	}

	switch (r->layout) {
	case GREQ_LAYOUT_LINUX:
		add_buf(p, p->hdr_gpa, 16, false);
		for (unsigned i = 0; i < nseg; i++) {
			uint64_t gpa = palloc(d, p, sizes[i], 512);

			if (!gpa)
				return -ENOMEM;
			add_chunk(p, gpa, sizes[i]);
			add_buf(p, gpa, sizes[i], !out);
		}
		add_buf(p, p->status_gpa, 1, true);
		break;
	case GREQ_LAYOUT_SPLIT: {
		/* Descriptor boundaries anywhere (VERSION_1 implies
		 * ANY_LAYOUT, virtio 1.2 section 2.7.4): the header in two,
		 * each data piece cut once more at an odd size while the
		 * descriptor budget allows. */
		static const uint32_t odd[] = {1, 7, 511, 513, 4095, 3, 1000};
		uint64_t gpa = r->len ? palloc(d, p, r->len, 512) : 0;
		unsigned left = data_budget(in, r->layout) - nseg;
		uint32_t off = 0;

		if (r->len && !gpa)
			return -ENOMEM;
		add_buf(p, p->hdr_gpa, 5, false);
		add_buf(p, p->hdr_gpa + 5, 11, false);
		if (r->len)
			add_chunk(p, gpa, r->len);
		for (unsigned i = 0; i < nseg; i++) {
			uint32_t head = odd[i % 7];

			if (left && head < sizes[i]) {
				add_buf(p, gpa + off, head, !out);
				add_buf(p, gpa + off + head, sizes[i] - head,
					!out);
				left--;
			} else {
				add_buf(p, gpa + off, sizes[i], !out);
			}
			off += sizes[i];
		}
		add_buf(p, p->status_gpa, 1, true);
		break;
	}
	case GREQ_LAYOUT_MERGED: {
		uint64_t gpa = palloc(d, p, (uint64_t)r->len + 17, 512);

		if (!gpa)
			return -ENOMEM;
		if (out) {
			/* [header | data] readable, status apart */
			memcpy(guest_ptr(d->g, gpa, 16), h, 16);
			p->hdr_gpa = gpa;
			if (r->len)
				add_chunk(p, gpa + 16, r->len);
			add_buf(p, gpa, 16 + r->len, false);
			add_buf(p, p->status_gpa, 1, true);
		} else {
			/* header apart, [data | status] writable */
			*(uint8_t *)guest_ptr(d->g, gpa + r->len, 1) = 0xff;
			p->status_gpa = gpa + r->len;
			if (r->len)
				add_chunk(p, gpa, r->len);
			add_buf(p, p->hdr_gpa, 16, false);
			add_buf(p, gpa, r->len + 1, true);
		}
		break;
	}
	default:
		return -EINVAL;
	}

	/* The indirect table, when virtqueue_add_split() would use one. */
	if (gdev_has(d, VIRTIO_RING_F_INDIRECT_DESC) && !r->no_indirect &&
	    p->nbufs > 1) {
		p->table_gpa = palloc(d, p, 16ULL * p->nbufs, 16);
		if (!p->table_gpa)
			return -ENOMEM;
	}

	/* Copy the outgoing data in ("DMA map"). */
	if (out && r->len) {
		uint32_t off = 0;

		for (unsigned i = 0; i < p->nchunks; i++) {
			memcpy(
			    guest_ptr(d->g, p->chunks[i].gpa, p->chunks[i].len),
			    r->buf + off, p->chunks[i].len);
			off += p->chunks[i].len;
		}
	} else if (r->len) {
		for (unsigned i = 0; i < p->nchunks; i++)
			poison(
			    guest_ptr(d->g, p->chunks[i].gpa, p->chunks[i].len),
			    p->chunks[i].len, p->chunks[i].gpa);
	}
	return 0;
}

static void put_desc(struct vring_desc *dsc, uint64_t gpa, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	dsc->addr = htole64(gpa);
	dsc->len = htole32(len);
	dsc->flags = htole16(flags);
	dsc->next = htole16(next);
}

/* virtqueue_kick_prepare_split(), called with the lock held. */
static bool kick_prepare(struct gdev *d, struct gqueue *q)
{
	uint16_t new_idx = q->avail_idx_shadow;
	uint16_t old_idx = (uint16_t)(new_idx - q->num_added);
	bool kick;

	/* The device must see the new idx before we read its suppression
	 * state (virtio 1.2 section 2.7.10.1). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->num_added = 0;
	if (gdev_has(d, VIRTIO_RING_F_EVENT_IDX)) {
		uint16_t ev =
		    le16toh(__atomic_load_n(q->avail_event, __ATOMIC_RELAXED));

		kick = vring_need_event(ev, new_idx, old_idx);
	} else {
		uint16_t fl =
		    le16toh(__atomic_load_n(&q->used->flags, __ATOMIC_RELAXED));

		kick = !(fl & VRING_USED_F_NO_NOTIFY);
	}
	return kick;
}

static void take_pending_irq(struct gdev *d, unsigned cpu);

int gdev_submit(struct gdev *d, unsigned cpu, struct greq *r)
{
	struct greq_priv *p;
	struct gqueue *q;
	bool kick;
	int rc;

	r->done = false;
	r->status = -1;
	r->used_len = 0;
	r->priv = NULL;
	if (!d->ready || !d->nq)
		return -EIO;
	rc = build(d, r);
	if (rc) {
		release_bufs(d, r);
		return rc;
	}
	p = r->priv;

	pthread_mutex_lock(&d->mu);
	if (!d->ready || d->broken || d->needs_reset) {
		pthread_mutex_unlock(&d->mu);
		release_bufs(d, r);
		return -EIO;
	}
	q = &d->q[cpu % d->nq];
	/* virtqueue_add_split(): indirect whenever it is negotiated and the
	 * chain has more than one descriptor. */
	bool indirect = p->table_gpa && q->num_free;
	unsigned need = indirect ? 1 : p->nbufs;

	if (!indirect && p->nbufs > q->num) {
		pthread_mutex_unlock(&d->mu);
		release_bufs(d, r);
		return -EINVAL;
	}
	if (q->num_free < need) {
		/* virtqueue_add_split() notifies anyway when the request has
		 * a part for the device to read ("for historical reasons",
		 * virtio-blk's always has: its header). */
		unsigned qi = q->index;

		d->st.notifies++;
		pthread_mutex_unlock(&d->mu);
		release_bufs(d, r);
		rc = wr32(d, cpu, VIRTIO_MMIO_QUEUE_NOTIFY, qi);
		return rc ? rc : -ENOSPC;
	}
	uint16_t head = q->free_head;

	if (indirect) {
		uint32_t tbytes = 16 * p->nbufs;
		struct vring_desc *t = guest_ptr(d->g, p->table_gpa, tbytes);

		for (unsigned i = 0; i < p->nbufs; i++) {
			uint16_t fl = p->bufs[i].write ? VRING_DESC_F_WRITE : 0;

			if (i + 1 < p->nbufs)
				fl |= VRING_DESC_F_NEXT;
			/* Linux's alloc_indirect_split() links every entry
			 * to the next, the last one past the table's end. */
			put_desc(&t[i], p->bufs[i].gpa, p->bufs[i].len, fl,
				 (uint16_t)(i + 1));
		}
		/* virtqueue_add_desc_split() links it to the next free one,
		 * though no NEXT flag says so. */
		put_desc(&q->desc[head], p->table_gpa, tbytes,
			 VRING_DESC_F_INDIRECT, q->next_free[head]);
		q->free_head = q->next_free[head];
		d->st.indirect_requests++;
	} else {
		uint16_t i = head;

		for (unsigned k = 0; k < p->nbufs; k++) {
			uint16_t fl = p->bufs[k].write ? VRING_DESC_F_WRITE : 0;

			if (k + 1 < p->nbufs)
				fl |= VRING_DESC_F_NEXT;
			put_desc(&q->desc[i], p->bufs[k].gpa, p->bufs[k].len,
				 fl, q->next_free[i]);
			i = q->next_free[i];
		}
		q->free_head = i;
	}
	q->num_free -= need;
	r->q = q->index;
	r->head = head;
	r->ndesc = need;
	r->indirect = indirect;
	p->placed = true;
	q->data[head] = r;

	/* Publish: the ring entry, then (release) the index. */
	q->avail->ring[q->avail_idx_shadow & (q->num - 1)] = htole16(head);
	q->avail_idx_shadow++;
	__atomic_store_n(&q->avail->idx, htole16(q->avail_idx_shadow),
			 __ATOMIC_RELEASE);
	q->num_added++;
	d->st.requests++;
	kick = kick_prepare(d, q);
	if (kick)
		d->st.notifies++;
	else
		d->st.kicks_suppressed++;
	unsigned qi = q->index;

	pthread_mutex_unlock(&d->mu);
	/* virtqueue_notify() runs outside the vq lock in virtio_queue_rq(). */
	if (kick) {
		rc = wr32(d, cpu, VIRTIO_MMIO_QUEUE_NOTIFY, qi);
		if (rc)
			return rc;
	}
	take_pending_irq(d, cpu);
	return 0;
}

static bool desc_is(const struct vring_desc *dsc, uint64_t gpa, uint32_t len,
		    uint16_t flags, uint16_t next)
{
	return le64toh(dsc->addr) == gpa && le32toh(dsc->len) == len &&
	       le16toh(dsc->flags) == flags && le16toh(dsc->next) == next;
}

/* Whether the descriptors of r's chain still hold what gdev_submit() wrote.
 * Linux's detach_buf_split() follows the chain by the flags in the shared
 * table, so a device writing there would corrupt the driver's free list
 * without a word; here it is said. Lock held, before the chain is freed. */
static bool chain_intact(struct gdev *d, struct gqueue *q, const struct greq *r)
{
	const struct greq_priv *p = r->priv;
	const struct vring_desc *t = q->desc;
	uint16_t i = r->head;

	if (!p || !p->placed)
		return true;
	if (r->indirect) {
		if (!desc_is(&q->desc[i], p->table_gpa, 16 * p->nbufs,
			     VRING_DESC_F_INDIRECT, q->next_free[i]))
			return false;
		t = guest_ptr(d->g, p->table_gpa, 16 * p->nbufs);
		i = 0;
	}
	for (unsigned k = 0; k < p->nbufs; k++) {
		uint16_t fl = p->bufs[k].write ? VRING_DESC_F_WRITE : 0;
		uint16_t next =
		    r->indirect ? (uint16_t)(k + 1) : q->next_free[i];

		if (k + 1 < p->nbufs)
			fl |= VRING_DESC_F_NEXT;
		if (!desc_is(&t[i], p->bufs[k].gpa, p->bufs[k].len, fl, next))
			return false;
		i = next;
	}
	return true;
}

/* detach_buf_split() + completion, lock held. */
static void complete(struct gdev *d, struct gqueue *q, struct greq *r,
		     uint32_t len, int status)
{
	struct greq_priv *p = r->priv;
	uint16_t last = r->head;

	for (unsigned k = 1; k < r->ndesc; k++)
		last = q->next_free[last];
	q->next_free[last] = q->free_head;
	q->free_head = r->head;
	q->num_free += r->ndesc;
	q->data[r->head] = NULL;

	r->used_len = len;
	if (status == GREQ_ABORTED || !p)
		r->status = GREQ_ABORTED;
	else
		r->status =
		    *(volatile uint8_t *)guest_ptr(d->g, p->status_gpa, 1);
	if (p && r->status == VIRTIO_BLK_S_OK && !data_to_device(r) && r->len) {
		uint32_t off = 0;

		for (unsigned i = 0; i < p->nchunks; i++) {
			memcpy(
			    r->buf + off,
			    guest_ptr(d->g, p->chunks[i].gpa, p->chunks[i].len),
			    p->chunks[i].len);
			off += p->chunks[i].len;
		}
	}
	d->st.completed++;
	if (r->status != GREQ_ABORTED)
		d->st.completed_on[q->index]++; /* used by the device */
	if (r->status != VIRTIO_BLK_S_OK)
		d->st.errors++;
	else if (r->type == VIRTIO_BLK_T_IN)
		d->st.bytes_read += r->len;
	else if (r->type == VIRTIO_BLK_T_OUT)
		d->st.bytes_written += r->len;
	release_bufs(d, r);
	r->done = true;
}

static void abort_pending(struct gdev *d)
{
	for (unsigned i = 0; i < d->nq; i++) {
		struct gqueue *q = &d->q[i];

		for (unsigned h = 0; h < q->num; h++)
			if (q->data[h])
				complete(d, q, q->data[h], 0, GREQ_ABORTED);
	}
}

/* virtqueue_get_buf() in a loop, lock held. Returns the number reaped. */
static unsigned scan(struct gdev *d, struct gqueue *q)
{
	unsigned n = 0;

	if (!q->used || d->broken)
		return 0;
	for (;;) {
		uint16_t used_idx =
		    le16toh(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE));

		if (used_idx == q->last_used_idx)
			break;
		if ((uint16_t)(used_idx - q->last_used_idx) > q->num) {
			d->broken = true;
			set_err(d, "queue %u: used idx jumped from %u to %u",
				q->index, q->last_used_idx, used_idx);
			break;
		}
		struct vring_used_elem *e =
		    &q->used->ring[q->last_used_idx & (q->num - 1)];
		uint32_t id = le32toh(e->id), len = le32toh(e->len);

		if (id >= q->num || !q->data[id]) {
			/* BAD_RING(): the queue is dead from here on. */
			d->broken = true;
			set_err(d, "queue %u: used id %u is not a head",
				q->index, id);
			break;
		}
		if (!chain_intact(d, q, q->data[id])) {
			d->broken = true;
			set_err(d,
				"queue %u: the device wrote the descriptors "
				"of chain %u",
				q->index, id);
			break;
		}
		q->last_used_idx++;
		/* If we want an interrupt for the next entry, say so. */
		if (!(q->avail_flags_shadow & VRING_AVAIL_F_NO_INTERRUPT)) {
			__atomic_store_n(q->used_event,
					 htole16(q->last_used_idx),
					 __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
		}
		complete(d, q, q->data[id], len, 0);
		n++;
	}
	return n;
}

static void disable_cb(struct gdev *d, struct gqueue *q)
{
	if (q->avail_flags_shadow & VRING_AVAIL_F_NO_INTERRUPT)
		return;
	q->avail_flags_shadow |= VRING_AVAIL_F_NO_INTERRUPT;
	if (gdev_has(d, VIRTIO_RING_F_EVENT_IDX)) {
		/* Linux writes 0 here unless the device already fired. */
		if (!q->event_triggered)
			__atomic_store_n(q->used_event, 0, __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&q->avail->flags,
				 htole16(q->avail_flags_shadow),
				 __ATOMIC_RELAXED);
	}
}

/* virtqueue_enable_cb(): true if nothing new arrived meanwhile. */
static bool enable_cb(struct gdev *d, struct gqueue *q)
{
	q->event_triggered = false;
	if (q->avail_flags_shadow & VRING_AVAIL_F_NO_INTERRUPT) {
		q->avail_flags_shadow &= ~VRING_AVAIL_F_NO_INTERRUPT;
		if (!gdev_has(d, VIRTIO_RING_F_EVENT_IDX))
			__atomic_store_n(&q->avail->flags,
					 htole16(q->avail_flags_shadow),
					 __ATOMIC_RELAXED);
	}
	__atomic_store_n(q->used_event, htole16(q->last_used_idx),
			 __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return le16toh(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE)) ==
	       q->last_used_idx;
}

/* vring_interrupt() + virtblk_done(), lock held. */
static unsigned vring_interrupt(struct gdev *d, struct gqueue *q)
{
	unsigned n = 0;

	if (!q->used)
		return 0;
	if (le16toh(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE)) ==
	    q->last_used_idx)
		return 0;
	if (gdev_has(d, VIRTIO_RING_F_EVENT_IDX))
		q->event_triggered = true;
	do {
		disable_cb(d, q);
		n += scan(d, q);
		if (d->broken)
			break;
	} while (!enable_cb(d, q));
	return n;
}

void gdev_poll(struct gdev *d)
{
	pthread_mutex_lock(&d->mu);
	for (unsigned i = 0; i < d->nq; i++)
		scan(d, &d->q[i]);
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/* vm_interrupt(): read InterruptStatus, acknowledge exactly those bits, then
 * the config change and every queue. Called without the lock. */
int gdev_handle_irq(struct gdev *d, unsigned cpu)
{
	uint64_t edges = sim_dom_irq_edges(d->g->dom, d->info.irq);
	uint32_t isr, st;
	unsigned n = 0;
	int rc;

	pthread_mutex_lock(&d->mu);
	if (edges <= d->irq_seen || d->irq_disabled) {
		pthread_mutex_unlock(&d->mu);
		return 0;
	}
	d->irq_seen = edges;
	d->st.interrupts++;
	pthread_mutex_unlock(&d->mu);

	rc = rd32(d, cpu, VIRTIO_MMIO_INTERRUPT_STATUS, &isr);
	if (!rc)
		rc = wr32(d, cpu, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	if (rc)
		return rc;
	if (isr & VIRTIO_MMIO_INT_CONFIG) {
		/* virtio_config_changed(): virtio_blk re-reads the capacity;
		 * a device asking for a reset shows it in Status. */
		rc = rd32(d, cpu, VIRTIO_MMIO_STATUS, &st);
		if (rc)
			return rc;
		pthread_mutex_lock(&d->mu);
		d->st.config_interrupts++;
		if (st & VIRTIO_CONFIG_S_NEEDS_RESET) {
			d->needs_reset = true;
			set_err(d,
				"device set DEVICE_NEEDS_RESET (status "
				"0x%x)",
				st);
		}
		pthread_mutex_unlock(&d->mu);
		if (!(st & VIRTIO_CONFIG_S_NEEDS_RESET) && d->ready) {
			uint64_t cap;

			rc = cfg_read64(d, cpu, CFG_OFF(capacity), &cap);
			if (rc)
				return rc;
			d->info.capacity = cap;
		}
	}
	pthread_mutex_lock(&d->mu);
	if (isr & VIRTIO_MMIO_INT_VRING)
		for (unsigned i = 0; i < d->nq; i++)
			n += vring_interrupt(d, &d->q[i]);
	if (!n && !(isr & VIRTIO_MMIO_INT_CONFIG)) {
		long long now = now_ms();

		d->st.spurious_interrupts++;
		/* IRQ_NONE: counted unless the last one was over 100 ms
		 * ago, which starts the count again. */
		if (now - d->last_unhandled_ms > 100)
			d->irqs_unhandled = 1;
		else
			d->irqs_unhandled++;
		d->last_unhandled_ms = now;
	}
	if (++d->irq_count == 100000) {
		if (d->irqs_unhandled > 99900) {
			d->irq_disabled = true;
			set_err(d,
				"irq %u: nobody cared, disabled (%u of the "
				"last 100000 interrupts not handled)",
				d->info.irq, d->irqs_unhandled);
		}
		d->irq_count = 0;
		d->irqs_unhandled = 0;
	}
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return 0;
}

/* A vCPU takes a raised interrupt as soon as it runs guest code again, as
 * Linux does, not only once it waits for a request: a 1-vCPU guest that
 * keeps submitting would otherwise leave the line high while the device
 * served it, and never pay for its interrupts. A vCPU already waiting on
 * the line takes it instead. A failure is the next wait's (a daemon gone:
 * the wait finds it so). */
static void take_pending_irq(struct gdev *d, unsigned cpu)
{
	pthread_mutex_lock(&d->mu);
	if (d->irq_leader || d->irq_disabled || d->irq_held ||
	    sim_dom_irq_edges(d->g->dom, d->info.irq) <= d->irq_seen) {
		pthread_mutex_unlock(&d->mu);
		return;
	}
	d->irq_leader = true;
	pthread_mutex_unlock(&d->mu);
	int rc = gdev_handle_irq(d, cpu);

	pthread_mutex_lock(&d->mu);
	if (rc && rc != -EPIPE && !d->irq_err)
		d->irq_err = rc;
	d->irq_leader = false;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

void gdev_hold_irq(struct gdev *d, bool hold)
{
	pthread_mutex_lock(&d->mu);
	d->irq_held = hold;
	pthread_mutex_unlock(&d->mu);
}

static unsigned count_done(struct greq *const *reqs, unsigned n)
{
	unsigned c = 0;

	for (unsigned i = 0; i < n; i++)
		c += reqs[i]->done;
	return c;
}

int gdev_wait(struct gdev *d, unsigned cpu, struct greq *const *reqs,
	      unsigned n, unsigned want, int timeout_ms)
{
	struct sim_dom *dom = d->g->dom;
	long long deadline = now_ms() + timeout_ms;
	int ret = 0;

	if (want > n)
		want = n;
	pthread_mutex_lock(&d->mu);
	for (;;) {
		if (count_done(reqs, n) >= want)
			break;
		/* Linux, its line disabled, would only poll it every 100 ms
		 * (poll_spurious_irqs): fail at once instead. */
		if (d->broken || d->needs_reset || d->irq_disabled) {
			ret = -EIO;
			break;
		}
		if (d->irq_err) {
			ret = d->irq_err;
			d->irq_err = 0;
			break;
		}
		long long left = deadline - now_ms();

		if (left <= 0) {
			ret = -ETIMEDOUT;
			break;
		}
		if (left > WAIT_SLICE_MS)
			left = WAIT_SLICE_MS;
		if (d->irq_leader) {
			/* Another vCPU takes the interrupt; it wakes us. */
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += left * 1000000;
			ts.tv_sec += ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			pthread_cond_timedwait(&d->cv, &d->mu, &ts);
			continue;
		}
		d->irq_leader = true;
		uint64_t seen = d->irq_seen;

		pthread_mutex_unlock(&d->mu);
		bool dead = false;
		int rc = sim_dom_wait_irq(dom, d->info.irq, seen, (int)left);

		if (rc == 0) {
			rc = gdev_handle_irq(d, cpu);
			if (rc == -EPIPE)
				dead = true;
			else if (rc)
				ret = rc;
		} else if (!sim_dom_daemon_alive(dom)) {
			dead = true;
		}
		if (dead)
			gdev_poll(d);
		pthread_mutex_lock(&d->mu);
		d->irq_leader = false;
		pthread_cond_broadcast(&d->cv);
		if (ret)
			break;
		if (dead && count_done(reqs, n) < want) {
			ret = -EPIPE;
			break;
		}
	}
	pthread_mutex_unlock(&d->mu);
	return ret;
}

void gdev_abort(struct gdev *d)
{
	pthread_mutex_lock(&d->mu);
	abort_pending(d);
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/* ------------------------------------------------------- hostile chains */

struct hdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

/* Write n descriptors along the free list, chained in order; the caller
 * may patch `next` afterwards. Lock held, room checked. */
static uint16_t place_chain(struct gqueue *q, const struct hdesc *hd,
			    unsigned n, uint16_t *idx)
{
	uint16_t i = q->free_head;

	for (unsigned k = 0; k < n; k++) {
		idx[k] = i;
		i = q->next_free[i];
	}
	for (unsigned k = 0; k < n; k++)
		put_desc(&q->desc[idx[k]], hd[k].addr, hd[k].len, hd[k].flags,
			 k + 1 < n ? idx[k + 1] : 0);
	q->free_head = i;
	q->num_free -= n;
	return idx[0];
}

int gdev_submit_hostile(struct gdev *d, unsigned cpu, struct greq *r,
			const char *kind)
{
	static const char *const kinds[] = {
	    "loop",
	    "oob",
	    "wrap",
	    "huge",
	    "nested",
	    "indirect-next",
	    "indirect-size",
	    "indirect-empty",
	    "bad-next",
	    "no-status",
	    "write-before-read",
	    "short-header",
	    "avail-jump",
	};
	const uint16_t W = VRING_DESC_F_WRITE, N = VRING_DESC_F_NEXT,
		       I = VRING_DESC_F_INDIRECT;
	struct hdesc ring[4], table[4];
	unsigned nring = 0, ntable = 0;
	struct greq_priv *p;
	struct gqueue *q;
	uint16_t idx[4], head;
	size_t k;
	int rc;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (!strcmp(kind, kinds[k]))
			break;
	if (k == sizeof(kinds) / sizeof(kinds[0]))
		return -EINVAL;
	r->done = false;
	r->status = -1;
	r->priv = NULL;
	if (!d->ready || !d->nq)
		return -EIO;

	if (!strcmp(kind, "avail-jump")) {
		pthread_mutex_lock(&d->mu);
		q = &d->q[cpu % d->nq];
		__atomic_store_n(
		    &q->avail->idx,
		    htole16((uint16_t)(q->avail_idx_shadow + q->num + 1)),
		    __ATOMIC_RELEASE);
		unsigned qi = q->index;

		pthread_mutex_unlock(&d->mu);
		return wr32(d, cpu, VIRTIO_MMIO_QUEUE_NOTIFY, qi);
	}

	/* A well-formed IN request to start from: header, one data buffer,
	 * status; then break one rule. */
	r->layout = GREQ_LAYOUT_LINUX;
	r->nseg = 1;
	r->no_indirect = true;
	rc = build(d, r);
	if (rc) {
		release_bufs(d, r);
		return rc;
	}
	p = r->priv;
	uint64_t hdr = p->hdr_gpa, st = p->status_gpa;
	uint64_t data = p->chunks[0].gpa;
	uint32_t dlen = p->chunks[0].len;
	uint64_t tbl = palloc(d, p, 64, 16), tbl2 = palloc(d, p, 64, 16);

	if (!tbl || !tbl2) {
		release_bufs(d, r);
		return -ENOMEM;
	}
#define RING(a, l, f)                                                          \
	ring[nring++] = (struct hdesc)                                         \
	{                                                                      \
		(a), (l), (f)                                                  \
	}
#define TABLE(a, l, f)                                                         \
	table[ntable++] = (struct hdesc)                                       \
	{                                                                      \
		(a), (l), (f)                                                  \
	}
	if (!strcmp(kind, "oob")) {
		RING(hdr, 16, N);
		RING(sim_ram_end(d->g->ram_size), dlen, W | N);
		RING(st, 1, W);
	} else if (!strcmp(kind, "wrap")) {
		RING(hdr, 16, N);
		RING(0xfffffffffffff000ULL, 0x2000, W | N);
		RING(st, 1, W);
	} else if (!strcmp(kind, "huge")) {
		RING(hdr, 16, N);
		RING(data, 0xfffffff0u, W | N);
		RING(st, 1, W);
	} else if (!strcmp(kind, "loop") || !strcmp(kind, "bad-next")) {
		RING(hdr, 16, N);
		RING(data, dlen, W | N);
		RING(st, 1, W | N); /* next patched below */
	} else if (!strcmp(kind, "nested")) {
		TABLE(hdr, 16, N);
		TABLE(tbl2, 48, I | N); /* an indirect inside an indirect */
		TABLE(st, 1, W);
		RING(tbl, 48, I);
	} else if (!strcmp(kind, "indirect-next")) {
		TABLE(hdr, 16, N);
		TABLE(data, dlen, W | N);
		TABLE(st, 1, W);
		RING(tbl, 48, I | N);
		RING(st, 1, W);
	} else if (!strcmp(kind, "indirect-size")) {
		TABLE(hdr, 16, N);
		TABLE(data, dlen, W | N);
		TABLE(st, 1, W);
		RING(tbl, 17, I);
	} else if (!strcmp(kind, "indirect-empty")) {
		RING(tbl, 0, I);
	} else if (!strcmp(kind, "no-status")) {
		RING(hdr, 16, 0);
	} else if (!strcmp(kind, "write-before-read")) {
		RING(data, dlen, W | N);
		RING(hdr, 16, N);
		RING(st, 1, W);
	} else { /* short-header */
		RING(hdr, 8, N);
		RING(data, dlen, W | N);
		RING(st, 1, W);
	}
#undef RING
#undef TABLE
	if (ntable) {
		struct vring_desc *t = guest_ptr(d->g, tbl, 64);

		for (unsigned i = 0; i < ntable; i++)
			put_desc(&t[i], table[i].addr, table[i].len,
				 table[i].flags, (uint16_t)(i + 1));
		if (!strcmp(kind, "nested")) {
			/* The inner table is a valid one, to be sure the
			 * device refuses the nesting itself. */
			struct vring_desc *t2 = guest_ptr(d->g, tbl2, 64);

			put_desc(&t2[0], data, dlen, W | N, 1);
			put_desc(&t2[1], st, 1, W, 0);
		}
	}

	pthread_mutex_lock(&d->mu);
	q = &d->q[cpu % d->nq];
	if (!d->ready || d->broken || d->needs_reset || q->num_free < nring) {
		bool dead = !d->ready || d->broken || d->needs_reset;

		pthread_mutex_unlock(&d->mu);
		release_bufs(d, r);
		return dead ? -EIO : -ENOSPC;
	}
	head = place_chain(q, ring, nring, idx);
	if (!strcmp(kind, "loop")) /* status -> data -> status ... */
		q->desc[idx[2]].next = htole16(idx[1]);
	else if (!strcmp(kind, "bad-next"))
		q->desc[idx[2]].next = htole16((uint16_t)(q->num + 5));
	r->q = q->index;
	r->head = head;
	r->ndesc = nring;
	r->indirect = ntable > 0;
	q->data[head] = r;
	q->avail->ring[q->avail_idx_shadow & (q->num - 1)] = htole16(head);
	q->avail_idx_shadow++;
	__atomic_store_n(&q->avail->idx, htole16(q->avail_idx_shadow),
			 __ATOMIC_RELEASE);
	q->num_added++;
	d->st.requests++;
	(void)kick_prepare(d, q);
	d->st.notifies++;
	unsigned qi = q->index;

	pthread_mutex_unlock(&d->mu);
	/* Always kick: the point is to make the device look at it. */
	return wr32(d, cpu, VIRTIO_MMIO_QUEUE_NOTIFY, qi);
}

int gdev_run(struct gdev *d, unsigned cpu, struct greq *r, int timeout_ms)
{
	int rc = gdev_submit(d, cpu, r);

	if (rc)
		return rc;
	return gdev_wait(d, cpu, &r, 1, 1, timeout_ms);
}
