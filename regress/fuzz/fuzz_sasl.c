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
 * libFuzzer target for proto/sasl.c: any bytes as a SASL response into the
 * base64 decoder, whatever it decodes into the PLAIN splitter.  Besides
 * the sanitizers, the promises are checked: a decoded response encodes
 * back to exactly the input (only canonical base64 is accepted), with
 * this file's encoder and with sasl_b64_encode() given exactly the room
 * it needs (and refusing one byte less), never exceeds the bound it was
 * given, and the split fields are within their buffers, NUL-free and
 * non-empty where PLAIN requires it.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "pop3.h"
#include "fuzz.h"

static size_t
encode(const uint8_t *in, size_t n, char *out)
{
	static const char	a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t			i, o = 0;
	unsigned long		v;

	for (i = 0; i < n; i += 3) {
		v = (unsigned long)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = i + 1 < n ? a[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? a[v & 63] : '=';
	}
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t	out[SASL_LINE_MAX];
	char	back[SASL_LINE_MAX + 4], enc[SASL_LINE_MAX + 4];
	char	z[POP_USER_MAX + 1], c[POP_USER_MAX + 1], p[POP_PASS_MAX + 1];
	size_t	n = 0, bound;

	if (size > SASL_LINE_MAX)
		return 0;
	bound = size > 0 ? data[0] % 64 + size / 2 : 0;
	if (bound > sizeof(out))
		bound = sizeof(out);
	if (sasl_b64_decode((const char *)data, size, out, bound, &n) == -1)
		return 0;
	ASSERT(n <= bound);
	ASSERT(encode(out, n, back) == size);
	ASSERT(memcmp(back, data, size) == 0);
	/* The server's encoder agrees with this independent one. */
	ASSERT(sasl_b64_encode(out, n, enc, size + 1) == 0);
	ASSERT(strlen(enc) == size && memcmp(enc, data, size) == 0);
	ASSERT(size == 0 || sasl_b64_encode(out, n, enc, size) == -1);
	if (sasl_plain_split(out, n, z, sizeof(z), c, sizeof(c), p,
	    sizeof(p)) == 0) {
		ASSERT(strlen(z) < sizeof(z) && strlen(c) > 0 &&
		    strlen(c) < sizeof(c) && strlen(p) > 0 &&
		    strlen(p) < sizeof(p));
		ASSERT(strlen(z) + strlen(c) + strlen(p) + 2 == n);
	}
	return 0;
}
