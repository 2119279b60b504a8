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
 * The syscalls popsepd -P prints for each sandboxed process are the ones
 * its filter allows.  The manifest's text is parsed back into a list
 * (names resolved by libseccomp, "noexec" kept), and the BPF program
 * built from that list must be, byte for byte, the one the kernel holds
 * for a forked child that called the process's sandbox function (read
 * with PTRACE_SECCOMP_GET_FILTER).  Also: each table's names resolve to
 * its numbers; with every setting on, the manifest has a section for
 * every process and a channel line for every row of every receiver's
 * frame table, each table sane (bounds within a frame, types unique).
 * Needs root for the filters and for reading them back.
 */

#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include <linux/filter.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "config.h"
#include "keyproc.h"
#include "manifest.h"
#include "metrics.h"
#include "monitor_gss.h"
#include "monitor_master.h"
#include "monitor_net.h"
#include "monitor_spool.h"
#include "msg.h"
#include "net_spool.h"
#include "priv.h"
#include "test.h"
#include "test_sandboxes.h"

#define RULES_MAX	128
#define BPF_MAX		4096

static const struct {
	const char	*proc;		/* its section in the manifest */
	void		(*apply)(void);
	const struct sandbox_rule *(*rules)(size_t *);
} sandboxes[] = {
	{ "network-child", apply_net, sandbox_net_rules },
	{ "spool-worker", apply_spool, sandbox_spool_rules },
	{ "key-process", sandbox_key, sandbox_key_rules },
	{ "metrics-process", sandbox_metrics, sandbox_metrics_rules },
};

/* Every receiver's table, as channel receiver<-sender. */
static const struct {
	const char	*chan;
	const struct msg_handler *(*tab)(size_t *);
} tables[] = {
	{ "master<-key", msgtab_master_key },
	{ "master<-monitor", msgtab_master_monitor },
	{ "key<-master", msgtab_key_master },
	{ "key<-monitor", msgtab_key_monitor },
	{ "metrics<-master", msgtab_metrics_master },
	{ "monitor<-net", msgtab_monitor_net },
	{ "monitor<-spool", msgtab_monitor_spool },
	{ "monitor<-key", msgtab_monitor_key },
	{ "monitor<-master", msgtab_monitor_master },
	{ "monitor<-gssapi", msgtab_monitor_gss },
	{ "net<-monitor", msgtab_net_monitor },
	{ "net<-spool", msgtab_net_spool },
	{ "spool<-net", msgtab_spool_net },
	{ "spool<-monitor", msgtab_spool_monitor },
	{ "gssapi<-monitor", msgtab_gss_monitor },
};

/* A list parsed back from the manifest's text. */
struct parsed {
	struct sandbox_rule	 r[RULES_MAX];
	char			 names[RULES_MAX][32];
	size_t			 n;
	int			 bad;	/* a name libseccomp does not know */
};

static char *
manifest_text(const struct config *cf)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		return NULL;
	manifest_print(cf, fp);
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* One "  syscall NAME[ noexec]  # why" line into p. */
static void
parse_syscall(struct parsed *p, const char *line)
{
	char	name[32];
	size_t	len;

	len = strcspn(line, " ");
	if (len == 0 || len >= sizeof(name) || p->n >= RULES_MAX) {
		p->bad = 1;
		return;
	}
	memcpy(name, line, len);
	name[len] = '\0';
	strlcpy(p->names[p->n], name, sizeof(p->names[p->n]));
	p->r[p->n].nr = seccomp_syscall_resolve_name(name);
	p->r[p->n].name = p->names[p->n];
	p->r[p->n].why = "manifest";
	p->r[p->n].no_exec = strncmp(line + len, " noexec ", 8) == 0;
	if (p->r[p->n].nr == __NR_SCMP_ERROR)
		p->bad = 1;
	p->n++;
}

/* The syscall lines of one process's section. */
static void
parse_section(const char *text, const char *proc, struct parsed *p)
{
	char		 head[64];
	const char	*s, *line;

	memset(p, 0, sizeof(*p));
	snprintf(head, sizeof(head), "process %s ", proc);
	if ((s = strstr(text, head)) == NULL) {
		p->bad = 1;
		return;
	}
	for (line = strchr(s, '\n'); line != NULL && line[1] == ' ';
	    line = strchr(line + 1, '\n'))
		if (strncmp(line + 1, "  syscall ", 10) == 0)
			parse_syscall(p, line + 11);
}

