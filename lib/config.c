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

#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "config.h"
#include "log.h"
#include "qpopper.h"

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
	CT_PROXY_FROM,
	CT_INCLUDE,
};

/* The flags of a CT_LISTEN option, in its off field. */
#define LISTEN_TLS	0x01
#define LISTEN_PROXY	0x02

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
	{ "ssl", CLEARTEXT_TLS },
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
	{ "sslv2", 0 },
	{ "sslv3", 0 },
	{ "tlsv1", 0 },
	{ "sslv23", 0 },
	{ "all", 0 },
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
	{ "config-file", CT_INCLUDE, 0, 0, 0, 0, NULL },
	BOOL("downcase-user", downcase_user),
	BOOL("fast-update", fast_update),
	INT("first-valid-uid", first_valid_uid, 1, 0x7fffffff),
	STR("group-no-server-mode", group_no_server_mode),
	STR("group-server-mode", group_server_mode),
	STR("home-dir-mail", home_dir_mail),
	STR("kerberos-service", kerberos_service),
	STR("key-user", key_user),
	STR("keytab", keytab),
	BOOL("last-command", last_command),
	{ "listen", CT_LISTEN, 0, 0, 0, 0, NULL },
	{ "listen-proxy", CT_LISTEN, LISTEN_PROXY, 0, 0, 0, NULL },
	{ "listen-proxy-tls", CT_LISTEN, LISTEN_PROXY | LISTEN_TLS, 0, 0, 0,
	    NULL },
	{ "listen-tls", CT_LISTEN, LISTEN_TLS, 0, 0, 0, NULL },
	{ "log-facility", CT_FACILITY, OFF(log_facility), 0, 0, 0, NULL },
	INT("login-delay", login_delay, 0, LOGIN_DELAY_MAX),
	INT("login-timeout", login_timeout, LOGIN_TIMEOUT_MIN, 86400),
	INT("mail-lock-check", mail_lock_check, 1, 1000000),
	INT("max-bulletins", max_bulletins, 0, BULL_COUNT_MAX),
	INT("max-per-source", max_per_source, 1, SESSIONS_MAX_LIMIT),
	INT("max-sessions", max_sessions, 1, SESSIONS_MAX_LIMIT),
	{ "max-startups", CT_STARTUPS, 0, 0, 0, 0, NULL },
	STR("metrics-file", metrics_file),
	INT("metrics-interval", metrics_interval, 1, 86400),
	STR("metrics-listen", metrics_listen),
	STR("nonauth-file", nonauth_file),
	STR("pam-service", pam_service),
	STR("passwd-file", passwd_file),
	STR("pid-file", pid_file),
	STR("popauth-db", popauth_db),
	STR("popauth-user", popauth_user),
	STR("privsep-user", privsep_user),
	{ "proxy-from", CT_PROXY_FROM, 0, 0, 0, 0, NULL },
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
	BOOL("verbose", verbose),
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

struct cfg_file {			/* a file being read */
	const char		*path;
	dev_t			 dev;
	ino_t			 ino;
	int			 depth;	/* 0: the top file */
	const struct cfg_file	*parent;
};

static char	 cfg_err[512];	/* a message set_value() composes */

static int	opt_cmp(const void *, const void *);
static const struct cfg_opt *find_opt(const char *);
static int	set_value(struct config *, const struct cfg_opt *, const char *,
		    int, const char **);
static int	parse_listen(struct config *, const char *, int,
		    const char **);
static int	parse_startups(struct config *, const char *, const char **);
static int	parse_proxy_from(struct config *, const char *, const char **);
static int	check_expire(const char *);
static int	check_gssapi(const struct config *);
static int	check_numeric_host(const char *, const char **);
static int	parse_bool(const char *, int, int *);
static int	parse_number(const char *, long long, long long, long long *,
		    const char **);
static const char *enum_error(const struct cfg_enum *, const char *);
static int	set_qpopper(struct config *, const char *, const char *,
		    const char *, int);
static int	check_ignored(const struct qp_option *, const char *, int,
		    int *);
static int	parse_file(struct config *, const char *,
		    const struct cfg_file *, const char *);
static int	parse_line(struct config *, const struct cfg_file *, char *,
		    const char *);
static int	include_file(struct config *, const struct cfg_file *,
		    const char *, const char *);
