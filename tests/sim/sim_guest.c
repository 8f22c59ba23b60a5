/* SPDX-License-Identifier: GPL-2.0-only */
/* sim-guest: start the simulated hypervisor, start the daemon on it, and run
 * a guest session of commands against the daemon's virtio-blk devices. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "guest.h"
#include "sim_guest.h"
#include "sim_hv.h"

void fail_msg(struct result *res, int rc, const char *fmt, ...)
{
	va_list ap;

	res->rc = rc;
	if (res->msg[0])
		return;
	va_start(ap, fmt);
	vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- helpers */

const char *status_name(int st)
{
	switch (st) {
	case VIRTIO_BLK_S_OK:
		return "OK";
	case VIRTIO_BLK_S_IOERR:
		return "IOERR";
	case VIRTIO_BLK_S_UNSUPP:
		return "UNSUPP";
	case GREQ_ABORTED:
		return "ABORTED";
	case STATUS_UNWRITTEN:
		return "NOSTATUS";
	case STATUS_NONE:
		return "none";
	default:
		return "UNKNOWN";
	}
}

/* Decimal or 0x-hex, nothing else; no sign, no overflow. */
bool parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	unsigned base = 10;

	if (!s || !*s)
		return false;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!*s)
			return false;
	}
	for (; *s; s++) {
		unsigned dgt;

		if (isdigit((unsigned char)*s))
			dgt = (unsigned)(*s - '0');
		else if (base == 16 && isxdigit((unsigned char)*s))
			dgt = (unsigned)(tolower((unsigned char)*s) - 'a' + 10);
		else
			return false;
		if (x > (UINT64_MAX - dgt) / base)
			return false;
		x = x * base + dgt;
	}
	*v = x;
	return true;
}

bool parse_uint(const char *s, unsigned max, unsigned *v)
{
	uint64_t x;

	if (!parse_u64(s, &x) || x > max)
		return false;
	*v = (unsigned)x;
	return true;
}

int read_file(const char *path, uint8_t **buf, size_t *len, struct result *res)
{
	FILE *f = fopen(path, "rb");
	struct stat st;

	if (!f) {
		fail_msg(res, CMD_USAGE, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > MAX_IO_BYTES) {
		fail_msg(res, CMD_USAGE, "%s: not a regular file up to 1 GiB",
			 path);
		fclose(f);
		return -1;
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len ? *len : 1);
	if (!*buf || fread(*buf, 1, *len, f) != *len) {
		fail_msg(res, CMD_USAGE, "%s: read failed", path);
		free(*buf);
		*buf = NULL;
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

int write_file(const char *path, const uint8_t *buf, size_t len,
	       struct result *res)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fail_msg(res, CMD_USAGE, "%s: cannot write", path);
		return -1;
	}
	return 0;
}

/* Read the image from the host side, the ground truth for comparisons. */
int host_pread(const char *path, uint64_t off, uint8_t *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	size_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n =
		    pread(fd, buf + done, len - done, (off_t)(off + done));

		if (n <= 0) {
			int e = n < 0 ? -errno : -EIO;

			close(fd);
			return e;
		}
		done += (size_t)n;
	}
	close(fd);
	return 0;
}

/* xorshift64*: reproducible from the seed. */
uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

uint64_t rnd_range(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return lo + rnd(s) % (hi - lo + 1);
}

void rnd_fill(uint64_t *s, uint8_t *buf, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t x = rnd(s);

		memcpy(buf + i, &x, 8);
	}
	for (; i < len; i++)
		buf[i] = (uint8_t)rnd(s);
}

uint64_t seed_of(uint64_t seed)
{
	return seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
}

/* ---------------------------------------------------------------- devices */

struct disk *cur_disk(struct session *s)
{
	return &s->disks[s->cur];
}

const char *rc_name(int rc)
{
	switch (rc) {
	case 0:
		return "OK";
	case -ENODEV:
		return "ENODEV";
	case -ETIMEDOUT:
		return "ETIMEDOUT";
	case -EPIPE:
		return "EPIPE";
	case -EPROTO:
		return "EPROTO";
	case -ENOSPC:
		return "ENOSPC";
	case -ENOMEM:
		return "ENOMEM";
	case -EINVAL:
		return "EINVAL";
	case -EIO:
		return "EIO";
	case -ESRCH:
		return "ESRCH";
	case -EBUSY:
		return "EBUSY";
	case -EPERM:
		return "EPERM";
	case -EOPNOTSUPP:
		return "EOPNOTSUPP";
	default:
		return "ERROR";
	}
}

/* A high-level command needs a working device: initialise it the first time,
 * after raw accesses, and after the device broke or asked for a reset. */
int ensure_ready(struct session *s, struct disk *dk, struct result *res)
{
	char err[256];
	int rc;

	if (gdev_ready(dk->dev) && !dk->dirty && !gdev_error(dk->dev))
		return 0;
	rc = gdev_init(dk->dev, 0, dk->feature_mask, err, sizeof(err));
	if (rc) {
		fail_msg(res, rc, "device initialisation failed: %s", err);
		return rc;
	}
	dk->dirty = false;
	if (s->verbose)
		fprintf(stderr, "sim-guest: device %u initialised\n",
			(unsigned)(dk - s->disks));
	return 0;
}

void req_defaults(struct session *s, struct greq *r)
{
	memset(r, 0, sizeof(*r));
	r->layout = s->layout;
	r->no_indirect = s->no_indirect;
	r->nseg = s->nseg;
}

/* Run one request synchronously; a non-OK status fails with -EIO. */
int run_req(struct session *s, struct disk *dk, struct greq *r,
	    struct result *res)
{
	int rc = gdev_run(dk->dev, 0, r, s->timeout_ms);

	if (rc && r->priv && !r->done) {
		/* r lives on the caller's stack: take it off the ring. The
		 * device is re-initialised before its next use. */
		gdev_abort(dk->dev);
		dk->dirty = true;
	}
	if (rc == -EIO && gdev_error(dk->dev)) {
		fail_msg(res, rc, "%s", gdev_error(dk->dev));
		return rc;
	}
	if (rc) {
		fail_msg(res, rc, "request type %u sector %" PRIu64 ": %s",
			 r->type, r->sector, rc_name(rc));
		return rc;
	}
	s->last_status = r->status;
	if (r->status != VIRTIO_BLK_S_OK) {
		res->status = r->status;
		fail_msg(res, -EIO,
			 "request type %u sector %" PRIu64 " len %u: status %s",
			 r->type, r->sector, r->len, status_name(r->status));
		return -EIO;
	}
	return 0;
}

int check_block_args(const char *off_s, const char *len_s, uint64_t *off,
		     uint64_t *len, struct result *res)
{
	if (!parse_u64(off_s, off)) {
		fail_msg(res, CMD_USAGE, "bad offset '%s'", off_s);
		return -1;
	}
	if (*off % 512) {
		fail_msg(res, CMD_USAGE,
			 "offset %" PRIu64 " is not a multiple of 512", *off);
		return -1;
	}
	if (len_s) {
		if (!parse_u64(len_s, len) || *len == 0 ||
		    *len > MAX_IO_BYTES) {
			fail_msg(res, CMD_USAGE, "bad length '%s'", len_s);
			return -1;
		}
		if (*len % 512) {
			fail_msg(res, CMD_USAGE,
				 "length %" PRIu64 " is not a multiple of 512",
				 *len);
			return -1;
		}
		if (*off + *len < *off) {
			fail_msg(res, CMD_USAGE, "offset + length overflows");
			return -1;
		}
	}
	return 0;
}

/* Linux marks a disk offering VIRTIO_BLK_F_RO read-only and its block
 * layer refuses writes and zeroouts with EPERM before any request is made
 * (docs/xen-notes.md 2): the Linux-like commands do the same. A hostile
 * guest still sends them with `request` or the raw ring. */
static int refuse_on_ro(struct disk *dk, const char *what, struct result *res)
{
	if (!gdev_has(dk->dev, VIRTIO_BLK_F_RO))
		return 0;
	fail_msg(res, -EPERM, "%s: read-only disk (the guest refuses it)",
		 what);
	return -1;
}

/* Read or write [off, off+len) in requests the driver can express. */
int do_rw(struct session *s, struct disk *dk, bool write, uint64_t off,
	  uint8_t *buf, uint64_t len, struct result *res)
{
	uint32_t max = gdev_max_request_bytes(dk->dev, s->layout);

	if (write && refuse_on_ro(dk, "write", res))
		return -1;
	if (max < 512)
		max = 512;
	for (uint64_t done = 0; done < len;) {
		struct greq r;
		uint64_t n = len - done > max ? max : len - done;

		req_defaults(s, &r);
		r.type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
		r.sector = (off + done) / 512;
		r.buf = buf + done;
		r.len = (uint32_t)n;
		if (run_req(s, dk, &r, res))
			return -1;
		done += n;
	}
	return 0;
}

/* ---------------------------------------------------------------- commands */

static void print_features(const char *label, uint64_t f)
{
	printf("%s: 0x%016" PRIx64, label, f);
	for (unsigned b = 0; b < 64; b++) {
		if (!((f >> b) & 1))
			continue;
		const char *n = gdev_feature_name(b);

		if (n)
			printf(" %s", n);
		else
			printf(" bit%u", b);
	}
	printf("\n");
}

static void cmd_info(struct session *s, int argc, char **argv,
		     struct result *res)
{
	struct disk *dk = cur_disk(s);
	const struct gdev_info *in = gdev_info(dk->dev);
	struct gdev *d = dk->dev;

	(void)argc;
	(void)argv;
	(void)res;
	printf("device: %u\n", s->cur);
	printf("base: 0x%" PRIx64 "\n", in->base);
	printf("irq: %u\n", in->irq);
	printf("magic: 0x%08x\n", in->magic);
	printf("version: %u\n", in->version);
	printf("device-id: %u\n", in->device_id);
	printf("vendor-id: 0x%08x\n", in->vendor_id);
	print_features("device-features", in->device_features);
	print_features("driver-features", in->driver_features);
	printf("queues: %u\n", in->nqueues);
	printf("queue-size: %u\n", in->queue_num);
	printf("capacity: %" PRIu64 " sectors (%" PRIu64 " bytes)\n",
	       in->capacity, in->capacity * 512);
	printf("read-only: %s\n", gdev_has(d, VIRTIO_BLK_F_RO) ? "yes" : "no");
	if (gdev_has(d, VIRTIO_BLK_F_SIZE_MAX))
		printf("size-max: %u\n", in->size_max);
	if (gdev_has(d, VIRTIO_BLK_F_SEG_MAX))
		printf("seg-max: %u\n", in->seg_max);
	if (gdev_has(d, VIRTIO_BLK_F_GEOMETRY))
		printf("geometry: %u/%u/%u\n", in->cylinders, in->heads,
		       in->sectors);
	if (gdev_has(d, VIRTIO_BLK_F_BLK_SIZE))
		printf("blk-size: %u\n", in->blk_size);
	if (gdev_has(d, VIRTIO_BLK_F_TOPOLOGY))
		printf("topology: physical-block-exp %u alignment-offset %u "
		       "min-io-size %u opt-io-size %u\n",
		       in->physical_block_exp, in->alignment_offset,
		       in->min_io_size, in->opt_io_size);
	if (gdev_has(d, VIRTIO_BLK_F_CONFIG_WCE))
		printf("wce: %u\n", in->wce);
	if (gdev_has(d, VIRTIO_BLK_F_MQ))
		printf("num-queues: %u\n", in->num_queues);
	if (gdev_has(d, VIRTIO_BLK_F_DISCARD))
		printf("discard: max-sectors %u max-seg %u alignment %u\n",
		       in->max_discard_sectors, in->max_discard_seg,
		       in->discard_sector_alignment);
	if (gdev_has(d, VIRTIO_BLK_F_WRITE_ZEROES))
		printf("write-zeroes: max-sectors %u max-seg %u may-unmap %u\n",
		       in->max_write_zeroes_sectors, in->max_write_zeroes_seg,
		       in->write_zeroes_may_unmap);
	printf("cache: %s\n", (gdev_has(d, VIRTIO_BLK_F_CONFIG_WCE)
				   ? in->wce
				   : gdev_has(d, VIRTIO_BLK_F_FLUSH))
				  ? "write back"
				  : "write through");
	printf("max-request-bytes: %u\n",
	       gdev_max_request_bytes(d, GREQ_LAYOUT_LINUX));
	printf("config-generation: %u\n", in->generation);
	for (unsigned q = 0; q < in->nqueues; q++) {
		uint64_t desc, avail, used;

		if (!gdev_queue_rings(d, q, &desc, &avail, &used))
			printf("queue %u rings: desc 0x%" PRIx64
			       " avail 0x%" PRIx64 " used 0x%" PRIx64 "\n",
			       q, desc, avail, used);
	}
}

