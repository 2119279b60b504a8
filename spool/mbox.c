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
 * The mbox writer of the spool worker (the mail user, no groups, chroot,
 * seccomp): sends the messages mbox_parse.c indexed, and rewrites the
 * mailbox after QUIT.  The mailbox is mapped read-only and its content is
 * hostile (anyone can send mail), so every line and offset is bounded by
 * the mapped size, and no line length is assumed.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "log.h"
#include "params.h"
#include "spool.h"

struct out {
	mbox_out_fn	 fn;
	void		*arg;
	size_t		 len;
	uint8_t		 buf[MSG_DATA_CHUNK];
};

static int	out_put(struct out *, const void *, size_t);
static int	out_flush(struct out *);

_Static_assert(sizeof(struct mbox_msg) == 96, "the cache's record");

/*
 * A buffer of a frame's data, mapped for one answer and unmapped after
 * it: an idle session keeps none of it, as it would keep a freed heap
 * block of this size.
 */
void *
mbox_buf_new(size_t len)
{
	void	*p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void
mbox_buf_free(void *p, size_t len)
{
	if (p != NULL)
		munmap(p, len);
}

void
mbox_free(struct mbox *mb)
{
	if (mb->recs != NULL)
		munmap(mb->recs, mb->recs_len);
	else
		free(mb->msgs);
	if (mb->file != NULL)
		munmap(mb->file, mb->file_len);
	free(mb->xtext);
	free(mb->del);
	free(mb->ret);
	memset(mb, 0, sizeof(*mb));
}

/*
 * Move an index served from the start-up cache's pages to memory of its
 * own, ids and all, so that the cache file can be rewritten under it.
 * Returns -1 (mb as it was) when out of memory.
 */
int
mbox_unmap(struct mbox *mb)
{
	struct mbox_msg	*m;
	char		*t = NULL;
	size_t		 tl = mb->ctext_len + mb->xtext_len;

	if (mb->recs == NULL)
		return 0;
	m = reallocarray(NULL, mb->n + 1, sizeof(*m));
	if (tl > 0)
		t = malloc(tl);
	if (m == NULL || (tl > 0 && t == NULL)) {
		free(m);
		free(t);
		return -1;
	}
	memcpy(m, mb->msgs, mb->n * sizeof(*m));
	if (mb->ctext_len > 0)
		memcpy(t, mb->ctext, mb->ctext_len);
	if (mb->xtext_len > 0)
		memcpy(t + mb->ctext_len, mb->xtext, mb->xtext_len);
	munmap(mb->recs, mb->recs_len);
	if (mb->file != NULL)
		munmap(mb->file, mb->file_len);
	free(mb->xtext);
	mb->recs = mb->file = NULL;
	mb->recs_len = mb->recs_file = mb->file_len = 0;
	mb->msgs = m;
	mb->cap = mb->n + 1;
	mb->xtext = t;
	mb->xtext_len = mb->xtext_cap = tl;
	mb->ctext = NULL;
	mb->ctext_len = 0;
	mb->cache_clean = 0;
	return 0;
}

/* Room for one more message at the end of the index, or NULL. */
struct mbox_msg *
mbox_new_msg(struct mbox *mb)
{
	struct mbox_msg	*m;
	size_t		 cap;

	if (mb->n >= SPOOL_MSGS_MAX)
		return NULL;
	if (mb->n == mb->cap && mb->recs != NULL && mbox_unmap(mb) == -1)
		return NULL;
	if (mb->n == mb->cap) {
		cap = mb->cap ? mb->cap * 2 : 64;
		m = reallocarray(mb->msgs, cap, sizeof(*m));
		if (m == NULL)
			return NULL;
		mb->msgs = m;
		mb->cap = cap;
	}
	m = &mb->msgs[mb->n++];
	memset(m, 0, sizeof(*m));
	return m;
}

/* Message m's id, NUL-terminated in buf (UID_BUF bytes). */
const char *
mbox_uid(const struct mbox *mb, const struct mbox_msg *m, char *buf)
{
	static const char	hex[] = "0123456789abcdef";
	const char		*p;
	size_t			 i;

	if (m->uid_len == 0) {
		for (i = 0; i < 16; i++) {
			buf[2 * i] = hex[m->digest[i] >> 4];
			buf[2 * i + 1] = hex[m->digest[i] & 0xf];
		}
		buf[32] = '\0';
		return buf;
	}
	if (m->uid_off < mb->ctext_len)
		p = mb->ctext + m->uid_off;
	else
		p = mb->xtext + (m->uid_off - mb->ctext_len);
	memcpy(buf, p, m->uid_len);
	buf[m->uid_len] = '\0';
	return buf;
}

/* Give m the id of len bytes at p (1 to UID_LEN_MAX, printable). */
int
mbox_set_uid(struct mbox *mb, struct mbox_msg *m, const void *p, size_t len)
{
	size_t	 cap;
	char	*t;

	if (len == 0 || len > UID_LEN_MAX ||
	    mb->ctext_len + mb->xtext_len + len > UINT32_MAX)
		return -1;
	if (mb->xtext_len + len > mb->xtext_cap) {
		cap = mb->xtext_cap ? mb->xtext_cap * 2 : 1024;
		if (cap < mb->xtext_len + len)
			cap = mb->xtext_len + len;
		if ((t = realloc(mb->xtext, cap)) == NULL)
			return -1;
		mb->xtext = t;
		mb->xtext_cap = cap;
	}
	memcpy(mb->xtext + mb->xtext_len, p, len);
	m->uid_off = (uint32_t)(mb->ctext_len + mb->xtext_len);
	m->uid_len = (uint8_t)len;
	mb->xtext_len += len;
	return 0;
}

static int
bit(const uint8_t *map, size_t i)
{
	return map != NULL && (map[i / 8] >> (i % 8) & 1);
}

static void
set_bit(const struct mbox *mb, uint8_t **map, size_t i, int on)
{
	if (*map == NULL && on &&
	    (*map = calloc(mb->n / 8 + 1, 1)) == NULL)
		fatal("%s", __func__);
	if (on)
		(*map)[i / 8] |= (uint8_t)(1 << (i % 8));
	else if (*map != NULL)
		(*map)[i / 8] &= (uint8_t)~(1 << (i % 8));
}

int
mbox_deleted(const struct mbox *mb, size_t i)
{
	return bit(mb->del, i);
}

int
mbox_retrieved(const struct mbox *mb, size_t i)
{
	return bit(mb->ret, i);
}

void
mbox_mark_deleted(struct mbox *mb, size_t i, int on)
{
	if (i >= mb->n || bit(mb->del, i) == on)
		return;
	set_bit(mb, &mb->del, i, on);
	if (on) {
		mb->ndel++;
		mb->del_octets += mb->msgs[i].octets;
	} else {
		mb->ndel--;
		mb->del_octets -= mb->msgs[i].octets;
	}
}

void
mbox_mark_retrieved(struct mbox *mb, size_t i)
{
	if (i < mb->n)
		set_bit(mb, &mb->ret, i, 1);
}

void
mbox_undelete_all(struct mbox *mb)
{
	free(mb->del);
	mb->del = NULL;
	mb->ndel = 0;
	mb->del_octets = 0;
}

/*
 * Let go of the index's pages that are the cache file's as they are (an
 * idle session keeps none; the next command finds them in the page
 * cache).  Records from cache_clean on may have been written by this
 * session and are kept.
 */
void
mbox_release_index(const struct mbox *mb)
{
	size_t	pg = (size_t)getpagesize(), len;

	if (mb->recs == NULL)
		return;
	len = mb->cache_clean * sizeof(struct mbox_msg) / pg * pg;
	if (len > mb->recs_file)
		len = mb->recs_file;
	if (len > 0 && madvise(mb->recs, len, MADV_DONTNEED) == -1)
		log_warn("madvise index");
}

static int
out_flush(struct out *o)
{
	int	rc = 0;

	if (o->len > 0)
		rc = o->fn(o->arg, o->buf, o->len);
	o->len = 0;
	return rc;
}

static int
out_put(struct out *o, const void *p, size_t len)
{
	const uint8_t	*b = p;
	size_t		 n;

	while (len > 0) {
		if (o->len == sizeof(o->buf) && out_flush(o) == -1)
			return -1;
		n = sizeof(o->buf) - o->len;
		if (n > len)
			n = len;
		memcpy(o->buf + o->len, b, n);
		o->len += n;
		b += n;
		len -= n;
	}
	return 0;
}

/*
 * The line feeds of a message, found 64 bytes at a time: a bit mask of
 * the 64-byte block at base, so that the next line's end is a bit scan
 * rather than a call of memchr() per line (most mail lines are short).
 * mask is that block's while a whole block is left before end; without
 * SSE2, and in the last block, memchr() finds them.
 */
struct lf_scan {
	const uint8_t	*base, *end;	/* the block; the message's end */
	uint64_t	 mask;		/* the block's line feeds */
};

#ifdef __SSE2__
static uint64_t
lf_mask(const uint8_t *p)
{
	const __m128i	lf = _mm_set1_epi8('\n');
	uint64_t	m = 0;
	int		k;

	for (k = 0; k < 4; k++)
		m |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
		    _mm_loadu_si128((const void *)(p + 16 * k)), lf)) <<
		    (16 * k);
	return m;
}
#endif

