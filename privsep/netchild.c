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
 * The network child: the only process that reads client bytes.  Forked by
 * the session monitor before the first byte is read, it drops to the
 * privsep user in an empty chroot under its seccomp filter
 * (sandbox_net.c), then speaks TLS and POP3.  It holds the client socket,
 * its channel to the monitor and, after login, its channel to the spool
 * worker; no file, no private key (TLS signatures go through the monitor
 * to the key process), no password but the one its client just sent.
 * On a proxy listener it reads the PROXY protocol header first, before
 * TLS and the greeting, and learns from the monitor which client the
 * session is for.
 */

#include <sys/socket.h>

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "manifest.h"
#include "monitor_net.h"
#include "msg.h"
#include "net_spool.h"
#include "pop3.h"
#include "priv.h"
#include "proxy.h"
#include "session.h"
#include "tls_keyless.h"

struct netchild {
	int		 mon_fd;
	struct mn_spool	 sp;		/* after login: -1 until then */
	struct msg	 m;
};

static struct netchild	nc;

/*
 * privsep-user, looked up once by the master (or the inetd-mode process)
 * at start-up: privsep-user is not changed by SIGHUP, and a network child
 * that read the password database itself would keep what it read (the
 * file's buffer, the name service's state) in pages of its own for as
 * long as its session lasts.
 */
static struct priv_user	net_user;
static int		net_user_known;

/*
 * The descriptors of the network child: the slots of its keep[] list,
 * then the one it gets later.
 */
enum { NET_FD_STDERR, NET_FD_CLIENT, NET_FD_MONITOR, NET_NKEEP };

static const struct proc_fd net_fds[] = {
	[NET_FD_STDERR] = { "stderr", "stdio", "start", NULL, NULL },
	[NET_FD_CLIENT] = { "client-socket", "socket", "start", NULL, NULL },
	[NET_FD_MONITOR] = { "monitor-channel", "socket", "start", NULL,
	    NULL },
	/* In MSG_MN_ANS_AUTH and MSG_MN_ANS_DATA_PIPE. */
	{ "spool-channel", "socket", "login", NULL, NULL },
	{ "data-pipe-read", "pipe", "login", NULL, NULL },
};

/* What the network child holds, for popsepd -P. */
const struct proc_fd *
netchild_fds(size_t *n_r)
{
	*n_r = sizeof(net_fds) / sizeof(net_fds[0]);
	return net_fds;
}

/*
 * The spool worker's answers: a status line first, then, after
 * MSG_NS_ANS_MULTI, data until the end.  The worker reads crafted mail,
 * so each frame is checked here before a field is read.
 */
enum { NS_WAIT_STATUS = 0x01, NS_WAIT_DATA = 0x02 };

static const struct msg_handler spool_answers[] = {
	MSG_ROW(MSG_NS_ANS_OK, 4 + 1, 4 + POP_LINE_MAX, 0, NS_WAIT_STATUS,
	    NULL),
	MSG_ROW(MSG_NS_ANS_ERR, 4 + 1, 4 + POP_LINE_MAX, 0, NS_WAIT_STATUS,
	    NULL),
	MSG_ROW(MSG_NS_ANS_MULTI, 4 + 1, 4 + POP_LINE_MAX, 0, NS_WAIT_STATUS,
	    NULL),
	MSG_ROW(MSG_NS_ANS_DATA, 4, 4, 0, NS_WAIT_DATA, NULL),
	MSG_ROW(MSG_NS_ANS_END, 0, 0, 0, NS_WAIT_DATA, NULL),
};

/* What the network child takes from the spool worker, for popsepd -P. */
const struct msg_handler *
msgtab_net_spool(size_t *n_r)
{
	*n_r = sizeof(spool_answers) / sizeof(spool_answers[0]);
	return spool_answers;
}

/* The next answer of the worker: 1 once checked, 0 if it is gone. */
static int
recv_spool(struct netchild *c, struct msg *m, unsigned int state)
{
	if (msg_recv(c->sp.channel, m) != 1)
		return 0;
	(void)msg_lookup(spool_answers, sizeof(spool_answers) /
	    sizeof(spool_answers[0]), m, state, "net<-spool");
	return 1;
}

static void
log_to_monitor(int prio, const char *line)
{
	mon_req_log(nc.mon_fd, prio, line);
}

static int
auth_result(int rc)
{
	switch (rc) {
	case MN_AUTH_OK:
		return POP3_AUTH_OK;
	case MN_AUTH_IN_USE:
		return POP3_AUTH_IN_USE;
	case MN_AUTH_SYS:
		return POP3_AUTH_SYS;
	case MN_AUTH_CONTINUE:
		return POP3_AUTH_CONTINUE;
	default:
		return POP3_AUTH_FAIL;
	}
}

