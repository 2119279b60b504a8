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
 * Unit tests of net/tls_keyless.c, the keyless provider, with
 * privsep/keysign.c as the key process.  Runs as an ordinary test
 * program: keys and self-signed certificates are made in memory, the
 * server's SSL_CTX lives in its own library context with keyless keys
 * only, the client in the default one, and the handshakes run over a BIO
 * pair.  The "key process" is the transport function below, which holds
 * the real key and records every request it gets.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "keysign.h"
#include "log.h"
#include "params.h"
#include "tls_keyless.h"
#include "test.h"

enum { K_RSA, K_RSA2, K_P256, K_P384, K_MAX };

struct signer {
	EVP_PKEY	*key;		/* what the key process holds */
	int		 refuse;	/* answer -1 without signing */
	int		 overlong;	/* claim one byte more than the room */
	int		 calls;
	int		 check_rc;
	const char	*why;
	uint8_t		 key_id;
	uint16_t	 scheme;
	size_t		 tbs_len;
	uint8_t		 tbs[KEY_TBS_MAX];
};

struct hs_case {
	const char	*name;
	int		 cert;		/* the server's certificate */
	int		 signer;	/* the key the signer holds */
	int		 version;
	const char	*sigalgs;	/* client; NULL: default */
	const char	*groups;
	const char	*suites;	/* TLS 1.3 */
	const char	*ciphers;	/* TLS 1.2 */
	int		 refuse;
	int		 seclevel0;
	int		 expect_ok;
	int		 expect_calls;
	uint16_t	 expect_scheme;	/* 0: no request expected */
	size_t		 expect_tbs_len;
	int		 expect_alert;	/* reason the client sees, or 0 */
};

#define V12	TLS1_2_VERSION
#define V13	TLS1_3_VERSION
#define ERSA	"ECDHE-RSA-AES128-GCM-SHA256"
#define EECDSA	"ECDHE-ECDSA-AES128-GCM-SHA256"
#define A80	SSL_R_TLSV1_ALERT_INTERNAL_ERROR
#define A51	SSL_R_TLSV1_ALERT_DECRYPT_ERROR

/*
 * In TLS 1.2 the client's groups also bound the ECDSA certificate's
 * curve (RFC 8422 5.1.1), so the ECDSA cases list the certificate's curve
 * after the key-exchange group they want to see.
 */