static void
lf_scan_init(struct lf_scan *s, const uint8_t *p, const uint8_t *end)
{
	s->base = p;
	s->end = end;
	s->mask = 0;
#ifdef __SSE2__
	if (end - p >= 64)
		s->mask = lf_mask(p);
#endif
}

/* The first line feed in [p, s->end), or NULL; p never goes back. */
static const uint8_t *
next_lf(struct lf_scan *s, const uint8_t *p)
{
#ifdef __SSE2__
	uint64_t	m;
	size_t		off;

	while (s->end - s->base >= 64) {
		/* A line that started in an earlier block: from base. */
		off = p > s->base ? (size_t)(p - s->base) : 0;
		m = off >= 64 ? 0 : s->mask & (~0ULL << off);
		if (m != 0)
			return s->base + __builtin_ctzll(m);
		s->base += 64;
		if (s->end - s->base >= 64)
			s->mask = lf_mask(s->base);
	}
#endif
	return memchr(p, '\n', (size_t)(s->end - p));
}

/*
 * One line in wire form: a "." doubled at its start, CRLF after it.  A
 * line that fits in the buffer's room (nearly every one) is written there
 * in one piece; out_put() takes the rest, across a flush.  A short line
 * with 64 bytes of the message from its start and as much room is copied
 * as 64 bytes, a fixed size the compiler copies without a call; the bytes
 * past the line are overwritten by the next one or left past o->len.
 */
