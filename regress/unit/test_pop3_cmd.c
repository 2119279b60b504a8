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
 * Unit tests of proto/pop3_cmd.c: pop3_parse() on client lines (CRLF
 * already removed, as conn_getline hands them over) and pop3_msgno().
 * Tables of lines with the verb, arguments or error they must give, valid
 * and invalid side by side; the length limits are generated around
 * POP_ARG_MAX and POP_PASS_MAX.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "pop3.h"
#include "test.h"

/* A literal with its length, so lines may hold NUL bytes. */
#define L(s)	s, sizeof(s) - 1

struct parse_case {
	const char	*line;
	size_t		 len;
	int		 rc;
	const char	*verb;		/* NULL: not checked */
	int		 argc;
	const char	*argv0;
	const char	*argv1;
	const char	*err;		/* error text if rc == -1 */
};

static const struct parse_case parse_cases[] = {
	/* Verbs: case folding, 3 and 4 letters. */
	{ L("STAT"), 0, "STAT", 0, NULL, NULL, NULL },
	{ L("stat"), 0, "STAT", 0, NULL, NULL, NULL },
	{ L("sTaT"), 0, "STAT", 0, NULL, NULL, NULL },
	{ L("TOP 1 2"), 0, "TOP", 2, "1", "2", NULL },
	{ L("top 1 2"), 0, "TOP", 2, "1", "2", NULL },
	{ L("XYZ"), 0, "XYZ", 0, NULL, NULL, NULL },
	{ L("QUIT"), 0, "QUIT", 0, NULL, NULL, NULL },
	{ L("ST"), -1, NULL, 0, NULL, NULL, "Unknown command" },
	{ L("S"), -1, NULL, 0, NULL, NULL, "Unknown command" },
	{ L("STATS"), -1, NULL, 0, NULL, NULL, "Unknown command" },
	{ L("STATUS 1"), -1, NULL, 0, NULL, NULL, "Unknown command" },
	{ L("ST 1"), -1, NULL, 0, NULL, NULL, "Unknown command" },
	/* Non-alphabetic verbs. */
	{ L("ST1T"), -1, NULL, 0, NULL, NULL, "Unknown command" },
	{ L("123"), -1, NULL, 0, NULL, NULL, "Unknown command" },
	{ L("ST-T"), -1, NULL, 0, NULL, NULL, "Unknown command" },
	{ L("STA."), -1, NULL, 0, NULL, NULL, "Unknown command" },
	{ L("\xc4" "BC"), -1, NULL, 0, NULL, NULL, "Unknown command" },
	{ L("STAT\t1"), -1, NULL, 0, NULL, NULL, "Unknown command" },
	{ L("STA\r"), -1, NULL, 0, NULL, NULL, "Unknown command" },
	/* Empty and leading spaces. */
	{ L(""), -1, NULL, 0, NULL, NULL, "Null command" },
	{ L(" "), -1, NULL, 0, NULL, NULL, "Null command" },
	{ L(" STAT"), -1, NULL, 0, NULL, NULL, "Null command" },
	{ L("   "), -1, NULL, 0, NULL, NULL, "Null command" },
	/* NUL anywhere. */
	{ L("\0"), -1, NULL, 0, NULL, NULL, "Command contains a NUL byte" },
	{ L("ST\0T"), -1, NULL, 0, NULL, NULL, "Command contains a NUL byte" },
	{ L("STAT\0"), -1, NULL, 0, NULL, NULL, "Command contains a NUL byte" },
	{ L("USER a\0b"), -1, NULL, 0, NULL, NULL,
	    "Command contains a NUL byte" },
	{ L("PASS se\0cret"), -1, NULL, 0, NULL, NULL,
	    "Command contains a NUL byte" },
	/* Arguments: spaces between, before and after. */
	{ L("LIST 1"), 0, "LIST", 1, "1", NULL, NULL },
	{ L("LIST  1"), 0, "LIST", 1, "1", NULL, NULL },
	{ L("LIST 1 "), 0, "LIST", 1, "1", NULL, NULL },
	{ L("LIST 1   "), 0, "LIST", 1, "1", NULL, NULL },
	{ L("LIST "), 0, "LIST", 0, NULL, NULL, NULL },
	{ L("LIST    "), 0, "LIST", 0, NULL, NULL, NULL },
	{ L("TOP   1    2  "), 0, "TOP", 2, "1", "2", NULL },
	{ L("USER alice"), 0, "USER", 1, "alice", NULL, NULL },
	{ L("APOP alice c4c9334bac560ecc979e58001b3e22fb"), 0, "APOP", 2,
	    "alice", "c4c9334bac560ecc979e58001b3e22fb", NULL },
	{ L("USER a\tb"), 0, "USER", 1, "a\tb", NULL, NULL },
	/* Too many arguments: the verb is still reported. */
	{ L("TOP 1 2 3"), -1, "TOP", 0, NULL, NULL, "Too many arguments" },
	{ L("USER a b c d"), -1, "USER", 0, NULL, NULL, "Too many arguments" },
	{ L("TOP 1 2 "), 0, "TOP", 2, "1", "2", NULL },
	/* PASS takes the rest of the line after one space. */
	{ L("PASS secret"), 0, "PASS", 1, "secret", NULL, NULL },
	{ L("pass secret"), 0, "PASS", 1, "secret", NULL, NULL },
	{ L("PASS my secret pass"), 0, "PASS", 1, "my secret pass", NULL,
	    NULL },
	{ L("PASS a b c d e"), 0, "PASS", 1, "a b c d e", NULL, NULL },
	/* XTND: the rest of the line, its subcommand's arguments included. */
	{ L("XTND XLST Subject 1"), 0, "XTND", 1, "XLST Subject 1", NULL,
	    NULL },
	{ L("xtnd"), 0, "XTND", 0, NULL, NULL, NULL },
	{ L("LAST 1 2 3"), -1, NULL, 0, NULL, NULL, "Too many arguments" },
	{ L("PASS  leading"), 0, "PASS", 1, " leading", NULL, NULL },
	{ L("PASS trailing "), 0, "PASS", 1, "trailing ", NULL, NULL },
	{ L("PASS   "), 0, "PASS", 1, "  ", NULL, NULL },
	{ L("PASS"), 0, "PASS", 0, NULL, NULL, NULL },
	{ L("PASS "), 0, "PASS", 0, NULL, NULL, NULL },
	{ L("PASSx y"), -1, NULL, 0, NULL, NULL, "Unknown command" },
	{ L("PAS x y z"), -1, "PAS", 0, NULL, NULL, "Too many arguments" },
};

