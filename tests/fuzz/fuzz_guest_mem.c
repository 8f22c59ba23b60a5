/* SPDX-License-Identifier: GPL-2.0-only */
/* libFuzzer target: the real guest memory cache (src/guest_mem.c), the code
 * every address a guest hands the daemon goes through, over a fake
 * libxenforeignmemory whose mappings alias a memfd "guest RAM"; frames that
 * are not RAM stay PROT_NONE, so a stray touch crashes. The input plays the
 * device (copies, scatter lists held and released, ring mappings) and the
 * guest and Xen (frames ballooned out, with the INVALIDATE Xen sends then,
 * or back in; dom0 short of memory).
 *
 * Checked, against a model of which frames are RAM: a lookup succeeds if
 * every frame of its range is RAM and fails with -EFAULT if one is not (a
 * frame ballooned back in may still fail for a while: the cache looks again
 * at most once a second), and says -ENOMEM only while something is pinned
 * or dom0 is short of memory; what it reads is what guest RAM holds, a scatter
 * list covers exactly its range, each piece the right bytes; a write lands
 * where it should; the pins and the mapped bytes stay within their bounds;
 * an invalidation with pinned buckets ends (its callback) once the last of
 * them is released, and never before.
 *
 * Input: 8-byte records { u8 op; u8 a; u16 b; u32 v } (enum op). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "guest_mem.h"
#include "log.h"

#define PAGE	  4096ull
#define MB	  (1ull << 20)
#define BASE	  0x40000000ull
#define RAM_SIZE  (6 * MB)
#define FRAMES	  (RAM_SIZE / PAGE)
#define CAP	  (3 * MB) /* the cache's cap: fewer buckets than RAM has */
#define SGS	  4	   /* scatter lists held at once */
#define SG_MAX	  8
#define RANGES	  4
#define LIVE_MAX  512
#define RANGE_MAX (64 * 1024)

enum op {
	OP_READ,      /* copy out [gpa, gpa + len) */
	OP_WRITE,     /* copy in */
	OP_SG_ADD,    /* append to scatter list a % SGS */
	OP_SG_FREE,   /* release scatter list a % SGS */
	OP_RANGE,     /* map a ring-like range (slot a % RANGES) or unmap it */
	OP_BALLOON,   /* frame b: out (and INVALIDATE), or back in */
	OP_DOM0,      /* dom0 short of memory (a map of more pages fails) */
	OP_INVALIDATE /* INVALIDATE alone */
};

struct sg_slot {
	struct guest_sg sg;
	struct iovec iov[SG_MAX];
	struct gm_bucket *pin[SG_MAX];
	/* What it should hold: its ranges, in order. */
	uint64_t gpa[SG_MAX], len[SG_MAX];
	unsigned nranges;
};

static int ramfd;
static uint8_t *ram; /* the memfd, seen directly */
static bool is_ram[FRAMES];
static bool uncertain[FRAMES]; /* ballooned in: lookups may still fail */
static struct {
	void *a;
	size_t pages;
} live[LIVE_MAX];
static unsigned nlive;
static size_t live_pages, dom0_pages;
static bool stale_gone, stale_wait;

