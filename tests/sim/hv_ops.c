/* SPDX-License-Identifier: GPL-2.0-only */
/* The simulated hypercalls: what the drop-in libraries ask over the socket,
 * answered with the error codes Xen 4.17 on Arm gives (xen-ioreq-facts.md
 * sections 1-5, e2e-testbed.md Part 2 item 5 for a dead domain):
 * - DMOPs name a server by id; an unknown id is ENOENT, another domain is
 *   ESRCH; a dying domain has no servers left, and create is EINVAL;
 * - buffered ioreqs are refused on Arm (EINVAL), at most 8 servers (ENOSPC);
 * - a server's ranges form a rangeset: adjacent ranges merge;
 * - the ioreq page is frame 1 of resource type 0; frame 0 is ENOENT with
 *   buffering off, any other frame EINVAL;
 * - binding a channel of a dying domain is EINVAL; a new binding always
 *   gets one event (Xen makes up for notifications lost while unbound);
 * - a domain that does not exist (never did, or is gone) is ESRCH.
 * Every handler runs with hv->lock held. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "hv_internal.h"

/* The domain a call names: ESRCH if it does not exist (any more). */
static struct sim_dom *dom_check(struct sim_hv *hv, uint32_t domid, int *rc)
{
	struct sim_dom *d = hv_find_dom(hv, domid);

	if (!d || d->dom_state == SIM_DOM_GONE) {
		*rc = -ESRCH;
		return NULL;
	}
	*rc = 0;
	return d;
}

static struct hv_server *get_server(struct sim_hv *hv, uint32_t domid,
				    uint32_t id, struct sim_dom **dp, int *rc)
{
	struct sim_dom *d = dom_check(hv, domid, rc);

	*dp = d;
	if (!d)
		return NULL;
	if (id >= SIM_MAX_SERVERS || !d->servers[id].used) {
		*rc = -ENOENT;
		return NULL;
	}
	return &d->servers[id];
}

/* The page counting what a process maps, created at its first
 * foreignmemory handle. */
static int proc_page(struct hv_proc *p)
{
	if (p->page)
		return 0;
	p->memfd = memfd_create("sim-proc", MFD_CLOEXEC);
	if (p->memfd < 0 || ftruncate(p->memfd, SIM_PROC_SHARED_SIZE))
		goto fail;
	p->page = mmap(NULL, SIM_PROC_SHARED_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, p->memfd, 0);
	if (p->page == MAP_FAILED) {
		p->page = NULL;
		goto fail;
	}
	return 0;
fail:
	if (p->memfd >= 0)
		close(p->memfd);
	p->memfd = -1;
	return -ENOMEM;
}

int hv_hello(struct sim_hv *hv, uint32_t kind, struct hv_proc *proc,
	     struct hv_evh **evhp, int *fds, int *nfds)
{
	struct hv_evh *evh;
	int rc;

	(void)hv;
	switch (kind) {
	case SIM_KIND_XC:
	case SIM_KIND_DM:
		*nfds = 0;
		return 0;
	case SIM_KIND_FM:
		if (!proc)
			return -EPROTO;
		rc = proc_page(proc);
		if (rc)
			return rc;
		fds[0] = proc->memfd;
		*nfds = 1;
		return 0;
	case SIM_KIND_EV:
		evh = calloc(1, sizeof(*evh));
		if (!evh)
			return -ENOMEM;
		evh->efd = -1;
		evh->memfd = memfd_create("sim-evtchn", MFD_CLOEXEC);
		if (evh->memfd < 0 || ftruncate(evh->memfd, SIM_EV_WORDS_SIZE))
			goto fail;
		evh->words =
		    mmap(NULL, SIM_EV_WORDS_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED, evh->memfd, 0);
		if (evh->words == MAP_FAILED) {
			evh->words = NULL;
			goto fail;
		}
		evh->efd =
		    eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
		if (evh->efd < 0)
			goto fail;
		fds[0] = evh->memfd;
		fds[1] = evh->efd;
		*nfds = 2;
		*evhp = evh;
		return 0;
	default:
		return -EINVAL;
	}
fail:
	if (evh->words)
		munmap(evh->words, SIM_EV_WORDS_SIZE);
	if (evh->memfd >= 0)
		close(evh->memfd);
	free(evh);
	return -ENOMEM;
}

