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
 * Unit tests of spool/mbox_parse.c, the spool worker's mbox parser, by
 * what it promises the rest of the worker: for every case, the bytes on
 * disk of each message ([from, next), what an update keeps or removes
 * whole) and the message as RETR sends it, both written out by hand, and
 * the bytes before the first served message (c-client's pseudo message,
 * hidden).  Every parse is also checked against the output contract: the
 * ranges tile the file from the first served message to the end, body <=
 * hdr_end <= end <= next, the octet count is what mbox_emit sends without
 * the dot-stuffing, UIDs are valid and unique, and a refused mailbox has
 * no message at all.  Valid and invalid inputs sit side by side.
 */

#include <sys/types.h>
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "params.h"
#include "spool.h"

/* Message i's id, in a buffer of the expression's own. */
#define UIDOF(mb, i)	mbox_uid((mb), &(mb)->msgs[i], (char[UID_BUF]){ 0 })
#include "test.h"

#define L(s)		s, sizeof(s) - 1
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define MAXM		6
#define FROMERR		"Unable to process From lines (envelope), change " \
			"recognition modes"

struct sink {
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
};

struct pcase;

static int	 sink_fn(void *, const uint8_t *, size_t);
static int	 emit(const struct mbox *, size_t, int64_t, struct sink *);
static size_t	 unstuffed_len(const uint8_t *, size_t);
static int	 wire_ok(const uint8_t *, size_t);
static const char *contract(const struct mbox *, size_t);
static char	*shown(const char *, size_t);
static void	 run_case(const char *, const struct pcase *, int,
		    const char *, size_t);

/* Helpers ---------------------------------------------------------------- */

