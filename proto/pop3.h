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
 * The POP3 protocol engine (RFC 1939, RFC 2449, RFC 2595, RFC 3206) of the
 * network child.  It owns the client dialogue and nothing else: it reaches
 * credentials and mailboxes only through the pop3_ops a caller installs
 * (in popsep: frames to the session monitor and the spool worker).
 */

#ifndef POPSEP_POP3_H
#define POPSEP_POP3_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "io.h"
#include "params.h"

/* Requests the engine makes of the mailbox, answered by the backend. */
enum pop3_req {
	POP3_REQ_STAT,
	POP3_REQ_LIST,
	POP3_REQ_UIDL,
	POP3_REQ_RETR,
	POP3_REQ_TOP,
	POP3_REQ_DELE,
	POP3_REQ_RSET,
	POP3_REQ_QUIT,
};

enum pop3_ans {
	POP3_ANS_OK,		/* text is the rest of a "+OK" line */
	POP3_ANS_ERR,		/* text is the rest of a "-ERR" line */
	POP3_ANS_MULTI,		/* "+OK text", then data() until 0 */
	POP3_ANS_BROKEN,	/* the backend is gone: close */
};

enum pop3_auth {
	POP3_AUTH_OK,
	POP3_AUTH_FAIL,
	POP3_AUTH_IN_USE,
	POP3_AUTH_SYS,
	POP3_AUTH_CONTINUE,	/* gss_step(): send the challenge */
};

/* How the credentials handed to the backend are to be checked. */
enum pop3_mech {
	POP3_MECH_PASS,		/* a password: USER/PASS, SASL PLAIN */
	POP3_MECH_APOP,		/* an APOP digest of the greeting's stamp */
};

/*
 * A piece of a multi-line answer: len bytes at p, or, when p is NULL, the
 * next len bytes to be read from the descriptor fd.
 */
struct pop3_piece {
	const uint8_t	*p;
	size_t		 len;
	int		 fd;
};

struct pop3_ops {
	int	(*login)(void *, enum pop3_mech, const char *, const char *,
		    char *, size_t);
	int	(*request)(void *, enum pop3_req, uint32_t, uint32_t, char *,
		    size_t);
	int	(*data)(void *, struct pop3_piece *);
	void	(*tls_done)(void *, const char *, const char *);
	int	(*gss_step)(void *, const uint8_t *, size_t, uint8_t *,
		    size_t, size_t *, char *, size_t);
	void	(*gss_cancel)(void *);
};

struct pop3_cfg {
	int		 cleartext;	/* enum cfg_cleartext */
	int		 tls_active;	/* implicit TLS port */
	int		 is_local;	/* client on a loopback address */
	int		 chunky;	/* enum cfg_chunky */
	SSL_CTX		*ctx;		/* NULL: no STLS */
	const char	*hostname;
	const char	*apop_stamp;	/* NULL: no APOP */
	int		 login_delay;	/* seconds; 0: not announced */
	const char	*expire;	/* EXPIRE's value, or NULL */
	const char	*client_host;	/* name or address, for log lines */
	const char	*client_addr;	/* numeric address */
	int		 gssapi;	/* SASL GSSAPI offered */
	int		 last_command;	/* LAST answered */
};

/* Parsed command line (proto/pop3_cmd.c). */
struct pop3_cmd {
	char	verb[5];
	int	argc;
	char	argv[2][POP_PASS_MAX + 1];
};

int	pop3_parse(const char *, size_t, struct pop3_cmd *, const char **);
int	pop3_msgno(const char *, uint32_t *);
int	pop3_user_ok(const char *);

/* SASL (proto/sasl.c). */
int	sasl_b64_decode(const char *, size_t, uint8_t *, size_t, size_t *);
int	sasl_b64_encode(const uint8_t *, size_t, char *, size_t);
int	sasl_plain_split(const uint8_t *, size_t, char *, size_t, char *,
	    size_t, char *, size_t);
void	pop3_run(struct conn *, const struct pop3_cfg *,
	    const struct pop3_ops *, void *);

#endif /* POPSEP_POP3_H */
