/* SPDX-License-Identifier: GPL-2.0-only */
/* sim-guest commands: a model of libxl 4.17 for virtio disks (issue 4).
 *
 * In the xenstore modes (--mode domid|watch) there is no --disk: guests are
 * created and destroyed by these commands, which do to xenstore and to the
 * simulated Xen what libxl does (xl-integration.md §2, e2e-testbed.md Part
 * 2 items 4-5):
 * - xl-create builds a domain, paused; writes each disk's frontend and
 *   backend directories (libxl_disk.c device_disk_add +
 *   libxl__device_generic_add: one transaction per disk, frontend first,
 *   base in decimal, devid from the vdev, base/irq allocated in config
 *   order from 0x02000000 / SPI 33) and waits at most LIBXL_INIT_TIMEOUT
 *   (10 s) for each backend state to be exactly 2, looked at when it
 *   changes (libxl_event.c devstate_callback); then unpauses the domain;
 * - xl-destroy removes each frontend directory, sets online 0 and state 5
 *   (unless already 6), waits at most LIBXL_DESTROY_TIMEOUT (10 s) for
 *   exactly 6, removes the directories and destroys the domain
 *   (libxl_device.c libxl__initiate_device_generic_remove, libxl_domain.c);
 * - xl-reboot is the guest's own shutdown for a reboot, then a destroy
 *   and a create with a new domid (on_reboot=restart), xl-shutdown the
 *   guest's own shutdown followed by the on_* action, xl-kill a death
 *   without any toolstack step.
 * With --mode watch the daemon is the supervisor; its children (one per
 * guest) are followed through its log, which passes through a pipe: the
 * lines "started backend process P" and "backend process P exited with
 * status S" give each guest's process and its exit status. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <grp.h>
#include <pwd.h>
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

#include "sim_guest.h"
#include "sim_proto.h"

#define XL_MAX_GUESTS	 64
#define LIBXL_TIMEOUT_MS 10000 /* LIBXL_INIT_TIMEOUT, LIBXL_DESTROY_TIMEOUT */
#define MAX_OVERRIDES	 16
#define BE_ROOT		 "/local/domain/0/backend/virtio_disk"
#define XS_MAX_PATH	 256

/* XenbusState values libxl writes and waits for. */
enum { XB_INIT = 1, XB_INITWAIT = 2, XB_CLOSING = 5, XB_CLOSED = 6 };

/* A node libxl would write, replaced or left out: malformed values. */
struct override {
	unsigned disk;
	char key[32];
	char val[256];
	bool unset;
};

struct xl_disk {
	char target[PATH_MAX];
	char vdev[16];
	uint32_t devid;
	bool ro;
	uint64_t base;
	unsigned irq;
	int64_t written_ms; /* when its directories were committed */
};

struct xl_guest {
	char name[64];
	struct sim_dom *dom;
	uint32_t domid;
	unsigned vcpus;
	uint64_t ram;
	struct xl_disk disk[MAX_DISKS];
	unsigned ndisk;
	struct override over[MAX_OVERRIDES];
	unsigned nover;
	unsigned stagger_ms;
	struct guest *g; /* the guest's driver, once it runs */
	/* the session's disks while another guest is the current one */
	struct disk sdisk[MAX_DISKS];
	unsigned nsdisk, scur;
	bool destroyed;
	/* --mode domid: its daemon's end, once reaped */
	bool reaped;
	int wstatus;
};

/* A per-guest backend process as the supervisor's log tells it. */
struct child {
	uint32_t domid;
	long pid;
	bool exited;
	int wstatus;  /* as waitpid's */
	bool checked; /* expect-daemon-exit looked at its end */
};

static struct {
	char daemon[PATH_MAX], libdir[PATH_MAX];
	char *const *args;
	unsigned nargs;
	uint32_t next_domid;
	struct xl_guest *guest[XL_MAX_GUESTS];
	unsigned nguest;
	struct xl_guest *cur;	 /* what the commands act on by default */
	bool attached;		 /* the session's disks are cur's */
	struct xl_guest *served; /* --mode domid: the daemon's guest */
	/* the supervisor's log */
	int log_fd;
	pthread_t reader;
	bool reader_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct child child[XL_MAX_GUESTS * 2];
	unsigned nchild, untracked_children;
	bool watching; /* the supervisor said it watches xenstore */
} X = {.log_fd = -1,
       .mu = PTHREAD_MUTEX_INITIALIZER,
       .cv = PTHREAD_COND_INITIALIZER};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------- the supervisor's log */

/* Wait on X.cv (X.mu held) for news from the log, 50 ms at most: the
 * callers look at their own deadline. */
static void cv_wait_a_bit(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 50 * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	pthread_cond_timedwait(&X.cv, &X.mu, &ts);
}

static struct child *child_of(uint32_t domid)
{
	/* The latest process for the domid. */
	for (unsigned i = X.nchild; i-- > 0;)
		if (X.child[i].domid == domid)
			return &X.child[i];
	return NULL;
}

static void parse_line(const char *line)
{
	const char *p = strstr(line, "domain ");
	unsigned domid;
	long pid;
	int code, n = 0;

	pthread_mutex_lock(&X.mu);
	if (!p) {
		if (strstr(line, ": watching /local/domain/"))
			X.watching = true;
	} else if (sscanf(p, "domain %u: started backend process %ld%n", &domid,
			  &pid, &n) == 2 &&
		   n > 0) {
		if (X.nchild < sizeof(X.child) / sizeof(X.child[0]))
			X.child[X.nchild++] =
			    (struct child){.domid = domid, .pid = pid};
		else
			X.untracked_children++;
	} else if (sscanf(p,
			  "domain %u: backend process %ld exited with "
			  "status %d",
			  &domid, &pid, &code) == 3) {
		struct child *c = child_of(domid);

		if (c && c->pid == pid) {
			c->exited = true;
			c->wstatus = (code & 0xff) << 8;
		}
	} else if (sscanf(p,
			  "domain %u: backend process %ld killed by "
			  "signal %d",
			  &domid, &pid, &code) == 3) {
		struct child *c = child_of(domid);

		if (c && c->pid == pid) {
			c->exited = true;
			c->wstatus = code & 0x7f;
		}
	}
	pthread_cond_broadcast(&X.cv);
	pthread_mutex_unlock(&X.mu);
}

/* Pass the daemon's stderr on, line by line, and follow its children. */
static void *reader_main(void *arg)
{
	FILE *f = fdopen(X.log_fd, "r");
	char line[2048];

	(void)arg;
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		fputs(line, stderr);
		parse_line(line);
	}
	fclose(f);
	X.log_fd = -1;
	return NULL;
}

/* --------------------------------------------------------- the session */

static struct xl_guest *find_guest(const char *key)
{
	unsigned id;

	for (unsigned i = X.nguest; i-- > 0;)
		if (!strcmp(X.guest[i]->name, key))
			return X.guest[i];
	if (parse_uint(key, 0x7fef, &id))
		for (unsigned i = 0; i < X.nguest; i++)
			if (X.guest[i]->domid == id)
				return X.guest[i];
	return NULL;
}

/* The guest a command names (argv[i], if given) or the current one. */
static struct xl_guest *guest_arg(int argc, char **argv, int i,
				  struct result *res)
{
	struct xl_guest *g = i < argc ? find_guest(argv[i]) : X.cur;

	if (!g)
		fail_msg(res, CMD_USAGE, "no such guest '%s'",
			 i < argc ? argv[i] : "(none yet: xl-create first)");
	return g;
}

/* The session's disks are those of the current guest, once it runs. */
static void detach_session(struct session *s)
{
	struct xl_guest *g = X.cur;

	if (g && X.attached) {
		memcpy(g->sdisk, s->disks, s->ndisks * sizeof(s->disks[0]));
		g->nsdisk = s->ndisks;
		g->scur = s->cur;
	}
	memset(s->disks, 0, sizeof(s->disks));
	s->ndisks = 0;
	s->cur = 0;
	s->g = NULL;
	X.attached = false;
}

/* g becomes the current guest (and its domain the default one). */
static void attach_session(struct session *s, struct xl_guest *g)
{
	detach_session(s);
	X.cur = g;
	sim_hv_set_default_domain(s->hv, g->dom);
	if (!g->g)
		return;
	memcpy(s->disks, g->sdisk, g->nsdisk * sizeof(s->disks[0]));
	s->ndisks = g->nsdisk;
	s->cur = g->scur;
	s->g = g->g;
	X.attached = true;
}

static void guest_free_all(struct xl_guest *g)
{
	for (unsigned i = 0; i < g->nsdisk; i++)
		gdev_free(g->sdisk[i].dev);
	g->nsdisk = 0;
	guest_free(g->g);
	g->g = NULL;
}

/* -------------------------------------------------------- the config */

/* libxl__device_disk_dev_number() for xvdX: the PV disk numbering. */
static bool vdev_devid(const char *vdev, uint32_t *devid)
{
	unsigned idx = 0;
	const char *p = vdev + 3;

	if (strncmp(vdev, "xvd", 3) || !*p)
		return false;
	for (; *p; p++) {
		if (*p < 'a' || *p > 'z')
			return false;
		idx = idx * 26 + (unsigned)(*p - 'a') + 1;
		if (idx > 1 << 20)
			return false;
	}
	idx--;
	*devid = idx < 16 ? (202u << 8) | (idx << 4) : (1u << 28) | (idx << 8);
	return true;
}

/* One disk= value: an xl disk spec without spaces (key=value,...; a bare
 * word is the target) or just a path. */
static int parse_disk_spec(struct xl_disk *d, unsigned n, const char *spec,
			   struct result *res)
{
	char *copy = strdup(spec), *save = NULL, *tok;
	int rc = 0;