static int
sink_fn(void *arg, const uint8_t *p, size_t n)
{
	struct sink	*s = arg;
	uint8_t		*nb;

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
	s->len = 0;
	/* Never NULL, even when nothing is emitted: memcmp wants a buffer. */
	if (s->buf == NULL) {
		if ((s->buf = malloc(1)) == NULL)
			exit(2);
		s->cap = 1;
	}
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

/*
 * The output contract of a successful parse of a file of len bytes: NULL
 * if it holds, else what broke.
 */
static const char *
contract(const struct mbox *mb, size_t len)
{
	static struct sink	 s;
	const struct mbox_msg	*m;
	char			 uid[UID_BUF];
	uint64_t		 at = 0;
	size_t			 i, j, ul;

	if (mb->size != len)
		return "size is not the file's";
	if (mb->start > len || (mb->start > 0) != (mb->hidden == 1) ||
	    mb->hidden > 1)
		return "start and hidden disagree";
	at = mb->start;
	for (i = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		if (m->from != at)
			return "a gap or an overlap before a message";
		if (!(m->from <= m->body && m->body <= m->hdr_end &&
		    m->hdr_end <= m->end && m->end <= m->next &&
		    m->next <= len))
			return "offsets out of order";
		if (m->from == m->next && m->next != len)
			return "an empty range before the end";
		at = m->next;
		if (emit(mb, i, -1, &s) != 0 || !wire_ok(s.buf, s.len))
			return "RETR not CRLF throughout";
		if (m->octets != unstuffed_len(s.buf, s.len))
			return "octets differ from what RETR sends";
		mbox_uid(mb, m, uid);
		ul = strlen(uid);
		if (ul == 0 || ul > UID_LEN_MAX)
			return "UID length";
		for (j = 0; j < ul; j++)
			if (uid[j] < 0x21 || uid[j] > 0x7e)
				return "UID character";
		for (j = 0; j < i; j++)
			if (strcmp(uid, UIDOF(mb, j)) == 0)
				return "UID repeated";
	}
	if (at != len)
		return "the last range does not end at the end of the file";
	return NULL;
}

/* A printable copy of at most 60 bytes (static buffer). */
static char *
shown(const char *p, size_t len)
{
	static char	buf[4][256];
	static int	which;
	char		*b = buf[which++ % 4];
	size_t		 i, k = 0;

	if (p == NULL)
		p = "";
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

/* Table of mailboxes ---------------------------------------------------- */

struct pmsg {
	const char	*disk;		/* [from, next) */
	size_t		 dlen;
	const char	*wire;		/* as RETR sends it */
	size_t		 wlen;
};

struct pcase {
	const char	*name;
	const char	*text;
	size_t		 len;
	int		 rc;		/* -1: refused with FROMERR */
	size_t		 n;
	struct pmsg	 m[MAXM];
};

/* A case with bytes before its first served message: the pseudo one. */
struct hcase {
	const char	*kept;		/* [0, start) */
	size_t		 klen;
	struct pcase	 c;
};

#define M(d, w)	{ d, sizeof(d) - 1, w, sizeof(w) - 1 }
#define NOMSG	{ { NULL, 0, NULL, 0 } }

/*
 * Run one case: it parses to its messages, byte for byte on disk and on
 * the wire, after klen bytes kept (hidden), and keeps the contract; mmdf
 * is the format expected if it is accepted.
 */
static void
run_case(const char *what, const struct pcase *c, int mmdf,
    const char *kept, size_t klen)
{
	static struct sink	 s;
	struct mbox		 mb;
	const struct mbox_msg	*m;
	const char		*why, *broke;
	size_t			 j;
	int			 rc, ok;

	why = NULL;
	rc = mbox_parse(&mb, (const uint8_t *)c->text, c->len, &why);
	if (c->rc == -1) {
		CHECK(rc == -1 && why != NULL && strcmp(why, FROMERR) == 0 &&
		    mb.n == 0 && mb.msgs == NULL, "%s %s: refused with "
		    "Qpopper's text, no message (rc %d, %zu messages)", what,
		    c->name, rc, mb.n);
		mbox_free(&mb);
		return;
	}
	CHECK(rc == 0 && mb.n == c->n, "%s %s: %zu messages (rc %d, got %zu, "
	    "why %s)", what, c->name, c->n, rc, mb.n, why ? why : "-");
	if (rc != 0 || mb.n != c->n) {
		mbox_free(&mb);
		return;
	}
	broke = contract(&mb, c->len);
	CHECK(broke == NULL, "%s %s: contract holds (%s)", what, c->name,
	    broke ? broke : "ok");
	CHECK(mb.mmdf == (c->len > 0 && mmdf), "%s %s: read as %s", what,
	    c->name, mmdf && c->len > 0 ? "MMDF" : "From_");
	ok = mb.start == klen && mb.hidden == (klen > 0) &&
	    (klen == 0 || memcmp(c->text, kept, klen) == 0);
	CHECK(ok, "%s %s: %s before the first message (start %llu, %zu "
	    "hidden)", what, c->name, klen ? shown(kept, klen) :
	    "nothing hidden", (unsigned long long)mb.start, mb.hidden);
	for (j = 0; j < mb.n; j++) {
		m = &mb.msgs[j];
		ok = m->next - m->from == c->m[j].dlen &&
		    memcmp(c->text + m->from, c->m[j].disk, c->m[j].dlen) == 0;
		CHECK(ok, "%s %s: message %zu on disk is \"%s\" (got \"%s\")",
		    what, c->name, j + 1, shown(c->m[j].disk, c->m[j].dlen),
		    shown(c->text + m->from, m->next - m->from));
		ok = emit(&mb, j, -1, &s) == 0 && s.len == c->m[j].wlen &&
		    memcmp(s.buf, c->m[j].wire, s.len) == 0;
		CHECK(ok, "%s %s: message %zu is sent as \"%s\" (got \"%s\")",
		    what, c->name, j + 1, shown(c->m[j].wire, c->m[j].wlen),
		    shown((const char *)s.buf, s.len));
	}
	mbox_free(&mb);
}

/* From_ lines ------------------------------------------------------------- */

static const struct pcase from_cases[] = {
	/* Refused: the first line is not a separator. */
	{ "text first", L("Subject: x\n\nbody\n"), -1, 0, NOMSG },
	{ "empty line first", L("\nFrom a\n\nx\n"), -1, 0, NOMSG },
	{ "CRLF empty line first", L("\r\nFrom a\n\nx\n"), -1, 0, NOMSG },
	{ "lower-case from", L("from a\n\nx\n"), -1, 0, NOMSG },
	{ "\">From \" first", L(">From a\n\nx\n"), -1, 0, NOMSG },
	{ "space before From", L(" From a\n\nx\n"), -1, 0, NOMSG },
	{ "UTF-8 byte order mark", L("\xef\xbb\xbf" "From a\n\nx\n"), -1, 0,
	    NOMSG },
	{ "\"From\" without the space", L("From\n\nx\n"), -1, 0, NOMSG },
	{ "\"From:\" header first", L("From: a@b\n\nx\n"), -1, 0, NOMSG },
	{ "four bytes", L("From"), -1, 0, NOMSG },
	{ "one NUL", L("\0"), -1, 0, NOMSG },
	/* Accepted. */
	{ "empty file", L(""), 0, 0, NOMSG },
	{ "\"From \" alone", L("From "), 0, 1, { M("From ", "") } },
	{ "one message", L("From a Mon\nS: 1\n\nbody\n"), 0, 1,
	    { M("From a Mon\nS: 1\n\nbody\n", "S: 1\r\n\r\nbody\r\n") } },
	{ "two messages: the empty line is the separator's",
	    L("From a\nS: 1\n\nb1\n\nFrom b\nS: 2\n\nb2\n"), 0, 2,
	    { M("From a\nS: 1\n\nb1\n\n", "S: 1\r\n\r\nb1\r\n"),
	    M("From b\nS: 2\n\nb2\n", "S: 2\r\n\r\nb2\r\n") } },
	{ "From_ without an empty line before it is content",
	    L("From a\nS: 1\n\nx\nFrom y\n"), 0, 1,
	    { M("From a\nS: 1\n\nx\nFrom y\n",
	    "S: 1\r\n\r\nx\r\nFrom y\r\n") } },
	{ "From_ after an empty line splits",
	    L("From a\nS: 1\n\nx\n\nFrom y\nz\n"), 0, 2,
	    { M("From a\nS: 1\n\nx\n\n", "S: 1\r\n\r\nx\r\n"),
	    M("From y\nz\n", "z\r\n") } },
	{ "a From_ header right after the separator",
	    L("From a\nFrom b\n\nx\n"), 0, 1,
	    { M("From a\nFrom b\n\nx\n", "From b\r\n\r\nx\r\n") } },
	{ "\"Fromage\" after an empty line is content",
	    L("From a\n\nx\n\nFromage\n"), 0, 1,
	    { M("From a\n\nx\n\nFromage\n", "\r\nx\r\n\r\nFromage\r\n") } },
	{ "\">From \" after an empty line is content",
	    L("From a\n\nx\n\n>From b\n"), 0, 1,
	    { M("From a\n\nx\n\n>From b\n", "\r\nx\r\n\r\n>From b\r\n") } },
	{ "two empty lines: the first is content",
	    L("From a\n\nx\n\n\nFrom b\n"), 0, 2,
	    { M("From a\n\nx\n\n\n", "\r\nx\r\n\r\n"), M("From b\n", "") } },
	{ "a final empty line is the separator's",
	    L("From a\nS: 1\n\nx\n\n"), 0, 1,
	    { M("From a\nS: 1\n\nx\n\n", "S: 1\r\n\r\nx\r\n") } },
	{ "CRLF file", L("From a\r\nS: 1\r\n\r\nx\r\n\r\nFrom b\r\ny\r\n"), 0,
	    2, { M("From a\r\nS: 1\r\n\r\nx\r\n\r\n", "S: 1\r\n\r\nx\r\n"),
	    M("From b\r\ny\r\n", "y\r\n") } },
	{ "a CRLF empty line before a From_ line splits",
	    L("From a\n\nx\n\r\nFrom b\n"), 0, 2,
	    { M("From a\n\nx\n\r\n", "\r\nx\r\n"), M("From b\n", "") } },
	{ "a lone CR line is not empty", L("From a\n\nx\n\r\rFrom b\n"), 0, 1,
	    { M("From a\n\nx\n\r\rFrom b\n", "\r\nx\r\n\r\rFrom b\r\n") } },
	{ "last line without a newline", L("From a\nS: 1\n\nx"), 0, 1,
	    { M("From a\nS: 1\n\nx", "S: 1\r\n\r\nx\r\n") } },
	{ "last line a bare CR", L("From a\n\nx\r"), 0, 1,
	    { M("From a\n\nx\r", "\r\nx\r\r\n") } },
	{ "headers only", L("From a\nS: 1\nT: 2"), 0, 1,
	    { M("From a\nS: 1\nT: 2", "S: 1\r\nT: 2\r\n") } },
	{ "headers, then a separator",
	    L("From a\nS: 1\n\nFrom b\nS: 2\n"), 0, 2,
	    { M("From a\nS: 1\n\n", "S: 1\r\n"), M("From b\nS: 2\n",
	    "S: 2\r\n") } },
	{ "two empty messages", L("From a\n\nFrom b\n"), 0, 2,
	    { M("From a\n\n", ""), M("From b\n", "") } },
	{ "NUL bytes", L("From a\nS: \0\n\nb\0dy\n"), 0, 1,
	    { M("From a\nS: \0\n\nb\0dy\n", "S: \0\r\n\r\nb\0dy\r\n") } },
	{ "dot-stuffing is not counted",
	    L("From a\n\n.\n..x\n"), 0, 1,
	    { M("From a\n\n.\n..x\n", "\r\n..\r\n...x\r\n") } },
};

/* Content-Length ---------------------------------------------------------- */

/*
 * A body of 29 bytes with an unescaped From_ line after an empty line:
 * believed, the count keeps it in one message; not believed, the
 * separator rule splits it, exactly as if there were no count.
 */
#define DESK	"Hi\n\nFrom the desk of Bob\nbye\n"
#define DESKW	"Hi\r\n\r\nFrom the desk of Bob\r\nbye\r\n"
#define CLBOX(h)	"From a\n" h "\n\n" DESK
#define CL_ONE(h, hw)	L(CLBOX(h)), 0, 1, { M(CLBOX(h), hw "\r\n\r\n" DESKW) }
#define CL_TWO(h, hw)	L(CLBOX(h)), 0, 2, { M("From a\n" h "\n\nHi\n\n", \
			    hw "\r\n\r\nHi\r\n"), \
			    M("From the desk of Bob\nbye\n", "bye\r\n") }
