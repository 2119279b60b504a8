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
 * Unit tests of the update journal (spool/journal.c), the one crash-safe
 * way the spool worker changes a mailbox or a temp drop.  For updates
 * that shrink a file in place, that grow it (the temp drop's mail put
 * back before new mail) and that change two files at once (new mail
 * moved to the drop), every state a crash can leave is built by hand:
 * the copy into place stopped at each block boundary, copied but not
 * cut, complete; with and without mail delivered after the crash; with
 * the journal torn at every length.  Recovery must then produce exactly
 * the update's result followed by the delivered mail, or leave the files
 * as they were when the update never began.  A journal must not be
 * applied to a file that was replaced or rewritten since.
 * Runs in no process of the daemon; the files are memfds.
 */

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "params.h"
#include "spool.h"
#include "test.h"

#define BLK	4096

struct buf {
	uint8_t	*p;
	size_t	 len;
};

struct tcase {
	const char	*name;
	size_t		 olen;		/* the spool's old size */
	size_t		 dlen;		/* the drop's old size; 0: no drop */
	int		 kind;		/* 0 shrink, 1 grow, 2 move to drop */
};

static const struct tcase cases[] = {
	{ "shrink-small", 3000, 0, 0 },
	{ "shrink", 70000, 0, 0 },
	{ "shrink-big", 600000, 0, 0 },
	{ "grow", 50000, 20000, 1 },
	{ "grow-from-empty", 30000, 0, 1 },
	{ "move-to-drop", 45000, 9000, 2 },
	{ "move-to-empty-drop", 45000, 0, 2 },
};

static struct buf	 journal_at_commit;
static const char	*newmail = "From new@example.org  Mon Jan  5 00:00:00 "
			    "2026\nSubject: delivered after the crash\n\nhi\n\n";

static void
fill(uint8_t *p, size_t len, uint32_t seed)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(' ' + (seed >> 16) % 90);
		if ((seed >> 8) % 61 == 0)
			p[i] = '\n';
	}
}

static int
memfile(const uint8_t *p, size_t len)
{
	int	fd;

	if ((fd = memfd_create("t", MFD_CLOEXEC)) == -1) {
		perror("memfd_create");
		exit(2);
	}
	if (len > 0 && pwrite(fd, p, len, 0) != (ssize_t)len) {
		perror("pwrite");
		exit(2);
	}
	return fd;
}

/* Make fd hold exactly these bytes (the same file: same inode). */
static void
set_content(int fd, const uint8_t *p, size_t len)
{
	if (ftruncate(fd, 0) == -1 || (len > 0 &&
	    pwrite(fd, p, len, 0) != (ssize_t)len)) {
		perror("set_content");
		exit(2);
	}
}

static struct buf
content(int fd)
{
	struct stat	st;
	struct buf	b;

	if (fstat(fd, &st) == -1) {
		perror("fstat");
		exit(2);
	}
	b.len = (size_t)st.st_size;
	if ((b.p = malloc(b.len + 1)) == NULL ||
	    pread(fd, b.p, b.len, 0) != (ssize_t)b.len) {
		perror("content");
		exit(2);
	}
	return b;
}

/* The commit callback: the journal as it is when it gets its name. */
static int
snapshot(void *arg)
{
	free(journal_at_commit.p);
	journal_at_commit = content(*(int *)arg);
	return 0;
}

struct plan {
	struct jtarget	 tg[2];
	struct jpiece	 p[2][4];
	size_t		 nt;
	uint8_t		*old_s, *old_d;
	size_t		 olen, dlen;
	uint8_t		*new_s, *new_d;	/* what the update makes of them */
	size_t		 nslen, ndlen;
	uint8_t		 mem[5000];
};

static void
append(uint8_t *dst, size_t *len, const uint8_t *p, size_t n)
{
	memcpy(dst + *len, p, n);
	*len += n;
}

