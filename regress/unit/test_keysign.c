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
 * Unit tests of privsep/keysign.c, the key process's signing policy.
 * Runs as an ordinary test program; the keys are made here, in memory.
 * Valid and invalid requests sit side by side in one table, every
 * accepted request is signed, and every signature is verified with a
 * public-only copy of the key and TLS's exact parameters.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include "keysign.h"
#include "params.h"
#include "tls_keyless.h"
#include "test.h"

enum { K_RSA, K_P256, K_P384, K_MAX };
enum { S13, S12, SRAW };

#define SRV	"TLS 1.3, server CertificateVerify"
#define CLI	"TLS 1.3, client CertificateVerify"

#define OK	KEY_SIGN_OK
#define NO	KEY_SIGN_REFUSED

struct ks_case {
	const char	*name;
	int		 key;
	uint16_t	 scheme;
	int		 shape;
	const char	*ctx;		/* S13: context string */
	size_t		 n;		/* S13 hash, S12 point, SRAW total */
	uint8_t		 curve_type;	/* S12 */
	uint16_t	 group;		/* S12 */
	int		 len_field;	/* S12: -1 for n */
	uint8_t		 first;		/* S12: first point byte */
	int		 flip;		/* offset of a byte to change, or -1 */
	int		 spaces;	/* S12: randoms of 0x20 */
	int		 expect;
};

#define T13(c, h)		S13, c, h, 0, 0, 0, 0
#define T12(g, p, f)		S12, NULL, p, 3, g, -1, f
#define T12X(ct, g, lf, p, f)	S12, NULL, p, ct, g, lf, f
#define RAW(n)			SRAW, NULL, n, 0, 0, 0, 0

