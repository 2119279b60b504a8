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
 * The update journal of the spool worker (the mail user, sandboxed): the
 * one crash-safe way popsep changes a mailbox file.  The QUIT update in
 * place, the move of the spool into the temp drop at login and the move
 * back at QUIT all go through journal_update(): the new content of every
 * file the update changes (the spool, the temp drop) is written to a
 * journal file, synced, and given its name by the session monitor before
 * any of those files is touched; only then is it copied into place and
 * the files cut.  A crash at any instant leaves either no journal (the
 * files untouched) or a complete one that the next login finishes with
 * journal_recover(), keeping mail delivered in between.
 *
 * A journal is a sequence of records; the last complete one counts.  A
 * record is a JOURNAL_HDR-byte header, then its body:
 *
 *	header	"PSJ2"  u32 number of targets (1 or 2)
 *		per target (JT_SLOT bytes): u32 kind (JT_SPOOL, JT_DROP),
 *		u32 0, u64 device, u64 inode, u64 w, u64 len, u64 s_cur,
 *		u64 number of block sums, 32-byte SHA-256 of the file's
 *		[w + len, s_cur), 32-byte SHA-256 of [w - JOURNAL_LEAD, w)
 *		32-byte SHA-256 of the body, 32-byte SHA-256 of the header
 *		(this field zero)
 *	body	each target's data (len bytes: what belongs at w; the file
 *		then ends at w + len, followed by what was appended to it
 *		after s_cur), then each target's block sums
 *
 * s_cur is the target's size when the record was written.  The block sums
 * are 64-bit hashes of the target's old bytes in [w, s_cur), cut at every
 * JOURNAL_BLOCK boundary of the file and at w + len; the copy into place
 * is written in chunks that end on those boundaries, and the kernel stops
 * a killed write only between pages, so after any crash each block holds
 * either its old bytes or the journal's.  That, the device and inode, and
 * the bytes before w are the proof that a journal belongs to the file it
 * is applied to: a journal found next to a mailbox that was replaced or
 * rewritten since (restored from a backup, changed by a mail reader) is
 * set aside, never applied.  Every byte in the journal came from the
 * mailbox and the journal is checked like the mailbox: it is trusted no
 * more than mail content.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "spool.h"

#define JOURNAL_MAGIC	"PSJ2"
#define JT_SLOT		120
#define JOURNAL_HDR	(8 + JT_MAX * JT_SLOT + 64)
#define JOURNAL_BLOCK	4096
#define JOURNAL_LEAD	4096

struct jrec_target {
	uint32_t	kind;
	uint64_t	dev, ino, w, len, s_cur, nblk;
	uint8_t		leftover[32];
	uint8_t		lead[32];
	uint64_t	data_off;	/* in the journal */
	uint64_t	blk_off;	/* in the journal */
};

struct jrec {
	uint64_t		off;	/* of the header in the journal */
	uint64_t		end;	/* of the record */
	uint32_t		nt;
	struct jrec_target	t[JT_MAX];
};

static int	shiftable(const struct jtarget *);
static int	journal_shift(const struct jfiles *, const struct jtarget *,
		    int (*)(void *), void *, const char **);
static int	recover_records(const struct jfiles *, uint64_t,
		    const char **);

static void	(*progress_fn)(void);
static uint64_t	progress_bytes;
static size_t	progress_msgs, progress_every;

/*
 * fn is called every SPOOL_PROGRESS_BYTES bytes copied and every
 * every_msgs messages handled (Qpopper's mail-lock-check), so that the
 * monitor keeps the dot-lock fresh during long updates and indexes.
 */
void
journal_set_progress(void (*fn)(void), size_t every_msgs)
{
	progress_fn = fn;
	progress_every = every_msgs;
}

void
journal_progress_message(void)
{
	if (progress_every == 0 || ++progress_msgs < progress_every)
		return;
	progress_msgs = 0;
	if (progress_fn != NULL)
		progress_fn();
}

