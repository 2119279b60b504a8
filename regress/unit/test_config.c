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
#include "qpopper.h"
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
/* Accepted with a warning on line l. */
#define WARN(t, l, e)	{ t, 0, NOFF, 0, NOFF, NULL, l, e }
#define WARNI(t, f, v, l, e) { t, 0, OFF(f), v, NOFF, NULL, l, e }

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
	IOK("set statistics = TRUE\n", statistics, 1),
	IOK("set statistics = Yes\n", statistics, 1),
	IOK("set statistics\nset statistics = OFF\n", statistics, 0),
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
	    "timeout: out of range (10 to 86400)"),
	BADI("set timeout = 86401\n", timeout, TIMEOUT_DEFAULT, 1,
	    "timeout: out of range (10 to 86400)"),
	BAD("set timeout = 0\n", 1, "timeout: out of range (10 to 86400)"),
	BAD("set timeout = ten\n", 1, "timeout: not a number"),
	BAD("set timeout = 3 0\n", 1, "timeout: not a number"),
	BAD("set timeout = -\n", 1, "timeout: not a number"),
	BAD("set timeout = -30\n", 1, "timeout: out of range (10 to 86400)"),
	BAD("set timeout = 30s\n", 1, "timeout: not a number"),
	BAD("set timeout = abc\n", 1, "timeout: not a number"),
	/* Hex as Qpopper's strtol read it; a leading 0 is not octal here. */
	IOK("set timeout = 0x78\n", timeout, 120),
	IOK("set timeout = 0X1e\n", timeout, 30),
	IOK("set timeout = 0x0000001E\n", timeout, 30),
	BAD("set timeout = 0x\n", 1, "timeout: not a number"),
	BAD("set timeout = 0xg\n", 1, "timeout: not a number"),
	BAD("set timeout = 0x1g\n", 1, "timeout: not a number"),
	BAD("set timeout = 0x5\n", 1, "timeout: out of range (10 to 86400)"),
	BAD("set timeout = 0xffffffffffffffffffff\n", 1,
	    "timeout: out of range (10 to 86400)"),
	BAD("set timeout = 0120\n", 1, "timeout: a leading 0 would be octal"),
	BAD("set timeout = 99999999999999999999\n", 1,
	    "timeout: out of range (10 to 86400)"),
	BAD("set timeout\n", 1, "timeout: missing value"),
	BAD("set timeout =\n", 1, "timeout: missing value"),
	BAD("set timeout = # nothing\n", 1, "timeout: missing value"),
	IOK("set auth-fail-delay = 0\n", auth_fail_delay, 0),
	IOK("set auth-fail-delay = 60000\n", auth_fail_delay, 60000),
	BAD("set auth-fail-delay = 60001\n", 1, "auth-fail-delay: out of range "
	    "(0 to 60000)"),
	IOK("set max-sessions = 1\n", max_sessions, 1),
	IOK("set max-sessions = 65536\n", max_sessions, 65536),
	BAD("set max-sessions = 0\n", 1, "max-sessions: out of range (1 to "
	    "65536)"),
	BAD("set max-sessions = 65537\n", 1, "max-sessions: out of range (1 "
	    "to 65536)"),
	IOK("", startups_start, 20),
	IOK("", startups_rate, 30),
	IOK("", startups_full, 100),
	IOK("set max-startups = 5:50:8\n", startups_start, 5),
	IOK("set max-startups = 5:50:8\n", startups_rate, 50),
	IOK("set max-startups = 5:50:8\n", startups_full, 8),
	IOK("set max-startups = 7\n", startups_start, 7),
	IOK("set max-startups = 7\n", startups_rate, 100),
	IOK("set max-startups = 7\n", startups_full, 7),
	IOK("set clear-text-password = always\n", metrics_interval,
	    METRICS_INTERVAL_DEFAULT),
	IOK("set metrics-interval = 86400\n", metrics_interval, 86400),
	BAD("set metrics-interval = 0\n", 1,
	    "metrics-interval: out of range (1 to 86400)"),
	SOK("set metrics-listen = 127.0.0.1:9110\n", metrics_listen,
	    "127.0.0.1:9110"),
	SOK("set metrics-file = /run/popsep.prom\n", metrics_file,
	    "/run/popsep.prom"),
	BAD("set max-startups = 5:50\n", 1, STARTUPS_SYNTAX),
	BAD("set max-startups = 5:50:8:9\n", 1, STARTUPS_SYNTAX),
	BAD("set max-startups = 9:50:8\n", 1, "max-startups: start is above "
	    "full"),
	BAD("set max-startups = 5:101:8\n", 1, STARTUPS_RANGE),
	BAD("set max-startups = 0:50:8\n", 1, STARTUPS_RANGE),
	BAD("set max-startups = 5::8\n", 1, STARTUPS_RANGE),
	IOK("", max_per_source, PER_SOURCE_DEFAULT),
	BAD("set max-per-source = 0\n", 1, "max-per-source: out of range "
	    "(1 to 65536)"),
	IOK("", login_timeout, 60),
	IOK("set login-timeout = 10\n", login_timeout, 10),
	BAD("set login-timeout = 9\n", 1, "login-timeout: out of range "
	    "(10 to 86400)"),
	IOK("", block_threshold, BLOCK_THRESHOLD_DEFAULT),
	IOK("set block-threshold = 64\n", block_threshold, GUARD_HASHES_MAX),
	BAD("set block-threshold = 65\n", 1, "block-threshold: out of range "
	    "(1 to 64)"),
	IOK("set block-window = 1\n", block_window, 1),
	IOK("set block-time = 3600\n", block_time, 3600),
	BAD("set block-time = 0\n", 1, "block-time: out of range (1 to 604800)"),
	IOK("", tls_sign_rate, KEY_SIGN_RATE_DEFAULT),
	IOK("set tls-sign-rate = 1\n", tls_sign_rate, 1),
	IOK("set tls-sign-rate = 1000000\n", tls_sign_rate, 1000000),
	BAD("set tls-sign-rate = 0\n", 1, "tls-sign-rate: out of range (1 "
	    "to 1000000)"),
	BAD("set tls-sign-rate = 1000001\n", 1, "tls-sign-rate: out of range "
	    "(1 to 1000000)"),

	/* Enumerations. */
	IOK("set clear-text-password = never\n", cleartext, CLEARTEXT_NEVER),
	IOK("set clear-text-password = always\n", cleartext,
	    CLEARTEXT_ALWAYS),
	IOK("set clear-text-password = local\n", cleartext, CLEARTEXT_LOCAL),
	IOK("set clear-text-password = tls\n", cleartext, CLEARTEXT_TLS),
	IOK("set clear-text-password = default\n", cleartext,
	    CLEARTEXT_DEFAULT),
	BAD("set clear-text-password = sometimes\n", 1,
	    "clear-text-password: unknown value \"sometimes\" (expected "
	    "default, never, tls, always, local or ssl)"),
	/* Qpopper's mnemonics in any case, and its "ssl" synonym. */
	IOK("set clear-text-password = TLS\n", cleartext, CLEARTEXT_TLS),
	IOK("set clear-text-password = SSL\n", cleartext, CLEARTEXT_TLS),
	IOK("set clear-text-password = ssl\n", cleartext, CLEARTEXT_TLS),
	IOK("set clear-text-password = Always\n", cleartext,
	    CLEARTEXT_ALWAYS),
	IOK("set tls-support = STLS\n", tls_support, TLS_SUPPORT_STLS),
	IOK("set tls-support = Alternate-Port\n", tls_support,
	    TLS_SUPPORT_ALTERNATE_PORT),
	WARNI("set tls-support = DEFAULT\n", tls_support, TLS_SUPPORT_DEFAULT,
	    1, "warning: tls-support = DEFAULT: popsep offers TLS whenever a "
	    "certificate is set"),
	IOK("set chunky-writes = SSL\n", chunky, CHUNKY_TLS),
	IOK("set log-facility = LOCAL1\n", log_facility, LOG_LOCAL1),
	IOK("set log-facility = Mail\n", log_facility, LOG_MAIL),
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
	BAD("set tls-version = tls1.1\n", 1, "tls-version: unknown value "
	    "\"tls1.1\" (expected default, tls1.2, tls1.3, sslv2, sslv3, "
	    "tlsv1, sslv23 or all)"),
	IOK("set tls-version = TLS1.3\n", tls13_only, 1),
	IOK("set tls-version = default\n", tls13_only, 0),
	/* Qpopper's old versions mean "TLS 1.2 and later", and say so. */
	WARNI("set tls-version = SSLv2\n", tls13_only, 0, 1, "tls-version = "
	    "SSLv2: popsep never offers TLS below 1.2: this means TLS 1.2 and "
	    "later"),
	WARNI("set tls-version = sslv3\n", tls13_only, 0, 1, "never offers "
	    "TLS below 1.2"),
	WARNI("set tls-version = TLSv1\n", tls13_only, 0, 1, "never offers "
	    "TLS below 1.2"),
	WARNI("set tls-version = tls1.3\nset tls-version = SSLv23\n",
	    tls13_only, 0, 2, "never offers TLS below 1.2"),
	WARNI("set tls-version = ALL\n", tls13_only, 0, 1, "never offers "
	    "TLS below 1.2"),
	IOK("set log-facility = local3\n", log_facility, LOG_LOCAL3),
	IOK("set log-facility = authpriv\n", log_facility, LOG_AUTHPRIV),
	IOK("set log-facility = user\n", log_facility, LOG_USER),
	BAD("set log-facility = local8\n", 1, "log-facility: unknown syslog "
	    "facility (expected auth, authpriv, daemon, local0 to local7, "
	    "mail or user)"),

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
	/* Keywords and names in any case, as in Qpopper. */
	IOK("SET timeout = 30\n", timeout, 30),
	IOK("Set TIMEOUT = 31\n", timeout, 31),
	IOK("set statistics\nRESET Statistics\n", statistics, 0),
	IOK("set Reverse-Lookups\n", reverse_lookups, 1),
	BAD("resetstatistics\n", 1, "expected \"set\" or \"reset\""),
	BAD("set bogus = 1\n", 1, "unknown option \"bogus\""),
	IOK("set Timeout = 30\n", timeout, 30),
	BAD("set Timeoutx = 30\n", 1, "unknown option \"Timeoutx\""),
	BAD("set time out = 30\n", 1, "unknown option \"time out\""),
	BAD("set = 30\n", 1, "unknown option \"\""),
	/* Qpopper options: ignored with a warning, or refused saying why. */
	WARN("set bulldb = /x\n", 1, "warning: Qpopper option \"bulldb\" "
	    "ignored: popsep keeps each user's last bulletin in ~/.popbull"),
	WARN("# qpopper\nset shy\n", 2, "Qpopper option \"shy\" ignored: "
	    "popsep always names its version"),
	BAD("set shy = maybe\n", 1, "shy: expected true or false"),
	WARN("set tls-options = 0x00000800\n", 1, "Qpopper option "
	    "\"tls-options\" ignored: popsep offers only TLS 1.2 and later"),
	WARN("set TLS-Options = 2048\n", 1, "\"TLS-Options\" ignored"),
	BAD("set tls-options = SSL_OP_ALL\n", 1, "tls-options: expected a "
	    "number (decimal or 0x hex)"),
	WARN("set tls-workarounds\n", 1, "\"tls-workarounds\" ignored"),
	WARN("set check-password-expired = true\n", 1, "pam_acct_mgmt"),
	WARN("set user-options\n", 1, "never reads option files"),
	WARN("set announce-login-delay = 30\n", 1, "only when it enforces one"),
	BAD("set drac-host = relay.example.org\n", 1, "\"drac-host\" is a "
	    "Qpopper option popsep cannot honour: popsep has no "
	    "POP-before-SMTP"),
	BAD("set tls-passphrase = secret\n", 1, "\"tls-passphrase\" is a "
	    "Qpopper option popsep cannot honour: popsep reads no encrypted "
	    "private keys"),
	BAD("set tls-identity-file = /x\n", 1, "tls-server-cert-file and "
	    "tls-private-key-file"),
	BAD("set group-bulletins = staff\n", 1, "\"group-bulletins\" is a "
	    "Qpopper option popsep cannot honour"),
	/* Refused only when on: off is what popsep does anyway. */
	WARN("reset kerberos\n", 1, "\"kerberos\" ignored"),
	WARN("set kerberos = false\n", 1, "\"kerberos\" ignored"),
	BAD("set kerberos\n", 1, "\"kerberos\" is a Qpopper option popsep "
	    "cannot honour: popsep has no Kerberos 4"),
	WARN("set hash-spool = 0\n", 1, "\"hash-spool\" ignored"),
	BAD("set hash-spool = 2\n", 1, "\"hash-spool\" is a Qpopper option "
	    "popsep cannot honour"),
	BAD("set hash-spool = two\n", 1, "hash-spool: expected a number"),
	WARN("set old-style-uid = false\n", 1, "ignored"),
	BAD("set old-style-uid\n", 1, "clients would fetch all mail again"),
	WARN("set auto-delete = no\n", 1, "ignored"),
	BAD("set auto-delete = yes\n", 1, "only the messages a client "
	    "deleted"),
	/* Qpopper's names for what popsep has under another. */
	IOK("set reverse-lookup\n", reverse_lookups, 1),
	IOK("set reverse-lookups\nreset reverse-lookup\n", reverse_lookups, 0),
	IOK("set reverse-lookup = false\n", reverse_lookups, 0),
	BAD("set reverse-lookup = sometimes\n", 1, "reverse-lookups: "
	    "expected true or false"),
	IOK("set debug\n", verbose, 1),
	IOK("set verbose = true\n", verbose, 1),
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
	/* A "#" inside the quotes is not a comment; one after them is. */
	SOK("set home-dir-mail = \"Mail#box\" # comment\n", home_dir_mail,
	    "Mail#box"),
	SOK("set pam-service = ' two words ' # x\n", pam_service,
	    " two words "),
	SOK("set pam-service = `a'b\"c`\n", pam_service, "a'b\"c"),
	SOK("set pam-service = pop3 # \"quoted\"\n", pam_service, "pop3"),
	SOK("set pam-service = \"open # comment\n", pam_service, "\"open"),
	SOK("set pam-service = x'y # z'\n", pam_service, "x'y"),
	IOK("", update_on_abort, 0),
	IOK("set update-on-abort\n", update_on_abort, 1),
	IOK("set fast-update\n", fast_update, 1),
	IOK("", mail_lock_check, MAIL_LOCK_CHECK_DEFAULT),
	IOK("set mail-lock-check = 50\n", mail_lock_check, 50),
	BAD("set mail-lock-check = 0\n", 1, "mail-lock-check"),
	BAD("set server-mode = sometimes\n", 1,
	    "server-mode: expected true or false"),
	WARN("reset uw-kludge\n", 1, "\"uw-kludge\" ignored"),
	WARN("set UW-kluge = false\n", 1, "\"UW-kluge\" ignored"),
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
	BAD("set listen = localhost:26110\n", 1, "listen: \"localhost\" is "
	    "not a numeric IPv4 or IPv6 address (names are not resolved"),
	BAD("set listen = 127.0.0.256:110\n", 1, "listen: \"127.0.0.256\" is "
	    "not a numeric"),
	BAD("set listen-tls = [::g]:995\n", 1, "\"::g\" is not a numeric"),
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
		if (ok && c->rc == 0 && c->err != NULL)
			ok = err_at(c->errline, c->err);
		else if (ok && c->rc == 0)
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
	{ "metrics-listen with an address", "set metrics-listen = "
	    "[::1]:9110\nset clear-text-password = always\n", 0, NULL, 1,
	    "* 110 0", NULL, "", 0 },
	{ "metrics-listen a port alone", "set metrics-listen = 9110\n", -1,
	    "metrics-listen needs an address", 0, NULL, NULL, NULL, 0 },
	{ "metrics-listen *", "set metrics-listen = *:9110\n", -1,
	    "metrics-listen needs an address", 0, NULL, NULL, NULL, 0 },
	{ "metrics-listen bad port", "set metrics-listen = 127.0.0.1:0\n", -1,
	    "metrics-listen: bad port", 0, NULL, NULL, NULL, 0 },
	{ "metrics-file relative", "set metrics-file = m.prom\n", -1,
	    "metrics-file must be an absolute file name", 0, NULL, NULL, NULL,
	    0 },
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

