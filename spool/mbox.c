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
 * The mbox parser and writer of the spool worker (the mail user, no
 * groups, chroot, seccomp).  The mailbox is mapped read-only and parsed
 * with memchr; its content is hostile (anyone can send mail), so every
 * line and offset is bounded by the mapped size, and no line length is
 * assumed.  A message starts at a "From " line that begins the file or
 * follows an empty line; the empty line before it belongs to the
 * separator, not to the message.
 */

#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "params.h"
#include "spool.h"

struct out {
	mbox_out_fn	 fn;
	void		*arg;
	size_t		 len;
	uint8_t		 buf[MSG_DATA_CHUNK];
};

static int	is_empty_line(const uint8_t *, size_t);
static void	header_uid(struct mbox_msg *, const uint8_t *, size_t);
static int	out_put(struct out *, const void *, size_t);
static int	out_flush(struct out *);

static int
is_empty_line(const uint8_t *p, size_t len)
{
	return (len == 1 && p[0] == '\n') ||
	    (len == 2 && p[0] == '\r' && p[1] == '\n');
}

/* An X-UIDL header (Qpopper's) gives the message its UID, if valid. */
static void
header_uid(struct mbox_msg *m, const uint8_t *p, size_t len)
{
	size_t	i, n;

	if (m->uid[0] != '\0' || len < 7 || strncasecmp((const char *)p,
	    "X-UIDL:", 7) != 0)
		return;
	p += 7;
	len -= 7;
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' ||
	    p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	n = len;
	if (n == 0 || n > UID_LEN_MAX)
		return;
	for (i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return;
	memcpy(m->uid, p, n);
	m->uid[n] = '\0';
}

static struct mbox_msg *
new_msg(struct mbox *mb, uint64_t from)
{
	struct mbox_msg	*m;
	size_t		 cap;

	if (mb->n >= SPOOL_MSGS_MAX)
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
	m->from = from;
	return m;
}

/*
 * Close message m: its content ends before the empty separator line that
 * starts at blank (if there is one inside the content), else at end.
 */
static void
end_msg(struct mbox_msg *m, uint64_t end, uint64_t blank, int has_blank)
{
	m->next = end;
	m->end = end;
	if (has_blank && blank >= m->body) {
		m->end = blank;
		m->octets -= 2;		/* the separator's CRLF */
		if (m->hdr_end > m->end)
			m->hdr_end = m->end;
	}
}

int
mbox_parse(struct mbox *mb, const uint8_t *map, uint64_t size,
    const char **why)
{
	struct mbox_msg	*m = NULL;
	const uint8_t	*nl;
	uint64_t	 pos = 0, le, len, blank = 0;
	int		 prev_empty = 1, in_headers = 0;

	memset(mb, 0, sizeof(*mb));
	mb->map = map;
	mb->size = size;
	if (size == 0)
		return 0;
	if (size < 5 || memcmp(map, "From ", 5) != 0) {
		*why = "Unable to process From lines (envelope), change "
		    "recognition modes";
		return -1;
	}
	while (pos < size) {
		nl = memchr(map + pos, '\n', size - pos);
		le = nl != NULL ? (uint64_t)(nl - map) + 1 : size;
		len = le - pos;
		if (prev_empty && len >= 5 && memcmp(map + pos, "From ", 5)
		    == 0) {
			if (m != NULL)
				end_msg(m, pos, blank, 1);
			if ((m = new_msg(mb, pos)) == NULL) {
				*why = "Too many messages in the mailbox";
				return -1;
			}
			m->body = le;
			m->hdr_end = le;
			in_headers = 1;
			prev_empty = 0;
			pos = le;
			continue;
		}
		/* As sent: a bare LF becomes CRLF; a last line gets one. */
		m->octets += len;
		if (nl == NULL)
			m->octets += 2;
		else if (len < 2 || map[le - 2] != '\r')
			m->octets += 1;
		prev_empty = is_empty_line(map + pos, len);
		if (prev_empty)
			blank = pos;
		if (in_headers) {
			if (!prev_empty)
				header_uid(m, map + pos, len);
			if (prev_empty || nl == NULL) {
				in_headers = 0;
				m->hdr_end = prev_empty ? pos : le;
			}
		}
		pos = le;
	}
	end_msg(m, size, blank, prev_empty);
	if (in_headers)
		m->hdr_end = m->end;
	for (m = mb->msgs; m < mb->msgs + mb->n; m++)
		mbox_digest(map + m->from, m->next - m->from, m->digest);
	mbox_assign_uids(mb);
	return 0;
}

void
mbox_free(struct mbox *mb)
{
	free(mb->msgs);
	memset(mb, 0, sizeof(*mb));
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
	const uint8_t		*p, *nl, *end;
	size_t			 len;
	int64_t			 sent = 0;
	int			 rc = -1;

	if (i >= mb->n || m->end > mb->size || m->body > m->end)
		bug("%s: message %zu out of range", __func__, i);
	if ((o = malloc(sizeof(*o))) == NULL)
		return -1;
	o->fn = fn;
	o->arg = arg;
	o->len = 0;
	p = mb->map + m->body;
	end = mb->map + m->end;
	while (p < end) {
		if (body_lines >= 0 && p >= mb->map + m->hdr_end) {
			/* In the body (after the empty line): count. */
			if (p > mb->map + m->hdr_end && sent++ >= body_lines)
				break;
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (len > 0 && p[len - 1] == '\r' && nl != NULL)
			len--;
		if (*p == '.' && out_put(o, ".", 1) == -1)
			goto out;
		if (out_put(o, p, len) == -1 || out_put(o, "\r\n", 2) == -1)
			goto out;
		p = nl != NULL ? nl + 1 : end;
	}
	rc = out_flush(o);
 out:
	free(o);
	return rc;
}

/* The first message marked deleted, or mb->n. */
size_t
mbox_first_deleted(const struct mbox *mb)
{
	size_t	i;

	for (i = 0; i < mb->n && !mb->msgs[i].deleted; i++)
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

/*
 * The kept messages from message first on, as ranges of src (the file mb
 * indexes), in an array with room for extra more pieces.  Every message
 * from first on must still hold what was indexed at login, byte for byte
 * (bytes before it are not rewritten): another program may have changed
 * the file under the locks (a mail reader removing a message, say), and
 * moving data by stale offsets would then destroy mail nobody deleted.
 * If anything differs, the answer is -1 and nothing is to be changed.
 */
int
mbox_kept_pieces(const struct mbox *mb, size_t first, int src, size_t extra,
    struct jpiece **p_r, size_t *n_r, const char **why)
{
	struct jpiece	*p;
	uint8_t		 digest[32];
	size_t		 i;

	*n_r = 0;
	/* The map covers mb->size bytes; the caller checked the file. */
	for (i = first; i < mb->n; i++) {
		mbox_digest(mb->map + mb->msgs[i].from, mb->msgs[i].next -
		    mb->msgs[i].from, digest);
		if (memcmp(digest, mb->msgs[i].digest, sizeof(digest)) != 0) {
			*why = "mailbox changed during the session";
			return -1;
		}
	}
	if ((p = reallocarray(NULL, mb->n - first + extra, sizeof(*p))) ==
	    NULL) {
		*why = "out of memory";
		return -1;
	}
	for (i = first; i < mb->n; i++)
		if (!mb->msgs[i].deleted)
			mbox_add_piece(p, n_r, src, mb->msgs[i].from,
			    mb->msgs[i].next - mb->msgs[i].from);
	*p_r = p;
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
mbox_update_inplace(const struct mbox *mb, const struct jfiles *f,
    uint64_t cur_size, int (*commit)(void *), void *arg,
    uint64_t *new_size_r, const char **why)
{
	struct jtarget	 tg;
	struct jpiece	*p;
	size_t		 first, n;
	int		 rc;

	*new_size_r = cur_size;
	if ((first = mbox_first_deleted(mb)) == mb->n)
		return 0;
	if (cur_size < mb->size) {
		*why = "mailbox shrank during the session";
		return -1;
	}
	if (mbox_kept_pieces(mb, first, JSRC_SPOOL, 1, &p, &n, why) == -1)
		return -1;
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
		for (first = 0; first < n; first++)
			*new_size_r += p[first].len;
	}
	free(p);
	return rc;
}

/* mbox_update_inplace() on a mailbox and a journal nobody else names. */
int
mbox_compact(const struct mbox *mb, int fd, int jfd, uint64_t cur_size,
    uint64_t *new_size_r, const char **why)
{
	struct jfiles	f = { jfd, fd, -1 };

	return mbox_update_inplace(mb, &f, cur_size, no_commit, NULL,
	    new_size_r, why);
}
