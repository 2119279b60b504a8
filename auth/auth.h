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
 * Authentication, run by the session monitor (root) on a user name and
 * credentials that came from the network child: all hostile input.  A
 * passwd-file (virtual users with crypt(3) hashes, each mapped to a system
 * uid, gid and mailbox) is consulted first; names it does not hold go to
 * PAM.  APOP digests are checked against the popauth database.  Every
 * check that reads a secret (a hash, a PAM module's state, an APOP secret)
 * runs in a child of the monitor that exits at once (auth_child), so no
 * secret but the client's own is ever in memory that the spool worker,
 * forked from the monitor next, inherits.  The caller gives every failure
 * the same answer after the same delay, so the result says nothing about
 * which step failed.
 */

#ifndef POPSEP_AUTH_H
#define POPSEP_AUTH_H

#include <sys/types.h>

#include <stdint.h>

#include "config.h"
#include "params.h"

struct auth_result {
	uid_t	uid;
	gid_t	gid;
	char	mailbox[CFG_PATH_MAX];
	char	how[16];	/* "pam", "passwd-file", "apop", "gssapi" */
};

/*
 * The outcome of a login.  AUTH_EXPIRED and AUTH_DISABLED are only ever
 * returned once the credentials were proven right: telling them apart
 * from AUTH_FAIL reveals nothing to someone without the password.
 */
enum auth_status {
	AUTH_OK = 0,
	AUTH_FAIL,		/* unknown user, wrong secret, refused name */
	AUTH_EXPIRED,		/* the password must be changed first */
	AUTH_DISABLED,		/* account locked or expired */
};

int	auth_canon_name(const struct config *, const char *, char *, size_t);
int	auth_password(const struct config *, const char *, const char *,
	    const char *, struct auth_result *);
int	auth_lookup(const struct config *, const char *, const char *,
	    struct auth_result *);
int	auth_child(int (*)(void *, struct auth_result *), void *,
	    struct auth_result *);
void	auth_set_child_init(void (*)(void));

/* auth/pam.c: PAM_SUCCESS-like codes folded into enum auth_status. */
int	auth_pam(const char *, const char *, const char *, const char *);

/* auth/passwd_file.c */
enum pwfile_result {
	PWFILE_OK,
	PWFILE_BAD_PASSWORD,
	PWFILE_NO_USER,
	PWFILE_ERROR,
};
int	pwfile_check(const char *, const char *, const char *,
	    struct auth_result *);

/* auth/policy.c */
int	auth_listed(const char *, const char *);
int	auth_allowed(const struct config *, const char *);

/* auth/apop.c */
int	auth_apop(const struct config *, const char *, const char *,
	    const char *, const char *, struct auth_result *);
int	apop_make_stamp(const char *, char *, size_t);

/* auth/gssapi.c: the GSSAPI acceptor's side, then the monitor's. */
enum gss_step {
	GSS_STEP_CONTINUE,	/* send the token, wait for the client's */
	GSS_STEP_DONE,		/* authenticated: the local user name */
	GSS_STEP_FAIL,
};
struct auth_gss;
struct auth_gss *auth_gss_new(const struct config *);
int	auth_gss_step(struct auth_gss *, const uint8_t *, size_t, uint8_t *,
	    size_t, size_t *, char *, size_t);
void	auth_gss_free(struct auth_gss *);
int	auth_gss_account(const struct config *, const char *, const char *,
	    struct auth_result *);

#endif /* POPSEP_AUTH_H */
