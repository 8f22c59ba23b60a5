/* SPDX-License-Identifier: GPL-2.0-only */
/* The simulated hypervisor's socket server: a listener thread accepting
 * connections on $XEN_SIM_SOCKET (SOCK_SEQPACKET) and one thread per
 * connection answering requests (sim_proto.h). The listener also watches
 * the daemon's pidfd and forks the daemon, so the daemon's parent-death
 * signal is tied to the hypervisor's lifetime rather than to whichever
 * thread called sim_hv_spawn().
 *
 * A connection is one library handle; closing it (or the daemon dying)
 * releases what the handle owned, as Linux releases /dev/xen/evtchn bindings
 * on close. A peer that misbehaves (short or truncated message, fds sent to
 * us) is disconnected; nothing it sends can hang or crash the hypervisor.
 *
 * Each connecting process (SO_PEERCRED) is tracked with a pidfd, whoever
 * started it (the daemon, or a backend process its supervisor forked): when
 * it dies, what it still mapped is released, as Linux tears down a dead
 * process's privcmd mappings; when the hypervisor stops, it is killed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "hv_internal.h"

struct hv_conn {
	struct hv_conn *next;
	struct sim_hv *hv;
	int fd;
	pthread_t thread;
	bool finished;
	uint32_t kind;
	struct hv_evh *evh;
	struct hv_xs_conn *xs;
	struct hv_proc *proc; /* NULL if the peer could not be identified */
};

struct hv_spawn_req {
	char *const *argv;
	char *const *envp;
	int stderr_fd;
	pid_t pid;
	int err;
	bool done;
};

struct hv_proc *hv_conn_proc(struct hv_conn *c)
{
	return c->proc;
}

struct hv_xs_conn *hv_conn_xs(struct hv_conn *c)
{
	return c->xs;
}

void hv_conn_set_xs(struct hv_conn *c, struct hv_xs_conn *x)
{
	c->xs = x;
}

struct hv_evh *hv_conn_evh(struct hv_conn *c)
{
	return c->evh;
}

static int send_msg(int fd, const struct sim_wire *w, const char *tail,
		    const int *fds, int nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * SIM_MAX_FDS)];
	} u;
	struct iovec iov[2] = {
	    {.iov_base = (void *)w, .iov_len = sizeof(*w)},
	    {.iov_base = (void *)tail, .iov_len = w->tail_len},
	};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t n;

	if (nfds > 0) {
		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	do {
		n = sendmsg(fd, &m, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/* Receive one request; returns its length, 0 at EOF, -1 on a bad peer. */
static ssize_t recv_msg(int fd, char *buf)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * SIM_MAX_FDS)];
	} u;
	struct iovec iov = {.iov_base = buf, .iov_len = SIM_MSG_MAX};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = u.buf,
			   .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c;
	ssize_t n;

	do {
		n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -1 : 0;
	/* The libraries never send fds: close any, then refuse the peer. */
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int fds[SIM_MAX_FDS];
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			memcpy(fds, CMSG_DATA(c), k * sizeof(int));
			while (k--)
				close(fds[k]);
			return -1;
		}
	}
	if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -1;
	if ((size_t)n < sizeof(struct sim_wire))
		return -1;
	const struct sim_wire *w = (const void *)buf;
	if (w->tail_len != (size_t)n - sizeof(*w))
		return -1;
	return n;
}

