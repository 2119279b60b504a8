"""
TLS through the real daemon, with the private keys only in the key
process: the handshakes popsep must complete (TLS 1.3 RSA-PSS and ECDSA
P-256, TLS 1.2 ECDHE-RSA with PSS and PKCS#1, ECDHE-ECDSA) with openssl
s_client and curl, on the implicit-TLS port and after STLS; renegotiation
and resumption refused; the key's secret numbers absent from the memory of
the network child, the session monitor and the master while present in
the key process; SIGHUP replacing keys and certificates without ending a
session in progress.
"""

import os
import re
import select
import signal
import subprocess
import time

import popseptest as pt

t = pt.Test("tls")
pt.need_root()
pt.run(["sh", os.path.join(pt.TOP, "etc", "users.sh")])

srv = pt.Server(t, "tls", cleartext="tls")
RSA_CERT = os.path.join(srv.dir, "rsa-cert.pem")
RSA_KEY = os.path.join(srv.dir, "rsa-key.pem")
pt.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
        "/CN=localhost", "-days", "2", "-keyout", RSA_KEY, "-out", RSA_CERT,
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True)
os.chmod(RSA_KEY, 0o600)
CA = os.path.join(srv.dir, "ca.pem")
with open(CA, "wb") as f:
    f.write(open(srv.cert, "rb").read() + open(RSA_CERT, "rb").read())

_config_text = srv.config_text


def config_two_keys(listen=True, extra=None):
    # key id 0: the P-256 certificate; key id 1: the RSA-2048 one
    return _config_text(listen, extra) + \
        "set tls-server-cert-file = %s\nset tls-private-key-file = %s\n" % (
            RSA_CERT, RSA_KEY)


srv.config_text = config_two_keys
USER = "popsep-e2e-tls"
mbox_path = srv.add_virtual_user(USER, "tls-pass")
msgs = [pt.message(1, b"one", b"first body\n.dotted\n"),
        pt.message(2, b"two", b"second body\n")]
mb = srv.mbox(USER, msgs)
# A second user: one POP3 session per mailbox, and some checks park two.
USER2 = "popsep-e2e-tls2"
srv.add_virtual_user(USER2, "tls-pass")
srv.mbox(USER2, msgs)

srv.start()


def s_client(args, port, starttls=False, stdin=b"QUIT\r\n", timeout=20,
             ign_eof=True):
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
           "-CAfile", CA, "-verify_return_error", "-servername", "localhost"
           ] + (["-ign_eof"] if ign_eof else []) + args
    if starttls:
        cmd += ["-starttls", "pop3"]
    r = pt.run(cmd, timeout=timeout, input=stdin, stdin=None)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def key_log_count():
    return len(re.findall(r"key process refused|refused:", srv.read_log()))


CASES = [
    ("tls13-rsa-pss", ["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"],
     "TLSv1.3", "RSA-PSS"),
    ("tls13-ecdsa-p256", ["-tls1_3", "-sigalgs", "ecdsa_secp256r1_sha256"],
     "TLSv1.3", "ECDSA"),
    ("tls12-ecdhe-rsa-pss", ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
     "TLSv1.2", "RSA-PSS"),
    ("tls12-ecdhe-rsa-pkcs1", ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256",
                               "-sigalgs", "RSA+SHA256"], "TLSv1.2", "RSA"),
    ("tls12-ecdhe-ecdsa", ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
     "TLSv1.2", "ECDSA"),
]


def handshakes():
    for name, args, proto, sigtype in CASES:
        for where, port, starttls in (("995", srv.tls_port, False),
                                      ("stls", srv.port, True)):
            rc, out = s_client(args, port, starttls)
            m = re.search(r"Peer signature type: (\S+)", out)
            t.check(rc == 0 and "Verify return code: 0 (ok)" in out and
                    re.search(r"Protocol *: *%s|New, %s" % (proto, proto), out)
                    and m is not None and m.group(1) == sigtype and
                    "+OK" in out, "%s-%s" % (name, where),
                    "rc=%d sig=%s\n%s" % (rc, m and m.group(1), out[-1500:]))