static void	strip_comment(char *);
static char	*unquote(char *);
static int	check_metrics(struct config *);
static int	check_dir(const char *, const char *);
static int	check_cache_dir(const char *);
static void	dump_opt(const struct config *, const struct config *,
		    const struct cfg_opt *, FILE *);
static void	dump_str(FILE *, const char *, const char *);
static void	dump_listen(const struct config *, const char *, int, FILE *);
static void	dump_proxy_from(const struct config *, FILE *);
static int	flag_e(struct config *, const char *, const char *);
static const char *numbered(const char *const *, const char *);

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
	c->metrics_interval = METRICS_INTERVAL_DEFAULT;
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
	return strcasecmp(key, ((const struct cfg_opt *)elem)->name);
}

/* Qpopper matched names without regard to case; so does popsep. */
static const struct cfg_opt *
find_opt(const char *name)
{
	return bsearch(name, cfg_opts, sizeof(cfg_opts) / sizeof(cfg_opts[0]),
	    sizeof(cfg_opts[0]), opt_cmp);
}

int
cfg_known(const char *name)
{
	return find_opt(name) != NULL;
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
		log_conf("popsepd: %s must be an absolute path: %s",
		    name, path);
		return -1;
	}
	if (stat(path, &st) == -1) {
		log_conf("popsepd: %s %s: %s", name, path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_conf("popsepd: %s %s: not a directory", name, path);
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
		log_conf("popsepd: cache-dir must be an absolute path or "
		    "\"none\": %s", path);
		return -1;
	}
	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		log_conf("popsepd: cache-dir %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		log_conf("popsepd: cache-dir %s: must be a directory "
		    "(not a symbolic link) owned by root and writable only by "
		    "root", path);
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

/*
 * Cut a "#" comment, but not a "#" inside a quoted value: the value's
 * quotes are the ones that open right after "=".
 */
static void
strip_comment(char *line)
{
	char	*eq, *v, *close, *from = line, *hash;

	hash = strchr(line, '#');
	eq = strchr(line, '=');
	if (eq != NULL && (hash == NULL || eq < hash)) {
		for (v = eq + 1; isspace((unsigned char)*v); v++)
			;
		if (*v != '\0' && strchr("\"'`", *v) != NULL &&
		    (close = strchr(v + 1, *v)) != NULL)
			from = close + 1;
	}
	if ((hash = strchr(from, '#')) != NULL)
		*hash = '\0';
}

/*
 * Listen addresses are numeric: a name would be resolved at every start
 * to whatever the resolver says then, and the master binds before it
 * could be sure.
 */
static int
check_numeric_host(const char *host, const char **err)
{
	struct addrinfo	 hints, *res;

	if (strcmp(host, "*") == 0)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	if (getaddrinfo(host, NULL, &hints, &res) != 0) {
		snprintf(cfg_err, sizeof(cfg_err), "\"%s\" is not a numeric "
		    "IPv4 or IPv6 address (names are not resolved: write "
		    "127.0.0.1, [::1] or *)", host);
		*err = cfg_err;
		return -1;
	}
	freeaddrinfo(res);
	return 0;
}

/* "host:port", "[v6]:port", "*:port" or "port", into l. */
static int
split_listen(const char *v, struct cfg_listen *l, const char **err)
{
	const char	*colon, *host, *port;
	size_t		 hlen;
	const char	*e;

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
	if (check_numeric_host(l->addr, err) == -1)
		return -1;
	strtonum(port, 1, 65535, &e);
	if (e != NULL) {
		*err = "bad port";
		return -1;
	}
	strlcpy(l->port, port, sizeof(l->port));
	return 0;
}

static int
parse_listen(struct config *c, const char *v, int flags, const char **err)
{
	struct cfg_listen	*l;

	if (c->nlisten >= CFG_LISTEN_MAX) {
		*err = "too many listen addresses";
		return -1;
	}
	l = &c->listen[c->nlisten];
	if (split_listen(v, l, err) == -1)
		return -1;
	l->implicit_tls = (flags & LISTEN_TLS) != 0;
	l->proxy = (flags & LISTEN_PROXY) != 0;
	c->nlisten++;
	return 0;
}

/*
 * metrics-listen: an address and a port, both given: the counters are
 * served to whoever can reach the address, so "*" and a port alone are
 * refused (a non-loopback address is warned about at start-up).
 */
static int
check_metrics(struct config *c)
{
	const char	*err;

	if (c->metrics_listen[0] != '\0') {
		if (split_listen(c->metrics_listen, &c->metrics_addr, &err)
		    == -1) {
			log_conf("popsepd: metrics-listen: %s", err);
			return -1;
		}
		if (strcmp(c->metrics_addr.addr, "*") == 0) {
			log_conf("popsepd: metrics-listen needs an address, "
			    "such as 127.0.0.1:9110");
			return -1;
		}
	}
	if (c->metrics_file[0] != '\0' && c->metrics_file[0] != '/') {
		log_conf("popsepd: metrics-file must be an absolute file "
		    "name");
		return -1;
	}
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

/* Qpopper's booleans and popsep's synonyms, in any case; -1 if neither. */
static int
parse_bool(const char *v, int is_set, int *n_r)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t	i;

	if (v == NULL) {
		*n_r = is_set;
		return 0;
	}
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*n_r = is_set;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*n_r = !is_set;
			return 0;
		}
	}
	return -1;
}