#define CL_OK(h)	CL_ONE(h, h)
#define CL_BAD(h)	CL_TWO(h, h)

static const struct pcase clen_cases[] = {
	/* Believed: the count ends at the end of the file or a separator. */
	{ "right, at the end of the file", CL_OK("Content-Length: 29") },
	{ "right, then a separator and a message",
	    L(CLBOX("Content-Length: 29") "\nFrom b\nS: 2\n\nx\n"), 0, 2,
	    { M(CLBOX("Content-Length: 29") "\n",
	    "Content-Length: 29\r\n\r\n" DESKW),
	    M("From b\nS: 2\n\nx\n", "S: 2\r\n\r\nx\r\n") } },
	{ "right, then an empty line at the end of the file",
	    L(CLBOX("Content-Length: 29") "\n"), 0, 1,
	    { M(CLBOX("Content-Length: 29") "\n",
	    "Content-Length: 29\r\n\r\n" DESKW) } },
	{ "right, counting a final empty line",
	    L("From a\nContent-Length: 3\n\nx\n\n"), 0, 1,
	    { M("From a\nContent-Length: 3\n\nx\n\n",
	    "Content-Length: 3\r\n\r\nx\r\n\r\n") } },
	{ "right, not counting the final empty line",
	    L("From a\nContent-Length: 2\n\nx\n\n"), 0, 1,
	    { M("From a\nContent-Length: 2\n\nx\n\n",
	    "Content-Length: 2\r\n\r\nx\r\n") } },
	{ "right, last line without a newline",
	    L("From a\nContent-Length: 6\n\nab\n\ncd"), 0, 1,
	    { M("From a\nContent-Length: 6\n\nab\n\ncd",
	    "Content-Length: 6\r\n\r\nab\r\n\r\ncd\r\n") } },
	{ "right, a From_ line first in the body",
	    L("From a\nContent-Length: 18\n\nFrom the desk\nbye\n"), 0, 1,
	    { M("From a\nContent-Length: 18\n\nFrom the desk\nbye\n",
	    "Content-Length: 18\r\n\r\nFrom the desk\r\nbye\r\n") } },
	{ "right, 0", L("From a\nContent-Length: 0\n\n\nFrom b\n"), 0, 2,
	    { M("From a\nContent-Length: 0\n\n\n", "Content-Length: 0\r\n\r\n"),
	    M("From b\n", "") } },
	{ "right, CRLF file counting its CRs",
	    L("From a\r\nContent-Length: 21\r\n\r\nHi\r\n\r\n"
	    "From the desk\r\n"), 0, 1,
	    { M("From a\r\nContent-Length: 21\r\n\r\nHi\r\n\r\n"
	    "From the desk\r\n", "Content-Length: 21\r\n\r\nHi\r\n\r\n"
	    "From the desk\r\n") } },
	{ "right, CRLF file, then a CRLF separator",
	    L("From a\r\nContent-Length: 21\r\n\r\nHi\r\n\r\nFrom the desk\r\n"
	    "\r\nFrom b\r\n"), 0, 2,
	    { M("From a\r\nContent-Length: 21\r\n\r\nHi\r\n\r\n"
	    "From the desk\r\n\r\n", "Content-Length: 21\r\n\r\nHi\r\n\r\n"
	    "From the desk\r\n"), M("From b\r\n", "") } },
	{ "right, lower case, blanks around",
	    CL_OK("content-length:\t 29 \t") },
	{ "right, no blank after the colon", CL_OK("Content-Length:29") },
	{ "right, leading zeros", CL_OK("Content-Length: 00029") },
	{ "right, among other headers",
	    CL_ONE("S: 1\nContent-Length: 29\nT: 2",
	    "S: 1\r\nContent-Length: 29\r\nT: 2") },
	{ "right, spanning what looks like a whole message",
	    L("From a\nContent-Length: 20\n\n\nFrom x\nS: 2\n\nbody2\n"), 0, 1,
	    { M("From a\nContent-Length: 20\n\n\nFrom x\nS: 2\n\nbody2\n",
	    "Content-Length: 20\r\n\r\n\r\nFrom x\r\nS: 2\r\n\r\n"
	    "body2\r\n") } },
	{ "right, on an earlier separator: as if there were none",
	    L("From a\nContent-Length: 3\n\n" DESK), 0, 2,
	    { M("From a\nContent-Length: 3\n\nHi\n\n",
	    "Content-Length: 3\r\n\r\nHi\r\n"),
	    M("From the desk of Bob\nbye\n", "bye\r\n") } },
	{ "right in the second message only",
	    L("From a\n\nx\n\nFrom b\nContent-Length: 29\n\n" DESK), 0, 2,
	    { M("From a\n\nx\n\n", "\r\nx\r\n"),
	    M("From b\nContent-Length: 29\n\n" DESK,
	    "Content-Length: 29\r\n\r\n" DESKW) } },

	/* Not believed: the separators decide, as without the header. */
	{ "one too many", CL_BAD("Content-Length: 30") },
	{ "one too few", CL_BAD("Content-Length: 28") },
	{ "past the end of the file", CL_BAD("Content-Length: 999999") },
	{ "into the next message",
	    L(CLBOX("Content-Length: 35") "\nFrom b\nS: 2\n\nx\n"), 0, 3,
	    { M("From a\nContent-Length: 35\n\nHi\n\n",
	    "Content-Length: 35\r\n\r\nHi\r\n"),
	    M("From the desk of Bob\nbye\n\n", "bye\r\n"),
	    M("From b\nS: 2\n\nx\n", "S: 2\r\n\r\nx\r\n") } },
	{ "onto an empty line not followed by From_",
	    L("From a\nContent-Length: 2\n\nA\n\n>From x\n\nFrom the desk\n"),
	    0, 2, { M("From a\nContent-Length: 2\n\nA\n\n>From x\n\n",
	    "Content-Length: 2\r\n\r\nA\r\n\r\n>From x\r\n"),
	    M("From the desk\n", "") } },
	{ "inside a line, before a LF and a From_ line",
	    L("From a\nContent-Length: 2\n\nab\nFrom the desk\n"), 0, 1,
	    { M("From a\nContent-Length: 2\n\nab\nFrom the desk\n",
	    "Content-Length: 2\r\n\r\nab\r\nFrom the desk\r\n") } },
	{ "CRLF file counted without its CRs",
	    L("From a\r\nContent-Length: 18\r\n\r\nHi\r\n\r\n"
	    "From the desk\r\n"), 0, 2,
	    { M("From a\r\nContent-Length: 18\r\n\r\nHi\r\n\r\n",
	    "Content-Length: 18\r\n\r\nHi\r\n"),
	    M("From the desk\r\n", "") } },
	{ "UINT64_MAX", CL_BAD("Content-Length: 18446744073709551615") },
	{ "UINT64_MAX + 1", CL_BAD("Content-Length: 18446744073709551616") },
	{ "30 digits",
	    CL_BAD("Content-Length: 999999999999999999999999999999") },
	{ "negative", CL_BAD("Content-Length: -29") },
	{ "plus sign", CL_BAD("Content-Length: +29") },
	{ "trailing letters", CL_BAD("Content-Length: 29abc") },
	{ "trailing semicolon", CL_BAD("Content-Length: 29;") },
	{ "blank inside", CL_BAD("Content-Length: 2 9") },
	{ "hexadecimal", CL_BAD("Content-Length: 0x1d") },
	{ "empty", CL_BAD("Content-Length:") },
	{ "NUL after the digits", CL_BAD("Content-Length: 29\0") },
	{ "two, both right",
	    CL_TWO("Content-Length: 29\nContent-Length: 29",
	    "Content-Length: 29\r\nContent-Length: 29") },
	{ "two, the second right",
	    CL_TWO("Content-Length: 5\nContent-Length: 29",
	    "Content-Length: 5\r\nContent-Length: 29") },
	{ "folded: the number on the next line",
	    CL_TWO("Content-Length:\n 29", "Content-Length:\r\n 29") },
	{ "folded: a continuation after the number",
	    CL_TWO("Content-Length: 29\n\t7", "Content-Length: 29\r\n\t7") },
	{ "other header name", CL_BAD("Content-Lengths: 29") },
	{ "header name with a blank", CL_BAD("Content-Length : 29") },
	{ "in the body, not the header",
	    L("From a\n\nContent-Length: 29\n\nFrom b\n"), 0, 2,
	    { M("From a\n\nContent-Length: 29\n\n", "\r\nContent-Length: "
	    "29\r\n"), M("From b\n", "") } },
	{ "header block without an end",
	    L("From a\nContent-Length: 0\n"), 0, 1,
	    { M("From a\nContent-Length: 0\n", "Content-Length: 0\r\n") } },
};

