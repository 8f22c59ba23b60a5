/* SPDX-License-Identifier: GPL-2.0-only */
/* sim-guest commands for the hostile-guest suite (tests/hostile/, issue 5).
 *
 * A raw driver: the handshake steps, one split ring and its descriptors are
 * written by hand into the first MiB of guest RAM (which the Linux-like
 * driver never allocates), so that a test can break any rule on purpose and
 * check the device's exact answer: the used entry, the status byte, the
 * Status register, InterruptStatus, the image on the host. Plus sweeps over
 * the register window, floods, storms and the daemon's resource usage.
 *
 * Addresses (ADDR) are numbers or the names of the raw areas, optionally
 * followed by +N or -N: ram, ramend, desc, avail, used, hdr, st, hdr2, st2,
 * table, table2, data, data2, and balloon (the RAM the last `balloon out`
 * gave back). ram is where RAM starts, ramend just past its last byte (in
 * bank 1 if the guest has RAM there, sim_hv.h). Flags are letters N
 * (NEXT), W (WRITE) and I (INDIRECT), a number, or '-' for none. */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "guest.h"
#include "sim_guest.h"
#include "sim_hv.h"

/* The raw areas, offsets from the start of guest RAM (all in the first
 * MiB of bank 0, GUEST_RESERVED_LOW). The rings have room for 1024
 * entries. */
#define RAW_DESC	0x00000
#define RAW_AVAIL	0x04000
#define RAW_USED	0x05000
#define RAW_RINGS_END	0x08000
#define RAW_HDR		0x08000
#define RAW_ST		0x08100
#define RAW_HDR2	0x08200
#define RAW_ST2		0x08300
#define RAW_TABLE	0x09000
#define RAW_TABLE2	0x0d000
#define RAW_DATA	0x20000
#define RAW_DATA2	0x80000
#define RAW_NUM_DEFAULT 8
#define RAW_MAX_NUM	1024
#define ST_SENTINEL	0xff /* a status byte the device never wrote */

#define F(bit) (1ULL << (bit))
#define RAW_FEATURES_DEF                                                       \
	(F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_INDIRECT_DESC))

/* The raw driver's view of its one queue of a device: the one queue-setup
 * set up last (queue 0 unless q= said otherwise). */
struct raw_queue {
	bool set; /* queue-setup wrote it (whether the device took it or not) */
	unsigned index;
	unsigned num;
	uint64_t desc, avail, used;
	uint16_t avail_idx; /* what we published in avail->idx */
	uint16_t used_seen; /* used entries consumed by used-expect */
};

static struct raw_queue raw_queues[MAX_DISKS];

/* Resource usage of the daemon at usage-mark. */
static struct {
	bool have;
	long rss_kb, fds;
} usage_base;

/* ---------------------------------------------------------------- helpers */

static struct raw_queue *rawq(struct session *s)
{
	return &raw_queues[s->cur];
}

static struct gdev *cur_dev(struct session *s)
{
	return cur_disk(s)->dev;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int reg_read(struct session *s, uint32_t off, uint32_t *v,
		    struct result *res)
{
	uint64_t x = 0;
	int rc = gdev_mmio_read(cur_dev(s), 0, off, 4, &x);

	if (rc)
		fail_msg(res, rc, "read of register 0x%x: %s", off,
			 rc_name(rc));
	*v = (uint32_t)x;
	return rc;
}

static int reg_write(struct session *s, uint32_t off, uint32_t v,
		     struct result *res)
{
	int rc = gdev_mmio_write(cur_dev(s), 0, off, 4, v);

	if (rc)
		fail_msg(res, rc, "write of 0x%x to register 0x%x: %s", v, off,
			 rc_name(rc));
	return rc;
}

static const struct {
	const char *name;
	uint64_t off;
} areas[] = {
    {"ram", 0},		  {"desc", RAW_DESC},
    {"avail", RAW_AVAIL}, {"used", RAW_USED},
    {"hdr", RAW_HDR},	  {"st", RAW_ST},
    {"hdr2", RAW_HDR2},	  {"st2", RAW_ST2},
    {"table", RAW_TABLE}, {"table2", RAW_TABLE2},
    {"data", RAW_DATA},	  {"data2", RAW_DATA2},
};

/* NAME[+N|-N] or N; arithmetic wraps, as a hostile address may. */
static bool parse_addr(struct session *s, const char *tok, uint64_t *v)
{
	size_t n = strcspn(tok, "+-");
	uint64_t base = 0, delta = 0;
	bool found = false;

	if (n == 0)
		return false;
	if (n == 6 && !strncmp(tok, "ramend", 6)) {
		base = sim_ram_end(sim_hv_ram_size(s->hv));
		found = true;
	}
	if (n == 7 && !strncmp(tok, "balloon", 7)) {
		if (!s->balloon_gpa)
			return false;
		base = s->balloon_gpa; /* also once taken back */
		found = true;
	}
	for (size_t i = 0; !found && i < sizeof(areas) / sizeof(areas[0]);
	     i++) {
		if (strlen(areas[i].name) == n &&
		    !strncmp(tok, areas[i].name, n)) {
			base = SIM_RAM0_BASE + areas[i].off;
			found = true;
		}
	}
	if (!found)
		return !tok[n] && parse_u64(tok, v);
	if (tok[n] && !parse_u64(tok + n + 1, &delta))
		return false;
	*v = tok[n] == '-' ? base - delta : base + delta;
	return true;
}

static bool parse_flags(const char *tok, uint16_t *f)
{
	uint64_t x;

	*f = 0;
	if (!strcmp(tok, "-"))
		return true;
	if (parse_u64(tok, &x))
		return x <= 0xffff ? (*f = (uint16_t)x, true) : false;
	for (const char *p = tok; *p; p++) {
		if (*p == 'N')
			*f |= VRING_DESC_F_NEXT;
		else if (*p == 'W')
			*f |= VRING_DESC_F_WRITE;
		else if (*p == 'I')
			*f |= VRING_DESC_F_INDIRECT;
		else
			return false;
	}
	return true;
}

/* VERSION_1,INDIRECT_DESC,bit40 or a number. */
static bool parse_features(const char *tok, uint64_t *f)
{
	char buf[256], *save = NULL;

	if (parse_u64(tok, f))
		return true;
	if (strlen(tok) >= sizeof(buf))
		return false;
	strcpy(buf, tok);
	*f = 0;
	for (char *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		unsigned b;

		if (!strncmp(t, "bit", 3) && parse_uint(t + 3, 63, &b)) {
			*f |= F(b);
			continue;
		}
		for (b = 0; b < 64; b++)
			if (gdev_feature_name(b) &&
			    !strcmp(gdev_feature_name(b), t))
				break;
		if (b == 64)
			return false;
		*f |= F(b);
	}
	return true;
}

static bool parse_type(const char *tok, uint32_t *type)
{
	static const struct {
		const char *name;
		uint32_t type;
	} types[] = {
	    {"in", VIRTIO_BLK_T_IN},
	    {"out", VIRTIO_BLK_T_OUT},
	    {"flush", VIRTIO_BLK_T_FLUSH},
	    {"get-id", VIRTIO_BLK_T_GET_ID},
	    {"discard", VIRTIO_BLK_T_DISCARD},
	    {"write-zeroes", VIRTIO_BLK_T_WRITE_ZEROES},
	};
	uint64_t x;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (!strcmp(tok, types[i].name)) {
			*type = types[i].type;
			return true;
		}
	}
	if (!parse_u64(tok, &x) || x > UINT32_MAX)
		return false;
	*type = (uint32_t)x;
	return true;
}

/* KEY=VALUE among argv[from..argc), or NULL. */
static const char *kv(int argc, char **argv, int from, const char *key)
{
	size_t kl = strlen(key);

	for (int i = from; i < argc; i++)
		if (!strncmp(argv[i], key, kl) && argv[i][kl] == '=')
			return argv[i] + kl + 1;
	return NULL;
}

/* Guest RAM for [gpa, gpa+len), or a usage failure. */
static uint8_t *ram(struct session *s, uint64_t gpa, uint64_t len,
		    struct result *res)
{
	uint8_t *p = guest_ptr(s->g, gpa, len);

	if (!p)
		fail_msg(res, CMD_USAGE,
			 "[0x%" PRIx64 ", +0x%" PRIx64 ") is not guest RAM",
			 gpa, len);
	return p;
}

static void put_le(uint8_t *p, unsigned size, uint64_t v)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const volatile uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void write_desc(uint8_t *p, uint64_t addr, uint32_t len, uint16_t flags,
		       uint16_t next)
{
	put_le(p, 8, addr);
	put_le(p + 8, 4, len);
	put_le(p + 12, 2, flags);
	put_le(p + 14, 2, next);
}

/* The queue's rings, once queue-setup placed them in RAM. */
static int rings(struct session *s, struct raw_queue *q,
		 volatile struct vring_avail **av,
		 volatile struct vring_used **us, struct result *res)
{
	if (!q->set || q->num == 0 || q->num > RAW_MAX_NUM ||
	    (q->num & (q->num - 1))) {
		fail_msg(res, CMD_USAGE, "no usable raw queue (queue-setup)");
		return -1;
	}
	*av = (volatile struct vring_avail *)ram(s, q->avail, 6 + 2 * q->num,
						 res);
	*us =
	    (volatile struct vring_used *)ram(s, q->used, 6 + 8 * q->num, res);
	return *av && *us ? 0 : -1;
}

static void avail_push(struct raw_queue *q, volatile struct vring_avail *av,
		       uint16_t head)
{
	av->ring[q->avail_idx & (q->num - 1)] = htole16(head);
	q->avail_idx++;
	__atomic_store_n(&av->idx, htole16(q->avail_idx), __ATOMIC_RELEASE);
}

