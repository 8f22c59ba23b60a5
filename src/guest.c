/* SPDX-License-Identifier: GPL-2.0-only */
/* Wiring for one guest: handles, loop, memory, server, devices, signals. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xentoollog.h>

#include "guest.h"
#include "guest_mem.h"
#include "image.h"
#include "ioreq.h"
#include "log.h"
#include "loop.h"
#include "signals.h"
#include "virtio_blk.h"
#include "virtio_mmio.h"

_Static_assert(VIRTIO_MMIO_WINDOW == DISK_MMIO_STRIDE,
	       "a disk's window is one libxl slot");
_Static_assert(VIRTIO_MMIO_DEFERRED == 1,
	       "ioreq's deferred write code is virtio_mmio's");
_Static_assert(MAX_DISKS <= IOREQ_MAX_WINDOWS, "one window per disk");

struct guest_disk {
	struct guest *g;
	unsigned index;
	unsigned irq;
	const char *path;
	struct virtio_blk *blk;
	struct virtio_mmio *mmio;
	bool quiesced;
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
	unsigned ndisks;
	struct guest_disk disk[MAX_DISKS];
	/* Shutdown state. */
	bool draining, forced;
	unsigned busy; /* devices still finishing in-flight requests */
	unsigned sigints;
};

/* The Xen libraries' own messages: our callers report every failure in
 * one line of their own, so the libraries' details are debug output (and
 * reach syslog when detached, where stderr is /dev/null). */
static void xtl_vmessage(struct xentoollog_logger *logger,
			 xentoollog_level level, int errnoval,
			 const char *context, const char *format, va_list al)
    __attribute__((format(printf, 5, 0)));
static void xtl_vmessage(struct xentoollog_logger *logger,
			 xentoollog_level level, int errnoval,
			 const char *context, const char *format, va_list al)
{
	char msg[512];

	(void)logger;
	if (level < XTL_WARN)
		return;
	vsnprintf(msg, sizeof(msg), format, al);
	if (errnoval >= 0)
		log_debug("%s: %s: %s", context ? context : "xen", msg,
			  strerror(errnoval));
	else
		log_debug("%s: %s", context ? context : "xen", msg);
}

static void xtl_destroy(struct xentoollog_logger *logger)
{
	(void)logger;
}

