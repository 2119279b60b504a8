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
 * The master: root, for the life of the daemon.  It starts the key process
 * before anything reads a key, builds the TLS context from the public
 * chains that process returns, binds the listeners, and forks one session
 * monitor per connection.  It never reads a client byte.  SIGHUP starts a
 * new key process and a new TLS context for new connections; sessions in
 * progress keep their channel to the old key process, which exits when the
 * last of them ends.  inetd_main() is the same start-up for one connection
 * on stdin.  Before it forks, it asks privsep/sources.c whether the
 * client's address may have another session (blocks, max-per-source,
 * max-startups); each monitor tells it over a channel of its own when its
 * session has logged in and when a login failed.
 */

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyproc.h"
#include "log.h"
#include "manifest.h"
#include "metrics.h"
#include "monitor_master.h"
#include "msg.h"
#include "priv.h"
#include "session.h"
#include "tls.h"

#define LISTEN_MAX	(CFG_LISTEN_MAX * 2)

struct master {
	struct config	*cf;
	int		 lfd[LISTEN_MAX];
	int		 ltls[LISTEN_MAX];
	int		 lproxy[LISTEN_MAX];
	size_t		 nl;
	int		 key_fd;
	pid_t		 key_pid;
	pid_t		*old_keys;	/* replaced, still serving old sessions */
	size_t		 nold_keys;
	SSL_CTX		*ctx;
	int		 sig_pipe[2];
	volatile int	 sig_lost;
	struct msg	 m;
};

static struct master	ms;

/*
 * What the master holds once it serves (it keeps no keep[] list: it
 * opens each of these itself, in master_main() and metrics_start()).
 */
static const struct proc_fd master_fd_tab[] = {
	{ "stdio", "stdio", "start", NULL, NULL },
	{ "listen-socket", "socket", "start", NULL, "listen" },
	{ "signal-pipe-read", "pipe", "start", NULL, NULL },
	{ "signal-pipe-write", "pipe", "start", NULL, NULL },
	{ "key-channel", "socket", "start", "tls", NULL },
	{ "metrics-listen-socket", "socket", "start", "metrics-listen", NULL },
	{ "metrics-channel", "socket", "start", "metrics-listen", NULL },
	{ "tracefile", "file", "start", "tracefile", NULL },
	{ "syslog-socket", "socket", "start", "syslog", NULL },
	{ "monitor-channel", "socket", "start", NULL, "session" },
};

/* What the master holds, for popsepd -P. */
const struct proc_fd *
master_fds(size_t *n_r)
{
	*n_r = sizeof(master_fd_tab) / sizeof(master_fd_tab[0]);
	return master_fd_tab;
}
/* Reads the configuration again for SIGHUP (main.c's config_reread). */
static int		(*reread)(const struct config *, struct config *);

void
master_set_reread(int (*fn)(const struct config *, struct config *))
{
	reread = fn;
}

static void
on_signal(int sig)
{
	unsigned char	c = (unsigned char)sig;
	int		saved = errno;

	/* A full pipe already holds a pending wake-up: ignore failure. */
	ms.sig_lost += write(ms.sig_pipe[1], &c, 1) == -1;
	errno = saved;
}

/* Start a key process and build a TLS context from its certificates. */
static int
start_tls(const struct config *cf, int *key_fd_r, pid_t *pid_r,
    SSL_CTX **ctx_r)
{
	struct key_certs	kc;
	int			fd;
	pid_t			pid;

	pid = keyproc_spawn(cf, &fd);
	if (keyproc_recv_certs(fd, &kc) == -1) {
		close(fd);
		(void)waitpid(pid, NULL, 0);
		return -1;
	}
	*ctx_r = tls_ctx_new(cf, (const char * const *)kc.pem, kc.len, kc.n);
	keyproc_free_certs(&kc);
	if (*ctx_r == NULL) {
		close(fd);
		return -1;
	}
	*key_fd_r = fd;
	*pid_r = pid;
	return 0;
}

/*
 * popsepd -n as root: the key process loads every certificate and key
 * and drops to key-user, and a TLS context is built from its chains, as
 * at start-up; then both are thrown away.
 */
void
master_check_tls(const struct config *cf)
{
	SSL_CTX	*ctx;
	pid_t	 pid;
	int	 fd;

	if (start_tls(cf, &fd, &pid, &ctx) == -1)
		fatalx("TLS could not be set up; popsepd would not start");
	SSL_CTX_free(ctx);
	close(fd);
	(void)waitpid(pid, NULL, 0);
}

