/* SPDX-License-Identifier: GPL-2.0-only */
/* The simulated xenstore: a tree of nodes with values and permissions,
 * watches, and transactions, with the semantics a backend relies on
 * (docs/misc/xenstore.txt, xen-ioreq-facts.md section 6):
 * - a write creates missing parents with empty values; mkdir of an existing
 *   node is a no-op; rm of a missing node succeeds if its parent exists;
 * - a watch fires for the watched node and every descendant, on create,
 *   modify, delete and permission change, and once right after it is set;
 *   removing a subtree also fires watches set below it (with their own
 *   path); special watches (@releaseDomain, @introduceDomain) fire only by
 *   name and carry no domid;
 * - a transaction works on a copy of the tree taken at start and is
 *   replayed on commit; as in C xenstored, the commit fails with EAGAIN if
 *   a node the transaction read or wrote (or the parent of one it created
 *   or removed) changed since the start: every node carries a generation,
 *   bumped when its value, permissions or list of children change;
 * - relative paths are relative to /local/domain/0 (we are dom0).
 * Callers hold hv->lock. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ctype.h>
#include <sys/eventfd.h>

#include "hv_internal.h"

#define XS_HOME	      "/local/domain/0/"
#define XS_MAX_EVENTS 4096

struct xs_perm {
	uint32_t id, perms;
};

/* The generation of a node a transaction created itself. */
#define GEN_TXN_NEW UINT64_MAX

struct xs_node {
	char *name;
	char *value;
	size_t len;
	uint64_t gen;	 /* 0 never: a node exists with gen >= 1 */
	uint64_t writes; /* to the live tree, since the node was created */
	struct xs_perm *perms;
	unsigned nperms;
	struct xs_node *parent, *child, *next;
};

struct xs_watch {
	struct xs_watch *next;
	char *path; /* absolute or special */
	char *token;
	size_t strip; /* prefix to strip from event paths (relative watch) */
	unsigned id;
};

struct xs_event {
	struct xs_event *next;
	char *path, *token;
	unsigned watch_id;
};

enum { TXOP_WRITE, TXOP_MKDIR, TXOP_RM, TXOP_PERMS };

struct xs_txop {
	struct xs_txop *next;
	int op;
	char *path;
	char *value;
	size_t len;
	struct xs_perm *perms;
	unsigned nperms;
};

/* A node a transaction depends on: its generation at the start, 0 if it
 * did not exist. */
struct xs_access {
	struct xs_access *next;
	char *path;
	uint64_t gen;
};

struct xs_txn {
	struct xs_txn *next;
	uint32_t id;
	struct xs_node *root;
	struct xs_txop *ops, **ops_tail;
	struct xs_access *seen;
};

struct hv_xs_conn {
	struct hv_xs_conn *next;
	int efd;
	struct xs_watch *watches;
	struct xs_event *ev_head, **ev_tail;
	unsigned nr_events, next_watch_id;
	struct xs_txn *txns;
	uint32_t next_txn;
	bool lost; /* xenstored died: see hv_xs_die() */
};

struct hv_xs {
	struct xs_node *root;
	struct hv_xs_conn *conns;
	uint64_t gen; /* last generation handed out */
	bool dead;
};

/* ------------------------------------------------------------ nodes */

static struct xs_node *node_new(const char *name, size_t nlen,
				struct xs_node *parent)
{
	struct xs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strndup(name, nlen);
	n->value = strdup("");
	if (!n->name || !n->value) {
		free(n->name);
		free(n->value);
		free(n);
		return NULL;
	}
	n->parent = parent;
	if (parent && parent->nperms) {
		/* A new node inherits its parent's permissions. */
		n->perms = malloc(parent->nperms * sizeof(*n->perms));
		if (n->perms) {
			memcpy(n->perms, parent->perms,
			       parent->nperms * sizeof(*n->perms));
			n->nperms = parent->nperms;
		}
	}
	if (parent) {
		struct xs_node **pp = &parent->child;

		while (*pp)
			pp = &(*pp)->next;
		*pp = n;
	}
	return n;
}

static void node_free(struct xs_node *n)
{
	while (n) {
		struct xs_node *next = n->next;

		node_free(n->child);
		free(n->name);
		free(n->value);
		free(n->perms);
		free(n);
		n = next;
	}
}

