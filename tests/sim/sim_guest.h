/* SPDX-License-Identifier: GPL-2.0-only */
/* sim-guest's session and command table, shared by sim_guest.c and the
 * files that add commands of their own (cmd_hostile.c, cmd_bench.c,
 * cmd_xl.c, cmd_fault.c, cmd_xen.c). */
#ifndef SIM_GUEST_CMDS_H
#define SIM_GUEST_CMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest.h"

#define MAX_DISKS	 11
#define MAX_CMDS	 256
#define MMIO_BASE	 0x02000000ULL /* GUEST_VIRTIO_MMIO_BASE */
#define MMIO_SIZE	 0x200ULL      /* VIRTIO_MMIO_DEV_SIZE */
#define FIRST_SPI	 33	       /* GUEST_VIRTIO_MMIO_SPI_FIRST */
#define MAX_IO_BYTES	 (1ULL << 30)
#define CMD_USAGE	 1000 /* a malformed command: never an expected outcome */
#define STATUS_NONE	 (-1)
#define STATUS_UNWRITTEN 0xff

struct disk {
	char spec[4200]; /* what the daemon gets, base and irq added */
	char path[4096];
	bool ro;
	uint64_t base;
	unsigned irq;
	struct gdev *dev;
	bool dirty; /* raw accesses happened: re-initialise first */
	uint64_t feature_mask;
};

/* How the daemon is started: on the --disk list, or from xenstore with the
 * guests created by xl-create (cmd_xl.c): one `--domid N` process per
 * guest, or one `--watch` supervisor. */
enum sim_mode { MODE_DISK, MODE_DOMID, MODE_WATCH };

struct session {
	enum sim_mode mode;
	struct sim_hv *hv;
	struct guest *g;
	struct disk disks[MAX_DISKS];
	unsigned ndisks, cur;
	unsigned vcpus;
	int timeout_ms;
	bool verbose;
	/* per-request knobs */
	enum greq_layout layout;
	bool no_indirect;
	unsigned nseg;
	/* the last request's virtio status, STATUS_NONE if none */
	int last_status;
	/* guest RAM the balloon has given back to Xen (len 0: none) */
	uint64_t balloon_gpa, balloon_len;
	/* the daemon */
	bool daemon_exit_expected;
	bool daemon_reaped;
	int daemon_wstatus;
};

struct result {
	int rc;	    /* 0, -errno, or CMD_USAGE */
	int status; /* virtio status of the failing request */
	char msg[512];
};

struct cmd {
	const char *name;
	int min_args, max_args; /* after the name */
	bool high_level;	/* needs an initialised device */
	void (*fn)(struct session *s, int argc, char **argv,
		   struct result *res);
	const char *usage, *help;
};

/* A table of commands; find_cmd() searches every table in order. */
struct cmd_table {
	const struct cmd *cmds;
	size_t n;
};
extern const struct cmd_table hostile_cmds, bench_cmds, xl_cmds, fault_cmds,
    xen_cmds;

/* The xenstore modes (cmd_xl.c). xl_start starts the supervisor (watch
 * mode; a --domid daemon is started by each xl-create instead) with the
 * daemon's path, library directory and extra arguments; first_domid is the
 * domid of the first guest (0: 1). xl_finish, after the commands, checks
 * every domain and detaches the session from the guests (true if
 * something failed); xl_cleanup frees them after sim_hv_free. */
int xl_start(struct session *s, const char *daemon, const char *libdir,
	     char *const *args, unsigned nargs, unsigned first_domid);
bool xl_finish(struct session *s);
/* Watch mode, once the supervisor has exited: whether every backend process
 * it started ended with exit 0 or as an expect-daemon-exit wanted. */
bool xl_children_ok(struct session *s);
void xl_cleanup(struct session *s);

/* Helpers for command implementations (defined in sim_guest.c). */
void fail_msg(struct result *res, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *status_name(int st);
const char *rc_name(int rc);
/* Decimal or 0x-hex, nothing else; no sign, no overflow. */
bool parse_u64(const char *s, uint64_t *v);
/* Let ms milliseconds pass, signals or not. */
void sleep_ms(unsigned ms);
bool parse_uint(const char *s, unsigned max, unsigned *v);
int read_file(const char *path, uint8_t **buf, size_t *len, struct result *res);
int write_file(const char *path, const uint8_t *buf, size_t len,
	       struct result *res);
int host_pread(const char *path, uint64_t off, uint8_t *buf, size_t len);
uint64_t rnd(uint64_t *s);
uint64_t rnd_range(uint64_t *s, uint64_t lo, uint64_t hi);
void rnd_fill(uint64_t *s, uint8_t *buf, size_t len);
uint64_t seed_of(uint64_t seed);
struct disk *cur_disk(struct session *s);
/* Initialise the current device if it is not ready (after raw accesses). */
int ensure_ready(struct session *s, struct disk *dk, struct result *res);
void req_defaults(struct session *s, struct greq *r);
/* Run one request synchronously; a non-OK status fails with -EIO. */
int run_req(struct session *s, struct disk *dk, struct greq *r,
	    struct result *res);
int check_block_args(const char *off_s, const char *len_s, uint64_t *off,
		     uint64_t *len, struct result *res);
int do_rw(struct session *s, struct disk *dk, bool write, uint64_t off,
	  uint8_t *buf, uint64_t len, struct result *res);

#endif
