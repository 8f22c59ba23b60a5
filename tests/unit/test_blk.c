/* SPDX-License-Identifier: GPL-2.0-only */
/* Unit tests for src/virtio_blk.c, src/aio_engine.c and src/image.c: the
 * test plays the driver on fake guest RAM with the real virtqueue, the real
 * engine and a real event loop over a temporary image file. The loop runs
 * until the device raises its interrupt (or a test-specific callback stops
 * it); a 10 s watchdog turns a hang into a failure. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <limits.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "aio_engine.h"
#include "fake_guest_mem.h"
#include "image.h"
#include "log.h"
#include "loop.h"
#include "unit.h"
#include "virtio_blk.h"
#include "virtqueue.h"

#define RAM_BASE    0x40000000ULL
#define RAM_SIZE    (48ULL << 20)
#define QNUM	    16
#define DESC_GPA    (RAM_BASE + 0x0000)
#define AVAIL_GPA   (RAM_BASE + 0x1000)
#define USED_GPA    (RAM_BASE + 0x2000)
#define HDR_GPA	    (RAM_BASE + 0x10000) /* 256 bytes per slot */
#define DATA_GPA    (RAM_BASE + 0x100000)
#define IMG_SIZE    (4u << 20)
#define IMG_SECTORS (IMG_SIZE / 512)

#define F(bit) (1ULL << (bit))

/* io_submit with a switch to refuse its next calls with EAGAIN (the test
 * links with --wrap=io_submit): the kernel short of AIO memory. */
int __real_io_submit(io_context_t ctx, long nr, struct iocb **iocbs);
int __wrap_io_submit(io_context_t ctx, long nr, struct iocb **iocbs);
static unsigned io_submit_eagain, io_submit_refused;

int __wrap_io_submit(io_context_t ctx, long nr, struct iocb **iocbs)
{
	if (io_submit_eagain) {
		io_submit_eagain--;
		io_submit_refused++;
		return -EAGAIN;
	}
	return __real_io_submit(ctx, nr, iocbs);
}

/* calloc with a switch to fail it (the test links with --wrap=calloc):
 * the I/O engine out of memory. */
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
static bool calloc_fails;
static unsigned calloc_failed;

void *__wrap_calloc(size_t n, size_t size)
{
	if (calloc_fails) {
		calloc_failed++;
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(n, size);
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

struct env {
	struct loop *loop;
	struct guest_mem *gm;
	struct virtio_blk *b;
	struct virtq vq;
	struct virtio_notify notify;
	char path[64];
	int fd; /* the test's own (buffered) view of the image */
	int wd; /* watchdog timerfd */
	bool timed_out;
	unsigned irqs, resets_needed, config_changes;
	uint64_t in_flight_at_first_irq;
	uint16_t avail_idx, next_desc, seen_used;
};

static struct env T;

static uint8_t *host(uint64_t gpa)
{
	return fake_guest_mem_ptr(T.gm) + (gpa - RAM_BASE);
}

static struct vring_avail *avail(void)
{
	return (struct vring_avail *)host(AVAIL_GPA);
}

static struct vring_used *used(void)
{
	return (struct vring_used *)host(USED_GPA);
}

static void on_used(void *opaque)
{
	(void)opaque;
	if (++T.irqs == 1) {
		struct virtio_blk_stats st;

		virtio_blk_get_stats(T.b, &st);
		T.in_flight_at_first_irq = st.in_flight;
	}
	loop_stop(T.loop);
}

static void on_needs_reset(void *opaque)
{
	(void)opaque;
	T.resets_needed++;
}

static void on_config_changed(void *opaque)
{
	(void)opaque;
	T.config_changes++;
}

static void on_watchdog(void *opaque, uint32_t ev)
{
	uint64_t v;

	(void)opaque;
	(void)ev;
	if (read(T.wd, &v, sizeof(v)) < 0)
		return;
	T.timed_out = true;
	loop_stop(T.loop);
}

/* Run the loop until stopped; the watchdog makes this bounded. */
static void run_loop(void)
{
	struct itimerspec it = {.it_value = {.tv_sec = 10}};

	timerfd_settime(T.wd, 0, &it, NULL);
	loop_run(T.loop);
	it.it_value.tv_sec = 0;
	timerfd_settime(T.wd, 0, &it, NULL);
}

static void start_queue(bool event_idx)
{
	memset(host(DESC_GPA), 0, 0x3000);
	T.vq.num = QNUM;
	T.vq.desc_gpa = DESC_GPA;
	T.vq.avail_gpa = AVAIL_GPA;
	T.vq.used_gpa = USED_GPA;
	CHECK_EQ(virtq_start(&T.vq, T.gm, event_idx, true), 0);
	T.avail_idx = T.next_desc = T.seen_used = 0;
	virtio_blk_ops.start(T.b, &T.vq, 1, &T.notify);
}

static void make_image(uint64_t size)
{
	strcpy(T.path, "/tmp/test_blk.XXXXXX");
	T.fd = mkstemp(T.path);
	CHECK(T.fd >= 0);
	CHECK_EQ(ftruncate(T.fd, (off_t)size), 0);
}

/* virtio_blk_params.idle_grace_us for the next setup() only. */
static unsigned setup_grace_us;
/* virtio_blk_params.num_queues for the next setup() only. */
static unsigned setup_queues;
/* What virtio_blk_params.guest_reaction_us answers (auto grace), and how
 * often it was asked. */
static unsigned reaction_us, reaction_asked;

static unsigned guest_reaction_us(void *opaque)
{
	CHECK(opaque == &reaction_us);
	reaction_asked++;
	return reaction_us;
}

/* A device on a fresh image (size bytes, pattern-filled). */
static bool setup(uint64_t size, bool ro, const char *serial,
		  unsigned queue_size)
{
	struct virtio_blk_params p = {.read_only = ro,
				      .serial = serial,
				      .queue_size = queue_size,
				      .idle_grace_us = setup_grace_us,
				      .guest_reaction_us = guest_reaction_us,
				      .reaction_opaque = &reaction_us,
				      .num_queues = setup_queues};
	char err[256] = "";
	uint64_t fill_size = size < IMG_SIZE + 4096 ? size : IMG_SIZE;
	uint8_t *buf = malloc(fill_size);

	memset(&T, 0, sizeof(T));
	T.loop = loop_new();
	T.gm = fake_guest_mem_new(RAM_BASE, RAM_SIZE);
	T.wd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	loop_add(T.loop, T.wd, EPOLLIN, on_watchdog, NULL);
	T.notify.used = on_used;
	T.notify.needs_reset = on_needs_reset;
	T.notify.config_changed = on_config_changed;
	make_image(size);
	for (uint64_t i = 0; i < fill_size; i++)
		buf[i] = (uint8_t)(i * 7 + i / 512);
	CHECK_EQ(pwrite(T.fd, buf, fill_size, 0), (long long)fill_size);
	free(buf);
	p.path = T.path;
	T.b = virtio_blk_new(T.loop, T.gm, &p, err, sizeof(err));
	if (!T.b) {
		fprintf(stderr, "virtio_blk_new: %s\n", err);
		CHECK(T.b != NULL);
		return false;
	}
	CHECK(virtio_blk_ops.set_features(T.b, virtio_blk_ops.features(T.b)));
	start_queue(false);
	return true;
}

static void teardown(void)
{
	if (T.b)
		virtio_blk_free(T.b);
	virtq_stop(&T.vq);
	CHECK_EQ(fake_guest_mem_pins(T.gm), 0);
	CHECK(!T.timed_out);
	fake_guest_mem_free(T.gm);
	loop_del(T.loop, T.wd);
	close(T.wd);
	loop_free(T.loop);
	close(T.fd);
	unlink(T.path);
}

/* ------------------------------------------------------ driver helpers */

static uint16_t add_chain(const struct seg *s, unsigned n)
{
	struct vring_desc *d = (struct vring_desc *)host(DESC_GPA);
	uint16_t head = T.next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((T.next_desc + i) % QNUM);

		d[idx].addr = htole64(s[i].gpa);
		d[idx].len = htole32(s[i].len);
		d[idx].flags = htole16((s[i].w ? VRING_DESC_F_WRITE : 0) |
				       (i + 1 < n ? VRING_DESC_F_NEXT : 0));
		d[idx].next = htole16((uint16_t)((idx + 1) % QNUM));
	}
	T.next_desc = (uint16_t)((T.next_desc + n) % QNUM);
	avail()->ring[T.avail_idx % QNUM] = htole16(head);
	T.avail_idx++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	avail()->idx = htole16(T.avail_idx);
	return head;
}

static uint16_t used_idx(void)
{
	return le16toh(used()->idx);
}

/* Kick the device and run the loop until `count` more used entries. */
static void kick_wait(unsigned count)
{
	uint16_t target = (uint16_t)(T.seen_used + count);

	virtio_blk_ops.queue_notify(T.b, 0);
	while (used_idx() != target && !T.timed_out)
		run_loop();
	T.seen_used = used_idx();
}

static struct vring_used_elem used_elem(uint16_t i)
{
	struct vring_used_elem e = used()->ring[i % QNUM];

	e.id = le32toh(e.id);
	e.len = le32toh(e.len);
	return e;
}

static void put_hdr(uint64_t gpa, uint32_t type, uint64_t sector)
{
	uint8_t *h = host(gpa);
	uint32_t t = htole32(type), z = 0;
	uint64_t s = htole64(sector);

	memcpy(h, &t, 4);
	memcpy(h + 4, &z, 4);
	memcpy(h + 8, &s, 8);
}

/* One request: returns the status byte, *len the used length. */
static uint8_t one(const struct seg *s, unsigned n, uint64_t status_gpa,
		   uint32_t *len)
{
	uint16_t head;
	struct vring_used_elem e;

	if (status_gpa)
		*host(status_gpa) = 0xee;
	head = add_chain(s, n);
	kick_wait(1);
	e = used_elem((uint16_t)(T.seen_used - 1));
	CHECK_EQ(e.id, head);
	if (len)
		*len = e.len;
	return status_gpa ? *host(status_gpa) : 0;
}

/* A plain request: header, optional data, status, each in a descriptor. */
static uint8_t simple(uint32_t type, uint64_t sector, uint64_t data_gpa,
		      uint32_t data_len, bool data_w, uint32_t *len)
{
	struct seg s[3];
	unsigned n = 0;
	uint64_t st = HDR_GPA + 32;

	put_hdr(HDR_GPA, type, sector);
	s[n++] = (struct seg){HDR_GPA, 16, false};
	if (data_len)
		s[n++] = (struct seg){data_gpa, data_len, data_w};
	s[n++] = (struct seg){st, 1, true};
	return one(s, n, st, len);
}

static void fill(uint64_t gpa, size_t len, uint8_t seed)
{
	uint8_t *p = host(gpa);

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13 + i / 512);
}

static bool file_equals(uint64_t off, const void *buf, size_t len)
{
	uint8_t *f = malloc(len);
	bool eq = pread(T.fd, f, len, (off_t)off) == (ssize_t)len &&
		  memcmp(f, buf, len) == 0;

	free(f);
	return eq;
}

