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
 * The session monitor: one per connection, root, the "auth process".  It
 * never reads a client byte.  It forks the network child at once, then
 * answers that child's requests: log lines, a password check (passwd-file
 * or PAM, with one answer and one delay for every failure), TLS signatures
 * relayed to the key process (one per connection, only before the
 * handshake is over).  After a login it opens and locks the mailbox, whose
 * path comes from the authenticated identity, and forks the spool worker
 * with the descriptor; later it takes and releases the lock on the
 * worker's behalf.  Every frame from either child is checked by
 * msg_lookup() against the tables below before a handler sees it.  It
 * tells the master when the session has logged in and when a login
 * failed (privsep/guard.c), and ends a session that has not logged in
 * within login-timeout.
 */

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "keyproc.h"
#include "log.h"
#include "manifest.h"
#include "monitor_master.h"
#include "monitor_gss.h"
#include "monitor_net.h"
#include "monitor_spool.h"
#include "msg.h"
#include "names.h"
#include "priv.h"
#include "proxy.h"
#include "session.h"
#include "sesslog.h"
#include "metrics.h"
#include "spool.h"

enum {
	MON_PREAUTH = 0x01,
	MON_AUTHED = 0x02,
	MON_ANY = MON_PREAUTH | MON_AUTHED,
	MON_PROXY = 0x04,	/* a proxy listener's, before its header */
};

struct monitor {
	struct session		*s;
	int			 state;
	int			 net_fd;
	pid_t			 net_pid;
	int			 spool_fd;
	pid_t			 spool_pid;
	int			 mbox_fd;	/* writable; the locks' file */
	int			 drop_fd;	/* writable; temp-drop mode */
	struct spool_lock	 lock;
	int			 locked;	/* 0 or the MS_LOCK_* purpose */
	int			 pending_auth;	/* net end of the spool channel */
	int			 pending_data;	/* read end of the data pipe */
	int			 session_started;
	int			 new_journal;	/* ours, until it is named */
	int			 journal_named;	/* a named journal is in use */
	int			 upd;		/* UPD_*: the end-of-session update */
	int			 quit_reported;
	uint8_t			 quit_result;
	char			 quit_text[POP_LINE_MAX];
	struct timespec		 spool_heard;	/* last frame from the worker */
	struct timespec		 locked_at;
	int			 njournals;	/* made under this lock */
	int			 recovering;	/* a recovery worker runs */
	int			 recover_answered;
	int			 net_killed;	/* by the login deadline */
	int			 tls_done;
	int			 signed_once;
	int			 auth_fails;
	int			 apop_tried;
	struct gss_proc		 gss;		/* the GSSAPI acceptor */
	int			 gss_exchanges;
	char			 user[POP_USER_MAX + 1];
	char			 mailbox[CFG_PATH_MAX];
	char			 journal[CFG_PATH_MAX + 32];
	char			 drop[CFG_PATH_MAX + POP_USER_MAX + 8];
	char			 bull_state[CFG_PATH_MAX + 16];
	int			 bull_fd;	/* new bulletins, or -1 */
	int			 bull_recorded;	/* seen: their journal is named */
	long			 bull_newest;
	uid_t			 uid;
	gid_t			 gid;
	struct sesslog		 log;		/* the end-of-session line */
	struct timespec		 update_locked;	/* the update's lock taken */
	off_t			 update_size;	/* the mailbox's size then */
	int			 end_quit;	/* the worker saw QUIT */
	int			 logged_end;
} __attribute__((aligned(PROC_PAGE)));	/* whole pages: spool_child() */

/* What the monitor knows of the end-of-session update. */
enum { UPD_NONE, UPD_LOCKED, UPD_COMMITTED, UPD_APPLIED };

static struct monitor	mon;

/*
 * The frames live apart from struct monitor, which monitor_main() zeroes:
 * zeroing them would write 192 KiB in every session, for nothing, since
 * msg_recv() and msg_init() set all that a reader may look at.  Only the
 * pages that frames fill are ever written.
 */
static struct mon_frames {
	struct msg	in;		/* children's frames */
	struct msg	ans;		/* answers to them */
	struct msg	key;		/* key process frames */
} __attribute__((aligned(PROC_PAGE))) mf;	/* whole pages: spool_child() */

static void	mon_log_net(void *, struct msg *);
static void	mon_log_spool(void *, struct msg *);
static void	mon_answer_auth_pass(void *, struct msg *);
static void	mon_answer_auth_apop(void *, struct msg *);
static void	mon_answer_auth_gss(void *, struct msg *);
static void	mon_gss_cancel(void *, struct msg *);
static void	mon_answer_tls_sign(void *, struct msg *);
static void	mon_tls_done(void *, struct msg *);
static void	mon_proxy(void *, struct msg *);
static void	mon_lock(void *, struct msg *);
static void	mon_unlock(void *, struct msg *);
static void	mon_journal_new(void *, struct msg *);
static void	mon_journal_commit(void *, struct msg *);
static void	mon_journal_done(void *, struct msg *);
static void	mon_progress(void *, struct msg *);
static void	mon_quit_done(void *, struct msg *);
static void	mon_bulletins_done(void *, struct msg *);
static void	answer_auth(int, const char *, int);
static void	answer_recover(void);
static int	start_recovery(void);
static void	reap(pid_t, const char *);

static const struct msg_handler net_handlers[] = {
	MSG_ROW(MSG_MN_REQ_LOG, 5, 5 + LOG_LINE_MAX, 0, MON_ANY | MON_PROXY,
	    mon_log_net),
	MSG_ROW(MSG_MN_REQ_AUTH_PASS, 10, 8 + POP_USER_MAX + POP_PASS_MAX + 2,
	    0, MON_PREAUTH, mon_answer_auth_pass),
	MSG_ROW(MSG_MN_REQ_AUTH_APOP, 8 + 2 + APOP_DIGEST_LEN,
	    8 + POP_USER_MAX + APOP_DIGEST_LEN + 2, 0, MON_PREAUTH,
	    mon_answer_auth_apop),
	MSG_ROW(MSG_MN_REQ_AUTH_GSS, 4, 4 + GSS_TOKEN_MAX, 0, MON_PREAUTH,
	    mon_answer_auth_gss),
	MSG_ROW(MSG_MN_REQ_AUTH_GSS_CANCEL, 0, 0, 0, MON_PREAUTH,
	    mon_gss_cancel),
	MSG_ROW(MSG_MN_REQ_TLS_SIGN, 7, 7 + KEY_TBS_MAX, 0, MON_PREAUTH,
	    mon_answer_tls_sign),
	MSG_ROW(MSG_MN_REQ_TLS_DONE, 10, 8 + 2 * TLS_NAME_MAX, 0, MON_PREAUTH,
	    mon_tls_done),
	MSG_ROW(MSG_MN_REQ_PROXY, 1 + 4 + 1, 1 + 4 + PROXY_ADDR_MAX, 0,
	    MON_PROXY, mon_proxy),
};

/* What the monitor takes from the network child, for popsepd -P. */
const struct msg_handler *
msgtab_monitor_net(size_t *n_r)
{
	*n_r = sizeof(net_handlers) / sizeof(net_handlers[0]);
	return net_handlers;
}

static const struct msg_handler spool_handlers[] = {
	MSG_ROW(MSG_MS_REQ_LOG, 5, 5 + LOG_LINE_MAX, 0, MON_AUTHED,
	    mon_log_spool),
	MSG_ROW(MSG_MS_REQ_LOCK, 1, 1, 0, MON_AUTHED, mon_lock),
	MSG_ROW(MSG_MS_REQ_UNLOCK, 0, 0, 0, MON_AUTHED, mon_unlock),
	MSG_ROW(MSG_MS_REQ_JOURNAL_NEW, 0, 0, 0, MON_AUTHED, mon_journal_new),
	MSG_ROW(MSG_MS_REQ_JOURNAL_COMMIT, 0, 0, 0, MON_AUTHED,
	    mon_journal_commit),
	MSG_ROW(MSG_MS_REQ_JOURNAL_DONE, 1, 1, 0, MON_AUTHED, mon_journal_done),
	MSG_ROW(MSG_MS_REQ_PROGRESS, 0, 0, 0, MON_AUTHED, mon_progress),
	MSG_ROW(MSG_MS_REQ_QUIT_DONE, 1 + 5 + 24 + 25,
	    1 + POP_LINE_MAX + 24 + 25, 0, MON_AUTHED, mon_quit_done),
	MSG_ROW(MSG_MS_REQ_BULLETINS_DONE, 1, 1, 0, MON_AUTHED,
	    mon_bulletins_done),
};