/* ---------------------------------------------- a fake libxenforeignmemory */

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom,
			   int prot, size_t pages, const xen_pfn_t arr[],
			   int err[])
{
	uint8_t *p;

	(void)fmem;
	(void)dom;
	(void)prot;
	if (nlive == LIVE_MAX ||
	    (dom0_pages && live_pages + pages > dom0_pages)) {
		errno = ENOMEM;
		return NULL;
	}
	p = mmap(NULL, pages * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (p == MAP_FAILED)
		abort();
	for (size_t i = 0, run; i < pages; i += run) {
		uint64_t gpa = (uint64_t)arr[i] * PAGE;

		run = 1;
		if (gpa < BASE || gpa - BASE >= RAM_SIZE ||
		    !is_ram[(gpa - BASE) / PAGE]) {
			err[i] = -EINVAL;
			continue;
		}
		/* One mmap for a run of RAM frames in a row. */
		err[i] = 0;
		while (i + run < pages &&
		       (uint64_t)arr[i + run] * PAGE == gpa + run * PAGE &&
		       gpa + run * PAGE - BASE < RAM_SIZE &&
		       is_ram[(gpa - BASE) / PAGE + run])
			err[i + run++] = 0;
		if (mmap(p + i * PAGE, run * PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, ramfd,
			 (off_t)(gpa - BASE)) == MAP_FAILED)
			abort();
	}
	live[nlive].a = p;
	live[nlive++].pages = pages;
	live_pages += pages;
	return p;
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr,
			   size_t pages)
{
	unsigned i;

	(void)fmem;
	for (i = 0; i < nlive && live[i].a != addr; i++)
		;
	/* Only what was mapped, whole. */
	FUZZ_ASSERT(i < nlive && live[i].pages == pages);
	munmap(addr, pages * PAGE);
	live_pages -= pages;
	live[i] = live[--nlive];
	return 0;
}

/* ---------------------------------------------------------------- model */

enum expect { ALL_RAM, NOT_RAM, EITHER };

/* Whether [gpa, gpa + len) is RAM in the model (len > 0). */
static enum expect expect_ram(uint64_t gpa, uint64_t len)
{
	bool maybe = false;

	if (gpa < BASE || gpa - BASE >= RAM_SIZE ||
	    len > RAM_SIZE - (gpa - BASE))
		return NOT_RAM;
	for (uint64_t f = (gpa - BASE) / PAGE;
	     f <= (gpa - BASE + len - 1) / PAGE; f++) {
		if (!is_ram[f])
			return NOT_RAM;
		maybe |= uncertain[f];
	}
	return maybe ? EITHER : ALL_RAM;
}

static unsigned pins_held(const struct sg_slot *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < SGS; i++)
		n += s[i].sg.n;
	return n;
}

/* The result of a lookup of [gpa, gpa + len): consistent with the model. */
static void check_result(int r, uint64_t gpa, uint64_t len, unsigned pins,
			 bool may_e2big)
{
	enum expect e = expect_ram(gpa, len);

	if (r == -ENOMEM) {
		/* Only for want of room: pins held elsewhere, or dom0. */
		FUZZ_ASSERT(pins || dom0_pages);
		return;
	}
	if (r == -E2BIG) {
		FUZZ_ASSERT(may_e2big);
		return;
	}
	FUZZ_ASSERT(r == 0 || r == -EFAULT);
	if (e == ALL_RAM)
		FUZZ_ASSERT(r == 0);
	/* A frame that went was followed by INVALIDATE, and no lookup
	 * after it uses a mapping made before. */
	if (e == NOT_RAM)
		FUZZ_ASSERT(r == -EFAULT);
}

/* Registered once an invalidation left pinned buckets; a refresh later
 * retires pinned buckets too, and calls it again when they go. Never while
 * a stale bucket is pinned. */
static void on_stale_gone(void *opaque)
{
	FUZZ_ASSERT(!guest_mem_stale_pinned(opaque));
	stale_gone = true;
}

static void invalidate(struct guest_mem *gm)
{
	stale_gone = false;
	stale_wait = guest_mem_invalidate(gm);
	if (stale_wait)
		guest_mem_on_stale_gone(gm, on_stale_gone, gm);
	/* Unpinned, nothing is stale. */
	FUZZ_ASSERT(stale_wait == guest_mem_stale_pinned(gm));
}

static void sg_free(struct guest_mem *gm, struct sg_slot *s)
{
	guest_mem_sg_release(gm, &s->sg);
	FUZZ_ASSERT(s->sg.n == 0 && s->sg.bytes == 0);
	s->nranges = 0;
}