static bool file_is_zero(uint64_t off, size_t len)
{
	uint8_t *z = calloc(1, len);
	bool eq = file_equals(off, z, len);

	free(z);
	return eq;
}

static uint8_t cfg8(uint32_t off)
{
	uint8_t v = 0;

	virtio_blk_ops.config_read(T.b, off, &v, 1);
	return v;
}

static uint32_t cfg32(uint32_t off)
{
	uint32_t v = 0;

	virtio_blk_ops.config_read(T.b, off, &v, 4);
	return le32toh(v);
}

static uint64_t cfg64(uint32_t off)
{
	uint64_t v = 0;

	virtio_blk_ops.config_read(T.b, off, &v, 8);
	return le64toh(v);
}

/* --------------------------------------------------------------- tests */

static void test_features(void)
{
	uint64_t f, f_ro;

	if (!setup(IMG_SIZE, false, NULL, 0))
		return;
	f = virtio_blk_ops.features(T.b);
	CHECK(f & F(VIRTIO_F_VERSION_1));
	CHECK(f & F(VIRTIO_RING_F_INDIRECT_DESC));
	CHECK(f & F(VIRTIO_RING_F_EVENT_IDX));
	CHECK(f & F(VIRTIO_BLK_F_SEG_MAX));
	CHECK(f & F(VIRTIO_BLK_F_SIZE_MAX));
	CHECK(f & F(VIRTIO_BLK_F_BLK_SIZE));
	CHECK(f & F(VIRTIO_BLK_F_FLUSH));
	CHECK(f & F(VIRTIO_BLK_F_DISCARD)); /* ext4 /tmp punches holes */
	CHECK(f & F(VIRTIO_BLK_F_WRITE_ZEROES));
	CHECK(!(f & F(VIRTIO_BLK_F_RO)));
	CHECK(!(f & F(VIRTIO_BLK_F_MQ)));
	CHECK(!virtio_blk_ops.set_features(T.b, f & ~F(VIRTIO_F_VERSION_1)));
	CHECK(!virtio_blk_ops.set_features(T.b, f | F(VIRTIO_BLK_F_MQ)));
	CHECK(virtio_blk_ops.set_features(T.b, F(VIRTIO_F_VERSION_1)));
	CHECK(virtio_blk_ops.set_features(T.b, f));
	CHECK_EQ(virtio_blk_ops.device_id, 2);
	CHECK_EQ(virtio_blk_ops.queue_num_max(T.b), 256);
	/* Config: limits consistent with what one request may carry. */
	CHECK_EQ(cfg32(12), 254); /* seg_max */
	CHECK(cfg32(8) >= 4096);  /* size_max */
	CHECK_EQ(cfg32(20), 512); /* blk_size */
	CHECK(cfg32(36) > 0);	  /* max_discard_sectors */
	CHECK_EQ(cfg32(40), 16);  /* max_discard_seg */
	CHECK(cfg32(48) > 0);	  /* max_write_zeroes_sectors */
	CHECK_EQ(cfg32(52), 16);
	CHECK_EQ(cfg8(56), 1); /* write_zeroes_may_unmap */
	teardown();

	if (!setup(IMG_SIZE, true, NULL, 0))
		return;
	f_ro = virtio_blk_ops.features(T.b);
	CHECK(f_ro & F(VIRTIO_BLK_F_RO));
	CHECK(!(f_ro & F(VIRTIO_BLK_F_DISCARD)));
	CHECK(!(f_ro & F(VIRTIO_BLK_F_WRITE_ZEROES)));
	CHECK(f_ro & F(VIRTIO_F_VERSION_1));
	CHECK_EQ(cfg32(36), 0);
	teardown();
}

static void test_config(void)
{
	uint8_t buf[128];
	uint32_t size;
	struct virtio_blk_stats st;

	if (!setup(IMG_SIZE + 100, false, NULL, 0))
		return;
	CHECK_EQ(cfg64(0), IMG_SECTORS); /* rounded down */
	/* Reads past the end copy nothing; a straddling read is clipped. */
	memset(buf, 0x5a, sizeof(buf));
	size = virtio_blk_ops.config_read(T.b, 1000, buf, 8);
	CHECK_EQ(size, sizeof(struct virtio_blk_config));
	CHECK_EQ(buf[0], 0x5a);
	size = virtio_blk_ops.config_read(T.b, size - 2, buf, 8);
	CHECK_EQ(buf[2], 0x5a);
	/* Writes are ignored. */
	virtio_blk_ops.config_write(T.b, 0, "\xff\xff\xff\xff", 4);
	CHECK_EQ(cfg64(0), IMG_SECTORS);
	virtio_blk_get_stats(T.b, &st);
	CHECK_EQ(st.capacity_sectors, IMG_SECTORS);
	teardown();
}

static void test_read_write(void)
{
	uint8_t *expect = malloc(65536);
	uint32_t len;
	struct virtio_blk_stats st;

	if (!setup(IMG_SIZE, false, NULL, 0))
		goto out;
	/* Write 64 KiB at sector 100, then compare with the file. */
	fill(DATA_GPA, 65536, 3);
	memcpy(expect, host(DATA_GPA), 65536);
	CHECK_EQ(simple(VIRTIO_BLK_T_OUT, 100, DATA_GPA, 65536, false, &len),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 1);
	CHECK(file_equals(100 * 512, expect, 65536));

	/* Read it back into a different buffer. */
	memset(host(DATA_GPA + 0x20000), 0, 65536);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_IN, 100, DATA_GPA + 0x20000, 65536, true, &len),
	    VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 65536 + 1);
	CHECK(memcmp(host(DATA_GPA + 0x20000), expect, 65536) == 0);

	/* A guest buffer at an odd address goes through a bounce buffer. */
	fill(DATA_GPA + 0x40001, 4096, 9);
	memcpy(expect, host(DATA_GPA + 0x40001), 4096);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_OUT, 8, DATA_GPA + 0x40001, 4096, false, NULL),
	    VIRTIO_BLK_S_OK);
	CHECK(file_equals(8 * 512, expect, 4096));
	memset(host(DATA_GPA + 0x50003), 0, 4096);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_IN, 8, DATA_GPA + 0x50003, 4096, true, NULL),
	    VIRTIO_BLK_S_OK);
	CHECK(memcmp(host(DATA_GPA + 0x50003), expect, 4096) == 0);

	/* Zero-length read: OK, nothing transferred. */
	CHECK_EQ(simple(VIRTIO_BLK_T_IN, 0, 0, 0, true, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 1);

	virtio_blk_get_stats(T.b, &st);
	CHECK_EQ(st.reqs[0], 3);
	CHECK_EQ(st.reqs[1], 2);
	CHECK_EQ(st.bytes_written, 65536 + 4096);
	CHECK_EQ(st.bytes_read, 65536 + 4096);
	CHECK_EQ(st.errors, 0);
	CHECK_EQ(st.in_flight, 0);
	CHECK(st.interrupts >= 5);
	teardown();
out:
	free(expect);
}

/* ANY_LAYOUT (virtio 1.2 §2.6.4): header, data and status may share or
 * split descriptors anywhere; data may cross 1 MiB bucket edges. */
static void test_any_layout(void)
{
	uint8_t *expect = malloc(12288);
	uint64_t g = RAM_BASE + (2 << 20) - 6144; /* crosses 2 MiB */
	uint64_t st;
	uint32_t len;
	struct seg s[6];

	if (!setup(IMG_SIZE, false, NULL, 0))
		goto out;
	/* OUT: header split 5 + 11 bytes, the second piece continues with
	 * the first data bytes; then two more data pieces. */
	put_hdr(g - 16, VIRTIO_BLK_T_OUT, 40);
	fill(g, 12288, 21);
	memcpy(expect, host(g), 12288);
	st = HDR_GPA + 100;
	s[0] = (struct seg){g - 16, 5, false};
	s[1] = (struct seg){g - 11, 11 + 1000, false};
	s[2] = (struct seg){g + 1000, 3000, false};
	s[3] = (struct seg){g + 4000, 12288 - 4000, false};
	s[4] = (struct seg){st, 1, true};
	CHECK_EQ(one(s, 5, st, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 1);
	CHECK(file_equals(40 * 512, expect, 12288));

	/* IN: data in three writable pieces, the status byte sharing the last
	 * descriptor with the end of the data. */
	memset(host(DATA_GPA), 0, 12289);
	put_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 40);
	s[0] = (struct seg){HDR_GPA, 16, false};
	s[1] = (struct seg){DATA_GPA, 512, true};
	s[2] = (struct seg){DATA_GPA + 512, 7000, true};
	s[3] = (struct seg){DATA_GPA + 7512, 12288 - 7512 + 1, true};
	CHECK_EQ(one(s, 4, DATA_GPA + 12288, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 12288 + 1);
	CHECK(memcmp(host(DATA_GPA), expect, 12288) == 0);

	/* The whole request in one readable + one writable descriptor. */
	put_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 41);
	s[0] = (struct seg){HDR_GPA, 16 + 5, false}; /* extra bytes ignored */
	s[1] = (struct seg){DATA_GPA, 512 + 1, true};
	CHECK_EQ(one(s, 2, DATA_GPA + 512, &len), VIRTIO_BLK_S_OK);
	CHECK(memcmp(host(DATA_GPA), expect + 512, 512) == 0);
	teardown();
out:
	free(expect);
}

static void test_bounds(void)
{
	uint64_t sectors;
	uint32_t len;

	if (!setup(IMG_SIZE, false, NULL, 0))
		return;
	/* Last sector: fine; one past it and a straddling read: IOERR. */
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_IN, IMG_SECTORS - 1, DATA_GPA, 512, true, &len),
	    VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 513);
	/* The used length counts every writable byte, the status the last
	 * of them (§2.7.8), and a failed read leaves zeros. */
	memset(host(DATA_GPA), 0xcc, 512);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_IN, IMG_SECTORS, DATA_GPA, 512, true, &len),
	    VIRTIO_BLK_S_IOERR);
	CHECK_EQ(len, 513);
	CHECK_EQ(host(DATA_GPA)[0], 0);
	CHECK_EQ(host(DATA_GPA)[511], 0);
	CHECK_EQ(simple(VIRTIO_BLK_T_OUT, IMG_SECTORS - 1, DATA_GPA, 1024,
			false, NULL),
		 VIRTIO_BLK_S_IOERR);
	/* sector * 512 overflows 64 bits. */
	CHECK_EQ(simple(VIRTIO_BLK_T_IN, 1ULL << 55, DATA_GPA, 512, true, NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_OUT, UINT64_MAX, DATA_GPA, 512, false, NULL),
	    VIRTIO_BLK_S_IOERR);
	/* Not a multiple of 512. */
	CHECK_EQ(simple(VIRTIO_BLK_T_IN, 0, DATA_GPA, 513, true, NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(simple(VIRTIO_BLK_T_OUT, 0, DATA_GPA, 100, false, NULL),
		 VIRTIO_BLK_S_IOERR);

	/* The image grows by a sector and a half: one more sector served,
	 * the config and its generation change, the driver is told once. */
	CHECK(!virtio_blk_check_capacity(T.b, &sectors));
	CHECK_EQ(virtio_blk_ops.config_generation(T.b), 0);
	CHECK_EQ(ftruncate(T.fd, IMG_SIZE + 768), 0);
	CHECK(virtio_blk_check_capacity(T.b, &sectors));
	CHECK_EQ(sectors, IMG_SECTORS + 1);
	CHECK(!virtio_blk_check_capacity(T.b, &sectors));
	CHECK_EQ(cfg64(0), IMG_SECTORS + 1);
	CHECK_EQ(virtio_blk_ops.config_generation(T.b), 1);
	CHECK_EQ(T.config_changes, 1);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_OUT, IMG_SECTORS, DATA_GPA, 512, false, NULL),
	    VIRTIO_BLK_S_OK);
	/* Cut back: the sector is gone again. */
	CHECK_EQ(ftruncate(T.fd, IMG_SIZE), 0);
	CHECK(virtio_blk_check_capacity(T.b, &sectors));
	CHECK_EQ(sectors, IMG_SECTORS);
	CHECK_EQ(virtio_blk_ops.config_generation(T.b), 2);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_IN, IMG_SECTORS, DATA_GPA, 512, true, NULL),
	    VIRTIO_BLK_S_IOERR);
	teardown();

	/* At most seg_max * size_max bytes of data in one request. */
	if (!setup(64u << 20, false, NULL, 0))
		return;
	CHECK_EQ(simple(VIRTIO_BLK_T_IN, 0, RAM_BASE + (8 << 20),
			cfg32(12) * cfg32(8), true, NULL),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(simple(VIRTIO_BLK_T_IN, 0, RAM_BASE + (8 << 20),
			cfg32(12) * cfg32(8) + 512, true, NULL),
		 VIRTIO_BLK_S_IOERR);
	teardown();
}

