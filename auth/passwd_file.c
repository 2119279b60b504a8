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
 * Virtual users for the session monitor (root).  The file is the
 * administrator's, one user per line:
 *
 *	name:crypt-hash:uid:gid:mailbox
 *
 * uid and gid are numbers or system user/group names; mailbox is an
 * absolute path.  "#" starts a comment line.  A malformed line is logged
 * with its number and skipped; it never matches.  Hashes are checked with
 * crypt_r(3) (any method libcrypt knows: yescrypt, SHA-512, bcrypt, ...)
 * and compared in constant time.  The monitor reads the file only in a
 * child that exits after one lookup (auth_child), so the other users'
 * hashes, which pass through stdio's buffers, never stay in its memory.
 */

#include <crypt.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "log.h"

static int	read_line(FILE *, char *, size_t);
static int	parse_id(const char *, int, unsigned int *);
static int	parse_line(char *, char **, struct auth_result *, const char *,
		    int);

static int
parse_id(const char *s, int is_group, unsigned int *id_r)
{
	struct passwd	*pw;
	struct group	*gr;
	const char	*e;
	long long	 n;

	n = strtonum(s, 0, 0x7fffffff, &e);
	if (e == NULL) {
		*id_r = (unsigned int)n;
		return 0;
	}
	if (is_group) {
		if ((gr = getgrnam(s)) == NULL)
			return -1;
		*id_r = gr->gr_gid;
	} else {
		if ((pw = getpwnam(s)) == NULL)
			return -1;
		*id_r = pw->pw_uid;
	}
	return 0;
}

/*
 * One line of the file into buf, without its newline.  Returns 1, or 0
 * for a line that holds a NUL or more than size - 2 bytes (buf then has
 * what came before either, and the rest of the line is skipped, so that
 * it is never read as a line of its own), or -1 at the end of the file.
 */
static int
read_line(FILE *fp, char *buf, size_t size)
{
	size_t	n = 0;
	int	c, ok = 1;

	if ((c = getc(fp)) == EOF)
		return -1;
	for (; c != EOF && c != '\n'; c = getc(fp)) {
		if (c == '\0' || n + 2 >= size)
			ok = 0;
		if (ok)
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return ok;
}

/* Split "name:hash:uid:gid:mailbox"; fields point into line. */
static int
parse_line(char *line, char **hash_r, struct auth_result *res,
    const char *path, int lineno)
{
	char		*f[5], *p = line;
	unsigned int	 uid, gid;
	int		 i;

	for (i = 0; i < 5; i++) {
		f[i] = p;
		p = strchr(p, ':');
		if (i < 4) {
			if (p == NULL)
				goto bad;
			*p++ = '\0';
		} else if (p != NULL)
			goto bad;
	}
	if (f[1][0] == '\0' || f[4][0] != '/')
		goto bad;
	if (parse_id(f[2], 0, &uid) == -1 || parse_id(f[3], 1, &gid) == -1)
		goto bad;
	if (strlcpy(res->mailbox, f[4], sizeof(res->mailbox)) >=
	    sizeof(res->mailbox))
		goto bad;
	res->uid = uid;
	res->gid = gid;
	*hash_r = f[1];
	return 0;
 bad:
	log_warnx("%s:%d: malformed passwd-file line, skipped", path, lineno);
	return -1;
}

int
pwfile_check(const char *path, const char *user, const char *pass,
    struct auth_result *res)
{
	FILE			*fp;
	char			 buf[CFG_PATH_MAX + 512], *hash = NULL;
	struct crypt_data	*cd;
	const char		*out;
	size_t			 ulen = strlen(user), hlen;
	int			 lineno = 0, rv = PWFILE_NO_USER, whole;

	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("passwd-file %s", path);
		return PWFILE_ERROR;
	}
	while ((whole = read_line(fp, buf, sizeof(buf))) != -1) {
		lineno++;
		if (buf[0] == '#' || buf[0] == '\0')
			continue;
		if (strncmp(buf, user, ulen) != 0 || buf[ulen] != ':')
			continue;
		if (!whole) {
			log_warnx("%s:%d: malformed passwd-file line, skipped",
			    path, lineno);
			rv = PWFILE_ERROR;
			break;
		}
		if (parse_line(buf, &hash, res, path, lineno) == -1) {
			rv = PWFILE_ERROR;
			break;
		}
		rv = PWFILE_BAD_PASSWORD;
		break;
	}
	fclose(fp);
	if (rv != PWFILE_BAD_PASSWORD)
		goto out;
	if (pass == NULL) {		/* a lookup: proven by APOP */
		rv = PWFILE_OK;
		goto out;
	}
	if ((cd = calloc(1, sizeof(*cd))) == NULL) {
		rv = PWFILE_ERROR;
		goto out;
	}
	out = crypt_r(pass, hash, cd);
	hlen = strlen(hash);
	/* crypt_r returns "*..." on a bad setting: never equal to a hash. */
	if (out != NULL && out[0] != '*' && strlen(out) == hlen &&
	    CRYPTO_memcmp(out, hash, hlen) == 0)
		rv = PWFILE_OK;
	freezero(cd, sizeof(*cd));
 out:
	explicit_bzero(buf, sizeof(buf));
	return rv;
}
