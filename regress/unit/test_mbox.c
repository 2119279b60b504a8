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
 * Unit tests of spool/mbox.c and spool/uid.c, the spool worker's mailbox
 * engine: message boundaries, the wire form of RETR and TOP and its octet
 * count, X-UIDL and digest UIDs (unique, stable), mbox_compact on a
 * temporary file, and every prefix of a sample mailbox.  Expected wire
 * forms are written out by hand; octet counts are checked against the
 * emitted bytes with the dot-stuffing removed (RFC 1939 11: the size is
 * that of the message, not of its transmission).
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "params.h"
#include "spool.h"

/* Message i's id, in a buffer of the expression's own. */
#define UIDOF(mb, i)	mbox_uid((mb), &(mb)->msgs[i], (char[UID_BUF]){ 0 })
#include "test.h"

#define L(s)		s, sizeof(s) - 1
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define MAXM		6

struct sink {
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
	size_t		 calls;
	size_t		 max_chunk;
	size_t		 fail_at;	/* fail call number N */
};

static int	 sink_fn(void *, const uint8_t *, size_t);
static int	 emit(const struct mbox *, size_t, int64_t, struct sink *);
static size_t	 unstuffed_len(const uint8_t *, size_t);
static int	 wire_ok(const uint8_t *, size_t);
static int	 uids_ok(const struct mbox *);
static int	 is_hex_uid(const char *);
static char	*shown(const char *, size_t);

/* Emit output ----------------------------------------------------------- */

