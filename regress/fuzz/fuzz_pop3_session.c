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
 * libFuzzer target for the network child's client side as a whole: the
 * line reader of net/io.c (conn_fill, conn_getline) under the POP3 state
 * machine of proto/pop3.c (pop3_run), on a real struct conn.  The input
 * is the client:
 *
 *	byte 0		flags: bit 0 an APOP stamp in the greeting, bit 1
 *			gathered output (chunky), bit 2 LOGIN-DELAY and
 *			EXPIRE announced
 *	byte 1		k, then k bytes: the sizes of the pieces the client
 *			bytes are sent in, used in turn (each plus one);
 *			k = 0 sends them in one piece
 *	the rest	the client bytes
 *
 * A thread plays the client on the other end of a SOCK_SEQPACKET
 * socketpair, so that each piece arrives as one read, whatever the
 * timing: it sends the pieces, shuts its write side down and reads every
 * reply until the server closes.  The backend is a fake: one user and
 * password (or APOP digest) log in, the mailbox answers with canned
 * replies.  Trusts nothing in the input; checked besides the sanitizers
 * are the promises of the server: the session ends at the client's end
 * of file without waiting for the timeout; no mailbox request comes
 * before a successful login; every reply line ends in CRLF, is at most
 * POP_LINE_MAX bytes and holds no NUL; every status line is "+OK",
 * "-ERR" or a SASL "+ " challenge, of printable text; every other line
 * is in a multi-line body after a "+OK" and ending in a "." line, which
 * only an interrupted message may lack; nothing follows a closing reply.
 */

#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "io.h"
#include "log.h"
#include "params.h"
#include "pop3.h"
#include "fuzz.h"

#define IN_MAX		(64 * 1024)
#define OUT_MAX		(8 * 1024 * 1024)

#define FUZZ_USER	"alice"
#define FUZZ_SECRET	"secret"
#define FUZZ_DIGEST	"c4c9334bac560ecc979e58001b3e22fb"
#define FUZZ_BUSY	"bob"

/* The client thread: what it sends, in which pieces, what it got. */
struct client {
	int		 fd;
	const uint8_t	*in;
	size_t		 inlen;
	const uint8_t	*sizes;
	size_t		 nsizes;
	uint8_t		*out;
	size_t		 outlen;
	int		 overflow;
};

/* The fake backend's state. */
struct backend {
	int		 logged_in;
	int		 interrupted;	/* a data() stream ended in -1 */
	int		 multis;	/* POP3_ANS_MULTI answers given */
	const char	*const *chunks;
	int		 next;
	int		 fail_at;	/* data() returns -1 there, or -1 */
};

static const char *const list_chunks[] = {
	"1 120\r\n", "2 180\r\n", NULL
};
static const char *const uidl_chunks[] = {
	"1 uid-one\r\n", "2 uid-two\r\n", NULL
};
static const char *const msg_chunks[] = {
	"Subject: hello\r\nFrom: a@example.org\r\n", "\r\n",
	"first body line\r\n..a stuffed dot\r\n", "last line\r\n", NULL
};

static int
fake_login(void *arg, enum pop3_mech mech, const char *user,
    const char *secret, char *text, size_t len)
{
	struct backend	*b = arg;
	int		 right;

	ASSERT(pop3_user_ok(user));
	ASSERT(strlen(secret) <= POP_PASS_MAX);
	ASSERT(!b->logged_in);
	if (mech == POP3_MECH_APOP)
		right = strcmp(secret, FUZZ_DIGEST) == 0;
	else
		right = strcmp(secret, FUZZ_SECRET) == 0;
	if (right && strcmp(user, FUZZ_BUSY) == 0) {
		snprintf(text, len, "[IN-USE] mailbox is open in another POP3 "
		    "session");
		return POP3_AUTH_IN_USE;
	}
	if (right && strcmp(user, FUZZ_USER) == 0) {
		b->logged_in = 1;
		text[0] = '\0';
		return POP3_AUTH_OK;
	}
	snprintf(text, len, "[AUTH] Password supplied for \"%s\" is incorrect.",
	    user);
	return POP3_AUTH_FAIL;
}

