/* SPDX-License-Identifier: GPL-2.0-only */
/* One guest's disks as libxl describes them in xenstore: discovery, the
 * state handshake libxl waits on, the extras an administrator reads with
 * xenstore-ls, statistics nodes, and the close conditions (xl-integration.md
 * §2/§4, xen-ioreq-facts.md §1.4/§6, e2e-testbed.md Part 2 Q5). */

#include "xs_backend.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_blk.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <xenstore.h>

#include "domain_watch.h"
#include "guest.h"
#include "log.h"
#include "options.h"
#include "xs_claim.h"
#include "xs_txn.h"
#include "xs_values.h"

/* Device directories tracked per guest: the served ones (at most
 * MAX_DISKS) and the refused or foreign ones beside them. */
#define XSB_MAX_DEVS 32
/* See xs_backend_when_running(). */
#define XSB_ALL_ADDED_US (20 * 1000 * 1000)
/* Transaction retries on EAGAIN (someone else wrote in between). */
#define TXN_RETRIES 16
/* The state that follows the guest's driver (4 once it is ready, 2 after a
 * reset) is written at most once per device per this long. Each write is
 * a dom0 transaction that wakes every watcher of the backend tree, and a
 * guest can reset its device as fast as it can trap: unthrottled, one
 * guest would set the pace of the host's single xenstored. */
#define XSB_STATE_INTERVAL_US (100 * 1000)

enum dev_state {
	DEV_PENDING, /* nodes incomplete: look again on the next event */
	DEV_SERVED,
	DEV_REFUSED, /* state 6 + hotplug-error written */
	DEV_IGNORED, /* not ours to touch (state != 1, online 0) */
};

struct xsb_dev {
	uint32_t devid;
	char path[128]; /* the device's backend directory */
	char vdev[24];	/* libxl's `dev` node, for log lines */
	enum dev_state st;
	int disk; /* guest disk index once served */
	bool seen;
	struct disk_opts opts; /* stays put: the guest keeps a pointer */
	bool live;	       /* the guest's driver is ready */
	bool live_pending; /* live not yet written (XSB_STATE_INTERVAL_US) */
	uint64_t live_written_us;
};

struct xs_backend {
	uint32_t domid, self;
	struct xs_handle *xs;
	struct domain_watch *dw; /* @releaseDomain */
	char dir[96];		 /* .../backend/virtio_disk/<domid> */
	char claim[80];		 /* once held: claim_guest() */
	struct guest *g;
	int xs_fd;
	bool xs_in_loop, watch_be;
	struct xsb_dev dev[XSB_MAX_DEVS];
	unsigned ndev;
	bool closing;
	bool (*when_running)(void *opaque); /* xs_backend_when_running */
	void *when_running_opaque;
	struct loop_timer *running_timer;
	struct loop_timer *state_timer; /* armed while a live is pending */
	bool run_failed;
	/* Entries beyond XSB_MAX_DEVS reported so far: every rescan sees
	 * them again, and each state change (the guest can reset its device
	 * at will) brings one. */
	unsigned untracked_reported;
	/* The same for names that are not device ids, which take no slot:
	 * a slot each would let junk crowd out disks libxl adds later. */
	unsigned foreign_reported;
};

/* --------------------------------------------------------- xenstore I/O */

uint32_t xs_backend_self_domid(struct xs_handle *xs)
{
	unsigned len = 0;
	char *v = xs_read(xs, XBT_NULL, "domid", &len);
	uint64_t id = 0;

	if (!v || strlen(v) != len || xsv_parse_dec(v, MAX_DOMID, &id) < 0) {
		log_debug("xenstore: no usable \"domid\" node (%s), assuming "
			  "dom0",
			  v ? "malformed" : strerror(errno));
		id = 0;
	}
	free(v);
	return (uint32_t)id;
}

/* A node's value, or NULL if absent. A value with an embedded NUL (libxl
 * never writes one) reads as "", which every check then refuses. */
static char *read_node(struct xs_handle *xs, xs_transaction_t t,
		       const char *dir, const char *name)
{
	char path[256];
	unsigned len = 0;
	char *v;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return NULL;
	v = xs_read(xs, t, path, &len);
	if (v && strlen(v) != len)
		v[0] = '\0';
	return v;
}

static bool write_node(struct xs_handle *xs, xs_transaction_t t,
		       const char *dir, const char *name, const char *val)
{
	char path[256];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return false;
	return xs_write(xs, t, path, val, (unsigned)strlen(val));
}

