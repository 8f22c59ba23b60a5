/* SPDX-License-Identifier: GPL-2.0-only */
/* Fake guest RAM for unit tests; see fake_guest_mem.h for the contract. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_guest_mem.h"

#define FAKE_BUCKET_SIZE (1ULL << 20) /* same split points as guest_mem.c */

/* Every pin of a fake points at its one token, so a pin handed to the
 * wrong guest_mem is caught on release. */
struct gm_bucket {
	struct guest_mem *owner;
};

struct guest_mem {
	uint64_t base;
	size_t size;
	uint8_t *ram;
	unsigned pins, ranges;
	uint64_t full_from; /* fake_guest_mem_full() */
	unsigned others;
	bool others_leave; /* fake_guest_mem_others_leave() */
	struct gm_bucket token;
	struct guest_mem_stats stats;
};

struct fake_range {
	struct guest_mem *owner;
	size_t len;
};

/* Host pointer for [gpa, gpa + len) if it lies inside the fake RAM. */
static uint8_t *fake_ptr(struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	if (len == 0 || len - 1 > UINT64_MAX - gpa)
		return NULL;
	if (gpa < gm->base || gpa - gm->base > gm->size ||
	    len > gm->size - (gpa - gm->base))
		return NULL;
	return gm->ram + (gpa - gm->base);
}

struct guest_mem *fake_guest_mem_new(uint64_t base_gpa, size_t size)
{
	struct guest_mem *gm = calloc(1, sizeof(*gm));

	if (!gm || !(gm->ram = calloc(1, size ? size : 1)))
		abort();
	gm->base = base_gpa;
	gm->size = size;
	gm->token.owner = gm;
	gm->full_from = UINT64_MAX;
	return gm;
}

uint8_t *fake_guest_mem_ptr(struct guest_mem *gm)
{
	return gm->ram;
}

unsigned fake_guest_mem_pins(struct guest_mem *gm)
{
	return gm->pins;
}

void fake_guest_mem_full(struct guest_mem *gm, uint64_t from_gpa,
			 unsigned others)
{
	gm->full_from = from_gpa;
	gm->others = others;
	gm->others_leave = false;
}

void fake_guest_mem_others_leave(struct guest_mem *gm)
{
	gm->others_leave = true;
}

/* Whether fake_guest_mem_full() refuses [gpa, gpa + len) (len > 0). */
static bool fake_full(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	return gm->full_from != UINT64_MAX && gpa + (len - 1) >= gm->full_from;
}

unsigned fake_guest_mem_ranges(struct guest_mem *gm)
{
	return gm->ranges;
}

void fake_guest_mem_free(struct guest_mem *gm)
{
	if (!gm)
		return;
	free(gm->ram);
	free(gm);
}

struct guest_mem *guest_mem_new(xenforeignmemory_handle *fmem, uint32_t domid,
				size_t max_mapped_bytes)
{
	(void)fmem;
	(void)domid;
	(void)max_mapped_bytes;
	return NULL;
}

void guest_mem_free(struct guest_mem *gm)
{
	fake_guest_mem_free(gm);
}

int guest_mem_sg_add(struct guest_mem *gm, struct guest_sg *sg, uint64_t gpa,
		     uint64_t len)
{
	unsigned n0 = sg->n;
	uint64_t bytes0 = sg->bytes;
	uint8_t *host;

	if (len == 0)
		return 0;
	host = fake_ptr(gm, gpa, len);
	if (!host)
		return -EFAULT;
	if (fake_full(gm, gpa, len)) {
		sg->held_elsewhere = gm->pins + gm->others - sg->n;
		if (gm->others_leave) { /* and their room with them */
			gm->others = 0;
			gm->full_from = UINT64_MAX;
			gm->others_leave = false;
		}
		return -ENOMEM;
	}
	while (len) {
		uint64_t piece =
		    FAKE_BUCKET_SIZE - (gpa & (FAKE_BUCKET_SIZE - 1));

		if (piece > len)
			piece = len;
		if (sg->n == sg->max) {
			gm->pins -= sg->n - n0;
			sg->n = n0;
			sg->bytes = bytes0;
			return -E2BIG;
		}
		sg->iov[sg->n].iov_base = host;
		sg->iov[sg->n].iov_len = piece;
		sg->pin[sg->n++] = &gm->token;
		sg->bytes += piece;
		gm->pins++;
		host += piece;
		gpa += piece;
		len -= piece;
	}
	return 0;
}

void guest_mem_sg_release(struct guest_mem *gm, struct guest_sg *sg)
{
	unsigned i;

	for (i = 0; i < sg->n; i++) {
		if (sg->pin[i] != &gm->token || gm->pins == 0) {
			fprintf(stderr, "fake_guest_mem: bad pin release\n");
			abort();
		}
		gm->pins--;
	}
	sg->n = 0;
	sg->bytes = 0;
}

int guest_mem_read(struct guest_mem *gm, uint64_t gpa, void *dst, size_t len)
{
	uint8_t *host;

	if (len == 0)
		return 0;
	host = fake_ptr(gm, gpa, len);
	if (!host)
		return -EFAULT;
	if (fake_full(gm, gpa, len))
		return -ENOMEM;
	memcpy(dst, host, len);
	return 0;
}

int guest_mem_write(struct guest_mem *gm, uint64_t gpa, const void *src,
		    size_t len)
{
	uint8_t *host;

	if (len == 0)
		return 0;
	host = fake_ptr(gm, gpa, len);
	if (!host)
		return -EFAULT;
	if (fake_full(gm, gpa, len))
		return -ENOMEM;
	memcpy(host, src, len);
	return 0;
}

void *guest_mem_map_range(struct guest_mem *gm, uint64_t gpa, size_t len,
			  void **handle)
{
	uint8_t *host = fake_ptr(gm, gpa, len);
	struct fake_range *r;

	*handle = NULL;
	gm->stats.map_calls++;
	if (!host)
		return NULL;
	r = malloc(sizeof(*r));
	if (!r)
		abort();
	r->owner = gm;
	r->len = len;
	gm->ranges++;
	gm->stats.mapped_bytes += len;
	*handle = r;
	return host;
}

void guest_mem_unmap_range(struct guest_mem *gm, void *handle)
{
	struct fake_range *r = handle;

	if (!r)
		return;
	if (r->owner != gm || gm->ranges == 0) {
		fprintf(stderr, "fake_guest_mem: bad range unmap\n");
		abort();
	}
	gm->ranges--;
	gm->stats.unmap_calls++;
	gm->stats.mapped_bytes -= r->len;
	free(r);
}

bool guest_mem_invalidate(struct guest_mem *gm)
{
	gm->stats.invalidations++;
	return false;
}

bool guest_mem_stale_pinned(struct guest_mem *gm)
{
	(void)gm;
	return false;
}

void guest_mem_on_stale_gone(struct guest_mem *gm, void (*fn)(void *opaque),
			     void *opaque)
{
	(void)gm;
	(void)fn;
	(void)opaque;
}

void guest_mem_get_stats(struct guest_mem *gm, struct guest_mem_stats *s)
{
	*s = gm->stats;
	s->pins = gm->pins + gm->others;
}
