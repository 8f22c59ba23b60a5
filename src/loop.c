/* SPDX-License-Identifier: GPL-2.0-only */
/* epoll, level-triggered, with one heap record per watched fd. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"

#define LOOP_BATCH 64

struct watch {
	int fd;
	bool deleted;
	loop_fn fn;
	void *opaque;
	struct watch *next;
};

struct loop {
	int epfd;
	bool stop;
	bool dispatching;
	struct watch *watches;
	/* Deleted during a dispatch round: events already fetched may still
	 * point at them, so they are freed only when the round is over. */
	struct watch *graveyard;
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

int loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_BATCH];
	int ret = 0;

	while (!l->stop) {
		int n = epoll_wait(l->epfd, evs, LOOP_BATCH, -1);

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
	}
	l->stop = false;
	return ret;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}
