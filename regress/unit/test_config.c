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
 * Unit tests of lib/config.c.  Each case writes a temporary configuration
 * file, parses it with stderr sent to another temporary file, and checks
 * one value or the "file:line: problem" text.  Valid and invalid values
 * of each option sit next to each other in the tables.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "params.h"
#include "test.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define OFF(f)		offsetof(struct config, f)
#define NOFF		((size_t)-1)

static char	 conf_path[1024];
static char	 err_text[8192];

static void	 write_conf(const char *, size_t);
static int	 parse_text(const char *, size_t, struct config *);
static int	 finish(struct config *);
static int	 err_at(int, const char *);
static const char *flat(void);

static void
write_conf(const char *text, size_t len)
{
	int	fd;

	if ((fd = open(conf_path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, text, len) != (ssize_t)len || close(fd) == -1) {
		perror(conf_path);
		exit(2);
	}
}

/* Run f(c) with fd 2 redirected into a temporary file; keep the text. */
#define CAPTURED(rc, call) do {						\
	FILE	*tf_;						\
	int	 saved_;					\
	size_t	 n_;						\
									\
	fflush(stderr);							\
	if ((tf_ = tmpfile()) == NULL || (saved_ = dup(2)) == -1 ||	\
	    dup2(fileno(tf_), 2) == -1) {				\
		perror("capture");					\
		exit(2);						\
	}								\
	(rc) = (call);							\
	fflush(stderr);							\
	dup2(saved_, 2);						\
	close(saved_);							\
	rewind(tf_);							\
	n_ = fread(err_text, 1, sizeof(err_text) - 1, tf_);		\
	err_text[n_] = '\0';						\
	fclose(tf_);							\
} while (0)

static int
parse_text(const char *text, size_t len, struct config *c)
{
	int	rc;

	write_conf(text, len);
	cfg_defaults(c);
	CAPTURED(rc, cfg_parse_file(c, conf_path));
	return rc;
}

static int
finish(struct config *c)
{
	int	rc;

	CAPTURED(rc, cfg_finish(c));
	return rc;
}

/* The captured stderr has a line "conf_path:line: ...text...". */
static int
err_at(int line, const char *text)
{
	char		 want[1200];
	const char	*p, *q, *eol;

	snprintf(want, sizeof(want), "%s:%d: ", conf_path, line);
	for (p = err_text; (p = strstr(p, want)) != NULL; p += strlen(want)) {
		eol = strchr(p, '\n');
		q = strstr(p + strlen(want), text);
		if (q != NULL && (eol == NULL || q < eol))
			return 1;
	}
	return 0;
}

/* The captured stderr on one line, for a FAIL message. */
static const char *
flat(void)
{
	static char	buf[300];
	char		*p;

	snprintf(buf, sizeof(buf), "%s", err_text);
	for (p = buf; *p != '\0'; p++)
		if (*p == '\n')
			*p = '|';
	return buf;
}

/* Option values ---------------------------------------------------------- */

struct val_case {
	const char	*text;
	int		 rc;
	size_t		 ioff;		/* int to check, or NOFF */
	int		 ival;
	size_t		 soff;		/* string, or NOFF */
	const char	*sval;
	int		 errline;	/* rc -1: "file:line: " ... */
	const char	*err;		/* ... and this text after it */
};

#define IOK(t, f, v)	{ t, 0, OFF(f), v, NOFF, NULL, 0, NULL }
#define SOK(t, f, v)	{ t, 0, NOFF, 0, OFF(f), v, 0, NULL }
#define BAD(t, l, e)	{ t, -1, NOFF, 0, NOFF, NULL, l, e }
#define BADI(t, f, v, l, e) { t, -1, OFF(f), v, NOFF, NULL, l, e }

#define S63	"abcdefghijklmnopqrstuvwxyz" \
		"abcdefghijklmnopqrstuvwxyzabcdefghijk"

#define STARTUPS_SYNTAX	"max-startups: expected start:rate:full or one number"
#define STARTUPS_RANGE	"max-startups: number out of range"

