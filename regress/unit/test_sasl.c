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
 * Unit tests of proto/sasl.c: the base64 decoder on RFC 4648's test
 * vectors and on every kind of non-canonical input, the output bound, and
 * the PLAIN splitter (RFC 4616) on well-formed and malformed messages.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "params.h"
#include "pop3.h"
#include "test.h"

struct b64_case {
	const char	*in;
	const char	*out;		/* NULL: must be refused */
	size_t		 outlen;
};

static const struct b64_case b64_cases[] = {
	/* RFC 4648 10. */
	{ "", "", 0 },
	{ "Zg==", "f", 1 },
	{ "Zm8=", "fo", 2 },
	{ "Zm9v", "foo", 3 },
	{ "Zm9vYg==", "foob", 4 },
	{ "Zm9vYmE=", "fooba", 5 },
	{ "Zm9vYmFy", "foobar", 6 },
	{ "AGFsaWNlAHB3", "\0alice\0pw", 9 },
	{ "+/+/", "\xfb\xff\xbf", 3 },
	/* Not canonical, or not base64 at all. */
	{ "Zg=", NULL, 0 },
	{ "Zg", NULL, 0 },
	{ "Zh==", NULL, 0 },		/* unused bits set */
	{ "Zm9=", NULL, 0 },		/* unused bits set */
	{ "Z===", NULL, 0 },
	{ "====", NULL, 0 },
	{ "Zg==Zg==", NULL, 0 },	/* padding in the middle */
	{ "Zm=v", NULL, 0 },
	{ "Zm9v\r\n", NULL, 0 },
	{ "Zm 9", NULL, 0 },
	{ "Zm9-", NULL, 0 },		/* base64url is not base64 */
	{ "Zm9_", NULL, 0 },
	{ "*", NULL, 0 },
};

static void
test_b64(void)
{
	uint8_t	out[64];
	size_t	i, n;
	int	rc;

	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		const struct b64_case *c = &b64_cases[i];

		n = 99;
		rc = sasl_b64_decode(c->in, strlen(c->in), out, sizeof(out),
		    &n);
		if (c->out == NULL)
			CHECK(rc == -1, "b64-refuses case %zu", i);
		else
			CHECK(rc == 0 && n == c->outlen &&
			    memcmp(out, c->out, n) == 0, "b64-decodes case %zu",
			    i);
	}
	/* The output bound: "Zm9vYmFy" needs 6 bytes. */
	CHECK(sasl_b64_decode("Zm9vYmFy", 8, out, 5, &n) == -1,
	    "b64-refuses-output-over-the-bound");
	CHECK(sasl_b64_decode("Zm9vYmFy", 8, out, 6, &n) == 0 && n == 6,
	    "b64-output-exactly-the-bound");
	CHECK(sasl_b64_decode("Zm9vYg==", 8, out, 4, &n) == 0 && n == 4,
	    "b64-padded-output-exactly-the-bound");
}

/* The canonical cases encode back to their text; then the bounds. */
static void
test_b64_encode(void)
{
	char	 out[64];
	uint8_t	 all[256], back[256];
	char	 big[345];
	size_t	 i, n;

	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		const struct b64_case *c = &b64_cases[i];

		if (c->out == NULL)
			continue;
		CHECK(sasl_b64_encode((const uint8_t *)c->out, c->outlen, out,
		    sizeof(out)) == 0 && strcmp(out, c->in) == 0,
		    "b64-encodes case %zu", i);
	}
	/* "Zm9vYmFy" and its NUL need 9 bytes. */
	CHECK(sasl_b64_encode((const uint8_t *)"foobar", 6, out, 8) == -1,
	    "b64-encode-refuses-output-over-the-bound");
	CHECK(sasl_b64_encode((const uint8_t *)"foobar", 6, out, 9) == 0 &&
	    strcmp(out, "Zm9vYmFy") == 0, "b64-encode-exactly-the-bound");
	CHECK(sasl_b64_encode((const uint8_t *)"f", 1, out, 0) == -1,
	    "b64-encode-refuses-no-room");
	/* Every byte value survives a round trip. */
	for (i = 0; i < sizeof(all); i++)
		all[i] = (uint8_t)(255 - i);
	CHECK(sasl_b64_encode(all, sizeof(all), big, sizeof(big)) == 0 &&
	    strlen(big) == 344 && sasl_b64_decode(big, 344, back,
	    sizeof(back), &n) == 0 && n == sizeof(all) &&
	    memcmp(all, back, n) == 0, "b64-encode-round-trip");
}