/* What the monitor takes from the spool worker, for popsepd -P. */
const struct msg_handler *
msgtab_monitor_spool(size_t *n_r)
{
	*n_r = sizeof(spool_handlers) / sizeof(spool_handlers[0]);
	return spool_handlers;
}

/* The key process's answer to the one signature relayed. */
static const struct msg_handler key_answers[] = {
	MSG_ROW(MSG_KEY_ANS_SIGN, 4 + 4, 4 + 4 + KEY_SIG_MAX, 0, MON_ANY,
	    NULL),
};

/* What the monitor takes from the key process, for popsepd -P. */
const struct msg_handler *
msgtab_monitor_key(size_t *n_r)
{
	*n_r = sizeof(key_answers) / sizeof(key_answers[0]);
	return key_answers;
}

/*
 * The descriptors of the monitor: the slots of its keep[] list, then
 * those it opens after a login.  The client socket is closed once the
 * network child has it.
 */
enum { MON_FD_STDERR, MON_FD_NET, MON_FD_KEY, MON_FD_TRACE, MON_FD_MASTER,
	MON_NKEEP };

static const struct proc_fd mon_fds[] = {
	[MON_FD_STDERR] = { "stderr", "stdio", "start", NULL, NULL },
	[MON_FD_NET] = { "net-channel", "socket", "start", NULL, NULL },
	[MON_FD_KEY] = { "key-channel", "socket", "start", "tls", NULL },
	[MON_FD_TRACE] = { "tracefile", "file", "start", "tracefile", NULL },
	[MON_FD_MASTER] = { "master-channel", "socket", "start", "standalone",
	    NULL },
	{ "syslog-socket", "socket", "start", "syslog", NULL },
	{ "spool-channel", "socket", "login", NULL, NULL },
	{ "mailbox-writable", "file", "login", NULL, NULL },
	{ "temp-drop-writable", "file", "login", "temp-drop", NULL },
	{ "journal", "file", "locked", NULL, NULL },
	{ "bulletins", "memfd", "locked", "bulletins", NULL },
	{ "gssapi-channel", "socket", "exchange", "keytab", NULL },
};

/* What the session monitor holds, for popsepd -P. */
const struct proc_fd *
monitor_fds(size_t *n_r)
{
	*n_r = sizeof(mon_fds) / sizeof(mon_fds[0]);
	return mon_fds;
}

static void
mon_log_net(void *arg, struct msg *m)
{
	char	prefix[32];

	(void)arg;
	snprintf(prefix, sizeof(prefix), "net %s: ", mon.s->id);
	relay_log(m, prefix);
}

static void
mon_log_spool(void *arg, struct msg *m)
{
	char	prefix[32];

	(void)arg;
	snprintf(prefix, sizeof(prefix), "spool %s: ", mon.s->id);
	relay_log(m, prefix);
}

static void
sleep_until(const struct timespec *start, int ms)
{
	struct timespec	deadline, now, rem;

	deadline = *start;
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > deadline.tv_sec || (now.tv_sec == deadline.tv_sec &&
	    now.tv_nsec >= deadline.tv_nsec))
		return;
	rem.tv_sec = deadline.tv_sec - now.tv_sec;
	rem.tv_nsec = deadline.tv_nsec - now.tv_nsec;
	if (rem.tv_nsec < 0) {
		rem.tv_sec--;
		rem.tv_nsec += 1000000000L;
	}
	while (nanosleep(&rem, &rem) == -1 && errno == EINTR)
		;
}

static void
answer_auth(int result, const char *text, int fd)
{
	struct msg	*m = &mf.ans;

	msg_init(m, MSG_MN_ANS_AUTH);
	msg_put_u8(m, (uint8_t)result);
	msg_put_str(m, text);
	if (msg_send(mon.net_fd, m, fd) == -1)
		log_warn("send to the network child");
}

/*
 * The temp drop of temp-drop mode (Qpopper's .USER.pop in temp-dir, by
 * default the mailbox's directory): opened if a killed session left one
 * (no symbolic link, a regular file with one link, owned by the user),
 * else created as an unnamed file owned by the user with mode 0600 and
 * then linked to its name, so it is never seen with another owner.
 */
static int
drop_path(const struct auth_result *res, char *dir, size_t len)
{
	char	*slash;

	if (mon.s->cf->temp_dir[0] != '\0')
		strlcpy(dir, mon.s->cf->temp_dir, len);
	else {
		strlcpy(dir, res->mailbox, len);
		if ((slash = strrchr(dir, '/')) != NULL)
			*slash = '\0';
	}
	return (size_t)snprintf(mon.drop, sizeof(mon.drop), "%s/.%s.pop", dir,
	    mon.user) >= sizeof(mon.drop) ? -1 : 0;
}

static int
open_drop(const struct auth_result *res, const char **why)
{
	struct stat	 st;
	char		 d[CFG_PATH_MAX];
	int		 fd;

	if (drop_path(res, d, sizeof(d)) == -1) {
		*why = "temp drop path too long";
		return -1;
	}
	for (;;) {
		fd = open(mon.drop, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
		    O_CLOEXEC);
		if (fd != -1)
			break;
		if (errno == ELOOP) {
			log_warnx("%s: a symbolic link; refusing it",
			    mon.drop);
			*why = "the temp drop is not safe to open";
			return -1;
		}
		if (errno != ENOENT) {
			log_warn("open %s", mon.drop);
			*why = "cannot open the temp drop";
			return -1;
		}
		if ((fd = open(d, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) == -1 ||
		    fchown(fd, res->uid, res->gid) == -1 ||
		    fchmod(fd, 0600) == -1) {
			log_warn("create the temp drop in %s", d);
			if (fd != -1)
				close(fd);
			*why = "cannot create the temp drop";
			return -1;
		}
		if (linkat(fd, "", AT_FDCWD, mon.drop, AT_EMPTY_PATH) == 0)
			return fd;
		close(fd);
		if (errno != EEXIST) {
			log_warn("link %s", mon.drop);
			*why = "cannot create the temp drop";
			return -1;
		}
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1 || st.st_uid != res->uid) {
		log_warnx("%s: not a regular file with one link owned by uid "
		    "%u; refusing it", mon.drop, (unsigned)res->uid);
		close(fd);
		*why = "the temp drop is not safe to open";
		return -1;
	}
	return fd;
}

/*
 * Bulletins (bulldir) the user has not seen, into a memory file the spool
 * worker appends to the mailbox at login.  What cannot be read is logged
 * and skipped: bulletins never keep a user from the mailbox.
 */
static void
find_bulletins(const struct auth_result *res)
{
	const struct config	*cf = mon.s->cf;
	struct passwd		*pw;
	const char		*home = NULL;
	long			 last;
	int			 known, n;

	mon.bull_fd = -1;
	if (cf->bulldir[0] == '\0')
		return;
	/* A system user's ~/.popbull, as Qpopper kept it. */
	if (strcmp(res->how, "pam") == 0 && (pw = getpwnam(mon.user)) != NULL &&
	    pw->pw_uid == res->uid)
		home = pw->pw_dir;
	if (bull_state_path(home, res->mailbox, mon.bull_state,
	    sizeof(mon.bull_state)) == -1)
		return;
	last = bull_last_seen(mon.bull_state, res->uid, &known);
	if ((mon.bull_fd = memfd_create("bulletins", MFD_CLOEXEC)) == -1) {
		log_warn("bulletins: memfd_create");
		return;
	}
	n = bull_collect(cf->bulldir, last, known, cf->max_bulletins,
	    mon.s->myname, mon.bull_fd, &mon.bull_newest);
	if (n <= 0 || lseek(mon.bull_fd, 0, SEEK_SET) == -1) {
		close(mon.bull_fd);
		mon.bull_fd = -1;
		/* Only old ones skipped (a new user): seen all the same. */
		if (n == 0 && (!known || mon.bull_newest != last))
			(void)bull_record(mon.bull_state, res->uid, res->gid,
			    mon.bull_newest);
	}
}

/*
 * A temp drop left by a session that was killed (or by temp-drop mode,
 * before the site chose server mode): this session runs in temp-drop mode,
 * which merges it and puts the mail back in the spool at the end.
 */
static int
drop_left(const struct auth_result *res)
{
	struct stat	st;
	char		d[CFG_PATH_MAX];

	if (drop_path(res, d, sizeof(d)) == -1 || lstat(mon.drop, &st) == -1)
		return 0;
	log_info("found the temp drop %s of an earlier session; merging it",
	    mon.drop);
	return 1;
}

/* Whether a user is in a group, by primary group or membership. */
static int
in_group(const char *group, const char *user, gid_t gid)
{
	struct group	 *gr;
	char		**mem;

	if (group[0] == '\0' || (gr = getgrnam(group)) == NULL)
		return 0;
	if (gr->gr_gid == gid)
		return 1;
	for (mem = gr->gr_mem; *mem != NULL; mem++)
		if (strcmp(*mem, user) == 0)
			return 1;
	return 0;
}

/*
 * Server mode or temp drop for this user: server-mode, then Qpopper's
 * group-server-mode and group-no-server-mode, the last one winning.
 */
static int
server_mode_for(const struct auth_result *res)
{
	const struct config	*cf = mon.s->cf;
	int			 mode = cf->server_mode;

	if (in_group(cf->group_server_mode, mon.user, res->gid))
		mode = 1;
	if (in_group(cf->group_no_server_mode, mon.user, res->gid))
		mode = 0;
	return mode;
}

/*
 * In a new spool worker, on the way to spool_main(): the writable
 * descriptors stay with the monitor.  So do the monitor's state and
 * frames, which the worker never reads: the monitor goes on writing them,
 * and the worker would keep their pages as they were at the fork, as
 * copies of its own.  Only what is copied out first (the configuration's
 * address, the arguments) is used after they are dropped.
 */
static __attribute__((noreturn)) void
spool_child(pid_t parent, uid_t uid, gid_t gid, int ro, int drop_ro,
    int cache, const int net[2], int mon_fd)
{
	const struct config	*cf = mon.s->cf;

	priv_die_with_parent(parent);
	log_set_fatal_hook(NULL);
	guard_forget();
	close(mon.mbox_fd);
	if (mon.drop_fd != -1)
		close(mon.drop_fd);
	(void)proc_forget(&mon, sizeof(mon));
	(void)proc_forget(&mf, sizeof(mf));
	spool_main(cf, uid, gid, ro, drop_ro, cache, net, mon_fd);
	/* NOTREACHED */
}

/*
 * The data pipe: multi-line answers go through it from the spool worker
 * to the network child, which can splice them to the client's socket
 * without a copy of its own.  Made by the monitor, so that neither
 * sandbox needs pipe2() or fcntl(); DATA_PIPE_SIZE is asked for here, as
 * root, and the kernel's default kept if it refuses.
 */
static void
data_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) == -1)
		fatal("pipe2");
	if (fcntl(fds[1], F_SETPIPE_SZ, DATA_PIPE_SIZE) == -1)
		log_debug("data pipe of %d bytes: %s", DATA_PIPE_SIZE,
		    strerror(errno));
}

