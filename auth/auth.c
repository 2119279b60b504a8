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
 * Runs in the session monitor, as root.  Decides which mechanism checks
 * the credentials and maps a successful login to the uid, gid and mailbox
 * the spool worker will run with.  Every check that reads a secret runs in
 * a child that exits at once (auth_child).  Refuses uid and gid 0 for
 * everyone, and system accounts below first-valid-uid: no mailbox is
 * served with root's or a system account's rights.
 */

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "priv.h"

/* Run first in every check child: the caller closes its channels there. */
static void	(*child_init)(void);

void
auth_set_child_init(void (*fn)(void))
{
	child_init = fn;
}

static int
read_full(int fd, void *buf, size_t len)
{
	size_t	got = 0;
	ssize_t	n;

	while (got < len) {
		n = read(fd, (char *)buf + got, len - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got == len ? 0 : -1;
}

static int
result_valid(const struct auth_result *r)
{
	return memchr(r->mailbox, '\0', sizeof(r->mailbox)) != NULL &&
	    r->mailbox[0] == '/' && memchr(r->how, '\0', sizeof(r->how)) != NULL;
}

static int
wait_child(pid_t pid)
{
	int	status;

	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			log_warn("waitpid for an authentication child");
			return -1;
		}
	if (WIFSIGNALED(status)) {
		log_warnx("authentication child killed by signal %d",
		    WTERMSIG(status));
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Run fn in a child and return its result (0..125), or -1.  With res, a
 * result of 0 also brings back the account fn filled in, checked before
 * it is used.  Whatever fn read (other users' hashes in stdio's buffers,
 * a PAM module's leftovers, an APOP secret) dies with the child.
 */
int
auth_child(int (*fn)(void *, struct auth_result *), void *arg,
    struct auth_result *res)
{
	struct auth_result	r;
	pid_t			pid, parent = getpid();
	int			p[2], st, got;

	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("pipe for an authentication child");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork for an authentication child");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		log_set_fatal_hook(NULL);
		priv_die_with_parent(parent);
		close(p[0]);
		if (child_init != NULL)
			child_init();
		memset(&r, 0, sizeof(r));
		st = fn(arg, &r);
		if (st == 0 && res != NULL &&
		    write(p[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			st = 125;
		_exit(st < 0 || st > 125 ? 125 : st);
	}
	close(p[1]);
	memset(&r, 0, sizeof(r));
	got = res != NULL ? read_full(p[0], &r, sizeof(r)) : 0;
	close(p[0]);
	st = wait_child(pid);
	if (st == 0 && res != NULL) {
		if (got == -1 || !result_valid(&r)) {
			log_warnx("authentication child sent a bad result");
			st = -1;
		} else
			*res = r;
	}
	explicit_bzero(&r, sizeof(r));
	return st;
}

struct pwfile_args {
	const char	*path, *user, *pass;
};

static int
pwfile_in_child(void *arg, struct auth_result *res)
{
	struct pwfile_args	*a = arg;

	return pwfile_check(a->path, a->user, a->pass, res);
}

/* passwd-file: PWFILE_OK, PWFILE_NO_USER or a failure. */
static int
pwfile_lookup(const struct config *cf, const char *user, const char *pass,
    struct auth_result *res)
{
	struct pwfile_args	a = { cf->passwd_file, user, pass };
	int			rc;

	if (cf->passwd_file[0] == '\0')
		return PWFILE_NO_USER;
	rc = auth_child(pwfile_in_child, &a, res);
	if (rc == PWFILE_OK)
		strlcpy(res->how, "passwd-file", sizeof(res->how));
	return rc;
}

/* A system user's account: the spool, or home-dir-mail in $HOME. */
static int
map_system_user(const struct config *cf, const char *user,
    struct auth_result *res)
{
	struct passwd	*pw;
	int		 n;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		log_warnx("PAM accepted \"%s\", but there is no such system "
		    "user for the mailbox", user);
		return -1;
	}
	res->uid = pw->pw_uid;
	res->gid = pw->pw_gid;
	if ((int)pw->pw_uid < cf->first_valid_uid) {
		log_warnx("refusing a POP3 login as \"%s\": uid %u is below "
		    "first-valid-uid %d", user, (unsigned)pw->pw_uid,
		    cf->first_valid_uid);
		return -1;
	}
	if (cf->home_dir_mail[0] != '\0')
		n = snprintf(res->mailbox, sizeof(res->mailbox), "%s/%s",
		    pw->pw_dir, cf->home_dir_mail);
	else
		n = snprintf(res->mailbox, sizeof(res->mailbox), "%s/%s",
		    cf->spool_dir, pw->pw_name);
	return n < 0 || (size_t)n >= sizeof(res->mailbox) ? -1 : 0;
}

/* Rules every mapped account obeys, whatever proved it. */
static int
account_ok(const char *user, const struct auth_result *res)
{
	if (res->uid == 0 || res->gid == 0) {
		log_warnx("refusing a POP3 login as uid or gid 0 (\"%s\")",
		    user);
		return AUTH_FAIL;
	}
	return AUTH_OK;
}

/* An enum auth_status. */
int
auth_password(const struct config *cf, const char *user, const char *pass,
    const char *rhost, struct auth_result *res)
{
	int	rc;

	memset(res, 0, sizeof(*res));
	if (!auth_allowed(cf, user))
		return AUTH_FAIL;
	rc = pwfile_lookup(cf, user, pass, res);
	if (rc == PWFILE_OK)
		return account_ok(user, res);
	if (rc != PWFILE_NO_USER)
		return AUTH_FAIL;
	if ((rc = auth_pam(cf->pam_service, user, pass, rhost)) != AUTH_OK)
		return rc;
	if (map_system_user(cf, user, res) == -1)
		return AUTH_FAIL;
	strlcpy(res->how, "pam", sizeof(res->how));
	return account_ok(user, res);
}

/*
 * An enum auth_status: the account of a user whose credentials were
 * proven by other means (APOP), found as for a password: passwd-file,
 * else a system user, whose PAM account rules still apply.
 */
int
auth_lookup(const struct config *cf, const char *user, const char *rhost,
    struct auth_result *res)
{
	int	rc;

	memset(res, 0, sizeof(*res));
	rc = pwfile_lookup(cf, user, NULL, res);
	if (rc == PWFILE_OK)
		return account_ok(user, res);
	if (rc != PWFILE_NO_USER)
		return AUTH_FAIL;
	if ((rc = auth_pam(cf->pam_service, user, NULL, rhost)) != AUTH_OK)
		return rc;
	if (map_system_user(cf, user, res) == -1)
		return AUTH_FAIL;
	return account_ok(user, res);
}
