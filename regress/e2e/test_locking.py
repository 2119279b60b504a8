#!/usr/bin/env python3
"""
Locking against a delivery agent: mail delivered during a session (under
MAILBOX.lock and an fcntl lock, as Debian's MDAs do) survives the QUIT
update byte for byte; a login while a delivery holds the dot-lock gets
-ERR [IN-USE] and leaves that lock alone; a QUIT waits for a delivery in
progress; a stale dot-lock is removed; no .lock is left after a session;
one session per mailbox; a local rewrite of the mailbox during a session
never makes its update remove the wrong message.
"""

import fcntl
import os
import subprocess
import re
import select
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import popseptest as P  # noqa: E402

P.need_root()
t = P.Test()

BOB, BOBPW = "popsep-e2e-bob", "bob-e2e pw"
ALICE = P.SYS_USER

P.create_system_user(t)
srv = P.Server(t)
srv.add_virtual_user(BOB, BOBPW)
srv.add_system_user(ALICE)
# Every message ends in a newline and the file in a separator, so that an
# appended From_ line starts a message (the MDA's job, not ours).
MSGS = P.varied_messages(big=False)[:-1]
N = len(MSGS)
srv.start()


def ended():
    return srv.read_log().count("session ended")


def wait_end(before):
    return P.wait_for(lambda: ended() > before, 10)


def fresh(user, messages=MSGS):
    return srv.mbox(user, messages)


def lock_gone(box, name):
    t.check(P.wait_for(lambda: not os.path.lexists(box.path + ".lock"), 3),
            name)


def new_message(n):
    return P.message(100 + n, b"delivered during the session",
                     b"New mail %d.\n.dot line\nFrom inside\n" % n)


def delivery_during_session(user):
    box = fresh(user)
    c = srv.login(user)
    lock_gone(box, "%s-no-lock-after-login" % user)
    new = new_message(1)
    chunk = P.deliver(box.path, new)
    t.eq(box.read(), box.original + chunk, "%s-delivered" % user)
    # The session keeps the mailbox it started with.
    t.eq(c.cmd("STAT"), b"+OK %d %d" % (N, sum(len(box.expected(i)) for i in range(N))),
         "%s-stat-unchanged-by-delivery" % user)
    r, body = c.retr(N)
    t.eq(body, box.expected(N - 1), "%s-retr-last-after-delivery" % user)
    t.check(c.cmd("DELE 1").startswith(b"+OK"), "%s-dele1" % user)
    before = ended()
    t.check(c.cmd("QUIT").startswith(b"+OK"), "%s-quit" % user)
    wait_end(before)
    t.eq(box.read(), box.data(range(1, N)) + chunk,
         "%s-update-keeps-delivered-mail" % user)
    lock_gone(box, "%s-no-lock-after-session" % user)
    # The next session sees the new message, intact.
    c = srv.login(user)
    t.eq(c.cmd("STAT")[:len(b"+OK %d " % N)], b"+OK %d " % N, "%s-next-session-count" % user)
    r, body = c.retr(N)
    t.eq(body, P.wire(new), "%s-delivered-message-intact" % user)
    c.cmd("QUIT")
    c.close()


def two_deliveries_delete_last():
    box = fresh(BOB)
    c = srv.login(BOB)
    ch1 = P.deliver(box.path, new_message(2))
    c.cmd("DELE %d" % N)                    # the last original message
    ch2 = P.deliver(box.path, new_message(3))
    c.cmd("DELE 3")
    before = ended()
    t.check(c.cmd("QUIT").startswith(b"+OK"), "two-deliveries-quit")
    wait_end(before)
    keep = [i for i in range(N) if i not in (2, N - 1)]
    t.eq(box.read(), box.data(keep) + ch1 + ch2, "two-deliveries-kept")
    lock_gone(box, "two-deliveries-no-lock")


def login_while_locked():
    box = fresh(BOB)
    lock = P.dotlock(box.path)
    st = os.stat(lock)
    with open(lock, "rb") as f:
        content = f.read()
    try:
        c = srv.connect(tls=True, timeout=60)
        c.cmd("USER " + BOB)
        r = c.cmd("PASS " + BOBPW)          # about LOCK_TRIES seconds
        t.check(r.startswith(b"-ERR [IN-USE]"), "login-while-locked-in-use", r)
        t.check(c.closed(5), "login-while-locked-closes")
        c.close()
        st2 = os.stat(lock)
        with open(lock, "rb") as f:
            content2 = f.read()
        t.check((st2.st_ino, st2.st_mtime_ns, st2.st_size) ==
                (st.st_ino, st.st_mtime_ns, st.st_size) and content2 == content,
                "lock-file-untouched", (st, st2, content, content2))
        t.eq(box.read(), box.original, "locked-mailbox-untouched")
    finally:
        os.unlink(lock)
    ok, r = srv.works(BOB)
    t.check(ok, "login-after-lock-removed", r)
    lock_gone(box, "no-lock-after-locked-test")


