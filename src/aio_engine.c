/* SPDX-License-Identifier: GPL-2.0-only */
/* The I/O engine: libaio for O_DIRECT reads and writes; a small worker
 * pool for everything that would block the loop thread (buffered I/O,
 * fallocate, fdatasync). The null backend completes everything through the
 * same batch path without any I/O. */
#include "aio_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"

#define REAP_BATCH 64
/* io_submit's EAGAIN with nothing of ours in flight (no completion to
 * retry after): try again every RETRY_US, for at most RETRY_MAX_US. */
#define RETRY_US	 1000
#define RETRY_MAX_US	 1000000
#define WORKERS_DIRECT	 2 /* fdatasync, discard, write-zeroes */
#define WORKERS_BUFFERED 4 /* ... plus every read and write */
#define WORKERS_MAX	 4
#define BOUNCE_BUDGET	 (64u << 20)
#define BOUNCE_MIN_SHIFT 12
#define BOUNCE_MAX_SHIFT 26 /* log2(BOUNCE_BUDGET) */
#define BOUNCE_CLASSES	 (BOUNCE_MAX_SHIFT - BOUNCE_MIN_SHIFT + 1)
#define BOUNCE_OVERSIZE	 UINT_MAX
#define ZERO_BUF_SIZE	 (1u << 20)
/* Bytes per BLKZEROOUT: a device without a write-zeroes command has the
 * kernel write every zero, so a whole 2 GiB segment in one call could not
 * be abandoned for seconds. */
#define ZEROOUT_CHUNK  (64ull << 20)
#define SYNC_IOV_CHUNK 64
#define EREQ_CHUNK     64

#ifndef UIO_MAXIOV
#define UIO_MAXIOV 1024
#endif

enum path {
	PATH_NONE,
	PATH_AIO,    /* zero-copy into the caller's iovecs */
	PATH_BOUNCE, /* aio through an aligned bounce buffer */
	PATH_WORKER,
	PATH_DEFERRED, /* result known at submit time, reported later */
	PATH_NULL,     /* null backend: done at once, reported in a batch */
};

/* Engine-side state of one request. */
struct ereq {
	struct aio_req *req;
	struct ereq *next;	    /* pending, flush_wait, job or done */
	struct ereq *wprev, *wnext; /* unfinished writes, queue order */
	bool in_wlist;
	uint64_t seq; /* write: order; flush: barrier */
	enum path path;
	int wfd;	/* worker: the fd to use */
	int res;	/* worker/deferred result */
	bool sync_only; /* on a worker: fdatasync for a written write */
	uint64_t epoch; /* WRITE_ZEROES: e->abandon_epoch when queued */
	void *bounce;
	unsigned bounce_class;
	size_t bounce_size;
	struct iocb iocb;
};

static struct ereq *container_of_iocb(struct iocb *cb)
{
	return (struct ereq *)((char *)cb - offsetof(struct ereq, iocb));
}

struct ereq_chunk {
	struct ereq_chunk *next;
	struct ereq e[EREQ_CHUNK];
};

struct elist {
	struct ereq *head, *tail;
};

struct idle_waiter {
	void (*fn)(void *opaque);
	void *opaque;
};

struct aio_engine {
	struct loop *loop;
	struct image *img;
	unsigned depth;
	unsigned submit_batch; /* most iocbs per io_submit; 0: no limit */
	void (*batch_done)(void *opaque);
	void *opaque;

	io_context_t ctx;
	int aio_efd;
	int done_efd;
	bool aio_watched, done_watched;
	int bfd; /* buffered twin of a direct fd, for unaligned I/O */
	struct io_event *events;
	struct iocb **iocbs;

	struct ereq *free;
	struct ereq_chunk *chunks;

	struct elist pending;	 /* queued, not handed to kernel/worker */
	struct elist flush_wait; /* flushes waiting for earlier writes */
	struct ereq *w_head, *w_tail;
	uint64_t wseq;

	unsigned npending; /* queued and not yet completed */
	unsigned aio_inflight;
	struct loop_timer *retry; /* after an EAGAIN with nothing in flight */
	uint64_t eagain_since;	  /* 0: the last io_submit was accepted */
	bool bounce_mode;
	bool zero_copy_works; /* a zero-copy request has succeeded */
	/* The kernel refused RWF_DSYNC (before Linux 4.13): a write that must
	 * be stable is written without it, then synced on a worker. */
	bool dsync_broken;

	void *bounce_free[BOUNCE_CLASSES];
	size_t bounce_total, bounce_inuse;
	size_t bounce_align;

	pthread_t threads[WORKERS_MAX];
	unsigned nthreads;
	pthread_mutex_t lock; /* jobs, done, stop */
	pthread_cond_t cond;
	struct elist jobs;
	struct elist done;
	bool stop;
	/* Bumped by aio_engine_abandon(): zeroing queued before stops. */
	_Atomic uint64_t abandon_epoch;
	/* Null backend (loop thread only): completed, not yet reported. */
	struct elist null_done;
	bool null_signalled;
	void *zeroes;

	/* A reset and a shutdown drain may wait at the same time. */
	struct idle_waiter idle[AIO_IDLE_WAITERS];
	unsigned nidle;
	struct aio_engine_stats st;
};

