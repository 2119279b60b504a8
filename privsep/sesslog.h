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
 * The end-of-session line of the session monitor (privsep/sesslog.c).
 */

#ifndef POPSEP_SESSLOG_H
#define POPSEP_SESSLOG_H

#include <stdint.h>

#include "config.h"
#include "params.h"

#define SESSLOG_LINE_MAX	1024

struct sesslog {
	const char	*reason;	/* quit, update-failed, dropped, ... */
	char		 user[POP_USER_MAX + 1];
	char		 mech[16];	/* pam, passwd-file, apop; "" none */
	char		 rip[64];	/* the client's address */
	char		 pip[64];	/* the proxy's; "" without one */
	char		 tls_version[TLS_NAME_MAX];	/* "" without TLS */
	char		 tls_cipher[TLS_NAME_MAX];
	uint32_t	 retr_n, top_n, del_n, left_n;
	uint64_t	 retr_bytes, top_bytes, del_bytes, left_bytes;
	uint64_t	 lock_wait_ms, update_ms;
};

void	sesslog_emit(const struct config *, const char *,
	    const struct sesslog *);

#endif /* POPSEP_SESSLOG_H */