static const struct ks_case cases[] = {
	/* TLS 1.3 CertificateVerify */
	{ "1.3 RSA-PSS-SHA256 48-byte hash", K_RSA, 0x0804,
	    T13(SRV, 48), -1, 0, OK },
	{ "1.3 RSA-PSS-SHA256 32-byte hash", K_RSA, 0x0804,
	    T13(SRV, 32), -1, 0, OK },
	{ "1.3 RSA-PSS-SHA384", K_RSA, 0x0805, T13(SRV, 48), -1, 0, OK },
	{ "1.3 RSA-PSS-SHA512", K_RSA, 0x0806, T13(SRV, 32), -1, 0, OK },
	{ "1.3 ECDSA P-256 SHA256 32", K_P256, 0x0403,
	    T13(SRV, 32), -1, 0, OK },
	{ "1.3 ECDSA P-256 SHA256 48", K_P256, 0x0403,
	    T13(SRV, 48), -1, 0, OK },
	{ "1.3 ECDSA P-384 SHA384", K_P384, 0x0503, T13(SRV, 48), -1, 0, OK },
	{ "1.3 client context, RSA", K_RSA, 0x0804, T13(CLI, 48), -1, 0, NO },
	{ "1.3 client context, EC", K_P256, 0x0403, T13(CLI, 32), -1, 0, NO },
	{ "1.3 context typo", K_RSA, 0x0804,
	    T13("TLS 1.3, server CertificateVerifx", 48), -1, 0, NO },
	{ "1.3 context of TLS 1.2", K_RSA, 0x0804,
	    T13("TLS 1.2, server CertificateVerify", 48), -1, 0, NO },
	{ "1.3 padding byte 0 not space", K_RSA, 0x0804,
	    T13(SRV, 48), 0, 0, NO },
	{ "1.3 padding byte 63 not space", K_RSA, 0x0804,
	    T13(SRV, 48), 63, 0, NO },
	{ "1.3 separator not zero", K_RSA, 0x0804, T13(SRV, 48), 97, 0, NO },
	{ "1.3 hash 31 bytes", K_RSA, 0x0804, T13(SRV, 31), -1, 0, NO },
	{ "1.3 hash 33 bytes", K_RSA, 0x0804, T13(SRV, 33), -1, 0, NO },
	{ "1.3 hash 47 bytes", K_RSA, 0x0804, T13(SRV, 47), -1, 0, NO },
	{ "1.3 hash 49 bytes", K_RSA, 0x0804, T13(SRV, 49), -1, 0, NO },
	{ "1.3 hash 64 bytes", K_RSA, 0x0806, T13(SRV, 64), -1, 0, NO },
	{ "1.3 no hash", K_RSA, 0x0804, T13(SRV, 0), -1, 0, NO },
	{ "1.3 PKCS#1 SHA256", K_RSA, 0x0401, T13(SRV, 32), -1, 0, NO },
	{ "1.3 PKCS#1 SHA384", K_RSA, 0x0501, T13(SRV, 48), -1, 0, NO },
	{ "1.3 ECDSA with RSA key", K_RSA, 0x0403, T13(SRV, 32), -1, 0, NO },
	{ "1.3 PSS with EC key", K_P256, 0x0804, T13(SRV, 32), -1, 0, NO },
	{ "1.3 P-256 key, P-384 scheme", K_P256, 0x0503,
	    T13(SRV, 48), -1, 0, NO },
	{ "1.3 P-256 key, P-521 scheme", K_P256, 0x0603,
	    T13(SRV, 32), -1, 0, NO },
	{ "1.3 P-384 key, P-256 scheme", K_P384, 0x0403,
	    T13(SRV, 32), -1, 0, NO },
	{ "1.3 RSA SHA-1 0x0201", K_RSA, 0x0201, T13(SRV, 32), -1, 0, NO },
	{ "1.3 ECDSA SHA-1 0x0203", K_P256, 0x0203, T13(SRV, 32), -1, 0, NO },

	/* TLS 1.2 ECDHE ServerKeyExchange */
	{ "1.2 RSA-PSS x25519", K_RSA, 0x0804,
	    T12(0x001d, 32, 0x55), -1, 0, OK },
	{ "1.2 RSA-PSS-SHA384 P-521", K_RSA, 0x0805,
	    T12(0x0019, 133, 4), -1, 0, OK },
	{ "1.2 RSA-PSS-SHA512 x448", K_RSA, 0x0806,
	    T12(0x001e, 56, 0x11), -1, 0, OK },
	{ "1.2 PKCS#1 SHA256 x25519", K_RSA, 0x0401,
	    T12(0x001d, 32, 0), -1, 0, OK },
	{ "1.2 PKCS#1 SHA384 P-256", K_RSA, 0x0501,
	    T12(0x0017, 65, 4), -1, 0, OK },
	{ "1.2 PKCS#1 SHA512 P-384", K_RSA, 0x0601,
	    T12(0x0018, 97, 4), -1, 0, OK },
	{ "1.2 ECDSA P-256 key x25519", K_P256, 0x0403,
	    T12(0x001d, 32, 9), -1, 0, OK },
	{ "1.2 ECDSA P-256 key P-256", K_P256, 0x0403,
	    T12(0x0017, 65, 4), -1, 0, OK },
	{ "1.2 ECDSA SHA384 P-256 key", K_P256, 0x0503,
	    T12(0x001d, 32, 9), -1, 0, OK },
	{ "1.2 ECDSA SHA512 P-256 key", K_P256, 0x0603,
	    T12(0x0019, 133, 4), -1, 0, OK },
	{ "1.2 ECDSA P-384 key x448", K_P384, 0x0403,
	    T12(0x001e, 56, 1), -1, 0, OK },
	{ "1.2 randoms of spaces", K_RSA, 0x0804,
	    T12(0x001d, 32, 0x20), -1, 1, OK },
	{ "1.2 RSA SHA-1 0x0201", K_RSA, 0x0201,
	    T12(0x001d, 32, 0), -1, 0, NO },
	{ "1.2 ECDSA SHA-1 0x0203", K_P256, 0x0203,
	    T12(0x001d, 32, 0), -1, 0, NO },
	{ "1.2 RSA SHA-224 0x0301", K_RSA, 0x0301,
	    T12(0x001d, 32, 0), -1, 0, NO },
	{ "1.2 ECDSA SHA-224 0x0303", K_P256, 0x0303,
	    T12(0x001d, 32, 0), -1, 0, NO },
	{ "1.2 ECDSA with RSA key", K_RSA, 0x0403,
	    T12(0x001d, 32, 0), -1, 0, NO },
	{ "1.2 PKCS#1 with EC key", K_P256, 0x0401,
	    T12(0x001d, 32, 0), -1, 0, NO },
	{ "1.2 PSS with EC key", K_P384, 0x0805,
	    T12(0x001d, 32, 0), -1, 0, NO },
	{ "1.2 x25519 one byte short", K_RSA, 0x0804,
	    T12X(3, 0x001d, 32, 31, 0), -1, 0, NO },
	{ "1.2 x25519 one byte long", K_RSA, 0x0804,
	    T12X(3, 0x001d, 32, 33, 0), -1, 0, NO },
	{ "1.2 P-256 one byte short", K_P256, 0x0403,
	    T12X(3, 0x0017, 65, 64, 4), -1, 0, NO },
	{ "1.2 P-256 one byte long", K_P256, 0x0403,
	    T12X(3, 0x0017, 65, 66, 4), -1, 0, NO },
	{ "1.2 P-521 one byte short", K_RSA, 0x0401,
	    T12X(3, 0x0019, 133, 132, 4), -1, 0, NO },
	{ "1.2 x25519 claims 33", K_RSA, 0x0804,
	    T12X(3, 0x001d, 33, 33, 0), -1, 0, NO },
	{ "1.2 x25519 with a P-256 point", K_RSA, 0x0804,
	    T12X(3, 0x001d, 65, 65, 4), -1, 0, NO },
	{ "1.2 x448 with x25519 length", K_RSA, 0x0804,
	    T12X(3, 0x001e, 32, 32, 0), -1, 0, NO },
	{ "1.2 group secp256k1", K_RSA, 0x0804,
	    T12X(3, 0x0016, 65, 65, 4), -1, 0, NO },
	{ "1.2 group secp224r1", K_RSA, 0x0804,
	    T12X(3, 0x0015, 57, 57, 4), -1, 0, NO },
	{ "1.2 group ffdhe2048", K_RSA, 0x0804,
	    T12X(3, 0x0100, 32, 32, 0), -1, 0, NO },
	{ "1.2 curve_type explicit_prime", K_RSA, 0x0804,
	    T12X(1, 0x001d, 32, 32, 0), -1, 0, NO },
	{ "1.2 curve_type explicit_char2", K_RSA, 0x0804,
	    T12X(2, 0x001d, 32, 32, 0), -1, 0, NO },
	{ "1.2 curve_type 0", K_P256, 0x0403,
	    T12X(0, 0x0017, 65, 65, 4), -1, 0, NO },
	{ "1.2 P-256 compressed marker", K_P256, 0x0403,
	    T12(0x0017, 65, 2), -1, 0, NO },
	{ "1.2 P-384 hybrid marker", K_RSA, 0x0804,
	    T12(0x0018, 97, 6), -1, 0, NO },

	/* Neither shape, or no scheme */
	{ "513 bytes", K_RSA, 0x0804, RAW(513), -1, 0, NO },
	{ "4096 bytes", K_P256, 0x0403, RAW(4096), -1, 0, NO },
	{ "512 bytes of garbage", K_RSA, 0x0804, RAW(512), -1, 0, NO },
	{ "146 bytes of garbage", K_RSA, 0x0804, RAW(146), -1, 0, NO },
	{ "32-byte digest alone", K_RSA, 0x0804, RAW(32), -1, 0, NO },
	{ "empty", K_RSA, 0x0804, RAW(0), -1, 0, NO },
	{ "scheme 0", K_RSA, 0x0000, T13(SRV, 48), -1, 0, NO },
	{ "scheme ed25519", K_P256, 0x0807, T13(SRV, 48), -1, 0, NO },
	{ "scheme rsa_pss_pss_sha256", K_RSA, 0x0809, T13(SRV, 48), -1, 0, NO },
	{ "scheme MD5 RSA", K_RSA, 0x0101, T12(0x001d, 32, 0), -1, 0, NO },
};

