/* SPDX-License-Identifier: GPL-2.0-only */
/* Drop-in libxenforeignmemory.so.1 for the simulator.
 *
 * A domain's guest RAM (both banks, sim_hv.h) arrives as one memfd the
 * first time a handle of the process names the domain (kept for the
 * process's life, since mappings outlive handles). A map reserves one PROT_NONE
 * region for all the pages and maps each run of consecutive valid frames
 * MAP_SHARED into it, so a multi-frame map is contiguous as with privcmd, and a
 * frame that is not guest RAM (or any frame once the domain is dying) reports
 * err[i] = -EINVAL and stays PROT_NONE: touching it faults, as privcmd's SIGBUS
 * does; so does a frame the guest has ballooned out. Each frame mapped
 * holds a count in the domain's p2m (sim_proto.h), as Xen's mapping holds
 * a reference on the page. The counters the hypervisor reports (maps, pages,
 * refused, mapped now) are kept in the domain's shared page, and the pages
 * mapped also in the process's own page (so that the hypervisor can release
 * them when the process dies); a process-wide list of regions makes unmap
 * account exactly what it drops. The ioreq page comes from map_resource (frame
 * 1 of resource type 0).
 *
 * XVB_SIM_DOM0_MAP_PAGES=N in the process's environment bounds the guest
 * pages it may hold mapped at once: a map that would pass it fails whole
 * with ENOMEM, as privcmd does on an Arm dom0 when it cannot find the
 * empty pages each foreign frame needs (xen_alloc_unpopulated_pages). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <xenforeignmemory.h>

#include "sim_client.h"

#define DOMID_UNRESTRICTED UINT32_MAX

struct xenforeignmemory_handle {
	struct sim_conn conn;
	uint32_t restrict_domid;
};

struct xenforeignmemory_resource_handle {
	void *addr;
	unsigned long nr_frames;
	uint32_t domid;
};

/* A foreign mapping: which of its pages hold guest RAM, of which domain,
 * and which RAM frame each holds (for the p2m's reference counts). */
struct region {
	struct region *next;
	uintptr_t start;
	size_t pages, valid;
	struct sim_domref *dom;
	uint8_t *bits;	  /* one bit per page, set = valid and mapped */
	uint32_t frame[]; /* the RAM frame of each page; then the bits */
};

static bool page_held(const struct region *r, size_t i)
{
	return r->bits[i / 8] & (1U << (i % 8));
}

static pthread_mutex_t regions_lock = PTHREAD_MUTEX_INITIALIZER;
static struct region *regions;

/* Process-wide, like the mappings they account for. */
static pthread_once_t doms_once = PTHREAD_ONCE_INIT;
static struct sim_domtab doms;
static pthread_mutex_t proc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_proc_shared *proc;

static void doms_init(void)
{
	sim_domtab_init(&doms);
}

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
					       unsigned open_flags)
{
	xenforeignmemory_handle *h = calloc(1, sizeof(*h));
	int fds[SIM_MAX_FDS], nfds = 0, saved;

	(void)logger;
	(void)open_flags;
	if (!h)
		return NULL;
	h->restrict_domid = DOMID_UNRESTRICTED;
	pthread_once(&doms_once, doms_init);
	if (sim_conn_open(&h->conn, SIM_KIND_FM, fds, &nfds))
		goto fail;
	if (nfds < 1) {
		errno = EPROTO;
		goto fail;
	}
	/* The same page for every handle of this process. */
	pthread_mutex_lock(&proc_lock);
	if (!proc) {
		void *p = mmap(NULL, SIM_PROC_SHARED_SIZE,
			       PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);

		if (p != MAP_FAILED)
			proc = p;
	}
	pthread_mutex_unlock(&proc_lock);
	if (!proc)
		goto fail;
	while (nfds--)
		close(fds[nfds]);
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

/* Mappings outlive the handle, as privcmd VMAs outlive the fd. */
int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
	if (!fmem)
		return 0;
	sim_conn_close(&fmem->conn);
	free(fmem);
	return 0;
}

/* privcmd's IOCTL_PRIVCMD_RESTRICT: once restricted, a handle cannot be
 * moved to another domain (EINVAL). */
int xenforeignmemory_restrict(xenforeignmemory_handle *fmem, domid_t domid)
{
	if (fmem->restrict_domid != DOMID_UNRESTRICTED &&
	    fmem->restrict_domid != domid) {
		errno = EINVAL;
		return -1;
	}
	fmem->restrict_domid = domid;
	return 0;
}

