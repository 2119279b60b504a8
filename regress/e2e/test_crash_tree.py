#!/usr/bin/env python3
"""
Mail delivered while a QUIT update runs survives the death of any process
of the session, at any step of that update.

A first traced run lists the spool worker's steps during the update (each
write, sync, truncate and close, and its lock/unlock exchanges with the
session monitor).  Then, for each step and for each target -- the session
monitor, the spool worker, the network child, and the whole session tree
at once -- one trial: a mailbox with a small deleted message before big
kept ones, DELE, the worker held by strace on entry to that step (seen
from /proc to be stopped in that very syscall), QUIT, a delivery agent
started that must wait on the dot-lock while the session holds it (the
real dotlockfile(1), PLATFORM.md section 12, or a Python agent that
follows liblockfile's rules and takes an fcntl lock too), SIGKILL of the
target, then everything is let run to its end.  A fresh login must then
succeed, and the mailbox must hold exactly all the original messages or
exactly the kept ones, in order and byte for byte, followed by the
delivered message once.  A QUIT reply that arrived must tell the truth:
+OK only if the deletions were applied, "no messages were removed" only
if none was.

Also: a dot-lock left by a kill, or naming a dead process, must not keep
the user out; an empty one only for a short grace; one held by a live
process is never broken.  A leftover journal that is root-owned or empty
does not refuse logins, and a journal left beside a mailbox that was
replaced afterwards is not applied to the new mailbox.

Everything is judged from outside: replies, and the bytes on disk.

One case at a time:
  POPSEP_CRASH_STEP=pwrite64.7-mailbox[,...]  steps (or pwrite64.7, or pwrite64)
  POPSEP_CRASH_TARGET=monitor,worker,net,tree
  POPSEP_CRASH_AGENT=dotlockfile|pyagent|both (default: they alternate)
  POPSEP_CRASH_PARTS=matrix,locks,journals (or one case: lock.empty, ...)
  POPSEP_CRASH_MAX_STEPS=N (default 40; long runs of writes are thinned)
"""

import errno
import fcntl
import os
import pwd
import re
import select
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import popseptest as P  # noqa: E402


# ---------------------------------------------------------------- a Python delivery agent