static EVP_PKEY		*keys[K_MAX];
static EVP_PKEY		*pubs[K_MAX];
static const char	*keynames[K_MAX] = { "RSA-2048", "P-256", "P-384" };

static size_t	 build(const struct ks_case *, uint8_t *, size_t);
static EVP_PKEY	*public_copy(EVP_PKEY *);
static int	 verify(EVP_PKEY *, uint16_t, const uint8_t *, size_t,
		    const uint8_t *, size_t, int, const char *);
static const char *scheme_md(uint16_t);
static void	 test_table(void);
static void	 test_edges(void);

static size_t
build(const struct ks_case *c, uint8_t *buf, size_t room)
{
	size_t	 i, len = 0, ctxlen;

	memset(buf, 0, room);
	switch (c->shape) {
	case S13:
		ctxlen = strlen(c->ctx) + 1;
		len = 64 + ctxlen + c->n;
		if (len > room)
			return 0;
		memset(buf, 0x20, 64);
		memcpy(buf + 64, c->ctx, ctxlen);
		for (i = 0; i < c->n; i++)
			buf[64 + ctxlen + i] = (uint8_t)(0xa0 + i);
		break;
	case S12:
		len = 68 + c->n;
		if (len > room)
			return 0;
		for (i = 0; i < 64; i++)
			buf[i] = c->spaces ? 0x20 : (uint8_t)(i * 7 + 1);
		buf[64] = c->curve_type;
		buf[65] = c->group >> 8;
		buf[66] = c->group & 0xff;
		buf[67] = (uint8_t)(c->len_field == -1 ? (int)c->n :
		    c->len_field);
		for (i = 0; i < c->n; i++)
			buf[68 + i] = (uint8_t)(0x31 + i * 3);
		if (c->n > 0)
			buf[68] = c->first;
		break;
	case SRAW:
		len = c->n;
		if (len > room)
			return 0;
		for (i = 0; i < len; i++)
			buf[i] = (uint8_t)(i * 13 + 5);
		break;
	}
	if (c->flip >= 0 && (size_t)c->flip < len)
		buf[c->flip] ^= 0x01;
	return len;
}