def curl_fetch():
    want = mb.expected(0)
    for name, url, extra in (
            ("curl-pop3s-tls13", "pop3s://localhost:%d/1" % srv.tls_port,
             ["--tlsv1.3"]),
            ("curl-pop3s-tls12", "pop3s://localhost:%d/1" % srv.tls_port,
             ["--tlsv1.2", "--tls-max", "1.2"]),
            ("curl-stls-tls13", "pop3://localhost:%d/1" % srv.port,
             ["--ssl-reqd", "--tlsv1.3"]),
            ("curl-stls-tls12", "pop3://localhost:%d/1" % srv.port,
             ["--ssl-reqd", "--tlsv1.2", "--tls-max", "1.2"])):
        r = pt.run(["curl", "-s", "--cacert", CA, "-u", USER + ":tls-pass",
                    url] + extra, timeout=30)
        t.eq((r.returncode, r.stdout), (0, want), name)


def no_resumption_no_renegotiation():
    # TLS 1.2: no session id, no ticket, so nothing a client could resume.
    sess = os.path.join(srv.dir, "sess12.pem")
    rc, out = s_client(["-tls1_2", "-sess_out", sess], srv.tls_port)
    m = re.search(r"Session-ID: *(\S*)", out)
    t.check(rc == 0 and m is not None and m.group(1) == "" and
            "TLS session ticket:" not in out and not os.path.exists(sess),
            "tls12-no-session-id-no-ticket", out[-800:])
    # TLS 1.3: no NewSessionTicket, so nothing to resume either.
    sess = os.path.join(srv.dir, "sess13.pem")
    rc, out = s_client(["-tls1_3", "-sess_out", sess], srv.tls_port)
    if os.path.exists(sess):
        rc, out = s_client(["-tls1_3", "-sess_in", sess], srv.tls_port)
        t.check("Reused," not in out, "tls13-no-session-resumption",
                out[-800:])
    else:
        t.check(rc == 0 and "+OK" in out, "tls13-no-session-ticket",
                out[-800:])
    # "R" asks s_client to renegotiate; the server must refuse, so no
    # second signature can ever be asked for on one connection.
    # Wait for the greeting first, so the only record that can answer the
    # renegotiation request is the server's refusal.
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.tls_port,
           "-CAfile", CA, "-servername", "localhost", "-tls1_2"]
    sc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    out = b""
    deadline = time.time() + 20
    while b"+OK popsep" not in out and time.time() < deadline:
        r, _, _ = select.select([sc.stdout], [], [], 1)
        if r:
            d = os.read(sc.stdout.fileno(), 65536)
            if not d:
                break
            out += d
    sc.stdin.write(b"R\n")
    sc.stdin.flush()
    while time.time() < deadline:
        r, _, _ = select.select([sc.stdout], [], [], 1)
        if r:
            d = os.read(sc.stdout.fileno(), 65536)
            if not d:
                break
            out += d
            if b"renegotiation" in out:
                break
    sc.stdin.close()
    out += sc.stdout.read()
    sc.wait(timeout=15)
    out = out.decode("utf-8", "replace")
    t.check("+OK popsep" in out and "RENEGOTIATING" in out and
            "no renegotiation" in out, "tls12-renegotiation-refused",
            out[-800:])


# ------------------------------------------------------------ memory scan

def secret_windows(keyfile):
    """16-byte windows from the middle of each secret number of a key, in
    big-endian (DER) and little-endian (BIGNUM limb) order."""
    out = pt.run(["openssl", "pkey", "-in", keyfile, "-text", "-noout"],
                 check=True).stdout.decode()
    wins = []
    for field in ("privateExponent", "prime1", "prime2", "priv"):
        m = re.search(r"^%s:\s*\n((?:\s+[0-9a-f:]+\n)+)" % field, out, re.M)
        if not m:
            continue
        b = bytes.fromhex(re.sub(r"[\s:]", "", m.group(1)))
        b = b.lstrip(b"\0")
        mid = len(b) // 2 - 8
        wins.append((field, b[mid:mid + 16]))
        le = b[::-1]
        wins.append((field + "-le", le[mid:mid + 16]))
    return wins


