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
 * Runs in the session monitor, as root.  Opens a mailbox whose path came
 * from the configuration and the authenticated identity (never from client
 * text) without following a symbolic link, and refuses it unless it is a
 * regular file with one link owned by the mail user.  Takes the two locks
 * Debian's delivery agents honour: the dot-lock USER.lock next to the
 * mailbox (created O_EXCL, holding our pid, stale after LOCK_STALE_SECS)
 * and an fcntl write lock, both released on every exit path by the caller.
 * Those two are held only while the mailbox is indexed and while it is
 * updated, so mail can be delivered during a session; a third lock,
 * flock(2), is held for the whole session and keeps a second POP3 session
 * of the same mailbox out (see spool_claim()).
 */

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <libgen.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

/*
 * No mail yet: an empty mailbox of the user's own, as a delivery agent
 * would make it.  In a set-group-id spool directory (Debian's /var/mail,
 * root:mail 2775) that is USER:mail 0660; elsewhere the user's own group
 * and 0600.  O_EXCL and O_NOFOLLOW: nothing someone else put there is
 * taken over.
 */
static int
create_mailbox(const char *path, uid_t uid, gid_t gid, const char **why)
{
	struct stat	 dst;
	char		 dir[1024], *slash;
	mode_t		 mode = 0600;
	int		 fd;

	if (strlcpy(dir, path, sizeof(dir)) < sizeof(dir) &&
	    (slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		if (stat(dir[0] != '\0' ? dir : "/", &dst) == 0 &&
		    (dst.st_mode & S_ISGID) != 0) {
			gid = dst.st_gid;
			mode = 0660;
		}
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY |
	    O_CLOEXEC, mode);
	if (fd == -1)
		return -1;
	if (fchown(fd, uid, gid) == -1 || fchmod(fd, mode) == -1) {
		log_warn("fchown %s", path);
		close(fd);
		(void)unlink(path);
		*why = "cannot create the mailbox";
		errno = EPERM;
		return -1;
	}
	log_info("created empty mailbox %s", path);
	return fd;
}

int
spool_open(const char *path, uid_t uid, gid_t gid, int *fd_r,
    const char **why)
{
	struct stat	st;
	int		fd;

	fd = open(path, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		fd = create_mailbox(path, uid, gid, why);
	if (fd == -1) {
		log_warn("open %s", path);
		*why = errno == ELOOP ? "mailbox is a symbolic link" :
		    "cannot open the mailbox";
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("fstat %s", path);
		close(fd);
		*why = "cannot open the mailbox";
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != uid) {
		log_warnx("%s: not a regular file with one link owned by uid "
		    "%u; refusing it", path, (unsigned)uid);
		close(fd);
		*why = "mailbox is not safe to open";
		return -1;
	}
	*fd_r = fd;
	return 0;
}

/*
 * Claim the mailbox for this session: an flock(2) lock on the open file,
 * shared with the spool worker through fork, dropped when the last
 * descriptor closes however the session ends.  Delivery agents on Debian
 * lock with the dot-lock and fcntl, which are independent of flock on
 * Linux, so they can still append; only a second session is refused.
 * Without this, two sessions could each remove messages by the offsets
 * they indexed, and one could remove mail the other had moved.
 */
int
spool_claim(int fd)
{
	int	saved;

	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	saved = errno;
	if (saved != EWOULDBLOCK)
		log_warn("flock");
	errno = saved;
	return -1;
}

/*
 * End the session's claim.  The spool worker calls it at QUIT before it
 * answers, so a client that reconnects at once is not refused: the lock
 * belongs to the open file, shared with the monitor, and goes for both.
 */
void
spool_unclaim(int fd)
{
	if (flock(fd, LOCK_UN) == -1)
		log_warn("flock unlock");
}

static int
try_dotlock(struct spool_lock *l)
{
	struct stat	st;
	char		pid[32];
	int		fd, n;

	fd = open(l->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd == -1) {
		if (errno != EEXIST)
			return -1;
		/* A lock nobody refreshed for long belongs to no one. */
		if (lstat(l->path, &st) == 0 && S_ISREG(st.st_mode) &&
		    time(NULL) - st.st_mtime > LOCK_STALE_SECS) {
			log_info("removing stale lock %s", l->path);
			(void)unlink(l->path);
		}
		errno = EEXIST;
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (write(fd, pid, (size_t)n) != n) {
		log_warn("write %s", l->path);
		close(fd);
		(void)unlink(l->path);
		return -1;
	}
	close(fd);
	l->dotlocked = 1;
	return 0;
}

/*
 * Take both locks, retrying once a second for LOCK_TRIES seconds while
 * another process (a delivery agent, another session) holds one.
 */
int
spool_lock(int fd, const char *mbox, struct spool_lock *l)
{
	struct flock	fl;
	int		i;

	if ((size_t)snprintf(l->path, sizeof(l->path), "%s.lock", mbox) >=
	    sizeof(l->path))
		return -1;
	for (i = 0; i < LOCK_TRIES; i++) {
		if (!l->dotlocked && try_dotlock(l) == -1 && errno != EEXIST) {
			log_warn("maillock error: cannot create %s", l->path);
			return -1;
		}
		if (l->dotlocked) {
			memset(&fl, 0, sizeof(fl));
			fl.l_type = F_WRLCK;
			fl.l_whence = SEEK_SET;
			if (fcntl(fd, F_SETLK, &fl) == 0) {
				l->fcntl_locked = 1;
				return 0;
			}
			if (errno != EAGAIN && errno != EACCES) {
				log_warn("fcntl lock %s", mbox);
				spool_unlock(fd, l);
				return -1;
			}
		}
		sleep(1);
	}
	log_info("maillock error: %s is locked by another process", mbox);
	spool_unlock(fd, l);
	errno = EAGAIN;
	return -1;
}

void
spool_unlock(int fd, struct spool_lock *l)
{
	struct flock	fl;

	if (l->fcntl_locked) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_UNLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_SETLK, &fl) == -1)
			log_warn("fcntl unlock");
		l->fcntl_locked = 0;
	}
	if (l->dotlocked) {
		if (unlink(l->path) == -1)
			log_warn("unlink %s", l->path);
		l->dotlocked = 0;
	}
}

