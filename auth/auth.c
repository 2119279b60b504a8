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
 * Runs in the session monitor, as root.  Decides which mechanism checks a
 * password and maps a successful login to the uid, gid and mailbox the
 * spool worker will run with.  Refuses uid 0: no mailbox is served with
 * root's rights.
 */

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "log.h"

int
auth_password(const struct config *cf, const char *user, const char *pass,
    const char *rhost, struct auth_result *res)
{
	struct passwd	*pw;
	int		 rc;

	memset(res, 0, sizeof(*res));
	if (cf->passwd_file[0] != '\0') {
		rc = pwfile_check(cf->passwd_file, user, pass, res);
		if (rc == PWFILE_OK) {
			strlcpy(res->how, "passwd-file", sizeof(res->how));
			goto mapped;
		}
		if (rc != PWFILE_NO_USER)
			return -1;
	}
	if (auth_pam(cf->pam_service, user, pass, rhost) == -1)
		return -1;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		log_warnx("PAM accepted \"%s\", but there is no such system "
		    "user for the mailbox", user);
		return -1;
	}
	res->uid = pw->pw_uid;
	res->gid = pw->pw_gid;
	/* Qpopper's home-dir-mail: the mailbox is a file in $HOME. */
	if (cf->home_dir_mail[0] != '\0') {
		if ((size_t)snprintf(res->mailbox, sizeof(res->mailbox),
		    "%s/%s", pw->pw_dir, cf->home_dir_mail) >=
		    sizeof(res->mailbox))
			return -1;
	} else if ((size_t)snprintf(res->mailbox, sizeof(res->mailbox),
	    "%s/%s", cf->spool_dir, pw->pw_name) >= sizeof(res->mailbox))
		return -1;
	strlcpy(res->how, "pam", sizeof(res->how));
 mapped:
	if (res->uid == 0 || res->gid == 0) {
		log_warnx("refusing a POP3 login as uid or gid 0 (\"%s\")",
		    user);
		return -1;
	}
	return 0;
}
