#!/usr/bin/env python3
"""
The process boundaries of a live session, read from /proc while the
client is parked: the network child (_popsep, chroot, no-new-privs,
seccomp, no capabilities, nothing open but sockets), the spool worker
(the mail user's uid and gid, no supplementary groups even though the
user is in group mail, chroot, seccomp), the session monitor (root, but
without the client's socket), the master (without it too) and the key
process (_popsepkey, seccomp).
"""

import grp
import os
import pwd
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import popseptest as P  # noqa: E402

P.need_root()
t = P.Test()

BOB, BOBPW = "popsep-e2e-bob", "bob-e2e pw"
ALICE = P.SYS_USER

r = P.run(["sh", os.path.join(P.TOP, "etc", "users.sh")])
if r.returncode != 0:
    t.fail("users.sh", r.stderr)
net_pw = pwd.getpwnam("_popsep")
key_pw = pwd.getpwnam("_popsepkey")
MAIL_GID = grp.getgrnam("mail").gr_gid

alice_uid, alice_gid = P.create_system_user(t, groups=("mail",))
srv = P.Server(t)
srv.add_virtual_user(BOB, BOBPW)
srv.add_system_user(ALICE)
srv.mbox(BOB, P.varied_messages(big=False))
srv.mbox(ALICE, P.varied_messages(big=False))
srv.start()
MASTER = srv.proc.pid
CHROOT = os.path.realpath(srv.chroot)
DEVNULL = "/dev/null"


def client_inode(c, port):
    """Inode of the server's end of connection c."""
    cport = c.sock.getsockname()[1]
    return P.wait_for(lambda: P.tcp_inode(port, cport), 2)


def session_procs(inode):
    """(monitor, network child) of the session whose network child holds
    the server end of the connection."""
    for mon in P.children(MASTER):
        for kid in P.children(mon):
            if "socket:[%d]" % inode in P.proc_fds(kid).values():
                return mon, kid
    return None, None


def same4(st, key, val):
    return P.ids(st, key) == [val] * 4


def check_sandboxed(label, pid, uid, gid, st=None):
    st = st or P.proc_status(pid)
    t.check(same4(st, "Uid", uid), label + "-uid", st.get("Uid"))
    t.check(same4(st, "Gid", gid), label + "-gid", st.get("Gid"))
    t.eq(st.get("Groups"), "", label + "-no-groups")
    t.eq(st.get("Seccomp"), "2", label + "-seccomp")
    t.eq(st.get("NoNewPrivs"), "1", label + "-nonewprivs")
    t.check(int(st.get("CapEff", "1"), 16) == 0 and
            int(st.get("CapPrm", "1"), 16) == 0, label + "-no-capabilities",
            (st.get("CapEff"), st.get("CapPrm")))
    t.eq(os.readlink("/proc/%d/root" % pid), CHROOT, label + "-root-is-chroot")
    t.eq(os.readlink("/proc/%d/cwd" % pid), CHROOT, label + "-cwd-in-chroot")


def mapped_libraries(pid):
    """Base names of the shared objects pid maps."""
    names = set()
    try:
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                fields = line.split()
                if len(fields) > 5 and ".so" in fields[5]:
                    names.add(os.path.basename(fields[5]))
    except OSError:
        pass
    return names


# Loaded only by the GSSAPI acceptor and the APOP check (lib/dlib.c).
LOADED_ON_DEMAND = ("libgssapi_krb5", "libkrb5.", "libk5crypto", "libgdbm")


def check_not_loaded(label, pid):
    libs = mapped_libraries(pid)
    t.check("libc.so.6" in libs, label + "-maps-readable", sorted(libs))
    t.check(not [n for n in libs for w in LOADED_ON_DEMAND if n.startswith(w)],
            label + "-no-gssapi-or-gdbm", sorted(libs))


def std_fds_ok(fds):
    """fds 0-2: /dev/null (the sanitizer build keeps fd 2, the daemon's
    log under -d, for its reports)."""
    san = os.environ.get("POPSEP_SANITIZE") == "1"
    return all(fds.get(fd) in (None, DEVNULL) or
               (san and fd == 2 and fds.get(fd) == srv.log)
               for fd in (0, 1, 2))


