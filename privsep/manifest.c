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
 * The privilege manifest, popsepd -P: runs in the process that read the
 * command line and the configuration (root or not), prints and exits; it
 * forks nothing, opens no file but what getpwnam() and getgrgid() read,
 * and changes no privilege.  It trusts the configuration as parsed, and
 * prints only the tables the processes use themselves: the seccomp lists
 * of privsep/sandbox_*.c, each process's descriptor table (the slots of
 * its keep[] list and what it gets later) and each receiver's msg_lookup()
 * table, so the manifest cannot say what the code does not do.  The users,
 * groups and directories are the configured ones; a spool worker runs as
 * the user who logged in.
 */

#include <sys/socket.h>

#include <grp.h>
#include <libgen.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "keyproc.h"
#include "log.h"
#include "manifest.h"
#include "metrics.h"
#include "monitor_gss.h"
#include "monitor_master.h"
#include "monitor_net.h"
#include "monitor_spool.h"
#include "msg.h"
#include "net_spool.h"
#include "priv.h"

enum mf_user { MFU_ROOT, MFU_PRIVSEP, MFU_KEY, MFU_POPAUTH, MFU_MAIL };
enum mf_root { MFR_SLASH, MFR_CHROOT, MFR_POPAUTH_DIR };

struct mf_proc {
	const char	*name;		/* its section */
	const char	*chan;		/* its name in channel names */
	const char	*cond;		/* it exists only with this setting */
	enum mf_user	 user;
	enum mf_root	 root;
	int		 stdio_null;	/* 0-2 are /dev/null after its drop */
	const struct sandbox_rule *(*rules)(size_t *);
	const struct proc_fd *(*fds)(size_t *);
};

/* One channel, named receiver<-sender, with the receiver's table. */
struct mf_chan {
	const char	*recv;
	const char	*send;
	const char	*cond;
	const struct msg_handler *(*tab)(size_t *);
};

static const struct mf_proc procs[] = {
	/* With -i, the process inetd starts is the session monitor. */
	{ "master", "master", "standalone", MFU_ROOT, MFR_SLASH, 0, NULL,
	    master_fds },
	{ "key-process", "key", "tls", MFU_KEY, MFR_CHROOT, 1,
	    sandbox_key_rules, keyproc_fds },
	{ "metrics-process", "metrics", "metrics-listen", MFU_PRIVSEP,
	    MFR_CHROOT, 1, sandbox_metrics_rules, metricsproc_fds },
	{ "session-monitor", "monitor", NULL, MFU_ROOT, MFR_SLASH, 0, NULL,
	    monitor_fds },
	{ "network-child", "net", NULL, MFU_PRIVSEP, MFR_CHROOT, 1,
	    sandbox_net_rules, netchild_fds },
	{ "spool-worker", "spool", NULL, MFU_MAIL, MFR_CHROOT, 1,
	    sandbox_spool_rules, spool_fds },
	/* The same program, only its descriptors and channels differ. */
	{ "recovery-worker", "spool", NULL, MFU_MAIL, MFR_CHROOT, 1,
	    sandbox_spool_rules, spool_fds },
	{ "check-child", "check", NULL, MFU_ROOT, MFR_SLASH, 0, NULL,
	    auth_child_fds },
	{ "apop-check", "check", "apop", MFU_POPAUTH, MFR_POPAUTH_DIR, 1,
	    NULL, auth_child_fds },
	{ "gssapi-acceptor", "gssapi", "keytab", MFU_ROOT, MFR_SLASH, 0, NULL,
	    gssproc_fds },
};

static const struct mf_chan chans[] = {
	{ "master", "key", "tls", msgtab_master_key },
	{ "master", "monitor", "standalone", msgtab_master_monitor },
	{ "key", "master", NULL, msgtab_key_master },
	{ "key", "monitor", NULL, msgtab_key_monitor },
	{ "metrics", "master", NULL, msgtab_metrics_master },
	{ "monitor", "net", NULL, msgtab_monitor_net },
	{ "monitor", "spool", NULL, msgtab_monitor_spool },
	{ "monitor", "key", "tls", msgtab_monitor_key },
	{ "monitor", "master", "standalone", msgtab_monitor_master },
	{ "monitor", "gssapi", "keytab", msgtab_monitor_gss },
	{ "net", "monitor", NULL, msgtab_net_monitor },
	{ "net", "spool", NULL, msgtab_net_spool },
	{ "spool", "net", "not-recovery", msgtab_spool_net },
	{ "spool", "monitor", NULL, msgtab_spool_monitor },
	{ "gssapi", "monitor", NULL, msgtab_gss_monitor },
};