static int
multi(struct backend *b, const char *const *chunks, int fail_at, char *text,
    size_t len, const char *what)
{
	b->chunks = chunks;
	b->next = 0;
	b->fail_at = fail_at;
	b->multis++;
	snprintf(text, len, "%s", what);
	return POP3_ANS_MULTI;
}

/* Messages 1 and 2 exist, 3 breaks off while sent, 4 loses the worker. */
static int
fake_request(void *arg, enum pop3_req req, uint32_t n, uint32_t lines,
    char *text, size_t len)
{
	struct backend	*b = arg;

	(void)lines;
	/* Nothing of the mailbox before the login succeeded. */
	ASSERT(b->logged_in);
	ASSERT(req == POP3_REQ_STAT || req == POP3_REQ_RSET ||
	    req == POP3_REQ_QUIT || req == POP3_REQ_LIST ||
	    req == POP3_REQ_UIDL || (n >= 1 && n <= SPOOL_MSGS_MAX));
	if (n == 4)
		return POP3_ANS_BROKEN;
	switch (req) {
	case POP3_REQ_STAT:
		snprintf(text, len, "2 300");
		return POP3_ANS_OK;
	case POP3_REQ_LIST:
	case POP3_REQ_UIDL:
		if (n == 0)
			return multi(b, req == POP3_REQ_LIST ? list_chunks :
			    uidl_chunks, -1, text, len, "2 messages");
		if (n > 2)
			break;
		if (req == POP3_REQ_LIST)
			snprintf(text, len, "%u %u", n, n == 1 ? 120 : 180);
		else
			snprintf(text, len, "%u uid-%s", n, n == 1 ? "one" :
			    "two");
		return POP3_ANS_OK;
	case POP3_REQ_RETR:
	case POP3_REQ_TOP:
		if (n > 3)
			break;
		return multi(b, msg_chunks, n == 3 ? 2 : -1, text, len,
		    "message follows");
	case POP3_REQ_DELE:
		if (n > 2)
			break;
		snprintf(text, len, "Message %u has been deleted.", n);
		return POP3_ANS_OK;
	case POP3_REQ_RSET:
	case POP3_REQ_QUIT:
		text[0] = '\0';
		return POP3_ANS_OK;
	}
	snprintf(text, len, "No such message");
	return POP3_ANS_ERR;
}

/*
 * The pieces alternate as the network child gets them: bytes in memory,
 * and bytes waiting in a pipe (the data pipe), which conn_write_from()
 * splices to the socket.
 */
static int
fake_data(void *arg, struct pop3_piece *pc)
{
	static int	 pfd[2] = { -1, -1 };
	struct backend	*b = arg;
	const char	*c;
	size_t		 len;

	ASSERT(b->chunks != NULL);
	if (b->next == b->fail_at) {
		b->chunks = NULL;
		b->interrupted = 1;
		return -1;
	}
	if ((c = b->chunks[b->next]) == NULL) {
		b->chunks = NULL;
		return 0;
	}
	b->next++;
	len = strlen(c);
	pc->p = (const uint8_t *)c;
	pc->len = len;
	pc->fd = -1;
	if (b->next % 2 == 0) {
		if (pfd[0] == -1 && pipe(pfd) == -1)
			abort();
		/* A canned piece is far smaller than the pipe's room. */
		if (write(pfd[1], c, len) != (ssize_t)len)
			abort();
		pc->p = NULL;
		pc->fd = pfd[0];
	}
	return 1;
}

static void
fake_tls_done(void *arg, const char *version, const char *cipher)
{
	(void)arg;
	(void)version;
	(void)cipher;
	/* No TLS context is configured: STLS never gets this far. */
	ASSERT(0);
}

