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
 * Unit tests of privsep/msg.c, the frame codec.  Round trips of every put/get
 * type over a real SOCK_SEQPACKET pair, descriptor passing, msg_lookup
 * tables, and must-die cases: a malformed frame or a misused cursor must
 * end the process (fatalx, _exit(1)) with the right complaint.  Every
 * case that may die runs in a forked child whose stderr is captured; the
 * child exits 0 if it survived, or a small code that says what it saw.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "params.h"
#include "test.h"

#define ERRBUF_LEN	4096
#define EXIT_SURVIVED	TEST_SURVIVED
#define EXIT_FATAL	1	/* what fatalx() uses */
#define EXIT_SETUP	TEST_SETUP
#define EXIT_WRONG	3	/* the child survived, saw a wrong value */
#define EXIT_ROW_BASE	10	/* msg_lookup cases: 10 + row returned */

typedef test_child_fn child_fn;

static void	 expect(const char *, child_fn, const void *, int,
		    const char *);
static int	 send_raw(int, const void *, size_t, const int *, int);
static void	 make_pair(int [2]);
static int	 xfer(int [2], struct msg *, struct msg *);

static void	 test_roundtrip(void);
static void	 test_fd_passing(void);
static void	 test_wipe(void);
static void	 test_cursor(void);
static void	 test_put_overflow(void);
static void	 test_raw_frames(void);
static void	 test_lookup(void);

/*
 * Run fn(arg) in a child with stderr captured in err.  Returns the exit
 * status, or 128 + signal number if the child was killed.
 */
/*
 * One forked case: the child must exit with want_status, and if die is
 * not NULL its stderr must contain that text (the reason it died).
 */
static void
expect(const char *name, child_fn fn, const void *arg, int want_status,
    const char *die)
{
	char	err[ERRBUF_LEN], why[400], *p;
	int	st, ok;

	st = test_run_child(fn, arg, err, sizeof(err));
	ok = st == want_status && (die == NULL || strstr(err, die) != NULL);
	for (p = err; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	why[0] = '\0';
	if (!ok)
		snprintf(why, sizeof(why), " (got status %d, stderr "
		    "\"%.300s\")", st, err);
	if (die != NULL)
		CHECK(ok, "%s: dies with \"%s\"%s", name, die, why);
	else
		CHECK(ok, "%s: exit status %d%s", name, want_status, why);
}

static void
make_pair(int sv[2])
{
	int	sz = 4 * MSG_BODY_MAX;

	if (msg_socketpair(sv) == -1) {
		perror("socketpair");
		exit(2);
	}
	/* Room for the oversized datagrams of the must-die cases. */
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/* Send a frame on sv[0] and receive it on sv[1]. */
static int
xfer(int sv[2], struct msg *out, struct msg *in)
{
	return msg_send(sv[0], out, -1) == 0 && msg_recv(sv[1], in) == 1;
}

/* One datagram of raw bytes with nfds descriptors in one SCM_RIGHTS. */
static int
send_raw(int fd, const void *p, size_t len, const int *fds, int nfds)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(4 * sizeof(int))];
	} cbuf;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)(uintptr_t)p;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	return sendmsg(fd, &mh, 0) == (ssize_t)len ? 0 : -1;
}

/* Round trips ------------------------------------------------------------ */