/* Remove dir and what the tests put in it (two levels). */
static void
remove_tree(const char *dir)
{
	char	cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	if (strncmp(dir, "/tmp/popsep-config.", 19) == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* config-file includes ----------------------------------------------------- */

static char	 tmp_dir[64];

/* Write tmp_dir/name with text; returns the path in a static buffer. */
static const char *
put(const char *name, const char *text)
{
	static char	path[1024];
	int		fd;
	size_t		len = strlen(text);

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, text, len) != (ssize_t)len || close(fd) == -1) {
		perror(path);
		exit(2);
	}
	return path;
}

static int
parse_path(const char *path, struct config *c)
{
	int	rc;

	cfg_defaults(c);
	CAPTURED(rc, cfg_parse_file(c, path));
	return rc;
}

static void
test_includes(void)
{
	struct config	 cf;
	char		 top[1024], line[1200], name[32], text[64];
	int		 rc, i;

	/* Nested, relative to the including file, in the order read. */
	if (mkdir(put("sub", ""), 0700) == -1 && errno != EEXIST)
		unlink(put("sub", ""));
	snprintf(line, sizeof(line), "%s/sub", tmp_dir);
	(void)unlink(line);
	if (mkdir(line, 0700) == -1) {
		perror(line);
		exit(2);
	}
	put("sub/c.conf", "set timeout = 33\nset statistics\n");
	put("sub/b.conf", "set timeout = 22\nset config-file = c.conf\n");
	snprintf(top, sizeof(top), "%s", put("a.conf", "set timeout = 11\n"
	    "set config-file = sub/b.conf\nset max-sessions = 7\n"));
	rc = parse_path(top, &cf);
	CHECK(rc == 0 && cf.timeout == 33 && cf.statistics == 1 &&
	    cf.max_sessions == 7 && err_text[0] == '\0', "include: nested "
	    "relative files read in place (rc %d, timeout %d, \"%s\")", rc,
	    cf.timeout, flat());
	CHECK(strcmp(cf.file, top) == 0, "include: the top file is the one "
	    "recorded");
	/* A later line of the including file wins over the included one. */
	snprintf(line, sizeof(line), "set config-file = %s/sub/c.conf\n"
	    "set timeout = 44\n", tmp_dir);
	rc = parse_path(put("abs.conf", line), &cf);
	CHECK(rc == 0 && cf.timeout == 44 && cf.statistics == 1,
	    "include: an absolute path; a later line wins (rc %d, timeout %d)",
	    rc, cf.timeout);
	/* Errors in an included file name that file and line. */
	put("sub/bad.conf", "# one\nset timeout = ten\n");
	rc = parse_path(put("inc-bad.conf", "set config-file = sub/bad.conf\n"
	    "set statistics\n"), &cf);
	snprintf(line, sizeof(line), "%s/sub/bad.conf:2: timeout: not a "
	    "number", tmp_dir);
	CHECK(rc == -1 && strstr(err_text, line) != NULL &&
	    cf.statistics == 1, "include: an error names the included file "
	    "and line, and the rest is read (\"%s\")", flat());
	/* Missing. */
	rc = parse_path(put("inc-missing.conf", "\nset config-file = "
	    "nothere.conf\n"), &cf);
	snprintf(line, sizeof(line), "%s/inc-missing.conf:2: config-file "
	    "%s/nothere.conf: %s", tmp_dir, tmp_dir, strerror(ENOENT));
	CHECK(rc == -1 && strstr(err_text, line) != NULL, "include: a missing "
	    "file names FILE:LINE and the error (\"%s\")", flat());
	rc = parse_path(put("inc-empty.conf", "set config-file =\n"), &cf);
	CHECK(rc == -1 && strstr(err_text, "inc-empty.conf:1: config-file: "
	    "missing value") != NULL, "include: no file name (\"%s\")",
	    flat());
	rc = parse_path(put("inc-dir.conf", "set config-file = sub\n"), &cf);
	CHECK(rc == -1 && strstr(err_text, "is a directory") != NULL,
	    "include: a directory (\"%s\")", flat());
	/* Loops: itself, and through another file. */
	rc = parse_path(put("self.conf", "set config-file = self.conf\n"),
	    &cf);
	snprintf(line, sizeof(line), "%s/self.conf:1: config-file", tmp_dir);
	CHECK(rc == -1 && strstr(err_text, line) != NULL &&
	    strstr(err_text, "a loop") != NULL, "include: a file including "
	    "itself is a loop (\"%s\")", flat());
	put("loop-b.conf", "set config-file = loop-a.conf\n");
	rc = parse_path(put("loop-a.conf", "set config-file = loop-b.conf\n"),
	    &cf);
	snprintf(line, sizeof(line), "%s/loop-b.conf:1: config-file "
	    "%s/loop-a.conf: a loop", tmp_dir, tmp_dir);
	CHECK(rc == -1 && strstr(err_text, line) != NULL, "include: a loop "
	    "through two files (\"%s\")", flat());
	/* The same file twice, not nested, is no loop. */
	rc = parse_path(put("twice.conf", "set config-file = sub/c.conf\n"
	    "set config-file = sub/c.conf\n"), &cf);
	CHECK(rc == 0 && err_text[0] == '\0', "include: one file twice in a "
	    "row is fine (\"%s\")", flat());
	/* Depth: CONFIG_INCLUDE_DEPTH nested files are read, one more not. */
	for (i = 0; i <= CONFIG_INCLUDE_DEPTH + 1; i++) {
		snprintf(name, sizeof(name), "d%d.conf", i);
		snprintf(text, sizeof(text), "set config-file = d%d.conf\n"
		    "set max-sessions = %d\n", i + 1, i + 1);
		put(name, text);
	}
	snprintf(name, sizeof(name), "d%d.conf", CONFIG_INCLUDE_DEPTH);
	put(name, "set timeout = 99\n");
	rc = parse_path(put("d0.conf", "set config-file = d1.conf\n"), &cf);
	CHECK(rc == 0 && cf.timeout == 99, "include: %d levels deep is read "
	    "(rc %d, \"%s\")", CONFIG_INCLUDE_DEPTH, rc, flat());
	snprintf(text, sizeof(text), "set config-file = d%d.conf\n",
	    CONFIG_INCLUDE_DEPTH + 1);
	put(name, text);
	put("d9x.conf", "");
	rc = parse_path(put("d0.conf", "set config-file = d1.conf\n"), &cf);
	CHECK(rc == -1 && strstr(err_text, "nested deeper than") != NULL,
	    "include: %d levels deep is refused (\"%s\")",
	    CONFIG_INCLUDE_DEPTH + 1, flat());
	/* Qpopper spelled it in any case. */
	rc = parse_path(put("case.conf", "SET Config-File = sub/c.conf\n"),
	    &cf);
	CHECK(rc == 0 && cf.timeout == 33, "include: SET Config-File");
	rc = parse_path(put("reset.conf", "reset config-file\n"), &cf);
	CHECK(rc == -1 && strstr(err_text, "reset.conf:1: config-file: only "
	    "boolean options can be reset") != NULL, "include: reset config-file is an error "
	    "(\"%s\")", flat());
}