static void test_bad_addresses(void)
{
	uint8_t before[16];
	uint32_t len;
	struct seg s[3];
	struct virtio_blk_stats st;

	if (!setup(IMG_SIZE, false, NULL, 0))
		return;
	/* Data outside guest RAM: IOERR, and the file is untouched. */
	pread(T.fd, before, sizeof(before), 0);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_OUT, 0, RAM_BASE + RAM_SIZE, 512, false, &len),
	    VIRTIO_BLK_S_IOERR);
	CHECK(file_equals(0, before, sizeof(before)));
	/* Not all RAM, so not written, and so not counted (§2.7.8.1). */
	CHECK_EQ(simple(VIRTIO_BLK_T_IN, 0, RAM_BASE + RAM_SIZE - 512, 1024,
			true, &len),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(len, 0);
	CHECK_EQ(simple(VIRTIO_BLK_T_IN, 0, 0x1000, 512, true, NULL),
		 VIRTIO_BLK_S_IOERR);
	/* Address that wraps 64 bits. */
	CHECK_EQ(simple(VIRTIO_BLK_T_IN, 0, UINT64_MAX - 100, 512, true, NULL),
		 VIRTIO_BLK_S_IOERR);

	/* Header too short (15 readable bytes): IOERR into the status. */
	put_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 0);
	s[0] = (struct seg){HDR_GPA, 15, false};
	s[1] = (struct seg){HDR_GPA + 32, 1, true};
	CHECK_EQ(one(s, 2, HDR_GPA + 32, &len), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(len, 1);
	/* No writable byte at all: nothing to write, used len 0. */
	s[0] = (struct seg){HDR_GPA, 16, false};
	s[1] = (struct seg){DATA_GPA, 512, false};
	*host(HDR_GPA + 32) = 0xee;
	CHECK_EQ(one(s, 2, 0, &len), 0);
	CHECK_EQ(len, 0);
	CHECK_EQ(*host(HDR_GPA + 32), 0xee);
	/* Status byte outside RAM: the request completes with len 0. */
	s[1] = (struct seg){RAM_BASE + RAM_SIZE + 4096, 1, true};
	CHECK_EQ(one(s, 2, 0, &len), 0);
	CHECK_EQ(len, 0);
	/* Header outside RAM. */
	s[0] = (struct seg){RAM_BASE + RAM_SIZE, 16, false};
	s[1] = (struct seg){HDR_GPA + 32, 1, true};
	CHECK_EQ(one(s, 2, HDR_GPA + 32, &len), VIRTIO_BLK_S_IOERR);
	/* A chain the virtqueue rejects (next out of range): len 0. */
	{
		struct vring_desc *d = (struct vring_desc *)host(DESC_GPA);
		uint16_t head = add_chain(s, 2);

		d[head].next = htole16(QNUM + 3);
		kick_wait(1);
		CHECK_EQ(used_elem((uint16_t)(T.seen_used - 1)).id, head);
		CHECK_EQ(used_elem((uint16_t)(T.seen_used - 1)).len, 0);
	}
	virtio_blk_get_stats(T.b, &st);
	CHECK(st.errors >= 8);
	teardown();
}

static void test_read_only(void)
{
	uint8_t before[512];
	uint32_t len;

	if (!setup(IMG_SIZE, true, NULL, 0))
		return;
	pread(T.fd, before, sizeof(before), 0);
	fill(DATA_GPA, 512, 1);
	CHECK_EQ(simple(VIRTIO_BLK_T_OUT, 0, DATA_GPA, 512, false, &len),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(len, 1);
	CHECK(file_equals(0, before, sizeof(before)));
	CHECK_EQ(simple(VIRTIO_BLK_T_IN, 0, DATA_GPA, 512, true, NULL),
		 VIRTIO_BLK_S_OK);
	CHECK(memcmp(host(DATA_GPA), before, 512) == 0);
	CHECK_EQ(simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL),
		 VIRTIO_BLK_S_OK);
	/* Discard and write-zeroes on a read-only disk: IOERR. */
	put_hdr(DATA_GPA, 0, 0);
	CHECK_EQ(simple(VIRTIO_BLK_T_DISCARD, 0, DATA_GPA, 16, false, NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA, 16, false, NULL),
	    VIRTIO_BLK_S_IOERR);
	CHECK(file_equals(0, before, sizeof(before)));
	teardown();
}

static void test_flush_get_id_unknown(void)
{
	uint32_t len;
	char serial[20];

	if (!setup(IMG_SIZE, false, NULL, 0))
		return;
	fill(DATA_GPA, 4096, 4);
	CHECK_EQ(simple(VIRTIO_BLK_T_OUT, 0, DATA_GPA, 4096, false, NULL),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &len),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 1);

	/* Derived serial: "xvb-" and 16 hex digits, no terminator. */
	memset(host(DATA_GPA), 0xcc, 64);
	CHECK_EQ(simple(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 20, true, &len),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 21);
	memcpy(serial, host(DATA_GPA), 20);
	CHECK(memcmp(serial, "xvb-", 4) == 0);
	for (int i = 4; i < 20; i++)
		CHECK(strchr("0123456789abcdef", serial[i]) && serial[i]);
	/* A short buffer gets a truncated serial; a long one 20 bytes. */
	memset(host(DATA_GPA), 0xcc, 64);
	CHECK_EQ(simple(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 7, true, &len),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 8);
	CHECK(memcmp(host(DATA_GPA), serial, 7) == 0);
	CHECK_EQ(host(DATA_GPA)[7], 0xcc);
	memset(host(DATA_GPA), 0xcc, 64);
	CHECK_EQ(simple(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 40, true, &len),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 41); /* the ID, zeros to the status, the status */
	CHECK(memcmp(host(DATA_GPA), serial, 20) == 0);
	CHECK_EQ(host(DATA_GPA)[20], 0);
	CHECK_EQ(host(DATA_GPA)[39], 0);
	CHECK_EQ(host(DATA_GPA)[41], 0xcc);

	/* Unknown types: UNSUPP; a writable buffer zeroed, nothing else. */
	CHECK_EQ(simple(VIRTIO_BLK_T_SCSI_CMD, 0, 0, 0, false, &len),
		 VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(len, 1);
	CHECK_EQ(simple(99, 0, DATA_GPA, 512, true, &len), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(len, 513);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_SECURE_ERASE, 0, DATA_GPA, 16, false, NULL),
	    VIRTIO_BLK_S_UNSUPP);

	/* While served, the image is refused to a second device (its lock);
	 * served again later (the guest rebooted), it has the same serial. */
	{
		struct virtio_blk_params p = {.path = T.path};
		char err[256] = "";

		CHECK(virtio_blk_new(T.loop, T.gm, &p, err, sizeof(err)) ==
		      NULL);
		CHECK(strstr(err, "already in use") != NULL);
		virtq_stop(&T.vq);
		virtio_blk_free(T.b);
		T.b = virtio_blk_new(T.loop, T.gm, &p, err, sizeof(err));
		CHECK(T.b != NULL);
		if (T.b) {
			virtio_blk_ops.set_features(T.b, F(VIRTIO_F_VERSION_1));
			start_queue(false);
			memset(host(DATA_GPA), 0, 64);
			CHECK_EQ(simple(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 20,
					true, NULL),
				 VIRTIO_BLK_S_OK);
			CHECK(memcmp(host(DATA_GPA), serial, 20) == 0);
		}
	}
	teardown();

	/* serial= given: padded with NULs. */
	if (!setup(IMG_SIZE, false, "disk-A", 0))
		return;
	memset(host(DATA_GPA), 0xcc, 64);
	CHECK_EQ(simple(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 20, true, &len),
		 VIRTIO_BLK_S_OK);
	CHECK(memcmp(host(DATA_GPA), "disk-A\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
		     20) == 0);
	teardown();
	/* A 20-character serial is not terminated. */
	if (!setup(IMG_SIZE, false, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0))
		return;
	CHECK_EQ(simple(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 20, true, &len),
		 VIRTIO_BLK_S_OK);
	CHECK(memcmp(host(DATA_GPA), "ABCDEFGHIJKLMNOPQRST", 20) == 0);
	teardown();
}

static void put_dwz(uint64_t gpa, unsigned i, uint64_t sector, uint32_t n,
		    uint32_t flags)
{
	uint8_t *p = host(gpa) + i * 16;
	uint64_t s = htole64(sector);
	uint32_t nn = htole32(n), f = htole32(flags);

	memcpy(p, &s, 8);
	memcpy(p + 8, &nn, 4);
	memcpy(p + 12, &f, 4);
}

