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
 * SASL pieces for the network child (RFC 5034, RFC 4616): a strict base64
 * decoder for client responses, an encoder for challenges and the PLAIN
 * message splitter.  Their
 * input is client bytes, hostile; every output length is bounded by the
 * caller's buffer, and anything not exactly well formed is refused.
 */

#include <string.h>

#include "pop3.h"

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * RFC 4648 base64, canonical only: a multiple of 4 characters, "="
 * padding only at the end, no other byte (no spaces, no line breaks), and
 * the unused bits of the last group zero.  0, or -1.
 */
int
sasl_b64_decode(const char *in, size_t len, uint8_t *out, size_t outmax,
    size_t *outlen)
{
	size_t		 i, j, pad = 0, o = 0;
	unsigned long	 acc;
	int		 v;

	*outlen = 0;
	if (len % 4 != 0)
		return -1;
	if (len > 0 && in[len - 1] == '=')
		pad = len > 1 && in[len - 2] == '=' ? 2 : 1;
	if (len / 4 * 3 - pad > outmax)
		return -1;
	for (i = 0; i < len; i += 4) {
		acc = 0;
		for (j = 0; j < 4; j++) {
			if (i + j >= len - pad && in[i + j] == '=') {
				acc <<= 6;
				continue;
			}
			if ((v = b64_value((unsigned char)in[i + j])) == -1)
				return -1;
			acc = acc << 6 | (unsigned long)v;
		}
		if (i + 4 == len && pad > 0 &&
		    (acc & (pad == 2 ? 0xffffUL : 0xffUL)) != 0)
			return -1;
		out[o++] = (uint8_t)(acc >> 16);
		if (i + 4 < len || pad < 2)
			out[o++] = (uint8_t)(acc >> 8);
		if (i + 4 < len || pad < 1)
			out[o++] = (uint8_t)acc;
	}
	*outlen = o;
	return 0;
}

/* RFC 4648 base64 with padding, NUL-terminated: 0, or -1 if it won't fit. */
int
sasl_b64_encode(const uint8_t *in, size_t len, char *out, size_t outmax)
{
	static const char	digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned long		acc;
	size_t			i, o = 0;

	if (outmax == 0 || len > (outmax - 1) / 4 * 3)
		return -1;
	for (i = 0; i < len; i += 3) {
		acc = (unsigned long)in[i] << 16;
		if (i + 1 < len)
			acc |= (unsigned long)in[i + 1] << 8;
		if (i + 2 < len)
			acc |= in[i + 2];
		out[o++] = digits[acc >> 18 & 0x3f];
		out[o++] = digits[acc >> 12 & 0x3f];
		out[o++] = i + 1 < len ? digits[acc >> 6 & 0x3f] : '=';
		out[o++] = i + 2 < len ? digits[acc & 0x3f] : '=';
	}
	out[o] = '\0';
	return 0;
}

/* Copy a field of a PLAIN message into a C string: 0, or -1. */
static int
field(const uint8_t *p, size_t n, char *dst, size_t dstlen, int empty_ok)
{
	if ((n == 0 && !empty_ok) || n >= dstlen)
		return -1;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

/*
 * "authzid NUL authcid NUL passwd" (RFC 4616 2): exactly two NULs, a
 * non-empty authcid and password; the authzid may be empty.  0, or -1.
 */
int
sasl_plain_split(const uint8_t *msg, size_t len, char *authzid,
    size_t zlen, char *authcid, size_t clen, char *pass, size_t plen)
{
	const uint8_t	*n1, *n2;

	if ((n1 = memchr(msg, '\0', len)) == NULL)
		return -1;
	n2 = memchr(n1 + 1, '\0', len - (size_t)(n1 + 1 - msg));
	if (n2 == NULL || memchr(n2 + 1, '\0', len - (size_t)(n2 + 1 - msg))
	    != NULL)
		return -1;
	if (field(msg, (size_t)(n1 - msg), authzid, zlen, 1) == -1 ||
	    field(n1 + 1, (size_t)(n2 - n1 - 1), authcid, clen, 0) == -1 ||
	    field(n2 + 1, len - (size_t)(n2 + 1 - msg), pass, plen, 0) == -1) {
		explicit_bzero(pass, plen);
		return -1;
	}
	return 0;
}
