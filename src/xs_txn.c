/* SPDX-License-Identifier: GPL-2.0-only */
/* A xenstore transaction, retried while it conflicts with another. */
#include "xs_txn.h"

#include <errno.h>

int xs_txn_run(struct xs_handle *xs, unsigned tries, xs_txn_fn fn, void *arg)
{
	for (unsigned i = 0; i < tries; i++) {
		xs_transaction_t t = xs_transaction_start(xs);
		int r;

		if (t == XBT_NULL)
			return errno ? -errno : -EIO;
		r = fn(xs, t, arg);
		if (r <= 0) {
			xs_transaction_end(xs, t, true);
			return r;
		}
		if (xs_transaction_end(xs, t, false))
			return 1;
		if (errno != EAGAIN)
			return errno ? -errno : -EIO;
	}
	return -EAGAIN;
}
