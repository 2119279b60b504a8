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
 * Runs in every process.  Encodes and decodes frames (see msg.h).  Trusts
 * nothing it receives: lengths are checked before use, descriptors that
 * arrive unasked for are closed, truncated frames are fatal.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"

static void	put(struct msg *, const void *, size_t);
static const uint8_t *get(struct msg *, size_t);

void
msg_init(struct msg *m, uint16_t type)
{
	m->type = type;
	m->len = 0;
	m->pos = 0;
	m->fd = -1;
}

static void
put(struct msg *m, const void *p, size_t n)
{
	/* The sender builds every frame itself: overflowing it is our bug. */
	if (n > sizeof(m->body) - m->len)
		bug("%s: frame type %u overflows", __func__, m->type);
	if (n == 0)
		return;		/* p may be NULL: an empty field */
	memcpy(m->body + m->len, p, n);
	m->len += n;
}

void
msg_put_u8(struct msg *m, uint8_t v)
{
	put(m, &v, sizeof(v));
}

void
msg_put_u16(struct msg *m, uint16_t v)
{
	put(m, &v, sizeof(v));
}

void
msg_put_u32(struct msg *m, uint32_t v)
{
	put(m, &v, sizeof(v));
}

void
msg_put_u64(struct msg *m, uint64_t v)
{
	put(m, &v, sizeof(v));
}

void
msg_put_data(struct msg *m, const void *p, size_t n)
{
	if (n > UINT32_MAX)
		bug("%s: %zu bytes", __func__, n);
	msg_put_u32(m, (uint32_t)n);
	put(m, p, n);
}

void
msg_put_str(struct msg *m, const char *s)
{
	msg_put_data(m, s, strlen(s) + 1);
}

int
msg_send(int fd, struct msg *m, int passfd)
{
	struct msghdr	 mh;
	struct iovec	 iov[2];
	struct cmsghdr	*cm;
	uint8_t		 hdr[MSG_HDR_LEN];
	uint16_t	 ver = MSG_VERSION;
	uint32_t	 len = (uint32_t)m->len;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	ssize_t		 n;

	memcpy(hdr, &ver, 2);
	memcpy(hdr + 2, &m->type, 2);
	memcpy(hdr + 4, &len, 4);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = m->body;
	iov[1].iov_len = m->len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	if (passfd >= 0) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		mh.msg_control = cmsgbuf.buf;
		mh.msg_controllen = sizeof(cmsgbuf.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &passfd, sizeof(int));
	}
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != sizeof(hdr) + m->len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/*
 * A frame of one data field (msg_put_data()), sent from where the bytes
 * are: the same frame msg_send() would send, without copying the data
 * into a body first.  For message data, the bulk of what the spool
 * worker sends.
 */