static void
test_roundtrip(void)
{
	static const uint8_t	 u8s[] = { 0, 1, 0x7f, 0x80, 0xff };
	static const uint16_t	 u16s[] = { 0, 1, 0x1234, 0x8000, 0xffff };
	static const uint32_t	 u32s[] = { 0, 1, 0x12345678, 0x80000000,
				    0xffffffff };
	static const uint64_t	 u64s[] = { 0, 1, 0x0123456789abcdefULL,
				    0x8000000000000000ULL, UINT64_MAX };
	static const uint8_t	 bin[] = { 0, 1, 2, 0, 0xff, '\n', 0 };
	static const struct {
		const char	*name;
		size_t		 len;	/* without the NUL */
	} strs[] = {
		{ "empty string", 0 },
		{ "one byte", 1 },
		{ "ordinary", 11 },
		{ "MSG_STR_MAX - 1 bytes", MSG_STR_MAX - 1 },
	};
	static struct msg	 out, in;
	char			 s[MSG_STR_MAX], got[MSG_STR_MAX];
	const uint8_t		*d;
	size_t			 i, j, dlen;
	int			 sv[2], ok;

	make_pair(sv);

	/* Each integer width alone, every boundary value. */
	for (i = 0; i < sizeof(u8s); i++) {
		msg_init(&out, 0x42);
		msg_put_u8(&out, u8s[i]);
		ok = xfer(sv, &out, &in);
		CHECK(ok && in.type == 0x42 && in.len == 1 && in.fd == -1 &&
		    msg_get_u8(&in) == u8s[i] && in.pos == in.len,
		    "roundtrip u8 0x%x", u8s[i]);
	}
	for (i = 0; i < sizeof(u16s) / sizeof(u16s[0]); i++) {
		msg_init(&out, 0xffff);
		msg_put_u16(&out, u16s[i]);
		ok = xfer(sv, &out, &in);
		CHECK(ok && in.type == 0xffff && in.len == 2 &&
		    msg_get_u16(&in) == u16s[i] && in.pos == in.len,
		    "roundtrip u16 0x%x", u16s[i]);
	}
	for (i = 0; i < sizeof(u32s) / sizeof(u32s[0]); i++) {
		msg_init(&out, 0);
		msg_put_u32(&out, u32s[i]);
		ok = xfer(sv, &out, &in);
		CHECK(ok && in.type == 0 && in.len == 4 &&
		    msg_get_u32(&in) == u32s[i] && in.pos == in.len,
		    "roundtrip u32 0x%x", u32s[i]);
	}
	for (i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++) {
		msg_init(&out, 7);
		msg_put_u64(&out, u64s[i]);
		ok = xfer(sv, &out, &in);
		CHECK(ok && in.len == 8 && msg_get_u64(&in) == u64s[i] &&
		    in.pos == in.len,
		    "roundtrip u64 0x%llx", (unsigned long long)u64s[i]);
	}

	/* Strings: the NUL travels, the length prefix counts it. */
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		for (j = 0; j < strs[i].len; j++)
			s[j] = (char)('a' + j % 26);
		s[strs[i].len] = '\0';
		msg_init(&out, 9);
		msg_put_str(&out, s);
		ok = xfer(sv, &out, &in);
		memset(got, 'x', sizeof(got));
		if (ok && in.len == 4 + strs[i].len + 1)
			msg_get_str(&in, got, strs[i].len + 1);
		else
			ok = 0;
		CHECK(ok && strcmp(got, s) == 0 && in.pos == in.len,
		    "roundtrip str: %s (%zu bytes)", strs[i].name, strs[i].len);
	}

	/* Binary data with NULs inside, and empty data. */
	msg_init(&out, 10);
	msg_put_data(&out, bin, sizeof(bin));
	msg_put_data(&out, "", 0);
	ok = xfer(sv, &out, &in);
	d = ok ? msg_get_data(&in, &dlen, sizeof(bin)) : NULL;
	CHECK(d != NULL && dlen == sizeof(bin) &&
	    memcmp(d, bin, sizeof(bin)) == 0, "roundtrip data with NULs");
	d = ok ? msg_get_data(&in, &dlen, 0) : NULL;
	CHECK(d != NULL && dlen == 0 && in.pos == in.len,
	    "roundtrip empty data, max 0");

	/* Every type in one frame, in order. */
	msg_init(&out, 0x0203);
	msg_put_u8(&out, 0xa5);
	msg_put_str(&out, "user");
	msg_put_u16(&out, 0xbeef);
	msg_put_data(&out, bin, 3);
	msg_put_u32(&out, 0xdeadbeef);
	msg_put_u64(&out, 0x1122334455667788ULL);
	msg_put_str(&out, "pass word");
	ok = xfer(sv, &out, &in);
	CHECK(ok && in.type == 0x0203 &&
	    in.len == 1 + 9 + 2 + 7 + 4 + 8 + 14, "mixed frame: length %zu",
	    in.len);
	if (ok) {
		CHECK(msg_get_u8(&in) == 0xa5, "mixed frame: u8");
		msg_get_str(&in, got, 16);
		CHECK(strcmp(got, "user") == 0, "mixed frame: first str");
		CHECK(msg_get_u16(&in) == 0xbeef, "mixed frame: u16");
		d = msg_get_data(&in, &dlen, 3);
		CHECK(dlen == 3 && memcmp(d, bin, 3) == 0, "mixed frame: data");
		CHECK(msg_get_u32(&in) == 0xdeadbeef, "mixed frame: u32");
		CHECK(msg_get_u64(&in) == 0x1122334455667788ULL,
		    "mixed frame: u64");
		msg_get_str(&in, got, 10);
		CHECK(strcmp(got, "pass word") == 0, "mixed frame: second str");
		CHECK(in.pos == in.len && in.fd == -1,
		    "mixed frame: cursor at the end");
	}

	/* An empty body and a full one (exactly MSG_BODY_MAX). */
	msg_init(&out, 11);
	ok = xfer(sv, &out, &in);
	CHECK(ok && in.type == 11 && in.len == 0 && in.pos == 0,
	    "roundtrip empty body");
	msg_init(&out, 12);
	{
		static uint8_t	big[MSG_BODY_MAX - 4];

		for (i = 0; i < sizeof(big); i++)
			big[i] = (uint8_t)(i * 7 + 3);
		msg_put_data(&out, big, sizeof(big));
		ok = msg_send(sv[0], &out, -1) == 0 &&
		    msg_recv(sv[1], &in) == 1;
		CHECK(ok && in.len == MSG_BODY_MAX,
		    "roundtrip MSG_BODY_MAX body: length");
		d = ok ? msg_get_data(&in, &dlen, sizeof(big)) : NULL;
		CHECK(d != NULL && dlen == sizeof(big) &&
		    memcmp(d, big, sizeof(big)) == 0 && in.pos == in.len,
		    "roundtrip MSG_BODY_MAX body: content");
	}

	/* Two frames stay two frames (one datagram each). */
	msg_init(&out, 1);
	msg_put_u32(&out, 111);
	ok = msg_send(sv[0], &out, -1) == 0;
	msg_init(&out, 2);
	msg_put_u32(&out, 222);
	ok = ok && msg_send(sv[0], &out, -1) == 0;
	ok = ok && msg_recv(sv[1], &in) == 1 && in.type == 1 && in.len == 4 &&
	    msg_get_u32(&in) == 111;
	ok = ok && msg_recv(sv[1], &in) == 1 && in.type == 2 && in.len == 4 &&
	    msg_get_u32(&in) == 222;
	CHECK(ok, "two frames are received separately, in order");

	/* End of file is 0, not a frame. */
	close(sv[0]);
	CHECK(msg_recv(sv[1], &in) == 0, "msg_recv returns 0 at end of file");
	close(sv[1]);
}

