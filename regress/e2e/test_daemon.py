"""
Standalone daemon mode (no -d): the command exits 0 once the detached
master is serving and has written pid-file, or 1 with the reason on
standard error if start-up fails (a port in use, a key that does not
match its certificate); the key process is the master's child; SIGTERM
stops the master and removes pid-file.
"""

import os
import resource
import signal
import socket
import subprocess
import time

import popseptest as P

t = P.Test("daemon")
P.need_root()

# More sessions than the open-file limit popsepd is started with (1024,
# below): the key process must raise its own to max-sessions + 64.
srv = P.Server(t, "daemon", cleartext="always",
               options={"max-sessions": "3000"})
PIDFILE = os.path.join(srv.dir, "popsepd.pid")
srv.options["pid-file"] = PIDFILE
USER = "popsep-e2e-daemon"
srv.add_virtual_user(USER, "d-pass")
srv.mbox(USER, [P.message(1, b"one", b"x\n")])


def low_fd_limit():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))


def start():
    """Run popsepd -f CONF; its output goes to a file, not a pipe: in the
    sanitizer build the key process keeps standard error, and a pipe would
    not see its end while the daemon lives."""
    srv.write_config()
    out = os.path.join(srv.dir, "start.out")
    with open(out, "wb") as f:
        r = subprocess.run([P.POPSEPD, "-f", srv.conf], stdout=f, stderr=f,
                           stdin=subprocess.DEVNULL, timeout=30,
                           preexec_fn=low_fd_limit)
    r.stderr = open(out, "rb").read()
    return r


def daemon_mode():
    # A port in use: exit 1, the reason on stderr, no daemon left.
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", srv.port))
    blocker.listen(1)
    r = start()
    t.check(r.returncode == 1 and b"Address already in use" in r.stderr,
            "port-in-use-exit-1-with-reason", r.stderr)
    blocker.close()
    t.check(not os.path.exists(PIDFILE), "no-pid-file-after-failure")

    r = start()
    t.eq(r.returncode, 0, "starts-exit-0")
    pid = int(open(PIDFILE).read()) if os.path.exists(PIDFILE) else None
    t.check(pid is not None and P.proc_status(pid) is not None,
            "pid-file-names-the-running-master")
    if pid is None:
        return
    t.cleanup(P.kill_pids, [pid] + P.descendants(pid))
    kids = P.children(pid)
    import pwd
    key_uid = pwd.getpwnam("_popsepkey").pw_uid
    t.check(any(P.uid_of(k) == key_uid for k in kids),
            "key-process-is-the-masters-child", repr(kids))
    for k in kids:
        if P.uid_of(k) == key_uid:
            with open("/proc/%d/limits" % k) as f:
                lim = [l.split() for l in f if l.startswith("Max open files")]
            t.check(lim and int(lim[0][3]) >= 3064,
                    "key-process-open-file-limit-fits-max-sessions", lim)
    c = srv.login(USER, tls=True)
    t.check(c.cmd("STAT").startswith(b"+OK"), "daemon-serves")
    c.cmd("QUIT")
    c.closed()
    os.kill(pid, signal.SIGTERM)
    t.check(P.wait_for(lambda: P.proc_status(pid) is None or
                       P.proc_status(pid).get("State", "").startswith("Z"), 5),
            "sigterm-stops-the-master")
    t.check(P.wait_for(lambda: not os.path.exists(PIDFILE), 5),
            "pid-file-removed")

    # A key that is not the certificate's: exit 1, the reason on stderr.
    other = os.path.join(srv.dir, "other-key.pem")
    P.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
           "ec_paramgen_curve:P-256", "-out", other], check=True)
    srv.key_saved = srv.key
    srv.key = other
    r = start()
    srv.key = srv.key_saved
    t.check(r.returncode == 1 and b"does not match" in r.stderr,
            "mismatched-key-exit-1-with-reason", r.stderr)


t.run("daemon", daemon_mode)
t.done()