/* Whether a setting named in a table holds for cf, in process p. */
static int
cond_holds(const struct config *cf, const struct mf_proc *p,
    const char *cond)
{
	if (cond == NULL)
		return 1;
	if (strcmp(cond, "tls") == 0)
		return cfg_tls_enabled(cf);
	if (strcmp(cond, "tracefile") == 0)
		return cf->tracefile[0] != '\0';
	if (strcmp(cond, "standalone") == 0)
		return !cf->inetd;
	if (strcmp(cond, "syslog") == 0)
		return !cf->debug;
	/* Either mode for some users if a group has the other one. */
	if (strcmp(cond, "temp-drop") == 0)
		return !cf->server_mode || cf->group_no_server_mode[0] != '\0';
	if (strcmp(cond, "cache") == 0)
		return (cf->server_mode || cf->group_server_mode[0] != '\0') &&
		    strcmp(cf->cache_dir, "none") != 0;
	if (strcmp(cond, "bulletins") == 0)
		return cf->bulldir[0] != '\0';
	if (strcmp(cond, "keytab") == 0)
		return cf->keytab[0] != '\0';
	if (strcmp(cond, "metrics-listen") == 0)
		return cf->metrics_listen[0] != '\0' && !cf->inetd;
	if (strcmp(cond, "apop") == 0)
		return cf->apop;
	if (strcmp(cond, "apop-check") == 0)
		return strcmp(p->name, "apop-check") == 0;
	if (strcmp(cond, "not-recovery") == 0)
		return strcmp(p->name, "recovery-worker") != 0;
	bug("%s: unknown setting %s", __func__, cond);
}

/* The sockets the master binds for the listen lines, as bind_one(). */
static size_t
listen_sockets(const struct config *cf)
{
	struct addrinfo	 hints, *res, *ai;
	size_t		 i, n = 0;

	if (cf->inetd)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	for (i = 0; i < cf->nlisten; i++) {
		if (getaddrinfo(strcmp(cf->listen[i].addr, "*") == 0 ? NULL :
		    cf->listen[i].addr, cf->listen[i].port, &hints, &res) != 0)
			continue;
		for (ai = res; ai != NULL; ai = ai->ai_next)
			n++;
		freeaddrinfo(res);
	}
	return n;
}

static const char *
user_name(const struct config *cf, enum mf_user u)
{
	switch (u) {
	case MFU_ROOT:
		return "root";
	case MFU_PRIVSEP:
		return cf->privsep_user;
	case MFU_KEY:
		return cf->key_user;
	case MFU_POPAUTH:
		return cf->popauth_user;
	case MFU_MAIL:
		break;
	}
	return NULL;
}

/* user=NAME uid=N group=NAME gid=N, the numbers only if they resolve. */
static void
print_ids(FILE *fp, const struct config *cf, enum mf_user u)
{
	const char	*name = user_name(cf, u);
	struct passwd	*pw;
	struct group	*gr;

	if (name == NULL) {
		fprintf(fp, " user=(login) group=(login-primary-group)");
		return;
	}
	if ((pw = getpwnam(name)) == NULL) {
		fprintf(fp, " user=%s uid=unknown group=unknown", name);
		return;
	}
	fprintf(fp, " user=%s uid=%lu", name, (unsigned long)pw->pw_uid);
	if ((gr = getgrgid(pw->pw_gid)) != NULL)
		fprintf(fp, " group=%s", gr->gr_name);
	else
		fprintf(fp, " group=unknown");
	fprintf(fp, " gid=%lu", (unsigned long)pw->pw_gid);
}

