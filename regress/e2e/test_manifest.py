#!/usr/bin/env python3
"""
popsepd -P, the privilege manifest, against the live processes of the
daemon it describes: with one session before its login (the monitor and
the network child, when=start only), then logged in and parked, every
process of popsepd (master, key process, metrics process, session
monitor, network child, spool worker) is found in /proc by its place in
the tree
and its uid, and compared with what `popsepd -d -P -f CONF` printed for
its kind: uid and gid, root directory, Seccomp: 2 exactly when the
manifest says seccomp=yes, /dev/null as 0-2 when it says stdio=null, and
the number of open descriptors above 2 of each kind (socket, file, pipe,
memfd) against the manifest's fd lines that hold at that point (when=start
or login, one per session open, none per HTTP connection).  Also: every
message type of privsep/*.h is listed as received on some channel, the
output is the same run as root or as nobody, and the format is as
documented (every line a known kind).
"""

import collections
import os
import pwd
import re
import subprocess
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import popseptest as P  # noqa: E402

P.need_root()
t = P.Test()

USER, USERPW = "popsep-e2e-manifest", "manifest-e2e pw"
DEVNULL = "/dev/null"
SANITIZE = os.environ.get("POPSEP_SANITIZE") == "1"

r = P.run(["sh", os.path.join(P.TOP, "etc", "users.sh")])
if r.returncode != 0:
    t.fail("users.sh", r.stderr)
net_pw = pwd.getpwnam("_popsep")
key_pw = pwd.getpwnam("_popsepkey")
(MX_PORT,) = P.free_ports(1)

srv = P.Server(t, options={"metrics-listen": "127.0.0.1:%d" % MX_PORT})
# A tracefile: the master and the monitor keep it open, nothing else.
srv.options["tracefile"] = os.path.join(srv.dir, "trace")
srv.add_virtual_user(USER, USERPW)
srv.mbox(USER, P.varied_messages(big=False))
srv.start()
MASTER = srv.proc.pid
CHROOT = os.path.realpath(srv.chroot)


# ---------------------------------------------------------------- parsing

HEADER = re.compile(r"^process (\S+)((?: \S+=\S+)+)$")
SYSCALL = re.compile(r"^  syscall (\w+)( noexec)?  # .+$")
FD = re.compile(r"^  fd (\S+)((?: \S+=\S+)+)$")
CHANNEL = re.compile(r"^  channel (\w+)<-(\w+) (MSG_\w+) 0x([0-9a-f]{4}) "
                     r"min=(\d+) max=(\d+) fd=(yes|no|maybe)$")
PIPE = re.compile(r"^  pipe (\w+)<-(\w+) bytes=(\d+)  # .+$")


def fields(s):
    return dict(kv.split("=", 1) for kv in s.split())


def parse(text):
    """{process: {"h": header fields, "syscalls": [...], "fds": [...],
    "channels": [...]}} and the lines that match no documented form."""
    procs, bad, cur = {}, [], None
    for ln in text.splitlines():
        if ln.startswith("#"):
            continue
        m = HEADER.match(ln)
        if m:
            cur = procs.setdefault(m.group(1), {
                "h": fields(m.group(2)), "syscalls": [], "fds": [],
                "channels": []})
            continue
        if cur is None:
            bad.append(ln)
            continue
        m = SYSCALL.match(ln)
        if m:
            cur["syscalls"].append(m.group(1))
            continue
        m = FD.match(ln)
        if m:
            f = fields(m.group(2))
            f["name"] = m.group(1)
            cur["fds"].append(f)
            continue
        m = CHANNEL.match(ln)
        if m:
            cur["channels"].append(m.groups())
            continue
        if PIPE.match(ln):
            continue
        bad.append(ln)
    return procs, bad


def manifest(conf, user=None):
    cmd = [P.POPSEPD, "-d", "-P", "-f", conf]
    if user is not None:
        cmd = ["setpriv", "--reuid=%d" % user.pw_uid,
               "--regid=%d" % user.pw_gid, "--clear-groups", "--"] + cmd
    return subprocess.run(cmd, capture_output=True, timeout=30)