/*
 * A decimal number, or hex after "0x" (Qpopper read numbers with strtol
 * base 0).  A leading 0 is refused: Qpopper read it as octal, and a
 * silent change of base would change the value.
 */
static int
parse_number(const char *v, long long min, long long max, long long *n_r,
    const char **err)
{
	const char	*p = v;
	char		*end;
	int		 base = 10;

	if (*p == '-' || *p == '+')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && p[1] != '\0') {
		*err = "a leading 0 would be octal in Qpopper: write the "
		    "number in decimal or as 0x hex";
		return -1;
	}
	if (!isxdigit((unsigned char)*p) ||
	    (base == 10 && !isdigit((unsigned char)*p))) {
		*err = "not a number";
		return -1;
	}
	errno = 0;
	*n_r = strtoll(v, &end, base == 16 ? 16 : 10);
	if (*end != '\0') {
		*err = "not a number";
		return -1;
	}
	if (errno == ERANGE || *n_r < min || *n_r > max) {
		snprintf(cfg_err, sizeof(cfg_err), "out of range (%lld to "
		    "%lld)", min, max);
		*err = cfg_err;
		return -1;
	}
	return 0;
}

/* "unknown value", with the values there are. */
static const char *
enum_error(const struct cfg_enum *e, const char *v)
{
	size_t	i, len;

	len = (size_t)snprintf(cfg_err, sizeof(cfg_err), "unknown value "
	    "\"%s\" (expected", v);
	for (i = 0; e[i].name != NULL && len < sizeof(cfg_err); i++)
		len += (size_t)snprintf(cfg_err + len, sizeof(cfg_err) - len,
		    "%s %s", i == 0 ? "" : e[i + 1].name == NULL ? " or" : ",",
		    e[i].name);
	if (len < sizeof(cfg_err))
		snprintf(cfg_err + len, sizeof(cfg_err) - len, ")");
	return cfg_err;
}

static int
set_value(struct config *c, const struct cfg_opt *o, const char *v,
    int is_set, const char **err)
{
	char		*base = (char *)c;
	long long	 n;
	size_t		 i;
	int		 b;

	if (o->type != CT_BOOL && !is_set) {
		*err = "only boolean options can be reset";
		return -1;
	}
	if (o->type == CT_BOOL) {
		if (parse_bool(v, is_set, &b) == -1) {
			*err = "expected true or false";
			return -1;
		}
		*(int *)(base + o->off) = b;
		return 0;
	}
	if (v == NULL || *v == '\0') {
		*err = "missing value";
		return -1;
	}
	switch (o->type) {
	case CT_INT:
		if (parse_number(v, o->min, o->max, &n, err) == -1)
			return -1;
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
			if (strcasecmp(o->enums[i].name, v) == 0) {
				*(int *)(base + o->off) = o->enums[i].value;
				return 0;
			}
		*err = enum_error(o->enums, v);
		return -1;
	case CT_LISTEN:
		return parse_listen(c, v, (int)o->off, err);
	case CT_STARTUPS:
		return parse_startups(c, v, err);
	case CT_PROXY_FROM:
		return parse_proxy_from(c, v, err);
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
			if (strcasecmp(facilities[i].name, v) == 0) {
				c->log_facility = facilities[i].value;
				return 0;
			}
		*err = "unknown syslog facility (expected auth, authpriv, "
		    "daemon, local0 to local7, mail or user)";
		return -1;
	case CT_INCLUDE:
		*err = "only a configuration file can include another";
		return -1;
	default:
		bug("%s: option type %d", __func__, o->type);
	}
}

