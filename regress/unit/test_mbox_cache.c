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
 * Unit tests of spool/cache.c, the start-up cache of the spool worker,
 * judged against the parser: whatever was done to the mailbox between
 * two logins, an index built from the cache and the mail after it is the
 * index a fresh parse of the file gives (every offset, size, digest and
 * id), or the cache is refused.  Mailboxes are generated from a seeded
 * random source with the hard cases in them (Content-Length right, wrong
 * and past the end, a partial "From" at the end, CRLF, repeated headers
 * so that ids collide, X-UIDL, MMDF, the c-client pseudo message), and
 * changed the ways the world changes them: mail appended (also without
 * the empty line before it), an update in place after DELE, a byte
 * changed in place, a message removed with the size made up by new mail,
 * the file replaced; the cache file itself cut and bit-flipped.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "params.h"
#include "spool.h"

/* Message i's id, in a buffer of the expression's own. */
#define UIDOF(mb, i)	mbox_uid((mb), &(mb)->msgs[i], (char[UID_BUF]){ 0 })
#include "test.h"

#define BOX_MAX		(256 * 1024)
#define TRIALS		400
#define CACHE_REC0	4096		/* the first record (spool/cache.c) */
#define REC_AT(i)	(CACHE_REC0 + (i) * sizeof(struct mbox_msg))

static uint64_t	rng_state;
static int	big;		/* mailboxes larger than the cache's lead */
static unsigned	serial;

static uint32_t
rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return n == 0 ? 0 : (uint32_t)(rng_state >> 33) % n;
}

struct buf {
	char	*p;
	size_t	 len;
};

static void
put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n > BOX_MAX)
		n = BOX_MAX - b->len;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* One message in the format of the mailbox (MMDF or From_). */
static void
gen_msg(struct buf *b, int mmdf, int crlf)
{
	const char	*eol = crlf ? "\r\n" : "\n";
	char		 line[160];
	size_t		 body, i, blen;
	int		 kind = (int)rnd(8);

	if (mmdf)
		puts_(b, "\1\1\1\1\n");
	snprintf(line, sizeof(line), "From user%u@example.org Mon Nov %2u "
	    "09:00:00 2026%s", rnd(4), 1 + rnd(3), eol);
	puts_(b, line);
	/* Small mailboxes repeat headers (ids collide); large ones do not. */
	snprintf(line, sizeof(line), "Subject: message %u%s", big ?
	    serial++ : rnd(6), eol);
	puts_(b, line);
	if (rnd(5) == 0) {
		snprintf(line, sizeof(line), "X-UIDL: id%u%s", big ? serial++ :
		    rnd(4), eol);
		puts_(b, line);
	}
	body = big ? rnd(120) : rnd(6);
	blen = 0;
	for (i = 0; i < body; i++)
		blen += (big ? 18 : strlen("text line\n")) + (crlf ? 1 : 0);
	if (kind == 0)		/* right */
		snprintf(line, sizeof(line), "Content-Length: %zu%s", blen, eol);
	else if (kind == 1)	/* wrong, maybe past the end */
		snprintf(line, sizeof(line), "Content-Length: %u%s",
		    rnd(400), eol);
	else
		line[0] = '\0';
	puts_(b, line);
	puts_(b, eol);
	for (i = 0; i < body; i++) {
		if (big) {
			/* Lines differ, as in real mail: 17 bytes each. */
			snprintf(line, sizeof(line), "%s %05u",
			    rnd(6) == 0 ? "From inside" : "text line  ",
			    serial++ % 100000);
			puts_(b, line);
		} else
			puts_(b, rnd(6) == 0 ? "From inside" : "text line");
		puts_(b, eol);
	}
	if (mmdf)
		puts_(b, "\1\1\1\1\n");
	else if (rnd(6) != 0)
		puts_(b, eol);
}

