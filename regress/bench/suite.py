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
# make bench: popsepd side by side with Dovecot's POP3 server and popa3d
# in one run, on loopback, on the same mailboxes and the same password
# hash: session rate and server CPU per session (plain and implicit TLS),
# RETR throughput, a 1 GiB mailbox (first and second login, a second
# login with the mailbox out of the page cache, new mail, DELE then QUIT) beside its read and copy floors, memory per idle
# session, and many idle sessions held.  Every measurement is a key=value
# line in the results file; the summary table gives medians over
# BENCH_ROUNDS rounds (servers interleaved in each round) and popsep's
# ratios to the others.  Never decides pass or fail by timing: it exits
# non-zero only when something broke (a server did not start, a session
# failed).  Run as root; regress/bench/RESULTS.md says what each number
# means.  Everything it creates (users, mailboxes, cgroups, processes,
# files) is removed on exit.
#
#	python3 regress/bench/suite.py [BUILD]
#
# Knobs (environment): BENCH_ROUNDS (3), BENCH_SECONDS (10, per session
# rate cell; RETR cells take half), BENCH_CLIENTS (32), BENCH_BIG (1; 0
# skips the 1 GiB mailbox), BENCH_PSS_IDLE (200), BENCH_BIG_IDLE (8),
# BENCH_IDLE (5000; 0 skips), BENCH_IDLE_PEERS (0; 1 holds the idle
# sessions on Dovecot too), BENCH_OUT (the directory for the results).

import grp
import os
import pwd
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
POPSEPD = os.path.join(TOP, BUILD, "popsepd")


