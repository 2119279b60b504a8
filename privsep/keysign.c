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
 * What the key process will sign, and the signing.  Runs in the key
 * process only, which holds the private keys.  The request (scheme and
 * to-be-signed bytes) comes from a network child, relayed by its session
 * monitor, and is trusted in nothing: a compromised child chooses every
 * byte of it.  The caller has already counted the request against the
 * connection's one signature and the global rate limit.
 *
 * Only two shapes are signed, both bound to TLS server authentication by
 * their layout: the TLS 1.3 server CertificateVerify content (RFC 8446
 * 4.4.3) and the TLS 1.2 ECDHE ServerKeyExchange parameters (RFC 8422
 * 5.4).  This file must never sign a digest it did not compute itself,
 * never do a raw RSA operation or a decryption, never sign with SHA-1 or
 * MD5, and never write outside the caller's buffers.
 */

#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>

#include "keysign.h"
#include "params.h"
#include "tls_keyless.h"

enum ks_kind {
	KS_PSS,
	KS_PKCS1,
	KS_ECDSA,
};

enum ks_shape {
	KS_SHAPE_NONE,
	KS_SHAPE_TLS13,
	KS_SHAPE_TLS12,
};

struct ks_scheme {
	uint16_t	 scheme;
	enum ks_kind	 kind;
	const char	*md;
	int		 md_len;
	int		 curve_nid;	/* ECDSA in TLS 1.3 binds the curve */
};

struct ks_group {
	uint16_t	 group;
	uint8_t		 point_len;
	int		 is_sec1;	/* NIST curve: uncompressed point */
};

static const struct ks_scheme	*ks_scheme_find(uint16_t);
static const char		*ks_shape_tls13(const uint8_t *, size_t);
static const char		*ks_shape_tls12(const uint8_t *, size_t);
static int			 ks_key_curve(EVP_PKEY *);

/*
 * SHA-1 (0x0201, 0x0203) and MD5-SHA1 are absent on purpose, and so are
 * rsa_pss_pss_* (keys restricted to PSS are not supported).
 */
static const struct ks_scheme ks_schemes[] = {
	{ TLS_SIG_RSA_PSS_RSAE_SHA256, KS_PSS, "SHA2-256", 32, NID_undef },
	{ TLS_SIG_RSA_PSS_RSAE_SHA384, KS_PSS, "SHA2-384", 48, NID_undef },
	{ TLS_SIG_RSA_PSS_RSAE_SHA512, KS_PSS, "SHA2-512", 64, NID_undef },
	{ TLS_SIG_RSA_PKCS1_SHA256, KS_PKCS1, "SHA2-256", 32, NID_undef },
	{ TLS_SIG_RSA_PKCS1_SHA384, KS_PKCS1, "SHA2-384", 48, NID_undef },
	{ TLS_SIG_RSA_PKCS1_SHA512, KS_PKCS1, "SHA2-512", 64, NID_undef },
	{ TLS_SIG_ECDSA_SHA256, KS_ECDSA, "SHA2-256", 32,
	    NID_X9_62_prime256v1 },
	{ TLS_SIG_ECDSA_SHA384, KS_ECDSA, "SHA2-384", 48, NID_secp384r1 },
	{ TLS_SIG_ECDSA_SHA512, KS_ECDSA, "SHA2-512", 64, NID_secp521r1 },
};

/* RFC 8422 5.4 and RFC 7748: the key share lengths of the ECDHE groups. */
static const struct ks_group ks_groups[] = {
	{ 0x001d, 32, 0 },	/* x25519 */
	{ 0x001e, 56, 0 },	/* x448 */
	{ 0x0017, 65, 1 },	/* secp256r1 */
	{ 0x0018, 97, 1 },	/* secp384r1 */
	{ 0x0019, 133, 1 },	/* secp521r1 */
};

/* RFC 8446 4.4.3: 64 spaces, the context string, one zero byte. */
#define KS_TLS13_PAD		64
#define KS_TLS13_PREFIX		(KS_TLS13_PAD + sizeof(ks_tls13_server))

/* sizeof() counts the NUL: it is the zero byte that ends the context. */
static const char ks_tls13_server[] = "TLS 1.3, server CertificateVerify";
static const char ks_tls13_client[] = "TLS 1.3, client CertificateVerify";

/* client random, server random, curve_type, named group, point length */
#define KS_TLS12_RANDOMS	64
#define KS_TLS12_HDR		((size_t)KS_TLS12_RANDOMS + 1 + 2 + 1)
#define KS_CURVE_NAMED		3	/* ECCurveType named_curve */
#define KS_SEC1_UNCOMPRESSED	0x04

