/* SPDX-License-Identifier: GPL-2.0-only */
/* sim-guest commands for the fault tests (tests/faults/, issue 5): changes
 * to the image made by the host while the daemon serves it, the order in
 * which a FLUSH completes relative to the writes before it, and the guest
 * dying with requests in flight. */
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_blk.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim_guest.h"

/* host-truncate FILE SIZE: the administrator shrinks (or grows) a file. */
static void cmd_host_truncate(struct session *s, int argc, char **argv,
			      struct result *res)
{
	uint64_t size;

	(void)s;
	(void)argc;
	if (!parse_u64(argv[2], &size) || size > INT64_MAX) {
		fail_msg(res, CMD_USAGE, "host-truncate FILE SIZE");
		return;
	}
	if (truncate(argv[1], (off_t)size) < 0)
		fail_msg(res, -errno, "truncate %s: %s", argv[1],
			 strerror(errno));
}

/* host-rm FILE: e.g. free space on a full file system. */
static void cmd_host_rm(struct session *s, int argc, char **argv,
			struct result *res)
{
	(void)s;
	(void)argc;
	if (unlink(argv[1]) < 0)
		fail_msg(res, -errno, "unlink %s: %s", argv[1],
			 strerror(errno));
}

/* flush-order COUNT SEED: queue up to COUNT writes at distinct offsets
 * and a FLUSH behind them without waiting, then wait for the FLUSH alone.
 * When it is seen complete, every write queued before it must already be
 * complete and OK (the FLUSH covers them); then every write must be in the
 * image on the host. With completions slowed down (libfault delay) the
 * writes are still in flight when the FLUSH reaches the device. */
static void cmd_flush_order(struct session *s, int argc, char **argv,
			    struct result *res)
{
	struct disk *dk = cur_disk(s);
	struct gdev *d = dk->dev;
	uint64_t cap = gdev_info(d)->capacity * 512, seed, rng, off = 0;
	uint32_t maxreq = gdev_max_request_bytes(d, s->layout);
	unsigned count, n = 0, early = 0;
	struct greq *w = NULL, fl, **all = NULL;
	uint64_t *offs = NULL;
	int rc;

