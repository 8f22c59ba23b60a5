/* SPDX-License-Identifier: GPL-2.0-only */
/* The wire protocol between the drop-in Xen libraries (tests/sim/lib) and
 * the simulated hypervisor (tests/sim/hv*.c), and the memory both share.
 *
 * One SOCK_SEQPACKET connection per library handle. Every message is a
 * struct sim_wire followed by `tail_len` bytes; file descriptors travel as
 * SCM_RIGHTS on the same message. The library sends a request and waits for
 * the one reply; the hypervisor never sends anything unsolicited (watch
 * events and event-channel notifications arrive through eventfds and shared
 * memory instead, so a handle's fd stays pollable like the real one). */
#ifndef SIM_PROTO_H
#define SIM_PROTO_H

#include <stdint.h>

#include "sim_hv.h"

#define SIM_PROTO_MAGIC	  0x5853494dU /* "MISX" */
#define SIM_PROTO_VERSION 1
#define SIM_MSG_MAX	  65536
#define SIM_MAX_FDS	  4

#define SIM_PAGE_SHIFT 12
#define SIM_PAGE_SIZE  4096UL

/* Limits of the simulated Xen 4.17/Arm. */
#define SIM_MAX_SERVERS	     8	  /* MAX_NR_IOREQ_SERVERS */
#define SIM_MAX_VCPUS	     128  /* one ioreq page: 4096 / 32 */
#define SIM_MAX_RANGES	     256  /* MAX_NR_IO_RANGES per server and type */
#define SIM_NR_PORTS	     4096 /* event channel ports, both sides */
#define SIM_FIRST_XEN_PORT   3	  /* guest ports 1, 2: xenstore, console */
#define SIM_FIRST_LOCAL_PORT 10	  /* dom0's first free port, arbitrary */
#define SIM_SPI_FIRST	     SIM_SPI_MIN
#define SIM_SPI_COUNT	     (SIM_SPI_MAX - SIM_SPI_MIN + 1)
#define SIM_XS_VALUE_MAX     4096 /* XENSTORE_PAYLOAD_MAX */
#define SIM_XS_PATH_MAX	     3072 /* XENSTORE_ABS_PATH_MAX */
#define SIM_MAX_DOMS	     64	  /* domains one hypervisor creates, ever */

/* Connection kinds, one per library. */
enum sim_kind {
	SIM_KIND_XC = 1, /* libxenctrl: no fds */
	SIM_KIND_DM,	 /* libxendevicemodel: shared page */
	SIM_KIND_FM,	 /* libxenforeignmemory: shared page, guest RAM */
	SIM_KIND_EV,	 /* libxenevtchn: port words, pending eventfd */
	SIM_KIND_XS,	 /* libxenstore: watch eventfd */
};

enum sim_op {
	SIM_OP_HELLO = 1, /* a.u32[0] = kind; reply: struct sim_hello */
	SIM_OP_DOMINFO,	  /* a.u32[0] first, a.u32[1] max; tail: dominfo[] */
	SIM_OP_DM_CREATE, /* a.u32[0] domid, a.u32[1] bufioreq; a.u32[2] id */
	SIM_OP_DM_INFO,	  /* domid, id, a.u32[2] want gfns */
	SIM_OP_DM_MAP_RANGE,	  /* domid, id, a.u32[2] is_mmio, a.u64[0..1] */
	SIM_OP_DM_UNMAP_RANGE,	  /* same */
	SIM_OP_DM_SET_STATE,	  /* domid, id, a.u32[2] enabled */
	SIM_OP_DM_DESTROY,	  /* domid, id */
	SIM_OP_DM_NR_VCPUS,	  /* domid; reply a.u32[2] */
	SIM_OP_FM_MAP_RESOURCE,	  /* domid, type, id, frame, nr; fd reply */
	SIM_OP_FM_UNMAP_RESOURCE, /* a.u64[0] frames */
	SIM_OP_FM_RESOURCE_SIZE,  /* domid, type, id; reply a.u64[0] */
	SIM_OP_FM_UNMAPPED,	  /* guest pages unmapped while dying */
	SIM_OP_EV_BIND,		  /* domid, remote; reply port + fd */
	SIM_OP_EV_UNBIND,	  /* port */
	SIM_OP_XS_READ,		  /* a.u32[0] txn; tail path */
	SIM_OP_XS_WRITE,	  /* txn; tail path NUL value */
	SIM_OP_XS_MKDIR,
	SIM_OP_XS_RM,
	SIM_OP_XS_DIRECTORY,  /* reply tail: names, NUL-terminated */
	SIM_OP_XS_WATCH,      /* tail path NUL token */
	SIM_OP_XS_UNWATCH,    /* tail path NUL token */
	SIM_OP_XS_NEXT_EVENT, /* reply tail path NUL token NUL, or -EAGAIN */
	SIM_OP_XS_TXN_START,  /* reply a.u32[0] */
	SIM_OP_XS_TXN_END,    /* a.u32[0] txn, a.u32[1] abort */
	SIM_OP_XS_SET_PERMS,  /* txn; tail path NUL + (u32 id, u32 perm)[] */
	SIM_OP_XS_INTRODUCED, /* a.u32[0] domid; reply a.u32[1] */
	SIM_OP_DOM_ATTACH,    /* a.u32[0] domid; reply: see below;
			       * fds: shared page (+ guest RAM for FM) */
	SIM_OP_MAX
};