static void test_discard_write_zeroes(void)
{
	uint32_t len;
	struct stat st;
	blkcnt_t blocks;

	if (!setup(IMG_SIZE, false, NULL, 0))
		return;
	/* Two discard segments. */
	put_dwz(DATA_GPA, 0, 0, 256, 0);
	put_dwz(DATA_GPA, 1, 2048, 256, 0);
	fstat(T.fd, &st);
	blocks = st.st_blocks;
	CHECK_EQ(simple(VIRTIO_BLK_T_DISCARD, 0, DATA_GPA, 32, false, &len),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 1);
	fstat(T.fd, &st);
	CHECK(st.st_blocks < blocks); /* holes were punched */
	CHECK(file_is_zero(0, 256 * 512));
	CHECK(file_is_zero(2048 * 512, 256 * 512));
	CHECK(!file_is_zero(256 * 512, 512));

	/* WRITE_ZEROES without and with UNMAP, in one request. */
	put_dwz(DATA_GPA, 0, 300, 10, 0);
	put_dwz(DATA_GPA, 1, 400, 7, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	put_dwz(DATA_GPA, 2, 500, 0, 0); /* empty: fine */
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA, 48, false, &len),
	    VIRTIO_BLK_S_OK);
	CHECK(file_is_zero(300 * 512, 10 * 512));
	CHECK(file_is_zero(400 * 512, 7 * 512));
	CHECK(!file_is_zero(310 * 512, 512));
	CHECK(!file_is_zero(299 * 512, 512));

	/* UNMAP on DISCARD, unknown flags: UNSUPP and nothing done. */
	put_dwz(DATA_GPA, 0, 600, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	CHECK_EQ(simple(VIRTIO_BLK_T_DISCARD, 0, DATA_GPA, 16, false, NULL),
		 VIRTIO_BLK_S_UNSUPP);
	put_dwz(DATA_GPA, 0, 600, 1, 0);
	put_dwz(DATA_GPA, 1, 601, 1, 2);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA, 32, false, NULL),
	    VIRTIO_BLK_S_UNSUPP);
	CHECK(!file_is_zero(600 * 512, 1024));
	/* An unknown flag anywhere makes the command unsupported, even
	 * behind a segment that is out of range (5.2.6.2). */
	put_dwz(DATA_GPA, 0, UINT64_MAX, 1, 0);
	put_dwz(DATA_GPA, 1, 601, 1, 2);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA, 32, false, NULL),
	    VIRTIO_BLK_S_UNSUPP);

	/* Out of range, too many segments, ragged length: IOERR. */
	put_dwz(DATA_GPA, 0, IMG_SECTORS - 1, 2, 0);
	CHECK_EQ(simple(VIRTIO_BLK_T_DISCARD, 0, DATA_GPA, 16, false, NULL),
		 VIRTIO_BLK_S_IOERR);
	put_dwz(DATA_GPA, 0, UINT64_MAX, 1, 0);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA, 16, false, NULL),
	    VIRTIO_BLK_S_IOERR);
	for (unsigned i = 0; i < 17; i++)
		put_dwz(DATA_GPA, i, 700 + i, 1, 0);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_DISCARD, 0, DATA_GPA, 17 * 16, false, NULL),
	    VIRTIO_BLK_S_IOERR);
	CHECK_EQ(simple(VIRTIO_BLK_T_DISCARD, 0, DATA_GPA, 20, false, NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(simple(VIRTIO_BLK_T_DISCARD, 0, 0, 0, false, NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK(!file_is_zero(700 * 512, 512));
	/* The last sector is in range. */
	put_dwz(DATA_GPA, 0, IMG_SECTORS - 1, 1, 0);
	CHECK_EQ(
	    simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA, 16, false, NULL),
	    VIRTIO_BLK_S_OK);
	CHECK(file_is_zero((IMG_SECTORS - 1) * 512ULL, 512));

	/* Not negotiated: UNSUPP. */
	CHECK(virtio_blk_ops.set_features(T.b, F(VIRTIO_F_VERSION_1)));
	put_dwz(DATA_GPA, 0, 800, 1, 0);
	CHECK_EQ(simple(VIRTIO_BLK_T_DISCARD, 0, DATA_GPA, 16, false, NULL),
		 VIRTIO_BLK_S_UNSUPP);
	teardown();
}

/* Many requests at once, more than the device's request pool holds. The
 * pool is offered as QueueNumMax, so only a ring set up behind the
 * transport's back (as here) can outgrow it: it must stall, not overrun. */
static void test_batch_and_stall(void)
{
	struct seg s[3];
	uint16_t heads[QNUM];
	unsigned n = QNUM / 3;
	struct virtio_blk_stats st;

	if (!setup(IMG_SIZE, false, NULL, 4))
		return;
	CHECK_EQ(virtio_blk_ops.queue_num_max(T.b), 4);
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned i = 0; i < n; i++) {
			uint64_t h = HDR_GPA + i * 256;

			put_hdr(h, VIRTIO_BLK_T_IN, i * 8);
			*host(h + 32) = 0xee;
			s[0] = (struct seg){h, 16, false};
			s[1] = (struct seg){DATA_GPA + i * 4096, 4096, true};
			s[2] = (struct seg){h + 32, 1, true};
			heads[i] = add_chain(s, 3);
		}
		kick_wait(n);
		for (unsigned i = 0; i < n; i++) {
			uint8_t f[4096];

			CHECK_EQ(*host(HDR_GPA + i * 256 + 32),
				 VIRTIO_BLK_S_OK);
			pread(T.fd, f, 4096, i * 8 * 512);
			CHECK(memcmp(host(DATA_GPA + i * 4096), f, 4096) == 0);
		}
		/* Every head comes back exactly once. */
		for (unsigned i = 0; i < n; i++) {
			unsigned hits = 0;

			for (unsigned j = 0; j < n; j++)
				hits +=
				    used_elem((uint16_t)(T.seen_used - n + j))
					.id == heads[i];
			CHECK_EQ(hits, 1);
		}
	}
	virtio_blk_get_stats(T.b, &st);
	CHECK_EQ(st.reqs[0], 3 * n);
	CHECK_EQ(st.in_flight, 0);
	teardown();

	/* EVENT_IDX: the interrupt still comes. */
	if (!setup(IMG_SIZE, false, NULL, 0))
		return;
	virtq_stop(&T.vq);
	start_queue(true);
	*(uint16_t *)&avail()->ring[QNUM] = htole16(0); /* used_event */
	CHECK_EQ(simple(VIRTIO_BLK_T_IN, 0, DATA_GPA, 512, true, NULL),
		 VIRTIO_BLK_S_OK);
	CHECK(T.irqs >= 1);
	teardown();
}

static uint16_t avail_event(void)
{
	return le16toh(*(volatile uint16_t *)&used()->ring[QNUM]);
}

/* EVENT_IDX notification policy: no notifications asked for while a read
 * or write is in flight (what the driver queues meanwhile is collected at
 * the next completion), one for the next request once idle. */
/* Queue read i (sector i * 8 into DATA_GPA + i * 4096, header and status
 * at HDR_GPA + i * 256) without notifying; returns its head. */
static uint16_t queue_read(unsigned i)
{
	uint64_t h = HDR_GPA + i * 256;
	struct seg s[3] = {{h, 16, false},
			   {DATA_GPA + i * 4096, 4096, true},
			   {h + 32, 1, true}};

	put_hdr(h, VIRTIO_BLK_T_IN, i * 8);
	*host(h + 32) = 0xee;
	return add_chain(s, 3);
}

static void test_notify_suppression(void)
{
	uint16_t first, second;

	if (!setup(IMG_SIZE, false, NULL, 0))
		return;
	virtq_stop(&T.vq);
	start_queue(true);
	first = queue_read(0);
	virtio_blk_ops.queue_notify(T.b, 0);
	/* One read in flight: the driver's next avail idx (2) must not pass
	 * avail_event (2.7.10: it notifies when new_idx - event - 1 <
	 * new_idx - old_idx), even with the whole ring queued behind it. */
	for (uint16_t next = 2; next <= QNUM; next++)
		CHECK((uint16_t)(next - avail_event() - 1) >=
		      (uint16_t)(next - 1));
	/* Queued without a notification, as the driver would. */
	second = queue_read(1);
	/* used_event (virtio 1.2 2.7.10): an interrupt per completion. */
	for (uint16_t seen = 0; used_idx() != 2 && !T.timed_out;
	     seen = used_idx()) {
		*(volatile uint16_t *)&avail()->ring[QNUM] = htole16(seen);
		run_loop();
	}
	CHECK_EQ(used_idx(), 2);
	CHECK_EQ(used_elem(0).id, first);
	CHECK_EQ(used_elem(1).id, second);
	CHECK_EQ(*host(HDR_GPA + 256 + 32), VIRTIO_BLK_S_OK);
	/* The second request was collected and submitted before the first's
	 * interrupt went out: the guest's acknowledgement then finds us idle
	 * (docs/performance.md, change 8). */
	CHECK_EQ(T.in_flight_at_first_irq, 1);
	/* Idle again: the next request (avail idx 3) notifies. */
	CHECK_EQ(avail_event(), 2);
	teardown();
}

static void stop_loop(void *opaque)
{
	(void)opaque;
	loop_stop(T.loop);
}

/* A device with --idle-grace-us `grace_us`, its queue with EVENT_IDX. */
static bool setup_event_idx_grace(unsigned grace_us)
{
	bool ok;

	setup_grace_us = grace_us;
	ok = setup(IMG_SIZE, false, NULL, 0);
	setup_grace_us = 0;
	if (!ok)
		return false;
	virtq_stop(&T.vq);
	start_queue(true);
	return true;
}

/* --idle-grace-us: once the queue drains the driver is still not asked to
 * notify; what it queues meanwhile is collected when the grace ends, with
 * no notification; after a grace with nothing queued it notifies again. */
static void test_idle_grace(void)
{
	const unsigned grace_us = 20000;
	struct virtio_blk_stats st;
	struct loop_timer *t;

	if (!setup_event_idx_grace(grace_us))
		return;
	queue_read(0);
	*(volatile uint16_t *)&avail()->ring[QNUM] = htole16(0);
	virtio_blk_ops.queue_notify(T.b, 0);
	run_loop();
	CHECK_EQ(used_idx(), 1);
	/* Nothing in flight, yet no index up to a whole ring more passes
	 * avail_event (2.7.10), as while requests were in flight. */
	for (uint16_t next = 2; next <= QNUM; next++)
		CHECK((uint16_t)(next - avail_event() - 1) >=
		      (uint16_t)(next - 1));
	queue_read(1);
	*(volatile uint16_t *)&avail()->ring[QNUM] = htole16(1);
	run_loop();
	CHECK(!T.timed_out);
	CHECK_EQ(used_idx(), 2);
	CHECK_EQ(*host(HDR_GPA + 256 + 32), VIRTIO_BLK_S_OK);
	virtio_blk_get_stats(T.b, &st);
	CHECK_EQ(st.notifies, 1);
	/* A grace with nothing queued: notifications are on again. */
	t = loop_timer_new(T.loop, stop_loop, NULL);
	loop_timer_arm(t, 3 * grace_us);
	run_loop();
	loop_timer_free(t);
	CHECK_EQ(avail_event(), 2);
	teardown();
}

/* True if the driver, having queued up to index `last`, is asked to
 * notify for none of the next whole ring of requests (2.7.10). */
static bool no_notify_asked(uint16_t last)
{
	for (uint16_t next = (uint16_t)(last + 1); next <= last + QNUM; next++)
		if ((uint16_t)(next - avail_event() - 1) <
		    (uint16_t)(next - last))
			return false;
	return true;
}

/* Run the loop until the used index reaches `target`, asking for an
 * interrupt at each entry (used_event, 2.7.10). */
static void wait_used(uint16_t target)
{
	while (used_idx() != target && !T.timed_out) {
		*(volatile uint16_t *)&avail()->ring[QNUM] =
		    htole16(used_idx());
		run_loop();
	}
	T.seen_used = used_idx();
}

/* Queue read i as queue_read() does, through an indirect table (at
 * HDR_GPA + i * 256 + 64): one ring descriptor each, so that a burst can
 * hold the whole ring. */
