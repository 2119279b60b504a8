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
 * mailbox, which names the process that will write the mailbox under it
 * (the spool worker), and an fcntl write lock on the open file that the
 * worker shares, so that neither lock can end while the worker may still
 * write.  Those two are held only while the mailbox is indexed and while
 * it is updated, so mail can be delivered during a session; a third lock,
 * flock(2), is held for the whole session and keeps a second POP3 session
 * of the same mailbox out (see spool_claim()).  Also creates, names,
 * removes and sets aside the update journal (spool/journal.c) next to the
 * mailbox, and opens the user's start-up cache (spool/cache.c) for the
 * worker.
 */

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
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
 * The start-up cache of a user: DIR/USER, a regular file with one link
 * owned by the user, mode 0600, in a directory only root writes (checked
 * at start-up), created here as root and given to the user.  Anything
 * else found at that name (a symbolic link, a FIFO, a file of another
 * owner or mode, a second link) is not used but removed and replaced:
 * only the monitor makes files there.  A directory stays, and the session
 * has no cache.  Returns a read-write descriptor for the spool worker, or
 * -1 (no cache; never an error for the session).  The user name is the
 * authenticated one; one that is not a plain file name gets no cache.
 */
int
spool_cache_open(const char *dir, const char *user, uid_t uid, gid_t gid)
{
	struct stat	st;
	char		path[1024];
	int		fd, tries;

	if (user[0] == '\0' || strchr(user, '/') != NULL ||
	    strcmp(user, ".") == 0 || strcmp(user, "..") == 0 ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, user) >=
	    sizeof(path))
		return -1;
	for (tries = 0; tries < 2; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC, 0600);
		if (fd == -1) {
			if (errno == ELOOP && tries == 0 && unlink(path) == 0) {
				log_warnx("start-up cache %s: a symbolic link; "
				    "replaced", path);
				continue;
			}
			log_warn("start-up cache %s", path);
			return -1;
		}
		if (fstat(fd, &st) == -1) {
			log_warn("start-up cache %s: fstat", path);
			close(fd);
			return -1;
		}
		if (S_ISREG(st.st_mode) && st.st_nlink == 1 && st.st_uid == 0 &&
		    st.st_size == 0 && uid != 0 && (fchown(fd, uid, gid) == -1 ||
		    fchmod(fd, 0600) == -1)) {
			log_warn("start-up cache %s: fchown", path);
			close(fd);
			return -1;
		}
		if (S_ISREG(st.st_mode) && st.st_nlink == 1 &&
		    (st.st_uid == uid || (st.st_uid == 0 && st.st_size == 0)) &&
		    (st.st_mode & 077) == 0)
			return fd;
		close(fd);
		if (S_ISDIR(st.st_mode) || tries > 0 || unlink(path) == -1) {
			log_warnx("start-up cache %s: not a regular file of uid "
			    "%u with mode 0600; no cache", path, (unsigned)uid);
			return -1;
		}
		log_warnx("start-up cache %s: not a regular file of uid %u with "
		    "mode 0600; replaced", path, (unsigned)uid);
	}
	return -1;
}

/*
 * A read-only descriptor of the mailbox open on fd, for the spool worker
 * to index and serve it: opened by name again and checked to be the same
 * file, so that the worker holds a writable descriptor only while it
 * holds the locks for an update.
 */
