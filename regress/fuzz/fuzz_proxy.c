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
 * libFuzzer target for net/proxy.c: any bytes as the start of a
 * connection to a proxy listener.  Besides the sanitizers, the promises
 * are checked: a header is at most PROXY_V1_MAX or 16 + PROXY_V2_LEN_MAX
 * bytes, never longer than the input; fed exactly the bytes it asks for,
 * the parser gives the same answer and never asks past the header's end;
 * an address it yields is numeric and reads back with inet_pton.
 */

#include <sys/socket.h>

#include <arpa/inet.h>

#include <stdint.h>
#include <string.h>

#include "proxy.h"
#include "fuzz.h"

static void
check_addr(const struct proxy_hdr *h)
{
	uint8_t	a[16];

	if (h->is_local) {
		ASSERT(h->src[0] == '\0' && h->family == AF_UNSPEC);
		return;
	}
	ASSERT(h->family == AF_INET || h->family == AF_INET6);
	ASSERT(memchr(h->src, '\0', sizeof(h->src)) != NULL);
	ASSERT(inet_pton(h->family, h->src, a) == 1);
	ASSERT(inet_pton(h->family, h->dst, a) == 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr	h, s;
	size_t			want, len = 0;
	int			rc, step;

	rc = proxy_parse(data, size, &h, &want);
	ASSERT(rc == PROXY_PARSE_BAD || rc == PROXY_PARSE_MORE ||
	    rc == PROXY_PARSE_DONE);
	if (rc == PROXY_PARSE_DONE) {
		ASSERT(h.len > 0 && h.len <= size);
		ASSERT(h.version == 1 ? h.len <= PROXY_V1_MAX :
		    h.len <= 16 + PROXY_V2_LEN_MAX);
		check_addr(&h);
	}
	if (rc == PROXY_PARSE_MORE)
		ASSERT(want > 0 && size + want <= 16 + PROXY_V2_LEN_MAX);
	/* As proxy_read takes it. */
	for (;;) {
		step = proxy_parse(data, len, &s, &want);
		if (step != PROXY_PARSE_MORE)
			break;
		ASSERT(want > 0);
		if (len + want > size)
			break;
		len += want;
	}
	if (step == PROXY_PARSE_DONE) {
		ASSERT(rc == PROXY_PARSE_DONE && s.len == len && s.len == h.len);
		ASSERT(memcmp(&s, &h, sizeof(s)) == 0);
	}
	if (rc == PROXY_PARSE_DONE)
		ASSERT(step == PROXY_PARSE_DONE);
	return 0;
}