/* The next used entry, waiting for it; 0 or -1 (res filled). */
static int next_used(struct session *s, struct raw_queue *q, uint32_t *id,
		     uint32_t *len, struct result *res)
{
	volatile struct vring_avail *av;
	volatile struct vring_used *us;
	long long deadline = now_ms() + s->timeout_ms;

	if (rings(s, q, &av, &us, res))
		return -1;
	while (le16toh(__atomic_load_n(&us->idx, __ATOMIC_ACQUIRE)) ==
	       q->used_seen) {
		if (!sim_hv_daemon_alive(s->hv)) {
			fail_msg(res, -EPIPE, "the daemon died");
			return -1;
		}
		if (now_ms() > deadline) {
			fail_msg(res, -ETIMEDOUT,
				 "no used entry after %d ms (used idx %u)",
				 s->timeout_ms, q->used_seen);
			return -1;
		}
		usleep(50);
	}
	*id = le32toh(us->ring[q->used_seen & (q->num - 1)].id);
	*len = le32toh(us->ring[q->used_seen & (q->num - 1)].len);
	q->used_seen++;
	return 0;
}

static int notify(struct session *s, uint32_t qi, struct result *res)
{
	return reg_write(s, VIRTIO_MMIO_QUEUE_NOTIFY, qi, res);
}

/* ------------------------------------------------------------ handshake */

/* Status 0, then read back until 0 (the write may be held while requests
 * drain). The raw queue is forgotten; the driver re-initialises before its
 * next request. */
static int raw_reset(struct session *s, struct result *res)
{
	uint32_t v = 1;

	cur_disk(s)->dirty = true;
	memset(rawq(s), 0, sizeof(*rawq(s)));
	/* As Linux's vm_reset(): the write, answered once the reset is
	 * complete; one read checks it. */
	if (reg_write(s, VIRTIO_MMIO_STATUS, 0, res) ||
	    reg_read(s, VIRTIO_MMIO_STATUS, &v, res))
		return -1;
	if (v == 0)
		return 0;
	fail_msg(res, -EIO,
		 "Status reads 0x%x once the reset write is answered", v);
	return -1;
}

static int status_add(struct session *s, uint32_t bits, struct result *res)
{
	uint32_t v;

	if (reg_read(s, VIRTIO_MMIO_STATUS, &v, res))
		return -1;
	return reg_write(s, VIRTIO_MMIO_STATUS, v | bits, res);
}

static int features_write(struct session *s, uint64_t f, struct result *res)
{
	if (reg_write(s, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1, res) ||
	    reg_write(s, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32),
		      res) ||
	    reg_write(s, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0, res) ||
	    reg_write(s, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f, res))
		return -1;
	return 0;
}

/* Acknowledge every pending interrupt; later waits start from here. */
static int irq_sync(struct session *s, struct result *res)
{
	struct gdev *d = cur_dev(s);
	uint32_t isr;

	if (reg_read(s, VIRTIO_MMIO_INTERRUPT_STATUS, &isr, res) ||
	    reg_write(s, VIRTIO_MMIO_INTERRUPT_ACK, isr, res))
		return -1;
	gdev_set_irq_seen(d, sim_hv_irq_edges(s->hv, gdev_info(d)->irq));
	return 0;
}

static int queue_setup(struct session *s, int argc, char **argv, int from,
		       struct result *res)
{
	struct raw_queue *q = rawq(s);
	const char *v;
	unsigned qi = 0, ready = 1, raw = 1;
	uint64_t num = RAW_NUM_DEFAULT;
	uint64_t desc = SIM_RAM0_BASE + RAW_DESC;
	uint64_t avail = SIM_RAM0_BASE + RAW_AVAIL;
	uint64_t used = SIM_RAM0_BASE + RAW_USED;

	if (((v = kv(argc, argv, from, "q")) && !parse_uint(v, ~0u, &qi)) ||
	    ((v = kv(argc, argv, from, "num")) &&
	     (!parse_u64(v, &num) || num > UINT32_MAX)) ||
	    ((v = kv(argc, argv, from, "desc")) && !parse_addr(s, v, &desc)) ||
	    ((v = kv(argc, argv, from, "avail")) &&
	     !parse_addr(s, v, &avail)) ||
	    ((v = kv(argc, argv, from, "used")) && !parse_addr(s, v, &used)) ||
	    ((v = kv(argc, argv, from, "ready")) &&
	     !parse_uint(v, ~0u, &ready)) ||
	    ((v = kv(argc, argv, from, "raw")) && !parse_uint(v, 1, &raw))) {
		fail_msg(res, CMD_USAGE, "bad queue-setup argument");
		return -1;
	}
	if (raw && (qi == 0 || !q->set)) {
		/* Fresh rings: nothing available, nothing used; a status
		 * byte nobody wrote. */
		memset(sim_hv_ram(s->hv), 0, RAW_RINGS_END);
		sim_hv_ram(s->hv)[RAW_ST] = ST_SENTINEL;
		*q = (struct raw_queue){.set = true,
					.index = qi,
					.num = (unsigned)num,
					.desc = desc,
					.avail = avail,
					.used = used};
	}
	if (reg_write(s, VIRTIO_MMIO_QUEUE_SEL, qi, res) ||
	    reg_write(s, VIRTIO_MMIO_QUEUE_NUM, (uint32_t)num, res) ||
	    reg_write(s, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc, res) ||
	    reg_write(s, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32),
		      res) ||
	    reg_write(s, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail, res) ||
	    reg_write(s, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32),
		      res) ||
	    reg_write(s, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used, res) ||
	    reg_write(s, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32),
		      res))
		return -1;
	if (kv(argc, argv, from, "ready") && ready != 1)
		return ready ? reg_write(s, VIRTIO_MMIO_QUEUE_READY, ready, res)
			     : 0;
	return reg_write(s, VIRTIO_MMIO_QUEUE_READY, 1, res);
}

static void cmd_raw_reset(struct session *s, int argc, char **argv,
			  struct result *res)
{
	(void)argc;
	(void)argv;
	raw_reset(s, res);
}

/* raw-init [num=N] [features=F] [stop=features|queue]: the whole handshake
 * by hand, queue 0 on the raw rings; fails unless Status ends 0xf and
 * QueueReady 1. stop= ends it after FEATURES_OK (which must stick) or
 * after the queue is set up, before DRIVER_OK. */
static void cmd_raw_init(struct session *s, int argc, char **argv,
			 struct result *res)
{
	uint64_t feat = RAW_FEATURES_DEF;
	const char *v = kv(argc, argv, 1, "features");
	const char *stop = kv(argc, argv, 1, "stop");
	char num_arg[32] = "num=8";
	char *qargv[] = {num_arg};
	uint32_t st, ready;

	if ((v && !parse_features(v, &feat)) ||
	    (stop && strcmp(stop, "features") && strcmp(stop, "queue"))) {
		fail_msg(res, CMD_USAGE,
			 "raw-init [num=N] [features=F] "
			 "[stop=features|queue]");
		return;
	}
	if ((v = kv(argc, argv, 1, "num")))
		snprintf(num_arg, sizeof(num_arg), "num=%s", v);
	if (raw_reset(s, res) ||
	    status_add(s, VIRTIO_CONFIG_S_ACKNOWLEDGE, res) ||
	    status_add(s, VIRTIO_CONFIG_S_DRIVER, res) ||
	    features_write(s, feat, res) ||
	    status_add(s, VIRTIO_CONFIG_S_FEATURES_OK, res) ||
	    reg_read(s, VIRTIO_MMIO_STATUS, &st, res))
		return;
	if (st != 0xb) {
		fail_msg(res, -EIO,
			 "raw-init: Status 0x%x after FEATURES_OK (features "
			 "0x%" PRIx64 " refused?)",
			 st, feat);
		return;
	}
	if (stop && !strcmp(stop, "features")) {
		irq_sync(s, res);
		return;
	}
	if (queue_setup(s, 1, qargv, 0, res))
		return;
	if (stop) {
		irq_sync(s, res);
		return;
	}
	if (status_add(s, VIRTIO_CONFIG_S_DRIVER_OK, res) ||
	    reg_read(s, VIRTIO_MMIO_STATUS, &st, res) ||
	    reg_read(s, VIRTIO_MMIO_QUEUE_READY, &ready, res))
		return;
	if (st != 0xf || ready != 1) {
		fail_msg(res, -EIO,
			 "raw-init: Status 0x%x, QueueReady %u (expected "
			 "0xf, 1)",
			 st, ready);
		return;
	}
	irq_sync(s, res);
}

static void cmd_status_add(struct session *s, int argc, char **argv,
			   struct result *res)
{
	uint64_t bits;

	(void)argc;
	if (!parse_u64(argv[1], &bits) || bits > UINT32_MAX) {
		fail_msg(res, CMD_USAGE, "status-add BITS");
		return;
	}
	cur_disk(s)->dirty = true;
	status_add(s, (uint32_t)bits, res);
}

/* expect-status VALUE [MASK]: (Status & MASK) == VALUE. */
static void cmd_expect_status(struct session *s, int argc, char **argv,
			      struct result *res)
{
	uint64_t want, mask = 0xffffffff;
	uint32_t v;

	if (!parse_u64(argv[1], &want) ||
	    (argc > 2 && !parse_u64(argv[2], &mask))) {
		fail_msg(res, CMD_USAGE, "expect-status VALUE [MASK]");
		return;
	}
	if (reg_read(s, VIRTIO_MMIO_STATUS, &v, res))
		return;
	if ((v & mask) != want)
		fail_msg(res, -EIO,
			 "Status is 0x%x (masked 0x%" PRIx64
			 "), expected 0x%" PRIx64,
			 v, v & mask, want);
}

/* wait-status VALUE [MASK]: as expect-status, but the device may take
 * until the timeout to get there: a device serving its queues on threads
 * of its own (--io-threads) reacts to a notification after answering it. */
static void cmd_wait_status(struct session *s, int argc, char **argv,
			    struct result *res)
{
	uint64_t want, mask = 0xffffffff;
	struct timespec pause = {0, 1000000};
	uint32_t v = 0;

