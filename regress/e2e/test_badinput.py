#!/usr/bin/env python3
"""
Hostile and malformed input: a 1 MiB line, NUL bytes, commands in the
wrong state, bad message numbers and line counts, too many arguments,
unknown verbs, a flood of bad commands, non-TLS bytes on the TLS port,
plaintext USER/PASS before STLS (refused unless clear-text-password =
always), the same failure text for a wrong password and an unknown user,
and bad configuration files.  Each gets -ERR or a clean close, nothing
crashes, and after each a new connection logs in and answers STAT.
"""

import os
import re
import socket
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import popseptest as P  # noqa: E402

P.need_root()
t = P.Test()

BOB, BOBPW = "popsep-e2e-bob", "bob-e2e pw"
ALICE, ALICEPW = P.SYS_USER, P.SYS_PASS

P.create_system_user(t)
srv = P.Server(t, auth_fail_delay=100)
srv.add_virtual_user(BOB, BOBPW)
srv.add_system_user(ALICE, ALICEPW)
MSGS = P.varied_messages(big=False)
box = srv.mbox(BOB, MSGS)
srv.mbox(ALICE, MSGS[:2])
srv.start()
N = len(MSGS)


def after(name):
    """The daemon still serves: a new connection logs in and answers STAT."""
    ok, r = srv.works(BOB)
    t.check(ok and r == b"+OK %d %d" % (N, sum(len(box.expected(i)) for i in range(N))),
            name + "-then-new-session-works", r)


class Sess:
    """A connection that is re-opened if the server closed it."""

    def __init__(self, login=False, tls=False):
        self.login, self.tls, self.c = login, tls, None

    def conn(self):
        if self.c is None:
            self.c = srv.login(BOB) if self.login else srv.connect(tls=self.tls)
        return self.c

    def reply(self, line):
        try:
            return self.conn().cmd(line)
        except (EOFError, OSError):
            self.c = None
            return None

    def err(self, line, name):
        """-ERR, or a clean close (None)."""
        r = self.reply(line)
        return t.check(r is None or r.startswith(b"-ERR"), name, r)

    def close(self):
        if self.c is not None:
            self.c.close()
            self.c = None


def err_only(r):
    return r is not None and r.startswith(b"-ERR ")


# ------------------------------------------------------------------ long lines

def long_lines():
    for tls in (False, True):
        label = "long-line-tls" if tls else "long-line"
        c = srv.connect(tls=tls)
        c.send(b"A" * (1 << 20))             # 1 MiB, no newline
        c.sock.settimeout(10)
        try:
            r = c.line()
        except (EOFError, OSError):
            r = None
        t.check(r is None or r.startswith(b"-ERR"), label, r)
        if r is not None:
            # Still the same session: the rest of the long line is dropped
            # up to its newline, and the next command is answered.
            c.send(b"BBBB\r\nCAPA\r\n")
            r2 = c.line()
            t.eq(r2, b"+OK Capability list follows", label + "-session-continues")
        c.close()
        after(label)
    # A long argument, with a newline.
    c = srv.connect()
    r = c.cmd(b"USER " + b"u" * (1 << 20))
    t.check(err_only(r), "long-user-line", r)
    r = c.cmd(b"USER " + b"u" * 300)
    t.check(err_only(r), "user-300-bytes", r)
    r = c.cmd(b"USER " + b"u" * 65)
    t.check(err_only(r), "user-65-bytes", r)
    c.close()
    after("long-argument")


# ------------------------------------------------------------------ NUL bytes

def nul_bytes():
    s = Sess()
    s.err(b"CAPA\x00", "nul-after-verb")
    s.err(b"US\x00ER " + BOB.encode(), "nul-in-verb")
    s.err(b"USER popsep-e2e\x00-bob", "nul-in-user")
    s.err(b"\x00\x00\x00", "only-nuls")
    s.close()
    s = Sess(login=True)
    s.err(b"RETR 1\x00", "nul-in-retr")
    s.err(b"LIST \x001", "nul-in-list")
    r = s.reply("STAT")
    t.check(r is not None and r.startswith(b"+OK"), "nul-session-continues", r)
    s.close()
    # PASS with a NUL in the password must not log in as a prefix.
    c = srv.connect(tls=True)
    c.cmd("USER " + BOB)
    r = c.cmd(b"PASS " + BOBPW.encode() + b"\x00garbage")
    t.check(err_only(r), "nul-in-password-refused", r)
    c.close()
    after("nul-bytes")


# ------------------------------------------------------------------ wrong state

