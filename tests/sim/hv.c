/* SPDX-License-Identifier: GPL-2.0-only */
/* The simulated hypervisor: Xen 4.17 on Arm as seen by device models.
 *
 * Design. The hypervisor lives in the sim-guest process; the daemon runs
 * unmodified on drop-in builds of the Xen libraries (tests/sim/lib), which
 * connect to $XEN_SIM_SOCKET. Only set-up and slow paths cross the socket;
 * the per-request paths run on shared memory and eventfds:
 * - each domain's guest RAM is one memfd, laid out in Xen on Arm's two
 *   banks (sim_hv.h: bank 0 at 1 GiB, the rest above 8 GiB), secret memory
 *   (memfd_secret) when the kernel allows it, so that O_DIRECT into the
 *   daemon's mappings fails with EFAULT as into privcmd's VM_PFNMAP ones
 *   (docs/xen-notes.md 1); a foreignmemory handle gets the fd when it
 *   first names the domain (DOM_ATTACH) and maps
 *   runs of valid frames MAP_SHARED into one PROT_NONE reservation, so maps
 *   are contiguous like privcmd's and bad frames stay untouchable. Counters
 *   (maps, pages, refused, mapped now) live in the domain's shared page
 *   (struct sim_shared) that the library updates atomically, and per
 *   process in a page of its own, so that a process's death releases
 *   exactly what it mapped;
 * - each ioreq server's page is a 4 KiB memfd, handed out by map_resource;
 * - each vCPU has one eventfd, the Xen side of all its event channels: a
 *   bound port gives the library a copy, so xenevtchn_notify() is one
 *   write(), and the vCPU blocked in sim_dom_mmio() polls it;
 * - each xenevtchn handle has a page of port words (bound, masked, queued,
 *   pending) and a semaphore eventfd, the fd the daemon polls: raising an
 *   event is a compare-and-swap on the word plus one eventfd count when the
 *   port gets queued; pending() and unmask() never leave the daemon;
 * - set_irq_level() updates per-SPI level and edge counters in the domain's
 *   shared page and wakes sim_dom_wait_irq() through a futex on it;
 * - xenstore watch events are queued here and signalled on an eventfd that
 *   is the handle's xs_fileno().
 * One mutex (hv->lock) protects the hypervisor state; vCPU threads hold it
 * only while they fill or inspect their slot, not while they wait. Domain
 * structures are never freed before the hypervisor: a dead domain stays
 * inspectable, and its domid is never handed out again. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "hv_internal.h"

_Static_assert((int)SIM_LIFE_ALIVE == (int)SIM_DOM_ALIVE &&
		   (int)SIM_LIFE_DYING == (int)SIM_DOM_DYING &&
		   (int)SIM_LIFE_GONE == (int)SIM_DOM_GONE,
	       "domain life values");

#define DOMID_FIRST_RESERVED 0x7ff0U
_Static_assert(SIM_RAM_MAX <= SIM_RAM0_SIZE + SIM_RAM1_SIZE,
	       "more RAM than Xen on Arm's two banks hold");

extern char **environ;

void hv_log(struct sim_hv *hv, const char *fmt, ...)
{
	va_list ap;

	if (!hv->cfg.verbose)
		return;
	va_start(ap, fmt);
	fputs("sim-hv: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -1: forever */
static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Remaining ms (INT_MAX-capped), -1 forever, 0 expired. */
static int remaining_ms(int64_t deadline)
{
	int64_t r;

	if (deadline < 0)
		return -1;
	r = deadline - now_ms();
	if (r <= 0)
		return 0;
	return r > INT_MAX ? INT_MAX : (int)r;
}

/* Timed wait on hv->cond; false once the deadline passed. */
static bool cond_wait_until(struct sim_hv *hv, int64_t deadline)
{
	struct timespec ts;

	if (deadline < 0) {
		pthread_cond_wait(&hv->cond, &hv->lock);
		return true;
	}
	if (remaining_ms(deadline) == 0)
		return false;
	ts.tv_sec = deadline / 1000;
	ts.tv_nsec = (deadline % 1000) * 1000000;
	pthread_cond_timedwait(&hv->cond, &hv->lock, &ts);
	return true;
}

static void efd_signal(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* only EAGAIN at a counter near 2^64 */
	}
}

