#!/usr/bin/env python3
"""
popsepd -i: one connection on stdin/stdout, under openbsd-inetd (a
private inetd.conf, inetd in the foreground) and under
systemd-socket-activate --inetd.  STLS with the default tls-support,
implicit TLS with tls-support = alternate-port; messages fetched with curl
and poplib arrive byte for byte, DELE+QUIT works, plaintext USER is
refused before STLS, and the session is still privilege-separated.
"""

import os
import poplib
import pwd
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import popseptest as P  # noqa: E402

P.need_root()
t = P.Test()
poplib._MAXLINE = 1 << 20          # the 100 KB line

BOB, BOBPW = "popsep-e2e-bob", "bob-e2e pw"
srv = P.Server(t)                   # its files only; no standalone daemon
srv.add_virtual_user(BOB, BOBPW)
MSGS = P.varied_messages(big=False)
N = len(MSGS)
CONF_STLS = srv.write_config(os.path.join(srv.dir, "stls.conf"), listen=False)
CONF_TLS = srv.write_config(os.path.join(srv.dir, "tls.conf"), listen=False,
                            extra={"tls-support": "alternate-port"})
POPSEPD = os.path.abspath(P.POPSEPD)


def start_listener(label, cmd, ports, log):
    logf = open(log, "ab")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                            stderr=logf, start_new_session=True, cwd=srv.dir)
    logf.close()
    t.cleanup(P.stop_process, proc)
    ok = P.wait_for(lambda: proc.poll() is not None or
                    all(P.listening(p) for p in ports), 10)
    if not t.check(ok and proc.poll() is None, label + "-listening",
                   open(log, "rb").read()[-2000:]):
        return None
    return proc


def curl(label, url, extra, i, box):
    r = P.run(["curl", "-sS", "--cacert", srv.cert, "-u", "%s:%s" % (BOB, BOBPW)]
              + extra + [url])
    t.eq(r.stdout, box.expected(i - 1), "%s-curl-msg%d" % (label, i))


def poplib_stls(label, port, box):
    p = poplib.POP3("127.0.0.1", port, timeout=30)
    caps = p.capa()
    t.check("STLS" in caps and "USER" not in caps, label + "-capa-before-stls", caps)
    try:
        p.user(BOB)
        t.fail(label + "-plaintext-user-refused")
    except poplib.error_proto:
        t.check(True, label + "-plaintext-user-refused")
    p.stls(context=srv.ssl_context())
    p.user(BOB)
    p.pass_(BOBPW)
    t.eq(p.stat()[0], N, label + "-stat")
    for i in range(N):
        resp, lines, _ = p.retr(i + 1)
        t.eq(b"".join(l + b"\r\n" for l in lines), box.expected(i),
             "%s-poplib-msg%d" % (label, i + 1))
    p.dele(1)
    before = box.read()
    t.check(p.quit().startswith(b"+OK"), label + "-quit")
    ok = P.wait_for(lambda: box.read() == box.data(range(1, N)), 5)
    t.check(ok and before == box.original, label + "-dele-quit-update")
    t.check(P.wait_for(lambda: not os.path.exists(box.path + ".lock"), 3),
            label + "-no-lock-left")


def poplib_tls(label, port, box):
    p = poplib.POP3_SSL("localhost", port, context=srv.ssl_context(), timeout=30)
    caps = p.capa()
    t.check("USER" in caps and "STLS" not in caps, label + "-capa", caps)
    p.user(BOB)
    p.pass_(BOBPW)
    t.eq(p.stat()[0], N, label + "-stat")
    resp, lines, _ = p.retr(N)
    t.eq(b"".join(l + b"\r\n" for l in lines), box.expected(N - 1),
         label + "-poplib-last")
    p.quit()