def all_options_conf():
    """The server's configuration with every process and descriptor
    that a setting adds: APOP, GSSAPI, bulletins and the temp drop."""
    return srv.write_config(os.path.join(srv.dir, "all.conf"), extra={
        "apop": True, "keytab": os.path.join(srv.dir, "none.keytab"),
        "bulldir": srv.dir,
        "server-mode": False})


# ---------------------------------------------------------------- /proc

def fd_kind(target):
    if target.startswith("socket:"):
        return "socket"
    if target.startswith("pipe:"):
        return "pipe"
    if target.startswith("/memfd:"):
        return "memfd"
    if target == DEVNULL:
        return "null"
    if target.startswith("anon_inode:"):
        return target
    return "file"


def live_kinds(pid):
    """Counter of the kinds of pid's descriptors above 2."""
    fds = P.proc_fds(pid)
    return collections.Counter(fd_kind(v) for fd, v in fds.items() if fd > 2)


def want_kinds(proc, sessions, phases):
    """Counter of the kinds the manifest says proc holds now: in one of
    phases (start, or also login once logged in), idle, so no lock taken
    and no HTTP connection open."""
    c = collections.Counter()
    for f in proc["fds"]:
        if f["when"] not in phases:
            continue
        each = f.get("each")
        n = 1
        if each == "session":
            n = sessions
        elif each == "connection":
            n = 0
        elif each == "listen":
            n = int(f["count"])
        if n:
            c[f["kind"]] += n
    return c


def compare(label, pid, proc, uid, gid, sessions=1,
            phases=("start", "login")):
    """Everything /proc says about pid against the manifest's proc."""
    st = P.proc_status(pid)
    if not t.check(st is not None and proc is not None, label + "-present"):
        return
    h = proc["h"]
    t.eq(P.ids(st, "Uid"), [uid] * 4, label + "-uid")
    t.eq(P.ids(st, "Gid"), [gid] * 4, label + "-gid")
    if "uid" in h:
        t.eq(h["uid"], str(uid), label + "-manifest-uid-is-live-uid")
        t.eq(h["gid"], str(gid), label + "-manifest-gid-is-live-gid")
    want_root = CHROOT if h["root"] == srv.options["chroot-dir"] else \
        os.path.realpath(h["root"])
    t.eq(os.readlink("/proc/%d/root" % pid), want_root, label + "-root")
    t.eq(st.get("Seccomp"), "2" if h["seccomp"] == "yes" else "0",
         label + "-seccomp")
    fds = P.proc_fds(pid)
    if h["stdio"] == "null":
        t.check(all(fds.get(fd) == DEVNULL or
                    (SANITIZE and fd == 2 and fds.get(fd) == srv.log)
                    for fd in (0, 1, 2)), label + "-stdio-null", fds)
    got, want = live_kinds(pid), want_kinds(proc, sessions, phases)
    t.eq(dict(got), dict(want), label + "-descriptors")
    t.eq(sum(got.values()), sum(want.values()), label + "-descriptor-count")


# ---------------------------------------------------------------- checks

def client_inode(c, port):
    cport = c.sock.getsockname()[1]
    return P.wait_for(lambda: P.tcp_inode(port, cport), 2)


def session_procs(inode):
    for mon in P.children(MASTER):
        for kid in P.children(mon):
            if "socket:[%d]" % inode in P.proc_fds(kid).values():
                return mon, kid
    return None, None


ALWAYS = {"master", "session-monitor", "network-child", "spool-worker",
          "recovery-worker", "check-child"}
OPTIONAL = {"key-process", "metrics-process", "apop-check",
            "gssapi-acceptor"}


