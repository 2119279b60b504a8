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
 * The APOP secret database.  The reader runs as popauth-user in a child
 * of the session monitor and in popauth(8); the writers only in
 * popauth(8), as popauth-user.  The file is not trusted: a record with a
 * wrong format byte, length or byte is an error, never a match, and the
 * reader asks GDBM for its extra consistency checks.  Secrets are wiped
 * from every buffer that held one, GDBM's own included, before it is
 * freed.
 *
 * Crash safety does not rest on GDBM's updates in place: the published
 * file is only ever read.  A writer takes "<db>.lock", copies every record
 * into a new file beside it with the change applied, syncs it, renames it
 * over "<db>" and syncs the directory; so a crash at any instant leaves
 * the old or the new database whole, and a reader needs no lock.
 */

#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gdbm.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dlib.h"
#include "log.h"
#include "names.h"
#include "params.h"
#include "popauth_db.h"

enum db_change {
	CHANGE_CREATE,
	CHANGE_SET,
	CHANGE_DELETE,
};

struct db_paths {
	char	dir[PATH_MAX];
	char	base[NAME_MAX + 1];
	char	lock[PATH_MAX];
	char	tmp[PATH_MAX];
};

/* What is done with each record of a file: see visit(). */
struct visit {
	const char	*user;	/* skipped, unchecked; NULL: none */
	size_t		 ulen;
	int		 found;	/* user was seen */
	GDBM_FILE	 new;	/* copy into it, or NULL */
	int		(*fn)(const char *, void *);	/* or call it */
	void		*arg;
};

/* GDBM's functions, once popauth_db_load() found them. */
static struct {
	__typeof__(gdbm_check_syserr)	*check_syserr;
	__typeof__(gdbm_close)	*close;
	__typeof__(gdbm_db_strerror)	*db_strerror;
	__typeof__(gdbm_errno_location)	*errno_location;
	__typeof__(gdbm_fd_open)	*fd_open;
	__typeof__(gdbm_fdesc)	*fdesc;
	__typeof__(gdbm_fetch)	*fetch;
	__typeof__(gdbm_firstkey)	*firstkey;
	__typeof__(gdbm_last_errno)	*last_errno;
	__typeof__(gdbm_nextkey)	*nextkey;
	__typeof__(gdbm_store)	*store;
	__typeof__(gdbm_strerror)	*strerror;
	__typeof__(gdbm_sync)	*sync;
} gd;

static gdbm_error db_errno(void);
static const char *open_error(void);
static void	datum_wipe(datum *);
static int	value_valid(const datum *);
static int	is_key(const datum *, const char *, size_t);
static GDBM_FILE db_open_read(const char *, int *);
static int	fetch_secret(GDBM_FILE, const char *, const char *, char *,
		    size_t);
static int	paths_make(const char *, struct db_paths *);
static int	lock_take(const char *);
static void	stale_remove(const struct db_paths *);
static GDBM_FILE new_open(struct db_paths *);
static int	record_read(GDBM_FILE, const char *, const datum *, char *,
		    datum *);
static int	visit_one(GDBM_FILE, const char *, datum *, struct visit *);
static int	visit(GDBM_FILE, const char *, struct visit *);
static int	store_secret(GDBM_FILE, const char *, const char *,
		    const char *);
static int	publish(GDBM_FILE, const struct db_paths *, const char *);
static int	rewrite(const char *, enum db_change, const char *,
		    const char *);
static int	rewrite_locked(const char *, struct db_paths *,
		    enum db_change, const char *, const char *);

/*
 * GDBM, loaded before the first database is opened: by the APOP reader
 * before it enters the database's directory as its root, by popauth(8)
 * when it first opens one.  0, or -1 (logged).
 */