	if (!copy) {
		fail_msg(res, -ENOMEM, "out of memory");
		return -1;
	}
	memset(d, 0, sizeof(*d));
	snprintf(d->vdev, sizeof(d->vdev), "xvd%c", 'a' + n);
	for (tok = strtok_r(copy, ",", &save); tok && !rc;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq) {
			snprintf(d->target, sizeof(d->target), "%s", tok);
		} else if (!strncmp(tok, "target=", 7)) {
			snprintf(d->target, sizeof(d->target), "%s", eq + 1);
		} else if (!strncmp(tok, "vdev=", 5)) {
			snprintf(d->vdev, sizeof(d->vdev), "%s", eq + 1);
		} else if (!strcmp(tok, "access=rw") ||
			   !strcmp(tok, "access=w")) {
			d->ro = false;
		} else if (!strcmp(tok, "access=ro") ||
			   !strcmp(tok, "access=r")) {
			d->ro = true;
		} else if (!strcmp(tok, "format=raw") ||
			   !strcmp(tok, "backendtype=standalone") ||
			   !strcmp(tok, "specification=virtio")) {
			/* what a virtio disk needs anyway */
		} else {
			fail_msg(res, CMD_USAGE,
				 "disk %u: '%s' is not supported here (libxl: "
				 "specification=virtio needs "
				 "backendtype=standalone, format=raw)",
				 n, tok);
			rc = -1;
		}
	}
	free(copy);
	if (rc)
		return rc;
	if (!d->target[0]) {
		fail_msg(res, CMD_USAGE, "disk %u: no target", n);
		return -1;
	}
	if (!vdev_devid(d->vdev, &d->devid)) {
		fail_msg(res, CMD_USAGE, "disk %u: vdev '%s' is not xvdX", n,
			 d->vdev);
		return -1;
	}
	/* libxl_arm.c: in config order, one window and one SPI each. */
	d->base = MMIO_BASE + n * MMIO_SIZE;
	d->irq = FIRST_SPI + n;
	return 0;
}

/* set=N:KEY=VALUE (write VALUE instead of libxl's) or unset=N:KEY. */
static int parse_override(struct xl_guest *g, const char *arg, bool unset,
			  struct result *res)
{
	struct override *o;
	const char *colon = strchr(arg, ':'), *key, *eq;
	unsigned disk;
	char num[16];

	if (g->nover == MAX_OVERRIDES || !colon ||
	    (size_t)(colon - arg) >= sizeof(num))
		goto bad;
	memcpy(num, arg, (size_t)(colon - arg));
	num[colon - arg] = '\0';
	if (!parse_uint(num, MAX_DISKS - 1, &disk))
		goto bad;
	key = colon + 1;
	eq = strchr(key, '=');
	if (unset ? eq != NULL : eq == NULL)
		goto bad;
	o = &g->over[g->nover++];
	memset(o, 0, sizeof(*o));
	o->disk = disk;
	o->unset = unset;
	snprintf(o->key, sizeof(o->key), "%.*s",
		 (int)(unset ? strlen(key) : (size_t)(eq - key)), key);
	if (!unset)
		snprintf(o->val, sizeof(o->val), "%s", eq + 1);
	if (!o->key[0])
		goto bad;
	return 0;
bad:
	fail_msg(res, CMD_USAGE, "bad %s '%s' (N:KEY%s)",
		 unset ? "unset" : "set", arg, unset ? "" : "=VALUE");
	return -1;
}

/* ----------------------------------------------------- xenstore paths */

static void be_dir(const struct xl_guest *g, const struct xl_disk *d, char *buf,
		   size_t len)
{
	snprintf(buf, len, BE_ROOT "/%u/%u", g->domid, d->devid);
}

static void fe_dir(const struct xl_guest *g, const struct xl_disk *d, char *buf,
		   size_t len)
{
	snprintf(buf, len, "/local/domain/%u/device/virtio_disk/%u", g->domid,
		 d->devid);
}

/* {domid}, {be} and {fe} of the current guest in a path. */
static int expand(const char *in, char *out, size_t len, struct result *res)
{
	size_t o = 0;

	for (const char *p = in; *p;) {
		char sub[96] = "";
		size_t n;

		if (*p == '{' && X.cur) {
			if (!strncmp(p, "{domid}", 7))
				snprintf(sub, sizeof(sub), "%u", X.cur->domid);
			else if (!strncmp(p, "{be}", 4))
				snprintf(sub, sizeof(sub), BE_ROOT "/%u",
					 X.cur->domid);
			else if (!strncmp(p, "{fe}", 4))
				snprintf(sub, sizeof(sub),
					 "/local/domain/%u/device/virtio_disk",
					 X.cur->domid);
		}
		if (sub[0]) {
			n = strlen(sub);
			p = strchr(p, '}') + 1;
		} else {
			sub[0] = *p++;
			sub[1] = '\0';
			n = 1;
		}
		if (o + n >= len) {
			fail_msg(res, CMD_USAGE, "path too long");
			return -1;
		}
		memcpy(out + o, sub, n);
		o += n;
	}
	out[o] = '\0';
	if (strchr(out, '{')) {
		fail_msg(res, CMD_USAGE, "'%s': {...} needs a guest", in);
		return -1;
	}
	return 0;
}

/* A disk of the current guest by vdev, devid or index (#N). */
static struct xl_disk *disk_arg(struct xl_guest *g, const char *a,
				struct result *res)
{
	unsigned v;

	for (unsigned i = 0; g && i < g->ndisk; i++)
		if (!strcmp(g->disk[i].vdev, a) ||
		    (parse_uint(a, UINT32_MAX, &v) && v == g->disk[i].devid) ||
		    (a[0] == '#' && parse_uint(a + 1, MAX_DISKS, &v) && v == i))
			return &g->disk[i];
	fail_msg(res, CMD_USAGE, "no disk '%s' in the current guest", a);
	return NULL;
}

/* ------------------------------------------------ libxl's transactions */

struct node {
	const char *key;
	char val[PATH_MAX];
};

/* One more node in a list. */
static void put(struct node *nodes, unsigned *n, const char *key,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(struct node *nodes, unsigned *n, const char *key,
		const char *fmt, ...)
{
	va_list ap;

	nodes[*n].key = key;
	va_start(ap, fmt);
	vsnprintf(nodes[*n].val, sizeof(nodes[*n].val), fmt, ap);
	va_end(ap);
	(*n)++;
}

struct add_arg {
	struct xl_guest *g;
	unsigned n;
};

static int txn_writev(struct sim_xs_txn *t, const char *dir,
		      const struct node *nodes, unsigned n)
{
	char path[XS_MAX_PATH + 64];

	for (unsigned i = 0; i < n; i++) {
		if (!nodes[i].key)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, nodes[i].key);
		if (sim_xs_txn_write(t, path, nodes[i].val))
			return -EIO;
	}
	return 0;
}

/* Apply the overrides of one disk to a list of nodes (the list has room
 * for the added ones). */
static unsigned apply_overrides(const struct xl_guest *g, unsigned disk,
				struct node *nodes, unsigned n, unsigned max)
{
	for (unsigned i = 0; i < g->nover; i++) {
		const struct override *o = &g->over[i];
		unsigned k;

		if (o->disk != disk)
			continue;
		for (k = 0; k < n; k++)
			if (nodes[k].key && !strcmp(nodes[k].key, o->key))
				break;
		if (k == n) {
			if (o->unset || n == max)
				continue;
			/* A node libxl 4.17 does not write (grant_usage is
			 * 4.19's): before state, which stays last. */
			nodes[n] = nodes[n - 1];
			k = n - 1;
			n++;
			nodes[k].key = o->key;
		}
		if (o->unset)
			nodes[k].key = NULL;
		else
			snprintf(nodes[k].val, sizeof(nodes[k].val), "%s",
				 o->val);
	}
	return n;
}

/* libxl__device_generic_add + device_disk_add, one transaction: the
 * frontend directory, then the backend one; state last in each. */
static int add_device(struct sim_xs_txn *t, void *arg)
{
	struct add_arg *a = arg;
	const struct xl_guest *g = a->g;
	const struct xl_disk *d = &g->disk[a->n];
	char be[XS_MAX_PATH], fe[XS_MAX_PATH];
	static struct node front[8], back[32];
	unsigned nf = 0, nb = 0;
	int rc;

	be_dir(g, d, be, sizeof(be));
	fe_dir(g, d, fe, sizeof(fe));
	put(front, &nf, "backend", "%s", be);
	put(front, &nf, "backend-id", "0");
	put(front, &nf, "virtual-device", "%u", d->devid);
	put(front, &nf, "device-type", "disk");
	put(front, &nf, "trusted", "1");
	put(front, &nf, "state", "%d", XB_INIT);
	put(back, &nb, "frontend", "%s", fe);
	put(back, &nb, "params", "%s", d->target);
	put(back, &nb, "frontend-id", "%u", g->domid);
	put(back, &nb, "online", "1");
	put(back, &nb, "removable", "0");
	put(back, &nb, "bootable", "1");
	put(back, &nb, "dev", "%s", d->vdev);
	put(back, &nb, "type", "standalone");
	put(back, &nb, "mode", "%s", d->ro ? "r" : "w");
	put(back, &nb, "device-type", "disk");
	put(back, &nb, "discard-enable", "1");
	put(back, &nb, "specification", "virtio");
	put(back, &nb, "transport", "mmio");
	put(back, &nb, "base", "%" PRIu64, d->base);
	put(back, &nb, "irq", "%u", d->irq);
	put(back, &nb, "state", "%d", XB_INIT);
	nb = apply_overrides(g, a->n, back, nb, sizeof(back) / sizeof(back[0]));
	sim_xs_txn_rm(t, fe);
	rc = txn_writev(t, fe, front, nf);
	if (!rc) {
		sim_xs_txn_rm(t, be);
		rc = txn_writev(t, be, back, nb);
	}
	return rc;
}

struct close_arg {
	const char *be;
	bool was_closed;
};

/* libxl__initiate_device_generic_remove's transaction: online 0 and
 * Closing, unless the backend is already Closed. */
