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
 * Bulletins (Qpopper's bulldir), in the session monitor, as root, at
 * login.  A bulletin is a file in bulldir whose name starts with its
 * number ("12.maintenance"), holding one message; the administrator
 * writes them.  The number of the last bulletin a user got is kept in
 * ~/.popbull (Qpopper's file), or for a user without a home directory
 * (passwd-file users) in .NAME.popbull next to the mailbox NAME.  Each
 * new bulletin is delivered once, as a message appended to the mailbox
 * by the spool worker under the locks; a user seen for the first time
 * gets only the max-bulletins newest.  The state file is user-controlled
 * input: opened without following links, only if it is the user's own
 * regular file, and replaced (never written in place) by an unnamed file
 * given the user as owner and then renamed over it.  Nothing here reads
 * client text.
 */

#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

struct bull {
	long	 num;
	char	 name[256];
};

/* The number a bulletin's file name starts with, or -1. */
static long
bull_number(const char *name)
{
	const char	*e;
	long long	 n;
	char		 digits[16];
	size_t		 k = 0;

	while (isdigit((unsigned char)name[k]) && k < sizeof(digits) - 1) {
		digits[k] = name[k];
		k++;
	}
	if (k == 0 || (name[k] != '\0' && name[k] != '.'))
		return -1;
	digits[k] = '\0';
	n = strtonum(digits, 0, BULL_NUMBER_MAX, &e);
	return e != NULL ? -1 : (long)n;
}

/*
 * Where a user's bulletin state lives: ~/.popbull, or next to the
 * mailbox for a user without a home directory.
 */
int
bull_state_path(const char *home, const char *mailbox, char *buf,
    size_t len)
{
	char	d[1024], b[1024];

	if (home != NULL && home[0] == '/')
		return (size_t)snprintf(buf, len, "%s/.popbull", home) >= len ?
		    -1 : 0;
	if (strlcpy(d, mailbox, sizeof(d)) >= sizeof(d) ||
	    strlcpy(b, mailbox, sizeof(b)) >= sizeof(b))
		return -1;
	return (size_t)snprintf(buf, len, "%s/.%s.popbull", dirname(d),
	    basename(b)) >= len ? -1 : 0;
}

/*
 * The number of the last bulletin the user got: 0 and *known_r = 1 from
 * the state file, *known_r = 0 if there is none (a user seen for the
 * first time).  A state file that is not the user's own regular file, or
 * holds no number, is ignored and logged.
 */
long
bull_last_seen(const char *path, uid_t uid, int *known_r)
{
	struct stat	 st;
	char		 buf[32];
	const char	*e;
	long long	 n;
	ssize_t		 r;
	int		 fd;

	*known_r = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd == -1) {
		if (errno != ENOENT)
			log_warn("bulletins: open %s", path);
		return 0;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != uid) {
		log_warnx("bulletins: %s is not the user's own file; ignored",
		    path);
		close(fd);
		return 0;
	}
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0) {
		log_warnx("bulletins: %s is empty; ignored", path);
		return 0;
	}
	buf[r] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	n = strtonum(buf, 0, BULL_NUMBER_MAX, &e);
	if (e != NULL) {
		log_warnx("bulletins: %s: number %s", path, e);
		return 0;
	}
	*known_r = 1;
	return (long)n;
}

