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
 * Runs in the master, as root, at start-up and for -n, before any key is
 * read or any socket bound: the start-up self-check.  It trusts the
 * configuration (already parsed and checked) and the file system's
 * answers to stat(2) and lstat(2), and refuses to start when a file the separation
 * rests on is open to others: a chroot-dir that someone but root could
 * change or replace, a private key or the APOP database that group or
 * others can read, or a file the daemon trusts that belongs to one of its
 * unprivileged users.  Each problem is reported with the file and the
 * command that fixes it; the check ends the process after the last one.
 */

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "priv.h"
#include "selfcheck.h"

struct owner {
	const char	*option;	/* privsep-user or key-user */
	const char	*name;
	uid_t		 uid;
	int		 known;
};

static int	problems;

static void
problem(const char *what, const char *fix)
{
	log_warnx("self-check: %s; fix: %s", what, fix);
	problems++;
}

/*
 * Every directory from dir up to "/" (after resolving links): owned by
 * root and writable by no one else, unless sticky (then only root may
 * rename root's entries): else another user could swap the chroot.
 */
static void
check_chroot_path(const char *dir)
{
	char		 path[PATH_MAX], what[PATH_MAX + 128];
	char		 fix[PATH_MAX + 32], *slash;
	struct stat	 st;

	if (realpath(dir, path) == NULL) {
		snprintf(what, sizeof(what), "chroot-dir %s: %s", dir,
		    strerror(errno));
		problem(what, "create it, owned by root, mode 0755");
		return;
	}
	for (;;) {
		if (lstat(path, &st) == -1)
			fatal("self-check: lstat %s", path);
		if (st.st_uid != 0) {
			snprintf(what, sizeof(what), "chroot-dir %s: %s is "
			    "owned by uid %lu, not root", dir, path,
			    (unsigned long)st.st_uid);
			snprintf(fix, sizeof(fix), "chown root %s", path);
			problem(what, fix);
		} else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
		    (st.st_mode & S_ISVTX) == 0) {
			snprintf(what, sizeof(what), "chroot-dir %s: %s is "
			    "writable by group or others (mode %04o)", dir,
			    path, (unsigned)(st.st_mode & 07777));
			snprintf(fix, sizeof(fix), "chmod go-w %s", path);
			problem(what, fix);
		}
		if (strcmp(path, "/") == 0)
			return;
		if ((slash = strrchr(path, '/')) == path)
			path[1] = '\0';
		else
			*slash = '\0';
	}
}

/* A secret file: no one but its owner may read or write it. */
static void
check_secret(const char *option, const char *path, const char *mode_fix)
{
	char		 what[PATH_MAX + 128], fix[PATH_MAX + 64];
	struct stat	 st;

	/* Missing or not a file: the key process or the APOP check says so. */
	if (path[0] == '\0' || stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return;
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(what, sizeof(what), "%s %s: readable or writable by "
		    "group or others (mode %04o)", option, path,
		    (unsigned)(st.st_mode & 07777));
		snprintf(fix, sizeof(fix), "chmod %s %s", mode_fix, path);
		problem(what, fix);
	}
}

/* A file the daemon trusts must not belong to one of its own users. */
static void
check_not_owned(const char *option, const char *path,
    const struct owner *o, size_t no)
{
	char		 what[PATH_MAX + 192], fix[PATH_MAX + 32];
	struct stat	 st;
	size_t		 i;

	if (path[0] != '/' || stat(path, &st) == -1)
		return;
	for (i = 0; i < no; i++) {
		if (!o[i].known || st.st_uid != o[i].uid)
			continue;
		snprintf(what, sizeof(what), "%s %s is owned by %s (%s), an "
		    "unprivileged user of popsepd's own", option, path,
		    o[i].name, o[i].option);
		snprintf(fix, sizeof(fix), "chown root %s", path);
		problem(what, fix);
	}
}

static void
find_owner(struct owner *o, const char *option, const char *name)
{
	struct priv_user	u;

	o->option = option;
	o->name = name;
	o->known = name[0] != '\0' && priv_lookup(name, &u) == 0 &&
	    u.uid != 0;
	o->uid = o->known ? u.uid : 0;
}

void
selfcheck(const struct config *cf, const char *conf_file)
{
	struct owner	 own[2];
	char		 exe[PATH_MAX];
	const char	*key;
	ssize_t		 n;
	size_t		 i;

	problems = 0;
	find_owner(&own[0], "privsep-user", cf->privsep_user);
	find_owner(&own[1], "key-user", cf->key_user);
	check_chroot_path(cf->chroot_dir);
	for (i = 0; i < cf->ncerts; i++) {
		key = cf->key_file[i][0] != '\0' ? cf->key_file[i] :
		    cf->cert_file[i];
		check_secret("tls-private-key-file", key, "600");
		check_not_owned("tls-private-key-file", key, own, 2);
		check_not_owned("tls-server-cert-file", cf->cert_file[i], own,
		    2);
	}
	if (cf->apop)
		check_secret("popauth-db", cf->popauth_db, "600");
	if (conf_file != NULL)
		check_not_owned("the configuration file", conf_file, own, 2);
	check_not_owned("passwd-file", cf->passwd_file, own, 2);
	check_not_owned("auth-file", cf->auth_file, own, 2);
	check_not_owned("nonauth-file", cf->nonauth_file, own, 2);
	check_not_owned("cache-dir", cf->cache_dir, own, 2);
	check_not_owned("spool-dir", cf->spool_dir, own, 2);
	check_not_owned("bulldir", cf->bulldir, own, 2);
	check_not_owned("popauth-db", cf->popauth_db, own, 2);
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		check_not_owned("the program", exe, own, 2);
	}
	if (problems > 0)
		fatalx("self-check: %d problem%s above; popsepd does not start",
		    problems, problems == 1 ? "" : "s");
}
