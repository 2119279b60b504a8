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
 * The "keyless" OpenSSL 3 provider: libssl gets an EVP_PKEY that holds
 * only the certificate's public key and a key id, and every signature it
 * asks for goes through the transport function to the key process.
 *
 * Runs in the master, which builds the SSL_CTX with keyless keys before it
 * forks, and in the network child, which signs through the transport (in
 * popsep: a MSG_KEY_REQ_SIGN relayed by the session monitor).  It trusts
 * libssl and libcrypto in its own process and nothing it receives; the key
 * process checks every request again and never takes this code's word for
 * what the bytes are.
 *
 * It must never hold, import or export private key material, never hand a
 * digest instead of the to-be-signed bytes to the transport, never contact
 * the transport from an init (libssl probes digests with it) and never
 * sign with anything but SHA-256/384/512.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/proverr.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "log.h"
#include "params.h"
#include "tls_keyless.h"

#define KL_PROV_NAME	"keyless"
#define KL_PROPS	"provider=keyless"
#define KL_PARAM_ID	"keyless-id"	/* not an OpenSSL name: ours only */

/* The RSA names must equal the default provider's: libssl uses is_a(). */
#define KL_RSA_NAMES	"RSA:rsaEncryption:1.2.840.113549.1.1.1"
#define KL_EC_NAMES	"EC:id-ecPublicKey:1.2.840.10045.2.1"

enum kl_type {
	KL_RSA = 1,
	KL_EC,
};

/* libssl asks for salt length "digest"; anything else is not TLS. */
#define KL_SALT_DIGEST	(-1)

struct kl_provctx {
	OSSL_LIB_CTX		*libctx;
};

/*
 * A keyless key.  The shadow is a public-only key in the default provider
 * that answers every question about the key; only signing comes here.
 */
struct kl_key {
	OSSL_LIB_CTX		*libctx;
	enum kl_type		 type;
	EVP_PKEY		*shadow;
	int			 has_id;
	uint8_t			 id;
	size_t			 max_size;
};

struct kl_sigctx {
	OSSL_LIB_CTX		*libctx;
	enum kl_type		 type;
	struct kl_key		*key;	/* the EVP_PKEY_CTX holds its ref */
	int			 md_nid;
	int			 md_size;
	int			 pad;
	int			 saltlen;
	int			 mgf1_nid;	/* 0: the signing digest */
	size_t			 tbs_len;
	uint8_t			 tbs[KEY_TBS_MAX];
};

static OSSL_provider_init_fn			 kl_provider_init;
static OSSL_FUNC_provider_query_operation_fn	 kl_query;
static OSSL_FUNC_provider_teardown_fn		 kl_teardown;

static OSSL_FUNC_keymgmt_new_fn			 kl_rsa_new;
static OSSL_FUNC_keymgmt_new_fn			 kl_ec_new;
static OSSL_FUNC_keymgmt_free_fn		 kl_key_free;
static OSSL_FUNC_keymgmt_dup_fn			 kl_key_dup;
static OSSL_FUNC_keymgmt_has_fn			 kl_key_has;
static OSSL_FUNC_keymgmt_match_fn		 kl_key_match;
static OSSL_FUNC_keymgmt_import_fn		 kl_key_import;
static OSSL_FUNC_keymgmt_import_types_fn	 kl_rsa_import_types;
static OSSL_FUNC_keymgmt_import_types_fn	 kl_ec_import_types;
static OSSL_FUNC_keymgmt_export_fn		 kl_key_export;
static OSSL_FUNC_keymgmt_export_types_fn	 kl_rsa_export_types;
static OSSL_FUNC_keymgmt_export_types_fn	 kl_ec_export_types;
static OSSL_FUNC_keymgmt_get_params_fn		 kl_key_get_params;
static OSSL_FUNC_keymgmt_gettable_params_fn	 kl_rsa_gettable_params;
static OSSL_FUNC_keymgmt_gettable_params_fn	 kl_ec_gettable_params;
static OSSL_FUNC_keymgmt_query_operation_name_fn kl_rsa_query_name;
static OSSL_FUNC_keymgmt_query_operation_name_fn kl_ec_query_name;

