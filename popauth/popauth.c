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
 * popauth(8): sets, deletes and lists APOP secrets.  A process of its
 * own, installed set-uid to popauth-user and run by anyone, so its
 * arguments, environment, descriptors, signal state and terminal are all
 * the caller's and hostile.  It trusts only the real uid (which decides
 * what the caller may do), the configuration file named at build time
 * (or by -f, from root and popauth-user only) and the password database.
 * It drops to popauth-user for good before it touches the APOP database;
 * only -init works as root first, to make the database's folder.  A
 * secret is never echoed, logged or kept after it has been written.
 */

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <readpassphrase.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "config.h"
#include "log.h"
#include "params.h"
#include "popauth_db.h"

#ifndef POPAUTH_CONF
#define POPAUTH_CONF	"/etc/popsep/popsepd.conf"
#endif

enum mode {
	MODE_SELF,	/* the caller's own secret */
	MODE_INIT,
	MODE_USER,
	MODE_DELETE,
	MODE_LIST,
};

struct opts {
	enum mode	 mode;
	int		 mode_set;
	const char	*name;	/* -user, -delete */
	const char	*conf;	/* -f */
};

struct owner {
	char	name[64];
	uid_t	uid;
	gid_t	gid;
};

/* Every buffer that may hold a secret: die() wipes them all. */
static struct {
	char	new1[POPAUTH_SECRET_MAX + 2];
	char	new2[POPAUTH_SECRET_MAX + 2];
	char	old[POPAUTH_SECRET_MAX + 2];
	char	stored[POPAUTH_SECRET_MAX + 2];
} sec;

struct names {
	char	**v;
	size_t	  n;
};

static void	die(const char *, ...) __attribute__((format(printf, 1, 2),
		    noreturn));
static void	fail(void) __attribute__((noreturn));
static void	usage(void) __attribute__((noreturn));
static void	sink(int, const char *);
static void	harden(void);
static void	parse_args(int, char *[], struct opts *);
static void	set_mode(struct opts *, enum mode);
static void	load_config(const char *, int, struct config *);
static void	find_owner(const struct config *, struct owner *);
static void	check_name(const char *);
static void	regain_root(void);
static void	drop_to(const struct owner *);
static void	make_parents(const char *);
static void	init_dir(const char *, const struct owner *);
static size_t	read_line(char *, size_t);
static size_t	read_secret(const char *, char *, size_t);
static void	check_secret(const char *, size_t);
static void	new_secret(const char *);
static void	old_secret(const char *, const char *);
static void	block_stops(void);
static int	collect(const char *, void *);
static int	name_cmp(const void *, const void *);
static void	do_list(const char *);
static const char *authorize(const struct opts *, uid_t, struct config *,
		    struct owner *);
static int	act(const struct opts *, const char *, const char *);

static void
die(const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;

	explicit_bzero(&sec, sizeof(sec));
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	dprintf(STDERR_FILENO, "popauth: %s\n", buf);
	exit(1);
}

/* After an error the database code has already reported. */
static void
fail(void)
{
	explicit_bzero(&sec, sizeof(sec));
	exit(1);
}

static void
usage(void)
{
	dprintf(STDERR_FILENO, "usage: popauth [-f file] "
	    "[-init | -list | -user name | -delete name]\n");
	exit(2);
}

/* The database code's messages: one line each on standard error. */
static void
sink(int prio, const char *line)
{
	(void)prio;
	dprintf(STDERR_FILENO, "%s\n", line);
}

/*
 * Nothing of the caller's state survives: no environment (so no locale,
 * no GDBM or libc variables), no descriptor but 0, 1 and 2 (opened on
 * /dev/null when closed, so that no file we open becomes one of them),
 * default signal handling, no core file and no ptrace by the caller.
 */
static void
harden(void)
{
	struct rlimit	rl = { 0, 0 };
	sigset_t	all;
	int		fd, sig;

	if (clearenv() != 0)
		_exit(1);
	umask(077);
	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", O_RDWR) != fd)
			_exit(1);
	closefrom(3);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&all);
	if (sigprocmask(SIG_SETMASK, &all, NULL) == -1)
		die("sigprocmask: %s", strerror(errno));
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		die("setrlimit: %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		die("prctl: %s", strerror(errno));
}

