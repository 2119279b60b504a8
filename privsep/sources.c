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
 * The master's account of its sessions by client address.  Runs in the
 * master (root).  It decides, before a session monitor is forked,
 * whether a new connection is served: the address's block after failed
 * logins, max-per-source, and max-startups (random early drop of new
 * connections while many sessions have not logged in).  It learns from
 * each monitor, over the channel of privsep/monitor_master.h, when the
 * session leaves AUTHORIZATION and the keyed hash of each failed login;
 * it trusts the monitors (root, its children) but checks every frame
 * like any other, and never sees a password.  The same channel brings
 * the figures of privsep/metrics.c until the monitor exits.
 *
 * A connection to a proxy listener is admitted first by the proxy's
 * address (proxy-from) and counted in no address's share; it is counted
 * against the client's own address when its monitor reports the client
 * that the proxy's header named (src_proxy_client()), and refused then
 * like any other connection from that address.
 *
 * Memory is bounded: at most GUARD_SOURCES_MAX addresses, each with at
 * most GUARD_HASHES_MAX hashes, and an address without sessions, block
 * or recent failure is forgotten when its room is needed.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "monitor_master.h"
#include "names.h"
#include "msg.h"
#include "proxy.h"

struct fail {
	uint8_t		 d[GUARD_DIGEST_LEN];
	time_t		 when;		/* last seen */
	int		 n;
};

struct src {
	char		 addr[64];
	int		 nsess;
	int		 nunauth;
	time_t		 last;
	time_t		 blocked_until;
	int		 stale_logged;
	int		 nfails;
	struct fail	 fails[GUARD_HASHES_MAX];
};

struct msess {
	pid_t		 pid;
	struct src	*src;
	int		 fd;		/* channel, or -1 */
	int		 unauth;
	int		 state;		/* MM_* */
	char		 peer[64];	/* the address that connected */
};

/* What the master expects from a session's monitor next. */
enum {
	MM_READY = 0x01,	/* AUTH_FAIL, AUTHED */
	MM_AWAIT_PROXY = 0x02,	/* the client of a proxy's header */
};

static struct src	**srcs;
static size_t		  nsrcs;
static struct msess	 *sess;
static int		  nsess, max_sess, nunauth;
static struct msess	 *polled[SESSIONS_MAX_LIMIT];
static struct msess	 *cur;
static struct msg	  src_msg;
static struct msg	  src_ans;
/* The sessions of proxy listeners until their client is known. */
static struct src	  proxied = { .addr = "(proxy)" };

static void	mm_auth_fail(void *, struct msg *);
static void	mm_authed(void *, struct msg *);
static void	mm_proxy(void *, struct msg *);

static const struct msg_handler mm_handlers[] = {
	MSG_ROW(MSG_MM_REQ_AUTH_FAIL, 4 + GUARD_DIGEST_LEN + 4 + 2,
	    4 + GUARD_DIGEST_LEN + 4 + POP_USER_MAX + 1, 0, MM_READY,
	    mm_auth_fail),
	MSG_ROW(MSG_MM_REQ_AUTHED, 0, 0, 0, MM_READY, mm_authed),
	MSG_ROW(MSG_MM_REQ_PROXY, 1 + 4 + 1, 1 + 4 + PROXY_ADDR_MAX, 0,
	    MM_AWAIT_PROXY, mm_proxy),
	MSG_ROW(MSG_MM_REQ_LOGIN, MM_LOGIN_LEN, MM_LOGIN_LEN, 0, MM_READY,
	    mm_login),
	MSG_ROW(MSG_MM_REQ_SESSION_END, MM_SESSION_END_LEN, MM_SESSION_END_LEN,
	    0, MM_READY, mm_session_end),
};

/* What the master takes from a session monitor, for popsepd -P. */
const struct msg_handler *
msgtab_master_monitor(size_t *n_r)
{
	*n_r = sizeof(mm_handlers) / sizeof(mm_handlers[0]);
	return mm_handlers;
}

