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
 * Helpers every forked role uses while it is still root: closing
 * inherited descriptors, dropping inherited pages, and preparing the client
 * socket.  Runs in the
 * master's children (the session monitor) before any privilege is
 * dropped; knows nothing of the client's bytes.
 */

#include <sys/mman.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "manifest.h"
#include "monitor_master.h"
#include "msg.h"
#include "session.h"

static int
int_cmp(const void *a, const void *b)
{
	int	x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

/*
 * Close every descriptor above 2 except those listed, with close_range()
 * over the gaps: a loop of close() up to the descriptor limit costs
 * milliseconds per process.
 */
void
close_all_but(const int *keep, size_t n)
{
	int	sorted[16];
	int	lo = 3;
	size_t	i;

	if (n > sizeof(sorted) / sizeof(sorted[0]))
		bug("%s: %zu descriptors", __func__, n);
	memcpy(sorted, keep, n * sizeof(int));
	qsort(sorted, n, sizeof(int), int_cmp);
	for (i = 0; i < n; i++) {
		if (sorted[i] < lo)
			continue;
		if (sorted[i] > lo &&
		    close_range((unsigned)lo, (unsigned)sorted[i] - 1, 0) == -1)
			fatal("close_range");
		lo = sorted[i] + 1;
	}
	if (close_range((unsigned)lo, ~0U, 0) == -1)
		fatal("close_range");
	for (i = 0; i < n; i++)
		if (keep[i] == log_trace_fd())
			return;
	log_trace_forget();
}

/*
 * In a forked child, a block of its parent's memory that it must not read
 * or has no use for: madvise(MADV_DONTNEED) makes a private page read as
 * zeros again and hold no memory of its own, where writing zeros would
 * copy it.  The block must be whole pages (an object aligned on PROC_PAGE
 * whose size is a multiple of it, on a system whose page is PROC_PAGE),
 * or nothing is done.  Returns 0 once the pages are gone, else -1.
 */
int
proc_forget(void *p, size_t len)
{
	long	pg = sysconf(_SC_PAGESIZE);

	if (pg != PROC_PAGE || (uintptr_t)p % PROC_PAGE != 0 ||
	    len % PROC_PAGE != 0)
		return -1;
	return madvise(p, len, MADV_DONTNEED);
}

/*
 * A helper process of the master (key process, metrics process) with a
 * new channel.  In the child it returns 0 with *fd_r the child's end,
 * having named the process, wiped the hash key of failed logins and
 * closed every descriptor but standard error, the channel and extra (or
 * -1); in the parent, the child's pid with *fd_r the parent's end.
 */
pid_t
proc_fork_helper(const char *name, int extra, int *fd_r)
{
	int	sv[2], keep[HELPER_NKEEP];
	pid_t	pid;

	if (msg_socketpair(sv) == -1)
		fatal("socketpair");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		log_procname(name);
		guard_forget();
		keep[HELPER_FD_STDERR] = STDERR_FILENO;
		keep[HELPER_FD_CHANNEL] = sv[1];
		keep[HELPER_FD_EXTRA] = extra;
		close_all_but(keep, HELPER_NKEEP);
		*fd_r = sv[1];
		return 0;
	}
	close(sv[1]);
	*fd_r = sv[0];
	return pid;
}

/*
 * Qpopper's reverse-lookups: the client's name for the logs, trusted only
 * if it resolves back to the client's address (never used to decide
 * anything).
 */
static void
reverse_lookup(struct session *s, const struct sockaddr_storage *ss,
    socklen_t sl)
{
	struct addrinfo	 hints, *res, *ai;
	char		 name[sizeof(s->host)], num[sizeof(s->addr)];
	int		 confirmed = 0;

	if (getnameinfo((const struct sockaddr *)ss, sl, name, sizeof(name),
	    NULL, 0, NI_NAMEREQD) != 0) {
		log_info("Unable to get canonical name of client %s", s->addr);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = ss->ss_family;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, NULL, &hints, &res) == 0) {
		for (ai = res; ai != NULL && !confirmed; ai = ai->ai_next)
			confirmed = getnameinfo(ai->ai_addr, ai->ai_addrlen,
			    num, sizeof(num), NULL, 0, NI_NUMERICHOST) == 0 &&
			    strcmp(num, s->addr) == 0;
		freeaddrinfo(res);
	}
	if (!confirmed) {
		log_info("Client at \"%s\" resolves to an unknown host name "
		    "\"%s\"", s->addr, name);
		return;
	}
	strlcpy(s->host, name, sizeof(s->host));
}

