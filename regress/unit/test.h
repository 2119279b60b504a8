/*
 * Copyright (c) 2026 The popsep authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */
/*
 * The unit-test harness: each check prints one "PASS name" or "FAIL name"
 * line; regress/run.sh counts them.  A test program exits non-zero if any
 * check failed.
 */

#ifndef POPSEP_TEST_H
#define POPSEP_TEST_H

#include <stdio.h>

static int test_failures;

#define CHECK(cond, ...) do {						\
	int check_ok_ = !!(cond);					\
									\
	if (check_ok_) {							\
		printf("PASS ");					\
	} else {							\
		printf("FAIL ");					\
		test_failures++;					\
	}								\
	printf(__VA_ARGS__);						\
	printf("%s\n", check_ok_ ? "" : "  [" #cond "]");			\
	fflush(stdout);							\
} while (0)

#define TEST_EXIT()	return test_failures ? 1 : 0

#endif /* POPSEP_TEST_H */
