"""
The start-up cache (`cache-dir`), judged only from outside: the replies
a client gets and the bytes on disk, never the cache's own format.  Every
session of a server with its cache is compared, reply for reply (login,
STAT, LIST, UIDL, LIST n, TOP, RETR), with a session of a reference
server that reads the same mailbox with `cache-dir = none`, and the
messages it serves with the bytes this test wrote.  Both spool modes run
the same sessions; the temp drop is a new file at each login and has no
cache (popsepd.conf(5)), so there only the serving is judged.

- An unchanged spool gets the same replies, ids included, session after
  session; the cache is USERNAME in cache-dir, a regular file owned by
  the user, mode 0600, and the daemon makes a missing cache-dir owned by
  root with mode 0711.
- A spool changed between sessions is served as it is now, never as the
  cache remembers it.  Message 2 of 200, in place with the size and the
  times kept, alone and together with a new message at the end: a byte
  of its Subject or body changed, a byte turned into a newline, an empty
  line that makes a "From " line in its body a separator, its From_ line
  changed or spoilt, swapped with a message as long, the first and third
  messages swapped, message 2 removed and one as long appended.  Also
  mail appended (during the session that wrote the cache too), the file
  replaced (new inode, or the inode number reused) with the same or other
  content of the same size and mtime, truncated, removed, or junk (the
  same error as without the cache), a Content-Length judged by where the
  file ended, and the server's own QUIT updates (with
  update-status-headers too), then new mail or a change.
- After such a change, DELE and QUIT remove exactly the message chosen,
  byte for byte.
- A bad cache is ignored, logged and rebuilt, nothing hangs and nothing
  is lost: truncated, random, bit flips spread over it, junk appended,
  another user's, an older one of the same user, 2 GiB sparse, a symlink
  or hard link (the other file is never changed or created), a
  directory, a FIFO, a socket, a file of another uid or writable by
  group or others; what is left at the path is either that object
  untouched or a proper cache.
- With `cache-dir = none` no cache file appears anywhere.
- A login with the cache on a mailbox that has left the page cache reads
  the pages the cache is checked against, not the readahead window
  around each of them: after login, STAT and QUIT on a 24 MiB mailbox
  of 3,000 messages, at most COLD_PAGES_MAX of its pages are in the page
  cache (mincore(2)).  Skipped where the file system keeps the file's
  pages after POSIX_FADV_DONTNEED (tmpfs).
- The daemon refuses to start, naming cache-dir, when cache-dir is a
  symlink, writable by group or others, not root's, or not a directory.
"""

import ctypes
import mmap
import os
import random
import shutil
import socket
import stat
import subprocess
import sys
import time

import popseptest as P

t = P.Test("cache")
P.need_root()

PASSWORD = "c-pass"
PASSWORD_HASH = P.hash_password(PASSWORD)
OTHER_UID = P.VIRT_UID + 1
SESSION_TIMEOUT = 10        # seconds a reply may take before a FAIL
DEFAULT_DIR = "/var/cache/popsep"
DEFAULT_DIR_EXISTED = os.path.lexists(DEFAULT_DIR)
GIB2 = 2 * 1024 * 1024 * 1024

# One virtual user per case, so that a case that goes wrong (a session
# that hangs and keeps the mailbox claimed) cannot spoil the others.
CASES = [
    "unchanged", "append", "append-live", "copy-rename", "copy-other",
    "inode-reuse", "inode-reuse-a", "truncate", "remove", "junk",
    "own-dele", "own-dele-ends", "own-dele-tail", "own-dele-live",
    "own-then-deliver", "own-then-change", "own-copies",
    "dele-subject", "dele-swap", "dele-replace", "dele-subject-a",
    "dele-split-a", "dele-swap-equal-a", "cl-to-the-end", "cl-past-the-end",
    "corrupt", "other-user", "replay", "sym-user", "sym-root",
    "sym-dangling", "sym-zero", "hardlink", "directory", "fifo", "socket",
    "other-uid", "mode-0666", "mode-0620", "st-dele-4", "st-dele-40",
    "st-retr", "st-retr-dele", "st-dele-last", "cold",
] + ["ch-%s%s" % (name, a) for name in (
    "subject", "body", "newline", "split", "from-line", "join", "swap-equal",
    "swap", "replace") for a in ("", "-a")]


# ---------------------------------------------------------------- mail

def msg(n, tag, lines=None):
    """Message n of a case: a distinct Message-ID, a unique token in its
    body, and a length that differs from its neighbours'."""
    if lines is None:
        lines = 2 + (n * 5) % 11
    body = b"".join(b"%s line %d of message %d\n" % (tag, i, n)
                    for i in range(lines))
    return P.message(n, b"%s %d" % (tag, n), b"token-%d-%s\n" % (n, tag) +
                     b".dot line\n>From quoted\nFrom after text\n" + body)


def msgs(n, tag):
    return [msg(i + 1, tag) for i in range(n)]


def sized(n, tag, length):
    """A message of exactly `length` bytes (its chunk in the mbox is
    as long as that of any other message of the same length)."""
    m = P.message(n, b"%s %d" % (tag, n), b"")
    pad = length - len(m) - 1
    if pad < 0:
        raise ValueError("message too short for %d bytes" % length)
    return m + b"p" * pad + b"\n"


def mbox(messages, froms=None):
    return b"".join((froms[i] if froms else P.FROM_LINE) + m + b"\n"
                    for i, m in enumerate(messages))


def swap_one(data, old, new):
    """data with its one occurrence of old replaced by new (same length)."""
    if len(old) != len(new) or data.count(old) != 1:
        raise ValueError("%r is not once in the data" % old)
    return data.replace(old, new)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write_spool(u, data):
    P.write_file(u.path, data, u.uid, P.VIRT_GID, 0o600)


