#!/usr/bin/env python3
#
# Copyright (c) 2026 The popsep authors
#
# Permission to use, copy, modify, and distribute this software for any
# purpose with or without fee is hereby granted, provided that the above
# copyright notice and this permission notice appear in all copies.
#
# THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
# WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
# MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
# ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
# WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
# ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
# OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
#
"""
Installation and packaging, with the files as installed:

- make install DESTDIR=... lays out exactly the expected files and the
  empty chroot, creates no users and says what a packager must do; a
  second install keeps a changed configuration; make uninstall removes
  everything it laid out but a changed configuration.
- The systemd units pass systemd-analyze verify (and a broken copy does
  not), their security scores are the ones their comments give, and the
  capability bounding set of popsepd.service is enough for a session
  (login, RETR, DELE, QUIT) under setpriv, while the same set without
  CAP_SETUID is not.
- popsep-pop3.socket and popsep-pop3s.socket with their @.service
  templates, run by systemd-socket-activate, and the shipped inetd.conf
  lines and xinetd samples under openbsd-inetd and xinetd, serve real
  sessions; only the ports and paths are changed.
- The README's Installing section on a "fresh" system: an overlay of this
  machine's root (a private mount and network namespace, nothing written
  below it), where make install, popsepd -n and popsepd -f serve a real
  PAM user with curl on ports 110 and 995.
- The Debian package: dpkg-buildpackage -us -uc -b, lintian without
  errors or warnings, then in another such overlay dpkg -i (users and
  certificate made), the daemon started as popsepd.service starts it,
  mail read with curl, dpkg --purge, and nothing of it left but the
  system users and the mail.
"""

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import popseptest as P  # noqa: E402

P.need_root()
t = P.Test("install")
TOP = os.path.abspath(P.TOP)
BUILD = os.environ.get("POPSEP_BUILD") or os.path.join(TOP, "build")
SANITIZE = bool(os.environ.get("POPSEP_SANITIZE"))
USER, USERPW = "popsep-e2e-inst", "inst-pw"
UNITS = ["popsepd.service", "popsep-pop3@.service", "popsep-pop3s@.service",
         "popsep-pop3.socket", "popsep-pop3s.socket"]
LAYOUT = {                          # path below DESTDIR: mode
    "usr/sbin/popsepd": 0o755,
    "usr/sbin/popauth": 0o711,      # set-uid _popauth only off DESTDIR
    "usr/share/man/man8/popsepd.8": 0o644,
    "usr/share/man/man8/popauth.8": 0o644,
    "usr/share/man/man5/popsepd.conf.5": 0o644,
    "usr/share/man/man7/popsep-privsep.7": 0o644,
    "usr/lib/popsep/make-cert": 0o755,
    "usr/share/doc/popsep/examples/popsepd.conf": 0o644,
    "usr/share/doc/popsep/examples/pop3s.conf": 0o644,
    "usr/share/doc/popsep/examples/inetd.conf": 0o644,
    "usr/share/doc/popsep/examples/xinetd.d/popsep-pop3": 0o644,
    "usr/share/doc/popsep/examples/xinetd.d/popsep-pop3s": 0o644,
    "etc/popsep/popsepd.conf": 0o644,
    "etc/popsep/pop3s.conf": 0o644,
    "etc/pam.d/popsep": 0o644,
}
LAYOUT.update({"usr/lib/systemd/system/" + u: 0o644 for u in UNITS})


def make(*args):
    cmd = ["make", "--no-print-directory", "-C", TOP,
           "BUILD=" + os.path.relpath(BUILD, TOP)]
    if SANITIZE:
        cmd.append("SANITIZE=1")
    return P.run(cmd + list(args), timeout=600)


def files_below(top):
    out = set()
    for d, dirs, files in os.walk(top):
        for f in files:
            out.add(os.path.relpath(os.path.join(d, f), top))
    return out


def read(path):
    with open(path) as f:
        return f.read()


def text(r):
    return (r.stdout + r.stderr).decode("utf-8", "replace")


# ---------------------------------------------------------------- make install

