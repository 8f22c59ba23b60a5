/* SPDX-License-Identifier: GPL-2.0-only */
/* Internals of the simulated hypervisor, shared by hv.c (domains, vCPUs,
 * ioreq servers, event channels, IRQs, daemon), hv_ops.c (the hypercalls),
 * hv_server.c (the socket server, client processes) and hv_xs.c (the
 * xenstore). Everything below hv->lock unless said otherwise. */
#ifndef SIM_HV_INTERNAL_H
#define SIM_HV_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sim_hv.h"
#include "sim_proto.h"

struct hv_conn;
struct hv_xs;
struct hv_xs_conn;

struct hv_range {
	uint64_t start, end; /* inclusive */
};

struct hv_proc;

struct hv_server {
	bool used, enabled;
	/* Xen allocates the ioreq page at the first map_resource of it, and
	 * writes each vp_eport at enable only if it exists then. */
	bool page_alloc;
	unsigned gen; /* bumped on create and destroy */
	int memfd;
	struct sim_ioreq *page;
	unsigned nr_mmio, nr_pio;
	struct hv_range mmio[SIM_MAX_RANGES], pio[SIM_MAX_RANGES];
	uint32_t *xen_port;    /* per vCPU */
	struct hv_proc *owner; /* the process that created it */
};

/* A guest-side ("Xen") event channel: one per server and vCPU. */
struct hv_xen_port {
	bool used;
	int server;
	unsigned vcpu;
	int local; /* bound dom0 port, or -1 while unbound */
};

/* One xenevtchn handle of the daemon. */
struct hv_evh {
	uint32_t *words; /* SIM_NR_PORTS, shared with the library */
	int memfd, efd;
};

/* A dom0 port: owned by a handle; xen_port -1 once the remote end closed. */
struct hv_local_port {
	struct hv_evh *evh;
	struct sim_dom *dom;
	int xen_port;
};

struct hv_vcpu {
	int efd; /* woken by any notification on the vCPU's channels */
	bool outstanding;
	int server;
	unsigned gen;
	uint8_t prev;
	/* Its server was destroyed while it waited: with the answer already
	 * posted (it runs on with that), or without (it never runs again). */
	bool orphan_answered, orphan_hung;
	uint64_t orphan_data;
};

/* A process using the libraries (known by its first connection). */
struct hv_proc {
	struct hv_proc *next;
	pid_t pid;
	int pidfd; /* -1 once dead (or if it could not be opened) */
	bool dead;
	int memfd; /* its struct sim_proc_shared */
	struct sim_proc_shared *page;
	uint64_t res[SIM_MAX_DOMS]; /* ioreq pages it maps, per slot */
};

struct sim_dom {
	struct sim_hv *hv;
	uint32_t domid;
	unsigned slot; /* index in hv->doms, creation order */
	unsigned nvcpus;
	uint64_t ram_bytes;
	int ram_fd, shared_fd;
	uint8_t *ram;
	bool ram_secret;       /* memfd_secret, not a plain memfd */
	struct sim_shared *sh; /* sim_shared_bytes(ram_frames(d)) long */
	uint32_t dom_state;    /* SIM_DOM_* */
	bool paused, shutdown;
	unsigned shutdown_reason;
	bool emulator_died; /* a server's creator died */
	struct hv_server servers[SIM_MAX_SERVERS];
	struct hv_xen_port *xen_ports; /* SIM_NR_PORTS */
	struct hv_vcpu *vcpus;
	uint64_t resource_mapped; /* ioreq pages the daemon holds */
	struct sim_ioreq_rec trace[SIM_TRACE_MAX];
	unsigned ntrace;
	struct sim_hv_stats stats; /* the parts not in sh */
};

static inline uint64_t ram_frames(const struct sim_dom *d)
{
	return d->ram_bytes >> SIM_PAGE_SHIFT;
}

struct hv_spawn_req;

struct sim_hv {
	struct sim_hv_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* broadcast on any state change */

	/* socket server */
	char sock_path[108];
	char sock_dir[64];
	int listen_fd, stop_efd, wake_efd;
	pthread_t listener;
	bool listener_started;
	struct hv_conn *conns;
	struct hv_proc *procs;

