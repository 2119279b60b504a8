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
 * Unit tests of net/proxy.c: version 1 and version 2 headers that must
 * be accepted (with the address, port and size they yield) and those that
 * must be refused, side by side; that a header fed byte by byte, as the
 * reader takes it, gives the same answer and never asks for a byte past
 * its end; and proxy_read() on a socket, which must leave the bytes after
 * the header for the POP3 stream and report a peer that stops.
 */

#include <sys/socket.h>

#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proxy.h"
#include "test.h"

#define SIG	"\r\n\r\n\0\r\nQUIT\n"
#define B(s)	(const uint8_t *)(s), sizeof(s) - 1

struct pcase {
	const char	*name;
	const uint8_t	*in;
	size_t		 len;
	int		 rc;		/* proxy_parse's answer */
	int		 is_local;
	const char	*src;
	uint16_t	 sport;
	size_t		 hlen;		/* header bytes */
};

static const struct pcase cases[] = {
	{ "v1-tcp4", B("PROXY TCP4 127.0.0.4 127.0.0.2 47800 1110\r\nUSER"),
	    PROXY_PARSE_DONE, 0, "127.0.0.4", 47800, 43 },
	{ "v1-tcp6", B("PROXY TCP6 2001:db8::0:1 ::1 1 65535\r\n"),
	    PROXY_PARSE_DONE, 0, "2001:db8::1", 1, 38 },
	{ "v1-port-0", B("PROXY TCP4 1.2.3.4 5.6.7.8 0 0\r\n"),
	    PROXY_PARSE_DONE, 0, "1.2.3.4", 0, 32 },
	{ "v1-unknown", B("PROXY UNKNOWN\r\n"), PROXY_PARSE_DONE, 1, "", 0,
	    15 },
	{ "v1-unknown-rest", B("PROXY UNKNOWN ffff::1 ::1 1 2\r\nX"),
	    PROXY_PARSE_DONE, 1, "", 0, 31 },
	{ "v1-partial", B("PROXY TCP4 127.0.0.4 127.0"), PROXY_PARSE_MORE,
	    0, "", 0, 0 },
	{ "v1-lf-only", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v1-two-spaces", B("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v1-short-addr", B("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v1-v6-as-v4", B("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v1-v4-as-v6", B("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v1-port-big", B("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v1-port-zero-lead", B("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v1-port-sign", B("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v1-extra-field", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v1-missing-field", B("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v1-udp", B("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v1-lower-case", B("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v1-nul", B("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v1-leading-zero-addr", B("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "pop3-command", B("USER alice\r\n"), PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "tls-hello", B("\x16\x03\x01\x02\x00\x01"), PROXY_PARSE_BAD, 0, "",
	    0, 0 },
	{ "v2-tcp4", B(SIG "\x21\x11\x00\x0c\x7f\x00\x00\x04\x7f\x00\x00\x02"
	    "\xba\xb8\x04\x56" "USER"), PROXY_PARSE_DONE, 0, "127.0.0.4",
	    47800, 28 },
	{ "v2-tcp6", B(SIG "\x21\x21\x00\x24"
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x05"
	    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01" "\x00\x50\x04\x56"),
	    PROXY_PARSE_DONE, 0, "2001:db8::5", 80, 52 },
	{ "v2-tcp4-tlvs", B(SIG "\x21\x11\x00\x16\x0a\x00\x00\x01\x0a\x00"
	    "\x00\x02\x00\x01\x00\x02" "\x04\x00\x00" "\x01\x00\x04h2xy"),
	    PROXY_PARSE_DONE, 0, "10.0.0.1", 1, 38 },
	{ "v2-local", B(SIG "\x20\x00\x00\x00+OK"), PROXY_PARSE_DONE, 1, "",
	    0, 16 },
	{ "v2-local-with-body", B(SIG "\x20\x11\x00\x0c\x7f\x00\x00\x04\x7f"
	    "\x00\x00\x02\xba\xb8\x04\x56"), PROXY_PARSE_DONE, 1, "", 0, 28 },
	{ "v2-unspec", B(SIG "\x21\x00\x00\x00"), PROXY_PARSE_DONE, 1, "", 0,
	    16 },
	{ "v2-partial-sig", B(SIG "\x21"), PROXY_PARSE_MORE, 0, "", 0, 0 },
	{ "v2-partial-body", B(SIG "\x21\x11\x00\x0c\x7f\x00"),
	    PROXY_PARSE_MORE, 0, "", 0, 0 },
	{ "v2-bad-sig", B("\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x00"),
	    PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v2-version-1", B(SIG "\x11\x11\x00\x0c\x7f\x00\x00\x04\x7f\x00"
	    "\x00\x02\xba\xb8\x04\x56"), PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v2-command-2", B(SIG "\x22\x11\x00\x0c\x7f\x00\x00\x04\x7f\x00"
	    "\x00\x02\xba\xb8\x04\x56"), PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v2-udp", B(SIG "\x21\x12\x00\x0c\x7f\x00\x00\x04\x7f\x00\x00\x02"
	    "\xba\xb8\x04\x56"), PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v2-family-4", B(SIG "\x21\x41\x00\x0c\x7f\x00\x00\x04\x7f\x00"
	    "\x00\x02\xba\xb8\x04\x56"), PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v2-inet-short", B(SIG "\x21\x11\x00\x08\x7f\x00\x00\x04\x7f\x00"
	    "\x00\x02"), PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v2-inet6-short", B(SIG "\x21\x21\x00\x0c\x7f\x00\x00\x04\x7f\x00"
	    "\x00\x02\xba\xb8\x04\x56"), PROXY_PARSE_BAD, 0, "", 0, 0 },
	{ "v2-tlv-overrun", B(SIG "\x21\x11\x00\x10\x0a\x00\x00\x01\x0a\x00"
	    "\x00\x02\x00\x01\x00\x02" "\x04\x00\x05\x00"), PROXY_PARSE_BAD,
	    0, "", 0, 0 },
	{ "v2-tlv-stray-byte", B(SIG "\x21\x11\x00\x0d\x0a\x00\x00\x01\x0a"
	    "\x00\x00\x02\x00\x01\x00\x02" "\x04"), PROXY_PARSE_BAD, 0, "", 0,
	    0 },
	{ "v2-too-long", B(SIG "\x21\x11\x02\x01"), PROXY_PARSE_BAD, 0, "",
	    0, 0 },
};