static const struct hs_case hs_cases[] = {
	{ "TLS 1.3 RSA-PSS", K_RSA, K_RSA, V13, "rsa_pss_rsae_sha256",
	    NULL, NULL, NULL, 0, 0, 1, 1, 0x0804, 146, 0 },
	{ "TLS 1.3 RSA-PSS, SHA-256 transcript", K_RSA, K_RSA, V13,
	    "rsa_pss_rsae_sha256", NULL, "TLS_AES_128_GCM_SHA256", NULL,
	    0, 0, 1, 1, 0x0804, 130, 0 },
	{ "TLS 1.3 RSA-PSS-SHA512", K_RSA, K_RSA, V13, "rsa_pss_rsae_sha512",
	    NULL, NULL, NULL, 0, 0, 1, 1, 0x0806, 146, 0 },
	{ "TLS 1.3 ECDSA P-256", K_P256, K_P256, V13,
	    "ecdsa_secp256r1_sha256", NULL, NULL, NULL,
	    0, 0, 1, 1, 0x0403, 146, 0 },
	{ "TLS 1.3 ECDSA P-256, P-256 key share", K_P256, K_P256, V13,
	    "ecdsa_secp256r1_sha256", "P-256", NULL, NULL,
	    0, 0, 1, 1, 0x0403, 146, 0 },
	{ "TLS 1.3 ECDSA P-384", K_P384, K_P384, V13,
	    "ecdsa_secp384r1_sha384", NULL, NULL, NULL,
	    0, 0, 1, 1, 0x0503, 146, 0 },
	{ "TLS 1.2 ECDHE-RSA, default sigalgs (PSS)", K_RSA, K_RSA, V12,
	    NULL, NULL, NULL, ERSA, 0, 0, 1, 1, 0x0804, 100, 0 },
	{ "TLS 1.2 ECDHE-RSA PKCS#1 (RSA+SHA256)", K_RSA, K_RSA, V12,
	    "RSA+SHA256", NULL, NULL, ERSA, 0, 0, 1, 1, 0x0401, 100, 0 },
	{ "TLS 1.2 ECDHE-RSA PKCS#1 SHA-384, P-384", K_RSA, K_RSA, V12,
	    "RSA+SHA384", "P-384", NULL, ERSA, 0, 0, 1, 1, 0x0501, 165, 0 },
	{ "TLS 1.2 ECDHE-RSA PSS-SHA384, P-521", K_RSA, K_RSA, V12,
	    "rsa_pss_rsae_sha384", "P-521", NULL, ERSA,
	    0, 0, 1, 1, 0x0805, 201, 0 },
	{ "TLS 1.2 ECDHE-ECDSA, x25519", K_P256, K_P256, V12,
	    NULL, "X25519:P-256", NULL, EECDSA, 0, 0, 1, 1, 0x0403, 100, 0 },
	{ "TLS 1.2 ECDHE-ECDSA, P-256", K_P256, K_P256, V12,
	    NULL, "P-256", NULL, EECDSA, 0, 0, 1, 1, 0x0403, 133, 0 },
	{ "TLS 1.2 ECDHE-ECDSA, x448", K_P256, K_P256, V12,
	    NULL, "X448:P-256", NULL, EECDSA, 0, 0, 1, 1, 0x0403, 124, 0 },
	{ "TLS 1.2 ECDHE-ECDSA P-384 key, SHA-384", K_P384, K_P384, V12,
	    "ECDSA+SHA384", "X25519:P-384", NULL, EECDSA,
	    0, 0, 1, 1, 0x0503, 100, 0 },

	{ "TLS 1.3 RSA, signer refuses", K_RSA, K_RSA, V13,
	    "rsa_pss_rsae_sha256", NULL, NULL, NULL,
	    1, 0, 0, 1, 0x0804, 146, A80 },
	{ "TLS 1.2 ECDHE-ECDSA, signer refuses", K_P256, K_P256, V12,
	    NULL, "X25519:P-256", NULL, EECDSA, 1, 0, 0, 1, 0x0403, 100,
	    A80 },
	{ "TLS 1.3 RSA cert, signer holds an EC key", K_RSA, K_P256, V13,
	    "rsa_pss_rsae_sha256", NULL, NULL, NULL,
	    0, 0, 0, 1, 0x0804, 146, A80 },
	{ "TLS 1.3 RSA cert, signer holds another RSA key", K_RSA, K_RSA2,
	    V13, "rsa_pss_rsae_sha256", NULL, NULL, NULL,
	    0, 0, 0, 1, 0x0804, 146, A51 },
	{ "TLS 1.2 client offers only RSA+SHA1 (security level 0)",
	    K_RSA, K_RSA, V12, "RSA+SHA1", NULL, NULL, ERSA,
	    0, 1, 0, 0, 0, 0, 0 },
	{ "TLS 1.2 client offers only static RSA", K_RSA, K_RSA, V12,
	    NULL, NULL, NULL, "AES128-GCM-SHA256", 0, 0, 0, 0, 0, 0, 0 },
};

static const char	*keynames[K_MAX] = {
	"RSA-2048", "RSA-2048 (second)", "P-256", "P-384"
};
static EVP_PKEY		*keys[K_MAX];
static X509		*certs[K_MAX];
static EVP_PKEY		*kpks[K_MAX];
static OSSL_LIB_CTX	*slib;

static int	 transport(void *, const struct tls_sign_req *, uint8_t *,
		    size_t *);
static X509	*make_cert(EVP_PKEY *, const char *, long);
static size_t	 tls13_tbs(uint8_t *, size_t);
static int	 scheme_nids(uint16_t, int *, int *);
static int	 pss_verify(EVP_PKEY *, const char *, const uint8_t *,
		    size_t, const uint8_t *, size_t);