static time_t
now_secs(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

void
src_init(const struct config *cf)
{
	max_sess = cf->max_sessions;
	nsrcs = 0;
	nsess = nunauth = 0;
	if ((sess = reallocarray(NULL, (size_t)max_sess, sizeof(*sess))) ==
	    NULL || (srcs = reallocarray(NULL, GUARD_SOURCES_MAX,
	    sizeof(*srcs))) == NULL)
		fatal("%s", __func__);
}

/* Failures older than block-window no longer count. */
static void
expire(const struct config *cf, struct src *s, time_t now)
{
	int	i;

	for (i = 0; i < s->nfails;)
		if (now - s->fails[i].when >= cf->block_window)
			s->fails[i] = s->fails[--s->nfails];
		else
			i++;
	if (s->nfails == 0)
		s->stale_logged = 0;
}

static int
is_idle(const struct config *cf, struct src *s, time_t now)
{
	expire(cf, s, now);
	return s->nsess == 0 && s->nfails == 0 && now >= s->blocked_until;
}

/* The address's entry, made if need be; NULL if every room is taken. */
static struct src *
lookup(const struct config *cf, const char *addr)
{
	struct src	*s;
	time_t		 now = now_secs();
	size_t		 i, victim = GUARD_SOURCES_MAX;

	for (i = 0; i < nsrcs; i++)
		if (strcmp(srcs[i]->addr, addr) == 0)
			return srcs[i];
	if (nsrcs < GUARD_SOURCES_MAX) {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			log_warn("%s", __func__);
			return NULL;
		}
		srcs[nsrcs++] = s;
	} else {
		for (i = 0; i < nsrcs; i++)
			if (is_idle(cf, srcs[i], now) && (victim ==
			    GUARD_SOURCES_MAX || srcs[i]->last <
			    srcs[victim]->last))
				victim = i;
		if (victim == GUARD_SOURCES_MAX)
			return NULL;
		s = srcs[victim];
		explicit_bzero(s, sizeof(*s));
	}
	strlcpy(s->addr, addr, sizeof(s->addr));
	return s;
}

/* sshd's MaxStartups: drop with a chance rising from rate to 100%. */
static int
early_drop(const struct config *cf)
{
	int	p;

	if (nunauth < cf->startups_start)
		return 0;
	if (nunauth >= cf->startups_full)
		return 1;
	p = cf->startups_rate + (100 - cf->startups_rate) *
	    (nunauth - cf->startups_start) /
	    (cf->startups_full - cf->startups_start);
	return (int)arc4random_uniform(100) < p;
}

/*
 * NULL if a connection from addr may have a session (*src_r is then its
 * entry), else the reply for the client.  Each refusal is logged; the
 * log's own limit keeps a flood of them to a few lines.
 */
const char *
src_admit(const struct config *cf, const char *addr, struct src **src_r)
{
	struct src	*s;
	time_t		 now = now_secs();

	if ((s = lookup(cf, addr)) == NULL) {
		log_warnx("connection from %s refused: %d client addresses "
		    "are known already", addr, GUARD_SOURCES_MAX);
		metrics_refused(MX_REF_ADDRESSES);
		return "-ERR [SYS/TEMP] Too many sessions, try again later";
	}
	s->last = now;
	expire(cf, s, now);
	if (now < s->blocked_until) {
		log_warnx("connection from %s refused: blocked after failed "
		    "logins", addr);
		metrics_refused(MX_REF_BLOCKED);
		return "-ERR [SYS/TEMP] Too many failed logins from your "
		    "address, try again later";
	}
	if (s->nsess >= cf->max_per_source) {
		log_warnx("connection from %s refused: max-per-source (%d) "
		    "reached", addr, cf->max_per_source);
		metrics_refused(MX_REF_MAX_PER_SOURCE);
		return "-ERR [SYS/TEMP] Too many sessions from your address, "
		    "try again later";
	}
	if (early_drop(cf)) {
		log_warnx("connection from %s refused: max-startups: %d "
		    "sessions not logged in", addr, nunauth);
		metrics_refused(MX_REF_MAX_STARTUPS);
		return "-ERR [SYS/TEMP] Too many sessions, try again later";
	}
	*src_r = s;
	return NULL;
}

int
src_is_stale(const struct src *s)
{
	return s->stale_logged;
}