static void queue_read_indirect(unsigned i)
{
	uint64_t h = HDR_GPA + i * 256, table = h + 64;
	struct vring_desc *t = (struct vring_desc *)host(table);
	struct vring_desc *d = (struct vring_desc *)host(DESC_GPA);

	put_hdr(h, VIRTIO_BLK_T_IN, i * 8);
	*host(h + 32) = 0xee;
	t[0] = (struct vring_desc){htole64(h), htole32(16),
				   htole16(VRING_DESC_F_NEXT), htole16(1)};
	t[1] = (struct vring_desc){
	    htole64(DATA_GPA + i * 4096), htole32(4096),
	    htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT), htole16(2)};
	t[2] = (struct vring_desc){htole64(h + 32), htole32(1),
				   htole16(VRING_DESC_F_WRITE), 0};
	d[T.next_desc] = (struct vring_desc){htole64(table), htole32(3 * 16),
					     htole16(VRING_DESC_F_INDIRECT), 0};
	avail()->ring[T.avail_idx % QNUM] = htole16(T.next_desc);
	T.next_desc = (uint16_t)((T.next_desc + 1) % QNUM);
	T.avail_idx++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	avail()->idx = htole16(T.avail_idx);
}

/* Reads first..last, all in flight together once the device is kicked. */
static void burst(unsigned first, unsigned last)
{
	for (unsigned i = first; i <= last; i++)
		queue_read_indirect(i);
	virtio_blk_ops.queue_notify(T.b, 0);
	wait_used((uint16_t)(last + 1));
	for (unsigned i = first; i <= last; i++)
		CHECK_EQ(*host(HDR_GPA + i * 256 + 32), VIRTIO_BLK_S_OK);
}

/* --idle-grace-us=auto: a queue that drains after holding fewer than
 * eight requests at once takes no grace (the driver's next request
 * notifies at once); after more, a grace as long as the guest's measured
 * reaction, also at the next drain even if that held a lone request (the
 * depth seen fades by one per drain), and none while the reaction is not
 * known (0) or short (100 µs: traps cost the guest little). */
static void test_auto_grace(void)
{
	struct virtio_blk_stats st;

	reaction_us = 20000;
	reaction_asked = 0;
	if (!setup_event_idx_grace(VIRTIO_BLK_GRACE_AUTO))
		return;
	/* Depth 1, then 4: no grace, and the reaction is not even asked. */
	burst(0, 0);
	CHECK_EQ(avail_event(), 1);
	burst(1, 4);
	CHECK_EQ(avail_event(), 5);
	CHECK_EQ(reaction_asked, 0);
	/* Depth 9: a grace. */
	burst(5, 13);
	CHECK_EQ(reaction_asked, 1);
	CHECK(no_notify_asked(14));
	/* Queued in the grace without a notification: collected at its end.
	 * Alone in flight, yet depth 9 was seen one drain ago: a grace. */
	queue_read_indirect(14);
	wait_used(15);
	CHECK_EQ(*host(HDR_GPA + 14 * 256 + 32), VIRTIO_BLK_S_OK);
	CHECK_EQ(reaction_asked, 2);
	CHECK(no_notify_asked(15));
	/* Another lone one: the depth has faded to 7, no grace. */
	queue_read_indirect(15);
	wait_used(16);
	CHECK_EQ(*host(HDR_GPA + 15 * 256 + 32), VIRTIO_BLK_S_OK);
	CHECK_EQ(reaction_asked, 2);
	CHECK_EQ(avail_event(), 16);
	virtio_blk_get_stats(T.b, &st);
	CHECK_EQ(st.notifies, 3);
	/* Depth 9 while the reaction is not known: no grace either. */
	reaction_us = 0;
	burst(16, 24);
	CHECK_EQ(reaction_asked, 3);
	CHECK_EQ(avail_event(), 25);
	/* Nor where the guest answers within 100 µs (traps are cheap). */
	reaction_us = 100;
	burst(25, 33);
	CHECK_EQ(reaction_asked, 4);
	CHECK_EQ(avail_event(), 34);
	teardown();
}

/* Run the loop for `us` microseconds (or until an interrupt). */
static void run_for(unsigned us)
{
	struct loop_timer *t = loop_timer_new(T.loop, stop_loop, NULL);

	loop_timer_arm(t, us);
	run_loop();
	loop_timer_free(t);
}

/* The chain just added, its status byte at st (0xee), waits in the ring
 * while guest_mem refuses [from, ...) with `others` mappings held
 * elsewhere. */
static void check_waits_for_room(uint64_t st, uint64_t from, unsigned others)
{
	fake_guest_mem_full(T.gm, from, others);
	virtio_blk_ops.queue_notify(T.b, 0);
	run_for(20000);
	CHECK_EQ(used_idx(), T.seen_used);
	CHECK_EQ(*host(st), 0xee);
	CHECK_EQ(fake_guest_mem_pins(T.gm), 0);
}

/* With room again the retry timer serves the chain at head, without a new
 * notification. */
static void check_served_with_room(uint16_t head)
{
	fake_guest_mem_full(T.gm, UINT64_MAX, 0);
	run_loop();
	CHECK(!T.timed_out);
	CHECK_EQ(used_idx(), (uint16_t)(T.seen_used + 1));
	T.seen_used = used_idx();
	CHECK_EQ(used_elem((uint16_t)(T.seen_used - 1)).id, head);
}

/* guest_mem at its cap with every mapping held by other requests
 * (-ENOMEM): the chain stays in the ring, unconsumed, and is served once
 * room returns; a request that could never fit gets IOERR with its
 * status written. Never a used entry without a status: Linux would read
 * the stale byte of an earlier request as success. */
static void test_mapping_room(void)
{
	const uint64_t table = RAM_BASE + (40ULL << 20);
	struct virtio_blk_stats st;
	struct vring_desc *d, *t;
	uint8_t f[4096];
	uint32_t len;
	uint16_t head;

	if (!setup(IMG_SIZE, false, NULL, 0))
		return;
	/* The data buffer, then the status byte and header, then an
	 * indirect table cannot be mapped for now; last, the status byte
	 * with no mapping held elsewhere (dom0 itself short of memory for
	 * mappings: nothing in flight will make room, the retry timer
	 * must). */
	for (unsigned round = 0; round < 4; round++) {
		uint64_t from = round == 0   ? DATA_GPA
				: round == 2 ? table
					     : HDR_GPA;

		if (round != 2) {
			head = queue_read(0);
		} else {
			uint64_t h = HDR_GPA;

			put_hdr(h, VIRTIO_BLK_T_IN, 0);
			*host(h + 32) = 0xee;
			t = (struct vring_desc *)host(table);
			t[0] = (struct vring_desc){htole64(h), htole32(16),
						   htole16(VRING_DESC_F_NEXT),
						   htole16(1)};
			t[1] = (struct vring_desc){
			    htole64(DATA_GPA), htole32(4096),
			    htole16(VRING_DESC_F_WRITE | VRING_DESC_F_NEXT),
			    htole16(2)};
			t[2] =
			    (struct vring_desc){htole64(h + 32), htole32(1),
						htole16(VRING_DESC_F_WRITE), 0};
			d = (struct vring_desc *)host(DESC_GPA);
			head = T.next_desc;
			d[head] = (struct vring_desc){
			    htole64(table), htole32(3 * 16),
			    htole16(VRING_DESC_F_INDIRECT), 0};
			T.next_desc = (uint16_t)((T.next_desc + 1) % QNUM);
			avail()->ring[T.avail_idx % QNUM] = htole16(head);
			T.avail_idx++;
			avail()->idx = htole16(T.avail_idx);
		}
		memset(host(DATA_GPA), 0xaa, 4096);
		check_waits_for_room(HDR_GPA + 32, from, round == 3 ? 0 : 1);
		virtio_blk_get_stats(T.b, &st);
		CHECK_EQ(st.in_flight, 0);
		CHECK_EQ(st.reqs[0], round);
		check_served_with_room(head);
		CHECK_EQ(used_elem((uint16_t)(T.seen_used - 1)).len, 4097);
		CHECK_EQ(*host(HDR_GPA + 32), VIRTIO_BLK_S_OK);
		CHECK_EQ(pread(T.fd, f, 4096, 0), 4096);
		CHECK(memcmp(host(DATA_GPA), f, 4096) == 0);
	}
	virtio_blk_get_stats(T.b, &st);
	CHECK_EQ(st.reqs[0], 4);
	CHECK_EQ(st.errors, 0);

	/* Its data cannot be mapped and nobody else holds a mapping: waiting
	 * cannot help. */
	fake_guest_mem_full(T.gm, DATA_GPA, 0);
	CHECK_EQ(simple(VIRTIO_BLK_T_IN, 0, DATA_GPA, 4096, true, &len),
		 VIRTIO_BLK_S_IOERR);
	/* Nor can its buffer be zeroed: the used length counts none of it. */
	CHECK_EQ(len, 0);
	CHECK_EQ(fake_guest_mem_pins(T.gm), 0);

	/* Others held mappings when its data failed to map, and released
	 * them before the device looked (another queue's thread completing
	 * in between, with --io-threads): their room is free, so it waits
	 * for the retry timer, which serves it. */
	*host(HDR_GPA + 32) = 0xee;
	head = queue_read(0);
	fake_guest_mem_full(T.gm, DATA_GPA, 2);
	fake_guest_mem_others_leave(T.gm);
	virtio_blk_ops.queue_notify(T.b, 0);
	CHECK_EQ(used_idx(), T.seen_used);
	/* Until its completion's interrupt (a stop left pending by the
	 * synchronous completion above may end the first run at once). */
	for (int i = 0; i < 2 && used_idx() == T.seen_used; i++)
		run_loop();
	CHECK(!T.timed_out);
	CHECK_EQ(used_idx(), (uint16_t)(T.seen_used + 1));
	T.seen_used = used_idx();
	CHECK_EQ(used_elem((uint16_t)(T.seen_used - 1)).id, head);
	CHECK_EQ(*host(HDR_GPA + 32), VIRTIO_BLK_S_OK);
	virtio_blk_get_stats(T.b, &st);
	CHECK_EQ(st.errors, 1); /* the request above alone */
	teardown();
}

/* The I/O engine out of memory (a fresh engine allocates its bookkeeping
 * at the first request): each kind of request fails with IOERR, its status
 * written, its used length whole and the image untouched, and the device
 * serves the next one. The engine must not complete a request while the
 * device is still starting it. */
