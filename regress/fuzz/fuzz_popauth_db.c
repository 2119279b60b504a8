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
 * libFuzzer target for the APOP database reader of auth/popauth_db.c on
 * a hostile file: the input is written to a temporary file, which is
 * then read as the database for a few names and listed whole, and each
 * listed name looked up.  Checked besides the sanitizers: a lookup that
 * succeeds gives a NUL-terminated secret that the rules allow; a failed
 * one leaves the buffer empty; a listing names only valid names.  (A
 * listed name need not be found again: in a damaged file GDBM's hash
 * directory may point away from a record that iteration reaches.)
 * fatal(), fatalx() and bug() abort here: no input may reach them.
 */

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "params.h"
#include "popauth_db.h"
#include "fuzz.h"

static const char *const names[] = {
	"alice", "bob", "carol", "x", "popsep-e2e-alice",
};

static char	dbdir[64], dbpath[80];

static void
cleanup(void)
{
	unlink(dbpath);
	rmdir(dbdir);
}

static void
write_db(const uint8_t *p, size_t len)
{
	int	fd;

	if (dbdir[0] == '\0') {
		strlcpy(dbdir, "/tmp/fuzz_popauth_db.XXXXXX", sizeof(dbdir));
		ASSERT(mkdtemp(dbdir) != NULL);
		snprintf(dbpath, sizeof(dbpath), "%s/db", dbdir);
		atexit(cleanup);
	}
	fd = open(dbpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT(fd != -1);
	ASSERT(len == 0 || write(fd, p, len) == (ssize_t)len);
	ASSERT(close(fd) == 0);
}

static void
check_get(const char *name)
{
	char	secret[POPAUTH_SECRET_MAX + 1];
	int	rc;

	memset(secret, 'Z', sizeof(secret));
	rc = popauth_db_get(dbpath, name, secret, sizeof(secret));
	ASSERT(rc == 0 || rc == 1 || rc == -1);
	if (rc == 0) {
		ASSERT(memchr(secret, '\0', sizeof(secret)) != NULL);
		ASSERT(popauth_secret_valid(secret, strlen(secret)));
	} else
		ASSERT(secret[0] == '\0');
}

static int
listed(const char *name, void *arg)
{
	(void)arg;
	ASSERT(popauth_name_valid(name, strlen(name)));
	check_get(name);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t	i;

	write_db(data, size);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		check_get(names[i]);
	popauth_db_list(dbpath, listed, NULL);
	return 0;
}