static int close_device(struct sim_xs_txn *t, void *arg)
{
	struct close_arg *c = arg;
	char path[XS_MAX_PATH + 16];
	char *st;

	snprintf(path, sizeof(path), "%s/state", c->be);
	st = sim_xs_txn_read(t, path);
	if (!st) /* already gone */
		return -ENOENT;
	c->was_closed = atoi(st) == XB_CLOSED;
	free(st);
	if (c->was_closed)
		return 0;
	snprintf(path, sizeof(path), "%s/online", c->be);
	sim_xs_txn_write(t, path, "0");
	snprintf(path, sizeof(path), "%s/state", c->be);
	sim_xs_txn_write(t, path, "5");
	return 0;
}

/* libxl__xs_path_cleanup: the node, then its parents while empty, up to
 * (not including) `stop`. */
static void path_cleanup(struct sim_hv *hv, const char *path, const char *stop)
{
	char p[XS_MAX_PATH];

	sim_hv_xs_rm(hv, path);
	snprintf(p, sizeof(p), "%s", path);
	for (;;) {
		char *slash = strrchr(p, '/');

		if (!slash || slash == p)
			return;
		*slash = '\0';
		if (strlen(p) <= strlen(stop) || sim_hv_xs_children(hv, p) != 0)
			return;
		sim_hv_xs_rm(hv, p);
	}
}

/* ------------------------------------------------------------ actions */

static const char *state_of(struct sim_hv *hv, const char *be, char *buf,
			    size_t len)
{
	char path[XS_MAX_PATH + 16];
	char *v;

	snprintf(path, sizeof(path), "%s/state", be);
	v = sim_hv_xs_read(hv, path);
	snprintf(buf, len, "%s", v ? v : "(none)");
	free(v);
	return buf;
}

/* --mode domid: wait for the daemon of the served guest to end. */
static int reap_domid_daemon(struct session *s, int timeout_ms)
{
	struct xl_guest *g = X.served;
	int ws = 0, rc;

	if (!g || g->reaped)
		return 0;
	rc = sim_hv_wait_daemon(s->hv, timeout_ms, &ws);
	if (rc < 0)
		return rc;
	g->reaped = true;
	g->wstatus = ws;
	s->daemon_reaped = true;
	s->daemon_wstatus = ws;
	return 0;
}

/* Start the per-guest daemon (domid mode): libxl spawns nothing, the
 * administrator does, before libxl's 10 s are over; the daemon of a
 * guest already destroyed is let finish first. */
static int start_domid_daemon(struct session *s, struct xl_guest *g,
			      struct result *res)
{
	char dom[16];
	char *argv[8 + 64];
	unsigned k = 0;
	int rc;

	if (X.served && !X.served->destroyed && sim_hv_daemon_alive(s->hv)) {
		fail_msg(res, -EBUSY,
			 "--mode domid serves one guest at a time; dom %u's "
			 "daemon still runs",
			 X.served->domid);
		return -1;
	}
	rc = reap_domid_daemon(s, s->timeout_ms);
	if (rc) {
		fail_msg(res, rc, "dom %u's daemon does not exit: %s",
			 X.served->domid, rc_name(rc));
		return -1;
	}
	snprintf(dom, sizeof(dom), "%u", g->domid);
	argv[k++] = X.daemon;
	argv[k++] = "--domid";
	argv[k++] = dom;
	argv[k++] = "--foreground";
	for (unsigned i = 0;
	     i < X.nargs && k < sizeof(argv) / sizeof(*argv) - 1; i++)
		argv[k++] = X.args[i];
	argv[k] = NULL;
	if (sim_hv_spawn(s->hv, X.libdir, argv) < 0) {
		fail_msg(res, -errno, "cannot start %s: %s", X.daemon,
			 strerror(errno));
		return -1;
	}
	s->daemon_exit_expected = false;
	s->daemon_reaped = false;
	X.served = g;
	return 0;
}

/* The guest's driver comes up: xl unpaused the domain. */
static int run_guest(struct session *s, struct xl_guest *g, struct result *res)
{
	int rc;

	sim_dom_unpause(g->dom);
	/* Xen broadcasts one INVALIDATE while the domain boots, before the
	 * guest's first MMIO access (e2e-testbed.md, contract facts). */
	rc = sim_dom_invalidate(g->dom, 0, s->timeout_ms);
	if (rc) {
		fail_msg(res, rc, "dom %u: boot-time INVALIDATE: %s", g->domid,
			 rc_name(rc));
		return -1;
	}
	g->g = guest_new_dom(g->dom, s->vcpus);
	if (!g->g) {
		fail_msg(res, -ENOMEM, "out of memory");
		return -1;
	}
	guest_set_timeout(g->g, s->timeout_ms);
	detach_session(s); /* g's disks are filled in below */
	/* The guest's device tree is libxl's allocation, whatever xenstore
	 * says. */
	for (unsigned i = 0; i < g->ndisk; i++) {
		struct disk *dk = &g->sdisk[i];

		const char *t = g->disk[i].target;

		memset(dk, 0, sizeof(*dk));
		/* target < PATH_MAX = sizeof(dk->path) < sizeof(dk->spec) */
		memcpy(dk->path, t, strlen(t) + 1);
		memcpy(dk->spec, t, strlen(t) + 1);
		dk->ro = g->disk[i].ro;
		dk->base = g->disk[i].base;
		dk->irq = g->disk[i].irq;
		dk->feature_mask = ~0ULL;
		dk->dev = gdev_new(g->g, dk->base, dk->irq);
		if (!dk->dev) {
			fail_msg(res, -ENOMEM, "out of memory");
			return -1;
		}
		g->nsdisk = i + 1;
	}
	g->scur = 0;
	X.cur = NULL;
	attach_session(s, g);
	return 0;
}

/* libxl's destroy of the devices and the domain; false if a device did
 * not reach state 6 in time (libxl goes on regardless). */
static bool destroy_guest(struct session *s, struct xl_guest *g,
			  const char *who, struct result *res)
{
	int64_t t0 = now_ms(), worst = 0;
	bool ok = true;
	char be[XS_MAX_PATH], fe[XS_MAX_PATH], st[32], path[XS_MAX_PATH + 16];

	if (g->destroyed) {
		fail_msg(res, -ESRCH, "dom %u is already destroyed", g->domid);
		return false;
	}
	if (s->mode == MODE_DOMID)
		s->daemon_exit_expected = true;
	/* libxl__destroy_domid pauses the domain first. */
	sim_dom_pause(g->dom);
	for (unsigned i = 0; i < g->ndisk; i++) {
		struct xl_disk *d = &g->disk[i];
		struct close_arg c;

		fe_dir(g, d, fe, sizeof(fe));
		be_dir(g, d, be, sizeof(be));
		c.be = be;
		/* Force: the frontend goes first (its own commit). */
		path_cleanup(s->hv, fe, "/local/domain");
		c.was_closed = false;
		if (sim_hv_xs_txn(s->hv, close_device, &c) == -ENOENT)
			continue;
		snprintf(path, sizeof(path), "%s/state", be);
		if (sim_hv_xs_wait(s->hv, path, "6", LIBXL_TIMEOUT_MS)) {
			fail_msg(res, -ETIMEDOUT,
				 "%s: dom %u disk %s: backend state %s, not "
				 "6, after %.3f s (libxl gives up and removes "
				 "it)",
				 who, g->domid, d->vdev,
				 state_of(s->hv, be, st, sizeof(st)),
				 (double)(now_ms() - t0) / 1000);
			ok = false;
		} else if (now_ms() - t0 > worst) {
			worst = now_ms() - t0;
		}
	}
	/* libxl__device_destroy, then devices_destroy_cb: the directories
	 * and the domain's home, then the domain itself. */
	for (unsigned i = 0; i < g->ndisk; i++) {
		be_dir(g, &g->disk[i], be, sizeof(be));
		path_cleanup(s->hv, be, BE_ROOT);
	}
	snprintf(path, sizeof(path), "/local/domain/%u", g->domid);
	sim_hv_xs_rm(s->hv, path);
	sim_dom_destroy(g->dom);
	g->destroyed = true;
	/* Its vCPUs are gone: nothing queued will ever complete. */
	bool here = X.cur == g && X.attached;

	for (unsigned i = 0; i < (here ? s->ndisks : g->nsdisk); i++)
		gdev_abort(here ? s->disks[i].dev : g->sdisk[i].dev);
	if (ok)
		printf("%s: dom %u: every backend closed (state 6) after "
		       "%.3f s; domain destroyed\n",
		       who, g->domid, (double)worst / 1000);
	return ok;
}

static struct xl_guest *new_guest(struct result *res)
{
	struct xl_guest *g;

