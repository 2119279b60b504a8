"""
The QUIT update is crash-safe.  The spool worker is killed (SIGKILL, by
strace's fault injection) on entry to each write, sync, truncate and close
it makes during the update, one run per crash point; mail is delivered
before QUIT and again after the crash.  Once the journal is named, the
session monitor completes the update at once with a new worker, so QUIT
is answered +OK with the update made; before, nothing was changed and
QUIT says so.  The mailbox must then hold exactly every message either
with the deleted ones removed or with all of them, followed by both new
mails: nothing undeleted is ever lost or damaged, whatever the instant of
the crash.  The recovery itself is killed too, at each of its writes: the
journal then stays, and the next login completes the update.
"""

import os
import pwd
import subprocess
import tempfile

import popseptest as P

t = P.Test("crash")
P.need_root()
if not P.have("strace"):
    t.skip("crash", "strace is not installed")
    t.done()

srv = P.Server(t, "crash", cleartext="always")
USER = "popsep-e2e-crash"
mbox_path = srv.add_virtual_user(USER, "c-pass")
JOURNAL = os.path.join(os.path.dirname(mbox_path),
                       "." + os.path.basename(mbox_path) + ".popsep-journal")


def body(n, size):
    line = b"message %d line of filler text for the crash test 0123456789\n" % n
    return line * (size // len(line) + 1)


# A small deleted message before big kept ones: moving them in place would
# overwrite their own beginning, which only the journal makes safe.
MSGS = [P.message(1, b"small kept", body(1, 1000)),
        P.message(2, b"small deleted", body(2, 2000)),
        P.message(3, b"big kept", body(3, 600000)),
        P.message(4, b"deleted", body(4, 1000)),
        P.message(5, b"kept", body(5, 300000))]
DELETED = (2, 4)
srv.start()
worker_uid = P.VIRT_UID


def spool_worker():
    for pid in P.descendants(srv.proc.pid):
        st = P.proc_status(pid)
        if st and P.ids(st, "Uid")[0] == worker_uid:
            return pid
    return None


def kill_at(pid, syscall, n, follow=False):
    """strace pid (and, with follow, the children it forks from now on) and
    kill it with SIGKILL on entry to its n-th call of syscall; returns the
    strace process once it is attached.  st.killed() says whether it
    killed one."""
    out = tempfile.NamedTemporaryFile(prefix="popsep-e2e-strace-",
                                      delete=False)
    out.close()
    st = subprocess.Popen(["strace", "-q"] + (["-f"] if follow else []) +
                          ["-p", str(pid), "-o", out.name, "-e",
                           "trace=%s" % syscall, "-e",
                           "inject=%s:signal=SIGKILL:when=%d" % (syscall, n)],
                          stderr=subprocess.DEVNULL)
    t.cleanup(os.unlink, out.name)

    def killed():
        with open(out.name, "rb") as f:
            return b"killed by SIGKILL" in f.read()
    st.killed = killed
    P.wait_for(lambda: (P.proc_status(pid) or {}).get("TracerPid", "0")
               == str(st.pid), 30)
    return st


def sessions_over():
    """Wait until no session monitor is left (the killed session's monitor
    has released the mailbox and exited)."""
    return P.wait_for(lambda: monitor_of(srv.port) is None, 30)


def quit_under(c, st):
    """QUIT on a session whose process strace may kill, then stop strace
    and wait until the session is gone; the QUIT reply, or b"" if the
    connection died first."""
    try:
        r = c.cmd("QUIT")
    except (EOFError, OSError):
        r = b""
    c.sock.close()
    st.terminate()
    st.wait()
    sessions_over()
    return r


def one_crash(syscall, n, deleted=DELETED, cut=False):
    """Returns True if the worker was killed at this point.  With cut, the
    last messages are deleted and no mail comes during the session: the
    update is a cut of the mailbox, without a journal."""
    sessions_over()
    mark = srv.log_mark()
    box = srv.mbox(USER, MSGS)
    original = box.read()
    c = srv.login(USER, tls=False)
    for d in deleted:
        c.cmd("DELE %d" % d)
    during = b"" if cut else P.deliver(mbox_path, P.message(
        10, b"during", b"new one\n"))
    st = kill_at(spool_worker(), syscall, n)
    r = quit_under(c, st)
    killed = st.killed()
    after_crash = box.read()
    after = P.deliver(mbox_path, P.message(11, b"after", b"new two\n"))
    # The next login finishes (or drops) the interrupted update.
    c = srv.login(USER, tls=False)
    r2 = c.cmd("QUIT")
    c.closed()
    got = box.read()
    keep = [i for i in range(len(MSGS)) if i + 1 not in deleted]
    applied = box.data(keep) + during + after
    untouched = original + during + after
    label = "%s%s-%d" % ("cut-" if cut else "", syscall, n)
    t.check(got in (applied, untouched),
            "%s-mailbox-whole" % label,
            "got %d bytes; applied %d, untouched %d" % (
                len(got), len(applied), len(untouched)))
    t.check(r2.startswith(b"+OK") and not os.path.exists(JOURNAL),
            "%s-journal-gone-after-next-login" % label, r2)
    # The reply says what happened: +OK the update is made, -ERR nothing.
    keep_crash = box.data(keep) + during
    if r.startswith(b"+OK"):
        t.eq(after_crash, keep_crash, "%s-quit-ok-update-made" % label)
    else:
        t.check(b"no messages were removed" in r and
                after_crash == original + during,
                "%s-quit-err-nothing-removed" % label,
                "%r\n%s" % (r, srv.log_since(mark)))
    return killed


def monitor_of(conn_port):
    """The session monitor serving our connection: a root child of the
    master whose child is the network child."""
    for pid in P.children(srv.proc.pid):
        st = P.proc_status(pid)
        if st and P.ids(st, "Uid")[0] == 0:
            return pid
    return None


# The update's 6th pwrite: after the journal's plan and first slot (4) and
# the first chunk put into place, so always after the journal is named.
MID_UPDATE = 6


def crash_in_recovery(n):
    """Crash mid-update (on the 6th pwrite), then crash the recovery the
    monitor starts at once, at its n-th pwrite: QUIT says the update will
    be completed, and the next login does it; the mailbox is whole."""
    sessions_over()
    box = srv.mbox(USER, MSGS)
    original = box.read()
    c = srv.login(USER, tls=False)
    for d in DELETED:
        c.cmd("DELE %d" % d)
    # The monitor's children from now on (the recovery worker) are traced
    # from their first instruction; the worker already running is not.
    st2 = kill_at(monitor_of(srv.port), "pwrite64", n, follow=True)
    r = quit_under(c, kill_at(spool_worker(), "pwrite64", MID_UPDATE))
    st2.terminate()
    st2.wait()
    killed = st2.killed()
    after = P.deliver(mbox_path, P.message(11, b"after", b"new two\n"))
    c = srv.login(USER, tls=False)
    c.cmd("QUIT")
    c.closed()
    got = box.read()
    keep = [i for i in range(len(MSGS)) if i + 1 not in DELETED]
    t.check(got in (box.data(keep) + after, original + after),
            "recovery-crash-%d-mailbox-whole" % n)
    t.check(not os.path.exists(JOURNAL),
            "recovery-crash-%d-journal-gone" % n)
    if killed:
        t.check(r.startswith(b"-ERR") and b"next login" in r,
                "recovery-crash-%d-quit-says-next-login" % n, r)
    return killed


def crashes():
    points = 0
    for syscall in ("pwrite64", "fdatasync", "ftruncate", "fsync", "close"):
        for n in range(1, 60):
            if not one_crash(syscall, n):
                break
            points += 1
    t.check(points >= 10, "crash-points-covered (%d)" % points)
    # The cut: before it nothing is removed; after it (killed at the sync
    # that follows) the update is made, and the reply must say so.
    cut_points = [(s, n) for s in ("ftruncate", "fsync") for n in (1, 2)
                  if one_crash(s, n, deleted=(4, 5), cut=True)]
    t.check(("ftruncate", 1) in cut_points and ("fsync", 1) in cut_points,
            "cut-crash-points-covered", cut_points)
    points = 0
    for n in range(1, 60):
        if not crash_in_recovery(n):
            break
        points += 1
    t.check(points >= 3, "recovery-crash-points-covered (%d)" % points)


def fill(d, spare):
    """Fill the file system of d but for spare bytes: room for the locks,
    not for the smallest journal window."""
    path = os.path.join(d, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096) > 0:
            pass
    except OSError:
        pass
    os.close(fd)
    os.truncate(path, max(0, os.path.getsize(path) - spare))


def disk_full():
    """A nearly full disk (a 1 MiB tmpfs holding a 700 KB mailbox): the
    update needs no room for the mailbox's tail, only for a journal of a
    few windows, and is made.  A full one: QUIT says nothing was removed,
    the cause is logged and the mailbox is unchanged."""
    d = os.path.join(srv.dir, "full")
    os.mkdir(d, 0o755)
    r = P.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755",
               "popsep-e2e-full", d])
    if r.returncode != 0:
        t.skip("disk-full", "cannot mount a tmpfs: %s" % r.stderr.decode())
        return
    try:
        user = "popsep-e2e-full"
        path = srv.add_virtual_user(user, "f-pass",
                                    mailbox=os.path.join(d, "box"))
        msgs = [P.message(1, b"one", body(1, 1000)),
                P.message(2, b"big", body(2, 700000))]
        box = srv.mbox(user, msgs)
        c = srv.login(user, tls=False)
        c.cmd("DELE 1")
        r = c.cmd("QUIT")
        c.closed()
        t.check(r.startswith(b"+OK"), "nearly-full-quit-ok", r)
        t.eq(box.read(), box.data([1]), "nearly-full-message-removed")
        t.check(not os.path.exists(os.path.join(d, ".box.popsep-journal")),
                "nearly-full-no-journal-left")

        sessions_over()
        box = srv.mbox(user, msgs)
        before = box.read()
        fill(d, 16384)
        mark = srv.log_mark()
        c = srv.login(user, tls=False)
        c.cmd("DELE 1")
        r = c.cmd("QUIT")
        c.closed()
        t.check(r.startswith(b"-ERR [SYS/TEMP] Mailbox update failed") and
                b"no messages were removed" in r, "disk-full-quit-says-so", r)
        t.check("No space left on device" in srv.log_since(mark),
                "disk-full-cause-logged")
        t.eq(box.read(), before, "disk-full-mailbox-unchanged")
        t.check(not os.path.exists(os.path.join(d, ".box.popsep-journal")),
                "disk-full-no-journal-left")
        ok, detail = srv.works(user)
        t.check(ok, "disk-full-next-login-works", detail)
    finally:
        # The last session's processes may still hold the mailbox open.
        sessions_over()
        if P.run(["umount", d]).returncode != 0:
            P.run(["umount", "-l", d])


