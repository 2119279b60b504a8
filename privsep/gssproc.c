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
 * The GSSAPI acceptor: a child of the session monitor, root, forked for
 * one SASL GSSAPI exchange and gone when it ends.  It alone makes GSSAPI
 * calls (auth/gssapi.c), so the keytab's keys, read by the library, and
 * the security context live and die in it: the monitor, which forks the
 * spool worker afterwards, never holds them.  It trusts the monitor, its
 * only peer, but not the tokens the monitor relays, which are the
 * client's.  The monitor's half of the channel is here too: it starts the
 * acceptor, relays one token at a time with a time limit, checks every
 * answer against the table below and stops the acceptor by its pid.
 */

#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "manifest.h"
#include "monitor_gss.h"
#include "msg.h"
#include "priv.h"
#include "session.h"

static struct msg	gp_msg;

static const struct msg_handler gss_answers[] = {
	MSG_ROW(MSG_MG_ANS_CONTINUE, 4, 4 + GSS_TOKEN_MAX, 0, 1, NULL),
	MSG_ROW(MSG_MG_ANS_DONE, 4 + 2, 4 + POP_USER_MAX + 1, 0, 1, NULL),
	MSG_ROW(MSG_MG_ANS_FAIL, 0, 0, 0, 1, NULL),
};

/* What the monitor takes from the GSSAPI acceptor, for popsepd -P. */
const struct msg_handler *
msgtab_monitor_gss(size_t *n_r)
{
	*n_r = sizeof(gss_answers) / sizeof(gss_answers[0]);
	return gss_answers;
}

/* The monitor's requests: one client token each. */
static const struct msg_handler gss_requests[] = {
	MSG_ROW(MSG_MG_REQ_TOKEN, 4, 4 + GSS_TOKEN_MAX, 0, 1, NULL),
};

/* What the GSSAPI acceptor takes from the monitor, for popsepd -P. */
const struct msg_handler *
msgtab_gss_monitor(size_t *n_r)
{
	*n_r = sizeof(gss_requests) / sizeof(gss_requests[0]);
	return gss_requests;
}

/*
 * The acceptor's keep[] slots; the Kerberos library opens the keytab and
 * the replay cache itself during the exchange.
 */
enum { GSS_FD_STDERR, GSS_FD_MONITOR, GSS_FD_TRACE, GSS_NKEEP };

static const struct proc_fd gss_fds[] = {
	[GSS_FD_STDERR] = { "stderr", "stdio", "start", NULL, NULL },
	[GSS_FD_MONITOR] = { "monitor-channel", "socket", "start", NULL,
	    NULL },
	[GSS_FD_TRACE] = { "tracefile", "file", "start", "tracefile", NULL },
	{ "keytab", "file", "exchange", NULL, NULL },
	{ "replay-cache", "file", "exchange", NULL, NULL },
};

/* What the GSSAPI acceptor holds, for popsepd -P. */
const struct proc_fd *
gssproc_fds(size_t *n_r)
{
	*n_r = sizeof(gss_fds) / sizeof(gss_fds[0]);
	return gss_fds;
}

static void
acceptor_answer(int fd, int st, const uint8_t *tok, size_t len,
    const char *user)
{
	struct msg	*m = &gp_msg;

	if (st == GSS_STEP_CONTINUE) {
		msg_init(m, MSG_MG_ANS_CONTINUE);
		msg_put_data(m, tok, len);
	} else if (st == GSS_STEP_DONE) {
		msg_init(m, MSG_MG_ANS_DONE);
		msg_put_str(m, user);
	} else
		msg_init(m, MSG_MG_ANS_FAIL);
	if (msg_send(fd, m, -1) == -1)
		fatal("%s: send", __func__);
}

/* The acceptor's life: tokens in, answers out, until the exchange ends. */
static __attribute__((noreturn)) void
acceptor_main(const struct config *cf, int fd)
{
	static uint8_t	 out[GSS_TOKEN_MAX];
	struct msg	*m = &gp_msg;
	struct auth_gss	*g;
	const uint8_t	*in;
	char		 user[POP_USER_MAX + 1];
	size_t		 inlen, outlen = 0;
	int		 st = GSS_STEP_CONTINUE;

	g = auth_gss_new(cf);
	while (st == GSS_STEP_CONTINUE && msg_recv(fd, m) == 1) {
		(void)msg_lookup(gss_requests, sizeof(gss_requests) /
		    sizeof(gss_requests[0]), m, 1, "gssapi<-monitor");
		in = msg_get_data(m, &inlen, GSS_TOKEN_MAX);
		msg_end(m);
		st = g == NULL ? GSS_STEP_FAIL : auth_gss_step(g, in, inlen,
		    out, sizeof(out), &outlen, user, sizeof(user));
		msg_wipe(m);
		acceptor_answer(fd, st, out, outlen, user);
	}
	auth_gss_free(g);
	explicit_bzero(out, sizeof(out));
	_exit(0);
}

