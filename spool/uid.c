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
	/* Indexes and updates digest every message: the lock stays fresh. */
	journal_progress(len);
	journal_progress_message();
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

/*
 * A set of the ids in use, open addressing over message indexes, so that
 * a suffixed id is checked against every other id in constant time: mail
 * content chooses X-UIDL values, including ones that look like our
 * suffixes ("d", "d.2", "d"), and must not make two messages share an id.
 */
struct uid_set {
	size_t	*slot;		/* message index + 1, 0 = empty */
	size_t	 mask;
};

static uint64_t
uid_hash(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static int
set_has(const struct uid_set *set, const struct mbox *mb, const char *uid)
{
	size_t	i = (size_t)uid_hash(uid) & set->mask;

	for (; set->slot[i] != 0; i = (i + 1) & set->mask)
		if (strcmp(mb->msgs[set->slot[i] - 1].uid, uid) == 0)
			return 1;
	return 0;
}

static void
set_add(struct uid_set *set, const struct mbox *mb, size_t msg)
{
	size_t	i = (size_t)uid_hash(mb->msgs[msg].uid) & set->mask;

	while (set->slot[i] != 0)
		i = (i + 1) & set->mask;
	set->slot[i] = msg + 1;
}

/*
 * Give the later copies of a repeated id ".2", ".3", ... (in mailbox
 * order), each the lowest number that no other message uses, the base cut
 * so that the whole stays within UID_LEN_MAX.  One counter per group of
 * equal ids keeps the search linear however the ids were chosen.
 */
static void
suffix_group(struct mbox *mb, struct uid_set *set, const size_t *idx,
    size_t first, size_t end)
{
	char		 cand[UID_LEN_MAX + 1], suffix[24];
	const char	*base = mb->msgs[idx[first]].uid;
	size_t		 i, k = 2, blen;

	for (i = first + 1; i < end; i++) {
		for (;; k++) {
			snprintf(suffix, sizeof(suffix), ".%zu", k);
			blen = strlen(base);
			if (blen + strlen(suffix) > UID_LEN_MAX)
				blen = UID_LEN_MAX - strlen(suffix);
			memcpy(cand, base, blen);
			cand[blen] = '\0';
			strlcat(cand, suffix, sizeof(cand));
			if (!set_has(set, mb, cand))
				break;
		}
		k++;
		strlcpy(mb->msgs[idx[i]].uid, cand, sizeof(mb->msgs[0].uid));
		set_add(set, mb, idx[i]);
	}
}

/*
 * Digest ids shared by several messages (identical headers): their
 * suffixes follow mailbox order, so removing one copy would renumber the
 * later ones.  An update that rewrites such a message writes its id into
 * it (X-UIDL), and the id stays.
 */
static void
mark_shared(struct mbox *mb, const size_t *idx, size_t first, size_t end)
{
	size_t	i;

	for (i = first; i < end; i++)
		if (!(mb->msgs[idx[i]].uid_flags & MSG_UID_HEADER))
			mb->msgs[idx[i]].uid_flags |= MSG_UID_SHARED;
}

void
mbox_assign_uids(struct mbox *mb)
{
	struct mbox_msg	*m;
	struct uid_set	 set;
	size_t		*idx, i, j, cap;

	for (i = 0; i < mb->n; i++) {
		m = &mb->msgs[i];
		m->uid_flags = m->uid[0] != '\0' ? MSG_UID_HEADER : 0;
		if (m->uid[0] == '\0')
			mbox_uid(mb->map + m->from, m->hdr_end - m->from,
			    m->uid);
	}
	if (mb->n < 2)
		return;
	for (cap = 4; cap < 2 * mb->n; cap *= 2)
		;
	idx = reallocarray(NULL, mb->n, sizeof(*idx));
	set.slot = calloc(cap, sizeof(*set.slot));
	if (idx == NULL || set.slot == NULL)
		fatal("%s", __func__);
	set.mask = cap - 1;
	for (i = 0; i < mb->n; i++)
		idx[i] = i;
	sort_mb = mb;
	qsort(idx, mb->n, sizeof(*idx), uid_cmp);
	/* Every first copy keeps its id; they all go in the set first. */
	for (i = 0; i < mb->n; i++)
		if (i == 0 || strcmp(mb->msgs[idx[i]].uid,
		    mb->msgs[idx[i - 1]].uid) != 0)
			set_add(&set, mb, idx[i]);
	for (i = 0; i < mb->n; i = j) {
		for (j = i + 1; j < mb->n && strcmp(mb->msgs[idx[j]].uid,
		    mb->msgs[idx[i]].uid) == 0; j++)
			;
		if (j - i > 1) {
			mark_shared(mb, idx, i, j);
			suffix_group(mb, &set, idx, i, j);
		}
	}
	free(set.slot);
	free(idx);
}
