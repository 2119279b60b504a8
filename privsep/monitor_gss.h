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
 * Channel between the session monitor (root) and the GSSAPI acceptor, its
 * child (root), which lives for one SASL GSSAPI exchange and is the only
 * process that makes GSSAPI calls.  The tokens the monitor relays are the
 * client's, through the network child: hostile.  The acceptor's answers
 * are checked by the monitor like any child's.
 *
 *   MSG_MG_REQ_TOKEN     data token (<= GSS_TOKEN_MAX)   mon -> gss
 *       one client response, decoded from base64 by the network child.
 *   MSG_MG_ANS_CONTINUE  data token (<= GSS_TOKEN_MAX)   gss -> mon
 *       the next challenge for the client.
 *   MSG_MG_ANS_DONE      str user                        gss -> mon
 *       the client proved a principal whose local user is user, and
 *       asked to act for no one else; the acceptor exits.
 *   MSG_MG_ANS_FAIL      (empty)                         gss -> mon
 *       the exchange failed (logged); the acceptor exits.
 */

#ifndef POPSEP_MONITOR_GSS_H
#define POPSEP_MONITOR_GSS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum {
	MSG_MG_REQ_TOKEN = 0x0600,
	MSG_MG_ANS_CONTINUE,
	MSG_MG_ANS_DONE,
	MSG_MG_ANS_FAIL,
};

/* The monitor's side (privsep/gssproc.c). */
struct gss_proc {
	pid_t	pid;
	int	fd;
	int	rounds;		/* client tokens relayed */
};

int	gssproc_start(const struct config *, struct gss_proc *);
int	gssproc_step(struct gss_proc *, const uint8_t *, size_t, uint8_t *,
	    size_t, size_t *, char *, size_t);
void	gssproc_stop(struct gss_proc *);

/* Each receiver's table of this channel (gssproc.c), for popsepd -P. */
struct msg_handler;
const struct msg_handler *msgtab_monitor_gss(size_t *);
const struct msg_handler *msgtab_gss_monitor(size_t *);

#endif /* POPSEP_MONITOR_GSS_H */