static const struct val_case val_cases[] = {
	/* Defaults, untouched by an empty file or comments. */
	IOK("", timeout, TIMEOUT_DEFAULT),
	IOK("# comment\n\n   \n\t# indented comment\n", auth_fail_delay,
	    AUTH_FAIL_DELAY_DEFAULT),
	IOK("", max_sessions, SESSIONS_MAX_DEFAULT),
	IOK("", log_facility, LOG_MAIL),
	IOK("", cleartext, CLEARTEXT_TLS),
	IOK("", statistics, 0),
	SOK("", spool_dir, "/var/mail"),
	SOK("", pam_service, "pop3"),

	/* Booleans: set, set = value, reset. */
	IOK("set statistics\n", statistics, 1),
	IOK("set statistics = true\n", statistics, 1),
	IOK("set statistics = yes\n", statistics, 1),
	IOK("set statistics = on\n", statistics, 1),
	IOK("set statistics = 1\n", statistics, 1),
	IOK("set statistics\nset statistics = false\n", statistics, 0),
	IOK("set statistics\nset statistics = no\n", statistics, 0),
	IOK("set statistics\nset statistics = off\n", statistics, 0),
	IOK("set statistics\nset statistics = 0\n", statistics, 0),
	IOK("set statistics\nreset statistics\n", statistics, 0),
	IOK("set reverse-lookups\n", reverse_lookups, 1),
	IOK("set reverse-lookups\nreset reverse-lookups\n", reverse_lookups,
	    0),
	IOK("set statistics # on\n", statistics, 1),
	BAD("set statistics = maybe\n", 1, "statistics: expected true or "
	    "false"),
	BAD("set statistics = TRUE\n", 1, "statistics: expected true or "
	    "false"),
	BAD("set statistics = 2\n", 1, "statistics: expected true or false"),
	BAD("reset timeout\n", 1, "timeout: only boolean options can be "
	    "reset"),
	BAD("reset spool-dir = /x\n", 1, "spool-dir: only boolean options"),

	/* Integers and their ranges. */
	IOK("set timeout = 30\n", timeout, 30),
	IOK("set timeout = 10\n", timeout, 10),
	IOK("set timeout = 86400\n", timeout, 86400),
	IOK("set timeout=45\n", timeout, 45),
	IOK("\tset\ttimeout\t=\t46\t\n", timeout, 46),
	IOK("  set   timeout   =   47  # comment\n", timeout, 47),
	IOK("set timeout = 30\nset timeout = 40\n", timeout, 40),
	IOK("set timeout = 30", timeout, 30),	/* no final newline */
	IOK("set timeout = 30\r\n", timeout, 30),
	BADI("set timeout = 9\n", timeout, TIMEOUT_DEFAULT, 1,
	    "timeout: number out of range"),
	BADI("set timeout = 86401\n", timeout, TIMEOUT_DEFAULT, 1,
	    "timeout: number out of range"),
	BAD("set timeout = 0\n", 1, "timeout: number out of range"),
	BAD("set timeout = -30\n", 1, "timeout: number out of range"),
	BAD("set timeout = 30s\n", 1, "timeout: number out of range"),
	BAD("set timeout = abc\n", 1, "timeout: number out of range"),
	BAD("set timeout = 99999999999999999999\n", 1,
	    "timeout: number out of range"),
	BAD("set timeout\n", 1, "timeout: missing value"),
	BAD("set timeout =\n", 1, "timeout: missing value"),
	BAD("set timeout = # nothing\n", 1, "timeout: missing value"),
	IOK("set auth-fail-delay = 0\n", auth_fail_delay, 0),
	IOK("set auth-fail-delay = 60000\n", auth_fail_delay, 60000),
	BAD("set auth-fail-delay = 60001\n", 1, "auth-fail-delay: number out "
	    "of range"),
	IOK("set max-sessions = 1\n", max_sessions, 1),
	IOK("set max-sessions = 65536\n", max_sessions, 65536),
	BAD("set max-sessions = 0\n", 1, "max-sessions: number out of range"),
	BAD("set max-sessions = 65537\n", 1, "max-sessions: number out of "
	    "range"),
	IOK("", startups_start, 20),
	IOK("", startups_rate, 30),
	IOK("", startups_full, 100),
	IOK("set max-startups = 5:50:8\n", startups_start, 5),
	IOK("set max-startups = 5:50:8\n", startups_rate, 50),
	IOK("set max-startups = 5:50:8\n", startups_full, 8),
	IOK("set max-startups = 7\n", startups_start, 7),
	IOK("set max-startups = 7\n", startups_rate, 100),
	IOK("set max-startups = 7\n", startups_full, 7),
	BAD("set max-startups = 5:50\n", 1, STARTUPS_SYNTAX),
	BAD("set max-startups = 5:50:8:9\n", 1, STARTUPS_SYNTAX),
	BAD("set max-startups = 9:50:8\n", 1, "max-startups: start is above "
	    "full"),
	BAD("set max-startups = 5:101:8\n", 1, STARTUPS_RANGE),
	BAD("set max-startups = 0:50:8\n", 1, STARTUPS_RANGE),
	BAD("set max-startups = 5::8\n", 1, STARTUPS_RANGE),
	IOK("", max_per_source, PER_SOURCE_DEFAULT),
	BAD("set max-per-source = 0\n", 1, "max-per-source: number out of "
	    "range"),
	IOK("", login_timeout, 60),
	IOK("set login-timeout = 10\n", login_timeout, 10),
	BAD("set login-timeout = 9\n", 1, "login-timeout: number out of "
	    "range"),
	IOK("", block_threshold, BLOCK_THRESHOLD_DEFAULT),
	IOK("set block-threshold = 64\n", block_threshold, GUARD_HASHES_MAX),
	BAD("set block-threshold = 65\n", 1, "block-threshold: number out of "
	    "range"),
	IOK("set block-window = 1\n", block_window, 1),
	IOK("set block-time = 3600\n", block_time, 3600),
	BAD("set block-time = 0\n", 1, "block-time: number out of range"),
	IOK("", tls_sign_rate, KEY_SIGN_RATE_DEFAULT),
	IOK("set tls-sign-rate = 1\n", tls_sign_rate, 1),
	IOK("set tls-sign-rate = 1000000\n", tls_sign_rate, 1000000),
	BAD("set tls-sign-rate = 0\n", 1, "tls-sign-rate: number out of "
	    "range"),
	BAD("set tls-sign-rate = 1000001\n", 1, "tls-sign-rate: number out "
	    "of range"),

	/* Enumerations. */
	IOK("set clear-text-password = never\n", cleartext, CLEARTEXT_NEVER),
	IOK("set clear-text-password = always\n", cleartext,
	    CLEARTEXT_ALWAYS),
	IOK("set clear-text-password = local\n", cleartext, CLEARTEXT_LOCAL),
	IOK("set clear-text-password = tls\n", cleartext, CLEARTEXT_TLS),
	IOK("set clear-text-password = default\n", cleartext,
	    CLEARTEXT_DEFAULT),
	BAD("set clear-text-password = sometimes\n", 1,
	    "clear-text-password: unknown value"),
	BAD("set clear-text-password\n", 1, "clear-text-password: missing "
	    "value"),
	IOK("set tls-support = stls\n", tls_support, TLS_SUPPORT_STLS),
	IOK("set tls-support = alternate-port\n", tls_support,
	    TLS_SUPPORT_ALTERNATE_PORT),
	IOK("set tls-support = none\n", tls_support, TLS_SUPPORT_NONE),
	BAD("set tls-support = starttls\n", 1, "tls-support: unknown value"),
	IOK("set chunky-writes = never\n", chunky, CHUNKY_NEVER),
	IOK("set chunky-writes = ssl\n", chunky, CHUNKY_TLS),
	IOK("set chunky-writes = tls\n", chunky, CHUNKY_TLS),
	BAD("set chunky-writes = sometimes\n", 1, "chunky-writes: unknown "
	    "value"),
	IOK("set tls-version = tls1.3\n", tls13_only, 1),
	IOK("set tls-version = tls1.3\nset tls-version = tls1.2\n",
	    tls13_only, 0),
	BAD("set tls-version = tls1.1\n", 1, "tls-version: unknown value"),
	IOK("set log-facility = local3\n", log_facility, LOG_LOCAL3),
	IOK("set log-facility = authpriv\n", log_facility, LOG_AUTHPRIV),
	IOK("set log-facility = user\n", log_facility, LOG_USER),
	BAD("set log-facility = local8\n", 1, "log-facility: unknown syslog "
	    "facility"),

	/* Strings. */
	SOK("set spool-dir = /srv/mail\n", spool_dir, "/srv/mail"),
	SOK("set spool-dir = /srv/mail # where mail is\n", spool_dir,
	    "/srv/mail"),
	SOK("set pam-service = two words\n", pam_service, "two words"),
	SOK("set pam-service = " S63 "\n", pam_service, S63),
	BAD("set pam-service = " S63 "x\n", 1, "pam-service: value too long"),
	BAD("set privsep-user = " S63 "x\n", 1, "privsep-user: value too "
	    "long"),
	SOK("set tls-cipher-list = HIGH:!aNULL\n", tls_ciphers,
	    "HIGH:!aNULL"),
	BAD("set spool-dir =\n", 1, "spool-dir: missing value"),
	SOK("set home-dir-mail = Mailbox\n", home_dir_mail, "Mailbox"),
	SOK("set tracefile = /var/log/popsep.trace\n", tracefile,
	    "/var/log/popsep.trace"),
	SOK("", tracefile, ""),
	SOK("", keytab, ""),
	SOK("set keytab = /etc/popsep/pop.keytab\n", keytab,
	    "/etc/popsep/pop.keytab"),
	SOK("", kerberos_service, "pop"),
	SOK("set kerberos-service = pop3\n", kerberos_service, "pop3"),
	BAD("set kerberos-service = " S63 "x\n", 1, "kerberos-service: value "
	    "too long"),

	/* The line itself. */
	BAD("timeout = 30\n", 1, "expected \"set\" or \"reset\""),
	BAD("settimeout = 30\n", 1, "expected \"set\" or \"reset\""),
	BAD("set\n", 1, "expected \"set\" or \"reset\""),
	BAD("SET timeout = 30\n", 1, "expected \"set\" or \"reset\""),
	BAD("resetstatistics\n", 1, "expected \"set\" or \"reset\""),
	BAD("set bogus = 1\n", 1, "unknown option \"bogus\""),
	BAD("set Timeout = 30\n", 1, "unknown option \"Timeout\""),
	BAD("set time out = 30\n", 1, "unknown option \"time out\""),
	BAD("set = 30\n", 1, "unknown option \"\""),
	/* Qpopper options popsep lacks get their own message. */
	BAD("set bulldb = /x\n", 1, "\"bulldb\" is a Qpopper option that "
	    "this version of popsep does not support"),
	BAD("# qpopper\nset shy\n", 2, "\"shy\" is a Qpopper option"),
	/* The spool modes and their tuning. */
	IOK("", server_mode, 1),
	IOK("reset server-mode\n", server_mode, 0),
	IOK("set server-mode = false\n", server_mode, 0),
	IOK("set server-mode\n", server_mode, 1),
	SOK("set temp-dir = /var/spool/pop\n", temp_dir, "/var/spool/pop"),
	SOK("set group-server-mode = popbig\n", group_server_mode, "popbig"),
	SOK("set group-no-server-mode = shell\n", group_no_server_mode,
	    "shell"),
	/* Qpopper's quotes stand for what they enclose. */
	SOK("set home-dir-mail = \"Mailbox\"\n", home_dir_mail, "Mailbox"),
	SOK("set home-dir-mail = '.mail'\n", home_dir_mail, ".mail"),
	SOK("set temp-dir = `/tmp/x`\n", temp_dir, "/tmp/x"),
	SOK("set temp-dir = \"/tmp/x'\n", temp_dir, "\"/tmp/x'"),
	SOK("set temp-dir = \"\n", temp_dir, "\""),
	IOK("", update_on_abort, 0),
	IOK("set update-on-abort\n", update_on_abort, 1),
	IOK("set fast-update\n", fast_update, 1),
	IOK("", mail_lock_check, MAIL_LOCK_CHECK_DEFAULT),
	IOK("set mail-lock-check = 50\n", mail_lock_check, 50),
	BAD("set mail-lock-check = 0\n", 1, "mail-lock-check"),
	BAD("set server-mode = sometimes\n", 1,
	    "server-mode: expected true or false"),
	BAD("reset uw-kludge\n", 1, "\"uw-kludge\" is a Qpopper option"),
	BAD("set bulldbx = 1\n", 1, "unknown option \"bulldbx\""),
	BAD("# one\n\nset timeout = 30\n  # four\nset bogus\n", 5,
	    "unknown option \"bogus\""),
	BAD("set timeout = 30\r\nset bogus\r\n", 2, "unknown option"),
	BADI("set bogus\nset timeout = 33\n", timeout, 33, 1,
	    "unknown option \"bogus\""),
	BAD("set timeout = 30\nset statistics = perhaps\nset timeout = 40\n",
	    2, "statistics: expected true or false"),

	/* Certificates and keys. */
	SOK("set tls-server-cert-file = /etc/c.pem\n", cert_file[0],
	    "/etc/c.pem"),
	SOK("set tls-server-cert-file = /etc/c.pem\n"
	    "set tls-private-key-file = /etc/k.pem\n", key_file[0],
	    "/etc/k.pem"),
	SOK("set tls-server-cert-file = /c1\nset tls-server-cert-file = /c2\n"
	    "set tls-private-key-file = /k2\n", key_file[1], "/k2"),
	SOK("set tls-server-cert-file = /c1\nset tls-server-cert-file = /c2\n"
	    "set tls-private-key-file = /k2\n", key_file[0], ""),
	BAD("set tls-private-key-file = /etc/k.pem\n", 1,
	    "tls-private-key-file: tls-private-key-file before "
	    "tls-server-cert-file"),
	BAD("# key first\nset tls-private-key-file = /k\n"
	    "set tls-server-cert-file = /c\n", 2, "tls-private-key-file: "
	    "tls-private-key-file before"),
	BAD("set tls-server-cert-file = /1\nset tls-server-cert-file = /2\n"
	    "set tls-server-cert-file = /3\nset tls-server-cert-file = /4\n"
	    "set tls-server-cert-file = /5\nset tls-server-cert-file = /6\n"
	    "set tls-server-cert-file = /7\nset tls-server-cert-file = /8\n"
	    "set tls-server-cert-file = /9\n", 9,
	    "tls-server-cert-file: too many certificates"),
	BAD("set tls-server-cert-file =\n", 1, "tls-server-cert-file: "
	    "missing value"),

	/* Listen addresses (the forms are checked in the listen table). */
	BAD("set listen = 127.0.0.1:0\n", 1, "listen: bad port"),
	BAD("set listen = 1\nset listen = 2\nset listen = 3\nset listen = 4\n"
	    "set listen = 5\nset listen = 6\nset listen = 7\nset listen = 8\n"
	    "set listen = 9\n", 9, "listen: too many listen addresses"),
};