/*
 * The mailbox of an authenticated user: open and claim it, then fork the
 * spool worker with read-only descriptors.  The worker asks for the locks
 * first thing; the login is answered when it has them (mon_lock()).
 * Returns 0, or -1 with *result and *text set.
 */
static int
start_spool(const struct auth_result *res, int *result, const char **text)
{
	int	ns[2], ms[2], dp[2], ro = -1, drop_ro = -1, cache = -1;
	int	net[2];
	pid_t	pid, me = getpid();

	strlcpy(mon.mailbox, res->mailbox, sizeof(mon.mailbox));
	mon.uid = res->uid;
	mon.gid = res->gid;
	*result = MN_AUTH_SYS;
	if (spool_journal_path(res->mailbox, mon.journal,
	    sizeof(mon.journal)) == -1) {
		*text = "mailbox path too long";
		return -1;
	}
	if (spool_open(res->mailbox, res->uid, res->gid, &mon.mbox_fd, text)
	    == -1)
		return -1;
	if (spool_claim(mon.mbox_fd) == -1) {
		*result = errno == EWOULDBLOCK ? MN_AUTH_IN_USE : MN_AUTH_SYS;
		*text = errno == EWOULDBLOCK ? "mailbox is open in another "
		    "POP3 session" : "cannot lock the mailbox";
		goto fail;
	}
	if ((ro = spool_reopen_rdonly(res->mailbox, mon.mbox_fd)) == -1) {
		*text = "cannot open the mailbox";
		goto fail;
	}
	find_bulletins(res);
	if (!server_mode_for(res) || drop_left(res)) {
		if ((mon.drop_fd = open_drop(res, text)) == -1)
			goto fail;
		if ((drop_ro = spool_reopen_rdonly(mon.drop, mon.drop_fd))
		    == -1) {
			*text = "cannot open the temp drop";
			goto fail;
		}
	}
	/* The drop is a new file at each login: a cache would not hold. */
	if (mon.drop_fd == -1 && strcmp(mon.s->cf->cache_dir, "none") != 0)
		cache = spool_cache_open(mon.s->cf->cache_dir, mon.user,
		    res->uid, res->gid);
	if (msg_socketpair(ns) == -1 || msg_socketpair(ms) == -1)
		fatal("socketpair");
	data_pipe(dp);
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		net[0] = ns[1];
		net[1] = dp[1];
		spool_child(me, res->uid, res->gid, ro, drop_ro, cache,
		    net, ms[1]);
		/* NOTREACHED */
	}
	mon.spool_pid = pid;
	close(ns[1]);
	close(ms[1]);
	close(dp[1]);
	close(ro);
	if (cache != -1)
		close(cache);
	if (drop_ro != -1)
		close(drop_ro);
	mon.spool_fd = ms[0];
	mon.pending_auth = ns[0];
	mon.pending_data = dp[0];
	clock_gettime(CLOCK_MONOTONIC, &mon.spool_heard);
	return 0;
 fail:
	/* Closing the descriptor also drops the flock claim. */
	if (ro != -1)
		close(ro);
	if (mon.drop_fd != -1)
		close(mon.drop_fd);
	mon.drop_fd = -1;
	close(mon.mbox_fd);
	mon.mbox_fd = -1;
	return -1;
}

/* The network child's ends of a login that is not answered after all. */
static void
close_pending(void)
{
	if (mon.pending_auth != -1)
		close(mon.pending_auth);
	if (mon.pending_data != -1)
		close(mon.pending_data);
	mon.pending_auth = mon.pending_data = -1;
}

/* A login whose mailbox cannot be opened: the client may try again. */
static void
login_failed(int result, const char *why)
{
	char	text[POP_LINE_MAX];

	snprintf(text, sizeof(text), "%s %s", result == MN_AUTH_IN_USE ?
	    "[IN-USE]" : "[SYS/TEMP]", why);
	log_warnx("\"%s\": %s", mon.user, why);
	mm_report_login(mon.s, result == MN_AUTH_IN_USE ? MX_LOGIN_IN_USE :
	    MX_LOGIN_SYS, mon.log.mech);
	answer_auth(result, text, -1);
	mon.state = MON_PREAUTH;
}

/*
 * First thing in every authentication child (auth_child): it keeps no
 * channel of the monitor's, so a check that goes wrong (a hostile popauth
 * database, a PAM module) cannot speak to the network child, the key
 * process or the spool worker as the monitor.
 */
static void
close_channels(void)
{
	int	*fds[] = { &mon.net_fd, &mon.s->key_fd, &mon.spool_fd,
		    &mon.mbox_fd, &mon.drop_fd, &mon.pending_auth,
		    &mon.pending_data, &mon.s->master_fd };
	size_t	 i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] != -1) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	guard_forget();
}

/*
 * What every session monitor sets the same way, set once by the master
 * (or the inetd-mode process) before its first session: a monitor that
 * set it itself would write, and keep for its whole session, the page
 * it is on.
 */
void
monitor_prepare(void)
{
	auth_set_child_init(close_channels);
}

/*
 * What a check child (auth_child()) holds once close_channels() has run:
 * what the monitor kept of the set-up but its channels, and the pipe of
 * its result; the APOP check also the database it opens after its drop.
 */
static const struct proc_fd check_fds[] = {
	{ "stdio", "stdio", "start", NULL, NULL },
	{ "tracefile", "file", "start", "tracefile", NULL },
	{ "syslog-socket", "socket", "start", "syslog", NULL },
	{ "result-pipe", "pipe", "start", NULL, NULL },
	{ "popauth-db", "file", "check", "apop-check", NULL },
};

