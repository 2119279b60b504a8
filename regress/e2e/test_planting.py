"""
A local user in group mail plants files in the spool directory before a
victim's login, as popsepd(8) (Mailboxes; Local users and the network)
says it is defended against; judged from outside only: the replies, the
log, and the bytes and metadata of the files.

The spool is of the usual kinds, root:mail mode 2775 (Debian's: no
sticky bit, so the kernel's protected_symlinks does not help and a
mail-group member may rename anyone's files) and 1777; the planter is a
system user in group mail,
working in a forked child with its own uid, gid and groups.  Planted at
the victim's names:

- the mailbox: a symbolic link to another user's mailbox, to /etc/shadow
  and to a name outside the spool that does not exist; a hard link of
  another user's mailbox; a FIFO: the login is refused with a clear -ERR;
- the dot-lock MAILBOX.lock: a symbolic link to a name outside the spool:
  it holds the lock (only a regular file is judged stale), so the login
  is refused with [IN-USE] after the retries;
- the update journal .USER.popsep-journal: a symbolic link to another
  user's mailbox, a dangling one, a FIFO: set aside, the login served;
- in temp-drop mode, the drop .USER.pop: a symbolic link to another
  user's mailbox, a hard link of it, a FIFO: the login is refused with
  [SYS/TEMP] the temp drop is not safe to open, and the spool keeps its
  mail.

Each time: a reply comes before the client's timeout (no hang on a
FIFO), every link's target keeps its bytes, owner and mode, no file is
created outside the spool, the reply holds none of the target's bytes,
and the log says why.  Last, while a victim session is open the planter
renames the mailbox away and puts a symbolic link to another user's
mailbox in its place (in the 2775 spool; the sticky bit of 1777 forbids
the rename): DELE and QUIT must not write through the link, and the mail
stays in the file the session opened.
"""

import grp
import hashlib
import os
import pwd
import socket
import stat
import traceback

import popseptest as P

t = P.Test("planting")
P.need_root()

PLANTER = "popsep-e2e-plant"
VICTIM, VPASS, VUID = "victim", "v-pass", 47321
OTHER, OPASS, OUID = "other", "o-pass", 47322
REPLY_WAIT = 20          # seconds a client waits for any reply


def snapshot(path):
    st = os.lstat(path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return (digest, stat.S_IMODE(st.st_mode), stat.S_IFMT(st.st_mode),
            st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns)


def remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def make_planter():
    P.delete_system_user(PLANTER)
    P.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin",
           "-G", "mail", PLANTER], check=True)
    t.cleanup(P.delete_system_user, PLANTER)
    return pwd.getpwnam(PLANTER)


