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
 * Dropping privileges, in one place for every process that drops them
 * (network child, spool worker, key process).  Runs as root just before
 * the drop; every step is checked and any failure is fatal, since a
 * process that continues half-dropped is worse than none.
 */

#ifndef POPSEP_PRIV_H
#define POPSEP_PRIV_H

#include <sys/types.h>

struct priv_user {
	uid_t	uid;
	gid_t	gid;
};

int	priv_lookup(const char *, struct priv_user *);
void	priv_prepare_chroot(const char *);
void	priv_prepare_cache_dir(const char *);
void	priv_drop(const char *, const struct priv_user *);
void	priv_no_new_privs(void);
void	priv_harden(void);
void	priv_die_with_parent(pid_t);

/* One seccomp allow-list per process: privsep/sandbox_*.c */
struct sandbox_rule {
	int		 nr;
	const char	*name;		/* the syscall's name, for -P */
	const char	*why;
	int		 no_exec;	/* argument 2 (prot) may not hold PROT_EXEC */
};
#define ALLOW(name, why)	{ SCMP_SYS(name), #name, why, 0 }
#define ALLOW_NOEXEC(name, why)	{ SCMP_SYS(name), #name, why, 1 }
void	sandbox_apply(const struct sandbox_rule *, size_t, const char *);
int	sandbox_export_bpf(const struct sandbox_rule *, size_t, int);
/* Each list, as its process loads it and as popsepd -P prints it. */
const struct sandbox_rule *sandbox_net_rules(size_t *);
const struct sandbox_rule *sandbox_spool_rules(size_t *);
const struct sandbox_rule *sandbox_key_rules(size_t *);
const struct sandbox_rule *sandbox_metrics_rules(size_t *);
/*
 * The session children's filters: built before the first session
 * (sandbox_prepare_sessions()), loaded by each child (sandbox_session()).
 */
enum sandbox_session_child { SANDBOX_NET, SANDBOX_SPOOL };
void	sandbox_prepare_sessions(void);
void	sandbox_session(enum sandbox_session_child);
void	sandbox_key(void);
void	sandbox_metrics(void);

#endif /* POPSEP_PRIV_H */
