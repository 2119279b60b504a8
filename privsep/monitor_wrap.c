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
 * The network child's side of its channel to the session monitor.  Runs
 * in the network child (unprivileged, chroot, seccomp): it can only ask.
 * The monitor decides, and checks every frame it receives; its answers
 * are checked here against mon_answers[] (type, length, descriptor)
 * before any field is read.
 */

#include <string.h>

#include "log.h"
#include "monitor_net.h"
#include "msg.h"
#include "pop3.h"
#include "proxy.h"
#include "tls_keyless.h"

static struct msg	mw_msg;

static int	auth_answer(int, struct msg *, char *, size_t,
	    struct mn_spool *);

/* The monitor's answers; each request waits for its own type. */
static const struct msg_handler mon_answers[] = {
	MSG_ROW(MSG_MN_ANS_AUTH, 1 + 4 + 1, 1 + 4 + POP_LINE_MAX, MSGF_FD_MAY,
	    1, NULL),
	MSG_ROW(MSG_MN_ANS_GSS, 4, 4 + GSS_TOKEN_MAX, 0, 1, NULL),
	MSG_ROW(MSG_MN_ANS_TLS_SIGN, 4 + 4, 4 + 4 + KEY_SIG_MAX, 0, 1, NULL),
	MSG_ROW(MSG_MN_ANS_QUIT, 1 + 4 + 1, 1 + 4 + POP_LINE_MAX, 0, 1, NULL),
	MSG_ROW(MSG_MN_ANS_PROXY, 1 + 5 + 1 + 5 + 5, 1 + 4 + POP_LINE_MAX +
	    1 + 4 + MN_ADDR_MAX + 4 + MN_HOST_MAX, 0, 1, NULL),
	MSG_ROW(MSG_MN_ANS_DATA_PIPE, 0, 0, MSGF_FD, 1, NULL),
};

/* What the network child takes from the monitor, for popsepd -P. */
const struct msg_handler *
msgtab_net_monitor(size_t *n_r)
{
	*n_r = sizeof(mon_answers) / sizeof(mon_answers[0]);
	return mon_answers;
}

/*
 * The monitor's answer to a request: 1 with a frame of type want (or
 * also, if not 0, of type also) that passed mon_answers[], 0 if the
 * monitor is gone.  Any other frame ends the process.
 */
static int
recv_answer(int fd, struct msg *m, uint16_t want, uint16_t also)
{
	if (msg_recv(fd, m) != 1)
		return 0;
	(void)msg_lookup(mon_answers, sizeof(mon_answers) /
	    sizeof(mon_answers[0]), m, 1, "net<-monitor");
	if (m->type != want && (also == 0 || m->type != also))
		fatalx("net<-monitor: %u where %u was due", m->type, want);
	return 1;
}

/* A request with an empty body, which is not answered. */
static void
send_empty(int fd, uint16_t type)
{
	struct msg	*m = &mw_msg;

	msg_init(m, type);
	if (msg_send(fd, m, -1) == -1)
		fatal("%s: send %u", __func__, type);
}

void
mon_req_log(int fd, int prio, const char *line)
{
	struct msg	*m = &mw_msg;

	msg_init(m, MSG_MN_REQ_LOG);
	msg_put_u8(m, (uint8_t)prio);
	msg_put_data(m, line, strnlen(line, LOG_LINE_MAX - 1));
	(void)msg_send(fd, m, -1);
}

/*
 * Returns an enum mn_auth_result; on MN_AUTH_OK *sp holds the channel to
 * the spool worker and the data pipe.  text gets the reply for the client.
 */
int
mon_req_auth(int fd, uint16_t type, const char *user, const char *secret,
    char *text, size_t textlen, struct mn_spool *sp)
{
	struct msg	*m = &mw_msg;

	msg_init(m, type);
	msg_put_str(m, user);
	msg_put_str(m, secret);
	if (msg_send(fd, m, -1) == -1)
		fatal("%s: send", __func__);
	msg_wipe(m);
	if (!recv_answer(fd, m, MSG_MN_ANS_AUTH, 0))
		fatalx("%s: monitor gone", __func__);
	return auth_answer(fd, m, text, textlen, sp);
}

/*
 * The body of MSG_MN_ANS_AUTH: an enum mn_auth_result; after MN_AUTH_OK,
 * the data pipe's frame too.
 */
static int
auth_answer(int fd, struct msg *m, char *text, size_t textlen,
    struct mn_spool *sp)
{
	int	result;

	result = msg_get_u8(m);
	msg_get_str(m, text, textlen);
	if (result == MN_AUTH_OK) {
		if (m->fd == -1)
			fatalx("%s: no spool channel", __func__);
		sp->channel = m->fd;
		m->fd = -1;
	}
	msg_end(m);
	if (result > MN_AUTH_SYS)
		fatalx("%s: bad result %d", __func__, result);
	if (result != MN_AUTH_OK)
		return result;
	if (!recv_answer(fd, m, MSG_MN_ANS_DATA_PIPE, 0))
		fatalx("%s: monitor gone", __func__);
	sp->data = m->fd;
	m->fd = -1;
	msg_end(m);
	return result;
}

