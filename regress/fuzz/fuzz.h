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
 * What every fuzz target shares: its entry point, a reader of its input
 * as numbers, and the invariant check,
 * which aborts so that libFuzzer (or the replay) reports the input; for
 * targets linked with lib/log.c, a log that drops every line and aborts
 * on fatal().  Runs in no process of the daemon.
 */

#ifndef POPSEP_FUZZ_H
#define POPSEP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define ASSERT(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "invariant failed: %s (line %d)\n", #c,	\
		    __LINE__);						\
		abort();						\
	}								\
} while (0)

/* The input as a stream of big-endian numbers, 0 once it is used up. */
struct in {
	const uint8_t	*p;
	size_t		 len;
};

static inline uint32_t
take(struct in *in, size_t n)
{
	uint32_t	v = 0;

	while (n-- > 0 && in->len > 0) {
		v = (v << 8) | *in->p++;
		in->len--;
	}
	return v;
}

static inline void
fuzz_log_drop(int prio, const char *line)
{
	(void)prio;
	(void)line;
}

/* fatal(), fatalx() or bug(): no input may reach them. */
static inline void
fuzz_log_abort(void)
{
	abort();
}

/* Log lines go nowhere; a fatal error aborts, for libFuzzer to see. */
static inline void
fuzz_log_quiet(void)
{
	log_set_sink(fuzz_log_drop);
	log_set_fatal_hook(fuzz_log_abort);
}

#endif /* POPSEP_FUZZ_H */