int
keysign_check(EVP_PKEY *key, uint16_t scheme, const uint8_t *tbs,
    size_t tbs_len, const char **why_r)
{
	const struct ks_scheme	*s;
	const char		*why13 = NULL, *why12 = NULL, *dummy;
	enum ks_shape		 shape;
	int			 is_rsa, is_ec;

	if (why_r == NULL)
		why_r = &dummy;
	*why_r = NULL;

	if (key == NULL) {
		*why_r = "no key";
		return KEY_SIGN_REFUSED;
	}
	if (tbs == NULL || tbs_len == 0) {
		*why_r = "nothing to sign";
		return KEY_SIGN_REFUSED;
	}
	if (tbs_len > KEY_TBS_MAX) {
		*why_r = "request longer than any handshake signature";
		return KEY_SIGN_REFUSED;
	}
	if ((s = ks_scheme_find(scheme)) == NULL) {
		*why_r = "signature scheme not allowed";
		return KEY_SIGN_REFUSED;
	}

	/*
	 * A scheme of the other key type would make OpenSSL either fail or,
	 * worse, pick some other operation; decide here, by name.
	 */
	is_rsa = EVP_PKEY_is_a(key, "RSA");
	is_ec = EVP_PKEY_is_a(key, "EC");
	if (s->kind == KS_ECDSA && !is_ec) {
		*why_r = "ECDSA scheme for a key that is not EC";
		return KEY_SIGN_REFUSED;
	}
	if (s->kind != KS_ECDSA && !is_rsa) {
		*why_r = "RSA scheme for a key that is not RSA";
		return KEY_SIGN_REFUSED;
	}

	/* The shapes are disjoint: byte 64 is 'T' in one, 3 in the other. */
	shape = KS_SHAPE_NONE;
	if ((why13 = ks_shape_tls13(tbs, tbs_len)) == NULL)
		shape = KS_SHAPE_TLS13;
	else if ((why12 = ks_shape_tls12(tbs, tbs_len)) == NULL)
		shape = KS_SHAPE_TLS12;
	if (shape == KS_SHAPE_NONE) {
		/* Name the shape the request resembles most. */
		*why_r = tbs_len > KS_TLS12_RANDOMS &&
		    tbs[KS_TLS12_RANDOMS] <= KS_CURVE_NAMED ? why12 : why13;
		return KEY_SIGN_REFUSED;
	}

	/* RFC 8446 4.2.3: PKCS#1 v1.5 never signs a TLS 1.3 handshake. */
	if (s->kind == KS_PKCS1 && shape != KS_SHAPE_TLS12) {
		*why_r = "PKCS#1 v1.5 outside a TLS 1.2 ServerKeyExchange";
		return KEY_SIGN_REFUSED;
	}
	/* RFC 8446 4.2.3: in TLS 1.3 the ECDSA scheme names the curve. */
	if (s->kind == KS_ECDSA && shape == KS_SHAPE_TLS13 &&
	    ks_key_curve(key) != s->curve_nid) {
		*why_r = "ECDSA scheme does not match the key's curve";
		return KEY_SIGN_REFUSED;
	}
	return KEY_SIGN_OK;
}

int
keysign_sign(EVP_PKEY *key, uint16_t scheme, const uint8_t *tbs,
    size_t tbs_len, uint8_t *sig, size_t *sig_len, const char **why_r)
{
	const struct ks_scheme	*s;
	EVP_MD_CTX		*mctx;
	OSSL_PARAM		 params[4], *pp = NULL;
	const char		*dummy;
	size_t			 need, len;
	int			 rc, saltlen;

	if (why_r == NULL)
		why_r = &dummy;
	if ((rc = keysign_check(key, scheme, tbs, tbs_len, why_r)) !=
	    KEY_SIGN_OK)
		return rc;
	if (sig == NULL || sig_len == NULL || *sig_len == 0) {
		*why_r = "no room for the signature";
		return KEY_SIGN_FAILED;
	}
	/* keysign_check() found it. */
	s = ks_scheme_find(scheme);

	/*
	 * Set every PSS parameter instead of trusting defaults: TLS wants
	 * salt = hash length and MGF1 with the signing hash (RFC 8446
	 * 4.2.3), which a verifier checks.
	 */
	saltlen = s->md_len;
	if (s->kind == KS_PSS) {
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_SIGNATURE_PARAM_PAD_MODE,
		    (char *)OSSL_PKEY_RSA_PAD_MODE_PSS, 0);
		params[1] = OSSL_PARAM_construct_int(
		    OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &saltlen);
		params[2] = OSSL_PARAM_construct_utf8_string(
		    OSSL_SIGNATURE_PARAM_MGF1_DIGEST, (char *)s->md, 0);
		params[3] = OSSL_PARAM_construct_end();
		pp = params;
	} else if (s->kind == KS_PKCS1) {
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_SIGNATURE_PARAM_PAD_MODE,
		    (char *)OSSL_PKEY_RSA_PAD_MODE_PKCSV15, 0);
		params[1] = OSSL_PARAM_construct_end();
		pp = params;
	}

	if ((mctx = EVP_MD_CTX_new()) == NULL) {
		*why_r = "out of memory";
		return KEY_SIGN_FAILED;
	}
	/* EVP_DigestSign hashes tbs itself: no caller-chosen digest. */
	if (EVP_DigestSignInit_ex(mctx, NULL, s->md, NULL, NULL, key,
	    pp) != 1) {
		*why_r = "EVP_DigestSignInit_ex failed";
		goto fail;
	}
	if (EVP_DigestSign(mctx, NULL, &need, tbs, tbs_len) != 1) {
		*why_r = "cannot size the signature";
		goto fail;
	}
	if (need > *sig_len) {
		*why_r = "signature buffer too small";
		goto fail;
	}
	len = *sig_len;
	if (EVP_DigestSign(mctx, sig, &len, tbs, tbs_len) != 1 ||
	    len == 0 || len > *sig_len) {
		*why_r = "EVP_DigestSign failed";
		goto fail;
	}
	EVP_MD_CTX_free(mctx);
	*sig_len = len;
	*why_r = NULL;
	return KEY_SIGN_OK;

 fail:
	EVP_MD_CTX_free(mctx);
	return KEY_SIGN_FAILED;
}