/* Fed as proxy_read feeds it: exactly the bytes asked for, each time. */
static int
parse_stepwise(const struct pcase *c, struct proxy_hdr *h, int *overread)
{
	size_t	len = 0, want = 0;
	int	rc;

	*overread = 0;
	for (;;) {
		rc = proxy_parse(c->in, len, h, &want);
		if (rc != PROXY_PARSE_MORE)
			return rc;
		if (want == 0)
			return -2;
		if (len + want > c->len)
			return PROXY_PARSE_MORE;	/* input ends first */
		len += want;
		if (c->hlen > 0 && len > c->hlen)
			*overread = 1;
	}
}

static void
test_cases(void)
{
	const struct pcase	*c;
	struct proxy_hdr	 h;
	size_t			 i, want;
	int			 rc, over;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		rc = proxy_parse(c->in, c->len, &h, &want);
		CHECK(rc == c->rc, "parse-%s", c->name);
		if (rc == PROXY_PARSE_DONE && c->rc == PROXY_PARSE_DONE)
			CHECK(h.is_local == c->is_local &&
			    strcmp(h.src, c->src) == 0 && h.sport == c->sport &&
			    h.len == c->hlen, "fields-%s", c->name);
		if (rc == PROXY_PARSE_MORE)
			CHECK(want > 0, "wants-more-%s", c->name);
		rc = parse_stepwise(c, &h, &over);
		CHECK(rc == c->rc && !over, "stepwise-%s", c->name);
	}
}