static OSSL_FUNC_signature_newctx_fn		 kl_rsa_sig_newctx;
static OSSL_FUNC_signature_newctx_fn		 kl_ec_sig_newctx;
static OSSL_FUNC_signature_freectx_fn		 kl_sig_freectx;
static OSSL_FUNC_signature_dupctx_fn		 kl_sig_dupctx;
static OSSL_FUNC_signature_digest_sign_init_fn	 kl_sig_init;
static OSSL_FUNC_signature_digest_sign_update_fn kl_sig_update;
static OSSL_FUNC_signature_digest_sign_final_fn	 kl_sig_final;
static OSSL_FUNC_signature_digest_sign_fn	 kl_sig_oneshot;
static OSSL_FUNC_signature_set_ctx_params_fn	 kl_sig_set_params;
static OSSL_FUNC_signature_settable_ctx_params_fn kl_sig_settable_params;

static void	*kl_key_new(void *, enum kl_type);
static int	 kl_has_private_params(const OSSL_PARAM *);
static void	*kl_sig_newctx(void *, enum kl_type);
static int	 kl_md_nid(OSSL_LIB_CTX *, const char *);
static uint16_t	 kl_scheme(const struct kl_sigctx *);
static int	 kl_sign(struct kl_sigctx *, uint8_t *, size_t *, size_t,
		    const uint8_t *, size_t);

/* TLS 1.2 and 1.3 name the same hash/signature pairs with these codes. */
static const struct {
	enum kl_type	 type;
	int		 pad;
	int		 md_nid;
	uint16_t	 scheme;
} kl_schemes[] = {
	{ KL_RSA, RSA_PKCS1_PSS_PADDING, NID_sha256,
	    TLS_SIG_RSA_PSS_RSAE_SHA256 },
	{ KL_RSA, RSA_PKCS1_PSS_PADDING, NID_sha384,
	    TLS_SIG_RSA_PSS_RSAE_SHA384 },
	{ KL_RSA, RSA_PKCS1_PSS_PADDING, NID_sha512,
	    TLS_SIG_RSA_PSS_RSAE_SHA512 },
	{ KL_RSA, RSA_PKCS1_PADDING, NID_sha256, TLS_SIG_RSA_PKCS1_SHA256 },
	{ KL_RSA, RSA_PKCS1_PADDING, NID_sha384, TLS_SIG_RSA_PKCS1_SHA384 },
	{ KL_RSA, RSA_PKCS1_PADDING, NID_sha512, TLS_SIG_RSA_PKCS1_SHA512 },
	{ KL_EC, 0, NID_sha256, TLS_SIG_ECDSA_SHA256 },
	{ KL_EC, 0, NID_sha384, TLS_SIG_ECDSA_SHA384 },
	{ KL_EC, 0, NID_sha512, TLS_SIG_ECDSA_SHA512 },
};

static keyless_sign_fn	 kl_transport;
static void		*kl_transport_arg;

static const OSSL_PARAM kl_rsa_import_tbl[] = {
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_uint(KL_PARAM_ID, NULL),
	OSSL_PARAM_END
};

static const OSSL_PARAM kl_ec_import_tbl[] = {
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	    NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_uint(KL_PARAM_ID, NULL),
	OSSL_PARAM_END
};