def wrong_state():
    s = Sess(tls=True)
    for cmd in ("RETR 1", "STAT", "LIST", "UIDL", "DELE 1", "TOP 1 1",
                "NOOP", "RSET", "PASS " + BOBPW):
        s.err(cmd, "preauth-" + cmd.split()[0].lower())
    s.close()
    s = Sess(login=True)
    for cmd in ("USER " + BOB, "PASS " + BOBPW, "STLS", "USER someone-else"):
        s.err(cmd, "authed-" + cmd.split()[0].lower())
    r = s.reply("STAT")
    t.check(r is not None and r.startswith(b"+OK %d " % N), "authed-still-bob", r)
    s.close()
    # STLS twice, and STLS on the implicit TLS port.
    c = srv.connect(stls=True)
    t.check(err_only(c.cmd("STLS")), "stls-twice")
    c.close()
    c = srv.connect(tls=True)
    t.check(err_only(c.cmd("STLS")), "stls-on-tls-port")
    c.close()
    after("wrong-state")


# ------------------------------------------------------------------ numbers

def numbers():
    s = Sess(login=True)
    cases = ["RETR 0", "RETR -1", "RETR 99999999999", "RETR 1x", "RETR +1",
             "RETR 0x1", "RETR 1.0", "RETR %d" % (N + 1), "RETR 4294967297",
             "RETR 18446744073709551617", "LIST 0", "LIST -1",
             "LIST 99999999999", "LIST x", "UIDL 0", "UIDL 1e3", "DELE 0",
             "DELE -1", "DELE %d" % (N + 1), "TOP 0 1", "TOP 1 -1", "TOP 1 1x",
             "TOP 1 +1", "TOP -1 1", "TOP %d 0" % (N + 1)]
    for cmd in cases:
        s.err(cmd, "number-" + re.sub(r"[^0-9A-Za-z+.-]", "_", cmd))
    # A huge TOP count: refused, or the whole message.
    for count in ("99999999999", "2147483648", "2147483647"):
        c = s.conn()
        r = c.cmd("TOP 1 " + count)
        if r.startswith(b"+OK"):
            body = c.multi()
            t.eq(body, box.expected(0), "top-huge-%s-whole-message" % count)
        else:
            t.check(err_only(r), "top-huge-%s" % count, r)
    r = s.reply("STAT")
    t.check(r is not None and r.startswith(b"+OK %d " % N), "numbers-nothing-deleted", r)
    # DELE twice, RETR of a deleted message.
    t.check(s.reply("DELE 2").startswith(b"+OK"), "dele-2")
    s.err("DELE 2", "dele-2-again")
    s.err("RETR 2", "retr-deleted")
    s.err("TOP 2 0", "top-deleted")
    s.err("LIST 2", "list-deleted")
    s.err("UIDL 2", "uidl-deleted")
    t.check(s.reply("RSET").startswith(b"+OK"), "rset")
    s.c.drop()
    t.eq(box.read(), box.original, "numbers-mailbox-unchanged")
    after("numbers")


# ------------------------------------------------------------------ arguments, verbs

def arguments_and_verbs():
    s = Sess(login=True)
    for cmd in ("RETR 1 2", "LIST 1 2", "UIDL 1 2", "DELE 1 2", "TOP 1 2 3",
                "STAT 1", "NOOP x", "RSET x", "QUIT now", "RETR", "TOP 1",
                "DELE", "CAPA x"):
        s.err(cmd, "args-" + re.sub(r"\W", "_", cmd))
    r = s.reply("STAT")
    t.check(r is not None and r.startswith(b"+OK %d " % N), "args-session-continues", r)
    s.close()
    s = Sess()
    for cmd in ("FOO", "XYZZY", "AUTH twinkie", "APOP " + BOB + " 0123456789abcdef",
                "", "   ", " USER x", "USERX", "US", "R\xe9TR", "USER a b",
                "HELO", "GET / HTTP/1.0"):
        s.err(cmd.encode("latin-1"), "verb-" + (re.sub(r"[^0-9A-Za-z]", "_", cmd) or "empty"))
    s.close()
    after("arguments-and-verbs")


def bad_command_flood():
    c = srv.connect()
    # Sent at once, so the server has read all of it when it closes.
    c.send(b"FOO\r\n" * 25)
    replies = []
    closed = False
    c.sock.settimeout(10)
    try:
        while True:
            replies.append(c.line())
    except (EOFError, OSError):
        closed = True
    t.check(replies and all(r.startswith(b"-ERR") for r in replies),
            "flood-replies-are-errors", replies)
    t.check(closed and 0 < len(replies) < 25, "flood-closed",
            (closed, len(replies)))
    c.close()
    after("bad-command-flood")


