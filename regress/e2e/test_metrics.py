#!/usr/bin/env python3
"""
The OpenMetrics endpoint (metrics-listen) and file (metrics-file) of a
live daemon.

- Real sessions move each counter by exactly what they did: logins that
  succeed (passwd-file and PAM) and fail, a RETR and a TOP (messages and
  bytes), a DELE then QUIT (deleted messages and bytes, one update), a
  TLS session, connections refused by max-per-source, and the sessions
  gauge while sessions are parked before and after login.
- The text parses: every family has TYPE and HELP before its samples,
  samples belong to the family announced last, "# EOF" is the last line;
  with python3-prometheus-client, its OpenMetrics parser reads it too.
- Scraped with curl and with urllib: status, content type, a body that
  is the whole text.
- Bad requests get 405 (POST), 404 (another path), 400 (a line too long,
  a line that is not HTTP); a client that never sends a line is closed;
  none of them stops the metrics process or the daemon.
- The metrics process runs as privsep-user (_popsep), in chroot-dir,
  under seccomp (mode 2), with no capabilities and no-new-privs.
- metrics-file is written and replaced by rename (a new inode), never
  left half-written, at mode 0644.
- metrics-listen without an address is refused by the configuration.
"""

import os
import pwd
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import popseptest as P  # noqa: E402

P.need_root()
t = P.Test("metrics")

CTYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
VUSER, VPASS = "popsep-e2e-mx", "mx-pass one"
DUSER, DPASS = "popsep-e2e-mxdel", "mx-pass two"
PER_SOURCE = 3

r = P.run(["sh", os.path.join(P.TOP, "etc", "users.sh")])
if r.returncode != 0:
    t.fail("users.sh", r.stderr)
NET_PW = pwd.getpwnam("_popsep")
P.create_system_user(t, groups=())

MX_PORT = P.free_ports(1)[0]
srv = P.Server(t, "mx", cleartext="always", options={
    "metrics-listen": "127.0.0.1:%d" % MX_PORT,
    "max-per-source": str(PER_SOURCE),
    "auth-fail-delay": "0",
})
MX_FILE = os.path.join(srv.dir, "metrics.txt")
srv.options["metrics-file"] = MX_FILE
srv.options["metrics-interval"] = "1"
srv.add_virtual_user(VUSER, VPASS)
srv.add_virtual_user(DUSER, DPASS)
srv.add_system_user()
MSG1 = P.message(1, b"first", b"Hello.\nSecond line.\nThird.\n")
MSG2 = P.message(2, b"second", b"Another body.\n")
srv.mbox(VUSER, [MSG1, MSG2])
dbox = srv.mbox(DUSER, [MSG1, MSG2])
srv.mbox(P.SYS_USER, [MSG2])
srv.start()
URL = "http://127.0.0.1:%d/metrics" % MX_PORT


# ---------------------------------------------------------------- parsing

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')
SUFFIXES = {"counter": ("_total",), "gauge": ("",),
            "histogram": ("_bucket", "_count", "_sum")}


def structure(text):
    """Problems with the text's structure (empty list: none), and the
    samples as {(name, labels): value}."""
    bad, samples = [], {}
    lines = text.split("\n")
    if not text.endswith("# EOF\n"):
        bad.append("does not end with '# EOF\\n'")
    lines = lines[:-1]
    fam, ftype, seen_help, seen_type = None, None, set(), set()
    for i, ln in enumerate(lines):
        if ln == "# EOF":
            if i != len(lines) - 1:
                bad.append("# EOF before the end (line %d)" % (i + 1))
            continue
        if ln.startswith("# "):
            f = ln.split(" ", 3)
            if len(f) < 4 or f[1] not in ("TYPE", "HELP", "UNIT"):
                bad.append("bad metadata line %r" % ln)
                continue
            if f[2] != fam:
                fam, ftype = f[2], None
            if f[1] == "TYPE":
                ftype = f[3]
                seen_type.add(fam)
            elif f[1] == "HELP":
                seen_help.add(fam)
            continue
        m = SAMPLE.match(ln)
        if not m:
            bad.append("bad sample line %r" % ln)
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        if fam not in seen_type or fam not in seen_help:
            bad.append("sample %s without TYPE and HELP before it" % name)
        elif not any(name == fam + s for s in SUFFIXES.get(ftype, ())):
            bad.append("sample %s outside its family %s" % (name, fam))
        try:
            samples[(name, labels)] = float(value)
        except ValueError:
            bad.append("bad value %r" % ln)
    return bad, samples