static bool dir_exists(struct xs_handle *xs, xs_transaction_t t,
		       const char *dir)
{
	unsigned n = 0;
	char **v = xs_directory(xs, t, dir, &n);

	free(v);
	return v != NULL;
}

/* What one transaction does to a device directory; returns false to abort
 * (nothing to write). */
typedef bool (*txn_fn)(struct xs_handle *xs, xs_transaction_t t,
		       const char *dir, void *arg);

struct dir_txn {
	const char *dir;
	txn_fn fn;
	void *arg;
};

/* Writes go only into a directory that exists: xs_write would recreate
 * one libxl has already removed. */
static int in_dir(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	struct dir_txn *d = arg;

	return dir_exists(xs, t, d->dir) && d->fn(xs, t, d->dir, d->arg);
}

/* Run fn on dir in a transaction, retrying while it conflicts. 1
 * committed, 0 nothing to do, -1 failed. */
static int txn(struct xs_handle *xs, const char *dir, txn_fn fn, void *arg)
{
	struct dir_txn d = {dir, fn, arg};
	int r = xs_txn_run(xs, TXN_RETRIES, in_dir, &d);

	if (r == -EAGAIN)
		log_warn("xenstore: %s: still conflicting after %d tries", dir,
			 TXN_RETRIES);
	else if (r < 0)
		log_warn("xenstore: %s: transaction failed: %s", dir,
			 strerror(-r));
	return r < 0 ? -1 : r;
}

/* State `to` if the current state is `from` (-1: any but `to`). */
struct state_change {
	int from, to;
};

static bool change_state(struct xs_handle *xs, xs_transaction_t t,
			 const char *dir, void *arg)
{
	const struct state_change *c = arg;
	char *v = read_node(xs, t, dir, "state");
	int cur = v ? xsv_parse_state(v) : -2;
	char buf[8];
	bool ok;

	free(v);
	if (cur == -2) /* no state node: never create one */
		return false;
	if (c->from >= 0 ? cur != c->from : cur == c->to)
		return false;
	snprintf(buf, sizeof(buf), "%d", c->to);
	ok = write_node(xs, t, dir, "state", buf);
	if (!ok)
		log_warn("xenstore: %s/state: %s", dir, strerror(errno));
	return ok;
}

static int set_state(struct xs_backend *b, struct xsb_dev *d, int from, int to)
{
	struct state_change c = {.from = from, .to = to};

	return txn(b->xs, d->path, change_state, &c);
}

/* ------------------------------------------------------------- refusal */

static bool write_refusal(struct xs_handle *xs, xs_transaction_t t,
			  const char *dir, void *arg)
{
	struct state_change c = {.from = -1, .to = XB_CLOSED};

	/* The PV hotplug convention (xen-hotplug-common.sh fatal()): the
	 * reason where `xenstore-ls` shows it next to the device. */
	write_node(xs, t, dir, "hotplug-error", arg);
	write_node(xs, t, dir, "hotplug-status", "error");
	change_state(xs, t, dir, &c);
	return true;
}

/* A device left open by a backend process that died: closed with the
 * reason, unless it already is. */
struct orphans {
	const char *why;
	bool waiting_only;
};

static bool close_orphan(struct xs_handle *xs, xs_transaction_t t,
			 const char *dir, void *arg)
{
	const struct orphans *o = arg;
	char *v = read_node(xs, t, dir, "state");
	int cur = v ? xsv_parse_state(v) : -2;

	free(v);
	if (cur == -2 || cur == XB_CLOSED)
		return false;
	if (o->waiting_only && cur != XB_INITIALISING && cur != XB_CLOSING)
		return false;
	return write_refusal(xs, t, dir, (void *)o->why);
}

unsigned xs_backend_close_orphans(struct xs_handle *xs, const char *guest_dir,
				  const char *why, bool waiting_only)
{
	struct orphans o = {why, waiting_only};
	unsigned n = 0, closed = 0;
	char **devs = xs_directory(xs, XBT_NULL, guest_dir, &n);
	char path[256];

	for (unsigned i = 0; devs && i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", guest_dir, devs[i]) >=
		    (int)sizeof(path))
			continue;
		if (txn(xs, path, close_orphan, &o) == 1)
			closed++;
	}
	free(devs);
	return closed;
}

static const char *dev_name(const struct xsb_dev *d)
{
	return d->vdev[0] ? d->vdev : "?";
}

