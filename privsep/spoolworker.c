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
 * (sandbox_spool.c).  It works only on the mailbox descriptor it was
 * handed, and asks the monitor to lock.  It trusts neither the mailbox
 * content (anyone can send mail) nor the network child's requests: every
 * message number is checked against its own index.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "monitor_spool.h"
#include "msg.h"
#include "net_spool.h"
#include "priv.h"
#include "session.h"
#include "spool.h"

enum { SW_READY = 0x01 };

struct spoolworker {
	int		 net_fd;
	int		 mon_fd;
	int		 mbox_fd;
	struct mbox	 mb;
	const char	*broken;	/* why the mailbox cannot be served */
	struct msg	 in;
	struct msg	 out;
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
	{ MSG_NS_REQ_STAT, 0, 0, 0, SW_READY, sw_stat, "STAT" },
	{ MSG_NS_REQ_LIST, 4, 4, 0, SW_READY, sw_list, "LIST" },
	{ MSG_NS_REQ_UIDL, 4, 4, 0, SW_READY, sw_uidl, "UIDL" },
	{ MSG_NS_REQ_RETR, 4, 4, 0, SW_READY, sw_retr, "RETR" },
	{ MSG_NS_REQ_TOP, 8, 8, 0, SW_READY, sw_top, "TOP" },
	{ MSG_NS_REQ_DELE, 4, 4, 0, SW_READY, sw_dele, "DELE" },
	{ MSG_NS_REQ_RSET, 0, 0, 0, SW_READY, sw_rset, "RSET" },
	{ MSG_NS_REQ_QUIT, 0, 0, 0, SW_READY, sw_quit, "QUIT" },
};

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

/*
 * The network child is gone (the client hung up mid-answer): end quietly,
 * changing nothing, as for any dropped connection.
 */
