"""
Each POP3 reply leaves the network child in as few writes as it can: a
status line and its body in one write, the replies to pipelined commands
gathered into one write, a large message in MSG-sized pieces rather than
line by line, spliced from the data pipe to the socket rather than copied
through the process.  Counted with strace on the live network child
(plain connection, so each write or splice is one syscall on the client
socket).
"""

import os
import pwd
import re
import subprocess
import time

import popseptest as pt

t = pt.Test("writes")
pt.need_root()
if not pt.have("strace"):
    t.skip("writes", "strace is not installed")
    t.done()
pt.run(["sh", os.path.join(pt.TOP, "etc", "users.sh")])

srv = pt.Server(t, "writes", cleartext="always")
USER = "popsep-e2e-writes"
srv.add_virtual_user(USER, "w-pass")
big = b"".join(b"line %06d of a long message with some text in it\n" % i
               for i in range(40000))
mb = srv.mbox(USER, [pt.message(1, b"small", b"hello\n.dot\n"),
                     pt.message(2, b"big", big)])
srv.start()


def net_child():
    net_uid = pwd.getpwnam("_popsep").pw_uid
    for pid in pt.descendants(srv.proc.pid):
        st = pt.proc_status(pid)
        if st and pt.ids(st, "Uid")[0] == net_uid:
            return pid
    return None


def traced(c, payload, expect_end):
    """Send payload, read until expect_end (bytes the reply ends with, or a
    predicate on the data), return the client socket's
    write syscalls made by the network child meanwhile."""
    pid = net_child()
    out = os.path.join(srv.dir, "strace.%d" % time.time_ns())
    st = subprocess.Popen(["strace", "-q", "-p", str(pid), "-e",
                           "trace=write,writev,sendto,sendmsg,splice", "-o",
                           out],
                          stderr=subprocess.DEVNULL)
    # attached before we send: the child's TracerPid is strace's
    pt.wait_for(lambda: (pt.proc_status(pid) or {}).get("TracerPid", "0")
               == str(st.pid), 30)
    c.send(payload)
    data = b""
    done = expect_end if callable(expect_end) else \
        (lambda d: d.endswith(expect_end))
    while not done(data):
        c.fill()
        data, c.buf = data + c.buf, b""
    time.sleep(0.2)
    st.terminate()
    st.wait()
    with open(out) as f:
        lines = [l for l in f if re.match(r"(write|writev|sendto|splice)\(\d+",
                                          l)]
    # sendmsg goes to the spool channel, never to the client
    return lines, data


def check_writes():
    c = srv.login(USER, tls=False)
    lines, data = traced(c, b"LIST\r\n", b"\r\n.\r\n")
    t.check(len(lines) == 1 and data.startswith(b"+OK"),
            "list-status-and-body-one-write", "".join(lines))
    lines, data = traced(c, b"RETR 1\r\n", b"\r\n.\r\n")
    t.check(len(lines) == 1 and b"..dot" in data,
            "retr-small-status-and-body-one-write", "".join(lines))
    # STAT, NOOP and LIST 1 are one line each; UIDL is "+OK", 2 lines, "."
    lines, data = traced(c, b"STAT\r\nNOOP\r\nUIDL\r\nLIST 1\r\n",
                         lambda d: d.count(b"+OK") == 4 and
                         d.endswith(b"\r\n") and b"\r\n.\r\n" in d)
    t.check(len(lines) == 1 and data.count(b"+OK") == 4,
            "four-pipelined-replies-one-write", "".join(lines))
    size = len(pt.wire(mb.messages[1]))
    lines, data = traced(c, b"RETR 2\r\n", b"\r\n.\r\n")
    t.check(len(data) > size and len(lines) <= size // 16384 + 2,
            "retr-2mb-in-large-writes (%d writes and splices for %d bytes)" % (
                len(lines), size), "".join(lines[:5]))
    spliced = sum(int(m.group(1)) for m in (
        re.match(r"splice\(.*\) = (\d+)$", l.strip()) for l in lines) if m)
    t.check(spliced >= size * 9 // 10,
            "retr-2mb-spliced-from-the-data-pipe (%d of %d bytes)" % (
                spliced, size), "".join(lines[:5]))
    c.cmd("QUIT")


t.run("writes", check_writes)
srv.check_log_clean("no-sandbox-violations")
t.done()
