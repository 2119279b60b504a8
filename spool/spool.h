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
 *  - spool/lock.c and spool/bulletin.c run in the session monitor (root):
 *    open the mailbox safely, take and release the dot-lock and the fcntl
 *    lock, make, name and remove the update journal, and collect and
 *    record bulletins, on paths derived from the authenticated identity,
 *    never from client text;
 *  - spool/mbox_parse.c, spool/mbox.c, spool/uid.c and spool/journal.c
 *    run in the spool worker (the mail user, sandboxed): parse the mbox
 *    it was handed as a descriptor, serve messages, and rewrite it,
 *    always through the journal.  Mail content is attacker-controlled:
 *    every offset is checked against the mapped size.
 */

#ifndef POPSEP_SPOOL_H
#define POPSEP_SPOOL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "params.h"

/* Monitor side. */
struct spool_lock {
	char	path[1024 + 8];		/* USER.lock */
	dev_t	dev;			/* of the lock file we linked there */
	ino_t	ino;
	int	dotlocked;
	int	fcntl_locked;
};

int	spool_open(const char *, uid_t, gid_t, int *, const char **);
int	spool_reopen_rdonly(const char *, int);
int	spool_claim(int);
int	spool_journal_path(const char *, char *, size_t);
int	spool_journal_open(const char *, uid_t, int *);
int	spool_journal_new(const char *, uid_t, gid_t);
int	spool_journal_commit(int, const char *);
void	spool_journal_remove(const char *);
void	spool_journal_set_aside(const char *);
int	spool_lock(int, const char *, pid_t, struct spool_lock *);
int	spool_cache_open(const char *, const char *, uid_t, gid_t);
int	spool_lock_retarget(struct spool_lock *, pid_t);
int	bull_state_path(const char *, const char *, char *, size_t);
long	bull_last_seen(const char *, uid_t, int *);
int	bull_collect(const char *, long, int, int, const char *, int, long *);
int	bull_record(const char *, uid_t, gid_t, long);
void	spool_lock_refresh(struct spool_lock *);
void	spool_unlock(int, struct spool_lock *);

/* Spool worker side. */
/*
 * One message of the index: 96 bytes, the same in memory and in the
 * start-up cache (spool/cache.c), so that a cached index is served from
 * the cache file's pages without being copied.  Nothing in it changes
 * once the login is over: what a session marks (DELE, RETR) is kept in
 * struct mbox's bitmaps.
 */
struct mbox_msg {
	uint64_t	 from;		/* offset of the From_ line */
	uint64_t	 body;		/* first byte after the From_ line */
	uint64_t	 hdr_end;	/* end of the header block */
	uint64_t	 end;		/* end of content (separator excluded) */
	uint64_t	 next;		/* start of the next From_ line or EOF */
	uint64_t	 octets;	/* size as sent: CRLF line ends */
	uint8_t		 digest[32];	/* SHA-256 of [from, hdr_end) */
	uint32_t	 uid_off;	/* the id's bytes in mb's id text */
	uint8_t		 uid_len;	/* 0: the id is the digest's, in hex */
	uint8_t		 uid_flags;	/* MSG_UID_*, set by mbox_assign_uids */
#define MSG_UID_HEADER	0x01		/* from its X-UIDL header */
#define MSG_UID_SHARED	0x02		/* its digest id is another's too */
#define MSG_UID_SUFFIXED 0x04		/* ".k" added: an earlier one has it */
	uint8_t		 clen_unused;	/* a Content-Length not believed */
	uint8_t		 pad;
	uint64_t	 sum;		/* the cache's check of the record */
};
#define UID_BUF		(UID_LEN_MAX + 1)

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
	uint8_t		 tail[32];	/* mbox_tail_digest() at login */
	/*
	 * The first message whose Content-Length was judged by bytes near
	 * the end of the file (UINT64_MAX if none): new mail appended can
	 * change where it ends, so a continued index starts there.
	 */
	uint64_t	 reparse;
	uint64_t	 octets;	/* of all n messages */
	/*
	 * The ids that are not a digest's: uid_off < text_len in the
	 * cache's (ctext, mapped), above it in xtext (this session's).
	 */
	const char	*ctext;
	size_t		 ctext_len;
	char		*xtext;
	size_t		 xtext_len, xtext_cap;
	/* What the session marked, one bit a message, and the totals. */
	uint8_t		*del, *ret;
	size_t		 ndel;
	uint64_t	 del_octets;
	/*
	 * The start-up cache's mapping, when the index is served from it:
	 * msgs[] lies in recs (reclen bytes; records beyond the file are
	 * this session's, in the anonymous rest), the id text in file.
	 */
	void		*file;
	size_t		 file_len;
	void		*recs;
	size_t		 recs_len, recs_file;
	uint32_t	 gen;		/* the cache's generation */
	uint64_t	 cache_cap;	/* record slots in the cache file */
	size_t		 cache_clean;	/* records the cache file holds as is */
};
#define MBOX_TAIL_LEN	4096		/* bytes of the end tail[] covers */