int
popauth_db_load(void)
{
	static const struct dlib_sym	syms[] = {
		{ "gdbm_check_syserr", (void **)&gd.check_syserr },
		{ "gdbm_close", (void **)&gd.close },
		{ "gdbm_db_strerror", (void **)&gd.db_strerror },
		{ "gdbm_errno_location", (void **)&gd.errno_location },
		{ "gdbm_fd_open", (void **)&gd.fd_open },
		{ "gdbm_fdesc", (void **)&gd.fdesc },
		{ "gdbm_fetch", (void **)&gd.fetch },
		{ "gdbm_firstkey", (void **)&gd.firstkey },
		{ "gdbm_last_errno", (void **)&gd.last_errno },
		{ "gdbm_nextkey", (void **)&gd.nextkey },
		{ "gdbm_store", (void **)&gd.store },
		{ "gdbm_strerror", (void **)&gd.strerror },
		{ "gdbm_sync", (void **)&gd.sync },
	};

	if (gd.sync != NULL)
		return 0;
	return dlib_load(DLIB_GDBM, syms, sizeof(syms) / sizeof(syms[0]));
}

int
popauth_name_valid(const char *s, size_t len)
{
	return user_name_ok(s, len);
}

int
popauth_secret_valid(const char *s, size_t len)
{
	size_t	i;

	if (len < POPAUTH_SECRET_MIN || len > POPAUTH_SECRET_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] >= 0x7f)
			return 0;
	return 1;
}

/* GDBM's error of the calling thread (its gdbm_errno). */
static gdbm_error
db_errno(void)
{
	return *gd.errno_location();
}

/* gdbm_open's failure: GDBM's reason, and the system's when it has one. */
static const char *
open_error(void)
{
	static char	buf[256];
	int		saved = errno;
	gdbm_error	e = db_errno();

	if (gd.check_syserr(e))
		snprintf(buf, sizeof(buf), "%s: %s", gd.strerror(e),
		    strerror(saved));
	else
		snprintf(buf, sizeof(buf), "%s", gd.strerror(e));
	return buf;
}

/* GDBM hands out malloc'd copies of keys and values: wipe, then free. */
static void
datum_wipe(datum *d)
{
	if (d->dptr != NULL) {
		if (d->dsize > 0)
			explicit_bzero(d->dptr, (size_t)d->dsize);
		free(d->dptr);
	}
	d->dptr = NULL;
	d->dsize = 0;
}

static int
value_valid(const datum *v)
{
	if (v->dptr == NULL || v->dsize < 1 + POPAUTH_SECRET_MIN ||
	    v->dsize > 1 + POPAUTH_SECRET_MAX)
		return 0;
	if ((unsigned char)v->dptr[0] != POPAUTH_FORMAT)
		return 0;
	return popauth_secret_valid(v->dptr + 1, (size_t)v->dsize - 1);
}

static int
is_key(const datum *k, const char *user, size_t ulen)
{
	return k->dptr != NULL && (size_t)k->dsize == ulen &&
	    memcmp(k->dptr, user, ulen) == 0;
}

/*
 * The published file, read-only, without GDBM's locks (it never changes
 * in place) and without mmap.  A missing file sets *missing_r; a symbolic
 * link or anything but a regular file is refused.
 */
static GDBM_FILE
db_open_read(const char *path, int *missing_r)
{
	GDBM_FILE	 dbf;
	struct stat	 st;
	int		 fd;

	*missing_r = 0;
	if (popauth_db_load() == -1)
		return NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT) {
			*missing_r = 1;
			return NULL;
		}
		if (errno == ELOOP)
			log_warnx("%s: is a symbolic link", path);
		else
			log_warn("%s", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s", path);
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	dbf = gd.fd_open(fd, path, 0, GDBM_READER | GDBM_NOLOCK |
	    GDBM_NOMMAP | GDBM_XVERIFY | GDBM_CLOERROR, NULL);
	if (dbf == NULL)
		log_warnx("%s: cannot read the GDBM database: %s", path,
		    open_error());
	return dbf;
}

