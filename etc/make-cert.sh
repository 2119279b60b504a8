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
# make-cert CERT KEY [NAME]: a self-signed certificate for popsepd, as
# Debian's ssl-cert makes its "snakeoil" pair, so that a fresh install
# starts with TLS; clients must be told to trust it (or it is replaced
# with one a CA signed).  RSA 2048 bits, ten years, subject and
# subjectAltName NAME (the host's full name by default).  Run as root by
# "make install" and the Debian package's postinst.  Does nothing if
# either file exists: an administrator's certificate or key is never
# replaced.  The key is created mode 0600, the certificate 0644.
set -eu
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: make-cert CERT KEY [NAME]" >&2
	exit 2
fi
cert=$1 key=$2
name=${3:-$(hostname -f 2>/dev/null || hostname)}
if [ -e "$cert" ] || [ -e "$key" ]; then
	echo "make-cert: $cert or $key exists; not replaced"
	exit 0
fi
# The name goes into -subj and -addext: host-name characters only.
case "$name" in
''|*[!A-Za-z0-9.-]*)
	echo "make-cert: \"$name\" is not a host name" >&2
	exit 1 ;;
esac
umask 077
mkdir -p "$(dirname "$cert")" "$(dirname "$key")"
# Made beside the certificate, so that each file appears whole, by rename.
tmp=$(mktemp -d "$(dirname "$cert")/.make-cert.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -subj "/CN=$name" -addext "subjectAltName=DNS:$name" \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>"$tmp/err" ||
	{ cat "$tmp/err" >&2; exit 1; }
chmod 0644 "$tmp/cert.pem"
mv "$tmp/key.pem" "$key"
mv "$tmp/cert.pem" "$cert"
echo "make-cert: made a self-signed certificate for $name: $cert, $key"