static int
out_line(struct out *o, const uint8_t *p, size_t len, const uint8_t *end)
{
	uint8_t	*d;
	int	 dot = len > 0 && *p == '.';

	if (!dot && len <= 62 && end - p >= 64 &&
	    sizeof(o->buf) - o->len >= 64) {
		d = o->buf + o->len;
		memcpy(d, p, 64);
		d[len] = '\r';
		d[len + 1] = '\n';
		o->len += len + 2;
		return 0;
	}
	if (sizeof(o->buf) - o->len < len + 3) {
		if (dot && out_put(o, ".", 1) == -1)
			return -1;
		if (out_put(o, p, len) == -1 || out_put(o, "\r\n", 2) == -1)
			return -1;
		return 0;
	}
	d = o->buf + o->len;
	if (dot)
		*d++ = '.';
	memcpy(d, p, len);
	d += len;
	*d++ = '\r';
	*d++ = '\n';
	o->len = (size_t)(d - o->buf);
	return 0;
}

/*
 * Send message i in wire form: CRLF line ends, a "." doubled at the start
 * of a line (RFC 1939 3), a final CRLF if the message lacks one.  With
 * body_lines >= 0 (TOP), the headers, the empty line and that many body
 * lines.  The terminating "." line is the caller's.
 */
int
mbox_emit(const struct mbox *mb, size_t i, int64_t body_lines,
    mbox_out_fn fn, void *arg)
{
	const struct mbox_msg	*m = &mb->msgs[i];
	struct out		*o;
	struct lf_scan		 s;
	const uint8_t		*p, *nl, *end;
	size_t			 len;
	int64_t			 sent = 0;
	int			 rc = -1;

	if (i >= mb->n || m->end > mb->size || m->body > m->end)
		bug("%s: message %zu out of range", __func__, i);
	if ((o = mbox_buf_new(sizeof(*o))) == NULL)
		return -1;
	o->fn = fn;
	o->arg = arg;
	o->len = 0;
	p = mb->map + m->body;
	end = mb->map + m->end;
	lf_scan_init(&s, p, end);
	while (p < end) {
		if (body_lines >= 0 && p >= mb->map + m->hdr_end) {
			/* In the body (after the empty line): count. */
			if (p > mb->map + m->hdr_end && sent++ >= body_lines)
				break;
		}
		nl = next_lf(&s, p);
		len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (len > 0 && p[len - 1] == '\r' && nl != NULL)
			len--;
		if (out_line(o, p, len, end) == -1)
			goto out;
		p = nl != NULL ? nl + 1 : end;
	}
	rc = out_flush(o);
 out:
	mbox_buf_free(o, sizeof(*o));
	return rc;
}