/* The table's names are the syscalls of its numbers. */
static void
check_names(const char *proc, const struct sandbox_rule *r, size_t n)
{
	char	*name;
	size_t	 i;
	int	 ok = 1;

	for (i = 0; i < n; i++) {
		name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE,
		    r[i].nr);
		if (name == NULL || strcmp(name, r[i].name) != 0) {
			printf("# %s: rule %zu is %s, named %s\n", proc, i,
			    name != NULL ? name : "?", r[i].name);
			ok = 0;
		}
		free(name);
	}
	CHECK(ok, "%s: every rule's name is its syscall's", proc);
}

/* The same list, in the same order, as the process's table. */
static void
check_same_list(const char *proc, const struct parsed *p,
    const struct sandbox_rule *r, size_t n)
{
	size_t	i;
	int	same = !p->bad && p->n == n;

	for (i = 0; same && i < n; i++)
		same = p->r[i].nr == r[i].nr && p->r[i].no_exec == r[i].no_exec;
	CHECK(same, "%s: the manifest lists the table (%zu of %zu)", proc,
	    p->n, n);
}

/* The program sandbox_apply() builds from a list, as bytes in buf. */
static ssize_t
export_bpf(const struct sandbox_rule *r, size_t n, void *buf, size_t len)
{
	ssize_t	got;
	int	fd;

	if ((fd = memfd_create("bpf", 0)) == -1)
		return -1;
	if (sandbox_export_bpf(r, n, fd) == -1 || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	got = read(fd, buf, len);
	close(fd);
	return got;
}

/* The child's Seccomp: field is 2: its filter is loaded. */
static int
filtered(pid_t pid)
{
	char	path[64], line[128];
	FILE	*fp;
	int	 mode = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(fp);
	return mode == 2;
}

/*
 * The program the kernel holds for a child that called apply(), as
 * bytes in buf: -1 if it cannot be read.
 */
static ssize_t
loaded_bpf(void (*apply)(void), void *buf, size_t len)
{
	pid_t	pid;
	long	n;
	int	p[2], st, i;
	char	c;

	if (pipe(p) == -1)
		return -1;
	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		close(p[1]);
		apply();
		/* Every list allows read: wait here to be looked at. */
		_exit(read(p[0], &c, 1) == -1);
	}
	close(p[0]);
	for (i = 0; i < 500 && !filtered(pid); i++)
		usleep(10000);
	n = -1;
	if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) == 0 &&
	    waitpid(pid, &st, 0) == pid && WIFSTOPPED(st)) {
		n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0, NULL);
		if (n > 0 && (size_t)n * sizeof(struct sock_filter) <= len)
			n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0, buf);
		else
			n = -1;
	}
	kill(pid, SIGKILL);
	(void)waitpid(pid, &st, 0);
	close(p[1]);
	return n < 0 ? -1 : n * (long)sizeof(struct sock_filter);
}

static void
check_loaded(const char *proc, void (*apply)(void), const struct parsed *p)
{
	static uint8_t	want[BPF_MAX * sizeof(struct sock_filter)];
	static uint8_t	got[BPF_MAX * sizeof(struct sock_filter)];
	ssize_t		wn, gn;

	wn = export_bpf(p->r, p->n, want, sizeof(want));
	gn = loaded_bpf(apply, got, sizeof(got));
	CHECK(wn > 0 && gn > 0, "%s: both filters read (%zd, %zd bytes)", proc,
	    wn, gn);
	CHECK(wn == gn && wn > 0 && memcmp(want, got, (size_t)wn) == 0,
	    "%s: the loaded filter is the one of the manifest's list", proc);
}

/* A list one syscall short does not pass for the loaded filter. */
static void
check_detects(const struct parsed *p)
{
	static uint8_t	a[BPF_MAX * sizeof(struct sock_filter)];
	static uint8_t	b[BPF_MAX * sizeof(struct sock_filter)];
	ssize_t		an, bn;

	an = export_bpf(p->r, p->n, a, sizeof(a));
	bn = export_bpf(p->r, p->n - 1, b, sizeof(b));
	CHECK(an > 0 && bn > 0 && (an != bn || memcmp(a, b, (size_t)an) != 0),
	    "a list one syscall short makes another filter");
}

