"""
Qpopper's extra commands against the real daemon: LAST (RFC 1460), off by
default and then an unknown command, answered with last-command set (the
highest message RETR or TOP sent in the session, 0 after RSET, unchanged
by a failed RETR); XTND refused with its own reply, not counted as a bad
command; Netscape's XSENDER an unknown command with Qpopper's log text.
None of them ends the session, and the mailbox is left as it was.
"""

import popseptest as P

t = P.Test("qpcmds")
P.need_root()

USER = "popsep-e2e-qpcmds"
PW = "q-pass"
MSGS = [P.message(i, b"m%d" % i, b"body %d\n" % i) for i in range(1, 5)]


def logged(srv, mark, text):
    """Whether text reaches the log after mark: the monitor writes the
    network child's lines as they come, after the reply has gone."""
    return P.wait_for(lambda: text in srv.log_since(mark), 10)


def server(options=None):
    srv = P.Server(t, "qpcmds", cleartext="local", options=options)
    srv.add_virtual_user(USER, PW)
    box = srv.mbox(USER, MSGS)
    box.write()
    srv.start()
    return srv, box


# Off by default: LAST is an unknown command, as in Qpopper without it.
srv, box = server()
c = srv.login(USER, tls=False)
mark = srv.log_mark()
t.eq(c.cmd("LAST"), b'-ERR Unknown command: "LAST"', "last-off-unknown")
t.check(c.cmd("NOOP").startswith(b"+OK"), "last-off-session-goes-on")
t.check(logged(srv, mark, 'Unknown command: "last".'), "last-off-logged",
        srv.log_since(mark)[-400:])
c.cmd("QUIT")
srv.stop()
t.eq(box.read(), box.data(), "last-off-mailbox-untouched")

# With last-command.
srv, box = server({"last-command": True})
c = srv.login(USER, tls=False)
t.eq(c.cmd("LAST"), b"+OK 0", "last-initially-0")
r, body = c.multi_cmd("RETR 2")
t.check(r.startswith(b"+OK") and body is not None, "retr-2", r)
t.eq(c.cmd("LAST"), b"+OK 2", "last-after-retr-2")
r, _ = c.multi_cmd("TOP 1 0")
t.eq(c.cmd("LAST"), b"+OK 2", "last-lower-top-keeps-2")
r, _ = c.multi_cmd("TOP 3 0")
t.eq(c.cmd("LAST"), b"+OK 3", "last-after-top-3")
t.check(c.cmd("RETR 9").startswith(b"-ERR"), "retr-9-fails")
t.eq(c.cmd("LAST"), b"+OK 3", "last-failed-retr-keeps-3")
t.check(c.cmd("DELE 4").startswith(b"+OK"), "dele-4")
t.eq(c.cmd("LAST"), b"+OK 3", "last-dele-does-not-count")
t.check(c.cmd("RSET").startswith(b"+OK"), "rset")
t.eq(c.cmd("LAST"), b"+OK 0", "last-after-rset-0")
t.check(c.cmd("LAST 1").startswith(b"-ERR Too many arguments"),
        "last-with-argument")

# XTND: refused in its own words, many times without ending the session
# (bad commands end it after a few).
mark = srv.log_mark()
for i in range(12):
    r = c.cmd("XTND XMIT" if i % 2 == 0 else "XTND XLST Subject 1")
    if r != b"-ERR XTND is not supported":
        break
t.eq(r, b"-ERR XTND is not supported", "xtnd-refused")
t.check(c.cmd("NOOP").startswith(b"+OK"), "xtnd-not-a-bad-command")
t.check(logged(srv, mark, "XTND XMIT refused: not supported"),
        "xtnd-logged", srv.log_since(mark)[-400:])

# XSENDER: unknown, with Qpopper's lower-case log text.
mark = srv.log_mark()
t.eq(c.cmd("XSENDER 1"), b'-ERR Unknown command: "XSENDER"', "xsender-unknown")
t.check(logged(srv, mark, 'Unknown command: "xsender".'),
        "xsender-logged", srv.log_since(mark)[-400:])
t.check(c.cmd("STAT").startswith(b"+OK 4 "), "session-goes-on")
t.check(c.cmd("QUIT").startswith(b"+OK"), "quit")
srv.stop()
t.eq(box.read(), box.data(), "mailbox-untouched-after-rset")

# In the AUTHORIZATION state both are out of turn.
srv, box = server({"last-command": True})
c = srv.connect()
t.eq(c.cmd("LAST"), b'-ERR Command not valid in this state: "LAST"',
     "last-before-login")
t.eq(c.cmd("XTND XMIT"), b'-ERR Command not valid in this state: "XTND"',
     "xtnd-before-login")
c.cmd("QUIT")
srv.stop()
t.done()