/* Each piece of s, in order, is its ranges' bytes of guest RAM. */
static void check_sg(const struct sg_slot *s)
{
	unsigned piece = 0;
	size_t at = 0; /* bytes of the current piece consumed */
	uint64_t total = 0;

	for (unsigned k = 0; k < s->nranges; k++) {
		uint64_t gpa = s->gpa[k], left = s->len[k];

		total += left;
		while (left) {
			const struct iovec *v = &s->sg.iov[piece];
			size_t n = v->iov_len - at;

			FUZZ_ASSERT(piece < s->sg.n);
			if (n > left)
				n = (size_t)left;
			FUZZ_ASSERT(memcmp((uint8_t *)v->iov_base + at,
					   ram + (gpa - BASE), n) == 0);
			gpa += n;
			left -= n;
			at += n;
			if (at == v->iov_len) {
				piece++;
				at = 0;
			}
		}
	}
	FUZZ_ASSERT(piece == s->sg.n && at == 0);
	FUZZ_ASSERT(total == s->sg.bytes);
}

/* An address near guest RAM: inside, at its edges, or far away. */
static uint64_t gpa_of(uint8_t a, uint32_t v)
{
	switch (a % 8) {
	case 0:
		return BASE - RANGE_MAX + v % RANGE_MAX;
	case 1:
		return BASE + RAM_SIZE - RANGE_MAX + v % (2 * RANGE_MAX);
	case 2:
		return UINT64_MAX - v % RANGE_MAX; /* wraps 2^64 */
	default:
		return BASE + v % RAM_SIZE;
	}
}

