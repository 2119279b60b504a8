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
 * Libraries loaded at run time, by the one kind of process that needs
 * each (lib/dlib.c).
 */

#ifndef POPSEP_DLIB_H
#define POPSEP_DLIB_H

#include <stddef.h>

/* A symbol of a library and where its address goes. */
struct dlib_sym {
	const char	*name;
	void		**addr;
};

/* Shared object names, as the packages install them. */
#define DLIB_GSSAPI	"libgssapi_krb5.so.2"
#define DLIB_GDBM	"libgdbm.so.6"

int	dlib_load(const char *, const struct dlib_sym *, size_t);

#endif /* POPSEP_DLIB_H */
