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
 * What a session's processes know when they are forked: the monitor
 * builds it from the accepted connection; the network child and the spool
 * worker get their copy through fork().  It holds no secret.
 */

#ifndef POPSEP_SESSION_H
#define POPSEP_SESSION_H

#include <sys/types.h>

#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

#include "config.h"

struct session {
	const struct config	*cf;
	char			 id[17];
	int			 client_fd;
	int			 implicit_tls;
	int			 proxied;	/* a proxy listener's connection */
	SSL_CTX			*ctx;		/* NULL: no TLS at all */
	int			 key_fd;	/* to the key process, or -1 */
	int			 master_fd;	/* to the master, or -1 */
	int			 source_stale;	/* the address repeats a password */
	char			 addr[64];	/* numeric client address */
	char			 host[256];	/* name, with reverse-lookups */
	int			 is_local;	/* loopback client */
	char			 proxy_addr[64];	/* the proxy's, if proxied */
	char			 myname[256];	/* our host name, for replies */
	char			 apop_stamp[APOP_STAMP_MAX];	/* the monitor's */
};

void	session_setup_socket(struct session *);
int	session_set_client(struct session *, const char *);
void	monitor_prepare(void);
__attribute__((noreturn)) void monitor_main(struct session *);
void	netchild_prepare(const struct config *);
__attribute__((noreturn)) void netchild_main(struct session *, int);
__attribute__((noreturn)) void spool_main(const struct config *, uid_t,
		    gid_t, int, int, int, const int [2], int);
__attribute__((noreturn)) void master_main(struct config *);
__attribute__((noreturn)) void inetd_main(struct config *);
void	master_check_tls(const struct config *);
void	close_all_but(const int *, size_t);
/* The alignment of the blocks a child drops with proc_forget(). */
#define PROC_PAGE	4096
int	proc_forget(void *, size_t);
pid_t	proc_fork_helper(const char *, int, int *);
uint64_t ms_since(const struct timespec *);
void	master_set_reread(int (*)(const struct config *, struct config *));
struct msg;
void	relay_log(struct msg *, const char *);

#endif /* POPSEP_SESSION_H */