struct plain_case {
	const char	*msg;
	size_t		 len;
	int		 rc;
	const char	*z, *c, *p;
};

#define M(s)	s, sizeof(s) - 1

static const struct plain_case plain_cases[] = {
	{ M("\0alice\0secret"), 0, "", "alice", "secret" },
	{ M("alice\0alice\0secret"), 0, "alice", "alice", "secret" },
	{ M("bob\0alice\0pass with spaces"), 0, "bob", "alice",
	    "pass with spaces" },
	{ M("\0alice\0"), -1, NULL, NULL, NULL },
	{ M("\0\0secret"), -1, NULL, NULL, NULL },
	{ M("\0alice"), -1, NULL, NULL, NULL },
	{ M("alice"), -1, NULL, NULL, NULL },
	{ M("\0alice\0se\0cret"), -1, NULL, NULL, NULL },
	{ M(""), -1, NULL, NULL, NULL },
};

static void
test_plain(void)
{
	char	z[POP_USER_MAX + 1], c[POP_USER_MAX + 1], p[POP_PASS_MAX + 1];
	uint8_t	big[POP_USER_MAX + POP_PASS_MAX + 8];
	size_t	i;
	int	rc;

	for (i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]); i++) {
		const struct plain_case *k = &plain_cases[i];

		rc = sasl_plain_split((const uint8_t *)k->msg, k->len, z,
		    sizeof(z), c, sizeof(c), p, sizeof(p));
		if (k->rc == -1)
			CHECK(rc == -1, "plain-refuses case %zu", i);
		else
			CHECK(rc == 0 && strcmp(z, k->z) == 0 &&
			    strcmp(c, k->c) == 0 && strcmp(p, k->p) == 0,
			    "plain-splits case %zu", i);
	}
	/* Fields over their buffers are refused, not cut. */
	memset(big, 'u', sizeof(big));
	big[0] = '\0';
	big[1 + POP_USER_MAX + 1] = '\0';
	CHECK(sasl_plain_split(big, 1 + POP_USER_MAX + 2 + 8, z, sizeof(z), c,
	    sizeof(c), p, sizeof(p)) == -1, "plain-refuses-long-authcid");
	big[1 + POP_USER_MAX] = '\0';
	big[1 + POP_USER_MAX + 1] = 'p';
	CHECK(sasl_plain_split(big, 1 + POP_USER_MAX + 1 + 8, z, sizeof(z), c,
	    sizeof(c), p, sizeof(p)) == 0 && strlen(c) == POP_USER_MAX,
	    "plain-longest-authcid");
	CHECK(sasl_plain_split(big, sizeof(big), z, sizeof(z), c, sizeof(c),
	    p, sizeof(p)) == -1, "plain-refuses-long-password");
}

static void
test_user_rule(void)
{
	char	name[POP_USER_MAX + 2];

	CHECK(pop3_user_ok("alice") && pop3_user_ok("a@b.example"),
	    "user-rule-accepts");
	CHECK(!pop3_user_ok("") && !pop3_user_ok("a b") &&
	    !pop3_user_ok("a/b") && !pop3_user_ok("a:b") &&
	    !pop3_user_ok("a\tb") && !pop3_user_ok("\x7f"),
	    "user-rule-refuses");
	memset(name, 'x', sizeof(name));
	name[POP_USER_MAX] = '\0';
	CHECK(pop3_user_ok(name), "user-rule-longest");
	name[POP_USER_MAX] = 'x';
	name[POP_USER_MAX + 1] = '\0';
	CHECK(!pop3_user_ok(name), "user-rule-too-long");
}

int
main(void)
{
	test_b64();
	test_b64_encode();
	test_plain();
	test_user_rule();
	TEST_EXIT();
}
