#!/usr/bin/env python3
"""
Authentication through the real daemon, judged by the replies and the
logs: APOP (the greeting's stamp, digests right, wrong, replayed and
repeated, secrets set with the real popauth tool, real clients: fetchmail,
getmail and Python's poplib), SASL PLAIN (RFC 5034 and RFC 4616: the
initial response, a continuation, "*", bad base64, the authorization
identity, the line bound, mpop and curl), CAPA and AUTH with no argument,
Qpopper's account policies (auth-file, nonauth-file, downcase-user,
trim-domain, first-valid-uid), PAM account management (an expired
account, an expired password, a module that changes PAM_USER), and the
passwd-file hashes of other users, which must never be in the memory of
a session's processes.
"""

import base64
import hashlib
import os
import poplib
import pwd
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import popseptest as P  # noqa: E402

P.need_root()
t = P.Test("auth")
POPAUTH = os.path.join(os.path.dirname(P.POPSEPD), "popauth")

VU, VU_PW, VU_SEC = "popsep-e2e-vu", "vu-pass 1", "vu-apop-secret"
NOSEC, NOSEC_PW = "popsep-e2e-nosec", "nosec-pass"
SYS, SYS_PW, SYS_SEC = "popsep-e2e-apam", "apam pass 1", "apam-apop-secret"
MSGS = [P.message(1, b"one", b"first\n"), P.message(2, b"two", b"second\n")]
SECRETS = [VU_PW, VU_SEC, NOSEC_PW, SYS_PW, SYS_SEC]

P.create_system_user(t, SYS, SYS_PW)


def b64(data):
    return base64.b64encode(data).decode()


def digest(stamp, secret):
    return hashlib.md5(stamp + secret.encode()).hexdigest()


def stamp_of(greeting):
    m = re.search(rb"(<\d+\.\d+\.[0-9a-f]{16}@[^<>\s]+>)$", greeting)
    return m.group(1) if m else None


def popauth(srv, args, secret=None):
    return P.run([POPAUTH, "-f", srv.conf] + args,
                 input=(secret + "\n").encode() if secret else b"",
                 stdin=None)


def apop_server(name, options=None, cleartext="always"):
    opts = {"apop": True}
    opts.update(options or {})
    srv = P.Server(t, name, cleartext=cleartext, options=opts)
    srv.options["popauth-db"] = os.path.join(srv.dir, "popauth", "pop.auth")
    srv.add_virtual_user(VU, VU_PW)
    srv.add_virtual_user(NOSEC, NOSEC_PW)
    srv.add_system_user(SYS, SYS_PW)
    srv.mbox(VU, MSGS)
    srv.mbox(NOSEC, MSGS)
    srv.mbox(SYS, MSGS)
    srv.write_config()
    r = popauth(srv, ["-init"])
    t.check(r.returncode == 0, name + "-popauth-init", r.stderr)
    for user, sec in ((VU, VU_SEC), (SYS, SYS_SEC)):
        r = popauth(srv, ["-user", user], sec)
        t.check(r.returncode == 0, "%s-popauth-user-%s" % (name, user),
                r.stderr)
    return srv.start()


def apop_login(srv, user, secret, upper=False):
    c = srv.connect()
    st = stamp_of(c.greeting)
    d = digest(st or b"", secret)
    return c, c.cmd("APOP %s %s" % (user, d.upper() if upper else d)), d


# ------------------------------------------------------------------ APOP