static int
bull_cmp(const void *a, const void *b)
{
	const struct bull	*x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

static int
long_cmp(const void *a, const void *b)
{
	long	x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

/* A bulletin's number, if the entry is one: a regular file, no link. */
static long
entry_number(DIR *d, const char *dir, const char *name, long last)
{
	struct stat	st;
	long		num;

	if ((num = bull_number(name)) <= last || num < 0)
		return -1;
	if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(st.st_mode)) {
		log_warnx("bulletins: %s/%s is not a regular file; skipped", dir,
		    name);
		return -1;
	}
	return num;
}

/*
 * The lowest max bulletins numbered above last, in order: a first pass
 * finds their numbers, a second their names, so that those left for the
 * next login are always the newer ones.
 */
static size_t
bull_list(const char *dir, long last, struct bull *out, size_t max)
{
	struct dirent	*de;
	DIR		*d;
	long		*nums = NULL, *p, num, cutoff;
	size_t		 n = 0, cap = 0, k = 0;

	if ((d = opendir(dir)) == NULL) {
		log_warn("bulletins: %s", dir);
		return 0;
	}
	while ((de = readdir(d)) != NULL && n < BULL_SCAN_MAX) {
		if ((num = entry_number(d, dir, de->d_name, last)) < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((p = reallocarray(nums, cap, sizeof(*p))) == NULL)
				break;
			nums = p;
		}
		nums[n++] = num;
	}
	if (n == 0) {
		free(nums);
		closedir(d);
		return 0;
	}
	qsort(nums, n, sizeof(*nums), long_cmp);
	if (n > max)
		log_warnx("bulletins: %zu new in %s; %zu now, the rest at the "
		    "next login", n, dir, max);
	cutoff = nums[(n > max ? max : n) - 1];
	free(nums);
	rewinddir(d);
	while ((de = readdir(d)) != NULL && k < max) {
		if ((num = bull_number(de->d_name)) <= last || num < 0 ||
		    num > cutoff || entry_number(d, dir, de->d_name, last) < 0)
			continue;
		out[k].num = num;
		if (strlcpy(out[k].name, de->d_name, sizeof(out[k].name)) >=
		    sizeof(out[k].name))
			continue;
		k++;
	}
	closedir(d);
	qsort(out, k, sizeof(*out), bull_cmp);
	return k;
}

static int
put(int fd, const void *p, size_t len)
{
	const char	*c = p;
	ssize_t		 w;

	while (len > 0) {
		if ((w = write(fd, c, len)) <= 0) {
			log_warn("bulletins: write");
			return -1;
		}
		c += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * One bulletin as an mbox message: a From_ line of its own if the file
 * has none, its bytes, and an empty line to end it.
 */
static int
bull_copy(int dfd, const char *dir, const char *name, const char *host,
    int out)
{
	struct stat	 st;
	char		 from[512], *buf;
	time_t		 now = time(NULL);
	size_t		 len;
	int		 fd, rc = -1;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || st.st_size > BULL_SIZE_MAX) {
		log_warnx("bulletins: %s/%s is not a regular file of 1 to %d "
		    "bytes; skipped", dir, name, BULL_SIZE_MAX);
		if (fd != -1)
			close(fd);
		return 0;
	}
	len = (size_t)st.st_size;
	if ((buf = malloc(len)) == NULL || read(fd, buf, len) !=
	    (ssize_t)len) {
		log_warn("bulletins: read %s/%s", dir, name);
		goto out;
	}
	if (len < 5 || memcmp(buf, "From ", 5) != 0) {
		snprintf(from, sizeof(from), "From popsep-bulletins@%s  %.24s\n",
		    host, ctime(&now));
		if (put(out, from, strlen(from)) == -1)
			goto out;
	}
	if (put(out, buf, len) == -1 ||
	    put(out, buf[len - 1] == '\n' ? "\n" : "\n\n",
	    buf[len - 1] == '\n' ? 1 : 2) == -1)
		goto out;
	rc = 1;
 out:
	free(buf);
	close(fd);
	return rc;
}

/*
 * Write the bulletins the user has not seen into out (a file the spool
 * worker appends to the mailbox); *newest_r gets the highest number
 * written.  Returns how many, or -1.
 */
int
bull_collect(const char *dir, long last, int known, int max_new,
    const char *host, int out, long *newest_r)
{
	struct bull	*b;
	size_t		 n, i, skip = 0;
	int		 dfd, rc, count = 0;

	*newest_r = last;
	if ((b = reallocarray(NULL, BULL_COUNT_MAX, sizeof(*b))) == NULL)
		return -1;
	n = bull_list(dir, known ? last : -1, b, BULL_COUNT_MAX);
	/* A user seen for the first time gets only the newest ones. */
	if (!known && n > (size_t)max_new)
		skip = n - (size_t)max_new;
	if (n > 0 && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		log_warn("bulletins: %s", dir);
		free(b);
		return -1;
	}
	for (i = 0; i < n; i++) {
		*newest_r = b[i].num;
		if (i < skip)
			continue;
		if ((rc = bull_copy(dfd, dir, b[i].name, host, out)) == -1) {
			count = -1;
			break;
		}
		count += rc;
	}
	if (n > 0)
		close(dfd);
	free(b);
	return count;
}

/*
 * Record that the user has seen bulletins up to newest: a new file, owned
 * by the user and given its content while it has no name, then renamed
 * over the old one (whatever that was: nothing is followed or opened).
 */
int
bull_record(const char *path, uid_t uid, gid_t gid, long newest)
{
	char	d[1024], tmp[1100], num[32];
	int	fd, n;

	if (strlcpy(d, path, sizeof(d)) >= sizeof(d) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.ps%ld", path,
	    (long)getpid()) >= sizeof(tmp))
		return -1;
	if ((fd = open(dirname(d), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600))
	    == -1) {
		log_warn("bulletins: cannot create a file in %s", d);
		return -1;
	}
	n = snprintf(num, sizeof(num), "%ld\n", newest);
	if (fchown(fd, uid, gid) == -1 || write(fd, num, (size_t)n) != n ||
	    fsync(fd) == -1) {
		log_warn("bulletins: write the state for %s", path);
		close(fd);
		return -1;
	}
	(void)unlink(tmp);
	if (linkat(fd, "", AT_FDCWD, tmp, AT_EMPTY_PATH) == -1) {
		log_warn("bulletins: link %s", tmp);
		close(fd);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		log_warn("bulletins: rename %s", tmp);
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}
