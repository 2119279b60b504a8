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
 * The master's counters.  Runs in the master (root).  It counts what the
 * master sees itself (connections accepted, refusals, sessions by state)
 * and what each session monitor reports over its channel
 * (privsep/monitor_master.h: login results, the end-of-session figures).
 * A monitor is root and trusted, but a bug in one must not corrupt the
 * master: every figure is checked against its bound before it counts,
 * a frame with one out of bounds is dropped whole and logged, and every
 * counter saturates.  The snapshot goes to the metrics process
 * (privsep/metricsproc.c) whenever it changed, and to metrics-file every
 * metrics-interval seconds, written to a temporary file that is renamed
 * over the old one, so a reader sees one snapshot or the next, never a
 * part.  The master never reads a byte of HTTP, nor any frame of the
 * metrics process.
 */

#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "monitor_master.h"
#include "priv.h"

struct metrics {
	const struct config	*cf;
	struct mx_counters	 c;
	int			 listen_fd;	/* kept for a restart */
	int			 fd;		/* to the metrics process */
	pid_t			 pid;
	time_t			 started;
	time_t			 next_write;	/* metrics-file */
	size_t			 sent_len;
	char			 sent[METRICS_TEXT_MAX];
	char			 text[METRICS_TEXT_MAX];
};

static struct metrics	mx = { .listen_fd = -1, .fd = -1, .pid = -1 };

/* Monotonic seconds, for the master's and the metrics process's clocks. */
time_t
metrics_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static int
is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	}
	return 0;
}

/* metrics-listen: one socket, bound by the master as root at start-up. */
static int
bind_metrics(const struct cfg_listen *l)
{
	struct addrinfo	 hints, *res;
	int		 fd, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(l->addr, l->port, &hints, &res)) != 0)
		fatalx("metrics-listen %s:%s: %s", l->addr, l->port,
		    gai_strerror(rc));
	if (!is_loopback(res->ai_addr))
		log_warnx("metrics-listen %s:%s is not a loopback address: "
		    "anyone who can reach it reads the counters", l->addr,
		    l->port);
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, res->ai_protocol);
	if (fd == -1)
		fatal("metrics-listen socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1)
		fatal("bind metrics-listen %s:%s", l->addr, l->port);
	if (listen(fd, 16) == -1)
		fatal("listen metrics-listen %s:%s", l->addr, l->port);
	freeaddrinfo(res);
	log_info("metrics on http://%s%s%s:%s/metrics", strchr(l->addr, ':') ?
	    "[" : "", l->addr, strchr(l->addr, ':') ? "]" : "", l->port);
	return fd;
}

/*
 * The master's end does not block, and does not read: a metrics process
 * that stops reading loses snapshots, and one that writes is not heard,
 * so it can neither stall the master nor feed it a frame.
 */
static void
spawn(void)
{
	mx.pid = metricsproc_spawn(mx.cf, mx.listen_fd, &mx.fd);
	if (fcntl(mx.fd, F_SETFL, O_NONBLOCK) == -1 ||
	    shutdown(mx.fd, SHUT_RD) == -1)
		fatal("metrics channel");
	mx.started = metrics_now();
	mx.sent_len = 0;
}

/*
 * At start-up, after the key process and before the hash key of failed
 * logins exists: the metrics process never holds it.  The privsep user
 * is checked here, so a missing one stops the start, not the process.
 */
void
metrics_start(const struct config *cf)
{
	struct priv_user	u;

	mx.cf = cf;
	mx.next_write = metrics_now();
	if (cf->metrics_listen[0] == '\0')
		return;
	if (priv_lookup(cf->privsep_user, &u) == -1)
		fatalx("privsep-user \"%s\" does not exist", cf->privsep_user);
	mx.listen_fd = bind_metrics(&cf->metrics_addr);
	spawn();
}

void
metrics_connection(void)
{
	mx.c.connections = metrics_add(mx.c.connections, 1);
}

