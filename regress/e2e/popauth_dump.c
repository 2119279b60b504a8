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
 * For regress/e2e/test_popauth.py: prints every record of an APOP
 * database as "name secret" lines, read back through the server's own
 * reader (popauth_db_list and popauth_db_get), so that the test judges
 * the database as popsepd would see it.  Exits 1 if any record cannot
 * be read.  Runs in no process of the daemon; prints secrets, so it is
 * only for tests.
 *
 *	popauth_dump DB
 */

#include <stdio.h>
#include <string.h>

#include "popauth_db.h"

static int
dump_one(const char *name, void *arg)
{
	char	secret[POPAUTH_SECRET_MAX + 1];

	if (popauth_db_get(arg, name, secret, sizeof(secret)) != 0)
		return -1;
	printf("%s %s\n", name, secret);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc != 2) {
		fprintf(stderr, "usage: popauth_dump DB\n");
		return 2;
	}
	if (popauth_db_list(argv[1], dump_one, argv[1]) == -1) {
		printf("error\n");
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
