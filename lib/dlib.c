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
 * Runs in the process that calls it: the GSSAPI acceptor (root, a child
 * of the session monitor, for MIT's GSSAPI library), the APOP check (a
 * child of the session monitor, as root just before it drops to
 * popauth-user) and popauth(8) (for GDBM).  popsepd and popauth are not
 * linked with these libraries, so that the master, the key process and
 * every session's monitor, network child, spool worker and other check
 * children map none of their code.  The process loads the library when
 * it first needs it, before any chroot or sandbox of its own, and keeps
 * it until it exits.  The library is found
 * by the dynamic loader's own rules, as a linked one would be; it is as
 * trusted as the system's libraries are.
 */

#include <dlfcn.h>

#include "dlib.h"
#include "log.h"

/*
 * Load soname and set every symbol's address: 0, or -1 (logged) with
 * none of them set.  A second call for the same library finds it loaded.
 */
int
dlib_load(const char *soname, const struct dlib_sym *syms, size_t n)
{
	void	*h, *p;
	size_t	 i;

	if ((h = dlopen(soname, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		log_warnx("cannot load %s: %s", soname, dlerror());
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((p = dlsym(h, syms[i].name)) == NULL) {
			log_warnx("%s has no %s", soname, syms[i].name);
			break;
		}
		*syms[i].addr = p;
	}
	if (i == n)
		return 0;
	while (i > 0)
		*syms[--i].addr = NULL;
	(void)dlclose(h);
	return -1;
}
