#!/bin/sh
#
# Copyright (c) 2026 The popsep authors
#
# Permission to use, copy, modify, and distribute this software for any
# purpose with or without fee is hereby granted, provided that the above
# copyright notice and this permission notice appear in all copies.
#
# THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
# WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
# MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
# ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
# WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
# ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
# OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
#
# Installs the Debian packages popsep needs, and only those that are
# missing, saying which.  Run as root.
#
#	sh etc/deps.sh [build|check|bench|fuzz]
#
# build: compile popsepd, run "make demo" and "make install"; check (the
# default): also what "make check" drives (real clients, inetd, strace,
# systemd-analyze and systemd-socket-activate, setpriv, nsenter and
# unshare, the OpenMetrics parser test_metrics.py reads the endpoint with,
# haproxy for test_proxy.py)
# and the Debian package's build and lint (dpkg-dev, debhelper, fakeroot,
# lintian); bench: also Dovecot and popa3d, the peers "make bench"
# measures against; fuzz: clang and its sanitizer runtime for "make fuzz".
#
# Packages that conflict with one installed here are downloaded with
# apt-get and unpacked, not installed: for check, xinetd (it conflicts
# with openbsd-inetd) into $XINETD_DIR, where regress/e2e/test_install.py
# runs it; for bench, popa3d (it conflicts with dovecot-pop3d: both
# provide pop3-server) into $POPA3D_DIR, where regress/bench/suite.py runs
# it under openbsd-inetd.  Their libraries are in the lists below.
set -e

BUILD="gcc make pkg-config libc6-dev libssl-dev libbsd-dev libseccomp-dev
libpam0g-dev libpam-modules libcrypt-dev libgdbm-dev libkrb5-dev openssl
passwd mandoc"
CHECK="$BUILD fetchmail mpop curl ca-certificates python3 openbsd-inetd
strace procps systemd liblockfile-bin iproute2 procmail getmail6 krb5-kdc
krb5-admin-server krb5-user python3-gssapi util-linux git dpkg-dev
debhelper fakeroot build-essential lintian libwrap0 libtirpc3
python3-prometheus-client haproxy"
POPA3D_DIR=/var/cache/popsep-bench/popa3d
XINETD_DIR=/var/cache/popsep-test/xinetd
case "${1:-check}" in
build)	want=$BUILD ;;
check)	want=$CHECK ;;
bench)	want="$CHECK dovecot-pop3d" ;;
fuzz)	want="$BUILD clang libclang-rt-14-dev" ;;
*)	echo "usage: deps.sh [build|check|bench|fuzz]" >&2; exit 2 ;;
esac

# unpack PACKAGE DIR: PACKAGE's files under DIR, unless its daemon is
# there already (installed or unpacked).
unpack() {
	[ -x "/usr/sbin/$1" ] || [ -x "$2/usr/sbin/$1" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "deps: $1 is not unpacked (run sh etc/deps.sh as root)" >&2
		return 1
	fi
	echo "deps: unpacking Debian's $1 into $2"
	tmp=$(mktemp -d)
	chmod 755 "$tmp"	# apt-get download runs as _apt
	rc=0
	(cd "$tmp" && { apt-get download -qq "$1" 2>/dev/null ||
	    { apt-get update -qq && apt-get download -qq "$1"; }; }) &&
	    mkdir -p "$2" && dpkg-deb -x "$tmp/$1"_*.deb "$2" || rc=1
	rm -rf "$tmp"
	return $rc
}

# xinetd only adds a test (which says SKIP without it); popa3d is what
# bench measures against.
unpack_extra() {
	case "$1" in
	check|bench)
		unpack xinetd "$XINETD_DIR" ||
		    echo "deps: xinetd not unpacked; its test will be skipped" >&2
		;;
	esac
	if [ "$1" = bench ]; then
		unpack popa3d "$POPA3D_DIR" || exit 1
	fi
}

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	unpack_extra "${1:-check}"
	exit 0
fi
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
	{ apt-get update -qq &&
	  apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
unpack_extra "${1:-check}"
echo "deps: done"