def scrape():
    """(status, content type, text) by urllib."""
    try:
        with urllib.request.urlopen(URL, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), \
                r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def values():
    st, ct, text = scrape()
    return structure(text)[1] if st == 200 else {}


def get(v, name, **labels):
    lab = ",".join('%s="%s"' % (k, x) for k, x in labels.items())
    return v.get((name, "{%s}" % lab if lab else ""), 0.0)


def login_key(result, mech):
    return ("popsep_logins_total", '{result="%s",mech="%s"}' % (result, mech))


def delta(before, after):
    keys = set(before) | set(after)
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in keys
            if after.get(k, 0.0) != before.get(k, 0.0)}


def settle(pred, timeout=15):
    """The values once pred(values) holds (a monitor reports its end just
    after the client saw QUIT's answer), or the last ones read."""
    last = {}

    def one():
        nonlocal last
        last = values()
        return pred(last)
    P.wait_for(one, timeout, 0.1)
    return last


def ended(n):
    return lambda v: get(v, "popsep_sessions_ended_total") >= n and \
        get(v, "popsep_sessions", state="unauthenticated") == 0 and \
        get(v, "popsep_sessions", state="authenticated") == 0


# ---------------------------------------------------------------- checks

def check_format():
    st, ct, text = scrape()
    t.eq(st, 200, "urllib-status-200")
    t.eq(ct, CTYPE, "urllib-content-type")
    bad, samples = structure(text)
    t.eq(bad, [], "structure-type-help-before-samples-eof-last")
    t.check(("popsep_connections_total", "") in samples,
            "has-connections-total")
    r = P.run(["curl", "-sS", "-D", "-", "-o", "-", URL], timeout=30)
    out = r.stdout.decode("utf-8", "replace")
    head, _, body = out.partition("\r\n\r\n")
    t.eq(r.returncode, 0, "curl-exit-0")
    t.check(head.startswith("HTTP/1.1 200 OK"), "curl-status-200", head)
    t.check("\r\nContent-Type: %s" % CTYPE in head, "curl-content-type",
            head)
    t.eq(structure(body)[0], [], "curl-body-parses")
    m = re.search(r"\r\nContent-Length: (\d+)", head)
    t.check(m and int(m.group(1)) == len(body.encode()),
            "curl-content-length-matches", head)
    try:
        try:
            from prometheus_client.openmetrics import parser
        except ImportError:
            sys.path.append("/usr/lib/python3/dist-packages")
            from prometheus_client.openmetrics import parser
    except ImportError:
        t.skip("prometheus-client-parses", "python3-prometheus-client "
               "not installed")
        return
    try:
        fams = {f.name: f for f in parser.text_string_to_metric_families(
            text)}
        ok = fams.get("popsep_logins") is not None and \
            fams["popsep_logins"].type == "counter" and \
            fams["popsep_lock_wait_seconds"].type == "histogram" and \
            fams["popsep_sessions"].type == "gauge"
        t.check(ok, "prometheus-client-parses", sorted(fams))
    except Exception as e:
        t.fail("prometheus-client-parses", repr(e))