/* One clear line, the reason in xenstore, state 6. libxl's create waits
 * for exactly state 2 (devstate_callback), so `xl create` still fails only
 * at its 10 s timeout ("unable to initialize device"); the Closed state
 * lets the following destroy finish at once. */
static void refuse(struct xs_backend *b, struct xsb_dev *d, const char *why)
{
	log_error("domain %u: virtio disk %u (%s): refused: %s", b->domid,
		  d->devid, dev_name(d), why);
	d->st = DEV_REFUSED;
	txn(b->xs, d->path, write_refusal, (void *)why);
}

/* -------------------------------------------------------------- extras */

struct extras {
	const struct guest_disk_info *info;
};

static bool write_extras(struct xs_handle *xs, xs_transaction_t t,
			 const char *dir, void *arg)
{
	const struct guest_disk_info *in = ((struct extras *)arg)->info;
	struct state_change c = {.from = XB_INITIALISING, .to = XB_INITWAIT};
	char buf[32];

	/* Nothing if libxl has moved on meanwhile (e.g. to 5). */
	{
		char *v = read_node(xs, t, dir, "state");
		int cur = v ? xsv_parse_state(v) : -1;

		free(v);
		if (cur != XB_INITIALISING)
			return false;
	}
	/* blkif.h's names where they exist (sectors are 512-byte units
	 * whatever sector-size says; info bit 4 = VDISK_READONLY). */
	snprintf(buf, sizeof(buf), "%" PRIu64, in->sectors);
	write_node(xs, t, dir, "sectors", buf);
	snprintf(buf, sizeof(buf), "%" PRIu32, in->sector_size);
	write_node(xs, t, dir, "sector-size", buf);
	write_node(xs, t, dir, "info", in->read_only ? "4" : "0");
	write_node(xs, t, dir, "feature-flush-cache",
		   in->features & (1ULL << VIRTIO_BLK_F_FLUSH) ? "1" : "0");
	write_node(xs, t, dir, "feature-discard",
		   in->features & (1ULL << VIRTIO_BLK_F_DISCARD) ? "1" : "0");
	/* Ours: no blkif equivalent. */
	write_node(xs, t, dir, "feature-write-zeroes",
		   in->features & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) ? "1"
								      : "0");
	snprintf(buf, sizeof(buf), "0x%" PRIx64, in->features);
	write_node(xs, t, dir, "virtio-features", buf);
	snprintf(buf, sizeof(buf), "%u", in->queues);
	write_node(xs, t, dir, "virtio-queues", buf);
	snprintf(buf, sizeof(buf), "%u", in->queue_size);
	write_node(xs, t, dir, "virtio-queue-size", buf);
	/* Last, in the same transaction: libxl sees everything at once. */
	return change_state(xs, t, dir, &c);
}

struct stats_arg {
	const struct virtio_blk_stats *st;
};

static bool write_stats(struct xs_handle *xs, xs_transaction_t t,
			const char *dir, void *arg)
{
	const struct virtio_blk_stats *st = ((struct stats_arg *)arg)->st;
	const struct {
		const char *name;
		uint64_t v;
	} n[] = {
	    {"statistics/rd_req", st->reqs[0]},
	    {"statistics/wr_req", st->reqs[1]},
	    {"statistics/f_req", st->reqs[2]},
	    {"statistics/ds_req", st->reqs[3]},
	    {"statistics/other_req", st->reqs[4]},
	    {"statistics/rd_bytes", st->bytes_read},
	    {"statistics/wr_bytes", st->bytes_written},
	    {"statistics/errors", st->errors},
	    {"statistics/unsupported", st->unsupported},
	    {"statistics/in_flight", st->in_flight},
	    {"statistics/notifications", st->notifies},
	    {"statistics/interrupts", st->interrupts},
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		snprintf(buf, sizeof(buf), "%" PRIu64, n[i].v);
		write_node(xs, t, dir, n[i].name, buf);
	}
	return true;
}

/* ------------------------------------------------------------- closing */