static void count(uint64_t *field, uint64_t n)
{
	__atomic_add_fetch(field, n, __ATOMIC_SEQ_CST);
}

/* A mapping takes a reference on the frame, as Xen's does on the page. */
static void frame_ref(const struct sim_domref *d, uint32_t frame, int n)
{
	__atomic_add_fetch(&sim_p2m_refs(d->sh, d->ram_frames)[frame],
			   (uint32_t)n, __ATOMIC_SEQ_CST);
}

/* Take a reference on frame `gfn` if it is guest RAM the domain still has
 * (not ballooned out): true, with its frame in the RAM memfd in *frame. The
 * reference comes before the look at the p2m, as in Xen's one step: a
 * balloon-out that sets the bit after the look counts the reference (both
 * sequentially consistent). */
static bool frame_take(const struct sim_domref *d, uint32_t st, xen_pfn_t gfn,
		       uint32_t *frame)
{
	uint64_t f;

	if (st != SIM_DOM_ALIVE ||
	    !sim_ram_frame(d->ram_frames << SIM_PAGE_SHIFT, gfn, &f))
		return false;
	*frame = (uint32_t)f;
	frame_ref(d, *frame, 1);
	if (!sim_p2m_is_out(d->sh, *frame))
		return true;
	frame_ref(d, *frame, -1);
	return false;
}

/* Drop the references of the pages [i, e) of r that hold one. */
static size_t region_unref(struct region *r, size_t i, size_t e)
{
	size_t dropped = 0;

	for (; i < e; i++)
		if (page_held(r, i)) {
			r->bits[i / 8] &= (uint8_t) ~(1U << (i % 8));
			frame_ref(r->dom, r->frame[i], -1);
			dropped++;
		}
	return dropped;
}

/* Pages of domain d mapped (n > 0) or unmapped (n < 0) by this process. */
/* Guest pages this process holds mapped, against XVB_SIM_DOM0_MAP_PAGES. */
static int64_t dom0_pages;

static void account(struct sim_domref *d, int64_t n)
{
	__atomic_add_fetch(&dom0_pages, n, __ATOMIC_SEQ_CST);
	/* The process's count first: a death in between releases no more
	 * than the domain's count holds. */
	if (n > 0)
		__atomic_add_fetch(&proc->pages[d->slot], n, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&d->sh->pages_mapped_now, n, __ATOMIC_SEQ_CST);
	if (n < 0)
		__atomic_add_fetch(&proc->pages[d->slot], n, __ATOMIC_SEQ_CST);
}

/* Whether mapping `pages` more would pass XVB_SIM_DOM0_MAP_PAGES. */
static bool over_dom0_budget(size_t pages)
{
	const char *v = getenv("XVB_SIM_DOM0_MAP_PAGES");
	long long budget = v ? atoll(v) : 0;

	return budget > 0 &&
	       __atomic_load_n(&dom0_pages, __ATOMIC_SEQ_CST) + (int64_t)pages >
		   budget;
}

/* Forget the pages of [addr, addr+len) in the region list and account
 * them as unmapped. */
static void account_unmap(xenforeignmemory_handle *fmem, uintptr_t addr,
			  size_t len)
{
	struct sim_domref *gone[SIM_MAX_DOMS];
	unsigned ngone = 0;
	struct region **pp, *r;

	pthread_mutex_lock(&regions_lock);
	for (pp = &regions; (r = *pp);) {
		uintptr_t end = r->start + (r->pages << SIM_PAGE_SHIFT);
		uintptr_t lo = addr > r->start ? addr : r->start;
		uintptr_t hi = addr + len < end ? addr + len : end;

		if (lo < hi) {
			size_t i = (lo - r->start) >> SIM_PAGE_SHIFT;
			size_t e = (hi - r->start + SIM_PAGE_SIZE - 1) >>
				   SIM_PAGE_SHIFT;

			size_t dropped = region_unref(r, i, e);

			r->valid -= dropped;
			if (dropped) {
				unsigned k;

				account(r->dom, -(int64_t)dropped);
				for (k = 0; k < ngone && gone[k] != r->dom; k++)
					;
				if (k == ngone)
					gone[ngone++] = r->dom;
			}
		}
		if (!r->valid) {
			*pp = r->next;
			free(r);
		} else {
			pp = &r->next;
		}
	}
	pthread_mutex_unlock(&regions_lock);
	/* A dying domain disappears with its last mapping: tell Xen. */
	for (unsigned k = 0; k < ngone; k++)
		if (__atomic_load_n(&gone[k]->sh->dom_state,
				    __ATOMIC_SEQ_CST) == SIM_DOM_DYING) {
			struct sim_args a = {.u32 = {gone[k]->domid}};

			sim_call_simple(&fmem->conn, SIM_OP_FM_UNMAPPED, &a);
		}
}

