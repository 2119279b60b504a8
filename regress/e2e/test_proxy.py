"""
The PROXY protocol behind a real haproxy (Debian's, started here in the
foreground with a configuration of its own, mode tcp): send-proxy (v1)
to one popsepd on 127.0.0.2 and send-proxy-v2 to another on 127.0.0.3,
each with a proxy listener (and the v2 one a TLS proxy listener as
well), trusting only haproxy's source address 127.0.0.1.  Through both:
a login and RETR byte for byte; the logs and the end-of-session line name
the client (127.0.0.4, the address the test binds), with haproxy's
address as pip=; max-per-source counts the client behind the proxy, not
the proxy; a connection to a proxy listener from an untrusted address is
refused, one from the proxy without a valid header is closed; and a
PROXY line on an ordinary listener is an unknown command.
"""

import os
import re
import socket
import subprocess

import popseptest as P

t = P.Test("proxy")
P.need_root()

CLIENT = "127.0.0.4"
OTHER = "127.0.0.5"
UNTRUSTED = "127.0.0.9"
PROXY = "127.0.0.1"
USER = "popsep-e2e-proxy"
PW = "p-pass"
MSGS = [P.message(1, b"one", b"first line\n.dotted\n"),
        P.message(2, b"two", b"second\n" * 50)]
TOO_MANY = b"-ERR [SYS/TEMP] Too many sessions from your address, " \
    b"try again later"


def backend(name, addr):
    srv = P.Server(t, name, cleartext="local",
                   options={"max-per-source": "2"})
    srv.proxy_port, srv.proxy_tls_port = P.free_ports(2)
    srv.proxy_addr = addr
    srv.options["listen-proxy"] = "%s:%d" % (addr, srv.proxy_port)
    srv.options["listen-proxy-tls"] = "%s:%d" % (addr, srv.proxy_tls_port)
    srv.options["proxy-from"] = "%s/32 ::1" % PROXY
    srv.add_virtual_user(USER, PW)
    srv.mbox(USER, MSGS).write()
    srv.start()
    if not P.wait_for(lambda: P.listening(srv.proxy_port) and
                      P.listening(srv.proxy_tls_port), 10):
        raise RuntimeError("proxy listeners not up:\n" + srv.read_log())
    return srv


v1 = backend("proxy-v1", "127.0.0.2")
v2 = backend("proxy-v2", "127.0.0.3")

HDIR = v1.dir
HCFG = os.path.join(HDIR, "haproxy.cfg")
H1, H2, H2TLS = P.free_ports(3)
with open(HCFG, "w") as f:
    f.write("""global
    maxconn 200
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend v1
    bind 127.0.0.1:%d
    default_backend v1
backend v1
    server s1 %s:%d send-proxy source %s
frontend v2
    bind 127.0.0.1:%d
    default_backend v2
backend v2
    server s2 %s:%d send-proxy-v2 source %s
frontend v2tls
    bind 127.0.0.1:%d
    default_backend v2tls
backend v2tls
    server s3 %s:%d send-proxy-v2 source %s
""" % (H1, v1.proxy_addr, v1.proxy_port, PROXY,
       H2, v2.proxy_addr, v2.proxy_port, PROXY,
       H2TLS, v2.proxy_addr, v2.proxy_tls_port, PROXY))

haproxy = None
if P.have("haproxy"):
    hlog = open(os.path.join(HDIR, "haproxy.log"), "wb")
    haproxy = subprocess.Popen(["haproxy", "-f", HCFG, "-db"],
                               stdin=subprocess.DEVNULL, stdout=hlog,
                               stderr=subprocess.STDOUT,
                               start_new_session=True)
    t.cleanup(P.stop_process, haproxy)
    if not P.wait_for(lambda: haproxy.poll() is not None or all(
            P.listening(p) for p in (H1, H2, H2TLS)), 10) or \
            haproxy.poll() is not None:
        haproxy = None


def connect(port, src, addr="127.0.0.1", tls_srv=None):
    """A RawPop whose socket is bound to src before it connects."""
    c = P.RawPop.__new__(P.RawPop)
    c.srv = tls_srv
    c.sock = socket.create_connection((addr, port), 30,
                                      source_address=(src, 0))
    if tls_srv is not None:
        c.sock = tls_srv.ssl_context().wrap_socket(
            c.sock, server_hostname="localhost")
    c.buf = b""
    c.greeting = c.line()
    return c


def session_end_lines(srv, mark):
    return [l for l in srv.log_since(mark).splitlines()
            if "Disconnected:" in l]