static void cmd_init(struct session *s, int argc, char **argv,
		     struct result *res)
{
	(void)argc;
	(void)argv;
	cur_disk(s)->dirty = true;
	ensure_ready(s, cur_disk(s), res);
}

static void cmd_reset(struct session *s, int argc, char **argv,
		      struct result *res)
{
	struct disk *dk = cur_disk(s);
	int rc;

	(void)argc;
	(void)argv;
	rc = gdev_reset(dk->dev, 0);
	if (rc)
		fail_msg(res, rc, "reset: %s", rc_name(rc));
	dk->dirty = true;
}

/* freeze: the device's part of a guest's suspend (virtio_device_freeze(),
 * virtblk_freeze()): Status read, a reset, del_vqs. restore: the resume
 * (virtio_device_restore(), virtblk_restore()): features written again
 * without reading the device's, new rings, DRIVER_OK; the capacity is not
 * read again, so a resize meanwhile reaches the driver only through the
 * device's config-change interrupt. */
static void cmd_freeze(struct session *s, int argc, char **argv,
		       struct result *res)
{
	struct disk *dk = cur_disk(s);
	uint64_t st;
	int rc;

	(void)argc;
	(void)argv;
	rc = gdev_mmio_read(dk->dev, 0, VIRTIO_MMIO_STATUS, 4, &st);
	if (!rc)
		rc = gdev_reset(dk->dev, 0);
	if (rc)
		fail_msg(res, rc, "freeze: %s", rc_name(rc));
}

static void cmd_restore(struct session *s, int argc, char **argv,
			struct result *res)
{
	struct disk *dk = cur_disk(s);
	char err[256];
	int rc;

	(void)argc;
	(void)argv;
	rc = gdev_restore(dk->dev, 0, err, sizeof(err));
	if (rc)
		fail_msg(res, rc, "restore: %s", err);
	dk->dirty = rc != 0;
}

static void cmd_write(struct session *s, int argc, char **argv,
		      struct result *res)
{
	struct disk *dk = cur_disk(s);
	uint64_t off, dummy;
	uint8_t *buf;
	size_t len;

	(void)argc;
	if (check_block_args(argv[1], NULL, &off, &dummy, res) ||
	    read_file(argv[2], &buf, &len, res))
		return;
	if (len == 0 || len % 512)
		fail_msg(res, CMD_USAGE,
			 "%s: size %zu is not a non-zero multiple of 512",
			 argv[2], len);
	else if (off + len < off)
		fail_msg(res, CMD_USAGE, "offset + length overflows");
	else
		do_rw(s, dk, true, off, buf, len, res);
	free(buf);
}

static void cmd_read(struct session *s, int argc, char **argv,
		     struct result *res)
{
	struct disk *dk = cur_disk(s);
	uint64_t off, len;
	uint8_t *buf;

	(void)argc;
	if (check_block_args(argv[1], argv[2], &off, &len, res))
		return;
	buf = malloc(len);
	if (!buf) {
		fail_msg(res, -ENOMEM, "out of memory");
		return;
	}
	if (!do_rw(s, dk, false, off, buf, len, res))
		write_file(argv[3], buf, len, res);
	free(buf);
}

/* Read back and compare with a file (first mismatch reported). */
static void cmd_verify(struct session *s, int argc, char **argv,
		       struct result *res)
{
	struct disk *dk = cur_disk(s);
	uint64_t off, dummy;
	uint8_t *want, *got;
	size_t len;

	(void)argc;
	if (check_block_args(argv[1], NULL, &off, &dummy, res) ||
	    read_file(argv[2], &want, &len, res))
		return;
	if (len == 0 || len % 512) {
		fail_msg(res, CMD_USAGE,
			 "%s: size %zu is not a non-zero multiple of 512",
			 argv[2], len);
		free(want);
		return;
	}
	got = malloc(len);
	if (!got)
		fail_msg(res, -ENOMEM, "verify: out of memory");
	else if (!do_rw(s, dk, false, off, got, len, res)) {
		for (size_t i = 0; i < len; i++) {
			if (got[i] != want[i]) {
				fail_msg(res, -EIO,
					 "verify: byte at disk offset %" PRIu64
					 " is 0x%02x, expected 0x%02x",
					 off + i, got[i], want[i]);
				res->status = VIRTIO_BLK_S_OK;
				break;
			}
		}
	}
	free(got);
	free(want);
}

static void cmd_flush(struct session *s, int argc, char **argv,
		      struct result *res)
{
	struct greq r;

	(void)argc;
	(void)argv;
	req_defaults(s, &r);
	r.type = VIRTIO_BLK_T_FLUSH;
	run_req(s, cur_disk(s), &r, res);
}

/* DISCARD / WRITE_ZEROES: ranges of at most max_*_sectors, at most
 * max_*_seg ranges per request (0 means no limit stated; Linux caps the
 * segment count at 256 then). */
static void discard_like(struct session *s, uint32_t type, uint64_t off,
			 uint64_t len, bool unmap, struct result *res)
{
	struct disk *dk = cur_disk(s);
	const struct gdev_info *in = gdev_info(dk->dev);
	bool wz = type == VIRTIO_BLK_T_WRITE_ZEROES;
	uint64_t max_sec =
	    wz ? in->max_write_zeroes_sectors : in->max_discard_sectors;
	unsigned max_seg = wz ? in->max_write_zeroes_seg : in->max_discard_seg;
	uint64_t sector = off / 512, left = len / 512;

	if (max_sec == 0 || max_sec > UINT32_MAX)
		max_sec = UINT32_MAX;
	if (max_seg == 0 || max_seg > 256)
		max_seg = 256;
	while (left) {
		struct virtio_blk_discard_write_zeroes rng[256];
		unsigned n = 0;
		struct greq r;

		while (left && n < max_seg) {
			uint64_t k = left > max_sec ? max_sec : left;

			rng[n].sector = htole64(sector);
			rng[n].num_sectors = htole32((uint32_t)k);
			rng[n].flags = htole32(
			    unmap ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0);
			n++;
			sector += k;
			left -= k;
		}
		req_defaults(s, &r);
		r.type = type;
		r.buf = (uint8_t *)rng;
		r.len = n * (uint32_t)sizeof(rng[0]);
		r.nseg = 1;
		if (run_req(s, dk, &r, res))
			return;
	}
}

static void cmd_discard(struct session *s, int argc, char **argv,
			struct result *res)
{
	uint64_t off, len;

	(void)argc;
	if (!check_block_args(argv[1], argv[2], &off, &len, res))
		discard_like(s, VIRTIO_BLK_T_DISCARD, off, len, false, res);
}

static void cmd_write_zeroes(struct session *s, int argc, char **argv,
			     struct result *res)
{
	uint64_t off, len;
	bool unmap = false;

	if (argc > 3) {
		if (strcmp(argv[3], "unmap")) {
			fail_msg(res, CMD_USAGE, "expected 'unmap', got '%s'",
				 argv[3]);
			return;
		}
		unmap = true;
	}
	if (!check_block_args(argv[1], argv[2], &off, &len, res) &&
	    !refuse_on_ro(cur_disk(s), "write-zeroes", res))
		discard_like(s, VIRTIO_BLK_T_WRITE_ZEROES, off, len, unmap,
			     res);
}

static void cmd_get_id(struct session *s, int argc, char **argv,
		       struct result *res)
{
	uint8_t id[VIRTIO_BLK_ID_BYTES + 1];
	struct greq r;

	(void)argc;
	(void)argv;
	memset(id, 0, sizeof(id));
	req_defaults(s, &r);
	r.type = VIRTIO_BLK_T_GET_ID;
	r.buf = id;
	r.len = VIRTIO_BLK_ID_BYTES;
	r.nseg = 1;
	if (run_req(s, cur_disk(s), &r, res))
		return;
	/* Up to 20 bytes, NUL-padded, not necessarily terminated. */
	printf("serial: %s\n", (char *)id);
}

/* request TYPE SECTOR LENGTH [in|out]: any request type, data zero-filled
 * (out) or discarded (in); the status decides the outcome. */
static void cmd_request(struct session *s, int argc, char **argv,
			struct result *res)
{
	uint64_t type, sector, len;
	struct greq r;
	uint8_t *buf;

	if (!parse_u64(argv[1], &type) || type > UINT32_MAX ||
	    !parse_u64(argv[2], &sector) || !parse_u64(argv[3], &len) ||
	    len > (16u << 20)) {
		fail_msg(res, CMD_USAGE, "bad request arguments");
		return;
	}
	req_defaults(s, &r);
	r.type = (uint32_t)type;
	r.sector = sector;
	r.len = (uint32_t)len;
	if (argc > 4) {
		if (strcmp(argv[4], "in") && strcmp(argv[4], "out")) {
			fail_msg(res, CMD_USAGE, "direction must be in|out");
			return;
		}
		r.dir_override = true;
		r.device_writes_data = !strcmp(argv[4], "in");
	}
	buf = calloc(1, len ? len : 1);
	if (!buf) {
		fail_msg(res, -ENOMEM, "out of memory");
		return;
	}
	r.buf = buf;
	if (!run_req(s, cur_disk(s), &r, res))
		printf("request: status %s used-len %u\n",
		       status_name(r.status), r.used_len);
	free(buf);
}

static void cmd_status(struct session *s, int argc, char **argv,
		       struct result *res)
{
	(void)argc;
	(void)argv;
	(void)res;
	printf("status: %s\n", status_name(s->last_status));
}

static void cmd_device(struct session *s, int argc, char **argv,
		       struct result *res)
{
	unsigned n;

	(void)argc;
	if (!parse_uint(argv[1], MAX_DISKS, &n) || n >= s->ndisks) {
		fail_msg(res, CMD_USAGE, "no device '%s' (have %u)", argv[1],
			 s->ndisks);
		return;
	}
	s->cur = n;
}

static void cmd_features(struct session *s, int argc, char **argv,
			 struct result *res)
{
	struct disk *dk = cur_disk(s);
	uint64_t mask = ~0ULL;

	(void)argc;
	if (!strcmp(argv[1], "all")) {
		mask = ~0ULL;
	} else if (argv[1][0] != '-') {
		if (!parse_u64(argv[1], &mask)) {
			fail_msg(res, CMD_USAGE, "bad feature mask '%s'",
				 argv[1]);
			return;
		}
	} else {
		char *copy = strdup(argv[1]), *save = NULL;

		for (char *t = strtok_r(copy, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			unsigned b;

			if (t[0] == '-')
				t++;
			for (b = 0; b < 64; b++)
				if (gdev_feature_name(b) &&
				    !strcmp(gdev_feature_name(b), t))
					break;
			if (b == 64) {
				fail_msg(res, CMD_USAGE, "unknown feature '%s'",
					 t);
				free(copy);
				return;
			}
			mask &= ~(1ULL << b);
		}
		free(copy);
	}
	dk->feature_mask = mask;
	dk->dirty = true;
}

static void cmd_layout(struct session *s, int argc, char **argv,
		       struct result *res)
{
	(void)argc;
	if (!strcmp(argv[1], "linux"))
		s->layout = GREQ_LAYOUT_LINUX;
	else if (!strcmp(argv[1], "split"))
		s->layout = GREQ_LAYOUT_SPLIT;
	else if (!strcmp(argv[1], "merged"))
		s->layout = GREQ_LAYOUT_MERGED;
	else
		fail_msg(res, CMD_USAGE, "layout: linux|split|merged");
}

static void cmd_indirect(struct session *s, int argc, char **argv,
			 struct result *res)
{
	(void)argc;
	if (!strcmp(argv[1], "on"))
		s->no_indirect = false;
	else if (!strcmp(argv[1], "off"))
		s->no_indirect = true;
	else
		fail_msg(res, CMD_USAGE, "indirect: on|off");
}

static void cmd_segments(struct session *s, int argc, char **argv,
			 struct result *res)
{
	(void)argc;
	if (!parse_uint(argv[1], GREQ_MAX_SEGS, &s->nseg))
		fail_msg(res, CMD_USAGE, "segments: 0..%u", GREQ_MAX_SEGS);
}

/* ------------------------------------------------------------ raw access */

static bool parse_size(const char *str, unsigned *size)
{
	return parse_uint(str, 8, size) &&
	       (*size == 1 || *size == 2 || *size == 4 || *size == 8);
}

static void cmd_mmio_read(struct session *s, int argc, char **argv,
			  struct result *res)
{
	uint64_t off, val;
	unsigned size;
	int rc;

