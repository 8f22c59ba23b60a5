/* SPDX-License-Identifier: GPL-2.0-only */
/* Drop-in libxenctrl.so.4.17 for the simulator: the domain queries a
 * backend needs (xc_domain_getinfolist, with the dying/shutdown flags and
 * the "next domain >= domid" rule). No xc_domain_getinfo: Xen 4.18 removed
 * it, so a daemon that calls it must fail to link here too. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* xenctrl.h pulls in Xen headers that need GNU C (anonymous unions,
 * aligned attributes) and refuse strict ISO mode. */
#undef __STRICT_ANSI__
#include <xenctrl.h>

#include "sim_client.h"

struct xc_interface_core {
	struct sim_conn conn;
};

xc_interface *xc_interface_open(xentoollog_logger *logger,
				xentoollog_logger *dombuild_logger,
				unsigned open_flags)
{
	xc_interface *xch = calloc(1, sizeof(*xch));
	int fds[SIM_MAX_FDS], nfds;

	(void)logger;
	(void)dombuild_logger;
	(void)open_flags;
	if (!xch)
		return NULL;
	if (sim_conn_open(&xch->conn, SIM_KIND_XC, fds, &nfds)) {
		int saved = errno;

		free(xch);
		errno = saved;
		return NULL;
	}
	while (nfds--)
		close(fds[nfds]);
	return xch;
}

int xc_interface_close(xc_interface *xch)
{
	if (!xch)
		return 0;
	sim_conn_close(&xch->conn);
	free(xch);
	return 0;
}

/* The domains from `first` on, at most `max`: count or -errno. */
static int dominfo(xc_interface *xch, uint32_t first, unsigned max,
		   struct sim_dominfo *out)
{
	struct sim_args a = {.u32 = {first, max}};
	struct sim_reply rep;
	int rc, n;

	if (!xch)
		return -EBADF;
	rc = sim_call(&xch->conn, SIM_OP_DOMINFO, &a, NULL, 0, &rep);
	if (rc) {
		sim_reply_free(&rep);
		return rc;
	}
	n = (int)(rep.tail_len / sizeof(*out));
	if ((unsigned)n > max)
		n = (int)max;
	/* No domain from `first` on: no tail at all. */
	if (n > 0)
		memcpy(out, rep.tail, (size_t)n * sizeof(*out));
	sim_reply_free(&rep);
	sim_trace(&xch->conn, "xc_domain_getinfolist(%u, %u) = %d", first, max,
		  n);
	return n;
}

/* Domains per call, at most (callers loop for more, as with the real
 * library's bounded buffers). */
#define GETINFO_BATCH 64

int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain,
			  unsigned int max_domains, xc_domaininfo_t *info)
{
	struct sim_dominfo d[GETINFO_BATCH];
	int n, i;

	n = dominfo(xch, first_domain,
		    max_domains < GETINFO_BATCH ? max_domains : GETINFO_BATCH,
		    d);
	if (n < 0)
		return sim_fail(n);
	for (i = 0; i < n; i++) {
		xc_domaininfo_t *x = &info[i];

		memset(x, 0, sizeof(*x));
		x->domain = (domid_t)d[i].domid;
		x->flags = XEN_DOMINF_hvm_guest | XEN_DOMINF_hap;
		if (d[i].flags & SIM_DOMF_DYING)
			x->flags |= XEN_DOMINF_dying;
		if (d[i].flags & SIM_DOMF_SHUTDOWN)
			x->flags |=
			    XEN_DOMINF_shutdown |
			    (d[i].shutdown_reason & XEN_DOMINF_shutdownmask)
				<< XEN_DOMINF_shutdownshift;
		if (d[i].flags & SIM_DOMF_PAUSED)
			x->flags |= XEN_DOMINF_paused;
		if (d[i].flags & SIM_DOMF_BLOCKED)
			x->flags |= XEN_DOMINF_blocked;
		if (d[i].flags & SIM_DOMF_RUNNING)
			x->flags |= XEN_DOMINF_running;
		x->tot_pages = d[i].tot_pages;
		x->max_pages = d[i].max_pages;
		x->nr_online_vcpus = d[i].vcpus;
		x->max_vcpu_id = d[i].vcpus - 1;
	}
	return n;
}