def scan(pid, windows):
    return pt.scan_memory(pid, windows)


def session_pids(master):
    """{role: pid} of the processes of one parked session and the key
    process, told apart by their uids."""
    import pwd
    net_uid = pwd.getpwnam("_popsep").pw_uid
    key_uid = pwd.getpwnam("_popsepkey").pw_uid
    roles = {"master": master}
    for child in pt.children(master):
        uid = pt.uid_of(child)      # None: a session that ended meanwhile
        if uid == key_uid:
            roles["key"] = child
        elif uid == 0:
            roles.setdefault("monitors", []).append(child)
    return roles, net_uid


def memory_scan():
    wins = {"ec": secret_windows(srv.key), "rsa": secret_windows(RSA_KEY)}
    t.check(len(wins["rsa"]) == 6 and len(wins["ec"]) == 2,
            "secret-material-extracted", repr(wins))
    # Two parked sessions: one signed with the EC key, one with RSA.
    ctx_ec = srv.ssl_context()
    ctx_ec.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    ctx_ec.maximum_version = ctx_ec.minimum_version = \
        __import__("ssl").TLSVersion.TLSv1_2
    import poplib
    import ssl
    ctx_ec.load_verify_locations(CA)
    ctx_rsa = ssl.create_default_context(cafile=CA)
    ctx_rsa.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx_rsa.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
    parked = []
    for ctx, user in ((ctx_ec, USER), (ctx_rsa, USER2)):
        p = poplib.POP3_SSL("localhost", srv.tls_port, context=ctx, timeout=20)
        p.user(user)
        p.pass_("tls-pass")
        p.stat()
        parked.append(p)
    t.check(parked[0].sock.cipher()[0].startswith("ECDHE-ECDSA") and
            parked[1].sock.cipher()[0].startswith("ECDHE-RSA"),
            "parked-sessions-use-both-keys",
            repr([p.sock.cipher() for p in parked]))
    roles, net_uid = session_pids(srv.proc.pid)
    monitors = roles.get("monitors", [])
    nets = [c for m in monitors for c in pt.children(m)
            if pt.uid_of(c) == net_uid]
    t.check("key" in roles and len(monitors) >= 2 and len(nets) >= 2,
            "found-master-key-monitors-network-children", repr(roles))
    all_wins = wins["ec"] + wins["rsa"]
    if "key" in roles:
        hits = scan(roles["key"], all_wins)
        t.check(any(h.startswith("priv") for h in hits) and
                any(h.startswith("privateExponent") or h.startswith("prime")
                    for h in hits),
                "key-process-memory-holds-both-keys (the scan works)",
                repr(hits))
    for role, pids in (("master", [srv.proc.pid]), ("monitor", monitors),
                       ("network-child", nets)):
        for pid in pids:
            hits = scan(pid, all_wins)
            t.check(hits == [], "no-key-material-in-%s-%d" % (role, pid),
                    repr(hits))
    for p in parked:
        p.quit()


# ------------------------------------------------------------ SIGHUP

def fingerprint(port):
    rc, out = s_client(["-tls1_3", "-sigalgs", "ecdsa_secp256r1_sha256",
                        "-showcerts"], port)
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                  out, re.S)
    return m.group(0) if m else None