def destdir_install(dest):
    r = make("install", "PREFIX=/usr", "DESTDIR=" + dest)
    if not t.eq(r.returncode, 0, "destdir-install-exit-0"):
        sys.stderr.write(text(r)[-3000:])
        return False
    out = text(r)
    got = files_below(dest)
    t.eq(sorted(got), sorted(LAYOUT), "destdir-files-exactly")
    bad = ["%s %o" % (p, stat.S_IMODE(os.stat(os.path.join(dest, p)).st_mode))
           for p, m in LAYOUT.items() if p in got and
           stat.S_IMODE(os.stat(os.path.join(dest, p)).st_mode) != m]
    t.check(not bad, "destdir-modes", bad)
    chroot = os.path.join(dest, "var/lib/popsep/empty")
    st = os.lstat(chroot) if os.path.lexists(chroot) else None
    t.check(st is not None and stat.S_ISDIR(st.st_mode) and
            stat.S_IMODE(st.st_mode) == 0o755 and st.st_uid == 0 and
            not os.listdir(chroot), "destdir-chroot-empty-root-0755")
    left = [p for p in got if re.search(r"@[A-Z]+@", read(os.path.join(
        dest, p)) if not p.endswith(("popsepd", "popauth")) else "")]
    t.check(not left, "destdir-no-placeholders-left", left)
    units = os.path.join(dest, "usr/lib/systemd/system")
    t.check("ExecStart=/usr/sbin/popsepd -f /etc/popsep/popsepd.conf" in
            read(os.path.join(units, "popsepd.service")),
            "destdir-unit-names-prefix-paths")
    t.check("no users" in out and
            "/usr/lib/popsep/make-cert /etc/popsep/cert.pem" in out and
            "_popsep, _popsepkey and _popauth" in out,
            "destdir-says-what-a-packager-must-do", out[-1500:])
    t.check(not os.path.exists(os.path.join(dest, "etc/popsep/cert.pem")),
            "destdir-no-certificate-made")
    binary = os.path.join(dest, "usr/sbin/popsepd")
    # -n as root loads the certificate: one made for the check, at the
    # place the shipped files name, in a copy of each.
    cert, key = os.path.join(dest, "cert.pem"), os.path.join(dest, "key.pem")
    P.make_cert(cert, key)
    for conf in ("popsepd.conf", "pop3s.conf"):
        copy = os.path.join(dest, "check-" + conf)
        P.write_file(copy, read(os.path.join(dest, "etc/popsep", conf))
                     .replace("/etc/popsep/cert.pem", cert)
                     .replace("/etc/popsep/key.pem", key).encode(),
                     0, 0, 0o644)
        r = P.run([binary, "-n", "-f", copy])
        t.check(r.returncode == 0 and b"configuration OK" in r.stdout,
                "destdir-%s-passes-popsepd-n" % conf, text(r))
        os.unlink(copy)
    os.unlink(cert)
    os.unlink(key)
    a = read(os.path.join(dest, "etc/popsep/popsepd.conf")).splitlines()
    b = read(os.path.join(dest, "etc/popsep/pop3s.conf")).splitlines()
    t.eq([(x, y) for x, y in zip(a, b) if x != y],
         [("set tls-support = stls", "set tls-support = alternate-port")],
         "destdir-pop3s-conf-differs-by-tls-support-only")
    return True


def destdir_reinstall_uninstall(dest):
    conf = os.path.join(dest, "etc/popsep/popsepd.conf")
    with open(conf, "a") as f:
        f.write("set timeout = 300\n")
    changed = read(conf)
    r = make("install", "PREFIX=/usr", "DESTDIR=" + dest)
    t.check(r.returncode == 0 and read(conf) == changed and
            "popsepd.conf exists; kept" in text(r),
            "reinstall-keeps-changed-config", text(r)[-1500:])
    r = make("uninstall", "PREFIX=/usr", "DESTDIR=" + dest)
    t.eq(r.returncode, 0, "uninstall-exit-0")
    t.eq(sorted(files_below(dest)), ["etc/popsep/popsepd.conf"],
         "uninstall-leaves-only-the-changed-config")
    t.check("was changed; kept" in text(r), "uninstall-says-config-kept",
            text(r)[-1500:])
    gone = [d for d in ("var/lib/popsep", "usr/lib/popsep",
                        "usr/share/doc/popsep") if
            os.path.lexists(os.path.join(dest, d))]
    t.check(not gone, "uninstall-removes-its-directories", gone)
    os.unlink(conf)
    make("install", "PREFIX=/usr", "DESTDIR=" + dest)
    r = make("uninstall", "PREFIX=/usr", "DESTDIR=" + dest)
    t.check(r.returncode == 0 and not files_below(dest) and
            not os.path.lexists(os.path.join(dest, "etc/popsep")),
            "install-then-uninstall-leaves-no-file",
            sorted(files_below(dest)))


# ---------------------------------------------------------------- units

def unit_copy(dest, unit, out):
    """The installed unit with popsepd's path made the DESTDIR one."""
    s = read(os.path.join(dest, "usr/lib/systemd/system", unit))
    s = s.replace("/usr/sbin/popsepd", os.path.join(dest, "usr/sbin/popsepd"))
    path = os.path.join(out, unit)
    with open(path, "w") as f:
        f.write(s)
    return path


