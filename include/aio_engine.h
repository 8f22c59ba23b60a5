/* SPDX-License-Identifier: GPL-2.0-only */
/* The I/O engine: libaio on one image. Requests queued during one
 * notification go to the kernel in one io_submit() (or several of at most
 * aio_engine_set_submit_batch() each); completions arrive via
 * an eventfd in the event loop and are handed back in batches. FLUSH waits
 * for every earlier write, then runs fdatasync on a worker thread, one
 * sync at a time per image. DISCARD and WRITE_ZEROES run as fallocate on
 * the worker thread. The loop thread never blocks on the disk.
 * O_DIRECT straight into guest memory is tried first; if the kernel refuses
 * it (EFAULT on Xen foreign mappings) the engine switches to aligned bounce
 * buffers for good and retries the request. */
#ifndef XVB_AIO_ENGINE_H
#define XVB_AIO_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "image.h"
#include "loop.h"

enum aio_op { AIO_READ, AIO_WRITE, AIO_FLUSH, AIO_DISCARD, AIO_WRITE_ZEROES };

struct aio_req;
/* res: bytes transferred (READ/WRITE, must equal len for success), 0 for the
 * others, or -errno. A short transfer is reported as -EIO. */
typedef void (*aio_done_fn)(struct aio_req *req, int res);

struct aio_req {
	enum aio_op op;
	uint64_t offset, len;	 /* bytes */
	const struct iovec *iov; /* READ/WRITE: guest memory */
	unsigned iovcnt;
	bool unmap; /* WRITE_ZEROES may deallocate */
	/* WRITE, DISCARD, WRITE_ZEROES: complete only once the result is on
	 * stable storage (a device without a cache the driver can flush). */
	bool stable;
	aio_done_fn done;
};

struct aio_engine;
/* depth: most requests in flight. batch_done(opaque) runs after each batch
 * of completions, so the caller can publish used entries once. */
struct aio_engine *aio_engine_new(struct loop *loop, struct image *img,
				  unsigned depth,
				  void (*batch_done)(void *opaque),
				  void *opaque);
/* At most n requests per io_submit() (0, the default: everything queued in
 * one call). Storage that completes what one submission brought as a unit
 * (a virtio disk whose host serves each notification in one pass) keeps
 * more requests in progress when they arrive a few at a time; other
 * storage only pays more system calls. */
void aio_engine_set_submit_batch(struct aio_engine *e, unsigned n);
/* Waits for everything in flight (blocking), then frees. */
void aio_engine_free(struct aio_engine *e);
/* Queue a request; nothing reaches the kernel before aio_engine_submit().
 * Requests beyond `depth` wait inside the engine. req->done runs later,
 * from the loop, never before this returns. -ENOMEM if the engine has no
 * memory to take it: then req->done never runs. */
int aio_engine_queue(struct aio_engine *e, struct aio_req *req);
/* Hand the queued batch to the kernel (one io_submit, unless a submit
 * batch is set). */
void aio_engine_submit(struct aio_engine *e);
/* Requests queued or in flight and not yet completed. */
unsigned aio_engine_pending(const struct aio_engine *e);
/* Call fn(opaque) from the loop once nothing is pending (at once, before
 * returning, if nothing is). Device reset and SIGTERM use it so the loop
 * keeps serving meanwhile; both may wait at once. 0, or -EBUSY when
 * AIO_IDLE_WAITERS callers already wait. */
#define AIO_IDLE_WAITERS 4
int aio_engine_when_idle(struct aio_engine *e, void (*fn)(void *opaque),
			 void *opaque);
/* Nobody wants the results of what is queued or in flight now (a reset, a
 * QueueReady=0, the domain's death, a teardown): WRITE_ZEROES that zeroes
 * by writing stops between two chunks with -ECANCELED, or does not start.
 * Everything else, bounded in size, still runs. Any thread. */
void aio_engine_abandon(struct aio_engine *e);
/* Block until nothing is pending; only for teardown outside the loop. */
void aio_engine_drain(struct aio_engine *e);

struct aio_engine_stats {
	uint64_t submits, submit_calls, completions, bounce_requests;
	bool bounce_mode;
};
void aio_engine_get_stats(const struct aio_engine *e,
			  struct aio_engine_stats *s);

#endif
