/* SPDX-License-Identifier: GPL-2.0-only */
/* The event loop's timers and pollers (loop.h): timers fire once, never
 * early, and can be moved, cancelled or freed from a callback; pollers run
 * only with a polling window, keep running while they find work, and the
 * loop goes back to sleep once the window has passed without any. A loop
 * with a lock runs no callback while another thread holds it. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "unit.h"

struct fired {
	struct loop *loop;
	unsigned n;
	uint64_t at;
	bool stop;
};

static void on_timer(void *opaque)
{
	struct fired *f = opaque;

	f->n++;
	f->at = loop_now_us();
	if (f->stop)
		loop_stop(f->loop);
}

static void test_timers(void)
{
	struct loop *l = loop_new();
	struct fired a = {l, 0, 0, false}, b = {l, 0, 0, false},
		     end = {l, 0, 0, true};
	struct loop_timer *ta = loop_timer_new(l, on_timer, &a);
	struct loop_timer *tb = loop_timer_new(l, on_timer, &b);
	struct loop_timer *te = loop_timer_new(l, on_timer, &end);
	uint64_t start = loop_now_us();

	CHECK(ta && tb && te);
	loop_timer_arm(ta, 20000);
	loop_timer_arm(tb, 5000);
	loop_timer_cancel(tb);
	loop_timer_arm(te, 60000);
	/* Re-arming moves the deadline. */
	loop_timer_arm(ta, 30000);
	CHECK_EQ(loop_run(l), 0);
	CHECK_EQ(a.n, 1);
	CHECK(a.at - start >= 30000);
	CHECK_EQ(b.n, 0);
	CHECK_EQ(end.n, 1);
	CHECK(end.at - start >= 60000);
	loop_timer_free(tb);
	/* The loop frees what is left. */
	loop_free(l);
}

/* A timer re-armed from its own fn, `left` more times, then stops. */
struct chain {
	struct loop *loop;
	struct loop_timer *t;
	unsigned left;
	uint64_t us;
};

static void on_chain(void *opaque)
{
	struct chain *c = opaque;

	if (c->left--)
		loop_timer_arm(c->t, c->us);
	else
		loop_stop(c->loop);
}

/* Timers shorter than a millisecond are not rounded up to one (an
 * auto-sized idle grace is tens of µs on hardware): 20 waits of 100 µs
 * take 2 ms and more, never the 20 ms whole milliseconds would. */
static void test_timers_below_ms(void)
{
	struct loop *l = loop_new();
	struct chain c = {l, NULL, 19, 100};
	uint64_t start, took;

	c.t = loop_timer_new(l, on_chain, &c);
	CHECK(c.t != NULL);
	start = loop_now_us();
	loop_timer_arm(c.t, c.us);
	CHECK_EQ(loop_run(l), 0);
	took = loop_now_us() - start;
	CHECK(took >= 20 * 100);
	CHECK(took < 20 * 1000);
	loop_free(l);
}

/* After a stall several timers are due at once: they fire by deadline,
 * not by when each was created (the stopping one, created last, would
 * otherwise run first and the earlier one never). */
static void test_timers_due_together(void)
{
	struct loop *l = loop_new();
	struct fired a = {l, 0, 0, false}, end = {l, 0, 0, true};
	struct loop_timer *ta = loop_timer_new(l, on_timer, &a);
	struct loop_timer *te = loop_timer_new(l, on_timer, &end);

	CHECK(ta && te);
	loop_timer_arm(ta, 1000);
	loop_timer_arm(te, 2000);
	usleep(10000);
	CHECK_EQ(loop_run(l), 0);
	CHECK_EQ(a.n, 1);
	CHECK_EQ(end.n, 1);
	CHECK(a.at <= end.at);
	loop_free(l);
}

struct spinner {
	struct loop *loop;
	struct loop_timer *t;
	unsigned fires;
	bool fd_seen;
};

static void rearm_now(void *opaque)
{
	struct spinner *s = opaque;

	/* Failsafe: a starving loop would never see the fd. */
	if (++s->fires >= 100000) {
		loop_stop(s->loop);
		return;
	}
	loop_timer_arm(s->t, 0);
}

static void on_fd(void *opaque, uint32_t ev)
{
	struct spinner *s = opaque;

	(void)ev;
	s->fd_seen = true;
	loop_stop(s->loop);
}

/* A timer that keeps re-arming itself for "now" (more work left) fires
 * once a round: the fds are looked at in between. */
static void test_timer_rearmed_now(void)
{
	struct loop *l = loop_new();
	struct spinner s = {.loop = l};
	int fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);

	s.t = loop_timer_new(l, rearm_now, &s);
	CHECK(fd >= 0 && s.t);
	CHECK_EQ(loop_add(l, fd, EPOLLIN, on_fd, &s), 0);
	loop_timer_arm(s.t, 0);
	CHECK_EQ(loop_run(l), 0);
	CHECK(s.fd_seen);
	CHECK(s.fires < 10);
	loop_del(l, fd);
	close(fd);
	loop_free(l);
}

struct poll_state {
	struct loop *loop;
	unsigned calls, work_left;
	uint64_t start, last_work, last_call;
	unsigned idle_calls; /* between start + 10 ms and start + 90 ms */
	bool delete_self;
};

static bool poller(void *opaque)
{
	struct poll_state *p = opaque;

	uint64_t now = loop_now_us();

	p->calls++;
	p->last_call = now;
	if (p->start && now - p->start >= 10000 && now - p->start < 90000)
		p->idle_calls++;
	if (p->delete_self) {
		loop_del_poller(p->loop, poller, p);
		return false;
	}
	if (!p->work_left)
		return false;
	p->work_left--;
	p->last_work = now;
	return true;
}