/*
 * Set one option by name, from the file (where is "FILE:LINE") or a flag
 * (where is "-X ARG"): popsep's table first, then Qpopper's.
 */
int
cfg_set_named(struct config *c, const char *where, const char *name,
    const char *value, int is_set)
{
	const struct cfg_opt	*o;
	const char		*err, *note;

	if ((o = find_opt(name)) == NULL)
		return set_qpopper(c, where, name, value, is_set);
	if (set_value(c, o, value, is_set, &err) == -1) {
		log_conf("%s: %s: %s", where, name, err);
		return -1;
	}
	if ((note = qp_value_note(o->name, value)) != NULL)
		log_conf("%s: warning: %s = %s: %s", where, name, value, note);
	return 0;
}

/*
 * The value of an option popsep ignores must still be well-formed, and
 * a QP_IF_OFF one must be off; *off_r says whether it is.
 */
static int
check_ignored(const struct qp_option *q, const char *value, int is_set,
    int *off_r)
{
	long long	n;
	const char	*err;
	int		b;

	*off_r = !is_set;
	if (q->value == QV_BOOL || (q->value == QV_ANY && value == NULL)) {
		if (parse_bool(value, is_set, &b) == -1) {
			if (q->value == QV_BOOL)
				return -1;
			b = 1;
		}
		*off_r = !b;
		return 0;
	}
	if (q->value == QV_INT) {
		if (value == NULL || parse_number(value, LLONG_MIN + 1,
		    LLONG_MAX, &n, &err) == -1)
			return -1;
		*off_r = n == 0;
	} else
		*off_r = 0;
	return 0;
}

/* A name that is not popsep's: what qpopper.c says about it. */
static int
set_qpopper(struct config *c, const char *where, const char *name,
    const char *value, int is_set)
{
	const struct qp_option	*q;
	int			 off;

	if ((q = qp_option(name)) == NULL) {
		log_conf("%s: unknown option \"%s\"", where, name);
		return -1;
	}
	if (q->disp == QP_WORKS) {
		if (find_opt(q->target) == NULL)
			bug("%s: %s maps to unknown %s", __func__, q->name,
			    q->target);
		return cfg_set_named(c, where, q->target, value, is_set);
	}
	if (check_ignored(q, value, is_set, &off) == -1) {
		log_conf("%s: %s: expected %s", where, name,
		    q->value == QV_BOOL ? "true or false" :
		    "a number (decimal or 0x hex)");
		return -1;
	}
	if (q->disp == QP_REFUSED || (q->disp == QP_IF_OFF && !off)) {
		log_conf("%s: \"%s\" is a Qpopper option popsep cannot "
		    "honour: %s", where, name, q->why);
		return -1;
	}
	log_conf("%s: warning: Qpopper option \"%s\" ignored: %s", where, name,
	    q->why);
	return 0;
}

/*
 * A Qpopper flag, as the option it stands for (qpopper.c); the command
 * line is applied after the file, so it wins, as in Qpopper.
 */
int
cfg_flag(struct config *c, int ch, const char *arg)
{
	const struct qp_flag	*f;
	const char		*v;
	char			 where[64];

	if ((f = qp_flag(ch)) == NULL)
		bug("%s: flag -%c", __func__, ch);
	snprintf(where, sizeof(where), "popsepd: -%c%s%.40s", ch,
	    arg != NULL ? " " : "", arg != NULL ? arg : "");
	if (f->option == NULL)
		return flag_e(c, where, arg);
	v = f->value != NULL ? f->value : arg;
	if (f->numbered != NULL && (v = numbered(f->numbered, arg)) == NULL) {
		log_conf("%s: expected %s", where, f->expect);
		return -1;
	}
	return cfg_set_named(c, where, f->option, v, 1);
}

/* values[N] for the argument "N", one digit; NULL if there is none. */
static const char *
numbered(const char *const *values, const char *arg)
{
	size_t	i;

	if (arg == NULL || arg[0] < '0' || arg[0] > '9' || arg[1] != '\0')
		return NULL;
	for (i = 0; values[i] != NULL; i++)
		if (i == (size_t)(arg[0] - '0'))
			return values[i];
	return NULL;
}