static void
test_values(void)
{
	const struct val_case	*c;
	struct config		 cf;
	char			 shown[80], *p;
	size_t			 i;
	int			 rc, ok;

	for (i = 0; i < NELEM(val_cases); i++) {
		c = &val_cases[i];
		snprintf(shown, sizeof(shown), "%s", c->text);
		for (p = shown; *p != '\0'; p++)
			if (*p == '\n' || *p == '\r' || *p == '\t')
				*p = '|';
		rc = parse_text(c->text, strlen(c->text), &cf);
		ok = rc == c->rc;
		if (ok && c->ioff != NOFF)
			ok = *(int *)((char *)&cf + c->ioff) == c->ival;
		if (ok && c->soff != NOFF)
			ok = strcmp((char *)&cf + c->soff, c->sval) == 0;
		if (ok && c->rc == -1)
			ok = err_at(c->errline, c->err);
		if (ok && c->rc == 0)
			ok = err_text[0] == '\0';
		if (c->rc == 0)
			CHECK(ok, "config \"%s\": ok%s%s", shown,
			    c->sval ? ", " : "", c->sval ? c->sval : "");
		else
			CHECK(ok, "config \"%s\": line %d \"%s\" (rc %d, "
			    "stderr \"%s\")", shown, c->errline, c->err, rc,
			    flat());
	}
}