static void elist_push(struct elist *l, struct ereq *er)
{
	er->next = NULL;
	if (l->tail)
		l->tail->next = er;
	else
		l->head = er;
	l->tail = er;
}

static void elist_push_front(struct elist *l, struct ereq *er)
{
	er->next = l->head;
	l->head = er;
	if (!l->tail)
		l->tail = er;
}

static struct ereq *elist_pop(struct elist *l)
{
	struct ereq *er = l->head;

	if (er) {
		l->head = er->next;
		if (!l->head)
			l->tail = NULL;
		er->next = NULL;
	}
	return er;
}

static bool is_write(enum aio_op op)
{
	return op == AIO_WRITE || op == AIO_DISCARD || op == AIO_WRITE_ZEROES;
}

/* ------------------------------------------------------------ ereq pool */

static struct ereq *ereq_get(struct aio_engine *e)
{
	struct ereq *er;

	if (!e->free) {
		struct ereq_chunk *c = calloc(1, sizeof(*c));

		if (!c)
			return NULL;
		c->next = e->chunks;
		e->chunks = c;
		for (unsigned i = 0; i < EREQ_CHUNK; i++) {
			c->e[i].next = e->free;
			e->free = &c->e[i];
		}
	}
	er = e->free;
	e->free = er->next;
	memset(er, 0, sizeof(*er));
	return er;
}

static void ereq_put(struct aio_engine *e, struct ereq *er)
{
	er->req = NULL;
	er->next = e->free;
	e->free = er;
}

/* ------------------------------------------------------- bounce buffers */

/* Buffers come in power-of-two classes and are cached for reuse; the
 * cache plus the buffers in use never exceed BOUNCE_BUDGET, except for one
 * request larger than the whole budget, which runs alone. */
static unsigned bounce_class_of(size_t len)
{
	unsigned shift = BOUNCE_MIN_SHIFT;

	while (((size_t)1 << shift) < len)
		shift++;
	return shift - BOUNCE_MIN_SHIFT;
}

static void bounce_trim(struct aio_engine *e, size_t want_total)
{
	for (int c = BOUNCE_CLASSES - 1; c >= 0; c--) {
		while (e->bounce_free[c] && e->bounce_total > want_total) {
			void *p = e->bounce_free[c];

			e->bounce_free[c] = *(void **)p;
			free(p);
			e->bounce_total -= (size_t)1 << (c + BOUNCE_MIN_SHIFT);
		}
	}
}

/* 1: got a buffer; 0: wait for others to be released; -ENOMEM. */
static int bounce_get(struct aio_engine *e, struct ereq *er, size_t len)
{
	unsigned c;
	size_t size;
	void *p;

	if (len > BOUNCE_BUDGET) {
		if (e->bounce_inuse)
			return 0;
		bounce_trim(e, 0);
		c = BOUNCE_OVERSIZE;
		size = (len + 4095) & ~(size_t)4095;
	} else {
		c = bounce_class_of(len);
		size = (size_t)1 << (c + BOUNCE_MIN_SHIFT);
		if (e->bounce_free[c]) {
			p = e->bounce_free[c];
			e->bounce_free[c] = *(void **)p;
			goto got;
		}
		if (e->bounce_total + size > BOUNCE_BUDGET)
			bounce_trim(e, BOUNCE_BUDGET - size);
		if (e->bounce_total + size > BOUNCE_BUDGET)
			return e->bounce_inuse ? 0 : -ENOMEM;
	}
	if (posix_memalign(&p, e->bounce_align, size))
		return e->bounce_inuse ? 0 : -ENOMEM;
	e->bounce_total += size;
got:
	e->bounce_inuse += size;
	er->bounce = p;
	er->bounce_class = c;
	er->bounce_size = size;
	return 1;
}

static void bounce_put(struct aio_engine *e, struct ereq *er)
{
	if (!er->bounce)
		return;
	e->bounce_inuse -= er->bounce_size;
	if (er->bounce_class == BOUNCE_OVERSIZE) {
		free(er->bounce);
		e->bounce_total -= er->bounce_size;
	} else {
		*(void **)er->bounce = e->bounce_free[er->bounce_class];
		e->bounce_free[er->bounce_class] = er->bounce;
	}
	er->bounce = NULL;
}

static void copy_from_iov(void *dst, const struct aio_req *req)
{
	char *d = dst;

	for (unsigned i = 0; i < req->iovcnt; i++) {
		memcpy(d, req->iov[i].iov_base, req->iov[i].iov_len);
		d += req->iov[i].iov_len;
	}
}

static void copy_to_iov(const struct aio_req *req, const void *src)
{
	const char *s = src;

	for (unsigned i = 0; i < req->iovcnt; i++) {
		memcpy(req->iov[i].iov_base, s, req->iov[i].iov_len);
		s += req->iov[i].iov_len;
	}
}

/* ------------------------------------------------------- worker threads */