static struct xs_node *node_clone(const struct xs_node *n,
				  struct xs_node *parent)
{
	struct xs_node *c = calloc(1, sizeof(*c));
	const struct xs_node *k;

	if (!c)
		return NULL;
	c->parent = parent;
	c->name = strdup(n->name);
	c->value = malloc(n->len + 1);
	if (n->nperms) {
		c->perms = malloc(n->nperms * sizeof(*c->perms));
		if (c->perms) {
			memcpy(c->perms, n->perms,
			       n->nperms * sizeof(*c->perms));
			c->nperms = n->nperms;
		}
	}
	if (!c->name || !c->value) {
		node_free(c);
		return NULL;
	}
	memcpy(c->value, n->value, n->len + 1);
	c->len = n->len;
	c->gen = n->gen;
	struct xs_node **tail = &c->child;
	for (k = n->child; k; k = k->next) {
		*tail = node_clone(k, c);
		if (!*tail) {
			node_free(c);
			return NULL;
		}
		tail = &(*tail)->next;
	}
	return c;
}

/* Walk an absolute, canonical path; with `create`, make missing nodes:
 * in the main tree (gen non-NULL) they and their parents get new
 * generations, in a transaction's copy they are marked as its own. */
static struct xs_node *node_walk_gen(struct xs_node *root, const char *path,
				     bool create, uint64_t *gen)
{
	struct xs_node *n = root;
	const char *p = path + 1;

	while (*p) {
		const char *e = strchrnul(p, '/');
		size_t len = (size_t)(e - p);
		struct xs_node *k;

		for (k = n->child; k; k = k->next)
			if (strlen(k->name) == len && !memcmp(k->name, p, len))
				break;
		if (!k) {
			if (!create)
				return NULL;
			k = node_new(p, len, n);
			if (!k)
				return NULL;
			if (gen) {
				k->gen = ++*gen;
				n->gen = ++*gen;
			} else {
				k->gen = GEN_TXN_NEW;
			}
		}
		n = k;
		p = *e ? e + 1 : e;
	}
	return n;
}

static struct xs_node *node_walk(struct xs_node *root, const char *path,
				 bool create)
{
	return node_walk_gen(root, path, create, NULL);
}

/* The generation counter of the tree ops work on: the main tree's, or
 * none for a transaction's copy. */
static uint64_t *gen_of(struct hv_xs *xs)
{
	return xs ? &xs->gen : NULL;
}

static void node_unlink(struct xs_node *n)
{
	struct xs_node **pp = &n->parent->child;

	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	n->next = NULL;
	node_free(n);
}

/* Canonicalise: absolute, valid characters, no empty component. Returns
 * the length of the prefix added for a relative path, or -errno. */
static int xs_canon(const char *in, char *out, size_t outsz, bool special_ok)
{
	size_t strip = 0, len;
	const char *p;

	if (!in || !*in)
		return -EINVAL;
	if (in[0] == '@') {
		if (!special_ok)
			return -EINVAL;
		if (strlen(in) >= outsz)
			return -EINVAL;
		strcpy(out, in);
		return 0;
	}
	if (in[0] != '/')
		strip = strlen(XS_HOME);
	len = strip + strlen(in);
	if (len > SIM_XS_PATH_MAX || len >= outsz)
		return -EINVAL;
	snprintf(out, outsz, "%s%s", strip ? XS_HOME : "", in);
	for (p = out; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr("/_@-", *p))
			return -EINVAL;
		if (p[0] == '/' && p[1] == '/')
			return -EINVAL;
	}
	if (len > 1 && out[len - 1] == '/')
		return -EINVAL;
	return (int)strip;
}

/* ------------------------------------------------------------ watches */

/* Is `child` the node `parent` or below it? */
static bool is_child(const char *child, const char *parent)
{
	size_t len = strlen(parent);

	if (!strcmp(parent, "/"))
		return child[0] == '/';
	return !strncmp(child, parent, len) &&
	       (child[len] == '\0' || child[len] == '/');
}

