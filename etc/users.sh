#!/bin/sh
# Creates popsep's system users if they are missing: _popsep (the
# network child), _popsepkey (the key process) and _popauth (owner of the
# APOP database, popauth(8) runs set-uid to it).  None has a home, a
# shell or a password.
set -e
for u in _popsep _popsepkey _popauth; do
	if ! getent passwd "$u" >/dev/null; then
		useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$u"
		echo "users: created system user $u"
	fi
done
