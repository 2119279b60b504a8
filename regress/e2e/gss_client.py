#!/usr/bin/python3
"""
A SASL GSSAPI (RFC 4752) client for test_gssapi.py, built on MIT's
library through Debian's python3-gssapi (run it with /usr/bin/python3):
one connection, one or more AUTH GSSAPI attempts with the ticket in
KRB5CCNAME, each done right or wrong on purpose.  Prints the server's
lines as one JSON list.

    gss_client.py PORT ATTEMPT[,ATTEMPT...] [AUTHZID]

An attempt: good; truncate (the first token cut in half); garbage (a
first token that is no token); wrong-service (a ticket for imap, not
pop); layer-integrity (asks for a security layer it was not offered);
forge-wrap (the security layer answer altered); cancel-mid ("*" after
the first challenge); long-mid (a 13000-byte response after the first
challenge); extra (data where an empty response is due, or a second
context token).  After a "+OK" the client sends STAT; with "hold" as the
last attempt it prints the lines so far, then waits for its standard
input to close before QUIT.  A connection the server closed ends the list
with "(closed)".
"""

import base64
import json
import socket
import sys

import gssapi


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), 60)
        self.buf = b""
        self.lines = []

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        ln, _, self.buf = self.buf.partition(b"\r\n")
        self.lines.append(ln.decode("latin-1"))
        return ln

    def send(self, data):
        self.sock.sendall(data + b"\r\n")

    def cmd(self, data):
        self.send(data)
        return self.line()

    def multi(self):
        while self.line() != b".":
            pass


def b64(data):
    return base64.b64encode(data or b"")


def layer_answer(ctx, chal, how, authzid):
    offer = ctx.unwrap(chal).message
    if len(offer) != 4 or not offer[0] & 1:
        raise RuntimeError("bad security layer offer %r" % offer)
    layer = 2 if how == "layer-integrity" else 1
    tok = ctx.wrap(bytes([layer, 0, 0, 0]) + authzid, False).message
    if how == "forge-wrap":
        i = len(tok) // 2
        tok = tok[:i] + bytes([tok[i] ^ 0x55]) + tok[i + 1:]
    return tok


def attempt(c, how, authzid):
    service = "imap" if how == "wrong-service" else "pop"
    name = gssapi.Name(service + "@localhost",
                       gssapi.NameType.hostbased_service)
    flags = [gssapi.RequirementFlag.mutual_authentication,
             gssapi.RequirementFlag.integrity]
    ctx = gssapi.SecurityContext(name=name, usage="initiate",
                                 mech=gssapi.MechType.kerberos, flags=flags)
    tok = ctx.step()
    if how == "truncate":
        tok = tok[:len(tok) // 2]
    elif how == "garbage":
        tok = b"\x60\x82\x01\x00" + bytes(range(200))
    r = c.cmd(b"AUTH GSSAPI")
    if not r.startswith(b"+ "):
        return r
    r = c.cmd(b64(tok))
    first = True
    while r.startswith(b"+ "):
        chal = base64.b64decode(r[2:])
        if first and how == "cancel-mid":
            return c.cmd(b"*")
        if first and how == "long-mid":
            return c.cmd(b"A" * 13000)
        first = False
        if not ctx.complete:
            out = ctx.step(chal)
            if how == "extra":
                out = b"unexpected"
            r = c.cmd(b64(out))
        else:
            r = c.cmd(b64(layer_answer(ctx, chal, how, authzid)))
    return r


def main():
    port, attempts = int(sys.argv[1]), sys.argv[2].split(",")
    authzid = sys.argv[3].encode() if len(sys.argv) > 3 else b""
    hold = attempts[-1] == "hold"
    if hold:
        attempts.pop()
    c = Conn(port)
    try:
        session(c, attempts, authzid, hold)
    except EOFError:
        c.lines.append("(closed)")
    print(json.dumps(c.lines), flush=True)


def session(c, attempts, authzid, hold):
    c.line()
    for how in attempts:
        r = attempt(c, how, authzid)
        if r.startswith(b"+OK"):
            c.cmd(b"STAT")
            break
        c.send(b"CAPA")
        c.multi()
    if hold:
        print(json.dumps(c.lines), flush=True)
        sys.stdin.read()
        c.lines = []
    c.cmd(b"QUIT")


if __name__ == "__main__":
    main()
