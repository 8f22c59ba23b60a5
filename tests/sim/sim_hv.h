/* SPDX-License-Identifier: GPL-2.0-only */
/* The simulated hypervisor, as the simulated guest sees it.
 *
 * It lives inside the sim-guest process and plays Xen 4.17 on Arm for any
 * number of guest domains (up to SIM_MAX_DOMS over its lifetime): each with
 * guest RAM in shared memory at the Arm guest layout, its own ioreq servers
 * (one ioreq page with a slot per vCPU), event channels and IRQ lines; plus
 * one xenstore. Domids are never reused: a rebooted guest is a new domain.
 * The daemon under test talks to it through the drop-in Xen libraries in
 * build/sim-lib (tests/sim/lib), which reach this process over the Unix
 * socket named by $XEN_SIM_SOCKET; every process using them is tracked, so
 * that what it mapped is released when it dies (as Linux does) and it is
 * killed when the hypervisor goes away.
 *
 * The sim_hv_* calls that take no domain act on the default domain: the
 * first one (sim_hv_config.domid) unless sim_hv_set_default_domain() says
 * otherwise; with none they fail with -ESRCH (or return 0 / NULL). */
#ifndef SIM_HV_H
#define SIM_HV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SIM_ENV_SOCKET "XEN_SIM_SOCKET"

/* Guest RAM where Xen 4.17 on Arm puts it (public/arch-arm.h): the domain
 * builder fills bank 0 first and puts the rest in bank 1, so a guest with
 * more than 3 GiB has RAM above 8 GiB and a hole between the banks. A
 * domain's RAM is one contiguous memfd: its RAM offset off is bank 0's
 * byte off below SIM_RAM0_SIZE, else bank 1's byte off - SIM_RAM0_SIZE.
 * These helpers are the only place that knows that. */
#define SIM_RAM0_BASE 0x40000000ULL  /* GUEST_RAM0_BASE */
#define SIM_RAM0_SIZE 0xc0000000ULL  /* GUEST_RAM0_SIZE */
#define SIM_RAM1_BASE 0x200000000ULL /* GUEST_RAM1_BASE */
#define SIM_RAM1_SIZE 0xfe00000000ULL
/* Our cap, far below bank 1's size: a test machine's memory. */
#define SIM_RAM_MAX (64ULL << 30)

/* Bytes of RAM in bank 0 for a domain of ram_bytes. */
static inline uint64_t sim_ram_bank0(uint64_t ram_bytes)
{
	return ram_bytes < SIM_RAM0_SIZE ? ram_bytes : SIM_RAM0_SIZE;
}

/* The guest physical address of RAM offset off (off < ram_bytes). */
static inline uint64_t sim_ram_gpa(uint64_t off)
{
	return off < SIM_RAM0_SIZE ? SIM_RAM0_BASE + off
				   : SIM_RAM1_BASE + (off - SIM_RAM0_SIZE);
}

/* Just past the last byte of RAM (of bank 1 if there is one). */
static inline uint64_t sim_ram_end(uint64_t ram_bytes)
{
	return sim_ram_gpa(ram_bytes - 1) + 1;
}

/* Whether [gpa, gpa+len) is RAM of a domain of ram_bytes, with its RAM
 * offset in *off. A range that runs off a bank into the hole or past the
 * end is not RAM, whatever lies beyond. */
static inline bool sim_ram_range(uint64_t ram_bytes, uint64_t gpa, uint64_t len,
				 uint64_t *off)
{
	uint64_t bank0 = sim_ram_bank0(ram_bytes), bank1 = ram_bytes - bank0;

	if (gpa >= SIM_RAM0_BASE && gpa - SIM_RAM0_BASE <= bank0 &&
	    len <= bank0 - (gpa - SIM_RAM0_BASE)) {
		*off = gpa - SIM_RAM0_BASE;
		return true;
	}
	if (gpa >= SIM_RAM1_BASE && gpa - SIM_RAM1_BASE <= bank1 &&
	    len <= bank1 - (gpa - SIM_RAM1_BASE)) {
		*off = bank0 + (gpa - SIM_RAM1_BASE);
		return true;
	}
	return false;
}

