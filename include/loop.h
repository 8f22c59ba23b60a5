/* SPDX-License-Identifier: GPL-2.0-only */
/* The event loop: one epoll set, file descriptors with callbacks. Knows
 * nothing of Xen or virtio. Single-threaded: every callback runs on the
 * thread that called loop_run(), and while it runs only that thread may
 * call the functions below on it (loop_set_lock() says how other threads
 * share the callbacks' state). */
#ifndef XVB_LOOP_H
#define XVB_LOOP_H

#include <pthread.h>
#include <stdbool.h>
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
/* A loop run on a thread of its own may share its callbacks' state with
 * other threads: with a lock set, loop_run() holds it while it runs
 * callbacks, timers and pollers and lets go of it only while it waits, so
 * another thread holding it knows none of them is running. Set before
 * loop_run(); NULL (the default) for none. */
void loop_set_lock(struct loop *l, pthread_mutex_t *lock);

/* One-shot timers, kept by the loop and served between epoll rounds:
 * arming costs no system call (the wait's timeout carries the nearest
 * deadline, in whole milliseconds, never early). */
struct loop_timer;
struct loop_timer *loop_timer_new(struct loop *l, void (*fn)(void *opaque),
				  void *opaque);
/* Call fn once, `usec` microseconds from now; re-arming moves the deadline. */
void loop_timer_arm(struct loop_timer *t, uint64_t usec);
void loop_timer_cancel(struct loop_timer *t);
void loop_timer_free(struct loop_timer *t);
/* Monotonic time in microseconds, as the timers see it. */
uint64_t loop_now_us(void);
/* The same clock in nanoseconds, for statistics. */
uint64_t loop_now_ns(void);

/* Polling (off unless loop_set_poll() gives a window). A poller looks at
 * memory it shares with a producer (an ioreq slot, the kernel's AIO ring)
 * and does the work it finds, returning whether it found any. After any
 * work the loop keeps calling the pollers instead of sleeping until `usec`
 * microseconds pass without work, looking at its fds in between, so that
 * the next request is seen without the wake-up of a sleeping thread. */
typedef bool (*loop_poll_fn)(void *opaque);
int loop_add_poller(struct loop *l, loop_poll_fn fn, void *opaque);
void loop_del_poller(struct loop *l, loop_poll_fn fn, void *opaque);
void loop_set_poll(struct loop *l, unsigned usec);
/* Whatever the window, keep calling this poller for up to `usec` from now
 * (0: stop): its producer has just been given a reason to come back soon. */
void loop_poller_expect(struct loop *l, loop_poll_fn fn, void *opaque,
			unsigned usec);

#endif