/* Lines that cannot be written as C strings: long ones and NUL bytes. */
static void
test_odd_lines(void)
{
	struct config	 cf;
	char		 buf[3 * CONFIG_LINE_MAX];
	size_t		 n;
	int		 rc;

	/* A comment exactly CONFIG_LINE_MAX long (with its newline) is fine. */
	memset(buf, '#', CONFIG_LINE_MAX - 1);
	buf[CONFIG_LINE_MAX - 1] = '\n';
	n = CONFIG_LINE_MAX;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "set timeout = 31\n");
	rc = parse_text(buf, n, &cf);
	CHECK(rc == 0 && cf.timeout == 31, "config: a line of CONFIG_LINE_MAX "
	    "bytes is read whole (rc %d, timeout %d)", rc, cf.timeout);

	/* A longer one is refused, with its line number. */
	n = (size_t)snprintf(buf, sizeof(buf), "# first\n");
	memset(buf + n, '#', CONFIG_LINE_MAX + 50);
	n += CONFIG_LINE_MAX + 50;
	buf[n++] = '\n';
	rc = parse_text(buf, n, &cf);
	CHECK(rc == -1 && err_at(2, "line too long"), "config: a line of "
	    "CONFIG_LINE_MAX + 51 bytes on line 2 is refused (rc %d, \"%s\")",
	    rc, flat());

	/* A NUL byte must not cut a line short silently. */
	memcpy(buf, "set timeout = 30\0" "0\n", 19);
	rc = parse_text(buf, 19, &cf);
	CHECK(rc == -1 && err_at(1, "NUL byte"), "config: NUL byte inside a "
	    "line is refused (rc %d, timeout %d, \"%s\")", rc, cf.timeout,
	    flat());
	memcpy(buf, "# c\nset spool-dir = /a\0/b\n", 26);
	rc = parse_text(buf, 26, &cf);
	CHECK(rc == -1 && err_at(2, "NUL byte"), "config: NUL byte in a path "
	    "on line 2 is refused (rc %d, spool-dir \"%s\")", rc,
	    cf.spool_dir);

	/* A file that is not there. */
	cfg_defaults(&cf);
	CAPTURED(rc, cfg_parse_file(&cf, "/nonexistent/popsepd.conf"));
	CHECK(rc == -1 && strstr(err_text, "/nonexistent/popsepd.conf") !=
	    NULL && strstr(err_text, strerror(ENOENT)) != NULL,
	    "config: missing file named with its error");
}