static const OSSL_PARAM kl_rsa_export_tbl[] = {
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM kl_ec_export_tbl[] = {
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	    NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM kl_rsa_gettable_tbl[] = {
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM kl_ec_gettable_tbl[] = {
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	    NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
	OSSL_PARAM_END
};

/*
 * pad-mode comes as an int when libssl calls EVP_PKEY_CTX_set_rsa_padding
 * (the ctrl-to-param translation) and as a string from other callers.
 */
static const OSSL_PARAM kl_sig_settable_tbl[] = {
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
	OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
	OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_DISPATCH kl_rsa_keymgmt_fns[] = {
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))kl_rsa_new },
	{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))kl_key_free },
	{ OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))kl_key_dup },
	{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))kl_key_has },
	{ OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))kl_key_match },
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))kl_key_import },
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES,
	    (void (*)(void))kl_rsa_import_types },
	{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))kl_key_export },
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES,
	    (void (*)(void))kl_rsa_export_types },
	{ OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))kl_key_get_params },
	{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,
	    (void (*)(void))kl_rsa_gettable_params },
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,
	    (void (*)(void))kl_rsa_query_name },
	{ 0, NULL }
};

static const OSSL_DISPATCH kl_ec_keymgmt_fns[] = {
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))kl_ec_new },
	{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))kl_key_free },
	{ OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))kl_key_dup },
	{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))kl_key_has },
	{ OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))kl_key_match },
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))kl_key_import },
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES,
	    (void (*)(void))kl_ec_import_types },
	{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))kl_key_export },
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES,
	    (void (*)(void))kl_ec_export_types },
	{ OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))kl_key_get_params },
	{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,
	    (void (*)(void))kl_ec_gettable_params },
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,
	    (void (*)(void))kl_ec_query_name },
	{ 0, NULL }
};

static const OSSL_DISPATCH kl_rsa_sig_fns[] = {
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))kl_rsa_sig_newctx },
	{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))kl_sig_freectx },
	{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))kl_sig_dupctx },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))kl_sig_init },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE,
	    (void (*)(void))kl_sig_update },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL,
	    (void (*)(void))kl_sig_final },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))kl_sig_oneshot },
	{ OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS,
	    (void (*)(void))kl_sig_set_params },
	{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
	    (void (*)(void))kl_sig_settable_params },
	{ 0, NULL }
};

static const OSSL_DISPATCH kl_ec_sig_fns[] = {
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))kl_ec_sig_newctx },
	{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))kl_sig_freectx },
	{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))kl_sig_dupctx },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))kl_sig_init },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE,
	    (void (*)(void))kl_sig_update },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL,
	    (void (*)(void))kl_sig_final },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))kl_sig_oneshot },
	{ OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS,
	    (void (*)(void))kl_sig_set_params },
	{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
	    (void (*)(void))kl_sig_settable_params },
	{ 0, NULL }
};

static const OSSL_ALGORITHM kl_keymgmt_algs[] = {
	{ KL_RSA_NAMES, KL_PROPS, kl_rsa_keymgmt_fns, "popsep keyless RSA" },
	{ KL_EC_NAMES, KL_PROPS, kl_ec_keymgmt_fns, "popsep keyless EC" },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM kl_sig_algs[] = {
	{ KL_RSA_NAMES, KL_PROPS, kl_rsa_sig_fns, "popsep keyless RSA" },
	{ "ECDSA", KL_PROPS, kl_ec_sig_fns, "popsep keyless ECDSA" },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_DISPATCH kl_provider_fns[] = {
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))kl_query },
	{ OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))kl_teardown },
	{ 0, NULL }
};

int
keyless_provider_register(OSSL_LIB_CTX *libctx)
{
	/*
	 * The default library context is shared with every other OpenSSL
	 * user of the process; "RSA" and "EC" fetches there must never land
	 * on a provider that cannot do the private half.
	 */
	if (libctx == NULL) {
		log_warnx("%s: needs its own library context", __func__);
		return -1;
	}
	if (OSSL_PROVIDER_add_builtin(libctx, KL_PROV_NAME,
	    kl_provider_init) != 1 ||
	    OSSL_PROVIDER_load(libctx, KL_PROV_NAME) == NULL ||
	    OSSL_PROVIDER_load(libctx, "default") == NULL) {
		log_warnx("%s: cannot load the providers", __func__);
		return -1;
	}
	/*
	 * Without this, an unqualified fetch of the "EC" key manager (key
	 * shares, ECDHE) may pick the keyless one, which cannot generate
	 * keys, and handshakes fail with "no suitable key share".
	 */
	if (EVP_set_default_properties(libctx, "?provider=default") != 1) {
		log_warnx("%s: cannot set the default properties", __func__);
		return -1;
	}
	return 0;
}

