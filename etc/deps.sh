#!/bin/sh
# Installs the Debian packages popsep needs, and only those that are
# missing, saying which.  Run as root.
#
#	sh etc/deps.sh [build|check|bench|fuzz]
#
# build: compile popsepd and run "make demo"; check (the default): also
# what "make check" drives (real clients, inetd, strace); bench: also
# Dovecot, the peer "make bench" measures against; fuzz: clang and its
# sanitizer runtime for "make fuzz".
set -e

BUILD="gcc make pkg-config libc6-dev libssl-dev libbsd-dev libseccomp-dev
libpam0g-dev libpam-modules libcrypt-dev openssl passwd mandoc"
CHECK="$BUILD fetchmail mpop curl ca-certificates python3 openbsd-inetd
strace procps systemd liblockfile-bin iproute2 procmail"
case "${1:-check}" in
build)	want=$BUILD ;;
check)	want=$CHECK ;;
bench)	want="$CHECK dovecot-pop3d" ;;
fuzz)	want="$BUILD clang libclang-rt-14-dev" ;;
*)	echo "usage: deps.sh [build|check|bench|fuzz]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
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
	{ apt-get update -qq &&
	  apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
echo "deps: done"