static int	 sign_init(EVP_MD_CTX *, EVP_PKEY_CTX **, const char *,
		    EVP_PKEY *, const OSSL_PARAM *);
static int	 drive(SSL *, SSL *);
static int	 saw_reason(int);
static SSL_CTX	*server_ctx(const struct hs_case *);
static SSL_CTX	*client_ctx(const struct hs_case *);
static void	 test_pkey(void);
static void	 test_sign(void);
static void	 test_handshake(const struct hs_case *);

static int
transport(void *arg, const struct tls_sign_req *req, uint8_t *sig,
    size_t *sig_len)
{
	struct signer	*s = arg;
	const char	*why;
	size_t		 room = *sig_len;

	s->calls++;
	s->key_id = req->key_id;
	s->scheme = req->scheme;
	s->tbs_len = req->tbs_len;
	if (req->tbs_len <= sizeof(s->tbs))
		memcpy(s->tbs, req->tbs, req->tbs_len);
	s->check_rc = keysign_check(s->key, req->scheme, req->tbs,
	    req->tbs_len, &s->why);
	if (s->refuse)
		return -1;
	if (keysign_sign(s->key, req->scheme, req->tbs, req->tbs_len, sig,
	    sig_len, &why) != KEY_SIGN_OK)
		return -1;
	if (s->overlong)
		*sig_len = room + 1;
	return 0;
}

static X509 *
make_cert(EVP_PKEY *key, const char *cn, long serial)
{
	X509		*x;
	X509_NAME	*name;
	const EVP_MD	*md = EVP_PKEY_is_a(key, "ED25519") ? NULL :
			    EVP_sha256();

	if ((x = X509_new()) == NULL)
		return NULL;
	name = X509_get_subject_name(x);
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), serial) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_sign(x, key, md) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static size_t
tls13_tbs(uint8_t *buf, size_t hash_len)
{
	static const char	 ctx[] = "TLS 1.3, server CertificateVerify";
	size_t			 i;

	memset(buf, 0x20, 64);
	memcpy(buf + 64, ctx, sizeof(ctx));
	for (i = 0; i < hash_len; i++)
		buf[64 + sizeof(ctx) + i] = (uint8_t)(i * 5 + 3);
	return 64 + sizeof(ctx) + hash_len;
}

/* What libssl reports for a scheme: signature type and digest NIDs. */
static int
scheme_nids(uint16_t scheme, int *type_r, int *md_r)
{
	switch (scheme >> 8) {
	case 0x04:
		*md_r = NID_sha256;
		break;
	case 0x05:
		*md_r = NID_sha384;
		break;
	case 0x06:
		*md_r = NID_sha512;
		break;
	case 0x08:
		*md_r = (scheme & 0xff) == 0x04 ? NID_sha256 :
		    (scheme & 0xff) == 0x05 ? NID_sha384 : NID_sha512;
		*type_r = NID_rsassaPss;
		return 0;
	default:
		return -1;
	}
	*type_r = (scheme & 0xff) == 0x01 ? NID_rsaEncryption :
	    NID_X9_62_id_ecPublicKey;
	return 0;
}

