/* SPDX-License-Identifier: GPL-2.0-only */
/* Guest RAM through a bounded cache of foreign mappings.
 *
 * Guest physical space is cut into 1 MiB buckets (256 Xen frames, aligned to
 * 1 MiB). A bucket is mapped with one xenforeignmemory_map() call, which
 * amortises the ioctl and hypercalls over many requests; Xen reports frames
 * it could not map in err[] and touching one would SIGBUS (privcmd fault
 * handler), so each bucket keeps a per-frame validity bitmap and every range
 * is checked against it before a pointer is handed out.
 *
 * Buckets are found through a hash table with a last-hit fast path, so a warm
 * lookup is a few loads and never a system call. Pinned buckets (in-flight
 * I/O) are never unmapped; unpinned ones sit on an LRU list and are evicted
 * when the cap on mapped bytes is reached. INVALIDATE marks every bucket
 * stale: stale buckets leave the hash table at once and are unmapped as soon
 * as nobody pins them.
 *
 * A frame Xen refused when its bucket was mapped may become RAM later (a
 * balloon driver giving it back to the guest; Xen sends no INVALIDATE for
 * added memory). A lookup that hits such a frame maps the bucket afresh
 * once, the old mapping going stale as above; a bucket whose refresh found
 * the frame still missing is not refreshed again for GM_REFRESH_US, so a
 * guest pointing at a hole costs at most one map call a second per MiB.
 *
 * Threading: with --io-threads the guest's loop thread and each queue's
 * I/O thread share one cache (guest_mem_set_shared()); one mutex then
 * covers every entry point. It is held only for a lookup, a pin or a small
 * copy (and the rare map call), never across I/O, and nothing here calls
 * out while holding it. Otherwise one thread uses the cache and the
 * request path takes no lock. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "guest_mem.h"
#include "loop.h"
#include "log.h"

#define GM_PAGE_SHIFT	12 /* Xen frames are 4 KiB whatever the dom0 page */
#define GM_PAGE_SIZE	(1ULL << GM_PAGE_SHIFT)
#define GM_BUCKET_SHIFT GUEST_MEM_BUCKET_SHIFT
#define GM_BUCKET_SIZE	GUEST_MEM_BUCKET_SIZE
#define GM_BUCKET_PAGES (1U << (GM_BUCKET_SHIFT - GM_PAGE_SHIFT))
#define GM_VALID_WORDS	(GM_BUCKET_PAGES / 64)
/* map_range() serves virtqueue rings (at most a few pages); refuse absurd
 * sizes instead of asking privcmd for them. */
#define GM_RANGE_MAX_PAGES (1U << 18)
#define GM_REFRESH_US	   1000000

struct gm_link {
	struct gm_link *prev, *next;
};

struct gm_bucket {
	struct gm_link link; /* LRU if live and unpinned, stale list if stale */
	struct gm_bucket *hash_next;
	uint64_t index; /* gpa >> GM_BUCKET_SHIFT */
	uint8_t *host;
	unsigned pins;
	bool stale;
	uint64_t futile_us; /* loop_now_us() when a refresh found a missing
			     * frame still missing; 0: never */
	uint64_t valid[GM_VALID_WORDS]; /* bit set: frame mapped (err == 0) */
};

struct gm_range {
	struct gm_link link;
	void *host;
	size_t pages;
};

struct guest_mem {
	pthread_mutex_t lock; /* only if shared */
	bool shared;
	xenforeignmemory_handle *fmem;
	uint32_t domid;
	size_t max_buckets; /* the byte cap in buckets */
	size_t nbuckets;    /* mapped buckets, stale ones included */
	unsigned pins;	    /* sum of every bucket's pins */
	struct gm_bucket **hash;
	uint64_t hash_mask;
	struct gm_bucket *last; /* last hit, never stale */
	struct gm_link lru;	/* head = most recently used */
	struct gm_link stale;	/* stale buckets still pinned */
	struct gm_link ranges;
	struct guest_mem_stats stats;
	/* The last stale bucket went: on_stale_gone is due, once the lock is
	 * released. */
	bool stale_gone;
	void (*on_stale_gone)(void *opaque);
	void *stale_opaque;
};

