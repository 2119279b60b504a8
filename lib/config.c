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
 * Runs in the master (or the inetd-mode monitor), as root, before any
 * client byte is read.  The file is trusted as far as root wrote it, but
 * every value is checked: an error names file, line and problem, and the
 * daemon refuses to start.  Options are a table sorted by name.
 */

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config.h"
#include "log.h"

enum cfg_type {
	CT_BOOL,
	CT_INT,
	CT_STR,
	CT_ENUM,
	CT_LISTEN,
	CT_CERT,
	CT_KEY,
	CT_FACILITY,
	CT_STARTUPS,
};

struct cfg_enum {
	const char	*name;
	int		 value;
};

struct cfg_opt {
	const char		*name;
	enum cfg_type		 type;
	size_t			 off;
	size_t			 size;	/* CT_STR: buffer size */
	long long		 min, max;
	const struct cfg_enum	*enums;
};

static const struct cfg_enum cleartext_enums[] = {
	{ "default", CLEARTEXT_DEFAULT },
	{ "never", CLEARTEXT_NEVER },
	{ "tls", CLEARTEXT_TLS },
	{ "always", CLEARTEXT_ALWAYS },
	{ "local", CLEARTEXT_LOCAL },
	{ NULL, 0 }
};

static const struct cfg_enum tls_support_enums[] = {
	{ "default", TLS_SUPPORT_DEFAULT },
	{ "none", TLS_SUPPORT_NONE },
	{ "stls", TLS_SUPPORT_STLS },
	{ "alternate-port", TLS_SUPPORT_ALTERNATE_PORT },
	{ NULL, 0 }
};

static const struct cfg_enum chunky_enums[] = {
	{ "default", CHUNKY_ALWAYS },
	{ "always", CHUNKY_ALWAYS },
	{ "never", CHUNKY_NEVER },
	{ "tls", CHUNKY_TLS },
	{ "ssl", CHUNKY_TLS },
	{ NULL, 0 }
};

static const struct cfg_enum tls_version_enums[] = {
	{ "default", 0 },
	{ "tls1.2", 0 },
	{ "tls1.3", 1 },
	{ NULL, 0 }
};

#define OFF(f)		offsetof(struct config, f)
#define STR(n, f)	{ n, CT_STR, OFF(f), sizeof(((struct config *)0)->f), \
			    0, 0, NULL }
#define INT(n, f, lo, hi) { n, CT_INT, OFF(f), 0, lo, hi, NULL }
#define BOOL(n, f)	{ n, CT_BOOL, OFF(f), 0, 0, 1, NULL }
#define ENUM(n, f, e)	{ n, CT_ENUM, OFF(f), 0, 0, 0, e }