static void unbind_local(struct sim_hv *hv, uint32_t port)
{
	struct hv_local_port *lp = &hv->local_ports[port];

	if (lp->xen_port >= 0 && lp->dom)
		lp->dom->xen_ports[lp->xen_port].local = -1;
	lp->evh = NULL;
	lp->dom = NULL;
	lp->xen_port = -1;
}

void hv_evh_release(struct sim_hv *hv, struct hv_evh *evh)
{
	uint32_t p;

	for (p = 0; p < SIM_NR_PORTS; p++)
		if (hv->local_ports[p].evh == evh)
			unbind_local(hv, p);
	munmap(evh->words, SIM_EV_WORDS_SIZE);
	close(evh->memfd);
	close(evh->efd);
	free(evh);
	pthread_cond_broadcast(&hv->cond);
}

/* ------------------------------------------------------------ devicemodel */

static int dm_create(struct sim_hv *hv, struct hv_proc *owner, uint32_t domid,
		     uint32_t bufioreq, uint32_t *idp)
{
	struct hv_server *s;
	unsigned id, v, port = SIM_FIRST_XEN_PORT;
	int rc;
	struct sim_dom *d = dom_check(hv, domid, &rc);

	if (!d)
		return rc;
	if (d->dom_state != SIM_DOM_ALIVE)
		return -EINVAL;
	if (bufioreq) {
		/* ioreq_server_create(): no buffered ioreqs off x86 */
		d->stats.bufioreq_refused = true;
		return -EINVAL;
	}
	for (id = 0; id < SIM_MAX_SERVERS; id++)
		if (!d->servers[id].used)
			break;
	if (id == SIM_MAX_SERVERS)
		return -ENOSPC;
	s = &d->servers[id];
	s->memfd = -1;
	s->xen_port = calloc(d->nvcpus, sizeof(*s->xen_port));
	if (!s->xen_port)
		return -ENOMEM;
	/* one unbound Xen channel per vCPU, remote end dom0 */
	for (v = 0; v < d->nvcpus; v++) {
		while (port < SIM_NR_PORTS && d->xen_ports[port].used)
			port++;
		if (port == SIM_NR_PORTS) {
			rc = -ENOSPC;
			goto fail;
		}
		s->xen_port[v] = port++;
	}
	s->memfd = memfd_create("sim-ioreq-page", MFD_CLOEXEC);
	if (s->memfd < 0 || ftruncate(s->memfd, SIM_PAGE_SIZE)) {
		rc = -ENOMEM;
		goto fail;
	}
	s->page = mmap(NULL, SIM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       s->memfd, 0);
	if (s->page == MAP_FAILED) {
		s->page = NULL;
		rc = -ENOMEM;
		goto fail;
	}
	for (v = 0; v < d->nvcpus; v++) {
		struct hv_xen_port *xp = &d->xen_ports[s->xen_port[v]];

		xp->used = true;
		xp->server = (int)id;
		xp->vcpu = v;
		xp->local = -1;
	}
	s->used = true;
	s->enabled = false;
	s->gen++;
	s->nr_mmio = s->nr_pio = 0;
	s->owner = owner;
	d->stats.servers_created++;
	*idp = id;
	return 0;
fail:
	if (s->memfd >= 0)
		close(s->memfd);
	s->memfd = -1;
	free(s->xen_port);
	s->xen_port = NULL;
	return rc;
}

/* ioreq_server_map_io_range(): an overlap is EEXIST; then
 * rangeset_add_range() merges the range with adjacent ones, so that two
 * adjacent windows of one server become one range and an access
 * straddling them is routed to the server (ioreq_server_select() asks
 * rangeset_contains_range(); docs/xen-notes.md). A new range beyond the
 * rangeset's limit (MAX_NR_IO_RANGES) is ENOMEM; a merge needs none. */
