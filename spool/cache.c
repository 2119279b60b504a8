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
 *	header	(the first CACHE_HDR bytes, a page)
 *		  0  "PSC3" ("PSC" and a version)
 *		  4  u32 flags (CACHE_MMDF), u32 generation, u32 0
 *		 16  u64 device, u64 inode of the mailbox
 *		 32  u64 size: the bytes the index covers
 *		 40  u64 ctime seconds, u64 ctime nanoseconds, when written
 *		 56  u64 mtime seconds, u64 mtime nanoseconds, when written
 *		 72  u64 start, u64 hidden (see struct mbox)
 *		 88  u64 number of messages n, u64 record slots cap (>= n)
 *		104  u64 length of the id text, u64 octets of all n messages
 *		120  u64 reparse (see struct mbox): where a continued index
 *		     starts at the latest, UINT64_MAX for nowhere
 *		128  32-byte SHA-256 of the CACHE_LEAD bytes before the last
 *		     message (fewer if the file has fewer) and of its
 *		     separator line
 *		160  zeros
 *		4088 u64 check of bytes 0 to 4087
 *	records	cap slots of 96 bytes from CACHE_HDR, the first n used,
 *		the others zeros (or a hole):
 *		struct mbox_msg as it is in memory (spool/spool.h), its
 *		sum a check of its first 88 bytes, its slot, the generation
 *		and its id's text
 *	id text	the ids that are not a digest's (uid_len > 0), at uid_off
 *		from the start of the text, which follows the slots
 *
 * A login whose mailbox is unchanged maps the records and serves the
 * index from those pages, copying nothing; after mail was appended, the
 * records of the new messages are written into free slots, their ids
 * after the text, then the header: O(new mail).  A rewrite (the first
 * index, one after an update, or more messages than slots) takes a new
 * generation, so that a record a torn write left from an older one
 * fails its check.
 *
 * The checks are 64-bit hashes that catch a torn or damaged file, not an
 * attacker: the only writer besides the worker is the user, whose cache
 * it is, and the checks against the mailbox bound what a forged cache
 * can make a session serve to the mailbox's own bytes.  The records are
 * read from pages the user could change during the session; the update
 * at QUIT checks again that the index tiles the mailbox and that every
 * message it moves is where the index says (mbox_unchanged()).
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "params.h"
#include "spool.h"

#define CACHE_MAGIC	"PSC3"
#define CACHE_HDR	4096
#define CACHE_MMDF	0x1
#define REC		sizeof(struct mbox_msg)
#define REC_SUMMED	offsetof(struct mbox_msg, sum)
#define CACHE_SPARE	1024		/* records new mail may add in place */
#define CACHE_TEXT_MAX	((uint64_t)SPOOL_MSGS_MAX * UID_LEN_MAX * 2)
#define CACHE_LEAD	4096		/* bytes before the last message */
#define CACHE_LEAD_LINE	256		/* and of its separator line */
#define CACHE_SAMPLES	16		/* headers checked besides the last */