static void close_backend(struct xs_backend *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void close_backend(struct xs_backend *b, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (b->closing)
		return;
	b->closing = true;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	guest_stop(b->g, why);
}

static void on_domain_ended(void *opaque, const char *why)
{
	struct xs_backend *b = opaque;

	/* Also if libxl's state 5 started the closing before. */
	guest_abandon_io(b->g);
	close_backend(b, "%s", why);
}

/* ---------------------------------------------------------- discovery */

static struct xsb_dev *find_dev(struct xs_backend *b, uint32_t devid)
{
	for (unsigned i = 0; i < b->ndev; i++)
		if (b->dev[i].devid == devid)
			return &b->dev[i];
	return NULL;
}

static struct xsb_dev *dev_by_disk(struct xs_backend *b, unsigned disk)
{
	for (unsigned i = 0; i < b->ndev; i++)
		if (b->dev[i].st == DEV_SERVED && b->dev[i].disk == (int)disk)
			return &b->dev[i];
	return NULL;
}

static void serve(struct xs_backend *b, struct xsb_dev *d)
{
	struct disk_opts served[MAX_DISKS];
	struct guest_disk_info info;
	struct extras ex = {.info = &info};
	unsigned n = 0;
	char why[512];
	int status, idx, r;

	for (unsigned i = 0; i < b->ndev && n < MAX_DISKS; i++)
		if (b->dev[i].st == DEV_SERVED)
			served[n++] = b->dev[i].opts;
	if (xsv_conflict(&d->opts, served, n, why, sizeof(why)) < 0) {
		refuse(b, d, why);
		return;
	}
	idx = guest_add_disk(b->g, &d->opts, &status, why, sizeof(why));
	if (idx < 0) {
		refuse(b, d, why[0] ? why : "cannot serve it (see above)");
		return;
	}
	d->disk = idx;
	d->st = DEV_SERVED;
	/* The window is mapped and the ports are bound: only now may libxl
	 * let the guest run (xen-ioreq-facts.md §1.2 step 7). */
	guest_disk_info(b->g, (unsigned)idx, &info);
	r = txn(b->xs, d->path, write_extras, &ex);
	if (r == 1)
		log_info("domain %u: virtio disk %u (%s): %s%s at 0x%llx irq "
			 "%u, %llu sectors: state 2 (InitWait)",
			 b->domid, d->devid, dev_name(d), d->opts.path,
			 d->opts.read_only ? " (read-only)" : "",
			 (unsigned long long)d->opts.base, d->opts.irq,
			 (unsigned long long)info.sectors);
	else if (r == 0)
		log_warn("domain %u: virtio disk %u (%s) left state 1 while "
			 "being set up",
			 b->domid, d->devid, dev_name(d));
}

/* Read and check a device not yet decided on; a refused or foreign one is
 * dealt with here, a servable one is left to serve(). */
static enum xsv_verdict check_dev(struct xs_backend *b, struct xsb_dev *d)
{
	static const char *const names[] = {
	    "params",	   "mode",	  "base",	   "irq",
	    "state",	   "online",	  "specification", "transport",
	    "grant_usage", "frontend-id", "dev",
	};
	char *v[sizeof(names) / sizeof(names[0])];
	struct xsv_nodes n;
	char why[512];
	enum xsv_verdict verdict;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		v[i] = read_node(b->xs, XBT_NULL, d->path, names[i]);
	n = (struct xsv_nodes){
	    .params = v[0],
	    .mode = v[1],
	    .base = v[2],
	    .irq = v[3],
	    .state = v[4],
	    .online = v[5],
	    .specification = v[6],
	    .transport = v[7],
	    .grant_usage = v[8],
	    .frontend_id = v[9],
	    .dev = v[10],
	};
	if (v[10])
		snprintf(d->vdev, sizeof(d->vdev), "%.20s", v[10]);
	verdict =
	    xsv_check_device(b->self, b->domid, &n, &d->opts, why, sizeof(why));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		free(v[i]);

	switch (verdict) {
	case XSV_OK:
		break;
	case XSV_INCOMPLETE:
		log_debug("domain %u: virtio disk %u: %s, waiting", b->domid,
			  d->devid, why);
		break;
	case XSV_REFUSE:
		refuse(b, d, why);
		break;
	case XSV_NOT_OURS:
		log_warn("domain %u: virtio disk %u (%s): %s; not touching it",
			 b->domid, d->devid, dev_name(d), why);
		d->st = DEV_IGNORED;
		break;
	}
	return verdict;
}

static void try_dev(struct xs_backend *b, struct xsb_dev *d)
{
	if (check_dev(b, d) == XSV_OK)
		serve(b, d);
}

/* A served device: has libxl started to take it away? */
static void check_served(struct xs_backend *b, struct xsb_dev *d)
{
	char *state = read_node(b->xs, XBT_NULL, d->path, "state");
	char *online = read_node(b->xs, XBT_NULL, d->path, "online");
	int s = state ? xsv_parse_state(state) : -1;
	bool offline = online && strcmp(online, "0") == 0;

	if (!state)
		close_backend(b, "virtio disk %u: state node removed",
			      d->devid);
	else if (s == XB_CLOSING || s == XB_CLOSED)
		close_backend(b, "virtio disk %u: libxl set state %d", d->devid,
			      s);
	else if (offline)
		close_backend(b, "virtio disk %u: libxl set online 0",
			      d->devid);
	free(state);
	free(online);
}

static bool anything_left(const struct xs_backend *b)
{
	for (unsigned i = 0; i < b->ndev; i++)
		if (b->dev[i].st == DEV_SERVED || b->dev[i].st == DEV_PENDING)
			return true;
	return false;
}

static struct xsb_dev *new_dev(struct xs_backend *b, uint32_t devid,
			       const char *name)
{
	struct xsb_dev *d;

	if (b->ndev == XSB_MAX_DEVS)
		return NULL;
	d = &b->dev[b->ndev];
	memset(d, 0, sizeof(*d));
	d->disk = -1;
	d->devid = devid;
	d->st = DEV_PENDING;
	snprintf(d->path, sizeof(d->path), "%s/%s", b->dir, name);
	b->ndev++;
	return d;
}

/* Read the guest's backend directory again (any event may mean anything:
 * watches fire spuriously and coalesce). Returns the number of entries,
 * -1 if the directory is gone. */
static int rescan(struct xs_backend *b)
{
	unsigned num = 0, untracked = 0, foreign = 0;
	char **names = xs_directory(b->xs, XBT_NULL, b->dir, &num);

	if (!names) {
		if (errno == ENOENT) {
			if (b->g)
				close_backend(b, "%s removed", b->dir);
			return -1;
		}
		log_warn("xenstore: %s: %s", b->dir, strerror(errno));
		return 0;
	}
	for (unsigned i = 0; i < b->ndev; i++)
		b->dev[i].seen = false;
	for (unsigned i = 0; i < num; i++) {
		uint64_t id;
		struct xsb_dev *d;

		/* libxl's names are vdev numbers as it prints them: no
		 * leading zero, so that each names one devid and one path. */
		if (xsv_parse_dec(names[i], UINT32_MAX, &id) < 0 ||
		    (names[i][0] == '0' && names[i][1])) {
			if (foreign++ >= b->foreign_reported)
				log_warn("domain %u: ignoring '%.40s' in %s: "
					 "not a device id",
					 b->domid, names[i], b->dir);
			continue;
		}
		d = find_dev(b, (uint32_t)id);
		if (!d)
			d = new_dev(b, (uint32_t)id, names[i]);
		if (!d) {
			if (untracked++ >= b->untracked_reported)
				log_warn("domain %u: more than %d devices in "
					 "%s, ignoring '%.40s'",
					 b->domid, XSB_MAX_DEVS, b->dir,
					 names[i]);
			continue;
		}
		d->seen = true;
	}
	free(names);
	if (untracked > b->untracked_reported)
		b->untracked_reported = untracked;
	if (foreign > b->foreign_reported)
		b->foreign_reported = foreign;

	for (unsigned i = 0; i < b->ndev && !b->closing; i++) {
		struct xsb_dev *d = &b->dev[i];

		if (d->st == DEV_SERVED) {
			if (!d->seen)
				close_backend(b, "virtio disk %u removed",
					      d->devid);
			else
				check_served(b, d);
		} else if (d->st == DEV_PENDING && d->seen && b->g) {
			try_dev(b, d);
		} else if (d->st == DEV_PENDING && !d->seen) {
			d->st = DEV_IGNORED;
		}
	}
	if (b->g && !b->closing && !anything_left(b))
		close_backend(b, "domain %u: no virtio disk left to serve",
			      b->domid);
	return (int)num;
}

/* ------------------------------------------------------------ the loop */

static void on_xs(void *opaque, uint32_t events)
{
	struct xs_backend *b = opaque;
	bool be = false;
	char **vec;

	(void)events;
	while ((vec = xs_check_watch(b->xs))) {
		if (strcmp(vec[XS_WATCH_TOKEN], "be") == 0)
			be = true;
		free(vec);
	}
	if (errno != EAGAIN && errno != EINTR) {
		/* Without xenstore no close condition can be seen any
		 * more; the guest keeps its disks until SIGTERM. */
		log_error("xenstore: lost the connection (%s); serving on "
			  "until SIGTERM",
			  strerror(errno));
		loop_del(guest_loop(b->g), b->xs_fd);
		b->xs_in_loop = false;
	}
	if (b->closing)
		return;
	if (be && !b->closing)
		rescan(b);
}

/* The state d->live calls for. Only after libxl's wait for exactly 2 is
 * over: DRIVER_OK needs a running guest, and xl unpauses it only then. */
static void write_live(struct xs_backend *b, struct xsb_dev *d)
{
	d->live_pending = false;
	d->live_written_us = loop_now_us();
	/* Log lines rate-limited too: the guest decides how many. */
	if (d->live) {
		if (set_state(b, d, XB_INITWAIT, XB_CONNECTED) == 1)
			log_guest_info("domain %u: virtio disk %u (%s): guest "
				       "driver ready: state 4 (Connected)",
				       b->domid, d->devid, dev_name(d));
	} else if (set_state(b, d, XB_CONNECTED, XB_INITWAIT) == 1) {
		log_guest_info("domain %u: virtio disk %u (%s): guest reset "
			       "the device: state 2 (InitWait)",
			       b->domid, d->devid, dev_name(d));
	}
}

static bool any_live_pending(const struct xs_backend *b)
{
	for (unsigned i = 0; i < b->ndev; i++)
		if (b->dev[i].live_pending)
			return true;
	return false;
}

/* Write each pending state whose interval is over; come back for the
 * others. */
static void on_state_timer(void *opaque)
{
	struct xs_backend *b = opaque;
	uint64_t now = loop_now_us(), wait = 0;

	if (b->closing)
		return;
	for (unsigned i = 0; i < b->ndev; i++) {
		struct xsb_dev *d = &b->dev[i];
		uint64_t since = now - d->live_written_us;

		if (!d->live_pending)
			continue;
		if (since >= XSB_STATE_INTERVAL_US)
			write_live(b, d);
		else if (!wait || XSB_STATE_INTERVAL_US - since < wait)
			wait = XSB_STATE_INTERVAL_US - since;
	}
	if (wait)
		loop_timer_arm(b->state_timer, wait);
}

static void on_driver_state(void *opaque, unsigned disk, bool live)
{
	struct xs_backend *b = opaque;
	struct xsb_dev *d = dev_by_disk(b, disk);

	/* Every status write calls this: only a change of DRIVER_OK is
	 * one for xenstore (the device starts not live, in state 2). */
	if (!d || b->closing || live == d->live)
		return;
	d->live = live;
	if (!d->live_pending &&
	    loop_now_us() - d->live_written_us >= XSB_STATE_INTERVAL_US) {
		write_live(b, d);
		return;
	}
	/* Too soon after the last write: the timer writes whatever the
	 * driver's state is by then. */
	if (!any_live_pending(b))
		loop_timer_arm(b->state_timer, XSB_STATE_INTERVAL_US);
	d->live_pending = true;
}

static void on_running(void *opaque)
{
	struct xs_backend *b = opaque;
	bool (*fn)(void *) = b->when_running;

	b->when_running = NULL;
	if (b->running_timer)
		loop_timer_cancel(b->running_timer);
	if (fn && !fn(b->when_running_opaque)) {
		b->run_failed = true;
		close_backend(b, "cannot go on as configured");
	}
}

static bool write_sectors(struct xs_handle *xs, xs_transaction_t t,
			  const char *dir, void *arg)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *)arg);
	return write_node(xs, t, dir, "sectors", buf);
}