	(void)argc;
	if (!parse_u64(argv[1], &off) || off > 0xffffffffu ||
	    !parse_size(argv[2], &size)) {
		fail_msg(res, CMD_USAGE, "mmio-read OFFSET 1|2|4|8");
		return;
	}
	rc = gdev_mmio_read(cur_disk(s)->dev, 0, (uint32_t)off, size, &val);
	if (rc) {
		fail_msg(res, rc, "mmio-read 0x%" PRIx64 ": %s", off,
			 rc_name(rc));
		return;
	}
	printf("0x%" PRIx64 "\n", val);
}

static void cmd_mmio_expect(struct session *s, int argc, char **argv,
			    struct result *res)
{
	uint64_t off, val, want;
	unsigned size;
	int rc;

	(void)argc;
	if (!parse_u64(argv[1], &off) || off > 0xffffffffu ||
	    !parse_size(argv[2], &size) || !parse_u64(argv[3], &want)) {
		fail_msg(res, CMD_USAGE, "mmio-expect OFFSET SIZE VALUE");
		return;
	}
	rc = gdev_mmio_read(cur_disk(s)->dev, 0, (uint32_t)off, size, &val);
	if (rc)
		fail_msg(res, rc, "mmio-read 0x%" PRIx64 ": %s", off,
			 rc_name(rc));
	else if (val != want)
		fail_msg(res, -EIO,
			 "register 0x%" PRIx64 " reads 0x%" PRIx64
			 ", expected 0x%" PRIx64,
			 off, val, want);
}

static void cmd_mmio_write(struct session *s, int argc, char **argv,
			   struct result *res)
{
	uint64_t off, val;
	unsigned size;
	int rc;

	(void)argc;
	if (!parse_u64(argv[1], &off) || off > 0xffffffffu ||
	    !parse_size(argv[2], &size) || !parse_u64(argv[3], &val)) {
		fail_msg(res, CMD_USAGE, "mmio-write OFFSET SIZE VALUE");
		return;
	}
	cur_disk(s)->dirty = true;
	rc = gdev_mmio_write(cur_disk(s)->dev, 0, (uint32_t)off, size, val);
	if (rc)
		fail_msg(res, rc, "mmio-write 0x%" PRIx64 ": %s", off,
			 rc_name(rc));
}

static void cmd_mem_write(struct session *s, int argc, char **argv,
			  struct result *res)
{
	uint64_t gpa;
	uint8_t *buf, *dst;
	size_t len;

	(void)argc;
	if (!parse_u64(argv[1], &gpa)) {
		fail_msg(res, CMD_USAGE, "bad address '%s'", argv[1]);
		return;
	}
	if (read_file(argv[2], &buf, &len, res))
		return;
	dst = guest_ptr(s->g, gpa, len);
	if (!dst)
		fail_msg(res, CMD_USAGE,
			 "[0x%" PRIx64 ", +%zu) is not guest RAM", gpa, len);
	else
		memcpy(dst, buf, len);
	free(buf);
}

static void cmd_mem_read(struct session *s, int argc, char **argv,
			 struct result *res)
{
	uint64_t gpa, len;
	uint8_t *src;

	(void)argc;
	if (!parse_u64(argv[1], &gpa) || !parse_u64(argv[2], &len) ||
	    len > MAX_IO_BYTES) {
		fail_msg(res, CMD_USAGE, "mem-read GPA LENGTH OUTFILE");
		return;
	}
	src = guest_ptr(s->g, gpa, len);
	if (!src)
		fail_msg(res, CMD_USAGE,
			 "[0x%" PRIx64 ", +%" PRIu64 ") is not guest RAM", gpa,
			 len);
	else
		write_file(argv[3], src, len, res);
}

static void cmd_wait_irq(struct session *s, int argc, char **argv,
			 struct result *res)
{
	struct gdev *d = cur_disk(s)->dev;
	unsigned ms;
	int rc;

	(void)argc;
	if (!parse_uint(argv[1], 600000, &ms)) {
		fail_msg(res, CMD_USAGE, "wait-irq MILLISECONDS");
		return;
	}
	rc = sim_hv_wait_irq(s->hv, gdev_info(d)->irq, gdev_irq_seen(d),
			     (int)ms);
	if (rc) {
		fail_msg(res, rc, "no interrupt on SPI %u within %u ms",
			 gdev_info(d)->irq, ms);
		return;
	}
	gdev_set_irq_seen(d, sim_hv_irq_edges(s->hv, gdev_info(d)->irq));
}

void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void cmd_sleep(struct session *s, int argc, char **argv,
		      struct result *res)
{
	uint64_t ms;

	(void)s;
	(void)argc;
	if (!parse_u64(argv[1], &ms) || ms > 60000) {
		fail_msg(res, CMD_USAGE, "sleep MILLISECONDS (up to 60000)");
		return;
	}
	sleep_ms((unsigned)ms);
}

static void cmd_invalidate(struct session *s, int argc, char **argv,
			   struct result *res)
{
	int rc;

	(void)argc;
	(void)argv;
	rc = sim_hv_invalidate(s->hv, 0, s->timeout_ms);
	if (rc)
		fail_msg(res, rc, "invalidate: %s", rc_name(rc));
}

/* The guest's balloon driver. Out takes MIB of free guest RAM from the
 * driver's allocator, lowest first (so buffers of earlier requests, which
 * the daemon may have mapped, are among it, as free pages are among what
 * Linux's balloon takes) and gives it back to Xen; in takes it back. */
static void cmd_balloon(struct session *s, int argc, char **argv,
			struct result *res)
{
	struct sim_dom *dom = guest_dom(s->g);
	uint64_t mib, gpa, len;
	int rc;

	if (!strcmp(argv[1], "in") && argc == 2) {
		if (!s->balloon_len) {
			fail_msg(res, -EINVAL,
				 "balloon in: nothing given back");
			return;
		}
		rc = sim_dom_balloon_in(dom, s->balloon_gpa, s->balloon_len);
		if (rc) {
			fail_msg(res, rc, "balloon in: %s",
				 rc == -ENOMEM
				     ? "over-allocation: frames given "
				       "back are still mapped by a "
				       "backend"
				     : rc_name(rc));
			return;
		}
		guest_mfree(s->g, s->balloon_gpa, s->balloon_len);
		printf("balloon: %" PRIu64 " MiB taken back\n",
		       s->balloon_len >> 20);
		s->balloon_len = 0;
		return;
	}
	if (strcmp(argv[1], "out") || argc != 3 || !parse_u64(argv[2], &mib) ||
	    !mib || mib > 4096) {
		fail_msg(res, CMD_USAGE, "balloon out MIB | balloon in");
		return;
	}
	if (s->balloon_len) {
		fail_msg(res, -EBUSY, "balloon out: already out");
		return;
	}
	len = mib << 20;
	gpa = guest_alloc(s->g, len, 4096);
	if (!gpa) {
		fail_msg(res, -ENOMEM,
			 "balloon out: no %" PRIu64 " MiB of free guest RAM",
			 mib);
		return;
	}
	rc = sim_dom_balloon_out(dom, 0, gpa, len, s->timeout_ms);
	if (rc < 0) {
		guest_mfree(s->g, gpa, len);
		fail_msg(res, rc, "balloon out: %s", rc_name(rc));
		return;
	}
	s->balloon_gpa = gpa;
	s->balloon_len = len;
	printf("balloon: %" PRIu64 " MiB at 0x%" PRIx64 " given back, %d "
	       "frame(s) still mapped by a backend\n",
	       mib, gpa, rc);
}

/* ------------------------------------------------------------ the daemon */

static int parse_signal(const char *name)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {
	    {"TERM", SIGTERM}, {"INT", SIGINT},	  {"KILL", SIGKILL},
	    {"HUP", SIGHUP},   {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
	    {"QUIT", SIGQUIT}, {"STOP", SIGSTOP}, {"CONT", SIGCONT},
	    {"PIPE", SIGPIPE},
	};

	if (!strncmp(name, "SIG", 3))
		name += 3;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!strcmp(name, sigs[i].name))
			return sigs[i].sig;
	return -1;
}

static void describe_wstatus(int ws, char *buf, size_t len)
{
	if (WIFEXITED(ws))
		snprintf(buf, len, "exit %d", WEXITSTATUS(ws));
	else if (WIFSIGNALED(ws))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(ws),
			 strsignal(WTERMSIG(ws)));
	else
		snprintf(buf, len, "wait status 0x%x", ws);
}

/* Wait for the daemon to exit; 0 with the wait status, or -errno. */
static int reap_daemon(struct session *s, int timeout_ms)
{
	int ws = -1, rc;

	if (s->daemon_reaped)
		return 0;
	rc = sim_hv_wait_daemon(s->hv, timeout_ms, &ws);
	if (rc < 0)
		return rc;
	if (ws == -1)
		ws = rc;
	s->daemon_reaped = true;
	s->daemon_wstatus = ws;
	return 0;
}

static void cmd_signal_daemon(struct session *s, int argc, char **argv,
			      struct result *res)
{
	int sig = parse_signal(argv[1]);
	int rc;

	(void)argc;
	if (sig < 0) {
		fail_msg(res, CMD_USAGE, "unknown signal '%s'", argv[1]);
		return;
	}
	if (sig == SIGTERM || sig == SIGINT || sig == SIGKILL || sig == SIGQUIT)
		s->daemon_exit_expected = true;
	rc = sim_hv_signal_daemon(s->hv, sig);
	if (rc < 0)
		fail_msg(res, rc, "signal: %s", strerror(-rc));
}

static void cmd_expect_exit(struct session *s, int argc, char **argv,
			    struct result *res)
{
	char got[128];
	int sig = -1;
	unsigned code = 0;
	int rc;

	(void)argc;
	if (!parse_uint(argv[1], 255, &code)) {
		sig = parse_signal(argv[1]);
		if (sig < 0) {
			fail_msg(res, CMD_USAGE,
				 "expect-exit CODE|SIGNAL, got '%s'", argv[1]);
			return;
		}
	}
	s->daemon_exit_expected = true;
	rc = reap_daemon(s, s->timeout_ms);
	if (rc) {
		fail_msg(res, rc, "the daemon did not exit: %s", rc_name(rc));
		return;
	}
	describe_wstatus(s->daemon_wstatus, got, sizeof(got));
	if (sig < 0 ? !(WIFEXITED(s->daemon_wstatus) &&
			WEXITSTATUS(s->daemon_wstatus) == (int)code)
		    : !(WIFSIGNALED(s->daemon_wstatus) &&
			WTERMSIG(s->daemon_wstatus) == sig))
		fail_msg(res, -EIO, "daemon: %s, expected %s", got, argv[1]);
	else
		printf("daemon: %s\n", got);
}

/* With RAM in bank 1: each bank and how much of it a backend maps now,
 * to tell whether requests meant for one bank really reached it. */
static void print_banks(struct session *s)
{
	struct sim_dom *dom = sim_hv_default_domain(s->hv);
	uint64_t ram = dom ? sim_dom_ram_size(dom) : 0;
	uint64_t len[2] = {sim_ram_bank0(ram), ram - sim_ram_bank0(ram)};
	const uint64_t base[2] = {SIM_RAM0_BASE, SIM_RAM1_BASE};

	for (unsigned b = 0; len[1] && b < 2; b++)
		printf("guest-ram-bank%u: 0x%" PRIx64 ", %" PRIu64
		       " MiB, %" PRId64 " frame(s) mapped by a backend\n",
		       b, base[b], len[b] >> 20,
		       sim_dom_frames_mapped(dom, base[b], len[b]));
}

static void cmd_stats(struct session *s, int argc, char **argv,
		      struct result *res)
{
	struct sim_hv_stats hs;

	(void)argc;
	(void)argv;
	(void)res;
	for (unsigned i = 0; i < s->ndisks; i++) {
		struct gdev_stats st;

		gdev_get_stats(s->disks[i].dev, &st);
		printf("device %u: requests %" PRIu64 " completed %" PRIu64
		       " errors %" PRIu64 " bytes-read %" PRIu64
		       " bytes-written %" PRIu64 " notifies %" PRIu64
		       " suppressed-kicks %" PRIu64 " interrupts %" PRIu64
		       " spurious %" PRIu64 " config-interrupts %" PRIu64
		       " indirect %" PRIu64 " resets %" PRIu64 "\n",
		       i, st.requests, st.completed, st.errors, st.bytes_read,
		       st.bytes_written, st.notifies, st.kicks_suppressed,
		       st.interrupts, st.spurious_interrupts,
		       st.config_interrupts, st.indirect_requests, st.resets);
		/* Only with more than one queue: one line a queue. */
		for (unsigned q = 0; st.completed_on[1] && q < GUEST_MAX_QUEUES;
		     q++)
			if (st.completed_on[q])
				printf("device %u queue %u: completed %" PRIu64
				       "\n",
				       i, q, st.completed_on[q]);
	}
	if (sim_hv_ram_backing(s->hv))
		printf("guest-ram: %s\n", sim_hv_ram_backing(s->hv));
	print_banks(s);
	sim_hv_get_stats(s->hv, &hs);
	printf("hypervisor: ioreqs %" PRIu64 " servers %" PRIu64 "/%" PRIu64
	       " ranges %" PRIu64 " foreign-maps %" PRIu64
	       " foreign-pages %" PRIu64 " refused %" PRIu64
	       " mapped-now %" PRIu64 " protocol-errors %" PRIu64 "\n",
	       hs.ioreqs, hs.servers_created, hs.servers_destroyed,
	       hs.ranges_mapped, hs.foreign_maps, hs.foreign_pages,
	       hs.foreign_pages_refused, hs.pages_mapped_now,
	       hs.protocol_errors);
}