static int rw_sync(int fd, const struct aio_req *req, bool write)
{
	struct iovec v[SYNC_IOV_CHUNK];
	uint64_t off = req->offset, left = req->len;
	unsigned i = 0;
	size_t skip = 0;

	while (left) {
		unsigned n = 0;
		ssize_t r;
		size_t adv;

		for (unsigned j = i; j < req->iovcnt && n < SYNC_IOV_CHUNK;
		     j++) {
			size_t s = j == i ? skip : 0;

			v[n].iov_base = (char *)req->iov[j].iov_base + s;
			v[n].iov_len = req->iov[j].iov_len - s;
			n++;
		}
		if (!n)
			return -EIO;
		r = write ? pwritev(fd, v, (int)n, (off_t)off)
			  : preadv(fd, v, (int)n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO; /* end of file: a short transfer */
		off += (uint64_t)r;
		left -= (uint64_t)r < left ? (uint64_t)r : left;
		for (adv = (size_t)r; adv && i < req->iovcnt;) {
			size_t avail = req->iov[i].iov_len - skip;

			if (adv >= avail) {
				adv -= avail;
				i++;
				skip = 0;
			} else {
				skip += adv;
				adv = 0;
			}
		}
	}
	return (int)req->len;
}

/* Nobody waits for er's result any more (aio_engine_abandon): a worker
 * stops zeroing for it between two chunks. */
static bool abandoned(struct aio_engine *e, const struct ereq *er)
{
	return atomic_load(&e->abandon_epoch) != er->epoch;
}

static int write_zeroes_sync(struct aio_engine *e, const struct ereq *er,
			     uint64_t off, uint64_t len)
{
	while (len) {
		size_t n = len < ZERO_BUF_SIZE ? (size_t)len : ZERO_BUF_SIZE;
		ssize_t r;

		if (abandoned(e, er))
			return -ECANCELED;
		r = pwrite(er->wfd, e->zeroes, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

static int do_discard(struct aio_engine *e, const struct aio_req *req)
{
	int r;

	if (e->img->is_blkdev) {
		/* BLKDISCARD takes only whole logical blocks (EINVAL), and a
		 * driver of 512-byte sectors may send less of a 4 KiB one:
		 * discard the whole blocks inside, the rest being a hint. */
		uint64_t lb = e->img->logical_block;
		uint64_t start = (req->offset + lb - 1) / lb * lb;
		uint64_t end = (req->offset + req->len) / lb * lb;
		uint64_t range[2] = {start, end - start};

		if (end <= start)
			return 0;
		r = ioctl(e->img->fd, BLKDISCARD, range);
	} else {
		r = fallocate(e->img->fd,
			      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)req->offset, (off_t)req->len);
	}
	/* Discard is a hint (virtio 1.2 §5.2.6): the data may stay. */
	if (r < 0 && errno == EOPNOTSUPP)
		return 0;
	return r < 0 ? -errno : 0;
}

/* BLKZEROOUT over [*off, *off + *len) in chunks, 0 or -errno; on failure
 * *off and *len are what is left. */
static int zeroout(struct aio_engine *e, const struct ereq *er, uint64_t *off,
		   uint64_t *len)
{
	while (*len) {
		uint64_t range[2] = {
		    *off, *len < ZEROOUT_CHUNK ? *len : ZEROOUT_CHUNK};

		if (abandoned(e, er))
			return -ECANCELED;
		if (ioctl(e->img->fd, BLKZEROOUT, range) < 0)
			return -errno;
		*off += range[1];
		*len -= range[1];
	}
	return 0;
}

static int do_write_zeroes(struct aio_engine *e, const struct ereq *er)
{
	const struct aio_req *req = er->req;
	uint64_t off = req->offset, len = req->len;
	int fd = e->img->fd;
	int r;

	if (abandoned(e, er))
		return -ECANCELED;
	if (e->img->is_blkdev) {
		/* A hole punched in a block device zeroes with unmapping
		 * allowed (BLKZEROOUT never unmaps); refused where the device
		 * cannot, which BLKZEROOUT then does. */
		if (req->unmap &&
		    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)req->offset, (off_t)req->len) == 0)
			return 0;
		r = zeroout(e, er, &off, &len);
		/* EINVAL: a range of 512-byte sectors on a device of 4 KiB
		 * ones, which only writing zeroes through er->wfd (the
		 * buffered twin) can do; for what the chunks before did not
		 * zero. */
		if (r != -EOPNOTSUPP && r != -EINVAL)
			return r;
	} else {
		if (req->unmap && e->img->can_discard &&
		    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)req->offset, (off_t)req->len) == 0)
			return 0;
		r = fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
			      (off_t)req->offset, (off_t)req->len);
		if (r == 0)
			return 0;
		if (errno != EOPNOTSUPP)
			return -errno;
	}
	return write_zeroes_sync(e, er, off, len);
}

/* A failed data sync taints the image for good (struct image): say so
 * once. Any thread. */
static void sync_failed(struct aio_engine *e, int err)
{
	if (!atomic_exchange(&e->img->sync_failed, true))
		log_error("%s: a data sync failed (%s): written data may not "
			  "be on the disk; every later flush fails until the "
			  "image is opened again",
			  e->img->path, strerror(-err));
}

/* fdatasync of the image (on its sync_fd, which no write-through write
 * syncs: struct image), recorded if it fails. Any thread; one at a time
 * per image, across every engine on it: Linux reports a writeback error
 * to the first sync that looks, and a second sync running beside it may
 * return 0 first, its FLUSH answered OK for data the kernel dropped. In
 * turn, the failure is on record before the next sync can start, and that
 * one's request fails in finish(). This is why a FLUSH is a worker's job
 * and not an aio fdsync, whose runs the engine could not keep apart. */
