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
 * only the mailbox descriptor; it asks the monitor to take and release the
 * mailbox lock (dot-lock plus fcntl), because creating USER.lock in the
 * spool directory needs group mail, which the worker must not have.
 *
 *   MSG_MS_REQ_LOG     u8 priority, data line (no NUL)  spool -> mon
 *   MSG_MS_REQ_LOCK    (empty)                          spool -> mon
 *   MSG_MS_ANS_LOCK    u32 status (0 = locked) [, fd]   mon -> spool
 *       with status 0, the descriptor of a new, empty update journal
 *       (spool/journal.c) that the monitor created next to the mailbox
 *   MSG_MS_REQ_JOURNAL_DONE (empty) the update is complete, or had not
 *       begun: the monitor removes the journal     spool -> mon
 *   MSG_MS_REQ_UNLOCK  (empty)                          spool -> mon
 *   MSG_MS_ANS_UNLOCK  (empty) both locks are released  mon -> spool
 *   MSG_MS_REQ_STATS   u32 deleted, u64 deleted octets,
 *                      u32 left, u64 left octets        spool -> mon
 *
 * The monitor holds the lock when it forks the worker: the first frame the
 * worker sends after parsing the mailbox is MSG_MS_REQ_UNLOCK (preceded by
 * MSG_MS_REQ_JOURNAL_DONE if the worker was handed the journal of an
 * interrupted update and completed it).  The worker
 * waits for each answer, so when the client reads "+OK" after PASS or
 * QUIT, the locks are already released.
 */

#ifndef POPSEP_MONITOR_SPOOL_H
#define POPSEP_MONITOR_SPOOL_H

enum {
	MSG_MS_REQ_LOG = 0x0300,
	MSG_MS_REQ_LOCK,
	MSG_MS_ANS_LOCK,
	MSG_MS_REQ_UNLOCK,
	MSG_MS_REQ_STATS,
	MSG_MS_ANS_UNLOCK,
	MSG_MS_REQ_JOURNAL_DONE,
};

#endif /* POPSEP_MONITOR_SPOOL_H */