#define gm_container(ptr, type) ((type *)(void *)(ptr))

static void link_init(struct gm_link *head)
{
	head->prev = head->next = head;
}

static void link_del(struct gm_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = l;
}

static void link_add_front(struct gm_link *head, struct gm_link *l)
{
	l->next = head->next;
	l->prev = head;
	head->next->prev = l;
	head->next = l;
}

static bool link_empty(const struct gm_link *head)
{
	return head->next == head;
}

/* True if [gpa, gpa + len) wraps around the 64-bit address space. */
static bool range_wraps(uint64_t gpa, uint64_t len)
{
	return len != 0 && len - 1 > UINT64_MAX - gpa;
}

static struct gm_bucket **hash_slot(struct guest_mem *gm, uint64_t index)
{
	return &gm->hash[(index ^ (index >> 16)) & gm->hash_mask];
}

static void hash_del(struct guest_mem *gm, struct gm_bucket *b)
{
	struct gm_bucket **pp = hash_slot(gm, b->index);

	while (*pp != b)
		pp = &(*pp)->hash_next;
	*pp = b->hash_next;
	b->hash_next = NULL;
}

static void bucket_unmap(struct guest_mem *gm, struct gm_bucket *b)
{
	if (xenforeignmemory_unmap(gm->fmem, b->host, GM_BUCKET_PAGES) < 0)
		log_error("guest_mem: unmapping bucket at 0x%llx: %s",
			  (unsigned long long)(b->index << GM_BUCKET_SHIFT),
			  strerror(errno));
	gm->stats.unmap_calls++;
	gm->stats.mapped_bytes -= GM_BUCKET_SIZE;
	gm->nbuckets--;
	free(b);
}

/* Take a bucket out of use (it has left the hash table): unmapped now if
 * nobody pins it, else when its last pin goes. */
static void bucket_retire(struct guest_mem *gm, struct gm_bucket *b)
{
	b->hash_next = NULL;
	b->stale = true;
	if (gm->last == b)
		gm->last = NULL;
	if (b->pins) {
		link_add_front(&gm->stale, &b->link);
	} else {
		link_del(&b->link);
		bucket_unmap(gm, b);
	}
}

/* Unmap the least recently used unpinned bucket; false if all are pinned. */
static bool evict_one(struct guest_mem *gm)
{
	struct gm_bucket *b;

	if (link_empty(&gm->lru))
		return false;
	b = gm_container(gm->lru.prev, struct gm_bucket);
	link_del(&b->link);
	hash_del(gm, b);
	if (gm->last == b)
		gm->last = NULL;
	bucket_unmap(gm, b);
	return true;
}

/* After a map failed with ENOMEM, which is dom0's, not the guest's: on Arm
 * privcmd needs an empty page of ours for every foreign frame, and may run
 * short. Every unpinned bucket goes back; whether any did (worth one more
 * try). */
static bool make_room(struct guest_mem *gm)
{
	unsigned n = 0;

	while (evict_one(gm))
		n++;
	if (n)
		log_guest_warn("guest_mem: dom0 is short of memory for "
			       "mappings; %u unmapped to make room",
			       n);
	return n != 0;
}

/* One bucket's frames, counted. */
static void *map_frames(struct guest_mem *gm, const xen_pfn_t *pfns, int *errs)
{
	gm->stats.map_calls++;
	return xenforeignmemory_map(gm->fmem, gm->domid, PROT_READ | PROT_WRITE,
				    GM_BUCKET_PAGES, pfns, errs);
}

