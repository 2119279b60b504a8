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
 * Loads a seccomp allow-list, in the process that is to be confined
 * (trusting only the lists compiled in).  Each process's list is in its
 * own file (sandbox_net.c, sandbox_spool.c, sandbox_key.c,
 * sandbox_metrics.c), exported by an accessor that popsepd -P prints;
 * this file holds the mechanism, and the one table of the session
 * children's lists whose programs the master makes before its first
 * session.  The default action kills the whole process.  A build
 * with -DSANDBOX_DEBUG traps instead and names the forbidden syscall; the
 * sanitizer build (make SANITIZE=1) adds what its runtime needs to every
 * list, and only there.
 */

#include <sys/mman.h>
#include <sys/prctl.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

static void
trap_setup(void)
{
#ifdef SANDBOX_DEBUG
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_trap;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sigaction SIGSYS");
#endif
}

void
sandbox_apply(const struct sandbox_rule *rules, size_t n, const char *who)
{
	scmp_filter_ctx	 ctx;
	int		 rc;

	trap_setup();
	ctx = build(rules, n, default_action(), who);
	if ((rc = seccomp_load(ctx)) < 0)
		fatalx("%s: seccomp_load: %s", who, strerror(-rc));
	seccomp_release(ctx);
}

/*
 * The program of one list, built once by the master before it forks any
 * session (sandbox_prepare()), then loaded by each session's children
 * (sandbox_load()).  Building a filter costs libseccomp tens of KiB of
 * heap, freed but left dirty: every idle session would keep them twice.
 * The program is the one seccomp_load() would load: the same builder
 * makes it and libseccomp's own exporter writes it.
 */
struct sandbox_prog {
	unsigned short		 len;	/* instructions */
	struct sock_filter	*insns;
};

static struct sandbox_prog *
sandbox_prepare(const struct sandbox_rule *rules, size_t n, const char *who)
{
	struct sandbox_prog	*p;
	size_t			 max = BPF_MAXINSNS * sizeof(struct sock_filter);
	size_t			 got = 0;
	ssize_t			 k;
	int			 fd;

	if ((fd = memfd_create("seccomp", MFD_CLOEXEC)) == -1)
		fatal("%s: memfd_create", who);
	if (sandbox_export_bpf(rules, n, fd) == -1)
		fatalx("%s: seccomp_export_bpf failed", who);
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->insns = malloc(max + 1)) == NULL)
		fatal("%s", __func__);
	if (lseek(fd, 0, SEEK_SET) == -1)
		fatal("%s: lseek", who);
	/* One byte more than a program may have: a longer one is refused. */
	while (got <= max) {
		k = read(fd, (uint8_t *)p->insns + got, max + 1 - got);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1)
			fatal("%s: read", who);
		if (k == 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	if (got == 0 || got > max || got % sizeof(struct sock_filter) != 0)
		fatalx("%s: filter of %zu bytes", who, got);
	p->len = (unsigned short)(got / sizeof(struct sock_filter));
	return p;
}

/*
 * As sandbox_apply(), from a program sandbox_prepare() made, or from the
 * list itself when there is none.  No allocation: the process's heap
 * stays as it is.  PR_SET_NO_NEW_PRIVS again, as seccomp_load() sets it.
 */
static void
sandbox_load(const struct sandbox_prog *p, const struct sandbox_rule *rules,
    size_t n, const char *who)
{
	struct sock_fprog	fp;

	if (p == NULL) {
		sandbox_apply(rules, n, who);
		return;
	}
	trap_setup();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: prctl no_new_privs", who);
	fp.len = p->len;
	fp.filter = p->insns;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) == -1)
		fatal("%s: seccomp filter", who);
}

/*
 * The BPF program sandbox_apply() would load for this list, written to
 * fd: what sandbox_prepare() reads back, and how
 * regress/unit/test_manifest.c compares a process's loaded filter with
 * the list popsepd -P prints.  0, or -1.
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

/*
 * The session children's lists and the programs made from them: one
 * table, so that each child is prepared and loaded the same way.
 */
static struct {
	const struct sandbox_rule *(*rules)(size_t *);
	const char		 *who;
	struct sandbox_prog	 *prog;		/* NULL: built when loaded */
} session_sandboxes[] = {
	[SANDBOX_NET] = { sandbox_net_rules, "net", NULL },
	[SANDBOX_SPOOL] = { sandbox_spool_rules, "spool", NULL },
};

/*
 * Both session children's programs, made in the master before it forks
 * any session (and in the inetd-mode process before its monitor starts),
 * so that no session child builds one.
 */
void
sandbox_prepare_sessions(void)
{
	const struct sandbox_rule	*r;
	size_t				 i, n;

	for (i = 0; i < sizeof(session_sandboxes) /
	    sizeof(session_sandboxes[0]); i++) {
		r = session_sandboxes[i].rules(&n);
		session_sandboxes[i].prog = sandbox_prepare(r, n,
		    session_sandboxes[i].who);
	}
}

/* A session child's filter, from its program when there is one. */
void
sandbox_session(enum sandbox_session_child which)
{
	const struct sandbox_rule	*r;
	size_t				 n;

	if ((size_t)which >= sizeof(session_sandboxes) /
	    sizeof(session_sandboxes[0]))
		fatalx("%s: no sandbox %d", __func__, (int)which);
	r = session_sandboxes[which].rules(&n);
	sandbox_load(session_sandboxes[which].prog, r, n,
	    session_sandboxes[which].who);
}