static struct xentoollog_logger xtl_logger = {
    .vmessage = xtl_vmessage,
    .destroy = xtl_destroy,
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A layer's reason usually names the image already; add it if not. */
static void disk_err(char *err, size_t errlen, const char *path,
		     const char *why)
{
	if (strstr(why, path))
		set_err(err, errlen, "%s", why);
	else
		set_err(err, errlen, "%s: %s", path, why);
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

static void on_invalidate(void *opaque)
{
	guest_mem_invalidate(opaque);
}

/* ------------------------------------------------------------- shutdown */

static void one_drained(struct guest *g)
{
	if (--g->busy == 0) {
		log_info("all disks drained, stopping");
		loop_stop(g->loop);
	}
}

static void disk_quiesced(void *opaque)
{
	struct guest_disk *d = opaque;

	d->quiesced = true;
	log_debug("disk %u (%s): drained", d->index, d->path);
	one_drained(d->g);
}

static void on_signal(void *opaque, int signo)
{
	struct guest *g = opaque;
	const char *name = signo == SIGINT ? "SIGINT" : "SIGTERM";

	if (signo == SIGINT)
		g->sigints++;
	if (!g->draining) {
		log_info("%s: finishing in-flight requests, then exiting",
			 name);
		g->draining = true;
		/* One extra count held across the loop: a device may report
		 * done from inside virtio_mmio_quiesce(). */
		g->busy = g->ndisks + 1;
		for (unsigned i = 0; i < g->ndisks; i++)
			virtio_mmio_quiesce(g->disk[i].mmio, disk_quiesced,
					    &g->disk[i]);
		one_drained(g);
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
	for (unsigned i = 0; i < ndisks; i++) {
		struct image img;
		char why[512];

		if (image_open(&img, disks[i].path, disks[i].read_only, why,
			       sizeof(why)) < 0) {
			disk_err(err, errlen, disks[i].path, why);
			return -1;
		}
		image_close(&img);
	}
	return 0;
}

static int open_handles(struct guest *g, char *err, size_t errlen)
{
	g->dmod = xendevicemodel_open(&xtl_logger, 0);
	if (!g->dmod) {
		set_err(err, errlen, "cannot open xendevicemodel: %s",
			strerror(errno));
		return -1;
	}
	g->fmem = xenforeignmemory_open(&xtl_logger, 0);
	if (!g->fmem) {
		set_err(err, errlen, "cannot open xenforeignmemory: %s",
			strerror(errno));
		return -1;
	}
	g->xce = xenevtchn_open(&xtl_logger, 0);
	if (!g->xce) {
		set_err(err, errlen, "cannot open xenevtchn: %s",
			strerror(errno));
		return -1;
	}
	return 0;
}

static int add_disk(struct guest *g, unsigned i, const struct disk_opts *o,
		    int *status, char *err, size_t errlen)
{
	struct guest_disk *d = &g->disk[i];
	struct virtio_blk_params p = {
	    .path = o->path,
	    .read_only = o->read_only,
	    .serial = o->has_serial ? o->serial : NULL,
	};
	struct virtio_mmio_host host = {
	    .raise_irq = host_raise_irq,
	    .complete_deferred = host_complete_deferred,
	    .opaque = d,
	};
	struct ioreq_window w = {
	    .base = o->base,
	    .size = VIRTIO_MMIO_WINDOW,
	    .read = window_read,
	    .write = window_write,
	    .opaque = d,
	};
	char why[512];
	int r;

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
		set_err(err, errlen, "%s: cannot create the virtio-mmio device",
			o->path);
		return -1;
	}
	r = ioreq_server_add_window(g->srv, &w);
	if (r == -EINVAL || r == -ENOSPC || r == -EEXIST)
		set_err(err, errlen, "%s: cannot serve MMIO window 0x%llx: %s",
			o->path, (unsigned long long)o->base, strerror(-r));
	else if (r)
		err[0] = '\0'; /* the ioreq layer has logged Xen's refusal */
	if (r)
		return -1;
	log_info("disk %u: %s%s at 0x%llx, irq %u", i, o->path,
		 o->read_only ? " (read-only)" : "",
		 (unsigned long long)o->base, o->irq);
	return 0;
}

struct guest *guest_new(uint32_t domid, const struct disk_opts *disks,
			unsigned ndisks, int *status, char *err, size_t errlen)
{
	struct guest *g;

	*status = 1;
	if (ndisks > MAX_DISKS) {
		set_err(err, errlen, "at most %d disks", MAX_DISKS);
		*status = 2;
		return NULL;
	}
	if (check_images(disks, ndisks, err, errlen) < 0) {
		*status = 2;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	g->domid = domid;
	if (open_handles(g, err, errlen) < 0)
		goto fail;
	g->loop = loop_new();
	if (!g->loop) {
		set_err(err, errlen, "cannot create the event loop: %s",
			strerror(errno));
		goto fail;
	}
	g->gm = guest_mem_new(g->fmem, domid, GUEST_MAX_MAPPED_BYTES);
	if (!g->gm) {
		set_err(err, errlen, "cannot set up guest memory access");
		goto fail;
	}
	g->srv = ioreq_server_new(g->loop, domid, g->dmod, g->fmem, g->xce, err,
				  errlen);
	if (!g->srv)
		goto fail;
	ioreq_server_on_invalidate(g->srv, on_invalidate, g->gm);
	for (unsigned i = 0; i < ndisks; i++) {
		g->ndisks = i + 1; /* guest_free() takes the partial one too */
		if (add_disk(g, i, &disks[i], status, err, errlen) < 0)
			goto fail;
	}
	g->sig = signals_new(g->loop, on_signal, g, err, errlen);
	if (!g->sig)
		goto fail;
	log_info("ready: domain %u, %u disk(s)", domid, ndisks);
	return g;
fail:
	guest_free(g);
	return NULL;
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
	ioreq_server_free(g->srv);
	for (unsigned i = g->ndisks; i-- > 0;) {
		struct guest_disk *d = &g->disk[i];

		if (d->mmio)
			virtio_mmio_free(d->mmio);
		if (d->blk)
			virtio_blk_free(d->blk);
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
