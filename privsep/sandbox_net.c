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
 * The seccomp allow-list of the network child (_popsep, chroot, after priv_drop): TLS and the POP3
 * parser.  It opens no file, creates no socket, runs no program.
 * One syscall per line with its reason; everything else kills the process.
 */

#include <stddef.h>

#include <seccomp.h>

#include "priv.h"

static const struct sandbox_rule rules[] = {
	ALLOW(read, "client bytes; message data from the data pipe (TLS)"),
	ALLOW(write, "replies to the client"),
	ALLOW(writev, "replies to the client"),
	ALLOW(splice, "message data from the data pipe to the client socket"),
	ALLOW(recvfrom, "client bytes (recv)"),
	ALLOW(sendto, "replies to the client (send)"),
	ALLOW(recvmsg, "frames from the monitor and the spool worker"),
	ALLOW(sendmsg, "frames to the monitor and the spool worker"),
	ALLOW(poll, "idle timeout"),
	ALLOW(ppoll, "idle timeout"),
	ALLOW(shutdown, "closing the connection after QUIT"),
	ALLOW(close, "the spool channel after QUIT"),
	ALLOW(getrandom, "OpenSSL DRBG reseed after fork"),
	ALLOW(getpid, "OpenSSL fork detection"),
	ALLOW(brk, "malloc"),
	ALLOW_NOEXEC(mmap, "malloc of large blocks; never PROT_EXEC"),
	ALLOW(munmap, "free of large blocks"),
	ALLOW(mremap, "realloc of large blocks"),
	ALLOW(madvise, "free; the TLS piece given back when idle"),
	ALLOW(futex, "OpenSSL locks"),
	ALLOW(clock_gettime, "TLS, when the vDSO cannot answer"),
	ALLOW(gettimeofday, "TLS, when the vDSO cannot answer"),
	ALLOW(time, "TLS, when the vDSO cannot answer"),
	ALLOW(rt_sigreturn, "return from a signal handler"),
	ALLOW(restart_syscall, "poll resumed after SIGSTOP/SIGCONT"),
	ALLOW(exit, "exit"),
	ALLOW(exit_group, "exit"),
};

const struct sandbox_rule *
sandbox_net_rules(size_t *n_r)
{
	*n_r = sizeof(rules) / sizeof(rules[0]);
	return rules;
}
