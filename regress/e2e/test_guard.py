"""
The network boundary under attack, through the real daemon: clients from
several loopback addresses (127.0.0.2 and up, all routed to lo).

- max-per-source: 150 connections from one address trickling a byte a
  second hold at most max-per-source sessions, and a login from another
  address gets through while they trickle; the master's refusals are
  logged a few times and then summed up as "(repeated N times)".
- login-timeout: the session monitor ends a session that trickles bytes
  but never logs in.
- max-startups: sessions not logged in are bounded; a session that logs
  in no longer counts (the monitor tells the master over its channel).
- failed logins: each further failure on a connection waits longer;
  distinct wrong passwords from one address block it (and the log names
  it) while other addresses are served; one stale password repeated is
  logged once as such, slowed, and not blocked.
- tls-sign-rate: one address cannot spend every address's signatures.
- a junk connection costs a few log lines and one count, not one line
  per command.
- processes: the network child dies with its monitor (kill -9), the
  capability bounding set of the unprivileged processes is empty, no
  process that holds a secret may dump core, and the dropped ones are
  not dumpable.
- enumeration: an unknown user and a wrong password take the same time
  (medians within 10%), for PAM and passwd-file users.
"""

import os
import random
import re
import signal
import socket
import ssl
import statistics
import threading
import time

import popseptest as P

t = P.Test("guard")
P.need_root()


class SrcPop(P.RawPop):
    """RawPop from a chosen loopback source address."""

    def __init__(self, srv, src, tls=False, timeout=30):
        self.srv = srv
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.bind((src, 0))
        s.connect(("127.0.0.1", srv.tls_port if tls else srv.port))
        self.sock = s
        if tls:
            self.sock = srv.ssl_context().wrap_socket(
                s, server_hostname="localhost")
        self.buf = b""
        self.greeting = self.line()


def try_greeting(srv, src, tls=False):
    """(greeting or error text, connection or None)."""
    try:
        c = SrcPop(srv, src, tls=tls, timeout=10)
    except (OSError, EOFError, ssl.SSLError) as e:
        return ("%s: %s" % (type(e).__name__, e)).encode(), None
    return c.greeting, c


def login_from(srv, src, user, password, tls=False):
    """The replies to USER, PASS, STAT and QUIT from address src."""
    g, c = try_greeting(srv, src, tls)
    if c is None or not g.startswith(b"+OK"):
        return [g]
    out = [g]
    try:
        for line in ("USER " + user, "PASS " + password):
            out.append(c.cmd(line))
            if not out[-1].startswith(b"+OK"):
                return out
        out.append(c.cmd("STAT"))
        out.append(c.cmd("QUIT"))
    except (OSError, EOFError) as e:
        out.append(("%s" % e).encode())
    finally:
        c.close()
    return out


def logged_in(replies):
    return len(replies) >= 4 and replies[3].startswith(b"+OK")


USER = "popsep-e2e-guard"
PASS = "guard-pass"
BUSY_SRC = b"-ERR [SYS/TEMP] Too many sessions from your address"
BUSY = b"-ERR [SYS/TEMP] Too many sessions, try again later"
BLOCKED = b"-ERR [SYS/TEMP] Too many failed logins from your address"


def server(name, **opts):
    o = {"auth-fail-delay": "100"}
    o.update(opts)
    srv = P.Server(t, name, cleartext="always", options=o)
    srv.add_virtual_user(USER, PASS)
    srv.mbox(USER, [P.message(1, b"one", b"x\n")])
    return srv.start()


class Trickle:
    """Connections that send one byte a second and never log in."""

    def __init__(self, srv, src, n):
        self.conns, self.refused = [], []
        for i in range(n):
            g, c = try_greeting(srv, src)
            if c is not None and g.startswith(b"+OK"):
                self.conns.append(c)
            else:
                self.refused.append(g)
                if c is not None:
                    c.close()
        self.stop = threading.Event()
        self.closed = 0
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        while not self.stop.wait(1):
            for c in list(self.conns):
                try:
                    c.sock.send(b"X")
                except OSError:
                    self.conns.remove(c)
                    self.closed += 1

    def end(self):
        self.stop.set()
        self.th.join()
        for c in self.conns:
            c.close()