	if (!parse_u64(argv[1], &want) ||
	    (argc > 2 && !parse_u64(argv[2], &mask))) {
		fail_msg(res, CMD_USAGE, "wait-status VALUE [MASK]");
		return;
	}
	for (int ms = 0; ms <= s->timeout_ms; ms++) {
		if (reg_read(s, VIRTIO_MMIO_STATUS, &v, res))
			return;
		if ((v & mask) == want)
			return;
		nanosleep(&pause, NULL);
	}
	fail_msg(res, -ETIMEDOUT,
		 "Status is 0x%x (masked 0x%" PRIx64 "), expected 0x%" PRIx64
		 " within %d ms",
		 v, v & mask, want, s->timeout_ms);
}

static void cmd_features_write(struct session *s, int argc, char **argv,
			       struct result *res)
{
	uint64_t f;

	(void)argc;
	if (!parse_features(argv[1], &f)) {
		fail_msg(res, CMD_USAGE, "bad features '%s'", argv[1]);
		return;
	}
	cur_disk(s)->dirty = true;
	features_write(s, f, res);
}

static void cmd_queue_setup(struct session *s, int argc, char **argv,
			    struct result *res)
{
	cur_disk(s)->dirty = true;
	queue_setup(s, argc, argv, 1, res);
}

/* ----------------------------------------------------------- the ring */

static void cmd_desc(struct session *s, int argc, char **argv,
		     struct result *res)
{
	bool table = !strcmp(argv[0], "idesc");
	int a = table ? 2 : 1;
	uint64_t base, idx, addr, len, next = 0;
	uint16_t flags;
	uint8_t *p;

	if (table && !parse_addr(s, argv[1], &base)) {
		fail_msg(res, CMD_USAGE, "bad table address '%s'", argv[1]);
		return;
	}
	if (!table) {
		if (!rawq(s)->set) {
			fail_msg(res, CMD_USAGE, "no raw queue (queue-setup)");
			return;
		}
		base = rawq(s)->desc;
	}
	if (!parse_u64(argv[a], &idx) || idx > 0xffff ||
	    !parse_addr(s, argv[a + 1], &addr) ||
	    !parse_u64(argv[a + 2], &len) || len > UINT32_MAX ||
	    !parse_flags(argv[a + 3], &flags) ||
	    (argc > a + 4 &&
	     (!parse_u64(argv[a + 4], &next) || next > 0xffff))) {
		fail_msg(res, CMD_USAGE, "%s%s IDX ADDR LEN FLAGS [NEXT]",
			 argv[0], table ? " TABLE" : "");
		return;
	}
	p = ram(s, base + 16 * idx, 16, res);
	if (p)
		write_desc(p, addr, (uint32_t)len, flags, (uint16_t)next);
}

/* idesc-fill TABLE FIRST COUNT ADDR LEN FLAGS: entries FIRST.. of the
 * table at TABLE describe consecutive LEN-byte buffers from ADDR, each
 * entry's next the one after it. */
static void cmd_idesc_fill(struct session *s, int argc, char **argv,
			   struct result *res)
{
	uint64_t base, first, count, addr, len;
	uint16_t flags;
	uint8_t *p;

	(void)argc;
	if (!parse_addr(s, argv[1], &base) || !parse_u64(argv[2], &first) ||
	    !parse_u64(argv[3], &count) || first + count > 0x10000 ||
	    !parse_addr(s, argv[4], &addr) || !parse_u64(argv[5], &len) ||
	    len > UINT32_MAX || !parse_flags(argv[6], &flags)) {
		fail_msg(res, CMD_USAGE,
			 "idesc-fill TABLE FIRST COUNT ADDR LEN FLAGS");
		return;
	}
	p = ram(s, base + 16 * first, 16 * count, res);
	for (uint64_t i = 0; p && i < count; i++)
		write_desc(p + 16 * i, addr + i * len, (uint32_t)len, flags,
			   (uint16_t)(first + i + 1));
}

/* avail HEAD... (no notify); kick HEAD... (then QueueNotify 0). */
static void cmd_avail(struct session *s, int argc, char **argv,
		      struct result *res)
{
	struct raw_queue *q = rawq(s);
	volatile struct vring_avail *av;
	volatile struct vring_used *us;

	if (rings(s, q, &av, &us, res))
		return;
	for (int i = 1; i < argc; i++) {
		uint64_t h;

		if (!parse_u64(argv[i], &h) || h > 0xffff) {
			fail_msg(res, CMD_USAGE, "bad head '%s'", argv[i]);
			return;
		}
		avail_push(q, av, (uint16_t)h);
	}
	if (!strcmp(argv[0], "kick"))
		notify(s, q->index, res);
}

/* avail-idx VALUE|+N: publish an arbitrary available index. */
static void cmd_avail_idx(struct session *s, int argc, char **argv,
			  struct result *res)
{
	struct raw_queue *q = rawq(s);
	volatile struct vring_avail *av;
	volatile struct vring_used *us;
	bool rel = argv[1][0] == '+';
	uint64_t v;

	(void)argc;
	if (!parse_u64(argv[1] + rel, &v) || v > 0xffff) {
		fail_msg(res, CMD_USAGE, "avail-idx VALUE|+N");
		return;
	}
	if (rings(s, q, &av, &us, res))
		return;
	q->avail_idx = (uint16_t)(rel ? q->avail_idx + v : v);
	__atomic_store_n(&av->idx, htole16(q->avail_idx), __ATOMIC_RELEASE);
}

static void cmd_notify(struct session *s, int argc, char **argv,
		       struct result *res)
{
	uint64_t qi = 0;

	if (argc > 1 && (!parse_u64(argv[1], &qi) || qi > UINT32_MAX)) {
		fail_msg(res, CMD_USAGE, "notify [QUEUE]");
		return;
	}
	notify(s, (uint32_t)qi, res);
}

/* used-expect HEAD|* LEN [STATUS|-]: the next used entry is {HEAD, LEN}
 * (any head for '*': requests that may complete in either order); the
 * status byte at `st` is STATUS, or '-': never written. */
static void cmd_used_expect(struct session *s, int argc, char **argv,
			    struct result *res)
{
	uint64_t head = 0, len, st = ST_SENTINEL;
	bool any = !strcmp(argv[1], "*");
	uint32_t id, got;
	uint8_t *stp;

	if ((!any && !parse_u64(argv[1], &head)) || !parse_u64(argv[2], &len) ||
	    (argc > 3 && strcmp(argv[3], "-") && !parse_u64(argv[3], &st))) {
		fail_msg(res, CMD_USAGE, "used-expect HEAD|* LEN [STATUS|-]");
		return;
	}
	if (next_used(s, rawq(s), &id, &got, res))
		return;
	if ((!any && id != head) || got != len) {
		fail_msg(
		    res, -EIO,
		    "used entry {id %u, len %u}, expected {id %s, len %" PRIu64
		    "}",
		    id, got, argv[1], len);
		return;
	}
	if (argc <= 3)
		return;
	stp = ram(s, SIM_RAM0_BASE + RAW_ST, 1, res);
	if (stp && *(volatile uint8_t *)stp != st) {
		fail_msg(res, -EIO, "status byte is 0x%02x, expected %s", *stp,
			 st == ST_SENTINEL ? "it unwritten (0xff)" : argv[3]);
		res->status = *stp;
	}
}

/* used-none: the device published nothing new. The daemon answers a
 * QueueNotify before it serves the queue, so first one register read on
 * the same vCPU: it is answered only after that work is done. With I/O
 * threads the queue's own thread does that work, unordered with the
 * read: so the used index is watched for 100 ms more. */
static void cmd_used_none(struct session *s, int argc, char **argv,
			  struct result *res)
{
	struct raw_queue *q = rawq(s);
	volatile struct vring_avail *av;
	volatile struct vring_used *us;
	uint16_t idx;
	uint32_t v;

	(void)argc;
	(void)argv;
	if (rings(s, q, &av, &us, res))
		return;
	if (reg_read(s, VIRTIO_MMIO_STATUS, &v, res))
		return;
	for (int i = 0; i < 20; i++) {
		idx = le16toh(__atomic_load_n(&us->idx, __ATOMIC_ACQUIRE));
		if (idx != q->used_seen) {
			fail_msg(res, -EIO, "used idx is %u, expected %u", idx,
				 q->used_seen);
			return;
		}
		usleep(5000);
	}
}

/* hdr TYPE SECTOR [ADDR]: a request header; the status byte at `st` goes
 * back to the sentinel. */
static void cmd_hdr(struct session *s, int argc, char **argv,
		    struct result *res)
{
	uint64_t sector, at = SIM_RAM0_BASE + RAW_HDR;
	uint32_t type;
	uint8_t *p, *st;

	if (!parse_type(argv[1], &type) || !parse_u64(argv[2], &sector) ||
	    (argc > 3 && !parse_addr(s, argv[3], &at))) {
		fail_msg(res, CMD_USAGE, "hdr TYPE SECTOR [ADDR]");
		return;
	}
	p = ram(s, at, 16, res);
	st = ram(s, SIM_RAM0_BASE + RAW_ST, 1, res);
	if (!p || !st)
		return;
	put_le(p, 4, type);
	put_le(p + 4, 4, 0);
	put_le(p + 8, 8, sector);
	*st = ST_SENTINEL;
}

static void cmd_put(struct session *s, int argc, char **argv,
		    struct result *res)
{
	uint64_t at, size, v;
	uint8_t *p;

	(void)argc;
	if (!parse_addr(s, argv[1], &at) || !parse_u64(argv[2], &size) ||
	    !size || size > 8 || !parse_u64(argv[3], &v)) {
		fail_msg(res, CMD_USAGE, "put ADDR SIZE VALUE");
		return;
	}
	p = ram(s, at, size, res);
	if (p)
		put_le(p, (unsigned)size, v);
}

static void cmd_expect_mem(struct session *s, int argc, char **argv,
			   struct result *res)
{
	uint64_t at, size, want, got;
	uint8_t *p;