def check_format(label, text, procs, bad, absent):
    t.eq(bad, [], label + "-every-line-documented")
    t.eq(sorted(procs), sorted((ALWAYS | OPTIONAL) - set(absent)),
         label + "-processes")
    for name, cond in absent.items():
        t.check("# not configured: %s (%s)" % (name, cond) in text,
                "%s-not-configured-%s" % (label, name))
    for name, p in procs.items():
        t.check(all(k in p["h"] for k in ("user", "group", "root",
                                          "seccomp", "stdio")),
                "%s-header-%s" % (label, name), p["h"])
        t.eq(p["h"]["seccomp"] == "yes", bool(p["syscalls"]),
             "%s-syscalls-iff-seccomp-%s" % (label, name))


def message_types():
    """Every MSG_ enum member of privsep/*.h."""
    names = set()
    d = os.path.join(P.TOP, "privsep")
    for fn in sorted(os.listdir(d)):
        if fn.endswith(".h"):
            with open(os.path.join(d, fn)) as f:
                names |= set(re.findall(r"^\t(MSG_[A-Z]+_(?:REQ|ANS)_\w+)"
                                        r"(?: = 0x[0-9a-f]+)?,$",
                                        f.read(), re.M))
    return names


def check_channels(procs):
    listed = collections.defaultdict(set)
    for p in procs.values():
        for recv, send, name, typ, lo, hi, fd in p["channels"]:
            listed[name].add((recv, send))
            # MSG_BODY_MAX (lib/params.h): a data frame's 128 KiB and 64
            t.check(int(lo) <= int(hi) <= 131136,
                    "channel-bounds-%s<-%s-%s" % (recv, send, name),
                    (lo, hi))
    types = message_types()
    t.check(len(types) > 40, "found-message-types", sorted(types))
    t.eq(sorted(types - set(listed)), [], "every-message-type-received")
    t.eq(sorted(set(listed) - types), [], "no-unknown-message-type")


def fd_names(procs, name):
    return {f["name"] for f in procs.get(name, {"fds": []})["fds"]}


def check_options(procs, all_procs):
    """A descriptor that a setting adds is listed only with it."""
    for proc, fd in (("session-monitor", "temp-drop-writable"),
                     ("session-monitor", "bulletins"),
                     ("spool-worker", "temp-drop-read-only"),
                     ("apop-check", "popauth-db"),
                     ("session-monitor", "gssapi-channel")):
        t.check(fd not in fd_names(procs, proc) and
                fd in fd_names(all_procs, proc),
                "option-adds-%s-%s" % (proc, fd))
    t.check("start-up-cache" in fd_names(procs, "spool-worker") and
            "start-up-cache" not in fd_names(all_procs, "spool-worker"),
            "option-temp-drop-has-no-cache")
    t.check("net-channel" in fd_names(procs, "spool-worker") and
            "net-channel" not in fd_names(procs, "recovery-worker"),
            "recovery-worker-without-net-channel")
    t.check(all("tracefile" in fd_names(procs, p)
                for p in ("master", "session-monitor", "check-child")) and
            not any("tracefile" in fd_names(procs, p)
                    for p in ("network-child", "spool-worker",
                              "key-process", "metrics-process")),
            "tracefile-only-in-root-processes")
    t.eq(all_procs.get("apop-check", {"h": {}})["h"].get("root"),
         os.path.dirname(srv.options.get("popauth-db",
                                         "/var/lib/popsep/popauth/x")),
         "apop-check-root-is-db-dir")