/*
 * The update journal of a mailbox (spool/journal.c) is ".NAME.popsep-
 * journal" next to it: a name derived from the mailbox path, never from
 * client text.  The monitor creates it for each update, hands the worker
 * the descriptor, and removes it when the worker says the update is done.
 */
int
spool_journal_path(const char *mbox, char *buf, size_t len)
{
	char	d[1024], b[1024];

	if (strlcpy(d, mbox, sizeof(d)) >= sizeof(d) ||
	    strlcpy(b, mbox, sizeof(b)) >= sizeof(b))
		return -1;
	if ((size_t)snprintf(buf, len, "%s/.%s.popsep-journal", dirname(d),
	    basename(b)) >= len)
		return -1;
	return 0;
}

/*
 * A journal left by an update a crash interrupted: opened like the mailbox
 * (no symbolic link, a regular file with one link, owned by the user).
 * Returns 0 with *fd_r = -1 if there is none.
 */
int
spool_journal_open(const char *path, uid_t uid, int *fd_r)
{
	struct stat	st;
	int		fd;

	*fd_r = -1;
	fd = open(path, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1 || st.st_uid != uid) {
		log_warnx("%s: not a regular file with one link owned by uid "
		    "%u; refusing it", path, (unsigned)uid);
		close(fd);
		return -1;
	}
	*fd_r = fd;
	return 0;
}

int
spool_journal_create(const char *path, uid_t uid, gid_t gid)
{
	int	fd;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("create %s", path);
		return -1;
	}
	if (fchown(fd, uid, gid) == -1) {
		log_warn("fchown %s", path);
		close(fd);
		(void)unlink(path);
		return -1;
	}
	return fd;
}

/* Gone for good: the directory entry's removal reaches the disk too. */
void
spool_journal_remove(const char *path)
{
	char	d[1024];
	int	dfd;

	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
	if (strlcpy(d, path, sizeof(d)) >= sizeof(d))
		return;
	if ((dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
}
