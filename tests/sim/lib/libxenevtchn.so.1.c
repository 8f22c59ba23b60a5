/* SPDX-License-Identifier: GPL-2.0-only */
/* Drop-in libxenevtchn.so.1 for the simulator.
 *
 * The handle's fd is a semaphore eventfd from the hypervisor, readable
 * while at least one port is queued. Per port, a word in a page shared with
 * the hypervisor says bound / masked / queued / pending (sim_proto.h):
 * pending() takes one count and one queued port (round robin), unmask()
 * re-queues an event that came in while masked, and notify() writes the
 * eventfd of the vCPU behind the port. Only bind and unbind cross the
 * socket. Like the Linux driver, a handle is not for concurrent use. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>

#include <xenevtchn.h>

#include "sim_client.h"

#define DOMID_UNRESTRICTED UINT32_MAX

struct xenevtchn_handle {
	struct sim_conn conn;
	uint32_t *words;
	int efd;
	int *notify_fd; /* per local port: the vCPU's eventfd, or -1 */
	uint32_t max_port, next_scan;
	unsigned owed; /* eventfd counts still to discard (see unbind) */
	uint32_t restrict_domid;
};

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
				 unsigned int flags)
{
	xenevtchn_handle *h = calloc(1, sizeof(*h));
	int fds[SIM_MAX_FDS], nfds = 0, saved;
	uint32_t p;

	(void)logger;
	if (!h)
		return NULL;
	h->efd = -1;
	h->restrict_domid = DOMID_UNRESTRICTED;
	h->notify_fd = malloc(SIM_NR_PORTS * sizeof(*h->notify_fd));
	if (!h->notify_fd)
		goto fail;
	for (p = 0; p < SIM_NR_PORTS; p++)
		h->notify_fd[p] = -1;
	if (sim_conn_open(&h->conn, SIM_KIND_EV, fds, &nfds))
		goto fail;
	if (nfds < 2) {
		errno = EPROTO;
		goto fail;
	}
	h->words = mmap(NULL, SIM_EV_WORDS_SIZE, PROT_READ | PROT_WRITE,
			MAP_SHARED, fds[0], 0);
	if (h->words == MAP_FAILED) {
		h->words = NULL;
		goto fail;
	}
	close(fds[0]);
	h->efd = fds[1];
	nfds = 0;
	if ((flags & XENEVTCHN_NO_CLOEXEC) && fcntl(h->efd, F_SETFD, 0) < 0)
		goto fail;
	return h;
fail:
	saved = errno;
	while (nfds-- > 0)
		close(fds[nfds]);
	if (h->efd >= 0)
		close(h->efd);
	sim_conn_close(&h->conn);
	free(h->notify_fd);
	free(h);
	errno = saved;
	return NULL;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
	uint32_t p;

	if (!xce)
		return 0;
	/* Closing the connection unbinds everything in the hypervisor. */
	sim_conn_close(&xce->conn);
	for (p = 0; p < SIM_NR_PORTS; p++)
		if (xce->notify_fd[p] >= 0)
			close(xce->notify_fd[p]);
	munmap(xce->words, SIM_EV_WORDS_SIZE);
	close(xce->efd);
	free(xce->notify_fd);
	free(xce);
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	return xce->efd;
}

/* The evtchn driver's IOCTL_EVTCHN_RESTRICT_DOMID: a handle restricted
 * once cannot be restricted again (EACCES). */