	(void)argc;
	if (!parse_addr(s, argv[1], &at) || !parse_u64(argv[2], &size) ||
	    !size || size > 8 || !parse_u64(argv[3], &want)) {
		fail_msg(res, CMD_USAGE, "expect-mem ADDR SIZE VALUE");
		return;
	}
	p = ram(s, at, size, res);
	if (!p)
		return;
	got = get_le(p, (unsigned)size);
	if (got != want)
		fail_msg(res, -EIO,
			 "guest memory at 0x%" PRIx64 " holds 0x%" PRIx64
			 ", expected 0x%" PRIx64,
			 at, got, want);
}

/* fill ADDR LEN BYTE / expect-fill ADDR LEN BYTE */
/* mmio-rep read|write OFFSET SIZE COUNT value|ptr DATA [EXPECT]: an x86
 * string access to the registers; DATA is a value or (ptr) a guest address
 * (NAME[+N] as for put). Prints the data field of the answer, which must
 * equal EXPECT if given. */
static void cmd_mmio_rep(struct session *s, int argc, char **argv,
			 struct result *res)
{
	uint64_t off, size, data, want = 0;
	unsigned count;
	bool write = !strcmp(argv[1], "write");
	bool ptr = !strcmp(argv[5], "ptr");
	int rc;

	if ((!write && strcmp(argv[1], "read")) || !parse_u64(argv[2], &off) ||
	    off > 0xffffffffu || !parse_u64(argv[3], &size) ||
	    !parse_uint(argv[4], SIM_REP_MAX, &count) ||
	    (!ptr && strcmp(argv[5], "value")) ||
	    !(ptr ? parse_addr(s, argv[6], &data)
		  : parse_u64(argv[6], &data)) ||
	    (argc > 7 && !parse_u64(argv[7], &want))) {
		fail_msg(res, CMD_USAGE,
			 "mmio-rep read|write OFFSET SIZE COUNT value|ptr "
			 "DATA [EXPECT]");
		return;
	}
	cur_disk(s)->dirty = true;
	rc = gdev_mmio_rep(cur_dev(s), 0, (uint32_t)off, (unsigned)size, count,
			   ptr, write, &data);
	if (rc) {
		fail_msg(res, rc, "mmio-rep 0x%" PRIx64 ": %s", off,
			 rc_name(rc));
		return;
	}
	printf("0x%" PRIx64 "\n", data);
	if (argc > 7 && data != want)
		fail_msg(res, -EIO,
			 "mmio-rep 0x%" PRIx64 " answered 0x%" PRIx64
			 ", expected 0x%" PRIx64,
			 off, data, want);
}

static void cmd_fill(struct session *s, int argc, char **argv,
		     struct result *res)
{
	uint64_t at, len, byte;
	uint8_t *p;

	(void)argc;
	if (!parse_addr(s, argv[1], &at) || !parse_u64(argv[2], &len) ||
	    len > MAX_IO_BYTES || !parse_u64(argv[3], &byte) || byte > 0xff) {
		fail_msg(res, CMD_USAGE, "%s ADDR LEN BYTE", argv[0]);
		return;
	}
	p = ram(s, at, len, res);
	if (!p)
		return;
	if (!strcmp(argv[0], "fill")) {
		memset(p, (int)byte, len);
		return;
	}
	for (uint64_t i = 0; i < len; i++) {
		if (p[i] != byte) {
			fail_msg(res, -EIO,
				 "guest byte at 0x%" PRIx64
				 " is 0x%02x, expected 0x%02x (the device "
				 "wrote where it must not)",
				 at + i, p[i], (unsigned)byte);
			return;
		}
	}
}

/* expect-image ADDR LEN OFFSET: guest RAM equals the image at OFFSET. */
static void cmd_expect_image(struct session *s, int argc, char **argv,
			     struct result *res)
{
	uint64_t at, len, off;
	uint8_t *p, *img;
	int rc;

	(void)argc;
	if (!parse_addr(s, argv[1], &at) || !parse_u64(argv[2], &len) ||
	    len > MAX_IO_BYTES || !parse_u64(argv[3], &off)) {
		fail_msg(res, CMD_USAGE, "expect-image ADDR LEN OFFSET");
		return;
	}
	p = ram(s, at, len, res);
	img = malloc(len ? len : 1);
	if (!p || !img) {
		if (!img)
			fail_msg(res, -ENOMEM, "out of memory");
		free(img);
		return;
	}
	rc = host_pread(cur_disk(s)->path, off, img, len);
	if (rc)
		fail_msg(res, CMD_USAGE, "%s: %s", cur_disk(s)->path,
			 strerror(-rc));
	else if (memcmp(p, img, len))
		fail_msg(res, -EIO,
			 "guest RAM at 0x%" PRIx64
			 " differs from the image at %" PRIu64,
			 at, off);
	free(img);
}

/* expect-disk OFFSET LEN BYTE: every image byte there is BYTE (on the
 * host: a refused write never reached the image). */
static void cmd_expect_disk(struct session *s, int argc, char **argv,
			    struct result *res)
{
	uint64_t off, len, byte;
	uint8_t *img;
	int rc;

	(void)argc;
	if (!parse_u64(argv[1], &off) || !parse_u64(argv[2], &len) ||
	    len > MAX_IO_BYTES || !parse_u64(argv[3], &byte) || byte > 0xff) {
		fail_msg(res, CMD_USAGE, "expect-disk OFFSET LEN BYTE");
		return;
	}
	img = malloc(len ? len : 1);
	if (!img) {
		fail_msg(res, -ENOMEM, "out of memory");
		return;
	}
	rc = host_pread(cur_disk(s)->path, off, img, len);
	if (rc) {
		fail_msg(res, CMD_USAGE, "%s: %s", cur_disk(s)->path,
			 strerror(-rc));
	} else {
		for (uint64_t i = 0; i < len; i++) {
			if (img[i] != byte) {
				fail_msg(res, -EIO,
					 "image byte at %" PRIu64
					 " is 0x%02x, expected 0x%02x",
					 off + i, img[i], (unsigned)byte);
				break;
			}
		}
	}
	free(img);
}

/* raw-good [HEAD]: a well-formed 512-byte read of sector 1 on descriptors
 * HEAD..HEAD+2 (default: the last three) must complete OK with the image's
 * bytes: the queue still works. */
static void cmd_raw_good(struct session *s, int argc, char **argv,
			 struct result *res)
{
	struct raw_queue *q = rawq(s);
	volatile struct vring_avail *av;
	volatile struct vring_used *us;
	uint64_t head;
	uint8_t *desc, *hdr, *st, *data, img[512];
	uint32_t id, len;
	int rc;

	if (rings(s, q, &av, &us, res))
		return;
	head = q->num >= 3 ? q->num - 3 : 0;
	if ((argc > 1 && !parse_u64(argv[1], &head)) || head + 3 > q->num) {
		fail_msg(res, CMD_USAGE, "raw-good [HEAD] (3 descriptors)");
		return;
	}
	desc = ram(s, q->desc + 16 * head, 48, res);
	hdr = ram(s, SIM_RAM0_BASE + RAW_HDR2, 16, res);
	st = ram(s, SIM_RAM0_BASE + RAW_ST2, 1, res);
	data = ram(s, SIM_RAM0_BASE + RAW_DATA2, 512, res);
	if (!desc || !hdr || !st || !data)
		return;
	put_le(hdr, 4, VIRTIO_BLK_T_IN);
	put_le(hdr + 4, 4, 0);
	put_le(hdr + 8, 8, 1);
	*st = ST_SENTINEL;
	memset(data, 0x5a, 512);
	write_desc(desc, SIM_RAM0_BASE + RAW_HDR2, 16, VRING_DESC_F_NEXT,
		   (uint16_t)(head + 1));
	write_desc(desc + 16, SIM_RAM0_BASE + RAW_DATA2, 512,
		   VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
		   (uint16_t)(head + 2));
	write_desc(desc + 32, SIM_RAM0_BASE + RAW_ST2, 1, VRING_DESC_F_WRITE,
		   0);
	avail_push(q, av, (uint16_t)head);
	if (notify(s, 0, res) || next_used(s, q, &id, &len, res))
		return;
	if (id != head || len != 513 || *st != VIRTIO_BLK_S_OK) {
		fail_msg(res, -EIO,
			 "a good read got used {id %u, len %u}, status 0x%02x; "
			 "expected {id %" PRIu64 ", len 513}, status 0",
			 id, len, *st, head);
		return;
	}
	rc = host_pread(cur_disk(s)->path, 512, img, sizeof(img));
	if (rc)
		fail_msg(res, CMD_USAGE, "%s: %s", cur_disk(s)->path,
			 strerror(-rc));
	else if (memcmp(img, data, sizeof(img)))
		fail_msg(res, -EIO, "a good read returned the wrong data");
}

/* ------------------------------------------------------------ interrupts */

static void cmd_irq_sync(struct session *s, int argc, char **argv,
			 struct result *res)
{
	(void)argc;
	(void)argv;
	irq_sync(s, res);
}

/* expect-irq BITS: an interrupt edge arrives (or already did) and
 * InterruptStatus has BITS (1 used buffer, 2 configuration change); it is
 * then acknowledged. */
static void cmd_expect_irq(struct session *s, int argc, char **argv,
			   struct result *res)
{
	struct gdev *d = cur_dev(s);
	unsigned irq = gdev_info(d)->irq;
	uint64_t bits;
	uint32_t isr;
	int rc;