struct sim_args {
	uint32_t u32[6];
	uint64_t u64[2];
};

struct sim_wire {
	uint32_t op;
	int32_t rc; /* replies: 0 or -errno */
	uint32_t tail_len;
	uint32_t pad;
	struct sim_args a;
};

#define SIM_TAIL_MAX (SIM_MSG_MAX - sizeof(struct sim_wire))

/* DOM_ATTACH reply: a.u32[1] the domain's slot (index into the proc
 * page), a.u32[2] its vCPUs, a.u64[0] its RAM bytes (both banks). */

/* HELLO reply, in the tail. domid, vcpus and ram_bytes describe the
 * default domain (0 if there is none); a handle reaches any domain by
 * attaching to it (DOM_ATTACH). */
struct sim_hello {
	uint32_t magic, version;
	uint32_t domid, vcpus;
	uint64_t ram_bytes; /* both banks (sim_hv.h) */
	uint32_t verbose, pad;
};

/* DOMINFO reply entry. */
#define SIM_DOMF_DYING	  (1U << 0)
#define SIM_DOMF_SHUTDOWN (1U << 1)
#define SIM_DOMF_PAUSED	  (1U << 2)
#define SIM_DOMF_RUNNING  (1U << 3)
#define SIM_DOMF_BLOCKED  (1U << 4)
struct sim_dominfo {
	uint32_t domid, flags, shutdown_reason, vcpus;
	uint64_t tot_pages, max_pages;
};

/* Domain life, in struct sim_shared.dom_state. */
enum { SIM_DOM_ALIVE = 0, SIM_DOM_DYING = 1, SIM_DOM_GONE = 2 };

/* A page per domain, shared by the hypervisor with every devicemodel and
 * foreignmemory handle attached to the domain: the paths taken per request
 * (interrupt injection, foreign maps) run on it without a socket round
 * trip. All fields are accessed with __atomic builtins from both
 * processes. */
struct sim_shared {
	uint32_t magic, dom_state;
	uint32_t domid, slot;
	uint64_t foreign_maps, foreign_pages, foreign_pages_refused;
	int64_t pages_mapped_now;
	uint32_t irq_level[SIM_SPI_COUNT];
	uint32_t irq_seq[SIM_SPI_COUNT];     /* futex word, bumped per edge */
	uint32_t irq_waiters[SIM_SPI_COUNT]; /* hv threads in FUTEX_WAIT */
	uint64_t irq_edges[SIM_SPI_COUNT];
};
#define SIM_SHARED_SIZE 4096
_Static_assert(sizeof(struct sim_shared) <= SIM_SHARED_SIZE,
	       "struct sim_shared fits its page");

/* The guest's p2m as ballooning changes it, after that page: one bit per
 * RAM frame, set while the guest has given the frame back to Xen (no
 * foreign mapping of it succeeds), then one count per RAM frame of the
 * foreign mappings that hold it, as Xen's page references do: a frame
 * given back while mapped stays charged to the guest until it is
 * unmapped, and the guest cannot take as much memory back
 * (docs/xen-notes.md 10). */
#define SIM_P2M_OUT_BYTES(frames) ((((frames) + 7) / 8 + 63) & ~(uint64_t)63)
static inline uint64_t sim_shared_bytes(uint64_t frames)
{
	return SIM_SHARED_SIZE + SIM_P2M_OUT_BYTES(frames) +
	       frames * sizeof(uint32_t);
}
static inline uint8_t *sim_p2m_out(struct sim_shared *sh)
{
	return (uint8_t *)sh + SIM_SHARED_SIZE;
}
/* frames: each process's own copy of the RAM size, never one from the
 * shared page, which every process that maps it can write. */
