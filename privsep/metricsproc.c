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
 * The metrics process.  Forked by the master at start-up (and again if
 * it dies) when metrics-listen is set; it gets the listening socket the
 * master bound and one channel from the master, drops to privsep-user in
 * the empty chroot-dir under its seccomp filter (sandbox_metrics.c), and
 * serves the latest snapshot the master sent over HTTP/1.x.  It trusts
 * the master (root, its parent), whose frames it checks anyway, and
 * nothing from the network: of a request it reads one line of at most
 * METRICS_LINE_MAX bytes within METRICS_CONN_SECS, answers GET /metrics
 * and nothing else, ignores the headers, and closes after one answer.
 * It holds no secret: the hash key of failed logins is made after it
 * is forked, and it never sends the master anything.
 */

#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "manifest.h"
#include "metrics.h"
#include "monitor_master.h"
#include "priv.h"
#include "session.h"

#define HTTP_HEAD_MAX	256

enum { CONN_FREE, CONN_READ, CONN_WRITE, CONN_DRAIN };

struct mconn {
	int	 state;
	int	 fd;
	time_t	 deadline;
	size_t	 inlen;
	char	 in[METRICS_LINE_MAX];
	size_t	 outlen, outpos;
	size_t	 drained;
	char	*out;		/* HTTP_HEAD_MAX + METRICS_TEXT_MAX bytes */
};

struct metricsproc {
	int		 master_fd;
	int		 listen_fd;
	size_t		 textlen;
	char		 text[METRICS_TEXT_MAX];
	struct mconn	 conns[METRICS_CONNS_MAX];
	struct msg	 m;
};

static struct metricsproc	mp;

static void	mx_snapshot(void *, struct msg *);

static const struct msg_handler master_handlers[] = {
	MSG_ROW(MSG_MX_REQ_SNAPSHOT, 4, 4 + METRICS_TEXT_MAX, 0, 1,
	    mx_snapshot),
};

/* What the metrics process takes from the master, for popsepd -P. */
const struct msg_handler *
msgtab_metrics_master(size_t *n_r)
{
	*n_r = sizeof(master_handlers) / sizeof(master_handlers[0]);
	return master_handlers;
}

/* proc_fork_helper()'s keep[] slots, then the connections it accepts. */
static const struct proc_fd mx_fds[] = {
	[HELPER_FD_STDERR] = { "stderr", "stdio", "start", NULL, NULL },
	[HELPER_FD_CHANNEL] = { "master-channel", "socket", "start", NULL,
	    NULL },
	[HELPER_FD_EXTRA] = { "metrics-listen-socket", "socket", "start",
	    NULL, NULL },
	{ "http-connection", "socket", "start", NULL, "connection" },
};

/* What the metrics process holds, for popsepd -P. */
const struct proc_fd *
metricsproc_fds(size_t *n_r)
{
	*n_r = sizeof(mx_fds) / sizeof(mx_fds[0]);
	return mx_fds;
}

/* Dropped: no log reaches anyone, and nothing is sent to the master. */
static void
log_discard(int prio, const char *line)
{
	(void)prio;
	(void)line;
}

static void
mx_snapshot(void *arg, struct msg *m)
{
	const uint8_t	*p;
	size_t		 len;

	(void)arg;
	p = msg_get_data(m, &len, METRICS_TEXT_MAX);
	msg_end(m);
	memcpy(mp.text, p, len);
	mp.textlen = len;
}

static void
conn_close(struct mconn *c)
{
	close(c->fd);
	c->fd = -1;
	c->state = CONN_FREE;
}

/* The answer: status line, headers, body; the body is copied whole. */
static void
respond(struct mconn *c, const char *status, const char *extra,
    const char *type, const char *body, size_t len)
{
	int	n;

	n = snprintf(c->out, HTTP_HEAD_MAX, "HTTP/1.1 %s\r\n%s"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\nConnection: close\r\n\r\n", status,
	    extra, type, len);
	if (n < 0 || n >= HTTP_HEAD_MAX || len > METRICS_TEXT_MAX)
		bug("%s: answer too long", __func__);
	memcpy(c->out + n, body, len);
	c->outlen = (size_t)n + len;
	c->outpos = 0;
	c->state = CONN_WRITE;
}