static void
set_mode(struct opts *o, enum mode m)
{
	if (o->mode_set)
		usage();
	o->mode = m;
	o->mode_set = 1;
}

static void
parse_args(int argc, char *argv[], struct opts *o)
{
	int	i;

	memset(o, 0, sizeof(*o));
	o->mode = MODE_SELF;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-init") == 0)
			set_mode(o, MODE_INIT);
		else if (strcmp(argv[i], "-list") == 0)
			set_mode(o, MODE_LIST);
		else if (strcmp(argv[i], "-user") == 0 && i + 1 < argc) {
			set_mode(o, MODE_USER);
			o->name = argv[++i];
		} else if (strcmp(argv[i], "-delete") == 0 && i + 1 < argc) {
			set_mode(o, MODE_DELETE);
			o->name = argv[++i];
		} else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc &&
		    o->conf == NULL)
			o->conf = argv[++i];
		else
			usage();
	}
	if (o->conf != NULL && (o->conf[0] == '\0' ||
	    strlen(o->conf) >= CFG_PATH_MAX))
		die("-f: bad file name");
}

/* The project's parser; a missing default file means the defaults. */
static void
load_config(const char *path, int is_default, struct config *cf)
{
	int	fd;

	cfg_defaults(cf);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && is_default)
			return;
		die("%s: %s", path, strerror(errno));
	}
	close(fd);
	if (cfg_parse_file(cf, path) == -1)
		fail();
	if (cf->popauth_db[0] != '/')
		die("%s: popauth-db must be an absolute file name", path);
}

static void
find_owner(const struct config *cf, struct owner *ow)
{
	struct passwd	*pw;

	errno = 0;
	if ((pw = getpwnam(cf->popauth_user)) == NULL)
		die("popauth-user \"%s\" does not exist", cf->popauth_user);
	/* The database's owner gains nothing by being root: refuse it. */
	if (pw->pw_uid == 0)
		die("popauth-user \"%s\" must not have uid 0",
		    cf->popauth_user);
	if (strlcpy(ow->name, pw->pw_name, sizeof(ow->name)) >=
	    sizeof(ow->name))
		die("popauth-user name too long");
	ow->uid = pw->pw_uid;
	ow->gid = pw->pw_gid;
}

static void
check_name(const char *name)
{
	if (!popauth_name_valid(name, strlen(name)))
		die("invalid user name: it must be 1 to %d printable ASCII "
		    "characters without space, '/' or ':'", POP_USER_MAX);
}

/* Run by root, the set-uid bit made us popauth-user: be root again. */
static void
regain_root(void)
{
	if (setresuid(0, 0, 0) == -1)
		die("setresuid: %s", strerror(errno));
}

/*
 * For good: no supplementary groups (when root; a caller's own groups
 * give nothing), every gid and uid the target's (or the caller's gid),
 * and then check that nothing of the old ids is left.
 */
static void
drop_to(const struct owner *ow)
{
	uid_t	ru, eu, su;
	gid_t	rg, eg, sg, g;

	if (geteuid() == 0) {
		if (setgroups(0, NULL) == -1)
			die("setgroups: %s", strerror(errno));
		g = ow->gid;
	} else
		g = getgid();
	if (setresgid(g, g, g) == -1)
		die("setresgid: %s", strerror(errno));
	if (setresuid(ow->uid, ow->uid, ow->uid) == -1)
		die("cannot become %s: %s (popauth must be installed set-uid "
		    "to popauth-user)", ow->name, strerror(errno));
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1)
		die("getresuid: %s", strerror(errno));
	if (ru != ow->uid || eu != ow->uid || su != ow->uid ||
	    rg != g || eg != g || sg != g)
		die("privileges not dropped");
	if (setuid(0) != -1 || seteuid(0) != -1)
		die("root could be regained after dropping privileges");
}

/* Root's "mkdir -p" of the folders above the database's, mode 0755. */
static void
make_parents(const char *dir)
{
	char	p[CFG_PATH_MAX], *s;

	if (strlcpy(p, dir, sizeof(p)) >= sizeof(p))
		die("%s: file name too long", dir);
	for (s = p + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(p, 0755) == 0) {
			if (chmod(p, 0755) == -1)
				die("%s: %s", p, strerror(errno));
		} else if (errno != EEXIST)
			die("%s: %s", p, strerror(errno));
		*s = '/';
	}
}