static int
pss_verify(EVP_PKEY *pub, const char *md, const uint8_t *tbs,
    size_t tbs_len, const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX	*mctx;
	OSSL_PARAM	 params[3];
	int		 ok;

	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_SIGNATURE_PARAM_PAD_MODE, "pss", 0);
	params[1] = OSSL_PARAM_construct_utf8_string(
	    OSSL_SIGNATURE_PARAM_PSS_SALTLEN, "digest", 0);
	params[2] = OSSL_PARAM_construct_end();
	if ((mctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit_ex(mctx, NULL, md, NULL, NULL, pub,
	    params) == 1 && EVP_DigestVerify(mctx, sig, sig_len, tbs,
	    tbs_len) == 1;
	EVP_MD_CTX_free(mctx);
	return ok;
}

static void
test_pkey(void)
{
	OSSL_PARAM	*p = NULL;
	EVP_PKEY	*ed;
	X509		*edcert;
	char		 group[64];
	int		 i;

	CHECK(keyless_provider_register(NULL) == -1,
	    "register refuses the default library context");
	for (i = 0; i < K_MAX; i++) {
		CHECK(kpks[i] != NULL, "keyless key from the %s certificate",
		    keynames[i]);
		if (kpks[i] == NULL)
			continue;
		CHECK(EVP_PKEY_is_a(kpks[i], i < K_P256 ? "RSA" : "EC"),
		    "%s: keyless key is_a %s", keynames[i],
		    i < K_P256 ? "RSA" : "EC");
		CHECK(EVP_PKEY_get_size(kpks[i]) ==
		    EVP_PKEY_get_size(keys[i]) &&
		    EVP_PKEY_get_bits(kpks[i]) == EVP_PKEY_get_bits(keys[i]),
		    "%s: same size (%d) and bits (%d) as the real key",
		    keynames[i], EVP_PKEY_get_size(kpks[i]),
		    EVP_PKEY_get_bits(kpks[i]));
		CHECK(EVP_PKEY_eq(kpks[i], X509_get0_pubkey(certs[i])) == 1,
		    "%s: equals its certificate's key", keynames[i]);
		CHECK(X509_check_private_key(certs[i], kpks[i]) == 1,
		    "%s: X509_check_private_key", keynames[i]);
		CHECK(EVP_PKEY_todata(kpks[i], EVP_PKEY_KEYPAIR, &p) != 1,
		    "%s: no private export", keynames[i]);
		OSSL_PARAM_free(p);
		p = NULL;
		CHECK(EVP_PKEY_todata(kpks[i], EVP_PKEY_PUBLIC_KEY, &p) == 1,
		    "%s: public export", keynames[i]);
		OSSL_PARAM_free(p);
		p = NULL;
		CHECK(EVP_PKEY_digestsign_supports_digest(kpks[i], slib,
		    "SHA256", NULL) == 1 &&
		    EVP_PKEY_digestsign_supports_digest(kpks[i], slib,
		    "SHA2-384", NULL) == 1 &&
		    EVP_PKEY_digestsign_supports_digest(kpks[i], slib,
		    "SHA512", NULL) == 1,
		    "%s: SHA-256/384/512 supported", keynames[i]);
		CHECK(EVP_PKEY_digestsign_supports_digest(kpks[i], slib,
		    "SHA1", NULL) != 1 &&
		    EVP_PKEY_digestsign_supports_digest(kpks[i], slib,
		    "MD5-SHA1", NULL) != 1 &&
		    EVP_PKEY_digestsign_supports_digest(kpks[i], slib,
		    "SHA224", NULL) != 1,
		    "%s: SHA-1, MD5-SHA1, SHA-224 not supported",
		    keynames[i]);
	}
	ERR_clear_error();
	CHECK(EVP_PKEY_eq(kpks[K_RSA], X509_get0_pubkey(certs[K_RSA2])) != 1,
	    "RSA keyless key differs from another RSA certificate's key");
	CHECK(X509_check_private_key(certs[K_P256], kpks[K_P384]) != 1,
	    "P-384 keyless key does not match the P-256 certificate");
	CHECK(EVP_PKEY_get_group_name(kpks[K_P384], group, sizeof(group),
	    NULL) == 1 && strcmp(group, "secp384r1") == 0,
	    "P-384 keyless key reports its group");
	ERR_clear_error();

	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	edcert = ed != NULL ? make_cert(ed, "ed25519", 99) : NULL;
	CHECK(edcert != NULL && keyless_pkey_from_cert(slib, edcert, 1) ==
	    NULL, "Ed25519 certificate refused");
	CHECK(keyless_pkey_from_cert(NULL, certs[K_RSA], 1) == NULL,
	    "no keyless key in the default library context");
	X509_free(edcert);
	EVP_PKEY_free(ed);
	ERR_clear_error();
}

/*
 * OpenSSL 3.0 keeps an EVP_MD_CTX's old EVP_PKEY_CTX (and key) on a
 * second init, so each test starts from a reset context.
 */
static int
sign_init(EVP_MD_CTX *mctx, EVP_PKEY_CTX **pctx_r, const char *md,
    EVP_PKEY *key, const OSSL_PARAM *params)
{
	EVP_MD_CTX_reset(mctx);
	return EVP_DigestSignInit_ex(mctx, pctx_r, md, slib, NULL, key,
	    params) == 1;
}

static void
test_sign(void)
{
	struct signer	 s;
	EVP_MD_CTX	*mctx;
	EVP_PKEY_CTX	*pctx;
	OSSL_PARAM	 params[2];
	uint8_t		 tbs[600], sig[KEY_SIG_MAX];
	size_t		 len, sig_len;
	int		 ok;

	memset(&s, 0, sizeof(s));
	s.key = keys[K_RSA];
	keyless_set_transport(transport, &s);
	len = tls13_tbs(tbs, 48);
	mctx = EVP_MD_CTX_new();

	/* Init alone, as libssl's capability probe does: no request. */
	ok = sign_init(mctx, &pctx, "SHA256", kpks[K_RSA], NULL) &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
	    RSA_PSS_SALTLEN_DIGEST) == 1;
	CHECK(ok && s.calls == 0, "init and PSS parameters: no request");
	sig_len = 0;
	ok = EVP_DigestSign(mctx, NULL, &sig_len, tbs, len) == 1;
	CHECK(ok && sig_len == 256 && s.calls == 0,
	    "size query answers %zu without a request", sig_len);
	sig_len = sizeof(sig);
	ok = EVP_DigestSign(mctx, sig, &sig_len, tbs, len) == 1;
	CHECK(ok && s.calls == 1 && s.scheme == TLS_SIG_RSA_PSS_RSAE_SHA256 &&
	    s.key_id == K_RSA + 1 && s.tbs_len == len &&
	    memcmp(s.tbs, tbs, len) == 0,
	    "one-shot PSS: one request, scheme 0x%04x, key %u, tbs intact",
	    s.scheme, s.key_id);
	CHECK(ok && pss_verify(X509_get0_pubkey(certs[K_RSA]), "SHA256",
	    tbs, len, sig, sig_len), "one-shot PSS signature verifies");

	/* Streaming: EVP_DigestSignFinal() signs on a copy of the ctx. */
	memset(&s, 0, sizeof(s));
	s.key = keys[K_RSA];
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_SIGNATURE_PARAM_PAD_MODE, "pss", 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = sign_init(mctx, &pctx, "SHA2-384", kpks[K_RSA], params) &&
	    EVP_DigestSignUpdate(mctx, tbs, 100) == 1 &&
	    EVP_DigestSignUpdate(mctx, tbs + 100, len - 100) == 1;
	sig_len = sizeof(sig);
	ok = ok && EVP_DigestSignFinal(mctx, sig, &sig_len) == 1;
	CHECK(ok && s.calls == 1 && s.scheme == TLS_SIG_RSA_PSS_RSAE_SHA384 &&
	    s.tbs_len == len && memcmp(s.tbs, tbs, len) == 0,
	    "streamed PSS with pad-mode as a string: scheme 0x%04x",
	    s.scheme);
	CHECK(ok && pss_verify(X509_get0_pubkey(certs[K_RSA]), "SHA384",
	    tbs, len, sig, sig_len), "streamed PSS signature verifies");

	/* No padding set: PKCS#1, which the signer refuses in TLS 1.3. */
	memset(&s, 0, sizeof(s));
	s.key = keys[K_RSA];
	ok = sign_init(mctx, NULL, "SHA256", kpks[K_RSA], NULL);
	sig_len = sizeof(sig);
	ok = ok && EVP_DigestSign(mctx, sig, &sig_len, tbs, len) == 1;
	CHECK(!ok && s.calls == 1 && s.scheme == TLS_SIG_RSA_PKCS1_SHA256 &&
	    s.check_rc == KEY_SIGN_REFUSED,
	    "default padding is PKCS#1 (0x%04x), refused in TLS 1.3 shape",
	    s.scheme);
	ERR_clear_error();

	/* Parameters TLS never uses are refused before any request. */
	memset(&s, 0, sizeof(s));
	s.key = keys[K_RSA];
	ok = sign_init(mctx, &pctx, "SHA256", kpks[K_RSA], NULL);
	CHECK(ok && EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_NO_PADDING) <= 0, "raw RSA padding refused");
	CHECK(ok && EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_OAEP_PADDING) <= 0, "OAEP padding refused");
	ok = ok && EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_PSS_PADDING) == 1;
	if (ok && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 20) == 1) {
		sig_len = sizeof(sig);
		ok = EVP_DigestSign(mctx, sig, &sig_len, tbs, len) == 1;
	} else
		ok = 0;
	CHECK(!ok && s.calls == 0, "PSS salt 20 with SHA-256 refused");
	ERR_clear_error();

	ok = sign_init(mctx, &pctx, "SHA256", kpks[K_RSA], NULL) &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1;
	CHECK(ok && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
	    RSA_PSS_SALTLEN_MAX) <= 0 && s.calls == 0,
	    "PSS salt \"max\" refused");
	ERR_clear_error();

	/* Too much to sign: refused in the child, nothing sent. */
	ok = sign_init(mctx, &pctx, "SHA256", kpks[K_RSA], NULL);
	sig_len = sizeof(sig);
	memset(tbs, 0x20, sizeof(tbs));
	CHECK(ok && EVP_DigestSign(mctx, sig, &sig_len, tbs,
	    KEY_TBS_MAX + 1) != 1 && s.calls == 0,
	    "one-shot %d bytes refused without a request", KEY_TBS_MAX + 1);
	ok = sign_init(mctx, &pctx, "SHA256", kpks[K_RSA], NULL) &&
	    EVP_DigestSignUpdate(mctx, tbs, 300) == 1;
	CHECK(ok && EVP_DigestSignUpdate(mctx, tbs, 213) != 1 &&
	    s.calls == 0, "streamed %d bytes refused", KEY_TBS_MAX + 1);
	ERR_clear_error();

	/* ECDSA in the TLS 1.2 shape, any hash. */
	memset(&s, 0, sizeof(s));
	s.key = keys[K_P256];
	memset(tbs, 0x41, 64);
	tbs[64] = 3;
	tbs[65] = 0x00;
	tbs[66] = 0x1d;
	tbs[67] = 32;
	memset(tbs + 68, 0x42, 32);
	len = 100;
	ok = sign_init(mctx, NULL, "SHA384", kpks[K_P256], NULL);
	sig_len = sizeof(sig);
	ok = ok && EVP_DigestSign(mctx, sig, &sig_len, tbs, len) == 1;
	CHECK(ok && s.calls == 1 && s.scheme == TLS_SIG_ECDSA_SHA384 &&
	    s.key_id == K_P256 + 1 && sig_len <= 72,
	    "ECDSA P-256/SHA-384: scheme 0x%04x, key %u, %zu bytes",
	    s.scheme, s.key_id, sig_len);
	ok = sign_init(mctx, &pctx, "SHA256", kpks[K_P256], NULL);
	CHECK(ok && EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_PSS_PADDING) <= 0, "no RSA padding on an EC key");
	ERR_clear_error();

	/* A transport that answers more than the room is not believed. */
	memset(&s, 0, sizeof(s));
	s.key = keys[K_P256];
	s.overlong = 1;
	ok = sign_init(mctx, NULL, "SHA256", kpks[K_P256], NULL);
	sig_len = 72;
	CHECK(ok && EVP_DigestSign(mctx, sig, &sig_len, tbs, len) != 1 &&
	    s.calls == 1, "overlong transport answer rejected");
	ERR_clear_error();

	/* Without a transport nothing can sign. */
	keyless_set_transport(NULL, NULL);
	ok = sign_init(mctx, NULL, "SHA256", kpks[K_P256], NULL);
	sig_len = sizeof(sig);
	CHECK(ok && EVP_DigestSign(mctx, sig, &sig_len, tbs, len) != 1,
	    "no transport, no signature");
	ERR_clear_error();
	EVP_MD_CTX_free(mctx);
}

