/* SPDX-License-Identifier: GPL-2.0-only */
/* sim-guest commands: benchmark workloads (issue 6).
 *
 * `bench` drives the current disk through the guest driver's asynchronous
 * API from one or more vCPU threads that together keep `qd` requests in
 * flight, for a ramp and then a measured window. It reports what fio would
 * (IOPS, MB/s, latency percentiles) plus what only the simulator can see:
 * the daemon's CPU time per request, and notifications, interrupts and
 * ioreqs per request. One line of key=value pairs, for scripts/bench.
 *
 * Nothing here asserts a time: a slow run is still a passing run. */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "sim_guest.h"

#define BENCH_MAX_QD	  1024
#define BENCH_MAX_BS	  (16u << 20)
#define BENCH_MAX_SECONDS 3600
#define LAT_CHUNK	  (1u << 16)

enum bench_phase { PH_RAMP, PH_MEASURE, PH_STOP };

struct bench {
	struct session *s;
	struct gdev *d;
	bool write, random;
	uint32_t bs;
	unsigned qd, threads;
	uint64_t at, region; /* bytes [at, at + region) of the disk */
	uint64_t seed;
	int phase;	   /* enum bench_phase, atomic */
	uint64_t seq_next; /* sequential: next offset within region, atomic */
	pthread_mutex_t mu;
	bool failed;
	char err[256];
};

struct bench_thread {
	struct bench *b;
	unsigned cpu, depth;
	pthread_t tid;
	bool started;
	/* results of the measured window */
	uint64_t done, errors;
	uint64_t *lat_ns;
	size_t nlat, maxlat;
};

