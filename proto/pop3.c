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
 * The POP3 state machine of the network child.  Every line it handles
 * comes from the client and is hostile until parsed; replies are gathered
 * and written once no complete command is left in the input (pipelining,
 * RFC 2449 6.6), so a reply never waits on the client's delayed ACK.
 * Credentials go to the session monitor and mailbox requests to the spool
 * worker through pop3_ops; this file never sees the result of either
 * beyond the text to send.
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "names.h"
#include "pop3.h"

enum pop3_state {
	ST_AUTH = 0x01,		/* AUTHORIZATION */
	ST_TRANS = 0x02,	/* TRANSACTION */
};

struct pop3 {
	struct conn		*c;
	const struct pop3_cfg	*cf;
	const struct pop3_ops	*ops;
	void			*arg;
	int			 state;
	int			 tls_active;
	int			 have_user;
	int			 bad_cmds;
	int			 auth_fails;
	int			 apop_tried;
	int			 gss_tries;
	int			 done;
	uint32_t		 last_msg;	/* LAST: highest RETR or TOP */
	char			 user[POP_USER_MAX + 1];
};

struct pop3_verb {
	const char	*verb;
	int		 states;
	int		 min_args, max_args;
	void		(*fn)(struct pop3 *, struct pop3_cmd *);
};