def apop():
    srv = apop_server("apop")
    stamps = set()
    for _ in range(20):
        c = srv.connect()
        stamps.add(stamp_of(c.greeting))
        c.close()
    t.check(None not in stamps and len(stamps) == 20,
            "greeting-stamps-well-formed-and-unique", repr(stamps))
    pid = stamp_of(srv.connect().greeting)
    t.check(pid is not None and pid.startswith(b"<") and b"@" in pid,
            "stamp-form-pid.clock.random@host", repr(pid))

    for user, sec in ((VU, VU_SEC), (SYS, SYS_SEC)):
        c, r, d = apop_login(srv, user, sec)
        t.check(r.startswith(b"+OK %s has 2 visible messages" %
                             user.encode()), "apop-login-" + user, r)
        t.check(c.cmd("STAT").startswith(b"+OK 2 "), "apop-stat-" + user)
        t.check(c.cmd("QUIT").startswith(b"+OK"), "apop-quit-" + user)
        c.close()
        # The same digest on a new connection: another stamp, refused.
        c = srv.connect()
        r = c.cmd("APOP %s %s" % (user, d))
        t.eq(r, b'-ERR [AUTH] APOP digest supplied for "%s" is incorrect.'
             % user.encode(), "apop-replay-refused-" + user)
        c.close()

    c, r, _ = apop_login(srv, VU, VU_SEC, upper=True)
    t.check(r.startswith(b"+OK"), "apop-upper-case-digest", r)
    c.close()

    wrong = []
    for user, sec in ((VU, "not-the-secret"), (NOSEC, "anything-at-all"),
                      ("popsep-e2e-nobody", "anything-at-all")):
        c, r, _ = apop_login(srv, user, sec)
        wrong.append(r.replace(user.encode(), b"U"))
        # One APOP per connection; USER/PASS still works after it.
        r2 = c.cmd("APOP %s %s" % (VU, digest(stamp_of(c.greeting),
                                               VU_SEC)))
        t.eq(r2, b"-ERR [AUTH] One APOP attempt per connection",
             "apop-second-attempt-refused-" + user)
        if user == VU:
            t.check(c.cmd("USER " + VU).startswith(b"+OK") and
                    c.cmd("PASS " + VU_PW).startswith(b"+OK"),
                    "user-pass-after-failed-apop")
        c.close()
    t.check(len(set(wrong)) == 1 and wrong[0].startswith(b"-ERR [AUTH] "),
            "apop-wrong-digest-unknown-user-no-secret-same-reply",
            repr(wrong))

    c = srv.connect()
    for bad in ("0123", "z" * 32, "0" * 33):
        t.eq(c.cmd("APOP %s %s" % (VU, bad)),
             b"-ERR [AUTH] Invalid APOP digest", "apop-malformed-%d" %
             len(bad))
    t.eq(c.cmd("APOP a/b " + "0" * 32), b"-ERR [AUTH] Invalid user name",
         "apop-bad-name")
    t.check(c.cmd("CAPA").startswith(b"+OK"), "session-goes-on")
    c.close()

    real_clients(srv)
    log = srv.read_log()
    t.check(not [s for s in SECRETS if s in log],
            "no-secret-in-the-log", [s for s in SECRETS if s in log])
    t.check('authenticated "%s" (apop)' % VU in log, "log-names-apop")
    srv.check_log_clean("apop-log-clean")


def real_clients(srv):
    # poplib's apop() computes the digest from the greeting itself.
    p = poplib.POP3("127.0.0.1", srv.port, timeout=30)
    r = p.apop(VU, VU_SEC)
    t.check(r.startswith(b"+OK"), "poplib-apop", r)
    t.eq(p.stat()[0], 2, "poplib-apop-stat")
    p.quit()

    d = os.path.join(srv.dir, "fetchmail")
    os.mkdir(d)
    r, got = P.fetchmail(d, (
        "poll localhost with proto APOP port %d\n"
        "  user \"%s\" there with password \"%s\" is root here\n" %
        (srv.port, VU, VU_SEC)))
    t.check(r.returncode == 0 and got.count(b"Subject: ") == 2,
            "fetchmail-apop", (r.stdout + r.stderr)[-1500:])

    if not P.have("getmail"):
        t.skip("getmail-apop", "getmail is not installed")
        return
    g = os.path.join(srv.dir, "getmail")
    os.makedirs(g)
    mbox = os.path.join(g, "mbox")
    open(mbox, "wb").close()
    nobody = pwd.getpwnam("nobody")
    os.chown(mbox, nobody.pw_uid, nobody.pw_gid)
    P.write_file(os.path.join(g, "getmailrc"), (
        "[retriever]\ntype = SimplePOP3Retriever\nserver = 127.0.0.1\n"
        "port = %d\nusername = %s\npassword = %s\nuse_apop = True\n"
        "[destination]\ntype = Mboxrd\npath = %s\nuser = nobody\n"
        "[options]\nread_all = true\ndelete = false\nverbose = 0\n" %
        (srv.port, VU, VU_SEC, mbox)).encode(), 0, 0, 0o600)
    r = P.run(["getmail", "--getmaildir", g, "--rcfile", "getmailrc"])
    got = open(mbox, "rb").read()
    t.check(r.returncode == 0 and got.count(b"Subject: ") == 2,
            "getmail-apop", (r.stdout + r.stderr)[-1500:])