/* The first message marked deleted, or mb->n. */
size_t
mbox_first_deleted(const struct mbox *mb)
{
	size_t	i;

	if (mb->ndel == 0)
		return mb->n;
	for (i = 0; i < mb->n && !mbox_deleted(mb, i); i++)
		;
	return i;
}

/* Append a range to a piece list, merged with the last if adjacent. */
void
mbox_add_piece(struct jpiece *p, size_t *n, int src, uint64_t off,
    uint64_t len)
{
	if (len == 0)
		return;
	if (*n > 0 && p[*n - 1].src == src && p[*n - 1].off + p[*n - 1].len
	    == off) {
		p[*n - 1].len += len;
		return;
	}
	p[*n].src = src;
	p[*n].off = off;
	p[*n].len = len;
	p[*n].mem = NULL;
	(*n)++;
}

#define EDIT_MAX	(16 + UID_LEN_MAX + 16)	/* text one message gets */

/* The Status: line of a message's header, if it has one. */
static int
find_status(const struct mbox *mb, const struct mbox_msg *m, uint64_t *a_r,
    uint64_t *b_r)
{
	const uint8_t	*p, *nl;
	uint64_t	 pos = m->body;

	/* UNSAFE: every line is bounded by the header's end in the map. */
	while (pos < m->hdr_end) {
		p = mb->map + pos;
		nl = memchr(p, '\n', (size_t)(m->hdr_end - pos));
		if (nl == NULL)
			return 0;
		if (m->hdr_end - pos >= 7 && strncasecmp((const char *)p,
		    "Status:", 7) == 0) {
			*a_r = pos;
			*b_r = (uint64_t)(nl - mb->map) + 1;
			return 1;
		}
		pos = (uint64_t)(nl - mb->map) + 1;
	}
	return 0;
}

/*
 * What an update writes into message m when it rewrites it: with
 * update-status-headers, "Status: RO" once it was retrieved and X-UIDL
 * when it has none; otherwise only X-UIDL, for a message whose digest id
 * another message shares (so that it cannot be renumbered).  The text
 * replaces [*a_r, *b_r) (the old Status: line, or nothing at the end of
 * the header).  Returns the text's length, 0 for no edit.
 */