def sessions(srv, port, tag, tls=False):
    mark = srv.log_mark()
    c = connect(port, CLIENT, tls_srv=srv if tls else None)
    t.check(c.greeting.startswith(P.GREETING), "%s-greeting" % tag,
            c.greeting)
    t.check(c.cmd("USER " + USER).startswith(b"+OK"), "%s-user" % tag)
    r = c.cmd("PASS " + PW)
    t.check(r.startswith(b"+OK"), "%s-login" % tag, r)
    for i in range(len(MSGS)):
        r, body = c.retr(i + 1)
        t.check(body == P.wire(MSGS[i]), "%s-retr-%d-byte-for-byte" %
                (tag, i + 1), P.short(body))
    t.check(c.cmd("QUIT").startswith(b"+OK"), "%s-quit" % tag)
    c.closed()
    t.check(P.wait_for(lambda: session_end_lines(srv, mark), 10),
            "%s-session-ended" % tag)
    log = srv.log_since(mark)
    t.check("connection from %s through the proxy %s" % (CLIENT, PROXY)
            in log, "%s-log-names-the-client" % tag, P.short(log, 2000))
    t.check(re.search(r'authenticated "%s" \([^)]*\) from %s\b' %
                      (USER, re.escape(CLIENT)), log) is not None,
            "%s-login-logged-with-the-client" % tag)
    end = session_end_lines(srv, mark)
    t.check(len(end) == 1 and " rip=%s pip=%s " % (CLIENT, PROXY) in end[0],
            "%s-end-of-session-rip-and-pip" % tag, repr(end))


def per_source(srv, port, tag):
    mark = srv.log_mark()
    a = connect(port, CLIENT)
    b = connect(port, CLIENT)
    t.check(a.greeting.startswith(P.GREETING) and
            b.greeting.startswith(P.GREETING), "%s-two-from-client" % tag)
    c = connect(port, CLIENT)
    t.eq(c.greeting, TOO_MANY, "%s-third-from-client-refused" % tag)
    t.check(c.closed(), "%s-third-closed" % tag)
    # The proxy holds three connections: its own address is not counted.
    d = connect(port, OTHER)
    t.check(d.greeting.startswith(P.GREETING),
            "%s-other-client-still-served" % tag, d.greeting)
    t.check(d.cmd("CAPA").startswith(b"+OK"), "%s-other-client-capa" % tag)
    log = srv.log_since(mark)
    t.check("connection from %s refused: max-per-source (2) reached" %
            CLIENT in log, "%s-refusal-names-the-client" % tag,
            P.short(log, 2000))
    for x in (a, b, d):
        x.cmd("QUIT")
        x.closed()


def untrusted(srv, tag):
    mark = srv.log_mark()
    c = connect(srv.proxy_port, UNTRUSTED, srv.proxy_addr)
    t.check(c.greeting.startswith(b"-ERR [SYS/PERM]"),
            "%s-untrusted-refused" % tag, c.greeting)
    t.check(c.closed(), "%s-untrusted-closed" % tag)
    t.check(P.wait_for(lambda: "connection from %s to a proxy listener "
                       "refused: not in proxy-from" % UNTRUSTED in
                       srv.log_since(mark), 5),
            "%s-untrusted-logged" % tag)


def garbage(srv, tag, data):
    mark = srv.log_mark()
    s = socket.create_connection((srv.proxy_addr, srv.proxy_port), 30,
                                 source_address=(PROXY, 0))
    s.sendall(data)
    s.settimeout(10)
    got = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    t.eq(got, b"", "%s-garbage-closed-without-a-byte" % tag)
    want = "connection from the proxy %s closed: not a valid PROXY " \
        "protocol header" % PROXY
    t.check(P.wait_for(lambda: want in srv.log_since(mark), 5),
            "%s-garbage-logged" % tag, P.short(srv.log_since(mark), 2000))
    t.eq(srv.log_since(mark).count(want), 1, "%s-garbage-logged-once" % tag)


def plain_listener(srv):
    c = srv.connect()
    r = c.cmd("PROXY TCP4 192.0.2.1 127.0.0.1 4000 110")
    t.check(r.startswith(b"-ERR Unknown command"),
            "proxy-line-on-a-normal-listener-is-an-unknown-command", r)
    t.check(c.cmd("CAPA").startswith(b"+OK"),
            "normal-listener-goes-on-after-it")
    c.cmd("QUIT")
    c.closed()


def main():
    if haproxy is None:
        t.skip("haproxy", "haproxy could not start: %s" % P.short(
            open(os.path.join(HDIR, "haproxy.log"), "rb").read()
            if os.path.exists(os.path.join(HDIR, "haproxy.log")) else
            b"not installed", 500))
        return
    sessions(v1, H1, "v1")
    sessions(v2, H2, "v2")
    sessions(v2, H2TLS, "v2-tls", tls=True)
    per_source(v1, H1, "v1")
    per_source(v2, H2, "v2")
    untrusted(v1, "v1")
    garbage(v1, "v1", b"GET / HTTP/1.0\r\n\r\n")
    garbage(v2, "v2", b"\r\n\r\n\x00\r\nQUIT\n\x21\x12\x00\x0c" + b"\0" * 12)
    plain_listener(v1)


t.run("proxy", main)
v1.check_log_clean("v1-no-sandbox-violations")
v2.check_log_clean("v2-no-sandbox-violations")
t.done()
