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
 * libFuzzer target for the recovery of spool/journal.c: the journal file
 * is written by a spool worker that may have been compromised, and the
 * mailbox may have been changed by anyone, so recovery reads both as
 * hostile.  The input describes a mailbox, an update of it (ranges kept),
 * a journal written for that update, and damage: where the copy into
 * place stopped, bytes of the journal and of the mailbox overwritten,
 * the journal cut short, mail appended.  Checked besides the sanitizers:
 * recovery never fails in any way but a return value; when it declines
 * (-1, -2) the mailbox is as it was; when there was no damage but a
 * stopped copy and appended mail, recovery completes the update exactly.
 * fatal(), fatalx() and bug() abort here: no input may reach them.
 */

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "params.h"
#include "spool.h"
#include "fuzz.h"


#define BOX_MAX		(64 * 1024)


static int
memfile(const uint8_t *p, size_t len)
{
	int	fd;

	if ((fd = memfd_create("f", MFD_CLOEXEC)) == -1)
		abort();
	if (len > 0 && pwrite(fd, p, len, 0) != (ssize_t)len)
		abort();
	return fd;
}

static void
set_content(int fd, const uint8_t *p, size_t len)
{
	if (ftruncate(fd, 0) == -1 || (len > 0 && pwrite(fd, p, len, 0) !=
	    (ssize_t)len))
		abort();
}

static uint8_t *
content(int fd, size_t *len_r)
{
	struct stat	 st;
	uint8_t		*p;

	if (fstat(fd, &st) == -1 || (p = malloc((size_t)st.st_size + 1)) ==
	    NULL || pread(fd, p, (size_t)st.st_size, 0) != st.st_size)
		abort();
	*len_r = (size_t)st.st_size;
	return p;
}

static int
no_commit(void *arg)
{
	(void)arg;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in	 in = { data, size };
	struct jpiece	 p[4];
	struct jtarget	 tg;
	struct jfiles	 f;
	const char	*why = NULL;
	uint8_t		*box, *want, *before, *after, *jr;
	size_t		 blen, wl = 0, n = 0, i, jl, bl, al, stop, k;
	uint32_t	 a, b, flips, cut;
	int		 rc, damaged = 0, mail, looks_done;

	blen = take(&in, 2) % BOX_MAX + 1;
	if ((box = malloc(blen + 64)) == NULL ||
	    (want = malloc(4 * blen + 64)) == NULL)
		abort();
	for (i = 0; i < blen; i++)
		box[i] = (uint8_t)(take(&in, 1) ^ (i * 31));
	/* The update: keep [0, w), then up to three ranges of the box. */
	tg.kind = JT_SPOOL;
	tg.w = take(&in, 2) % blen;
	tg.s_cur = blen;
	memcpy(want, box, tg.w);
	wl = tg.w;
	for (i = 0; i < 3; i++) {
		a = take(&in, 2) % blen;
		b = take(&in, 2) % (blen - a + 1);
		if (b == 0)
			continue;
		p[n].src = JSRC_SPOOL;
		p[n].off = a;
		p[n].len = b;
		p[n++].mem = NULL;
		memcpy(want + wl, box + a, b);
		wl += b;
	}
	tg.pieces = p;
	tg.npieces = n;
	f.journal = memfile(NULL, 0);
	f.spool = memfile(box, blen);
	f.drop = -1;
	f.bulletins = -1;
	rc = journal_update(&f, &tg, 1, no_commit, NULL, &why);
	ASSERT(rc == 0);
	jr = content(f.journal, &jl);
	before = NULL;
	if (jl == 0) {
		/* Nothing kept from w: a truncate, no journal, no crash state. */
		after = content(f.spool, &al);
		ASSERT(wl == tg.w && al == wl && memcmp(after, want, wl) == 0);
		goto out;
	}

	/* A state the copy can stop in: the data up to a page boundary. */
	stop = take(&in, 3) % (wl - tg.w + 1);
	k = (tg.w + stop) / 4096 * 4096;
	stop = k > tg.w ? k - tg.w : 0;
	set_content(f.spool, box, blen);
	if (stop > 0 && pwrite(f.spool, want + tg.w, stop, (off_t)tg.w) !=
	    (ssize_t)stop)
		abort();
	mail = take(&in, 1) & 1;
	if (mail && pwrite(f.spool, "From x\n\nnew\n\n", 13,
	    (off_t)(blen > tg.w + stop ? blen : tg.w + stop)) != 13)
		abort();
	/* Damage: bytes overwritten in the journal or the mailbox, a cut. */
	flips = take(&in, 1) % 4;
	for (i = 0; i < flips; i++) {
		a = take(&in, 3);
		b = take(&in, 1);
		if (a & 1) {
			jr[(a >> 1) % jl] ^= (uint8_t)(b | 1);
			damaged = 1;
		} else if (pwrite(f.spool, &b, 1, (off_t)((a >> 1) % blen)) ==
		    1)
			damaged = 1;
	}
	cut = take(&in, 3);
	if (cut % 5 == 0) {
		jl = cut / 5 % (jl + 1);
		damaged = 1;
	}
	set_content(f.journal, jr, jl);
	before = content(f.spool, &bl);
	rc = journal_recover(&f, &why);
	ASSERT(rc == 0 || rc == -1 || rc == -2);
	after = content(f.spool, &al);
	if (rc != 0)
		ASSERT(al == bl && memcmp(after, before, bl) == 0);
	/*
	 * A stopped copy and later mail, and nothing else: completed.  Only
	 * when the bytes already there equal the update's result (mail that
	 * happens to continue the data, or an update that changes nothing)
	 * is the file taken as complete as it is.
	 */
	looks_done = bl >= wl && memcmp(before, want, wl) == 0;
	if (!damaged)
		ASSERT(rc == 0 && ((al == wl + (mail ? 13 : 0) &&
		    memcmp(after, want, wl) == 0) || (looks_done && al == bl &&
		    memcmp(after, before, bl) == 0)));
 out:
	free(before);
	free(after);
	free(jr);
	free(box);
	free(want);
	close(f.journal);
	close(f.spool);
	return 0;
}