/*
 * One client token of SASL GSSAPI: MN_AUTH_CONTINUE with the challenge
 * in out, or the end of the exchange as for mon_req_auth().
 */
int
mon_req_auth_gss(int fd, const uint8_t *tok, size_t len, uint8_t *out,
    size_t outmax, size_t *outlen, char *text, size_t textlen,
    struct mn_spool *sp)
{
	struct msg	*m = &mw_msg;
	const uint8_t	*p;
	size_t		 n;

	*outlen = 0;
	msg_init(m, MSG_MN_REQ_AUTH_GSS);
	msg_put_data(m, tok, len);
	if (msg_send(fd, m, -1) == -1)
		fatal("%s: send", __func__);
	if (!recv_answer(fd, m, MSG_MN_ANS_GSS, MSG_MN_ANS_AUTH))
		fatalx("%s: monitor gone", __func__);
	if (m->type == MSG_MN_ANS_AUTH)
		return auth_answer(fd, m, text, textlen, sp);
	p = msg_get_data(m, &n, outmax);
	msg_end(m);
	memcpy(out, p, n);
	*outlen = n;
	return MN_AUTH_CONTINUE;
}

void
mon_req_auth_gss_cancel(int fd)
{
	send_empty(fd, MSG_MN_REQ_AUTH_GSS_CANCEL);
}

/* The keyless provider's transport: the monitor relays to the key process. */
int
mon_req_tls_sign(void *arg, const struct tls_sign_req *req, uint8_t *sig,
    size_t *sig_len)
{
	struct msg	*m = &mw_msg;
	const uint8_t	*p;
	size_t		 n;
	uint32_t	 status;
	int		 fd = *(int *)arg;

	if (req->tbs_len > KEY_TBS_MAX)
		return -1;
	msg_init(m, MSG_MN_REQ_TLS_SIGN);
	msg_put_u8(m, req->key_id);
	msg_put_u16(m, req->scheme);
	msg_put_data(m, req->tbs, req->tbs_len);
	if (msg_send(fd, m, -1) == -1)
		return -1;
	if (!recv_answer(fd, m, MSG_MN_ANS_TLS_SIGN, 0))
		fatalx("%s: monitor gone", __func__);
	status = msg_get_u32(m);
	p = msg_get_data(m, &n, KEY_SIG_MAX);
	msg_end(m);
	if (status != 0 || n == 0 || n > *sig_len)
		return -1;
	memcpy(sig, p, n);
	*sig_len = n;
	return 0;
}

void
mon_req_tls_done(int fd, const char *version, const char *cipher)
{
	struct msg	*m = &mw_msg;

	msg_init(m, MSG_MN_REQ_TLS_DONE);
	msg_put_str(m, version != NULL ? version : "?");
	msg_put_str(m, cipher != NULL ? cipher : "?");
	if (msg_send(fd, m, -1) == -1)
		fatal("%s: send", __func__);
}

/*
 * The answer to QUIT, from the monitor: POP3_ANS_OK, POP3_ANS_ERR with
 * the text, or POP3_ANS_BROKEN if the monitor is gone.
 */
int
mon_get_quit_answer(int fd, char *text, size_t textlen)
{
	struct msg	*m = &mw_msg;
	int		 result;

	if (!recv_answer(fd, m, MSG_MN_ANS_QUIT, 0))
		return POP3_ANS_BROKEN;
	result = msg_get_u8(m);
	msg_get_str(m, text, textlen);
	msg_end(m);
	if (result == MN_QUIT_OK)
		return POP3_ANS_OK;
	if (result == MN_QUIT_ERR)
		return POP3_ANS_ERR;
	fatalx("%s: bad result %d", __func__, result);
}

/*
 * What the PROXY protocol header said.  A status that names no client
 * nor the proxy itself gets no answer: -1, and the connection is closed.
 * Otherwise MN_PROXY_GO with the client as the monitor recorded it, or
 * MN_PROXY_REFUSED with the reply for the client.
 */
int
mon_req_proxy(int fd, int status, const char *addr, struct mn_client *cl)
{
	struct msg	*m = &mw_msg;
	int		 result;

	msg_init(m, MSG_MN_REQ_PROXY);
	msg_put_u8(m, (uint8_t)status);
	msg_put_str(m, addr);
	if (msg_send(fd, m, -1) == -1)
		fatal("%s: send", __func__);
	if (status != PROXY_HDR_OK && status != PROXY_HDR_LOCAL)
		return -1;
	if (!recv_answer(fd, m, MSG_MN_ANS_PROXY, 0))
		fatalx("%s: monitor gone", __func__);
	result = msg_get_u8(m);
	msg_get_str(m, cl->text, sizeof(cl->text));
	cl->is_local = msg_get_u8(m) != 0;
	msg_get_str(m, cl->addr, sizeof(cl->addr));
	msg_get_str(m, cl->host, sizeof(cl->host));
	msg_end(m);
	if (result > MN_PROXY_REFUSED)
		fatalx("%s: bad result %d", __func__, result);
	return result;
}
