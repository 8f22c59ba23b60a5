/* SPDX-License-Identifier: GPL-2.0-only */
/* Split virtqueue, device side (virtio 1.2 section 2.7).
 *
 * The rings are mapped once (guest_mem_map_range) and accessed through
 * volatile pointers: the driver writes them concurrently from other vCPUs.
 * Each guest value is loaded exactly once into a local and validated there,
 * so a driver that rewrites a descriptor while we walk it can only make its
 * own request fail. Runs on the event-loop thread; one struct virtq must not
 * be used from two threads at once. */
#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <linux/virtio_ring.h>

#include "log.h"
#include "virtqueue.h"

/* A descriptor copied out of guest memory, host byte order. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static void desc_load(struct desc *d, const volatile struct vring_desc *v)
{
	d->addr = le64toh(v->addr);
	d->len = le32toh(v->len);
	d->flags = le16toh(v->flags);
	d->next = le16toh(v->next);
}

/* used_event sits just after avail->ring[num] (2.7.6), avail_event just
 * after used->ring[num] (2.7.8). */
static volatile uint16_t *used_event(struct virtq *vq)
{
	return &vq->avail->ring[vq->num];
}

static volatile uint16_t *avail_event(struct virtq *vq)
{
	return (volatile uint16_t *)&vq->used->ring[vq->num];
}