/* ------------------------------------------------------------ random-io */

struct span {
	uint64_t off, len;
	bool busy;
};

struct rio {
	struct session *s;
	struct disk *dk;
	uint64_t at; /* the region under test: [at, at + region) */
	uint64_t region;
	uint8_t *model; /* what the disk must contain */
	unsigned count; /* requests in total */
	unsigned maxkb;
	unsigned read_pct;
	unsigned inval_every;
	unsigned depth; /* per thread */
	uint64_t seed;
	bool read_only;
	pthread_mutex_t mu;
	unsigned issued;   /* requests handed out */
	struct span *busy; /* in flight, never overlapping */
	unsigned nbusy, maxbusy;
	bool failed;
	char err[512];
	/* totals */
	uint64_t reads, writes, bytes, invalidates, max_inflight, inflight;
};

struct rio_slot {
	struct greq r;
	uint8_t *buf;
	bool write;
	uint64_t off;
	int span;
};

struct rio_thread {
	struct rio *io;
	unsigned cpu;
	pthread_t tid;
};

static void rio_fail(struct rio *io, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void rio_fail(struct rio *io, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&io->mu);
	if (!io->failed) {
		io->failed = true;
		va_start(ap, fmt);
		vsnprintf(io->err, sizeof(io->err), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&io->mu);
}

/* Claim [off, off+len) unless it overlaps a request in flight. */
static int rio_claim(struct rio *io, uint64_t off, uint64_t len)
{
	int slot = -1;

	for (unsigned i = 0; i < io->nbusy; i++) {
		struct span *sp = &io->busy[i];

		if (!sp->busy) {
			if (slot < 0)
				slot = (int)i;
			continue;
		}
		if (off < sp->off + sp->len && sp->off < off + len)
			return -1;
	}
	if (slot < 0) {
		if (io->nbusy == io->maxbusy)
			return -1;
		slot = (int)io->nbusy++;
	}
	io->busy[slot].off = off;
	io->busy[slot].len = len;
	io->busy[slot].busy = true;
	return slot;
}

/* A request finished: check it against the model, then update the model. */
static void rio_complete(struct rio *io, struct rio_slot *sl)
{
	struct greq *r = &sl->r;
	uint32_t want_used = sl->write ? 1 : r->len + 1;

	if (r->status != VIRTIO_BLK_S_OK) {
		rio_fail(io, "%s of %u bytes at %" PRIu64 ": status %s",
			 sl->write ? "write" : "read", r->len, sl->off,
			 status_name(r->status));
	} else if (r->used_len != want_used) {
		rio_fail(io,
			 "%s of %u bytes at %" PRIu64
			 ": used len %u, expected %u",
			 sl->write ? "write" : "read", r->len, sl->off,
			 r->used_len, want_used);
	} else if (sl->write) {
		/* No overlapping request is in flight: safe unlocked. */
		memcpy(io->model + (sl->off - io->at), sl->buf, r->len);
	} else if (memcmp(io->model + (sl->off - io->at), sl->buf, r->len)) {
		const uint8_t *m = io->model + (sl->off - io->at);
		uint32_t i = 0;

		while (m[i] == sl->buf[i])
			i++;
		rio_fail(io,
			 "read of %u bytes at %" PRIu64 ": byte at %" PRIu64
			 " is 0x%02x, expected 0x%02x",
			 r->len, sl->off, sl->off + i, sl->buf[i], m[i]);
	}
	pthread_mutex_lock(&io->mu);
	io->busy[sl->span].busy = false;
	io->inflight--;
	pthread_mutex_unlock(&io->mu);
	free(sl->buf);
	sl->buf = NULL;
}

static void *rio_thread_main(void *arg)
{
	struct rio_thread *t = arg;
	struct rio *io = t->io;
	struct session *s = io->s;
	struct gdev *d = io->dk->dev;
	uint64_t rng = seed_of(io->seed ^ ((uint64_t)t->cpu << 32));
	struct rio_slot *slots = calloc(io->depth, sizeof(*slots));
	struct greq **waitv = calloc(io->depth, sizeof(*waitv));
	uint32_t maxreq = gdev_max_request_bytes(d, s->layout);
	const struct gdev_info *in = gdev_info(d);
	unsigned nslots = 0;
	bool no_more = false;

	if (!slots || !waitv) {
		rio_fail(io, "out of memory");
		goto out;
	}
	while (!io->failed) {
		/* Fill every free slot while requests remain. */
		for (unsigned i = 0; i < io->depth && !no_more && !io->failed;
		     i++) {
			struct rio_slot *sl = &slots[i];

			if (sl->buf)
				continue;
			uint64_t maxlen = (uint64_t)io->maxkb * 1024;

			if (maxlen > maxreq)
				maxlen = maxreq;
			if (maxlen > io->region)
				maxlen = io->region;
			uint64_t len = 512 * rnd_range(&rng, 1, maxlen / 512);
			uint64_t off =
			    io->at +
			    512 * rnd_range(&rng, 0, (io->region - len) / 512);
			bool write = !io->read_only &&
				     rnd_range(&rng, 1, 100) > io->read_pct;
			unsigned maxseg = in->max_data_segs;
			int span;
			bool inval = false;

			if (maxseg > len / 512)
				maxseg = (unsigned)(len / 512);
			pthread_mutex_lock(&io->mu);
			if (io->issued >= io->count) {
				no_more = true;
				pthread_mutex_unlock(&io->mu);
				break;
			}
			span = rio_claim(io, off, len);
			if (span >= 0) {
				io->issued++;
				if (io->inval_every &&
				    io->issued % io->inval_every == 0) {
					inval = true;
					io->invalidates++;
				}
				io->inflight++;
				if (io->inflight > io->max_inflight)
					io->max_inflight = io->inflight;
				if (write)
					io->writes++;
				else
					io->reads++;
				io->bytes += len;
			}
			pthread_mutex_unlock(&io->mu);
			if (span < 0)
				break; /* overlaps: retry after a completion */

			sl->buf = malloc(len);
			if (!sl->buf) {
				rio_fail(io, "out of memory");
				break;
			}
			if (write)
				rnd_fill(&rng, sl->buf, len);
			sl->write = write;
			sl->off = off;
			sl->span = span;
			req_defaults(s, &sl->r);
			sl->r.type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
			sl->r.sector = off / 512;
			sl->r.buf = sl->buf;
			sl->r.len = (uint32_t)len;
			if (!s->nseg)
				sl->r.nseg =
				    (unsigned)rnd_range(&rng, 1, maxseg);
			for (;;) {
				int rc = gdev_submit(d, t->cpu, &sl->r);

				if (rc == 0)
					break;
				if ((rc == -ENOSPC || rc == -ENOMEM) &&
				    nslots > 0) {
					/* Ring or RAM full: reap first. */
					unsigned n = 0;

					for (unsigned k = 0; k < io->depth; k++)
						if (slots[k].buf && k != i)
							waitv[n++] =
							    &slots[k].r;
					rc = gdev_wait(d, t->cpu, waitv, n, 1,
						       s->timeout_ms);
					if (rc == 0) {
						for (unsigned k = 0;
						     k < io->depth; k++) {
							if (k != i &&
							    slots[k].buf &&
							    slots[k].r.done) {
								rio_complete(
								    io,
								    &slots[k]);
								nslots--;
							}
						}
						continue;
					}
				} else if (rc == -ENOSPC || rc == -ENOMEM) {
					/* Other vCPUs hold the ring. */
					usleep(500);
					continue;
				}
				rio_fail(io, "submit: %s%s%s", rc_name(rc),
					 gdev_error(d) ? ": " : "",
					 gdev_error(d) ? gdev_error(d) : "");
				break;
			}
			if (io->failed)
				break;
			nslots++;
			if (inval) {
				int rc = sim_hv_invalidate(s->hv, t->cpu,
							   s->timeout_ms);

				if (rc)
					rio_fail(io, "invalidate: %s",
						 rc_name(rc));
			}
		}
		if (io->failed)
			break;
		if (nslots == 0) {
			if (no_more)
				break;
			usleep(200); /* everything we want overlaps */
			continue;
		}
		unsigned n = 0;

		for (unsigned k = 0; k < io->depth; k++)
			if (slots[k].buf)
				waitv[n++] = &slots[k].r;
		int rc = gdev_wait(d, t->cpu, waitv, n, 1, s->timeout_ms);

		if (rc) {
			rio_fail(io, "waiting for %u requests: %s%s%s", n,
				 rc_name(rc), gdev_error(d) ? ": " : "",
				 gdev_error(d) ? gdev_error(d) : "");
			break;
		}
		for (unsigned k = 0; k < io->depth; k++) {
			if (slots[k].buf && slots[k].r.done) {
				rio_complete(io, &slots[k]);
				nslots--;
			}
		}
	}
out:
	/* On failure, wait for what is still in flight before freeing. */
	if (slots) {
		unsigned n = 0;

		for (unsigned k = 0; k < io->depth; k++)
			if (slots[k].buf && !slots[k].r.done)
				waitv[n++] = &slots[k].r;
		if (n && gdev_wait(d, t->cpu, waitv, n, n, s->timeout_ms))
			gdev_abort(d); /* the slots go away with them */
		for (unsigned k = 0; k < io->depth; k++)
			free(slots[k].buf);
	}
	free(slots);
	free(waitv);
	return NULL;
}

static bool parse_kv(const char *arg, const char *key, unsigned max,
		     unsigned *v, struct result *res, bool *matched)
{
	size_t kl = strlen(key);

	if (strncmp(arg, key, kl) || arg[kl] != '=')
		return true;
	*matched = true;
	if (!parse_uint(arg + kl + 1, max, v)) {
		fail_msg(res, CMD_USAGE, "bad value in '%s'", arg);
		return false;
	}
	return true;
}

static void cmd_random_io(struct session *s, int argc, char **argv,
			  struct result *res)
{
	struct disk *dk = cur_disk(s);
	const struct gdev_info *in = gdev_info(dk->dev);
	struct rio io;
	unsigned region_mb = 64, threads = s->vcpus;
	uint64_t seed;
	int argi = 3;

	memset(&io, 0, sizeof(io));
	io.s = s;
	io.dk = dk;
	io.maxkb = 256;
	io.read_pct = 40;
	io.depth = 0;
	if (!parse_uint(argv[1], 10000000, &io.count) ||
	    !parse_u64(argv[2], &seed)) {
		fail_msg(res, CMD_USAGE, "random-io COUNT SEED [MAXKB] ...");
		return;
	}
	io.seed = seed;
	if (argc > 3 && isdigit((unsigned char)argv[3][0])) {
		if (!parse_uint(argv[3], 65536, &io.maxkb) || io.maxkb == 0) {
			fail_msg(res, CMD_USAGE, "bad MAXKB '%s'", argv[3]);
			return;
		}
		argi = 4;
	}
	for (; argi < argc; argi++) {
		bool m = false;

		if (!strncmp(argv[argi], "at=", 3)) {
			if (!parse_u64(argv[argi] + 3, &io.at) || io.at % 512) {
				fail_msg(res, CMD_USAGE,
					 "at= must be a multiple of 512");
				return;
			}
			continue;
		}
		if (!parse_kv(argv[argi], "reads", 100, &io.read_pct, res,
			      &m) ||
		    !parse_kv(argv[argi], "invalidate", 1000000,
			      &io.inval_every, res, &m) ||
		    !parse_kv(argv[argi], "depth", 1024, &io.depth, res, &m) ||
		    !parse_kv(argv[argi], "region", 1 << 20, &region_mb, res,
			      &m) ||
		    !parse_kv(argv[argi], "threads", 128, &threads, res, &m))
			return;
		if (!m) {
			fail_msg(res, CMD_USAGE, "unknown option '%s'",
				 argv[argi]);
			return;
		}
	}
	if (threads == 0 || threads > s->vcpus)
		threads = s->vcpus;
	io.read_only = gdev_has(dk->dev, VIRTIO_BLK_F_RO);
	if (io.read_only)
		io.read_pct = 100;
	if (io.at >= in->capacity * 512) {
		fail_msg(res, CMD_USAGE, "at= is past the end of the disk");
		return;
	}
	io.region = in->capacity * 512 - io.at;
	if (io.region > (uint64_t)region_mb << 20)
		io.region = (uint64_t)region_mb << 20;
	if (io.region < 512) {
		fail_msg(res, CMD_USAGE, "the disk is too small");
		return;
	}
	if (!io.depth) {
		io.depth = in->queue_num / threads;
		if (io.depth > 64)
			io.depth = 64;
		if (io.depth == 0)
			io.depth = 1;
	}
	io.model = malloc(io.region);
	io.maxbusy = io.depth * threads;
	io.busy = calloc(io.maxbusy, sizeof(*io.busy));
	if (!io.model || !io.busy) {
		fail_msg(res, -ENOMEM, "out of memory");
		goto out;
	}
	int rc = host_pread(dk->path, io.at, io.model, io.region);

	if (rc) {
		fail_msg(res, CMD_USAGE, "%s: %s", dk->path, strerror(-rc));
		goto out;
	}
	pthread_mutex_init(&io.mu, NULL);

	struct rio_thread th[128];

	for (unsigned i = 0; i < threads; i++) {
		th[i].io = &io;
		th[i].cpu = i;
		if (pthread_create(&th[i].tid, NULL, rio_thread_main, &th[i])) {
			rio_fail(&io, "pthread_create failed");
			threads = i;
			break;
		}
	}
	for (unsigned i = 0; i < threads; i++)
		pthread_join(th[i].tid, NULL);
	pthread_mutex_destroy(&io.mu);
	if (io.failed) {
		s->last_status = VIRTIO_BLK_S_IOERR;
		fail_msg(res, -EIO, "random-io: %s", io.err);
		goto out;
	}

	/* The end state, through the device and from the host. */
	if (!io.read_only && gdev_has(dk->dev, VIRTIO_BLK_F_FLUSH)) {
		struct greq r;

		req_defaults(s, &r);
		r.type = VIRTIO_BLK_T_FLUSH;
		if (run_req(s, dk, &r, res))
			goto out;
	}
	uint8_t *got = malloc(io.region);

	if (!got) {
		fail_msg(res, -ENOMEM, "out of memory");
		goto out;
	}
	if (!do_rw(s, dk, false, io.at, got, io.region, res)) {
		if (memcmp(got, io.model, io.region))
			fail_msg(res, -EIO,
				 "random-io: final read-back differs from "
				 "the model");
		else if (host_pread(dk->path, io.at, got, io.region) ||
			 memcmp(got, io.model, io.region))
			fail_msg(res, -EIO,
				 "random-io: the image file (read on the host) "
				 "differs from the model");
	}
	free(got);
	if (!res->rc)
		printf("random-io: %" PRIu64 " requests (%" PRIu64
		       " reads, %" PRIu64 " writes, %" PRIu64
		       " KiB) on %u vCPUs, %" PRIu64
		       " invalidates, up to %" PRIu64 " in flight: verified\n",
		       io.reads + io.writes, io.reads, io.writes,
		       io.bytes / 1024, threads, io.invalidates,
		       io.max_inflight);
out:
	free(io.model);
	free(io.busy);
}

/* A batch of writes at distinct offsets, queued without waiting, from each
 * vCPU in turn (so on every queue when the driver uses several). */
struct wbatch {
	unsigned count, submitted;
	struct greq *reqs;
	uint64_t *offs;
};

/* COUNT writes of random data (or reads, `reads`) at increasing offsets,
 * spread over the vCPUs, as many as the ring takes. */
static int submit_batch(struct session *s, struct disk *dk, unsigned count,
			uint64_t seed, bool reads, struct wbatch *b,
			struct result *res)
{
	struct gdev *d = dk->dev;
	uint64_t cap = gdev_info(d)->capacity * 512;
	uint32_t maxreq = gdev_max_request_bytes(d, s->layout);
	uint64_t rng = seed_of(seed), off = 0;

	memset(b, 0, sizeof(*b));
	/* In flight until the caller has acted: it lets the interrupt in
	 * (free_writes at the latest). */
	gdev_hold_irq(d, true);
	b->count = count;
	b->reqs = calloc(count, sizeof(*b->reqs));
	b->offs = calloc(count, sizeof(*b->offs));
	if (!b->reqs || !b->offs) {
		fail_msg(res, -ENOMEM, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < count; i++) {
		struct greq *r = &b->reqs[i];
		uint64_t len = 512 * rnd_range(&rng, 8, 256);
		int rc;

		if (len > maxreq)
			len = maxreq;
		off += 512 * rnd_range(&rng, 0, 16);
		if (off + len > cap)
			break;
		req_defaults(s, r);
		r->type = reads ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
		r->sector = off / 512;
		r->len = (uint32_t)len;
		r->buf = calloc(1, len);
		if (!r->buf)
			break;
		if (!reads)
			rnd_fill(&rng, r->buf, len);
		b->offs[i] = off;
		off += len;
		rc = gdev_submit(d, i % s->vcpus, r);
		if (rc == -ENOSPC || rc == -ENOMEM)
			break; /* the ring is full: enough in flight */
		if (rc) {
			fail_msg(res, rc, "submit: %s", rc_name(rc));
			return -1;
		}
		b->submitted++;
	}
	return 0;
}

static int submit_writes(struct session *s, struct disk *dk, unsigned count,
			 uint64_t seed, struct wbatch *b, struct result *res)
{
	return submit_batch(s, dk, count, seed, false, b, res);
}

/* Every completed write must be OK and be in the image on the host (every
 * completed read OK and equal to the image). */
static int check_writes(struct session *s, struct disk *dk, struct wbatch *b,
			unsigned *completed, struct result *res)
{
	*completed = 0;
	for (unsigned i = 0; i < b->submitted; i++) {
		struct greq *r = &b->reqs[i];

		if (!r->done || r->status == GREQ_ABORTED)
			continue;
		(*completed)++;
		if (r->status != VIRTIO_BLK_S_OK) {
			s->last_status = r->status;
			res->status = r->status;
			fail_msg(res, -EIO,
				 "%s at %" PRIu64 " completed with %s",
				 r->type == VIRTIO_BLK_T_IN ? "read" : "write",
				 b->offs[i], status_name(r->status));
			return -1;
		}
		uint8_t *disk = malloc(r->len);
		bool ok = disk &&
			  !host_pread(dk->path, b->offs[i], disk, r->len) &&
			  !memcmp(disk, r->buf, r->len);

		free(disk);
		if (!ok) {
			fail_msg(res, -EIO,
				 "%s at %" PRIu64
				 " was reported complete but differs from the "
				 "image",
				 r->type == VIRTIO_BLK_T_IN ? "read" : "write",
				 b->offs[i]);
			return -1;
		}
	}
	return 0;
}

static void free_writes(struct disk *dk, struct wbatch *b)
{
	gdev_hold_irq(dk->dev, false);
	if (b->reqs) {
		/* Whatever was never completed never will be. */
		gdev_abort(dk->dev);
		for (unsigned i = 0; i < b->count; i++)
			free(b->reqs[i].buf);
	}
	free(b->reqs);
	free(b->offs);
}

/* term-under-io COUNT SEED [twice]: queue COUNT writes at distinct offsets,
 * SIGTERM the daemon without waiting (twice: a second SIGTERM 50 ms later,
 * which must not cut the drain short), expect exit 0; every write the
 * device completed must be OK and be in the image file. */
static void cmd_term_under_io(struct session *s, int argc, char **argv,
			      struct result *res)
{
	struct disk *dk = cur_disk(s);
	unsigned count, completed, outstanding;
	struct gdev_stats before, at_term;
	struct wbatch b;
	uint64_t seed;
	char got[128];
	int rc;

	bool twice = argc > 3 && !strcmp(argv[3], "twice");

	if (!parse_uint(argv[1], 4096, &count) || !parse_u64(argv[2], &seed) ||
	    count == 0 || (argc > 3 && !twice)) {
		fail_msg(res, CMD_USAGE, "term-under-io COUNT SEED [twice]");
		return;
	}
	gdev_get_stats(dk->dev, &before);
	if (submit_writes(s, dk, count, seed, &b, res))
		goto out;
	/* How many the guest has not seen completed as the signal goes:
	 * the drain's work (none, and SIGTERM tested nothing). */
	gdev_get_stats(dk->dev, &at_term);
	outstanding =
	    b.submitted - (unsigned)(at_term.completed - before.completed);
	s->daemon_exit_expected = true;
	rc = sim_hv_signal_daemon(s->hv, SIGTERM);
	if (rc == 0 && twice) {
		usleep(50000);
		rc = sim_hv_signal_daemon(s->hv, SIGTERM);
	}
	gdev_hold_irq(dk->dev, false);
	if (rc < 0) {
		fail_msg(res, rc, "signal: %s", strerror(-rc));
		goto out;
	}
	rc = reap_daemon(s, s->timeout_ms);
	if (rc) {
		fail_msg(res, rc, "the daemon did not exit after SIGTERM: %s",
			 rc_name(rc));
		goto out;
	}
	describe_wstatus(s->daemon_wstatus, got, sizeof(got));
	if (!WIFEXITED(s->daemon_wstatus) || WEXITSTATUS(s->daemon_wstatus)) {
		fail_msg(res, -EIO, "daemon after SIGTERM: %s, expected exit 0",
			 got);
		goto out;
	}
	gdev_poll(dk->dev);
	if (gdev_error(dk->dev)) {
		fail_msg(res, -EIO, "%s", gdev_error(dk->dev));
		goto out;
	}
	if (check_writes(s, dk, &b, &completed, res))
		goto out;
	printf("term-under-io: %u of %u writes completed before the daemon "
	       "exited (%s); all of them are in the image; %u outstanding at "
	       "SIGTERM\n",
	       completed, b.submitted, got, outstanding);
out:
	free_writes(dk, &b);
}

/* reset-under-io COUNT SEED [reads] [after=MS] [linger=MS]: queue COUNT
 * writes (reads), reset the device at once (after: MS later, so that a
 * device serving its queues on threads of their own has taken some for
 * sure); with linger, wait MS after serving
 * the re-initialised device before looking at the old memory, so that
 * requests a fault rule holds back past the reset have completed by then.
 * Writes published before the reset completed must be OK and on disk; the
 * device must write nothing into guest RAM after the reset (rings, status
 * bytes of aborted requests), checked after the device is re-initialised
 * and has served more requests. */
static void cmd_reset_under_io(struct session *s, int argc, char **argv,
			       struct result *res)
{
	struct disk *dk = cur_disk(s);
	unsigned count, completed;
	struct wbatch b;
	uint64_t seed;
	char err[256];
	bool reads = false, bad = false;
	unsigned linger = 0, after = 0;
	int rc;

	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "reads"))
			reads = true;
		else if (!strncmp(argv[i], "after=", 6))
			bad |= !parse_uint(argv[i] + 6, 60000, &after);
		else if (strncmp(argv[i], "linger=", 7) ||
			 !parse_uint(argv[i] + 7, 60000, &linger))
			bad = true;
	}
	if (!parse_uint(argv[1], 4096, &count) || !parse_u64(argv[2], &seed) ||
	    count == 0 || bad) {
		fail_msg(res, CMD_USAGE,
			 "reset-under-io COUNT SEED [reads] [after=MS] "
			 "[linger=MS]");
		return;
	}
	gdev_quarantine(dk->dev, true);
	if (submit_batch(s, dk, count, seed, reads, &b, res))
		goto out;
	if (after)
		sleep_ms(after);
	rc = gdev_reset(dk->dev, 0);
	gdev_hold_irq(dk->dev, false);
	dk->dirty = true;
	if (rc) {
		fail_msg(res, rc, "reset: %s", rc_name(rc));
		goto out;
	}
	gdev_quarantine(dk->dev, false);
	if (check_writes(s, dk, &b, &completed, res))
		goto out;
	/* Serve more requests on fresh rings, then look at the old ones. */
	if (ensure_ready(s, dk, res))
		goto out;
	for (unsigned i = 0; i < b.submitted && i < 16; i++) {
		uint8_t buf[4096];

		if (do_rw(s, dk, false, b.offs[i], buf, sizeof(buf), res))
			goto out;
	}
	sleep_ms(linger);
	if (gdev_check_quarantine(dk->dev, err, sizeof(err))) {
		fail_msg(res, -EIO, "reset-under-io: %s", err);
		goto out;
	}
	printf("reset-under-io: %u of %u %s completed before the reset; "
	       "all of them %s the image; nothing written after it\n",
	       completed, b.submitted, reads ? "reads" : "writes",
	       reads ? "equal" : "are in");