def privsep_in_session(label, listener_pid, port, implicit):
    """While a session is parked: inetd's child is the monitor (root); its
    children are the key process, the network child and the spool worker."""
    net_pw = pwd.getpwnam("_popsep")
    key_pw = pwd.getpwnam("_popsepkey")
    c = P.RawPop(srv, tls=implicit, port=port)
    if not implicit:
        c.stls()
    c.cmd("USER " + BOB)
    r = c.cmd("PASS " + BOBPW)
    t.check(r.startswith(b"+OK"), label + "-login", r)
    mons = [p for p in P.descendants(listener_pid)
            if P.ids(P.proc_status(p) or {}, "Uid")[:1] == [0] and
            len(P.children(p)) >= 3]
    t.eq(len(mons), 1, label + "-one-monitor")
    if mons:
        uids = sorted(u for u in map(P.uid_of, P.children(mons[0]))
                      if u is not None)
        t.eq(uids, sorted([net_pw.pw_uid, key_pw.pw_uid, P.VIRT_UID]),
             label + "-key-net-spool-children")
        for k in P.children(mons[0]):
            st = P.proc_status(k)
            t.check(st.get("Seccomp") == "2" and st.get("NoNewPrivs") == "1" and
                    int(st.get("CapEff", "1"), 16) == 0 and
                    os.readlink("/proc/%d/root" % k) == os.path.realpath(srv.chroot),
                    "%s-sandboxed-uid%s" % (label, P.ids(st, "Uid")[0]), st)
    c.cmd("QUIT")
    c.close()


def under_inetd():
    inetd = shutil.which("inetd") or "/usr/sbin/inetd"
    if not os.path.exists(inetd):
        t.skip("inetd", "openbsd-inetd is not installed")
        return
    p_stls, p_tls = P.free_ports(2)
    conf = os.path.join(srv.dir, "inetd.conf")
    with open(conf, "w") as f:
        f.write("127.0.0.1:%d stream tcp nowait root %s popsepd -i -f %s\n"
                "127.0.0.1:%d stream tcp nowait root %s popsepd -i -f %s\n" % (
                    p_stls, POPSEPD, CONF_STLS, p_tls, POPSEPD, CONF_TLS))
    proc = start_listener("inetd", [inetd, "-d", conf], [p_stls, p_tls],
                          os.path.join(srv.dir, "inetd.log"))
    if proc is None:
        return
    box = srv.mbox(BOB, MSGS)
    curl("inetd-tls", "pop3s://127.0.0.1:%d/2" % p_tls, [], 2, box)
    curl("inetd-stls", "pop3://127.0.0.1:%d/3" % p_stls, ["--ssl-reqd"], 3, box)
    poplib_tls("inetd-tls", p_tls, box)
    privsep_in_session("inetd-stls", proc.pid, p_stls, False)
    privsep_in_session("inetd-tls", proc.pid, p_tls, True)
    poplib_stls("inetd-stls", p_stls, box)
    P.stop_process(proc)
    t.check(P.wait_for(lambda: not P.listening(p_stls), 5), "inetd-stopped")


def under_socket_activate():
    sa = shutil.which("systemd-socket-activate")
    if sa is None:
        t.skip("socket-activate", "systemd-socket-activate is not installed")
        return
    box = srv.mbox(BOB, MSGS)
    p_stls, p_tls = P.free_ports(2)
    log = os.path.join(srv.dir, "sa.log")
    # Only the socket is on stdin/stdout, so -d logs to our file.
    procs = []
    for port, conf in ((p_tls, CONF_TLS), (p_stls, CONF_STLS)):
        procs.append(start_listener(
            "socket-activate-%d" % port,
            [sa, "-l", "127.0.0.1:%d" % port, "--inetd", "-a", POPSEPD,
             "-d", "-v", "-i", "-f", conf], [port], log))
    if None in procs:
        return
    curl("sa-tls", "pop3s://127.0.0.1:%d/1" % p_tls, [], 1, box)
    curl("sa-stls", "pop3://127.0.0.1:%d/%d" % (p_stls, N), ["--ssl-reqd"], N, box)
    poplib_tls("sa-tls", p_tls, box)
    privsep_in_session("sa-tls", procs[0].pid, p_tls, True)
    poplib_stls("sa-stls", p_stls, box)
    with open(log, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    t.check("authenticated" in text and "killed by signal" not in text,
            "sa-log", text[-2000:])
    for p in procs:
        P.stop_process(p)


t.run("inetd", under_inetd)
t.run("socket-activate", under_socket_activate)
t.done()
