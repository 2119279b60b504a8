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
 * The spool worker: forked by the session monitor only after a successful
 * login, it runs as the mail user with no supplementary groups (so not in
 * group mail), chrooted to the empty directory, under its seccomp filter
 * (sandbox_spool.c).  It works only on the descriptors it was handed:
 * read-only ones of the mailbox (and of the temp drop) for the session,
 * writable ones only while the monitor holds the locks for it.  It asks
 * the monitor to lock, and writes only through the update journal
 * (spool/journal.c).  It trusts neither the mailbox content (anyone can
 * send mail) nor the network child's requests: every message number is
 * checked against its own index.  It parses mail only after it has
 * closed every writable descriptor it got at login.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "manifest.h"
#include "monitor_spool.h"
#include "msg.h"
#include "net_spool.h"
#include "priv.h"
#include "session.h"
#include "spool.h"

enum { SW_READY = 0x01 };

struct spoolworker {
	const struct config *cf;
	int		 net_fd;
	int		 data_fd;	/* the data pipe's write end */
	int		 mon_fd;
	int		 mbox_fd;	/* read-only */
	int		 drop_fd;	/* read-only; -1 unless temp-drop mode */
	int		 rw_mbox;	/* writable, only while locked */
	int		 rw_drop;
	int		 journal_fd;	/* of the update in progress */
	int		 bull_fd;	/* new bulletins to append at login */
	int		 cache_fd;	/* the start-up cache, or -1 */
	struct mbox	 mb;		/* of the drop in temp-drop mode */
	const char	*broken;	/* why the mailbox cannot be served */
	struct msg	 in;
	struct msg	 out;
	uint32_t	 retr_n, top_n;		/* for the session's log line */
	uint64_t	 retr_bytes, top_bytes;
};

static struct spoolworker sw;

static void	sw_stat(void *, struct msg *);
static void	sw_list(void *, struct msg *);
static void	sw_uidl(void *, struct msg *);
static void	sw_retr(void *, struct msg *);
static void	sw_top(void *, struct msg *);
static void	sw_dele(void *, struct msg *);
static void	sw_rset(void *, struct msg *);
static void	sw_quit(void *, struct msg *);

static const struct msg_handler net_handlers[] = {
	MSG_ROW(MSG_NS_REQ_STAT, 0, 0, 0, SW_READY, sw_stat),
	MSG_ROW(MSG_NS_REQ_LIST, 4, 4, 0, SW_READY, sw_list),
	MSG_ROW(MSG_NS_REQ_UIDL, 4, 4, 0, SW_READY, sw_uidl),
	MSG_ROW(MSG_NS_REQ_RETR, 4, 4, 0, SW_READY, sw_retr),
	MSG_ROW(MSG_NS_REQ_TOP, 8, 8, 0, SW_READY, sw_top),
	MSG_ROW(MSG_NS_REQ_DELE, 4, 4, 0, SW_READY, sw_dele),
	MSG_ROW(MSG_NS_REQ_RSET, 0, 0, 0, SW_READY, sw_rset),
	MSG_ROW(MSG_NS_REQ_QUIT, 0, 0, 0, SW_READY, sw_quit),
};

/* What the spool worker takes from the network child, for popsepd -P. */
const struct msg_handler *
msgtab_spool_net(size_t *n_r)
{
	*n_r = sizeof(net_handlers) / sizeof(net_handlers[0]);
	return net_handlers;
}

/*
 * The monitor's answers, each awaited by the request that asked for it.
 * A descriptor comes with a lock or journal answer only when the body
 * says so; the code that reads the body checks which.
 */
static const struct msg_handler mon_answers[] = {
	MSG_ROW(MSG_MS_ANS_LOCK, 4 + 1, 4 + 1, MSGF_FD_MAY, SW_READY, NULL),
	MSG_ROW(MSG_MS_ANS_FD, 1, 1, MSGF_FD, SW_READY, NULL),
	MSG_ROW(MSG_MS_ANS_JOURNAL_NEW, 4, 4, MSGF_FD_MAY, SW_READY, NULL),
	MSG_ROW(MSG_MS_ANS_JOURNAL_COMMIT, 4, 4, 0, SW_READY, NULL),
	MSG_ROW(MSG_MS_ANS_UNLOCK, 0, 0, 0, SW_READY, NULL),
};

/* What the spool worker takes from the monitor, for popsepd -P. */
const struct msg_handler *
msgtab_spool_monitor(size_t *n_r)
{
	*n_r = sizeof(mon_answers) / sizeof(mon_answers[0]);
	return mon_answers;
}

/*
 * The descriptors of the spool worker: the slots of its keep[] list (a
 * recovery worker has no network channel), then those the monitor sends
 * with the locks, which it closes before it parses mail.
 */
enum { SW_FD_STDERR, SW_FD_MBOX, SW_FD_NET, SW_FD_DATA, SW_FD_MONITOR,
	SW_FD_DROP, SW_FD_CACHE, SW_NKEEP };

