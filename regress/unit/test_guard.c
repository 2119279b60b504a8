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
 * Unit tests of the network boundary's guards: the user name rule the
 * session monitor applies to what a network child sends
 * (privsep/guard.c), the growing delay of failed logins, the master's
 * account of client addresses (privsep/sources.c: max-per-source,
 * max-startups, blocking after distinct failed passwords, a repeated
 * password told apart) fed through a real channel, must-die cases for
 * malformed frames on that channel.
 */

#include <sys/socket.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "monitor_master.h"
#include "names.h"
#include "msg.h"
#include "params.h"
#include "session.h"
#include "test.h"

static const struct {
	const char	*name;
	int		 ok;
} users[] = {
	{ "alice", 1 },
	{ "a", 1 },
	{ "user.name-with_odd~chars!", 1 },
	{ "0123456789012345678901234567890123456789012345678901234567890123",
	    1 },
	{ "01234567890123456789012345678901234567890123456789012345678901234",
	    0 },
	{ "", 0 },
	{ "two words", 0 },
	{ "../etc", 0 },
	{ "a/b", 0 },
	{ "a:b", 0 },
	{ "line\nbreak", 0 },
	{ "tab\there", 0 },
	{ "del\x7f", 0 },
	{ "high\xc3\xa9", 0 },
	{ "\x1b[2J", 0 },
};

static void
test_user_names(void)
{
	size_t	i;

	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		CHECK(user_name_ok(users[i].name, strnlen(users[i].name,
		    POP_USER_MAX + 1)) == users[i].ok,
		    "user name %zu %s", i, users[i].ok ? "accepted" :
		    "refused");
}

static void
test_fail_delay(void)
{
	struct session	s;

	memset(&s, 0, sizeof(s));
	CHECK(guard_fail_delay(&s, 0) == 0, "first failure: auth-fail-delay "
	    "only");
	CHECK(guard_fail_delay(&s, 2) == 2 * GUARD_STEP_MS, "third failure: "
	    "two steps more");
	s.source_stale = 1;
	CHECK(guard_fail_delay(&s, 0) == GUARD_STALE_MS, "a stale address's "
	    "failure waits longer");
}

static void
send_fail(int fd, const char *user, uint8_t fill)
{
	struct msg	m;
	uint8_t		d[GUARD_DIGEST_LEN];

	memset(d, fill, sizeof(d));
	msg_init(&m, MSG_MM_REQ_AUTH_FAIL);
	msg_put_data(&m, d, sizeof(d));
	msg_put_str(&m, user);
	if (msg_send(fd, &m, -1) == -1)
		exit(TEST_SETUP);
}

/* What the master's loop does with the sessions' channels. */
static void
dispatch(const struct config *cf)
{
	struct pollfd	pfd[16];
	size_t		n;

	n = src_pollfds(pfd, 16);
	if (poll(pfd, n, 1000) <= 0)
		exit(TEST_SETUP);
	src_dispatch(cf, pfd, n);
}

static void
setup(struct config *cf)
{
	cfg_defaults(cf);
	cf->max_sessions = 16;
	cf->max_per_source = 2;
	cf->startups_start = cf->startups_full = 4;
	cf->startups_rate = 100;
	cf->block_threshold = 3;
	src_init(cf);
}