def per_source():
    srv = server("persource")
    mark = srv.log_mark()
    tr = Trickle(srv, "127.0.0.2", 150)
    try:
        t.eq(len(tr.conns), 10, "trickle-holds-max-per-source-sessions")
        t.check(all(r.startswith(BUSY_SRC) for r in tr.refused),
                "the-rest-refused-as-too-many-from-the-address",
                repr(sorted(set(tr.refused))[:3]))
        r = login_from(srv, "127.0.0.3", USER, PASS)
        t.check(logged_in(r), "login-from-another-address-while-150-trickle",
                repr(r))
        log = srv.log_since(mark)
        n = len(re.findall(r"connection from 127\.0\.0\.2 refused: "
                           r"max-per-source", log))
        t.check(1 <= n <= 5, "refusals-logged-a-few-times-not-140",
                "%d lines" % n)
        # The count comes when the period of the log's limit is over.
        ok = P.wait_for(lambda: re.search(
            r"refused: max-per-source \(10\) reached \(repeated 1[34][0-9] "
            r"times\)", srv.log_since(mark)), 45, 0.5)
        t.check(ok, "refusals-summed-up-with-a-count",
                srv.log_since(mark)[-1500:])
        r = login_from(srv, "127.0.0.3", USER, PASS)
        t.check(logged_in(r), "login-from-another-address-still-served",
                repr(r))
        t.eq(len(tr.conns), 10, "trickle-sessions-alive-within-login-timeout")
    finally:
        tr.end()
    srv.check_log_clean("persource-log-clean")
    srv.stop()


def login_deadline():
    srv = server("deadline", **{"login-timeout": "10"})
    mark = srv.log_mark()
    tr = Trickle(srv, "127.0.0.2", 1)
    try:
        t.eq(len(tr.conns), 1, "deadline-session-greeted")
        # The client keeps sending, so an idle timer would never fire.
        ok = P.wait_for(lambda: tr.closed == 1, 30, 0.2)
        t.check(ok, "session-ended-by-login-timeout-while-bytes-trickle")
        t.check(re.search(r"monitor [0-9a-f]{16}: no login within "
                          r"login-timeout \(10 seconds\) from 127\.0\.0\.2",
                          srv.log_since(mark)),
                "deadline-logged-by-the-monitor", srv.log_since(mark)[-800:])
        # The monitor killed its network child and ended; nothing is left.
        ok = P.wait_for(lambda: set(P.descendants(srv.proc.pid)) <=
                        set(key_procs(srv)), 5)
        t.check(ok, "no-session-process-left-after-the-deadline",
                repr(P.descendants(srv.proc.pid)))
    finally:
        tr.end()
    srv.check_log_clean("deadline-log-clean")
    srv.stop()


def key_procs(srv):
    import pwd
    key = pwd.getpwnam("_popsepkey").pw_uid
    return [p for p in P.children(srv.proc.pid) if P.uid_of(p) == key]


def startups():
    srv = server("startups", **{"max-startups": "3",
                                "max-per-source": "100"})
    mark = srv.log_mark()
    held = []
    for i in range(3):
        g, c = try_greeting(srv, "127.0.0.2")
        t.check(g.startswith(b"+OK"), "startup-%d-greeted" % i, repr(g))
        held.append(c)
    g, c = try_greeting(srv, "127.0.0.3")
    t.check(g.startswith(BUSY), "fourth-unauthenticated-refused", repr(g))
    t.check("refused: max-startups: 3 sessions not logged in" in
            srv.log_since(mark), "max-startups-refusal-logged")
    # One of the three logs in: it leaves the unauthenticated count.
    c = held[0]
    c.cmd("USER " + USER)
    r = c.cmd("PASS " + PASS)
    t.check(r.startswith(b"+OK"), "one-of-them-logs-in", repr(r))

    def greeted():
        g, c = try_greeting(srv, "127.0.0.3")
        if c is not None:
            held.append(c)
        return g.startswith(b"+OK")
    t.check(P.wait_for(greeted, 5, 0.2), "a-new-connection-served-after-login")
    for c in held:
        if c is not None:
            c.close()
    srv.check_log_clean("startups-log-clean")
    srv.stop()


def fail_on(srv, src, passwords, user=USER):
    """One connection, one PASS per password; the replies."""
    g, c = try_greeting(srv, src)
    if c is None or not g.startswith(b"+OK"):
        return [g]
    out = [g]
    try:
        for pw in passwords:
            out.append(c.cmd("USER " + user))
            out.append(c.cmd("PASS " + pw))
    except (OSError, EOFError) as e:
        out.append(str(e).encode())
    c.close()
    return out