/* The effective-settings dump -------------------------------------------- */

/* cfg_dump() of c into buf. */
static void
dump_to(const struct config *c, char *buf, size_t len)
{
	FILE	*fp;
	size_t	 n;

	if ((fp = tmpfile()) == NULL) {
		perror("tmpfile");
		exit(2);
	}
	cfg_dump(c, fp);
	rewind(fp);
	n = fread(buf, 1, len - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

static void
test_dump(void)
{
	static const char	text[] =
	    "SET Timeout = 0x78\n"
	    "set tls-support = STLS\n"
	    "set home-dir-mail = \"Mail#box\"\n"
	    "set pam-service = ' two words '\n"
	    "set reverse-lookup\n"
	    "reset server-mode\n"
	    "set log-facility = LOCAL1\n"
	    "set listen = 127.0.0.1:26110\n"
	    "set listen-tls = [::1]:26995\n"
	    "set tls-server-cert-file = /c1.pem\n"
	    "set tls-private-key-file = /k1.pem\n"
	    "set tls-server-cert-file = /c2.pem\n"
	    "set tls-version = tls1.3\n"
	    "set clear-text-password = always\n"
	    "set statistics = false\n";
	static char		one[4096], two[4096];
	struct config		cf;
	int			rc;

	cfg_defaults(&cf);
	dump_to(&cf, one, sizeof(one));
	CHECK(one[0] == '\0', "dump: the defaults dump as nothing (\"%s\")",
	    one);
	rc = parse_text(text, strlen(text), &cf);
	dump_to(&cf, one, sizeof(one));
	CHECK(rc == 0 && strstr(one, "set timeout = 120\n") != NULL &&
	    strstr(one, "set tls-support = stls\n") != NULL &&
	    strstr(one, "set home-dir-mail = \"Mail#box\"\n") != NULL &&
	    strstr(one, "set pam-service = \" two words \"\n") != NULL &&
	    strstr(one, "set reverse-lookups\n") != NULL &&
	    strstr(one, "reset server-mode\n") != NULL &&
	    strstr(one, "set log-facility = local1\n") != NULL &&
	    strstr(one, "set listen = 127.0.0.1:26110\n") != NULL &&
	    strstr(one, "set listen-tls = [::1]:26995\n") != NULL &&
	    strstr(one, "set tls-server-cert-file = /c1.pem\n"
	    "set tls-private-key-file = /k1.pem\n"
	    "set tls-server-cert-file = /c2.pem\n") != NULL &&
	    strstr(one, "set tls-version = tls1.3\n") != NULL &&
	    strstr(one, "set clear-text-password = always\n") != NULL &&
	    strstr(one, "statistics") == NULL, "dump: each changed option "
	    "once, in the config syntax, nothing at its default (\"%s\")",
	    one);
	rc = parse_text(one, strlen(one), &cf);
	dump_to(&cf, two, sizeof(two));
	CHECK(rc == 0 && err_text[0] == '\0' && strcmp(one, two) == 0,
	    "dump: read back, it dumps the same (rc %d, \"%s\")", rc, flat());
	/* Quotes of its own: another kind encloses the value. */
	rc = parse_text("set pam-service = `a\"b'#`\n", 25, &cf);
	dump_to(&cf, one, sizeof(one));
	CHECK(rc == 0 && strcmp(one, "set pam-service = `a\"b'#`\n") == 0,
	    "dump: a value with quotes gets another quote (\"%s\")", one);
	rc = parse_text(one, strlen(one), &cf);
	CHECK(rc == 0 && strcmp(cf.pam_service, "a\"b'#") == 0, "dump: and "
	    "reads back as it was (\"%s\")", cf.pam_service);
}

/* Qpopper's names and flags ---------------------------------------------- */

static void
test_qpopper_table(void)
{
	const struct qp_option	*q;
	size_t			 n, i;
	int			 sorted = 1, targets = 1, own = 1, why = 1;

	q = qp_options(&n);
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(q[i - 1].name, q[i].name) >= 0)
			sorted = 0;
		if (q[i].disp == QP_WORKS && !cfg_known(q[i].target) &&
		    strcmp(q[i].target, "config-file") != 0)
			targets = 0;
		if (q[i].disp != QP_WORKS && cfg_known(q[i].name)) {
			/* popsep implements it now: make it QP_WORKS. */
			printf("# %s is popsep's own option\n", q[i].name);
			own = 0;
		}
		if (q[i].disp != QP_WORKS && (q[i].why == NULL ||
		    strlen(q[i].why) < 10))
			why = 0;
		if (qp_option(q[i].name) != &q[i])
			sorted = 0;
	}
	CHECK(n >= 66, "qpopper: %zu option names (Qpopper 4.0's 61 and "
	    "4.1's)", n);
	CHECK(sorted, "qpopper: the table is sorted and every name is found");
	CHECK(targets, "qpopper: every QP_WORKS target is a popsep option");
	CHECK(own, "qpopper: no ignored or refused name is a popsep option");
	CHECK(why, "qpopper: every ignored or refused name says why");
	CHECK(qp_option("UW-Kludge") != NULL && qp_option("nosuch") == NULL,
	    "qpopper: lookups ignore case");
	for (i = 0; qp_flag_string()[i] != '\0'; i++)
		if (qp_flag_string()[i] != ':' &&
		    qp_flag(qp_flag_string()[i]) == NULL)
			break;
	CHECK(qp_flag_string()[i] == '\0', "qpopper: every flag of the getopt "
	    "string has an entry");
	CHECK(strcmp(qp_flag_string(), "b:BcCD:e:FkK:l:L:p:RsSt:T:uUy:") == 0,
	    "qpopper: the flags are Qpopper 4.0's but -d, -f and -v (\"%s\")",
	    qp_flag_string());
}

