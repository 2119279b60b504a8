#!/usr/bin/env python3
"""
A Qpopper site's configuration and command line, carried over: every
option name of Qpopper 4.0 and 4.1 through popsepd -n with a plausible
value (works, ignored with a warning, or refused with its reason, as
popsepd.conf(5) MIGRATION FROM QPOPPER says), names and values in any
case, quotes, hex, config-file includes, every Qpopper flag, what -n
checks as root (certificates, keys, listen addresses, the spool, the
users), start-up errors on standard error, the -n -v dump read back,
and inetd mode: a connected socket on stdin is served as with -i, and
with -i -d no log line enters the client's stream.
"""

import os
import re
import socket
import subprocess
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import popseptest as P  # noqa: E402

P.need_root()
t = P.Test("parity")
srv = P.Server(t, "parity", cleartext="always")
BOB, BOBPW = "popsep-e2e-bob", "bob-e2e pw"
srv.add_virtual_user(BOB, BOBPW)
srv.mbox(BOB, [P.message(1, b"one", b"x\n")]).write()
NOUSER = "popsep-e2e-nosuch"
D = srv.dir
BASE = srv.config_text(listen=False)
BULLDIR = os.path.join(D, "bulls")
os.mkdir(BULLDIR, 0o755)
TEMPDIR = os.path.join(D, "tempdrop")
os.mkdir(TEMPDIR, 0o755)
n_conf = [0]


def conf(text, base=True):
    """A configuration file: the server's own lines, then text."""
    n_conf[0] += 1
    path = os.path.join(D, "c%d.conf" % n_conf[0])
    P.write_file(path, ((BASE if base else "") + text).encode(), 0, 0, 0o644)
    return path


def popsepd(args, **kw):
    r = P.run([P.POPSEPD] + args, timeout=30, **kw)
    r.out = r.stdout.decode("utf-8", "replace")
    r.err = r.stderr.decode("utf-8", "replace")
    return r


def check_n(text, base=True, args=()):
    path = conf(text, base)
    return path, popsepd(["-n"] + list(args) + ["-f", path])


def dump(text, base=True, args=()):
    path = conf(text, base)
    return popsepd(["-n", "-v"] + list(args) + ["-f", path])


# ------------------------------------------------------------ every option

# Qpopper's layout: the key after the certificate in one file (an RSA
# one: the server's own is EC, and popsep serves one of each).
BOTH = os.path.join(D, "both.pem")
P.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
       "/CN=localhost", "-days", "2", "-keyout", BOTH + ".key", "-out",
       BOTH + ".crt"], check=True)
P.write_file(BOTH, open(BOTH + ".crt", "rb").read() +
             open(BOTH + ".key", "rb").read(), 0, 0, 0o600)
INC = os.path.join(D, "included.conf")
P.write_file(INC, b"set statistics\n", 0, 0, 0o644)

