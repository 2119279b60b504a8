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
 * The one table of Qpopper's option names (every name of Qpopper 4.0's
 * pop_config.c and the few 4.1 added) and command-line flags, with what
 * popsep does with each.  Read by lib/config.c in the master (or the
 * inetd-mode monitor) as root while it parses the configuration; it holds
 * constant data (and the getopt string made from it once) and only
 * compares its callers' strings, never changes them.  An option popsep
 * implements under its own name is QP_WORKS and is parsed by config.c's
 * table; ignoring a QP_IGNORED one loses no mail and grants no access,
 * ignoring a QP_REFUSED one could.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "qpopper.h"

#define WORKS(n, t)	{ n, QP_WORKS, t, QV_ANY, NULL }
#define IGNORED(n, v, w) { n, QP_IGNORED, NULL, v, w }
#define REFUSED(n, v, w) { n, QP_REFUSED, NULL, v, w }
#define IF_OFF(n, v, w)	{ n, QP_IF_OFF, NULL, v, w }

#define NO_OPTION_FILES	"popsep never reads option files written by users " \
			    "or found in the spool (CAN-2005-1151)"
#define NO_OLD_TLS	"popsep offers only TLS 1.2 and later with AEAD " \
			    "ciphers, which need no OpenSSL workarounds"
#define NO_BULLDB	"popsep keeps each user's last bulletin in " \
			    "~/.popbull, as Qpopper does without bulldb"