/* listen and listen-tls forms -------------------------------------------- */

struct listen_case {
	const char	*text;
	int		 rc;
	const char	*addr;
	const char	*port;
	int		 tls;
	const char	*err;
};

static const struct listen_case listen_cases[] = {
	{ "set listen = 127.0.0.1:110\n", 0, "127.0.0.1", "110", 0, NULL },
	{ "set listen-tls = [::1]:995\n", 0, "::1", "995", 1, NULL },
	{ "set listen = [::]:110\n", 0, "::", "110", 0, NULL },
	{ "set listen = [fe80::1%eth0]:110\n", 0, "fe80::1%eth0", "110", 0,
	    NULL },
	{ "set listen = *:110\n", 0, "*", "110", 0, NULL },
	{ "set listen = 110\n", 0, "*", "110", 0, NULL },
	{ "set listen-tls = 995\n", 0, "*", "995", 1, NULL },
	{ "set listen = 0.0.0.0:1\n", 0, "0.0.0.0", "1", 0, NULL },
	{ "set listen = 10.1.2.3:65535\n", 0, "10.1.2.3", "65535", 0, NULL },
	{ "set listen = 127.0.0.1:0\n", -1, NULL, NULL, 0, "bad port" },
	{ "set listen = 127.0.0.1:65536\n", -1, NULL, NULL, 0, "bad port" },
	{ "set listen = 127.0.0.1:pop3\n", -1, NULL, NULL, 0, "bad port" },
	{ "set listen = 127.0.0.1:\n", -1, NULL, NULL, 0, "bad port" },
	{ "set listen = 127.0.0.1:110x\n", -1, NULL, NULL, 0, "bad port" },
	{ "set listen = 127.0.0.1:-110\n", -1, NULL, NULL, 0, "bad port" },
	{ "set listen = 0\n", -1, NULL, NULL, 0, "bad port" },
	{ "set listen = 99999\n", -1, NULL, NULL, 0, "bad port" },
	{ "set listen = pop3\n", -1, NULL, NULL, 0, "bad port" },
	{ "set listen = :110\n", -1, NULL, NULL, 0, "bad listen address" },
	{ "set listen = []:110\n", -1, NULL, NULL, 0, "bad listen address" },
	{ "set listen = [::1]\n", -1, NULL, NULL, 0,
	    "expected [address]:port" },
	{ "set listen = [::1]110\n", -1, NULL, NULL, 0,
	    "expected [address]:port" },
	{ "set listen = [::1]:\n", -1, NULL, NULL, 0, "bad port" },
	{ "set listen =\n", -1, NULL, NULL, 0, "missing value" },
	/* Without brackets an IPv6 address is ambiguous: "::1" is no port. */
	{ "set listen = ::1\n", -1, NULL, NULL, 0, "" },
	{ "set listen = fe80::1:110\n", -1, NULL, NULL, 0, "" },
};