EVP_PKEY *
keyless_pkey_from_cert(OSSL_LIB_CTX *libctx, X509 *cert, uint8_t key_id)
{
	EVP_PKEY	*pub, *pkey = NULL;
	EVP_PKEY_CTX	*pctx = NULL;
	OSSL_PARAM	*pubp = NULL, *allp = NULL;
	OSSL_PARAM	 idp[2];
	unsigned int	 id = key_id;
	const char	*name;

	if (libctx == NULL || cert == NULL)
		return NULL;
	if ((pub = X509_get0_pubkey(cert)) == NULL) {
		log_warnx("%s: certificate without a usable public key",
		    __func__);
		return NULL;
	}
	if (EVP_PKEY_is_a(pub, "RSA"))
		name = "RSA";
	else if (EVP_PKEY_is_a(pub, "EC"))
		name = "EC";
	else {
		log_warnx("%s: key type %s not supported", __func__,
		    EVP_PKEY_get0_type_name(pub));
		return NULL;
	}

	/* Only the public selection: nothing private can come along. */
	if (EVP_PKEY_todata(pub, EVP_PKEY_PUBLIC_KEY, &pubp) != 1)
		goto fail;
	idp[0] = OSSL_PARAM_construct_uint(KL_PARAM_ID, &id);
	idp[1] = OSSL_PARAM_construct_end();
	if ((allp = OSSL_PARAM_merge(pubp, idp)) == NULL)
		goto fail;
	if ((pctx = EVP_PKEY_CTX_new_from_name(libctx, name,
	    KL_PROPS)) == NULL)
		goto fail;
	if (EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, allp) != 1) {
		pkey = NULL;
		goto fail;
	}
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(allp);
	OSSL_PARAM_free(pubp);
	return pkey;

 fail:
	log_warnx("%s: cannot build a keyless %s key", __func__, name);
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(allp);
	OSSL_PARAM_free(pubp);
	return NULL;
}

void
keyless_set_transport(keyless_sign_fn fn, void *arg)
{
	kl_transport = fn;
	kl_transport_arg = arg;
}

/* Provider */

static int
kl_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
    const OSSL_DISPATCH **out, void **provctx_r)
{
	OSSL_FUNC_core_get_libctx_fn	*get_libctx = NULL;
	struct kl_provctx		*pc;

	for (; in->function_id != 0; in++) {
		if (in->function_id == OSSL_FUNC_CORE_GET_LIBCTX)
			get_libctx = OSSL_FUNC_core_get_libctx(in);
	}
	if (get_libctx == NULL)
		return 0;
	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return 0;
	/*
	 * A built-in provider lives in the same libcrypto as its core, so
	 * the opaque core context is the library context itself (the
	 * default provider relies on the same thing).
	 */
	pc->libctx = (OSSL_LIB_CTX *)get_libctx(handle);
	*out = kl_provider_fns;
	*provctx_r = pc;
	return 1;
}

static const OSSL_ALGORITHM *
kl_query(void *provctx, int operation_id, int *no_cache)
{
	(void)provctx;
	*no_cache = 0;
	switch (operation_id) {
	case OSSL_OP_KEYMGMT:
		return kl_keymgmt_algs;
	case OSSL_OP_SIGNATURE:
		return kl_sig_algs;
	}
	/* No decryption, no key exchange: nothing else may reach here. */
	return NULL;
}

static void
kl_teardown(void *provctx)
{
	free(provctx);
}

/* Key management */

static void *
kl_key_new(void *provctx, enum kl_type type)
{
	struct kl_provctx	*pc = provctx;
	struct kl_key		*k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	k->libctx = pc->libctx;
	k->type = type;
	return k;
}