/*
 * GSSAPI as the monitor would answer: a token that starts with 'c' gets a
 * challenge of its own bytes back, "ok" logs alice in, anything else
 * fails.
 */
static int
fake_gss_step(void *arg, const uint8_t *tok, size_t len, uint8_t *out,
    size_t outmax, size_t *outlen, char *text, size_t textlen)
{
	struct backend	*b = arg;

	ASSERT(len <= SASL_LINE_MAX);
	ASSERT(!b->logged_in);
	if (len > 0 && tok[0] == 'c') {
		*outlen = len < outmax ? len : outmax;
		memcpy(out, tok, *outlen);
		return POP3_AUTH_CONTINUE;
	}
	if (len == 2 && memcmp(tok, "ok", 2) == 0) {
		strlcpy(text, "alice", textlen);
		b->logged_in = 1;
		return POP3_AUTH_OK;
	}
	strlcpy(text, "[AUTH] GSSAPI credentials not accepted.", textlen);
	return POP3_AUTH_FAIL;
}

static void
fake_gss_cancel(void *arg)
{
	(void)arg;
}

static const struct pop3_ops fake_ops = {
	fake_login, fake_request, fake_data, fake_tls_done, fake_gss_step,
	fake_gss_cancel
};

/* Sends the pieces, then shuts its side; reads until the server closes. */
static void *
client_main(void *arg)
{
	struct client	*cl = arg;
	struct pollfd	 pfd;
	size_t		 sent = 0, piece, i = 0;
	ssize_t		 n;
	int		 writing = 1;

	if (cl->inlen == 0) {
		shutdown(cl->fd, SHUT_WR);
		writing = 0;
	}
	for (;;) {
		pfd.fd = cl->fd;
		pfd.events = POLLIN | (writing ? POLLOUT : 0);
		if (poll(&pfd, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			abort();
		}
		if (writing && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
			piece = cl->inlen - sent;
			if (cl->nsizes > 0 &&
			    piece > (size_t)cl->sizes[i % cl->nsizes] + 1)
				piece = (size_t)cl->sizes[i % cl->nsizes] + 1;
			n = send(cl->fd, cl->in + sent, piece,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n == -1 && errno != EAGAIN && errno != EINTR) {
				/* The server is gone: the rest is unread. */
				writing = 0;
			} else if (n > 0) {
				sent += (size_t)n;
				i++;
				if (sent == cl->inlen) {
					shutdown(cl->fd, SHUT_WR);
					writing = 0;
				}
			}
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t	buf[65536];

			n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n == 0)
				break;
			if (n == -1) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				break;
			}
			if (cl->outlen + (size_t)n > OUT_MAX) {
				cl->overflow = 1;
				continue;
			}
			memcpy(cl->out + cl->outlen, buf, (size_t)n);
			cl->outlen += (size_t)n;
		}
	}
	return NULL;
}

static int
is_status(const uint8_t *l, size_t n)
{
	size_t	i;

	if (n >= 5 && memcmp(l, "+OK", 3) == 0 &&
	    (l[3] == ' ' || l[3] == '\r'))
		return 1;
	if (n >= 6 && memcmp(l, "-ERR", 4) == 0 &&
	    (l[4] == ' ' || l[4] == '\r'))
		return 1;
	/* A SASL challenge: "+ ", base64, CRLF. */
	if (n < 4 || memcmp(l, "+ ", 2) != 0)
		return 0;
	for (i = 2; i + 2 < n; i++)
		if (!isalnum(l[i]) && l[i] != '+' && l[i] != '/' &&
		    l[i] != '=')
			return 0;
	return 1;
}

static int
is_closing(const uint8_t *l, size_t n)
{
	return memmem(l, n, "signing off.", 12) != NULL ||
	    memmem(l, n, "Too many errors, closing", 24) != NULL;
}