static void
bind_one(struct master *m, const struct cfg_listen *l)
{
	struct addrinfo	 hints, *res, *ai;
	const char	*host = strcmp(l->addr, "*") == 0 ? NULL : l->addr;
	int		 fd, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, l->port, &hints, &res)) != 0)
		fatalx("listen %s:%s: %s", l->addr, l->port, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (m->nl >= LISTEN_MAX)
			fatalx("too many listening sockets");
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd == -1)
			fatal("socket");
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (ai->ai_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
			fatal("bind %s:%s", l->addr, l->port);
		if (listen(fd, 128) == -1)
			fatal("listen %s:%s", l->addr, l->port);
		m->lfd[m->nl] = fd;
		m->lproxy[m->nl] = l->proxy;
		m->ltls[m->nl++] = l->implicit_tls;
		log_info("listening on %s:%s%s%s", l->addr, l->port,
		    l->implicit_tls ? " (TLS)" : "", l->proxy ?
		    " (PROXY protocol)" : "");
	}
	freeaddrinfo(res);
}

static void
random_id(char *id, size_t len)
{
	static const char	hex[] = "0123456789abcdef";
	uint8_t			b[8];
	size_t			i;

	arc4random_buf(b, sizeof(b));
	for (i = 0; i < sizeof(b) && 2 * i + 2 < len; i++) {
		id[2 * i] = hex[b[i] >> 4];
		id[2 * i + 1] = hex[b[i] & 0xf];
	}
	id[2 * i] = '\0';
}

static void
spawn_session(struct master *m, size_t l, int fd, struct src *src,
    const char *addr)
{
	struct session	s;
	pid_t		pid;
	size_t		i;
	int		mm[2];

	memset(&s, 0, sizeof(s));
	s.cf = m->cf;
	s.client_fd = fd;
	s.implicit_tls = m->ltls[l];
	s.proxied = m->lproxy[l];
	s.ctx = m->ctx;
	s.key_fd = -1;
	s.source_stale = src_is_stale(src);
	random_id(s.id, sizeof(s.id));
	if (msg_socketpair(mm) == -1) {
		log_warn("socketpair");
		close(fd);
		return;
	}
	s.master_fd = mm[1];
	if (m->ctx != NULL &&
	    (s.key_fd = keyproc_new_conn(m->key_fd, s.id, addr)) == -1) {
		log_warn("key process channel");
		close(fd);
		close(mm[0]);
		close(mm[1]);
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		close(fd);
		close(mm[0]);
		close(mm[1]);
		if (s.key_fd != -1)
			close(s.key_fd);
		return;
	}
	if (pid == 0) {
		close(mm[0]);
		for (i = 0; i < m->nl; i++)
			close(m->lfd[i]);
		close(m->sig_pipe[0]);
		close(m->sig_pipe[1]);
		if (m->key_fd != -1)
			close(m->key_fd);
		signal(SIGHUP, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		log_procname("monitor");
		log_session(s.id);
		session_setup_socket(&s);
		log_info("connection from %s", s.addr);
		monitor_main(&s);
		/* NOTREACHED */
	}
	close(fd);
	close(mm[1]);
	if (s.key_fd != -1)
		close(s.key_fd);
	src_session_add(src, pid, mm[0]);
	if (s.proxied)
		src_session_peer(pid, addr);
}

/* A key process replaced by SIGHUP is not a session when it exits. */
static void
remember_old_key(struct master *m, pid_t pid)
{
	pid_t	*p;

	p = reallocarray(m->old_keys, m->nold_keys + 1, sizeof(*p));
	if (p == NULL)
		fatal("%s", __func__);
	m->old_keys = p;
	m->old_keys[m->nold_keys++] = pid;
}

static int
forget_old_key(struct master *m, pid_t pid)
{
	size_t	i;

	for (i = 0; i < m->nold_keys; i++)
		if (m->old_keys[i] == pid) {
			m->old_keys[i] = m->old_keys[--m->nold_keys];
			return 1;
		}
	return 0;
}

static void
reap_children(struct master *m)
{
	pid_t	pid;
	int	status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == m->key_pid || forget_old_key(m, pid)) {
			if (pid == m->key_pid)
				m->key_pid = -1;
			if (WIFSIGNALED(status))
				log_warnx("key process killed by signal %d",
				    WTERMSIG(status));
			continue;
		}
		/*
		 * The master is the reaper of the processes a killed monitor
		 * leaves (PR_SET_CHILD_SUBREAPER): a spool worker whose
		 * monitor died is reaped at once, so the dot-lock naming it
		 * is seen as stale by delivery agents at once.  Only monitors
		 * are sessions.
		 */
		(void)src_session_gone(pid);
	}
}

