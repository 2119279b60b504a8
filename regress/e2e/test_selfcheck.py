"""
The start-up self-check, judged from outside: popsepd -n and a real start
(as root, -d) with one thing wrong at a time, on files this test makes.
Each must exit 1 before it binds, naming the file and the command that
fixes it; the same configuration with the fault undone must pass.
Faults: a directory above chroot-dir writable by others (a sticky one is
fine), one owned by a user other than root, a private key readable by
group or others (separate, and inside the certificate file), the APOP
database readable by others, the configuration file, the passwd-file and
spool-dir owned by the privsep user.
"""

import os
import pwd
import shutil
import subprocess

import popseptest as P

t = P.Test("selfcheck")
P.need_root()

PRIVSEP = pwd.getpwnam("_popsep").pw_uid
NOBODY = pwd.getpwnam("nobody").pw_uid


def server(extra=None):
    srv = P.Server(t, "selfcheck")
    # The chroot one level deeper, under a directory the test can open up.
    srv.parent = os.path.join(srv.dir, "jail")
    os.mkdir(srv.parent, 0o755)
    srv.chroot = os.path.join(srv.parent, "empty")
    srv.options["chroot-dir"] = srv.chroot
    if extra:
        srv.options.update(extra)
    srv.write_config()
    return srv


def run(srv, *args):
    r = subprocess.run([P.POPSEPD] + list(args) + ["-f", srv.conf],
                       capture_output=True, timeout=30)
    return r.returncode, r.stdout.decode(errors="replace") + \
        r.stderr.decode(errors="replace")


def started(srv):
    """A real start in the foreground: the self-check fails before it
    binds, so the process is gone within seconds; a good one listens."""
    p = subprocess.Popen([P.POPSEPD, "-d", "-f", srv.conf],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=10)
        return p.returncode, out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        up = P.listening(srv.port)
        P.stop_process(p)
        return (0 if up else -1), ""


def refused(name, srv, path, fix):
    rc, out = run(srv, "-n")
    t.check(rc == 1 and path in out and ("fix: " + fix) in out and
            "popsepd does not start" in out, name + "-n-refused",
            (rc, out[-600:]))
    rc, out = started(srv)
    t.check(rc == 1 and ("fix: " + fix) in out and
            not P.listening(srv.port), name + "-start-refused",
            (rc, out[-600:]))


def passes(name, srv):
    rc, out = run(srv, "-n")
    t.check(rc == 0 and "configuration OK" in out and "self-check" not in
            out, name + "-n-passes", (rc, out[-600:]))


# The untouched set-up passes, as -n and as a real start.
srv = server()
passes("clean", srv)
rc, _ = started(srv)
t.check(rc == 0, "clean-start-listens", rc)

# A directory above the chroot writable by others, then sticky.
os.chmod(srv.parent, 0o777)
refused("parent-writable", srv, srv.parent, "chmod go-w " + srv.parent)
os.chmod(srv.parent, 0o1777)
passes("parent-sticky", srv)
os.chmod(srv.parent, 0o755)

# A directory above the chroot owned by someone else.
os.chown(srv.parent, NOBODY, 0)
refused("parent-owner", srv, srv.parent, "chown root " + srv.parent)
os.chown(srv.parent, 0, 0)
passes("parent-restored", srv)

# The private key readable by its group, then by everyone.
for mode in (0o640, 0o604):
    os.chmod(srv.key, mode)
    refused("key-%04o" % mode, srv, srv.key, "chmod 600 " + srv.key)
os.chmod(srv.key, 0o600)
passes("key-restored", srv)

# A key inside the certificate file, which others can read.
both = os.path.join(srv.dir, "both.pem")
with open(both, "wb") as f:
    f.write(open(srv.cert, "rb").read() + open(srv.key, "rb").read())
os.chmod(both, 0o644)
with open(srv.conf) as f:
    text = f.read()
with open(srv.conf, "w") as f:
    f.write("".join(l + "\n" for l in text.splitlines()
                    if not l.startswith("set tls-private-key-file") and
                    not l.startswith("set tls-server-cert-file")) +
            "set tls-server-cert-file = %s\n" % both)
refused("key-in-cert", srv, both, "chmod 600 " + both)
os.chmod(both, 0o600)
passes("key-in-cert-restored", srv)

# The APOP database readable by others.
srv = server()
db = os.path.join(srv.dir, "popauth.db")
P.write_file(db, b"not checked here", 0, 0, 0o644)
srv.options.update({"apop": True, "popauth-db": db})
srv.write_config()
refused("popauth-db", srv, db, "chmod 600 " + db)
os.chmod(db, 0o600)
passes("popauth-db-restored", srv)

# Files the daemon trusts, owned by its unprivileged user.
srv = server()
for what, path in (("conf", srv.conf), ("passwd-file", srv.passwd),
                   ("spool-dir", srv.spool)):
    os.chown(path, PRIVSEP, -1)
    refused("owned-" + what, srv, path, "chown root " + path)
    os.chown(path, 0, -1)
passes("owned-restored", srv)

t.done()
