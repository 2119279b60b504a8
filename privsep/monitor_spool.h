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
 * Channel between the session monitor (root) and the spool worker (the
 * mail user, no supplementary groups, chroot, seccomp).  The worker holds
 * read-only descriptors of the mailbox (and of the temp drop) for the
 * whole session, and a writable one only while it holds the locks; it
 * asks the monitor to lock because creating USER.lock in the spool
 * directory needs group mail, which the worker must not have.
 *
 *   MSG_MS_REQ_LOG     u8 priority, data line (no NUL)  spool -> mon
 *   MSG_MS_REQ_LOCK    u8 purpose (MS_LOCK_LOGIN, MS_LOCK_UPDATE,
 *       MS_LOCK_RECOVER: a worker the monitor started, still holding the
 *       locks, to complete the named journal of a worker that died; it
 *       gets the writable descriptors and MS_FD_JOURNAL, completes the
 *       journal, says MSG_MS_REQ_JOURNAL_DONE and exits)
 *   MSG_MS_ANS_LOCK    u32 status (0 = locked), u8 flags [, fd]
 *       locked: the dot-lock names the worker and the fcntl lock is on
 *       the open file the monitor and the worker share.  With any flag,
 *       and always for MS_LOCK_UPDATE, the frame carries a writable
 *       descriptor of the mailbox, and one
 *       MSG_MS_ANS_FD frame follows per flag, in this order:
 *       MS_FD_JOURNAL (an interrupted update's journal, to complete;
 *       login only), MS_FD_DROP (the temp drop, writable),
 *       MS_FD_BULLETINS (login only: new bulletins, as mbox messages, to
 *       append to the mailbox).  At login the flags are set only if there
 *       is something to write.
 *   MSG_MS_ANS_FD      u8 flag, fd                      mon -> spool
 *   MSG_MS_REQ_JOURNAL_NEW (empty), locked only
 *   MSG_MS_ANS_JOURNAL_NEW u32 status [, fd]: a new, unnamed journal
 *       owned by the user, in the mailbox's directory
 *   MSG_MS_REQ_JOURNAL_COMMIT (empty) the new journal's record is synced:
 *       give it its name (the update may begin once the answer is 0)
 *   MSG_MS_ANS_JOURNAL_COMMIT u32 status
 *   MSG_MS_REQ_JOURNAL_DONE u8 MS_JOURNAL_REMOVE | MS_JOURNAL_SET_ASIDE:
 *       the update is complete (or never began), or the journal found at
 *       login does not belong to the mailbox
 *   MSG_MS_REQ_BULLETINS_DONE u8 1 if the bulletins were appended, 0 if
 *       not; the monitor records them as seen when their journal (the
 *       first one named at login while bulletins are pending) is named
 *   MSG_MS_REQ_PROGRESS (empty) a long index or update goes on: the
 *       monitor refreshes the dot-lock (mail-lock-check)
 *   MSG_MS_REQ_UNLOCK  (empty) login only, after the worker closed every
 *       writable descriptor                           spool -> mon
 *   MSG_MS_ANS_UNLOCK  (empty) both locks are released  mon -> spool
 *   MSG_MS_REQ_QUIT_DONE u8 MS_QUIT_OK | MS_QUIT_ERR, str reply text,
 *       u32 deleted, u64 deleted octets, u32 left, u64 left octets,
 *       u8 MS_END_QUIT | MS_END_DROPPED, u32 RETR count, u64 RETR bytes,
 *       u32 TOP count, u64 TOP bytes: the session (and its update) is
 *       over; the worker exits next
 *
 * The worker sends MSG_MS_REQ_LOCK(MS_LOCK_LOGIN) first, then completes
 * an interrupted update, moves new mail to the temp drop (temp-drop mode)
 * and indexes the mailbox, then unlocks.  A lock taken for the QUIT
 * update is never released on the worker's request: the monitor releases
 * it only after the worker has exited, so no process writes the mailbox
 * after its locks are gone.  The QUIT reply reaches the client from the
 * monitor (MSG_MN_ANS_QUIT), which alone knows, once the worker is gone,
 * what happened to the mailbox.
 */

#ifndef POPSEP_MONITOR_SPOOL_H
#define POPSEP_MONITOR_SPOOL_H

#include <stddef.h>

enum {
	MSG_MS_REQ_LOG = 0x0300,
	MSG_MS_REQ_LOCK,
	MSG_MS_ANS_LOCK,
	MSG_MS_ANS_FD,
	MSG_MS_REQ_JOURNAL_NEW,
	MSG_MS_ANS_JOURNAL_NEW,
	MSG_MS_REQ_JOURNAL_COMMIT,
	MSG_MS_ANS_JOURNAL_COMMIT,
	MSG_MS_REQ_JOURNAL_DONE,
	MSG_MS_REQ_PROGRESS,
	MSG_MS_REQ_UNLOCK,
	MSG_MS_ANS_UNLOCK,
	MSG_MS_REQ_QUIT_DONE,
	MSG_MS_REQ_BULLETINS_DONE,
};

enum { MS_LOCK_LOGIN = 1, MS_LOCK_UPDATE = 2, MS_LOCK_RECOVER = 3 };
enum { MS_FD_JOURNAL = 0x01, MS_FD_DROP = 0x02, MS_FD_BULLETINS = 0x04 };
enum { MS_JOURNAL_REMOVE = 1, MS_JOURNAL_SET_ASIDE = 2 };
enum { MS_QUIT_OK = 0, MS_QUIT_ERR = 1 };
enum { MS_END_DROPPED = 0, MS_END_QUIT = 1 };

/* Each receiver's table of this channel, for popsepd -P. */
struct msg_handler;
/* monitor.c, spoolworker.c */
const struct msg_handler *msgtab_monitor_spool(size_t *);
const struct msg_handler *msgtab_spool_monitor(size_t *);

#endif /* POPSEP_MONITOR_SPOOL_H */