	if (X.nguest == XL_MAX_GUESTS) {
		fail_msg(res, -ENOSPC, "too many guests");
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		fail_msg(res, -ENOMEM, "out of memory");
	else
		X.guest[X.nguest++] = g;
	return g;
}

/* Build the domain of g (its config filled in) as libxl does. */
static bool create_guest(struct session *s, struct xl_guest *g, bool wait,
			 const char *who, struct result *res)
{
	int64_t t0;
	char be[XS_MAX_PATH], path[XS_MAX_PATH + 16], st[32];

	/* libxl__try_phy_backend: a dom0 backend's target must be a file
	 * or a block device. */
	for (unsigned i = 0; i < g->ndisk; i++) {
		struct stat sb;

		if (stat(g->disk[i].target, &sb) < 0 ||
		    !(S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode))) {
			fail_msg(res, -ENOENT,
				 "%s: disk vdev=%s failed to stat: %s", who,
				 g->disk[i].vdev, g->disk[i].target);
			return false;
		}
	}
	g->dom = sim_hv_create_domain(s->hv, X.next_domid, g->vcpus, g->ram);
	if (!g->dom) {
		fail_msg(res, -errno, "%s: cannot create the domain: %s", who,
			 strerror(errno));
		return false;
	}
	X.next_domid = 0; /* from now on: the next free one */
	g->domid = sim_dom_id(g->dom);
	g->destroyed = false;
	snprintf(path, sizeof(path), "/local/domain/%u/name", g->domid);
	sim_hv_xs_write(s->hv, path, g->name);
	t0 = now_ms();
	for (unsigned i = 0; i < g->ndisk; i++) {
		struct add_arg a = {.g = g, .n = i};

		if (i && g->stagger_ms)
			sleep_ms(g->stagger_ms);
		if (sim_hv_xs_txn(s->hv, add_device, &a)) {
			fail_msg(res, -EIO, "%s: xenstore write failed", who);
			return false;
		}
		g->disk[i].written_ms = now_ms();
		if (i == 0 && s->mode == MODE_DOMID &&
		    start_domid_daemon(s, g, res))
			return false;
	}
	if (!wait) {
		attach_session(s, g);
		printf("%s: dom %u (%s): %u disk(s) written, domain paused "
		       "(not waiting)\n",
		       who, g->domid, g->name, g->ndisk);
		return true;
	}
	/* libxl__wait_device_connection, for every disk at once: each has
	 * LIBXL_INIT_TIMEOUT from its own write. */
	for (unsigned i = 0; i < g->ndisk; i++) {
		struct xl_disk *d = &g->disk[i];
		int64_t left = d->written_ms + LIBXL_TIMEOUT_MS - now_ms();

		be_dir(g, d, be, sizeof(be));
		snprintf(path, sizeof(path), "%s/state", be);
		if (sim_hv_xs_wait(s->hv, path, "2",
				   left > 0 ? (int)left : 0)) {
			fail_msg(res, -ETIMEDOUT,
				 "%s: dom %u disk %s: unable to initialize "
				 "device: backend state %s, not 2, after %.3f "
				 "s",
				 who, g->domid, d->vdev,
				 state_of(s->hv, be, st, sizeof(st)),
				 (double)(now_ms() - d->written_ms) / 1000);
			/* The failed create destroys what it built. */
			destroy_guest(s, g, who, res);
			return false;
		}
	}
	printf("%s: dom %u (%s): %u disk(s) in state 2 after %.3f s\n", who,
	       g->domid, g->name, g->ndisk, (double)(now_ms() - t0) / 1000);
	return !run_guest(s, g, res);
}

/* ------------------------------------------------------------ commands */

static void cmd_xl_create(struct session *s, int argc, char **argv,
			  struct result *res)
{
	struct xl_guest *g = new_guest(res);
	bool wait = true;
	unsigned v;

	if (!g)
		return;
	snprintf(g->name, sizeof(g->name), "guest%u", X.nguest);
	g->vcpus = s->vcpus;
	g->ram = 64ULL << 20;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strncmp(a, "name=", 5) && a[5] &&
		    strlen(a + 5) < sizeof(g->name)) {
			snprintf(g->name, sizeof(g->name), "%s", a + 5);
		} else if (!strncmp(a, "disk=", 5)) {
			if (g->ndisk == MAX_DISKS) {
				fail_msg(res, CMD_USAGE,
					 "at most %d virtio-mmio devices "
					 "(SPIs 33..43)",
					 MAX_DISKS);
				goto bad;
			}
			if (parse_disk_spec(&g->disk[g->ndisk], g->ndisk, a + 5,
					    res))
				goto bad;
			for (unsigned k = 0; k < g->ndisk; k++)
				if (g->disk[k].devid ==
				    g->disk[g->ndisk].devid) {
					fail_msg(res, CMD_USAGE,
						 "vdev %s given twice",
						 g->disk[k].vdev);
					goto bad;
				}
			g->ndisk++;
		} else if (!strncmp(a, "vcpus=", 6) &&
			   parse_uint(a + 6, 128, &v) && v) {
			g->vcpus = v;
		} else if (!strncmp(a, "ram=", 4) &&
			   parse_uint(a + 4, SIM_RAM_MAX >> 20, &v) &&
			   v >= 16) {
			g->ram = (uint64_t)v << 20;
		} else if (!strncmp(a, "stagger=", 8) &&
			   parse_uint(a + 8, 5000, &v)) {
			g->stagger_ms = v;
		} else if (!strcmp(a, "nowait")) {
			wait = false;
		} else if (!strncmp(a, "set=", 4)) {
			if (parse_override(g, a + 4, false, res))
				goto bad;
		} else if (!strncmp(a, "unset=", 6)) {
			if (parse_override(g, a + 6, true, res))
				goto bad;
		} else {
			fail_msg(res, CMD_USAGE, "xl-create: unknown '%s'", a);
			goto bad;
		}
	}
	if (!g->ndisk) {
		fail_msg(res, CMD_USAGE, "xl-create: no disk=");
		goto bad;
	}
	if (g->vcpus > s->vcpus) {
		/* random-io and friends use one thread per --vcpus. */
		fail_msg(res, CMD_USAGE, "vcpus=%u > --vcpus %u", g->vcpus,
			 s->vcpus);
		goto bad;
	}
	/* A create refused before its domain exists leaves nothing behind,
	 * as libxl's does. */
	if (create_guest(s, g, wait, "xl-create", res) || g->dom)
		return;
bad:
	X.nguest--;
	free(g);
}

static void cmd_xl_unpause(struct session *s, int argc, char **argv,
			   struct result *res)
{
	struct xl_guest *g = guest_arg(argc, argv, 1, res);

	if (!g)
		return;
	if (g->g || g->destroyed || !sim_dom_paused(g->dom)) {
		fail_msg(res, CMD_USAGE, "dom %u is not a paused new guest",
			 g->domid);
		return;
	}
	if (!run_guest(s, g, res))
		printf("xl-unpause: dom %u runs\n", g->domid);
}

static void cmd_xl_destroy(struct session *s, int argc, char **argv,
			   struct result *res)
{
	struct xl_guest *g = guest_arg(argc, argv, 1, res);

	if (g)
		destroy_guest(s, g, "xl-destroy", res);
}

/* A new domain for the same config (on_reboot=restart). */
static void recreate(struct session *s, struct xl_guest *old, const char *who,
		     struct result *res)
{
	struct xl_guest *g = new_guest(res);
	uint32_t was = old->domid;

	if (!g)
		return;
	memcpy(g->name, old->name, sizeof(g->name));
	g->vcpus = old->vcpus;
	g->ram = old->ram;
	memcpy(g->disk, old->disk, sizeof(g->disk));
	g->ndisk = old->ndisk;
	memcpy(g->over, old->over, sizeof(g->over));
	g->nover = old->nover;
	g->stagger_ms = old->stagger_ms;
	/* The old name now belongs to the new domain. */
	snprintf(old->name, sizeof(old->name), "dom%u", was);
	if (create_guest(s, g, true, who, res))
		printf("%s: dom %u is now dom %u\n", who, was, g->domid);
}

/* xl's background process learns of a shutdown from @releaseDomain, as
 * the backends do, and reads the domain's state and its config before it
 * destroys the domain: by then the backends have seen the event (e2e case
 * service, docs/xen-notes.md 5: the per-guest process wrote 6 before libxl
 * touched the devices). */
static void xl_notices_shutdown(struct session *s)
{
	sim_hv_xs_settle(s->hv, s->timeout_ms);
}

/* xl reboot only asks the guest (control/shutdown = reboot); Linux resets
 * its virtio devices and tells Xen it shuts down for a reboot, then xl's
 * on_reboot=restart destroys the domain and creates a new one
 * (docs/xen-notes.md 5). */
static void cmd_xl_reboot(struct session *s, int argc, char **argv,
			  struct result *res)
{
	struct xl_guest *g = guest_arg(argc, argv, 1, res);
	char path[64];

	if (!g)
		return;
	if (g->destroyed) {
		fail_msg(res, -ESRCH, "dom %u is already destroyed", g->domid);
		return;
	}
	snprintf(path, sizeof(path), "/local/domain/%u/control/shutdown",
		 g->domid);
	sim_hv_xs_write(s->hv, path, "reboot");
	for (unsigned i = 0; X.cur == g && X.attached && i < s->ndisks; i++)
		if (gdev_ready(s->disks[i].dev)) {
			gdev_reset(s->disks[i].dev, 0);
			s->disks[i].dirty = true;
		}
	sim_dom_shutdown(g->dom, 1 /* SHUTDOWN_reboot */);
	printf("xl-reboot: dom %u shut down (reboot)\n", g->domid);
	xl_notices_shutdown(s);
	if (!destroy_guest(s, g, "xl-reboot", res))
		return;
	recreate(s, g, "xl-reboot", res);
}

static const char *const shutdown_names[] = {
    "poweroff", "reboot", "suspend", "crash", "watchdog", "soft_reset",
};

/* The guest shuts itself down, then xl's on_* action runs. */
static void cmd_xl_shutdown(struct session *s, int argc, char **argv,
			    struct result *res)
{
	struct xl_guest *g = X.cur;
	unsigned reason, n = sizeof(shutdown_names) / sizeof(*shutdown_names);
	const char *action = NULL;

	for (reason = 0; reason < n; reason++)
		if (!strcmp(argv[1], shutdown_names[reason]))
			break;
	if (reason == n) {
		fail_msg(res, CMD_USAGE, "unknown shutdown reason '%s'",
			 argv[1]);
		return;
	}
	if (argc > 2) {
		if (strncmp(argv[2], "action=", 7)) {
			fail_msg(res, CMD_USAGE, "expected action=...");
			return;
		}
		action = argv[2] + 7;
		if (strcmp(action, "destroy") && strcmp(action, "restart") &&
		    strcmp(action, "preserve")) {
			fail_msg(res, CMD_USAGE,
				 "action: destroy, restart or preserve");
			return;
		}
	}
	if (!g || g->destroyed || !g->g || !X.attached) {
		fail_msg(res, CMD_USAGE, "no running guest");
		return;
	}
	/* A Linux guest resets its virtio devices on an orderly shutdown
	 * (e2e-testbed.md Part 2 Q5); not when it crashes. */
	if (reason == 0 || reason == 1)
		for (unsigned i = 0; i < s->ndisks; i++)
			if (gdev_ready(s->disks[i].dev)) {
				int rc = gdev_reset(s->disks[i].dev, 0);

				if (rc) {
					fail_msg(res, rc, "reset: %s",
						 rc_name(rc));
					return;
				}
				s->disks[i].dirty = true;
			}
	sim_dom_shutdown(g->dom, reason);
	printf("xl-shutdown: dom %u shut down (%s)\n", g->domid, argv[1]);
	/* A suspend is xl save's business (then xl-resume, as xl save -c
	 * does); a soft reset libxl handles in place (not modelled). */
	if (reason == 2 || reason == 5)
		return;
	if (!action) /* xl.cfg's defaults */
		action = reason == 1 ? "restart" : "destroy";
	if (!strcmp(action, "preserve"))
		return;
	xl_notices_shutdown(s);
	if (!destroy_guest(s, g, "xl-shutdown", res))
		return;
	if (!strcmp(action, "restart"))
		recreate(s, g, "xl-shutdown", res);
}