/*
 * The session children's filters once more, now loaded from the programs
 * the master makes before its first session: still the manifest's lists.
 */
static void
check_prepared(const char *text)
{
	static const struct {
		const char	*proc;
		void		(*apply)(void);
	} kids[] = {
		{ "network-child", apply_net },
		{ "spool-worker", apply_spool },
	};
	char		label[64];
	struct parsed	p;
	size_t		i;

	if (geteuid() != 0)
		return;
	sandbox_prepare_sessions();
	for (i = 0; i < sizeof(kids) / sizeof(kids[0]); i++) {
		parse_section(text, kids[i].proc, &p);
		snprintf(label, sizeof(label), "%s (prepared)", kids[i].proc);
		check_loaded(label, kids[i].apply, &p);
	}
}

/* Every process that a setting can add, with every setting on. */
static void
all_on(struct config *cf)
{
	cfg_defaults(cf);
	cf->ncerts = 1;
	strlcpy(cf->metrics_listen, "127.0.0.1:9", sizeof(cf->metrics_listen));
	strlcpy(cf->keytab, "/nonexistent", sizeof(cf->keytab));
	cf->apop = 1;
}

/* One table's rows: sane, and each printed as its channel line. */
static void
check_table(const char *text, const char *chan, const struct msg_handler *h,
    size_t n)
{
	char	line[160];
	size_t	i, j;
	int	sane = n > 0, printed = 1;

	for (i = 0; i < n; i++) {
		sane &= h[i].min_len <= h[i].max_len &&
		    h[i].max_len <= MSG_BODY_MAX && h[i].states != 0 &&
		    strncmp(h[i].name, "MSG_", 4) == 0 &&
		    (h[i].flags & ~(MSGF_FD | MSGF_FD_MAY)) == 0;
		for (j = 0; j < i; j++)
			sane &= h[j].type != h[i].type;
		snprintf(line, sizeof(line), "  channel %s %s 0x%04x min=%zu "
		    "max=%zu fd=", chan, h[i].name, h[i].type, h[i].min_len,
		    h[i].max_len);
		if (strstr(text, line) == NULL) {
			printf("# not printed: %s\n", line);
			printed = 0;
		}
	}
	CHECK(sane, "%s: %zu rows, bounds within a frame, types unique", chan,
	    n);
	CHECK(printed, "%s: every row printed", chan);
}

static void
check_sections(const char *text)
{
	static const char *const procs[] = { "master", "key-process",
	    "metrics-process", "session-monitor", "network-child",
	    "spool-worker", "recovery-worker", "check-child", "apop-check",
	    "gssapi-acceptor" };
	char	head[64];
	size_t	i;

	for (i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		snprintf(head, sizeof(head), "process %s ", procs[i]);
		CHECK(strstr(text, head) != NULL, "section %s", procs[i]);
	}
	CHECK(strstr(text, "# not configured") == NULL,
	    "every process configured");
}

int
main(void)
{
	static struct config	 cf;
	const struct sandbox_rule *r;
	struct parsed		 p;
	char			*text;
	size_t			 i, n;

	all_on(&cf);
	if ((text = manifest_text(&cf)) == NULL)
		return 1;
	check_sections(text);
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		const struct msg_handler *h = tables[i].tab(&n);

		check_table(text, tables[i].chan, h, n);
	}
	for (i = 0; i < sizeof(sandboxes) / sizeof(sandboxes[0]); i++) {
		r = sandboxes[i].rules(&n);
		check_names(sandboxes[i].proc, r, n);
		parse_section(text, sandboxes[i].proc, &p);
		check_same_list(sandboxes[i].proc, &p, r, n);
		if (i == 0)
			check_detects(&p);
		if (geteuid() != 0) {
			printf("SKIP %s: loaded filter (needs root)\n",
			    sandboxes[i].proc);
			continue;
		}
		check_loaded(sandboxes[i].proc, sandboxes[i].apply, &p);
	}
	check_prepared(text);
	free(text);
	TEST_EXIT();
}
