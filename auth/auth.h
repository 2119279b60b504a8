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
 * password that came from the network child: both are hostile input.  A
 * passwd-file (virtual users with crypt(3) hashes, each mapped to a system
 * uid, gid and mailbox) is consulted first; names it does not hold go to
 * PAM.  The caller gives every failure the same answer after the same
 * delay, so the result says nothing about which step failed.
 */

#ifndef POPSEP_AUTH_H
#define POPSEP_AUTH_H

#include <sys/types.h>

#include "config.h"

struct auth_result {
	uid_t	uid;
	gid_t	gid;
	char	mailbox[CFG_PATH_MAX];
	char	how[16];		/* "pam" or "passwd-file", for logs */
};

int	auth_password(const struct config *, const char *, const char *,
	    const char *, struct auth_result *);

/* auth/pam.c */
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

#endif /* POPSEP_AUTH_H */
