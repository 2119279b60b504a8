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
 * The POP3 load client of the benchmark suite (make bench), for popsepd
 * and its peers alike.  Not part of any server process; it trusts its
 * arguments and treats every server reply as data to check, not to
 * believe.  Plain TCP, or TLS from the first byte (-T).  Results go to
 * standard output as key=value pairs on one line; the first few errors
 * are described on standard error.
 *
 *	popload [options] rate	C clients in parallel for D seconds, each
 *				looping: connect, greeting, USER, PASS, STAT,
 *				UIDL, QUIT, the server's close
 *	popload [options] retr	one session: RETR message M repeatedly, for
 *				D seconds or N times
 *	popload [options] steps	one session, each step timed: login, STAT,
 *				(-x: DELE 1,) QUIT and the server's close
 *	popload [options] idle	N sessions logged in (and STAT with -s), held
 *				until SIGUSR1, SIGTERM or D seconds, then QUIT
 *
 * Options: -h host (127.0.0.1), -p port, -T, -u user, -K k (session i logs
 * in as user-(i mod k + 1)), -w password, -c clients, -d seconds, -n count,
 * -m message, -x, -s, -j idle worker processes, -t socket timeout seconds.
 */

#define _GNU_SOURCE	/* memmem */

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <openssl/err.h>
#include <openssl/ssl.h>

#define LINE_MAX_POP	1024
#define BIGBUF		(256 * 1024)
#define SMALLBUF	4096
#define ERRS_SHOWN	3

struct conn {
	int		 fd;
	SSL		*ssl;
	char		*buf;
	size_t		 size, off, len;
	uint64_t	 rx;		/* reply bytes received */
};

struct opts {
	const char	*host, *user, *pass;
	int		 port, tls, k, clients, count, msg, dele, stat, jobs;
	double		 seconds;
	int		 timeout;
};