def rewrite_in_place(path, data, keep_times=True):
    """New bytes in the same inode; atime and mtime put back, so only the
    ctime and the content tell the change."""
    st = os.stat(path)
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)
    if keep_times:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def replace_by_rename(u, data, times=None):
    """cp + rename: the same name, a new inode."""
    tmp = u.path + ".new"
    P.write_file(tmp, data, u.uid, P.VIRT_GID, 0o600)
    if times is not None:
        os.utime(tmp, ns=times)
    os.rename(tmp, u.path)


# ---------------------------------------------------------------- servers

class User:
    def __init__(self, key, name, path, cache):
        self.key, self.name, self.path, self.cache = key, name, path, cache
        self.uid = P.VIRT_UID


class Pair:
    """The server under test (cache in its own cache-dir, made by the
    daemon) and the reference (cache-dir = none) in one spool mode, with
    the same users on the same mailboxes.  Sessions never overlap: a
    mailbox is claimed by one session at a time."""

    def __init__(self, mode, label=None, extra=None):
        self.mode = mode
        self.label = label or mode
        # The drop is a new file at each login: no cache in that mode.
        self.caches = mode == "server"
        opts = {"server-mode": "true" if mode == "server" else "false"}
        self.c = P.Server(t, "cache-" + self.label, tls=False,
                          cleartext="always",
                          options=dict(opts, **(extra or {})))
        self.r = P.Server(t, "ref-" + self.label, tls=False,
                          cleartext="always", options=dict(opts))
        # Not made here: the daemon must make it.
        self.cachedir = os.path.join(self.c.dir, "cache")
        self.c.options["cache-dir"] = self.cachedir
        self.r.options["cache-dir"] = "none"
        if mode == "drop":
            for s in (self.c, self.r):
                tmp = os.path.join(s.dir, "drops")
                os.mkdir(tmp, 0o755)
                s.options["temp-dir"] = tmp
        self.u = {}
        for key in CASES:
            name = "popsep-e2e-c-" + key
            path = os.path.join(self.c.spool, name)
            for s in (self.c, self.r):
                s.passwd_lines.append("%s:%s:%d:%d:%s" % (
                    name, PASSWORD_HASH, P.VIRT_UID, P.VIRT_GID, path))
                s.users[name] = (PASSWORD, P.VIRT_UID, P.VIRT_GID, path)
            self.u[key] = User(key, name, path,
                               os.path.join(self.cachedir, name))
        self.c.write_passwd()
        self.r.write_passwd()

    def start(self):
        self.c.start()
        self.r.start()

    def cache_check(self, cond, name, detail=None):
        """A check of the cache file: made only where there is one."""
        return t.check(cond, name, detail) if self.caches else True


def root_sessions(srv):
    """The session monitors (root children of the master) still there."""
    return [p for p in P.children(srv.proc.pid)
            if P.ids(P.proc_status(p) or {}, "Uid")[:1] == [0]]


def kill_sessions(srv):
    for pid in root_sessions(srv):
        P.kill_pids(P.descendants(pid) + [pid])
    P.wait_for(lambda: not root_sessions(srv), 5, 0.01)


class Session:
    def __init__(self):
        self.replies = []       # each reply, (line, body) when multi-line
        self.bodies = []        # each message whole, in order
        self.stat = None
        self.quit = None
        self.error = None


def session(srv, u, dele=(), during=None, retr=True):
    """One whole session of user u; a reply that does not come within
    SESSION_TIMEOUT, or a session that does not end, is an error (and the
    session is killed, so the next one can claim the mailbox).  Without
    retr, each message is read whole with TOP, which marks nothing as
    retrieved."""
    s = Session()
    c = None
    try:
        c = P.RawPop(srv, timeout=SESSION_TIMEOUT)
        s.replies.append(c.greeting)
        s.replies.append(c.cmd("USER " + u.name))
        r = c.cmd("PASS " + PASSWORD)
        s.replies.append(r)
        if r.startswith(b"+OK"):
            if during is not None:
                during()
            s.stat = c.cmd("STAT")
            s.replies.append(s.stat)
            n = int(s.stat.split()[1]) if s.stat.startswith(b"+OK") else 0
            s.replies.append(c.multi_cmd("LIST"))
            s.replies.append(c.multi_cmd("UIDL"))
            for i in range(1, n + 1):
                s.replies.append(c.cmd("LIST %d" % i))
                s.replies.append(c.multi_cmd("TOP %d 2" % i))
                rr = c.retr(i) if retr else c.multi_cmd("TOP %d 999999" % i)
                s.replies.append(rr)
                s.bodies.append(rr[1])
            s.replies.append(c.cmd("RETR %d" % (n + 1)))
            for k in dele:
                s.replies.append(c.cmd("DELE %d" % k))
            s.quit = c.cmd("QUIT")
            s.replies.append(s.quit)
        if not c.closed(SESSION_TIMEOUT):
            raise RuntimeError("connection not closed")
    except (OSError, EOFError, RuntimeError, ValueError, IndexError) as e:
        s.error = "%s: %s" % (type(e).__name__, e)
        kill_sessions(srv)
    finally:
        if c is not None:
            c.close()
    if not P.wait_for(lambda: not root_sessions(srv), 20, 0.01):
        s.error = (s.error or "") + " session did not end"
        kill_sessions(srv)
    if s.error:
        s.replies.append(("error", s.error))
    return s


def first_diff_detail(got, want):
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else "(none)"
        w = want[i] if i < len(want) else "(none)"
        if g != w:
            return "reply %d: got %s, want %s" % (i, P.short(g, 300),
                                                   P.short(w, 300))
    return "equal"


def same(name, got, want):
    """Reply for reply, the session got what the reference got."""
    return t.check(got.replies == want.replies and got.error is None, name,
                   first_diff_detail(got.replies, want.replies))


