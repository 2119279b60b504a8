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
 * For the unit tests only (test_sandbox.c, test_manifest.c): the session
 * children's filters as their processes load them, through
 * sandbox_session(): built from the list when no program was prepared,
 * from the master's program after sandbox_prepare_sessions().
 */

#ifndef POPSEP_TEST_SANDBOXES_H
#define POPSEP_TEST_SANDBOXES_H

#include "priv.h"

static void
apply_net(void)
{
	sandbox_session(SANDBOX_NET);
}

static void
apply_spool(void)
{
	sandbox_session(SANDBOX_SPOOL);
}

#endif /* POPSEP_TEST_SANDBOXES_H */
