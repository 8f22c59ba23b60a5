/* SPDX-License-Identifier: GPL-2.0-only */
/* Client side of the simulator protocol: connect, request/reply, fds. A
 * failed transport (the hypervisor went away) fails the call with the
 * socket's errno; it never blocks forever and never raises SIGPIPE. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "sim_client.h"

int sim_fail(int rc)
{
	errno = rc < 0 ? -rc : EIO;
	return -1;
}

void *sim_fail_null(int rc)
{
	errno = rc < 0 ? -rc : EIO;
	return NULL;
}

void sim_trace(const struct sim_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->hello.verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "sim-lib[%d]: ", (int)getpid());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int send_req(int fd, const struct sim_wire *w, const void *tail)
{
	struct iovec iov[2] = {
	    {.iov_base = (void *)w, .iov_len = sizeof(*w)},
	    {.iov_base = (void *)tail, .iov_len = w->tail_len},
	};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = tail ? 2 : 1};
	ssize_t n;

	do {
		n = sendmsg(fd, &m, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/* Receive the reply; fds land in rep->fds. */
static int recv_rep(struct sim_conn *c, struct sim_reply *rep)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * SIM_MAX_FDS)];
	} u;
	struct iovec iov = {.iov_base = c->buf, .iov_len = SIM_MSG_MAX};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = u.buf,
			   .msg_controllen = sizeof(u.buf)};
	const struct sim_wire *w = (const void *)c->buf;
	struct cmsghdr *cm;
	ssize_t n;

	do {
		n = recvmsg(c->fd, &m, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (k > (size_t)(SIM_MAX_FDS - rep->nfds))
			k = (size_t)(SIM_MAX_FDS - rep->nfds);
		memcpy(rep->fds + rep->nfds, CMSG_DATA(cm), k * sizeof(int));
		rep->nfds += (int)k;
	}
	if (n == 0)
		return -ECONNRESET; /* the hypervisor is gone */
	if ((size_t)n < sizeof(*w) || (m.msg_flags & MSG_TRUNC) ||
	    w->tail_len != (size_t)n - sizeof(*w))
		return -EPROTO;
	rep->rc = w->rc;
	rep->a = w->a;
	if (w->tail_len) {
		rep->tail = malloc(w->tail_len + 1);
		if (!rep->tail)
			return -ENOMEM;
		memcpy(rep->tail, c->buf + sizeof(*w), w->tail_len);
		rep->tail[w->tail_len] = '\0';
		rep->tail_len = w->tail_len;
	}
	return 0;
}

void sim_reply_free(struct sim_reply *rep)
{
	int i;

	for (i = 0; i < rep->nfds; i++)
		if (rep->fds[i] >= 0)
			close(rep->fds[i]);
	rep->nfds = 0;
	free(rep->tail);
	rep->tail = NULL;
}

/* XVB_SIM_FAIL=NAME:ERRNO[:N] in the process's environment: its Nth call
 * (default the first) of hypercall NAME (sim_op_name) fails with -ERRNO, as
 * Xen refusing it, before it reaches the hypervisor, which so sees nothing
 * change. For the daemon's error paths at start-up. */
static int injected_failure(uint32_t op)
{
	static unsigned long calls;
	const char *v = getenv("XVB_SIM_FAIL");
	const char *name = sim_op_name(op);
	unsigned long err, nth = 1;
	size_t n;
	char *end;

	if (!v || !name)
		return 0;
	n = strcspn(v, ":");
	if (n != strlen(name) || strncmp(v, name, n) || v[n] != ':')
		return 0;
	err = strtoul(v + n + 1, &end, 10);
	if (*end == ':')
		nth = strtoul(end + 1, &end, 10);
	if (*end || !err || err > 4095)
		return 0;
	return __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST) == nth
		   ? -(int)err
		   : 0;
}

int sim_call(struct sim_conn *c, uint32_t op, const struct sim_args *a,
	     const void *tail, size_t tail_len, struct sim_reply *rep)
{
	struct sim_wire w = {.op = op, .tail_len = (uint32_t)tail_len};
	int rc;

	memset(rep, 0, sizeof(*rep));
	if (tail_len > SIM_TAIL_MAX)
		return -E2BIG;
	rc = injected_failure(op);
	if (rc) {
		sim_trace(c, "%s refused (XVB_SIM_FAIL): %d", sim_op_name(op),
			  rc);
		rep->rc = rc;
		return rc;
	}
	if (a)
		w.a = *a;
	pthread_mutex_lock(&c->lock);
	rc = send_req(c->fd, &w, tail_len ? tail : NULL);
	if (!rc)
		rc = recv_rep(c, rep);
	pthread_mutex_unlock(&c->lock);
	if (rc) {
		sim_reply_free(rep);
		rep->rc = rc;
		return rc;
	}
	return rep->rc;
}