def units_verify(dest, work):
    sa = shutil.which("systemd-analyze")
    if sa is None:
        t.skip("units-verify", "systemd-analyze is not installed")
        return
    d = os.path.join(work, "units")
    os.makedirs(d, exist_ok=True)
    paths = [unit_copy(dest, u, d) for u in UNITS]
    env = dict(os.environ, MANPATH=os.path.join(dest, "usr/share/man"))
    r = P.run([sa, "verify"] + paths, env=env, cwd=d)
    t.check(r.returncode == 0 and not r.stderr.strip(),
            "units-systemd-analyze-verify", text(r))
    # The same check on a broken copy must fail.
    bad = os.path.join(work, "bad")
    os.makedirs(bad, exist_ok=True)
    with open(os.path.join(bad, "popsepd.service"), "w") as f:
        f.write(read(paths[0]).replace("ExecStart=/", "ExecStart="))
    r = P.run([sa, "verify", os.path.join(bad, "popsepd.service")], env=env)
    t.check(r.returncode != 0, "units-verify-rejects-a-broken-unit", text(r))
    for unit in ("popsepd.service", "popsep-pop3@.service"):
        r = P.run([sa, "security", "--offline=yes", os.path.join(d, unit)])
        m = re.search(rb"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
        said = re.search(r"\(systemd \d+\): ([0-9.]+) ", read(
            os.path.join(d, unit)))
        if m is None:
            t.skip("units-security-" + unit, "systemd-analyze security "
                   "--offline is not available: " + text(r)[-200:])
            continue
        t.eq(m.group(1).decode(), said.group(1) if said else None,
             "units-security-score-as-documented-" + unit)


def unit_exec(dest, unit):
    """ExecStart of an installed unit as an argv, without the "-"."""
    for ln in read(os.path.join(dest, "usr/lib/systemd/system",
                                unit)).splitlines():
        if ln.startswith("ExecStart="):
            return ln[len("ExecStart="):].lstrip("-").split()
    return None


def unit_value(dest, unit, key):
    for ln in read(os.path.join(dest, "usr/lib/systemd/system",
                                unit)).splitlines():
        if ln.startswith(key + "="):
            return ln[len(key) + 1:]
    return None


# ---------------------------------------------------------------- sessions

def test_config(srv, dest, conf, path):
    """An installed configuration with the test's paths: certificate,
    spool, chroot, cache, a passwd-file user; nothing else changed."""
    s = read(os.path.join(dest, "etc/popsep", conf))
    repl = {"tls-server-cert-file": srv.cert, "tls-private-key-file": srv.key,
            "spool-dir": srv.spool, "pid-file": os.path.join(srv.dir, "pid")}
    out = []
    for ln in s.splitlines():
        m = re.match(r"set ([a-z-]+) = ", ln)
        if m and m.group(1) in repl:
            ln = "set %s = %s" % (m.group(1), repl[m.group(1)])
        elif m and m.group(1) in ("listen", "listen-tls"):
            continue
        out.append(ln)
    out += ["set chroot-dir = " + srv.chroot,
            "set cache-dir = " + os.path.join(srv.dir, "cache"),
            "set passwd-file = " + srv.passwd, "set auth-fail-delay = 150"]
    P.write_file(path, ("\n".join(out) + "\n").encode(), 0, 0, 0o644)
    return path


def session(srv, label, port, implicit, box, n):
    """Log in (STLS or TLS), RETR message n, DELE it, QUIT: the update
    must remove exactly that message."""
    try:
        c = P.RawPop(srv, tls=implicit, port=port)
        if not implicit:
            c.stls()
        r1 = c.cmd("USER " + USER)
        r2 = c.cmd("PASS " + USERPW)
        if not t.check(r1.startswith(b"+OK") and r2.startswith(b"+OK"),
                       label + "-login", (r1, r2, srv.read_log()[-1500:])):
            return
        r, body = c.retr(1)
        t.eq(body, box.expected(n), label + "-retr")
        c.cmd("DELE 1")
        t.check(c.cmd("QUIT").startswith(b"+OK"), label + "-quit")
        c.close()
        t.check(P.wait_for(lambda: box.read() == box.data(range(n + 1, len(
            box.messages))), 5), label + "-dele-quit-update")
    except Exception as e:
        t.fail(label + "-session", repr(e))


def new_box(srv):
    msgs = [P.message(i, b"install %d" % i, b"body %d\n.dot\n" % i)
            for i in range(1, 9)]
    return srv.mbox(USER, msgs)


def start(label, cmd, ports, log, env=None):
    logf = open(log, "ab")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                            stderr=logf, start_new_session=True, env=env)
    logf.close()
    t.cleanup(P.stop_process, proc)
    ok = P.wait_for(lambda: proc.poll() is not None or
                    all(P.listening(p) for p in ports), 10)
    if not t.check(ok and proc.poll() is None, label + "-listening",
                   read(log)[-2000:]):
        return None
    return proc


