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
	ALLOW(read, "mailbox"),
	ALLOW(pread64, "mailbox at an offset"),
	ALLOW(write, "mailbox update"),
	ALLOW(pwrite64, "mailbox update at an offset"),
	ALLOW(lseek, "mailbox"),
	ALLOW(fstat, "mailbox size"),
	ALLOW(newfstatat, "mailbox size (glibc fstat)"),
	ALLOW(ftruncate, "mailbox update: drop the deleted tail"),
	ALLOW(fallocate, "mailbox update: room for a file that grows"),
	ALLOW(fsync, "mailbox update reaches the disk"),
	ALLOW(fdatasync, "mailbox update reaches the disk"),
	ALLOW(sync_file_range, "update: the disk starts on each chunk written"),
	ALLOW(recvmsg, "frames from the network child and the monitor"),
	ALLOW(sendmsg, "frames to the network child and the monitor"),
	ALLOW(poll, "waiting for requests"),
	ALLOW(close, "descriptors after QUIT"),
	ALLOW(getpid, "OpenSSL fork detection (UID digests)"),
	ALLOW(brk, "malloc"),
	ALLOW_NOEXEC(mmap, "malloc of large blocks; never PROT_EXEC"),
	ALLOW(munmap, "free of large blocks"),
	ALLOW(mremap, "realloc of the message index"),
	ALLOW(madvise, "free; the cache's checks read without readahead"),
	ALLOW(futex, "OpenSSL locks"),
	ALLOW(clock_gettime, "when the vDSO cannot answer"),
	ALLOW(rt_sigreturn, "return from a signal handler"),
	ALLOW(restart_syscall, "poll resumed after SIGSTOP/SIGCONT"),
	ALLOW(exit, "exit"),
	ALLOW(exit_group, "exit"),
};

const struct sandbox_rule *
sandbox_spool_rules(size_t *n_r)
{
	*n_r = sizeof(rules) / sizeof(rules[0]);
	return rules;
}