/* The image was resized under the running guest: "sectors" follows, as
 * xen-blkback's does. */
static void on_resized(void *opaque, unsigned disk, uint64_t sectors)
{
	struct xs_backend *b = opaque;
	struct xsb_dev *d = dev_by_disk(b, disk);

	if (d)
		txn(b->xs, d->path, write_sectors, &sectors);
}

static void on_stats(void *opaque)
{
	struct xs_backend *b = opaque;

	for (unsigned i = 0; i < b->ndev; i++) {
		struct xsb_dev *d = &b->dev[i];
		struct virtio_blk_stats st;
		struct stats_arg a = {.st = &st};

		if (d->st != DEV_SERVED)
			continue;
		guest_disk_stats(b->g, (unsigned)d->disk, &st);
		txn(b->xs, d->path, write_stats, &a);
	}
}

/* ------------------------------------------------------------ lifecycle */

static void release(struct xs_backend *b)
{
	loop_timer_free(b->running_timer);
	b->running_timer = NULL;
	loop_timer_free(b->state_timer);
	b->state_timer = NULL;
	if (b->xs_in_loop)
		loop_del(guest_loop(b->g), b->xs_fd);
	b->xs_in_loop = false;
	/* It may be attached to the guest's loop, which goes next. */
	domain_watch_free(b->dw);
	b->dw = NULL;
	/* Every foreign mapping and the IOREQ server: a mapping left behind
	 * keeps the dead domain a zombie (e2e-testbed.md Q5). */
	guest_free(b->g);
	b->g = NULL;
}