static int dm_map_range(struct sim_dom *d, struct hv_server *s, bool mmio,
			uint64_t start, uint64_t end)
{
	struct hv_range *r = mmio ? s->mmio : s->pio;
	unsigned *nr = mmio ? &s->nr_mmio : &s->nr_pio, i;
	int lo = -1, hi = -1;

	if (start > end)
		return -EINVAL;
	for (i = 0; i < *nr; i++) {
		if (start <= r[i].end && r[i].start <= end)
			return -EEXIST;
		if (r[i].end != UINT64_MAX && r[i].end + 1 == start)
			lo = (int)i;
		if (end != UINT64_MAX && end + 1 == r[i].start)
			hi = (int)i;
	}
	if (lo >= 0 && hi >= 0) {
		r[lo].end = r[hi].end;
		r[hi] = r[--(*nr)];
	} else if (lo >= 0) {
		r[lo].end = end;
	} else if (hi >= 0) {
		r[hi].start = start;
	} else if (*nr == SIM_MAX_RANGES) {
		return -ENOMEM;
	} else {
		r[(*nr)++] = (struct hv_range){start, end};
	}
	d->stats.ranges_mapped++;
	pthread_cond_broadcast(&d->hv->cond);
	return 0;
}

/* ioreq_server_unmap_io_range(): the whole [start, end] must be in one
 * (merged) range, else ENOENT; rangeset_remove_range() then trims or
 * splits it, a split beyond the limit being ENOMEM. */
static int dm_unmap_range(struct hv_server *s, bool mmio, uint64_t start,
			  uint64_t end)
{
	struct hv_range *r = mmio ? s->mmio : s->pio;
	unsigned *nr = mmio ? &s->nr_mmio : &s->nr_pio, i;

	if (start > end)
		return -EINVAL;
	for (i = 0; i < *nr; i++)
		if (r[i].start <= start && end <= r[i].end)
			break;
	if (i == *nr)
		return -ENOENT;
	if (r[i].start < start && end < r[i].end) {
		if (*nr == SIM_MAX_RANGES)
			return -ENOMEM;
		r[(*nr)++] = (struct hv_range){end + 1, r[i].end};
		r[i].end = start - 1;
	} else if (r[i].start < start) {
		r[i].end = start - 1;
	} else if (end < r[i].end) {
		r[i].start = end + 1;
	} else {
		r[i] = r[--(*nr)];
	}
	return 0;
}

static int dm_set_state(struct sim_dom *d, struct hv_server *s, bool on)
{
	unsigned v;

	if (on == s->enabled)
		return 0;
	s->enabled = on;
	/* ioreq_server_enable() -> ioreq_server_update_evtchn(), which
	 * writes nothing while the page does not exist (ioreq.c:348-359):
	 * enabling before mapping leaves every vp_eport 0. */
	if (on && s->page_alloc)
		for (v = 0; v < d->nvcpus; v++)
			__atomic_store_n(&s->page[v].vp_eport, s->xen_port[v],
					 __ATOMIC_RELEASE);
	pthread_cond_broadcast(&d->hv->cond);
	return 0;
}

static const char *dm_name(uint32_t op)
{
	const char *name = sim_op_name(op);

	return name ? name : "dmop";
}