/* Sorted by name: looked up with bsearch. */
static const struct qp_option qp_opts[] = {
	WORKS("announce-expire", "announce-expire"),
	IGNORED("announce-login-delay", QV_INT, "popsep announces a "
	    "LOGIN-DELAY only when it enforces one: set login-delay"),
	WORKS("auth-file", "auth-file"),
	IF_OFF("auto-delete", QV_BOOL, "popsep removes only the messages a "
	    "client deleted with DELE"),
	IGNORED("bulldb", QV_ANY, NO_BULLDB),
	IGNORED("bulldb-max-tries", QV_INT, NO_BULLDB),
	IGNORED("bulldb-nonfatal", QV_BOOL, NO_BULLDB),
	WORKS("bulldir", "bulldir"),
	WORKS("cache-dir", "cache-dir"),
	IGNORED("cache-name", QV_ANY, "popsep names each user's cache in "
	    "cache-dir itself"),
	IGNORED("check-hash-dir", QV_BOOL, "popsep has no hashed spool "
	    "directories to check"),
	IGNORED("check-old-spool-loc", QV_BOOL, "popsep reads only the one "
	    "mailbox spool-dir or home-dir-mail names"),
	IGNORED("check-password-expired", QV_BOOL, "the PAM account stage "
	    "(pam_acct_mgmt) refuses expired passwords"),
	WORKS("chunky-writes", "chunky-writes"),
	WORKS("clear-text-password", "clear-text-password"),
	WORKS("config-file", "config-file"),
	WORKS("debug", "verbose"),
	WORKS("downcase-user", "downcase-user"),
	REFUSED("drac-host", QV_ANY, "popsep has no POP-before-SMTP (DRAC); "
	    "let the MTA authenticate senders with SMTP AUTH instead"),
	WORKS("fast-update", "fast-update"),
	REFUSED("group-bulletins", QV_ANY, "popsep gives bulletins to every "
	    "user; remove the option or the bulletins meant for a group"),
	WORKS("group-no-server-mode", "group-no-server-mode"),
	WORKS("group-server-mode", "group-server-mode"),
	IF_OFF("hash-spool", QV_INT, "popsep serves spool-dir/USER and has no "
	    "hashed spool directories; move the mailboxes or use "
	    "home-dir-mail"),
	WORKS("home-dir-mail", "home-dir-mail"),
	IGNORED("keep-temp-drop", QV_BOOL, "popsep removes a temp drop once "
	    "its mail is back in the spool"),
	IF_OFF("kerberos", QV_BOOL, "popsep has no Kerberos 4 or KPOP"),
	REFUSED("kerberos-name", QV_ANY, "popsep has no Kerberos 4 or KPOP"),
	WORKS("kerberos-service", "kerberos-service"),
	WORKS("log-facility", "log-facility"),
	IGNORED("log-login", QV_ANY, "popsep always logs logins as "
	    "'authenticated \"USER\" (METHOD) from ADDRESS'"),
	IGNORED("mail-command", QV_ANY, "popsep has no XTND XMIT: clients "
	    "get -ERR and send through SMTP"),
	WORKS("mail-lock-check", "mail-lock-check"),
	WORKS("max-bulletins", "max-bulletins"),
	IGNORED("nis-servername", QV_ANY, "popsep finds users through NSS "
	    "and PAM"),
	IGNORED("no-atomic-open", QV_BOOL, "popsep always creates its files "
	    "with O_EXCL"),
	IGNORED("no-user-server-mode", QV_ANY, NO_OPTION_FILES),
	WORKS("nonauth-file", "nonauth-file"),
	IF_OFF("old-style-uid", QV_BOOL, "popsep cannot make pre-3.0 UIDs; "
	    "clients would fetch all mail again"),
	WORKS("reverse-lookup", "reverse-lookups"),
	WORKS("reverse-lookups", "reverse-lookups"),
	WORKS("server-mode", "server-mode"),
	IGNORED("shy", QV_BOOL, "popsep always names its version in the "
	    "greeting and in CAPA IMPLEMENTATION"),
	WORKS("spool-dir", "spool-dir"),
	IGNORED("spool-options", QV_BOOL, NO_OPTION_FILES),
	WORKS("statistics", "statistics"),
	WORKS("temp-dir", "temp-dir"),
	IGNORED("temp-name", QV_ANY, "popsep names the temp drop .USER.pop "
	    "itself"),
	WORKS("timeout", "timeout"),
	IGNORED("timing", QV_BOOL, "popsep writes no timing records"),
	WORKS("tls-cipher-list", "tls-cipher-list"),
	REFUSED("tls-identity-file", QV_ANY, "popsep uses OpenSSL, not SSL "
	    "Plus: convert the identity to PEM and set tls-server-cert-file "
	    "and tls-private-key-file"),
	IGNORED("tls-options", QV_INT, NO_OLD_TLS),
	REFUSED("tls-passphrase", QV_ANY, "popsep reads no encrypted private "
	    "keys; remove the passphrase (openssl pkey -in KEY -out NEWKEY), "
	    "make the file mode 0600 and readable only by root"),
	WORKS("tls-private-key-file", "tls-private-key-file"),
	WORKS("tls-server-cert-file", "tls-server-cert-file"),
	WORKS("tls-support", "tls-support"),
	WORKS("tls-version", "tls-version"),
	IGNORED("tls-workarounds", QV_BOOL, NO_OLD_TLS),
	WORKS("tracefile", "tracefile"),
	WORKS("trim-domain", "trim-domain"),
	WORKS("update-on-abort", "update-on-abort"),
	WORKS("update-status-headers", "update-status-headers"),
	IGNORED("user-options", QV_BOOL, NO_OPTION_FILES),
	IGNORED("user-server-mode", QV_ANY, NO_OPTION_FILES),
	IGNORED("uw-kludge", QV_BOOL, "popsep serves UW IMAP's folder-data "
	    "message like any other"),
	IGNORED("uw-kluge", QV_BOOL, "popsep serves UW IMAP's folder-data "
	    "message like any other"),
};

/* -p N: Qpopper's clear-text-password numbers; -l N: its TLS modes. */
static const char *const p_values[] = { "default", "never", "always",
	"local", "tls", NULL };
static const char *const l_values[] = { "none", "stls", "alternate-port",
	NULL };

/*
 * Qpopper 4.0's flags; -e is split by config.c into its two options.
 * popsepd's own flags (-d, -f, -i, -n, -P, -v) are parsed in
 * privsep/main.c with these and use none of their letters.
 */