/* Qpopper's -e login_delay=N,expire=N. */
static int
flag_e(struct config *c, const char *where, const char *arg)
{
	char	 buf[256], *p, *item, *eq;
	int	 rv = 0;

	if (strlcpy(buf, arg, sizeof(buf)) >= sizeof(buf)) {
		log_conf("%s: too long", where);
		return -1;
	}
	for (p = buf; (item = strsep(&p, ",")) != NULL;) {
		if ((eq = strchr(item, '=')) == NULL) {
			log_conf("%s: expected login_delay=N or expire=N", where);
			rv = -1;
			continue;
		}
		*eq++ = '\0';
		if (strcasecmp(item, "login_delay") == 0)
			rv |= cfg_set_named(c, where, "announce-login-delay",
			    eq, 1);
		else if (strcasecmp(item, "expire") == 0)
			rv |= cfg_set_named(c, where, "announce-expire", eq, 1);
		else {
			log_conf("%s: \"%s\": expected login_delay=N or "
			    "expire=N", where, item);
			rv = -1;
		}
	}
	return rv;
}

/*
 * Qpopper's config-file: the named file is read at this point, a
 * relative name relative to the including file's directory.
 */
static int
include_file(struct config *c, const struct cfg_file *f, const char *value,
    const char *where)
{
	char	dir[CFG_PATH_MAX], path[CFG_PATH_MAX];

	if (value == NULL || *value == '\0') {
		log_conf("%s: config-file: missing value", where);
		return -1;
	}
	if (value[0] == '/') {
		if (strlcpy(path, value, sizeof(path)) >= sizeof(path))
			goto toolong;
	} else {
		if (strlcpy(dir, f->path, sizeof(dir)) >= sizeof(dir))
			goto toolong;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dirname(dir),
		    value) >= sizeof(path))
			goto toolong;
	}
	return parse_file(c, path, f, where);
toolong:
	log_conf("%s: config-file: path too long", where);
	return -1;
}

/* One line: "set name [= value]" or "reset name". */
static int
parse_line(struct config *c, const struct cfg_file *f, char *buf,
    const char *where)
{
	char	*line, *name, *value = NULL, *eq;
	int	 is_set;

	strip_comment(buf);
	line = cfg_trim(buf);
	if (*line == '\0')
		return 0;
	if (strncasecmp(line, "set", 3) == 0 &&
	    isspace((unsigned char)line[3]))
		is_set = 1;
	else if (strncasecmp(line, "reset", 5) == 0 &&
	    isspace((unsigned char)line[5]))
		is_set = 0;
	else {
		log_conf("%s: expected \"set\" or \"reset\"", where);
		return -1;
	}
	name = cfg_trim(line + (is_set ? 3 : 5));
	if ((eq = strchr(name, '=')) != NULL) {
		*eq = '\0';
		value = unquote(cfg_trim(eq + 1));
		name = cfg_trim(name);
	}
	if (strcasecmp(name, "config-file") == 0 && is_set)
		return include_file(c, f, value, where);
	return cfg_set_named(c, where, name, value, is_set);
}

/*
 * Read one file; parent is the file that included it (NULL for the top
 * one).  A file that includes itself, directly or not, is an error, and
 * so is nesting deeper than CONFIG_INCLUDE_DEPTH.
 */
