"""
Helpers for popsep's end-to-end tests: PASS/FAIL/SKIP reporting, a
throw-away daemon (temp dir, self-signed certificate, chroot, config, free
ports), test users (a PAM system user and passwd-file virtual users),
mbox files, the bytes a client must receive for each message, a minimal
raw POP3 client and /proc helpers.

Everything is created under /tmp/popsep-e2e-* and named popsep-e2e-*;
every process started here is stopped by PID (or by the process group it
was started in), never by name.  Run as root.
"""

import atexit
import errno
import fcntl
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

TOP = os.environ.get("POPSEP_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
POPSEPD = os.environ.get("POPSEPD") or os.path.join(TOP, "build", "popsepd")

PAM_SERVICE = "popsep-e2e"
PAM_FILE = "/etc/pam.d/" + PAM_SERVICE
SYS_USER = "popsep-e2e-alice"
SYS_PASS = "Al1ce-e2e pass"          # a space: PASS takes the rest of the line
VIRT_UID = 47311                      # no passwd entry needed
VIRT_GID = 47311

GREETING = b"+OK popsep 0.1 ready."


# ---------------------------------------------------------------- reporting

class Test:
    """Prints one line per check; exits non-zero if any check failed."""

    def __init__(self, prefix=""):
        self.prefix = prefix
        self.failed = 0
        self.passed = 0
        self.names = set()
        self._cleanups = []
        set_subreaper()
        atexit.register(self._atexit)
        # Killed by the runner: still remove users, files and processes.
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda *a: sys.exit(1))

    def _name(self, name):
        name = re.sub(r"\s+", "-", name.strip())
        if self.prefix:
            name = self.prefix + "." + name
        base, i = name, 2
        while name in self.names:
            name = "%s#%d" % (base, i)
            i += 1
        self.names.add(name)
        return name

    def check(self, cond, name, detail=None):
        name = self._name(name)
        if cond:
            self.passed += 1
            print("PASS " + name, flush=True)
        else:
            self.failed += 1
            print("FAIL " + name, flush=True)
            if detail is not None:
                d = detail if isinstance(detail, str) else repr(detail)
                sys.stderr.write("%s: %s\n" % (name, d[:2000]))
                sys.stderr.flush()
        return bool(cond)

    def eq(self, got, want, name):
        """check(got == want) with a short diff on stderr."""
        ok = got == want
        detail = None
        if not ok:
            detail = "got %s, want %s" % (short(got), short(want))
            if isinstance(got, (bytes, str)) and isinstance(want, (bytes, str)):
                i = first_diff(got, want)
                detail += " (lengths %d/%d, first difference at %d: %r vs %r)" % (
                    len(got), len(want), i, got[i:i + 40], want[i:i + 40])
        return self.check(ok, name, detail)

    def skip(self, name, reason):
        print("SKIP %s (%s)" % (self._name(name), reason), flush=True)

    def fail(self, name, detail=None):
        return self.check(False, name, detail)

    def run(self, name, fn, *args, **kw):
        """Run one group of checks; an exception is a FAIL, not a crash."""
        try:
            return fn(*args, **kw)
        except Exception:
            self.fail(name + "-exception", traceback.format_exc())
            return None

    def cleanup(self, fn, *args):
        """Run fn(*args) at exit, last registered first."""
        self._cleanups.append((fn, args))

    def _atexit(self):
        while self._cleanups:
            fn, args = self._cleanups.pop()
            try:
                fn(*args)
            except Exception:
                traceback.print_exc()
        # Whatever is still below us, we started: stop it, then reap it.
        kill_pids(descendants(os.getpid()))
        reap_orphans()

    def done(self):
        self._atexit()
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)