static int
op_login(void *arg, enum pop3_mech mech, const char *user,
    const char *secret, char *text,
    size_t textlen)
{
	struct netchild	*n = arg;

	return auth_result(mon_req_auth(n->mon_fd, mech == POP3_MECH_APOP ?
	    MSG_MN_REQ_AUTH_APOP : MSG_MN_REQ_AUTH_PASS, user, secret, text,
	    textlen, &n->sp));
}

/* SASL GSSAPI: the monitor holds the exchange; this only relays. */
static int
op_gss_step(void *arg, const uint8_t *tok, size_t len, uint8_t *out,
    size_t outmax, size_t *outlen, char *text, size_t textlen)
{
	struct netchild	*n = arg;

	return auth_result(mon_req_auth_gss(n->mon_fd, tok, len, out, outmax,
	    outlen, text, textlen, &n->sp));
}

static void
op_gss_cancel(void *arg)
{
	struct netchild	*n = arg;

	mon_req_auth_gss_cancel(n->mon_fd);
}

static const uint16_t req_types[] = {
	[POP3_REQ_STAT] = MSG_NS_REQ_STAT,
	[POP3_REQ_LIST] = MSG_NS_REQ_LIST,
	[POP3_REQ_UIDL] = MSG_NS_REQ_UIDL,
	[POP3_REQ_RETR] = MSG_NS_REQ_RETR,
	[POP3_REQ_TOP] = MSG_NS_REQ_TOP,
	[POP3_REQ_DELE] = MSG_NS_REQ_DELE,
	[POP3_REQ_RSET] = MSG_NS_REQ_RSET,
	[POP3_REQ_QUIT] = MSG_NS_REQ_QUIT,
};

/*
 * QUIT goes to the spool worker, which updates the mailbox and exits; the
 * answer comes from the monitor, once the worker is gone and the locks
 * are released: only the monitor knows then what became of the mailbox.
 */
static int
quit_request(struct netchild *c, char *text, size_t textlen)
{
	struct msg	*m = &c->m;

	if (c->sp.channel != -1) {
		msg_init(m, MSG_NS_REQ_QUIT);
		(void)msg_send(c->sp.channel, m, -1);
	}
	return mon_get_quit_answer(c->mon_fd, text, textlen);
}

static int
op_request(void *arg, enum pop3_req req, uint32_t n, uint32_t lines,
    char *text, size_t textlen)
{
	struct netchild	*c = arg;
	struct msg	*m = &c->m;

	if (req == POP3_REQ_QUIT)
		return quit_request(c, text, textlen);
	if (c->sp.channel == -1)
		return POP3_ANS_BROKEN;
	msg_init(m, req_types[req]);
	switch (req) {
	case POP3_REQ_LIST:
	case POP3_REQ_UIDL:
	case POP3_REQ_RETR:
	case POP3_REQ_DELE:
		msg_put_u32(m, n);
		break;
	case POP3_REQ_TOP:
		msg_put_u32(m, n);
		msg_put_u32(m, lines);
		break;
	default:
		break;
	}
	if (msg_send(c->sp.channel, m, -1) == -1 ||
	    !recv_spool(c, m, NS_WAIT_STATUS))
		return POP3_ANS_BROKEN;
	switch (m->type) {
	case MSG_NS_ANS_OK:
	case MSG_NS_ANS_ERR:
	case MSG_NS_ANS_MULTI:
		msg_get_str(m, text, textlen);
		msg_end(m);
		break;
	default:
		fatalx("%s: unexpected frame %u from the spool worker",
		    __func__, m->type);
	}
	if (m->type == MSG_NS_ANS_OK)
		return POP3_ANS_OK;
	if (m->type == MSG_NS_ANS_ERR)
		return POP3_ANS_ERR;
	return POP3_ANS_MULTI;
}

/*
 * Next piece of a multi-line answer: 1 with its length, the bytes waiting
 * in the data pipe; 0 at its end; -1.
 */
static int
op_data(void *arg, struct pop3_piece *pc)
{
	struct netchild	*c = arg;
	struct msg	*m = &c->m;
	uint32_t	 n;

	if (!recv_spool(c, m, NS_WAIT_DATA))
		return -1;
	if (m->type == MSG_NS_ANS_END) {
		msg_end(m);
		return 0;
	}
	if (m->type != MSG_NS_ANS_DATA)
		fatalx("%s: unexpected frame %u from the spool worker",
		    __func__, m->type);
	n = msg_get_u32(m);
	msg_end(m);
	if (n == 0 || n > MSG_DATA_CHUNK)
		fatalx("%s: a piece of %u bytes from the spool worker",
		    __func__, n);
	pc->p = NULL;
	pc->fd = c->sp.data;
	pc->len = n;
	return 1;
}