static void
respond_error(struct mconn *c, const char *status, const char *extra)
{
	char	body[64];
	int	n;

	n = snprintf(body, sizeof(body), "%s\n", status);
	if (n < 0 || (size_t)n >= sizeof(body))
		bug("%s: status too long", __func__);
	respond(c, status, extra, "text/plain; charset=utf-8", body,
	    (size_t)n);
}

/*
 * "METHOD SP TARGET SP HTTP/1.x", the line end cut off.  Only GET of
 * /metrics (a query string ignored) gets the snapshot.
 */
static void
answer_line(struct mconn *c, char *line)
{
	char	*method, *target, *version, *q;

	method = line;
	if ((target = strchr(method, ' ')) == NULL) {
		respond_error(c, "400 Bad Request", "");
		return;
	}
	*target++ = '\0';
	if ((version = strchr(target, ' ')) == NULL) {
		respond_error(c, "400 Bad Request", "");
		return;
	}
	*version++ = '\0';
	if (strcmp(version, "HTTP/1.1") != 0 &&
	    strcmp(version, "HTTP/1.0") != 0) {
		respond_error(c, "400 Bad Request", "");
		return;
	}
	if (strcmp(method, "GET") != 0) {
		respond_error(c, "405 Method Not Allowed", "Allow: GET\r\n");
		return;
	}
	if ((q = strchr(target, '?')) != NULL)
		*q = '\0';
	if (strcmp(target, "/metrics") != 0) {
		respond_error(c, "404 Not Found", "");
		return;
	}
	if (mp.textlen == 0) {
		respond_error(c, "503 Service Unavailable", "");
		return;
	}
	respond(c, "200 OK", "", "application/openmetrics-text; "
	    "version=1.0.0; charset=utf-8", mp.text, mp.textlen);
}

/*
 * Whether a read or send of n bytes leaves nothing to do now: it would
 * block, or the connection ended (and is closed).
 */
static int
io_done(struct mconn *c, ssize_t n)
{
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 1;
	if (n <= 0) {
		conn_close(c);
		return 1;
	}
	return 0;
}

/* Bytes of the request line; the line is answered once it is whole. */
static void
conn_read(struct mconn *c)
{
	char	*nl;
	ssize_t	 n;

	n = read(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen);
	if (io_done(c, n))
		return;
	c->inlen += (size_t)n;
	c->in[c->inlen] = '\0';
	if (memchr(c->in, '\0', c->inlen) != NULL) {
		respond_error(c, "400 Bad Request", "");
		return;
	}
	if ((nl = strchr(c->in, '\n')) == NULL) {
		/* No line end in METRICS_LINE_MAX - 1 bytes: too long. */
		if (c->inlen == sizeof(c->in) - 1)
			respond_error(c, "400 Bad Request", "");
		return;
	}
	*nl = '\0';
	if (nl > c->in && nl[-1] == '\r')
		nl[-1] = '\0';
	answer_line(c, c->in);
}

/*
 * After the answer: no more writes, and what the client still sends
 * (its headers) is read and dropped until it closes, so that closing
 * with unread bytes does not reset the connection under the answer.
 */
static void
conn_write(struct mconn *c)
{
	ssize_t	n;

	/* A client that has gone must not kill the process with SIGPIPE. */
	n = send(c->fd, c->out + c->outpos, c->outlen - c->outpos,
	    MSG_NOSIGNAL);
	if (io_done(c, n))
		return;
	c->outpos += (size_t)n;
	if (c->outpos < c->outlen)
		return;
	if (shutdown(c->fd, SHUT_WR) == -1) {
		conn_close(c);
		return;
	}
	c->state = CONN_DRAIN;
}

static void
conn_drain(struct mconn *c)
{
	char	buf[4096];
	ssize_t	n;

	n = read(c->fd, buf, sizeof(buf));
	if (!io_done(c, n) && (c->drained += (size_t)n) > METRICS_DRAIN_MAX)
		conn_close(c);
}

static struct mconn *
free_conn(void)
{
	size_t	i;

	for (i = 0; i < METRICS_CONNS_MAX; i++)
		if (mp.conns[i].state == CONN_FREE)
			return &mp.conns[i];
	return NULL;
}

