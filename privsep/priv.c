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
 * Runs as root in a process about to give up root: the network child, the
 * spool worker and the key process.  The order is fixed (chroot, chdir,
 * capability bounding set emptied, groups, gid, uid, proof that root
 * cannot be regained, no core dumps, no-new-privs) and each step is
 * checked; there is no way back after priv_drop() returns.
 * priv_harden() also runs in the processes that keep root and hold
 * secrets: the master and the session monitor.
 */

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"

int
priv_lookup(const char *name, struct priv_user *u)
{
	struct passwd	*pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL)
		return -1;
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	return 0;
}

/* Missing parents of the chroot (/var/lib/popsep) are made root's, 0755. */
static void
make_parents(const char *dir)
{
	char	path[PATH_MAX], *p;

	if (strlcpy(path, dir, sizeof(path)) >= sizeof(path))
		fatalx("chroot-dir too long");
	for (p = path + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST)
			fatal("mkdir %s", path);
		*p = '/';
	}
}

/*
 * The chroot of the unprivileged processes must be an empty directory
 * that only root can change: create it if it is missing, refuse it if it
 * is anything else.
 */
void
priv_prepare_chroot(const char *dir)
{
	struct stat	 st;
	DIR		*d;
	struct dirent	*de;

	make_parents(dir);
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		fatal("mkdir %s", dir);
	if (lstat(dir, &st) == -1)
		fatal("stat %s", dir);
	if (!S_ISDIR(st.st_mode))
		fatalx("chroot %s: not a directory", dir);
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		fatalx("chroot %s: must be owned by root and writable only "
		    "by root", dir);
	if ((d = opendir(dir)) == NULL)
		fatal("opendir %s", dir);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			fatalx("chroot %s: not empty (%s)", dir, de->d_name);
	closedir(d);
}

/*
 * The directory of the start-up caches (cache-dir): created if missing,
 * mode 0711 (the monitor opens files in it by name; no one lists it),
 * and then it must be a directory owned by root that only root writes.
 */
void
priv_prepare_cache_dir(const char *dir)
{
	struct stat	st;

	if (strcmp(dir, "none") == 0)
		return;
	make_parents(dir);
	if (mkdir(dir, 0711) == 0) {
		/* Whatever the umask. */
		if (chmod(dir, 0711) == -1)
			fatal("chmod %s", dir);
	} else if (errno != EEXIST)
		fatal("mkdir %s", dir);
	if (lstat(dir, &st) == -1)
		fatal("stat %s", dir);
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		fatalx("cache-dir %s: must be a directory owned by root and "
		    "writable only by root", dir);
}

/*
 * A dropped process logs through a channel, never to a file: standard
 * input, output and error become /dev/null, so it holds no descriptor but
 * its sockets (and the spool worker its mailbox).  The sanitizer build
 * keeps standard error for its reports.
 */
static void
null_stdio(void)
{
	int	fd;

	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		fatal("/dev/null");
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1)
		fatal("dup2");
#if !defined(POPSEP_SANITIZE) && !defined(SANDBOX_DEBUG)
	if (dup2(fd, STDERR_FILENO) == -1)
		fatal("dup2");
#endif
	close(fd);
}

/*
 * No capability can come back, even through a program with file
 * capabilities: every one leaves the bounding set while this process
 * still has CAP_SETPCAP.  Dropping one that is already out succeeds, so
 * each is dropped without being read first; the kernel's last capability
 * is where PR_CAPBSET_DROP starts to fail with EINVAL.  Then each is read
 * back.
 */
static void
drop_bounding_set(void)
{
	int	cap;

	for (cap = 0; prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0; cap++)
		;
	if (errno != EINVAL || cap == 0)
		fatal("prctl capbset_drop %d", cap);
	for (cap--; cap >= 0; cap--)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 0)
			fatalx("%s: capability %d still bounded", __func__,
			    cap);
}

/*
 * No core file and no ptrace by the same user: a process that holds a
 * password, a key or mail keeps it in memory only.  A change of
 * credentials may reset the dumpable flag (to fs.suid_dumpable), so the
 * dropped processes call this again after the drop.
 */
void
priv_harden(void)
{
	struct rlimit	rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("setrlimit core");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl set_dumpable");
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		fatalx("%s: still dumpable", __func__);
}

void
priv_drop(const char *chroot_dir, const struct priv_user *u)
{
	uid_t	ruid, euid, suid;
	gid_t	rgid, egid, sgid;
	pid_t	parent = getppid();
	int	deathsig = 0;

	if (u->uid == 0)
		bug("%s: refusing to drop to uid 0", __func__);
	/* The change of credentials clears it: it is set again below. */
	if (prctl(PR_GET_PDEATHSIG, &deathsig, 0, 0, 0) == -1)
		fatal("prctl get pdeathsig");
	null_stdio();
	if (chroot(chroot_dir) == -1)
		fatal("chroot %s", chroot_dir);
	if (chdir("/") == -1)
		fatal("chdir /");
	drop_bounding_set();
	if (setgroups(0, NULL) == -1)
		fatal("setgroups");
	if (setresgid(u->gid, u->gid, u->gid) == -1)
		fatal("setresgid %u", (unsigned)u->gid);
	if (setresuid(u->uid, u->uid, u->uid) == -1)
		fatal("setresuid %u", (unsigned)u->uid);
	if (getresgid(&rgid, &egid, &sgid) == -1 ||
	    getresuid(&ruid, &euid, &suid) == -1)
		fatal("getresuid");
	if (ruid != u->uid || euid != u->uid || suid != u->uid ||
	    rgid != u->gid || egid != u->gid || sgid != u->gid)
		fatalx("%s: ids did not change", __func__);
	/* Proof, not hope: root must be gone for good. */
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1)
		fatalx("%s: could regain root", __func__);
	if (getgroups(0, NULL) != 0)
		fatalx("%s: supplementary groups remain", __func__);
	if (deathsig != 0)
		priv_die_with_parent(parent);
	priv_no_new_privs();
}

void
priv_no_new_privs(void)
{
	/* No core files: they would hold passwords and mail. */
	priv_harden();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl no_new_privs");
}

/*
 * A session child must not outlive its monitor: the monitor holds the
 * mailbox's locks and the session's channels.  The kernel sends SIGKILL
 * when the parent dies; a parent that died before the request was made is
 * caught by getppid().  The setting does not survive a change of
 * credentials, so priv_drop() makes it again for a process that had it.
 */
void
priv_die_with_parent(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		fatal("prctl pdeathsig");
	if (getppid() != parent)
		_exit(1);
}
