/* SPDX-License-Identifier: GPL-2.0-only */
/* A xenstore transaction, retried while it conflicts with another. */
#ifndef XVB_XS_TXN_H
#define XVB_XS_TXN_H

#include <xenstore.h>

/* What one transaction does: 1 to commit, 0 to abort with nothing to
 * do, -errno to abort on an error. */
typedef int (*xs_txn_fn)(struct xs_handle *xs, xs_transaction_t t, void *arg);

/* Run fn in a transaction, again while the commit conflicts (EAGAIN), up
 * to `tries` times. 1 committed, fn's 0 or -errno, -EAGAIN if it kept
 * conflicting, or -errno from starting or committing the transaction. */
int xs_txn_run(struct xs_handle *xs, unsigned tries, xs_txn_fn fn, void *arg);

#endif
