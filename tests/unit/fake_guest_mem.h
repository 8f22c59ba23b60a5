/* SPDX-License-Identifier: GPL-2.0-only */
/* Test double for include/guest_mem.h: guest RAM is one malloc'd, zeroed
 * buffer covering [base_gpa, base_gpa + size). Every guest_mem_* call
 * behaves like the real one as seen by callers:
 *  - any byte outside the buffer, or a range that wraps 64 bits, fails with
 *    -EFAULT (sg_add, read, write) or NULL (map_range); len 0 is a no-op
 *    success for sg_add/read/write and NULL for map_range;
 *  - guest_mem_sg_add splits at 1 MiB boundaries of guest physical space
 *    like the real bucket cache, returns -E2BIG when sg is full, and leaves
 *    sg unchanged on any error;
 *  - each sg entry holds one pin until guest_mem_sg_release().
 * There are no invalid frames inside the buffer, and -ENOMEM only as
 * fake_guest_mem_full() asks.
 * guest_mem_new() of the fake returns NULL: use fake_guest_mem_new(). */
#ifndef XVB_FAKE_GUEST_MEM_H
#define XVB_FAKE_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"

/* A zeroed guest RAM of `size` bytes at `base_gpa`; aborts on ENOMEM. */
struct guest_mem *fake_guest_mem_new(uint64_t base_gpa, size_t size);
/* Host pointer of base_gpa (write ring/buffer contents through it). */
uint8_t *fake_guest_mem_ptr(struct guest_mem *gm);
/* Pins taken by guest_mem_sg_add() and not yet released. */
unsigned fake_guest_mem_pins(struct guest_mem *gm);
/* A mapping cache at its cap: from now on sg_add, read and write of any
 * range that reaches `from_gpa` or beyond fail with -ENOMEM, and
 * the stats' pins and an sg's held_elsewhere count `others` pins held
 * elsewhere (0: the request alone is too big).
 * fake_guest_mem_full(gm, UINT64_MAX, 0) ends it. */
void fake_guest_mem_full(struct guest_mem *gm, uint64_t from_gpa,
			 unsigned others);
/* The `others` pins are released right after the next failure, before
 * anyone looks again (another thread completing), and the
 * room they held is free again: the cap refuses nothing more. */
void fake_guest_mem_others_leave(struct guest_mem *gm);
/* Ranges from guest_mem_map_range() not yet unmapped. */
unsigned fake_guest_mem_ranges(struct guest_mem *gm);
/* Same as guest_mem_free(): frees the buffer and the fake. */
void fake_guest_mem_free(struct guest_mem *gm);

#endif