void *xenforeignmemory_map2(xenforeignmemory_handle *fmem, uint32_t dom,
			    void *addr, int prot, int flags, size_t pages,
			    const xen_pfn_t arr[], int err[])
{
	struct sim_domref *d;
	struct sim_shared *sh;
	size_t i, j, bad = 0, len;
	struct region *r = NULL;
	uint32_t st;
	uint8_t *base;

	if (fmem->restrict_domid != DOMID_UNRESTRICTED &&
	    fmem->restrict_domid != dom)
		return sim_fail_null(-EPERM);
	d = sim_domtab_get(&doms, &fmem->conn, dom, true);
	if (!d)
		return NULL;
	sh = d->sh;
	st = __atomic_load_n(&sh->dom_state, __ATOMIC_SEQ_CST);
	if (st == SIM_DOM_GONE)
		return sim_fail_null(-ESRCH);
	if (!pages || pages > (SIZE_MAX >> SIM_PAGE_SHIFT))
		return sim_fail_null(-EINVAL);
	if (over_dom0_budget(pages)) {
		sim_trace(&fmem->conn, "map(%zu pages) = NULL, dom0 budget",
			  pages);
		return sim_fail_null(-ENOMEM);
	}
	len = pages << SIM_PAGE_SHIFT;

	r = calloc(1, sizeof(*r) + pages * sizeof(*r->frame) + (pages + 7) / 8);
	if (!r)
		return sim_fail_null(-ENOMEM);
	r->dom = d;
	r->bits = (uint8_t *)&r->frame[pages];
	/* Each frame is looked at once, here (a dying domain's p2m is gone:
	 * every frame fails); what follows maps what this pass took. */
	for (i = 0; i < pages; i++) {
		if (frame_take(d, st, arr[i], &r->frame[i])) {
			r->bits[i / 8] |= (uint8_t)(1U << (i % 8));
		} else {
			bad++;
		}
	}
	count(&sh->foreign_maps, 1);
	count(&sh->foreign_pages_refused, bad);
	if (bad && !err) {
		region_unref(r, 0, pages);
		free(r);
		sim_trace(&fmem->conn, "map(%zu pages) = NULL, %zu bad", pages,
			  bad);
		return sim_fail_null(-EINVAL);
	}
	if (addr && (flags & MAP_FIXED))
		account_unmap(fmem, (uintptr_t)addr, len);
	base = mmap(addr, len, PROT_NONE,
		    (flags & ~(MAP_SHARED | MAP_PRIVATE)) | MAP_PRIVATE |
			MAP_ANONYMOUS | MAP_NORESERVE,
		    -1, 0);
	if (base == MAP_FAILED) {
		region_unref(r, 0, pages);
		free(r);
		return NULL;
	}
	for (i = 0; i < pages; i = j) {
		void *p;

		j = i + 1;
		if (!page_held(r, i)) {
			if (err)
				err[i] = -EINVAL;
			continue;
		}
		/* Consecutive in the memfd too: a bank never ends inside
		 * a run, the hole after it is not RAM. */
		while (j < pages && page_held(r, j) && arr[j] == arr[j - 1] + 1)
			j++;
		p = mmap(base + (i << SIM_PAGE_SHIFT),
			 (j - i) << SIM_PAGE_SHIFT, prot,
			 MAP_SHARED | MAP_FIXED, d->ram_fd,
			 (off_t)((uint64_t)r->frame[i] << SIM_PAGE_SHIFT));
		if (p == MAP_FAILED) {
			int e = errno;

			/* out of VMAs: the frames fail, the rest goes on */
			region_unref(r, i, j);
			if (!err) {
				munmap(base, len);
				region_unref(r, 0, pages);
				free(r);
				return sim_fail_null(-e);
			}
			for (; i < j; i++)
				err[i] = -e;
			continue;
		}
		for (; i < j; i++) {
			if (err)
				err[i] = 0;
			r->valid++;
		}
	}
	r->start = (uintptr_t)base;
	r->pages = pages;
	count(&sh->foreign_pages, r->valid);
	if (r->valid) {
		account(d, (int64_t)r->valid);
		pthread_mutex_lock(&regions_lock);
		r->next = regions;
		regions = r;
		pthread_mutex_unlock(&regions_lock);
	} else {
		free(r);
	}
	sim_trace(&fmem->conn, "map(%zu pages from gfn 0x%llx) = %p, %zu bad",
		  pages, (unsigned long long)arr[0], (void *)base, bad);
	return base;
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom,
			   int prot, size_t pages, const xen_pfn_t arr[],
			   int err[])
{
	return xenforeignmemory_map2(fmem, dom, NULL, prot, 0, pages, arr, err);
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr,
			   size_t pages)
{
	size_t len = pages << SIM_PAGE_SHIFT;

	if (munmap(addr, len))
		return -1;
	account_unmap(fmem, (uintptr_t)addr, len);
	sim_trace(&fmem->conn, "unmap(%p, %zu pages)", addr, pages);
	return 0;
}