/* ------------------------------------------------------------ the target */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_guest_mem", false, LOG_LVL_ERROR);
	ramfd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (ramfd < 0 || ftruncate(ramfd, (off_t)RAM_SIZE) < 0)
		abort();
	ram =
	    mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ramfd, 0);
	if (ram == MAP_FAILED)
		abort();
	/* Contents that tell frames and offsets apart (writes change some;
	 * every check compares with what RAM holds then). */
	for (uint64_t x = 0; x < RAM_SIZE; x += 8)
		memcpy(ram + x, &x, 8);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sg_slot sgs[SGS];
	static void *range_handle[RANGES], *range_ptr[RANGES];
	static uint64_t range_gpa[RANGES], range_len[RANGES];
	struct guest_mem_stats st;
	uint64_t ranges_bytes;
	struct guest_mem *gm = guest_mem_new(NULL, 1, CAP);
	struct fuzz_in in;
	uint8_t buf[RANGE_MAX];

	FUZZ_ASSERT(gm);
	fuzz_in_init(&in, data, size);
	for (uint64_t f = 0; f < FRAMES; f++) {
		is_ram[f] = f % 97 != 13; /* a few holes to start with */
		uncertain[f] = false;
	}
	dom0_pages = 0;
	stale_wait = stale_gone = false;
	for (unsigned i = 0; i < SGS; i++) {
		memset(&sgs[i], 0, sizeof(sgs[i]));
		sgs[i].sg.max = SG_MAX;
		sgs[i].sg.iov = sgs[i].iov;
		sgs[i].sg.pin = sgs[i].pin;
	}
	memset(range_handle, 0, sizeof(range_handle));

	while (in.left) {
		uint8_t op = fuzz_u8(&in), a = fuzz_u8(&in);
		uint16_t b = fuzz_u16(&in);
		uint32_t v = fuzz_u32(&in);
		uint64_t gpa = gpa_of(a, v);
		uint64_t len = 1 + (uint64_t)b % RANGE_MAX;
		unsigned pins = pins_held(sgs);
		struct sg_slot *s;
		unsigned r_i;
		int r;

		switch (op % 8) {
		case OP_READ:
		case OP_WRITE:
			/* Either way, buf and RAM agree afterwards. */
			for (uint64_t i = 0; i < len; i++)
				buf[i] = (uint8_t)(v + i * 7);
			r = op % 8 == OP_READ
				? guest_mem_read(gm, gpa, buf, len)
				: guest_mem_write(gm, gpa, buf, len);
			check_result(r, gpa, len, pins, false);
			if (r == 0)
				FUZZ_ASSERT(
				    !memcmp(buf, ram + (gpa - BASE), len));
			break;
		case OP_SG_ADD:
			s = &sgs[a % SGS];
			r = guest_mem_sg_add(gm, &s->sg, gpa, len);
			/* The list's own pins do not count as elsewhere. */
			check_result(r, gpa, len, pins, true);
			if (r == -ENOMEM)
				FUZZ_ASSERT(s->sg.held_elsewhere ==
					    pins - s->sg.n);
			if (r == 0) {
				FUZZ_ASSERT(s->nranges < SG_MAX);
				s->gpa[s->nranges] = gpa;
				s->len[s->nranges++] = len;
			}
			check_sg(s);
			break;
		case OP_SG_FREE:
			sg_free(gm, &sgs[a % SGS]);
			if (stale_wait && !guest_mem_stale_pinned(gm))
				FUZZ_ASSERT(stale_gone);
			break;
		case OP_RANGE:
			r_i = a % RANGES;
			if (range_handle[r_i]) {
				guest_mem_unmap_range(gm, range_handle[r_i]);
				range_handle[r_i] = NULL;
				break;
			}
			range_ptr[r_i] = guest_mem_map_range(
			    gm, gpa, len, &range_handle[r_i]);
			if (!range_ptr[r_i]) {
				range_handle[r_i] = NULL;
				/* Refused: some frame is not RAM, or dom0. */
				FUZZ_ASSERT(expect_ram(gpa, len) != ALL_RAM ||
					    dom0_pages);
				break;
			}
			FUZZ_ASSERT(range_handle[r_i]);
			FUZZ_ASSERT(expect_ram(gpa, len) != NOT_RAM);
			range_gpa[r_i] = gpa;
			range_len[r_i] = len;
			break;
		case OP_BALLOON:
			r_i = b % FRAMES;
			if (is_ram[r_i]) {
				/* Out: Xen then sends INVALIDATE. */
				is_ram[r_i] = false;
				uncertain[r_i] = false;
				invalidate(gm);
			} else {
				is_ram[r_i] = uncertain[r_i] = true;
			}
			break;
		case OP_DOM0:
			dom0_pages = a & 1 ? live_pages + b % 1024 : 0;
			break;
		case OP_INVALIDATE:
			invalidate(gm);
			break;
		}
		/* Bounds: the pins are ours; the cache stays near its cap
		 * (pinned buckets may exceed it, each one bucket; ring
		 * mappings are apart from it, whole pages each). */
		guest_mem_get_stats(gm, &st);
		FUZZ_ASSERT(st.pins == pins_held(sgs));
		ranges_bytes = 0;
		for (unsigned i = 0; i < RANGES; i++)
			if (range_handle[i])
				ranges_bytes += range_len[i] + 2 * PAGE;
		FUZZ_ASSERT(st.mapped_bytes <=
			    CAP + st.pins * MB + ranges_bytes);
		/* Ring mappings still show guest RAM. */
		for (unsigned i = 0; i < RANGES; i++)
			if (range_handle[i])
				FUZZ_ASSERT(!memcmp(range_ptr[i],
						    ram + (range_gpa[i] - BASE),
						    range_len[i]));
	}
	for (unsigned i = 0; i < SGS; i++)
		sg_free(gm, &sgs[i]);
	FUZZ_ASSERT(!guest_mem_stale_pinned(gm));
	if (stale_wait)
		FUZZ_ASSERT(stale_gone);
	for (unsigned i = 0; i < RANGES; i++)
		if (range_handle[i])
			guest_mem_unmap_range(gm, range_handle[i]);
	guest_mem_free(gm);
	/* Everything mapped was unmapped. */
	FUZZ_ASSERT(nlive == 0 && live_pages == 0);
	return 0;
}