/* What a check child holds, for popsepd -P. */
const struct proc_fd *
auth_child_fds(size_t *n_r)
{
	*n_r = sizeof(check_fds) / sizeof(check_fds[0]);
	return check_fds;
}

/* The network child closes after this many; it may be lying. */
static void
check_tries(void)
{
	if (mon.auth_fails >= POP_AUTH_TRIES_MAX)
		fatalx("network child asked for a login after %d failures",
		    mon.auth_fails);
	if (mon.gss.fd != -1)
		fatalx("network child asked for a login during a GSSAPI "
		    "exchange");
}

/*
 * The user name from the network child, canonical (trim-domain,
 * downcase-user) in mon.user; -1 for a name the parser's rule refuses,
 * which only a lying child sends.
 */
static int
take_user(const char *name)
{
	if (auth_canon_name(mon.s->cf, name, mon.user, sizeof(mon.user))
	    == 0)
		return 0;
	log_warnx("network child sent an invalid user name");
	strlcpy(mon.user, "(invalid)", sizeof(mon.user));
	return -1;
}

/* The reply to a refused login; the same for every AUTH_FAIL. */
static void
refuse_login(int st, const char *how, const char *mech,
    const struct timespec *start)
{
	char	text[POP_LINE_MAX];

	/* Same answer, same time, whatever failed. */
	sleep_until(start, mon.s->cf->auth_fail_delay +
	    guard_fail_delay(mon.s, mon.auth_fails));
	mon.auth_fails++;
	switch (st) {
	case AUTH_EXPIRED:
		log_info("[AUTH] The password of \"%s\" has expired (%s)",
		    mon.user, mon.s->addr);
		snprintf(text, sizeof(text), "[AUTH] The password of \"%s\" "
		    "has expired; change it, then log in again.", mon.user);
		break;
	case AUTH_DISABLED:
		log_info("[AUTH] The account \"%s\" is locked or expired (%s)",
		    mon.user, mon.s->addr);
		snprintf(text, sizeof(text), "[AUTH] The account \"%s\" is "
		    "locked or expired.", mon.user);
		break;
	default:
		if (mon.user[0] == '\0') {
			/* GSSAPI: no user was proven. */
			log_info("[AUTH] %s not accepted (%s)", how,
			    mon.s->addr);
			snprintf(text, sizeof(text), "[AUTH] %s not accepted.",
			    how);
			break;
		}
		/* Qpopper's line, which log watchers (fail2ban) match. */
		log_info("[AUTH] Failed attempted login to %s from host (%s) %s",
		    mon.user, mon.s->host[0] != '\0' ? mon.s->host :
		    mon.s->addr, mon.s->addr);
		snprintf(text, sizeof(text), "[AUTH] %s supplied for \"%s\" "
		    "is incorrect.", how, mon.user);
		break;
	}
	mm_report_login(mon.s, st == AUTH_EXPIRED ? MX_LOGIN_EXPIRED :
	    st == AUTH_DISABLED ? MX_LOGIN_DISABLED : MX_LOGIN_FAIL, mech);
	answer_auth(MN_AUTH_FAIL, text, -1);
}

/*
 * login-delay: the time of a user's last login is the mtime of
 * CACHE-DIR/USER:login, a file of root's in root's directory (no user name
 * holds ":", so it is no user's start-up cache).  0, or -1 if the name is
 * too long.
 */
static int
login_stamp_path(char *path, size_t len)
{
	int	n;

	n = snprintf(path, len, "%s/%s:login", mon.s->cf->cache_dir,
	    mon.user);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Seconds left before this user may log in again; 0 if none. */
static long
login_too_soon(void)
{
	struct stat	st;
	char		path[CFG_PATH_MAX + POP_USER_MAX + 8];
	time_t		now = time(NULL);
	long		delay = mon.s->cf->login_delay;

	if (delay == 0 || login_stamp_path(path, sizeof(path)) == -1 ||
	    lstat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	if (now < st.st_mtime || now - st.st_mtime >= delay)
		return 0;
	return delay - (long)(now - st.st_mtime);
}

/* A login happened now (see login_too_soon). */
static void
login_stamp(void)
{
	char	path[CFG_PATH_MAX + POP_USER_MAX + 8];
	int	fd, tries;

	if (mon.s->cf->login_delay == 0 ||
	    login_stamp_path(path, sizeof(path)) == -1)
		return;
	for (tries = 0; tries < 2; tries++) {
		fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		/* Not a regular file of ours: only root could have put it. */
		if (tries > 0 || unlink(path) == -1) {
			log_warn("login-delay %s", path);
			return;
		}
	}
	if (futimens(fd, NULL) == -1)
		log_warn("login-delay %s", path);
	close(fd);
}

/* After a check: refuse, or open the mailbox and start the worker. */
static void
finish_login(int st, struct auth_result *res, const char *how,
    const struct timespec *start)
{
	const char	*why = NULL;
	long		 left;
	int		 result = MN_AUTH_SYS;

	if (st != AUTH_OK) {
		refuse_login(st, how, res->how[0] != '\0' ? res->how :
		    strcmp(how, "APOP digest") == 0 ? "apop" : "", start);
		return;
	}
	log_info("authenticated \"%s\" (%s) from %s", mon.user, res->how,
	    mon.s->addr);
	strlcpy(mon.log.mech, res->how, sizeof(mon.log.mech));
	if ((left = login_too_soon()) > 0) {
		char	text[POP_LINE_MAX];

		log_info("\"%s\": login-delay: %ld seconds left", mon.user,
		    left);
		snprintf(text, sizeof(text), "[LOGIN-DELAY] Logins are %d "
		    "seconds apart; try again in %ld.",
		    mon.s->cf->login_delay, left);
		mm_report_login(mon.s, MX_LOGIN_DELAY, mon.log.mech);
		answer_auth(MN_AUTH_SYS, text, -1);
		return;
	}
	if (start_spool(res, &result, &why) == -1) {
		login_failed(result, why);
		return;
	}
	/* Answered once the spool worker has the locks. */
	mon.state = MON_AUTHED;
}

static void
mon_answer_auth_pass(void *arg, struct msg *m)
{
	struct auth_result	 res;
	struct timespec		 start;
	char			 name[POP_USER_MAX + 1], pass[POP_PASS_MAX + 1];
	int			 st = AUTH_FAIL;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &start);
	check_tries();
	msg_get_str(m, name, sizeof(name));
	msg_get_str(m, pass, sizeof(pass));
	msg_end(m);
	msg_wipe(m);
	memset(&res, 0, sizeof(res));
	if (take_user(name) == 0)
		st = auth_password(mon.s->cf, mon.user, pass, mon.s->addr,
		    &res);
	if (st == AUTH_FAIL)
		guard_auth_failed(mon.s, mon.user, pass);
	explicit_bzero(pass, sizeof(pass));
	finish_login(st, &res, "Password", &start);
}

/*
 * APOP: the digest must answer this connection's stamp, made here before
 * the network child existed; one attempt per connection, so a digest can
 * be tried once and a replayed one never matches.
 */
static void
mon_answer_auth_apop(void *arg, struct msg *m)
{
	struct auth_result	 res;
	struct timespec		 start;
	char			 name[POP_USER_MAX + 1];
	char			 digest[APOP_DIGEST_LEN + 1];
	int			 st = AUTH_FAIL;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &start);
	check_tries();
	msg_get_str(m, name, sizeof(name));
	msg_get_str(m, digest, sizeof(digest));
	msg_end(m);
	if (!mon.s->cf->apop || mon.apop_tried)
		fatalx("network child sent an APOP request it may not send");
	mon.apop_tried = 1;
	memset(&res, 0, sizeof(res));
	if (take_user(name) == 0)
		st = auth_apop(mon.s->cf, mon.user, mon.s->apop_stamp, digest,
		    mon.s->addr, &res);
	/* A digest answers this connection's stamp: each one is distinct. */
	if (st == AUTH_FAIL)
		guard_auth_failed(mon.s, mon.user, digest);
	finish_login(st, &res, "APOP digest", &start);
}

/* The start of a GSSAPI exchange: the acceptor forked, or -1. */
static int
gss_begin(void)
{
	if (mon.s->cf->keytab[0] == '\0')
		fatalx("network child sent a GSSAPI request it may not send");
	check_tries();
	if (++mon.gss_exchanges > GSS_EXCHANGES_MAX)
		fatalx("network child started more than %d GSSAPI exchanges",
		    GSS_EXCHANGES_MAX);
	return gssproc_start(mon.s->cf, &mon.gss);
}

