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
 * Runs in the master or the inetd-mode monitor, as root, before any client
 * byte is read.  Its inputs are certificate chains in PEM, which the key
 * process read from the files in the configuration; it never sees a
 * private key.  The settings below are chosen so that one handshake needs
 * exactly one signature and nothing else of the key: ECDHE only (no RSA
 * key transport, which would need a decryption oracle), no renegotiation,
 * no session tickets or cache (a resumed session would need no signature,
 * but would make the key process's one-per-connection count meaningless
 * to reason about; POP3 clients reconnect rarely enough not to need it).
 */

#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>

#include "log.h"
#include "tls.h"
#include "tls_keyless.h"

static OSSL_LIB_CTX	*tls_libctx;

static int	add_chain(SSL_CTX *, const char *, size_t, uint8_t, int *);

/*
 * OpenSSL keeps one certificate per key type: a second RSA (or EC) one
 * would silently replace the first, so it is refused instead (*seen holds
 * the types already added).
 */
static int
add_chain(SSL_CTX *ctx, const char *pem, size_t len, uint8_t id, int *seen)
{
	EVP_PKEY		*pub;
	int			 type;
	BIO			*bio;
	X509			*leaf = NULL, *x;
	STACK_OF(X509)		*chain;
	EVP_PKEY		*pk = NULL;
	int			 rv = -1;

	if ((chain = sk_X509_new_null()) == NULL)
		return -1;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		goto out;
	if ((leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		log_warnx("key %u: no certificate", id);
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			goto out;
		}
	ERR_clear_error();	/* the end of the PEM stream */
	pub = X509_get0_pubkey(leaf);
	type = pub == NULL ? 0 : EVP_PKEY_is_a(pub, "RSA") ? 1 :
	    EVP_PKEY_is_a(pub, "EC") ? 2 : 0;
	if (type != 0 && (*seen & type) != 0) {
		log_warnx("certificate %u: a second %s certificate; popsep "
		    "serves at most one RSA and one EC certificate", id,
		    type == 1 ? "RSA" : "EC");
		goto out;
	}
	*seen |= type;
	if ((pk = keyless_pkey_from_cert(tls_libctx, leaf, id)) == NULL) {
		log_warnx("key %u: unsupported certificate key type", id);
		goto out;
	}
	if (SSL_CTX_use_cert_and_key(ctx, leaf, pk, chain, 1) != 1) {
		log_warnx("key %u: certificate rejected: %s", id,
		    ERR_reason_error_string(ERR_peek_last_error()));
		goto out;
	}
	rv = 0;
 out:
	EVP_PKEY_free(pk);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	BIO_free(bio);
	return rv;
}

SSL_CTX *
tls_ctx_new(const struct config *cf, const char * const *pems,
    const size_t *lens, size_t n)
{
	SSL_CTX	*ctx;
	size_t	 i;
	int	 seen = 0;

	if (tls_libctx == NULL) {
		if ((tls_libctx = OSSL_LIB_CTX_new()) == NULL)
			return NULL;
		if (keyless_provider_register(tls_libctx) == -1) {
			log_warnx("cannot register the keyless provider");
			return NULL;
		}
	}
	if ((ctx = SSL_CTX_new_ex(tls_libctx, NULL, TLS_server_method()))
	    == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, cf->tls13_only ? TLS1_3_VERSION :
	    TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (SSL_CTX_set_cipher_list(ctx, cf->tls_ciphers) != 1) {
		log_warnx("tls-cipher-list \"%s\" selects nothing",
		    cf->tls_ciphers);
		goto fail;
	}
	if (cf->tls_ciphersuites[0] != '\0' &&
	    SSL_CTX_set_ciphersuites(ctx, cf->tls_ciphersuites) != 1) {
		log_warnx("tls-ciphersuites \"%s\" selects nothing",
		    cf->tls_ciphersuites);
		goto fail;
	}
	for (i = 0; i < n; i++)
		if (add_chain(ctx, pems[i], lens[i], (uint8_t)i, &seen) == -1)
			goto fail;
#ifdef POPSEP_BENCH_KEY_IN_CHILD
	/*
	 * Only in the benchmark's comparison build (make bench), never in
	 * popsepd: the key in the context, as other servers do, to measure
	 * what delegation to the key process costs.
	 */
	for (i = 0; i < n; i++)
		if (SSL_CTX_use_PrivateKey_file(ctx, cf->key_file[i],
		    SSL_FILETYPE_PEM) != 1)
			goto fail;
#endif
	return ctx;
 fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void
tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}