static int
fetch_secret(GDBM_FILE dbf, const char *path, const char *user,
    char *secret, size_t size)
{
	datum	key, val;
	size_t	len;

	key.dptr = (char *)user;
	key.dsize = (int)strlen(user);
	val = gd.fetch(dbf, key);
	if (val.dptr == NULL) {
		if (gd.last_errno(dbf) == GDBM_ITEM_NOT_FOUND)
			return 1;
		log_warnx("%s: reading the record of \"%s\": %s", path, user,
		    gd.db_strerror(dbf));
		return -1;
	}
	if (!value_valid(&val)) {
		log_warnx("%s: the record of \"%s\" is malformed", path, user);
		datum_wipe(&val);
		return -1;
	}
	len = (size_t)val.dsize - 1;
	if (len >= size) {
		datum_wipe(&val);
		bug("%s: secret buffer of %zu bytes", __func__, size);
	}
	memcpy(secret, val.dptr + 1, len);
	secret[len] = '\0';
	datum_wipe(&val);
	return 0;
}

int
popauth_db_get(const char *path, const char *user, char *secret, size_t size)
{
	GDBM_FILE	dbf;
	int		missing, rv;

	if (size < POPAUTH_SECRET_MAX + 1) {
		log_warnx("%s: secret buffer of %zu bytes", __func__, size);
		return -1;
	}
	explicit_bzero(secret, size);
	/* No record can hold such a name. */
	if (!popauth_name_valid(user, strlen(user)))
		return 1;
	if ((dbf = db_open_read(path, &missing)) == NULL)
		return missing ? 1 : -1;
	rv = fetch_secret(dbf, path, user, secret, size);
	if (gd.close(dbf) != 0 && rv != -1) {
		log_warnx("%s: closing: %s", path, gd.strerror(db_errno()));
		explicit_bzero(secret, size);
		rv = -1;
	}
	return rv;
}

/*
 * A record, checked: its name into name (POP_USER_MAX + 1 bytes), its
 * value into *val_r, which the caller wipes.
 */
static int
record_read(GDBM_FILE dbf, const char *path, const datum *key, char *name,
    datum *val_r)
{
	if (!popauth_name_valid(key->dptr, (size_t)key->dsize)) {
		log_warnx("%s: a record with an invalid user name", path);
		return -1;
	}
	memcpy(name, key->dptr, (size_t)key->dsize);
	name[key->dsize] = '\0';
	*val_r = gd.fetch(dbf, *key);
	if (!value_valid(val_r)) {
		log_warnx("%s: the record of \"%s\" is malformed (popauth "
		    "-delete %s removes it)", path, name, name);
		datum_wipe(val_r);
		return -1;
	}
	return 0;
}

/*
 * One record: the one being replaced or deleted is skipped without a
 * check, so that a malformed one can be removed; any other is checked,
 * then copied or reported.
 */
static int
visit_one(GDBM_FILE dbf, const char *path, datum *key, struct visit *v)
{
	char	name[POP_USER_MAX + 1];
	datum	val;
	int	rv = 0;

	if (v->user != NULL && is_key(key, v->user, v->ulen)) {
		v->found = 1;
		return 0;
	}
	if (record_read(dbf, path, key, name, &val) == -1)
		return -1;
	if (v->new != NULL && gd.store(v->new, *key, val, GDBM_INSERT) != 0) {
		log_warnx("%s: storing \"%s\": %s", path, name,
		    gd.db_strerror(v->new));
		rv = -1;
	}
	datum_wipe(&val);
	if (rv == 0 && v->fn != NULL)
		rv = v->fn(name, v->arg);
	return rv;
}

/* Every record of dbf, at most POPAUTH_USERS_MAX, until one fails. */
static int
visit(GDBM_FILE dbf, const char *path, struct visit *v)
{
	datum	key, next;
	size_t	n = 0;
	int	rv = 0;

	for (key = gd.firstkey(dbf); key.dptr != NULL && rv == 0;
	    key = next) {
		if (++n > POPAUTH_USERS_MAX) {
			log_warnx("%s: more than %d records", path,
			    POPAUTH_USERS_MAX);
			rv = -1;
		} else
			rv = visit_one(dbf, path, &key, v);
		next = rv == 0 ? gd.nextkey(dbf, key) : (datum){ NULL, 0 };
		datum_wipe(&key);
	}
	datum_wipe(&key);
	if (rv == 0 && gd.last_errno(dbf) != GDBM_ITEM_NOT_FOUND) {
		log_warnx("%s: %s", path, gd.db_strerror(dbf));
		rv = -1;
	}
	return rv;
}