/* Sorted by name: looked up with bsearch. */
static const struct cfg_opt cfg_opts[] = {
	STR("announce-expire", announce_expire),
	BOOL("apop", apop),
	INT("auth-fail-delay", auth_fail_delay, 0, 60000),
	STR("auth-file", auth_file),
	INT("block-threshold", block_threshold, 1, GUARD_HASHES_MAX),
	INT("block-time", block_time, 1, 86400 * 7),
	INT("block-window", block_window, 1, 86400),
	STR("bulldir", bulldir),
	STR("cache-dir", cache_dir),
	STR("chroot-dir", chroot_dir),
	ENUM("chunky-writes", chunky, chunky_enums),
	ENUM("clear-text-password", cleartext, cleartext_enums),
	BOOL("downcase-user", downcase_user),
	BOOL("fast-update", fast_update),
	INT("first-valid-uid", first_valid_uid, 1, 0x7fffffff),
	STR("group-no-server-mode", group_no_server_mode),
	STR("group-server-mode", group_server_mode),
	STR("home-dir-mail", home_dir_mail),
	STR("kerberos-service", kerberos_service),
	STR("key-user", key_user),
	STR("keytab", keytab),
	{ "listen", CT_LISTEN, 0, 0, 0, 0, NULL },
	{ "listen-tls", CT_LISTEN, 1, 0, 0, 0, NULL },
	{ "log-facility", CT_FACILITY, OFF(log_facility), 0, 0, 0, NULL },
	INT("login-delay", login_delay, 0, LOGIN_DELAY_MAX),
	INT("login-timeout", login_timeout, LOGIN_TIMEOUT_MIN, 86400),
	INT("mail-lock-check", mail_lock_check, 1, 1000000),
	INT("max-bulletins", max_bulletins, 0, BULL_COUNT_MAX),
	INT("max-per-source", max_per_source, 1, SESSIONS_MAX_LIMIT),
	INT("max-sessions", max_sessions, 1, SESSIONS_MAX_LIMIT),
	{ "max-startups", CT_STARTUPS, 0, 0, 0, 0, NULL },
	STR("nonauth-file", nonauth_file),
	STR("pam-service", pam_service),
	STR("passwd-file", passwd_file),
	STR("pid-file", pid_file),
	STR("popauth-db", popauth_db),
	STR("popauth-user", popauth_user),
	STR("privsep-user", privsep_user),
	BOOL("reverse-lookups", reverse_lookups),
	BOOL("server-mode", server_mode),
	STR("session-json", session_json),
	STR("spool-dir", spool_dir),
	BOOL("statistics", statistics),
	STR("temp-dir", temp_dir),
	INT("timeout", timeout, 10, 86400),
	STR("tls-cipher-list", tls_ciphers),
	STR("tls-ciphersuites", tls_ciphersuites),
	{ "tls-private-key-file", CT_KEY, 0, 0, 0, 0, NULL },
	{ "tls-server-cert-file", CT_CERT, 0, 0, 0, 0, NULL },
	INT("tls-sign-rate", tls_sign_rate, 1, 1000000),
	ENUM("tls-support", tls_support, tls_support_enums),
	ENUM("tls-version", tls13_only, tls_version_enums),
	STR("tracefile", tracefile),
	BOOL("trim-domain", trim_domain),
	BOOL("update-on-abort", update_on_abort),
	BOOL("update-status-headers", update_status_headers),
};

/*
 * Qpopper options this version does not implement.  Naming them gives an
 * administrator carrying a configuration over a precise error instead of
 * "unknown option".
 */
static const char *const qpopper_unsupported[] = {
	"bulldb", "bulldb-max-tries", "bulldb-nonfatal", "cache-name",
	"drac-host", "group-bulletins", "hash-spool", "kerberos", "kerberos-name",
	"log-login", "mail-command",
	"nis-servername", "no-user-server-mode",
	"old-style-uid", "shy", "tls-options",
	"user-server-mode",
	"uw-kludge",
};

static const struct {
	const char	*name;
	int		 value;
} facilities[] = {
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
	{ "daemon", LOG_DAEMON }, { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 }, { "mail", LOG_MAIL }, { "user", LOG_USER },
};

static int	opt_cmp(const void *, const void *);
static int	set_value(struct config *, const struct cfg_opt *, const char *,
		    int, const char **);
static int	parse_listen(struct config *, const char *, int,
		    const char **);
static int	parse_startups(struct config *, const char *, const char **);
static char	*unquote(char *);
static int	check_dir(const char *, const char *);
static int	check_cache_dir(const char *);
static int	check_expire(const char *);
static int	is_unsupported(const char *);
static int	check_gssapi(const struct config *);