static void cmd_xl_resume(struct session *s, int argc, char **argv,
			  struct result *res)
{
	struct xl_guest *g = guest_arg(argc, argv, 1, res);

	(void)s;
	if (!g)
		return;
	if (g->destroyed) {
		fail_msg(res, CMD_USAGE, "dom %u is destroyed", g->domid);
		return;
	}
	sim_dom_resume(g->dom);
	printf("xl-resume: dom %u runs again\n", g->domid);
}

/* The domain dies without libxl: no xenstore step at all. */
static void cmd_xl_kill(struct session *s, int argc, char **argv,
			struct result *res)
{
	struct xl_guest *g = X.cur;
	unsigned io = 0;
	uint64_t seed = 1, rng;
	struct greq *rq = NULL;
	unsigned nrq = 0;
	uint64_t inflight = 0;

	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], "io=", 3) &&
		    parse_uint(argv[i] + 3, 1024, &io))
			;
		else if (!strncmp(argv[i], "seed=", 5) &&
			 parse_u64(argv[i] + 5, &seed))
			;
		else {
			fail_msg(res, CMD_USAGE, "xl-kill [io=N] [seed=S]");
			return;
		}
	if (!g || g->destroyed) {
		fail_msg(res, CMD_USAGE, "no live guest");
		return;
	}
	if (s->mode == MODE_DOMID)
		s->daemon_exit_expected = true;
	rng = seed_of(seed);
	if (io) {
		struct disk *dk = cur_disk(s);
		uint64_t off = 0, cap;

		if (!X.attached || !dk->dev || ensure_ready(s, dk, res))
			return;
		cap = gdev_info(dk->dev)->capacity * 512;
		rq = calloc(io, sizeof(*rq));
		if (!rq) {
			fail_msg(res, -ENOMEM, "out of memory");
			return;
		}
		/* Writes and reads, queued and notified, none waited for. */
		for (; nrq < io; nrq++) {
			uint64_t len = 512 * rnd_range(&rng, 8, 64);

			if (off + len > cap)
				break;
			req_defaults(s, &rq[nrq]);
			rq[nrq].type =
			    nrq % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
			rq[nrq].sector = off / 512;
			rq[nrq].len = (uint32_t)len;
			rq[nrq].buf = malloc(len);
			if (!rq[nrq].buf)
				break;
			rnd_fill(&rng, rq[nrq].buf, len);
			off += len;
			if (gdev_submit(dk->dev, 0, &rq[nrq])) {
				free(rq[nrq].buf);
				break;
			}
		}
		/* The daemon answers a notification before it takes the
		 * requests: give it time to start them, so that they are
		 * in flight at the device and not only in the ring (the
		 * tests hold them back far longer than this). */
		usleep(100 * 1000);
		/* What the device has answered shows in the used ring. */
		gdev_poll(dk->dev);
		for (unsigned i = 0; i < nrq; i++)
			inflight +=
			    !__atomic_load_n(&rq[i].done, __ATOMIC_ACQUIRE);
	}
	sim_dom_destroy(g->dom);
	g->destroyed = true;
	for (unsigned i = 0; X.attached && i < s->ndisks; i++)
		gdev_abort(s->disks[i].dev);
	for (unsigned i = 0; i < nrq; i++)
		free(rq[i].buf);
	free(rq);
	if (io && !inflight) {
		fail_msg(res, -EIO,
			 "xl-kill: every one of the %u requests completed "
			 "before the kill: none was in flight",
			 nrq);
		return;
	}
	printf("xl-kill: dom %u killed", g->domid);
	if (io)
		printf(" with %" PRIu64 " of %u requests in flight", inflight,
		       nrq);
	printf("\n");
}

static void cmd_xl_use(struct session *s, int argc, char **argv,
		       struct result *res)
{
	struct xl_guest *g = guest_arg(argc, argv, 1, res);

	if (g)
		attach_session(s, g);
}

static void cmd_xl_list(struct session *s, int argc, char **argv,
			struct result *res)
{
	(void)s;
	(void)argc;
	(void)argv;
	(void)res;
	for (unsigned i = 0; i < X.nguest; i++) {
		struct xl_guest *g = X.guest[i];
		static const char *const life[] = {"alive", "dying", "gone"};

		printf("%s %u %s%s%s%s\n", g->name, g->domid,
		       life[sim_dom_life(g->dom)],
		       sim_dom_paused(g->dom) ? " paused" : "",
		       g->destroyed ? " destroyed" : "",
		       X.cur == g ? " current" : "");
	}
}

/* PATH VALUE...: written by wr (sim_hv_xs_write or sim_hv_xs_die). */
static void write_node_cmd(struct session *s, int argc, char **argv,
			   int (*wr)(struct sim_hv *, const char *,
				     const char *),
			   struct result *res)
{
	char path[XS_MAX_PATH], value[1024];
	size_t n = 0;
	int rc;

	if (expand(argv[1], path, sizeof(path), res))
		return;
	/* The words of VALUE, joined by single spaces. */
	value[0] = '\0';
	for (int i = 2; i < argc && n < sizeof(value); i++)
		n += (size_t)snprintf(value + n, sizeof(value) - n, "%s%s",
				      i > 2 ? " " : "", argv[i]);
	if (n >= sizeof(value)) {
		fail_msg(res, CMD_USAGE, "value too long");
		return;
	}
	rc = wr(s->hv, path, value);
	if (rc)
		fail_msg(res, rc, "%s %s: %s", argv[0], path, strerror(-rc));
}

static void cmd_xs_write(struct session *s, int argc, char **argv,
			 struct result *res)
{
	write_node_cmd(s, argc, argv, sim_hv_xs_write, res);
}

static void cmd_xenstored_dies(struct session *s, int argc, char **argv,
			       struct result *res)
{
	write_node_cmd(s, argc, argv, sim_hv_xs_die, res);
}

static void cmd_xs_read(struct session *s, int argc, char **argv,
			struct result *res)
{
	char path[XS_MAX_PATH];
	char *v;

	(void)argc;
	if (expand(argv[1], path, sizeof(path), res))
		return;
	v = sim_hv_xs_read(s->hv, path);
	if (v)
		printf("%s = \"%s\"\n", path, v);
	else
		printf("%s: absent\n", path);
	free(v);
}

static void cmd_xs_writes(struct session *s, int argc, char **argv,
			  struct result *res)
{
	char path[XS_MAX_PATH];
	int64_t n;

	(void)argc;
	if (expand(argv[1], path, sizeof(path), res))
		return;
	n = sim_hv_xs_writes(s->hv, path);
	if (n < 0)
		fail_msg(res, (int)n, "xs-writes %s: %s", path,
			 strerror((int)-n));
	else
		printf("xs-writes: %s written %" PRId64 " times\n", path, n);
}

static void cmd_xs_rm(struct session *s, int argc, char **argv,
		      struct result *res)
{
	char path[XS_MAX_PATH];
	int rc;

	(void)argc;
	if (expand(argv[1], path, sizeof(path), res))
		return;
	rc = sim_hv_xs_rm(s->hv, path);
	if (rc)
		fail_msg(res, rc, "xs-rm %s: %s", path, strerror(-rc));
}

static bool parse_ms(int argc, char **argv, int i, int def, int *ms,
		     struct result *res)
{
	unsigned v;

	*ms = def;
	if (i >= argc)
		return true;
	if (!parse_uint(argv[i], 600000, &v)) {
		fail_msg(res, CMD_USAGE, "bad milliseconds '%s'", argv[i]);
		return false;
	}
	*ms = (int)v;
	return true;
}

/* Wait for a node's value ("-": absent, "*": present). */
static void wait_node(struct session *s, const char *path, const char *want,
		      int ms, struct result *res)
{
	int64_t t0 = now_ms();
	bool any = !strcmp(want, "*"), absent = !strcmp(want, "-");
	int rc = 0;
	char *v = NULL;

	if (any)
		rc = sim_hv_xs_wait_present(s->hv, path, ms);
	else
		rc = sim_hv_xs_wait(s->hv, path, absent ? NULL : want, ms);
	v = sim_hv_xs_read(s->hv, path);
	if (rc)
		fail_msg(res, rc, "%s is %s%s%s after %.3f s, expected %s",
			 path, v ? "\"" : "absent", v ? v : "", v ? "\"" : "",
			 (double)(now_ms() - t0) / 1000, want);
	else
		printf("%s = %s%s%s after %.3f s\n", path, v ? "\"" : "(absent",
		       v ? v : "", v ? "\"" : ")",
		       (double)(now_ms() - t0) / 1000);
	free(v);
}

static void cmd_expect_node(struct session *s, int argc, char **argv,
			    struct result *res)
{
	char path[XS_MAX_PATH];
	int ms;

	if (expand(argv[1], path, sizeof(path), res) ||
	    !parse_ms(argc, argv, 3, s->timeout_ms, &ms, res))
		return;
	wait_node(s, path, argv[2], ms, res);
}

static void cmd_expect_state(struct session *s, int argc, char **argv,
			     struct result *res)
{
	struct xl_disk *d;
	char be[XS_MAX_PATH], path[XS_MAX_PATH + 16];
	unsigned st;
	int ms;

