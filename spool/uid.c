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
 * mailbox and given in mailbox order: a message whose id an earlier
 * message already has gets ".2", ".3", ..., the lowest suffix no earlier
 * message uses.  So a message's id depends only on the messages before
 * it, and mail appended later never changes an id already given (the
 * start-up cache relies on it).  Input is mail content, hence hostile:
 * the work per message stays bounded however ids are chosen.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "spool.h"

#define UID_HEX	32	/* 128 bits of SHA-256 */
#define UID_FEW	8	/* new messages checked without a table */

/*
 * The digest of a message's From_ line and header block, [from, hdr_end):
 * its id when it has no X-UIDL header, and at QUIT the proof that the
 * message indexed at that offset is still there (spool/mbox.c).
 */
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

/*
 * The ids in use: open addressing over message indexes, so that a
 * suffixed id is checked against every other id in constant time: mail
 * content chooses X-UIDL values, including ones that look like our
 * suffixes ("d", "d.2", "d"), and must not make two messages share an id.
 * Each slot keeps a 64-bit key of its id; ids are compared only when
 * keys are equal.
 */
struct uid_slot {
	uint64_t	key;
	size_t		msg;		/* message index + 1, 0 = empty */
};

struct uid_set {
	struct uid_slot	*slot;
	size_t		 mask;
};

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * The key of an id string: for the UID_HEX lower-case hex digits a
 * digest gives, their first 64 bits (so a digest id's key is read off
 * its digest, below, without looking at the string); otherwise FNV-1a.
 * Equal strings always have equal keys, whichever way they were made.
 */