void
cfg_defaults(struct config *c)
{
	const char	*err;

	memset(c, 0, sizeof(*c));
	c->timeout = TIMEOUT_DEFAULT;
	c->auth_fail_delay = AUTH_FAIL_DELAY_DEFAULT;
	c->max_sessions = SESSIONS_MAX_DEFAULT;
	if (parse_startups(c, STARTUPS_DEFAULT, &err) == -1)
		bug("%s: %s", __func__, err);
	c->max_per_source = PER_SOURCE_DEFAULT;
	c->login_timeout = LOGIN_TIMEOUT_DEFAULT;
	c->block_threshold = BLOCK_THRESHOLD_DEFAULT;
	c->block_window = BLOCK_WINDOW_DEFAULT;
	c->block_time = BLOCK_TIME_DEFAULT;
	c->tls_sign_rate = KEY_SIGN_RATE_DEFAULT;
	c->log_facility = LOG_MAIL;
	c->cleartext = CLEARTEXT_TLS;
	c->tls_support = TLS_SUPPORT_DEFAULT;
	c->chunky = CHUNKY_ALWAYS;
	c->server_mode = 1;
	c->mail_lock_check = MAIL_LOCK_CHECK_DEFAULT;
	c->max_bulletins = MAX_BULLETINS_DEFAULT;
	strlcpy(c->pam_service, "pop3", sizeof(c->pam_service));
	strlcpy(c->popauth_db, POPAUTH_DB_DEFAULT, sizeof(c->popauth_db));
	strlcpy(c->popauth_user, POPAUTH_USER_DEFAULT,
	    sizeof(c->popauth_user));
	strlcpy(c->kerberos_service, KERBEROS_SERVICE_DEFAULT,
	    sizeof(c->kerberos_service));
	c->first_valid_uid = FIRST_VALID_UID_DEFAULT;
	strlcpy(c->spool_dir, "/var/mail", sizeof(c->spool_dir));
	strlcpy(c->cache_dir, CACHE_DIR_DEFAULT, sizeof(c->cache_dir));
	strlcpy(c->chroot_dir, "/var/lib/popsep/empty", sizeof(c->chroot_dir));
	strlcpy(c->privsep_user, "_popsep", sizeof(c->privsep_user));
	strlcpy(c->key_user, "_popsepkey", sizeof(c->key_user));
	strlcpy(c->tls_ciphers, "ECDHE+AESGCM:ECDHE+CHACHA20",
	    sizeof(c->tls_ciphers));
}

static int
opt_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cfg_opt *)elem)->name);
}

static int
is_unsupported(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(qpopper_unsupported) /
	    sizeof(qpopper_unsupported[0]); i++)
		if (strcmp(qpopper_unsupported[i], name) == 0)
			return 1;
	return 0;
}

/* s without its leading and trailing blanks (cut in place). */
char *
cfg_trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A directory option: unset, or an absolute path to a directory. */
static int
check_dir(const char *name, const char *path)
{
	struct stat	st;

	if (path[0] == '\0')
		return 0;
	if (path[0] != '/') {
		fprintf(stderr, "popsepd: %s must be an absolute path: %s\n",
		    name, path);
		return -1;
	}
	if (stat(path, &st) == -1) {
		fprintf(stderr, "popsepd: %s %s: %s\n", name, path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "popsepd: %s %s: not a directory\n", name, path);
		return -1;
	}
	return 0;
}

/*
 * cache-dir: "none", or an absolute path that is, if it exists, a
 * directory (not a symbolic link) owned by root and writable only by
 * root, since the monitor creates each user's cache there as root and
 * trusts that no one else can put a file in its place.  A missing one is
 * created at start-up (priv_prepare_cache_dir()).
 */
static int
check_cache_dir(const char *path)
{
	struct stat	st;

	if (strcmp(path, "none") == 0)
		return 0;
	if (path[0] != '/') {
		fprintf(stderr, "popsepd: cache-dir must be an absolute path or "
		    "\"none\": %s\n", path);
		return -1;
	}
	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "popsepd: cache-dir %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		fprintf(stderr, "popsepd: cache-dir %s: must be a directory "
		    "(not a symbolic link) owned by root and writable only by "
		    "root\n", path);
		return -1;
	}
	return 0;
}

/*
 * Qpopper's quoted values: "...", '...' or `...` stand for what is
 * between the quotes (its sample sets home-dir-mail = ".mail").
 */
static char *
unquote(char *v)
{
	size_t	len = strlen(v);

	if (len >= 2 && strchr("\"'`", v[0]) != NULL && v[len - 1] == v[0]) {
		v[len - 1] = '\0';
		return v + 1;
	}
	return v;
}

