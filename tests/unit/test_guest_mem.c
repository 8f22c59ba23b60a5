/* SPDX-License-Identifier: GPL-2.0-only */
/* src/guest_mem.c against a fake libxenforeignmemory whose mappings alias a
 * memfd "guest RAM"; invalid frames stay PROT_NONE, so a stray touch crashes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "guest_mem.h"
#include "unit.h"

#define BASE	0x40000000ULL
#define SIZE	(8ULL << 20)
#define HOLE	(BASE + 0x203000) /* one invalid frame */
#define NULLGPA 0x80000000ULL	  /* map returns NULL for this bucket */
#define MB	(1ULL << 20)

static int ramfd;
static int hole_is_ram; /* the guest ballooned HOLE's frame back in */
static struct {
	void *a;
	size_t pages;
} live[64];
static unsigned nlive, maps, unmaps;
static size_t live_pages, max_live_pages;
/* dom0 short of memory: a map that would hold more pages fails (ENOMEM). */
static size_t dom0_pages;

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom,
			   int prot, size_t pages, const xen_pfn_t arr[],
			   int err[])
{
	uint8_t *p;
	size_t i;
	(void)fmem;
	(void)dom;
	(void)prot;
	maps++;
	if ((uint64_t)arr[0] << 12 == NULLGPA) {
		errno = EINVAL;
		return NULL;
	}
	if (dom0_pages && live_pages + pages > dom0_pages) {
		errno = ENOMEM;
		return NULL;
	}
	p = mmap(NULL, pages * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (p == MAP_FAILED)
		abort();
	for (i = 0; i < pages; i++) {
		uint64_t gpa = (uint64_t)arr[i] << 12;
		uint64_t off = gpa - BASE;
		/* the first and last MiB of the address space alias RAM too,
		 * so that a wrapping range would really succeed */
		if (gpa < MB || gpa >= 0ULL - MB)
			off = gpa & (MB - 1);
		else if (gpa < BASE || gpa >= BASE + SIZE ||
			 (gpa == HOLE && !hole_is_ram)) {
			err[i] = -EINVAL;
			continue;
		}
		if (mmap(p + i * 4096, 4096, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, ramfd, off) == MAP_FAILED)
			abort();
		err[i] = 0;
	}
	live[nlive].a = p;
	live[nlive++].pages = pages;
	live_pages += pages;
	if (live_pages > max_live_pages)
		max_live_pages = live_pages;
	return p;
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr,
			   size_t pages)
{
	unsigned i;
	(void)fmem;
	unmaps++;
	for (i = 0; i < nlive; i++)
		if (live[i].a == addr)
			break;
	if (i == nlive || live[i].pages != pages) {
		fprintf(stderr, "bad unmap\n");
		abort();
	}
	munmap(addr, pages * 4096);
	live_pages -= pages;
	live[i] = live[--nlive];
	return 0;
}

static uint8_t *ram; /* direct view of guest RAM */

static void test_rw(void)
{
	struct guest_mem *gm = guest_mem_new(NULL, 1, 64 * MB);
	uint8_t buf[64], z[64] = {0};
	struct guest_mem_stats st;
	unsigned i, m;

	memset(buf, 0xab, sizeof buf);
	CHECK_EQ(guest_mem_write(gm, BASE + MB - 16, buf, 32),
		 0); /* crosses bucket */
	CHECK(memcmp(ram + MB - 16, buf, 32) == 0);
	CHECK_EQ(maps, 2);
	memset(buf, 0, sizeof buf);
	ram[MB + 5] = 0x77;
	CHECK_EQ(guest_mem_read(gm, BASE + MB + 5, buf, 1), 0);
	CHECK_EQ(buf[0], 0x77);
	m = maps;
	for (i = 0; i < 1000; i++)
		guest_mem_read(gm, BASE + (i % 2) * MB + i, buf, 8);
	CHECK_EQ(maps, m); /* warm: no map calls */
	/* Faults */
	CHECK_EQ(guest_mem_read(gm, HOLE - 4, buf, 8), -EFAULT);
	CHECK_EQ(guest_mem_read(gm, HOLE + 4095, buf, 1), -EFAULT);
	CHECK_EQ(guest_mem_read(gm, HOLE + 4096, buf, 1), 0);
	CHECK_EQ(guest_mem_read(gm, HOLE - 1, buf, 1), 0);
	memset(ram + 0x200000 - 8, 0, 16);
	memset(buf, 0xcd, sizeof buf);
	/* write across a bucket boundary into a bad frame: nothing written */
	CHECK_EQ(guest_mem_write(gm, BASE + SIZE - 8, buf, 16), -EFAULT);
	CHECK(memcmp(ram + SIZE - 8, z, 8) == 0);
	CHECK_EQ(guest_mem_read(gm, BASE - 1, buf, 2), -EFAULT);
	CHECK_EQ(guest_mem_read(gm, UINT64_MAX - 3, buf, 8), -EFAULT);
	CHECK_EQ(guest_mem_write(gm, UINT64_MAX - 3, buf, 8), -EFAULT);
	CHECK_EQ(guest_mem_read(gm, UINT64_MAX, buf, 0), 0);
	CHECK_EQ(guest_mem_read(gm, UINT64_MAX - 3, buf, 4),
		 0); /* top MiB aliases RAM */
	CHECK_EQ(guest_mem_read(gm, 0, buf, 4), 0);
	{
		struct iovec v[4];
		struct gm_bucket *pp[4];
		struct guest_sg s = {0, 4, v, pp, 0};
		void *h;
		CHECK_EQ(guest_mem_sg_add(gm, &s, UINT64_MAX - 3, 8), -EFAULT);
		CHECK_EQ(s.n, 0);
		CHECK(guest_mem_map_range(gm, UINT64_MAX - 3, 8, &h) == NULL);
	}
	CHECK_EQ(guest_mem_read(gm, NULLGPA, buf, 1), -EFAULT);
	guest_mem_get_stats(gm, &st);
	CHECK_EQ(st.map_calls, maps);
	CHECK_EQ(st.mapped_bytes, live_pages * 4096);
	guest_mem_free(gm);
	CHECK_EQ(nlive, 0);
}

static void test_sg(void)
{
	struct guest_mem *gm = guest_mem_new(NULL, 1, 3 * MB);
	struct iovec iov[4];
	struct gm_bucket *pin[4];
	struct guest_mem_stats st;
	struct guest_sg sg = {0, 4, iov, pin, 0}, sg2 = {0, 4, iov, pin, 0};
	struct iovec iov2[4];
	struct gm_bucket *pin2[4];
	uint8_t b;
	unsigned m;

	sg2.iov = iov2;
	sg2.pin = pin2;
	max_live_pages = 0;
	CHECK_EQ(guest_mem_sg_add(gm, &sg, BASE + MB - 100, MB + 200), 0);
	CHECK_EQ(sg.n, 3);
	CHECK_EQ(sg.bytes, MB + 200);
	CHECK_EQ(iov[0].iov_len, 100);
	CHECK_EQ(iov[1].iov_len, MB);
	CHECK_EQ(iov[2].iov_len, 100);
	ram[2 * MB + 50] = 0x5a;
	CHECK_EQ(((uint8_t *)iov[2].iov_base)[50], 0x5a);
	CHECK_EQ(guest_mem_sg_add(gm, &sg, BASE, 0), 0);
	CHECK_EQ(guest_mem_sg_add(gm, &sg, UINT64_MAX, 0), 0);
	CHECK_EQ(sg.n, 3);
	/* 3 pinned buckets, cap 3: a fourth bucket must fail -ENOMEM */
	CHECK_EQ(guest_mem_read(gm, BASE + 5 * MB, &b, 1), -ENOMEM);
	CHECK_EQ(guest_mem_sg_add(gm, &sg2, BASE + 5 * MB, 1), -ENOMEM);
	CHECK_EQ(sg2.n, 0);
	/* ...and the caller can see that others hold the mappings, as they
	 * did at the failure itself. */
	guest_mem_get_stats(gm, &st);
	CHECK_EQ(st.pins, 3);
	CHECK_EQ(sg2.held_elsewhere, 3);
	CHECK(max_live_pages <= 3 * 256);
	/* -E2BIG leaves sg unchanged */
	CHECK_EQ(guest_mem_sg_add(gm, &sg, BASE + MB - 10, 20), -E2BIG);
	CHECK_EQ(sg.n, 3);
	CHECK_EQ(sg.bytes, MB + 200);
	guest_mem_sg_release(gm, &sg);
	CHECK_EQ(sg.n, 0);
	CHECK_EQ(sg.bytes, 0);
	guest_mem_get_stats(gm, &st);
	CHECK_EQ(st.pins, 0);
	/* now eviction works */
	CHECK_EQ(guest_mem_read(gm, BASE + 5 * MB, &b, 1), 0);
	/* -EFAULT in the 2nd bucket: the 1st bucket's pin is undone */
	CHECK_EQ(guest_mem_sg_add(gm, &sg, BASE + 2 * MB - 10, 0x3000 + 20),
		 -EFAULT);
	CHECK_EQ(sg.n, 0);
	CHECK_EQ(sg.bytes, 0);
	CHECK_EQ(guest_mem_sg_add(gm, &sg2, BASE + 6 * MB, 1), 0);
	CHECK_EQ(guest_mem_sg_add(gm, &sg2, BASE + 7 * MB, 1), 0);
	m = maps;
	CHECK_EQ(guest_mem_read(gm, BASE + 4 * MB, &b, 1),
		 0); /* evicts the unpinned one */
	CHECK_EQ(maps, m + 1);
	CHECK(max_live_pages <= 3 * 256);
	/* sg2's own two pins are not counted as held elsewhere. */
	CHECK_EQ(guest_mem_sg_add(gm, &sg, BASE + 4 * MB, 1), 0);
	CHECK_EQ(guest_mem_sg_add(gm, &sg2, BASE + 8 * MB, 1), -ENOMEM);
	CHECK_EQ(sg2.n, 2);
	CHECK_EQ(sg2.held_elsewhere, 1);
	guest_mem_sg_release(gm, &sg);
	guest_mem_sg_release(gm, &sg2);
	/* sg full at start */
	sg.max = 0;
	CHECK_EQ(guest_mem_sg_add(gm, &sg, BASE, 1), -E2BIG);
	guest_mem_free(gm);
	CHECK_EQ(nlive, 0);
}

static void test_lru(void)
{
	struct guest_mem *gm = guest_mem_new(NULL, 1, 2 * MB);
	uint8_t b;
	unsigned m = maps, u = unmaps;

	max_live_pages = 0;

	guest_mem_read(gm, BASE, &b, 1);      /* A */
	guest_mem_read(gm, BASE + MB, &b, 1); /* B */
	guest_mem_read(gm, BASE, &b, 1);      /* A hit */
	CHECK_EQ(maps, m + 2);
	guest_mem_read(gm, BASE + 2 * MB, &b, 1); /* C evicts B */
	CHECK_EQ(maps, m + 3);
	CHECK_EQ(unmaps, u + 1);
	guest_mem_read(gm, BASE, &b, 1); /* A still there */
	CHECK_EQ(maps, m + 3);
	guest_mem_read(gm, BASE + MB, &b, 1); /* B again: evicts C */
	CHECK_EQ(maps, m + 4);
	guest_mem_read(gm, BASE, &b, 1);
	CHECK_EQ(maps, m + 4);
	CHECK(max_live_pages <= 2 * 256);
	guest_mem_free(gm);
	CHECK_EQ(nlive, 0);
}

static void count_stale_gone(void *opaque)
{
	(*(unsigned *)opaque)++;
}

static void test_invalidate(void)
{
	struct guest_mem *gm = guest_mem_new(NULL, 1, 4 * MB);
	struct iovec iov[4];
	struct gm_bucket *pin[4];
	struct guest_sg sg = {0, 4, iov, pin, 0};
	struct guest_mem_stats st;
	uint8_t b;
	unsigned m, u, stale_gone = 0;
	void *h;
	uint8_t *r;

	r = guest_mem_map_range(gm, BASE + 0x1ff8, 16, &h); /* spans 2 frames */
	CHECK(r != NULL);
	CHECK_EQ(nlive, 1);
	r[0] = 1;
	r[15] = 2;
	CHECK_EQ(ram[0x1ff8], 1);
	CHECK_EQ(ram[0x2007], 2);
	guest_mem_read(gm, BASE + MB, &b, 1);
	CHECK_EQ(guest_mem_sg_add(gm, &sg, BASE + 10, 10), 0); /* last hit */
	u = unmaps;
	guest_mem_on_stale_gone(gm, count_stale_gone, &stale_gone);
	/* The pinned bucket keeps the invalidation going (the INVALIDATE's
	 * answer waits for the callback). */
	CHECK(guest_mem_invalidate(gm));
	CHECK(guest_mem_stale_pinned(gm));
	CHECK_EQ(unmaps, u + 1); /* unpinned one gone now */
	CHECK_EQ(nlive, 2);	 /* range + pinned stale bucket */
	m = maps;
	CHECK_EQ(guest_mem_read(gm, BASE + 20, &b, 1),
		 0); /* stale not reused */
	CHECK_EQ(maps, m + 1);
	CHECK_EQ(stale_gone, 0);
	guest_mem_sg_release(gm, &sg);
	CHECK_EQ(unmaps, u + 2); /* stale bucket unmapped at last unpin */
	CHECK_EQ(stale_gone, 1);
	CHECK(!guest_mem_stale_pinned(gm));
	r[1] = 3; /* the range survives invalidate */
	CHECK_EQ(ram[0x1ff9], 3);
	guest_mem_get_stats(gm, &st);
	CHECK_EQ(st.invalidations, 1);
	CHECK_EQ(st.mapped_bytes, live_pages * 4096);
	guest_mem_unmap_range(gm, h);
	CHECK_EQ(nlive, 1);
	/* ranges with bad frames fail and leave nothing mapped */
	CHECK(guest_mem_map_range(gm, HOLE - 8, 16, &h) == NULL);
	CHECK(h == NULL);
	CHECK(guest_mem_map_range(gm, BASE + SIZE - 8, 16, &h) == NULL);
	CHECK(guest_mem_map_range(gm, UINT64_MAX - 7, 16, &h) == NULL);
	CHECK(guest_mem_map_range(gm, BASE, 0, &h) == NULL);
	CHECK(guest_mem_map_range(gm, NULLGPA, 16, &h) == NULL);
	CHECK_EQ(nlive, 1);
	r = guest_mem_map_range(gm, BASE + SIZE - 16, 16, &h);
	CHECK(r != NULL);
	/* Nothing pinned: an invalidation is over at once. */
	CHECK(!guest_mem_invalidate(gm));
	CHECK_EQ(stale_gone, 1);
	/* free with a range still mapped unmaps it */
	guest_mem_free(gm);
	CHECK_EQ(nlive, 0);
	CHECK_EQ(live_pages, 0);
}

/* A frame missing when its bucket was mapped becomes RAM (balloon in; Xen
 * sends no INVALIDATE): the next lookup maps the bucket again, even while
 * other I/O pins the old mapping, which goes when its pin does. A refresh
 * that finds the frame still missing is not repeated at once. */
static void test_balloon(void)
{
	struct guest_mem *gm = guest_mem_new(NULL, 1, 64 * MB);
	struct iovec iov[2];
	struct gm_bucket *pin[2];
	struct guest_sg sg = {0, 2, iov, pin, 0};
	struct guest_mem_stats st;
	uint8_t b = 0;
	unsigned m, u;

	hole_is_ram = 0;
	CHECK_EQ(guest_mem_sg_add(gm, &sg, HOLE - 8, 8), 0); /* pins the MiB */
	m = maps;
	CHECK_EQ(guest_mem_read(gm, HOLE, &b, 1), -EFAULT);
	CHECK_EQ(maps, m + 1); /* refreshed once: still a hole */
	CHECK_EQ(guest_mem_read(gm, HOLE, &b, 1), -EFAULT);
	CHECK_EQ(maps, m + 1);	  /* and not again at once */
	CHECK_EQ(nlive, 2);	  /* the pinned first mapping is still there */
	guest_mem_invalidate(gm); /* a fresh start for the same MiB */
	CHECK_EQ(guest_mem_read(gm, HOLE - 1, &b, 1), 0);
	hole_is_ram = 1;
	ram[HOLE - BASE] = 0x42;
	m = maps;
	u = unmaps;
	CHECK_EQ(guest_mem_read(gm, HOLE, &b, 1), 0);
	CHECK_EQ(b, 0x42);
	CHECK_EQ(maps, m + 1);
	CHECK_EQ(unmaps, u + 1); /* the unpinned old mapping went at once */
	CHECK_EQ(guest_mem_read(gm, HOLE, &b, 1), 0);
	CHECK_EQ(maps, m + 1); /* warm again */
	guest_mem_sg_release(gm, &sg);
	CHECK_EQ(nlive, 1); /* both stale mappings are gone */
	guest_mem_get_stats(gm, &st);
	CHECK_EQ(st.refreshes, 2);
	CHECK_EQ(st.mapped_bytes, live_pages * 4096);
	guest_mem_free(gm);
	CHECK_EQ(nlive, 0);
	hole_is_ram = 0;
}

/* dom0 cannot map more (privcmd's ENOMEM), below the cache's own cap:
 * unpinned buckets are given back and the map tried again; with every
 * bucket pinned the caller gets -ENOMEM (wait for room), not -EFAULT. */
static void test_dom0_enomem(void)
{
	struct guest_mem *gm = guest_mem_new(NULL, 1, 64 * MB);
	struct iovec iov[2];
	struct gm_bucket *pin[2];
	struct guest_sg sg = {0, 2, iov, pin, 0};
	unsigned m;
	uint8_t b;

	dom0_pages = 2 * 256;
	CHECK_EQ(guest_mem_read(gm, BASE, &b, 1), 0);
	CHECK_EQ(guest_mem_read(gm, BASE + MB, &b, 1), 0);
	m = maps;
	CHECK_EQ(guest_mem_read(gm, BASE + 2 * MB, &b, 1), 0);
	CHECK_EQ(maps, m + 2); /* refused, then mapped after the eviction */
	CHECK(live_pages <= 2 * 256);
	CHECK_EQ(guest_mem_sg_add(gm, &sg, BASE + 3 * MB, 1), 0);
	CHECK_EQ(guest_mem_sg_add(gm, &sg, BASE + 4 * MB, 1), 0);
	CHECK_EQ(guest_mem_read(gm, BASE + 5 * MB, &b, 1), -ENOMEM);
	guest_mem_sg_release(gm, &sg);
	CHECK_EQ(guest_mem_read(gm, BASE + 5 * MB, &b, 1), 0);
	dom0_pages = 0;
	guest_mem_free(gm);
	CHECK_EQ(nlive, 0);
}

/* A ring mapped while dom0 is short (privcmd's ENOMEM) because of what the
 * bucket cache holds: the unpinned buckets go back and the ring is mapped,
 * rather than the queue failing for good (DEVICE_NEEDS_RESET). With every
 * bucket pinned the ring still fails. */
static void test_ring_dom0_enomem(void)
{
	struct guest_mem *gm = guest_mem_new(NULL, 1, 64 * MB);
	struct iovec iov[2];
	struct gm_bucket *pin[2];
	struct guest_sg sg = {0, 2, iov, pin, 0};
	void *h = NULL, *ring;
	uint8_t b;

	dom0_pages = 2 * 256;
	CHECK_EQ(guest_mem_read(gm, BASE, &b, 1), 0);
	CHECK_EQ(guest_mem_read(gm, BASE + MB, &b, 1), 0);
	CHECK_EQ(live_pages, 2 * 256);
	ring = guest_mem_map_range(gm, BASE + 6 * MB, 3 * 4096, &h);
	CHECK(ring != NULL);
	CHECK(h != NULL);
	if (ring)
		CHECK(memcmp(ring, ram + 6 * MB, 3 * 4096) == 0);
	CHECK(live_pages <= 2 * 256);
	guest_mem_unmap_range(gm, h);
	/* Both buckets pinned: nothing to give back, the ring is refused. */
	CHECK_EQ(guest_mem_sg_add(gm, &sg, BASE + 3 * MB, 1), 0);
	CHECK_EQ(guest_mem_sg_add(gm, &sg, BASE + 4 * MB, 1), 0);
	h = NULL;
	CHECK(guest_mem_map_range(gm, BASE + 6 * MB, 4096, &h) == NULL);
	CHECK(h == NULL);
	guest_mem_sg_release(gm, &sg);
	dom0_pages = 0;
	guest_mem_free(gm);
	CHECK_EQ(nlive, 0);
}

int main(void)
{
	ramfd = memfd_create("ram", 0);
	if (ftruncate(ramfd, SIZE))
		abort();
	ram = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ramfd, 0);
	UNIT_RUN(test_rw);
	UNIT_RUN(test_sg);
	UNIT_RUN(test_lru);
	UNIT_RUN(test_invalidate);
	UNIT_RUN(test_balloon);
	UNIT_RUN(test_dom0_enomem);
	UNIT_RUN(test_ring_dom0_enomem);
	return UNIT_DONE();
}
