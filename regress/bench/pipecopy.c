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
 * How a RETR's bytes could reach the data pipe, measured alone: the shape
 * of popsep's path (a producer that fills 128 KiB pieces, as the spool
 * worker converts a message; a relay that splices the pipe into a TCP
 * socket on loopback, as the network child does; a reader) with one of
 * three ways to put a piece into the 256 KiB pipe, or a fourth path
 * without the pipe.  Not part of any server process; trusts its
 * arguments.
 *
 *	pipecopy write SECONDS		write(2): the pipe copies the piece
 *	pipecopy fresh SECONDS		vmsplice(2) of a piece in pages
 *					mapped for it, unmapped after
 *	pipecopy reuse SECONDS		vmsplice(2) of one buffer, filled
 *					again while TCP may still hold its
 *					pages: the bytes sent can be wrong,
 *					so this is only the bound of what
 *					removing the copy could give
 *	pipecopy ring SECONDS		no pipe: the producer fills one of
 *					two slots of memory shared with the
 *					relay, which write(2)s the slot to
 *					the socket (TCP copies it) and only
 *					then hands it back over a socketpair
 *
 * Prints mode= and mb_s= (MB/s read by the reader) on one line.
 */

#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PIECE	(128 * 1024)
#define SRC	(1024 * 1024)
#define PIPE_SZ	(256 * 1024)

enum mode { M_WRITE, M_FRESH, M_REUSE, M_RING };

#define SLOTS	2

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
put_write(int fd, const char *b)
{
	size_t	done = 0;
	ssize_t	n;

	while (done < PIECE) {
		if ((n = write(fd, b + done, PIECE - done)) <= 0)
			err(1, "write");
		done += (size_t)n;
	}
}

static void
put_vmsplice(int fd, char *b)
{
	struct iovec	v = { b, PIECE };
	ssize_t		n;

	while (v.iov_len > 0) {
		if ((n = vmsplice(fd, &v, 1, 0)) <= 0)
			err(1, "vmsplice");
		v.iov_base = (char *)v.iov_base + n;
		v.iov_len -= (size_t)n;
	}
}

static char *
new_piece(void)
{
	char	*b;

	b = mmap(NULL, PIECE, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		err(1, "mmap");
	return b;
}

static void
producer(enum mode mode, int fd, double secs)
{
	static char	 src[SRC];
	char		*b, *reused = new_piece();
	size_t		 off = 0, i;
	double		 t0 = now();

	for (i = 0; i < SRC; i++)
		src[i] = i % 73 == 72 ? '\n' : (char)('a' + i % 26);
	while (now() - t0 < secs) {
		b = mode == M_FRESH ? new_piece() : reused;
		memcpy(b, src + off, PIECE);
		off = (off + PIECE) % SRC;
		if (mode == M_WRITE)
			put_write(fd, b);
		else
			put_vmsplice(fd, b);
		if (mode == M_FRESH)
			munmap(b, PIECE);
	}
	_exit(0);
}

/* The ring's producer: a slot filled only once the relay gave it back. */
static void
ring_producer(char *ring, int tok, double secs)
{
	static char	src[SRC];
	unsigned char	slot;
	size_t		off = 0, i, inflight = 0, next = 0;
	double		t0 = now();

	for (i = 0; i < SRC; i++)
		src[i] = i % 73 == 72 ? '\n' : (char)('a' + i % 26);
	while (now() - t0 < secs) {
		if (inflight == SLOTS) {
			if (read(tok, &slot, 1) != 1)
				err(1, "read token");
			inflight--;
		}
		memcpy(ring + next * PIECE, src + off, PIECE);
		off = (off + PIECE) % SRC;
		slot = (unsigned char)next;
		if (write(tok, &slot, 1) != 1)
			err(1, "write token");
		inflight++;
		next = (next + 1) % SLOTS;
	}
	_exit(0);
}

/* The ring's relay: each slot written whole to the socket, then given back. */
static void
ring_relay(const char *ring, int tok, int to)
{
	unsigned char	slot;
	size_t		done;
	ssize_t		n;

	while (read(tok, &slot, 1) == 1) {
		if (slot >= SLOTS)
			errx(1, "slot %u", slot);
		for (done = 0; done < PIECE; done += (size_t)n)
			if ((n = write(to, ring + slot * PIECE + done,
			    PIECE - done)) <= 0)
				err(1, "write socket");
		if (send(tok, &slot, 1, MSG_NOSIGNAL) != 1)
			break;
	}
	shutdown(to, SHUT_WR);
	_exit(0);
}

static void
relay(int from, int to)
{
	ssize_t	n;

	while ((n = splice(from, NULL, to, NULL, 1 << 20, SPLICE_F_MOVE |
	    SPLICE_F_MORE)) > 0)
		;
	if (n == -1)
		err(1, "splice");
	shutdown(to, SHUT_WR);
	_exit(0);
}

int
main(int argc, char *argv[])
{
	static char		buf[256 * 1024];
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	enum mode		mode;
	double			secs, t0;
	long long		total = 0;
	ssize_t			n;
	int			p[2], tok[2], ls, cs, ss;
	char			*ring;

	if (argc != 3)
		errx(2, "usage: pipecopy write|fresh|reuse|ring seconds");
	if (strcmp(argv[1], "write") == 0)
		mode = M_WRITE;
	else if (strcmp(argv[1], "fresh") == 0)
		mode = M_FRESH;
	else if (strcmp(argv[1], "reuse") == 0)
		mode = M_REUSE;
	else if (strcmp(argv[1], "ring") == 0)
		mode = M_RING;
	else
		errx(2, "mode: write, fresh, reuse or ring");
	if ((secs = atof(argv[2])) <= 0)
		errx(2, "seconds: a positive number");
	if (pipe(p) == -1 || fcntl(p[1], F_SETPIPE_SZ, PIPE_SZ) == -1)
		err(1, "pipe");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, tok) == -1)
		err(1, "socketpair");
	ring = mmap(NULL, SLOTS * PIECE, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	if (ring == MAP_FAILED)
		err(1, "mmap");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(ls, (struct sockaddr *)&sin, len) == -1 ||
	    listen(ls, 1) == -1 ||
	    getsockname(ls, (struct sockaddr *)&sin, &len) == -1 ||
	    (cs = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(cs, (struct sockaddr *)&sin, len) == -1 ||
	    (ss = accept(ls, NULL, NULL)) == -1)
		err(1, "loopback connection");
	switch (fork()) {
	case -1:
		err(1, "fork");
	case 0:
		close(p[0]);
		close(tok[1]);
		if (mode == M_RING)
			ring_producer(ring, tok[0], secs);
		producer(mode, p[1], secs);
	}
	switch (fork()) {
	case -1:
		err(1, "fork");
	case 0:
		close(p[1]);
		close(tok[0]);
		if (mode == M_RING)
			ring_relay(ring, tok[1], ss);
		relay(p[0], ss);
	}
	close(p[0]);
	close(p[1]);
	close(tok[0]);
	close(tok[1]);
	close(ss);
	t0 = now();
	while ((n = read(cs, buf, sizeof(buf))) > 0)
		total += n;
	if (n == -1)
		err(1, "read");
	printf("mode=%s mb_s=%.0f\n", argv[1], (double)total /
	    (now() - t0) / 1e6);
	while (wait(NULL) > 0)
		;
	return 0;
}