static int handle_dm(struct sim_hv *hv, struct hv_proc *proc,
		     const struct sim_wire *req, struct sim_wire *rep)
{
	const uint32_t *a = req->a.u32;
	struct hv_server *s = NULL;
	struct sim_dom *d;
	int rc = 0;

	if (hv->cfg.no_ioreq_server) {
		hv_log(hv, "%s(dom %u) = %d: no IOREQ server support",
		       dm_name(req->op), a[0], -ENOSYS);
		return -ENOSYS;
	}
	switch (req->op) {
	case SIM_OP_DM_CREATE:
		rc = dm_create(hv, proc, a[0], a[1], &rep->a.u32[2]);
		hv_log(hv,
		       "create_ioreq_server(dom %u, bufioreq %u) = %d, id %u",
		       a[0], a[1], rc, rc ? 0 : rep->a.u32[2]);
		return rc;
	case SIM_OP_DM_NR_VCPUS:
		d = dom_check(hv, a[0], &rc);
		rep->a.u32[2] = d ? d->nvcpus : 0;
		return rc;
	default:
		break;
	}
	s = get_server(hv, a[0], a[1], &d, &rc);
	if (s) {
		switch (req->op) {
		case SIM_OP_DM_INFO:
			/* arch_ioreq_server_map_pages(): not on Arm */
			rc = a[2] ? -EOPNOTSUPP : 0;
			rep->a.u32[3] = 0; /* no bufioreq channel */
			break;
		case SIM_OP_DM_MAP_RANGE:
			rc = dm_map_range(d, s, a[2], req->a.u64[0],
					  req->a.u64[1]);
			break;
		case SIM_OP_DM_UNMAP_RANGE:
			rc = dm_unmap_range(s, a[2], req->a.u64[0],
					    req->a.u64[1]);
			break;
		case SIM_OP_DM_SET_STATE:
			rc = dm_set_state(d, s, a[2] != 0);
			break;
		case SIM_OP_DM_DESTROY:
			hv_destroy_server(d, a[1]);
			break;
		default:
			rc = -ENOSYS;
		}
	}
	hv_log(hv, "%s(dom %u, id %u, %u, 0x%llx-0x%llx) = %d",
	       dm_name(req->op), a[0], a[1], a[2],
	       (unsigned long long)req->a.u64[0],
	       (unsigned long long)req->a.u64[1], rc);
	return rc;
}

/* ------------------------------------------------------------ foreign mem */

static int handle_fm(struct sim_hv *hv, struct hv_proc *proc,
		     const struct sim_wire *req, struct sim_wire *rep, int *fds,
		     int *nfds)
{
	const uint32_t *a = req->a.u32;
	struct hv_server *s;
	struct sim_dom *d;
	uint64_t frame = req->a.u64[0], nr = req->a.u64[1], f;
	int rc = 0;

	switch (req->op) {
	case SIM_OP_FM_MAP_RESOURCE:
		d = dom_check(hv, a[0], &rc);
		if (!d)
			break;
		if (a[1] != 0 /* XENMEM_resource_ioreq_server */) {
			rc = -EOPNOTSUPP;
			break;
		}
		s = get_server(hv, a[0], a[2], &d, &rc);
		if (!s)
			break;
		if (!nr) {
			rc = -EINVAL;
			break;
		}
		/* ioreq_server_get_frame() for each frame in turn */
		for (f = frame; f - frame < nr && !rc; f++)
			if (f == 0)
				rc = -ENOENT; /* bufioreq page: buffering off */
			else if (f != 1)
				rc = -EINVAL;
		if (rc)
			break;
		s->page_alloc = true;
		fds[0] = s->memfd;
		*nfds = 1;
		/* What a dead process held is released already: do not
		 * count a late request of it. */
		if (proc && !proc->dead) {
			d->resource_mapped += nr;
			proc->res[d->slot] += nr;
		}
		break;
	case SIM_OP_FM_UNMAP_RESOURCE:
		d = hv_find_dom(hv, a[0]);
		if (!d || !proc || proc->dead)
			break;
		if (nr > proc->res[d->slot])
			nr = proc->res[d->slot];
		proc->res[d->slot] -= nr;
		d->resource_mapped -=
		    nr < d->resource_mapped ? nr : d->resource_mapped;
		hv_check_gone(d);
		break;
	case SIM_OP_FM_RESOURCE_SIZE:
		d = dom_check(hv, a[0], &rc);
		if (!d)
			break;
		if (a[1] != 0) {
			rc = -EINVAL;
			break;
		}
		/* ioreq_server_max_frames(): bufioreq + ioreq pages */
		rep->a.u64[0] = (1 + (d->nvcpus * sizeof(struct sim_ioreq) +
				      SIM_PAGE_SIZE - 1) /
					 SIM_PAGE_SIZE) *
				SIM_PAGE_SIZE;
		break;
	case SIM_OP_FM_UNMAPPED:
		d = hv_find_dom(hv, a[0]);
		if (d)
			hv_check_gone(d);
		break;
	default:
		rc = -ENOSYS;
	}
	if (req->op == SIM_OP_FM_MAP_RESOURCE)
		hv_log(hv,
		       "map_resource(dom %u, type %u, id %u, frame %llu, nr "
		       "%llu) = %d",
		       a[0], a[1], a[2], (unsigned long long)frame,
		       (unsigned long long)nr, rc);
	return rc;
}

