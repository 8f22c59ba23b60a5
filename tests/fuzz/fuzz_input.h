/* SPDX-License-Identifier: GPL-2.0-only */
/* A cursor over a libFuzzer input: fixed-width little-endian reads that
 * return 0 once the input is used up, so every byte string is a valid
 * program for a target and truncation never changes the earlier reads. */
#ifndef XVB_FUZZ_INPUT_H
#define XVB_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

/* Check an invariant of the code under test: a violation is a crash
 * libFuzzer records like any other. */
#define FUZZ_ASSERT(cond)                                                      \
	do {                                                                   \
		if (!(cond))                                                   \
			__builtin_trap();                                      \
	} while (0)

static inline void fuzz_in_init(struct fuzz_in *in, const uint8_t *p, size_t n)
{
	in->p = p;
	in->left = n;
}

/* Copy up to n bytes into dst; missing bytes read as 0. */
static inline void fuzz_bytes(struct fuzz_in *in, void *dst, size_t n)
{
	size_t k = n < in->left ? n : in->left;

	memcpy(dst, in->p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	in->p += k;
	in->left -= k;
}

static inline uint64_t fuzz_le(struct fuzz_in *in, unsigned bytes)
{
	uint8_t b[8];
	uint64_t v = 0;

	fuzz_bytes(in, b, bytes);
	for (unsigned i = bytes; i-- > 0;)
		v = v << 8 | b[i];
	return v;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	return (uint8_t)fuzz_le(in, 1);
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	return (uint16_t)fuzz_le(in, 2);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	return (uint32_t)fuzz_le(in, 4);
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	return fuzz_le(in, 8);
}

#endif