def short(v, n=120):
    r = repr(v)
    if len(r) <= n:
        return r
    if hasattr(v, "__len__"):
        return r[:n] + "...(%d)" % len(v)
    return r[:n] + "..."


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def set_subreaper():
    """Become the reaper of orphans of the processes we start (a daemon's
    session processes outlive a killed master), so none is left a zombie
    of a PID 1 that does not reap."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)         # PR_SET_CHILD_SUBREAPER
    except Exception:
        pass


def reap_orphans(timeout=3):
    """Wait for every child left (all were sent SIGKILL by then)."""
    deadline = time.time() + timeout
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.time() > deadline:
                return
            time.sleep(0.02)


def need_root():
    if os.geteuid() != 0:
        print("SKIP %s (must run as root)" % os.path.basename(sys.argv[0]))
        sys.exit(0)


def have(prog):
    return shutil.which(prog) is not None


def run(cmd, timeout=120, check=False, **kw):
    """subprocess.run with captured output."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(cmd, timeout=timeout, check=check, **kw)


# ---------------------------------------------------------------- ports, /proc

def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (bound to 0, then released)."""
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            p = s.getsockname()[1]
            if p >= 1024 and p not in ports:
                ports.append(p)
    finally:
        for s in socks:
            s.close()
    return ports


def tcp_table():
    """Rows of /proc/net/tcp: (local (ip, port), remote (ip, port), state, inode)."""
    rows = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            fl = ln.split()
            if len(fl) < 10:
                continue

            def addr(s):
                h, p = s.split(":")
                return h, int(p, 16)
            rows.append((addr(fl[1]), addr(fl[2]), fl[3], int(fl[9])))
    return rows


def listening(port):
    return any(l[1] == port and st == "0A" for l, r, st, ino in tcp_table())


def tcp_inode(local_port, remote_port):
    """Inode of the established socket local_port <-> remote_port."""
    for l, r, st, ino in tcp_table():
        if l[1] == local_port and r[1] == remote_port and ino != 0:
            return ino
    return None


def proc_status(pid):
    d = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                k, _, v = ln.partition(":")
                d[k] = v.strip()
    except OSError:
        return None
    return d


def gone(pid):
    """The process has exited (it may still be a zombie)."""
    st = proc_status(pid)
    return st is None or st.get("State", "").startswith(("Z", "X"))


def proc_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    return int(s[s.rindex(")") + 2:].split()[1])


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def children(pid):
    return [p for p in all_pids() if proc_ppid(p) == pid]


def descendants(pid):
    out, todo = [], [pid]
    table = {}
    for p in all_pids():
        pp = proc_ppid(p)
        if pp is not None:
            table.setdefault(pp, []).append(p)
    while todo:
        for c in table.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def proc_fds(pid):
    """{fd: readlink target} of a process."""
    d = {}
    base = "/proc/%d/fd" % pid
    for fd in os.listdir(base):
        try:
            d[int(fd)] = os.readlink(os.path.join(base, fd))
        except OSError:
            pass
    return d


def ids(status, key):
    """The numbers of one /proc status line; none if the process is gone
    (status None)."""
    if status is None:
        return []
    return [int(x) for x in status.get(key, "").split()]


def uid_of(pid):
    """The real uid of a live process, or None once it has gone."""
    u = ids(proc_status(pid), "Uid")
    return u[0] if u else None


SCAN_CHUNK = 16 << 20


def scan_memory(pid, windows):
    """Names of the (name, bytes) windows found in any readable mapping of
    pid.  Reads in 16 MiB pieces that overlap by a window; skips mappings
    over 1 GiB (the sanitizer build's shadow memory, reserved but never
    holding data)."""
    hits = set()
    longest = max([len(w) for _, w in windows] + [1])
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            f = line.split()
            if "r" not in f[1] or (len(f) > 5 and
                                   f[5] in ("[vvar]", "[vsyscall]")):
                continue
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if hi - lo > (1 << 30):
                continue
            for off in range(lo, hi, SCAN_CHUNK):
                try:
                    mem.seek(off)
                    data = mem.read(min(SCAN_CHUNK + longest, hi - off))
                except (OSError, ValueError, OverflowError):
                    continue
                for name, w in windows:
                    if w in data:
                        hits.add(name)
    return sorted(hits)


def scan_daemon(srv, windows):
    """scan_memory() of the daemon's processes: the pids scanned and, for
    each pid with a hit, the names of the windows found in it."""
    procs = [p for p in [srv.proc.pid] + descendants(srv.proc.pid)
             if proc_status(p) is not None]
    found = {}
    for p in procs:
        try:
            hits = scan_memory(p, windows)
        except OSError:
            continue
        if hits:
            found[p] = hits
    return procs, found


def kill_pids(pids, sig=signal.SIGKILL):
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def stop_process(proc, timeout=5):
    """SIGTERM a subprocess we started, then SIGKILL it and every process
    it started (its descendants and its process group)."""
    if proc is None:
        return
    kids = descendants(proc.pid) if proc.poll() is None else []
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    kids += [p for p in descendants(proc.pid) if p not in kids] if proc.poll() is None else []
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)
    kill_pids(kids)
    try:
        os.killpg(proc.pid, signal.SIGKILL)   # started with start_new_session
    except (ProcessLookupError, PermissionError):
        pass


# ---------------------------------------------------------------- messages, mbox

FROM_LINE = b"From popsep-e2e-sender@example.org  Sat Jan  3 01:05:34 2026\n"


def wire(content):
    """The bytes a client receives for a message whose mbox content is
    `content`: every line ends in CRLF (a CRLF stays, a bare LF becomes
    CRLF, a last line without newline gets one), no dot-stuffing."""
    lines = content.split(b"\n")
    last = lines.pop()
    out = []
    for ln in lines:
        if ln.endswith(b"\r"):
            ln = ln[:-1]
        out.append(ln + b"\r\n")
    if last:
        out.append(last + b"\r\n")
    return b"".join(out)


def lf(data):
    return data.replace(b"\r\n", b"\n")


class Mbox:
    """An mbox file built from message contents (header + body bytes).
    chunks[i] is message i's exact bytes in the file (From_ line, content,
    separator), so the expected file after deleting messages is known."""

    def __init__(self, path, messages, uid, gid, final_separator=True):
        self.path = path
        self.uid, self.gid = uid, gid
        self.messages = list(messages)
        self.chunks = []
        for i, m in enumerate(self.messages):
            last = i == len(self.messages) - 1
            c = FROM_LINE + m
            if not m.endswith(b"\n"):
                if not last:
                    raise ValueError("only the last message may lack a newline")
            elif not last or final_separator:
                c += b"\n"
            self.chunks.append(c)
        self.write()

    def data(self, keep=None):
        if keep is None:
            keep = range(len(self.chunks))
        return b"".join(self.chunks[i] for i in keep)

    def write(self, data=None):
        write_file(self.path, self.data() if data is None else data,
                   self.uid, self.gid, 0o600)
        self.original = self.read()

    def read(self):
        with open(self.path, "rb") as f:
            return f.read()

    def expected(self, i):
        """Wire bytes of message i (0-based)."""
        return wire(self.messages[i])


def write_file(path, data, uid=0, gid=0, mode=0o600):
    if os.path.lexists(path):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def message(n, subject, body, extra_headers=b""):
    return (b"Return-Path: <sender@example.org>\n"
            b"From: Sender <sender@example.org>\n"
            b"To: rcpt@example.org\n"
            b"Subject: " + subject + b"\n"
            b"Message-ID: <popsep-e2e-%d@example.org>\n" % n +
            b"X-Test-Id: %d\n" % n + extra_headers + b"\n" + body)


def varied_messages(big=True):
    """The messages of the client tests, each a corner case of mbox/POP3.
    The one without a final newline must stay last."""
    eight = bytes(b for b in range(1, 256) if b not in (10, 13))
    msgs = [
        message(1, b"plain", b"Hello.\nSecond line.\n"),
        message(2, b"dots", b".starts with a dot\n..two dots\n.\n"
                b"middle . line\n...\n. space\n"),
        message(3, b"from lines", b">From quoted in the mbox\n"
                b"text\nFrom unquoted after a non-empty line\n>>From x\n"),
        message(4, b"empty body", b""),
        message(5, b"crlf", b"").replace(b"\n", b"\r\n") +
        b"line one\r\nline two\r\n.dot crlf\r\n",
        message(6, b"8bit", b"bytes: " + eight + b"\nend\n",
                b"Content-Type: text/plain; charset=iso-8859-1\n"
                b"Content-Transfer-Encoding: 8bit\n"),
        message(7, b"long line", b"x" * 100000 + b"\nshort\n"),
    ]
    if big:
        line = b"The quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopq\n"
        n = (3 * 1024 * 1024) // len(line) + 1
        body = b"".join(b"%07d " % i + line for i in range(n))
        msgs.append(message(8, b"three megabytes", body))
    msgs.append(message(9, b"no final newline", b"first\nlast line without newline"))
    return msgs


# ---------------------------------------------------------------- users

def hash_password(pw):
    r = run(["openssl", "passwd", "-6", "-stdin"], input=pw.encode(),
            stdin=None, check=True)
    return r.stdout.decode().strip()


def create_system_user(t, name=SYS_USER, password=SYS_PASS, groups=("mail",)):
    """A real user for PAM (pam_unix) logins; removed at exit, with the
    PAM service file."""
    delete_system_user(name)
    cmd = ["useradd", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin"]
    if groups:
        cmd += ["-G", ",".join(groups)]
    run(cmd + [name], check=True)
    t.cleanup(delete_system_user, name)
    run(["chpasswd"], input=("%s:%s\n" % (name, password)).encode(),
        stdin=None, check=True)
    with open(PAM_FILE, "w") as f:
        f.write("# popsep end-to-end tests; removed when they end\n"
                "auth required pam_unix.so nodelay\n"
                "account required pam_unix.so\n")
    t.cleanup(remove_pam_file)
    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


def delete_system_user(name=SYS_USER):
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    run(["userdel", "-f", name])


def remove_pam_file():
    try:
        os.unlink(PAM_FILE)
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------- the server

class Server:
    """A popsepd of our own: temp dir, certificate, chroot, config, two
    ports (plain+STLS and implicit TLS).  Users are added before start().
    """

    def __init__(self, t, name="srv", tls=True, options=None,
                 auth_fail_delay=150, cleartext="tls", env=None):
        self.t = t
        self.env = env             # variables added to the daemon's
        self.dir = tempfile.mkdtemp(prefix="popsep-e2e-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        t.cleanup(self.cleanup)
        self.proc = None
        self.name = name
        self.spool = os.path.join(self.dir, "spool")
        os.mkdir(self.spool, 0o755)
        self.chroot = os.path.join(self.dir, "empty")
        self.conf = os.path.join(self.dir, "popsepd.conf")
        self.passwd = os.path.join(self.dir, "passwd")
        self.log = os.path.join(self.dir, "popsepd.log")
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        self.users = {}            # name -> (password, uid, gid, mailbox)
        self.passwd_lines = []
        self.port, self.tls_port = free_ports(2)
        self.tls = tls
        if tls:
            make_cert(self.cert, self.key)
        self.options = {
            "auth-fail-delay": str(auth_fail_delay),
            "clear-text-password": cleartext,
            "pam-service": PAM_SERVICE,
            "spool-dir": self.spool,
            "chroot-dir": self.chroot,
            "passwd-file": self.passwd,
            # Each server its own start-up caches (the daemon creates it).
            "cache-dir": os.path.join(self.dir, "cache"),
            "timeout": "60",
        }
        if options:
            self.options.update(options)
        self.write_passwd()

    # users and mailboxes
    def add_virtual_user(self, user, password, uid=VIRT_UID, gid=VIRT_GID,
                         mailbox=None, uid_field=None, gid_field=None):
        mailbox = mailbox or os.path.join(self.spool, user)
        self.passwd_lines.append("%s:%s:%s:%s:%s" % (
            user, hash_password(password),
            uid_field if uid_field is not None else uid,
            gid_field if gid_field is not None else gid, mailbox))
        self.users[user] = (password, uid, gid, mailbox)
        self.write_passwd()
        return mailbox

    def add_system_user(self, user=SYS_USER, password=SYS_PASS):
        pw = pwd.getpwnam(user)
        mailbox = os.path.join(self.spool, user)
        self.users[user] = (password, pw.pw_uid, pw.pw_gid, mailbox)
        return mailbox

    def write_passwd(self):
        write_file(self.passwd, ("# popsep e2e virtual users\n" +
                   "".join(l + "\n" for l in self.passwd_lines)).encode(),
                   0, 0, 0o600)

    def mbox(self, user, messages, **kw):
        pw, uid, gid, path = self.users[user]
        return Mbox(path, messages, uid, gid, **kw)

    # configuration
    def config_text(self, listen=True, extra=None):
        lines = ["# popsep e2e test configuration"]
        if listen:
            lines.append("set listen = 127.0.0.1:%d" % self.port)
            if self.tls:
                lines.append("set listen-tls = 127.0.0.1:%d" % self.tls_port)
        if self.tls:
            lines.append("set tls-server-cert-file = %s" % self.cert)
            lines.append("set tls-private-key-file = %s" % self.key)
        opts = dict(self.options)
        if extra:
            opts.update(extra)
        for k, v in opts.items():
            if v is None:
                continue
            if v is True:
                lines.append("set %s" % k)
            elif v is False:
                lines.append("reset %s" % k)
            else:
                lines.append("set %s = %s" % (k, v))
        return "\n".join(lines) + "\n"

    def write_config(self, path=None, listen=True, extra=None):
        path = path or self.conf
        write_file(path, self.config_text(listen, extra).encode(), 0, 0, 0o644)
        return path

    # process
    def start(self, args=("-d", "-v"), timeout=10):
        self.write_config()
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [POPSEPD] + list(args) + ["-f", self.conf],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.logf, start_new_session=True, cwd=self.dir,
            env=dict(os.environ, **self.env) if self.env else None)
        ports = [self.port] + ([self.tls_port] if self.tls else [])
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("popsepd exited with %s:\n%s" % (
                    self.proc.returncode, self.read_log()))
            if all(listening(p) for p in ports) and \
                    "started" in self.read_log():
                return self
            time.sleep(0.05)
        raise RuntimeError("popsepd did not start listening:\n" + self.read_log())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        stop_process(self.proc)
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None

    def cleanup(self):
        self.stop()
        if os.environ.get("POPSEP_E2E_KEEP"):
            sys.stderr.write("kept %s\n" % self.dir)
            return
        shutil.rmtree(self.dir, ignore_errors=True)

    def read_log(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_mark(self):
        return len(self.read_log())

    def log_since(self, mark):
        return self.read_log()[mark:]

    def check_log_clean(self, name="log-clean"):
        """No child was killed (sandbox violations are SIGSYS) and nothing
        fatal was logged."""
        bad = [l for l in self.read_log().splitlines()
               if re.search(r"killed by signal|sandbox violation|"
                            r"internal error|exited with status", l)]
        return self.t.check(not bad, name, "\n".join(bad[-10:]))

    # clients
    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = True
        return ctx

    def connect(self, tls=False, stls=False, timeout=30, port=None):
        c = RawPop(self, tls=tls, timeout=timeout, port=port)
        if stls:
            c.stls()
        return c

    def login(self, user, tls=True, stls=False, password=None, port=None):
        """A logged-in RawPop, or raises."""
        c = self.connect(tls=tls and not stls, stls=stls, port=port)
        pw = password if password is not None else self.users[user][0]
        r = c.cmd("USER " + user)
        if not r.startswith(b"+OK"):
            raise RuntimeError("USER: %r" % r)
        r = c.cmd("PASS " + pw)
        if not r.startswith(b"+OK"):
            raise RuntimeError("PASS: %r" % r)
        c.pass_reply = r
        return c

    def works(self, user, tls=True):
        """A new connection logs in and answers STAT; (ok, detail)."""
        try:
            c = self.login(user, tls=tls)
            r = c.cmd("STAT")
            q = c.cmd("QUIT")
            c.close()
            return r.startswith(b"+OK ") and q.startswith(b"+OK"), r
        except Exception as e:
            return False, "%s\n%s" % (e, self.read_log()[-2000:])


def fetchmail(d, poll, env=None):
    """One fetchmail run in directory d (its HOME): poll is the rcfile's
    "poll" entry, without the options, which keep the mail on the server
    and append each message as received to d/out.  Returns the run and
    the bytes delivered."""
    out = os.path.join(d, "out")
    rc = os.path.join(d, "fetchmailrc")
    write_file(rc, (
        "set no syslog\n" + poll +
        "  options keep fetchall no rewrite no stripcr sslproto ''\n"
        "  mda \"cat >> %s\"\n" % out).encode(), 0, 0, 0o600)
    r = run(["fetchmail", "--nodetach", "-f", rc],
            env=dict(env or os.environ, HOME=d), cwd=d)
    return r, open(out, "rb").read() if os.path.exists(out) else b""


def make_cert(cert, key):
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
         "-days", "2", "-keyout", key, "-out", cert, "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True)
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)


# ---------------------------------------------------------------- raw client

class RawPop:
    """A byte-exact POP3 client: replies and multi-line bodies as sent
    (bodies are returned un-stuffed, without the final "." line)."""

    def __init__(self, srv, tls=False, timeout=30, port=None):
        self.srv = srv
        if port is None:
            port = srv.tls_port if tls else srv.port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        if tls:
            self.sock = srv.ssl_context().wrap_socket(
                self.sock, server_hostname="localhost")
        self.buf = b""
        self.greeting = self.line()

    def fill(self):
        d = self.sock.recv(262144)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 10 * 1024 * 1024:
                raise RuntimeError("no line end")
            self.fill()
        ln, _, self.buf = self.buf.partition(b"\r\n")
        return ln

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def cmd(self, line):
        self.send((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return self.line()

    def multi(self):
        """The body of a multi-line reply, un-stuffed, CRLFs kept."""
        out = []
        while True:
            while True:
                i = self.buf.find(b"\r\n")
                if i >= 0:
                    break
                self.fill()
            ln = self.buf[:i]
            self.buf = self.buf[i + 2:]
            if ln == b".":
                return b"".join(out)
            if ln.startswith(b"."):
                ln = ln[1:]
            out.append(ln + b"\r\n")

    def multi_cmd(self, line):
        r = self.cmd(line)
        if not r.startswith(b"+OK"):
            return r, None
        return r, self.multi()

    def retr(self, n):
        return self.multi_cmd("RETR %d" % n)

    def capa(self):
        r, body = self.multi_cmd("CAPA")
        return [] if body is None else body.decode().split("\r\n")[:-1]

    def list(self):
        r, body = self.multi_cmd("LIST")
        return {int(a): int(b) for a, b in
                (l.split() for l in body.decode().splitlines())}

    def uidl(self):
        r, body = self.multi_cmd("UIDL")
        return {int(a): b for a, b in
                (l.split() for l in body.decode().splitlines())}

    def stls(self):
        r = self.cmd("STLS")
        if not r.startswith(b"+OK"):
            raise RuntimeError("STLS: %r" % r)
        if self.buf:
            raise RuntimeError("data after STLS reply")
        self.sock = self.srv.ssl_context().wrap_socket(
            self.sock, server_hostname="localhost")
        return r

    def closed(self, timeout=5):
        """True if the server closes the connection (EOF) within timeout,
        after draining whatever it still sends."""
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return True
        except socket.timeout:
            return False
        except OSError as e:
            return e.errno in (errno.ECONNRESET, errno.EPIPE)

    def drop(self):
        """Close without QUIT; reset so the server sees the end at once."""
        # (wrap_socket() moved the descriptor into self.sock)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        self.sock.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- locking

def dotlock(mailbox):
    """Take MAILBOX.lock the way a delivery agent does; returns the path."""
    path = mailbox + ".lock"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, b"%d\n" % os.getpid())
    os.close(fd)
    return path


def deliver(mailbox, content, tries=30):
    """Append one message as a delivery agent does: dot-lock (O_EXCL),
    fcntl write lock, append a From_ line, the content and a separator,
    unlock, remove the dot-lock.  Returns the bytes appended."""
    chunk = FROM_LINE + content + (b"" if content.endswith(b"\n") else b"\n") + b"\n"
    for i in range(tries):
        try:
            lock = dotlock(mailbox)
            break
        except FileExistsError:
            time.sleep(0.2)
    else:
        raise RuntimeError("%s.lock is held" % mailbox)
    try:
        fd = os.open(mailbox, os.O_WRONLY | os.O_APPEND)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, chunk)
            os.fsync(fd)
            fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        os.unlink(lock)
    return chunk


def wait_for(pred, timeout=5, step=0.05):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)
