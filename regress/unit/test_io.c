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
 * conn_write_from() of net/io.c, as the network child moves message data
 * from the data pipe: bytes a writer puts into a pipe, in pieces of the
 * sizes announced, go after what was queued to a real TCP connection on
 * loopback, spliced in plain text; a reader at the other end compares
 * every byte with what was sent.  Pieces larger than the pipe's room flow
 * while they are written.  A writer that goes before its piece is whole,
 * and a client that has gone, are errors, not a short answer or a hang.
 */

#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "test.h"

static const char	status_line[] = "+OK 5 pieces\r\n";
static const char	end_line[] = ".\r\n";

/* Piece sizes: small, around a page, a pipe's default room and beyond. */
static const size_t	pieces[] = { 1, 4095, 4096, 4097, 65536, 131072,
	100000, 7 };

static struct conn	conn;

static uint8_t
pattern(uint64_t i)
{
	return (uint8_t)(i * 7 + i / 4096 + (i >> 16));
}

static uint64_t
total(void)
{
	uint64_t	t = 0;
	size_t		i;

	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
		t += pieces[i];
	return t;
}

/* A connected TCP pair on 127.0.0.1: s[0] the server's, s[1] the client's. */
static int
tcp_pair(int s[2])
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			l;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1 ||
	    (s[1] = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(s[1], (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (s[0] = accept(l, NULL, NULL)) == -1)
		return -1;
	close(l);
	return 0;
}

/* The worker's side: each piece's bytes into the pipe, in turn. */
static void
writer(int fd, uint64_t upto)
{
	uint8_t		buf[8192];
	uint64_t	i = 0;
	size_t		n, k;
	ssize_t		w;

	while (i < upto) {
		n = upto - i < sizeof(buf) ? (size_t)(upto - i) : sizeof(buf);
		for (k = 0; k < n; k++)
			buf[k] = pattern(i + k);
		if ((w = write(fd, buf, n)) <= 0)
			_exit(1);
		i += (uint64_t)w;
	}
	_exit(0);
}

static int
read_exact(int fd, uint8_t *buf, size_t n)
{
	ssize_t	r;

	while (n > 0) {
		if ((r = read(fd, buf, n)) <= 0)
			return -1;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The client: status line, every byte of the pieces, end line, EOF. */
static void
reader(int fd)
{
	uint8_t		buf[8192];
	uint64_t	i = 0, want = total();
	size_t		n, k;

	if (read_exact(fd, buf, sizeof(status_line) - 1) == -1 ||
	    memcmp(buf, status_line, sizeof(status_line) - 1) != 0)
		_exit(2);
	while (i < want) {
		n = want - i < sizeof(buf) ? (size_t)(want - i) : sizeof(buf);
		if (read_exact(fd, buf, n) == -1)
			_exit(3);
		for (k = 0; k < n; k++)
			if (buf[k] != pattern(i + k)) {
				printf("# byte %llu differs\n",
				    (unsigned long long)(i + k));
				_exit(4);
			}
		i += n;
	}
	if (read_exact(fd, buf, sizeof(end_line) - 1) == -1 ||
	    memcmp(buf, end_line, sizeof(end_line) - 1) != 0)
		_exit(5);
	_exit(read(fd, buf, 1) == 0 ? 0 : 6);
}

static pid_t
spawn(void (*fn)(int, uint64_t), int fd, uint64_t arg, int close1,
    int close2)
{
	pid_t	pid;

	fflush(stdout);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		if (close1 != -1)
			close(close1);
		if (close2 != -1)
			close(close2);
		fn(fd, arg);
	}
	return pid;
}

static void
reader_fn(int fd, uint64_t arg)
{
	(void)arg;
	reader(fd);
}

static int
wait_status(pid_t pid)
{
	int	st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Every piece, after the status line and before the end line. */
static void
check_pieces(void)
{
	int	s[2], p[2], ok = 1, rst, wst;
	pid_t	rd, wr;
	size_t	i;

	if (tcp_pair(s) == -1 || pipe(p) == -1) {
		CHECK(0, "set-up: a TCP pair and a pipe");
		return;
	}
	rd = spawn(reader_fn, s[1], 0, s[0], p[1]);
	close(s[1]);
	wr = spawn(writer, p[1], total(), p[0], s[0]);
	close(p[1]);
	conn_init(&conn, s[0], 10);
	ok &= conn_write(&conn, status_line, sizeof(status_line) - 1) == 0;
	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
		ok &= conn_write_from(&conn, p[0], pieces[i]) == 0;
	ok &= conn_write(&conn, end_line, sizeof(end_line) - 1) == 0 &&
	    conn_flush(&conn) == 0;
	close(s[0]);
	close(p[0]);
	rst = wait_status(rd);
	wst = wait_status(wr);
	CHECK(ok, "every piece moved (%zu pieces, %llu bytes)",
	    sizeof(pieces) / sizeof(pieces[0]), (unsigned long long)total());
	CHECK(rst == 0, "the client read the status line, every byte in "
	    "order and the end line, then EOF (reader status %d)", rst);
	CHECK(wst == 0, "the writer's pieces were all taken (status %d)", wst);
}

/* The writer goes 1,000 bytes into a piece of 5,000. */
static void
check_writer_gone(void)
{
	uint8_t	buf[1000];
	int	s[2], p[2], rc, err;

	if (tcp_pair(s) == -1 || pipe(p) == -1) {
		CHECK(0, "set-up: a TCP pair and a pipe");
		return;
	}
	memset(buf, 'x', sizeof(buf));
	if (write(p[1], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		CHECK(0, "set-up: 1000 bytes into the pipe");
	close(p[1]);
	conn_init(&conn, s[0], 10);
	rc = conn_write_from(&conn, p[0], 5000);
	err = errno;
	CHECK(rc == -1 && err == EPIPE, "a writer gone mid-piece is an error "
	    "(rc %d, %s)", rc, strerror(err));
	close(s[0]);
	close(s[1]);
	close(p[0]);
}

/* The client closes before it reads: an error soon, not a hang. */
static void
check_client_gone(void)
{
	int	s[2], p[2], rc = 0, wst;
	pid_t	wr;
	size_t	i;

	if (tcp_pair(s) == -1 || pipe(p) == -1) {
		CHECK(0, "set-up: a TCP pair and a pipe");
		return;
	}
	close(s[1]);
	wr = spawn(writer, p[1], 64 * (uint64_t)131072, p[0], s[0]);
	close(p[1]);
	conn_init(&conn, s[0], 10);
	for (i = 0; i < 64 && rc == 0; i++)
		rc = conn_write_from(&conn, p[0], 131072);
	CHECK(rc == -1, "a client gone makes the move fail (after %zu "
	    "pieces)", i);
	close(s[0]);
	close(p[0]);
	wst = wait_status(wr);
	CHECK(wst == 1, "the writer then finds the pipe closed (status %d)",
	    wst);
}

int
main(void)
{
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return 2;
	check_pieces();
	check_writer_gone();
	check_client_gone();
	TEST_EXIT();
}