def apop_off():
    srv = P.Server(t, "noapop", cleartext="always")
    srv.add_virtual_user(VU, VU_PW)
    srv.mbox(VU, MSGS)
    srv.start()
    c = srv.connect()
    t.eq(c.greeting, P.GREETING, "no-stamp-without-apop")
    t.eq(c.cmd("APOP %s %s" % (VU, "0" * 32)),
         b'-ERR Unknown command: "APOP"', "apop-unknown-when-off")
    c.close()


# ------------------------------------------------------------------ SASL

def capa_lines(c):
    head, body = c.multi_cmd("CAPA")
    return body.decode().split("\r\n")


def sasl():
    srv = P.Server(t, "sasl", cleartext="always")
    srv.add_virtual_user(VU, VU_PW)
    srv.add_system_user(SYS, SYS_PW)
    box = srv.mbox(VU, MSGS)
    srv.mbox(SYS, MSGS)
    srv.start()
    c = srv.connect()
    caps = capa_lines(c)
    for tag in ("USER", "SASL PLAIN", "RESP-CODES", "AUTH-RESP-CODE",
                "PIPELINING", "UIDL", "TOP"):
        t.check(tag in caps, "capa-has-" + tag.replace(" ", "-"), caps)
    t.check(c.cmd("AUTH").startswith(b"+OK"), "auth-alone-ok")
    t.eq(c.multi(), b"PLAIN\r\n", "auth-alone-lists-plain")
    t.eq(c.cmd("AUTH twinkie"),
         b"-ERR Unknown authentication mechanism: twinkie",
         "unknown-mechanism")
    t.eq(c.cmd("AUTH PLAIN *"), b"-ERR AUTH command cancelled by the client",
         "cancel-initial")
    t.eq(c.cmd("AUTH PLAIN"), b"+ ", "continuation-challenge")
    t.eq(c.cmd("*"), b"-ERR AUTH command cancelled by the client",
         "cancel-continuation")
    c.cmd("AUTH PLAIN")
    t.eq(c.cmd("AG FhAHB3"), b"-ERR [AUTH] Invalid base64 in the SASL "
         b"response", "bad-base64-space-in-continuation")
    for label, resp in (("no-padding", b64(b"\0u\0pw")[:-1]),
                        ("bad-char", "AGFhAHB3!!!!")):
        t.eq(c.cmd("AUTH PLAIN " + resp),
             b"-ERR [AUTH] Invalid base64 in the SASL response",
             "bad-base64-" + label)
    for label, msg in (("one-nul", b"\0" + VU.encode()),
                       ("three-nuls", b"\0%s\0%s\0" % (VU.encode(),
                                                       VU_PW.encode())),
                       ("empty-user", b"\0\0pw"),
                       ("empty-pass", b"\0%s\0" % VU.encode())):
        t.eq(c.cmd("AUTH PLAIN " + b64(msg)),
             b"-ERR [AUTH] Malformed SASL PLAIN response",
             "malformed-plain-" + label)
    t.eq(c.cmd("AUTH PLAIN ="), b"-ERR [AUTH] Malformed SASL PLAIN response",
         "empty-initial-response")
    t.eq(c.cmd("AUTH PLAIN " + b64(b"someone-else\0%s\0%s" %
                                   (VU.encode(), VU_PW.encode()))),
         b"-ERR [AUTH] Authorization identity not permitted",
         "authzid-other-refused")
    # A response longer than SASL_LINE_MAX: refused, the session goes on.
    t.eq(c.cmd("AUTH PLAIN"), b"+ ", "long-continuation-challenge")
    t.eq(c.cmd("A" * 13000), b"-ERR [AUTH] SASL response too long",
         "sasl-line-bound")
    t.check(c.cmd("CAPA").startswith(b"+OK"), "session-goes-on-after-sasl")
    c.close()

    c = srv.connect()
    t.eq(c.cmd("AUTH PLAIN " + b64(b"\0%s\0wrong" % VU.encode())),
         b'-ERR [AUTH] Password supplied for "%s" is incorrect.' %
         VU.encode(), "plain-wrong-password")
    r = c.cmd("AUTH PLAIN " + b64(b"\0%s\0%s" % (VU.encode(),
                                                 VU_PW.encode())))
    t.check(r.startswith(b"+OK %s has 2" % VU.encode()),
            "plain-initial-response", r)
    caps = capa_lines(c)
    t.check("USER" not in caps and "SASL PLAIN" not in caps,
            "capa-after-login-no-user-no-sasl", caps)
    c.cmd("QUIT")
    c.close()
    c = srv.connect()
    t.eq(c.cmd("AUTH PLAIN"), b"+ ", "plain-continuation")
    r = c.cmd(b64(b"%s\0%s\0%s" % (SYS.encode(), SYS.encode(),
                                   SYS_PW.encode())))
    t.check(r.startswith(b"+OK %s has 2" % SYS.encode()),
            "plain-continuation-pam-authzid-same", r)
    c.cmd("QUIT")
    c.close()

    d = os.path.join(srv.dir, "mpop")
    os.mkdir(d)
    r = P.run(["mpop", "-C", "/dev/null", "--host=127.0.0.1",
               "--port=%d" % srv.port, "--tls=off", "--auth=plain",
               "--user=" + VU, "--passwordeval=echo '%s'" % VU_PW,
               "--delivery=mbox," + os.path.join(d, "mbox"), "--keep=on",
               "--uidls-file=" + os.path.join(d, "uidls")],
              env=dict(os.environ, HOME=d), cwd=d)
    t.check(r.returncode == 0, "mpop-sasl-plain", r.stdout + r.stderr)
    out = os.path.join(d, "curl")
    r = P.run(["curl", "-sS", "--login-options", "AUTH=PLAIN", "-u",
               "%s:%s" % (VU, VU_PW), "pop3://127.0.0.1:%d/1" % srv.port,
               "-o", out])
    t.check(r.returncode == 0 and os.path.exists(out) and
            open(out, "rb").read() == box.expected(0),
            "curl-sasl-plain", r.stderr)
    log = srv.read_log()
    t.check(mark_free(log), "sasl-no-secret-in-log")
    srv.check_log_clean("sasl-log-clean")