static size_t
msg_edit(const struct mbox *mb, size_t i, int opts,
    uint64_t *a_r, uint64_t *b_r, char *text)
{
	const struct mbox_msg *m = &mb->msgs[i];
	char		 uid[UID_BUF];
	const char	*eol;
	uint64_t	 sa = 0, sb = 0;
	size_t		 k, len = 0;
	int		 status = 0, uidl, has_status;

	uidl = !(m->uid_flags & MSG_UID_HEADER) &&
	    ((opts & MBOX_EDIT_STATUS) || (m->uid_flags & MSG_UID_SHARED));
	has_status = find_status(mb, m, &sa, &sb);
	if ((opts & MBOX_EDIT_STATUS) && mbox_retrieved(mb, i)) {
		status = 1;
		/* Already marked read: left as it is. */
		for (k = sa + 7; has_status && k < sb; k++)
			if (mb->map[k] == 'R')
				status = 0;
	}
	if (!status && !uidl)
		return 0;
	/* Only a header that ends in a newline before its empty line. */
	if (m->hdr_end <= m->body || m->hdr_end >= m->end ||
	    mb->map[m->hdr_end - 1] != '\n')
		return 0;
	eol = m->hdr_end - m->body >= 2 && mb->map[m->hdr_end - 2] == '\r' ?
	    "\r\n" : "\n";
	if (status)
		len += (size_t)snprintf(text + len, EDIT_MAX - len,
		    "Status: RO%s", eol);
	if (uidl)
		len += (size_t)snprintf(text + len, EDIT_MAX - len,
		    "X-UIDL: %s%s", mbox_uid(mb, m, uid), eol);
	if (len >= EDIT_MAX)
		bug("%s: edit too long", __func__);
	if (status && has_status) {
		*a_r = sa;
		*b_r = sb;
	} else
		*a_r = *b_r = m->hdr_end;
	return len;
}

/*
 * The first message the update must rewrite: the first deleted one, or
 * with update-status-headers the first retrieved one it marks; mb->n if
 * none.
 */
size_t
mbox_first_edit(const struct mbox *mb, int opts)
{
	uint64_t	a, b;
	size_t		i;
	char		text[EDIT_MAX];

	if (!(opts & MBOX_EDIT_STATUS))
		return mbox_first_deleted(mb);
	for (i = 0; i < mb->n; i++) {
		if (mbox_deleted(mb, i))
			break;
		if (mbox_retrieved(mb, i) &&
		    msg_edit(mb, i, opts, &a, &b, text) > 0)
			break;
	}
	return i;
}

/*
 * Whether every message from first on is still where it was indexed: its
 * From_ line and header block hold the same bytes at the same offset
 * (the digest the parser took), and the bytes before the indexed end of
 * the file are the same (mb->tail).  That is what makes the stale
 * offsets safe to use.  An update removes exactly the ranges [from,
 * next) of the deleted messages, writes header lines at hdr_end of the
 * messages it edits, and moves everything else as it is now.  Another
 * program can change the file between login and QUIT by appending to it
 * (delivery), which moves nothing, or by rewriting it (a mail reader, an
 * administrator).  A rewrite that adds, removes or resizes a message
 * moves every boundary after the change, and so changes the bytes found
 * at the next message's offset (a From_ line and a header block that
 * hold the envelope, the Received trace, the date and the Message-ID of
 * one delivery), or, after the last message, the bytes before the
 * indexed end.  A rewrite that keeps every boundary (a byte changed in
 * place inside a body) makes no offset wrong, and the update copies the
 * changed bytes as they are.  Each message to be removed is also parsed
 * again, so that the bytes removed are exactly one message, the one the
 * client was shown, whatever the index missed (a change in place that a
 * start-up cache could not see).  A cryptographic digest of every byte of
 * every message at login would cost as much as reading the mailbox
 * twice; this costs the headers, once at login and once at QUIT, and the
 * deleted messages.
 */