struct flag_case {
	int		 ch;
	const char	*arg;
	int		 rc;
	size_t		 off;	/* int to check, or NOFF */
	int		 val;
	const char	*err;	/* on stderr, or NULL for nothing */
};

static const struct flag_case flag_cases[] = {
	{ 'p', "0", 0, OFF(cleartext), CLEARTEXT_DEFAULT, NULL },
	{ 'p', "1", 0, OFF(cleartext), CLEARTEXT_NEVER, NULL },
	{ 'p', "2", 0, OFF(cleartext), CLEARTEXT_ALWAYS, NULL },
	{ 'p', "3", 0, OFF(cleartext), CLEARTEXT_LOCAL, NULL },
	{ 'p', "4", 0, OFF(cleartext), CLEARTEXT_TLS, NULL },
	{ 'p', "5", -1, NOFF, 0, "-p 5: expected 0 (default), 1 (never), 2 "
	    "(always), 3 (local) or 4 (tls)" },
	{ 'p', "", -1, NOFF, 0, "-p : expected 0" },
	{ 'p', "12", -1, NOFF, 0, "expected 0" },
	{ 'l', "0", 0, OFF(tls_support), TLS_SUPPORT_NONE, NULL },
	{ 'l', "1", 0, OFF(tls_support), TLS_SUPPORT_STLS, NULL },
	{ 'l', "2", 0, OFF(tls_support), TLS_SUPPORT_ALTERNATE_PORT, NULL },
	{ 'l', "3", -1, NOFF, 0, "-l 3: expected 0 (none), 1 (stls) or 2 "
	    "(alternate-port)" },
	{ 'T', "30", 0, OFF(timeout), 30, NULL },
	{ 'T', "0x1e", 0, OFF(timeout), 30, NULL },
	{ 'T', "5", -1, NOFF, 0, "-T 5: timeout: out of range (10 to 86400)" },
	{ 'T', "ten", -1, NOFF, 0, "-T ten: timeout: not a number" },
	{ 'L', "50", 0, OFF(mail_lock_check), 50, NULL },
	{ 'L', "0", -1, NOFF, 0, "-L 0: mail-lock-check: out of range" },
	{ 'c', NULL, 0, OFF(downcase_user), 1, NULL },
	{ 'C', NULL, 0, OFF(trim_domain), 1, NULL },
	{ 'F', NULL, 0, OFF(fast_update), 1, NULL },
	{ 'S', NULL, 0, OFF(server_mode), 1, NULL },
	{ 's', NULL, 0, OFF(statistics), 1, NULL },
	{ 'R', NULL, 0, OFF(reverse_lookups), 0, NULL },
	{ 'y', "LOCAL2", 0, OFF(log_facility), LOG_LOCAL2, NULL },
	{ 'y', "nowhere", -1, NOFF, 0, "-y nowhere: log-facility: unknown "
	    "syslog facility" },
	{ 'B', NULL, 0, NOFF, 0, "-B: warning: Qpopper option "
	    "\"bulldb-nonfatal\" ignored" },
	{ 'u', NULL, 0, NOFF, 0, "-u: warning: Qpopper option "
	    "\"user-options\" ignored" },
	{ 'U', NULL, 0, NOFF, 0, "-U: warning: Qpopper option "
	    "\"spool-options\" ignored" },
	{ 'k', NULL, -1, NOFF, 0, "-k: \"kerberos\" is a Qpopper option "
	    "popsep cannot honour" },
	{ 'K', "pop", 0, NOFF, 0, NULL },
	{ 'D', "relay", -1, NOFF, 0, "-D relay: \"drac-host\" is a Qpopper "
	    "option popsep cannot honour" },
	{ 'e', "login_delay=30", 0, NOFF, 0, "\"announce-login-delay\" "
	    "ignored" },
	{ 'e', "expire=never", 0, NOFF, 0, NULL },
	{ 'e', "login_delay=30,expire=7", 0, NOFF, 0, "\"announce-login-"
	    "delay\" ignored" },
	{ 'e', "delay=3", -1, NOFF, 0, "\"delay\": expected login_delay=N or "
	    "expire=N" },
	{ 'e', "junk", -1, NOFF, 0, "expected login_delay=N or expire=N" },
};