static struct gm_bucket *bucket_map(struct guest_mem *gm, uint64_t index,
				    int *err)
{
	xen_pfn_t pfns[GM_BUCKET_PAGES];
	int errs[GM_BUCKET_PAGES];
	struct gm_bucket *b;
	unsigned i;

	/* Never exceed the cap: with everything pinned, fail the request
	 * (the block layer answers IOERR) rather than grow without bound. */
	while (gm->nbuckets >= gm->max_buckets) {
		if (!evict_one(gm)) {
			*err = -ENOMEM;
			return NULL;
		}
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		*err = -ENOMEM;
		return NULL;
	}
	for (i = 0; i < GM_BUCKET_PAGES; i++) {
		pfns[i] =
		    (xen_pfn_t)((index << (GM_BUCKET_SHIFT - GM_PAGE_SHIFT)) +
				i);
		errs[i] = -EINVAL;
	}
	b->host = map_frames(gm, pfns, errs);
	/* Failing after make_room(), the request waits for room like one the
	 * cap holds back. */
	if (!b->host && errno == ENOMEM && make_room(gm))
		b->host = map_frames(gm, pfns, errs);
	if (!b->host) {
		int e = errno;

		log_guest_warn("guest_mem: cannot map guest frames at 0x%llx: "
			       "%s",
			       (unsigned long long)(index << GM_BUCKET_SHIFT),
			       strerror(e));
		free(b);
		*err = e == ENOMEM ? -ENOMEM : -EFAULT;
		return NULL;
	}
	for (i = 0; i < GM_BUCKET_PAGES; i++)
		if (errs[i] == 0)
			b->valid[i / 64] |= 1ULL << (i % 64);
	b->index = index;
	b->hash_next = *hash_slot(gm, index);
	*hash_slot(gm, index) = b;
	link_add_front(&gm->lru, &b->link);
	gm->nbuckets++;
	gm->stats.mapped_bytes += GM_BUCKET_SIZE;
	log_debug("guest_mem: mapped the MiB at %#llx",
		  (unsigned long long)(index << GM_BUCKET_SHIFT));
	return b;
}

/* The live bucket holding `index`, mapped on a miss. Not pinned. */
static struct gm_bucket *bucket_get(struct guest_mem *gm, uint64_t index,
				    int *err)
{
	struct gm_bucket *b = gm->last;

	if (b && b->index == index)
		goto hit;
	for (b = *hash_slot(gm, index); b; b = b->hash_next)
		if (b->index == index)
			break;
	if (!b)
		return gm->last = bucket_map(gm, index, err);
	gm->last = b;
hit:
	if (!b->pins && gm->lru.next != &b->link) {
		link_del(&b->link);
		link_add_front(&gm->lru, &b->link);
	}
	return b;
}

static void bucket_pin(struct guest_mem *gm, struct gm_bucket *b)
{
	gm->pins++;
	/* Pinned buckets leave the LRU so that eviction never sees them. */
	if (b->pins++ == 0 && !b->stale)
		link_del(&b->link);
}

static void bucket_unpin(struct guest_mem *gm, struct gm_bucket *b)
{
	gm->pins--;
	if (--b->pins)
		return;
	if (b->stale) {
		link_del(&b->link);
		bucket_unmap(gm, b);
		gm->stale_gone = link_empty(&gm->stale);
	} else {
		link_add_front(&gm->lru, &b->link);
	}
}

/* Frames [first, last] (indices inside the bucket) all mapped? */
static bool frames_valid(const struct gm_bucket *b, unsigned first,
			 unsigned last)
{
	unsigned w;

	for (w = first / 64; w <= last / 64; w++) {
		unsigned lo = w == first / 64 ? first % 64 : 0;
		unsigned hi = w == last / 64 ? last % 64 : 63;
		uint64_t mask = (~0ULL >> (63 - hi)) & (~0ULL << lo);

		if ((b->valid[w] & mask) != mask)
			return false;
	}
	return true;
}

/* b lacks a frame a lookup wants: map its MiB again (see the top of this
 * file). NULL with *err if not now, or if the new mapping fails. */
static struct gm_bucket *bucket_refresh(struct guest_mem *gm,
					struct gm_bucket *b, int *err)
{
	uint64_t index = b->index;

	if (b->futile_us && loop_now_us() - b->futile_us < GM_REFRESH_US) {
		*err = -EFAULT;
		return NULL;
	}
	hash_del(gm, b);
	bucket_retire(gm, b);
	gm->stats.refreshes++;
	return gm->last = bucket_map(gm, index, err);
}

/* Host pointer for [gpa, gpa + *len) clipped to the bucket of gpa; *len is
 * reduced to the part inside that bucket. */
