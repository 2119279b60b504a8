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
 * The seccomp allow-list of the metrics process (privsep-user, chroot,
 * after priv_drop): it accepts HTTP connections on the socket the master
 * bound, reads one request line from each, sends the latest snapshot the
 * master gave it and closes.  It opens no file, allocates nothing after
 * start-up, creates no socket of its own and runs no program.  One
 * syscall per line with its reason; everything else kills the process.
 */

#include <stddef.h>

#include <seccomp.h>

#include "priv.h"

static const struct sandbox_rule rules[] = {
	ALLOW(read, "request lines, and what follows them"),
	ALLOW(sendto, "answers, with MSG_NOSIGNAL"),
	ALLOW(recvmsg, "snapshots from the master"),
	ALLOW(accept4, "HTTP connections"),
	ALLOW(poll, "waiting on the master, the socket, the connections"),
	ALLOW(ppoll, "the same, as some libcs make poll()"),
	ALLOW(shutdown, "end of an answer"),
	ALLOW(close, "a connection that ended"),
	ALLOW(clock_gettime, "connection deadlines"),
	ALLOW(rt_sigreturn, "return from a signal handler"),
	ALLOW(restart_syscall, "poll resumed after SIGSTOP/SIGCONT"),
	ALLOW(exit, "exit"),
	ALLOW(exit_group, "exit"),
};

const struct sandbox_rule *
sandbox_metrics_rules(size_t *n_r)
{
	*n_r = sizeof(rules) / sizeof(rules[0]);
	return rules;
}

void
sandbox_metrics(void)
{
	const struct sandbox_rule	*r;
	size_t				 n;

	r = sandbox_metrics_rules(&n);
	sandbox_apply(r, n, "metrics");
}