static int
parse_file(struct config *c, const char *path, const struct cfg_file *parent,
    const char *where)
{
	struct cfg_file		 f;
	const struct cfg_file	*p;
	struct stat		 st;
	FILE			*fp;
	char			*buf = NULL, at[CFG_PATH_MAX + 32];
	size_t			 cap = 0, len;
	ssize_t			 n;
	int			 lineno = 0, rv = 0;

	if (parent != NULL && parent->depth + 1 > CONFIG_INCLUDE_DEPTH) {
		log_conf("%s: config-file %s: nested deeper than %d files",
		    where, path, CONFIG_INCLUDE_DEPTH);
		return -1;
	}
	if ((fp = fopen(path, "r")) == NULL || fstat(fileno(fp), &st) == -1) {
		log_conf("%s%s%s: %s", where != NULL ? where : "popsepd",
		    where != NULL ? ": config-file " : ": ", path,
		    strerror(errno));
		if (fp != NULL)
			fclose(fp);
		return -1;
	}
	for (p = parent; p != NULL; p = p->parent)
		if (p->dev == st.st_dev && p->ino == st.st_ino) {
			log_conf("%s: config-file %s: a loop (the file is "
			    "already being read)", where, path);
			fclose(fp);
			return -1;
		}
	if (S_ISDIR(st.st_mode)) {
		log_conf("%s%s%s: is a directory", where != NULL ? where :
		    "popsepd", where != NULL ? ": config-file " : ": ", path);
		fclose(fp);
		return -1;
	}
	f.path = path;
	f.dev = st.st_dev;
	f.ino = st.st_ino;
	f.depth = parent != NULL ? parent->depth + 1 : 0;
	f.parent = parent;
	while ((n = getline(&buf, &cap, fp)) != -1) {
		lineno++;
		len = (size_t)n;
		snprintf(at, sizeof(at), "%s:%d", path, lineno);
		if (len - (buf[len - 1] == '\n') > CONFIG_LINE_MAX) {
			log_conf("%s: line too long", at);
			rv = -1;
			break;
		}
		if (memchr(buf, '\0', len) != NULL) {
			log_conf("%s: NUL byte", at);
			rv = -1;
			break;
		}
		if (parse_line(c, &f, buf, at) == -1)
			rv = -1;
	}
	if (ferror(fp)) {
		log_conf("%s: read error", path);
		rv = -1;
	}
	/* A line may have held a secret (a refused tls-passphrase). */
	if (buf != NULL)
		explicit_bzero(buf, cap);
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
		log_conf("popsepd: keytab must be an absolute path");
		return -1;
	}
	for (i = 0; c->kerberos_service[i] != '\0'; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789.-_", c->kerberos_service[i]) == NULL)
			break;
	if (i == 0 || c->kerberos_service[i] != '\0') {
		log_conf("popsepd: kerberos-service must be a service "
		    "name of letters, digits, \".\", \"-\" and \"_\"");
		return -1;
	}
	return 0;
}

/*
 * Read a Qpopper-style file: "set name = value", "set name" and
 * "reset name" for booleans, "#" comments, names and keywords in any
 * case, values in matching quotes, config-file includes.  Returns 0, or
 * -1 after reporting each "file:line: problem".
 */
int
cfg_parse_file(struct config *c, const char *path)
{
	for (size_t i = 1; i < sizeof(cfg_opts) / sizeof(cfg_opts[0]); i++)
		if (strcasecmp(cfg_opts[i - 1].name, cfg_opts[i].name) >= 0)
			bug("%s: option table not sorted at %s", __func__,
			    cfg_opts[i].name);
	if (strlcpy(c->file, path, sizeof(c->file)) >= sizeof(c->file)) {
		log_conf("popsepd: %s: path too long", path);
		return -1;
	}
	return parse_file(c, path, NULL, NULL);
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
		log_conf("popsepd: tls-support needs "
		    "tls-server-cert-file");
		return -1;
	}
	if (c->nlisten == 0) {
		if (parse_listen(c, "110", 0, &err) == -1)
			bug("%s: %s", __func__, err);
		if (cfg_tls_enabled(c) &&
		    parse_listen(c, "995", LISTEN_TLS, &err) == -1)
			bug("%s: %s", __func__, err);
	}
	for (i = 0; i < c->nlisten; i++)
		if (c->listen[i].implicit_tls && !cfg_tls_enabled(c)) {
			log_conf("popsepd: listen-tls needs "
			    "tls-server-cert-file and TLS not turned off by "
			    "tls-support");
			return -1;
		}
	if (cfg_has_proxy_listener(c) && c->nproxy_from == 0) {
		log_conf("popsepd: listen-proxy and listen-proxy-tls need "
		    "proxy-from");
		return -1;
	}
	if (c->spool_dir[0] == '\0') {
		log_conf("popsepd: spool-dir must not be empty");
		return -1;
	}
	if (check_dir("spool-dir", c->spool_dir) == -1 ||
	    check_dir("temp-dir", c->temp_dir) == -1 ||
	    check_dir("bulldir", c->bulldir) == -1 ||
	    check_cache_dir(c->cache_dir) == -1)
		return -1;
	if (strchr(c->home_dir_mail, '/') != NULL ||
	    strcmp(c->home_dir_mail, "..") == 0 ||
	    strcmp(c->home_dir_mail, ".") == 0) {
		log_conf("popsepd: home-dir-mail must be a file name in "
		    "the home directory, without \"/\"");
		return -1;
	}
	if (check_expire(c->announce_expire) == -1 || check_metrics(c) == -1)
		return -1;
	if (c->session_json[0] != '\0' && c->session_json[0] != '/' &&
	    strcmp(c->session_json, "syslog") != 0) {
		log_conf("popsepd: session-json must be \"syslog\" or "
		    "an absolute file name");
		return -1;
	}
	if (c->login_delay > 0 && strcmp(c->cache_dir, "none") == 0) {
		log_conf("popsepd: login-delay keeps the time of each "
		    "login in cache-dir, which is \"none\"");
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
	log_conf("popsepd: announce-expire must be \"never\" or a "
	    "number of days from 1 to 9999, not \"%s\"", v);
	return -1;
}