static void kick(void *opaque)
{
	(void)opaque; /* a timer stands for an event: the loop woke up */
}

static void test_pollers(void)
{
	struct loop *l = loop_new();
	struct poll_state p = {.loop = l}, q = {.loop = l, .delete_self = true};
	struct fired end = {l, 0, 0, true};
	struct loop_timer *te = loop_timer_new(l, on_timer, &end);
	struct loop_timer *tk = loop_timer_new(l, kick, NULL);
	uint64_t start;

	/* No window: pollers are never called. */
	CHECK_EQ(loop_add_poller(l, poller, &p), 0);
	p.work_left = 3;
	loop_timer_arm(te, 10000);
	CHECK_EQ(loop_run(l), 0);
	CHECK_EQ(p.calls, 0);

	/* A 2 ms window: after a wake-up (the kick, 1 ms on) the pollers
	 * run, keep running while they find work and 2 ms more, then the
	 * loop sleeps until the end timer, 100 ms on: no calls in between. */
	loop_set_poll(l, 2000);
	start = p.start = loop_now_us();
	loop_timer_arm(tk, 1000);
	loop_timer_arm(te, 100000);
	CHECK_EQ(loop_run(l), 0);
	CHECK(p.calls > 3);
	CHECK_EQ(p.work_left, 0);
	CHECK(p.last_work - start >= 1000);
	CHECK_EQ(p.idle_calls, 0);
	CHECK(end.at - start >= 100000);

	/* Without a window, an expectation alone keeps one poller called
	 * (and only it) until it runs out: 5 ms from the kick here. */
	loop_set_poll(l, 0);
	p.calls = q.calls = 0;
	p.start = 0;
	CHECK_EQ(loop_add_poller(l, poller, &q), 0);
	q.delete_self = false;
	loop_poller_expect(l, poller, &p, 5000);
	start = loop_now_us();
	loop_timer_arm(te, 50000);
	CHECK_EQ(loop_run(l), 0);
	CHECK(p.calls > 1);
	/* Polled on past the first millisecond (not 5 ms: a loaded machine
	 * may take the CPU away for most of the window), and stopped. */
	CHECK(p.last_call - start >= 1000);
	CHECK(p.last_call - start < 40000);
	CHECK_EQ(q.calls, 0);
	loop_del_poller(l, poller, &q);
	q.delete_self = true;

	/* A poller may delete itself while the pollers run. */
	loop_set_poll(l, 2000);
	CHECK_EQ(loop_add_poller(l, poller, &q), 0);
	loop_timer_arm(tk, 1000);
	loop_timer_arm(te, 20000);
	CHECK_EQ(loop_run(l), 0);
	CHECK_EQ(q.calls, 1);
	loop_del_poller(l, poller, &p);
	loop_free(l);
}

struct locked {
	struct loop *loop;
	pthread_mutex_t lock;
	int fd;
	unsigned calls; /* under lock */
	bool held;	/* under lock: set by whoever holds it from outside */
	bool overlap;	/* a callback ran while the outside held the lock */
};

static void locked_event(void *opaque, uint32_t events)
{
	struct locked *k = opaque;
	uint64_t v;

	(void)events;
	if (read(k->fd, &v, sizeof(v)) < 0)
		return;
	if (k->held)
		k->overlap = true;
	if (++k->calls == 2)
		loop_stop(k->loop);
}

static void *run_locked(void *opaque)
{
	struct locked *k = opaque;

	loop_run(k->loop);
	return NULL;
}

/* The loop thread holds the lock around its callbacks and lets go of it
 * while it waits: an event arriving while another thread holds the lock
 * is served only once that thread lets go. */
static void test_lock(void)
{
	struct locked k = {.loop = loop_new()};
	struct timespec pause = {0, 20 * 1000 * 1000};
	uint64_t one = 1;
	pthread_t th;
	unsigned calls;

	pthread_mutex_init(&k.lock, NULL);
	k.fd = eventfd(0, EFD_NONBLOCK);
	CHECK(k.fd >= 0);
	CHECK_EQ(loop_add(k.loop, k.fd, EPOLLIN, locked_event, &k), 0);
	loop_set_lock(k.loop, &k.lock);
	CHECK_EQ(pthread_create(&th, NULL, run_locked, &k), 0);
	/* The loop is waiting, so it does not hold the lock: this returns. */
	pthread_mutex_lock(&k.lock);
	k.held = true;
	CHECK_EQ(write(k.fd, &one, sizeof(one)), 8);
	nanosleep(&pause, NULL); /* the loop wakes and waits for the lock */
	calls = k.calls;
	k.held = false;
	pthread_mutex_unlock(&k.lock);
	CHECK_EQ(calls, 0);
	/* A second event once the first was served; then it stops. */
	for (;;) {
		pthread_mutex_lock(&k.lock);
		calls = k.calls;
		pthread_mutex_unlock(&k.lock);
		if (calls)
			break;
		nanosleep(&pause, NULL);
	}
	CHECK_EQ(write(k.fd, &one, sizeof(one)), 8);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(k.calls, 2);
	CHECK(!k.overlap);
	/* loop_run() returned without holding it. */
	CHECK_EQ(pthread_mutex_trylock(&k.lock), 0);
	pthread_mutex_unlock(&k.lock);
	loop_free(k.loop);
	close(k.fd);
	pthread_mutex_destroy(&k.lock);
}

int main(void)
{
	UNIT_RUN(test_timers);
	UNIT_RUN(test_timers_below_ms);
	UNIT_RUN(test_timers_due_together);
	UNIT_RUN(test_timer_rearmed_now);
	UNIT_RUN(test_pollers);
	UNIT_RUN(test_lock);
	return UNIT_DONE();
}