/* Descriptors ------------------------------------------------------------ */

static void
test_fd_passing(void)
{
	static struct msg	 out, in;
	char			 c = 0;
	int			 sv[2], p[2], ok, fl;

	make_pair(sv);
	if (pipe(p) == -1) {
		perror("pipe");
		exit(2);
	}
	msg_init(&out, 5);
	msg_put_u32(&out, 77);
	ok = msg_send(sv[0], &out, p[1]) == 0 && msg_recv(sv[1], &in) == 1;
	CHECK(ok && in.type == 5 && in.len == 4 && msg_get_u32(&in) == 77,
	    "fd frame: body");
	CHECK(ok && in.fd >= 0 && in.fd != p[1], "fd frame: a new descriptor "
	    "arrived (%d, sent %d)", in.fd, p[1]);
	if (ok && in.fd >= 0) {
		fl = fcntl(in.fd, F_GETFD);
		CHECK(fl != -1 && (fl & FD_CLOEXEC),
		    "received fd is close-on-exec");
		/* The pipe's write end: what we write comes out of p[0]. */
		close(p[1]);
		CHECK(write(in.fd, "z", 1) == 1 && read(p[0], &c, 1) == 1 &&
		    c == 'z', "received fd writes into the sent pipe");
		close(in.fd);
		in.fd = -1;
	}
	close(p[0]);

	/*
	 * An empty datagram reads as end of file; a descriptor riding on it
	 * must not stay open in the receiver.  Only p[1]'s copy in flight
	 * keeps the pipe's write end open, so p[0] sees EOF iff it was closed.
	 */
	if (pipe(p) == -1) {
		perror("pipe");
		exit(2);
	}
	in.fd = -1;
	ok = send_raw(sv[0], "", 0, &p[1], 1) == 0;
	close(p[1]);
	ok = ok && msg_recv(sv[1], &in) == 0;
	fl = fcntl(p[0], F_GETFL);
	(void)fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
	CHECK(ok && read(p[0], &c, 1) == 0,
	    "empty datagram with a descriptor: EOF, descriptor not leaked");
	close(p[0]);

	/* The frame after it carries no descriptor. */
	msg_init(&out, 6);
	ok = xfer(sv, &out, &in);
	CHECK(ok && in.fd == -1, "next frame without fd has fd -1");

	/* msg_send on a closed peer fails with -1 rather than killing us. */
	close(sv[1]);
	CHECK(msg_send(sv[0], &out, -1) == -1 && errno == EPIPE,
	    "msg_send to a closed peer returns -1/EPIPE (no SIGPIPE)");
	close(sv[0]);
}