/* A key with no private half, so a verification proves the signature. */
static EVP_PKEY *
public_copy(EVP_PKEY *key)
{
	unsigned char		*der = NULL;
	const unsigned char	*p;
	EVP_PKEY		*pub;
	int			 len;

	if ((len = i2d_PUBKEY(key, &der)) <= 0)
		return NULL;
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	return pub;
}

static const char *
scheme_md(uint16_t scheme)
{
	switch (scheme >> 8) {
	case 0x04:
		return "SHA2-256";
	case 0x05:
		return "SHA2-384";
	case 0x06:
		return "SHA2-512";
	case 0x08:
		switch (scheme & 0xff) {
		case 0x04:
			return "SHA2-256";
		case 0x05:
			return "SHA2-384";
		case 0x06:
			return "SHA2-512";
		}
	}
	return NULL;
}

/*
 * Verify as a TLS peer does: PSS with salt = saltlen (the hash length
 * unless a test says otherwise) and MGF1 = mgf1 (the hash unless...).
 */
static int
verify(EVP_PKEY *pub, uint16_t scheme, const uint8_t *tbs, size_t tbs_len,
    const uint8_t *sig, size_t sig_len, int saltlen, const char *mgf1)
{
	EVP_MD_CTX	*mctx;
	OSSL_PARAM	 params[4], *pp = NULL;
	const char	*md;
	int		 ok;

	if ((md = scheme_md(scheme)) == NULL)
		return 0;
	if ((scheme >> 8) == 0x08) {
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_SIGNATURE_PARAM_PAD_MODE, "pss", 0);
		params[1] = OSSL_PARAM_construct_int(
		    OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &saltlen);
		params[2] = OSSL_PARAM_construct_utf8_string(
		    OSSL_SIGNATURE_PARAM_MGF1_DIGEST,
		    (char *)(mgf1 != NULL ? mgf1 : md), 0);
		params[3] = OSSL_PARAM_construct_end();
		pp = params;
	} else if ((scheme & 0xff) == 0x01) {
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_SIGNATURE_PARAM_PAD_MODE, "pkcs1", 0);
		params[1] = OSSL_PARAM_construct_end();
		pp = params;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit_ex(mctx, NULL, md, NULL, NULL, pub,
	    pp) == 1 && EVP_DigestVerify(mctx, sig, sig_len, tbs,
	    tbs_len) == 1;
	EVP_MD_CTX_free(mctx);
	ERR_clear_error();
	return ok;
}