def confined(caps):
    """setpriv with a unit's CapabilityBoundingSet and NoNewPrivileges,
    or nothing if setpriv is missing."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return []
    return [setpriv, "--bounding-set", "-all," + ",".join(
        "+" + c[4:].lower() for c in caps), "--no-new-privs"]


def socket_activation(dest, srv, box):
    sa = shutil.which("systemd-socket-activate")
    if sa is None:
        t.skip("socket-activation", "systemd-socket-activate is not installed")
        return
    n = 0
    for sock, conf, implicit in (("popsep-pop3.socket", "popsepd.conf", False),
                                 ("popsep-pop3s.socket", "pop3s.conf", True)):
        label = "socket-" + sock.split(".")[0]
        tmpl = sock.replace(".socket", "@.service")
        listen = unit_value(dest, sock, "ListenStream")
        accept = unit_value(dest, sock, "Accept")
        argv = unit_exec(dest, tmpl)
        t.check(listen in ("110", "995") and accept == "yes" and
                unit_value(dest, tmpl, "StandardInput") == "socket" and
                argv[-2:] == ["-f", "/etc/popsep/" + conf],
                label + "-unit-as-expected", (listen, accept, argv))
        port = P.free_ports(1)[0]
        argv[0] = os.path.join(dest, argv[0].lstrip("/"))
        argv[-1] = test_config(srv, dest, conf,
                               os.path.join(srv.dir, "sa-" + conf))
        caps = unit_value(dest, tmpl, "CapabilityBoundingSet").split()
        proc = start(label, [sa, "-l", "127.0.0.1:%d" % port, "--inetd",
                             "-a"] + confined(caps) + argv, [port],
                     os.path.join(srv.dir, label + ".log"))
        if proc is None:
            continue
        session(srv, label, port, implicit, box, n)
        n += 1
        P.stop_process(proc)


def inetd_sample(dest, srv, box):
    inetd = shutil.which("inetd") or "/usr/sbin/inetd"
    if not os.path.exists(inetd):
        t.skip("inetd-sample", "openbsd-inetd is not installed")
        return
    ports = P.free_ports(2)
    lines = []
    for ln in read(os.path.join(dest, "usr/share/doc/popsep/examples/"
                                "inetd.conf")).splitlines():
        if ln.startswith("#") or not ln.strip():
            continue
        f = ln.split()
        conf = os.path.basename(f[-1])
        f[0] = "127.0.0.1:%d" % ports[len(lines)]
        f[5] = os.path.join(dest, f[5].lstrip("/"))
        f[-1] = test_config(srv, dest, conf,
                            os.path.join(srv.dir, "inetd-" + conf))
        lines.append(" ".join(f))
    t.eq(len(lines), 2, "inetd-sample-has-pop3-and-pop3s")
    path = os.path.join(srv.dir, "inetd.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    serve_both("inetd-sample", [inetd, "-d", path], ports, srv, box)


def serve_both(label, cmd, ports, srv, box):
    """Start a super-server on two ports (STLS, then TLS) and run a
    session on each."""
    proc = start(label, cmd, ports, os.path.join(srv.dir, label + ".log"))
    if proc is None:
        return
    session(srv, label + "-pop3", ports[0], False, box, 0)
    session(srv, label + "-pop3s", ports[1], True, box, 1)
    P.stop_process(proc)


XINETD_UNPACKED = "/var/cache/popsep-test/xinetd/usr/sbin/xinetd"


def xinetd_sample(dest, srv, box):
    xinetd = shutil.which("xinetd") or (
        XINETD_UNPACKED if os.path.exists(XINETD_UNPACKED) else None)
    if xinetd is None:
        t.skip("xinetd-sample", "xinetd is neither installed nor unpacked "
               "(sh etc/deps.sh check)")
        return
    ports = P.free_ports(2)
    d = os.path.join(srv.dir, "xinetd.d")
    os.mkdir(d)
    for i, name in enumerate(("popsep-pop3", "popsep-pop3s")):
        s = read(os.path.join(dest, "usr/share/doc/popsep/examples/xinetd.d",
                              name))
        conf = "pop3s.conf" if name.endswith("s") else "popsepd.conf"
        s = re.sub(r"(\n\tport\t\t= )\d+", r"\g<1>%d\n\tbind\t\t= 127.0.0.1"
                   % ports[i], s)
        s = s.replace("/usr/sbin/popsepd",
                      os.path.join(dest, "usr/sbin/popsepd"))
        s = s.replace("/etc/popsep/" + conf, test_config(
            srv, dest, conf, os.path.join(srv.dir, "xinetd-" + conf)))
        with open(os.path.join(d, name), "w") as f:
            f.write(s)
    serve_both("xinetd-sample", xinetd_cmd(xinetd, srv, "xinetd", d), ports,
               srv, box)
    # A listed service name (pop3, in /etc/services) is tied to its port
    # there: without UNLISTED the same service is refused on another port.
    port = P.free_ports(1)[0]
    d2 = os.path.join(srv.dir, "xinetd-listed.d")
    os.mkdir(d2)
    s = read(os.path.join(d, "popsep-pop3")).replace(
        "\ttype\t\t= UNLISTED\n", "").replace("service popsep-pop3\n",
                                                 "service pop3\n")
    s = re.sub(r"(\n\tport\t\t= )\d+", r"\g<1>%d" % port, s)
    with open(os.path.join(d2, "pop3"), "w") as f:
        f.write(s)
    cmd = xinetd_cmd(xinetd, srv, "xinetd-listed", d2)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    t.cleanup(P.stop_process, proc)
    log = os.path.join(srv.dir, "xinetd-listed.filelog")
    P.wait_for(lambda: os.path.exists(log) and "Started working" in read(log))
    t.check(not P.listening(port) and "expects port 110, not %d" % port in
            read(log), "xinetd-listed-name-refused-on-another-port",
            read(log) if os.path.exists(log) else None)
    P.stop_process(proc)


def xinetd_cmd(xinetd, srv, label, includedir):
    main = os.path.join(srv.dir, label + ".conf")
    with open(main, "w") as f:
        f.write("defaults\n{\n}\nincludedir %s\n" % includedir)
    return [xinetd, "-dontfork", "-f", main, "-filelog",
            os.path.join(srv.dir, label + ".filelog"), "-pidfile",
            os.path.join(srv.dir, label + ".pid")]


def capabilities(dest, srv):
    """popsepd.service's CapabilityBoundingSet and NoNewPrivileges,
    applied with setpriv to a standalone daemon."""
    if not confined([]):
        t.skip("capabilities", "setpriv is not installed")
        return
    caps = (unit_value(dest, "popsepd.service", "CapabilityBoundingSet")
            or "").split()
    t.eq(unit_value(dest, "popsepd.service", "NoNewPrivileges"), "yes",
         "unit-no-new-privileges")
    for label, cset in (("capabilities", caps),
                        ("capabilities-without-setuid",
                         [c for c in caps if c != "CAP_SETUID"])):
        box = new_box(srv)
        ports = P.free_ports(2)
        conf = test_config(srv, dest, "popsepd.conf",
                           os.path.join(srv.dir, label + ".conf"))
        with open(conf, "a") as f:
            f.write("set listen = 127.0.0.1:%d\nset listen-tls = "
                    "127.0.0.1:%d\n" % tuple(ports))
        log = os.path.join(srv.dir, label + ".log")
        cmd = confined(cset) + [P.POPSEPD, "-d", "-f", conf]
        if label != "capabilities":
            refused(label, cmd, ports, log, srv)
            continue
        proc = start(label, cmd, ports, log)
        if proc is None:
            continue
        st = P.proc_status(proc.pid) or {}
        want = sum(1 << CAPS[c] for c in cset if c in CAPS)
        t.eq(int(st.get("CapBnd", "0"), 16), want, label + "-bounding-set")
        mark = len(read(log))
        if label == "capabilities":
            session(srv, label, ports[1], True, box, 0)
            t.check(os.path.exists(os.path.join(srv.dir, "cache", USER)),
                    label + "-cache-written")
            bad = [ln for ln in read(log)[mark:].splitlines() if
                   re.search(r"Operation not permitted|Permission denied|"
                             r"killed by signal|fatal", ln)]
            t.check(not bad, label + "-log-clean", bad)
        P.stop_process(proc)


def refused(label, cmd, ports, log, srv):
    """Without a capability it needs, popsepd must not serve: it refuses
    to start, or the session fails."""
    logf = open(log, "ab")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                            stderr=logf, start_new_session=True)
    logf.close()
    t.cleanup(P.stop_process, proc)
    P.wait_for(lambda: proc.poll() is not None or
               all(P.listening(p) for p in ports), 10)
    served = False
    if proc.poll() is None:
        try:
            c = P.RawPop(srv, tls=True, port=ports[1], timeout=10)
            c.cmd("USER " + USER)
            served = c.cmd("PASS " + USERPW).startswith(b"+OK")
            c.close()
        except Exception:
            served = False
    t.check(not served, label + "-refused", read(log)[-1500:])
    P.stop_process(proc)


CAPS = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2,
        "CAP_FOWNER": 3, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7,
        "CAP_NET_BIND_SERVICE": 10, "CAP_SYS_CHROOT": 18,
        "CAP_AUDIT_WRITE": 29, "CAP_SETPCAP": 8}


# ---------------------------------------------------------------- overlays

class OverlayUnavailable(Exception):
    """This machine cannot make the overlay (no overlayfs, no namespaces):
    the checks that need one are skipped, with the reason."""


def overlay(label):
    try:
        return Overlay(label)
    except OverlayUnavailable as e:
        t.skip(label, "no overlay of the root file system: %s" % e)
        return None


class Overlay:
    """This machine's root file system under a tmpfs overlay, in a private
    mount and network namespace (its own loopback, so ports 110 and 995
    are free): what is written there never reaches the real system, and
    it all goes when the namespace's holder process is killed."""

    def __init__(self, label):
        self.label = label
        self.dir = tempfile.mkdtemp(prefix="popsep-e2e-ovl-", dir="/tmp")
        t.cleanup(shutil.rmtree, self.dir, True)
        self.root = os.path.join(self.dir, "m")
        script = (
            "set -e; mount --make-rprivate /; "
            "mount -t tmpfs popsep-e2e-ovl {d}/t; mkdir {d}/t/u {d}/t/w; "
            "mount -t overlay popsep-e2e-ovl -o lowerdir=/,upperdir={d}/t/u,"
            "workdir={d}/t/w {m}; mount -t proc proc {m}/proc; "
            "mount --rbind /dev {m}/dev; mount -t sysfs sys {m}/sys; "
            "mount -t tmpfs run {m}/run; mount -t tmpfs tmp {m}/tmp; "
            "ip link set lo up; echo ready; exec sleep 3600").format(
                d=self.dir, m=self.root)
        self.netns = None
        os.mkdir(os.path.join(self.dir, "t"))
        os.mkdir(self.root)
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--net", "sh", "-c", script],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, start_new_session=True)
        t.cleanup(self.close)
        line = self.holder.stdout.readline()
        if line.strip() != b"ready":
            raise OverlayUnavailable(self.holder.stderr.read().decode(
                "utf-8", "replace").strip()[-300:])
        self.netns = os.readlink("/proc/%d/ns/net" % self.holder.pid)

    def sh(self, script, timeout=300, env=None):
        """Run script with sh inside the overlay (chroot), as root."""
        e = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
             "/sbin:/bin", "HOME": "/root", "LANG": "C",
             "DEBIAN_FRONTEND": "noninteractive"}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                e[k] = os.environ[k]
        e.update(env or {})
        # Files, not pipes: a daemon started here keeps what it was given
        # (the sanitizer build keeps standard error), and a pipe would not
        # end while it lives.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            r = P.run(["nsenter", "-t", str(self.holder.pid), "-m", "-n",
                       "chroot", self.root, "sh", "-c", script],
                      timeout=timeout, env=e, stdout=out, stderr=err)
            out.seek(0)
            err.seek(0)
            r.stdout, r.stderr = out.read(), err.read()
        return r

    def close(self):
        # Every process in our network namespace is ours: the daemons
        # started inside, then the holder.
        pids = []
        for p in P.all_pids() if self.netns else []:
            try:
                if os.readlink("/proc/%d/ns/net" % p) == self.netns:
                    pids.append(p)
            except OSError:
                pass
        P.kill_pids(pids)
        if self.holder.poll() is None:
            self.holder.kill()
        self.holder.wait(10)