static void
gen_box(struct buf *b, int *mmdf_r)
{
	size_t	n = big ? 20 + rnd(40) : rnd(12), i;
	int	mmdf = rnd(5) == 0, crlf = rnd(4) == 0;

	b->len = 0;
	if (rnd(8) == 0) {
		if (mmdf)
			puts_(b, "\1\1\1\1\n");
		puts_(b, "From MAILER-DAEMON Mon Nov 30 09:00:00 2026\n"
		    "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
		    "X-IMAP: 1 2\n\ntext\n");
		puts_(b, mmdf ? "\1\1\1\1\n" : "\n");
	}
	for (i = 0; i < n; i++)
		gen_msg(b, mmdf, crlf);
	*mmdf_r = mmdf;
}

/* New mail as a delivery agent appends it, sometimes carelessly. */
static void
gen_append(struct buf *b, int mmdf)
{
	size_t	n = 1 + rnd(3), i;

	if (rnd(4) == 0)
		puts_(b, "\n");
	for (i = 0; i < n; i++)
		gen_msg(b, mmdf, rnd(4) == 0);
	if (rnd(6) == 0)
		puts_(b, "From");	/* a partial line at the end */
}

static int
tmpfd(void)
{
	char	path[] = "/tmp/popsep-cache-test.XXXXXX";
	int	fd;

	if ((fd = mkstemp(path)) == -1) {
		perror("mkstemp");
		exit(2);
	}
	unlink(path);
	return fd;
}

static void
write_file(int fd, const char *p, size_t len)
{
	if (ftruncate(fd, 0) == -1 ||
	    (len > 0 && pwrite(fd, p, len, 0) != (ssize_t)len)) {
		perror("write");
		exit(2);
	}
}

static void
write_at(int fd, const void *p, size_t len, size_t at)
{
	if (len > 0 && pwrite(fd, p, len, (off_t)at) != (ssize_t)len) {
		perror("write");
		exit(2);
	}
}

