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
 * The session monitor's guard of the AUTHORIZATION state.  Runs in the
 * session monitor (root); the key of the hash is made by the master (or
 * the inetd-mode process) at start-up and reaches each monitor by fork(),
 * and the master checks the user names it is sent with user_name_ok().
 * It trusts nothing the network child sends: the user name is checked
 * again here before it is logged or used.  It must never let the timing
 * or the reply tell an unknown user from a wrong password, never keep or
 * send a password, and never leave the key in a process that gives up
 * root (guard_forget() runs in the network child, the spool worker and
 * the key process right after their fork).
 *
 * A failed login is reported to the master as a keyed hash (HMAC-SHA-256
 * of user name and password, cut to GUARD_DIGEST_LEN bytes): the master
 * tells a client repeating one stale password from one guessing many
 * without ever holding a password.  The login deadline (login-timeout)
 * counts from the monitor's start; the monitor, not the network child,
 * ends a session that has not logged in by then.
 *
 * On a proxy listener the client named by the proxy's header (checked by
 * the monitor) goes to the master, which admits or refuses it by its own
 * address; the monitor waits for that answer and checks it like any
 * other frame.
 */

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "log.h"
#include "monitor_master.h"
#include "names.h"
#include "msg.h"
#include "pop3.h"
#include "proxy.h"
#include "session.h"

/*
 * The key alone on its page: a child forgets it by dropping the page,
 * which writes nothing, where zeroing the key would give every child a
 * copy of the page.
 */
static union {
	uint8_t	key[32];
	uint8_t	page[PROC_PAGE];
} guard_kp __attribute__((aligned(PROC_PAGE)));
static struct timespec	guard_started;
static struct msg	mm_msg;

static void	mm_answer_proxy(void *, struct msg *);

static const struct msg_handler master_handlers[] = {
	MSG_ROW(MSG_MM_ANS_PROXY, 1 + 1 + 4 + 1, 1 + 1 + 4 + POP_LINE_MAX, 0, 1,
	    mm_answer_proxy),
};

/* What the monitor takes from the master, for popsepd -P. */
const struct msg_handler *
msgtab_monitor_master(size_t *n_r)
{
	*n_r = sizeof(master_handlers) / sizeof(master_handlers[0]);
	return master_handlers;
}

/* The master's answer, as mm_answer_proxy() found it. */
static struct {
	int	verdict;
	int	stale;
	char	text[POP_LINE_MAX];
} guard_ans;

/*
 * The monitor's one frame buffer for its channel to the master, in both
 * directions (here and monitor_report.c): each frame is sent or read
 * whole before the next, and one buffer dirties one page of a session's
 * memory, where one per use would dirty one each.
 */
struct msg *
mm_frame(void)
{
	return &mm_msg;
}

void
guard_init(void)
{
	arc4random_buf(guard_kp.key, sizeof(guard_kp.key));
}

/*
 * In a child that must not hold the key.  Where the page cannot be
 * dropped, the key is zeroed.
 */
void
guard_forget(void)
{
	if (proc_forget(&guard_kp, sizeof(guard_kp)) == -1)
		explicit_bzero(guard_kp.key, sizeof(guard_kp.key));
}

static void
digest(const char *user, const char *pass, uint8_t out[GUARD_DIGEST_LEN])
{
	uint8_t		buf[POP_USER_MAX + POP_PASS_MAX + 2];
	uint8_t		md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;
	size_t		ulen = strnlen(user, POP_USER_MAX);
	size_t		plen = strnlen(pass, POP_PASS_MAX);

	/* The NUL between them: "ab"+"c" is not "a"+"bc". */
	memcpy(buf, user, ulen);
	buf[ulen] = '\0';
	memcpy(buf + ulen + 1, pass, plen);
	if (HMAC(EVP_sha256(), guard_kp.key, sizeof(guard_kp.key), buf,
	    ulen + 1 + plen, md, &mdlen) == NULL || mdlen < GUARD_DIGEST_LEN)
		fatalx("%s: HMAC failed", __func__);
	memcpy(out, md, GUARD_DIGEST_LEN);
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(md, sizeof(md));
}

/*
 * A failed login: its hash goes to the master, which counts it against
 * the client's address.  The same work for every failure, whatever
 * failed.
 */