# Leftovers of popsep on the machine under the overlay (tests, a make
# install) are removed inside it first, so that it starts as a system
# that never had popsep.
FRESH = ("for u in _popsep _popsepkey; do "
         "if getent passwd $u >/dev/null; then userdel $u; fi; "
         "if getent group $u >/dev/null; then groupdel $u; fi; done; "
         "rm -rf /etc/popsep /etc/pam.d/popsep /var/lib/popsep "
         "/var/cache/popsep /usr/local/sbin/popsepd /usr/local/lib/popsep "
         "/usr/local/share/doc/popsep /usr/local/lib/systemd/system/popsep* "
         "/var/mail/{u} /var/mail/{u}.lock; "
         "if getent passwd {u} >/dev/null; then userdel {u}; fi; "
         "useradd -M -d /nonexistent -s /usr/sbin/nologin {u}; "
         "echo '{u}:{pw}' | chpasswd").format(u=USER, pw=USERPW)

MAIL = ("From alice@example.org Mon Nov 30 09:00:00 2026\n"
        "From: alice@example.org\nSubject: installed\n\nread me\n\n"
        "From bob@example.org Mon Nov 30 09:05:00 2026\n"
        "From: bob@example.org\nSubject: second\n\n.dotted\n")


def mail_script():
    return ("printf '%s' > /var/mail/{u}; chown {u}:mail /var/mail/{u}; "
            "chmod 660 /var/mail/{u}").format(u=USER) % MAIL.replace(
                "\n", "\\n")