def as_planter(pw, fn):
    """Run fn() as the planter (its uid, gid, and group mail); True if it
    did what it meant to."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([grp.getgrnam("mail").gr_gid])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            fn()
            os._exit(0)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def attempt(srv):
    """USER and PASS of the victim: (PASS reply, connection) or raises on
    a hang (socket.timeout) or a closed connection."""
    c = srv.connect(timeout=REPLY_WAIT)
    r = c.cmd("USER " + VICTIM)
    if not r.startswith(b"+OK"):
        raise RuntimeError("USER: %r" % r)
    return c.cmd("PASS " + VPASS), c


def login_refused(srv, name, want, log_want, targets, absent=()):
    """The victim's login gets -ERR with `want` in it, in time; the log
    says `log_want`; targets keep their snapshot, absent names stay
    absent."""
    before = {p: snapshot(p) for p in targets}
    mark = srv.log_mark()
    try:
        r, c = attempt(srv)
        c.close()
    except socket.timeout:
        t.fail(name + "-reply-in-time", "no reply in %d s" % REPLY_WAIT)
        r = b""
    except Exception as e:
        t.fail(name + "-reply", "%s\n%s" % (e, srv.log_since(mark)))
        r = b""
    t.check(r.startswith(b"-ERR") and want in r, name + "-refused", r)
    for p in targets:
        t.eq(snapshot(p), before[p], name + "-target-unchanged-" +
             os.path.basename(p))
        with open(p, "rb") as f:
            data = f.read()
        t.check(not data or data[:40] not in r, name + "-target-not-sent")
    for p in absent:
        t.check(not os.path.lexists(p), name + "-nothing-created-outside",
                p)
    t.check(P.wait_for(lambda: log_want in srv.log_since(mark), 5),
            name + "-logged", srv.log_since(mark)[-1500:])
    return r


def login_served(srv, name, log_want, targets, absent=()):
    before = {p: snapshot(p) for p in targets}
    mark = srv.log_mark()
    r = b""
    try:
        r, c = attempt(srv)
        if r.startswith(b"+OK"):
            c.cmd("QUIT")
        c.close()
    except socket.timeout:
        t.fail(name + "-reply-in-time", "no reply in %d s" % REPLY_WAIT)
    except Exception as e:
        t.fail(name + "-reply", "%s\n%s" % (e, srv.log_since(mark)))
    t.check(r.startswith(b"+OK"), name + "-served", r)
    for p in targets:
        t.eq(snapshot(p), before[p], name + "-target-unchanged-" +
             os.path.basename(p))
    for p in absent:
        t.check(not os.path.lexists(p), name + "-nothing-created-outside",
                p)
    t.check(P.wait_for(lambda: log_want in srv.log_since(mark), 5),
            name + "-logged", srv.log_since(mark)[-1500:])


def server(server_mode, mode):
    srv = P.Server(t, "planting", tls=False, cleartext="always",
                   options={"server-mode": server_mode,
                            "cache-dir": "none"})
    mail = grp.getgrnam("mail").gr_gid
    os.chown(srv.spool, 0, mail)
    os.chmod(srv.spool, mode)
    outside = os.path.join(srv.dir, "outside")
    os.mkdir(outside, 0o755)
    srv.add_virtual_user(VICTIM, VPASS, uid=VUID, gid=VUID)
    srv.add_virtual_user(OTHER, OPASS, uid=OUID, gid=OUID)
    other = srv.mbox(OTHER, [P.message(1, b"other's", b"private mail\n")])
    # As a delivery agent leaves it in a set-group-id spool.
    os.chown(other.path, OUID, mail)
    os.chmod(other.path, 0o660)
    srv.start()
    return srv, outside, other.path


def victim_mail(srv, n=2):
    return srv.mbox(VICTIM, [P.message(i + 1, b"victim %d" % (i + 1),
                                       b"body %d\n" % (i + 1))
                             for i in range(n)])


def server_mode_cases(pw, mode):
    srv, outside, other = server(True, mode)
    box = os.path.join(srv.spool, VICTIM)
    lock = box + ".lock"
    journal = os.path.join(srv.spool, "." + VICTIM + ".popsep-journal")
    nowhere = os.path.join(outside, "created")

    # The mailbox.
    for name, target in (("mailbox-symlink-other", other),
                         ("mailbox-symlink-shadow", "/etc/shadow"),
                         ("mailbox-symlink-dangling", nowhere)):
        remove(box)
        t.check(as_planter(pw, lambda: os.symlink(target, box)),
                name + "-planted")
        login_refused(srv, name, b"mailbox is a symbolic link",
                      "Too many levels of symbolic links",
                      [target] if os.path.exists(target) else [],
                      [nowhere])
        t.check(os.path.islink(box), name + "-link-left-alone")
    remove(box)
    t.check(as_planter(pw, lambda: os.link(other, box)),
            "mailbox-hardlink-planted")
    login_refused(srv, "mailbox-hardlink", b"mailbox is not safe to open",
                  "not a regular file with one link", [other])
    remove(box)
    t.eq(os.stat(other).st_nlink, 1, "mailbox-hardlink-other-one-link")
    t.check(as_planter(pw, lambda: os.mkfifo(box, 0o666)),
            "mailbox-fifo-planted")
    login_refused(srv, "mailbox-fifo", b"mailbox is not safe to open",
                  "not a regular file with one link", [])
    remove(box)

    # The dot-lock: a link holds it; the login gives up after the retries.
    mbox = victim_mail(srv)
    t.check(as_planter(pw, lambda: os.symlink(nowhere, lock)),
            "dotlock-symlink-planted")
    login_refused(srv, "dotlock-symlink", b"[IN-USE]",
                  "is not a regular file", [other], [nowhere])
    t.check(os.path.islink(lock) and os.readlink(lock) == nowhere,
            "dotlock-symlink-left-alone")
    t.eq(mbox.read(), mbox.original, "dotlock-symlink-mailbox-unchanged")
    remove(lock)

    # The journal: set aside, the mailbox served as it is.
    for name, plant, target in (
            ("journal-symlink-other", lambda: os.symlink(other, journal),
             other),
            ("journal-symlink-dangling",
             lambda: os.symlink(nowhere, journal), None),
            ("journal-fifo", lambda: os.mkfifo(journal, 0o666), None)):
        t.check(as_planter(pw, plant), name + "-planted")
        login_served(srv, name, "set aside as", [target] if target else [],
                     [nowhere])
        t.check(not os.path.lexists(journal), name + "-name-freed")
        aside = [f for f in os.listdir(srv.spool)
                 if f.startswith("." + VICTIM + ".popsep-journal.bad-")]
        t.check(len(aside) == 1, name + "-set-aside", aside)
        for f in aside:
            remove(os.path.join(srv.spool, f))
        t.eq(mbox.read(), mbox.original, name + "-mailbox-unchanged")

    if mode & stat.S_ISVTX:
        t.skip("swap", "the sticky bit forbids renaming the mailbox")
        srv.check_log_clean("server-mode-log-clean")
        srv.stop()
        return

    # A session open while the mailbox is swapped for a link.
    before = snapshot(other)
    moved = box + ".moved"
    c = srv.login(VICTIM, tls=False)
    t.check(as_planter(pw, lambda: (os.rename(box, moved),
                                    os.symlink(other, box))),
            "swap-planted")
    r = c.cmd("DELE 1")
    t.check(r.startswith(b"+OK"), "swap-dele", r)
    try:
        q = c.cmd("QUIT")
    except Exception as e:
        q = repr(e).encode()
    c.close()
    t.check(q.startswith(b"+OK") or q.startswith(b"-ERR"), "swap-quit-reply",
            q)
    t.eq(snapshot(other), before, "swap-target-unchanged")
    t.check(os.path.islink(box) and os.readlink(box) == other,
            "swap-link-left-alone")
    with open(moved, "rb") as f:
        kept = f.read()
    # Message 2 is never lost; message 1 is gone only if QUIT said so.
    t.check(mbox.chunks[1] in kept, "swap-undeleted-mail-kept", kept)
    t.check(q.startswith(b"+OK") == (mbox.chunks[0] not in kept),
            "swap-update-as-replied", (q, kept))
    remove(box)
    remove(moved)
    srv.check_log_clean("server-mode-log-clean")
    srv.stop()


def temp_drop_cases(pw, mode):
    srv, outside, other = server(False, mode)
    drop = os.path.join(srv.spool, "." + VICTIM + ".pop")
    mbox = victim_mail(srv)
    for name, plant, log_want in (
            ("drop-symlink", lambda: os.symlink(other, drop),
             "a symbolic link; refusing it"),
            ("drop-hardlink", lambda: os.link(other, drop),
             "not a regular file with one link"),
            ("drop-fifo", lambda: os.mkfifo(drop, 0o666),
             "not a regular file with one link")):
        t.check(as_planter(pw, plant), name + "-planted")
        login_refused(srv, name, b"the temp drop is not safe to open",
                      log_want, [other])
        t.eq(mbox.read(), mbox.original, name + "-spool-keeps-its-mail")
        remove(drop)
    t.eq(os.stat(other).st_nlink, 1, "drop-other-one-link")
    ok, detail = srv.works(VICTIM, tls=False)
    t.check(ok, "drop-login-after-cleanup", detail)
    srv.check_log_clean("temp-drop-log-clean")
    srv.stop()


def main():
    pw = make_planter()
    for mode in (0o2775, 0o1777):
        t.prefix = "planting.%o" % mode
        t.run("server-mode", server_mode_cases, pw, mode)
        t.run("temp-drop", temp_drop_cases, pw, mode)


main()
t.done()