static uint64_t
uid_key_str(const char *s)
{
	uint64_t	h = 1469598103934665603ULL, k = 0;
	size_t		i;
	int		v;

	for (i = 0; i < UID_HEX && (v = hexval(s[i])) != -1; i++)
		if (i < 16)
			k = k << 4 | (uint64_t)v;
	if (i == UID_HEX && s[i] == '\0')
		return k;
	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static uint64_t
uid_key(const struct mbox *mb, const struct mbox_msg *m)
{
	char		uid[UID_BUF];
	uint64_t	k = 0;
	size_t		i;

	if (m->uid_len != 0)
		return uid_key_str(mbox_uid(mb, m, uid));
	/* The id is the hex of the digest's first bytes. */
	for (i = 0; i < 8; i++)
		k = k << 8 | m->digest[i];
	return k;
}

/* The message that has id uid (whose key is key), or SIZE_MAX. */
static size_t
set_find(const struct uid_set *set, const struct mbox *mb, const char *uid,
    uint64_t key)
{
	char	buf[UID_BUF];
	size_t	i = (size_t)(key ^ key >> 29) & set->mask;

	for (; set->slot[i].msg != 0; i = (i + 1) & set->mask)
		if (set->slot[i].key == key && strcmp(mbox_uid(mb,
		    &mb->msgs[set->slot[i].msg - 1], buf), uid) == 0)
			return set->slot[i].msg - 1;
	return SIZE_MAX;
}

static void
set_add(struct uid_set *set, size_t msg, uint64_t key)
{
	size_t	i = (size_t)(key ^ key >> 29) & set->mask;

	while (set->slot[i].msg != 0)
		i = (i + 1) & set->mask;
	set->slot[i].key = key;
	set->slot[i].msg = msg + 1;
}

/*
 * Message i's id is taken: give it the lowest ".k" no earlier message
 * uses, the base cut so that the whole stays within UID_LEN_MAX.  *next
 * is where the search for this base starts (one counter per base keeps
 * a mailbox of many copies linear).
 */
static void
suffix(struct mbox *mb, struct uid_set *set, size_t i, size_t *next)
{
	char	 base[UID_BUF], cand[UID_BUF], sfx[24];
	size_t	 blen;

	mbox_uid(mb, &mb->msgs[i], base);
	for (;; (*next)++) {
		snprintf(sfx, sizeof(sfx), ".%zu", *next);
		blen = strlen(base);
		if (blen + strlen(sfx) > UID_LEN_MAX)
			blen = UID_LEN_MAX - strlen(sfx);
		memcpy(cand, base, blen);
		cand[blen] = '\0';
		strlcat(cand, sfx, sizeof(cand));
		if (set_find(set, mb, cand, uid_key_str(cand)) == SIZE_MAX)
			break;
	}
	(*next)++;
	if (mbox_set_uid(mb, &mb->msgs[i], cand, strlen(cand)) == -1)
		fatal("%s", __func__);
}

/*
 * Whether the ids of messages first..n-1, few, are certainly unlike
 * every other id: no two of their keys are equal, and none is equal to
 * an earlier message's.  A "no" only sends the caller the long way.
 */
static int
new_ids_distinct(const struct mbox *mb, size_t first)
{
	uint64_t	keys[UID_FEW], key;
	size_t		i, j, k = mb->n - first;

	for (i = 0; i < k; i++) {
		keys[i] = uid_key(mb, &mb->msgs[first + i]);
		for (j = 0; j < i; j++)
			if (keys[j] == keys[i])
				return 0;
	}
	for (i = 0; i < first; i++) {
		key = uid_key(mb, &mb->msgs[i]);
		for (j = 0; j < k; j++)
			if (key == keys[j])
				return 0;
	}
	return 1;
}

/*
 * Ids for messages first..n-1, those before first already having theirs
 * (from the start-up cache, which must not repeat one: -1 if they do).  A message without an X-UIDL header whose
 * digest id an earlier message has is marked MSG_UID_SHARED: its suffix
 * depends on the earlier copy, so an update that rewrites it writes the
 * id into it (X-UIDL), and deleting the earlier copy cannot renumber it.
 */
int
mbox_assign_uids(struct mbox *mb, size_t first)
{
	struct mbox_msg	*m;
	struct uid_set	 set;
	char		 uid[UID_BUF];
	size_t		*next, i, holder, cap;
	uint64_t	 key;

	for (i = first; i < mb->n; i++) {
		m = &mb->msgs[i];
		m->uid_flags = m->uid_len != 0 ? MSG_UID_HEADER : 0;
	}
	if (mb->n < 2 || first == mb->n)
		return 0;
	/* New mail after a cached index: no table of every id. */
	if (first > 0 && mb->n - first <= UID_FEW &&
	    new_ids_distinct(mb, first))
		return 0;
	for (cap = 4; cap < 2 * mb->n; cap *= 2)
		;
	set.slot = calloc(cap, sizeof(*set.slot));
	next = calloc(mb->n, sizeof(*next));
	if (set.slot == NULL || next == NULL)
		fatal("%s", __func__);
	set.mask = cap - 1;
	for (i = 0; i < first; i++) {
		key = uid_key(mb, &mb->msgs[i]);
		if (set_find(&set, mb, mbox_uid(mb, &mb->msgs[i], uid), key) !=
		    SIZE_MAX) {
			free(next);
			free(set.slot);
			return -1;
		}
		set_add(&set, i, key);
	}
	for (i = first; i < mb->n; i++) {
		m = &mb->msgs[i];
		key = uid_key(mb, m);
		if ((holder = set_find(&set, mb, mbox_uid(mb, m, uid), key)) !=
		    SIZE_MAX) {
			if (next[holder] < 2)
				next[holder] = 2;
			m->uid_flags |= MSG_UID_SUFFIXED;
			if (!(m->uid_flags & MSG_UID_HEADER))
				m->uid_flags |= MSG_UID_SHARED;
			suffix(mb, &set, i, &next[holder]);
			key = uid_key_str(mbox_uid(mb, m, uid));
		}
		set_add(&set, i, key);
	}
	free(next);
	free(set.slot);
	return 0;
}