static void test_engine_out_of_memory(void)
{
	uint8_t f[4096], zero[4096] = {0};
	uint32_t len;

	if (!setup(IMG_SIZE, false, NULL, 0))
		return;
	calloc_fails = true;
	calloc_failed = 0;
	memset(host(DATA_GPA), 0xaa, 4096);
	CHECK_EQ(simple(VIRTIO_BLK_T_IN, 0, DATA_GPA, 4096, true, &len),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(len, 4097);
	CHECK(memcmp(host(DATA_GPA), zero, 4096) == 0);
	memset(host(DATA_GPA), 0xbb, 4096);
	CHECK_EQ(simple(VIRTIO_BLK_T_OUT, 0, DATA_GPA, 4096, false, &len),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(len, 1);
	CHECK_EQ(simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &len),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(len, 1);
	put_dwz(DATA_GPA, 0, 0, 8, 0);
	put_dwz(DATA_GPA, 1, 16, 8, 0);
	CHECK_EQ(simple(VIRTIO_BLK_T_DISCARD, 0, DATA_GPA, 32, false, &len),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(len, 1);
	calloc_fails = false;
	CHECK(calloc_failed >= 4);
	CHECK(!file_is_zero(0, 512));
	CHECK(!file_is_zero(16 * 512, 512));
	memset(f, 0xbb, sizeof(f));
	CHECK(!file_equals(0, f, 4096));
	CHECK_EQ(simple(VIRTIO_BLK_T_IN, 0, DATA_GPA, 4096, true, &len),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(pread(T.fd, f, 4096, 0), 4096);
	CHECK(memcmp(host(DATA_GPA), f, 4096) == 0);
	teardown();
}

/* As test_mapping_room, for each other part a request maps before it is
 * started: the header when the status byte could be mapped, GET_ID's
 * buffer and DISCARD's segments. Each waits in the ring until room
 * returns, then is served. */
static void test_mapping_room_parts(void)
{
	const uint64_t st = HDR_GPA + 32, hi = DATA_GPA;
	const struct {
		uint32_t type;
		uint64_t hdr, buf;
		uint32_t buf_len;
		bool buf_w;
	} part[] = {
	    {VIRTIO_BLK_T_FLUSH, hi, 0, 0, false},
	    {VIRTIO_BLK_T_GET_ID, HDR_GPA, hi, 20, true},
	    {VIRTIO_BLK_T_DISCARD, HDR_GPA, hi, 16, false},
	};

	if (!setup(IMG_SIZE, false, NULL, 0))
		return;
	for (unsigned i = 0; i < sizeof(part) / sizeof(part[0]); i++) {
		struct seg s[3];
		unsigned n = 0;
		uint16_t head;

		put_hdr(part[i].hdr, part[i].type, 0);
		s[n++] = (struct seg){part[i].hdr, 16, false};
		if (part[i].buf_len) {
			memset(host(part[i].buf), 0, part[i].buf_len);
			if (part[i].type == VIRTIO_BLK_T_DISCARD)
				put_dwz(part[i].buf, 0, 0, 8, 0);
			s[n++] = (struct seg){part[i].buf, part[i].buf_len,
					      part[i].buf_w};
		}
		s[n++] = (struct seg){st, 1, true};
		*host(st) = 0xee;
		head = add_chain(s, n);
		check_waits_for_room(st, hi, 1);
		check_served_with_room(head);
		CHECK_EQ(*host(st), VIRTIO_BLK_S_OK);
	}
	teardown();
}

static bool reset_done;

static void on_reset_done(void *opaque)
{
	(void)opaque;
	reset_done = true;
	loop_stop(T.loop);
}

static void test_reset_and_quiesce(void)
{
	struct seg s[3];
	unsigned n = 6;

	if (!setup(IMG_SIZE, false, NULL, 0))
		return;
	for (unsigned i = 0; i < n; i++) {
		uint64_t h = HDR_GPA + i * 256;

		put_hdr(h, i & 1 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, i * 64);
		*host(h + 32) = 0xee;
		s[0] = (struct seg){h, 16, false};
		s[1] = (struct seg){DATA_GPA + i * 32768, 32768, !(i & 1)};
		s[2] = (struct seg){h + 32, 1, true};
		add_chain(s, 3);
	}
	virtio_blk_ops.queue_notify(T.b, 0);
	/* All six are in the engine now; the loop has not run. */
	reset_done = false;
	virtio_blk_ops.reset(T.b, on_reset_done, NULL);
	CHECK(!reset_done);
	while (!reset_done && !T.timed_out)
		run_loop();
	CHECK(reset_done);
	CHECK_EQ(used_idx(), 0);
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(*host(HDR_GPA + i * 256 + 32), 0xee);
	CHECK_EQ(fake_guest_mem_pins(T.gm), 0);
	/* Nothing in flight: reset completes at once. */
	reset_done = false;
	virtio_blk_ops.reset(T.b, on_reset_done, NULL);
	CHECK(reset_done);

	/* The driver re-initialises: the device works again. */
	virtq_stop(&T.vq);
	CHECK(virtio_blk_ops.set_features(T.b, virtio_blk_ops.features(T.b)));
	start_queue(false);
	CHECK_EQ(simple(VIRTIO_BLK_T_IN, 0, DATA_GPA, 512, true, NULL),
		 VIRTIO_BLK_S_OK);

	/* Quiesce: in-flight requests complete and are published; new
	 * notifications are ignored. */
	for (unsigned i = 0; i < 3; i++) {
		uint64_t h = HDR_GPA + i * 256;

		put_hdr(h, VIRTIO_BLK_T_IN, i);
		*host(h + 32) = 0xee;
		s[0] = (struct seg){h, 16, false};
		s[1] = (struct seg){DATA_GPA + i * 4096, 512, true};
		s[2] = (struct seg){h + 32, 1, true};
		add_chain(s, 3);
	}
	virtio_blk_ops.queue_notify(T.b, 0);
	reset_done = false;
	virtio_blk_ops.quiesce(T.b, on_reset_done, NULL);
	while (!reset_done && !T.timed_out)
		run_loop();
	CHECK_EQ(used_idx(), (uint16_t)(T.seen_used + 3));
	for (unsigned i = 0; i < 3; i++)
		CHECK_EQ(*host(HDR_GPA + i * 256 + 32), VIRTIO_BLK_S_OK);
	T.seen_used = used_idx();
	put_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 0);
	s[0] = (struct seg){HDR_GPA, 16, false};
	s[1] = (struct seg){HDR_GPA + 32, 1, true};
	add_chain(s, 2);
	virtio_blk_ops.queue_notify(T.b, 0);
	CHECK_EQ(used_idx(), T.seen_used);
	teardown();
}

/* stop(): the driver took the queue away while running (virtio 1.2
 * 4.2.2.1). It is done only once the read in flight has finished, which
 * completes into nothing; a chain queued afterwards is never taken, and a
 * reset then finds the device idle. */
static void test_stop(void)
{
	if (!setup(IMG_SIZE, false, NULL, 0))
		return;
	queue_read(0);
	virtio_blk_ops.queue_notify(T.b, 0);
	reset_done = false;
	virtio_blk_ops.stop(T.b, on_reset_done, NULL);
	CHECK(!reset_done);
	queue_read(1);
	while (!reset_done && !T.timed_out)
		run_loop();
	CHECK(reset_done);
	run_for(20000);
	CHECK_EQ(used_idx(), 0);
	CHECK_EQ(T.irqs, 0);
	CHECK_EQ(*host(HDR_GPA + 32), 0xee);
	CHECK_EQ(*host(HDR_GPA + 256 + 32), 0xee);
	CHECK_EQ(fake_guest_mem_pins(T.gm), 0);
	reset_done = false;
	virtio_blk_ops.reset(T.b, on_reset_done, NULL);
	while (!reset_done && !T.timed_out)
		run_loop();
	CHECK(reset_done);
	CHECK_EQ(used_idx(), 0);
	teardown();
}

static void test_needs_reset(void)
{
	if (!setup(IMG_SIZE, false, NULL, 0))
		return;
	avail()->idx = htole16(QNUM + 5); /* more than the ring holds */
	virtio_blk_ops.queue_notify(T.b, 0);
	CHECK_EQ(T.resets_needed, 1);
	virtio_blk_ops.queue_notify(T.b, 0);
	CHECK_EQ(T.resets_needed, 1);
	teardown();
}

/* Rings of the two queues of the multiqueue tests. */
static const uint64_t mq_ring[2] = {DESC_GPA, RAM_BASE + 0x4000};

/* setup()'s single queue replaced by two fresh ones, started. */
static void mq_start(struct virtq vqs[2])
{
	virtq_stop(&T.vq);
	memset(host(DESC_GPA), 0, 0x8000);
	for (unsigned i = 0; i < 2; i++) {
		memset(&vqs[i], 0, sizeof(vqs[i]));
		vqs[i].num = QNUM;
		vqs[i].desc_gpa = mq_ring[i];
		vqs[i].avail_gpa = mq_ring[i] + 0x1000;
		vqs[i].used_gpa = mq_ring[i] + 0x2000;
		CHECK_EQ(virtq_start(&vqs[i], T.gm, false, true), 0);
	}
	virtio_blk_ops.start(T.b, vqs, 2, &T.notify);
}

/* A read of 512 bytes at sector into data, as the only chain of the ring
 * whose descriptor table is at ring (avail +0x1000). */
static void mq_read(uint64_t ring, uint64_t hdr, uint64_t sector, uint64_t data)
{
	struct vring_desc *d = (struct vring_desc *)host(ring);
	struct vring_avail *av = (struct vring_avail *)host(ring + 0x1000);
	const struct seg s[3] = {
	    {hdr, 16, false}, {data, 512, true}, {hdr + 32, 1, true}};

	put_hdr(hdr, VIRTIO_BLK_T_IN, sector);
	*host(hdr + 32) = 0xee;
	for (unsigned i = 0; i < 3; i++) {
		d[i].addr = htole64(s[i].gpa);
		d[i].len = htole32(s[i].len);
		d[i].flags = htole16((s[i].w ? VRING_DESC_F_WRITE : 0) |
				     (i < 2 ? VRING_DESC_F_NEXT : 0));
		d[i].next = htole16((uint16_t)(i + 1));
	}
	av->ring[0] = 0;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	av->idx = htole16(1);
}

/* Two request queues (VIRTIO_BLK_F_MQ): offered and counted in config
 * space, each served from its own ring, and completions on both in one
 * batch raise one interrupt (virtio-mmio has one for all queues, and the
 * driver's handler reads every used ring). Without MQ negotiated, queue 1
 * is not served (§5.2.2: one request queue). */
static void test_multiqueue(void)
{
	struct virtq vqs[2];
	struct virtio_blk_stats st;
	uint8_t *want = malloc(512);
	uint16_t nq = 0;
	bool failed;

	setup_queues = 2;
	failed = !setup(IMG_SIZE, false, NULL, 0);
	setup_queues = 0;
	if (failed)
		return;
	CHECK(virtio_blk_ops.features(T.b) & F(VIRTIO_BLK_F_MQ));
	CHECK_EQ(virtio_blk_ops.num_queues(T.b), 2);
	virtio_blk_ops.config_read(
	    T.b, offsetof(struct virtio_blk_config, num_queues), &nq, 2);
	CHECK_EQ(le16toh(nq), 2);

	mq_start(vqs);
	mq_read(mq_ring[0], HDR_GPA, 8, DATA_GPA);
	mq_read(mq_ring[1], HDR_GPA + 256, 16, DATA_GPA + 4096);
	virtio_blk_ops.queue_notify(T.b, 0);
	virtio_blk_ops.queue_notify(T.b, 1);
	/* Both reads complete before the loop reaps them: one batch. */
	usleep(100 * 1000);
	while (!T.timed_out &&
	       (((struct vring_used *)host(mq_ring[0] + 0x2000))->idx == 0 ||
		((struct vring_used *)host(mq_ring[1] + 0x2000))->idx == 0))
		run_loop();
	CHECK_EQ(T.irqs, 1);
	for (unsigned i = 0; i < 2; i++) {
		struct vring_used *u =
		    (struct vring_used *)host(mq_ring[i] + 0x2000);

		CHECK_EQ(le16toh(u->idx), 1);
		CHECK_EQ(le32toh(u->ring[0].len), 513);
		CHECK_EQ(*host(HDR_GPA + i * 256 + 32), VIRTIO_BLK_S_OK);
		CHECK_EQ(pread(T.fd, want, 512, (off_t)(8 + i * 8) * 512), 512);
		CHECK(memcmp(host(DATA_GPA + i * 4096), want, 512) == 0);
	}

	/* A driver without MQ: queue 1 is left alone, queue 0 served. */
	virtio_blk_ops.reset(T.b, on_reset_done, NULL);
	for (unsigned i = 0; i < 2; i++)
		virtq_stop(&vqs[i]);
	memset(host(DESC_GPA), 0, 0x8000);
	CHECK(virtio_blk_ops.set_features(T.b, virtio_blk_ops.features(T.b) &
						   ~F(VIRTIO_BLK_F_MQ)));
	for (unsigned i = 0; i < 2; i++)
		CHECK_EQ(virtq_start(&vqs[i], T.gm, false, true), 0);
	virtio_blk_ops.start(T.b, vqs, 2, &T.notify);
	mq_read(mq_ring[1], HDR_GPA + 256, 16, DATA_GPA + 4096);
	virtio_blk_ops.queue_notify(T.b, 1);
	virtio_blk_get_stats(T.b, &st);
	CHECK_EQ(st.in_flight, 0);
	CHECK_EQ(vqs[1].last_avail, 0);
	CHECK_EQ(*host(HDR_GPA + 256 + 32), 0xee);
	mq_read(mq_ring[0], HDR_GPA, 24, DATA_GPA);
	T.irqs = 0;
	virtio_blk_ops.queue_notify(T.b, 0);
	while (!T.timed_out &&
	       ((struct vring_used *)host(mq_ring[0] + 0x2000))->idx == 0)
		run_loop();
	CHECK_EQ(*host(HDR_GPA + 32), VIRTIO_BLK_S_OK);
	CHECK_EQ(vqs[1].last_avail, 0);
	for (unsigned i = 0; i < 2; i++)
		virtq_stop(&vqs[i]);
	free(want);
	teardown();
}

/* --idle-grace-us with two queues: a grace starts on the queue that
 * drained, not on an idle queue whenever the other completes a batch (one
 * timer per drain; docs/security.md). Seen in the idle queue's used
 * flags: NO_NOTIFY while its grace runs. */
static void test_multiqueue_grace(void)
{
	struct virtq vqs[2];
	struct vring_used *used1;
	struct loop_timer *t;
	bool failed;

	setup_queues = 2;
	setup_grace_us = 50 * 1000;
	failed = !setup(IMG_SIZE, false, NULL, 0);
	setup_queues = setup_grace_us = 0;
	if (failed)
		return;
	used1 = (struct vring_used *)host(mq_ring[1] + 0x2000);
	t = loop_timer_new(T.loop, stop_loop, NULL);
	mq_start(vqs);

	/* Queue 1 drains: its grace keeps the driver from notifying. */
	mq_read(mq_ring[1], HDR_GPA + 256, 16, DATA_GPA + 4096);
	virtio_blk_ops.queue_notify(T.b, 1);
	while (!T.timed_out && used1->idx == 0)
		run_loop();
	CHECK_EQ(le16toh(used1->flags), VRING_USED_F_NO_NOTIFY);
	/* The grace ends. */
	loop_timer_arm(t, 150 * 1000);
	run_loop();
	CHECK_EQ(le16toh(used1->flags), 0);
	/* Queue 0 completes a batch: queue 1, idle, gets no new grace. */
	mq_read(mq_ring[0], HDR_GPA, 8, DATA_GPA);
	virtio_blk_ops.queue_notify(T.b, 0);
	while (!T.timed_out &&
	       ((struct vring_used *)host(mq_ring[0] + 0x2000))->idx == 0)
		run_loop();
	CHECK_EQ(le16toh(used1->flags), 0);
	loop_timer_free(t);
	for (unsigned i = 0; i < 2; i++)
		virtq_stop(&vqs[i]);
	teardown();
}

static void test_open_errors(void)
{
	struct image img;
	char err[256];
	char path[] = "/tmp/test_blk_img.XXXXXX";
	int fd;

	CHECK_EQ(
	    image_open(&img, "/nonexistent/x.img", false, err, sizeof(err)),
	    -ENOENT);
	CHECK(strcmp(err, "cannot open /nonexistent/x.img: No such file or "
			  "directory") == 0);
	CHECK(image_open(&img, "/tmp", true, err, sizeof(err)) < 0);
	CHECK(strstr(err, "not a regular file or block device") != NULL);
	CHECK(image_open(&img, "/dev/null", true, err, sizeof(err)) < 0);
	CHECK(strstr(err, "not a regular file or block device") != NULL);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(image_open(&img, path, false, err, sizeof(err)) < 0);
	CHECK(strstr(err, "image is smaller than one sector") != NULL);
	CHECK_EQ(ftruncate(fd, 1 << 20), 0);
	CHECK_EQ(image_open(&img, path, false, err, sizeof(err)), 0);
	CHECK_EQ(img.size, 1 << 20);
	CHECK(img.logical_block >= 512);
	CHECK(img.mem_align >= 1);
	CHECK(!img.read_only && !img.is_blkdev);
	CHECK(img.can_write_zeroes);
	/* Data syncs get an open file of their own, of the same file. */
	{
		struct stat a, b;

		CHECK(img.sync_fd >= 0 && img.sync_fd != img.fd);
		CHECK_EQ(fcntl(img.sync_fd, F_GETFL) & O_ACCMODE, O_RDONLY);
		CHECK(fstat(img.fd, &a) == 0 && fstat(img.sync_fd, &b) == 0);
		CHECK(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	}
	image_close(&img);
	CHECK_EQ(img.fd, -1);
	CHECK_EQ(img.sync_fd, -1);
	CHECK_EQ(image_open(&img, path, true, err, sizeof(err)), 0);
	CHECK(img.read_only && !img.can_discard && !img.can_write_zeroes);
	CHECK_EQ(fcntl(img.fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	CHECK_EQ(img.sync_fd, -1);
	image_close(&img);
	/* A bad path gives a clear error from virtio_blk_new too. */
	{
		struct virtio_blk_params p = {.path = "/nonexistent/y.img"};
		struct loop *l = loop_new();

		CHECK(virtio_blk_new(l, NULL, &p, err, sizeof(err)) == NULL);
		CHECK(strstr(err, "No such file") != NULL);
		p.path = path;
		p.queue_size = 100;
		CHECK(virtio_blk_new(l, NULL, &p, err, sizeof(err)) == NULL);
		loop_free(l);
	}
	close(fd);
	unlink(path);
}

/* ------------------------------------------------ engine-level tests */

struct ereq {
	struct aio_req r;
	int res;
	bool done;
	unsigned order;
};

static unsigned done_order, batches;

static void e_done(struct aio_req *r, int res)
{
	struct ereq *x = (struct ereq *)r;

	x->res = res;
	x->done = true;
	x->order = ++done_order;
}

static void e_batch(void *opaque)
{
	(void)opaque;
	batches++;
}

static void e_idle(void *opaque)
{
	*(bool *)opaque = true;
	loop_stop(T.loop);
}

static void e_run(struct aio_engine *e)
{
	bool idle = false;

	aio_engine_submit(e);
	aio_engine_when_idle(e, e_idle, &idle);
	while (!idle && !T.timed_out)
		run_loop();
}

static void e_setup(struct image *img, bool direct, uint32_t lbs)
{
	static uint8_t buf[1 << 20];

	memset(&T, 0, sizeof(T));
	T.loop = loop_new();
	T.wd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	loop_add(T.loop, T.wd, EPOLLIN, on_watchdog, NULL);
	make_image(1 << 20);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 5 + 1);
	pwrite(T.fd, buf, sizeof(buf), 0);
	memset(img, 0, sizeof(*img));
	pthread_mutex_init(&img->sync_lock, NULL);
	strcpy(img->path, T.path);
	img->fd = open(T.path, O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
	img->sync_fd = img->fd;
	CHECK(img->fd >= 0);
	img->direct = direct;
	img->size = 1 << 20;
	img->logical_block = lbs;
	img->mem_align = 512;
	img->can_discard = img->can_write_zeroes = true;
	done_order = batches = 0;
}

static void e_teardown(struct image *img)
{
	close(img->fd);
	CHECK(!T.timed_out);
	loop_del(T.loop, T.wd);
	close(T.wd);
	loop_free(T.loop);
	close(T.fd);
	unlink(T.path);
}

static void prep(struct ereq *x, enum aio_op op, uint64_t off, uint64_t len,
		 struct iovec *iov, unsigned iovcnt)
{
	memset(x, 0, sizeof(*x));
	x->r.op = op;
	x->r.offset = off;
	x->r.len = len;
	x->r.iov = iov;
	x->r.iovcnt = iovcnt;
	x->r.done = e_done;
}

static void test_engine_paths(void)
{
	struct image img;
	struct aio_engine *e;
	struct aio_engine_stats st;
	struct ereq x[4];
	uint8_t *buf, expect[8192];
	struct iovec iov[2];

	/* Buffered image: reads and writes run on the workers. */
	e_setup(&img, false, 512);
	e = aio_engine_new(T.loop, &img, 8, e_batch, NULL);
	CHECK(e != NULL);
	buf = aligned_alloc(4096, 65536);
	memset(buf, 0x11, 8192);
	iov[0] = (struct iovec){buf, 1000};
	iov[1] = (struct iovec){buf + 1000, 7192};
	prep(&x[0], AIO_WRITE, 4096, 8192, iov, 2);
	aio_engine_queue(e, &x[0].r);
	CHECK_EQ(aio_engine_pending(e), 1);
	e_run(e);
	CHECK(x[0].done);
	CHECK_EQ(x[0].res, 8192);
	memset(expect, 0x11, 8192);
	CHECK(file_equals(4096, expect, 8192));
	/* A read past the end of the file is short: -EIO. */
	iov[0] = (struct iovec){buf, 4096};
	prep(&x[1], AIO_READ, (1 << 20) - 512, 4096, iov, 1);
	aio_engine_queue(e, &x[1].r);
	/* iovecs that do not add up to len: -EINVAL. */
	prep(&x[2], AIO_READ, 0, 8192, iov, 1);
	aio_engine_queue(e, &x[2].r);
	e_run(e);
	CHECK_EQ(x[1].res, -EIO);
	CHECK_EQ(x[2].res, -EINVAL);
	CHECK(batches >= 2);
	aio_engine_get_stats(e, &st);
	CHECK_EQ(st.bounce_requests, 0);
	aio_engine_free(e);
	e_teardown(&img);

	/* O_DIRECT: aligned zero copy, unaligned through a bounce buffer. */
	e_setup(&img, true, 512);
	e = aio_engine_new(T.loop, &img, 2, e_batch, NULL);
	memset(buf, 0x22, 4096);
	iov[0] = (struct iovec){buf, 4096};
	prep(&x[0], AIO_WRITE, 0, 4096, iov, 1);
	aio_engine_queue(e, &x[0].r);
	memset(buf + 8193, 0x33, 4096);
	iov[1] = (struct iovec){buf + 8193, 4096};
	prep(&x[1], AIO_WRITE, 8192, 4096, &iov[1], 1);
	aio_engine_queue(e, &x[1].r);
	e_run(e);
	CHECK_EQ(x[0].res, 4096);
	CHECK_EQ(x[1].res, 4096);
	memset(expect, 0x22, 4096);
	CHECK(file_equals(0, expect, 4096));
	memset(expect, 0x33, 4096);
	CHECK(file_equals(8192, expect, 4096));
	aio_engine_get_stats(e, &st);
	CHECK_EQ(st.bounce_requests, 1);
	CHECK(!st.bounce_mode);
	/* Bounce read, copied back out. */
	memset(buf + 20001, 0, 4096);
	iov[0] = (struct iovec){buf + 20001, 4096};
	prep(&x[2], AIO_READ, 8192, 4096, iov, 1);
	aio_engine_queue(e, &x[2].r);
	e_run(e);
	CHECK_EQ(x[2].res, 4096);
	CHECK(memcmp(buf + 20001, expect, 4096) == 0);
	aio_engine_free(e);
	e_teardown(&img);
	free(buf);
}

/* --submit-batch: at most n requests per io_submit, all of them served. */
static void test_engine_submit_batch(void)
{
	struct image img;
	struct aio_engine *e;
	struct ereq w[7];
	struct aio_engine_stats st;
	uint8_t *buf = aligned_alloc(4096, 7 * 4096);
	struct iovec iov[7];

	e_setup(&img, true, 512);
	e = aio_engine_new(T.loop, &img, 16, e_batch, NULL);
	aio_engine_set_submit_batch(e, 3);
	for (unsigned i = 0; i < 7; i++) {
		memset(buf + i * 4096, 0x30 + i, 4096);
		iov[i] = (struct iovec){buf + i * 4096, 4096};
		prep(&w[i], AIO_WRITE, i * 4096, 4096, &iov[i], 1);
		aio_engine_queue(e, &w[i].r);
	}
	aio_engine_submit(e);
	aio_engine_get_stats(e, &st);
	CHECK_EQ(st.submits, 7);
	CHECK_EQ(st.submit_calls, 3); /* 3 + 3 + 1 */
	e_run(e);
	for (unsigned i = 0; i < 7; i++) {
		CHECK_EQ(w[i].res, 4096);
		CHECK(file_equals(i * 4096, buf + i * 4096, 4096));
	}
	aio_engine_free(e);
	e_teardown(&img);
	free(buf);
}

/* FLUSH completes only after every write queued before it. */
static void test_engine_flush_order(void)
{
	struct image img;
	struct aio_engine *e;
	struct ereq w[8], f, d;
	struct aio_engine_stats st;
	uint8_t *buf = aligned_alloc(4096, 8 * 65536);
	struct iovec iov[8];

	e_setup(&img, true, 512);
	e = aio_engine_new(T.loop, &img, 16, e_batch, NULL);
	for (unsigned i = 0; i < 8; i++) {
		iov[i] = (struct iovec){buf + i * 65536, 65536};
		prep(&w[i], AIO_WRITE, i * 65536, 65536, &iov[i], 1);
		aio_engine_queue(e, &w[i].r);
	}
	prep(&f, AIO_FLUSH, 0, 0, NULL, 0);
	aio_engine_queue(e, &f.r);
	prep(&d, AIO_DISCARD, 8 * 65536, 4096, NULL, 0);
	aio_engine_queue(e, &d.r);
	/* One io_submit for the writes; the flush is held back, the discard
	 * behind it is not. */
	aio_engine_submit(e);
	aio_engine_get_stats(e, &st);
	CHECK_EQ(st.submits, 9);
	CHECK_EQ(st.submit_calls, 1);
	CHECK_EQ(aio_engine_pending(e), 10);
	e_run(e);
	CHECK(f.done);
	CHECK_EQ(f.res, 0);
	for (unsigned i = 0; i < 8; i++) {
		CHECK_EQ(w[i].res, 65536);
		CHECK(w[i].order < f.order);
	}
	CHECK_EQ(d.res, 0);
	CHECK(file_is_zero(8 * 65536, 4096));
	CHECK(!file_is_zero(8 * 65536 + 4096, 512));
	aio_engine_free(e);
	e_teardown(&img);

	/* Flush with nothing before it, and write-zeroes, on a 4 KiB
	 * "logical block" image: sector-granular requests still work. */
	e_setup(&img, true, 4096);
	e = aio_engine_new(T.loop, &img, 4, e_batch, NULL);
	prep(&f, AIO_FLUSH, 0, 0, NULL, 0);
	aio_engine_queue(e, &f.r);
	memset(buf, 0x44, 512);
	iov[0] = (struct iovec){buf, 512};
	prep(&w[0], AIO_WRITE, 512, 512, iov, 1);
	aio_engine_queue(e, &w[0].r);
	prep(&d, AIO_WRITE_ZEROES, 1536, 1024, NULL, 0);
	aio_engine_queue(e, &d.r);
	e_run(e);
	CHECK_EQ(f.res, 0);
	CHECK_EQ(w[0].res, 512);
	CHECK_EQ(d.res, 0);
	CHECK(file_equals(512, buf, 512));
	CHECK(file_is_zero(1536, 1024));
	CHECK(!file_is_zero(1024, 512));
	aio_engine_free(e);
	e_teardown(&img);
	free(buf);
}

/* O_DIRECT from a VM_IO|VM_PFNMAP mapping fails with EFAULT, as from Xen
 * foreign mappings; the vDSO data page is such a mapping. */
static void *find_pfnmap(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	void *p = NULL;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long a, b;

		if (strstr(line, "[vvar]") &&
		    sscanf(line, "%lx-%lx", &a, &b) == 2) {
			p = (void *)a;
			break;
		}
	}
	if (f)
		fclose(f);
	return p;
}

static void test_engine_efault(void)
{
	struct image img;
	struct aio_engine *e;
	struct aio_engine_stats st;
	struct ereq x, y;
	struct iovec iov, iov2;
	void *vvar = find_pfnmap();
	uint8_t *buf = aligned_alloc(4096, 4096);

	if (!vvar) {
		printf("NOTE test_engine_efault: no [vvar] mapping, "
		       "skipped\n");
		free(buf);
		return;
	}
	e_setup(&img, true, 512);
	e = aio_engine_new(T.loop, &img, 4, e_batch, NULL);
	iov = (struct iovec){vvar, 4096};
	prep(&x, AIO_WRITE, 0, 4096, &iov, 1);
	aio_engine_queue(e, &x.r);
	e_run(e);
	CHECK_EQ(x.res, 4096);
	aio_engine_get_stats(e, &st);
	CHECK(st.bounce_mode);
	CHECK_EQ(st.bounce_requests, 1);
	/* From now on even aligned requests use bounce buffers. */
	iov2 = (struct iovec){buf, 4096};
	prep(&y, AIO_READ, 0, 4096, &iov2, 1);
	aio_engine_queue(e, &y.r);
	e_run(e);
	CHECK_EQ(y.res, 4096);
	CHECK(file_equals(0, buf, 4096));
	aio_engine_get_stats(e, &st);
	CHECK_EQ(st.bounce_requests, 2);
	aio_engine_free(e);
	e_teardown(&img);
	free(buf);
}

static void on_drain_alarm(int sig)
{
	static const char m[] = "FAIL test_engine_eagain_drain: "
				"aio_engine_drain still waits after 10 s\n";

	(void)sig;
	if (write(STDERR_FILENO, m, sizeof(m) - 1) < 0)
		_exit(1);
	_exit(1);
}

/* Teardown while io_submit refuses with EAGAIN and nothing is in flight:
 * the loop that would fire the engine's retry timer no longer runs, and
 * the drain must still end: the write is served once the kernel accepts
 * it, and fails with the EAGAIN when it never does (after the engine's
 * one-second bound) rather than wait for ever. */
static void test_engine_eagain_drain(void)
{
	struct image img;
	struct aio_engine *e;
	struct ereq x;
	struct iovec iov;
	uint8_t *buf = aligned_alloc(4096, 4096);

	signal(SIGALRM, on_drain_alarm);
	for (int never = 0; never < 2; never++) {
		e_setup(&img, true, 512);
		e = aio_engine_new(T.loop, &img, 4, e_batch, NULL);
		memset(buf, 0x5a + never, 4096);
		iov = (struct iovec){buf, 4096};
		prep(&x, AIO_WRITE, 8192, 4096, &iov, 1);
		io_submit_eagain = never ? UINT_MAX : 3;
		io_submit_refused = 0;
		aio_engine_queue(e, &x.r);
		aio_engine_submit(e);
		CHECK(!x.done);
		CHECK_EQ(io_submit_refused, 1);
		alarm(10);
		aio_engine_drain(e);
		alarm(0);
		io_submit_eagain = 0;
		CHECK(x.done);
		if (never) {
			CHECK_EQ(x.res, -EAGAIN);
			CHECK(!file_equals(8192, buf, 4096));
		} else {
			CHECK_EQ(x.res, 4096);
			CHECK_EQ(io_submit_refused, 3);
			CHECK(file_equals(8192, buf, 4096));
		}
		aio_engine_free(e);
		e_teardown(&img);
	}
	signal(SIGALRM, SIG_DFL);
	free(buf);
}

int main(void)
{
	log_init("test_blk", false, LOG_LVL_ERROR);
	UNIT_RUN(test_open_errors);
	UNIT_RUN(test_features);
	UNIT_RUN(test_config);
	UNIT_RUN(test_read_write);
	UNIT_RUN(test_any_layout);
	UNIT_RUN(test_bounds);
	UNIT_RUN(test_bad_addresses);
	UNIT_RUN(test_read_only);
	UNIT_RUN(test_flush_get_id_unknown);
	UNIT_RUN(test_discard_write_zeroes);
	UNIT_RUN(test_batch_and_stall);
	UNIT_RUN(test_notify_suppression);
	UNIT_RUN(test_idle_grace);
	UNIT_RUN(test_auto_grace);
	UNIT_RUN(test_mapping_room);
	UNIT_RUN(test_engine_out_of_memory);
	UNIT_RUN(test_mapping_room_parts);
	UNIT_RUN(test_reset_and_quiesce);
	UNIT_RUN(test_stop);
	UNIT_RUN(test_needs_reset);
	UNIT_RUN(test_multiqueue);
	UNIT_RUN(test_multiqueue_grace);
	UNIT_RUN(test_engine_paths);
	UNIT_RUN(test_engine_submit_batch);
	UNIT_RUN(test_engine_flush_order);
	UNIT_RUN(test_engine_efault);
	UNIT_RUN(test_engine_eagain_drain);
	return UNIT_DONE();
}