static void	refuse_cleartext(struct pop3 *);
static void	first_word(const char *, size_t, char *, size_t);
static void	cmd_capa(struct pop3 *, struct pop3_cmd *);
static void	cmd_noop(struct pop3 *, struct pop3_cmd *);
static void	cmd_quit(struct pop3 *, struct pop3_cmd *);
static void	cmd_stls(struct pop3 *, struct pop3_cmd *);
static void	cmd_user(struct pop3 *, struct pop3_cmd *);
static void	cmd_pass(struct pop3 *, struct pop3_cmd *);
static void	cmd_apop(struct pop3 *, struct pop3_cmd *);
static void	cmd_auth(struct pop3 *, struct pop3_cmd *);
static void	cmd_stat(struct pop3 *, struct pop3_cmd *);
static void	cmd_list(struct pop3 *, struct pop3_cmd *);
static void	cmd_uidl(struct pop3 *, struct pop3_cmd *);
static void	cmd_retr(struct pop3 *, struct pop3_cmd *);
static void	cmd_top(struct pop3 *, struct pop3_cmd *);
static void	cmd_dele(struct pop3 *, struct pop3_cmd *);
static void	cmd_rset(struct pop3 *, struct pop3_cmd *);
static void	cmd_last(struct pop3 *, struct pop3_cmd *);
static void	cmd_xtnd(struct pop3 *, struct pop3_cmd *);
static void	reply(struct pop3 *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	bad_command(struct pop3 *, const char *, const char *);
static int	cleartext_allowed(const struct pop3 *);
static int	relay(struct pop3 *, enum pop3_req, uint32_t, uint32_t);
static void	login(struct pop3 *, enum pop3_mech, const char *,
		    const char *);
static void	login_answer(struct pop3 *, int, const char *);
static void	auth_gssapi(struct pop3 *, const char *);

static const struct pop3_verb verbs[] = {
	{ "CAPA", ST_AUTH | ST_TRANS, 0, 0, cmd_capa },
	{ "NOOP", ST_TRANS, 0, 0, cmd_noop },
	{ "QUIT", ST_AUTH | ST_TRANS, 0, 0, cmd_quit },
	{ "STLS", ST_AUTH, 0, 0, cmd_stls },
	{ "USER", ST_AUTH, 1, 1, cmd_user },
	{ "PASS", ST_AUTH, 1, 1, cmd_pass },
	{ "APOP", ST_AUTH, 2, 2, cmd_apop },
	{ "AUTH", ST_AUTH, 0, 2, cmd_auth },
	{ "STAT", ST_TRANS, 0, 0, cmd_stat },
	{ "LIST", ST_TRANS, 0, 1, cmd_list },
	{ "UIDL", ST_TRANS, 0, 1, cmd_uidl },
	{ "RETR", ST_TRANS, 1, 1, cmd_retr },
	{ "TOP", ST_TRANS, 2, 2, cmd_top },
	{ "DELE", ST_TRANS, 1, 1, cmd_dele },
	{ "RSET", ST_TRANS, 0, 0, cmd_rset },
	{ "LAST", ST_TRANS, 0, 0, cmd_last },
	{ "XTND", ST_TRANS, 0, 1, cmd_xtnd },
};

static void
reply(struct pop3 *p, int ok, const char *fmt, ...)
{
	char	buf[POP_LINE_MAX - 8];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (conn_printf(p->c, "%s%s%s\r\n", ok ? "+OK" : "-ERR",
	    buf[0] != '\0' ? " " : "", buf) == -1)
		p->done = 1;
}

/*
 * The one catch-all for unknown, malformed and out-of-state commands.  The
 * log line is Qpopper's: the verb in lower case, then a period.
 */
static void
bad_command(struct pop3 *p, const char *verb, const char *why)
{
	char	low[17];
	size_t	i;

	for (i = 0; verb[i] != '\0' && i + 1 < sizeof(low); i++)
		low[i] = (char)tolower((unsigned char)verb[i]);
	low[i] = '\0';
	log_info("%s: \"%s\".", why, low);
	reply(p, 0, "%s: \"%.16s\"", why, verb);
	if (++p->bad_cmds >= POP_BAD_CMDS_MAX) {
		log_info("too many bad commands, closing");
		reply(p, 0, "Too many errors, closing connection");
		p->done = 1;
	}
}

static int
cleartext_allowed(const struct pop3 *p)
{
	switch (p->cf->cleartext) {
	case CLEARTEXT_NEVER:
		return 0;
	case CLEARTEXT_TLS:
		return p->tls_active;
	case CLEARTEXT_LOCAL:
		return p->tls_active || p->cf->is_local;
	default:
		return 1;
	}
}

/* Say what would work instead, if anything does. */
static void
refuse_cleartext(struct pop3 *p)
{
	if (!p->tls_active && p->cf->ctx != NULL &&
	    p->cf->cleartext != CLEARTEXT_NEVER)
		reply(p, 0, "[AUTH] Plaintext authentication is disabled on "
		    "this connection; use STLS first");
	else
		reply(p, 0, "[AUTH] Plaintext authentication is disabled");
}

static void
cmd_capa(struct pop3 *p, struct pop3_cmd *cmd)
{
	(void)cmd;
	reply(p, 1, "Capability list follows");
	conn_printf(p->c, "TOP\r\n");
	if (p->state == ST_AUTH && cleartext_allowed(p))
		conn_printf(p->c, "USER\r\n");
	if (p->state == ST_AUTH && (cleartext_allowed(p) || p->cf->gssapi))
		conn_printf(p->c, "SASL%s%s\r\n", cleartext_allowed(p) ?
		    " PLAIN" : "", p->cf->gssapi ? " GSSAPI" : "");
	conn_printf(p->c, "UIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "PIPELINING\r\n");
	if (p->cf->login_delay > 0)
		conn_printf(p->c, "LOGIN-DELAY %d\r\n", p->cf->login_delay);
	if (p->cf->expire != NULL)
		conn_printf(p->c, "EXPIRE %s\r\n", p->cf->expire);
	if (p->state == ST_AUTH && p->cf->ctx != NULL && !p->tls_active)
		conn_printf(p->c, "STLS\r\n");
	conn_printf(p->c, "IMPLEMENTATION popsep-%s\r\n.\r\n", POPSEP_VERSION);
}

static void
cmd_noop(struct pop3 *p, struct pop3_cmd *cmd)
{
	(void)cmd;
	reply(p, 1, "%s", "");
}

static void
cmd_quit(struct pop3 *p, struct pop3_cmd *cmd)
{
	char	text[POP_LINE_MAX];
	int	rc;

	(void)cmd;
	p->done = 1;
	if (p->state == ST_AUTH) {
		if (p->have_user)
			log_warnx("Possible probe of account %s from host %s "
			    "(%s)", p->user, p->cf->client_host,
			    p->cf->client_addr);
		reply(p, 1, "Pop server at %s signing off.", p->cf->hostname);
		return;
	}
	/* The update happens now, and only now (RFC 1939 6). */
	rc = p->ops->request(p->arg, POP3_REQ_QUIT, 0, 0, text, sizeof(text));
	if (rc == POP3_ANS_OK)
		reply(p, 1, "Pop server at %s signing off.", p->cf->hostname);
	else if (rc == POP3_ANS_ERR)
		reply(p, 0, "%s", text);
	else
		/*
		 * Nobody is left who knows what became of the mailbox: no
		 * reply rather than one that may be false.
		 */
		log_info("QUIT: the session monitor is gone; closing without "
		    "a reply");
}

static void
cmd_stls(struct pop3 *p, struct pop3_cmd *cmd)
{
	(void)cmd;
	if (p->tls_active) {
		reply(p, 0, "Command not permitted when TLS active");
		return;
	}
	if (p->cf->ctx == NULL) {
		reply(p, 0, "TLS not available");
		return;
	}
	reply(p, 1, "Begin TLS negotiation");
	if (conn_flush(p->c) == -1 || conn_start_tls(p->c, p->cf->ctx) == -1) {
		log_info("TLS negotiation failed");
		p->done = 1;
		return;
	}
	p->ops->tls_done(p->arg, SSL_get_version(p->c->ssl),
	    SSL_get_cipher_name(p->c->ssl));
	p->tls_active = 1;
	if (p->cf->chunky == CHUNKY_TLS)
		p->c->chunky = 1;
	/* RFC 2595 4: forget everything learned before TLS. */
	p->have_user = 0;
	explicit_bzero(p->user, sizeof(p->user));
}

static void
cmd_user(struct pop3 *p, struct pop3_cmd *cmd)
{
	const char	*u = cmd->argv[0];

	if (!cleartext_allowed(p)) {
		refuse_cleartext(p);
		return;
	}
	if (strlen(u) > POP_USER_MAX) {
		reply(p, 0, "[AUTH] User name too long");
		return;
	}
	/* Names go to PAM and into logs: printable ASCII only. */
	if (!pop3_user_ok(u)) {
		reply(p, 0, "[AUTH] Invalid user name");
		return;
	}
	strlcpy(p->user, u, sizeof(p->user));
	p->have_user = 1;
	reply(p, 1, "Password required for %s.", p->user);
}

static void
cmd_pass(struct pop3 *p, struct pop3_cmd *cmd)
{
	if (!cleartext_allowed(p)) {
		explicit_bzero(cmd->argv[0], sizeof(cmd->argv[0]));
		refuse_cleartext(p);
		return;
	}
	if (!p->have_user) {
		explicit_bzero(cmd->argv[0], sizeof(cmd->argv[0]));
		reply(p, 0, "Need a USER command first");
		return;
	}
	p->have_user = 0;
	login(p, POP3_MECH_PASS, p->user, cmd->argv[0]);
	explicit_bzero(cmd->argv[0], sizeof(cmd->argv[0]));
}

/* The greeting's "+OK" once logged in: the maildrop's size. */
static void
announce_maildrop(struct pop3 *p)
{
	char			text[POP_LINE_MAX];
	unsigned long long	n = 0, octets = 0;
	int			rc;

	rc = p->ops->request(p->arg, POP3_REQ_STAT, 0, 0, text, sizeof(text));
	if (rc != POP3_ANS_OK) {
		if (rc == POP3_ANS_ERR)
			reply(p, 0, "%s", text);
		else
			reply(p, 0, "[SYS/TEMP] Cannot read the mailbox");
		p->done = 1;
		return;
	}
	if (sscanf(text, "%llu %llu", &n, &octets) != 2) {
		reply(p, 0, "[SYS/TEMP] Cannot read the mailbox");
		p->done = 1;
		return;
	}
	reply(p, 1, "%s has %llu visible message%s (0 hidden) in %llu octets.",
	    p->user, n, n == 1 ? "" : "s", octets);
}

/*
 * Hand credentials to the backend and answer: the one path of USER/PASS,
 * APOP and SASL.  The backend's text is the whole reply on a failure.
 */
static void
login(struct pop3 *p, enum pop3_mech mech, const char *user,
    const char *secret)
{
	char	text[POP_LINE_MAX];
	int	rc;

	if (user != p->user)
		strlcpy(p->user, user, sizeof(p->user));
	rc = p->ops->login(p->arg, mech, p->user, secret, text, sizeof(text));
	login_answer(p, rc, text);
}

/* The backend's verdict on a login, with its text. */
static void
login_answer(struct pop3 *p, int rc, const char *text)
{
	switch (rc) {
	case POP3_AUTH_OK:
		p->state = ST_TRANS;
		announce_maildrop(p);
		return;
	case POP3_AUTH_IN_USE:
	case POP3_AUTH_SYS:
		reply(p, 0, "%s", text);
		p->done = 1;
		return;
	default:
		reply(p, 0, "%s", text);
		if (++p->auth_fails >= POP_AUTH_TRIES_MAX) {
			log_info("too many failed logins, closing");
			p->done = 1;
		}
		return;
	}
}

/* APOP name digest (RFC 1939 7): only when the greeting had a stamp. */
static void
cmd_apop(struct pop3 *p, struct pop3_cmd *cmd)
{
	char	*d = cmd->argv[1];
	size_t	 i;

	if (p->cf->apop_stamp == NULL) {
		bad_command(p, cmd->verb, "Unknown command");
		return;
	}
	if (p->apop_tried) {
		reply(p, 0, "[AUTH] One APOP attempt per connection");
		return;
	}
	if (!pop3_user_ok(cmd->argv[0])) {
		reply(p, 0, "[AUTH] Invalid user name");
		return;
	}
	if (strlen(d) != APOP_DIGEST_LEN) {
		reply(p, 0, "[AUTH] Invalid APOP digest");
		return;
	}
	for (i = 0; i < APOP_DIGEST_LEN; i++) {
		d[i] = (char)tolower((unsigned char)d[i]);
		if (!isxdigit((unsigned char)d[i])) {
			reply(p, 0, "[AUTH] Invalid APOP digest");
			return;
		}
	}
	p->apop_tried = 1;
	p->have_user = 0;
	login(p, POP3_MECH_APOP, cmd->argv[0], d);
}

/*
 * One SASL client response: the initial response from the command line,
 * or a line read now, after "+ " and the base64 challenge (RFC 5034 4).
 * Returns the decoded length, or -1 after replying (the client cancelled
 * with "*", or sent what is not base64).
 */
static long
sasl_response(struct pop3 *p, const char *initial, const char *challenge,
    uint8_t *out, size_t outmax)
{
	char	line[SASL_LINE_MAX + 1];
	size_t	len = 0;
	long	rv = -1;
	int	rc;

	if (initial != NULL) {
		strlcpy(line, initial, sizeof(line));
		len = strlen(line);
	} else {
		/* A challenge may be longer than any reply line. */
		if (conn_write(p->c, "+ ", 2) == -1 || conn_write(p->c,
		    challenge, strlen(challenge)) == -1 ||
		    conn_write(p->c, "\r\n", 2) == -1) {
			p->done = 1;
			return -1;
		}
		for (;;) {
			rc = conn_getline(p->c, line, sizeof(line), &len);
			if (rc == LINE_OK)
				break;
			if (rc == LINE_TOO_LONG) {
				reply(p, 0, "[AUTH] SASL response too long");
				return -1;
			}
			if (conn_flush(p->c) == -1 || conn_fill(p->c) <= 0) {
				p->done = 1;
				return -1;
			}
		}
	}
	if (strcmp(line, "*") == 0)
		reply(p, 0, "AUTH command cancelled by the client");
	else if (strcmp(line, "=") == 0)
		rv = 0;		/* an empty initial response */
	else if (sasl_b64_decode(line, len, out, outmax, &len) == -1)
		reply(p, 0, "[AUTH] Invalid base64 in the SASL response");
	else
		rv = (long)len;
	explicit_bzero(line, sizeof(line));
	return rv;
}


/* The mechanisms this connection offers, one per line, for AUTH alone. */
static void
list_mechanisms(struct pop3 *p)
{
	reply(p, 1, "List of SASL mechanisms follows");
	if (cleartext_allowed(p))
		conn_printf(p->c, "PLAIN\r\n");
	if (p->cf->gssapi)
		conn_printf(p->c, "GSSAPI\r\n");
	conn_printf(p->c, ".\r\n");
}

/*
 * SASL GSSAPI (RFC 4752): client tokens to the backend, its challenges
 * back, until it decides.  No password crosses, so TLS is not required.
 * The backend holds the exchange; "*", a response that is not base64 or
 * one too long ends it there too.
 */
static void
auth_gssapi(struct pop3 *p, const char *initial)
{
	uint8_t	tok[GSS_TOKEN_MAX], out[GSS_TOKEN_MAX];
	char	text[POP_LINE_MAX], chal[SASL_LINE_MAX + 1];
	size_t	len = 0;
	long	n;
	int	rc, started = 0;

	if (p->gss_tries >= GSS_EXCHANGES_MAX) {
		reply(p, 0, "[AUTH] Too many GSSAPI attempts");
		return;
	}
	p->have_user = 0;
	chal[0] = '\0';
	for (;;) {
		n = sasl_response(p, initial, chal, tok, sizeof(tok));
		initial = NULL;
		if (n < 0) {
			if (started)
				p->ops->gss_cancel(p->arg);
			return;
		}
		if (!started++)
			p->gss_tries++;
		rc = p->ops->gss_step(p->arg, tok, (size_t)n, out,
		    sizeof(out), &len, text, sizeof(text));
		if (rc != POP3_AUTH_CONTINUE)
			break;
		if (sasl_b64_encode(out, len, chal, sizeof(chal)) == -1) {
			p->ops->gss_cancel(p->arg);
			reply(p, 0, "[AUTH] GSSAPI challenge too long");
			return;
		}
	}
	if (rc == POP3_AUTH_OK && pop3_user_ok(text))
		strlcpy(p->user, text, sizeof(p->user));
	login_answer(p, rc, text);
}

/* AUTH [mechanism [initial-response]] (RFC 5034); PLAIN (RFC 4616). */
static void
cmd_auth(struct pop3 *p, struct pop3_cmd *cmd)
{
	uint8_t	msg[POP_USER_MAX * 2 + POP_PASS_MAX + 3];
	char	authzid[POP_USER_MAX + 1], authcid[POP_USER_MAX + 1];
	char	pass[POP_PASS_MAX + 1], mech[33];
	long	n;

	if (cmd->argc == 0) {
		list_mechanisms(p);
		return;
	}
	if (strcasecmp(cmd->argv[0], "GSSAPI") == 0 && p->cf->gssapi) {
		auth_gssapi(p, cmd->argc == 2 ? cmd->argv[1] : NULL);
		return;
	}
	if (strcasecmp(cmd->argv[0], "PLAIN") != 0) {
		printable_copy(mech, sizeof(mech), cmd->argv[0]);
		log_info("Unknown authentication mechanism: %s", mech);
		reply(p, 0, "Unknown authentication mechanism: %s", mech);
		return;
	}
	if (!cleartext_allowed(p)) {
		explicit_bzero(cmd->argv[1], sizeof(cmd->argv[1]));
		refuse_cleartext(p);
		return;
	}
	n = sasl_response(p, cmd->argc == 2 ? cmd->argv[1] : NULL, "", msg,
	    sizeof(msg));
	explicit_bzero(cmd->argv[1], sizeof(cmd->argv[1]));
	if (n < 0)
		return;
	if (sasl_plain_split(msg, (size_t)n, authzid, sizeof(authzid),
	    authcid, sizeof(authcid), pass, sizeof(pass)) == -1 ||
	    !pop3_user_ok(authcid)) {
		reply(p, 0, "[AUTH] Malformed SASL PLAIN response");
	} else if (authzid[0] != '\0' && strcmp(authzid, authcid) != 0) {
		/* Acting for another user is not offered (RFC 4616 2). */
		reply(p, 0, "[AUTH] Authorization identity not permitted");
	} else {
		p->have_user = 0;
		login(p, POP3_MECH_PASS, authcid, pass);
	}
	explicit_bzero(msg, sizeof(msg));
	explicit_bzero(pass, sizeof(pass));
}

/* Send a backend answer: one status line, or a multi-line body. */
static int
relay(struct pop3 *p, enum pop3_req req, uint32_t n, uint32_t lines)
{
	char			 text[POP_LINE_MAX];
	struct pop3_piece	 pc;
	int			 rc;

	rc = p->ops->request(p->arg, req, n, lines, text, sizeof(text));
	switch (rc) {
	case POP3_ANS_OK:
		reply(p, 1, "%s", text);
		return rc;
	case POP3_ANS_ERR:
		reply(p, 0, "%s", text);
		return rc;
	case POP3_ANS_MULTI:
		reply(p, 1, "%s", text);
		for (;;) {
			rc = p->ops->data(p->arg, &pc);
			if (rc <= 0)
				break;
			if ((pc.p != NULL ? conn_write(p->c, pc.p, pc.len) :
			    conn_write_from(p->c, pc.fd, pc.len)) == -1) {
				p->done = 1;
				return -1;
			}
		}
		if (rc < 0) {
			/* Half a message sent: only closing is honest. */
			log_warnx("mailbox data interrupted");
			p->done = 1;
			return -1;
		}
		if (conn_write(p->c, ".\r\n", 3) == -1) {
			p->done = 1;
			return -1;
		}
		return POP3_ANS_MULTI;
	default:
		log_warnx("spool worker gone");
		reply(p, 0, "[SYS/TEMP] Mailbox not available");
		p->done = 1;
		return -1;
	}
}

/* Client text goes back in a reply only as printable_copy() makes it. */
static int
get_msgno(struct pop3 *p, const char *arg, uint32_t *n)
{
	char	shown[17];

	if (pop3_msgno(arg, n) == -1) {
		printable_copy(shown, sizeof(shown), arg);
		reply(p, 0, "Invalid message number \"%s\"", shown);
		return -1;
	}
	return 0;
}

static void
cmd_stat(struct pop3 *p, struct pop3_cmd *cmd)
{
	(void)cmd;
	relay(p, POP3_REQ_STAT, 0, 0);
}

static void
cmd_list(struct pop3 *p, struct pop3_cmd *cmd)
{
	uint32_t n = 0;

	if (cmd->argc == 1 && get_msgno(p, cmd->argv[0], &n) == -1)
		return;
	relay(p, POP3_REQ_LIST, n, 0);
}

static void
cmd_uidl(struct pop3 *p, struct pop3_cmd *cmd)
{
	uint32_t n = 0;

	if (cmd->argc == 1 && get_msgno(p, cmd->argv[0], &n) == -1)
		return;
	relay(p, POP3_REQ_UIDL, n, 0);
}

static void
cmd_retr(struct pop3 *p, struct pop3_cmd *cmd)
{
	uint32_t n;

	if (get_msgno(p, cmd->argv[0], &n) == -1)
		return;
	if (relay(p, POP3_REQ_RETR, n, 0) == POP3_ANS_MULTI && n > p->last_msg)
		p->last_msg = n;
}

static void
cmd_top(struct pop3 *p, struct pop3_cmd *cmd)
{
	const char	*e;
	char		 shown[17];
	long long	 lines;
	uint32_t	 n;

	if (get_msgno(p, cmd->argv[0], &n) == -1)
		return;
	lines = strtonum(cmd->argv[1], 0, INT32_MAX, &e);
	if (e != NULL || cmd->argv[1][0] == '+') {
		printable_copy(shown, sizeof(shown), cmd->argv[1]);
		reply(p, 0, "Invalid line count \"%s\"", shown);
		return;
	}
	if (relay(p, POP3_REQ_TOP, n, (uint32_t)lines) == POP3_ANS_MULTI &&
	    n > p->last_msg)
		p->last_msg = n;
}

static void
cmd_dele(struct pop3 *p, struct pop3_cmd *cmd)
{
	uint32_t n;

	if (get_msgno(p, cmd->argv[0], &n) == -1)
		return;
	relay(p, POP3_REQ_DELE, n, 0);
}

static void
cmd_rset(struct pop3 *p, struct pop3_cmd *cmd)
{
	(void)cmd;
	if (relay(p, POP3_REQ_RSET, 0, 0) == POP3_ANS_OK)
		p->last_msg = 0;
}

/*
 * RFC 1460's LAST, which RFC 1725 dropped: the highest message number
 * RETR or TOP sent in this session, 0 after RSET.  Off unless
 * last-command is set; then it is an unknown command, as in a Qpopper
 * built without it.
 */
static void
cmd_last(struct pop3 *p, struct pop3_cmd *cmd)
{
	if (!p->cf->last_command) {
		bad_command(p, cmd->verb, "Unknown command");
		return;
	}
	reply(p, 1, "%u", p->last_msg);
}

/*
 * Qpopper's XTND XMIT (mail sent through mail-command) and XLST (header
 * lines listed): neither is offered, and the reply says so without
 * counting as a bad command.  The parser hands over the rest of the line
 * as one argument, whatever the subcommand's own arguments.
 */
static void
cmd_xtnd(struct pop3 *p, struct pop3_cmd *cmd)
{
	char	sub[17];

	/* The subcommand: the first word of the rest of the line. */
	printable_copy(sub, sizeof(sub), cmd->argc > 0 ? cmd->argv[0] : "");
	sub[strcspn(sub, " ")] = '\0';
	log_info("XTND %s refused: not supported", sub);
	reply(p, 0, "XTND is not supported");
}

/*
 * The verb-like start of a line we could not parse, for the log and the
 * reply: its leading letters only, so that "PASS<TAB>secret" shows as
 * "PASS" and no password that follows a separator is ever logged.
 */
static void
first_word(const char *line, size_t len, char *w, size_t wlen)
{
	size_t	i;

	for (i = 0; i < len && i + 1 < wlen &&
	    ((line[i] >= 'a' && line[i] <= 'z') ||
	    (line[i] >= 'A' && line[i] <= 'Z')); i++)
		w[i] = line[i];
	w[i] = '\0';
}

static void
dispatch(struct pop3 *p, const char *line, size_t len)
{
	struct pop3_cmd		 cmd;
	char			 word[17];
	const struct pop3_verb	*v = NULL;
	const char		*err;
	size_t			 i;

	if (pop3_parse(line, len, &cmd, &err) == -1) {
		first_word(line, len, word, sizeof(word));
		bad_command(p, word, err);
		return;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verbs[i].verb, cmd.verb) == 0) {
			v = &verbs[i];
			break;
		}
	if (v == NULL) {
		bad_command(p, cmd.verb, "Unknown command");
		return;
	}
	if ((v->states & p->state) == 0) {
		bad_command(p, cmd.verb, "Command not valid in this state");
		return;
	}
	if (cmd.argc < v->min_args) {
		bad_command(p, cmd.verb, "Too few arguments");
		return;
	}
	if (cmd.argc > v->max_args) {
		bad_command(p, cmd.verb, "Too many arguments");
		return;
	}
	v->fn(p, &cmd);
	explicit_bzero(&cmd, sizeof(cmd));
}

void
pop3_run(struct conn *c, const struct pop3_cfg *cf,
    const struct pop3_ops *ops, void *arg)
{
	struct pop3	p;
	char		line[POP_LINE_MAX + 1];
	size_t		len;
	int		rc;

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.cf = cf;
	p.ops = ops;
	p.arg = arg;
	p.state = ST_AUTH;
	p.tls_active = cf->tls_active;
	c->chunky = cf->chunky == CHUNKY_ALWAYS ||
	    (cf->chunky == CHUNKY_TLS && p.tls_active);
	if (cf->apop_stamp != NULL)
		reply(&p, 1, "popsep %s ready. %s", POPSEP_VERSION,
		    cf->apop_stamp);
	else
		reply(&p, 1, "popsep %s ready.", POPSEP_VERSION);
	while (!p.done) {
		/* POP_CMD_MAX octets with CRLF: 2 fewer of command. */
		rc = conn_getline(c, line, POP_CMD_MAX - 1, &len);
		if (rc == LINE_OK) {
			dispatch(&p, line, len);
			explicit_bzero(line, sizeof(line));
			continue;
		}
		if (rc == LINE_TOO_LONG) {
			bad_command(&p, "", "Command line too long");
			continue;
		}
		/* Nothing left to answer: send what is queued, then wait. */
		if (conn_flush(c) == -1)
			break;
		rc = conn_fill(c);
		if (rc > 0)
			continue;
		if (rc < 0 && errno == ETIMEDOUT) {
			log_info("(v%s) Timeout (%d secs) during nw read from %s "
			    "at %s (%s)", POPSEP_VERSION, c->timeout,
			    p.user[0] != '\0' ? p.user : "(unknown)",
			    cf->client_host, cf->client_addr);
			reply(&p, 0, "POP timeout from %s", cf->hostname);
		} else if (rc < 0 && (errno == ECONNRESET || errno == EPIPE))
			log_info("POP hangup from %s (%s)", cf->client_host,
			    cf->client_addr);
		else
			log_info("-ERR POP EOF or I/O Error from %s (%s)",
			    cf->client_host, cf->client_addr);
		break;
	}
	explicit_bzero(p.user, sizeof(p.user));
	conn_close(c);
}