# Qpopper's name, a plausible value (None: "set NAME"), the outcome:
# "works", "ignored", "refused", or "if-off" (ignored when off, refused on).
OPTIONS = [
    ("announce-expire", "30", "works"),
    ("announce-login-delay", "900", "ignored"),
    ("auth-file", os.path.join(D, "allow"), "works"),
    ("auto-delete", None, "if-off"),
    ("bulldb", "/var/spool/bulls/bulldb", "ignored"),
    ("bulldb-max-tries", "10", "ignored"),
    ("bulldb-nonfatal", None, "ignored"),
    ("bulldir", BULLDIR, "works"),
    ("cache-dir", os.path.join(D, "cache2"), "works"),
    ("cache-name", ".%s.cache", "ignored"),
    ("check-hash-dir", None, "ignored"),
    ("check-old-spool-loc", None, "ignored"),
    ("check-password-expired", None, "ignored"),
    ("chunky-writes", "tls", "works"),
    ("clear-text-password", "tls", "works"),
    ("config-file", INC, "works"),
    ("debug", None, "works"),
    ("downcase-user", None, "works"),
    ("drac-host", "localhost", "refused"),
    ("fast-update", None, "works"),
    ("group-bulletins", "staff", "refused"),
    ("group-no-server-mode", "users", "works"),
    ("group-server-mode", "mail", "works"),
    ("hash-spool", "1", "if-off"),
    ("home-dir-mail", "Mailbox", "works"),
    ("keep-temp-drop", None, "ignored"),
    ("kerberos", None, "if-off"),
    ("kerberos-name", "pop", "refused"),
    ("kerberos-service", "pop", "works"),
    ("log-facility", "local1", "works"),
    ("log-login", "(v%0) POP login by user \"%1\" at (%2) %3", "ignored"),
    ("mail-command", "/usr/sbin/sendmail", "ignored"),
    ("mail-lock-check", "5000", "works"),
    ("max-bulletins", "5", "works"),
    ("nis-servername", "nis.example.org", "ignored"),
    ("no-atomic-open", None, "ignored"),
    ("no-user-server-mode", "user", "ignored"),
    ("nonauth-file", os.path.join(D, "deny"), "works"),
    ("old-style-uid", None, "if-off"),
    ("reverse-lookup", None, "works"),
    ("reverse-lookups", None, "works"),
    ("server-mode", None, "works"),
    ("shy", None, "ignored"),
    ("spool-dir", srv.spool, "works"),
    ("spool-options", None, "ignored"),
    ("statistics", None, "works"),
    ("temp-dir", TEMPDIR, "works"),
    ("temp-name", ".%s.pop", "ignored"),
    ("timeout", "120", "works"),
    ("timing", None, "ignored"),
    ("tls-cipher-list", "ALL:!ADH:RC4+RSA:+HIGH:+MEDIUM:-LOW:-SSLv2:-EXP",
     "works"),
    ("tls-identity-file", "/etc/mail/certs/id", "refused"),
    ("tls-options", "0x00000800", "ignored"),
    ("tls-passphrase", "secret", "refused"),
    ("tls-private-key-file", srv.key, "works"),
    ("tls-server-cert-file", BOTH, "works"),
    ("tls-support", "stls", "works"),
    ("tls-version", "SSLv23", "works"),
    ("tls-workarounds", None, "ignored"),
    ("tracefile", os.path.join(D, "trace"), "works"),
    ("trim-domain", None, "works"),
    ("update-on-abort", None, "works"),
    ("update-status-headers", "false", "works"),
    ("user-options", None, "ignored"),
    ("user-server-mode", "user", "ignored"),
    ("UW-kludge", None, "ignored"),
    ("UW-kluge", None, "ignored"),
]

IGNORED = 'Qpopper option "%s" ignored: '
REFUSED = '"%s" is a Qpopper option popsep cannot honour: '


def line(name, value):
    return "set %s\n" % name if value is None else \
        "set %s = %s\n" % (name, value)


def migration_entries():
    """popsepd.conf(5) MIGRATION FROM QPOPPER: {name: its text}."""
    with open(os.path.join(P.TOP, "man", "popsepd.conf.5")) as f:
        man = f.read()
    m = re.search(r"^\.Sh MIGRATION FROM QPOPPER$(.*?)^\.Sh ", man,
                  re.M | re.S)
    entries, name = {}, None
    for l in (m.group(1) if m else "").splitlines():
        it = re.match(r"^\.It Cm (\S+)$", l)
        if it:
            name = it.group(1).lower()
            entries[name] = ""
        elif l.startswith(".El"):
            name = None
        elif name is not None:
            l = l.replace("\\&", "").replace("\\e", "\\")
            entries[name] += " " + re.sub(r"^\.[A-Z][a-z] ", "", l)
    return entries


MAN = migration_entries()


def documented(name, err):
    """The reason on stderr is the one the manual gives for name."""
    m = re.search(r"(?:ignored|honour): (.*)$", err, re.M)
    return m is not None and m.group(1) in MAN.get(name.lower(), "")


