#!/usr/bin/env python3
"""
SASL GSSAPI (RFC 4752, Kerberos 5) through the real daemon, against a
throw-away MIT KDC on loopback: its own krb5.conf, kdc.conf, database and
keytab in a temp dir (KRB5_CONFIG, KRB5_KDC_PROFILE, KRB5CCNAME; the
system's files are never read or written).  Real clients (curl, fetchmail)
read mail byte for byte; regress/e2e/gss_client.py, a client on MIT's
library, also misbehaves: truncated and forged tokens, a ticket for
another service, a security layer that was not offered, an altered
security layer answer, another authorization identity, "*" and an
over-long response in the middle of an exchange.  Also: CAPA and AUTH
list GSSAPI only with a keytab, kerberos-service, a principal with no
local user, auth-file, the log line, and no key of the keytab nor the
ticket's session key in any popsepd process after a login.
"""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import popseptest as P  # noqa: E402

P.need_root()
t = P.Test("gssapi")

REALM = "POPSEP.TEST"
USER = "popsep-e2e-gss%d" % os.getpid()
USER_PW = "gss-user-pw-1"      # kadmin.local -q splits at blanks
NOLOCAL = "popsep-e2e-gssnone"      # a principal with no system user
HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(HERE, "gss_client.py")
SYS_PYTHON = "/usr/bin/python3"
MSGS = [P.message(1, b"one", b"first body\n"),
        P.message(2, b"two", b"second\n.dotted line\nFrom inside\n")]


class KDC:
    """krb5kdc in the foreground on a random loopback port, stopped by
    PID at exit; every file in one temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="popsep-e2e-krb-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        t.cleanup(self.cleanup)
        self.proc = None
        self.port = P.free_ports(1)[0]
        self.conf = self.path("krb5.conf")
        self.ccache = "FILE:" + self.path("ccache")
        self.env = {"KRB5_CONFIG": self.conf,
                    "KRB5_KDC_PROFILE": self.path("kdc.conf"),
                    "KRB5CCNAME": self.ccache,
                    "KRB5_KTNAME": "FILE:" + self.path("default.keytab"),
                    "KRB5RCACHEDIR": self.dir}
        self.write(self.conf, """[libdefaults]
    default_realm = %(r)s
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1
[realms]
    %(r)s = {
        kdc = 127.0.0.1:%(p)d
    }
[domain_realm]
    localhost = %(r)s
""" % {"r": REALM, "p": self.port})
        self.write(self.path("kdc.conf"), """[kdcdefaults]
    kdc_listen = 127.0.0.1:%(p)d
    kdc_tcp_listen = 127.0.0.1:%(p)d
[realms]
    %(r)s = {
        database_name = %(d)s/principal
        key_stash_file = %(d)s/stash
        acl_file = %(d)s/kadm5.acl
        max_life = 1h
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }
[logging]
    kdc = FILE:%(d)s/kdc.log