/* "host:port", "[v6]:port", "*:port" or "port". */
static int
parse_listen(struct config *c, const char *v, int tls, const char **err)
{
	struct cfg_listen	*l;
	const char		*colon, *host, *port;
	size_t			 hlen;
	const char		*e;

	if (c->nlisten >= CFG_LISTEN_MAX) {
		*err = "too many listen addresses";
		return -1;
	}
	l = &c->listen[c->nlisten];
	if (v[0] == '[') {
		if ((colon = strstr(v, "]:")) == NULL) {
			*err = "expected [address]:port";
			return -1;
		}
		host = v + 1;
		hlen = colon - host;
		port = colon + 2;
	} else if ((colon = strrchr(v, ':')) != NULL) {
		if (strchr(v, ':') != colon) {
			*err = "expected [address]:port";
			return -1;
		}
		host = v;
		hlen = colon - v;
		port = colon + 1;
	} else {
		host = "*";
		hlen = 1;
		port = v;
	}
	if (hlen == 0 || hlen >= sizeof(l->addr)) {
		*err = "bad listen address";
		return -1;
	}
	memcpy(l->addr, host, hlen);
	l->addr[hlen] = '\0';
	strtonum(port, 1, 65535, &e);
	if (e != NULL) {
		*err = "bad port";
		return -1;
	}
	strlcpy(l->port, port, sizeof(l->port));
	l->implicit_tls = tls;
	c->nlisten++;
	return 0;
}

/*
 * max-startups "start:rate:full", sshd's MaxStartups: from start
 * unauthenticated sessions on, a new connection is refused with
 * probability rate percent, rising linearly to 100 at full.  A single
 * number is start and full at once.
 */
static int
parse_startups(struct config *c, const char *v, const char **err)
{
	char		 buf[64], *f[3], *p = buf;
	const char	*e;
	long long	 n[3];
	int		 i, nf = 0;

	if (strlcpy(buf, v, sizeof(buf)) >= sizeof(buf)) {
		*err = "value too long";
		return -1;
	}
	while (nf < 3 && (f[nf] = strsep(&p, ":")) != NULL)
		nf++;
	if (p != NULL || nf == 2) {
		*err = "expected start:rate:full or one number";
		return -1;
	}
	for (i = 0; i < nf; i++) {
		n[i] = strtonum(f[i], 1, i == 1 ? 100 :
		    SESSIONS_MAX_LIMIT, &e);
		if (e != NULL) {
			*err = "number out of range";
			return -1;
		}
	}
	if (nf == 1) {
		n[1] = 100;
		n[2] = n[0];
	}
	if (n[0] > n[2]) {
		*err = "start is above full";
		return -1;
	}
	c->startups_start = (int)n[0];
	c->startups_rate = (int)n[1];
	c->startups_full = (int)n[2];
	return 0;
}

static int
set_value(struct config *c, const struct cfg_opt *o, const char *v,
    int is_set, const char **err)
{
	char		*base = (char *)c;
	const char	*e;
	long long	 n;
	size_t		 i;

	if (o->type != CT_BOOL && !is_set) {
		*err = "only boolean options can be reset";
		return -1;
	}
	switch (o->type) {
	case CT_BOOL:
		if (v == NULL)
			n = is_set;
		else if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
		    strcmp(v, "on") == 0 || strcmp(v, "1") == 0)
			n = is_set;
		else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
		    strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
			n = !is_set;
		else {
			*err = "expected true or false";
			return -1;
		}
		*(int *)(base + o->off) = (int)n;
		return 0;
	default:
		break;
	}
	if (v == NULL || *v == '\0') {
		*err = "missing value";
		return -1;
	}
	switch (o->type) {
	case CT_INT:
		n = strtonum(v, o->min, o->max, &e);
		if (e != NULL) {
			*err = "number out of range";
			return -1;
		}
		*(int *)(base + o->off) = (int)n;
		return 0;
	case CT_STR:
		if (strlcpy(base + o->off, v, o->size) >= o->size) {
			*err = "value too long";
			return -1;
		}
		return 0;
	case CT_ENUM:
		for (i = 0; o->enums[i].name != NULL; i++)
			if (strcmp(o->enums[i].name, v) == 0) {
				*(int *)(base + o->off) = o->enums[i].value;
				return 0;
			}
		*err = "unknown value";
		return -1;
	case CT_LISTEN:
		return parse_listen(c, v, (int)o->off, err);
	case CT_STARTUPS:
		return parse_startups(c, v, err);
	case CT_CERT:
		if (c->ncerts >= KEY_MAX_KEYS) {
			*err = "too many certificates";
			return -1;
		}
		if (strlcpy(c->cert_file[c->ncerts], v, CFG_PATH_MAX) >=
		    CFG_PATH_MAX) {
			*err = "path too long";
			return -1;
		}
		c->ncerts++;
		return 0;
	case CT_KEY:
		/* The key belongs to the certificate set just before it. */
		if (c->ncerts == 0) {
			*err = "tls-private-key-file before "
			    "tls-server-cert-file";
			return -1;
		}
		if (strlcpy(c->key_file[c->ncerts - 1], v, CFG_PATH_MAX) >=
		    CFG_PATH_MAX) {
			*err = "path too long";
			return -1;
		}
		return 0;
	case CT_FACILITY:
		for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]);
		    i++)
			if (strcmp(facilities[i].name, v) == 0) {
				c->log_facility = facilities[i].value;
				return 0;
			}
		*err = "unknown syslog facility";
		return -1;
	default:
		bug("%s: option type %d", __func__, o->type);
	}
}

