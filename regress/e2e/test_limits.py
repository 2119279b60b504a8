"""
max-sessions: with two sessions allowed, a third connection gets
"-ERR [SYS/TEMP] Too many sessions" and is closed, and once a session ends
a new one is served.  A key process replaced by SIGHUP is not counted as
a session when it exits: it serves a session begun before the reload and
leaves with it, and the count must still be exact afterwards.
"""

import os
import signal

import popseptest as P

t = P.Test("limits")
P.need_root()

srv = P.Server(t, "limits", cleartext="always",
               options={"max-sessions": "2"})
USERS = ["popsep-e2e-limits%d" % i for i in range(4)]
for u in USERS:
    srv.add_virtual_user(u, "l-pass")
    srv.mbox(u, [P.message(1, b"one", b"x\n")])
srv.start()

BUSY = b"-ERR [SYS/TEMP] Too many sessions, try again later"


def tls_session(user):
    c = srv.login(user, tls=True)     # TLS: it holds a key-process channel
    t.check(c.cmd("STAT").startswith(b"+OK"), "session-%s" % user)
    return c


def end(c):
    c.cmd("QUIT")
    c.closed()


def limits():
    a = tls_session(USERS[0])
    b = tls_session(USERS[1])
    c = srv.connect(tls=False)
    t.eq(c.greeting, BUSY, "third-refused")
    t.check(c.closed(), "third-closed")
    end(b)
    ok = P.wait_for(lambda: srv.works(USERS[1])[0], 5)
    t.check(ok, "served-again-after-one-ends")

    # a is served by the current key process; replace it.
    before = set(P.children(srv.proc.pid))
    mark = srv.log_mark()
    os.kill(srv.proc.pid, signal.SIGHUP)
    t.check(P.wait_for(lambda: "reloaded" in srv.log_since(mark), 5),
            "reloaded")
    b = tls_session(USERS[1])          # on the new key process
    end(a)                             # the old key process exits with a
    # Wait until the master has reaped a's monitor and the old key
    # process (their /proc entries go when they are reaped).
    t.check(P.wait_for(lambda: not any(os.path.exists("/proc/%d" % p)
                                       for p in before), 30),
            "old-processes-reaped")
    c = tls_session(USERS[2])          # b and c: two sessions
    d = srv.connect(tls=False)
    t.eq(d.greeting, BUSY, "count-exact-after-old-key-process-exits")
    d.sock.close()
    end(b)
    end(c)


def back_to_back():
    """A client that logs in again the moment QUIT is answered is not
    refused with [IN-USE]: the session's claim on the mailbox is released
    before the reply, not when its processes have wound down.  To make the
    check independent of timing, the first session's monitor is stopped
    (SIGSTOP) as soon as QUIT is answered, so it cannot clean up before
    the second login.  (A server of its own: the one above allows only
    two sessions.)"""
    srv2 = P.Server(t, "backtoback", cleartext="always")
    user = "popsep-e2e-b2b"
    srv2.add_virtual_user(user, "l-pass")
    srv2.mbox(user, [P.message(1, b"one", b"x\n")])
    srv2.start()
    for i in range(3):
        c = srv2.login(user, tls=False)
        mons = [p for p in P.children(srv2.proc.pid)
                if P.uid_of(p) == 0]
        t.check(len(mons) == 1, "one-monitor-%d" % i, repr(mons))
        try:
            t.check(c.cmd("QUIT").startswith(b"+OK"), "quit-%d" % i)
            try:
                os.kill(mons[0], signal.SIGSTOP)
            except ProcessLookupError:
                pass            # already gone: nothing left to wind down
            c.sock.close()
            c2 = srv2.connect(tls=False)
            c2.cmd("USER " + user)
            r = c2.cmd("PASS l-pass")
            t.check(r.startswith(b"+OK"),
                    "login-while-the-last-session-winds-down-%d" % i, r)
            c2.cmd("QUIT")
            c2.closed()
        finally:
            try:
                os.kill(mons[0], signal.SIGCONT)
            except ProcessLookupError:
                pass
        P.wait_for(lambda: P.proc_status(mons[0]) is None, 10)
    srv2.check_log_clean("back-to-back-no-sandbox-violations")
    srv2.stop()


t.run("limits", limits)
t.run("back-to-back", back_to_back)
srv.check_log_clean("no-sandbox-violations")
t.done()
