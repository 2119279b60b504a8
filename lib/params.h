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
 * Every limit of popsep in one place.  Used by all processes; knows no
 * process role.  Changing a limit that crosses a channel changes the
 * protocol: bump the channel version in privsep/msg.h.
 */

#ifndef POPSEP_PARAMS_H
#define POPSEP_PARAMS_H

#define POPSEP_VERSION		"0.1"

/* POP3 input */
#define POP_LINE_MAX		512	/* a reply line, a line buffer */
#define POP_CMD_MAX		255	/* a command line, CRLF included (RFC 2449 4) */
#define POP_ARG_MAX		255	/* one argument, RFC 2449 4. */
#define POP_USER_MAX		64	/* user name, bytes */
#define POP_PASS_MAX		256	/* password, bytes */
#define POP_INBUF_MAX		16384	/* unparsed client bytes held at most */
#define SASL_LINE_MAX		12288	/* a SASL response line (Kerberos tickets) */
#define POP_OUTBUF_FLUSH	16384	/* write when this much is queued */
#define POP_BAD_CMDS_MAX	20	/* unknown or refused commands, then close */
#define POP_AUTH_TRIES_MAX	3	/* failed logins per connection */

/* Messages between processes */
#define MSG_BODY_MAX		(MSG_DATA_CHUNK + 64)	/* one frame body */
#define MSG_DATA_CHUNK		131072	/* mailbox data per piece */
#define DATA_PIPE_SIZE		(2 * MSG_DATA_CHUNK)	/* data pipe, asked */
#define MSG_STR_MAX		4096	/* one string field */
#define LOG_LINE_MAX		1024	/* a log frame from a child */
#define TLS_NAME_MAX		64	/* a TLS version or cipher name, NUL too */
#define LOG_BURST		5	/* lines of one kind per LOG_PERIOD_SECS */
#define LOG_PERIOD_SECS		30

/* Mailbox */
#define SPOOL_MSGS_MAX		1000000	/* messages in one mailbox */
#define SPOOL_READ_CHUNK	(256 * 1024)
#define UID_LEN_MAX		70	/* RFC 1939 7. */
#define CACHE_DIR_DEFAULT	"/var/cache/popsep"	/* cache-dir */
#define LOCK_TRIES		10	/* dot-lock attempts, one a second */
#define LOCK_EMPTY_GRACE_SECS	5	/* a dot-lock naming no pid, then stale */
#define LOCK_REFRESH_SECS	30	/* touch a held dot-lock this often */
#define LOCK_STUCK_SECS		120	/* a lock holder silent this long is killed */
#define LOCK_HOLD_MAX_SECS	3600	/* and one holding it this long */
#define MAIL_LOCK_CHECK_DEFAULT	500	/* messages between lock refreshes (-L) */
#define SPOOL_PROGRESS_BYTES	(16 * 1024 * 1024)	/* bytes between them */
#define SPOOL_SIZE_MAX		(1ULL << 48)	/* a mailbox or journal, bytes */
#define BULL_NUMBER_MAX		1000000000	/* a bulletin's number */
#define BULL_SIZE_MAX		(1024 * 1024)	/* one bulletin, bytes */
#define BULL_COUNT_MAX		1000	/* new bulletins at one login */
#define BULL_SCAN_MAX		1000000	/* entries of bulldir looked at */
#define MAX_BULLETINS_DEFAULT	1	/* bulletins a new user gets */

/* TLS signing (see privsep/keyproc.c) */
#define KEY_MAX_KEYS		8	/* certificate/key pairs */
#define KEY_TBS_MAX		512	/* to-be-signed bytes */
#define KEY_SIG_MAX		1024	/* signature bytes */
#define KEY_CERT_CHAIN_MAX	(60 * 1024)	/* PEM chain of one key */
#define KEY_SIGN_RATE_DEFAULT	1000	/* signatures per second (tls-sign-rate) */
#define KEY_SIGN_BURST_SECS	2	/* bucket depth, in seconds of rate */
#define KEY_CONNS_MAX		65536	/* connections one key process serves */
#define KEY_SIGN_SOURCE_DIV	4	/* one client address: this part of the rate */
#define KEY_SOURCES_MAX		1024	/* client addresses the key process tracks */