static void
test_parse_table(void)
{
	const struct parse_case	*c;
	struct pop3_cmd		 cmd;
	const char		*err;
	char			 shown[64];
	size_t			 i, j, k;
	int			 rc, ok;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		c = &parse_cases[i];
		/* Printable form of the line for the report. */
		for (j = k = 0; j < c->len && k + 5 < sizeof(shown); j++) {
			if (c->line[j] >= 0x20 && c->line[j] < 0x7f)
				shown[k++] = c->line[j];
			else
				k += (size_t)snprintf(shown + k,
				    sizeof(shown) - k, "\\x%02x",
				    (unsigned char)c->line[j]);
		}
		shown[k] = '\0';
		err = "(unset)";
		memset(&cmd, 0x5a, sizeof(cmd));
		rc = pop3_parse(c->line, c->len, &cmd, &err);
		ok = rc == c->rc;
		if (ok && c->verb != NULL)
			ok = strcmp(cmd.verb, c->verb) == 0;
		if (ok && rc == 0) {
			ok = cmd.argc == c->argc &&
			    (c->argc < 1 ||
			    strcmp(cmd.argv[0], c->argv0) == 0) &&
			    (c->argc < 2 ||
			    strcmp(cmd.argv[1], c->argv1) == 0);
			/* Unused argument slots are empty, not stale. */
			for (j = (size_t)cmd.argc; ok && j < 2; j++)
				ok = cmd.argv[j][0] == '\0';
		}
		if (ok && rc == -1)
			ok = strcmp(err, c->err) == 0;
		if (rc == 0)
			CHECK(ok, "parse \"%s\": verb %s argc %d", shown,
			    c->verb ? c->verb : "?", c->argc);
		else
			CHECK(ok, "parse \"%s\": error \"%s\" (got rc %d, "
			    "\"%s\")", shown, c->err ? c->err : "-", rc,
			    rc == -1 ? err : cmd.verb);
	}
}

/* Argument length limits, generated: each limit and one past it. */
struct len_case {
	const char	*prefix;	/* the line before the argument */
	size_t		 arglen;
	const char	*suffix;	/* after it */
	int		 rc;
	int		 slot;		/* its index in argv */
	const char	*err;
};

