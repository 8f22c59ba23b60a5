/* SPDX-License-Identifier: GPL-2.0-only */
/* Wiring for one guest: handles, loop, memory, server, devices, signals. */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <xentoollog.h>

#include "guest.h"
#include "guest_mem.h"
#include "image.h"
#include "ioreq.h"
#include "log.h"
#include "xen_logger.h"
#include "loop.h"
#include "signals.h"
#include "virtio_blk.h"
#include "virtio_mmio.h"

_Static_assert(VIRTIO_MMIO_WINDOW == DISK_MMIO_STRIDE,
	       "a disk's window is one libxl slot");
_Static_assert(VIRTIO_MMIO_DEFERRED == IOREQ_WRITE_HELD &&
		   VIRTIO_MMIO_NOTIFIED == IOREQ_WRITE_THEN_WORK,
	       "ioreq's write codes are virtio_mmio's");
_Static_assert(MAX_DISKS <= IOREQ_MAX_WINDOWS, "one window per disk");

/* How often the images are looked at for a new size (as xen-blkback does
 * for its devices); SIGHUP looks at once. */
#define GUEST_SIZE_CHECK_US 2000000
/* How long a disk added from xenstore waits for an image in use. */
#define GUEST_IN_USE_WAIT_MS 7000

struct guest_disk {
	struct guest *g;
	unsigned index;
	unsigned irq;
	const char *path;
	struct virtio_blk *blk;
	struct virtio_mmio *mmio;
};

struct guest {
	uint32_t domid;
	xendevicemodel_handle *dmod;
	xenforeignmemory_handle *fmem;
	xenevtchn_handle *xce;
	struct loop *loop;
	struct guest_mem *gm;
	struct ioreq_server *srv;
	struct signals *sig;
	struct loop_timer *size_timer;
	unsigned ndisks;
	struct guest_disk disk[MAX_DISKS];
	struct guest_tuning tune; /* as guest_new() was given it */
	/* Shutdown state. */
	bool draining, forced;
	bool freeing;  /* guest_free() under way: its disks go one by one */
	unsigned busy; /* devices still finishing in-flight requests */
	unsigned sigints;
	struct guest_hooks hooks;
	/* INVALIDATEs are held until no mapping they retired is left:
	 * whichever thread unpins the last one wakes the loop through
	 * inval_efd, which answers them. */
	int inval_efd;
};

/* A layer's reason usually names the image already; add it if not. */
static void disk_err(char *err, size_t errlen, const char *path,
		     const char *why)
{
	if (strstr(why, path))
		err_set(err, errlen, "%s", why);
	else
		err_set(err, errlen, "%s: %s", path, why);
}

/* ---------------------------------------------- transport <-> ioreq glue */

static uint64_t window_read(void *opaque, uint32_t off, unsigned size)
{
	struct guest_disk *d = opaque;

	return virtio_mmio_read(d->mmio, off, size);
}

static int window_write(void *opaque, uint32_t off, unsigned size, uint64_t val,
			unsigned vcpu)
{
	struct guest_disk *d = opaque;

	return virtio_mmio_write(d->mmio, off, size, val, vcpu);
}

static void window_work(void *opaque)
{
	struct guest_disk *d = opaque;

	virtio_mmio_process(d->mmio);
}

static void host_raise_irq(void *opaque)
{
	struct guest_disk *d = opaque;

	ioreq_server_raise_irq(d->g->srv, d->irq);
}

static void host_complete_deferred(void *opaque, unsigned vcpu)
{
	struct guest_disk *d = opaque;

	ioreq_server_complete(d->g->srv, vcpu);
}

static void host_status_changed(void *opaque, uint32_t status)
{
	struct guest_disk *d = opaque;
	struct guest *g = d->g;
	bool live = (status & VIRTIO_CONFIG_S_DRIVER_OK) != 0;

	if (g->hooks.driver_state)
		g->hooks.driver_state(g->hooks.opaque, d->index, live);
}

/* Xen's INVALIDATE (the guest gave memory back): the vCPU that did it
 * waits until no mapping of ours is left on any frame it gave (facts
 * §2.4), so that the frames really leave the guest. Mappings that requests
 * in flight pin go when those complete; until then the answer is held, as
 * QEMU drains its I/O before answering. */
