#!/usr/bin/env python3
"""
Real POP3 clients against popsepd: every message of a mailbox full of
corner cases (dot lines, ">From ", no final newline, empty body, CRLF,
8-bit, a 100 KB line, 3 MB) must arrive byte for byte with curl (pop3s://
and STLS), fetchmail (STLS and implicit TLS), mpop (STLS on and off) and
Python's poplib (POP3_SSL and stls()).  One user is a passwd-file virtual
user, the other a PAM system user.  Then: LIST sizes match what RETR sends,
UIDs are unique and stable, DELE+QUIT removes exactly the deleted message,
and DELE followed by a dropped connection removes nothing.
"""

import os
import poplib
import re
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import popseptest as P  # noqa: E402

P.need_root()
t = P.Test()
poplib._MAXLINE = 1 << 20          # the 100 KB line

BOB, BOBPW = "popsep-e2e-bob", "bob-e2e pw"
ALICE, ALICEPW = P.SYS_USER, P.SYS_PASS
CAROL, CAROLPW = "popsep-e2e-carol", "carol-e2e"

P.create_system_user(t)
srv = P.Server(t)
srv.add_virtual_user(BOB, BOBPW)
srv.add_system_user(ALICE, ALICEPW)
MSGS = P.varied_messages()
LONG = MSGS.index(next(m for m in MSGS if b"x" * 100000 in m))
boxes = {BOB: srv.mbox(BOB, MSGS), ALICE: srv.mbox(ALICE, MSGS)}
srv.start()
N = len(MSGS)


def sessions_ended():
    return srv.read_log().count("session ended")


def outdir(name):
    d = os.path.join(srv.dir, name)
    os.makedirs(os.path.join(d, "out"))
    return d, os.path.join(d, "out")


def mda_script(d, out):
    """An MDA that stores each message it is given in out/msg.N, in order."""
    path = os.path.join(d, "mda.sh")
    with open(path, "w") as f:
        f.write('#!/bin/sh\nn=$(ls "%s" | wc -l)\nexec cat > "%s/msg.$((n + 1))"\n'
                % (out, out))
    os.chmod(path, 0o755)
    return path


def delivered(out, i):
    try:
        with open(os.path.join(out, "msg.%d" % (i + 1)), "rb") as f:
            return f.read()
    except OSError:
        return None


# ------------------------------------------------------------------ curl

def curl(label, user, pw, scheme, port, extra):
    d, out = outdir("curl-" + label)
    cmd = ["curl", "-sS", "--cacert", srv.cert, "-u", "%s:%s" % (user, pw)] + extra
    for i in range(N):
        cmd += ["%s://127.0.0.1:%d/%d" % (scheme, port, i + 1),
                "-o", os.path.join(out, "msg.%d" % (i + 1))]
    r = P.run(cmd)
    t.check(r.returncode == 0, "curl-%s-exit" % label, r.stderr)
    for i in range(N):
        t.eq(delivered(out, i), boxes[user].expected(i),
             "curl-%s-msg%d" % (label, i + 1))


# ------------------------------------------------------------------ fetchmail

RECEIVED = re.compile(rb"\AReceived: [^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*")


def fetchmail(label, user, pw, port, tls):
    d, out = outdir("fetchmail-" + label)
    mda = mda_script(d, out)
    rc = os.path.join(d, "fetchmailrc")
    P.write_file(rc, (
        "set no syslog\n"
        "poll localhost with proto POP3 port %d\n"
        "  user \"%s\" there with password \"%s\" is root here\n"
        "  options keep fetchall no rewrite no stripcr %s\n"
        "  sslcertck sslcertfile \"%s\"\n"
        "  mda \"%s\"\n" % (port, user, pw,
                            "ssl" if tls == "implicit" else 'sslproto "TLS1.2+"',
                            srv.cert, mda)).encode(), 0, 0, 0o600)
    env = dict(os.environ, HOME=d)
    r = P.run(["fetchmail", "--nodetach", "-f", rc], env=env, cwd=d)
    t.check(r.returncode == 0, "fetchmail-%s-exit" % label,
            (r.stdout + r.stderr)[-2000:])
    for i in range(N):
        got, exp = delivered(out, i), boxes[user].expected(i)
        name = "fetchmail-%s-msg%d" % (label, i + 1)
        m = RECEIVED.match(got or b"")
        if not t.check(m is not None, name + "-received-header", short(got)):
            continue
        body = got[m.end():]
        if i != LONG:
            t.eq(body, exp, name)
            continue
        # fetchmail itself cuts lines longer than its 8 KiB buffer (and
        # pads the cut with stray bytes): compare all but that line.
        cut = exp.index(b"x" * 100000)
        pre, post = exp[:cut], exp[cut + 100000:]
        t.check(body.startswith(pre) and body.endswith(post) and
                body.count(b"x") >= 100000, name + "-outside-long-line",
                short(body))
        t.skip(name + "-long-line", "fetchmail splits lines over 8 KiB itself")