int
popauth_db_list(const char *path, int (*fn)(const char *, void *), void *arg)
{
	struct visit	 v = { NULL, 0, 0, NULL, fn, arg };
	GDBM_FILE	 dbf;
	int		 missing, rv;

	if ((dbf = db_open_read(path, &missing)) == NULL) {
		if (missing)
			log_warnx("%s: no database (popauth -init creates it)",
			    path);
		return -1;
	}
	rv = visit(dbf, path, &v);
	gd.close(dbf);
	return rv;
}

/* "<dir>/<base>", "<db>.lock" and "<db>.new.<pid>". */
static int
paths_make(const char *path, struct db_paths *p)
{
	const char	*slash = strrchr(path, '/');
	size_t		 dlen;

	if (path[0] != '/' || slash == NULL || slash[1] == '\0') {
		log_warnx("%s: popauth-db must be an absolute file name", path);
		return -1;
	}
	dlen = slash == path ? 1 : (size_t)(slash - path);
	if (dlen >= sizeof(p->dir) ||
	    strlcpy(p->base, slash + 1, sizeof(p->base)) >= sizeof(p->base) ||
	    (size_t)snprintf(p->lock, sizeof(p->lock), "%s.lock", path) >=
	    sizeof(p->lock) ||
	    (size_t)snprintf(p->tmp, sizeof(p->tmp), "%s.new.%ld", path,
	    (long)getpid()) >= sizeof(p->tmp)) {
		log_warnx("%s: file name too long", path);
		return -1;
	}
	memcpy(p->dir, path, dlen);
	p->dir[dlen] = '\0';
	return 0;
}

/* The writers' lock, waited for at most POPAUTH_LOCK_SECS. */
static int
lock_take(const char *lock)
{
	struct timespec	 start, now, nap = { 0, 20 * 1000 * 1000 };
	int		 fd;

	fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("%s", lock);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			log_warn("%s: flock", lock);
			close(fd);
			return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= POPAUTH_LOCK_SECS) {
			log_warnx("%s: another writer has held the lock for "
			    "%d seconds; giving up", lock, POPAUTH_LOCK_SECS);
			close(fd);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	return fd;
}

/* Files of writers that died before their rename; we hold the lock. */
static void
stale_remove(const struct db_paths *p)
{
	char		 prefix[NAME_MAX + 8];
	DIR		*d;
	struct dirent	*de;
	size_t		 plen;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s.new.", p->base);
	if (plen >= sizeof(prefix))
		return;
	if ((d = opendir(p->dir)) == NULL) {
		log_warn("%s", p->dir);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, plen) == 0 &&
		    unlinkat(dirfd(d), de->d_name, 0) == -1 && errno != ENOENT)
			log_warn("%s/%s", p->dir, de->d_name);
	closedir(d);
}

/* GDBM is loaded: rewrite_locked() opened the old database first. */
static GDBM_FILE
new_open(struct db_paths *p)
{
	GDBM_FILE	dbf;
	int		fd;

	fd = open(p->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		log_warn("%s", p->tmp);
		return NULL;
	}
	dbf = gd.fd_open(fd, p->tmp, 0, GDBM_NEWDB | GDBM_NOLOCK |
	    GDBM_NOMMAP | GDBM_CLOERROR, NULL);
	if (dbf == NULL) {
		log_warnx("%s: cannot create a GDBM database: %s", p->tmp,
		    open_error());
		unlink(p->tmp);
	}
	return dbf;
}

