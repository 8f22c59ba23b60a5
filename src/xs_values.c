/* SPDX-License-Identifier: GPL-2.0-only */
/* Checking the backend nodes libxl writes for a virtio disk. */
#include "xs_values.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int parse_digits(const char *s, int base, uint64_t *v)
{
	unsigned long long x;
	char *end;

	if (base == 16 ? !isxdigit((unsigned char)*s)
		       : !isdigit((unsigned char)*s))
		return -1;
	/* strtoull would take a second "0x" after the caller's. */
	if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return -1;
	errno = 0;
	x = strtoull(s, &end, base);
	if (*end || errno == ERANGE)
		return -1;
	*v = x;
	return 0;
}

int xsv_parse_base(const char *s, uint64_t *v)
{
	if (!s)
		return -1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return parse_digits(s + 2, 16, v);
	return parse_digits(s, 10, v);
}

int xsv_parse_dec(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t x;

	if (!s || parse_digits(s, 10, &x) < 0 || x > max)
		return -1;
	*v = x;
	return 0;
}

int xsv_parse_state(const char *s)
{
	uint64_t v;

	if (xsv_parse_dec(s, XB_RECONFIGURED, &v) < 0)
		return -1;
	return (int)v;
}

/* Quote untrusted text for a log line: printable ASCII only, bounded. */
static const char *shown(const char *s, char *buf, size_t len)
{
	size_t j = 0, i;

	for (i = 0; s[i] && j + 8 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f) {
			buf[j++] = (char)c;
		} else {
			snprintf(buf + j, len - j, "\\x%02x", c);
			j += 4;
		}
	}
	if (s[i]) {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
	return buf;
}

/* The vdev as serial: the guest sees it as /dev/disk/by-id/virtio-xvda, so
 * an administrator can tell which config line a disk came from. */
static void vdev_serial(const char *dev, struct disk_opts *d)
{
	size_t len;

	d->has_serial = false;
	d->serial[0] = '\0';
	if (!dev)
		return;
	len = strlen(dev);
	if (len == 0 || len > sizeof(d->serial) - 1)
		return;
	for (size_t i = 0; i < len; i++)
		if (dev[i] <= 0x20 || dev[i] >= 0x7f || dev[i] == ',')
			return;
	memcpy(d->serial, dev, len + 1);
	d->has_serial = true;
}

enum xsv_verdict xsv_check_device(uint32_t self, uint32_t domid,
				  const struct xsv_nodes *n,
				  struct disk_opts *d, char *why, size_t whylen)
{
	char b1[96];
	struct disk_opts t;
	uint64_t v;
	int state;

	if (!n->state) {
		err_set(why, whylen, "no state node yet");
		return XSV_INCOMPLETE;
	}
	state = xsv_parse_state(n->state);
	if (state < 0) {
		err_set(why, whylen, "state '%s' is not a XenbusState",
			shown(n->state, b1, sizeof(b1)));
		return XSV_REFUSE;
	}
	if (state != XB_INITIALISING) {
		/* Another backend (or an earlier instance of ours) owns it,
		 * or libxl is already taking it down. */
		err_set(why, whylen, "state is %d, not 1 (Initialising)",
			state);
		return XSV_NOT_OURS;
	}
	if (n->online && strcmp(n->online, "1") != 0) {
		if (strcmp(n->online, "0") == 0) {
			err_set(why, whylen, "online is 0 (being removed)");
			return XSV_NOT_OURS;
		}
		err_set(why, whylen, "online '%s' is neither 0 nor 1",
			shown(n->online, b1, sizeof(b1)));
		return XSV_REFUSE;
	}
	/* libxl writes a device's nodes and its state in one transaction,
	 * state among them: once state is 1, a missing node never comes, and
	 * waiting would only make `xl create` time out with no reason. */
	if (!n->params || !n->mode || !n->base || !n->irq) {
		err_set(why, whylen, "missing%s%s%s%s",
			n->params ? "" : " params", n->mode ? "" : " mode",
			n->base ? "" : " base", n->irq ? "" : " irq");
		return XSV_REFUSE;
	}
	if (n->specification && strcmp(n->specification, "virtio") != 0) {
		err_set(why, whylen, "specification '%s' is not virtio",
			shown(n->specification, b1, sizeof(b1)));
		return XSV_REFUSE;
	}
	if (n->transport && strcmp(n->transport, "mmio") != 0) {
		err_set(why, whylen,
			"transport '%s' is not supported (only mmio)",
			shown(n->transport, b1, sizeof(b1)));
		return XSV_REFUSE;
	}
	/* Xen 4.17's libxl writes no grant_usage and gives the guest
	 * grant-based virtio whenever the backend is not in dom0 (its
	 * "xen,grant-dma" node): addresses we would take for guest-physical
	 * ones. */
	if (!n->grant_usage && self != 0) {
		err_set(why, whylen,
			"no grant_usage node and this backend runs in domain "
			"%u: libxl then gives the guest grant-based virtio, "
			"which is not supported (serve it from dom0)",
			self);
		return XSV_REFUSE;
	}
	if (n->grant_usage && strcmp(n->grant_usage, "0") != 0) {
		if (strcmp(n->grant_usage, "1") == 0)
			err_set(why, whylen,
				"grant_usage=1 (grant-based virtio) is not "
				"supported: this backend maps guest-physical "
				"addresses; use grant_usage=0 with a dom0 "
				"backend");
		else
			err_set(why, whylen,
				"grant_usage '%s' is neither 0 nor 1",
				shown(n->grant_usage, b1, sizeof(b1)));
		return XSV_REFUSE;
	}
	if (n->frontend_id) {
		if (xsv_parse_dec(n->frontend_id, MAX_DOMID, &v) < 0 ||
		    v != domid) {
			err_set(why, whylen,
				"frontend-id '%s' is not this guest (%u)",
				shown(n->frontend_id, b1, sizeof(b1)), domid);
			return XSV_REFUSE;
		}
	}