static const struct proc_fd sw_fds[] = {
	[SW_FD_STDERR] = { "stderr", "stdio", "start", NULL, NULL },
	[SW_FD_MBOX] = { "mailbox-read-only", "file", "start", NULL, NULL },
	[SW_FD_NET] = { "net-channel", "socket", "start", "not-recovery",
	    NULL },
	[SW_FD_DATA] = { "data-pipe-write", "pipe", "start", "not-recovery",
	    NULL },
	[SW_FD_MONITOR] = { "monitor-channel", "socket", "start", NULL,
	    NULL },
	[SW_FD_DROP] = { "temp-drop-read-only", "file", "start", "temp-drop",
	    NULL },
	[SW_FD_CACHE] = { "start-up-cache", "file", "start", "cache", NULL },
	/* With MSG_MS_ANS_LOCK and MSG_MS_ANS_FD, MSG_MS_ANS_JOURNAL_NEW. */
	{ "mailbox-writable", "file", "locked", NULL, NULL },
	{ "temp-drop-writable", "file", "locked", "temp-drop", NULL },
	{ "journal", "file", "locked", NULL, NULL },
	{ "bulletins", "memfd", "locked", "bulletins", NULL },
};

/* What the spool worker holds, for popsepd -P. */
const struct proc_fd *
spool_fds(size_t *n_r)
{
	*n_r = sizeof(sw_fds) / sizeof(sw_fds[0]);
	return sw_fds;
}

static void
log_to_monitor(int prio, const char *line)
{
	struct msg	*m = &sw.out;

	msg_init(m, MSG_MS_REQ_LOG);
	msg_put_u8(m, (uint8_t)prio);
	msg_put_data(m, line, strnlen(line, LOG_LINE_MAX - 1));
	(void)msg_send(sw.mon_fd, m, -1);
}

