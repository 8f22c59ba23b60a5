/* SPDX-License-Identifier: GPL-2.0-only */
/* libprobe.so: an LD_PRELOAD probe of least privilege. It lets the
 * daemon's own calls through unchanged and watches for the three
 * *_restrict() calls. Once all three handles are restricted to the guest,
 * it uses those very handles on another domain, and a fresh unrestricted
 * handle likewise for contrast, and writes one line per attempt to
 * $XVB_PROBE_LOG:
 *   restricted dmod set_irq_level dom=N rc=-1 errno=EPERM
 *   fresh dmod set_irq_level dom=N rc=-1 errno=ESRCH
 * tests/integration/restricted.sh reads it. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define __XEN_TOOLS__ 1
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>

static xendevicemodel_handle *dmod;
static xenforeignmemory_handle *fmem;
static xenevtchn_handle *xce;
static unsigned guest;

static void say(const char *who, const char *what, unsigned dom, int rc,
		int err)
{
	const char *path = getenv("XVB_PROBE_LOG");
	FILE *f = path ? fopen(path, "a") : NULL;

	if (!f)
		return;
	fprintf(f, "%s %s dom=%u rc=%d errno=%s\n", who, what, dom, rc,
		rc < 0 ? strerrorname_np(err) : "0");
	fclose(f);
}

/* Act on `other` through the given handles (NULL ones are opened fresh). */
static void attempt(const char *who, xendevicemodel_handle *d,
		    xenforeignmemory_handle *m, xenevtchn_handle *e,
		    unsigned other)
{
	xen_pfn_t pfn = 0x40000; /* guest RAM's first frame on Arm */
	int err = 0, rc;
	void *p;

	errno = 0;
	rc = xendevicemodel_set_irq_level(d, other, 33, 1);
	say(who, "dmod set_irq_level", other, rc, errno);
	errno = 0;
	p = xenforeignmemory_map(m, other, PROT_READ, 1, &pfn, &err);
	if (p) {
		rc = err ? -1 : 0;
		say(who, "fmem map", other, rc, -err);
		xenforeignmemory_unmap(m, p, 1);
	} else {
		say(who, "fmem map", other, -1, errno);
	}
	errno = 0;
	rc = xenevtchn_bind_interdomain(e, other, 1);
	say(who, "evtchn bind_interdomain", other, rc, errno);
	if (rc >= 0)
		xenevtchn_unbind(e, rc);
}

static void probe_if_ready(void)
{
	xendevicemodel_handle *d;
	xenforeignmemory_handle *m;
	xenevtchn_handle *e;
	unsigned other = guest + 1;

	if (!dmod || !fmem || !xce)
		return;
	attempt("restricted", dmod, fmem, xce, other);
	d = xendevicemodel_open(NULL, 0);
	m = xenforeignmemory_open(NULL, 0);
	e = xenevtchn_open(NULL, 0);
	if (d && m && e)
		attempt("fresh", d, m, e, other);
	if (d)
		xendevicemodel_close(d);
	if (m)
		xenforeignmemory_close(m);
	if (e)
		xenevtchn_close(e);
	dmod = NULL; /* once */
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

int xendevicemodel_restrict(xendevicemodel_handle *h, domid_t domid)
{
	int rc = REAL(xendevicemodel_restrict)(h, domid);

	if (rc == 0) {
		dmod = h;
		guest = domid;
		probe_if_ready();
	}
	return rc;
}

int xenforeignmemory_restrict(xenforeignmemory_handle *h, domid_t domid)
{
	int rc = REAL(xenforeignmemory_restrict)(h, domid);

	if (rc == 0) {
		fmem = h;
		probe_if_ready();
	}
	return rc;
}

int xenevtchn_restrict(xenevtchn_handle *h, domid_t domid)
{
	int rc = REAL(xenevtchn_restrict)(h, domid);

	if (rc == 0) {
		xce = h;
		probe_if_ready();
	}
	return rc;
}