int
spool_reopen_rdonly(const char *path, int fd)
{
	struct stat	a, b;
	int		ro;

	ro = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (ro == -1) {
		log_warn("open %s", path);
		return -1;
	}
	if (fstat(fd, &a) == -1 || fstat(ro, &b) == -1 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		log_warnx("%s was replaced while it was opened", path);
		close(ro);
		return -1;
	}
	return ro;
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

/* Where the lock's content is written before it gets the lock's name. */
static int
lock_tmpname(const struct spool_lock *l, char *buf, size_t len)
{
	uint32_t	r = arc4random();

	return (size_t)snprintf(buf, len, "%s.ps%ld.%08x", l->path,
	    (long)getpid(), r) >= len ? -1 : 0;
}

/*
 * A new file next to the lock holding "PID\n", created exclusively, never
 * following a link; its name in buf.  Nothing else ever sees it empty.
 */
static int
write_lock_file(const struct spool_lock *l, pid_t holder, char *buf,
    size_t len)
{
	char	pid[32];
	int	fd, n, saved;

	if (lock_tmpname(l, buf, len) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(buf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY |
	    O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)holder);
	if (write(fd, pid, (size_t)n) != n) {
		saved = errno;
		log_warn("maillock error: write %s", buf);
		close(fd);
		(void)unlink(buf);
		errno = saved ? saved : EIO;
		return -1;
	}
	if (close(fd) == -1) {
		saved = errno;
		log_warn("maillock error: close %s", buf);
		(void)unlink(buf);
		errno = saved;
		return -1;
	}
	return 0;
}

/* The pid a lock file names, or 0 if it names none (empty, garbage). */
static pid_t
lock_pid(int fd)
{
	char		 buf[32], *end;
	long		 v;
	ssize_t		 n;

	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || v <= 0 || v > INT32_MAX ||
	    (*end != '\n' && *end != '\0'))
		return 0;
	return (pid_t)v;
}

/*
 * Whether a process has exited: not there, or a zombie nobody has reaped
 * yet (kill(2) still finds those, though they will never write again).
 */
static int
process_gone(pid_t pid)
{
	char	path[64], buf[256], *p;
	ssize_t	n;
	int	fd;

	if (kill(pid, 0) == -1)
		return errno == ESRCH;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return 0;
	return p[2] == 'Z' || p[2] == 'X';
}

/*
 * Whether the lock someone else holds may be broken, judged as Debian's
 * liblockfile judges it: a lock naming a process that is not running on
 * this host is stale at once; one naming a live process never is; one
 * that names no process (empty, unreadable) is stale once it has not
 * been touched for LOCK_EMPTY_GRACE_SECS.  If stale, it is removed,
 * provided the name still refers to the file that was judged.
 */
static void
break_if_stale(const struct spool_lock *l)
{
	struct stat	 st, now;
	const char	*why = NULL;
	pid_t		 pid;
	int		 fd;

	fd = open(l->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd == -1)
		return;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	pid = lock_pid(fd);
	close(fd);
	if (pid != 0) {
		if (process_gone(pid))
			why = "its process is gone";
	} else if (time(NULL) - st.st_mtime >= LOCK_EMPTY_GRACE_SECS)
		why = "it names no process";
	if (why == NULL)
		return;
	if (lstat(l->path, &now) == -1 || now.st_dev != st.st_dev ||
	    now.st_ino != st.st_ino)
		return;
	if (unlink(l->path) == -1) {
		log_warn("maillock error: cannot remove stale lock %s",
		    l->path);
		return;
	}
	if (pid != 0)
		log_info("removed stale lock %s: process %ld is gone",
		    l->path, (long)pid);
	else
		log_info("removed stale lock %s: it names no process and is "
		    "%lld seconds old", l->path,
		    (long long)(time(NULL) - st.st_mtime));
}

/*
 * One attempt at the dot-lock: the content first, then link(2) to the
 * lock's name, which fails if the lock exists.  Returns 0 (ours), -1 with
 * errno EEXIST (held), or -1 with another errno.
 */
static int
try_dotlock(struct spool_lock *l, pid_t holder)
{
	struct stat	st;
	char		tmp[sizeof(l->path) + 32];
	int		rc, saved;

	if (write_lock_file(l, holder, tmp, sizeof(tmp)) == -1)
		return -1;
	rc = link(tmp, l->path);
	saved = errno;
	/* After link, the lock is ours if the file now has two names. */
	if (lstat(tmp, &st) == 0 && st.st_nlink == 2) {
		l->dev = st.st_dev;
		l->ino = st.st_ino;
		rc = 0;
	} else if (rc == 0) {
		rc = -1;
		saved = EEXIST;
	}
	if (unlink(tmp) == -1)
		log_warn("maillock error: unlink %s", tmp);
	if (rc == 0) {
		l->dotlocked = 1;
		return 0;
	}
	if (saved == EEXIST)
		break_if_stale(l);
	errno = saved;
	return -1;
}

static int
ofd_lock(int fd, short type)
{
	struct flock	fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, F_OFD_SETLK, &fl);
}