out:
	gdev_check_quarantine(dk->dev, err, sizeof(err));
	free_writes(dk, &b);
}

/* exit-under-reset COUNT SEED: queue COUNT writes (a fault rule keeps them
 * in flight), reset the device from another vCPU thread, which the daemon
 * holds until the writes are done, then SIGINT twice: the second forces
 * an exit without waiting. The daemon must exit 1 on its own (no crash;
 * under ASan no use of what it freed while the reset was held) and the
 * held reset write must be answered, not left blocking the vCPU. */
struct held_reset {
	struct gdev *dev;
	int rc;
};

static void *held_reset_main(void *arg)
{
	struct held_reset *h = arg;

	h->rc = gdev_reset(h->dev, 0);
	return NULL;
}

static void cmd_exit_under_reset(struct session *s, int argc, char **argv,
				 struct result *res)
{
	struct disk *dk = cur_disk(s);
	struct held_reset h = {dk->dev, 0};
	struct wbatch b;
	unsigned count;
	uint64_t seed;
	pthread_t th;
	char got[128];
	int rc;

	(void)argc;
	if (!parse_uint(argv[1], 4096, &count) || !parse_u64(argv[2], &seed) ||
	    count == 0) {
		fail_msg(res, CMD_USAGE, "exit-under-reset COUNT SEED");
		return;
	}
	if (submit_writes(s, dk, count, seed, &b, res))
		goto out;
	if (pthread_create(&th, NULL, held_reset_main, &h)) {
		fail_msg(res, -ENOMEM, "pthread_create failed");
		goto out;
	}
	dk->dirty = true;
	usleep(200 * 1000); /* the Status write reaches the daemon */
	s->daemon_exit_expected = true;
	rc = sim_hv_signal_daemon(s->hv, SIGINT);
	usleep(50 * 1000);
	if (rc >= 0)
		rc = sim_hv_signal_daemon(s->hv, SIGINT);
	if (rc >= 0)
		rc = reap_daemon(s, s->timeout_ms);
	pthread_join(th, NULL);
	if (rc < 0) {
		fail_msg(res, rc,
			 "the daemon did not exit after two SIGINTs: %s",
			 rc_name(rc));
		goto out;
	}
	describe_wstatus(s->daemon_wstatus, got, sizeof(got));
	if (!WIFEXITED(s->daemon_wstatus) ||
	    WEXITSTATUS(s->daemon_wstatus) != 1) {
		fail_msg(res, -EIO,
			 "daemon after two SIGINTs: %s, expected "
			 "exit 1",
			 got);
		goto out;
	}
	printf("exit-under-reset: daemon %s while holding the reset; the "
	       "reset write returned %s\n",
	       got, h.rc == 0 ? "an answer" : rc_name(h.rc));
out:
	free_writes(dk, &b);
}

