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
 * Unit tests of auth/popauth_db.c, the APOP secret database: the name
 * and secret rules, set, get, replace, delete and list, many users,
 * records written wrong on purpose with GDBM itself, writers killed at
 * seeded random instants while a reader reads, two writers at once, and
 * a writer that waits for the lock in vain (POPAUTH_LOCK_SECS).
 * Runs in no process of the daemon; works in a temporary folder.
 *
 *	test_popauth_db [SEED]
 */

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gdbm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "params.h"
#include "popauth_db.h"
#include "test.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define CRASH_TRIALS	40
#define BASE_USERS	10
#define MANY_USERS	300
#define RACE_USERS	25

static char	dir[64];
static char	db[128];

struct rec {
	const char	*key;
	size_t		 klen;
	const char	*val;
	size_t		 vlen;
};

static void
setup(void)
{
	strlcpy(dir, "/tmp/test_popauth_db.XXXXXX", sizeof(dir));
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(db, sizeof(db), "%s/pop.auth", dir);
}

static void
cleanup(void)
{
	DIR		*d;
	struct dirent	*de;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(dir);
}

static void
fresh(void)
{
	cleanup();
	if (mkdir(dir, 0700) == -1) {
		perror(dir);
		exit(2);
	}
}

/* A database written with GDBM directly, any bytes in it. */
static void
write_raw(const char *path, const struct rec *r, size_t n)
{
	GDBM_FILE	dbf;
	datum		k, v;
	size_t		i;

	unlink(path);
	if ((dbf = gdbm_open(path, 0, GDBM_NEWDB, 0600, NULL)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, gdbm_strerror(gdbm_errno));
		exit(2);
	}
	for (i = 0; i < n; i++) {
		k.dptr = (char *)r[i].key;
		k.dsize = (int)r[i].klen;
		v.dptr = (char *)r[i].val;
		v.dsize = (int)r[i].vlen;
		if (gdbm_store(dbf, k, v, GDBM_REPLACE) != 0) {
			fprintf(stderr, "store: %s\n", gdbm_db_strerror(dbf));
			exit(2);
		}
	}
	gdbm_close(dbf);
}

static int
get_is(const char *user, const char *want)
{
	char	s[POPAUTH_SECRET_MAX + 1];

	if (popauth_db_get(db, user, s, sizeof(s)) != 0)
		return 0;
	return strcmp(s, want) == 0;
}

static int
count_one(const char *name, void *arg)
{
	(void)name;
	(*(size_t *)arg)++;
	return 0;
}

static size_t
count(void)
{
	size_t	n = 0;

	if (popauth_db_list(db, count_one, &n) == -1)
		return (size_t)-1;
	return n;
}

static int
stale_files(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".new.") != NULL)
			n++;
	closedir(d);
	return n;
}

static void
test_rules(void)
{
	static const struct {
		const char	*s;
		int		 valid;
	} names[] = {
		{ "alice", 1 }, { "a", 1 }, { "bob.smith@example.org", 1 },
		{ "~!#$%^&*()_+-=", 1 },
		{ "", 0 }, { "a b", 0 }, { "a:b", 0 }, { "a/b", 0 },
		{ "tab\tx", 0 }, { "del\177", 0 }, { "nl\n", 0 },
		{ "\303\251t\303\251", 0 },
	}, secrets[] = {
		{ "12345678", 1 }, { "with spaces ok", 1 }, { "~~~~~~~~", 1 },
		{ "1234567", 0 }, { "", 0 }, { "tab\there!", 0 },
		{ "del\177eteme", 0 }, { "cr\rcr\rcr", 0 },
		{ "\303\251t\303\251\303\251t\303\251", 0 },
	};
	char	 buf[POPAUTH_SECRET_MAX + 2];
	size_t	 i;

	for (i = 0; i < NELEM(names); i++)
		CHECK(popauth_name_valid(names[i].s, strlen(names[i].s)) ==
		    names[i].valid, "name rule %zu", i);
	memset(buf, 'n', sizeof(buf));
	CHECK(popauth_name_valid(buf, POP_USER_MAX), "name of %d bytes",
	    POP_USER_MAX);
	CHECK(!popauth_name_valid(buf, POP_USER_MAX + 1),
	    "name of %d bytes refused", POP_USER_MAX + 1);
	for (i = 0; i < NELEM(secrets); i++)
		CHECK(popauth_secret_valid(secrets[i].s, strlen(secrets[i].s))
		    == secrets[i].valid, "secret rule %zu", i);
	CHECK(popauth_secret_valid(buf, POPAUTH_SECRET_MAX),
	    "secret of %d bytes", POPAUTH_SECRET_MAX);
	CHECK(!popauth_secret_valid(buf, POPAUTH_SECRET_MAX + 1),
	    "secret of %d bytes refused", POPAUTH_SECRET_MAX + 1);
	CHECK(!popauth_secret_valid("abc\0defgh", 9), "secret with a NUL");
}

