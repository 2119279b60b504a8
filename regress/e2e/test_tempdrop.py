"""
Temp-drop mode (Qpopper's default: `reset server-mode`, `temp-dir`) and
update-on-abort, judged from outside: the bytes of the spool and of the
drop, and the replies.

- At login the spool's mail moves to `.USER.pop` in temp-dir (owned by
  the user, mode 0600) and the spool is left empty, so mail delivered
  during the session goes to the spool at once.
- QUIT puts the kept messages back, followed by the new mail, in order;
  the drop is gone afterwards.
- A dropped connection puts every message back (nothing deleted), unless
  update-on-abort is set; the same option in server mode.
- A session killed while the mail is in the drop leaves it there; the
  next login merges it with the new mail: nothing lost, nothing twice,
  and the merge is logged.
- A drop that is not the user's own regular file refuses the login and
  is left alone; a spool that does not start with a separator is left
  untouched.
"""

import os
import signal
import stat

import popseptest as P

t = P.Test("tempdrop")
P.need_root()

USER = "popsep-e2e-drop"
PASS = "d-pass"


def msgs(n, tag=b"m"):
    return [P.message(i + 1, tag + b"%d" % (i + 1),
                      b"body of %s %d\n.\n..dots\nFrom inside\n" % (tag, i + 1))
            for i in range(n)]


def spool_worker(srv):
    for pid in P.descendants(srv.proc.pid):
        st = P.proc_status(pid)
        if st and P.ids(st, "Uid")[0] == P.VIRT_UID:
            return pid
    return None


def sessions_over(srv):
    return P.wait_for(lambda: not [
        p for p in P.children(srv.proc.pid)
        if (P.proc_status(p) or {}).get("Uid", "").split()[:1] == ["0"]], 20)


def main():
    srv = P.Server(t, "tempdrop", cleartext="always",
                   options={"server-mode": "false"})
    tmp = os.path.join(srv.dir, "drops")
    os.mkdir(tmp, 0o755)
    srv.options["temp-dir"] = tmp
    path = srv.add_virtual_user(USER, PASS)
    drop = os.path.join(tmp, "." + USER + ".pop")
    srv.start()

    # QUIT after DELE, with mail delivered during the session.
    box = srv.mbox(USER, msgs(5))
    c = srv.login(USER, tls=False)
    t.eq(os.path.getsize(path), 0, "spool-empty-during-session")
    st = os.lstat(drop)
    t.check(stat.S_ISREG(st.st_mode) and st.st_uid == P.VIRT_UID and
            stat.S_IMODE(st.st_mode) == 0o600, "drop-owned-by-user-0600",
            "%o uid %d" % (st.st_mode, st.st_uid))
    t.eq(open(drop, "rb").read(),
         box.original, "drop-holds-the-mail")
    new = P.deliver(path, P.message(50, b"during", b"new mail\n"))
    t.eq(c.cmd("STAT").split()[1], b"5", "stat-counts-the-drop")
    t.eq(c.retr(2)[1], box.expected(1), "retr-from-the-drop")
    c.cmd("DELE 2")
    c.cmd("DELE 4")
    r = c.cmd("QUIT")
    t.check(r.startswith(b"+OK"), "quit-ok", r)
    c.closed()
    sessions_over(srv)
    t.eq(open(path, "rb").read(), box.data([0, 2, 4]) + new,
         "quit-kept-then-new-mail")
    t.check(not os.path.lexists(drop), "drop-removed-after-quit")

    # A dropped connection deletes nothing and restores the spool.
    box = srv.mbox(USER, msgs(3))
    c = srv.login(USER, tls=False)
    c.cmd("DELE 1")
    c.close()
    sessions_over(srv)
    t.eq(open(path, "rb").read(), box.original, "hangup-restores-all")
    t.check(not os.path.lexists(drop), "drop-removed-after-hangup")

    # A session killed with the mail in the drop: merged at next login.
    box = srv.mbox(USER, msgs(4))
    mark = srv.log_mark()
    c = srv.login(USER, tls=False)
    c.cmd("DELE 1")
    for pid in P.descendants(srv.proc.pid):
        st = P.proc_status(pid) or {}
        if st.get("PPid") == str(srv.proc.pid) and \
                P.ids(st, "Uid")[0] == 0:
            os.kill(pid, signal.SIGKILL)        # the monitor: all go
    c.close()
    sessions_over(srv)
    t.eq(open(drop, "rb").read(), box.original, "killed-session-leaves-drop")
    new = P.deliver(path, P.message(60, b"after the kill", b"x\n"))
    c = srv.login(USER, tls=False)
    t.eq(c.cmd("STAT").split()[1], b"5", "merged-count")
    uidl = c.multi_cmd("UIDL")[1]
    t.eq(len(set(l.split()[1] for l in uidl.splitlines())), 5,
         "merged-uids-unique")
    r = c.cmd("QUIT")
    c.closed()
    sessions_over(srv)
    t.eq(open(path, "rb").read(), box.original + new, "merged-nothing-lost")
    t.check("merging the temp drop" in srv.log_since(mark), "merge-logged")

    # A drop that is not the user's: refused, left alone.
    P.write_file(drop, b"From x\n\nnot yours\n", 0, 0, 0o600)
    try:
        c = srv.connect(tls=False)
        c.cmd("USER " + USER)
        r = c.cmd("PASS " + PASS)
        t.check(r.startswith(b"-ERR [SYS/TEMP]"), "foreign-drop-refused", r)
        c.close()
        t.eq(open(drop, "rb").read(), b"From x\n\nnot yours\n",
             "foreign-drop-untouched")
    finally:
        os.unlink(drop)
    sessions_over(srv)

    # A spool that is not an mbox stays as it is.
    junk = b"this is not a mailbox\nFrom nobody\n"
    P.write_file(path, junk, P.VIRT_UID, P.VIRT_GID, 0o600)
    c = srv.connect(tls=False)
    c.cmd("USER " + USER)
    r = c.cmd("PASS " + PASS)
    t.check(r.startswith(b"-ERR [SYS/PERM] Unable to process From lines"),
            "junk-spool-refused", r)
    c.close()
    sessions_over(srv)
    t.eq(open(path, "rb").read(), junk, "junk-spool-untouched")
    srv.check_log_clean()
    srv.stop()