xenforeignmemory_resource_handle *
xenforeignmemory_map_resource(xenforeignmemory_handle *fmem, domid_t domid,
			      unsigned int type, unsigned int id,
			      unsigned long frame, unsigned long nr_frames,
			      void **paddr, int prot, int flags)
{
	struct sim_args a = {.u32 = {domid, type, id},
			     .u64 = {frame, nr_frames}};
	xenforeignmemory_resource_handle *fres;
	struct sim_reply rep;
	void *p;
	int rc;

	if (fmem->restrict_domid != DOMID_UNRESTRICTED &&
	    fmem->restrict_domid != domid)
		return sim_fail_null(-EPERM);
	fres = calloc(1, sizeof(*fres));
	if (!fres)
		return NULL;
	rc = sim_call(&fmem->conn, SIM_OP_FM_MAP_RESOURCE, &a, NULL, 0, &rep);
	sim_trace(&fmem->conn,
		  "map_resource(type %u, id %u, frame %lu, %lu) = %d", type, id,
		  frame, nr_frames, rc);
	if (!rc && rep.nfds != 1)
		rc = -EPROTO;
	if (rc) {
		sim_reply_free(&rep);
		free(fres);
		return sim_fail_null(rc);
	}
	p = mmap(*paddr, nr_frames << SIM_PAGE_SHIFT, prot, flags | MAP_SHARED,
		 rep.fds[0], 0);
	sim_reply_free(&rep);
	if (p == MAP_FAILED) {
		int e = errno;

		a.u32[0] = domid;
		a.u64[1] = nr_frames;
		sim_call_simple(&fmem->conn, SIM_OP_FM_UNMAP_RESOURCE, &a);
		free(fres);
		return sim_fail_null(-e);
	}
	fres->addr = p;
	fres->nr_frames = nr_frames;
	fres->domid = domid;
	*paddr = p;
	return fres;
}

int xenforeignmemory_unmap_resource(xenforeignmemory_handle *fmem,
				    xenforeignmemory_resource_handle *fres)
{
	struct sim_args a = {{0}};
	int rc = 0;

	if (!fres)
		return 0;
	if (fres->addr && munmap(fres->addr, fres->nr_frames << SIM_PAGE_SHIFT))
		rc = -1;
	a.u32[0] = fres->domid;
	a.u64[1] = fres->nr_frames;
	sim_call_simple(&fmem->conn, SIM_OP_FM_UNMAP_RESOURCE, &a);
	sim_trace(&fmem->conn, "unmap_resource(%p) = %d", fres->addr, rc);
	free(fres);
	return rc;
}

int xenforeignmemory_resource_size(xenforeignmemory_handle *fmem, domid_t domid,
				   unsigned int type, unsigned int id,
				   size_t *size)
{
	struct sim_args a = {.u32 = {domid, type, id}};
	int rc;

	if (fmem->restrict_domid != DOMID_UNRESTRICTED &&
	    fmem->restrict_domid != domid)
		return sim_fail(-EPERM);
	rc = sim_call_simple(&fmem->conn, SIM_OP_FM_RESOURCE_SIZE, &a);
	if (rc)
		return sim_fail(rc);
	*size = (size_t)a.u64[0];
	return 0;
}