static const uint8_t *
map(int fd, size_t len)
{
	void	*p;

	if (len == 0)
		return NULL;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

static int
same_index(const struct mbox *a, const struct mbox *b)
{
	size_t	i;

	if (a->n != b->n || a->start != b->start || a->hidden != b->hidden ||
	    a->mmdf != b->mmdf || memcmp(a->tail, b->tail, 32) != 0 ||
	    a->octets != b->octets)
		return 0;
	for (i = 0; i < a->n; i++) {
		const struct mbox_msg *x = &a->msgs[i], *y = &b->msgs[i];

		if (x->from != y->from || x->body != y->body ||
		    x->hdr_end != y->hdr_end || x->end != y->end ||
		    x->next != y->next || x->octets != y->octets ||
		    memcmp(x->digest, y->digest, 32) != 0 ||
		    strcmp(UIDOF(a, i), UIDOF(b, i)) != 0 ||
		    x->uid_flags != y->uid_flags ||
		    x->clen_unused != y->clen_unused)
			return 0;
	}
	return 1;
}

/*
 * Index the file the way the worker does: from the cache if it holds,
 * else whole.  Returns 1 if the cache was used.
 */
static int
index_file(int cfd, int fd, struct mbox *mb, const uint8_t *m, size_t len)
{
	struct stat	 st;
	const char	*why;
	uint64_t	 pos, csize;

	if (fstat(fd, &st) == -1)
		exit(2);
	if (len > 0 && cache_load(cfd, mb, m, len, &st, &pos, &csize, &why)
	    == 1) {
		if (pos == len || mbox_parse_more(mb, m, len, pos, &why) == 0)
			return 1;
	}
	why = NULL;
	if (mbox_parse(mb, m, len, &why) == -1)
		memset(mb, 0, sizeof(*mb));
	return 0;
}

struct tally {
	size_t	used, refused, wrong, appended, kept, nonempty;
};

/*
 * A login as the worker makes it: index (from the cache if it holds),
 * write the cache if anything is new, then serve the index from the
 * cache's pages if the cache was written anew.  Returns 1 if the cache
 * was used.
 */
static int
login(int cfd, int fd, struct mbox *mb, const uint8_t *m, size_t len)
{
	struct mbox	 again;
	struct stat	 st;
	const char	*why;
	uint64_t	 pos, csize = 0;
	int		 used;

	if (fstat(fd, &st) == -1)
		exit(2);
	used = len > 0 && cache_load(cfd, mb, m, len, &st, &pos, &csize,
	    &why) == 1;
	if (used && pos < len && mbox_parse_more(mb, m, len, pos, &why) == -1)
		used = 0;
	if (!used && mbox_parse(mb, m, len, &why) == -1) {
		memset(mb, 0, sizeof(*mb));
		cache_clear(cfd);
		return 0;
	}
	if (!used || csize != len)
		cache_store(cfd, mb, fd, &st);
	if (mb->recs == NULL && mb->n > 0 && cache_load(cfd, &again, m, len,
	    &st, &pos, &csize, &why) == 1) {
		mbox_free(mb);
		*mb = again;
	}
	return used;
}

/* The whole cache file, *len_r bytes (malloc'd). */
static uint8_t *
slurp(int fd, size_t *len_r)
{
	struct stat	 st;
	uint8_t		*p;

	if (fstat(fd, &st) == -1 || (p = malloc((size_t)st.st_size + 1)) ==
	    NULL || pread(fd, p, (size_t)st.st_size, 0) != st.st_size)
		exit(2);
	*len_r = (size_t)st.st_size;
	return p;
}

/*
 * What a crash can leave of a write that was never synced: each page as
 * it was before or as it is after, chosen at random, the file as long as
 * before or after.
 */
static void
tear(int cfd, const uint8_t *old, size_t olen)
{
	uint8_t	*cur;
	size_t	 clen, len, at, pg = 4096, k;

	cur = slurp(cfd, &clen);
	len = rnd(2) ? clen : olen;
	if (ftruncate(cfd, 0) == -1 || ftruncate(cfd, (off_t)len) == -1)
		exit(2);
	for (at = 0; at < len; at += pg) {
		k = len - at < pg ? len - at : pg;
		if (rnd(2) && at < olen)
			write_at(cfd, old + at, k < olen - at ? k : olen - at, at);
		else if (at < clen)
			write_at(cfd, cur + at, k < clen - at ? k : clen - at, at);
	}
	free(cur);
}

/*
 * Logins one after the other with mail delivered between them: each
 * index must equal a fresh parse; without tearing, every login after
 * new mail must append to the cache (its records before the last one
 * and its generation as they were) and use it.  With tearing, a crash
 * tore the cache's write after each login.
 */
static void
chain(struct tally *t, int torn)
{
	struct mbox	 b, fresh;
	struct buf	 box;
	struct timespec	 ts[2];
	uint8_t		*old = NULL, *now;
	const uint8_t	*m;
	size_t		 round, olen = 0, nlen, prev_n = 0, keep;
	int		 fd = tmpfd(), cfd = tmpfd(), mmdf, used;
	const char	*why;

	if ((box.p = malloc(BOX_MAX)) == NULL)
		exit(2);
	gen_box(&box, &mmdf);
	for (round = 0; round < 6; round++) {
		if (round > 0 && box.len < BOX_MAX / 2)
			gen_append(&box, mmdf);
		write_file(fd, box.p, box.len);
		/* Deliveries a second apart, as the clock sees them. */
		ts[0].tv_sec = ts[1].tv_sec = 1000000000 + (time_t)round;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (futimens(fd, ts) == -1)
			exit(2);
		m = map(fd, box.len);
		old = slurp(cfd, &olen);
		memset(&b, 0, sizeof(b));
		used = login(cfd, fd, &b, m, box.len);
		memset(&fresh, 0, sizeof(fresh));
		if (box.len > 0 && mbox_parse(&fresh, m, box.len, &why) == -1)
			memset(&fresh, 0, sizeof(fresh));
		if (!same_index(&b, &fresh))
			t->wrong++;
		if (round > 0) {
			used ? t->used++ : t->refused++;
			now = slurp(cfd, &nlen);
			/*
			 * Appended: the same generation, and the first
			 * record (never parsed again) as it was.
			 */
			keep = CACHE_REC0 + 96;
			if (!torn && prev_n > 1 && olen >= keep &&
			    nlen >= keep && memcmp(old, now, 12) == 0 &&
			    memcmp(old + CACHE_REC0, now + CACHE_REC0, 96) == 0)
				t->appended++;
			if (b.recs != NULL)
				t->kept++;
			if (b.n > 0)
				t->nonempty++;
			free(now);
		}
		prev_n = b.n;
		mbox_free(&b);
		mbox_free(&fresh);
		munmap((void *)m, box.len);
		if (torn)
			tear(cfd, old, olen);
		free(old);
	}
	free(box.p);
	close(fd);
	close(cfd);
}

/*
 * Session 1 indexes and stores; the change happens; session 2 indexes
 * from the cache: the result must be what a fresh parse gives.
 */
static void
trial(struct tally *t, int change)
{
	struct mbox	 a, b, fresh;
	struct stat	 st;
	struct buf	 box, now;
	const uint8_t	*m1, *m2;
	uint64_t	 newsize;
	size_t		 len1, i;
	int		 fd = tmpfd(), cfd = tmpfd(), jfd, mmdf, used;
	const char	*why;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&fresh, 0, sizeof(fresh));
	box.p = malloc(BOX_MAX);
	now.p = malloc(BOX_MAX);
	if (box.p == NULL || now.p == NULL)
		exit(2);
	gen_box(&box, &mmdf);
	write_file(fd, box.p, box.len);
	len1 = box.len;
	m1 = map(fd, len1);
	if (len1 == 0 || mbox_parse(&a, m1, len1, &why) == -1 || a.n == 0)
		goto out;
	if (fstat(fd, &st) == -1)
		exit(2);
	cache_store(cfd, &a, fd, &st);
	memcpy(now.p, box.p, box.len);
	now.len = box.len;
	switch (change) {
	case 0:		/* nothing */
		break;
	case 1:		/* delivery */
		gen_append(&now, mmdf);
		break;
	case 2:		/* DELE, QUIT, then delivery */
		for (i = 0; i < a.n; i++)
			mbox_mark_deleted(&a, i, rnd(3) == 0);
		jfd = tmpfd();
		if (mbox_compact(&a, fd, jfd, len1, &newsize, &why) != 0)
			exit(2);
		close(jfd);
		if (fstat(fd, &st) == -1)
			exit(2);
		if (mbox_after_update(&a, 0) == 0)
			cache_store(cfd, &a, fd, &st);
		else
			cache_clear(cfd);
		now.len = (size_t)newsize;
		if (pread(fd, now.p, now.len, 0) != (ssize_t)now.len)
			exit(2);
		if (rnd(2))
			gen_append(&now, mmdf);
		break;
	case 3:		/* a byte changed in place, maybe mail after */
		now.p[rnd((uint32_t)now.len)] ^= (char)(1 + rnd(255));
		if (rnd(2))
			gen_append(&now, mmdf);
		break;
	case 4:		/* a message taken out, new mail making up for it */
		i = rnd((uint32_t)a.n);
		memmove(now.p + a.msgs[i].from, now.p + a.msgs[i].next,
		    now.len - a.msgs[i].next);
		now.len -= a.msgs[i].next - a.msgs[i].from;
		while (now.len < len1 + rnd(64))
			gen_append(&now, mmdf);
		break;
	case 5:		/* the cache file damaged */
		if (fstat(cfd, &st) == -1)
			exit(2);
		if (rnd(2)) {
			if (ftruncate(cfd, rnd((uint32_t)st.st_size)) == -1)
				exit(2);
		} else {
			uint8_t	 c;
			off_t	 at = (off_t)rnd((uint32_t)st.st_size);

			if (pread(cfd, &c, 1, at) != 1)
				exit(2);
			c ^= (uint8_t)(1 << rnd(8));
			if (pwrite(cfd, &c, 1, at) != 1)
				exit(2);
		}
		if (rnd(2))
			gen_append(&now, mmdf);
		break;
	}
	if (change != 0 && (change != 2 || now.len != (size_t)newsize))
		write_file(fd, now.p, now.len);
	m2 = map(fd, now.len);
	used = index_file(cfd, fd, &b, m2, now.len);
	memset(&fresh, 0, sizeof(fresh));
	if (now.len > 0 && mbox_parse(&fresh, m2, now.len, &why) == -1)
		memset(&fresh, 0, sizeof(fresh));
	if (used)
		t->used++;
	else
		t->refused++;
	if (!same_index(&b, &fresh)) {
		t->wrong++;
		if (t->wrong <= 3) {
			fprintf(stderr, "change %d: %zu messages from the "
			    "cache path, %zu fresh (cache %s)\n", change, b.n,
			    fresh.n, used ? "used" : "refused");
			if (getenv("CACHE_TEST_DUMP") != NULL) {
				FILE *f = fopen(getenv("CACHE_TEST_DUMP"), "a");
				fprintf(f, "=== change %d before:\n", change);
				fwrite(box.p, 1, box.len, f);
				fprintf(f, "=== after:\n");
				fwrite(now.p, 1, now.len, f);
				for (i = 0; i < b.n && i < fresh.n; i++)
					fprintf(f, "=== %zu: %llu-%llu %s | %llu-%llu %s\n", i,
					    (unsigned long long)b.msgs[i].from, (unsigned long long)b.msgs[i].next, UIDOF(&b, i),
					    (unsigned long long)fresh.msgs[i].from, (unsigned long long)fresh.msgs[i].next, UIDOF(&fresh, i));
				fclose(f);
			}
		}
	}
	mbox_free(&b);
	mbox_free(&fresh);
	if (m2 != NULL)
		munmap((void *)m2, now.len);
 out:
	mbox_free(&a);
	if (m1 != NULL)
		munmap((void *)m1, len1);
	free(box.p);
	free(now.p);
	close(fd);
	close(cfd);
}