static void conn_queue(struct hv_xs_conn *x, const struct xs_watch *w,
		       const char *path)
{
	struct xs_event *ev;
	uint64_t one = 1;

	if (x->nr_events >= XS_MAX_EVENTS || x->lost)
		return; /* a reader that never reads loses events */
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return;
	if (w->strip && !strncmp(path, XS_HOME, w->strip))
		path += w->strip;
	ev->path = strdup(path);
	ev->token = strdup(w->token);
	ev->watch_id = w->id;
	if (!ev->path || !ev->token) {
		free(ev->path);
		free(ev->token);
		free(ev);
		return;
	}
	if (!x->ev_head && write(x->efd, &one, sizeof(one)) < 0) {
		/* cannot fail for a counter far below its maximum */
	}
	*x->ev_tail = ev;
	x->ev_tail = &ev->next;
	x->nr_events++;
}

static void fire(struct hv_xs *xs, const char *path, bool recurse)
{
	struct hv_xs_conn *x;
	struct xs_watch *w;

	for (x = xs->conns; x; x = x->next)
		for (w = x->watches; w; w = w->next) {
			if (w->path[0] == '@')
				continue;
			if (is_child(path, w->path))
				conn_queue(x, w, path);
			else if (recurse && is_child(w->path, path))
				conn_queue(x, w, w->path);
		}
}

unsigned hv_xs_queued(struct hv_xs *xs)
{
	unsigned n = 0;

	for (struct hv_xs_conn *x = xs->conns; x; x = x->next)
		n += x->nr_events;
	return n;
}

void hv_xs_fire_special(struct hv_xs *xs, const char *name)
{
	struct hv_xs_conn *x;
	struct xs_watch *w;

	for (x = xs->conns; x; x = x->next)
		for (w = x->watches; w; w = w->next)
			if (!strcmp(w->path, name))
				conn_queue(x, w, name);
}

/* ------------------------------------------------------ tree operations */

/* Each op works on `root`; `xs` non-NULL fires watches (main tree). */
static int op_write(struct hv_xs *xs, struct xs_node *root, const char *path,
		    const void *val, size_t len)
{
	struct xs_node *n;
	char *v;

	if (len > SIM_XS_VALUE_MAX)
		return -E2BIG;
	n = node_walk_gen(root, path, true, gen_of(xs));
	if (!n)
		return -ENOMEM;
	v = malloc(len + 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, val, len);
	v[len] = '\0';
	free(n->value);
	n->value = v;
	n->len = len;
	if (xs) {
		n->gen = ++xs->gen;
		n->writes++;
		fire(xs, path, false);
	}
	return 0;
}

static int op_mkdir(struct hv_xs *xs, struct xs_node *root, const char *path)
{
	if (node_walk(root, path, false))
		return 0;
	if (!node_walk_gen(root, path, true, gen_of(xs)))
		return -ENOMEM;
	if (xs)
		fire(xs, path, false);
	return 0;
}

static int op_rm(struct hv_xs *xs, struct xs_node *root, const char *path)
{
	struct xs_node *n;
	char parent[SIM_XS_PATH_MAX + 1];
	char *slash;

	if (!strcmp(path, "/"))
		return -EINVAL;
	n = node_walk(root, path, false);
	if (!n) {
		snprintf(parent, sizeof(parent), "%s", path);
		slash = strrchr(parent, '/');
		if (slash == parent)
			slash[1] = '\0';
		else
			*slash = '\0';
		return node_walk(root, parent, false) ? 0 : -ENOENT;
	}
	if (xs)
		n->parent->gen = ++xs->gen;
	node_unlink(n);
	if (xs)
		fire(xs, path, true);
	return 0;
}

