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
 * The update journal of the spool worker (the mail user, sandboxed):
 * what makes the QUIT update crash-safe.  Before the mailbox is touched,
 * the whole new tail (every kept message after the first deleted one, and
 * mail delivered since login) is written to a journal file the session
 * monitor created next to the mailbox, with its position, checksums and
 * the size of the mailbox it applies to, and synced.  Only then is the
 * tail copied into place and the mailbox cut.  A crash at any instant
 * leaves either an incomplete record (the mailbox untouched) or a complete
 * one that the next login finishes (journal_recover()), keeping mail
 * delivered in between.
 *
 * A journal is a sequence of records, each a 96-byte header followed by
 * its data; the last complete record is the one that counts:
 *
 *	"PSJ1"  u32 0  u64 w  u64 s_cur  u64 len
 *	SHA-256 of the data  SHA-256 of the mailbox's [w + len, s_cur)
 *	data (len bytes): what belongs at w; the mailbox ends at w + len
 *
 * s_cur is the mailbox's size when the record was written: bytes past it
 * are mail delivered later, to be kept after the data.  The last checksum
 * tells an applied but uncut mailbox from a cut one that grew again.
 * Every byte in the journal came from the mailbox; it trusts the journal
 * no more than the mailbox, and checks both.
 */

#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "spool.h"

#define JOURNAL_HDR	96
#define JOURNAL_MAGIC	"PSJ1"

struct jrec {
	uint64_t	off;		/* of the header in the journal */
	uint64_t	w, s_cur, len;
	uint8_t		sum[32];
	uint8_t		leftover[32];
};

static int	digest_range(int, uint64_t, uint64_t, uint8_t *);
static int	read_rec(int, uint64_t, uint64_t, struct jrec *);
static int	last_rec(int, struct jrec *, uint64_t *);
static int	append_rec(int, int, uint64_t, uint64_t, const struct jpiece *,
		    size_t, uint64_t, struct jrec *);
static int	apply_rec(int, int, const struct jrec *);
static int	same_bytes(int, uint64_t, int, uint64_t, uint64_t, int *);