static inline uint32_t *sim_p2m_refs(struct sim_shared *sh, uint64_t frames)
{
	return (uint32_t *)((uint8_t *)sh + SIM_SHARED_SIZE +
			    SIM_P2M_OUT_BYTES(frames));
}
static inline bool sim_p2m_is_out(struct sim_shared *sh, uint64_t frame)
{
	return __atomic_load_n(&sim_p2m_out(sh)[frame / 8], __ATOMIC_SEQ_CST) &
	       (1U << (frame % 8));
}

/* A page per client process (handed to its foreignmemory handles): the
 * guest pages it maps, per domain slot. When the process dies, Linux tears
 * its mappings down; the hypervisor then takes these counts off the
 * domains' pages_mapped_now (and may let a dying domain go). */
struct sim_proc_shared {
	int64_t pages[SIM_MAX_DOMS];
};
#define SIM_PROC_SHARED_SIZE 4096

/* One event channel handle's port words (shared, SIM_NR_PORTS of them).
 * Delivery follows the Linux evtchn driver: an event on an unmasked port
 * masks it and queues it (QUEUED, one eventfd count); an event on a masked
 * port is remembered (PENDING) and queued at unmask. */
#define SIM_EVW_BOUND	  (1U << 0)
#define SIM_EVW_MASKED	  (1U << 1)
#define SIM_EVW_QUEUED	  (1U << 2)
#define SIM_EVW_PENDING	  (1U << 3)
#define SIM_EV_WORDS_SIZE (SIM_NR_PORTS * sizeof(uint32_t))

/* Raise an event on a port word: returns 1 when the caller must add one
 * count to the handle's eventfd. */
static inline int sim_evw_raise(uint32_t *w)
{
	uint32_t old = __atomic_load_n(w, __ATOMIC_ACQUIRE), nw;

	do {
		if (!(old & SIM_EVW_BOUND))
			return 0;
		if (old & SIM_EVW_MASKED)
			nw = old | SIM_EVW_PENDING;
		else
			nw = old | SIM_EVW_MASKED | SIM_EVW_QUEUED;
	} while (!__atomic_compare_exchange_n(w, &old, nw, 0, __ATOMIC_SEQ_CST,
					      __ATOMIC_ACQUIRE));
	return !(old & SIM_EVW_QUEUED) && (nw & SIM_EVW_QUEUED);
}

/* The hypercalls behind the ops, by the names Xen's tools give them
 * (logs, XVB_SIM_FAIL); NULL for the others. */
static inline const char *sim_op_name(uint32_t op)
{
	switch (op) {
	case SIM_OP_DOMINFO:
		return "getdomaininfo";
	case SIM_OP_DM_CREATE:
		return "create_ioreq_server";
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
	case SIM_OP_DM_NR_VCPUS:
		return "nr_vcpus";
	case SIM_OP_FM_MAP_RESOURCE:
		return "map_resource";
	case SIM_OP_EV_BIND:
		return "bind_interdomain";
	default:
		return NULL;
	}
}

/* Xen's struct ioreq (xen/hvm/ioreq.h), 32 bytes, byte 30 holds
 * state:4 data_is_ptr:1 dir:1 df:1. */
struct sim_ioreq {
	uint64_t addr;
	uint64_t data;
	uint32_t count;
	uint32_t size;
	uint32_t vp_eport;
	uint16_t pad0;
	uint8_t bits; /* state | flags */
	uint8_t type;
};
#define SIM_IOREQ_STATE_MASK  0x0f
#define SIM_IOREQ_DATA_IS_PTR 0x10
#define SIM_IOREQ_DIR_READ    0x20
#define SIM_IOREQ_DF	      0x40
enum {
	SIM_STATE_IOREQ_NONE = 0,
	SIM_STATE_IOREQ_READY = 1,
	SIM_STATE_IOREQ_INPROCESS = 2,
	SIM_STATE_IORESP_READY = 3,
};
enum {
	SIM_IOREQ_TYPE_PIO = 0,
	SIM_IOREQ_TYPE_COPY = 1,
	SIM_IOREQ_TYPE_TIMEOFFSET = 7,
	SIM_IOREQ_TYPE_INVALIDATE = 8,
};

#endif