static void
test_listen(void)
{
	const struct listen_case	*c;
	struct config			 cf;
	char				 shown[80], *p;
	size_t				 i;
	int				 rc, ok;

	for (i = 0; i < NELEM(listen_cases); i++) {
		c = &listen_cases[i];
		snprintf(shown, sizeof(shown), "%s", c->text);
		if ((p = strchr(shown, '\n')) != NULL)
			*p = '\0';
		rc = parse_text(c->text, strlen(c->text), &cf);
		if (c->rc == 0) {
			ok = rc == 0 && cf.nlisten == 1 &&
			    strcmp(cf.listen[0].addr, c->addr) == 0 &&
			    strcmp(cf.listen[0].port, c->port) == 0 &&
			    cf.listen[0].implicit_tls == c->tls;
			CHECK(ok, "%s: address \"%s\" port \"%s\"%s (got "
			    "rc %d, \"%s\" \"%s\")", shown, c->addr, c->port,
			    c->tls ? " TLS" : "", rc, cf.listen[0].addr,
			    cf.listen[0].port);
		} else {
			ok = rc == -1 && cf.nlisten == 0 && err_at(1, c->err);
			CHECK(ok, "%s: refused: \"%s\" (got rc %d, addr \"%s\" "
			    "port \"%s\", stderr \"%s\")", shown, c->err,
			    rc, cf.listen[0].addr, cf.listen[0].port, flat());
		}
	}
}

