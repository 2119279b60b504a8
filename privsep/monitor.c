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
 * The session monitor: one per connection, root, the "auth process".  It
 * never reads a client byte.  It forks the network child at once, then
 * answers that child's requests: log lines, a password check (passwd-file
 * or PAM, with one answer and one delay for every failure), TLS signatures
 * relayed to the key process (one per connection, only before the
 * handshake is over).  After a login it opens and locks the mailbox, whose
 * path comes from the authenticated identity, and forks the spool worker
 * with the descriptor; later it takes and releases the lock on the
 * worker's behalf.  Every frame from either child is checked by
 * msg_lookup() against the tables below before a handler sees it.
 */

#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "keyproc.h"
#include "log.h"
#include "monitor_net.h"
#include "monitor_spool.h"
#include "msg.h"
#include "session.h"
#include "spool.h"

enum {
	MON_PREAUTH = 0x01,
	MON_AUTHED = 0x02,
	MON_ANY = MON_PREAUTH | MON_AUTHED,
};

struct monitor {
	struct session		*s;
	int			 state;
	int			 net_fd;
	pid_t			 net_pid;
	int			 spool_fd;
	pid_t			 spool_pid;
	int			 mbox_fd;
	struct spool_lock	 lock;
	int			 tls_done;
	int			 signed_once;
	int			 auth_fails;
	char			 user[POP_USER_MAX + 1];
	char			 mailbox[CFG_PATH_MAX];
	char			 journal[CFG_PATH_MAX + 32];
	uid_t			 uid;
	gid_t			 gid;
	struct msg		 m;		/* children's frames */
	struct msg		 km;		/* key process frames */
};

static struct monitor	mon;

static void	mon_log_net(void *, struct msg *);
static void	mon_log_spool(void *, struct msg *);
static void	mon_answer_auth_pass(void *, struct msg *);
static void	mon_answer_tls_sign(void *, struct msg *);
static void	mon_tls_done(void *, struct msg *);
static void	mon_lock(void *, struct msg *);
static void	mon_unlock(void *, struct msg *);
static void	mon_stats(void *, struct msg *);
static void	mon_journal_done(void *, struct msg *);

static const struct msg_handler net_handlers[] = {
	{ MSG_MN_REQ_LOG, 5, 5 + LOG_LINE_MAX, 0, MON_ANY, mon_log_net,
	    "LOG" },
	{ MSG_MN_REQ_AUTH_PASS, 10, 8 + POP_USER_MAX + POP_PASS_MAX + 2, 0,
	    MON_PREAUTH, mon_answer_auth_pass, "AUTH_PASS" },
	{ MSG_MN_REQ_TLS_SIGN, 7, 7 + KEY_TBS_MAX, 0, MON_PREAUTH,
	    mon_answer_tls_sign, "TLS_SIGN" },
	{ MSG_MN_REQ_TLS_DONE, 0, 0, 0, MON_PREAUTH, mon_tls_done,
	    "TLS_DONE" },
};

static const struct msg_handler spool_handlers[] = {
	{ MSG_MS_REQ_LOG, 5, 5 + LOG_LINE_MAX, 0, MON_AUTHED, mon_log_spool,
	    "LOG" },
	{ MSG_MS_REQ_LOCK, 0, 0, 0, MON_AUTHED, mon_lock, "LOCK" },
	{ MSG_MS_REQ_UNLOCK, 0, 0, 0, MON_AUTHED, mon_unlock, "UNLOCK" },
	{ MSG_MS_REQ_STATS, 24, 24, 0, MON_AUTHED, mon_stats, "STATS" },
	{ MSG_MS_REQ_JOURNAL_DONE, 0, 0, 0, MON_AUTHED, mon_journal_done,
	    "JOURNAL_DONE" },
};

static void
mon_log_net(void *arg, struct msg *m)
{
	char	prefix[32];

	(void)arg;
	snprintf(prefix, sizeof(prefix), "net %s: ", mon.s->id);
	relay_log(m, prefix);
}

static void
mon_log_spool(void *arg, struct msg *m)
{
	char	prefix[32];

	(void)arg;
	snprintf(prefix, sizeof(prefix), "spool %s: ", mon.s->id);
	relay_log(m, prefix);
}

static void
sleep_until(const struct timespec *start, int ms)
{
	struct timespec	deadline, now, rem;

	deadline = *start;
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > deadline.tv_sec || (now.tv_sec == deadline.tv_sec &&
	    now.tv_nsec >= deadline.tv_nsec))
		return;
	rem.tv_sec = deadline.tv_sec - now.tv_sec;
	rem.tv_nsec = deadline.tv_nsec - now.tv_nsec;
	if (rem.tv_nsec < 0) {
		rem.tv_sec--;
		rem.tv_nsec += 1000000000L;
	}
	while (nanosleep(&rem, &rem) == -1 && errno == EINTR)
		;
}