/* box (len bytes) written to fd, mapped, indexed and cached in cfd. */
static const uint8_t *
cached_box(int fd, int cfd, const char *box, size_t len, struct stat *st)
{
	struct mbox	 a;
	const uint8_t	*m;
	const char	*why;

	write_file(fd, box, len);
	m = map(fd, len);
	if (fstat(fd, st) == -1 || mbox_parse(&a, m, len, &why) == -1)
		exit(2);
	cache_store(cfd, &a, fd, st);
	mbox_free(&a);
	return m;
}

/*
 * A cached index with X-UIDL ids, served from the cache's pages, then an
 * update: the index moves to memory of its own (mbox_unmap()) with its
 * ids, as the cache written after the update needs them.
 */
static void
header_ids_after_update(void)
{
	static const char box[] =
	    "From a@b Mon Jan  1 00:00:00 2024\nX-UIDL: keep-1\n\none\n\n"
	    "From a@b Mon Jan  1 00:00:00 2024\nX-UIDL: keep-2\n\ntwo\n\n"
	    "From a@b Mon Jan  1 00:00:00 2024\nX-UIDL: keep-3\n\nthree\n";
	struct mbox	 b;
	struct stat	 st;
	const uint8_t	*m;
	const char	*why;
	uint64_t	 pos, csize;
	int		 fd = tmpfd(), cfd = tmpfd(), loaded, ok;

	m = cached_box(fd, cfd, box, sizeof(box) - 1, &st);
	loaded = cache_load(cfd, &b, m, sizeof(box) - 1, &st, &pos, &csize,
	    &why) == 1;
	CHECK(loaded && b.recs != NULL && b.n == 3 && b.ctext_len > 0,
	    "cache, X-UIDL ids: served from the cache's pages");
	if (loaded) {
		mbox_mark_deleted(&b, 0, 1);
		ok = mbox_after_update(&b, 0) == 0;
		CHECK(ok && b.recs == NULL && b.n == 2 &&
		    strcmp(UIDOF(&b, 0), "keep-2") == 0 &&
		    strcmp(UIDOF(&b, 1), "keep-3") == 0,
		    "cache, X-UIDL ids: after an update the kept messages keep "
		    "them (%zu: %s %s)", b.n, b.n > 0 ? UIDOF(&b, 0) : "-",
		    b.n > 1 ? UIDOF(&b, 1) : "-");
		mbox_free(&b);
	}
	munmap((void *)m, sizeof(box) - 1);
	close(fd);
	close(cfd);
}

