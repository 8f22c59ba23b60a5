/* SPDX-License-Identifier: GPL-2.0-only */
/* The simulated hypervisor, as the simulated guest sees it.
 *
 * It lives inside the sim-guest process and plays Xen 4.17 on Arm for one
 * guest domain: guest RAM in shared memory at the Arm guest layout, one
 * ioreq page with a slot per vCPU, one event channel per vCPU, the IRQ
 * lines, and a small xenstore. The daemon under test talks to it through
 * the drop-in Xen libraries in build/sim-lib (tests/sim/lib), which reach
 * this process over the Unix socket named by $XEN_SIM_SOCKET. */
#ifndef SIM_HV_H
#define SIM_HV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SIM_RAM_BASE   0x40000000ULL /* GUEST_RAM0_BASE */
#define SIM_ENV_SOCKET "XEN_SIM_SOCKET"

struct sim_hv;

struct sim_hv_config {
	unsigned vcpus;	    /* 1..128 */
	uint64_t ram_bytes; /* guest RAM at SIM_RAM_BASE, multiple of 4 KiB */
	uint32_t domid;	    /* the guest's domid (the daemon's --domid) */
	const char *socket_path; /* NULL: a fresh path under /tmp */
	bool verbose;		 /* log hypercalls to stderr */
};

/* Create the hypervisor and start serving the socket (own thread). */
struct sim_hv *sim_hv_new(const struct sim_hv_config *cfg);
/* Stop serving, free everything (the daemon, if alive, is killed). */
void sim_hv_free(struct sim_hv *hv);

/* Start the daemon as a child: argv[0] is its path; the environment gets
 * XEN_SIM_SOCKET and LD_LIBRARY_PATH=libdir prepended. Returns the pid or -1
 * (errno; EBUSY if a daemon is still running). The daemon gets SIGKILL if
 * the sim-guest process dies. */
pid_t sim_hv_spawn(struct sim_hv *hv, const char *libdir, char *const argv[]);
/* Send a signal to the daemon (0 or -ECHILD/-errno); wait for its exit
 * (timeout_ms, -1 forever): returns the wait status (>= 0, also stored in
 * *wstatus if not NULL), -ETIMEDOUT, or -ECHILD if no daemon. The daemon
 * is reaped by the hypervisor (don't waitpid() it yourself). */
int sim_hv_signal_daemon(struct sim_hv *hv, int sig);
int sim_hv_wait_daemon(struct sim_hv *hv, int timeout_ms, int *wstatus);
bool sim_hv_daemon_alive(struct sim_hv *hv);

/* Wait until an enabled IOREQ server has mapped a range that contains all of
 * [base, base+size) and bound every vCPU's port: 0, or -ETIMEDOUT / -EPIPE
 * (daemon exited). */
int sim_hv_wait_ready(struct sim_hv *hv, uint64_t base, uint64_t size,
		      int timeout_ms);

/* Guest RAM, host pointer to SIM_RAM_BASE; hostile tests may write anything. */
uint8_t *sim_hv_ram(struct sim_hv *hv);
uint64_t sim_hv_ram_size(struct sim_hv *hv);

/* A vCPU's MMIO access, as Xen forwards a trapped access: fills the vCPU's
 * slot (type COPY, count 1, data_is_ptr 0; for writes `*data` is passed
 * unmasked, as Arm passes the whole register), marks it READY, notifies the
 * vCPU's port and blocks until the daemon answers (IORESP_READY + notify).
 * Reads return the low `size` bytes of the answer in *data.
 * Returns 0; -ENODEV when no enabled server covers every byte (real Xen
 * injects a data abort); -ETIMEDOUT after timeout_ms with no answer (the
 * vCPU would hang); -EPIPE when the daemon died; -EPROTO when the daemon
 * broke the slot protocol (Xen would crash the domain); -ESRCH once the
 * domain is dying. One call at a time per vCPU; different vCPUs may call
 * concurrently from their own threads. timeout_ms < 0 waits forever.
 * A vCPU whose call timed out stays blocked in "Xen": its next call first
 * waits (with the new timeout) for the old answer. A slot set back to NONE
 * by the daemon completes the access with ~0 as Xen does, but is counted
 * in stats.protocol_errors. Xen sends INVALIDATE once before the guest's
 * first MMIO access: the guest side calls sim_hv_invalidate() for that. */
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

/* Interrupts: set_irq_level(irq, 1) after (irq, 0) or at start is a rising
 * edge (the DT says edge-rising). Valid SPIs (others: EINVAL to the daemon): */
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
int sim_hv_xs_rm(struct sim_hv *hv, const char *path);

/* Kill the domain as Xen does: servers destroyed, later DMOPs on them fail
 * with ENOENT, new foreign maps fail per frame, @releaseDomain fires. The
 * domain stays a dying zombie while the daemon maps any of its pages, then
 * disappears from xc_domain_getinfo (and @releaseDomain fires again). */
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
};
void sim_hv_get_stats(struct sim_hv *hv, struct sim_hv_stats *st);

#endif
