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
 * The OpenMetrics text of the master's counters.  Runs in the master
 * (root), which calls it for every snapshot it sends to the metrics
 * process or writes to metrics-file; it trusts the counters, which the
 * master has bounded already, and writes nothing but the fixed names,
 * labels and numbers below: no string from any other process reaches
 * the text.  A text that does not fit the buffer is refused whole.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

struct out {
	char	*buf;
	size_t	 len;
	size_t	 pos;
	int	 short_buf;
};

static const char *const login_names[MX_LOGIN_N] = {
	"ok", "fail", "expired", "disabled", "login-delay", "in-use", "sys",
};

static const char *const mech_names[MX_MECH_N] = {
	"password", "pam", "passwd-file", "apop",
};

static const char *const refusal_names[MX_REF_N] = {
	"max-sessions", "max-per-source", "max-startups", "blocked",
	"too-many-addresses", "login-timeout",
};

/* The buckets' bounds in seconds, in their canonical form. */
static const char *const bucket_names[MX_NBUCKETS] = {
	"0.001", "0.01", "0.1", "1.0", "10.0", "60.0",
};

static void	put(struct out *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (o->short_buf)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->pos) {
		o->short_buf = 1;
		return;
	}
	o->pos += (size_t)n;
}

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# TYPE %s %s\n# HELP %s %s\n", name, type, name, help);
}

static void
counter(struct out *o, const char *name, const char *help, uint64_t v)
{
	family(o, name, "counter", help);
	put(o, "%s_total %llu\n", name, (unsigned long long)v);
}

/* One family whose samples differ in one label. */
static void
by_label(struct out *o, const char *name, const char *label,
    const char *const *values, const uint64_t *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		put(o, "%s{%s=\"%s\"} %llu\n", name, label, values[i],
		    (unsigned long long)v[i]);
}

static void
sessions(struct out *o, const struct mx_counters *c)
{
	static const char *const states[] = { "unauthenticated",
	    "authenticated" };
	const uint64_t	v[] = { c->sessions_unauth, c->sessions_authed };

	family(o, "popsep_sessions", "gauge", "Sessions in progress, by "
	    "state.");
	by_label(o, "popsep_sessions", "state", states, v, 2);
}

static void
logins(struct out *o, const struct mx_counters *c)
{
	size_t	r, m;

	family(o, "popsep_logins", "counter", "Logins, by result and "
	    "mechanism.");
	for (r = 0; r < MX_LOGIN_N; r++)
		for (m = 0; m < MX_MECH_N; m++)
			put(o, "popsep_logins_total{result=\"%s\",mech=\"%s\"} "
			    "%llu\n", login_names[r], mech_names[m],
			    (unsigned long long)c->logins[r][m]);
}

/* The counters by reason and by command. */
static void
labelled(struct out *o, const struct mx_counters *c)
{
	static const char *const cmds[] = { "retr", "top" };
	const uint64_t	msgs[] = { c->retr_msgs, c->top_msgs };
	const uint64_t	bytes[] = { c->retr_bytes, c->top_bytes };

	family(o, "popsep_refusals", "counter", "Connections refused by the "
	    "master, or ended by login-timeout, by reason.");
	by_label(o, "popsep_refusals_total", "reason", refusal_names,
	    c->refusals, MX_REF_N);
	counter(o, "popsep_tls_handshakes", "TLS handshakes completed.",
	    c->tls_handshakes);
	family(o, "popsep_served_messages", "counter", "Messages sent, by "
	    "command.");
	by_label(o, "popsep_served_messages_total", "command", cmds, msgs, 2);
	family(o, "popsep_served_bytes", "counter", "Bytes of messages sent, "
	    "by command.");
	by_label(o, "popsep_served_bytes_total", "command", cmds, bytes, 2);
}

static void
histogram(struct out *o, const char *name, const char *help,
    const struct mx_hist *h)
{
	uint64_t	cum = 0;
	size_t		i;

	put(o, "# TYPE %s histogram\n# UNIT %s seconds\n# HELP %s %s\n",
	    name, name, name, help);
	for (i = 0; i < MX_NBUCKETS; i++) {
		cum = metrics_add(cum, h->bucket[i]);
		put(o, "%s_bucket{le=\"%s\"} %llu\n", name, bucket_names[i],
		    (unsigned long long)cum);
	}
	put(o, "%s_bucket{le=\"+Inf\"} %llu\n", name,
	    (unsigned long long)h->count);
	put(o, "%s_count %llu\n", name, (unsigned long long)h->count);
	put(o, "%s_sum %llu.%03llu\n", name,
	    (unsigned long long)(h->sum_ms / 1000),
	    (unsigned long long)(h->sum_ms % 1000));
}

ssize_t
metrics_format(const struct mx_counters *c, char *buf, size_t len)
{
	struct out	o = { buf, len, 0, 0 };

	if (len == 0)
		return -1;
	sessions(&o, c);
	counter(&o, "popsep_connections", "Connections accepted.",
	    c->connections);
	counter(&o, "popsep_sessions_ended", "Sessions whose monitor "
	    "reported their end.", c->sessions_ended);
	logins(&o, c);
	labelled(&o, c);
	counter(&o, "popsep_deleted_messages", "Messages deleted by an "
	    "update.", c->dele_msgs);
	counter(&o, "popsep_deleted_bytes", "Bytes of the messages deleted "
	    "by an update.", c->dele_bytes);
	histogram(&o, "popsep_lock_wait_seconds", "Time a session waited for "
	    "its mailbox's locks.", &c->lock_wait);
	histogram(&o, "popsep_update_seconds", "Time of the update at the "
	    "end of a session.", &c->update);
	put(&o, "# EOF\n");
	if (o.short_buf) {
		buf[0] = '\0';
		return -1;
	}
	return (ssize_t)o.pos;
}

/* Counters saturate: a wrapped counter would read as a reset. */
uint64_t
metrics_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/*
 * One observation of v milliseconds.  The buckets hold each observation
 * once (the text adds them up); one above the last bound is in +Inf only,
 * which is count.
 */
void
metrics_observe(struct mx_hist *h, uint64_t v)
{
	static const uint64_t	bounds[MX_NBUCKETS] = MX_BUCKETS_MS;
	size_t			i;

	for (i = 0; i < MX_NBUCKETS; i++)
		if (v <= bounds[i]) {
			h->bucket[i] = metrics_add(h->bucket[i], 1);
			break;
		}
	h->count = metrics_add(h->count, 1);
	h->sum_ms = metrics_add(h->sum_ms, v);
}
