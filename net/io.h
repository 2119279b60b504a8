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
 * Buffered client I/O, plain or TLS, for the network child.  Input is
 * held in a fixed buffer (POP_INBUF_MAX) and split into lines; output is
 * gathered and written in large pieces so that a reply never waits on a
 * delayed ACK.  Trusts nothing that arrives from the client.
 */

#ifndef POPSEP_IO_H
#define POPSEP_IO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "params.h"

struct conn {
	int		 fd;
	SSL		*ssl;
	int		 timeout;	/* seconds */
	int		 chunky;	/* gather output */
	int		 discarding;	/* dropping an over-long line */
	int		 eof;
	size_t		 inlen;
	uint8_t		 in[POP_INBUF_MAX];
	size_t		 outlen;
	uint8_t		 out[POP_OUTBUF_FLUSH + POP_LINE_MAX];
};

enum conn_line {
	LINE_OK = 1,
	LINE_NEED_MORE = 0,
	LINE_TOO_LONG = -1,
};

void	conn_init(struct conn *, int, int);
int	conn_fill(struct conn *);
int	conn_getline(struct conn *, char *, size_t, size_t *);
int	conn_has_line(const struct conn *);
int	conn_write(struct conn *, const void *, size_t);
int	conn_write_from(struct conn *, int, size_t);
int	conn_printf(struct conn *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	conn_flush(struct conn *);
int	conn_start_tls(struct conn *, SSL_CTX *);
void	conn_close(struct conn *);

#endif /* POPSEP_IO_H */