	(void)argc;
	if (!parse_u64(argv[1], &bits) || bits > 3) {
		fail_msg(res, CMD_USAGE, "expect-irq BITS (1, 2 or 3)");
		return;
	}
	rc = sim_hv_wait_irq(s->hv, irq, gdev_irq_seen(d), s->timeout_ms);
	if (rc) {
		fail_msg(res, rc, "no interrupt on SPI %u", irq);
		return;
	}
	if (reg_read(s, VIRTIO_MMIO_INTERRUPT_STATUS, &isr, res))
		return;
	if ((isr & bits) != bits) {
		fail_msg(res, -EIO,
			 "InterruptStatus is 0x%x, expected bits 0x%" PRIx64,
			 isr, bits);
		return;
	}
	if (reg_write(s, VIRTIO_MMIO_INTERRUPT_ACK, isr, res))
		return;
	gdev_set_irq_seen(d, sim_hv_irq_edges(s->hv, irq));
}

static void cmd_expect_isr(struct session *s, int argc, char **argv,
			   struct result *res)
{
	uint64_t want;
	uint32_t isr;

	(void)argc;
	if (!parse_u64(argv[1], &want)) {
		fail_msg(res, CMD_USAGE, "expect-isr VALUE");
		return;
	}
	if (!reg_read(s, VIRTIO_MMIO_INTERRUPT_STATUS, &isr, res) &&
	    isr != want)
		fail_msg(res, -EIO,
			 "InterruptStatus is 0x%x, expected 0x%" PRIx64, isr,
			 want);
}

/* ---------------------------------------------------------------- sweeps */

#define SWEEP_END (MMIO_SIZE + 8) /* a little past the window */

/* Whether the window right after the current device's is served too:
 * the daemon maps all its disks' windows (adjacent, as libxl places them)
 * on its one IOREQ server, and Xen's rangeset merges adjacent ranges. */
static bool next_window_served(struct session *s)
{
	uint64_t next = cur_disk(s)->base + MMIO_SIZE;

	for (unsigned i = 0; i < s->ndisks; i++)
		if (s->disks[i].dev && s->disks[i].base == next)
			return true;
	return false;
}

static int sweep_access(struct session *s, bool write, uint32_t off,
			unsigned size, uint64_t *val, struct result *res)
{
	int rc = write ? gdev_mmio_write(cur_dev(s), 0, off, size, *val)
		       : gdev_mmio_read(cur_dev(s), 0, off, size, val);
	const char *want = "";

	/* Not entirely inside the window: Xen forwards the access only if
	 * all its bytes lie in one range of the server's rangeset, i.e. when
	 * the next disk's window follows (docs/xen-notes.md 2); the daemon
	 * must then ignore a straddling access (reads give 0), and one
	 * entirely in the next window reads that device's registers.
	 * Otherwise Xen injects a data abort (ENODEV here). */
	if (off + size > MMIO_SIZE) {
		if (!next_window_served(s)) {
			if (rc == -ENODEV)
				return 1;
			want = ", expected a data abort (ENODEV)";
		} else {
			if (rc == 0 && (write || off >= MMIO_SIZE || *val == 0))
				return 1;
			want = ", expected the daemon to answer 0 (the next "
			       "window is the same server's)";
		}
	} else if (rc == 0) {
		return 0;
	}
	fail_msg(res, rc ? rc : -EIO,
		 "%u-byte %s at 0x%x: %s (value 0x%" PRIx64 ")%s", size,
		 write ? "write" : "read", off, rc_name(rc), *val, want);
	return -1;
}

/* The config window byte by byte, and every 32-bit control register. */
static int snapshot(struct session *s, uint8_t *cfg, uint32_t *regs,
		    struct result *res)
{
	for (uint32_t off = VIRTIO_MMIO_CONFIG; off < MMIO_SIZE; off++) {
		uint64_t v;
		int rc = gdev_mmio_read(cur_dev(s), 0, off, 1, &v);

		if (rc) {
			fail_msg(res, rc, "1-byte read at 0x%x: %s", off,
				 rc_name(rc));
			return -1;
		}
		cfg[off - VIRTIO_MMIO_CONFIG] = (uint8_t)v;
	}
	for (uint32_t off = 0; off < VIRTIO_MMIO_CONFIG; off += 4)
		if (reg_read(s, off, &regs[off / 4], res))
			return -1;
	return 0;
}

/* sweep-read: 1, 2, 4 and 8-byte reads at every offset of the window and a
 * little past it. Control registers (below 0x100) answer only aligned
 * 32-bit reads (virtio 1.2 §4.2.2.2), everything else there reads 0; the
 * config space reads the same bytes at any size and alignment; bytes past
 * the device's config structure read 0. */
static void cmd_sweep_read(struct session *s, int argc, char **argv,
			   struct result *res)
{
	uint8_t cfg[MMIO_SIZE - VIRTIO_MMIO_CONFIG];
	uint32_t regs[VIRTIO_MMIO_CONFIG / 4];
	unsigned n = 0, outside = 0;

	(void)argc;
	(void)argv;
	if (snapshot(s, cfg, regs, res))
		return;
	if (regs[0] != 0x74726976 || regs[1] != 2 || regs[2] != 2) {
		fail_msg(res, -EIO, "magic/version/device id 0x%x/%u/%u",
			 regs[0], regs[1], regs[2]);
		return;
	}
	for (size_t i = sizeof(struct virtio_blk_config); i < sizeof(cfg); i++)
		if (cfg[i]) {
			fail_msg(res, -EIO,
				 "config byte 0x%zx (past the config "
				 "structure) reads 0x%02x",
				 i, cfg[i]);
			return;
		}
	for (unsigned size = 1; size <= 8; size *= 2) {
		for (uint32_t off = 0; off < SWEEP_END; off++) {
			uint64_t v = 0, want = 0;
			int rc = sweep_access(s, false, off, size, &v, res);

			if (rc < 0)
				return;
			n++;
			if (rc > 0 || off + size > MMIO_SIZE) {
				outside++;
				continue;
			}
			if (off < VIRTIO_MMIO_CONFIG) {
				if (size == 4 && off % 4 == 0)
					want = regs[off / 4];
			} else {
				want = get_le(cfg + off - VIRTIO_MMIO_CONFIG,
					      size);
			}
			if (v != want) {
				fail_msg(res, -EIO,
					 "%u-byte read at 0x%x gave 0x%" PRIx64
					 ", expected 0x%" PRIx64,
					 size, off, v, want);
				return;
			}
		}
	}
	printf("sweep-read: %u reads, %u not inside the window\n", n, outside);
}

/* sweep-write: all-ones writes the device must ignore (every size and
 * offset except aligned 32-bit control registers: misaligned or
 * mis-sized control accesses, the read-only config space, accesses
 * straddling the window's end); afterwards the register file and config
 * space are unchanged. */
static void cmd_sweep_write(struct session *s, int argc, char **argv,
			    struct result *res)
{
	uint8_t cfg[MMIO_SIZE - VIRTIO_MMIO_CONFIG], cfg2[sizeof(cfg)];
	uint32_t regs[VIRTIO_MMIO_CONFIG / 4], regs2[VIRTIO_MMIO_CONFIG / 4];
	unsigned n = 0;

	(void)argc;
	(void)argv;
	if (snapshot(s, cfg, regs, res))
		return;
	for (unsigned size = 1; size <= 8; size *= 2) {
		for (uint32_t off = 0; off < MMIO_SIZE; off++) {
			uint64_t v = ~0ULL;

			if (off < VIRTIO_MMIO_CONFIG && size == 4 &&
			    off % 4 == 0)
				continue;
			if (sweep_access(s, true, off, size, &v, res) < 0)
				return;
			n++;
		}
	}
	if (snapshot(s, cfg2, regs2, res))
		return;
	if (memcmp(cfg, cfg2, sizeof(cfg))) {
		fail_msg(res, -EIO, "ignored writes changed the config space");
		return;
	}
	for (unsigned i = 0; i < VIRTIO_MMIO_CONFIG / 4; i++) {
		if (regs[i] != regs2[i]) {
			fail_msg(res, -EIO,
				 "ignored writes changed register 0x%x: 0x%x "
				 "-> 0x%x",
				 i * 4, regs[i], regs2[i]);
			return;
		}
	}
	printf("sweep-write: %u ignored writes, registers and config space "
	       "unchanged\n",
	       n);
}

/* sweep-write-regs VALUE: VALUE into every aligned 32-bit control register
 * in turn, then every register still reads. */
static void cmd_sweep_write_regs(struct session *s, int argc, char **argv,
				 struct result *res)
{
	uint64_t val;
	uint32_t v;

	(void)argc;
	if (!parse_u64(argv[1], &val) || val > UINT32_MAX) {
		fail_msg(res, CMD_USAGE, "sweep-write-regs VALUE");
		return;
	}
	cur_disk(s)->dirty = true;
	memset(rawq(s), 0, sizeof(*rawq(s)));
	for (uint32_t off = 0; off < VIRTIO_MMIO_CONFIG; off += 4)
		if (reg_write(s, off, (uint32_t)val, res))
			return;
	for (uint32_t off = 0; off < VIRTIO_MMIO_CONFIG; off += 4)
		if (reg_read(s, off, &v, res))
			return;
}

/* ---------------------------------------------------------------- floods */

enum flood_kind { FL_WRITE, FL_READ, FL_INVALIDATE };

struct flood {
	struct session *s;
	enum flood_kind kind;
	uint32_t off;
	unsigned size;
	uint64_t val;
	unsigned count;
	unsigned cpu;
	pthread_t tid;
	int rc;
};

static void *flood_main(void *arg)
{
	struct flood *f = arg;
	struct session *s = f->s;

	for (unsigned i = 0; i < f->count && !f->rc; i++) {
		uint64_t v = f->val;

		if (f->kind == FL_INVALIDATE)
			f->rc = sim_hv_invalidate(s->hv, f->cpu, s->timeout_ms);
		else if (f->kind == FL_WRITE)
			f->rc = gdev_mmio_write(cur_dev(s), f->cpu, f->off,
						f->size, v);
		else
			f->rc = gdev_mmio_read(cur_dev(s), f->cpu, f->off,
					       f->size, &v);
	}
	return NULL;
}

/* Writes queued through the driver for a flood to run over. */
struct flood_io {
	unsigned n;
	struct greq reqs[64];
	uint8_t *buf;
};