/* The same for one 4 KiB frame: its index in the RAM memfd. */
static inline bool sim_ram_frame(uint64_t ram_bytes, uint64_t gfn,
				 uint64_t *frame)
{
	uint64_t off;

	if (gfn > (UINT64_MAX >> 12) ||
	    !sim_ram_range(ram_bytes, gfn << 12, 1ULL << 12, &off))
		return false;
	*frame = off >> 12;
	return true;
}

struct sim_hv;
struct sim_dom;

/* What holds guest RAM. On Xen the daemon maps guest RAM through privcmd
 * (VM_IO|VM_PFNMAP): the kernel cannot pin those pages, so O_DIRECT into
 * them fails with EFAULT while buffered I/O and memcpy work (docs/
 * xen-notes.md 1). Secret memory (memfd_secret(2), Linux >= 5.14) behaves
 * the same way, a plain memfd does not. Secret memory is locked memory:
 * without CAP_IPC_LOCK it counts against RLIMIT_MEMLOCK in every process
 * that maps it. */
enum sim_ram_backing {
	SIM_RAM_AUTO = 0, /* secret if the kernel allows it, else a plain
			   * memfd (one warning line on stderr) */
	SIM_RAM_SECRET,	  /* secret or nothing (sim_hv_new fails) */
	SIM_RAM_MEMFD,	  /* plain memfd: O_DIRECT into guest RAM works */
};

struct sim_hv_config {
	unsigned vcpus;	    /* 1..128 */
	uint64_t ram_bytes; /* guest RAM (banks as above), multiple of 4 KiB,
			     * at most SIM_RAM_MAX */
	uint32_t domid;	    /* the first guest's domid (the daemon's --domid);
			     * 0: no domain at first (sim_hv_create_domain) */
	const char *socket_path; /* NULL: a fresh path under /tmp */
	bool verbose;		 /* log hypercalls to stderr */
	enum sim_ram_backing ram_backing;
	/* Built without CONFIG_IOREQ_SERVER, as Debian's arm64 Xen 4.17
	 * (e2e-testbed.md CRITICAL FINDING 1): every DMOP fails ENOSYS. */
	bool no_ioreq_server;
};

/* Create the hypervisor and start serving the socket (own thread). The
 * first domain, if any, is created running (unpaused). */
struct sim_hv *sim_hv_new(const struct sim_hv_config *cfg);
/* Stop serving, free everything (the daemon and every other process that
 * used the libraries, if alive, are killed). */
void sim_hv_free(struct sim_hv *hv);

/* The environment a process needs to reach this hypervisor: ours with
 * XEN_SIM_SOCKET and LD_LIBRARY_PATH=libdir prepended (NULL, errno, on
 * failure). Free it with sim_hv_env_free(). */
char **sim_hv_env(const struct sim_hv *hv, const char *libdir);
void sim_hv_env_free(char **envp);
/* In a child just forked by a simulator process (`parent`): default
 * signal dispositions and an empty mask, SIGKILL when the parent dies,
 * standard error on stderr_fd (-1: inherited), then execve. Only
 * async-signal-safe calls; never returns. */
void sim_exec_child(char *const argv[], char *const envp[], int stderr_fd,
		    pid_t parent) __attribute__((noreturn));
/* Start the daemon as a child: argv[0] is its path; the environment gets
 * XEN_SIM_SOCKET and LD_LIBRARY_PATH=libdir prepended. Returns the pid or -1
 * (errno; EBUSY if a daemon is still running). The daemon gets SIGKILL if
 * the sim-guest process dies. */