def pipelining():
    c = srv.login(BOB)
    c.send(b"STAT\r\n" * 200 + b"NOOP\r\n")
    replies = [c.line() for _ in range(201)]
    t.check(all(r.startswith(b"+OK %d " % N) for r in replies[:200]) and
            replies[200].startswith(b"+OK"), "pipelined-200-commands",
            replies[:3])
    c.cmd("QUIT")
    c.close()


# ------------------------------------------------------------------ TLS garbage

def tls_garbage():
    for label, payload in (("http", b"GET / HTTP/1.0\r\n\r\n"),
                           ("binary", bytes(range(256)) * 64),
                           ("half-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")):
        s = socket.create_connection(("127.0.0.1", srv.tls_port), 10)
        try:
            s.sendall(payload)
            # A partial ClientHello makes the server wait for the rest.
            s.settimeout(2 if label == "half-hello" else 10)
            data = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
            ok = b"+OK" not in data
        except ConnectionResetError:
            ok = True
        except socket.timeout:
            ok = label == "half-hello"          # waits for the rest; fine
        s.close()
        t.check(ok, "tls-port-" + label)
        after("tls-port-" + label)
    # STLS, then plaintext instead of a handshake.
    c = srv.connect()
    t.check(c.cmd("STLS").startswith(b"+OK"), "stls-ok")
    c.send(b"USER " + BOB.encode() + b"\r\nPASS x\r\n")
    t.check(c.closed(10), "stls-then-plaintext-closed", c.buf)
    c.close()
    after("stls-then-plaintext")


# ------------------------------------------------------------------ cleartext

def cleartext():
    c = srv.connect()
    caps = c.capa()
    t.check("STLS" in caps and "USER" not in caps, "plain-capa-no-user", caps)
    r1 = c.cmd("USER " + BOB)
    r2 = c.cmd("PASS " + BOBPW)
    t.check(err_only(r1) and err_only(r2), "plain-user-pass-refused", (r1, r2))
    t.check(err_only(c.cmd("STAT")), "plain-not-logged-in")
    c.stls()
    caps = c.capa()
    t.check("USER" in caps and "STLS" not in caps, "stls-capa-user", caps)
    t.check(c.cmd("USER " + BOB).startswith(b"+OK") and
            c.cmd("PASS " + BOBPW).startswith(b"+OK"), "stls-login")
    t.check(c.cmd("STAT").startswith(b"+OK %d " % N), "stls-stat")
    c.cmd("QUIT")
    c.close()
    c = srv.connect(tls=True)
    caps = c.capa()
    t.check("USER" in caps and "STLS" not in caps, "tls-port-capa", caps)
    c.close()

    # clear-text-password = always: USER/PASS without TLS.
    srv2 = P.Server(t, name="always", cleartext="always", auth_fail_delay=100)
    srv2.add_virtual_user(BOB, BOBPW, mailbox=box.path)
    srv2.start()
    c = srv2.connect()
    caps = c.capa()
    t.check("USER" in caps and "STLS" in caps, "always-capa-user", caps)
    t.check(c.cmd("USER " + BOB).startswith(b"+OK") and
            c.cmd("PASS " + BOBPW).startswith(b"+OK"), "always-plain-login")
    t.check(c.cmd("STAT").startswith(b"+OK %d " % N), "always-plain-stat")
    c.cmd("QUIT")
    c.close()
    # RFC 2595: a USER given before STLS is forgotten.
    c = srv2.connect()
    c.cmd("USER " + BOB)
    c.stls()
    r = c.cmd("PASS " + BOBPW)
    t.check(err_only(r), "user-forgotten-after-stls", r)
    c.close()
    srv2.check_log_clean("always-log-clean")
    srv2.cleanup()
    after("cleartext")


# ------------------------------------------------------------------ failures

def failures():
    texts = {}
    for label, user, pw in (("wrong-password-virtual", BOB, "wrong"),
                            ("wrong-password-pam", ALICE, "wrong"),
                            ("unknown-user", "popsep-e2e-nobody", "wrong"),
                            ("unknown-user-like-virtual", BOB + "x", BOBPW),
                            ("password-of-other-user", ALICE, BOBPW)):
        c = srv.connect(tls=True)
        r0 = c.cmd("USER " + user)
        t.check(r0.startswith(b"+OK"), label + "-user-accepted", r0)
        r = c.cmd("PASS " + pw)
        texts[label] = r.replace(user.encode(), b"USER")
        c.close()
    # No password at all: a syntax error, not a login attempt.
    c = srv.connect(tls=True)
    c.cmd("USER " + BOB)
    r = c.cmd("PASS")
    t.check(err_only(r), "empty-password", r)
    c.close()
    want = b'-ERR [AUTH] Password supplied for "USER" is incorrect.'
    for label, r in texts.items():
        t.eq(r, want, label + "-text")
    # Three failures close the connection.
    c = srv.connect(tls=True)
    for i in range(3):
        c.cmd("USER " + BOB)
        c.cmd("PASS wrong%d" % i)
    t.check(c.closed(5), "three-failures-close", c.buf)
    c.close()
    after("failures")