static uint8_t *piece_get(struct guest_mem *gm, uint64_t gpa, uint64_t *len,
			  struct gm_bucket **bp, int *err)
{
	uint64_t off = gpa & (GM_BUCKET_SIZE - 1);
	unsigned first = (unsigned)(off >> GM_PAGE_SHIFT);
	struct gm_bucket *b;
	unsigned last;

	if (*len > GM_BUCKET_SIZE - off)
		*len = GM_BUCKET_SIZE - off;
	last = (unsigned)((off + *len - 1) >> GM_PAGE_SHIFT);
	b = bucket_get(gm, gpa >> GM_BUCKET_SHIFT, err);
	if (!b)
		return NULL;
	if (!frames_valid(b, first, last)) {
		b = bucket_refresh(gm, b, err);
		if (!b)
			return NULL;
		if (!frames_valid(b, first, last)) {
			b->futile_us = loop_now_us();
			*err = -EFAULT;
			return NULL;
		}
	}
	*bp = b;
	return b->host + off;
}

static void unmap_range(struct guest_mem *gm, void *handle);

struct guest_mem *guest_mem_new(xenforeignmemory_handle *fmem, uint32_t domid,
				size_t max_mapped_bytes)
{
	struct guest_mem *gm = calloc(1, sizeof(*gm));
	size_t nhash = 64;

	if (!gm)
		return NULL;
	gm->fmem = fmem;
	gm->domid = domid;
	gm->max_buckets = max_mapped_bytes >> GM_BUCKET_SHIFT;
	if (gm->max_buckets == 0)
		gm->max_buckets = 1;
	/* About one slot per bucket keeps chains short. */
	while (nhash < gm->max_buckets && nhash < (1U << 16))
		nhash <<= 1;
	gm->hash = calloc(nhash, sizeof(*gm->hash));
	if (!gm->hash) {
		free(gm);
		return NULL;
	}
	gm->hash_mask = nhash - 1;
	pthread_mutex_init(&gm->lock, NULL);
	link_init(&gm->lru);
	link_init(&gm->stale);
	link_init(&gm->ranges);
	return gm;
}

void guest_mem_free(struct guest_mem *gm)
{
	struct gm_bucket *b;
	uint64_t i;

	if (!gm)
		return;
	for (i = 0; i <= gm->hash_mask; i++) {
		while ((b = gm->hash[i])) {
			gm->hash[i] = b->hash_next;
			bucket_unmap(gm, b);
		}
	}
	while (!link_empty(&gm->stale)) {
		b = gm_container(gm->stale.next, struct gm_bucket);
		link_del(&b->link);
		log_error("guest_mem: freeing a bucket with %u pins", b->pins);
		bucket_unmap(gm, b);
	}
	while (!link_empty(&gm->ranges))
		unmap_range(gm, gm_container(gm->ranges.next, struct gm_range));
	pthread_mutex_destroy(&gm->lock);
	free(gm->hash);
	free(gm);
}

static int sg_add(struct guest_mem *gm, struct guest_sg *sg, uint64_t gpa,
		  uint64_t len)
{
	unsigned n0 = sg->n;
	uint64_t bytes0 = sg->bytes;
	int rc = 0;

	if (len == 0)
		return 0;
	if (range_wraps(gpa, len))
		return -EFAULT;
	while (len) {
		uint64_t piece = len;
		struct gm_bucket *b;
		uint8_t *host;

		if (sg->n == sg->max) {
			rc = -E2BIG;
			goto undo;
		}
		host = piece_get(gm, gpa, &piece, &b, &rc);
		if (!host)
			goto undo;
		bucket_pin(gm, b);
		sg->iov[sg->n].iov_base = host;
		sg->iov[sg->n].iov_len = piece;
		sg->pin[sg->n++] = b;
		sg->bytes += piece;
		gpa += piece;
		len -= piece;
	}
	return 0;
undo:
	while (sg->n > n0)
		bucket_unpin(gm, sg->pin[--sg->n]);
	sg->bytes = bytes0;
	return rc;
}