/* What follows from the client's numeric address in s->addr. */
static void
client_known(struct session *s, const struct sockaddr_storage *ss,
    socklen_t sl)
{
	s->is_local = strncmp(s->addr, "127.", 4) == 0 ||
	    strcmp(s->addr, "::1") == 0 ||
	    strncmp(s->addr, "::ffff:127.", 11) == 0;
	strlcpy(s->host, s->addr, sizeof(s->host));
	if (s->cf->reverse_lookups && strcmp(s->addr, "unknown") != 0)
		reverse_lookup(s, ss, sl);
}

/*
 * The client named by a proxy's header, checked by the monitor: it
 * becomes the session's client for every later decision and log line
 * (the local policy, PAM_RHOST, reverse-lookups); the proxy's address is
 * kept beside it.  -1 if addr is not a numeric IPv4 or IPv6 address.
 */
int
session_set_client(struct session *s, const char *addr)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 sl;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sl = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sl = sizeof(*sin6);
	} else
		return -1;
	if (strlen(addr) >= sizeof(s->addr))
		return -1;
	strlcpy(s->proxy_addr, s->addr, sizeof(s->proxy_addr));
	strlcpy(s->addr, addr, sizeof(s->addr));
	client_known(s, &ss, sl);
	return 0;
}

/*
 * The client socket's options, set while the monitor is still root and
 * before the network child's sandbox: no Nagle delay on replies (each is
 * written whole), a send timeout so a client that stops reading cannot
 * hold a session forever, keepalives for clients that vanish.
 */
void
session_setup_socket(struct session *s)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	struct timeval		 tv = { s->cf->timeout, 0 };
	int			 one = 1;

	(void)setsockopt(s->client_fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one));
	(void)setsockopt(s->client_fd, SOL_SOCKET, SO_KEEPALIVE, &one,
	    sizeof(one));
	(void)setsockopt(s->client_fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
	    sizeof(tv));
	strlcpy(s->addr, "unknown", sizeof(s->addr));
	if (getpeername(s->client_fd, (struct sockaddr *)&ss, &sl) == -1 ||
	    getnameinfo((struct sockaddr *)&ss, sl, s->addr, sizeof(s->addr),
	    NULL, 0, NI_NUMERICHOST) != 0)
		strlcpy(s->addr, "unknown", sizeof(s->addr));
	client_known(s, &ss, sl);
	if (gethostname(s->myname, sizeof(s->myname)) == -1)
		strlcpy(s->myname, "localhost", sizeof(s->myname));
}

/*
 * A log line from a less trusted process (network child, spool worker,
 * key process), received in a LOG frame: bounded by the frame check,
 * printable, at a level between crit and debug, and starting with the
 * sender's own name (prefix).  A line that claims another name is logged
 * under the sender's, marked; it is never dropped, so nothing hides.
 */
void
relay_log(struct msg *m, const char *prefix)
{
	char		 line[LOG_LINE_MAX], out[LOG_LINE_MAX + 64];
	const uint8_t	*p;
	size_t		 n, i;
	int		 prio;

	prio = msg_get_u8(m);
	p = msg_get_data(m, &n, LOG_LINE_MAX - 1);
	msg_end(m);
	if (prio < LOG_CRIT || prio > LOG_DEBUG)
		prio = LOG_WARNING;
	for (i = 0; i < n; i++)
		line[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	line[n] = '\0';
	if (strncmp(line, prefix, strlen(prefix)) == 0) {
		log_emit(prio, line);
		return;
	}
	snprintf(out, sizeof(out), "%s[unverified]%s", prefix, line);
	log_emit(prio, out);
}

/* Milliseconds from t0 to now (monotonic). */
uint64_t
ms_since(const struct timespec *t0)
{
	struct timespec	now;
	int64_t		ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(now.tv_sec - t0->tv_sec) * 1000 +
	    (now.tv_nsec - t0->tv_nsec) / 1000000;
	return ms > 0 ? (uint64_t)ms : 0;
}
