"""
Qpopper's logging and logging options, through the real daemon: the -s
statistics line, reverse-lookups (a confirmed name in the Stats line),
"Possible probe of user account", "Unknown command", the tracefile (debug
lines of every process, the network child's included, and never a
password), and home-dir-mail (a PAM user's mailbox in the home directory,
locked next to it).
"""

import os
import pwd
import re
import shutil
import tempfile

import popseptest as P

t = P.Test("logs")
P.need_root()

P.create_system_user(t)               # the PAM user of created_mailboxes
HOMER = "popsep-e2e-homer"
HOMER_PW = "h0mer-pass"
P.create_system_user(t, HOMER, HOMER_PW, groups=())
home = tempfile.mkdtemp(prefix="popsep-e2e-home-", dir="/tmp")
os.chmod(home, 0o755)
t.cleanup(shutil.rmtree, home, True)
P.run(["usermod", "-d", home, HOMER], check=True)
pw = pwd.getpwnam(HOMER)
os.chown(home, pw.pw_uid, pw.pw_gid)

srv = P.Server(t, "logs", cleartext="always", options={
    "home-dir-mail": "Mailbox",
    "reverse-lookups": True,
    "tracefile": None})
TRACE = os.path.join(srv.dir, "trace.log")
srv.options["tracefile"] = TRACE
VIRT = "popsep-e2e-logs"
srv.add_virtual_user(VIRT, "v-pass")
msgs = [P.message(1, b"one", b"first\n"), P.message(2, b"two", b"second\n")]
box = srv.mbox(VIRT, msgs)
# The PAM user's mailbox is in the home directory (home-dir-mail).
homebox = P.Mbox(os.path.join(home, "Mailbox"), msgs, pw.pw_uid, pw.pw_gid)
srv.start(args=("-d", "-s"))


def stats_line():
    c = srv.login(VIRT, tls=False)
    t.check(c.cmd("DELE 1").startswith(b"+OK"), "dele")
    t.check(c.cmd("QUIT").startswith(b"+OK"), "quit")
    c.closed()
    size1 = len(P.wire(msgs[0]))
    size2 = len(P.wire(msgs[1]))
    want = "Stats: %s 1 %d 1 %d localhost 127.0.0.1" % (VIRT, size1, size2)
    found = P.wait_for(lambda: want in srv.read_log(), 5)
    t.check(found, "qpopper-stats-line-with-confirmed-name", srv.read_log()[-1500:])


def probe_and_unknown():
    c = srv.connect(tls=False)
    c.cmd("XSENDER")
    c.cmd("USER " + VIRT)
    c.cmd("QUIT")
    c.closed()
    # The network child logs through the monitor, after its reply.
    t.check(P.wait_for(lambda: 'Unknown command: "xsender".' in
                       srv.read_log(), 5), "unknown-command-logged")
    t.check(P.wait_for(lambda: 'Possible probe of account %s from host '
                       'localhost (127.0.0.1)' % VIRT in srv.read_log(), 5),
            "possible-probe-logged")
    c = srv.connect(tls=False)
    c.cmd("USER " + VIRT)
    c.cmd("PASS wrong")
    c.cmd("QUIT")
    c.closed()
    t.check(P.wait_for(lambda: "[AUTH] Failed attempted login to %s from "
                       "host (localhost) 127.0.0.1" % VIRT in srv.read_log(),
                       5), "qpopper-failed-login-line")
    c = srv.connect(tls=False)
    c.drop()
    t.check(P.wait_for(lambda: re.search(
        r"(-ERR POP EOF or I/O Error|POP hangup) from localhost "
        r"\(127\.0\.0\.1\)", srv.read_log()), 5), "qpopper-eof-line")


def tracefile():
    c = srv.login(VIRT, tls=False, password="v-pass")
    c.cmd("QUIT")
    c.closed()
    P.wait_for(lambda: os.path.exists(TRACE) and
               "session ended" in open(TRACE).read(), 5)
    tr = open(TRACE).read() if os.path.exists(TRACE) else ""
    t.check(re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d popsepd\[\d+\]: "
                      r"monitor [0-9a-f]{16}: session ended$", tr, re.M)
            is not None, "tracefile-has-debug-lines", tr[-800:])
    t.check("session ended" not in srv.read_log(),
            "debug-lines-only-in-the-tracefile")
    t.check(re.search(r"net [0-9a-f]{16}: ", tr) is not None,
            "tracefile-has-network-child-lines")
    t.check("v-pass" not in tr and HOMER_PW not in tr,
            "no-password-in-the-tracefile")
    t.eq(os.stat(TRACE).st_mode & 0o777, 0o600, "tracefile-mode-0600")


