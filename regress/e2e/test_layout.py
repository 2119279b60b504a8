"""
The include graph follows the process boundaries (shared/DESIGN.md,
"Layout"): privsep/ may use every folder; proto/ uses net/ and lib/; net/,
auth/ and spool/ use lib/ only; lib/ uses nothing else.  So the network
child's code (net/, proto/) cannot reach mailboxes or credentials except
through privsep's channels.  Also: every source file starts with the
licence, and no unsafe string function is used.
"""

import os
import re

import popseptest as P

t = P.Test("layout")
ALLOWED = {
    "lib": {"lib"},
    "net": {"net", "lib"},
    "proto": {"proto", "net", "lib"},
    "auth": {"auth", "lib"},
    "spool": {"spool", "lib"},
    "privsep": {"privsep", "lib", "net", "proto", "auth", "spool"},
    "popauth": {"popauth", "auth", "lib"},
}
# single headers a directory may use beyond ALLOWED: the APOP check drops
# privileges with the one priv_drop() every process uses
EXTRA = {"auth": {"priv.h"}}
# where each project header lives
where = {}
for d in ALLOWED:
    for f in os.listdir(os.path.join(P.TOP, d)):
        if f.endswith(".h"):
            where[f] = d

for d in sorted(ALLOWED):
    for f in sorted(os.listdir(os.path.join(P.TOP, d))):
        if not f.endswith((".c", ".h")):
            continue
        path = os.path.join(P.TOP, d, f)
        text = open(path).read()
        bad = []
        for inc in re.findall(r'^#include "([^"]+)"', text, re.M):
            home = where.get(inc)
            if home is None:
                bad.append(inc + " (unknown)")
            elif home not in ALLOWED[d] and inc not in EXTRA.get(d, ()):
                bad.append("%s (%s/)" % (inc, home))
        t.check(not bad, "includes-%s/%s" % (d, f), ", ".join(bad))
        t.check(text.startswith("/*\n * Copyright (c) 2026 The popsep authors")
                and "Permission to use, copy, modify, and distribute" in
                text[:1200], "licence-%s/%s" % (d, f))
        calls = re.findall(r"\b(sprintf|vsprintf|strcpy|strcat|gets)\s*\(",
                           text)
        t.check(not calls, "no-unsafe-strings-%s/%s" % (d, f), repr(calls))
# The manual lists each seccomp allow-list exactly as the code has it.
man = open(os.path.join(P.TOP, "man", "popsep-privsep.7")).read()
for who in ("net", "spool", "key", "metrics"):
    code = open(os.path.join(P.TOP, "privsep", "sandbox_%s.c" % who)).read()
    calls = re.findall(r"ALLOW(?:_NOEXEC)?\((\w+),", code)
    m = re.search(r"privsep/sandbox_%s\.c :\n\.Bd -literal[^\n]*\n(.*?)\n\.Ed"
                  % who, man, re.S)
    listed = m.group(1).split() if m else None
    t.eq(listed, calls, "manual-lists-the-%s-sandbox-as-coded" % who)
t.done()