def mark_free(log):
    return not [s for s in SECRETS + [b64(b"\0%s\0%s" % (VU.encode(),
                                                         VU_PW.encode()))]
                if s in log]


def sasl_needs_tls():
    srv = P.Server(t, "sasltls")            # clear-text-password = tls
    srv.add_virtual_user(VU, VU_PW)
    srv.mbox(VU, MSGS)
    srv.start()
    c = srv.connect()
    caps = capa_lines(c)
    t.check("SASL PLAIN" not in caps and "USER" not in caps and
            "AUTH-RESP-CODE" in caps, "capa-plain-port-no-plain", caps)
    t.check(c.cmd("AUTH").startswith(b"+OK"), "auth-alone-plain-port")
    t.eq(c.multi(), b"", "auth-alone-lists-nothing-before-tls")
    t.check(c.cmd("AUTH PLAIN " + b64(b"\0%s\0%s" % (
        VU.encode(), VU_PW.encode()))).startswith(
            b"-ERR [AUTH] Plaintext authentication is disabled"),
        "plain-refused-before-tls")
    c.stls()
    t.check("SASL PLAIN" in capa_lines(c), "capa-plain-after-stls")
    r = c.cmd("AUTH PLAIN " + b64(b"\0%s\0%s" % (VU.encode(),
                                                 VU_PW.encode())))
    t.check(r.startswith(b"+OK"), "plain-after-stls", r)
    c.close()


# ------------------------------------------------------------------ policies