void
src_session_add(struct src *s, pid_t pid, int fd)
{
	struct msess	*m;

	if (nsess >= max_sess)
		bug("%s: %d sessions", __func__, nsess);
	m = &sess[nsess++];
	m->pid = pid;
	m->src = s;
	m->fd = fd;
	m->unauth = 1;
	m->state = s == &proxied ? MM_AWAIT_PROXY : MM_READY;
	m->peer[0] = '\0';
	s->nsess++;
	s->nunauth++;
	nunauth++;
}

static void
left_authorization(struct msess *m)
{
	if (!m->unauth)
		return;
	m->unauth = 0;
	m->src->nunauth--;
	nunauth--;
}

static void
close_channel(struct msess *m)
{
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
}

/* Whether pid was a session's monitor; its session ends. */
int
src_session_gone(pid_t pid)
{
	struct msess	*m;
	int		 i;

	for (i = 0; i < nsess; i++) {
		m = &sess[i];
		if (m->pid != pid)
			continue;
		left_authorization(m);
		close_channel(m);
		m->src->nsess--;
		m->src->last = now_secs();
		sess[i] = sess[--nsess];
		return 1;
	}
	return 0;
}

int
src_nsessions(void)
{
	return nsess;
}

int
src_nunauth(void)
{
	return nunauth;
}

size_t
src_pollfds(struct pollfd *pfd, size_t room)
{
	size_t	n = 0;
	int	i;

	for (i = 0; i < nsess && n < room; i++) {
		if (sess[i].fd == -1)
			continue;
		pfd[n].fd = sess[i].fd;
		pfd[n].events = POLLIN;
		polled[n++] = &sess[i];
	}
	return n;
}

static void
block(const struct config *cf, struct src *s, time_t now)
{
	s->blocked_until = now + cf->block_time;
	log_warnx("%s: %d different wrong passwords within %d seconds; "
	    "connections from it are refused for %d seconds", s->addr,
	    s->nfails, cf->block_window, cf->block_time);
}

static void
mm_auth_fail(void *arg, struct msg *m)
{
	const struct config	*cf = arg;
	struct src		*s = cur->src;
	const uint8_t		*d;
	char			 user[POP_USER_MAX + 1];
	size_t			 len;
	time_t			 now = now_secs();
	int			 i, old = 0;

	d = msg_get_data(m, &len, GUARD_DIGEST_LEN);
	if (len != GUARD_DIGEST_LEN)
		fatalx("master<-monitor: AUTH_FAIL: hash of %zu bytes", len);
	msg_get_str(m, user, sizeof(user));
	msg_end(m);
	if (!user_name_ok(user, strnlen(user, POP_USER_MAX + 1)))
		fatalx("master<-monitor: AUTH_FAIL: bad user name");
	/* A proxy's own connection (LOCAL): no client address to count. */
	if (s == &proxied)
		return;
	expire(cf, s, now);
	for (i = 0; i < s->nfails; i++)
		if (memcmp(s->fails[i].d, d, GUARD_DIGEST_LEN) == 0) {
			s->fails[i].n++;
			s->fails[i].when = now;
			old = 1;
			break;
		}
	if (old && !s->stale_logged) {
		s->stale_logged = 1;
		log_warnx("%s: the same wrong password for \"%s\" again: "
		    "likely a client with a stale saved password", s->addr,
		    user);
	}
	if (old)
		return;
	if (s->nfails == GUARD_HASHES_MAX) {
		/* The oldest goes: the window keeps the newest. */
		for (i = 1, old = 0; i < s->nfails; i++)
			if (s->fails[i].when < s->fails[old].when)
				old = i;
		s->fails[old] = s->fails[--s->nfails];
	}
	memcpy(s->fails[s->nfails].d, d, GUARD_DIGEST_LEN);
	s->fails[s->nfails].when = now;
	s->fails[s->nfails++].n = 1;
	if (s->nfails >= cf->block_threshold && now >= s->blocked_until)
		block(cf, s, now);
}

static void
mm_authed(void *arg, struct msg *m)
{
	(void)arg;
	msg_end(m);
	left_authorization(cur);
}