static void unmap_rings(struct virtq *vq)
{
	guest_mem_unmap_range(vq->gm, vq->desc_map);
	guest_mem_unmap_range(vq->gm, vq->avail_map);
	guest_mem_unmap_range(vq->gm, vq->used_map);
	vq->desc_map = vq->avail_map = vq->used_map = NULL;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static void ring_sizes(const struct virtq *vq, uint64_t *desc, uint64_t *avail,
		       uint64_t *used)
{
	/* 2.7 table "Virtqueue Part Size": the 6 covers flags, idx and the
	 * event word after the ring. */
	*desc = sizeof(struct vring_desc) * vq->num;
	*avail = 6 + 2 * (uint64_t)vq->num;
	*used = 6 + sizeof(struct vring_used_elem) * vq->num;
}

/* w's used ring (the only part we write) overlaps o's desc or avail ring,
 * which the driver writes. */
static bool used_over_driver_rings(const struct virtq *w, const struct virtq *o)
{
	uint64_t wd, wa, wu, od, oa, ou;

	ring_sizes(w, &wd, &wa, &wu);
	ring_sizes(o, &od, &oa, &ou);
	return ranges_overlap(w->used_gpa, wu, o->desc_gpa, od) ||
	       ranges_overlap(w->used_gpa, wu, o->avail_gpa, oa);
}

int virtq_start(struct virtq *vq, struct guest_mem *gm, bool event_idx,
		bool indirect)
{
	unsigned num = vq->num;
	uint64_t desc_size, avail_size, used_size;

	virtq_stop(vq);
	vq->gm = gm;
	/* 2.7: Queue Size is a power of 2 (split ring). */
	if (num == 0 || num > VIRTQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	/* 2.7 table "Virtqueue Part Alignment". */
	if (vq->desc_gpa % VRING_DESC_ALIGN_SIZE ||
	    vq->avail_gpa % VRING_AVAIL_ALIGN_SIZE ||
	    vq->used_gpa % VRING_USED_ALIGN_SIZE)
		return -EINVAL;
	ring_sizes(vq, &desc_size, &avail_size, &used_size);
	vq->desc =
	    guest_mem_map_range(gm, vq->desc_gpa, desc_size, &vq->desc_map);
	vq->avail =
	    guest_mem_map_range(gm, vq->avail_gpa, avail_size, &vq->avail_map);
	vq->used =
	    guest_mem_map_range(gm, vq->used_gpa, used_size, &vq->used_map);
	if (!vq->desc || !vq->avail || !vq->used) {
		unmap_rings(vq);
		return -EFAULT;
	}
	/* The used ring is the only part we write. Overlapping it with what
	 * the driver writes would let our flags and avail_event stores move
	 * avail->idx under us (found by fuzzing: the notify loop then never
	 * drains). The mappings above succeeded, so no range wraps. */
	if (used_over_driver_rings(vq, vq)) {
		unmap_rings(vq);
		return -EINVAL;
	}
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->broken = false;
	vq->last_avail = 0;
	vq->avail_idx = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->started = true;
	return 0;
}

bool virtq_rings_clash(const struct virtq *a, const struct virtq *b)
{
	uint64_t other, ua, ub;

	if (!a->started || !b->started)
		return false;
	ring_sizes(a, &other, &other, &ua);
	ring_sizes(b, &other, &other, &ub);
	return used_over_driver_rings(a, b) || used_over_driver_rings(b, a) ||
	       ranges_overlap(a->used_gpa, ua, b->used_gpa, ub);
}

void virtq_stop(struct virtq *vq)
{
	if (!vq->started)
		return;
	unmap_rings(vq);
	vq->started = false;
}

static int chain_malformed(struct virtq_chain *c, const char *why)
{
	log_guest_warn("virtq: dropping malformed chain (head %u): %s", c->head,
		       why);
	c->nseg = 0;
	c->nreadable = 0;
	c->readable_bytes = 0;
	c->writable_bytes = 0;
	return -EINVAL;
}

int virtq_pop(struct virtq *vq, struct virtq_chain *c)
{
	/* The indirect table is copied here once, then parsed from the copy. */
	struct vring_desc table[VIRTQ_MAX_CHAIN];
	const volatile struct vring_desc *descs = vq->desc;
	unsigned size = vq->num; /* entries of the table being walked */
	unsigned seen = 0;	 /* descriptors walked in that table */
	unsigned nbuf = 0;	 /* buffer descriptors in the whole chain */
	bool in_indirect = false, writable = false;
	uint16_t head, i;

	if (!vq->started)
		return 0;
	if (vq->broken)
		return -EIO;
	if (vq->last_avail == vq->avail_idx) {
		uint16_t idx = le16toh(vq->avail->idx);

		/* 2.7.13: the driver can never have more than num entries
		 * outstanding; anything else means the ring is unusable. */
		if ((uint16_t)(idx - vq->last_avail) > vq->num) {
			vq->broken = true;
			log_guest_warn("virtq: avail idx jumped from %u to %u "
				       "(size %u); device needs reset",
				       vq->last_avail, idx, vq->num);
			return -EIO;
		}
		vq->avail_idx = idx;
		if (idx == vq->last_avail)
			return 0;
		/* Ring entries and descriptors were written before idx. */
		atomic_thread_fence(memory_order_acquire);
	}

	head = le16toh(vq->avail->ring[vq->last_avail & (vq->num - 1)]);
	vq->last_avail++;
	memset(c, 0, offsetof(struct virtq_chain, seg));
	c->head = head;
	if (head >= vq->num)
		return chain_malformed(c, "head out of range");
	i = head;
	for (;;) {
		struct desc d;

		/* A chain visiting more entries than its table holds loops
		 * (2.7.5.2 forbids loops, 2.7.5.3.1 caps chains at the queue
		 * size). */
		if (++seen > size)
			return chain_malformed(c, "descriptor loop");
		desc_load(&d, &descs[i]);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* 2.7.5.3.1: needs the feature, no NEXT alongside, no
			 * nesting; the WRITE bit here is ignored (2.7.5.3.2).
			 */
			if (!vq->indirect)
				return chain_malformed(c, "indirect not "
							  "negotiated");
			if (in_indirect)
				return chain_malformed(c, "nested indirect");
			if (d.flags & VRING_DESC_F_NEXT)
				return chain_malformed(c, "indirect with next");
			if (d.len == 0 || d.len % sizeof(struct vring_desc) ||
			    d.len > sizeof(table))
				return chain_malformed(c, "bad indirect size");
			int err = guest_mem_read(vq->gm, d.addr, table, d.len);

			if (err == -ENOMEM) {
				/* Not the driver's fault: the chain is fine,
				 * our mappings are all in use. */
				virtq_unpop(vq);
				return -EAGAIN;
			}
			if (err)
				return chain_malformed(c, "indirect table not "
							  "in RAM");
			descs = table;
			size = d.len / sizeof(struct vring_desc);
			seen = 0;
			i = 0;
			in_indirect = true;
			continue;
		}
		/* 2.7.4.2: device-writable buffers follow readable ones. */
		if (d.flags & VRING_DESC_F_WRITE)
			writable = true;
		else if (writable)
			return chain_malformed(c, "readable after writable");
		if (++nbuf > VIRTQ_MAX_CHAIN)
			return chain_malformed(c, "chain too long");
		if (d.len) {
			struct virtq_seg *s = &c->seg[c->nseg++];

			s->gpa = d.addr;
			s->len = d.len;
			s->device_writes = writable;
			if (writable) {
				c->writable_bytes += d.len;
			} else {
				c->readable_bytes += d.len;
				c->nreadable++;
			}
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 1;
		if (d.next >= size)
			return chain_malformed(c, "next out of range");
		i = d.next;
	}
}

void virtq_unpop(struct virtq *vq)
{
	vq->last_avail--;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	volatile struct vring_used_elem *e;

	if (!vq->started)
		return;
	e = &vq->used->ring[vq->used_idx & (vq->num - 1)];
	e->id = htole32(head);
	e->len = htole32(len);
	vq->used_idx++;
}

bool virtq_flush_used(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, new = vq->used_idx;

	if (!vq->started || old == new)
		return false;
	/* 2.7.8.2: entries must be visible before the index covering them. */
	atomic_thread_fence(memory_order_release);
	vq->used->idx = htole16(new);
	/* Order the idx store before reading the driver's suppression state
	 * (2.7.7.2); otherwise we could miss an interrupt it just asked for. */
	atomic_thread_fence(memory_order_seq_cst);
	vq->signalled_used = new;
	if (vq->event_idx)
		return vring_need_event(le16toh(*used_event(vq)), new, old);
	return !(le16toh(vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

bool virtq_enable_notify_slack(struct virtq *vq, uint16_t slack)
{
	uint16_t waiting;

	if (!vq->started || vq->broken)
		return false;
	if (vq->event_idx) {
		/* 2.7.10: the driver notifies once its avail idx passes
		 * avail_event, i.e. at the (slack + 1)-th new buffer. */
		*avail_event(vq) = htole16((uint16_t)(vq->last_avail + slack));
	} else {
		/* Flags cannot count: with slack the caller polls instead. */
		vq->used->flags = htole16(slack ? VRING_USED_F_NO_NOTIFY : 0);
	}
	/* A buffer made available before the driver saw the store above got
	 * no kick (2.7.10): look again after a full fence. Up to `slack` of
	 * them are the caller's to collect later; more must be popped now. */
	atomic_thread_fence(memory_order_seq_cst);
	waiting = (uint16_t)(le16toh(vq->avail->idx) - vq->last_avail);
	return slack && vq->event_idx ? waiting > slack : waiting != 0;
}

bool virtq_has_avail(const struct virtq *vq)
{
	return vq->started && !vq->broken &&
	       le16toh(vq->avail->idx) != vq->last_avail;
}

bool virtq_enable_notify(struct virtq *vq)
{
	return virtq_enable_notify_slack(vq, 0);
}

void virtq_disable_notify(struct virtq *vq)
{
	/* With EVENT_IDX a stale avail_event already stops further kicks
	 * once the driver has passed it. */
	if (!vq->started || vq->event_idx)
		return;
	vq->used->flags = htole16(VRING_USED_F_NO_NOTIFY);
}