/* MMDF -------------------------------------------------------------------- */

#define D	"\1\1\1\1\n"
#define DCR	"\1\1\1\1\r\n"

static const struct pcase mmdf_cases[] = {
	/* Refused: the first line is not a delimiter (nor a From_ line). */
	{ "three ^A", L("\1\1\1\n" "S: 1\n" D), -1, 0, NOMSG },
	{ "five ^A", L("\1\1\1\1\1\n" "S: 1\n" D), -1, 0, NOMSG },
	{ "a blank after the ^A", L("\1\1\1\1 \n" "S: 1\n" D), -1, 0, NOMSG },
	{ "text after the ^A", L("\1\1\1\1x\n" "S: 1\n" D), -1, 0, NOMSG },
	{ "CR CR LF after the ^A", L("\1\1\1\1\r\r\n" "S: 1\n" D), -1, 0,
	    NOMSG },
	{ "an empty line first", L("\n" D "S: 1\n" D), -1, 0, NOMSG },
	{ "text first", L("S: 1\n" D "S: 2\n" D), -1, 0, NOMSG },
	/* Accepted. */
	{ "one message", L(D "S: 1\n\nbody\n" D), 0, 1,
	    { M(D "S: 1\n\nbody\n" D, "S: 1\r\n\r\nbody\r\n") } },
	{ "two messages", L(D "S: 1\n\nb1\n" D D "S: 2\n\nb2\n" D), 0, 2,
	    { M(D "S: 1\n\nb1\n" D, "S: 1\r\n\r\nb1\r\n"),
	    M(D "S: 2\n\nb2\n" D, "S: 2\r\n\r\nb2\r\n") } },
	{ "the envelope line after the delimiter is not sent",
	    L(D "From a Mon\nS: 1\n\nx\n" D), 0, 1,
	    { M(D "From a Mon\nS: 1\n\nx\n" D, "S: 1\r\n\r\nx\r\n") } },
	{ "\"From \" alone as the envelope", L(D "From \nS: 1\n" D), 0, 1,
	    { M(D "From \nS: 1\n" D, "S: 1\r\n") } },
	{ "a From_ line in the body does not split",
	    L(D "S: 1\n\nx\n\nFrom y\nz\n\n" D), 0, 1,
	    { M(D "S: 1\n\nx\n\nFrom y\nz\n\n" D,
	    "S: 1\r\n\r\nx\r\n\r\nFrom y\r\nz\r\n\r\n") } },
	{ "Content-Length is not needed, and ignored",
	    L(D "Content-Length: 1\n\nabc\n" D), 0, 1,
	    { M(D "Content-Length: 1\n\nabc\n" D,
	    "Content-Length: 1\r\n\r\nabc\r\n") } },
	{ "CRLF delimiters and lines",
	    L(DCR "S: 1\r\n\r\nx\r\n" DCR DCR "y\r\n" DCR), 0, 2,
	    { M(DCR "S: 1\r\n\r\nx\r\n" DCR, "S: 1\r\n\r\nx\r\n"),
	    M(DCR "y\r\n" DCR, "y\r\n") } },
	{ "an empty message", L(D D), 0, 1, { M(D D, "") } },
	{ "a lone delimiter", L("\1\1\1\1"), 0, 1, { M("\1\1\1\1", "") } },
	{ "a lone delimiter line", L(D), 0, 1, { M(D, "") } },
	{ "no header", L(D "\nbody\n" D), 0, 1,
	    { M(D "\nbody\n" D, "\r\nbody\r\n") } },
	{ "header only", L(D "S: 1\n" D), 0, 1,
	    { M(D "S: 1\n" D, "S: 1\r\n") } },
	{ "empty lines between messages go with the one before",
	    L(D "x\n" D "\n\r\n" D "y\n" D "\n"), 0, 2,
	    { M(D "x\n" D "\n\r\n", "x\r\n"), M(D "y\n" D "\n", "y\r\n") } },
	{ "text between messages is a message of its own",
	    L(D "x\n" D "stray\n" D D "y\n" D), 0, 3,
	    { M(D "x\n" D, "x\r\n"), M("stray\n" D, "stray\r\n"),
	    M(D "y\n" D, "y\r\n") } },
	{ "text after the last message is a message of its own",
	    L(D "x\n" D "\nFrom b\nS: 2\n\nb\n"), 0, 2,
	    { M(D "x\n" D "\n", "x\r\n"),
	    M("From b\nS: 2\n\nb\n", "S: 2\r\n\r\nb\r\n") } },
	{ "a missing opening delimiter",
	    L(D "x\n" D "S: 2\n\ny\n" D D "z\n" D), 0, 3,
	    { M(D "x\n" D, "x\r\n"), M("S: 2\n\ny\n" D, "S: 2\r\n\r\ny\r\n"),
	    M(D "z\n" D, "z\r\n") } },
	{ "no closing delimiter at the end", L(D "S: 1\n\nx\n"), 0, 1,
	    { M(D "S: 1\n\nx\n", "S: 1\r\n\r\nx\r\n") } },
	{ "no closing delimiter, no final newline", L(D "S: 1\n\nx"), 0, 1,
	    { M(D "S: 1\n\nx", "S: 1\r\n\r\nx\r\n") } },
	{ "the closing delimiter without a newline",
	    L(D "x\n\1\1\1\1"), 0, 1, { M(D "x\n\1\1\1\1", "x\r\n") } },
	{ "an opening delimiter at the end", L(D "x\n" D D), 0, 2,
	    { M(D "x\n" D, "x\r\n"), M(D, "") } },
	{ "five ^A in a message is text", L(D "\n\1\1\1\1\1\n" D), 0, 1,
	    { M(D "\n\1\1\1\1\1\n" D, "\r\n\1\1\1\1\1\r\n") } },
	{ "^A^A^A^A and more on a line is text",
	    L(D "\n\1\1\1\1 x\n" D), 0, 1,
	    { M(D "\n\1\1\1\1 x\n" D, "\r\n\1\1\1\1 x\r\n") } },
	{ "a delimiter ends the header block",
	    L(D "S: 1\n" D D "T: 2\n\nb\n" D), 0, 2,
	    { M(D "S: 1\n" D, "S: 1\r\n"), M(D "T: 2\n\nb\n" D,
	    "T: 2\r\n\r\nb\r\n") } },
	{ "dot-stuffing", L(D "S: 1\n\n.\n.x\n" D), 0, 1,
	    { M(D "S: 1\n\n.\n.x\n" D, "S: 1\r\n\r\n..\r\n..x\r\n") } },
};