/* cfg_finish ------------------------------------------------------------- */

struct finish_case {
	const char	*name;
	const char	*text;
	int		 rc;
	const char	*err;		/* on stderr (error, warning) */
	size_t		 nlisten;
	const char	*l0;		/* "addr port tls" of listen[0] */
	const char	*l1;
	const char	*key0;		/* key_file[0] expected */
	int		 tls_enabled;
};

static const struct finish_case finish_cases[] = {
	{ "no listen, no certificate: *:110",
	    "set clear-text-password = always\n", 0, NULL, 1, "* 110 0",
	    NULL, "", 0 },
	{ "no listen, a certificate: *:110 and *:995 TLS",
	    "set tls-server-cert-file = /c.pem\n", 0, NULL, 2, "* 110 0",
	    "* 995 1", "/c.pem", 1 },
	{ "key file defaults to the certificate file",
	    "set tls-server-cert-file = /both.pem\n", 0, NULL, 2, "* 110 0",
	    "* 995 1", "/both.pem", 1 },
	{ "explicit key file kept",
	    "set tls-server-cert-file = /c.pem\n"
	    "set tls-private-key-file = /k.pem\n", 0, NULL, 2, "* 110 0",
	    "* 995 1", "/k.pem", 1 },
	{ "explicit listen: no defaults added",
	    "set tls-server-cert-file = /c.pem\n"
	    "set listen = 127.0.0.1:1110\n", 0, NULL, 1, "127.0.0.1 1110 0",
	    NULL, "/c.pem", 1 },
	{ "explicit listen-tls with a certificate",
	    "set tls-server-cert-file = /c.pem\nset listen-tls = [::1]:9995\n",
	    0, NULL, 1, "::1 9995 1", NULL, "/c.pem", 1 },
	{ "tls-support none with a certificate: no *:995",
	    "set tls-server-cert-file = /c.pem\nset tls-support = none\n"
	    "set clear-text-password = always\n", 0, NULL, 1, "* 110 0",
	    NULL, "/c.pem", 0 },
	{ "tls-support stls with a certificate",
	    "set tls-server-cert-file = /c.pem\nset tls-support = stls\n", 0,
	    NULL, 2, "* 110 0", "* 995 1", "/c.pem", 1 },
	{ "listen-tls with a certificate but tls-support none",
	    "set tls-server-cert-file = /c.pem\nset tls-support = none\n"
	    "set listen-tls = 995\n", -1, "listen-tls needs", 0, NULL, NULL,
	    NULL, 0 },
	{ "home-dir-mail a file name", "set home-dir-mail = .mailbox\n"
	    "set clear-text-password = always\n", 0, NULL, 1, "* 110 0", NULL,
	    "", 0 },
	{ "keytab an absolute path", "set keytab = /k.tab\n"
	    "set clear-text-password = always\n", 0, NULL, 1, "* 110 0",
	    NULL, "", 0 },
	{ "keytab with FILE:", "set keytab = FILE:/k.tab\n"
	    "set clear-text-password = always\n", 0, NULL, 1, "* 110 0",
	    NULL, "", 0 },
	{ "keytab a relative path", "set keytab = k.tab\n", -1,
	    "keytab must be an absolute path", 0, NULL, NULL, NULL, 0 },
	{ "kerberos-service with a slash",
	    "set kerberos-service = pop/host\n", -1,
	    "kerberos-service must be a service name", 0, NULL, NULL, NULL, 0 },
	{ "home-dir-mail with a slash", "set home-dir-mail = mail/box\n", -1,
	    "home-dir-mail must be a file name", 0, NULL, NULL, NULL, 0 },
	{ "home-dir-mail an absolute path", "set home-dir-mail = /etc/x\n",
	    -1, "home-dir-mail must be a file name", 0, NULL, NULL, NULL, 0 },
	{ "home-dir-mail \"..\"", "set home-dir-mail = ..\n", -1,
	    "home-dir-mail must be a file name", 0, NULL, NULL, NULL, 0 },
	{ "home-dir-mail \".\"", "set home-dir-mail = .\n", -1,
	    "home-dir-mail must be a file name", 0, NULL, NULL, NULL, 0 },
	{ "tls-support none without a certificate",
	    "set tls-support = none\nset clear-text-password = always\n", 0,
	    NULL, 1, "* 110 0", NULL, "", 0 },
	{ "tls-support stls without a certificate",
	    "set tls-support = stls\n", -1,
	    "tls-support needs tls-server-cert-file", 0, NULL, NULL, NULL, 0 },
	{ "tls-support alternate-port without a certificate",
	    "set tls-support = alternate-port\n", -1,
	    "tls-support needs tls-server-cert-file", 0, NULL, NULL, NULL, 0 },
	{ "listen-tls without a certificate", "set listen-tls = 995\n", -1,
	    "listen-tls needs tls-server-cert-file", 0, NULL, NULL, NULL, 0 },
	{ "clear-text-password tls without TLS warns", "", 0,
	    "clear-text-password is \"tls\" but TLS is not configured", 1,
	    "* 110 0", NULL, "", 0 },
	{ "clear-text-password tls, TLS off by tls-support none warns",
	    "set tls-server-cert-file = /c.pem\nset tls-support = none\n", 0,
	    "clear-text-password is \"tls\"", 1, "* 110 0", NULL, "/c.pem",
	    0 },
};