static void
reload_keys(struct master *m)
{
	SSL_CTX	*ctx;
	pid_t	 pid;
	int	 fd;

	if (m->ctx == NULL)
		return;
	if (start_tls(m->cf, &fd, &pid, &ctx) == -1) {
		log_warnx("SIGHUP: keys not reloaded; still using the old ones");
		return;
	}
	/* The old key process serves its sessions, then exits. */
	if (m->key_pid > 0)
		remember_old_key(m, m->key_pid);
	close(m->key_fd);
	tls_ctx_free(m->ctx);
	m->key_fd = fd;
	m->key_pid = pid;
	m->ctx = ctx;
	log_info("SIGHUP: TLS keys and certificates reloaded");
}

static void
key_frame(struct master *m)
{
	const struct msg_handler	*tab;
	size_t				 n;
	int				 rc;

	rc = msg_recv(m->key_fd, &m->m);
	if (rc == 1) {
		/* Once loaded, the key process has only log lines to say. */
		tab = msgtab_master_key(&n);
		(void)msg_lookup(tab, n, &m->m, KEY_ST_RUNNING, "master<-key");
		relay_log(&m->m, "key: ");
		return;
	}
	log_warnx("key process gone; starting a new one");
	if (m->key_pid > 0)
		remember_old_key(m, m->key_pid);	/* reaped later */
	close(m->key_fd);
	m->key_fd = -1;
	tls_ctx_free(m->ctx);
	m->ctx = NULL;
	if (start_tls(m->cf, &m->key_fd, &m->key_pid, &m->ctx) == -1)
		fatalx("cannot restart the key process");
}

/*
 * What a running master cannot take from a new configuration: its
 * sockets, its directories, its users, its tables and its log channel
 * were made at start-up.  Each changed one keeps its running value, and
 * the log says a restart applies it.
 */
static void
keep_fixed(const struct config *old, struct config *nc)
{
	static const struct {
		const char	*name;
		size_t		 off, len;
	} fixed[] = {
#define FIXED(n, f) { n, offsetof(struct config, f), \
	sizeof(((struct config *)0)->f) }
		FIXED("chroot-dir", chroot_dir),
		FIXED("privsep-user", privsep_user),
		FIXED("key-user", key_user),
		FIXED("cache-dir", cache_dir),
		FIXED("pid-file", pid_file),
		FIXED("max-sessions", max_sessions),
		FIXED("log-facility", log_facility),
		FIXED("metrics-listen", metrics_listen),
		FIXED("metrics-file", metrics_file),
		FIXED("metrics-interval", metrics_interval),
#undef FIXED
	};
	size_t	i;

	if (old->nlisten != nc->nlisten || memcmp(old->listen, nc->listen,
	    sizeof(old->listen)) != 0) {
		log_warnx("SIGHUP: the listen addresses changed; restart "
		    "popsepd to apply that");
		nc->nlisten = old->nlisten;
		memcpy(nc->listen, old->listen, sizeof(nc->listen));
	}
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (memcmp((const char *)old + fixed[i].off,
		    (const char *)nc + fixed[i].off, fixed[i].len) == 0)
			continue;
		log_warnx("SIGHUP: %s changed; restart popsepd to apply that",
		    fixed[i].name);
		memcpy((char *)nc + fixed[i].off,
		    (const char *)old + fixed[i].off, fixed[i].len);
	}
	/* Split from metrics-listen, which the metrics process serves. */
	nc->metrics_addr = old->metrics_addr;
}

/*
 * SIGHUP: the configuration read again for the sessions to come (those
 * in progress keep the one they started with); a file with errors is
 * refused, and the running configuration stays.
 */
