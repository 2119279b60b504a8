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
 * The mbox parser of the spool worker (the mail user, no groups, chroot,
 * seccomp).  It indexes the mailbox the worker mapped read-only from the
 * descriptor the monitor handed it, and trusts nothing in it: anyone can
 * send mail, so every line and offset is bounded by the mapped size, no
 * line length is assumed, and a mailbox it cannot read is refused whole
 * rather than guessed at.  It never writes; mbox.c serves and rewrites
 * what it indexed.
 *
 * A message starts at a "From " line that begins the file or follows an
 * empty line; the empty line before it belongs to the separator, not to
 * the message.  A Content-Length header is believed only when the body it
 * counts ends exactly where a separator or the end of the file is: then
 * a "From " line inside that body does not split the message, and a
 * wrong count (too large, too small, not a number) changes nothing, so
 * that two messages are never served as one.
 *
 * An MMDF mailbox (SCO, MMDF, c-client) starts with a line of four ^A
 * bytes; each message is enclosed in two such lines, and a "From " line
 * just after the opening one is an envelope, not a header.  Delimiters,
 * and empty lines between a closing delimiter and the next opening one,
 * are not served; any other text there is served as a message of its own
 * rather than hidden inside another's bytes on disk.
 *
 * The first message of the file may be the pseudo message c-client (UW
 * IMAP, Pine) keeps its folder data in: its Subject is PSEUDO_SUBJECT and
 * it has an X-IMAP or X-IMAPbase header.  It is left out of the index,
 * so no client sees or deletes it, and mb->start, the first served
 * message, says where the bytes that updates must keep end.  A sender
 * cannot make a message first in a mailbox that holds mail, so only mail
 * to an empty mailbox could hide itself this way.
 *
 * Each message's bytes on disk, [from, next), follow the previous one's
 * from mb->start to the end of the file, so that an update that keeps or
 * removes whole ranges never cuts a message or leaves stray bytes behind.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "log.h"
#include "params.h"
#include "spool.h"

#define FROM_ERR	"Unable to process From lines (envelope), change " \
			"recognition modes"
#define PSEUDO_SUBJECT	"DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA"

/* The mapped mailbox being indexed. */
struct scan {
	struct mbox	*mb;
	const uint8_t	*map;
	uint64_t	 size;
	int		 mmdf;		/* delimiters, not From_ separators */
};

/* What the header block of one message says about where it ends. */
struct hdr {
	uint64_t	 clen;		/* the Content-Length value */
	int		 nclen;		/* Content-Length headers seen */
	int		 clen_bad;	/* one of them is not a plain number */
	int		 in_clen;	/* the last header line was one */
	int		 pseudo_subject; /* Subject: PSEUDO_SUBJECT */
	int		 ximap;		/* X-IMAP: or X-IMAPbase: */
};

static uint64_t	line_end(const struct scan *, uint64_t, uint64_t);
static uint64_t	line_octets(const struct scan *, uint64_t, uint64_t);
static uint64_t	bare_lfs(const uint8_t *, uint64_t, uint64_t);
static uint64_t	range_octets(const struct scan *, uint64_t, uint64_t);
static int	is_empty_line(const uint8_t *, uint64_t);
static int	starts_from(const struct scan *, uint64_t);
static int	is_delim(const uint8_t *, uint64_t);
static int	field_value(const uint8_t *, uint64_t, const char *,
		    const uint8_t **, uint64_t *);
static void	header_uid(struct mbox *, struct mbox_msg *, const uint8_t *,
		    uint64_t);
static int	parse_clen(const uint8_t *, uint64_t, uint64_t *);
static void	header_line(struct mbox *, struct mbox_msg *, struct hdr *,
		    const uint8_t *, uint64_t);
static uint64_t	scan_header(const struct scan *, struct mbox_msg *,
		    struct hdr *);
static int	is_separator(const struct scan *, uint64_t, uint64_t);
static uint64_t	separator_at(const struct scan *, uint64_t, uint64_t);
static uint64_t	find_separator(const struct scan *, uint64_t);
static int	clen_end(const struct scan *, struct mbox_msg *,
		    const struct hdr *, uint64_t);
