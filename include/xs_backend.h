/* SPDX-License-Identifier: GPL-2.0-only */
/* The libxl contract for one guest (xl-integration.md §2 and §4): serve
 * every virtio disk xenstore lists under
 *   /local/domain/<self>/backend/virtio_disk/<domid>/<devid>/
 * where <self> is our own domid ("domid" read relative to our xenstore
 * home, 0 if absent). Each device in state 1 is checked (xs_values.h),
 * served (IOREQ server, MMIO window, event channels) and only then set to
 * state 2, which is what `xl create` waits for; a device that cannot be
 * served is refused: one log line, `hotplug-error` = the reason and state
 * 6. DRIVER_OK sets state 4, a device reset sets it back to 2. The backend
 * closes when libxl sets state 5 or online 0, a device or the whole
 * directory disappears, the domain dies or shuts down (@releaseDomain), or
 * on SIGTERM: the devices drain, every foreign mapping and the IOREQ server
 * go, and state 6 is written where the node still exists. */
#ifndef XVB_XS_BACKEND_H
#define XVB_XS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest.h"

struct xs_handle;

/* The device kind libxl 4.17+ uses for `specification=virtio` disks. */
#define XS_BACKEND_KIND "virtio_disk"

/* Our own domid as xenstore knows it (the backend domain): the relative
 * node "domid", or 0 when it cannot be read (dom0 always has it). */
uint32_t xs_backend_self_domid(struct xs_handle *xs);

struct xs_backend;
/* Connect to xenstore and libxenctrl, watch the guest's backend directory
 * and @releaseDomain, create the guest (guest.h) and serve every device
 * that is ready; the guest may run once this returns. NULL on failure with
 * *status (2: nothing servable, 1: anything else) and a one-line reason in
 * err (empty when already logged); the devices that could not be served
 * have been refused in xenstore. */
struct xs_backend *xs_backend_new(uint32_t domid,
				  const struct guest_tuning *tune, int *status,
				  char *err, size_t errlen);
/* fn runs once, at the guest's first register access (before it is served),
 * when every disk libxl will add is there; if it returns false the backend
 * closes and xs_backend_run() returns 1. For --runas: set up as root until
 * then. */
void xs_backend_when_running(struct xs_backend *b, bool (*fn)(void *opaque),
			     void *opaque);
/* Before the process drops root: give up the handles no Xen restriction
 * covers (see domain_watch_unprivileged). */
void xs_backend_unprivileged(struct xs_backend *b);
/* Serve, picking up devices that appear later, until a close condition or
 * SIGTERM; returns the exit status: 0 after a clean drain, 1 otherwise. */
int xs_backend_run(struct xs_backend *b);
/* Tear down: the guest goes (every foreign mapping, the IOREQ server),
 * then state 6 is written for every served device whose node exists. */
void xs_backend_free(struct xs_backend *b);

/* Where the process that serves guest domid holds its claim (xs_claim.h)
 * while it does, under backend domain self's own xenstore directory. */
void xs_backend_claim_path(uint32_t self, uint32_t domid, char *buf,
			   size_t len);

/* For the supervisor, when no backend process will tear a guest's devices
 * down: every device under guest_dir (.../<domid>) whose state is not 6
 * (waiting_only: whose state is 1 or 5, a backend yet to come or to close)
 * gets `hotplug-error` = why and state 6, in directories that still
 * exist, so that libxl's destroy or reboot does not wait its 10 s for it.
 * Returns how many were closed. */
unsigned xs_backend_close_orphans(struct xs_handle *xs, const char *guest_dir,
				  const char *why, bool waiting_only);

#endif
