#!/usr/bin/env python3
"""
SIGHUP reads the configuration again, through the real daemon: new
sessions get the new settings while a session in progress goes on with
the old; a file with errors is refused and the running configuration
stays; what needs a restart (the listen addresses) is kept and named in
the log; a tracefile rotated away is opened again.
"""

import os
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import popseptest as P  # noqa: E402

P.need_root()
t = P.Test("reload")
USER, PW = "popsep-e2e-reload", "reload-pw"
MSGS = [P.message(1, b"one", b"first\n"), P.message(2, b"two", b"second\n")]

srv = P.Server(t, "reload", cleartext="always")
TRACE = os.path.join(srv.dir, "trace.log")
srv.options["tracefile"] = TRACE
srv.add_virtual_user(USER, PW)
srv.mbox(USER, MSGS)
srv.start()


def capa():
    c = srv.connect()
    _, body = c.multi_cmd("CAPA")
    c.cmd("QUIT")
    c.close()
    return body.decode().split("\r\n")


def hup(text_wanted):
    mark = srv.log_mark()
    os.kill(srv.proc.pid, signal.SIGHUP)
    ok = P.wait_for(lambda: text_wanted in srv.log_since(mark), 10)
    return ok, srv.log_since(mark)


def reload():
    t.check(not [x for x in capa() if x.startswith("EXPIRE")],
            "no-expire-before")
    old = srv.login(USER, tls=False)
    # A new setting, visible in CAPA.
    srv.options["announce-expire"] = "30"
    srv.write_config()
    ok, log = hup("SIGHUP: configuration read again")
    t.check(ok, "reload-logged", log)
    t.check("EXPIRE 30" in capa(), "new-sessions-get-the-new-setting")
    t.check(old.cmd("STAT").startswith(b"+OK 2 ") and
            old.cmd("QUIT").startswith(b"+OK"),
            "session-in-progress-goes-on")
    old.close()

    # A file with an error: refused, the running configuration stays.
    with open(srv.conf, "a") as f:
        f.write("set timeout = ten\n")
    ok, log = hup("still using the running one")
    t.check(ok and "timeout" in log, "bad-file-refused-and-named", log)
    t.check("EXPIRE 30" in capa() and srv.alive(),
            "running-configuration-kept")

    # The listen addresses need a restart: kept, and the log says so.
    port2 = P.free_ports(1)[0]
    srv.write_config(extra={"listen": "127.0.0.1:%d" % port2})
    ok, log = hup("SIGHUP: configuration read again")
    t.check(ok and "listen addresses changed; restart" in log,
            "listen-change-named", log)
    t.check(srv.works(USER, tls=False)[0] and not P.listening(port2),
            "old-listeners-kept")

    # A tracefile rotated away is opened again.
    srv.write_config()
    os.rename(TRACE, TRACE + ".1")
    ok, log = hup("SIGHUP: configuration read again")
    srv.works(USER, tls=False)
    t.check(P.wait_for(lambda: os.path.exists(TRACE) and
                       "session ended" in open(TRACE).read(), 5),
            "tracefile-reopened")
    srv.check_log_clean("reload-log-clean")


t.run("reload", reload)
t.done()