	if (!X.cur) {
		fail_msg(res, CMD_USAGE, "no guest");
		return;
	}
	d = disk_arg(X.cur, argv[1], res);
	if (!d)
		return;
	if (!parse_uint(argv[2], 8, &st)) {
		fail_msg(res, CMD_USAGE, "bad state '%s'", argv[2]);
		return;
	}
	if (!parse_ms(argc, argv, 3, s->timeout_ms, &ms, res))
		return;
	be_dir(X.cur, d, be, sizeof(be));
	snprintf(path, sizeof(path), "%s/state", be);
	wait_node(s, path, argv[2], ms, res);
}

static void cmd_xs_settle(struct session *s, int argc, char **argv,
			  struct result *res)
{
	int ms, rc;

	if (!parse_ms(argc, argv, 1, s->timeout_ms, &ms, res))
		return;
	rc = sim_hv_xs_settle(s->hv, ms);
	if (rc)
		fail_msg(res, rc,
			 "xenstore clients left watch events unread "
			 "for %d ms",
			 ms);
}

static int parse_sig(const char *name)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {{"TERM", SIGTERM}, {"INT", SIGINT},	  {"KILL", SIGKILL},
		    {"USR1", SIGUSR1}, {"STOP", SIGSTOP}, {"CONT", SIGCONT},
		    {"HUP", SIGHUP}};

	if (!strncmp(name, "SIG", 3))
		name += 3;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!strcmp(name, sigs[i].name))
			return sigs[i].sig;
	return -1;
}

/* The per-guest process of g, once the supervisor said it started it. */
static struct child *wait_child(struct session *s, struct xl_guest *g,
				struct result *res)
{
	int64_t deadline = now_ms() + s->timeout_ms;
	struct child *c;

	pthread_mutex_lock(&X.mu);
	while (!(c = child_of(g->domid)) && now_ms() < deadline) {
		cv_wait_a_bit();
	}
	pthread_mutex_unlock(&X.mu);
	if (!c)
		fail_msg(res, -ETIMEDOUT,
			 "the supervisor started no process for dom %u",
			 g->domid);
	return c;
}

static void describe(int ws, char *buf, size_t len)
{
	if (WIFEXITED(ws))
		snprintf(buf, len, "exit %d", WEXITSTATUS(ws));
	else if (WIFSIGNALED(ws))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(ws));
	else
		snprintf(buf, len, "wait status 0x%x", ws);
}

static void cmd_expect_daemon_exit(struct session *s, int argc, char **argv,
				   struct result *res)
{
	struct xl_guest *g = guest_arg(argc, argv, 2, res);
	unsigned code = 0;
	int sig = -1, ws = 0, rc;
	char got[64];

	if (!g)
		return;
	if (!parse_uint(argv[1], 255, &code) &&
	    (sig = parse_sig(argv[1])) < 0) {
		fail_msg(res, CMD_USAGE, "expect-daemon-exit CODE|SIGNAL");
		return;
	}
	if (s->mode == MODE_DOMID) {
		if (g == X.served) {
			s->daemon_exit_expected = true;
			rc = reap_domid_daemon(s, s->timeout_ms);
			if (rc < 0) {
				fail_msg(res, rc,
					 "the daemon of dom %u did not exit: "
					 "%s",
					 g->domid, rc_name(rc));
				return;
			}
		}
		if (!g->reaped) {
			fail_msg(res, CMD_USAGE, "dom %u had no daemon",
				 g->domid);
			return;
		}
		ws = g->wstatus;
	} else {
		struct child *c = wait_child(s, g, res);
		int64_t deadline = now_ms() + s->timeout_ms;

		if (!c)
			return;
		pthread_mutex_lock(&X.mu);
		while (!c->exited && now_ms() < deadline) {
			cv_wait_a_bit();
		}
		rc = c->exited ? 0 : -ETIMEDOUT;
		ws = c->wstatus;
		c->checked = c->exited;
		pthread_mutex_unlock(&X.mu);
		if (rc) {
			fail_msg(res, rc,
				 "the backend process of dom %u did not exit",
				 g->domid);
			return;
		}
	}
	describe(ws, got, sizeof(got));
	if (sig < 0 ? !(WIFEXITED(ws) && WEXITSTATUS(ws) == (int)code)
		    : !(WIFSIGNALED(ws) && WTERMSIG(ws) == sig))
		fail_msg(res, -EIO, "dom %u's backend process: %s, expected %s",
			 g->domid, got, argv[1]);
	else
		printf("dom %u's backend process: %s\n", g->domid, got);
}

static void cmd_expect_daemon_alive(struct session *s, int argc, char **argv,
				    struct result *res)
{
	struct xl_guest *g = guest_arg(argc, argv, 1, res);
	bool alive;

	if (!g)
		return;
	if (s->mode == MODE_DOMID) {
		alive = g == X.served && sim_hv_daemon_alive(s->hv);
	} else {
		struct child *c = wait_child(s, g, res);

		if (!c)
			return;
		pthread_mutex_lock(&X.mu);
		alive = !c->exited && kill((pid_t)c->pid, 0) == 0;
		pthread_mutex_unlock(&X.mu);
	}
	if (!alive)
		fail_msg(res, -EPIPE, "dom %u's backend process is gone",
			 g->domid);
	else
		printf("dom %u's backend process runs\n", g->domid);
}

/* The supervisor's command line: the daemon, --watch --foreground, then
 * the session's daemon arguments, as many as fit in max - 1 (NULL-ended). */
static void watch_argv(char **argv, unsigned max)
{
	unsigned k = 0;

	argv[k++] = X.daemon;
	argv[k++] = "--watch";
	argv[k++] = "--foreground";
	for (unsigned i = 0; i < X.nargs && k < max - 1; i++)
		argv[k++] = X.args[i];
	argv[k] = NULL;
}

/* What a process wrote to a pipe, kept up to a bound; the rest is read
 * and dropped so that the writer never blocks on a full pipe. */
struct output {
	char buf[16384];
	size_t n;
};

static void drain(int fd, struct output *o)
{
	char scrap[4096];
	ssize_t r;

	do {
		size_t room = sizeof(o->buf) - 1 - o->n;

		r = room ? read(fd, o->buf + o->n, room)
			 : read(fd, scrap, sizeof(scrap));
		if (r > 0 && room)
			o->n += (size_t)r;
	} while (r > 0 || (r < 0 && errno == EINTR));
}

/* Wait for pid until deadline, reading its output meanwhile: its pid once
 * it has exited (*st set), 0 at the deadline. */
static pid_t wait_draining(pid_t pid, int *st, int fd, struct output *o,
			   int64_t deadline)
{
	pid_t w;

	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};

		drain(fd, o);
		w = waitpid(pid, st, WNOHANG);
		if (w == pid)
			return pid;
		if (now_ms() >= deadline)
			return 0;
		poll(&pf, 1, 5);
	}
}

