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
 * The PROXY protocol, versions 1 and 2, as a proxy in front of a
 * listener sends it (haproxy's send-proxy and send-proxy-v2): the header
 * that names the real client before any byte of the client's own.  The
 * parser and the reader run in the network child, unprivileged and
 * sandboxed, on bytes that are not trusted until the monitor has checked
 * the address they yield and the master has admitted it.
 */

#ifndef POPSEP_PROXY_H
#define POPSEP_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"

/* What the network child reports to the monitor (MSG_MN_REQ_PROXY). */
enum proxy_status {
	PROXY_HDR_OK = 0,	/* a client address */
	PROXY_HDR_LOCAL,	/* LOCAL or UNKNOWN: the proxy's own connection */
	PROXY_HDR_BAD,		/* not a valid header */
	PROXY_HDR_TIMEOUT,	/* not complete within PROXY_HEADER_SECS */
	PROXY_HDR_CLOSED,	/* the connection ended first */
	PROXY_HDR_LAST = PROXY_HDR_CLOSED
};

enum proxy_parse_result {
	PROXY_PARSE_BAD = -1,
	PROXY_PARSE_MORE = 0,
	PROXY_PARSE_DONE = 1,
};

struct proxy_hdr {
	int		 version;	/* 1 or 2 */
	int		 is_local;	/* no address: the socket's own */
	int		 family;	/* AF_INET, AF_INET6; AF_UNSPEC if local */
	char		 src[PROXY_ADDR_MAX];	/* numeric, canonical */
	char		 dst[PROXY_ADDR_MAX];
	uint16_t	 sport;
	uint16_t	 dport;
	size_t		 len;		/* bytes of the header */
};

int	proxy_parse(const uint8_t *, size_t, struct proxy_hdr *, size_t *);
int	proxy_read(int, int, struct proxy_hdr *);
const char *proxy_status_text(int);

#endif /* POPSEP_PROXY_H */