/*
 * Take both locks, retrying once a second for LOCK_TRIES seconds while
 * another process (a delivery agent, another session) holds one.  The
 * dot-lock names holder, the process that will write the mailbox under
 * it.  The fcntl lock is an open file description lock on fd: it belongs
 * to the open file, not to a process, so it lasts until every process
 * holding fd (the monitor and the spool worker it was handed to) has
 * closed it or died, and it conflicts with the POSIX record locks of
 * delivery agents like any fcntl lock.
 */
int
spool_lock(int fd, const char *mbox, pid_t holder, struct spool_lock *l)
{
	struct stat	st;
	int		i;

	if (l->dotlocked || l->fcntl_locked)
		bug("%s: already locked", __func__);
	if ((size_t)snprintf(l->path, sizeof(l->path), "%s.lock", mbox) >=
	    sizeof(l->path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (i = 0; i < LOCK_TRIES; i++) {
		if (!l->dotlocked && try_dotlock(l, holder) == -1 &&
		    errno != EEXIST) {
			log_warn("maillock error: cannot create %s", l->path);
			return -1;
		}
		if (l->dotlocked) {
			if (ofd_lock(fd, F_WRLCK) == 0) {
				l->fcntl_locked = 1;
				return 0;
			}
			if (errno != EAGAIN && errno != EACCES) {
				log_warn("maillock error: fcntl lock %s", mbox);
				spool_unlock(fd, l);
				return -1;
			}
		}
		sleep(1);
	}
	/* Never judged stale: say what it is, or it could be anyone's lock. */
	if (!l->dotlocked && lstat(l->path, &st) == 0 && !S_ISREG(st.st_mode))
		log_warnx("maillock error: %s is not a regular file (%s); it "
		    "holds the lock until it is removed", l->path,
		    S_ISLNK(st.st_mode) ? "a symbolic link" : "of another "
		    "type");
	log_info("maillock error: %s is locked by another process", mbox);
	spool_unlock(fd, l);
	errno = EAGAIN;
	return -1;
}

/* Whether the dot-lock's name still refers to the file we linked there. */
static int
still_ours(const struct spool_lock *l)
{
	struct stat	st;

	return lstat(l->path, &st) == 0 && st.st_dev == l->dev &&
	    st.st_ino == l->ino;
}

/*
 * Make the held dot-lock name another process, which takes over the
 * writing: a new file with the new pid is renamed over the lock, so the
 * lock exists with valid content at every instant.
 */
int
spool_lock_retarget(struct spool_lock *l, pid_t holder)
{
	struct stat	st;
	char		tmp[sizeof(l->path) + 32];

	if (!l->dotlocked || !still_ours(l)) {
		log_warnx("maillock error: %s is no longer ours", l->path);
		return -1;
	}
	if (write_lock_file(l, holder, tmp, sizeof(tmp)) == -1 ||
	    lstat(tmp, &st) == -1) {
		log_warn("maillock error: cannot rewrite %s", l->path);
		return -1;
	}
	if (rename(tmp, l->path) == -1) {
		log_warn("maillock error: rename %s", tmp);
		(void)unlink(tmp);
		return -1;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	return 0;
}

/*
 * Touch the dot-lock (Qpopper's mail-lock-check), so that no delivery
 * agent judges it stale by its age while a long index or update runs:
 * whenever it is LOCK_REFRESH_SECS old, judged by the file's own time as
 * they judge it.
 */
void
spool_lock_refresh(struct spool_lock *l)
{
	struct stat	st;
	time_t		now = time(NULL);

	if (!l->dotlocked)
		return;
	if (lstat(l->path, &st) == -1 || st.st_dev != l->dev ||
	    st.st_ino != l->ino) {
		log_warnx("maillock error: %s was removed by another program",
		    l->path);
		return;
	}
	if (now - st.st_mtime < LOCK_REFRESH_SECS)
		return;
	if (utimensat(AT_FDCWD, l->path, NULL, AT_SYMLINK_NOFOLLOW) == -1)
		log_warn("maillock error: cannot refresh %s", l->path);
}

void
spool_unlock(int fd, struct spool_lock *l)
{
	if (l->fcntl_locked) {
		if (ofd_lock(fd, F_UNLCK) == -1)
			log_warn("maillock error: fcntl unlock");
		l->fcntl_locked = 0;
	}
	if (l->dotlocked) {
		/* Never remove a lock another program has made since. */
		if (!still_ours(l))
			log_warnx("maillock error: %s was replaced by another "
			    "program; leaving it", l->path);
		else if (unlink(l->path) == -1)
			log_warn("maillock error: unlink %s", l->path);
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
 * Returns 0 with *fd_r = -1 if there is none.  An empty journal is none:
 * it holds no record, so no update ever began.  A journal that is not
 * safe to open is set aside and logged; the mailbox is served as it is.
 */
int
spool_journal_open(const char *path, uid_t uid, int *fd_r)
{
	struct stat	st;
	int		fd;

	*fd_r = -1;
	fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("update journal: open %s", path);
		spool_journal_set_aside(path);
		return 0;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
		/* Whoever made it, it holds no record: no update began. */
		log_info("removing empty update journal %s", path);
		close(fd);
		spool_journal_remove(path);
		return 0;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1 || st.st_uid != uid) {
		log_warnx("%s: not a regular file with one link owned by uid "
		    "%u", path, (unsigned)uid);
		close(fd);
		spool_journal_set_aside(path);
		return 0;
	}
	*fd_r = fd;
	return 0;
}

/* The directory a path is in, opened for fsync and *at() calls. */
static int
open_dir_of(const char *path)
{
	char	d[1024];

	if (strlcpy(d, path, sizeof(d)) >= sizeof(d)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/*
 * A new journal for the mailbox whose journal name is path: an unnamed
 * file (O_TMPFILE) in the mailbox's directory, given the user as owner
 * and mode 0600 while nobody can see it.  It gets its name only once its
 * record is complete and synced (spool_journal_commit()), so a journal
 * that can be found is never empty, never root's and never torn.
 */
int
spool_journal_new(const char *path, uid_t uid, gid_t gid)
{
	char	d[1024];
	int	fd;

	if (strlcpy(d, path, sizeof(d)) >= sizeof(d))
		return -1;
	fd = open(dirname(d), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("update journal: cannot create it in %s (the file "
		    "system must support O_TMPFILE)", d);
		return -1;
	}
	if (fchown(fd, uid, gid) == -1 || fchmod(fd, 0600) == -1) {
		log_warn("update journal: fchown");
		close(fd);
		return -1;
	}
	return fd;
}

/* Give the synced journal its name, and make the name durable. */
int
spool_journal_commit(int fd, const char *path)
{
	int	dfd;

	if (linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == -1) {
		log_warn("update journal: link %s", path);
		return -1;
	}
	if ((dfd = open_dir_of(path)) == -1 || fsync(dfd) == -1) {
		log_warn("update journal: fsync the directory of %s", path);
		if (dfd != -1)
			close(dfd);
		spool_journal_remove(path);
		return -1;
	}
	close(dfd);
	return 0;
}

/* Gone for good: the directory entry's removal reaches the disk too. */
void
spool_journal_remove(const char *path)
{
	int	dfd;

	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("update journal: unlink %s", path);
	if ((dfd = open_dir_of(path)) != -1) {
		if (fsync(dfd) == -1)
			log_warn("update journal: fsync the directory of %s",
			    path);
		close(dfd);
	}
}

/*
 * A journal that must not be applied: renamed to NAME.bad-TIME, where an
 * administrator finds it (it still holds the messages it was written
 * with), never applied and never in the way of the next login.
 */
void
spool_journal_set_aside(const char *path)
{
	char	to[1100];
	int	dfd, i, rc = -1;

	/* Never over an earlier one: it may hold mail too. */
	for (i = 1; i <= 100 && rc == -1; i++) {
		if ((size_t)snprintf(to, sizeof(to), i == 1 ? "%s.bad-%lld" :
		    "%s.bad-%lld.%d", path, (long long)time(NULL), i) >=
		    sizeof(to)) {
			log_warnx("update journal: %s: name too long", path);
			return;
		}
		rc = renameat2(AT_FDCWD, path, AT_FDCWD, to, RENAME_NOREPLACE);
		if (rc == -1 && errno != EEXIST)
			break;
	}
	if (rc == -1) {
		log_warn("update journal: rename %s", path);
		return;
	}
	log_warnx("update journal: set aside as %s; it was not applied", to);
	if ((dfd = open_dir_of(path)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
}
