#!/bin/sh
# Installs the Debian packages popsep needs, and only those that are
# missing, saying which.  Run as root.
#
#	sh etc/deps.sh [build|check|bench|fuzz]
#
# build: compile popsepd and run "make demo"; check (the default): also
# what "make check" drives (real clients, inetd, strace); bench: also
# Dovecot and popa3d, the peers "make bench" measures against; fuzz: clang
# and its sanitizer runtime for "make fuzz".
#
# popa3d conflicts with dovecot-pop3d (both provide pop3-server), so for
# bench its Debian package is downloaded with apt-get and unpacked into
# $POPA3D_DIR, not installed; regress/bench/suite.py runs it from there
# under openbsd-inetd.
set -e

BUILD="gcc make pkg-config libc6-dev libssl-dev libbsd-dev libseccomp-dev
libpam0g-dev libpam-modules libcrypt-dev libgdbm-dev libkrb5-dev openssl
passwd mandoc"
CHECK="$BUILD fetchmail mpop curl ca-certificates python3 openbsd-inetd
strace procps systemd liblockfile-bin iproute2 procmail getmail6 krb5-kdc
krb5-admin-server krb5-user python3-gssapi"
POPA3D_DIR=/var/cache/popsep-bench/popa3d
case "${1:-check}" in
build)	want=$BUILD ;;
check)	want=$CHECK ;;
bench)	want="$CHECK dovecot-pop3d" ;;
fuzz)	want="$BUILD clang libclang-rt-14-dev" ;;
*)	echo "usage: deps.sh [build|check|bench|fuzz]" >&2; exit 2 ;;
esac

unpack_popa3d() {
	[ "$1" = bench ] || return 0
	[ -x /usr/sbin/popa3d ] || [ -x "$POPA3D_DIR/usr/sbin/popa3d" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "deps: popa3d is not unpacked (run sh etc/deps.sh bench as root)" >&2
		exit 1
	fi
	echo "deps: unpacking Debian's popa3d into $POPA3D_DIR"
	tmp=$(mktemp -d)
	chmod 755 "$tmp"	# apt-get download runs as _apt
	(cd "$tmp" && apt-get download -qq popa3d 2>/dev/null ||
	    { apt-get update -qq && apt-get download -qq popa3d; })
	mkdir -p "$POPA3D_DIR"
	dpkg-deb -x "$tmp"/popa3d_*.deb "$POPA3D_DIR"
	rm -rf "$tmp"
}

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	unpack_popa3d "${1:-check}"
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
unpack_popa3d "${1:-check}"
echo "deps: done"
