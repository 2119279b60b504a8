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
 * Typed, length-prefixed frames between popsep's processes, over
 * SOCK_SEQPACKET socketpairs (one frame per datagram), with at most one
 * descriptor passed by SCM_RIGHTS.  Used by every process of privsep/;
 * knows no role itself.
 *
 * Wire format of a frame: u16 version, u16 type, u32 body length (host
 * order: both ends are the same binary on the same host), then the body.
 * The receiver checks the version and MSG_BODY_MAX before it reads the
 * body, and every get function checks the cursor: a short body, a string
 * without its NUL or with one inside, or bytes left over end the process
 * (fatalx), since only a broken or compromised peer sends them.
 */

#ifndef POPSEP_MSG_H
#define POPSEP_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"

/* Bump whenever any channel's message enum or a payload layout changes. */
#define MSG_VERSION	14
#define MSG_HDR_LEN	8

struct msg {
	uint16_t	 type;
	size_t		 len;		/* body bytes */
	size_t		 pos;		/* get cursor */
	int		 fd;		/* passed descriptor, or -1 */
	uint8_t		 body[MSG_BODY_MAX];
};

/* One row of a receiver's dispatch table. */
struct msg_handler {
	uint16_t	 type;
	size_t		 min_len;	/* body length bounds, checked first */
	size_t		 max_len;
	int		 flags;
#define MSGF_FD		0x01		/* must carry a descriptor */
#define MSGF_FD_MAY	0x02		/* may: the body says whether */
	unsigned int	 states;	/* receiver states it is allowed in */
	void		(*fn)(void *, struct msg *);
	const char	*name;		/* the type's name, for -P and logs */
};

/* A row whose name is its type's, so the two cannot drift apart. */
#define MSG_ROW(type, min, max, flags, states, fn)			\
	{ type, min, max, flags, states, fn, #type }

void	 msg_init(struct msg *, uint16_t);
void	 msg_put_u8(struct msg *, uint8_t);
void	 msg_put_u16(struct msg *, uint16_t);
void	 msg_put_u32(struct msg *, uint32_t);
void	 msg_put_u64(struct msg *, uint64_t);
void	 msg_put_data(struct msg *, const void *, size_t);
void	 msg_put_str(struct msg *, const char *);
int	 msg_send(int, struct msg *, int);
int	 msg_send_data(int, uint16_t, const void *, size_t);
int	 msg_recv(int, struct msg *);

uint8_t	 msg_get_u8(struct msg *);
uint16_t msg_get_u16(struct msg *);
uint32_t msg_get_u32(struct msg *);
uint64_t msg_get_u64(struct msg *);
const uint8_t *msg_get_data(struct msg *, size_t *, size_t);
void	 msg_get_str(struct msg *, char *, size_t);
void	 msg_end(struct msg *);
void	 msg_wipe(struct msg *);

const struct msg_handler *msg_lookup(const struct msg_handler *, size_t,
	    const struct msg *, unsigned int, const char *);

int	 msg_socketpair(int [2]);

#endif /* POPSEP_MSG_H */