def one_option(name, value, outcome):
    path, r = check_n(line(name, value))
    where = "%s:%d: " % (path, BASE.count("\n") + 1)
    if outcome == "works":
        t.check(r.returncode == 0 and "configuration OK" in r.out and
                "Qpopper option" not in r.err and
                "cannot honour" not in r.err, "option-%s-works" % name,
                (r.returncode, r.err))
    elif outcome == "ignored":
        t.check(r.returncode == 0 and (where + "warning: " +
                IGNORED % name) in r.err and documented(name, r.err),
                "option-%s-ignored" % name, (r.returncode, r.err))
    elif outcome == "refused":
        t.check(r.returncode == 1 and (where + REFUSED % name) in r.err and
                "Unable to process configuration file" in r.err and
                documented(name, r.err), "option-%s-refused" % name,
                (r.returncode, r.err))
    else:
        t.check(r.returncode == 1 and (where + REFUSED % name) in r.err and
                documented(name, r.err), "option-%s-on-refused" % name,
                (r.returncode, r.err))
        off = "reset %s\n" % name if value is None else \
            "set %s = 0\n" % name
        path, r = check_n(off)
        t.check(r.returncode == 0 and (IGNORED % name) in r.err,
                "option-%s-off-ignored" % name, (r.returncode, r.err))


def every_option():
    t.check(len(OPTIONS) == 67, "options-all-of-4.0-and-4.1", len(OPTIONS))
    for name, value, outcome in OPTIONS:
        one_option(name, value, outcome)
    # Each is documented under its Qpopper name, and nothing else is.
    names = set(n.lower() for n, v, o in OPTIONS)
    t.check(set(MAN) == names, "options-documented",
            (sorted(names - set(MAN)), sorted(set(MAN) - names)))
    # A name nobody ever had is still an error.
    path, r = check_n("set no-such-option = 1\n")
    t.check(r.returncode == 1 and 'unknown option "no-such-option"' in r.err,
            "option-unknown", r.err)


# ------------------------------------------------------------ syntax

def syntax():
    r = dump("SET Timeout = 30\nset TLS-Support = STLS\n"
             "Set clear-text-password = SSL\nset log-facility = LOCAL1\n"
             "set Statistics = TRUE\nRESET Server-Mode\n")
    t.check(r.returncode == 0 and "set timeout = 30\n" in r.out and
            "set tls-support = stls\n" in r.out and
            "set clear-text-password = tls\n" not in r.out and
            "set log-facility = local1\n" in r.out and
            "set statistics\n" in r.out and "reset server-mode\n" in r.out,
            "case-insensitive", (r.out, r.err))
    r = dump("set clear-text-password = never\nset clear-text-password = "
             "SSL\n")
    t.check(r.returncode == 0 and "clear-text-password" not in r.out,
            "clear-text-password-ssl-is-tls", r.out)
    r = dump('set home-dir-mail = "Mailbox"\nset pam-service = \'pop3 # x\''
             ' # comment\n')
    t.check(r.returncode == 0 and "set home-dir-mail = Mailbox\n" in r.out
            and "set pam-service = \"pop3 # x\"\n" in r.out, "quotes-stripped",
            r.out)
    r = dump("set timeout = 0x78\nset tls-options = 0x00000800\n")
    t.check(r.returncode == 0 and "set timeout = 120\n" in r.out and
            IGNORED % "tls-options" in r.err, "hex", (r.out, r.err))
    path, r = check_n("set timeout = ten\n")
    t.check(r.returncode == 1 and "timeout: not a number" in r.err,
            "not-a-number", r.err)
    path, r = check_n("set timeout = 5\n")
    t.check(r.returncode == 1 and "timeout: out of range (10 to 86400)" in
            r.err, "out-of-range-says-range", r.err)
    for v in ("SSLv2", "SSLv3", "TLSv1", "SSLv23", "all"):
        r = dump("set tls-version = %s\n" % v)
        t.check(r.returncode == 0 and "tls-version" not in r.out and
                "this means TLS 1.2 and later" in r.err,
                "tls-version-" + v, (r.out, r.err))
    r = dump("set tls-version = tls1.3\n")
    t.check(r.returncode == 0 and "set tls-version = tls1.3\n" in r.out,
            "tls-version-tls1.3", r.out)
    path, r = check_n("set tls-version = TLSv1.1\n")
    t.check(r.returncode == 1 and "expected default, tls1.2, tls1.3, sslv2, "
            "sslv3, tlsv1, sslv23 or all" in r.err, "tls-version-unknown",
            r.err)


