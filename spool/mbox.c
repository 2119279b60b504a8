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

#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>
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

static int	out_put(struct out *, const void *, size_t);
static int	out_flush(struct out *);

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

/*
 * Remove the deleted messages, under the monitor's lock, through the
 * update journal jfd (spool/journal.c): the new tail, kept messages after
 * the first deleted one and mail delivered since the session began
 * (beyond mb->size), is written to the journal and synced before the
 * mailbox is touched, so a crash at any instant loses nothing.
 * The mailbox must still hold what we parsed, byte for byte, from the
 * first deleted message to the end we indexed (bytes before it are not
 * rewritten): another program may have changed it under the locks (a mail
 * reader removing a message, say), and moving data by stale offsets would
 * then destroy mail nobody deleted.  If anything differs, nothing is
 * changed.
 */
int
mbox_compact(const struct mbox *mb, int fd, int jfd, uint64_t cur_size,
    uint64_t *new_size_r, const char **why)
{
	struct jpiece	*p;
	uint8_t		 digest[32];
	size_t		 i, first, n = 0;
	int		 rc;

	for (first = 0; first < mb->n && !mb->msgs[first].deleted; first++)
		;
	if (first == mb->n) {
		*new_size_r = cur_size;
		return 0;
	}
	if (cur_size < mb->size) {
		*why = "mailbox shrank during the session";
		return -1;
	}
	/* The map covers mb->size bytes and the file is no shorter. */
	for (i = first; i < mb->n; i++) {
		mbox_digest(mb->map + mb->msgs[i].from, mb->msgs[i].next -
		    mb->msgs[i].from, digest);
		if (memcmp(digest, mb->msgs[i].digest, sizeof(digest)) != 0) {
			*why = "mailbox changed during the session";
			return -1;
		}
	}
	if ((p = reallocarray(NULL, mb->n - first + 1, sizeof(*p))) == NULL) {
		*why = "out of memory";
		return -1;
	}
	/* Runs of kept messages, then new mail; adjacent ranges merged. */
	for (i = first; i < mb->n; i++) {
		if (mb->msgs[i].deleted)
			continue;
		if (n > 0 && p[n - 1].off + p[n - 1].len == mb->msgs[i].from)
			p[n - 1].len += mb->msgs[i].next - mb->msgs[i].from;
		else {
			p[n].from_journal = 0;
			p[n].off = mb->msgs[i].from;
			p[n++].len = mb->msgs[i].next - mb->msgs[i].from;
		}
	}
	if (cur_size > mb->size) {
		if (n > 0 && p[n - 1].off + p[n - 1].len == mb->size)
			p[n - 1].len += cur_size - mb->size;
		else {
			p[n].from_journal = 0;
			p[n].off = mb->size;
			p[n++].len = cur_size - mb->size;
		}
	}
	rc = journal_update(jfd, fd, mb->msgs[first].from, p, n, cur_size,
	    new_size_r, why);
	free(p);
	return rc;
}
