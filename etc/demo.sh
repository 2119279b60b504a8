#!/bin/sh
# "make demo": a throw-away setup under the build tree and popsepd in the
# foreground on 127.0.0.1:1110 (STLS) and 127.0.0.1:1995 (implicit TLS).
# The chroot is /var/lib/popsep-demo/empty: the start-up self-check wants
# every directory above it to be root's, which a checkout need not be.
# Virtual user "demo", password "demo", mapped to the system user
# popsep-demo.  Ctrl-C stops it.
set -e
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
D="$TOP/$BUILD/demo"
CHROOT=/var/lib/popsep-demo/empty
if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (popsepd drops privileges itself)" >&2
	exit 1
fi
sh "$TOP/etc/users.sh"
if ! getent passwd popsep-demo >/dev/null; then
	useradd -r -M -d /nonexistent -s /usr/sbin/nologin popsep-demo
	echo "demo: created system user popsep-demo (owner of the demo mailbox)"
fi
rm -rf "$D"
mkdir -p "$D/spool" "$CHROOT"
chmod 755 "$D" "$CHROOT" "${CHROOT%/empty}"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=localhost -days 30 -keyout "$D/key.pem" -out "$D/cert.pem" \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
chmod 600 "$D/key.pem"
printf 'demo:%s:popsep-demo:popsep-demo:%s/spool/demo\n' \
    "$(openssl passwd -6 demo)" "$D" > "$D/passwd"
chmod 600 "$D/passwd"
{
	printf 'From alice@example.org Mon Nov 30 09:00:00 2026\n'
	printf 'From: Alice <alice@example.org>\nTo: demo@localhost\n'
	printf 'Subject: Welcome to popsep\n\n'
	printf 'This mailbox is served by popsepd.\n\n'
	printf 'From bob@example.org Mon Nov 30 09:05:00 2026\n'
	printf 'From: Bob <bob@example.org>\nTo: demo@localhost\n'
	printf 'Subject: Dots\n\n.A line that starts with a dot.\n..and two.\n\n'
	printf 'From carol@example.org Mon Nov 30 09:10:00 2026\n'
	printf 'From: Carol <carol@example.org>\nTo: demo@localhost\n'
	printf 'Subject: Privilege separation\n\n'
	printf 'The network child runs as _popsep in an empty chroot.\n'
} > "$D/spool/demo"
chown popsep-demo:popsep-demo "$D/spool/demo"
chmod 600 "$D/spool/demo"
cat > "$D/popsepd.conf" <<CONF
# popsep demo configuration (made by etc/demo.sh)
set listen = 127.0.0.1:1110
set listen-tls = 127.0.0.1:1995
set tls-server-cert-file = $D/cert.pem
set tls-private-key-file = $D/key.pem
set passwd-file = $D/passwd
set chroot-dir = $CHROOT
set statistics
CONF
echo
echo "popsepd demo: 127.0.0.1:1110 (STLS) and 127.0.0.1:1995 (TLS); user demo, password demo"
echo "List the demo mailbox with:"
echo "  curl --cacert $D/cert.pem pop3s://localhost:1995/ -u demo:demo"
echo "Ctrl-C stops the server."
echo
exec "$TOP/$BUILD/popsepd" -d -f "$D/popsepd.conf"