def short(b):
    return P.short(b, 300)


# ------------------------------------------------------------------ mpop

def mpop(label, user, pw, port, starttls):
    d, out = outdir("mpop-" + label)
    mda = mda_script(d, out)
    cmd = ["mpop", "-C", "/dev/null", "--host=localhost", "--port=%d" % port,
           "--tls=on", "--tls-starttls=" + starttls,
           "--tls-trust-file=" + srv.cert, "--user=" + user,
           "--passwordeval=echo '%s'" % pw, "--auth=user",
           "--delivery=mda," + mda, "--keep=on", "--received-header=off",
           "--uidls-file=" + os.path.join(d, "uidls")]
    r = P.run(cmd, env=dict(os.environ, HOME=d), cwd=d)
    t.check(r.returncode == 0, "mpop-%s-exit" % label, r.stdout + r.stderr)
    # mpop hands its MDA the message with LF line ends.
    for i in range(N):
        t.eq(delivered(out, i), P.lf(boxes[user].expected(i)),
             "mpop-%s-msg%d" % (label, i + 1))


# ------------------------------------------------------------------ poplib

def top_expected(wire_bytes, n):
    lines = wire_bytes.splitlines(keepends=True)
    h = lines.index(b"\r\n") if b"\r\n" in lines else len(lines) - 1
    return b"".join(lines[:h + 1 + n])


def joined(lines):
    return b"".join(l + b"\r\n" for l in lines)


def poplib_session(label, user, pw, mode):
    box = boxes[user]
    if mode == "implicit":
        p = poplib.POP3_SSL("localhost", srv.tls_port, context=srv.ssl_context(),
                            timeout=30)
    else:
        p = poplib.POP3("127.0.0.1", srv.port, timeout=30)
        t.check("STLS" in p.capa(), "poplib-%s-capa-stls" % label)
        p.stls(context=srv.ssl_context())
    t.check(p.getwelcome() == P.GREETING, "poplib-%s-greeting" % label,
            p.getwelcome())
    p.user(user)
    r = p.pass_(pw)
    total = sum(len(box.expected(i)) for i in range(N))
    t.eq(r, ("+OK %s has %d visible messages (0 hidden) in %d octets." %
             (user, N, total)).encode(), "poplib-%s-pass" % label)
    t.eq(p.stat(), (N, total), "poplib-%s-stat" % label)
    resp, lst, _ = p.list()
    t.eq([l.decode() for l in lst],
         ["%d %d" % (i + 1, len(box.expected(i))) for i in range(N)],
         "poplib-%s-list" % label)
    resp, uidl, _ = p.uidl()
    t.check(len(uidl) == N, "poplib-%s-uidl" % label, uidl)
    for i in range(N):
        exp = box.expected(i)
        resp, lines, octets = p.retr(i + 1)
        t.eq(joined(lines), exp, "poplib-%s-retr%d" % (label, i + 1))
        t.eq(resp, b"+OK %d octets" % len(exp), "poplib-%s-retr%d-octets" % (label, i + 1))
        for n in (0, 2):
            resp, lines, _ = p.top(i + 1, n)
            t.eq(joined(lines), top_expected(exp, n),
                 "poplib-%s-top%d-%d" % (label, i + 1, n))
    return p


# ------------------------------------------------------------------ raw checks

def list_matches_retr(user):
    c = srv.login(user)
    lst = c.list()
    t.eq(sorted(lst), list(range(1, N + 1)), "list-%s-numbers" % user)
    for i in range(N):
        r, body = c.retr(i + 1)
        t.check(body is not None and lst.get(i + 1) == len(body) and
                r == b"+OK %d octets" % len(body),
                "list-%s-size%d" % (user, i + 1), (lst.get(i + 1), r,
                                                   body and len(body)))
        single = c.cmd("LIST %d" % (i + 1))
        t.eq(single, b"+OK %d %d" % (i + 1, len(body or b"")),
             "list-%s-single%d" % (user, i + 1))
    c.cmd("QUIT")
    c.close()


def uidl_stable(user):
    got = []
    for k in range(2):
        c = srv.login(user, tls=k == 0, stls=k == 1)
        got.append(c.uidl())
        c.cmd("QUIT")
        c.close()
    a, b = got
    t.check(len(a) == N, "uidl-%s-count" % user, a)
    t.eq(a, b, "uidl-%s-stable" % user)
    t.check(len(set(a.values())) == len(a), "uidl-%s-unique" % user, a)
    t.check(all(1 <= len(u) <= 70 and all(0x21 <= ord(ch) <= 0x7e for ch in u)
                for u in a.values()), "uidl-%s-syntax" % user, a)
    return a


