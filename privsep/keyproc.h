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
 * The key process: the only process of popsep that reads a TLS private
 * key.  Channels:
 *
 * master <-> key process (one, for the life of the key process):
 *   MSG_KEY_ANS_CERT   u8 key id, data PEM certificate chain  key -> master
 *   MSG_KEY_ANS_READY  u32 number of keys                     key -> master
 *   MSG_KEY_ANS_FAIL   str reason                             key -> master
 *   MSG_KEY_REQ_LOG    u8 priority, data line                 key -> master
 *   MSG_KEY_REQ_CONN   str session id, str client address,
 *                      fd: a new connection                   master -> key
 *
 * session monitor <-> key process (one per connection, the fd passed in
 * MSG_KEY_REQ_CONN):
 *   MSG_KEY_REQ_SIGN   u8 key id, u16 TLS SignatureScheme,
 *                      data to-be-signed (<= KEY_TBS_MAX)      mon -> key
 *   MSG_KEY_ANS_SIGN   u32 status (0 = signed), data signature key -> mon
 *
 * The key process signs at most one request per connection, only the TLS
 * server handshake shapes of privsep/keysign.c, under a global rate limit
 * and one per client address.
 */

#ifndef POPSEP_KEYPROC_H
#define POPSEP_KEYPROC_H

#include <sys/types.h>

#include "config.h"
#include "msg.h"

enum {
	MSG_KEY_ANS_CERT = 0x0400,
	MSG_KEY_ANS_READY,
	MSG_KEY_ANS_FAIL,
	MSG_KEY_REQ_LOG,
	MSG_KEY_REQ_CONN,
	MSG_KEY_REQ_SIGN,
	MSG_KEY_ANS_SIGN,
};

enum key_sign_status {
	KEY_SIGN_OK = 0,
	KEY_SIGN_REFUSED,	/* policy: shape, scheme, hash, once, rate */
	KEY_SIGN_FAILED,	/* OpenSSL could not sign */
};

/* The public half the master builds its TLS context from. */
struct key_certs {
	size_t	 n;
	char	*pem[KEY_MAX_KEYS];
	size_t	 len[KEY_MAX_KEYS];
};

pid_t	keyproc_spawn(const struct config *, int *);
int	keyproc_recv_certs(int, struct key_certs *);
void	keyproc_free_certs(struct key_certs *);
int	keyproc_new_conn(int, const char *, const char *);

#define KEY_SESSION_LEN	17	/* a session id, NUL too */
#define KEY_ADDR_LEN	64	/* a client address, NUL too */
#define KEY_FAIL_LEN	512	/* why the keys could not be loaded */

/* The master's states for msgtab_master_key(): loading, then serving. */
enum { KEY_ST_LOADING = 0x01, KEY_ST_RUNNING = 0x02 };

/* Each receiver's table of these channels, for popsepd -P. */
const struct msg_handler *msgtab_master_key(size_t *);	/* keyproc.c */
const struct msg_handler *msgtab_key_master(size_t *);	/* keyproc.c */
const struct msg_handler *msgtab_key_monitor(size_t *);	/* keyproc.c */
const struct msg_handler *msgtab_monitor_key(size_t *);	/* monitor.c */


#endif /* POPSEP_KEYPROC_H */