void
metrics_refused(enum mx_refusal why)
{
	if ((unsigned)why >= MX_REF_N)
		bug("%s: %d", __func__, why);
	mx.c.refusals[why] = metrics_add(mx.c.refusals[why], 1);
}

/* MSG_MM_REQ_LOGIN: u8 result, u8 mechanism. */
void
mm_login(void *arg, struct msg *m)
{
	uint8_t	result, mech;

	(void)arg;
	result = msg_get_u8(m);
	mech = msg_get_u8(m);
	msg_end(m);
	if (result >= MX_LOGIN_N || mech >= MX_MECH_N) {
		log_warnx("master<-monitor: LOGIN: result %u, mechanism %u "
		    "out of range; not counted", result, mech);
		return;
	}
	mx.c.logins[result][mech] = metrics_add(mx.c.logins[result][mech], 1);
}

struct end {
	uint8_t		 flags;
	uint32_t	 retr_n, top_n, del_n;
	uint64_t	 retr_bytes, top_bytes, del_bytes;
	uint64_t	 lock_wait_ms, update_ms;
};

/* Whether every figure is within its bound. */
static int
end_ok(const struct end *e)
{
	return (e->flags & ~MX_END_ALL) == 0 &&
	    e->retr_n <= SPOOL_MSGS_MAX * 16ULL &&
	    e->top_n <= SPOOL_MSGS_MAX * 16ULL &&
	    e->del_n <= SPOOL_MSGS_MAX &&
	    e->retr_bytes <= METRICS_FIGURE_MAX &&
	    e->top_bytes <= METRICS_FIGURE_MAX &&
	    e->del_bytes <= METRICS_FIGURE_MAX &&
	    e->lock_wait_ms <= METRICS_FIGURE_MAX &&
	    e->update_ms <= METRICS_FIGURE_MAX;
}

static void
count_end(const struct end *e)
{
	struct mx_counters	*c = &mx.c;

	c->sessions_ended = metrics_add(c->sessions_ended, 1);
	c->retr_msgs = metrics_add(c->retr_msgs, e->retr_n);
	c->retr_bytes = metrics_add(c->retr_bytes, e->retr_bytes);
	c->top_msgs = metrics_add(c->top_msgs, e->top_n);
	c->top_bytes = metrics_add(c->top_bytes, e->top_bytes);
	c->dele_msgs = metrics_add(c->dele_msgs, e->del_n);
	c->dele_bytes = metrics_add(c->dele_bytes, e->del_bytes);
	if (e->flags & MX_END_TLS)
		c->tls_handshakes = metrics_add(c->tls_handshakes, 1);
	if (e->flags & MX_END_LOCKED)
		metrics_observe(&c->lock_wait, e->lock_wait_ms);
	if (e->flags & MX_END_UPDATED)
		metrics_observe(&c->update, e->update_ms);
	if (e->flags & MX_END_LOGIN_TIMEOUT)
		metrics_refused(MX_REF_LOGIN_TIMEOUT);
}

/*
 * MSG_MM_REQ_SESSION_END: u8 flags, u32 RETR count, u64 RETR bytes,
 * u32 TOP count, u64 TOP bytes, u32 deleted, u64 deleted bytes,
 * u64 lock wait ms, u64 update ms.
 */
void
mm_session_end(void *arg, struct msg *m)
{
	struct end	e;

	(void)arg;
	e.flags = msg_get_u8(m);
	e.retr_n = msg_get_u32(m);
	e.retr_bytes = msg_get_u64(m);
	e.top_n = msg_get_u32(m);
	e.top_bytes = msg_get_u64(m);
	e.del_n = msg_get_u32(m);
	e.del_bytes = msg_get_u64(m);
	e.lock_wait_ms = msg_get_u64(m);
	e.update_ms = msg_get_u64(m);
	msg_end(m);
	if (!end_ok(&e)) {
		log_warnx("master<-monitor: SESSION_END: a figure out of "
		    "bounds; not counted");
		return;
	}
	count_end(&e);
}