static void print_output(struct output *o, const char *name)
{
	char *save = NULL;

	o->buf[o->n] = '\0';
	for (char *line = strtok_r(o->buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		printf("%s: %s\n", name, line);
}

/* Run the daemon by hand on this host with args (NULL-ended), as an
 * administrator might while the service runs: its exit status `want`
 * within the session's timeout; or with `runs`, still running after ms,
 * then SIGTERM and exit status 0. Its log lines are printed, each after
 * "name: ". */
static void run_by_hand(struct session *s, char **args, bool runs, long want,
			long ms, const char *name, struct result *res)
{
	static struct output out;
	char **envp;
	int p[2], st = 0;
	pid_t parent, pid, w;

	envp = sim_hv_env(s->hv, X.libdir);
	if (!envp || pipe2(p, O_CLOEXEC) < 0) {
		sim_hv_env_free(envp);
		fail_msg(res, -errno, "cannot set up: %s", strerror(errno));
		return;
	}
	parent = getpid();
	pid = fork();
	if (pid == 0)
		sim_exec_child(args, envp, p[1], parent);
	close(p[1]);
	sim_hv_env_free(envp);
	if (pid < 0) {
		close(p[0]);
		fail_msg(res, -errno, "fork: %s", strerror(errno));
		return;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	out.n = 0;
	w = wait_draining(pid, &st, p[0], &out,
			  now_ms() + (runs ? ms : s->timeout_ms));
	if (!w) {
		kill(pid, runs ? SIGTERM : SIGKILL);
		if (!wait_draining(pid, &st, p[0], &out,
				   now_ms() + s->timeout_ms)) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
	}
	drain(p[0], &out);
	close(p[0]);
	print_output(&out, name);
	if (runs && w)
		fail_msg(res, -EPIPE,
			 "%s: the daemon stopped by itself (wait status %#x)",
			 name, st);
	else if (!runs && !w)
		fail_msg(res, -ETIMEDOUT, "%s: the daemon still ran", name);
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != want)
		fail_msg(res, -EPIPE, "%s: wait status %#x, want exit %ld",
			 name, st, want);
	else
		printf("%s: exit status %d%s\n", name, WEXITSTATUS(st),
		       runs ? " after SIGTERM" : "");
}

/* An exit status 0..255 in *want, or "runs" (*runs set). */
static int parse_outcome(const char *a, bool *runs, long *want,
			 struct result *res)
{
	char *end;

	*runs = !strcmp(a, "runs");
	*want = 0;
	if (*runs)
		return 0;
	*want = strtol(a, &end, 0);
	if (end == a || *end || *want < 0 || *want > 255) {
		fail_msg(res, CMD_USAGE, "bad exit status '%s'", a);
		return -1;
	}
	return 0;
}

/* watch-again OUTCOME [MS]: a second supervisor (--watch --foreground,
 * the session's daemon arguments); MS: how long "runs" (default 500). */
static void cmd_watch_again(struct session *s, int argc, char **argv,
			    struct result *res)
{
	char *args[4 + 64], *end;
	long want, ms = 500;
	bool runs;

	if (parse_outcome(argv[1], &runs, &want, res))
		return;
	if (argc > 2) {
		ms = strtol(argv[2], &end, 0);
		if (end == argv[2] || *end || ms <= 0) {
			fail_msg(res, CMD_USAGE, "bad time '%s'", argv[2]);
			return;
		}
	}
	watch_argv(args, sizeof(args) / sizeof(*args));
	run_by_hand(s, args, runs, want, ms, "watch-again", res);
}

/* run-daemon OUTCOME ARGS...: the daemon with ARGS, then the session's
 * daemon arguments; "runs": for 500 ms. */
static void cmd_run_daemon(struct session *s, int argc, char **argv,
			   struct result *res)
{
	char *args[2 + 32 + 64];
	unsigned k = 0;
	long want;
	bool runs;

	if (parse_outcome(argv[1], &runs, &want, res))
		return;
	args[k++] = X.daemon;
	for (int i = 2; i < argc; i++)
		args[k++] = argv[i];
	for (unsigned i = 0;
	     i < X.nargs && k < sizeof(args) / sizeof(*args) - 1; i++)
		args[k++] = X.args[i];
	args[k] = NULL;
	run_by_hand(s, args, runs, want, 500, "run-daemon", res);
}

/* Whether gid is among the n in list. */
static bool gid_in(gid_t gid, const gid_t *list, int n)
{
	for (int i = 0; i < n; i++)
		if (list[i] == gid)
			return true;
	return false;
}

/* pid runs as pw: every uid and gid its, and exactly the supplementary
 * groups the group database gives it (getgrouplist), so neither root's
 * groups kept nor the user's own left out. */
static void check_creds(pid_t pid, const struct passwd *pw, struct result *res)
{
	char path[64], line[4096];
	unsigned long id[4];
	gid_t want[256], have[256];
	int nwant = 256, nhave = 0;
	bool uid_ok = false, gid_ok = false, groups_ok = true;
	FILE *f;

	if (getgrouplist(pw->pw_name, pw->pw_gid, want, &nwant) < 0) {
		fail_msg(res, CMD_USAGE, "%s: too many groups", pw->pw_name);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (!f) {
		fail_msg(res, -errno, "%s: %s", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Uid: %lu %lu %lu %lu", &id[0], &id[1], &id[2],
			   &id[3]) == 4)
			uid_ok = id[0] == pw->pw_uid && id[1] == pw->pw_uid &&
				 id[2] == pw->pw_uid && id[3] == pw->pw_uid;
		else if (sscanf(line, "Gid: %lu %lu %lu %lu", &id[0], &id[1],
				&id[2], &id[3]) == 4)
			gid_ok = id[0] == pw->pw_gid && id[1] == pw->pw_gid &&
				 id[2] == pw->pw_gid && id[3] == pw->pw_gid;
		else if (!strncmp(line, "Groups:", 7))
			for (char *save = NULL,
				  *t = strtok_r(line + 7, " \t\n", &save);
			     t && nhave < 256;
			     t = strtok_r(NULL, " \t\n", &save))
				have[nhave++] = (gid_t)strtoul(t, NULL, 10);
	}
	fclose(f);
	for (int i = 0; i < nhave; i++)
		groups_ok = groups_ok && gid_in(have[i], want, nwant);
	for (int i = 0; i < nwant; i++)
		groups_ok = groups_ok && gid_in(want[i], have, nhave);
	if (!uid_ok || !gid_ok || !groups_ok)
		fail_msg(res, -EPERM,
			 "pid %ld does not run as %s (uid %s, gid %s, groups "
			 "%s)",
			 (long)pid, pw->pw_name, uid_ok ? "ok" : "wrong",
			 gid_ok ? "ok" : "wrong",
			 groups_ok ? "ok" : "not the user's");
	else
		printf("pid %ld runs as %s\n", (long)pid, pw->pw_name);
}

/* No libxenctrl handle left open in pid: no restriction covers one, so a
 * process that drops root must close it (the close reaches the hypervisor
 * a moment later: up to 2 s). */
static void check_no_xc(struct session *s, pid_t pid, struct result *res)
{
	for (int i = 0; i < 200; i++) {
		if (!sim_hv_proc_conns(s->hv, pid, SIM_KIND_XC)) {
			printf("pid %ld holds no libxenctrl handle\n",
			       (long)pid);
			return;
		}
		usleep(10000);
	}
	fail_msg(res, -EPERM, "pid %ld still holds a libxenctrl handle",
		 (long)pid);
}

/* expect-daemon-user USER [GUEST]: the daemon (--disk, --mode domid) or the
 * guest's backend process (--mode watch) runs as USER, root gone, and holds
 * no handle that Xen does not restrict. */
static void cmd_expect_daemon_user(struct session *s, int argc, char **argv,
				   struct result *res)
{
	const struct passwd *pw = getpwnam(argv[1]);
	pid_t pid;

	if (!pw) {
		fail_msg(res, CMD_USAGE, "no user '%s'", argv[1]);
		return;
	}
	if (s->mode == MODE_WATCH) {
		struct xl_guest *g = guest_arg(argc, argv, 2, res);
		struct child *c = g ? wait_child(s, g, res) : NULL;

		if (!c)
			return;
		pid = (pid_t)c->pid;
	} else {
		pid = sim_hv_daemon_pid(s->hv);
	}
	check_creds(pid, pw, res);
	check_no_xc(s, pid, res);
}

static void cmd_kill_child(struct session *s, int argc, char **argv,
			   struct result *res)
{
	struct xl_guest *g = guest_arg(argc, argv, 2, res);
	int sig = parse_sig(argv[1]), rc = 0;

	if (!g)
		return;
	if (sig < 0) {
		fail_msg(res, CMD_USAGE, "unknown signal '%s'", argv[1]);
		return;
	}
	if (s->mode == MODE_DOMID) {
		if (g != X.served) {
			fail_msg(res, CMD_USAGE, "dom %u has no daemon running",
				 g->domid);
			return;
		}
		if (sig == SIGTERM || sig == SIGKILL || sig == SIGINT)
			s->daemon_exit_expected = true;
		rc = sim_hv_signal_daemon(s->hv, sig);
	} else {
		struct child *c = wait_child(s, g, res);

		if (!c)
			return;
		if (kill((pid_t)c->pid, sig) < 0)
			rc = -errno;
	}
	if (rc)
		fail_msg(res, rc, "kill: %s", strerror(-rc));
}

static void print_dom(struct sim_dom *d)
{
	static const char *const life[] = {"alive", "dying", "gone"};
	struct sim_hv_stats st;

	sim_dom_get_stats(d, &st);
	printf(
	    "dom %u: %s%s servers %" PRIu64 "/%" PRIu64 " live %" PRIu64
	    " ioreqs %" PRIu64 " foreign-pages %" PRIu64 " mapped-now %" PRIu64
	    " released-at-exit %" PRIu64 " protocol-errors %" PRIu64 "\n",
	    sim_dom_id(d), life[sim_dom_life(d)],
	    sim_dom_life(d) == SIM_LIFE_ALIVE && sim_dom_paused(d) ? " paused"
								   : "",
	    st.servers_created, st.servers_destroyed, st.servers_live,
	    st.ioreqs, st.foreign_pages, st.pages_mapped_now,
	    st.pages_released_at_exit, st.protocol_errors);
}

static void cmd_dom_info(struct session *s, int argc, char **argv,
			 struct result *res)
{
	struct xl_guest *g = guest_arg(argc, argv, 1, res);

	(void)s;
	if (g)
		print_dom(g->dom);
}

/* pages-mapped [N [GUEST]]: print; with N, wait until the domain's pages
 * mapped are N and check that no process left any to its death. */
static void cmd_pages_mapped(struct session *s, int argc, char **argv,
			     struct result *res)
{
	struct xl_guest *g = guest_arg(argc, argv, 2, res);
	struct sim_hv_stats st;
	int64_t deadline = now_ms() + s->timeout_ms;
	unsigned want = 0;

	if (!g)
		return;
	if (argc > 1 && !parse_uint(argv[1], UINT32_MAX, &want)) {
		fail_msg(res, CMD_USAGE, "pages-mapped [N [GUEST]]");
		return;
	}
	for (;;) {
		sim_dom_get_stats(g->dom, &st);
		if (argc < 2 || st.pages_mapped_now == want ||
		    now_ms() >= deadline)
			break;
		sleep_ms(10);
	}
	printf("dom %u: pages-mapped %" PRIu64 " released-at-exit %" PRIu64
	       "\n",
	       g->domid, st.pages_mapped_now, st.pages_released_at_exit);
	if (argc < 2)
		return;
	if (st.pages_mapped_now != want)
		fail_msg(res, -ETIMEDOUT,
			 "dom %u: %" PRIu64 " pages mapped, expected %u",
			 g->domid, st.pages_mapped_now, want);
	else if (st.pages_released_at_exit)
		fail_msg(res, -EIO,
			 "dom %u: %" PRIu64 " pages were still mapped when "
			 "their process died (it did not unmap them)",
			 g->domid, st.pages_released_at_exit);
}

static void cmd_expect_dom(struct session *s, int argc, char **argv,
			   struct result *res)
{
	static const char *const life[] = {"alive", "dying", "gone"};
	struct xl_guest *g = guest_arg(argc, argv, 2, res);
	unsigned l;
	int rc;

	if (!g)
		return;
	for (l = 0; l < 3 && strcmp(argv[1], life[l]); l++)
		;
	if (l == 3) {
		fail_msg(res, CMD_USAGE, "expect-dom alive|dying|gone [GUEST]");
		return;
	}
	rc = sim_dom_wait_life(g->dom, (enum sim_dom_life)l, s->timeout_ms);
	if (!rc && sim_dom_life(g->dom) != (enum sim_dom_life)l)
		rc = -EIO;
	if (rc) {
		fail_msg(res, rc, "dom %u is %s, expected %s", g->domid,
			 life[sim_dom_life(g->dom)], argv[1]);
		return;
	}
	printf("dom %u is %s\n", g->domid, argv[1]);
}

static const struct cmd cmds[] = {
    {"xl-create", 1, 24, false, cmd_xl_create,
     "xl-create [name=N] disk=SPEC [disk=SPEC...] [vcpus=N] [ram=MB] "
     "[stagger=MS] [nowait] [set=I:KEY=VALUE] [unset=I:KEY]",
     "libxl's create: a new domain (paused), each disk's frontend and "
     "backend directories written as libxl 4.17 does (one transaction "
     "per disk; SPEC: target=PATH,vdev=xvdX,access=rw|ro or a path; disk "
     "n at 0x02000000 + n*0x200, SPI 33 + n), then at most 10 s for each "
     "backend state to be exactly 2, then the domain runs and the guest's "
     "disks become the session's devices. stagger: ms between two "
     "disks; set/unset: write another value for KEY of disk I, or none "
     "(malformed values); nowait: return at once, domain paused (then "
     "xl-unpause). In --mode domid the daemon is started for the domid"},
    {"xl-unpause", 0, 1, false, cmd_xl_unpause, "xl-unpause [GUEST]",
     "let a guest created with nowait run, whatever its disks' states"},
    {"xl-destroy", 0, 1, false, cmd_xl_destroy, "xl-destroy [GUEST]",
     "libxl's destroy: frontend removed, online 0 + state 5 (unless 6), "
     "at most 10 s for state 6 (the time is printed), the directories "
     "removed, the domain destroyed"},
    {"xl-reboot", 0, 1, false, cmd_xl_reboot, "xl-reboot [GUEST]",
     "as xl reboot with a Linux guest: control/shutdown = reboot, the "
     "guest resets its devices and shuts down (reason reboot, "
     "@releaseDomain); once the backends have seen it, xl destroys the "
     "domain and creates it again with a new domid"},
    {"xl-shutdown", 1, 2, false, cmd_xl_shutdown,
     "xl-shutdown poweroff|reboot|suspend|crash|watchdog|soft_reset "
     "[action=destroy|restart|preserve]",
     "the current guest shuts down (poweroff/reboot: its devices reset "
     "first), @releaseDomain fires; then xl's on_* action (default: "
     "restart for reboot, else destroy; none for suspend and "
     "soft_reset)"},
    {"xl-resume", 0, 1, false, cmd_xl_resume, "xl-resume [GUEST]",
     "a suspended guest resumes (xl save -c, a checkpoint)"},
    {"xl-kill", 0, 2, false, cmd_xl_kill, "xl-kill [io=N] [seed=S]",
     "the current guest's domain dies with no toolstack step; io=N "
     "queues N requests first, at least one of which must still be in "
     "flight at the kill"},
    {"xl-use", 1, 1, false, cmd_xl_use, "xl-use GUEST",
     "make GUEST (name or domid) the current guest"},
    {"xl-list", 0, 0, false, cmd_xl_list, "xl-list", "the guests"},
    {"xs-write", 2, 32, false, cmd_xs_write, "xs-write PATH VALUE...",
     "write a node ({domid}, {be} and {fe} are the current guest's "
     "domid, backend and frontend directories)"},
    {"xs-read", 1, 1, false, cmd_xs_read, "xs-read PATH", "print a node"},
    {"xs-writes", 1, 1, false, cmd_xs_writes, "xs-writes PATH",
     "how many times the node was written since it was created"},
    {"xenstored-dies", 2, 32, false, cmd_xenstored_dies,
     "xenstored-dies PATH VALUE...",
     "xenstored writes the node as xs-write does, then dies: every client "
     "fetches the watch events it had queued, then finds its connection "
     "lost (libxenstore: no more events, EINVAL; every request EBADF); "
     "nobody connects again. Only guest I/O and signals work afterwards"},
    {"xs-rm", 1, 1, false, cmd_xs_rm, "xs-rm PATH", "remove a subtree"},
    {"expect-node", 2, 3, false, cmd_expect_node,
     "expect-node PATH VALUE|*|- [MS]",
     "wait until the node has VALUE (*: exists, -: absent)"},
    {"expect-state", 2, 3, false, cmd_expect_state,
     "expect-state DISK STATE [MS]",
     "wait until the backend state of DISK (vdev, devid or #index) is "
     "STATE"},
    {"xs-settle", 0, 1, false, cmd_xs_settle, "xs-settle [MS]",
     "wait until every xenstore client has fetched its watch events"},
    {"expect-daemon-exit", 1, 2, false, cmd_expect_daemon_exit,
     "expect-daemon-exit CODE|SIGNAL [GUEST]",
     "wait for the guest's backend process (--mode domid: its daemon) "
     "to exit with CODE, or to die by SIGNAL"},
    {"watch-again", 1, 2, false, cmd_watch_again,
     "watch-again STATUS|runs [MS]",
     "a second supervisor on this host: exits STATUS, or runs MS and "
     "stops"},
    {"run-daemon", 1, 32, false, cmd_run_daemon,
     "run-daemon STATUS|runs [ARG...]",
     "the daemon run by hand on this host with ARGs (e.g. --domid N "
     "--foreground) and the session's daemon arguments: exits STATUS, or "
     "runs 500 ms and stops on SIGTERM; its log lines are printed"},
    {"expect-daemon-alive", 0, 1, false, cmd_expect_daemon_alive,
     "expect-daemon-alive [GUEST]", "the guest's backend process runs"},
    {"expect-daemon-user", 1, 2, false, cmd_expect_daemon_user,
     "expect-daemon-user USER [GUEST]",
     "the daemon (--mode watch: the guest's backend process) runs as USER: "
     "every uid and gid its, no group 0, no libxenctrl handle open"},
    {"kill-child", 1, 2, false, cmd_kill_child, "kill-child SIGNAL [GUEST]",
     "signal the guest's backend process"},
    {"dom-info", 0, 1, false, cmd_dom_info, "dom-info [GUEST]",
     "what the hypervisor knows of the guest's domain"},
    {"pages-mapped", 0, 2, false, cmd_pages_mapped, "pages-mapped [N [GUEST]]",
     "print the pages of the domain mapped now; with N, wait until they "
     "are N, none of them left behind by a dead process"},
    {"expect-dom", 1, 2, false, cmd_expect_dom,
     "expect-dom alive|dying|gone [GUEST]",
     "wait until the domain is in that state"},
};

const struct cmd_table xl_cmds = {cmds, sizeof(cmds) / sizeof(cmds[0])};

/* ------------------------------------------------------------ lifecycle */

int xl_start(struct session *s, const char *daemon, const char *libdir,
	     char *const *args, unsigned nargs, unsigned first_domid)
{
	snprintf(X.daemon, sizeof(X.daemon), "%s", daemon);
	snprintf(X.libdir, sizeof(X.libdir), "%s", libdir);
	X.args = args;
	X.nargs = nargs;
	X.next_domid = first_domid;
	if (s->mode == MODE_WATCH) {
		char *argv[4 + 64];
		int p[2];

		watch_argv(argv, sizeof(argv) / sizeof(*argv));
		if (pipe2(p, O_CLOEXEC) < 0) {
			perror("sim-guest: pipe");
			return -1;
		}
		X.log_fd = p[0];
		if (pthread_create(&X.reader, NULL, reader_main, NULL)) {
			close(p[0]);
			close(p[1]);
			X.log_fd = -1;
			return -1;
		}
		X.reader_started = true;
		if (sim_hv_spawn_fd(s->hv, X.libdir, argv, p[1]) < 0) {
			fprintf(stderr, "sim-guest: cannot start %s: %s\n",
				X.daemon, strerror(errno));
			close(p[1]);
			return -1;
		}
		close(p[1]);
		/* Like the init script: go on once it watches xenstore
		 * (before, a SIGTERM would find no handler yet). */
		int64_t deadline = now_ms() + s->timeout_ms;

		pthread_mutex_lock(&X.mu);
		while (!X.watching && now_ms() < deadline) {
			cv_wait_a_bit();
		}
		pthread_mutex_unlock(&X.mu);
		if (!X.watching) {
			fprintf(stderr, "sim-guest: the supervisor did not "
					"start watching xenstore\n");
			return -1;
		}
	}
	return 0;
}

bool xl_finish(struct session *s)
{
	bool failed = false;

	for (unsigned i = 0; i < X.nguest; i++) {
		struct sim_hv_stats st;

		sim_dom_get_stats(X.guest[i]->dom, &st);
		if (st.protocol_errors) {
			fprintf(stderr,
				"sim-guest: dom %u: the hypervisor saw %" PRIu64
				" ioreq protocol errors\n",
				X.guest[i]->domid, st.protocol_errors);
			failed = true;
		}
	}
	detach_session(s);
	return failed;
}

bool xl_children_ok(struct session *s)
{
	int64_t deadline = now_ms() + s->timeout_ms;
	bool ok = true;

	/* The supervisor has gone, so what it logged is in the pipe: wait
	 * for the reader to get to each process's end. */
	pthread_mutex_lock(&X.mu);
	if (X.untracked_children) {
		fprintf(stderr,
			"sim-guest: %u backend processes beyond the %zu "
			"followed: their ends are not checked\n",
			X.untracked_children,
			sizeof(X.child) / sizeof(X.child[0]));
		ok = false;
	}
	for (unsigned i = 0; i < X.nchild; i++) {
		struct child *c = &X.child[i];
		char got[64];

		while (!c->exited && now_ms() < deadline) {
			cv_wait_a_bit();
		}
		if (!c->exited) {
			fprintf(stderr,
				"sim-guest: the supervisor never reported the "
				"end of dom %u's backend process %ld\n",
				c->domid, c->pid);
			ok = false;
			continue;
		}
		if (c->checked ||
		    (WIFEXITED(c->wstatus) && WEXITSTATUS(c->wstatus) == 0))
			continue;
		describe(c->wstatus, got, sizeof(got));
		fprintf(stderr,
			"sim-guest: dom %u's backend process %ld: %s, not "
			"exit 0 (expect-daemon-exit if it should)\n",
			c->domid, c->pid, got);
		ok = false;
	}
	pthread_mutex_unlock(&X.mu);
	return ok;
}

void xl_cleanup(struct session *s)
{
	(void)s;
	/* Every process that held the pipe is gone with the hypervisor. */
	if (X.reader_started)
		pthread_join(X.reader, NULL);
	X.reader_started = false;
	for (unsigned i = 0; i < X.nguest; i++) {
		guest_free_all(X.guest[i]);
		free(X.guest[i]);
	}
	X.nguest = 0;
}
