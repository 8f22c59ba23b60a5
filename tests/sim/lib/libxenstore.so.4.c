/* SPDX-License-Identifier: GPL-2.0-only */
/* Drop-in libxenstore.so.4 for the simulator: the calls a backend uses.
 * xs_fileno() is an eventfd the hypervisor keeps readable while watch
 * events are queued for this handle; xs_check_watch() fetches one. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstore.h>

#include "sim_client.h"

struct xs_handle {
	struct sim_conn conn;
	int efd;
};

struct xs_handle *xs_open(unsigned long flags)
{
	struct xs_handle *h = calloc(1, sizeof(*h));
	int fds[SIM_MAX_FDS], nfds = 0;

	(void)flags; /* read-only connections are plain ones since 4.x */
	if (!h)
		return NULL;
	if (sim_conn_open(&h->conn, SIM_KIND_XS, fds, &nfds)) {
		free(h);
		return NULL;
	}
	if (nfds < 1) {
		sim_conn_close(&h->conn);
		free(h);
		errno = EPROTO;
		return NULL;
	}
	h->efd = fds[0];
	while (--nfds > 0)
		close(fds[nfds]);
	return h;
}

void xs_close(struct xs_handle *xsh)
{
	if (!xsh)
		return;
	sim_conn_close(&xsh->conn);
	close(xsh->efd);
	free(xsh);
}

struct xs_handle *xs_daemon_open(void)
{
	return xs_open(0);
}

void xs_daemon_close(struct xs_handle *h)
{
	xs_close(h);
}

/* path NUL [extra]: one request, its reply in rep. */
static int xs_req(struct xs_handle *h, uint32_t op, xs_transaction_t t,
		  const char *path, const void *extra, size_t extra_len,
		  struct sim_reply *rep)
{
	size_t pl = strlen(path) + 1;
	struct sim_args a = {.u32 = {t}};
	char *buf;
	int rc;

	if (pl + extra_len > SIM_TAIL_MAX) {
		memset(rep, 0, sizeof(*rep));
		return -E2BIG;
	}
	buf = malloc(pl + extra_len);
	if (!buf) {
		memset(rep, 0, sizeof(*rep));
		return -ENOMEM;
	}
	memcpy(buf, path, pl);
	if (extra_len)
		memcpy(buf + pl, extra, extra_len);
	rc = sim_call(&h->conn, op, &a, buf, pl + extra_len, rep);
	free(buf);
	return rc;
}

static bool xs_bool(struct xs_handle *h, uint32_t op, xs_transaction_t t,
		    const char *path, const void *extra, size_t extra_len)
{
	struct sim_reply rep;
	int rc = xs_req(h, op, t, path, extra, extra_len, &rep);

	sim_reply_free(&rep);
	sim_trace(&h->conn, "xs op %u(%s) = %d", op, path, rc);
	if (rc) {
		sim_fail(rc);
		return false;
	}
	return true;
}

void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path,
	      unsigned int *len)
{
	struct sim_reply rep;
	int rc = xs_req(h, SIM_OP_XS_READ, t, path, NULL, 0, &rep);
	char *v;

	sim_trace(&h->conn, "xs_read(%s) = %d", path, rc);
	if (rc) {
		sim_reply_free(&rep);
		return sim_fail_null(rc);
	}
	v = rep.tail ? rep.tail : strdup("");
	rep.tail = NULL;
	if (len)
		*len = (unsigned)rep.tail_len;
	sim_reply_free(&rep);
	return v;
}

bool xs_write(struct xs_handle *h, xs_transaction_t t, const char *path,
	      const void *data, unsigned int len)
{
	return xs_bool(h, SIM_OP_XS_WRITE, t, path, data, len);
}

bool xs_mkdir(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	return xs_bool(h, SIM_OP_XS_MKDIR, t, path, NULL, 0);
}

bool xs_rm(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	return xs_bool(h, SIM_OP_XS_RM, t, path, NULL, 0);
}

bool xs_set_permissions(struct xs_handle *h, xs_transaction_t t,
			const char *path, struct xs_permissions *perms,
			unsigned int num_perms)
{
	uint32_t *p = calloc(num_perms ? num_perms : 1, 2 * sizeof(*p));
	unsigned i;
	bool ok;

	if (!p)
		return false;
	for (i = 0; i < num_perms; i++) {
		p[2 * i] = perms[i].id;
		p[2 * i + 1] = perms[i].perms;
	}
	ok = xs_bool(h, SIM_OP_XS_SET_PERMS, t, path, p,
		     num_perms * 2 * sizeof(*p));
	free(p);
	return ok;
}

