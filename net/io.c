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
 * Runs in the network child only, under its seccomp filter: read, write,
 * splice, poll, madvise.  Every byte from the client is untrusted; lines
 * longer than the buffer are reported and skipped, never grown into.
 * Message data comes from the spool worker's data pipe, which
 * conn_write_from() moves to the client.
 */

#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "io.h"
#include "log.h"

static int	wait_fd(struct conn *, short);
static void	tls_piece_release(void);

void
conn_init(struct conn *c, int fd, int timeout)
{
	/*
	 * The buffers are left as they are: inlen and outlen bound every
	 * read of them, and zeroing 33 KiB would only dirty the pages of an
	 * idle session.
	 */
	c->ssl = NULL;
	c->discarding = 0;
	c->eof = 0;
	c->inlen = 0;
	c->outlen = 0;
	c->fd = fd;
	c->timeout = timeout;
	c->chunky = 1;
}

static int
wait_fd(struct conn *c, short ev)
{
	struct pollfd	pfd;
	int		rc;

	pfd.fd = c->fd;
	pfd.events = ev;
	do {
		rc = poll(&pfd, 1, c->timeout * 1000);
	} while (rc == -1 && errno == EINTR);
	if (rc == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	return rc == -1 ? -1 : 0;
}

/*
 * Read more client bytes.  Returns the number read, 0 at end of file, -1
 * on error or timeout (errno ETIMEDOUT).
 */
int
conn_fill(struct conn *c)
{
	size_t	room = sizeof(c->in) - c->inlen;
	ssize_t	n;
	int	rc, err;

	if (room == 0)
		bug("%s: input buffer full", __func__);
	tls_piece_release();
	for (;;) {
		if (c->ssl == NULL || SSL_pending(c->ssl) == 0)
			if (wait_fd(c, POLLIN) == -1)
				return -1;
		if (c->ssl == NULL) {
			n = read(c->fd, c->in + c->inlen, room);
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				c->eof = 1;
				return (int)n;
			}
			c->inlen += (size_t)n;
			return (int)n;
		}
		ERR_clear_error();
		rc = SSL_read(c->ssl, c->in + c->inlen, (int)room);
		if (rc > 0) {
			c->inlen += (size_t)rc;
			return rc;
		}
		err = SSL_get_error(c->ssl, rc);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
			continue;
		c->eof = 1;
		return err == SSL_ERROR_ZERO_RETURN ? 0 : -1;
	}
}

int
conn_has_line(const struct conn *c)
{
	return memchr(c->in, '\n', c->inlen) != NULL;
}

/*
 * Take one line (without CRLF or LF) out of the input buffer.  A line
 * that does not fit max or the buffer is skipped up to its newline and
 * reported once as LINE_TOO_LONG.
 */
int
conn_getline(struct conn *c, char *line, size_t max, size_t *len_r)
{
	uint8_t	*nl;
	size_t	 n, take;

	nl = memchr(c->in, '\n', c->inlen);
	if (nl == NULL) {
		if (c->inlen < sizeof(c->in))
			return LINE_NEED_MORE;
		/* Full buffer, no newline: drop it and keep dropping. */
		c->inlen = 0;
		if (c->discarding)
			return LINE_NEED_MORE;
		c->discarding = 1;
		return LINE_TOO_LONG;
	}
	take = (size_t)(nl - c->in) + 1;
	n = take - 1;
	if (n > 0 && c->in[n - 1] == '\r')
		n--;
	if (c->discarding) {
		c->discarding = 0;
		memmove(c->in, c->in + take, c->inlen - take);
		c->inlen -= take;
		return conn_getline(c, line, max, len_r);
	}
	if (n >= max) {
		memmove(c->in, c->in + take, c->inlen - take);
		c->inlen -= take;
		return LINE_TOO_LONG;
	}
	memcpy(line, c->in, n);
	line[n] = '\0';
	*len_r = n;
	memmove(c->in, c->in + take, c->inlen - take);
	c->inlen -= take;
	/* The line may hold a password: leave no copy behind the data. */
	explicit_bzero(c->in + c->inlen, take);
	return LINE_OK;
}