static int data_sync(struct aio_engine *e)
{
	/* No sync_fd: read-only (nothing to sync), or no /proc. */
	int fd = e->img->sync_fd >= 0 ? e->img->sync_fd : e->img->fd;
	int r;

	pthread_mutex_lock(&e->img->sync_lock);
	r = fdatasync(fd) < 0 ? -errno : 0;
	if (r < 0)
		sync_failed(e, r);
	pthread_mutex_unlock(&e->img->sync_lock);
	return r;
}

static int run_job(struct aio_engine *e, const struct ereq *er)
{
	const struct aio_req *req = er->req;
	int r;

	if (er->sync_only) {
		r = data_sync(e);
		return r < 0 ? r : (int)req->len;
	}

	switch (req->op) {
	case AIO_READ:
		return rw_sync(er->wfd, req, false);
	case AIO_FLUSH:
		return data_sync(e);
	case AIO_WRITE:
		r = rw_sync(er->wfd, req, true);
		break;
	case AIO_DISCARD:
		r = do_discard(e, req);
		break;
	case AIO_WRITE_ZEROES:
		r = do_write_zeroes(e, er);
		break;
	default:
		return -EINVAL;
	}
	/* The data is written through whichever descriptor; the one sync
	 * covers the file (or the block device's cache) for both. */
	if (r >= 0 && req->stable) {
		int sr = data_sync(e);

		if (sr < 0)
			return sr;
	}
	return r;
}

/* Under e->lock. Only the first result of a batch wakes the loop: it
 * reads the eventfd before it takes the whole list, so a result pushed
 * onto a non-empty list is always collected with the others. */
static void push_done(struct aio_engine *e, struct ereq *er)
{
	uint64_t one = 1;
	bool was_empty = !e->done.head;

	elist_push(&e->done, er);
	/* Cannot fail short of a counter overflow (2^64 - 1 events). */
	if (was_empty && write(e->done_efd, &one, sizeof(one)) < 0)
		abort();
}