static int
sink_fn(void *arg, const uint8_t *p, size_t n)
{
	struct sink	*s = arg;
	uint8_t		*nb;

	s->calls++;
	if (n > s->max_chunk)
		s->max_chunk = n;
	if (s->fail_at != 0 && s->calls == s->fail_at)
		return -1;
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		if ((nb = realloc(s->buf, s->cap)) == NULL) {
			perror("realloc");
			exit(2);
		}
		s->buf = nb;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

static int
emit(const struct mbox *mb, size_t i, int64_t lines, struct sink *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
	/* Never NULL, even when nothing is emitted: memcmp wants a buffer. */
	if ((s->buf = malloc(1)) == NULL)
		exit(2);
	s->cap = 1;
	return mbox_emit(mb, i, lines, sink_fn, s);
}

/* Length of wire bytes with one leading '.' taken off every line. */
static size_t
unstuffed_len(const uint8_t *p, size_t len)
{
	size_t	i, n = len;
	int	bol = 1;

	for (i = 0; i < len; i++) {
		if (bol && p[i] == '.')
			n--;
		bol = p[i] == '\n';
	}
	return n;
}

/* Every LF is part of a CRLF, and non-empty output ends with CRLF. */
static int
wire_ok(const uint8_t *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return 0;
	return len == 0 || (len >= 2 && p[len - 2] == '\r' &&
	    p[len - 1] == '\n');
}

static int
is_hex_uid(const char *u)
{
	size_t	i;

	for (i = 0; u[i] != '\0'; i++)
		if (!((u[i] >= '0' && u[i] <= '9') ||
		    (u[i] >= 'a' && u[i] <= 'f')))
			return 0;
	return i == 32;
}

/* RFC 1939 7: 1 to 70 characters 0x21-0x7e, unique in the mailbox. */
static int
uids_ok(const struct mbox *mb)
{
	size_t	i, j, n;

	for (i = 0; i < mb->n; i++) {
		n = strlen(UIDOF(mb, i));
		if (n == 0 || n > UID_LEN_MAX)
			return 0;
		for (j = 0; j < n; j++)
			if (UIDOF(mb, i)[j] < 0x21 ||
			    UIDOF(mb, i)[j] > 0x7e)
				return 0;
		for (j = 0; j < i; j++)
			if (strcmp(UIDOF(mb, i), UIDOF(mb, j)) == 0)
				return 0;
	}
	return 1;
}

/* A printable copy of at most 60 bytes (static buffer). */
static char *
shown(const char *p, size_t len)
{
	static char	buf[4][256];
	static int	which;
	char		*b = buf[which++ % 4];
	size_t		 i, k = 0;

	for (i = 0; i < len && k + 8 < sizeof(buf[0]) && i < 60; i++) {
		if (p[i] == '\n')
			k += (size_t)snprintf(b + k, sizeof(buf[0]) - k, "\\n");
		else if (p[i] == '\r')
			k += (size_t)snprintf(b + k, sizeof(buf[0]) - k, "\\r");
		else if ((unsigned char)p[i] < 0x20 ||
		    (unsigned char)p[i] >= 0x7f)
			k += (size_t)snprintf(b + k, sizeof(buf[0]) - k,
			    "\\x%02x", (unsigned char)p[i]);
		else
			b[k++] = p[i];
	}
	if (i < len)
		k += (size_t)snprintf(b + k, sizeof(buf[0]) - k, "...");
	b[k] = '\0';
	return b;
}

/* Run a function in a child; returns its exit status or 128 + signal. */
/* Message boundaries and the RETR wire form ------------------------------ */

struct wire {
	const char	*p;
	size_t		 len;
};

struct parse_case {
	const char	*name;
	const char	*text;
	size_t		 len;
	int		 rc;
	const char	*why;		/* rc -1: text in the reason */
	size_t		 n;
	struct wire	 retr[MAXM];	/* each message as sent */
};

#define W(s)	{ s, sizeof(s) - 1 }

#define FROMERR	"Unable to process From lines"

static const struct parse_case parse_cases[] = {
	{ "empty mailbox", L(""), 0, NULL, 0, { { NULL, 0 } } },
	{ "no From_ line", L("Subject: x\n\nbody\n"), -1, FROMERR, 0,
	    { { NULL, 0 } } },
	{ "lower-case from", L("from a Mon\n\nx\n"), -1, FROMERR, 0,
	    { { NULL, 0 } } },
	{ "\"From\" without a space", L("From\n"), -1, FROMERR, 0,
	    { { NULL, 0 } } },
	{ "\">From \" first", L(">From a\n\nx\n"), -1, FROMERR, 0,
	    { { NULL, 0 } } },
	{ "empty line before the first From_", L("\nFrom a\n\nx\n"), -1,
	    FROMERR, 0, { { NULL, 0 } } },
	{ "four bytes", L("From"), -1, FROMERR, 0, { { NULL, 0 } } },

	{ "one message", L("From a@b Mon Jan  1 00:00:00 2024\n"
	    "Subject: s\n\nbody\n"), 0, NULL, 1,
	    { W("Subject: s\r\n\r\nbody\r\n") } },
	{ "two messages, separator excluded",
	    L("From a Mon\nS: 1\n\nb1\n\nFrom b Tue\nS: 2\n\nb2\n"), 0, NULL,
	    2, { W("S: 1\r\n\r\nb1\r\n"), W("S: 2\r\n\r\nb2\r\n") } },
	{ "From_ in a body without an empty line before it",
	    L("From a\nS: 1\n\nline\nFrom x y\nmore\n"), 0, NULL, 1,
	    { W("S: 1\r\n\r\nline\r\nFrom x y\r\nmore\r\n") } },
	{ "From_ right after the From_ line is a header",
	    L("From a\nFrom b\n\nx\n"), 0, NULL, 1,
	    { W("From b\r\n\r\nx\r\n") } },
	{ "From_ after an empty line splits",
	    L("From a\nS: 1\n\nline\n\nFrom x y\nmore\n"), 0, NULL, 2,
	    { W("S: 1\r\n\r\nline\r\n"), W("more\r\n") } },
	{ ">From stays as it is", L("From a\nS: 1\n\n>From x\n"), 0, NULL, 1,
	    { W("S: 1\r\n\r\n>From x\r\n") } },
	{ "\"Fromage\" after an empty line is body",
	    L("From a\nS: 1\n\nx\n\nFromage\n"), 0, NULL, 1,
	    { W("S: 1\r\n\r\nx\r\n\r\nFromage\r\n") } },
	{ "two empty lines before From_: one is content",
	    L("From a\nS: 1\n\nbody\n\n\nFrom b\nS: 2\n\nb2\n"), 0, NULL, 2,
	    { W("S: 1\r\n\r\nbody\r\n\r\n"), W("S: 2\r\n\r\nb2\r\n") } },
	{ "CRLF input", L("From a\r\nS: 1\r\n\r\nbody\r\n\r\nFrom b\r\n"
	    "S: 2\r\n\r\nb2\r\n"), 0, NULL, 2,
	    { W("S: 1\r\n\r\nbody\r\n"), W("S: 2\r\n\r\nb2\r\n") } },
	{ "mixed CRLF and LF", L("From a\nS: 1\r\n\nbody\r\n\r\nFrom b\n"
	    "S: 2\n\r\nb2\n"), 0, NULL, 2,
	    { W("S: 1\r\n\r\nbody\r\n"), W("S: 2\r\n\r\nb2\r\n") } },
	{ "last message without a final newline",
	    L("From a\nS: 1\n\nbody"), 0, NULL, 1,
	    { W("S: 1\r\n\r\nbody\r\n") } },
	{ "last message ends with an empty line",
	    L("From a\nS: 1\n\nbody\n\n"), 0, NULL, 1,
	    { W("S: 1\r\n\r\nbody\r\n") } },
	{ "dot-stuffing", L("From a\nS: 1\n\n.\n..x\n.y\nz.\n"), 0, NULL, 1,
	    { W("S: 1\r\n\r\n..\r\n...x\r\n..y\r\nz.\r\n") } },
	{ "dot header and dot line without newline",
	    L("From a\n.S: 1\n\n.end"), 0, NULL, 1,
	    { W("..S: 1\r\n\r\n..end\r\n") } },
	{ "headers only", L("From a\nS: 1\nT: 2\n"), 0, NULL, 1,
	    { W("S: 1\r\nT: 2\r\n") } },
	{ "headers only, then a separator",
	    L("From a\nS: 1\n\nFrom b\nS: 2\n"), 0, NULL, 2,
	    { W("S: 1\r\n"), W("S: 2\r\n") } },
	{ "From_ line only", L("From a\n"), 0, NULL, 1, { W("") } },
	{ "From_ line without a newline", L("From a"), 0, NULL, 1, { W("") } },
	{ "\"From \" alone", L("From "), 0, NULL, 1, { W("") } },
	{ "two empty messages", L("From a\n\nFrom b\n"), 0, NULL, 2,
	    { W(""), W("") } },
	{ "no headers, body only", L("From a\n\nbody\n"), 0, NULL, 1,
	    { W("\r\nbody\r\n") } },
	{ "bare CR kept", L("From a\nS: a\rb\n\nbody\r"), 0, NULL, 1,
	    { W("S: a\rb\r\n\r\nbody\r\r\n") } },
	{ "lone CR line is not empty", L("From a\nS\n\r\nx\n\r\rFrom b\n"), 0,
	    NULL, 1, { W("S\r\n\r\nx\r\n\r\rFrom b\r\n") } },
	{ "NUL bytes in a message", L("From a\nS: \0\n\nb\0dy\n"), 0, NULL, 1,
	    { W("S: \0\r\n\r\nb\0dy\r\n") } },
	{ "three messages", L("From a\nA: 1\n\n1\n\nFrom b\nB: 2\n\n2\n\n"
	    "From c\nC: 3\n\n3\n"), 0, NULL, 3,
	    { W("A: 1\r\n\r\n1\r\n"), W("B: 2\r\n\r\n2\r\n"),
	    W("C: 3\r\n\r\n3\r\n") } },
};

static void
test_parse(void)
{
	const struct parse_case	*c;
	struct mbox		 mb;
	struct sink		 s = { 0 };
	const char		*why;
	size_t			 i, j;
	int			 rc, ok;

	for (i = 0; i < NELEM(parse_cases); i++) {
		c = &parse_cases[i];
		why = NULL;
		rc = mbox_parse(&mb, (const uint8_t *)c->text, c->len, &why);
		if (c->rc == -1) {
			CHECK(rc == -1 && why != NULL &&
			    strstr(why, c->why) != NULL,
			    "parse %s: refused with \"%s\"", c->name, c->why);
			mbox_free(&mb);
			continue;
		}
		CHECK(rc == 0 && mb.n == c->n, "parse %s: %zu messages (got "
		    "rc %d, %zu)", c->name, c->n, rc, mb.n);
		if (rc != 0 || mb.n != c->n) {
			mbox_free(&mb);
			continue;
		}
		for (j = 0; j < mb.n; j++) {
			ok = emit(&mb, j, -1, &s) == 0 &&
			    s.len == c->retr[j].len &&
			    memcmp(s.buf, c->retr[j].p, s.len) == 0;
			CHECK(ok, "parse %s: message %zu is \"%s\" "
			    "(got \"%s\")", c->name, j + 1,
			    shown(c->retr[j].p, c->retr[j].len),
			    shown((const char *)s.buf, s.len));
			CHECK(mb.msgs[j].octets == unstuffed_len(s.buf, s.len),
			    "parse %s: message %zu octets %llu = emitted "
			    "unstuffed %zu", c->name, j + 1,
			    (unsigned long long)mb.msgs[j].octets,
			    unstuffed_len(s.buf, s.len));
			CHECK(wire_ok(s.buf, s.len),
			    "parse %s: message %zu is CRLF throughout",
			    c->name, j + 1);
		}
		/* Messages tile the file: each next is the following from. */
		ok = mb.n == 0 || (mb.msgs[0].from == 0 &&
		    mb.msgs[mb.n - 1].next == c->len);
		for (j = 0; j + 1 < mb.n; j++)
			ok = ok && mb.msgs[j].next == mb.msgs[j + 1].from;
		for (j = 0; j < mb.n; j++)
			ok = ok && mb.msgs[j].from < mb.msgs[j].body + 1 &&
			    mb.msgs[j].body <= mb.msgs[j].hdr_end &&
			    mb.msgs[j].hdr_end <= mb.msgs[j].end &&
			    mb.msgs[j].end <= mb.msgs[j].next &&
			    memcmp(c->text + mb.msgs[j].from, "From ", 5) == 0;
		CHECK(ok, "parse %s: offsets ordered and tiling the file",
		    c->name);
		CHECK(uids_ok(&mb), "parse %s: UIDs valid and unique", c->name);
		mbox_free(&mb);
	}
	free(s.buf);
}

/* TOP ------------------------------------------------------------------- */

struct top_case {
	const char	*name;
	const char	*text;
	size_t		 len;
	size_t		 msg;
	int64_t		 lines;
	const char	*want;
};

#define TOPBOX	"From a\nH1: 1\nH2: 2\n\nL1\nL2\n\nL4\n.L5\n\n" \
		"From b\nB: 1\n\nx\n"
#define TOPMSG1	"H1: 1\r\nH2: 2\r\n\r\nL1\r\nL2\r\n\r\nL4\r\n..L5\r\n"

static const struct top_case top_cases[] = {
	{ "TOP 0", L(TOPBOX), 0, 0, "H1: 1\r\nH2: 2\r\n\r\n" },
	{ "TOP 1", L(TOPBOX), 0, 1, "H1: 1\r\nH2: 2\r\n\r\nL1\r\n" },
	{ "TOP 2", L(TOPBOX), 0, 2, "H1: 1\r\nH2: 2\r\n\r\nL1\r\nL2\r\n" },
	{ "TOP 3 (an empty body line counts)", L(TOPBOX), 0, 3,
	    "H1: 1\r\nH2: 2\r\n\r\nL1\r\nL2\r\n\r\n" },
	{ "TOP 5 (all lines, dot-stuffed)", L(TOPBOX), 0, 5, TOPMSG1 },
	{ "TOP 6 (one more than there is)", L(TOPBOX), 0, 6, TOPMSG1 },
	{ "TOP 1000000", L(TOPBOX), 0, 1000000, TOPMSG1 },
	{ "TOP INT32_MAX", L(TOPBOX), 0, INT32_MAX, TOPMSG1 },
	{ "TOP 0 of the last message", L(TOPBOX), 1, 0, "B: 1\r\n\r\n" },
	{ "TOP 9 of the last message", L(TOPBOX), 1, 9, "B: 1\r\n\r\nx\r\n" },
	{ "TOP 0, headers only", L("From a\nS: 1\nT: 2\n"), 0, 0,
	    "S: 1\r\nT: 2\r\n" },
	{ "TOP 3, headers only", L("From a\nS: 1\nT: 2"), 0, 3,
	    "S: 1\r\nT: 2\r\n" },
	{ "TOP 0, headers end at the separator",
	    L("From a\nS: 1\n\nFrom b\n"), 0, 0, "S: 1\r\n" },
	{ "TOP 0, no headers", L("From a\n\nL1\nL2\n"), 0, 0, "\r\n" },
	{ "TOP 1, no headers", L("From a\n\nL1\nL2\n"), 0, 1, "\r\nL1\r\n" },
	{ "TOP 1, CRLF input", L("From a\r\nS: 1\r\n\r\nL1\r\nL2\r\n"), 0, 1,
	    "S: 1\r\n\r\nL1\r\n" },
	{ "TOP 1, last line without newline", L("From a\nS: 1\n\nL1"), 0, 1,
	    "S: 1\r\n\r\nL1\r\n" },
	{ "TOP 0, empty message", L("From a\n"), 0, 0, "" },
	{ "TOP 1, dotted first body line", L("From a\nS: 1\n\n.\nL2\n"), 0, 1,
	    "S: 1\r\n\r\n..\r\n" },
};

static void
test_top(void)
{
	const struct top_case	*c;
	struct mbox		 mb;
	struct sink		 s = { 0 }, r = { 0 };
	const char		*why;
	size_t			 i;
	int			 ok;

	for (i = 0; i < NELEM(top_cases); i++) {
		c = &top_cases[i];
		ok = mbox_parse(&mb, (const uint8_t *)c->text, c->len,
		    &why) == 0 && c->msg < mb.n;
		ok = ok && emit(&mb, c->msg, c->lines, &s) == 0 &&
		    s.len == strlen(c->want) && memcmp(s.buf, c->want,
		    s.len) == 0;
		CHECK(ok, "%s: \"%s\" (got \"%s\")", c->name,
		    shown(c->want, strlen(c->want)),
		    shown((const char *)s.buf, s.len));
		/* TOP never gives more than RETR, and is a prefix of it. */
		if (ok) {
			ok = emit(&mb, c->msg, -1, &r) == 0 && s.len <= r.len &&
			    memcmp(s.buf, r.buf, s.len) == 0;
			CHECK(ok, "%s: a prefix of RETR", c->name);
		}
		mbox_free(&mb);
	}
	free(s.buf);
	free(r.buf);
}

/* Long lines, chunking, and the output callback failing ----------------- */

static void
test_big(void)
{
	struct mbox	 mb;
	struct sink	 s = { 0 };
	const char	*why;
	uint8_t		*box;
	size_t		 len, i, lines = 3000;
	size_t		 longlen = MSG_DATA_CHUNK + MSG_DATA_CHUNK / 2;
	int		 rc;

	/* One line longer than a chunk, then 3000 of "n\n" and ".\n". */
	len = 0;
	box = malloc(16 + longlen + 1 + 2 * lines + 8);
	if (box == NULL)
		exit(2);
	memcpy(box, "From a\nS: 1\n\n", 13);
	len = 13;
	memset(box + len, 'x', longlen);
	len += longlen;
	box[len++] = '\n';
	for (i = 0; i < lines; i++) {
		box[len++] = i % 2 ? '.' : 'n';
		box[len++] = '\n';
	}
	rc = mbox_parse(&mb, box, len, &why);
	CHECK(rc == 0 && mb.n == 1, "big message parses");
	if (rc == 0 && mb.n == 1) {
		rc = emit(&mb, 0, -1, &s);
		CHECK(rc == 0 && s.len == 6 + 2 + longlen + 2 + lines * 3 +
		    lines / 2, "big message: %zu bytes emitted", s.len);
		CHECK(s.max_chunk <= MSG_DATA_CHUNK && s.calls >=
		    s.len / MSG_DATA_CHUNK, "big message: %zu chunks of at "
		    "most MSG_DATA_CHUNK (largest %zu)", s.calls, s.max_chunk);
		CHECK(mb.msgs[0].octets == unstuffed_len(s.buf, s.len) &&
		    wire_ok(s.buf, s.len), "big message: octets match");
		rc = emit(&mb, 0, 1, &s);
		CHECK(rc == 0 && s.len == 6 + 2 + longlen + 2,
		    "big message: TOP 1 gives the long line");

		/* A failing callback stops the emit with -1. */
		free(s.buf);
		memset(&s, 0, sizeof(s));
		s.fail_at = 1;
		rc = mbox_emit(&mb, 0, -1, sink_fn, &s);
		CHECK(rc == -1 && s.calls == 1, "emit: callback fails on the "
		    "first chunk: -1, no more calls (%zu)", s.calls);
		free(s.buf);
		memset(&s, 0, sizeof(s));
		s.fail_at = 2;
		rc = mbox_emit(&mb, 0, -1, sink_fn, &s);
		CHECK(rc == -1 && s.calls == 2, "emit: callback fails on the "
		    "second chunk: -1, no more calls (%zu)", s.calls);
	}
	mbox_free(&mb);
	free(s.buf);
	free(box);
}

/*
 * The wire form of body [p, end) byte by byte, as RFC 1939 has it and as
 * mbox_emit must give it: a "." at a line's start doubled, each line's
 * LF (or CRLF) as CRLF, a CRLF after a last line without one.
 */
static size_t
reference_wire(const uint8_t *p, const uint8_t *end, uint8_t *out)
{
	size_t	n = 0;
	int	start = 1;

	for (; p < end; p++) {
		if (start && *p == '.')
			out[n++] = '.';
		start = *p == '\n';
		if (*p == '\n') {
			if (n == 0 || out[n - 1] != '\r' || p[-1] != '\r')
				out[n++] = '\r';
			out[n++] = '\n';
		} else
			out[n++] = *p;
	}
	if (!start) {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	return n;
}

/*
 * Bodies of random lines, short and long, with dots, CRs and CRLFs at
 * every place around the 64-byte blocks the line finder reads, and of
 * every length near the message's end: mbox_emit gives what the
 * reference gives, byte for byte, also when a line crosses a flush.
 */
static void
test_emit_reference(void)
{
	static const char	 alpha[] = "ab.\r\n\n\n";
	struct mbox		 mb;
	struct sink		 s = { 0 };
	const char		*why;
	uint8_t			*box, *want;
	size_t			 cap = 3 * MSG_DATA_CHUNK, len, body, n, i, k;
	size_t			 bad = 0, trials = 0;
	uint64_t		 r = 0x2545F4914F6CDD1DULL;

	box = malloc(cap + 64);
	want = malloc(2 * cap + 64);
	if (box == NULL || want == NULL)
		exit(2);
	for (k = 0; k < 3000; k++) {
		memcpy(box, "From a\nS: 1\n\n", 13);
		body = 13;
		/* Mostly small; some cross a 128 KiB flush. */
		n = k % 50 == 0 ? MSG_DATA_CHUNK + k : k % 7 == 0 ? 300 + k :
		    k % 1000;
		len = body;
		for (i = 0; i < n; i++) {
			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			/* Runs of text so that lines of 0 to 200 bytes come. */
			if (r % 100 < 97)
				box[len++] = (uint8_t)('c' + r % 20);
			else
				box[len++] = (uint8_t)alpha[(r >> 8) %
				    (sizeof(alpha) - 1)];
		}
		/* No line may start "From " (the parser would split). */
		if (mbox_parse(&mb, box, len, &why) != 0 || mb.n != 1) {
			mbox_free(&mb);
			continue;
		}
		trials++;
		n = reference_wire(box + mb.msgs[0].body, box +
		    mb.msgs[0].end, want);
		if (emit(&mb, 0, -1, &s) != 0 || s.len != n ||
		    memcmp(s.buf, want, n) != 0) {
			if (bad++ == 0)
				fprintf(stderr, "emit differs from the "
				    "reference: body of %zu bytes, %zu emitted, "
				    "%zu wanted\n", mb.msgs[0].end -
				    mb.msgs[0].body, s.len, n);
		}
		mbox_free(&mb);
	}
	CHECK(trials > 2500 && bad == 0, "emit: %zu random bodies the same as "
	    "the byte-by-byte reference (%zu differ)", trials, bad);
	free(s.buf);
	free(box);
	free(want);
}

/* mbox_emit on a message number it does not have is our bug: fatal. */
static struct mbox	 die_mb;

static void
emit_past_end(const void *arg)
{
	(void)arg;
	struct sink	s = { 0 };

	(void)emit(&die_mb, die_mb.n, -1, &s);
}

static void
test_emit_range(void)
{
	char		 err[1024];
	const char	*why;
	int		 st;

	if (mbox_parse(&die_mb, (const uint8_t *)"From a\n\nx\n", 10,
	    &why) != 0)
		exit(2);
	st = test_run_child(emit_past_end, NULL, err, sizeof(err));
	CHECK(st == 1 && strstr(err, "out of range") != NULL,
	    "emit of message n+1 dies (status %d)", st);
	mbox_free(&die_mb);
}

/* UIDs ------------------------------------------------------------------ */

struct uid_case {
	const char	*name;
	const char	*text;
	size_t		 len;
	const char	*uid;		/* NULL: a digest */
};

#define U70	"0123456789abcdefghijklmnopqrstuvwxyz" \
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ!#$%&()*"

static const struct uid_case uid_cases[] = {
	{ "X-UIDL honoured", L("From a\nX-UIDL: abc123\n\nx\n"), "abc123" },
	{ "lower-case x-uidl", L("From a\nx-uidl: abc\n\nx\n"), "abc" },
	{ "no space after the colon", L("From a\nX-UIDL:abc\n\nx\n"), "abc" },
	{ "tabs and spaces around", L("From a\nX-UIDL: \t abc \t\n\nx\n"),
	    "abc" },
	{ "CRLF", L("From a\r\nX-UIDL: abc\r\n\r\nx\r\n"), "abc" },
	{ "after other headers", L("From a\nS: 1\nT: 2\nX-UIDL: q\n\nx\n"),
	    "q" },
	{ "70 characters", L("From a\nX-UIDL: " U70 "\n\nx\n"), U70 },
	{ "punctuation 0x21-0x7e", L("From a\nX-UIDL: !~<>.\"\n\nx\n"),
	    "!~<>.\"" },
	{ "first valid of two", L("From a\nX-UIDL: one\nX-UIDL: two\n\nx\n"),
	    "one" },
	{ "second when the first is invalid",
	    L("From a\nX-UIDL: o ne\nX-UIDL: two\n\nx\n"), "two" },
	{ "headers only, no empty line", L("From a\nX-UIDL: hdr\nS: 1\n"),
	    "hdr" },
	{ "X-UIDL on the last line, no newline", L("From a\nX-UIDL: last"),
	    "last" },

	{ "71 characters", L("From a\nX-UIDL: " U70 "z\n\nx\n"), NULL },
	{ "space inside", L("From a\nX-UIDL: a b\n\nx\n"), NULL },
	{ "DEL inside", L("From a\nX-UIDL: a\x7f" "b\n\nx\n"), NULL },
	{ "control character", L("From a\nX-UIDL: a\x01" "b\n\nx\n"), NULL },
	{ "8-bit bytes", L("From a\nX-UIDL: caf\xc3\xa9\n\nx\n"), NULL },
	{ "NUL inside", L("From a\nX-UIDL: a\0b\n\nx\n"), NULL },
	{ "empty value", L("From a\nX-UIDL: \n\nx\n"), NULL },
	{ "no colon", L("From a\nX-UIDL abc\n\nx\n"), NULL },
	{ "other header name", L("From a\nX-UIDLX: abc\n\nx\n"), NULL },
	{ "in the body", L("From a\nS: 1\n\nX-UIDL: body\n"), NULL },
	{ "after the empty line", L("From a\n\nX-UIDL: body\n"), NULL },
	{ "leading space (continuation)", L("From a\n X-UIDL: c\n\nx\n"),
	    NULL },
};

static void
test_uid_table(void)
{
	const struct uid_case	*c;
	struct mbox		 mb;
	const char		*why;
	size_t			 i;
	int			 ok;

	for (i = 0; i < NELEM(uid_cases); i++) {
		c = &uid_cases[i];
		ok = mbox_parse(&mb, (const uint8_t *)c->text, c->len,
		    &why) == 0 && mb.n == 1;
		if (c->uid != NULL)
			CHECK(ok && strcmp(UIDOF(&mb, 0), c->uid) == 0,
			    "uid %s: \"%s\" (got \"%s\")", c->name, c->uid,
			    ok ? UIDOF(&mb, 0) : "-");
		else
			CHECK(ok && is_hex_uid(UIDOF(&mb, 0)),
			    "uid %s: not used, a digest instead (got \"%s\")",
			    c->name, ok ? UIDOF(&mb, 0) : "-");
		mbox_free(&mb);
	}
}

struct dup_case {
	const char	*name;
	const char	*text;
	size_t		 len;
	size_t		 n;
	const char	*uids[MAXM];	/* NULL: a digest (or digest.N) */
};

#define DUPMSG	"From a Mon\nS: same\n\nbody\n\n"
#define X68	"0123456789012345678901234567890123" \
		"4567890123456789012345678901234567"

static const struct dup_case dup_cases[] = {
	{ "three identical messages", L(DUPMSG DUPMSG DUPMSG), 3,
	    { NULL, NULL, NULL } },
	{ "same headers, different bodies",
	    L("From a\nS: 1\n\nb1\n\nFrom a\nS: 1\n\nb2\n"), 2,
	    { NULL, NULL } },
	{ "X-UIDL repeated three times", L("From a\nX-UIDL: dup\n\n1\n\n"
	    "From b\nX-UIDL: dup\n\n2\n\nFrom c\nX-UIDL: dup\n\n3\n"), 3,
	    { "dup", "dup.2", "dup.3" } },
	{ "X-UIDL repeated, other message between",
	    L("From a\nX-UIDL: d\n\n1\n\nFrom b\nX-UIDL: e\n\n2\n\n"
	    "From c\nX-UIDL: d\n\n3\n"), 3, { "d", "e", "d.2" } },
	{ "suffix collides with a real X-UIDL",
	    L("From a\nX-UIDL: abc\n\n1\n\nFrom b\nX-UIDL: abc\n\n2\n\n"
	    "From c\nX-UIDL: abc.2\n\n3\n"), 3, { "abc", NULL, NULL } },
	{ "70-character X-UIDLs truncated for the suffix",
	    L("From a\nX-UIDL: " X68 "AA\n\n1\n\nFrom b\nX-UIDL: " X68 "AA\n"
	    "\n2\n\nFrom c\nX-UIDL: " X68 "BB\n\n3\n\nFrom d\nX-UIDL: " X68
	    "BB\n\n4\n"), 4, { NULL, NULL, NULL, NULL } },
};

static void
test_uid_dups(void)
{
	const struct dup_case	*c;
	struct mbox		 mb;
	const char		*why;
	size_t			 i, j;
	int			 ok;

	for (i = 0; i < NELEM(dup_cases); i++) {
		c = &dup_cases[i];
		ok = mbox_parse(&mb, (const uint8_t *)c->text, c->len,
		    &why) == 0 && mb.n == c->n;
		CHECK(ok, "dup %s: %zu messages", c->name, c->n);
		if (!ok) {
			mbox_free(&mb);
			continue;
		}
		for (j = 0; j < mb.n; j++)
			if (c->uids[j] != NULL)
				CHECK(strcmp(UIDOF(&mb, j), c->uids[j]) == 0,
				    "dup %s: message %zu uid \"%s\" (got "
				    "\"%s\")", c->name, j + 1, c->uids[j],
				    UIDOF(&mb, j));
		CHECK(uids_ok(&mb), "dup %s: UIDs valid and unique (%s %s %s "
		    "%s)", c->name, UIDOF(&mb, 0), mb.n > 1 ? UIDOF(&mb, 1) :
		    "", mb.n > 2 ? UIDOF(&mb, 2) : "", mb.n > 3 ?
		    UIDOF(&mb, 3) : "");
		mbox_free(&mb);
	}

	/* Digest duplicates: the later ones are the digest with .2, .3. */
	ok = mbox_parse(&mb, (const uint8_t *)DUPMSG DUPMSG DUPMSG,
	    3 * strlen(DUPMSG), &why) == 0 && mb.n == 3;
	if (ok) {
		char	want[UID_LEN_MAX + 1];

		CHECK(is_hex_uid(UIDOF(&mb, 0)), "dup digest: first is bare");
		snprintf(want, sizeof(want), "%s.2", UIDOF(&mb, 0));
		CHECK(strcmp(UIDOF(&mb, 1), want) == 0,
		    "dup digest: second is \"%s\" (got \"%s\")", want,
		    UIDOF(&mb, 1));
		snprintf(want, sizeof(want), "%s.3", UIDOF(&mb, 0));
		CHECK(strcmp(UIDOF(&mb, 2), want) == 0,
		    "dup digest: third is \"%s\" (got \"%s\")", want,
		    UIDOF(&mb, 2));
	} else
		CHECK(0, "dup digest: parse");
	mbox_free(&mb);

	/* The digest is of the From_ line and headers, not of the body. */
	{
		static const char	a[] = "From x\nS: 1\n\nbody A\n";
		static const char	b[] = "From x\nS: 1\n\nbody B, long\n";
		static const char	d[] = "From y\nS: 1\n\nbody A\n";
		static const char	h[] = "From x\nS: 2\n\nbody A\n";
		char			 ua[UID_LEN_MAX + 1];
		struct mbox		 m2;

		ok = mbox_parse(&mb, (const uint8_t *)a, sizeof(a) - 1,
		    &why) == 0;
		snprintf(ua, sizeof(ua), "%s", ok ? UIDOF(&mb, 0) : "");
		mbox_free(&mb);
		ok = ok && mbox_parse(&m2, (const uint8_t *)b, sizeof(b) - 1,
		    &why) == 0;
		CHECK(ok && strcmp(UIDOF(&m2, 0), ua) == 0,
		    "digest ignores the body");
		mbox_free(&m2);
		ok = mbox_parse(&m2, (const uint8_t *)d, sizeof(d) - 1,
		    &why) == 0;
		CHECK(ok && strcmp(UIDOF(&m2, 0), ua) != 0,
		    "digest covers the From_ line");
		mbox_free(&m2);
		ok = mbox_parse(&m2, (const uint8_t *)h, sizeof(h) - 1,
		    &why) == 0;
		CHECK(ok && strcmp(UIDOF(&m2, 0), ua) != 0,
		    "digest covers the headers");
		mbox_free(&m2);
	}
}

/* Too many messages: SPOOL_MSGS_MAX passes, one more is refused. */
static void
test_msgs_max(void)
{
	static const char	 one[] = "From \n\n";
	const size_t		 ol = sizeof(one) - 1;
	struct mbox		 mb;
	const char		*why;
	uint8_t			*box;
	size_t			 i, n = (size_t)SPOOL_MSGS_MAX + 1;
	int			 rc;

	if ((box = malloc(n * ol)) == NULL)
		exit(2);
	for (i = 0; i < n; i++)
		memcpy(box + i * ol, one, ol);
	rc = mbox_parse(&mb, box, (n - 1) * ol, &why);
	CHECK(rc == 0 && mb.n == SPOOL_MSGS_MAX, "SPOOL_MSGS_MAX messages "
	    "parse (rc %d, n %zu)", rc, mb.n);
	mbox_free(&mb);
	why = NULL;
	rc = mbox_parse(&mb, box, n * ol, &why);
	CHECK(rc == -1 && why != NULL && strstr(why, "Too many") != NULL,
	    "SPOOL_MSGS_MAX + 1 messages refused (rc %d, n %zu)", rc, mb.n);
	mbox_free(&mb);
	free(box);
}

/* mbox_compact on a temporary file --------------------------------------- */

#define M1	"From a Mon\nSubject: one\nX-UIDL: uid-one\n\nbody one\n\n"
#define M2	"From b Tue\nSubject: two\n\nbody two\n.dot\n\n"
#define M3	"From c Wed\nSubject: three\n\nbody three\n\n"
#define M4	"From d Thu\nSubject: four\n\nbody four\n\n"
#define NEWMAIL	"From e Fri\nSubject: new\n\nnew mail\n\n"

static const char	*const parts[] = { M1, M2, M3, M4 };

struct compact_case {
	const char	*name;
	unsigned int	 del;		/* bit i: delete message i+1 */
	const char	*appended;	/* delivered meanwhile */
};

static const struct compact_case compact_cases[] = {
	{ "delete none", 0x0, "" },
	{ "delete the first", 0x1, "" },
	{ "delete the second", 0x2, "" },
	{ "delete the last", 0x8, "" },
	{ "delete first and last", 0x9, "" },
	{ "delete the middle two", 0x6, "" },
	{ "delete all", 0xf, "" },
	{ "delete none, new mail", 0x0, NEWMAIL },
	{ "delete the first, new mail", 0x1, NEWMAIL },
	{ "delete the middle, new mail", 0x4, NEWMAIL },
	{ "delete the last, new mail", 0x8, NEWMAIL },
	{ "delete all, new mail", 0xf, NEWMAIL },
	{ "delete alternate, two new mails", 0x5, NEWMAIL NEWMAIL },
};

static int	 make_file(const char *, size_t, char *, size_t);
static int	 new_journal(void);
static char	*read_file(int, size_t *);
static uint8_t	*map_file(int, size_t);

static int
make_file(const char *p, size_t len, char *path, size_t pathlen)
{
	const char	*tmp = getenv("TMPDIR");
	int		 fd;

	snprintf(path, pathlen, "%s/popsep-mbox.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if ((fd = mkstemp(path)) == -1) {
		perror("mkstemp");
		exit(2);
	}
	if (write(fd, p, len) != (ssize_t)len) {
		perror("write");
		exit(2);
	}
	return fd;
}

/* An empty update journal, as the monitor hands one to the worker. */
static int
new_journal(void)
{
	char	path[256];
	int	fd;

	fd = make_file("", 0, path, sizeof(path));
	unlink(path);
	return fd;
}

static char *
read_file(int fd, size_t *len_r)
{
	struct stat	 st;
	char		*b;

	if (fstat(fd, &st) == -1 || (b = malloc((size_t)st.st_size + 1)) ==
	    NULL)
		exit(2);
	if (pread(fd, b, (size_t)st.st_size, 0) != st.st_size)
		exit(2);
	*len_r = (size_t)st.st_size;
	return b;
}

/* The spool worker parses a shared read-only mapping of the mailbox. */
static uint8_t *
map_file(int fd, size_t len)
{
	void	*p;

	if ((p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0)) ==
	    MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

static void
test_compact(void)
{
	const struct compact_case	*c;
	struct mbox			 mb, mb2;
	char				 orig[1024], want[2048], path[1024];
	char				 uids[4][UID_LEN_MAX + 1];
	char				*got;
	uint8_t				*map;
	const char			*why;
	size_t				 i, j, k, olen, wlen, glen;
	uint64_t			 newsize;
	int				 fd, jfd, rc, ok;

	olen = 0;
	for (j = 0; j < NELEM(parts); j++) {
		memcpy(orig + olen, parts[j], strlen(parts[j]));
		olen += strlen(parts[j]);
	}
	for (i = 0; i < NELEM(compact_cases); i++) {
		c = &compact_cases[i];
		fd = make_file(orig, olen, path, sizeof(path));
		map = map_file(fd, olen);
		if (mbox_parse(&mb, map, olen, &why) != 0 ||
		    mb.n != NELEM(parts)) {
			CHECK(0, "compact %s: parse", c->name);
			goto next;
		}
		for (j = 0; j < mb.n; j++) {
			mbox_mark_deleted(&mb, j, (c->del >> j) & 1);
			strlcpy(uids[j], UIDOF(&mb, j), sizeof(uids[j]));
		}
		if (write(fd, c->appended, strlen(c->appended)) !=
		    (ssize_t)strlen(c->appended))
			exit(2);
		wlen = 0;
		for (j = 0; j < NELEM(parts); j++)
			if (!((c->del >> j) & 1)) {
				memcpy(want + wlen, parts[j], strlen(parts[j]));
				wlen += strlen(parts[j]);
			}
		memcpy(want + wlen, c->appended, strlen(c->appended));
		wlen += strlen(c->appended);

		why = NULL;
		jfd = new_journal();
		rc = mbox_compact(&mb, fd, jfd, olen + strlen(c->appended),
		    &newsize, &why);
		/* Nothing kept after the first deleted one: a truncate. */
		for (j = 0; j < NELEM(parts) && !((c->del >> j) & 1); j++)
			;
		k = j < NELEM(parts) && c->appended[0] == '\0' &&
		    (c->del >> j) == (1U << (NELEM(parts) - j)) - 1;
		CHECK((lseek(jfd, 0, SEEK_END) == 0) == (k || c->del == 0),
		    "compact %s: %s", c->name, k || c->del == 0 ?
		    "no journal written" : "the journal holds the update");
		close(jfd);
		got = read_file(fd, &glen);
		ok = rc == 0 && newsize == wlen && glen == wlen &&
		    memcmp(got, want, wlen) == 0;
		CHECK(ok, "compact %s: file holds the kept messages, then the "
		    "new mail (rc %d, size %llu, want %zu, why %s)", c->name,
		    rc, (unsigned long long)newsize, wlen, why ? why : "-");

		/* Reparse: the kept messages, same content, same UIDs. */
		if (ok) {
			ok = mbox_parse(&mb2, (const uint8_t *)got, glen,
			    &why) == 0;
			k = 0;
			for (j = 0; ok && j < NELEM(parts); j++) {
				if ((c->del >> j) & 1)
					continue;
				ok = k < mb2.n &&
				    strcmp(UIDOF(&mb2, k), uids[j]) == 0 &&
				    mb2.msgs[k].octets == mb.msgs[j].octets;
				k++;
			}
			/* The new mail follows, and is new to the client. */
			for (; ok && k < mb2.n; k++)
				for (j = 0; ok && j < NELEM(parts); j++)
					ok = (c->del >> j) & 1 ||
					    strcmp(UIDOF(&mb2, k),
					    uids[j]) != 0;
			CHECK(ok, "compact %s: reparse keeps UIDs and sizes of "
			    "the kept messages", c->name);
			mbox_free(&mb2);
		}
		free(got);
 next:
		/* The file may now be shorter than the map: touch it no more. */
		mbox_free(&mb);
		munmap(map, olen);
		close(fd);
		unlink(path);
	}
}

struct refuse_case {
	const char	*name;
	const char	*prefix;	/* written before the original */
	size_t		 cut;		/* bytes cut off the end */
	size_t		 at;		/* then at this offset ... */
	const char	*patch;		/* ... these bytes written over */
	unsigned int	 del;
	const char	*why;		/* NULL: compaction goes ahead */
};

#define M1LEN	(sizeof(M1) - 1)
#define M2LEN	(sizeof(M2) - 1)
#define M3LEN	(sizeof(M3) - 1)

static const struct refuse_case refuse_cases[] = {
	{ "file shrank by one byte", "", 1, 0, "", 0x1, "shrank" },
	{ "file shrank by a message", "", sizeof(M4) - 1, 0, "", 0x2,
	    "shrank" },
	{ "a byte inserted at the start", "X", 0, 0, "", 0x1, "changed" },
	{ "a line inserted at the start, delete the last", "S: x\n", 0, 0, "",
	    0x8, "changed" },
	{ "a message inserted at the start", M3, 0, 0, "", 0x2, "changed" },
	{ "a deleted message rewritten, same length", "", 0, M1LEN + 11,
	    "Subject: TWO", 0x2, "changed" },
	{ "a kept message after it rewritten", "", 0, M1LEN + M2LEN + 20,
	    "THREE", 0x2, "changed" },
	{ "the last message rewritten", "", 0, M1LEN + M2LEN + M3LEN + 26,
	    "BODY", 0x1, "changed" },
	/*
	 * Every boundary where it was: nothing can be cut wrongly, and the
	 * bytes changed in place are moved as they are now.
	 */
	{ "From_ lines in place, a kept body changed", "", 0, M1LEN + 25,
	    "BODY", 0x1, NULL },
	/* Bytes before the first deleted message are not moved: kept. */
	{ "a kept message before the first deleted one rewritten", "", 0, 24,
	    "X-UIDL: uid-0ne", 0x2, NULL },
};

static void
test_compact_refuse(void)
{
	const struct refuse_case	*c;
	struct mbox			 mb;
	char				 orig[1024], now[2048], want[2048];
	char				 path[1024], *got;
	uint8_t				*map;
	const char			*why;
	size_t				 i, j, olen, nlen, wlen, glen;
	uint64_t			 newsize;
	int				 fd, jfd, rc;

	olen = 0;
	for (j = 0; j < NELEM(parts); j++) {
		memcpy(orig + olen, parts[j], strlen(parts[j]));
		olen += strlen(parts[j]);
	}
	for (i = 0; i < NELEM(refuse_cases); i++) {
		c = &refuse_cases[i];
		fd = make_file(orig, olen, path, sizeof(path));
		map = map_file(fd, olen);
		if (mbox_parse(&mb, map, olen, &why) != 0)
			exit(2);
		for (j = 0; j < mb.n; j++)
			mbox_mark_deleted(&mb, j, (c->del >> j) & 1);
		/* The file as another program left it, under the same map. */
		nlen = strlen(c->prefix);
		memcpy(now, c->prefix, nlen);
		memcpy(now + nlen, orig, olen - c->cut);
		nlen += olen - c->cut;
		memcpy(now + c->at, c->patch, strlen(c->patch));
		if (pwrite(fd, now, nlen, 0) != (ssize_t)nlen ||
		    ftruncate(fd, (off_t)nlen) == -1)
			exit(2);
		why = NULL;
		newsize = 12345;
		jfd = new_journal();
		rc = mbox_compact(&mb, fd, jfd, nlen, &newsize, &why);
		close(jfd);
		got = read_file(fd, &glen);
		if (c->why != NULL)
			CHECK(rc == -1 && why != NULL &&
			    strstr(why, c->why) != NULL && glen == nlen &&
			    memcmp(got, now, nlen) == 0, "compact refuses: %s "
			    "(\"%s\"), file unchanged (rc %d, why %s)", c->name,
			    c->why, rc, why ? why : "-");
		else {
			/* What is there now, less the deleted messages. */
			wlen = 0;
			for (j = 0; j < mb.n; j++)
				if (!mbox_deleted(&mb, j)) {
					memcpy(want + wlen, now +
					    mb.msgs[j].from, mb.msgs[j].next -
					    mb.msgs[j].from);
					wlen += mb.msgs[j].next -
					    mb.msgs[j].from;
				}
			CHECK(rc == 0 && newsize == wlen && glen == wlen &&
			    memcmp(got, want, wlen) == 0, "compact goes ahead: "
			    "%s (rc %d, why %s)", c->name, rc, why ? why : "-");
		}
		free(got);
		mbox_free(&mb);
		munmap(map, olen);
		close(fd);
		unlink(path);
	}
}

/* UIDs survive new mail appended after them. */
static void
test_uid_append(void)
{
	static const char	 box[] = M1 M2 M3 NEWMAIL;
	struct mbox		 a, b;
	const char		*why;
	size_t			 i;
	int			 ok;

	ok = mbox_parse(&a, (const uint8_t *)box, sizeof(box) - 1 -
	    strlen(NEWMAIL), &why) == 0 && a.n == 3;
	ok = ok && mbox_parse(&b, (const uint8_t *)box, sizeof(box) - 1,
	    &why) == 0 && b.n == 4;
	for (i = 0; ok && i < 3; i++)
		ok = strcmp(UIDOF(&a, i), UIDOF(&b, i)) == 0 &&
		    a.msgs[i].octets == b.msgs[i].octets;
	CHECK(ok, "UIDs and sizes unchanged by new mail appended");
	CHECK(ok && strcmp(UIDOF(&a, 0), "uid-one") == 0,
	    "X-UIDL of message 1 used");
	mbox_free(&a);
	mbox_free(&b);
}

/* Every prefix of a sample mailbox ---------------------------------------- */

static const char sample[] =
    "From alice@example.org Mon Jan  1 00:00:00 2024\n"
    "Subject: first\r\n"
    "X-UIDL: first-uid\n"
    "\n"
    "Body line\n"
    ".dotted\n"
    "From inside body\n"
    "\r\n"
    "\n"
    "From bob Tue\r\n"
    "Subject: crlf\r\n"
    "\r\n"
    "..two dots\r\n"
    "\n"
    "From carol Wed\n"
    "H: only headers\n"
    "\n"
    "From dave Thu\n"
    "\n"
    "\n"
    "From eve Fri\n"
    "S: x\n"
    "\n"
    "tail without newline\r";

static void
test_prefixes(void)
{
	struct mbox	 full, mb;
	struct sink	 s = { 0 };
	const char	*why;
	size_t		 k, j, q, size = sizeof(sample) - 1;
	size_t		 bad = 0, badk = 0;
	size_t		 boundaries = 0;
	int		 rc, ok;

	rc = mbox_parse(&full, (const uint8_t *)sample, size, &why);
	CHECK(rc == 0 && full.n == 5, "sample mailbox: 5 messages (got %zu)",
	    full.n);
	if (rc != 0)
		return;
	for (k = 0; k <= size; k++) {
		/* A private copy of exactly k bytes, so ASan sees overreads. */
		uint8_t	*p = malloc(k ? k : 1);

		if (p == NULL)
			exit(2);
		memcpy(p, sample, k);
		why = NULL;
		rc = mbox_parse(&mb, p, k, &why);
		ok = (k == 0 || k >= 5) ? rc == 0 : rc == -1;
		if (rc == 0) {
			for (j = 0; ok && j < mb.n; j++) {
				ok = emit(&mb, j, -1, &s) == 0 &&
				    mb.msgs[j].octets ==
				    unstuffed_len(s.buf, s.len) &&
				    wire_ok(s.buf, s.len) &&
				    mb.msgs[j].next <= k &&
				    (j == 0 || mb.msgs[j].from ==
				    mb.msgs[j - 1].next);
				ok = ok && emit(&mb, j, 0, &s) == 0 &&
				    wire_ok(s.buf, s.len);
			}
			ok = ok && uids_ok(&mb) &&
			    (mb.n == 0 || mb.msgs[mb.n - 1].next == k);
			/* At a message boundary: the earlier messages whole. */
			for (j = 1; ok && j < full.n; j++) {
				if (k != full.msgs[j].from)
					continue;
				boundaries++;
				ok = mb.n == j;
				for (q = 0; ok && q < j; q++)
					ok = mb.msgs[q].octets ==
					    full.msgs[q].octets &&
					    strcmp(UIDOF(&mb, q),
					    UIDOF(&full, q)) == 0;
			}
		}
		if (!ok && bad++ == 0)
			badk = k;
		mbox_free(&mb);
		free(p);
	}
	CHECK(bad == 0, "every prefix of the sample parses consistently "
	    "(%zu bad, first at %zu bytes)", bad, badk);
	CHECK(boundaries == full.n - 1, "prefix check saw %zu message "
	    "boundaries", boundaries);
	mbox_free(&full);
	free(s.buf);
}

int
main(void)
{
	log_init(1, LOG_DAEMON);
	log_procname("test_mbox");

	test_parse();
	test_top();
	test_big();
	test_emit_reference();
	test_emit_range();
	test_uid_table();
	test_uid_dups();
	test_uid_append();
	test_compact();
	test_compact_refuse();
	test_prefixes();
	test_msgs_max();
	TEST_EXIT();
}