def policies():
    a, b, c_, up = ("popsep-e2e-pa", "popsep-e2e-pb", "popsep-e2e-pc",
                    "popsep-e2e-low")
    srv = P.Server(t, "policy", cleartext="always")
    lists = {"auth-file": "# who may log in\n  %s \n%s\n%s\n" % (a, c_, up),
             "nonauth-file": "%s\n" % c_}
    for k, text in lists.items():
        path = os.path.join(srv.dir, k)
        P.write_file(path, text.encode(), 0, 0, 0o600)
        srv.options[k] = path
    srv.options["downcase-user"] = True
    srv.options["trim-domain"] = True
    for u in (a, b, c_, up):
        srv.add_virtual_user(u, u + "-pw")
        srv.mbox(u, MSGS if u != a else MSGS[:1])
    srv.start()

    def tries(user, pw):
        c = srv.connect()
        c.cmd("USER " + user)
        r = c.cmd("PASS " + pw)
        c.close()
        return r
    t.check(tries(a, a + "-pw").startswith(b"+OK"), "auth-file-listed")
    refused = b'-ERR [AUTH] Password supplied for "%s" is incorrect.'
    t.eq(tries(b, b + "-pw"), refused % b.encode(), "auth-file-not-listed")
    t.eq(tries(c_, c_ + "-pw"), refused % c_.encode(), "nonauth-file-listed")
    # The mailbox of a (one message) is the one served.
    r = tries(a.upper(), a + "-pw")
    t.check(r.startswith(b"+OK %s has 1 visible message " %
                         a.upper().encode()), "downcase-user", r)
    r = tries(a + "@example.org", a + "-pw")
    t.check(r.startswith(b"+OK %s@example.org has 1 visible message " %
                         a.encode()), "trim-domain", r)
    t.check(tries(a.upper(), "wrong").startswith(b"-ERR [AUTH]"),
            "downcase-user-still-checks-the-password")
    log = srv.read_log()
    t.check('"%s" is not in auth-file' % b in log and
            '"%s" is in nonauth-file' % c_ in log, "policy-refusals-logged")

    # first-valid-uid: a PAM user below it is refused, with a log line.
    uid = pwd.getpwnam(SYS).pw_uid
    low = P.Server(t, "lowuid", cleartext="always",
                   options={"first-valid-uid": str(uid + 1)})
    low.add_system_user(SYS, SYS_PW)
    low.mbox(SYS, MSGS)
    low.start()
    c = low.connect()
    c.cmd("USER " + SYS)
    t.eq(c.cmd("PASS " + SYS_PW),
         b'-ERR [AUTH] Password supplied for "%s" is incorrect.' %
         SYS.encode(), "first-valid-uid-refused")
    c.close()
    t.check(P.wait_for(lambda: "below first-valid-uid" in low.read_log()),
            "first-valid-uid-logged")


# ------------------------------------------------------------------ PAM

def pam_accounts():
    srv = P.Server(t, "pam", cleartext="always", options={"apop": True})
    srv.options["popauth-db"] = os.path.join(srv.dir, "popauth", "pop.auth")
    srv.write_config()
    popauth(srv, ["-init"])
    popauth(srv, ["-user", SYS], SYS_SEC)
    pam_server(srv, "popsep-e2e-accounts", "auth required pam_unix.so nodelay\n")

    def tries(pw):
        c = srv.connect()
        c.cmd("USER " + SYS)
        r = c.cmd("PASS " + pw)
        c.close()
        return r
    t.check(tries(SYS_PW).startswith(b"+OK"), "pam-account-ok")
    P.run(["chage", "-E", "0", SYS], check=True)
    t.eq(tries(SYS_PW), b'-ERR [AUTH] The account "%s" is locked or '
         b'expired.' % SYS.encode(), "pam-account-expired")
    t.eq(tries("wrong"), b'-ERR [AUTH] Password supplied for "%s" is '
         b'incorrect.' % SYS.encode(), "pam-expired-wrong-password-generic")
    c, r, _ = apop_login(srv, SYS, SYS_SEC)
    t.eq(r, b'-ERR [AUTH] The account "%s" is locked or expired.' %
         SYS.encode(), "pam-account-expired-apop")
    c.close()
    P.run(["chage", "-E", "-1", "-d", "0", SYS], check=True)
    t.eq(tries(SYS_PW), b'-ERR [AUTH] The password of "%s" has expired; '
         b'change it, then log in again.' % SYS.encode(),
         "pam-password-expired")
    P.run(["chage", "-d", time.strftime("%Y-%m-%d"), SYS], check=True)
    t.check(tries(SYS_PW).startswith(b"+OK"), "pam-account-ok-again")


