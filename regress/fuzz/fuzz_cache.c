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
 * libFuzzer target for the start-up cache reader of spool/cache.c: the
 * cache file belongs to the user, who can write anything into it, and the
 * mailbox may have changed since it was written.  The input is a mailbox,
 * then operations: bytes of the cache flipped or cut, the cache replaced
 * by raw input bytes, mail appended to the mailbox, bytes of it changed.
 * Checked besides the sanitizers: loading never fails in any way but a
 * return value; an index built from a cache tiles the mailbox (every
 * message inside the file, each starting where the one before ended) with
 * ids of 1 to 70 printable characters; and when only mail was appended,
 * it is exactly the index a fresh parse gives.
 * fatal(), fatalx() and bug() abort here: no input may reach them.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "params.h"
#include "spool.h"

/* Message i's id, in a buffer of the expression's own. */
#define UIDOF(mb, i)	mbox_uid((mb), &(mb)->msgs[i], (char[UID_BUF]){ 0 })
#include "fuzz.h"

#define BOX_MAX		(64 * 1024)

static int
memfile(const uint8_t *p, size_t len)
{
	int	fd = memfd_create("fuzz", 0);

	ASSERT(fd != -1);
	ASSERT(len == 0 || write(fd, p, len) == (ssize_t)len);
	return fd;
}

static size_t
file_size(int fd)
{
	struct stat	st;

	ASSERT(fstat(fd, &st) == 0);
	return (size_t)st.st_size;
}

static void
check_tiles(const struct mbox *mb, uint64_t size)
{
	uint64_t	at = mb->start;
	size_t		i, k, len;

	ASSERT(mb->start <= size);
	for (i = 0; i < mb->n; i++) {
		const struct mbox_msg *m = &mb->msgs[i];

		ASSERT(m->from == at && m->from <= m->body &&
		    m->body <= m->hdr_end && m->hdr_end <= m->end &&
		    m->end <= m->next && m->from < m->next && m->next <= size);
		len = strlen(UIDOF(mb, i));
		ASSERT(len >= 1 && len <= UID_LEN_MAX);
		for (k = 0; k < len; k++)
			ASSERT(UIDOF(mb, i)[k] >= 0x21 &&
			    UIDOF(mb, i)[k] <= 0x7e);
		at = m->next;
	}
}

static int
same(const struct mbox *a, const struct mbox *b)
{
	size_t	i;

	if (a->n != b->n || a->start != b->start)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->msgs[i].from != b->msgs[i].from ||
		    a->msgs[i].next != b->msgs[i].next ||
		    a->msgs[i].octets != b->msgs[i].octets ||
		    strcmp(UIDOF(a, i), UIDOF(b, i)) != 0)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in	 in = { data, size };
	struct mbox	 mb, got, fresh;
	struct stat	 st;
	const char	*why;
	uint8_t		*box, *m1, *m2 = NULL, c;
	uint64_t	 pos, csize;
	size_t		 blen, blen1, n, off;
	int		 fd, cfd, forged = 0, loaded;

	blen = take(&in, 2) % BOX_MAX;
	if (blen > in.len)
		blen = in.len;
	if ((box = malloc(BOX_MAX * 2)) == NULL)
		return 0;
	memcpy(box, in.p, blen);
	in.p += blen;
	in.len -= blen;
	fd = memfile(box, blen);
	blen1 = blen;
	m1 = blen > 0 ? mmap(NULL, blen, PROT_READ, MAP_SHARED, fd, 0) : NULL;
	ASSERT(m1 != MAP_FAILED);
	if (blen == 0 || mbox_parse(&mb, m1, blen, &why) == -1) {
		if (m1 != NULL)
			munmap(m1, blen);
		close(fd);
		free(box);
		return 0;
	}
	ASSERT(fstat(fd, &st) == 0);
	cfd = memfile(NULL, 0);
	cache_store(cfd, &mb, fd, &st);
	while (in.len > 0) {
		switch (take(&in, 1) % 5) {
		case 0:		/* flip a byte of the cache */
			off = take(&in, 3);
			if ((n = file_size(cfd)) == 0)
				break;
			off %= n;
			ASSERT(pread(cfd, &c, 1, (off_t)off) == 1);
			c ^= (uint8_t)(take(&in, 1) | 1);
			ASSERT(pwrite(cfd, &c, 1, (off_t)off) == 1);
			forged = 1;
			break;
		case 1:		/* cut it */
			n = file_size(cfd);
			ASSERT(ftruncate(cfd, (off_t)(n > 0 ? take(&in, 3) %
			    n : 0)) == 0);
			forged = 1;
			break;
		case 2:		/* replace it with raw bytes */
			n = take(&in, 2);
			if (n > in.len)
				n = in.len;
			ASSERT(ftruncate(cfd, 0) == 0 && (n == 0 ||
			    pwrite(cfd, in.p, n, 0) == (ssize_t)n));
			in.p += n;
			in.len -= n;
			forged = 1;
			break;
		case 3:		/* mail appended */
			n = take(&in, 1);
			if (n > in.len)
				n = in.len;
			if (blen + n > BOX_MAX * 2)
				n = BOX_MAX * 2 - blen;
			memcpy(box + blen, in.p, n);
			ASSERT(pwrite(fd, in.p, n, (off_t)blen) == (ssize_t)n);
			blen += n;
			in.p += n;
			in.len -= n;
			break;
		case 4:		/* a byte of the mailbox changed in place */
			off = take(&in, 2) % blen;
			box[off] ^= (uint8_t)(take(&in, 1) | 1);
			ASSERT(pwrite(fd, box + off, 1, (off_t)off) == 1);
			forged = 1;
			break;
		}
	}
	ASSERT(fstat(fd, &st) == 0);
	m2 = mmap(NULL, blen, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT(m2 != MAP_FAILED);
	loaded = cache_load(cfd, &got, m2, blen, &st, &pos, &csize, &why);
	ASSERT(loaded == 0 || loaded == 1);
	if (loaded && pos < blen &&
	    mbox_parse_more(&got, m2, blen, pos, &why) == -1)
		loaded = 0;
	if (loaded) {
		check_tiles(&got, blen);
		if (!forged) {
			ASSERT(mbox_parse(&fresh, m2, blen, &why) == 0);
			ASSERT(same(&got, &fresh));
			mbox_free(&fresh);
		}
		mbox_free(&got);
	}
	mbox_free(&mb);
	munmap(m1, blen1);
	munmap(m2, blen);
	close(cfd);
	close(fd);
	free(box);
	return 0;
}