static void
answer_gss(const uint8_t *tok, size_t len)
{
	struct msg	*a = &mf.ans;

	msg_init(a, MSG_MN_ANS_GSS);
	msg_put_data(a, tok, len);
	if (msg_send(mon.net_fd, a, -1) == -1)
		log_warn("send to the network child");
}

/*
 * One client token of SASL GSSAPI, relayed to the acceptor, which the
 * first one starts.  A challenge goes back to the network child; at the
 * end the acceptor is gone before the user it proved logs in as any
 * other, so nothing of the exchange is in the spool worker's memory.
 */
static void
mon_answer_auth_gss(void *arg, struct msg *m)
{
	struct auth_result	 res;
	struct timespec		 start;
	const uint8_t		*tok;
	uint8_t			 out[GSS_TOKEN_MAX];
	char			 user[POP_USER_MAX + 1];
	size_t			 len, outlen = 0;
	int			 step = GSS_STEP_FAIL, st = AUTH_FAIL;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &start);
	tok = msg_get_data(m, &len, GSS_TOKEN_MAX);
	msg_end(m);
	user[0] = '\0';
	if (mon.gss.fd != -1 || gss_begin() == 0)
		step = gssproc_step(&mon.gss, tok, len, out, sizeof(out),
		    &outlen, user, sizeof(user));
	if (step == GSS_STEP_CONTINUE) {
		answer_gss(out, outlen);
		return;
	}
	gssproc_stop(&mon.gss);
	mon.user[0] = '\0';
	memset(&res, 0, sizeof(res));
	if (step == GSS_STEP_DONE && take_user(user) == 0)
		st = auth_gss_account(mon.s->cf, mon.user, mon.s->addr, &res);
	finish_login(st, &res, "GSSAPI credentials", &start);
}

/* "*" or a response the network child refused: the exchange is over. */
static void
mon_gss_cancel(void *arg, struct msg *m)
{
	(void)arg;
	msg_end(m);
	if (mon.gss.fd == -1)
		fatalx("network child cancelled a GSSAPI exchange that is not "
		    "running");
	gssproc_stop(&mon.gss);
	log_info("GSSAPI exchange cancelled by the client");
}

static void
answer_sign(uint32_t status, const uint8_t *sig, size_t len)
{
	struct msg	*m = &mf.in;

	msg_init(m, MSG_MN_ANS_TLS_SIGN);
	msg_put_u32(m, status);
	msg_put_data(m, sig, len);
	if (msg_send(mon.net_fd, m, -1) == -1)
		log_warn("send to the network child");
}

/*
 * Relay one signature request to the key process.  The monitor's own
 * rule: one per connection, and none after the handshake (or after
 * login).  The key process applies its own checks again.
 */
static void
mon_answer_tls_sign(void *arg, struct msg *m)
{
	struct msg	*k = &mf.key;
	const uint8_t	*tbs, *sig;
	size_t		 tbs_len, sig_len;
	uint32_t	 status;
	uint16_t	 scheme;
	uint8_t		 key_id;

	(void)arg;
	key_id = msg_get_u8(m);
	scheme = msg_get_u16(m);
	tbs = msg_get_data(m, &tbs_len, KEY_TBS_MAX);
	msg_end(m);
	if (mon.s->key_fd == -1 || mon.tls_done || mon.signed_once) {
		log_warnx("refusing TLS signature request: %s",
		    mon.s->key_fd == -1 ? "no TLS" : mon.tls_done ?
		    "handshake already complete" : "second request");
		answer_sign(KEY_SIGN_REFUSED, NULL, 0);
		return;
	}
	mon.signed_once = 1;
	msg_init(k, MSG_KEY_REQ_SIGN);
	msg_put_u8(k, key_id);
	msg_put_u16(k, scheme);
	msg_put_data(k, tbs, tbs_len);
	if (msg_send(mon.s->key_fd, k, -1) == -1 ||
	    msg_recv(mon.s->key_fd, k) != 1) {
		log_warnx("key process unavailable");
		answer_sign(KEY_SIGN_FAILED, NULL, 0);
		return;
	}
	(void)msg_lookup(key_answers, sizeof(key_answers) /
	    sizeof(key_answers[0]), k, MON_ANY, "monitor<-key");
	status = msg_get_u32(k);
	sig = msg_get_data(k, &sig_len, KEY_SIG_MAX);
	msg_end(k);
	if (status != KEY_SIGN_OK)
		log_warnx("key process refused the TLS signature (status %u)",
		    status);
	answer_sign(status, sig, status == KEY_SIGN_OK ? sig_len : 0);
	msg_wipe(k);
}

static void
mon_tls_done(void *arg, struct msg *m)
{
	char	version[TLS_NAME_MAX], cipher[TLS_NAME_MAX];

	(void)arg;
	msg_get_str(m, version, sizeof(version));
	msg_get_str(m, cipher, sizeof(cipher));
	msg_end(m);
	mon.tls_done = 1;
	printable_copy(mon.log.tls_version, sizeof(mon.log.tls_version),
	    version);
	printable_copy(mon.log.tls_cipher, sizeof(mon.log.tls_cipher), cipher);
}

static void
answer_proxy(int verdict, const char *text)
{
	struct msg	*a = &mf.ans;

	msg_init(a, MSG_MN_ANS_PROXY);
	msg_put_u8(a, verdict == MM_PROXY_ADMITTED ? MN_PROXY_GO :
	    MN_PROXY_REFUSED);
	msg_put_str(a, verdict == MM_PROXY_ADMITTED ? "" : text);
	msg_put_u8(a, (uint8_t)mon.s->is_local);
	msg_put_str(a, mon.s->addr);
	msg_put_str(a, mon.s->host);
	if (msg_send(mon.net_fd, a, -1) == -1)
		log_warn("send to the network child");
}

/*
 * What the proxy's header said.  The address is checked here, not
 * believed: the network child parsed it from bytes off the network.  It
 * becomes the session's client before the master judges it, so that
 * every line about the session names it; the master decides whether the
 * session goes on.
 */
static void
mon_proxy(void *arg, struct msg *m)
{
	struct session	*s = mon.s;
	char		 addr[PROXY_ADDR_MAX], text[POP_LINE_MAX];
	uint8_t		 st;
	int		 verdict;

	(void)arg;
	st = msg_get_u8(m);
	msg_get_str(m, addr, sizeof(addr));
	msg_end(m);
	if (st > PROXY_HDR_LAST || (st == PROXY_HDR_OK) != (addr[0] != '\0'))
		fatalx("network child sent a bad PROXY status %u", st);
	strlcpy(s->proxy_addr, s->addr, sizeof(s->proxy_addr));
	if (st == PROXY_HDR_OK) {
		if (session_set_client(s, addr) == -1)
			fatalx("network child sent an invalid PROXY address");
		log_info("connection from %s through the proxy %s", s->addr,
		    s->proxy_addr);
	} else if (st == PROXY_HDR_LOCAL)
		log_info("connection from the proxy %s itself", s->addr);
	if ((verdict = guard_proxy(s, st, addr, text, sizeof(text))) == -1)
		return;		/* the network child closes */
	answer_proxy(verdict, text);
	if (verdict == MM_PROXY_ADMITTED)
		mon.state = MON_PREAUTH;
}

/* Send a descriptor that follows MSG_MS_ANS_LOCK. */
static void
send_fd(uint8_t flag, int fd)
{
	struct msg	*a = &mf.ans;

	msg_init(a, MSG_MS_ANS_FD);
	msg_put_u8(a, flag);
	if (msg_send(mon.spool_fd, a, fd) == -1)
		log_warn("send to the spool worker");
}

/*
 * The spool worker asks for the locks: at login (then the login is
 * answered) or for the update at the end of the session.  The dot-lock
 * names the worker, which is the process that writes; the fcntl lock is
 * on the open file the worker gets a descriptor of.  A writable
 * descriptor goes with the answer only when there is something to write.
 */
