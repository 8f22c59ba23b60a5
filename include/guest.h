/* SPDX-License-Identifier: GPL-2.0-only */
/* One guest's set of disks: the Xen handles, guest memory, the IOREQ server
 * and a virtio-blk device behind a virtio-mmio window per disk, on one event
 * loop; start-up, SIGTERM/SIGINT draining and teardown. Takes the disks as
 * plain disk_opts, whoever configured them (command line, xenstore). */
#ifndef XVB_GUEST_H
#define XVB_GUEST_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

/* Most guest RAM mapped at once (the guest_mem cache bound). */
#define GUEST_MAX_MAPPED_BYTES (1ULL << 30)

struct guest;

/* Open every disk's image, the Xen handles, the loop and guest memory,
 * create and enable the IOREQ server, build each disk's device and map its
 * MMIO window, watch SIGTERM/SIGINT; then log "ready: domain N, K disk(s)".
 * Readiness may be announced only after this returns: the guest can use
 * its disks from then on. On failure: NULL, *status = 2 if a disk is
 * unusable (a configuration error) or 1 otherwise, and a one-line reason in
 * err, or an empty err when the failing layer has already logged it.
 * disks must stay valid until guest_free(). */
struct guest *guest_new(uint32_t domid, const struct disk_opts *disks,
			unsigned ndisks, int *status, char *err, size_t errlen);
/* Serve until SIGTERM/SIGINT: then every device stops taking requests and
 * finishes those in flight, and this returns 0. Returns 1 if the loop fails
 * or a second SIGINT cuts the draining short. */
int guest_run(struct guest *g);
/* Reverse of guest_new: the IOREQ server goes first so Xen stops
 * forwarding accesses, then the devices, guest memory and the handles. */
void guest_free(struct guest *g);

#endif