/* ------------------------------------------------------------ bad chains */

static void cmd_bad_chain(struct session *s, int argc, char **argv,
			  struct result *res);

/* ------------------------------------------------------------- the table */

static void cmd_expect(struct session *s, int argc, char **argv,
		       struct result *res);

static const struct cmd cmds[] = {
    {"info", 0, 0, true, cmd_info, "info",
     "probe if needed; print negotiated features and config space"},
    {"init", 0, 0, false, cmd_init, "init",
     "reset and initialise the device again (as at boot)"},
    {"reset", 0, 0, false, cmd_reset, "reset",
     "driver reset: Status 0, read back until 0"},
    {"freeze", 0, 0, true, cmd_freeze, "freeze",
     "a guest's suspend: Status read, reset, del_vqs (virtblk_freeze)"},
    {"restore", 0, 0, false, cmd_restore, "restore",
     "its resume: the features of the probe written again, new rings, "
     "DRIVER_OK; the capacity not read again (virtblk_restore)"},
    {"write", 2, 2, true, cmd_write, "write OFFSET FILE",
     "write FILE (multiple of 512 bytes) at byte OFFSET; on a read-only "
     "disk the guest refuses it (EPERM), as Linux does"},
    {"read", 3, 3, true, cmd_read, "read OFFSET LENGTH OUTFILE",
     "read LENGTH bytes at OFFSET into OUTFILE"},
    {"verify", 2, 2, true, cmd_verify, "verify OFFSET FILE",
     "read back and compare with FILE"},
    {"flush", 0, 0, true, cmd_flush, "flush", "VIRTIO_BLK_T_FLUSH"},
    {"discard", 2, 2, true, cmd_discard, "discard OFFSET LENGTH",
     "VIRTIO_BLK_T_DISCARD (split per max_discard_sectors/seg)"},
    {"write-zeroes", 2, 3, true, cmd_write_zeroes,
     "write-zeroes OFFSET LENGTH [unmap]",
     "VIRTIO_BLK_T_WRITE_ZEROES, optionally with the UNMAP flag (EPERM "
     "in the guest on a read-only disk)"},
    {"get-id", 0, 0, true, cmd_get_id, "get-id",
     "VIRTIO_BLK_T_GET_ID; prints 'serial: S'"},
    {"request", 3, 4, true, cmd_request, "request TYPE SECTOR LENGTH [in|out]",
     "any request type with LENGTH zeroed data bytes, sent whatever the "
     "disk offers (e.g. a write to a read-only disk: request 1 0 512)"},
    {"status", 0, 0, false, cmd_status, "status",
     "print the virtio status of the last request"},
    {"device", 1, 1, false, cmd_device, "device N",
     "address disk N (from 0) with the following commands"},
    {"features", 1, 1, false, cmd_features,
     "features all|MASK|-NAME[,-NAME...]",
     "limit the features the driver accepts (applied at the next "
     "initialisation), e.g. features -INDIRECT_DESC,-EVENT_IDX"},
    {"layout", 1, 1, false, cmd_layout, "layout linux|split|merged",
     "descriptor layout of later requests (split/merged test "
     "ANY_LAYOUT)"},
    {"indirect", 1, 1, false, cmd_indirect, "indirect on|off",
     "use indirect tables when negotiated (on, as Linux) or never"},
    {"segments", 1, 1, false, cmd_segments, "segments N",
     "data descriptors per request (0: one per 4 KiB, as pages)"},
    {"mmio-read", 2, 2, false, cmd_mmio_read, "mmio-read OFFSET SIZE",
     "raw register read in the device window; prints the value"},
    {"mmio-expect", 3, 3, false, cmd_mmio_expect,
     "mmio-expect OFFSET SIZE VALUE", "raw read; fail unless = VALUE"},
    {"mmio-write", 3, 3, false, cmd_mmio_write, "mmio-write OFFSET SIZE VALUE",
     "raw register write"},
    {"mem-write", 2, 2, false, cmd_mem_write, "mem-write GPA FILE",
     "copy FILE into guest RAM (bank 0 at 0x40000000, up to 3 GiB; the "
     "rest in bank 1 at 0x200000000; the driver never uses the first "
     "MiB)"},
    {"mem-read", 3, 3, false, cmd_mem_read, "mem-read GPA LENGTH OUTFILE",
     "copy guest RAM into OUTFILE"},
    {"wait-irq", 1, 1, false, cmd_wait_irq, "wait-irq MILLISECONDS",
     "wait for an interrupt edge not seen yet"},
    {"sleep", 1, 1, false, cmd_sleep, "sleep MILLISECONDS",
     "let time pass (the daemon's time-based rules)"},
    {"invalidate", 0, 0, false, cmd_invalidate, "invalidate",
     "IOREQ_TYPE_INVALIDATE from vCPU 0"},
    {"balloon", 1, 2, false, cmd_balloon, "balloon out MIB | balloon in",
     "the guest gives MIB of free RAM back to Xen (lowest first; the "
     "daemon gets IOREQ_TYPE_INVALIDATE; prints how many frames a "
     "backend still maps) or takes it back (fails while any is still "
     "mapped: Xen's over-allocation)"},
    {"random-io", 2, 8, true, cmd_random_io,
     "random-io COUNT SEED [MAXKB] [reads=PCT] [invalidate=N] "
     "[depth=N] [at=OFFSET] [region=MB] [threads=N]",
     "COUNT reads/writes (PCT% reads, default 40; reads only on a "
     "read-only disk) of 512 B..MAXKB KiB (default 256) at random "
     "512-byte offsets in region MiB (default 64) of the disk from "
     "byte at (default 0), with random segment counts (indirect when "
     "negotiated), "
     "from every vCPU thread (--vcpus; or threads=N), each keeping up "
     "to depth requests in flight. Requests in flight never overlap. "
     "Rule: a model starts as the image read on the host; each "
     "completed write updates it; each read must equal it; at the end "
     "(after a flush) the region read through the device and the "
     "image read on the host must both equal it. invalidate=N sends "
     "an INVALIDATE after every N requests"},
    {"term-under-io", 2, 3, true, cmd_term_under_io,
     "term-under-io COUNT SEED [twice]",
     "queue COUNT writes, SIGTERM the daemon at once (twice: again 50 ms "
     "later); it must exit 0 and every write it completed must be OK and "
     "in the image"},
    {"reset-under-io", 2, 5, true, cmd_reset_under_io,
     "reset-under-io COUNT SEED [reads] [after=MS] [linger=MS]",
     "queue COUNT writes (or reads), reset the device at once; writes "
     "completed before the reset must be in the image (reads equal to "
     "it), and the device must not write guest RAM after the reset "
     "(looked at MS after the device served again)"},
    {"bad-chain", 1, 1, true, cmd_bad_chain, "bad-chain KIND",
     "a hostile request (KIND: loop, oob, wrap, huge, nested, "
     "indirect-next, indirect-size, indirect-empty, bad-next, "
     "no-status, write-before-read, short-header, avail-jump); passes "
     "if the device answers it with a non-OK status (or asks for a "
     "reset) and stays alive"},
    {"exit-under-reset", 2, 2, true, cmd_exit_under_reset,
     "exit-under-reset COUNT SEED",
     "queue COUNT writes, reset from a second thread, SIGINT twice: the "
     "daemon must exit 1 cleanly and answer the held reset"},
    {"signal-daemon", 1, 1, false, cmd_signal_daemon,
     "signal-daemon TERM|INT|KILL|HUP|USR1|...", "send a signal"},
    {"expect-exit", 1, 1, false, cmd_expect_exit, "expect-exit CODE|SIGNAL",
     "wait for the daemon to exit with CODE (or die by SIGNAL)"},
    {"stats", 0, 0, false, cmd_stats, "stats",
     "driver and hypervisor counters, what holds guest RAM "
     "('guest-ram: memfd_secret' as on Xen, or 'memfd') and, with RAM in "
     "bank 1, how many frames of each bank a backend maps now "
     "('guest-ram-bank0: ...', 'guest-ram-bank1: ...')"},
    {"expect", 2, 16, false, cmd_expect, "expect OUTCOME COMMAND...",
     "run COMMAND; pass iff its outcome is OUTCOME: OK, IOERR, UNSUPP, "
     "NOSTATUS, NEEDS_RESET, BROKEN, ENODEV, ETIMEDOUT, EPIPE, EPROTO, "
     "EPERM (refused by the guest itself), EBUSY (domain paused) or FAIL "
     "(any failure)"},
};

static const struct cmd_table base_cmds = {cmds,
					   sizeof(cmds) / sizeof(cmds[0])};
/* Commands defined in files of their own (cmd_*.c). */
static const struct cmd_table *const cmd_tables[] = {
    &base_cmds, &hostile_cmds, &bench_cmds, &xl_cmds, &fault_cmds, &xen_cmds,
};
/* Their headings in --help, in the same order. */
static const char *const cmd_table_titles[] = {
    NULL,
    "Raw ring and register commands (the hostile guest, tests/hostile)",
    "Benchmarks",
    "The xenstore modes: a model of libxl 4.17 (--mode domid|watch)",
    "Disk faults (tests/faults)",
    "Xen's side of the guest's life (docs/xen-notes.md)",
};
_Static_assert(sizeof(cmd_tables) / sizeof(cmd_tables[0]) ==
		   sizeof(cmd_table_titles) / sizeof(cmd_table_titles[0]),
	       "a title per command table");

static const struct cmd *find_cmd(const char *name)
{
	for (size_t t = 0; t < sizeof(cmd_tables) / sizeof(cmd_tables[0]); t++)
		for (size_t i = 0; i < cmd_tables[t]->n; i++)
			if (!strcmp(cmd_tables[t]->cmds[i].name, name))
				return &cmd_tables[t]->cmds[i];
	return NULL;
}

/* The outcome name of a finished command (see 'expect'). */
static const char *outcome(struct session *s, const struct result *res)
{
	struct gdev *d = cur_disk(s)->dev;

	if (res->rc == 0)
		return "OK";
	if (res->rc == CMD_USAGE)
		return "USAGE";
	if (res->rc == -EIO && d) {
		if (gdev_needs_reset(d))
			return "NEEDS_RESET";
		if (gdev_error(d))
			return "BROKEN";
		if (res->status != STATUS_NONE &&
		    res->status != VIRTIO_BLK_S_OK)
			return status_name(res->status);
		return "FAIL";
	}
	return rc_name(res->rc);
}