static void
test_flags(void)
{
	const struct flag_case	*f;
	struct config		 cf;
	char			 shown[80];
	size_t			 i;
	int			 rc, ok;

	for (i = 0; i < NELEM(flag_cases); i++) {
		f = &flag_cases[i];
		cfg_defaults(&cf);
		CAPTURED(rc, cfg_flag(&cf, f->ch, f->arg));
		ok = rc == f->rc;
		if (ok && f->off != NOFF)
			ok = *(int *)((char *)&cf + f->off) == f->val;
		if (ok)
			ok = f->err == NULL ? err_text[0] == '\0' :
			    strstr(err_text, f->err) != NULL;
		snprintf(shown, sizeof(shown), "-%c%s%s", f->ch,
		    f->arg ? " " : "", f->arg ? f->arg : "");
		CHECK(ok, "flag %s (rc %d, stderr \"%s\")", shown, rc, flat());
	}
	/* -t takes the tracefile's path. */
	cfg_defaults(&cf);
	CAPTURED(rc, cfg_flag(&cf, 't', "/var/log/popsep.trace"));
	CHECK(rc == 0 && strcmp(cf.tracefile, "/var/log/popsep.trace") == 0,
	    "flag -t path sets tracefile");
	cfg_defaults(&cf);
	CAPTURED(rc, cfg_flag(&cf, 'b', "/var/spool/bulls"));
	CHECK(rc == 0 && strcmp(cf.bulldir, "/var/spool/bulls") == 0,
	    "flag -b path sets bulldir");
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
	strlcpy(tmp_dir, dir, sizeof(tmp_dir));
	test_includes();
	test_dump();
	test_qpopper_table();
	test_flags();

	unlink(conf_path);
	remove_tree(dir);
	TEST_EXIT();
}