/* TOP stops after the header and n lines, whatever ended the message. */
struct top_case {
	const char	*name;
	const char	*text;
	size_t		 len;
	size_t		 msg;
	int64_t		 lines;
	const char	*want;
};

static const struct top_case top_cases[] = {
	{ "MMDF TOP 0", L(D "From e\nS: 1\n\nL1\nL2\n" D), 0, 0,
	    "S: 1\r\n\r\n" },
	{ "MMDF TOP 1", L(D "From e\nS: 1\n\nL1\nL2\n" D), 0, 1,
	    "S: 1\r\n\r\nL1\r\n" },
	{ "MMDF TOP 9", L(D "From e\nS: 1\n\nL1\nL2\n" D), 0, 9,
	    "S: 1\r\n\r\nL1\r\nL2\r\n" },
	{ "MMDF TOP 0, header only", L(D "S: 1\n" D), 0, 0, "S: 1\r\n" },
	{ "MMDF TOP 0 of a message without an opening delimiter",
	    L(D D "S: 2\n\nx\n" D), 1, 0, "S: 2\r\n\r\n" },
	{ "Content-Length TOP 2", L(CLBOX("Content-Length: 29")), 0, 2,
	    "Content-Length: 29\r\n\r\nHi\r\n\r\n" },
	{ "Content-Length TOP 9", L(CLBOX("Content-Length: 29")), 0, 9,
	    "Content-Length: 29\r\n\r\n" DESKW },
};

static void
test_top(void)
{
	const struct top_case	*c;
	struct mbox		 mb;
	struct sink		 s = { NULL, 0, 0 };
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
		CHECK(ok, "top %s: \"%s\" (got \"%s\")", c->name,
		    shown(c->want, strlen(c->want)),
		    shown((const char *)s.buf, s.len));
		mbox_free(&mb);
	}
	free(s.buf);
}

/* c-client's pseudo message ------------------------------------------------ */

#define PSUBJ	"DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA"
#define PHEAD	"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n" \
		"Date: Mon, 1 Jan 2024 00:00:00 +0000\n" \
		"From: Mail System Internal Data <MAILER-DAEMON@x>\n"
#define PBODY	"\nThis text is part of the internal format of your " \
		"mail folder.\n"
#define PSEUDO	PHEAD "Subject: " PSUBJ "\nX-IMAP: 1236697492 0000000010\n" \
		"Status: RO\n" PBODY "\n"
#define MA	"From a\nS: 1\n\nx\n\n"
#define MB	"From b\nS: 2\n\ny\n"
#define MAW	"S: 1\r\n\r\nx\r\n"
#define MBW	"S: 2\r\n\r\ny\r\n"
#define K(s)	s, sizeof(s) - 1
#define NOK	NULL, 0
/* Pseudo message look-alikes: the first message is served after all. */
#define SERVED(h, hw)	L("From M\n" h "\nt\n\n" MB), 0, 2, \
			{ M("From M\n" h "\nt\n\n", hw "\r\nt\r\n"), \
			M(MB, MBW) }
#define PSEUDOW	"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: Mail System " \
		"Internal Data <MAILER-DAEMON@x>\r\nSubject: " PSUBJ "\r\n" \
		"X-IMAP: 1236697492 0000000010\r\nStatus: RO\r\n\r\nThis " \
		"text is part of the internal format of your mail folder.\r\n"