def home_dir_mail():
    c = srv.login(HOMER, tls=False, password=HOMER_PW)
    r, body = c.retr(2)
    t.eq(body, homebox.expected(1), "home-dir-mail-retr")
    t.check(not os.path.exists(os.path.join(home, "Mailbox.lock")),
            "no-lock-while-session-idle")
    c.cmd("DELE 1")
    t.check(c.cmd("QUIT").startswith(b"+OK"), "home-dir-mail-quit")
    c.closed()
    t.eq(homebox.read(), homebox.data(keep=[1]),
         "home-dir-mail-updated-in-place")
    t.check(not os.path.exists(os.path.join(home, "Mailbox.lock")),
            "home-dir-lock-removed")


def created_mailboxes():
    """A missing mailbox is created empty: USER:mail 0660 in a set-group-id
    spool directory (Debian's /var/mail), the user's group and 0600
    elsewhere."""
    import grp
    c2 = P.Server(t, "create", cleartext="always")
    os.chown(c2.spool, 0, grp.getgrnam("mail").gr_gid)
    os.chmod(c2.spool, 0o2775)
    alice = c2.add_system_user(P.SYS_USER, P.SYS_PASS)
    other = os.path.join(c2.dir, "virt")
    os.mkdir(other, 0o755)
    c2.add_virtual_user("popsep-e2e-new", "n-pass",
                        mailbox=os.path.join(other, "box"))
    c2.start()
    for user, path, gid, mode in (
            (P.SYS_USER, alice, grp.getgrnam("mail").gr_gid, 0o660),
            ("popsep-e2e-new", os.path.join(other, "box"), P.VIRT_GID,
             0o600)):
        c = c2.login(user, tls=False)
        t.eq(c.cmd("STAT"), b"+OK 0 0", "created-%s-empty" % user)
        c.cmd("QUIT")
        c.closed()
        st = os.lstat(path)
        t.eq((st.st_uid == c2.users[user][1], st.st_gid, st.st_mode & 0o7777),
             (True, gid, mode), "created-%s-owner-group-mode" % user)
    c2.check_log_clean("create-no-sandbox-violations")
    c2.stop()


def session_lines():
    """The end-of-session line for every session, however it ends, and
    the same as JSON in the session-json file."""
    import json
    s2 = P.Server(t, "sessend", options={"statistics": False})
    jpath = os.path.join(s2.dir, "sessions.json")
    s2.options["session-json"] = jpath
    user = "popsep-e2e-sess"
    s2.add_virtual_user(user, "s-pass")
    m = [P.message(1, b"one", b"first\n"), P.message(2, b"two", b"x" * 500)]
    s2.mbox(user, m)
    s2.start()
    c = s2.login(user, tls=True)
    r, body = c.retr(2)
    c.multi_cmd("TOP 1 0")
    c.cmd("DELE 1")
    c.cmd("QUIT")
    c.closed()
    size1, size2 = len(P.wire(m[0])), len(P.wire(m[1]))
    pat = (r"Disconnected: quit user=<%s> mech=passwd-file rip=127\.0\.0\.1 "
           r"pip=none "
           r"tls=TLSv1\.[23]/\S+ retr=1/%d top=1/\d+ dele=1/%d left=1/%d "
           r"lock_wait=\d+ms update=\d+ms" % (user, len(body) + 0, size1,
                                             size2))
    t.check(P.wait_for(lambda: re.search(pat, s2.read_log()), 5),
            "session-line-after-quit", s2.read_log()[-1500:])
    c = s2.login(user, tls=False, stls=True)
    c.drop()
    t.check(P.wait_for(lambda: re.search(
        r"Disconnected: dropped user=<%s> mech=passwd-file .* dele=0/0 "
        r"left=1/%d" % (user, size2), s2.read_log()), 5),
        "session-line-after-drop")
    c = s2.connect()
    c.cmd("QUIT")
    c.closed()
    t.check(P.wait_for(lambda: re.search(
        r"Disconnected: no-login user=<> mech=none rip=127\.0\.0\.1 pip=none "
        r"tls=none", s2.read_log()), 5), "session-line-without-login")
    P.wait_for(lambda: os.path.exists(jpath) and
               len(open(jpath).read().splitlines()) >= 3, 5)
    lines = open(jpath).read().splitlines() if os.path.exists(jpath) else []
    try:
        objs = [json.loads(ln) for ln in lines]
    except ValueError:
        objs = []
    t.check(len(objs) == 3 and [o["reason"] for o in objs] ==
            ["quit", "dropped", "no-login"] and objs[0]["retr"] == 1 and
            objs[0]["dele_bytes"] == size1 and objs[0]["user"] == user,
            "session-json-file", lines)
    t.check("s-pass" not in s2.read_log() and "s-pass" not in
            "".join(lines), "no-password-in-session-lines")


t.run("session-lines", session_lines)
t.run("stats", stats_line)
t.run("create", created_mailboxes)
t.run("probe", probe_and_unknown)
t.run("trace", tracefile)
t.run("home", home_dir_mail)
srv.check_log_clean("no-sandbox-violations")
t.done()