static void efd_drain(int fd)
{
	uint64_t cnt;

	if (read(fd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: nothing to drain */
	}
}

static bool daemon_dead(const struct sim_hv *hv)
{
	return hv->spawned && hv->reaped;
}

/* ------------------------------------------------------------ domains */

struct sim_dom *hv_find_dom(struct sim_hv *hv, uint32_t domid)
{
	for (unsigned i = 0; i < hv->ndoms; i++)
		if (hv->doms[i]->domid == domid)
			return hv->doms[i];
	return NULL;
}

static void dom_free(struct sim_dom *d)
{
	unsigned i;

	if (!d)
		return;
	for (i = 0; i < SIM_MAX_SERVERS; i++)
		if (d->servers[i].used)
			hv_destroy_server(d, i);
	if (d->vcpus)
		for (i = 0; i < d->nvcpus; i++)
			if (d->vcpus[i].efd >= 0)
				close(d->vcpus[i].efd);
	free(d->vcpus);
	free(d->xen_ports);
	if (d->ram)
		munmap(d->ram, d->ram_bytes);
	if (d->sh)
		munmap(d->sh, sim_shared_bytes(ram_frames(d)));
	if (d->ram_fd >= 0)
		close(d->ram_fd);
	if (d->shared_fd >= 0)
		close(d->shared_fd);
	free(d);
}

/* What the toolstack puts in xenstore when it builds a domain. */
static void dom_xs_home(struct sim_dom *d)
{
	struct sim_hv *hv = d->hv;
	char path[64], val[32];

	snprintf(path, sizeof(path), "/local/domain/%u/name", d->domid);
	hv_xs_write(hv->xs, path, "sim-guest", 9);
	snprintf(path, sizeof(path), "/local/domain/%u/domid", d->domid);
	snprintf(val, sizeof(val), "%u", d->domid);
	hv_xs_write(hv->xs, path, val, strlen(val));
	snprintf(path, sizeof(path), "/local/domain/%u/memory/static-max",
		 d->domid);
	snprintf(val, sizeof(val), "%llu",
		 (unsigned long long)(d->ram_bytes >> 10));
	hv_xs_write(hv->xs, path, val, strlen(val));
}

/* Give the domain the RAM in fd (sized and mapped here); 0, or an errno
 * with fd closed. */
static int ram_map(struct sim_dom *d, int fd)
{
	void *p;
	int e;

	if (fd < 0)
		return errno;
	if (ftruncate(fd, (off_t)d->ram_bytes))
		goto fail;
	/* Secret memory is mapped MAP_SHARED or not at all. */
	p = mmap(NULL, d->ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	d->ram_fd = fd;
	d->ram = p;
	return 0;
fail:
	e = errno;
	close(fd);
	return e;
}

static int secret_memfd(void)
{
#ifdef SYS_memfd_secret
	return (int)syscall(SYS_memfd_secret, O_CLOEXEC);
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* Guest RAM as the configuration asks (enum sim_ram_backing): secret
 * memory, so that O_DIRECT into the daemon's mappings fails with EFAULT as
 * on privcmd mappings, or a plain memfd. Lock held; 0 or an errno. */
static int ram_open(struct sim_dom *d)
{
	struct sim_hv *hv = d->hv;
	int e;

	if (hv->cfg.ram_backing != SIM_RAM_MEMFD) {
		e = ram_map(d, secret_memfd());
		if (!e) {
			d->ram_secret = true;
			return 0;
		}
		if (hv->cfg.ram_backing == SIM_RAM_SECRET)
			return e;
		if (!hv->ram_warned) {
			hv->ram_warned = true;
			fprintf(
			    stderr,
			    "sim-hv: no secret memory for guest RAM (%s%s): "
			    "plain memfd, where O_DIRECT works unlike on "
			    "Xen\n",
			    strerror(e), e == EAGAIN ? ", RLIMIT_MEMLOCK" : "");
		}
	}
	return ram_map(d, memfd_create("sim-guest-ram", MFD_CLOEXEC));
}

bool sim_hv_memlock_unlimited(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_MEMLOCK, &r) == 0 && r.rlim_cur == RLIM_INFINITY)
		return true;
	/* Needs CAP_SYS_RESOURCE unless the hard limit is infinite. */
	r.rlim_cur = r.rlim_max = RLIM_INFINITY;
	return setrlimit(RLIMIT_MEMLOCK, &r) == 0;
}

/* Lock held. errno on failure. */
static struct sim_dom *dom_new(struct sim_hv *hv, uint32_t domid,
			       unsigned vcpus, uint64_t ram_bytes, bool paused)
{
	struct sim_dom *d;
	unsigned i;

	if (!vcpus || vcpus > SIM_MAX_VCPUS || !ram_bytes ||
	    ram_bytes % SIM_PAGE_SIZE || ram_bytes > SIM_RAM_MAX ||
	    domid >= DOMID_FIRST_RESERVED) {
		errno = EINVAL;
		return NULL;
	}
	if (!domid)
		domid = hv->max_domid + 1;
	if (domid >= DOMID_FIRST_RESERVED) {
		errno = ENOSPC;
		return NULL;
	}
	if (hv_find_dom(hv, domid)) {
		errno = EEXIST; /* domids are never reused */
		return NULL;
	}
	if (hv->ndoms == SIM_MAX_DOMS) {
		errno = ENOSPC;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->hv = hv;
	d->domid = domid;
	d->slot = hv->ndoms;
	d->nvcpus = vcpus;
	d->ram_bytes = ram_bytes;
	d->ram_fd = d->shared_fd = -1;
	d->paused = paused;
	for (i = 0; i < SIM_MAX_SERVERS; i++)
		d->servers[i].memfd = -1;
	d->xen_ports = calloc(SIM_NR_PORTS, sizeof(*d->xen_ports));
	d->vcpus = calloc(vcpus, sizeof(*d->vcpus));
	if (!d->xen_ports || !d->vcpus)
		goto fail;
	for (i = 0; i < SIM_NR_PORTS; i++)
		d->xen_ports[i].local = -1;
	for (i = 0; i < vcpus; i++)
		d->vcpus[i].efd = -1;
	for (i = 0; i < vcpus; i++) {
		d->vcpus[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->vcpus[i].efd < 0)
			goto fail;
	}
	i = (unsigned)ram_open(d);
	if (i) {
		errno = (int)i;
		goto fail;
	}
	d->shared_fd = memfd_create("sim-shared", MFD_CLOEXEC);
	if (d->shared_fd < 0 ||
	    ftruncate(d->shared_fd, (off_t)sim_shared_bytes(ram_frames(d))))
		goto fail;
	d->sh = mmap(NULL, sim_shared_bytes(ram_frames(d)),
		     PROT_READ | PROT_WRITE, MAP_SHARED, d->shared_fd, 0);
	if (d->sh == MAP_FAILED) {
		d->sh = NULL;
		goto fail;
	}
	d->sh->magic = SIM_PROTO_MAGIC;
	d->sh->domid = domid;
	d->sh->slot = d->slot;
	hv->doms[hv->ndoms++] = d;
	if (domid > hv->max_domid)
		hv->max_domid = domid;
	dom_xs_home(d);
	hv_log(hv, "domain %u: %u vCPUs, %llu MiB RAM (%s)%s", domid, vcpus,
	       (unsigned long long)(ram_bytes >> 20), sim_dom_ram_backing(d),
	       paused ? ", paused" : "");
	pthread_cond_broadcast(&hv->cond);
	return d;
fail:
	i = (unsigned)errno;
	dom_free(d);
	errno = (int)i;
	return NULL;
}

struct sim_dom *sim_hv_create_domain(struct sim_hv *hv, uint32_t domid,
				     unsigned vcpus, uint64_t ram_bytes)
{
	struct sim_dom *d;
	int saved;

	pthread_mutex_lock(&hv->lock);
	d = dom_new(hv, domid, vcpus, ram_bytes, true);
	saved = errno;
	pthread_mutex_unlock(&hv->lock);
	errno = saved;
	return d;
}

struct sim_dom *sim_hv_find_domain(struct sim_hv *hv, uint32_t domid)
{
	struct sim_dom *d;

	pthread_mutex_lock(&hv->lock);
	d = hv_find_dom(hv, domid);
	pthread_mutex_unlock(&hv->lock);
	return d;
}

struct sim_dom *sim_hv_default_domain(struct sim_hv *hv)
{
	struct sim_dom *d;

	pthread_mutex_lock(&hv->lock);
	d = hv->def;
	pthread_mutex_unlock(&hv->lock);
	return d;
}

void sim_hv_set_default_domain(struct sim_hv *hv, struct sim_dom *d)
{
	pthread_mutex_lock(&hv->lock);
	hv->def = d;
	pthread_mutex_unlock(&hv->lock);
}

struct sim_hv *sim_dom_hv(const struct sim_dom *d)
{
	return d->hv;
}

uint32_t sim_dom_id(const struct sim_dom *d)
{
	return d->domid;
}

unsigned sim_dom_vcpus(const struct sim_dom *d)
{
	return d->nvcpus;
}

enum sim_dom_life sim_dom_life(struct sim_dom *d)
{
	enum sim_dom_life l;

	pthread_mutex_lock(&d->hv->lock);
	l = (enum sim_dom_life)d->dom_state;
	pthread_mutex_unlock(&d->hv->lock);
	return l;
}

bool sim_dom_paused(struct sim_dom *d)
{
	bool p;

	pthread_mutex_lock(&d->hv->lock);
	p = d->paused;
	pthread_mutex_unlock(&d->hv->lock);
	return p;
}

void sim_dom_unpause(struct sim_dom *d)
{
	pthread_mutex_lock(&d->hv->lock);
	if (d->dom_state == SIM_DOM_ALIVE && d->paused) {
		d->paused = false;
		hv_log(d->hv, "domain %u unpaused", d->domid);
		pthread_cond_broadcast(&d->hv->cond);
	}
	pthread_mutex_unlock(&d->hv->lock);
}

void sim_dom_pause(struct sim_dom *d)
{
	pthread_mutex_lock(&d->hv->lock);
	if (d->dom_state == SIM_DOM_ALIVE && !d->paused) {
		d->paused = true;
		hv_log(d->hv, "domain %u paused", d->domid);
		pthread_cond_broadcast(&d->hv->cond);
	}
	pthread_mutex_unlock(&d->hv->lock);
}

int sim_dom_wait_life(struct sim_dom *d, enum sim_dom_life life, int timeout_ms)
{
	struct sim_hv *hv = d->hv;
	int64_t deadline = deadline_of(timeout_ms);
	int rc = 0;

	pthread_mutex_lock(&hv->lock);
	while (d->dom_state < (uint32_t)life)
		if (!cond_wait_until(hv, deadline)) {
			rc = -ETIMEDOUT;
			break;
		}
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

/* ------------------------------------------------------------ lifecycle */

struct sim_hv *sim_hv_new(const struct sim_hv_config *cfg)
{
	struct sim_hv *hv;
	pthread_condattr_t ca;
	unsigned i;

	if (!cfg || cfg->domid >= DOMID_FIRST_RESERVED) {
		errno = EINVAL;
		return NULL;
	}
	hv = calloc(1, sizeof(*hv));
	if (!hv)
		return NULL;
	hv->cfg = *cfg;
	hv->cfg.socket_path = NULL;
	hv->listen_fd = hv->stop_efd = hv->wake_efd = -1;
	hv->pidfd = hv->dead_efd = -1;
	pthread_mutex_init(&hv->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&hv->cond, &ca);
	pthread_condattr_destroy(&ca);
	for (i = 0; i < SIM_NR_PORTS; i++)
		hv->local_ports[i].xen_port = -1;

	/* The daemon inherits the limit: let it map secret guest RAM as it
	 * maps privcmd pages on Xen, where no limit applies. */
	if (cfg->ram_backing != SIM_RAM_MEMFD)
		sim_hv_memlock_unlimited();
	hv->dead_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (hv->dead_efd < 0)
		goto fail;
	hv->xs = hv_xs_new();
	if (!hv->xs)
		goto fail;
	if (cfg->domid) {
		hv->def =
		    dom_new(hv, cfg->domid, cfg->vcpus, cfg->ram_bytes, false);
		if (!hv->def)
			goto fail;
	}

	if (cfg->socket_path) {
		if (strlen(cfg->socket_path) >= sizeof(hv->sock_path)) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		strcpy(hv->sock_path, cfg->socket_path);
	} else {
		strcpy(hv->sock_dir, "/tmp/xen-sim-XXXXXX");
		if (!mkdtemp(hv->sock_dir)) {
			hv->sock_dir[0] = '\0';
			goto fail;
		}
		snprintf(hv->sock_path, sizeof(hv->sock_path), "%s/sock",
			 hv->sock_dir);
	}
	i = (unsigned)-hv_server_start(hv);
	if (i) {
		errno = (int)i;
		goto fail;
	}
	hv_log(hv, "socket %s", hv->sock_path);
	return hv;
fail:
	i = (unsigned)errno;
	sim_hv_free(hv);
	errno = (int)i;
	return NULL;
}

void sim_hv_free(struct sim_hv *hv)
{
	struct hv_proc *p;
	unsigned i;

	if (!hv)
		return;
	pthread_mutex_lock(&hv->lock);
	/* Whoever still uses the libraries would outlive the hypervisor
	 * (the supervisor's children are not tied to us): gone too. */
	for (p = hv->procs; p; p = p->next)
		if (!p->dead && p->pidfd >= 0)
			syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL,
				0);
	if (hv->spawned && !hv->reaped) {
		kill(hv->pid, SIGKILL);
		waitpid(hv->pid, &hv->wstatus, 0);
		hv->reaped = true;
	}
	pthread_mutex_unlock(&hv->lock);
	hv_server_stop(hv);
	for (i = 0; i < hv->ndoms; i++)
		dom_free(hv->doms[i]);
	hv_xs_free(hv->xs);
	if (hv->pidfd >= 0)
		close(hv->pidfd);
	if (hv->dead_efd >= 0)
		close(hv->dead_efd);
	if (hv->stop_efd >= 0)
		close(hv->stop_efd);
	if (hv->wake_efd >= 0)
		close(hv->wake_efd);
	if (hv->sock_dir[0])
		rmdir(hv->sock_dir);
	pthread_cond_destroy(&hv->cond);
	pthread_mutex_destroy(&hv->lock);
	free(hv);
}

/* ------------------------------------------------------------ the daemon */

static char *env_join(const char *name, const char *a, const char *b)
{
	size_t len = strlen(name) + strlen(a) + (b ? strlen(b) + 1 : 0) + 2;
	char *s = malloc(len);

	if (s)
		snprintf(s, len, "%s=%s%s%s", name, a, b ? ":" : "",
			 b ? b : "");
	return s;
}

char **sim_hv_env(const struct sim_hv *hv, const char *libdir)
{
	const char *old_llp = getenv("LD_LIBRARY_PATH");
	size_t n = 0, k = 0, i;
	char **envp;

	if (!libdir) {
		errno = EINVAL;
		return NULL;
	}
	while (environ && environ[n])
		n++;
	envp = calloc(n + 3, sizeof(*envp));
	if (!envp)
		return NULL;
	envp[k++] = env_join(SIM_ENV_SOCKET, hv->sock_path, NULL);
	envp[k++] = env_join("LD_LIBRARY_PATH", libdir,
			     old_llp && *old_llp ? old_llp : NULL);
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], SIM_ENV_SOCKET "=",
			    strlen(SIM_ENV_SOCKET) + 1) &&
		    strncmp(environ[i], "LD_LIBRARY_PATH=", 16))
			envp[k++] = environ[i];
	if (!envp[0] || !envp[1]) {
		sim_hv_env_free(envp);
		errno = ENOMEM;
		return NULL;
	}
	return envp;
}