/* Sessions */
#define SESSIONS_MAX_DEFAULT	256	/* concurrent sessions (master) */
#define SESSIONS_MAX_LIMIT	KEY_CONNS_MAX	/* highest max-sessions */
#define TIMEOUT_DEFAULT		600	/* seconds idle, RFC 1939 3. */
#define AUTH_FAIL_DELAY_DEFAULT	2000	/* ms from PASS to a failure reply */

/* Authentication */
#define APOP_STAMP_MAX		320	/* "<pid.clock.random@hostname>" */
#define APOP_DIGEST_LEN		32	/* MD5, lower-case hex */
#define POPAUTH_DB_DEFAULT	"/var/lib/popsep/popauth/pop.auth"
#define POPAUTH_USER_DEFAULT	"_popauth"	/* owns the APOP database */
#define KERBEROS_SERVICE_DEFAULT	"pop"	/* kerberos-service, RFC 4752 */
#define GSS_TOKEN_MAX		(SASL_LINE_MAX / 4 * 3)	/* one GSSAPI token */
#define GSS_ROUNDS_MAX		8	/* client tokens in a GSSAPI exchange */
#define GSS_EXCHANGES_MAX	10	/* GSSAPI exchanges per connection */
#define GSS_STEP_SECS		30	/* the acceptor's time for one token */
#define FIRST_VALID_UID_DEFAULT	1000	/* Debian's first ordinary uid */
#define LOGIN_DELAY_MAX		86400	/* seconds between logins, at most */
#define CONFIG_LINE_MAX		1024
#define CONFIG_INCLUDE_DEPTH	8	/* config-file nesting */

/* The network boundary (privsep/guard.c, privsep/sources.c) */
#define STARTUPS_DEFAULT	"20:30:100"	/* max-startups start:rate:full */
#define PER_SOURCE_DEFAULT	10	/* max-per-source: sessions per address */
#define LOGIN_TIMEOUT_DEFAULT	60	/* seconds in AUTHORIZATION */
#define LOGIN_TIMEOUT_MIN	10
#define BLOCK_THRESHOLD_DEFAULT	10	/* distinct failed passwords, then block */
#define BLOCK_WINDOW_DEFAULT	600	/* seconds the failures are counted */
#define BLOCK_TIME_DEFAULT	900	/* seconds an address stays blocked */
#define GUARD_HASHES_MAX	64	/* failed passwords remembered per address */
#define GUARD_SOURCES_MAX	4096	/* addresses the master remembers */
#define GUARD_DIGEST_LEN	16	/* bytes of the keyed hash kept */
#define GUARD_STEP_MS		1000	/* added to each further failure's delay */
#define GUARD_STALE_MS		3000	/* added for an address repeating a password */

/* The PROXY protocol (net/proxy.c) */
#define PROXY_V1_MAX		107	/* a version 1 line, CRLF included */
#define PROXY_V2_LEN_MAX	512	/* a version 2 header after its 16 bytes */
#define PROXY_HEADER_SECS	5	/* to send the whole header */
#define PROXY_ADDR_MAX		46	/* a numeric address, NUL too */
#define PROXY_FROM_MAX		16	/* proxy-from networks */

/* Metrics (privsep/metrics.c, privsep/metricsproc.c) */
#define METRICS_INTERVAL_DEFAULT 60	/* seconds between metrics-file writes */
#define METRICS_TEXT_MAX	16384	/* one snapshot, bytes */
#define METRICS_LINE_MAX	256	/* an HTTP request line, CRLF included */
#define METRICS_CONN_SECS	5	/* one HTTP connection, at most */
#define METRICS_CONNS_MAX	16	/* HTTP connections served at once */
#define METRICS_DRAIN_MAX	65536	/* request bytes read and dropped */
#define METRICS_RESTART_SECS	10	/* a metrics process dying sooner stays dead */
#define METRICS_FIGURE_MAX	(1ULL << 50)	/* one session's bytes or ms */

#endif /* POPSEP_PARAMS_H */