static void *
kl_rsa_new(void *provctx)
{
	return kl_key_new(provctx, KL_RSA);
}

static void *
kl_ec_new(void *provctx)
{
	return kl_key_new(provctx, KL_EC);
}

static void
kl_key_free(void *keydata)
{
	struct kl_key	*k = keydata;

	if (k == NULL)
		return;
	EVP_PKEY_free(k->shadow);
	free(k);
}

static void *
kl_key_dup(const void *from, int selection)
{
	const struct kl_key	*src = from;
	struct kl_key		*k;

	(void)selection;
	if (src == NULL || (k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	*k = *src;
	if (k->shadow != NULL && EVP_PKEY_up_ref(k->shadow) != 1) {
		free(k);
		return NULL;
	}
	return k;
}

static int
kl_key_has(const void *keydata, int selection)
{
	const struct kl_key	*k = keydata;

	if (k == NULL || k->shadow == NULL)
		return 0;
	/*
	 * "Has a private key" means "can sign": true once a key id names
	 * the key in the key process, although no private half is here.
	 */
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && !k->has_id)
		return 0;
	return 1;
}

static int
kl_key_match(const void *keydata1, const void *keydata2, int selection)
{
	const struct kl_key	*a = keydata1, *b = keydata2;

	if (a == NULL || b == NULL || a->shadow == NULL ||
	    b->shadow == NULL || a->type != b->type)
		return 0;
	/*
	 * The private half of a keypair is implied by its public half, and
	 * comparing the public halves is how X509_check_private_key() and
	 * SSL_CTX_check_private_key() tie the certificate to this key.
	 */
	if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0)
		return EVP_PKEY_eq(a->shadow, b->shadow) == 1;
	if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) != 0 &&
	    a->type == KL_EC)
		return EVP_PKEY_parameters_eq(a->shadow, b->shadow) == 1;
	return 1;
}

/* The names of private parts in the default provider's RSA and EC keys. */
static int
kl_has_private_params(const OSSL_PARAM *params)
{
	static const char *const priv[] = {
		OSSL_PKEY_PARAM_PRIV_KEY,
		OSSL_PKEY_PARAM_RSA_D,
		OSSL_PKEY_PARAM_RSA_FACTOR1,
		OSSL_PKEY_PARAM_RSA_FACTOR2,
		OSSL_PKEY_PARAM_RSA_EXPONENT1,
		OSSL_PKEY_PARAM_RSA_EXPONENT2,
		OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	};
	size_t	 i;

	for (i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
		if (OSSL_PARAM_locate_const(params, priv[i]) != NULL)
			return 1;
	return 0;
}

static int
kl_key_import(void *keydata, int selection, const OSSL_PARAM params[])
{
	struct kl_key		*k = keydata;
	EVP_PKEY_CTX		*pctx = NULL;
	EVP_PKEY		*shadow = NULL;
	OSSL_PARAM		*copy = NULL;
	const OSSL_PARAM	*p;
	unsigned int		 id = 0;
	int			 max_size;

	(void)selection;
	if (k == NULL || k->shadow != NULL || params == NULL)
		return 0;
	/*
	 * EVP_PKEY_eq() exports the other key here with every selection bit
	 * set; a public key passes, a private key is refused outright so
	 * that no private material is ever copied into this process's keys.
	 */
	if (kl_has_private_params(params)) {
		ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_KEY);
		return 0;
	}
	/* Without an id the key can be compared but never sign. */
	if ((p = OSSL_PARAM_locate_const(params, KL_PARAM_ID)) != NULL &&
	    (OSSL_PARAM_get_uint(p, &id) != 1 || id > UINT8_MAX))
		return 0;

	/* EVP_PKEY_fromdata() takes a writable array; give it a copy. */
	if ((copy = OSSL_PARAM_dup(params)) == NULL)
		return 0;
	if ((pctx = EVP_PKEY_CTX_new_from_name(k->libctx,
	    k->type == KL_RSA ? "RSA" : "EC", "provider=default")) == NULL ||
	    EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &shadow, EVP_PKEY_PUBLIC_KEY, copy) != 1 ||
	    (max_size = EVP_PKEY_get_size(shadow)) <= 0) {
		EVP_PKEY_free(shadow);
		EVP_PKEY_CTX_free(pctx);
		OSSL_PARAM_free(copy);
		return 0;
	}
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(copy);
	k->shadow = shadow;
	k->max_size = (size_t)max_size;
	if (p != NULL) {
		k->id = (uint8_t)id;
		k->has_id = 1;
	}
	return 1;
}