def brute_force():
    srv = server("block", **{"block-threshold": "4", "block-window": "60",
                             "block-time": "4"})
    mark = srv.log_mark()
    r = fail_on(srv, "127.0.0.4", ["guess-a", "guess-b", "guess-c"])
    t.check(len(r) == 7 and all(x.startswith(b"-ERR [AUTH]") for x in
                                r[2::2]), "three-failures-on-one-connection",
            repr(r))
    added = [int(x) for x in re.findall(
        r"login failure \d of this connection: (\d+) ms added",
        srv.log_since(mark))]
    t.eq(added, [0, 1000, 2000], "each-further-failure-waits-longer")
    r = fail_on(srv, "127.0.0.4", ["guess-d"])
    t.check(len(r) == 3 and r[2].startswith(b"-ERR [AUTH]"),
            "fourth-distinct-failure", repr(r))
    g, c = try_greeting(srv, "127.0.0.4")
    t.check(g.startswith(BLOCKED), "address-blocked-after-distinct-failures",
            repr(g))
    if c is not None:
        c.close()
    t.check(re.search(r"127\.0\.0\.4: 4 different wrong passwords within 60 "
                      r"seconds; connections from it are refused for 4 "
                      r"seconds", srv.log_since(mark)),
            "block-logged-with-the-address", srv.log_since(mark)[-1000:])
    r = login_from(srv, "127.0.0.5", USER, PASS)
    t.check(logged_in(r), "other-address-served-during-the-block", repr(r))
    t.check(P.wait_for(lambda: logged_in(login_from(
        srv, "127.0.0.4", USER, PASS)), 15, 0.5),
        "blocked-address-served-after-block-time")
    srv.check_log_clean("block-log-clean")
    srv.stop()


def stale_password():
    srv = server("stale", **{"block-threshold": "3", "block-window": "60",
                             "block-time": "60"})
    mark = srv.log_mark()
    for i in range(4):
        r = fail_on(srv, "127.0.0.6", ["old-saved-pass"])
        t.check(len(r) == 3 and r[2].startswith(b"-ERR [AUTH]"),
                "stale-attempt-%d-answered-not-blocked" % i, repr(r))
    log = srv.log_since(mark)
    n = len(re.findall(r"127\.0\.0\.6: the same wrong password for "
                       r"\"%s\" again: likely a client with a stale saved "
                       r"password" % USER, log))
    t.eq(n, 1, "stale-password-logged-once")
    added = [int(x) for x in re.findall(
        r"login failure 1 of this connection: (\d+) ms added", log)]
    t.check(added[:2] == [0, 0] and added[2:] == [3000, 3000],
            "stale-client-slowed-after-it-is-recognised", repr(added))
    t.check("different wrong passwords" not in log, "stale-not-blocked")
    t.check("old-saved-pass" not in srv.read_log(), "password-never-logged")
    r = login_from(srv, "127.0.0.6", USER, PASS)
    t.check(logged_in(r), "stale-address-still-logs-in", repr(r))
    srv.check_log_clean("stale-log-clean")
    srv.stop()


def tls_handshake(srv, src):
    g, c = try_greeting(srv, src, tls=True)
    if c is not None:
        c.close()
    return g.startswith(b"+OK")


def tls_share():
    # A quarter of 4 per second for one address: a bucket of 2.
    srv = server("tlsshare", **{"tls-sign-rate": "4",
                                "max-per-source": "100"})
    mark = srv.log_mark()
    one = [tls_handshake(srv, "127.0.0.7") for i in range(12)]
    t.check(1 <= one.count(True) <= 4 and one.count(False) >= 8,
            "one-address-gets-its-share-only", repr(one))
    t.check("refused: signature rate limit reached for this client address"
            in srv.log_since(mark), "per-address-refusal-logged")
    t.check(tls_handshake(srv, "127.0.0.8"),
            "another-address-handshakes-while-the-first-is-refused")
    srv.check_log_clean("tlsshare-log-clean")
    srv.stop()


def junk_logs():
    srv = server("junk")
    mark = srv.log_mark()
    g, c = try_greeting(srv, "127.0.0.9")
    for i in range(25):
        try:
            c.cmd("JUNK%d" % i)
        except (OSError, EOFError):
            break
    c.closed()
    ok = P.wait_for(lambda: "session ended" in srv.log_since(mark), 10)
    log = srv.log_since(mark)
    n = len(re.findall(r"Unknown command", log))
    t.check(ok and 1 <= n <= 6, "junk-connection-logs-a-few-lines",
            "%d lines:\n%s" % (n, log[-1500:]))
    t.check(re.search(r"\(repeated 1[0-9] times\)", log),
            "junk-lines-counted-at-the-end", log[-1500:])
    srv.check_log_clean("junk-log-clean")
    srv.stop()


def status_field(pid, key):
    return (P.proc_status(pid) or {}).get(key)


def core_limit(pid):
    try:
        with open("/proc/%d/limits" % pid) as f:
            for line in f:
                if line.startswith("Max core file size"):
                    return line.split()[4:6]
    except OSError:
        pass
    return None


