"""
The mailbox formats through the whole server, in both spool modes: what
a client is served, and what the file holds after DELE and QUIT.

- MMDF (messages between ^A^A^A^A lines): served without the delimiters;
  deleting one leaves the others with theirs.
- c-client's pseudo message ("DON'T DELETE THIS MESSAGE -- FOLDER
  INTERNAL DATA"): never shown, and kept on disk when every message is
  deleted.
- Content-Length: an unescaped "From " line after an empty line in a body
  whose Content-Length is right does not split the message.
- A file whose first line is no separator gets Qpopper's error and is
  left untouched.
"""

import os

import popseptest as P

t = P.Test("formats")
P.need_root()

USER = "popsep-e2e-fmt"
PASS = "f-pass"
D = b"\x01\x01\x01\x01\n"


def mmdf(n):
    return b"".join(D + b"From: a@example.org\nSubject: mmdf %d\n\nbody %d\n"
                    % (i, i) + D for i in range(1, n + 1))


PSEUDO = (P.FROM_LINE + b"Date: Mon, 5 Jan 2026 00:00:00 +0000\n"
          b"From: Mail System Internal Data <MAILER-DAEMON@example.org>\n"
          b"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
          b"X-IMAP: 1234567890 0000000002\n\n"
          b"This text is part of the internal format of your mail folder.\n\n")


def session(srv, cmds):
    c = srv.login(USER, tls=False)
    out = [c.cmd("STAT")]
    for cmd in cmds:
        out.append(c.retr(int(cmd.split()[1]))[1] if cmd.startswith("RETR")
                   else c.cmd(cmd))
    out.append(c.cmd("QUIT"))
    c.closed()
    P.wait_for(lambda: not os.path.exists(srv.users[USER][3] + ".lock"))
    return out


def write(path, data):
    P.write_file(path, data, P.VIRT_UID, P.VIRT_GID, 0o600)


def run(mode):
    srv = P.Server(t, "formats-" + mode, cleartext="always",
                   options={"server-mode": "true" if mode == "server"
                            else "false"})
    path = srv.add_virtual_user(USER, PASS)
    srv.start()
    pre = mode + "."

    write(path, mmdf(3))
    out = session(srv, ["RETR 2", "DELE 1"])
    t.eq(out[0].split()[1], b"3", pre + "mmdf-count")
    t.check(b"\x01" not in out[1] and b"Subject: mmdf 2" in out[1],
            pre + "mmdf-served-without-delimiters", out[1])
    t.check(out[-1].startswith(b"+OK"), pre + "mmdf-quit", out[-1])
    t.eq(open(path, "rb").read(), mmdf(3)[len(mmdf(1)):],
         pre + "mmdf-deleted-one")

    box = P.message(1, b"one", b"first\n")
    write(path, PSEUDO + P.FROM_LINE + box + b"\n")
    out = session(srv, ["DELE 1"])
    t.eq(out[0].split()[1], b"1", pre + "pseudo-hidden")
    t.eq(open(path, "rb").read(), PSEUDO, pre + "pseudo-kept")

    body = b"From the desk of the editor\n\nsecond paragraph\n"
    msg = (P.FROM_LINE + b"Subject: counted\nContent-Length: %d\n\n" %
           len(body) + body + b"\n" + P.FROM_LINE + b"Subject: next\n\nx\n")
    write(path, msg)
    out = session(srv, ["RETR 1"])
    t.eq(out[0].split()[1], b"2", pre + "content-length-two-messages")
    t.check(b"From the desk of the editor" in out[1], pre +
            "content-length-one-message", out[1])
    t.eq(open(path, "rb").read(), msg, pre + "content-length-untouched")

    junk = b"Received: by example.org\nnot a mailbox\n"
    write(path, junk)
    c = srv.connect(tls=False)
    c.cmd("USER " + USER)
    r = c.cmd("PASS " + PASS)
    t.check(b"Unable to process From lines" in r, pre + "junk-error", r)
    c.close()
    P.wait_for(lambda: not os.path.exists(path + ".lock"))
    t.eq(open(path, "rb").read(), junk, pre + "junk-untouched")
    srv.check_log_clean(pre + "log-clean")
    srv.stop()


t.run("server", run, "server")
t.run("drop", run, "drop")
t.done()