struct bench_slot {
	struct greq r;
	uint8_t *buf;
	uint64_t t0;
	bool busy;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void bench_fail(struct bench *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bench_fail(struct bench *b, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&b->mu);
	if (!b->failed) {
		b->failed = true;
		va_start(ap, fmt);
		vsnprintf(b->err, sizeof(b->err), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&b->mu);
	__atomic_store_n(&b->phase, PH_STOP, __ATOMIC_SEQ_CST);
}

static bool lat_add(struct bench_thread *t, uint64_t ns)
{
	if (t->nlat == t->maxlat) {
		size_t n = t->maxlat + LAT_CHUNK;
		uint64_t *p = realloc(t->lat_ns, n * sizeof(*p));

		if (!p)
			return false;
		t->lat_ns = p;
		t->maxlat = n;
	}
	t->lat_ns[t->nlat++] = ns;
	return true;
}

static uint64_t next_offset(struct bench *b, uint64_t *rng)
{
	uint64_t blocks = b->region / b->bs;

	if (b->random)
		return b->at + (rnd(rng) % blocks) * b->bs;
	uint64_t n =
	    __atomic_fetch_add(&b->seq_next, 1, __ATOMIC_RELAXED) % blocks;

	return b->at + n * b->bs;
}

static void *bench_thread_main(void *arg)
{
	struct bench_thread *t = arg;
	struct bench *b = t->b;
	struct session *s = b->s;
	struct bench_slot *slots = calloc(t->depth, sizeof(*slots));
	struct greq **waitv = calloc(t->depth, sizeof(*waitv));
	uint64_t rng = seed_of(b->seed ^ ((uint64_t)t->cpu << 32));
	unsigned busy = 0;

	if (!slots || !waitv) {
		bench_fail(b, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < t->depth; i++) {
		if (posix_memalign((void **)&slots[i].buf, 4096, b->bs)) {
			slots[i].buf = NULL;
			bench_fail(b, "out of memory");
			goto out;
		}
		/* Written data need not vary: the device never looks. */
		memset(slots[i].buf, 0x5a ^ (int)i, b->bs);
	}
	for (;;) {
		int phase = __atomic_load_n(&b->phase, __ATOMIC_ACQUIRE);

		/* Keep every slot busy until the window closes. */
		for (unsigned i = 0; i < t->depth && phase != PH_STOP; i++) {
			struct bench_slot *sl = &slots[i];
			int rc;

			if (sl->busy)
				continue;
			req_defaults(s, &sl->r);
			sl->r.type =
			    b->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
			sl->r.sector = next_offset(b, &rng) / 512;
			sl->r.buf = sl->buf;
			sl->r.len = b->bs;
			sl->t0 = now_ns();
			rc = gdev_submit(b->d, t->cpu, &sl->r);
			if (rc == -ENOSPC || rc == -ENOMEM) {
				if (busy)
					break; /* reap first */
				usleep(100);   /* other vCPUs hold the ring */
				continue;
			}
			if (rc) {
				bench_fail(b, "submit: %s%s%s", rc_name(rc),
					   gdev_error(b->d) ? ": " : "",
					   gdev_error(b->d) ? gdev_error(b->d)
							    : "");
				break;
			}
			sl->busy = true;
			busy++;
		}
		if (!busy) {
			if (__atomic_load_n(&b->phase, __ATOMIC_ACQUIRE) ==
			    PH_STOP)
				break;
			continue;
		}
		unsigned n = 0;

		for (unsigned i = 0; i < t->depth; i++)
			if (slots[i].busy)
				waitv[n++] = &slots[i].r;
		int rc = gdev_wait(b->d, t->cpu, waitv, n, 1, s->timeout_ms);
		uint64_t t1 = now_ns();

		if (rc) {
			bench_fail(b, "waiting for %u requests: %s%s%s", n,
				   rc_name(rc), gdev_error(b->d) ? ": " : "",
				   gdev_error(b->d) ? gdev_error(b->d) : "");
			break;
		}
		/* A request counts in the window it is seen to complete in. */
		phase = __atomic_load_n(&b->phase, __ATOMIC_ACQUIRE);
		for (unsigned i = 0; i < t->depth; i++) {
			struct bench_slot *sl = &slots[i];

			if (!sl->busy || !sl->r.done)
				continue;
			sl->busy = false;
			busy--;
			if (sl->r.status != VIRTIO_BLK_S_OK) {
				t->errors++;
				bench_fail(b,
					   "%s of %u bytes at sector %" PRIu64
					   ": status %s",
					   b->write ? "write" : "read",
					   sl->r.len, sl->r.sector,
					   status_name(sl->r.status));
				continue;
			}
			if (phase != PH_MEASURE)
				continue;
			t->done++;
			if (!lat_add(t, t1 - sl->t0))
				bench_fail(b, "out of memory");
		}
	}
out:
	/* Whatever is still in flight must finish before its buffers go. */
	if (slots) {
		unsigned n = 0;

		for (unsigned i = 0; i < t->depth; i++)
			if (slots[i].busy && !slots[i].r.done)
				waitv[n++] = &slots[i].r;
		if (n && gdev_wait(b->d, t->cpu, waitv, n, n, s->timeout_ms))
			gdev_abort(b->d);
		for (unsigned i = 0; i < t->depth; i++)
			free(slots[i].buf);
	}
	free(slots);
	free(waitv);
	return NULL;
}

/* ------------------------------------------------------------- counters */

struct snap {
	uint64_t t_ns;
	uint64_t daemon_cpu_ns; /* utime + stime of every daemon thread */
	uint64_t guest_cpu_ns;	/* this process: guest driver + "Xen" */
	uint64_t ioreqs, edges, notifies, suppressed, interrupts, maps;
};

/* utime + stime from /proc/PID/stat (fields 14 and 15, in clock ticks):
 * the kernel's per-process accounting, the same that getrusage() reads. */
static int proc_cpu_ns(pid_t pid, uint64_t *ns)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* comm may hold spaces and parentheses: fields follow the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1,
			 " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
			 "%llu",
			 &ut, &st) != 2)
		return -EIO;
	*ns = (ut + st) * (1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK));
	return 0;
}