static void
reload_config(struct master *m)
{
	struct config	*nc;

	if (reread == NULL)
		return;
	if ((nc = calloc(1, sizeof(*nc))) == NULL) {
		log_warn("SIGHUP");
		return;
	}
	if (reread(m->cf, nc) == -1) {
		log_warnx("SIGHUP: the configuration has errors (above); still "
		    "using the running one");
		free(nc);
		return;
	}
	keep_fixed(m->cf, nc);
	if (strcmp(nc->tracefile, m->cf->tracefile) != 0 ||
	    nc->tracefile[0] != '\0') {
		if (log_trace_reopen(nc->tracefile) == -1) {
			log_warn("SIGHUP: tracefile %s; still writing the old "
			    "one", nc->tracefile);
			strlcpy(nc->tracefile, m->cf->tracefile,
			    sizeof(nc->tracefile));
		}
	}
	*m->cf = *nc;
	free(nc);
	log_verbose(m->cf->verbose);
	log_info("SIGHUP: configuration read again");
}

static void
handle_signals(struct master *m, int *quit)
{
	unsigned char	c;

	while (read(m->sig_pipe[0], &c, 1) == 1) {
		switch (c) {
		case SIGHUP:
			reload_config(m);
			reload_keys(m);
			break;
		case SIGCHLD:
			reap_children(m);
			break;
		default:
			*quit = 1;
			break;
		}
	}
}

/* A courtesy line; nothing is read from this client. */
static void
refuse(int fd, const char *why)
{
	char	line[POP_LINE_MAX];
	int	n;

	n = snprintf(line, sizeof(line), "%s\r\n", why);
	if (n > 0 && (size_t)n < sizeof(line) &&
	    write(fd, line, (size_t)n) == -1)
		log_debug("busy reply: %s", strerror(errno));
	close(fd);
}