RENAME_C = r"""
#include <security/pam_modules.h>
#include <string.h>
int pam_sm_authenticate(pam_handle_t *ph, int f, int argc, const char **argv)
{ (void)f; return argc == 1 ? pam_set_item(ph, PAM_USER, argv[0]) : PAM_AUTH_ERR; }
int pam_sm_setcred(pam_handle_t *ph, int f, int c, const char **v)
{ (void)ph; (void)f; (void)c; (void)v; return PAM_SUCCESS; }
"""


def pam_server(srv, service, auth_lines):
    """Start srv with a PAM service of its own (removed at exit) and the
    PAM user's mailbox."""
    path = "/etc/pam.d/" + service
    with open(path, "w") as f:
        f.write(auth_lines + "account required pam_unix.so\n")
    t.cleanup(os.unlink, path)
    srv.options["pam-service"] = service
    srv.add_system_user(SYS, SYS_PW)
    srv.mbox(SYS, MSGS)
    srv.start()


def pam_user_changed():
    srv = P.Server(t, "rename", cleartext="always")
    src = os.path.join(srv.dir, "pam_rename.c")
    so = os.path.join(srv.dir, "pam_rename.so")
    with open(src, "w") as f:
        f.write(RENAME_C)
    r = P.run(["cc", "-shared", "-fPIC", "-o", so, src, "-lpam"])
    if not t.check(r.returncode == 0, "pam-rename-module-builds", r.stderr):
        return
    pam_server(srv, "popsep-e2e-rename",
               "auth required pam_unix.so nodelay\n"
               "auth required %s root\n" % so)
    c = srv.connect()
    c.cmd("USER " + SYS)
    t.eq(c.cmd("PASS " + SYS_PW), b'-ERR [AUTH] Password supplied for "%s" '
         b'is incorrect.' % SYS.encode(), "pam-user-changed-refused")
    c.close()
    t.check(P.wait_for(lambda: 'PAM changed the user name "%s" to "root"' %
                       SYS in srv.read_log()), "pam-user-changed-logged")


def check_child_channels():
    """A PAM module that waits (pam_exec running sleep) holds the check
    child open: it must hold no socket, so none of the monitor's channels
    to the network child or the key process."""
    srv = P.Server(t, "childfds", cleartext="always")
    pam_server(srv, "popsep-e2e-childfds",
               "auth optional pam_exec.so quiet /bin/sleep 3\n"
               "auth required pam_unix.so nodelay\n")
    c = srv.connect()
    c.cmd("USER " + SYS)
    c.send("PASS %s\r\n" % SYS_PW)

    def sleeper():
        for p in P.descendants(srv.proc.pid):
            try:
                if os.readlink("/proc/%d/exe" % p).endswith("sleep"):
                    return p
            except OSError:
                pass
        return None
    t.check(P.wait_for(lambda: sleeper() is not None, 5), "pam-exec-sleeps")
    child = P.proc_ppid(sleeper() or 0)
    fds = P.proc_fds(child) if child else {}
    mon_fds = P.proc_fds(P.proc_ppid(child)) if child else {}
    socks = sorted(v for v in fds.values() if v.startswith("socket:"))
    t.check(child is not None and any(v.startswith("socket:") for v in
                                      mon_fds.values()) and not socks,
            "check-child-holds-no-channel", repr((fds, mon_fds)))
    t.check(c.line().startswith(b"+OK"), "login-after-the-slow-module")
    c.close()


# ------------------------------------------------------------------ memory

