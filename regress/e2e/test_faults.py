#!/usr/bin/env python3
"""
Proof: nothing lost.  Seeded, randomized fault-injection trials against
the real daemon, judged only from what an outsider sees: the bytes on disk
and the replies.

Each trial seeds a fresh mbox (1-300 messages, a few of several MiB; bodies
with ".", "..", ">From ", "From " after a non-empty line, long lines, CRLF
and LF), each message marked by an X-Fault-Id header.  A virtual user runs
a random session through popsepd (RETR, DELE, RSET, TOP, UIDL, LIST, STAT;
QUIT or a hang-up) while a real delivery agent appends mail: lockmda.py
(liblockfile's rules: pid in a temp file link(2)ed to USER.lock, a dead
pid's lock broken at once, an empty one only when old, plus fcntl),
Debian's dotlockfile running an append, or procmail with a ":0:" recipe.
One fault is injected:

  kill-strace  SIGKILL of the session monitor (root), the network child
               (_popsep) or the spool worker (the mail user), by strace at
               the N-th call of a syscall, during login, RETR, QUIT or the
               update;
  pause-kill   one session process held by strace at the N-th call of a
               syscall (delay_enter), another (or all) killed while it is
               held, sometimes while a delivery waits on the lock, then the
               held one let go;
  kill-delay   SIGKILL of one process or all of them after a random delay;
  drop         the client hangs up at a random point;
  disk-full    the mailbox on a tmpfs sized so that the update or a
               delivery runs out of space.

Processes are told apart from outside only (/proc: parent, Uid).  After
the fault, a login and a delivery must get through within a few seconds
(no stale lock), and a clean session (RETR of every message) and the file
itself must show: every message not confirmed deleted (DELE +OK and QUIT
+OK) byte for byte, every delivery the agent reported done intact, no
message twice; after QUIT +OK the deleted messages gone, after QUIT -ERR
none of them gone.

Environment: POPSEP_FAULT_SEED (a fixed default), POPSEP_FAULT_TRIALS (60
by default, about 3 minutes) starting at POPSEP_FAULT_FIRST (1),
POPSEP_FAULT_ONLY (trial numbers, "7" or "3-9,12", to replay), and
POPSEP_FAULT_RESULTS (a file to append one JSON line per trial to; "make
faults" tabulates them with --table FILE...).  Each trial is drawn from
the seed and its own number alone, so it replays the same by itself.  Every
failing trial prints a FAIL line naming its number, seed, fault, point,
target, mode and agent, and the details and the command that replays it
on stderr.
"""

import json
import os
import pwd
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import popseptest as P  # noqa: E402

DEFAULT_SEED = 20260301
DEFAULT_TRIALS = 60
STALE_BOUND = 8         # s a lock may outlive its session, generously
DELIVERY_BOUND = 8      # s a delivery after the fault may wait for a lock
CONCURRENT_BOUND = 25   # s a delivery during the session may take
SESSION_END_BOUND = 15  # s for the session's processes to exit after it
REPLY_TIMEOUT = 40      # s for any reply (the daemon's lock wait is 10 s)

LOCKMDA = os.path.join(HERE, "lockmda.py")
MARK_RE = re.compile(rb"X-Fault-Id: (T\d+\.[SD]\d+)")
FAULTS = (("kill-strace", 30), ("pause-kill", 25), ("kill-delay", 20),
          ("drop", 12), ("disk-full", 13))
POINTS = ("login", "retr", "quit", "update")
ROLES = ("monitor", "netchild", "worker")

# Syscalls to count per process and phase, with the largest N to draw
# (the calls each makes there, seen from outside with strace).  The
# worker does not exist before PASS: at login it is traced through the
# monitor (strace -f), on calls the monitor does not make.  The monitor
# makes no call while a message is retrieved: a fault at RETR aimed at it
# goes to the process that is busy then.
SYSCALLS = {
    ("monitor", "login"): [("openat", 4), ("write", 3), ("flock", 1),
                           ("fcntl", 3), ("unlink", 1), ("clone", 1),
                           ("sendmsg", 3), ("recvmsg", 3), ("close", 5)],
    ("monitor", "retr"): [],
    ("monitor", "quit"): [("recvmsg", 1), ("poll", 1), ("openat", 1)],
    ("monitor", "update"): [("openat", 3), ("write", 2), ("fcntl", 2),
                            ("fchown", 1), ("sendmsg", 3), ("recvmsg", 3),
                            ("unlink", 2), ("fsync", 1), ("close", 4)],
    ("worker", "login"): [("mmap", 1), ("setresuid", 1), ("prctl", 2),
                          ("seccomp", 3)],
    ("worker", "retr"): [("sendmsg", 6), ("recvmsg", 1)],
    ("worker", "quit"): [("recvmsg", 2), ("sendmsg", 1)],
    ("worker", "update"): [("pread64", 4), ("pwrite64", 4),
                           ("fdatasync", 2), ("ftruncate", 1), ("fsync", 1),
                           ("close", 2), ("sendmsg", 3), ("flock", 1),
                           ("munmap", 2)],
    ("netchild", "login"): [("read", 2), ("write", 2), ("sendmsg", 2),
                            ("recvmsg", 2)],
    ("netchild", "retr"): [("read", 1), ("write", 3), ("recvmsg", 3),
                           ("sendmsg", 1)],
    ("netchild", "quit"): [("read", 1), ("sendmsg", 1)],
    ("netchild", "update"): [("recvmsg", 1), ("write", 1), ("shutdown", 1)],
}
NR = {"read": 0, "write": 1, "close": 3, "poll": 7, "mmap": 9, "munmap": 11,
      "pread64": 17, "pwrite64": 18, "sendmsg": 46, "recvmsg": 47, "shutdown": 48,
      "clone": 56, "fcntl": 72, "flock": 73, "fsync": 74, "fdatasync": 75,
      "ftruncate": 77, "unlink": 87, "fchown": 93, "prctl": 157,
      "setresuid": 117, "openat": 257, "seccomp": 317}


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def parse_only(spec):
    out = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


# ---------------------------------------------------------------- messages

def marker(trial, kind, k):
    return b"T%d.%s%d" % (trial, kind.encode(), k)


def text_line(rng):
    words = [b"mail", b"popsep", b"lorem", b"ipsum", b"From", b"dolor",
             b"sit", b"amet", b"0123456789", b"quux", b"\xe9t\xe9", b"."]
    return b" ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))