static void
accept_one(struct master *m, size_t i)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	struct src		*src = NULL;
	const char		*why;
	char			 addr[64];
	int			 fd;

	fd = accept4(m->lfd[i], (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	metrics_connection();
	if (src_nsessions() >= m->cf->max_sessions) {
		log_warnx("max-sessions (%d) reached; connection refused",
		    m->cf->max_sessions);
		metrics_refused(MX_REF_MAX_SESSIONS);
		refuse(fd, "-ERR [SYS/TEMP] Too many sessions, try again "
		    "later");
		return;
	}
	if (getnameinfo((struct sockaddr *)&ss, sl, addr, sizeof(addr), NULL,
	    0, NI_NUMERICHOST) != 0)
		strlcpy(addr, "unknown", sizeof(addr));
	if ((why = (m->lproxy[i] ? src_admit_proxy : src_admit)(m->cf, addr,
	    &src)) != NULL) {
		refuse(fd, why);
		return;
	}
	spawn_session(m, i, fd, src, addr);
}

static void
write_pid_file(const char *path)
{
	FILE	*fp;

	if (path[0] == '\0')
		return;
	if ((fp = fopen(path, "w")) == NULL) {
		log_warn("pid-file %s", path);
		return;
	}
	fprintf(fp, "%ld\n", (long)getpid());
	fclose(fp);
}

/*
 * Detach before anything else starts, so the key process and every
 * session are the master's own children; the parent waits for the word
 * that start-up succeeded and exits with the matching status, so a bad
 * key or a port in use still fails the command that started popsepd.
 */
static int
detach_begin(void)
{
	pid_t	pid;
	char	c = 1;
	int	p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid != 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			c = 1;
		_exit(c == 0 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() == -1)
		fatal("setsid");
	log_startup(1);
	return p[1];
}

static void
detach_end(int fd)
{
	int	null;

	if ((null = open("/dev/null", O_RDWR)) == -1)
		fatal("/dev/null");
	(void)dup2(null, STDIN_FILENO);
	(void)dup2(null, STDOUT_FILENO);
	(void)dup2(null, STDERR_FILENO);
	if (null > STDERR_FILENO)
		close(null);
	if (chdir("/") == -1)
		fatal("chdir /");
	log_startup(0);
	if (write(fd, "", 1) != 1)
		fatal("start-up pipe");
	close(fd);
}

void
master_main(struct config *cf)
{
	struct sigaction	 sa;
	struct pollfd		*pfd;
	size_t			 i, n, nsrc, nmx;
	int			 quit = 0, ready_fd = -1;

	memset(&ms, 0, sizeof(ms));
	ms.cf = cf;
	ms.key_fd = -1;
	ms.key_pid = -1;
	priv_harden();
	if (!cf->debug)
		ready_fd = detach_begin();
	if (cfg_tls_enabled(cf) &&
	    start_tls(cf, &ms.key_fd, &ms.key_pid, &ms.ctx) == -1)
		fatalx("TLS could not be set up; not starting");
	/* After the key and metrics processes: neither holds the hash key. */
	metrics_start(cf);
	guard_init();
	sandbox_prepare_sessions();
	monitor_prepare();
	for (i = 0; i < cf->nlisten; i++)
		bind_one(&ms, &cf->listen[i]);
	write_pid_file(cf->pid_file);
	if (ready_fd != -1)
		detach_end(ready_fd);
	if (pipe2(ms.sig_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe");
	src_init(cf);
	if ((pfd = reallocarray(NULL, LISTEN_MAX + 3 +
	    (size_t)cf->max_sessions, sizeof(*pfd))) == NULL)
		fatal("%s", __func__);
	/* Orphans of a killed session come to us, to be reaped at once. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == -1)
		fatal("prctl subreaper");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGHUP, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGCHLD, &sa, NULL) == -1)
		fatal("sigaction");
	log_info("popsepd %s started", POPSEP_VERSION);

	while (!quit) {
		metrics_tick();
		n = 0;
		for (i = 0; i < ms.nl; i++) {
			pfd[n].fd = ms.lfd[i];
			pfd[n++].events = POLLIN;
		}
		pfd[n].fd = ms.sig_pipe[0];
		pfd[n++].events = POLLIN;
		pfd[n].fd = ms.key_fd;
		pfd[n++].events = POLLIN;
		nmx = n;
		n += metrics_pollfd(pfd + n);
		nsrc = src_pollfds(pfd + n, (size_t)cf->max_sessions);
		if (poll(pfd, n + nsrc, metrics_timeout(log_pending() ?
		    LOG_PERIOD_SECS * 1000 : -1)) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		log_flush_expired();
		/* Before any reaping changes the sessions polled. */
		src_dispatch(cf, pfd + n, nsrc);
		if (pfd[ms.nl].revents != 0)
			handle_signals(&ms, &quit);
		if (ms.key_fd != -1 && pfd[ms.nl + 1].fd == ms.key_fd &&
		    pfd[ms.nl + 1].revents != 0)
			key_frame(&ms);
		for (i = 0; i < ms.nl && !quit; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(&ms, i);
		if (nmx < n)
			metrics_dispatch(pfd + nmx);
	}
	log_info("popsepd exiting");
	if (cf->pid_file[0] != '\0')
		(void)unlink(cf->pid_file);
	exit(0);
}

/*
 * inetd/xinetd: the connection is on stdin and stdout (and, with xinetd,
 * stderr).  This process starts the key process, then becomes the
 * session monitor for that one connection.
 */
void
inetd_main(struct config *cf)
{
	struct session	s;
	int		fd, devnull;
	pid_t		key_pid;
	int		key_fd;

	memset(&s, 0, sizeof(s));
	s.cf = cf;
	s.key_fd = -1;
	s.master_fd = -1;
	priv_harden();
	if ((fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)) == -1)
		fatal("dup stdin");
	/* Nothing may write to the client but the network child. */
	if ((devnull = open("/dev/null", O_RDWR)) == -1)
		fatal("/dev/null");
	(void)dup2(devnull, STDIN_FILENO);
	(void)dup2(devnull, STDOUT_FILENO);
	if (!cf->debug || !log_console_ok())
		(void)dup2(devnull, STDERR_FILENO);
	if (devnull > STDERR_FILENO)
		close(devnull);
	s.client_fd = fd;
	s.implicit_tls = cf->tls_support == TLS_SUPPORT_ALTERNATE_PORT;
	random_id(s.id, sizeof(s.id));
	log_procname("monitor");
	log_session(s.id);
	session_setup_socket(&s);
	if (cfg_tls_enabled(cf)) {
		if (start_tls(cf, &key_fd, &key_pid, &s.ctx) == -1)
			fatalx("TLS could not be set up; not starting");
		if ((s.key_fd = keyproc_new_conn(key_fd, s.id, s.addr)) == -1)
			fatal("key process channel");
		/* The key process exits when this session's channel closes. */
		close(key_fd);
	}
	/* After the key process: it never holds the hash key. */
	guard_init();
	sandbox_prepare_sessions();
	monitor_prepare();
	log_info("connection from %s", s.addr);
	monitor_main(&s);
}