static void
answer_auth(int result, const char *text, int fd)
{
	struct msg	*m = &mon.m;

	msg_init(m, MSG_MN_ANS_AUTH);
	msg_put_u8(m, (uint8_t)result);
	msg_put_str(m, text);
	if (msg_send(mon.net_fd, m, fd) == -1)
		log_warn("send to the network child");
}

/*
 * The mailbox of an authenticated user: open, lock, fork the spool worker.
 * Returns the network child's end of the net-spool channel, or -1 with
 * *result set.
 */
static int
start_spool(const struct auth_result *res, int *result, const char **text)
{
	int	ns[2], ms[2], jfd;
	pid_t	pid;

	strlcpy(mon.mailbox, res->mailbox, sizeof(mon.mailbox));
	mon.uid = res->uid;
	mon.gid = res->gid;
	if (spool_journal_path(res->mailbox, mon.journal,
	    sizeof(mon.journal)) == -1) {
		*result = MN_AUTH_SYS;
		*text = "mailbox path too long";
		return -1;
	}
	if (spool_open(res->mailbox, res->uid, res->gid, &mon.mbox_fd, text)
	    == -1) {
		*result = MN_AUTH_SYS;
		return -1;
	}
	if (spool_claim(mon.mbox_fd) == -1) {
		*result = errno == EWOULDBLOCK ? MN_AUTH_IN_USE : MN_AUTH_SYS;
		*text = errno == EWOULDBLOCK ? "mailbox is open in another "
		    "POP3 session" : "cannot lock the mailbox";
		goto fail;
	}
	if (spool_lock(mon.mbox_fd, res->mailbox, &mon.lock) == -1) {
		*result = errno == EAGAIN ? MN_AUTH_IN_USE : MN_AUTH_SYS;
		*text = errno == EAGAIN ? "mailbox is locked by mail delivery "
		    "or another program; try again later" :
		    "cannot lock the mailbox";
		goto fail;
	}
	/* An update a crash interrupted: the worker completes it first. */
	if (spool_journal_open(mon.journal, res->uid, &jfd) == -1) {
		spool_unlock(mon.mbox_fd, &mon.lock);
		*result = MN_AUTH_SYS;
		*text = "the update journal of the mailbox is not safe to open";
		goto fail;
	}
	if (jfd != -1)
		log_info("found the journal of an interrupted update: %s",
		    mon.journal);
	if (msg_socketpair(ns) == -1 || msg_socketpair(ms) == -1)
		fatal("socketpair");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		/* The lock stays with the monitor: fcntl locks are not
		 * inherited, and the dot-lock is the monitor's to remove. */
		log_set_fatal_hook(NULL);
		spool_main(mon.s->cf, res->uid, res->gid, mon.mbox_fd, jfd,
		    ns[1], ms[1]);
		/* NOTREACHED */
	}
	mon.spool_pid = pid;
	close(ns[1]);
	close(ms[1]);
	if (jfd != -1)
		close(jfd);
	mon.spool_fd = ms[0];
	return ns[0];
 fail:
	/* Closing the descriptor also drops the flock claim. */
	close(mon.mbox_fd);
	mon.mbox_fd = -1;
	return -1;
}

static void
mon_answer_auth_pass(void *arg, struct msg *m)
{
	struct auth_result	 res;
	struct timespec		 start;
	char			 pass[POP_PASS_MAX + 1], text[POP_LINE_MAX];
	const char		*why = NULL;
	int			 result = MN_AUTH_SYS, fd;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* The network child closes after this many; it may be lying. */
	if (mon.auth_fails >= POP_AUTH_TRIES_MAX)
		fatalx("network child asked for a login after %d failures",
		    mon.auth_fails);
	msg_get_str(m, mon.user, sizeof(mon.user));
	msg_get_str(m, pass, sizeof(pass));
	msg_end(m);
	msg_wipe(m);
	if (auth_password(mon.s->cf, mon.user, pass, mon.s->addr, &res)
	    == -1) {
		explicit_bzero(pass, sizeof(pass));
		/* Same answer, same time, whatever failed. */
		sleep_until(&start, mon.s->cf->auth_fail_delay);
		mon.auth_fails++;
		log_info("[AUTH] Password supplied for \"%s\" is incorrect "
		    "(%s)", mon.user, mon.s->addr);
		snprintf(text, sizeof(text), "[AUTH] Password supplied for "
		    "\"%s\" is incorrect.", mon.user);
		answer_auth(MN_AUTH_FAIL, text, -1);
		return;
	}
	explicit_bzero(pass, sizeof(pass));
	log_info("authenticated \"%s\" (%s) from %s", mon.user, res.how,
	    mon.s->addr);
	if ((fd = start_spool(&res, &result, &why)) == -1) {
		snprintf(text, sizeof(text), "%s %s", result == MN_AUTH_IN_USE ?
		    "[IN-USE]" : "[SYS/TEMP]", why);
		log_warnx("\"%s\": %s", mon.user, why);
		answer_auth(result, text, -1);
		return;
	}
	mon.state = MON_AUTHED;
	answer_auth(MN_AUTH_OK, "", fd);
	close(fd);
}