	memset(&t, 0, sizeof(t));
	if (!n->params[0]) {
		err_set(why, whylen, "params (the image path) is empty");
		return XSV_REFUSE;
	}
	if (n->params[0] != '/') {
		/* The daemon runs from "/", not from where xl ran. */
		err_set(why, whylen, "params '%s' is not an absolute path",
			shown(n->params, b1, sizeof(b1)));
		return XSV_REFUSE;
	}
	if (strlen(n->params) >= sizeof(t.path)) {
		err_set(why, whylen, "params is longer than %zu bytes",
			sizeof(t.path) - 1);
		return XSV_REFUSE;
	}
	strcpy(t.path, n->params);

	if (strcmp(n->mode, "w") == 0) {
		t.read_only = false;
	} else if (strcmp(n->mode, "r") == 0) {
		t.read_only = true;
	} else {
		err_set(why, whylen, "mode '%s' is neither w nor r",
			shown(n->mode, b1, sizeof(b1)));
		return XSV_REFUSE;
	}

	if (xsv_parse_base(n->base, &v) < 0) {
		err_set(why, whylen,
			"base '%s' is not a decimal or 0x-hex number",
			shown(n->base, b1, sizeof(b1)));
		return XSV_REFUSE;
	}
	if (v % DISK_MMIO_STRIDE) {
		err_set(why, whylen, "base 0x%llx is not 0x%x-aligned",
			(unsigned long long)v, DISK_MMIO_STRIDE);
		return XSV_REFUSE;
	}
	if (v > UINT64_MAX - DISK_MMIO_STRIDE) {
		err_set(why, whylen,
			"base 0x%llx: the window passes the end of the address "
			"space",
			(unsigned long long)v);
		return XSV_REFUSE;
	}
	t.base = v;
	t.has_base = true;

	if (xsv_parse_dec(n->irq, UINT32_MAX, &v) < 0 || v < DISK_IRQ_MIN ||
	    v > DISK_IRQ_MAX) {
		err_set(why, whylen, "irq '%s' is not an SPI (%d..%d)",
			shown(n->irq, b1, sizeof(b1)), DISK_IRQ_MIN,
			DISK_IRQ_MAX);
		return XSV_REFUSE;
	}
	t.irq = (unsigned)v;
	t.has_irq = true;
	vdev_serial(n->dev, &t);
	*d = t;
	return XSV_OK;
}

int xsv_conflict(const struct disk_opts *d, const struct disk_opts *served,
		 unsigned n, char *why, size_t whylen)
{
	for (unsigned i = 0; i < n; i++) {
		const struct disk_opts *o = &served[i];

		/* Both windows are DISK_MMIO_STRIDE long and do not wrap. */
		if (d->base < o->base + DISK_MMIO_STRIDE &&
		    o->base < d->base + DISK_MMIO_STRIDE) {
			err_set(why, whylen,
				"MMIO window 0x%llx overlaps the one at 0x%llx "
				"(%s)",
				(unsigned long long)d->base,
				(unsigned long long)o->base, o->path);
			return -1;
		}
		if (d->irq == o->irq) {
			err_set(why, whylen, "irq %u is already used by %s",
				d->irq, o->path);
			return -1;
		}
	}
	return 0;
}
