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
 * The seccomp allow-list of the spool worker (the mail user without supplementary groups, chroot,
 * after priv_drop): reads and rewrites the one mailbox descriptor it was
 * handed.  It opens no file and creates no socket.
 * One syscall per line with its reason; everything else kills the process.
 */

#include <stddef.h>

#include <seccomp.h>

#include "priv.h"

static const struct sandbox_rule rules[] = {
	{ SCMP_SYS(read), "mailbox" },
	{ SCMP_SYS(pread64), "mailbox at an offset" },
	{ SCMP_SYS(write), "mailbox update" },
	{ SCMP_SYS(pwrite64), "mailbox update at an offset" },
	{ SCMP_SYS(lseek), "mailbox" },
	{ SCMP_SYS(fstat), "mailbox size" },
	{ SCMP_SYS(newfstatat), "mailbox size (glibc fstat)" },
	{ SCMP_SYS(ftruncate), "mailbox update: drop the deleted tail" },
	{ SCMP_SYS(fsync), "mailbox update reaches the disk" },
	{ SCMP_SYS(fdatasync), "mailbox update reaches the disk" },
	{ SCMP_SYS(recvmsg), "frames from the network child and the monitor" },
	{ SCMP_SYS(sendmsg), "frames to the network child and the monitor" },
	{ SCMP_SYS(poll), "waiting for requests" },
	{ SCMP_SYS(close), "descriptors after QUIT" },
	{ SCMP_SYS(getpid), "OpenSSL fork detection (UID digests)" },
	{ SCMP_SYS(brk), "malloc" },
	{ SCMP_SYS(mmap), "malloc of large blocks" },
	{ SCMP_SYS(munmap), "free of large blocks" },
	{ SCMP_SYS(mremap), "realloc of the message index" },
	{ SCMP_SYS(madvise), "free" },
	{ SCMP_SYS(futex), "OpenSSL locks" },
	{ SCMP_SYS(clock_gettime), "when the vDSO cannot answer" },
	{ SCMP_SYS(rt_sigreturn), "return from a signal handler" },
	{ SCMP_SYS(restart_syscall), "poll resumed after SIGSTOP/SIGCONT" },
	{ SCMP_SYS(exit), "exit" },
	{ SCMP_SYS(exit_group), "exit" },
};

void
sandbox_spool(void)
{
	sandbox_apply(rules, sizeof(rules) / sizeof(rules[0]), "spool");
}