static void
test_table(void)
{
	const struct ks_case	*c;
	uint8_t			 tbs[8192], sig[KEY_SIG_MAX];
	size_t			 i, len, sig_len;
	const char		*why;
	int			 rc, hlen;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		len = build(c, tbs, sizeof(tbs));
		why = "unset";
		rc = keysign_check(keys[c->key], c->scheme, tbs, len, &why);
		CHECK(rc == c->expect, "check %s: %s 0x%04x %zu bytes -> %s%s",
		    c->name, keynames[c->key], c->scheme, len,
		    rc == KEY_SIGN_OK ? "ok" : "refused: ",
		    rc == KEY_SIGN_OK ? "" : why);
		if (c->expect == KEY_SIGN_OK)
			CHECK(why == NULL, "check %s: no reason on success",
			    c->name);
		else
			CHECK(why != NULL && strcmp(why, "unset") != 0,
			    "check %s: a reason on refusal", c->name);

		sig_len = sizeof(sig);
		rc = keysign_sign(keys[c->key], c->scheme, tbs, len, sig,
		    &sig_len, &why);
		if (c->expect != KEY_SIGN_OK) {
			CHECK(rc == KEY_SIGN_REFUSED &&
			    sig_len == sizeof(sig), "sign %s: refused",
			    c->name);
			continue;
		}
		CHECK(rc == KEY_SIGN_OK && sig_len > 0 &&
		    sig_len <= (size_t)EVP_PKEY_get_size(keys[c->key]),
		    "sign %s: %zu-byte signature", c->name, sig_len);
		if (rc != KEY_SIGN_OK)
			continue;
		hlen = c->scheme == 0x0804 || c->scheme == 0x0403 ||
		    c->scheme == 0x0401 ? 32 : c->scheme == 0x0805 ||
		    c->scheme == 0x0503 || c->scheme == 0x0501 ? 48 : 64;
		CHECK(verify(pubs[c->key], c->scheme, tbs, len, sig, sig_len,
		    hlen, NULL), "verify %s", c->name);
		/* The verifier must be able to say no. */
		tbs[len - 1] ^= 0x80;
		CHECK(!verify(pubs[c->key], c->scheme, tbs, len, sig,
		    sig_len, hlen, NULL), "verify %s: altered tbs fails",
		    c->name);
		tbs[len - 1] ^= 0x80;
		if ((c->scheme >> 8) == 0x08) {
			CHECK(!verify(pubs[c->key], c->scheme, tbs, len, sig,
			    sig_len, hlen == 32 ? 48 : 32, NULL),
			    "verify %s: other salt length fails", c->name);
			CHECK(!verify(pubs[c->key], c->scheme, tbs, len, sig,
			    sig_len, hlen, "SHA1"),
			    "verify %s: MGF1 with SHA-1 fails", c->name);
		}
	}
}