static const struct qp_flag qp_flags[] = {
	{ 'b', "bulldir", NULL, NULL, NULL },
	{ 'B', "bulldb-nonfatal", "true", NULL, NULL },
	{ 'c', "downcase-user", "true", NULL, NULL },
	{ 'C', "trim-domain", "true", NULL, NULL },
	{ 'D', "drac-host", NULL, NULL, NULL },
	{ 'e', NULL, NULL, NULL, NULL },
	{ 'F', "fast-update", "true", NULL, NULL },
	{ 'k', "kerberos", "true", NULL, NULL },
	{ 'K', "kerberos-service", NULL, NULL, NULL },
	{ 'l', "tls-support", NULL, l_values, "0 (none), 1 (stls) or 2 "
	    "(alternate-port)" },
	{ 'L', "mail-lock-check", NULL, NULL, NULL },
	{ 'p', "clear-text-password", NULL, p_values, "0 (default), 1 (never), "
	    "2 (always), 3 (local) or 4 (tls)" },
	{ 'R', "reverse-lookups", "false", NULL, NULL },
	{ 's', "statistics", "true", NULL, NULL },
	{ 'S', "server-mode", "true", NULL, NULL },
	{ 't', "tracefile", NULL, NULL, NULL },
	{ 'T', "timeout", NULL, NULL, NULL },
	{ 'u', "user-options", "true", NULL, NULL },
	{ 'U', "spool-options", "true", NULL, NULL },
	{ 'y', "log-facility", NULL, NULL, NULL },
};

/* Values of Qpopper's that popsep reads with a different meaning. */
static const struct {
	const char	*option;
	const char	*value;
	const char	*note;
} qp_notes[] = {
	{ "tls-version", "sslv2", "popsep never offers TLS below 1.2: this "
	    "means TLS 1.2 and later" },
	{ "tls-version", "sslv3", "popsep never offers TLS below 1.2: this "
	    "means TLS 1.2 and later" },
	{ "tls-version", "tlsv1", "popsep never offers TLS below 1.2: this "
	    "means TLS 1.2 and later" },
	{ "tls-version", "sslv23", "popsep never offers TLS below 1.2: this "
	    "means TLS 1.2 and later" },
	{ "tls-version", "all", "popsep never offers TLS below 1.2: this "
	    "means TLS 1.2 and later" },
	{ "tls-support", "default", "popsep offers TLS whenever a certificate "
	    "is set (Qpopper's default was none; say \"none\" for that)" },
};

static int
qp_cmp(const void *key, const void *elem)
{
	return strcasecmp(key, ((const struct qp_option *)elem)->name);
}

const struct qp_option *
qp_option(const char *name)
{
	return bsearch(name, qp_opts, sizeof(qp_opts) / sizeof(qp_opts[0]),
	    sizeof(qp_opts[0]), qp_cmp);
}

const struct qp_option *
qp_options(size_t *n_r)
{
	*n_r = sizeof(qp_opts) / sizeof(qp_opts[0]);
	return qp_opts;
}

const struct qp_flag *
qp_flag(int ch)
{
	size_t	i;

	for (i = 0; i < sizeof(qp_flags) / sizeof(qp_flags[0]); i++)
		if (qp_flags[i].ch == ch)
			return &qp_flags[i];
	return NULL;
}

/* The getopt(3) string of Qpopper's flags: an argument unless fixed. */
const char *
qp_flag_string(void)
{
	static char	opts[2 * sizeof(qp_flags) / sizeof(qp_flags[0]) + 1];
	size_t		i, n = 0;

	if (opts[0] != '\0')
		return opts;
	for (i = 0; i < sizeof(qp_flags) / sizeof(qp_flags[0]); i++) {
		opts[n++] = (char)qp_flags[i].ch;
		if (qp_flags[i].value == NULL)
			opts[n++] = ':';
	}
	opts[n] = '\0';
	return opts;
}

const char *
qp_value_note(const char *option, const char *value)
{
	size_t	i;

	if (value == NULL)
		return NULL;
	for (i = 0; i < sizeof(qp_notes) / sizeof(qp_notes[0]); i++)
		if (strcasecmp(qp_notes[i].option, option) == 0 &&
		    strcasecmp(qp_notes[i].value, value) == 0)
			return qp_notes[i].note;
	return NULL;
}
