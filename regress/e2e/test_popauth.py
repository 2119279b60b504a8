"""
popauth(8) as its users meet it: a set-uid copy (owner _popauth, mode
4711) built with a temporary configuration, run by root and by an
ordinary user, on a terminal (a pseudo-terminal: the prompts, echo off,
the second copy) and through pipes.  Checked: -init, -user, -delete,
-list, a user's own secret (the old one first), what an ordinary user is
refused, a hostile environment and closed standard descriptors, names
and secrets that break the rules, two runs at once, and SIGKILL at
seeded random instants of -user.  The verdict comes only from the
tool's output and exit status and from the database as the server's
reader reads it back (build/regress/popauth_dump).

    POPSEP_POPAUTH_SEED=S python3 regress/e2e/test_popauth.py
replays the kill trials of seed S.
"""

import os
import pty
import pwd
import random
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import termios
import time

import popseptest as P

P.need_root()
t = P.Test("popauth")
BUILD = os.environ.get("POPSEP_BUILD") or os.path.join(P.TOP, "build")
DUMP = os.path.join(BUILD, "regress", "popauth_dump")
USER = "popsep-e2e-pabob"
KILL_TRIALS = 40

tmp = tempfile.mkdtemp(prefix="popsep-e2e-popauth-")
t.cleanup(shutil.rmtree, tmp, True)
os.chmod(tmp, 0o755)
CONF = os.path.join(tmp, "popsepd.conf")
DBDIR = os.path.join(tmp, "db")
DB = os.path.join(DBDIR, "pop.auth")
PA = os.path.join(tmp, "popauth")


def setup():
    with open(CONF, "w") as f:
        f.write("# test_popauth.py\nset popauth-db = %s\n" % DB)
    os.chmod(CONF, 0o644)
    P.run(["sh", os.path.join(P.TOP, "etc", "users.sh")], check=True)
    # A plain build whatever make check was run with: a sanitizer runtime
    # cannot do its work in a set-uid program that forbids tracing.
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "SANITIZE")}
    r = P.run(["make", "-s", "-C", P.TOP, "BUILD=" + os.path.join(tmp, "b"),
               "POPAUTH_CONF=" + CONF, os.path.join(tmp, "b", "popauth")],
              timeout=300, env=env)
    if r.returncode != 0:
        raise RuntimeError("build: " + r.stderr.decode(errors="replace"))
    shutil.copy(os.path.join(tmp, "b", "popauth"), PA)
    os.chown(PA, pwd.getpwnam("_popauth").pw_uid, 0)
    os.chmod(PA, 0o4711)


def dump():
    """The database through the reader: {name: secret}, or None."""
    r = P.run([DUMP, DB])
    if r.returncode != 0:
        return None
    out = {}
    for line in r.stdout.decode().splitlines():
        name, secret = line.split(" ", 1)
        out[name] = secret
    return out


def db_id():
    st = os.stat(DB)
    return (st.st_ino, st.st_mtime_ns)


def as_user(uid, gid):
    def fn():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return fn


def pipe_run(args, data=b"", ids=None, env=None, preexec=None):
    """popauth with data on a pipe: (status, stdout, stderr)."""
    fn = preexec
    if ids is not None:
        fn = as_user(*ids)
    r = subprocess.run([PA] + args, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60, preexec_fn=fn,
                       env=env if env is not None else {})
    return r.returncode, r.stdout.decode(errors="replace"), \
        r.stderr.decode(errors="replace")