static void
test_wipe(void)
{
	static struct msg	m;
	size_t			i, nonzero = 0;

	msg_init(&m, 3);
	msg_put_str(&m, "secret password");
	(void)msg_get_u32(&m);
	msg_wipe(&m);
	for (i = 0; i < 4 + 16; i++)
		nonzero += m.body[i] != 0;
	CHECK(nonzero == 0 && m.len == 0 && m.pos == 0,
	    "msg_wipe zeroes the body and resets len and pos");
}

/* The get cursor: a table of bodies and get sequences -------------------- */

/*
 * ops: '1' u8, '2' u16, '4' u32, '8' u64, 'd' data (at most max), 's' str
 * into a buffer of dst bytes, 'e' msg_end.
 */
struct cursor_case {
	const char	*name;
	const char	*body;
	size_t		 len;
	const char	*ops;
	size_t		 max;
	size_t		 dst;
	int		 fd;		/* a descriptor left in */
	const char	*die;		/* NULL: must survive */
};

#define B(s)	s, sizeof(s) - 1

static const struct cursor_case cursor_cases[] = {
	{ "u8 on a 1-byte body, end", B("\x07"), "1e", 0, 0, 0, NULL },
	{ "u8 on an empty body", B(""), "1", 0, 0, 0, "read past end" },
	{ "u8 twice on a 1-byte body", B("\x07"), "11", 0, 0, 0,
	    "read past end" },
	{ "u16 on 2 bytes", B("\x01\x02"), "2e", 0, 0, 0, NULL },
	{ "u16 on 1 byte", B("\x01"), "2", 0, 0, 0, "read past end" },
	{ "u32 on 4 bytes", B("\x01\x02\x03\x04"), "4e", 0, 0, 0, NULL },
	{ "u32 on 3 bytes", B("\x01\x02\x03"), "4", 0, 0, 0,
	    "read past end" },
	{ "u64 on 8 bytes", B("12345678"), "8e", 0, 0, 0, NULL },
	{ "u64 on 7 bytes", B("1234567"), "8", 0, 0, 0, "read past end" },
	{ "u32 then u64 on 11 bytes", B("12345678901"), "48", 0, 0, 0,
	    "read past end" },

	{ "data of 3, max 3", B("\x03\0\0\0abc"), "de", 3, 0, 0, NULL },
	{ "data of 3, max 2", B("\x03\0\0\0abc"), "d", 2, 0, 0,
	    "field of 3 bytes, at most 2" },
	{ "data claims 4, has 3", B("\x04\0\0\0abc"), "d", 100, 0, 0,
	    "read past end" },
	{ "data length 0xffffffff", B("\xff\xff\xff\xff" "abc"), "d",
	    SIZE_MAX, 0, 0, "read past end" },
	{ "data, short length prefix", B("\x03\0\0"), "d", 100, 0, 0,
	    "read past end" },
	{ "data of 0", B("\0\0\0\0"), "de", 0, 0, 0, NULL },

	{ "str \"ab\" into 3", B("\x03\0\0\0ab\0"), "se", 0, 3, 0, NULL },
	{ "str \"ab\" into 2", B("\x03\0\0\0ab\0"), "s", 0, 2, 0,
	    "field of 3 bytes, at most 2" },
	{ "str \"\" (just NUL)", B("\x01\0\0\0\0"), "se", 0, 8, 0, NULL },
	{ "str without NUL", B("\x03\0\0\0abc"), "s", 0, 8, 0,
	    "malformed string" },
	{ "str with inner NUL", B("\x04\0\0\0a\0b\0"), "s", 0, 8, 0,
	    "malformed string" },
	{ "str with leading NUL", B("\x02\0\0\0\0\0"), "s", 0, 8, 0,
	    "malformed string" },
	{ "str of length 0", B("\0\0\0\0"), "s", 0, 8, 0,
	    "malformed string" },
	{ "str claims more than the body", B("\x09\0\0\0ab\0"), "s", 0, 16,
	    0, "read past end" },

	{ "end on an empty body", B(""), "e", 0, 0, 0, NULL },
	{ "end with 1 byte left", B("\x07"), "e", 0, 0, 0,
	    "1 bytes left over" },
	{ "end with 3 bytes left after u8", B("\x07\x08\x09\x0a"), "1e", 0,
	    0, 0, "3 bytes left over" },
	{ "end with a descriptor not taken", B(""), "e", 0, 0, 1,
	    "descriptor not taken" },
};