/* Step both ends until both are done or one fails for good. */
static int
drive(SSL *c, SSL *s)
{
	int	 i, rc, cdone = 0, sdone = 0, failed = 0, e;

	for (i = 0; i < 100 && !(cdone && sdone); i++) {
		if (!cdone) {
			if ((rc = SSL_do_handshake(c)) == 1)
				cdone = 1;
			else if ((e = SSL_get_error(c, rc)) !=
			    SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				failed++;
		}
		if (!sdone) {
			if ((rc = SSL_do_handshake(s)) == 1)
				sdone = 1;
			else if ((e = SSL_get_error(s, rc)) !=
			    SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				failed++;
		}
		/* Let the other end read the alert, then stop. */
		if (failed > 1)
			break;
	}
	return cdone && sdone;
}

static int
saw_reason(int reason)
{
	unsigned long	 e;
	int		 seen = 0;

	while ((e = ERR_get_error()) != 0)
		if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    ERR_GET_REASON(e) == reason)
			seen = 1;
	return seen;
}

static SSL_CTX *
server_ctx(const struct hs_case *c)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new_ex(slib, NULL, TLS_server_method())) == NULL)
		return NULL;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (c->seclevel0)
		SSL_CTX_set_security_level(ctx, 0);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx,
	    "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
	    SSL_CTX_use_cert_and_key(ctx, certs[c->cert], kpks[c->cert],
	    NULL, 1) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static SSL_CTX *
