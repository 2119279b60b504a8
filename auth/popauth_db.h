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
 * The APOP secret database (popauth-db), a GDBM file owned by
 * popauth-user.  The reader runs in a child of the session monitor that
 * has dropped to popauth-user, and in popauth(8); the writers run only in
 * popauth(8), after it has dropped to popauth-user.  Neither trusts the
 * file: every record is checked before it is used.
 *
 * Key: the user name, no NUL.  Value: POPAUTH_FORMAT, then the secret, no
 * NUL.  The published file is never changed in place: a writer holds an
 * flock(2) on "<db>.lock", writes "<db>.new.<pid>" whole, syncs it and
 * renames it over "<db>" (see man/popauth.8, DATABASE FORMAT).
 */

#ifndef POPSEP_POPAUTH_DB_H
#define POPSEP_POPAUTH_DB_H

#include <stddef.h>

#define POPAUTH_SECRET_MIN	8	/* bytes of a secret */
#define POPAUTH_SECRET_MAX	128
#define POPAUTH_FORMAT		0x01	/* first byte of every value */
#define POPAUTH_LOCK_SECS	30	/* a writer waits for the lock */
#define POPAUTH_USERS_MAX	1000000	/* records a writer copies at most */

/* Load GDBM (lib/dlib.c): 0, or -1 (logged).  Before any chroot. */
int	popauth_db_load(void);

/*
 * 0: found, *secret filled and NUL-terminated; 1: no such user (or no
 * database file); -1: error, logged with log_warnx.  secret has at least
 * POPAUTH_SECRET_MAX + 1 bytes.
 */
int	popauth_db_get(const char *path, const char *user, char *secret,
	    size_t size);

/* 1 if the name or secret may be stored, else 0. */
int	popauth_name_valid(const char *, size_t);
int	popauth_secret_valid(const char *, size_t);

/* Writers: 0 done, -1 error (logged).  create: 1 if the file exists. */
int	popauth_db_create(const char *);
int	popauth_db_set(const char *, const char *, const char *);
/* 0 deleted, 1 no such user, -1 error. */
int	popauth_db_delete(const char *, const char *);
/* Calls fn for every name; fn returns -1 to stop with an error. */
int	popauth_db_list(const char *, int (*)(const char *, void *), void *);

#endif /* POPSEP_POPAUTH_DB_H */