static void
cursor_child(const void *arg)
{
	const struct cursor_case	*c = arg;
	static struct msg		 m;
	char				 dst[256];
	const uint8_t			*d;
	size_t				 dlen;
	const char			*op;

	msg_init(&m, 0x77);
	memcpy(m.body, c->body, c->len);
	m.len = c->len;
	m.fd = c->fd ? STDIN_FILENO : -1;
	for (op = c->ops; *op != '\0'; op++) {
		switch (*op) {
		case '1':
			(void)msg_get_u8(&m);
			break;
		case '2':
			(void)msg_get_u16(&m);
			break;
		case '4':
			(void)msg_get_u32(&m);
			break;
		case '8':
			(void)msg_get_u64(&m);
			break;
		case 'd':
			d = msg_get_data(&m, &dlen, c->max);
			if (dlen > c->max || d < m.body ||
			    d + dlen > m.body + m.len)
				_exit(EXIT_WRONG);
			break;
		case 's':
			msg_get_str(&m, dst, c->dst);
			if (strlen(dst) >= c->dst)
				_exit(EXIT_WRONG);
			break;
		case 'e':
			msg_end(&m);
			break;
		default:
			_exit(EXIT_SETUP);
		}
	}
}

static void
test_cursor(void)
{
	const struct cursor_case	*c;
	char				 name[128];
	size_t				 i;

	for (i = 0; i < sizeof(cursor_cases) / sizeof(cursor_cases[0]); i++) {
		c = &cursor_cases[i];
		snprintf(name, sizeof(name), "cursor: %s", c->name);
		expect(name, cursor_child, c, c->die ? EXIT_FATAL :
		    EXIT_SURVIVED, c->die);
	}
}

/* The sender's own overflow is a bug() --------------------------------- */

struct put_case {
	const char	*name;
	size_t		 u8s;		/* msg_put_u8 calls */
	size_t		 data;		/* then data of this size */
	int		 dies;
};