pid_t sim_hv_spawn(struct sim_hv *hv, const char *libdir, char *const argv[]);
/* The same with the daemon's standard error on stderr_fd (-1: inherited). */
pid_t sim_hv_spawn_fd(struct sim_hv *hv, const char *libdir, char *const argv[],
		      int stderr_fd);
/* Send a signal to the daemon (0 or -ECHILD/-errno); wait for its exit
 * (timeout_ms, -1 forever): returns the wait status (>= 0, also stored in
 * *wstatus if not NULL), -ETIMEDOUT, or -ECHILD if no daemon. The daemon
 * is reaped by the hypervisor (don't waitpid() it yourself). */
int sim_hv_signal_daemon(struct sim_hv *hv, int sig);
int sim_hv_wait_daemon(struct sim_hv *hv, int timeout_ms, int *wstatus);
bool sim_hv_daemon_alive(struct sim_hv *hv);
/* The daemon's pid while it runs (not yet reaped), else -1: for reading
 * its /proc entries (CPU time in benchmarks). */
pid_t sim_hv_daemon_pid(struct sim_hv *hv);
/* Connections of library kind (SIM_KIND_*) that process pid holds open
 * now: a handle it has closed no longer counts once the hypervisor has
 * read the close. */
unsigned sim_hv_proc_conns(struct sim_hv *hv, pid_t pid, uint32_t kind);

/* Wait until an enabled IOREQ server has mapped a range that contains all of
 * [base, base+size) and bound every vCPU's port: 0, or -ETIMEDOUT / -EPIPE
 * (daemon exited). */
int sim_hv_wait_ready(struct sim_hv *hv, uint64_t base, uint64_t size,
		      int timeout_ms);

/* Guest RAM, host pointer to RAM offset 0 (the memfd; sim_ram_range maps
 * addresses to offsets); hostile tests may write anything. */
uint8_t *sim_hv_ram(struct sim_hv *hv);
uint64_t sim_hv_ram_size(struct sim_hv *hv);
/* "memfd_secret" or "memfd": what holds the default domain's RAM (NULL if
 * there is no domain). */
const char *sim_hv_ram_backing(struct sim_hv *hv);
/* Whether processes started from here may map secret memory without limit:
 * true with CAP_IPC_LOCK, or once RLIMIT_MEMLOCK could be raised to
 * infinity (tried here; children inherit it). A daemon that drops root
 * (--runas) keeps only the limit. */
bool sim_hv_memlock_unlimited(void);

/* A vCPU's MMIO access, as Xen forwards a trapped access: fills the vCPU's
 * slot (type COPY, count 1, data_is_ptr 0; for writes `*data` is passed
 * unmasked, as Arm passes the whole register), marks it READY, notifies the
 * vCPU's port and blocks until the daemon answers (IORESP_READY + notify).
 * Reads return the low `size` bytes of the answer in *data.
 * Returns 0; -ENODEV when no enabled server covers every byte (real Xen
 * injects a data abort); -ETIMEDOUT after timeout_ms with no answer (the
 * vCPU would hang); -EPIPE when the daemon (or the process that created the
 * server) died; -EPROTO when the daemon broke the slot protocol (Xen would
 * crash the domain); -ESRCH once the domain is dying; -EBUSY while it is
 * paused or shut down (its vCPUs do not run). One call at a time per vCPU;
 * different vCPUs may call concurrently from their own threads. timeout_ms < 0
 * waits forever. A vCPU whose call timed out stays blocked in "Xen": its next
 * call first waits (with the new timeout) for the old answer. A slot set
 * back to NONE by the daemon completes the access with ~0 as Xen does, but
 * is counted in stats.protocol_errors. Xen sends INVALIDATE once before the
 * guest's first MMIO access: the guest side calls sim_hv_invalidate() for
 * that. */
int sim_hv_mmio(struct sim_hv *hv, unsigned vcpu, uint64_t gpa, unsigned size,
		bool write, uint64_t *data, int timeout_ms);