static void
print_root(FILE *fp, const struct config *cf, enum mf_root r)
{
	char	dir[CFG_PATH_MAX];

	switch (r) {
	case MFR_SLASH:
		fprintf(fp, " root=/");
		return;
	case MFR_CHROOT:
		fprintf(fp, " root=%s", cf->chroot_dir);
		return;
	case MFR_POPAUTH_DIR:
		/* As apop_in_child() computes it. */
		if (strlcpy(dir, cf->popauth_db, sizeof(dir)) >= sizeof(dir))
			fprintf(fp, " root=unknown");
		else
			fprintf(fp, " root=%s", dirname(dir));
		return;
	}
}

static void
print_header(FILE *fp, const struct config *cf, const struct mf_proc *p)
{
	fprintf(fp, "process %s", p->name);
	print_ids(fp, cf, p->user);
	print_root(fp, cf, p->root);
	fprintf(fp, " seccomp=%s stdio=%s\n", p->rules != NULL ? "yes" : "no",
	    p->stdio_null ? "null" : "inherited");
}

static void
print_syscalls(FILE *fp, const struct mf_proc *p)
{
	const struct sandbox_rule	*r;
	size_t				 i, n;

	if (p->rules == NULL)
		return;
	r = p->rules(&n);
	for (i = 0; i < n; i++)
		fprintf(fp, "  syscall %s%s  # %s\n", r[i].name,
		    r[i].no_exec ? " noexec" : "", r[i].why);
}

static void
print_fds(FILE *fp, const struct config *cf, const struct mf_proc *p)
{
	const struct proc_fd	*f;
	size_t			 i, n;

	f = p->fds(&n);
	for (i = 0; i < n; i++) {
		/* An unused keep[] slot, and 0-2 (in the header). */
		if (f[i].kind == NULL || strcmp(f[i].kind, "stdio") == 0 ||
		    !cond_holds(cf, p, f[i].cond))
			continue;
		fprintf(fp, "  fd %s kind=%s when=%s", f[i].name, f[i].kind,
		    f[i].when);
		if (f[i].each != NULL)
			fprintf(fp, " each=%s", f[i].each);
		if (f[i].each != NULL && strcmp(f[i].each, "listen") == 0)
			fprintf(fp, " count=%zu", listen_sockets(cf));
		if (f[i].cond != NULL)
			fprintf(fp, " if=%s", f[i].cond);
		fprintf(fp, "\n");
	}
}

static const char *
fd_rule(int flags)
{
	if (flags & MSGF_FD_MAY)
		return "maybe";
	return (flags & MSGF_FD) ? "yes" : "no";
}

static void
print_channel(FILE *fp, const struct mf_chan *c)
{
	const struct msg_handler	*h;
	size_t				 i, n;

	h = c->tab(&n);
	for (i = 0; i < n; i++)
		fprintf(fp, "  channel %s<-%s %s 0x%04x min=%zu max=%zu "
		    "fd=%s\n", c->recv, c->send, h[i].name, h[i].type,
		    h[i].min_len, h[i].max_len, fd_rule(h[i].flags));
}

static void
print_channels(FILE *fp, const struct config *cf, const struct mf_proc *p)
{
	size_t	i;

	for (i = 0; i < sizeof(chans) / sizeof(chans[0]); i++)
		if (strcmp(chans[i].recv, p->chan) == 0 &&
		    cond_holds(cf, p, chans[i].cond))
			print_channel(fp, &chans[i]);
	/* Not a channel of frames: a fixed struct, or only an exit status. */
	if (strcmp(p->chan, "monitor") == 0)
		fprintf(fp, "  pipe monitor<-check bytes=%zu  # struct "
		    "auth_result, then the exit status\n",
		    sizeof(struct auth_result));
}

void
manifest_print(const struct config *cf, FILE *fp)
{
	const struct mf_proc	*p;
	size_t			 i;

	fprintf(fp, "# popsepd -P: privilege manifest, frames version %d\n",
	    MSG_VERSION);
	for (i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		p = &procs[i];
		if (!cond_holds(cf, p, p->cond)) {
			fprintf(fp, "# not configured: %s (%s)\n", p->name,
			    p->cond);
			continue;
		}
		print_header(fp, cf, p);
		print_syscalls(fp, p);
		print_fds(fp, cf, p);
		print_channels(fp, cf, p);
	}
}