static void
answer(uint16_t type, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static __attribute__((noreturn)) void	session_end(int);
static int	edit_opts(void);
static int	recover_journal(int);

/*
 * The network child is gone (the client hung up mid-answer): end as for
 * any dropped connection.
 */
static __attribute__((noreturn)) void
net_gone(void)
{
	if (errno == EPIPE || errno == ECONNRESET)
		session_end(0);
	fatal("send to the network child");
}

static void
answer(uint16_t type, const char *fmt, ...)
{
	char		 text[POP_LINE_MAX - 16];
	struct msg	*m = &sw.out;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	msg_init(m, type);
	msg_put_str(m, text);
	if (msg_send(sw.net_fd, m, -1) == -1)
		net_gone();
}

static void
answer_type(uint16_t type)
{
	struct msg	*m = &sw.out;

	msg_init(m, type);
	if (msg_send(sw.net_fd, m, -1) == -1)
		net_gone();
}

/*
 * A piece of a multi-line answer: its length in a frame, then its bytes
 * into the data pipe.  The frame goes first, so that the network child
 * is taking from the pipe while a piece larger than the pipe's room is
 * written.  arg: the byte count of RETR or TOP it is added to, or NULL.
 */
static int
send_data(void *arg, const uint8_t *p, size_t len)
{
	struct msg	*m = &sw.out;
	ssize_t		 n;

	if (len == 0)
		return 0;
	if (arg != NULL)
		*(uint64_t *)arg += len;
	msg_init(m, MSG_NS_ANS_DATA);
	msg_put_u32(m, (uint32_t)len);
	if (msg_send(sw.net_fd, m, -1) == -1)
		return -1;
	while (len > 0) {
		n = write(sw.data_fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Totals of the messages not marked deleted. */
static void
visible(size_t *n_r, uint64_t *octets_r)
{
	*n_r = sw.mb.n - sw.mb.ndel;
	*octets_r = sw.mb.octets - sw.mb.del_octets;
}

/* The message a client's number names, or NULL after answering -ERR. */
static struct mbox_msg *
lookup(uint32_t n)
{
	if (n == 0 || n > sw.mb.n) {
		answer(MSG_NS_ANS_ERR, "Message %u does not exist.", n);
		return NULL;
	}
	if (mbox_deleted(&sw.mb, n - 1)) {
		answer(MSG_NS_ANS_ERR, "Message %u has been deleted.", n);
		return NULL;
	}
	return &sw.mb.msgs[n - 1];
}

static int
check_broken(void)
{
	if (sw.broken == NULL)
		return 0;
	answer(MSG_NS_ANS_ERR, "[SYS/PERM] %s", sw.broken);
	return 1;
}

static void
sw_stat(void *arg, struct msg *m)
{
	size_t		n;
	uint64_t	octets;

	(void)arg;
	msg_end(m);
	if (check_broken())
		return;
	visible(&n, &octets);
	answer(MSG_NS_ANS_OK, "%zu %llu", n, (unsigned long long)octets);
}

/* LIST and UIDL: one line, or every visible message. */
static void
list_common(struct msg *m, int uidl)
{
	struct mbox_msg	*mm;
	char		 line[UID_LEN_MAX + 32], uid[UID_BUF];
	size_t		 i, n;
	uint64_t	 octets;
	uint32_t	 no = msg_get_u32(m);
	int		 len;
	struct {
		size_t	 len;
		uint8_t	 buf[MSG_DATA_CHUNK];
	} *b;

	msg_end(m);
	if (check_broken())
		return;
	if (no != 0) {
		if ((mm = lookup(no)) == NULL)
			return;
		if (uidl)
			answer(MSG_NS_ANS_OK, "%u %s", no,
			    mbox_uid(&sw.mb, mm, uid));
		else
			answer(MSG_NS_ANS_OK, "%u %llu", no,
			    (unsigned long long)mm->octets);
		return;
	}
	visible(&n, &octets);
	if (uidl)
		answer(MSG_NS_ANS_MULTI, "uidl command accepted.");
	else
		answer(MSG_NS_ANS_MULTI, "%zu visible messages (%llu octets)",
		    n, (unsigned long long)octets);
	if ((b = mbox_buf_new(sizeof(*b))) == NULL)
		fatal("%s", __func__);
	b->len = 0;
	for (i = 0; i < sw.mb.n; i++) {
		mm = &sw.mb.msgs[i];
		if (mbox_deleted(&sw.mb, i))
			continue;
		if (uidl)
			len = snprintf(line, sizeof(line), "%zu %s\r\n", i + 1,
			    mbox_uid(&sw.mb, mm, uid));
		else
			len = snprintf(line, sizeof(line), "%zu %llu\r\n",
			    i + 1, (unsigned long long)mm->octets);
		if (len < 0 || (size_t)len >= sizeof(line))
			bug("%s: line too long", __func__);
		if (b->len + (size_t)len > sizeof(b->buf)) {
			if (send_data(NULL, b->buf, b->len) == -1)
				net_gone();
			b->len = 0;
		}
		memcpy(b->buf + b->len, line, (size_t)len);
		b->len += (size_t)len;
	}
	if (b->len > 0 && send_data(NULL, b->buf, b->len) == -1)
		net_gone();
	mbox_buf_free(b, sizeof(*b));
	mbox_release_index(&sw.mb);
	answer_type(MSG_NS_ANS_END);
}

static void
sw_list(void *arg, struct msg *m)
{
	(void)arg;
	list_common(m, 0);
}

static void
sw_uidl(void *arg, struct msg *m)
{
	(void)arg;
	list_common(m, 1);
}

/*
 * The pages of the mapped mailbox a command read are dropped from the
 * worker again (they stay in the page cache): an idle session holds none
 * of them, whatever the size of the mailbox.
 */
static void
release_map(uint64_t from, uint64_t to)
{
	uintptr_t	a, b, pg = (uintptr_t)getpagesize();

	if (sw.mb.map == NULL || to <= from || to > sw.mb.size)
		return;
	a = ((uintptr_t)sw.mb.map + (uintptr_t)from) & ~(pg - 1);
	b = (uintptr_t)sw.mb.map + (uintptr_t)to;
	if (madvise((void *)a, (size_t)(b - a), MADV_DONTNEED) == -1)
		log_warn("madvise");
}

static void
send_message(uint32_t no, int64_t lines, uint32_t *count, uint64_t *bytes)
{
	struct mbox_msg	*mm;

	if (check_broken() || (mm = lookup(no)) == NULL)
		return;
	answer(MSG_NS_ANS_MULTI, "%llu octets", (unsigned long long)mm->octets);
	if (mbox_emit(&sw.mb, no - 1, lines, send_data, bytes) == -1)
		net_gone();
	(*count)++;
	release_map(mm->from, mm->next);
	mbox_release_index(&sw.mb);
	answer_type(MSG_NS_ANS_END);
}

static void
sw_retr(void *arg, struct msg *m)
{
	uint32_t	no = msg_get_u32(m);

	(void)arg;
	msg_end(m);
	send_message(no, -1, &sw.retr_n, &sw.retr_bytes);
	/* For Status: (update-status-headers); a bad number marks none. */
	if (no >= 1 && no <= sw.mb.n)
		mbox_mark_retrieved(&sw.mb, no - 1);
}

static void
sw_top(void *arg, struct msg *m)
{
	uint32_t	no = msg_get_u32(m), lines = msg_get_u32(m);

	(void)arg;
	msg_end(m);
	if (lines > INT32_MAX)
		fatalx("TOP: line count %u", lines);
	send_message(no, lines, &sw.top_n, &sw.top_bytes);
}

static void
sw_dele(void *arg, struct msg *m)
{
	struct mbox_msg	*mm;
	uint32_t	 no = msg_get_u32(m);

	(void)arg;
	msg_end(m);
	if (check_broken() || (mm = lookup(no)) == NULL)
		return;
	mbox_mark_deleted(&sw.mb, no - 1, 1);
	answer(MSG_NS_ANS_OK, "Message %u has been marked for deletion.", no);
}

static void
sw_rset(void *arg, struct msg *m)
{
	size_t		n;
	uint64_t	octets;

	(void)arg;
	msg_end(m);
	if (check_broken())
		return;
	mbox_undelete_all(&sw.mb);
	visible(&n, &octets);
	answer(MSG_NS_ANS_OK, "Maildrop has %zu messages (%llu octets)", n,
	    (unsigned long long)octets);
}

/* ------------------------------------------------ the monitor channel */

static void
to_monitor(struct msg *m, int fd)
{
	if (msg_send(sw.mon_fd, m, fd) == -1)
		fatal("send to the monitor");
}

static void
from_monitor(struct msg *m, uint16_t type)
{
	if (msg_recv(sw.mon_fd, m) != 1)
		fatalx("monitor gone");
	(void)msg_lookup(mon_answers, sizeof(mon_answers) /
	    sizeof(mon_answers[0]), m, SW_READY, "spool<-monitor");
	if (m->type != type)
		fatalx("unexpected frame %u from the monitor", m->type);
}

/* A descriptor the monitor sends after MSG_MS_ANS_LOCK. */
static int
recv_fd(uint8_t flag)
{
	struct msg	*m = &sw.in;
	int		 fd;

	from_monitor(m, MSG_MS_ANS_FD);
	if (msg_get_u8(m) != flag || m->fd == -1)
		fatalx("descriptor %u missing from the lock answer", flag);
	fd = m->fd;
	m->fd = -1;
	msg_end(m);
	return fd;
}

/*
 * Ask the monitor for the locks.  Locked: 0, with a writable mailbox
 * descriptor in sw.rw_mbox if the monitor sent one, the journal of an
 * interrupted update in *jfd_r (login), the writable drop in sw.rw_drop.
 */
static int
mon_lock(uint8_t purpose, int *jfd_r)
{
	struct msg	*m = &sw.in;
	uint32_t	 status;
	uint8_t		 flags;
	int		 fd;

	*jfd_r = -1;
	msg_init(m, MSG_MS_REQ_LOCK);
	msg_put_u8(m, purpose);
	to_monitor(m, -1);
	from_monitor(m, MSG_MS_ANS_LOCK);
	status = msg_get_u32(m);
	flags = msg_get_u8(m);
	fd = m->fd;
	m->fd = -1;
	msg_end(m);
	if (status != 0) {
		if (fd != -1 || flags != 0)
			fatalx("lock refused with descriptors");
		return -1;
	}
	if ((flags & ~(MS_FD_JOURNAL | MS_FD_DROP | MS_FD_BULLETINS)) != 0 ||
	    (purpose == MS_LOCK_UPDATE &&
	    (flags & (MS_FD_JOURNAL | MS_FD_BULLETINS))) ||
	    (purpose == MS_LOCK_RECOVER && (flags & MS_FD_JOURNAL) == 0) ||
	    ((flags != 0 || purpose == MS_LOCK_UPDATE) != (fd != -1)) ||
	    (((flags & MS_FD_DROP) != 0) != (sw.drop_fd != -1) &&
	    (purpose == MS_LOCK_UPDATE || flags != 0) &&
	    purpose != MS_LOCK_RECOVER))
		fatalx("lock answer: flags %#x %s a descriptor", flags,
		    fd == -1 ? "without" : "with");
	sw.rw_mbox = fd;
	if (flags & MS_FD_JOURNAL)
		*jfd_r = recv_fd(MS_FD_JOURNAL);
	if (flags & MS_FD_DROP)
		sw.rw_drop = recv_fd(MS_FD_DROP);
	if (flags & MS_FD_BULLETINS)
		sw.bull_fd = recv_fd(MS_FD_BULLETINS);
	return 0;
}

/* Login only: every writable descriptor is closed, the index is built. */
static void
mon_unlock(void)
{
	struct msg	*m = &sw.in;

	if (sw.rw_mbox != -1 || sw.rw_drop != -1)
		bug("%s: writable descriptors left", __func__);
	msg_init(m, MSG_MS_REQ_UNLOCK);
	to_monitor(m, -1);
	from_monitor(m, MSG_MS_ANS_UNLOCK);
	msg_end(m);
}

static void
close_writable(void)
{
	if (sw.rw_mbox != -1)
		close(sw.rw_mbox);
	if (sw.rw_drop != -1)
		close(sw.rw_drop);
	sw.rw_mbox = sw.rw_drop = -1;
}

/* A new unnamed journal for an update, or -1. */
static int
journal_new(void)
{
	struct msg	*m = &sw.in;
	uint32_t	 status;
	int		 fd;

	msg_init(m, MSG_MS_REQ_JOURNAL_NEW);
	to_monitor(m, -1);
	from_monitor(m, MSG_MS_ANS_JOURNAL_NEW);
	status = msg_get_u32(m);
	fd = m->fd;
	m->fd = -1;
	msg_end(m);
	if ((status == 0) != (fd != -1))
		fatalx("journal answer %u %s a descriptor", status,
		    fd == -1 ? "without" : "with");
	return fd;
}

/* journal_update()'s commit: the monitor names the synced journal. */
static int
journal_commit(void *arg)
{
	struct msg	*m = &sw.in;
	uint32_t	 status;

	(void)arg;
	msg_init(m, MSG_MS_REQ_JOURNAL_COMMIT);
	to_monitor(m, -1);
	from_monitor(m, MSG_MS_ANS_JOURNAL_COMMIT);
	status = msg_get_u32(m);
	msg_end(m);
	return status == 0 ? 0 : -1;
}

/* The journal's work is done (or never began), or it is not ours. */
static void
journal_done(int jfd, uint8_t how)
{
	struct msg	*m = &sw.in;

	close(jfd);
	msg_init(m, MSG_MS_REQ_JOURNAL_DONE);
	msg_put_u8(m, how);
	to_monitor(m, -1);
}

/* A long index or update goes on: the monitor refreshes the dot-lock. */
static void
send_progress(void)
{
	struct msg	*m = &sw.in;

	msg_init(m, MSG_MS_REQ_PROGRESS);
	to_monitor(m, -1);
}

/* ---------------------------------------------------------- updates */

/*
 * Bytes to put between the end of a file of size bytes and a message
 * appended to it, so that the message begins after an empty line (mbox)
 * or after the file's closing ^A^A^A^A line (MMDF): one of "", "\n",
 * "\n\n".
 */
static const char *
separator_after(int fd, uint64_t size)
{
	uint8_t	t[5];
	size_t	n = size < sizeof(t) ? (size_t)size : sizeof(t);

	if (size == 0)
		return "";
	if (pread(fd, t, n, (off_t)(size - n)) != (ssize_t)n)
		return "\n\n";
	if (n == 5 && memcmp(t, "\1\1\1\1\n", 5) == 0)
		return "";
	if (n >= 2 && t[n - 2] == '\n' && t[n - 1] == '\n')
		return "";
	return t[n - 1] == '\n' ? "\n" : "\n\n";
}

/* The separator a message appended after [0, size) of fd needs. */
static void
add_separator(struct jpiece *p, size_t *n, int fd, uint64_t size)
{
	const char	*sep = separator_after(fd, size);

	if (*sep == '\0')
		return;
	p[*n].src = JSRC_MEM;
	p[*n].mem = (const uint8_t *)sep;
	p[*n].off = 0;
	p[(*n)++].len = strlen(sep);
}

static void
set_target(struct jtarget *t, int kind, uint64_t w, uint64_t s_cur,
    const struct jpiece *p, size_t n)
{
	t->kind = kind;
	t->w = w;
	t->s_cur = s_cur;
	t->pieces = p;
	t->npieces = n;
}

/* The first bytes of a spool: a separator, or a file we must not touch. */
static int
starts_with_separator(int fd, uint64_t size)
{
	uint8_t	h[5];

	if (size < 5 || pread(fd, h, 5, 0) != 5)
		return 0;
	return memcmp(h, "From ", 5) == 0 || memcmp(h, "\1\1\1\1\n", 5) == 0;
}

static uint64_t
file_size(int fd)
{
	struct stat	st;

	if (fstat(fd, &st) == -1)
		fatal("fstat");
	return (uint64_t)st.st_size;
}

/*
 * Temp-drop mode, at login and locked: the spool's mail goes to the end
 * of the drop and the spool is emptied, in one journalled update, so a
 * crash leaves the mail in exactly one of the two.  A drop that already
 * holds mail was left by a session that was killed: the new mail is
 * appended after it, which merges the two.
 */
static void
move_to_drop(void)
{
	struct jfiles	 f = { -1, sw.rw_mbox, sw.rw_drop, -1 };
	struct jtarget	 tg[2];
	struct jpiece	 p[2];
	const char	*why = NULL;
	uint64_t	 s, d;
	size_t		 n = 0;
	int		 rc;

	s = file_size(sw.rw_mbox);
	d = file_size(sw.rw_drop);
	if (d > 0)
		log_info("merging the temp drop of an interrupted session "
		    "(%llu bytes) with %llu bytes of new mail",
		    (unsigned long long)d, (unsigned long long)s);
	if (s == 0)
		return;
	if (!starts_with_separator(sw.rw_mbox, s)) {
		sw.broken = "Unable to process From lines (envelope), change "
		    "recognition modes";
		log_warnx("%s; the mailbox is left as it is", sw.broken);
		return;
	}
	add_separator(p, &n, sw.rw_drop, d);
	mbox_add_piece(p, &n, JSRC_SPOOL, 0, s);
	set_target(&tg[0], JT_DROP, d, d, p, n);
	set_target(&tg[1], JT_SPOOL, 0, s, NULL, 0);
	if ((f.journal = journal_new()) == -1) {
		sw.broken = "cannot move new mail to the temp drop";
		return;
	}
	rc = journal_update(&f, tg, 2, journal_commit, NULL, &why);
	if (rc != -2)
		journal_done(f.journal, MS_JOURNAL_REMOVE);
	else
		close(f.journal);
	if (rc != 0) {
		log_warnx("temp drop: %s", why);
		sw.broken = "cannot move new mail to the temp drop; nothing "
		    "was lost";
	}
}

/*
 * At login and locked: new bulletins are appended to the spool like
 * delivered mail, through the journal; the monitor records them as seen
 * only once they are there.
 */
static void
append_bulletins(void)
{
	struct jfiles	 f = { -1, sw.rw_mbox, -1, sw.bull_fd };
	struct jtarget	 tg;
	struct jpiece	 p[2];
	struct msg	*m = &sw.in;
	const char	*why = NULL;
	uint64_t	 s = file_size(sw.rw_mbox), b = file_size(sw.bull_fd);
	size_t		 n = 0;
	int		 rc = -1;

	if (sw.broken == NULL && (s == 0 || starts_with_separator(sw.rw_mbox,
	    s))) {
		add_separator(p, &n, sw.rw_mbox, s);
		mbox_add_piece(p, &n, JSRC_BULLETINS, 0, b);
		set_target(&tg, JT_SPOOL, s, s, p, n);
		if ((f.journal = journal_new()) != -1) {
			rc = journal_update(&f, &tg, 1, journal_commit, NULL,
			    &why);
			if (rc != -2)
				journal_done(f.journal, MS_JOURNAL_REMOVE);
			else
				close(f.journal);
			if (rc != 0)
				log_warnx("bulletins: %s", why);
		}
	}
	close(sw.bull_fd);
	sw.bull_fd = -1;
	msg_init(m, MSG_MS_REQ_BULLETINS_DONE);
	msg_put_u8(m, rc == 0);
	to_monitor(m, -1);
	if (rc == -2)
		sw.broken = "an update could not be completed; nothing was "
		    "lost";
}

/*
 * The update at the end of a session, locked, with writable descriptors:
 * in place, the deleted messages removed; in temp-drop mode, the kept
 * messages of the drop followed by the mail that reached the spool since
 * login go to the spool, and the drop is emptied.  Returns what
 * journal_update() returns, with *why set on failure.
 */
static int
write_update(uint64_t *left_r, const char **why)
{
	struct jfiles	 f = { -1, sw.rw_mbox, sw.rw_drop, -1 };
	struct jtarget	 tg[2];
	struct jpiece	*p;
	uint8_t		*mem;
	uint64_t	 s = file_size(sw.rw_mbox), d, start;
	size_t		 n, i;
	int		 rc;

	if (sw.drop_fd == -1) {
		f.journal = sw.journal_fd;
		return mbox_update_inplace(&sw.mb, &f, edit_opts(), s,
		    journal_commit, NULL, left_r, why);
	}
	d = file_size(sw.rw_drop);
	if (d < sw.mb.size) {
		*why = "temp drop shrank during the session";
		return -1;
	}
	if (mbox_kept_pieces(&sw.mb, 0, JSRC_DROP, edit_opts(), 4, &p, &n,
	    &mem, why) == -1)
		return -1;
	/* Whatever precedes the first message is kept as it is. */
	start = sw.mb.start;
	if (start > 0) {
		memmove(p + 1, p, n * sizeof(*p));
		p[0].src = JSRC_DROP;
		p[0].off = 0;
		p[0].len = start;
		p[0].mem = NULL;
		n++;
	}
	mbox_add_piece(p, &n, JSRC_DROP, sw.mb.size, d - sw.mb.size);
	/* After the last kept message, an empty line, then new mail. */
	if (s > 0 && n > 0)
		add_separator(p, &n, sw.drop_fd, p[n - 1].off + p[n - 1].len);
	mbox_add_piece(p, &n, JSRC_SPOOL, 0, s);
	set_target(&tg[0], JT_SPOOL, 0, s, p, n);
	set_target(&tg[1], JT_DROP, 0, d, NULL, 0);
	f.journal = sw.journal_fd;
	rc = journal_update(&f, tg, 2, journal_commit, NULL, why);
	*left_r = 0;
	for (i = 0; i < n; i++)
		*left_r += p[i].len;
	free(p);
	free(mem);
	return rc;
}

static int
edit_opts(void)
{
	return sw.cf->update_status_headers ? MBOX_EDIT_STATUS : 0;
}

/*
 * After an update in place, the index moved to where the update put the
 * messages goes to the start-up cache (the mail that arrived during the
 * session follows them, and is indexed at the next login as new).
 */
static void
cache_after_update(void)
{
	struct stat	st;

	if (sw.cache_fd == -1)
		return;
	if (sw.drop_fd != -1 || mbox_after_update(&sw.mb, edit_opts()) == -1 ||
	    fstat(sw.rw_mbox, &st) == -1) {
		cache_clear(sw.cache_fd);
		return;
	}
	cache_store(sw.cache_fd, &sw.mb, sw.rw_mbox, &st);
}

/* Whether the session's end must write anything. */
static int
must_write(void)
{
	if (sw.broken != NULL)
		return 0;
	/* In temp-drop mode the mail goes back to the spool in any case. */
	return sw.drop_fd != -1 || mbox_first_edit(&sw.mb, edit_opts()) <
	    sw.mb.n;
}

static void
quit_done(uint8_t result, const char *text, int quit)
{
	struct msg	*m = &sw.out;
	uint64_t	 del_octets = sw.mb.del_octets;
	uint64_t	 left_octets = sw.mb.octets - sw.mb.del_octets;
	uint32_t	 del = (uint32_t)sw.mb.ndel;
	uint32_t	 left = (uint32_t)(sw.mb.n - sw.mb.ndel);
	msg_init(m, MSG_MS_REQ_QUIT_DONE);
	msg_put_u8(m, result);
	msg_put_str(m, text);
	msg_put_u32(m, del);
	msg_put_u64(m, del_octets);
	msg_put_u32(m, left);
	msg_put_u64(m, left_octets);
	msg_put_u8(m, quit ? MS_END_QUIT : MS_END_DROPPED);
	msg_put_u32(m, sw.retr_n);
	msg_put_u64(m, sw.retr_bytes);
	msg_put_u32(m, sw.top_n);
	msg_put_u64(m, sw.top_bytes);
	to_monitor(m, -1);
}

/*
 * The end of the session: after QUIT (quit set), or when the client is
 * gone.  A dropped connection changes nothing (RFC 1939 6), unless
 * update-on-abort says the deletions stand anyway; in temp-drop mode the
 * mail still goes back to the spool.  The worker exits; the monitor
 * releases the locks once it is gone and answers the client.
 */
static void
session_end(int quit)
{
	const char	*why = NULL;
	char		 text[POP_LINE_MAX - 32];
	uint64_t	 left;
	int		 rc, jfd;

	if (!quit && !sw.cf->update_on_abort)
		mbox_undelete_all(&sw.mb);
	if (!must_write()) {
		quit_done(MS_QUIT_OK, "", quit);
		_exit(0);
	}
	if (mon_lock(MS_LOCK_UPDATE, &jfd) == -1) {
		log_warnx("cannot lock the mailbox for the update");
		quit_done(MS_QUIT_ERR, "[IN-USE] Unable to lock the mailbox; "
		    "no messages were removed", quit);
		_exit(0);
	}
	if ((sw.journal_fd = journal_new()) == -1) {
		quit_done(MS_QUIT_ERR, "[SYS/TEMP] Mailbox update failed "
		    "(cannot create the update journal); no messages were "
		    "removed", quit);
		_exit(0);
	}
	rc = write_update(&left, &why);
	if (rc != -2)
		journal_done(sw.journal_fd, MS_JOURNAL_REMOVE);
	if (rc == 0) {
		quit_done(MS_QUIT_OK, "", quit);
		/* Still locked: the monitor unlocks once the worker is gone. */
		cache_after_update();
		_exit(0);
	}
	cache_clear(sw.cache_fd);
	log_warnx("update failed: %s", why);
	if (rc == -1)
		snprintf(text, sizeof(text), "[SYS/TEMP] Mailbox update failed "
		    "(%s); no messages were removed", why);
	else
		snprintf(text, sizeof(text), "[SYS/TEMP] Mailbox update "
		    "interrupted (%s); it will be completed at the next "
		    "login", why);
	quit_done(MS_QUIT_ERR, text, quit);
	_exit(0);
}

/* QUIT in TRANSACTION state: the one moment mail leaves the mailbox. */
static void
sw_quit(void *arg, struct msg *m)
{
	(void)arg;
	msg_end(m);
	session_end(1);
}

/* ---------------------------------------------------------- login */

/*
 * After the cache was written anew: serve the index from its pages, as
 * the next login will, so that an idle session holds none of it.
 */
static void
serve_from_cache(const uint8_t *map, uint64_t size, const struct stat *st)
{
	struct mbox	 mb;
	const char	*why;
	uint64_t	 pos, csize;

	if (sw.cache_fd == -1 || sw.mb.n == 0 || cache_load(sw.cache_fd, &mb,
	    map, size, st, &pos, &csize, &why) != 1)
		return;
	if (pos != size || mb.n != sw.mb.n || mb.octets != sw.mb.octets) {
		mbox_free(&mb);
		return;
	}
	mbox_free(&sw.mb);
	sw.mb = mb;
}

/*
 * Index the mailbox (the drop in temp-drop mode), from the start-up cache
 * and the mail that arrived since if the cache holds, else whole; then
 * leave the index in the cache for the next login.
 */
static void
index_mailbox(void)
{
	struct stat	 st;
	const char	*cwhy;
	uint64_t	 size, pos, csize;
	int		 fd = sw.drop_fd != -1 ? sw.drop_fd : sw.mbox_fd;
	int		 cached = 0;
	void		*map = NULL;

	if (fstat(fd, &st) == -1)
		fatal("fstat");
	size = (uint64_t)st.st_size;
	if (size > 0) {
		map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			fatal("mmap mailbox");
	}
	if (sw.broken != NULL) {
		memset(&sw.mb, 0, sizeof(sw.mb));
		release_map(0, size);
		return;
	}
	if (size > 0 && cache_load(sw.cache_fd, &sw.mb, map, size, &st, &pos,
	    &csize, &cwhy) == 1) {
		cached = 1;
		if (pos < size && mbox_parse_more(&sw.mb, map, size, pos,
		    &sw.broken) == -1) {
			log_info("start-up cache: cannot be continued; "
			    "indexing the whole mailbox");
			sw.broken = NULL;
			cached = 0;
		}
	} else if (cwhy != NULL && size > 0)
		log_info("start-up cache %s: indexing the whole mailbox", cwhy);
	if (!cached && mbox_parse(&sw.mb, map, size, &sw.broken) == -1) {
		log_warnx("%s", sw.broken);
		cache_clear(sw.cache_fd);
	} else {
		log_debug("indexed %zu messages, %llu bytes, %s", sw.mb.n,
		    (unsigned long long)size, cached ? "from the start-up "
		    "cache and the mail after it" : "whole");
		if (!cached || csize != size)
			cache_store(sw.cache_fd, &sw.mb, fd, &st);
		if (sw.mb.recs == NULL)
			serve_from_cache(map, size, &st);
	}
	release_map(0, size);
	mbox_release_index(&sw.mb);
}

/*
 * Started by the monitor, which still holds the locks, when a worker died
 * with a named journal: complete it now, then exit.
 */
static __attribute__((noreturn)) void
recover_only(void)
{
	int	jfd;

	if (mon_lock(MS_LOCK_RECOVER, &jfd) == -1 || jfd == -1)
		_exit(1);
	(void)recover_journal(jfd);
	_exit(0);
}

/*
 * Complete the journal of an interrupted update with the writable
 * descriptors the lock brought, and tell the monitor what to do with it.
 * Returns -1 if it could be neither completed nor set aside: then both
 * stay as they are, for the next login.
 */
static int
recover_journal(int jfd)
{
	struct jfiles	 f = { jfd, sw.rw_mbox, sw.rw_drop, -1 };
	const char	*why;
	int		 rc;

	rc = journal_recover(&f, &why);
	if (rc == 0)
		journal_done(jfd, MS_JOURNAL_REMOVE);
	else if (rc == -2) {
		log_warnx("%s", why);
		journal_done(jfd, MS_JOURNAL_SET_ASIDE);
	} else {
		log_warnx("%s; the mailbox and its journal are left as they are",
		    why);
		close(jfd);
	}
	return rc == -1 ? -1 : 0;
}

/*
 * Under the monitor's locks: finish an interrupted update, move new mail
 * to the temp drop, close every writable descriptor, then index.
 */
static void
login_locked(void)
{
	int	jfd;

	if (mon_lock(MS_LOCK_LOGIN, &jfd) == -1)
		_exit(0);	/* the monitor tells the client */
	if (jfd != -1 && recover_journal(jfd) == -1)
		sw.broken = "an interrupted update could not be completed; it "
		    "is tried again at the next login";
	if (sw.bull_fd != -1)
		append_bulletins();
	if (sw.broken == NULL && sw.rw_drop != -1)
		move_to_drop();
	close_writable();
	index_mailbox();
	/* What indexing freed goes back: an idle session stays small. */
	malloc_trim(0);
	/* The index is built: delivery may go on while the client reads. */
	mon_unlock();
}

void
spool_main(const struct config *cf, uid_t uid, gid_t gid, int mbox_fd,
    int drop_fd, int cache_fd, const int net[2], int mon_fd)
{
	struct priv_user	 u = { uid, gid };
	const struct msg_handler *h;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen;
	int			 keep[SW_NKEEP];
	int			 rc;

	log_procname("spool");
	keep[SW_FD_STDERR] = STDERR_FILENO;
	keep[SW_FD_MBOX] = mbox_fd;
	keep[SW_FD_NET] = net[0];
	keep[SW_FD_DATA] = net[1];
	keep[SW_FD_MONITOR] = mon_fd;
	keep[SW_FD_DROP] = drop_fd;
	keep[SW_FD_CACHE] = cache_fd;
	close_all_but(keep, SW_NKEEP);
	sw.cf = cf;
	sw.net_fd = net[0];
	sw.data_fd = net[1];
	sw.mon_fd = mon_fd;
	sw.mbox_fd = mbox_fd;
	sw.drop_fd = drop_fd;
	sw.cache_fd = cache_fd;
	sw.rw_mbox = sw.rw_drop = sw.journal_fd = sw.bull_fd = -1;
	/* Load the digest before the sandbox forbids opening its config. */
	if (EVP_Digest("", 0, md, &mdlen, EVP_sha256(), NULL) != 1)
		fatalx("SHA-256 unavailable");
	/* The allocator's first trim may set it up (getrandom): now. */
	malloc_trim(0);
	log_set_sink(log_to_monitor);
	priv_drop(cf->chroot_dir, &u);
	sandbox_session(SANDBOX_SPOOL);
	journal_set_progress(send_progress, (size_t)cf->mail_lock_check);

	if (sw.net_fd == -1)
		recover_only();
	login_locked();
	for (;;) {
		rc = msg_recv(sw.net_fd, &sw.in);
		if (rc == 0)
			session_end(0);	/* dropped connection */
		if (rc == -1)
			fatal("recv from the network child");
		h = msg_lookup(net_handlers, sizeof(net_handlers) /
		    sizeof(net_handlers[0]), &sw.in, SW_READY, "net");
		h->fn(&sw, &sw.in);
	}
}
