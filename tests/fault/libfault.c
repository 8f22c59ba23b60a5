/* SPDX-License-Identifier: GPL-2.0-only */
/* libfault: disk faults for the daemon, injected from outside.
 *
 * Loaded with LD_PRELOAD into the daemon (after the ASan runtime in the
 * sanitizer build), it wraps the calls the I/O engine makes on the image:
 * libaio's io_submit/io_getevents/io_destroy, and the worker path's
 * preadv/pwritev/pread/pwrite/fdatasync/fsync/fallocate, plus open (to
 * refuse O_DIRECT). The daemon itself has no test-only code.
 *
 * XVB_FAULT is a list of rules separated by ';', each
 *     ACTION:OPS[:KEY=VALUE]...
 * ACTION  eio, enospc, einval, efault, edquot: the call fails (worker path)
 *         or the completion carries -errno (libaio); a read or write that
 *         fails this way transfers nothing.
 *         eopnotsupp: the call fails with EOPNOTSUPP, as fallocate() on a
 *         file system without that mode (no ZERO_RANGE or PUNCH_HOLE).
 *         short: a read or write stops at the start of offset= (half way
 *         without offset=); libaio reports the short length for the whole
 *         transfer, the worker path really transfers the part.
 *         delay: the call (worker path) or the completion (libaio, held
 *         back and released through the request's eventfd) comes ms later.
 *         nodirect: open() with O_DIRECT fails with EINVAL, as on a file
 *         system without direct I/O: the engine then uses worker threads.
 *         With op statx: statx() of an open image reports STATX_DIOALIGN
 *         with no alignment, as Linux 6.1+ does for a file open() took
 *         O_DIRECT on but cannot do it (ext4 with data=journal).
 *         enolck: flock() fails with ENOLCK (op flock), as on NFSv3
 *         without lockd.
 *         nodsync: io_submit() refuses a write carrying RWF_DSYNC with
 *         EINVAL (op write), as kernels before 4.13 refuse aio_rw_flags.
 *         eagain: io_submit() takes nothing and says EAGAIN when its first
 *         iocb matches, as a kernel short of memory for the moment.
 *         With op fork: fork() fails with EAGAIN, as at the process limit
 *         (RLIMIT_NPROC): the --watch supervisor cannot start a backend.
 *         wberr: the call (worker path: write or fallocate) succeeds, and
 *         a writeback error happens as it returns. As Linux does (errseq),
 *         each open file reports it once, to its first sync that looks
 *         after: an fdatasync/fsync, or the completion of a libaio write
 *         carrying RWF_DSYNC (or of an aio fdsync), which then fail with
 *         EIO. A file opened after it sees it only if no file had.
 *         Only worker writes and fallocates that succeed make one.
 * OPS     read, write, rw, fdsync, fallocate, open, flock, statx, fork, any;
 *         joined with '+'.
 * KEYS    offset=A-B  only requests overlapping bytes [A, B) (A- : to the
 *                     end); numbers are decimal or 0x-hex, with an optional
 *                     k/m/g suffix (KiB, MiB, GiB)
 *         skip=N      let the first N matching requests through
 *         count=N     fire at most N times (default: always)
 *         ms=N        the delay (default 200); given with an error action,
 *                     a worker-path sync fails only after it, as a
 *                     writeback that fails late
 *         via=aio|sync  only the libaio path or only the worker path
 *         at=submit   (eio, einval...; libaio) io_submit() refuses the
 *                     iocb with -errno, as the kernel refuses an iocb it
 *                     cannot start: the iocbs before it go in; count= and
 *                     skip= count the io_submit calls it cuts short
 *         path=S      only files whose path contains S
 * The first rule that matches a request fires; the others are not looked
 * at. Only regular files and block devices are touched (and fork).
 *
 * XVB_FAULT_LOG names a file that gets one line per event, written with one
 * write() each so that nothing is lost if the daemon is killed:
 *     fault ACTION OP VIA off=N len=N
 *     write-done VIA off=N len=N res=N   (as the daemon sees it; libaio
 *                                         adds dsync=0|1, RWF_DSYNC)
 *     fdsync-start VIA writes-in-flight=N  (libaio and worker writes
 *                                          not yet handed back)
 *     fdsync-done VIA res=N
 *     wberr-report fd=N                    (that open file's sync saw the
 *                                          writeback error: EIO)
 *     open direct|buffered PATH
 *     submit nr=N                          (each io_submit call)
 * A bad XVB_FAULT stops the process at load with exit status 125. */

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <limits.h>
#include <linux/fs.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_RULES  32
#define MAX_TRACK  8192
#define DEFAULT_MS 200

enum act { A_ERR, A_SHORT, A_DELAY, A_NODIRECT, A_NODSYNC, A_EAGAIN, A_WBERR };
/* For match_locked(): the rules that act at completion or on a call, and
 * the errors at=submit. */
#define AT_CALL	  (-1)
#define AT_SUBMIT (-2)