/* The update a case describes, and its expected result. */
static void
make_plan(const struct tcase *c, struct plan *pl)
{
	struct jpiece	*p;
	size_t		 w;

	memset(pl, 0, sizeof(*pl));
	pl->olen = c->olen;
	pl->dlen = c->dlen;
	pl->old_s = malloc(c->olen + 1);
	pl->old_d = malloc(c->dlen + 1);
	pl->new_s = malloc(c->olen + c->dlen + sizeof(pl->mem) + 1);
	pl->new_d = malloc(c->olen + c->dlen + sizeof(pl->mem) + 1);
	if (!pl->old_s || !pl->old_d || !pl->new_s || !pl->new_d)
		exit(2);
	fill(pl->old_s, c->olen, (uint32_t)c->olen);
	fill(pl->old_d, c->dlen, (uint32_t)c->dlen + 7);
	fill(pl->mem, sizeof(pl->mem), 99);
	p = pl->p[0];
	switch (c->kind) {
	case 0:
		/* Keep [0, w), drop two ranges, keep the rest. */
		w = c->olen / 7;
		p[0] = (struct jpiece){ JSRC_SPOOL, c->olen / 3,
		    c->olen / 2 - c->olen / 3, NULL };
		p[1] = (struct jpiece){ JSRC_SPOOL, c->olen * 2 / 3,
		    c->olen - c->olen * 2 / 3, NULL };
		pl->tg[0] = (struct jtarget){ JT_SPOOL, w, c->olen, p, 2 };
		pl->nt = 1;
		append(pl->new_s, &pl->nslen, pl->old_s, w);
		append(pl->new_s, &pl->nslen, pl->old_s + p[0].off, p[0].len);
		append(pl->new_s, &pl->nslen, pl->old_s + p[1].off, p[1].len);
		break;
	case 1:
		/* The drop's kept mail, a separator, then the spool's. */
		p[0] = (struct jpiece){ JSRC_DROP, 0, c->dlen, NULL };
		p[1] = (struct jpiece){ JSRC_MEM, 0, sizeof(pl->mem),
		    pl->mem };
		p[2] = (struct jpiece){ JSRC_SPOOL, 0, c->olen, NULL };
		pl->tg[0] = (struct jtarget){ JT_SPOOL, 0, c->olen, p, 3 };
		pl->tg[1] = (struct jtarget){ JT_DROP, 0, c->dlen, NULL, 0 };
		pl->nt = 2;
		append(pl->new_s, &pl->nslen, pl->old_d, c->dlen);
		append(pl->new_s, &pl->nslen, pl->mem, sizeof(pl->mem));
		append(pl->new_s, &pl->nslen, pl->old_s, c->olen);
		break;
	default:
		/* The spool's mail to the end of the drop; the spool cut. */
		p[0] = (struct jpiece){ JSRC_SPOOL, 0, c->olen, NULL };
		pl->tg[0] = (struct jtarget){ JT_DROP, c->dlen, c->dlen, p, 1 };
		pl->tg[1] = (struct jtarget){ JT_SPOOL, 0, c->olen, NULL, 0 };
		pl->nt = 2;
		append(pl->new_d, &pl->ndlen, pl->old_d, c->dlen);
		append(pl->new_d, &pl->ndlen, pl->old_s, c->olen);
		break;
	}
	if (c->kind == 0)
		append(pl->new_d, &pl->ndlen, pl->old_d, c->dlen);
}

static int
has_drop(const struct tcase *c)
{
	return c->kind != 0;
}

/*
 * A state the apply can be in: target t's data copied into place up to
 * byte k of it (the file's old bytes beyond), not cut; the other target
 * either untouched or complete.
 */
static void
partial(int fd, const uint8_t *old, size_t olen, const uint8_t *newp,
    size_t nlen, const struct jtarget *t, size_t k)
{
	set_content(fd, old, olen);
	if (k > 0 && pwrite(fd, newp + t->w, k, (off_t)t->w) != (ssize_t)k) {
		perror("pwrite");
		exit(2);
	}
	(void)nlen;
}