static const OSSL_PARAM *
kl_rsa_import_types(int selection)
{
	(void)selection;
	return kl_rsa_import_tbl;
}

static const OSSL_PARAM *
kl_ec_import_types(int selection)
{
	(void)selection;
	return kl_ec_import_tbl;
}

static int
kl_key_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct kl_key	*k = keydata;

	/*
	 * Refusing any private selection is what makes EVP fall back to our
	 * own SIGNATURE: if the public half were handed out here, EVP would
	 * move the key into the default provider and sign there with a key
	 * that has no private half ("missing private key").
	 */
	if (k == NULL || k->shadow == NULL ||
	    (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
		return 0;
	return EVP_PKEY_export(k->shadow, selection, cb, cbarg);
}

static const OSSL_PARAM *
kl_rsa_export_types(int selection)
{
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
		return NULL;
	return kl_rsa_export_tbl;
}

static const OSSL_PARAM *
kl_ec_export_types(int selection)
{
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
		return NULL;
	return kl_ec_export_tbl;
}

static int
kl_key_get_params(void *keydata, OSSL_PARAM params[])
{
	struct kl_key	*k = keydata;

	/*
	 * The shadow knows bits, security bits, the maximum signature size
	 * (libssl reserves that much), the group and the encoded point.
	 */
	if (k == NULL || k->shadow == NULL)
		return 0;
	return EVP_PKEY_get_params(k->shadow, params);
}

static const OSSL_PARAM *
kl_rsa_gettable_params(void *provctx)
{
	(void)provctx;
	return kl_rsa_gettable_tbl;
}

static const OSSL_PARAM *
kl_ec_gettable_params(void *provctx)
{
	(void)provctx;
	return kl_ec_gettable_tbl;
}

static const char *
kl_rsa_query_name(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE ? "RSA" : NULL;
}

static const char *
kl_ec_query_name(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE ? "ECDSA" : NULL;
}

/* Signature */

static void *
kl_sig_newctx(void *provctx, enum kl_type type)
{
	struct kl_provctx	*pc = provctx;
	struct kl_sigctx	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->libctx = pc->libctx;
	c->type = type;
	return c;
}

static void *
kl_rsa_sig_newctx(void *provctx, const char *propq)
{
	(void)propq;
	return kl_sig_newctx(provctx, KL_RSA);
}

static void *
kl_ec_sig_newctx(void *provctx, const char *propq)
{
	(void)propq;
	return kl_sig_newctx(provctx, KL_EC);
}

static void
kl_sig_freectx(void *ctx)
{
	free(ctx);
}

/* EVP_DigestSignFinal() signs with a copy, so the tbs is copied too. */
static void *
kl_sig_dupctx(void *ctx)
{
	struct kl_sigctx	*src = ctx, *c;

	if ((c = malloc(sizeof(*c))) == NULL)
		return NULL;
	memcpy(c, src, sizeof(*c));
	return c;
}

static int
kl_md_nid(OSSL_LIB_CTX *libctx, const char *mdname)
{
	EVP_MD	*md;
	int	 nid;

	if (mdname == NULL || (md = EVP_MD_fetch(libctx, mdname,
	    NULL)) == NULL)
		return NID_undef;
	nid = EVP_MD_get_type(md);
	EVP_MD_free(md);
	switch (nid) {
	case NID_sha256:
	case NID_sha384:
	case NID_sha512:
		return nid;
	}
	return NID_undef;
}

/*
 * libssl calls this once per candidate digest to learn whether the key
 * can sign with it (EVP_PKEY_digestsign_supports_digest), so it must
 * answer without the transport.  Refusing SHA-1 and MD5-SHA1 here keeps
 * libssl from choosing them at all.
 */
static int
kl_sig_init(void *ctx, const char *mdname, void *provkey,
    const OSSL_PARAM params[])
{
	struct kl_sigctx	*c = ctx;
	struct kl_key		*k = provkey;
	int			 nid;

	if (c == NULL || k == NULL || k->shadow == NULL ||
	    k->type != c->type) {
		ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_KEY);
		return 0;
	}
	if ((nid = kl_md_nid(c->libctx, mdname)) == NID_undef) {
		ERR_raise(ERR_LIB_PROV, PROV_R_DIGEST_NOT_ALLOWED);
		return 0;
	}
	c->key = k;
	c->md_nid = nid;
	c->md_size = nid == NID_sha256 ? 32 : nid == NID_sha384 ? 48 : 64;
	c->pad = c->type == KL_RSA ? RSA_PKCS1_PADDING : 0;
	c->saltlen = KL_SALT_DIGEST;
	c->mgf1_nid = 0;
	c->tbs_len = 0;
	return kl_sig_set_params(c, params);
}

