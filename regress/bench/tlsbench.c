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
 * A TLS handshake benchmark client for popsepd and its peers (Dovecot).
 * Not part of any server process.  Each connection: TCP connect, full TLS
 * handshake (no resumption), read the POP3 greeting, close.  Prints
 * connections per second and handshake latency (mean, median, p99) over
 * N connections made by P client processes in parallel.
 *
 *	tlsbench host port connections parallel [tls1.2|tls1.3]
 */

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
dial(const struct addrinfo *ai)
{
	int	fd, one = 1;

	if ((fd = socket(ai->ai_family, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One connection; returns its latency in seconds, or -1. */
static double
one(SSL_CTX *ctx, const struct addrinfo *ai)
{
	char	buf[512];
	SSL	*ssl;
	double	t0 = now(), t;
	int	fd, n;

	if ((fd = dial(ai)) == -1)
		return -1;
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1 || (n = SSL_read(ssl, buf, sizeof(buf)))
	    < 3 || strncmp(buf, "+OK", 3) != 0) {
		SSL_free(ssl);
		close(fd);
		return -1;
	}
	t = now() - t0;
	SSL_write(ssl, "QUIT\r\n", 6);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	return t;
}

static int
cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	struct addrinfo	 hints, *ai;
	SSL_CTX		*ctx;
	double		*lat, t0, wall, sum = 0;
	long		 n, per, i, fails = 0;
	int		 par, p, version = 0, status;

	if (argc < 5) {
		fprintf(stderr, "usage: tlsbench host port connections "
		    "parallel [tls1.2|tls1.3]\n");
		return 2;
	}
	n = atol(argv[3]);
	par = atoi(argv[4]);
	if (n < 1 || par < 1 || par > 64)
		return 2;
	if (argc > 5)
		version = strcmp(argv[5], "tls1.2") == 0 ? TLS1_2_VERSION :
		    TLS1_3_VERSION;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0)
		return 2;
	per = n / par;
	lat = mmap(NULL, sizeof(double) * (size_t)(per * par), PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (lat == MAP_FAILED)
		return 1;
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (version != 0) {
		SSL_CTX_set_min_proto_version(ctx, version);
		SSL_CTX_set_max_proto_version(ctx, version);
	}
	t0 = now();
	for (p = 0; p < par; p++) {
		if (fork() == 0) {
			for (i = 0; i < per; i++)
				lat[p * per + i] = one(ctx, ai);
			_exit(0);
		}
	}
	for (p = 0; p < par; p++)
		wait(&status);
	wall = now() - t0;
	n = per * par;
	for (i = 0; i < n; i++) {
		if (lat[i] < 0) {
			fails++;
			lat[i] = 1e9;
		} else
			sum += lat[i];
	}
	qsort(lat, (size_t)n, sizeof(double), cmp);
	printf("conns=%ld failed=%ld conn_per_s=%.1f mean_ms=%.3f "
	    "median_ms=%.3f p99_ms=%.3f\n", n, fails, (double)(n - fails) /
	    wall, fails == n ? 0 : sum / (double)(n - fails) * 1e3,
	    lat[n / 2] * 1e3, lat[(n * 99) / 100] * 1e3);
	return fails == 0 ? 0 : 1;
}
