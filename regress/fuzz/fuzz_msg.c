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
 * libFuzzer target for privsep/msg.c, the frame decoder.  Each input is
 *
 *	byte 0		flags: bits 0-1 descriptors to attach (0-3),
 *			bit 2 repair the header (version and length),
 *			bits 3-5 the receiver's state (a bit mask),
 *			bit 6 make the type one the table knows
 *	byte 1		n, the number of get operations that follow
 *	n bytes		get operations on the received frame
 *	the rest	one datagram, sent raw on a SOCK_SEQPACKET pair
 *
 * The datagram goes through msg_recv(), msg_lookup() with a fixed table,
 * and the get operations, then msg_end().  A peer may make any of these
 * fatal, so fatal(), fatalx() and bug() longjmp back here instead of
 * ending the process; descriptors that arrive are closed after each
 * input.  Checked besides the sanitizers: the cursor never passes the
 * length, data stays inside the body, strings fit and are terminated,
 * the table row matches the frame, and a frame from msg_send() with the
 * same content decodes to the same bytes.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "params.h"
#include "fuzz.h"


static jmp_buf	 fatal_jmp;
static int	 in_target;
static int	 sv[2] = { -1, -1 };
static int	 spare_fd = -1;
static int	 fd_limit;
static int	 was_open[16];

static void	 vdie(void) __attribute__((noreturn));

static void
vdie(void)
{
	if (!in_target)
		abort();
	longjmp(fatal_jmp, 1);
}

void
fatal(const char *fmt, ...)
{
	(void)fmt;
	vdie();
}

void
fatalx(const char *fmt, ...)
{
	(void)fmt;
	vdie();
}

void
bug(const char *fmt, ...)
{
	/* Our own invariant: the decoder must never reach one. */
	va_list	ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	abort();
}

static void	 h_none(void *, struct msg *);

static void
h_none(void *arg, struct msg *m)
{
	(void)arg;
	(void)m;
}

static const struct msg_handler tab[] = {
	{ 0x0100, 0, 0, 0, 0x1, h_none, "EMPTY" },
	{ 0x0101, 5, MSG_STR_MAX + 4, 0, 0x1 | 0x2, h_none, "STR" },
	{ 0x0102, 4, 4, MSGF_FD, 0x2, h_none, "FD" },
	{ 0x0103, 0, MSG_BODY_MAX, 0, 0x4, h_none, "ANY" },
};

static void
setup(void)
{
	int	sz = 4 * MSG_BODY_MAX;

	if (sv[0] != -1)
		return;
	if (msg_socketpair(sv) == -1)
		abort();
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if ((spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		abort();
	fd_limit = spare_fd;
}

/* Note the descriptors above ours that are open before an input... */
static void
note_open(void)
{
	int	i;

	for (i = 0; i < 16; i++)
		was_open[i] = fcntl(fd_limit + 1 + i, F_GETFD) != -1;
}

/* ... and close those msg_recv() let in, fatal or not. */
static void
close_received(void)
{
	int	i;

	for (i = 0; i < 16; i++)
		if (!was_open[i] && fcntl(fd_limit + 1 + i, F_GETFD) != -1)
			(void)close(fd_limit + 1 + i);
}

static int
send_raw(const uint8_t *p, size_t len, int nfds)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(3 * sizeof(int))];
	} cbuf;
	int		 fds[3] = { spare_fd, spare_fd, spare_fd };

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
	return sendmsg(sv[0], &mh, MSG_DONTWAIT) == (ssize_t)len ? 0 : -1;
}