static const struct put_case put_cases[] = {
	{ "MSG_BODY_MAX u8s fit", MSG_BODY_MAX, 0, 0 },
	{ "MSG_BODY_MAX + 1 u8s", MSG_BODY_MAX + 1, 0, 1 },
	{ "data filling the body exactly", 0, MSG_BODY_MAX - 4, 0 },
	{ "data one byte too long", 0, MSG_BODY_MAX - 3, 1 },
	{ "data after a u8, one byte too long", 1, MSG_BODY_MAX - 4, 1 },
};

static void
put_child(const void *arg)
{
	const struct put_case	*c = arg;
	static struct msg	 m;
	static uint8_t		 buf[MSG_BODY_MAX];
	size_t			 i;

	msg_init(&m, 0x99);
	for (i = 0; i < c->u8s; i++)
		msg_put_u8(&m, (uint8_t)i);
	if (c->data > 0)
		msg_put_data(&m, buf, c->data);
	if (m.len != c->u8s + (c->data ? c->data + 4 : 0))
		_exit(EXIT_WRONG);
}

static void
test_put_overflow(void)
{
	char	name[128];
	size_t	i;

	for (i = 0; i < sizeof(put_cases) / sizeof(put_cases[0]); i++) {
		snprintf(name, sizeof(name), "put: %s", put_cases[i].name);
		expect(name, put_child, &put_cases[i],
		    put_cases[i].dies ? EXIT_FATAL : EXIT_SURVIVED,
		    put_cases[i].dies ? "internal error" : NULL);
	}
}

/* Raw datagrams into msg_recv ------------------------------------------ */

struct raw_case {
	const char	*name;
	uint16_t	 ver;
	uint16_t	 type;
	uint32_t	 claim;		/* length in the header */
	size_t		 hdr;		/* header bytes sent */
	size_t		 body;		/* body bytes sent */
	int		 nfds;
	int		 want_rc;	/* msg_recv result if it survives */
	const char	*die;
};

#define BIG	(MSG_BODY_MAX + 1)

static const struct raw_case raw_cases[] = {
	{ "valid, 4-byte body", MSG_VERSION, 7, 4, 8, 4, 0, 1, NULL },
	{ "valid, empty body", MSG_VERSION, 7, 0, 8, 0, 0, 1, NULL },
	{ "valid, MSG_BODY_MAX body", MSG_VERSION, 7, MSG_BODY_MAX, 8,
	    MSG_BODY_MAX, 0, 1, NULL },
	{ "valid, one descriptor", MSG_VERSION, 7, 4, 8, 4, 1, 1, NULL },
	{ "empty datagram reads as end of file", MSG_VERSION, 7, 0, 0, 0, 0,
	    0, NULL },

	{ "version 0", 0, 7, 4, 8, 4, 0, 0, "frame version 0" },
	{ "version MSG_VERSION - 1", MSG_VERSION - 1, 7, 4, 8, 4, 0, 0,
	    "frame version" },
	{ "version MSG_VERSION + 1", MSG_VERSION + 1, 7, 4, 8, 4, 0, 0,
	    "frame version" },
	{ "version 0xffff", 0xffff, 7, 4, 8, 4, 0, 0,
	    "frame version 65535" },
	{ "1-byte header", MSG_VERSION, 7, 0, 1, 0, 0, 0,
	    "short frame header" },
	{ "7-byte header", MSG_VERSION, 7, 0, 7, 0, 0, 0,
	    "short frame header" },
	{ "header claims 100, 50 sent", MSG_VERSION, 7, 100, 8, 50, 0, 0,
	    "does not match" },
	{ "header claims 1, none sent", MSG_VERSION, 7, 1, 8, 0, 0, 0,
	    "does not match" },
	{ "header claims 50, 100 sent", MSG_VERSION, 7, 50, 8, 100, 0, 0,
	    "does not match" },
	{ "header claims MSG_BODY_MAX + 1, 10 sent", MSG_VERSION, 7, BIG, 8,
	    10, 0, 0, "does not match" },
	{ "header claims 0xffffffff, none sent", MSG_VERSION, 7, 0xffffffff,
	    8, 0, 0, 0, "does not match" },
	{ "datagram bigger than the buffer", MSG_VERSION, 7, BIG, 8, BIG, 0,
	    0, "truncated frame" },
	{ "bigger datagram with a descriptor", MSG_VERSION, 7, BIG, 8, BIG,
	    1, 0, "truncated frame" },
	{ "two descriptors", MSG_VERSION, 7, 4, 8, 4, 2, 0,
	    "unexpected control message" },
	{ "four descriptors", MSG_VERSION, 7, 4, 8, 4, 4, 0,
	    "unexpected control message" },
	{ "wrong version with a descriptor", 0, 7, 4, 8, 4, 1, 0,
	    "frame version 0" },
};