/* IOREQ_TYPE_INVALIDATE broadcast from vcpu (size 4, write, data ~0) to
 * every enabled server in turn; blocks until answered, same return values
 * as sim_hv_mmio (0 when no server is enabled). */
int sim_hv_invalidate(struct sim_hv *hv, unsigned vcpu, int timeout_ms);
/* Any other ioreq type (e.g. 7 = TIMEOFFSET) to check it is answered:
 * broadcast like INVALIDATE (size 8, write); -ENODEV if no server. */
int sim_hv_send_ioreq(struct sim_hv *hv, unsigned vcpu, uint8_t type,
		      uint64_t addr, uint64_t data, int timeout_ms);

/* Interrupts, as Xen 4.17's default (old) vGIC does it (xen-ioreq-facts.md
 * §4.1): every set_irq_level(irq, 1) injects one edge, level 0 is ignored
 * (the DT says edge-rising). Valid SPIs (others: EINVAL to the daemon): */
#define SIM_SPI_MIN 32
#define SIM_SPI_MAX 63
/* The count of edges per SPI: */
uint64_t sim_hv_irq_edges(struct sim_hv *hv, unsigned irq);
/* Wait until the edge count of irq exceeds `seen`: 0 or -ETIMEDOUT. */
int sim_hv_wait_irq(struct sim_hv *hv, unsigned irq, uint64_t seen,
		    int timeout_ms);

/* The xenstore, for tests that populate it as libxl does. Paths absolute.
 * read returns a malloc'd string or NULL (errno ENOENT). */
int sim_hv_xs_write(struct sim_hv *hv, const char *path, const char *value);
char *sim_hv_xs_read(struct sim_hv *hv, const char *path);
/* sim_hv_xs_write, then xenstored dies: its clients fetch the watch events
 * already queued for them, then find the connection lost; nobody
 * connects again. */
int sim_hv_xs_die(struct sim_hv *hv, const char *path, const char *value);
int sim_hv_xs_rm(struct sim_hv *hv, const char *path);
/* Several operations as one committed transaction: fn runs with the store
 * locked, using the sim_xs_txn_* calls on t; nobody sees a state in
 * between, and the daemon's transactions that read or wrote any node
 * touched here fail their commit with EAGAIN (as in C xenstored). Returns
 * fn's result. fn must not call other sim_hv_* functions. */
struct sim_xs_txn;
int sim_hv_xs_txn(struct sim_hv *hv, int (*fn)(struct sim_xs_txn *t, void *arg),
		  void *arg);
char *sim_xs_txn_read(struct sim_xs_txn *t, const char *path);
int sim_xs_txn_write(struct sim_xs_txn *t, const char *path, const char *value);
int sim_xs_txn_rm(struct sim_xs_txn *t, const char *path);
/* Wait until the node's value is `value` (NULL: until the node is absent)
 * when looked at after a change, as a toolstack looks at a node when its
 * watch fires: a value that only lasts between two looks can be missed.
 * 0 or -ETIMEDOUT. */
int sim_hv_xs_wait(struct sim_hv *hv, const char *path, const char *value,
		   int timeout_ms);
/* The same, until the node exists (whatever its value). */
int sim_hv_xs_wait_present(struct sim_hv *hv, const char *path, int timeout_ms);
/* How many children the node has, or -ENOENT. */
int sim_hv_xs_children(struct sim_hv *hv, const char *path);
/* How many times the node was written since it was created (writes in a
 * transaction count at its commit), or -ENOENT. */
int64_t sim_hv_xs_writes(struct sim_hv *hv, const char *path);
/* Wait until every xenstore client has fetched every watch event queued
 * for it: 0 or -ETIMEDOUT. */
int sim_hv_xs_settle(struct sim_hv *hv, int timeout_ms);