struct cache_hdr {
	uint32_t	flags, gen;
	uint64_t	dev, ino, size, ctime_s, ctime_ns, mtime_s, mtime_ns;
	uint64_t	start, hidden, n, cap, text_len, octets, reparse;
	uint8_t		lead[32];
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
zeros(const uint8_t *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/*
 * The slots after the n used ones hold nothing: zeros, or a hole (what
 * a rewrite leaves), which SEEK_DATA skips without reading.
 */
static int
free_slots_empty(int fd, const uint8_t *file, const struct cache_hdr *h)
{
	uint64_t	a = CACHE_HDR + h->n * REC, b = CACHE_HDR + h->cap * REC;
	uint64_t	blk = (a + CACHE_HDR - 1) / CACHE_HDR * CACHE_HDR;
	off_t		d;

	if (blk > b)
		blk = b;
	if (!zeros(file + a, (size_t)(blk - a)))
		return 0;
	if (blk == b)
		return 1;
	if ((d = lseek(fd, (off_t)blk, SEEK_DATA)) == -1)
		return errno == ENXIO;
	if ((uint64_t)d >= b)
		return 1;
	return zeros(file + d, (size_t)(b - (uint64_t)d));
}

static int
get_hdr(const uint8_t *b, struct cache_hdr *h)
{
	if (memcmp(b, CACHE_MAGIC, 4) != 0 ||
	    fast_hash(b, CACHE_HDR - 8) != get64(b + CACHE_HDR - 8) ||
	    !zeros(b + 160, CACHE_HDR - 8 - 160))
		return -1;
	memcpy(&h->flags, b + 4, 4);
	memcpy(&h->gen, b + 8, 4);
	h->dev = get64(b + 16);
	h->ino = get64(b + 24);
	h->size = get64(b + 32);
	h->ctime_s = get64(b + 40);
	h->ctime_ns = get64(b + 48);
	h->mtime_s = get64(b + 56);
	h->mtime_ns = get64(b + 64);
	h->start = get64(b + 72);
	h->hidden = get64(b + 80);
	h->n = get64(b + 88);
	h->cap = get64(b + 96);
	h->text_len = get64(b + 104);
	h->octets = get64(b + 112);
	h->reparse = get64(b + 120);
	memcpy(h->lead, b + 128, 32);
	if ((h->flags & ~CACHE_MMDF) != 0 || h->size > SPOOL_SIZE_MAX ||
	    h->start > h->size || h->hidden > 1 ||
	    (h->hidden == 1) != (h->start > 0) ||
	    h->n == 0 || h->n > h->cap || h->cap > SPOOL_MSGS_MAX ||
	    h->text_len > CACHE_TEXT_MAX ||
	    (h->reparse != UINT64_MAX && (h->reparse < h->start ||
	    h->reparse >= h->size)))
		return -1;
	return 0;
}

static void
put_hdr(uint8_t *b, const struct cache_hdr *h)
{
	uint32_t	zero = 0;

	memset(b, 0, CACHE_HDR);
	memcpy(b, CACHE_MAGIC, 4);
	memcpy(b + 4, &h->flags, 4);
	memcpy(b + 8, &h->gen, 4);
	memcpy(b + 12, &zero, 4);
	put64(b + 16, h->dev);
	put64(b + 24, h->ino);
	put64(b + 32, h->size);
	put64(b + 40, h->ctime_s);
	put64(b + 48, h->ctime_ns);
	put64(b + 56, h->mtime_s);
	put64(b + 64, h->mtime_ns);
	put64(b + 72, h->start);
	put64(b + 80, h->hidden);
	put64(b + 88, h->n);
	put64(b + 96, h->cap);
	put64(b + 104, h->text_len);
	put64(b + 112, h->octets);
	put64(b + 120, h->reparse);
	memcpy(b + 128, h->lead, 32);
	put64(b + CACHE_HDR - 8, fast_hash(b, CACHE_HDR - 8));
}

/* An id from the cache: what the parser could have given. */
static int
good_uid(const char *p, size_t len)
{
	size_t	i;

	if (len == 0 || len > UID_LEN_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return 0;
	return 1;
}

/* Where message m's id text is; NULL for a digest's id. */
static const char *
uid_text(const struct mbox *mb, const struct mbox_msg *m)
{
	if (m->uid_len == 0)
		return NULL;
	if (m->uid_off < mb->ctext_len)
		return mb->ctext + m->uid_off;
	return mb->xtext + (m->uid_off - mb->ctext_len);
}

/*
 * The check of record m in slot i of generation gen, text its id's: the
 * sum of the record's 64-bit words, each multiplied by an odd constant
 * of its own, seeded with the slot and the generation.  Multiplying by
 * an odd number is a bijection, so a word changed alone always changes
 * the sum, and a torn record (words of two versions) matches the check
 * of neither unless the changes cancel modulo 2^64.  The products do not
 * depend on one another: a login that checks 50,000 records waits on no
 * chain of multiplications.  The check is only compared for equality,
 * so no mixing after the sum would catch anything more.
 */
static uint64_t
rec_sum(const struct mbox_msg *m, uint32_t gen, size_t i, const char *text)
{
	static const uint64_t	mul[] = {
		0xdedc2907a56a9ea5ULL, 0x46a9e10e1369ba97ULL,
		0x5880d8183184e863ULL, 0x687a1342da917489ULL,
		0x990a9acfcd8f5187ULL, 0x3e53d0fc446a7eabULL,
		0xb7c0eed88886d93bULL, 0x72c6cde6bdb7bc15ULL,
		0x8c0e09f6951dce13ULL, 0xfd84eaca4a44d7adULL,
		0x926f38b060eafd8dULL,
	};
	const uint8_t		*p = (const uint8_t *)m;
	uint64_t		 h;
	size_t			 k;

	_Static_assert(sizeof(mul) == REC_SUMMED, "a multiplier per word");
	h = 0x9e3779b97f4a7c15ULL ^ gen ^ (uint64_t)i << 32;
#pragma GCC unroll 11
	for (k = 0; k < REC_SUMMED / 8; k++)
		h += get64(p + 8 * k) * mul[k];
	if (m->uid_len > 0)
		h ^= fast_hash((const uint8_t *)text, m->uid_len);
	return h;
}

/*
 * Record m (slot i) as the parser could have made it, starting where
 * the one before ended (at), its id within the text.
 */
static int
good_rec(const struct mbox *mb, const struct mbox_msg *m, uint64_t at)
{
	/* An MMDF text message without a delimiter has from == body. */
	if (m->from != at || m->from > m->body || m->body > m->hdr_end ||
	    m->hdr_end > m->end || m->end > m->next || m->from >= m->next ||
	    m->next > SPOOL_SIZE_MAX ||
	    m->octets > 2 * (m->end - m->body) + 2 ||
	    (m->uid_flags != 0 && m->uid_flags != MSG_UID_HEADER &&
	    m->uid_flags != (MSG_UID_HEADER | MSG_UID_SUFFIXED) &&
	    m->uid_flags != (MSG_UID_SHARED | MSG_UID_SUFFIXED)) ||
	    (m->uid_flags == 0) != (m->uid_len == 0) ||
	    m->clen_unused > 1 || m->pad != 0 || m->uid_len > UID_LEN_MAX)
		return 0;
	if (m->uid_len == 0)
		return m->uid_off == 0;
	return (uint64_t)m->uid_off + m->uid_len <= mb->ctext_len &&
	    good_uid(mb->ctext + m->uid_off, m->uid_len);
}

/* Every record, in place: checked, chained, summed. */
static int
check_recs(struct mbox *mb, const struct cache_hdr *h)
{
	const struct mbox_msg	*m;
	uint64_t		 at = h->start, octets = 0;
	size_t			 i;

	for (i = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		if (!good_rec(mb, m, at) ||
		    m->sum != rec_sum(m, h->gen, i, uid_text(mb, m)))
			return -1;
		at = m->next;
		octets += m->octets;
	}
	if (at != h->size || octets != h->octets)
		return -1;
	mb->octets = octets;
	return 0;
}

/*
 * Map the records of fd (h its header) at mb->msgs: the file's slots,
 * private to this process, and with grow room for CACHE_SPARE records
 * more after them in anonymous memory.
 */
static int
map_recs(int fd, struct mbox *mb, const struct cache_hdr *h, int grow)
{
	size_t	pg = (size_t)getpagesize(), want, len, flen;
	void	*va;

	want = (size_t)h->n + (grow ? CACHE_SPARE : 0);
	len = (want * REC + pg - 1) / pg * pg;
	flen = ((size_t)h->n * REC + pg - 1) / pg * pg;
	va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (va == MAP_FAILED)
		return -1;
	if (mmap(va, flen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
	    fd, CACHE_HDR) == MAP_FAILED) {
		munmap(va, len);
		return -1;
	}
	mb->recs = va;
	mb->recs_len = len;
	mb->recs_file = flen;
	mb->msgs = va;
	mb->cap = len / REC;
	return 0;
}

/*
 * The bytes a login with a cache reads (confirmed(), and the digest of
 * the file's end) lie far apart in a mailbox that may have left the page
 * cache since the last session.  Read each where it is, not the
 * readahead window around it, which is the device's read_ahead_kb (8
 * MiB on the virtio disks of the bench machines) for each page touched:
 * a login on a cold 1 GiB mailbox read some 140 MB that way and took 70
 * to 110 ms.  The parse of new mail that follows reads on in order, with
 * the window again.  Only a hint: if the kernel refuses it, more is read.
 */
static void
read_hint(const struct mbox *mb, int advice)
{
	(void)madvise((void *)(uintptr_t)mb->map, (size_t)mb->size, advice);
}

/* The bytes before the last message and sampled headers, as cached. */
static int
samples_match(const struct mbox *mb, const struct cache_hdr *h)
{
	struct timespec	ts;
	uint8_t		d[32];
	uint64_t	r;
	size_t		k, i, last = mb->n - 1;

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
	return samples_match(mb, h);
}

/*
 * Load the cache into mb for the mailbox mapped at map (size bytes, st
 * its state).  If the mailbox grew, every message but the last cached
 * one, which the caller parses again from *pos_r with whatever followed
 * it (mbox_parse_more()): new mail may have changed where it ends.  If
 * not, the whole index, ids included, and *pos_r is size.  *csize_r is
 * the size of the mailbox the cache was written for.  The index is
 * served from the cache file's pages (mb->recs).  Returns 1, or 0 (mb
 * empty) when the cache is missing, damaged or out of date; *why_r says
 * which for the log.
 */
int
cache_load(int fd, struct mbox *mb, const uint8_t *map, uint64_t size,
    const struct stat *st, uint64_t *pos_r, uint64_t *csize_r,
    const char **why_r)
{
	struct stat	 cst;
	struct cache_hdr h;
	void		*file;
	int		 ok = 0, fresh;

	memset(mb, 0, sizeof(*mb));
	*why_r = NULL;
	if (fd == -1 || fstat(fd, &cst) == -1 || cst.st_size == 0)
		return 0;
	*why_r = "damaged";
	if (!S_ISREG(cst.st_mode) || cst.st_size < CACHE_HDR ||
	    (uint64_t)cst.st_size > CACHE_HDR + (uint64_t)SPOOL_MSGS_MAX *
	    REC + CACHE_TEXT_MAX)
		return 0;
	/*
	 * Read where it lies in the page cache.  Only the user can change
	 * it meanwhile (a second session of the mailbox is refused), and a
	 * cut while it is mapped ends only that user's own session.
	 */
	file = mmap(NULL, (size_t)cst.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (file == MAP_FAILED)
		return 0;
	mb->file = file;
	mb->file_len = (size_t)cst.st_size;
	if (memcmp(file, CACHE_MAGIC, 3) == 0 &&
	    memcmp(file, CACHE_MAGIC, 4) != 0) {
		*why_r = "of another version";
		goto out;
	}
	if (get_hdr(file, &h) == -1 || (uint64_t)cst.st_size !=
	    CACHE_HDR + h.cap * REC + h.text_len ||
	    !free_slots_empty(fd, file, &h))
		goto out;
	*why_r = "out of date";
	if (h.size > size)
		goto out;
	*why_r = "damaged";
	if (map_recs(fd, mb, &h, size > h.size) == -1)
		goto out;
	mb->map = map;
	mb->size = size;
	mb->mmdf = (h.flags & CACHE_MMDF) != 0;
	mb->start = h.start;
	mb->hidden = (size_t)h.hidden;
	mb->gen = h.gen;
	mb->cache_cap = h.cap;
	mb->ctext = (const char *)file + CACHE_HDR + h.cap * REC;
	mb->ctext_len = (size_t)h.text_len;
	mb->n = (size_t)h.n;
	if (check_recs(mb, &h) == -1)
		goto out;
	*why_r = "out of date";
	read_hint(mb, MADV_RANDOM);
	fresh = confirmed(mb, &h, st);
	if (fresh && size == h.size)
		mbox_tail_digest(mb, mb->tail);
	read_hint(mb, MADV_NORMAL);
	if (!fresh)
		goto out;
	*csize_r = h.size;
	if (size == h.size) {
		/* Unchanged: the whole index holds, ids and all. */
		*pos_r = size;
		mb->reparse = h.reparse;
	} else {
		/* The last message, and any judged by the file's end. */
		mb->octets -= mb->msgs[--mb->n].octets;
		while (mb->n > 0 && mb->msgs[mb->n].from > h.reparse)
			mb->octets -= mb->msgs[--mb->n].octets;
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
	mb->cache_clean = mb->n;
	ok = 1;
	*why_r = NULL;
 out:
	if (!ok)
		mbox_free(mb);
	return ok;
}

/* The header that describes mb (n messages, cap slots, tl bytes of text). */
static int
make_hdr(const struct mbox *mb, int mfd, const struct stat *st,
    uint64_t cap, uint64_t tl, uint32_t gen, struct cache_hdr *h)
{
	uint8_t		lead[CACHE_LEAD + CACHE_LEAD_LINE];
	uint64_t	la, lb;

	memset(h, 0, sizeof(*h));
	h->flags = mb->mmdf ? CACHE_MMDF : 0;
	h->gen = gen;
	h->dev = (uint64_t)st->st_dev;
	h->ino = (uint64_t)st->st_ino;
	h->size = mb->msgs[mb->n - 1].next;
	h->ctime_s = (uint64_t)st->st_ctim.tv_sec;
	h->ctime_ns = (uint64_t)st->st_ctim.tv_nsec;
	h->mtime_s = (uint64_t)st->st_mtim.tv_sec;
	h->mtime_ns = (uint64_t)st->st_mtim.tv_nsec;
	h->start = mb->start;
	h->hidden = mb->hidden;
	h->n = mb->n;
	h->cap = cap;
	h->text_len = tl;
	h->octets = mb->octets;
	h->reparse = mb->reparse;
	/* From the file: after an update the map shows the old layout. */
	lead_range(&mb->msgs[mb->n - 1], &la, &lb);
	if (full_pread(mfd, lead, (size_t)(lb - la), la) == -1) {
		log_warn("start-up cache: read the mailbox");
		return -1;
	}
	mbox_digest(lead, (size_t)(lb - la), h->lead);
	return 0;
}

static int
write_all(int fd, const void *p, size_t len, uint64_t off)
{
	return len == 0 || pwrite(fd, p, len, (off_t)off) == (ssize_t)len ?
	    0 : -1;
}

/*
 * The messages from cache_clean on into free slots of the cache mb was
 * loaded from, the ids of this session after its text, then the header.
 */
static int
cache_append(int fd, struct mbox *mb, int mfd, const struct stat *st)
{
	struct cache_hdr h;
	uint8_t		 b[CACHE_HDR];
	size_t		 i, k = mb->cache_clean;

	for (i = k; i < mb->n; i++)
		mb->msgs[i].sum = rec_sum(&mb->msgs[i], mb->gen, i,
		    uid_text(mb, &mb->msgs[i]));
	if (make_hdr(mb, mfd, st, mb->cache_cap, mb->ctext_len +
	    mb->xtext_len, mb->gen, &h) == -1)
		return -1;
	put_hdr(b, &h);
	if (write_all(fd, &mb->msgs[k], (mb->n - k) * REC, CACHE_HDR +
	    k * REC) == -1 || write_all(fd, mb->xtext, mb->xtext_len,
	    CACHE_HDR + mb->cache_cap * REC + mb->ctext_len) == -1 ||
	    write_all(fd, b, sizeof(b), 0) == -1)
		return -1;
	mb->cache_clean = mb->n;
	return 0;
}

/* The whole cache anew, in a new generation, from an index in memory. */
static int
cache_rewrite(int fd, struct mbox *mb, int mfd, const struct stat *st)
{
	struct cache_hdr h;
	struct timespec	 ts;
	struct mbox_msg	*r;
	uint8_t		 b[CACHE_HDR];
	char		*text = NULL;
	uint64_t	 cap, tl = 0;
	size_t		 i;
	uint32_t	 gen;
	int		 rc = -1;

	if (mbox_unmap(mb) == -1)
		return -1;
	cap = mb->n + mb->n / 2 + 64;
	if (cap > SPOOL_MSGS_MAX)
		cap = SPOOL_MSGS_MAX;
	for (i = 0; i < mb->n; i++)
		tl += mb->msgs[i].uid_len;
	clock_gettime(CLOCK_REALTIME, &ts);
	gen = mb->gen + 1 + (uint32_t)(ts.tv_nsec ^ getpid());
	if ((r = reallocarray(NULL, mb->n, REC)) == NULL ||
	    (tl > 0 && (text = malloc((size_t)tl)) == NULL))
		goto out;
	tl = 0;
	for (i = 0; i < mb->n; i++) {
		r[i] = mb->msgs[i];
		if (r[i].uid_len > 0) {
			memcpy(text + tl, uid_text(mb, &mb->msgs[i]),
			    r[i].uid_len);
			r[i].uid_off = (uint32_t)tl;
			tl += r[i].uid_len;
		}
		r[i].sum = rec_sum(&r[i], gen, i, r[i].uid_len > 0 ?
		    text + r[i].uid_off : NULL);
	}
	if (make_hdr(mb, mfd, st, cap, tl, gen, &h) == -1)
		goto out;
	put_hdr(b, &h);
	/* Cut first: until the header is written, nothing is believed. */
	if (ftruncate(fd, 0) == -1 ||
	    write_all(fd, r, mb->n * REC, CACHE_HDR) == -1 ||
	    write_all(fd, text, (size_t)tl, CACHE_HDR + cap * REC) == -1 ||
	    ftruncate(fd, (off_t)(CACHE_HDR + cap * REC + tl)) == -1 ||
	    write_all(fd, b, sizeof(b), 0) == -1)
		goto out;
	rc = 0;
 out:
	free(r);
	free(text);
	return rc;
}

/*
 * Write the index of mb (the mailbox open on mfd, as st describes it) to
 * the cache: appended to the one it was loaded from when that one has
 * room, else anew.  A cache that cannot be written is removed (cut to
 * nothing): the next login indexes the whole mailbox.  No sync: a torn
 * cache fails its checks and is only a slower login.
 */
void
cache_store(int fd, struct mbox *mb, int mfd, const struct stat *st)
{
	int	rc;

	if (fd == -1)
		return;
	if (mb->n == 0) {
		cache_clear(fd);
		return;
	}
	if (mb->recs != NULL && mb->n <= mb->cache_cap &&
	    mb->cache_clean <= mb->n)
		rc = cache_append(fd, mb, mfd, st);
	else
		rc = cache_rewrite(fd, mb, mfd, st);
	if (rc == -1) {
		log_warn("start-up cache: write");
		/* Not under pages the index is served from. */
		if (mbox_unmap(mb) == 0)
			cache_clear(fd);
	}
}

void
cache_clear(int fd)
{
	if (fd != -1 && ftruncate(fd, 0) == -1)
		log_warn("start-up cache: ftruncate");
}
