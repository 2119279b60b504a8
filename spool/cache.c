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
 * The start-up cache of the spool worker (the mail user, sandboxed): the
 * index of the mailbox (each message's offsets, size, header digest and
 * id) as the last session left it, so that a login reads only the mail
 * that arrived since.  The session monitor opens the file, the user's
 * own in a directory only root writes (spool_cache_open()), and hands
 * the worker its descriptor; nothing else writes it but that user.  Its
 * content is trusted no more than mail content: every field is bounded
 * and checked against the others, and what it says about the mailbox is
 * believed only as far as the mailbox confirms it (cache_load()).  A
 * cache that fails any check is ignored and the mailbox indexed whole;
 * the cache is only ever a shortcut to what the parser would find.
 *
 * Format, in the machine's byte order (the file never leaves it):
 *
 *	header	(CACHE_HDR bytes)
 *		 0  "PSC1"
 *		 4  u32 flags (CACHE_MMDF)
 *		 8  u64 device, u64 inode of the mailbox
 *		24  u64 size: the bytes the index covers
 *		32  u64 ctime seconds, u64 ctime nanoseconds, when written
 *		48  u64 start (see struct mbox), u64 hidden
 *		64  u64 number of messages
 *		72  32-byte SHA-256 of the CACHE_LEAD bytes before the last
 *		    message (fewer if the file has fewer) and of its
 *		    separator line
 *		104 u64 length of the records, u64 sum of the records
 *		120 u64 reparse (see struct mbox): where a continued index
 *		    starts at the latest, UINT64_MAX for nowhere
 *		128 u64 mtime seconds, u64 mtime nanoseconds, when written
 *		144 u64 sum of bytes 0 to 143
 *	records, one per message in mailbox order:
 *		u64 from, body, hdr_end, end, next, octets (struct mbox_msg);
 *		32-byte header digest; u8 id flags (MSG_UID_*); u8 id length,
 *		0 for the id the digest gives; u8 clen_unused; the id's bytes
 *
 * The sums are 64-bit hashes (fast_hash(), spool/journal.c) that catch
 * a torn or damaged file, not an attacker: the only writer besides the worker is the user, whose cache
 * it is, and the checks against the mailbox bound what a forged cache
 * can make a session serve to the mailbox's own bytes.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "params.h"
#include "spool.h"

#define CACHE_MAGIC	"PSC1"
#define CACHE_HDR	152
#define CACHE_MMDF	0x1
#define CACHE_REC_MIN	(6 * 8 + 32 + 3)
#define CACHE_REC_MAX	(CACHE_REC_MIN + UID_LEN_MAX)
#define CACHE_LEAD	4096		/* bytes before the last message */
#define CACHE_LEAD_LINE	256		/* and of its separator line */
#define CACHE_SAMPLES	16		/* headers checked besides the last */

struct cache_hdr {
	uint32_t	flags;
	uint64_t	dev, ino, size, ctime_s, ctime_ns, start, hidden, n;
	uint8_t		lead[32];
	uint64_t	rec_len, rec_sum, reparse, mtime_s, mtime_ns;
};

/*
 * The bytes the parse of every message before the last one depends on
 * most closely: the CACHE_LEAD bytes before the last message and its
 * separator line (at most CACHE_LEAD_LINE bytes of it), [*a_r, *b_r).
 */
static void
lead_range(const struct mbox_msg *last, uint64_t *a_r, uint64_t *b_r)
{
	*a_r = last->from < CACHE_LEAD ? 0 : last->from - CACHE_LEAD;
	*b_r = last->body - last->from > CACHE_LEAD_LINE ?
	    last->from + CACHE_LEAD_LINE : last->body;
}

static void
lead_digest(const struct mbox *mb, const struct mbox_msg *last,
    uint8_t *out)
{
	uint64_t	a, b;

	lead_range(last, &a, &b);
	mbox_digest(mb->map + a, (size_t)(b - a), out);
}

static int
get_hdr(const uint8_t *b, struct cache_hdr *h)
{
	if (memcmp(b, CACHE_MAGIC, 4) != 0 ||
	    fast_hash(b, CACHE_HDR - 8) != get64(b + CACHE_HDR - 8))
		return -1;
	memcpy(&h->flags, b + 4, 4);
	h->dev = get64(b + 8);
	h->ino = get64(b + 16);
	h->size = get64(b + 24);
	h->ctime_s = get64(b + 32);
	h->ctime_ns = get64(b + 40);
	h->start = get64(b + 48);
	h->hidden = get64(b + 56);
	h->n = get64(b + 64);
	memcpy(h->lead, b + 72, 32);
	h->rec_len = get64(b + 104);
	h->rec_sum = get64(b + 112);
	h->reparse = get64(b + 120);
	h->mtime_s = get64(b + 128);
	h->mtime_ns = get64(b + 136);
	if ((h->flags & ~CACHE_MMDF) != 0 || h->size > SPOOL_SIZE_MAX ||
	    h->start > h->size || h->hidden > 1 ||
	    (h->hidden == 1) != (h->start > 0) ||
	    h->n == 0 || h->n > SPOOL_MSGS_MAX ||
	    h->rec_len < h->n * CACHE_REC_MIN ||
	    h->rec_len > h->n * CACHE_REC_MAX ||
	    (h->reparse != UINT64_MAX && (h->reparse < h->start ||
	    h->reparse >= h->size)))
		return -1;
	return 0;
}

