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
 * Unit tests of lib/dlib.c, on the two libraries popsepd loads: every
 * symbol found and callable, the same library loaded twice, and the
 * failures (no such library, a missing symbol) logged, with no address
 * left set.
 */

#include <string.h>
#include <syslog.h>

#include <gdbm.h>
#include <gssapi/gssapi.h>

#include "dlib.h"
#include "log.h"
#include "test.h"

static char	last_line[1024];

static void
capture(int prio, const char *line)
{
	(void)prio;
	strlcpy(last_line, line, sizeof(last_line));
}

static void
test_gdbm(void)
{
	__typeof__(gdbm_strerror)	*str = NULL;
	__typeof__(gdbm_close)		*cl = NULL;
	const struct dlib_sym		 syms[] = {
		{ "gdbm_strerror", (void **)&str },
		{ "gdbm_close", (void **)&cl },
	};
	const char			*s;

	CHECK(dlib_load(DLIB_GDBM, syms, 2) == 0 && str != NULL &&
	    cl != NULL, "%s: both symbols found", DLIB_GDBM);
	if (str == NULL)
		return;
	s = str(GDBM_ITEM_NOT_FOUND);
	CHECK(s != NULL && strcmp(s, gdbm_strerror(GDBM_ITEM_NOT_FOUND)) == 0,
	    "the loaded gdbm_strerror is the library's: \"%s\"", s);
	str = NULL;
	CHECK(dlib_load(DLIB_GDBM, syms, 1) == 0 && str != NULL,
	    "a second load of the same library finds it again");
}

static void
test_gssapi(void)
{
	__typeof__(gss_release_buffer)	*rel = NULL;
	gss_OID				*nt = NULL;
	const struct dlib_sym		 syms[] = {
		{ "gss_release_buffer", (void **)&rel },
		{ "GSS_C_NT_HOSTBASED_SERVICE", (void **)&nt },
	};
	gss_buffer_desc			 b = GSS_C_EMPTY_BUFFER;
	OM_uint32			 minor;

	CHECK(dlib_load(DLIB_GSSAPI, syms, 2) == 0 && rel != NULL &&
	    nt != NULL, "%s: a function and an object found", DLIB_GSSAPI);
	if (rel == NULL || nt == NULL)
		return;
	CHECK(rel(&minor, &b) == GSS_S_COMPLETE, "the loaded "
	    "gss_release_buffer answers");
	CHECK(*nt != GSS_C_NO_OID && (*nt)->length == 10, "the object holds "
	    "the host-based service name type's OID (%u bytes)",
	    *nt != GSS_C_NO_OID ? (*nt)->length : 0);
}

static void
test_failures_logged(void)
{
	void			*a = NULL, *b = NULL;
	const struct dlib_sym	 syms[] = {
		{ "gdbm_close", &a },
		{ "gdbm_no_such_function", &b },
	};
	const struct dlib_sym	 none[] = {
		{ "anything", &a },
	};

	log_set_sink(capture);
	last_line[0] = '\0';
	CHECK(dlib_load("libpopsep-no-such.so.0", none, 1) == -1 && a == NULL,
	    "no such library: -1, nothing set");
	CHECK(strstr(last_line, "cannot load libpopsep-no-such.so.0") != NULL,
	    "and logged: %s", last_line);
	last_line[0] = '\0';
	CHECK(dlib_load(DLIB_GDBM, syms, 2) == -1 && a == NULL && b == NULL,
	    "a missing symbol: -1, and the one found before it unset");
	CHECK(strstr(last_line, "has no gdbm_no_such_function") != NULL,
	    "and logged: %s", last_line);
	log_set_sink(NULL);
}

int
main(void)
{
	log_init(1, LOG_DAEMON);
	test_gdbm();
	test_gssapi();
	test_failures_logged();
	TEST_EXIT();
}