static const struct hcase pseudo_cases[] = {
	{ K(PSEUDO), { "hidden, two messages after it", L(PSEUDO MA MB), 0, 2,
	    { M(MA, MAW), M(MB, MBW) } } },
	{ K(PSEUDO), { "hidden, alone in the file", L(PSEUDO), 0, 0, NOMSG } },
	{ K(PHEAD "Subject: " PSUBJ "\nX-IMAP: 1\n" PBODY),
	    { "hidden, alone, no final empty line",
	    L(PHEAD "Subject: " PSUBJ "\nX-IMAP: 1\n" PBODY), 0, 0, NOMSG } },
	{ K(PHEAD "Subject: " PSUBJ "\nX-IMAPbase: 1 2\n" PBODY "\n"),
	    { "hidden, with X-IMAPbase", L(PHEAD "Subject: " PSUBJ
	    "\nX-IMAPbase: 1 2\n" PBODY "\n" MB), 0, 1, { M(MB, MBW) } } },
	{ K(PHEAD "X-IMAP: 1\nSubject: " PSUBJ "\n" PBODY "\n"),
	    { "hidden, X-IMAP before the Subject", L(PHEAD "X-IMAP: 1\n"
	    "Subject: " PSUBJ "\n" PBODY "\n" MB), 0, 1, { M(MB, MBW) } } },
	{ K(PHEAD "SUBJECT: " PSUBJ "\nx-imap: 1\n" PBODY "\n"),
	    { "hidden, header names in any case", L(PHEAD "SUBJECT: " PSUBJ
	    "\nx-imap: 1\n" PBODY "\n" MB), 0, 1, { M(MB, MBW) } } },
	{ K(PHEAD "Subject:\t " PSUBJ " \t\nX-IMAP: 1\n" PBODY "\n"),
	    { "hidden, blanks around the Subject", L(PHEAD "Subject:\t "
	    PSUBJ " \t\nX-IMAP: 1\n" PBODY "\n" MB), 0, 1, { M(MB, MBW) } } },
	{ K("From M\r\nSubject: " PSUBJ "\r\nX-IMAP: 1\r\n\r\nt\r\n\r\n"),
	    { "hidden, CRLF file", L("From M\r\nSubject: " PSUBJ "\r\n"
	    "X-IMAP: 1\r\n\r\nt\r\n\r\nFrom b\r\n\r\ny\r\n"), 0, 1,
	    { M("From b\r\n\r\ny\r\n", "\r\ny\r\n") } } },
	{ K("From M\nSubject: " PSUBJ "\nX-IMAP: 1\nContent-Length: 29\n\n"
	    DESK "\n"), { "hidden, its Content-Length believed",
	    L("From M\nSubject: " PSUBJ "\nX-IMAP: 1\nContent-Length: 29\n\n"
	    DESK "\n" MB), 0, 1, { M(MB, MBW) } } },
	{ K(PSEUDO), { "hidden, then a second one served",
	    L(PSEUDO PSEUDO MB), 0, 2, { M(PSEUDO, PSEUDOW), M(MB, MBW) } } },

	/* Served: only the first message of the file, with both headers. */
	{ NOK, { "second in the file", L(MA PSEUDO), 0, 2,
	    { M(MA, MAW), M(PSEUDO, PSEUDOW) } } },
	{ NOK, { "no X-IMAP", SERVED("Subject: " PSUBJ "\n",
	    "Subject: " PSUBJ "\r\n") } },
	{ NOK, { "no Subject", SERVED("X-IMAP: 1\n", "X-IMAP: 1\r\n") } },
	{ NOK, { "another Subject", SERVED("Subject: Hello\nX-IMAP: 1\n",
	    "Subject: Hello\r\nX-IMAP: 1\r\n") } },
	{ NOK, { "the Subject in lower case",
	    SERVED("Subject: don't delete this message -- folder internal "
	    "data\nX-IMAP: 1\n", "Subject: don't delete this message -- "
	    "folder internal data\r\nX-IMAP: 1\r\n") } },
	{ NOK, { "more in the Subject",
	    SERVED("Subject: Re: " PSUBJ "\nX-IMAP: 1\n",
	    "Subject: Re: " PSUBJ "\r\nX-IMAP: 1\r\n") } },
	{ NOK, { "the Subject folded",
	    SERVED("Subject:\n " PSUBJ "\nX-IMAP: 1\n",
	    "Subject:\r\n " PSUBJ "\r\nX-IMAP: 1\r\n") } },
	{ NOK, { "X-IMAP without a colon",
	    SERVED("Subject: " PSUBJ "\nX-IMAP 1\n",
	    "Subject: " PSUBJ "\r\nX-IMAP 1\r\n") } },
	{ NOK, { "X-IMAPx", SERVED("Subject: " PSUBJ "\nX-IMAPx: 1\n",
	    "Subject: " PSUBJ "\r\nX-IMAPx: 1\r\n") } },
	{ NOK, { "X-IMAP in the body",
	    L("From M\nSubject: " PSUBJ "\n\nX-IMAP: 1\n\n" MB), 0, 2,
	    { M("From M\nSubject: " PSUBJ "\n\nX-IMAP: 1\n\n", "Subject: "
	    PSUBJ "\r\n\r\nX-IMAP: 1\r\n"), M(MB, MBW) } } },
	{ NOK, { "the Subject in the body",
	    L("From M\nX-IMAP: 1\n\nSubject: " PSUBJ "\n\n" MB), 0, 2,
	    { M("From M\nX-IMAP: 1\n\nSubject: " PSUBJ "\n\n", "X-IMAP: "
	    "1\r\n\r\nSubject: " PSUBJ "\r\n"), M(MB, MBW) } } },
};

/* In an MMDF mailbox, as c-client writes it. */
#define PMMDF	D PHEAD "Subject: " PSUBJ "\nX-IMAP: 1\nStatus: RO\n" PBODY D

static const struct hcase pseudo_mmdf_cases[] = {
	{ K(PMMDF), { "hidden in MMDF", L(PMMDF D "S: 2\n\ny\n" D), 0, 1,
	    { M(D "S: 2\n\ny\n" D, MBW) } } },
	{ K(PMMDF "\n\n"), { "hidden in MMDF, empty lines after it",
	    L(PMMDF "\n\n" D "S: 2\n\ny\n" D), 0, 1,
	    { M(D "S: 2\n\ny\n" D, MBW) } } },
	{ K(PMMDF), { "hidden in MMDF, then text outside the delimiters",
	    L(PMMDF "From b\nS: 2\n\ny\n"), 0, 1,
	    { M("From b\nS: 2\n\ny\n", MBW) } } },
	{ K(PMMDF), { "hidden in MMDF, alone", L(PMMDF), 0, 0, NOMSG } },
	{ NOK, { "served in MMDF without X-IMAP",
	    L(D "Subject: " PSUBJ "\n" D), 0, 1,
	    { M(D "Subject: " PSUBJ "\n" D, "Subject: " PSUBJ "\r\n") } } },
};

/*
 * The pseudo message survives every update: mbox_compact of the messages
 * after it, on a memory file, leaves it in place byte for byte.
 */