/*
 * A string value as the parser reads it back: quoted when blanks at
 * either end, a "#", or quotes of its own would change it.
 */
static void
dump_str(FILE *fp, const char *name, const char *v)
{
	const char	*q;
	size_t		 len = strlen(v);
	int		 plain;

	plain = len > 0 && !isspace((unsigned char)v[0]) &&
	    !isspace((unsigned char)v[len - 1]) && strchr(v, '#') == NULL &&
	    strchr("\"'`", v[0]) == NULL;
	if (plain) {
		fprintf(fp, "set %s = %s\n", name, v);
		return;
	}
	for (q = "\"'`"; *q != '\0' && strchr(v, *q) != NULL; q++)
		;
	if (*q == '\0') {
		/* Every kind of quote and a "#": no line reads back as it. */
		fprintf(fp, "# %s: the value holds every kind of quote and "
		    "cannot be written as a line\n", name);
		return;
	}
	fprintf(fp, "set %s = %c%s%c\n", name, *q, v, *q);
}

/* The listen addresses of one kind (flags: LISTEN_TLS, LISTEN_PROXY). */
static void
dump_listen(const struct config *c, const char *name, int flags, FILE *fp)
{
	const struct cfg_listen	*l;
	size_t			 i;

	for (i = 0; i < c->nlisten; i++) {
		l = &c->listen[i];
		if (l->implicit_tls != ((flags & LISTEN_TLS) != 0) ||
		    l->proxy != ((flags & LISTEN_PROXY) != 0))
			continue;
		fprintf(fp, strchr(l->addr, ':') != NULL ?
		    "set %s = [%s]:%s\n" : "set %s = %s:%s\n", name, l->addr,
		    l->port);
	}
}

/* proxy-from, one network a line. */
static void
dump_proxy_from(const struct config *c, FILE *fp)
{
	char	a[INET6_ADDRSTRLEN];
	size_t	i;

	for (i = 0; i < c->nproxy_from; i++)
		if (inet_ntop(c->proxy_from[i].family, c->proxy_from[i].addr,
		    a, sizeof(a)) != NULL)
			fprintf(fp, "set proxy-from = %s/%d\n", a,
			    c->proxy_from[i].prefix);
}

/* One option, when its value is not the default's (in d). */
static void
dump_opt(const struct config *c, const struct config *dp,
    const struct cfg_opt *o, FILE *fp)
{
	const char		*base = (const char *)c;
	size_t			 i;
	int			 v;

	switch (o->type) {
	case CT_BOOL:
	case CT_INT:
	case CT_ENUM:
		v = *(const int *)(base + o->off);
		if (v == *(const int *)((const char *)dp + o->off))
			return;
		if (o->type == CT_BOOL)
			fprintf(fp, "%s %s\n", v ? "set" : "reset", o->name);
		else if (o->type == CT_INT)
			fprintf(fp, "set %s = %d\n", o->name, v);
		for (i = 0; o->type == CT_ENUM && o->enums[i].name; i++)
			if (o->enums[i].value == v) {
				fprintf(fp, "set %s = %s\n", o->name,
				    o->enums[i].name);
				break;
			}
		return;
	case CT_STR:
		if (strcmp(base + o->off, (const char *)dp + o->off) != 0)
			dump_str(fp, o->name, base + o->off);
		return;
	case CT_LISTEN:
		dump_listen(c, o->name, (int)o->off, fp);
		return;
	case CT_PROXY_FROM:
		dump_proxy_from(c, fp);
		return;
	case CT_STARTUPS:
		if (c->startups_start != dp->startups_start ||
		    c->startups_rate != dp->startups_rate ||
		    c->startups_full != dp->startups_full)
			fprintf(fp, "set max-startups = %d:%d:%d\n",
			    c->startups_start, c->startups_rate,
			    c->startups_full);
		return;
	case CT_CERT:
		/* Each key right after its certificate. */
		for (i = 0; i < c->ncerts; i++) {
			dump_str(fp, "tls-server-cert-file", c->cert_file[i]);
			if (c->key_file[i][0] != '\0')
				dump_str(fp, "tls-private-key-file",
				    c->key_file[i]);
		}
		return;
	case CT_FACILITY:
		for (i = 0; c->log_facility != dp->log_facility &&
		    i < sizeof(facilities) / sizeof(facilities[0]); i++)
			if (facilities[i].value == c->log_facility) {
				fprintf(fp, "set log-facility = %s\n",
				    facilities[i].name);
				break;
			}
		return;
	case CT_KEY:
	case CT_INCLUDE:
		return;
	}
}

