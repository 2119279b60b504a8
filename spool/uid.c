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
 * Unique ids for the spool worker.  A message keeps the X-UIDL header a
 * previous server (Qpopper) wrote, so clients of a migrated site do not
 * fetch everything again; otherwise its id is a digest of its From_ line
 * and headers, which no update changes.  Ids are unique within the
 * mailbox: a repeated id gets ".2", ".3", ... in mailbox order.  Input is
 * mail content, hence hostile; the digest bounds it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "spool.h"

#define UID_HEX	32	/* 128 bits of SHA-256 */

/* What a message was at login, to tell at QUIT whether it still is. */
void
mbox_digest(const uint8_t *p, size_t len, uint8_t *out)
{
	unsigned int	mdlen;

	if (EVP_Digest(p, len, out, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		fatalx("%s: SHA-256 failed", __func__);
}

void
mbox_uid(const uint8_t *p, size_t len, char *uid)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen;
	size_t			 i;

	if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen * 2 < UID_HEX)
		fatalx("%s: SHA-256 failed", __func__);
	for (i = 0; i < UID_HEX / 2; i++) {
		uid[2 * i] = hex[md[i] >> 4];
		uid[2 * i + 1] = hex[md[i] & 0xf];
	}
	uid[UID_HEX] = '\0';
}

static const struct mbox *sort_mb;

static int
uid_cmp(const void *a, const void *b)
{
	size_t	ia = *(const size_t *)a, ib = *(const size_t *)b;
	int	c;

	c = strcmp(sort_mb->msgs[ia].uid, sort_mb->msgs[ib].uid);
	if (c != 0)
		return c;
	return ia < ib ? -1 : ia > ib;
}

void
mbox_assign_uids(struct mbox *mb)
{
	struct mbox_msg	*m;
	size_t		*idx, i, run;
	char		 suffix[16];
	size_t		 len;

	for (i = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		if (m->uid[0] == '\0')
			mbox_uid(mb->map + m->from, m->hdr_end - m->from,
			    m->uid);
	}
	if (mb->n < 2)
		return;
	if ((idx = reallocarray(NULL, mb->n, sizeof(*idx))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < mb->n; i++)
		idx[i] = i;
	sort_mb = mb;
	qsort(idx, mb->n, sizeof(*idx), uid_cmp);
	for (i = 1, run = 1; i < mb->n; i++) {
		if (strcmp(mb->msgs[idx[i]].uid, mb->msgs[idx[i - run]].uid)
		    != 0) {
			run = 1;
			continue;
		}
		run++;
		m = &mb->msgs[idx[i]];
		snprintf(suffix, sizeof(suffix), ".%zu", run);
		len = strlen(m->uid);
		if (len + strlen(suffix) > UID_LEN_MAX)
			len = UID_LEN_MAX - strlen(suffix);
		m->uid[len] = '\0';
		strlcat(m->uid, suffix, sizeof(m->uid));
	}
	free(idx);
}
