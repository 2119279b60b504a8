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
 * Two rules for text from a less trusted process, shared by every process
 * that applies them: the network child on client bytes, the session
 * monitor and the master on names their children send, popauth(8) on its
 * arguments and its database.  Pure functions on their arguments.
 */

#include <string.h>

#include "names.h"
#include "params.h"

/*
 * A user name as POP3 takes it (USER, APOP, SASL): 1 to POP_USER_MAX
 * bytes of printable ASCII without space, "/" or ":", since names become
 * file names (caches, login-delay stamps) and go into log lines.
 */
int
user_name_ok(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > POP_USER_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '/' || s[i] == ':')
			return 0;
	return 1;
}

/* src cut to fit dst, every byte outside 0x21-0x7e shown as "?". */
void
printable_copy(char *dst, size_t len, const char *src)
{
	size_t	i;

	if (len == 0)
		return;
	for (i = 0; src[i] != '\0' && i + 1 < len; i++)
		dst[i] = (src[i] > 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}