enum {
	OP_READ = 1,
	OP_WRITE = 2,
	OP_FDSYNC = 4,
	OP_FALLOC = 8,
	OP_OPEN = 16,
	OP_LOCK = 32,
	OP_STATX = 64,
	OP_FORK = 128,
};

enum { VIA_AIO = 1, VIA_SYNC = 2 };

struct rule {
	enum act act;
	int err;
	const char *name;
	unsigned ops, via;
	bool ranged;
	uint64_t lo, hi; /* [lo, hi) */
	unsigned long skip;
	long count; /* < 0: no limit */
	unsigned ms;
	bool ms_given;
	bool at_submit;
	char path[128];
};

/* One iocb handed to the kernel and not yet handed back to the caller. */
struct track {
	bool used;
	io_context_t ctx;
	struct iocb *cb;
	unsigned op;
	uint64_t off, len;
	const struct rule *r; /* the rule that fired, or NULL */
	bool neutral;	      /* submitted with length 0: restore */
	unsigned long saved_len;
	bool held; /* delay: completion kept back */
	bool signalled;
	struct io_event ev;
	struct timespec due;
	int resfd;
};

static struct rule rules[MAX_RULES];
static unsigned nrules;
static int log_fd = -1;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cv;
static bool timer_started;
static struct track tracks[MAX_TRACK];
static unsigned ntracks_hi;  /* highest used index + 1 */
static unsigned aio_writes;  /* write iocbs in flight (under mu) */
static unsigned sync_writes; /* worker writes running (atomic) */
/* wberr, as Linux's errseq: the errors so far, how many of them some
 * open file has reported, and for each open file (by descriptor) how many
 * it has. One sequence for the process (tests give it one image). Under
 * wb_mu, which nothing else takes (deliver() holds mu). */
#define WB_FDS 4096
static pthread_mutex_t wb_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t wb_errors, wb_reported;
static uint64_t wb_seen[WB_FDS];

/* ------------------------------------------------------------ real calls */