static void sg_release(struct guest_mem *gm, struct guest_sg *sg)
{
	unsigned i;

	for (i = 0; i < sg->n; i++)
		bucket_unpin(gm, sg->pin[i]);
	sg->n = 0;
	sg->bytes = 0;
}

/* Copy loop shared by read and write. No pin is taken: nothing can evict a
 * bucket between the lookup and the memcpy (one thread, or the lock). */
static int copy_range(struct guest_mem *gm, uint64_t gpa, uint8_t *buf,
		      size_t len, bool to_guest)
{
	int rc = 0;

	while (len) {
		uint64_t piece = len;
		struct gm_bucket *b;
		uint8_t *host = piece_get(gm, gpa, &piece, &b, &rc);

		if (!host)
			return rc;
		if (to_guest)
			memcpy(host, buf, piece);
		else if (buf)
			memcpy(buf, host, piece);
		buf = buf ? buf + piece : NULL;
		gpa += piece;
		len -= piece;
	}
	return 0;
}

static int mem_read(struct guest_mem *gm, uint64_t gpa, void *dst, size_t len)
{
	if (len == 0)
		return 0;
	if (range_wraps(gpa, len))
		return -EFAULT;
	return copy_range(gm, gpa, dst, len, false);
}

static int mem_write(struct guest_mem *gm, uint64_t gpa, const void *src,
		     size_t len)
{
	int rc;

	if (len == 0)
		return 0;
	if (range_wraps(gpa, len))
		return -EFAULT;
	/* Check the whole range first (a dry read) so that a bad tail never
	 * leaves a half-written structure in guest memory. */
	if (len > GM_BUCKET_SIZE - (gpa & (GM_BUCKET_SIZE - 1))) {
		rc = copy_range(gm, gpa, NULL, len, false);
		if (rc)
			return rc;
	}
	return copy_range(gm, gpa, (uint8_t *)(uintptr_t)src, len, true);
}

static void *map_range(struct guest_mem *gm, uint64_t gpa, size_t len,
		       void **handle)
{
	uint64_t first, pages, i;
	xen_pfn_t *pfns = NULL;
	int *errs = NULL;
	struct gm_range *r = NULL;
	void *host = NULL;

	*handle = NULL;
	if (len == 0 || range_wraps(gpa, len))
		return NULL;
	first = gpa >> GM_PAGE_SHIFT;
	pages = ((gpa + (len - 1)) >> GM_PAGE_SHIFT) - first + 1;
	if (pages > GM_RANGE_MAX_PAGES)
		return NULL;
	pfns = calloc(pages, sizeof(*pfns));
	errs = calloc(pages, sizeof(*errs));
	r = malloc(sizeof(*r));
	if (!pfns || !errs || !r)
		goto fail;
	for (i = 0; i < pages; i++) {
		pfns[i] = (xen_pfn_t)(first + i);
		errs[i] = -EINVAL;
	}
	gm->stats.map_calls++;
	host = xenforeignmemory_map(gm->fmem, gm->domid, PROT_READ | PROT_WRITE,
				    pages, pfns, errs);
	/* The rings are mapped once per queue start: a refusal here would
	 * cost the guest its disk (DEVICE_NEEDS_RESET) for dom0's want. */
	if (!host && errno == ENOMEM && make_room(gm)) {
		gm->stats.map_calls++;
		host = xenforeignmemory_map(gm->fmem, gm->domid,
					    PROT_READ | PROT_WRITE, pages, pfns,
					    errs);
	}
	if (!host) {
		log_guest_warn("guest_mem: cannot map ring at 0x%llx: %s",
			       (unsigned long long)gpa, strerror(errno));
		goto fail;
	}
	for (i = 0; i < pages; i++) {
		if (errs[i] != 0) {
			xenforeignmemory_unmap(gm->fmem, host, pages);
			gm->stats.unmap_calls++;
			/* The transport logs the refused rings. */
			log_debug("guest_mem: ring at 0x%llx is not RAM",
				  (unsigned long long)gpa);
			goto fail;
		}
	}
	r->host = host;
	r->pages = pages;
	link_add_front(&gm->ranges, &r->link);
	gm->stats.mapped_bytes += pages << GM_PAGE_SHIFT;
	free(pfns);
	free(errs);
	*handle = r;
	return (uint8_t *)host + (gpa & (GM_PAGE_SIZE - 1));
fail:
	free(pfns);
	free(errs);
	free(r);
	return NULL;
}