static int
write_all(struct conn *c, const uint8_t *p, size_t len)
{
	ssize_t	n;
	int	rc, err;

	while (len > 0) {
		if (c->ssl == NULL) {
			n = write(c->fd, p, len);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && errno == EAGAIN) {
				if (wait_fd(c, POLLOUT) == -1)
					return -1;
				continue;
			}
			if (n <= 0)
				return -1;
			p += n;
			len -= (size_t)n;
			continue;
		}
		ERR_clear_error();
		rc = SSL_write(c->ssl, p, len > INT32_MAX ? INT32_MAX :
		    (int)len);
		if (rc > 0) {
			p += rc;
			len -= (size_t)rc;
			continue;
		}
		err = SSL_get_error(c->ssl, rc);
		if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
			if (wait_fd(c, err == SSL_ERROR_WANT_WRITE ? POLLOUT :
			    POLLIN) == -1)
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

int
conn_flush(struct conn *c)
{
	int	rc;

	if (c->outlen == 0)
		return 0;
	rc = write_all(c, c->out, c->outlen);
	c->outlen = 0;
	return rc;
}

/*
 * Queue bytes; a full buffer is written at once, in one piece.  A large
 * piece (message data) that would not fit goes out from where it is,
 * after what is queued, without a copy into the buffer.
 */
int
conn_write(struct conn *c, const void *p, size_t len)
{
	const uint8_t	*b = p;
	size_t		 room;

	if (len >= POP_OUTBUF_FLUSH && c->outlen + len > sizeof(c->out))
		return conn_flush(c) == -1 ? -1 : write_all(c, b, len);

	while (len > 0) {
		room = sizeof(c->out) - c->outlen;
		if (room == 0) {
			if (conn_flush(c) == -1)
				return -1;
			continue;
		}
		if (room > len)
			room = len;
		memcpy(c->out + c->outlen, b, room);
		c->outlen += room;
		b += room;
		len -= room;
	}
	if (c->outlen >= POP_OUTBUF_FLUSH)
		return conn_flush(c);
	return 0;
}

/* Exactly n bytes of the pipe fd into p: 0, or -1 (EPIPE at its end). */
static int
read_exact(int fd, uint8_t *p, size_t n)
{
	ssize_t	k;

	while (n > 0) {
		k = read(fd, p, n);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == 0)
			errno = EPIPE;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* n bytes of fd appended to what is queued: all, or -1. */
static int
queue_from(struct conn *c, int fd, size_t n)
{
	if (read_exact(fd, c->out + c->outlen, n) == -1)
		return -1;
	c->outlen += n;
	return c->outlen >= POP_OUTBUF_FLUSH ? conn_flush(c) : 0;
}

/* n bytes of the pipe fd spliced to the plain-text socket: 0, or -1. */
static int
splice_all(struct conn *c, int fd, size_t n)
{
	ssize_t	k;

	while (n > 0) {
		k = splice(fd, NULL, c->fd, NULL, n, SPLICE_F_MOVE |
		    SPLICE_F_MORE);
		if (k == -1 && errno == EINTR)
			continue;
		/* The socket's send timeout (SO_SNDTIMEO) ran out. */
		if (k == -1 && errno == EAGAIN) {
			if (wait_fd(c, POLLOUT) == -1)
				return -1;
			continue;
		}
		if (k == 0)
			errno = EPIPE;
		if (k <= 0)
			return -1;
		n -= (size_t)k;
	}
	return 0;
}

/*
 * A piece for TLS, read whole from the data pipe: one read() and one
 * SSL_write() (which cuts it into records of 16 KiB) for up to
 * MSG_DATA_CHUNK bytes, not one of each per record.  Its pages are given
 * back before the child next waits for the client (conn_fill()), so that
 * an idle session holds none of them.
 */
static uint8_t	tls_piece[MSG_DATA_CHUNK] __attribute__((aligned(4096)));
static int	tls_piece_used;

static int
tls_from(struct conn *c, int fd, size_t n)
{
	if (n > sizeof(tls_piece))
		bug("%s: a piece of %zu bytes", __func__, n);
	tls_piece_used = 1;
	if (read_exact(fd, tls_piece, n) == -1)
		return -1;
	return write_all(c, tls_piece, n);
}

static void
tls_piece_release(void)
{
	if (!tls_piece_used)
		return;
	tls_piece_used = 0;
	if (madvise(tls_piece, sizeof(tls_piece), MADV_DONTNEED) == -1)
		log_warn("madvise");
}

/*
 * n bytes that wait in the descriptor fd (the data pipe), written after
 * what is queued.  A small piece is queued as conn_write() would queue
 * it, so that a short answer still leaves in one write with its status
 * line.  A large one, in plain text, is spliced to the socket: the kernel
 * hands the pipe's pages to TCP, and this process never copies them.
 * For TLS it is read whole (tls_from()) and encrypted from there.  A
 * pipe whose writer is gone before n bytes came is an error.
 */
int
conn_write_from(struct conn *c, int fd, size_t n)
{
	if (n < POP_OUTBUF_FLUSH && c->outlen + n <= sizeof(c->out))
		return queue_from(c, fd, n);
	if (conn_flush(c) == -1)
		return -1;
	if (c->ssl == NULL)
		return splice_all(c, fd, n);
	return tls_from(c, fd, n);
}

int
conn_printf(struct conn *c, const char *fmt, ...)
{
	char	buf[POP_LINE_MAX];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(buf))
		bug("%s: reply line too long", __func__);
	if (conn_write(c, buf, (size_t)n) == -1)
		return -1;
	return c->chunky ? 0 : conn_flush(c);
}

/*
 * Start TLS on the connection.  Any bytes the client sent after STLS and
 * before the handshake are dropped (RFC 2595 section 4; a plaintext
 * command must never be executed as if it had come over TLS).
 */
int
conn_start_tls(struct conn *c, SSL_CTX *ctx)
{
	int	rc, err;

	c->inlen = 0;
	c->discarding = 0;
	if ((c->ssl = SSL_new(ctx)) == NULL)
		return -1;
	if (SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	for (;;) {
		ERR_clear_error();
		rc = SSL_accept(c->ssl);
		if (rc == 1)
			return 0;
		err = SSL_get_error(c->ssl, rc);
		if (err == SSL_ERROR_WANT_READ) {
			if (wait_fd(c, POLLIN) == -1)
				return -1;
			continue;
		}
		if (err == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(c, POLLOUT) == -1)
				return -1;
			continue;
		}
		log_debug("TLS handshake failed: %s",
		    ERR_reason_error_string(ERR_peek_last_error()) ?
		    ERR_reason_error_string(ERR_peek_last_error()) : "eof");
		return -1;
	}
}

void
conn_close(struct conn *c)
{
	(void)conn_flush(c);
	if (c->ssl != NULL) {
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	shutdown(c->fd, SHUT_RDWR);
}
