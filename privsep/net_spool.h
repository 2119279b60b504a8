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
 * Channel between the network child and the spool worker; it exists only
 * after authentication.  The spool worker checks every message number
 * against its own index; the network child relays the worker's text and
 * data to the client as they are (a compromised worker could only send
 * its own user's mail to its own user).
 *
 *   MSG_NS_REQ_STAT   (empty)                 -> ANS_OK "count octets"
 *   MSG_NS_REQ_LIST   u32 msgno (0 = all)     -> ANS_OK "n octets" | ANS_MULTI
 *   MSG_NS_REQ_UIDL   u32 msgno (0 = all)     -> ANS_OK "n uid"    | ANS_MULTI
 *   MSG_NS_REQ_RETR   u32 msgno               -> ANS_MULTI
 *   MSG_NS_REQ_TOP    u32 msgno, u32 lines    -> ANS_MULTI
 *   MSG_NS_REQ_DELE   u32 msgno               -> ANS_OK text
 *   MSG_NS_REQ_RSET   (empty)                 -> ANS_OK text
 *   MSG_NS_REQ_QUIT   (empty)                 -> no answer here: the worker
 *                     updates the mailbox and exits, and the monitor
 *                     answers (MSG_MN_ANS_QUIT on its own channel)
 *   any request                               -> ANS_ERR text
 *
 *   MSG_NS_ANS_MULTI  str status text, then MSG_NS_ANS_DATA frames,
 *                     then MSG_NS_ANS_END (the network child adds ".").
 *   MSG_NS_ANS_DATA   u32 n, 1 to MSG_DATA_CHUNK: the next n bytes of the
 *                     answer, ready for the wire (CRLF line ends,
 *                     dot-stuffed), follow in the data pipe.
 *
 * The data pipe, made by the monitor at login, carries nothing but those
 * bytes, one way: the worker writes each piece after its frame, and the
 * network child takes exactly n bytes for each frame, splicing them to
 * the client's socket in plain text (no copy of its own) or reading them
 * for TLS.  A worker that writes fewer bytes than it announced stalls its
 * own session until the client's idle timeout; more, and the next piece
 * starts with them: either way only its own user's answer is changed.
 */

#ifndef POPSEP_NET_SPOOL_H
#define POPSEP_NET_SPOOL_H

#include <stddef.h>

enum {
	MSG_NS_REQ_STAT = 0x0200,
	MSG_NS_REQ_LIST,
	MSG_NS_REQ_UIDL,
	MSG_NS_REQ_RETR,
	MSG_NS_REQ_TOP,
	MSG_NS_REQ_DELE,
	MSG_NS_REQ_RSET,
	MSG_NS_REQ_QUIT,
	MSG_NS_ANS_OK,
	MSG_NS_ANS_ERR,
	MSG_NS_ANS_MULTI,
	MSG_NS_ANS_DATA,
	MSG_NS_ANS_END,
};

/* Each receiver's table of this channel, for popsepd -P. */
struct msg_handler;
const struct msg_handler *msgtab_spool_net(size_t *);	/* spoolworker.c */
const struct msg_handler *msgtab_net_spool(size_t *);	/* netchild.c */

#endif /* POPSEP_NET_SPOOL_H */