static void
mon_lock(void *arg, struct msg *m)
{
	struct msg	*a = &mf.ans;
	struct stat	 st;
	struct timespec	 t0;
	uint8_t		 purpose, flags = 0;
	int		 jfd = -1, ok;

	(void)arg;
	purpose = msg_get_u8(m);
	msg_end(m);
	if (purpose == MS_LOCK_RECOVER) {
		answer_recover();
		return;
	}
	if ((purpose != MS_LOCK_LOGIN && purpose != MS_LOCK_UPDATE) ||
	    mon.locked != 0 || (purpose == MS_LOCK_LOGIN) !=
	    (mon.pending_auth != -1) || mon.upd != UPD_NONE)
		fatalx("spool worker: lock request %u out of turn", purpose);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok = spool_lock(mon.mbox_fd, mon.mailbox, mon.spool_pid, &mon.lock)
	    == 0;
	mon.log.lock_wait_ms += ms_since(&t0);
	if (ok && purpose == MS_LOCK_LOGIN) {
		/* An update a crash interrupted: the worker completes it. */
		(void)spool_journal_open(mon.journal, mon.uid, &jfd);
		if (jfd != -1) {
			log_info("found the journal of an interrupted update: "
			    "%s", mon.journal);
			flags |= MS_FD_JOURNAL;
			mon.journal_named = 1;
		}
	}
	if (ok && mon.drop_fd != -1)
		flags |= MS_FD_DROP;
	if (ok && purpose == MS_LOCK_LOGIN && mon.bull_fd != -1)
		flags |= MS_FD_BULLETINS;
	msg_init(a, MSG_MS_ANS_LOCK);
	msg_put_u32(a, ok ? 0 : 1);
	msg_put_u8(a, ok ? flags : 0);
	if (msg_send(mon.spool_fd, a, ok && (flags != 0 ||
	    purpose == MS_LOCK_UPDATE) ? mon.mbox_fd : -1) == -1)
		log_warn("send to the spool worker");
	if (flags & MS_FD_JOURNAL)
		send_fd(MS_FD_JOURNAL, jfd);
	if (flags & MS_FD_DROP)
		send_fd(MS_FD_DROP, mon.drop_fd);
	if (flags & MS_FD_BULLETINS)
		send_fd(MS_FD_BULLETINS, mon.bull_fd);
	if (jfd != -1)
		close(jfd);
	if (!ok) {
		if (purpose == MS_LOCK_LOGIN) {
			close_pending();
			login_failed(errno == EAGAIN ? MN_AUTH_IN_USE :
			    MN_AUTH_SYS, errno == EAGAIN ? "mailbox is locked "
			    "by mail delivery or another program; try again "
			    "later" : "cannot lock the mailbox");
		}
		return;
	}
	mon.locked = purpose;
	mon.njournals = 0;
	clock_gettime(CLOCK_MONOTONIC, &mon.locked_at);
	if (purpose == MS_LOCK_UPDATE) {
		mon.upd = UPD_LOCKED;
		mon.update_locked = mon.locked_at;
		mon.update_size = fstat(mon.mbox_fd, &st) == 0 ? st.st_size : -1;
	}
}

/*
 * The recovery worker's request: the locks are still held; it gets the
 * writable descriptors and the named journal.
 */
static void
answer_recover(void)
{
	struct msg	*a = &mf.ans;
	uint8_t		 flags = MS_FD_JOURNAL;
	int		 jfd = -1;

	if (!mon.recovering || !mon.locked || mon.recover_answered++)
		fatalx("spool worker: recovery out of turn");
	(void)spool_journal_open(mon.journal, mon.uid, &jfd);
	if (jfd == -1) {
		msg_init(a, MSG_MS_ANS_LOCK);
		msg_put_u32(a, 1);
		msg_put_u8(a, 0);
		if (msg_send(mon.spool_fd, a, -1) == -1)
			log_warn("send to the spool worker");
		return;
	}
	if (mon.drop_fd != -1)
		flags |= MS_FD_DROP;
	msg_init(a, MSG_MS_ANS_LOCK);
	msg_put_u32(a, 0);
	msg_put_u8(a, flags);
	if (msg_send(mon.spool_fd, a, mon.mbox_fd) == -1)
		log_warn("send to the spool worker");
	send_fd(MS_FD_JOURNAL, jfd);
	if (flags & MS_FD_DROP)
		send_fd(MS_FD_DROP, mon.drop_fd);
	close(jfd);
}

static void
need_lock(const char *what)
{
	if (mon.locked == 0)
		fatalx("spool worker: %s without the lock", what);
}

static void
mon_journal_new(void *arg, struct msg *m)
{
	struct msg	*a = &mf.ans;

	(void)arg;
	msg_end(m);
	need_lock("JOURNAL_NEW");
	/* One at a time; at login one for bulletins and one for the drop. */
	if (mon.new_journal != -1 || mon.journal_named ||
	    ++mon.njournals > (mon.locked == MS_LOCK_LOGIN ? 2 : 1))
		fatalx("spool worker: journal %d out of turn", mon.njournals);
	mon.new_journal = spool_journal_new(mon.journal, mon.uid, mon.gid);
	msg_init(a, MSG_MS_ANS_JOURNAL_NEW);
	msg_put_u32(a, mon.new_journal == -1 ? 1 : 0);
	if (msg_send(mon.spool_fd, a, mon.new_journal) == -1)
		log_warn("send to the spool worker");
}

/* The journal's record is synced: from now on it can be found. */
static void
mon_journal_commit(void *arg, struct msg *m)
{
	struct msg	*a = &mf.ans;
	int		 rc;

	(void)arg;
	msg_end(m);
	need_lock("JOURNAL_COMMIT");
	if (mon.new_journal == -1)
		fatalx("spool worker: commit without a journal");
	rc = spool_journal_commit(mon.new_journal, mon.journal);
	close(mon.new_journal);
	mon.new_journal = -1;
	if (rc == 0) {
		mon.journal_named = 1;
		if (mon.upd == UPD_LOCKED)
			mon.upd = UPD_COMMITTED;
		/*
		 * At login the first journal with bulletins pending appends
		 * them: named, it completes even after a crash, so they are
		 * seen from now on, and never delivered twice.
		 */
		if (mon.locked == MS_LOCK_LOGIN && mon.bull_fd != -1 &&
		    !mon.bull_recorded) {
			mon.bull_recorded = 1;
			if (bull_record(mon.bull_state, mon.uid, mon.gid,
			    mon.bull_newest) == 0)
				log_info("bulletins up to %ld delivered",
				    mon.bull_newest);
		}
	}
	msg_init(a, MSG_MS_ANS_JOURNAL_COMMIT);
	msg_put_u32(a, rc == 0 ? 0 : 1);
	if (msg_send(mon.spool_fd, a, -1) == -1)
		log_warn("send to the spool worker");
}

static void
mon_journal_done(void *arg, struct msg *m)
{
	uint8_t	how;

	(void)arg;
	how = msg_get_u8(m);
	msg_end(m);
	need_lock("JOURNAL_DONE");
	if (how != MS_JOURNAL_REMOVE && how != MS_JOURNAL_SET_ASIDE)
		fatalx("spool worker: journal done %u", how);
	/* Only a journal found, by a login or a recovery, can be set aside. */
	if (how == MS_JOURNAL_SET_ASIDE && !mon.recovering &&
	    (mon.locked != MS_LOCK_LOGIN || mon.njournals != 0 ||
	    mon.new_journal != -1))
		fatalx("spool worker: set aside out of turn");
	if (mon.new_journal != -1) {
		/* Never named: nothing to remove. */
		close(mon.new_journal);
		mon.new_journal = -1;
		return;
	}
	if (!mon.journal_named)
		return;
	if (how == MS_JOURNAL_SET_ASIDE)
		spool_journal_set_aside(mon.journal);
	else
		spool_journal_remove(mon.journal);
	mon.journal_named = 0;
	if (mon.upd == UPD_COMMITTED)
		mon.upd = UPD_APPLIED;
}

static void
mon_progress(void *arg, struct msg *m)
{
	(void)arg;
	msg_end(m);
	if (mon.locked)
		spool_lock_refresh(&mon.lock);
}

/*
 * Login only: the worker has closed its writable descriptors and built
 * its index; the mailbox is unlocked, and the login is answered: the
 * maildrop is "locked and ready" (RFC 1939) for this session.
 */
