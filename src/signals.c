/* SPDX-License-Identifier: GPL-2.0-only */
/* signalfd for SIGTERM/SIGINT/SIGHUP/SIGUSR1/SIGCHLD; SIGPIPE ignored. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "signals.h"

struct signals {
	struct loop *loop;
	int fd;
	void (*fn)(void *opaque, int signo);
	void *opaque;
};

void signals_handled_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGCHLD);
}

int signals_block(char *err, size_t errlen)
{
	struct sigaction sa = {.sa_handler = SIG_IGN};
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t set;
	int r;

	if (sigaction(SIGPIPE, &sa, NULL) < 0) {
		snprintf(err, errlen, "cannot ignore SIGPIPE: %s",
			 strerror(errno));
		return -1;
	}
	signals_handled_set(&set);
	/* Blocked before the defaults come back: one arriving in between
	 * would otherwise end the process with the default action. */
	r = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (r) {
		snprintf(
		    err, errlen,
		    "cannot block SIGTERM/SIGINT/SIGHUP/SIGUSR1/SIGCHLD: %s",
		    strerror(r));
		return -1;
	}
	/* A starter may hand us any of them ignored (nohup ignores SIGHUP;
	 * an ignored SIGCHLD survives exec and has the kernel reap children
	 * without a signal, so the supervisor would never see one die). */
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&set, sig) == 1 &&
		    sigaction(sig, &dfl, NULL) < 0) {
			snprintf(err, errlen, "cannot reset signal %d: %s", sig,
				 strerror(errno));
			return -1;
		}
	return 0;
}

/* One signal per call: the loop is level-triggered and calls again while
 * more are queued, and fn may stop the loop in between. */
static void signals_ready(void *opaque, uint32_t events)
{
	struct signals *s = opaque;
	struct signalfd_siginfo si;
	ssize_t n;

	(void)events;
	n = read(s->fd, &si, sizeof(si));
	if (n != (ssize_t)sizeof(si))
		return; /* EAGAIN/EINTR: nothing (more) to read */
	s->fn(s->opaque, (int)si.ssi_signo);
}

struct signals *signals_new(struct loop *loop,
			    void (*fn)(void *opaque, int signo), void *opaque,
			    char *err, size_t errlen)
{
	struct signals *s = calloc(1, sizeof(*s));
	sigset_t set;
	int r;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	signals_handled_set(&set);
	s->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->fd < 0) {
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		free(s);
		return NULL;
	}
	s->loop = loop;
	s->fn = fn;
	s->opaque = opaque;
	r = loop_add(loop, s->fd, EPOLLIN, signals_ready, s);
	if (r) {
		snprintf(err, errlen, "cannot watch the signalfd: %s",
			 strerror(-r));
		close(s->fd);
		free(s);
		return NULL;
	}
	return s;
}

void signals_free(struct signals *s)
{
	if (!s)
		return;
	loop_del(s->loop, s->fd);
	close(s->fd);
	free(s);
}
