/* SPDX-License-Identifier: GPL-2.0-only */
/* The Xen IOREQ server: registers with the hypervisor for MMIO windows of
 * one guest, answers each vCPU's ioreq slot exactly once, and injects
 * interrupts. Order and barriers follow xen-ioreq-facts.md sections 1-4. */
#ifndef XVB_IOREQ_H
#define XVB_IOREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define __XEN_TOOLS__ 1
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>

#include "loop.h"

struct ioreq_server;

#define IOREQ_WRITE_DONE 0 /* answer the access now */
#define IOREQ_WRITE_HELD 1 /* ioreq_server_complete(vcpu) answers it later */
/* Answer now, then call work(): the guest's vCPU resumes while the work
 * (serving a notified queue) runs, instead of waiting for it. */
#define IOREQ_WRITE_THEN_WORK 2

/* One MMIO window and its register handlers (offsets are window-relative). */
struct ioreq_window {
	uint64_t base, size;
	uint64_t (*read)(void *opaque, uint32_t off, unsigned size);
	/* One of IOREQ_WRITE_*. */
	int (*write)(void *opaque, uint32_t off, unsigned size, uint64_t val,
		     unsigned vcpu);
	/* Work a write left for after its answer (IOREQ_WRITE_THEN_WORK). */
	void (*work)(void *opaque);
	void *opaque;
};

/* Create the server (buffered ioreqs off), map its ioreq page, enable it,
 * bind one event channel per vCPU and watch them in `loop`. NULL on error,
 * with a one-line reason in err (ENOSYS is explained: the hypervisor lacks
 * CONFIG_IOREQ_SERVER). */
struct ioreq_server *ioreq_server_new(struct loop *loop, uint32_t domid,
				      xendevicemodel_handle *dmod,
				      xenforeignmemory_handle *fmem,
				      xenevtchn_handle *xce, char *err,
				      size_t errlen);
/* Route [base, base+size) to w's handlers (the range is mapped inclusive
 * in Xen). 0 or -errno, logging nothing: -EINVAL for a bad window, -ENOSPC
 * beyond IOREQ_MAX_WINDOWS, -EEXIST over another window, else Xen's
 * refusal. */
#define IOREQ_MAX_WINDOWS 16
int ioreq_server_add_window(struct ioreq_server *s,
			    const struct ioreq_window *w);
/* Called on each IOREQ_TYPE_INVALIDATE before it is answered; fn returns
 * true to hold the answer until ioreq_server_complete_invalidates(). */
void ioreq_server_on_invalidate(struct ioreq_server *s,
				bool (*fn)(void *opaque), void *opaque);
/* Called once, at the guest's first register access, before it is served:
 * only a running vCPU makes one. */
void ioreq_server_on_first_access(struct ioreq_server *s,
				  void (*fn)(void *opaque), void *opaque);
/* Answer vCPU `vcpu`'s held write (IOREQ_WRITE_HELD). */
void ioreq_server_complete(struct ioreq_server *s, unsigned vcpu);
/* Answer every INVALIDATE held by ioreq_server_on_invalidate's fn. */
void ioreq_server_complete_invalidates(struct ioreq_server *s);
/* One edge on an SPI: set_irq_level(irq, 1). Any thread may call it; on
 * another than the loop's (an I/O thread) it raises the edge only, without
 * polling for the acknowledgements (ioreq_server_set_irq_poll). */
void ioreq_server_raise_irq(struct ioreq_server *s, unsigned irq);
/* After each interrupt, poll the slots for up to usec (0: never) for the
 * guest's two register accesses that acknowledge it. */
void ioreq_server_set_irq_poll(struct ioreq_server *s, unsigned usec);
/* Unbind ports, disable, unmap the page, destroy the server (reverse of
 * new). Tolerates a dead guest (ENOENT/ESRCH). */
void ioreq_server_free(struct ioreq_server *s);

struct ioreq_stats {
	uint64_t ioreqs, reads, writes, invalidates, other, outside, irqs;
	/* What a trap costs the guest on our side: ns from finding a request
	 * to answering it (held writes excluded), and from raising an
	 * interrupt to the next request (the guest's reaction, Linux's
	 * InterruptStatus read), with the number of each measured. */
	uint64_t answered, answer_ns, irq_replies, irq_reply_ns;
};
void ioreq_server_get_stats(const struct ioreq_server *s,
			    struct ioreq_stats *st);
/* How long the guest has recently taken, in µs, to reach us after an
 * interrupt (its InterruptStatus read): what one trapped access costs it
 * on this host, interrupt delivery included. 0 until measured. Any
 * thread. */
unsigned ioreq_server_irq_reply_us(const struct ioreq_server *s);

#endif
