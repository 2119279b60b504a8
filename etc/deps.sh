#!/bin/sh
# Installs the Debian packages popsep needs to build, test and run its
# demo, and only those that are missing.  Run as root ("make deps").
set -e

BUILD="gcc make pkg-config libssl-dev libbsd-dev libseccomp-dev
libpam0g-dev libcrypt-dev openssl mandoc"
TEST="fetchmail mpop curl python3 procps passwd openbsd-inetd strace
clang libclang-rt-14-dev dovecot-pop3d"

missing=""
for p in $BUILD $TEST; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing (run make deps as root)" >&2
	exit 1
fi
echo "deps: installing missing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
if [ -z "$(find /var/lib/apt/lists -name '*_Packages*' 2>/dev/null | head -1)" ]; then
	apt-get update -qq
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
echo "deps: done"
