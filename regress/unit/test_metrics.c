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
 * Unit tests of the metrics: the OpenMetrics text of the master's
 * counters (privsep/metrics_fmt.c: families, labels, cumulative
 * buckets, the sum in seconds, "# EOF" last, a short buffer refused
 * whole), saturating counters, and the master's checks of the figures
 * a monitor reports (privsep/metrics.c): out-of-bounds figures and
 * unknown results are not counted, good ones are, as the text written
 * to metrics-file shows.
 */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "monitor_master.h"
#include "msg.h"
#include "test.h"

static char	text[METRICS_TEXT_MAX];

static int
has_line(const char *t, const char *line)
{
	size_t		 n = strlen(line);
	const char	*p;

	for (p = t; (p = strstr(p, line)) != NULL; p += n)
		if ((p == t || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

/* Login samples whose value is not 0. */
static int
nonzero_logins(const char *t)
{
	const char	*p;
	int		 n = 0;

	for (p = t; (p = strstr(p, "\npopsep_logins_total{")) != NULL; p++)
		n += strncmp(strchr(p, '}'), "} 0\n", 4) != 0;
	return n;
}

static void
test_empty(void)
{
	struct mx_counters	c;
	ssize_t			n;

	memset(&c, 0, sizeof(c));
	n = metrics_format(&c, text, sizeof(text));
	CHECK(n > 0 && (size_t)n == strlen(text), "zero counters: formatted");
	CHECK(n > 6 && strcmp(text + n - 6, "# EOF\n") == 0 &&
	    strstr(text, "# EOF") == text + n - 6, "# EOF once, last");
	CHECK(has_line(text, "# TYPE popsep_logins counter") &&
	    has_line(text, "# HELP popsep_logins Logins, by result and "
	    "mechanism."), "counter family: TYPE and HELP");
	CHECK(strstr(text, "# TYPE popsep_logins counter") <
	    strstr(text, "popsep_logins_total{"), "TYPE before the samples");
	CHECK(has_line(text, "# UNIT popsep_update_seconds seconds"),
	    "histogram: UNIT seconds");
	CHECK(has_line(text, "popsep_lock_wait_seconds_sum 0.000"),
	    "empty histogram: sum 0.000");
	CHECK(has_line(text, "popsep_lock_wait_seconds_bucket{le=\"+Inf\"} 0"),
	    "empty histogram: +Inf 0");
}

/*
 * The lines of test_values()' counters: gauges by state, logins by result
 * and mechanism, a 64-bit and a saturated value, buckets cumulative with
 * one observation past the last bound only in +Inf, the sum in seconds.
 */
static const char *const value_lines[] = {
	"popsep_sessions{state=\"unauthenticated\"} 3",
	"popsep_sessions{state=\"authenticated\"} 7",
	"popsep_logins_total{result=\"in-use\",mech=\"pam\"} 5",
	"popsep_logins_total{result=\"ok\",mech=\"apop\"} 11",
	"popsep_refusals_total{reason=\"login-timeout\"} 2",
	"popsep_served_bytes_total{command=\"top\"} 12345678901234",
	"popsep_tls_handshakes_total 18446744073709551615",
	"popsep_update_seconds_bucket{le=\"0.001\"} 2",
	"popsep_update_seconds_bucket{le=\"0.01\"} 3",
	"popsep_update_seconds_bucket{le=\"0.1\"} 3",
	"popsep_update_seconds_bucket{le=\"1.0\"} 4",
	"popsep_update_seconds_bucket{le=\"60.0\"} 4",
	"popsep_update_seconds_bucket{le=\"+Inf\"} 5",
	"popsep_update_seconds_count 5",
	"popsep_update_seconds_sum 101.006",
};

static void
test_values(void)
{
	struct mx_counters	c;
	size_t			i;

	memset(&c, 0, sizeof(c));
	c.sessions_unauth = 3;
	c.sessions_authed = 7;
	c.logins[MX_LOGIN_IN_USE][MX_MECH_PAM] = 5;
	c.logins[MX_LOGIN_OK][MX_MECH_APOP] = 11;
	c.refusals[MX_REF_LOGIN_TIMEOUT] = 2;
	c.top_bytes = 12345678901234ULL;
	c.tls_handshakes = UINT64_MAX;
	metrics_observe(&c.update, 0);
	metrics_observe(&c.update, 1);
	metrics_observe(&c.update, 5);
	metrics_observe(&c.update, 1000);
	metrics_observe(&c.update, 100000);
	CHECK(metrics_format(&c, text, sizeof(text)) > 0, "formatted");
	for (i = 0; i < sizeof(value_lines) / sizeof(value_lines[0]); i++)
		CHECK(has_line(text, value_lines[i]), "line %s",
		    value_lines[i]);
}

static void
test_short_buffer(void)
{
	struct mx_counters	c;
	char			small[METRICS_TEXT_MAX];
	ssize_t			n;
	size_t			len, bad = 0;

	memset(&c, 0, sizeof(c));
	n = metrics_format(&c, text, sizeof(text));
	len = (size_t)n;
	for (size_t i = 0; i <= len; i++) {
		small[0] = 'x';
		if (metrics_format(&c, small, i) != -1 ||
		    (i > 0 && small[0] != '\0'))
			bad++;
	}
	CHECK(bad == 0, "every buffer shorter than the text: refused, empty");
	CHECK(metrics_format(&c, small, len + 1) == n &&
	    memcmp(small, text, len + 1) == 0, "a buffer of the exact size");
}

static void
test_add(void)
{
	struct mx_hist	h;

	CHECK(metrics_add(1, 2) == 3, "add");
	CHECK(metrics_add(UINT64_MAX - 1, 5) == UINT64_MAX, "add saturates");
	CHECK(metrics_add(UINT64_MAX, UINT64_MAX) == UINT64_MAX,
	    "saturated stays");
	memset(&h, 0, sizeof(h));
	h.sum_ms = UINT64_MAX - 2;
	metrics_observe(&h, 10);
	CHECK(h.sum_ms == UINT64_MAX && h.count == 1, "histogram sum "
	    "saturates");
}

/* w sent over a channel and read back into m, as the master reads it. */
static void
roundtrip(struct msg *w, struct msg *m, size_t len)
{
	int	sv[2];

	if (w->len != len || msg_socketpair(sv) == -1 ||
	    msg_send(sv[0], w, -1) == -1 || msg_recv(sv[1], m) != 1)
		exit(2);
	close(sv[0]);
	close(sv[1]);
}

/* A SESSION_END frame as a monitor sends it. */
static void
end_frame(struct msg *m, uint8_t flags, uint32_t retr_n, uint64_t retr_b,
    uint64_t lock_ms)
{
	struct msg	w;

	msg_init(&w, MSG_MM_REQ_SESSION_END);
	msg_put_u8(&w, flags);
	msg_put_u32(&w, retr_n);
	msg_put_u64(&w, retr_b);
	msg_put_u32(&w, 0);
	msg_put_u64(&w, 0);
	msg_put_u32(&w, 1);
	msg_put_u64(&w, 10);
	msg_put_u64(&w, lock_ms);
	msg_put_u64(&w, 0);
	roundtrip(&w, m, MM_SESSION_END_LEN);
}

static void
login_frame(struct msg *m, uint8_t result, uint8_t mech)
{
	struct msg	w;

	msg_init(&w, MSG_MM_REQ_LOGIN);
	msg_put_u8(&w, result);
	msg_put_u8(&w, mech);
	roundtrip(&w, m, MM_LOGIN_LEN);
}

static void
read_file(const char *path)
{
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		exit(2);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n < 0 ? 0 : n] = '\0';
}

static void
test_reports(void)
{
	static struct config	cf;
	static struct msg	m;
	char			dir[] = "/tmp/popsep-test-metrics.XXXXXX";

	if (mkdtemp(dir) == NULL)
		exit(2);
	cfg_defaults(&cf);
	snprintf(cf.metrics_file, sizeof(cf.metrics_file), "%s/m.txt", dir);
	metrics_start(&cf);
	end_frame(&m, MX_END_TLS | MX_END_LOCKED, 2, 300, 5);
	mm_session_end(NULL, &m);
	end_frame(&m, 0x10, 1, 1, 1);
	mm_session_end(NULL, &m);
	end_frame(&m, 0, 1, METRICS_FIGURE_MAX + 1, 0);
	mm_session_end(NULL, &m);
	end_frame(&m, MX_END_LOCKED, 0, 0, METRICS_FIGURE_MAX + 1);
	mm_session_end(NULL, &m);
	end_frame(&m, MX_END_LOGIN_TIMEOUT, 0, 0, 0);
	mm_session_end(NULL, &m);
	login_frame(&m, MX_LOGIN_FAIL, MX_MECH_PASSWORD);
	mm_login(NULL, &m);
	login_frame(&m, MX_LOGIN_N, MX_MECH_PAM);
	mm_login(NULL, &m);
	login_frame(&m, MX_LOGIN_OK, MX_MECH_N);
	mm_login(NULL, &m);
	metrics_refused(MX_REF_BLOCKED);
	metrics_connection();
	metrics_tick();
	read_file(cf.metrics_file);
	CHECK(has_line(text, "popsep_sessions_ended_total 2"),
	    "two good session ends counted, three bad ones not");
	CHECK(has_line(text, "popsep_served_messages_total{command=\"retr\"} "
	    "2") && has_line(text, "popsep_served_bytes_total{"
	    "command=\"retr\"} 300"), "RETR figures of the good one");
	CHECK(has_line(text, "popsep_deleted_messages_total 2") &&
	    has_line(text, "popsep_deleted_bytes_total 20"), "deletions");
	CHECK(has_line(text, "popsep_tls_handshakes_total 1"), "TLS flag");
	CHECK(has_line(text, "popsep_lock_wait_seconds_count 1") &&
	    has_line(text, "popsep_lock_wait_seconds_sum 0.005"),
	    "lock wait of the good one only");
	CHECK(has_line(text, "popsep_refusals_total{reason=\"login-timeout\"} "
	    "1") && has_line(text, "popsep_refusals_total{reason=\"blocked\"} "
	    "1"), "refusals");
	CHECK(has_line(text, "popsep_logins_total{result=\"fail\","
	    "mech=\"password\"} 1"), "good login frame counted");
	CHECK(nonzero_logins(text) == 1, "out-of-range login frames not "
	    "counted");
	CHECK(has_line(text, "popsep_connections_total 1"), "connections");
	CHECK(metrics_timeout(-1) >= 0 && metrics_timeout(-1) <=
	    cf.metrics_interval * 1000, "poll timeout: the next write");
	CHECK(metrics_timeout(5) == 5, "poll timeout: a sooner one kept");
	unlink(cf.metrics_file);
	rmdir(dir);
}

int
main(void)
{
	log_init(1, LOG_DAEMON);
	test_empty();
	test_values();
	test_short_buffer();
	test_add();
	test_reports();
	TEST_EXIT();
}