def served(name, s, messages):
    """The session served exactly these messages."""
    want = [P.wire(m) for m in messages]
    ok = s.bodies == want and s.stat is not None and \
        s.stat.split()[1:2] == [b"%d" % len(messages)]
    detail = "STAT %r, %d messages, want %d; %s" % (
        s.stat, len(s.bodies), len(want), first_diff_detail(s.bodies, want))
    return t.check(ok, name, detail)


def judge(p, name, u, messages, spool, retr=True):
    """A session of the cached server, then one of the reference on the
    same bytes: the same replies, these messages, the spool kept."""
    s = session(p.c, u, retr=retr)
    t.eq(read(u.path), spool, name + "-spool-kept")
    ref = session(p.r, u, retr=retr)
    same(name + "-as-no-cache", s, ref)
    if messages is not None:
        served(name + "-served", s, messages)
    return s, ref


def is_cache_file(u):
    """A regular file owned by the user, mode 0600, at the cache path."""
    try:
        st = os.lstat(u.cache)
    except FileNotFoundError:
        return False, "missing"
    ok = stat.S_ISREG(st.st_mode) and st.st_uid == u.uid and \
        stat.S_IMODE(st.st_mode) == 0o600 and st.st_nlink == 1
    return ok, "mode %o uid %d links %d" % (st.st_mode, st.st_uid,
                                            st.st_nlink)


def check_cache_file(p, name, u):
    ok, detail = is_cache_file(u)
    return p.cache_check(ok, name, detail)


def cache_bytes(u):
    try:
        return read(u.cache)
    except OSError:
        return b""