def abort():
    """update-on-abort: a dropped connection's deletions stand."""
    srv = P.Server(t, "abort", cleartext="always",
                   options={"update-on-abort": True})
    path = srv.add_virtual_user(USER, PASS)
    srv.start()
    box = srv.mbox(USER, msgs(3))
    c = srv.login(USER, tls=False)
    c.cmd("DELE 2")
    c.close()
    sessions_over(srv)
    t.eq(open(path, "rb").read(), box.data([0, 2]), "abort-update-applied")
    srv.stop()


def by_group():
    """group-server-mode: members are served in place even when
    server-mode is off; group-no-server-mode the other way round."""
    group = "popsep-e2e-srvmode"
    P.run(["groupdel", group])
    r = P.run(["groupadd", "-g", str(P.VIRT_GID), group])
    if r.returncode != 0:
        t.skip("by-group", "groupadd: %s" % r.stderr.decode().strip())
        return
    t.cleanup(P.run, ["groupdel", group])
    for name, opts, in_place in (
            ("group-server-mode", {"server-mode": "false",
                                   "group-server-mode": group}, True),
            ("group-no-server-mode", {"group-no-server-mode": group},
             False)):
        srv = P.Server(t, name, cleartext="always", options=opts)
        path = srv.add_virtual_user(USER, PASS)
        srv.start()
        box = srv.mbox(USER, msgs(2))
        c = srv.login(USER, tls=False)
        t.eq(os.path.getsize(path) == len(box.original), in_place,
             name + "-mode")
        c.cmd("QUIT")
        c.closed()
        sessions_over(srv)
        t.eq(open(path, "rb").read(), box.original, name + "-mail-kept")
        srv.stop()


def switch_to_server_mode():
    """A drop left by a killed temp-drop session, then the site switches
    to server mode: the next login merges it and puts all the mail back in
    the spool, and the drop is gone."""
    srv = P.Server(t, "switch", cleartext="always",
                   options={"server-mode": "false"})
    path = srv.add_virtual_user(USER, PASS)
    drop = os.path.join(os.path.dirname(path), "." + USER + ".pop")
    srv.start()
    box = srv.mbox(USER, msgs(3))
    c = srv.login(USER, tls=False)
    for pid in P.descendants(srv.proc.pid):
        st = P.proc_status(pid) or {}
        if st.get("PPid") == str(srv.proc.pid) and \
                P.ids(st, "Uid")[0] == 0:
            os.kill(pid, signal.SIGKILL)
    c.close()
    sessions_over(srv)
    srv.stop()
    t.eq(open(drop, "rb").read(), box.original, "switch-drop-left")
    srv.options["server-mode"] = "true"
    new = P.deliver(path, P.message(70, b"new", b"y\n"))
    srv.start()
    mark = srv.log_mark()
    c = srv.login(USER, tls=False)
    t.eq(c.cmd("STAT").split()[1], b"4", "switch-merged-count")
    c.cmd("QUIT")
    c.closed()
    sessions_over(srv)
    t.eq(open(path, "rb").read(), box.original + new, "switch-all-in-spool")
    t.check(not os.path.lexists(drop), "switch-drop-gone")
    t.check("found the temp drop" in srv.log_since(mark), "switch-logged")
    srv.stop()


t.run("tempdrop", main)
t.run("switch", switch_to_server_mode)
t.run("by-group", by_group)
t.run("abort", abort)
t.done()