static void
test_basic(void)
{
	char	s[POPAUTH_SECRET_MAX + 1], longs[POPAUTH_SECRET_MAX + 2];
	struct stat st;

	fresh();
	CHECK(popauth_db_get(db, "alice", s, sizeof(s)) == 1,
	    "get without a database: no such user");
	CHECK(popauth_db_set(db, "alice", "secret-1") == -1,
	    "set without a database refused");
	CHECK(popauth_db_create(db) == 0, "create");
	CHECK(stat(db, &st) == 0 && (st.st_mode & 07777) == 0600,
	    "database mode 0600");
	CHECK(popauth_db_create(db) == 1, "create refuses an existing one");
	CHECK(count() == 0, "new database is empty");
	CHECK(popauth_db_get(db, "alice", s, sizeof(s)) == 1,
	    "get from an empty database");
	CHECK(popauth_db_set(db, "alice", "secret-1") == 0, "set");
	CHECK(get_is("alice", "secret-1"), "get after set");
	CHECK(popauth_db_set(db, "bob", "bob's secret") == 0, "set another");
	CHECK(popauth_db_set(db, "alice", "secret-2 longer") == 0, "replace");
	CHECK(get_is("alice", "secret-2 longer") && get_is("bob",
	    "bob's secret"), "get after replace");
	CHECK(count() == 2, "two users listed");
	CHECK(popauth_db_delete(db, "alice") == 0, "delete");
	CHECK(popauth_db_get(db, "alice", s, sizeof(s)) == 1 &&
	    s[0] == '\0', "get after delete");
	CHECK(popauth_db_delete(db, "alice") == 1, "delete again: no user");
	CHECK(get_is("bob", "bob's secret"), "other user kept");
	CHECK(popauth_db_get(db, "bob", s, POPAUTH_SECRET_MAX) == -1,
	    "buffer too small refused");
	CHECK(popauth_db_set(db, "a:b", "secret-1") == -1 &&
	    popauth_db_set(db, "carol", "short") == -1 &&
	    popauth_db_set(db, "carol", "ctl\001ctl\001") == -1,
	    "set refuses bad names and secrets");
	memset(longs, 'x', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	CHECK(popauth_db_set(db, "carol", longs) == -1, "set refuses %zu "
	    "bytes", strlen(longs));
	longs[POPAUTH_SECRET_MAX] = '\0';
	CHECK(popauth_db_set(db, "carol", longs) == 0 && get_is("carol",
	    longs), "secret of %d bytes stored", POPAUTH_SECRET_MAX);
	CHECK(popauth_db_get(db, "bad name", s, sizeof(s)) == 1,
	    "get with an invalid name: no such user");
	CHECK(stale_files() == 0, "no temporary file left");
}

static void
test_many(void)
{
	char	name[32], secret[32];
	int	i, ok = 1;

	fresh();
	popauth_db_create(db);
	for (i = 0; i < MANY_USERS && ok; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		snprintf(secret, sizeof(secret), "secret of %d", i);
		ok = popauth_db_set(db, name, secret) == 0;
	}
	CHECK(ok, "%d users set", MANY_USERS);
	CHECK(count() == MANY_USERS, "%d users listed", MANY_USERS);
	for (i = 0; i < MANY_USERS && ok; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		snprintf(secret, sizeof(secret), "secret of %d", i);
		ok = get_is(name, secret);
	}
	CHECK(ok, "%d users read back", MANY_USERS);
	for (i = 0; i < MANY_USERS && ok; i += 2) {
		snprintf(name, sizeof(name), "user%d", i);
		ok = popauth_db_delete(db, name) == 0;
	}
	CHECK(ok && count() == MANY_USERS / 2, "half of them deleted");
	CHECK(get_is("user1", "secret of 1") && !get_is("user0",
	    "secret of 0"), "the right half");
}

static void
test_malformed(void)
{
	static const struct rec recs[] = {
		{ "good", 4, "\001goodsecret", 11 },
		{ "fmt0", 4, "\000goodsecret", 11 },
		{ "fmt2", 4, "\002goodsecret", 11 },
		{ "short", 5, "\0011234567", 8 },
		{ "empty", 5, "", 0 },
		{ "ctl", 3, "\001good\001secret", 12 },
		{ "nul", 3, "\001good\000secret", 12 },
		{ "high", 4, "\001good\377secret", 12 },
		{ "nulkey\0x", 8, "\001goodsecret", 11 },
		{ "bad:key", 7, "\001goodsecret", 11 },
	};
	static const char *const bad[] = {
		"fmt0", "fmt2", "short", "empty", "ctl", "nul", "high",
	};
	struct rec	 big = { "long", 4, NULL, 0 };
	char		 s[POPAUTH_SECRET_MAX + 1], val[POPAUTH_SECRET_MAX + 2];
	char		 real[160];
	size_t		 i;
	int		 fd;

	fresh();
	write_raw(db, recs, NELEM(recs));
	CHECK(get_is("good", "goodsecret"), "good record beside bad ones");
	for (i = 0; i < NELEM(bad); i++) {
		CHECK(popauth_db_get(db, bad[i], s, sizeof(s)) == -1 &&
		    s[0] == '\0', "malformed record \"%s\" is an error",
		    bad[i]);
	}
	CHECK(popauth_db_get(db, "nulkey", s, sizeof(s)) == 1,
	    "a key with a NUL matches no name");
	CHECK(count() == (size_t)-1, "list reports malformed records");
	CHECK(popauth_db_set(db, "new", "new secret") == -1,
	    "no update over malformed records");
	CHECK(get_is("good", "goodsecret"), "database unchanged");
	/* A malformed record can be replaced or deleted. */
	write_raw(db, recs, 2);
	CHECK(popauth_db_set(db, "fmt0", "fixed secret") == 0 &&
	    get_is("fmt0", "fixed secret"), "malformed record replaced");
	write_raw(db, recs, 2);
	CHECK(popauth_db_delete(db, "fmt0") == 0 && count() == 1,
	    "malformed record deleted");

	memset(val, 'v', sizeof(val));
	val[0] = POPAUTH_FORMAT;
	big.val = val;
	big.vlen = sizeof(val);
	write_raw(db, &big, 1);
	CHECK(popauth_db_get(db, "long", s, sizeof(s)) == -1,
	    "secret of %d bytes is an error", POPAUTH_SECRET_MAX + 1);

	/* Files that are no database at all. */
	unlink(db);
	fd = open(db, O_WRONLY | O_CREAT, 0600);
	close(fd);
	CHECK(popauth_db_get(db, "good", s, sizeof(s)) == -1, "empty file");
	write_raw(db, recs, NELEM(recs));
	CHECK(truncate(db, 1000) == 0 && popauth_db_get(db, "good", s,
	    sizeof(s)) == -1, "truncated file");
	unlink(db);
	fd = open(db, O_WRONLY | O_CREAT, 0600);
	CHECK(write(fd, "GDBM, or not\n", 13) == 13 && popauth_db_get(db,
	    "good", s, sizeof(s)) == -1, "text file");
	close(fd);
	unlink(db);
	CHECK(mkdir(db, 0700) == 0 && popauth_db_get(db, "good", s,
	    sizeof(s)) == -1, "a folder");
	rmdir(db);
	snprintf(real, sizeof(real), "%s/real", dir);
	write_raw(real, recs, 1);
	CHECK(symlink(real, db) == 0 && popauth_db_get(db, "good", s,
	    sizeof(s)) == -1, "a symbolic link to a database");
	unlink(db);
	unlink(real);
}

/*
 * The reader of a crash trial: every read is of the old or the new file.
 * The base users never change; "x" only grows; "y" comes and goes.
 */
static void
reader(int stop_fd)
{
	char	name[16], want[32], s[POPAUTH_SECRET_MAX + 1];
	long	last = -1, k;
	int	i, rc, bad = 0;
	char	c;

	while (read(stop_fd, &c, 1) == -1 && errno == EAGAIN) {
		for (i = 0; i < BASE_USERS; i++) {
			snprintf(name, sizeof(name), "base%d", i);
			snprintf(want, sizeof(want), "base secret %d", i);
			if (!get_is(name, want))
				bad++;
		}
		rc = popauth_db_get(db, "x", s, sizeof(s));
		if (rc == -1)
			bad++;
		else if (rc == 0) {
			if (sscanf(s, "x secret %ld", &k) != 1 || k < last)
				bad++;
			else
				last = k;
		}
		rc = popauth_db_get(db, "y", s, sizeof(s));
		if (rc == -1 || (rc == 0 && strcmp(s, "y secret") != 0))
			bad++;
	}
	_exit(bad > 0 ? 1 : 0);
}

static void
writer(long from)
{
	char	s[32];
	long	k;

	for (k = from;; k++) {
		snprintf(s, sizeof(s), "x secret %ld", k);
		if (popauth_db_set(db, "x", s) != 0)
			_exit(1);
		if (k % 2 == 0 && popauth_db_set(db, "y", "y secret") != 0)
			_exit(1);
		if (k % 2 == 1 && popauth_db_delete(db, "y") != 0)
			_exit(1);
	}
}

static int
wait_exit(pid_t pid)
{
	int	st;

	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * A writer SIGKILLed at a seeded random instant, a reader reading all the
 * while; then the database must be whole and the next writer must work.
 */
static void
test_crash(unsigned int seed)
{
	char	name[16], secret[32], s[POPAUTH_SECRET_MAX + 1];
	long	from = 0, k;
	int	p[2], t, i, rc, ry;
	int	reader_bad = 0, after_bad = 0, recover_bad = 0;
	pid_t	wpid, rpid;

	fresh();
	popauth_db_create(db);
	for (i = 0; i < BASE_USERS; i++) {
		snprintf(name, sizeof(name), "base%d", i);
		snprintf(secret, sizeof(secret), "base secret %d", i);
		popauth_db_set(db, name, secret);
	}
	srandom(seed);
	for (t = 0; t < CRASH_TRIALS; t++) {
		if (pipe2(p, O_NONBLOCK) == -1)
			exit(2);
		fflush(stdout);
		if ((rpid = fork()) == 0) {
			close(p[1]);
			reader(p[0]);
		}
		if ((wpid = fork()) == 0)
			writer(from);
		close(p[0]);
		usleep((useconds_t)(random() % 40000));
		kill(wpid, SIGKILL);
		if (wait_exit(wpid) != 128 + SIGKILL)
			recover_bad++;
		close(p[1]);
		if (wait_exit(rpid) != 0)
			reader_bad++;
		/* Afterwards: the whole old or new database, and writable. */
		rc = popauth_db_get(db, "x", s, sizeof(s));
		if (rc == -1 || (rc == 0 && sscanf(s, "x secret %ld", &k) != 1))
			after_bad++;
		ry = popauth_db_get(db, "y", s, sizeof(s));
		if (ry == -1 || count() != (size_t)BASE_USERS + (rc == 0) +
		    (ry == 0))
			after_bad++;
		from += 1000000;
		snprintf(secret, sizeof(secret), "x secret %ld", from);
		if (popauth_db_set(db, "x", secret) != 0 ||
		    !get_is("x", secret) || stale_files() != 0)
			recover_bad++;
	}
	CHECK(reader_bad == 0, "crash: %d trials (seed %u), every read saw a "
	    "whole database", CRASH_TRIALS, seed);
	CHECK(after_bad == 0, "crash: the database after each kill is whole");
	CHECK(recover_bad == 0, "crash: the next writer succeeds and removes "
	    "the dead writer's file");
}

static void
race_writer(char prefix)
{
	char	name[16], secret[32];
	int	i;

	for (i = 0; i < RACE_USERS; i++) {
		snprintf(name, sizeof(name), "%c%d", prefix, i);
		snprintf(secret, sizeof(secret), "secret %c%d", prefix, i);
		if (popauth_db_set(db, name, secret) != 0)
			_exit(1);
	}
	_exit(0);
}

static void
test_race(void)
{
	char	name[16], secret[32];
	pid_t	a, b;
	int	i, ok = 1, ra, rb;

	fresh();
	popauth_db_create(db);
	fflush(stdout);
	if ((a = fork()) == 0)
		race_writer('a');
	if ((b = fork()) == 0)
		race_writer('b');
	ra = wait_exit(a);
	rb = wait_exit(b);
	CHECK(ra == 0 && rb == 0, "two writers at once both succeed");
	for (i = 0; i < RACE_USERS && ok; i++) {
		snprintf(name, sizeof(name), "a%d", i);
		snprintf(secret, sizeof(secret), "secret a%d", i);
		ok = get_is(name, secret);
		snprintf(name, sizeof(name), "b%d", i);
		snprintf(secret, sizeof(secret), "secret b%d", i);
		ok = ok && get_is(name, secret);
	}
	CHECK(ok && count() == 2 * RACE_USERS, "both writers' %d users "
	    "survive", RACE_USERS);
}

static void
test_stale(void)
{
	char	path[160];
	int	fd;

	fresh();
	popauth_db_create(db);
	snprintf(path, sizeof(path), "%s.new.999999", db);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	CHECK(stale_files() == 1 && popauth_db_set(db, "u", "secret-u") == 0 &&
	    stale_files() == 0, "a dead writer's file is removed");
}

/* A writer that cannot get the lock gives up, changing nothing. */
static void
test_lock_held(void)
{
	char	lock[160];
	int	fd, rc;

	fresh();
	popauth_db_create(db);
	popauth_db_set(db, "u", "secret-u");
	snprintf(lock, sizeof(lock), "%s.lock", db);
	if ((fd = open(lock, O_RDWR)) == -1 || flock(fd, LOCK_EX) == -1) {
		perror(lock);
		exit(2);
	}
	rc = popauth_db_set(db, "u", "secret-v");
	CHECK(rc == -1 && get_is("u", "secret-u"), "lock held for %d "
	    "seconds: the writer gives up, nothing changed", POPAUTH_LOCK_SECS);
	close(fd);
	CHECK(popauth_db_set(db, "u", "secret-v") == 0 &&
	    get_is("u", "secret-v"), "lock released: the writer succeeds");
}

int
main(int argc, char *argv[])
{
	unsigned int	seed = argc > 1 ? (unsigned int)strtoul(argv[1], NULL,
			    10) : (unsigned int)time(NULL);

	setup();
	test_rules();
	test_basic();
	test_many();
	test_malformed();
	test_stale();
	test_race();
	test_lock_held();
	test_crash(seed);
	cleanup();
	TEST_EXIT();
}