static int flood_io_start(struct session *s, struct flood_io *io,
			  struct result *res)
{
	struct disk *dk = cur_disk(s);
	uint64_t rng = seed_of(io->n);

	io->buf = malloc((size_t)io->n * 4096);
	if (!io->buf) {
		fail_msg(res, -ENOMEM, "out of memory");
		return -1;
	}
	if (ensure_ready(s, dk, res))
		return -1;
	for (unsigned k = 0; k < io->n; k++) {
		struct greq *r = &io->reqs[k];
		int rc;

		req_defaults(s, r);
		r->type = VIRTIO_BLK_T_OUT;
		r->sector = 8ULL * k;
		r->buf = io->buf + 4096ULL * k;
		r->len = 4096;
		rnd_fill(&rng, r->buf, 4096);
		rc = gdev_submit(dk->dev, 0, r);
		if (rc) {
			io->n = k;
			if (rc == -ENOSPC || rc == -ENOMEM)
				break;
			/* The requests live here: take them off the ring. */
			gdev_abort(dk->dev);
			dk->dirty = true;
			fail_msg(res, rc, "submit: %s", rc_name(rc));
			return -1;
		}
	}
	return 0;
}

/* Every write completes OK and is in the image. */
static void flood_io_finish(struct session *s, struct flood_io *io,
			    struct result *res)
{
	struct disk *dk = cur_disk(s);
	struct greq *w[64];
	uint8_t img[4096];
	int rc;

	for (unsigned k = 0; k < io->n; k++)
		w[k] = &io->reqs[k];
	rc = io->n ? gdev_wait(dk->dev, 0, w, io->n, io->n, s->timeout_ms) : 0;
	if (rc) {
		gdev_abort(dk->dev);
		dk->dirty = true;
		if (!res->rc)
			fail_msg(res, rc, "writes under the flood: %s",
				 rc_name(rc));
	}
	for (unsigned k = 0; k < io->n && !res->rc; k++) {
		struct greq *r = &io->reqs[k];

		if (r->status != VIRTIO_BLK_S_OK)
			fail_msg(res, -EIO, "a write under the flood: %s",
				 status_name(r->status));
		else if (host_pread(dk->path, r->sector * 512, img, 4096) ||
			 memcmp(img, r->buf, 4096))
			fail_msg(res, -EIO,
				 "a write under the flood is not in the image");
	}
	free(io->buf);
}

/* flood COUNT notify Q | write OFF SIZE VALUE | read OFF SIZE | invalidate
 * [vcpus=N] [io=M]: COUNT accesses spread over N vCPU threads, while M
 * 4 KiB writes queued through the driver are in flight (they must all
 * complete OK and reach the image). */
static void cmd_flood(struct session *s, int argc, char **argv,
		      struct result *res)
{
	struct flood fl[128], tmpl = {.s = s, .size = 4};
	struct flood_io io = {0};
	unsigned count, nthreads = 1, started = 0;
	const char *v = kv(argc, argv, 3, "vcpus");
	const char *iov = kv(argc, argv, 3, "io");
	uint64_t x;
	long long t0;
	int a = 2;

	if (!parse_uint(argv[1], 100000000, &count) ||
	    (v && (!parse_uint(v, 128, &nthreads) || nthreads == 0 ||
		   nthreads > s->vcpus)) ||
	    (iov && !parse_uint(iov, 64, &io.n)))
		goto usage;
	if (!strcmp(argv[a], "notify") && argc > a + 1 &&
	    parse_u64(argv[a + 1], &x) && x <= UINT32_MAX) {
		tmpl.kind = FL_WRITE;
		tmpl.off = VIRTIO_MMIO_QUEUE_NOTIFY;
		tmpl.val = x;
	} else if ((!strcmp(argv[a], "write") || !strcmp(argv[a], "read")) &&
		   argc > a + 2 && parse_u64(argv[a + 1], &x) &&
		   x < MMIO_SIZE && parse_uint(argv[a + 2], 8, &tmpl.size)) {
		tmpl.kind = argv[a][0] == 'w' ? FL_WRITE : FL_READ;
		tmpl.off = (uint32_t)x;
		if (tmpl.kind == FL_WRITE &&
		    (argc <= a + 3 || !parse_u64(argv[a + 3], &tmpl.val)))
			goto usage;
	} else if (!strcmp(argv[a], "invalidate")) {
		tmpl.kind = FL_INVALIDATE;
	} else {
		goto usage;
	}
	if (io.n && flood_io_start(s, &io, res)) {
		free(io.buf);
		return;
	}
	/* A notification changes no register: the driver's device stays
	 * usable without a re-initialisation (spurious notifications must be
	 * handled, virtio 1.2 §2.7.10). */
	if (tmpl.kind == FL_WRITE && tmpl.off != VIRTIO_MMIO_QUEUE_NOTIFY)
		cur_disk(s)->dirty = true;
	t0 = now_ms();
	for (unsigned i = 0; i < nthreads; i++) {
		fl[i] = tmpl;
		fl[i].cpu = i;
		fl[i].count = count / nthreads + (i < count % nthreads);
		if (pthread_create(&fl[i].tid, NULL, flood_main, &fl[i])) {
			fail_msg(res, -ENOMEM, "pthread_create failed");
			break;
		}
		started++;
	}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(fl[i].tid, NULL);
		if (fl[i].rc && !res->rc)
			fail_msg(res, fl[i].rc, "flood on vCPU %u: %s", i,
				 rc_name(fl[i].rc));
	}
	t0 = now_ms() - t0;
	if (iov)
		flood_io_finish(s, &io, res);
	if (!res->rc)
		printf("flood: %u accesses on %u vCPUs in %lld ms%s\n", count,
		       nthreads, t0,
		       io.n ? ", writes under it completed and verified" : "");
	return;
usage:
	fail_msg(res, CMD_USAGE,
		 "flood COUNT notify Q | write OFF SIZE VALUE | read OFF SIZE "
		 "| invalidate [vcpus=N] [io=M]");
}

/* ---------------------------------------------------------------- storms */

/* A random descriptor aimed at the raw areas and the edges of RAM, never
 * at the rings themselves (the device may legitimately write there). */
static void random_desc(struct session *s, uint64_t *rng, uint8_t *p,
			unsigned nnext)
{
	uint64_t end = sim_ram_end(sim_hv_ram_size(s->hv));
	static const uint32_t lens[] = {0,   1,	    8,		 15,
					16,  17,    512,	 4096,
					513, 65536, 0xfffffff0u, 0xffffffffu};
	uint64_t addr;
	uint32_t len = lens[rnd(rng) % (sizeof(lens) / sizeof(lens[0]))];
	uint16_t flags = 0;

	switch (rnd(rng) % 8) {
	case 0:
		addr = SIM_RAM0_BASE + RAW_HDR;
		break;
	case 1:
		addr = SIM_RAM0_BASE + RAW_ST;
		break;
	case 2:
		addr = SIM_RAM0_BASE + RAW_TABLE2 + 16 * (rnd(rng) % 8);
		break;
	case 3:
		addr = end - rnd_range(rng, 0, 8192);
		break;
	case 4:
		addr = 0 - rnd_range(rng, 1, 8192);
		break;
	case 5:
		addr = rnd(rng);
		break;
	default:
		addr = SIM_RAM0_BASE + RAW_DATA + rnd_range(rng, 0, 0x40000);
		break;
	}
	if (rnd(rng) % 3 == 0)
		len = (uint32_t)rnd_range(rng, 0, 70000);
	if (rnd(rng) % 4)
		flags |= VRING_DESC_F_NEXT;
	if (rnd(rng) % 2)
		flags |= VRING_DESC_F_WRITE;
	if (rnd(rng) % 8 == 0)
		flags |= VRING_DESC_F_INDIRECT;
	write_desc(p, addr, len, flags, (uint16_t)rnd_range(rng, 0, nnext));
}

enum storm_role { SR_HDR, SR_DATA, SR_STATUS };

/* One descriptor of a storm chain: mostly what its role calls for (so the
 * chain reaches the block device's parsing), sometimes anything at all. */
static void storm_desc(struct session *s, uint64_t *rng, uint8_t *p,
		       enum storm_role role, bool device_writes, bool last,
		       uint16_t next, unsigned nnext)
{
	uint16_t flags = last ? 0 : VRING_DESC_F_NEXT;

	if (rnd(rng) % 6 == 0) {
		random_desc(s, rng, p, nnext);
		return;
	}
	if (rnd(rng) % 16 == 0)
		next = (uint16_t)rnd_range(rng, 0, nnext);
	if (role == SR_HDR) {
		write_desc(p, SIM_RAM0_BASE + RAW_HDR, 16, flags, next);
		return;
	}
	if (role == SR_STATUS) {
		write_desc(p, SIM_RAM0_BASE + RAW_ST, 1,
			   flags | VRING_DESC_F_WRITE, next);
		return;
	}
	if (device_writes)
		flags |= VRING_DESC_F_WRITE;
	write_desc(p, SIM_RAM0_BASE + RAW_DATA + 512 * rnd_range(rng, 0, 255),
		   512 * (uint32_t)rnd_range(rng, 1, 8), flags, next);
}

/* chain-storm COUNT SEED: COUNT random chains on the raw queue, one at a
 * time: random request types and sectors (in and past the disk), chains
 * of plausible shape (header, data, status; direct or through an indirect
 * table) with random corruptions (lengths from 0 to near 2^32, flags, next
 * indices in and out of range, nested and oversized tables, addresses at
 * and past the edges of RAM). Each must come back as a used entry with
 * its own head, whatever it contained. */