def remove_any(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


# ---------------------------------------------------------------- cases

def unchanged(p):
    u = p.u["unchanged"]
    m = msgs(5, b"unchanged")
    write_spool(u, mbox(m))
    pre = p.label + ".unchanged"
    s1 = session(p.c, u)
    check_cache_file(p, pre + "-cache-file-0600", u)
    s2 = session(p.c, u)
    s3 = session(p.c, u)
    ref = session(p.r, u)
    same(pre + "-session-1-as-no-cache", s1, ref)
    same(pre + "-session-2-as-no-cache", s2, ref)
    same(pre + "-session-3-as-no-cache", s3, ref)
    served(pre + "-served", s3, m)
    t.eq(len(set(uidl_of(s3) or [])), 5, pre + "-ids-unique")
    t.eq(read(u.path), mbox(m), pre + "-spool-kept")


def append(p):
    u = p.u["append"]
    m = msgs(4, b"append")
    write_spool(u, mbox(m))
    session(p.c, u)
    m.append(msg(5, b"append-new"))
    P.deliver(u.path, m[-1])
    judge(p, p.label + ".append", u, m, mbox(m))

    # Delivered after the login of the session that wrote the cache.
    u = p.u["append-live"]
    m = msgs(4, b"live")
    write_spool(u, mbox(m))
    new = msg(5, b"live-new")
    s = session(p.c, u, during=lambda: P.deliver(u.path, new))
    pre = p.label + ".append-during-session"
    served(pre + "-not-seen-yet", s, m)
    judge(p, pre, u, m + [new], mbox(m + [new]))


# Changes behind the cache's back to message 2 of 200 (message 4 is as
# long as message 2), in place, keeping the size; each alone and together
# with a new message at the end, the times put back.  Far from the end of
# a large mailbox, so that a check of a few sampled headers and of the
# bytes before the last message misses them.

def ch_subject(m, f, tag):
    m[1] = swap_one(m[1], b"Subject: %s 2\n" % tag, b"Subject: %s 7\n" % tag)


def ch_body(m, f, tag):
    m[1] = swap_one(m[1], b"token-2-", b"tokeN-2-")


def ch_newline(m, f, tag):
    m[1] = swap_one(m[1], b"token-2-", b"toke\n-2-")


def ch_split(m, f, tag):
    """An empty line before a "From " line inside the body: two messages."""
    a = swap_one(m[1], b">From quoted\nFrom after text\n",
                 b">From quote\n\nFrom after text\n")
    i = a.index(b">From quote\n") + len(b">From quote\n")
    j = a.index(b"From after text\n") + len(b"From after text\n")
    m[1:2] = [a[:i], a[j:]]
    f[1:2] = [f[1], b"From after text\n"]


def ch_from_line(m, f, tag):
    f[1] = f[1].replace(b"01:05:34", b"01:05:35")


def ch_join(m, f, tag):
    """Message 2's From_ line spoilt: it is part of message 1."""
    m[0:2] = [m[0] + b"\nX" + f[1][1:] + m[1]]
    f[0:2] = [f[0]]


def ch_swap_equal(m, f, tag):
    m[1], m[3] = m[3], m[1]


def ch_swap(m, f, tag):
    m[0], m[2] = m[2], m[0]


def ch_replace(m, f, tag):
    """Message 2 removed, one as long appended."""
    gone = m.pop(1)
    f.pop(1)
    m.append(sized(90, tag + b" new", len(gone)))
    f.append(P.FROM_LINE)


CHANGES = [
    ("subject", ch_subject), ("body", ch_body), ("newline", ch_newline),
    ("split", ch_split), ("from-line", ch_from_line), ("join", ch_join),
    ("swap-equal", ch_swap_equal), ("swap", ch_swap),
    ("replace", ch_replace),
]


def change_msgs(tag):
    m = msgs(200, tag)
    m[3] = sized(4, tag + b" equal", len(m[1]))
    return m, [P.FROM_LINE] * len(m)


def changed(fn, m, f, tag, append):
    """The messages and From_ lines after the change; the new bytes."""
    size = len(mbox(m, f))
    fn(m, f, tag)
    if len(mbox(m, f)) != size:
        raise ValueError("change %s resized the mailbox" % fn.__name__)
    if append:
        m.append(msg(99, tag + b" appended"))
        f.append(P.FROM_LINE)
    return mbox(m, f)


def changes(p):
    for name, fn in CHANGES:
        for append in (False, True):
            key = "ch-" + name + ("-a" if append else "")
            pre = "%s.%s%s" % (p.label, name, "-and-append" if append else "")
            u = p.u[key]
            tag = key.encode()
            m, f = change_msgs(tag)
            write_spool(u, mbox(m, f))
            session(p.c, u)
            data = changed(fn, m, f, tag, append)
            rewrite_in_place(u.path, data)
            s, ref = judge(p, pre, u, m, data)
            same(pre + "-next-session-as-no-cache", session(p.c, u), ref)


def replaced(p):
    """A new file at the spool's name."""
    u = p.u["copy-rename"]
    m = msgs(5, b"copy-rename")
    write_spool(u, mbox(m))
    session(p.c, u)
    replace_by_rename(u, mbox(m))
    judge(p, p.label + ".copy-rename-same-content", u, m, mbox(m))

    # Other content, same size and mtime, a new inode.
    u = p.u["copy-other"]
    m = msgs(5, b"copy-other")
    write_spool(u, mbox(m))
    session(p.c, u)
    st = os.stat(u.path)
    m[1] = swap_one(m[1], b"Subject: copy-other 2\n",
                    b"Subject: copy-otheR 2\n")
    m[3] = swap_one(m[3], b"token-4-copy-other\n", b"token-4-copy-otheR\n")
    replace_by_rename(u, mbox(m), (st.st_atime_ns, st.st_mtime_ns))
    judge(p, p.label + ".copy-other-content", u, m, mbox(m))

    # Removed and written again: ext4 and tmpfs hand out the freed inode
    # number again, so name, inode number, size and mtime may all match;
    # also with a new message at the end.
    for key, append in (("inode-reuse", False), ("inode-reuse-a", True)):
        u = p.u[key]
        tag = key.encode()
        m, f = change_msgs(tag)
        write_spool(u, mbox(m, f))
        session(p.c, u)
        st = os.stat(u.path)
        data = changed(ch_subject, m, f, tag, append)
        os.unlink(u.path)
        write_spool(u, data)
        os.utime(u.path, ns=(st.st_atime_ns, st.st_mtime_ns))
        reused = os.stat(u.path).st_ino == st.st_ino
        pre = "%s.%s%s" % (p.label, key, "" if reused else "-new-number")
        judge(p, pre, u, m, data)


def emptied(p):
    u = p.u["truncate"]
    m = msgs(4, b"truncate")
    write_spool(u, mbox(m))
    session(p.c, u)
    os.truncate(u.path, 0)
    judge(p, p.label + ".truncated-to-0", u, [], b"")
    new = [msg(7, b"after-truncate")]
    P.deliver(u.path, new[0])
    judge(p, p.label + ".delivered-after-truncate", u, new, mbox(new))

    u = p.u["remove"]
    m = msgs(4, b"remove")
    write_spool(u, mbox(m))
    session(p.c, u)
    os.unlink(u.path)
    judge(p, p.label + ".removed", u, [], b"")
    st = os.lstat(u.path)
    t.check(stat.S_ISREG(st.st_mode) and st.st_uid == u.uid,
            p.label + ".removed-recreated-empty",
            "%o %d" % (st.st_mode, st.st_uid))
    m = msgs(4, b"remove")
    m[0] = swap_one(m[0], b"token-1-remove\n", b"token-1-removE\n")
    write_spool(u, mbox(m))
    judge(p, p.label + ".removed-then-delivered", u, m, mbox(m))

    # Junk of the same size in the same inode, times put back.
    u = p.u["junk"]
    m = msgs(4, b"junk")
    good = mbox(m)
    write_spool(u, good)
    session(p.c, u)
    junk = (b"Received: by example.org\nnot a mailbox\n" * 1000)[:len(good)]
    rewrite_in_place(u.path, junk)
    pre = p.label + ".junk"
    s, ref = judge(p, pre, u, None, junk)
    t.check(len(s.replies) > 2 and s.replies[2].startswith(b"-ERR") and
            b"Unable to process From lines" in s.replies[2],
            pre + "-refused", s.replies[2:3])
    rewrite_in_place(u.path, good, keep_times=False)
    judge(p, pre + "-then-mbox-again", u, m, good)


def commands(srv, u, cmds, during=None):
    """A session of these commands then QUIT; the QUIT reply (None if the
    session broke off)."""
    r = None
    c = P.RawPop(srv, timeout=SESSION_TIMEOUT)
    try:
        c.cmd("USER " + u.name)
        if c.cmd("PASS " + PASSWORD).startswith(b"+OK"):
            if during is not None:
                during()
            for cmd in cmds:
                if cmd.startswith("RETR"):
                    c.retr(int(cmd.split()[1]))
                else:
                    c.cmd(cmd)
            r = c.cmd("QUIT")
            c.closed(SESSION_TIMEOUT)
    except (OSError, EOFError, RuntimeError) as e:
        r = None
        sys.stderr.write("%s: %s\n" % (u.name, e))
        kill_sessions(srv)
    finally:
        c.close()
    P.wait_for(lambda: not root_sessions(srv), 20, 0.01)
    return r


def uidl_of(s):
    """The ids of a session's UIDL, in order."""
    for r in s.replies:
        if isinstance(r, tuple) and r[0].startswith(b"+OK uidl"):
            return [l.split()[1] for l in r[1].splitlines()]
    return None


def own_update(p):
    """The server's own QUIT update, after which the cache is written
    again: the next session sees the mailbox as the update left it."""
    for key, n, dele, live in (
            ("own-dele", 5, [2], False),
            ("own-dele-ends", 40, [1, 40], False),
            ("own-dele-tail", 40, [39, 40], False),
            ("own-dele-live", 40, [3], True)):
        pre = "%s.%s" % (p.label, key)
        u = p.u[key]
        tag = key.encode()
        m = msgs(n, tag)
        write_spool(u, mbox(m))
        new = msg(99, tag + b" live")
        r = commands(p.c, u, ["DELE %d" % k for k in dele],
                     (lambda: P.deliver(u.path, new)) if live else None)
        t.check(r is not None and r.startswith(b"+OK"), pre + "-quit", r)
        kept = [x for i, x in enumerate(m) if i + 1 not in dele]
        kept += [new] if live else []
        t.eq(read(u.path), mbox(kept), pre + "-update")
        judge(p, pre, u, kept, mbox(kept))

    # After the update: new mail, or a change behind its back and new
    # mail.
    for key, change in (("own-then-deliver", None),
                        ("own-then-change", ch_newline)):
        pre = "%s.%s" % (p.label, key)
        u = p.u[key]
        tag = key.encode()
        m = msgs(40, tag)
        f = [P.FROM_LINE] * 40
        write_spool(u, mbox(m, f))
        r = commands(p.c, u, ["DELE 5"])
        t.check(r is not None and r.startswith(b"+OK"), pre + "-quit", r)
        del m[4]
        del f[4]
        if change is None:
            m.append(msg(99, tag + b" new"))
            f.append(P.FROM_LINE)
            P.deliver(u.path, m[-1])
            data = mbox(m, f)
        else:
            data = changed(change, m, f, tag, True)
            rewrite_in_place(u.path, data)
        judge(p, pre, u, m, data)

    # Copies with the same headers ("d", "d.2", "d.3"): the first goes,
    # the others keep their ids (the update writes them as X-UIDL).
    pre = p.label + ".own-copies"
    u = p.u["own-copies"]
    same_hdr = P.message(7, b"same", b"")
    m = [msg(1, b"own-copies"), same_hdr + b"copy A\n",
         same_hdr + b"copy B\n", same_hdr + b"copy C\n",
         msg(5, b"own-copies")]
    write_spool(u, mbox(m))
    before = uidl_of(session(p.c, u))
    r = commands(p.c, u, ["DELE 2"])
    t.check(r is not None and r.startswith(b"+OK"), pre + "-quit", r)
    s, ref = judge(p, pre, u, None, read(u.path))
    t.eq(uidl_of(s), before and [before[0]] + before[2:], pre + "-ids-kept")


def content_length(p):
    """A Content-Length whose count depends on where the file ends: new
    mail changes how the message before it is parsed."""
    body = b"para one\n\nFrom inside the count\n\nlast line\n"

    def counted(n, tag, count):
        return (P.message(n, tag, b"", b"Content-Length: %d\n" % count) +
                body)

    # Counted to the end of the file, the separator's newline included:
    # believed until mail follows, then the "From " line inside splits it.
    key = "cl-to-the-end"
    u = p.u[key]
    m = msgs(5, key.encode())
    m.append(counted(6, key.encode(), len(body) + 1))
    write_spool(u, mbox(m))
    session(p.c, u)
    new = msg(7, b"cl new")
    P.deliver(u.path, new)
    pre = "%s.%s-then-deliver" % (p.label, key)
    s, ref = judge(p, pre, u, None, mbox(m + [new]))
    t.eq(ref.stat and ref.stat.split()[1], b"8", pre + "-reference-splits")

    # Counted past the end of the file, to the end of the mail that is
    # delivered next: split until then, one message after.
    key = "cl-past-the-end"
    u = p.u[key]
    m = msgs(5, key.encode())
    new = msg(7, b"cl new")
    chunk = P.FROM_LINE + new + b"\n"
    m.append(counted(6, key.encode(), len(body) + 1 + len(chunk)))
    write_spool(u, mbox(m))
    s = session(p.c, u)
    t.eq(s.stat and s.stat.split()[1], b"7", p.label + "." + key + "-split")
    P.deliver(u.path, new)
    pre = "%s.%s-then-deliver" % (p.label, key)
    s, ref = judge(p, pre, u, None, mbox(m) + chunk)
    t.eq(ref.stat and ref.stat.split()[1], b"6", pre + "-reference-one")


def status_updates(p):
    """update-status-headers: the update writes Status: and X-UIDL lines
    into the messages it rewrites, which moves every later one; the next
    session must see the mailbox as it now is.  The comparisons read the
    messages with TOP, so that they mark nothing and write nothing."""
    for key, n, cmds in (
            ("st-dele-4", 4, ["DELE 2"]),
            ("st-dele-40", 40, ["DELE 2"]),
            ("st-retr", 5, ["RETR 2"]),
            ("st-retr-dele", 6, ["RETR 1", "DELE 3"]),
            ("st-dele-last", 4, ["DELE 4"])):
        pre = "%s.%s" % (p.label, key)
        u = p.u[key]
        write_spool(u, mbox(msgs(n, key.encode())))
        session(p.c, u, retr=False)
        r = commands(p.c, u, cmds)
        t.check(r is not None and r.startswith(b"+OK"), pre + "-quit", r)
        judge(p, pre, u, None, read(u.path), retr=False)
        P.deliver(u.path, msg(99, key.encode() + b" new"))
        judge(p, pre + "-then-deliver", u, None, read(u.path), retr=False)


def dele_after_change(p):
    """The first session after a change behind the cache's back deletes
    one message: exactly that one goes, byte for byte."""
    for key, fn, append, k in (
            ("dele-subject", ch_subject, False, 3),
            ("dele-swap", ch_swap, False, 1),
            ("dele-replace", ch_replace, False, 4),
            ("dele-subject-a", ch_subject, True, 2),
            ("dele-split-a", ch_split, True, 2),
            ("dele-swap-equal-a", ch_swap_equal, True, 4)):
        pre = "%s.%s-dele-%d" % (p.label, key, k)
        u = p.u[key]
        tag = key.encode()
        m, f = change_msgs(tag)
        write_spool(u, mbox(m, f))
        session(p.c, u)
        rewrite_in_place(u.path, changed(fn, m, f, tag, append))
        s = session(p.c, u, dele=[k])
        served(pre + "-served", s, m)
        t.check(s.quit is not None and s.quit.startswith(b"+OK"),
                pre + "-quit", s.replies[-1:])
        del m[k - 1]
        del f[k - 1]
        if t.eq(read(u.path), mbox(m, f), pre + "-exactly-that-one-gone"):
            judge(p, pre + "-next", u, m, mbox(m, f))
        else:
            judge(p, pre + "-next", u, None, read(u.path))


# ---------------------------------------------------------------- bad caches

def rebuilt(u, bad):
    """After a session, the path holds a proper cache again, not the bad
    bytes."""
    ok, detail = is_cache_file(u)
    if ok and cache_bytes(u) == bad:
        return False, "the bad bytes are still there"
    return ok, detail


def write_cache(u, data):
    """New bytes in the cache file, in place if it is there (the owner
    and mode the daemon gave it kept), else in a new file of the user's."""
    fd = os.open(u.cache, os.O_WRONLY | os.O_CREAT | os.O_TRUNC |
                 os.O_NOFOLLOW, 0o600)
    try:
        os.fchown(fd, u.uid, P.VIRT_GID)
        os.write(fd, data)
    finally:
        os.close(fd)


def corrupt(p):
    """Regular files with bad contents, one after another: each session
    must serve what the reference serves and leave a proper cache."""
    pre = p.label + ".corrupt-"
    u = p.u["corrupt"]
    m = msgs(5, b"corrupt")
    spool = mbox(m)
    write_spool(u, spool)
    ref = session(p.r, u)
    served(pre + "reference", ref, m)
    session(p.c, u)
    check_cache_file(p, pre + "cache-written", u)

    # Another user's cache, of another mailbox.
    o = p.u["other-user"]
    om = msgs(3, b"other-user")
    write_spool(o, mbox(om))
    session(p.c, o)
    other = cache_bytes(o)
    rnd = random.Random(20260103)

    kinds = [
        ("truncated-0", lambda d: b""),
        ("truncated-1", lambda d: d[:1]),
        ("truncated-7", lambda d: d[:7]),
        ("truncated-half", lambda d: d[:len(d) // 2]),
        ("truncated-all-but-1", lambda d: d[:-1]),
        ("random-same-length", lambda d: bytes(rnd.getrandbits(8)
                                               for _ in d)),
        ("junk-appended", lambda d: d + b"junk\n" * 20),
        ("twice", lambda d: d + d),
        ("other-users", lambda d: other),
    ]
    for name, fn in kinds:
        bad = fn(cache_bytes(u))
        write_cache(u, bad)
        mark = p.c.log_mark()
        s = session(p.c, u)
        same(pre + name + "-as-no-cache", s, ref)
        ok, detail = rebuilt(u, bad)
        p.cache_check(ok, pre + name + "-rebuilt", detail)
        # An empty file is what the daemon leaves when it has no cache.
        if bad:
            logged(p, pre + name, mark)
    t.eq(read(u.path), spool, pre + "spool-kept")

    # Single bit flips spread over the file, one session each; each
    # session's rebuilt cache is the next one's to flip.
    wrong, kept, n = [], [], 50
    for i in range(n):
        good = cache_bytes(u)
        if not good:
            kept.append((i, "no cache to flip"))
            break
        pos = i * (len(good) - 1) // (n - 1)
        bad = bytearray(good)
        bad[pos] ^= 1 << (i % 8)
        write_cache(u, bytes(bad))
        s = session(p.c, u)
        if s.replies != ref.replies:
            wrong.append((pos, i % 8, first_diff_detail(s.replies,
                                                        ref.replies)))
        ok, detail = rebuilt(u, bytes(bad))
        if not ok:
            kept.append((pos, i % 8, detail))
    t.check(not wrong, pre + "bit-flips-as-no-cache", wrong[:5])
    p.cache_check(not kept, pre + "bit-flips-rebuilt", kept[:10])
    t.eq(read(u.path), spool, pre + "bit-flips-spool-kept")

    # 2 GiB: the valid cache followed by a hole.
    write_cache(u, cache_bytes(u))
    os.truncate(u.cache, GIB2)
    s = session(p.c, u)
    same(pre + "sparse-2GiB-as-no-cache", s, ref)
    ok, detail = is_cache_file(u)
    size = os.lstat(u.cache).st_size if ok else -1
    p.cache_check(ok and size < GIB2, pre + "sparse-2GiB-rebuilt",
                  "%s, size %d" % (detail, size))
    t.eq(read(u.path), spool, pre + "sparse-2GiB-spool-kept")


def replay(p):
    """An older cache of the same user, valid when it was written, put
    back after the spool changed in place (same size, times put back)."""
    pre = p.label + ".old-cache-"
    u = p.u["replay"]
    m = msgs(5, b"replay")
    write_spool(u, mbox(m))
    session(p.c, u)
    old = cache_bytes(u)
    m[3] = swap_one(m[3], b"Subject: replay 4\n", b"Subject: replaY 4\n")
    rewrite_in_place(u.path, mbox(m))
    session(p.c, u)
    write_cache(u, old)
    judge(p, pre + "put-back", u, m, mbox(m))


def logged(p, name, mark):
    """The session that met a bad cache says so in the log, in more than
    the line that tells how the mailbox was indexed."""
    text = p.c.log_since(mark)
    lines = [l for l in text.splitlines()
             if "cache" in l.lower() and " indexed " not in l]
    return p.cache_check(bool(lines), name + "-logged", text[-1000:])


def snapshot(path):
    """What is at a path: type, inode, owner, mode, mtime, link target,
    bytes of a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    data = None
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            data = f.read(1 << 20)
    link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
    return (stat.S_IFMT(st.st_mode), st.st_ino, st.st_uid,
            stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns, link, data)


def bad_objects(p):
    """Things at the cache path that are not a cache to trust.  Each:
    the session is right and ends; a symlink's target (or the other name
    of a hard link) is not changed or created; what is left is the object
    untouched or a proper cache; a second session is right; once the
    object is gone, a session leaves a proper cache."""
    victim_dir = os.path.join(p.c.dir, "victims")
    os.mkdir(victim_dir, 0o755)
    kinds = ["sym-user", "sym-root", "sym-dangling", "sym-zero", "hardlink",
             "directory", "fifo", "socket", "other-uid", "mode-0666",
             "mode-0620"]
    for kind in kinds:
        pre = "%s.%s-" % (p.label, kind)
        u = p.u[kind]
        m = msgs(4, kind.encode())
        spool = mbox(m)
        write_spool(u, spool)
        ref = session(p.r, u)
        session(p.c, u)
        good = cache_bytes(u)
        remove_any(u.cache)
        watch = None
        sock = None
        if kind == "sym-user":
            watch = os.path.join(victim_dir, kind)
            P.write_file(watch, good, u.uid, P.VIRT_GID, 0o600)
            os.symlink(watch, u.cache)
        elif kind == "sym-root":
            watch = os.path.join(victim_dir, kind)
            P.write_file(watch, b"precious\n", 0, 0, 0o644)
            os.symlink(watch, u.cache)
        elif kind == "sym-dangling":
            watch = os.path.join(victim_dir, kind)
            os.symlink(watch, u.cache)
        elif kind == "sym-zero":
            os.symlink("/dev/zero", u.cache)
        elif kind == "hardlink":
            watch = os.path.join(victim_dir, kind)
            P.write_file(watch, good, u.uid, P.VIRT_GID, 0o600)
            os.link(watch, u.cache)
        elif kind == "directory":
            os.mkdir(u.cache, 0o700)
            os.chown(u.cache, u.uid, P.VIRT_GID)
        elif kind == "fifo":
            os.mkfifo(u.cache, 0o600)
            os.chown(u.cache, u.uid, P.VIRT_GID)
        elif kind == "socket":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(u.cache)
            sock.listen(1)
            os.chown(u.cache, u.uid, P.VIRT_GID)
            os.chmod(u.cache, 0o600)
        elif kind == "other-uid":
            P.write_file(u.cache, good, OTHER_UID, P.VIRT_GID, 0o600)
        elif kind == "mode-0666":
            P.write_file(u.cache, good, u.uid, P.VIRT_GID, 0o666)
        elif kind == "mode-0620":
            P.write_file(u.cache, good, u.uid, P.VIRT_GID, 0o620)
        obj = snapshot(u.cache)
        target = snapshot(watch) if watch else None
        try:
            mark = p.c.log_mark()
            s = session(p.c, u)
            same(pre + "as-no-cache", s, ref)
            t.eq(read(u.path), spool, pre + "spool-kept")
            if watch:
                t.eq(snapshot(watch), target, pre + "target-untouched")
            left = snapshot(u.cache)
            ok, detail = is_cache_file(u)
            t.check(left == obj or ok, pre + "left-untouched-or-proper",
                    "before %s, after %s" % (P.short(obj[:7]),
                                             P.short(left and left[:7])))
            logged(p, pre[:-1], mark)
            s = session(p.c, u)
            same(pre + "second-session-as-no-cache", s, ref)
            if watch:
                t.eq(snapshot(watch), target, pre + "target-untouched-2")
        finally:
            if sock is not None:
                sock.close()
        if not is_cache_file(u)[0]:
            remove_any(u.cache)
        s = session(p.c, u)
        same(pre + "after-removal-as-no-cache", s, ref)
        check_cache_file(p, pre + "after-removal-rebuilt", u)


# ---------------------------------------------------------------- no cache

def no_cache_files(p):
    """The reference (cache-dir = none) wrote no cache anywhere."""
    names = set(u.name for u in p.u.values())
    found = []
    for top in (p.r.dir, DEFAULT_DIR):
        for d, dirs, files in os.walk(top):
            found += [os.path.join(d, f) for f in files + dirs if f in names]
    for path in (os.path.join(p.r.dir, "none"), "/none",
                 os.path.join(p.r.chroot, "none")):
        if os.path.lexists(path):
            found.append(path)
    t.check(not found, p.label + ".no-cache-files-with-none", found)
    if not DEFAULT_DIR_EXISTED:
        t.check(not os.path.lexists(DEFAULT_DIR),
                p.label + ".default-dir-not-made-with-none")


# ---------------------------------------------------------------- cold

COLD_MSGS = 3000
COLD_LEN = 8192
# The first line, the bytes before the last message, the file's end and
# 17 sampled headers, a page or two each, and what QUIT reads to write
# the cache; with a readahead window of even 128 KiB around each, some
# 600 pages.
COLD_PAGES_MAX = 160

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                      ctypes.c_int, ctypes.c_int, ctypes.c_long)
libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t,
                         ctypes.POINTER(ctypes.c_ubyte))


def resident_pages(path):
    """How many of the file's pages are in the page cache now: mincore(2)
    of a fresh map, which reads nothing."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr is None or addr == ctypes.c_void_p(-1).value:
            raise OSError(ctypes.get_errno(), "mmap")
    finally:
        os.close(fd)
    try:
        pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
        vec = (ctypes.c_ubyte * pages)()
        if libc.mincore(addr, size, vec) != 0:
            raise OSError(ctypes.get_errno(), "mincore")
        return sum(v & 1 for v in vec)
    finally:
        libc.munmap(addr, size)


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def stat_session(srv, u):
    """Login, STAT, QUIT: the STAT reply, or None."""
    c = P.RawPop(srv, timeout=SESSION_TIMEOUT)
    try:
        c.cmd("USER " + u.name)
        if not c.cmd("PASS " + PASSWORD).startswith(b"+OK"):
            return None
        r = c.cmd("STAT")
        c.cmd("QUIT")
        c.closed(SESSION_TIMEOUT)
        return r
    finally:
        c.close()
        P.wait_for(lambda: not root_sessions(srv), 20, 0.01)


def cold(p):
    if not p.caches:
        return
    u = p.u["cold"]
    m = [sized(i + 1, b"cold", COLD_LEN) for i in range(COLD_MSGS)]
    data = mbox(m)
    write_spool(u, data)
    pre = p.label + ".cold"
    want = b"+OK %d " % COLD_MSGS
    r = stat_session(p.c, u)
    t.check(r is not None and r.startswith(want), pre + "-first-stat", r)
    ok, why = is_cache_file(u)
    t.check(ok, pre + "-cache-written", why)
    evict(u.path)
    left = resident_pages(u.path)
    if left > 0:
        t.skip(pre + "-reads-little", "%d pages of the mailbox stay in the "
               "page cache after POSIX_FADV_DONTNEED" % left)
        return
    r = stat_session(p.c, u)
    t.check(r is not None and r.startswith(want), pre + "-second-stat", r)
    got = resident_pages(u.path)
    t.check(got <= COLD_PAGES_MAX, pre + "-reads-little",
            "%d of %d pages read (at most %d)" % (
                got, (len(data) + 4095) // 4096, COLD_PAGES_MAX))
    t.eq(read(u.path), data, pre + "-spool-kept")


def run_pair(p, fns):
    p.start()
    st = os.lstat(p.cachedir)
    t.check(stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and
            stat.S_IMODE(st.st_mode) == 0o711,
            p.label + ".cache-dir-created-root-0711",
            "mode %o uid %d" % (st.st_mode, st.st_uid))
    for fn in fns:
        t.run("%s.%s" % (p.label, fn.__name__), fn, p)
    no_cache_files(p)
    p.c.check_log_clean(p.label + ".log-clean")
    p.r.check_log_clean(p.label + ".reference-log-clean")
    p.c.stop()
    p.r.stop()


SERVING = (unchanged, append, changes, replaced, emptied, own_update,
           dele_after_change, content_length)
BAD_CACHES = (corrupt, replay)


# ---------------------------------------------------------------- start-up

def try_start(srv, cachedir, umask=-1):
    """Start popsepd -d with this cache-dir: ("started", log) once it
    serves (then stopped), or (exit status, log)."""
    srv.options["cache-dir"] = cachedir
    srv.write_config()
    log = os.path.join(srv.dir, "start.log")
    with open(log, "wb") as f:
        proc = subprocess.Popen(
            [P.POPSEPD, "-d", "-f", srv.conf], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=f, start_new_session=True,
            cwd=srv.dir, umask=umask)
    try:
        deadline = time.time() + 15
        while time.time() < deadline:
            text = read(log).decode("utf-8", "replace")
            if proc.poll() is not None:
                return proc.returncode, read(log).decode("utf-8", "replace")
            if "started" in text and P.listening(srv.port):
                return "started", text
            time.sleep(0.02)
        return "neither started nor exited", read(log).decode("utf-8",
                                                              "replace")
    finally:
        P.stop_process(proc)


def startup():
    srv = P.Server(t, "cache-startup", tls=False, cleartext="always")
    base = os.path.join(srv.dir, "c")
    os.mkdir(base, 0o755)
    n = [0]

    def fresh():
        n[0] += 1
        return os.path.join(base, "d%d" % n[0])

    # Missing: made, root's, 0711, whatever the umask.
    for umask in (0o022, 0o077, 0o000):
        d = fresh()
        rc, log = try_start(srv, d, umask)
        name = "startup-missing-made-umask-%03o" % umask
        t.eq(rc, "started", name + "-starts")
        st = os.lstat(d) if os.path.lexists(d) else None
        t.check(st is not None and stat.S_ISDIR(st.st_mode) and
                st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o711, name,
                st and "mode %o uid %d" % (st.st_mode, st.st_uid))

    # Acceptable directories start.
    for mode in (0o711, 0o755, 0o700):
        d = fresh()
        os.mkdir(d)
        os.chmod(d, mode)
        rc, log = try_start(srv, d)
        t.eq(rc, "started", "startup-root-%03o-starts" % mode)

    def refused(name, d):
        rc, log = try_start(srv, d)
        t.check(isinstance(rc, int) and rc != 0 and "cache-dir" in log,
                "startup-refuses-" + name, "status %s: %s" % (rc, log[-600:]))

    good = fresh()
    os.mkdir(good, 0o711)
    os.chmod(good, 0o711)
    link = fresh()
    os.symlink(good, link)
    before = snapshot(good)
    refused("symlink", link)
    t.eq(snapshot(good), before, "startup-symlink-target-untouched")
    t.eq(os.listdir(good), [], "startup-symlink-target-empty")

    link = fresh()
    target = fresh()
    os.symlink(target, link)
    refused("dangling-symlink", link)
    t.check(not os.path.lexists(target), "startup-dangling-target-not-made")

    for name, mode, uid in (("group-writable", 0o771, 0),
                            ("other-writable", 0o713, 0),
                            ("sticky-world-writable", 0o1777, 0),
                            ("not-roots", 0o711, P.VIRT_UID)):
        d = fresh()
        os.mkdir(d)
        os.chown(d, uid, 0)
        os.chmod(d, mode)
        refused(name, d)

    f = fresh()
    P.write_file(f, b"not a directory\n", 0, 0, 0o600)
    refused("regular-file", f)
    t.eq(read(f), b"not a directory\n", "startup-regular-file-untouched")


t.run("server", lambda: run_pair(Pair("server"),
                                 SERVING + BAD_CACHES + (bad_objects, cold)))
t.run("drop", lambda: run_pair(Pair("drop"), SERVING + (bad_objects,)))
t.run("status", lambda: run_pair(
    Pair("server", "status", {"update-status-headers": True}),
    (status_updates,)))
t.run("startup", startup)
t.done()