def includes():
    sub = os.path.join(D, "inc")
    os.mkdir(sub)
    P.write_file(os.path.join(sub, "two.conf"),
                 b"set timeout = 22\nset config-file = three.conf\n",
                 0, 0, 0o644)
    P.write_file(os.path.join(sub, "three.conf"), b"set timeout = 33\n",
                 0, 0, 0o644)
    r = dump("set config-file = inc/two.conf\nset max-sessions = 7\n")
    t.check(r.returncode == 0 and "set timeout = 33\n" in r.out and
            "set max-sessions = 7\n" in r.out, "include-nested-relative",
            (r.out, r.err))
    loop = os.path.join(sub, "loop.conf")
    P.write_file(loop, b"# a loop\nset config-file = loop.conf\n", 0, 0, 0o644)
    path, r = check_n("set config-file = %s\n" % loop)
    t.check(r.returncode == 1 and (loop + ":2: config-file " + loop +
            ": a loop") in r.err, "include-loop", r.err)
    path, r = check_n("set config-file = inc/missing.conf\n")
    t.check(r.returncode == 1 and ("%s:%d: config-file %s/inc/missing.conf: "
            "No such file" % (path, BASE.count("\n") + 1, D)) in r.err,
            "include-missing", r.err)
    P.write_file(os.path.join(sub, "bad.conf"), b"\n\nset timeout = x\n",
                 0, 0, 0o644)
    path, r = check_n("set config-file = inc/bad.conf\n")
    t.check(r.returncode == 1 and (sub + "/bad.conf:3: timeout: not a "
            "number") in r.err, "include-error-names-its-file", r.err)


# ------------------------------------------------------------ flags

FLAGS = [
    # args, exit status, text in the dump (0) or on stderr (2)
    (["-b", BULLDIR], 0, "set bulldir = " + BULLDIR),
    (["-B"], 0, IGNORED % "bulldb-nonfatal"),
    (["-c"], 0, "set downcase-user"),
    (["-C"], 0, "set trim-domain"),
    (["-D", "relay"], 2, REFUSED % "drac-host"),
    (["-e", "login_delay=900,expire=30"], 0, IGNORED %
     "announce-login-delay"),
    (["-e", "expire=30"], 0, "set announce-expire = 30"),
    (["-e", "soon"], 2, "expected login_delay=N or expire=N"),
    (["-F"], 0, "set fast-update"),
    (["-k"], 2, REFUSED % "kerberos"),
    (["-K", "pop3"], 0, "set kerberos-service = pop3"),
    (["-l", "0"], 0, "set tls-support = none"),
    (["-l", "1"], 0, "set tls-support = stls"),
    (["-l", "2"], 0, "set tls-support = alternate-port"),
    (["-l", "3"], 2, "-l 3: expected 0 (none), 1 (stls) or 2"),
    (["-L", "50"], 0, "set mail-lock-check = 50"),
    (["-L", "ten"], 2, "-L ten: mail-lock-check: not a number"),
    (["-p", "0"], 0, "set clear-text-password = default"),
    (["-p", "1"], 0, "set clear-text-password = never"),
    (["-p", "3"], 0, "set clear-text-password = local"),
    (["-p", "4"], 0, "!clear-text-password"),     # tls is the default
    (["-p", "5"], 2, "-p 5: expected 0 (default), 1 (never), 2 (always)"),
    (["-R"], 0, None),
    (["-s"], 0, "set statistics"),
    (["-S"], 0, None),
    (["-t", os.path.join(D, "trace")], 0,
     "set tracefile = " + os.path.join(D, "trace")),
    (["-T", "30"], 0, "set timeout = 30"),
    (["-T", "5"], 2, "-T 5: timeout: out of range (10 to 86400)"),
    (["-u"], 0, IGNORED % "user-options"),
    (["-U"], 0, IGNORED % "spool-options"),
    (["-y", "LOCAL2"], 0, "set log-facility = local2"),
    (["-y", "nowhere"], 2, "-y nowhere: log-facility: unknown syslog"),
]


