/* SPDX-License-Identifier: GPL-2.0-only */
/* Guest RAM as seen by the daemon: turns (guest physical address, length)
 * into host pointers over cached foreign mappings. Every range is checked:
 * 64-bit overflow, frames Xen refused to map (err[] != 0) and the configured
 * RAM limit all make a lookup fail; nothing here ever touches an unmapped
 * page. Mappings are cached in fixed-size buckets and reference counted so
 * that INVALIDATE can drop them without pulling memory from under I/O.
 * One thread at a time, unless guest_mem_set_shared(). */
#ifndef XVB_GUEST_MEM_H
#define XVB_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <xenforeignmemory.h>

struct guest_mem;
struct gm_bucket;

/* Bounded cache: at most max_mapped_bytes of guest RAM mapped at once. */
struct guest_mem *guest_mem_new(xenforeignmemory_handle *fmem, uint32_t domid,
				size_t max_mapped_bytes);
/* Threads other than the creator's will use it too (--io-threads): from
 * now on every function takes a lock. Call before they start. */
void guest_mem_set_shared(struct guest_mem *gm);
/* Unmaps everything (callers must have released all pins). */
void guest_mem_free(struct guest_mem *gm);

/* Guest RAM is mapped in buckets of this many bytes (aligned): a range
 * splits into one more sg piece per bucket edge it crosses. */
#define GUEST_MEM_BUCKET_SHIFT 20
#define GUEST_MEM_BUCKET_SIZE  (1ULL << GUEST_MEM_BUCKET_SHIFT)

/* A scatter list of host pieces, each pinning the bucket it lies in. */
struct guest_sg {
	unsigned n, max;
	struct iovec *iov; /* caller-provided arrays of `max` entries */
	struct gm_bucket **pin;
	uint64_t bytes; /* sum of iov lengths */
	/* Set by -ENOMEM from guest_mem_sg_add: the pins held outside this
	 * sg at that moment, under the same lock as the failure (with
	 * threads, a later look may already miss pins whose
	 * release made room since). */
	unsigned held_elsewhere;
};
/* Append [gpa, gpa+len) (split at bucket edges). 0, -EFAULT if any byte is
 * not mappable guest RAM, -E2BIG if sg is full, -ENOMEM if the cache is at
 * its cap with every bucket pinned, or dom0 could map no more with every
 * unpinned bucket given back (held_elsewhere then set). On error sg is
 * otherwise unchanged. */
int guest_mem_sg_add(struct guest_mem *gm, struct guest_sg *sg, uint64_t gpa,
		     uint64_t len);
/* Drop every pin of sg and reset it to empty. */
void guest_mem_sg_release(struct guest_mem *gm, struct guest_sg *sg);

/* Copy helpers for small structures (headers, status bytes): 0, -EFAULT or
 * -ENOMEM as above. */
int guest_mem_read(struct guest_mem *gm, uint64_t gpa, void *dst, size_t len);
int guest_mem_write(struct guest_mem *gm, uint64_t gpa, const void *src,
		    size_t len);

/* A contiguous long-lived mapping (virtqueue rings): NULL on any bad frame.
 * Not affected by guest_mem_invalidate() and not counted against the cap
 * (rings are bounded by the queues); release with guest_mem_unmap_range(). */
void *guest_mem_map_range(struct guest_mem *gm, uint64_t gpa, size_t len,
			  void **handle);
void guest_mem_unmap_range(struct guest_mem *gm, void *handle);

/* IOREQ_TYPE_INVALIDATE: forget cached buckets; pinned ones are unmapped
 * when their last pin goes, and are never handed out again. Whether any
 * such stale bucket is still pinned (then the invalidation ends only when
 * guest_mem_on_stale_gone's function is called). */
bool guest_mem_invalidate(struct guest_mem *gm);
/* Whether a stale bucket (retired by an invalidation or a refresh) is
 * still pinned. */
bool guest_mem_stale_pinned(struct guest_mem *gm);
/* fn(opaque) is called when the last stale bucket is unmapped, by the
 * thread that released its last pin, outside the cache's lock. */
void guest_mem_on_stale_gone(struct guest_mem *gm, void (*fn)(void *opaque),
			     void *opaque);

/* Counters for statistics and tests. */
struct guest_mem_stats {
	uint64_t map_calls, unmap_calls, mapped_bytes, invalidations;
	uint64_t
	    refreshes; /* buckets mapped again for a frame missing before */
	uint64_t pins; /* held now, over every sg of every caller */
};
void guest_mem_get_stats(struct guest_mem *gm, struct guest_mem_stats *s);

#endif