void sim_hv_env_free(char **envp)
{
	if (!envp)
		return;
	free(envp[0]);
	free(envp[1]);
	free(envp);
}

pid_t sim_hv_spawn_fd(struct sim_hv *hv, const char *libdir, char *const argv[],
		      int stderr_fd)
{
	char **envp;
	pid_t pid;
	int pidfd, saved;

	if (!argv || !argv[0]) {
		errno = EINVAL;
		return -1;
	}
	envp = sim_hv_env(hv, libdir);
	if (!envp)
		return -1;

	pthread_mutex_lock(&hv->lock);
	if (hv->spawned && !hv->reaped) {
		pthread_mutex_unlock(&hv->lock);
		errno = EBUSY;
		pid = -1;
		goto out;
	}
	pid = hv_server_spawn(hv, argv, envp, stderr_fd);
	if (pid > 0) {
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0) {
			saved = errno;
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			errno = saved;
			pid = -1;
		} else {
			if (hv->pidfd >= 0)
				close(hv->pidfd);
			hv->pidfd = pidfd;
			hv->pid = pid;
			hv->spawned = true;
			hv->reaped = false;
			hv->wstatus = 0;
			efd_drain(hv->dead_efd);
			efd_signal(hv->wake_efd); /* listener: watch pidfd */
			hv_log(hv, "spawned %s as pid %d", argv[0], (int)pid);
		}
	}
	pthread_mutex_unlock(&hv->lock);
out:
	sim_hv_env_free(envp);
	return pid;
}

pid_t sim_hv_spawn(struct sim_hv *hv, const char *libdir, char *const argv[])
{
	return sim_hv_spawn_fd(hv, libdir, argv, -1);
}

void hv_daemon_exited(struct sim_hv *hv)
{
	struct hv_proc *p;
	int st = 0;

	if (!hv->spawned || hv->reaped)
		return;
	if (waitpid(hv->pid, &st, 0) != hv->pid)
		st = 0; /* someone else reaped it */
	hv->wstatus = st;
	hv->reaped = true;
	hv_log(hv, "daemon pid %d exited, status 0x%x", (int)hv->pid, st);
	/* Its mappings died with it: at once, so that whoever waited for
	 * the exit sees them gone. */
	for (p = hv->procs; p; p = p->next)
		if (p->pid == hv->pid)
			hv_proc_died(hv, p);
	efd_signal(hv->dead_efd);
	pthread_cond_broadcast(&hv->cond);
}