def main():
    # Before login: the monitor has one child, the network child.
    c = srv.connect(tls=False)
    t.eq(c.greeting, P.GREETING, "greeting")
    ino = client_inode(c, srv.port)
    t.check(ino is not None, "found-client-socket")
    mon, net = session_procs(ino)
    t.check(mon is not None, "found-session")
    if mon is None:
        return
    t.eq(P.children(mon), [net], "preauth-only-network-child")
    check_sandboxed("preauth-net", net, net_pw.pw_uid, net_pw.pw_gid)

    # STLS, then log in as the PAM user who is in group mail.
    c.stls()
    c.cmd("USER " + ALICE)
    r = c.cmd("PASS " + P.SYS_PASS)
    t.check(r.startswith(b"+OK"), "login-alice", r)
    t.eq(P.proc_status(net) is not None and net in P.children(mon), True,
         "same-network-child-after-login")
    kids = P.wait_for(lambda: [k for k in P.children(mon) if k != net], 2)
    t.eq(len(kids or []), 1, "one-spool-worker")
    if not kids:
        return
    spool = kids[0]

    # network child
    check_sandboxed("net", net, net_pw.pw_uid, net_pw.pw_gid)
    fds = P.proc_fds(net)
    # ... and the read end of the data pipe, the one pipe it has.
    net_pipes = {v for fd, v in fds.items() if fd > 2 and v.startswith("pipe:")}
    t.check(all(v.startswith("socket:") or v in net_pipes
                for fd, v in fds.items() if fd > 2) and len(net_pipes) == 1
            and std_fds_ok(fds), "net-only-sockets-and-the-data-pipe", fds)
    t.check("socket:[%d]" % ino in fds.values(), "net-holds-client-socket", fds)

    # spool worker
    st = P.proc_status(spool)
    check_sandboxed("spool", spool, alice_uid, alice_gid, st)
    t.check(str(MAIL_GID) not in st.get("Groups", "").split(),
            "spool-not-in-group-mail", st.get("Groups"))
    t.check(MAIL_GID in os.getgrouplist(ALICE, alice_gid),
            "alice-is-in-group-mail")        # so the check above means something
    fds = P.proc_fds(spool)
    mailbox = os.path.realpath(srv.users[ALICE][3])
    # ... and its own start-up cache, which it reads and writes.
    cache = os.path.join(srv.options.get("cache-dir", "/var/cache/popsep"),
                         ALICE)
    t.check(all(v.startswith("socket:") or v in (mailbox, cache) or
                v in net_pipes
                for fd, v in fds.items() if fd > 2) and std_fds_ok(fds),
            "spool-only-sockets-mailbox-cache-and-the-data-pipe", fds)
    t.check(net_pipes and net_pipes <= set(fds.values()),
            "data-pipe-joins-net-and-spool", fds)
    if cache in fds.values():
        cst = os.stat(cache)
        t.check(cst.st_uid == alice_uid and (cst.st_mode & 0o777) == 0o600,
                "spool-cache-is-alices-0600", oct(cst.st_mode))
    t.check("socket:[%d]" % ino not in fds.values(),
            "spool-without-client-socket", fds)

    # monitor and master: root, without the client's socket
    st = P.proc_status(mon)
    t.check(same4(st, "Uid", 0), "monitor-is-root", st.get("Uid"))
    t.eq(P.proc_ppid(mon), MASTER, "monitor-child-of-master")
    fds = P.proc_fds(mon)
    t.check("socket:[%d]" % ino not in fds.values(),
            "monitor-without-client-socket", fds)
    t.check(not (set(fds.values()) & net_pipes),
            "monitor-without-the-data-pipe", fds)
    tcp = {"socket:[%d]" % row[3] for row in P.tcp_table()}
    t.check(not (set(fds.values()) & tcp), "monitor-without-tcp-socket", fds)
    t.check("socket:[%d]" % ino not in P.proc_fds(MASTER).values(),
            "master-without-client-socket")

    # A second, parallel session of the passwd-file user over implicit TLS.
    b = srv.login(BOB, tls=True)
    ino_b = client_inode(b, srv.tls_port)
    mon_b, net_b = session_procs(ino_b) if ino_b else (None, None)
    t.check(mon_b is not None and mon_b != mon, "found-second-session")
    if mon_b is not None:
        check_sandboxed("tls-net", net_b, net_pw.pw_uid, net_pw.pw_gid)
        sb = [k for k in P.children(mon_b) if k != net_b]
        t.eq(len(sb), 1, "second-spool-worker")
        if sb:
            check_sandboxed("virtual-spool", sb[0], P.VIRT_UID, P.VIRT_GID)
    t.check(b.cmd("STAT").startswith(b"+OK"), "second-session-works")
    b.cmd("QUIT")

    # The key process(es): children of the master that are not monitors.
    keys = [k for k in P.children(MASTER)
            if P.ids(P.proc_status(k) or {}, "Uid")[:1] == [key_pw.pw_uid]]
    t.eq(len(keys), 1, "one-key-process")
    for k in keys:
        check_sandboxed("key", k, key_pw.pw_uid, key_pw.pw_gid)
        fds = P.proc_fds(k)
        t.check(all(v.startswith("socket:") for fd, v in fds.items() if fd > 2)
                and std_fds_ok(fds), "key-only-sockets", fds)
    # (a child that exits meanwhile has no status left: ignore it)
    others = {k: P.proc_status(k) for k in P.children(MASTER) if k not in keys}
    others = {k: st for k, st in others.items() if st is not None}
    t.check(all(P.ids(st, "Uid")[:1] == [0] for st in others.values()),
            "other-master-children-are-monitors",
            {k: st.get("Uid") for k, st in others.items()})

    # No process of a session, nor the master or the key process, maps
    # the libraries only the GSSAPI acceptor and the APOP check load.
    for label, pid in [("master", MASTER), ("monitor", mon), ("net", net),
                       ("spool", spool)] + [("key", k) for k in keys]:
        check_not_loaded(label, pid)

    # The session still works, and ends cleanly.
    t.check(c.cmd("STAT").startswith(b"+OK"), "parked-session-works")
    t.check(c.cmd("QUIT").startswith(b"+OK"), "quit")
    t.check(P.wait_for(lambda: P.gone(mon), 5), "session-gone")


t.run("main", main)
srv.check_log_clean()
t.check(srv.alive(), "daemon-alive")
t.done()
