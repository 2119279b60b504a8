"""
Input one byte at a time: a whole session sent one byte per TCP segment
(plain) and one byte per TLS record, must get exactly the replies the same
session gets when each command arrives whole, and all of it pipelined in
one write must too.
"""

import socket
import ssl
import time

import popseptest as P

t = P.Test("bytewise")
P.need_root()

srv = P.Server(t, "bytewise", cleartext="always")
USER = "popsep-e2e-bytes"
srv.add_virtual_user(USER, "b-pass")
msgs = [P.message(1, b"one", b"first\n.dot\n"),
        P.message(2, b"two", b"second\nline\n")]
srv.mbox(USER, msgs)
srv.start()

SESSION = (b"CAPA\r\nUSER %s\r\nPASS b-pass\r\nSTAT\r\nLIST\r\nUIDL 2\r\n"
           b"TOP 1 0\r\nRETR 1\r\nRETR 2\r\nNOOP\r\nRSET\r\nQUIT\r\n" %
           USER.encode())


def run(mode, tls):
    s = socket.create_connection(("127.0.0.1",
                                  srv.tls_port if tls else srv.port), 30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls:
        s = srv.ssl_context().wrap_socket(s, server_hostname="localhost")
    if mode == "bytes":
        for i in range(len(SESSION)):
            s.sendall(SESSION[i:i + 1])      # one segment or record each
            time.sleep(0.001)
    elif mode == "lines":
        for line in SESSION.splitlines(keepends=True):
            s.sendall(line)
            time.sleep(0.02)
    else:
        s.sendall(SESSION)
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    return out


def check():
    for tls in (False, True):
        name = "tls" if tls else "plain"
        ref = run("lines", tls)
        t.check(ref.count(b"\r\n+OK") + 1 >= 12 and
                ref.endswith(b"signing off.\r\n"), name + "-reference-session",
                ref[-300:])
        t.eq(run("bytes", tls), ref, name + "-one-byte-at-a-time")
        t.eq(run("pipelined", tls), ref, name + "-all-in-one-write")


t.run("bytewise", check)
srv.check_log_clean("no-sandbox-violations")
t.done()
