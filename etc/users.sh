#!/bin/sh
# Creates popsep's two system users if they are missing: _popsep (the
# network child) and _popsepkey (the key process).  Neither has a home, a
# shell or a password.
set -e
for u in _popsep _popsepkey; do
	if ! getent passwd "$u" >/dev/null; then
		useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$u"
		echo "users: created system user $u"
	fi
done