def flags():
    path = conf("set clear-text-password = always\n")
    for args, rc, text in FLAGS:
        r = popsepd(["-n", "-v"] + args + ["-f", path])
        label = "flag" + "".join(a if a.startswith("-") else "-" + a
                                 for a in args).replace("/", "_")
        if rc == 0 and text is not None and text.startswith("!"):
            ok = r.returncode == 0 and text[1:] not in r.out
        elif rc == 0:
            ok = r.returncode == 0 and (text is None or text + "\n" in r.out
                                        or text in r.err)
        else:
            ok = r.returncode == rc and text in r.err
        t.check(ok, label[:60], (r.returncode, r.out, r.err))
    # -p 2 is "always", and -R and -S leave the defaults as they are.
    r = popsepd(["-n", "-v", "-p", "2", "-R", "-S", "-f", path])
    t.check(r.returncode == 0 and "clear-text-password" in r.out and
            "reverse-lookups" not in r.out and "server-mode" not in r.out,
            "flag-p2-R-S", r.out)
    # The command line wins over the file.
    r = popsepd(["-n", "-v", "-T", "99", "-f",
                 conf("set timeout = 30\nset reverse-lookups\n")])
    t.check(r.returncode == 0 and "set timeout = 99\n" in r.out, "flag-wins",
            r.out)
    r = popsepd(["-n", "-v", "-R", "-f", conf("set reverse-lookups\n")])
    t.check(r.returncode == 0 and "reverse-lookups" not in r.out,
            "flag-R-wins", r.out)
    r = popsepd(["-n", "-z", "-f", path])
    t.check(r.returncode == 2 and "usage:" in r.err, "flag-unknown-usage",
            r.err)


# ------------------------------------------------------------ -n as root

def other_pair(name):
    cert = os.path.join(D, name + "-cert.pem")
    key = os.path.join(D, name + "-key.pem")
    P.make_cert(cert, key)
    return cert, key


def n_checks():
    good = conf("")
    r = popsepd(["-n", "-f", good])
    t.check(r.returncode == 0 and "configuration OK" in r.out, "n-good",
            (r.out, r.err))
    cert2, key2 = other_pair("other")
    enc = os.path.join(D, "enc-key.pem")
    P.run(["openssl", "pkey", "-in", srv.key, "-aes256", "-passout",
           "pass:secret", "-out", enc], check=True)
    junk = os.path.join(D, "junk.pem")
    P.write_file(junk, b"not a key\n", 0, 0, 0o600)
    nocert = "set tls-server-cert-file = %s\nset tls-private-key-file = %s\n"
    base = srv.config_text(listen=False).replace(
        "set tls-server-cert-file = %s\n" % srv.cert, "").replace(
        "set tls-private-key-file = %s\n" % srv.key, "")
    cases = [
        ("cert-missing", nocert % (D + "/none.pem", srv.key),
         D + "/none.pem: No such file or directory"),
        ("key-missing", nocert % (srv.cert, D + "/none-key.pem"),
         D + "/none-key.pem: No such file or directory"),
        ("key-directory", nocert % (srv.cert, D),
         D + ": is a directory, not a PEM file"),
        ("key-garbage", nocert % (srv.cert, junk),
         junk + ": not a PEM private key"),
        ("key-encrypted", nocert % (srv.cert, enc),
         enc + ": the private key is encrypted"),
        ("key-other", nocert % (srv.cert, key2), key2 + " does not match the "
         "certificate in " + srv.cert),
        ("cert-garbage", nocert % (junk, srv.key), "no PEM certificate"),
    ]
    for label, text, want in cases:
        path = os.path.join(D, label + ".conf")
        P.write_file(path, (base + text).encode(), 0, 0, 0o644)
        # A new session: no terminal to prompt on for a passphrase.
        r = popsepd(["-n", "-f", path], start_new_session=True)
        t.check(r.returncode == 1 and want in r.err and
                "configuration OK" not in r.out, "n-" + label,
                (r.returncode, r.err))
    for label, text, want in [
            ("listen-name", "set listen = localhost:26110\n",
             '"localhost" is not a numeric IPv4 or IPv6 address'),
            ("listen-256", "set listen = 127.0.0.256:26110\n",
             '"127.0.0.256" is not a numeric'),
            ("spool-missing", "set spool-dir = %s/nospool\n" % D,
             "spool-dir %s/nospool: No such file" % D),
            ("privsep-user", "set privsep-user = %s\n" % NOUSER,
             'privsep-user "%s" does not exist' % NOUSER),
            ("key-user", "set key-user = %s\n" % NOUSER,
             'key-user "%s" does not exist' % NOUSER),
            ("popauth-user", "set apop\nset popauth-user = %s\n" % NOUSER,
             'popauth-user "%s" does not exist' % NOUSER)]:
        path, r = check_n(text)
        t.check(r.returncode == 1 and want in r.err, "n-" + label,
                (r.returncode, r.err))