def run_sessions():
    """Sessions of known effect; the counters moved by exactly that."""
    before = settle(ended(0))
    # A passwd-file login, RETR 1 and TOP 2 0, QUIT without deleting.
    c = srv.login(VUSER, tls=False)
    r, body = c.retr(1)
    octets = int(r.split()[1])
    rt, tbody = c.multi_cmd("TOP 2 0")
    c.cmd("QUIT")
    c.close()
    # Two wrong passwords on one connection, then the right one.
    c = srv.connect()
    fails = []
    for i in range(2):
        c.cmd("USER " + VUSER)
        fails.append(c.cmd("PASS wrong-%d" % i))
    c.cmd("USER " + VUSER)
    okr = c.cmd("PASS " + VPASS)
    c.cmd("QUIT")
    c.close()
    t.check(all(f.startswith(b"-ERR") for f in fails) and
            okr.startswith(b"+OK"), "failed-then-ok-login", fails)
    # A PAM login over implicit TLS, DELE 1 of the other box, then QUIT.
    c = srv.login(P.SYS_USER, tls=True)
    c.cmd("QUIT")
    c.close()
    c = srv.login(DUSER, tls=False)
    dele = c.cmd("DELE 1")
    q = c.cmd("QUIT")
    c.close()
    t.check(dele.startswith(b"+OK") and q.startswith(b"+OK"),
            "dele-quit", (dele, q))
    after = settle(ended(get(before, "popsep_sessions_ended_total") + 4))
    d = delta(before, after)
    want = {
        ("popsep_connections_total", ""): 4,
        ("popsep_sessions_ended_total", ""): 4,
        login_key("ok", "passwd-file"): 3,
        login_key("ok", "pam"): 1,
        ("popsep_tls_handshakes_total", ""): 1,
        ("popsep_served_messages_total", '{command="retr"}'): 1,
        ("popsep_served_bytes_total", '{command="retr"}'): octets,
        ("popsep_served_messages_total", '{command="top"}'): 1,
        ("popsep_served_bytes_total", '{command="top"}'): len(tbody),
        ("popsep_deleted_messages_total", ""): 1,
        ("popsep_deleted_bytes_total", ""): len(P.wire(MSG1)),
        ("popsep_lock_wait_seconds_count", ""): 4,
        ("popsep_update_seconds_count", ""): 1,
    }
    fails = {k[1]: v for k, v in d.items()
             if k[0] == "popsep_logins_total" and 'result="fail"' in k[1]}
    t.eq(fails, {'{result="fail",mech="password"}': 2.0},
         "logins-fail-counted-twice-as-password")
    for k, v in want.items():
        t.eq(d.get(k, 0.0), float(v), "moved-%s%s" % k)
    t.eq(octets, len(body), "retr-octets-is-what-was-sent")
    t.eq(d.get(("popsep_lock_wait_seconds_bucket", '{le="+Inf"}'), 0.0),
         4.0, "lock-wait-inf-bucket")
    t.check(d.get(("popsep_update_seconds_bucket", '{le="60.0"}'), 0.0) ==
            1.0, "update-bucket-60s")
    others = {k: v for k, v in d.items() if k not in want and
              not k[0].startswith(("popsep_lock_wait", "popsep_update"))
              and not (k[0] == "popsep_logins_total" and
                       'result="fail"' in k[1])}
    t.eq(others, {}, "nothing-else-moved")
    mbox_left = open(dbox.path, "rb").read()
    t.eq(mbox_left, dbox.data([1]), "deleted-message-gone")


def run_refusals_and_gauges():
    before = settle(ended(0))
    parked = [srv.connect() for i in range(PER_SOURCE)]
    v = settle(lambda v: get(v, "popsep_sessions",
                             state="unauthenticated") == PER_SOURCE)
    t.eq(get(v, "popsep_sessions", state="unauthenticated"),
         float(PER_SOURCE), "gauge-unauthenticated-parked")
    refused = []
    for i in range(2):
        try:
            c = P.RawPop(srv, timeout=10)
            refused.append(c.greeting)
            c.close()
        except (OSError, EOFError) as e:
            refused.append(repr(e))
    t.check(all(r.startswith(b"-ERR [SYS/TEMP] Too many sessions from")
                for r in refused), "per-source-refused", refused)
    # One parked session logs in: authenticated 1, unauthenticated less.
    p = parked[0]
    p.cmd("USER " + VUSER)
    p.cmd("PASS " + VPASS)
    v = settle(lambda v: get(v, "popsep_sessions",
                             state="authenticated") == 1)
    t.eq((get(v, "popsep_sessions", state="unauthenticated"),
          get(v, "popsep_sessions", state="authenticated")),
         (float(PER_SOURCE - 1), 1.0), "gauge-after-one-login")
    for c in parked:
        try:
            c.cmd("QUIT")
        except (OSError, EOFError):
            pass
        c.close()
    after = settle(ended(get(before, "popsep_sessions_ended_total") +
                         PER_SOURCE))
    d = delta(before, after)
    t.eq(d.get(("popsep_refusals_total", '{reason="max-per-source"}'), 0),
         2.0, "refusals-max-per-source-2")
    t.eq(d.get(("popsep_connections_total", ""), 0), float(PER_SOURCE + 2),
         "connections-count-refused-too")
    t.eq(d.get(("popsep_sessions_ended_total", ""), 0), float(PER_SOURCE),
         "refused-are-not-sessions")