/* Kill the domain as Xen does: servers destroyed, later DMOPs on them fail
 * with ENOENT, new foreign maps fail per frame, @releaseDomain fires. The
 * domain stays a dying zombie while the daemon maps any of its pages, then
 * disappears from xc_domain_getinfolist (no second @releaseDomain: C xenstored
 * fires only the first). */
void sim_hv_destroy_domain(struct sim_hv *hv);
/* The guest shut itself down (reason as SHUTDOWN_*: 0 poweroff): getinfo
 * shows shutdown, @releaseDomain fires; the domain is otherwise alive. */
void sim_hv_shutdown_domain(struct sim_hv *hv, unsigned reason);

/* What the hypervisor observed, for assertions. */
struct sim_hv_stats {
	uint64_t ioreqs, servers_created, servers_destroyed, ranges_mapped;
	uint64_t foreign_maps, foreign_pages, foreign_pages_refused;
	uint64_t pages_mapped_now; /* foreign pages currently mapped */
	uint64_t protocol_errors;  /* slot state machine violations */
	bool bufioreq_refused;	   /* a create with buffered ioreqs on */
	/* Pages (guest pages and ioreq pages) a process still mapped when
	 * it died: released by its death, not by the process itself. */
	uint64_t pages_released_at_exit;
	uint64_t servers_live; /* created and not yet destroyed */
};
void sim_hv_get_stats(struct sim_hv *hv, struct sim_hv_stats *st);

/* ------------------------------------------------------------ domains */

/* Where a domain is in its life (getinfo: running, dying, not found). */
enum sim_dom_life {
	SIM_LIFE_ALIVE = 0,
	SIM_LIFE_DYING = 1, /* a zombie while anything of it is mapped */
	SIM_LIFE_GONE = 2,
};

/* A new domain with a domid never used before (domid 0: the next one,
 * i.e. one more than the highest so far; else that one, EEXIST if used),
 * paused as Xen's domain_create leaves it until the toolstack unpauses it,
 * with its xenstore home (name, domid, memory/static-max). NULL with errno
 * (EINVAL bad size or domid, ENOSPC after SIM_MAX_DOMS domains). The
 * structure stays valid until sim_hv_free, whatever happens to the
 * domain. */
struct sim_dom *sim_hv_create_domain(struct sim_hv *hv, uint32_t domid,
				     unsigned vcpus, uint64_t ram_bytes);
/* The domain with that domid (in any state), or NULL if it never was. */
struct sim_dom *sim_hv_find_domain(struct sim_hv *hv, uint32_t domid);
/* The domain the domain-less sim_hv_* calls act on (NULL: none). */
struct sim_dom *sim_hv_default_domain(struct sim_hv *hv);
void sim_hv_set_default_domain(struct sim_hv *hv, struct sim_dom *d);

struct sim_hv *sim_dom_hv(const struct sim_dom *d);
uint32_t sim_dom_id(const struct sim_dom *d);
unsigned sim_dom_vcpus(const struct sim_dom *d);
enum sim_dom_life sim_dom_life(struct sim_dom *d);
bool sim_dom_paused(struct sim_dom *d);
void sim_dom_unpause(struct sim_dom *d);
void sim_dom_pause(struct sim_dom *d);
/* Wait until the domain reaches `life` (or a later one): 0, -ETIMEDOUT. */
int sim_dom_wait_life(struct sim_dom *d, enum sim_dom_life life,
		      int timeout_ms);
/* False once the daemon died, or a process that created one of this
 * domain's IOREQ servers did (nobody will answer its vCPUs). */
bool sim_dom_daemon_alive(struct sim_dom *d);

/* The per-domain forms of the calls above. */
int sim_dom_wait_ready(struct sim_dom *d, uint64_t base, uint64_t size,
		       int timeout_ms);
uint8_t *sim_dom_ram(struct sim_dom *d);
uint64_t sim_dom_ram_size(struct sim_dom *d);
const char *sim_dom_ram_backing(struct sim_dom *d);
/* How many frames of [gpa, gpa+len) (page-aligned guest RAM) a backend
 * maps now, or -EINVAL: to check that the daemon used the RAM a test
 * meant it to. */