""" % {"r": REALM, "p": self.port, "d": self.dir})
        self.write(self.path("kadm5.acl"), "")

    def path(self, name):
        return os.path.join(self.dir, name)

    @staticmethod
    def write(path, text):
        with open(path, "w") as f:
            f.write(text)

    def run(self, cmd, stdin=None, env=None):
        e = dict(os.environ, **self.env)
        e.update(env or {})
        return P.run(cmd, input=stdin.encode() if stdin else None,
                     stdin=None if stdin else subprocess.DEVNULL, env=e,
                     timeout=60)

    def admin(self, query):
        r = self.run(["kadmin.local", "-r", REALM, "-q", query])
        if r.returncode != 0 or b"rror" in r.stderr or \
                b"usage:" in r.stdout + r.stderr:
            raise RuntimeError("kadmin.local %s: %s" % (query, r.stderr))

    def start(self):
        """None, or why the KDC could not start."""
        for prog in ("krb5kdc", "kdb5_util", "kadmin.local", "kinit"):
            if not P.have(prog):
                return "%s is not installed" % prog
        r = self.run(["kdb5_util", "create", "-s", "-r", REALM, "-P",
                      "popsep-e2e-master"])
        if r.returncode != 0:
            return "kdb5_util create: %s" % r.stderr.decode()[-300:]
        e = dict(os.environ, **self.env)
        self.proc = subprocess.Popen(
            ["krb5kdc", "-n", "-r", REALM], env=e,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.path("krb5kdc.err"), "wb"),
            start_new_session=True)
        if not P.wait_for(lambda: P.listening(self.port) or
                          self.proc.poll() is not None, 10) or \
                self.proc.poll() is not None:
            return "krb5kdc did not start: %s" % open(
                self.path("krb5kdc.err")).read()[-300:]
        return None

    def keytab(self, name, *principals):
        path = self.path(name)
        for p in principals:
            self.admin("ktadd -k %s %s" % (path, p))
        return path

    def client_env(self, ccache=None):
        """A client's environment: the realm and a ticket, no keytab."""
        e = dict(os.environ, **self.env)
        e.pop("KRB5_KTNAME")
        e["KRB5CCNAME"] = ccache or self.ccache
        return e

    def kinit(self, user, password, ccache=None):
        r = self.run(["kinit", user], stdin=password + "\n",
                     env={"KRB5CCNAME": ccache or self.ccache})
        return r.returncode == 0, r.stderr

    def cleanup(self):
        P.stop_process(self.proc)
        if not os.environ.get("POPSEP_E2E_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


def keytab_keys(kdc, path):
    """The key bytes of every entry of a keytab, from klist -K."""
    r = kdc.run(["klist", "-k", "-K", "-e", path])
    return [bytes.fromhex(h) for h in
            re.findall(r"\(0x([0-9a-f]{32,})\)", r.stdout.decode())]


def ccache_session_keys(path):
    """The session keys of a FILE ccache (format 0x0504)."""
    data = open(path, "rb").read()
    pos = [0]

    def take(n):
        b = data[pos[0]:pos[0] + n]
        if len(b) != n:
            raise ValueError("short ccache")
        pos[0] += n
        return b

    def u16():
        return struct.unpack(">H", take(2))[0]

    def u32():
        return struct.unpack(">I", take(4))[0]

    def octets():
        return take(u32())

    def principal():
        u32()
        n = u32()
        octets()
        for _ in range(n):
            octets()

    if u16() != 0x0504:
        raise ValueError("not a version 4 ccache")
    take(u16())
    principal()
    keys = []
    while pos[0] < len(data):
        principal()
        principal()
        u16()
        keys.append(octets())
        take(16 + 1 + 4)
        for _ in range(u32()):
            u16()
            octets()
        for _ in range(u32()):
            u16()
            octets()
        octets()
        octets()
    return [k for k in keys if len(k) >= 16]


def gss_client(kdc, srv, attempts, authzid=None, ccache=None, hold=False):
    cmd = [SYS_PYTHON, CLIENT, str(srv.port), attempts]
    if authzid is not None:
        cmd.append(authzid)
    env = kdc.client_env(ccache)
    if hold:
        return subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    r = P.run(cmd, env=env, timeout=90)
    try:
        return json.loads(r.stdout.decode().splitlines()[-1])
    except (ValueError, IndexError):
        return ["client failed: " + r.stderr.decode()[-800:]]


def server(kdc, name, keytab, options=None, cleartext="tls"):
    opts = {"keytab": keytab} if keytab else {}
    opts.update(options or {})
    srv = P.Server(t, name, cleartext=cleartext, options=opts,
                   env={"KRB5_CONFIG": kdc.conf, "KRB5RCACHEDIR": kdc.dir})
    srv.add_system_user(USER, USER_PW)
    srv.mbox(USER, MSGS)
    return srv.start()


def sasl_lines(c):
    return [l for l in c.capa() if l.startswith("SASL")]


def auth_list(c):
    r = c.cmd("AUTH")
    return r, (c.multi().decode().split("\r\n")[:-1]
               if r.startswith(b"+OK") else [])


def capa_and_list(kdc, keytab):
    """GSSAPI is offered only with a keytab, beside PLAIN when that is."""
    off = server(kdc, "off", None, cleartext="always")
    c = off.connect()
    t.eq(sasl_lines(c), ["SASL PLAIN"], "capa-no-keytab")
    t.eq(auth_list(c)[1], ["PLAIN"], "auth-list-no-keytab")
    r = c.cmd("AUTH GSSAPI")
    t.check(r.startswith(b"-ERR Unknown authentication mechanism"),
            "auth-gssapi-no-keytab-unknown", r)
    c.cmd("QUIT")
    on = server(kdc, "on", keytab, cleartext="always")
    c = on.connect()
    t.eq(sasl_lines(c), ["SASL PLAIN GSSAPI"], "capa-plain-and-gssapi")
    t.eq(auth_list(c)[1], ["PLAIN", "GSSAPI"], "auth-list-plain-gssapi")
    c.cmd("QUIT")
    c.close()
    tls = server(kdc, "tlsonly", keytab)
    c = tls.connect()
    caps = c.capa()
    t.check("SASL GSSAPI" in caps and "USER" not in caps,
            "capa-gssapi-without-tls", caps)
    t.eq(auth_list(c)[1], ["GSSAPI"], "auth-list-gssapi-without-tls")
    c.cmd("QUIT")
    c.close()
    return tls


def real_clients(kdc, srv):
    """curl and fetchmail log in with the ticket, without TLS."""
    d = os.path.join(srv.dir, "clients")
    os.mkdir(d)
    env = kdc.client_env()
    box = srv.mbox(USER, MSGS)
    mark = srv.log_mark()
    if not P.have("curl"):
        t.skip("curl-gssapi", "curl is not installed")
    else:
        for i in (0, 1):
            out = os.path.join(d, "curl%d" % i)
            r = P.run(["curl", "-sS", "-u", ":", "--login-options",
                       "AUTH=GSSAPI", "pop3://localhost:%d/%d" %
                       (srv.port, i + 1), "-o", out], env=env)
            got = open(out, "rb").read() if os.path.exists(out) else b""
            t.eq(got, box.expected(i), "curl-gssapi-retr-%d" % (i + 1))
            if r.returncode != 0:
                t.fail("curl-gssapi-rc-%d" % (i + 1), r.stderr)
    log = srv.log_since(mark)
    t.check(re.search(r'authenticated "%s" \(gssapi\) from 127\.0\.0\.1'
                      % USER, log), "log-names-gssapi", log[-1500:])
    t.check(re.search(r'principal "%s@%s" is local user "%s"' %
                      (USER, REALM, USER), log), "log-names-principal",
            log[-1500:])
    if not P.have("fetchmail"):
        t.skip("fetchmail-gssapi", "fetchmail is not installed")
        return
    r, got = P.fetchmail(d, (
        "poll localhost with proto POP3 port %d auth gssapi\n"
        "  user \"%s\" is root here\n" % (srv.port, USER)), env)
    t.check(r.returncode == 0 and got.count(b"Subject: ") == 2 and
            b".dotted line" in got, "fetchmail-gssapi",
            (r.stdout + r.stderr)[-1500:])


def ok_login(lines):
    return any(l.startswith("+OK %s has 2 visible" % USER) for l in lines)


def refused(lines, n=1):
    """n "-ERR [AUTH]" replies, each followed by a working CAPA."""
    errs = [i for i, l in enumerate(lines) if l.startswith("-ERR [AUTH]")]
    return len(errs) == n and all(
        i + 1 < len(lines) and lines[i + 1].startswith("+OK Capability")
        for i in errs)


def misbehaving(kdc, srv):
    """Every broken exchange gets -ERR and the session goes on."""
    lines = gss_client(kdc, srv, "good")
    t.check(ok_login(lines), "raw-client-good", lines)
    lines = gss_client(kdc, srv, "good", authzid=USER)
    t.check(ok_login(lines), "authzid-same-user", lines)
    for how in ("truncate", "garbage", "wrong-service", "layer-integrity",
                "forge-wrap", "extra"):
        mark = srv.log_mark()
        lines = gss_client(kdc, srv, how + ",good")
        t.check(refused(lines) and ok_login(lines),
                how + "-refused-then-good", lines)
        t.check("GSSAPI credentials not accepted" in srv.log_since(mark),
                how + "-logged", srv.log_since(mark)[-800:])
    lines = gss_client(kdc, srv, "good", authzid="root")
    t.check(refused(lines) and not ok_login(lines), "authzid-other-refused",
            lines)
    lines = gss_client(kdc, srv, "cancel-mid,good")
    t.check(lines.count("-ERR AUTH command cancelled by the client") == 1
            and ok_login(lines), "cancel-mid-exchange", lines)
    lines = gss_client(kdc, srv, "long-mid,good")
    t.check("-ERR [AUTH] SASL response too long" in lines and
            ok_login(lines), "long-response-mid-exchange", lines)
    lines = gss_client(kdc, srv, ",".join(["cancel-mid"] * 10 + ["good"]))
    t.check(lines.count("-ERR AUTH command cancelled by the client") == 10
            and "-ERR [AUTH] Too many GSSAPI attempts" in lines and
            not ok_login(lines), "ten-exchanges-per-connection", lines[-20:])
    lines = gss_client(kdc, srv, "garbage,garbage,garbage,good")
    t.check(lines.count("-ERR [AUTH] GSSAPI credentials not accepted.") == 3
            and lines[-1] == "(closed)", "three-failures-close", lines)


def raw_bounds(srv):
    """Cancel and line bounds without a client library."""
    c = srv.connect()
    t.eq(c.cmd("AUTH GSSAPI"), b"+ ", "first-challenge-empty")
    t.eq(c.cmd("*"), b"-ERR AUTH command cancelled by the client",
         "cancel-first")
    t.eq(c.cmd("AUTH GSSAPI"), b"+ ", "again-after-cancel")
    r = c.cmd(b"A" * 13000)
    t.eq(r, b"-ERR [AUTH] SASL response too long", "token-over-12288")
    t.check(c.capa()[:1] == ["TOP"], "session-goes-on-after-long", r)
    t.eq(c.cmd("AUTH GSSAPI"), b"+ ", "forged-start")
    r = c.cmd("YWJjZA==")
    t.eq(r, b"-ERR [AUTH] GSSAPI credentials not accepted.", "forged-token")
    t.eq(c.cmd("AUTH GSSAPI"), b"+ ", "bad-base64-start")
    t.eq(c.cmd("abc"), b"-ERR [AUTH] Invalid base64 in the SASL response",
         "bad-base64")
    t.check(c.capa()[:1] == ["TOP"], "session-goes-on")
    c.cmd("QUIT")
    c.close()


def no_ticket(kdc, srv):
    """A client without a ticket cannot log in; the server stays."""
    env = kdc.client_env("FILE:" + kdc.path("empty-ccache"))
    mark = srv.log_mark()
    r = P.run(["curl", "-sS", "-u", ":", "--login-options", "AUTH=GSSAPI",
               "pop3://localhost:%d/1" % srv.port], env=env)
    t.check(r.returncode != 0, "curl-no-ticket-fails", r.stdout)
    t.check("authenticated" not in srv.log_since(mark), "no-ticket-no-login",
            srv.log_since(mark)[-800:])
    lines = gss_client(kdc, srv, "good")
    t.check(ok_login(lines), "server-fine-after-no-ticket", lines)


def service_option(kdc, keytab):
    """kerberos-service names the principal the acceptor takes."""
    srv = server(kdc, "imapsvc", keytab, {"kerberos-service": "imap"})
    lines = gss_client(kdc, srv, "good")
    t.check(refused(lines) and not ok_login(lines),
            "kerberos-service-imap-refuses-pop", lines)
    lines = gss_client(kdc, srv, "wrong-service")
    t.check(ok_login(lines), "kerberos-service-imap-takes-imap", lines)
    srv.stop()


def account_rules(kdc, keytab):
    """A principal with no local user; auth-file applies to GSSAPI."""
    srv = server(kdc, "rules", keytab)
    cc = "FILE:" + kdc.path("ccache-nolocal")
    ok, err = kdc.kinit(NOLOCAL, "nolocal-pw", cc)
    t.check(ok, "kinit-nolocal", err)
    lines = gss_client(kdc, srv, "good", ccache=cc)
    t.check(refused(lines) and not ok_login(lines),
            "principal-without-user-refused", lines)
    srv.stop()
    allow = os.path.join(kdc.dir, "auth-file")
    with open(allow, "w") as f:
        f.write("popsep-e2e-someone-else\n")
    srv = server(kdc, "authfile", keytab, {"auth-file": allow})
    lines = gss_client(kdc, srv, "good")
    t.check(refused(lines) and not ok_login(lines),
            "auth-file-applies", lines)
    t.check('is not in auth-file' in srv.read_log(), "auth-file-logged")
    srv.stop()


def key_memory(kdc, srv, keytab):
    """While a GSSAPI session is open, no key of the keytab and no
    session key of the ticket is in any popsepd process."""
    keys = keytab_keys(kdc, keytab)
    t.check(len(keys) >= 2, "keytab-keys-found", keys)
    p = gss_client(kdc, srv, "good,hold", hold=True)
    first = json.loads(p.stdout.readline().decode() or "[]")
    try:
        t.check(ok_login(first), "hold-login", first)
        sess = ccache_session_keys(kdc.path("ccache"))
        t.check(sess, "session-keys-found")
        wins = [("keytab-%d" % i, k) for i, k in enumerate(keys)]
        wins += [("session-%d" % i, k) for i, k in enumerate(sess)]
        # The scanner finds them where they are: in this process.
        t.eq(len(P.scan_memory(os.getpid(), wins)), len(wins),
             "scanner-finds-keys-here")
        procs, found = P.scan_daemon(srv, wins)
        t.check(len(procs) >= 4 and not found, "no-keys-in-memory",
                repr((procs, found)))
    finally:
        p.stdin.close()
        p.wait(30)


def main():
    kdc = KDC()
    why = kdc.start()
    if why:
        t.skip("gssapi", "the KDC cannot start: " + why)
        return
    # etc/deps.sh installs it; without it the checks of gss_client fail.
    t.check(os.path.exists(SYS_PYTHON) and P.run(
        [SYS_PYTHON, "-c", "import gssapi"]).returncode == 0,
        "python3-gssapi-installed", "run make deps")
    P.create_system_user(t, USER, USER_PW)
    kdc.admin("addprinc -pw %s %s" % (USER_PW, USER))
    kdc.admin("addprinc -pw nolocal-pw %s" % NOLOCAL)
    kdc.admin("addprinc -randkey pop/localhost")
    kdc.admin("addprinc -randkey imap/localhost")
    keytab = kdc.keytab("pop.keytab", "pop/localhost", "imap/localhost")
    os.chmod(keytab, 0o600)
    ok, err = kdc.kinit(USER, USER_PW)
    if not t.check(ok, "kinit", err):
        return
    srv = t.run("capa", capa_and_list, kdc, keytab)
    if srv is None:
        return
    t.run("real-clients", real_clients, kdc, srv)
    t.run("misbehaving", misbehaving, kdc, srv)
    t.run("raw-bounds", raw_bounds, srv)
    t.run("no-ticket", no_ticket, kdc, srv)
    t.run("key-memory", key_memory, kdc, srv, keytab)
    srv.check_log_clean("log-clean")
    t.run("service-option", service_option, kdc, keytab)
    t.run("account-rules", account_rules, kdc, keytab)


main()
t.done()