# ------------------------------------------------------------------ config files

def bad_configs():
    d = os.path.join(srv.dir, "configs")
    os.mkdir(d)
    good = srv.config_text(listen=False)
    cases = [
        ("unknown-option", "set nonsense = 1\n", "unknown option"),
        ("bad-number", "set timeout = abc\n", "timeout"),
        ("out-of-range", "set auth-fail-delay = 999999\n", "auth-fail-delay"),
        ("no-set", "frobnicate the server\n", "set"),
        ("bad-port", "set listen = 127.0.0.1:99999\n", "port"),
        ("reset-non-bool", "reset timeout\n", "reset"),
        ("bad-enum", "set clear-text-password = sometimes\n", "clear-text-password"),
        ("missing-value", "set spool-dir =\n", "spool-dir"),
        ("nul-byte", "set timeout = 6\x000\n", "NUL"),
        ("long-line", "set spool-dir = /" + "x" * 2000 + "\n", "long"),
        ("bad-bool", "set statistics = perhaps\n", "statistics"),
    ]
    for label, bad, word in cases:
        path = os.path.join(d, label + ".conf")
        lines = good.splitlines(keepends=True)
        lineno = 3
        lines.insert(lineno - 1, bad)
        P.write_file(path, "".join(lines).encode("latin-1"), 0, 0, 0o644)
        r = P.run([P.POPSEPD, "-n", "-f", path], timeout=20)
        err = r.stderr.decode("latin-1")
        t.check(r.returncode == 1 and ("%s:%d:" % (path, lineno)) in err and
                word.lower() in err.lower(), "config-" + label,
                (r.returncode, err))
    # The same refusal when starting for real, before binding anything.
    path = os.path.join(d, "unknown-option.conf")
    r = P.run([P.POPSEPD, "-d", "-f", path], timeout=20)
    t.check(r.returncode == 1 and (path + ":3:") in r.stderr.decode(),
            "config-refused-at-start", r.stderr)
    path = os.path.join(d, "good.conf")
    P.write_file(path, good.encode(), 0, 0, 0o644)
    r = P.run([P.POPSEPD, "-n", "-f", path], timeout=20)
    t.check(r.returncode == 0 and b"configuration OK" in r.stdout,
            "config-good", (r.returncode, r.stdout, r.stderr))
    r = P.run([P.POPSEPD, "-n", "-f", os.path.join(d, "missing.conf")], timeout=20)
    t.check(r.returncode == 1 and b"missing.conf" in r.stderr,
            "config-missing-file", r.stderr)
    # Directories that must exist.
    for opt in ("temp-dir", "bulldir"):
        for val, word in (("relative/dir", "absolute"),
                          ("/nonexistent-popsep", "No such file"),
                          ("/etc/hostname", "not a directory")):
            bad = os.path.join(d, "dir.conf")
            P.write_file(bad, (good + "set %s = %s\n" % (opt, val)).encode(),
                         0, 0, 0o644)
            r = P.run([P.POPSEPD, "-n", "-f", bad], timeout=20)
            t.check(r.returncode == 1 and opt.encode() in r.stderr and
                    word.encode() in r.stderr, "config-%s-%s" % (opt, word),
                    r.stderr)
    # Qpopper's spool flags: -F (fast-update), -S (server mode), -L n.
    r = P.run([P.POPSEPD, "-n", "-F", "-S", "-L", "50", "-f", path],
              timeout=20)
    t.check(r.returncode == 0, "flags-F-S-L", r.stderr)
    for bad in (["-L", "0"], ["-L", "ten"], ["-L"]):
        r = P.run([P.POPSEPD, "-n"] + bad + ["-f", path], timeout=20)
        t.check(r.returncode == 2 and b"-L" in r.stderr.replace(
            b"usage", b"-L"), "flag-bad-" + "-".join(bad), r.stderr)
    after("bad-configs")


for name, fn in (("long-lines", long_lines), ("nul-bytes", nul_bytes),
                 ("wrong-state", wrong_state), ("numbers", numbers),
                 ("arguments-and-verbs", arguments_and_verbs),
                 ("bad-command-flood", bad_command_flood),
                 ("pipelining", pipelining), ("tls-garbage", tls_garbage),
                 ("cleartext", cleartext), ("failures", failures),
                 ("bad-configs", bad_configs)):
    t.run(name, fn)
srv.check_log_clean()
t.check(srv.alive(), "daemon-alive")
t.done()