def reload():
    import poplib
    global CA
    old_cert = fingerprint(srv.tls_port)
    roles, _ = session_pids(srv.proc.pid)
    old_key_pid = roles.get("key")
    # A session in progress across the reload.
    p = poplib.POP3_SSL("localhost", srv.tls_port,
                        context=srv.ssl_context(), timeout=20)
    p.user(USER)
    p.pass_("tls-pass")
    # New EC key and certificate in place of the old files.
    pt.make_cert(srv.cert, srv.key)
    with open(CA, "wb") as f:
        f.write(open(srv.cert, "rb").read() + open(RSA_CERT, "rb").read())
    mark = srv.log_mark()
    os.kill(srv.proc.pid, signal.SIGHUP)
    for _ in range(100):
        if "reloaded" in srv.log_since(mark):
            break
        time.sleep(0.05)
    t.check("TLS keys and certificates reloaded" in srv.log_since(mark),
            "sighup-logged", srv.log_since(mark))
    new_cert = fingerprint(srv.tls_port)
    t.check(old_cert is not None and new_cert is not None and
            new_cert != old_cert and
            new_cert.split() == open(srv.cert).read().split(),
            "sighup-new-connections-get-new-certificate")
    resp, lines, octets = p.retr(1)
    t.eq(b"\r\n".join(lines) + b"\r\n", mb.expected(0),
         "session-in-progress-survives-reload")
    t.check(p.quit().startswith(b"+OK"), "session-in-progress-quits")
    # The old key process leaves once its last session is over.
    gone = False
    for _ in range(100):
        if old_key_pid is None or not os.path.exists("/proc/%d" % old_key_pid) \
                or pt.proc_status(old_key_pid).get("State", "").startswith("Z"):
            gone = True
            break
        time.sleep(0.05)
    t.check(gone, "old-key-process-exits-after-its-sessions")
    # A key that does not match its certificate: keep the working keys.
    with open(srv.key, "w") as f:
        f.write(open(RSA_KEY).read())
    mark = srv.log_mark()
    os.kill(srv.proc.pid, signal.SIGHUP)
    for _ in range(100):
        if "not reloaded" in srv.log_since(mark):
            break
        time.sleep(0.05)
    t.check("not reloaded" in srv.log_since(mark) and
            "does not match" in srv.log_since(mark),
            "sighup-bad-key-keeps-old-keys", srv.log_since(mark))
    ok, detail = srv.works(USER2)
    t.check(ok and fingerprint(srv.tls_port) == new_cert,
            "still-serving-after-bad-reload", detail)


def refused_signature_ends_handshake():
    """A second daemon whose key process may sign once a second (bucket of
    two): rapid handshakes beyond that are refused by the key process, and
    a refused signature ends the handshake with an alert, logged with the
    session id, while the daemon goes on serving."""
    slow = pt.Server(t, "ratelimit", options={"tls-sign-rate": "1"})
    slow.add_virtual_user(USER, "tls-pass")
    slow.mbox(USER, msgs)
    slow.start()
    results = []
    for i in range(4):
        rc, out = s_client_ca(slow.cert, ["-tls1_3"], slow.tls_port)
        results.append((rc, "+OK popsep" in out, out))
    ok = [r for r in results if r[0] == 0 and r[1]]
    bad = [r for r in results if r[0] != 0]
    t.check(len(ok) >= 1 and len(bad) >= 1, "rate-limited-handshakes-fail",
            repr([(r[0], r[1]) for r in results]))
    t.check(any("alert internal error" in r[2] or "alert number 80" in r[2]
                for r in bad), "refused-signature-gives-alert-80",
            bad[0][2][-600:] if bad else "")
    log = slow.read_log()
    m = re.search(r"key: session ([0-9a-f]{16}): refused: signature rate "
                  r"limit reached", log)
    t.check(m is not None and re.search(
        r"monitor %s: key process refused" % m.group(1), log) is not None,
        "refusal-logged-by-key-process-and-monitor-with-session-id",
        log[-1500:])
    time.sleep(2.2)
    ok2, detail = slow.works(USER)
    t.check(ok2, "serves-again-after-the-bucket-refills", detail)
    slow.check_log_clean("ratelimit-no-sandbox-violations")
    slow.stop()


def s_client_ca(cafile, args, port):
    r = pt.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                "-CAfile", cafile, "-verify_return_error", "-servername",
                "localhost", "-ign_eof"] + args, timeout=20, input=b"QUIT\r\n",
               stdin=None)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


t.run("handshakes", handshakes)
t.run("refusal", refused_signature_ends_handshake)
t.run("curl", curl_fetch)
t.run("resumption", no_resumption_no_renegotiation)
t.run("memory", memory_scan)
t.run("reload", reload)
srv.check_log_clean("no-sandbox-violations")
t.done()