#define REAL(ret, name, args)                                                  \
	static ret(*real_##name) args;                                         \
	static ret(*get_##name(void)) args                                     \
	{                                                                      \
		if (!real_##name)                                              \
			real_##name = (ret(*) args)dlsym(RTLD_NEXT, #name);    \
		return real_##name;                                            \
	}

REAL(int, io_submit, (io_context_t, long, struct iocb **))
REAL(int, io_getevents,
     (io_context_t, long, long, struct io_event *, struct timespec *))
REAL(int, io_destroy, (io_context_t))
REAL(ssize_t, preadv64, (int, const struct iovec *, int, off64_t))
REAL(ssize_t, pwritev64, (int, const struct iovec *, int, off64_t))
REAL(int, fdatasync, (int))
REAL(int, fsync, (int))
REAL(int, fallocate64, (int, int, off64_t, off64_t))
REAL(int, flock, (int, int))
REAL(int, statx, (int, const char *, int, unsigned, struct statx *))
REAL(int, open, (const char *, int, ...))
REAL(int, open64, (const char *, int, ...))
REAL(pid_t, fork, (void))

/* ------------------------------------------------------------------ log */

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (log_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line with O_APPEND: lines never interleave. */
	if (write(log_fd, line, (size_t)n) < 0)
		return;
}

static const char *op_name(unsigned op)
{
	switch (op) {
	case OP_READ:
		return "read";
	case OP_WRITE:
		return "write";
	case OP_FDSYNC:
		return "fdsync";
	case OP_FALLOC:
		return "fallocate";
	case OP_LOCK:
		return "flock";
	case OP_STATX:
		return "statx";
	case OP_FORK:
		return "fork";
	default:
		return "open";
	}
}

static const char *via_name(unsigned via)
{
	return via == VIA_AIO ? "aio" : "sync";
}

/* -------------------------------------------------------------- parsing */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("libfault: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(125);
}

static bool parse_num(const char *s, const char **end, uint64_t *v)
{
	char *e;
	unsigned long long x;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	x = strtoull(s, &e, 0);
	if (errno)
		return false;
	switch (*e) {
	case 'k':
	case 'K':
		x <<= 10;
		e++;
		break;
	case 'm':
	case 'M':
		x <<= 20;
		e++;
		break;
	case 'g':
	case 'G':
		x <<= 30;
		e++;
		break;
	default:
		break;
	}
	*v = x;
	*end = e;
	return true;
}

static bool parse_whole(const char *s, uint64_t *v)
{
	const char *e;

	return parse_num(s, &e, v) && !*e;
}

static const struct {
	const char *name;
	enum act act;
	int err;
} actions[] = {
    {"eio", A_ERR, EIO},
    {"enospc", A_ERR, ENOSPC},
    {"einval", A_ERR, EINVAL},
    {"efault", A_ERR, EFAULT},
    {"edquot", A_ERR, EDQUOT},
    {"short", A_SHORT, 0},
    {"delay", A_DELAY, 0},
    {"nodirect", A_NODIRECT, 0},
    {"enolck", A_ERR, ENOLCK},
    {"nodsync", A_NODSYNC, 0},
    {"eagain", A_EAGAIN, 0},
    {"wberr", A_WBERR, 0},
    {"eopnotsupp", A_ERR, EOPNOTSUPP},
};

static unsigned parse_ops(const char *s, const char *rule)
{
	static const struct {
		const char *name;
		unsigned ops;
	} names[] = {
	    {"read", OP_READ},
	    {"write", OP_WRITE},
	    {"rw", OP_READ | OP_WRITE},
	    {"fdsync", OP_FDSYNC},
	    {"fallocate", OP_FALLOC},
	    {"open", OP_OPEN},
	    {"flock", OP_LOCK},
	    {"statx", OP_STATX},
	    {"fork", OP_FORK},
	    {"any", OP_READ | OP_WRITE | OP_FDSYNC | OP_FALLOC},
	};
	char buf[128], *save = NULL;
	unsigned ops = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	for (char *t = strtok_r(buf, "+", &save); t;
	     t = strtok_r(NULL, "+", &save)) {
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(t, names[i].name))
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			die("rule '%s': unknown operation '%s'", rule, t);
		ops |= names[i].ops;
	}
	if (!ops)
		die("rule '%s': no operation", rule);
	return ops;
}

static void parse_key(struct rule *r, char *kv, const char *rule)
{
	char *v = strchr(kv, '=');
	uint64_t x;

	if (!v)
		die("rule '%s': '%s' is not KEY=VALUE", rule, kv);
	*v++ = 0;
	if (!strcmp(kv, "offset")) {
		const char *e;

		if (!parse_num(v, &e, &r->lo) || *e != '-')
			die("rule '%s': offset=A-B", rule);
		r->hi = UINT64_MAX;
		if (e[1] && !parse_whole(e + 1, &r->hi))
			die("rule '%s': offset=A-B", rule);
		if (r->hi <= r->lo)
			die("rule '%s': empty offset range", rule);
		r->ranged = true;
	} else if (!strcmp(kv, "skip") && parse_whole(v, &x)) {
		r->skip = (unsigned long)x;
	} else if (!strcmp(kv, "count") && parse_whole(v, &x) &&
		   x < (uint64_t)LONG_MAX) {
		r->count = (long)x;
	} else if (!strcmp(kv, "ms") && parse_whole(v, &x) && x <= 600000) {
		r->ms = (unsigned)x;
		r->ms_given = true;
	} else if (!strcmp(kv, "at") && !strcmp(v, "submit")) {
		r->at_submit = true;
	} else if (!strcmp(kv, "via") && !strcmp(v, "aio")) {
		r->via = VIA_AIO;
	} else if (!strcmp(kv, "via") && !strcmp(v, "sync")) {
		r->via = VIA_SYNC;
	} else if (!strcmp(kv, "path") && *v && strlen(v) < sizeof(r->path)) {
		snprintf(r->path, sizeof(r->path), "%s", v);
	} else {
		die("rule '%s': bad key or value '%s=%s'", rule, kv, v);
	}
}

static void parse_rule(char *text)
{
	char copy[512], *save = NULL, *t;
	struct rule *r;
	size_t i;

	snprintf(copy, sizeof(copy), "%s", text);
	if (nrules == MAX_RULES)
		die("more than %d rules", MAX_RULES);
	r = &rules[nrules];
	memset(r, 0, sizeof(*r));
	r->count = -1;
	r->ms = DEFAULT_MS;
	r->via = VIA_AIO | VIA_SYNC;

	t = strtok_r(text, ":", &save);
	for (i = 0; t && i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(t, actions[i].name))
			break;
	if (!t || i == sizeof(actions) / sizeof(actions[0]))
		die("rule '%s': unknown action", copy);
	r->act = actions[i].act;
	r->err = actions[i].err;
	r->name = actions[i].name;
	t = strtok_r(NULL, ":", &save);
	if (!t)
		die("rule '%s': ACTION:OPS[:KEY=VALUE]...", copy);
	r->ops = parse_ops(t, copy);
	while ((t = strtok_r(NULL, ":", &save)))
		parse_key(r, t, copy);

	if (r->act == A_NODIRECT && (r->ops & ~(OP_OPEN | OP_STATX)))
		die("rule '%s': nodirect applies to open and statx only", copy);
	if (r->act != A_NODIRECT && (r->ops & (OP_OPEN | OP_STATX)))
		die("rule '%s': only nodirect applies to open and statx", copy);
	if ((r->ops & OP_FORK) && (r->act != A_EAGAIN || r->ops != OP_FORK))
		die("rule '%s': fork takes eagain only, and alone", copy);
	if (r->act == A_SHORT && (r->ops & ~(OP_READ | OP_WRITE)))
		die("rule '%s': short applies to read and write only", copy);
	if (r->act == A_WBERR &&
	    ((r->ops & ~(OP_WRITE | OP_FALLOC)) || !(r->via & VIA_SYNC)))
		die("rule '%s': wberr applies to worker writes and fallocate "
		    "only",
		    copy);
	if (r->act == A_WBERR)
		r->via = VIA_SYNC;
	if (r->at_submit && r->act != A_ERR)
		die("rule '%s': at=submit applies to errors only", copy);
	if (r->at_submit)
		r->via = VIA_AIO;
	nrules++;
}

static void *timer_main(void *arg);

__attribute__((constructor)) static void libfault_init(void)
{
	const char *spec = getenv("XVB_FAULT");
	const char *logp = getenv("XVB_FAULT_LOG");
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&timer_cv, &ca);
	pthread_condattr_destroy(&ca);

	if (logp && *logp) {
		log_fd = (int)get_open()(
		    logp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (log_fd < 0)
			die("cannot open XVB_FAULT_LOG %s: %s", logp,
			    strerror(errno));
	}
	if (spec && *spec) {
		char *all = strdup(spec), *save = NULL;

		if (!all)
			die("out of memory");
		for (char *t = strtok_r(all, ";", &save); t;
		     t = strtok_r(NULL, ";", &save))
			if (*t)
				parse_rule(t);
		free(all);
	}
	logf_("libfault: pid %d, %u rules", (int)getpid(), nrules);
}

/* ------------------------------------------------------------- matching */

static bool fd_path(int fd, char *buf, size_t len)
{
	char p[64];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, buf, len - 1);
	if (n < 0)
		return false;
	buf[n] = 0;
	return true;
}

/* Only the image: regular files and block devices. */
static bool disk_fd(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 &&
	       (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

/* The rule that fires for this request, counters updated; mu held: the
 * first rule matching (and so spending its skip or count), among the rules
 * of action `submit` when it is a submission-time one (nodsync, asked of
 * RWF_DSYNC writes; eagain, of an io_submit's first iocb) or among the
 * errors at=submit (AT_SUBMIT), else (AT_CALL) among all the others. */
static const struct rule *match_locked(unsigned op, unsigned via,
				       const char *path, uint64_t off,
				       uint64_t len, int submit)
{
	for (unsigned i = 0; i < nrules; i++) {
		struct rule *r = &rules[i];
		bool at_submit =
		    r->act == A_NODSYNC || r->act == A_EAGAIN || r->at_submit;

		if (!(r->ops & op) || !(r->via & via))
			continue;
		if (submit == AT_CALL	  ? at_submit
		    : submit == AT_SUBMIT ? !r->at_submit
					  : (int)r->act != submit)
			continue;
		if (r->ranged && (op & (OP_READ | OP_WRITE | OP_FALLOC)) &&
		    !(off < r->hi && r->lo < off + (len ? len : 1)))
			continue;
		if (r->path[0] && (!path || !strstr(path, r->path)))
			continue;
		if (r->count == 0)
			continue;
		if (r->skip) {
			r->skip--;
			continue;
		}
		if (r->count > 0)
			r->count--;
		return r;
	}
	return NULL;
}

/* fd's path if a rule looks at paths (path=), else NULL: readlink only
 * when it matters. */
static const char *rule_path(int fd, char *buf, size_t len)
{
	for (unsigned i = 0; i < nrules; i++)
		if (rules[i].path[0])
			return fd_path(fd, buf, len) ? buf : NULL;
	return NULL;
}

static bool have_act(enum act a)
{
	for (unsigned i = 0; i < nrules; i++)
		if (rules[i].act == a)
			return true;
	return false;
}

static bool have_submit_err(void)
{
	for (unsigned i = 0; i < nrules; i++)
		if (rules[i].at_submit)
			return true;
	return false;
}

static const struct rule *match_fd(int fd, unsigned op, unsigned via,
				   uint64_t off, uint64_t len)
{
	char path[4096];
	const struct rule *r;

	if (!nrules || !disk_fd(fd))
		return NULL;
	pthread_mutex_lock(&mu);
	r = match_locked(op, via, rule_path(fd, path, sizeof(path)), off, len,
			 AT_CALL);
	pthread_mutex_unlock(&mu);
	if (r)
		logf_("fault %s %s %s off=%llu len=%llu", r->name, op_name(op),
		      via_name(via), (unsigned long long)off,
		      (unsigned long long)len);
	return r;
}

/* wberr: a writeback error happened now. */
static void wb_error(void)
{
	pthread_mutex_lock(&wb_mu);
	wb_errors++;
	pthread_mutex_unlock(&wb_mu);
}

/* A file just opened sees no error from before that some file has
 * reported already, but does see one nobody has (errseq_sample() since
 * Linux 4.19: an error is always reported once). */
static void wb_opened(int fd)
{
	if (fd >= WB_FDS && disk_fd(fd))
		die("wberr: image descriptor %d beyond the model's %d", fd,
		    WB_FDS);
	if (fd < 0 || fd >= WB_FDS)
		return;
	pthread_mutex_lock(&wb_mu);
	wb_seen[fd] = wb_reported;
	pthread_mutex_unlock(&wb_mu);
}

/* A sync on fd looks at the error sequence: true (EIO) if it has an error
 * its open file has not reported yet, which it now has. */
static bool wb_report(int fd)
{
	bool seen_now;

	if (fd < 0 || fd >= WB_FDS)
		return false;
	pthread_mutex_lock(&wb_mu);
	seen_now = wb_seen[fd] < wb_errors;
	if (seen_now)
		wb_seen[fd] = wb_reported = wb_errors;
	pthread_mutex_unlock(&wb_mu);
	if (seen_now)
		logf_("wberr-report fd=%d", fd);
	return seen_now;
}

/* Where a short transfer of [off, off + len) stops. */
static uint64_t short_cut(const struct rule *r, uint64_t off, uint64_t len)
{
	uint64_t cut;

	if (!r->ranged)
		cut = len / 2 & ~(uint64_t)511;
	else
		cut = r->lo > off ? r->lo - off : 0;
	return cut < len ? cut : len;
}

/* ----------------------------------------------------------- worker path */

static uint64_t iov_len(const struct iovec *iov, int cnt)
{
	uint64_t n = 0;

	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

typedef ssize_t (*rwv_fn)(int, const struct iovec *, int, off_t);

/* A vectored read or write, through the rule that matches it. */
static ssize_t do_rwv(rwv_fn fn, bool write, int fd, const struct iovec *iov,
		      int cnt, off_t off)
{
	uint64_t len = cnt > 0 ? iov_len(iov, cnt) : 0;
	unsigned op = write ? OP_WRITE : OP_READ;
	const struct rule *r = match_fd(fd, op, VIA_SYNC, (uint64_t)off, len);
	struct iovec *part = NULL;
	ssize_t ret;
	int saved;

	if (r && r->act == A_ERR) {
		errno = r->err;
		return -1;
	}
	if (r && r->act == A_SHORT) {
		uint64_t cut = short_cut(r, (uint64_t)off, len);
		int n = 0;

		if (cut == 0)
			return 0; /* as at the end of the file */
		part = calloc((size_t)cnt, sizeof(*part));
		if (!part) {
			errno = ENOMEM;
			return -1;
		}
		for (uint64_t left = cut; left && n < cnt; n++) {
			part[n] = iov[n];
			if (part[n].iov_len > left)
				part[n].iov_len = left;
			left -= part[n].iov_len;
		}
		iov = part;
		cnt = n;
	}
	/* A delayed write is in flight while it waits. */
	if (write)
		__atomic_add_fetch(&sync_writes, 1, __ATOMIC_SEQ_CST);
	if (r && r->act == A_DELAY)
		usleep(r->ms * 1000u);
	ret = fn(fd, iov, cnt, off);
	saved = errno;
	if (r && r->act == A_WBERR && ret >= 0)
		wb_error();
	if (write) {
		if (log_fd >= 0 && disk_fd(fd))
			logf_("write-done sync off=%llu len=%llu res=%lld",
			      (unsigned long long)off,
			      (unsigned long long)iov_len(iov, cnt),
			      ret < 0 ? (long long)-saved : (long long)ret);
		__atomic_sub_fetch(&sync_writes, 1, __ATOMIC_SEQ_CST);
	}
	free(part);
	errno = saved;
	return ret;
}

static ssize_t preadv_fwd(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return get_preadv64()(fd, iov, cnt, off);
}

static ssize_t pwritev_fwd(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return get_pwritev64()(fd, iov, cnt, off);
}

ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return do_rwv(preadv_fwd, false, fd, iov, cnt, off);
}

ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	return do_rwv(preadv_fwd, false, fd, iov, cnt, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return do_rwv(pwritev_fwd, true, fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	return do_rwv(pwritev_fwd, true, fd, iov, cnt, off);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	struct iovec v = {buf, n};

	return do_rwv(preadv_fwd, false, fd, &v, 1, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	struct iovec v = {buf, n};

	return do_rwv(preadv_fwd, false, fd, &v, 1, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct iovec v = {(void *)buf, n};

	return do_rwv(pwritev_fwd, true, fd, &v, 1, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	struct iovec v = {(void *)buf, n};

	return do_rwv(pwritev_fwd, true, fd, &v, 1, off);
}

static int do_sync(int (*fn)(int), int fd)
{
	const struct rule *r = match_fd(fd, OP_FDSYNC, VIA_SYNC, 0, 0);
	int ret, saved;

	if (!disk_fd(fd))
		return fn(fd);
	pthread_mutex_lock(&mu);
	logf_("fdsync-start sync writes-in-flight=%u",
	      aio_writes + __atomic_load_n(&sync_writes, __ATOMIC_SEQ_CST));
	pthread_mutex_unlock(&mu);
	if (r && r->act == A_ERR) {
		if (r->ms_given)
			usleep(r->ms * 1000u);
		logf_("fdsync-done sync res=%d", -r->err);
		errno = r->err;
		return -1;
	}
	if (r && r->act == A_DELAY)
		usleep(r->ms * 1000u);
	ret = fn(fd);
	saved = errno;
	if (ret == 0 && wb_report(fd)) {
		ret = -1;
		saved = EIO;
	}
	logf_("fdsync-done sync res=%d", ret < 0 ? -saved : 0);
	errno = saved;
	return ret;
}

int fdatasync(int fd)
{
	return do_sync(get_fdatasync(), fd);
}

int fsync(int fd)
{
	return do_sync(get_fsync(), fd);
}

static int do_fallocate(int fd, int mode, off_t off, off_t len)
{
	const struct rule *r =
	    match_fd(fd, OP_FALLOC, VIA_SYNC, (uint64_t)off, (uint64_t)len);
	int ret;

	if (r && r->act == A_ERR) {
		errno = r->err;
		return -1;
	}
	if (r && r->act == A_DELAY)
		usleep(r->ms * 1000u);
	ret = get_fallocate64()(fd, mode, off, len);
	if (ret == 0 && r && r->act == A_WBERR)
		wb_error();
	return ret;
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	return do_fallocate(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	return do_fallocate(fd, mode, off, len);
}

/* flock() refused as by a file system without locks (NFSv3 without lockd). */
int flock(int fd, int how)
{
	const struct rule *r = match_fd(fd, OP_LOCK, VIA_SYNC, 0, 0);

	if (r && r->act == A_ERR) {
		errno = r->err;
		return -1;
	}
	return get_flock()(fd, how);
}

/* statx() of an open image (fd, "", AT_EMPTY_PATH) asked for direct I/O
 * alignment says there is none. */
int statx(int dirfd, const char *path, int flags, unsigned mask,
	  struct statx *stx)
{
	int ret = get_statx()(dirfd, path, flags, mask, stx);

	if (ret == 0 && (mask & STATX_DIOALIGN) && (flags & AT_EMPTY_PATH) &&
	    !*path && match_fd(dirfd, OP_STATX, VIA_SYNC, 0, 0)) {
		stx->stx_mask |= STATX_DIOALIGN;
		stx->stx_dio_mem_align = 0;
		stx->stx_dio_offset_align = 0;
	}
	return ret;
}

/* fork() refused as at the process limit. */
pid_t fork(void)
{
	const struct rule *r = NULL;

	if (have_act(A_EAGAIN)) {
		pthread_mutex_lock(&mu);
		r = match_locked(OP_FORK, VIA_SYNC, NULL, 0, 0, A_EAGAIN);
		pthread_mutex_unlock(&mu);
	}
	if (r) {
		logf_("fault eagain fork");
		errno = EAGAIN;
		return -1;
	}
	return get_fork()();
}

/* open(O_DIRECT) refused as by a file system without direct I/O. */
static int do_open(int (*fn)(const char *, int, ...), const char *path,
		   int flags, mode_t mode)
{
	int fd;

	if ((flags & O_DIRECT) && nrules) {
		const struct rule *r;

		pthread_mutex_lock(&mu);
		r = match_locked(OP_OPEN, VIA_SYNC, path, 0, 0, AT_CALL);
		pthread_mutex_unlock(&mu);
		if (r) {
			logf_("fault nodirect open sync path=%s", path);
			errno = EINVAL;
			return -1;
		}
	}
	fd = fn(path, flags, mode);
	wb_opened(fd);
	if (fd >= 0 && log_fd >= 0 && disk_fd(fd))
		logf_("open %s %s", flags & O_DIRECT ? "direct" : "buffered",
		      path);
	return fd;
}

static mode_t open_mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return (mode_t)va_arg(ap, int);
	return 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return do_open(get_open(), path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return do_open(get_open64(), path, flags, mode);
}

/* ---------------------------------------------------------------- libaio */

static unsigned aio_op(const struct iocb *cb, uint64_t *off, uint64_t *len)
{
	switch (cb->aio_lio_opcode) {
	case IO_CMD_PREAD:
	case IO_CMD_PWRITE:
		*off = (uint64_t)cb->u.c.offset;
		*len = cb->u.c.nbytes;
		return cb->aio_lio_opcode == IO_CMD_PREAD ? OP_READ : OP_WRITE;
	case IO_CMD_PREADV:
	case IO_CMD_PWRITEV:
		*off = (uint64_t)cb->u.v.offset;
		*len = iov_len(cb->u.v.vec, (int)cb->u.v.nr);
		return cb->aio_lio_opcode == IO_CMD_PREADV ? OP_READ : OP_WRITE;
	case IO_CMD_FSYNC:
	case IO_CMD_FDSYNC:
		*off = *len = 0;
		return OP_FDSYNC;
	default:
		return 0;
	}
}

static struct track *track_new(void)
{
	for (unsigned i = 0; i < MAX_TRACK; i++) {
		if (!tracks[i].used) {
			memset(&tracks[i], 0, sizeof(tracks[i]));
			tracks[i].used = true;
			if (i >= ntracks_hi)
				ntracks_hi = i + 1;
			return &tracks[i];
		}
	}
	return NULL;
}

static struct track *track_find(io_context_t ctx, const struct iocb *cb)
{
	for (unsigned i = 0; i < ntracks_hi; i++)
		if (tracks[i].used && !tracks[i].held && tracks[i].ctx == ctx &&
		    tracks[i].cb == cb)
			return &tracks[i];
	return NULL;
}

static void track_restore(struct track *t)
{
	if (!t->neutral)
		return;
	if (t->cb->aio_lio_opcode == IO_CMD_PREADV ||
	    t->cb->aio_lio_opcode == IO_CMD_PWRITEV)
		t->cb->u.v.nr = t->saved_len;
	else
		t->cb->u.c.nbytes = t->saved_len;
	t->neutral = false;
}

static void track_drop(struct track *t)
{
	if (t->op == OP_WRITE)
		aio_writes--;
	t->used = false;
	while (ntracks_hi && !tracks[ntracks_hi - 1].used)
		ntracks_hi--;
}

int io_submit(io_context_t ctx, long nr, struct iocb **ios)
{
	char path[4096];
	int ret, refused = 0;
	long i;

	pthread_mutex_lock(&mu);
	if (nr > 0 && have_act(A_EAGAIN) && disk_fd(ios[0]->aio_fildes)) {
		uint64_t off, len;
		unsigned op = aio_op(ios[0], &off, &len);

		if (op && match_locked(
			      op, VIA_AIO,
			      rule_path(ios[0]->aio_fildes, path, sizeof(path)),
			      off, len, A_EAGAIN)) {
			logf_("fault eagain %s aio off=%llu len=%llu",
			      op_name(op), (unsigned long long)off,
			      (unsigned long long)len);
			pthread_mutex_unlock(&mu);
			return -EAGAIN;
		}
	}
	/* nodsync (a kernel before Linux 4.13 refuses any aio_rw_flags) and
	 * the errors at=submit: the iocbs before the first refused one go
	 * in, that one fails. */
	for (i = have_act(A_NODSYNC) || have_submit_err() ? 0 : nr; i < nr;
	     i++) {
		const struct rule *r = NULL;
		uint64_t off, len;
		unsigned op = aio_op(ios[i], &off, &len);
		const char *p;

		if (!op || !disk_fd(ios[i]->aio_fildes))
			continue;
		p = rule_path(ios[i]->aio_fildes, path, sizeof(path));
		if (op == OP_WRITE && (ios[i]->aio_rw_flags & RWF_DSYNC))
			r = match_locked(op, VIA_AIO, p, off, len, A_NODSYNC);
		if (!r)
			r = match_locked(op, VIA_AIO, p, off, len, AT_SUBMIT);
		if (r) {
			logf_("fault %s %s aio off=%llu len=%llu", r->name,
			      op_name(op), (unsigned long long)off,
			      (unsigned long long)len);
			refused = r->act == A_NODSYNC ? EINVAL : r->err;
			break;
		}
	}
	if (i == 0 && nr > 0) {
		pthread_mutex_unlock(&mu);
		return -refused;
	}
	nr = i;
	for (i = 0; i < nr; i++) {
		struct iocb *cb = ios[i];
		struct track *t;
		uint64_t off, len;
		unsigned op = aio_op(cb, &off, &len);

		if (!op || !disk_fd(cb->aio_fildes))
			continue;
		t = track_new();
		if (!t)
			break; /* untracked: passes through unchanged */
		t->ctx = ctx;
		t->cb = cb;
		t->op = op;
		t->off = off;
		t->len = len;
		t->resfd = (cb->u.c.flags & 1) ? (int)cb->u.c.resfd : -1;
		if (op == OP_WRITE)
			aio_writes++;
		if (op == OP_FDSYNC)
			logf_("fdsync-start aio writes-in-flight=%u",
			      aio_writes + __atomic_load_n(&sync_writes,
							   __ATOMIC_SEQ_CST));
		t->r = match_locked(
		    op, VIA_AIO, rule_path(cb->aio_fildes, path, sizeof(path)),
		    off, len, AT_CALL);
		if (!t->r)
			continue;
		logf_("fault %s %s aio off=%llu len=%llu", t->r->name,
		      op_name(op), (unsigned long long)off,
		      (unsigned long long)len);
		if (t->r->act == A_ERR && op != OP_FDSYNC) {
			/* The disk failed: nothing is transferred. */
			t->neutral = true;
			if (cb->aio_lio_opcode == IO_CMD_PREADV ||
			    cb->aio_lio_opcode == IO_CMD_PWRITEV) {
				t->saved_len = cb->u.v.nr;
				cb->u.v.nr = 0;
			} else {
				t->saved_len = cb->u.c.nbytes;
				cb->u.c.nbytes = 0;
			}
		}
	}
	logf_("submit nr=%ld", nr);
	pthread_mutex_unlock(&mu);

	ret = get_io_submit()(ctx, nr, ios);

	/* The iocbs not accepted are the caller's again, unchanged. */
	pthread_mutex_lock(&mu);
	for (i = ret > 0 ? ret : 0; i < nr; i++) {
		struct track *t = track_find(ctx, ios[i]);

		if (t) {
			track_restore(t);
			track_drop(t);
		}
	}
	pthread_mutex_unlock(&mu);
	return ret;
}

static bool due(const struct timespec *now, const struct timespec *t)
{
	return now->tv_sec > t->tv_sec ||
	       (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

/* Releases held completions: their eventfd wakes the caller's loop, whose
 * next io_getevents hands them over. */
static void *timer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		struct timespec now, next = {0, 0};
		bool any = false;

		clock_gettime(CLOCK_MONOTONIC, &now);
		for (unsigned i = 0; i < ntracks_hi; i++) {
			struct track *t = &tracks[i];

			if (!t->used || !t->held || t->signalled)
				continue;
			if (due(&now, &t->due)) {
				uint64_t one = 1;

				t->signalled = true;
				if (t->resfd >= 0 &&
				    write(t->resfd, &one, sizeof(one)) < 0)
					logf_("libfault: eventfd %d: %s",
					      t->resfd, strerror(errno));
			} else if (!any || due(&next, &t->due)) {
				next = t->due;
				any = true;
			}
		}
		if (any)
			pthread_cond_timedwait(&timer_cv, &mu, &next);
		else
			pthread_cond_wait(&timer_cv, &mu);
	}
	return NULL;
}

static void start_timer(void)
{
	pthread_t th;
	sigset_t all, old;

	if (timer_started)
		return;
	/* Signals stay with the caller's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&th, NULL, timer_main, NULL) == 0) {
		pthread_detach(th);
		timer_started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The completion as the caller gets it; t is dropped. mu held. */
static void deliver(struct track *t, struct io_event *ev)
{
	long res = (long)ev->res;

	if (t->r && t->r->act == A_ERR)
		res = -t->r->err;
	else if (t->r && t->r->act == A_SHORT && res >= 0)
		res = (long)short_cut(t->r, t->off, t->len);
	/* A write with RWF_DSYNC syncs after it, as an fdsync does. */
	if (res >= 0 &&
	    (t->op == OP_FDSYNC ||
	     (t->op == OP_WRITE && (t->cb->aio_rw_flags & RWF_DSYNC))) &&
	    wb_report(t->cb->aio_fildes))
		res = -EIO;
	ev->res = (unsigned long)res;
	if (t->op == OP_WRITE)
		logf_("write-done aio off=%llu len=%llu res=%ld dsync=%d",
		      (unsigned long long)t->off, (unsigned long long)t->len,
		      res, (t->cb->aio_rw_flags & RWF_DSYNC) != 0);
	if (t->op == OP_FDSYNC)
		logf_("fdsync-done aio res=%ld", res);
	track_drop(t);
}

int io_getevents(io_context_t ctx, long min_nr, long nr,
		 struct io_event *events, struct timespec *timeout)
{
	struct timespec now, zero = {0, 0};
	long k = 0, n, out;
	bool held = false;

	pthread_mutex_lock(&mu);
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (unsigned i = 0; i < ntracks_hi && k < nr; i++) {
		struct track *t = &tracks[i];

		if (t->used && t->held && t->ctx == ctx && due(&now, &t->due)) {
			events[k] = t->ev;
			deliver(t, &events[k]);
			k++;
		}
	}
	pthread_mutex_unlock(&mu);
	if (k == nr)
		return (int)k;

	/* Held completions do not count towards min_nr: the daemon polls
	 * with a zero timeout after its eventfd fired. */
	n = get_io_getevents()(ctx, k ? 0 : min_nr, nr - k, events + k,
			       k ? &zero : timeout);
	if (n < 0)
		return k ? (int)k : (int)n;

	pthread_mutex_lock(&mu);
	out = k;
	for (long i = k; i < k + n; i++) {
		struct io_event ev = events[i];
		struct track *t = track_find(ctx, ev.obj);

		if (t) {
			track_restore(t);
			if (t->r && t->r->act == A_DELAY) {
				t->held = true;
				t->ev = ev;
				clock_gettime(CLOCK_MONOTONIC, &t->due);
				t->due.tv_sec += t->r->ms / 1000;
				t->due.tv_nsec +=
				    (long)(t->r->ms % 1000) * 1000000L;
				if (t->due.tv_nsec >= 1000000000L) {
					t->due.tv_sec++;
					t->due.tv_nsec -= 1000000000L;
				}
				held = true;
				continue;
			}
			deliver(t, &ev);
		}
		events[out++] = ev;
	}
	if (held) {
		start_timer();
		pthread_cond_signal(&timer_cv);
	}
	pthread_mutex_unlock(&mu);
	return (int)out;
}

int io_destroy(io_context_t ctx)
{
	pthread_mutex_lock(&mu);
	for (unsigned i = 0; i < ntracks_hi; i++)
		if (tracks[i].used && tracks[i].ctx == ctx)
			track_drop(&tracks[i]);
	pthread_mutex_unlock(&mu);
	return get_io_destroy()(ctx);
}