def curl_in(ov, label):
    """Read message 1 over TLS on 995 and list over STLS on 110, with the
    certificate the installation made, by its own name."""
    r = ov.sh("openssl x509 -noout -subject -nameopt multiline "
              "-in /etc/popsep/cert.pem")
    m = re.search(rb"commonName\s*=\s*(\S+)", r.stdout)
    name = m.group(1).decode() if m else "localhost"
    base = ("curl -sS --max-time 30 --cacert /etc/popsep/cert.pem "
            "--resolve {n}:995:127.0.0.1 --resolve {n}:110:127.0.0.1 "
            "-u '{u}:{pw}' ").format(n=name, u=USER, pw=USERPW)
    r = ov.sh(base + "pop3s://%s/1" % name)
    t.check(r.returncode == 0 and b"Subject: installed" in r.stdout and
            b"read me" in r.stdout, label + "-curl-pop3s-retr", text(r))
    r = ov.sh(base + "--ssl-reqd pop3://%s/" % name)
    t.check(r.returncode == 0 and re.match(rb"1 \d+\r\n2 \d+\r\n$", r.stdout)
            is not None, label + "-curl-stls-list", text(r))
    r = ov.sh("curl -sS --max-time 30 -u '%s:%s' pop3://127.0.0.1/" % (
        USER, USERPW))
    t.check(r.returncode != 0, label + "-plaintext-login-refused", text(r))