static void	scan_body(const struct scan *, struct mbox_msg *, uint64_t);
static void	scan_mmdf(const struct scan *, struct mbox_msg *, uint64_t);
static struct mbox_msg *new_msg(struct mbox *, uint64_t);
static void	end_msg(struct mbox *, const struct hdr *);
static int	parse_from(struct scan *, uint64_t, const char **);
static int	parse_mmdf(struct scan *, uint64_t, const char **);
static void	refuse(struct mbox *);

/*
 * The end of the line at pos, not beyond lim: just after its LF, or lim
 * for a last line without one.
 */
static uint64_t
line_end(const struct scan *sc, uint64_t pos, uint64_t lim)
{
	const uint8_t	*nl;

	if (pos >= lim)
		return lim;
	nl = memchr(sc->map + pos, '\n', (size_t)(lim - pos));
	/* UNSAFE: nl lies in [map + pos, map + lim). */
	return nl != NULL ? (uint64_t)(nl - sc->map) + 1 : lim;
}

/*
 * The size of line [pos, le) as mbox_emit sends it: a CRLF stays, a bare
 * LF becomes CRLF, and a line without a line end gets one.  A CR before
 * that added CRLF stays, as mbox_emit keeps it.
 */
static uint64_t
line_octets(const struct scan *sc, uint64_t pos, uint64_t le)
{
	uint64_t	len = le - pos;

	if (len == 0)
		return 0;
	if (sc->map[le - 1] != '\n')
		return len + 2;
	if (len >= 2 && sc->map[le - 2] == '\r')
		return len;
	return len + 1;
}

/*
 * The line feeds in [a, b) that no CR is just before (a bare LF at a, the
 * start of a line, is one whatever precedes it): each becomes CRLF on the
 * wire.  16 bytes at a time with SSE2.
 */
static uint64_t
bare_lfs(const uint8_t *map, uint64_t a, uint64_t b)
{
	uint64_t	i, n = 0;

	if (a >= b)
		return 0;
	n = map[a] == '\n';
	i = a + 1;
#ifdef __SSE2__
	{
		const __m128i	lf = _mm_set1_epi8('\n');
		const __m128i	cr = _mm_set1_epi8('\r');
		__m128i		l, c, acc, sum;
		unsigned	k;

		/* Per byte lane, at most 255 blocks before they are summed. */
		while (b - i >= 16) {
			acc = _mm_setzero_si128();
			for (k = 0; k < 255 && b - i >= 16; k++, i += 16) {
				l = _mm_cmpeq_epi8(_mm_loadu_si128(
				    (const void *)(map + i)), lf);
				c = _mm_cmpeq_epi8(_mm_loadu_si128(
				    (const void *)(map + i - 1)), cr);
				acc = _mm_sub_epi8(acc, _mm_andnot_si128(c, l));
			}
			sum = _mm_sad_epu8(acc, _mm_setzero_si128());
			n += (uint64_t)_mm_cvtsi128_si64(sum) +
			    (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sum,
			    sum));
		}
	}
#endif
	for (; i < b; i++)
		n += map[i] == '\n' && map[i - 1] != '\r';
	return n;
}

/*
 * The octets of [pos, lim) as sent, lim being a line start or the end:
 * the sum of line_octets() over its lines.  Each line keeps its bytes; a
 * bare LF adds a CR; a last line without LF (only the end of the range
 * can have one) gets CRLF.
 */
static uint64_t
range_octets(const struct scan *sc, uint64_t pos, uint64_t lim)
{
	if (pos >= lim)
		return 0;
	return (lim - pos) + bare_lfs(sc->map, pos, lim) +
	    (sc->map[lim - 1] != '\n' ? 2 : 0);
}

static int
is_empty_line(const uint8_t *p, uint64_t len)
{
	return (len == 1 && p[0] == '\n') ||
	    (len == 2 && p[0] == '\r' && p[1] == '\n');
}

/* A "From " line starts at pos (which may be the end of the map). */
static int
starts_from(const struct scan *sc, uint64_t pos)
{
	return pos <= sc->size && sc->size - pos >= 5 &&
	    memcmp(sc->map + pos, "From ", 5) == 0;
}

/*
 * Line p (len bytes, its line end included) is an MMDF delimiter: exactly
 * four ^A, then LF, CRLF or the end of the map.
 */