void
guard_auth_failed(struct session *s, const char *user, const char *pass)
{
	struct msg	*m = &mm_msg;
	uint8_t		 d[GUARD_DIGEST_LEN];

	digest(user, pass, d);
	if (s->master_fd == -1) {
		explicit_bzero(d, sizeof(d));
		return;
	}
	msg_init(m, MSG_MM_REQ_AUTH_FAIL);
	msg_put_data(m, d, sizeof(d));
	msg_put_str(m, user);
	explicit_bzero(d, sizeof(d));
	if (msg_send(s->master_fd, m, -1) == -1)
		log_warn("send to the master");
	msg_wipe(m);
}

/*
 * Milliseconds added to auth-fail-delay for a failure after `fails'
 * earlier ones on this connection: each costs GUARD_STEP_MS more, and
 * a client at an address that repeats a stale password GUARD_STALE_MS
 * more again.  It depends only on counts, never on what failed.
 */
int
guard_fail_delay(const struct session *s, int fails)
{
	int	ms;

	ms = fails * GUARD_STEP_MS + (s->source_stale ? GUARD_STALE_MS : 0);
	log_debug("login failure %d of this connection: %d ms added to "
	    "auth-fail-delay", fails + 1, ms);
	return ms;
}

/*
 * The session left AUTHORIZATION: the master stops counting it there.
 * The channel stays open for the session's figures (monitor_report.c).
 */
void
guard_authed(struct session *s)
{
	struct msg	*m = &mm_msg;

	if (s->master_fd == -1)
		return;
	msg_init(m, MSG_MM_REQ_AUTHED);
	if (msg_send(s->master_fd, m, -1) == -1)
		log_warn("send to the master");
}

void
guard_start_clock(void)
{
	clock_gettime(CLOCK_MONOTONIC, &guard_started);
}

static long long
ms_left(const struct config *cf)
{
	return (long long)cf->login_timeout * 1000 -
	    (long long)ms_since(&guard_started);
}

/*
 * The poll timeout of the monitor: `other' (milliseconds, or -1), and
 * before login never past the deadline.
 */
int
guard_poll_timeout(const struct config *cf, int preauth, int other)
{
	long long	left;

	if (!preauth)
		return other;
	left = ms_left(cf);
	if (left < 0)
		left = 0;
	if (other >= 0 && other < left)
		return other;
	/* A little late rather than early: then the deadline has passed. */
	return left > 86400000 ? 86400000 : (int)left + 1;
}

int
guard_deadline_passed(const struct config *cf)
{
	return ms_left(cf) <= 0;
}

static void
mm_answer_proxy(void *arg, struct msg *m)
{
	(void)arg;
	guard_ans.verdict = msg_get_u8(m);
	guard_ans.stale = msg_get_u8(m);
	msg_get_str(m, guard_ans.text, sizeof(guard_ans.text));
	msg_end(m);
	if (guard_ans.verdict > MM_PROXY_REFUSED || guard_ans.stale > 1 ||
	    (guard_ans.verdict == MM_PROXY_REFUSED &&
	    strncmp(guard_ans.text, "-ERR ", 5) != 0))
		fatalx("monitor<-master: PROXY: bad answer");
}

/*
 * What the proxy's header said (status, and the client address the
 * monitor has checked), for the master.  A header that named a client or
 * the proxy itself is answered: MM_PROXY_ADMITTED, or MM_PROXY_REFUSED
 * with the client's reply in text.  -1 for any other status: the session
 * ends.
 */
int
guard_proxy(struct session *s, int status, const char *addr, char *text,
    size_t len)
{
	struct msg			*m = &mm_msg;
	const struct msg_handler	*h;

	if (s->master_fd == -1)
		fatalx("%s: no channel to the master", __func__);
	msg_init(m, MSG_MM_REQ_PROXY);
	msg_put_u8(m, (uint8_t)status);
	msg_put_str(m, addr);
	if (msg_send(s->master_fd, m, -1) == -1)
		fatal("send to the master");
	if (status != PROXY_HDR_OK && status != PROXY_HDR_LOCAL)
		return -1;
	if (msg_recv(s->master_fd, m) != 1)
		fatalx("%s: the master is gone", __func__);
	h = msg_lookup(master_handlers, sizeof(master_handlers) /
	    sizeof(master_handlers[0]), m, 1, "monitor<-master");
	h->fn(s, m);
	s->source_stale = guard_ans.stale;
	strlcpy(text, guard_ans.text, len);
	return guard_ans.verdict;
}
