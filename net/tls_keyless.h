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
 * A keyless private key for libssl: a small built-in OpenSSL 3 provider
 * ("keyless") with KEYMGMT and SIGNATURE for RSA and EC keys.  The key
 * object holds only the public key from the certificate and a key id; the
 * signature is made by whoever the transport function asks (in popsep: the
 * session monitor, which relays to the key process).  Runs in the master
 * (building the SSL_CTX) and in the network child (signing); neither ever
 * holds private key material.
 */

#ifndef POPSEP_TLS_KEYLESS_H
#define POPSEP_TLS_KEYLESS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* TLS SignatureScheme code points (RFC 8446 4.2.3) that popsep uses. */
#define TLS_SIG_RSA_PKCS1_SHA256	0x0401
#define TLS_SIG_RSA_PKCS1_SHA384	0x0501
#define TLS_SIG_RSA_PKCS1_SHA512	0x0601
#define TLS_SIG_ECDSA_SHA256		0x0403
#define TLS_SIG_ECDSA_SHA384		0x0503
#define TLS_SIG_ECDSA_SHA512		0x0603
#define TLS_SIG_RSA_PSS_RSAE_SHA256	0x0804
#define TLS_SIG_RSA_PSS_RSAE_SHA384	0x0805
#define TLS_SIG_RSA_PSS_RSAE_SHA512	0x0806

struct tls_sign_req {
	uint8_t		 key_id;
	uint16_t	 scheme;	/* TLS_SIG_* */
	const uint8_t	*tbs;		/* the to-be-signed bytes, not a hash */
	size_t		 tbs_len;
};

/*
 * Returns 0 and fills sig (*sig_len in: room, out: length) or -1.
 */
typedef int (*keyless_sign_fn)(void *, const struct tls_sign_req *,
	    uint8_t *, size_t *);

int	 keyless_provider_register(OSSL_LIB_CTX *);
EVP_PKEY *keyless_pkey_from_cert(OSSL_LIB_CTX *, X509 *, uint8_t);
void	 keyless_set_transport(keyless_sign_fn, void *);

#endif /* POPSEP_TLS_KEYLESS_H */
