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
 * libFuzzer target for proto/pop3_cmd.c: any bytes as a client line into
 * pop3_parse(), each argument it returns into pop3_msgno().  Besides the
 * sanitizers, the parser's promises are checked and a broken one aborts:
 * a 3- or 4-letter upper-case verb, at most two arguments within their
 * limits, no space inside a non-PASS argument, message numbers in range
 * and written in plain decimal.
 */

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "pop3.h"
#include "fuzz.h"


static void
check_msgno(const char *s)
{
	uint32_t	n = 0;
	char		back[16];
	const char	*p = s;

	if (pop3_msgno(s, &n) == -1)
		return;
	ASSERT(n >= 1 && n <= SPOOL_MSGS_MAX);
	/* Plain decimal: leading zeros aside, it prints back the same. */
	while (*p == '0')
		p++;
	snprintf(back, sizeof(back), "%u", n);
	ASSERT(strcmp(back, p) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_cmd	 cmd;
	const char	*err = NULL;
	size_t		 i, vl;
	int		 rc, a;

	/* As conn_getline hands lines over: at most POP_LINE_MAX bytes. */
	if (size > POP_LINE_MAX)
		size = POP_LINE_MAX;
	rc = pop3_parse((const char *)data, size, &cmd, &err);
	if (rc == -1) {
		ASSERT(err != NULL && *err != '\0');
		ASSERT(cmd.argc == 0 ||
		    strcmp(err, "Too many arguments") == 0 ||
		    strcmp(err, "Argument too long") == 0);
		return 0;
	}
	ASSERT(rc == 0);
	vl = strlen(cmd.verb);
	ASSERT(vl == 3 || vl == 4);
	for (i = 0; i < vl; i++)
		ASSERT(isupper((unsigned char)cmd.verb[i]));
	ASSERT(strncasecmp((const char *)data, cmd.verb, vl) == 0);
	ASSERT(cmd.argc >= 0 && cmd.argc <= 2);
	if (strcmp(cmd.verb, "PASS") == 0) {
		ASSERT(cmd.argc <= 1);
		if (cmd.argc == 1) {
			ASSERT(strlen(cmd.argv[0]) <= POP_PASS_MAX);
			ASSERT(strlen(cmd.argv[0]) > 0);
		}
	} else {
		for (a = 0; a < cmd.argc; a++) {
			ASSERT(strlen(cmd.argv[a]) >= 1);
			ASSERT(strlen(cmd.argv[a]) <= POP_ARG_MAX);
			ASSERT(strchr(cmd.argv[a], ' ') == NULL);
		}
	}
	for (a = 0; a < cmd.argc; a++)
		check_msgno(cmd.argv[a]);
	return 0;
}