/*
 * The next place a copy of len bytes to w can stop after k bytes: the
 * next page boundary of the file, or the end; past the end when done.
 */
static size_t
next_stop(uint64_t w, size_t k, size_t len)
{
	size_t	n;

	if (k == len)
		return len + 1;
	n = (size_t)((w + k) / BLK * BLK + BLK - w);
	return n < len ? n : len;
}

static void
deliver(int fd)
{
	struct stat	st;

	if (fstat(fd, &st) == -1 || pwrite(fd, newmail, strlen(newmail),
	    st.st_size) != (ssize_t)strlen(newmail))
		exit(2);
}

/* What a file should hold after recovery: expected, plus new mail. */
static int
holds(int fd, const uint8_t *p, size_t len, int with_mail)
{
	struct buf	b = content(fd);
	int		ok;

	ok = b.len == len + (with_mail ? strlen(newmail) : 0) &&
	    memcmp(b.p, p, len) == 0 && (!with_mail ||
	    memcmp(b.p + len, newmail, strlen(newmail)) == 0);
	free(b.p);
	return ok;
}

static void
run_case(const struct tcase *c)
{
	struct plan	 pl;
	struct jfiles	 f;
	const char	*why = NULL;
	size_t		 t, k, len, tl;
	int		 rc, mail, checked = 0, good = 0;

	make_plan(c, &pl);
	f.journal = memfile(NULL, 0);
	f.spool = memfile(pl.old_s, pl.olen);
	f.drop = has_drop(c) ? memfile(pl.old_d, pl.dlen) : -1;
	rc = journal_update(&f, pl.tg, pl.nt, snapshot, &f.journal, &why);
	CHECK(rc == 0, "%s: update", c->name);
	CHECK(holds(f.spool, pl.new_s, pl.nslen, 0), "%s: spool updated",
	    c->name);
	if (f.drop != -1)
		CHECK(holds(f.drop, pl.new_d, pl.ndlen, 0),
		    "%s: drop updated", c->name);

	/* Every state the copy into place can stop in, then recovery. */
	for (t = 0; t < pl.nt; t++) {
		tl = pl.tg[t].kind == JT_SPOOL ? pl.nslen : pl.ndlen;
		len = tl - pl.tg[t].w;
		/* A killed write stops between pages of the file. */
		for (k = 0; k <= len; k = next_stop(pl.tg[t].w, k, len)) {
			for (mail = 0; mail < 2; mail++) {
				/* Earlier targets are complete, later ones not. */
				set_content(f.spool, pl.old_s, pl.olen);
				if (f.drop != -1)
					set_content(f.drop, pl.old_d, pl.dlen);
				if (t == 1) {
					if (pl.tg[0].kind == JT_SPOOL)
						set_content(f.spool, pl.new_s,
						    pl.nslen);
					else
						set_content(f.drop, pl.new_d,
						    pl.ndlen);
				}
				if (pl.tg[t].kind == JT_SPOOL)
					partial(f.spool, pl.old_s, pl.olen,
					    pl.new_s, pl.nslen, &pl.tg[t], k);
				else
					partial(f.drop, pl.old_d, pl.dlen,
					    pl.new_d, pl.ndlen, &pl.tg[t], k);
				if (mail)
					deliver(f.spool);
				set_content(f.journal, journal_at_commit.p,
				    journal_at_commit.len);
				rc = journal_recover(&f, &why);
				checked++;
				if (rc == 0 && holds(f.spool, pl.new_s,
				    pl.nslen, mail) && (f.drop == -1 ||
				    holds(f.drop, pl.new_d, pl.ndlen, 0)))
					good++;
				else
					printf("  %s: target %zu stopped at %zu%s: "
					    "rc %d\n", c->name, t, k, mail ?
					    " + mail" : "", rc);
			}
		}
	}
	CHECK(good == checked && checked > 0, "%s: every stopped copy is "
	    "completed (%d of %d)", c->name, good, checked);

	/* Complete, cut, then mail: recovery changes nothing. */
	set_content(f.spool, pl.new_s, pl.nslen);
	if (f.drop != -1)
		set_content(f.drop, pl.new_d, pl.ndlen);
	deliver(f.spool);
	set_content(f.journal, journal_at_commit.p, journal_at_commit.len);
	rc = journal_recover(&f, &why);
	CHECK(rc == 0 && holds(f.spool, pl.new_s, pl.nslen, 1),
	    "%s: a complete update is left as it is", c->name);

	/* A journal torn anywhere never began: nothing changes. */
	good = checked = 0;
	for (len = 0; len < journal_at_commit.len; len += len < 300 ? 37 :
	    journal_at_commit.len / 13 + 1) {
		set_content(f.spool, pl.old_s, pl.olen);
		if (f.drop != -1)
			set_content(f.drop, pl.old_d, pl.dlen);
		set_content(f.journal, journal_at_commit.p, len);
		rc = journal_recover(&f, &why);
		checked++;
		if (rc == 0 && holds(f.spool, pl.old_s, pl.olen, 0) &&
		    (f.drop == -1 || holds(f.drop, pl.old_d, pl.dlen, 0)))
			good++;
	}
	CHECK(good == checked, "%s: a torn journal changes nothing (%d of %d)",
	    c->name, good, checked);

	/* The mailbox rewritten since (same file, other bytes): set aside. */
	set_content(f.spool, pl.old_s, pl.olen);
	if (pl.olen > 0) {
		pl.old_s[pl.olen - 1] ^= 1;
		pl.old_s[pl.olen / 2] ^= 1;
	}
	set_content(f.spool, pl.old_s, pl.olen);
	if (f.drop != -1)
		set_content(f.drop, pl.old_d, pl.dlen);
	set_content(f.journal, journal_at_commit.p, journal_at_commit.len);
	rc = journal_recover(&f, &why);
	CHECK(rc == -2 && holds(f.spool, pl.old_s, pl.olen, 0),
	    "%s: a rewritten mailbox is not touched (rc %d)", c->name, rc);

	/* Another file altogether (restored from a backup): set aside. */
	close(f.spool);
	pl.old_s[pl.olen - 1] ^= 1;
	pl.old_s[pl.olen / 2] ^= 1;
	f.spool = memfile(pl.old_s, pl.olen);
	if (f.drop != -1)
		set_content(f.drop, pl.old_d, pl.dlen);
	set_content(f.journal, journal_at_commit.p, journal_at_commit.len);
	rc = journal_recover(&f, &why);
	CHECK(rc == -2 && holds(f.spool, pl.old_s, pl.olen, 0),
	    "%s: a replaced mailbox is not touched (rc %d)", c->name, rc);

	close(f.spool);
	close(f.journal);
	if (f.drop != -1)
		close(f.drop);
	free(pl.old_s);
	free(pl.old_d);
	free(pl.new_s);
	free(pl.new_d);
}

