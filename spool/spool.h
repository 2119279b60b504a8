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
 * The mailbox engine.  Two parts with different owners:
 *  - spool/lock.c runs in the session monitor (root): opens the mailbox
 *    safely and takes and releases the dot-lock and the fcntl lock, on a
 *    path derived from the authenticated identity, never from client text;
 *  - spool/mbox.c and spool/uid.c run in the spool worker (the mail user,
 *    sandboxed): parse the mbox it was handed as a descriptor, serve
 *    messages, and rewrite it after QUIT.  Mail content is attacker-
 *    controlled: every offset is checked against the mapped size.
 */

#ifndef POPSEP_SPOOL_H
#define POPSEP_SPOOL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "params.h"

/* Monitor side. */
struct spool_lock {
	char	path[1024 + 8];		/* USER.lock */
	int	dotlocked;
	int	fcntl_locked;
};

int	spool_open(const char *, uid_t, gid_t, int *, const char **);
int	spool_claim(int);
void	spool_unclaim(int);
int	spool_journal_path(const char *, char *, size_t);
int	spool_journal_open(const char *, uid_t, int *);
int	spool_journal_create(const char *, uid_t, gid_t);
void	spool_journal_remove(const char *);
int	spool_lock(int, const char *, struct spool_lock *);
void	spool_unlock(int, struct spool_lock *);

/* Spool worker side. */
struct mbox_msg {
	uint64_t	 from;		/* offset of the From_ line */
	uint64_t	 body;		/* first byte after the From_ line */
	uint64_t	 hdr_end;	/* end of the header block */
	uint64_t	 end;		/* end of content (separator excluded) */
	uint64_t	 next;		/* start of the next From_ line or EOF */
	uint64_t	 octets;	/* size as sent: CRLF line ends */
	int		 deleted;
	uint8_t		 digest[32];	/* SHA-256 of [from, next) at login */
	char		 uid[UID_LEN_MAX + 1];
};

struct mbox {
	const uint8_t	*map;
	uint64_t	 size;		/* bytes parsed and served */
	struct mbox_msg	*msgs;
	size_t		 n;
	size_t		 cap;
	int		 mmdf;		/* MMDF: ^A^A^A^A lines, not From_ */
	/*
	 * Where msgs[0].from is (size if msgs[] is empty): msgs[] tiles
	 * [start, size).  Bytes before it are c-client's pseudo message
	 * (UW IMAP, Pine), hidden from the client and kept verbatim by
	 * every update, which must never move or remove them.  0 when the
	 * mailbox has no pseudo message.
	 */
	uint64_t	 start;
	size_t		 hidden;	/* messages in [0, start): 0 or 1 */
};

/* Output of a message in wire form: called with at most MSG_DATA_CHUNK. */
typedef int (*mbox_out_fn)(void *, const uint8_t *, size_t);

int	mbox_parse(struct mbox *, const uint8_t *, uint64_t, const char **);
int	mbox_emit(const struct mbox *, size_t, int64_t, mbox_out_fn, void *);
int	mbox_compact(const struct mbox *, int, int, uint64_t, uint64_t *,
	    const char **);
void	mbox_free(struct mbox *);
/* spool/journal.c: the crash-safe update. */
struct jpiece {
	int		from_journal;	/* else from the mailbox */
	uint64_t	off;
	uint64_t	len;
};

int	journal_update(int, int, uint64_t, const struct jpiece *, size_t,
	    uint64_t, uint64_t *, const char **);
int	journal_recover(int, int, const char **);

void	mbox_uid(const uint8_t *, size_t, char *);
void	mbox_digest(const uint8_t *, size_t, uint8_t *);
void	mbox_assign_uids(struct mbox *);

#endif /* POPSEP_SPOOL_H */