def readme_install():
    """The README's Installing section, word for word, on the overlay."""
    readme = read(os.path.join(TOP, "README.md"))
    sec = readme[readme.index("## Installing"):]
    m = re.search(r"\n#+ ", sec[4:])
    sec = sec[:m.start() + 4] if m else sec
    cmds = [ln.strip().split("#")[0].strip() for ln in sec.splitlines()
            if ln.startswith("    ") and ln.strip() and
            not ln.strip().startswith("#")]
    t.check(cmds[:1] == ["make install"] and any(
        c.startswith("popsepd -f ") for c in cmds), "readme-install-commands",
        cmds)
    ov = overlay("readme")
    if ov is None:
        return
    r = ov.sh(FRESH)
    t.eq(r.returncode, 0, "readme-fresh-system")
    build = "BUILD=" + os.path.relpath(BUILD, TOP)
    script = "set -e; cd %s; " % TOP + "; ".join(
        c.replace("make install", "make install " + build +
                  (" SANITIZE=1" if SANITIZE else "")) for c in cmds)
    r = ov.sh(script, timeout=600)
    if not t.eq(r.returncode, 0, "readme-commands-succeed"):
        sys.stderr.write(text(r)[-3000:])
        return
    t.check(b"created system user _popsep" in r.stdout and
            b"made a self-signed certificate" in r.stdout,
            "readme-install-makes-users-and-certificate", text(r)[-2000:])
    r = ov.sh("stat -c '%a %U' /etc/popsep/key.pem /var/lib/popsep/empty")
    t.eq(r.stdout.split(), [b"600", b"root", b"755", b"root"],
         "readme-key-0600-chroot-0755")
    ov.sh(mail_script())
    curl_in(ov, "readme")
    r = ov.sh("kill $(cat /run/popsepd.pid); sleep 1; cd %s; "
              "make uninstall %s" % (TOP, build))
    t.eq(r.returncode, 0, "readme-uninstall")
    r = ov.sh("ls /usr/local/sbin/popsepd /usr/local/lib/popsep "
              "/usr/local/lib/systemd/system/popsepd.service "
              "/etc/pam.d/popsep /etc/popsep/popsepd.conf "
              "/var/lib/popsep 2>/dev/null; ls /etc/popsep")
    t.eq(r.stdout.split(), [b"cert.pem", b"key.pem"],
         "readme-uninstall-keeps-only-the-certificate")
    ov.close()


# ---------------------------------------------------------------- .deb

def build_deb(work):
    src = os.path.join(work, "popsep")
    os.makedirs(src)
    r = P.run(["git", "-C", TOP, "ls-files", "-z", "-co", "--exclude-standard"])
    for f in r.stdout.decode().split("\0"):
        if f and os.path.isfile(os.path.join(TOP, f)):
            os.makedirs(os.path.join(src, os.path.dirname(f)), exist_ok=True)
            shutil.copy2(os.path.join(TOP, f), os.path.join(src, f))
    t0 = time.time()
    r = P.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, timeout=900)
    took = time.time() - t0
    if not t.eq(r.returncode, 0, "deb-dpkg-buildpackage"):
        sys.stderr.write(text(r)[-4000:])
        return None
    sys.stderr.write("dpkg-buildpackage: %.0f s\n" % took)
    debs = [f for f in os.listdir(work) if f.endswith(".deb") and
            "-dbgsym" not in f]
    t.eq(len(debs), 1, "deb-one-package")
    if len(debs) != 1:
        return None
    deb = os.path.join(work, debs[0])
    if shutil.which("lintian"):
        changes = [f for f in os.listdir(work) if f.endswith(".changes")]
        r = P.run(["lintian", "--fail-on", "error,warning"] +
                  [os.path.join(work, c) for c in changes], timeout=600)
        tags = [ln for ln in r.stdout.decode().splitlines()
                if re.match(r"[EW]: ", ln)]
        t.check(r.returncode == 0 and not tags, "deb-lintian-clean",
                text(r)[-3000:])
    else:
        t.skip("deb-lintian-clean", "lintian is not installed")
    r = P.run(["dpkg-deb", "--ctrl-tarfile", deb])
    conffiles = P.run(["tar", "-xOf", "-", "./conffiles"], input=r.stdout,
                      stdin=None).stdout.decode().split()
    t.eq(sorted(conffiles), ["/etc/pam.d/popsep", "/etc/popsep/pop3s.conf",
                             "/etc/popsep/popsepd.conf"], "deb-conffiles")
    r = P.run(["dpkg-deb", "-c", deb])
    listing = r.stdout.decode()
    t.check("./etc/pam.d/pop3\n" not in listing and
            "./lib/systemd/system/popsepd.service" in listing and
            "./var/lib/popsep/empty/\n" in listing,
            "deb-contents", listing)
    return deb


# What the overlay's own writes left in its upper layer (the machine
# below may change meanwhile: other tests run): dpkg's database and logs,
# the manual index and the password files' backups and locks aside.
UPPER_SKIP = re.compile(r"^(var/lib/dpkg|var/log|var/cache/debconf|"
                        r"var/cache/man|var/lib/systemd/deb-systemd-helper)"
                        r"(/|$)|^etc/[^/]*(\.lock|-|\+)$")


def upper(ov):
    """{path: type} of the upper layer: f, l, d, or c for a whiteout
    (a file of the machine below that was removed)."""
    r = P.run(["nsenter", "-t", str(ov.holder.pid), "-m", "find",
               os.path.join(ov.dir, "t", "u"), "-mindepth", "1",
               "-printf", "%y %P\n"])
    out = {}
    for ln in r.stdout.decode().splitlines():
        kind, _, path = ln.partition(" ")
        if not UPPER_SKIP.search(path):
            out[path] = kind
    return out


def leftovers(before, after):
    """Entries the package made and left: new files, links and whiteouts,
    and new directories that the machine below does not have."""
    return sorted("%s %s" % (k, p) for p, k in after.items()
                  if p not in before and
                  (k != "d" or not os.path.lexists("/" + p)))


