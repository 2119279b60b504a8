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
 * Runs in the network child (_popsep, chroot, seccomp), first thing on a
 * proxy listener: before TLS, before the greeting, before any POP3 byte.
 * It trusts nothing it reads.  It reads exactly the header's bytes and
 * no more, so the stream after the header reaches TLS and the POP3 parser
 * untouched, and gives up after a fixed size and a fixed time.  What it
 * yields is a claim: the monitor checks the address again, and whether
 * the peer may make such a claim at all is the master's decision
 * (proxy-from), taken before this process existed.
 */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "proxy.h"

#define V1_PREFIX	"PROXY "
#define V1_PREFIX_LEN	6
#define V1_MIN		15	/* "PROXY UNKNOWN\r\n" */
#define V2_HDR_LEN	16
#define V2_SIG_LEN	12
#define V2_INET_LEN	12	/* two addresses, two ports */
#define V2_INET6_LEN	36
#define V2_UNIX_LEN	216

static const uint8_t v2_sig[V2_SIG_LEN] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static size_t
min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* A numeric address of family af, in its canonical form. */
static int
addr_take(int af, const char *s, char *out)
{
	uint8_t	a[16];

	if (inet_pton(af, s, a) != 1 ||
	    inet_ntop(af, a, out, PROXY_ADDR_MAX) == NULL)
		return -1;
	return 0;
}

