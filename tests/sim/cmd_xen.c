/* SPDX-License-Identifier: GPL-2.0-only */
/* sim-guest commands for Xen's side of the guest's life, where real Xen
 * and the simulator were compared (docs/xen-notes.md): the domain killed or
 * paused by the toolstack while the daemon runs with --disk (it gets no
 * event for either, as on Xen), the domain's state as `xl list` shows it,
 * and the ioreqs Xen sent, in order, from the boot-time INVALIDATE on. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_guest.h"
#include "sim_hv.h"
#include "sim_proto.h"

static struct sim_dom *default_dom(struct session *s, struct result *res)
{
	struct sim_dom *d = sim_hv_default_domain(s->hv);

	if (!d)
		fail_msg(res, CMD_USAGE, "no domain");
	return d;
}

/* The guest's vCPUs no longer run: what it queued never completes, and
 * the driver starts from a reset if the domain runs again. */
static void stop_guest(struct session *s)
{
	for (unsigned i = 0; i < s->ndisks; i++)
		if (s->disks[i].dev) {
			gdev_abort(s->disks[i].dev);
			s->disks[i].dirty = true;
		}
}

/* xen-destroy: Xen kills the domain, as once libxl has its backends in
 * state 6 (or xl destroy found no backend): the IOREQ servers and their
 * channels go, nothing is sent to the daemon; the domain stays a dying
 * zombie while the daemon maps any of its pages (e2e-testbed.md Part 2
 * Q5, docs/xen-notes.md 3). */
static void cmd_xen_destroy(struct session *s, int argc, char **argv,
			    struct result *res)
{
	struct sim_dom *d = default_dom(s, res);

	(void)argc;
	(void)argv;
	if (!d)
		return;
	if (sim_dom_life(d) != SIM_LIFE_ALIVE) {
		fail_msg(res, -ESRCH, "domain %u is already dying or gone",
			 sim_dom_id(d));
		return;
	}
	sim_dom_destroy(d);
	stop_guest(s);
	printf("xen-destroy: domain %u destroyed\n", sim_dom_id(d));
}

/* xen-pause / xen-unpause: what libxl does around its device removal
 * (libxl__destroy_domid pauses first, then waits up to 10 s for state 6). */
static void cmd_xen_pause(struct session *s, int argc, char **argv,
			  struct result *res)
{
	struct sim_dom *d = default_dom(s, res);
	bool pause = !strcmp(argv[0], "xen-pause");

	(void)argc;
	if (!d)
		return;
	if (sim_dom_life(d) != SIM_LIFE_ALIVE) {
		fail_msg(res, -ESRCH, "domain %u is dying or gone",
			 sim_dom_id(d));
		return;
	}
	if (pause) {
		sim_dom_pause(d);
		stop_guest(s);
	} else {
		sim_dom_unpause(d);
	}
	printf("%s: domain %u %s\n", argv[0], sim_dom_id(d),
	       pause ? "paused" : "runs");
}

static const char *const life_names[] = {"alive", "dying", "gone"};

/* expect-domain alive|paused|dying|gone: wait until the domain is in that
 * state (alive: running; paused: alive but paused), then print it with the
 * pages the daemon maps (a dying domain with pages mapped is the zombie
 * `xl list` shows as (null) --p--d). */
static void cmd_expect_domain(struct session *s, int argc, char **argv,
			      struct result *res)
{
	struct sim_dom *d = default_dom(s, res);
	bool want_paused = !strcmp(argv[1], "paused");
	struct sim_hv_stats st;
	enum sim_dom_life life;
	unsigned l;
	int rc;

	(void)argc;
	if (!d)
		return;
	for (l = 0; l < 3 && strcmp(argv[1], life_names[l]); l++)
		;
	if (want_paused)
		l = SIM_LIFE_ALIVE;
	else if (l == 3) {
		fail_msg(res, CMD_USAGE,
			 "expect-domain alive|paused|dying|gone");
		return;
	}
	rc = sim_dom_wait_life(d, (enum sim_dom_life)l, s->timeout_ms);
	life = sim_dom_life(d);
	if (!rc &&
	    (life != (enum sim_dom_life)l ||
	     (life == SIM_LIFE_ALIVE && sim_dom_paused(d) != want_paused)))
		rc = -EIO;
	sim_dom_get_stats(d, &st);
	if (rc) {
		fail_msg(res, rc, "domain %u is %s%s, expected %s",
			 sim_dom_id(d), life_names[life],
			 life == SIM_LIFE_ALIVE && sim_dom_paused(d)
			     ? " (paused)"
			     : "",
			 argv[1]);
		return;
	}
	printf("domain %u: %s, servers %" PRIu64 " live, pages-mapped %" PRIu64
	       "\n",
	       sim_dom_id(d), argv[1], st.servers_live, st.pages_mapped_now);
}