static int
store_secret(GDBM_FILE new, const char *tmp, const char *user,
    const char *secret)
{
	char	buf[1 + POPAUTH_SECRET_MAX];
	datum	key, val;
	size_t	slen = strlen(secret);
	int	rv = 0;

	if (slen > POPAUTH_SECRET_MAX)
		bug("%s: secret of %zu bytes", __func__, slen);
	buf[0] = POPAUTH_FORMAT;
	memcpy(buf + 1, secret, slen);
	key.dptr = (char *)user;
	key.dsize = (int)strlen(user);
	val.dptr = buf;
	val.dsize = (int)(1 + slen);
	if (gd.store(new, key, val, GDBM_REPLACE) != 0) {
		log_warnx("%s: storing \"%s\": %s", tmp, user,
		    gd.db_strerror(new));
		rv = -1;
	}
	explicit_bzero(buf, sizeof(buf));
	return rv;
}

/* Sync and close the new file, rename it over the old, sync the folder. */
static int
publish(GDBM_FILE new, const struct db_paths *p, const char *path)
{
	int	dfd, rv = 0;

	if (gd.sync(new) != 0) {
		log_warnx("%s: %s", p->tmp, gd.db_strerror(new));
		rv = -1;
	} else if (fsync(gd.fdesc(new)) == -1) {
		log_warn("%s: fsync", p->tmp);
		rv = -1;
	}
	if (gd.close(new) != 0 && rv == 0) {
		log_warnx("%s: closing: %s", p->tmp, gd.strerror(db_errno()));
		rv = -1;
	}
	if (rv == -1)
		return -1;
	if (rename(p->tmp, path) == -1) {
		log_warn("rename %s to %s", p->tmp, path);
		return -1;
	}
	/* The rename is durable only once the folder is synced. */
	if ((dfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1) {
		log_warn("%s: fsync", p->dir);
		rv = -1;
	}
	if (dfd != -1)
		close(dfd);
	return rv;
}

static int
rewrite_locked(const char *path, struct db_paths *p, enum db_change change,
    const char *user, const char *secret)
{
	struct visit	v = { user, 0, 0, NULL, NULL, NULL };
	GDBM_FILE	old = NULL, new = NULL;
	int		missing;

	if (user != NULL)
		v.ulen = strlen(user);
	stale_remove(p);
	if ((old = db_open_read(path, &missing)) == NULL && !missing)
		return -1;
	if (change == CHANGE_CREATE && old != NULL) {
		gd.close(old);
		return 1;
	}
	if (change != CHANGE_CREATE && old == NULL) {
		log_warnx("%s: no database (popauth -init creates it)", path);
		return -1;
	}
	if ((new = new_open(p)) == NULL)
		goto fail;
	v.new = new;
	if (old != NULL && visit(old, path, &v) == -1)
		goto fail;
	if (change == CHANGE_DELETE && !v.found) {
		gd.close(old);
		gd.close(new);
		unlink(p->tmp);
		return 1;
	}
	if (change == CHANGE_SET &&
	    store_secret(new, p->tmp, user, secret) == -1)
		goto fail;
	if (old != NULL)
		gd.close(old);
	old = NULL;
	if (publish(new, p, path) == -1) {
		unlink(p->tmp);
		return -1;
	}
	return 0;
 fail:
	if (old != NULL)
		gd.close(old);
	if (new != NULL) {
		gd.close(new);
		unlink(p->tmp);
	}
	return -1;
}

static int
rewrite(const char *path, enum db_change change, const char *user,
    const char *secret)
{
	struct db_paths	p;
	int		lfd, rv;

	if (user != NULL && !popauth_name_valid(user, strlen(user))) {
		log_warnx("invalid user name");
		return -1;
	}
	if (secret != NULL && !popauth_secret_valid(secret, strlen(secret))) {
		log_warnx("invalid secret");
		return -1;
	}
	if (paths_make(path, &p) == -1 || (lfd = lock_take(p.lock)) == -1)
		return -1;
	rv = rewrite_locked(path, &p, change, user, secret);
	close(lfd);
	return rv;
}

int
popauth_db_create(const char *path)
{
	return rewrite(path, CHANGE_CREATE, NULL, NULL);
}

int
popauth_db_set(const char *path, const char *user, const char *secret)
{
	return rewrite(path, CHANGE_SET, user, secret);
}

int
popauth_db_delete(const char *path, const char *user)
{
	return rewrite(path, CHANGE_DELETE, user, NULL);
}