void xs_backend_claim_path(uint32_t self, uint32_t domid, char *buf, size_t len)
{
	snprintf(buf, len, "/local/domain/%u/xen-virtio-blk-guests/%u", self,
		 domid);
}

/* One backend process per guest. Two would both find its devices in
 * state 1 and both set up; the one that then lost the image to the other
 * would refuse, writing state 6 over the device the other serves, and the
 * guest would lose its disk. A second process started by hand during an
 * `xl create`, or by a supervisor restarted while its child was still
 * setting up, does exactly that. So a process holds a node in its own
 * domain's part of xenstore before it looks at the guest's devices. */
static bool claim_guest(struct xs_backend *b, int *status, char *err,
			size_t errlen)
{
	char path[sizeof(b->claim)];
	pid_t holder;
	int r;

	xs_backend_claim_path(b->self, b->domid, path, sizeof(path));
	r = xs_claim(b->xs, path, &holder);
	if (r == -EBUSY) {
		err_set(err, errlen,
			"domain %u is already served by pid %ld (xenstore %s)",
			b->domid, (long)holder, path);
		*status = 2;
		return false;
	}
	if (r < 0) {
		err_set(err, errlen, "cannot write %s: %s", path, strerror(-r));
		return false;
	}
	memcpy(b->claim, path, sizeof(path));
	return true;
}