static int
kl_sig_update(void *ctx, const unsigned char *data, size_t len)
{
	struct kl_sigctx	*c = ctx;

	if (c == NULL || c->key == NULL)
		return 0;
	if (len > sizeof(c->tbs) - c->tbs_len) {
		ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_DATA);
		return 0;
	}
	memcpy(c->tbs + c->tbs_len, data, len);
	c->tbs_len += len;
	return 1;
}

static int
kl_sig_final(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
	struct kl_sigctx	*c = ctx;

	if (c == NULL)
		return 0;
	return kl_sign(c, sig, siglen, sigsize, c->tbs, c->tbs_len);
}

static int
kl_sig_oneshot(void *ctx, unsigned char *sig, size_t *siglen,
    size_t sigsize, const unsigned char *tbs, size_t tbs_len)
{
	return kl_sign(ctx, sig, siglen, sigsize, tbs, tbs_len);
}

static int
kl_sig_set_params(void *ctx, const OSSL_PARAM params[])
{
	struct kl_sigctx	*c = ctx;
	const OSSL_PARAM	*p;
	const char		*s, *errstr;
	int			 v;

	if (c == NULL)
		return 0;
	if (params == NULL)
		return 1;

	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
		if (c->type != KL_RSA)
			return 0;
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			if (OSSL_PARAM_get_utf8_string_ptr(p, &s) != 1)
				return 0;
			if (strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0)
				v = RSA_PKCS1_PSS_PADDING;
			else if (strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0)
				v = RSA_PKCS1_PADDING;
			else
				v = -1;
		} else if (OSSL_PARAM_get_int(p, &v) != 1)
			return 0;
		/* Raw, OAEP and X9.31 have no place in a TLS handshake. */
		if (v != RSA_PKCS1_PADDING && v != RSA_PKCS1_PSS_PADDING) {
			ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_PADDING_MODE);
			return 0;
		}
		c->pad = v;
	}

	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL) {
		if (c->type != KL_RSA)
			return 0;
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			if (OSSL_PARAM_get_utf8_string_ptr(p, &s) != 1)
				return 0;
			if (strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0)
				v = KL_SALT_DIGEST;
			else {
				v = (int)strtonum(s, 0, KEY_SIG_MAX, &errstr);
				if (errstr != NULL)
					v = -2;
			}
		} else if (OSSL_PARAM_get_int(p, &v) != 1)
			return 0;
		/*
		 * The key process always uses salt = hash length, as TLS
		 * demands; a request for "max" or "auto" is not TLS.
		 */
		if (v < KL_SALT_DIGEST) {
			ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_SALT_LENGTH);
			return 0;
		}
		c->saltlen = v;
	}

	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) != NULL) {
		if (c->type != KL_RSA ||
		    OSSL_PARAM_get_utf8_string_ptr(p, &s) != 1)
			return 0;
		if ((c->mgf1_nid = kl_md_nid(c->libctx, s)) == NID_undef) {
			ERR_raise(ERR_LIB_PROV, PROV_R_DIGEST_NOT_ALLOWED);
			return 0;
		}
	}
	return 1;
}