/* A port: 1 to 5 digits, no leading zero, at most 65535. */
static int
port_take(const char *s, uint16_t *port_r)
{
	size_t		len = strlen(s), i;
	unsigned long	v = 0;

	if (len == 0 || len > 5 || (s[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port_r = (uint16_t)v;
	return 0;
}

/* "TCP4 src dst sport dport", "TCP6 ...", or "UNKNOWN ...": one space. */
static int
v1_fields(char *s, struct proxy_hdr *h)
{
	char	*f[5], *p = s;
	int	 n = 0;

	while (n < 5 && (f[n] = strsep(&p, " ")) != NULL)
		n++;
	if (n >= 1 && strcmp(f[0], "UNKNOWN") == 0) {
		h->is_local = 1;
		h->family = AF_UNSPEC;
		return PROXY_PARSE_DONE;
	}
	if (p != NULL || n != 5)
		return PROXY_PARSE_BAD;
	if (strcmp(f[0], "TCP4") == 0)
		h->family = AF_INET;
	else if (strcmp(f[0], "TCP6") == 0)
		h->family = AF_INET6;
	else
		return PROXY_PARSE_BAD;
	if (addr_take(h->family, f[1], h->src) == -1 ||
	    addr_take(h->family, f[2], h->dst) == -1 ||
	    port_take(f[3], &h->sport) == -1 ||
	    port_take(f[4], &h->dport) == -1)
		return PROXY_PARSE_BAD;
	return PROXY_PARSE_DONE;
}

/* Version 1: one line of at most PROXY_V1_MAX bytes ending in CRLF. */
static int
parse_v1(const uint8_t *buf, size_t len, struct proxy_hdr *h, size_t *want_r)
{
	char		 line[PROXY_V1_MAX];
	const uint8_t	*nl;
	size_t		 n;

	nl = memchr(buf, '\n', min_size(len, PROXY_V1_MAX));
	if (nl == NULL) {
		if (len >= PROXY_V1_MAX)
			return PROXY_PARSE_BAD;
		/* No header is shorter than V1_MIN: those bytes are ours. */
		*want_r = len < V1_MIN ? V1_MIN - len : 1;
		return PROXY_PARSE_MORE;
	}
	n = (size_t)(nl - buf) + 1;
	if (nl[-1] != '\r' || memchr(buf, '\0', n) != NULL)
		return PROXY_PARSE_BAD;
	/* UNSAFE: n - 2 < PROXY_V1_MAX, the bound of the search above. */
	memcpy(line, buf, n - 2);
	line[n - 2] = '\0';
	h->version = 1;
	h->len = n;
	return v1_fields(line + V1_PREFIX_LEN, h);
}

/* TLVs fill what follows the addresses exactly; their contents are skipped. */
static int
tlvs_ok(const uint8_t *p, size_t rem)
{
	size_t	l;

	while (rem > 0) {
		if (rem < 3)
			return -1;
		l = (size_t)p[1] << 8 | p[2];
		if (l > rem - 3)
			return -1;
		p += 3 + l;
		rem -= 3 + l;
	}
	return 0;
}

static int
v2_addresses(const uint8_t *buf, size_t alen, struct proxy_hdr *h)
{
	const uint8_t	*a = buf + V2_HDR_LEN;
	size_t		 one = alen == V2_INET_LEN ? 4 : 16;

	if (inet_ntop(h->family, a, h->src, PROXY_ADDR_MAX) == NULL ||
	    inet_ntop(h->family, a + one, h->dst, PROXY_ADDR_MAX) == NULL)
		return PROXY_PARSE_BAD;
	h->sport = (uint16_t)(a[2 * one] << 8 | a[2 * one + 1]);
	h->dport = (uint16_t)(a[2 * one + 2] << 8 | a[2 * one + 3]);
	return PROXY_PARSE_DONE;
}

/*
 * Version 2: the signature, version and command, family and transport,
 * the length of the rest, then the addresses and TLVs.  LOCAL (the
 * proxy's own connection, a health check), an unspecified family and a
 * UNIX socket carry no client address: the socket's is used.
 */
static int
parse_v2(const uint8_t *buf, size_t len, struct proxy_hdr *h, size_t *want_r)
{
	size_t	body, alen;
	int	fam, proto;

	if (memcmp(buf, v2_sig, min_size(len, V2_SIG_LEN)) != 0)
		return PROXY_PARSE_BAD;
	if (len < V2_HDR_LEN) {
		*want_r = V2_HDR_LEN - len;
		return PROXY_PARSE_MORE;
	}
	if (buf[12] >> 4 != 2 || (buf[12] & 0x0f) > 1)
		return PROXY_PARSE_BAD;
	body = (size_t)buf[14] << 8 | buf[15];
	if (body > PROXY_V2_LEN_MAX)
		return PROXY_PARSE_BAD;
	if (len < V2_HDR_LEN + body) {
		*want_r = V2_HDR_LEN + body - len;
		return PROXY_PARSE_MORE;
	}
	h->version = 2;
	h->len = V2_HDR_LEN + body;
	h->family = AF_UNSPEC;
	fam = buf[13] >> 4;
	proto = buf[13] & 0x0f;
	if ((buf[12] & 0x0f) == 0 || fam == 0) {
		h->is_local = 1;
		return PROXY_PARSE_DONE;
	}
	if (proto != 1)
		return PROXY_PARSE_BAD;		/* only TCP (stream) */
	if (fam == 1)
		alen = V2_INET_LEN;
	else if (fam == 2)
		alen = V2_INET6_LEN;
	else if (fam == 3)
		alen = V2_UNIX_LEN;
	else
		return PROXY_PARSE_BAD;
	if (body < alen || tlvs_ok(buf + V2_HDR_LEN + alen, body - alen) == -1)
		return PROXY_PARSE_BAD;
	if (fam == 3) {
		h->is_local = 1;
		return PROXY_PARSE_DONE;
	}
	h->family = fam == 1 ? AF_INET : AF_INET6;
	return v2_addresses(buf, alen, h);
}

/*
 * The header at the start of buf: PROXY_PARSE_DONE (h->len is its
 * size, and bytes after it are not looked at), PROXY_PARSE_BAD, or
 * PROXY_PARSE_MORE with *want_r the bytes to read next; never more than
 * the rest of a valid header, so a reader that takes exactly that many
 * never takes a byte of what follows.
 */
int
proxy_parse(const uint8_t *buf, size_t len, struct proxy_hdr *h,
    size_t *want_r)
{
	memset(h, 0, sizeof(*h));
	*want_r = 0;
	if (len < V1_PREFIX_LEN) {
		/* Both versions still possible: the shorter prefix first. */
		if (memcmp(buf, V1_PREFIX, len) != 0 &&
		    memcmp(buf, v2_sig, len) != 0)
			return PROXY_PARSE_BAD;
		*want_r = V1_PREFIX_LEN - len;
		return PROXY_PARSE_MORE;
	}
	if (memcmp(buf, V1_PREFIX, V1_PREFIX_LEN) == 0)
		return parse_v1(buf, len, h, want_r);
	return parse_v2(buf, len, h, want_r);
}

/*
 * Up to want bytes, waiting no later than timeout_ms after start: the
 * count, 0 at the end of the stream, -1 (errno ETIMEDOUT after the
 * deadline).
 */
static ssize_t
read_some(int fd, uint8_t *p, size_t want, const struct timespec *start,
    int timeout_ms)
{
	struct pollfd	pfd;
	struct timespec	now;
	long long	left;
	ssize_t		n;

	for (;;) {
		n = recv(fd, p, want, MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms - ((long long)(now.tv_sec - start->tv_sec) *
		    1000 + (now.tv_nsec - start->tv_nsec) / 1000000);
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
			return -1;
	}
}

/*
 * Read and parse the header on fd within timeout_ms: a proxy_status.
 * Only the header's bytes are consumed.
 */
int
proxy_read(int fd, int timeout_ms, struct proxy_hdr *h)
{
	uint8_t		buf[V2_HDR_LEN + PROXY_V2_LEN_MAX];
	struct timespec	start;
	size_t		len = 0, want;
	ssize_t		n;
	int		rc;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		rc = proxy_parse(buf, len, h, &want);
		if (rc == PROXY_PARSE_BAD)
			return PROXY_HDR_BAD;
		if (rc == PROXY_PARSE_DONE)
			return h->is_local ? PROXY_HDR_LOCAL : PROXY_HDR_OK;
		if (want == 0 || want > sizeof(buf) - len)
			return PROXY_HDR_BAD;
		n = read_some(fd, buf + len, want, &start, timeout_ms);
		if (n == 0 || (n == -1 && errno != ETIMEDOUT))
			return PROXY_HDR_CLOSED;
		if (n == -1)
			return PROXY_HDR_TIMEOUT;
		len += (size_t)n;
	}
}

/* For log lines: what became of the header. */
const char *
proxy_status_text(int st)
{
	switch (st) {
	case PROXY_HDR_OK:
		return "a client address";
	case PROXY_HDR_LOCAL:
		return "no client address (LOCAL or UNKNOWN)";
	case PROXY_HDR_BAD:
		return "not a valid PROXY protocol header";
	case PROXY_HDR_TIMEOUT:
		return "no complete PROXY protocol header in time";
	case PROXY_HDR_CLOSED:
		return "closed before the PROXY protocol header ended";
	default:
		return "unknown";
	}
}