	(void)argc;
	if (!parse_uint(argv[1], 1024, &count) || count == 0 ||
	    !parse_u64(argv[2], &seed)) {
		fail_msg(res, CMD_USAGE, "flush-order COUNT SEED");
		return;
	}
	if (!gdev_has(d, VIRTIO_BLK_F_FLUSH)) {
		fail_msg(res, -EIO, "flush-order: FLUSH not negotiated");
		return;
	}
	w = calloc(count, sizeof(*w));
	offs = calloc(count, sizeof(*offs));
	all = calloc(count + 1, sizeof(*all));
	if (!w || !offs || !all) {
		fail_msg(res, -ENOMEM, "out of memory");
		goto out;
	}
	rng = seed_of(seed);
	for (; n < count; n++) {
		uint64_t len = 512 * rnd_range(&rng, 8, 128);

		if (len > maxreq)
			len = maxreq;
		off += 512 * rnd_range(&rng, 0, 8);
		if (off + len > cap)
			break;
		req_defaults(s, &w[n]);
		w[n].type = VIRTIO_BLK_T_OUT;
		w[n].sector = off / 512;
		w[n].len = (uint32_t)len;
		w[n].buf = malloc(len);
		if (!w[n].buf) {
			fail_msg(res, -ENOMEM, "out of memory");
			goto out;
		}
		rnd_fill(&rng, w[n].buf, len);
		offs[n] = off;
		off += len;
		rc = gdev_submit(d, 0, &w[n]);
		if (rc == -ENOSPC || rc == -ENOMEM) {
			free(w[n].buf);
			w[n].buf = NULL;
			break; /* the ring is full: enough in flight */
		}
		if (rc) {
			free(w[n].buf);
			w[n].buf = NULL;
			fail_msg(res, rc, "submit: %s", rc_name(rc));
			goto out;
		}
		all[n] = &w[n];
	}
	if (n == 0) {
		fail_msg(res, -ENOSPC, "flush-order: no write could be queued");
		goto out;
	}
	req_defaults(s, &fl);
	fl.type = VIRTIO_BLK_T_FLUSH;
	for (;;) {
		rc = gdev_submit(d, 0, &fl);
		if (rc != -ENOSPC && rc != -ENOMEM)
			break;
		/* No room for the flush: let one write finish first. */
		rc = gdev_wait(d, 0, all, n, 1, s->timeout_ms);
		if (rc)
			break;
	}
	if (rc) {
		fail_msg(res, rc, "flush-order: queueing the flush: %s",
			 rc_name(rc));
		goto out;
	}
	for (unsigned i = 0; i < n; i++)
		early += w[i].done;
	all[n] = &fl;
	rc = gdev_wait(d, 0, &all[n], 1, 1, s->timeout_ms);
	if (rc) {
		fail_msg(res, rc, "flush-order: waiting for the flush: %s",
			 rc_name(rc));
		goto out;
	}
	s->last_status = fl.status;
	if (fl.status != VIRTIO_BLK_S_OK) {
		res->status = fl.status;
		fail_msg(res, -EIO, "flush-order: flush status %s",
			 status_name(fl.status));
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		if (!w[i].done) {
			unsigned late = 0;

			for (unsigned j = 0; j < n; j++)
				late += !w[j].done;
			fail_msg(res, -EIO,
				 "flush-order: the flush completed before the "
				 "write at %" PRIu64 " (%u of %u writes "
				 "still in flight)",
				 offs[i], late, n);
			goto out;
		}
	}
	rc = gdev_wait(d, 0, all, n, n, s->timeout_ms);
	if (rc) {
		fail_msg(res, rc, "flush-order: waiting for the writes: %s",
			 rc_name(rc));
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		uint8_t *disk = malloc(w[i].len);
		bool ok;

		if (w[i].status != VIRTIO_BLK_S_OK) {
			res->status = w[i].status;
			fail_msg(res, -EIO, "write at %" PRIu64 ": status %s",
				 offs[i], status_name(w[i].status));
			free(disk);
			goto out;
		}
		ok = disk && !host_pread(dk->path, offs[i], disk, w[i].len) &&
		     !memcmp(disk, w[i].buf, w[i].len);
		free(disk);
		if (!ok) {
			fail_msg(res, -EIO,
				 "write at %" PRIu64 " is not in the image "
				 "after the flush",
				 offs[i]);
			goto out;
		}
	}
	printf("flush-order: %u writes (%u complete when the flush was "
	       "queued), flush completed after all of them; all in the "
	       "image\n",
	       n, early);
out:
	if (res->rc && w) {
		/* Requests still on the ring die with the buffers. */
		gdev_abort(d);
		dk->dirty = true;
	}
	for (unsigned i = 0; w && i < n; i++)
		free(w[i].buf);
	free(w);
	free(offs);
	free(all);
}

/* Guest RAM unchanged since snap? Else the first changed address. */
static bool ram_same(struct session *s, const uint8_t *snap, uint64_t *at)
{
	const uint8_t *ram = sim_hv_ram(s->hv);
	uint64_t n = sim_hv_ram_size(s->hv);

	if (!memcmp(ram, snap, n))
		return true;
	for (*at = 0; ram[*at] == snap[*at]; (*at)++)
		;
	*at = sim_ram_gpa(*at);
	return false;
}

/* domain-death-under-io COUNT SEED [term]: queue up to COUNT requests
 * (writes and reads, alternating, at distinct offsets) and destroy the
 * domain at once, as `xl destroy` does. The daemon must notice by itself
 * (with `term`: it gets SIGTERM right after the death, as from whoever
 * started it), finish what is in flight, release every mapping of the
 * domain (so that it can disappear) and exit 0; once its mappings are gone,
 * guest RAM must not change any more (no DMA or status write into the dead
 * guest's pages). */
static void cmd_domain_death_under_io(struct session *s, int argc, char **argv,
				      struct result *res)
{
	struct disk *dk = cur_disk(s);
	struct gdev *d = dk->dev;
	uint64_t cap = gdev_info(d)->capacity * 512, seed, rng, off = 0, at;
	unsigned count, n = 0;
	struct greq *rq = NULL;
	struct sim_hv_stats hs;
	uint8_t *snap = NULL;
	char got[128];
	int rc, ws = -1;