# ------------------------------------------------------------ start-up errors

def startup_errors():
    """Without -d, -n or -i: the daemon's start-up, whose errors used to
    go to syslog only."""
    for label, text, want in [
            ("privsep-user", "set privsep-user = %s\n" % NOUSER,
             'privsep-user "%s" does not exist' % NOUSER),
            ("chroot-not-empty", "set chroot-dir = %s\n" % BULLDIR, None)]:
        if want is None:
            P.write_file(os.path.join(BULLDIR, "1"), b"x\n", 0, 0, 0o644)
            want = "chroot %s: not empty" % BULLDIR
        path = conf(text + "set listen = 127.0.0.1:%d\n" % srv.port)
        r = popsepd(["-f", path])
        t.check(r.returncode == 1 and want in r.err, "start-" + label,
                (r.returncode, r.err))
        t.check(not P.listening(srv.port), "start-%s-no-daemon" % label)
    os.unlink(os.path.join(BULLDIR, "1"))
    if os.path.exists("/dev/log"):
        t.skip("start-no-syslog-said", "a syslog daemon is listening")
    else:
        path = conf("set privsep-user = %s\n" % NOUSER)
        r = popsepd(["-f", path])
        t.check(r.err.count("no syslog daemon is listening on /dev/log") == 1,
                "start-no-syslog-said-once", r.err)


# ------------------------------------------------------------ the dump

def dump_round_trip():
    r1 = dump("SET Timeout = 0x78\nset tls-support = STLS\nset statistics\n"
              "set home-dir-mail = \"Mail box\"\nset reverse-lookup\n"
              "set listen = 127.0.0.1:26110\nset listen-tls = [::1]:26995\n"
              "set log-facility = LOCAL3\nset max-sessions = 9\n"
              "reset server-mode\nset temp-dir = %s\n" % TEMPDIR,
              args=["-s", "-p", "2"])
    lines = r1.out.splitlines()
    t.check(r1.returncode == 0 and len(lines) >= 12 and
            all(re.match(r"^(set|reset) [a-z-]+( = .+)?$", l) for l in lines)
            and len(set(l.split(" = ")[0] for l in lines
                        if not l.startswith("set listen") and
                        not l.startswith("set tls-"))) ==
            len([l for l in lines if not l.startswith("set listen") and
                 not l.startswith("set tls-")]),
            "dump-lines-are-config", r1.out)
    t.check("set home-dir-mail = \"Mail box\"" not in r1.out and
            "set home-dir-mail = Mail box\n" in r1.out and
            "set timeout = 120\n" in r1.out and
            "set chroot-dir = " + srv.chroot in r1.out, "dump-values", r1.out)
    again = os.path.join(D, "dump.conf")
    P.write_file(again, r1.stdout, 0, 0, 0o644)
    r2 = popsepd(["-n", "-v", "-f", again])
    t.eq(r2.out, r1.out, "dump-read-back-same")
    r3 = popsepd(["-n", "-f", again])
    t.check(r3.returncode == 0 and "configuration OK" in r3.out,
            "dump-is-a-valid-config", r3.err)