struct keep_case {
	const char	*name;
	unsigned int	 del;		/* bit i: delete message i + 1 */
	const char	*want;
};

static const struct keep_case keep_cases[] = {
	{ "delete the first served message", 0x1, PSEUDO MB },
	{ "delete the last", 0x2, PSEUDO MA },
	{ "delete all", 0x3, PSEUDO },
};

static void
test_pseudo_kept(void)
{
	static const char	 box[] = PSEUDO MA MB;
	const struct keep_case	*c;
	struct mbox		 mb;
	const char		*why;
	char			 got[sizeof(box)];
	uint8_t			*map;
	uint64_t		 newsize;
	size_t			 i, j;
	int			 fd, jfd, rc;

	for (i = 0; i < NELEM(keep_cases); i++) {
		c = &keep_cases[i];
		if ((fd = memfd_create("mbox", 0)) == -1 ||
		    (jfd = memfd_create("journal", 0)) == -1 ||
		    write(fd, box, sizeof(box) - 1) != sizeof(box) - 1)
			exit(2);
		map = mmap(NULL, sizeof(box) - 1, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED ||
		    mbox_parse(&mb, map, sizeof(box) - 1, &why) != 0 ||
		    mb.n != 2)
			exit(2);
		for (j = 0; j < mb.n; j++)
			mbox_mark_deleted(&mb, j, (c->del >> j) & 1);
		why = NULL;
		rc = mbox_compact(&mb, fd, jfd, sizeof(box) - 1, &newsize,
		    &why);
		memset(got, 0, sizeof(got));
		CHECK(rc == 0 && newsize == strlen(c->want) &&
		    pread(fd, got, sizeof(got), 0) == (ssize_t)newsize &&
		    memcmp(got, c->want, newsize) == 0, "pseudo message kept: "
		    "%s (rc %d, why %s)", c->name, rc, why ? why : "-");
		mbox_free(&mb);
		munmap(map, sizeof(box) - 1);
		close(jfd);
		close(fd);
	}
}

/* UIDs in an MMDF mailbox: X-UIDL as anywhere, else a digest. */
static void
test_mmdf_uids(void)
{
	static const char	 box[] = D "From e\nX-UIDL: m-1\n\nx\n" D
				    D "S: 2\n\ny\n" D "stray\n" D;
	struct mbox		 mb;
	const char		*why;
	size_t			 i, n;
	int			 ok;

	ok = mbox_parse(&mb, (const uint8_t *)box, sizeof(box) - 1,
	    &why) == 0 && mb.n == 3 && strcmp(UIDOF(&mb, 0), "m-1") == 0;
	for (i = 1; ok && i < mb.n; i++) {
		n = strspn(UIDOF(&mb, i), "0123456789abcdef");
		ok = n == 32 && UIDOF(&mb, i)[n] == '\0';
	}
	CHECK(ok, "mmdf: X-UIDL honoured, digest ids otherwise (%s %s %s)",
	    mb.n > 0 ? UIDOF(&mb, 0) : "-", mb.n > 1 ? UIDOF(&mb, 1) : "-",
	    mb.n > 2 ? UIDOF(&mb, 2) : "-");
	mbox_free(&mb);
}

/* Hiding the pseudo message changes no other message's UID or size. */
static void
test_pseudo_uids(void)
{
	static const char	 with[] = PSEUDO MA "\n" MB;
	static const char	 without[] = MA "\n" MB;
	struct mbox		 a, b;
	const char		*why;
	int			 ok;

	ok = mbox_parse(&a, (const uint8_t *)with, sizeof(with) - 1,
	    &why) == 0 && mbox_parse(&b, (const uint8_t *)without,
	    sizeof(without) - 1, &why) == 0 && a.n == 2 && b.n == 2 &&
	    strcmp(UIDOF(&a, 0), UIDOF(&b, 0)) == 0 &&
	    strcmp(UIDOF(&a, 1), UIDOF(&b, 1)) == 0 &&
	    a.msgs[0].octets == b.msgs[0].octets &&
	    a.msgs[1].octets == b.msgs[1].octets;
	CHECK(ok, "pseudo message: the others keep their UIDs and sizes");
	mbox_free(&a);
	mbox_free(&b);
}

/* Every prefix of a sample mailbox ---------------------------------------- */

static const char from_sample[] =
    PSEUDO
    "From a Mon\nS: 1\nContent-Length: 29\n\n" DESK "\n"
    "From b Tue\r\nContent-Length: 999\r\nX-UIDL: b\r\n\r\nx\r\n\r\n"
    "From c Wed\n\n\nFrom d\nContent-Length: 3\n\nab\n\n"
    "From e\nS: 5\n\nlast line\r";

static const char mmdf_sample[] =
    PMMDF
    D "From a Mon\nS: 1\nX-UIDL: a\n\nbody\n\nFrom x\n" D "\n"
    DCR "S: 2\r\n\r\n.dot\r\n" DCR
    "stray\n" D D D "\1\1\1\1\1\n" D "From e\nS: 5\n\nno end";

/*
 * Parse every prefix of sample from a private copy of exactly its length
 * (so that the sanitizers see any read past it): each is refused only
 * while too short to name its format, and otherwise keeps the contract.
 */
static void
test_prefixes(const char *name, const char *sample, size_t size,
    size_t shortest)
{
	struct mbox	 mb;
	const char	*why, *broke = NULL;
	uint8_t		*p;
	size_t		 k, bad = 0, badk = 0;
	int		 rc, ok;

	for (k = 0; k <= size; k++) {
		if ((p = malloc(k ? k : 1)) == NULL)
			exit(2);
		memcpy(p, sample, k);
		why = NULL;
		rc = mbox_parse(&mb, p, k, &why);
		if (k > 0 && k < shortest)
			ok = rc == -1 && mb.n == 0;
		else
			ok = rc == 0 && (broke = contract(&mb, k)) == NULL;
		if (!ok && bad++ == 0)
			badk = k;
		mbox_free(&mb);
		free(p);
	}
	CHECK(bad == 0, "every prefix of the %s sample keeps the contract "
	    "(%zu bad, first at %zu bytes: %s)", name, bad, badk,
	    broke ? broke : "-");
}

/*
 * The separator rule and the octet count, walked a line at a time: the
 * reference the parser's block scans (find_separator(), bare_lfs()) are
 * compared with.  Only for From_ mailboxes without Content-Length, which
 * the random ones below are.
 */
struct refmsg {
	size_t	from, end, next;
	uint64_t octets;
};

static size_t
ref_line_end(const uint8_t *p, size_t len, size_t pos)
{
	while (pos < len && p[pos] != '\n')
		pos++;
	return pos < len ? pos + 1 : len;
}