static void cmd_chain_storm(struct session *s, int argc, char **argv,
			    struct result *res)
{
	struct raw_queue *q = rawq(s);
	volatile struct vring_avail *av;
	volatile struct vring_used *us;
	const uint32_t types[] = {
	    VIRTIO_BLK_T_IN,	  VIRTIO_BLK_T_OUT,
	    VIRTIO_BLK_T_FLUSH,	  VIRTIO_BLK_T_GET_ID,
	    VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES};
	uint64_t cap = 0, lo = 0, hi = 0, seed, rng;
	unsigned count, nstatus[256] = {0}, nzero = 0;

	(void)argc;
	if (!parse_uint(argv[1], 10000000, &count) ||
	    !parse_u64(argv[2], &seed)) {
		fail_msg(res, CMD_USAGE, "chain-storm COUNT SEED");
		return;
	}
	if (rings(s, q, &av, &us, res))
		return;
	if (!gdev_mmio_read(cur_dev(s), 0, VIRTIO_MMIO_CONFIG, 4, &lo) &&
	    !gdev_mmio_read(cur_dev(s), 0, VIRTIO_MMIO_CONFIG + 4, 4, &hi))
		cap = lo | hi << 32;
	rng = seed_of(seed);
	for (unsigned i = 0; i < count; i++) {
		uint8_t *hdr = ram(s, SIM_RAM0_BASE + RAW_HDR, 16, res);
		uint8_t *st = ram(s, SIM_RAM0_BASE + RAW_ST, 1, res);
		uint8_t *desc = ram(s, q->desc, 16ULL * q->num, res);
		uint8_t *tbl = ram(s, SIM_RAM0_BASE + RAW_TABLE, 16 * 16, res);
		uint8_t *tbl2 = ram(s, SIM_RAM0_BASE + RAW_TABLE2, 16 * 8, res);
		uint16_t head = (uint16_t)(rnd(&rng) % q->num), pos = head;
		uint32_t type =
		    rnd(&rng) % 8 ? types[rnd(&rng) % 6] : (uint32_t)rnd(&rng);
		bool dw =
		    type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
		unsigned ndata = (unsigned)rnd_range(&rng, 0, 3);
		uint64_t sector;
		uint32_t id, len;

		if (!hdr || !st || !desc || !tbl || !tbl2)
			return;
		switch (rnd(&rng) % 4) {
		case 0:
			sector = rnd_range(&rng, 0, cap ? cap - 1 : 0);
			break;
		case 1:
			sector = cap - rnd_range(&rng, 0, 2);
			break;
		case 2:
			sector = rnd(&rng);
			break;
		default:
			sector = rnd_range(&rng, 0, 64);
			break;
		}
		put_le(hdr, 4, type);
		put_le(hdr + 4, 4, (uint32_t)rnd(&rng));
		put_le(hdr + 8, 8, sector);
		*st = ST_SENTINEL;
		/* Whatever the chain leaves out is random too. */
		for (unsigned k = 0; k < q->num; k++)
			random_desc(s, &rng, desc + 16 * k, q->num + 1);
		for (unsigned k = 0; k < 8; k++)
			random_desc(s, &rng, tbl2 + 16 * k, 9);
		storm_desc(s, &rng, desc + 16 * pos, SR_HDR, false, false,
			   (uint16_t)((pos + 1) % q->num), q->num + 1);
		pos = (uint16_t)((pos + 1) % q->num);
		if (rnd(&rng) % 3 == 0) {
			/* The rest in an indirect table. */
			unsigned tn = ndata + 1;

			for (unsigned k = 0; k < tn; k++)
				storm_desc(s, &rng, tbl + 16 * k,
					   k + 1 < tn ? SR_DATA : SR_STATUS, dw,
					   k + 1 == tn, (uint16_t)(k + 1),
					   tn + 1);
			if (rnd(&rng) % 6)
				write_desc(desc + 16 * pos,
					   SIM_RAM0_BASE + RAW_TABLE, 16 * tn,
					   VRING_DESC_F_INDIRECT, 0);
			else
				random_desc(s, &rng, desc + 16 * pos,
					    q->num + 1);
		} else {
			if (ndata + 2 > q->num)
				ndata = q->num - 2;
			for (unsigned k = 0; k <= ndata; k++) {
				uint16_t next = (uint16_t)((pos + 1) % q->num);

				storm_desc(s, &rng, desc + 16 * pos,
					   k < ndata ? SR_DATA : SR_STATUS, dw,
					   k == ndata, next, q->num + 1);
				pos = next;
			}
		}
		avail_push(q, av, head);
		if (notify(s, 0, res) || next_used(s, q, &id, &len, res))
			return;
		if (id != head) {
			fail_msg(res, -EIO,
				 "chain %u: used id %u, expected head %u", i,
				 id, head);
			return;
		}
		if (len == 0)
			nzero++;
		else
			nstatus[*st]++;
	}
	printf("chain-storm: %u chains answered: %u OK, %u IOERR, %u UNSUPP, "
	       "%u with used len 0\n",
	       count, nstatus[VIRTIO_BLK_S_OK], nstatus[VIRTIO_BLK_S_IOERR],
	       nstatus[VIRTIO_BLK_S_UNSUPP], nzero);
}

/* reset-storm COUNT SEED: COUNT rounds of initialise, queue up to 16
 * writes, and reset with them in flight (some rounds reset half-way
 * through the handshake instead). Memory the driver gave up at each reset
 * must not be written afterwards (checked after the next round's I/O). */
static void cmd_reset_storm(struct session *s, int argc, char **argv,
			    struct result *res)
{
	struct disk *dk = cur_disk(s);
	struct gdev *d = dk->dev;
	struct greq reqs[16];
	uint8_t *bufs = NULL;
	unsigned count, inflight = 0, partial = 0;
	uint64_t seed, rng;
	char err[256];

	(void)argc;
	if (!parse_uint(argv[1], 1000000, &count) ||
	    !parse_u64(argv[2], &seed)) {
		fail_msg(res, CMD_USAGE, "reset-storm COUNT SEED");
		return;
	}
	bufs = malloc(16 * 4096);
	if (!bufs) {
		fail_msg(res, -ENOMEM, "out of memory");
		return;
	}
	rng = seed_of(seed);
	for (unsigned i = 0; i < count; i++) {
		unsigned cpu = (unsigned)(rnd(&rng) % s->vcpus), n;
		int rc;

		if (i % 5 == 4) {
			/* Reset in the middle of the handshake. */
			uint32_t steps = (uint32_t)rnd_range(&rng, 1, 4);

			dk->dirty = true;
			if ((rc = gdev_reset(d, cpu)) ||
			    (rc = gdev_mmio_write(d, cpu, VIRTIO_MMIO_STATUS, 4,
						  1)) ||
			    (steps > 1 &&
			     (rc = gdev_mmio_write(d, cpu, VIRTIO_MMIO_STATUS,
						   4, 3))) ||
			    (steps > 2 &&
			     (rc = gdev_mmio_write(d, cpu,
						   VIRTIO_MMIO_DRIVER_FEATURES,
						   4, 0))) ||
			    (steps > 3 &&
			     (rc = gdev_mmio_write(d, cpu, VIRTIO_MMIO_STATUS,
						   4, 0xb))) ||
			    (rc = gdev_reset(d, cpu))) {
				fail_msg(res, rc, "round %u: %s", i,
					 rc_name(rc));
				break;
			}
			partial++;
			continue;
		}
		gdev_quarantine(d, true);
		if (ensure_ready(s, dk, res))
			break;
		n = (unsigned)rnd_range(&rng, 0, 16);
		for (unsigned k = 0; k < n; k++) {
			req_defaults(s, &reqs[k]);
			reqs[k].type = VIRTIO_BLK_T_OUT;
			reqs[k].sector = 8 * rnd_range(&rng, 0, 255);
			reqs[k].buf = bufs + 4096 * k;
			reqs[k].len = 4096;
			rnd_fill(&rng, reqs[k].buf, 4096);
			rc = gdev_submit(d, cpu, &reqs[k]);
			if (rc == -ENOSPC || rc == -ENOMEM) {
				n = k;
				break;
			}
			if (rc) {
				fail_msg(res, rc, "round %u: submit: %s", i,
					 rc_name(rc));
				n = k;
				break;
			}
		}
		inflight += n;
		if (!res->rc && n && rnd(&rng) % 2) {
			/* Let some finish first. */
			struct greq *w[16];

			for (unsigned k = 0; k < n; k++)
				w[k] = &reqs[k];
			rc = gdev_wait(d, cpu, w, n, 1, s->timeout_ms);
			if (rc)
				fail_msg(res, rc, "round %u: wait: %s", i,
					 rc_name(rc));
		}
		rc = gdev_reset(d, cpu);
		dk->dirty = true;
		gdev_quarantine(d, false);
		if (!res->rc && rc)
			fail_msg(res, rc, "round %u: reset: %s", i,
				 rc_name(rc));
		for (unsigned k = 0; k < n && !res->rc; k++)
			if (reqs[k].done && reqs[k].status != GREQ_ABORTED &&
			    reqs[k].status != VIRTIO_BLK_S_OK)
				fail_msg(res, -EIO,
					 "round %u: a write completed with %s",
					 i, status_name(reqs[k].status));
		if (res->rc)
			break;
		/* Fresh rings and one request, then the old memory. */
		if (ensure_ready(s, dk, res) ||
		    do_rw(s, dk, false, 0, bufs, 4096, res))
			break;
		if (gdev_check_quarantine(d, err, sizeof(err))) {
			fail_msg(res, -EIO, "round %u: %s", i, err);
			break;
		}
	}
	gdev_check_quarantine(d, err, sizeof(err));
	free(bufs);
	if (!res->rc)
		printf("reset-storm: %u rounds (%u mid-handshake), %u writes "
		       "queued before resets\n",
		       count, partial, inflight);
}

/* ------------------------------------------------------- resource usage */

/* The daemon is this process's child (sim_hv_spawn forks it). */
static pid_t daemon_pid(void)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;
	pid_t found = -1;

	if (!dir)
		return -1;
	while (found < 0 && (e = readdir(dir))) {
		char path[300], buf[512];
		const char *p;
		FILE *f;
		int ppid;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
		    sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == getpid() &&
		    strstr(buf, "(xen-virtio-blk)"))
			found = (pid_t)atoi(e->d_name);
		fclose(f);
	}
	closedir(dir);
	return found;
}