static struct opts	 o;
static SSL_CTX		*ctx;
static struct sockaddr_in sin_srv;
static int		 errs_shown;
static int		 me = -1;	/* client or session number */

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
complain(const char *fmt, ...)
{
	va_list	ap;

	if (errs_shown++ >= ERRS_SHOWN)
		return;
	fprintf(stderr, "popload: %d: ", me);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
user_name(int i, char *out, size_t outsz)
{
	if (o.k > 0)
		snprintf(out, outsz, "%s-%d", o.user, i % o.k + 1);
	else
		snprintf(out, outsz, "%s", o.user);
}

static double
cpu_seconds(int who)
{
	struct rusage	ru;

	getrusage(who, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
c_init(struct conn *c, size_t bufsize)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->size = bufsize;
	if ((c->buf = malloc(bufsize)) == NULL)
		return -1;
	return 0;
}

static void
c_close(struct conn *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->off = c->len = 0;
}

static int
c_dial(struct conn *c)
{
	struct timeval	tv = { o.timeout, 0 };
	int		one = 1;

	c->off = c->len = 0;
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
		complain("socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sin_srv, sizeof(sin_srv)) ==
	    -1) {
		complain("connect: %s", strerror(errno));
		c_close(c);
		return -1;
	}
	if (!o.tls)
		return 0;
	if ((c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_connect(c->ssl) != 1) {
		complain("TLS handshake failed: %s",
		    ERR_reason_error_string(ERR_get_error()));
		ERR_clear_error();
		c_close(c);
		return -1;
	}
	return 0;
}

/* Reads into the empty buffer; returns bytes, 0 at the server's close. */
static ssize_t
c_fill(struct conn *c)
{
	ssize_t	n;
	int	r;

	c->off = c->len = 0;
	if (c->ssl != NULL) {
		r = SSL_read(c->ssl, c->buf, (int)c->size);
		if (r <= 0) {
			int e = SSL_get_error(c->ssl, r);

			ERR_clear_error();
			/* a close without close_notify is a close too */
			return e == SSL_ERROR_ZERO_RETURN ||
			    (e == SSL_ERROR_SYSCALL && errno == 0) ? 0 : -1;
		}
		n = r;
	} else {
		do
			n = read(c->fd, c->buf, c->size);
		while (n == -1 && errno == EINTR);
		if (n < 0)
			return -1;
	}
	c->len = (size_t)n;
	c->rx += (uint64_t)n;
	return n;
}

static int
c_write(struct conn *c, const char *s)
{
	size_t	len = strlen(s), off = 0;
	ssize_t	n;

	while (off < len) {
		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, s + off, (int)(len - off));

			if (r <= 0) {
				ERR_clear_error();
				return -1;
			}
			n = r;
		} else if ((n = write(c->fd, s + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

/* One reply line without its CRLF; -1 on error, close or overlong line. */
static int
c_line(struct conn *c, char *line, size_t max)
{
	size_t	n = 0;
	char	ch;

	for (;;) {
		if (c->off == c->len && c_fill(c) <= 0)
			return -1;
		ch = c->buf[c->off++];
		if (ch == '\n')
			break;
		if (n + 1 >= max)
			return -1;
		line[n++] = ch;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 0;
}

/* Sends cmd (NULL: none, for the greeting) and wants +OK. */
static int
c_cmd(struct conn *c, const char *cmd, const char *what, char *line,
    size_t max)
{
	char	out[LINE_MAX_POP];

	if (cmd != NULL) {
		snprintf(out, sizeof(out), "%s\r\n", cmd);
		if (c_write(c, out) == -1) {
			complain("%s: write failed", what);
			return -1;
		}
	}
	if (c_line(c, line, max) == -1) {
		complain("%s: no reply (connection closed or timed out)", what);
		return -1;
	}
	if (strncmp(line, "+OK", 3) != 0) {
		complain("%s: %s", what, line);
		return -1;
	}
	return 0;
}

/*
 * The first "\n.\r\n" in p[0, n), or NULL.  Every byte is searched, as
 * memmem() would, 16 positions at a time where SSE2 is there: memmem()
 * alone cost this client about 0.35 s of CPU per GB read, more than some
 * servers spend sending it.
 */
static const char *
find_term(const char *p, size_t n)
{
	static const char	term[] = "\n.\r\n";
	size_t			i = 0;

#ifdef __SSE2__
	const __m128i	nl = _mm_set1_epi8('\n'), dot = _mm_set1_epi8('.');
	const __m128i	cr = _mm_set1_epi8('\r');
	__m128i		a, b, c, d;
	unsigned	m;

	for (; n >= 19 && i <= n - 19; i += 16) {
		a = _mm_cmpeq_epi8(_mm_loadu_si128((const void *)(p + i)), nl);
		b = _mm_cmpeq_epi8(_mm_loadu_si128((const void *)(p + i + 1)),
		    dot);
		c = _mm_cmpeq_epi8(_mm_loadu_si128((const void *)(p + i + 2)),
		    cr);
		d = _mm_cmpeq_epi8(_mm_loadu_si128((const void *)(p + i + 3)),
		    nl);
		m = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_and_si128(a,
		    b), _mm_and_si128(c, d)));
		if (m != 0)
			return p + i + __builtin_ctz(m);
	}
#endif
	return memmem(p + i, n - i, term, 4);
}

/*
 * The rest of a multi-line reply, through its terminating "." line.  The
 * status line has been read, so the data starts at the start of a line.
 */
static int
c_multi(struct conn *c)
{
	static const char	 term[] = "\n.\r\n";
	char			 t[3] = { '\n' }, edge[8];
	size_t			 tail = 1, n, k;
	const char		*p, *q;

	for (;;) {
		if (c->off == c->len && c_fill(c) <= 0)
			return -1;
		p = c->buf + c->off;
		n = c->len - c->off;
		/* a terminator split between this piece and the last */
		k = n < 3 ? n : 3;
		memcpy(edge, t, tail);
		memcpy(edge + tail, p, k);
		if ((q = memmem(edge, tail + k, term, 4)) != NULL) {
			c->off += (size_t)(q - edge) + 4 - tail;
			return 0;
		}
		if ((q = find_term(p, n)) != NULL) {
			c->off += (size_t)(q - p) + 4;
			return 0;
		}
		if (n >= 3) {
			memcpy(t, p + n - 3, 3);
			tail = 3;
		} else {
			size_t	m = tail + k, keep = m < 3 ? m : 3;

			memmove(t, edge + m - keep, keep);
			tail = keep;
		}
		c->off = c->len;
	}
}

/* Waits for the server to close the connection after QUIT. */
static int
c_wait_close(struct conn *c)
{
	ssize_t	n;

	while ((n = c_fill(c)) > 0)
		;
	return n == 0 ? 0 : -1;
}

static int
login(struct conn *c, int i)
{
	char	line[LINE_MAX_POP], cmd[LINE_MAX_POP], name[256];

	user_name(i, name, sizeof(name));
	if (c_cmd(c, NULL, "greeting", line, sizeof(line)) == -1)
		return -1;
	snprintf(cmd, sizeof(cmd), "USER %s", name);
	if (c_cmd(c, cmd, "USER", line, sizeof(line)) == -1)
		return -1;
	snprintf(cmd, sizeof(cmd), "PASS %s", o.pass);
	if (c_cmd(c, cmd, "PASS", line, sizeof(line)) == -1)
		return -1;
	return 0;
}

/* ------------------------------------------------------------ rate */

struct rate_slot {
	uint64_t	sessions, errors;
};

static int
rate_session(struct conn *c, int i)
{
	char	line[LINE_MAX_POP];

	if (c_dial(c) == -1)
		return -1;
	if (login(c, i) == -1 ||
	    c_cmd(c, "STAT", "STAT", line, sizeof(line)) == -1 ||
	    c_cmd(c, "UIDL", "UIDL", line, sizeof(line)) == -1)
		goto fail;
	if (c_multi(c) == -1) {
		complain("UIDL: listing cut short");
		goto fail;
	}
	if (c_cmd(c, "QUIT", "QUIT", line, sizeof(line)) == -1)
		goto fail;
	if (c_wait_close(c) == -1) {
		complain("QUIT: the connection did not close cleanly");
		goto fail;
	}
	c_close(c);
	return 0;
fail:
	c_close(c);
	return -1;
}

static int
mode_rate(void)
{
	struct rate_slot	*slots;
	struct conn		 c;
	double			 t0, end, wall, cpu;
	uint64_t		 sessions = 0, errors = 0;
	int			 i, status;

	slots = mmap(NULL, sizeof(*slots) * (size_t)o.clients, PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED)
		return 1;
	memset(slots, 0, sizeof(*slots) * (size_t)o.clients);
	t0 = now();
	end = t0 + o.seconds;
	for (i = 0; i < o.clients; i++) {
		switch (fork()) {
		case -1:
			perror("popload: fork");
			return 1;
		case 0:
			me = i;
			if (c_init(&c, BIGBUF) == -1)
				_exit(1);
			while (now() < end) {
				if (rate_session(&c, i) == 0)
					slots[i].sessions++;
				else {
					slots[i].errors++;
					/* no busy loop on a dead server */
					usleep(10000);
				}
			}
			_exit(0);
		}
	}
	for (i = 0; i < o.clients; i++)
		wait(&status);
	wall = now() - t0;
	cpu = cpu_seconds(RUSAGE_CHILDREN) + cpu_seconds(RUSAGE_SELF);
	for (i = 0; i < o.clients; i++) {
		sessions += slots[i].sessions;
		errors += slots[i].errors;
	}
	printf("sessions=%llu errors=%llu seconds=%.3f sessions_per_s=%.1f "
	    "client_cpu_s=%.3f client_cpu_us_per_session=%.1f\n",
	    (unsigned long long)sessions, (unsigned long long)errors, wall,
	    (double)sessions / wall, cpu, sessions ? cpu * 1e6 /
	    (double)sessions : 0);
	return errors == 0 && sessions > 0 ? 0 : 1;
}

/* ------------------------------------------------------------ retr */

static int
mode_retr(void)
{
	struct conn	 c;
	char		 line[LINE_MAX_POP], cmd[64];
	unsigned long	 octets = 0;
	uint64_t	 rx0, bytes = 0;
	double		 t0, wall, cpu0;
	long		 done = 0;

	me = 0;
	if (c_init(&c, BIGBUF) == -1 || c_dial(&c) == -1 || login(&c, 0) == -1)
		return 1;
	snprintf(cmd, sizeof(cmd), "LIST %d", o.msg);
	if (c_cmd(&c, cmd, "LIST", line, sizeof(line)) == -1 ||
	    sscanf(line, "+OK %*d %lu", &octets) != 1) {
		complain("LIST: no size");
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "RETR %d", o.msg);
	/* one untimed RETR brings the message into every cache */
	if (c_cmd(&c, cmd, "RETR", line, sizeof(line)) == -1 ||
	    c_multi(&c) == -1)
		return 1;
	cpu0 = cpu_seconds(RUSAGE_SELF);
	rx0 = c.rx - (c.len - c.off);
	t0 = now();
	for (;;) {
		if (c_cmd(&c, cmd, "RETR", line, sizeof(line)) == -1 ||
		    c_multi(&c) == -1) {
			complain("RETR: reply cut short");
			return 1;
		}
		done++;
		if (o.count > 0 ? done >= o.count : now() - t0 >= o.seconds)
			break;
	}
	wall = now() - t0;
	bytes = c.rx - (c.len - c.off) - rx0;
	printf("retrs=%ld msg_octets=%lu bytes=%llu seconds=%.3f mb_s=%.1f "
	    "client_cpu_s=%.3f\n", done, octets, (unsigned long long)bytes,
	    wall, (double)bytes / 1e6 / wall, cpu_seconds(RUSAGE_SELF) - cpu0);
	c_cmd(&c, "QUIT", "QUIT", line, sizeof(line));
	c_close(&c);
	return 0;
}

/* ----------------------------------------------------------- steps */

static int
mode_steps(void)
{
	struct conn	 c;
	char		 line[LINE_MAX_POP];
	double		 t0, t_login, t_stat0, t_stat, t_quit0, t_quit, t_close;
	unsigned long	 count = 0, octets = 0;

	me = 0;
	if (c_init(&c, BIGBUF) == -1)
		return 1;
	t0 = now();
	if (c_dial(&c) == -1 || login(&c, 0) == -1)
		return 1;
	t_login = now();
	if (c_cmd(&c, "STAT", "STAT", line, sizeof(line)) == -1 ||
	    sscanf(line, "+OK %lu %lu", &count, &octets) != 2) {
		complain("STAT: %s", line);
		return 1;
	}
	t_stat = now();
	t_stat0 = t_login;
	if (o.dele && c_cmd(&c, "DELE 1", "DELE", line, sizeof(line)) == -1)
		return 1;
	t_quit0 = now();
	if (c_cmd(&c, "QUIT", "QUIT", line, sizeof(line)) == -1)
		return 1;
	t_quit = now();
	if (c_wait_close(&c) == -1) {
		complain("QUIT: the connection did not close cleanly");
		return 1;
	}
	t_close = now();
	c_close(&c);
	printf("stat_count=%lu stat_octets=%lu login_ms=%.3f stat_ms=%.3f "
	    "login_stat_ms=%.3f quit_ms=%.3f close_ms=%.3f\n", count, octets,
	    (t_login - t0) * 1e3, (t_stat - t_stat0) * 1e3,
	    (t_stat - t0) * 1e3, (t_quit - t_quit0) * 1e3,
	    (t_close - t_quit0) * 1e3);
	return 0;
}

/* ------------------------------------------------------------ idle */

static void
idle_worker(int w, int wfd)
{
	struct conn	*cs;
	struct pollfd	 pfd;
	sigset_t	 set;
	char		 line[LINE_MAX_POP], res[128];
	int		 i, n = 0, sig, opened = 0, errors = 0;
	int		 quit_ok = 0, quit_err = 0, dropped = 0;

	for (i = w; i < o.count; i += o.jobs)
		n++;
	if ((cs = calloc((size_t)n, sizeof(*cs))) == NULL)
		_exit(1);
	for (i = 0; i < n; i++) {
		me = w + i * o.jobs;
		if (c_init(&cs[i], SMALLBUF) == -1)
			_exit(1);
		if (c_dial(&cs[i]) == -1 || login(&cs[i], me) == -1 ||
		    (o.stat && c_cmd(&cs[i], "STAT", "STAT", line,
		    sizeof(line)) == -1)) {
			errors++;
			c_close(&cs[i]);
			continue;
		}
		opened++;
	}
	snprintf(res, sizeof(res), "%d %d\n", opened, errors);
	if (write(wfd, res, strlen(res)) == -1)
		_exit(1);

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigwait(&set, &sig);

	/* a session the server ended while it was idle is an error too */
	for (i = 0; i < n; i++) {
		if (cs[i].fd == -1)
			continue;
		pfd.fd = cs[i].fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) != 0) {
			me = w + i * o.jobs;
			complain("idle session ended by the server");
			dropped++;
			c_close(&cs[i]);
		} else if (c_write(&cs[i], "QUIT\r\n") == -1) {
			quit_err++;
			c_close(&cs[i]);
		}
	}
	for (i = 0; i < n; i++) {
		if (cs[i].fd == -1)
			continue;
		me = w + i * o.jobs;
		if (c_cmd(&cs[i], NULL, "QUIT", line, sizeof(line)) == 0 &&
		    c_wait_close(&cs[i]) == 0)
			quit_ok++;
		else
			quit_err++;
		c_close(&cs[i]);
	}
	snprintf(res, sizeof(res), "%d %d %d\n", quit_ok, quit_err, dropped);
	if (write(wfd, res, strlen(res)) == -1)
		_exit(1);
	_exit(0);
}

static int
read_ints(FILE *f, int *v, int n)
{
	char	line[128];

	if (fgets(line, sizeof(line), f) == NULL)
		return -1;
	if (n == 2)
		return sscanf(line, "%d %d", &v[0], &v[1]) == 2 ? 0 : -1;
	return sscanf(line, "%d %d %d", &v[0], &v[1], &v[2]) == 3 ? 0 : -1;
}

static int
mode_idle(void)
{
	struct timespec	 ts;
	sigset_t	 set;
	pid_t		*pids;
	FILE		**fs;
	double		 t0, t_ready;
	int		 w, p[2], v[3], opened = 0, errors = 0;
	int		 quit_ok = 0, quit_err = 0, dropped = 0, lost = 0;

	if (o.jobs < 1)
		o.jobs = 1;
	if (o.jobs > o.count)
		o.jobs = o.count;
	pids = calloc((size_t)o.jobs, sizeof(*pids));
	fs = calloc((size_t)o.jobs, sizeof(*fs));
	if (pids == NULL || fs == NULL)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	t0 = now();
	for (w = 0; w < o.jobs; w++) {
		if (pipe(p) == -1)
			return 1;
		switch ((pids[w] = fork())) {
		case -1:
			perror("popload: fork");
			return 1;
		case 0:
			close(p[0]);
			/* a worker still dies of the SIGTERM of a clean-up */
			sigemptyset(&set);
			sigaddset(&set, SIGTERM);
			sigaddset(&set, SIGINT);
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			idle_worker(w, p[1]);
			/* NOTREACHED */
		}
		close(p[1]);
		fs[w] = fdopen(p[0], "r");
	}
	for (w = 0; w < o.jobs; w++) {
		if (read_ints(fs[w], v, 2) == -1) {
			lost++;
			continue;
		}
		opened += v[0];
		errors += v[1];
	}
	t_ready = now() - t0;
	printf("ready sessions=%d opened=%d errors=%d login_s=%.3f\n",
	    o.count, opened, errors + (o.count - opened - errors), t_ready);
	fflush(stdout);

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	ts.tv_sec = (time_t)o.seconds;
	ts.tv_nsec = (long)((o.seconds - (double)ts.tv_sec) * 1e9);
	(void)sigtimedwait(&set, NULL, &ts);

	for (w = 0; w < o.jobs; w++)
		kill(pids[w], SIGUSR1);
	for (w = 0; w < o.jobs; w++) {
		if (read_ints(fs[w], v, 3) == -1) {
			lost++;
			continue;
		}
		quit_ok += v[0];
		quit_err += v[1];
		dropped += v[2];
	}
	for (w = 0; w < o.jobs; w++)
		waitpid(pids[w], NULL, 0);
	printf("done quit_ok=%d quit_err=%d dropped=%d lost_workers=%d\n",
	    quit_ok, quit_err, dropped, lost);
	return errors == 0 && opened == o.count && quit_ok == opened &&
	    lost == 0 ? 0 : 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: popload [-Tsx] [-c clients] [-d seconds] "
	    "[-h host] [-j jobs] [-K k] [-m msg] [-n count] -p port "
	    "[-t timeout] -u user -w password rate|retr|steps|idle\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct rlimit	 rl;
	const char	*mode;
	int		 ch;

	o.host = "127.0.0.1";
	o.clients = 1;
	o.seconds = 10;
	o.msg = 1;
	o.jobs = 4;
	o.timeout = 600;
	while ((ch = getopt(argc, argv, "c:d:h:j:K:m:n:p:sTt:u:w:x")) != -1) {
		switch (ch) {
		case 'c':
			o.clients = atoi(optarg);
			break;
		case 'd':
			o.seconds = atof(optarg);
			break;
		case 'h':
			o.host = optarg;
			break;
		case 'j':
			o.jobs = atoi(optarg);
			break;
		case 'K':
			o.k = atoi(optarg);
			break;
		case 'm':
			o.msg = atoi(optarg);
			break;
		case 'n':
			o.count = atoi(optarg);
			break;
		case 'p':
			o.port = atoi(optarg);
			break;
		case 's':
			o.stat = 1;
			break;
		case 'T':
			o.tls = 1;
			break;
		case 't':
			o.timeout = atoi(optarg);
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'w':
			o.pass = optarg;
			break;
		case 'x':
			o.dele = 1;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || o.port <= 0 || o.port > 65535 ||
	    o.user == NULL || o.pass == NULL || o.clients < 1 ||
	    o.clients > 4096 || o.timeout < 1)
		usage();
	mode = argv[optind];
	memset(&sin_srv, 0, sizeof(sin_srv));
	sin_srv.sin_family = AF_INET;
	sin_srv.sin_port = htons((uint16_t)o.port);
	if (inet_pton(AF_INET, o.host, &sin_srv.sin_addr) != 1)
		usage();
	signal(SIGPIPE, SIG_IGN);
	/* many idle sessions need many descriptors */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (o.tls) {
		if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
			return 1;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		/* every session pays a full handshake, as a new client does */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET |
		    SSL_OP_IGNORE_UNEXPECTED_EOF);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "rate") == 0)
		return mode_rate();
	if (strcmp(mode, "retr") == 0)
		return mode_retr();
	if (strcmp(mode, "steps") == 0)
		return mode_steps();
	if (strcmp(mode, "idle") == 0) {
		if (o.count < 1)
			usage();
		return mode_idle();
	}
	usage();
	return 2;
}
