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
 * Metrics: the counters the master keeps and the snapshot it makes of
 * them, in the OpenMetrics text format.  Channel between the master
 * (root) and the metrics process (privsep-user, chroot, seccomp), one
 * socket pair for the life of the metrics process:
 *
 *   MSG_MX_REQ_SNAPSHOT  data the whole exposition text, at most
 *                        METRICS_TEXT_MAX bytes            master -> metrics
 *
 * The channel is one-way: the master shuts down its reading side and
 * only notices the other end's closing.  The master formats every snapshot itself (metrics_format() in
 * privsep/metrics_fmt.c) and sends it whenever it changed; the metrics
 * process only stores the bytes and serves the latest copy.  The session
 * monitors' figures reach the master over the channel of
 * privsep/monitor_master.h.
 */

#ifndef POPSEP_METRICS_H
#define POPSEP_METRICS_H

#include <sys/types.h>

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "msg.h"

enum {
	MSG_MX_REQ_SNAPSHOT = 0x0600,
};

/* Login results, as the monitor reports them (MSG_MM_REQ_LOGIN). */
enum mx_login {
	MX_LOGIN_OK,
	MX_LOGIN_FAIL,
	MX_LOGIN_EXPIRED,
	MX_LOGIN_DISABLED,
	MX_LOGIN_DELAY,
	MX_LOGIN_IN_USE,
	MX_LOGIN_SYS,
	MX_LOGIN_N
};

/*
 * Mechanisms: the one that accepted the user, or for a password refused
 * before any accepted it, "password".
 */
enum mx_mech {
	MX_MECH_PASSWORD,
	MX_MECH_PAM,
	MX_MECH_PASSWD_FILE,
	MX_MECH_APOP,
	MX_MECH_N
};

/* Connections refused or ended before login. */
enum mx_refusal {
	MX_REF_MAX_SESSIONS,
	MX_REF_MAX_PER_SOURCE,
	MX_REF_MAX_STARTUPS,
	MX_REF_BLOCKED,
	MX_REF_ADDRESSES,	/* GUARD_SOURCES_MAX addresses known */
	MX_REF_LOGIN_TIMEOUT,
	MX_REF_N
};

/* Flags of MSG_MM_REQ_SESSION_END. */
#define MX_END_TLS		0x01	/* a TLS handshake completed */
#define MX_END_LOCKED		0x02	/* logged in: the lock wait counts */
#define MX_END_UPDATED		0x04	/* an update ran: its time counts */
#define MX_END_LOGIN_TIMEOUT	0x08	/* ended by login-timeout */
#define MX_END_ALL		0x0f

/* Upper bounds, in milliseconds, of the histograms' buckets. */
#define MX_NBUCKETS	6
#define MX_BUCKETS_MS	{ 1, 10, 100, 1000, 10000, 60000 }

struct mx_hist {
	uint64_t	 bucket[MX_NBUCKETS];	/* not cumulative */
	uint64_t	 count;
	uint64_t	 sum_ms;
};

struct mx_counters {
	uint64_t	 sessions_unauth;	/* gauges, at the snapshot */
	uint64_t	 sessions_authed;
	uint64_t	 connections;
	uint64_t	 sessions_ended;
	uint64_t	 logins[MX_LOGIN_N][MX_MECH_N];
	uint64_t	 refusals[MX_REF_N];
	uint64_t	 tls_handshakes;
	uint64_t	 retr_msgs, retr_bytes;
	uint64_t	 top_msgs, top_bytes;
	uint64_t	 dele_msgs, dele_bytes;
	struct mx_hist	 lock_wait;
	struct mx_hist	 update;
};

/* The text (privsep/metrics_fmt.c): its length, or -1 if len is short. */
ssize_t	metrics_format(const struct mx_counters *, char *, size_t);
uint64_t metrics_add(uint64_t, uint64_t);
void	metrics_observe(struct mx_hist *, uint64_t);

/* Master side (privsep/metrics.c). */
void	metrics_start(const struct config *);
void	metrics_connection(void);
void	metrics_refused(enum mx_refusal);
void	mm_login(void *, struct msg *);
void	mm_session_end(void *, struct msg *);
size_t	metrics_pollfd(struct pollfd *);
void	metrics_dispatch(const struct pollfd *);
void	metrics_tick(void);
int	metrics_timeout(int);
time_t	metrics_now(void);

/* The metrics process (privsep/metricsproc.c). */
pid_t	metricsproc_spawn(const struct config *, int, int *);

/* The metrics process's table of its channel (metricsproc.c), for -P. */
struct msg_handler;
const struct msg_handler *msgtab_metrics_master(size_t *);

#endif /* POPSEP_METRICS_H */