/* The promises of the replies, from the client's side. */
static void
check_replies(const struct client *cl, const struct backend *b)
{
	const uint8_t	*p = cl->out, *end = cl->out + cl->outlen, *nl;
	size_t		 n, i;
	int		 first = 1, in_body = 0, after_ok = 0, closed = 0;
	int		 dots = 0;

	ASSERT(!cl->overflow);
	ASSERT(memchr(p, '\0', cl->outlen) == NULL);
	ASSERT(cl->outlen > 0 && end[-1] == '\n');
	for (; p < end; p += n) {
		nl = memchr(p, '\n', (size_t)(end - p));
		ASSERT(nl != NULL);
		n = (size_t)(nl - p) + 1;
		ASSERT(n >= 2 && p[n - 2] == '\r');
		ASSERT(n <= POP_LINE_MAX);
		/* A closing reply is the last thing sent. */
		ASSERT(!closed);
		if (first) {
			ASSERT(n > 18 && memcmp(p, "+OK popsep ", 11) == 0);
			first = 0;
			after_ok = 1;
			continue;
		}
		if (in_body) {
			if (n == 3 && p[0] == '.') {
				in_body = 0;
				dots++;
			}
			continue;
		}
		if (is_status(p, n)) {
			for (i = 0; i + 2 < n; i++)
				ASSERT(p[i] >= 0x20 && p[i] < 0x7f);
			ASSERT(memmem(p, n, "POP timeout", 11) == NULL);
			after_ok = p[0] == '+' && p[1] == 'O';
			closed = is_closing(p, n);
			continue;
		}
		/* A body line: only right after a "+OK". */
		ASSERT(after_ok);
		after_ok = 0;
		if (n == 3 && p[0] == '.') {
			dots++;
			continue;
		}
		in_body = 1;
	}
	ASSERT(!in_body || b->interrupted);
	if (!b->interrupted)
		ASSERT(dots >= b->multis);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t		*out;
	struct conn		*c;
	struct client		 cl;
	struct backend		 b;
	struct pop3_cfg		 cf;
	pthread_t		 th;
	int			 sv[2];
	uint8_t			 flags;
	size_t			 k;

	if (size < 2 || size > IN_MAX)
		return 0;
	if (out == NULL) {
		fuzz_log_quiet();
		if ((out = malloc(OUT_MAX)) == NULL)
			abort();
	}
	flags = data[0];
	k = data[1] % 16;
	if (size < 2 + k)
		return 0;

	memset(&cl, 0, sizeof(cl));
	cl.sizes = data + 2;
	cl.nsizes = k;
	cl.in = data + 2 + k;
	cl.inlen = size - 2 - k;
	cl.out = out;

	memset(&b, 0, sizeof(b));
	b.fail_at = -1;

	memset(&cf, 0, sizeof(cf));
	cf.cleartext = CLEARTEXT_ALWAYS;
	cf.chunky = flags & 2 ? CHUNKY_ALWAYS : CHUNKY_NEVER;
	cf.ctx = NULL;
	cf.hostname = "pop.example.org";
	cf.apop_stamp = flags & 1 ? "<1896.697170952@dbc.mtview.ca.us>" : NULL;
	if (flags & 4) {
		cf.login_delay = 300;
		cf.expire = "NEVER";
	}
	cf.gssapi = (flags & 8) != 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1)
		abort();
	cl.fd = sv[1];
	if ((c = malloc(sizeof(*c))) == NULL)
		abort();
	/* The client always ends with EOF: a timeout would be a hang. */
	conn_init(c, sv[0], 5);
	if (pthread_create(&th, NULL, client_main, &cl) != 0)
		abort();
	pop3_run(c, &cf, &fake_ops, &b);
	if (pthread_join(th, NULL) != 0)
		abort();
	close(sv[0]);
	close(sv[1]);
	free(c);
	check_replies(&cl, &b);
	return 0;
}