static const char *type_name(uint8_t type)
{
	switch (type) {
	case SIM_IOREQ_TYPE_PIO:
		return "pio";
	case SIM_IOREQ_TYPE_COPY:
		return "mmio";
	case SIM_IOREQ_TYPE_TIMEOFFSET:
		return "timeoffset";
	case SIM_IOREQ_TYPE_INVALIDATE:
		return "invalidate";
	default:
		return "type?";
	}
}

/* ioreq-trace [N]: the first N (default: all recorded) ioreqs Xen sent,
 * in the order they were answered, one per line:
 *   ioreq I: vcpu V mmio read|write OFFSET SIZE VALUE [rc]
 *   ioreq I: vcpu V invalidate
 * OFFSET relative to the window of the device it fell in (disk n: +n
 * windows, printed as dN+0xOFF), else the guest physical address. */
static void cmd_ioreq_trace(struct session *s, int argc, char **argv,
			    struct result *res)
{
	struct sim_dom *d = default_dom(s, res);
	struct sim_ioreq_rec *rec;
	unsigned n, want = SIM_TRACE_MAX;

	if (!d)
		return;
	if (argc > 1 && !parse_uint(argv[1], SIM_TRACE_MAX, &want)) {
		fail_msg(res, CMD_USAGE, "ioreq-trace [N], N <= %u",
			 SIM_TRACE_MAX);
		return;
	}
	rec = calloc(SIM_TRACE_MAX, sizeof(*rec));
	if (!rec) {
		fail_msg(res, -ENOMEM, "out of memory");
		return;
	}
	n = sim_dom_ioreq_trace(d, rec, SIM_TRACE_MAX);
	if (n > SIM_TRACE_MAX)
		n = SIM_TRACE_MAX;
	if (want > n)
		want = n;
	for (unsigned i = 0; i < want; i++) {
		const struct sim_ioreq_rec *r = &rec[i];
		char where[48];
		unsigned k;

		printf("ioreq %u: vcpu %u %s", i, r->vcpu, type_name(r->type));
		if (r->type == SIM_IOREQ_TYPE_COPY) {
			for (k = 0; k < s->ndisks; k++)
				if (r->addr >= s->disks[k].base &&
				    r->addr - s->disks[k].base < MMIO_SIZE)
					break;
			if (k < s->ndisks)
				snprintf(where, sizeof(where),
					 "d%u+0x%03" PRIx64, k,
					 r->addr - s->disks[k].base);
			else
				snprintf(where, sizeof(where), "0x%" PRIx64,
					 r->addr);
			printf(" %s %s %u 0x%" PRIx64,
			       r->write ? "write" : "read", where, r->size,
			       r->data);
		}
		if (r->rc)
			printf(" %s", rc_name(r->rc));
		printf("\n");
	}
	free(rec);
}

static const struct cmd cmds[] = {
    {"xen-destroy", 0, 0, false, cmd_xen_destroy, "xen-destroy",
     "Xen kills the domain now (as once libxl has state 6, or with no "
     "toolstack step): servers and channels gone, no event to the daemon; "
     "a dying zombie while the daemon maps any of its pages"},
    {"xen-pause", 0, 0, false, cmd_xen_pause, "xen-pause",
     "the toolstack pauses the domain (libxl does before removing "
     "devices): its vCPUs stop, register accesses fail with EBUSY"},
    {"xen-unpause", 0, 0, false, cmd_xen_pause, "xen-unpause",
     "the paused domain runs again"},
    {"expect-domain", 1, 1, false, cmd_expect_domain,
     "expect-domain alive|paused|dying|gone",
     "wait until the domain is in that state; print it, the live IOREQ "
     "servers and the pages the daemon maps"},
    {"ioreq-trace", 0, 1, false, cmd_ioreq_trace, "ioreq-trace [N]",
     "print the first N (default: all, at most 256) ioreqs Xen sent, in "
     "the order they were answered, from the boot-time INVALIDATE on"},
};

const struct cmd_table xen_cmds = {cmds, sizeof(cmds) / sizeof(cmds[0])};