static const OSSL_PARAM *
kl_sig_settable_params(void *ctx, void *provctx)
{
	(void)ctx;
	(void)provctx;
	return kl_sig_settable_tbl;
}

/* The TLS SignatureScheme for this request, or 0 if TLS has none. */
static uint16_t
kl_scheme(const struct kl_sigctx *c)
{
	size_t	 i;

	if (c->type == KL_RSA && c->pad == RSA_PKCS1_PSS_PADDING) {
		/* rsa_pss_rsae_*: salt = hash length, MGF1 = the hash. */
		if (c->saltlen != KL_SALT_DIGEST && c->saltlen != c->md_size)
			return 0;
		if (c->mgf1_nid != 0 && c->mgf1_nid != c->md_nid)
			return 0;
	}
	for (i = 0; i < sizeof(kl_schemes) / sizeof(kl_schemes[0]); i++)
		if (kl_schemes[i].type == c->type &&
		    kl_schemes[i].pad == c->pad &&
		    kl_schemes[i].md_nid == c->md_nid)
			return kl_schemes[i].scheme;
	return 0;
}

static int
kl_sign(struct kl_sigctx *c, uint8_t *sig, size_t *siglen, size_t sigsize,
    const uint8_t *tbs, size_t tbs_len)
{
	struct tls_sign_req	 req;
	size_t			 len;

	if (c == NULL || c->key == NULL || siglen == NULL) {
		ERR_raise(ERR_LIB_PROV, PROV_R_NO_KEY_SET);
		return 0;
	}
	if (sig == NULL) {
		*siglen = c->key->max_size;
		return 1;
	}
	if (!c->key->has_id) {
		ERR_raise(ERR_LIB_PROV, PROV_R_NOT_A_PRIVATE_KEY);
		return 0;
	}
	if (tbs == NULL || tbs_len == 0 || tbs_len > KEY_TBS_MAX) {
		log_warnx("%s: %zu bytes to sign, refused", __func__, tbs_len);
		ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_DATA);
		return 0;
	}
	memset(&req, 0, sizeof(req));
	req.key_id = c->key->id;
	req.tbs = tbs;
	req.tbs_len = tbs_len;
	if ((req.scheme = kl_scheme(c)) == 0) {
		log_warnx("%s: no TLS signature scheme for these parameters",
		    __func__);
		ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_PADDING_MODE);
		return 0;
	}
	if (kl_transport == NULL) {
		log_warnx("%s: no signing transport", __func__);
		ERR_raise(ERR_LIB_PROV, PROV_R_FAILED_TO_SIGN);
		return 0;
	}
	len = sigsize;
	if (kl_transport(kl_transport_arg, &req, sig, &len) == -1) {
		log_warnx("%s: key %u scheme 0x%04x: signature refused",
		    __func__, req.key_id, req.scheme);
		ERR_raise(ERR_LIB_PROV, PROV_R_FAILED_TO_SIGN);
		return 0;
	}
	/* The transport's answer is a peer's word: check it. */
	if (len == 0 || len > sigsize) {
		log_warnx("%s: transport returned %zu bytes for %zu", __func__,
		    len, sigsize);
		ERR_raise(ERR_LIB_PROV, PROV_R_FAILED_TO_SIGN);
		return 0;
	}
	*siglen = len;
	return 1;
}
