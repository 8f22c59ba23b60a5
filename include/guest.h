/* SPDX-License-Identifier: GPL-2.0-only */
/* One guest's set of disks: the Xen handles, guest memory, the IOREQ server
 * and a virtio-blk device behind a virtio-mmio window per disk, on one event
 * loop; start-up, SIGTERM/SIGINT draining, SIGHUP size checks, SIGUSR1
 * statistics and teardown.
 * Takes the disks as plain disk_opts, whoever configured them (command
 * line, xenstore); disks may also be added while the guest is served. */
#ifndef XVB_GUEST_H
#define XVB_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "options.h"
#include "virtio_blk.h"

/* Most guest RAM mapped at once (the guest_mem cache bound). */
#define GUEST_MAX_MAPPED_BYTES (1ULL << 30)

struct guest;

/* Open every disk's image, the Xen handles, the loop and guest memory,
 * create and enable the IOREQ server, build each disk's device and map its
 * MMIO window, watch SIGTERM/SIGINT/SIGHUP/SIGUSR1; then, if ndisks > 0, log
 * "ready: domain N, K disk(s)". ndisks may be 0 (disks come later through
 * guest_add_disk). Readiness may be announced only after this returns: the
 * guest can use its disks from then on. On failure: NULL, *status = 2 if a
 * disk is unusable (a configuration error) or 1 otherwise, and a one-line
 * reason in err, or an empty err when the failing layer has already logged
 * it. disks must stay valid until guest_free(). */
struct guest_tuning {
	unsigned poll_us;     /* the loop's window after any work (loop.h) */
	unsigned irq_poll_us; /* after each interrupt, for its acks (ioreq.h) */
	unsigned idle_grace_us; /* virtio_blk_params.idle_grace_us */
	unsigned queues;	/* virtio_blk_params.num_queues, every disk */
	unsigned submit_batch;	/* virtio_blk_params.submit_batch */
	bool io_threads;	/* virtio_blk_params.io_threads */
};
struct guest *guest_new(uint32_t domid, const struct disk_opts *disks,
			unsigned ndisks, const struct guest_tuning *tune,
			int *status, char *err, size_t errlen);

/* Callbacks to whoever configured the disks (the xenstore backend). */
struct guest_hooks {
	/* Disk i's driver set DRIVER_OK and the device started (live), or
	 * a reset of disk i finished (!live). Loop thread. */
	void (*driver_state)(void *opaque, unsigned disk, bool live);
	/* SIGUSR1, after the statistics went to the log. */
	void (*stats)(void *opaque);
	/* The guest's first register access, before it is served: its
	 * vCPUs run, so the toolstack has added every disk it will (libxl
	 * cannot hot-plug virtio disks). Loop thread; once. */
	void (*running)(void *opaque);
	/* Disk i's image has a new size (sectors), now served. Loop
	 * thread. */
	void (*resized)(void *opaque, unsigned disk, uint64_t sectors);
	void *opaque;
};
/* Install hooks (copied); NULL removes them. */
void guest_set_hooks(struct guest *g, const struct guest_hooks *h);

/* Serve one more disk: open its image, build its device, map its MMIO
 * window (the guest may use it as soon as this returns). Returns its index
 * (0, 1, ...), or -1 with *status and err as for guest_new; the guest is
 * left as it was. d must stay valid until guest_free(). */
int guest_add_disk(struct guest *g, const struct disk_opts *d, int *status,
		   char *err, size_t errlen);
unsigned guest_ndisks(const struct guest *g);
/* The guest's event loop, for the configuring layer's own fds. */
struct loop *guest_loop(struct guest *g);

/* What a disk offers, for the toolstack (xenstore extras). */
struct guest_disk_info {
	uint64_t sectors;     /* capacity in 512-byte units */
	uint32_t sector_size; /* logical block size offered (blk_size) */
	uint64_t features;    /* device feature bits offered */
	unsigned queues, queue_size;
	bool read_only;
};
void guest_disk_info(const struct guest *g, unsigned i,
		     struct guest_disk_info *info);
void guest_disk_stats(const struct guest *g, unsigned i,
		      struct virtio_blk_stats *st);
/* One log line per disk plus one for the IOREQ server (what SIGUSR1 does). */
void guest_log_stats(const struct guest *g);

/* Start the shutdown SIGTERM starts: every device stops taking requests and
 * finishes those in flight, then guest_run() returns 0. `why` goes to the
 * log. Idempotent. */
void guest_stop(struct guest *g, const char *why);
/* The domain is dead or shut down for good: nobody will see what is in
 * flight, so work that could last for hours (a guest's WRITE_ZEROES the
 * storage cannot do itself) is abandoned rather than finished. SIGTERM
 * alone finishes everything. */
void guest_abandon_io(struct guest *g);
/* Serve until SIGTERM/SIGINT or guest_stop(): then every device stops
 * taking requests and finishes those in flight, and this returns 0.
 * Returns 1 if the loop fails or a second SIGINT cuts the draining short. */
int guest_run(struct guest *g);
/* Reverse of guest_new: the devices go first (draining one may finish a
 * reset that answers a held access through the server), then the IOREQ
 * server, so Xen stops forwarding accesses, guest memory and the handles.
 * After guest_run() returned 0 nothing is in flight any more, so no I/O
 * completes into guest memory once it is unmapped; every foreign mapping
 * (ioreq page, rings, buffers) is gone when this returns. */
void guest_free(struct guest *g);

#endif
