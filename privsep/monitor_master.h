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
 * Channel between a session monitor (root) and the master (root), one
 * socket pair per session, open until the monitor exits.  The master
 * creates it when it forks the monitor and polls its end; the monitor
 * writes, and reads only the master's answer to the client address of a
 * proxy's header.  The master checks every frame against its table
 * (msg_lookup()) like any other.
 *
 *   MSG_MM_REQ_AUTH_FAIL  data keyed hash (GUARD_DIGEST_LEN bytes) of
 *                         the user name and password of a failed login,
 *                         str user                          mon -> master
 *   MSG_MM_REQ_AUTHED     (empty) the session left AUTHORIZATION
 *                                                           mon -> master
 *   MSG_MM_REQ_LOGIN      u8 result (enum mx_login), u8 mechanism
 *                         (enum mx_mech): 2 bytes           mon -> master
 *   MSG_MM_REQ_SESSION_END  u8 flags (MX_END_*), u32 RETR count, u64
 *                         RETR bytes, u32 TOP count, u64 TOP bytes, u32
 *                         deleted, u64 deleted bytes, u64 lock wait ms,
 *                         u64 update ms: 53 bytes, the last frame
 *                                                           mon -> master
 *
 *       LOGIN and SESSION_END feed the master's counters
 *       (privsep/metrics.c), which bound every figure again.
 *
 *   MSG_MM_REQ_PROXY      u8 status (enum proxy_status of net/proxy.h),
 *                         str client address (numeric, only with
 *                         PROXY_HDR_OK, else empty): what the header on
 *                         a proxy listener said, checked by the monitor;
 *                         once, first, and only from a session of a
 *                         proxy listener.                   mon -> master
 *   MSG_MM_ANS_PROXY      u8 verdict (MM_PROXY_ADMITTED, MM_PROXY_REFUSED),
 *                         u8 the address repeats a stale password,
 *                         str the reply for a refused client
 *                                                           master -> mon
 *       the answer to PROXY_HDR_OK and PROXY_HDR_LOCAL; the other
 *       statuses end the session and get none.  The monitor waits for
 *       it and checks it against its own table.
 *
 * The master keeps, per client address, the sessions, the unauthenticated
 * ones and the hashes of recent failed passwords (privsep/sources.c); the
 * monitor side, which sees the password, is privsep/guard.c.
 */

#ifndef POPSEP_MONITOR_MASTER_H
#define POPSEP_MONITOR_MASTER_H

#include <sys/types.h>

#include <poll.h>
#include <time.h>

#include "config.h"

enum {
	MSG_MM_REQ_AUTH_FAIL = 0x0500,
	MSG_MM_REQ_AUTHED,
	MSG_MM_REQ_LOGIN,
	MSG_MM_REQ_SESSION_END,
	MSG_MM_REQ_PROXY,
	MSG_MM_ANS_PROXY,
};

#define MM_LOGIN_LEN		2
#define MM_SESSION_END_LEN	(1 + 3 * 4 + 5 * 8)

enum { MM_PROXY_ADMITTED = 0, MM_PROXY_REFUSED = 1 };

struct msg;
struct session;
struct sesslog;
struct src;

/* Session monitor side (privsep/guard.c). */
struct msg *mm_frame(void);
void	guard_init(void);
void	guard_forget(void);
void	guard_auth_failed(struct session *, const char *, const char *);
int	guard_fail_delay(const struct session *, int);
void	guard_authed(struct session *);
void	guard_start_clock(void);
int	guard_poll_timeout(const struct config *, int, int);
int	guard_deadline_passed(const struct config *);
int	guard_proxy(struct session *, int, const char *, char *, size_t);

/* Session monitor side (privsep/monitor_report.c). */
void	mm_report_login(struct session *, int, const char *);
void	mm_report_end(struct session *, const struct sesslog *, int);

/* Master side (privsep/sources.c). */
void	src_init(const struct config *);
const char *src_admit(const struct config *, const char *, struct src **);
const char *src_admit_proxy(const struct config *, const char *,
	    struct src **);
int	src_is_stale(const struct src *);
void	src_session_add(struct src *, pid_t, int);
void	src_session_peer(pid_t, const char *);
int	src_session_gone(pid_t);
int	src_nsessions(void);
int	src_nunauth(void);
size_t	src_pollfds(struct pollfd *, size_t);
void	src_dispatch(const struct config *, const struct pollfd *, size_t);

/* Each receiver's table of this channel, for popsepd -P. */
struct msg_handler;
const struct msg_handler *msgtab_master_monitor(size_t *);	/* sources.c */
const struct msg_handler *msgtab_monitor_master(size_t *);	/* guard.c */

#endif /* POPSEP_MONITOR_MASTER_H */