static __attribute__((noreturn)) void
net_gone(void)
{
	if (errno == EPIPE || errno == ECONNRESET)
		_exit(0);
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

static int
send_data(void *arg, const uint8_t *p, size_t len)
{
	struct msg	*m = &sw.out;

	(void)arg;
	msg_init(m, MSG_NS_ANS_DATA);
	msg_put_data(m, p, len);
	return msg_send(sw.net_fd, m, -1);
}

/* Totals of the messages not marked deleted. */
static void
visible(size_t *n_r, uint64_t *octets_r)
{
	size_t	i;

	*n_r = 0;
	*octets_r = 0;
	for (i = 0; i < sw.mb.n; i++)
		if (!sw.mb.msgs[i].deleted) {
			(*n_r)++;
			*octets_r += sw.mb.msgs[i].octets;
		}
}

/* The message a client's number names, or NULL after answering -ERR. */
static struct mbox_msg *
lookup(uint32_t n)
{
	if (n == 0 || n > sw.mb.n) {
		answer(MSG_NS_ANS_ERR, "Message %u does not exist.", n);
		return NULL;
	}
	if (sw.mb.msgs[n - 1].deleted) {
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
	char		 line[UID_LEN_MAX + 32];
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
			answer(MSG_NS_ANS_OK, "%u %s", no, mm->uid);
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
	if ((b = malloc(sizeof(*b))) == NULL)
		fatal("%s", __func__);
	b->len = 0;
	for (i = 0; i < sw.mb.n; i++) {
		mm = &sw.mb.msgs[i];
		if (mm->deleted)
			continue;
		if (uidl)
			len = snprintf(line, sizeof(line), "%zu %s\r\n", i + 1,
			    mm->uid);
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
	free(b);
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

static void
send_message(uint32_t no, int64_t lines)
{
	struct mbox_msg	*mm;

	if (check_broken() || (mm = lookup(no)) == NULL)
		return;
	answer(MSG_NS_ANS_MULTI, "%llu octets", (unsigned long long)mm->octets);
	if (mbox_emit(&sw.mb, no - 1, lines, send_data, NULL) == -1)
		net_gone();
	answer_type(MSG_NS_ANS_END);
}

static void
sw_retr(void *arg, struct msg *m)
{
	uint32_t	no = msg_get_u32(m);

	(void)arg;
	msg_end(m);
	send_message(no, -1);
}

static void
sw_top(void *arg, struct msg *m)
{
	uint32_t	no = msg_get_u32(m), lines = msg_get_u32(m);

	(void)arg;
	msg_end(m);
	if (lines > INT32_MAX)
		fatalx("TOP: line count %u", lines);
	send_message(no, lines);
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
	mm->deleted = 1;
	answer(MSG_NS_ANS_OK, "Message %u has been marked for deletion.", no);
}

static void
sw_rset(void *arg, struct msg *m)
{
	size_t		n, i;
	uint64_t	octets;

	(void)arg;
	msg_end(m);
	if (check_broken())
		return;
	for (i = 0; i < sw.mb.n; i++)
		sw.mb.msgs[i].deleted = 0;
	visible(&n, &octets);
	answer(MSG_NS_ANS_OK, "Maildrop has %zu messages (%llu octets)", n,
	    (unsigned long long)octets);
}

/*
 * Ask the monitor to lock (and get the new update journal's descriptor in
 * *jfd_r) or to unlock; both wait for the answer.
 */
static int
mon_lock(int lock, int *jfd_r)
{
	struct msg	*m = &sw.in;
	uint32_t	 status;

	msg_init(m, lock ? MSG_MS_REQ_LOCK : MSG_MS_REQ_UNLOCK);
	if (msg_send(sw.mon_fd, m, -1) == -1)
		fatal("send to the monitor");
	if (msg_recv(sw.mon_fd, m) != 1)
		fatalx("monitor gone");
	if (m->type != (lock ? MSG_MS_ANS_LOCK : MSG_MS_ANS_UNLOCK))
		fatalx("unexpected frame %u from the monitor", m->type);
	status = lock ? msg_get_u32(m) : 0;
	if (lock && (status == 0) != (m->fd != -1))
		fatalx("lock answer %u %s a journal", status, m->fd == -1 ?
		    "without" : "with");
	if (jfd_r != NULL)
		*jfd_r = m->fd;
	m->fd = -1;
	msg_end(m);
	return status == 0 ? 0 : -1;
}

/* The journal's work is done (or never began): the monitor removes it. */
static void
journal_done(int jfd)
{
	struct msg	*m = &sw.in;

	close(jfd);
	msg_init(m, MSG_MS_REQ_JOURNAL_DONE);
	if (msg_send(sw.mon_fd, m, -1) == -1)
		fatal("send to the monitor");
}

static void
report_stats(void)
{
	struct msg	*m = &sw.out;
	uint64_t	 del_octets = 0, left_octets = 0;
	uint32_t	 del = 0, left = 0;
	size_t		 i;

	for (i = 0; i < sw.mb.n; i++)
		if (sw.mb.msgs[i].deleted) {
			del++;
			del_octets += sw.mb.msgs[i].octets;
		} else {
			left++;
			left_octets += sw.mb.msgs[i].octets;
		}
	msg_init(m, MSG_MS_REQ_STATS);
	msg_put_u32(m, del);
	msg_put_u64(m, del_octets);
	msg_put_u32(m, left);
	msg_put_u64(m, left_octets);
	(void)msg_send(sw.mon_fd, m, -1);
}

/* QUIT in TRANSACTION state: the one moment mail leaves the mailbox. */
static void
sw_quit(void *arg, struct msg *m)
{
	struct stat	 st;
	const char	*why = NULL;
	uint64_t	 new_size;
	size_t		 i;
	int		 any = 0, jfd, rc = -1;

	(void)arg;
	msg_end(m);
	for (i = 0; i < sw.mb.n; i++)
		any |= sw.mb.msgs[i].deleted;
	if (sw.broken != NULL || !any) {
		report_stats();
		spool_unclaim(sw.mbox_fd);
		answer(MSG_NS_ANS_OK, "Pop server signing off.");
		_exit(0);
	}
	if (mon_lock(1, &jfd) == -1) {
		log_warnx("cannot lock the mailbox for the update");
		spool_unclaim(sw.mbox_fd);
		answer(MSG_NS_ANS_ERR, "[IN-USE] Unable to lock the mailbox; "
		    "no messages were removed");
		_exit(0);
	}
	if (fstat(sw.mbox_fd, &st) == -1)
		why = "cannot stat the mailbox";
	else if ((rc = mbox_compact(&sw.mb, sw.mbox_fd, jfd,
	    (uint64_t)st.st_size, &new_size, &why)) == 0)
		why = NULL;
	/* A half-done rewrite keeps its journal for the next login. */
	if (rc != -2)
		journal_done(jfd);
	(void)mon_lock(0, NULL);
	spool_unclaim(sw.mbox_fd);
	if (why != NULL) {
		log_warnx("update failed: %s", why);
		answer(MSG_NS_ANS_ERR, "[SYS/TEMP] Mailbox update failed (%s); "
		    "no messages were removed", why);
		_exit(0);
	}
	report_stats();
	answer(MSG_NS_ANS_OK, "Pop server signing off.");
	_exit(0);
}

void
spool_main(const struct config *cf, uid_t uid, gid_t gid, int mbox_fd,
    int journal_fd, int net_fd, int mon_fd)
{
	struct priv_user	 u = { uid, gid };
	const struct msg_handler *h;
	struct stat		 st;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen;
	void			*map = NULL;
	const char		*why;
	int			 keep[5] = { STDERR_FILENO, mbox_fd, net_fd,
				    mon_fd, journal_fd };
	int			 rc;

	log_procname("spool");
	close_all_but(keep, 5);
	sw.net_fd = net_fd;
	sw.mon_fd = mon_fd;
	sw.mbox_fd = mbox_fd;
	/* Load the digest before the sandbox forbids opening its config. */
	if (EVP_Digest("", 0, md, &mdlen, EVP_sha256(), NULL) != 1)
		fatalx("SHA-256 unavailable");
	log_set_sink(log_to_monitor);
	priv_drop(cf->chroot_dir, &u);
	sandbox_spool();

	/* Under the monitor's locks: first finish an interrupted update. */
	if (journal_fd != -1) {
		if (journal_recover(journal_fd, mbox_fd, &why) == 0)
			journal_done(journal_fd);
		else {
			log_warnx("%s; the mailbox and its journal are left as "
			    "they are", why);
			sw.broken = "an interrupted update could not be "
			    "completed; nothing was changed";
		}
	}
	if (fstat(mbox_fd, &st) == -1)
		fatal("fstat mailbox");
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED,
		    mbox_fd, 0);
		if (map == MAP_FAILED)
			fatal("mmap mailbox");
	}
	if (sw.broken == NULL &&
	    mbox_parse(&sw.mb, map, (uint64_t)st.st_size, &sw.broken) == -1)
		log_warnx("%s", sw.broken);
	/* The index is built: delivery may go on while the client reads. */
	(void)mon_lock(0, NULL);

	for (;;) {
		rc = msg_recv(net_fd, &sw.in);
		if (rc == 0)
			_exit(0);	/* dropped connection: change nothing */
		if (rc == -1)
			fatal("recv from the network child");
		h = msg_lookup(net_handlers, sizeof(net_handlers) /
		    sizeof(net_handlers[0]), &sw.in, SW_READY, "net");
		h->fn(&sw, &sw.in);
	}
}
