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
 * APOP (RFC 1939 7) for the session monitor (root).  The monitor makes the
 * greeting's timestamp before it forks the network child, so the child
 * cannot choose the challenge it will be asked to answer.  The digest is
 * checked in a child of the monitor that chroots into the popauth
 * database's directory and becomes popauth-user before it opens the
 * database (which that user owns and may have been made to corrupt), and
 * that exits once it has answered: the secret never enters the monitor.
 * The digest, from the network child, is hostile; it is compared in
 * constant time.
 */

#include <sys/random.h>

#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth.h"
#include "log.h"
#include "popauth_db.h"
#include "priv.h"

/*
 * "<pid.clock.random@hostname>": unique per connection, since the random
 * part is 64 bits from the kernel.  Returns -1 if it does not fit.
 */
int
apop_make_stamp(const char *hostname, char *buf, size_t len)
{
	unsigned long long	r;
	int			n;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	n = snprintf(buf, len, "<%ld.%lld.%016llx@%s>", (long)getpid(),
	    (long long)time(NULL), r, hostname);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void
hex(const unsigned char *md, size_t n, char *out)
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* MD5(stamp secret) in lower-case hex; 0, or -1. */
static int
apop_digest(const char *stamp, const char *secret, char *out)
{
	EVP_MD_CTX	*ctx;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, stamp, strlen(stamp)) == 1 &&
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 16;
	EVP_MD_CTX_free(ctx);
	if (ok)
		hex(md, 16, out);
	explicit_bzero(md, sizeof(md));
	return ok ? 0 : -1;
}

struct apop_args {
	const struct config	*cf;
	const char		*user, *stamp, *digest;
};

/* In the child: 0 if the digest is right, 1 if not. */
static int
apop_in_child(void *arg, struct auth_result *unused)
{
	struct apop_args	*a = arg;
	struct priv_user	 u;
	char			 dir[CFG_PATH_MAX], base[CFG_PATH_MAX];
	char			 path[CFG_PATH_MAX + 1];
	char			 secret[POPAUTH_SECRET_MAX + 1];
	char			 want[APOP_DIGEST_LEN + 1];
	int			 rc, ok = 0;

	(void)unused;
	if (strlcpy(dir, a->cf->popauth_db, sizeof(dir)) >= sizeof(dir) ||
	    strlcpy(base, a->cf->popauth_db, sizeof(base)) >= sizeof(base))
		return 1;
	snprintf(path, sizeof(path), "/%s", basename(base));
	if (priv_lookup(a->cf->popauth_user, &u) == -1) {
		log_warnx("popauth-user \"%s\" does not exist",
		    a->cf->popauth_user);
		return 1;
	}
	/* The library is loaded while its files can still be found. */
	if (popauth_db_load() == -1)
		return 1;
	priv_drop(dirname(dir), &u);
	rc = popauth_db_get(path, a->user, secret, sizeof(secret));
	if (rc == 0 && apop_digest(a->stamp, secret, want) == 0)
		ok = CRYPTO_memcmp(want, a->digest, APOP_DIGEST_LEN) == 0;
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(want, sizeof(want));
	if (rc == 1)
		log_debug("no APOP secret for \"%s\"", a->user);
	return ok ? 0 : 1;
}

/*
 * An enum auth_status.  The digest must be 32 lower-case hex digits (the
 * network child folds case); the account is then found as for a password.
 */
int
auth_apop(const struct config *cf, const char *user, const char *stamp,
    const char *digest, const char *rhost, struct auth_result *res)
{
	struct apop_args	a = { cf, user, stamp, digest };
	size_t			i;
	int			rc;

	memset(res, 0, sizeof(*res));
	if (!cf->apop || strlen(digest) != APOP_DIGEST_LEN)
		return AUTH_FAIL;
	for (i = 0; i < APOP_DIGEST_LEN; i++)
		if (strchr("0123456789abcdef", digest[i]) == NULL)
			return AUTH_FAIL;
	if (!auth_allowed(cf, user))
		return AUTH_FAIL;
	if (auth_child(apop_in_child, &a, NULL) != 0)
		return AUTH_FAIL;
	if ((rc = auth_lookup(cf, user, rhost, res)) == AUTH_OK)
		strlcpy(res->how, "apop", sizeof(res->how));
	return rc;
}