/*
 * Read a Qpopper-style file: "set name = value", "set name" and
 * "reset name" for booleans, "#" comments.  Returns 0, or -1 after
 * printing "file:line: problem" on stderr.
 */
int
cfg_parse_file(struct config *c, const char *path)
{
	FILE			*fp;
	char			*buf = NULL;
	size_t			 cap = 0;
	ssize_t			 n;
	char			*line, *name, *value, *eq, *hash;
	const struct cfg_opt	*o;
	const char		*err;
	int			 lineno = 0, is_set, rv = 0;
	size_t			 len;

	for (size_t i = 1; i < sizeof(cfg_opts) / sizeof(cfg_opts[0]); i++)
		if (strcmp(cfg_opts[i - 1].name, cfg_opts[i].name) >= 0)
			bug("%s: option table not sorted at %s", __func__,
			    cfg_opts[i].name);
	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "popsepd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	strlcpy(c->file, path, sizeof(c->file));
	while ((n = getline(&buf, &cap, fp)) != -1) {
		lineno++;
		len = (size_t)n;
		if (len - (buf[len - 1] == '\n') > CONFIG_LINE_MAX) {
			fprintf(stderr, "%s:%d: line too long\n", path, lineno);
			rv = -1;
			break;
		}
		if (memchr(buf, '\0', len) != NULL) {
			fprintf(stderr, "%s:%d: NUL byte\n", path, lineno);
			rv = -1;
			break;
		}
		if ((hash = strchr(buf, '#')) != NULL)
			*hash = '\0';
		line = cfg_trim(buf);
		if (*line == '\0')
			continue;
		if (strncmp(line, "set", 3) == 0 &&
		    isspace((unsigned char)line[3]))
			is_set = 1;
		else if (strncmp(line, "reset", 5) == 0 &&
		    isspace((unsigned char)line[5]))
			is_set = 0;
		else {
			fprintf(stderr, "%s:%d: expected \"set\" or "
			    "\"reset\"\n", path, lineno);
			rv = -1;
			continue;
		}
		name = cfg_trim(line + (is_set ? 3 : 5));
		value = NULL;
		if ((eq = strchr(name, '=')) != NULL) {
			*eq = '\0';
			value = unquote(cfg_trim(eq + 1));
			name = cfg_trim(name);
		}
		o = bsearch(name, cfg_opts, sizeof(cfg_opts) /
		    sizeof(cfg_opts[0]), sizeof(cfg_opts[0]), opt_cmp);
		if (o == NULL && is_unsupported(name)) {
			fprintf(stderr, "%s:%d: \"%s\" is a Qpopper option that "
			    "this version of popsep does not support\n", path,
			    lineno, name);
			rv = -1;
			continue;
		}
		if (o == NULL) {
			fprintf(stderr, "%s:%d: unknown option \"%s\"\n", path,
			    lineno, name);
			rv = -1;
			continue;
		}
		if (set_value(c, o, value, is_set, &err) == -1) {
			fprintf(stderr, "%s:%d: %s: %s\n", path, lineno, name,
			    err);
			rv = -1;
		}
	}
	if (ferror(fp)) {
		fprintf(stderr, "%s: read error\n", path);
		rv = -1;
	}
	free(buf);
	fclose(fp);
	return rv;
}