static int
is_delim(const uint8_t *p, uint64_t len)
{
	if (len < 4 || memcmp(p, "\1\1\1\1", 4) != 0)
		return 0;
	return len == 4 || (len == 5 && p[4] == '\n') ||
	    (len == 6 && p[4] == '\r' && p[5] == '\n');
}

/*
 * If header line p (len bytes, its line end included) is field name
 * ("Name:", any case), its value without the blanks around it and the
 * line end.
 */
static int
field_value(const uint8_t *p, uint64_t len, const char *name,
    const uint8_t **v_r, uint64_t *vlen_r)
{
	size_t	nlen = strlen(name);

	/* UNSAFE: p is not a string; strncasecmp reads at most nlen <= len. */
	if (len < nlen || strncasecmp((const char *)p, name, nlen) != 0)
		return 0;
	p += nlen;
	len -= nlen;
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' ||
	    p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	*v_r = p;
	*vlen_r = len;
	return 1;
}

/* An X-UIDL header (Qpopper's) gives the message its UID, if valid. */
static void
header_uid(struct mbox *mb, struct mbox_msg *m, const uint8_t *v,
    uint64_t len)
{
	uint64_t	i;

	if (m->uid_len != 0 || len == 0 || len > UID_LEN_MAX)
		return;
	for (i = 0; i < len; i++)
		if (v[i] < 0x21 || v[i] > 0x7e)
			return;
	if (mbox_set_uid(mb, m, v, (size_t)len) == -1)
		fatal("%s", __func__);
}

/*
 * A Content-Length value: decimal digits only (no sign, no blank inside),
 * at most UINT64_MAX.  Anything else is not a count we can trust.
 */