static void
op_tls_done(void *arg, const char *version, const char *cipher)
{
	struct netchild	*c = arg;

	mon_req_tls_done(c->mon_fd, version, cipher);
}

static const struct pop3_ops netchild_ops = {
	op_login,
	op_request,
	op_data,
	op_tls_done,
	op_gss_step,
	op_gss_cancel,
};

/*
 * The header, first: the client it names becomes the session's, as the
 * monitor recorded it.  Without a valid header, or with a client the
 * master refuses, the session ends here; the refusal is written before
 * any TLS, as the master writes its own.
 */
static void
proxy_first(struct session *s)
{
	struct proxy_hdr	h;
	struct mn_client	cl;
	size_t			len;
	int			st;

	st = proxy_read(s->client_fd, PROXY_HEADER_SECS * 1000, &h);
	log_debug("PROXY protocol header: %s", proxy_status_text(st));
	switch (mon_req_proxy(nc.mon_fd, st, st == PROXY_HDR_OK ? h.src : "",
	    &cl)) {
	case MN_PROXY_GO:
		strlcpy(s->addr, cl.addr, sizeof(s->addr));
		strlcpy(s->host, cl.host, sizeof(s->host));
		s->is_local = cl.is_local;
		return;
	case MN_PROXY_REFUSED:
		len = strlcat(cl.text, "\r\n", sizeof(cl.text));
		if (len < sizeof(cl.text) &&
		    write(s->client_fd, cl.text, len) == -1)
			log_debug("refusal: %s", strerror(errno));
		break;
	default:
		break;
	}
	log_flush();
	_exit(0);
}

/*
 * Once, in the master (or the inetd-mode process) before any session:
 * privsep-user looked up, and what every network child shares set up.
 */
void
netchild_prepare(const struct config *cf)
{
	if (priv_lookup(cf->privsep_user, &net_user) == -1)
		fatalx("privsep user \"%s\" does not exist", cf->privsep_user);
	if (net_user.uid == 0)
		fatalx("privsep-user must not be root");
	net_user_known = 1;
	/*
	 * Set here, before any fork, so that no network child writes the
	 * page these pointers are on (an idle session keeps every page it
	 * writes).  Only a network child makes a TLS handshake.
	 */
	nc.mon_fd = -1;
	keyless_set_transport(mon_req_tls_sign, &nc.mon_fd);
}

void
netchild_main(struct session *s, int mon_fd)
{
	struct pop3_cfg		 pc;
	struct conn		 c;
	int			 keep[NET_NKEEP];

	log_procname("net");
	keep[NET_FD_STDERR] = STDERR_FILENO;
	keep[NET_FD_CLIENT] = s->client_fd;
	keep[NET_FD_MONITOR] = mon_fd;
	close_all_but(keep, NET_NKEEP);
	nc.mon_fd = mon_fd;
	nc.sp.channel = nc.sp.data = -1;
	if (!net_user_known)
		fatalx("%s: privsep-user was not looked up", __func__);
	/* Syslog is out of reach in the chroot: log through the monitor. */
	log_set_sink(log_to_monitor);
	/* Everything below handles client bytes: give up root first. */
	priv_drop(s->cf->chroot_dir, &net_user);
	sandbox_session(SANDBOX_NET);
	/*
	 * What the set-up freed goes back
	 * (brk, madvise: both allowed): an idle session stays small.
	 */
	malloc_trim(0);
	if (s->proxied)
		proxy_first(s);

	conn_init(&c, s->client_fd, s->cf->timeout);
	memset(&pc, 0, sizeof(pc));
	pc.cleartext = s->cf->cleartext;
	pc.is_local = s->is_local;
	pc.chunky = s->cf->chunky;
	pc.ctx = s->implicit_tls ? NULL : s->ctx;
	pc.hostname = s->myname;
	pc.apop_stamp = s->cf->apop ? s->apop_stamp : NULL;
	pc.login_delay = s->cf->login_delay;
	pc.last_command = s->cf->last_command;
	pc.client_host = s->host[0] != '\0' ? s->host : s->addr;
	pc.client_addr = s->addr;
	if (strcmp(s->cf->announce_expire, "never") == 0)
		pc.expire = "NEVER";
	else if (s->cf->announce_expire[0] != '\0')
		pc.expire = s->cf->announce_expire;
	pc.gssapi = s->cf->keytab[0] != '\0';
	if (s->implicit_tls) {
		if (conn_start_tls(&c, s->ctx) == -1) {
			log_info("TLS handshake failed");
			log_flush();
			_exit(0);
		}
		mon_req_tls_done(mon_fd, SSL_get_version(c.ssl),
		    SSL_get_cipher_name(c.ssl));
		pc.tls_active = 1;
	}
	pop3_run(&c, &pc, &netchild_ops, &nc);
	/* Lines held back by the log's limit, with their count. */
	log_flush();
	_exit(0);
}
