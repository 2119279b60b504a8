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
 * Channel between the session monitor (root) and the network child
 * (_popsep, chroot, seccomp).  The monitor treats every frame as hostile:
 * the network child parses client bytes and may be compromised.
 *
 *   MSG_MN_REQ_LOG        u8 priority, data line (no NUL)  net -> mon
 *   MSG_MN_REQ_AUTH_PASS  str user, str password           net -> mon
 *       from USER/PASS and from SASL PLAIN alike.
 *   MSG_MN_REQ_AUTH_APOP  str user, str digest (32 lower-case hex digits)
 *       of the greeting's timestamp, which the monitor made; at most one
 *       per connection.                                  net -> mon
 *   MSG_MN_REQ_AUTH_GSS   data token (<= GSS_TOKEN_MAX)    net -> mon
 *       one client response of SASL GSSAPI (RFC 4752), decoded from
 *       base64; the first starts an exchange, at most GSS_EXCHANGES_MAX
 *       per connection, each of at most GSS_ROUNDS_MAX tokens.  Answered
 *       by MSG_MN_ANS_GSS while the exchange goes on, by MSG_MN_ANS_AUTH
 *       when it ends.
 *   MSG_MN_REQ_AUTH_GSS_CANCEL  (empty)                    net -> mon
 *       the client ended the exchange ("*", or a response that is not
 *       base64 or too long); no answer.
 *   MSG_MN_ANS_GSS        data token (<= GSS_TOKEN_MAX)    mon -> net
 *       the next challenge, for the network child to send in base64.
 *   MSG_MN_ANS_AUTH       u8 result, str text [, fd]       mon -> net
 *       the answer to any AUTH request.
 *       result MN_AUTH_OK carries the descriptor of the channel to the
 *       spool worker and, as text, the name of the user logged in, and
 *       is followed by MSG_MN_ANS_DATA_PIPE; text is the RFC 3206 code
 *       and reason otherwise.
 *   MSG_MN_ANS_DATA_PIPE  (empty), fd                      mon -> net
 *       right after MSG_MN_ANS_AUTH with MN_AUTH_OK, only then: the read
 *       end of the data pipe, whose write end the spool worker holds;
 *       the bytes of multi-line answers come through it (net_spool.h).
 *   MSG_MN_REQ_TLS_SIGN   u8 key id, u16 TLS SignatureScheme,
 *                         data to-be-signed (<= KEY_TBS_MAX)  net -> mon
 *   MSG_MN_ANS_TLS_SIGN   u32 status (0 = signed), data signature
 *   MSG_MN_REQ_TLS_DONE   str protocol version, str cipher (each at most
 *                         TLS_NAME_MAX - 1 bytes, for the session's log
 *                         line): the handshake finished; the monitor
 *                         relays no signature request after this one.
 *   MSG_MN_ANS_QUIT       u8 result (MN_QUIT_OK, MN_QUIT_ERR), str text
 *       sent once, when the spool worker is gone and the mailbox's locks
 *       are released; the network child reads it as the answer to QUIT.
 *       The text says only what the monitor knows to be true.
 *   MSG_MN_REQ_PROXY      u8 status (enum proxy_status of net/proxy.h),
 *                         str client address (numeric; empty unless
 *                         PROXY_HDR_OK)                      net -> mon
 *       what the PROXY protocol header said: only on a proxy listener,
 *       once, before any other frame but LOG.  With PROXY_HDR_OK or
 *       PROXY_HDR_LOCAL the network child waits for the answer; with
 *       any other status it closes the connection.
 *   MSG_MN_ANS_PROXY      u8 result (MN_PROXY_GO, MN_PROXY_REFUSED),
 *                         str reply for a refused client, u8 the client
 *                         is local, str client address, str client name
 *                                                            mon -> net
 */

#ifndef POPSEP_MONITOR_NET_H
#define POPSEP_MONITOR_NET_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"

enum {
	MSG_MN_REQ_LOG = 0x0100,
	MSG_MN_REQ_AUTH_PASS,
	MSG_MN_ANS_AUTH,
	MSG_MN_REQ_TLS_SIGN,
	MSG_MN_ANS_TLS_SIGN,
	MSG_MN_REQ_TLS_DONE,
	MSG_MN_ANS_QUIT,
	MSG_MN_REQ_AUTH_APOP,
	MSG_MN_REQ_AUTH_GSS,
	MSG_MN_REQ_AUTH_GSS_CANCEL,
	MSG_MN_ANS_GSS,
	MSG_MN_REQ_PROXY,
	MSG_MN_ANS_PROXY,
	MSG_MN_ANS_DATA_PIPE,
};

enum { MN_PROXY_GO = 0, MN_PROXY_REFUSED = 1 };

/* The client as the monitor recorded it, and a refusal's reply. */
#define MN_ADDR_MAX	64	/* the client's address, NUL too */
#define MN_HOST_MAX	256	/* its name, NUL too */

struct mn_client {
	int	 is_local;
	char	 addr[MN_ADDR_MAX];
	char	 host[MN_HOST_MAX];
	char	 text[POP_LINE_MAX];
};

enum { MN_QUIT_OK = 0, MN_QUIT_ERR = 1 };

enum mn_auth_result {
	MN_AUTH_OK = 0,
	MN_AUTH_FAIL,		/* wrong user or password: one answer for both */
	MN_AUTH_IN_USE,		/* mailbox locked by another session */
	MN_AUTH_SYS,		/* temporary failure on our side */
	MN_AUTH_CONTINUE,	/* mon_req_auth_gss(): a challenge came */
};

/* What a login gives the network child: its two links to the worker. */
struct mn_spool {
	int	 channel;	/* frames, both ways */
	int	 data;		/* the data pipe's read end */
};

struct tls_sign_req;

/* Network child side (privsep/monitor_wrap.c). */
void	mon_req_log(int, int, const char *);
int	mon_req_auth(int, uint16_t, const char *, const char *, char *,
	    size_t, struct mn_spool *);
int	mon_req_auth_gss(int, const uint8_t *, size_t, uint8_t *, size_t,
	    size_t *, char *, size_t, struct mn_spool *);
void	mon_req_auth_gss_cancel(int);
int	mon_req_tls_sign(void *, const struct tls_sign_req *, uint8_t *,
	    size_t *);
void	mon_req_tls_done(int, const char *, const char *);
int	mon_get_quit_answer(int, char *, size_t);
int	mon_req_proxy(int, int, const char *, struct mn_client *);

/* Each receiver's table of this channel, for popsepd -P. */
struct msg_handler;
const struct msg_handler *msgtab_monitor_net(size_t *);	/* monitor.c */
const struct msg_handler *msgtab_net_monitor(size_t *);	/* monitor_wrap.c */

#endif /* POPSEP_MONITOR_NET_H */
