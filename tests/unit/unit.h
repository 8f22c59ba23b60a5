/* SPDX-License-Identifier: GPL-2.0-only */
/* Minimal assertions for unit tests.
 *
 *   UNIT_RUN(test_fn);      run void test_fn(void), naming failures after it
 *   CHECK(cond);            count a pass, or print file:line and the test name
 *   CHECK_EQ(a, b);         same, printing both values (as long long)
 *   return UNIT_DONE();     print "N passed, N failed"; 1 if anything failed
 *
 * Checks keep going after a failure so one run shows every broken case. */
#ifndef XVB_UNIT_H
#define XVB_UNIT_H

#include <stdio.h>

struct unit_state {
	unsigned passed, failed;
	const char *test;
};

static inline struct unit_state *unit_state(void)
{
	static struct unit_state s = {0, 0, "main"};
	return &s;
}

static inline void unit_result(int ok, const char *file, int line,
			       const char *what)
{
	struct unit_state *s = unit_state();

	if (ok) {
		s->passed++;
		return;
	}
	s->failed++;
	fprintf(stderr, "%s:%d: [%s] check failed: %s\n", file, line, s->test,
		what);
}

#define CHECK(cond) unit_result(!!(cond), __FILE__, __LINE__, #cond)

#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		long long a_ = (long long)(a), b_ = (long long)(b);            \
		unit_result(a_ == b_, __FILE__, __LINE__, #a " == " #b);       \
		if (a_ != b_)                                                  \
			fprintf(stderr, "\t%lld != %lld\n", a_, b_);           \
	} while (0)

#define UNIT_RUN(fn)                                                           \
	do {                                                                   \
		unit_state()->test = #fn;                                      \
		fn();                                                          \
	} while (0)

static inline int unit_done(const char *prog)
{
	struct unit_state *s = unit_state();

	printf("%s: %u passed, %u failed\n", prog, s->passed, s->failed);
	/* A binary that checked nothing has tested nothing. */
	return s->failed || !s->passed ? 1 : 0;
}

#define UNIT_DONE() unit_done(__FILE__)

#endif