static bool on_invalidate(void *opaque)
{
	struct guest *g = opaque;

	/* inval_efd exists before any ioreq can arrive (guest_new). */
	return guest_mem_invalidate(g->gm);
}

/* Any thread: the last stale mapping is gone. */
static void on_stale_gone(void *opaque)
{
	struct guest *g = opaque;
	uint64_t one = 1;

	if (write(g->inval_efd, &one, sizeof(one)) < 0)
		log_error("waking the loop for held INVALIDATEs: %s",
			  strerror(errno));
}

/* The loop thread, woken by on_stale_gone: answer the held INVALIDATEs if
 * nothing they wait for is left (a newer one may have retired more). */
static void on_inval_efd(void *opaque, uint32_t events)
{
	struct guest *g = opaque;
	uint64_t n;

	(void)events;
	if (read(g->inval_efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_error("held INVALIDATEs: %s", strerror(errno));
	if (!guest_mem_stale_pinned(g->gm))
		ioreq_server_complete_invalidates(g->srv);
}

static void on_first_access(void *opaque)
{
	struct guest *g = opaque;

	if (g->hooks.running)
		g->hooks.running(g->hooks.opaque);
}

/* ------------------------------------------------------------- shutdown */

static void one_drained(struct guest *g)
{
	/* A forced exit frees the disks while some still drain: a disk
	 * finishing then must not report on the others, some already gone. */
	if (g->freeing)
		return;
	if (--g->busy == 0) {
		log_info("all disks drained, stopping");
		/* What was served, for whoever reads the log after us. */
		guest_log_stats(g);
		loop_stop(g->loop);
	}
}

static void disk_quiesced(void *opaque)
{
	struct guest_disk *d = opaque;

	log_debug("disk %u (%s): drained", d->index, d->path);
	one_drained(d->g);
}

static void start_drain(struct guest *g, const char *why)
{
	log_info("%s: finishing in-flight requests, then exiting", why);
	g->draining = true;
	/* One extra count held across the loop: a device may report done
	 * from inside virtio_mmio_quiesce(). */
	g->busy = g->ndisks + 1;
	for (unsigned i = 0; i < g->ndisks; i++)
		virtio_mmio_quiesce(g->disk[i].mmio, disk_quiesced,
				    &g->disk[i]);
	one_drained(g);
}

void guest_stop(struct guest *g, const char *why)
{
	if (!g->draining)
		start_drain(g, why);
}

void guest_abandon_io(struct guest *g)
{
	for (unsigned i = 0; i < g->ndisks; i++)
		virtio_blk_abandon(g->disk[i].blk);
}

/* An image may grow or shrink under a running guest (a file extended, a
 * logical volume resized); the guest gets the new capacity. */
static void check_sizes(struct guest *g)
{
	for (unsigned i = 0; i < g->ndisks; i++) {
		uint64_t sectors;

		if (virtio_blk_check_capacity(g->disk[i].blk, &sectors) &&
		    g->hooks.resized)
			g->hooks.resized(g->hooks.opaque, i, sectors);
	}
}

static void on_size_timer(void *opaque)
{
	struct guest *g = opaque;

	check_sizes(g);
	loop_timer_arm(g->size_timer, GUEST_SIZE_CHECK_US);
}

static void on_signal(void *opaque, int signo)
{
	struct guest *g = opaque;
	const char *name = signo == SIGINT ? "SIGINT" : "SIGTERM";

	if (signo == SIGHUP) {
		log_info("SIGHUP: looking at the images' sizes");
		check_sizes(g);
		return;
	}
	if (signo == SIGUSR1) {
		guest_log_stats(g);
		if (g->hooks.stats)
			g->hooks.stats(g->hooks.opaque);
		return;
	}
	if (signo != SIGINT && signo != SIGTERM)
		return; /* SIGCHLD: this process has no children of its own */
	if (signo == SIGINT)
		g->sigints++;
	if (!g->draining) {
		start_drain(g, name);
		return;
	}
	if (signo == SIGINT && g->sigints >= 2) {
		log_warn("%s again: exiting without waiting for %u disk(s)",
			 name, g->busy);
		g->forced = true;
		loop_stop(g->loop);
		return;
	}
	log_info("%s: still draining %u disk(s)", name, g->busy);
}

/* ------------------------------------------------------------ lifecycle */

/* Before any Xen handle: an unusable image is the user's mistake (exit 2)
 * and must not be hidden behind, say, a host without Xen. */
static int check_images(const struct disk_opts *disks, unsigned ndisks,
			char *err, size_t errlen)
{
	/* All open at once, as they will be: one image given twice meets its
	 * own lock. */
	static struct image img[MAX_DISKS];
	unsigned n;
	int r = 0;

	for (n = 0; n < ndisks && n < MAX_DISKS; n++) {
		char why[512];

		if (image_open(&img[n], disks[n].path, disks[n].read_only, why,
			       sizeof(why)) < 0) {
			disk_err(err, errlen, disks[n].path, why);
			r = -1;
			break;
		}
	}
	while (n--)
		image_close(&img[n]);
	return r;
}

static int open_handles(struct guest *g, char *err, size_t errlen)
{
	g->dmod = xendevicemodel_open(xen_logger(), 0);
	if (!g->dmod) {
		err_set(err, errlen, "cannot open xendevicemodel: %s",
			strerror(errno));
		return -1;
	}
	g->fmem = xenforeignmemory_open(xen_logger(), 0);
	if (!g->fmem) {
		err_set(err, errlen, "cannot open xenforeignmemory: %s",
			strerror(errno));
		return -1;
	}
	g->xce = xenevtchn_open(xen_logger(), 0);
	if (!g->xce) {
		err_set(err, errlen, "cannot open xenevtchn: %s",
			strerror(errno));
		return -1;
	}
	return 0;
}

/* Least privilege: from here on the handles act on this guest only, so a
 * compromised daemon cannot reach another domain through them (the kernel
 * enforces it). Everything later (windows, mappings, interrupts) targets
 * the same domid. A kernel without the restrict calls gets a warning. */
static void restrict_handles(struct guest *g)
{
	if (xendevicemodel_restrict(g->dmod, g->domid) < 0)
		log_warn("cannot restrict xendevicemodel to domain %u: %s",
			 g->domid, strerror(errno));
	if (xenforeignmemory_restrict(g->fmem, g->domid) < 0)
		log_warn("cannot restrict xenforeignmemory to domain %u: %s",
			 g->domid, strerror(errno));
	if (xenevtchn_restrict(g->xce, g->domid) < 0)
		log_warn("cannot restrict xenevtchn to domain %u: %s", g->domid,
			 strerror(errno));
}

/* virtio_blk_params.guest_reaction_us: what the ioreq server measures. */
static unsigned disk_guest_reaction_us(void *opaque)
{
	struct guest *g = opaque;

	return ioreq_server_irq_reply_us(g->srv);
}

/* Builds disk i; on failure frees what it built, so the caller's count of
 * disks stays valid for guest_free(). */
static int add_disk(struct guest *g, unsigned i, const struct disk_opts *o,
		    unsigned in_use_wait_ms, int *status, char *err,
		    size_t errlen)
{
	struct guest_disk *d = &g->disk[i];
	struct virtio_blk_params p = {
	    .in_use_wait_ms = in_use_wait_ms,
	    .path = o->path,
	    .read_only = o->read_only,
	    .serial = o->has_serial ? o->serial : NULL,
	    .idle_grace_us = g->tune.idle_grace_us,
	    .guest_reaction_us = disk_guest_reaction_us,
	    .reaction_opaque = g,
	    .num_queues = g->tune.queues,
	    .submit_batch = g->tune.submit_batch,
	    .io_threads = g->tune.io_threads,
	    .index = i,
	};
	struct virtio_mmio_host host = {
	    .raise_irq = host_raise_irq,
	    .complete_deferred = host_complete_deferred,
	    .status_changed = host_status_changed,
	    .opaque = d,
	};
	struct ioreq_window w = {
	    .base = o->base,
	    .size = VIRTIO_MMIO_WINDOW,
	    .read = window_read,
	    .write = window_write,
	    .work = window_work,
	    .opaque = d,
	};
	char why[512];
	int r;

	memset(d, 0, sizeof(*d));
	d->g = g;
	d->index = i;
	d->irq = o->irq;
	d->path = o->path;
	d->blk = virtio_blk_new(g->loop, g->gm, &p, why, sizeof(why));
	if (!d->blk) {
		disk_err(err, errlen, o->path, why);
		*status = 2;
		return -1;
	}
	d->mmio = virtio_mmio_new(&virtio_blk_ops, d->blk, g->gm, &host);
	if (!d->mmio) {
		err_set(err, errlen, "%s: cannot create the virtio-mmio device",
			o->path);
		goto fail;
	}
	r = ioreq_server_add_window(g->srv, &w);
	if (r) {
		err_set(err, errlen, "%s: cannot serve MMIO window 0x%llx: %s",
			o->path, (unsigned long long)o->base, strerror(-r));
		goto fail;
	}
	if (i > 0)
		virtio_mmio_join(d->mmio, g->disk[0].mmio);
	log_info("disk %u: %s%s at 0x%llx, irq %u", i, o->path,
		 o->read_only ? " (read-only)" : "",
		 (unsigned long long)o->base, o->irq);
	return 0;
fail:
	/* Never live: nothing is in flight and no ring is mapped. */
	virtio_mmio_free(d->mmio);
	virtio_blk_free(d->blk);
	memset(d, 0, sizeof(*d));
	return -1;
}

struct guest *guest_new(uint32_t domid, const struct disk_opts *disks,
			unsigned ndisks, const struct guest_tuning *tune,
			int *status, char *err, size_t errlen)
{
	struct guest *g;
	char grace[16] = "auto";
	int rc;

	*status = 1;
	if (tune->idle_grace_us != VIRTIO_BLK_GRACE_AUTO)
		snprintf(grace, sizeof(grace), "%u us", tune->idle_grace_us);
	if (ndisks > MAX_DISKS) {
		err_set(err, errlen, "at most %d disks", MAX_DISKS);
		*status = 2;
		return NULL;
	}
	if (check_images(disks, ndisks, err, errlen) < 0) {
		*status = 2;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		err_set(err, errlen, "out of memory");
		return NULL;
	}
	g->domid = domid;
	g->inval_efd = -1;
	if (open_handles(g, err, errlen) < 0)
		goto fail;
	g->loop = loop_new();
	if (!g->loop) {
		err_set(err, errlen, "cannot create the event loop: %s",
			strerror(errno));
		goto fail;
	}
	loop_set_poll(g->loop, tune->poll_us);
	g->tune = *tune;
	log_debug("polling: %u us after any work, %u us after an interrupt; "
		  "idle grace %s; %u queue(s) per disk%s; at most %u "
		  "request(s) per io_submit (0: no limit)",
		  tune->poll_us, tune->irq_poll_us, grace,
		  tune->queues ? tune->queues : 1,
		  tune->io_threads ? ", each on an I/O thread" : "",
		  tune->submit_batch);
	g->gm = guest_mem_new(g->fmem, domid, GUEST_MAX_MAPPED_BYTES);
	if (!g->gm) {
		err_set(err, errlen, "cannot set up guest memory access");
		goto fail;
	}
	if (tune->io_threads)
		guest_mem_set_shared(g->gm);
	g->inval_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (g->inval_efd < 0) {
		err_set(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	rc = loop_add(g->loop, g->inval_efd, EPOLLIN, on_inval_efd, g);
	if (rc < 0) {
		close(g->inval_efd);
		g->inval_efd = -1;
		err_set(err, errlen, "cannot watch an eventfd: %s",
			strerror(-rc));
		goto fail;
	}
	guest_mem_on_stale_gone(g->gm, on_stale_gone, g);
	g->srv = ioreq_server_new(g->loop, domid, g->dmod, g->fmem, g->xce, err,
				  errlen);
	if (!g->srv)
		goto fail;
	ioreq_server_on_invalidate(g->srv, on_invalidate, g);
	ioreq_server_on_first_access(g->srv, on_first_access, g);
	ioreq_server_set_irq_poll(g->srv, tune->irq_poll_us);
	restrict_handles(g);
	for (unsigned i = 0; i < ndisks; i++) {
		if (add_disk(g, i, &disks[i], 0, status, err, errlen) < 0)
			goto fail;
		g->ndisks = i + 1;
	}
	g->sig = signals_new(g->loop, on_signal, g, err, errlen);
	if (!g->sig)
		goto fail;
	g->size_timer = loop_timer_new(g->loop, on_size_timer, g);
	if (!g->size_timer) {
		err_set(err, errlen, "out of memory");
		goto fail;
	}
	loop_timer_arm(g->size_timer, GUEST_SIZE_CHECK_US);
	if (ndisks)
		log_info("ready: domain %u, %u disk(s)", domid, ndisks);
	return g;
fail:
	guest_free(g);
	return NULL;
}

void guest_set_hooks(struct guest *g, const struct guest_hooks *h)
{
	if (h)
		g->hooks = *h;
	else
		memset(&g->hooks, 0, sizeof(g->hooks));
}

int guest_add_disk(struct guest *g, const struct disk_opts *d, int *status,
		   char *err, size_t errlen)
{
	unsigned i = g->ndisks;

	*status = 1;
	err[0] = '\0';
	if (g->draining) {
		err_set(err, errlen, "%s: the backend is shutting down",
			d->path);
		return -1;
	}
	if (i >= MAX_DISKS) {
		err_set(err, errlen, "%s: at most %d disks per guest", d->path,
			MAX_DISKS);
		*status = 2;
		return -1;
	}
	/* From xenstore: a rebooted or re-created guest's image may still be
	 * held by its previous domain's backend, finishing what was in
	 * flight; libxl waits 10 s for the state. */
	if (add_disk(g, i, d, GUEST_IN_USE_WAIT_MS, status, err, errlen) < 0)
		return -1;
	g->ndisks = i + 1;
	return (int)i;
}

unsigned guest_ndisks(const struct guest *g)
{
	return g->ndisks;
}

struct loop *guest_loop(struct guest *g)
{
	return g->loop;
}

void guest_disk_info(const struct guest *g, unsigned i,
		     struct guest_disk_info *info)
{
	const struct guest_disk *d = &g->disk[i];
	struct virtio_blk_stats st;
	uint32_t blk_size = 0;

	memset(info, 0, sizeof(*info));
	virtio_blk_get_stats(d->blk, &st);
	info->sectors = st.capacity_sectors;
	info->features = virtio_blk_ops.features(d->blk);
	/* The config space is little-endian (virtio 1.2 §5.2.4). */
	virtio_blk_ops.config_read(d->blk,
				   offsetof(struct virtio_blk_config, blk_size),
				   &blk_size, sizeof(blk_size));
	info->sector_size = le32toh(blk_size);
	if (!(info->features & (1ULL << VIRTIO_BLK_F_BLK_SIZE)) ||
	    !info->sector_size)
		info->sector_size = 512;
	info->queues = st.queues; /* offered, whatever was negotiated */
	info->queue_size = virtio_blk_ops.queue_num_max(d->blk);
	info->read_only = (info->features & (1ULL << VIRTIO_BLK_F_RO)) != 0;
}

void guest_disk_stats(const struct guest *g, unsigned i,
		      struct virtio_blk_stats *st)
{
	virtio_blk_get_stats(g->disk[i].blk, st);
}

static double mean_us(uint64_t total_ns, uint64_t n)
{
	return n ? (double)total_ns / 1e3 / (double)n : 0.0;
}

void guest_log_stats(const struct guest *g)
{
	struct ioreq_stats is;

	for (unsigned i = 0; i < g->ndisks; i++) {
		struct virtio_blk_stats st;

		virtio_blk_get_stats(g->disk[i].blk, &st);
		log_info("stats: disk %u (%s): read %llu req %llu B, write "
			 "%llu req %llu B, flush %llu, discard/write-zeroes "
			 "%llu, other %llu, errors %llu, unsupported %llu, in "
			 "flight %llu, notifications %llu, interrupts %llu",
			 i, g->disk[i].path, (unsigned long long)st.reqs[0],
			 (unsigned long long)st.bytes_read,
			 (unsigned long long)st.reqs[1],
			 (unsigned long long)st.bytes_written,
			 (unsigned long long)st.reqs[2],
			 (unsigned long long)st.reqs[3],
			 (unsigned long long)st.reqs[4],
			 (unsigned long long)st.errors,
			 (unsigned long long)st.unsupported,
			 (unsigned long long)st.in_flight,
			 (unsigned long long)st.notifies,
			 (unsigned long long)st.interrupts);
		if (st.queues > 1) {
			char q[VIRTIO_BLK_MAX_QUEUES * 21 + 1] = "";
			size_t n = 0;

			for (unsigned k = 0; k < st.queues; k++)
				n += (size_t)snprintf(
				    q + n, sizeof(q) - n, " %llu",
				    (unsigned long long)st.queue_completed[k]);
			log_info("stats: disk %u: requests completed per "
				 "queue:%s",
				 i, q);
		}
	}
	if (g->gm) {
		struct guest_mem_stats ms;

		/* Map calls keep climbing while the guest's I/O is under way
		 * only when its buffers outgrow the cache (or dom0 runs out
		 * of room for mappings): each is hypercalls and a TLB flush. */
		guest_mem_get_stats(g->gm, &ms);
		log_info(
		    "stats: guest memory: %llu KiB mapped, %llu map calls, "
		    "%llu unmaps, %llu refreshes, %llu invalidations",
		    (unsigned long long)(ms.mapped_bytes >> 10),
		    (unsigned long long)ms.map_calls,
		    (unsigned long long)ms.unmap_calls,
		    (unsigned long long)ms.refreshes,
		    (unsigned long long)ms.invalidations);
	}
	if (!g->srv)
		return;
	ioreq_server_get_stats(g->srv, &is);
	log_info("stats: ioreq: %llu requests (%llu reads, %llu writes, %llu "
		 "invalidates, %llu other, %llu outside any disk), %llu "
		 "interrupts; %llu answered after %.1f us, %llu interrupts "
		 "followed by a request after %.1f us (means)",
		 (unsigned long long)is.ioreqs, (unsigned long long)is.reads,
		 (unsigned long long)is.writes,
		 (unsigned long long)is.invalidates,
		 (unsigned long long)is.other, (unsigned long long)is.outside,
		 (unsigned long long)is.irqs, (unsigned long long)is.answered,
		 mean_us(is.answer_ns, is.answered),
		 (unsigned long long)is.irq_replies,
		 mean_us(is.irq_reply_ns, is.irq_replies));
}

int guest_run(struct guest *g)
{
	int r = loop_run(g->loop);

	if (r < 0) {
		log_error("event loop failed: %s", strerror(-r));
		return 1;
	}
	return g->draining && !g->forced ? 0 : 1;
}

void guest_free(struct guest *g)
{
	if (!g)
		return;
	signals_free(g->sig);
	loop_timer_free(g->size_timer);
	/* Nobody is told about driver states from here on. */
	g->hooks.driver_state = NULL;
	g->freeing = true;
	/* Devices first: freeing one drains its engine, which may finish a
	 * guest reset the transport is holding (a forced exit does not wait
	 * for it); that completion uses the transport and answers the held
	 * access through the server, so both must still exist. */
	for (unsigned i = g->ndisks; i-- > 0;) {
		struct guest_disk *d = &g->disk[i];

		if (d->blk)
			virtio_blk_free(d->blk);
		d->blk = NULL;
		if (d->mmio)
			virtio_mmio_free(d->mmio);
		d->mmio = NULL;
	}
	/* It answers every held access, INVALIDATEs included. */
	ioreq_server_free(g->srv);
	if (g->inval_efd >= 0) {
		loop_del(g->loop, g->inval_efd);
		close(g->inval_efd);
	}
	if (g->gm)
		guest_mem_free(g->gm);
	if (g->loop)
		loop_free(g->loop);
	if (g->xce)
		xenevtchn_close(g->xce);
	if (g->fmem)
		xenforeignmemory_close(g->fmem);
	if (g->dmod)
		xendevicemodel_close(g->dmod);
	free(g);
}
