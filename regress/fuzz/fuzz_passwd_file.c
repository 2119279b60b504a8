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
 * libFuzzer target for the passwd-file parser, pwfile_check() of
 * auth/passwd_file.c.  The input is
 *
 *	byte 0		k - 1 in bits 0-1: the number of user names
 *	k lines		the user names, each ended by a newline
 *	the rest	the passwd-file
 *
 * The file is written to a memory file and read through its
 * /proc/self/fd name; each name is looked up with pass == NULL, the
 * lookup that APOP makes (no crypt(3): a hash in the input could ask
 * for any cost).  What the result must be is derived here from
 * popsepd.conf(5), PASSWORD FILE, not from the parser: the deciding line
 * is the first line, "#" comments and empty lines aside, that starts with
 * the name and ":"; without one the answer is PWFILE_NO_USER, with one it
 * is never that; PWFILE_OK needs that line to hold at most 1534 bytes, no
 * NUL, exactly five ":"-separated fields, a hash that is not empty and a
 * mailbox starting with "/", and the mailbox returned is NUL-terminated
 * and a byte-exact copy of the line's last field (and a numeric uid or
 * gid its value).  Runs in no process of the daemon.
 */

#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "params.h"
#include "fuzz.h"

#define NAMES_MAX	4
#define FILE_MAX	(64 * 1024)
#define LINE_MAX_BYTES	1534	/* popsepd.conf(5), PASSWORD FILE */

static int	 memfd = -1;
static char	 path[64];

/* The first line that decides for name, or NULL; its length in *len_r. */
static const uint8_t *
deciding_line(const uint8_t *f, size_t flen, const char *name, size_t *len_r)
{
	const uint8_t	*p = f, *end = f + flen, *nl;
	size_t		 n, ulen = strlen(name);

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > 0 && p[0] != '#' && n > ulen &&
		    memcmp(p, name, ulen) == 0 && p[ulen] == ':') {
			*len_r = n;
			return p;
		}
		p += n + 1;
	}
	return NULL;
}

static int
all_digits(const uint8_t *p, size_t n)
{
	size_t	i;

	if (n == 0 || n > 9)
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

static void
check_ok(const uint8_t *l, size_t n, const struct auth_result *res)
{
	const uint8_t	*field[5], *c;
	size_t		 flen[5], i, left = n;
	const uint8_t	*p = l;

	ASSERT(n <= LINE_MAX_BYTES);
	ASSERT(memchr(l, '\0', n) == NULL);
	for (i = 0; i < 5; i++) {
		c = memchr(p, ':', left);
		field[i] = p;
		if (i < 4) {
			ASSERT(c != NULL);
			flen[i] = (size_t)(c - p);
			left -= flen[i] + 1;
			p = c + 1;
		} else {
			ASSERT(c == NULL);
			flen[i] = left;
		}
	}
	ASSERT(flen[1] > 0);
	ASSERT(flen[4] > 0 && field[4][0] == '/');
	ASSERT(memchr(res->mailbox, '\0', sizeof(res->mailbox)) != NULL);
	ASSERT(strlen(res->mailbox) == flen[4]);
	ASSERT(memcmp(res->mailbox, field[4], flen[4]) == 0);
	if (all_digits(field[2], flen[2]))
		ASSERT(res->uid == (uid_t)strtoul((const char *)field[2],
		    NULL, 10));
	if (all_digits(field[3], flen[3]))
		ASSERT(res->gid == (gid_t)strtoul((const char *)field[3],
		    NULL, 10));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_result	 res;
	char			 names[NAMES_MAX][POP_USER_MAX + 1];
	const uint8_t		*p, *end, *nl, *line;
	size_t			 k, i, n, llen;
	int			 rc;

	if (size < 1 || size > FILE_MAX)
		return 0;
	if (memfd == -1) {
		fuzz_log_quiet();
		if ((memfd = memfd_create("passwd", MFD_CLOEXEC)) == -1)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	k = (size_t)(data[0] & 3) + 1;
	p = data + 1;
	end = data + size;
	for (i = 0; i < k; i++) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return 0;
		n = (size_t)(nl - p);
		if (n > POP_USER_MAX)
			return 0;
		memcpy(names[i], p, n);
		names[i][n] = '\0';
		p = nl + 1;
	}
	if (ftruncate(memfd, 0) == -1 ||
	    pwrite(memfd, p, (size_t)(end - p), 0) != end - p)
		abort();

	for (i = 0; i < k; i++) {
		memset(&res, 0xa5, sizeof(res));
		rc = pwfile_check(path, names[i], NULL, &res);
		ASSERT(rc == PWFILE_OK || rc == PWFILE_NO_USER ||
		    rc == PWFILE_ERROR);
		line = deciding_line(p, (size_t)(end - p), names[i], &llen);
		if (line == NULL) {
			ASSERT(rc == PWFILE_NO_USER);
			continue;
		}
		ASSERT(rc != PWFILE_NO_USER);
		if (rc == PWFILE_OK)
			check_ok(line, llen, &res);
	}
	return 0;
}
