#!/bin/sh
# make bench-tls: TLS handshakes per second and handshake latency, popsepd
# (keys in the key process) side by side with Dovecot's POP3 server and
# with a comparison build of popsepd that keeps the key in the TLS context
# of every network child (-DPOPSEP_BENCH_KEY_IN_CHILD, built here only).
# Each round runs the servers one after the other with the same client
# (regress/bench/tlsbench.c), for RSA-2048 and P-256 certificates, TLS 1.3
# and 1.2; ratios are of the same round.  Loopback only, high ports.
set -eu
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${BENCH_CONNS:-600}
PAR=${BENCH_PAR:-1}
ROUNDS=${BENCH_ROUNDS:-3}
D=$(mktemp -d /tmp/popsep-bench.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	rm -rf "$D"
}
trap cleanup EXIT INT TERM

[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }
command -v dovecot >/dev/null || { echo "bench: dovecot-pop3d missing (make deps)" >&2; exit 1; }
sh "$TOP/etc/users.sh" >/dev/null
getent passwd popsep-demo >/dev/null ||
	useradd -r -M -d /nonexistent -s /usr/sbin/nologin popsep-demo

cc -O2 -o "$D/tlsbench" "$TOP/regress/bench/tlsbench.c" -lssl -lcrypto
make -C "$TOP" --no-print-directory -j2 BUILD=build-bench \
    CFLAGS="-O2 -g -DPOPSEP_BENCH_KEY_IN_CHILD" build-bench/popsepd >/dev/null
KIC="$TOP/build-bench/popsepd"

mkdir -p "$D/empty" "$D/spool" "$D/home"
chmod 755 "$D" "$D/empty" "$D/home"
printf 'From a@b Mon Nov 30 09:00:00 2026\nSubject: x\n\nx\n' > "$D/spool/demo"
chown -R popsep-demo:popsep-demo "$D/spool" "$D/home"
printf 'demo:%s:popsep-demo:popsep-demo:%s/spool/demo\n' \
    "$(openssl passwd -6 demo)" "$D" > "$D/passwd"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 2 \
    -keyout "$D/rsa-key.pem" -out "$D/rsa-cert.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=localhost -days 2 -keyout "$D/ec-key.pem" \
    -out "$D/ec-cert.pem" 2>/dev/null

port=24000
start_popsep() {	# binary keytype
	port=$((port + 1))
	cat > "$D/p.conf" <<CONF
set listen-tls = 127.0.0.1:$port
set listen = 127.0.0.1:$((port + 500))
set tls-server-cert-file = $D/$2-cert.pem
set tls-private-key-file = $D/$2-key.pem
set passwd-file = $D/passwd
set chroot-dir = $D/empty
set max-sessions = 1000
set max-per-source = 1000
set max-startups = 1000
set tls-sign-rate = 100000
CONF
	"$1" -d -f "$D/p.conf" 2>>"$D/popsepd.log" &
	SRV=$!
	PIDS="$PIDS $SRV"
	sleep 0.5
}

start_dovecot() {	# keytype
	port=$((port + 1))
	mkdir -p "$D/dv"
	cat > "$D/dv/dovecot.conf" <<CONF
base_dir = $D/dv/run
state_dir = $D/dv/state
log_path = $D/dv/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = required
ssl_cert = <$D/$1-cert.pem
ssl_key = <$D/$1-key.pem
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = scheme=CRYPT username_format=%u $D/passwd
}
userdb {
  driver = static
  args = uid=popsep-demo gid=popsep-demo home=$D/home
}
mail_location = mbox:$D/home:INBOX=$D/spool/demo
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = $port
    ssl = yes
  }
  process_limit = 1000
}
service anvil {
  client_limit = 1100
  chroot =
}
CONF
	dovecot -F -c "$D/dv/dovecot.conf" &
	SRV=$!
	PIDS="$PIDS $SRV"
	sleep 1
}

stop() {
	kill "$SRV" 2>/dev/null || true
	wait "$SRV" 2>/dev/null || true
	sleep 0.3
}

measure() {	# label version
	"$D/tlsbench" 127.0.0.1 "$port" 50 1 "$2" >/dev/null	# warm-up
	r=$("$D/tlsbench" 127.0.0.1 "$port" "$N" "$PAR" "$2")
	echo "$1 $2 $r"
}

echo "popsep bench: $N connections per measurement, $PAR client(s), $ROUNDS rounds"
echo "machine: $(nproc) cores, $(uname -r), $(openssl version)"
for round in $(seq 1 "$ROUNDS"); do
	for key in rsa ec; do
		for v in tls1.3 tls1.2; do
			start_popsep "$TOP/$BUILD/popsepd" $key
			measure "round=$round key=$key server=popsepd" $v
			stop
			start_popsep "$KIC" $key
			measure "round=$round key=$key server=popsepd-key-in-child" $v
			stop
			start_dovecot $key
			measure "round=$round key=$key server=dovecot" $v
			stop
		done
	done
done | tee "$D/results.txt"

echo
echo "medians over rounds (mean_ms, conn_per_s); ratios against the other servers:"
awk '
{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
  k = f["key"] " " $4; s = f["server"]; r = f["round"]
  lat[k, s] = lat[k, s] " " f["mean_ms"]; cps[k, s] = cps[k, s] " " f["conn_per_s"]
  one[k, s, r] = f["mean_ms"]; rounds[r] = 1; keys[k] = 1 }
function med(list,   a, n, i, j, t) {
  n = split(list, a, " ")
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
  return a[int((n + 1) / 2)] }
END {
  for (k in keys) {
    p = med(lat[k, "popsepd"]); c = med(lat[k, "popsepd-key-in-child"]); d = med(lat[k, "dovecot"])
    diffs = ""
    for (r in rounds) diffs = diffs " " (one[k, "popsepd", r] - one[k, "popsepd-key-in-child", r])
    printf "%-12s popsepd %.3f ms %s/s | key-in-child %.3f ms %s/s | dovecot %.3f ms %s/s | delegation cost (median of rounds) %+.3f ms | popsepd/dovecot latency %.2f\n", \
      k, p, med(cps[k, "popsepd"]), c, med(cps[k, "popsepd-key-in-child"]), d, med(cps[k, "dovecot"]), med(diffs), p / d
  }
}' "$D/results.txt"