static void *worker_main(void *arg)
{
	struct aio_engine *e = arg;
	struct ereq *er;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		while (!e->jobs.head && !e->stop)
			pthread_cond_wait(&e->cond, &e->lock);
		er = elist_pop(&e->jobs);
		if (!er)
			break;
		pthread_mutex_unlock(&e->lock);
		er->res = run_job(e, er);
		pthread_mutex_lock(&e->lock);
		push_done(e, er);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

static void to_worker(struct aio_engine *e, struct ereq *er, int fd)
{
	er->path = PATH_WORKER;
	er->wfd = fd;
	e->st.submits++;
	pthread_mutex_lock(&e->lock);
	elist_push(&e->jobs, er);
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

/* Report res from the loop thread later, never from inside queue/submit:
 * done() callbacks always run from a completion batch. */
static void complete_later(struct aio_engine *e, struct ereq *er, int res)
{
	er->path = PATH_DEFERRED;
	er->res = res;
	pthread_mutex_lock(&e->lock);
	push_done(e, er);
	pthread_mutex_unlock(&e->lock);
}

/* ------------------------------------------------------------ dispatch */

static bool flush_ready(const struct aio_engine *e, const struct ereq *er)
{
	return !e->w_head || e->w_head->seq > er->seq;
}

static bool zero_copy_ok(const struct aio_engine *e, const struct aio_req *req)
{
	if (e->bounce_mode || req->iovcnt > UIO_MAXIOV)
		return false;
	for (unsigned i = 0; i < req->iovcnt; i++) {
		if ((uintptr_t)req->iov[i].iov_base % e->img->mem_align ||
		    req->iov[i].iov_len % e->img->logical_block)
			return false;
	}
	return true;
}

static void prep_aio(struct aio_engine *e, struct ereq *er)
{
	struct aio_req *req = er->req;
	int fd = e->img->fd;

	switch (er->path) {
	case PATH_AIO:
		if (req->op == AIO_READ)
			io_prep_preadv(&er->iocb, fd, req->iov,
				       (int)req->iovcnt,
				       (long long)req->offset);
		else
			io_prep_pwritev(&er->iocb, fd, req->iov,
					(int)req->iovcnt,
					(long long)req->offset);
		break;
	case PATH_BOUNCE:
		if (req->op == AIO_READ) {
			io_prep_pread(&er->iocb, fd, er->bounce, req->len,
				      (long long)req->offset);
		} else {
			copy_from_iov(er->bounce, req);
			io_prep_pwrite(&er->iocb, fd, er->bounce, req->len,
				       (long long)req->offset);
		}
		break;
	default:
		abort(); /* dispatch() sends nothing else here */
	}
	/* Per-write O_DSYNC (Linux 4.13): the completion means stable, with
	 * no fdatasync of everything else in flight. */
	if (req->op == AIO_WRITE && req->stable && !e->dsync_broken)
		er->iocb.aio_rw_flags = RWF_DSYNC;
	io_set_eventfd(&er->iocb, e->aio_efd);
}

static void dispatch(struct aio_engine *e);

/* Put iocbs[from, n), not accepted by the kernel, back at the head of the
 * queue in their order, to be prepared again. */
static void requeue_iocbs(struct aio_engine *e, unsigned from, unsigned n)
{
	for (unsigned i = n; i-- > from;) {
		struct ereq *er = container_of_iocb(e->iocbs[i]);

		bounce_put(e, er);
		er->path = PATH_NONE;
		elist_push_front(&e->pending, er);
	}
}

/* io_submit said EAGAIN (the kernel short of memory for the moment) and
 * no completion of ours will come to retry after: whether to try again on
 * the retry timer, which this arms. Not for ever: a request the kernel
 * keeps refusing for RETRY_MAX_US fails (IOERR) rather than hang the
 * guest and every drain. */
static bool eagain_retry(struct aio_engine *e)
{
	uint64_t now = loop_now_us();

	if (!e->eagain_since) {
		e->eagain_since = now;
		log_info("%s: io_submit: %s; retrying", e->img->path,
			 strerror(EAGAIN));
	}
	if (now - e->eagain_since >= RETRY_MAX_US) {
		e->eagain_since = 0;
		return false;
	}
	loop_timer_arm(e->retry, RETRY_US);
	return true;
}

/* Give the kernel iocbs[0, n) with as few io_submit calls as it accepts
 * and submit_batch allows. */
static void submit_iocbs(struct aio_engine *e, unsigned n)
{
	unsigned done = 0;

	while (done < n) {
		unsigned want = n - done;
		struct ereq *er;
		int ret;

		if (e->submit_batch && want > e->submit_batch)
			want = e->submit_batch;
		ret = io_submit(e->ctx, (long)want, e->iocbs + done);

		e->st.submit_calls++;
		if (ret > 0) {
			e->eagain_since = 0;
			e->aio_inflight += (unsigned)ret;
			e->st.submits += (unsigned)ret;
			done += (unsigned)ret;
			continue;
		}
		if (ret == 0)
			ret = -EAGAIN;
		if (ret == -EAGAIN && e->aio_inflight) {
			/* Retry after the next completions, in order. */
			requeue_iocbs(e, done, n);
			return;
		}
		if (ret == -EAGAIN && eagain_retry(e)) {
			requeue_iocbs(e, done, n);
			return;
		}
		/* The error belongs to the first iocb not accepted. */
		er = container_of_iocb(e->iocbs[done]);
		if ((ret == -EINVAL || ret == -EOPNOTSUPP) &&
		    (er->iocb.aio_rw_flags & RWF_DSYNC)) {
			log_info("aio writes with RWF_DSYNC unsupported by the "
				 "kernel; write-through writes are synced "
				 "after they complete");
			e->dsync_broken = true;
			/* This one and the rest again, in order, without. */
			requeue_iocbs(e, done, n);
			dispatch(e);
			return;
		}
		done++;
		bounce_put(e, er);
		complete_later(e, er, ret);
	}
}

/* Null backend: every queued request is done; one eventfd write per batch
 * sends them through the completion path like real ones. Flushes need no
 * wait: the writes before them are ahead of them in the same list. */
static void dispatch_null(struct aio_engine *e)
{
	struct ereq *er;
	bool any = false;

	while ((er = elist_pop(&e->pending))) {
		er->path = PATH_NULL;
		elist_push(&e->null_done, er);
		e->st.submits++;
		any = true;
	}
	if (any && !e->null_signalled) {
		uint64_t one = 1;

		e->null_signalled = true;
		if (write(e->aio_efd, &one, sizeof(one)) < 0)
			abort(); /* only on counter overflow */
	}
}

/* Move queued requests to the kernel or the workers, in order, until the
 * queue is empty, the kernel depth is reached or bounce memory runs out. */
static void dispatch(struct aio_engine *e)
{
	const struct image *img = e->img;
	unsigned n = 0;
	struct ereq *er;

	if (img->is_null) {
		dispatch_null(e);
		return;
	}

	while ((er = e->pending.head)) {
		struct aio_req *req = er->req;
		enum path path = PATH_WORKER;
		int fd = img->fd;

		switch (req->op) {
		case AIO_READ:
		case AIO_WRITE:
			if (!img->direct)
				break; /* buffered libaio would block */
			if ((req->offset | req->len) % img->logical_block) {
				/* Only a buffered fd takes this offset. */
				fd = e->bfd;
				break;
			}
			path = zero_copy_ok(e, req) ? PATH_AIO : PATH_BOUNCE;
			break;
		case AIO_FLUSH:
			if (!flush_ready(e, er)) {
				elist_pop(&e->pending);
				elist_push(&e->flush_wait, er);
				continue;
			}
			break; /* data_sync() on a worker */
		case AIO_DISCARD:
			break; /* fallocate/BLKDISCARD on img->fd: do_discard()
				* aligns */
		case AIO_WRITE_ZEROES:
			if (img->direct &&
			    (req->offset | req->len) % img->logical_block)
				fd = e->bfd;
			break;
		}

		if (path == PATH_WORKER) {
			elist_pop(&e->pending);
			if (fd < 0)
				complete_later(e, er, -EINVAL);
			else
				to_worker(e, er, fd);
			continue;
		}
		if (e->aio_inflight + n >= e->depth)
			break;
		if (path == PATH_BOUNCE) {
			int r = bounce_get(e, er, req->len);

			if (r == 0)
				break;
			if (r < 0) {
				elist_pop(&e->pending);
				complete_later(e, er, r);
				continue;
			}
			e->st.bounce_requests++;
		}
		elist_pop(&e->pending);
		er->path = path;
		prep_aio(e, er);
		e->iocbs[n++] = &er->iocb;
	}
	if (n)
		submit_iocbs(e, n);
}

/* ---------------------------------------------------------- completion */

/* Waiters may queue new requests (a restarted device): take the list first. */
static void run_idle_waiters(struct aio_engine *e)
{
	unsigned n = e->nidle;
	struct idle_waiter w[AIO_IDLE_WAITERS];

	memcpy(w, e->idle, sizeof(w));
	e->nidle = 0;
	for (unsigned i = 0; i < n; i++)
		w[i].fn(w[i].opaque);
}

static void wlist_remove(struct aio_engine *e, struct ereq *er)
{
	if (!er->in_wlist)
		return;
	if (er->wprev)
		er->wprev->wnext = er->wnext;
	else
		e->w_head = er->wnext;
	if (er->wnext)
		er->wnext->wprev = er->wprev;
	else
		e->w_tail = er->wprev;
	er->in_wlist = false;
}

static void finish(struct aio_engine *e, struct ereq *er, int res)
{
	struct aio_req *req = er->req;

	/* A short read or write is an error for the caller (aio_engine.h),
	 * whichever path carried it. */
	if ((req->op == AIO_READ || req->op == AIO_WRITE) && res >= 0 &&
	    (uint64_t)res != req->len)
		res = -EIO;
	/* Nothing durable after a failed sync (struct image): a flush, or a
	 * write-through request, that succeeded now would be a lie. */
	if (res >= 0 &&
	    (req->op == AIO_FLUSH || (req->stable && req->op != AIO_READ)) &&
	    atomic_load(&e->img->sync_failed))
		res = -EIO;
	wlist_remove(e, er);
	bounce_put(e, er);
	ereq_put(e, er);
	e->npending--;
	e->st.completions++;
	req->done(req, res);
}

static void complete_aio(struct aio_engine *e, struct ereq *er, long res)
{
	struct aio_req *req = er->req;

	/* GUP refuses Xen foreign mappings (VM_IO|VM_PFNMAP): go through
	 * bounce buffers from now on and retry this one. The kernel says
	 * EFAULT, except that a large first request on a block device may
	 * come back as EIO; until one zero-copy request has succeeded, an
	 * EIO is taken for a refusal too (a real disk error fails the retry
	 * as well, and reaches the guest all the same). */
	if (er->path == PATH_AIO && res > 0)
		e->zero_copy_works = true;
	if (er->path == PATH_AIO &&
	    (res == -EFAULT || (res == -EIO && !e->zero_copy_works))) {
		if (!e->bounce_mode)
			log_info("O_DIRECT into guest memory refused (%s); "
				 "using bounce buffers",
				 res == -EFAULT ? "EFAULT" : "EIO");
		e->bounce_mode = true;
		er->path = PATH_NONE;
		elist_push_front(&e->pending, er);
		return;
	}
	if (res >= 0 && (uint64_t)res == req->len && er->path == PATH_BOUNCE &&
	    req->op == AIO_READ)
		copy_to_iov(req, er->bounce);
	if (req->op == AIO_WRITE && req->stable &&
	    !(er->iocb.aio_rw_flags & RWF_DSYNC) && res >= 0 &&
	    (uint64_t)res == req->len) {
		/* Written without RWF_DSYNC: stable only after a sync. */
		er->sync_only = true;
		to_worker(e, er, e->img->fd);
		return;
	}
	finish(e, er, (int)res);
}

static void finish_batch(struct aio_engine *e, bool completed)
{
	/* Barriers are monotonic, so ready flushes form a prefix. */
	if (e->flush_wait.head && flush_ready(e, e->flush_wait.head)) {
		struct elist ready = {NULL, NULL};

		while (e->flush_wait.head && flush_ready(e, e->flush_wait.head))
			elist_push(&ready, elist_pop(&e->flush_wait));
		ready.tail->next = e->pending.head;
		if (!e->pending.head)
			e->pending.tail = ready.tail;
		e->pending.head = ready.head;
	}
	dispatch(e);
	if (completed && e->batch_done)
		e->batch_done(e->opaque);
	if (!e->npending)
		run_idle_waiters(e);
}

static bool reap_aio(struct aio_engine *e)
{
	struct timespec zero = {0, 0};
	bool any = false;

	for (;;) {
		int n = io_getevents(e->ctx, 0, REAP_BATCH, e->events, &zero);

		if (n == -EINTR)
			continue;
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			struct ereq *er = container_of_iocb(e->events[i].obj);

			e->aio_inflight--;
			complete_aio(e, er, (long)e->events[i].res);
		}
		any = true;
		if (n < REAP_BATCH)
			break;
	}
	return any;
}

/* Null backend: report every request done since the last batch; reads
 * leave the guest's buffers as they were. */
static bool reap_null(struct aio_engine *e)
{
	struct ereq *er, *list = e->null_done.head;

	e->null_done.head = e->null_done.tail = NULL;
	e->null_signalled = false;
	if (!list)
		return false;
	while ((er = list)) {
		const struct aio_req *req = er->req;

		list = er->next;
		finish(e, er,
		       req->op == AIO_READ || req->op == AIO_WRITE
			   ? (int)req->len
			   : 0);
	}
	return true;
}

static void on_aio_event(void *opaque, uint32_t events)
{
	struct aio_engine *e = opaque;
	uint64_t cnt;

	(void)events;
	if (read(e->aio_efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		log_warn("aio eventfd: %s", strerror(errno));
	finish_batch(e, e->img->is_null ? reap_null(e) : reap_aio(e));
}

/* The head of the completion ring the kernel shares with us (the
 * io_context_t is its address; fs/aio.c struct aio_ring). libaio's own
 * io_getevents() looks at head and tail the same way before a zero-timeout
 * system call. */
struct aio_ring_head {
	unsigned id, nr, head, tail, magic, compat_features, incompat_features,
	    header_length;
};
#define AIO_RING_MAGIC 0xa10a10a1u

/* Loop poller: completions are reaped as soon as the kernel posts them,
 * without waiting for the eventfd to wake us. */
static bool poll_completions(void *opaque)
{
	struct aio_engine *e = opaque;
	const volatile struct aio_ring_head *r;

	if (e->img->is_null) {
		if (!e->null_done.head)
			return false;
	} else {
		r = (const volatile struct aio_ring_head *)e->ctx;
		if (!e->aio_inflight || r->magic != AIO_RING_MAGIC ||
		    r->head == r->tail)
			return false;
	}
	on_aio_event(e, 0);
	return true;
}

static void on_done_event(void *opaque, uint32_t events)
{
	struct aio_engine *e = opaque;
	struct ereq *er, *list;
	uint64_t cnt;
	bool any = false;

	(void)events;
	if (read(e->done_efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		log_warn("worker eventfd: %s", strerror(errno));
	pthread_mutex_lock(&e->lock);
	list = e->done.head;
	e->done.head = e->done.tail = NULL;
	pthread_mutex_unlock(&e->lock);

	while ((er = list)) {
		list = er->next;
		finish(e, er, er->res);
		any = true;
	}
	finish_batch(e, any);
}

/* --------------------------------------------------------------- API */

int aio_engine_queue(struct aio_engine *e, struct aio_req *req)
{
	struct ereq *er = ereq_get(e);
	bool bad = false;

	/* Refused rather than completed here: the caller is still setting
	 * the request up, and a done() under its feet would finish it. */
	if (!er) {
		log_error("aio engine: out of memory");
		return -ENOMEM;
	}
	er->req = req;
	e->npending++;

	switch (req->op) {
	case AIO_READ:
	case AIO_WRITE: {
		uint64_t sum = 0;

		for (unsigned i = 0; i < req->iovcnt; i++)
			sum += req->iov[i].iov_len;
		bad = sum != req->len || req->len > INT_MAX;
		break;
	}
	case AIO_FLUSH:
		er->seq = e->wseq; /* barrier: every write queued so far */
		break;
	case AIO_WRITE_ZEROES:
		/* The only work abandoned (aio_engine_abandon). */
		er->epoch = atomic_load(&e->abandon_epoch);
		break;
	case AIO_DISCARD:
		break;
	default:
		bad = true;
		break;
	}
	if (!bad && req->offset + req->len < req->offset)
		bad = true;
	if (bad) {
		complete_later(e, er, -EINVAL);
		return 0;
	}
	if (is_write(req->op)) {
		er->seq = ++e->wseq;
		er->in_wlist = true;
		er->wprev = e->w_tail;
		if (e->w_tail)
			e->w_tail->wnext = er;
		else
			e->w_head = er;
		e->w_tail = er;
	}
	if (req->len == 0 && req->op != AIO_FLUSH) {
		complete_later(e, er, 0);
		return 0;
	}
	elist_push(&e->pending, er);
	return 0;
}

void aio_engine_submit(struct aio_engine *e)
{
	dispatch(e);
}

unsigned aio_engine_pending(const struct aio_engine *e)
{
	return e->npending;
}

int aio_engine_when_idle(struct aio_engine *e, void (*fn)(void *opaque),
			 void *opaque)
{
	if (!e->npending) {
		fn(opaque);
		return 0;
	}
	if (e->nidle == AIO_IDLE_WAITERS)
		return -EBUSY;
	e->idle[e->nidle].fn = fn;
	e->idle[e->nidle].opaque = opaque;
	e->nidle++;
	return 0;
}

void aio_engine_abandon(struct aio_engine *e)
{
	atomic_fetch_add(&e->abandon_epoch, 1);
}

void aio_engine_drain(struct aio_engine *e)
{
	dispatch(e);
	while (e->npending) {
		struct pollfd p[2] = {{.fd = e->aio_efd, .events = POLLIN},
				      {.fd = e->done_efd, .events = POLLIN}};
		/* After an EAGAIN with nothing in flight only the retry
		 * timer would submit again, and the loop that fires it is
		 * not running here: retry on the timer's period instead. */
		int timeout = e->eagain_since ? (int)(RETRY_US / 1000) : -1;
		int n = poll(p, 2, timeout);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("aio engine drain: poll: %s",
				  strerror(errno));
			return;
		}
		if (n == 0) {
			dispatch(e);
			continue;
		}
		if (p[0].revents)
			on_aio_event(e, POLLIN);
		if (p[1].revents)
			on_done_event(e, POLLIN);
	}
}

void aio_engine_set_submit_batch(struct aio_engine *e, unsigned n)
{
	e->submit_batch = n;
}

void aio_engine_get_stats(const struct aio_engine *e,
			  struct aio_engine_stats *s)
{
	*s = e->st;
	s->bounce_mode = e->bounce_mode;
}

static int start_workers(struct aio_engine *e, unsigned n)
{
	sigset_t all, old;
	int ret = 0;

	/* Signals belong to the loop thread (signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (e->nthreads = 0; e->nthreads < n; e->nthreads++) {
		ret = pthread_create(&e->threads[e->nthreads], NULL,
				     worker_main, e);
		if (ret)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e->nthreads ? 0 : -ret;
}

static void stop_workers(struct aio_engine *e)
{
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	for (unsigned i = 0; i < e->nthreads; i++)
		pthread_join(e->threads[i], NULL);
	e->nthreads = 0;
}

static void engine_release(struct aio_engine *e)
{
	struct ereq_chunk *c;

	if (e->nthreads)
		stop_workers(e);
	if (e->aio_watched) {
		loop_del(e->loop, e->aio_efd);
		loop_del_poller(e->loop, poll_completions, e);
	}
	if (e->done_watched)
		loop_del(e->loop, e->done_efd);
	if (e->retry)
		loop_timer_free(e->retry);
	if (e->aio_efd >= 0)
		close(e->aio_efd);
	if (e->done_efd >= 0)
		close(e->done_efd);
	if (e->ctx)
		io_destroy(e->ctx);
	if (e->bfd >= 0)
		close(e->bfd);
	bounce_trim(e, 0);
	while ((c = e->chunks)) {
		e->chunks = c->next;
		free(c);
	}
	free(e->zeroes);
	free(e->events);
	free(e->iocbs);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	free(e);
}

static void retry_submit(void *opaque)
{
	dispatch(opaque);
}

struct aio_engine *aio_engine_new(struct loop *loop, struct image *img,
				  unsigned depth,
				  void (*batch_done)(void *opaque),
				  void *opaque)
{
	struct aio_engine *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return NULL;
	e->loop = loop;
	e->img = img;
	e->batch_done = batch_done;
	e->opaque = opaque;
	e->aio_efd = e->done_efd = e->bfd = -1;
	e->bounce_align = img->mem_align > 4096 ? img->mem_align : 4096;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	if (!depth)
		depth = 1;

	/* io_setup counts against fs.aio-max-nr: settle for less. The null
	 * backend needs no context at all. */
	r = 0;
	while (!img->is_null &&
	       (r = io_setup((int)depth, &e->ctx)) == -EAGAIN && depth > 16)
		depth /= 2;
	if (r < 0) {
		log_error("io_setup(%u): %s", depth, strerror(-r));
		e->ctx = 0;
		goto fail;
	}
	e->depth = depth;
	e->events = calloc(REAP_BATCH, sizeof(*e->events));
	e->iocbs = calloc(depth, sizeof(*e->iocbs));
	if (!e->events || !e->iocbs ||
	    posix_memalign(&e->zeroes, e->bounce_align, ZERO_BUF_SIZE))
		goto fail_nomem;
	memset(e->zeroes, 0, ZERO_BUF_SIZE);

	e->aio_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	e->done_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->aio_efd < 0 || e->done_efd < 0) {
		log_error("eventfd: %s", strerror(errno));
		goto fail;
	}
	if (img->direct && img->logical_block > 512) {
		/* Sector-granular requests on a 4 KiB O_DIRECT image go
		 * through a buffered descriptor of the same open file. */
		char p[64];

		snprintf(p, sizeof(p), "/proc/self/fd/%d", img->fd);
		e->bfd =
		    open(p, (img->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (e->bfd < 0)
			log_warn("%s: no buffered descriptor (%s); requests "
				 "not aligned to %u bytes will fail",
				 img->path, strerror(errno),
				 img->logical_block);
	}
	r = img->is_null ? 0
			 : start_workers(e, img->direct ? WORKERS_DIRECT
							: WORKERS_BUFFERED);
	if (r) {
		log_error("pthread_create: %s", strerror(-r));
		goto fail;
	}
	r = loop_add(loop, e->aio_efd, EPOLLIN, on_aio_event, e);
	if (!r) {
		r = loop_add_poller(loop, poll_completions, e);
		if (r)
			loop_del(loop, e->aio_efd);
	}
	e->aio_watched = !r;
	if (!r) {
		r = loop_add(loop, e->done_efd, EPOLLIN, on_done_event, e);
		e->done_watched = !r;
	}
	if (r) {
		log_error("aio engine: cannot watch eventfd: %s", strerror(-r));
		goto fail;
	}
	e->retry = loop_timer_new(loop, retry_submit, e);
	if (!e->retry)
		goto fail_nomem;
	return e;

fail_nomem:
	log_error("aio engine: out of memory");
fail:
	engine_release(e);
	return NULL;
}

void aio_engine_free(struct aio_engine *e)
{
	if (!e)
		return;
	aio_engine_drain(e);
	engine_release(e);
}
