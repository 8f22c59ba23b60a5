/* SPDX-License-Identifier: GPL-2.0-only */
/* The event loop: one epoll set, file descriptors with callbacks. Knows
 * nothing of Xen or virtio. Single-threaded: every callback runs on the
 * thread that called loop_run(). */
#ifndef XVB_LOOP_H
#define XVB_LOOP_H

#include <stdint.h>

struct loop;
typedef void (*loop_fn)(void *opaque, uint32_t epoll_events);

struct loop *loop_new(void);
/* Forget every watch (the fds stay open: they belong to the callers). */
void loop_free(struct loop *l);
/* Watch fd (level-triggered) for `events` (EPOLLIN...); 0 or -errno
 * (-EEXIST if fd is already watched). Callbacks may add and delete fds,
 * their own included: a deleted fd's callback is never called again, even
 * for events already fetched in the same round. */
int loop_add(struct loop *l, int fd, uint32_t events, loop_fn fn, void *opaque);
/* Stop watching fd; call before closing it. 0 or -errno (-ENOENT if fd is
 * not watched); the watch is forgotten even if epoll complains. */
int loop_del(struct loop *l, int fd);
/* Dispatch until loop_stop(); returns 0, or -errno if epoll itself failed.
 * A loop_stop() made before loop_run() makes it return at once. */
int loop_run(struct loop *l);
/* Return from loop_run() after the current callback. */
void loop_stop(struct loop *l);

#endif