static int op_perms(struct hv_xs *xs, struct xs_node *root, const char *path,
		    const struct xs_perm *perms, unsigned nperms)
{
	struct xs_node *n = node_walk(root, path, false);
	struct xs_perm *p;

	if (!n)
		return -ENOENT;
	if (!nperms)
		return -EINVAL;
	p = malloc(nperms * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memcpy(p, perms, nperms * sizeof(*p));
	free(n->perms);
	n->perms = p;
	n->nperms = nperms;
	if (xs) {
		n->gen = ++xs->gen;
		fire(xs, path, false);
	}
	return 0;
}

/* ------------------------------------------------------------ transactions */

static void txn_free(struct xs_txn *t)
{
	struct xs_txop *o, *next;
	struct xs_access *a;

	while ((a = t->seen)) {
		t->seen = a->next;
		free(a->path);
		free(a);
	}
	for (o = t->ops; o; o = next) {
		next = o->next;
		free(o->path);
		free(o->value);
		free(o->perms);
		free(o);
	}
	node_free(t->root);
	free(t);
}

static struct xs_txn *txn_find(struct hv_xs_conn *x, uint32_t id)
{
	struct xs_txn *t;

	for (t = x->txns; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

static int txn_log(struct xs_txn *t, int op, const char *path, const void *val,
		   size_t len, const struct xs_perm *perms, unsigned nperms)
{
	struct xs_txop *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->op = op;
	o->path = strdup(path);
	if (val) {
		o->value = malloc(len + 1);
		if (o->value)
			memcpy(o->value, val, len);
		o->len = len;
	}
	if (nperms) {
		o->perms = malloc(nperms * sizeof(*perms));
		if (o->perms)
			memcpy(o->perms, perms, nperms * sizeof(*perms));
		o->nperms = nperms;
	}
	if (!o->path || (val && !o->value) || (nperms && !o->perms)) {
		free(o->path);
		free(o->value);
		free(o->perms);
		free(o);
		return -ENOMEM;
	}
	*t->ops_tail = o;
	t->ops_tail = &o->next;
	return 0;
}

/* Note what a transaction is about to depend on: the node as the
 * transaction's copy has it (i.e. as at the start, unless the transaction
 * made it itself), before the operation changes the copy. */
static int txn_note(struct xs_txn *t, const char *path)
{
	struct xs_access *a;
	struct xs_node *n;

	for (a = t->seen; a; a = a->next)
		if (!strcmp(a->path, path))
			return 0;
	a = calloc(1, sizeof(*a));
	if (!a || !(a->path = strdup(path))) {
		free(a);
		return -ENOMEM;
	}
	n = node_walk(t->root, path, false);
	a->gen = n && n->gen != GEN_TXN_NEW ? n->gen : 0;
	a->next = t->seen;
	t->seen = a;
	return 0;
}

/* The node an operation works on and, when it adds nodes (a write or
 * mkdir of a missing node: up to the first ancestor that exists) or
 * removes one, the parents whose lists of children change. */
static int txn_note_op(struct xs_txn *t, uint32_t op, const char *path)
{
	bool exists = node_walk(t->root, path, false) != NULL;
	char up[SIM_XS_PATH_MAX + 1];
	int rc = txn_note(t, path);

	if (rc || !strcmp(path, "/"))
		return rc;
	if (op == SIM_OP_XS_RM
		? !exists
		: (op != SIM_OP_XS_WRITE && op != SIM_OP_XS_MKDIR) || exists)
		return 0;
	snprintf(up, sizeof(up), "%s", path);
	for (;;) {
		char *slash = strrchr(up, '/');

		if (slash == up)
			slash[1] = '\0';
		else
			*slash = '\0';
		rc = txn_note(t, up);
		if (rc || op == SIM_OP_XS_RM || !strcmp(up, "/") ||
		    node_walk(t->root, up, false))
			return rc;
	}
}

/* Has anything the transaction depends on changed since its start? */
static bool txn_conflicts(struct hv_xs *xs, const struct xs_txn *t)
{
	for (const struct xs_access *a = t->seen; a; a = a->next) {
		struct xs_node *n = node_walk(xs->root, a->path, false);

		if ((n ? n->gen : 0) != a->gen)
			return true;
	}
	return false;
}

static void txn_commit(struct hv_xs *xs, struct xs_txn *t)
{
	struct xs_txop *o;

	for (o = t->ops; o; o = o->next) {
		switch (o->op) {
		case TXOP_WRITE:
			op_write(xs, xs->root, o->path, o->value, o->len);
			break;
		case TXOP_MKDIR:
			op_mkdir(xs, xs->root, o->path);
			break;
		case TXOP_RM:
			op_rm(xs, xs->root, o->path);
			break;
		case TXOP_PERMS:
			op_perms(xs, xs->root, o->path, o->perms, o->nperms);
			break;
		}
	}
}

/* ------------------------------------------------------------ public */

struct hv_xs *hv_xs_new(void)
{
	struct hv_xs *xs = calloc(1, sizeof(*xs));
	static const struct xs_perm root_perm = {0, 0};

	if (!xs)
		return NULL;
	xs->root = node_new("", 0, NULL);
	if (!xs->root) {
		free(xs);
		return NULL;
	}
	xs->root->perms = malloc(sizeof(root_perm));
	if (xs->root->perms) {
		*xs->root->perms = root_perm;
		xs->root->nperms = 1;
	}
	xs->root->gen = ++xs->gen;
	/* No connection yet: no watch fires. */
	if (op_write(xs, xs->root, "/local/domain/0/name", "Domain-0", 8) ||
	    op_write(xs, xs->root, "/local/domain/0/domid", "0", 1) ||
	    op_mkdir(xs, xs->root, "/tool")) {
		hv_xs_free(xs);
		return NULL;
	}
	return xs;
}

void hv_xs_free(struct hv_xs *xs)
{
	if (!xs)
		return;
	while (xs->conns)
		hv_xs_conn_free(xs, xs->conns);
	node_free(xs->root);
	free(xs);
}

struct hv_xs_conn *hv_xs_conn_new(struct hv_xs *xs, int *efd)
{
	struct hv_xs_conn *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->efd < 0) {
		free(x);
		return NULL;
	}
	x->ev_tail = &x->ev_head;
	x->next_txn = 1;
	x->next = xs->conns;
	xs->conns = x;
	*efd = x->efd;
	return x;
}

static void event_free(struct xs_event *ev)
{
	free(ev->path);
	free(ev->token);
	free(ev);
}

static void drop_events(struct hv_xs_conn *x, unsigned watch_id, bool all)
{
	struct xs_event **pp = &x->ev_head, *ev;
	uint64_t cnt;

	while ((ev = *pp)) {
		if (all || ev->watch_id == watch_id) {
			*pp = ev->next;
			event_free(ev);
			x->nr_events--;
		} else {
			pp = &ev->next;
		}
	}
	x->ev_tail = pp;
	if (!x->ev_head && read(x->efd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: already drained */
	}
}

void hv_xs_conn_free(struct hv_xs *xs, struct hv_xs_conn *x)
{
	struct hv_xs_conn **pp = &xs->conns;
	struct xs_watch *w;
	struct xs_txn *t;

	while (*pp && *pp != x)
		pp = &(*pp)->next;
	if (*pp)
		*pp = x->next;
	drop_events(x, 0, true);
	while ((w = x->watches)) {
		x->watches = w->next;
		free(w->path);
		free(w->token);
		free(w);
	}
	while ((t = x->txns)) {
		x->txns = t->next;
		txn_free(t);
	}
	close(x->efd);
	free(x);
}

int hv_xs_die(struct hv_xs *xs, const char *path, const void *val, size_t len)
{
	int rc = hv_xs_write(xs, path, val, len);

	xs->dead = true;
	for (struct hv_xs_conn *x = xs->conns; x; x = x->next)
		x->lost = true;
	return rc;
}

bool hv_xs_dead(const struct hv_xs *xs)
{
	return xs->dead;
}

int hv_xs_write(struct hv_xs *xs, const char *path, const void *val, size_t len)
{
	char abs[SIM_XS_PATH_MAX + 1];
	int rc = xs_canon(path, abs, sizeof(abs), false);

	if (rc < 0)
		return rc;
	return op_write(xs, xs->root, abs, val, len);
}

char *hv_xs_read(struct hv_xs *xs, const char *path, size_t *len)
{
	char abs[SIM_XS_PATH_MAX + 1];
	struct xs_node *n;
	char *v;
	int rc = xs_canon(path, abs, sizeof(abs), false);

	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	n = node_walk(xs->root, abs, false);
	if (!n) {
		errno = ENOENT;
		return NULL;
	}
	v = malloc(n->len + 1);
	if (!v)
		return NULL;
	memcpy(v, n->value, n->len + 1);
	if (len)
		*len = n->len;
	return v;
}

int64_t hv_xs_writes(struct hv_xs *xs, const char *path)
{
	char abs[SIM_XS_PATH_MAX + 1];
	struct xs_node *n;
	int rc = xs_canon(path, abs, sizeof(abs), false);

	if (rc < 0)
		return rc;
	n = node_walk(xs->root, abs, false);
	return n ? (int64_t)n->writes : -ENOENT;
}

int hv_xs_children(struct hv_xs *xs, const char *path)
{
	char abs[SIM_XS_PATH_MAX + 1];
	struct xs_node *n, *k;
	int rc = xs_canon(path, abs, sizeof(abs), false), cnt = 0;

	if (rc < 0)
		return rc;
	n = node_walk(xs->root, abs, false);
	if (!n)
		return -ENOENT;
	for (k = n->child; k; k = k->next)
		cnt++;
	return cnt;
}

int hv_xs_rm(struct hv_xs *xs, const char *path)
{
	char abs[SIM_XS_PATH_MAX + 1];
	int rc = xs_canon(path, abs, sizeof(abs), false);

	if (rc < 0)
		return rc;
	return op_rm(xs, xs->root, abs);
}

/* Split "a\0b" out of a tail: returns the first string and sets *rest and
 * *rest_len to what follows its NUL; NULL if the tail has no NUL. */
static const char *tail_str(const char *tail, size_t len, const char **rest,
			    size_t *rest_len)
{
	const char *nul = memchr(tail, '\0', len);

	if (!nul)
		return NULL;
	if (rest) {
		*rest = nul + 1;
		*rest_len = len - (size_t)(nul + 1 - tail);
	}
	return tail;
}

static int xs_watch(struct hv_xs_conn *x, const char *path, const char *token)
{
	char abs[SIM_XS_PATH_MAX + 1];
	struct xs_watch *w;
	int strip = xs_canon(path, abs, sizeof(abs), true);

	if (strip < 0)
		return strip;
	for (w = x->watches; w; w = w->next)
		if (!strcmp(w->path, abs) && !strcmp(w->token, token))
			return -EEXIST;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->path = strdup(abs);
	w->token = strdup(token);
	if (!w->path || !w->token) {
		free(w->path);
		free(w->token);
		free(w);
		return -ENOMEM;
	}
	w->strip = (size_t)strip;
	w->id = ++x->next_watch_id;
	w->next = x->watches;
	x->watches = w;
	/* "triggered once straight away" */
	conn_queue(x, w, abs);
	return 0;
}

static int xs_unwatch(struct hv_xs_conn *x, const char *path, const char *token)
{
	char abs[SIM_XS_PATH_MAX + 1];
	struct xs_watch **pp, *w;
	int rc = xs_canon(path, abs, sizeof(abs), true);

	if (rc < 0)
		return rc;
	for (pp = &x->watches; (w = *pp); pp = &w->next)
		if (!strcmp(w->path, abs) && !strcmp(w->token, token))
			break;
	if (!w)
		return -ENOENT;
	*pp = w->next;
	/* libxenstore drops the events of a removed watch still queued */
	drop_events(x, w->id, false);
	free(w->path);
	free(w->token);
	free(w);
	return 0;
}

static int xs_next_event(struct hv_xs_conn *x, struct sim_wire *rep,
			 char *rtail)
{
	struct xs_event *ev = x->ev_head;
	size_t pl, tl;
	uint64_t cnt;

	if (!ev)
		return -EAGAIN;
	pl = strlen(ev->path) + 1;
	tl = strlen(ev->token) + 1;
	if (pl + tl > SIM_TAIL_MAX)
		return -E2BIG;
	memcpy(rtail, ev->path, pl);
	memcpy(rtail + pl, ev->token, tl);
	rep->tail_len = (uint32_t)(pl + tl);
	x->ev_head = ev->next;
	if (!x->ev_head) {
		x->ev_tail = &x->ev_head;
		if (read(x->efd, &cnt, sizeof(cnt)) < 0) {
			/* already drained */
		}
	}
	x->nr_events--;
	event_free(ev);
	return 0;
}

static int xs_directory(struct xs_node *root, const char *path,
			struct sim_wire *rep, char *rtail)
{
	struct xs_node *n = node_walk(root, path, false), *k;
	size_t off = 0;

	if (!n)
		return -ENOENT;
	for (k = n->child; k; k = k->next) {
		size_t l = strlen(k->name) + 1;

		if (off + l > SIM_TAIL_MAX)
			return -E2BIG;
		memcpy(rtail + off, k->name, l);
		off += l;
	}
	rep->tail_len = (uint32_t)off;
	return 0;
}

int hv_xs_handle(struct hv_xs *xs, struct hv_xs_conn *x,
		 const struct sim_wire *req, const char *tail,
		 struct sim_wire *rep, char *rtail)
{
	char abs[SIM_XS_PATH_MAX + 1];
	const char *path, *rest = NULL;
	size_t rest_len = 0;
	struct xs_node *root = xs->root, *n;
	struct xs_txn *t = NULL;
	int rc;

	/* libxenstore once its reader thread saw the socket close (xs.c
	 * read_thread, read_watch_internal, xs_talkv): the events it had
	 * queued, then EINVAL; any request EBADF, as its fd is now -1. */
	if (x->lost && req->op == SIM_OP_XS_NEXT_EVENT) {
		rc = xs_next_event(x, rep, rtail);
		return rc == -EAGAIN ? -EINVAL : rc;
	}
	if (x->lost)
		return -EBADF;
	switch (req->op) {
	case SIM_OP_XS_NEXT_EVENT:
		return xs_next_event(x, rep, rtail);
	case SIM_OP_XS_TXN_START:
		t = calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		t->root = node_clone(xs->root, NULL);
		if (!t->root) {
			free(t);
			return -ENOMEM;
		}
		t->ops_tail = &t->ops;
		do {
			t->id = x->next_txn++;
		} while (!t->id || txn_find(x, t->id));
		t->next = x->txns;
		x->txns = t;
		rep->a.u32[0] = t->id;
		return 0;
	case SIM_OP_XS_TXN_END: {
		struct xs_txn **pp;

		for (pp = &x->txns; (t = *pp); pp = &t->next)
			if (t->id == req->a.u32[0])
				break;
		if (!t)
			return -ENOENT;
		*pp = t->next;
		rc = 0;
		if (!req->a.u32[1]) {
			if (txn_conflicts(xs, t))
				rc = -EAGAIN;
			else
				txn_commit(xs, t);
		}
		txn_free(t);
		return rc;
	}
	case SIM_OP_XS_INTRODUCED:
		return -EINVAL; /* answered by hv.c, which knows the domains */
	default:
		break;
	}

	path = tail_str(tail, req->tail_len, &rest, &rest_len);
	if (!path)
		return -EINVAL;
	if (req->op == SIM_OP_XS_WATCH || req->op == SIM_OP_XS_UNWATCH) {
		const char *token = tail_str(rest, rest_len, NULL, NULL);

		if (!token)
			return -EINVAL;
		return req->op == SIM_OP_XS_WATCH ? xs_watch(x, path, token)
						  : xs_unwatch(x, path, token);
	}
	rc = xs_canon(path, abs, sizeof(abs), false);
	if (rc < 0)
		return rc;
	if (req->a.u32[0]) {
		t = txn_find(x, req->a.u32[0]);
		if (!t)
			return -ENOENT;
		root = t->root;
		rc = txn_note_op(t, req->op, abs);
		if (rc)
			return rc;
	}

	switch (req->op) {
	case SIM_OP_XS_READ:
		n = node_walk(root, abs, false);
		if (!n)
			return -ENOENT;
		memcpy(rtail, n->value, n->len);
		rep->tail_len = (uint32_t)n->len;
		return 0;
	case SIM_OP_XS_DIRECTORY:
		return xs_directory(root, abs, rep, rtail);
	case SIM_OP_XS_WRITE:
		if (rest_len > SIM_XS_VALUE_MAX)
			return -E2BIG;
		rc = op_write(t ? NULL : xs, root, abs, rest, rest_len);
		if (!rc && t)
			rc = txn_log(t, TXOP_WRITE, abs, rest, rest_len, NULL,
				     0);
		return rc;
	case SIM_OP_XS_MKDIR:
		rc = op_mkdir(t ? NULL : xs, root, abs);
		if (!rc && t)
			rc = txn_log(t, TXOP_MKDIR, abs, NULL, 0, NULL, 0);
		return rc;
	case SIM_OP_XS_RM:
		rc = op_rm(t ? NULL : xs, root, abs);
		if (!rc && t)
			rc = txn_log(t, TXOP_RM, abs, NULL, 0, NULL, 0);
		return rc;
	case SIM_OP_XS_SET_PERMS: {
		struct xs_perm perms[64];
		unsigned nperms = (unsigned)(rest_len / sizeof(perms[0]));

		if (rest_len % sizeof(perms[0]) || nperms > 64)
			return -EINVAL;
		memcpy(perms, rest, rest_len);
		rc = op_perms(t ? NULL : xs, root, abs, perms, nperms);
		if (!rc && t)
			rc =
			    txn_log(t, TXOP_PERMS, abs, NULL, 0, perms, nperms);
		return rc;
	}
	default:
		return -ENOSYS;
	}
}
