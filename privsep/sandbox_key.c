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
 * The seccomp allow-list of the key process (its own user, chroot, after priv_drop): holds the
 * TLS private keys and signs TLS handshakes.  It opens no file, creates no
 * socket, runs no program; it receives connection channels from the master.
 * One syscall per line with its reason; everything else kills the process.
 */

#include <stddef.h>

#include <seccomp.h>

#include "priv.h"

static const struct sandbox_rule rules[] = {
	ALLOW(read, "channels"),
	ALLOW(write, "log lines to stderr with -d"),
	ALLOW(recvmsg, "requests and new connection channels"),
	ALLOW(sendmsg, "signatures"),
	ALLOW(poll, "waiting on all channels"),
	ALLOW(ppoll, "waiting on all channels"),
	ALLOW(close, "a connection channel that ended"),
	ALLOW(getrandom, "ECDSA nonces, RSA blinding, PSS salt"),
	ALLOW(getpid, "OpenSSL fork detection"),
	ALLOW(brk, "malloc"),
	ALLOW_NOEXEC(mmap, "malloc of large blocks; never PROT_EXEC"),
	ALLOW(munmap, "free of large blocks"),
	ALLOW(mremap, "realloc of large blocks"),
	ALLOW(madvise, "free"),
	ALLOW(futex, "OpenSSL locks"),
	ALLOW(clock_gettime, "rate limit clock"),
	ALLOW(rt_sigreturn, "return from a signal handler"),
	ALLOW(restart_syscall, "poll resumed after SIGSTOP/SIGCONT"),
	ALLOW(exit, "exit"),
	ALLOW(exit_group, "exit"),
};

const struct sandbox_rule *
sandbox_key_rules(size_t *n_r)
{
	*n_r = sizeof(rules) / sizeof(rules[0]);
	return rules;
}

void
sandbox_key(void)
{
	const struct sandbox_rule	*r;
	size_t				 n;

	r = sandbox_key_rules(&n);
	sandbox_apply(r, n, "key");
}