int
mbox_unchanged(const struct mbox *mb, size_t first)
{
	const struct mbox_msg	*m;
	uint8_t			 digest[32];
	size_t			 i;

	for (i = first; i < mb->n; i++) {
		m = &mb->msgs[i];
		/* The index tiles the file: what the update's pieces need. */
		if ((i > 0 && m->from != mb->msgs[i - 1].next) ||
		    m->from > m->hdr_end || m->next > mb->size)
			return 0;
		mbox_digest(mb->map + m->from, m->hdr_end - m->from, digest);
		if (memcmp(digest, m->digest, sizeof(digest)) != 0)
			return 0;
		/* What is removed must be exactly the message shown. */
		if (mbox_deleted(mb, i) && !mbox_msg_reparses(mb, i))
			return 0;
	}
	if (first < mb->n) {
		mbox_tail_digest(mb, digest);
		if (memcmp(digest, mb->tail, sizeof(digest)) != 0)
			return 0;
	}
	return 1;
}

/* SHA-256 of the indexed file's last bytes, within its last message. */
void
mbox_tail_digest(const struct mbox *mb, uint8_t *out)
{
	uint64_t	len = 0;

	if (mb->n > 0)
		len = mb->size - mb->msgs[mb->n - 1].from;
	if (len > MBOX_TAIL_LEN)
		len = MBOX_TAIL_LEN;
	mbox_digest(mb->map + mb->size - len, (size_t)len, out);
}

/*
 * The kept messages from message first on, as ranges of src (the file mb
 * indexes) and the header lines the update writes into them (in *mem_r,
 * to be freed after the update), in an array with room for extra more
 * pieces.  Every message from first on must still be where it was
 * indexed (mbox_unchanged(); bytes before it are not rewritten): another
 * program may have changed the file under the locks (a mail reader
 * removing a message, say), and moving data by stale offsets would then
 * destroy mail nobody deleted.  If anything moved, the answer is -1 and
 * nothing is to be changed.
 */
int
mbox_kept_pieces(const struct mbox *mb, size_t first, int src, int opts,
    size_t extra, struct jpiece **p_r, size_t *n_r, uint8_t **mem_r,
    const char **why)
{
	const struct mbox_msg	*m;
	struct jpiece		*p;
	uint8_t			*mem = NULL;
	uint64_t		 a, b;
	size_t			 i, len, used = 0;

	*n_r = 0;
	*mem_r = NULL;
	/* The map covers mb->size bytes; the caller checked the file. */
	if (!mbox_unchanged(mb, first)) {
		*why = "mailbox changed since it was indexed";
		return -1;
	}
	p = reallocarray(NULL, 3 * (mb->n - first) + extra, sizeof(*p));
	if (first < mb->n)
		mem = reallocarray(NULL, mb->n - first, EDIT_MAX);
	if (p == NULL || (first < mb->n && mem == NULL)) {
		free(p);
		free(mem);
		*why = "out of memory";
		return -1;
	}
	for (i = first; i < mb->n; i++) {
		m = &mb->msgs[i];
		if (mbox_deleted(mb, i))
			continue;
		len = msg_edit(mb, i, opts, &a, &b, (char *)mem + used);
		if (len == 0) {
			mbox_add_piece(p, n_r, src, m->from, m->next - m->from);
			continue;
		}
		mbox_add_piece(p, n_r, src, m->from, a - m->from);
		p[*n_r].src = JSRC_MEM;
		p[*n_r].mem = mem + used;
		p[*n_r].off = 0;
		p[(*n_r)++].len = len;
		used += len;
		mbox_add_piece(p, n_r, src, b, m->next - b);
	}
	*p_r = p;
	*mem_r = mem;
	return 0;
}

static int
no_commit(void *arg)
{
	(void)arg;
	return 0;
}

/*
 * Remove the deleted messages in place, through the update journal
 * (spool/journal.c): the new tail, kept messages after the first deleted
 * one and mail delivered since the session began (beyond mb->size), is
 * written to the journal and synced, and commit() names it, before the
 * mailbox is touched.  Returns 0 (also when nothing was deleted: then
 * nothing is written), -1 if the mailbox is untouched, -2 if it was
 * partly rewritten and the journal must stay.
 */