/* ------------------------------------------------------------ evtchn */

static int ev_bind(struct sim_hv *hv, struct hv_evh *evh, uint32_t domid,
		   uint32_t remote, uint32_t *local, int *fds, int *nfds)
{
	struct hv_xen_port *xp;
	struct sim_dom *d;
	uint32_t p;
	int rc;

	d = dom_check(hv, domid, &rc);
	if (!d)
		return rc;
	if (d->dom_state != SIM_DOM_ALIVE)
		return -EINVAL;
	if (remote >= SIM_NR_PORTS)
		return -EINVAL;
	xp = &d->xen_ports[remote];
	/* evtchn_bind_interdomain(): remote must be unbound, for dom0 */
	if (!xp->used || xp->local >= 0)
		return -EINVAL;
	for (p = SIM_FIRST_LOCAL_PORT; p < SIM_NR_PORTS; p++)
		if (!hv->local_ports[p].evh)
			break;
	if (p == SIM_NR_PORTS)
		return -ENOSPC;
	hv->local_ports[p].evh = evh;
	hv->local_ports[p].dom = d;
	hv->local_ports[p].xen_port = (int)remote;
	xp->local = (int)p;
	/* "We may have lost notifications on the remote unbound port":
	 * Xen sets the new local port pending. */
	__atomic_store_n(&evh->words[p],
			 SIM_EVW_BOUND | SIM_EVW_MASKED | SIM_EVW_QUEUED,
			 __ATOMIC_SEQ_CST);
	{
		uint64_t one = 1;

		if (write(evh->efd, &one, sizeof(one)) < 0) {
			/* counter far below its maximum */
		}
	}
	*local = p;
	fds[0] = d->vcpus[xp->vcpu].efd;
	*nfds = 1;
	pthread_cond_broadcast(&hv->cond);
	return 0;
}

static int handle_ev(struct sim_hv *hv, struct hv_evh *evh,
		     const struct sim_wire *req, struct sim_wire *rep, int *fds,
		     int *nfds)
{
	const uint32_t *a = req->a.u32;
	int rc;

	if (!evh)
		return -EBADF;
	switch (req->op) {
	case SIM_OP_EV_BIND:
		rc = ev_bind(hv, evh, a[0], a[1], &rep->a.u32[2], fds, nfds);
		hv_log(hv, "bind_interdomain(dom %u, remote %u) = %d, local %u",
		       a[0], a[1], rc, rc ? 0 : rep->a.u32[2]);
		return rc;
	case SIM_OP_EV_UNBIND:
		if (a[0] >= SIM_NR_PORTS)
			return -EINVAL;
		if (hv->local_ports[a[0]].evh != evh)
			return -ENOTCONN;
		unbind_local(hv, a[0]);
		hv_log(hv, "unbind(%u)", a[0]);
		return 0;
	default:
		return -ENOSYS;
	}
}

/* ------------------------------------------------------------ xenctrl */

/* The next domain from `first` on that getinfo reports (not gone), in
 * domid order; NULL if none. */
static struct sim_dom *next_dom(struct sim_hv *hv, uint32_t first)
{
	struct sim_dom *best = NULL;

	for (unsigned i = 0; i < hv->ndoms; i++) {
		struct sim_dom *d = hv->doms[i];

		if (d->dom_state == SIM_DOM_GONE || d->domid < first)
			continue;
		if (!best || d->domid < best->domid)
			best = d;
	}
	return best;
}

/* XEN_DOMCTL_getdomaininfo in a loop, as libxenctrl does: the domains
 * from `first` on, dom0 included, at most `max` (bounded by the tail). */
static int handle_dominfo(struct sim_hv *hv, const struct sim_wire *req,
			  struct sim_wire *rep, char *rtail)
{
	uint32_t first = req->a.u32[0], max = req->a.u32[1], n = 0;
	struct sim_dominfo di;
	struct sim_dom *d;