/* Frames from the monitors polled in pfd (src_pollfds()'s order). */
void
src_dispatch(const struct config *cf, const struct pollfd *pfd, size_t n)
{
	const struct msg_handler	*h;
	size_t				 i;
	int				 rc;

	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		cur = polled[i];
		rc = msg_recv(cur->fd, &src_msg);
		if (rc <= 0) {
			/* The monitor is gone or going: reaped later. */
			close_channel(cur);
			continue;
		}
		h = msg_lookup(mm_handlers, sizeof(mm_handlers) /
		    sizeof(mm_handlers[0]), &src_msg, (unsigned int)cur->state,
		    "master<-monitor");
		h->fn((void *)(uintptr_t)cf, &src_msg);
		msg_wipe(&src_msg);
	}
}

/*
 * A connection to a proxy listener: NULL if it comes from proxy-from
 * (*src_r then stands for "client not known yet"), else the reply.  The
 * proxy's own address is not counted, so that max-per-source and the
 * blocks apply to each client behind it, once its header is read.
 */
const char *
src_admit_proxy(const struct config *cf, const char *addr,
    struct src **src_r)
{
	if (!cfg_proxy_trusted(cf, addr)) {
		log_warnx("connection from %s to a proxy listener refused: "
		    "not in proxy-from", addr);
		return "-ERR [SYS/PERM] This port takes connections from a "
		    "proxy only";
	}
	*src_r = &proxied;
	return NULL;
}

/* The proxy's address, for the log, of the session just added. */
void
src_session_peer(pid_t pid, const char *addr)
{
	if (nsess == 0 || sess[nsess - 1].pid != pid)
		bug("%s: not the last session added", __func__);
	strlcpy(sess[nsess - 1].peer, addr, sizeof(sess[nsess - 1].peer));
}

static void
proxy_answer(int verdict, int stale, const char *text)
{
	struct msg	*a = &src_ans;

	msg_init(a, MSG_MM_ANS_PROXY);
	msg_put_u8(a, (uint8_t)verdict);
	msg_put_u8(a, (uint8_t)stale);
	msg_put_str(a, text);
	if (msg_send(cur->fd, a, -1) == -1)
		log_warn("send to the monitor");
}

static int
is_numeric_addr(const char *addr)
{
	uint8_t	a[16];

	return inet_pton(AF_INET, addr, a) == 1 ||
	    inet_pton(AF_INET6, addr, a) == 1;
}

/*
 * The session moves from the placeholder to the client's address, which
 * src_admit() judges as if the client had connected itself; the session
 * is not counted anywhere while it does, so it does not count against
 * itself.  A refused session stays with the placeholder until it ends.
 */
static void
src_proxy_client(const struct config *cf, const char *addr)
{
	struct src	*s = NULL;
	const char	*why;

	proxied.nsess--;
	proxied.nunauth--;
	nunauth--;
	if ((why = src_admit(cf, addr, &s)) != NULL)
		s = &proxied;
	s->nsess++;
	s->nunauth++;
	nunauth++;
	cur->src = s;
	if (why != NULL) {
		proxy_answer(MM_PROXY_REFUSED, 0, why);
		return;
	}
	proxy_answer(MM_PROXY_ADMITTED, src_is_stale(s), "");
}

static void
mm_proxy(void *arg, struct msg *m)
{
	const struct config	*cf = arg;
	char			 addr[PROXY_ADDR_MAX];
	uint8_t			 st;

	st = msg_get_u8(m);
	msg_get_str(m, addr, sizeof(addr));
	msg_end(m);
	cur->state = MM_READY;
	if (st > PROXY_HDR_LAST || (st == PROXY_HDR_OK) != (addr[0] != '\0') ||
	    (st == PROXY_HDR_OK && !is_numeric_addr(addr)))
		fatalx("master<-monitor: PROXY: bad status %u or address", st);
	if (!cur->unauth || cur->src != &proxied)
		fatalx("master<-monitor: PROXY out of turn");
	if (st == PROXY_HDR_OK)
		src_proxy_client(cf, addr);
	else if (st == PROXY_HDR_LOCAL)
		proxy_answer(MM_PROXY_ADMITTED, 0, "");
	else
		log_warnx("connection from the proxy %s closed: %s", cur->peer,
		    proxy_status_text(st));
}