int
mbox_update_inplace(const struct mbox *mb, const struct jfiles *f, int opts,
    uint64_t cur_size, int (*commit)(void *), void *arg,
    uint64_t *new_size_r, const char **why)
{
	struct jtarget	 tg;
	struct jpiece	*p;
	uint8_t		*mem;
	size_t		 first, n, i;
	int		 rc;

	*new_size_r = cur_size;
	if ((first = mbox_first_edit(mb, opts)) == mb->n)
		return 0;
	if (cur_size < mb->size) {
		*why = "mailbox shrank during the session";
		return -1;
	}
	if (mbox_kept_pieces(mb, first, JSRC_SPOOL, opts, 1, &p, &n, &mem,
	    why) == -1)
		return -1;
	/* Nothing kept and no new mail: a truncate (journal_update()). */
	mbox_add_piece(p, &n, JSRC_SPOOL, mb->size, cur_size - mb->size);
	memset(&tg, 0, sizeof(tg));
	tg.kind = JT_SPOOL;
	tg.w = mb->msgs[first].from;
	tg.s_cur = cur_size;
	tg.pieces = p;
	tg.npieces = n;
	rc = journal_update(f, &tg, 1, commit, arg, why);
	if (rc == 0) {
		*new_size_r = tg.w;
		for (i = 0; i < n; i++)
			*new_size_r += p[i].len;
	}
	free(p);
	free(mem);
	return rc;
}

/* mbox_update_inplace() on a mailbox and a journal nobody else names. */
int
mbox_compact(const struct mbox *mb, int fd, int jfd, uint64_t cur_size,
    uint64_t *new_size_r, const char **why)
{
	struct jfiles	f = { jfd, fd, -1, -1 };

	return mbox_update_inplace(mb, &f, 0, cur_size, no_commit, NULL,
	    new_size_r, why);
}

/*
 * The index of the mailbox as a successful in-place update left it: the
 * kept messages, each moved back by the bytes deleted before it (mail
 * that arrived during the session follows them, not indexed).  Returns
 * -1, mb unusable, if the update may have written header lines into a
 * message (its offsets are then not worth working out: the next login
 * indexes again).  The map is not read: the file may be shorter now.
 */
int
mbox_after_update(struct mbox *mb, int opts)
{
	struct mbox_msg	*m;
	uint64_t	 shift = 0, reparse = UINT64_MAX;
	size_t		 i, k = 0, first = mbox_first_deleted(mb);

	if (mbox_unmap(mb) == -1)
		return -1;
	for (i = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		if (mbox_deleted(mb, i)) {
			shift += m->next - m->from;
			continue;
		}
		/*
		 * Header lines written (Status:, X-UIDL: as msg_edit()
		 * decides; the rewrite may start before the first deleted
		 * message with update-status-headers), or a suffix that
		 * follows copies now gone: not worth working out.
		 */
		if ((opts & MBOX_EDIT_STATUS) && (mbox_retrieved(mb, i) ||
		    (i > first && !(m->uid_flags & MSG_UID_HEADER))))
			return -1;
		if (i > first && (m->uid_flags & (MSG_UID_SUFFIXED |
		    MSG_UID_SHARED)))
			return -1;
		/*
		 * A Content-Length that was not believed, or was judged by
		 * the end of the file, counts into different bytes now.
		 */
		if (reparse == UINT64_MAX && (m->clen_unused ||
		    m->from >= mb->reparse))
			reparse = m->from - shift;
		m->from -= shift;
		m->body -= shift;
		m->hdr_end -= shift;
		m->end -= shift;
		m->next -= shift;
		mb->msgs[k++] = *m;
	}
	mb->n = k;
	mb->octets = 0;
	for (i = 0; i < k; i++)
		mb->octets += mb->msgs[i].octets;
	free(mb->ret);
	mb->ret = NULL;
	mbox_undelete_all(mb);
	mb->reparse = reparse;
	return 0;
}
