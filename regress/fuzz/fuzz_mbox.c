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
 * libFuzzer target for spool/mbox_parse.c, spool/mbox.c and spool/uid.c:
 * any bytes as a mailbox.  Parse; emit every message whole (RETR) and as
 * TOP 0, 1 and a count taken from the input; rewrite the mailbox with
 * every other message deleted (mbox_compact on a memfd, journal
 * included).  Checked besides the sanitizers: offsets tile the input,
 * octets equal the emitted bytes without dot-stuffing, output is CRLF
 * throughout, TOP is a prefix of RETR, UIDs are valid and unique, and
 * compaction keeps exactly the kept messages' bytes.  The boundaries are
 * checked against a second, slow reading of the rules written here: a
 * message ends at the first separator after its header, unless one plain
 * Content-Length lands exactly on a separator or the end; in an MMDF
 * mailbox, at the first delimiter line.  The first message is hidden,
 * before mb.start, exactly when it is c-client's pseudo message, and
 * compaction keeps it.  fatal(), fatalx() and bug() abort here: no input may
 * reach them.
 */

#include <sys/mman.h>
#include <sys/types.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "params.h"
#include "spool.h"

/* Message i's id, in a buffer of the expression's own. */
#define UIDOF(mb, i)	mbox_uid((mb), &(mb)->msgs[i], (char[UID_BUF]){ 0 })
#include "fuzz.h"


struct sink {
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
};