def make_body(rng, size, crlf, from_ok=True):
    """Lines of the awkward kinds, about size bytes, ending in a newline.
    "From " starts a line only after a line with text on it, never after
    an empty one (that would be a separator in the mbox)."""
    out, n, prev_text = [], 0, False
    while n < size:
        r = rng.random()
        if r < 0.05:
            ln = b"."
        elif r < 0.09:
            ln = b".."
        elif r < 0.13:
            ln = b"." + text_line(rng)
        elif r < 0.17:
            ln = b">From someone@example.org Sat Jan  3 01:05:34 2026"
        elif r < 0.21 and prev_text and from_ok:
            ln = b"From inside the body, after a line of text"
        elif r < 0.26:
            ln = b""
        elif r < 0.275:
            ln = b"L" * rng.randint(1000, 120000)
        else:
            ln = text_line(rng)
            if ln.startswith(b"From ") and not prev_text:
                ln = b"x" + ln
        prev_text = ln.strip() != b""
        if crlf == "crlf" or (crlf == "mixed" and rng.random() < 0.3):
            ln += b"\r\n"
        else:
            ln += b"\n"
        out.append(ln)
        n += len(ln)
    if not out:
        out.append(b"x\n")
    return b"".join(out)


def big_body(rng, size):
    line = b"%s big message filler, 0123456789 abcdefghijklmnopqrstuvwxyz\n"
    block = b"".join(line % (b"%06d" % i) for i in range(1000))
    reps = size // len(block) + 1
    extra = b"..\n.\n>From x\nFrom after text\n" + b"Z" * rng.randint(1, 5000) + b"\n"
    return block * reps + extra


def make_message(rng, mark, big=False, from_ok=True, size=None):
    crlf = rng.choice(("lf", "lf", "lf", "crlf", "mixed"))
    if big:
        body = big_body(rng, size)
    else:
        body = make_body(rng, size if size is not None else
                         int(rng.expovariate(1 / 3000.0)) + 1, crlf, from_ok)
    hdr = (b"Return-Path: <sender@example.org>\n"
           b"From: Sender <sender@example.org>\n"
           b"To: popsep-faults@example.org\n"
           b"Subject: fault trial " + mark + b"\n"
           b"Message-ID: <" + mark + b"@popsep-faults.example.org>\n"
           b"X-Fault-Id: " + mark + b"\n")
    if crlf == "crlf":
        hdr = hdr.replace(b"\n", b"\r\n")
        return hdr + b"\r\n" + body
    return hdr + b"\n" + body


def procmail_stored(content):
    """procmail quotes every body line that starts with "From "."""
    i = content.find(b"\n\n")
    j = content.find(b"\r\n\r\n")
    cut = min(x for x in (i + 2 if i >= 0 else len(content),
                          j + 4 if j >= 0 else len(content)))
    head, body = content[:cut], content[cut:]
    body = re.sub(rb"(?m)^From ", b">From ", body)
    return head + body


def marks_in(data):
    m = MARK_RE.search(data)
    return m.group(1).decode() if m else None


def split_mbox(data):
    """The message contents of an mbox file (From_ lines and separators
    off), split where a From_ line follows an empty line, as written."""
    if not data:
        return []
    parts = re.split(rb"\n\n(?=From )", data)
    out = []
    for i, p in enumerate(parts):
        if i < len(parts) - 1:
            p += b"\n"
        elif p.endswith(b"\n\n"):
            p = p[:-1]
        nl = p.find(b"\n")
        out.append(p[nl + 1:] if p.startswith(b"From ") and nl >= 0 else p)
    return out


# ---------------------------------------------------------------- processes

def pid_children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def uid_of(pid):
    st = P.proc_status(pid)
    return P.ids(st, "Uid")[0] if st and st.get("Uid") else None