static void
test_finish(void)
{
	static const char		 two[] =
	    "set tls-server-cert-file = /c1\n"
	    "set tls-server-cert-file = /c2\n"
	    "set tls-private-key-file = /k2\n";
	const struct finish_case	*c;
	struct config			 cf;
	char				 l[200];
	size_t				 i;
	int				 rc, ok;

	for (i = 0; i < NELEM(finish_cases); i++) {
		c = &finish_cases[i];
		if (parse_text(c->text, strlen(c->text), &cf) != 0) {
			CHECK(0, "finish %s: parse (\"%s\")", c->name,
			    flat());
			continue;
		}
		rc = finish(&cf);
		ok = rc == c->rc;
		if (ok && c->err != NULL)
			ok = strstr(err_text, c->err) != NULL;
		if (ok && c->err == NULL)
			ok = err_text[0] == '\0';
		if (ok && rc == 0) {
			ok = cf.nlisten == c->nlisten;
			snprintf(l, sizeof(l), "%s %s %d", cf.listen[0].addr,
			    cf.listen[0].port, cf.listen[0].implicit_tls);
			ok = ok && strcmp(l, c->l0) == 0;
			if (ok && c->l1 != NULL) {
				snprintf(l, sizeof(l), "%s %s %d",
				    cf.listen[1].addr, cf.listen[1].port,
				    cf.listen[1].implicit_tls);
				ok = strcmp(l, c->l1) == 0;
			}
			ok = ok && strcmp(cf.key_file[0], c->key0) == 0 &&
			    cfg_tls_enabled(&cf) == c->tls_enabled;
		}
		CHECK(ok, "finish %s (rc %d, nlisten %zu, stderr \"%s\")",
		    c->name, rc, cf.nlisten, flat());
	}

	/* Two certificates, a key for the second only. */
	if (parse_text(two, strlen(two), &cf) == 0 && finish(&cf) == 0)
		CHECK(cf.ncerts == 2 && strcmp(cf.key_file[0], "/c1") == 0 &&
		    strcmp(cf.key_file[1], "/k2") == 0, "finish: two "
		    "certificates: key 1 defaults to cert 1, key 2 kept");
	else
		CHECK(0, "finish: two certificates (\"%s\")", flat());
}

int
main(void)
{
	char	dir[] = "/tmp/popsep-config.XXXXXX";

	log_init(1, LOG_DAEMON);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(conf_path, sizeof(conf_path), "%s/popsepd.conf", dir);

	test_values();
	test_odd_lines();
	test_listen();
	test_finish();

	unlink(conf_path);
	rmdir(dir);
	TEST_EXIT();
}