def dead_pid():
    """A pid that names no running process: a child that has exited."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def write_lock(box, content, age=0):
    path = box.path + ".lock"
    with open(path, "wb") as f:
        f.write(content)
    if age:
        old = time.time() - age
        os.utime(path, (old, old))
    return path


def stale_lock():
    """Debian's rules for a dot-lock someone left behind: one naming a
    process that is gone is stale at once; one naming no process (empty)
    is stale after a short grace; one naming a live process is never
    broken, however old."""
    box = fresh(BOB)
    write_lock(box, b"%d\n" % dead_pid())
    mark = srv.log_mark()
    start = time.time()
    ok, r = srv.works(BOB)
    t.check(ok, "stale-lock-dead-pid-login", r)
    t.check(time.time() - start < 5, "stale-lock-dead-pid-at-once")
    t.check("removed stale lock" in srv.log_since(mark) and
            "is gone" in srv.log_since(mark), "stale-lock-dead-pid-logged")
    lock_gone(box, "stale-lock-dead-pid-gone")

    write_lock(box, b"", age=60)
    mark = srv.log_mark()
    ok, r = srv.works(BOB)
    t.check(ok, "stale-lock-empty-login", r)
    t.check("names no process" in srv.log_since(mark),
            "stale-lock-empty-logged")
    lock_gone(box, "stale-lock-empty-gone")

    # Made just now: broken only after the grace, within the login's wait.
    write_lock(box, b"")
    ok, r = srv.works(BOB)
    t.check(ok, "stale-lock-fresh-empty-login", r)
    lock_gone(box, "stale-lock-fresh-empty-gone")

    path = write_lock(box, b"%d\n" % os.getpid(), age=3600)
    try:
        ok, r = srv.works(BOB)
        t.check(not ok and "[IN-USE]" in str(r), "live-lock-never-broken", r)
        t.check(os.path.exists(path), "live-lock-still-there")
    finally:
        os.unlink(path)


def lock_refresh():
    """mail-lock-check: while a long update runs, the dot-lock is touched
    so that it never looks stale by its age.  The spool worker is slowed
    (strace delays each frame it sends) while its update walks 300
    messages; the test makes the held lock an hour old, and it must become
    fresh again before the update ends."""
    if not P.have("strace"):
        t.skip("lock-refresh", "strace is not installed")
        return
    srv2 = P.Server(t, "refresh", cleartext="always",
                    options={"mail-lock-check": "1"})
    path = srv2.add_virtual_user(BOB, BOBPW)
    srv2.start()
    box = srv2.mbox(BOB, [P.message(i, b"m", b"x\n") for i in range(300)])
    c = srv2.login(BOB, tls=False)
    c.cmd("DELE 1")
    worker = [p for p in P.descendants(srv2.proc.pid)
              if P.uid_of(p) == P.VIRT_UID][0]
    st = subprocess.Popen(["strace", "-q", "-p", str(worker), "-o",
                           "/dev/null", "-e", "trace=sendmsg", "-e",
                           "inject=sendmsg:delay_enter=20000"],
                          stderr=subprocess.DEVNULL)
    try:
        P.wait_for(lambda: (P.proc_status(worker) or {}).get("TracerPid")
                   == str(st.pid), 30)
        c.send(b"QUIT\r\n")
        lock = path + ".lock"
        t.check(P.wait_for(lambda: os.path.exists(lock), 10),
                "refresh-lock-taken")
        old = time.time() - 3600
        try:
            os.utime(lock, (old, old))
        except FileNotFoundError:
            pass
        fresh_again = P.wait_for(
            lambda: os.path.exists(lock) and
            time.time() - os.stat(lock).st_mtime < 60, 20)
        t.check(fresh_again, "refresh-lock-touched-during-update")
        t.check(c.line().startswith(b"+OK"), "refresh-quit-ok")
    finally:
        st.terminate()
        st.wait()
    t.eq(box.read(), box.data(range(1, 300)), "refresh-update-done")
    srv2.stop()


def readable(sock, timeout):
    if hasattr(sock, "pending") and sock.pending():
        return True
    return bool(select.select([sock], [], [], timeout)[0])


def quit_waits_for_delivery():
    """QUIT while a delivery holds both locks: the update waits, then
    keeps the message the delivery appended."""
    box = fresh(BOB)
    c = srv.login(BOB)
    t.check(c.cmd("DELE 2").startswith(b"+OK"), "wait-dele2")
    lock = P.wait_for(lambda: _try_dotlock(box.path), 3)
    t.check(bool(lock), "wait-took-dotlock")
    fd = os.open(box.path, os.O_WRONLY | os.O_APPEND)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    before = ended()
    c.send("QUIT\r\n")
    early = readable(c.sock, 1.5) or bool(c.buf)
    t.check(not early, "quit-waits-while-locked")
    chunk = P.FROM_LINE + new_message(4) + b"\n"
    os.write(fd, chunk)
    fcntl.lockf(fd, fcntl.LOCK_UN)
    os.close(fd)
    os.unlink(lock)
    c.sock.settimeout(20)
    r = c.line()
    t.check(r.startswith(b"+OK"), "quit-after-delivery-ok", r)
    wait_end(before)
    keep = [i for i in range(N) if i != 1]
    t.eq(box.read(), box.data(keep) + chunk, "quit-after-delivery-kept")
    lock_gone(box, "quit-after-delivery-no-lock")


def _try_dotlock(path):
    try:
        return P.dotlock(path)
    except FileExistsError:
        return None


def fcntl_held_at_login():
    """A delivery holding only the fcntl lock: the login waits for it."""
    box = fresh(BOB)
    fd = os.open(box.path, os.O_WRONLY | os.O_APPEND)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    released = False
    try:
        c = srv.connect(tls=True, timeout=30)
        c.cmd("USER " + BOB)
        c.send("PASS %s\r\n" % BOBPW)
        early = readable(c.sock, 1.5) or bool(c.buf)
        t.check(not early, "login-waits-for-fcntl-lock")
        t.check(os.path.exists(box.path + ".lock"), "dotlock-taken-while-waiting")
        fcntl.lockf(fd, fcntl.LOCK_UN)
        released = True
        r = c.line()
        t.check(r.startswith(b"+OK"), "login-after-fcntl-released", r)
        lock_gone(box, "fcntl-no-lock-after-login")
        c.cmd("QUIT")
        c.close()
    finally:
        if not released:
            fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)


def one_session_per_mailbox():
    """A second session of the same mailbox is refused with [IN-USE]
    while the first is open; another user's is not; the claim ends with
    the session, whether it QUITs or drops."""
    box = fresh(BOB)
    fresh(ALICE)
    a = srv.login(BOB)
    c = srv.connect(tls=True)
    c.cmd("USER " + BOB)
    r = c.cmd("PASS " + BOBPW)
    t.check(r.startswith(b"-ERR [IN-USE]"), "second-session-in-use", r)
    c.close()
    ok, r = srv.works(ALICE)
    t.check(ok, "other-user-meanwhile", r)
    t.check(a.cmd("STAT").startswith(b"+OK %d " % N), "first-session-unaffected")
    t.check(a.cmd("DELE 1").startswith(b"+OK"), "first-session-dele")
    before = ended()
    t.check(a.cmd("QUIT").startswith(b"+OK"), "first-session-quit")
    wait_end(before)
    t.eq(box.read(), box.data(range(1, N)), "first-session-update")
    lock_gone(box, "first-session-no-lock")
    b = srv.login(BOB)
    before = ended()
    b.drop()
    wait_end(before)
    ok, r = srv.works(BOB)
    t.check(ok, "login-after-dropped-session", r)


def rewrite_in_place(path, data):
    """What a local mail reader does: rewrite the mbox under the locks."""
    lock = P.wait_for(lambda: _try_dotlock(path), 5)
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
        os.fsync(fd)
        fcntl.lockf(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
        if lock:
            os.unlink(lock)


def rewrite_and_delivery():
    """During a session, a local mail reader removes message 1 and then a
    message of the same size is delivered: the mailbox is as long as the
    session parsed it, and a From_ line starts at each of its old offsets.
    The session's DELE 2 + QUIT must remove only its message 2, or
    nothing; never a message nobody deleted."""
    msgs = [P.message(n, b"same size", b"body %d\n" % n) for n in range(1, 5)]
    box = fresh(BOB, msgs)
    t.check(len(set(map(len, box.chunks))) == 1, "equal-size-messages")
    c = srv.login(BOB)
    t.check(c.cmd("DELE 2").startswith(b"+OK"), "race-dele2")
    rewrite_in_place(box.path, box.data([1, 2, 3]))
    new = P.deliver(box.path, P.message(5, b"same size", b"body 5\n"))
    t.eq(len(new), len(box.chunks[0]), "race-delivery-same-size")
    before = ended()
    r = c.cmd("QUIT")
    wait_end(before)
    data = box.read()
    refused = box.data([1, 2, 3]) + new
    applied = box.data([2, 3]) + new
    t.check((r.startswith(b"+OK") and data == applied) or
            (r.startswith(b"-ERR") and data == refused),
            "update-after-rewrite-and-delivery-loses-nothing",
            "QUIT: %r; X-Test-Ids left: %r (want %r, or %r if refused)" % (
                r, re.findall(rb"X-Test-Id: (\d+)", data),
                re.findall(rb"X-Test-Id: (\d+)", applied),
                re.findall(rb"X-Test-Id: (\d+)", refused)))
    lock_gone(box, "race-no-lock")


for name, fn, args in (
        ("delivery-virtual", delivery_during_session, (BOB,)),
        ("delivery-pam", delivery_during_session, (ALICE,)),
        ("two-deliveries", two_deliveries_delete_last, ()),
        ("quit-waits", quit_waits_for_delivery, ()),
        ("fcntl-at-login", fcntl_held_at_login, ()),
        ("stale-lock", stale_lock, ()),
        ("lock-refresh", lock_refresh, ()),
        ("one-session", one_session_per_mailbox, ()),
        ("rewrite-and-delivery", rewrite_and_delivery, ()),
        ("login-while-locked", login_while_locked, ())):
    t.run(name, fn, *args)
srv.check_log_clean()
t.check(srv.alive(), "daemon-alive")
t.done()