/* Output of a message in wire form: called with at most MSG_DATA_CHUNK. */
typedef int (*mbox_out_fn)(void *, const uint8_t *, size_t);

int	mbox_parse(struct mbox *, const uint8_t *, uint64_t, const char **);
int	mbox_parse_more(struct mbox *, const uint8_t *, uint64_t, uint64_t,
	    const char **);
int	mbox_msg_reparses(const struct mbox *, size_t);
int	mbox_emit(const struct mbox *, size_t, int64_t, mbox_out_fn, void *);
void	mbox_free(struct mbox *);
void	*mbox_buf_new(size_t);
void	mbox_buf_free(void *, size_t);
struct mbox_msg *mbox_new_msg(struct mbox *);
int	mbox_unmap(struct mbox *);
const char *mbox_uid(const struct mbox *, const struct mbox_msg *, char *);
int	mbox_set_uid(struct mbox *, struct mbox_msg *, const void *, size_t);
int	mbox_deleted(const struct mbox *, size_t);
int	mbox_retrieved(const struct mbox *, size_t);
void	mbox_mark_deleted(struct mbox *, size_t, int);
void	mbox_mark_retrieved(struct mbox *, size_t);
void	mbox_undelete_all(struct mbox *);
void	mbox_release_index(const struct mbox *);
/* spool/journal.c: the crash-safe update of the spool and the drop. */
#define JT_MAX		2		/* files one update changes */
enum { JT_SPOOL = 1, JT_DROP = 2 };
enum { JSRC_SPOOL, JSRC_DROP, JSRC_JOURNAL, JSRC_MEM, JSRC_BULLETINS };

struct jpiece {
	int		 src;		/* JSRC_* */
	uint64_t	 off;		/* in the source file */
	uint64_t	 len;
	const uint8_t	*mem;		/* JSRC_MEM: the bytes themselves */
};

/* One file to rewrite from w with the pieces; s_cur its size now. */
struct jtarget {
	int			 kind;	/* JT_* */
	uint64_t		 w;
	uint64_t		 s_cur;
	const struct jpiece	*pieces;
	size_t			 npieces;
};

struct jfiles {
	int	journal;
	int	spool;
	int	drop;			/* -1 without a temp drop */
	int	bulletins;		/* JSRC_BULLETINS, or -1 */
};

int	journal_update(const struct jfiles *, const struct jtarget *, size_t,
	    int (*)(void *), void *, const char **);
int	journal_recover(const struct jfiles *, const char **);
void	journal_set_window(size_t);
uint64_t fast_hash(const uint8_t *, size_t);
int	full_pread(int, uint8_t *, size_t, uint64_t);

/* The journal's and the cache's numbers, in the machine's byte order. */
static inline void
put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline uint64_t
get64(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, sizeof(v));
	return v;
}
void	journal_set_progress(void (*)(void), size_t);
void	journal_progress_message(void);
void	journal_progress(uint64_t);
size_t	mbox_first_deleted(const struct mbox *);
void	mbox_add_piece(struct jpiece *, size_t *, int, uint64_t, uint64_t);
int	mbox_update_inplace(const struct mbox *, const struct jfiles *, int,
	    uint64_t, int (*)(void *), void *, uint64_t *, const char **);
int	mbox_compact(const struct mbox *, int, int, uint64_t, uint64_t *,
	    const char **);
/* What an update writes into the messages it rewrites. */
#define MBOX_EDIT_STATUS	0x01	/* update-status-headers */
int	mbox_kept_pieces(const struct mbox *, size_t, int, int, size_t,
	    struct jpiece **, size_t *, uint8_t **, const char **);
size_t	mbox_first_edit(const struct mbox *, int);
int	mbox_unchanged(const struct mbox *, size_t);
void	mbox_tail_digest(const struct mbox *, uint8_t *);

void	mbox_digest(const uint8_t *, size_t, uint8_t *);
/* spool/cache.c: the start-up cache. */
struct stat;
int	cache_load(int, struct mbox *, const uint8_t *, uint64_t,
	    const struct stat *, uint64_t *, uint64_t *, const char **);
void	cache_store(int, struct mbox *, int, const struct stat *);
void	cache_clear(int);
int	mbox_after_update(struct mbox *, int);
int	mbox_assign_uids(struct mbox *, size_t);

#endif /* POPSEP_SPOOL_H */