struct xs_backend *xs_backend_new(uint32_t domid,
				  const struct guest_tuning *tune, int *status,
				  char *err, size_t errlen)
{
	struct xs_backend *b = calloc(1, sizeof(*b));
	struct guest_hooks hooks = {
	    .driver_state = on_driver_state,
	    .stats = on_stats,
	    .running = on_running,
	    .resized = on_resized,
	    .opaque = b,
	};
	char why_dom[128];
	int n, gst;

	*status = 1;
	err[0] = '\0';
	if (!b) {
		err_set(err, errlen, "out of memory");
		return NULL;
	}
	b->domid = domid;
	b->xs = xs_open(0);
	if (!b->xs) {
		err_set(err, errlen, "cannot connect to xenstore: %s",
			strerror(errno));
		goto fail;
	}
	b->self = xs_backend_self_domid(b->xs);
	snprintf(b->dir, sizeof(b->dir), "/local/domain/%u/backend/%s/%u",
		 b->self, XS_BACKEND_KIND, domid);
	b->dw = domain_watch_new(domid, on_domain_ended, b, why_dom,
				 sizeof(why_dom));
	if (!b->dw)
		log_warn("domain %u: %s: its death is noticed when libxl "
			 "removes its devices",
			 domid, why_dom);
	switch (b->dw ? domain_watch_fate(b->dw, why_dom, sizeof(why_dom))
		      : DOMAIN_UNKNOWN) {
	case DOMAIN_GONE:
		err_set(err, errlen, "domain %u does not exist", domid);
		goto fail;
	case DOMAIN_DYING:
		err_set(err, errlen, "domain %u is dying", domid);
		goto fail;
	default:
		break;
	}
	if (!claim_guest(b, status, err, errlen))
		goto fail;
	/* Watches first, so that nothing written after the scan is lost;
	 * each fires once at once, which only causes a harmless rescan. */
	b->watch_be = xs_watch(b->xs, b->dir, "be");
	if (!b->watch_be) {
		err_set(err, errlen, "cannot watch %s: %s", b->dir,
			strerror(errno));
		goto fail;
	}

	n = rescan(b);
	if (n <= 0) {
		err_set(err, errlen, "no virtio disks for domain %u in %s",
			domid, b->dir);
		*status = 2;
		goto fail;
	}
	/* Decide before creating anything: a guest whose every device is
	 * refused gets no IOREQ server. */
	for (unsigned i = 0; i < b->ndev; i++)
		if (b->dev[i].st == DEV_PENDING)
			check_dev(b, &b->dev[i]);
	if (!anything_left(b)) {
		err_set(err, errlen,
			"domain %u: none of its virtio disks can be served",
			domid);
		*status = 2;
		goto fail;
	}

	b->g = guest_new(domid, NULL, 0, tune, &gst, err, errlen);
	if (!b->g) {
		char why[512];

		snprintf(why, sizeof(why), "%s",
			 err[0] ? err : "cannot start (see the log)");
		/* libxl would otherwise wait its full 10 s for a device
		 * nobody serves; a Closed device tells xenstore-ls why. */
		for (unsigned i = 0; i < b->ndev; i++)
			if (b->dev[i].st == DEV_PENDING)
				refuse(b, &b->dev[i], why);
		*status = gst;
		err[0] = '\0'; /* said by refuse() */
		goto fail;
	}
	b->state_timer = loop_timer_new(guest_loop(b->g), on_state_timer, b);
	if (!b->state_timer) {
		err_set(err, errlen, "out of memory");
		goto fail;
	}
	guest_set_hooks(b->g, &hooks);
	b->xs_fd = xs_fileno(b->xs);
	if (b->xs_fd < 0 ||
	    loop_add(guest_loop(b->g), b->xs_fd, EPOLLIN, on_xs, b) < 0) {
		err_set(err, errlen, "cannot watch the xenstore connection");
		goto fail;
	}
	b->xs_in_loop = true;
	/* Its first event (every watch fires once when set) checks again
	 * what may have happened since the check above. */
	if (b->dw && domain_watch_attach(b->dw, guest_loop(b->g)) < 0)
		log_warn("domain %u: cannot watch @releaseDomain: its death "
			 "is noticed when libxl removes its devices",
			 domid);
	for (unsigned i = 0; i < b->ndev; i++)
		if (b->dev[i].st == DEV_PENDING)
			try_dev(b, &b->dev[i]);
	if (!anything_left(b)) {
		err_set(err, errlen,
			"domain %u: none of its virtio disks can be served",
			domid);
		*status = 2;
		goto fail;
	}
	log_info("ready: domain %u, %u virtio disk(s) served from %s", domid,
		 guest_ndisks(b->g), b->dir);
	return b;
fail:
	if (b->g)
		release(b);
	xs_backend_free(b);
	return NULL;
}