/* In the xenstore modes there is no device before xl-create. */
static bool works_without_device(const struct cmd *c)
{
	static const char *const ok[] = {"signal-daemon", "expect-exit",
					 "stats", "expect", "status"};

	for (size_t i = 0; i < xl_cmds.n; i++)
		if (c == &xl_cmds.cmds[i])
			return true;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(c->name, ok[i]))
			return true;
	return false;
}

static void run_cmd(struct session *s, int argc, char **argv,
		    struct result *res)
{
	const struct cmd *c = find_cmd(argv[0]);

	if (!c) {
		fail_msg(res, CMD_USAGE, "unknown command '%s'", argv[0]);
		return;
	}
	if (argc - 1 < c->min_args || argc - 1 > c->max_args) {
		fail_msg(res, CMD_USAGE, "usage: %s", c->usage);
		return;
	}
	if (!cur_disk(s)->dev && !works_without_device(c)) {
		fail_msg(res, CMD_USAGE, "%s: no device (xl-create first)",
			 c->name);
		return;
	}
	if (c->high_level && ensure_ready(s, cur_disk(s), res))
		return;
	c->fn(s, argc, argv, res);
	/* After raw accesses the driver no longer knows the device's state:
	 * the next high-level command starts from a reset. */
	if (!strncmp(c->name, "mmio-", 5) || !strncmp(c->name, "mem-", 4) ||
	    !strcmp(c->name, "wait-irq"))
		cur_disk(s)->dirty = true;
}

static void cmd_expect(struct session *s, int argc, char **argv,
		       struct result *res)
{
	struct result inner = {.status = STATUS_NONE};
	const char *got;

	if (!strcmp(argv[1], "expect")) {
		fail_msg(res, CMD_USAGE, "expect cannot nest");
		return;
	}
	run_cmd(s, argc - 2, argv + 2, &inner);
	got = outcome(s, &inner);
	if (inner.rc == CMD_USAGE) {
		*res = inner;
		return;
	}
	if (!strcmp(got, argv[1]) || (!strcmp(argv[1], "FAIL") && inner.rc)) {
		if (s->verbose || inner.rc)
			printf("expect %s: got %s%s%s\n", argv[1], got,
			       inner.msg[0] ? " - " : "", inner.msg);
		return;
	}
	res->status = inner.status;
	fail_msg(res, -EIO, "expected %s, got %s%s%s", argv[1], got,
		 inner.msg[0] ? " - " : "", inner.msg);
}

/* ------------------------------------------------------------ bad chains */

/* Hostile chains written straight into the ring, bypassing the driver's
 * own checks. Every kind but avail-jump occupies one head the device must
 * give back; the driver then reclaims it as usual. */
static void cmd_bad_chain(struct session *s, int argc, char **argv,
			  struct result *res)
{
	struct disk *dk = cur_disk(s);
	const char *kind = argv[1];
	struct greq r;
	int rc;

	(void)argc;
	if (!strcmp(kind, "avail-jump")) {
		/* Move avail idx by more than the queue size: the device
		 * must refuse the ring (DEVICE_NEEDS_RESET, 2.7.13.3). */
		struct greq dummy;
		uint8_t buf[512];

		req_defaults(s, &dummy);
		dummy.type = VIRTIO_BLK_T_IN;
		dummy.buf = buf;
		dummy.len = 512;
		rc = gdev_submit_hostile(dk->dev, 0, &dummy, kind);
		if (rc) {
			fail_msg(res, rc, "bad-chain: %s", rc_name(rc));
			return;
		}
		rc = gdev_wait(dk->dev, 0, (struct greq *[]){&dummy}, 1, 1,
			       s->timeout_ms);
		dk->dirty = true;
		if (rc == -EIO && gdev_needs_reset(dk->dev)) {
			printf("bad-chain %s: device needs reset\n", kind);
			return;
		}
		fail_msg(res, rc ? rc : -EIO,
			 "bad-chain %s: expected DEVICE_NEEDS_RESET, got %s",
			 kind, rc ? rc_name(rc) : "a completion");
		return;
	}
	uint8_t buf[4096];

	req_defaults(s, &r);
	r.type = VIRTIO_BLK_T_IN;
	r.sector = 0;
	r.buf = buf;
	r.len = sizeof(buf);
	r.nseg = 1;
	rc = gdev_submit_hostile(dk->dev, 0, &r, kind);
	if (rc == -EINVAL) {
		fail_msg(res, CMD_USAGE, "unknown bad-chain kind '%s'", kind);
		return;
	}
	if (rc) {
		fail_msg(res, rc, "bad-chain %s: submit: %s", kind,
			 rc_name(rc));
		return;
	}
	rc = gdev_wait(dk->dev, 0, (struct greq *[]){&r}, 1, 1, s->timeout_ms);
	if (!r.done) {
		gdev_abort(dk->dev); /* r is on the stack */
		dk->dirty = true;
	}
	if (rc == -EIO && gdev_needs_reset(dk->dev)) {
		dk->dirty = true;
		printf("bad-chain %s: device needs reset\n", kind);
		return;
	}
	if (rc) {
		dk->dirty = true;
		fail_msg(res, rc, "bad-chain %s: %s%s%s", kind, rc_name(rc),
			 gdev_error(dk->dev) ? ": " : "",
			 gdev_error(dk->dev) ? gdev_error(dk->dev) : "");
		return;
	}
	if (r.status == VIRTIO_BLK_S_OK) {
		fail_msg(res, -EIO, "bad-chain %s: the device answered OK",
			 kind);
		return;
	}
	printf("bad-chain %s: status %s used-len %u\n", kind,
	       status_name(r.status), r.used_len);
}

/* ---------------------------------------------------------------- main */

/* One command's usage line and its help wrapped at 78 columns. */
static void print_cmd_help(FILE *f, const struct cmd *c)
{
	const char *h = c->help;

	fprintf(f, "  %s\n", c->usage);
	while (*h) {
		size_t n = strlen(h), cut = n;

		if (n > 72) {
			cut = 72;
			while (cut > 0 && h[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = 72;
		}
		fprintf(f, "      %.*s\n", (int)cut, h);
		h += cut;
		while (*h == ' ')
			h++;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sim-guest [--vcpus N] [--ram-mb N] [--alloc-high] "
		"[--daemon PATH]\n"
		"                 "
		"[--libdir DIR]\n"
		"                 [--domid N] [--timeout-ms N] [--daemon-arg "
		"ARG]... [--verbose]\n"
		"                 --disk PATH[,ro][,serial=S] [--disk ...] "
		"-c 'COMMAND' [-c ...]\n"
		"\n"
		"Starts the simulated Xen hypervisor, starts the daemon on it "
		"as\n"
		"  xen-virtio-blk --domid N --foreground --disk "
		"PATH,base=B,irq=I[,ro][,serial=S] ...\n"
		"(disk n at base 0x%llx + n*0x200, SPI %u + n, as libxl "
		"places them), waits\n"
		"until every window is served, then runs the commands in "
		"order as one guest\n"
		"with a Linux 6.1-like virtio_mmio + virtio_blk driver.\n"
		"\n"
		"Options:\n"
		"  --vcpus N       guest vCPUs (1..128, default 1); random-io "
		"uses one thread each\n"
		"  --ram-mb N      guest RAM in MiB (16..%llu, default 128): "
		"the first 3072 at\n"
		"                  0x40000000 (bank 0), the rest at "
		"0x200000000 (bank 1), as Xen\n"
		"                  on Arm lays it out\n"
		"  --alloc-high    the driver allocates rings and buffers "
		"from the highest free\n"
		"                  RAM first: in bank 1 if the guest has RAM "
		"there\n"
		"  --daemon PATH   default: xen-virtio-blk next to this "
		"program\n"
		"  --libdir DIR    drop-in Xen libraries, default: sim-lib "
		"next to this program\n"
		"  --domid N       the guest's domid (default 1)\n"
		"  --timeout-ms N  how long a request or register access may "
		"take (default %d)\n"
		"  --daemon-arg A  one more argument for the daemon\n"
		"  --daemon-env NAME=VALUE  one more environment variable for "
		"the daemon\n"
		"  --verbose       log hypercalls and driver steps to stderr\n"
		"  --ram-backing auto|secret|memfd  guest RAM in secret "
		"memory, where O_DIRECT\n"
		"                  fails with EFAULT as on Xen's foreign "
		"mappings (secret), or a\n"
		"                  plain memfd; auto (default): secret if "
		"the kernel allows it\n"
		"                  and the daemon can map it (with --runas: "
		"RLIMIT_MEMLOCK)\n"
		"  --no-ioreq-server  a hypervisor built without "
		"CONFIG_IOREQ_SERVER (Debian's\n"
		"                  arm64 Xen 4.17): every DMOP fails with "
		"ENOSYS\n"
		"  --mode disk|domid|watch  how the daemon gets its disks: "
		"--disk (default);\n"
		"                  or from xenstore, guests made by xl-create "
		"(no --disk):\n"
		"                  one --domid N process per guest, or the "
		"--watch supervisor\n"
		"\n"
		"Offsets and lengths are bytes, decimal or 0x-hex; block "
		"offsets and lengths\n"
		"must be multiples of 512. Register offsets are relative to "
		"the current\n"
		"device's window. The device is initialised by the first "
		"command that needs\n"
		"it, and again after raw accesses (mmio-write, reset) or when "
		"it broke.\n"
		"\nCommands:\n",
		MMIO_BASE, FIRST_SPI, SIM_RAM_MAX >> 20,
		GUEST_DEFAULT_TIMEOUT_MS);
	for (size_t t = 0; t < sizeof(cmd_tables) / sizeof(cmd_tables[0]);
	     t++) {
		if (cmd_table_titles[t])
			fprintf(f, "\n%s:\n", cmd_table_titles[t]);
		for (size_t i = 0; i < cmd_tables[t]->n; i++)
			print_cmd_help(f, &cmd_tables[t]->cmds[i]);
	}
	fprintf(f,
		"\nExit status: 0 if every command succeeded and the daemon "
		"neither died\nunexpectedly nor broke the ioreq protocol; "
		"1 otherwise (the failing\ncommand and its virtio status are "
		"printed); 2 for a bad command line.\nAt the end the guest "
		"resets its devices (as Linux does at poweroff), then\nthe "
		"daemon gets SIGTERM and must exit 0.\n");
}

static int split_words(char *line, char **argv, int max)
{
	int n = 0;

	for (char *p = line; *p;) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		if (n == max)
			return -1;
		argv[n++] = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (*p)
			*p++ = 0;
	}
	return n;
}

static int parse_disk(struct disk *dk, unsigned n, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	char extra[256] = "";
	int ret = 0;

	tok = strtok_r(copy, ",", &save);
	if (!tok || strlen(tok) >= sizeof(dk->path)) {
		free(copy);
		return -1;
	}
	snprintf(dk->path, sizeof(dk->path), "%s", tok);
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "ro"))
			dk->ro = true;
		else if (!strncmp(tok, "serial=", 7) &&
			 strlen(extra) + strlen(tok) + 2 < sizeof(extra))
			snprintf(extra + strlen(extra),
				 sizeof(extra) - strlen(extra), ",%s", tok);
		else
			ret = -1;
	}
	dk->base = MMIO_BASE + n * MMIO_SIZE;
	dk->irq = FIRST_SPI + n;
	dk->feature_mask = ~0ULL;
	char suffix[512];

	snprintf(suffix, sizeof(suffix), ",base=0x%llx,irq=%u%s%s",
		 (unsigned long long)dk->base, dk->irq, dk->ro ? ",ro" : "",
		 extra);
	if (strlen(dk->path) + strlen(suffix) >= sizeof(dk->spec))
		ret = -1;
	else
		sprintf(dk->spec, "%s%s", copy, suffix);
	free(copy);
	return ret;
}

/* Whether the daemon's arguments make it drop root (--runas USER). */
static bool drops_root(char *const *args, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(args[i], "--runas") ||
		    !strncmp(args[i], "--runas=", 8))
			return true;
	return false;
}