	/* the domains */
	struct sim_dom *doms[SIM_MAX_DOMS];
	unsigned ndoms;
	uint32_t max_domid;
	struct sim_dom *def;
	struct hv_local_port local_ports[SIM_NR_PORTS];
	bool ram_warned; /* the plain-memfd fallback was reported */

	/* the daemon */
	pid_t pid;
	int pidfd, dead_efd; /* dead_efd is readable while it is dead */
	bool spawned, reaped;
	int wstatus;
	struct hv_spawn_req *spawn;

	struct hv_xs *xs;
};

/* hv.c */
void hv_log(struct sim_hv *hv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Dispatch one request of a connection (lock held). rc 0 or -errno; fds
 * to send back in out_fds. */
int hv_handle(struct sim_hv *hv, struct hv_conn *c, uint32_t kind,
	      const struct sim_wire *req, const char *tail,
	      struct sim_wire *rep, char *rtail, int *out_fds, int *nfds);
/* A connection's hello: the fds the library needs (proc: the process
 * behind the connection). */
int hv_hello(struct sim_hv *hv, uint32_t kind, struct hv_proc *proc,
	     struct hv_evh **evh, int *out_fds, int *nfds);
/* A closed connection: release what Linux would release on close(). */
void hv_evh_release(struct sim_hv *hv, struct hv_evh *evh);
/* The spawned daemon exited (listener thread, lock held). */
void hv_daemon_exited(struct sim_hv *hv);
/* The domain with that domid, NULL if it never existed. */
struct sim_dom *hv_find_dom(struct sim_hv *hv, uint32_t domid);
/* Xen destroys server `id` (the daemon asked, or the domain died). */
void hv_destroy_server(struct sim_dom *d, unsigned id);
/* Raise the Xen-side channel `port` towards whoever bound it. */
void hv_raise(struct sim_dom *d, uint32_t port);
/* Domain gone check after unmaps (lock held). */
void hv_check_gone(struct sim_dom *d);
/* A client process died: what it mapped is released (lock held). */
void hv_proc_died(struct sim_hv *hv, struct hv_proc *p);

/* hv_server.c */
int hv_server_start(struct sim_hv *hv);
void hv_server_stop(struct sim_hv *hv);
struct hv_xs_conn *hv_conn_xs(struct hv_conn *c);
void hv_conn_set_xs(struct hv_conn *c, struct hv_xs_conn *x);
struct hv_evh *hv_conn_evh(struct hv_conn *c);
struct hv_proc *hv_conn_proc(struct hv_conn *c);
/* Ask the listener thread to fork the daemon (so that PDEATHSIG follows
 * the hypervisor's lifetime, not a caller thread's). */
pid_t hv_server_spawn(struct sim_hv *hv, char *const argv[], char *const envp[],
		      int stderr_fd);

/* hv_xs.c */
struct hv_xs *hv_xs_new(void);
void hv_xs_free(struct hv_xs *xs);
struct hv_xs_conn *hv_xs_conn_new(struct hv_xs *xs, int *efd);
void hv_xs_conn_free(struct hv_xs *xs, struct hv_xs_conn *x);
int hv_xs_handle(struct hv_xs *xs, struct hv_xs_conn *x,
		 const struct sim_wire *req, const char *tail,
		 struct sim_wire *rep, char *rtail);
int hv_xs_write(struct hv_xs *xs, const char *path, const void *val,
		size_t len);
char *hv_xs_read(struct hv_xs *xs, const char *path, size_t *len);
int hv_xs_rm(struct hv_xs *xs, const char *path);
/* The number of children of a node, or -errno. */
int hv_xs_children(struct hv_xs *xs, const char *path);
/* How many times a node was written (committed), or -errno. */
int64_t hv_xs_writes(struct hv_xs *xs, const char *path);
/* Fire a special watch (@releaseDomain, @introduceDomain). */
void hv_xs_fire_special(struct hv_xs *xs, const char *name);
/* Watch events queued and not yet fetched, over all connections. */
unsigned hv_xs_queued(struct hv_xs *xs);
/* xenstored dies just after writing path: each client keeps the watch
 * events queued so far, then has lost its connection; none connects
 * again. */
int hv_xs_die(struct hv_xs *xs, const char *path, const void *val, size_t len);
bool hv_xs_dead(const struct hv_xs *xs);

#endif