static int
commit_pipe(void *arg)
{
	int	fd = *(int *)arg;

	return write(fd, "c", 1) == 1 ? 0 : -1;
}

/*
 * An update by windows (many of them: small windows) killed at random
 * instants, in a child, then recovered in the parent with the same
 * files, with and without mail delivered after the kill.  Once the
 * journal was committed the result must be the update's, followed by the
 * mail; before, the mailbox must be as it was.  Seeded: the same run
 * every time.
 */
static void
test_windows_killed(void)
{
	struct jfiles	 f;
	struct jtarget	 tg;
	struct jpiece	 p[8];
	struct timespec	 t0, t1;
	uint8_t		*old, *want;
	const char	*why;
	size_t		 olen = 3 * 1024 * 1024 + 777, wlen, i, n;
	uint64_t	 rng = 12345, dur_ns = 0, at;
	int		 trial, good = 0, trials = 120, committed = 0, rc;
	int		 pfd[2], status, mail;
	char		 c;
	pid_t		 pid;

	old = malloc(olen);
	want = malloc(olen);
	if (old == NULL || want == NULL)
		exit(2);
	for (i = 0; i < olen; i++)
		old[i] = (uint8_t)("From x\nbody line\n"[i % 17] ^ (i / 4099));
	/* Keep [0, 1000), [5000, 2 MiB), [2 MiB + 9000, end). */
	n = 0;
	p[n].src = JSRC_SPOOL; p[n].off = 5000; p[n].len = 2097152 - 5000;
	p[n++].mem = NULL;
	p[n].src = JSRC_MEM; p[n].off = 0; p[n].len = 10;
	p[n++].mem = (const uint8_t *)"X-Edit: 1\n";
	p[n].src = JSRC_SPOOL; p[n].off = 2097152 + 9000;
	p[n].len = olen - 2097152 - 9000; p[n++].mem = NULL;
	memcpy(want, old, 1000);
	wlen = 1000;
	for (i = 0; i < n; i++) {
		memcpy(want + wlen, p[i].src == JSRC_MEM ? p[i].mem :
		    old + p[i].off, p[i].len);
		wlen += p[i].len;
	}
	tg.kind = JT_SPOOL;
	tg.w = 1000;
	tg.s_cur = olen;
	tg.pieces = p;
	tg.npieces = n;
	journal_set_window(64 * 1024);
	for (trial = -1; trial < trials; trial++) {
		f.journal = memfile(NULL, 0);
		f.spool = memfile(old, olen);
		f.drop = f.bulletins = -1;
		if (pipe(pfd) == -1)
			exit(2);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if ((pid = fork()) == -1)
			exit(2);
		if (pid == 0) {
			close(pfd[0]);
			_exit(journal_update(&f, &tg, 1, commit_pipe, &pfd[1],
			    &why) == 0 ? 0 : 1);
		}
		close(pfd[1]);
		if (trial >= 0) {
			/* Anywhere in the update, a little past it too. */
			rng = rng * 6364136223846793005ULL + 1;
			at = (rng >> 33) % (dur_ns + dur_ns / 4 + 1);
			t1.tv_sec = (time_t)(at / 1000000000);
			t1.tv_nsec = (long)(at % 1000000000);
			nanosleep(&t1, NULL);
			kill(pid, SIGKILL);
		}
		waitpid(pid, &status, 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (trial < 0) {
			/* The first run, whole: how long an update takes. */
			dur_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 +
			    (uint64_t)(t1.tv_nsec - t0.tv_nsec);
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
			    holds(f.spool, want, wlen, 0), "windows: an update "
			    "of %zu windows, uninterrupted", wlen / 65536 + 1);
		} else {
			mail = trial % 2;
			c = 0;
			rc = (int)read(pfd[0], &c, 1) == 1;
			if (mail)
				deliver(f.spool);
			if (rc) {
				committed++;
				rc = journal_recover(&f, &why);
				if (rc == 0 && holds(f.spool, want, wlen, mail))
					good++;
				else
					printf("  windows trial %d: rc %d (%s)\n",
					    trial, rc, rc != 0 ? why : "wrong bytes");
			} else if (holds(f.spool, old, olen, mail))
				good++;
			else
				printf("  windows trial %d: touched before "
				    "commit\n", trial);
		}
		close(pfd[0]);
		close(f.journal);
		close(f.spool);
	}
	journal_set_window(64 * 1024 * 1024);
	CHECK(good == trials && committed > trials / 4 &&
	    committed < trials, "windows: killed at random instants, then "
	    "recovered, with and without mail delivered after: %d of %d "
	    "right (%d after the commit)", good, trials, committed);
	free(old);
	free(want);
}

int
main(void)
{
	size_t	i;

	log_init(1, LOG_DAEMON);
	test_windows_killed();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	free(journal_at_commit.p);
	TEST_EXIT();
}