	if (max > SIM_TAIL_MAX / sizeof(di))
		max = SIM_TAIL_MAX / sizeof(di);
	if (first == 0 && n < max) {
		memset(&di, 0, sizeof(di));
		di.domid = 0;
		di.flags = SIM_DOMF_RUNNING;
		di.vcpus = 1;
		di.tot_pages = di.max_pages = 262144;
		memcpy(rtail + n++ * sizeof(di), &di, sizeof(di));
		first = 1;
	}
	for (; n < max && (d = next_dom(hv, first)); first = d->domid + 1) {
		memset(&di, 0, sizeof(di));
		di.domid = d->domid;
		di.vcpus = d->nvcpus;
		di.max_pages = d->ram_bytes >> SIM_PAGE_SHIFT;
		if (d->dom_state == SIM_DOM_DYING) {
			/* a zombie held by what the backend maps */
			int64_t m = __atomic_load_n(&d->sh->pages_mapped_now,
						    __ATOMIC_SEQ_CST);

			di.flags = SIM_DOMF_DYING | SIM_DOMF_PAUSED;
			di.tot_pages =
			    (uint64_t)(m > 0 ? m : 0) + d->resource_mapped;
		} else {
			di.flags =
			    d->paused ? SIM_DOMF_PAUSED : SIM_DOMF_BLOCKED;
			di.tot_pages = di.max_pages;
		}
		if (d->shutdown) {
			di.flags |= SIM_DOMF_SHUTDOWN;
			di.shutdown_reason = d->shutdown_reason;
		}
		memcpy(rtail + n++ * sizeof(di), &di, sizeof(di));
	}
	rep->tail_len = n * (uint32_t)sizeof(di);
	return 0;
}

/* A handle's first use of a domain: its shared page (and RAM for a
 * foreignmemory handle). */
static int dom_attach(struct sim_hv *hv, uint32_t kind,
		      const struct sim_wire *req, struct sim_wire *rep,
		      int *fds, int *nfds)
{
	int rc;
	struct sim_dom *d = dom_check(hv, req->a.u32[0], &rc);

	if (!d)
		return rc;
	rep->a.u32[1] = d->slot;
	rep->a.u32[2] = d->nvcpus;
	rep->a.u64[0] = d->ram_bytes;
	fds[0] = d->shared_fd;
	*nfds = 1;
	if (kind == SIM_KIND_FM) {
		fds[1] = d->ram_fd;
		*nfds = 2;
	}
	return 0;
}

int hv_handle(struct sim_hv *hv, struct hv_conn *c, uint32_t kind,
	      const struct sim_wire *req, const char *tail,
	      struct sim_wire *rep, char *rtail, int *fds, int *nfds)
{
	(void)tail;
	*nfds = 0;
	switch (kind) {
	case SIM_KIND_XC:
		if (req->op == SIM_OP_DOMINFO)
			return handle_dominfo(hv, req, rep, rtail);
		break;
	case SIM_KIND_DM:
		if (req->op >= SIM_OP_DM_CREATE &&
		    req->op <= SIM_OP_DM_NR_VCPUS)
			return handle_dm(hv, hv_conn_proc(c), req, rep);
		if (req->op == SIM_OP_DOM_ATTACH)
			return dom_attach(hv, kind, req, rep, fds, nfds);
		break;
	case SIM_KIND_FM:
		if (req->op >= SIM_OP_FM_MAP_RESOURCE &&
		    req->op <= SIM_OP_FM_UNMAPPED)
			return handle_fm(hv, hv_conn_proc(c), req, rep, fds,
					 nfds);
		if (req->op == SIM_OP_DOM_ATTACH)
			return dom_attach(hv, kind, req, rep, fds, nfds);
		break;
	case SIM_KIND_EV:
		if (req->op == SIM_OP_EV_BIND || req->op == SIM_OP_EV_UNBIND)
			return handle_ev(hv, hv_conn_evh(c), req, rep, fds,
					 nfds);
		break;
	case SIM_KIND_XS:
		if (req->op == SIM_OP_XS_INTRODUCED) {
			uint32_t id = req->a.u32[0];
			struct sim_dom *d = hv_find_dom(hv, id);

			rep->a.u32[1] =
			    id == 0 || (d && d->dom_state == SIM_DOM_ALIVE);
			return 0;
		}
		break;
	}
	return -ENOSYS;
}
