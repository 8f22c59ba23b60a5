/* SPDX-License-Identifier: GPL-2.0-only */
/* The values libxl (4.17..4.21) writes into a virtio disk's backend
 * directory, /local/domain/<backend>/backend/virtio_disk/<domid>/<devid>/
 * (xl-integration.md §2), parsed and checked without touching xenstore, so
 * that every rule is unit-testable. Every value is untrusted text. */
#ifndef XVB_XS_VALUES_H
#define XVB_XS_VALUES_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

/* XenbusState (xen/io/xenbus.h). */
enum xenbus_state {
	XB_UNKNOWN = 0,
	XB_INITIALISING = 1,
	XB_INITWAIT = 2,
	XB_INITIALISED = 3,
	XB_CONNECTED = 4,
	XB_CLOSING = 5,
	XB_CLOSED = 6,
	XB_RECONFIGURING = 7,
	XB_RECONFIGURED = 8,
};

/* One device's nodes as read; NULL = absent. */
struct xsv_nodes {
	const char *params; /* the image path (xl's target=) */
	const char *mode;   /* "w" or "r" */
	const char *base;   /* decimal (4.17 disks) or 0x-hex (4.18 virtio=) */
	const char *irq;    /* decimal SPI */
	const char *state;  /* XenbusState, decimal */
	const char *online; /* "1"; "0" once libxl removes the device */
	const char *specification; /* "virtio" */
	const char *transport;	   /* "mmio" */
	const char *grant_usage;   /* 4.19+: "0" or "1" */
	const char *frontend_id;   /* the guest's domid */
	const char *dev;	   /* the vdev, e.g. "xvda" */
};

enum xsv_verdict {
	XSV_OK,		/* servable: *d is filled in */
	XSV_INCOMPLETE, /* no state node yet: look again later */
	XSV_REFUSE,	/* malformed or unsupported: close it, say why */
	XSV_NOT_OURS,	/* not state 1 or not online: leave it alone */
};

/* Check a device of guest domid, served from domain self (ours). Required:
 * state, params, mode, base, irq; the rest is checked when present. XSV_OK
 * fills d (serial = the vdev when it fits virtio-blk's 20-byte ID); every
 * other verdict leaves d alone and puts a one-line reason in why (which
 * names the node and its value). */
enum xsv_verdict xsv_check_device(uint32_t self, uint32_t domid,
				  const struct xsv_nodes *n,
				  struct disk_opts *d, char *why,
				  size_t whylen);

/* Would d clash with any of the n disks already served (overlapping MMIO
 * window or the same SPI)? 0, or -1 with a reason in why. */
int xsv_conflict(const struct disk_opts *d, const struct disk_opts *served,
		 unsigned n, char *why, size_t whylen);

/* Strict parsers: the whole string, no sign, no blanks. 0 or -1. */
/* Decimal, or hexadecimal after "0x"/"0X" (libxl writes both forms). */
int xsv_parse_base(const char *s, uint64_t *v);
/* Decimal no larger than max (a leading 0 is still decimal). */
int xsv_parse_dec(const char *s, uint64_t max, uint64_t *v);
/* A XenbusState 0..8, or -1. */
int xsv_parse_state(const char *s);

#endif