static int take_snap(struct bench *b, pid_t pid, struct snap *sn)
{
	struct sim_hv_stats hs;
	struct gdev_stats gs;
	struct rusage ru;
	int rc;

	sn->t_ns = now_ns();
	rc = proc_cpu_ns(pid, &sn->daemon_cpu_ns);
	if (rc)
		return rc;
	getrusage(RUSAGE_SELF, &ru);
	sn->guest_cpu_ns =
	    ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
		1000000000ULL +
	    ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
		1000ULL;
	sim_hv_get_stats(b->s->hv, &hs);
	gdev_get_stats(b->d, &gs);
	sn->ioreqs = hs.ioreqs;
	sn->maps = hs.foreign_maps;
	sn->edges = sim_hv_irq_edges(b->s->hv, cur_disk(b->s)->irq);
	sn->notifies = gs.notifies;
	sn->suppressed = gs.kicks_suppressed;
	sn->interrupts = gs.interrupts;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double pct_us(const uint64_t *v, size_t n, double pct)
{
	size_t k;

	if (!n)
		return 0;
	k = (size_t)(pct / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1000.0;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ULL),
			      (long)(ns % 1000000000ULL)};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Sleep until the deadline or until a thread failed. */
static void wait_window(struct bench *b, uint64_t ns)
{
	uint64_t end = now_ns() + ns;

	for (;;) {
		uint64_t now = now_ns();

		if (now >= end ||
		    __atomic_load_n(&b->phase, __ATOMIC_ACQUIRE) == PH_STOP)
			return;
		sleep_ns(end - now < 20000000ULL ? end - now : 20000000ULL);
	}
}

/* ------------------------------------------------------------- parsing */

/* A size with an optional k/m/g suffix (binary units). */
static bool parse_size(const char *str, uint64_t *v)
{
	char num[32];
	size_t n = strlen(str);
	unsigned shift = 0;

	if (!n || n >= sizeof(num))
		return false;
	memcpy(num, str, n + 1);
	switch (num[n - 1]) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	}
	if (shift)
		num[n - 1] = 0;
	if (!parse_u64(num, v) || *v > (UINT64_MAX >> shift))
		return false;
	*v <<= shift;
	return true;
}

static const char *kv(const char *arg, const char *key)
{
	size_t n = strlen(key);

	return !strncmp(arg, key, n) && arg[n] == '=' ? arg + n + 1 : NULL;
}

static void cmd_bench(struct session *s, int argc, char **argv,
		      struct result *res)
{
	struct disk *dk = cur_disk(s);
	const struct gdev_info *in = gdev_info(dk->dev);
	uint64_t disk_bytes = in->capacity * 512, bs = 4096, size = 0;
	unsigned qd = 1, seconds = 5, ramp_ms = 500, threads = 0;
	const char *rw = "randread", *label = "";
	struct bench b;
	struct bench_thread *th = NULL;
	struct snap s0, s1;
	pid_t pid;
	int rc;

	memset(&b, 0, sizeof(b));
	b.seed = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		bool ok = true;