static int do_hello(struct sim_hv *hv, struct hv_conn *c,
		    const struct sim_wire *req, struct sim_wire *rep,
		    char *rtail, int *fds, int *nfds)
{
	struct sim_hello h = {
	    .magic = SIM_PROTO_MAGIC,
	    .version = SIM_PROTO_VERSION,
	    .domid = hv->cfg.domid,
	    .vcpus = hv->cfg.vcpus,
	    .ram_bytes = hv->cfg.ram_bytes,
	    .verbose = hv->cfg.verbose,
	};
	uint32_t kind = req->a.u32[0];
	int rc;

	if (c->kind)
		return -EALREADY;
	if (req->a.u32[1] != SIM_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (kind == SIM_KIND_XS) {
		int efd;

		/* Nothing listens on xenstored's socket any more. */
		if (hv_xs_dead(hv->xs))
			return -ECONNREFUSED;
		c->xs = hv_xs_conn_new(hv->xs, &efd);
		if (!c->xs)
			return -ENOMEM;
		fds[0] = efd;
		*nfds = 1;
	} else {
		rc = hv_hello(hv, kind, c->proc, &c->evh, fds, nfds);
		if (rc)
			return rc;
	}
	c->kind = kind;
	memcpy(rtail, &h, sizeof(h));
	rep->tail_len = sizeof(h);
	return 0;
}

static void *conn_thread(void *arg)
{
	struct hv_conn *c = arg;
	struct sim_hv *hv = c->hv;
	char *buf = malloc(SIM_MSG_MAX), *rbuf = malloc(SIM_MSG_MAX);

	while (buf && rbuf) {
		ssize_t n = recv_msg(c->fd, buf);
		const struct sim_wire *req = (const void *)buf;
		struct sim_wire *rep = (void *)rbuf;
		char *rtail = rbuf + sizeof(*rep);
		const char *tail = buf + sizeof(*req);
		int fds[SIM_MAX_FDS], nfds = 0, rc, i;

		if (n <= 0)
			break;
		memset(rep, 0, sizeof(*rep));
		rep->op = req->op;
		pthread_mutex_lock(&hv->lock);
		if (req->op == SIM_OP_HELLO)
			rc = do_hello(hv, c, req, rep, rtail, fds, &nfds);
		else if (!c->kind)
			rc = -EPROTO;
		else if (c->kind == SIM_KIND_XS && req->op >= SIM_OP_XS_READ &&
			 req->op != SIM_OP_XS_INTRODUCED) {
			rc = hv_xs_handle(hv->xs, c->xs, req, tail, rep, rtail);
			/* sim_hv_xs_wait / sim_hv_xs_settle look again */
			pthread_cond_broadcast(&hv->cond);
		} else
			rc = hv_handle(hv, c, c->kind, req, tail, rep, rtail,
				       fds, &nfds);
		/* Send duplicates: once the lock is dropped the originals may
		 * be closed (server destroyed) and their numbers reused. */
		for (i = 0; i < nfds; i++) {
			fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
			if (fds[i] < 0) {
				while (i--)
					close(fds[i]);
				nfds = 0;
				rc = -EMFILE;
				break;
			}
		}
		pthread_mutex_unlock(&hv->lock);
		rep->rc = rc;
		if (rc)
			rep->tail_len = 0;
		rc = send_msg(c->fd, rep, rtail, fds, rc ? 0 : nfds);
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		if (rc)
			break;
	}
	free(buf);
	free(rbuf);
	/* The peer sees EOF now; the fd itself is closed when the listener
	 * reaps this thread (so hv_server_stop never acts on a reused fd). */
	shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_lock(&hv->lock);
	if (c->evh) {
		hv_evh_release(hv, c->evh);
		c->evh = NULL;
	}
	if (c->xs) {
		hv_xs_conn_free(hv->xs, c->xs);
		c->xs = NULL;
		pthread_cond_broadcast(&hv->cond);
	}
	c->finished = true;
	pthread_mutex_unlock(&hv->lock);
	{
		uint64_t one = 1;

		if (write(hv->wake_efd, &one, sizeof(one)) < 0) {
			/* the listener reaps at its next wake-up anyway */
		}
	}
	return NULL;
}

unsigned sim_hv_proc_conns(struct sim_hv *hv, pid_t pid, uint32_t kind)
{
	unsigned n = 0;

	pthread_mutex_lock(&hv->lock);
	for (struct hv_conn *c = hv->conns; c; c = c->next)
		if (c->proc && c->proc->pid == pid && c->kind == kind &&
		    !c->finished)
			n++;
	pthread_mutex_unlock(&hv->lock);
	return n;
}

static void reap_conns(struct sim_hv *hv, bool all)
{
	struct hv_conn *done = NULL, **pp, *c;

	pthread_mutex_lock(&hv->lock);
	for (pp = &hv->conns; (c = *pp);) {
		if (all || c->finished) {
			*pp = c->next;
			c->next = done;
			done = c;
		} else {
			pp = &c->next;
		}
	}
	pthread_mutex_unlock(&hv->lock);
	while ((c = done)) {
		done = c->next;
		pthread_join(c->thread, NULL);
		close(c->fd);
		free(c);
	}
}

/* The process behind a new connection (lock held): known, or tracked
 * from now on. NULL if it cannot be identified. */
static struct hv_proc *proc_of(struct sim_hv *hv, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct hv_proc *p;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    cr.pid <= 0)
		return NULL;
	for (p = hv->procs; p; p = p->next)
		if (p->pid == cr.pid && !p->dead)
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = cr.pid;
	p->memfd = -1;
	p->pidfd = (int)syscall(SYS_pidfd_open, cr.pid, 0);
	if (p->pidfd < 0) {
		/* Already gone: nothing of it to release later. */
		p->dead = true;
	} else {
		fcntl(p->pidfd, F_SETFD, FD_CLOEXEC);
	}
	p->next = hv->procs;
	hv->procs = p;
	hv_log(hv, "process %d connected", (int)cr.pid);
	return p;
}

