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
 * (sandbox_net.c, sandbox_spool.c, sandbox_key.c, sandbox_metrics.c),
 * exported by an accessor that popsepd -P prints; this file holds the
 * mechanism only.  The default action kills the whole process.  A build
 * with -DSANDBOX_DEBUG traps instead and names the forbidden syscall; the
 * sanitizer build (make SANITIZE=1) adds what its runtime needs to every
 * list, and only there.
 */

#include <sys/mman.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"
#include "priv.h"

#ifdef POPSEP_SANITIZE
/* AddressSanitizer's and UBSan's runtime: reports, shadow memory. */
static const struct sandbox_rule sanitizer_rules[] = {
	ALLOW(sigaltstack, "ASan"),
	ALLOW(rt_sigaction, "ASan"),
	ALLOW(rt_sigprocmask, "ASan"),
	ALLOW(prctl, "ASan"),
	ALLOW_NOEXEC(mprotect, "ASan"),
	ALLOW(open, "sanitizer report: /proc/self/maps"),
	ALLOW(openat, "sanitizer report: /proc/self/maps"),
	ALLOW(readlink, "sanitizer report"),
	ALLOW(sched_yield, "ASan"),
	ALLOW(gettid, "ASan"),
	ALLOW(fstat, "ASan"),
	ALLOW(newfstatat, "ASan"),
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

static int
add_rule(scmp_filter_ctx ctx, const struct sandbox_rule *r)
{
	/* Memory may be mapped, never made executable. */
	if (r->no_exec)
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 0);
}

/*
 * The filter of one list, as sandbox_apply() loads it and as
 * sandbox_export_bpf() writes it: one builder, so the two cannot differ.
 */
static scmp_filter_ctx
build(const struct sandbox_rule *rules, size_t n, uint32_t deflt,
    const char *who)
{
	scmp_filter_ctx	 ctx;
	size_t		 i;
	int		 rc;

	if ((ctx = seccomp_init(deflt)) == NULL)
		fatalx("%s: seccomp_init failed", who);
	for (i = 0; i < n; i++) {
		if ((rc = add_rule(ctx, &rules[i])) < 0)
			fatalx("%s: seccomp rule %zu (%s): %s", who, i,
			    rules[i].why, strerror(-rc));
	}
#ifdef POPSEP_SANITIZE
	for (i = 0; i < sizeof(sanitizer_rules) / sizeof(sanitizer_rules[0]);
	    i++)
		if ((rc = add_rule(ctx, &sanitizer_rules[i])) < 0)
			fatalx("%s: sanitizer rule: %s", who, strerror(-rc));
#endif
	return ctx;
}

static uint32_t
default_action(void)
{
#ifdef SANDBOX_DEBUG
	return SCMP_ACT_TRAP;
#else
	return SCMP_ACT_KILL_PROCESS;
#endif
}

void
sandbox_apply(const struct sandbox_rule *rules, size_t n, const char *who)
{
	scmp_filter_ctx	 ctx;
	int		 rc;

#ifdef SANDBOX_DEBUG
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_trap;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sigaction SIGSYS");
#endif
	ctx = build(rules, n, default_action(), who);
	if ((rc = seccomp_load(ctx)) < 0)
		fatalx("%s: seccomp_load: %s", who, strerror(-rc));
	seccomp_release(ctx);
}

/*
 * The BPF program sandbox_apply() would load for this list, written to
 * fd: how regress/unit/test_manifest.c compares a process's loaded filter
 * with the list popsepd -P prints.  0, or -1.
 */
int
sandbox_export_bpf(const struct sandbox_rule *rules, size_t n, int fd)
{
	scmp_filter_ctx	 ctx;
	int		 rc;

	ctx = build(rules, n, default_action(), "export");
	rc = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	return rc < 0 ? -1 : 0;
}