def answer(s):
    """Everything the server sends on s until it closes, or the error."""
    try:
        return b"".join(iter(lambda: s.recv(65536), b""))
    except OSError as e:
        return ("%r" % e).encode()
    finally:
        s.close()


def raw_http(data, shut=True, timeout=15):
    """The server's whole answer to data."""
    s = socket.create_connection(("127.0.0.1", MX_PORT), timeout)
    if data:
        s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    return answer(s)


def metrics_pid():
    for p in P.children(srv.proc.pid):
        st = P.proc_status(p)
        if st and P.ids(st, "Uid")[:1] == [NET_PW.pw_uid]:
            return p
    return None


def check_bad_requests():
    pid = metrics_pid()
    t.check(pid is not None, "metrics-process-found")
    cases = [
        ("post", b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
        ("other-path", b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n", b"404"),
        ("root-path", b"GET / HTTP/1.0\r\n\r\n", b"404"),
        ("not-http", b"hello there\r\n", b"400"),
        ("bad-version", b"GET /metrics SPDY/3\r\n", b"400"),
        ("over-long-line", b"GET /" + b"a" * 400 + b" HTTP/1.1\r\n", b"400"),
        ("nul-byte", b"GET /met\0rics HTTP/1.1\r\n", b"400"),
    ]
    for name, req, code in cases:
        out = raw_http(req)
        t.check(out.startswith(b"HTTP/1.1 " + code + b" "),
                "bad-request-%s-%s" % (name, code.decode()), out[:200])
    out = raw_http(b"POST /metrics HTTP/1.1\r\n\r\n")
    t.check(b"\r\nAllow: GET\r\n" in out, "405-names-allowed-method", out)
    out = raw_http(b"GET /metrics?x=1 HTTP/1.1\r\n\r\n")
    t.check(out.startswith(b"HTTP/1.1 200 OK") and
            out.endswith(b"# EOF\n"), "query-string-ignored", out[:200])
    # Headers sent in many pieces after the line do not cut the answer.
    out = raw_http(b"GET /metrics HTTP/1.1\r\n" + b"X-Pad: " + b"p" * 3000 +
                   b"\r\n\r\n", shut=False)
    t.check(out.endswith(b"# EOF\n"), "answer-whole-despite-headers",
            out[-100:])
    # A client that never sends a line is closed by the server, and a
    # scrape meanwhile is served.
    slow = socket.create_connection(("127.0.0.1", MX_PORT), 30)
    st, ct, text = scrape()
    t.eq(st, 200, "scrape-while-a-client-is-silent")
    t.eq(answer(slow), b"", "silent-client-closed-without-answer")
    # One that sends half a line, then nothing.
    t.eq(raw_http(b"GET /metr", shut=False, timeout=30), b"",
         "half-line-client-closed")
    t.eq(metrics_pid(), pid, "metrics-process-survived")
    t.check(srv.alive(), "daemon-alive")
    st, ct, text = scrape()
    t.eq(st, 200, "scrape-after-bad-requests")


def check_process():
    pid = metrics_pid()
    st = P.proc_status(pid) if pid else None
    if st is None:
        t.fail("metrics-process-status")
        return
    t.eq(P.ids(st, "Uid"), [NET_PW.pw_uid] * 4, "runs-as-privsep-user")
    t.eq(P.ids(st, "Gid"), [NET_PW.pw_gid] * 4, "group-of-privsep-user")
    t.eq(st.get("Groups", ""), "", "no-supplementary-groups")
    t.eq(st.get("Seccomp"), "2", "seccomp-filter-mode-2")
    t.eq(st.get("NoNewPrivs"), "1", "no-new-privs")
    t.eq(int(st.get("CapEff", "1"), 16), 0, "no-effective-capabilities")
    t.eq(int(st.get("CapBnd", "1"), 16), 0, "empty-bounding-set")
    t.eq(os.path.realpath("/proc/%d/root" % pid),
         os.path.realpath(srv.chroot), "chrooted-in-chroot-dir")
    fds = P.proc_fds(pid)
    # The sanitizer build keeps fd 2, the daemon's log under -d, for its
    # reports.
    if os.environ.get("POPSEP_SANITIZE") == "1" and fds.get(2) == srv.log:
        del fds[2]
    kinds = sorted(set(v.split(":")[0] for v in fds.values()))
    t.check(all(k in ("socket", "/dev/null") for k in kinds),
            "holds-only-sockets-and-dev-null", fds)


def check_file():
    def stat():
        try:
            return os.stat(MX_FILE)
        except FileNotFoundError:
            return None
    st1 = P.wait_for(stat, 10)
    t.check(st1 is not None, "metrics-file-written")
    if st1 is None:
        return
    t.eq(st1.st_mode & 0o777, 0o644, "metrics-file-mode-0644")
    st2 = P.wait_for(lambda: (stat() is not None and
                              stat().st_ino != st1.st_ino) and stat(), 15)
    t.check(st2 and st2.st_ino != st1.st_ino,
            "metrics-file-replaced-by-rename")
    text = open(MX_FILE).read()
    t.eq(structure(text)[0], [], "metrics-file-parses")
    # Read many times while it is replaced: always one whole snapshot.
    whole = all(open(MX_FILE).read().endswith("# EOF\n")
                for i in range(300))
    t.check(whole, "metrics-file-never-half-written")
    leftovers = [f for f in os.listdir(srv.dir)
                 if f.startswith("metrics.txt.")]
    t.check(len(leftovers) <= 1, "no-temporary-files-left", leftovers)


def check_config():
    for bad in ("9110", "*:9110", "127.0.0.1:0", "127.0.0.1:x"):
        conf = srv.write_config(os.path.join(srv.dir, "bad.conf"),
                                extra={"metrics-listen": bad})
        r = P.run([P.POPSEPD, "-n", "-f", conf], timeout=30)
        t.check(r.returncode != 0 and b"metrics-listen" in r.stderr,
                "config-refuses-metrics-listen-%s" % bad, r.stderr)
    conf = srv.write_config(os.path.join(srv.dir, "bad.conf"),
                            extra={"metrics-file": "relative.txt"})
    r = P.run([P.POPSEPD, "-n", "-f", conf], timeout=30)
    t.check(r.returncode != 0 and b"metrics-file" in r.stderr,
            "config-refuses-relative-metrics-file", r.stderr)


t.run("format", check_format)
t.run("sessions", run_sessions)
t.run("refusals", run_refusals_and_gauges)
t.run("bad-requests", check_bad_requests)
t.run("process", check_process)
t.run("file", check_file)
t.run("config", check_config)
def check_restart():
    """A metrics process killed is replaced, on the same socket, with the
    counters intact (the master holds them); one that dies within 10
    seconds of its start is not (a crash loop stops)."""
    old = metrics_pid()
    # Its start, in clock ticks since boot: wait until it is 11 s old.
    hz = os.sysconf("SC_CLK_TCK")
    with open("/proc/%d/stat" % old) as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19]) / hz
    with open("/proc/uptime") as f:
        age = float(f.read().split()[0]) - start
    P.wait_for(lambda: False, max(0.0, 11 - age))
    before = values()
    mark = srv.log_mark()
    P.kill_pids([old])
    new = P.wait_for(lambda: metrics_pid() not in (None, old) and
                     metrics_pid(), 10)
    t.check(new and new != old, "metrics-process-restarted")
    t.check("metrics process gone; starting a new one" in
            srv.log_since(mark), "restart-logged")
    after = P.wait_for(values, 10)
    t.eq(get(after, "popsep_connections_total"),
         get(before, "popsep_connections_total"), "counters-kept")
    st = P.proc_status(new) if new else None
    t.eq(st and st.get("Seccomp"), "2", "restarted-one-sandboxed")
    mark = srv.log_mark()
    P.kill_pids([new])
    t.check(P.wait_for(lambda: "served no more" in srv.log_since(mark), 10),
            "quick-death-not-restarted")
    t.eq(metrics_pid(), None, "no-metrics-process-after-quick-death")
    t.check(srv.alive() and srv.works(VUSER, tls=False)[0],
            "daemon-serves-without-metrics")


srv.check_log_clean()
t.run("restart", check_restart)
t.done()