def passwd_file_memory():
    """60 virtual users: while one of them and a PAM user (whose login
    reads the whole file, finding no entry) are logged in, no other
    virtual user's hash is in the memory of any popsepd process."""
    srv = P.Server(t, "hygiene", cleartext="always")
    users = ["popsep-e2e-h%02d" % i for i in range(60)]
    for u in users:
        srv.add_virtual_user(u, u + "-pw")
    srv.add_system_user(SYS, SYS_PW)
    srv.mbox(users[7], MSGS)
    srv.mbox(SYS, MSGS)
    srv.start()
    hashes = {}
    for ln in open(srv.passwd).read().splitlines():
        f = ln.split(":")
        if len(f) == 5:
            hashes[f[0]] = f[1]
    sessions = [srv.login(users[7], tls=False), srv.login(SYS, tls=False)]
    for c in sessions:
        c.cmd("STAT")
    wins = [(u, h.encode()[-24:]) for u, h in hashes.items()
            if u != users[7]]
    procs, found = P.scan_daemon(srv, wins)
    t.check(len(procs) >= 8 and not found, "no-other-users-hashes-in-memory",
            repr((procs, found)))
    for c in sessions:
        c.cmd("QUIT")
        c.close()


# ------------------------------------------------------------------ protocol

def login_delay_and_bounds():
    srv = P.Server(t, "delay", cleartext="always", options={
        "login-delay": "3", "announce-expire": "never"})
    srv.add_virtual_user(VU, VU_PW)
    box = srv.mbox(VU, MSGS)
    srv.start()
    c = srv.connect()
    caps = capa_lines(c)
    t.check("LOGIN-DELAY 3" in caps and "EXPIRE NEVER" in caps,
            "capa-login-delay-and-expire", caps)
    c.cmd("USER " + VU)
    t.check(c.cmd("PASS " + VU_PW).startswith(b"+OK"), "first-login")
    caps = capa_lines(c)
    t.check("LOGIN-DELAY 3" in caps, "capa-login-delay-after-login", caps)
    t.check(c.cmd("DELE 1").startswith(b"+OK") and
            c.cmd("QUIT").startswith(b"+OK"), "first-session-dele-quit")
    c.close()
    before = (open(box.path, "rb").read(), os.stat(box.path).st_mtime_ns)
    c = srv.connect()
    c.cmd("USER " + VU)
    r = c.cmd("PASS " + VU_PW)
    t.check(r.startswith(b"-ERR [LOGIN-DELAY] Logins are 3 seconds apart"),
            "second-login-too-soon", r)
    t.check(c.closed(), "login-delay-closes")
    after = (open(box.path, "rb").read(), os.stat(box.path).st_mtime_ns)
    t.check(before == after, "login-delay-touches-nothing")
    c = srv.connect()
    c.cmd("USER " + VU)
    t.check(c.cmd("PASS wrong").startswith(b"-ERR [AUTH] Password"),
            "login-delay-wrong-password-still-auth")
    c.close()
    ok = P.wait_for(lambda: srv.works(VU, tls=False)[0], 8, 0.5)
    t.check(ok, "login-after-the-delay")

    # RFC 2449 4: 255 octets with CRLF.
    c = srv.connect()
    t.eq(c.cmd("USER " + "u" * 248), b"-ERR [AUTH] User name too long",
         "line-of-255-octets-parsed")
    t.eq(c.cmd("USER " + "u" * 249), b'-ERR Command line too long: ""',
         "line-of-256-octets-refused")
    t.check(c.cmd("CAPA").startswith(b"+OK"), "session-goes-on-after-long")
    c.close()

    plain = P.Server(t, "nodelay", cleartext="always")
    plain.start()
    c = plain.connect()
    caps = capa_lines(c)
    t.check(not [x for x in caps if x.startswith(("LOGIN-DELAY", "EXPIRE"))],
            "no-login-delay-or-expire-unless-configured", caps)
    c.close()


t.run("login-delay-and-bounds", login_delay_and_bounds)
t.run("apop", apop)
t.run("apop-off", apop_off)
t.run("sasl", sasl)
t.run("sasl-needs-tls", sasl_needs_tls)
t.run("policies", policies)
t.run("pam-accounts", pam_accounts)
t.run("pam-user-changed", pam_user_changed)
t.run("passwd-file-memory", passwd_file_memory)
t.run("check-child-channels", check_child_channels)
t.done()