static const struct len_case len_cases[] = {
	{ "USER ", POP_ARG_MAX, "", 0, 0, NULL },
	{ "USER ", POP_ARG_MAX + 1, "", -1, 0, "Argument too long" },
	{ "USER ", POP_ARG_MAX + 200, "", -1, 0, "Argument too long" },
	{ "APOP u ", POP_ARG_MAX, "", 0, 1, NULL },
	{ "APOP u ", POP_ARG_MAX + 1, "", -1, 1, "Argument too long" },
	{ "APOP ", POP_ARG_MAX, " d", 0, 0, NULL },
	{ "APOP ", POP_ARG_MAX + 1, " d", -1, 0, "Argument too long" },
	{ "PASS ", POP_PASS_MAX, "", 0, 0, NULL },
	{ "PASS ", POP_PASS_MAX + 1, "", -1, 0, "Password too long" },
	{ "PASS ", POP_LINE_MAX, "", -1, 0, "Password too long" },
	{ "PASS ", 1, "", 0, 0, NULL },
};

static void
test_lengths(void)
{
	const struct len_case	*c;
	struct pop3_cmd		 cmd;
	const char		*err;
	char			 line[2 * POP_LINE_MAX];
	size_t			 i, j, n, plen;
	int			 rc, ok;

	for (i = 0; i < sizeof(len_cases) / sizeof(len_cases[0]); i++) {
		c = &len_cases[i];
		plen = strlen(c->prefix);
		memcpy(line, c->prefix, plen);
		for (j = 0; j < c->arglen; j++)
			line[plen + j] = (char)('a' + j % 26);
		n = plen + c->arglen;
		memcpy(line + n, c->suffix, strlen(c->suffix));
		n += strlen(c->suffix);
		err = "(unset)";
		rc = pop3_parse(line, n, &cmd, &err);
		ok = rc == c->rc;
		if (ok && rc == 0)
			ok = strlen(cmd.argv[c->slot]) == c->arglen &&
			    memcmp(cmd.argv[c->slot], line + plen,
			    c->arglen) == 0;
		if (ok && rc == -1)
			ok = strcmp(err, c->err) == 0;
		CHECK(ok, "parse \"%s<%zu bytes>%s\": %s", c->prefix, c->arglen,
		    c->suffix, c->rc == 0 ? "accepted intact" : c->err);
	}
}

struct msgno_case {
	const char	*s;
	int		 rc;
	uint32_t	 n;
};

#define STR2(x)	#x
#define STR(x)	STR2(x)

static const struct msgno_case msgno_cases[] = {
	{ "1", 0, 1 },
	{ "2", 0, 2 },
	{ "42", 0, 42 },
	{ "01", 0, 1 },
	{ STR(SPOOL_MSGS_MAX), 0, SPOOL_MSGS_MAX },
	{ "999999", 0, 999999 },
	{ "0", -1, 0 },
	{ "00", -1, 0 },
	{ "-1", -1, 0 },
	{ "-0", -1, 0 },
	{ "+1", -1, 0 },
	{ "1x", -1, 0 },
	{ "x1", -1, 0 },
	{ "1 ", -1, 0 },
	{ " 1", -1, 0 },
	{ "\t1", -1, 0 },
	{ "1.0", -1, 0 },
	{ "0x10", -1, 0 },
	{ "", -1, 0 },
	{ "1000001", -1, 0 },
	{ "4294967297", -1, 0 },	/* 2^32 + 1: no wrap to 1 */
	{ "9223372036854775807", -1, 0 },
	{ "9223372036854775808", -1, 0 },
	{ "99999999999999999999999999999999", -1, 0 },
};

static void
test_msgno(void)
{
	const struct msgno_case	*c;
	uint32_t		 n;
	size_t			 i;
	int			 rc;
	char			 buf[16];

	for (i = 0; i < sizeof(msgno_cases) / sizeof(msgno_cases[0]); i++) {
		c = &msgno_cases[i];
		n = 0xdeadbeef;
		rc = pop3_msgno(c->s, &n);
		if (c->rc == 0)
			CHECK(rc == 0 && n == c->n, "msgno \"%s\" = %u (got "
			    "rc %d, %u)", c->s, c->n, rc, n);
		else
			CHECK(rc == -1 && n == 0xdeadbeef, "msgno \"%s\" "
			    "rejected (got rc %d)", c->s, rc);
	}
	/* SPOOL_MSGS_MAX + 1, computed rather than written. */
	snprintf(buf, sizeof(buf), "%d", SPOOL_MSGS_MAX + 1);
	CHECK(pop3_msgno(buf, &n) == -1, "msgno SPOOL_MSGS_MAX + 1 (%s) "
	    "rejected", buf);
}

int
main(void)
{
	test_parse_table();
	test_lengths();
	test_msgno();
	TEST_EXIT();
}