static void
raw_child(const void *arg)
{
	const struct raw_case	*c = arg;
	static struct msg	 m;
	static uint8_t		 buf[MSG_HDR_LEN + BIG];
	int			 sv[2], fds[4], rc;
	size_t			 i;

	make_pair(sv);
	memcpy(buf, &c->ver, 2);
	memcpy(buf + 2, &c->type, 2);
	memcpy(buf + 4, &c->claim, 4);
	for (i = 0; i < c->body; i++)
		buf[c->hdr + i] = (uint8_t)i;
	for (i = 0; i < 4; i++)
		fds[i] = STDOUT_FILENO;
	if (send_raw(sv[0], buf, c->hdr + c->body, fds, c->nfds) == -1)
		_exit(EXIT_SETUP);
	rc = msg_recv(sv[1], &m);
	if (rc != c->want_rc)
		_exit(EXIT_WRONG);
	if (rc == 1 && (m.type != c->type || m.len != c->claim ||
	    m.pos != 0 || (m.fd != -1) != (c->nfds == 1)))
		_exit(EXIT_WRONG);
	if (rc == 1 && m.len > 0 && m.body[m.len - 1] !=
	    (uint8_t)(m.len - 1))
		_exit(EXIT_WRONG);
}

static void
test_raw_frames(void)
{
	char	name[128];
	size_t	i;

	for (i = 0; i < sizeof(raw_cases) / sizeof(raw_cases[0]); i++) {
		snprintf(name, sizeof(name), "recv: %s", raw_cases[i].name);
		expect(name, raw_child, &raw_cases[i],
		    raw_cases[i].die ? EXIT_FATAL : EXIT_SURVIVED,
		    raw_cases[i].die);
	}
}

/* msg_lookup -------------------------------------------------------------- */

#define ST_A	0x1
#define ST_B	0x2
#define ST_C	0x4

static void	h_dummy(void *, struct msg *);

static void
h_dummy(void *arg, struct msg *m)
{
	(void)arg;
	(void)m;
}

static const struct msg_handler lookup_tab[] = {
	{ 0x10, 0, 0, 0, ST_A, h_dummy, "EMPTY" },
	{ 0x11, 4, 8, 0, ST_A | ST_B, h_dummy, "RANGE" },
	{ 0x12, 4, 4, MSGF_FD, ST_B, h_dummy, "WITHFD" },
	{ 0x13, 0, MSG_BODY_MAX, 0, ST_C, h_dummy, "ANY" },
	{ 0x15, 4, 4, MSGF_FD_MAY, ST_A, h_dummy, "MAYFD" },
};

struct lookup_case {
	const char	*name;
	uint16_t	 type;
	size_t		 len;
	int		 fd;
	unsigned int	 state;
	int		 row;		/* expected row, or -1: dies */
	const char	*die;
};