/* Fork the acceptor: 0, or -1 (logged). */
int
gssproc_start(const struct config *cf, struct gss_proc *gp)
{
	int	sv[2], keep[GSS_NKEEP];
	pid_t	pid, me = getpid();

	gp->rounds = 0;
	if (msg_socketpair(sv) == -1) {
		log_warn("GSSAPI: socketpair");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("GSSAPI: fork");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* The monitor's cleanup is not the acceptor's to run. */
		log_set_fatal_hook(NULL);
		priv_die_with_parent(me);
		log_procname("gssapi");
		keep[GSS_FD_STDERR] = STDERR_FILENO;
		keep[GSS_FD_MONITOR] = sv[1];
		keep[GSS_FD_TRACE] = log_trace_fd();
		close_all_but(keep, GSS_NKEEP);
		acceptor_main(cf, sv[1]);
		/* NOTREACHED */
	}
	close(sv[1]);
	gp->pid = pid;
	gp->fd = sv[0];
	return 0;
}

/* Wait at most GSS_STEP_SECS for the acceptor's answer: 1, or 0. */
static int
answer_ready(int fd)
{
	struct pollfd	pfd;
	int		rc;

	pfd.fd = fd;
	pfd.events = POLLIN;
	do {
		rc = poll(&pfd, 1, GSS_STEP_SECS * 1000);
	} while (rc == -1 && errno == EINTR);
	return rc == 1;
}

/*
 * Relay one client token.  GSS_STEP_CONTINUE with the challenge in out,
 * GSS_STEP_DONE with the local user name in user, or GSS_STEP_FAIL; after
 * either of the last two the caller stops the acceptor.
 */
int
gssproc_step(struct gss_proc *gp, const uint8_t *in, size_t inlen,
    uint8_t *out, size_t outmax, size_t *outlen, char *user, size_t userlen)
{
	struct msg	*m = &gp_msg;
	const uint8_t	*p;
	size_t		 n;
	int		 st = GSS_STEP_FAIL;

	*outlen = 0;
	user[0] = '\0';
	if (++gp->rounds > GSS_ROUNDS_MAX) {
		log_warnx("GSSAPI: more than %d client tokens in one exchange",
		    GSS_ROUNDS_MAX);
		return GSS_STEP_FAIL;
	}
	msg_init(m, MSG_MG_REQ_TOKEN);
	msg_put_data(m, in, inlen);
	if (msg_send(gp->fd, m, -1) == -1 || !answer_ready(gp->fd) ||
	    msg_recv(gp->fd, m) != 1) {
		log_warnx("GSSAPI: the acceptor did not answer");
		msg_wipe(m);
		return GSS_STEP_FAIL;
	}
	(void)msg_lookup(gss_answers, sizeof(gss_answers) /
	    sizeof(gss_answers[0]), m, 1, "monitor<-gssapi");
	if (m->type == MSG_MG_ANS_CONTINUE) {
		p = msg_get_data(m, &n, outmax);
		memcpy(out, p, n);
		*outlen = n;
		st = GSS_STEP_CONTINUE;
	} else if (m->type == MSG_MG_ANS_DONE) {
		msg_get_str(m, user, userlen);
		st = GSS_STEP_DONE;
	}
	msg_end(m);
	msg_wipe(m);
	return st;
}

/* The acceptor is killed and reaped, whatever it was doing. */
void
gssproc_stop(struct gss_proc *gp)
{
	if (gp->pid > 0) {
		(void)kill(gp->pid, SIGKILL);
		while (waitpid(gp->pid, NULL, 0) == -1 && errno == EINTR)
			;
	}
	if (gp->fd != -1)
		close(gp->fd);
	gp->pid = 0;
	gp->fd = -1;
	gp->rounds = 0;
}