static bool daemon_ok(struct session *s, char *why, size_t len)
{
	if (s->daemon_exit_expected)
		return true;
	if (sim_hv_daemon_alive(s->hv))
		return true;
	if (reap_daemon(s, 1000) == 0) {
		char ws[128];

		describe_wstatus(s->daemon_wstatus, ws, sizeof(ws));
		snprintf(why, len, "the daemon died unexpectedly (%s)", ws);
	} else {
		snprintf(why, len, "the daemon died unexpectedly");
	}
	return false;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"vcpus", required_argument, NULL, 'v'},
	    {"ram-mb", required_argument, NULL, 'm'},
	    {"alloc-high", no_argument, NULL, 'H'},
	    {"daemon", required_argument, NULL, 'D'},
	    {"libdir", required_argument, NULL, 'L'},
	    {"domid", required_argument, NULL, 'i'},
	    {"timeout-ms", required_argument, NULL, 't'},
	    {"daemon-arg", required_argument, NULL, 'a'},
	    {"daemon-env", required_argument, NULL, 'e'},
	    {"verbose", no_argument, NULL, 'V'},
	    {"mode", required_argument, NULL, 'M'},
	    {"disk", required_argument, NULL, 'd'},
	    {"ram-backing", required_argument, NULL, 'R'},
	    {"no-ioreq-server", no_argument, NULL, 'N'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct session sess;
	struct session *s = &sess;
	char *commands[MAX_CMDS];
	char *daemon_args[64];
	unsigned ncmds = 0, ndargs = 0, ram_mb = 128, domid = 1;
	char self[PATH_MAX], daemon[PATH_MAX], libdir[PATH_MAX];
	const char *daemon_opt = NULL, *libdir_opt = NULL;
	enum sim_ram_backing backing = SIM_RAM_AUTO;
	bool no_ioreq_server = false;
	bool alloc_high = false;
	int opt, ret = 1;

	s->vcpus = 1;
	s->timeout_ms = GUEST_DEFAULT_TIMEOUT_MS;
	s->last_status = STATUS_NONE;
	while ((opt = getopt_long(argc, argv, "c:h", lopts, NULL)) != -1) {
		unsigned v;

		switch (opt) {
		case 'v':
			if (!parse_uint(optarg, 128, &v) || v == 0)
				goto bad;
			s->vcpus = v;
			break;
		case 'm':
			if (!parse_uint(optarg, SIM_RAM_MAX >> 20, &v) ||
			    v < 16)
				goto bad;
			ram_mb = v;
			break;
		case 'H':
			alloc_high = true;
			break;
		case 'D':
			daemon_opt = optarg;
			break;
		case 'L':
			libdir_opt = optarg;
			break;
		case 'i':
			if (!parse_uint(optarg, 0x7fef, &domid) || domid == 0)
				goto bad;
			break;
		case 't':
			if (!parse_uint(optarg, 3600000, &v) || v == 0)
				goto bad;
			s->timeout_ms = (int)v;
			break;
		case 'a':
			if (ndargs == 64)
				goto bad;
			daemon_args[ndargs++] = optarg;
			break;
		case 'e':
			/* Still one thread: the daemon inherits environ. */
			if (optarg[0] == '=' || !strchr(optarg, '=') ||
			    putenv(optarg))
				goto bad;
			break;
		case 'V':
			s->verbose = true;
			break;
		case 'N':
			no_ioreq_server = true;
			break;
		case 'R':
			if (!strcmp(optarg, "auto"))
				backing = SIM_RAM_AUTO;
			else if (!strcmp(optarg, "secret"))
				backing = SIM_RAM_SECRET;
			else if (!strcmp(optarg, "memfd"))
				backing = SIM_RAM_MEMFD;
			else
				goto bad;
			break;
		case 'M':
			if (!strcmp(optarg, "disk"))
				s->mode = MODE_DISK;
			else if (!strcmp(optarg, "domid"))
				s->mode = MODE_DOMID;
			else if (!strcmp(optarg, "watch"))
				s->mode = MODE_WATCH;
			else
				goto bad;
			break;
		case 'd':
			if (s->ndisks == MAX_DISKS ||
			    parse_disk(&s->disks[s->ndisks], s->ndisks,
				       optarg)) {
				fprintf(stderr,
					"sim-guest: bad --disk '%s' (at most "
					"%u; PATH[,ro][,serial=S])\n",
					optarg, MAX_DISKS);
				return 2;
			}
			s->ndisks++;
			break;
		case 'c':
			if (ncmds == MAX_CMDS)
				goto bad;
			commands[ncmds++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	/* --disk in disk mode only, and needed there. */
	if (optind != argc || (s->mode == MODE_DISK) != (s->ndisks > 0))
		goto bad;

	/* Defaults next to this program. */
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0) {
		perror("sim-guest: /proc/self/exe");
		return 1;
	}
	self[n] = 0;
	char *dir = dirname(self);

	snprintf(daemon, sizeof(daemon), "%s/xen-virtio-blk", dir);
	snprintf(libdir, sizeof(libdir), "%s/sim-lib", dir);
	if (daemon_opt)
		snprintf(daemon, sizeof(daemon), "%s", daemon_opt);
	if (libdir_opt)
		snprintf(libdir, sizeof(libdir), "%s", libdir_opt);

	/* Leave a dead daemon's pipe writes as errors, not deaths. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* A daemon that drops root loses CAP_IPC_LOCK: each secret page it
	 * maps then counts against RLIMIT_MEMLOCK (8 MiB by default), which
	 * privcmd mappings never do. */
	if (backing == SIM_RAM_AUTO && drops_root(daemon_args, ndargs) &&
	    !sim_hv_memlock_unlimited()) {
		backing = SIM_RAM_MEMFD;
		fprintf(stderr,
			"sim-guest: guest RAM in a plain memfd: the daemon "
			"drops root (--runas) and RLIMIT_MEMLOCK cannot be "
			"lifted for secret memory\n");
	}
	struct sim_hv_config cfg = {
	    .vcpus = s->vcpus,
	    .ram_bytes = (uint64_t)ram_mb << 20,
	    .domid = s->mode == MODE_DISK ? domid : 0,
	    .socket_path = NULL,
	    .verbose = s->verbose,
	    .ram_backing = backing,
	    .no_ioreq_server = no_ioreq_server,
	};

	s->hv = sim_hv_new(&cfg);
	if (!s->hv) {
		fprintf(stderr, "sim-guest: cannot start the hypervisor: %s\n",
			strerror(errno));
		return 1;
	}
	if (s->mode != MODE_DISK) {
		/* Guests come and go with xl-create and xl-destroy. */
		if (xl_start(s, daemon, libdir, daemon_args, ndargs, domid))
			goto out;
		goto session;
	}
	s->g = guest_new(s->hv, s->vcpus);
	if (!s->g) {
		fprintf(stderr, "sim-guest: out of memory\n");
		goto out;
	}
	guest_set_timeout(s->g, s->timeout_ms);
	guest_set_alloc_high(s->g, alloc_high);
	for (unsigned i = 0; i < s->ndisks; i++) {
		s->disks[i].dev =
		    gdev_new(s->g, s->disks[i].base, s->disks[i].irq);
		if (!s->disks[i].dev) {
			fprintf(stderr, "sim-guest: out of memory\n");
			goto out;
		}
	}

	/* The daemon's command line. */
	char domid_s[16];
	char *dargv[3 + 1 + 2 * MAX_DISKS + 64 + 1];
	unsigned k = 0;

	snprintf(domid_s, sizeof(domid_s), "%u", domid);
	dargv[k++] = daemon;
	dargv[k++] = "--domid";
	dargv[k++] = domid_s;
	dargv[k++] = "--foreground";
	for (unsigned i = 0; i < s->ndisks; i++) {
		dargv[k++] = "--disk";
		dargv[k++] = s->disks[i].spec;
	}
	for (unsigned i = 0; i < ndargs; i++)
		dargv[k++] = daemon_args[i];
	dargv[k] = NULL;
	if (s->verbose) {
		fprintf(stderr, "sim-guest: starting");
		for (unsigned i = 0; i < k; i++)
			fprintf(stderr, " %s", dargv[i]);
		fprintf(stderr, "\n");
	}
	if (sim_hv_spawn(s->hv, libdir, dargv) < 0) {
		fprintf(stderr, "sim-guest: cannot start %s\n", daemon);
		goto out;
	}
	for (unsigned i = 0; i < s->ndisks; i++) {
		int rc = sim_hv_wait_ready(s->hv, s->disks[i].base, MMIO_SIZE,
					   s->timeout_ms);

		if (rc) {
			char why[256] = "";

			if (rc == -EPIPE && reap_daemon(s, 1000) == 0)
				describe_wstatus(s->daemon_wstatus, why,
						 sizeof(why));
			fprintf(stderr,
				"sim-guest: device %u (0x%llx) was never "
				"served: %s%s%s\n",
				i, (unsigned long long)s->disks[i].base,
				rc == -EPIPE ? "the daemon exited"
					     : "timed out",
				why[0] ? ", " : "", why);
			goto out;
		}
	}

	/* Xen broadcasts one INVALIDATE while the domain boots, before the
	 * guest's first MMIO access (e2e-testbed.md, contract facts). */
	int irc = sim_hv_invalidate(s->hv, 0, s->timeout_ms);

	if (irc) {
		fprintf(stderr, "sim-guest: boot-time INVALIDATE: %s\n",
			rc_name(irc));
		goto out;
	}

	/* The session. */
session:;
	bool failed = false;

	for (unsigned i = 0; i < ncmds && !failed; i++) {
		char *line = strdup(commands[i]);
		char *words[32];
		int nw = line ? split_words(line, words, 32) : -1;
		struct result res = {.status = STATUS_NONE};
		char why[256];

		if (nw <= 0) {
			fprintf(stderr, "sim-guest: command %u '%s': %s\n",
				i + 1, commands[i],
				nw == 0 ? "empty" : "too many words");
			free(line);
			failed = true;
			break;
		}
		if (s->verbose)
			fprintf(stderr, "sim-guest: [%u] %s\n", i + 1,
				commands[i]);
		run_cmd(s, nw, words, &res);
		if (res.rc) {
			fprintf(stderr,
				"sim-guest: command %u '%s' failed: %s "
				"(virtio status %s)%s%s\n",
				i + 1, commands[i], outcome(s, &res),
				status_name(res.status), res.msg[0] ? ": " : "",
				res.msg);
			failed = true;
		} else if (!daemon_ok(s, why, sizeof(why))) {
			fprintf(stderr,
				"sim-guest: after command %u '%s': %s\n", i + 1,
				commands[i], why);
			failed = true;
		}
		free(line);
	}

	if (s->mode != MODE_DISK && xl_finish(s))
		failed = true;
	/* Poweroff: Linux resets its virtio devices, then dom0 stops the
	 * daemon. */
	char why[256];

	if (!failed && !daemon_ok(s, why, sizeof(why))) {
		fprintf(stderr, "sim-guest: %s\n", why);
		failed = true;
	}
	if (!s->daemon_exit_expected && sim_hv_daemon_alive(s->hv)) {
		/* A paused or dead domain runs no poweroff of its own. */
		struct sim_dom *dom = sim_hv_default_domain(s->hv);
		bool runs = s->mode != MODE_DISK ||
			    (dom && sim_dom_life(dom) == SIM_LIFE_ALIVE &&
			     !sim_dom_paused(dom));

		for (unsigned i = 0; runs && i < s->ndisks && !failed; i++) {
			if (!gdev_ready(s->disks[i].dev))
				continue;
			int rc = gdev_reset(s->disks[i].dev, 0);

			if (rc) {
				fprintf(stderr,
					"sim-guest: poweroff reset of device "
					"%u failed: %s\n",
					i, rc_name(rc));
				failed = true;
			}
		}
		s->daemon_exit_expected = true;
		if (sim_hv_signal_daemon(s->hv, SIGTERM) < 0 ||
		    reap_daemon(s, s->timeout_ms) != 0) {
			fprintf(stderr, "sim-guest: the daemon did not exit on "
					"SIGTERM\n");
			failed = true;
		} else if (!WIFEXITED(s->daemon_wstatus) ||
			   WEXITSTATUS(s->daemon_wstatus) != 0) {
			describe_wstatus(s->daemon_wstatus, why, sizeof(why));
			fprintf(stderr,
				"sim-guest: the daemon ended with %s after "
				"SIGTERM, expected exit 0\n",
				why);
			failed = true;
		} else if (s->mode == MODE_WATCH && !xl_children_ok(s)) {
			failed = true;
		}
	}
	struct sim_hv_stats hs;

	sim_hv_get_stats(s->hv, &hs);
	if (hs.protocol_errors) {
		fprintf(stderr,
			"sim-guest: the hypervisor saw %" PRIu64
			" ioreq protocol errors\n",
			hs.protocol_errors);
		failed = true;
	}
	ret = failed ? 1 : 0;
out:
	for (unsigned i = 0; i < s->ndisks; i++)
		gdev_free(s->disks[i].dev);
	guest_free(s->g);
	sim_hv_free(s->hv);
	if (s->mode != MODE_DISK)
		xl_cleanup(s);
	return ret;
bad:
	fprintf(stderr, "sim-guest: bad command line (see --help)\n");
	return 2;
}
