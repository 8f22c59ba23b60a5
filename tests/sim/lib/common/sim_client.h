/* SPDX-License-Identifier: GPL-2.0-only */
/* Client side of the simulator protocol (sim_proto.h), linked into every
 * drop-in Xen library: one connection per library handle. */
#ifndef SIM_CLIENT_H
#define SIM_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_proto.h"

struct sim_conn {
	int fd;
	pthread_mutex_t lock; /* one request in flight per connection */
	struct sim_hello hello;
	char *buf; /* reply buffer, SIM_MSG_MAX */
};

struct sim_reply {
	int rc;
	struct sim_args a;
	char *tail; /* malloc'd copy, NUL-terminated, or NULL */
	size_t tail_len;
	int fds[SIM_MAX_FDS]; /* take one by setting it to -1 */
	int nfds;
};

/* Connect to $XEN_SIM_SOCKET as a handle of `kind`; the fds that come with
 * the hello are returned in fds[] (SIM_MAX_FDS), their count in *nfds.
 * 0, or -1 with errno (ENOENT when the variable is unset). */
int sim_conn_open(struct sim_conn *c, uint32_t kind, int *fds, int *nfds);
void sim_conn_close(struct sim_conn *c);

/* One request and its reply: returns the reply's rc (0 or -errno) or a
 * transport error (-errno). Release rep with sim_reply_free(). */
int sim_call(struct sim_conn *c, uint32_t op, const struct sim_args *a,
	     const void *tail, size_t tail_len, struct sim_reply *rep);
/* Same, when only rc and the scalar results matter. */
int sim_call_simple(struct sim_conn *c, uint32_t op, struct sim_args *a);
void sim_reply_free(struct sim_reply *rep);

/* errno = -rc, return -1: the libraries' error convention. */
int sim_fail(int rc);
/* The same, for functions returning a pointer. */
void *sim_fail_null(int rc);

/* Map the shared page (struct sim_shared) and the p2m after it for a
 * domain of ram_frames frames from its fd; NULL on error. */
struct sim_shared *sim_map_shared(int fd, uint64_t ram_frames);
void sim_unmap_shared(struct sim_shared *sh, uint64_t ram_frames);

/* A domain a handle has named: its shared page, and for foreignmemory its
 * RAM (ram_fd, else -1). Filled once, then read without a lock. */
struct sim_domref {
	uint32_t domid, slot, vcpus;
	uint64_t ram_frames;
	struct sim_shared *sh;
	int ram_fd;
};

/* The domains a handle has attached to, in attach order. */
struct sim_domtab {
	pthread_mutex_t lock; /* attach only */
	unsigned n;	      /* published with release semantics */
	struct sim_domref dom[SIM_MAX_DOMS];
};

void sim_domtab_init(struct sim_domtab *t);
/* Unmap and close everything attached. */
void sim_domtab_fini(struct sim_domtab *t);
/* The domain's entry, attaching over c on first use (want_ram: take the
 * RAM fd too). NULL with errno (ESRCH: no such domain). */
struct sim_domref *sim_domtab_get(struct sim_domtab *t, struct sim_conn *c,
				  uint32_t domid, bool want_ram);

/* Log a call to stderr when the hypervisor runs verbose. */
void sim_trace(const struct sim_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