static const struct lookup_case lookup_cases[] = {
	{ "EMPTY, len 0, state A", 0x10, 0, 0, ST_A, 0, NULL },
	{ "EMPTY, len 1", 0x10, 1, 0, ST_A, -1, "EMPTY: bad length 1" },
	{ "EMPTY in state B", 0x10, 0, 0, ST_B, -1, "EMPTY not allowed now" },
	{ "EMPTY in state A|B (either bit)", 0x10, 0, 0, ST_A | ST_B, 0,
	    NULL },
	{ "EMPTY with a descriptor", 0x10, 0, 1, ST_A, -1,
	    "EMPTY: descriptor unexpected" },
	{ "RANGE, len 4 (min)", 0x11, 4, 0, ST_A, 1, NULL },
	{ "RANGE, len 8 (max), state B", 0x11, 8, 0, ST_B, 1, NULL },
	{ "RANGE, len 3", 0x11, 3, 0, ST_A, -1, "RANGE: bad length 3" },
	{ "RANGE, len 9", 0x11, 9, 0, ST_A, -1, "RANGE: bad length 9" },
	{ "RANGE in state C", 0x11, 4, 0, ST_C, -1, "RANGE not allowed now" },
	{ "RANGE in no state", 0x11, 4, 0, 0, -1, "RANGE not allowed now" },
	{ "WITHFD with fd, state B", 0x12, 4, 1, ST_B, 2, NULL },
	{ "WITHFD without fd", 0x12, 4, 0, ST_B, -1,
	    "WITHFD: descriptor missing" },
	{ "WITHFD in state A", 0x12, 4, 1, ST_A, -1,
	    "WITHFD not allowed now" },
	{ "WITHFD, len 5", 0x12, 5, 1, ST_B, -1, "WITHFD: bad length 5" },
	{ "ANY, len MSG_BODY_MAX", 0x13, MSG_BODY_MAX, 0, ST_C, 3, NULL },
	{ "MAYFD with fd", 0x15, 4, 1, ST_A, 4, NULL },
	{ "MAYFD without fd", 0x15, 4, 0, ST_A, 4, NULL },
	{ "MAYFD, len 5", 0x15, 5, 1, ST_A, -1, "MAYFD: bad length 5" },
	{ "unknown type 0x14", 0x14, 0, 0, ST_A | ST_B | ST_C, -1,
	    "test: unexpected frame type 20" },
	{ "unknown type 0", 0, 0, 0, ST_A, -1, "unexpected frame type 0" },
	{ "unknown type 0xffff", 0xffff, 0, 0, ST_A, -1,
	    "unexpected frame type 65535" },
};

static void
lookup_child(const void *arg)
{
	const struct lookup_case	*c = arg;
	const struct msg_handler	*h;
	static struct msg		 m;

	msg_init(&m, c->type);
	m.len = c->len;
	m.fd = c->fd ? STDIN_FILENO : -1;
	h = msg_lookup(lookup_tab, sizeof(lookup_tab) / sizeof(lookup_tab[0]),
	    &m, c->state, "test");
	if (h < lookup_tab || h >= lookup_tab + sizeof(lookup_tab) /
	    sizeof(lookup_tab[0]) || h->type != c->type)
		_exit(EXIT_WRONG);
	_exit(EXIT_ROW_BASE + (int)(h - lookup_tab));
}

static void
lookup_empty_child(const void *arg)
{
	static struct msg	m;

	(void)arg;
	msg_init(&m, 0x10);
	(void)msg_lookup(lookup_tab, 0, &m, ST_A, "test");
}

static void
test_lookup(void)
{
	const struct lookup_case	*c;
	char				 name[128];
	size_t				 i;

	for (i = 0; i < sizeof(lookup_cases) / sizeof(lookup_cases[0]); i++) {
		c = &lookup_cases[i];
		snprintf(name, sizeof(name), "lookup: %s", c->name);
		expect(name, lookup_child, c, c->row < 0 ? EXIT_FATAL :
		    EXIT_ROW_BASE + c->row, c->die);
	}
	/* An empty table knows no type at all. */
	expect("lookup: empty table", lookup_empty_child, NULL, EXIT_FATAL,
	    "unexpected frame type 16");
}

int
main(void)
{
	log_init(1, LOG_DAEMON);
	log_procname("test_msg");

	test_roundtrip();
	test_fd_passing();
	test_wipe();
	test_cursor();
	test_put_overflow();
	test_raw_frames();
	test_lookup();
	TEST_EXIT();
}
