/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * hostile-drv: a hostile virtio-blk driver in the e2e guest's userspace.
 *   hostile-drv BASE SECTOR0_FILE [storm SEED | mq BASE2]
 * Drives the virtio-mmio device at guest physical address BASE (its stock
 * driver unbound) through /dev/mem, with rings and buffers in locked pages
 * whose guest physical addresses come from /proc/self/pagemap, and sends
 * what no Linux driver would: odd access widths, buffers outside guest
 * RAM, a descriptor loop, a sector past the end, an available index that
 * jumps, a ring outside RAM, indirect tables that are not RAM or that
 * loop or nest, malformed and unknown requests, a queue size that is not
 * a power of two, DRIVER_OK without FEATURES_OK, buffers in RAM it gave
 * back to Xen, and a reset with reads in flight. Each outcome is checked
 * against what tests/hostile/ requires of the daemon in the simulator, so this
 * shows the same answers under real Xen. SECTOR0_FILE holds the disk's first
 * 512 bytes as the stock driver read them (the control request).
 * With `storm SEED` it sends storms instead: random chains, notifications
 * for a missing queue, resets; with `mq BASE2` (the daemon serving two
 * queues per disk, a second disk's registers at BASE2) a queue beyond the
 * negotiated count and rings clashing between queues and between disks
 * (both in the e2e case storm).
 * Prints `E2E-CHECK name ok|fail ...` lines (tests/e2e/guest-lib.sh) and
 * exits 1 if any failed, 2 on a usage or set-up error. Built static for
 * arm64 by tests/e2e/run; the device is left reset.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#define QSZ    32
#define SECTOR 512
#define HDR    ((uint32_t)sizeof(struct virtio_blk_outhdr))

/* A locked page and its guest physical address. */
struct page {
	void *va;
	uint64_t pa;
};

static volatile uint8_t *regs;
static struct page pdesc, pavail, pused, pbuf, ptab, pbal;
/* The reset-under-I/O reads' data: 16 pages, 64 KiB per read. */
#define DATA_PAGES 16
static struct page pdata[DATA_PAGES];
/* The storms' scratch (storm mode only). */
#define SCR_SIZE (2ULL << 20)
static struct page pscr;
static volatile struct vring_desc *desc;
static volatile struct vring_avail *avail;
static volatile struct vring_used *used;
static uint16_t avail_idx, used_seen;
static uint64_t ram_end;
static int failed;

static void check(const char *name, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void check(const char *name, bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("E2E-CHECK %s %s", name, ok ? "ok" : "fail: ");
	if (!ok) {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		failed = 1;
	}
	printf("\n");
	fflush(stdout);
}

/* Device memory wants its accesses in program order with the rings'. */
static void barrier(void)
{
#ifdef __aarch64__
	__asm__ volatile("dsb sy" ::: "memory");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* One load or store instruction per access, never one with writeback:
 * Xen decodes a trapped access from its syndrome, which an instruction
 * that updates its base register does not give. */
#define ACCESSORS(bits)                                                        \
	static __attribute__((noinline)) uint##bits##_t rd##bits(unsigned off) \
	{                                                                      \
		barrier();                                                     \
		return *(volatile uint##bits##_t *)(regs + off);               \
	}                                                                      \
	static __attribute__((noinline)) void wr##bits(unsigned off,           \
						       uint##bits##_t v)       \
	{                                                                      \
		barrier();                                                     \
		*(volatile uint##bits##_t *)(regs + off) = v;                  \
		barrier();                                                     \
	}
ACCESSORS(8)
ACCESSORS(16)
ACCESSORS(32)
ACCESSORS(64)

/* A 64-bit address into a Low/High register pair. */
static void wr_pair(unsigned off, uint64_t v)
{
	wr32(off, (uint32_t)v);
	wr32(off + 4, (uint32_t)(v >> 32));
}

/* `size` bytes of locked, zeroed memory (a huge page with MAP_HUGETLB)
 * and the guest physical address of its start, from pagemap. */
static int mem_alloc(struct page *p, size_t size, int flags, int pagemap)
{
	uint64_t e;
	long ps = sysconf(_SC_PAGESIZE);

	p->va = mmap(NULL, size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE |
			 flags,
		     -1, 0);
	if (p->va == MAP_FAILED)
		return -1;
	memset(p->va, 0, size);
	if (pread(pagemap, &e, sizeof(e),
		  (off_t)((uintptr_t)p->va / (uintptr_t)ps * sizeof(e))) !=
		(ssize_t)sizeof(e) ||
	    !(e >> 63))
		return -1;
	p->pa = (e & ((1ULL << 55) - 1)) * (uint64_t)ps;
	return p->pa ? 0 : -1;
}

static int page_alloc(struct page *p, int pagemap)
{
	return mem_alloc(p, (size_t)sysconf(_SC_PAGESIZE), 0, pagemap);
}

/* The storm's scratch: a 2 MiB huge page, physically contiguous (the
 * guest script reserves some: /proc/sys/vm/nr_hugepages). */
static int huge_alloc(struct page *p, int pagemap)
{
	return mem_alloc(p, SCR_SIZE, MAP_HUGETLB, pagemap) ||
		       (p->pa & (SCR_SIZE - 1))
		   ? -1
		   : 0;
}

/* The end of the highest "System RAM" range in /proc/iomem. */
static uint64_t find_ram_end(void)
{
	FILE *f = fopen("/proc/iomem", "r");
	char line[256];
	uint64_t a, b, end = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (line[0] != ' ' && strstr(line, ": System RAM") &&
		    sscanf(line, "%" SCNx64 "-%" SCNx64, &a, &b) == 2 &&
		    b + 1 > end)
			end = b + 1;
	fclose(f);
	return end;
}

/* A device's register window through /dev/mem (mapped by the page). */
static volatile uint8_t *map_regs(int mem, uint64_t base)
{
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);
	uint8_t *m = mmap(NULL, (size_t)ps, PROT_READ | PROT_WRITE, MAP_SHARED,
			  mem, (off_t)(base & ~(ps - 1)));

	return m == MAP_FAILED ? NULL : m + (base & (ps - 1));
}

static void ack_interrupts(void)
{
	uint32_t v = rd32(VIRTIO_MMIO_INTERRUPT_STATUS);

	if (v)
		wr32(VIRTIO_MMIO_INTERRUPT_ACK, v);
}

/* The device offers indirect descriptors (bank 0, bit 28); hostile-drv
 * accepts them so that it can send bad tables. */
static uint32_t feat_lo;

#define STATUS_AD (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER)

/* Reset and negotiate VERSION_1, the bank-0 features in feat_lo and
 * `extra`, then FEATURES_OK unless told not to. */
static void negotiate(uint32_t extra, bool features_ok)
{
	wr32(VIRTIO_MMIO_STATUS, 0);
	ack_interrupts();
	wr32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr32(VIRTIO_MMIO_STATUS, STATUS_AD);
	wr32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr32(VIRTIO_MMIO_DRIVER_FEATURES, feat_lo | extra);
	wr32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr32(VIRTIO_MMIO_DRIVER_FEATURES, 1U << (VIRTIO_F_VERSION_1 - 32));
	if (features_ok)
		wr32(VIRTIO_MMIO_STATUS,
		     STATUS_AD | VIRTIO_CONFIG_S_FEATURES_OK);
}

/* Queue q with `num` entries and its three rings, then QueueReady=1.
 * Returns QueueReady read back. */
static uint32_t queue_setup(unsigned q, uint32_t num, uint64_t desc_pa,
			    uint64_t avail_pa, uint64_t used_pa)
{
	wr32(VIRTIO_MMIO_QUEUE_SEL, q);
	wr32(VIRTIO_MMIO_QUEUE_NUM, num);
	wr_pair(VIRTIO_MMIO_QUEUE_DESC_LOW, desc_pa);
	wr_pair(VIRTIO_MMIO_QUEUE_AVAIL_LOW, avail_pa);
	wr_pair(VIRTIO_MMIO_QUEUE_USED_LOW, used_pa);
	wr32(VIRTIO_MMIO_QUEUE_READY, 1);
	return rd32(VIRTIO_MMIO_QUEUE_READY);
}

/* Set up queue 0 with `num` entries, its descriptor table at desc_pa and
 * its used ring at used_pa (negotiate() first), then DRIVER_OK, skipping
 * FEATURES_OK if told to. Returns the status read back. */
static uint32_t init_with(uint64_t desc_pa, uint64_t used_pa, uint32_t num,
			  bool features_ok)
{
	const uint32_t fok = features_ok ? VIRTIO_CONFIG_S_FEATURES_OK : 0;

	negotiate(0, features_ok);
	memset(pavail.va, 0, offsetof(struct vring_avail, ring[QSZ]));
	memset(pused.va, 0, offsetof(struct vring_used, ring[QSZ]));
	avail_idx = used_seen = 0;
	queue_setup(0, num, desc_pa, pavail.pa, used_pa);
	wr32(VIRTIO_MMIO_STATUS, STATUS_AD | fok | VIRTIO_CONFIG_S_DRIVER_OK);
	return rd32(VIRTIO_MMIO_STATUS);
}

static uint32_t init(uint64_t desc_pa)
{
	return init_with(desc_pa, pused.pa, QSZ, true);
}

/* Publish head (moving the index by `step`), notify, and wait up to 10 s
 * for a used entry or NEEDS_RESET. Returns 1 with *len set, 0 if the
 * device asked for a reset, -1 on a timeout, -2 if the used entry names
 * another head. */
static int kick(uint16_t head, uint16_t step, uint32_t *len)
{
	struct timespec t0, t;

	avail->ring[avail_idx % QSZ] = head;
	avail_idx = (uint16_t)(avail_idx + step);
	barrier();
	avail->idx = avail_idx;
	wr32(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		barrier();
		if (used->idx != used_seen) {
			uint32_t id = used->ring[used_seen % QSZ].id;

			*len = used->ring[used_seen % QSZ].len;
			used_seen++;
			ack_interrupts();
			return id == head ? 1 : -2;
		}
		if (rd32(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET) {
			ack_interrupts();
			return 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			return -1;
		usleep(1000);
	}
}

/* A read as three descriptors at d (a queue's table or an indirect one:
 * `next` counts from d either way, §2.7.5.3.1): a header, `len` bytes of
 * device-writable data and a status byte. */
static void chain3(volatile struct vring_desc *d, uint64_t hdr, uint64_t data,
		   uint32_t len, uint64_t st)
{
	d[0] = (struct vring_desc){hdr, sizeof(struct virtio_blk_outhdr),
				   VRING_DESC_F_NEXT, 1};
	d[1] = (struct vring_desc){data, len,
				   VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2};
	d[2] = (struct vring_desc){st, 1, VRING_DESC_F_WRITE, 0};
}

/* Layout of the buffer page: header at 0, status byte at 16, data at
 * 512. A one-sector request of `type` for `sector` into (from, for a
 * write) `data`, a guest address, with a `hdr_len`-byte header, as a
 * direct chain. */
static int request(uint32_t type, uint64_t sector, uint32_t hdr_len,
		   uint64_t data, uint32_t *len, uint8_t *status)
{
	struct virtio_blk_outhdr *h = pbuf.va;
	uint8_t *st = (uint8_t *)pbuf.va + 16;
	int r;

	*h = (struct virtio_blk_outhdr){.type = type, .sector = sector};
	*st = 0xee;
	chain3(desc, pbuf.pa, data, SECTOR, pbuf.pa + 16);
	desc[0].len = hdr_len;
	if (type == VIRTIO_BLK_T_OUT) /* the device reads a write's data */
		desc[1].flags = VRING_DESC_F_NEXT;
	r = kick(0, 1, len);
	barrier();
	*status = *st;
	return r;
}

/* Whether all n bytes at p are v. */
static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* Whether the data buffer still holds the 0xaa it was filled with. */
static bool untouched(const uint8_t *p, size_t n)
{
	return all_bytes(p, n, 0xaa);
}

/* A read of sector 0 into `va` (guest address `pa`, poisoned first) must
 * return what the stock driver read. */
static void read_into(const char *name, const uint8_t *sector0, uint8_t *va,
		      uint64_t pa)
{
	uint32_t len = 0;
	uint8_t st;
	int r;
	bool same;

	memset(va, 0xaa, SECTOR);
	r = request(VIRTIO_BLK_T_IN, 0, HDR, pa, &len, &st);
	same = !memcmp(va, sector0, SECTOR);
	check(name, r == 1 && len == SECTOR + 1 && st == 0 && same,
	      "kick %d, used len %u, status %u, data %s", r, len, st,
	      same ? "same" : "differs");
}

/* The control: a good read of sector 0 into the buffer page. */
static void good_read(const char *name, const uint8_t *sector0)
{
	read_into(name, sector0, (uint8_t *)pbuf.va + SECTOR, pbuf.pa + SECTOR);
}

/* A one-sector request (request()) the device must answer with status
 * `want` alone, nothing read or written. The used length counts every
 * writable byte the device wrote (virtio 1.2 §2.7.8: the status, the last
 * of them, within it): 513 for a read into the buffer page, whose data is
 * zeroed; 0 for a read into memory that is not the guest's RAM, which the
 * device cannot write (the status is written all the same); 1 for a
 * write, whose data the device reads. Elsewhere the page stays as it
 * was. */
static void expect_status(const char *name, uint32_t type, uint64_t sector,
			  uint32_t hdr_len, uint64_t data, uint8_t want)
{
	uint8_t *buf = (uint8_t *)pbuf.va + SECTOR, st;
	bool write = type == VIRTIO_BLK_T_OUT;
	bool in_buf = data == pbuf.pa + SECTOR;
	uint32_t len = 0, want_len = write ? 1 : in_buf ? SECTOR + 1 : 0;
	uint8_t fill = !write && in_buf ? 0 : 0xaa;
	int r;
	bool same;

	memset(buf, 0xaa, SECTOR);
	r = request(type, sector, hdr_len, data, &len, &st);
	same = all_bytes(buf, SECTOR, fill);
	check(name, r == 1 && len == want_len && st == want && same,
	      "kick %d, used len %u, status %u (want %u, len %u), data %s", r,
	      len, st, want, want_len,
	      same   ? "as it should be"
	      : fill ? "written"
		     : "not zeroed");
}

/* Kick the chain set up at head 0: the device must drop it (used len 0)
 * without writing the status byte or the data buffer. */
static void expect_dropped(const char *name)
{
	uint8_t *stp = (uint8_t *)pbuf.va + 16, st;
	uint8_t *buf = (uint8_t *)pbuf.va + SECTOR;
	uint32_t len = 0;
	int r;
	bool same;

	memset(buf, 0xaa, SECTOR);
	*stp = 0xee;
	r = kick(0, 1, &len);
	barrier();
	st = *stp;
	same = untouched(buf, SECTOR);
	check(name, r == 1 && len == 0 && st == 0xee && same,
	      "kick %d, used len %u, status %u, data %s", r, len, st,
	      same ? "untouched" : "written");
}

/* A queue set up so (init_with()) must be refused: DEVICE_NEEDS_RESET and
 * QueueReady reading 0. */
static void expect_refused(const char *name, uint64_t desc_pa, uint64_t used_pa,
			   uint32_t num)
{
	uint32_t st = init_with(desc_pa, used_pa, num, true);
	uint32_t ready = rd32(VIRTIO_MMIO_QUEUE_READY);

	check(name, (st & VIRTIO_CONFIG_S_NEEDS_RESET) && !ready,
	      "status 0x%x, queue ready %u", st, ready);
}

/* A reset and a good set-up bring the device back: DRIVER_OK, and the
 * control read. */
static void recover(const char *name, const char *read_name,
		    const uint8_t *sector0)
{
	uint32_t st = init(pdesc.pa);

	check(name, st == 0xf, "status 0x%x", st);
	good_read(read_name, sector0);
}

static uint64_t rd_capacity(void)
{
	return (uint64_t)rd32(VIRTIO_MMIO_CONFIG) |
	       (uint64_t)rd32(VIRTIO_MMIO_CONFIG + 4) << 32;
}

static void widths(void)
{
	const uint32_t virt = 'v' | 'i' << 8 | 'r' << 16 | (uint32_t)'t' << 24;
	uint64_t cap = rd_capacity(), b8 = 0, b16 = 0, b64, r64;
	uint32_t magic = rd32(VIRTIO_MMIO_MAGIC_VALUE);
	uint32_t version = rd32(VIRTIO_MMIO_VERSION);
	uint32_t id = rd32(VIRTIO_MMIO_DEVICE_ID), st;
	uint8_t r8;
	uint16_t r16;

	check("magic-32bit", magic == virt, "0x%x", magic);
	check("version-2", version == 2, "%u", version);
	check("device-id-block", id == VIRTIO_ID_BLOCK, "%u", id);
	/* §4.2.2.2: registers take aligned 32-bit accesses only; the daemon
	 * reads anything else as 0 and ignores such writes. */
	r8 = rd8(VIRTIO_MMIO_MAGIC_VALUE);
	r16 = rd16(VIRTIO_MMIO_MAGIC_VALUE);
	r64 = rd64(VIRTIO_MMIO_MAGIC_VALUE);
	check("register-8bit-reads-0", r8 == 0, "0x%x", r8);
	check("register-16bit-reads-0", r16 == 0, "0x%x", r16);
	check("register-64bit-reads-0", r64 == 0, "0x%" PRIx64, r64);
	wr8(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr16(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr64(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	st = rd32(VIRTIO_MMIO_STATUS);
	check("register-narrow-wide-writes-ignored", st == 0, "status 0x%x",
	      st);
	/* The config space reads the same bytes at any width. */
	for (unsigned i = 0; i < 8; i++)
		b8 |= (uint64_t)rd8(VIRTIO_MMIO_CONFIG + i) << (8 * i);
	for (unsigned i = 0; i < 4; i++)
		b16 |= (uint64_t)rd16(VIRTIO_MMIO_CONFIG + 2 * i) << (16 * i);
	b64 = rd64(VIRTIO_MMIO_CONFIG);
	check("config-capacity-any-width",
	      cap && b8 == cap && b16 == cap && b64 == cap,
	      "32-bit %" PRIu64 ", 8-bit %" PRIu64 ", 16-bit %" PRIu64
	      ", 64-bit %" PRIu64,
	      cap, b8, b16, b64);
}

/* Indirect tables (§2.7.5.3): one that works, then ones that are not
 * guest RAM, loop or nest, each dropped. */
static void indirect(const uint8_t *sector0, uint64_t base)
{
	volatile struct vring_desc *t = ptab.va;
	struct virtio_blk_outhdr *h = pbuf.va;
	uint8_t *stp = (uint8_t *)pbuf.va + 16,
		*data = (uint8_t *)pbuf.va + SECTOR, st;
	const uint64_t where[] = {ram_end, ram_end - 16, base};
	const char *const name[] = {"indirect-table-past-ram-end-len-0",
				    "indirect-table-straddling-ram-end-len-0",
				    "indirect-table-at-mmio-window-len-0"};
	uint32_t len = 0;
	int r;
	bool same;

	*h = (struct virtio_blk_outhdr){.type = VIRTIO_BLK_T_IN};
	*stp = 0xee;
	memset(data, 0, SECTOR);
	chain3(t, pbuf.pa, pbuf.pa + SECTOR, SECTOR, pbuf.pa + 16);
	desc[0] = (struct vring_desc){ptab.pa, 3 * sizeof(*t),
				      VRING_DESC_F_INDIRECT, 0};
	r = kick(0, 1, &len);
	barrier();
	st = *stp;
	same = !memcmp(data, sector0, SECTOR);
	check("indirect-read", r == 1 && len == SECTOR + 1 && st == 0 && same,
	      "kick %d, used len %u, status %u, data %s", r, len, st,
	      same ? "same" : "differs");

	for (unsigned i = 0; i < 3; i++) {
		desc[0].addr = where[i];
		expect_dropped(name[i]);
	}
	/* A table entry chained to itself; then a table holding a table,
	 * which §2.7.5.3.1 forbids (the inner one is a good read). */
	desc[0].addr = ptab.pa;
	t[0].next = 0;
	expect_dropped("indirect-loop-len-0");
	t[0].next = 1;
	t[1] = (struct vring_desc){ptab.pa + 8 * sizeof(*t), 2 * sizeof(*t),
				   VRING_DESC_F_INDIRECT, 0};
	t[8] = (struct vring_desc){pbuf.pa + SECTOR, SECTOR,
				   VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1};
	t[9] = (struct vring_desc){pbuf.pa + 16, 1, VRING_DESC_F_WRITE, 0};
	desc[0].len = 2 * sizeof(*t);
	expect_dropped("indirect-nested-len-0");
}

/* Requests the device must answer with a status, or drop (§5.2.6). */
static void malformed(void)
{
	/* SCSI_CMD (2) without the legacy feature, and a type no spec has. */
	expect_status("type-scsi-unsupp", 2, 0, HDR, pbuf.pa + SECTOR,
		      VIRTIO_BLK_S_UNSUPP);
	expect_status("type-unknown-unsupp", 0xffffffff, 0, HDR,
		      pbuf.pa + SECTOR, VIRTIO_BLK_S_UNSUPP);
	expect_status("header-short-ioerr", VIRTIO_BLK_T_IN, 0, 8,
		      pbuf.pa + SECTOR, VIRTIO_BLK_S_IOERR);
	/* A chain of only the header: no status byte to answer in. */
	desc[0] = (struct vring_desc){pbuf.pa, HDR, 0, 0};
	expect_dropped("status-missing-len-0");
}

/* The hypercall ioctl of Linux's privcmd (include/uapi/xen/privcmd.h) and
 * the memory op's argument (Xen's public/memory.h, Arm's 64-bit handles),
 * declared here: the static cross build has neither header. */
struct privcmd_hypercall {
	uint64_t op, arg[5];
};
#define IOCTL_PRIVCMD_HYPERCALL                                                \
	_IOC(_IOC_NONE, 'P', 0, sizeof(struct privcmd_hypercall))
#define HYPERVISOR_memory_op	    12
#define XENMEM_decrease_reservation 1
#define XENMEM_current_reservation  3
#define XENMEM_populate_physmap	    6
#define DOMID_SELF		    0x7ff0U
struct xen_memory_reservation {
	uint64_t extent_start; /* guest handle: an array of frame numbers */
	uint64_t nr_extents;
	uint32_t extent_order;
	uint32_t mem_flags;
	uint16_t domid;
};

/* XENMEM_* of DOMID_SELF for the frame holding pa (none for
 * current_reservation): what the hypercall returns, or -errno (privcmd
 * loaded with unrestricted=1, or it refuses a domU with EPERM). Xen reads
 * the arguments through our page tables, so they live on the stack,
 * which is resident. */
static long memory_op(int privcmd, unsigned cmd, uint64_t pa)
{
	uint64_t frame = pa >> 12;
	uint16_t self = DOMID_SELF;
	struct xen_memory_reservation res = {.extent_start = (uintptr_t)&frame,
					     .nr_extents = 1,
					     .domid = DOMID_SELF};
	struct privcmd_hypercall h = {
	    .op = HYPERVISOR_memory_op,
	    .arg = {cmd, cmd == XENMEM_current_reservation ? (uintptr_t)&self
							   : (uintptr_t)&res}};

	long r = ioctl(privcmd, IOCTL_PRIVCMD_HYPERCALL, &h);

	return r < 0 ? -errno : r;
}

/* A chain whose header, data or both lie in a frame the guest gave back
 * to Xen (as a balloon driver does, for one page of hostile-drv's own).
 * On Arm, Xen sends the daemon an INVALIDATE before the hypercall
 * returns; a frame the daemon still mapped would stay charged to the
 * guest, so the guest's reservation must fall by one. While the frame is
 * out: IOERR with used len 1 and nothing moved (the host checks the
 * image). Taken back, a read into it is served once the daemon maps it
 * again, which it does no sooner than a second after it found a hole
 * there (src/guest_mem.c). The page is never touched while it is out:
 * the guest's own mapping of it leads nowhere. */
static void ballooned(const uint8_t *sector0)
{
	uint8_t *stp = (uint8_t *)pbuf.va + 16,
		*data = (uint8_t *)pbuf.va + SECTOR, st;
	uint32_t len = 0;
	long before, out, after, back, rc;
	int privcmd = open("/dev/xen/privcmd", O_RDWR), r;
	bool same;

	check("privcmd-open", privcmd >= 0, "/dev/xen/privcmd: %m");
	if (privcmd < 0)
		return;
	/* Mapped by the daemon first: a read into the page. */
	read_into("balloon-page-read", sector0, pbal.va, pbal.pa);

	before = memory_op(privcmd, XENMEM_current_reservation, 0);
	out = memory_op(privcmd, XENMEM_decrease_reservation, pbal.pa);
	after = memory_op(privcmd, XENMEM_current_reservation, 0);
	check("balloon-out-frame-released", out == 1 && after == before - 1,
	      "decrease %ld, reservation %ld -> %ld (a frame still mapped "
	      "stays charged)",
	      out, before, after);
	if (out != 1)
		goto done;

	expect_status("data-in-ballooned-ram-ioerr", VIRTIO_BLK_T_IN, 0, HDR,
		      pbal.pa, VIRTIO_BLK_S_IOERR);
	expect_status("write-from-ballooned-ram-ioerr", VIRTIO_BLK_T_OUT, 0,
		      HDR, pbal.pa, VIRTIO_BLK_S_IOERR);
	/* The header there: IOERR in the status byte, which is in RAM, and
	 * the data buffer zeroed. */
	chain3(desc, pbal.pa + 1024, pbuf.pa + SECTOR, SECTOR, pbuf.pa + 16);
	memset(data, 0xaa, SECTOR);
	*stp = 0xee;
	r = kick(0, 1, &len);
	barrier();
	st = *stp;
	same = all_bytes(data, SECTOR, 0);
	check("header-in-ballooned-ram-ioerr",
	      r == 1 && len == SECTOR + 1 && st == VIRTIO_BLK_S_IOERR && same,
	      "kick %d, used len %u, status %u, data %s", r, len, st,
	      same ? "zeroed" : "not zeroed");

	/* Taken back: the same frame number, a new page. */
	rc = memory_op(privcmd, XENMEM_populate_physmap, pbal.pa);
	back = memory_op(privcmd, XENMEM_current_reservation, 0);
	check("balloon-in", rc == 1 && back == before,
	      "populate %ld, reservation %ld (was %ld)", rc, back, before);
	if (rc != 1) {
		/* The guest's kernel would fault on this page once it is
		 * freed: better stop here, loudly. */
		fprintf(stderr, "frame 0x%" PRIx64 " not taken back\n",
			pbal.pa >> 12);
		exit(1);
	}
	usleep(1100000);
	read_into("ballooned-in-page-read", sector0, pbal.va, pbal.pa);
done:
	close(privcmd);
}

/* Fourteen 64 KiB reads through indirect tables, notified at once, then
 * a reset straight away. Xen holds the vCPU on the reset write until the
 * daemon answers it, which it does once the reads have drained; the
 * driver may then take the queue's memory back (§2.4: the device must not
 * touch it after the reset), so from then on nothing may change in the
 * used ring, the status bytes or the data pages. Returns whether the
 * reset caught reads in flight: data had reached the pages, yet not every
 * read had been published. */
static bool reset_once(bool *silent)
{
	enum { N = 14, T = DATA_PAGES + 2 };
	volatile struct vring_desc *t = ptab.va;
	uint8_t *b = pbuf.va;
	uint16_t done;
	uint32_t st;
	bool same = true, reached = false;

	for (unsigned i = 0; i < N; i++) {
		struct virtio_blk_outhdr *h = (void *)(b + 1024 + 32 * i);
		volatile struct vring_desc *d = t + T * i;

		*h = (struct virtio_blk_outhdr){.type = VIRTIO_BLK_T_IN,
						.sector = 128 * (i + 1)};
		b[1024 + 32 * i + 16] = 0xee;
		d[0] = (struct vring_desc){pbuf.pa + 1024 + 32 * i, sizeof(*h),
					   VRING_DESC_F_NEXT, 1};
		for (unsigned j = 0; j < DATA_PAGES; j++)
			d[1 + j] = (struct vring_desc){pdata[j].pa, 4096,
						       VRING_DESC_F_WRITE |
							   VRING_DESC_F_NEXT,
						       (uint16_t)(2 + j)};
		d[T - 1] = (struct vring_desc){pbuf.pa + 1024 + 32 * i + 16, 1,
					       VRING_DESC_F_WRITE, 0};
		desc[i] = (struct vring_desc){ptab.pa + T * i * sizeof(*t),
					      T * sizeof(*t),
					      VRING_DESC_F_INDIRECT, 0};
		avail->ring[(avail_idx + i) % QSZ] = (uint16_t)i;
	}
	for (unsigned j = 0; j < DATA_PAGES; j++)
		memset(pdata[j].va, 0xaa, 4096);
	avail_idx = (uint16_t)(avail_idx + N);
	barrier();
	avail->idx = avail_idx;
	wr32(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	wr32(VIRTIO_MMIO_STATUS, 0);
	st = rd32(VIRTIO_MMIO_STATUS);
	barrier();
	done = (uint16_t)(used->idx - used_seen);
	for (unsigned j = 0; j < DATA_PAGES; j++) {
		reached |= !untouched(pdata[j].va, 4096);
		memset(pdata[j].va, 0xee, 4096);
	}
	memset(pused.va, 0xee, 4096);
	for (unsigned i = 0; i < N; i++)
		b[1024 + 32 * i + 16] = 0xee;
	barrier();
	usleep(300000);
	barrier();
	for (unsigned i = 0; i < 4096; i++) {
		same &= ((uint8_t *)pused.va)[i] == 0xee;
		for (unsigned j = 0; j < DATA_PAGES; j++)
			same &= ((uint8_t *)pdata[j].va)[i] == 0xee;
	}
	for (unsigned i = 0; i < N; i++)
		same &= b[1024 + 32 * i + 16] == 0xee;
	printf("reset-under-io: %u of %u reads published before the reset; "
	       "data %s the pages before it returned; status 0x%x after it, "
	       "memory %s\n",
	       done, N, reached ? "had reached" : "had not reached", st,
	       same ? "untouched" : "written after the reset");
	*silent = st == 0 && same;
	ack_interrupts();
	return reached && done < N;
}

/* Resets until one catches reads in flight (at most 5); every one must
 * leave the memory alone. */
static void reset_under_io(void)
{
	bool caught = false, silent = true, s1;
	uint32_t st = 0;
	int tries = 0;

	while (!caught && tries < 5) {
		tries++;
		st = init(pdesc.pa);
		if (st != 0xf)
			break;
		caught = reset_once(&s1);
		silent &= s1;
	}
	check("reset-caught-reads-in-flight", caught,
	      "not in %d tries (status 0x%x)", tries, st);
	check("reset-under-io-then-silent", silent,
	      "memory written after a reset");
}

/* ------------------------------------------ multiqueue, a second disk */

/* The rings of queue 1, or of the second disk's queue 0. */
static struct page pq1[3];
static volatile uint8_t *regs0, *regs1; /* the two disks' registers */

static void q1_clear(void)
{
	memset(pq1[1].va, 0, offsetof(struct vring_avail, ring[QSZ]));
	memset(pq1[2].va, 0, offsetof(struct vring_used, ring[QSZ]));
}

/* A read of sector 0 into the buffer page, on queue 1 (rings pq1). The
 * used len, or -1 if nothing was used within `ms`; *status the status
 * byte either way. */
static int q1_read(unsigned ms, uint8_t *status)
{
	volatile struct vring_avail *a = pq1[1].va;
	volatile struct vring_used *u = pq1[2].va;
	uint8_t *st = (uint8_t *)pbuf.va + 16;
	int len = -1;

	*(struct virtio_blk_outhdr *)pbuf.va =
	    (struct virtio_blk_outhdr){.type = VIRTIO_BLK_T_IN};
	*st = 0xee;
	memset((uint8_t *)pbuf.va + SECTOR, 0xaa, SECTOR);
	chain3(pq1[0].va, pbuf.pa, pbuf.pa + SECTOR, SECTOR, pbuf.pa + 16);
	a->ring[0] = 0;
	barrier();
	a->idx = 1;
	wr32(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	for (unsigned t = 0; t < ms && len < 0; t++) {
		usleep(1000);
		barrier();
		if (u->idx)
			len = (int)u->ring[0].len;
	}
	*status = *st;
	ack_interrupts();
	return len;
}

/* Queue 1 beyond the negotiated count (tests/hostile/
 * queue-beyond-negotiated.sh; the daemon runs with --queues 2). */
static void queue_beyond_negotiated(const uint8_t *sector0)
{
	const uint32_t mq = 1U << VIRTIO_BLK_F_MQ;
	uint32_t max, ready, st;
	uint8_t s;
	int len;
	bool same;

	/* Queue 1 exists until the driver turns MQ down (§5.2.2). */
	wr32(VIRTIO_MMIO_STATUS, 0);
	wr32(VIRTIO_MMIO_QUEUE_SEL, 1);
	max = rd32(VIRTIO_MMIO_QUEUE_NUM_MAX);
	check("queue-1-offered", max > 0, "QueueNumMax %u", max);
	negotiate(0, true);
	wr32(VIRTIO_MMIO_QUEUE_SEL, 1);
	max = rd32(VIRTIO_MMIO_QUEUE_NUM_MAX);
	check("queue-1-gone-without-mq", max == 0, "QueueNumMax %u", max);
	/* Set up anyway: refused quietly, the device starts, the request
	 * on it is never seen. */
	q1_clear();
	ready = queue_setup(1, QSZ, pq1[0].pa, pq1[1].pa, pq1[2].pa);
	wr32(VIRTIO_MMIO_STATUS, STATUS_AD | VIRTIO_CONFIG_S_FEATURES_OK |
				     VIRTIO_CONFIG_S_DRIVER_OK);
	st = rd32(VIRTIO_MMIO_STATUS);
	check("queue-1-without-mq-not-ready", ready == 0 && st == 0xf,
	      "QueueReady %u, status 0x%x", ready, st);
	len = q1_read(300, &s);
	same = untouched((uint8_t *)pbuf.va + SECTOR, SECTOR);
	check("queue-1-without-mq-request-unseen", len < 0 && s == 0xee && same,
	      "used len %d, status %u, data %s", len, s,
	      same ? "untouched" : "written");
	/* With MQ negotiated it serves. */
	negotiate(mq, true);
	q1_clear();
	ready = queue_setup(1, QSZ, pq1[0].pa, pq1[1].pa, pq1[2].pa);
	wr32(VIRTIO_MMIO_STATUS, STATUS_AD | VIRTIO_CONFIG_S_FEATURES_OK |
				     VIRTIO_CONFIG_S_DRIVER_OK);
	len = q1_read(10000, &s);
	same = !memcmp((uint8_t *)pbuf.va + SECTOR, sector0, SECTOR);
	check("queue-1-with-mq-read",
	      ready == 1 && len == SECTOR + 1 && !s && same,
	      "QueueReady %u, used len %d, status %u, data %s", ready, len, s,
	      same ? "same" : "differs");
}

/* `name`: the last queue set up (QueueReady read back `ready`) must have
 * been refused with DEVICE_NEEDS_RESET, every earlier one (`first`)
 * accepted. */
static void expect_clash(const char *name, uint32_t first, uint32_t ready)
{
	uint32_t st = rd32(VIRTIO_MMIO_STATUS);

	check(name,
	      first == 1 && ready == 0 && (st & VIRTIO_CONFIG_S_NEEDS_RESET),
	      "first queue ready %u, second %u, status 0x%x", first, ready, st);
}

/* Rings clashing between the two queues of a disk, and between two
 * disks (tests/hostile/queue-rings-overlap-across-queues.sh and
 * -across-disks.sh): one queue's used ring, which the device writes, over
 * the other's available ring. Both orders; sharing the driver's
 * read-only rings is fine. */
static void rings_clash(void)
{
	const uint32_t mq = 1U << VIRTIO_BLK_F_MQ;
	volatile struct vring_avail *a1 = pq1[1].va;
	uint32_t first, ready, st;

	negotiate(mq, true);
	first = queue_setup(0, QSZ, pdesc.pa, pavail.pa, pused.pa);
	ready = queue_setup(1, QSZ, pq1[0].pa, pq1[1].pa, pavail.pa);
	expect_clash("queue-1-used-over-queue-0-avail-refused", first, ready);
	negotiate(mq, true);
	first = queue_setup(1, QSZ, pq1[0].pa, pq1[1].pa, pq1[2].pa);
	ready = queue_setup(0, QSZ, pdesc.pa, pavail.pa, pq1[1].pa);
	expect_clash("queue-0-used-over-queue-1-avail-refused", first, ready);
	negotiate(mq, true);
	first = queue_setup(0, QSZ, pdesc.pa, pavail.pa, pused.pa);
	ready = queue_setup(1, QSZ, pdesc.pa, pavail.pa, pq1[2].pa);
	st = rd32(VIRTIO_MMIO_STATUS);
	check("queues-sharing-driver-rings-accepted",
	      first == 1 && ready == 1 && st == 0xb,
	      "queue 0 ready %u, queue 1 %u, status 0x%x", first, ready, st);

	/* The second disk live on pq1 (this one reset first: its queue 1
	 * has pq1's used ring), then this one's used ring over the second
	 * disk's available ring. */
	wr32(VIRTIO_MMIO_STATUS, 0);
	regs = regs1;
	negotiate(0, true);
	q1_clear();
	first = queue_setup(0, QSZ, pq1[0].pa, pq1[1].pa, pq1[2].pa);
	wr32(VIRTIO_MMIO_STATUS, STATUS_AD | VIRTIO_CONFIG_S_FEATURES_OK |
				     VIRTIO_CONFIG_S_DRIVER_OK);
	regs = regs0;
	negotiate(0, true);
	ready = queue_setup(0, QSZ, pdesc.pa, pavail.pa, pq1[1].pa);
	barrier();
	st = a1->idx;
	expect_clash("used-over-other-disks-avail-refused", first, ready);
	check("other-disks-avail-untouched", st == 0, "avail idx %u", st);
	negotiate(0, true);
	ready = queue_setup(0, QSZ, pdesc.pa, pavail.pa, pused.pa);
	check("own-rings-beside-other-disk-accepted", ready == 1,
	      "QueueReady %u", ready);
	regs = regs1;
	wr32(VIRTIO_MMIO_STATUS, 0);
	ack_interrupts();
	regs = regs0;
}

/* ------------------------------------------------------------- storms */

/* The storm's buffers live in one 2 MiB huge page: physically contiguous,
 * so a buffer aimed inside it stays in memory of ours whatever its length
 * (a 4 KiB page's neighbour belongs to someone else). In it: the header
 * at 0, the status byte at 16, the indirect table at 4096 (16 entries), a
 * second table at 8192 (8 entries), data from 64 KiB. */
enum { SCR_HDR = 0, SCR_ST = 16, SCR_TAB = 4096, SCR_TAB2 = 8192 };
#define SCR_DATA 65536ULL
static uint64_t rng_state;

/* xorshift64*: the same storm for the same seed. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_range(uint64_t lo, uint64_t hi)
{
	return lo + rnd() % (hi - lo + 1);
}

/* A random descriptor aimed at the scratch page, the edges of RAM, the
 * top of the address space, the MMIO window or anywhere past RAM, never
 * at the rings (the device may write there) nor at RAM that is not ours:
 * a buffer the daemon would accept must be one this guest can spare. */
static void random_desc(volatile struct vring_desc *d, unsigned nnext,
			uint64_t base)
{
	static const uint32_t lens[] = {0,   1,	    8,		 15,
					16,  17,    512,	 4096,
					513, 65536, 0xfffffff0U, 0xffffffffU};
	uint32_t len = lens[rnd() % (sizeof(lens) / sizeof(lens[0]))];
	uint64_t addr;
	uint16_t flags = 0;

	if (rnd() % 3 == 0)
		len = (uint32_t)rnd_range(0, 70000);
	switch (rnd() % 8) {
	case 0:
		addr = pscr.pa + SCR_HDR;
		break;
	case 1:
		addr = pscr.pa + SCR_ST;
		break;
	case 2:
		addr = pscr.pa + SCR_TAB2 + 16 * (rnd() % 8);
		break;
	case 3: /* straddling RAM's end, never wholly inside */
		addr = ram_end -
		       (len ? rnd_range(0, len < 8192 ? len - 1 : 8191) : 0);
		break;
	case 4:
		addr = 0 - rnd_range(1, 8192);
		break;
	case 5:
		addr = rnd();
		if (addr < ram_end)
			addr += ram_end;
		break;
	case 6:
		addr = base + rnd_range(0, 0x1ff);
		break;
	default:
		addr = pscr.pa + SCR_DATA + rnd_range(0, 0x40000);
		break;
	}
	if (addr >= pscr.pa && addr < pscr.pa + SCR_SIZE &&
	    addr + len > pscr.pa + SCR_SIZE)
		addr = ram_end; /* too long for the page: make it refused */
	if (rnd() % 4)
		flags |= VRING_DESC_F_NEXT;
	if (rnd() % 2)
		flags |= VRING_DESC_F_WRITE;
	if (rnd() % 8 == 0)
		flags |= VRING_DESC_F_INDIRECT;
	*d = (struct vring_desc){addr, len, flags,
				 (uint16_t)rnd_range(0, nnext)};
}

enum storm_role { SR_HDR, SR_DATA, SR_STATUS };

/* One descriptor of a storm chain: mostly what its role calls for, so
 * that the chain reaches the block device's parsing; sometimes anything. */
static void storm_desc(volatile struct vring_desc *d, enum storm_role role,
		       bool device_writes, bool last, uint16_t next,
		       unsigned nnext, uint64_t base)
{
	uint16_t flags = last ? 0 : VRING_DESC_F_NEXT;

	if (rnd() % 6 == 0) {
		random_desc(d, nnext, base);
		return;
	}
	if (rnd() % 16 == 0)
		next = (uint16_t)rnd_range(0, nnext);
	if (role == SR_HDR)
		*d = (struct vring_desc){pscr.pa + SCR_HDR, HDR, flags, next};
	else if (role == SR_STATUS)
		*d = (struct vring_desc){pscr.pa + SCR_ST, 1,
					 flags | VRING_DESC_F_WRITE, next};
	else
		*d = (struct vring_desc){
		    pscr.pa + SCR_DATA + SECTOR * rnd_range(0, 255),
		    SECTOR * (uint32_t)rnd_range(1, 8),
		    flags | (device_writes ? VRING_DESC_F_WRITE : 0), next};
}

/* `count` random chains, one at a time (tests/hostile/chain-storm.sh):
 * random types and sectors (in and past the disk), chains of plausible
 * shape (header, data, status; direct or through an indirect table) with
 * random corruptions. Each must come back as a used entry with its own
 * head, without DEVICE_NEEDS_RESET. */
static void chain_storm(unsigned count, uint64_t cap, uint64_t base)
{
	const uint32_t types[] = {
	    VIRTIO_BLK_T_IN,	  VIRTIO_BLK_T_OUT,
	    VIRTIO_BLK_T_FLUSH,	  VIRTIO_BLK_T_GET_ID,
	    VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES};
	uint8_t *scr = pscr.va;
	volatile struct vring_desc *tab = (void *)(scr + SCR_TAB),
				   *tab2 = (void *)(scr + SCR_TAB2);
	unsigned nstatus[256] = {0}, nzero = 0, i;
	int r = 1;

	for (i = 0; i < count && r == 1; i++) {
		uint16_t head = (uint16_t)(rnd() % QSZ), pos = head;
		uint32_t type = rnd() % 8 ? types[rnd() % 6] : (uint32_t)rnd();
		bool dw =
		    type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
		unsigned ndata = (unsigned)rnd_range(0, 3);
		uint64_t sector;
		uint32_t len = 0;

		switch (rnd() % 4) {
		case 0:
			sector = rnd_range(0, cap - 1);
			break;
		case 1:
			sector = cap - rnd_range(0, 2);
			break;
		case 2:
			sector = rnd();
			break;
		default:
			sector = rnd_range(0, 64);
			break;
		}
		*(struct virtio_blk_outhdr *)(scr + SCR_HDR) =
		    (struct virtio_blk_outhdr){type, (uint32_t)rnd(), sector};
		scr[SCR_ST] = 0xee;
		/* Whatever the chain leaves out is random too. */
		for (unsigned k = 0; k < QSZ; k++)
			random_desc(desc + k, QSZ + 1, base);
		for (unsigned k = 0; k < 8; k++)
			random_desc(tab2 + k, 9, base);
		storm_desc(desc + pos, SR_HDR, false, false,
			   (uint16_t)((pos + 1) % QSZ), QSZ + 1, base);
		pos = (uint16_t)((pos + 1) % QSZ);
		if (rnd() % 3 == 0) {
			/* The rest in an indirect table. */
			unsigned tn = ndata + 1;

			for (unsigned k = 0; k < tn; k++)
				storm_desc(tab + k,
					   k + 1 < tn ? SR_DATA : SR_STATUS, dw,
					   k + 1 == tn, (uint16_t)(k + 1),
					   tn + 1, base);
			if (rnd() % 6)
				desc[pos] = (struct vring_desc){
				    pscr.pa + SCR_TAB,
				    (uint32_t)(tn * sizeof(*tab)),
				    VRING_DESC_F_INDIRECT, 0};
			else
				random_desc(desc + pos, QSZ + 1, base);
		} else {
			for (unsigned k = 0; k <= ndata; k++) {
				uint16_t next = (uint16_t)((pos + 1) % QSZ);

				storm_desc(desc + pos,
					   k < ndata ? SR_DATA : SR_STATUS, dw,
					   k == ndata, next, QSZ + 1, base);
				pos = next;
			}
		}
		r = kick(head, 1, &len);
		barrier();
		if (r == 1 && len)
			nstatus[scr[SCR_ST]]++;
		else if (r == 1)
			nzero++;
	}
	check("chain-storm-each-answered", r == 1,
	      "chain %u: kick %d (-2: another head used, 0: needs reset, "
	      "-1: no answer)",
	      i - 1, r);
	printf("chain-storm: %u chains answered: %u OK, %u IOERR, %u UNSUPP, "
	       "%u with used len 0\n",
	       i, nstatus[VIRTIO_BLK_S_OK], nstatus[VIRTIO_BLK_S_IOERR],
	       nstatus[VIRTIO_BLK_S_UNSUPP], nzero);
}

/* A reset storm (tests/hostile/reset-storm.sh): rounds of set-up, reads
 * in flight and a reset (reset_once()), every fifth round a reset half-way
 * through the handshake instead; then 400 resets back to back. Every
 * reset must return with Status 0 and leave the memory alone. */
static void reset_storm(void)
{
	bool silent = true, s1, zero = true;
	unsigned caught = 0, i;
	uint32_t st = 0xf;

	for (i = 0; i < 20 && st == 0xf; i++) {
		if (i % 5 == 4) {
			/* ACKNOWLEDGE, DRIVER, or up to FEATURES_OK. */
			switch (rnd_range(1, 3)) {
			case 1:
				wr32(VIRTIO_MMIO_STATUS,
				     VIRTIO_CONFIG_S_ACKNOWLEDGE);
				break;
			case 2:
				wr32(VIRTIO_MMIO_STATUS, STATUS_AD);
				break;
			default:
				negotiate(0, true);
				break;
			}
			wr32(VIRTIO_MMIO_STATUS, 0);
			zero &= rd32(VIRTIO_MMIO_STATUS) == 0;
			continue;
		}
		st = init(pdesc.pa);
		if (st == 0xf) {
			caught += reset_once(&s1);
			silent &= s1;
		}
	}
	check("reset-storm-rounds-start", st == 0xf, "round %u: status 0x%x",
	      i - 1, st);
	for (i = 0; i < 400; i++)
		wr32(VIRTIO_MMIO_STATUS, 0);
	zero &= rd32(VIRTIO_MMIO_STATUS) == 0;
	check("reset-storm-status-0", zero, "a reset did not read back 0");
	check("reset-storm-then-silent", silent,
	      "memory written after a reset");
	printf("reset-storm: %u of 16 resets caught reads in flight\n", caught);
}

/* `hostile-drv BASE SECTOR0 storm SEED`: the storms, each followed by a
 * good read. */
static void storms(const uint8_t *sector0, uint64_t base, uint64_t cap)
{
	uint32_t st;

	chain_storm(1500, cap, base);
	st = rd32(VIRTIO_MMIO_STATUS);
	check("chain-storm-no-reset", st == 0xf, "status 0x%x", st);
	good_read("after-chain-storm-read", sector0);
	/* Notifications for a queue that does not exist, in bulk: each is a
	 * warning, which the daemon's log must rate-limit (dom0 checks). */
	for (unsigned i = 0; i < 3000; i++)
		wr32(VIRTIO_MMIO_QUEUE_NOTIFY, 7);
	st = rd32(VIRTIO_MMIO_STATUS);
	check("missing-queue-notify-flood-ignored", st == 0xf, "status 0x%x",
	      st);
	good_read("after-notify-flood-read", sector0);
	reset_storm();
	recover("reset-storm-recovers", "after-reset-storm-read", sector0);
}

int main(int argc, char **argv)
{
	uint8_t sector0[SECTOR];
	uint64_t base, cap;
	struct page *const named[] = {&pdesc, &pavail, &pused,	&pbuf,	&ptab,
				      &pbal,  &pq1[0], &pq1[1], &pq1[2]};
	const unsigned nnamed = sizeof(named) / sizeof(named[0]);
	uint32_t len, st;
	int mem, pagemap, fd;

	bool storm = argc == 5 && !strcmp(argv[3], "storm");
	bool mq = argc == 5 && !strcmp(argv[3], "mq");

	if (argc != 3 && !storm && !mq)
		return fprintf(stderr, "usage: hostile-drv BASE SECTOR0 "
				       "[storm SEED | mq BASE2]\n"),
		       2;
	base = strtoull(argv[1], NULL, 0);
	rng_state = storm ? strtoull(argv[4], NULL, 0) | 1 : 1;
	fd = open(argv[2], O_RDONLY);
	if (fd < 0 || read(fd, sector0, SECTOR) != SECTOR)
		return perror(argv[2]), 2;
	close(fd);
	mem = open("/dev/mem", O_RDWR | O_SYNC);
	pagemap = open("/proc/self/pagemap", O_RDONLY);
	if (mem < 0 || pagemap < 0)
		return perror("/dev/mem or pagemap"), 2;
	regs = regs0 = map_regs(mem, base);
	if (mq)
		regs1 = map_regs(mem, strtoull(argv[4], NULL, 0));
	if (!regs || (mq && !regs1))
		return perror("mmap /dev/mem"), 2;
	for (unsigned j = 0; j < nnamed + DATA_PAGES; j++)
		if (page_alloc(j < nnamed ? named[j] : &pdata[j - nnamed],
			       pagemap))
			return fprintf(stderr,
				       "no locked page with an address\n"),
			       2;
	if (storm && huge_alloc(&pscr, pagemap))
		return fprintf(stderr, "no locked 2 MiB huge page\n"), 2;
	desc = pdesc.va;
	avail = pavail.va;
	used = pused.va;
	ram_end = find_ram_end();
	if (!ram_end)
		return fprintf(stderr, "no System RAM in /proc/iomem\n"), 2;
	printf("device at 0x%" PRIx64 ", RAM ends at 0x%" PRIx64
	       ", rings at 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 "\n",
	       base, ram_end, pdesc.pa, pavail.pa, pused.pa);

	wr32(VIRTIO_MMIO_STATUS, 0);
	widths();
	cap = rd_capacity();

	wr32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	st = rd32(VIRTIO_MMIO_DEVICE_FEATURES);
	feat_lo = st & (1U << VIRTIO_RING_F_INDIRECT_DESC);
	check("indirect-offered", feat_lo, "device features 0x%x", st);
	if (storm) /* what the disk offers of these too */
		feat_lo |= st & (1U << VIRTIO_BLK_F_DISCARD |
				 1U << VIRTIO_BLK_F_WRITE_ZEROES);
	st = init(pdesc.pa);
	check("init-driver-ok", st == 0xf, "status 0x%x", st);
	good_read("control-read", sector0);
	if (storm || mq) {
		if (storm) {
			storms(sector0, base, cap);
		} else {
			queue_beyond_negotiated(sector0);
			rings_clash();
			recover("multiqueue-recovers", "after-multiqueue-read",
				sector0);
		}
		wr32(VIRTIO_MMIO_STATUS, 0);
		ack_interrupts();
		return failed;
	}
	expect_status("data-past-ram-end-ioerr", VIRTIO_BLK_T_IN, 0, HDR,
		      ram_end, VIRTIO_BLK_S_IOERR);
	expect_status("data-at-mmio-window-ioerr", VIRTIO_BLK_T_IN, 0, HDR,
		      base, VIRTIO_BLK_S_IOERR);
	expect_status("data-straddling-ram-end-ioerr", VIRTIO_BLK_T_IN, 0, HDR,
		      ram_end - 256, VIRTIO_BLK_S_IOERR);
	expect_status("sector-past-end-ioerr", VIRTIO_BLK_T_IN, cap, HDR,
		      pbuf.pa + SECTOR, VIRTIO_BLK_S_IOERR);
	expect_status("sector-overflowing-ioerr", VIRTIO_BLK_T_IN, 1ULL << 55,
		      HDR, pbuf.pa + SECTOR, VIRTIO_BLK_S_IOERR);

	/* A descriptor chained to itself: consumed with used len 0. */
	desc[0] = (struct vring_desc){pbuf.pa, HDR, VRING_DESC_F_NEXT, 0};
	expect_dropped("desc-loop-used-len-0");
	good_read("after-loop-read", sector0);

	/* A notification for a queue that does not exist: ignored. */
	wr32(VIRTIO_MMIO_QUEUE_NOTIFY, 0xffff);
	st = rd32(VIRTIO_MMIO_STATUS);
	check("notify-no-such-queue-ignored", st == 0xf, "status 0x%x", st);
	good_read("after-bad-notify-read", sector0);

	/* The available index moving by more than the queue size. */
	{
		int r = kick(0, QSZ + 1, &len);

		st = rd32(VIRTIO_MMIO_STATUS);
		check("avail-jump-needs-reset",
		      r == 0 && (st & VIRTIO_CONFIG_S_NEEDS_RESET),
		      "kick %d, status 0x%x", r, st);
	}
	recover("reset-recovers", "after-reset-read", sector0);

	/* A descriptor table past the end of RAM. */
	expect_refused("ring-outside-ram-needs-reset", ram_end, pused.pa, QSZ);
	recover("reset-recovers-again", "after-reset-again-read", sector0);

	indirect(sector0, base);
	good_read("after-indirect-read", sector0);
	malformed();
	good_read("after-malformed-read", sector0);
	ballooned(sector0);
	good_read("after-balloon-read", sector0);

	/* Spurious notifications (§2.7.10: the device must cope): nothing
	 * new in the ring, nothing used, nothing logged. */
	for (unsigned i = 0; i < 2000; i++)
		wr32(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	usleep(100000);
	barrier();
	{
		uint16_t idx = used->idx;

		st = rd32(VIRTIO_MMIO_STATUS);
		check("notify-flood-nothing-used",
		      idx == used_seen && st == 0xf,
		      "used idx %u (seen %u), status 0x%x", idx, used_seen, st);
	}
	good_read("after-notify-flood-read", sector0);

	/* Set-up errors: DEVICE_NEEDS_RESET, and the queue is not live. A
	 * used ring over the driver's own rings would have the device's
	 * stores move the available index or rewrite descriptors under it. */
	expect_refused("used-over-avail-needs-reset", pdesc.pa, pavail.pa, QSZ);
	expect_refused("used-over-desc-needs-reset", pdesc.pa, pdesc.pa + 64,
		       QSZ);
	expect_refused("queue-size-6-needs-reset", pdesc.pa, pused.pa, 6);
	st = init_with(pdesc.pa, pused.pa, QSZ, false);
	check("driver-ok-without-features-ok-needs-reset",
	      st & VIRTIO_CONFIG_S_NEEDS_RESET, "status 0x%x", st);
	{
		/* The device did not start: a request stays unanswered. */
		uint8_t *sb = (uint8_t *)pbuf.va + 16, sv;
		uint16_t idx;

		*sb = 0xee;
		chain3(desc, pbuf.pa, pbuf.pa + SECTOR, SECTOR, pbuf.pa + 16);
		avail->ring[0] = 0;
		barrier();
		avail->idx = 1;
		wr32(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		usleep(300000);
		barrier();
		idx = used->idx;
		sv = *sb;
		check("not-started-request-unanswered", idx == 0 && sv == 0xee,
		      "used idx %u, status %u", idx, sv);
	}
	reset_under_io();
	recover("reset-recovers-after-io", "final-read", sector0);

	wr32(VIRTIO_MMIO_STATUS, 0);
	ack_interrupts();
	return failed;
}