# ------------------------------------------------------------ inetd

def serve_on(sock, args, stderr):
    p = subprocess.Popen([P.POPSEPD] + args, stdin=sock, stdout=sock,
                         stderr=stderr, start_new_session=True)
    t.cleanup(P.stop_process, p)
    return p


def talk(sock):
    """The greeting, then QUIT; every byte the server sent."""
    sock.settimeout(20)
    got = b""
    try:
        while b"\r\n" not in got:
            b = sock.recv(4096)
            if not b:
                break
            got += b
        sock.sendall(b"QUIT\r\n")
        while True:
            b = sock.recv(4096)
            if not b:
                break
            got += b
    except OSError as e:
        got += ("<%s>" % e).encode()
    return got


def tcp_pair():
    """Both ends of a real TCP connection on 127.0.0.1, as inetd has."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    client = socket.create_connection(lsock.getsockname())
    server, _ = lsock.accept()
    lsock.close()
    return client, server


def inetd_auto():
    path = conf("")
    log = os.path.join(D, "auto.log")
    # A real TCP connection, as inetd hands it: no -i.
    client, server = tcp_pair()
    with open(log, "wb") as logf:
        p = serve_on(server, ["-d", "-f", path], logf)
    server.close()
    got = talk(client)
    client.close()
    rc = p.wait(20)
    text = open(log, "rb").read().decode("utf-8", "replace")
    t.check(got.startswith(P.GREETING + b"\r\n") and
            b"+OK Pop server at" in got, "inetd-auto-tcp-serves", got)
    t.check(rc == 0 and "standard input is a connected socket: serving it "
            "as with -i" in text and "listening on" not in text,
            "inetd-auto-tcp-logged", (rc, text[-1500:]))
    # stderr on the connection too, as inetd and xinetd do, and no -d.
    a, b = tcp_pair()
    p = serve_on(b, ["-f", path], b)
    b.close()
    got = talk(a)
    a.close()
    t.check(got.startswith(P.GREETING + b"\r\n") and p.wait(20) == 0 and
            b"popsepd" not in got, "inetd-auto-stderr-too", got)
    # -i serves a local socketpair as well.
    a, b = socket.socketpair()
    p = serve_on(b, ["-i", "-f", path], b)
    b.close()
    got = talk(a)
    a.close()
    t.check(got.startswith(P.GREETING + b"\r\n") and p.wait(20) == 0,
            "inetd-i-socketpair", got)


def inetd_debug():
    path = conf("")
    for label, args in (("i-d", ["-i", "-d", "-v"]), ("auto-d", ["-d"])):
        a, b = tcp_pair()
        p = serve_on(b, args + ["-f", path], b)
        b.close()
        got = talk(a)
        a.close()
        rc = p.wait(20)
        rest = got.split(b"\r\n")
        t.check(got.startswith(P.GREETING + b"\r\n") and rc == 0 and
                all(l.startswith(b"+OK") for l in rest if l) and
                b"popsepd[" not in got and b"monitor" not in got,
                "inetd-%s-no-logs-in-stream" % label, got)
    # A configuration error under inetd reaches no client either.
    bad = conf("set timeout = ten\n")
    a, b = socket.socketpair()
    p = serve_on(b, ["-i", "-d", "-f", bad], b)
    b.close()
    got = talk(a)
    a.close()
    t.check(p.wait(20) == 1 and b"timeout" not in got and
            b"Unable to process" not in got, "inetd-config-error-not-in-stream",
            got)


t.run("every-option", every_option)
t.run("syntax", syntax)
t.run("includes", includes)
t.run("flags", flags)
t.run("n-checks", n_checks)
t.run("startup-errors", startup_errors)
t.run("dump", dump_round_trip)
t.run("inetd-auto", inetd_auto)
t.run("inetd-debug", inetd_debug)
t.done()