def knob(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


ROUNDS = max(1, knob("BENCH_ROUNDS", 3))
SECONDS = max(1, knob("BENCH_SECONDS", 10))
CLIENTS = max(1, knob("BENCH_CLIENTS", 32))
BIG = knob("BENCH_BIG", 1)
PSS_IDLE = max(1, knob("BENCH_PSS_IDLE", 200))
BIG_IDLE = max(1, knob("BENCH_BIG_IDLE", 8))
IDLE = knob("BENCH_IDLE", 5000)
IDLE_PEERS = knob("BENCH_IDLE_PEERS", 0)
SECOND_LOGINS = max(1, knob("BENCH_SECOND_LOGINS", 5))
OUT = os.environ.get("BENCH_OUT") or os.path.join(TOP, BUILD, "bench")
RETR_SECONDS = max(1, SECONDS // 2)

PASSWORD = "bench-pw 42"
USER = "popsep-bench"           # the system user; USER-1.. for parallel tests
MARK = "popsep bench user"      # the GECOS that marks users made here
SPOOL = "/var/mail"
POPA3D_UNPACKED = "/var/cache/popsep-bench/popa3d/usr/sbin/popa3d"
NUSERS = max(CLIENTS, PSS_IDLE, BIG_IDLE)
SERVERS = ["popsep", "dovecot", "popa3d"]
TLS_SERVERS = ["popsep", "dovecot"]

D = None                        # the temporary directory
created_users = []
created_groups = []
created_paths = []              # removed on exit, files or directories
restore_sysctl = {}
cgroup_root = None
running = []                    # Server objects still up
results = []                    # dicts, one per measurement line
failures = []                   # what broke
notes = []                      # said under the table
resfile = None


def log(msg):
    print(msg, flush=True)


def fail(msg):
    failures.append(msg)
    log("bench: FAILED: " + msg)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def record(**kv):
    results.append(kv)
    line = " ".join("%s=%s" % (k, v) for k, v in kv.items())
    resfile.write(line + "\n")
    resfile.flush()
    log("  " + line)


def parse_kv(text):
    kv = {}
    for w in text.split():
        if "=" in w:
            k, v = w.split("=", 1)
            kv[k] = v
    return kv


# ------------------------------------------------------------ set-up


def find_cgroup_root():
    """A writable cgroup v2 hierarchy (its cpu.stat counts exited
    processes too), or None."""
    with open("/proc/mounts") as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if fstype != "cgroup2":
                continue
            path = os.path.join(mnt, "popsep-bench.%d" % os.getpid())
            try:
                os.mkdir(path)
            except OSError:
                continue
            if os.path.exists(os.path.join(path, "cpu.stat")):
                return path
            os.rmdir(path)
    return None


def sh_quiet(cmd):
    return subprocess.run(cmd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode


def ensure_user(name, group, home="/nonexistent"):
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        run(["useradd", "-r", "-M", "-N", "-g", group, "-d", home,
             "-s", "/usr/sbin/nologin", "-c", MARK, "-p", HASH, name])
        created_users.append(name)
        return
    if pw.pw_gecos != MARK:
        sys.exit("bench: user %s exists and was not made by the bench; "
                 "remove it or run elsewhere" % name)
    # left by an interrupted run: take it over, and remove it on exit
    run(["usermod", "-p", HASH, name])
    created_users.append(name)


def setup_users():
    try:
        grp.getgrnam(USER)
    except KeyError:
        run(["groupadd", "-r", USER])
        created_groups.append(USER)
    ensure_user(USER, USER)
    for i in range(1, NUSERS + 1):
        ensure_user("%s-%d" % (USER, i), USER)


def setup_popa3d():
    """popa3d conflicts with dovecot-pop3d in Debian (both provide
    pop3-server), so etc/deps.sh unpacks its package rather than
    installing it; what its maintainer scripts would make (the user
    popa3d, /var/lib/popa3d, /etc/pam.d/popa3d) is made here."""
    path = shutil.which("popa3d") or (
        POPA3D_UNPACKED if os.path.exists(POPA3D_UNPACKED) else None)
    if path is None:
        sys.exit("bench: popa3d missing (sh etc/deps.sh bench)")
    try:
        grp.getgrnam("popa3d")
    except KeyError:
        run(["groupadd", "-r", "popa3d"])
        created_groups.append("popa3d")
    try:
        pwd.getpwnam("popa3d")
    except KeyError:
        run(["useradd", "-r", "-M", "-g", "popa3d", "-d", "/var/lib/popa3d",
             "-s", "/usr/sbin/nologin", "-c", "popa3d (bench)", "popa3d"])
        created_users.append("popa3d")
    if not os.path.isdir("/var/lib/popa3d"):
        os.mkdir("/var/lib/popa3d", 0o755)
        created_paths.append("/var/lib/popa3d")
    if not os.path.exists("/etc/pam.d/popa3d"):
        src = os.path.join(os.path.dirname(os.path.dirname(
            os.path.dirname(path))), "etc/pam.d/popa3d")
        with open("/etc/pam.d/popa3d", "w") as f:
            if os.path.exists(src):
                f.write(open(src).read())
            else:
                f.write("@include common-auth\n@include common-account\n")
        created_paths.append("/etc/pam.d/popa3d")
    return path


def version_of(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=10)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def deb_version(pkg):
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                         capture_output=True, text=True)
    return out.stdout.strip() or "?"


def set_sysctl(name, value):
    path = "/proc/sys/" + name.replace(".", "/")
    old = open(path).read().strip()
    if int(old) >= value:
        return
    restore_sysctl.setdefault(path, old)
    with open(path, "w") as f:
        f.write(str(value))
    notes.append("raised %s from %s to %d for the run" % (name, old, value))


def raise_limit(lim, name):
    """The soft limit up to the hard one, and the hard one further where
    that is allowed (it needs CAP_SYS_RESOURCE); inherited by the servers
    and the client."""
    soft, hard = resource.getrlimit(lim)
    want = 1 << 20 if lim == resource.RLIMIT_NOFILE else \
        resource.RLIM_INFINITY
    try:
        resource.setrlimit(lim, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(lim, (hard, hard))
        want = hard
    if soft != want:
        notes.append("limit of %s raised from %s to %s" % (
            name, soft, "unlimited" if want == resource.RLIM_INFINITY
            else want))


# --------------------------------------------------------- mailboxes


def mkmbox(path, *args):
    with open(path, "wb") as f:
        run([os.path.join(D, "bin/mkmbox")] + list(args), stdout=f)


def message_sizes(path):
    """Sizes of the messages of an mbox, as a list (From_ lines split)."""
    sizes = []
    start = 0
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while True:
        nxt = data.find(b"\nFrom ", pos)
        if nxt < 0:
            sizes.append(len(data) - start)
            break
        sizes.append(nxt + 1 - start)
        start = pos = nxt + 1
    return sizes


def place(pristine, path, owner, force=False):
    """Puts a copy of pristine at path, owned by owner, unless path is
    already an untouched copy (same size and modification time)."""
    st = os.stat(pristine)
    try:
        cur = os.stat(path)
        if (not force and cur.st_size == st.st_size and
                cur.st_mtime_ns == st.st_mtime_ns and
                cur.st_uid == pwd.getpwnam(owner).pw_uid):
            return False
    except FileNotFoundError:
        pass
    for p in (path, path + ".lock"):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
    shutil.copyfile(pristine, path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    pw = pwd.getpwnam(owner)
    os.chown(path, pw.pw_uid, grp.getgrnam("mail").gr_gid)
    os.chmod(path, 0o660)
    return True


def warm(path):
    """Writes the dirty pages out, then reads the file once, so that the
    timings that follow are about CPU and not about the disk."""
    os.sync()
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass


def evict(path):
    """Writes the dirty pages out, then drops the file from the page
    cache, as mail that has sat for hours on a busy server is."""
    os.sync()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


# ------------------------------------------------------------ servers


class Server:
    def __init__(self, name):
        self.name = name
        self.proc = None
        self.cg = None
        self.plain = self.tls = None

    def start_proc(self, argv, logname):
        if cgroup_root is not None:
            self.cg = os.path.join(cgroup_root, "%s.%d" % (
                self.name, int(time.time() * 1000) % 10 ** 9))
            os.mkdir(self.cg)
        cg = self.cg

        def enter():
            if cg is not None:
                with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))
            os.setsid()
        self.logf = open(os.path.join(D, logname), "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf,
                                     preexec_fn=enter)
        running.append(self)
        for port in (self.plain, self.tls):
            if port is not None and not wait_port(port, self.proc):
                raise RuntimeError("%s did not start (see %s)" % (
                    self.name, os.path.join(D, logname)))

    def pids(self):
        if self.cg is not None:
            with open(os.path.join(self.cg, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        return descendants(self.proc.pid)

    def cpu_usec(self):
        if self.cg is None:
            return None
        with open(os.path.join(self.cg, "cpu.stat")) as f:
            for line in f:
                k, v = line.split()
                if k == "usage_usec":
                    return int(v)
        return None

    def stop(self):
        if self.proc is None:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
        kill_rest(self)
        self.proc = None
        if self in running:
            running.remove(self)


def kill_rest(srv):
    if srv.cg is not None:
        deadline = time.time() + 10
        while time.time() < deadline:
            pids = srv.pids()
            if not pids:
                break
            try:
                with open(os.path.join(srv.cg, "cgroup.kill"), "w") as f:
                    f.write("1")
            except OSError:
                for p in pids:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.1)
        try:
            os.rmdir(srv.cg)
        except OSError:
            pass
    elif srv.proc is not None:
        try:
            os.killpg(srv.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if srv.proc is not None:
        try:
            srv.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def descendants(pid):
    """The process tree under pid (used only without cgroups)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def wait_port(port, proc, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


next_port = [25000]


def port_free(port):
    with socket.socket() as so:
        try:
            so.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def ports():
    """Two free high ports on loopback (other programs' are skipped, so
    that no measurement talks to a server not started here)."""
    while True:
        next_port[0] += 2
        if port_free(next_port[0]) and port_free(next_port[0] + 1):
            return next_port[0], next_port[0] + 1


def popsep_has_option(line):
    conf = os.path.join(D, "probe.conf")
    with open(conf, "w") as f:
        f.write(line + "\n")
    return sh_quiet([POPSEPD, "-n", "-f", conf]) == 0


def start_popsep(passwd, max_sessions=1000, fresh_cache=True):
    s = Server("popsep")
    s.plain, s.tls = ports()
    conf = os.path.join(D, "popsepd.conf")
    lines = [
        "set listen = 127.0.0.1:%d" % s.plain,
        "set listen-tls = 127.0.0.1:%d" % s.tls,
        "set tls-server-cert-file = %s/cert.pem" % D,
        "set tls-private-key-file = %s/key.pem" % D,
        "set passwd-file = %s" % passwd,
        "set chroot-dir = %s/empty" % D,
        "set clear-text-password = always",
        "set max-sessions = %d" % max_sessions,
        "set tls-sign-rate = 1000000",
        "set server-mode",
    ]
    if HAS_GUARD:
        # Every client is 127.0.0.1, thousands at once.
        lines += ["set max-per-source = 65536",
                  "set max-startups = 65536"]
    if HAS_CACHE_DIR:
        cache = os.path.join(D, "popsep-cache")
        if fresh_cache and os.path.exists(cache):
            shutil.rmtree(cache)
        os.makedirs(cache, exist_ok=True)
        lines.append("set cache-dir = %s" % cache)
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    s.start_proc([POPSEPD, "-d", "-f", conf], "popsepd.log")
    return s


def dovecot_conf(s, passwd, limit, inbox):
    dv = os.path.join(D, "dv")
    return """base_dir = {dv}/run
state_dir = {dv}/state
log_path = {dv}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain
mail_privileged_group = mail
mail_max_userip_connections = 100000
default_process_limit = {limit}
default_client_limit = {climit}
default_vsz_limit = 1G
passdb {{
  driver = passwd-file
  args = scheme=CRYPT username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
}}
first_valid_uid = 100
mail_location = mbox:~/mail:INBOX={inbox}/%u:INDEX={dv}/index/%u
service pop3-login {{
  inet_listener pop3 {{
    port = {plain}
  }}
  inet_listener pop3s {{
    port = {tls}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""".format(dv=dv, d=D, passwd=passwd, plain=s.plain, tls=s.tls,
           limit=limit, climit=2 * limit + 100, inbox=inbox)


def start_dovecot(passwd, inbox, limit=1000, fresh_index=True):
    s = Server("dovecot")
    s.plain, s.tls = ports()
    dv = os.path.join(D, "dv")
    if fresh_index and os.path.exists(os.path.join(dv, "index")):
        shutil.rmtree(os.path.join(dv, "index"))
    for sub in ("run", "state", "index"):
        os.makedirs(os.path.join(dv, sub), exist_ok=True)
    os.chmod(os.path.join(dv, "index"), 0o1777)
    with open(os.path.join(dv, "dovecot.conf"), "w") as f:
        f.write(dovecot_conf(s, passwd, limit, inbox))
    s.start_proc(["dovecot", "-F", "-c", os.path.join(dv, "dovecot.conf")],
                 "dovecot.stderr")
    return s


def start_popa3d():
    s = Server("popa3d")
    s.plain, _ = ports()
    conf = os.path.join(D, "inetd.conf")
    with open(conf, "w") as f:
        # nowait.N: inetd's limit of starts per minute, far above the rate
        f.write("127.0.0.1:%d stream tcp nowait.10000000 root %s popa3d\n"
                % (s.plain, POPA3D))
    s.start_proc(["inetd", "-i", "-R", "10000000", conf], "inetd.log")
    return s


def start(name, which="medium", fresh=True, limit=1000):
    if name == "popsep":
        return start_popsep(PASSWD[which], max_sessions=limit,
                            fresh_cache=fresh)
    if name == "dovecot":
        return start_dovecot(DV_PASSWD[which], SPOOL if which == "medium"
                             else os.path.join(D, "idle"), limit=limit,
                             fresh_index=fresh)
    return start_popa3d()


# ------------------------------------------------------- measurements


def popload(args, timeout=None):
    argv = [os.path.join(D, "bin/popload"), "-w", PASSWORD] + args
    p = subprocess.run(argv, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, parse_kv(p.stdout), p.stderr.strip()


def pss_of(srv):
    """Sums Pss, Pss_Anon and Pss_File over every process of the server."""
    tot = {"pss_kib": 0, "pss_anon_kib": 0, "pss_file_kib": 0, "procs": 0}
    for pid in srv.pids():
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                text = f.read()
        except OSError:
            continue
        tot["procs"] += 1
        for line in text.splitlines():
            k = line.split(":")[0]
            if k == "Pss":
                tot["pss_kib"] += int(line.split()[1])
            elif k == "Pss_Anon":
                tot["pss_anon_kib"] += int(line.split()[1])
            elif k == "Pss_File":
                tot["pss_file_kib"] += int(line.split()[1])
    return tot


def machine_busy_usec():
    """CPU time of the whole machine, all cores, not idle, in µs."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = sum(v[:8]) - v[3] - v[4]         # less idle and iowait
    return busy * 1e6 / os.sysconf("SC_CLK_TCK")


def settle(srv, want_procs=None, timeout=10):
    """Waits until the server's process count stops changing."""
    last, stable = -1, 0
    deadline = time.time() + timeout
    while time.time() < deadline:
        n = len(srv.pids())
        stable = stable + 1 if n == last else 0
        if stable >= 3 and (want_procs is None or n <= want_procs):
            return
        last = n
        time.sleep(0.2)


def m_rate(rnd, srv, tls):
    port = srv.tls if tls else srv.plain
    base = ["-p", str(port), "-u", USER, "-K", str(CLIENTS),
            "-c", str(CLIENTS)] + (["-T"] if tls else [])
    # one untimed pass: every server has seen every mailbox
    popload(base + ["-d", "2", "rate"])
    settle(srv)
    cpu0 = srv.cpu_usec()
    busy0, w0 = machine_busy_usec(), time.time()
    rc, kv, err = popload(base + ["-d", str(SECONDS), "rate"])
    settle(srv)
    cpu1 = srv.cpu_usec()
    busy1, w1 = machine_busy_usec(), time.time()
    n = int(kv.get("sessions", 0))
    row = dict(round=rnd, server=srv.name, test="rate", tls=int(tls),
               clients=CLIENTS, sessions=n, errors=kv.get("errors", "?"),
               sessions_per_s=kv.get("sessions_per_s", 0))
    if cpu0 is not None and n > 0:
        row["server_cpu_us_per_session"] = "%.1f" % ((cpu1 - cpu0) / n)
    row["client_cpu_us_per_session"] = kv.get("client_cpu_us_per_session",
                                              0)
    if cpu0 is not None and "seconds" in kv:
        # the machine's busy time not spent by this server or the client:
        # other programs that competed for the two cores
        other = (busy1 - busy0) - (cpu1 - cpu0) - \
            float(kv.get("client_cpu_s", 0)) * 1e6
        row["other_cpu_pct"] = "%.0f" % max(0.0, 100 * other / (
            (w1 - w0) * 1e6))
    record(**row)
    if rc != 0:
        fail("%s rate tls=%d: %s errors, %s" % (srv.name, tls,
             kv.get("errors", "?"), err.splitlines()[:3]))


def m_retr(rnd, srv, tls, spool, msg):
    port = srv.tls if tls else srv.plain
    rc, kv, err = popload(["-p", str(port), "-u", USER, "-m", str(msg),
                           "-d", str(RETR_SECONDS), "retr"] +
                          (["-T"] if tls else []))
    record(round=rnd, server=srv.name, test="retr", spool=spool,
           tls=int(tls), msg=msg, msg_octets=kv.get("msg_octets", "?"),
           retrs=kv.get("retrs", 0), mb_s=kv.get("mb_s", 0))
    if rc != 0:
        fail("%s retr %s tls=%d: %s" % (srv.name, spool, tls, err))


def m_idle(rnd, srv, spool, n, user, k, test="pss"):
    """PSS of the server with no session, then with n idle sessions."""
    settle(srv)
    time.sleep(0.5)
    base = pss_of(srv)
    out = open(os.path.join(D, "idle.out"), "w+")
    errf = open(os.path.join(D, "idle.err"), "w+")
    p = subprocess.Popen([os.path.join(D, "bin/popload"), "-w", PASSWORD,
                          "-p", str(srv.plain), "-u", user, "-K", str(k),
                          "-n", str(n), "-s", "-d", "3600", "idle"],
                         stdout=out, stderr=errf)
    ready = None
    deadline = time.time() + 1800
    while time.time() < deadline and p.poll() is None:
        out.seek(0)
        text = out.read()
        if "ready" in text:
            ready = parse_kv(text.split("ready", 1)[1].splitlines()[0])
            break
        time.sleep(0.2)
    if ready is None:
        p.kill()
        p.wait()
        fail("%s idle %d: popload ended before its sessions were up" %
             (srv.name, n))
        return
    settle(srv)
    time.sleep(1)
    held = pss_of(srv)
    p.send_signal(signal.SIGUSR1)
    try:
        p.wait(timeout=900)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    out.seek(0)
    text = out.read()
    done = parse_kv(text.split("done", 1)[1]) if "done" in text else {}
    errf.seek(0)
    errtext = errf.read().strip()
    row = dict(round=rnd, server=srv.name, test=test, spool=spool,
               sessions=n, opened=ready.get("opened", 0),
               errors=ready.get("errors", "?"),
               login_s=ready.get("login_s", "?"),
               quit_ok=done.get("quit_ok", 0),
               dropped=done.get("dropped", "?"),
               procs_0=base["procs"], procs_n=held["procs"],
               pss_0_kib=base["pss_kib"], pss_n_kib=held["pss_kib"])
    for key in ("pss_kib", "pss_anon_kib", "pss_file_kib"):
        row[key.replace("_kib", "_per_session_kib")] = "%.1f" % (
            (held[key] - base[key]) / n)
    record(**row)
    if p.returncode != 0:
        fail("%s idle %d on %s: %s errors, %s clean quits; %s" % (
            srv.name, n, spool, ready.get("errors"), done.get("quit_ok"),
            errtext.splitlines()[:3]))


def m_steps(rnd, srv, step, dele=False, expect=None):
    rc, kv, err = popload(["-p", str(srv.plain), "-u", USER, "-t", "1200",
                           "steps"] + (["-x"] if dele else []),
                          timeout=1500)
    row = dict(round=rnd, server=srv.name, test="big", step=step)
    if rc != 0:
        row["error"] = '"%s"' % err.replace('"', "'").splitlines()[0] \
            if err else "failed"
        record(**row)
        return False
    row.update(stat_count=kv["stat_count"], login_ms=kv["login_ms"],
               stat_ms=kv["stat_ms"], login_stat_ms=kv["login_stat_ms"])
    if dele:
        row.update(quit_ms=kv["quit_ms"], close_ms=kv["close_ms"])
    record(**row)
    if expect is not None and int(kv["stat_count"]) != expect:
        fail("%s big %s: STAT says %s messages, the mailbox has %d" % (
            srv.name, step, kv["stat_count"], expect))
    return True


# ------------------------------------------------------------- phases


def order(rnd):
    k = (rnd - 1) % len(SERVERS)
    return SERVERS[k:] + SERVERS[:k]


last_medium = [None]


def phase_medium(rnd):
    for name in order(rnd):
        log("round %d: %s, 4.7 MB mailboxes" % (rnd, name))
        changed = 0
        for i in range(1, NUSERS + 1):
            u = "%s-%d" % (USER, i)
            changed += place(MEDIUM, os.path.join(SPOOL, u), u)
        if changed and last_medium[0] is not None:
            notes.append("%s changed mailboxes in sessions without DELE "
                         "(restored before the next server)" %
                         last_medium[0])
        last_medium[0] = name
        place(MEDIUM, os.path.join(SPOOL, USER), USER)
        srv = start(name, fresh=False)
        try:
            m_rate(rnd, srv, False)
            if name in TLS_SERVERS:
                m_rate(rnd, srv, True)
            for tls in ([False, True] if name in TLS_SERVERS else [False]):
                m_retr(rnd, srv, tls, "medium", MEDIUM_BIGGEST)
            place(TENMB, os.path.join(SPOOL, USER), USER)
            for tls in ([False, True] if name in TLS_SERVERS else [False]):
                m_retr(rnd, srv, tls, "10mb", TENMB_BIGGEST)
            m_idle(rnd, srv, "medium", PSS_IDLE, USER, PSS_IDLE)
        finally:
            srv.stop()


def phase_big(rnd):
    box = os.path.join(SPOOL, USER)
    for name in order(rnd):
        log("round %d: %s, 1 GiB mailbox" % (rnd, name))
        place(BIG1G, box, USER, force=True)
        warm(box)
        srv = start(name, which="medium", fresh=True)
        try:
            if not m_steps(rnd, srv, "first", expect=BIG_COUNT):
                if name == "popa3d":
                    notes.append("popa3d refuses the 1 GiB mailbox: its "
                                 "MAX_MAILBOX_OPEN_BYTES is 200000000")
                else:
                    fail("%s: first login on the 1 GiB mailbox" % name)
                continue
            # One login's time on this machine scatters by 2 times; the
            # median takes every one of these, from every round.
            for _ in range(SECOND_LOGINS):
                m_steps(rnd, srv, "second", expect=BIG_COUNT)
            evict(box)
            m_steps(rnd, srv, "second-cold", expect=BIG_COUNT)
            with open(box, "ab") as f:
                run([os.path.join(D, "bin/mkmbox"), "-n", "1", "-s",
                     str(rnd)], stdout=f)
            warm(box)
            m_steps(rnd, srv, "new-mail", expect=BIG_COUNT + 1)
            m_steps(rnd, srv, "dele-quit", dele=True, expect=BIG_COUNT + 1)
        finally:
            srv.stop()
    # the floors, on the same file, warm
    place(BIG1G, box, USER, force=True)
    warm(box)
    out = subprocess.run([os.path.join(D, "bin/floor"), "scan", box],
                         capture_output=True, text=True, check=True).stdout
    kv = parse_kv(out)
    record(round=rnd, server="floor", test="big", step="scan",
           stat_count=kv["messages"], login_stat_ms=kv["ms"])
    dest = os.path.join(os.path.dirname(box), ".%s.floorcopy" % USER)
    for step, extra in (("copy", []), ("copy-nosync", ["nosync"])):
        try:
            out = subprocess.run([os.path.join(D, "bin/floor"), "copy", box,
                                  dest] + extra, capture_output=True,
                                 text=True, check=True).stdout
        finally:
            if os.path.exists(dest):
                os.unlink(dest)
        os.sync()
        record(round=rnd, server="floor", test="big", step=step,
               quit_ms=parse_kv(out)["ms"])


def big_idle_boxes():
    """A 1 GiB mailbox of its own for each idle session (popsepd claims a
    mailbox for one session at a time); made once, after the rounds that
    use these users' 4.7 MB mailboxes, and left untouched by the idle
    sessions, so every round uses the same copies."""
    for i in range(1, BIG_IDLE + 1):
        u = "%s-%d" % (USER, i)
        place(BIG1G, os.path.join(SPOOL, u), u)
        os.sync()
    last_medium[0] = None


def phase_big_idle(rnd):
    for name in order(rnd):
        changed = 0
        for i in range(1, BIG_IDLE + 1):
            u = "%s-%d" % (USER, i)
            changed += place(BIG1G, os.path.join(SPOOL, u), u)
        if changed:
            os.sync()
            if last_medium[0] is not None:
                notes.append("%s changed 1 GiB mailboxes in idle sessions "
                             "(restored before the next server)" %
                             last_medium[0])
        last_medium[0] = name
        log("round %d: %s, %d idle sessions on 1 GiB mailboxes" % (
            rnd, name, BIG_IDLE))
        srv = start(name, fresh=False)
        try:
            m_idle(rnd, srv, "1gib", BIG_IDLE, USER, BIG_IDLE)
        finally:
            srv.stop()


def phase_many_idle():
    names = ["popsep"] + (["dovecot"] if IDLE_PEERS else [])
    for name in names:
        log("%s: %d idle sessions" % (name, IDLE))
        srv = start(name, which="idle", limit=IDLE + 100)
        try:
            m_idle(1, srv, "small", IDLE, "bench-idle", IDLE, test="idle")
        finally:
            srv.stop()


def make_idle_users():
    """Virtual users bench-idle-1..IDLE, each with a small mailbox of its
    own (popsepd claims a mailbox for one session at a time)."""
    d = os.path.join(D, "idle")
    os.makedirs(d)
    os.chmod(d, 0o755)
    small = os.path.join(D, "small.mbox")
    mkmbox(small, "-n", "10", "-t", "50000", "-s", "3")
    pw = pwd.getpwnam(USER)
    with open(PASSWD["idle"], "w") as p, open(DV_PASSWD["idle"], "w") as q:
        for i in range(1, IDLE + 1):
            box = os.path.join(d, "bench-idle-%d" % i)
            shutil.copyfile(small, box)
            os.chown(box, pw.pw_uid, pw.pw_gid)
            os.chmod(box, 0o600)
            p.write("bench-idle-%d:%s:%d:%d:%s\n" % (
                i, HASH, pw.pw_uid, pw.pw_gid, box))
            q.write("bench-idle-%d:%s:%d:%d::%s/dv/home/idle::\n" % (
                i, HASH, pw.pw_uid, pw.pw_gid, D))
    os.makedirs(os.path.join(D, "dv/home/idle"), exist_ok=True)
    os.chown(os.path.join(D, "dv/home/idle"), pw.pw_uid, pw.pw_gid)


def write_passwd_files():
    """popsepd's and Dovecot's user files: the same users, hash and
    mailboxes popa3d gets from /etc/shadow and /var/mail."""
    global PASSWD, DV_PASSWD
    PASSWD = {"medium": os.path.join(D, "popsep.passwd"),
              "idle": os.path.join(D, "popsep-idle.passwd")}
    DV_PASSWD = {"medium": os.path.join(D, "dovecot.passwd"),
                 "idle": os.path.join(D, "dovecot-idle.passwd")}
    names = [USER] + ["%s-%d" % (USER, i) for i in range(1, NUSERS + 1)]
    with open(PASSWD["medium"], "w") as p, \
            open(DV_PASSWD["medium"], "w") as q:
        for u in names:
            pw = pwd.getpwnam(u)
            p.write("%s:%s:%d:%d:%s/%s\n" % (u, HASH, pw.pw_uid,
                                              pw.pw_gid, SPOOL, u))
            home = os.path.join(D, "dv/home", u)
            os.makedirs(home, exist_ok=True)
            os.chown(home, pw.pw_uid, pw.pw_gid)
            q.write("%s:%s:%d:%d::%s::\n" % (u, HASH, pw.pw_uid, pw.pw_gid,
                                              home))
    os.chmod(PASSWD["medium"], 0o600)
    os.chmod(os.path.join(D, "dv/home"), 0o755)


# ------------------------------------------------------------ summary


def med(vals):
    vals = [float(v) for v in vals]
    return statistics.median(vals) if vals else None


def pick(test, server, key, **match):
    out = []
    for r in results:
        if r.get("test") != test or r.get("server") != server:
            continue
        if any(str(r.get(k)) != str(v) for k, v in match.items()):
            continue
        if key in r:
            out.append(r[key])
    return med(out)


def fmt(v, unit=""):
    if v is None:
        return "–"
    if abs(v) >= 100:
        s = "%.0f" % v
    elif abs(v) >= 10:
        s = "%.1f" % v
    else:
        s = "%.2f" % v
    return s + unit


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return "%.2f" % (a / b)


def summary():
    rows = []

    def add(label, test, key, unit="", peers=SERVERS, floor=None, **m):
        vals = {s: (pick(test, s, key, **m) if s in peers else None)
                for s in SERVERS}
        f = pick(test, "floor", floor[0], step=floor[1]) if floor else None
        rows.append((label, vals, f, unit))

    for tls in (0, 1):
        t = "TLS" if tls else "plain"
        add("sessions/s, %d clients, %s" % (CLIENTS, t), "rate",
            "sessions_per_s", tls=tls)
        add("server CPU µs/session, %s" % t, "rate",
            "server_cpu_us_per_session", tls=tls)
        add("client CPU µs/session, %s" % t, "rate",
            "client_cpu_us_per_session", tls=tls)
        add("other programs' CPU meanwhile, %% of a core, %s" % t, "rate",
            "other_cpu_pct", tls=tls)
    for spool, what in (("medium", "4.7 MB spool, ~1 MB message"),
                        ("10mb", "10 MB message")):
        for tls in (0, 1):
            add("RETR MB/s, %s, %s" % (what, "TLS" if tls else "plain"),
                "retr", "mb_s", spool=spool, tls=tls)
    if BIG:
        add("1 GiB: first login+STAT, ms", "big", "login_stat_ms",
            step="first", floor=("login_stat_ms", "scan"))
        add("1 GiB: second login+STAT, ms", "big", "login_stat_ms",
            step="second", floor=("login_stat_ms", "scan"))
        add("1 GiB: second login+STAT, mailbox not in the page cache, ms",
            "big", "login_stat_ms", step="second-cold")
        add("1 GiB: login+STAT after 1 new message, ms", "big",
            "login_stat_ms", step="new-mail", floor=("login_stat_ms", "scan"))
        add("1 GiB: DELE 1, QUIT to its reply, ms", "big", "quit_ms",
            step="dele-quit", floor=("quit_ms", "copy"))
        add("1 GiB: DELE 1, QUIT to the close, ms", "big", "close_ms",
            step="dele-quit", floor=("quit_ms", "copy"))
        add("1 GiB: DELE 1, QUIT, beside a copy without fsync", "big",
            "quit_ms", step="dele-quit", floor=("quit_ms", "copy-nosync"))
    add("PSS KiB per idle session, 4.7 MB, %d sessions" % PSS_IDLE, "pss",
        "pss_per_session_kib", spool="medium")
    add("  of which anonymous", "pss", "pss_anon_per_session_kib",
        spool="medium")
    if BIG:
        add("PSS KiB per idle session, 1 GiB, %d sessions" % BIG_IDLE,
            "pss", "pss_per_session_kib", spool="1gib")
        add("  of which anonymous", "pss", "pss_anon_per_session_kib",
            spool="1gib")
    lines = ["| measurement | popsep | Dovecot | popa3d | popsep/Dovecot "
             "| popsep/popa3d | floor | popsep/floor |",
             "|---|---|---|---|---|---|---|---|"]
    for label, vals, f, unit in rows:
        p = vals["popsep"]
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            label, fmt(p), fmt(vals["dovecot"]), fmt(vals["popa3d"]),
            ratio(p, vals["dovecot"]), ratio(p, vals["popa3d"]),
            fmt(f) if f is not None else "", ratio(p, f) if f else ""))
    idle = [r for r in results if r.get("test") == "idle"]
    for r in idle:
        lines.append("")
        lines.append("%s: %s idle authenticated sessions held: %s opened, "
                     "%s errors, %s dropped, %s clean QUITs; %s processes, "
                     "PSS %s KiB in all (%s KiB with no session), %s KiB "
                     "per session; logins took %s s" % (
                         r["server"], r["sessions"], r["opened"],
                         r["errors"], r["dropped"], r["quit_ok"],
                         r["procs_n"], r["pss_n_kib"], r["pss_0_kib"],
                         r["pss_per_session_kib"], r["login_s"]))
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def cleanup():
    for s in list(running):
        try:
            s.stop()
        except Exception:       # noqa: BLE001 - go on cleaning
            pass
    if cgroup_root is not None:
        for sub in os.listdir(cgroup_root) if os.path.isdir(cgroup_root) \
                else []:
            p = os.path.join(cgroup_root, sub)
            if os.path.isdir(p):
                try:
                    os.rmdir(p)
                except OSError:
                    pass
        try:
            os.rmdir(cgroup_root)
        except OSError:
            pass
    for name in os.listdir(SPOOL):
        if name.startswith(USER) or name.startswith("." + USER):
            p = os.path.join(SPOOL, name)
            if os.path.isdir(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    os.unlink(p)
                except OSError:
                    pass
    for u in reversed(created_users):
        sh_quiet(["userdel", u])
    for g in reversed(created_groups):
        sh_quiet(["groupdel", g])
    for p in reversed(created_paths):
        if os.path.isdir(p):
            shutil.rmtree(p, ignore_errors=True)
        elif os.path.exists(p):
            os.unlink(p)
    for path, old in restore_sysctl.items():
        try:
            with open(path, "w") as f:
                f.write(old)
        except OSError:
            pass
    if D is not None:
        shutil.rmtree(D, ignore_errors=True)


def on_signal(sig, frame):
    raise KeyboardInterrupt


def main():
    global D, HASH, cgroup_root, resfile, MEDIUM, TENMB, BIG1G, POPA3D
    global MEDIUM_BIGGEST, TENMB_BIGGEST, BIG_COUNT, HAS_CACHE_DIR
    global HAS_GUARD
    if os.geteuid() != 0:
        sys.exit("bench: run as root")
    for tool in ("dovecot", "inetd", "cc", "openssl", "useradd"):
        if shutil.which(tool) is None:
            sys.exit("bench: %s missing (sh etc/deps.sh bench)" % tool)
    if not os.access(POPSEPD, os.X_OK):
        sys.exit("bench: %s missing (make)" % POPSEPD)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    t_start = time.time()
    D = tempfile.mkdtemp(prefix="popsep-bench.", dir="/tmp")
    os.chmod(D, 0o755)
    os.makedirs(OUT, exist_ok=True)
    resfile = open(os.path.join(OUT, "results.txt"), "w")
    try:
        # descriptors for thousands of sessions, in the servers and client
        for lim, name in ((resource.RLIMIT_NOFILE, "open files"),
                          (resource.RLIMIT_NPROC, "processes")):
            raise_limit(lim, name)
        os.makedirs(os.path.join(D, "bin"))
        os.makedirs(os.path.join(D, "empty"))
        os.chmod(os.path.join(D, "empty"), 0o755)
        for prog, libs in (("popload", ["-lssl", "-lcrypto"]),
                           ("floor", []), ("mkmbox", ["-lm"])):
            run(["cc", "-O2", "-o", os.path.join(D, "bin", prog),
                 os.path.join(TOP, "regress/bench", prog + ".c")] + libs)
        HASH = subprocess.run(["openssl", "passwd", "-6", "-salt",
                               "popsepbench", PASSWORD], capture_output=True,
                              text=True, check=True).stdout.strip()
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
             "-days", "2", "-keyout", os.path.join(D, "key.pem"), "-out",
             os.path.join(D, "cert.pem")], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        POPA3D = setup_popa3d()
        HAS_CACHE_DIR = popsep_has_option("set cache-dir = %s" %
                                          os.path.join(D, "probe-cache"))
        HAS_GUARD = popsep_has_option("set max-per-source = 65536")
        cgroup_root = find_cgroup_root()
        if cgroup_root is None:
            notes.append("no writable cgroup v2: server CPU per session "
                         "not measured; PSS summed over the process tree")
        if IDLE:
            set_sysctl("kernel.pid_max", 4 * IDLE + 20000)
            set_sysctl("kernel.threads-max", 8 * IDLE + 40000)
        setup_users()
        write_passwd_files()

        MEDIUM = os.path.join(D, "medium.mbox")
        mkmbox(MEDIUM, "-n", "100", "-t", "4700000", "-m", "1048576")
        TENMB = os.path.join(D, "10mb.mbox")
        mkmbox(TENMB, "-n", "3", "-m", "10485760", "-s", "2")
        sizes = message_sizes(MEDIUM)
        MEDIUM_BIGGEST = sizes.index(max(sizes)) + 1
        sizes = message_sizes(TENMB)
        TENMB_BIGGEST = sizes.index(max(sizes)) + 1
        if BIG:
            BIG1G = os.path.join(D, "1gib.mbox")
            if os.stat(D).st_dev != os.stat(SPOOL).st_dev:
                notes.append("the bench directory and %s are on different "
                             "file systems: mailboxes are copied" % SPOOL)
            mkmbox(BIG1G, "-n", "50000", "-t", "1073741824", "-m",
                   "1048576", "-s", "1")
            BIG_COUNT = 50000
        if IDLE:
            make_idle_users()

        machine = dict(
            server="machine", nproc=os.cpu_count(), kernel=os.uname().release,
            popsep=subprocess.run(["git", "-C", TOP, "rev-parse", "--short",
                                   "HEAD"], capture_output=True,
                                  text=True).stdout.strip() or "?",
            dovecot=version_of(["dovecot", "--version"]).split()[0],
            popa3d=deb_version("popa3d") if shutil.which("popa3d") else
            "1.0.3-1.1(unpacked)",
            openssl=version_of(["openssl", "version"]).split()[1],
            popsepd=POPSEPD, cache_dir=int(HAS_CACHE_DIR), rounds=ROUNDS,
            seconds=SECONDS,
            cgroup=int(cgroup_root is not None))
        record(**machine)

        for rnd in range(1, ROUNDS + 1):
            phase_medium(rnd)
            if BIG:
                phase_big(rnd)
        if BIG:
            big_idle_boxes()
            for rnd in range(1, ROUNDS + 1):
                phase_big_idle(rnd)
        if IDLE:
            phase_many_idle()
    except KeyboardInterrupt:
        fail("interrupted")
    except Exception as e:      # noqa: BLE001 - report, clean up, exit 1
        fail("%s: %s" % (type(e).__name__, e))
        import traceback
        traceback.print_exc()
    finally:
        logs = os.path.join(OUT, "logs")
        shutil.rmtree(logs, ignore_errors=True)
        os.makedirs(logs, exist_ok=True)
        if D is not None:
            for name in ("popsepd.log", "dovecot.stderr", "inetd.log",
                         "dv/dovecot.log"):
                src = os.path.join(D, name)
                if os.path.exists(src):
                    shutil.copy(src, os.path.join(logs,
                                                  os.path.basename(name)))
        cleanup()
    table = summary()
    with open(os.path.join(OUT, "summary.md"), "w") as f:
        f.write(table + "\n")
    log("")
    log("medians over %d round(s); ratios are popsep's value over the "
        "other's:" % ROUNDS)
    log(table)
    for n in sorted(set(notes)):
        log("note: " + n)
    log("results: %s/results.txt, table: %s/summary.md (%.0f s)" % (
        OUT, OUT, time.time() - t_start))
    if failures:
        log("bench: %d failure(s):" % len(failures))
        for f in failures:
            log("  " + f)
        sys.exit(1)


if __name__ == "__main__":
    main()