static int
sink_fn(void *arg, const uint8_t *p, size_t n)
{
	struct sink	*s = arg;

	ASSERT(n > 0 && n <= MSG_DATA_CHUNK);
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		if ((s->buf = realloc(s->buf, s->cap)) == NULL)
			abort();
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

static void
check_wire(const struct sink *s)
{
	size_t	i;

	for (i = 0; i < s->len; i++)
		if (s->buf[i] == '\n')
			ASSERT(i > 0 && s->buf[i - 1] == '\r');
	ASSERT(s->len == 0 || (s->len >= 2 && s->buf[s->len - 1] == '\n'));
}

static size_t
unstuffed_len(const struct sink *s)
{
	size_t	i, n = s->len;
	int	bol = 1;

	for (i = 0; i < s->len; i++) {
		if (bol && s->buf[i] == '.')
			n--;
		bol = s->buf[i] == '\n';
	}
	return n;
}

/*
 * Message i as the update writes it: as it was, except that a rewritten
 * message whose digest id another message shares gets its id as an
 * X-UIDL line at the end of its header, so that it keeps it.
 */
static size_t
expect_msg(const struct mbox *mb, size_t i, int rewritten,
    const uint8_t *data, uint8_t *out)
{
	const struct mbox_msg	*m = &mb->msgs[i];
	size_t			 a, n;
	int			 crlf;

	if (!rewritten || !(m->uid_flags & MSG_UID_SHARED) ||
	    m->hdr_end <= m->body || m->hdr_end >= m->end ||
	    data[m->hdr_end - 1] != '\n') {
		memcpy(out, data + m->from, m->next - m->from);
		return m->next - m->from;
	}
	a = m->hdr_end - m->from;
	memcpy(out, data + m->from, a);
	crlf = m->hdr_end - m->body >= 2 && data[m->hdr_end - 2] == '\r';
	n = (size_t)snprintf((char *)out + a, UID_LEN_MAX + 12, "X-UIDL: %s%s",
	    UIDOF(mb, i), crlf ? "\r\n" : "\n");
	memcpy(out + a + n, data + m->hdr_end, m->next - m->hdr_end);
	return a + n + m->next - m->hdr_end;
}

/* The rules again, slowly, on the input ------------------------------- */

/*
 * RETR of message m byte by byte: each line's LF, or CRLF, as CRLF; a "."
 * at a line's start doubled; CRLF after a last line without an LF.  The
 * emitted bytes must be exactly these.
 */
static void
check_retr(const uint8_t *d, const struct mbox_msg *m, const struct sink *s)
{
	size_t	i, n = 0;
	int	bol = 1, cr = 0;

#define WANT(c)	do { ASSERT(n < s->len && s->buf[n] == (c)); n++; } while (0)
	for (i = m->body; i < m->end; i++) {
		if (bol && d[i] == '.')
			WANT('.');
		bol = d[i] == '\n';
		if (d[i] == '\n' && !cr)
			WANT('\r');
		WANT(d[i]);
		cr = d[i] == '\r';
	}
	if (!bol) {
		WANT('\r');
		WANT('\n');
	}
#undef WANT
	ASSERT(n == s->len);
}

static size_t
fz_line_end(const uint8_t *d, size_t size, size_t p)
{
	const uint8_t	*nl = memchr(d + p, '\n', size - p);

	return nl != NULL ? (size_t)(nl - d) + 1 : size;
}

static int
fz_empty(const uint8_t *d, size_t p, size_t le)
{
	return (le - p == 1 && d[p] == '\n') ||
	    (le - p == 2 && d[p] == '\r' && d[p + 1] == '\n');
}

/* An empty line at line start p, then "From " or the end of the input. */
static int
fz_sep(const uint8_t *d, size_t size, size_t p)
{
	size_t	le = fz_line_end(d, size, p);

	return fz_empty(d, p, le) && (le == size ||
	    (size - le >= 5 && memcmp(d + le, "From ", 5) == 0));
}

/* The value of header line [p, le) if it is a plain Content-Length. */
static int
fz_clen_line(const uint8_t *d, size_t p, size_t le, uint64_t *n_r,
    int *bad)
{
	uint64_t	n = 0;
	int		digits = 0;

	if (le - p < 15 || strncasecmp((const char *)d + p,
	    "content-length:", 15) != 0)
		return 0;
	for (p += 15; p < le && (d[p] == ' ' || d[p] == '\t'); p++)
		;
	for (; p < le && d[p] >= '0' && d[p] <= '9'; p++, digits++) {
		if (n > (UINT64_MAX - (uint64_t)(d[p] - '0')) / 10)
			*bad = 1;
		n = n * 10 + (uint64_t)(d[p] - '0');
	}
	for (; p < le; p++)
		if (d[p] != ' ' && d[p] != '\t' && d[p] != '\r' &&
		    d[p] != '\n')
			*bad = 1;
	if (digits == 0)
		*bad = 1;
	*n_r = n;
	return 1;
}

/* Header block [b, e) holds one plain Content-Length, and not folded. */
static int
fz_clen(const uint8_t *d, size_t b, size_t e, uint64_t *n_r)
{
	size_t	p, le;
	int	count = 0, bad = 0, last = 0;

	for (p = b; p < e; p = le) {
		le = fz_line_end(d, e, p);
		if (d[p] == ' ' || d[p] == '\t') {
			bad |= last;
			continue;
		}
		last = fz_clen_line(d, p, le, n_r, &bad);
		count += last;
	}
	return count == 1 && !bad;
}

/* Line [p, le) is exactly ^A^A^A^A, then LF, CRLF or the end. */
static int
fz_delim(const uint8_t *d, size_t p, size_t le)
{
	return (le - p == 4 || (le - p == 5 && d[p + 4] == '\n') ||
	    (le - p == 6 && d[p + 4] == '\r' && d[p + 5] == '\n')) &&
	    memcmp(d + p, "\1\1\1\1", 4) == 0;
}

/*
 * Message m of an MMDF mailbox: an opening delimiter (or, after another
 * message, text) and an optional "From " line before its header, which
 * ends at an empty line or a delimiter; its content up to the first
 * delimiter, after which only empty lines go with it.
 */
static void
check_mmdf_msg(const uint8_t *d, size_t size, const struct mbox_msg *m)
{
	size_t	p, le;

	le = fz_line_end(d, size, m->from);
	if (fz_delim(d, m->from, le))
		p = le;
	else {
		ASSERT(m->from > 0 && !fz_empty(d, m->from, le));
		p = m->from;
	}
	if (size - p >= 5 && memcmp(d + p, "From ", 5) == 0)
		p = fz_line_end(d, size, p);
	ASSERT(m->body == p);
	for (; p < m->hdr_end; p = le) {
		le = fz_line_end(d, size, p);
		ASSERT(!fz_empty(d, p, le) && !fz_delim(d, p, le));
	}
	for (; p < m->end; p = le) {
		le = fz_line_end(d, size, p);
		ASSERT(!fz_delim(d, p, le));
	}
	if (m->end == size) {
		ASSERT(m->next == size);
		return;
	}
	le = fz_line_end(d, size, m->end);
	ASSERT(fz_delim(d, m->end, le));
	for (p = le; p < m->next; p = le) {
		le = fz_line_end(d, size, p);
		ASSERT(fz_empty(d, p, le));
	}
	ASSERT(m->next == size || !fz_empty(d, m->next,
	    fz_line_end(d, size, m->next)));
}

/* Header block [b, e) has c-client's Subject and an X-IMAP header. */
static int
fz_pseudo(const uint8_t *d, size_t b, size_t e)
{
	static const char	 subj[] =
	    "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA";
	size_t			 p, le, v, ve;
	int			 has_subj = 0, has_imap = 0;

	for (p = b; p < e; p = le) {
		le = fz_line_end(d, e, p);
		if ((le - p >= 7 && strncasecmp((const char *)d + p,
		    "x-imap:", 7) == 0) || (le - p >= 11 &&
		    strncasecmp((const char *)d + p, "x-imapbase:", 11) == 0))
			has_imap = 1;
		if (le - p < 8 || strncasecmp((const char *)d + p, "subject:",
		    8) != 0)
			continue;
		for (v = p + 8; v < le && (d[v] == ' ' || d[v] == '\t'); v++)
			;
		for (ve = le; ve > v && (d[ve - 1] == ' ' ||
		    d[ve - 1] == '\t' || d[ve - 1] == '\r' ||
		    d[ve - 1] == '\n'); ve--)
			;
		if (ve - v == sizeof(subj) - 1 && memcmp(d + v, subj,
		    ve - v) == 0)
			has_subj = 1;
	}
	return has_subj && has_imap;
}

/*
 * The first message of the file is hidden exactly when its header block
 * makes it the pseudo message; it then ends at mb.start, and the bytes
 * before mb.start, parsed alone, are that one hidden message.
 */
static void
check_pseudo(const uint8_t *d, size_t size, const struct mbox *mb)
{
	struct mbox	 alone;
	const char	*why = NULL;
	size_t		 b, e, le;

	ASSERT(mb->start <= size && mb->hidden <= 1);
	ASSERT((mb->start > 0) == (mb->hidden == 1));
	ASSERT(mb->n > 0 || mb->start == size);
	if (size == 0)
		return;
	b = fz_line_end(d, size, 0);
	if (mb->mmdf && size - b >= 5 && memcmp(d + b, "From ", 5) == 0)
		b = fz_line_end(d, size, b);
	for (e = b; e < size; e = le) {
		le = fz_line_end(d, size, e);
		if (fz_empty(d, e, le) || (mb->mmdf && fz_delim(d, e, le)))
			break;
	}
	ASSERT(fz_pseudo(d, b, e) == (mb->hidden == 1));
	if (!mb->hidden)
		return;
	ASSERT(e <= mb->start);
	ASSERT(mbox_parse(&alone, d, mb->start, &why) == 0);
	ASSERT(alone.n == 0 && alone.hidden == 1 && alone.start == mb->start);
	mbox_free(&alone);
}

/*
 * Message m of a From_ mailbox: its From_ line, its header block up to
 * the first empty line, and its end at the first separator after that,
 * unless a plain Content-Length lands on a separator or the end.
 */
static void
check_from_msg(const uint8_t *d, size_t size, const struct mbox_msg *m)
{
	uint64_t	n = 0;
	size_t		p, le, bstart, at = SIZE_MAX;

	ASSERT(size - m->from >= 5 && memcmp(d + m->from, "From ", 5) == 0);
	ASSERT(m->body == fz_line_end(d, size, m->from));
	for (p = m->body; p < m->hdr_end; p = le) {
		le = fz_line_end(d, size, p);
		ASSERT(!fz_empty(d, p, le));
	}
	ASSERT(m->hdr_end == size || fz_empty(d, m->hdr_end,
	    fz_line_end(d, size, m->hdr_end)));
	/* What follows the content: nothing at the end, or a separator. */
	if (m->end == m->next)
		ASSERT(m->next == size);
	else
		ASSERT(fz_sep(d, size, m->end) &&
		    fz_line_end(d, size, m->end) == m->next);
	if (m->hdr_end < size && fz_clen(d, m->body, m->hdr_end, &n)) {
		bstart = fz_line_end(d, size, m->hdr_end);
		if (n <= size - bstart && (bstart + n == size ||
		    (d[bstart + n - 1] == '\n' && fz_sep(d, size, bstart + n))))
			at = bstart + n;
	}
	if (at != SIZE_MAX) {
		ASSERT(m->end == at);
		return;
	}
	/* Without a count believed, no separator inside the content. */
	for (p = m->hdr_end; p < m->end; p = fz_line_end(d, size, p))
		ASSERT(!fz_sep(d, size, p));
}

static void
check_compact(const struct mbox *mb, const uint8_t *data, size_t size)
{
	uint8_t		*want, *got;
	uint64_t	 newsize = 0;
	const char	*why = NULL;
	size_t		 i, wl = 0, first;
	int		 fd, jfd;

	if ((fd = memfd_create("mbox", MFD_CLOEXEC)) == -1)
		return;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	if ((want = malloc(size + 1)) == NULL || (got = malloc(size + 1)) ==
	    NULL)
		abort();
	if ((want = realloc(want, size + mb->n * (UID_LEN_MAX + 12) + 1)) ==
	    NULL)
		abort();
	for (i = 0; i < mb->n && !mbox_deleted(mb, i); i++)
		;
	first = i;
	/* The hidden pseudo message stays, whatever is deleted. */
	memcpy(want, data, mb->start);
	wl = mb->start;
	for (i = 0; i < mb->n; i++)
		if (!mbox_deleted(mb, i))
			wl += expect_msg(mb, i, i > first, data, want + wl);
	if ((jfd = memfd_create("journal", MFD_CLOEXEC)) == -1)
		abort();
	ASSERT(mbox_compact(mb, fd, jfd, size, &newsize, &why) == 0);
	close(jfd);
	ASSERT(newsize == wl);
	if ((got = realloc(got, wl + 1)) == NULL)
		abort();
	ASSERT(pread(fd, got, wl + 1, 0) == (ssize_t)wl);
	ASSERT(wl == 0 || memcmp(got, want, wl) == 0);
	free(want);
	free(got);
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbox	 mb;
	struct sink	 r = { NULL, 0, 0 }, t = { NULL, 0, 0 };
	const char	*why = NULL;
	char		 uid[UID_BUF];
	size_t		 i, j, ul;
	int64_t		 tops[3];
	int		 rc, k;

	rc = mbox_parse(&mb, data, size, &why);
	if (rc == -1) {
		/* Refused: not a message is served or moved. */
		ASSERT(why != NULL);
		ASSERT(mb.n == 0 && mb.msgs == NULL);
		ASSERT(size < 5 || memcmp(data, "From ", 5) != 0);
		ASSERT(!fz_delim(data, 0, fz_line_end(data, size, 0)));
		mbox_free(&mb);
		return 0;
	}
	ASSERT(mb.mmdf == (size > 0 && fz_delim(data, 0,
	    fz_line_end(data, size, 0))));
	check_pseudo(data, size, &mb);
	tops[0] = 0;
	tops[1] = 1;
	tops[2] = size > 0 ? data[size - 1] % 16 : 2;
	for (i = 0; i < mb.n; i++) {
		const struct mbox_msg *m = &mb.msgs[i];

		/* Offsets: inside the input, ordered, tiling it. */
		ASSERT(m->from <= m->body && m->body <= m->hdr_end &&
		    m->hdr_end <= m->end && m->end <= m->next &&
		    m->next <= size && m->from < m->next);
		if (mb.mmdf)
			check_mmdf_msg(data, size, m);
		else
			check_from_msg(data, size, m);
		ASSERT(i == 0 ? m->from == mb.start :
		    m->from == mb.msgs[i - 1].next);
		if (i + 1 == mb.n)
			ASSERT(m->next == size);
		/* UID: 1 to 70 printable characters, unique. */
		mbox_uid(&mb, m, uid);
		ul = strlen(uid);
		ASSERT(ul >= 1 && ul <= UID_LEN_MAX);
		for (j = 0; j < ul; j++)
			ASSERT(uid[j] >= 0x21 && uid[j] <= 0x7e);
#ifndef FUZZ_NO_UID_UNIQUE
		for (j = 0; j < i; j++)
			ASSERT(strcmp(uid, UIDOF(&mb, j)) != 0);
#endif

		r.len = 0;
		ASSERT(mbox_emit(&mb, i, -1, sink_fn, &r) == 0);
		check_wire(&r);
		check_retr(data, m, &r);
		ASSERT(m->octets == unstuffed_len(&r));
		for (k = 0; k < 3; k++) {
			t.len = 0;
			ASSERT(mbox_emit(&mb, i, tops[k], sink_fn, &t) == 0);
			check_wire(&t);
			ASSERT(t.len <= r.len);
			ASSERT(t.len == 0 || memcmp(t.buf, r.buf, t.len) == 0);
		}
		mbox_mark_deleted(&mb, i, i % 2 == 0);
	}
	if (mb.n > 0)
		check_compact(&mb, data, size);
	free(r.buf);
	free(t.buf);
	mbox_free(&mb);
	return 0;
}
