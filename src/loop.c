/* SPDX-License-Identifier: GPL-2.0-only */
/* epoll, level-triggered, with one heap record per watched fd. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define LOOP_BATCH 64
/* While polling, the fds are looked at (epoll, no wait) this often. */
#define LOOP_POLL_SLICE_US 50

struct watch {
	int fd;
	bool deleted;
	loop_fn fn;
	void *opaque;
	struct watch *next;
};

struct poller {
	loop_poll_fn fn;
	void *opaque;
	uint64_t expect_until; /* loop_poller_expect() */
	struct poller *next;
};

struct loop_timer {
	struct loop *loop;
	bool armed;
	uint64_t deadline; /* loop_now_us() */
	unsigned round;	   /* run_timers() round it last fired in */
	void (*fn)(void *opaque);
	void *opaque;
	struct loop_timer *next;
};

struct loop {
	int epfd;
	struct loop_timer *timers;
	unsigned timer_round;
	unsigned poll_us;
	bool in_poll;
	struct poller *pollers;
	bool stop;
	bool dispatching;
	struct watch *watches;
	/* Deleted during a dispatch round: events already fetched may still
	 * point at them, so they are freed only when the round is over. */
	struct watch *graveyard;
	pthread_mutex_t *lock; /* loop_set_lock() */
	bool no_pwait2;	       /* the kernel lacks epoll_pwait2 (< 5.11) */
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

static void free_list(struct watch *w)
{
	while (w) {
		struct watch *next = w->next;

		free(w);
		w = next;
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	while (l->pollers)
		loop_del_poller(l, l->pollers->fn, l->pollers->opaque);
	while (l->timers)
		loop_timer_free(l->timers);
	free_list(l->watches);
	free_list(l->graveyard);
	close(l->epfd);
	free(l);
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_fn fn, void *opaque)
{
	struct epoll_event ev = {.events = events};
	struct watch *w;

	for (w = l->watches; w; w = w->next)
		if (w->fd == fd)
			return -EEXIST;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->fn = fn;
	w->opaque = opaque;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		free(w);
		return err;
	}
	w->next = l->watches;
	l->watches = w;
	return 0;
}

int loop_del(struct loop *l, int fd)
{
	struct watch **pp, *w;
	int ret = 0;

	for (pp = &l->watches; *pp; pp = &(*pp)->next)
		if ((*pp)->fd == fd)
			break;
	w = *pp;
	if (!w)
		return -ENOENT;
	*pp = w->next;
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
		ret = -errno;
	w->deleted = true;
	if (l->dispatching) {
		w->next = l->graveyard;
		l->graveyard = w;
	} else {
		free(w);
	}
	return ret;
}

int loop_add_poller(struct loop *l, loop_poll_fn fn, void *opaque)
{
	struct poller *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->fn = fn;
	p->opaque = opaque;
	p->next = l->pollers;
	l->pollers = p;
	return 0;
}

void loop_del_poller(struct loop *l, loop_poll_fn fn, void *opaque)
{
	for (struct poller **pp = &l->pollers; *pp; pp = &(*pp)->next) {
		struct poller *p = *pp;

		if (p->fn != fn || p->opaque != opaque)
			continue;
		if (l->in_poll) {
			/* poll_slice() is walking the list: unlink later. */
			p->fn = NULL;
			return;
		}
		*pp = p->next;
		free(p);
		return;
	}
}

static void reap_pollers(struct loop *l)
{
	struct poller **pp = &l->pollers;

	while (*pp) {
		struct poller *p = *pp;

		if (p->fn) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		free(p);
	}
}

void loop_set_poll(struct loop *l, unsigned usec)
{
	l->poll_us = usec;
}

void loop_poller_expect(struct loop *l, loop_poll_fn fn, void *opaque,
			unsigned usec)
{
	for (struct poller *p = l->pollers; p; p = p->next)
		if (p->fn == fn && p->opaque == opaque)
			p->expect_until = usec ? loop_now_us() + usec : 0;
}

/* Whether a poller still expects something; expired ones are cleared so
 * that an idle loop stops looking (any_expectation). */
static bool expecting(struct loop *l, uint64_t now)
{
	bool any = false;

	for (struct poller *p = l->pollers; p; p = p->next) {
		if (p->expect_until && now >= p->expect_until)
			p->expect_until = 0;
		any |= p->fn && p->expect_until;
	}
	return any;
}

static bool any_expectation(const struct loop *l)
{
	for (const struct poller *p = l->pollers; p; p = p->next)
		if (p->expect_until)
			return true;
	return false;
}

uint64_t loop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t loop_now_us(void)
{
	return loop_now_ns() / 1000u;
}

struct loop_timer *loop_timer_new(struct loop *l, void (*fn)(void *opaque),
				  void *opaque)
{
	struct loop_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->loop = l;
	t->fn = fn;
	t->opaque = opaque;
	t->next = l->timers;
	l->timers = t;
	return t;
}

void loop_timer_arm(struct loop_timer *t, uint64_t usec)
{
	t->deadline = loop_now_us() + usec;
	t->armed = true;
}

void loop_timer_cancel(struct loop_timer *t)
{
	t->armed = false;
}

void loop_timer_free(struct loop_timer *t)
{
	if (!t)
		return;
	for (struct loop_timer **pp = &t->loop->timers; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	free(t);
}

/* The earliest armed deadline, or UINT64_MAX. */
static uint64_t next_deadline(const struct loop *l)
{
	uint64_t next = UINT64_MAX;

	for (const struct loop_timer *t = l->timers; t; t = t->next)
		if (t->armed && t->deadline < next)
			next = t->deadline;
	return next;
}

/* Fire the expired timers, earliest deadline first (after a long stall
 * several are due at once, and their order must not depend on when each
 * was created), one at a time: a timer's fn may arm, cancel or free
 * timers. Return the wait until the next deadline in µs, or -1 if none is
 * armed. */
static int64_t run_timers(struct loop *l)
{
	uint64_t now, next = next_deadline(l);

	/* Nothing armed (the usual case between bursts): no clock read. */
	if (next == UINT64_MAX)
		return -1;
	/* Each timer fires at most once a round: one re-armed for "now"
	 * waits until the fds have been looked at. */
	l->timer_round++;
	now = loop_now_us();
	while (next <= now && !l->stop) {
		struct loop_timer *t = NULL;

		for (struct loop_timer *c = l->timers; c; c = c->next)
			if (c->armed && c->deadline <= now &&
			    c->round != l->timer_round &&
			    (!t || c->deadline < t->deadline))
				t = c;
		if (!t)
			break;
		t->armed = false;
		t->round = l->timer_round;
		t->fn(t->opaque); /* may arm, cancel or free any timer */
		next = next_deadline(l);
	}
	if (next == UINT64_MAX)
		return -1;
	return next > now ? (int64_t)(next - now) : 0;
}

/* Wait for events for up to wait_us (-1: for ever). Timers are in µs and
 * some are shorter than a millisecond (a grace sized by the guest's
 * reaction, docs/performance.md change 13): epoll_wait() would round
 * each up to a whole ms, so epoll_pwait2() where the kernel has it. */
static int wait_events(struct loop *l, struct epoll_event *evs, int64_t wait_us)
{
	struct timespec ts = {.tv_sec = (time_t)(wait_us / 1000000),
			      .tv_nsec = (long)(wait_us % 1000000) * 1000};
	int64_t ms = (wait_us + 999) / 1000;
	int n;

	if (!l->no_pwait2) {
		n = epoll_pwait2(l->epfd, evs, LOOP_BATCH,
				 wait_us < 0 ? NULL : &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		l->no_pwait2 = true;
	}
	return epoll_wait(l->epfd, evs, LOOP_BATCH,
			  wait_us < 0	 ? -1
			  : ms > INT_MAX ? INT_MAX
					 : (int)ms);
}

/* Call the pollers until the window since the last work (*last) closes
 * and no poller expects anything (returns false: time to sleep) or a slice
 * has passed (returns true: look at the fds, then come back). Outside the
 * window only the expecting pollers are called. A poller may stop the
 * loop. */
static bool poll_slice(struct loop *l, uint64_t *last, uint64_t start)
{
	uint64_t now = start;

	for (;;) {
		bool open = l->poll_us && now - *last < l->poll_us;
		bool work = false;

		l->in_poll = true;
		for (struct poller *p = l->pollers; p && !l->stop; p = p->next)
			if (p->fn && (open || now < p->expect_until))
				work |= p->fn(p->opaque);
		l->in_poll = false;
		reap_pollers(l);
		now = loop_now_us();
		if (work)
			*last = now;
		if (l->stop)
			return false;
		if ((!l->poll_us || now - *last >= l->poll_us) &&
		    !expecting(l, now))
			return false;
		if (now - start >= LOOP_POLL_SLICE_US)
			return true;
	}
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_BATCH];
	uint64_t last_work = 0;
	bool polling = false;
	int ret = 0;

	if (l->lock)
		pthread_mutex_lock(l->lock);
	while (!l->stop) {
		int64_t timeout = run_timers(l);
		uint64_t now;
		int n;

		if (l->stop)
			break;
		/* An expectation set outside a round (or by a timer) is
		 * honoured before any sleep. */
		if (!polling && any_expectation(l))
			polling = true;
		if (l->lock)
			pthread_mutex_unlock(l->lock);
		n = wait_events(l, evs, polling ? 0 : timeout);
		if (l->lock)
			pthread_mutex_lock(l->lock);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		l->dispatching = true;
		for (int i = 0; i < n && !l->stop; i++) {
			struct watch *w = evs[i].data.ptr;

			if (!w->deleted)
				w->fn(w->opaque, evs[i].events);
		}
		l->dispatching = false;
		free_list(l->graveyard);
		l->graveyard = NULL;
		if (!l->pollers || (!l->poll_us && !any_expectation(l))) {
			polling = false;
			continue;
		}
		now = loop_now_us();
		/* Events, or the end of a real wait (a timer): activity. */
		if (n > 0 || !polling)
			last_work = now;
		polling = poll_slice(l, &last_work, now);
	}
	l->stop = false;
	if (l->lock)
		pthread_mutex_unlock(l->lock);
	return ret;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}

void loop_set_lock(struct loop *l, pthread_mutex_t *lock)
{
	l->lock = lock;
}