static int
parse_clen(const uint8_t *v, uint64_t len, uint64_t *n_r)
{
	uint64_t	i, n = 0, d;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0;
		d = (uint64_t)(v[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			return 0;
		n = n * 10 + d;
	}
	*n_r = n;
	return 1;
}

/* One line of the header block, its line end included. */
static void
header_line(struct mbox *mb, struct mbox_msg *m, struct hdr *h,
    const uint8_t *p, uint64_t len)
{
	const uint8_t	*v;
	uint64_t	 vlen;

	/* A value folded onto the next line is no longer a plain number. */
	if (len > 0 && (p[0] == ' ' || p[0] == '\t')) {
		if (h->in_clen)
			h->clen_bad = 1;
		return;
	}
	h->in_clen = 0;
	if (field_value(p, len, "X-UIDL:", &v, &vlen))
		header_uid(mb, m, v, vlen);
	else if (field_value(p, len, "Content-Length:", &v, &vlen)) {
		h->in_clen = 1;
		/* Several: which one would be right?  None is believed. */
		h->nclen++;
		if (!parse_clen(v, vlen, &h->clen))
			h->clen_bad = 1;
	} else if (field_value(p, len, "Subject:", &v, &vlen)) {
		if (vlen == sizeof(PSEUDO_SUBJECT) - 1 && memcmp(v,
		    PSEUDO_SUBJECT, vlen) == 0)
			h->pseudo_subject = 1;
	} else if (field_value(p, len, "X-IMAP:", &v, &vlen) ||
	    field_value(p, len, "X-IMAPbase:", &v, &vlen))
		h->ximap = 1;
}

/*
 * Read the header block of m from m->body up to the empty line that ends
 * it, an MMDF delimiter (in an MMDF mailbox) or the end of the map, and
 * return where it stopped.  The empty line is left to the caller: it may
 * be the separator before the next message.
 */
static uint64_t
scan_header(const struct scan *sc, struct mbox_msg *m, struct hdr *h)
{
	uint64_t	pos, le;

	for (pos = m->body; pos < sc->size; pos = le) {
		le = line_end(sc, pos, sc->size);
		if (is_empty_line(sc->map + pos, le - pos) ||
		    (sc->mmdf && is_delim(sc->map + pos, le - pos)))
			break;
		header_line(sc->mb, m, h, sc->map + pos, le - pos);
		m->octets += line_octets(sc, pos, le);
	}
	m->hdr_end = pos;
	return pos;
}

/*
 * Line [pos, le) is a separator: an empty line followed by a "From " line
 * or by the end of the map.
 */
static int
is_separator(const struct scan *sc, uint64_t pos, uint64_t le)
{
	return is_empty_line(sc->map + pos, le - pos) &&
	    (le == sc->size || starts_from(sc, le));
}

/*
 * The LF at j, j >= pos, ends an empty line that starts at pos or after
 * an LF, and a "From " line or the end of the map follows it: return the
 * empty line's start, else UINT64_MAX.
 */
static uint64_t
separator_at(const struct scan *sc, uint64_t pos, uint64_t j)
{
	const uint8_t	*map = sc->map;

	if (j + 1 != sc->size && !starts_from(sc, j + 1))
		return UINT64_MAX;
	if (j == pos || map[j - 1] == '\n')
		return j;
	if (map[j - 1] == '\r' && (j - 1 == pos || map[j - 2] == '\n'))
		return j - 1;
	return UINT64_MAX;
}

/*
 * The first line at or after pos, a line start, that is a separator
 * (is_separator()), or the end of the map.  Only an LF followed by an F or
 * by the end of the map can end one, so those are looked for 16 bytes at
 * a time with SSE2 and then checked whole; test_mbox_parse compares the
 * result with a walk line by line.
 */
static uint64_t
find_separator(const struct scan *sc, uint64_t pos)
{
	const uint8_t	*map = sc->map;
	uint64_t	 j = pos, p;

#ifdef __SSE2__
	{
		const __m128i	lf = _mm_set1_epi8('\n');
		const __m128i	ef = _mm_set1_epi8('F');
		unsigned	m;

		/* Each block's 16 bytes and the one after it are mapped. */
		for (; j < sc->size && sc->size - j >= 17; j += 16) {
			m = (unsigned)_mm_movemask_epi8(_mm_and_si128(
			    _mm_cmpeq_epi8(_mm_loadu_si128(
			    (const void *)(map + j)), lf),
			    _mm_cmpeq_epi8(_mm_loadu_si128(
			    (const void *)(map + j + 1)), ef)));
			for (; m != 0; m &= m - 1) {
				p = separator_at(sc, pos,
				    j + (uint64_t)__builtin_ctz(m));
				if (p != UINT64_MAX)
					return p;
			}
		}
	}
#endif
	for (; j < sc->size; j++) {
		if (map[j] != '\n' ||
		    (j + 1 != sc->size && map[j + 1] != 'F'))
			continue;
		if ((p = separator_at(sc, pos, j)) != UINT64_MAX)
			return p;
	}
	return sc->size;
}

/*
 * Whether m's Content-Length is believed depends on bytes at or near the
 * end of the file, which mail appended later changes: the start-up cache
 * must parse the file again from m on (mb->reparse).
 */
static void
note_open(struct mbox *mb, const struct mbox_msg *m)
{
	if (m->from < mb->reparse)
		mb->reparse = m->from;
}

/*
 * End m by its Content-Length, if the header holds exactly one, a plain
 * number, and the body it counts (the bytes on disk after the empty line
 * that ends the header, a CRLF counting two) ends at the end of the map
 * or just before a separator.  hend is that empty line, or the end of
 * the map if there is none.  Returns 0, m untouched, if the count is not
 * believed: the separators then say where m ends.
 */
static int
clen_end(const struct scan *sc, struct mbox_msg *m, const struct hdr *h,
    uint64_t hend)
{
	uint64_t	bstart, at, next;

	if (h->nclen != 1 || h->clen_bad || hend >= sc->size)
		return 0;
	bstart = line_end(sc, hend, sc->size);
	/* Compared before it is added: no sum can wrap. */
	if (h->clen > sc->size - bstart) {
		note_open(sc->mb, m);
		return 0;
	}
	at = bstart + h->clen;
	if (sc->size - line_end(sc, at, sc->size) < 5)
		note_open(sc->mb, m);
	if (at == sc->size)
		next = at;
	else {
		/* The count must end a line, and a separator follow it. */
		next = line_end(sc, at, sc->size);
		if (sc->map[at - 1] != '\n' || !is_separator(sc, at, next))
			return 0;
	}
	m->end = at;
	m->next = next;
	m->octets += range_octets(sc, hend, at);
	return 1;
}

/*
 * The rest of m from pos: up to a separator (so, of several empty lines
 * before a "From " line, only the last one is the separator's) or the end
 * of the map.
 */
static void
scan_body(const struct scan *sc, struct mbox_msg *m, uint64_t pos)
{
	uint64_t	sep = find_separator(sc, pos);

	m->octets += range_octets(sc, pos, sep);
	m->end = sep;
	m->next = line_end(sc, sep, sc->size);
}

/*
 * The rest of MMDF message m from pos, up to its closing delimiter; the
 * empty lines after that delimiter go with it, so that the next range
 * starts at an opening delimiter or at text.  Without a closing
 * delimiter, m ends at the end of the map.
 */
static void
scan_mmdf(const struct scan *sc, struct mbox_msg *m, uint64_t pos)
{
	uint64_t	le;

	for (; pos < sc->size; pos = le) {
		le = line_end(sc, pos, sc->size);
		if (is_delim(sc->map + pos, le - pos))
			break;
		m->octets += line_octets(sc, pos, le);
	}
	m->end = pos;
	m->next = line_end(sc, pos, sc->size);
	while (m->next < sc->size) {
		le = line_end(sc, m->next, sc->size);
		if (!is_empty_line(sc->map + m->next, le - m->next))
			break;
		m->next = le;
	}
}

static struct mbox_msg *
new_msg(struct mbox *mb, uint64_t from)
{
	struct mbox_msg	*m;

	if ((m = mbox_new_msg(mb)) != NULL)
		m->from = from;
	return m;
}

/*
 * The message just indexed is complete.  If it is c-client's pseudo
 * message, which only the first message of the file can be, take it out
 * of the index: the served messages start after it.
 */
static void
end_msg(struct mbox *mb, const struct hdr *h)
{
	struct mbox_msg	*m = &mb->msgs[mb->n - 1];

	if (m->from != 0 || !h->pseudo_subject || !h->ximap)
		return;
	mb->start = m->next;
	mb->hidden = 1;
	mb->n--;
}

/* A mailbox of From_ separators from pos, a message's start. */
static int
parse_from(struct scan *sc, uint64_t pos, const char **why)
{
	struct mbox_msg	*m;
	struct hdr	 h;
	uint64_t	 hend;

	while (pos < sc->size) {
		if ((m = new_msg(sc->mb, pos)) == NULL) {
			*why = "Too many messages in the mailbox";
			return -1;
		}
		m->body = line_end(sc, pos, sc->size);
		memset(&h, 0, sizeof(h));
		hend = scan_header(sc, m, &h);
		if (!clen_end(sc, m, &h, hend)) {
			scan_body(sc, m, hend);
			/* A count not believed might be once the bytes after change. */
			m->clen_unused = h.nclen == 1 && !h.clen_bad &&
			    hend < sc->size;
		}
		pos = m->next;
		end_msg(sc->mb, &h);
	}
	return 0;
}

/*
 * A mailbox of MMDF delimiters; the first line is one.  A message without
 * an opening delimiter (text after a closing one) starts at its first
 * line.
 */
static int
parse_mmdf(struct scan *sc, uint64_t pos, const char **why)
{
	struct mbox_msg	*m;
	struct hdr	 h;
	uint64_t	 le, hend;

	while (pos < sc->size) {
		if ((m = new_msg(sc->mb, pos)) == NULL) {
			*why = "Too many messages in the mailbox";
			return -1;
		}
		le = line_end(sc, pos, sc->size);
		m->body = is_delim(sc->map + pos, le - pos) ? le : pos;
		/* c-client writes an envelope line after the delimiter. */
		if (starts_from(sc, m->body))
			m->body = line_end(sc, m->body, sc->size);
		memset(&h, 0, sizeof(h));
		hend = scan_header(sc, m, &h);
		scan_mmdf(sc, m, hend);
		pos = m->next;
		end_msg(sc->mb, &h);
	}
	return 0;
}

/* A refused mailbox has no messages: nothing in it is served or moved. */
static void
refuse(struct mbox *mb)
{
	const uint8_t	*map = mb->map;
	uint64_t	 size = mb->size;

	mbox_free(mb);
	mb->map = map;
	mb->size = size;
	mb->reparse = UINT64_MAX;
}

/* Digests and ids of the messages from first on, and the file's end. */
static int
finish(struct mbox *mb, size_t first)
{
	struct mbox_msg	*m;

	for (m = mb->msgs + first; m < mb->msgs + mb->n; m++) {
		mbox_digest(mb->map + m->from, m->hdr_end - m->from, m->digest);
		mb->octets += m->octets;
	}
	if (mbox_assign_uids(mb, first) == -1)
		return -1;
	mbox_tail_digest(mb, mb->tail);
	return 0;
}

int
mbox_parse(struct mbox *mb, const uint8_t *map, uint64_t size,
    const char **why)
{
	struct scan	 sc;
	int		 rc;

	memset(mb, 0, sizeof(*mb));
	mb->map = map;
	mb->size = size;
	mb->reparse = UINT64_MAX;
	if (size == 0)
		return 0;
	sc.mb = mb;
	sc.map = map;
	sc.size = size;
	/* The first line says which format; anything else is refused. */
	sc.mmdf = is_delim(map, line_end(&sc, 0, size));
	if (!sc.mmdf && !starts_from(&sc, 0)) {
		*why = FROM_ERR;
		return -1;
	}
	mb->mmdf = sc.mmdf;
	rc = sc.mmdf ? parse_mmdf(&sc, 0, why) : parse_from(&sc, 0, why);
	if (rc == -1) {
		refuse(mb);
		return -1;
	}
	if (finish(mb, 0) == -1)
		bug("%s: ids of a fresh index repeat", __func__);
	return 0;
}

/*
 * Continue an index that ends at pos (a message's start, where the first
 * mb->n messages end, none of which has an open Content-Length: the
 * start-up cache) over the file as it is now,
 * map of size bytes.  The format, mb->start and mb->hidden are those of
 * the cached index.  Returns 0, or -1 if the index cannot be continued
 * (too many messages, or the cached ids repeat): then mb is emptied and
 * the caller indexes the whole file again.
 */
int
mbox_parse_more(struct mbox *mb, const uint8_t *map, uint64_t size,
    uint64_t pos, const char **why)
{
	struct scan	sc;
	size_t		first = mb->n;
	int		rc;

	if (pos > size || (first > 0 && mb->msgs[first - 1].next != pos))
		bug("%s: the index does not end at %llu", __func__,
		    (unsigned long long)pos);
	mb->map = map;
	mb->size = size;
	mb->reparse = UINT64_MAX;
	sc.mb = mb;
	sc.map = map;
	sc.size = size;
	sc.mmdf = mb->mmdf;
	rc = sc.mmdf ? parse_mmdf(&sc, pos, why) : parse_from(&sc, pos, why);
	if (rc == -1 || finish(mb, first) == -1) {
		refuse(mb);
		return -1;
	}
	return 0;
}

/*
 * Whether message i, parsed again where it was indexed over the mapped
 * file as it is now, is the same message: the same header block, end,
 * next separator and size.  QUIT asks this of every message it removes,
 * so that a change the index did not see (bytes changed in place inside
 * a message after a start-up cache was written) can never make the
 * update remove a message the client was not shown.
 */
int
mbox_msg_reparses(const struct mbox *mb, size_t i)
{
	const struct mbox_msg	*m = &mb->msgs[i];
	struct mbox		 scratch;
	struct mbox_msg		 t;
	struct scan		 sc;
	struct hdr		 h;
	uint64_t		 le, hend;

	if (i >= mb->n || m->next > mb->size)
		return 0;
	memset(&scratch, 0, sizeof(scratch));
	scratch.reparse = UINT64_MAX;
	sc.mb = &scratch;
	sc.map = mb->map;
	sc.size = mb->size;
	sc.mmdf = mb->mmdf;
	memset(&t, 0, sizeof(t));
	memset(&h, 0, sizeof(h));
	t.from = m->from;
	if (sc.mmdf) {
		le = line_end(&sc, t.from, sc.size);
		t.body = is_delim(sc.map + t.from, le - t.from) ? le : t.from;
		if (starts_from(&sc, t.body))
			t.body = line_end(&sc, t.body, sc.size);
		hend = scan_header(&sc, &t, &h);
		scan_mmdf(&sc, &t, hend);
	} else {
		if (!starts_from(&sc, t.from))
			return 0;
		t.body = line_end(&sc, t.from, sc.size);
		hend = scan_header(&sc, &t, &h);
		if (!clen_end(&sc, &t, &h, hend))
			scan_body(&sc, &t, hend);
	}
	free(scratch.xtext);
	return t.body == m->body && t.hdr_end == m->hdr_end &&
	    t.end == m->end && t.next == m->next && t.octets == m->octets;
}
