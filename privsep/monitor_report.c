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
 * The session monitor's reports to the master for its counters
 * (privsep/metrics.c): each login's result, and at the end the figures
 * of the end-of-session line.  Runs in the session monitor (root), on
 * figures it made itself or took from its children when they arrived
 * (privsep/sesslog.c); the master bounds them again.  Nothing here names
 * a user, an address or a password: only results, counts and times.
 * Without a channel to the master (inetd mode) nothing is sent.
 */

#include <string.h>

#include "log.h"
#include "metrics.h"
#include "monitor_master.h"
#include "msg.h"
#include "session.h"
#include "sesslog.h"

static uint8_t
mech_code(const char *how)
{
	if (strcmp(how, "pam") == 0)
		return MX_MECH_PAM;
	if (strcmp(how, "passwd-file") == 0)
		return MX_MECH_PASSWD_FILE;
	if (strcmp(how, "apop") == 0)
		return MX_MECH_APOP;
	return MX_MECH_PASSWORD;
}

static void
send_report(struct session *s, struct msg *m)
{
	if (msg_send(s->master_fd, m, -1) == -1)
		log_warn("send to the master");
}

/* result: enum mx_login; how: the mechanism's name, or "". */
void
mm_report_login(struct session *s, int result, const char *how)
{
	struct msg	*m = mm_frame();

	if (s->master_fd == -1)
		return;
	if (result < 0 || result >= MX_LOGIN_N)
		bug("%s: result %d", __func__, result);
	msg_init(m, MSG_MM_REQ_LOGIN);
	msg_put_u8(m, (uint8_t)result);
	msg_put_u8(m, mech_code(how));
	send_report(s, m);
}

/* Once, when the session ends; flags: MX_END_*. */
void
mm_report_end(struct session *s, const struct sesslog *l, int flags)
{
	struct msg	*m = mm_frame();

	if (s->master_fd == -1)
		return;
	if ((flags & ~MX_END_ALL) != 0)
		bug("%s: flags 0x%x", __func__, flags);
	msg_init(m, MSG_MM_REQ_SESSION_END);
	msg_put_u8(m, (uint8_t)flags);
	msg_put_u32(m, l->retr_n);
	msg_put_u64(m, l->retr_bytes);
	msg_put_u32(m, l->top_n);
	msg_put_u64(m, l->top_bytes);
	msg_put_u32(m, l->del_n);
	msg_put_u64(m, l->del_bytes);
	msg_put_u64(m, l->lock_wait_ms);
	msg_put_u64(m, l->update_ms);
	if (m->len != MM_SESSION_END_LEN)
		bug("%s: %zu bytes", __func__, m->len);
	send_report(s, m);
}