/* An id from the cache: what the parser could have given. */
static int
good_uid(const uint8_t *p, size_t len)
{
	size_t	i;

	if (len == 0 || len > UID_LEN_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * One record at p (left bytes remain), for message m, which must start
 * where the one before ended (at).  Returns the record's length, or 0.
 */
static size_t
get_rec(const uint8_t *p, size_t left, uint64_t at, struct mbox_msg *m)
{
	size_t	len;

	if (left < CACHE_REC_MIN)
		return 0;
	memset(m, 0, sizeof(*m));
	m->from = get64(p);
	m->body = get64(p + 8);
	m->hdr_end = get64(p + 16);
	m->end = get64(p + 24);
	m->next = get64(p + 32);
	m->octets = get64(p + 40);
	memcpy(m->digest, p + 48, 32);
	m->uid_flags = p[80];
	len = p[81];
	m->clen_unused = p[82];
	/* An MMDF text message without a delimiter has from == body. */
	if (m->from != at || m->from > m->body || m->body > m->hdr_end ||
	    m->hdr_end > m->end || m->end > m->next || m->from >= m->next ||
	    m->next > SPOOL_SIZE_MAX ||
	    m->octets > 2 * (m->end - m->body) + 2 ||
	    (m->uid_flags != 0 && m->uid_flags != MSG_UID_HEADER &&
	    m->uid_flags != (MSG_UID_HEADER | MSG_UID_SUFFIXED) &&
	    m->uid_flags != (MSG_UID_SHARED | MSG_UID_SUFFIXED)) ||
	    (m->uid_flags == 0) != (len == 0) || m->clen_unused > 1 ||
	    len > left - CACHE_REC_MIN)
		return 0;
	if (len > 0) {
		if (!good_uid(p + CACHE_REC_MIN, len))
			return 0;
		memcpy(m->uid, p + CACHE_REC_MIN, len);
		m->uid[len] = '\0';
	}
	return CACHE_REC_MIN + len;
}

/* The records, checked, into mb->msgs (whose ids the caller completes). */
static int
get_recs(const uint8_t *b, const struct cache_hdr *h, struct mbox *mb)
{
	size_t	i, off = 0, len;
	uint64_t at = h->start;

	if (fast_hash(b, (size_t)h->rec_len) != h->rec_sum)
		return -1;
	mb->msgs = reallocarray(NULL, (size_t)h->n + 1, sizeof(*mb->msgs));
	if (mb->msgs == NULL)
		return -1;
	mb->cap = (size_t)h->n + 1;	/* room for one new message */
	for (i = 0; i < h->n; i++) {
		len = get_rec(b + off, (size_t)h->rec_len - off, at,
		    &mb->msgs[i]);
		if (len == 0)
			return -1;
		off += len;
		at = mb->msgs[i].next;
		mb->n = i + 1;
	}
	return off == h->rec_len && at == h->size ? 0 : -1;
}

/* The ids the records left to the digest, two hex digits a byte. */
static void
digest_ids(struct mbox *mb)
{
	static const char	hex[] = "0123456789abcdef";
	static char		pair[256][2];
	struct mbox_msg		*m;
	size_t			 k;

	if (pair[1][1] == '\0')
		for (k = 0; k < 256; k++) {
			pair[k][0] = hex[k >> 4];
			pair[k][1] = hex[k & 0xf];
		}
	for (m = mb->msgs; m < mb->msgs + mb->n; m++) {
		if (m->uid[0] != '\0')
			continue;
		for (k = 0; k < 16; k++)
			memcpy(m->uid + 2 * k, pair[m->digest[k]], 2);
		m->uid[32] = '\0';
	}
}

/*
 * Whether the mailbox (mapped, st its state now) still is what the
 * cached index says, up to the last cached message: the same file
 * (device, inode), no shorter, not rewritten in place (a file of the
 * same size whose ctime moved is indexed again, and so is a longer one
 * whose mtime did not move), the same first line,
 * the same bytes before the last message, and the same header bytes at
 * the first message and at CACHE_SAMPLES more drawn at random.  Delivery only appends;
 * a rewrite that added, removed or resized a message moves every
 * boundary after it, and so the bytes before the last message.
 */
static int
confirmed(const struct mbox *mb, const struct cache_hdr *h,
    const struct stat *st)
{
	struct timespec	ts;
	uint8_t		d[32];
	uint64_t	r;
	size_t		k, i, last = mb->n - 1;

	if ((uint64_t)st->st_dev != h->dev || (uint64_t)st->st_ino != h->ino ||
	    (uint64_t)st->st_size < h->size)
		return 0;
	if ((uint64_t)st->st_size == h->size &&
	    ((uint64_t)st->st_ctim.tv_sec != h->ctime_s ||
	    (uint64_t)st->st_ctim.tv_nsec != h->ctime_ns))
		return 0;
	/* Grown, but its mtime set back: a change someone hid. */
	if ((uint64_t)st->st_size > h->size &&
	    (uint64_t)st->st_mtim.tv_sec == h->mtime_s &&
	    (uint64_t)st->st_mtim.tv_nsec == h->mtime_ns)
		return 0;
	/* The first line still says the same format. */
	if (mb->size < 5 || (mb->mmdf ? memcmp(mb->map, "\1\1\1\1", 4) :
	    memcmp(mb->map, "From ", 5)) != 0)
		return 0;
	lead_digest(mb, &mb->msgs[last], d);
	if (memcmp(d, h->lead, 32) != 0)
		return 0;
	/*
	 * The first message, and others drawn anew at each login, so that
	 * a change the samples missed once is found by a later one.
	 */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	for (k = 0; k <= CACHE_SAMPLES && last > 0; k++) {
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		i = k == 0 ? 0 : (size_t)((r >> 33) % last);
		mbox_digest(mb->map + mb->msgs[i].from, mb->msgs[i].hdr_end -
		    mb->msgs[i].from, d);
		if (memcmp(d, mb->msgs[i].digest, 32) != 0)
			return 0;
	}
	return 1;
}

/*
 * Load the cache into mb for the mailbox mapped at map (size bytes, st
 * its state).  If the mailbox grew, every message but the last cached
 * one, which the caller parses again from *pos_r with whatever followed
 * it (mbox_parse_more()): new mail may have changed where it ends.  If
 * not, the whole index, ids included, and *pos_r is size.  *csize_r is the size of the
 * mailbox the cache was written for.  Returns 1, or 0 (mb empty)
 * when the cache is missing, damaged or out of date; *why_r says which
 * for the log.
 */
int
cache_load(int fd, struct mbox *mb, const uint8_t *map, uint64_t size,
    const struct stat *st, uint64_t *pos_r, uint64_t *csize_r,
    const char **why_r)
{
	struct stat	 cst;
	struct cache_hdr h;
	uint8_t		*cm = MAP_FAILED;
	int		 ok = 0;

	memset(mb, 0, sizeof(*mb));
	*why_r = NULL;
	if (fd == -1 || fstat(fd, &cst) == -1 || cst.st_size == 0)
		return 0;
	*why_r = "damaged";
	if (!S_ISREG(cst.st_mode) || cst.st_size < CACHE_HDR ||
	    (uint64_t)cst.st_size > CACHE_HDR + (uint64_t)SPOOL_MSGS_MAX *
	    CACHE_REC_MAX)
		return 0;
	/*
	 * Read where it lies in the page cache.  Only the user can change
	 * it meanwhile (a second session of the mailbox is refused), and a
	 * cut while it is mapped ends only that user's own session.
	 */
	cm = mmap(NULL, (size_t)cst.st_size, PROT_READ, MAP_PRIVATE |
	    MAP_POPULATE, fd, 0);
	if (cm == MAP_FAILED || get_hdr(cm, &h) == -1 ||
	    (uint64_t)cst.st_size != CACHE_HDR + h.rec_len)
		goto out;
	*why_r = "out of date";
	if (h.size > size)
		goto out;
	*why_r = "damaged";
	mb->map = map;
	mb->size = size;
	mb->mmdf = (h.flags & CACHE_MMDF) != 0;
	mb->start = h.start;
	mb->hidden = (size_t)h.hidden;
	if (get_recs(cm + CACHE_HDR, &h, mb) == -1)
		goto out;
	digest_ids(mb);
	*why_r = "out of date";
	if (!confirmed(mb, &h, st))
		goto out;
	*csize_r = h.size;
	if (size == h.size) {
		/* Unchanged: the whole index holds, ids and all. */
		*pos_r = size;
		mb->reparse = h.reparse;
		mbox_tail_digest(mb, mb->tail);
	} else {
		/* The last message, and any judged by the file's end. */
		mb->n--;
		while (mb->n > 0 && mb->msgs[mb->n].from > h.reparse)
			mb->n--;
		if (h.reparse != UINT64_MAX &&
		    mb->msgs[mb->n].from != h.reparse) {
			*why_r = "damaged";
			goto out;
		}
		/* Nothing left to keep: the parser judges the format. */
		*why_r = "out of date";
		if (mb->n == 0)
			goto out;
		*pos_r = mb->msgs[mb->n].from;
		mb->reparse = UINT64_MAX;
	}
	ok = 1;
	*why_r = NULL;
 out:
	if (cm != MAP_FAILED)
		munmap(cm, (size_t)cst.st_size);
	if (!ok)
		mbox_free(mb);
	return ok;
}

static void
put_rec(uint8_t *p, const struct mbox_msg *m, size_t *len_r)
{
	char	 did[UID_LEN_MAX + 1];
	size_t	 k, len = 0;
	static const char hex[] = "0123456789abcdef";

	put64(p, m->from);
	put64(p + 8, m->body);
	put64(p + 16, m->hdr_end);
	put64(p + 24, m->end);
	put64(p + 32, m->next);
	put64(p + 40, m->octets);
	memcpy(p + 48, m->digest, 32);
	p[80] = m->uid_flags;
	for (k = 0; k < 16; k++) {
		did[2 * k] = hex[m->digest[k] >> 4];
		did[2 * k + 1] = hex[m->digest[k] & 0xf];
	}
	did[32] = '\0';
	if ((m->uid_flags & MSG_UID_HEADER) || strcmp(m->uid, did) != 0) {
		len = strlen(m->uid);
		memcpy(p + CACHE_REC_MIN, m->uid, len);
	}
	p[81] = (uint8_t)len;
	p[82] = m->clen_unused;
	*len_r = CACHE_REC_MIN + len;
}

/*
 * Write the index of mb (the mailbox open on mfd, as st describes it)
 * to the cache;
 * it replaces the old one.  A cache that cannot be written is removed
 * (cut to nothing): the next login indexes the whole mailbox.  No sync:
 * a torn cache fails its sums and is only a slower login.
 */
void
cache_store(int fd, const struct mbox *mb, int mfd, const struct stat *st)
{
	uint8_t		*b, lead[CACHE_LEAD + CACHE_LEAD_LINE];
	uint64_t	 la, lb;
	uint32_t	 flags;
	size_t		 i, len, off = CACHE_HDR;

	if (fd == -1)
		return;
	if (mb->n == 0 || (b = reallocarray(NULL, mb->n, CACHE_REC_MAX)) ==
	    NULL || (b = realloc(b, mb->n * CACHE_REC_MAX + CACHE_HDR)) ==
	    NULL) {
		cache_clear(fd);
		return;
	}
	for (i = 0; i < mb->n; i++) {
		put_rec(b + off, &mb->msgs[i], &len);
		off += len;
	}
	memset(b, 0, CACHE_HDR);
	memcpy(b, CACHE_MAGIC, 4);
	flags = mb->mmdf ? CACHE_MMDF : 0;
	memcpy(b + 4, &flags, 4);
	put64(b + 8, (uint64_t)st->st_dev);
	put64(b + 16, (uint64_t)st->st_ino);
	put64(b + 24, mb->msgs[mb->n - 1].next);
	put64(b + 32, (uint64_t)st->st_ctim.tv_sec);
	put64(b + 40, (uint64_t)st->st_ctim.tv_nsec);
	put64(b + 48, mb->start);
	put64(b + 56, mb->hidden);
	put64(b + 64, mb->n);
	/* From the file: after an update the map shows the old layout. */
	lead_range(&mb->msgs[mb->n - 1], &la, &lb);
	if (full_pread(mfd, lead, (size_t)(lb - la), la) == -1) {
		log_warn("start-up cache: read the mailbox");
		free(b);
		cache_clear(fd);
		return;
	}
	mbox_digest(lead, (size_t)(lb - la), b + 72);
	put64(b + 104, off - CACHE_HDR);
	put64(b + 112, fast_hash(b + CACHE_HDR, off - CACHE_HDR));
	put64(b + 120, mb->reparse);
	put64(b + 128, (uint64_t)st->st_mtim.tv_sec);
	put64(b + 136, (uint64_t)st->st_mtim.tv_nsec);
	put64(b + 144, fast_hash(b, CACHE_HDR - 8));
	if (pwrite(fd, b, off, 0) != (ssize_t)off ||
	    ftruncate(fd, (off_t)off) == -1) {
		log_warn("start-up cache: write");
		cache_clear(fd);
	}
	free(b);
}

void
cache_clear(int fd)
{
	if (fd != -1 && ftruncate(fd, 0) == -1)
		log_warn("start-up cache: ftruncate");
}