/* Called as bytes are read or copied: the dot-lock stays fresh. */
void
journal_progress(uint64_t n)
{
	progress_bytes += n;
	if (progress_bytes >= SPOOL_PROGRESS_BYTES) {
		progress_bytes = 0;
		if (progress_fn != NULL)
			progress_fn();
	}
}

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Exactly len bytes at off, or -1 (EIO for a file that is shorter). */
int
full_pread(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	ssize_t	n;

	while (len > 0) {
		n = pread(fd, buf, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* the file is shorter */
			return -1;
		}
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int
full_pwrite(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	ssize_t	n;

	while (len > 0) {
		n = pwrite(fd, buf, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Which descriptor a piece reads from. */
static int
src_fd(const struct jfiles *f, int src)
{
	switch (src) {
	case JSRC_SPOOL:
		return f->spool;
	case JSRC_DROP:
		return f->drop;
	case JSRC_JOURNAL:
		return f->journal;
	case JSRC_BULLETINS:
		return f->bulletins;
	default:
		return -1;
	}
}

static int
target_fd(const struct jfiles *f, uint32_t kind)
{
	return kind == JT_SPOOL ? f->spool : kind == JT_DROP ? f->drop : -1;
}

/* A 64-bit hash of one block: tells old bytes from new, not a MAC. */
static uint64_t
block_hash(const uint8_t *p, size_t n)
{
	uint64_t	h = 0x243f6a8885a308d3ULL ^ n, w;

	/* UNSAFE: reads p[0, n) in 8-byte words, the tail bytewise. */
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 31;
	}
	for (; n > 0; p++, n--)
		h = (h ^ *p) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

/*
 * The same kind of 64-bit hash, four words at a time, for the windowed
 * format, which sums every byte it writes, and for the start-up cache:
 * fast enough that hashing costs less than the copy.  Not a MAC either.
 */
uint64_t
fast_hash(const uint8_t *p, size_t n)
{
	uint64_t	h[4] = { 0x243f6a8885a308d3ULL ^ n, 0x13198a2e03707344ULL,
			    0xa4093822299f31d0ULL, 0x082efa98ec4e6c89ULL };
	uint64_t	w[4];
	size_t		k;

	/* UNSAFE: reads p[0, n) in 32-byte groups, the rest by block_hash. */
	for (; n >= 32; p += 32, n -= 32) {
		memcpy(w, p, 32);
		for (k = 0; k < 4; k++) {
			h[k] = (h[k] ^ w[k]) * 0x9e3779b97f4a7c15ULL;
			h[k] ^= h[k] >> 29;
		}
	}
	return block_hash(p, n) ^ (h[0] + 3 * h[1] + 5 * h[2] + 7 * h[3]);
}

/* SHA-256 of [off, off + len) of fd. */
static int
digest_range(int fd, uint64_t off, uint64_t len, uint8_t *out)
{
	EVP_MD_CTX	*ctx;
	uint8_t		*buf;
	size_t		 n;
	unsigned int	 mdlen;
	int		 rv = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if ((buf = malloc(SPOOL_READ_CHUNK)) == NULL)
		goto out;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while (len > 0) {
		n = len > SPOOL_READ_CHUNK ? SPOOL_READ_CHUNK : (size_t)len;
		if (full_pread(fd, buf, n, off) == -1 ||
		    EVP_DigestUpdate(ctx, buf, n) != 1)
			goto out;
		journal_progress(n);
		off += n;
		len -= n;
	}
	if (EVP_DigestFinal_ex(ctx, out, &mdlen) == 1 && mdlen == 32)
		rv = 0;
 out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rv;
}

/*
 * The end of the block that starts at pos, for a target rewritten from w
 * with len bytes: the next JOURNAL_BLOCK boundary of the file, or w + len,
 * or s_cur, whichever comes first.
 */
static uint64_t
block_end(uint64_t pos, uint64_t cut, uint64_t s_cur)
{
	uint64_t	e = (pos / JOURNAL_BLOCK + 1) * JOURNAL_BLOCK;

	if (pos < cut && cut < e)
		e = cut;
	return e < s_cur ? e : s_cur;
}

/* The old bytes past the data, which the cut removes. */
static uint64_t
leftover_len(const struct jrec_target *t)
{
	return t->s_cur > t->w + t->len ? t->s_cur - t->w - t->len : 0;
}

static uint64_t
count_blocks(uint64_t w, uint64_t cut, uint64_t s_cur)
{
	uint64_t	pos, n = 0;

	for (pos = w; pos < s_cur; pos = block_end(pos, cut, s_cur))
		n++;
	return n;
}

/* ---------------------------------------------------------- reading */

static void
get_target(const uint8_t *h, struct jrec_target *t)
{
	t->kind = get32(h);
	t->dev = get64(h + 8);
	t->ino = get64(h + 16);
	t->w = get64(h + 24);
	t->len = get64(h + 32);
	t->s_cur = get64(h + 40);
	t->nblk = get64(h + 48);
	memcpy(t->leftover, h + 56, 32);
	memcpy(t->lead, h + 88, 32);
}

/* A complete, checksummed record at off of a journal of jsize bytes. */
static int
read_rec(int jfd, uint64_t off, uint64_t jsize, struct jrec *r)
{
	EVP_MD_CTX	*ctx = NULL;
	uint8_t		 h[JOURNAL_HDR], sum[32], want[32], *buf = NULL;
	uint64_t	 body = 0, pos, left;
	unsigned int	 mdlen;
	size_t		 i, n;
	int		 rv = -1;

	if (jsize < off || jsize - off < JOURNAL_HDR ||
	    full_pread(jfd, h, sizeof(h), off) == -1 ||
	    memcmp(h, JOURNAL_MAGIC, 4) != 0)
		return -1;
	memcpy(want, h + JOURNAL_HDR - 32, 32);
	memset(h + JOURNAL_HDR - 32, 0, 32);
	if (EVP_Digest(h, sizeof(h), sum, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32 || memcmp(sum, want, 32) != 0)
		return -1;
	r->off = off;
	r->nt = get32(h + 4);
	if (r->nt < 1 || r->nt > JT_MAX)
		return -1;
	for (i = 0; i < r->nt; i++) {
		get_target(h + 8 + i * JT_SLOT, &r->t[i]);
		/* Written by a worker: within the old file, bounded. */
		if ((r->t[i].kind != JT_SPOOL && r->t[i].kind != JT_DROP) ||
		    (i == 1 && r->t[1].kind == r->t[0].kind) ||
		    r->t[i].w > r->t[i].s_cur ||
		    r->t[i].len > SPOOL_SIZE_MAX ||
		    r->t[i].s_cur > SPOOL_SIZE_MAX ||
		    r->t[i].nblk != count_blocks(r->t[i].w, r->t[i].w +
		    r->t[i].len, r->t[i].s_cur))
			return -1;
		r->t[i].data_off = off + JOURNAL_HDR + body;
		body += r->t[i].len;
	}
	for (i = 0; i < r->nt; i++) {
		r->t[i].blk_off = off + JOURNAL_HDR + body;
		body += r->t[i].nblk * 8;
	}
	if (body > jsize - off - JOURNAL_HDR)
		return -1;
	r->end = off + JOURNAL_HDR + body;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    (buf = malloc(SPOOL_READ_CHUNK)) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	for (pos = off + JOURNAL_HDR, left = body; left > 0; left -= n) {
		n = left > SPOOL_READ_CHUNK ? SPOOL_READ_CHUNK : (size_t)left;
		if (full_pread(jfd, buf, n, pos) == -1 ||
		    EVP_DigestUpdate(ctx, buf, n) != 1)
			goto out;
		pos += n;
	}
	if (EVP_DigestFinal_ex(ctx, sum, &mdlen) != 1 || mdlen != 32 ||
	    memcmp(sum, h + JOURNAL_HDR - 64, 32) != 0)
		goto out;
	rv = 0;
 out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rv;
}

/*
 * The last complete record from off on (1), or none (0); *end_r is where
 * the next record goes: after the last complete one, over any torn
 * remains.
 */
static int
last_rec(int jfd, uint64_t off, struct jrec *r, uint64_t *end_r)
{
	struct stat	st;
	struct jrec	cur;
	int		found = 0;

	if (fstat(jfd, &st) == -1)
		return -1;
	while (read_rec(jfd, off, (uint64_t)st.st_size, &cur) == 0) {
		*r = cur;
		found = 1;
		off = cur.end;
	}
	*end_r = off;
	return found;
}

/* ---------------------------------------------------------- writing */

struct writer {
	int		 jfd;
	uint64_t	 pos;
	EVP_MD_CTX	*body;
	uint8_t		*buf;
};

static int
emit(struct writer *wr, const uint8_t *p, size_t n)
{
	if (full_pwrite(wr->jfd, p, n, wr->pos) == -1) {
		log_warn("update journal: write");
		return -1;
	}
	if (EVP_DigestUpdate(wr->body, p, n) != 1)
		return -1;
	wr->pos += n;
	journal_progress(n);
	return 0;
}

/* A target's data from its pieces; its length in *len_r. */
static int
write_data(struct writer *wr, const struct jfiles *f,
    const struct jtarget *t, uint64_t *len_r)
{
	const struct jpiece	*pc;
	uint64_t		 left, from;
	size_t			 i, n;
	int			 fd;

	*len_r = 0;
	for (i = 0; i < t->npieces; i++) {
		pc = &t->pieces[i];
		if (pc->src == JSRC_MEM) {
			if (emit(wr, pc->mem, (size_t)pc->len) == -1)
				return -1;
			*len_r += pc->len;
			continue;
		}
		if ((fd = src_fd(f, pc->src)) == -1)
			bug("%s: piece from a missing file", __func__);
		from = pc->off;
		for (left = pc->len; left > 0; left -= n) {
			n = left > SPOOL_READ_CHUNK ? SPOOL_READ_CHUNK :
			    (size_t)left;
			if (full_pread(fd, wr->buf, n, from) == -1) {
				log_warn("update journal: read the mailbox");
				return -1;
			}
			if (emit(wr, wr->buf, n) == -1)
				return -1;
			from += n;
		}
		*len_r += pc->len;
	}
	return 0;
}

/* The block sums of a target's old bytes [w, s_cur). */
static int
write_blocks(struct writer *wr, int fd, const struct jrec_target *t)
{
	uint8_t		*sum = wr->buf + JOURNAL_BLOCK;
	uint64_t	 pos, e, h;
	size_t		 k = 0, cap = (SPOOL_READ_CHUNK - JOURNAL_BLOCK) / 8;

	for (pos = t->w; pos < t->s_cur; pos = e) {
		e = block_end(pos, t->w + t->len, t->s_cur);
		if (full_pread(fd, wr->buf, (size_t)(e - pos), pos) == -1) {
			log_warn("update journal: read the mailbox");
			return -1;
		}
		h = block_hash(wr->buf, (size_t)(e - pos));
		memcpy(sum + 8 * k++, &h, 8);
		if (k == cap) {
			if (emit(wr, sum, 8 * k) == -1)
				return -1;
			k = 0;
		}
	}
	return k > 0 ? emit(wr, sum, 8 * k) : 0;
}

static void
put_target(uint8_t *h, const struct jrec_target *t)
{
	put32(h, t->kind);
	put64(h + 8, t->dev);
	put64(h + 16, t->ino);
	put64(h + 24, t->w);
	put64(h + 32, t->len);
	put64(h + 40, t->s_cur);
	put64(h + 48, t->nblk);
	memcpy(h + 56, t->leftover, 32);
	memcpy(h + 88, t->lead, 32);
}

/* What a target relies on, and what its old bytes past the data were. */
static int
target_sums(int fd, struct jrec_target *t)
{
	struct stat	st;
	uint64_t	lead;

	if (fstat(fd, &st) == -1) {
		log_warn("update journal: fstat");
		return -1;
	}
	t->dev = (uint64_t)st.st_dev;
	t->ino = (uint64_t)st.st_ino;
	t->nblk = count_blocks(t->w, t->w + t->len, t->s_cur);
	lead = t->w < JOURNAL_LEAD ? t->w : JOURNAL_LEAD;
	if (digest_range(fd, t->w - lead, lead, t->lead) == -1 ||
	    digest_range(fd, t->w + t->len, leftover_len(t),
	    t->leftover) == -1) {
		log_warn("update journal: read the mailbox");
		return -1;
	}
	return 0;
}

/*
 * Write a record at off: the body (every target's data, then its block
 * sums), sync, then the header, sync.  Header last: a record is complete
 * only once all of it is on disk.
 */
static int
append_rec(const struct jfiles *f, uint64_t off, const struct jtarget *tg,
    size_t nt, struct jrec *r)
{
	struct writer	 wr;
	uint8_t		 h[JOURNAL_HDR];
	unsigned int	 mdlen;
	size_t		 i;
	int		 rv = -1;

	memset(r, 0, sizeof(*r));
	memset(&wr, 0, sizeof(wr));
	wr.jfd = f->journal;
	wr.pos = off + JOURNAL_HDR;
	r->off = off;
	r->nt = (uint32_t)nt;
	if (nt < 1 || nt > JT_MAX)
		bug("%s: %zu targets", __func__, nt);
	if ((wr.body = EVP_MD_CTX_new()) == NULL ||
	    (wr.buf = malloc(SPOOL_READ_CHUNK)) == NULL ||
	    EVP_DigestInit_ex(wr.body, EVP_sha256(), NULL) != 1)
		goto out;
	for (i = 0; i < nt; i++) {
		r->t[i].kind = (uint32_t)tg[i].kind;
		r->t[i].w = tg[i].w;
		r->t[i].s_cur = tg[i].s_cur;
		r->t[i].data_off = wr.pos;
		if (write_data(&wr, f, &tg[i], &r->t[i].len) == -1)
			goto out;
		if (tg[i].w > tg[i].s_cur || r->t[i].len > SPOOL_SIZE_MAX)
			bug("%s: target %zu out of range", __func__, i);
	}
	for (i = 0; i < nt; i++) {
		if (target_sums(target_fd(f, r->t[i].kind), &r->t[i]) == -1)
			goto out;
		r->t[i].blk_off = wr.pos;
		if (write_blocks(&wr, target_fd(f, r->t[i].kind), &r->t[i])
		    == -1)
			goto out;
	}
	r->end = wr.pos;
	memset(h, 0, sizeof(h));
	memcpy(h, JOURNAL_MAGIC, 4);
	put32(h + 4, r->nt);
	for (i = 0; i < nt; i++)
		put_target(h + 8 + i * JT_SLOT, &r->t[i]);
	if (EVP_DigestFinal_ex(wr.body, h + JOURNAL_HDR - 64, &mdlen) != 1 ||
	    EVP_Digest(h, sizeof(h), h + JOURNAL_HDR - 32, &mdlen,
	    EVP_sha256(), NULL) != 1)
		goto out;
	if (fdatasync(f->journal) == -1) {
		log_warn("update journal: fdatasync");
		goto out;
	}
	if (full_pwrite(f->journal, h, sizeof(h), off) == -1) {
		log_warn("update journal: write");
		goto out;
	}
	if (fdatasync(f->journal) == -1) {
		log_warn("update journal: fdatasync");
		goto out;
	}
	rv = 0;
 out:
	free(wr.buf);
	EVP_MD_CTX_free(wr.body);
	return rv;
}

/* Cut fd at len (if cut is set) and sync it: how every update ends. */
static int
cut_sync(int fd, uint64_t len, int cut)
{
	if (cut && ftruncate(fd, (off_t)len) == -1) {
		log_warn("update: ftruncate the mailbox");
		return -1;
	}
	if (fsync(fd) == -1) {
		log_warn("update: fsync the mailbox");
		return -1;
	}
	return 0;
}

/*
 * Copy a target's data to w in chunks that end on block boundaries, cut
 * the file after it (keeping nothing past w + len: what arrived after
 * s_cur is part of the data), sync.
 */
static int
apply_target(const struct jfiles *f, const struct jrec_target *t,
    uint8_t *buf)
{
	uint64_t	done, pos, n;
	int		fd = target_fd(f, t->kind);

	for (done = 0; done < t->len; done += n) {
		pos = t->w + done;
		n = (pos / SPOOL_READ_CHUNK + 1) * SPOOL_READ_CHUNK - pos;
		if (n > t->len - done)
			n = t->len - done;
		if (full_pread(f->journal, buf, (size_t)n, t->data_off + done)
		    == -1) {
			log_warn("update journal: read the journal");
			return -1;
		}
		if (full_pwrite(fd, buf, (size_t)n, pos) == -1) {
			log_warn("update: write the mailbox");
			return -1;
		}
		journal_progress(n);
	}
	return cut_sync(fd, t->w + t->len, 1);
}

static int
apply_rec(const struct jfiles *f, const struct jrec *r)
{
	uint8_t	*buf;
	size_t	 i;
	int	 rv = 0;

	if ((buf = malloc(SPOOL_READ_CHUNK)) == NULL)
		return -1;
	for (i = 0; i < r->nt && rv == 0; i++)
		rv = apply_target(f, &r->t[i], buf);
	free(buf);
	return rv;
}

/*
 * Room for what a target grows by, reserved before the journal is named
 * (FALLOC_FL_KEEP_SIZE: the files look the same), so that a full disk
 * stops an update before it begins rather than half-way.  A file system
 * that cannot reserve is not an error: the journal still completes an
 * update that stops.
 */
static int
reserve_rec(const struct jfiles *f, const struct jrec *r)
{
	struct stat	st;
	size_t		i;
	int		fd;

	for (i = 0; i < r->nt; i++) {
		fd = target_fd(f, r->t[i].kind);
		if (fstat(fd, &st) == -1)
			return -1;
		if (r->t[i].w + r->t[i].len <= (uint64_t)st.st_size)
			continue;
		if (fallocate(fd, FALLOC_FL_KEEP_SIZE, st.st_size,
		    (off_t)(r->t[i].w + r->t[i].len - (uint64_t)st.st_size))
		    == -1) {
			if (errno == EOPNOTSUPP || errno == ENOSYS)
				continue;
			log_warn("update: reserve room for the mailbox");
			return -1;
		}
	}
	return 0;
}

/*
 * The update, journal first.  Each target is the file (spool or temp
 * drop) to rewrite from w with the bytes of its pieces; s_cur its size
 * now.  commit(arg) gives the synced journal its name (the monitor does
 * it) before anything is touched.  Returns 0, -1 if nothing was touched
 * (the journal may go), or -2 if a file was partly rewritten (the journal
 * must stay: it completes the update).
 */
int
journal_update(const struct jfiles *f, const struct jtarget *tg, size_t nt,
    int (*commit)(void *), void *arg, const char **why)
{
	struct jrec	r;

	if (nt == 1 && shiftable(&tg[0]))
		return journal_shift(f, &tg[0], commit, arg, why);

	if (append_rec(f, 0, tg, nt, &r) == -1) {
		*why = "cannot write the update journal";
		return -1;
	}
	if (reserve_rec(f, &r) == -1) {
		*why = "no room on the disk for the update";
		return -1;
	}
	if (commit(arg) == -1) {
		*why = "cannot commit the update journal";
		return -1;
	}
	if (apply_rec(f, &r) == -1) {
		*why = "write error while updating the mailbox (the journal "
		    "will complete it)";
		return -2;
	}
	return 0;
}

/* ---------------------------------------------------------- recovery */

/* Whether len bytes at aoff of a equal those at boff of b. */
static int
same_bytes(int a, uint64_t aoff, int b, uint64_t boff, uint64_t len,
    int *same_r)
{
	uint8_t		*x, *y;
	size_t		 n;
	int		 rv = -1;

	x = malloc(SPOOL_READ_CHUNK);
	y = malloc(SPOOL_READ_CHUNK);
	if (x == NULL || y == NULL)
		goto out;
	*same_r = 1;
	for (; len > 0 && *same_r; len -= n) {
		n = len > SPOOL_READ_CHUNK ? SPOOL_READ_CHUNK : (size_t)len;
		if (full_pread(a, x, n, aoff) == -1 ||
		    full_pread(b, y, n, boff) == -1)
			goto out;
		*same_r = memcmp(x, y, n) == 0;
		aoff += n;
		boff += n;
	}
	rv = 0;
 out:
	free(x);
	free(y);
	return rv;
}

/*
 * Whether every block of the file's [w, s_cur) holds either its old bytes
 * (the block sum) or, below w + len, the journal's data: what a copy into
 * place that stopped anywhere leaves.  Anything else means the file was
 * changed by someone else since.
 */
static int
blocks_explained(const struct jfiles *f, const struct jrec_target *t,
    int *ok_r, int *copied_r)
{
	uint8_t		*x, *y, hs[8];
	uint64_t	 pos, e, i = 0, h, want;
	size_t		 n;
	int		 fd = target_fd(f, t->kind), rv = -1;

	x = malloc(JOURNAL_BLOCK);
	y = malloc(JOURNAL_BLOCK);
	if (x == NULL || y == NULL)
		goto out;
	*ok_r = 1;
	*copied_r = 0;
	for (pos = t->w; pos < t->s_cur && *ok_r; pos = e, i++) {
		e = block_end(pos, t->w + t->len, t->s_cur);
		n = (size_t)(e - pos);
		if (full_pread(fd, x, n, pos) == -1 ||
		    full_pread(f->journal, hs, 8, t->blk_off + 8 * i) == -1)
			goto out;
		h = block_hash(x, n);
		memcpy(&want, hs, 8);
		if (h == want)
			continue;
		if (e <= t->w + t->len) {
			if (full_pread(f->journal, y, n, t->data_off + pos -
			    t->w) == -1)
				goto out;
			if (memcmp(x, y, n) == 0) {
				*copied_r = 1;
				continue;
			}
		}
		*ok_r = 0;
	}
	rv = 0;
 out:
	free(x);
	free(y);
	return rv;
}

enum { TGT_DONE, TGT_CUT, TGT_REDO, TGT_FOREIGN, TGT_ERROR };

/*
 * Where the bytes appended after a stopped copy begin, for data that
 * reaches past s_cur (the file grows): the copy ends on a block boundary,
 * so the journal's data continues to the last such boundary at which the
 * file still matches it; what follows was delivered later.
 */
static int
grown_end(const struct jfiles *f, const struct jrec_target *t, uint64_t now,
    uint64_t *keep_r)
{
	uint8_t		*x, *y;
	uint64_t	 pos, e, cut = t->w + t->len, lim;
	size_t		 n;
	int		 fd = target_fd(f, t->kind), rv = -1;

	*keep_r = t->s_cur;
	if (cut <= t->s_cur)
		return 0;
	lim = now < cut ? now : cut;
	x = malloc(JOURNAL_BLOCK);
	y = malloc(JOURNAL_BLOCK);
	if (x == NULL || y == NULL)
		goto out;
	for (pos = t->s_cur; pos < lim; pos = e) {
		e = (pos / JOURNAL_BLOCK + 1) * JOURNAL_BLOCK;
		if (e > cut)
			e = cut;
		if (e > lim)
			break;		/* a partial block is not ours */
		n = (size_t)(e - pos);
		if (full_pread(fd, x, n, pos) == -1 || full_pread(f->journal,
		    y, n, t->data_off + pos - t->w) == -1)
			goto out;
		if (memcmp(x, y, n) != 0)
			break;
		*keep_r = e;
	}
	rv = 0;
 out:
	free(x);
	free(y);
	return rv;
}

/*
 * What state one target of the last record is in; *now_r is its size,
 * *keep_r where the bytes to keep after the data begin.
 */
static int
judge_target(const struct jfiles *f, const struct jrec_target *t,
    uint64_t *now_r, uint64_t *keep_r, int *touched_r)
{
	struct stat	st;
	uint8_t		sum[32];
	uint64_t	lead, cut = t->w + t->len;
	int		fd = target_fd(f, t->kind), same, ok, copied;

	*touched_r = 1;
	if (fd == -1) {
		log_warnx("update journal: it changes the %s, which is not "
		    "open", t->kind == JT_SPOOL ? "mailbox" : "temp drop");
		return TGT_FOREIGN;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("update journal: fstat");
		return TGT_ERROR;
	}
	*now_r = (uint64_t)st.st_size;
	*keep_r = t->s_cur;
	if ((uint64_t)st.st_dev != t->dev || (uint64_t)st.st_ino != t->ino) {
		log_warnx("update journal: written for another file (device "
		    "%llu inode %llu, not %llu %llu)",
		    (unsigned long long)t->dev, (unsigned long long)t->ino,
		    (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino);
		return TGT_FOREIGN;
	}
	lead = t->w < JOURNAL_LEAD ? t->w : JOURNAL_LEAD;
	if (*now_r < t->w || digest_range(fd, t->w - lead, lead, sum) == -1 ||
	    memcmp(sum, t->lead, 32) != 0) {
		log_warnx("update journal: the bytes before offset %llu "
		    "changed", (unsigned long long)t->w);
		return TGT_FOREIGN;
	}
	if (*now_r >= cut && same_bytes(f->journal, t->data_off, fd, t->w,
	    t->len, &same) == 0 && same) {
		/* In place.  Cut yet?  The old bytes past it tell. */
		if (leftover_len(t) > 0 && *now_r >= t->s_cur &&
		    digest_range(fd, cut, leftover_len(t), sum) == 0 &&
		    memcmp(sum, t->leftover, 32) == 0) {
			*touched_r = t->len > 0;
			return TGT_CUT;
		}
		/* Nothing to write and nothing to cut: never touched. */
		*touched_r = t->len > 0 || leftover_len(t) > 0;
		return TGT_DONE;
	}
	if (*now_r < t->s_cur) {
		log_warnx("update journal: the file is shorter (%llu bytes) "
		    "than when the journal was written (%llu)",
		    (unsigned long long)*now_r, (unsigned long long)t->s_cur);
		return TGT_FOREIGN;
	}
	if (blocks_explained(f, t, &ok, &copied) == -1 ||
	    grown_end(f, t, *now_r, keep_r) == -1) {
		log_warn("update journal: read");
		return TGT_ERROR;
	}
	if (!ok) {
		log_warnx("update journal: the file's bytes at offsets %llu to "
		    "%llu are neither the old ones nor the journal's",
		    (unsigned long long)t->w, (unsigned long long)t->s_cur);
		return TGT_FOREIGN;
	}
	*touched_r = copied || *keep_r > t->s_cur;
	return TGT_REDO;
}

/*
 * Finish an update a crash interrupted, under the mailbox locks, before
 * the mailbox is indexed.  Returns 0 when the journal may be removed (the
 * update is complete now, or it had not begun), -1 on an I/O error (both
 * are left as they are), -2 when the journal does not belong to the files
 * it would change: it must be set aside, never applied.
 */
static int
recover_records(const struct jfiles *f, uint64_t start, const char **why)
{
	struct jrec	r, r2;
	struct jtarget	tg[JT_MAX];
	struct jpiece	p[JT_MAX][2];
	uint64_t	now[JT_MAX], keep[JT_MAX], end;
	int		st[JT_MAX], touched[JT_MAX], rc, work = 0;
	size_t		i, nt = 0;

	if ((rc = last_rec(f->journal, start, &r, &end)) == -1) {
		*why = "cannot read the update journal";
		return -1;
	}
	if (rc == 0) {
		log_info("update journal incomplete: the update never began");
		return 0;
	}
	for (i = 0; i < r.nt; i++) {
		st[i] = judge_target(f, &r.t[i], &now[i], &keep[i],
		    &touched[i]);
		if (st[i] == TGT_ERROR) {
			*why = "cannot read the mailbox or its journal";
			return -1;
		}
		if (st[i] == TGT_FOREIGN) {
			*why = "the update journal does not belong to the "
			    "mailbox as it is now";
			return -2;
		}
	}
	/*
	 * The targets are copied in order, each once the one before is
	 * complete: a file changed after one that is not was changed by
	 * someone else.
	 */
	for (i = 1; i < r.nt; i++)
		if (st[i - 1] != TGT_DONE && touched[i]) {
			log_warnx("update journal: the %s changed before the "
			    "update reached it", r.t[i].kind == JT_SPOOL ?
			    "mailbox" : "temp drop");
			*why = "the update journal does not belong to the "
			    "mailbox as it is now";
			return -2;
		}
	/* One new record: every target not yet complete, from the old one. */
	for (i = 0; i < r.nt; i++) {
		if (st[i] == TGT_DONE)
			continue;
		work = 1;
		tg[nt].kind = (int)r.t[i].kind;
		tg[nt].pieces = p[nt];
		tg[nt].s_cur = now[i];
		if (st[i] == TGT_CUT) {
			/* Not cut: keep what came after s_cur, drop the rest. */
			tg[nt].w = r.t[i].w + r.t[i].len;
			p[nt][0].src = r.t[i].kind == JT_SPOOL ? JSRC_SPOOL :
			    JSRC_DROP;
			p[nt][0].off = r.t[i].s_cur;
			p[nt][0].len = now[i] - r.t[i].s_cur;
			tg[nt].npieces = 1;
		} else {
			/* The data, then whatever arrived since. */
			tg[nt].w = r.t[i].w;
			p[nt][0].src = JSRC_JOURNAL;
			p[nt][0].off = r.t[i].data_off;
			p[nt][0].len = r.t[i].len;
			p[nt][1].src = r.t[i].kind == JT_SPOOL ? JSRC_SPOOL :
			    JSRC_DROP;
			p[nt][1].off = keep[i];
			p[nt][1].len = now[i] - keep[i];
			tg[nt].npieces = 2;
		}
		nt++;
	}
	if (!work) {
		log_info("update journal: the update was complete");
		return 0;
	}
	if (append_rec(f, end, tg, nt, &r2) == -1 || apply_rec(f, &r2) == -1) {
		*why = "cannot finish the interrupted update";
		return -1;
	}
	log_info("update journal: finished an interrupted update");
	return 0;
}

/* ------------------------------------------------ windowed updates */

/*
 * The update that removes messages in place moves the kept tail of the
 * mailbox towards its start: every byte goes to an offset at or below
 * the one it comes from.  It needs no second copy of that tail.  Its
 * journal holds a plan, then two slots, each for one window of the new
 * content:
 *
 *	plan	"PSJP", u32 kind, u64 device, inode, w, new length L,
 *		s_cur, number of pieces, bytes of their text, number of
 *		block sums, window size, the slot offset, then a 32-byte
 *		SHA-256 of [w - JOURNAL_LEAD, w) and one of the old bytes
 *		[w + L, s_cur) the cut removes; u64 sum of the rest of the
 *		plan, u64 sum of the plan header (JW_PLAN bytes in all);
 *		then the pieces (u32 source, u32 0, u64 offset, u64 length;
 *		text pieces point into the text after them), their text,
 *		and a 64-bit sum of every JW_SAMPLE-th block of the old
 *		[w, s_cur), cut at every JOURNAL_BLOCK boundary of the file
 *		and at w + L
 *	slot	"PSJS", u32 0, u64 window number, u64 offset in the new
 *		content, u64 length, u64 sum of the plan header, u64 sum
 *		of the data, u64 sum of this header (JW_SLOT bytes), then
 *		the window's new bytes
 *
 * Window k goes to slot k % 2.  Its record is written and synced before
 * any of its bytes go into place, and only after the file was synced
 * with every window before it: so the newest complete record names the
 * one window a crash can have left half written, everything before it is
 * in place and on disk, and everything after it, which only ever comes
 * from offsets above the window, is untouched.  The first record is
 * synced with the plan, and the monitor names the journal, before the
 * file is touched.  The file is cut at w + L after the last window.
 *
 * Recovery checks the plan and the record against the file much as the
 * journal format above does (device, inode, the bytes before w, each
 * sampled block of the window old or the record's, each sampled block
 * after it old: a rewrite moves the bytes of every block after the
 * change, so one in JW_SAMPLE is enough to see one),
 * writes the window again and goes on with the next ones.  Mail
 * delivered after the crash, beyond s_cur, is then moved down after the
 * new content by an ordinary record appended after the slots.
 */
#define JW_PLAN_MAGIC	"PSJP"
#define JW_SLOT_MAGIC	"PSJS"
#define JW_PLAN		(8 + 10 * 8 + 64 + 16)
#define JW_SLOT		(8 + 6 * 8)
#define JW_PIECE	24
#define JW_WINDOW	(64 * 1024 * 1024)	/* bytes of one window */
#define JW_WINDOW_MIN	(64 * 1024)		/* on a nearly full disk */
#define JW_WINDOW_SMALL	(1024 * 1024)		/* the least, disk permitting */
#define JW_SAMPLE	64			/* blocks per block sum */

struct jplan {
	uint32_t	 kind;
	uint64_t	 dev, ino, w, len, s_cur, npieces, textlen, nblk, win;
	uint64_t	 slot_off;	/* of slot 0 */
	uint8_t		 lead[32], leftover[32];
	uint64_t	 hsum;		/* of the header: binds the slots */
	struct jpiece	*pieces;
	uint8_t		*text;
	uint8_t		*sums;		/* nblk 8-byte block sums */
};

struct jslot {
	uint64_t	seq, a, n;
};

static size_t	jw_window = JW_WINDOW;

/* The window size: smaller in tests, to make many windows. */
void
journal_set_window(size_t n)
{
	jw_window = n < JOURNAL_BLOCK ? JOURNAL_BLOCK : n;
}

static uint64_t
round_block(uint64_t n)
{
	return (n + JOURNAL_BLOCK - 1) / JOURNAL_BLOCK * JOURNAL_BLOCK;
}

static void
plan_free(struct jplan *pl)
{
	free(pl->pieces);
	free(pl->text);
	free(pl->sums);
	pl->pieces = NULL;
	pl->text = NULL;
	pl->sums = NULL;
}

/*
 * Whether target t can be done by windows: one file, every piece from
 * that file read at or above the offset it goes to, the result no longer
 * than the file.  Text pieces (header lines an update writes) are fine
 * as long as that holds after them.
 */
static int
shiftable(const struct jtarget *t)
{
	uint64_t	dest = t->w;
	size_t		i;
	int		own = t->kind == JT_SPOOL ? JSRC_SPOOL : JSRC_DROP;

	for (i = 0; i < t->npieces; i++) {
		if (t->pieces[i].src != JSRC_MEM &&
		    (t->pieces[i].src != own || t->pieces[i].off < dest))
			return 0;
		dest += t->pieces[i].len;
	}
	return dest <= t->s_cur;
}

/* The new bytes [a, a + n) of the content the pieces make, into buf. */
static int
gather(const struct jfiles *f, const struct jplan *pl, uint64_t a,
    uint64_t n, uint8_t *buf)
{
	const struct jpiece	*pc;
	uint64_t		 pos = 0, from, k;
	size_t			 i;
	int			 fd;

	for (i = 0; i < pl->npieces && n > 0; i++) {
		pc = &pl->pieces[i];
		if (pos + pc->len <= a) {
			pos += pc->len;
			continue;
		}
		from = a - pos;
		k = pc->len - from < n ? pc->len - from : n;
		if (pc->src == JSRC_MEM)
			memcpy(buf, pl->text + pc->off + from, (size_t)k);
		else {
			fd = src_fd(f, pc->src);
			if (full_pread(fd, buf, (size_t)k, pc->off + from) ==
			    -1) {
				log_warn("update: read the mailbox");
				return -1;
			}
		}
		buf += k;
		a += k;
		n -= k;
		pos += pc->len;
	}
	if (n > 0)
		bug("%s: window past the new content", __func__);
	return 0;
}

static void
put_plan(uint8_t *h, const struct jplan *pl)
{
	memset(h, 0, JW_PLAN);
	memcpy(h, JW_PLAN_MAGIC, 4);
	put32(h + 4, pl->kind);
	put64(h + 8, pl->dev);
	put64(h + 16, pl->ino);
	put64(h + 24, pl->w);
	put64(h + 32, pl->len);
	put64(h + 40, pl->s_cur);
	put64(h + 48, pl->npieces);
	put64(h + 56, pl->textlen);
	put64(h + 64, pl->nblk);
	put64(h + 72, pl->win);
	put64(h + 80, pl->slot_off);
	memcpy(h + 88, pl->lead, 32);
	memcpy(h + 120, pl->leftover, 32);
}

/* The plan's body: pieces, text, block sums. */
static uint8_t *
plan_body(const struct jplan *pl, size_t *len_r)
{
	uint8_t	*b, *q;
	size_t	 i, len;

	len = (size_t)(pl->npieces * JW_PIECE + pl->textlen + pl->nblk * 8);
	if ((b = malloc(len > 0 ? len : 1)) == NULL)
		return NULL;
	for (i = 0, q = b; i < pl->npieces; i++, q += JW_PIECE) {
		put32(q, (uint32_t)pl->pieces[i].src);
		put32(q + 4, 0);
		put64(q + 8, pl->pieces[i].off);
		put64(q + 16, pl->pieces[i].len);
	}
	memcpy(q, pl->text, (size_t)pl->textlen);
	memcpy(q + pl->textlen, pl->sums, (size_t)pl->nblk * 8);
	*len_r = len;
	return b;
}

/* Blocks of [w, s_cur) whose sums the plan keeps: one in JW_SAMPLE. */
static uint64_t
sampled_blocks(const struct jplan *pl)
{
	uint64_t	n = count_blocks(pl->w, pl->w + pl->len, pl->s_cur);

	return (n + JW_SAMPLE - 1) / JW_SAMPLE;
}

/*
 * Sums of the old [w, s_cur), cut at block boundaries and w + L: every
 * JW_SAMPLE-th block, so that a rewrite of the file after a crash, which
 * moves the bytes of every block after the change, is seen, without
 * reading the whole file twice.
 */
static int
plan_sums(int fd, struct jplan *pl, uint8_t *buf)
{
	uint64_t	pos, e, h, i = 0;

	pl->nblk = sampled_blocks(pl);
	if ((pl->sums = reallocarray(NULL, pl->nblk + 1, 8)) == NULL)
		return -1;
	for (pos = pl->w; pos < pl->s_cur; pos = e, i++) {
		e = block_end(pos, pl->w + pl->len, pl->s_cur);
		if (i % JW_SAMPLE != 0)
			continue;
		if (full_pread(fd, buf, (size_t)(e - pos), pos) == -1) {
			log_warn("update journal: read the mailbox");
			return -1;
		}
		h = fast_hash(buf, (size_t)(e - pos));
		memcpy(pl->sums + 8 * (i / JW_SAMPLE), &h, 8);
	}
	return 0;
}

/* The plan of target t: pieces, text, sums, digests. */
static int
make_plan(const struct jfiles *f, const struct jtarget *t, struct jplan *pl,
    uint8_t *buf)
{
	struct stat	st;
	uint64_t	lead, text = 0;
	size_t		i;
	int		fd = target_fd(f, (uint32_t)t->kind);

	memset(pl, 0, sizeof(*pl));
	pl->kind = (uint32_t)t->kind;
	pl->w = t->w;
	pl->s_cur = t->s_cur;
	pl->npieces = t->npieces;
	for (i = 0; i < t->npieces; i++) {
		pl->len += t->pieces[i].len;
		if (t->pieces[i].src == JSRC_MEM)
			text += t->pieces[i].len;
	}
	pl->pieces = reallocarray(NULL, t->npieces + 1, sizeof(*pl->pieces));
	pl->text = malloc((size_t)text + 1);
	if (pl->pieces == NULL || pl->text == NULL || fstat(fd, &st) == -1)
		return -1;
	pl->dev = (uint64_t)st.st_dev;
	pl->ino = (uint64_t)st.st_ino;
	for (i = 0; i < t->npieces; i++) {
		pl->pieces[i] = t->pieces[i];
		if (t->pieces[i].src != JSRC_MEM)
			continue;
		pl->pieces[i].off = pl->textlen;
		pl->pieces[i].mem = NULL;
		memcpy(pl->text + pl->textlen, t->pieces[i].mem,
		    (size_t)t->pieces[i].len);
		pl->textlen += t->pieces[i].len;
	}
	lead = t->w < JOURNAL_LEAD ? t->w : JOURNAL_LEAD;
	if (digest_range(fd, t->w - lead, lead, pl->lead) == -1 ||
	    digest_range(fd, t->w + pl->len, t->s_cur - t->w - pl->len,
	    pl->leftover) == -1) {
		log_warn("update journal: read the mailbox");
		return -1;
	}
	return plan_sums(fd, pl, buf);
}

/*
 * Room for the plan and two slots, taken now (fallocate), so that a disk
 * too full stops the update before it begins; the window is halved until
 * the slots fit, down to JW_WINDOW_MIN.
 */
static int
plan_room(int jfd, struct jplan *pl, size_t body)
{
	uint64_t	win = round_block((pl->w + pl->len) / 4);

	pl->slot_off = round_block(JW_PLAN + body);
	/*
	 * A quarter of the file at least JW_WINDOW_SMALL, at most the window
	 * size: a large update goes in several windows, a small one in one.
	 */
	if (win < JW_WINDOW_SMALL)
		win = JW_WINDOW_SMALL;
	if (win > jw_window)
		win = jw_window;
	if (win > pl->w + pl->len)
		win = round_block(pl->w + pl->len);
	for (;;) {
		if (fallocate(jfd, FALLOC_FL_KEEP_SIZE, 0, (off_t)(pl->slot_off + 2 *
		    round_block(JW_SLOT + win))) == 0)
			break;
		if (errno == EOPNOTSUPP || errno == ENOSYS)
			break;
		if (errno != ENOSPC || win / 2 < JW_WINDOW_MIN) {
			log_warn("update journal: fallocate");
			return -1;
		}
		win /= 2;
	}
	pl->win = win;
	return 0;
}

/*
 * Window seq of the new content: [*a_r, *a_r + *n_r), relative to w.
 * Windows end on multiples of the window size in the file (a multiple of
 * JOURNAL_BLOCK), so that no block of the file lies in two windows.
 * Returns 0, or -1 past the last window.
 */
static int
win_range(const struct jplan *pl, uint64_t seq, uint64_t *a_r, uint64_t *n_r)
{
	uint64_t	base = pl->w / pl->win * pl->win, s, e;

	if (seq > (pl->w + pl->len) / pl->win + 1)
		return -1;
	s = base + seq * pl->win;
	e = s + pl->win;
	if (s < pl->w)
		s = pl->w;
	if (e > pl->w + pl->len)
		e = pl->w + pl->len;
	if (s >= e)
		return -1;
	*a_r = s - pl->w;
	*n_r = e - s;
	return 0;
}

static uint64_t
slot_at(const struct jplan *pl, uint64_t seq)
{
	return pl->slot_off + (seq % 2) * round_block(JW_SLOT + pl->win);
}

/*
 * n bytes at off, a chunk at a time, each handed to the disk as soon as
 * it is written: the device works while the next chunk is copied and
 * while the next window is read, summed and journaled, so the sync that
 * follows waits for less.  Only a hint: the sync makes the bytes safe.
 */
static int
write_started(int fd, const uint8_t *buf, uint64_t n, uint64_t off)
{
	uint64_t	done, k;

	for (done = 0; done < n; done += k) {
		k = ((off + done) / SPOOL_READ_CHUNK + 1) * SPOOL_READ_CHUNK -
		    (off + done);
		if (k > n - done)
			k = n - done;
		if (full_pwrite(fd, buf + done, (size_t)k, off + done) == -1)
			return -1;
		(void)sync_file_range(fd, (off_t)(off + done), (off_t)k,
		    SYNC_FILE_RANGE_WRITE);
		journal_progress(k);
	}
	return 0;
}

/* Window seq's record (its data already in buf), synced. */
static int
write_slot(int jfd, const struct jplan *pl, uint64_t seq, const uint8_t *buf,
    uint64_t a, uint64_t n)
{
	uint8_t	h[JW_SLOT];
	uint64_t at = slot_at(pl, seq);

	memset(h, 0, sizeof(h));
	memcpy(h, JW_SLOT_MAGIC, 4);
	put64(h + 8, seq);
	put64(h + 16, a);
	put64(h + 24, n);
	put64(h + 32, pl->hsum);
	put64(h + 40, fast_hash(buf, (size_t)n));
	put64(h + 48, fast_hash(h, JW_SLOT - 8));
	if (full_pwrite(jfd, buf, (size_t)n, at + JW_SLOT) == -1 ||
	    full_pwrite(jfd, h, sizeof(h), at) == -1) {
		log_warn("update journal: write");
		return -1;
	}
	if (fdatasync(jfd) == -1) {
		log_warn("update journal: fdatasync");
		return -1;
	}
	return 0;
}

/*
 * Nothing kept from w on: the update is a cut, which a crash cannot tear,
 * and needs no journal.  Returns -1 if the file is untouched.
 */
static int
truncate_target(const struct jfiles *f, const struct jtarget *t)
{
	int	fd = target_fd(f, (uint32_t)t->kind);

	if (ftruncate(fd, (off_t)t->w) == -1) {
		log_warn("update: ftruncate the mailbox");
		return -1;
	}
	/* Cut: a sync that fails is logged, the update is made. */
	(void)cut_sync(fd, t->w, 0);
	return 0;
}

/* Window bytes into place, in chunks that end on block boundaries. */
static int
place(int fd, uint64_t at, const uint8_t *buf, uint64_t n)
{
	if (write_started(fd, buf, n, at) == -1) {
		log_warn("update: write the mailbox");
		return -1;
	}
	return 0;
}

/*
 * Windows from seq on, window seq's data already in buf (and its record
 * synced); then the cut.  Returns 0 or -1.
 */
static int
run_windows(const struct jfiles *f, const struct jplan *pl, uint64_t seq,
    uint8_t *buf)
{
	uint64_t	a, n;
	int		fd = target_fd(f, pl->kind);

	if (win_range(pl, seq, &a, &n) == -1)
		bug("%s: no window %llu", __func__, (unsigned long long)seq);
	for (;;) {
		if (place(fd, pl->w + a, buf, n) == -1)
			return -1;
		if (win_range(pl, ++seq, &a, &n) == -1)
			break;
		if (gather(f, pl, a, n, buf) == -1)
			return -1;
		/* Every earlier window on disk before its record goes. */
		if (fdatasync(fd) == -1) {
			log_warn("update: fdatasync the mailbox");
			return -1;
		}
		if (write_slot(f->journal, pl, seq, buf, a, n) == -1)
			return -1;
	}
	return cut_sync(fd, pl->w + pl->len, pl->s_cur > pl->w + pl->len);
}

/* The update of one file by windows; journal_update()'s returns. */
static int
journal_shift(const struct jfiles *f, const struct jtarget *t,
    int (*commit)(void *), void *arg, const char **why)
{
	struct jplan	 pl;
	uint8_t		 h[JW_PLAN], *body = NULL, *buf = NULL;
	size_t		 blen;
	uint64_t	 a, n;
	int		 rc = -1;

	if (t->npieces == 0) {
		*why = "cannot truncate the mailbox";
		return truncate_target(f, t);
	}
	*why = "cannot write the update journal";
	memset(&pl, 0, sizeof(pl));
	if ((buf = malloc(SPOOL_READ_CHUNK)) == NULL)
		goto out;
	if (make_plan(f, t, &pl, buf) == -1 ||
	    (body = plan_body(&pl, &blen)) == NULL)
		goto out;
	if (plan_room(f->journal, &pl, blen) == -1) {
		*why = "no room on the disk for the update";
		goto out;
	}
	/* One window's worth (plan_room() sized it), a chunk at least. */
	free(buf);
	if ((buf = malloc(pl.win > SPOOL_READ_CHUNK ? (size_t)pl.win :
	    SPOOL_READ_CHUNK)) == NULL)
		goto out;
	put_plan(h, &pl);
	put64(h + JW_PLAN - 16, fast_hash(body, blen));
	put64(h + JW_PLAN - 8, fast_hash(h, JW_PLAN - 8));
	pl.hsum = get64(h + JW_PLAN - 8);
	if (win_range(&pl, 0, &a, &n) == -1)
		bug("%s: no first window", __func__);
	if (full_pwrite(f->journal, h, sizeof(h), 0) == -1 ||
	    full_pwrite(f->journal, body, blen, JW_PLAN) == -1 ||
	    gather(f, &pl, a, n, buf) == -1 ||
	    write_slot(f->journal, &pl, 0, buf, a, n) == -1)
		goto out;
	if (commit(arg) == -1) {
		*why = "cannot commit the update journal";
		goto out;
	}
	rc = -2;
	if (run_windows(f, &pl, 0, buf) == -1) {
		*why = "write error while updating the mailbox (the journal "
		    "will complete it)";
		goto out;
	}
	rc = 0;
 out:
	free(buf);
	free(body);
	plan_free(&pl);
	return rc;
}

/* ------------------------------------------------ windowed recovery */

/* Whether n bytes at off of fd equal p. */
static int
same_bytes_mem(int fd, uint64_t off, const uint8_t *p, uint64_t n, int *ok_r)
{
	uint8_t	*x;
	size_t	 k;
	int	 rv = -1;

	if ((x = malloc(SPOOL_READ_CHUNK)) == NULL)
		return -1;
	*ok_r = 1;
	for (; n > 0 && *ok_r; n -= k, off += k, p += k) {
		k = n > SPOOL_READ_CHUNK ? SPOOL_READ_CHUNK : (size_t)n;
		if (full_pread(fd, x, k, off) == -1)
			goto out;
		*ok_r = memcmp(x, p, k) == 0;
	}
	rv = 0;
 out:
	free(x);
	return rv;
}

/* The plan at the start of the journal, checked; 0, or -1 if none. */
static int
read_plan(int jfd, uint64_t jsize, struct jplan *pl)
{
	uint8_t		 h[JW_PLAN], *body = NULL, *q;
	uint64_t	 blen, dest, i;
	int		 own;

	memset(pl, 0, sizeof(*pl));
	if (jsize < JW_PLAN || full_pread(jfd, h, sizeof(h), 0) == -1 ||
	    memcmp(h, JW_PLAN_MAGIC, 4) != 0 ||
	    fast_hash(h, JW_PLAN - 8) != get64(h + JW_PLAN - 8))
		return -1;
	pl->kind = get32(h + 4);
	pl->dev = get64(h + 8);
	pl->ino = get64(h + 16);
	pl->w = get64(h + 24);
	pl->len = get64(h + 32);
	pl->s_cur = get64(h + 40);
	pl->npieces = get64(h + 48);
	pl->textlen = get64(h + 56);
	pl->nblk = get64(h + 64);
	pl->win = get64(h + 72);
	pl->slot_off = get64(h + 80);
	memcpy(pl->lead, h + 88, 32);
	memcpy(pl->leftover, h + 120, 32);
	pl->hsum = get64(h + JW_PLAN - 8);
	/* Written by a worker: bounded, and a shift as shiftable() says. */
	if ((pl->kind != JT_SPOOL && pl->kind != JT_DROP) ||
	    pl->s_cur > SPOOL_SIZE_MAX || pl->w > pl->s_cur ||
	    pl->len > pl->s_cur - pl->w || pl->npieces > SPOOL_MSGS_MAX * 4 ||
	    pl->textlen > SPOOL_SIZE_MAX || pl->win < JOURNAL_BLOCK ||
	    pl->win > JW_WINDOW || pl->win % JOURNAL_BLOCK != 0 ||
	    pl->nblk != sampled_blocks(pl))
		return -1;
	blen = pl->npieces * JW_PIECE + pl->textlen + pl->nblk * 8;
	if (blen > jsize - JW_PLAN || pl->slot_off != round_block(JW_PLAN +
	    blen) || (body = malloc((size_t)blen + 1)) == NULL)
		return -1;
	if (full_pread(jfd, body, (size_t)blen, JW_PLAN) == -1 ||
	    fast_hash(body, (size_t)blen) != get64(h + JW_PLAN - 16))
		goto bad;
	pl->pieces = reallocarray(NULL, pl->npieces + 1, sizeof(*pl->pieces));
	pl->text = malloc((size_t)pl->textlen + 1);
	pl->sums = malloc((size_t)pl->nblk * 8 + 1);
	if (pl->pieces == NULL || pl->text == NULL || pl->sums == NULL)
		goto bad;
	own = pl->kind == JT_SPOOL ? JSRC_SPOOL : JSRC_DROP;
	dest = pl->w;
	for (i = 0, q = body; i < pl->npieces; i++, q += JW_PIECE) {
		pl->pieces[i].src = (int)get32(q);
		pl->pieces[i].off = get64(q + 8);
		pl->pieces[i].len = get64(q + 16);
		pl->pieces[i].mem = NULL;
		if ((pl->pieces[i].src != own && pl->pieces[i].src != JSRC_MEM) ||
		    pl->pieces[i].len > pl->len - (dest - pl->w))
			goto bad;
		if (pl->pieces[i].src == JSRC_MEM ?
		    pl->pieces[i].off > pl->textlen ||
		    pl->pieces[i].len > pl->textlen - pl->pieces[i].off :
		    pl->pieces[i].off < dest ||
		    pl->pieces[i].off > pl->s_cur ||
		    pl->pieces[i].len > pl->s_cur - pl->pieces[i].off)
			goto bad;
		dest += pl->pieces[i].len;
	}
	if (dest != pl->w + pl->len)
		goto bad;
	memcpy(pl->text, q, (size_t)pl->textlen);
	memcpy(pl->sums, q + pl->textlen, (size_t)pl->nblk * 8);
	free(body);
	return 0;
 bad:
	free(body);
	plan_free(pl);
	return -1;
}

/* The newer complete slot, its data in buf; 0, or -1 if none. */
static int
read_slots(int jfd, uint64_t jsize, const struct jplan *pl, struct jslot *sl,
    uint8_t *buf)
{
	uint8_t		h[JW_SLOT];
	uint64_t	k, at, seq, a, n, best = UINT64_MAX;

	for (k = 0; k < 2; k++) {
		at = slot_at(pl, k);
		if (at > jsize || jsize - at < JW_SLOT ||
		    full_pread(jfd, h, sizeof(h), at) == -1 ||
		    memcmp(h, JW_SLOT_MAGIC, 4) != 0 ||
		    fast_hash(h, JW_SLOT - 8) != get64(h + JW_SLOT - 8) ||
		    get64(h + 32) != pl->hsum)
			continue;
		seq = get64(h + 8);
		if (seq % 2 != k || win_range(pl, seq, &a, &n) == -1 ||
		    a != get64(h + 16) || n != get64(h + 24) ||
		    jsize - at - JW_SLOT < n)
			continue;
		if (best != UINT64_MAX && seq < sl->seq)
			continue;
		if (full_pread(jfd, buf, (size_t)n, at + JW_SLOT) == -1 ||
		    fast_hash(buf, (size_t)n) != get64(h + 40))
			continue;
		best = k;
		sl->seq = seq;
		sl->a = a;
		sl->n = n;
	}
	if (best == UINT64_MAX)
		return -1;
	/* The newer one is what buf must hold. */
	at = slot_at(pl, best);
	return full_pread(jfd, buf, (size_t)sl->n, at + JW_SLOT);
}

/*
 * Whether the file is in a state the windows can have left: each sampled
 * block of the window old or the record's, each one after it old.
 */
static int
window_explained(int fd, const struct jplan *pl, const struct jslot *sl,
    const uint8_t *data, uint8_t *x)
{
	uint64_t	pos, e, i = 0, h, want, a = pl->w + sl->a;

	for (pos = pl->w; pos < pl->s_cur; pos = e, i++) {
		e = block_end(pos, pl->w + pl->len, pl->s_cur);
		if (e <= a || i % JW_SAMPLE != 0)
			continue;
		if (full_pread(fd, x, (size_t)(e - pos), pos) == -1)
			return -1;
		h = fast_hash(x, (size_t)(e - pos));
		memcpy(&want, pl->sums + 8 * (i / JW_SAMPLE), 8);
		if (h == want)
			continue;
		if (pos >= a && e <= a + sl->n &&
		    memcmp(x, data + (pos - a), (size_t)(e - pos)) == 0)
			continue;
		return 0;
	}
	return 1;
}

static int
recover_windows(const struct jfiles *f, uint64_t jsize, const char **why)
{
	struct jplan	 pl;
	struct jslot	 sl;
	struct jrec	 r;
	struct jtarget	 tg;
	struct jpiece	 p;
	struct stat	 st;
	uint8_t		 sum[32], *buf = NULL, *x = NULL;
	uint64_t	 lead, end, now, tail, old_s_cur;
	int		 fd, rc = -1, ok, cut;

	memset(&sl, 0, sizeof(sl));
	if (read_plan(f->journal, jsize, &pl) == -1) {
		log_info("update journal incomplete: the update never began");
		return 0;
	}
	tail = pl.slot_off + 2 * round_block(JW_SLOT + pl.win);
	/* Mail that arrived after a crash, being moved: that record first. */
	if (jsize > tail && last_rec(f->journal, tail, &r, &end) == 1) {
		plan_free(&pl);
		return recover_records(f, tail, why);
	}
	if ((buf = malloc((size_t)pl.win)) == NULL ||
	    (x = malloc(JOURNAL_BLOCK)) == NULL)
		goto out;
	if (read_slots(f->journal, jsize, &pl, &sl, buf) == -1) {
		log_info("update journal incomplete: the update never began");
		rc = 0;
		goto out;
	}
	fd = target_fd(f, pl.kind);
	*why = "the update journal does not belong to the mailbox as it is now";
	if (fd == -1 || fstat(fd, &st) == -1 ||
	    (uint64_t)st.st_dev != pl.dev || (uint64_t)st.st_ino != pl.ino) {
		log_warnx("update journal: written for another file");
		rc = -2;
		goto out;
	}
	now = (uint64_t)st.st_size;
	lead = pl.w < JOURNAL_LEAD ? pl.w : JOURNAL_LEAD;
	if (now < pl.w || digest_range(fd, pl.w - lead, lead, sum) == -1 ||
	    memcmp(sum, pl.lead, 32) != 0) {
		log_warnx("update journal: the bytes before offset %llu "
		    "changed", (unsigned long long)pl.w);
		rc = -2;
		goto out;
	}
	/* Cut already (the old bytes after w + L are gone): complete. */
	cut = pl.s_cur > pl.w + pl.len && (now < pl.s_cur ||
	    digest_range(fd, pl.w + pl.len, pl.s_cur - pl.w - pl.len, sum) !=
	    0 || memcmp(sum, pl.leftover, 32) != 0);
	if (cut) {
		if (sl.a + sl.n != pl.len || now < pl.w + pl.len ||
		    same_bytes_mem(fd, pl.w + sl.a, buf, sl.n, &ok) == -1 ||
		    !ok) {
			log_warnx("update journal: the file was cut before the "
			    "update was complete");
			rc = -2;
			goto out;
		}
		log_info("update journal: the update was complete");
		rc = 0;
		goto out;
	}
	if (now < pl.s_cur || (ok = window_explained(fd, &pl, &sl, buf, x)) ==
	    -1) {
		if (now < pl.s_cur)
			log_warnx("update journal: the file is shorter than "
			    "when the journal was written");
		rc = now < pl.s_cur ? -2 : -1;
		goto out;
	}
	if (!ok) {
		log_warnx("update journal: the file's bytes after offset %llu "
		    "are neither the old ones nor the journal's",
		    (unsigned long long)(pl.w + sl.a));
		rc = -2;
		goto out;
	}
	*why = "cannot finish the interrupted update";
	free(x);
	x = NULL;
	if ((x = realloc(buf, pl.win > SPOOL_READ_CHUNK ? pl.win :
	    SPOOL_READ_CHUNK)) == NULL)
		goto out;
	buf = x;
	x = NULL;
	if (now == pl.s_cur) {
		if (run_windows(f, &pl, sl.seq, buf) == -1)
			goto out;
	} else {
		/* Every window, no cut: then the new mail moves down. */
		old_s_cur = pl.s_cur;
		pl.s_cur = pl.w + pl.len;
		if (run_windows(f, &pl, sl.seq, buf) == -1)
			goto out;
		tg.kind = (int)pl.kind;
		tg.w = pl.w + pl.len;
		tg.s_cur = now;
		p.src = pl.kind == JT_SPOOL ? JSRC_SPOOL : JSRC_DROP;
		p.off = old_s_cur;
		p.len = now - old_s_cur;
		p.mem = NULL;
		tg.pieces = &p;
		tg.npieces = 1;
		if (append_rec(f, tail, &tg, 1, &r) == -1 ||
		    apply_rec(f, &r) == -1)
			goto out;
	}
	log_info("update journal: finished an interrupted update");
	rc = 0;
 out:
	free(buf);
	free(x);
	plan_free(&pl);
	return rc;
}

/*
 * Finish an update a crash interrupted, under the mailbox locks, before
 * the mailbox is indexed: a windowed update (its plan at the start of the
 * journal) or records.  Returns what recover_records() returns.
 */
int
journal_recover(const struct jfiles *f, const char **why)
{
	struct stat	st;
	uint8_t		magic[4];

	if (fstat(f->journal, &st) == -1) {
		*why = "cannot read the update journal";
		return -1;
	}
	if (st.st_size >= 4 && full_pread(f->journal, magic, 4, 0) == 0 &&
	    memcmp(magic, JW_PLAN_MAGIC, 4) == 0)
		return recover_windows(f, (uint64_t)st.st_size, why);
	return recover_records(f, 0, why);
}
