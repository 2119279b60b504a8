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
 * popsepd's configuration: Qpopper's "set name = value" file plus the
 * command-line flags.  Parsed once by the master (or by the inetd-mode
 * monitor) as root before any client byte is read; every later process
 * reads its forked copy and never the file.
 */

#ifndef POPSEP_CONFIG_H
#define POPSEP_CONFIG_H

#include <sys/types.h>

#include <stdio.h>
#include <stdint.h>

#include "params.h"

#define CFG_LISTEN_MAX	8
#define CFG_PATH_MAX	1024

enum cfg_cleartext {
	CLEARTEXT_DEFAULT,	/* Qpopper's default: as "always" */
	CLEARTEXT_NEVER,
	CLEARTEXT_TLS,		/* only after STLS or on the TLS port */
	CLEARTEXT_ALWAYS,
	CLEARTEXT_LOCAL,	/* only from a loopback address, or with TLS */
};

enum cfg_tls_support {
	TLS_SUPPORT_DEFAULT,	/* STLS when a certificate is configured */
	TLS_SUPPORT_NONE,
	TLS_SUPPORT_STLS,
	TLS_SUPPORT_ALTERNATE_PORT,	/* inetd: the connection is TLS */
};

enum cfg_chunky {
	CHUNKY_ALWAYS,
	CHUNKY_NEVER,
	CHUNKY_TLS,
};

struct cfg_listen {
	char	 addr[128];	/* numeric host, "*" for any */
	char	 port[16];
	int	 implicit_tls;
	int	 proxy;		/* a PROXY protocol header comes first */
};

/* A network of proxy-from: IPv4 addresses are kept as such, not mapped. */
struct cfg_net {
	int	 family;	/* AF_INET or AF_INET6 */
	uint8_t	 addr[16];
	int	 prefix;	/* bits */
};

struct config {
	char		 file[CFG_PATH_MAX];
	int		 debug;		/* -d: foreground, log to stderr */
	int		 inetd;		/* -i: one connection on stdin */
	int		 check_only;	/* -n */
	int		 verbose;	/* -v, verbose, Qpopper's debug */
	int		 statistics;	/* -s */
	int		 reverse_lookups;
	int		 timeout;	/* seconds, -T */
	int		 auth_fail_delay;	/* ms */
	int		 max_sessions;
	int		 startups_start;	/* max-startups: random drop from */
	int		 startups_rate;	/* percent dropped at start */
	int		 startups_full;	/* all dropped from */
	int		 max_per_source;
	int		 login_timeout;	/* seconds in AUTHORIZATION */
	int		 block_threshold;	/* distinct failed passwords */
	int		 block_window;	/* seconds */
	int		 block_time;	/* seconds */
	int		 log_facility;
	enum cfg_cleartext	 cleartext;
	enum cfg_tls_support	 tls_support;
	enum cfg_chunky		 chunky;
	size_t		 nlisten;
	struct cfg_listen listen[CFG_LISTEN_MAX];
	size_t		 nproxy_from;
	struct cfg_net	 proxy_from[PROXY_FROM_MAX];
	size_t		 ncerts;
	char		 cert_file[KEY_MAX_KEYS][CFG_PATH_MAX];
	char		 key_file[KEY_MAX_KEYS][CFG_PATH_MAX];
	char		 tls_ciphers[256];
	char		 tls_ciphersuites[256];
	int		 tls13_only;	/* tls-version = tls1.3 */
	int		 tls_sign_rate;	/* key process: signatures/s */
	char		 pam_service[64];
	char		 passwd_file[CFG_PATH_MAX];
	int		 apop;		/* APOP offered, secrets in popauth_db */
	char		 popauth_db[CFG_PATH_MAX];
	char		 popauth_user[64];	/* owns popauth_db */
	char		 auth_file[CFG_PATH_MAX];	/* only these users */
	char		 nonauth_file[CFG_PATH_MAX];	/* never these */
	char		 keytab[CFG_PATH_MAX];	/* "" = no GSSAPI */
	char		 kerberos_service[64];	/* the acceptor's service */
	int		 first_valid_uid;	/* lower uids are refused */
	int		 downcase_user;	/* -c */
	int		 last_command;	/* LAST answered */
	int		 login_delay;	/* seconds between logins, 0: none */
	char		 announce_expire[8];	/* "" none, "never" or days */
	int		 trim_domain;	/* -C: "user@domain" -> "user" */
	char		 spool_dir[CFG_PATH_MAX];
	char		 chroot_dir[CFG_PATH_MAX];
	char		 privsep_user[64];
	char		 key_user[64];
	char		 pid_file[CFG_PATH_MAX];
	char		 home_dir_mail[256];	/* mailbox in $HOME */
	int		 server_mode;	/* serve in place; else temp drop */
	char		 group_server_mode[64];	/* in place for this group */
	char		 group_no_server_mode[64];	/* temp drop for it */
	char		 temp_dir[CFG_PATH_MAX];	/* "" = the mailbox's */
	char		 cache_dir[CFG_PATH_MAX];	/* "none" = no cache */
	int		 update_on_abort;
	int		 update_status_headers;	/* Status:, X-UIDL: */
	int		 fast_update;	/* -F; always in place */
	int		 mail_lock_check;	/* -L: messages per refresh */
	char		 bulldir[CFG_PATH_MAX];	/* -b */
	int		 max_bulletins;	/* for a user seen the first time */
	char		 tracefile[CFG_PATH_MAX];
	char		 session_json[CFG_PATH_MAX];	/* "", "syslog", a file */
	char		 metrics_listen[160];	/* "" none, else ADDR:PORT */
	struct cfg_listen metrics_addr;	/* metrics_listen, split */
	char		 metrics_file[CFG_PATH_MAX];	/* "" none */
	int		 metrics_interval;	/* seconds between writes */
};

void	cfg_defaults(struct config *);
int	cfg_parse_file(struct config *, const char *);
int	cfg_finish(struct config *);
int	cfg_tls_enabled(const struct config *);
int	cfg_has_proxy_listener(const struct config *);
int	cfg_proxy_trusted(const struct config *, const char *);
char	*cfg_trim(char *);
int	cfg_known(const char *);
int	cfg_set_named(struct config *, const char *, const char *,
	    const char *, int);
int	cfg_flag(struct config *, int, const char *);
void	cfg_dump(const struct config *, FILE *);

#endif /* POPSEP_CONFIG_H */