	if (!parse_uint(argv[1], 1024, &count) || count == 0 ||
	    !parse_u64(argv[2], &seed) ||
	    (argc > 3 && strcmp(argv[3], "term"))) {
		fail_msg(res, CMD_USAGE,
			 "domain-death-under-io COUNT SEED [term]");
		return;
	}
	rq = calloc(count, sizeof(*rq));
	snap = malloc(sim_hv_ram_size(s->hv));
	if (!rq || !snap) {
		fail_msg(res, -ENOMEM, "out of memory");
		goto out;
	}
	rng = seed_of(seed);
	for (; n < count; n++) {
		uint64_t len = 512 * rnd_range(&rng, 8, 128);

		off += 512 * rnd_range(&rng, 0, 8);
		if (off + len > cap)
			break;
		req_defaults(s, &rq[n]);
		rq[n].type = n % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
		rq[n].sector = off / 512;
		rq[n].len = (uint32_t)len;
		rq[n].buf = malloc(len);
		if (!rq[n].buf)
			break;
		rnd_fill(&rng, rq[n].buf, len);
		off += len;
		rc = gdev_submit(d, 0, &rq[n]);
		if (rc) {
			free(rq[n].buf);
			rq[n].buf = NULL;
			if (rc == -ENOSPC || rc == -ENOMEM)
				break;
			fail_msg(res, rc, "submit: %s", rc_name(rc));
			goto out;
		}
	}
	s->daemon_exit_expected = true;
	sim_hv_destroy_domain(s->hv);
	if (argc > 3 && (rc = sim_hv_signal_daemon(s->hv, SIGTERM)) < 0) {
		fail_msg(res, rc, "signal: %s", strerror(-rc));
		goto out;
	}

	/* The domain is a zombie until the daemon has unmapped it all. */
	for (int waited = 0;; waited += 10) {
		sim_hv_get_stats(s->hv, &hs);
		if (!hs.pages_mapped_now)
			break;
		if (waited >= s->timeout_ms) {
			fail_msg(res, -ETIMEDOUT,
				 "the domain died %d ms ago; the daemon still "
				 "maps %" PRIu64 " of its pages (it stays a "
				 "zombie)%s",
				 waited, hs.pages_mapped_now,
				 sim_hv_daemon_alive(s->hv)
				     ? " and has not exited"
				     : "");
			goto out;
		}
		usleep(10000);
	}
	memcpy(snap, sim_hv_ram(s->hv), sim_hv_ram_size(s->hv));
	rc = sim_hv_wait_daemon(s->hv, s->timeout_ms, &ws);
	if (rc < 0) {
		fail_msg(res, rc,
			 "the daemon did not exit after the domain died: %s",
			 rc_name(rc));
		goto out;
	}
	s->daemon_reaped = true;
	s->daemon_wstatus = ws;
	if (!WIFEXITED(ws) || WEXITSTATUS(ws)) {
		if (WIFSIGNALED(ws))
			snprintf(got, sizeof(got), "killed by signal %d",
				 WTERMSIG(ws));
		else
			snprintf(got, sizeof(got), "wait status 0x%x", ws);
		fail_msg(res, -EIO,
			 "daemon after the domain died: %s, expected exit 0",
			 got);
		goto out;
	}
	if (!ram_same(s, snap, &at)) {
		fail_msg(res, -EIO,
			 "guest RAM at 0x%" PRIx64 " changed after the daemon "
			 "unmapped the dead domain",
			 at);
		goto out;
	}
	printf("domain-death-under-io: %u requests queued; the daemon%s "
	       "released the dead domain and exited 0; nothing written "
	       "after its mappings were gone\n",
	       n, argc > 3 ? " (SIGTERM)" : "");
out:
	/* The device is gone: nothing queued will ever complete. */
	gdev_abort(d);
	dk->dirty = true;
	for (unsigned i = 0; rq && i < n; i++)
		free(rq[i].buf);
	free(rq);
	free(snap);
}

static const struct cmd cmds[] = {
    {"host-truncate", 2, 2, false, cmd_host_truncate, "host-truncate FILE SIZE",
     "truncate FILE (e.g. the image in use) to SIZE bytes from the host"},
    {"host-rm", 1, 1, false, cmd_host_rm, "host-rm FILE",
     "remove FILE on the host (e.g. to free space)"},
    {"flush-order", 2, 2, true, cmd_flush_order, "flush-order COUNT SEED",
     "queue up to COUNT writes and a FLUSH behind them; the FLUSH must "
     "not be seen complete before any of the writes, and every write "
     "must be OK and in the image"},
    {"domain-death-under-io", 2, 3, true, cmd_domain_death_under_io,
     "domain-death-under-io COUNT SEED [term]",
     "queue up to COUNT reads and writes, destroy the domain at once "
     "(term: and SIGTERM the daemon); the daemon must release the dead "
     "domain's memory and exit 0 (by itself without term), and guest "
     "RAM must not change after its mappings are gone"},
};

const struct cmd_table fault_cmds = {cmds, sizeof(cmds) / sizeof(cmds[0])};