/*
 * The options whose values differ from the defaults, as a configuration
 * file that gives the same settings (in the manner of doveconf -n).
 * Called before cfg_finish(), which fills in derived defaults.
 */
void
cfg_dump(const struct config *c, FILE *fp)
{
	static struct config	d;
	size_t			i;

	cfg_defaults(&d);
	for (i = 0; i < sizeof(cfg_opts) / sizeof(cfg_opts[0]); i++)
		dump_opt(c, &d, &cfg_opts[i], fp);
}

int
cfg_tls_enabled(const struct config *c)
{
	return c->ncerts > 0 && c->tls_support != TLS_SUPPORT_NONE;
}

/*
 * One network of proxy-from: a numeric address, optionally "/prefix";
 * no bit may be set past the prefix.
 */
static int
parse_net(struct cfg_net *n, char *v, const char **err)
{
	char		*slash;
	const char	*e;
	int		 i, max;

	if ((slash = strchr(v, '/')) != NULL)
		*slash++ = '\0';
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, v, n->addr) == 1) {
		n->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, v, n->addr) == 1) {
		n->family = AF_INET6;
		max = 128;
	} else {
		*err = "expected a numeric address, optionally /prefix";
		return -1;
	}
	n->prefix = max;
	if (slash != NULL) {
		n->prefix = (int)strtonum(slash, 0, max, &e);
		if (e != NULL) {
			*err = "bad prefix length";
			return -1;
		}
	}
	for (i = n->prefix; i < max; i++)
		if (n->addr[i / 8] & (0x80 >> (i % 8))) {
			*err = "address has bits set past its prefix";
			return -1;
		}
	return 0;
}

/* proxy-from: networks separated by blanks; each line adds to the list. */
static int
parse_proxy_from(struct config *c, const char *v, const char **err)
{
	char	 buf[CONFIG_LINE_MAX + 1], *p = buf, *w;

	if (strlcpy(buf, v, sizeof(buf)) >= sizeof(buf)) {
		*err = "value too long";
		return -1;
	}
	while ((w = strsep(&p, " \t")) != NULL) {
		if (*w == '\0')
			continue;
		if (c->nproxy_from >= PROXY_FROM_MAX) {
			*err = "too many proxy-from networks";
			return -1;
		}
		if (parse_net(&c->proxy_from[c->nproxy_from], w, err) == -1)
			return -1;
		c->nproxy_from++;
	}
	return 0;
}

int
cfg_has_proxy_listener(const struct config *c)
{
	size_t	i;

	for (i = 0; i < c->nlisten; i++)
		if (c->listen[i].proxy)
			return 1;
	return 0;
}

static int
net_contains(const struct cfg_net *n, int family, const uint8_t *a)
{
	int	full = n->prefix / 8, rest = n->prefix % 8;

	if (family != n->family || memcmp(a, n->addr, (size_t)full) != 0)
		return 0;
	return rest == 0 ||
	    ((a[full] ^ n->addr[full]) & (0xff00 >> rest) & 0xff) == 0;
}

/*
 * Whether the numeric address addr is in proxy-from.  An IPv4 address
 * mapped into IPv6 is matched as the IPv4 address it is.
 */
int
cfg_proxy_trusted(const struct config *c, const char *addr)
{
	static const uint8_t	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };
	uint8_t			 a[16];
	const uint8_t		*p = a;
	int			 family = AF_INET6;
	size_t			 i;

	if (inet_pton(AF_INET, addr, a) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, addr, a) != 1)
		return 0;
	if (family == AF_INET6 && memcmp(a, mapped, sizeof(mapped)) == 0) {
		family = AF_INET;
		p = a + sizeof(mapped);
	}
	for (i = 0; i < c->nproxy_from; i++)
		if (net_contains(&c->proxy_from[i], family, p))
			return 1;
	return 0;
}