static void
mon_unlock(void *arg, struct msg *m)
{
	struct msg	*a = &mf.ans;
	int		 net = mon.pending_auth, data = mon.pending_data;

	(void)arg;
	msg_end(m);
	if (mon.locked != MS_LOCK_LOGIN || mon.new_journal != -1 ||
	    net == -1 || data == -1)
		fatalx("spool worker: unlock out of turn");
	spool_unlock(mon.mbox_fd, &mon.lock);
	mon.locked = 0;
	mon.journal_named = 0;
	msg_init(a, MSG_MS_ANS_UNLOCK);
	if (msg_send(mon.spool_fd, a, -1) == -1)
		log_warn("send to the spool worker");
	mon.pending_auth = mon.pending_data = -1;
	mon.session_started = 1;
	login_stamp();
	mm_report_login(mon.s, MX_LOGIN_OK, mon.log.mech);
	answer_auth(MN_AUTH_OK, mon.user, net);
	close(net);
	msg_init(a, MSG_MN_ANS_DATA_PIPE);
	if (msg_send(mon.net_fd, a, data) == -1)
		log_warn("send to the network child");
	close(data);
	guard_authed(mon.s);
}

/* The new bulletins are in the mailbox (or not): record them as seen. */
static void
mon_bulletins_done(void *arg, struct msg *m)
{
	uint8_t	ok;

	(void)arg;
	ok = msg_get_u8(m);
	msg_end(m);
	if (mon.locked != MS_LOCK_LOGIN || mon.bull_fd == -1 || ok > 1 ||
	    (ok && !mon.bull_recorded))
		fatalx("spool worker: bulletins out of turn");
	close(mon.bull_fd);
	mon.bull_fd = -1;
	if (!ok && !mon.bull_recorded)
		log_warnx("bulletins up to %ld not delivered; they are tried "
		    "again at the next login", mon.bull_newest);
}

/* The worker's account of the end of the session; it exits next. */
static void
mon_quit_done(void *arg, struct msg *m)
{
	uint64_t	del_octets, left_octets;
	uint32_t	del, left;
	uint8_t		end;

	(void)arg;
	mon.quit_result = msg_get_u8(m);
	msg_get_str(m, mon.quit_text, sizeof(mon.quit_text));
	del = msg_get_u32(m);
	del_octets = msg_get_u64(m);
	left = msg_get_u32(m);
	left_octets = msg_get_u64(m);
	end = msg_get_u8(m);
	mon.log.retr_n = msg_get_u32(m);
	mon.log.retr_bytes = msg_get_u64(m);
	mon.log.top_n = msg_get_u32(m);
	mon.log.top_bytes = msg_get_u64(m);
	msg_end(m);
	if (mon.quit_reported || mon.quit_result > MS_QUIT_ERR ||
	    end > MS_END_QUIT)
		fatalx("spool worker: bad QUIT_DONE");
	mon.quit_reported = 1;
	mon.end_quit = end == MS_END_QUIT;
	mon.log.del_n = del;
	mon.log.del_bytes = del_octets;
	mon.log.left_n = left;
	mon.log.left_bytes = left_octets;
	if (mon.upd != UPD_NONE)
		mon.log.update_ms = ms_since(&mon.update_locked);
	/* Qpopper's statistics line (-s): user, deleted, kept, client. */
	if (mon.s->cf->statistics && mon.quit_result == MS_QUIT_OK)
		log_notice("Stats: %s %u %llu %u %llu %s %s", mon.user, del,
		    (unsigned long long)del_octets, left,
		    (unsigned long long)left_octets, mon.s->host,
		    mon.s->addr);
}

/* what NULL: a process the monitor killed itself, reaped quietly. */
static void
reap(pid_t pid, const char *what)
{
	int	status;

	if (pid <= 0)
		return;
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return;
	if (what == NULL)
		return;
	if (WIFSIGNALED(status))
		log_warnx("%s process killed by signal %d%s", what,
		    WTERMSIG(status), WTERMSIG(status) == SIGSYS ?
		    " (sandbox violation)" : "");
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warnx("%s process exited with status %d", what,
		    WEXITSTATUS(status));
}

/* One frame from a child, checked against its table, or the end. */
static int
serve(int *fd, const struct msg_handler *tab, size_t n, const char *chan)
{
	const struct msg_handler	*h;
	int				 rc;

	rc = msg_recv(*fd, &mf.in);
	if (rc <= 0) {
		close(*fd);
		*fd = -1;
		return 0;
	}
	h = msg_lookup(tab, n, &mf.in, (unsigned int)mon.state, chan);
	h->fn(&mon, &mf.in);
	msg_wipe(&mf.in);
	return 1;
}

/*
 * The answer to QUIT, once the worker is gone: what it reported, or what
 * the monitor itself knows of the update.
 */
static void
answer_quit(void)
{
	struct msg	*a = &mf.ans;
	const char	*text = mon.quit_text;
	uint8_t		 result = MN_QUIT_ERR;

	if (mon.net_fd == -1)
		return;
	if (mon.quit_reported && mon.quit_result == MS_QUIT_OK &&
	    mon.upd != UPD_COMMITTED)
		result = MN_QUIT_OK;
	else if (mon.upd == UPD_APPLIED)
		result = MN_QUIT_OK;
	else if (mon.upd == UPD_COMMITTED)
		text = "[SYS/TEMP] Mailbox update interrupted; it will be "
		    "completed at the next login";
	else if (!mon.quit_reported)
		text = "[SYS/TEMP] The mailbox session ended unexpectedly; no "
		    "messages were removed";
	msg_init(a, MSG_MN_ANS_QUIT);
	msg_put_u8(a, result);
	msg_put_str(a, result == MN_QUIT_OK ? "" : text);
	if (msg_send(mon.net_fd, a, -1) == -1 && errno != EPIPE &&
	    errno != ECONNRESET)
		log_warn("send to the network child");
}

