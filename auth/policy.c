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
 * Qpopper's account policies, in the session monitor (root), on a user
 * name from the network child (hostile): the name rule, downcase-user and
 * trim-domain, and the allow and deny lists (auth-file, nonauth-file).
 * The lists are the administrator's files: one user name per line, "#"
 * starts a comment line, blanks around a name are ignored.
 */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "names.h"

/*
 * The name the monitor uses from here on, or -1 for one it refuses: 1 to
 * POP_USER_MAX printable ASCII bytes, no "/" or ":" (the network child's
 * rule, applied again here because the child may lie), then trim-domain
 * ("user@domain" is "user") and downcase-user.
 */
int
auth_canon_name(const struct config *cf, const char *in, char *out,
    size_t outlen)
{
	size_t	i, len = strnlen(in, POP_USER_MAX + 1);

	if (!user_name_ok(in, len) || len >= outlen)
		return -1;
	memcpy(out, in, len);
	out[len] = '\0';
	if (cf->trim_domain && (len = strcspn(out, "@")) < strlen(out))
		out[len] = '\0';
	if (cf->downcase_user)
		for (i = 0; out[i] != '\0'; i++)
			out[i] = (char)tolower((unsigned char)out[i]);
	return out[0] == '\0' ? -1 : 0;
}

/* 1: user is in the list file, 0: not, -1: the file cannot be read. */
int
auth_listed(const char *path, const char *user)
{
	FILE	*fp;
	char	 buf[POP_USER_MAX + 64], *s;
	int	 found = 0, ch;

	if ((fp = fopen(path, "re")) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	while (!found && fgets(buf, sizeof(buf), fp) != NULL) {
		if (strchr(buf, '\n') == NULL && !feof(fp)) {
			/* Longer than any name: a comment, or no match. */
			while ((ch = getc(fp)) != EOF && ch != '\n')
				;
			continue;
		}
		s = cfg_trim(buf);
		if (*s != '#' && strcmp(s, user) == 0)
			found = 1;
	}
	if (ferror(fp)) {
		log_warn("%s", path);
		found = -1;
	}
	fclose(fp);
	return found;
}

/* auth-file and nonauth-file; a list that cannot be read refuses all. */
int
auth_allowed(const struct config *cf, const char *user)
{
	int	rc;

	if (cf->auth_file[0] != '\0') {
		if ((rc = auth_listed(cf->auth_file, user)) != 1) {
			if (rc == 0)
				log_info("\"%s\" is not in auth-file %s",
				    user, cf->auth_file);
			return 0;
		}
	}
	if (cf->nonauth_file[0] != '\0') {
		if ((rc = auth_listed(cf->nonauth_file, user)) != 0) {
			if (rc == 1)
				log_info("\"%s\" is in nonauth-file %s",
				    user, cf->nonauth_file);
			return 0;
		}
	}
	return 1;
}