void xs_backend_when_running(struct xs_backend *b, bool (*fn)(void *opaque),
			     void *opaque)
{
	b->when_running = fn;
	b->when_running_opaque = opaque;
	/* A guest that never touches its disks: libxl adds them all within
	 * one create, and gives up on each after 10 s; by then the set is
	 * complete whether the guest runs or not. */
	b->running_timer = loop_timer_new(guest_loop(b->g), on_running, b);
	if (b->running_timer)
		loop_timer_arm(b->running_timer, XSB_ALL_ADDED_US);
}

void xs_backend_unprivileged(struct xs_backend *b)
{
	if (b->dw)
		domain_watch_unprivileged(b->dw);
}

int xs_backend_run(struct xs_backend *b)
{
	int status = guest_run(b->g);

	return b->run_failed ? 1 : status;
}

static bool close_dev(struct xs_handle *xs, xs_transaction_t t, const char *dir,
		      void *arg)
{
	struct state_change c = {.from = -1, .to = XB_CLOSED};

	(void)arg;
	return change_state(xs, t, dir, &c);
}

void xs_backend_free(struct xs_backend *b)
{
	unsigned closed = 0;

	if (!b)
		return;
	if (b->g)
		release(b);
	/* Closed only once nothing of the guest is mapped any more: libxl
	 * may then free the domain at once. */
	for (unsigned i = 0; i < b->ndev && b->xs; i++)
		if (b->dev[i].st == DEV_SERVED &&
		    txn(b->xs, b->dev[i].path, close_dev, NULL) == 1)
			closed++;
	if (closed)
		log_info("domain %u: %u virtio disk(s) closed (state 6)",
			 b->domid, closed);
	if (b->xs) {
		if (b->watch_be)
			xs_unwatch(b->xs, b->dir, "be");
		if (b->claim[0])
			xs_claim_release(b->xs, b->claim);
		xs_close(b->xs);
	}
	domain_watch_free(b->dw);
	free(b);
}
