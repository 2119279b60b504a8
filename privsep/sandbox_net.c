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
	{ SCMP_SYS(read), "client bytes" },
	{ SCMP_SYS(write), "replies to the client" },
	{ SCMP_SYS(writev), "replies to the client" },
	{ SCMP_SYS(recvfrom), "client bytes (recv)" },
	{ SCMP_SYS(sendto), "replies to the client (send)" },
	{ SCMP_SYS(recvmsg), "frames from the monitor and the spool worker" },
	{ SCMP_SYS(sendmsg), "frames to the monitor and the spool worker" },
	{ SCMP_SYS(poll), "idle timeout" },
	{ SCMP_SYS(ppoll), "idle timeout" },
	{ SCMP_SYS(shutdown), "closing the connection after QUIT" },
	{ SCMP_SYS(close), "the spool channel after QUIT" },
	{ SCMP_SYS(getrandom), "OpenSSL DRBG reseed after fork" },
	{ SCMP_SYS(getpid), "OpenSSL fork detection" },
	{ SCMP_SYS(brk), "malloc" },
	{ SCMP_SYS(mmap), "malloc of large blocks" },
	{ SCMP_SYS(munmap), "free of large blocks" },
	{ SCMP_SYS(mremap), "realloc of large blocks" },
	{ SCMP_SYS(madvise), "free" },
	{ SCMP_SYS(futex), "OpenSSL locks" },
	{ SCMP_SYS(clock_gettime), "TLS, when the vDSO cannot answer" },
	{ SCMP_SYS(gettimeofday), "TLS, when the vDSO cannot answer" },
	{ SCMP_SYS(time), "TLS, when the vDSO cannot answer" },
	{ SCMP_SYS(rt_sigreturn), "return from a signal handler" },
	{ SCMP_SYS(restart_syscall), "poll resumed after SIGSTOP/SIGCONT" },
	{ SCMP_SYS(exit), "exit" },
	{ SCMP_SYS(exit_group), "exit" },
};

void
sandbox_net(void)
{
	sandbox_apply(rules, sizeof(rules) / sizeof(rules[0]), "net");
}