def main():
    for prog, runs in (
            ("curl", ((curl, "pop3s-bob", BOB, BOBPW, "pop3s", srv.tls_port, []),
                      (curl, "stls-alice", ALICE, ALICEPW, "pop3", srv.port,
                       ["--ssl-reqd"]))),
            ("fetchmail", ((fetchmail, "stls-alice", ALICE, ALICEPW, srv.port, "stls"),
                           (fetchmail, "implicit-bob", BOB, BOBPW, srv.tls_port,
                            "implicit"))),
            ("mpop", ((mpop, "stls-bob", BOB, BOBPW, srv.port, "on"),
                      (mpop, "implicit-alice", ALICE, ALICEPW, srv.tls_port, "off")))):
        if not P.have(prog):
            t.skip(prog, "%s is not installed (etc/deps.sh installs it)" % prog)
            continue
        for fn, label, *args in runs:
            t.run("%s-%s" % (prog, label), fn, label, *args)
    for u in (BOB, ALICE):
        t.eq(boxes[u].read(), boxes[u].original, "keep-%s-mailbox-unchanged" % u)
        list_matches_retr(u)
    uids = {u: uidl_stable(u) for u in (BOB, ALICE)}

    # poplib over implicit TLS, ending with DELE 2 + QUIT: exactly
    # message 2 leaves; the others keep their bytes and their UIDs.
    p = poplib_session("implicit-bob", BOB, BOBPW, "implicit")
    t.check(p.dele(2).startswith(b"+OK"), "poplib-implicit-bob-dele")
    ended = sessions_ended()
    t.check(p.quit().startswith(b"+OK"), "poplib-implicit-bob-quit")
    P.wait_for(lambda: sessions_ended() > ended)
    keep = [i for i in range(N) if i != 1]
    t.eq(boxes[BOB].read(), boxes[BOB].data(keep), "dele-quit-removes-exactly-msg2")
    c = srv.login(BOB)
    after = c.uidl()
    c.cmd("QUIT")
    c.close()
    t.eq(list(after.values()), [uids[BOB][i + 1] for i in keep],
         "uids-survive-update")

    # poplib with STLS, ending with DELE 2 and a dropped connection.
    p = poplib_session("stls-alice", ALICE, ALICEPW, "stls")
    t.check(p.dele(2).startswith(b"+OK"), "poplib-stls-alice-dele")
    ended = sessions_ended()
    p.sock.close()
    p.file.close()
    t.check(P.wait_for(lambda: sessions_ended() > ended), "drop-session-ended")
    t.eq(boxes[ALICE].read(), boxes[ALICE].original, "dele-drop-removes-nothing")

    # The same with a reset instead of a FIN, on the raw client.
    c = srv.login(ALICE)
    t.check(c.cmd("DELE 1").startswith(b"+OK"), "raw-dele1")
    t.check(c.cmd("DELE 3").startswith(b"+OK"), "raw-dele3")
    ended = sessions_ended()
    c.drop()
    t.check(P.wait_for(lambda: sessions_ended() > ended), "reset-session-ended")
    t.eq(boxes[ALICE].read(), boxes[ALICE].original, "dele-reset-removes-nothing")

    # RSET undoes DELE; QUIT then changes nothing.
    c = srv.login(ALICE, tls=False, stls=True)
    c.cmd("DELE 4")
    t.check(c.cmd("RSET").startswith(b"+OK"), "rset")
    ended = sessions_ended()
    t.check(c.cmd("QUIT").startswith(b"+OK"), "rset-quit")
    P.wait_for(lambda: sessions_ended() > ended)
    t.eq(boxes[ALICE].read(), boxes[ALICE].original, "rset-quit-removes-nothing")

    # Deleting the last message (no separator after it) and the first.
    c = srv.login(ALICE)
    c.cmd("DELE 1")
    c.cmd("DELE %d" % N)
    ended = sessions_ended()
    t.check(c.cmd("QUIT").startswith(b"+OK"), "dele-first-last-quit")
    P.wait_for(lambda: sessions_ended() > ended)
    t.eq(boxes[ALICE].read(), boxes[ALICE].data(range(1, N - 1)),
         "dele-first-and-last")
    c = srv.login(ALICE)
    t.eq(c.cmd("STAT"), b"+OK %d %d" % (N - 2, sum(
        len(boxes[ALICE].expected(i)) for i in range(1, N - 1))),
        "stat-after-dele-first-and-last")
    c.cmd("QUIT")

    # passwd-file uid and gid given as names.
    srv.add_virtual_user(CAROL, CAROLPW, uid_field=ALICE, gid_field=ALICE,
                         uid=srv.users[ALICE][1], gid=srv.users[ALICE][2])
    cbox = srv.mbox(CAROL, MSGS[:2])
    ok, r = srv.works(CAROL)
    t.check(ok and r == b"+OK 2 %d" % (len(cbox.expected(0)) +
                                       len(cbox.expected(1))),
            "passwd-file-uid-gid-names", r)


t.run("main", main)
srv.check_log_clean()
t.check(srv.alive(), "daemon-alive")
t.done()
