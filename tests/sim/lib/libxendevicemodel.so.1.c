/* SPDX-License-Identifier: GPL-2.0-only */
/* Drop-in libxendevicemodel.so.1 for the simulator: the IOREQ server DMOPs
 * go to the simulated hypervisor over the socket; set_irq_level, called
 * per completion, runs on the domain's shared page without a round trip
 * (level and edge counters per SPI, a futex wake when the test waits on
 * it), attached when the handle first names the domain. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include <xendevicemodel.h>

#include "sim_client.h"

#define DOMID_UNRESTRICTED UINT32_MAX

struct xendevicemodel_handle {
	struct sim_conn conn;
	struct sim_domtab doms;
	uint32_t restrict_domid;
};

xendevicemodel_handle *xendevicemodel_open(struct xentoollog_logger *logger,
					   unsigned int open_flags)
{
	xendevicemodel_handle *h = calloc(1, sizeof(*h));
	int fds[SIM_MAX_FDS], nfds = 0, saved;

	(void)logger;
	(void)open_flags;
	if (!h)
		return NULL;
	h->restrict_domid = DOMID_UNRESTRICTED;
	if (sim_conn_open(&h->conn, SIM_KIND_DM, fds, &nfds))
		goto fail;
	while (nfds--)
		close(fds[nfds]);
	sim_domtab_init(&h->doms);
	return h;
fail:
	saved = errno;
	while (nfds-- > 0)
		close(fds[nfds]);
	sim_conn_close(&h->conn);
	free(h);
	errno = saved;
	return NULL;
}

int xendevicemodel_close(xendevicemodel_handle *dmod)
{
	if (!dmod)
		return 0;
	sim_domtab_fini(&dmod->doms);
	sim_conn_close(&dmod->conn);
	free(dmod);
	return 0;
}

/* privcmd's IOCTL_PRIVCMD_RESTRICT: once restricted, a handle cannot be
 * moved to another domain (EINVAL). */
int xendevicemodel_restrict(xendevicemodel_handle *dmod, domid_t domid)
{
	if (dmod->restrict_domid != DOMID_UNRESTRICTED &&
	    dmod->restrict_domid != domid) {
		errno = EINVAL;
		return -1;
	}
	dmod->restrict_domid = domid;
	return 0;
}

/* privcmd refuses DMOPs for another domain once restricted. */
static int dmop(xendevicemodel_handle *dmod, uint32_t op, domid_t domid,
		struct sim_args *a)
{
	int rc;

	if (dmod->restrict_domid != DOMID_UNRESTRICTED &&
	    dmod->restrict_domid != domid)
		return sim_fail(-EPERM);
	a->u32[0] = domid;
	rc = sim_call_simple(&dmod->conn, op, a);
	return rc ? sim_fail(rc) : 0;
}

int xendevicemodel_create_ioreq_server(xendevicemodel_handle *dmod,
				       domid_t domid, int handle_bufioreq,
				       ioservid_t *id)
{
	struct sim_args a = {.u32 = {0, (uint32_t)handle_bufioreq}};
	int rc = dmop(dmod, SIM_OP_DM_CREATE, domid, &a);

	if (!rc)
		*id = (ioservid_t)a.u32[2];
	return rc;
}

int xendevicemodel_get_ioreq_server_info(xendevicemodel_handle *dmod,
					 domid_t domid, ioservid_t id,
					 xen_pfn_t *ioreq_gfn,
					 xen_pfn_t *bufioreq_gfn,
					 evtchn_port_t *bufioreq_port)
{
	struct sim_args a = {.u32 = {0, id, ioreq_gfn || bufioreq_gfn}};
	int rc = dmop(dmod, SIM_OP_DM_INFO, domid, &a);

	if (!rc && bufioreq_port)
		*bufioreq_port = a.u32[3];
	return rc;
}

static int io_range(xendevicemodel_handle *dmod, uint32_t op, domid_t domid,
		    ioservid_t id, int is_mmio, uint64_t start, uint64_t end)
{
	struct sim_args a = {.u32 = {0, id, is_mmio ? 1 : 0},
			     .u64 = {start, end}};

	return dmop(dmod, op, domid, &a);
}

int xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle *dmod,
						domid_t domid, ioservid_t id,
						int is_mmio, uint64_t start,
						uint64_t end)
{
	return io_range(dmod, SIM_OP_DM_MAP_RANGE, domid, id, is_mmio, start,
			end);
}

int xendevicemodel_unmap_io_range_from_ioreq_server(xendevicemodel_handle *dmod,
						    domid_t domid,
						    ioservid_t id, int is_mmio,
						    uint64_t start,
						    uint64_t end)
{
	return io_range(dmod, SIM_OP_DM_UNMAP_RANGE, domid, id, is_mmio, start,
			end);
}

int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *dmod,
					  domid_t domid, ioservid_t id,
					  int enabled)
{
	struct sim_args a = {.u32 = {0, id, enabled ? 1 : 0}};

	return dmop(dmod, SIM_OP_DM_SET_STATE, domid, &a);
}

int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *dmod,
					domid_t domid, ioservid_t id)
{
	struct sim_args a = {.u32 = {0, id}};

	return dmop(dmod, SIM_OP_DM_DESTROY, domid, &a);
}

int xendevicemodel_nr_vcpus(xendevicemodel_handle *dmod, domid_t domid,
			    unsigned int *vcpus)
{
	struct sim_args a = {.u32 = {0}};
	int rc = dmop(dmod, SIM_OP_DM_NR_VCPUS, domid, &a);

	if (!rc)
		*vcpus = a.u32[2];
	return rc;
}

/* The domain as its shared page shows it: 0 alive, 1 dying, -errno. */
static int dom_state(xendevicemodel_handle *dmod, domid_t domid,
		     struct sim_shared **sh)
{
	struct sim_domref *d;
	uint32_t st;

	if (dmod->restrict_domid != DOMID_UNRESTRICTED &&
	    dmod->restrict_domid != domid)
		return -EPERM;
	d = sim_domtab_get(&dmod->doms, &dmod->conn, domid, false);
	if (!d)
		return -errno;
	st = __atomic_load_n(&d->sh->dom_state, __ATOMIC_SEQ_CST);
	if (st == SIM_DOM_GONE)
		return -ESRCH;
	*sh = d->sh;
	return st == SIM_DOM_DYING;
}

/* XEN_DMOP_set_irq_level (Arm, xen/arch/arm/dm.c): SPIs only, level 0/1;
 * a dying domain accepts it silently. The old vGIC's vgic_inject_irq()
 * returns early on level 0 and injects on every 1, whatever the previous
 * level: so does this (the level is kept for inspection only). */
int xendevicemodel_set_irq_level(xendevicemodel_handle *dmod, domid_t domid,
				 unsigned int irq, unsigned int level)
{
	struct sim_shared *sh = NULL;
	unsigned i = irq - SIM_SPI_FIRST;
	int st = dom_state(dmod, domid, &sh);

	if (st < 0)
		return sim_fail(st);
	if (irq < SIM_SPI_FIRST || irq >= SIM_SPI_FIRST + SIM_SPI_COUNT ||
	    level > 1)
		return sim_fail(-EINVAL);
	sim_trace(&dmod->conn, "set_irq_level(%u, %u)%s", irq, level,
		  st ? " (dying)" : "");
	if (st)
		return 0;
	__atomic_store_n(&sh->irq_level[i], level, __ATOMIC_SEQ_CST);
	if (level) {
		__atomic_add_fetch(&sh->irq_edges[i], 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&sh->irq_seq[i], 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&sh->irq_waiters[i], __ATOMIC_SEQ_CST))
			syscall(SYS_futex, &sh->irq_seq[i], FUTEX_WAKE, INT_MAX,
				NULL, NULL, 0);
	}
	return 0;
}

/* x86 only: not in Arm's DMOP table. */
int xendevicemodel_set_isa_irq_level(xendevicemodel_handle *dmod, domid_t domid,
				     uint8_t irq, unsigned int level)
{
	struct sim_shared *sh;
	int st = dom_state(dmod, domid, &sh);

	(void)irq;
	(void)level;
	return sim_fail(st < 0 ? st : -EOPNOTSUPP);
}
