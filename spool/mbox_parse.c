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
 * send mail, so every line and offset is bounded by the mapped size, and
 * no line length is assumed.  It never writes; mbox.c serves and rewrites
 * what it indexed.  A message starts at a "From " line that begins the
 * file or follows an empty line; the empty line before it belongs to the
 * separator, not to the message.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "params.h"
#include "spool.h"

static int	is_empty_line(const uint8_t *, size_t);
static void	header_uid(struct mbox_msg *, const uint8_t *, size_t);
static struct mbox_msg *new_msg(struct mbox *, uint64_t);
static void	end_msg(struct mbox_msg *, uint64_t, uint64_t, int);

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