static void
test_sources(void)
{
	struct config	 cf;
	struct src	*a = NULL, *b = NULL, *c = NULL;
	const char	*why;
	int		 mm[2], i;

	setup(&cf);
	CHECK(src_admit(&cf, "192.0.2.1", &a) == NULL && a != NULL,
	    "a first connection is admitted");
	if (msg_socketpair(mm) == -1)
		exit(TEST_SETUP);
	src_session_add(a, 101, mm[0]);
	CHECK(src_admit(&cf, "192.0.2.1", &b) == NULL && b == a,
	    "a second from the same address, same entry");
	src_session_add(a, 102, -1);
	why = src_admit(&cf, "192.0.2.1", &b);
	CHECK(why != NULL && strstr(why, "from your address") != NULL,
	    "max-per-source refuses the third");
	CHECK(src_admit(&cf, "192.0.2.2", &b) == NULL, "another address is "
	    "admitted");
	src_session_add(b, 103, -1);
	CHECK(src_admit(&cf, "192.0.2.3", &c) == NULL, "a fourth "
	    "unauthenticated session is admitted");
	src_session_add(c, 104, -1);
	why = src_admit(&cf, "192.0.2.4", &c);
	CHECK(why != NULL && strstr(why, "Too many sessions,") != NULL,
	    "max-startups full: the fifth refused");
	{
		struct msg	m;

		msg_init(&m, MSG_MM_REQ_AUTHED);
		if (msg_send(mm[1], &m, -1) == -1)
			exit(TEST_SETUP);
	}
	dispatch(&cf);
	CHECK(src_admit(&cf, "192.0.2.4", &c) == NULL, "after a login, one "
	    "more is admitted");
	{
		struct pollfd	pfd[16];
		size_t		n, k, open = 0;

		n = src_pollfds(pfd, 16);
		for (k = 0; k < n; k++)
			open += pfd[k].fd == mm[0];
		CHECK(open == 1 && src_nunauth() == 3, "after AUTHED the "
		    "channel stays open for the session's figures");
	}
	CHECK(src_session_gone(102) && !src_session_gone(999) &&
	    src_nsessions() == 3, "sessions end by their monitor's pid");

	/* Failed passwords from 192.0.2.2, over its own channel. */
	cf.max_per_source = 8;
	close(mm[1]);
	if (msg_socketpair(mm) == -1)
		exit(TEST_SETUP);
	src_session_add(b, 105, mm[0]);
	for (i = 0; i < 2; i++) {
		send_fail(mm[1], "bob", 0x11);
		dispatch(&cf);
	}
	CHECK(src_is_stale(b), "one password repeated: a stale client");
	CHECK(src_admit(&cf, "192.0.2.2", &c) == NULL, "a stale client is "
	    "not blocked");
	send_fail(mm[1], "bob", 0x22);
	dispatch(&cf);
	CHECK(src_admit(&cf, "192.0.2.2", &c) == NULL, "two distinct: not "
	    "blocked yet");
	send_fail(mm[1], "carol", 0x33);
	dispatch(&cf);
	why = src_admit(&cf, "192.0.2.2", &c);
	CHECK(why != NULL && strstr(why, "failed logins") != NULL,
	    "block-threshold distinct passwords block the address");
	CHECK(src_admit(&cf, "192.0.2.1", &c) == NULL, "other addresses "
	    "are still served");
	close(mm[1]);
	dispatch(&cf);
	CHECK(src_nsessions() == 4, "a closed channel does not end the "
	    "session: the reaped monitor does");
}

struct bad_frame {
	const char	*name;
	int		 type;
	const char	*user;
	size_t		 dlen;
	const char	*err;
};

static const struct bad_frame bad_frames[] = {
	{ "user name with a slash", MSG_MM_REQ_AUTH_FAIL, "a/b",
	    GUARD_DIGEST_LEN, "bad user name" },
	{ "user name with a newline", MSG_MM_REQ_AUTH_FAIL, "a\nb",
	    GUARD_DIGEST_LEN, "bad user name" },
	{ "short hash", MSG_MM_REQ_AUTH_FAIL, "bob", GUARD_DIGEST_LEN - 1,
	    "hash of 15 bytes" },
	{ "long hash", MSG_MM_REQ_AUTH_FAIL, "bob", GUARD_DIGEST_LEN + 1,
	    "field of 17 bytes" },
	{ "AUTHED with a body", MSG_MM_REQ_AUTHED, "x", 0, "bad length" },
	{ "LOGIN of 6 bytes", MSG_MM_REQ_LOGIN, "x", 0, "bad length" },
	{ "SESSION_END of 6 bytes", MSG_MM_REQ_SESSION_END, "x", 0,
	    "bad length" },
	{ "PROXY from an ordinary listener's session", MSG_MM_REQ_PROXY, NULL,
	    0, "PROXY not allowed now" },
	{ "the master's own PROXY answer", MSG_MM_ANS_PROXY, NULL, 0,
	    "unexpected frame type" },
	{ "unknown type", MSG_MM_ANS_PROXY + 1, NULL, 0,
	    "unexpected frame type" },
};

static void
bad_frame_child(const void *arg)
{
	const struct bad_frame	*b = arg;
	struct config		 cf;
	struct src		*s = NULL;
	struct msg		 m;
	uint8_t			 d[GUARD_DIGEST_LEN + 1] = { 0 };
	int			 mm[2];

	setup(&cf);
	if (src_admit(&cf, "192.0.2.9", &s) != NULL || msg_socketpair(mm)
	    == -1)
		exit(TEST_SETUP);
	src_session_add(s, 201, mm[0]);
	msg_init(&m, (uint16_t)b->type);
	if (b->type == MSG_MM_REQ_AUTH_FAIL)
		msg_put_data(&m, d, b->dlen);
	if (b->user != NULL)
		msg_put_str(&m, b->user);
	if (msg_send(mm[1], &m, -1) == -1)
		exit(TEST_SETUP);
	dispatch(&cf);
	exit(TEST_SURVIVED);
}

static void
test_bad_frames(void)
{
	char	err[4096];
	size_t	i;
	int	rc;

	for (i = 0; i < sizeof(bad_frames) / sizeof(bad_frames[0]); i++) {
		rc = test_run_child(bad_frame_child, &bad_frames[i], err,
		    sizeof(err));
		CHECK(rc == 1 && strstr(err, bad_frames[i].err) != NULL,
		    "the master dies on a frame with %s", bad_frames[i].name);
	}
}

int
main(void)
{
	log_init(1, LOG_DAEMON);
	test_user_names();
	test_fail_delay();
	test_sources();
	test_bad_frames();
	TEST_EXIT();
}
