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
 * Loads a seccomp allow-list.  Each process's list is in its own file
 * (sandbox_net.c, sandbox_spool.c, sandbox_key.c); this file holds the
 * mechanism only.  The default action kills the whole process.  A build
 * with -DSANDBOX_DEBUG traps instead and names the forbidden syscall; the
 * sanitizer build (make SANITIZE=1) adds what its runtime needs to every
 * list, and only there.
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"
#include "priv.h"

#ifdef POPSEP_SANITIZE
/* AddressSanitizer's and UBSan's runtime: reports, shadow memory. */
static const struct sandbox_rule sanitizer_rules[] = {
	{ SCMP_SYS(sigaltstack), "ASan" },
	{ SCMP_SYS(rt_sigaction), "ASan" },
	{ SCMP_SYS(rt_sigprocmask), "ASan" },
	{ SCMP_SYS(prctl), "ASan" },
	{ SCMP_SYS(mprotect), "ASan" },
	{ SCMP_SYS(open), "sanitizer report: /proc/self/maps" },
	{ SCMP_SYS(openat), "sanitizer report: /proc/self/maps" },
	{ SCMP_SYS(readlink), "sanitizer report" },
	{ SCMP_SYS(sched_yield), "ASan" },
	{ SCMP_SYS(gettid), "ASan" },
	{ SCMP_SYS(fstat), "ASan" },
	{ SCMP_SYS(newfstatat), "ASan" },
};
#endif

#ifdef SANDBOX_DEBUG
static void
sandbox_trap(int sig, siginfo_t *si, void *ctx)
{
	char	buf[80];
	int	n;

	(void)sig;
	(void)ctx;
	n = snprintf(buf, sizeof(buf), "popsepd: sandbox: forbidden "
	    "syscall %d\n", si->si_syscall);
	if (n > 0)
		(void)write(STDERR_FILENO, buf, (size_t)n);
	_exit(1);
}
#endif

void
sandbox_apply(const struct sandbox_rule *rules, size_t n, const char *who)
{
	scmp_filter_ctx	 ctx;
	uint32_t	 deflt = SCMP_ACT_KILL_PROCESS;
	size_t		 i;
	int		 rc;

#ifdef SANDBOX_DEBUG
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_trap;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sigaction SIGSYS");
	deflt = SCMP_ACT_TRAP;
#endif
	if ((ctx = seccomp_init(deflt)) == NULL)
		fatalx("%s: seccomp_init failed", who);
	for (i = 0; i < n; i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, rules[i].nr, 0);
		if (rc < 0)
			fatalx("%s: seccomp rule %zu (%s): %s", who, i,
			    rules[i].why, strerror(-rc));
	}
#ifdef POPSEP_SANITIZE
	for (i = 0; i < sizeof(sanitizer_rules) / sizeof(sanitizer_rules[0]);
	    i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    sanitizer_rules[i].nr, 0)) < 0)
			fatalx("%s: sanitizer rule: %s", who, strerror(-rc));
#endif
	if ((rc = seccomp_load(ctx)) < 0)
		fatalx("%s: seccomp_load: %s", who, strerror(-rc));
	seccomp_release(ctx);
}
