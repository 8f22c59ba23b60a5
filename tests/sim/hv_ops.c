/* SPDX-License-Identifier: GPL-2.0-only */
/* The simulated hypercalls: what the drop-in libraries ask over the socket,
 * answered with the error codes Xen 4.17 on Arm gives (xen-ioreq-facts.md
 * sections 1-5, e2e-testbed.md Part 2 item 5 for a dead domain):
 * - DMOPs name a server by id; an unknown id is ENOENT, another domain is
 *   ESRCH; a dying domain has no servers left, and create is EINVAL;
 * - buffered ioreqs are refused on Arm (EINVAL), at most 8 servers (ENOSPC);
 * - the ioreq page is frame 1 of resource type 0; frame 0 is ENOENT with
 *   buffering off, any other frame EINVAL;
 * - binding a channel of a dying domain is EINVAL; a new binding always
 *   gets one event (Xen makes up for notifications lost while unbound).
 * Every handler runs with hv->lock held. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "hv_internal.h"

static int dom_check(const struct sim_hv *hv, uint32_t domid)
{
	if (domid != hv->cfg.domid || hv->dom_state == SIM_DOM_GONE)
		return -ESRCH;
	return 0;
}

static struct hv_server *get_server(struct sim_hv *hv, uint32_t domid,
				    uint32_t id, int *rc)
{
	*rc = dom_check(hv, domid);
	if (*rc)
		return NULL;
	if (id >= SIM_MAX_SERVERS || !hv->servers[id].used) {
		*rc = -ENOENT;
		return NULL;
	}
	return &hv->servers[id];
}

int hv_hello(struct sim_hv *hv, uint32_t kind, struct hv_evh **evhp, int *fds,
	     int *nfds)
{
	struct hv_evh *evh;

	switch (kind) {
	case SIM_KIND_XC:
		*nfds = 0;
		return 0;
	case SIM_KIND_DM:
		fds[0] = hv->shared_fd;
		*nfds = 1;
		return 0;
	case SIM_KIND_FM:
		fds[0] = hv->shared_fd;
		fds[1] = hv->ram_fd;
		*nfds = 2;
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

	if (lp->xen_port >= 0)
		hv->xen_ports[lp->xen_port].local = -1;
	lp->evh = NULL;
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

static int dm_create(struct sim_hv *hv, uint32_t domid, uint32_t bufioreq,
		     uint32_t *idp)
{
	struct hv_server *s;
	unsigned id, v, port = SIM_FIRST_XEN_PORT;
	int rc = dom_check(hv, domid);

	if (rc)
		return rc;
	if (hv->dom_state != SIM_DOM_ALIVE)
		return -EINVAL;
	if (bufioreq) {
		/* ioreq_server_create(): no buffered ioreqs off x86 */
		hv->stats.bufioreq_refused = true;
		return -EINVAL;
	}
	for (id = 0; id < SIM_MAX_SERVERS; id++)
		if (!hv->servers[id].used)
			break;
	if (id == SIM_MAX_SERVERS)
		return -ENOSPC;
	s = &hv->servers[id];
	s->memfd = -1;
	s->xen_port = calloc(hv->cfg.vcpus, sizeof(*s->xen_port));
	if (!s->xen_port)
		return -ENOMEM;
	/* one unbound Xen channel per vCPU, remote end dom0 */
	for (v = 0; v < hv->cfg.vcpus; v++) {
		while (port < SIM_NR_PORTS && hv->xen_ports[port].used)
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
	for (v = 0; v < hv->cfg.vcpus; v++) {
		struct hv_xen_port *xp = &hv->xen_ports[s->xen_port[v]];

		xp->used = true;
		xp->server = (int)id;
		xp->vcpu = v;
		xp->local = -1;
	}
	s->used = true;
	s->enabled = false;
	s->gen++;
	s->nr_mmio = s->nr_pio = 0;
	hv->stats.servers_created++;
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

static int dm_map_range(struct sim_hv *hv, struct hv_server *s, bool mmio,
			uint64_t start, uint64_t end)
{
	struct hv_range *r = mmio ? s->mmio : s->pio;
	unsigned *nr = mmio ? &s->nr_mmio : &s->nr_pio, i;

	if (start > end)
		return -EINVAL;
	for (i = 0; i < *nr; i++)
		if (start <= r[i].end && r[i].start <= end)
			return -EEXIST;
	if (*nr == SIM_MAX_RANGES)
		return -ENOSPC;
	r[(*nr)++] = (struct hv_range){start, end};
	hv->stats.ranges_mapped++;
	pthread_cond_broadcast(&hv->cond);
	return 0;
}

/* rangeset_remove_range(): the whole [start, end] must be registered. */
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
			return -ENOSPC;
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

static int dm_set_state(struct sim_hv *hv, struct hv_server *s, bool on)
{
	unsigned v;

	if (on == s->enabled)
		return 0;
	s->enabled = on;
	/* ioreq_server_enable() -> ioreq_server_update_evtchn() */
	if (on)
		for (v = 0; v < hv->cfg.vcpus; v++)
			__atomic_store_n(&s->page[v].vp_eport, s->xen_port[v],
					 __ATOMIC_RELEASE);
	pthread_cond_broadcast(&hv->cond);
	return 0;
}

static const char *dm_name(uint32_t op)
{
	switch (op) {
	case SIM_OP_DM_INFO:
		return "get_ioreq_server_info";
	case SIM_OP_DM_MAP_RANGE:
		return "map_io_range_to_ioreq_server";
	case SIM_OP_DM_UNMAP_RANGE:
		return "unmap_io_range_from_ioreq_server";
	case SIM_OP_DM_SET_STATE:
		return "set_ioreq_server_state";
	case SIM_OP_DM_DESTROY:
		return "destroy_ioreq_server";
	default:
		return "dmop";
	}
}

static int handle_dm(struct sim_hv *hv, const struct sim_wire *req,
		     struct sim_wire *rep)
{
	const uint32_t *a = req->a.u32;
	struct hv_server *s = NULL;
	int rc = 0;

	switch (req->op) {
	case SIM_OP_DM_CREATE:
		rc = dm_create(hv, a[0], a[1], &rep->a.u32[2]);
		hv_log(hv,
		       "create_ioreq_server(dom %u, bufioreq %u) = %d, id %u",
		       a[0], a[1], rc, rc ? 0 : rep->a.u32[2]);
		return rc;
	case SIM_OP_DM_NR_VCPUS:
		rc = dom_check(hv, a[0]);
		rep->a.u32[2] = hv->cfg.vcpus;
		return rc;
	default:
		break;
	}
	s = get_server(hv, a[0], a[1], &rc);
	if (s) {
		switch (req->op) {
		case SIM_OP_DM_INFO:
			/* arch_ioreq_server_map_pages(): not on Arm */
			rc = a[2] ? -EOPNOTSUPP : 0;
			rep->a.u32[3] = 0; /* no bufioreq channel */
			break;
		case SIM_OP_DM_MAP_RANGE:
			rc = dm_map_range(hv, s, a[2], req->a.u64[0],
					  req->a.u64[1]);
			break;
		case SIM_OP_DM_UNMAP_RANGE:
			rc = dm_unmap_range(s, a[2], req->a.u64[0],
					    req->a.u64[1]);
			break;
		case SIM_OP_DM_SET_STATE:
			rc = dm_set_state(hv, s, a[2] != 0);
			break;
		case SIM_OP_DM_DESTROY:
			hv_destroy_server(hv, a[1]);
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

static int handle_fm(struct sim_hv *hv, const struct sim_wire *req,
		     struct sim_wire *rep, int *fds, int *nfds)
{
	const uint32_t *a = req->a.u32;
	struct hv_server *s;
	uint64_t frame = req->a.u64[0], nr = req->a.u64[1], f;
	int rc = 0;

	switch (req->op) {
	case SIM_OP_FM_MAP_RESOURCE:
		rc = dom_check(hv, a[0]);
		if (rc)
			break;
		if (a[1] != 0 /* XENMEM_resource_ioreq_server */) {
			rc = -EOPNOTSUPP;
			break;
		}
		s = get_server(hv, a[0], a[2], &rc);
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
		fds[0] = s->memfd;
		*nfds = 1;
		hv->resource_mapped += nr;
		break;
	case SIM_OP_FM_UNMAP_RESOURCE:
		hv->resource_mapped -=
		    nr < hv->resource_mapped ? nr : hv->resource_mapped;
		hv_check_gone(hv);
		break;
	case SIM_OP_FM_RESOURCE_SIZE:
		rc = dom_check(hv, a[0]);
		if (rc)
			break;
		if (a[1] != 0) {
			rc = -EINVAL;
			break;
		}
		/* ioreq_server_max_frames(): bufioreq + ioreq pages */
		rep->a.u64[0] = (1 + (hv->cfg.vcpus * sizeof(struct sim_ioreq) +
				      SIM_PAGE_SIZE - 1) /
					 SIM_PAGE_SIZE) *
				SIM_PAGE_SIZE;
		break;
	case SIM_OP_FM_UNMAPPED:
		hv_check_gone(hv);
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
	uint32_t p;

	if (domid != hv->cfg.domid || hv->dom_state == SIM_DOM_GONE)
		return -ESRCH;
	if (hv->dom_state != SIM_DOM_ALIVE)
		return -EINVAL;
	if (remote >= SIM_NR_PORTS)
		return -EINVAL;
	xp = &hv->xen_ports[remote];
	/* evtchn_bind_interdomain(): remote must be unbound, for dom0 */
	if (!xp->used || xp->local >= 0)
		return -EINVAL;
	for (p = SIM_FIRST_LOCAL_PORT; p < SIM_NR_PORTS; p++)
		if (!hv->local_ports[p].evh)
			break;
	if (p == SIM_NR_PORTS)
		return -ENOSPC;
	hv->local_ports[p].evh = evh;
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
	fds[0] = hv->vcpus[xp->vcpu].efd;
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

static int handle_dominfo(struct sim_hv *hv, const struct sim_wire *req,
			  struct sim_wire *rep, char *rtail)
{
	uint32_t first = req->a.u32[0], max = req->a.u32[1], n = 0;
	struct sim_dominfo d[2];

	memset(d, 0, sizeof(d));
	if (first == 0 && n < max) {
		d[n].domid = 0;
		d[n].flags = SIM_DOMF_RUNNING;
		d[n].vcpus = 1;
		d[n].tot_pages = d[n].max_pages = 262144;
		n++;
	}
	if (hv->dom_state != SIM_DOM_GONE && first <= hv->cfg.domid &&
	    n < max) {
		d[n].domid = hv->cfg.domid;
		d[n].vcpus = hv->cfg.vcpus;
		d[n].max_pages = hv->cfg.ram_bytes >> SIM_PAGE_SHIFT;
		if (hv->dom_state == SIM_DOM_DYING) {
			/* a zombie held by what the backend maps */
			int64_t m = __atomic_load_n(&hv->sh->pages_mapped_now,
						    __ATOMIC_SEQ_CST);

			d[n].flags = SIM_DOMF_DYING | SIM_DOMF_PAUSED;
			d[n].tot_pages =
			    (uint64_t)(m > 0 ? m : 0) + hv->resource_mapped;
		} else {
			d[n].flags = SIM_DOMF_BLOCKED;
			d[n].tot_pages = d[n].max_pages;
		}
		if (hv->shutdown) {
			d[n].flags |= SIM_DOMF_SHUTDOWN;
			d[n].shutdown_reason = hv->shutdown_reason;
		}
		n++;
	}
	memcpy(rtail, d, n * sizeof(d[0]));
	rep->tail_len = n * (uint32_t)sizeof(d[0]);
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
			return handle_dm(hv, req, rep);
		break;
	case SIM_KIND_FM:
		if (req->op >= SIM_OP_FM_MAP_RESOURCE &&
		    req->op <= SIM_OP_FM_UNMAPPED)
			return handle_fm(hv, req, rep, fds, nfds);
		break;
	case SIM_KIND_EV:
		if (req->op == SIM_OP_EV_BIND || req->op == SIM_OP_EV_UNBIND)
			return handle_ev(hv, hv_conn_evh(c), req, rep, fds,
					 nfds);
		break;
	case SIM_KIND_XS:
		if (req->op == SIM_OP_XS_INTRODUCED) {
			uint32_t d = req->a.u32[0];

			rep->a.u32[1] =
			    d == 0 || (d == hv->cfg.domid &&
				       hv->dom_state == SIM_DOM_ALIVE);
			return 0;
		}
		break;
	}
	return -ENOSYS;
}