int
msg_send_data(int fd, uint16_t type, const void *p, size_t n)
{
	struct msghdr	mh;
	struct iovec	iov[3];
	uint8_t		hdr[MSG_HDR_LEN];
	uint16_t	ver = MSG_VERSION;
	uint32_t	len = (uint32_t)(n + 4), dlen = (uint32_t)n;
	ssize_t		k;

	if (n + 4 > MSG_BODY_MAX)
		bug("%s: %zu bytes", __func__, n);
	memcpy(hdr, &ver, 2);
	memcpy(hdr + 2, &type, 2);
	memcpy(hdr + 4, &len, 4);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = &dlen;
	iov[1].iov_len = sizeof(dlen);
	iov[2].iov_base = (void *)(uintptr_t)p;
	iov[2].iov_len = n;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 3;
	do {
		k = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (k == -1 && errno == EINTR);
	if (k == -1)
		return -1;
	if ((size_t)k != sizeof(hdr) + 4 + n) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/*
 * Receive one frame.  Returns 1 with a frame, 0 at end of file, -1 on a
 * socket error.  A malformed frame is fatal: the peer is broken or hostile.
 */
int
msg_recv(int fd, struct msg *m)
{
	struct msghdr	 mh;
	struct iovec	 iov[2];
	struct cmsghdr	*cm;
	uint8_t		 hdr[MSG_HDR_LEN];
	uint16_t	 ver;
	uint32_t	 len;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	ssize_t		 n;
	int		 got;

	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = m->body;
	iov[1].iov_len = sizeof(m->body);
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	mh.msg_control = cmsgbuf.buf;
	mh.msg_controllen = sizeof(cmsgbuf.buf);
	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	m->fd = -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len != CMSG_LEN(sizeof(int)))
			fatalx("%s: unexpected control message", __func__);
		memcpy(&got, CMSG_DATA(cm), sizeof(int));
		if (m->fd != -1)
			fatalx("%s: more than one descriptor", __func__);
		m->fd = got;
	}
	if (n == 0) {
		/* End of file, or an empty datagram: drop what came with it. */
		if (m->fd != -1)
			close(m->fd);
		m->fd = -1;
		return 0;
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		fatalx("%s: truncated frame", __func__);
	if ((size_t)n < sizeof(hdr))
		fatalx("%s: short frame header", __func__);
	memcpy(&ver, hdr, 2);
	memcpy(&m->type, hdr + 2, 2);
	memcpy(&len, hdr + 4, 4);
	if (ver != MSG_VERSION)
		fatalx("%s: frame version %u, expected %u", __func__, ver,
		    MSG_VERSION);
	if (len > sizeof(m->body) || (size_t)n - sizeof(hdr) != len)
		fatalx("%s: frame length %u does not match %zd", __func__,
		    len, n);
	m->len = len;
	m->pos = 0;
	return 1;
}

static const uint8_t *
get(struct msg *m, size_t n)
{
	const uint8_t	*p;

	if (n > m->len - m->pos)
		fatalx("frame type %u: read past end", m->type);
	p = m->body + m->pos;
	m->pos += n;
	return p;
}

uint8_t
msg_get_u8(struct msg *m)
{
	return *get(m, 1);
}

uint16_t
msg_get_u16(struct msg *m)
{
	uint16_t v;

	memcpy(&v, get(m, sizeof(v)), sizeof(v));
	return v;
}

uint32_t
msg_get_u32(struct msg *m)
{
	uint32_t v;

	memcpy(&v, get(m, sizeof(v)), sizeof(v));
	return v;
}

uint64_t
msg_get_u64(struct msg *m)
{
	uint64_t v;

	memcpy(&v, get(m, sizeof(v)), sizeof(v));
	return v;
}

/* A length-prefixed byte string of at most max bytes, left in the frame. */
const uint8_t *
msg_get_data(struct msg *m, size_t *len_r, size_t max)
{
	uint32_t n;

	n = msg_get_u32(m);
	if (n > max)
		fatalx("frame type %u: field of %u bytes, at most %zu",
		    m->type, n, max);
	*len_r = n;
	return get(m, n);
}

/* A NUL-terminated string without inner NUL that fits dst. */
void
msg_get_str(struct msg *m, char *dst, size_t dstlen)
{
	const uint8_t	*p;
	size_t		 n;

	p = msg_get_data(m, &n, dstlen);
	if (n == 0 || p[n - 1] != '\0' || memchr(p, '\0', n - 1) != NULL)
		fatalx("frame type %u: malformed string", m->type);
	memcpy(dst, p, n);
}

void
msg_end(struct msg *m)
{
	if (m->pos != m->len)
		fatalx("frame type %u: %zu bytes left over", m->type,
		    m->len - m->pos);
	if (m->fd != -1)
		fatalx("frame type %u: descriptor not taken", m->type);
}

void
msg_wipe(struct msg *m)
{
	explicit_bzero(m->body, m->len);
	m->len = m->pos = 0;
}

/*
 * The one place a received frame is checked against the receiver's table:
 * known type, allowed in the receiver's current state (a bit in states),
 * length within bounds, descriptor present if and only if the type carries
 * one.  Anything else ends the receiving process.
 */
const struct msg_handler *
msg_lookup(const struct msg_handler *tab, size_t n, const struct msg *m,
    unsigned int state, const char *chan)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (tab[i].type != m->type)
			continue;
		if ((tab[i].states & state) == 0)
			fatalx("%s: %s not allowed now", chan, tab[i].name);
		if (m->len < tab[i].min_len || m->len > tab[i].max_len)
			fatalx("%s: %s: bad length %zu", chan, tab[i].name,
			    m->len);
		if ((tab[i].flags & MSGF_FD_MAY) == 0 &&
		    ((tab[i].flags & MSGF_FD) != 0) != (m->fd != -1))
			fatalx("%s: %s: descriptor %s", chan, tab[i].name,
			    m->fd == -1 ? "missing" : "unexpected");
		return &tab[i];
	}
	fatalx("%s: unexpected frame type %u", chan, m->type);
}

/*
 * A channel: one datagram per frame, so each end's send buffer must hold
 * the largest frame.  The defaults do (about 208 KiB); a smaller
 * net.core.wmem_default is raised here, by force when root.
 */
int
msg_socketpair(int sv[2])
{
	int	i, want = 2 * (MSG_HDR_LEN + MSG_BODY_MAX), have;
	socklen_t len;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	for (i = 0; i < 2; i++) {
		len = sizeof(have);
		if (getsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &have, &len) == 0 &&
		    have >= want)
			continue;
		if (setsockopt(sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &want,
		    sizeof(want)) == -1)
			(void)setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &want,
			    sizeof(want));
	}
	return 0;
}