/*
 * keytab: an absolute path, with or without MIT's "FILE:" prefix;
 * kerberos-service: the first component of the acceptor's principal.
 */
static int
check_gssapi(const struct config *c)
{
	const char	*kt = c->keytab;
	size_t		 i;

	if (strncmp(kt, "FILE:", 5) == 0)
		kt += 5;
	if (c->keytab[0] != '\0' && kt[0] != '/') {
		fprintf(stderr, "popsepd: keytab must be an absolute path\n");
		return -1;
	}
	for (i = 0; c->kerberos_service[i] != '\0'; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789.-_", c->kerberos_service[i]) == NULL)
			break;
	if (i == 0 || c->kerberos_service[i] != '\0') {
		fprintf(stderr, "popsepd: kerberos-service must be a service "
		    "name of letters, digits, \".\", \"-\" and \"_\"\n");
		return -1;
	}
	return 0;
}

/* Defaults that depend on other options, and cross-option checks. */
int
cfg_finish(struct config *c)
{
	const char	*err;
	size_t		 i;

	for (i = 0; i < c->ncerts; i++)
		if (c->key_file[i][0] == '\0')
			/* Qpopper's layout: the key in the certificate file. */
			strlcpy(c->key_file[i], c->cert_file[i], CFG_PATH_MAX);
	if (c->ncerts == 0 && c->tls_support != TLS_SUPPORT_NONE &&
	    c->tls_support != TLS_SUPPORT_DEFAULT) {
		fprintf(stderr, "popsepd: tls-support needs "
		    "tls-server-cert-file\n");
		return -1;
	}
	if (c->nlisten == 0) {
		if (parse_listen(c, "110", 0, &err) == -1)
			bug("%s: %s", __func__, err);
		if (cfg_tls_enabled(c) && parse_listen(c, "995", 1, &err) == -1)
			bug("%s: %s", __func__, err);
	}
	for (i = 0; i < c->nlisten; i++)
		if (c->listen[i].implicit_tls && !cfg_tls_enabled(c)) {
			fprintf(stderr, "popsepd: listen-tls needs "
			    "tls-server-cert-file and TLS not turned off by "
			    "tls-support\n");
			return -1;
		}
	if (check_dir("temp-dir", c->temp_dir) == -1 ||
	    check_dir("bulldir", c->bulldir) == -1 ||
	    check_cache_dir(c->cache_dir) == -1)
		return -1;
	if (strchr(c->home_dir_mail, '/') != NULL ||
	    strcmp(c->home_dir_mail, "..") == 0 ||
	    strcmp(c->home_dir_mail, ".") == 0) {
		fprintf(stderr, "popsepd: home-dir-mail must be a file name in "
		    "the home directory, without \"/\"\n");
		return -1;
	}
	if (check_expire(c->announce_expire) == -1)
		return -1;
	if (c->session_json[0] != '\0' && c->session_json[0] != '/' &&
	    strcmp(c->session_json, "syslog") != 0) {
		fprintf(stderr, "popsepd: session-json must be \"syslog\" or "
		    "an absolute file name\n");
		return -1;
	}
	if (c->login_delay > 0 && strcmp(c->cache_dir, "none") == 0) {
		fprintf(stderr, "popsepd: login-delay keeps the time of each "
		    "login in cache-dir, which is \"none\"\n");
		return -1;
	}
	if (check_gssapi(c) == -1)
		return -1;
	if (c->cleartext == CLEARTEXT_TLS && !cfg_tls_enabled(c))
		log_warnx("clear-text-password is \"tls\" but TLS is not "
		    "configured: no one can log in with USER/PASS");
	return 0;
}

/* announce-expire: unset, "never", or a number of days from 1 to 9999. */
static int
check_expire(const char *v)
{
	const char	*e;

	if (v[0] == '\0' || strcmp(v, "never") == 0)
		return 0;
	(void)strtonum(v, 1, 9999, &e);
	if (e == NULL)
		return 0;
	fprintf(stderr, "popsepd: announce-expire must be \"never\" or a "
	    "number of days from 1 to 9999, not \"%s\"\n", v);
	return -1;
}

int
cfg_tls_enabled(const struct config *c)
{
	return c->ncerts > 0 && c->tls_support != TLS_SUPPORT_NONE;
}