static void
test_edges(void)
{
	static const struct ks_case	 ok13 =
	    { "ok", K_RSA, 0x0804, T13(SRV, 48), -1, 0, OK };
	static const struct ks_case	 ok13ec =
	    { "ok", K_P256, 0x0403, T13(SRV, 32), -1, 0, OK };
	uint8_t				 tbs[512], sig[KEY_SIG_MAX];
	size_t				 len, sig_len;
	const char			*why;
	int				 rc;

	len = build(&ok13, tbs, sizeof(tbs));
	CHECK(keysign_check(keys[K_RSA], 0x0804, NULL, len, &why) ==
	    KEY_SIGN_REFUSED, "NULL tbs refused");
	CHECK(keysign_check(NULL, 0x0804, tbs, len, &why) ==
	    KEY_SIGN_REFUSED, "no key refused");
	CHECK(keysign_check(keys[K_RSA], 0x0804, tbs, len, NULL) ==
	    KEY_SIGN_OK, "why_r may be NULL");
	CHECK(keysign_check(keys[K_RSA], 0x0804, tbs, len - 1, &why) ==
	    KEY_SIGN_REFUSED, "1.3 one byte short refused");

	sig_len = 255;
	rc = keysign_sign(keys[K_RSA], 0x0804, tbs, len, sig, &sig_len, &why);
	CHECK(rc == KEY_SIGN_FAILED, "RSA-2048 into 255 bytes fails");
	sig_len = 256;
	rc = keysign_sign(keys[K_RSA], 0x0804, tbs, len, sig, &sig_len, &why);
	CHECK(rc == KEY_SIGN_OK && sig_len == 256,
	    "RSA-2048 into exactly 256 bytes");
	sig_len = 0;
	rc = keysign_sign(keys[K_RSA], 0x0804, tbs, len, sig, &sig_len, &why);
	CHECK(rc == KEY_SIGN_FAILED, "no room fails");
	sig_len = sizeof(sig);
	rc = keysign_sign(keys[K_RSA], 0x0804, tbs, len, NULL, &sig_len, &why);
	CHECK(rc == KEY_SIGN_FAILED, "NULL signature buffer fails");

	len = build(&ok13ec, tbs, sizeof(tbs));
	sig_len = sizeof(sig);
	rc = keysign_sign(keys[K_P256], 0x0403, tbs, len, sig, &sig_len,
	    &why);
	CHECK(rc == KEY_SIGN_OK && sig_len >= 8 && sig_len <= 72 &&
	    sig[0] == 0x30, "ECDSA P-256 gives a DER signature of %zu bytes",
	    sig_len);
	/* A request refused by policy never reaches OpenSSL. */
	sig_len = sizeof(sig);
	rc = keysign_sign(keys[K_P256], 0x0503, tbs, len, sig, &sig_len,
	    &why);
	CHECK(rc == KEY_SIGN_REFUSED && sig_len == sizeof(sig),
	    "wrong-curve scheme refused before signing");
	/* Signatures from the same request differ (fresh nonce/salt). */
	{
		uint8_t	 sig2[KEY_SIG_MAX];
		size_t	 len1 = sizeof(sig), len2 = sizeof(sig2);

		len = build(&ok13, tbs, sizeof(tbs));
		keysign_sign(keys[K_RSA], 0x0804, tbs, len, sig, &len1, &why);
		keysign_sign(keys[K_RSA], 0x0804, tbs, len, sig2, &len2, &why);
		CHECK(len1 == len2 && memcmp(sig, sig2, len1) != 0,
		    "PSS is randomised");
	}
}

int
main(void)
{
	int	 i;

	keys[K_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	keys[K_P256] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	keys[K_P384] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	for (i = 0; i < K_MAX; i++) {
		CHECK(keys[i] != NULL, "generate %s", keynames[i]);
		if (keys[i] == NULL)
			TEST_EXIT();
		pubs[i] = public_copy(keys[i]);
		CHECK(pubs[i] != NULL, "public copy of %s", keynames[i]);
		if (pubs[i] == NULL)
			TEST_EXIT();
	}

	test_table();
	test_edges();

	for (i = 0; i < K_MAX; i++) {
		EVP_PKEY_free(keys[i]);
		EVP_PKEY_free(pubs[i]);
	}
	TEST_EXIT();
}
