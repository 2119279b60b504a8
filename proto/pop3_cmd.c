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
 * The POP3 command parser.  Runs in the network child on raw client
 * lines: nothing here is trusted.  A verb is 3 or 4 letters; arguments are
 * separated by spaces; PASS takes the rest of the line, since passwords
 * may contain spaces (RFC 1939 7, Qpopper does the same).
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "pop3.h"

int
pop3_parse(const char *line, size_t len, struct pop3_cmd *cmd,
    const char **err)
{
	const char	*p = line, *end = line + len, *sp;
	size_t		 n, i;

	memset(cmd, 0, sizeof(*cmd));
	if (memchr(line, '\0', len) != NULL) {
		*err = "Command contains a NUL byte";
		return -1;
	}
	for (n = 0; p + n < end && p[n] != ' '; n++)
		;
	if (n < 3 || n > 4) {
		*err = n == 0 ? "Null command" : "Unknown command";
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!isalpha((unsigned char)p[i])) {
			*err = "Unknown command";
			return -1;
		}
		cmd->verb[i] = (char)toupper((unsigned char)p[i]);
	}
	cmd->verb[n] = '\0';
	p += n;
	/* A password may hold spaces; XTND's subcommands have their own. */
	if (strcmp(cmd->verb, "PASS") == 0 || strcmp(cmd->verb, "XTND") == 0) {
		if (p < end)
			p++;	/* the one separating space */
		n = (size_t)(end - p);
		if (n == 0)
			return 0;
		if (n > POP_PASS_MAX) {
			*err = "Password too long";
			return -1;
		}
		memcpy(cmd->argv[0], p, n);
		cmd->argv[0][n] = '\0';
		cmd->argc = 1;
		return 0;
	}
	for (;;) {
		while (p < end && *p == ' ')
			p++;
		if (p >= end)
			return 0;
		if (cmd->argc == 2) {
			*err = "Too many arguments";
			return -1;
		}
		sp = memchr(p, ' ', (size_t)(end - p));
		n = (size_t)((sp != NULL ? sp : end) - p);
		if (n > POP_ARG_MAX) {
			*err = "Argument too long";
			return -1;
		}
		memcpy(cmd->argv[cmd->argc], p, n);
		cmd->argv[cmd->argc][n] = '\0';
		cmd->argc++;
		p += n;
	}
}

/* A message number: decimal, 1 to SPOOL_MSGS_MAX, nothing else. */
int
pop3_msgno(const char *s, uint32_t *n_r)
{
	const char	*e;
	long long	 n;

	if (!isdigit((unsigned char)*s))	/* no sign, no leading space */
		return -1;
	n = strtonum(s, 1, SPOOL_MSGS_MAX, &e);
	if (e != NULL)
		return -1;
	*n_r = (uint32_t)n;
	return 0;
}

/* A user name as the monitor will accept it (lib/names.c). */
int
pop3_user_ok(const char *u)
{
	return user_name_ok(u, strnlen(u, POP_USER_MAX + 1));
}
