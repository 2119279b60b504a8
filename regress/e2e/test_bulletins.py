"""
Bulletins (Qpopper's bulldir, -b, max-bulletins, ~/.popbull): a new
bulletin appears once per user, as an extra message at login.

- A user seen for the first time gets only the max-bulletins newest.
- A later login gets nothing again; a bulletin added later arrives once.
- A bulletin file without a From_ line gets one; links, directories and
  files not named NUMBER[.anything] are not bulletins.
- The state is ~/.popbull for a system user (Qpopper's file, owned by the
  user) and .NAME.popbull next to the mailbox for a passwd-file user; a
  state file that is a symbolic link is never followed.
- Bulletins are appended like delivered mail: the mail already there is
  unchanged, and a bulletin can be deleted like any message.
"""

import os
import pwd
import shutil
import stat

import popseptest as P

t = P.Test("bulletins")
P.need_root()

USER = "popsep-e2e-bull"
PASS = "b-pass"
SYS = "popsep-e2e-bullsys"
SYSPASS = "Bull-sys pass"


def bulletin(n, with_from=True):
    text = (b"From: Postmaster <postmaster@example.org>\n"
            b"Subject: bulletin %d\n\nThis is bulletin number %d.\n" % (n, n))
    return (P.FROM_LINE + text) if with_from else text


def messages_of(srv, user):
    c = srv.login(user, tls=False)
    n = int(c.cmd("STAT").split()[1])
    out = [c.retr(i + 1)[1] for i in range(n)]
    c.cmd("QUIT")
    c.closed()
    P.wait_for(lambda: not os.path.exists(srv.users[user][3] + ".lock"))
    return out


def main():
    srv = P.Server(t, "bulletins", cleartext="always")
    bdir = os.path.join(srv.dir, "bulls")
    os.mkdir(bdir, 0o755)
    P.write_file(os.path.join(bdir, "1.welcome"), bulletin(1), 0, 0, 0o644)
    P.write_file(os.path.join(bdir, "2.outage"), bulletin(2, False), 0, 0,
                 0o644)
    P.write_file(os.path.join(bdir, "README"), b"not a bulletin\n", 0, 0,
                 0o644)
    os.symlink("/etc/passwd", os.path.join(bdir, "7.link"))
    os.mkdir(os.path.join(bdir, "8.dir"))
    srv.options["bulldir"] = bdir
    path = srv.add_virtual_user(USER, PASS)
    state = os.path.join(os.path.dirname(path), "." + USER + ".popbull")
    srv.start()
    box = srv.mbox(USER, [P.message(1, b"mail", b"real mail\n")])

    got = messages_of(srv, USER)
    t.eq(len(got), 2, "new-user-gets-max-bulletins-newest")
    t.check(b"bulletin number 2" in got[1], "newest-bulletin", got[-1:])
    t.check(open(path, "rb").read().startswith(box.original),
            "mail-before-unchanged")
    t.check(b"From popsep-bulletins@" in open(path, "rb").read(),
            "from-line-added")
    st = os.lstat(state)
    t.check(stat.S_ISREG(st.st_mode) and st.st_uid == P.VIRT_UID,
            "state-owned-by-user")
    t.eq(open(state, "rb").read(), b"2\n", "state-number")
    t.eq(len(messages_of(srv, USER)), 2, "no-bulletin-twice")

    P.write_file(os.path.join(bdir, "5.later"), bulletin(5), 0, 0, 0o644)
    got = messages_of(srv, USER)
    t.eq(len(got), 3, "later-bulletin-arrives")
    t.check(b"bulletin number 5" in got[2], "later-bulletin-content")
    t.eq(len(messages_of(srv, USER)), 3, "later-bulletin-once")

    # Deleted like any message.
    c = srv.login(USER, tls=False)
    c.cmd("DELE 3")
    c.cmd("QUIT")
    c.closed()
    t.eq(len(messages_of(srv, USER)), 2, "bulletin-deleted")

    # A state file that is a link is not followed: the user counts as new.
    os.unlink(state)
    os.symlink("/etc/hostname", state)
    got = messages_of(srv, USER)
    t.eq(len(got), 3, "link-state-ignored")
    t.check(not os.path.islink(state) and
            open("/etc/hostname", "rb").read() != b"5\n",
            "link-state-replaced-not-followed")
    srv.stop()

    # max-bulletins = 10: a new user gets all of them, in order.
    srv2 = P.Server(t, "bulletins-all", cleartext="always",
                    options={"bulldir": bdir, "max-bulletins": "10"})
    srv2.add_virtual_user(USER, PASS)
    srv2.start()
    srv2.mbox(USER, [])
    got = messages_of(srv2, USER)
    t.eq([g.split(b"bulletin number ")[1][:1] for g in got],
         [b"1", b"2", b"5"], "all-in-order")
    srv2.stop()

    # A system user: ~/.popbull, as with Qpopper.
    uid, gid = P.create_system_user(t, SYS, SYSPASS, groups=())
    home = os.path.join(srv.dir, "home")
    os.mkdir(home, 0o755)
    os.chown(home, uid, gid)
    P.run(["usermod", "-d", home, SYS], check=True)
    P.write_file(os.path.join(home, ".popbull"), b"1\n", uid, gid, 0o644)
    srv3 = P.Server(t, "bulletins-sys", cleartext="always",
                    options={"bulldir": bdir})
    srv3.add_system_user(SYS, SYSPASS)
    srv3.start()
    srv3.mbox(SYS, [])
    got = messages_of(srv3, SYS)
    t.eq(len(got), 2, "popbull-honoured")
    t.eq(open(os.path.join(home, ".popbull"), "rb").read(), b"5\n",
         "popbull-updated")
    t.eq(os.lstat(os.path.join(home, ".popbull")).st_uid, uid,
         "popbull-owned-by-user")
    srv3.check_log_clean()
    srv3.stop()


t.run("bulletins", main)
t.done()