client_ctx(const struct hs_case *c)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	if (c->seclevel0)
		SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_min_proto_version(ctx, c->version) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, c->version) != 1 ||
	    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx),
	    certs[c->cert]) != 1 ||
	    (c->sigalgs != NULL &&
	    SSL_CTX_set1_sigalgs_list(ctx, c->sigalgs) != 1) ||
	    (c->groups != NULL &&
	    SSL_CTX_set1_groups_list(ctx, c->groups) != 1) ||
	    (c->suites != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, c->suites) != 1) ||
	    (c->ciphers != NULL &&
	    SSL_CTX_set_cipher_list(ctx, c->ciphers) != 1)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void
test_handshake(const struct hs_case *c)
{
	struct signer	 s;
	SSL_CTX		*sctx, *cctx;
	SSL		*srv = NULL, *cli = NULL;
	BIO		*cb = NULL, *sb = NULL;
	char		 buf[32];
	int		 ok, type, md, got_type, got_md;

	memset(&s, 0, sizeof(s));
	s.key = keys[c->signer];
	s.refuse = c->refuse;
	s.check_rc = -1;
	keyless_set_transport(transport, &s);
	ERR_clear_error();

	sctx = server_ctx(c);
	cctx = client_ctx(c);
	CHECK(sctx != NULL && cctx != NULL, "%s: contexts", c->name);
	if (sctx == NULL || cctx == NULL)
		goto done;
	if ((srv = SSL_new(sctx)) == NULL || (cli = SSL_new(cctx)) == NULL ||
	    BIO_new_bio_pair(&cb, 0, &sb, 0) != 1) {
		CHECK(0, "%s: SSL objects", c->name);
		goto done;
	}
	SSL_set_bio(cli, cb, cb);
	SSL_set_bio(srv, sb, sb);
	SSL_set_connect_state(cli);
	SSL_set_accept_state(srv);

	ok = drive(cli, srv);
	CHECK(ok == c->expect_ok, "%s: handshake %s", c->name,
	    ok ? "completes" : "fails");
	CHECK(s.calls == c->expect_calls, "%s: %d signature request(s)",
	    c->name, s.calls);
	if (c->expect_calls > 0) {
		CHECK(s.scheme == c->expect_scheme &&
		    s.tbs_len == c->expect_tbs_len &&
		    s.key_id == c->cert + 1,
		    "%s: request key %u scheme 0x%04x tbs %zu bytes",
		    c->name, s.key_id, s.scheme, s.tbs_len);
		/* Only a key mismatch may make the policy say no here. */
		CHECK((s.check_rc == KEY_SIGN_OK) ==
		    (EVP_PKEY_is_a(keys[c->signer], "RSA") ==
		    EVP_PKEY_is_a(keys[c->cert], "RSA")),
		    "%s: keysign_check %s%s", c->name,
		    s.check_rc == KEY_SIGN_OK ? "accepted" : "refused: ",
		    s.check_rc == KEY_SIGN_OK ? "" : s.why);
	}
	if (!c->expect_ok) {
		if (c->expect_alert != 0)
			CHECK(saw_reason(c->expect_alert),
			    "%s: client got alert %s", c->name,
			    c->expect_alert == A80 ? "internal_error" :
			    "decrypt_error");
		goto done;
	}
	if (!ok)
		goto done;

	CHECK(SSL_version(srv) == c->version && SSL_version(cli) ==
	    c->version, "%s: version %s", c->name, SSL_get_version(srv));
	if (scheme_nids(c->expect_scheme, &type, &md) == 0) {
		got_type = got_md = NID_undef;
		SSL_get_peer_signature_type_nid(cli, &got_type);
		SSL_get_peer_signature_nid(cli, &got_md);
		CHECK(got_type == type && got_md == md,
		    "%s: client saw %s/%s", c->name, OBJ_nid2sn(got_type),
		    OBJ_nid2sn(got_md));
		got_type = got_md = NID_undef;
		SSL_get_signature_type_nid(srv, &got_type);
		SSL_get_signature_nid(srv, &got_md);
		CHECK(got_type == type && got_md == md,
		    "%s: server signed %s/%s", c->name, OBJ_nid2sn(got_type),
		    OBJ_nid2sn(got_md));
	}
	CHECK(SSL_get_verify_result(cli) == X509_V_OK,
	    "%s: client verified the certificate", c->name);
	CHECK(SSL_write(srv, "+OK popsep\r\n", 12) == 12 &&
	    SSL_read(cli, buf, sizeof(buf)) == 12 &&
	    memcmp(buf, "+OK popsep\r\n", 12) == 0 && s.calls == 1,
	    "%s: data flows, no further request", c->name);

 done:
	ERR_clear_error();
	SSL_free(cli);
	SSL_free(srv);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	keyless_set_transport(NULL, NULL);
}