/* The metrics process's channel, if any, in pfd; how many: 0 or 1. */
size_t
metrics_pollfd(struct pollfd *pfd)
{
	if (mx.fd == -1)
		return 0;
	pfd->fd = mx.fd;
	pfd->events = 0;	/* POLLHUP and POLLERR are always reported */
	return 1;
}

static void
lost(void)
{
	/*
	 * It closes its end only by exiting; it is reaped with the other
	 * children, so its pid is never signalled here, where it may be
	 * reused already.
	 */
	close(mx.fd);
	mx.fd = -1;
	mx.pid = -1;
	if (metrics_now() - mx.started < METRICS_RESTART_SECS) {
		log_warnx("metrics process died within %d seconds of its "
		    "start; metrics-listen is served no more",
		    METRICS_RESTART_SECS);
		return;
	}
	log_warnx("metrics process gone; starting a new one");
	spawn();
}

/* The master only writes: its end's closing is all it hears. */
void
metrics_dispatch(const struct pollfd *pfd)
{
	if (pfd->fd != mx.fd || pfd->revents == 0)
		return;
	lost();
}

static void
snapshot(void)
{
	struct mx_counters	c = mx.c;
	int			all = src_nsessions(), unauth = src_nunauth();
	ssize_t			n;

	c.sessions_unauth = (uint64_t)unauth;
	c.sessions_authed = (uint64_t)(all - unauth);
	n = metrics_format(&c, mx.text, sizeof(mx.text));
	if (n < 0)
		bug("%s: the text exceeds METRICS_TEXT_MAX", __func__);
}

static void
send_snapshot(size_t len)
{
	if (len == mx.sent_len && memcmp(mx.text, mx.sent, len) == 0)
		return;
	if (msg_send_data(mx.fd, MSG_MX_REQ_SNAPSHOT, mx.text, len) == -1) {
		/* Sent again at the next turn. */
		if (errno != EAGAIN)
			log_warn("send to the metrics process");
		return;
	}
	memcpy(mx.sent, mx.text, len);
	mx.sent_len = len;
}

/* metrics-file: a temporary file beside it, renamed over it. */
static void
write_file(const char *path, size_t len)
{
	char	tmp[CFG_PATH_MAX + 16];
	int	fd;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    (int)sizeof(tmp)) {
		log_warnx("metrics-file %s: name too long", path);
		return;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		log_warn("metrics-file %s", tmp);
		return;
	}
	if (fchmod(fd, 0644) == -1 || write(fd, mx.text, len) !=
	    (ssize_t)len || fsync(fd) == -1) {
		log_warn("metrics-file %s", tmp);
		close(fd);
		(void)unlink(tmp);
		return;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		log_warn("metrics-file %s", path);
		(void)unlink(tmp);
	}
}

/* Before each turn of the master's loop. */
void
metrics_tick(void)
{
	int	want_file;

	want_file = mx.cf->metrics_file[0] != '\0' &&
	    metrics_now() >= mx.next_write;
	if (mx.fd == -1 && !want_file)
		return;
	snapshot();
	if (mx.fd != -1)
		send_snapshot(strlen(mx.text));
	if (want_file) {
		write_file(mx.cf->metrics_file, strlen(mx.text));
		mx.next_write = metrics_now() + mx.cf->metrics_interval;
	}
}

/* The master's poll timeout: `other', or sooner for metrics-file. */
int
metrics_timeout(int other)
{
	long long	ms;

	if (mx.cf->metrics_file[0] == '\0')
		return other;
	ms = ((long long)mx.next_write - (long long)metrics_now()) * 1000;
	if (ms < 0)
		ms = 0;
	if (other >= 0 && other < ms)
		return other;
	return (int)ms;
}