/*
 * -init, as root: the database's folder, mode 0700, owned by
 * popauth-user, who alone may then write in it.  A symbolic link in its
 * place is refused.
 */
static void
init_dir(const char *db, const struct owner *ow)
{
	char		 dir[CFG_PATH_MAX], *slash;
	struct stat	 st;
	int		 fd;

	if (lstat(db, &st) == 0)
		die("%s already exists; to start again, remove it (rm %s) "
		    "and run popauth -init", db, db);
	if (strlcpy(dir, db, sizeof(dir)) >= sizeof(dir))
		die("%s: file name too long", db);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		die("%s: the database needs a folder of its own", db);
	*slash = '\0';
	make_parents(dir);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		die("%s: %s", dir, strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		die("%s: %s", dir, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISDIR(st.st_mode))
		die("%s: not a folder", dir);
	if (fchown(fd, ow->uid, ow->gid) == -1 || fchmod(fd, 0700) == -1)
		die("%s: %s", dir, strerror(errno));
	close(fd);
}

/*
 * One line of standard input, read a byte at a time so that no stdio
 * buffer keeps a copy.  Returns its length without the newline (which
 * may exceed size - 1: only size - 1 bytes are kept).
 */
static size_t
read_line(char *buf, size_t size)
{
	size_t	n = 0;
	ssize_t	r;
	char	c;

	for (;;) {
		r = read(STDIN_FILENO, &c, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			die("cannot read standard input: %s", strerror(errno));
		if (r == 0) {
			if (n == 0)
				die("no secret on standard input");
			break;
		}
		if (c == '\n')
			break;
		if (n < size - 1)
			buf[n] = c;
		n++;
	}
	buf[n < size - 1 ? n : size - 1] = '\0';
	explicit_bzero(&c, sizeof(c));
	return n;
}

/* From the terminal with echo off, or a line of standard input. */
static size_t
read_secret(const char *prompt, char *buf, size_t size)
{
	explicit_bzero(buf, size);
	if (!isatty(STDIN_FILENO))
		return read_line(buf, size);
	if (readpassphrase(prompt, buf, size, RPP_REQUIRE_TTY) == NULL)
		die("cannot read the secret from the terminal");
	return strlen(buf);
}

static void
check_secret(const char *s, size_t len)
{
	if (len < POPAUTH_SECRET_MIN)
		die("the secret is too short: at least %d characters",
		    POPAUTH_SECRET_MIN);
	if (len > POPAUTH_SECRET_MAX)
		die("the secret is too long: at most %d characters",
		    POPAUTH_SECRET_MAX);
	if (!popauth_secret_valid(s, len))
		die("the secret may hold only printable ASCII characters and "
		    "spaces");
}

/* Into sec.new1: typed twice on a terminal, once from a pipe. */
static void
new_secret(const char *name)
{
	char	prompt[128];
	size_t	len;

	snprintf(prompt, sizeof(prompt), "New APOP secret for %s: ", name);
	len = read_secret(prompt, sec.new1, sizeof(sec.new1));
	check_secret(sec.new1, len);
	if (!isatty(STDIN_FILENO))
		return;
	read_secret("Retype new APOP secret: ", sec.new2, sizeof(sec.new2));
	if (strcmp(sec.new1, sec.new2) != 0)
		die("the secrets do not match; nothing changed");
	explicit_bzero(sec.new2, sizeof(sec.new2));
}

/*
 * A user changing their own secret proves they know the old one.  Both
 * buffers are zero-padded to the same size, so one constant-time
 * comparison of the whole buffers compares the strings.
 */
static void
old_secret(const char *db, const char *name)
{
	char	prompt[128];
	int	rc;

	rc = popauth_db_get(db, name, sec.stored, sizeof(sec.stored));
	if (rc == -1)
		fail();
	if (rc == 1)
		return;
	snprintf(prompt, sizeof(prompt), "Old APOP secret for %s: ", name);
	read_secret(prompt, sec.old, sizeof(sec.old));
	rc = CRYPTO_memcmp(sec.old, sec.stored, sizeof(sec.old));
	explicit_bzero(sec.old, sizeof(sec.old));
	explicit_bzero(sec.stored, sizeof(sec.stored));
	if (rc != 0) {
		sleep(1);
		die("wrong old secret; nothing changed");
	}
}

/*
 * The caller's terminal could stop us while we hold the writers' lock;
 * a stop gains nothing, so those signals wait.  Others may kill us at
 * any instant: the update is atomic.
 */
static void
block_stops(void)
{
	sigset_t	set;

	sigemptyset(&set);
	sigaddset(&set, SIGTSTP);
	sigaddset(&set, SIGTTIN);
	sigaddset(&set, SIGTTOU);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		die("sigprocmask: %s", strerror(errno));
}

static int
collect(const char *name, void *arg)
{
	struct names	*ns = arg;
	char		**v;

	if ((v = reallocarray(ns->v, ns->n + 1, sizeof(*v))) == NULL)
		return -1;
	ns->v = v;
	if ((v[ns->n] = strdup(name)) == NULL)
		return -1;
	ns->n++;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
do_list(const char *db)
{
	struct names	ns = { NULL, 0 };
	size_t		i;

	if (popauth_db_list(db, collect, &ns) == -1)
		fail();
	qsort(ns.v, ns.n, sizeof(*ns.v), name_cmp);
	for (i = 0; i < ns.n; i++) {
		printf("%s\n", ns.v[i]);
		free(ns.v[i]);
	}
	free(ns.v);
	if (fflush(stdout) == EOF || ferror(stdout))
		die("standard output: %s", strerror(errno));
}

/*
 * Who may do what, decided by the real uid alone; fills the configuration,
 * the database's owner and the name the mode works on (NULL for -init and
 * -list).
 */
static const char *
authorize(const struct opts *o, uid_t ruid, struct config *cf,
    struct owner *ow)
{
	static char	 self[POP_USER_MAX + 1];
	struct passwd	*pw;
	const char	*name = o->name;
	int		 is_admin;

	load_config(POPAUTH_CONF, 1, cf);
	find_owner(cf, ow);
	is_admin = ruid == 0 || ruid == ow->uid;
	if (o->conf != NULL) {
		if (!is_admin)
			die("-f is only for root and %s", ow->name);
		load_config(o->conf, 0, cf);
		find_owner(cf, ow);
	}
	if (o->mode == MODE_INIT && ruid != 0)
		die("-init is only for root");
	if (o->mode != MODE_SELF && o->mode != MODE_INIT && !is_admin)
		die("%s is only for root and %s", o->mode == MODE_LIST ?
		    "-list" : o->mode == MODE_USER ? "-user" : "-delete",
		    ow->name);
	if (o->mode == MODE_SELF) {
		errno = 0;
		if ((pw = getpwuid(ruid)) == NULL)
			die("you (uid %lu) are not in the password database",
			    (unsigned long)ruid);
		if (strlcpy(self, pw->pw_name, sizeof(self)) >= sizeof(self))
			die("your user name is too long for APOP");
		name = self;
	}
	if (name != NULL)
		check_name(name);
	return name;
}

/* The mode's work, as popauth-user. */
static int
act(const struct opts *o, const char *db, const char *name)
{
	int	rc = 0;

	switch (o->mode) {
	case MODE_INIT:
		if ((rc = popauth_db_create(db)) == 1)
			die("%s already exists; to start again, remove it "
			    "(rm %s) and run popauth -init", db, db);
		break;
	case MODE_LIST:
		do_list(db);
		break;
	case MODE_DELETE:
		block_stops();
		if ((rc = popauth_db_delete(db, name)) == 1)
			die("%s has no APOP secret", name);
		break;
	case MODE_SELF:
		old_secret(db, name);
		/* FALLTHROUGH */
	case MODE_USER:
		new_secret(name);
		block_stops();
		rc = popauth_db_set(db, name, sec.new1);
		explicit_bzero(&sec, sizeof(sec));
		break;
	default:
		bug("%s: mode %d", __func__, o->mode);
	}
	return rc;
}

int
main(int argc, char *argv[])
{
	struct opts	 o;
	struct config	 cf;
	struct owner	 ow;
	const char	*name;
	uid_t		 ruid = getuid();

	harden();
	log_procname("popauth");
	log_set_sink(sink);
	parse_args(argc, argv, &o);
	if (ruid == 0)
		regain_root();
	name = authorize(&o, ruid, &cf, &ow);
	if (o.mode == MODE_INIT)
		init_dir(cf.popauth_db, &ow);
	drop_to(&ow);
	if (act(&o, cf.popauth_db, name) != 0)
		fail();
	return 0;
}
