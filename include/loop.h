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
void loop_free(struct loop *l);
/* Watch fd (level-triggered) for `events` (EPOLLIN...); 0 or -errno. */
int loop_add(struct loop *l, int fd, uint32_t events, loop_fn fn, void *opaque);
int loop_del(struct loop *l, int fd);
/* Dispatch until loop_stop(); returns 0, or -errno if epoll itself failed. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