def main():
    r = manifest(srv.conf)
    t.check(r.returncode == 0, "manifest-exit-0", r.stderr)
    text = r.stdout.decode()
    procs, bad = parse(text)
    check_format("format", text, procs, bad, {
        "apop-check": "apop", "gssapi-acceptor": "keytab"})

    ra = manifest(all_options_conf())
    t.check(ra.returncode == 0, "all-manifest-exit-0", ra.stderr)
    all_text = ra.stdout.decode()
    all_procs, bad = parse(all_text)
    check_format("all-format", all_text, all_procs, bad, {})
    check_channels(all_procs)
    check_options(procs, all_procs)

    nobody = manifest(srv.conf, pwd.getpwnam("nobody"))
    if nobody.returncode == 126 or b"Permission denied" in nobody.stderr:
        t.skip("manifest-as-nobody", "the build is not readable by nobody")
    else:
        t.check(nobody.returncode == 0, "manifest-as-nobody-exit-0",
                nobody.stderr)
        t.eq(nobody.stdout.decode(), text, "manifest-as-nobody-same")

    # One session over implicit TLS: before login, then logged in, parked.
    c = srv.connect(tls=True)
    ino = client_inode(c, srv.tls_port)
    mon, net = session_procs(ino) if ino else (None, None)
    if not t.check(mon is not None, "found-session"):
        return
    t.eq(P.children(mon), [net], "preauth-only-network-child")
    compare("preauth-monitor", mon, procs.get("session-monitor"), 0, 0,
            phases=("start",))
    compare("preauth-net", net, procs.get("network-child"), net_pw.pw_uid,
            net_pw.pw_gid, phases=("start",))
    t.check(c.cmd("USER " + USER).startswith(b"+OK") and
            c.cmd("PASS " + USERPW).startswith(b"+OK"), "login")
    t.check(c.cmd("STAT").startswith(b"+OK"), "login-stat")
    kids = P.wait_for(lambda: [k for k in P.children(mon) if k != net], 2)
    t.eq(len(kids or []), 1, "found-spool-worker")
    spool = kids[0] if kids else None

    compare("master", MASTER, procs.get("master"), 0, 0)
    keys, mxs, mons = [], [], []
    for k in P.children(MASTER):
        u = P.ids(P.proc_status(k) or {}, "Uid")[:1]
        if u == [key_pw.pw_uid]:
            keys.append(k)
        elif u == [net_pw.pw_uid]:
            mxs.append(k)
        elif u == [0]:
            mons.append(k)
    t.eq(len(keys), 1, "found-key-process")
    t.eq(len(mxs), 1, "found-metrics-process")
    t.eq(mons, [mon], "found-only-our-monitor")
    for k in keys:
        compare("key", k, procs.get("key-process"), key_pw.pw_uid,
                key_pw.pw_gid)
    for k in mxs:
        compare("metrics", k, procs.get("metrics-process"), net_pw.pw_uid,
                net_pw.pw_gid)
    compare("monitor", mon, procs.get("session-monitor"), 0, 0)
    compare("net", net, procs.get("network-child"), net_pw.pw_uid,
            net_pw.pw_gid)
    if spool is not None:
        compare("spool", spool, procs.get("spool-worker"), P.VIRT_UID,
                P.VIRT_GID)

    # Every live process of the daemon was one of those compared.
    seen = {MASTER, mon, net, spool} | set(keys) | set(mxs)
    t.eq(sorted(set(P.descendants(MASTER)) - seen), [],
         "every-live-process-compared")
    t.check(c.cmd("QUIT").startswith(b"+OK"), "quit")


def manual_matches_manifest():
    """popsep-privsep(7) describes every frame type -P prints, and no
    other: the manual is checked against the receivers' tables."""
    import re
    r = manifest(all_options_conf())
    printed = set(re.findall(r"^  channel \S+ (MSG_[A-Z0-9_]+) ",
                             r.stdout.decode(), re.M))
    with open(os.path.join(P.TOP, "man", "popsep-privsep.7")) as f:
        man = f.read()
    items = set()
    for ln in re.findall(r"^\.It Dv (MSG_[A-Z0-9_ ,]+)$", man, re.M):
        items |= set(re.findall(r"MSG_[A-Z0-9_]+", ln))
    t.check(len(printed) > 40, "manifest-prints-frame-types", len(printed))
    t.eq(sorted(printed - items), [], "manual-describes-every-frame-type")
    t.eq(sorted(items - printed), [], "manual-describes-no-other-frame-type")


t.run("main", main)
t.run("manual", manual_matches_manifest)
srv.check_log_clean()
t.check(srv.alive(), "daemon-alive")
t.done()