def reap(pid):
    """Orphans of a killed monitor are ours (we are the subreaper)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def paused_at(pid, nr):
    """The process is held at syscall entry of nr (a tracing stop)."""
    st = P.proc_status(pid)
    if not st or not st.get("State", "").startswith("t"):
        return False
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split()[0] == str(nr)
    except (OSError, IndexError):
        return False


class Session:
    """The processes of one POP3 session, told apart from outside: the
    monitor is the master's new root child, the network child its child
    running as the privsep user, the spool worker its later child."""

    def __init__(self, srv, netuid):
        self.srv, self.netuid = srv, netuid
        self.roles = {}             # pid -> role
        self.monitor = None
        self._stop = threading.Event()
        self._thread = None

    def master_root_children(self):
        return set(p for p in pid_children(self.srv.proc.pid)
                   if uid_of(p) == 0)

    def find(self, before, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for m in self.master_root_children() - before:
                kids = pid_children(m)
                if any(uid_of(k) == self.netuid for k in kids):
                    self.monitor = m
                    self.roles[m] = "monitor"
                    for k in kids:
                        self.roles[k] = "netchild"
                    self._thread = threading.Thread(target=self._watch,
                                                    daemon=True)
                    self._thread.start()
                    return True
            time.sleep(0.002)
        return False

    def _watch(self):
        while not self._stop.is_set():
            if self.monitor is not None:
                for k in pid_children(self.monitor):
                    if k not in self.roles:
                        self.roles[k] = "worker"
            time.sleep(0.002)

    def stop_watching(self):
        self._stop.set()
        if self._thread:
            self._thread.join()

    def pid(self, role):
        for p, r in list(self.roles.items()):
            if r == role and not P.gone(p):
                return p
        return None

    def wait_role(self, role, timeout=10):
        return P.wait_for(lambda: self.pid(role), timeout, 0.002)

    def alive(self):
        return [p for p in list(self.roles) if not P.gone(p)]

    def kill(self, role):
        """SIGKILL one role or "all"; the pids that were alive."""
        if role == "all":
            if self.monitor:
                for k in pid_children(self.monitor):
                    self.roles.setdefault(k, "worker")
            pids = self.alive()
        else:
            p = self.pid(role)
            pids = [p] if p else []
        P.kill_pids(pids)
        return pids

    def over(self, timeout):
        deadline = time.time() + timeout
        while True:
            for p in list(self.roles):
                reap(p)
            if not self.alive():
                return True
            if time.time() > deadline:
                return False
            time.sleep(0.01)


# ---------------------------------------------------------------- client

class Client:
    """RawPop with a fast multi-line reader and a hang-up that never
    raises; every reply or b"" (EOF, reset, timeout)."""

    def __init__(self, srv):
        self.c = P.RawPop(srv, tls=False, timeout=REPLY_TIMEOUT)
        self.dead = False

    def send(self, line):
        try:
            self.c.send(line + "\r\n")
            return True
        except OSError:
            self.dead = True
            return False

    def line(self):
        if self.dead:
            return b""
        try:
            return self.c.line()
        except (EOFError, OSError, RuntimeError):
            self.dead = True
            return b""

    def cmd(self, line):
        return self.line() if self.send(line) else b""

    def multi(self, limit=None):
        """The un-stuffed body of a multi-line reply, or None if the
        connection ended first; with limit, hang up after that many
        bytes."""
        buf = bytearray(self.c.buf)
        self.c.buf = b""
        start = 0
        while True:
            if buf.startswith(b".\r\n"):
                self.c.buf = bytes(buf[3:])
                return b""
            i = buf.find(b"\r\n.\r\n", max(0, start - 4))
            if i >= 0:
                body = bytes(buf[:i + 2])
                self.c.buf = bytes(buf[i + 5:])
                return (b"\r\n" + body).replace(b"\r\n.", b"\r\n")[2:]
            if limit is not None and len(buf) >= limit:
                self.hangup()
                return None
            start = len(buf)
            try:
                d = self.c.sock.recv(1 << 20)
            except OSError:
                d = b""
            if not d:
                self.dead = True
                return None
            buf += d

    def hangup(self):
        if not self.dead:
            self.c.drop()
        self.dead = True

    def close(self):
        self.c.close()


# ---------------------------------------------------------------- delivery

class Delivery:
    def __init__(self, mark, content, stored, when):
        self.mark, self.content, self.stored = mark, content, stored
        self.when = when
        self.rc = None              # exit status; None while running
        self.state = "new"          # running, done, failed, timeout
        self.t0 = self.t1 = None
        self.proc = None
        self.thread = None

    @property
    def reported(self):
        return self.state == "done"


class Agents:
    """Starts one kind of delivery agent on the trial's mailbox."""

    def __init__(self, kind, mailbox, workdir):
        self.kind, self.mailbox, self.dir = kind, mailbox, workdir
        self.items = []
        self.rc_file = os.path.join(workdir, "procmailrc")
        if kind == "procmail":
            with open(self.rc_file, "w") as f:
                f.write("SHELL=/bin/sh\nLOCKSLEEP=1\n"
                        "LOGFILE=%s/procmail.log\n"
                        ":0:\n%s\n" % (workdir, mailbox))

    def command(self, msgfile):
        if self.kind == "own":
            return [sys.executable, LOCKMDA, self.mailbox, msgfile,
                    str(CONCURRENT_BOUND)], None
        if self.kind == "dotlockfile":
            # An append that rolls back a short write, as MDAs do.
            # dotlockfile exits 0 whatever its command did, so the
            # command reports success in a file of its own.
            script = ('s=$(stat -c %s "$1") && cat "$2" >> "$1" && '
                      'echo delivered > "$3" || truncate -s "$s" "$1"')
            return ["dotlockfile", "-l", "-r", "60", "-i", "1", "-p",
                    self.mailbox + ".lock", "sh", "-c", script, "sh",
                    self.mailbox, msgfile, msgfile + ".status"], None
        return ["procmail", "-m", self.rc_file], msgfile

    def start(self, mark, content, when, bound=CONCURRENT_BOUND):
        stored = procmail_stored(content) if self.kind == "procmail" else content
        d = Delivery(mark, content, stored, when)
        chunk = P.FROM_LINE + content + b"\n"
        msgfile = os.path.join(self.dir, "msg-%s" % mark.decode())
        with open(msgfile, "wb") as f:
            f.write(chunk)
        d.msgfile = msgfile
        cmd, stdin = self.command(msgfile)
        d.t0 = time.time()
        d.state = "running"
        d.proc = subprocess.Popen(
            cmd, stdin=open(stdin, "rb") if stdin else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        d.thread = threading.Thread(target=self._wait, args=(d, bound),
                                    daemon=True)
        d.thread.start()
        self.items.append(d)
        return d

    def _wait(self, d, bound):
        try:
            d.rc = d.proc.wait(bound)
            d.state = "done" if d.rc == 0 else "failed"
            if self.kind == "dotlockfile" and d.rc == 0:
                try:
                    with open(d.msgfile + ".status") as f:
                        ok = f.read() == "delivered\n"
                except OSError:
                    ok = False
                if not ok:
                    d.state = "failed"
        except subprocess.TimeoutExpired:
            # Still waiting for a lock: stop it (procmail cleans up on
            # SIGTERM); it wrote nothing, or rolls back.
            d.state = "timeout"
            try:
                os.killpg(d.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                d.proc.wait(3)
            except subprocess.TimeoutExpired:
                P.stop_process(d.proc)
            d.rc = d.proc.returncode
        d.t1 = time.time()

    def wait(self, d, timeout):
        d.thread.join(timeout)
        return d.state

    def wait_all(self):
        for d in self.items:
            d.thread.join()


# ---------------------------------------------------------------- the plan

class Plan:
    """Everything a trial does, drawn up front from (seed, trial), so that
    one trial replays alone."""

    def __init__(self, seed, n, modes, agents):
        rng = random.Random("popsep-faults:%d:%d" % (seed, n))
        self.seed, self.n = seed, n
        self.mode = rng.choice(modes)
        self.agent = rng.choice(agents)
        self.fault = rng.choices([f for f, w in FAULTS],
                                 [w for f, w in FAULTS])[0]
        if self.fault == "disk-full":
            self.point = rng.choice(("update", "delivery"))
            self.target = "-"
        elif self.fault == "drop":
            self.point = rng.choice(POINTS)
            self.target = "client"
        else:
            self.point = rng.choice(POINTS)
            self.target = rng.choice(ROLES + (("all",)
                                     if self.fault != "kill-strace" else ()))
        # The mailbox.
        r = rng.random()
        count = (rng.randint(1, 10) if r < 0.3 else
                 rng.randint(10, 80) if r < 0.7 else rng.randint(80, 300))
        bigs = set()
        if rng.random() < 0.25 and self.fault != "disk-full":
            bigs = set(rng.sample(range(count), min(count, rng.randint(1, 2))))
        self.messages = []
        for k in range(count):
            big = k in bigs
            self.messages.append(make_message(
                rng, marker(n, "S", k + 1), big=big,
                size=rng.randint(1 << 20, 5 << 20) if big else None))
        # The session: a script of commands, then QUIT or a hang-up.
        nops = rng.randint(0, min(40, 2 * count + 2))
        self.ops = []
        for _ in range(nops):
            r = rng.random()
            k = rng.randint(1, count)
            if r < 0.38:
                self.ops.append(("RETR", k))
            elif r < 0.75:
                self.ops.append(("DELE", k))
            elif r < 0.83:
                self.ops.append(("TOP", k, rng.randint(0, 20)))
            elif r < 0.88:
                self.ops.append(("UIDL",))
            elif r < 0.91:
                self.ops.append(("RSET",))
            elif r < 0.95:
                self.ops.append(("LIST",))
            else:
                self.ops.append(("STAT",))
        if self.point in ("quit", "update") or self.fault == "disk-full":
            # Something to update.
            for _ in range(rng.randint(1, 4)):
                self.ops.append(("DELE", rng.randint(1, count)))
        self.fault_op = None
        if self.point == "retr":
            k = max(range(count), key=lambda i: len(self.messages[i])) \
                if bigs and rng.random() < 0.7 else rng.randrange(count)
            self.fault_op = rng.randint(0, len(self.ops))
            self.ops.insert(self.fault_op, ("RETR", k + 1))
        self.hangup = (rng.random() < 0.15 and
                       self.point not in ("quit", "update") and
                       self.fault != "disk-full")
        # Deliveries: when, and what.
        whens = ["before", "session", "session", "quit", "quit", "sent",
                 "sent"]
        nd = rng.randint(1, 4)
        self.deliveries = []
        for j in range(nd):
            w = rng.choice(whens)
            at = rng.randint(0, len(self.ops)) if w == "session" else None
            big = rng.random() < 0.05
            m = make_message(rng, marker(n, "D", j + 1), big=big,
                             from_ok=True,
                             size=rng.randint(1 << 20, 2 << 20) if big else
                             int(rng.expovariate(1 / 4000.0)) + 1)
            self.deliveries.append((w, at, m))
        self.after_fault = make_message(rng, marker(n, "D", 99))
        # The fault's parameters.
        self.delay = {"login": rng.uniform(0, 0.03),
                      "retr": rng.uniform(0, 0.05),
                      "quit": rng.uniform(0, 0.003),
                      "update": rng.uniform(0.001, 0.25)}.get(self.point, 0)
        self.drop_at = rng.random()
        busy = [x for x in ROLES if SYSCALLS[(x, self.point)]] \
            if self.point in POINTS else list(ROLES)
        if self.fault == "kill-strace" and self.target not in busy:
            self.target = rng.choice(busy)
        if self.fault == "pause-kill":
            self.held = rng.choice([x for x in busy if x != self.target])
        else:
            self.held = self.target
        sysrole = self.held if self.fault in ("pause-kill", "kill-strace") \
            else None
        if sysrole:
            name, top = rng.choice(SYSCALLS[(sysrole, self.point)])
            self.syscall, self.nth = name, rng.randint(1, top)
        else:
            self.syscall, self.nth = None, 0
        self.pause_delivery = rng.random() < 0.6
        self.release_after = rng.uniform(0, 0.3)
        total = sum(len(m) + len(P.FROM_LINE) + 1 for m in self.messages)
        dtotal = sum(len(m) + len(P.FROM_LINE) + 1
                     for w, a, m in self.deliveries)
        if self.point == "update":
            self.fs_size = total + rng.choice((0, 0, rng.randint(0, 65536),
                                               rng.randint(0, total)))
        else:
            self.fs_size = total + int(dtotal * rng.uniform(0, 0.9))
        self.fs_inodes = rng.random() < 0.15

    def name(self):
        return "trial-%d:seed=%d:fault=%s:point=%s:target=%s:mode=%s:agent=%s" % (
            self.n, self.seed, self.fault, self.point, self.target,
            self.mode, self.agent)

    def replay(self):
        return ("POPSEP_FAULT_SEED=%d POPSEP_FAULT_ONLY=%d python3 "
                "regress/e2e/test_faults.py" % (self.seed, self.n))


# ---------------------------------------------------------------- faults

class Fault:
    """Arms the planned fault at its point; tells afterwards whether it
    hit (the process was there and died of it)."""

    def __init__(self, tr):
        self.tr, self.plan = tr, tr.plan
        self.strace = None
        self.strace_out = None
        self.thread = None
        self.hit = False
        self.victims = []           # roles killed
        self.notes = []
        self.ended = threading.Event()  # the phase's commands are done

    def arm(self, sess):
        kind = self.plan.fault
        if kind == "kill-strace":
            self.start_strace(sess, "signal=SIGKILL")
        elif kind == "pause-kill":
            if self.start_strace(sess, "delay_enter=60000000"):
                self.thread = threading.Thread(target=self._pause_kill,
                                               args=(sess,), daemon=True)
                self.thread.start()
        elif kind == "kill-delay":
            self.thread = threading.Thread(target=self._kill_delay,
                                           args=(sess,), daemon=True)
            self.thread.start()

    def start_strace(self, sess, action):
        role = self.plan.held
        follow = role == "worker" and self.plan.point == "login"
        pid = sess.pid("monitor" if follow else role)
        if pid is None:
            self.notes.append("no %s to trace" % role)
            return False
        self.traced_pid = pid
        self.strace_out = os.path.join(self.tr.workdir, "strace.out")
        self.strace = subprocess.Popen(
            ["strace", "-q"] + (["-f"] if follow else []) +
            ["-o", self.strace_out, "-p", str(pid),
             "-e", "trace=" + self.plan.syscall,
             "-e", "inject=%s:%s:when=%d" % (self.plan.syscall, action,
                                            self.plan.nth)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        # Attached, or already killed by it (a call in progress counts).
        if not P.wait_for(lambda: P.gone(pid) or (P.proc_status(pid) or {})
                          .get("TracerPid") == str(self.strace.pid),
                          10, 0.005):
            self.notes.append("strace did not attach")
            return False
        return True

    def _kill_delay(self, sess):
        """SIGKILL after the delay, or at the end of the phase if that
        comes first (the fault stays within its phase)."""
        tgt = self.plan.target
        t0 = time.time()
        if tgt == "worker" or (tgt == "all" and self.plan.point == "login"):
            while not sess.pid("worker") and not self.ended.is_set():
                time.sleep(0.001)
            if tgt == "worker" and not sess.pid("worker"):
                self.notes.append("no worker appeared")
                return
            t0 = time.time()
        self.ended.wait(max(0, self.plan.delay - (time.time() - t0)))
        pids = sess.kill(tgt)
        if pids:
            self.hit = True
            self.victims = sorted(set(sess.roles[p] for p in pids))

    def _pause_kill(self, sess):
        nr = NR[self.plan.syscall]
        held = None
        deadline = time.time() + 15
        while held is None and time.time() < deadline and \
                self.strace.poll() is None and not self.ended.is_set():
            for p in sess.alive():
                if paused_at(p, nr):
                    time.sleep(0.03)
                    if paused_at(p, nr):
                        held = p
                        break
            else:
                time.sleep(0.003)
        if held is None:
            return
        self.notes.append("held %s at %s #%d" % (
            sess.roles.get(held), self.plan.syscall, self.plan.nth))
        d = None
        if self.plan.pause_delivery:
            # A delivery now: it waits on the lock (or takes it once its
            # holder is dead); the held process goes on only after it.
            d = self.tr.deliver("held")
        pids = sess.kill(self.plan.target)
        if pids:
            self.hit = True
            self.victims = sorted(set(sess.roles[p] for p in pids))
        if d is not None:
            self.tr.agents.wait(d, DELIVERY_BOUND)
        else:
            time.sleep(self.plan.release_after)
        self.stop_strace()

    def stop_strace(self):
        """Let strace go: it ends by itself once its tracee is dead, and
        detaches (letting a held process go on) on SIGTERM; either way
        it has written what it saw, which tells whether it struck."""
        if not self.strace or self.strace.poll() is not None:
            return
        try:
            self.strace.wait(1 if P.gone(self.traced_pid) else 0.01)
            return
        except subprocess.TimeoutExpired:
            pass
        self.strace.terminate()
        try:
            self.strace.wait(3)
        except subprocess.TimeoutExpired:
            self.strace.kill()
            self.strace.wait()

    def phase_end(self):
        """The commands of the fault's phase have their answers (or the
        connection is gone): a fault not yet injected is not injected
        later, in another phase."""
        if self.ended.is_set():
            return
        self.ended.set()
        if self.thread:
            self.thread.join(DELIVERY_BOUND + 20)
        self.stop_strace()

    def disarm(self):
        self.phase_end()
        if self.thread:
            self.thread.join(DELIVERY_BOUND + 20)
        self.stop_strace()
        if self.plan.fault == "kill-strace" and self.strace_out:
            try:
                with open(self.strace_out) as f:
                    text = f.read()
            except OSError:
                text = ""
            for ln in text.splitlines():
                if "killed by SIGKILL" in ln:
                    fl = ln.split()
                    pid = int(fl[0]) if fl[0].isdigit() else self.traced_pid
                    self.hit = True
                    self.victims.append(self.tr.sess.roles.get(pid, "?"))
            self.victims = sorted(set(self.victims))


# ---------------------------------------------------------------- one trial

class Trial:
    def __init__(self, env, plan):
        self.env, self.plan = env, plan
        self.srv = env.servers[plan.mode]
        self.full = plan.fault == "disk-full"
        self.user = env.FULL if self.full else env.USER
        self.mailbox = self.srv.users[self.user][3]
        self.workdir = tempfile.mkdtemp(prefix="popsep-faults-", dir="/tmp")
        self.agents = Agents(plan.agent, self.mailbox, self.workdir)
        self.dseq = 0
        self.replies = []           # (command, reply) of the session
        self.problems = []          # what went wrong, for the verdict
        self.counts = {"lost": 0, "corrupted": 0, "duplicated": 0,
                       "false-reply": 0}
        self.sess = None
        self.quit_reply = None
        self.deleted = set()        # message numbers DELE +OK, after RSET
        self.fault = Fault(self)
        self.quit_sent = False

    def problem(self, kind, text):
        self.problems.append((kind, text))

    def deliver(self, when, content=None, bound=CONCURRENT_BOUND):
        if content is None:
            content = make_message(
                random.Random("%d:%d:%d" % (self.plan.seed, self.plan.n,
                                            self.dseq)),
                marker(self.plan.n, "D", 50 + self.dseq))
        self.dseq += 1
        mark = MARK_RE.search(content).group(1)
        return self.agents.start(mark, content, when, bound)

    # -- the disk
    def prepare_disk(self):
        d = os.path.dirname(self.mailbox)
        for name in os.listdir(d):
            p = os.path.join(d, name)
            if os.path.isfile(p) or os.path.islink(p):
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
        if self.full:
            size = (self.plan.fs_size + 4095) // 4096 * 4096 + 4096
            opts = "remount,size=%d" % size
            if self.plan.fs_inodes:
                opts += ",nr_inodes=3"
            r = P.run(["mount", "-o", opts, d])
            if r.returncode != 0:
                self.problem("harness", "remount: %s" % r.stderr.decode())
        return d

    def free_disk(self):
        if self.full:
            P.run(["mount", "-o", "remount,size=512m,nr_inodes=100000",
                   os.path.dirname(self.mailbox)])

    # -- the session
    def run(self):
        plan = self.plan
        self.prepare_disk()
        pw, uid, gid, path = self.srv.users[self.user]
        try:
            self.box = P.Mbox(path, plan.messages, uid, gid)
        except OSError as e:
            # A tmpfs too small even for the seed: draw the line higher.
            self.free_disk()
            self.box = P.Mbox(path, plan.messages, uid, gid)
            self.problem("note", "seed did not fit: %s" % e)
        self.view = [("S", k + 1) for k in range(len(plan.messages))]
        for w, at, m in plan.deliveries:
            if w == "before":
                d = self.deliver("before", m)
                self.agents.wait(d, CONCURRENT_BOUND + 5)
                if d.reported:
                    self.view.append(("D", d))
        self.sess = Session(self.srv, self.env.netuid)
        before = self.sess.master_root_children()
        try:
            c = Client(self.srv)
        except (OSError, EOFError) as e:
            self.problem("connect", "cannot connect: %s" % e)
            return
        self.c = c
        if not self.sess.find(before):
            self.problem("harness", "session processes not found")
        try:
            self.session(c)
        finally:
            self.fault.disarm()
            self.t_end = time.time()
            over = self.sess.over(SESSION_END_BOUND)
            self.sess.stop_watching()
            c.close()
            if not over:
                # Not a verdict by itself: the login check tells whether
                # they keep the mailbox from its user.
                left = ["%d(%s)" % (p, self.sess.roles[p])
                        for p in self.sess.alive()]
                self.problem("note", "session processes still running "
                             "%ds after the session: %s" % (
                                 SESSION_END_BOUND, " ".join(left)))
            self.t_end = time.time()

    def start_deliveries(self, when, at=None):
        for w, a, m in self.plan.deliveries:
            if w == when and (at is None or a == at):
                self.deliver(when, m)

    def point(self, name):
        plan = self.plan
        if plan.point != name:
            return False
        if plan.fault == "drop":
            return True
        if plan.fault != "disk-full":
            self.fault.arm(self.sess)
        return False

    def session(self, c):
        plan = self.plan
        dropping = self.point("login")
        r = c.cmd("USER " + self.user)
        self.replies.append(("USER", r))
        if dropping:
            c.send("PASS " + self.srv.users[self.user][0])
            time.sleep(plan.drop_at * 0.02)
            c.hangup()
            return
        r = c.cmd("PASS " + self.srv.users[self.user][0])
        self.replies.append(("PASS", r))
        if plan.point == "login":
            self.fault.phase_end()
        if not r.startswith(b"+OK"):
            return
        self.sess.wait_role("worker", 2)
        for i, op in enumerate(plan.ops + [None]):
            self.start_deliveries("session", i)
            if op is None:
                break
            if i == plan.fault_op and self.point("retr"):
                c.send("RETR %d" % op[1])
                if c.line().startswith(b"+OK"):
                    c.multi(limit=int(plan.drop_at *
                                      len(plan.messages[op[1] - 1])))
                c.hangup()
                return
            alive = self.op(c, op)
            if i == plan.fault_op and plan.point == "retr":
                self.fault.phase_end()
            if not alive:
                return
        if plan.hangup:
            c.hangup()
            return
        self.start_deliveries("quit")
        dropping = self.point("quit") or self.point("update")
        if not c.send("QUIT"):
            return
        self.quit_sent = True
        self.start_deliveries("sent")
        if dropping:
            if plan.point == "update":
                time.sleep(plan.delay)
            c.hangup()
            return
        self.quit_reply = c.line()
        self.replies.append(("QUIT", self.quit_reply))

    def op(self, c, op):
        """One command; False once the connection is gone."""
        verb = op[0]
        if verb in ("RETR", "TOP"):
            line = "%s %d" % (verb, op[1]) + (" %d" % op[2] if verb == "TOP"
                                               else "")
            r = c.cmd(line)
            self.replies.append((line, r))
            if r.startswith(b"+OK"):
                body = c.multi()
                if body is None:
                    return False
                self.check_view(op, body)
            return bool(r)
        if verb in ("UIDL", "LIST"):
            r = c.cmd(verb)
            self.replies.append((verb, r))
            if r.startswith(b"+OK"):
                body = c.multi()
                if body is None:
                    return False
                lines = body.split(b"\r\n")[:-1]
                if verb == "UIDL":
                    uids = [ln.split()[1] for ln in lines if len(ln.split()) == 2]
                    if len(set(uids)) != len(uids):
                        self.problem("reply", "UIDL repeats a UID")
            return bool(r)
        line = verb if len(op) == 1 else "%s %d" % op
        r = c.cmd(line)
        self.replies.append((line, r))
        if r.startswith(b"+OK"):
            if verb == "DELE":
                self.deleted.add(op[1])
            elif verb == "RSET":
                self.deleted.clear()
        return bool(r)

    def expected_of(self, k):
        """(mark, stored content) of message number k in the session."""
        if k < 1 or k > len(self.view):
            return None, None
        kind, x = self.view[k - 1]
        if kind == "S":
            return marker(self.plan.n, "S", x).decode(), self.plan.messages[x - 1]
        return x.mark.decode(), x.stored

    def check_view(self, op, body):
        mark, content = self.expected_of(op[1])
        if content is None:
            return
        want = P.wire(content)
        if op[0] == "TOP":
            lines = want.split(b"\r\n")[:-1]
            try:
                h = lines.index(b"")
            except ValueError:
                h = len(lines)
            want = b"".join(l + b"\r\n" for l in lines[:h + 1 + op[2]])
        if body != want:
            got = marks_in(body)
            self.problem("session-view", "%s %d: got %d bytes (%s), want %d "
                         "of %s; first difference at %d" % (
                             op[0], op[1], len(body), got, len(want), mark,
                             P.first_diff(body, want)))

    # -- after the fault
    def try_login(self):
        try:
            c = Client(self.srv)
        except (OSError, EOFError) as e:
            return "connect: %s" % e
        try:
            c.cmd("USER " + self.user)
            r = c.cmd("PASS " + self.srv.users[self.user][0])
            if r.startswith(b"+OK"):
                c.cmd("QUIT")
                c.c.closed(5)
                return "ok"
            return r.decode("latin-1") or "connection closed"
        finally:
            c.close()

    def stale_checks(self):
        self.free_disk()
        lock = self.mailbox + ".lock"
        attempts = []
        while True:
            t0 = time.time()
            r = self.try_login()
            attempts.append("%.1fs: %s" % (t0 - self.t_end, r))
            if r == "ok":
                break
            # A refusal that arrives this long after the end: the mailbox
            # was still locked then.
            if time.time() - self.t_end >= STALE_BOUND:
                self.problem("stale-lock" if "[IN-USE]" in r else "login",
                             "login refused %.0fs after the session ended "
                             "(lock %s; session processes left: %s): %s" % (
                                 time.time() - self.t_end, describe_lock(lock),
                                 " ".join("%d(%s)" % (p, self.sess.roles[p])
                                          for p in self.sess.alive())
                                 or "none", "; ".join(attempts)))
                break
            time.sleep(0.2)
        if self.sess.alive():
            self.problem("note", "killing what is left of the session: %s"
                         % " ".join("%d(%s)" % (p, self.sess.roles[p])
                                    for p in self.sess.alive()))
            P.kill_pids(self.sess.alive())
            self.sess.over(5)
        d = self.deliver("after", self.plan.after_fault, DELIVERY_BOUND)
        state = self.agents.wait(d, DELIVERY_BOUND + 10)
        if state != "done":
            self.problem("stale-lock", "a delivery (%s) after the fault "
                         "did not get through in %ds: %s rc=%s (lock %s)" % (
                             self.plan.agent, DELIVERY_BOUND, state, d.rc,
                             describe_lock(lock)))
        # A lock left once every delivery is over is stale: recorded
        # above if it mattered, out of the way of the check.
        self.agents.wait_all()
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass

    # -- the verdict
    def verify(self):
        plan = self.plan
        self.agents.wait_all()
        confirmed = (self.quit_reply or b"").startswith(b"+OK")
        refused = (self.quit_reply or b"").startswith(b"-ERR")
        deleted_marks = set()
        for k in self.deleted:
            m, _ = self.expected_of(k)
            if m:
                deleted_marks.add(m)
        want = {}                   # mark -> stored content
        for k, m in enumerate(plan.messages):
            want[marker(plan.n, "S", k + 1).decode()] = m
        reported = {}
        unreported = set()
        for d in self.agents.items:
            want[d.mark.decode()] = d.stored
            (reported.__setitem__(d.mark.decode(), d) if d.reported
             else unreported.add(d.mark.decode()))
        self.facts = {
            "quit": (self.quit_reply or b"").decode("latin-1")[:120],
            "deleted": sorted(deleted_marks),
            "deliveries": ["%s:%s:%s:rc=%s" % (d.mark.decode(), d.when,
                                                d.state, d.rc)
                           for d in self.agents.items],
            "hit": self.fault.hit, "victims": self.fault.victims,
            "notes": self.fault.notes,
        }
        # What the server serves...
        served = self.clean_session()
        # ... and what is on disk.
        try:
            with open(self.mailbox, "rb") as f:
                ondisk = split_mbox(f.read())
        except OSError as e:
            ondisk = []
            self.problem("disk", "cannot read the mailbox: %s" % e)
        for view, items, wire in (("served", served, True),
                                  ("disk", ondisk, False)):
            if items is None:
                continue
            self.judge(view, items, wire, want, deleted_marks, reported,
                       unreported, confirmed, refused)

    def judge(self, view, items, wire, want, deleted, reported, unreported,
              confirmed, refused):
        """Counts of this view; the trial keeps the larger of the two."""
        before = dict(self.counts)
        self.counts = dict.fromkeys(before, 0)
        try:
            self._judge(view, items, wire, want, deleted, reported,
                        unreported, confirmed, refused)
        finally:
            for k in before:
                self.counts[k] = max(before[k], self.counts[k])

    def _judge(self, view, items, wire, want, deleted, reported, unreported,
               confirmed, refused):
        copies = {}
        for body in items:
            m = marks_in(body)
            if m is None or m not in want:
                self.problem("corrupted", "%s: a message of no trial "
                             "(%d bytes: %r...)" % (view, len(body), body[:80]))
                self.counts["corrupted"] += 1
                continue
            copies.setdefault(m, []).append(body)
        for m, content in want.items():
            exp = P.wire(content) if wire else content
            got = copies.get(m, [])
            intact = [b for b in got if b == exp]
            # Without QUIT nothing may leave; after QUIT -ERR nothing
            # did; with no answer to QUIT, a deleted message may be gone.
            seeded = m.startswith("T%d.S" % self.plan.n)
            must = m in reported or (seeded and (
                m not in deleted or refused or not self.quit_sent))
            if len(got) > 1:
                self.problem("duplicated", "%s: %s %d times" % (
                    view, m, len(got)))
                self.counts["duplicated"] += 1
            for b in got:
                if b != exp and m not in unreported:
                    self.problem("corrupted", "%s: %s differs (%d bytes, "
                                 "want %d; first difference at %d)" % (
                                     view, m, len(b), len(exp),
                                     P.first_diff(b, exp)))
                    self.counts["corrupted"] += 1
            if must and not got and m in deleted and refused:
                pass            # a false reply: counted below
            elif must and not got:
                why = ("reported delivered" if m in reported else
                       "DELE'd, no QUIT" if m in deleted else "never deleted")
                self.problem("lost", "%s: %s is gone (%s)" % (view, m, why))
                self.counts["lost"] += 1
            elif must and not intact and got:
                pass            # counted as corrupted above
            if m in deleted and confirmed and got:
                self.problem("false-reply", "%s: %s is still there after "
                             "QUIT %r" % (view, m, self.facts["quit"]))
                self.counts["false-reply"] += 1
        if refused and any(m not in copies for m in deleted):
            gone = sorted(m for m in deleted if m not in copies)
            self.counts["false-reply"] += len(gone)
            self.problem("false-reply", "%s: QUIT said %r, yet %s are gone"
                         % (view, self.facts["quit"], " ".join(gone)))

    def clean_session(self):
        try:
            c = Client(self.srv)
        except (OSError, EOFError) as e:
            self.problem("login", "clean session cannot connect: %s" % e)
            return None
        try:
            c.cmd("USER " + self.user)
            r = c.cmd("PASS " + self.srv.users[self.user][0])
            if not r.startswith(b"+OK"):
                self.problem("login", "clean session refused: %r" % r)
                return None
            r = c.cmd("STAT")
            try:
                n = int(r.split()[1])
            except (IndexError, ValueError):
                self.problem("reply", "clean session STAT: %r" % r)
                return None
            out = []
            for k in range(1, n + 1):
                r = c.cmd("RETR %d" % k)
                body = c.multi() if r.startswith(b"+OK") else None
                if body is None:
                    self.problem("reply", "clean session RETR %d: %r" % (k, r))
                    return None
                out.append(body)
            r = c.cmd("QUIT")
            c.c.closed(5)
            return out
        finally:
            c.close()

    def cleanup(self):
        for d in self.agents.items:
            if d.proc and d.proc.poll() is None:
                P.stop_process(d.proc)
        self.fault.stop_strace()
        shutil.rmtree(self.workdir, ignore_errors=True)


def describe_lock(path):
    try:
        st = os.lstat(path)
        with open(path, "rb") as f:
            data = f.read(40)
    except OSError:
        return "gone"
    pid = data.split()[0].decode("latin-1") if data.split() else ""
    alive = pid.isdigit() and int(pid) > 0 and not P.gone(int(pid))
    return "%d bytes %r, %s, %.0fs old" % (
        st.st_size, data, "pid alive" if alive else "no live pid",
        time.time() - st.st_mtime)


# ---------------------------------------------------------------- setup

class Env:
    USER = "popsep-e2e-faults"
    FULL = "popsep-e2e-faultsfull"

    def __init__(self, t):
        self.t = t
        self.netuid = pwd.getpwnam("_popsep").pw_uid
        self.servers = {}
        self.modes = []
        self.tmpfs = []

    def config_ok(self, srv, extra):
        path = os.path.join(srv.dir, "check.conf")
        srv.write_config(path, listen=True, extra=extra)
        r = P.run([P.POPSEPD, "-n", "-f", path])
        why = (r.stderr.decode().strip().splitlines() or
               ["exit %d" % r.returncode])[0]
        return r.returncode == 0, why.replace(path + ":", "line ")

    def add_server(self, mode, extra_fn):
        srv = P.Server(self.t, "faults-" + mode, tls=False, cleartext="always")
        extra = extra_fn(srv)
        ok, why = self.config_ok(srv, extra)
        if not ok:
            return False, why
        srv.options.update(extra)
        srv.add_virtual_user(self.USER, "faults-pw")
        full = os.path.join(srv.dir, "full")
        os.mkdir(full, 0o755)
        r = P.run(["mount", "-t", "tmpfs", "-o", "size=512m,mode=0755",
                   "popsep-faults", full])
        if r.returncode == 0:
            self.t.cleanup(unmount, full)
            srv.add_virtual_user(self.FULL, "faults-pw",
                                 mailbox=os.path.join(full, self.FULL))
        srv.start()
        self.servers[mode] = srv
        self.modes.append(mode)
        return True, None


def unmount(d):
    if P.run(["umount", d]).returncode != 0:
        P.run(["umount", "-l", d])


def tabulate(files):
    """The table of make faults: trials by fault, point, target, mode,
    with the first failing trial of each row to replay."""
    rows, seeds = {}, set()
    for fn in files:
        with open(fn) as f:
            for ln in f:
                try:
                    r = json.loads(ln)
                except ValueError:
                    continue
                seeds.add(r["seed"])
                key = (r["fault"], r["point"], r["target"], r["mode"])
                a = rows.setdefault(key, [0, 0, 0, 0, 0, 0, 0, {}, None])
                a[0] += 1
                a[1] += 1 if r.get("hit") else 0
                a[2] += r["lost"]
                a[3] += r["corrupted"]
                a[4] += r["duplicated"]
                a[5] += r.get("false-reply", 0)
                if not r["pass"]:
                    a[6] += 1
                    for k in r.get("kinds", []):
                        a[7][k] = a[7].get(k, 0) + 1
                    if a[8] is None or r["n"] < a[8][1]:
                        a[8] = (r["seed"], r["n"])
    head = ("| fault | point | target | mode | trials | hit | lost | "
            "corrupted | duplicated | false replies | failed trials | "
            "failed trials by kind | replay |")
    out = [head, "|" + "---|" * 13]
    tot = [0] * 7
    for key in sorted(rows):
        a = rows[key]
        kinds = ", ".join("%s %d" % kv for kv in sorted(a[7].items()))
        ex = ""
        if a[8]:
            ex = ("%d" % a[8][1] if len(seeds) == 1 else
                  "%d of seed %d" % (a[8][1], a[8][0]))
        out.append("| %s | %s | %s | %s | %d | %d | %d | %d | %d | %d | %d "
                   "| %s | %s |" % (key + tuple(a[:7]) + (kinds, ex)))
        for i in range(7):
            tot[i] += a[i]
    out.append("| **all** | | | | %d | %d | %d | %d | %d | %d | %d | | |"
               % tuple(tot))
    if len(seeds) == 1:
        out.append("")
        out.append("Seed %d; replay trial N with POPSEP_FAULT_SEED=%d "
                   "POPSEP_FAULT_ONLY=N python3 regress/e2e/test_faults.py"
                   % (min(seeds), min(seeds)))
    return "\n".join(out)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--table":
        print(tabulate(sys.argv[2:]))
        return
    P.need_root()
    t = P.Test("faults")
    if not P.have("strace"):
        t.skip("faults", "strace is not installed")
        t.done()
    seed = env_int("POPSEP_FAULT_SEED", DEFAULT_SEED)
    trials = env_int("POPSEP_FAULT_TRIALS", DEFAULT_TRIALS)
    first = env_int("POPSEP_FAULT_FIRST", 1)
    only = os.environ.get("POPSEP_FAULT_ONLY", "")
    numbers = sorted(parse_only(only)) if only.strip() else \
        list(range(first, first + trials))
    results = os.environ.get("POPSEP_FAULT_RESULTS")

    env = Env(t)
    ok, why = env.add_server("in-place", lambda s: {"server-mode": True})
    if not ok:
        sys.stderr.write("note: 'set server-mode' is refused (%s); in-place "
                         "is the default, running without it\n" % why)
        ok, why = env.add_server("in-place", lambda s: {})
        if not ok:
            t.fail("in-place-config", why)
            t.done()

    def tempdrop(s):
        d = os.path.join(s.dir, "tmpdrop")
        os.makedirs(d, 0o1777, exist_ok=True)
        os.chmod(d, 0o1777)
        return {"server-mode": False, "temp-dir": d}
    ok, why = env.add_server("temp-drop", tempdrop)
    if not ok:
        t.skip("temp-drop-mode", "popsepd -n refuses 'reset server-mode' "
               "with 'set temp-dir': %s" % why)
    agents = ["own"]
    for a, prog, pkg in (("dotlockfile", "dotlockfile", "liblockfile-bin"),
                         ("procmail", "procmail", "procmail")):
        if P.have(prog):
            agents.append(a)
        else:
            t.skip("agent-" + a, "%s is not installed (package %s)" % (prog, pkg))
    if P.have("postconf"):
        t.skip("agent-postfix-local", "postfix is installed, but starting "
               "a private loopback instance of it is not done here yet")
    else:
        t.skip("agent-postfix-local", "Postfix's local(8) needs the postfix "
               "package, whose installation makes it the system's MTA (its "
               "own users and groups, /etc/postfix, a system-wide instance "
               "by default); this test does not change the system for it")
    if "popsep-e2e-faultsfull" not in env.servers[env.modes[0]].users:
        t.skip("disk-full", "cannot mount a tmpfs")

    t0 = time.time()
    failed = 0
    for n in numbers:
        plan = Plan(seed, n, env.modes, agents)
        if plan.fault == "disk-full" and \
                Env.FULL not in env.servers[plan.mode].users:
            continue
        tr = Trial(env, plan)
        try:
            tr.run()
            tr.stale_checks()
            tr.verify()
        except Exception:
            import traceback
            tr.problem("harness", traceback.format_exc())
        finally:
            tr.cleanup()
        srv = env.servers[plan.mode]
        if not srv.alive():
            tr.problem("daemon", "popsepd exited: %s" % srv.read_log()[-500:])
            srv.stop()
            srv.start()
        bad = [(k, v) for k, v in tr.problems if k != "note"]
        ok = not bad
        if not ok:
            failed += 1
            sys.stderr.write(
                "\n%s\n  replay: %s\n  QUIT: %s; deleted: %s\n  deliveries: "
                "%s\n  fault: %s %s#%d, hit: %s %s %s\n" % (
                    plan.name(), plan.replay(), tr.facts.get("quit")
                    if hasattr(tr, "facts") else "?",
                    " ".join(getattr(tr, "facts", {}).get("deleted", [])),
                    " ".join(getattr(tr, "facts", {}).get("deliveries", [])),
                    plan.held, plan.syscall, plan.nth, tr.fault.hit, tr.fault.victims, "; ".join(tr.fault.notes)))
            for k, v in bad[:40]:
                sys.stderr.write("  %s: %s\n" % (k, v))
            sys.stderr.flush()
        t.check(ok, plan.name())
        if results:
            target = plan.target
            if plan.fault == "kill-strace" and len(tr.fault.victims) == 1:
                target = tr.fault.victims[0]
            rec = {"n": n, "seed": seed, "fault": plan.fault,
                   "point": plan.point, "target": target,
                   "mode": plan.mode, "agent": plan.agent,
                   "hit": tr.fault.hit if plan.fault not in
                   ("drop", "disk-full") else True,
                   "victims": tr.fault.victims,
                   "syscall": plan.syscall, "nth": plan.nth,
                   "held": plan.held, "notes": tr.fault.notes,
                   "lost": tr.counts["lost"],
                   "corrupted": tr.counts["corrupted"],
                   "duplicated": tr.counts["duplicated"],
                   "false-reply": tr.counts["false-reply"], "pass": ok,
                   "kinds": sorted(set(k for k, v in bad)),
                   "secs": round(time.time() - t0, 1)}
            with open(results, "a") as f:
                f.write(json.dumps(rec) + "\n")
    sys.stderr.write("%d trials, %d failed, %.0f s\n" % (
        len(numbers), failed, time.time() - t0))
    t.done()


if __name__ == "__main__":
    main()