def agent_main(lock, mailbox, msgfile):
    """Deliver msgfile's bytes to mailbox the way liblockfile-based agents
    do: the dot-lock is a temporary file holding our pid, link(2)ed to
    LOCK; a lock naming a dead pid is broken at once, an empty or
    unreadable one only after 5 minutes; then an fcntl write lock, append,
    fsync, unlock, remove the dot-lock.  Says on stdout what it waits for."""
    with open(msgfile, "rb") as f:
        data = f.read()
    pid = os.getpid()
    tmp = os.path.join(os.path.dirname(lock) or ".",
                       ".lk%05d%s" % (pid, socket.gethostname()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, b"%d\n" % pid)
    os.close(fd)
    said = set()

    def say(what):
        if what not in said:
            said.add(what)
            print(what, flush=True)

    while True:
        try:
            os.link(tmp, lock)
        except FileExistsError:
            pass
        if os.stat(tmp).st_nlink == 2:
            break
        try:
            st = os.stat(lock)
            with open(lock, "rb") as f:
                content = f.read()
        except FileNotFoundError:
            continue
        words = content.split()
        holder = int(words[0]) if words and words[0].isdigit() else 0
        if holder > 0:
            try:
                os.kill(holder, 0)
            except ProcessLookupError:
                os.unlink(lock)         # a dead process's lock: at once
                continue
            except PermissionError:
                pass
        elif time.time() - st.st_mtime > 300:
            os.unlink(lock)
            continue
        say("waiting dotlock %s" % (holder or "(empty)"))
        time.sleep(0.05)
    os.unlink(tmp)
    fd = os.open(mailbox, os.O_WRONLY | os.O_APPEND)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        say("waiting fcntl")
        fcntl.lockf(fd, fcntl.LOCK_EX)
    os.write(fd, data)
    os.fsync(fd)
    fcntl.lockf(fd, fcntl.LOCK_UN)
    os.close(fd)
    os.unlink(lock)
    say("delivered")


if __name__ == "__main__" and sys.argv[1:2] == ["--deliver"]:
    agent_main(*sys.argv[2:5])
    sys.exit(0)


# ---------------------------------------------------------------- setup

P.need_root()
t = P.Test("crashtree")
for prog in ("strace", "dotlockfile", "ss"):
    if not P.have(prog):
        t.skip("crash-tree", "%s is not installed (sh etc/deps.sh)" % prog)
        t.done()


def syscall_numbers():
    r = P.run(["gcc", "-dM", "-E", "-"], input=b"#include <sys/syscall.h>\n",
              stdin=None)
    if r.returncode != 0:
        return {}
    return {m.group(1).decode(): int(m.group(2)) for m in
            re.finditer(rb"#define __NR_(\w+) (\d+)", r.stdout)}


NR = syscall_numbers()
if "pwrite64" not in NR:
    t.skip("crash-tree", "no syscall numbers from <sys/syscall.h>")
    t.done()
WAITING_CALLS = {NR[n] for n in ("poll", "ppoll", "select", "pselect6",
                                 "epoll_wait", "epoll_pwait", "recvmsg",
                                 "recvfrom", "read", "wait4", "waitid",
                                 "pause", "rt_sigsuspend", "rt_sigtimedwait",
                                 "nanosleep", "clock_nanosleep")
                 if n in NR}

SELECT = {k: [x for x in os.environ.get(v, "").split(",") if x] for k, v in
          (("step", "POPSEP_CRASH_STEP"), ("target", "POPSEP_CRASH_TARGET"),
           ("parts", "POPSEP_CRASH_PARTS"))}
AGENT_MODE = os.environ.get("POPSEP_CRASH_AGENT", "alternate")
MAX_STEPS = int(os.environ.get("POPSEP_CRASH_MAX_STEPS", "40"))
TARGETS = ("monitor", "worker", "net", "tree")
HOLD_US = 120 * 1000 * 1000         # strace holds the worker at most this long

srv = P.Server(t, "crashtree", cleartext="always")
USER = "popsep-e2e-tree"
PASSWORD = "tree-pass"
MBOX = srv.add_virtual_user(USER, PASSWORD)
SPOOL = os.path.dirname(MBOX)
LOCK = MBOX + ".lock"
JOURNAL = os.path.join(SPOOL, "." + os.path.basename(MBOX) + ".popsep-journal")
WORKER_UID = P.VIRT_UID
NET_UID = pwd.getpwnam("_popsep").pw_uid
srv.start()


def body(n, size):
    line = b"message %d line of filler text for the crash tree test 0123456789\n" % n
    return line * (size // len(line) + 1)


# A small deleted message before big kept ones: the kept ones move over
# their own old place, several chunks each.
MSGS = [P.message(1, b"small kept", body(1, 1000)),
        P.message(2, b"small deleted", body(2, 2000)),
        P.message(3, b"big kept", body(3, 600000)),
        P.message(4, b"deleted", body(4, 1000)),
        P.message(5, b"kept", body(5, 300000))]
DELETED = (2, 4)
KEEP = [i for i in range(len(MSGS)) if i + 1 not in DELETED]
NEW = P.FROM_LINE + P.message(100, b"delivered during the update",
                              b"Mail that must not be lost.\n") + b"\n"
MSGFILE = os.path.join(srv.dir, "delivered.msg")
P.write_file(MSGFILE, NEW, 0, 0, 0o644)

tracked = set()                     # every session process we have seen


def uid_of(pid):
    st = P.proc_status(pid)
    return P.ids(st, "Uid")[0] if st else None


class Tree:
    def __init__(self, monitor, net, worker):
        self.monitor, self.net, self.worker = monitor, net, worker
        tracked.update((monitor, net, worker))

    def pids(self):
        return [self.monitor, self.net, self.worker]

    def of(self, target):
        if target == "tree":
            # The monitor first, so that it cannot react to the others.
            return [self.monitor, self.net, self.worker]
        return [{"monitor": self.monitor, "worker": self.worker,
                 "net": self.net}[target]]


def session_tree():
    """The session monitor (a root child of the master) with its network
    child (_popsep) and spool worker (the mail user) below it."""
    for m in P.children(srv.proc.pid):
        if uid_of(m) != 0:
            continue
        below = P.descendants(m)
        w = [p for p in below if uid_of(p) == WORKER_UID]
        n = [p for p in below if uid_of(p) == NET_UID]
        if w and n:
            return Tree(m, n[0], w[0])
    return None


def reap_tracked():
    """Session processes whose monitor died are re-parented to us."""
    for p in list(tracked):
        try:
            if os.waitpid(p, os.WNOHANG)[0] == p:
                tracked.discard(p)
        except ChildProcessError:
            if P.gone(p):
                tracked.discard(p)


def no_session():
    reap_tracked()
    roots = [p for p in P.children(srv.proc.pid) if uid_of(p) == 0]
    return not roots and all(P.gone(p) for p in tracked)


def end_sessions(timeout=20):
    """Wait for every session process to end; True if they did.  Any left
    are killed (by PID) so that the next trial starts clean."""
    ok = P.wait_for(no_session, timeout)
    if not ok:
        left = [p for p in tracked if not P.gone(p)] + \
            [p for p in P.children(srv.proc.pid) if uid_of(p) == 0]
        P.kill_pids(left)
        P.wait_for(no_session, 5)
    return bool(ok)


def dying(pid):
    """Gone (a zombie at most), or held for good: a tracee that got
    SIGKILL waits in its exit stop, running no code, until strace lets
    go; its state and exit code (the last field of /proc/PID/stat) say so."""
    if P.gone(pid):
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return True
    fl = s[s.rindex(")") + 2:].split()
    return fl[0] == "t" and int(fl[-1]) & 0x7f == signal.SIGKILL


def tracer_of(pid):
    return (P.proc_status(pid) or {}).get("TracerPid", "0")


def ctx(st):
    return (st.get("voluntary_ctxt_switches"),
            st.get("nonvoluntary_ctxt_switches"))


def snapshot(pid):
    """(state letter, syscall fields, context switches) of a process."""
    st = P.proc_status(pid)
    if st is None:
        return None
    try:
        with open("/proc/%d/syscall" % pid) as f:
            sc = f.read().split()
    except OSError:
        sc = []
    return st.get("State", "?")[:1], tuple(sc), ctx(st)


def steady(pid, pred, gap=0.03):
    """pred(snapshot) holds twice, gap apart, and the process did not run
    in between (same context-switch counts)."""
    a = snapshot(pid)
    if a is None or not pred(a):
        return False
    time.sleep(gap)
    return snapshot(pid) == a


def in_syscall(step):
    want = NR[step.syscall]

    def pred(s):
        state, sc, _ = s
        if state != "t" or not sc or sc[0] in ("running", "-1"):
            return False
        try:
            if int(sc[0]) != want:
                return False
            return all(int(sc[1 + i], 16) == v for i, v in step.args.items())
        except (ValueError, IndexError):
            return False
    return pred


def idle(s):
    state, sc, _ = s
    if state in ("Z", "X", "t", "T"):
        return True
    if state != "S" or not sc or sc[0] in ("running", "-1"):
        return False
    try:
        return int(sc[0]) in WAITING_CALLS
    except ValueError:
        return False


def quiet(pids, timeout=10):
    """Every process waits for input (or is gone): the messages they had
    to exchange are exchanged."""
    return P.wait_for(lambda: all(P.gone(p) or steady(p, idle) for p in pids),
                      timeout, 0.01)


def lock_holder():
    """The dot-lock: None (none), "empty", "junk" or the pid it names."""
    try:
        with open(LOCK, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    w = data.split()
    if not w:
        return "empty"
    return int(w[0]) if w[0].isdigit() else "junk"


def fcntl_holders(path):
    """Pids holding a POSIX (fcntl/lockf) lock on path, from /proc/locks."""
    try:
        ino = os.stat(path).st_ino
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for ln in lines:
        fl = ln.split()
        if len(fl) < 6 or fl[1] == "->" or fl[1] not in ("POSIX", "OFDLCK"):
            continue
        try:
            if int(fl[5].rsplit(":", 1)[1]) == ino:
                out.append(int(fl[4]))
        except (ValueError, IndexError):
            pass
    return out


def clean_leftovers():
    """What an earlier trial (already judged) may have left."""
    for p in (LOCK, JOURNAL):
        if os.path.lexists(p):
            os.unlink(p)
    for n in os.listdir(SPOOL):
        if n.startswith(".lk"):
            os.unlink(os.path.join(SPOOL, n))


def read_reply(c, timeout=5):
    """The QUIT reply if one came, b"" if the connection ended first."""
    c.sock.settimeout(timeout)
    try:
        return c.line()
    except (EOFError, OSError):
        return b""
    finally:
        c.close()


def next_login():
    """A fresh session: (ok, detail).  STAT, QUIT."""
    try:
        c = srv.connect(tls=False, timeout=20)
        r = c.cmd("USER " + USER)
        r = c.cmd("PASS " + PASSWORD)
        if not r.startswith(b"+OK"):
            c.close()
            return False, "PASS: %r" % r
        s = c.cmd("STAT")
        q = c.cmd("QUIT")
        c.closed()
        c.close()
        return s.startswith(b"+OK ") and q.startswith(b"+OK"), (s, q)
    except Exception as e:
        return False, repr(e)


def ids_in(data):
    return [int(x) for x in re.findall(rb"\nX-Test-Id: (\d+)\n", data)]


# ---------------------------------------------------------------- the steps

class Step:
    def __init__(self, syscall, n, fd, role, args, line):
        self.syscall, self.n, self.fd, self.role = syscall, n, fd, role
        self.args = args            # {argument index: value} to recognise it
        self.line = line
        self.name = "%s.%d-%s" % (syscall, n, role)

    def __repr__(self):
        return self.name


STEP_CALLS = {"pwrite64", "write", "pwritev", "pwritev2", "writev",
              "fdatasync", "fsync", "sync_file_range", "ftruncate", "close",
              "sendmsg", "recvmsg", "sendto", "recvfrom", "flock", "fcntl",
              "link", "linkat", "unlink", "unlinkat", "rename", "renameat",
              "renameat2", "openat", "fchown"}


def socket_peers(pids):
    """{socket inode: pid at the other end} for sockets of pids (ss -x)."""
    r = P.run(["ss", "-xpna"])
    rows = []
    for ln in r.stdout.decode(errors="replace").splitlines()[1:]:
        fl = ln.split()
        if len(fl) < 8:
            continue
        try:
            local, peer = int(fl[5]), int(fl[7])
        except ValueError:
            continue
        owners = [int(x) for x in re.findall(r"pid=(\d+)", ln)]
        rows.append((local, peer, owners))
    owner = {loc: own for loc, _, own in rows}
    out = {}
    for loc, peer, _ in rows:
        for p in owner.get(peer, []):
            if p in pids:
                out[loc] = p
    return out


def parse_trace(path, peers, tree):
    """Steps from strace -y output of the worker, numbered per syscall as
    strace's when= counts them."""
    counts, steps = {}, []
    roles = {tree.monitor: "monitor", tree.net: "net"}
    with open(path) as f:
        for ln in f:
            m = re.match(r"(\w+)\((\d+)<([^>]*)>(.*)", ln)
            if not m:
                m2 = re.match(r"(\w+)\(", ln)
                if m2:
                    counts[m2.group(1)] = counts.get(m2.group(1), 0) + 1
                continue
            name, fd, target, rest = m.group(1), int(m.group(2)), \
                m.group(3), m.group(4)
            counts[name] = counts.get(name, 0) + 1
            if name not in STEP_CALLS:
                continue
            if target == MBOX:
                role = "mailbox"
            elif target == JOURNAL:
                role = "journal"
            elif target.startswith("socket:["):
                role = roles.get(peers.get(int(target[8:-1])), "socket")
            else:
                role = "fd%d" % fd
            # The QUIT arriving is not a step of the update.
            if name in ("recvmsg", "recvfrom") and role == "net":
                continue
            args = {0: fd}
            if name in ("pwrite64", "ftruncate"):
                nums = re.findall(r", (\d+)", rest.split(") =")[0])
                if name == "pwrite64" and len(nums) >= 2:
                    args[2], args[3] = int(nums[-2]), int(nums[-1])
                elif name == "ftruncate" and nums:
                    args[1] = int(nums[-1])
            steps.append(Step(name, counts[name], fd, role, args, ln.strip()))
    return steps


def enumerate_steps():
    """The first, traced run: every syscall of the worker during QUIT."""
    box = srv.mbox(USER, MSGS)
    c = srv.login(USER, tls=False)
    for d in DELETED:
        c.cmd("DELE %d" % d)
    tree = session_tree()
    peers = socket_peers(set(tree.pids()))
    out = os.path.join(srv.dir, "enumerate.trace")
    st = subprocess.Popen(["strace", "-q", "-y", "-s", "0", "-o", out,
                           "-p", str(tree.worker)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    P.wait_for(lambda: tracer_of(tree.worker) == str(st.pid), 30)
    r = c.cmd("QUIT")
    c.closed()
    c.close()
    end_sessions()
    try:
        st.wait(20)
    except subprocess.TimeoutExpired:
        P.stop_process(st)
    t.check(r.startswith(b"+OK") and box.read() == box.data(KEEP),
            "enumerate.update-applied", r)
    steps = parse_trace(out, peers, tree)
    t.check(len(steps) >= 8, "enumerate.steps-found (%d)" % len(steps),
            open(out).read()[-3000:])
    return steps


def thin(steps, limit):
    """At most limit steps: runs of the same call on the same descriptor
    (the chunks of a copy) keep their first, second and last first."""
    if len(steps) <= limit:
        return steps
    runs, cur = [], []
    for s in steps:
        if cur and (cur[-1].syscall, cur[-1].fd) == (s.syscall, s.fd):
            cur.append(s)
        else:
            if cur:
                runs.append(cur)
            cur = [s]
    if cur:
        runs.append(cur)
    keep = set()
    for prio in (0, 1, -1):
        for r in runs:
            keep.add(r[prio].name)
    for r in runs:
        for s in r[2:-1]:
            if len(keep) >= limit:
                break
            keep.add(s.name)
    return [s for s in steps if s.name in keep]


def selected(steps):
    if not SELECT["step"]:
        return steps
    out = []
    for want in SELECT["step"]:
        hit = [s for s in steps if s.name == want or
               s.name.startswith(want + "-") or s.syscall == want]
        t.check(hit, "select.step-%s-exists" % want,
                "steps: %s" % " ".join(s.name for s in steps))
        out += [s for s in hit if s not in out]
    return out


# ---------------------------------------------------------------- agents

class DotlockAgent:
    """Debian's dotlockfile delivering under USER.lock (retrying once a
    second instead of every 5+ seconds, -i 1: the same rules, sooner)."""
    kind = "dotlockfile"

    def __init__(self):
        self.proc = subprocess.Popen(
            ["dotlockfile", "-l", "-p", "-i", "1", "-r", "120", LOCK,
             "sh", "-c", "cat %s >> %s" % (MSGFILE, MBOX)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True)
        self.pid = self.proc.pid

    def waiting(self):
        """It made its temporary lock and the dot-lock is someone else's."""
        if self.done():
            return False
        mine = [n for n in os.listdir(SPOOL)
                if n.startswith(".lk%05d" % self.pid)]
        h = lock_holder()
        return bool(mine) and h is not None and h != self.pid

    def done(self):
        return self.proc.poll() is not None

    def ok(self):
        return self.proc.poll() == 0

    def detail(self):
        try:
            err = self.proc.stderr.read1(4096) if self.done() else b""
        except (OSError, ValueError):
            err = b""
        return "dotlockfile rc=%s %r" % (self.proc.poll(), err)

    def stop(self):
        P.stop_process(self.proc)


class PyAgent:
    """agent_main() above, in its own process."""
    kind = "pyagent"

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--deliver", LOCK,
             MBOX, MSGFILE], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        self.pid = self.proc.pid
        self.out = b""
        os.set_blocking(self.proc.stdout.fileno(), False)

    def _read(self):
        try:
            while select.select([self.proc.stdout], [], [], 0)[0]:
                d = os.read(self.proc.stdout.fileno(), 4096)
                if not d:
                    break
                self.out += d
        except (OSError, ValueError):
            pass

    def waiting(self):
        self._read()
        return not self.done() and b"waiting" in self.out

    def done(self):
        return self.proc.poll() is not None

    def ok(self):
        self._read()
        return self.proc.poll() == 0 and b"delivered" in self.out

    def detail(self):
        self._read()
        try:
            err = self.proc.stderr.read1(4096) if self.done() else b""
        except (OSError, ValueError):
            err = b""
        return "pyagent rc=%s out=%r err=%r" % (self.proc.poll(), self.out,
                                                err[-1000:])

    def stop(self):
        P.stop_process(self.proc)


AGENTS = {"dotlockfile": DotlockAgent, "pyagent": PyAgent}


def settled(agent):
    """After the kill: the agent is done, or it waits for a lock that a
    live process holds (so it must wait).  A dead process's lock is not a
    reason: the agent breaks it."""
    if agent.done():
        return True
    h = lock_holder()
    if h in ("empty", "junk"):
        return True                 # nothing will break it soon
    if isinstance(h, int) and h != agent.pid and not P.gone(h):
        return True
    return any(p != agent.pid and not P.gone(p) for p in fcntl_holders(MBOX))


# ---------------------------------------------------------------- one trial

class Hold:
    """strace holding (or acting on) one process at the entry of step's
    call: step.n - 1 earlier calls of it run, the n-th waits."""

    def __init__(self, pid, step, action="delay_enter=%d" % HOLD_US):
        self.pid, self.step = pid, step
        self.out = os.path.join(srv.dir, "hold.trace")
        if os.path.exists(self.out):
            os.unlink(self.out)
        self.proc = subprocess.Popen(
            ["strace", "-q", "-s", "0", "-o", self.out, "-p", str(pid),
             "-e", "trace=" + step.syscall, "-e",
             "inject=%s:%s:when=%d" % (step.syscall, action, step.n)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        if not P.wait_for(lambda: tracer_of(pid) == str(self.proc.pid), 30):
            P.stop_process(self.proc)
            self.proc = None

    def traced_calls(self):
        """(calls strace saw end, the call it is in or None)."""
        try:
            with open(self.out) as f:
                lines = f.read().split("\n")
        except OSError:
            return 0, None
        head = self.step.syscall + "("
        done = sum(1 for ln in lines[:-1] if ln.startswith(head))
        last = lines[-1]
        return done, (last if last.startswith(head) and " = " not in last
                      else None)

    def holding(self):
        """strace has let n - 1 calls through and holds the n-th, and
        /proc shows the process stopped in that very call."""
        done, cur = self.traced_calls()
        return done == self.step.n - 1 and cur is not None and \
            steady(self.pid, in_syscall(self.step))

    def release(self):
        """Stop strace: a held process goes on from where it was."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            P.stop_process(self.proc)
        self.proc = None


def start_session():
    """Fresh mailbox, login, DELE: (box, client, tree)."""
    end_sessions()
    clean_leftovers()
    box = srv.mbox(USER, MSGS)
    c = srv.login(USER, tls=False)
    for d in DELETED:
        r = c.cmd("DELE %d" % d)
        if not r.startswith(b"+OK"):
            raise RuntimeError("DELE %d: %r" % (d, r))
    tree = session_tree()
    if tree is None:
        raise RuntimeError("no session processes found")
    return box, c, tree


def trial(step, target, kind):
    name = "%s.%s.%s" % (step.name, target, kind)
    box, c, tree = start_session()
    original = box.read()
    hold = Hold(tree.worker, step)
    agent = None
    try:
        if not t.check(hold.proc is not None, name + ".strace-attached"):
            return
        c.send("QUIT\r\n")
        if not t.check(P.wait_for(hold.holding, 15, 0.01), name + ".paused",
                       "worker %d: %r, strace saw %r; want %s" % (
                           tree.worker, snapshot(tree.worker),
                           hold.traced_calls(), step.line)):
            return
        if not quiet([tree.monitor, tree.net], 10):
            sys.stderr.write("%s: the session was still busy\n" % name)
        holder = lock_holder()
        at_pause = box.read()
        agent = AGENTS[kind]()
        if holder is not None:
            # The session holds the dot-lock: the agent must wait.
            waits = P.wait_for(lambda: agent.waiting() or agent.done(), 15,
                               0.01) and agent.waiting()
            t.check(waits and box.read() == at_pause,
                    name + ".agent-waits-for-lock",
                    "lock %r; %s; mailbox %d -> %d bytes" % (
                        holder, agent.detail(), len(at_pause),
                        len(box.read())))
        else:
            # Outside the locked part: the delivery goes through now.
            P.wait_for(lambda: settled(agent), 15, 0.01)
        victims = tree.of(target)
        P.kill_pids(victims)
        P.wait_for(lambda: all(dying(p) for p in victims), 10, 0.01)
        # The agent breaks a dead process's lock and delivers, or waits
        # for a live holder; then the held worker (if alive) goes on.
        P.wait_for(lambda: settled(agent), 15, 0.01)
        during = box.read()
        hold.release()
        ended = end_sessions(20)
        delivered = P.wait_for(agent.done, 20)
        t.check(ended, name + ".session-ends",
                [(p, snapshot(p)) for p in tree.pids()])
        t.check(delivered and agent.ok(), name + ".delivery-completes",
                agent.detail() + " lock=%r" % (lock_holder(),))
        agent.stop()
        reply = read_reply(c)
        ok, detail = next_login()
        t.check(ok, name + ".next-login", detail)
        end_sessions()
        got = box.read()
        applied = box.data(KEEP) + NEW
        untouched = original + NEW
        t.check(got in (applied, untouched), name + ".mailbox-exact",
                "got %d bytes, ids %r (delivered %d time(s)); want %r or %r; "
                "%s while the worker was held" % (
                    len(got), ids_in(got), got.count(NEW), ids_in(applied),
                    ids_in(untouched), "delivered" if NEW in during else
                    "not delivered"))
        if reply.startswith(b"+OK"):
            t.check(got == applied, name + ".quit-reply-true", reply)
        elif reply.startswith(b"-ERR") and b"no messages were removed" in reply:
            t.check(got == untouched, name + ".quit-reply-true", reply)
        t.check(lock_holder() is None, name + ".lock-released",
                "lock %r" % (lock_holder(),))
    finally:
        hold.release()
        if agent is not None:
            agent.stop()
        c.close()
        end_sessions()


def matrix(steps, chosen):
    """chosen of steps, times the targets.  The agents alternate by the
    place of the step and target in the whole matrix, so that a case run
    alone (POPSEP_CRASH_STEP/TARGET) gets the agent it has in a full run."""
    targets = SELECT["target"] or list(TARGETS)
    for x in targets:
        t.check(x in TARGETS, "select.target-%s-exists" % x, TARGETS)
    targets = [x for x in targets if x in TARGETS]
    for step in chosen:
        for target in targets:
            if AGENT_MODE == "both":
                kinds = ["dotlockfile", "pyagent"]
            elif AGENT_MODE in AGENTS:
                kinds = [AGENT_MODE]
            else:
                i = steps.index(step) + TARGETS.index(target)
                kinds = [("dotlockfile", "pyagent")[i % 2]]
            for kind in kinds:
                t.run("%s.%s.%s" % (step.name, target, kind), trial, step,
                      target, kind)


# ---------------------------------------------------------------- stale and live dot-locks

def login_served(prefix, box):
    """Log in, STAT and RETR every message, QUIT: checks that the mailbox
    is served as it is on disk."""
    try:
        c = srv.connect(tls=False, timeout=40)
        c.cmd("USER " + USER)
        r = c.cmd("PASS " + PASSWORD)
    except Exception as e:
        return t.fail(prefix + ".login", repr(e))
    if not t.check(r.startswith(b"+OK"), prefix + ".login", r):
        c.close()
        return False
    n = len(box.messages)
    want = b"+OK %d %d" % (n, sum(len(box.expected(i)) for i in range(n)))
    s = c.cmd("STAT")
    same = s == want
    for i in range(n):
        if not same:
            break
        _, b = c.retr(i + 1)
        same = b == box.expected(i)
    t.check(same, prefix + ".served-unchanged", "STAT %r, want %r" % (s, want))
    c.cmd("QUIT")
    c.closed()
    c.close()
    end_sessions()
    return True


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def stale_dead_pid():
    end_sessions()
    clean_leftovers()
    box = srv.mbox(USER, MSGS)
    pid = dead_pid()
    P.write_file(LOCK, b"%d\n" % pid, 0, 0, 0o644)
    login_served("lock.dead-pid", box)
    t.eq(box.read(), box.original, "lock.dead-pid.mailbox-unchanged")
    t.check(lock_holder() is None, "lock.dead-pid.gone-after-session",
            lock_holder())


def stale_empty():
    end_sessions()
    clean_leftovers()
    box = srv.mbox(USER, MSGS)
    P.write_file(LOCK, b"", 0, 0, 0o644)
    login_served("lock.empty", box)
    t.eq(box.read(), box.original, "lock.empty.mailbox-unchanged")
    t.check(lock_holder() is None, "lock.empty.gone-after-session",
            lock_holder())


def live_lock():
    """dotlockfile holds USER.lock while `sleep` runs: a login must not
    take the mailbox, and the lock stays exactly as it was."""
    end_sessions()
    clean_leftovers()
    box = srv.mbox(USER, MSGS)
    holder = subprocess.Popen(["dotlockfile", "-l", "-p", LOCK, "sleep", "60"],
                              stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        if not t.check(P.wait_for(lambda: lock_holder() == holder.pid, 10),
                       "lock.live.held", lock_holder()):
            return
        before = os.stat(LOCK)
        with open(LOCK, "rb") as f:
            content = f.read()
        try:
            c = srv.connect(tls=False, timeout=60)
            c.cmd("USER " + USER)
            r = c.cmd("PASS " + PASSWORD)
            c.close()
        except Exception as e:
            r = repr(e).encode()
        end_sessions()
        t.check(r.startswith(b"-ERR [IN-USE]"), "lock.live.login-refused", r)
        try:
            after = os.stat(LOCK)
            with open(LOCK, "rb") as f:
                content2 = f.read()
        except FileNotFoundError:
            after, content2 = None, b""
        t.check(after is not None and after.st_ino == before.st_ino and
                content2 == content and not P.gone(holder.pid),
                "lock.live.not-broken", (before, after, content, content2))
        t.eq(box.read(), box.original, "lock.live.mailbox-unchanged")
    finally:
        # End the command: dotlockfile then removes its lock and exits.
        for p in P.children(holder.pid):
            P.kill_pids([p], signal.SIGTERM)
        try:
            holder.wait(10)
        except subprocess.TimeoutExpired:
            P.stop_process(holder)
    t.check(lock_holder() is None, "lock.live.released-by-holder")
    ok, detail = next_login()
    t.check(ok, "lock.live.login-after-release", detail)
    end_sessions()


def first_step(steps, syscall, role):
    for s in steps:
        if s.syscall == syscall and s.role == role:
            return s
    return None


def left_by_kill(steps, target):
    """Kill target while the update holds the lock (its first write into
    the mailbox), no delivery: the next login must not be kept out by
    the dot-lock of a dead process."""
    name = "lock.left-by-kill.%s" % target
    step = first_step(steps, "pwrite64", "mailbox")
    if not t.check(step is not None, name + ".step-found"):
        return
    box, c, tree = start_session()
    original = box.read()
    hold = Hold(tree.worker, step)
    try:
        c.send("QUIT\r\n")
        if not t.check(P.wait_for(hold.holding, 15, 0.01), name + ".paused"):
            return
        quiet([tree.monitor, tree.net], 10)
        victims = tree.of(target)
        P.kill_pids(victims)
        P.wait_for(lambda: all(dying(p) for p in victims), 10, 0.01)
        hold.release()
        t.check(end_sessions(20), name + ".session-ends")
        reply = read_reply(c)
        ok, detail = next_login()
        t.check(ok, name + ".next-login", "%r; lock %r" % (detail,
                                                            lock_holder()))
        end_sessions()
        got = box.read()
        t.check(got in (box.data(KEEP), original), name + ".mailbox-whole",
                "ids %r" % ids_in(got))
        if reply.startswith(b"+OK"):
            t.check(got == box.data(KEEP), name + ".quit-reply-true", reply)
        elif reply.startswith(b"-ERR") and b"no messages were removed" in reply:
            t.check(got == original, name + ".quit-reply-true", reply)
        t.check(lock_holder() is None, name + ".lock-released", lock_holder())
    finally:
        hold.release()
        c.close()
        end_sessions()


# ---------------------------------------------------------------- leftover journals

def leftover_journal(label, data, uid):
    """A journal file nobody's update left: served as if it were not there
    (an empty journal is no journal)."""
    end_sessions()
    clean_leftovers()
    box = srv.mbox(USER, MSGS)
    P.write_file(JOURNAL, data, uid, uid, 0o600)
    prefix = "journal.%s" % label
    login_served(prefix, box)
    t.eq(box.read(), box.original, prefix + ".mailbox-unchanged")
    ok, detail = next_login()
    t.check(ok, prefix + ".second-login", detail)
    end_sessions()


def replaced_mailbox(steps, label, new_msgs):
    """A crash leaves a complete journal (the whole session killed while
    the worker is held at its first write into the mailbox, so no process
    is left to complete it); the mailbox is then replaced by another one.
    The journal was not written for it: it must be served unchanged."""
    prefix = "journal.replaced-%s" % label
    step = first_step(steps, "pwrite64", "mailbox")
    if not t.check(step is not None, prefix + ".step-found"):
        return
    box, c, tree = start_session()
    hold = Hold(tree.worker, step)
    try:
        c.send("QUIT\r\n")
        P.wait_for(hold.holding, 15, 0.01)
        P.kill_pids(tree.of("tree"))
        P.wait_for(lambda: dying(tree.worker), 15, 0.01)
    finally:
        hold.release()
        c.close()
        end_sessions()
    if not t.check(os.path.exists(JOURNAL) and os.path.getsize(JOURNAL) > 0,
                   prefix + ".crash-left-journal"):
        return
    old = box.read()
    new = srv.mbox(USER, new_msgs)      # a new file in its place
    t.check(new.original != old, prefix + ".differs")
    login_served(prefix, new)
    t.eq(new.read(), new.original, prefix + ".mailbox-unchanged")


def other_messages(sizes):
    return [P.message(200 + i, b"another mailbox", body(200 + i, s))
            for i, s in enumerate(sizes)]


# ---------------------------------------------------------------- run

# Choosing steps or targets alone runs just those trials.
parts = SELECT["parts"] or (["matrix"] if SELECT["step"] or SELECT["target"]
                            else ["matrix", "locks", "journals"])


def wanted(part, case):
    return part in parts or case in parts


EXTRAS = [
    ("locks", "lock.dead-pid", stale_dead_pid, ()),
    ("locks", "lock.empty", stale_empty, ()),
    ("locks", "lock.live", live_lock, ()),
    ("locks", "lock.left-by-kill.monitor", left_by_kill, ("monitor",)),
    ("locks", "lock.left-by-kill.tree", left_by_kill, ("tree",)),
    ("journals", "journal.root-owned", leftover_journal,
     ("root-owned", b"not a journal\n" * 8, 0)),
    ("journals", "journal.root-owned-empty", leftover_journal,
     ("root-owned-empty", b"", 0)),
    ("journals", "journal.empty", leftover_journal,
     ("empty", b"", WORKER_UID)),
    ("journals", "journal.replaced-larger", replaced_mailbox,
     ("larger", other_messages([5000, 700000, 400000]))),
    ("journals", "journal.replaced-smaller", replaced_mailbox,
     ("smaller", other_messages([3000, 20000]))),
]
started = time.time()
all_steps = t.run("enumerate", enumerate_steps) or []
steps = thin(all_steps, MAX_STEPS)
sys.stderr.write("update steps (%d of %d): %s\n" % (
    len(steps), len(all_steps), " ".join(s.name for s in steps)))
if "matrix" in parts:
    matrix(steps, selected(steps))
for part, case, fn, args in EXTRAS:
    if wanted(part, case):
        if fn in (left_by_kill, replaced_mailbox):
            args = (all_steps,) + args
        t.run(case, fn, *args)
t.check(srv.alive(), "daemon-alive")
sys.stderr.write("test_crash_tree: %.0f s\n" % (time.time() - started))
t.done()