/*
 * Records changed so that every other check still holds: one message's
 * octets moved to another (the records still tile the mailbox and add
 * up to the header's total), or a word of a digest changed in a large
 * mailbox, where the digests sampled at login may miss it.  Only each
 * record's own check can refuse these.
 */
static void
records_changed(void)
{
	struct mbox	 a, b;
	struct buf	 box;
	struct stat	 st;
	const uint8_t	*m;
	const char	*why;
	uint64_t	 pos, csize, v, d;
	size_t		 i, j, off, trials = 0, refused = 0, k;
	int		 fd, cfd, mmdf;

	big = 1;
	rng_state = 0x5c0e0000;
	for (k = 0; k < TRIALS / 4; k++) {
		fd = tmpfd();
		cfd = tmpfd();
		if ((box.p = malloc(BOX_MAX)) == NULL)
			exit(2);
		gen_box(&box, &mmdf);
		write_file(fd, box.p, box.len);
		m = map(fd, box.len);
		if (fstat(fd, &st) == -1 || mbox_parse(&a, m, box.len,
		    &why) == -1 || a.n < 2)
			exit(2);
		cache_store(cfd, &a, fd, &st);
		i = rnd((uint32_t)a.n);
		j = (i + 1 + rnd((uint32_t)a.n - 1)) % a.n;
		d = 1 + rnd(7);
		if (k % 2 == 0 && a.msgs[j].octets > d) {
			off = offsetof(struct mbox_msg, octets);
			v = a.msgs[i].octets + d;
			write_at(cfd, &v, 8, REC_AT(i) + off);
			v = a.msgs[j].octets - d;
			write_at(cfd, &v, 8, REC_AT(j) + off);
		} else {
			off = 8 * rnd(4);
			memcpy(&v, a.msgs[i].digest + off, 8);
			v ^= d << rnd(56);
			write_at(cfd, &v, 8, REC_AT(i) +
			    offsetof(struct mbox_msg, digest) + off);
		}
		trials++;
		if (cache_load(cfd, &b, m, box.len, &st, &pos, &csize,
		    &why) == 1)
			mbox_free(&b);
		else
			refused++;
		mbox_free(&a);
		munmap((void *)m, box.len);
		free(box.p);
		close(fd);
		close(cfd);
	}
	big = 0;
	CHECK(refused == trials, "cache, a record changed with every other "
	    "check still holding (octets moved, a digest's word): refused "
	    "(%zu of %zu)", refused, trials);
}