static void unmap_range(struct guest_mem *gm, void *handle)
{
	struct gm_range *r = handle;

	if (!r)
		return;
	link_del(&r->link);
	if (xenforeignmemory_unmap(gm->fmem, r->host, r->pages) < 0)
		log_error("guest_mem: unmapping a ring: %s", strerror(errno));
	gm->stats.unmap_calls++;
	gm->stats.mapped_bytes -= r->pages << GM_PAGE_SHIFT;
	free(r);
}

static void invalidate(struct guest_mem *gm)
{
	struct gm_bucket *b;
	uint64_t i;

	for (i = 0; i <= gm->hash_mask; i++) {
		while ((b = gm->hash[i])) {
			gm->hash[i] = b->hash_next;
			bucket_retire(gm, b);
		}
	}
	gm->last = NULL;
	gm->stats.invalidations++;
}

/* ---------------------------------------------- entry points, locked */

static void gm_lock(struct guest_mem *gm)
{
	if (gm->shared)
		pthread_mutex_lock(&gm->lock);
}

static void gm_unlock(struct guest_mem *gm)
{
	if (gm->shared)
		pthread_mutex_unlock(&gm->lock);
}

void guest_mem_set_shared(struct guest_mem *gm)
{
	gm->shared = true;
}

int guest_mem_sg_add(struct guest_mem *gm, struct guest_sg *sg, uint64_t gpa,
		     uint64_t len)
{
	int rc;

	gm_lock(gm);
	rc = sg_add(gm, sg, gpa, len);
	if (rc == -ENOMEM)
		sg->held_elsewhere = gm->pins - sg->n;
	gm_unlock(gm);
	return rc;
}

void guest_mem_sg_release(struct guest_mem *gm, struct guest_sg *sg)
{
	bool gone;

	if (!sg->n)
		return;
	gm_lock(gm);
	sg_release(gm, sg);
	gone = gm->stale_gone;
	gm->stale_gone = false;
	gm_unlock(gm);
	if (gone && gm->on_stale_gone)
		gm->on_stale_gone(gm->stale_opaque);
}

int guest_mem_read(struct guest_mem *gm, uint64_t gpa, void *dst, size_t len)
{
	int rc;

	gm_lock(gm);
	rc = mem_read(gm, gpa, dst, len);
	gm_unlock(gm);
	return rc;
}

int guest_mem_write(struct guest_mem *gm, uint64_t gpa, const void *src,
		    size_t len)
{
	int rc;

	gm_lock(gm);
	rc = mem_write(gm, gpa, src, len);
	gm_unlock(gm);
	return rc;
}

void *guest_mem_map_range(struct guest_mem *gm, uint64_t gpa, size_t len,
			  void **handle)
{
	void *p;

	gm_lock(gm);
	p = map_range(gm, gpa, len, handle);
	gm_unlock(gm);
	return p;
}

void guest_mem_unmap_range(struct guest_mem *gm, void *handle)
{
	gm_lock(gm);
	unmap_range(gm, handle);
	gm_unlock(gm);
}

bool guest_mem_invalidate(struct guest_mem *gm)
{
	bool pinned;

	gm_lock(gm);
	invalidate(gm);
	pinned = !link_empty(&gm->stale);
	gm_unlock(gm);
	return pinned;
}

bool guest_mem_stale_pinned(struct guest_mem *gm)
{
	bool pinned;

	gm_lock(gm);
	pinned = !link_empty(&gm->stale);
	gm_unlock(gm);
	return pinned;
}

void guest_mem_on_stale_gone(struct guest_mem *gm, void (*fn)(void *opaque),
			     void *opaque)
{
	gm->on_stale_gone = fn;
	gm->stale_opaque = opaque;
}

void guest_mem_get_stats(struct guest_mem *gm, struct guest_mem_stats *s)
{
	gm_lock(gm);
	*s = gm->stats;
	s->pins = gm->pins;
	gm_unlock(gm);
}