int sim_call_simple(struct sim_conn *c, uint32_t op, struct sim_args *a)
{
	struct sim_reply rep;
	int rc = sim_call(c, op, a, NULL, 0, &rep);

	if (rc == 0 && a)
		*a = rep.a;
	sim_reply_free(&rep);
	return rc;
}

int sim_conn_open(struct sim_conn *c, uint32_t kind, int *fds, int *nfds)
{
	const char *path = getenv(SIM_ENV_SOCKET);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct sim_args a = {.u32 = {kind, SIM_PROTO_VERSION}};
	struct sim_reply rep;
	int rc, i;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	*nfds = 0;
	if (!path || !*path)
		return sim_fail(-ENOENT);
	if (strlen(path) >= sizeof(sa.sun_path))
		return sim_fail(-ENAMETOOLONG);
	strcpy(sa.sun_path, path);
	c->buf = malloc(SIM_MSG_MAX);
	if (!c->buf)
		return sim_fail(-ENOMEM);
	pthread_mutex_init(&c->lock, NULL);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		goto fail;
	}
	rc = sim_call(c, SIM_OP_HELLO, &a, NULL, 0, &rep);
	if (!rc && (rep.tail_len != sizeof(c->hello)))
		rc = -EPROTO;
	if (rc) {
		sim_reply_free(&rep);
		goto fail;
	}
	memcpy(&c->hello, rep.tail, sizeof(c->hello));
	if (c->hello.magic != SIM_PROTO_MAGIC) {
		sim_reply_free(&rep);
		rc = -EPROTO;
		goto fail;
	}
	for (i = 0; i < rep.nfds; i++) {
		fds[i] = rep.fds[i];
		rep.fds[i] = -1;
	}
	*nfds = rep.nfds;
	sim_reply_free(&rep);
	return 0;
fail:
	sim_conn_close(c);
	return sim_fail(rc);
}

void sim_conn_close(struct sim_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->buf) {
		free(c->buf);
		c->buf = NULL;
		pthread_mutex_destroy(&c->lock);
	}
}

struct sim_shared *sim_map_shared(int fd, uint64_t ram_frames)
{
	uint64_t bytes = sim_shared_bytes(ram_frames);
	struct stat st;
	void *p;

	if (fstat(fd, &st) || (uint64_t)st.st_size < bytes)
		return NULL;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

void sim_unmap_shared(struct sim_shared *sh, uint64_t ram_frames)
{
	if (sh)
		munmap(sh, sim_shared_bytes(ram_frames));
}

void sim_domtab_init(struct sim_domtab *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
}

void sim_domtab_fini(struct sim_domtab *t)
{
	for (unsigned i = 0; i < t->n; i++) {
		sim_unmap_shared(t->dom[i].sh, t->dom[i].ram_frames);
		if (t->dom[i].ram_fd >= 0)
			close(t->dom[i].ram_fd);
	}
	t->n = 0;
	pthread_mutex_destroy(&t->lock);
}

static struct sim_domref *domtab_find(struct sim_domtab *t, uint32_t domid)
{
	unsigned n = __atomic_load_n(&t->n, __ATOMIC_ACQUIRE);

	for (unsigned i = 0; i < n; i++)
		if (t->dom[i].domid == domid)
			return &t->dom[i];
	return NULL;
}

struct sim_domref *sim_domtab_get(struct sim_domtab *t, struct sim_conn *c,
				  uint32_t domid, bool want_ram)
{
	struct sim_domref *d = domtab_find(t, domid);
	struct sim_args a = {.u32 = {domid}};
	struct sim_reply rep;
	int rc;

	if (d)
		return d;
	pthread_mutex_lock(&t->lock);
	d = domtab_find(t, domid);
	if (d)
		goto out;
	if (t->n == SIM_MAX_DOMS) {
		errno = ESRCH;
		goto out;
	}
	rc = sim_call(c, SIM_OP_DOM_ATTACH, &a, NULL, 0, &rep);
	if (!rc && rep.nfds < (want_ram ? 2 : 1))
		rc = -EPROTO;
	if (rc) {
		sim_reply_free(&rep);
		sim_fail(rc);
		goto out;
	}
	d = &t->dom[t->n];
	d->domid = domid;
	d->slot = rep.a.u32[1];
	d->vcpus = rep.a.u32[2];
	d->ram_frames = rep.a.u64[0] >> SIM_PAGE_SHIFT;
	d->ram_fd = -1;
	d->sh = sim_map_shared(rep.fds[0], d->ram_frames);
	if (!d->sh || d->slot >= SIM_MAX_DOMS) {
		sim_unmap_shared(d->sh, d->ram_frames);
		sim_reply_free(&rep);
		errno = EPROTO;
		d = NULL;
		goto out;
	}
	if (want_ram) {
		d->ram_fd = rep.fds[1];
		rep.fds[1] = -1;
	}
	sim_reply_free(&rep);
	__atomic_store_n(&t->n, t->n + 1, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&t->lock);
	return d;
}