static uint64_t
ref_line_octets(const uint8_t *p, size_t pos, size_t le)
{
	if (le == pos)
		return 0;
	if (p[le - 1] != '\n')
		return le - pos + 2;
	if (le - pos >= 2 && p[le - 2] == '\r')
		return le - pos;
	return le - pos + 1;
}

static int
ref_empty(const uint8_t *p, size_t pos, size_t le)
{
	return (le - pos == 1 && p[pos] == '\n') ||
	    (le - pos == 2 && p[pos] == '\r' && p[pos + 1] == '\n');
}

static int
ref_from(const uint8_t *p, size_t len, size_t pos)
{
	return len - pos >= 5 && memcmp(p + pos, "From ", 5) == 0;
}

static size_t
ref_parse(const uint8_t *p, size_t len, struct refmsg *out, size_t max)
{
	size_t		n = 0, pos = 0, q, le;
	uint64_t	oct;

	while (pos < len && n < max) {
		out[n].from = pos;
		q = ref_line_end(p, len, pos);
		oct = 0;
		/* The header, up to its empty line. */
		for (; q < len; q = le) {
			le = ref_line_end(p, len, q);
			if (ref_empty(p, q, le))
				break;
			oct += ref_line_octets(p, q, le);
		}
		/* The body, up to an empty line before "From " or the end. */
		for (le = len; q < len; q = le) {
			le = ref_line_end(p, len, q);
			if (ref_empty(p, q, le) && (le == len ||
			    ref_from(p, len, le)))
				break;
			oct += ref_line_octets(p, q, le);
		}
		out[n].end = q;
		out[n].next = q < len ? le : len;
		out[n].octets = oct;
		pos = out[n++].next;
	}
	return n;
}

/*
 * Random From_ mailboxes of pieces that make separators, near-separators
 * (an F, "From" without its space, an empty line of CRLF, a lone CR) and
 * runs of text that put them at every place of the 16-byte blocks, each
 * at the very end of its allocation so that no read goes past it: the
 * parser's messages and octet counts are the reference's, and the
 * contract holds.
 */
static void
test_random_from(void)
{
	static const char *const piece[] = {
	    "\n", "\n", "\n", "\r\n", "\r", "F", "From ", "From", "\nFrom x\n",
	    "\n\nFrom a b\n", "\r\n\r\nFrom c\n", "\n\r\nFrom d\n", ">From ",
	    "\n\n", "Fr", "\r\r\n", "From \n\n",
	};
	struct refmsg	 want[256];
	struct mbox	 mb;
	const char	*why, *broke = NULL;
	uint8_t		 buf[2048], *box;
	size_t		 k, len, i, n, bad = 0, badk = 0, msgs = 0, np;
	uint64_t	 r = 0x9E3779B97F4A7C15ULL;
	int		 rc;

	for (k = 0; k < 4000; k++) {
		memcpy(buf, "From a\n", 7);
		len = 7;
		np = k % 40;
		for (i = 0; i < np; i++) {
			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			if (r % 3 == 0) {
				/* A run of 0 to 40 bytes of text. */
				n = (size_t)(r >> 8) % 41;
				memset(buf + len, 'a' + (int)(r >> 20) % 5, n);
				len += n;
			} else {
				const char *pc = piece[(r >> 8) %
				    NELEM(piece)];

				memcpy(buf + len, pc, strlen(pc));
				len += strlen(pc);
			}
		}
		if ((box = malloc(len)) == NULL)
			exit(2);
		memcpy(box, buf, len);
		n = ref_parse(box, len, want, NELEM(want));
		why = NULL;
		rc = mbox_parse(&mb, box, len, &why);
		broke = rc != 0 ? "refused" : contract(&mb, len);
		if (broke == NULL && mb.n != n)
			broke = "another number of messages";
		for (i = 0; broke == NULL && i < n; i++)
			if (mb.msgs[i].from != want[i].from ||
			    mb.msgs[i].end != want[i].end ||
			    mb.msgs[i].next != want[i].next ||
			    mb.msgs[i].octets != want[i].octets)
				broke = "a message differs";
		if (broke != NULL && bad++ == 0) {
			badk = k;
			fprintf(stderr, "random mailbox %zu (%zu bytes): %s\n",
			    k, len, broke);
		}
		msgs += n;
		mbox_free(&mb);
		free(box);
	}
	CHECK(bad == 0 && msgs > 8000, "4,000 random From_ mailboxes (%zu "
	    "messages): the parser's messages and octets are the line-by-line "
	    "reference's (%zu differ, first %zu)", msgs, bad, badk);
}

/* Refusal after a partial index leaves nothing behind either. */
static void
test_too_many(void)
{
	static const char	 one[] = "From \n\n";
	const size_t		 ol = sizeof(one) - 1;
	struct mbox		 mb;
	const char		*why = NULL;
	uint8_t			*box;
	size_t			 i, n = (size_t)SPOOL_MSGS_MAX + 1;
	int			 rc;

	if ((box = malloc(n * ol)) == NULL)
		exit(2);
	for (i = 0; i < n; i++)
		memcpy(box + i * ol, one, ol);
	rc = mbox_parse(&mb, box, n * ol, &why);
	CHECK(rc == -1 && why != NULL && strstr(why, "Too many") != NULL &&
	    mb.n == 0 && mb.msgs == NULL, "SPOOL_MSGS_MAX + 1 messages: "
	    "refused, no message kept (rc %d, n %zu)", rc, mb.n);
	mbox_free(&mb);
	free(box);
}

int
main(void)
{
	size_t	i;

	log_init(1, LOG_DAEMON);
	log_procname("test_mbox_parse");

	for (i = 0; i < NELEM(from_cases); i++)
		run_case("from", &from_cases[i], 0, NULL, 0);
	for (i = 0; i < NELEM(clen_cases); i++)
		run_case("content-length", &clen_cases[i], 0, NULL, 0);
	for (i = 0; i < NELEM(mmdf_cases); i++)
		run_case("mmdf", &mmdf_cases[i], 1, NULL, 0);
	for (i = 0; i < NELEM(pseudo_cases); i++)
		run_case("pseudo", &pseudo_cases[i].c, 0,
		    pseudo_cases[i].kept, pseudo_cases[i].klen);
	for (i = 0; i < NELEM(pseudo_mmdf_cases); i++)
		run_case("pseudo", &pseudo_mmdf_cases[i].c, 1,
		    pseudo_mmdf_cases[i].kept, pseudo_mmdf_cases[i].klen);
	test_pseudo_kept();
	test_pseudo_uids();
	test_mmdf_uids();
	test_top();
	test_prefixes("From_", L(from_sample), 5);
	test_prefixes("MMDF", L(mmdf_sample), 4);
	test_random_from();
	test_too_many();
	TEST_EXIT();
}