/* A cache another version of popsep wrote is refused as such. */
static void
other_version(void)
{
	static const char box[] =
	    "From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\none\n";
	struct mbox	 b;
	struct stat	 st;
	const uint8_t	*m;
	const char	*why = NULL;
	uint64_t	 pos, csize;
	int		 fd = tmpfd(), cfd = tmpfd(), loaded;

	m = cached_box(fd, cfd, box, sizeof(box) - 1, &st);
	write_at(cfd, "2", 1, 3);
	loaded = cache_load(cfd, &b, m, sizeof(box) - 1, &st, &pos, &csize,
	    &why) == 1;
	if (loaded)
		mbox_free(&b);
	CHECK(!loaded && why != NULL && strcmp(why, "of another version") == 0,
	    "cache, \"PSC2\" (another version's): refused as of another "
	    "version (%s)", loaded ? "loaded" :
	    why != NULL ? why : "no reason");
	munmap((void *)m, sizeof(box) - 1);
	close(fd);
	close(cfd);
}

static const char *const change_names[] = {
	"unchanged", "mail appended", "an update in place, then mail",
	"a byte changed in place", "a message removed, mail making up",
	"the cache file cut or bit-flipped",
};

int
main(void)
{
	struct tally	t;
	size_t		c, i;

	log_init(1, LOG_DAEMON);
	log_procname("test_mbox_cache");
	for (c = 0; c < sizeof(change_names) / sizeof(change_names[0]); c++) {
		memset(&t, 0, sizeof(t));
		rng_state = 0x5eed0000 + c;
		for (i = 0; i < TRIALS; i++)
			trial(&t, (int)c);
		CHECK(t.wrong == 0, "cache, %s: the index equals a fresh parse "
		    "(%zu from the cache, %zu indexed whole, %zu wrong)",
		    change_names[c], t.used, t.refused, t.wrong);
		if (c <= 2)
			CHECK(t.used > t.refused, "cache, %s: the cache is "
			    "used (%zu of %zu)", change_names[c], t.used,
			    t.used + t.refused);
	}
	header_ids_after_update();
	records_changed();
	other_version();
	/* Logins with mail between them: the cache is appended to. */
	memset(&t, 0, sizeof(t));
	rng_state = 0xc4a10000;
	for (i = 0; i < TRIALS / 4; i++)
		chain(&t, 0);
	CHECK(t.wrong == 0, "cache, logins with mail between: the index "
	    "equals a fresh parse (%zu wrong)", t.wrong);
	/*
	 * Not every login can: a cache of one message, or one whose first
	 * message ends where the file did, keeps nothing.
	 */
	CHECK(t.used > TRIALS / 4 * 5 * 9 / 10 && t.appended == t.used &&
	    t.kept == t.nonempty, "cache, logins with mail between: the "
	    "logins use the cache, every one that does appends to it, and "
	    "every index is served from its pages (%zu logins: %zu used, "
	    "%zu appended; %zu served from the cache of %zu not empty)",
	    (size_t)TRIALS / 4 * 5, t.used, t.appended, t.kept, t.nonempty);
	memset(&t, 0, sizeof(t));
	rng_state = 0x7ea20000;
	for (i = 0; i < TRIALS / 4; i++)
		chain(&t, 1);
	CHECK(t.wrong == 0, "cache, every write torn page by page: the index "
	    "equals a fresh parse (%zu logins: %zu from the cache, %zu "
	    "indexed whole, %zu wrong)", (size_t)TRIALS / 4 * 5, t.used,
	    t.refused, t.wrong);
	CHECK(t.refused > 0 && t.used > 0, "cache, torn writes: some caches "
	    "are refused, some still hold (%zu, %zu)", t.refused, t.used);
	/*
	 * Mailboxes larger than the lead the cache checks: delivery and
	 * updates still use the cache, and a message taken out earlier in
	 * the file is still found.
	 */
	big = 1;
	for (c = 1; c <= 4; c += c == 2 ? 2 : 1) {
		memset(&t, 0, sizeof(t));
		rng_state = 0xb16b0000 + c;
		for (i = 0; i < TRIALS / 2; i++)
			trial(&t, (int)c);
		CHECK(t.wrong == 0, "cache, large mailboxes, %s: the index "
		    "equals a fresh parse (%zu from the cache, %zu indexed "
		    "whole, %zu wrong)", change_names[c], t.used, t.refused,
		    t.wrong);
		if (c <= 2)
			CHECK(t.used > t.refused, "cache, large mailboxes, %s: "
			    "the cache is used (%zu of %zu)", change_names[c],
			    t.used, t.used + t.refused);
	}
	TEST_EXIT();
}