static void
answer_sign(uint32_t status, const uint8_t *sig, size_t len)
{
	struct msg	*m = &mon.m;

	msg_init(m, MSG_MN_ANS_TLS_SIGN);
	msg_put_u32(m, status);
	msg_put_data(m, sig, len);
	if (msg_send(mon.net_fd, m, -1) == -1)
		log_warn("send to the network child");
}

/*
 * Relay one signature request to the key process.  The monitor's own
 * rule: one per connection, and none after the handshake (or after
 * login).  The key process applies its own checks again.
 */
static void
mon_answer_tls_sign(void *arg, struct msg *m)
{
	struct msg	*k = &mon.km;
	const uint8_t	*tbs, *sig;
	size_t		 tbs_len, sig_len;
	uint32_t	 status;
	uint16_t	 scheme;
	uint8_t		 key_id;

	(void)arg;
	key_id = msg_get_u8(m);
	scheme = msg_get_u16(m);
	tbs = msg_get_data(m, &tbs_len, KEY_TBS_MAX);
	msg_end(m);
	if (mon.s->key_fd == -1 || mon.tls_done || mon.signed_once) {
		log_warnx("refusing TLS signature request: %s",
		    mon.s->key_fd == -1 ? "no TLS" : mon.tls_done ?
		    "handshake already complete" : "second request");
		answer_sign(KEY_SIGN_REFUSED, NULL, 0);
		return;
	}
	mon.signed_once = 1;
	msg_init(k, MSG_KEY_REQ_SIGN);
	msg_put_u8(k, key_id);
	msg_put_u16(k, scheme);
	msg_put_data(k, tbs, tbs_len);
	if (msg_send(mon.s->key_fd, k, -1) == -1 ||
	    msg_recv(mon.s->key_fd, k) != 1) {
		log_warnx("key process unavailable");
		answer_sign(KEY_SIGN_FAILED, NULL, 0);
		return;
	}
	if (k->type != MSG_KEY_ANS_SIGN)
		fatalx("key process: unexpected frame %u", k->type);
	status = msg_get_u32(k);
	sig = msg_get_data(k, &sig_len, KEY_SIG_MAX);
	msg_end(k);
	if (status != KEY_SIGN_OK)
		log_warnx("key process refused the TLS signature (status %u)",
		    status);
	answer_sign(status, sig, status == KEY_SIGN_OK ? sig_len : 0);
	msg_wipe(k);
}

static void
mon_tls_done(void *arg, struct msg *m)
{
	(void)arg;
	msg_end(m);
	mon.tls_done = 1;
}

static void
mon_lock(void *arg, struct msg *m)
{
	struct msg	*a = &mon.m;
	uint32_t	 status;
	int		 jfd = -1;

	(void)arg;
	msg_end(m);
	status = spool_lock(mon.mbox_fd, mon.mailbox, &mon.lock) == 0 ? 0 : 1;
	/* No update without its journal (a leftover one means the same). */
	if (status == 0 && (jfd = spool_journal_create(mon.journal, mon.uid,
	    mon.gid)) == -1) {
		spool_unlock(mon.mbox_fd, &mon.lock);
		status = 1;
	}
	msg_init(a, MSG_MS_ANS_LOCK);
	msg_put_u32(a, status);
	if (msg_send(mon.spool_fd, a, jfd) == -1)
		log_warn("send to the spool worker");
	if (jfd != -1)
		close(jfd);
}

static void
mon_journal_done(void *arg, struct msg *m)
{
	(void)arg;
	msg_end(m);
	spool_journal_remove(mon.journal);
}

static void
mon_unlock(void *arg, struct msg *m)
{
	struct msg	*a = &mon.m;

	(void)arg;
	msg_end(m);
	spool_unlock(mon.mbox_fd, &mon.lock);
	msg_init(a, MSG_MS_ANS_UNLOCK);
	if (msg_send(mon.spool_fd, a, -1) == -1)
		log_warn("send to the spool worker");
}