int64_t sim_dom_frames_mapped(struct sim_dom *d, uint64_t gpa, uint64_t len);
int sim_dom_mmio(struct sim_dom *d, unsigned vcpu, uint64_t gpa, unsigned size,
		 bool write, uint64_t *data, int timeout_ms);
/* x86 Xen's string access to MMIO (rep movs/stos, hvmemul_do_io): one
 * COPY request of count (1..SIM_REP_MAX) units of size bytes upwards from
 * gpa; with ptr the data field is the guest address of the buffer
 * (data_is_ptr), else the value. Arm's Xen never sends one (count 1, no
 * pointer). Returns as sim_dom_mmio; *data gets the answer's data field. */
#define SIM_REP_MAX 4096
int sim_dom_mmio_rep(struct sim_dom *d, unsigned vcpu, uint64_t gpa,
		     unsigned size, uint32_t count, bool ptr, bool write,
		     uint64_t *data, int timeout_ms);
int sim_dom_invalidate(struct sim_dom *d, unsigned vcpu, int timeout_ms);
/* Ballooning. The guest gives [gpa, gpa+len) (page-aligned guest RAM)
 * back to Xen: the frames leave its p2m, so no new foreign mapping of them
 * succeeds, and every server gets IOREQ_TYPE_INVALIDATE from vcpu before
 * this returns, as Xen on Arm sends it. Returns how many of the frames a
 * backend still maps once the servers have answered (each stays charged
 * to the guest until unmapped; in-flight I/O may hold a few), or -errno
 * (-EINVAL: not page-aligned guest RAM). */
int sim_dom_balloon_out(struct sim_dom *d, unsigned vcpu, uint64_t gpa,
			uint64_t len, int timeout_ms);
/* The guest takes the range back: fresh zeroed frames. -ENOMEM while a
 * backend still maps any of the old ones (Xen: the domain would exceed its
 * allocation, "Over-allocation"), -EINVAL as above. */
int sim_dom_balloon_in(struct sim_dom *d, uint64_t gpa, uint64_t len);
int sim_dom_send_ioreq(struct sim_dom *d, unsigned vcpu, uint8_t type,
		       uint64_t addr, uint64_t data, int timeout_ms);
uint64_t sim_dom_irq_edges(struct sim_dom *d, unsigned irq);
int sim_dom_wait_irq(struct sim_dom *d, unsigned irq, uint64_t seen,
		     int timeout_ms);
void sim_dom_destroy(struct sim_dom *d);
void sim_dom_shutdown(struct sim_dom *d, unsigned reason);

/* The ioreqs Xen sent to the domain's servers, in the order they were
 * answered: the first SIM_TRACE_MAX of them, to compare a guest's first
 * accesses with a real boot's (e2e-testbed.md: one INVALIDATE, then the
 * probe's register accesses). */
#define SIM_TRACE_MAX 256
struct sim_ioreq_rec {
	uint8_t type; /* IOREQ_TYPE_*: 1 COPY (MMIO), 8 INVALIDATE, ... */
	bool write;
	uint8_t size;
	unsigned vcpu;
	int rc;		     /* 0, or as sim_dom_mmio returns */
	uint64_t addr, data; /* data: written, or the answer to a read */
};
/* Copy up to max records; returns how many there are in all. */
unsigned sim_dom_ioreq_trace(struct sim_dom *d, struct sim_ioreq_rec *rec,
			     unsigned max);
/* A suspended domain resumes (xl save -c, a checkpoint): the shutdown
 * flag is cleared and @releaseDomain does not fire. */
void sim_dom_resume(struct sim_dom *d);
void sim_dom_get_stats(struct sim_dom *d, struct sim_hv_stats *st);

#endif