/* NUL-separated strings -> one malloc'd vector (free() once). */
static char **split(const char *s, size_t len, unsigned *num)
{
	unsigned n = 0, i;
	size_t off;
	char **v, *copy;

	for (off = 0; off < len; off += strlen(s + off) + 1)
		n++;
	v = malloc((n + 1) * sizeof(*v) + len + 1);
	if (!v)
		return NULL;
	copy = (char *)(v + n + 1);
	memcpy(copy, s, len);
	copy[len] = '\0';
	for (i = 0, off = 0; i < n; i++, off += strlen(copy + off) + 1)
		v[i] = copy + off;
	v[n] = NULL;
	*num = n;
	return v;
}

char **xs_directory(struct xs_handle *h, xs_transaction_t t, const char *path,
		    unsigned int *num)
{
	struct sim_reply rep;
	int rc = xs_req(h, SIM_OP_XS_DIRECTORY, t, path, NULL, 0, &rep);
	char **v;

	sim_trace(&h->conn, "xs_directory(%s) = %d", path, rc);
	if (rc) {
		sim_reply_free(&rep);
		return sim_fail_null(rc);
	}
	v = split(rep.tail ? rep.tail : "", rep.tail_len, num);
	sim_reply_free(&rep);
	return v;
}

bool xs_watch(struct xs_handle *h, const char *path, const char *token)
{
	return xs_bool(h, SIM_OP_XS_WATCH, XBT_NULL, path, token,
		       strlen(token) + 1);
}

bool xs_unwatch(struct xs_handle *h, const char *path, const char *token)
{
	return xs_bool(h, SIM_OP_XS_UNWATCH, XBT_NULL, path, token,
		       strlen(token) + 1);
}

int xs_fileno(struct xs_handle *h)
{
	return h->efd;
}

char **xs_check_watch(struct xs_handle *h)
{
	struct sim_reply rep;
	unsigned num;
	char **v;
	int rc = sim_call(&h->conn, SIM_OP_XS_NEXT_EVENT, NULL, NULL, 0, &rep);

	if (rc) {
		sim_reply_free(&rep);
		return sim_fail_null(rc);
	}
	v = split(rep.tail ? rep.tail : "", rep.tail_len, &num);
	sim_reply_free(&rep);
	if (v && num != 2) {
		free(v);
		return sim_fail_null(-EPROTO);
	}
	if (v)
		sim_trace(&h->conn, "watch event %s %s", v[XS_WATCH_PATH],
			  v[XS_WATCH_TOKEN]);
	return v;
}

char **xs_read_watch(struct xs_handle *h, unsigned int *num)
{
	for (;;) {
		char **v = xs_check_watch(h);
		struct pollfd p = {.fd = h->efd, .events = POLLIN};

		if (v) {
			if (num)
				*num = 2;
			return v;
		}
		if (errno != EAGAIN)
			return NULL;
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return NULL;
	}
}

xs_transaction_t xs_transaction_start(struct xs_handle *h)
{
	struct sim_args a = {{0}};
	int rc = sim_call_simple(&h->conn, SIM_OP_XS_TXN_START, &a);

	if (rc) {
		sim_fail(rc);
		return XBT_NULL;
	}
	return a.u32[0];
}

bool xs_transaction_end(struct xs_handle *h, xs_transaction_t t, bool abort)
{
	struct sim_args a = {.u32 = {t, abort}};
	int rc = sim_call_simple(&h->conn, SIM_OP_XS_TXN_END, &a);

	if (rc) {
		sim_fail(rc);
		return false;
	}
	return true;
}

char *xs_get_domain_path(struct xs_handle *h, unsigned int domid)
{
	char *p;

	(void)h;
	if (asprintf(&p, "/local/domain/%u", domid) < 0)
		return NULL;
	return p;
}

bool xs_is_domain_introduced(struct xs_handle *h, unsigned int domid)
{
	struct sim_args a = {.u32 = {domid}};
	int rc = sim_call_simple(&h->conn, SIM_OP_XS_INTRODUCED, &a);

	if (rc) {
		sim_fail(rc);
		return false;
	}
	return a.u32[1] != 0;
}