static const struct ks_scheme *
ks_scheme_find(uint16_t scheme)
{
	size_t	 i;

	for (i = 0; i < sizeof(ks_schemes) / sizeof(ks_schemes[0]); i++)
		if (ks_schemes[i].scheme == scheme)
			return &ks_schemes[i];
	return NULL;
}

/* NULL if tbs is a TLS 1.3 server CertificateVerify content. */
static const char *
ks_shape_tls13(const uint8_t *tbs, size_t len)
{
	size_t	 i, hash_len;

	if (len < KS_TLS13_PREFIX)
		return "too short for a TLS 1.3 CertificateVerify";
	for (i = 0; i < KS_TLS13_PAD; i++)
		if (tbs[i] != 0x20)
			return "TLS 1.3 padding is not 64 spaces";
	/*
	 * A client signature would let the child authenticate as a client
	 * elsewhere: name it apart from other garbage in the log.
	 */
	if (memcmp(tbs + KS_TLS13_PAD, ks_tls13_client,
	    sizeof(ks_tls13_client)) == 0)
		return "TLS 1.3 client context string";
	if (memcmp(tbs + KS_TLS13_PAD, ks_tls13_server,
	    sizeof(ks_tls13_server)) != 0)
		return "not the TLS 1.3 server context string";
	/* The transcript hash of SHA-256 or SHA-384 cipher suites. */
	hash_len = len - KS_TLS13_PREFIX;
	if (hash_len != 32 && hash_len != 48)
		return "TLS 1.3 transcript hash neither 32 nor 48 bytes";
	return NULL;
}

/* NULL if tbs is a TLS 1.2 ECDHE ServerKeyExchange signed content. */
static const char *
ks_shape_tls12(const uint8_t *tbs, size_t len)
{
	const struct ks_group	*g = NULL;
	size_t			 i;
	uint16_t		 group;

	if (len < KS_TLS12_HDR)
		return "too short for a TLS 1.2 ServerKeyExchange";
	if (tbs[KS_TLS12_RANDOMS] != KS_CURVE_NAMED)
		return "TLS 1.2 curve_type is not named_curve";
	group = (uint16_t)(tbs[KS_TLS12_RANDOMS + 1] << 8 |
	    tbs[KS_TLS12_RANDOMS + 2]);
	for (i = 0; i < sizeof(ks_groups) / sizeof(ks_groups[0]); i++)
		if (ks_groups[i].group == group)
			g = &ks_groups[i];
	if (g == NULL)
		return "TLS 1.2 named group not allowed";
	if (tbs[KS_TLS12_HDR - 1] != g->point_len)
		return "TLS 1.2 point length wrong for the group";
	/* Nothing may follow the point: the whole request is the params. */
	if (len != KS_TLS12_HDR + g->point_len)
		return "TLS 1.2 request length wrong for the group";
	if (g->is_sec1 && tbs[KS_TLS12_HDR] != KS_SEC1_UNCOMPRESSED)
		return "TLS 1.2 point is not an uncompressed point";
	return NULL;
}

/* The NID of an EC key's named curve, or NID_undef. */
static int
ks_key_curve(EVP_PKEY *key)
{
	char	 name[80];
	size_t	 len;
	int	 nid;

	if (EVP_PKEY_get_group_name(key, name, sizeof(name), &len) != 1 ||
	    len >= sizeof(name))
		return NID_undef;
	if ((nid = OBJ_txt2nid(name)) == NID_undef)
		nid = EC_curve_nist2nid(name);
	return nid;
}