void hv_proc_died(struct sim_hv *hv, struct hv_proc *p)
{
	if (p->dead)
		return;
	p->dead = true;
	hv_log(hv, "process %d is gone", (int)p->pid);
	for (unsigned slot = 0; slot < hv->ndoms; slot++) {
		struct sim_dom *d = hv->doms[slot];
		int64_t pages = 0;
		uint64_t res = p->res[slot];
		bool owned = false;

		if (p->page)
			pages = __atomic_exchange_n(&p->page->pages[slot], 0,
						    __ATOMIC_SEQ_CST);
		if (pages > 0) {
			/* Its mappings went with it. Which frames they held is
			 * not recorded per process: once nothing maps the
			 * domain, no frame is held (one backend per guest). */
			if (__atomic_sub_fetch(&d->sh->pages_mapped_now, pages,
					       __ATOMIC_SEQ_CST) <= 0)
				memset(sim_p2m_refs(d->sh, ram_frames(d)), 0,
				       ram_frames(d) * sizeof(uint32_t));
			d->stats.pages_released_at_exit += (uint64_t)pages;
		}
		if (res) {
			d->resource_mapped -=
			    res < d->resource_mapped ? res : d->resource_mapped;
			d->stats.pages_released_at_exit += res;
			p->res[slot] = 0;
		}
		for (unsigned i = 0; i < SIM_MAX_SERVERS; i++)
			if (d->servers[i].used && d->servers[i].owner == p)
				owned = true;
		if (owned) {
			/* Nobody answers this domain's vCPUs any more. */
			d->emulator_died = true;
			for (unsigned v = 0; v < d->nvcpus; v++)
				efd_signal(d->vcpus[v].efd);
		}
		hv_check_gone(d);
	}
	pthread_cond_broadcast(&hv->cond);
}