/* The longest line is accepted, one byte more is not. */
static void
test_v1_limit(void)
{
	char			 line[PROXY_V1_MAX + 2];
	struct proxy_hdr	 h;
	size_t			 want, n;

	n = (size_t)snprintf(line, sizeof(line), "PROXY UNKNOWN ");
	memset(line + n, 'x', sizeof(line) - n);
	line[PROXY_V1_MAX - 2] = '\r';
	line[PROXY_V1_MAX - 1] = '\n';
	CHECK(proxy_parse((uint8_t *)line, PROXY_V1_MAX, &h, &want) ==
	    PROXY_PARSE_DONE && h.len == PROXY_V1_MAX, "v1-107-bytes");
	line[PROXY_V1_MAX - 2] = 'x';
	line[PROXY_V1_MAX - 1] = '\r';
	line[PROXY_V1_MAX] = '\n';
	CHECK(proxy_parse((uint8_t *)line, PROXY_V1_MAX + 1, &h, &want) ==
	    PROXY_PARSE_BAD, "v1-108-bytes-refused");
	CHECK(proxy_parse((uint8_t *)line, PROXY_V1_MAX, &h, &want) ==
	    PROXY_PARSE_BAD, "v1-107-bytes-without-end-refused");
}

static void
test_v2_limit(void)
{
	uint8_t			 buf[16 + PROXY_V2_LEN_MAX];
	struct proxy_hdr	 h;
	size_t			 want, tlv = PROXY_V2_LEN_MAX - 12 - 3;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, SIG "\x21\x11", 14);
	buf[14] = PROXY_V2_LEN_MAX >> 8;
	buf[15] = PROXY_V2_LEN_MAX & 0xff;
	buf[28] = 0x04;
	buf[29] = (uint8_t)(tlv >> 8);
	buf[30] = (uint8_t)(tlv & 0xff);
	CHECK(proxy_parse(buf, sizeof(buf), &h, &want) == PROXY_PARSE_DONE &&
	    h.len == sizeof(buf), "v2-longest-accepted");
	buf[15]++;
	CHECK(proxy_parse(buf, 16, &h, &want) == PROXY_PARSE_BAD,
	    "v2-one-more-refused");
}

/* proxy_read on a socket: the POP3 bytes after the header stay unread. */
static void
test_read(void)
{
	static const char	 v1[] = "PROXY TCP4 127.0.0.4 127.0.0.2 1 2\r\n";
	struct proxy_hdr	 h;
	char			 rest[64];
	ssize_t			 n;
	int			 sv[2], st;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		perror("socketpair");
		exit(2);
	}
	if (write(sv[1], v1, sizeof(v1) - 1) == -1 ||
	    write(sv[1], "CAPA\r\n", 6) == -1)
		exit(2);
	st = proxy_read(sv[0], 2000, &h);
	CHECK(st == PROXY_HDR_OK && strcmp(h.src, "127.0.0.4") == 0,
	    "read-v1");
	n = read(sv[0], rest, sizeof(rest));
	CHECK(n == 6 && memcmp(rest, "CAPA\r\n", 6) == 0,
	    "read-leaves-the-stream");
	/* Part of a header, then nothing: the deadline ends the wait. */
	if (write(sv[1], "PROXY TCP4 ", 11) == -1)
		exit(2);
	st = proxy_read(sv[0], 100, &h);
	CHECK(st == PROXY_HDR_TIMEOUT, "read-timeout");
	close(sv[1]);
	close(sv[0]);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		perror("socketpair");
		exit(2);
	}
	if (write(sv[1], "PROXY TCP4 1.2", 14) == -1)
		exit(2);
	close(sv[1]);
	st = proxy_read(sv[0], 2000, &h);
	CHECK(st == PROXY_HDR_CLOSED, "read-closed");
	close(sv[0]);
}

int
main(void)
{
	test_cases();
	test_v1_limit();
	test_v2_limit();
	test_read();
	TEST_EXIT();
}