		if ((v = kv(a, "rw")))
			rw = v;
		else if ((v = kv(a, "bs")))
			ok = parse_size(v, &bs);
		else if ((v = kv(a, "qd")))
			ok = parse_uint(v, BENCH_MAX_QD, &qd) && qd;
		else if ((v = kv(a, "seconds")))
			ok = parse_uint(v, BENCH_MAX_SECONDS, &seconds) &&
			     seconds;
		else if ((v = kv(a, "ramp")))
			ok = parse_uint(v, 60000, &ramp_ms);
		else if ((v = kv(a, "threads")))
			ok = parse_uint(v, 128, &threads) && threads;
		else if ((v = kv(a, "at")))
			ok = parse_size(v, &b.at);
		else if ((v = kv(a, "size")))
			ok = parse_size(v, &size);
		else if ((v = kv(a, "seed")))
			ok = parse_u64(v, &b.seed);
		else if ((v = kv(a, "label")))
			label = v;
		else
			ok = false;
		if (!ok) {
			fail_msg(res, CMD_USAGE, "bench: bad argument '%s'", a);
			return;
		}
	}
	if (!strcmp(rw, "randread")) {
		b.random = true;
	} else if (!strcmp(rw, "randwrite")) {
		b.random = b.write = true;
	} else if (!strcmp(rw, "write")) {
		b.write = true;
	} else if (strcmp(rw, "read")) {
		fail_msg(
		    res, CMD_USAGE,
		    "bench: rw must be randread, randwrite, read or write");
		return;
	}
	if (!bs || bs % 512 || bs > BENCH_MAX_BS ||
	    bs > gdev_max_request_bytes(dk->dev, s->layout)) {
		fail_msg(res, CMD_USAGE,
			 "bench: bs must be a multiple of 512 up to %u bytes",
			 gdev_max_request_bytes(dk->dev, s->layout));
		return;
	}
	if (b.at % 512 || b.at >= disk_bytes) {
		fail_msg(res, CMD_USAGE, "bench: at= outside the disk");
		return;
	}
	if (!size || size > disk_bytes - b.at)
		size = disk_bytes - b.at;
	if (size < bs) {
		fail_msg(res, CMD_USAGE, "bench: region smaller than bs");
		return;
	}
	if (b.write && dk->ro) {
		fail_msg(res, CMD_USAGE, "bench: writes to a read-only disk");
		return;
	}
	pid = sim_hv_daemon_pid(s->hv);
	if (pid <= 0) {
		fail_msg(res, -EPIPE, "bench: no daemon");
		return;
	}
	if (!threads)
		threads = s->vcpus < qd ? s->vcpus : qd;
	if (threads > qd)
		threads = qd;
	if (threads > s->vcpus) {
		fail_msg(res, CMD_USAGE,
			 "bench: threads=%u but the guest has %u vCPUs",
			 threads, s->vcpus);
		return;
	}
	b.s = s;
	b.d = dk->dev;
	b.bs = (uint32_t)bs;
	b.qd = qd;
	b.threads = threads;
	b.region = size;
	pthread_mutex_init(&b.mu, NULL);
	/* The driver allocates ~50 KiB of bookkeeping per request; by default
	 * glibc would hand it back to the kernel and fault it in again every
	 * time, a cost of the simulator, not of the path under test. */
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	th = calloc(threads, sizeof(*th));
	if (!th) {
		fail_msg(res, -ENOMEM, "bench: out of memory");
		return;
	}
	for (unsigned i = 0; i < threads; i++) {
		th[i].b = &b;
		th[i].cpu = i;
		th[i].depth = qd / threads + (i < qd % threads);
		if (pthread_create(&th[i].tid, NULL, bench_thread_main, &th[i]))
			bench_fail(&b, "cannot start a vCPU thread");
		else
			th[i].started = true;
	}

	wait_window(&b, (uint64_t)ramp_ms * 1000000ULL);
	rc = take_snap(&b, pid, &s0);
	if (rc)
		bench_fail(&b, "daemon statistics: %s", strerror(-rc));
	__atomic_store_n(&b.phase, PH_MEASURE, __ATOMIC_RELEASE);
	wait_window(&b, (uint64_t)seconds * 1000000000ULL);
	/* Close the window before the snapshot: a completion seen after it
	 * is not counted, so the counters cover slightly more, never less. */
	if (__atomic_exchange_n(&b.phase, PH_STOP, __ATOMIC_SEQ_CST) ==
	    PH_MEASURE) {
		rc = take_snap(&b, pid, &s1);
		if (rc)
			bench_fail(&b, "daemon statistics: %s", strerror(-rc));
	}
	for (unsigned i = 0; i < threads; i++)
		if (th[i].started)
			pthread_join(th[i].tid, NULL);

	if (b.failed) {
		fail_msg(res, -EIO, "bench: %s", b.err);
		goto out;
	}

	uint64_t done = 0;
	size_t nlat = 0;

	for (unsigned i = 0; i < threads; i++) {
		done += th[i].done;
		nlat += th[i].nlat;
	}
	uint64_t *lat = malloc((nlat ? nlat : 1) * sizeof(*lat));

	if (!lat) {
		fail_msg(res, -ENOMEM, "bench: out of memory");
		goto out;
	}
	nlat = 0;
	for (unsigned i = 0; i < threads; i++) {
		memcpy(lat + nlat, th[i].lat_ns, th[i].nlat * sizeof(*lat));
		nlat += th[i].nlat;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	long double sum = 0;

	for (size_t i = 0; i < nlat; i++)
		sum += lat[i];

	double secs = (double)(s1.t_ns - s0.t_ns) / 1e9;
	double dreq = done ? (double)done : 1;
	double dcpu = (double)(s1.daemon_cpu_ns - s0.daemon_cpu_ns);

	printf("bench %s%srw=%s bs=%" PRIu64 " qd=%u threads=%u "
	       "seconds=%.3f requests=%" PRIu64 " iops=%.0f mbps=%.2f "
	       "lat_mean_us=%.1f lat_p50_us=%.1f lat_p99_us=%.1f "
	       "lat_max_us=%.1f daemon_cpu_s=%.3f daemon_cpu_us_per_req=%.2f "
	       "daemon_reqs_per_cpu_s=%.0f guest_cpu_us_per_req=%.2f "
	       "notifies_per_req=%.3f suppressed_per_req=%.3f "
	       "interrupts_per_req=%.3f ioreqs_per_req=%.3f "
	       "maps_per_req=%.4f\n",
	       label, *label ? " " : "", rw, bs, qd, threads, secs, done,
	       (double)done / secs, (double)done * (double)bs / secs / 1e6,
	       nlat ? (double)(sum / nlat) / 1000.0 : 0.0,
	       pct_us(lat, nlat, 50), pct_us(lat, nlat, 99),
	       pct_us(lat, nlat, 100), dcpu / 1e9, dcpu / 1000.0 / dreq,
	       dcpu > 0 ? dreq / (dcpu / 1e9) : 0.0,
	       (double)(s1.guest_cpu_ns - s0.guest_cpu_ns) / 1000.0 / dreq,
	       (double)(s1.notifies - s0.notifies) / dreq,
	       (double)(s1.suppressed - s0.suppressed) / dreq,
	       (double)(s1.edges - s0.edges) / dreq,
	       (double)(s1.ioreqs - s0.ioreqs) / dreq,
	       (double)(s1.maps - s0.maps) / dreq);
	free(lat);
out:
	for (unsigned i = 0; i < threads; i++)
		free(th[i].lat_ns);
	free(th);
	pthread_mutex_destroy(&b.mu);
}

static const struct cmd cmds[] = {
    {"bench", 0, 12, true, cmd_bench,
     "bench [rw=randread|randwrite|read|write] [bs=SIZE] [qd=N] "
     "[seconds=N] [ramp=MS] [threads=N] [at=OFFSET] [size=BYTES] "
     "[seed=N] [label=WORD]",
     "keep qd requests of bs bytes (default 4k; k/m/g suffixes) in "
     "flight from threads vCPU threads (default min(vCPUs, qd)) over "
     "[at, at+size) of the disk (default: all of it), random or "
     "sequential, for a ramp (default 500 ms) and then a measured "
     "window of seconds (default 5); prints one line: IOPS, MB/s, "
     "latency mean/p50/p99/max, the daemon's CPU time per request "
     "(/proc/PID/stat), this process's, and notifications, "
     "interrupts, ioreqs and foreign-mapping calls per request. Fails "
     "only on an I/O error"},
};

const struct cmd_table bench_cmds = {cmds, sizeof(cmds) / sizeof(cmds[0])};
