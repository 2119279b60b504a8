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
 * libFuzzer target for the key process's signing policy,
 * privsep/keysign.c: a compromised network child chooses the signature
 * scheme and every to-be-signed byte.  The input is
 *
 *	byte 0		bit 0: the key, EC P-256 (0) or RSA 2048 (1)
 *	bytes 1-2	the scheme, big-endian; with bit 1 of byte 0 set,
 *			byte 1 instead picks one of the schemes TLS uses
 *	the rest	the to-be-signed bytes
 *
 * The two keys are made once, at the first input.  keysign_check() may
 * answer KEY_SIGN_OK only for the two layouts bound to TLS server
 * authentication, derived here from the RFCs rather than from keysign.c:
 * the TLS 1.3 server CertificateVerify content (RFC 8446 4.4.3: 64
 * spaces, "TLS 1.3, server CertificateVerify", a zero byte and a
 * SHA-256 or SHA-384 transcript hash), with a PSS or, for the key's own
 * curve, ECDSA scheme; or the TLS 1.2 ECDHE ServerKeyExchange signed
 * content (RFC 5246 7.4.3, RFC 8422 5.4: two 32-byte randoms, named_curve,
 * a known group, the point's length and the point, nothing after; an
 * uncompressed point on a NIST curve).  Never SHA-1 or MD5, never a
 * scheme of the other key type, and the refusal always gives a reason.
 * A sample of the accepted requests is also signed, and the signature
 * verified.  Runs in no process of the daemon.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "keysign.h"
#include "params.h"
#include "tls_keyless.h"
#include "fuzz.h"

static EVP_PKEY	*ec_key, *rsa_key;
static unsigned	 signed_count;

static const uint16_t tls_schemes[] = {
	0x0201, 0x0203, 0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0603,
	0x0804, 0x0805, 0x0806, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b,
	0x0101, 0x0202, 0x0402, 0x0502, 0x0602, 0x0420, 0x081a, 0x081b,
};

/* RFC 8446 4.4.3, written out from the RFC. */
static int
is_tls13_server_cv(const uint8_t *p, size_t n)
{
	static const char	ctx[] = "TLS 1.3, server CertificateVerify";
	size_t			i, head = 64 + strlen(ctx) + 1;

	if (n != head + 32 && n != head + 48)
		return 0;
	for (i = 0; i < 64; i++)
		if (p[i] != ' ')
			return 0;
	return memcmp(p + 64, ctx, strlen(ctx)) == 0 &&
	    p[64 + strlen(ctx)] == 0;
}

/* RFC 8422 5.4 ServerECDHParams after the randoms; RFC 7748 key sizes. */
static int
is_tls12_ske(const uint8_t *p, size_t n)
{
	size_t		plen;
	int		nist;
	unsigned	group;

	if (n < 64 + 4 || p[64] != 3)		/* named_curve */
		return 0;
	group = (unsigned)p[65] << 8 | p[66];
	switch (group) {
	case 23:	plen = 65;	nist = 1;	break;	/* secp256r1 */
	case 24:	plen = 97;	nist = 1;	break;	/* secp384r1 */
	case 25:	plen = 133;	nist = 1;	break;	/* secp521r1 */
	case 29:	plen = 32;	nist = 0;	break;	/* x25519 */
	case 30:	plen = 56;	nist = 0;	break;	/* x448 */
	default:
		return 0;
	}
	if (p[67] != plen || n != 68 + plen)
		return 0;
	return !nist || p[68] == 4;
}

static void
make_keys(void)
{
	if ((ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	    (size_t)2048)) == NULL)
		abort();
}

/* An accepted request must also sign, and the signature verify. */
static void
sign_and_verify(EVP_PKEY *key, uint16_t scheme, const char *md,
    const uint8_t *tbs, size_t n)
{
	EVP_MD_CTX	*v;
	EVP_PKEY_CTX	*pctx = NULL;
	uint8_t		 sig[KEY_SIG_MAX];
	size_t		 slen = sizeof(sig);
	const char	*why = NULL;

	ASSERT(keysign_sign(key, scheme, tbs, n, sig, &slen, &why) ==
	    KEY_SIGN_OK);
	ASSERT(slen > 0 && slen <= sizeof(sig));
	if ((v = EVP_MD_CTX_new()) == NULL)
		abort();
	ASSERT(EVP_DigestVerifyInit_ex(v, &pctx, md, NULL, NULL, key,
	    NULL) == 1);
	if ((scheme & 0xff00) == 0x0800) {
		ASSERT(EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PSS_PADDING) == 1);
		ASSERT(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
		    RSA_PSS_SALTLEN_DIGEST) == 1);
	}
	ASSERT(EVP_DigestVerify(v, sig, slen, tbs, n) == 1);
	EVP_MD_CTX_free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EVP_PKEY	*key;
	const uint8_t	*tbs;
	const char	*why = (const char *)1, *md;
	size_t		 n;
	uint16_t	 scheme;
	int		 is_rsa, rc, hash, sig, t13, t12;

	if (size < 3)
		return 0;
	if (ec_key == NULL)
		make_keys();
	is_rsa = data[0] & 1;
	key = is_rsa ? rsa_key : ec_key;
	if (data[0] & 2)
		scheme = tls_schemes[data[1] % (sizeof(tls_schemes) /
		    sizeof(tls_schemes[0]))];
	else
		scheme = (uint16_t)(data[1] << 8 | data[2]);
	tbs = data + 3;
	n = size - 3;

	rc = keysign_check(key, scheme, n > 0 ? tbs : NULL, n, &why);
	if (rc != KEY_SIGN_OK) {
		ASSERT(rc == KEY_SIGN_REFUSED);
		ASSERT(why != NULL && why[0] != '\0');
		return 0;
	}
	ASSERT(why == NULL);

	/* RFC 8446 4.2.3: the hash, then the algorithm. */
	hash = scheme >> 8;
	sig = scheme & 0xff;
	t13 = is_tls13_server_cv(tbs, n);
	t12 = is_tls12_ske(tbs, n);
	ASSERT(t13 != t12);
	if ((scheme & 0xff00) == 0x0800) {
		/* rsa_pss_rsae_sha256..512 only, on an RSA key. */
		ASSERT(is_rsa && sig >= 0x04 && sig <= 0x06);
		md = sig == 0x04 ? "SHA2-256" : sig == 0x05 ? "SHA2-384" :
		    "SHA2-512";
	} else {
		ASSERT(hash >= 0x04 && hash <= 0x06);	/* SHA-256..512 */
		md = hash == 0x04 ? "SHA2-256" : hash == 0x05 ? "SHA2-384" :
		    "SHA2-512";
		if (sig == 0x01) {
			/* PKCS#1 v1.5: never in TLS 1.3. */
			ASSERT(is_rsa && t12);
		} else {
			ASSERT(sig == 0x03 && !is_rsa);
			/* In TLS 1.3 the scheme names the curve: P-256. */
			ASSERT(!t13 || scheme == 0x0403);
		}
	}
	/* Signing costs; a sample of what is accepted is enough. */
	if (signed_count++ % 64 == 0)
		sign_and_verify(key, scheme, md, tbs, n);
	return 0;
}