static void procs_free(struct sim_hv *hv)
{
	struct hv_proc *p;

	while ((p = hv->procs)) {
		hv->procs = p->next;
		if (p->pidfd >= 0)
			close(p->pidfd);
		if (p->page)
			munmap(p->page, SIM_PROC_SHARED_SIZE);
		if (p->memfd >= 0)
			close(p->memfd);
		free(p);
	}
}

static void accept_one(struct sim_hv *hv)
{
	struct hv_conn *c;
	int fd = accept4(hv->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->hv = hv;
	c->fd = fd;
	/* Before the thread runs: its hello needs the process. */
	pthread_mutex_lock(&hv->lock);
	c->proc = proc_of(hv, fd);
	pthread_mutex_unlock(&hv->lock);
	if (pthread_create(&c->thread, NULL, conn_thread, c)) {
		close(fd);
		free(c);
		return;
	}
	pthread_mutex_lock(&hv->lock);
	c->next = hv->conns;
	hv->conns = c;
	pthread_mutex_unlock(&hv->lock);
}

void sim_exec_child(char *const argv[], char *const envp[], int stderr_fd,
		    pid_t parent)
{
	struct sigaction sa;
	sigset_t all;
	int s;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (s = 1; s < NSIG; s++)
		sigaction(s, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (stderr_fd >= 0 && stderr_fd != 2 && dup2(stderr_fd, 2) < 0)
		_exit(127);
	execve(argv[0], argv, envp);
	_exit(127);
}

/* Fork the daemon from this (long-lived) thread. */
static void do_spawn(struct sim_hv *hv, struct hv_spawn_req *r)
{
	pid_t parent = getpid(), pid;

	pid = fork();
	if (pid == 0)
		sim_exec_child(r->argv, r->envp, r->stderr_fd, parent);
	r->err = pid < 0 ? errno : 0;
	r->pid = pid;
	(void)hv;
}

pid_t hv_server_spawn(struct sim_hv *hv, char *const argv[], char *const envp[],
		      int stderr_fd)
{
	struct hv_spawn_req r = {
	    .argv = argv, .envp = envp, .stderr_fd = stderr_fd};
	uint64_t one = 1;

	/* lock held by the caller */
	while (hv->spawn)
		pthread_cond_wait(&hv->cond, &hv->lock);
	hv->spawn = &r;
	if (write(hv->wake_efd, &one, sizeof(one)) < 0) {
		hv->spawn = NULL;
		errno = EIO;
		return -1;
	}
	while (!r.done)
		pthread_cond_wait(&hv->cond, &hv->lock);
	hv->spawn = NULL;
	pthread_cond_broadcast(&hv->cond);
	if (r.err) {
		errno = r.err;
		return -1;
	}
	return r.pid;
}

/* Fixed slots of the listener's poll set; client processes follow. */
#define NFIXED	  4
#define MAX_WATCH (NFIXED + 256)

static void *listener_thread(void *arg)
{
	struct sim_hv *hv = arg;

	for (;;) {
		struct pollfd p[MAX_WATCH] = {
		    {.fd = hv->listen_fd, .events = POLLIN},
		    {.fd = hv->stop_efd, .events = POLLIN},
		    {.fd = hv->wake_efd, .events = POLLIN},
		    {.fd = -1, .events = POLLIN},
		};
		struct hv_proc *watched[MAX_WATCH];
		struct hv_proc *pr;
		nfds_t n = NFIXED;
		uint64_t cnt;

		pthread_mutex_lock(&hv->lock);
		if (hv->spawned && !hv->reaped)
			p[3].fd = hv->pidfd;
		/* Only this thread closes pidfds (at stop): safe to poll. */
		for (pr = hv->procs; pr && n < MAX_WATCH; pr = pr->next)
			if (!pr->dead && pr->pidfd >= 0) {
				watched[n] = pr;
				p[n++] = (struct pollfd){.fd = pr->pidfd,
							 .events = POLLIN};
			}
		pthread_mutex_unlock(&hv->lock);
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[2].revents) {
			if (read(hv->wake_efd, &cnt, sizeof(cnt)) < 0) {
				/* spurious */
			}
			pthread_mutex_lock(&hv->lock);
			if (hv->spawn && !hv->spawn->done) {
				do_spawn(hv, hv->spawn);
				hv->spawn->done = true;
				pthread_cond_broadcast(&hv->cond);
			}
			pthread_mutex_unlock(&hv->lock);
		}
		if (p[3].fd >= 0 && p[3].revents) {
			pthread_mutex_lock(&hv->lock);
			hv_daemon_exited(hv);
			pthread_mutex_unlock(&hv->lock);
		}
		for (nfds_t i = NFIXED; i < n; i++)
			if (p[i].revents) {
				pthread_mutex_lock(&hv->lock);
				hv_proc_died(hv, watched[i]);
				pthread_mutex_unlock(&hv->lock);
			}
		if (p[0].revents & POLLIN)
			accept_one(hv);
		reap_conns(hv, false);
	}
	return NULL;
}

int hv_server_start(struct sim_hv *hv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	hv->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	hv->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (hv->stop_efd < 0 || hv->wake_efd < 0)
		return -errno;
	if (strlen(hv->sock_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, hv->sock_path);
	hv->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (hv->listen_fd < 0)
		return -errno;
	unlink(hv->sock_path);
	if (bind(hv->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(hv->listen_fd, 64))
		return -errno;
	if (pthread_create(&hv->listener, NULL, listener_thread, hv))
		return -EAGAIN;
	hv->listener_started = true;
	return 0;
}

void hv_server_stop(struct sim_hv *hv)
{
	struct hv_conn *c;
	uint64_t one = 1;

	if (hv->listener_started) {
		if (write(hv->stop_efd, &one, sizeof(one)) < 0) {
			/* cannot fail: counter far below its maximum */
		}
		pthread_join(hv->listener, NULL);
		hv->listener_started = false;
	}
	pthread_mutex_lock(&hv->lock);
	for (c = hv->conns; c; c = c->next)
		if (!c->finished)
			shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&hv->lock);
	reap_conns(hv, true);
	procs_free(hv);
	if (hv->listen_fd >= 0)
		close(hv->listen_fd);
	hv->listen_fd = -1;
	if (hv->sock_path[0])
		unlink(hv->sock_path);
}