static int daemon_usage(pid_t pid, long *rss_kb, long *fds, long *threads)
{
	char path[64], line[256];
	struct dirent *e;
	FILE *f;
	DIR *dir;

	*rss_kb = *fds = *threads = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", rss_kb);
		sscanf(line, "Threads: %ld", threads);
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	*fds = 0;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			(*fds)++;
	closedir(dir);
	return *rss_kb < 0 || *threads < 0 ? -1 : 0;
}

/* usage-mark: remember the daemon's RSS and open fds; usage-check
 * RSS_GROWTH_KB FD_GROWTH: neither grew by more since the mark. */
static void cmd_usage(struct session *s, int argc, char **argv,
		      struct result *res)
{
	bool check = !strcmp(argv[0], "usage-check");
	unsigned max_rss = 0, max_fds = 0;
	long rss, fds, threads;
	pid_t pid = daemon_pid();

	(void)s;
	if (check && (argc < 3 || !parse_uint(argv[1], 1u << 30, &max_rss) ||
		      !parse_uint(argv[2], 1u << 20, &max_fds))) {
		fail_msg(res, CMD_USAGE, "usage-check RSS_GROWTH_KB FD_GROWTH");
		return;
	}
	if (pid < 0 || daemon_usage(pid, &rss, &fds, &threads)) {
		fail_msg(res, -EPIPE, "cannot read the daemon's /proc entry");
		return;
	}
	printf("daemon pid %d: rss %ld kB, %ld fds, %ld threads\n", (int)pid,
	       rss, fds, threads);
	if (!check) {
		usage_base.have = true;
		usage_base.rss_kb = rss;
		usage_base.fds = fds;
		return;
	}
	if (!usage_base.have) {
		fail_msg(res, CMD_USAGE, "usage-check before usage-mark");
		return;
	}
	if (rss - usage_base.rss_kb > (long)max_rss)
		fail_msg(res, -EIO,
			 "the daemon's RSS grew from %ld to %ld kB (limit +%u)",
			 usage_base.rss_kb, rss, max_rss);
	else if (fds - usage_base.fds > (long)max_fds)
		fail_msg(res, -EIO,
			 "the daemon's open fds grew from %ld to %ld (limit "
			 "+%u)",
			 usage_base.fds, fds, max_fds);
}

/* ------------------------------------------------------------- the table */

static const struct cmd cmds[] = {
    {"raw-init", 0, 3, false, cmd_raw_init,
     "raw-init [num=N] [features=F] [stop=features|queue]",
     "the raw driver's handshake: reset, ACKNOWLEDGE, DRIVER, features F "
     "(default VERSION_1,INDIRECT_DESC), FEATURES_OK, queue 0 of N "
     "(default 8) entries on the raw rings in the first MiB, DRIVER_OK; "
     "fails unless Status is 0xf and QueueReady 1. stop= ends it after "
     "FEATURES_OK or after the queue setup"},
    {"raw-reset", 0, 0, false, cmd_raw_reset, "raw-reset",
     "Status 0, read back until 0; the raw queue is forgotten"},
    {"status-add", 1, 1, false, cmd_status_add, "status-add BITS",
     "write Status | BITS"},
    {"expect-status", 1, 2, false, cmd_expect_status,
     "expect-status VALUE [MASK]", "fail unless (Status & MASK) == VALUE"},
    {"wait-status", 1, 2, false, cmd_wait_status, "wait-status VALUE [MASK]",
     "expect-status, allowing the device until the timeout to get there"},
    {"features-write", 1, 1, false, cmd_features_write, "features-write F",
     "DriverFeatures (both banks) = F: a number or NAME,NAME,bitN"},
    {"queue-setup", 0, 7, false, cmd_queue_setup,
     "queue-setup [q=N] [num=N] [desc=A] [avail=A] [used=A] [ready=V] "
     "[raw=0]",
     "QueueSel, QueueNum, the ring addresses (default: the raw rings), "
     "then QueueReady=V (default 1; ready=0 skips it); the raw queue is "
     "queue 0, or q=N if no raw queue is set up yet, unless raw=0"},
    {"desc", 4, 5, false, cmd_desc, "desc IDX ADDR LEN FLAGS [NEXT]",
     "write descriptor IDX of the raw queue (flags: N, W, I, a number or "
     "-)"},
    {"idesc", 5, 6, false, cmd_desc, "idesc TABLE IDX ADDR LEN FLAGS [NEXT]",
     "write entry IDX of an indirect table at address TABLE"},
    {"idesc-fill", 6, 6, false, cmd_idesc_fill,
     "idesc-fill TABLE FIRST COUNT ADDR LEN FLAGS",
     "COUNT table entries from FIRST: consecutive LEN-byte buffers from "
     "ADDR, each chained to the next entry"},
    {"avail", 1, 30, false, cmd_avail, "avail HEAD...",
     "make the chains at HEAD... available (no notify)"},
    {"kick", 1, 30, false, cmd_avail, "kick HEAD...",
     "avail HEAD..., then QueueNotify for the raw queue"},
    {"avail-idx", 1, 1, false, cmd_avail_idx, "avail-idx VALUE|+N",
     "publish an arbitrary available index (no notify)"},
    {"notify", 0, 1, false, cmd_notify, "notify [Q]", "QueueNotify Q"},
    {"used-expect", 2, 3, false, cmd_used_expect,
     "used-expect HEAD|* LEN [STATUS|-]",
     "wait for the next used entry; fail unless it is {HEAD (*: any), LEN} "
     "and the status byte at st is STATUS (-: never written)"},
    {"used-none", 0, 0, false, cmd_used_none, "used-none",
     "fail if the device published a used entry not yet expected"},
    {"hdr", 2, 3, false, cmd_hdr, "hdr TYPE SECTOR [ADDR]",
     "a request header at hdr (or ADDR), TYPE in, out, flush, get-id, "
     "discard, write-zeroes or a number; the status byte at st is reset "
     "to 0xff"},
    {"put", 3, 3, false, cmd_put, "put ADDR SIZE VALUE",
     "store a little-endian value of SIZE bytes in guest RAM"},
    {"expect-mem", 3, 3, false, cmd_expect_mem, "expect-mem ADDR SIZE VALUE",
     "fail unless guest RAM holds that little-endian value"},
    {"mmio-rep", 6, 7, false, cmd_mmio_rep,
     "mmio-rep read|write OFFSET SIZE COUNT value|ptr DATA [EXPECT]",
     "x86's rep movs/stos on the registers: one request of COUNT units of "
     "SIZE (1|2|4|8) bytes, its data a value or (ptr) a guest address; "
     "prints the answer's data"},
    {"fill", 3, 3, false, cmd_fill, "fill ADDR LEN BYTE",
     "fill guest RAM with BYTE"},
    {"expect-fill", 3, 3, false, cmd_fill, "expect-fill ADDR LEN BYTE",
     "fail unless every byte of guest RAM there is BYTE"},
    {"expect-image", 3, 3, false, cmd_expect_image,
     "expect-image ADDR LEN OFFSET",
     "fail unless guest RAM equals the image (read on the host)"},
    {"expect-disk", 3, 3, false, cmd_expect_disk, "expect-disk OFFSET LEN BYTE",
     "fail unless every byte of the image there is BYTE (read on the host)"},
    {"raw-good", 0, 1, false, cmd_raw_good, "raw-good [HEAD]",
     "a well-formed 512-byte read on the raw queue must complete OK with "
     "the image's data"},
    {"irq-sync", 0, 0, false, cmd_irq_sync, "irq-sync",
     "acknowledge pending interrupts; expect-irq waits past this point"},
    {"expect-irq", 1, 1, false, cmd_expect_irq, "expect-irq BITS",
     "wait for an interrupt; fail unless InterruptStatus has BITS (1 used "
     "buffer, 2 configuration change); acknowledge it"},
    {"expect-isr", 1, 1, false, cmd_expect_isr, "expect-isr VALUE",
     "fail unless InterruptStatus is VALUE now"},
    {"sweep-read", 0, 0, false, cmd_sweep_read, "sweep-read",
     "1/2/4/8-byte reads at every offset of the window and past it, "
     "checked against the register file and config space"},
    {"sweep-write", 0, 0, false, cmd_sweep_write, "sweep-write",
     "all-ones writes of every size at every offset the device must "
     "ignore; registers and config space must be unchanged"},
    {"sweep-write-regs", 1, 1, false, cmd_sweep_write_regs,
     "sweep-write-regs VALUE",
     "VALUE into every aligned 32-bit control register, then read them"},
    {"flood", 2, 8, false, cmd_flood,
     "flood COUNT notify Q|write OFF SIZE VALUE|read OFF SIZE|invalidate "
     "[vcpus=N] [io=M]",
     "COUNT register accesses or INVALIDATEs from N vCPU threads, over M "
     "4 KiB driver writes in flight that must complete OK and reach the "
     "image"},
    {"chain-storm", 2, 2, false, cmd_chain_storm, "chain-storm COUNT SEED",
     "COUNT random chains on the raw queue, one at a time; each must be "
     "answered with its own head"},
    {"reset-storm", 2, 2, false, cmd_reset_storm, "reset-storm COUNT SEED",
     "COUNT rounds of init, writes in flight, reset (some mid-handshake); "
     "no guest memory written after a reset"},
    {"usage-mark", 0, 0, false, cmd_usage, "usage-mark",
     "print and remember the daemon's RSS and open fds"},
    {"usage-check", 2, 2, false, cmd_usage,
     "usage-check RSS_GROWTH_KB FD_GROWTH",
     "fail if RSS or open fds grew by more since usage-mark"},
};

const struct cmd_table hostile_cmds = {cmds, sizeof(cmds) / sizeof(cmds[0])};