def deb_install(deb):
    ov = overlay("deb-install")
    if ov is None:
        return
    r = ov.sh(FRESH)
    t.eq(r.returncode, 0, "deb-fresh-system")
    before = upper(ov)
    # The overlay's /tmp is its own: hand the package over by stdin.
    with open(deb, "rb") as f:
        data = f.read()
    r = P.run(["nsenter", "-t", str(ov.holder.pid), "-m", "-n", "chroot",
               ov.root, "sh", "-c", "cat > /tmp/popsep.deb"], input=data,
              stdin=None)
    r = ov.sh("dpkg -i /tmp/popsep.deb")
    if not t.eq(r.returncode, 0, "deb-dpkg-i"):
        sys.stderr.write(text(r)[-3000:])
        return
    r = ov.sh("getent passwd _popsep _popsepkey | cut -d: -f1,6,7")
    t.eq(r.stdout.decode().split(), ["_popsep:/nonexistent:/usr/sbin/nologin",
                                     "_popsepkey:/nonexistent:/usr/sbin/"
                                     "nologin"], "deb-postinst-users")
    r = ov.sh("stat -c '%a %U' /etc/popsep/key.pem /etc/popsep/cert.pem "
              "/var/lib/popsep/empty")
    t.eq(r.stdout.split(), [b"600", b"root", b"644", b"root", b"755",
                            b"root"], "deb-postinst-certificate-and-chroot")
    r = ov.sh("ls /etc/systemd/system/multi-user.target.wants/")
    t.check(b"popsepd.service" in r.stdout and b"popsep-pop3" not in
            r.stdout, "deb-enables-popsepd-service-only", text(r))
    # Start it as popsepd.service does: ExecStartPre, then ExecStart
    # (Type=forking: the command returns once the daemon serves).
    r = ov.sh("set -e; u=/lib/systemd/system/popsepd.service; "
              "pre=$(sed -n 's/^ExecStartPre=//p' $u); "
              "start=$(sed -n 's/^ExecStart=//p' $u); "
              "pid=$(sed -n 's/^PIDFile=//p' $u); "
              "$pre; $start; test -s $pid; echo started")
    if not t.check(r.returncode == 0 and b"started" in r.stdout,
                   "deb-starts-as-the-unit-does", text(r)):
        return
    installed = leftovers(before, upper(ov))
    installed = [p.partition(" ")[2] for p in installed]
    ov.sh(mail_script())
    curl_in(ov, "deb")
    r = ov.sh("kill $(cat /run/popsepd.pid); for i in 1 2 3 4 5 6 7 8 9 10; "
              "do [ -e /run/popsepd.pid ] || break; sleep 0.5; done; "
              "dpkg --purge popsep")
    t.eq(r.returncode, 0, "deb-purge")
    # The spool is the users': purge keeps it (the test's mailbox goes).
    r = ov.sh("cat /var/mail/%s && rm /var/mail/%s" % (USER, USER))
    t.check(r.returncode == 0 and b"Subject: second" in r.stdout,
            "deb-purge-keeps-the-mail", text(r))
    after = upper(ov)
    t.eq(leftovers(before, after), [], "deb-purge-leaves-nothing")
    t.eq(sorted(p for p in before if p not in after), [],
         "deb-purge-undoes-nothing-of-before")
    t.check(any(p.startswith("etc/popsep/") for p in installed),
            "deb-snapshot-sees-the-installed-files", sorted(installed)[:40])
    r = ov.sh("getent passwd _popsep _popsepkey | cut -d: -f1")
    t.eq(r.stdout.split(), [b"_popsep", b"_popsepkey"],
         "deb-purge-keeps-the-system-users")
    ov.close()


# ---------------------------------------------------------------- main

def main():
    work = tempfile.mkdtemp(prefix="popsep-e2e-inst-", dir="/tmp")
    os.chmod(work, 0o755)
    t.cleanup(shutil.rmtree, work, True)
    dest = os.path.join(work, "dest")
    if not t.run("destdir", destdir_install, dest):
        return
    t.run("units", units_verify, dest, work)
    srv = P.Server(t, "inst")
    srv.add_virtual_user(USER, USERPW)
    box = new_box(srv)
    t.run("socket", socket_activation, dest, srv, box)
    box = new_box(srv)
    t.run("inetd", inetd_sample, dest, srv, box)
    box = new_box(srv)
    t.run("xinetd", xinetd_sample, dest, srv, box)
    t.run("caps", capabilities, dest, srv)
    t.run("reinstall", destdir_reinstall_uninstall, dest)
    t.run("readme", readme_install)
    if SANITIZE:
        t.skip("deb", "the package is built without sanitizers; the plain "
               "run of make check builds and installs it")
    elif not shutil.which("dpkg-buildpackage") or not shutil.which("dh"):
        t.skip("deb", "dpkg-dev or debhelper is not installed "
               "(sh etc/deps.sh check)")
    else:
        deb = t.run("deb-build", build_deb, os.path.join(work, "deb"))
        if deb:
            t.run("deb-install", deb_install, deb)

main()
t.done()