def processes():
    srv = server("procs")
    c = P.RawPop(srv, tls=True)
    c.cmd("USER " + USER)
    t.check(c.cmd("PASS " + PASS).startswith(b"+OK"), "procs-login")
    import pwd
    net = pwd.getpwnam("_popsep").pw_uid
    mons = [p for p in P.children(srv.proc.pid) if P.uid_of(p) == 0]
    t.eq(len(mons), 1, "one-monitor")
    mon = mons[0]
    kids = P.children(mon)
    netc = [p for p in kids if P.uid_of(p) == net]
    spool = [p for p in kids if P.uid_of(p) == P.VIRT_UID]
    keys = key_procs(srv)
    t.check(len(netc) == 1 and len(spool) == 1 and len(keys) == 1,
            "procs-found", repr((kids, keys)))
    for name, pids in (("net", netc), ("spool", spool), ("key", keys)):
        for p in pids:
            t.eq(status_field(p, "CapBnd"), "0000000000000000",
                 "%s-capability-bounding-set-empty" % name)
            # Not dumpable: /proc/PID belongs to root, not to the user.
            t.eq(os.stat("/proc/%d/status" % p).st_uid, 0,
                 "%s-not-dumpable" % name)
    for name, p in (("master", srv.proc.pid), ("monitor", mon),
                    ("key", keys[0] if keys else 0)):
        t.eq(core_limit(p), ["0", "0"], "%s-no-core-dumps" % name)
    # The network child must not outlive its monitor.
    os.kill(mon, signal.SIGKILL)
    t.check(P.wait_for(lambda: all(P.gone(p) for p in netc + spool), 5),
            "net-child-and-worker-die-with-the-monitor")
    t.check(c.closed(5), "client-connection-closed-with-the-session")
    t.check(P.wait_for(lambda: srv.works(USER)[0], 10),
            "served-again-after-the-monitor-was-killed")
    srv.stop()


def medians(srv, user_known, samples):
    """Seconds from PASS to the reply, unknown user and wrong password
    interleaved, one failure per connection; (median unknown, median
    wrong, the replies with the user name taken out)."""
    unknown, wrong, replies = [], [], set()
    for i in range(samples):
        for user, out in (("popsep-e2e-nosuchuser", unknown),
                          (user_known, wrong)):
            c = P.RawPop(srv)
            c.cmd("USER " + user)
            pw = "wrong-%d-%d" % (i, random.randrange(1 << 30))
            c.send("PASS %s\r\n" % pw)
            t0 = time.monotonic()
            r = c.line()
            out.append(time.monotonic() - t0)
            c.close()
            replies.add(r.replace(user.encode(), b"USER"))
    return statistics.median(unknown), statistics.median(wrong), replies


PAM_USER = "popsep-e2e-gpam"         # not the other tests' PAM user
PAM_PASS = "gp4m pass"


def enumeration():
    P.create_system_user(t, PAM_USER, PAM_PASS)
    opts = {"auth-fail-delay": "300", "block-window": "1",
            "block-threshold": str(64)}
    for kind in ("pam", "passwd-file"):
        o = dict(opts)
        if kind == "pam":
            o["passwd-file"] = None
        srv = P.Server(t, "enum-" + kind, cleartext="always", options=o)
        if kind == "pam":
            srv.add_system_user(PAM_USER, PAM_PASS)
            user = PAM_USER
        else:
            srv.add_virtual_user(USER, PASS)
            user = USER
        srv.start()
        for attempt in range(2):
            a, b, replies = medians(srv, user, 12)
            diff = abs(a - b) / max(a, b)
            if diff < 0.10:
                break
        t.check(diff < 0.10, "%s-unknown-user-and-wrong-password-same-time"
                % kind, "medians %.3f s and %.3f s" % (a, b))
        t.eq(replies, {b'-ERR [AUTH] Password supplied for "USER" is '
                       b'incorrect.'},
             "%s-unknown-user-and-wrong-password-same-reply" % kind)
        srv.check_log_clean("enum-%s-log-clean" % kind)
        srv.stop()


ONLY = os.environ.get("GUARD_ONLY")
for name, fn in (("per-source", per_source),
                 ("login-deadline", login_deadline),
                 ("startups", startups),
                 ("brute-force", brute_force),
                 ("stale-password", stale_password),
                 ("tls-share", tls_share),
                 ("junk-logs", junk_logs),
                 ("processes", processes),
                 ("enumeration", enumeration)):
    if ONLY is None or ONLY == name:
        t.run(name, fn)
t.done()