def leftover_journals():
    """Journals nobody can use: an empty one (root's, as a monitor killed
    before handing it over could once leave) is removed and the login
    works; one written for another mailbox content is set aside (renamed
    .bad-TIME, logged) and never applied."""
    sessions_over()
    box = srv.mbox(USER, MSGS)
    P.write_file(JOURNAL, b"", 0, 0, 0o600)
    ok, detail = srv.works(USER)
    t.check(ok, "empty-root-journal-login-works", detail)
    t.check(not os.path.exists(JOURNAL), "empty-journal-removed")
    t.eq(box.read(), box.original, "empty-journal-mailbox-unchanged")
    # A real journal, then the mailbox replaced before the next login.
    sessions_over()
    c = srv.login(USER, tls=False)
    for d in DELETED:
        c.cmd("DELE %d" % d)
    # Both the worker and the recovery the monitor starts are killed.
    st2 = kill_at(monitor_of(srv.port), "pwrite64", 1, follow=True)
    quit_under(c, kill_at(spool_worker(), "pwrite64", MID_UPDATE))
    st2.terminate()
    st2.wait()
    if not os.path.exists(JOURNAL):
        t.fail("foreign-journal-setup", "no journal left by the crash")
        return
    other = srv.mbox(USER, [P.message(40, b"restored", b"from backup\n")])
    mark = srv.log_mark()
    ok, detail = srv.works(USER)
    t.check(ok, "foreign-journal-login-works", detail)
    t.eq(other.read(), other.original, "foreign-journal-not-applied")
    d = os.path.dirname(JOURNAL)
    aside = [f for f in os.listdir(d)
             if f.startswith(os.path.basename(JOURNAL) + ".bad-")]
    t.check(len(aside) == 1 and not os.path.exists(JOURNAL),
            "foreign-journal-set-aside", os.listdir(d))
    t.check("set aside" in srv.log_since(mark), "foreign-journal-logged")
    for f in aside:
        os.unlink(os.path.join(d, f))


t.run("crash", crashes)
t.run("leftover-journals", leftover_journals)
t.run("full", disk_full)
log = srv.read_log()
t.check("update journal" in log, "recovery-logged")
t.done()