static void
accept_conn(void)
{
	struct mconn	*c;
	int		 fd;

	if ((c = free_conn()) == NULL)
		return;
	fd = accept4(mp.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return;		/* EAGAIN, or the client has gone */
	c->fd = fd;
	c->state = CONN_READ;
	c->inlen = 0;
	c->drained = 0;
	c->deadline = metrics_now() + METRICS_CONN_SECS;
}

static void
serve_conn(struct mconn *c, short revents)
{
	if (revents & (POLLERR | POLLNVAL)) {
		conn_close(c);
		return;
	}
	switch (c->state) {
	case CONN_READ:
		conn_read(c);
		break;
	case CONN_WRITE:
		conn_write(c);
		break;
	case CONN_DRAIN:
		conn_drain(c);
		break;
	}
}

/* Connections past their deadline are closed, answered or not. */
static void
expire_conns(void)
{
	time_t	now = metrics_now();
	size_t	i;

	for (i = 0; i < METRICS_CONNS_MAX; i++)
		if (mp.conns[i].state != CONN_FREE &&
		    now >= mp.conns[i].deadline)
			conn_close(&mp.conns[i]);
}

static void
master_frame(void)
{
	const struct msg_handler	*h;

	if (msg_recv(mp.master_fd, &mp.m) != 1)
		_exit(0);	/* the master is gone */
	h = msg_lookup(master_handlers, sizeof(master_handlers) /
	    sizeof(master_handlers[0]), &mp.m, 1, "metrics<-master");
	h->fn(NULL, &mp.m);
}

static void
one_turn(struct pollfd *pfd, struct mconn **polled)
{
	size_t	i, n = 0, nc;

	pfd[n].fd = mp.master_fd;
	pfd[n++].events = POLLIN;
	pfd[n].fd = free_conn() != NULL ? mp.listen_fd : -1;
	pfd[n++].events = POLLIN;
	for (i = 0, nc = 0; i < METRICS_CONNS_MAX; i++) {
		if (mp.conns[i].state == CONN_FREE)
			continue;
		pfd[n].fd = mp.conns[i].fd;
		pfd[n++].events = mp.conns[i].state == CONN_WRITE ?
		    POLLOUT : POLLIN;
		polled[nc++] = &mp.conns[i];
	}
	/* A second's tick closes the connections past their deadline. */
	if (poll(pfd, n, nc > 0 ? 1000 : -1) == -1) {
		if (errno == EINTR)
			return;
		fatal("poll");
	}
	if (pfd[0].revents != 0)
		master_frame();
	for (i = 2; i < n; i++)
		if (pfd[i].revents != 0)
			serve_conn(polled[i - 2], pfd[i].revents);
	if (pfd[1].revents & POLLIN)
		accept_conn();
	expire_conns();
}

static __attribute__((noreturn)) void
metricsproc_main(const struct config *cf, int listen_fd, int master_fd)
{
	struct priv_user	 u;
	struct pollfd		 pfd[METRICS_CONNS_MAX + 2];
	struct mconn		*polled[METRICS_CONNS_MAX];
	size_t			 i;

	mp.master_fd = master_fd;
	mp.listen_fd = listen_fd;
	if (priv_lookup(cf->privsep_user, &u) == -1)
		fatalx("privsep-user \"%s\" does not exist", cf->privsep_user);
	for (i = 0; i < METRICS_CONNS_MAX; i++) {
		mp.conns[i].fd = -1;
		mp.conns[i].state = CONN_FREE;
		if ((mp.conns[i].out = malloc(HTTP_HEAD_MAX +
		    METRICS_TEXT_MAX)) == NULL)
			fatal("%s", __func__);
	}
	priv_drop(cf->chroot_dir, &u);
	log_set_sink(log_discard);
	sandbox_metrics();
	for (;;)
		one_turn(pfd, polled);
}

/*
 * Forked by the master with the bound socket listen_fd; *fd_r is the
 * master's end of the channel.
 */
pid_t
metricsproc_spawn(const struct config *cf, int listen_fd, int *fd_r)
{
	pid_t	pid;
	int	fd;

	if ((pid = proc_fork_helper("metrics", listen_fd, &fd)) == 0) {
		/* The master's handlers write to its signal pipe. */
		signal(SIGHUP, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		metricsproc_main(cf, listen_fd, fd);
		/* NOTREACHED */
	}
	*fd_r = fd;
	return pid;
}