/* Qpopper's statistics line (-s): user, deleted, kept, client. */
static void
mon_stats(void *arg, struct msg *m)
{
	uint64_t	del_octets, left_octets;
	uint32_t	del, left;

	(void)arg;
	del = msg_get_u32(m);
	del_octets = msg_get_u64(m);
	left = msg_get_u32(m);
	left_octets = msg_get_u64(m);
	msg_end(m);
	if (mon.s->cf->statistics)
		log_notice("Stats: %s %u %llu %u %llu %s %s", mon.user, del,
		    (unsigned long long)del_octets, left,
		    (unsigned long long)left_octets, mon.s->host,
		    mon.s->addr);
}

static void
reap(pid_t pid, const char *what)
{
	int	status;

	if (pid <= 0)
		return;
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return;
	if (WIFSIGNALED(status))
		log_warnx("%s process killed by signal %d%s", what,
		    WTERMSIG(status), WTERMSIG(status) == SIGSYS ?
		    " (sandbox violation)" : "");
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warnx("%s process exited with status %d", what,
		    WEXITSTATUS(status));
}

/* One frame from a child, checked against its table, or the end. */
static int
serve(int *fd, const struct msg_handler *tab, size_t n, const char *chan)
{
	const struct msg_handler	*h;
	int				 rc;

	rc = msg_recv(*fd, &mon.m);
	if (rc <= 0) {
		close(*fd);
		*fd = -1;
		return 0;
	}
	h = msg_lookup(tab, n, &mon.m, (unsigned int)mon.state, chan);
	h->fn(&mon, &mon.m);
	msg_wipe(&mon.m);
	return 1;
}

/*
 * The spool worker is gone: release the locks and close the mailbox now,
 * which also drops the session's flock claim, so that the user's next
 * session is not refused while this one winds down.
 */
static void
release_mailbox(void)
{
	if (mon.mbox_fd == -1)
		return;
	spool_unlock(mon.mbox_fd, &mon.lock);
	close(mon.mbox_fd);
	mon.mbox_fd = -1;
}

/* On any fatal error: the mailbox must not stay locked. */
static void
release_on_fatal(void)
{
	if (mon.mbox_fd != -1)
		spool_unlock(mon.mbox_fd, &mon.lock);
}

void
monitor_main(struct session *s)
{
	struct pollfd	pfd[2];
	int		sv[2], keep[5];
	pid_t		pid;

	log_procname("monitor");
	log_session(s->id);
	memset(&mon, 0, sizeof(mon));
	mon.s = s;
	mon.state = MON_PREAUTH;
	mon.spool_fd = -1;
	mon.mbox_fd = -1;
	if (msg_socketpair(sv) == -1)
		fatal("socketpair");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(sv[0]);
		if (s->key_fd != -1)
			close(s->key_fd);
		s->key_fd = -1;
		netchild_main(s, sv[1]);
		/* NOTREACHED */
	}
	close(sv[1]);
	log_set_fatal_hook(release_on_fatal);
	/* The monitor never reads a client byte. */
	close(s->client_fd);
	s->client_fd = -1;
	mon.net_pid = pid;
	mon.net_fd = sv[0];
	keep[0] = STDERR_FILENO;
	keep[1] = mon.net_fd;
	keep[2] = s->key_fd;
	keep[3] = log_trace_fd();	/* the tracefile, if any */
	close_all_but(keep, 4);

	while (mon.net_fd != -1 || mon.spool_fd != -1) {
		/* A closed channel polls as fd -1, which poll() ignores. */
		pfd[0].fd = mon.net_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = mon.spool_fd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[0].fd != -1 && pfd[0].revents != 0)
			serve(&mon.net_fd, net_handlers, sizeof(net_handlers) /
			    sizeof(net_handlers[0]), "monitor<-net");
		/* A spool channel opened by that frame waits for the next poll. */
		if (pfd[1].fd != -1 && pfd[1].fd == mon.spool_fd &&
		    pfd[1].revents != 0 &&
		    serve(&mon.spool_fd, spool_handlers,
		    sizeof(spool_handlers) / sizeof(spool_handlers[0]),
		    "monitor<-spool") == 0)
			release_mailbox();
	}
	/* Every exit path releases the mailbox. */
	if (mon.mbox_fd != -1)
		spool_unlock(mon.mbox_fd, &mon.lock);
	reap(mon.net_pid, "network child");
	reap(mon.spool_pid, "spool worker");
	log_debug("session ended");
	_exit(0);
}