int
main(void)
{
	size_t	 i;
	int	 k;

	log_init(1, LOG_DAEMON);

	keys[K_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	keys[K_RSA2] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	keys[K_P256] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	keys[K_P384] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	for (k = 0; k < K_MAX; k++) {
		certs[k] = keys[k] != NULL ? make_cert(keys[k], keynames[k],
		    k + 1) : NULL;
		CHECK(keys[k] != NULL && certs[k] != NULL,
		    "%s key and certificate", keynames[k]);
		if (certs[k] == NULL)
			TEST_EXIT();
	}

	slib = OSSL_LIB_CTX_new();
	CHECK(slib != NULL && keyless_provider_register(slib) == 0,
	    "keyless provider registered in its own library context");
	if (slib == NULL)
		TEST_EXIT();
	for (k = 0; k < K_MAX; k++)
		kpks[k] = keyless_pkey_from_cert(slib, certs[k],
		    (uint8_t)(k + 1));

	test_pkey();
	for (k = 0; k < K_MAX; k++)
		if (kpks[k] == NULL)
			TEST_EXIT();
	test_sign();
	for (i = 0; i < sizeof(hs_cases) / sizeof(hs_cases[0]); i++)
		test_handshake(&hs_cases[i]);

	for (k = 0; k < K_MAX; k++) {
		EVP_PKEY_free(kpks[k]);
		X509_free(certs[k]);
		EVP_PKEY_free(keys[k]);
	}
	/*
	 * slib stays, as in the master, for the life of the process: the
	 * providers loaded by keyless_provider_register() hold references
	 * that OpenSSL 3.0 drops only in OSSL_PROVIDER_unload().
	 */
	TEST_EXIT();
}
