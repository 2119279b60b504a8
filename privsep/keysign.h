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
 * The key process's signing policy and the signing itself, as pure
 * functions: no I/O, no state.  Runs in the key process only, on requests
 * that came from a network child through its session monitor; it trusts
 * nothing in them but the key it is handed by its caller.
 */

#ifndef POPSEP_KEYSIGN_H
#define POPSEP_KEYSIGN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "keyproc.h"

/*
 * KEY_SIGN_OK if the request is an allowed TLS server handshake signature
 * for this key; otherwise KEY_SIGN_REFUSED and *why_r names the reason (a
 * static string).
 */
int	keysign_check(EVP_PKEY *, uint16_t, const uint8_t *, size_t,
	    const char **);

/*
 * Checks again, then signs: KEY_SIGN_OK, KEY_SIGN_REFUSED or
 * KEY_SIGN_FAILED (OpenSSL's errors stay queued for the caller to log).
 * *sig_len is the room on entry and the signature's length on return.
 */
int	keysign_sign(EVP_PKEY *, uint16_t, const uint8_t *, size_t,
	    uint8_t *, size_t *, const char **);

#endif /* POPSEP_KEYSIGN_H */