int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
	if (xce->restrict_domid != DOMID_UNRESTRICTED) {
		errno = EACCES;
		return -1;
	}
	if (domid == 0 || domid >= 0x7ff0) { /* DOMID_FIRST_RESERVED */
		errno = EINVAL;
		return -1;
	}
	xce->restrict_domid = domid;
	return 0;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	uint64_t one = 1;

	if (port >= SIM_NR_PORTS)
		return sim_fail(-EINVAL);
	if (xce->notify_fd[port] < 0)
		return sim_fail(-ENOTCONN);
	/* A closed remote end (server or domain gone) drops it silently. */
	if (write(xce->notify_fd[port], &one, sizeof(one)) < 0)
		return -1;
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce,
						     uint32_t domid,
						     evtchn_port_t remote_port)
{
	struct sim_args a = {.u32 = {domid, remote_port}};
	struct sim_reply rep;
	uint32_t port;
	int rc;

	if (xce->restrict_domid != DOMID_UNRESTRICTED &&
	    xce->restrict_domid != domid)
		return sim_fail(-EACCES);
	rc = sim_call(&xce->conn, SIM_OP_EV_BIND, &a, NULL, 0, &rep);
	sim_trace(&xce->conn, "bind_interdomain(%u, %u) = %d, port %u", domid,
		  remote_port, rc, rc ? 0 : rep.a.u32[2]);
	port = rep.a.u32[2];
	if (!rc && (rep.nfds != 1 || port >= SIM_NR_PORTS))
		rc = -EPROTO;
	if (rc) {
		sim_reply_free(&rep);
		return sim_fail(rc);
	}
	if (xce->notify_fd[port] >= 0)
		close(xce->notify_fd[port]);
	xce->notify_fd[port] = rep.fds[0];
	rep.fds[0] = -1;
	sim_reply_free(&rep);
	if (port > xce->max_port)
		xce->max_port = port;
	return (xenevtchn_port_or_error_t)port;
}

/* Take one count off the eventfd: false if none was there. */
static bool take_count(xenevtchn_handle *xce)
{
	uint64_t v;

	return read(xce->efd, &v, sizeof(v)) == sizeof(v);
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	struct sim_args a = {.u32 = {port}};
	uint32_t old;
	int rc;

	rc = sim_call_simple(&xce->conn, SIM_OP_EV_UNBIND, &a);
	sim_trace(&xce->conn, "unbind(%u) = %d", port, rc);
	if (rc)
		return sim_fail(rc);
	/* The hypervisor no longer raises it; retire its queued event. */
	old = __atomic_exchange_n(&xce->words[port], 0, __ATOMIC_SEQ_CST);
	if ((old & SIM_EVW_QUEUED) && !take_count(xce))
		xce->owed++; /* its count is still on the way */
	if (xce->notify_fd[port] >= 0)
		close(xce->notify_fd[port]);
	xce->notify_fd[port] = -1;
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	uint32_t n = xce->max_port + 1, i, p;

	for (;;) {
		if (!take_count(xce))
			return sim_fail(-EAGAIN); /* real one would block */
		if (!xce->owed)
			break;
		xce->owed--;
	}
	/* The count was added after its port's QUEUED bit was set, and only
	 * this handle clears QUEUED: one is there. */
	for (i = 0; i < n; i++) {
		uint32_t old;

		p = (xce->next_scan + i) % n;
		old = __atomic_load_n(&xce->words[p], __ATOMIC_ACQUIRE);
		while (old & SIM_EVW_QUEUED)
			if (__atomic_compare_exchange_n(
				&xce->words[p], &old, old & ~SIM_EVW_QUEUED, 0,
				__ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE)) {
				xce->next_scan = p + 1;
				return (xenevtchn_port_or_error_t)p;
			}
	}
	return sim_fail(-EAGAIN);
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	uint32_t old, nw;
	uint64_t one = 1;

	if (port >= SIM_NR_PORTS)
		return 0; /* the driver skips ports it does not know */
	old = __atomic_load_n(&xce->words[port], __ATOMIC_ACQUIRE);
	do {
		if (!(old & SIM_EVW_BOUND))
			return 0;
		nw = old & ~SIM_EVW_MASKED;
		if (old & SIM_EVW_PENDING)
			nw = (nw & ~SIM_EVW_PENDING) | SIM_EVW_MASKED |
			     SIM_EVW_QUEUED;
	} while (!__atomic_compare_exchange_n(&xce->words[port], &old, nw, 0,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_ACQUIRE));
	if ((nw & SIM_EVW_QUEUED) && !(old & SIM_EVW_QUEUED) &&
	    write(xce->efd, &one, sizeof(one)) < 0)
		return -1;
	return 0;
}