/* An empty temp drop is removed with the session. */
static void
close_drop(void)
{
	struct stat	a, b;

	if (mon.drop_fd == -1)
		return;
	if (fstat(mon.drop_fd, &a) == 0 && a.st_size == 0 &&
	    lstat(mon.drop, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino && unlink(mon.drop) == -1)
		log_warn("unlink %s", mon.drop);
	close(mon.drop_fd);
	mon.drop_fd = -1;
}

/*
 * Fork the recovery worker.  The dead worker is not reaped before the
 * dot-lock names its successor: until then its process id stays taken,
 * so no delivery agent judges the lock stale in between.
 */
static int
start_recovery(void)
{
	int	ms[2];
	const int no_net[2] = { -1, -1 };
	pid_t	pid, me = getpid(), dead = mon.spool_pid;

	if (mon.new_journal != -1)
		close(mon.new_journal);
	mon.new_journal = -1;
	if (msg_socketpair(ms) == -1) {
		log_warn("socketpair");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		close(ms[0]);
		close(ms[1]);
		return -1;
	}
	if (pid == 0) {
		close(ms[0]);
		spool_child(me, mon.uid, mon.gid, -1, -1, -1, no_net, ms[1]);
		/* NOTREACHED */
	}
	close(ms[1]);
	mon.spool_pid = pid;
	mon.spool_fd = ms[0];
	mon.recovering = 1;
	clock_gettime(CLOCK_MONOTONIC, &mon.spool_heard);
	mon.locked_at = mon.spool_heard;
	if (spool_lock_retarget(&mon.lock, pid) == -1)
		log_warnx("the lock still names the spool worker that died");
	reap(dead, "spool worker");
	log_info("completing the update of a spool worker that died");
	return 0;
}

/*
 * The worker is gone during an update it had neither committed nor
 * reported.  Such an update touched nothing, unless it was a cut (when
 * nothing is kept after the first deleted message, the update is one
 * ftruncate and needs no journal): the mailbox, shorter now than when the
 * update's lock was taken, shows it, and the locks kept every other
 * writer out.  The cut is synced and the update counts as done, so the
 * reply to QUIT says what became of the mailbox.
 */
static void
judge_cut(void)
{
	struct stat	st;

	if (mon.upd != UPD_LOCKED || mon.quit_reported || mon.journal_named ||
	    mon.drop_fd != -1 ||
	    mon.mbox_fd == -1 || mon.update_size < 0 ||
	    fstat(mon.mbox_fd, &st) == -1 || st.st_size >= mon.update_size)
		return;
	if (fsync(mon.mbox_fd) == -1) {
		log_warn("fsync the mailbox after its update");
		return;
	}
	log_info("the spool worker ended after cutting the mailbox from %lld "
	    "to %lld bytes: the update is done", (long long)mon.update_size,
	    (long long)st.st_size);
	mon.upd = UPD_APPLIED;
}

/*
 * The spool worker is gone.  Only now, with the writer reaped, are the
 * locks released and the mailbox closed (which also drops the session's
 * flock claim, so the user's next session is not refused); then the
 * client gets the answer to QUIT.
 */
static void
release_mailbox(void)
{
	/*
	 * A worker that died with a named journal: another completes it at
	 * once, under the same locks, so the mailbox is never left half
	 * rewritten and the client learns what became of it.
	 */
	if (mon.locked && mon.journal_named && !mon.recovering &&
	    start_recovery() == 0)
		return;
	reap(mon.spool_pid, "spool worker");
	mon.spool_pid = 0;
	judge_cut();
	if (mon.new_journal != -1)
		close(mon.new_journal);
	mon.new_journal = -1;
	if (mon.mbox_fd != -1) {
		if (mon.locked)
			spool_unlock(mon.mbox_fd, &mon.lock);
		mon.locked = 0;
		close(mon.mbox_fd);
		mon.mbox_fd = -1;
	}
	close_drop();
	if (mon.bull_fd != -1)
		close(mon.bull_fd);
	mon.bull_fd = -1;
	if (mon.pending_auth != -1) {
		close_pending();
		login_failed(MN_AUTH_SYS, "cannot open the mailbox");
	} else if (mon.session_started)
		answer_quit();
}

static void
kill_and_reap(pid_t *pid)
{
	if (*pid <= 0)
		return;
	(void)kill(*pid, SIGKILL);
	while (waitpid(*pid, NULL, 0) == -1 && errno == EINTR)
		;
	*pid = 0;
}

/* Why the session ended, as far as the monitor knows. */
static const char *
end_reason(int fatal)
{
	if (fatal)
		return "error";
	if (!mon.session_started)
		return "no-login";
	if (!mon.quit_reported)
		return "worker-lost";
	if (!mon.end_quit)
		return "dropped";
	return mon.quit_result == MS_QUIT_OK ? "quit" : "update-failed";
}

/* The end-of-session line, once, for every session. */
static void
log_session_end(int fatal)
{
	if (mon.logged_end)
		return;
	mon.logged_end = 1;
	mon.log.reason = end_reason(fatal);
	if (mon.session_started)
		strlcpy(mon.log.user, mon.user, sizeof(mon.log.user));
	strlcpy(mon.log.rip, mon.s->addr, sizeof(mon.log.rip));
	strlcpy(mon.log.pip, mon.s->proxy_addr, sizeof(mon.log.pip));
	sesslog_emit(mon.s->cf, mon.s->id, &mon.log);
	mm_report_end(mon.s, &mon.log, (mon.tls_done ? MX_END_TLS : 0) |
	    (mon.session_started ? MX_END_LOCKED : 0) |
	    (mon.upd != UPD_NONE && mon.quit_reported ? MX_END_UPDATED : 0) |
	    (mon.net_killed ? MX_END_LOGIN_TIMEOUT : 0));
}

/*
 * On any fatal error: the children go first, the writer reaped before
 * the mailbox's locks are released.
 */
static void
release_on_fatal(void)
{
	/*
	 * Both reaped before the monitor exits: the master counts the
	 * session until the monitor is gone, and by then no child of it
	 * is left to hold the client's connection.
	 */
	kill_and_reap(&mon.net_pid);
	kill_and_reap(&mon.gss.pid);
	kill_and_reap(&mon.spool_pid);
	if (mon.mbox_fd != -1 && mon.locked)
		spool_unlock(mon.mbox_fd, &mon.lock);
	log_session_end(1);
}

/*
 * A worker that holds the locks but has said nothing for LOCK_STUCK_SECS
 * is killed before any delivery agent could judge the lock stale by its
 * age, so that it can never write after the lock is gone.
 */
static void
check_stuck(void)
{
	struct timespec	now;

	if (!mon.locked || mon.spool_pid <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - mon.spool_heard.tv_sec >= LOCK_STUCK_SECS)
		log_warnx("spool worker silent for %d seconds while holding the "
		    "lock; killing it", LOCK_STUCK_SECS);
	else if (now.tv_sec - mon.locked_at.tv_sec >= LOCK_HOLD_MAX_SECS)
		log_warnx("spool worker has held the lock for %d seconds; "
		    "killing it", LOCK_HOLD_MAX_SECS);
	else
		return;
	(void)kill(mon.spool_pid, SIGKILL);
	mon.spool_heard = now;
	mon.locked_at = now;
}

/*
 * No login within login-timeout: the monitor ends the session itself, so
 * a client (or a network child) that keeps the connection busy cannot
 * hold it past the deadline.
 */
static void
end_unauthenticated(void)
{
	log_info("no login within login-timeout (%d seconds) from %s; "
	    "ending the session", mon.s->cf->login_timeout, mon.s->addr);
	(void)kill(mon.net_pid, SIGKILL);
	mon.net_killed = 1;
	close(mon.net_fd);
	mon.net_fd = -1;
}

void
monitor_main(struct session *s)
{
	struct pollfd	pfd[2];
	int		sv[2], keep[MON_NKEEP];
	pid_t		pid, me = getpid();

	log_procname("monitor");
	log_session(s->id);
	priv_harden();
	guard_start_clock();
	/* Made before the network child exists: it cannot choose its own. */
	if (s->cf->apop && apop_make_stamp(s->myname, s->apop_stamp,
	    sizeof(s->apop_stamp)) == -1)
		fatalx("cannot make the APOP timestamp");
	if (msg_socketpair(sv) == -1)
		fatal("socketpair");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		priv_die_with_parent(me);
		guard_forget();
		close(sv[0]);
		if (s->key_fd != -1)
			close(s->key_fd);
		s->key_fd = -1;
		netchild_main(s, sv[1]);
		/* NOTREACHED */
	}
	close(sv[1]);
	/*
	 * Set up only now: the network child has no use for struct monitor,
	 * and pages the monitor writes before the fork and again after it
	 * would stay in the child as copies of its own.
	 */
	memset(&mon, 0, sizeof(mon));
	mon.s = s;
	mon.state = s->proxied ? MON_PROXY : MON_PREAUTH;
	mon.spool_fd = -1;
	mon.mbox_fd = -1;
	mon.drop_fd = -1;
	mon.pending_auth = mon.pending_data = -1;
	mon.new_journal = -1;
	mon.bull_fd = -1;
	mon.gss.fd = -1;
	log_set_fatal_hook(release_on_fatal);
	/* The monitor never reads a client byte. */
	close(s->client_fd);
	s->client_fd = -1;
	mon.net_pid = pid;
	mon.net_fd = sv[0];
	keep[MON_FD_STDERR] = STDERR_FILENO;
	keep[MON_FD_NET] = mon.net_fd;
	keep[MON_FD_KEY] = s->key_fd;
	keep[MON_FD_TRACE] = log_trace_fd();	/* the tracefile, if any */
	keep[MON_FD_MASTER] = s->master_fd;
	close_all_but(keep, MON_NKEEP);

	while (mon.net_fd != -1 || mon.spool_fd != -1) {
		/* A closed channel polls as fd -1, which poll() ignores. */
		pfd[0].fd = mon.net_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = mon.spool_fd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, guard_poll_timeout(s->cf, (mon.state &
		    (MON_PREAUTH | MON_PROXY)) && mon.net_fd != -1, mon.locked ?
		    1000 : -1))
		    == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		check_stuck();
		if ((mon.state & (MON_PREAUTH | MON_PROXY)) &&
		    mon.net_fd != -1 && guard_deadline_passed(s->cf)) {
			end_unauthenticated();
			continue;
		}
		if (pfd[0].fd != -1 && pfd[0].revents != 0)
			serve(&mon.net_fd, net_handlers, sizeof(net_handlers) /
			    sizeof(net_handlers[0]), "monitor<-net");
		/* A spool channel opened by that frame waits for the next poll. */
		if (pfd[1].fd != -1 && pfd[1].fd == mon.spool_fd &&
		    pfd[1].revents != 0) {
			clock_gettime(CLOCK_MONOTONIC, &mon.spool_heard);
			if (serve(&mon.spool_fd, spool_handlers,
			    sizeof(spool_handlers) / sizeof(spool_handlers[0]),
			    "monitor<-spool") == 0)
				release_mailbox();
		}
	}
	/* Every exit path releases the mailbox. */
	if (mon.spool_pid > 0 || mon.mbox_fd != -1)
		release_mailbox();
	reap(mon.net_pid, mon.net_killed ? NULL : "network child");
	log_session_end(0);
	log_debug("session ended");
	log_flush();
	_exit(0);
}
