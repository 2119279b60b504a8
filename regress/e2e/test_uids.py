"""
Unique ids stay the same, seen from a client's UIDL, across sessions,
updates and a change of spool mode, and update-status-headers writes what
Qpopper wrote:

- a message without X-UIDL keeps its id when an earlier message is
  deleted;
- of two messages with identical headers (ids "d" and "d.2"), the second
  keeps "d.2" when the first is deleted: the update writes its id into
  it as X-UIDL;
- the same mailbox gets the same ids in server mode and in temp-drop
  mode, so a site that switches does not make clients fetch again;
- with update-status-headers off (the default), a session with RETR and
  no DELE leaves the file as it was: same inode, size and mtime;
- with it on, the update marks retrieved messages "Status: RO" and gives
  every rewritten message its X-UIDL, and the ids do not change.
"""

import os

import popseptest as P

t = P.Test("uids")
P.need_root()

USER = "popsep-e2e-uids"
PASS = "u-pass"
SAME_HEADERS = P.message(7, b"same", b"")


def uidl(srv):
    c = srv.login(USER, tls=False)
    r, body = c.multi_cmd("UIDL")
    c.cmd("QUIT")
    c.closed()
    return [l.split(b" ", 1)[1] for l in body.split(b"\r\n") if l]


def session(srv, cmds):
    c = srv.login(USER, tls=False)
    for cmd in cmds:
        if cmd.startswith("RETR"):
            c.retr(int(cmd.split()[1]))
        else:
            c.cmd(cmd)
    r = c.cmd("QUIT")
    c.closed()
    P.wait_for(lambda: not os.path.exists(srv.users[USER][3] + ".lock"))
    return r


def messages():
    return [P.message(1, b"first", b"one\n"),
            SAME_HEADERS + b"copy A\n",
            SAME_HEADERS + b"copy B\n",
            P.message(4, b"fourth", b"four\n")]


def main():
    srv = P.Server(t, "uids", cleartext="always")
    path = srv.add_virtual_user(USER, PASS)
    srv.start()

    box = srv.mbox(USER, messages())
    ids = uidl(srv)
    t.eq(len(set(ids)), 4, "ids-unique")
    t.eq(ids[2], ids[1] + b".2", "identical-headers-suffixed")
    # Nothing deleted: nothing written, whatever was retrieved.
    st = os.stat(path)
    session(srv, ["RETR 1", "RETR 2", "TOP 3 0", "UIDL"])
    st2 = os.stat(path)
    t.check((st.st_ino, st.st_size, st.st_mtime_ns) ==
            (st2.st_ino, st2.st_size, st2.st_mtime_ns),
            "no-dele-writes-nothing")
    t.eq(uidl(srv), ids, "ids-same-next-session")

    # The first copy goes: the second keeps its id.
    t.check(session(srv, ["DELE 2"]).startswith(b"+OK"), "dele-copy-a")
    after = uidl(srv)
    t.eq(after, [ids[0], ids[2], ids[3]], "ids-kept-after-dele")
    t.check(b"X-UIDL: " + ids[2] in box.read(), "shared-id-written")
    # And an earlier message going does not change the later ones.
    session(srv, ["DELE 1"])
    t.eq(uidl(srv), [ids[2], ids[3]], "ids-kept-after-second-dele")
    srv.stop()

    # The same mailbox in both modes: the same ids.
    a = P.Server(t, "uids-server", cleartext="always")
    a.add_virtual_user(USER, PASS)
    a.start()
    a.mbox(USER, messages())
    in_place = uidl(a)
    a.stop()
    b = P.Server(t, "uids-drop", cleartext="always",
                 options={"server-mode": "false"})
    b.add_virtual_user(USER, PASS)
    b.start()
    b.mbox(USER, messages())
    t.eq(uidl(b), in_place, "same-ids-in-temp-drop-mode")
    t.eq(uidl(b), in_place, "same-ids-after-temp-drop-session")
    b.stop()

    # update-status-headers.
    c = P.Server(t, "uids-status", cleartext="always",
                 options={"update-status-headers": True})
    path = c.add_virtual_user(USER, PASS)
    c.start()
    box = c.mbox(USER, messages())
    before = uidl(c)
    session(c, ["RETR 2"])
    data = box.read()
    t.check(data != box.original, "status-rewritten")
    t.eq(uidl(c), before, "status-ids-unchanged")
    parts = data.split(P.FROM_LINE)[1:]
    t.eq(len(parts), 4, "status-all-kept")
    t.check(b"Status: RO\n" not in parts[0] and b"Status: RO\n" in parts[1]
            and b"Status: RO\n" not in parts[2], "status-only-retrieved",
            data[:2000])
    t.check(all(b"X-UIDL: " + before[i] + b"\n" in parts[i]
                for i in range(1, 4)), "status-x-uidl-written")
    # The bodies are untouched.
    t.check(parts[1].endswith(b"\n\ncopy A\n\n") and
            parts[3].endswith(b"\n\nfour\n\n"), "status-bodies-intact")
    # Marked once: a second RETR of the same message writes nothing more.
    st = os.stat(path)
    session(c, ["RETR 2"])
    t.eq(os.stat(path).st_size, st.st_size, "status-marked-once")
    c.check_log_clean()
    c.stop()


t.run("uids", main)
t.done()