def read_until(fd, want, deadline):
    """Reads the terminal until want appears or it closes."""
    buf = b""
    while want not in buf and time.monotonic() < deadline:
        rl, _, _ = select.select([fd], [], [], 0.5)
        if not rl:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def pty_run(args, dialogue, ids=None, timeout=20):
    """popauth on a pseudo-terminal.  dialogue: (prompt, reply) pairs.
    Returns (status, transcript, [echo on at each prompt], prompts seen)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            if ids is not None:
                as_user(*ids)()
            os.execve(PA, [PA] + args, {})
        finally:
            os._exit(127)
    deadline = time.monotonic() + timeout
    transcript, echoes, seen = b"", [], 0
    for prompt, reply in dialogue:
        got = read_until(fd, prompt, deadline)
        transcript += got
        if prompt not in got:
            break
        seen += 1
        echoes.append(bool(termios.tcgetattr(fd)[3] & termios.ECHO))
        os.write(fd, reply)
    transcript += read_until(fd, b"\0never\0", deadline)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), transcript.decode(
        errors="replace"), echoes, seen


def new_prompt(name):
    return ("New APOP secret for %s: " % name).encode()


RETYPE = b"Retype new APOP secret: "


def test_init():
    rc, out, err = pipe_run(["-init"])
    t.eq((rc, out, err), (0, "", ""), "init-as-root")
    st, dst = os.stat(DB), os.lstat(DBDIR)
    pa = pwd.getpwnam("_popauth").pw_uid
    t.eq((st.st_uid, stat.S_IMODE(st.st_mode)), (pa, 0o600),
         "init-database-owned-by-popauth-mode-0600")
    t.eq((dst.st_uid, stat.S_IMODE(dst.st_mode)), (pa, 0o700),
         "init-folder-owned-by-popauth-mode-0700")
    t.eq(dump(), {}, "init-database-empty")
    before = db_id()
    rc, out, err = pipe_run(["-init"])
    t.check(rc == 1 and "already exists" in err and "rm " + DB in err,
            "init-refuses-existing-database", err)
    t.eq(db_id(), before, "init-again-leaves-database-alone")


def test_root_tty():
    rc, tr, echoes, seen = pty_run(
        ["-user", "alice"], [(new_prompt("alice"), b"alice secret 1\n"),
                             (RETYPE, b"alice secret 1\n")])
    t.eq((rc, seen), (0, 2), "root-user-on-terminal-prompts-twice")
    t.eq(echoes, [False, False], "root-user-echo-off-at-both-prompts")
    t.check("alice secret 1" not in tr, "root-user-secret-not-echoed", tr)
    t.eq(dump(), {"alice": "alice secret 1"}, "root-user-secret-stored")
    rc, tr, echoes, seen = pty_run(
        ["-user", "alice"], [(new_prompt("alice"), b"alice secret 2\n"),
                             (RETYPE, b"alice secret 3\n")])
    t.check(rc == 1 and "do not match" in tr, "root-user-mismatch-refused",
            tr)
    t.eq(dump(), {"alice": "alice secret 1"}, "root-user-mismatch-no-change")


def test_root_pipe():
    rc, out, err = pipe_run(["-user", "carol"], b"carol's pipe secret\n")
    t.eq((rc, out, err), (0, "", ""), "root-user-through-pipe-no-prompt")
    t.eq(dump(), {"alice": "alice secret 1", "carol": "carol's pipe secret"},
         "root-user-through-pipe-stored")
    rc, out, err = pipe_run(["-user", "carol"], b"carol replaced\n")
    t.eq(dump().get("carol"), "carol replaced", "root-user-replaces")
    rc, out, err = pipe_run(["-list"])
    t.eq((rc, out), (0, "alice\ncarol\n"), "root-list-names-sorted")
    t.check("secret" not in out and "replaced" not in out,
            "root-list-shows-no-secret")
    rc, out, err = pipe_run(["-f", CONF, "-list"])
    t.eq((rc, out), (0, "alice\ncarol\n"), "root-may-use-f")
    rc, out, err = pipe_run(["-delete", "carol"])
    t.eq(rc, 0, "root-delete")
    t.eq(dump(), {"alice": "alice secret 1"}, "root-delete-removed")
    rc, out, err = pipe_run(["-delete", "carol"])
    t.check(rc == 1 and "carol has no APOP secret" in err,
            "root-delete-missing-user-is-an-error", err)


def test_self(ids):
    rc, tr, echoes, seen = pty_run(
        [], [(new_prompt(USER), b"bob first secret\n"),
             (RETYPE, b"bob first secret\n")], ids=ids)
    t.eq((rc, seen, echoes), (0, 2, [False, False]),
         "user-sets-own-secret-on-terminal")
    t.eq(dump().get(USER), "bob first secret", "user-own-secret-stored")
    old = ("Old APOP secret for %s: " % USER).encode()
    rc, tr, echoes, seen = pty_run(
        [], [(old, b"not the secret\n")], ids=ids)
    t.check(rc == 1 and "wrong old secret" in tr and seen == 1 and
            echoes == [False], "user-wrong-old-secret-refused", tr)
    t.eq(dump().get(USER), "bob first secret", "user-wrong-old-no-change")
    rc, tr, echoes, seen = pty_run(
        [], [(old, b"bob first secret\n"),
             (new_prompt(USER), b"bob second secret\n"),
             (RETYPE, b"bob second secret\n")], ids=ids)
    t.eq((rc, seen, echoes), (0, 3, [False] * 3),
         "user-changes-own-secret-old-first")
    t.check("bob" not in tr.replace(USER, ""), "user-secrets-not-echoed", tr)
    t.eq(dump().get(USER), "bob second secret", "user-own-secret-changed")
    rc, out, err = pipe_run([], b"bob second secret\nbob third secret\n",
                            ids=ids)
    t.eq((rc, err), (0, ""), "user-changes-own-secret-through-pipe")
    t.eq(dump().get(USER), "bob third secret", "user-pipe-secret-stored")


def test_refused(ids):
    before, ident = dump(), db_id()
    cases = [
        (["-user", "alice"], "-user is only for root and _popauth"),
        (["-delete", "alice"], "-delete is only for root and _popauth"),
        (["-list"], "-list is only for root and _popauth"),
        (["-init"], "-init is only for root"),
        (["-f", CONF], "-f is only for root and _popauth"),
        (["-f", CONF, "-user", USER], "-f is only for root and _popauth"),
    ]
    for args, msg in cases:
        rc, out, err = pipe_run(args, b"an attempt here\n", ids=ids)
        t.check(rc == 1 and err.strip() == "popauth: " + msg and out == "",
                "user-refused " + " ".join(args), (rc, out, err))
    t.eq((dump(), db_id()), (before, ident), "user-refused-no-change")


def test_hostile(ids):
    marker = os.path.join(tmp, "preloaded")
    lib = os.path.join(tmp, "preload.so")
    src = os.path.join(tmp, "preload.c")
    with open(src, "w") as f:
        f.write('#include <fcntl.h>\n__attribute__((constructor)) static '
                'void f(void) { creat("%s", 0644); }\n' % marker)
    r = P.run(["cc", "-shared", "-fPIC", "-o", lib, src])
    env = {"LD_PRELOAD": lib, "LD_LIBRARY_PATH": tmp, "LANG": "tr_TR.UTF-8",
           "LC_ALL": "tr_TR.UTF-8", "GDBM_CACHESIZE": "1", "TMPDIR": tmp,
           "MALLOC_PERTURB_": "165", "PATH": tmp, "IFS": "x",
           "HOME": tmp, "SHELL": "/bin/false"}
    rc, out, err = pipe_run([], b"bob third secret\nhostile env secret\n",
                            ids=ids, env=env)
    t.eq((rc, err), (0, ""), "hostile-environment-change-works")
    t.eq(dump().get(USER), "hostile env secret",
         "hostile-environment-secret-stored")
    t.check(r.returncode == 0 and not os.path.exists(marker),
            "hostile-environment-no-preload")
    rc, out, err = pipe_run(["-user", "dave"], b"dave secret 1\n",
                            preexec=lambda: (os.close(1), os.close(2)))
    after = dump()
    t.eq(rc, 0, "closed-stdout-stderr-still-works")
    t.eq(after.get("dave"), "dave secret 1", "closed-stdout-stderr-stored")
    rc, out, err = pipe_run(["-user", "dave"], b"",
                            preexec=lambda: os.close(0))
    t.check(rc == 1 and "standard input" in err and err.count("\n") == 1,
            "closed-stdin-refused", err)
    t.eq(dump().get("dave"), "dave secret 1", "closed-stdin-no-change")
    before = dump()
    rc, out, err = pipe_run([], b"", ids=ids)
    t.check(rc == 1 and "no secret on standard input" in err,
            "user-empty-stdin-refused", err)
    t.eq(dump(), before, "user-empty-stdin-no-change")


def test_bad_input():
    before, ident = dump(), db_id()
    names = ["a:b", "a/b", "", "x" * 65, "tab\tname", "new\nline", "sp ace",
             "\x7f", "\u00e9t\u00e9"]
    for i, name in enumerate(names):
        rc, out, err = pipe_run(["-user", name], b"a good secret\n")
        t.check(rc == 1 and err.startswith("popauth: invalid user name")
                and err.count("\n") == 1, "bad-name-%d-refused" % i, err)
        rc, out, err = pipe_run(["-delete", name])
        t.check(rc == 1 and "invalid user name" in err,
                "bad-name-%d-delete-refused" % i, err)
    secrets = [(b"s3crt\n", "too short"), (b"7 chars\n", "too short"),
               (b"x" * 129 + b"\n", "too long"),
               (b"x" * 5000 + b"\n", "too long"),
               (b"ctl\x01secret\n", "printable"),
               (b"tab\tsecret\n", "printable"),
               (b"crlf secret\r\n", "printable"),
               (b"nul\0secret\n", "printable"),
               (b"\xc3\xa9t\xc3\xa9 secret\n", "printable"),
               (b"", "no secret")]
    for i, (data, msg) in enumerate(secrets):
        rc, out, err = pipe_run(["-user", "erin"], data)
        t.check(rc == 1 and msg in err and err.count("\n") == 1,
                "bad-secret-%d-refused" % i, err)
        t.check(data.strip()[:5].decode(errors="replace") not in err or
                not data.strip(), "bad-secret-%d-not-in-error" % i, err)
    t.eq((dump(), db_id()), (before, ident), "bad-input-no-change")
    for args in (["-bogus"], ["-user"], ["-init", "-list"], ["-f"],
                 ["-delete"], ["-list", "extra"], ["-f", CONF, "-f", CONF]):
        rc, out, err = pipe_run(args)
        t.check(rc == 2 and err.startswith("usage: popauth"),
                "usage-error " + " ".join(args), (rc, err))
    rc, out, err = pipe_run(["-user", "erin"], b"12345678\n")
    rc2, out, err = pipe_run(["-user", "frank"], b"y" * 128 + b"\n")
    t.check(rc == 0 and rc2 == 0 and dump().get("erin") == "12345678" and
            dump().get("frank") == "y" * 128, "secrets-of-8-and-128-stored")


def test_concurrent():
    want = dump()
    for round_ in range(5):
        procs = []
        for k in range(2):
            name = "race%d-%d" % (round_, k)
            secret = "race secret %d %d" % (round_, k)
            want[name] = secret
            procs.append(subprocess.Popen(
                [PA, "-user", name], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={}))
        # Both are waiting for their secret: give it to both at once.
        for p, k in zip(procs, range(2)):
            p.stdin.write(("race secret %d %d\n" % (round_, k)).encode())
            p.stdin.close()
        rcs = [p.wait(timeout=60) for p in procs]
        if rcs != [0, 0]:
            t.fail("concurrent-round-%d" % round_, rcs)
    t.eq(dump(), want, "two-concurrent-user-runs-both-land")


def test_kill(seed):
    rng = random.Random(seed)
    start = time.monotonic()
    pipe_run(["-user", "killtime"], b"kill time secret\n")
    took = time.monotonic() - start
    bad, outcomes = [], {"old": 0, "new": 0}
    for trial in range(KILL_TRIALS):
        old = dump()
        name = "kill%d" % rng.randrange(8)
        secret = "killed secret %d" % trial
        p = subprocess.Popen([PA, "-user", name], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env={})
        p.stdin.write(secret.encode() + b"\n")
        p.stdin.flush()
        time.sleep(rng.uniform(0, took * 1.5))
        p.kill()
        p.wait()
        p.stdin.close()
        now = dump()
        new = dict(old or {})
        new[name] = secret
        if now is None or (now != old and now != new):
            bad.append((trial, name, now == old, now))
        elif now != new:
            outcomes["old"] += 1
        else:
            outcomes["new"] += 1
    # Where the kills fell, for the log: which instant is a matter of luck.
    sys.stderr.write("kill trials: one run takes %.1f ms; %s\n"
                     % (took * 1000, outcomes))
    t.check(not bad, "sigkill-%d-trials-seed-%d-old-or-new-database"
            % (KILL_TRIALS, seed), bad)
    rc, out, err = pipe_run(["-user", "afterkill"], b"after the kills\n")
    left = [f for f in os.listdir(DBDIR) if ".new." in f]
    t.check(rc == 0 and dump().get("afterkill") == "after the kills" and
            not left, "after-kills-next-run-works-and-cleans-up", (err, left))


def main():
    if not os.path.exists(DUMP):
        t.skip("all", "no %s (make unit)" % DUMP)
        return
    setup()
    P.delete_system_user(USER)
    P.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin",
           USER], check=True)
    t.cleanup(P.delete_system_user, USER)
    pw = pwd.getpwnam(USER)
    ids = (pw.pw_uid, pw.pw_gid)
    seed = int(os.environ.get("POPSEP_POPAUTH_SEED") or
               random.SystemRandom().randrange(1 << 31))
    t.run("init", test_init)
    t.run("root-tty", test_root_tty)
    t.run("root-pipe", test_root_pipe)
    t.run("self", test_self, ids)
    t.run("refused", test_refused, ids)
    t.run("hostile", test_hostile, ids)
    t.run("bad-input", test_bad_input)
    t.run("concurrent", test_concurrent)
    t.run("kill", test_kill, seed)


t.run("main", main)
t.done()