int sim_hv_signal_daemon(struct sim_hv *hv, int sig)
{
	int rc = 0;

	pthread_mutex_lock(&hv->lock);
	if (!hv->spawned || hv->reaped)
		rc = -ECHILD;
	else if (kill(hv->pid, sig))
		rc = -errno;
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

int sim_hv_wait_daemon(struct sim_hv *hv, int timeout_ms, int *wstatus)
{
	int64_t deadline = deadline_of(timeout_ms);
	int rc;

	pthread_mutex_lock(&hv->lock);
	if (!hv->spawned) {
		rc = -ECHILD;
		goto out;
	}
	while (!hv->reaped)
		if (!cond_wait_until(hv, deadline)) {
			rc = -ETIMEDOUT;
			goto out;
		}
	rc = hv->wstatus;
	if (wstatus)
		*wstatus = hv->wstatus;
out:
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

bool sim_hv_daemon_alive(struct sim_hv *hv)
{
	bool alive;

	pthread_mutex_lock(&hv->lock);
	alive = hv->spawned && !hv->reaped;
	if (alive) {
		struct pollfd p = {.fd = hv->pidfd, .events = POLLIN};

		alive = poll(&p, 1, 0) == 0;
	}
	pthread_mutex_unlock(&hv->lock);
	return alive;
}

pid_t sim_hv_daemon_pid(struct sim_hv *hv)
{
	pid_t pid;

	pthread_mutex_lock(&hv->lock);
	pid = hv->spawned && !hv->reaped ? hv->pid : -1;
	pthread_mutex_unlock(&hv->lock);
	return pid;
}

bool sim_dom_daemon_alive(struct sim_dom *d)
{
	bool died;

	pthread_mutex_lock(&d->hv->lock);
	died = d->emulator_died;
	pthread_mutex_unlock(&d->hv->lock);
	return !died && sim_hv_daemon_alive(d->hv);
}

/* ------------------------------------------------------------ servers */

static bool owner_dead(const struct hv_server *s)
{
	return s->owner && s->owner->dead;
}

static bool server_ready_for(const struct sim_dom *d, const struct hv_server *s,
			     uint64_t first, uint64_t last)
{
	unsigned i;

	if (!s->used || !s->enabled)
		return false;
	for (i = 0; i < s->nr_mmio; i++)
		if (s->mmio[i].start <= first && last <= s->mmio[i].end)
			break;
	if (i == s->nr_mmio)
		return false;
	for (i = 0; i < d->nvcpus; i++)
		if (d->xen_ports[s->xen_port[i]].local < 0)
			return false;
	return true;
}

int sim_dom_wait_ready(struct sim_dom *d, uint64_t base, uint64_t size,
		       int timeout_ms)
{
	struct sim_hv *hv = d->hv;
	int64_t deadline = deadline_of(timeout_ms);
	uint64_t last = base + (size ? size - 1 : 0);
	int rc = 0;
	unsigned i;

	if (last < base)
		return -EINVAL;
	pthread_mutex_lock(&hv->lock);
	for (;;) {
		for (i = 0; i < SIM_MAX_SERVERS; i++)
			if (server_ready_for(d, &d->servers[i], base, last))
				goto out;
		if (daemon_dead(hv)) {
			rc = -EPIPE;
			break;
		}
		if (!cond_wait_until(hv, deadline)) {
			rc = -ETIMEDOUT;
			break;
		}
	}
out:
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

/* Xen destroys a server: its channels close, the ioreq page stays wherever
 * the daemon mapped it (the memfd lives on in those mappings). A vCPU still
 * waiting on it is not woken by Xen (ioreq_server_remove_vcpu frees its
 * wait without a notification): unless the daemon posted the answer (and
 * notified) before, that vCPU never runs again. */
void hv_destroy_server(struct sim_dom *d, unsigned id)
{
	struct sim_hv *hv = d->hv;
	struct hv_server *s = &d->servers[id];
	unsigned v;

	for (v = 0; v < d->nvcpus; v++) {
		struct hv_vcpu *vc = &d->vcpus[v];
		struct sim_ioreq *r = &s->page[v];
		uint8_t st;

		if (!vc->outstanding || vc->server != (int)id ||
		    vc->gen != s->gen)
			continue;
		st = __atomic_load_n(&r->bits, __ATOMIC_ACQUIRE) &
		     SIM_IOREQ_STATE_MASK;
		if (st == SIM_STATE_IORESP_READY) {
			vc->orphan_answered = true;
			vc->orphan_data =
			    __atomic_load_n(&r->data, __ATOMIC_RELAXED);
		} else {
			vc->orphan_hung = true;
		}
	}
	for (v = 0; v < d->nvcpus; v++) {
		struct hv_xen_port *xp = &d->xen_ports[s->xen_port[v]];

		if (xp->local >= 0)
			hv->local_ports[xp->local].xen_port = -1;
		memset(xp, 0, sizeof(*xp));
		xp->local = -1;
		/* a vCPU waiting on this server must notice */
		efd_signal(d->vcpus[v].efd);
	}
	free(s->xen_port);
	munmap(s->page, SIM_PAGE_SIZE);
	close(s->memfd);
	unsigned gen = s->gen + 1;
	memset(s, 0, sizeof(*s));
	s->gen = gen;
	s->memfd = -1;
	d->stats.servers_destroyed++;
	pthread_cond_broadcast(&hv->cond);
}

void hv_raise(struct sim_dom *d, uint32_t port)
{
	struct hv_xen_port *xp = &d->xen_ports[port];
	struct hv_local_port *lp;

	if (!xp->used || xp->local < 0)
		return; /* unbound: Xen drops it */
	lp = &d->hv->local_ports[xp->local];
	if (sim_evw_raise(&lp->evh->words[xp->local]))
		efd_signal(lp->evh->efd);
}

void hv_check_gone(struct sim_dom *d)
{
	if (d->dom_state != SIM_DOM_DYING)
		return;
	if (__atomic_load_n(&d->sh->pages_mapped_now, __ATOMIC_SEQ_CST) > 0 ||
	    d->resource_mapped)
		return;
	d->dom_state = SIM_DOM_GONE;
	__atomic_store_n(&d->sh->dom_state, SIM_DOM_GONE, __ATOMIC_SEQ_CST);
	hv_log(d->hv, "domain %u gone (nothing mapped any more)", d->domid);
	/* No second @releaseDomain: C xenstored fires it once, when it first
	 * sees the domain dying, and forgets the domain then
	 * (xenstored_domain.c:306-383 @4.17; e2e-testbed.md saw one event). */
	pthread_cond_broadcast(&d->hv->cond);
}

/* ------------------------------------------------------------ ioreqs */

/* Wait for the daemon's answer to vCPU `vcpu`'s outstanding request, as
 * Xen's wait_for_io(): re-read the state after each notification; NONE is
 * taken as an answer of ~0 (an emulator racing its own death; counted as a
 * protocol error here, since a live daemon must never write it), a state
 * going backwards or out of range is a protocol error (Xen crashes the
 * domain). Lock held; dropped while blocked. */
static int wait_answer(struct sim_dom *d, unsigned vcpu, int64_t deadline,
		       uint64_t *data)
{
	struct sim_hv *hv = d->hv;
	struct hv_vcpu *vc = &d->vcpus[vcpu];
	bool woken = false; /* Xen looks at the slot only when notified */

	for (;;) {
		struct hv_server *s = &d->servers[vc->server];
		struct pollfd p[2];
		struct sim_ioreq *r;
		uint8_t bits, st;
		int ms;

		if (!s->used || s->gen != vc->gen) {
			vc->outstanding = false;
			if (vc->orphan_answered) {
				vc->orphan_answered = false;
				*data = vc->orphan_data;
				return 0;
			}
			if (d->dom_state != SIM_DOM_ALIVE)
				return -ESRCH;
			if (vc->orphan_hung) {
				vc->orphan_hung = false;
				d->stats.protocol_errors++;
				hv_log(hv,
				       "dom %u vcpu %u: ioreq server destroyed "
				       "with this vCPU's access unanswered: on "
				       "Xen it would never run again",
				       d->domid, vcpu);
				return -ETIMEDOUT;
			}
			return -ENODEV;
		}
		r = &s->page[vcpu];
		bits = __atomic_load_n(&r->bits, __ATOMIC_ACQUIRE);
		st = bits & SIM_IOREQ_STATE_MASK;
		if (woken && st != vc->prev) {
			if (st == SIM_STATE_IORESP_READY) {
				*data =
				    __atomic_load_n(&r->data, __ATOMIC_RELAXED);
				__atomic_store_n(
				    &r->bits,
				    (uint8_t)(bits & ~SIM_IOREQ_STATE_MASK),
				    __ATOMIC_RELEASE);
				vc->outstanding = false;
				return 0;
			}
			if (st == SIM_STATE_IOREQ_NONE) {
				d->stats.protocol_errors++;
				hv_log(hv,
				       "dom %u vcpu %u: daemon set state NONE",
				       d->domid, vcpu);
				vc->outstanding = false;
				*data = ~0ULL;
				return 0;
			}
			if (st < vc->prev || st > SIM_STATE_IORESP_READY) {
				d->stats.protocol_errors++;
				hv_log(
				    hv,
				    "dom %u vcpu %u: weird ioreq state %u -> "
				    "%u",
				    d->domid, vcpu, vc->prev, st);
				__atomic_store_n(
				    &r->bits,
				    (uint8_t)(bits & ~SIM_IOREQ_STATE_MASK),
				    __ATOMIC_RELEASE);
				vc->outstanding = false;
				return -EPROTO;
			}
			vc->prev = st;
		}
		if (daemon_dead(hv) || owner_dead(s))
			return -EPIPE;
		ms = remaining_ms(deadline);
		if (ms == 0)
			return -ETIMEDOUT;
		p[0] = (struct pollfd){.fd = vc->efd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = hv->dead_efd, .events = POLLIN};
		pthread_mutex_unlock(&hv->lock);
		woken = false;
		if (poll(p, 2, ms) > 0) {
			if (p[0].revents)
				efd_drain(vc->efd);
			woken = true;
		}
		pthread_mutex_lock(&hv->lock);
	}
}

/* What a read request's data holds before the server answers. */
#define SIM_READ_STALE_DATA 0x5ca1ab1edeadbeefULL

/* Put one request in server s's slot for vcpu and wait for the answer.
 * count and ptr are those of an x86 string access (sim_dom_mmio_rep);
 * anything else is one unit (COPY) or none (broadcasts), data a value. */
static int send_wait_rep(struct sim_dom *d, unsigned id, unsigned vcpu,
			 uint8_t type, uint64_t addr, unsigned size,
			 uint32_t count, bool ptr, bool write, uint64_t *data,
			 int64_t deadline)
{
	struct hv_server *s = &d->servers[id];
	struct hv_vcpu *vc = &d->vcpus[vcpu];
	struct sim_ioreq *r = &s->page[vcpu];
	uint8_t bits = __atomic_load_n(&r->bits, __ATOMIC_ACQUIRE);
	uint8_t dir = (write ? 0 : SIM_IOREQ_DIR_READ) |
		      (ptr ? SIM_IOREQ_DATA_IS_PTR : 0);
	int rc;

	if (!s->page_alloc) {
		/* get_ioreq() on a page never mapped: a NULL dereference in
		 * Xen itself. */
		d->stats.protocol_errors++;
		hv_log(d->hv,
		       "dom %u vcpu %u: server %u enabled with a range but its "
		       "ioreq page was never mapped (Xen would fault)",
		       d->domid, vcpu, id);
		return -EPROTO;
	}
	/* ioreq_send(): the slot must be idle with our port in it. */
	if ((bits & SIM_IOREQ_STATE_MASK) != SIM_STATE_IOREQ_NONE ||
	    r->vp_eport != s->xen_port[vcpu]) {
		d->stats.protocol_errors++;
		hv_log(d->hv,
		       "dom %u vcpu %u: bad slot (state %u, port %u) in server "
		       "%u",
		       d->domid, vcpu, bits & SIM_IOREQ_STATE_MASK, r->vp_eport,
		       id);
		return -EPROTO;
	}
	/* Xen's broadcast (INVALIDATE) carries addr 0 and count 0
	 * (ioreq.c:48-58 @4.17); an access, its count. */
	r->addr = type == SIM_IOREQ_TYPE_COPY ? addr : 0;
	/* A read carries the destination register's old value on Arm
	 * (try_fwd_ioserv): a server that forgets to set data leaks it. */
	r->data = write || ptr ? *data : SIM_READ_STALE_DATA;
	r->count = type == SIM_IOREQ_TYPE_COPY ? count : 0;
	r->size = size;
	r->pad0 = 0;
	r->type = type;
	__atomic_store_n(&r->bits, dir, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&r->bits, (uint8_t)(dir | SIM_STATE_IOREQ_READY),
			 __ATOMIC_RELEASE);
	d->stats.ioreqs++;
	vc->outstanding = true;
	vc->orphan_answered = vc->orphan_hung = false;
	vc->server = (int)id;
	vc->gen = s->gen;
	vc->prev = SIM_STATE_IOREQ_READY;
	hv_raise(d, s->xen_port[vcpu]);
	rc = wait_answer(d, vcpu, deadline, data);
	if (d->ntrace < SIM_TRACE_MAX)
		d->trace[d->ntrace++] = (struct sim_ioreq_rec){
		    .type = type,
		    .write = write,
		    .size = (uint8_t)size,
		    .vcpu = vcpu,
		    .rc = rc,
		    .addr = addr,
		    .data = !write && size < 8
				? *data & ((1ULL << (8 * size)) - 1)
				: *data,
		};
	return rc;
}

static int send_wait(struct sim_dom *d, unsigned id, unsigned vcpu,
		     uint8_t type, uint64_t addr, unsigned size, bool write,
		     uint64_t *data, int64_t deadline)
{
	return send_wait_rep(d, id, vcpu, type, addr, size, 1, false, write,
			     data, deadline);
}

unsigned sim_dom_ioreq_trace(struct sim_dom *d, struct sim_ioreq_rec *rec,
			     unsigned max)
{
	unsigned n;

	pthread_mutex_lock(&d->hv->lock);
	n = d->ntrace;
	if (rec && max)
		memcpy(rec, d->trace, (max < n ? max : n) * sizeof(*rec));
	pthread_mutex_unlock(&d->hv->lock);
	return n;
}

/* A vCPU whose earlier request timed out is still blocked in Xen: give it
 * the new deadline to finish first. */
static int finish_stale(struct sim_dom *d, unsigned vcpu, int64_t deadline)
{
	uint64_t junk;

	if (!d->vcpus[vcpu].outstanding)
		return 0;
	return wait_answer(d, vcpu, deadline, &junk);
}

/* ioreq_server_select(): highest id first, all bytes in one range of the
 * server's rangeset (where adjacent ranges have merged, dm_map_range). */
static int select_server(struct sim_dom *d, uint64_t addr, unsigned size)
{
	uint64_t last = addr + size - 1;
	int id;
	unsigned i;

	if (last < addr)
		return -1;
	for (id = SIM_MAX_SERVERS - 1; id >= 0; id--) {
		struct hv_server *s = &d->servers[id];

		if (!s->used || !s->enabled)
			continue;
		for (i = 0; i < s->nr_mmio; i++)
			if (s->mmio[i].start <= addr && last <= s->mmio[i].end)
				return id;
	}
	return -1;
}

/* The checks before a vCPU traps into Xen (lock held). */
static int vcpu_can_run(const struct sim_dom *d)
{
	if (d->dom_state != SIM_DOM_ALIVE)
		return -ESRCH;
	if (d->paused || d->shutdown)
		return -EBUSY;
	return 0;
}

/* A trapped access of count units (hv->lock held): the vCPU's stale
 * request first, then the server holding every byte (x86's strings run
 * upwards from gpa, df clear), then the request and its answer in *val. */
static int trap_copy(struct sim_dom *d, unsigned vcpu, uint64_t gpa,
		     unsigned size, uint32_t count, bool ptr, bool write,
		     uint64_t *val, int64_t deadline)
{
	int rc = finish_stale(d, vcpu, deadline);
	int id;

	if (rc)
		return rc;
	rc = vcpu_can_run(d);
	if (rc)
		return rc;
	id = select_server(d, gpa, size * count);
	if (id < 0)
		return -ENODEV;
	if (daemon_dead(d->hv) || owner_dead(&d->servers[id]))
		return -EPIPE;
	return send_wait_rep(d, (unsigned)id, vcpu, SIM_IOREQ_TYPE_COPY, gpa,
			     size, count, ptr, write, val, deadline);
}

static bool valid_size(unsigned size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

int sim_dom_mmio(struct sim_dom *d, unsigned vcpu, uint64_t gpa, unsigned size,
		 bool write, uint64_t *data, int timeout_ms)
{
	struct sim_hv *hv = d->hv;
	int64_t deadline = deadline_of(timeout_ms);
	uint64_t val = write ? *data : 0;
	int rc;

	if (vcpu >= d->nvcpus || !data || !valid_size(size))
		return -EINVAL;
	pthread_mutex_lock(&hv->lock);
	rc = trap_copy(d, vcpu, gpa, size, 1, false, write, &val, deadline);
	/* Arm's Xen loads data into the register as it stands (io.c,
	 * handle_ioserv: sign_extend then set_user_reg): clearing the bits
	 * above the access is the server's job, and a W register loaded
	 * with them set would break code that counts on its top half. */
	if (!rc && !write && size < 8 && val >> (8 * size)) {
		d->stats.protocol_errors++;
		hv_log(hv,
		       "dom %u vcpu %u: %u-byte read at %#llx answered "
		       "%#llx, bits above its size set",
		       d->domid, vcpu, size, (unsigned long long)gpa,
		       (unsigned long long)val);
		rc = -EPROTO;
	}
	if (!rc && !write)
		*data = val;
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

int sim_dom_mmio_rep(struct sim_dom *d, unsigned vcpu, uint64_t gpa,
		     unsigned size, uint32_t count, bool ptr, bool write,
		     uint64_t *data, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	uint64_t val = *data;
	int rc;

	if (vcpu >= d->nvcpus || !count || count > SIM_REP_MAX ||
	    !valid_size(size))
		return -EINVAL;
	pthread_mutex_lock(&d->hv->lock);
	rc = trap_copy(d, vcpu, gpa, size, count, ptr, write, &val, deadline);
	if (!rc)
		*data = val;
	pthread_mutex_unlock(&d->hv->lock);
	return rc;
}

/* ioreq_broadcast(): every enabled server, one after the other. */
static int broadcast(struct sim_dom *d, unsigned vcpu, uint8_t type,
		     uint64_t addr, unsigned size, uint64_t data,
		     int timeout_ms)
{
	struct sim_hv *hv = d->hv;
	int64_t deadline = deadline_of(timeout_ms);
	bool any = false;
	int rc = 0;
	unsigned id;

	if (vcpu >= d->nvcpus)
		return -EINVAL;
	pthread_mutex_lock(&hv->lock);
	rc = finish_stale(d, vcpu, deadline);
	if (rc)
		goto out;
	rc = vcpu_can_run(d);
	if (rc)
		goto out;
	for (id = 0; id < SIM_MAX_SERVERS && !rc; id++) {
		uint64_t val = data;

		if (!d->servers[id].used || !d->servers[id].enabled)
			continue;
		any = true;
		if (daemon_dead(hv) || owner_dead(&d->servers[id])) {
			rc = -EPIPE;
			break;
		}
		rc = send_wait(d, id, vcpu, type, addr, size, true, &val,
			       deadline);
	}
	if (!rc && !any)
		rc = -ENODEV;
out:
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

int sim_dom_invalidate(struct sim_dom *d, unsigned vcpu, int timeout_ms)
{
	int rc = broadcast(d, vcpu, SIM_IOREQ_TYPE_INVALIDATE, 0, 4, ~0ULL,
			   timeout_ms);

	/* No enabled server: nothing to invalidate, as in Xen. */
	return rc == -ENODEV ? 0 : rc;
}

/* Frames of [frame, frame+n) some backend still maps. */
static uint64_t frames_held(struct sim_dom *d, uint64_t frame, uint64_t n)
{
	const uint32_t *refs = sim_p2m_refs(d->sh, ram_frames(d));
	uint64_t held = 0;

	for (uint64_t i = frame; i < frame + n; i++)
		held += __atomic_load_n(&refs[i], __ATOMIC_SEQ_CST) != 0;
	return held;
}

/* Mark [frame, frame+n) given back to Xen (out) or the guest's again. */
static void p2m_set_out(struct sim_dom *d, uint64_t frame, uint64_t n,
			bool given_back)
{
	uint8_t *out = sim_p2m_out(d->sh);

	for (uint64_t i = frame; i < frame + n; i++) {
		uint8_t bit = (uint8_t)(1U << (i % 8));

		if (given_back)
			__atomic_or_fetch(&out[i / 8], bit, __ATOMIC_SEQ_CST);
		else
			__atomic_and_fetch(&out[i / 8], (uint8_t)~bit,
					   __ATOMIC_SEQ_CST);
	}
}

/* Page-aligned guest RAM [gpa, gpa+len) as n frames of the RAM memfd
 * from *frame (ballooning, frames_mapped): 0, or -EINVAL if not all RAM. */
static int frame_span(struct sim_dom *d, uint64_t gpa, uint64_t len,
		      uint64_t *frame, uint64_t *n)
{
	uint64_t off;

	if ((gpa | len) & (SIM_PAGE_SIZE - 1) || !len ||
	    !sim_ram_range(d->ram_bytes, gpa, len, &off))
		return -EINVAL;
	*frame = off >> SIM_PAGE_SHIFT;
	*n = len >> SIM_PAGE_SHIFT;
	return 0;
}

int sim_dom_balloon_out(struct sim_dom *d, unsigned vcpu, uint64_t gpa,
			uint64_t len, int timeout_ms)
{
	uint64_t frame, n;
	int rc = frame_span(d, gpa, len, &frame, &n);

	if (rc)
		return rc;
	p2m_set_out(d, frame, n, true);
	/* Xen on Arm: after the hypercall that removed RAM from the p2m,
	 * before the vCPU runs on (xen-ioreq-facts.md 2.4). */
	rc = sim_dom_invalidate(d, vcpu, timeout_ms);
	if (rc) {
		/* Not given back after all: the guest keeps the frames. */
		p2m_set_out(d, frame, n, false);
		return rc;
	}
	return (int)frames_held(d, frame, n);
}

int sim_dom_balloon_in(struct sim_dom *d, uint64_t gpa, uint64_t len)
{
	uint64_t frame, n, held;
	int rc = frame_span(d, gpa, len, &frame, &n);

	if (rc)
		return rc;
	held = frames_held(d, frame, n);
	if (held) {
		hv_log(d->hv,
		       "domain %u: over-allocation: %llu frame(s) given "
		       "back are still mapped by a backend",
		       d->domid, (unsigned long long)held);
		return -ENOMEM;
	}
	/* Fresh pages from Xen's heap: what was there is gone. */
	memset(d->ram + (frame << SIM_PAGE_SHIFT), 0, n << SIM_PAGE_SHIFT);
	p2m_set_out(d, frame, n, false);
	return 0;
}

int sim_dom_send_ioreq(struct sim_dom *d, unsigned vcpu, uint8_t type,
		       uint64_t addr, uint64_t data, int timeout_ms)
{
	return broadcast(d, vcpu, type, addr, 8, data, timeout_ms);
}

/* ------------------------------------------------------------ memory */

uint8_t *sim_dom_ram(struct sim_dom *d)
{
	return d->ram;
}

uint64_t sim_dom_ram_size(struct sim_dom *d)
{
	return d->ram_bytes;
}

int64_t sim_dom_frames_mapped(struct sim_dom *d, uint64_t gpa, uint64_t len)
{
	uint64_t frame, n;
	int rc = frame_span(d, gpa, len, &frame, &n);

	return rc ? rc : (int64_t)frames_held(d, frame, n);
}

const char *sim_dom_ram_backing(struct sim_dom *d)
{
	return d->ram_secret ? "memfd_secret" : "memfd";
}

/* ------------------------------------------------------------ interrupts */

uint64_t sim_dom_irq_edges(struct sim_dom *d, unsigned irq)
{
	if (irq < SIM_SPI_FIRST || irq >= SIM_SPI_FIRST + SIM_SPI_COUNT)
		return 0;
	return __atomic_load_n(&d->sh->irq_edges[irq - SIM_SPI_FIRST],
			       __ATOMIC_SEQ_CST);
}

int sim_dom_wait_irq(struct sim_dom *d, unsigned irq, uint64_t seen,
		     int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	unsigned i = irq - SIM_SPI_FIRST;
	uint32_t *seq, *waiters;
	int rc = 0;

	if (irq < SIM_SPI_FIRST || irq >= SIM_SPI_FIRST + SIM_SPI_COUNT)
		return -EINVAL;
	seq = &d->sh->irq_seq[i];
	waiters = &d->sh->irq_waiters[i];
	/* The library wakes the futex only when it sees a waiter; counting
	 * ourselves before re-reading the edges closes the race. */
	__atomic_add_fetch(waiters, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		uint32_t s = __atomic_load_n(seq, __ATOMIC_SEQ_CST);
		struct timespec ts, *tsp = NULL;
		int ms;

		if (__atomic_load_n(&d->sh->irq_edges[i], __ATOMIC_SEQ_CST) >
		    seen)
			break;
		ms = remaining_ms(deadline);
		if (ms == 0) {
			rc = -ETIMEDOUT;
			break;
		}
		if (ms > 0) {
			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (long)(ms % 1000) * 1000000;
			tsp = &ts;
		}
		syscall(SYS_futex, seq, FUTEX_WAIT, s, tsp, NULL, 0);
	}
	__atomic_sub_fetch(waiters, 1, __ATOMIC_SEQ_CST);
	return rc;
}

/* ------------------------------------------------------------ xenstore */

static int xs_write_with(struct sim_hv *hv,
			 int (*wr)(struct hv_xs *, const char *, const void *,
				   size_t),
			 const char *path, const char *value)
{
	int rc;

	pthread_mutex_lock(&hv->lock);
	rc = wr(hv->xs, path, value, strlen(value));
	pthread_cond_broadcast(&hv->cond);
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

int sim_hv_xs_write(struct sim_hv *hv, const char *path, const char *value)
{
	return xs_write_with(hv, hv_xs_write, path, value);
}

int sim_hv_xs_die(struct sim_hv *hv, const char *path, const char *value)
{
	return xs_write_with(hv, hv_xs_die, path, value);
}

char *sim_hv_xs_read(struct sim_hv *hv, const char *path)
{
	char *v;
	int saved;

	pthread_mutex_lock(&hv->lock);
	v = hv_xs_read(hv->xs, path, NULL);
	saved = errno;
	pthread_mutex_unlock(&hv->lock);
	errno = saved;
	return v;
}

int sim_hv_xs_rm(struct sim_hv *hv, const char *path)
{
	int rc;

	pthread_mutex_lock(&hv->lock);
	rc = hv_xs_rm(hv->xs, path);
	pthread_cond_broadcast(&hv->cond);
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

struct sim_xs_txn {
	struct sim_hv *hv;
};

int sim_hv_xs_txn(struct sim_hv *hv, int (*fn)(struct sim_xs_txn *t, void *arg),
		  void *arg)
{
	struct sim_xs_txn t = {.hv = hv};
	int rc;

	pthread_mutex_lock(&hv->lock);
	rc = fn(&t, arg);
	pthread_cond_broadcast(&hv->cond);
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

char *sim_xs_txn_read(struct sim_xs_txn *t, const char *path)
{
	return hv_xs_read(t->hv->xs, path, NULL);
}

int sim_xs_txn_write(struct sim_xs_txn *t, const char *path, const char *value)
{
	return hv_xs_write(t->hv->xs, path, value, strlen(value));
}

int sim_xs_txn_rm(struct sim_xs_txn *t, const char *path)
{
	return hv_xs_rm(t->hv->xs, path);
}

/* any: the node exists; else value, NULL for absent. */
static int xs_wait(struct sim_hv *hv, const char *path, bool any,
		   const char *value, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	int rc = 0;

	pthread_mutex_lock(&hv->lock);
	for (;;) {
		char *v = hv_xs_read(hv->xs, path, NULL);
		bool match = any     ? v != NULL
			     : value ? v && !strcmp(v, value)
				     : !v;

		free(v);
		if (match)
			break;
		if (!cond_wait_until(hv, deadline)) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

int sim_hv_xs_wait(struct sim_hv *hv, const char *path, const char *value,
		   int timeout_ms)
{
	return xs_wait(hv, path, false, value, timeout_ms);
}

int sim_hv_xs_wait_present(struct sim_hv *hv, const char *path, int timeout_ms)
{
	return xs_wait(hv, path, true, NULL, timeout_ms);
}

int sim_hv_xs_children(struct sim_hv *hv, const char *path)
{
	int n;

	pthread_mutex_lock(&hv->lock);
	n = hv_xs_children(hv->xs, path);
	pthread_mutex_unlock(&hv->lock);
	return n;
}

int64_t sim_hv_xs_writes(struct sim_hv *hv, const char *path)
{
	int64_t n;

	pthread_mutex_lock(&hv->lock);
	n = hv_xs_writes(hv->xs, path);
	pthread_mutex_unlock(&hv->lock);
	return n;
}

int sim_hv_xs_settle(struct sim_hv *hv, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	int rc = 0;

	pthread_mutex_lock(&hv->lock);
	while (hv_xs_queued(hv->xs))
		if (!cond_wait_until(hv, deadline)) {
			rc = -ETIMEDOUT;
			break;
		}
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

/* ------------------------------------------------------------ the domain */

void sim_dom_destroy(struct sim_dom *d)
{
	struct sim_hv *hv = d->hv;
	unsigned i;

	pthread_mutex_lock(&hv->lock);
	if (d->dom_state != SIM_DOM_ALIVE) {
		pthread_mutex_unlock(&hv->lock);
		return;
	}
	hv_log(hv, "destroying domain %u", d->domid);
	d->dom_state = SIM_DOM_DYING;
	d->paused = true; /* domain_kill pauses it for good */
	__atomic_store_n(&d->sh->dom_state, SIM_DOM_DYING, __ATOMIC_SEQ_CST);
	/* domain_relinquish_resources -> ioreq_server_destroy_all */
	for (i = 0; i < SIM_MAX_SERVERS; i++)
		if (d->servers[i].used)
			hv_destroy_server(d, i);
	hv_xs_fire_special(hv->xs, "@releaseDomain");
	hv_check_gone(d);
	pthread_cond_broadcast(&hv->cond);
	pthread_mutex_unlock(&hv->lock);
}

void sim_dom_shutdown(struct sim_dom *d, unsigned reason)
{
	struct sim_hv *hv = d->hv;

	pthread_mutex_lock(&hv->lock);
	if (d->dom_state == SIM_DOM_ALIVE && !d->shutdown) {
		d->shutdown = true;
		d->shutdown_reason = reason;
		hv_log(hv, "domain %u shut down, reason %u", d->domid, reason);
		hv_xs_fire_special(hv->xs, "@releaseDomain");
		pthread_cond_broadcast(&hv->cond);
	}
	pthread_mutex_unlock(&hv->lock);
}

void sim_dom_resume(struct sim_dom *d)
{
	pthread_mutex_lock(&d->hv->lock);
	if (d->dom_state == SIM_DOM_ALIVE && d->shutdown) {
		d->shutdown = false;
		hv_log(d->hv, "domain %u resumed", d->domid);
		pthread_cond_broadcast(&d->hv->cond);
	}
	pthread_mutex_unlock(&d->hv->lock);
}

void sim_dom_get_stats(struct sim_dom *d, struct sim_hv_stats *st)
{
	struct sim_shared *sh = d->sh;
	int64_t now;

	pthread_mutex_lock(&d->hv->lock);
	*st = d->stats;
	st->foreign_maps = __atomic_load_n(&sh->foreign_maps, __ATOMIC_SEQ_CST);
	st->foreign_pages =
	    __atomic_load_n(&sh->foreign_pages, __ATOMIC_SEQ_CST);
	st->foreign_pages_refused =
	    __atomic_load_n(&sh->foreign_pages_refused, __ATOMIC_SEQ_CST);
	now = __atomic_load_n(&sh->pages_mapped_now, __ATOMIC_SEQ_CST);
	st->pages_mapped_now = now > 0 ? (uint64_t)now : 0;
	st->servers_live = 0;
	for (unsigned i = 0; i < SIM_MAX_SERVERS; i++)
		st->servers_live += d->servers[i].used;
	pthread_mutex_unlock(&d->hv->lock);
}

/* ------------------------------------------- the default domain's calls */

int sim_hv_wait_ready(struct sim_hv *hv, uint64_t base, uint64_t size,
		      int timeout_ms)
{
	struct sim_dom *d = sim_hv_default_domain(hv);

	return d ? sim_dom_wait_ready(d, base, size, timeout_ms) : -ESRCH;
}

uint8_t *sim_hv_ram(struct sim_hv *hv)
{
	struct sim_dom *d = sim_hv_default_domain(hv);

	return d ? sim_dom_ram(d) : NULL;
}

uint64_t sim_hv_ram_size(struct sim_hv *hv)
{
	struct sim_dom *d = sim_hv_default_domain(hv);

	return d ? sim_dom_ram_size(d) : 0;
}

const char *sim_hv_ram_backing(struct sim_hv *hv)
{
	struct sim_dom *d = sim_hv_default_domain(hv);

	return d ? sim_dom_ram_backing(d) : NULL;
}

int sim_hv_mmio(struct sim_hv *hv, unsigned vcpu, uint64_t gpa, unsigned size,
		bool write, uint64_t *data, int timeout_ms)
{
	struct sim_dom *d = sim_hv_default_domain(hv);

	return d ? sim_dom_mmio(d, vcpu, gpa, size, write, data, timeout_ms)
		 : -ESRCH;
}

int sim_hv_invalidate(struct sim_hv *hv, unsigned vcpu, int timeout_ms)
{
	struct sim_dom *d = sim_hv_default_domain(hv);

	return d ? sim_dom_invalidate(d, vcpu, timeout_ms) : -ESRCH;
}

int sim_hv_send_ioreq(struct sim_hv *hv, unsigned vcpu, uint8_t type,
		      uint64_t addr, uint64_t data, int timeout_ms)
{
	struct sim_dom *d = sim_hv_default_domain(hv);

	return d ? sim_dom_send_ioreq(d, vcpu, type, addr, data, timeout_ms)
		 : -ESRCH;
}

uint64_t sim_hv_irq_edges(struct sim_hv *hv, unsigned irq)
{
	struct sim_dom *d = sim_hv_default_domain(hv);

	return d ? sim_dom_irq_edges(d, irq) : 0;
}

int sim_hv_wait_irq(struct sim_hv *hv, unsigned irq, uint64_t seen,
		    int timeout_ms)
{
	struct sim_dom *d = sim_hv_default_domain(hv);

	return d ? sim_dom_wait_irq(d, irq, seen, timeout_ms) : -ESRCH;
}

void sim_hv_destroy_domain(struct sim_hv *hv)
{
	struct sim_dom *d = sim_hv_default_domain(hv);

	if (d)
		sim_dom_destroy(d);
}

void sim_hv_shutdown_domain(struct sim_hv *hv, unsigned reason)
{
	struct sim_dom *d = sim_hv_default_domain(hv);

	if (d)
		sim_dom_shutdown(d, reason);
}

void sim_hv_get_stats(struct sim_hv *hv, struct sim_hv_stats *st)
{
	struct sim_dom *d = sim_hv_default_domain(hv);

	if (d)
		sim_dom_get_stats(d, st);
	else
		memset(st, 0, sizeof(*st));
}