static void
put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static int
full_pread(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	ssize_t	n;

	while (len > 0) {
		n = pread(fd, buf, len, (off_t)off);
		if (n <= 0)
			return -1;
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
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
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

/* A complete, checksummed record at off of a journal of jsize bytes. */
static int
read_rec(int jfd, uint64_t off, uint64_t jsize, struct jrec *r)
{
	uint8_t	h[JOURNAL_HDR], sum[32];

	static const uint8_t	zero[4];

	if (jsize < off || jsize - off < JOURNAL_HDR ||
	    full_pread(jfd, h, sizeof(h), off) == -1 ||
	    memcmp(h, JOURNAL_MAGIC, 4) != 0 || memcmp(h + 4, zero, 4) != 0)
		return -1;
	r->off = off;
	r->w = get64(h + 8);
	r->s_cur = get64(h + 16);
	r->len = get64(h + 24);
	memcpy(r->sum, h + 32, 32);
	memcpy(r->leftover, h + 64, 32);
	/* A record the worker wrote: its data ends within the old mailbox. */
	if (r->len > jsize - off - JOURNAL_HDR || r->w > r->s_cur ||
	    r->len > r->s_cur - r->w)
		return -1;
	if (digest_range(jfd, off + JOURNAL_HDR, r->len, sum) == -1 ||
	    memcmp(sum, r->sum, 32) != 0)
		return -1;
	return 0;
}

/*
 * The last complete record (1), or none (0); *end_r is where the next
 * record goes: after the last complete one, over any torn remains.
 */
static int
last_rec(int jfd, struct jrec *r, uint64_t *end_r)
{
	struct stat	st;
	struct jrec	cur;
	uint64_t	off = 0;
	int		found = 0;

	if (fstat(jfd, &st) == -1)
		return -1;
	while (read_rec(jfd, off, (uint64_t)st.st_size, &cur) == 0) {
		*r = cur;
		found = 1;
		off = cur.off + JOURNAL_HDR + cur.len;
	}
	*end_r = off;
	return found;
}

/*
 * Write a record at off: the data from the pieces (read from the journal
 * or the mailbox), then the header, then sync.  Header last: a record is
 * complete only once all of it is on disk.
 */
static int
append_rec(int jfd, int mfd, uint64_t off, uint64_t w,
    const struct jpiece *pieces, size_t npieces, uint64_t s_cur,
    struct jrec *r)
{
	EVP_MD_CTX	*ctx;
	uint8_t		*buf, h[JOURNAL_HDR];
	uint64_t	 pos = off + JOURNAL_HDR, len = 0, left, from;
	size_t		 i, n;
	unsigned int	 mdlen;
	int		 rv = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if ((buf = malloc(SPOOL_READ_CHUNK)) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	for (i = 0; i < npieces; i++) {
		from = pieces[i].off;
		for (left = pieces[i].len; left > 0; left -= n) {
			n = left > SPOOL_READ_CHUNK ? SPOOL_READ_CHUNK :
			    (size_t)left;
			if (full_pread(pieces[i].from_journal ? jfd : mfd, buf,
			    n, from) == -1 ||
			    EVP_DigestUpdate(ctx, buf, n) != 1 ||
			    full_pwrite(jfd, buf, n, pos) == -1)
				goto out;
			from += n;
			pos += n;
			len += n;
		}
	}
	r->off = off;
	r->w = w;
	r->s_cur = s_cur;
	r->len = len;
	if (EVP_DigestFinal_ex(ctx, r->sum, &mdlen) != 1 || mdlen != 32)
		goto out;
	/* What an applied but uncut mailbox would still hold past w + len. */
	if (w + len > s_cur || digest_range(mfd, w + len, s_cur - w - len,
	    r->leftover) == -1)
		goto out;
	if (fdatasync(jfd) == -1)
		goto out;
	memset(h, 0, sizeof(h));
	memcpy(h, JOURNAL_MAGIC, 4);
	put64(h + 8, w);
	put64(h + 16, s_cur);
	put64(h + 24, len);
	memcpy(h + 32, r->sum, 32);
	memcpy(h + 64, r->leftover, 32);
	if (full_pwrite(jfd, h, sizeof(h), off) == -1 || fdatasync(jfd) == -1)
		goto out;
	rv = 0;
 out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rv;
}

/* Copy a record's data to w, cut the mailbox after it, sync. */
static int
apply_rec(int jfd, int mfd, const struct jrec *r)
{
	uint8_t		*buf;
	uint64_t	 done;
	size_t		 n;
	int		 rv = -1;

	if ((buf = malloc(SPOOL_READ_CHUNK)) == NULL)
		return -1;
	for (done = 0; done < r->len; done += n) {
		n = r->len - done > SPOOL_READ_CHUNK ? SPOOL_READ_CHUNK :
		    (size_t)(r->len - done);
		if (full_pread(jfd, buf, n, r->off + JOURNAL_HDR + done) == -1 ||
		    full_pwrite(mfd, buf, n, r->w + done) == -1)
			goto out;
	}
	if (ftruncate(mfd, (off_t)(r->w + r->len)) == -1 || fsync(mfd) == -1)
		goto out;
	rv = 0;
 out:
	free(buf);
	return rv;
}

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
 * The update at QUIT, journal first.  pieces are the mailbox ranges that
 * make up the new tail starting at w; s_cur the mailbox's size now.
 * Returns 0, -1 if the mailbox is untouched (the journal may go), or -2
 * if it was partly rewritten (the journal must stay for the next login).
 */
int
journal_update(int jfd, int mfd, uint64_t w, const struct jpiece *pieces,
    size_t npieces, uint64_t s_cur, uint64_t *new_size_r, const char **why)
{
	struct jrec	r;

	if (append_rec(jfd, mfd, 0, w, pieces, npieces, s_cur, &r) == -1) {
		*why = "cannot write the update journal";
		return -1;
	}
	if (apply_rec(jfd, mfd, &r) == -1) {
		*why = "write error while updating the mailbox (the journal "
		    "will complete it at the next login)";
		return -2;
	}
	*new_size_r = r.w + r.len;
	return 0;
}

/*
 * Finish an update a crash interrupted, under the mailbox locks, before
 * the mailbox is indexed.  Returns 0 when the journal may be removed (the
 * update is complete, or it had not begun), -1 when the mailbox is not
 * in any state the journal explains: then both are left as they are.
 */
int
journal_recover(int jfd, int mfd, const char **why)
{
	struct stat	st;
	struct jrec	r, r2;
	struct jpiece	p[2];
	uint8_t		left[32];
	uint64_t	now, end;
	int		rc, same;

	if ((rc = last_rec(jfd, &r, &end)) == -1 || fstat(mfd, &st) == -1) {
		*why = "cannot read the update journal";
		return -1;
	}
	if (rc == 0) {
		log_info("update journal incomplete: the update never began");
		return 0;
	}
	now = (uint64_t)st.st_size;
	if (now >= r.w + r.len && same_bytes(jfd, r.off + JOURNAL_HDR, mfd,
	    r.w, r.len, &same) == 0 && same) {
		/* In place.  Cut yet?  The old bytes past it tell. */
		if (now < r.s_cur || digest_range(mfd, r.w + r.len,
		    r.s_cur - r.w - r.len, left) == -1 ||
		    memcmp(left, r.leftover, 32) != 0) {
			log_info("update journal: the update was complete");
			return 0;
		}
		/* Not cut: keep what came after s_cur, drop the rest. */
		p[0].from_journal = 0;
		p[0].off = r.s_cur;
		p[0].len = now - r.s_cur;
		if (append_rec(jfd, mfd, end, r.w + r.len, p, 1, now,
		    &r2) == -1 || apply_rec(jfd, mfd, &r2) == -1) {
			*why = "cannot finish the interrupted update";
			return -1;
		}
		log_info("update journal: finished an interrupted update");
		return 0;
	}
	if (now < r.s_cur) {
		*why = "the mailbox does not match its update journal";
		return -1;
	}
	/* Not (all) in place: the data, then whatever arrived since. */
	p[0].from_journal = 1;
	p[0].off = r.off + JOURNAL_HDR;
	p[0].len = r.len;
	p[1].from_journal = 0;
	p[1].off = r.s_cur;
	p[1].len = now - r.s_cur;
	if (append_rec(jfd, mfd, end, r.w, p, 2, now, &r2) == -1 ||
	    apply_rec(jfd, mfd, &r2) == -1) {
		*why = "cannot finish the interrupted update";
		return -1;
	}
	log_info("update journal: redid an interrupted update");
	return 0;
}