static void
run_ops(struct msg *m, const uint8_t *ops, size_t nops)
{
	const uint8_t	*d;
	char		 str[512];
	size_t		 i, dlen, max, before;

	for (i = 0; i < nops; i++) {
		before = m->pos;
		switch (ops[i] & 7) {
		case 0:
			(void)msg_get_u8(m);
			ASSERT(m->pos == before + 1);
			break;
		case 1:
			(void)msg_get_u16(m);
			ASSERT(m->pos == before + 2);
			break;
		case 2:
			(void)msg_get_u32(m);
			ASSERT(m->pos == before + 4);
			break;
		case 3:
			(void)msg_get_u64(m);
			ASSERT(m->pos == before + 8);
			break;
		case 4:
			max = (size_t)(ops[i] >> 3) * 8;
			d = msg_get_data(m, &dlen, max);
			ASSERT(dlen <= max);
			ASSERT(d == m->body + before + 4);
			ASSERT(m->pos == before + 4 + dlen);
			break;
		case 5:
			max = 1 + (size_t)(ops[i] >> 3) * 16;
			if (max > sizeof(str))
				max = sizeof(str);
			msg_get_str(m, str, max);
			ASSERT(strlen(str) + 1 == m->pos - before - 4);
			ASSERT(strlen(str) < max);
			break;
		case 6:
			msg_end(m);
			ASSERT(m->pos == m->len);
			break;
		default:
			msg_wipe(m);
			ASSERT(m->len == 0 && m->pos == 0);
			break;
		}
		ASSERT(m->pos <= m->len && m->len <= MSG_BODY_MAX);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct msg		 m, m2, out;
	static uint8_t			 dg[2 * MSG_BODY_MAX];
	const struct msg_handler	*h;
	const uint8_t			*ops;
	size_t				 nops, dlen;
	uint16_t			 ver = MSG_VERSION, type;
	uint32_t			 blen;
	int				 flags, nfds, rc;

	setup();
	if (size < 2)
		return 0;
	flags = data[0];
	nops = data[1];
	if (nops > size - 2)
		nops = size - 2;
	ops = data + 2;
	dlen = size - 2 - nops;
	if (dlen > sizeof(dg))
		dlen = sizeof(dg);
	memcpy(dg, data + 2 + nops, dlen);
	if ((flags & 4) && dlen >= MSG_HDR_LEN) {
		blen = (uint32_t)(dlen - MSG_HDR_LEN);
		memcpy(dg, &ver, 2);
		memcpy(dg + 4, &blen, 4);
	}
	if ((flags & 0x40) && dlen >= 4) {
		type = (uint16_t)(0x0100 + (dg[2] & 3));
		memcpy(dg + 2, &type, 2);
	}
	nfds = flags & 3;
	note_open();
	if (send_raw(dg, dlen, nfds) == -1)
		return 0;

	m.fd = -1;
	in_target = 1;
	if (setjmp(fatal_jmp) == 0) {
		rc = msg_recv(sv[1], &m);
		ASSERT(rc == 0 || rc == 1);
		if (rc == 1) {
			ASSERT(m.len == dlen - MSG_HDR_LEN && m.pos == 0);
			ASSERT(memcmp(m.body, dg + MSG_HDR_LEN, m.len) == 0);
			ASSERT((m.fd != -1) == (nfds == 1));
			/* The same frame through msg_send decodes the same. */
			msg_init(&out, m.type);
			memcpy(out.body, m.body, m.len);
			out.len = m.len;
			ASSERT(msg_send(sv[0], &out, -1) == 0);
			ASSERT(msg_recv(sv[1], &m2) == 1);
			ASSERT(m2.type == m.type && m2.len == m.len &&
			    m2.fd == -1 && memcmp(m2.body, m.body, m.len) == 0);

			h = msg_lookup(tab, sizeof(tab) / sizeof(tab[0]), &m,
			    (unsigned int)(flags >> 3) & 7, "fuzz");
			ASSERT(h->type == m.type);
			ASSERT(m.len >= h->min_len && m.len <= h->max_len);
			if (m.fd != -1) {
				close(m.fd);
				m.fd = -1;
			}
			run_ops(&m, ops, nops);
			msg_end(&m);
			ASSERT(m.pos == m.len);
		}
	}
	in_target = 0;
	if (m.fd != -1)
		close(m.fd);
	m.fd = -1;
	close_received();
	/* Nothing may be left queued for the next input. */
	while (recv(sv[1], dg, sizeof(dg), MSG_DONTWAIT) > 0)
		;
	close_received();
	return 0;
}
