#!/bin/sh
# Builds popsep's libFuzzer targets (regress/fuzz/fuzz_*.c) with clang,
# ASan and UBSan into build-fuzz/, then runs each for SECONDS (default
# 60).  The corpus of each target is kept in build-fuzz/corpus/NAME and
# seeded on first use; crashing inputs go to build-fuzz/artifacts/NAME/.
# Prints one line per target; exits non-zero if any target crashed.
#
#	sh regress/fuzz/run.sh [SECONDS]
#	FUZZ_CC=clang-14 sh regress/fuzz/run.sh 600
#	FUZZ_CFLAGS=-DFUZZ_NO_UID_UNIQUE sh regress/fuzz/run.sh
#	FUZZ_TARGETS="fuzz_keysign fuzz_sasl" sh regress/fuzz/run.sh 180
# (the third skips fuzz_mbox's UID uniqueness check; the last runs only
# the targets named).
#
#	sh regress/fuzz/run.sh --replay BUILDDIR
# builds the targets with cc and regress/fuzz/replay.c instead of
# libFuzzer into BUILDDIR/fuzz-replay and runs each on its seeds, printing
# a PASS line per input: what "make check" runs.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SRC="$TOP/regress/fuzz"
PKG_CFLAGS=$(pkg-config --cflags openssl libbsd-overlay 2>/dev/null)
PKG_LIBS=$(pkg-config --libs openssl libbsd-overlay 2>/dev/null)
INC="-I$TOP/lib -I$TOP/net -I$TOP/proto -I$TOP/spool -I$TOP/privsep -I$TOP/auth"
REPLAY=
if [ "${1:-}" = "--replay" ]; then
	REPLAY=1
	OUT="${2:?usage: run.sh --replay BUILDDIR}/fuzz-replay"
	CC=${CC:-cc}
	CFLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror \
	    -Wno-format-truncation $INC \
	    $PKG_CFLAGS ${XCFLAGS:-}"
	EXTRA="$SRC/replay.c"
else
	SECS=${1:-60}
	OUT="$TOP/build-fuzz"
	CC=${FUZZ_CC:-clang}
	CFLAGS="-g -O1 -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Wall -Wextra -Werror -Wno-unused-command-line-argument $INC \
	    $PKG_CFLAGS ${FUZZ_CFLAGS:-}"
	EXTRA=
fi

# Every target: built below, seeded, replayed or run.
TARGETS="fuzz_pop3_cmd fuzz_mbox fuzz_msg fuzz_journal fuzz_cache fuzz_sasl
fuzz_popauth_db fuzz_pop3_session fuzz_keysign fuzz_relay_log
fuzz_passwd_file fuzz_proxy"

mkdir -p "$OUT" || exit 1
build() {
	name=$1; shift
	[ -n "$REPLAY" ] || echo "building $name"
	# shellcheck disable=SC2086
	$CC $CFLAGS -o "$OUT/$name" "$SRC/$name.c" "$@" $EXTRA $PKG_LIBS ||
	    exit 1
}
build fuzz_pop3_cmd "$TOP/proto/pop3_cmd.c" "$TOP/lib/names.c"
build fuzz_mbox "$SRC/spool_stubs.c" "$TOP/spool/mbox.c" "$TOP/spool/mbox_parse.c" \
    "$TOP/spool/uid.c" "$TOP/spool/journal.c"
build fuzz_msg "$TOP/privsep/msg.c"
build fuzz_sasl "$TOP/proto/sasl.c"
build fuzz_journal "$SRC/spool_stubs.c" "$TOP/spool/journal.c"
build fuzz_cache "$SRC/spool_stubs.c" "$TOP/spool/cache.c" "$TOP/spool/mbox.c" \
    "$TOP/spool/mbox_parse.c" "$TOP/spool/uid.c" "$TOP/spool/journal.c"
build fuzz_popauth_db "$SRC/spool_stubs.c" "$TOP/auth/popauth_db.c" \
    "$TOP/lib/names.c" "$TOP/lib/dlib.c"
build fuzz_pop3_session "$TOP/proto/pop3.c" "$TOP/proto/pop3_cmd.c" "$TOP/lib/names.c" \
    "$TOP/proto/sasl.c" "$TOP/net/io.c" "$TOP/lib/log.c"
build fuzz_keysign "$TOP/privsep/keysign.c"
build fuzz_relay_log "$TOP/privsep/proc.c" "$TOP/privsep/msg.c" \
    "$TOP/lib/log.c"
build fuzz_passwd_file "$TOP/auth/passwd_file.c" "$TOP/lib/log.c" -lcrypt
build fuzz_proxy "$TOP/net/proxy.c"

# seed DIR NAME PRINTF-FORMAT: one seed file, written once.
seed() {
	[ -f "$1/$2" ] || printf "$3" >"$1/$2"
}
C="$OUT/corpus"
for t in $TARGETS; do
	mkdir -p "$C/$t"
done
seed "$C/fuzz_pop3_cmd" user 'USER alice'
seed "$C/fuzz_pop3_cmd" pass 'PASS my secret pass'
seed "$C/fuzz_pop3_cmd" top 'top 1 10'
seed "$C/fuzz_pop3_cmd" list 'LIST  000001 '
seed "$C/fuzz_pop3_cmd" apop 'APOP bob c4c9334bac560ecc979e58001b3e22fb'
seed "$C/fuzz_mbox" two 'From a Mon\nSubject: one\nX-UIDL: abc\n\nbody\n.dot\n\nFrom b Tue\r\nS: 2\r\n\r\nx\r\n'
seed "$C/fuzz_mbox" dups 'From a\nX-UIDL: d\n\n1\n\nFrom a\nX-UIDL: d\n\n2\n\nFrom a\nS: 1\n\n3\n\nFrom a\nS: 1\n\n4'
seed "$C/fuzz_mbox" body 'From a\nS: 1\n\nFrom inside\n>From x\n\n\nFrom b\n\n'
seed "$C/fuzz_mbox" clen 'From a\nContent-Length: 29\n\nHi\n\nFrom the desk of Bob\nbye\n\nFrom b\nS: 2\n\nx\n'
seed "$C/fuzz_mbox" clen-bad 'From a\nContent-Length: 35\n\nHi\n\nFrom the desk\n\nFrom b\nContent-Length: 18446744073709551616\nContent-Length: 2\n\nab\nFrom c\n'
seed "$C/fuzz_mbox" clen-crlf 'From a\r\nContent-Length: 21\r\n\r\nHi\r\n\r\nFrom the desk\r\n\r\nFrom b\r\ncontent-length:\r\n 3\r\n\r\nx\r\n'
seed "$C/fuzz_mbox" mmdf '\001\001\001\001\nFrom a Mon\nS: 1\nX-UIDL: m1\n\nbody\n\nFrom x\n\001\001\001\001\n\001\001\001\001\nS: 2\n\n.dot\n\001\001\001\001\n\n'
seed "$C/fuzz_mbox" mmdf-odd '\001\001\001\001\r\nS: 1\r\n\001\001\001\001\r\nstray\n\001\001\001\001\n\001\001\001\001\001\n\001\001\001\001\nFrom b\nno end'
seed "$C/fuzz_mbox" pseudo "From MAILER-DAEMON Mon\nSubject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1 2\n\ntext\n\nFrom a\nS: 1\n\nx\n\nFrom b\nS: 2\n\ny\n"
seed "$C/fuzz_mbox" pseudo-mmdf "\001\001\001\001\nFrom MAILER-DAEMON\nX-IMAPbase: 1\nSubject:  DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA \r\n\nt\n\001\001\001\001\n\001\001\001\001\nS: 2\n\ny\n\001\001\001\001\n"
# flags 0x44: repair header, known type; 2 ops: str, end; frame STR "hi".
seed "$C/fuzz_msg" str '\014\002\055\006\003\000\001\001\007\000\000\000\003\000\000\000hi\000'
seed "$C/fuzz_msg" fd '\125\001\002\003\000\002\001\004\000\000\000\001\002\003\004'
# box length, bytes, w, three ranges, where the copy stopped, mail, damage.
seed "$C/fuzz_journal" shrink '\040\000From a\n\nbody one\n\nFrom b\n\ntwo\n\000\010\000\020\000\010\000\030\000\004\000\000\000\000\001\000\001\001\001'
seed "$C/fuzz_journal" grow '\377\377\000\000\000\000\000\377\377\000\000\377\377\000\001\000\000\001\000\020\000\001\000\001'
seed "$C/fuzz_journal" damage '\020\000abcdefghijklmnop\000\004\000\002\000\004\000\000\000\000\000\000\000\000\000\000\000\003\000\000\011\377\000\000\024\377\000\000\000\000'
seed "$C/fuzz_journal" coincide '\000\000F#\032\001\377.incl\000\000\377.include$ude$\000F\000\377.\004[\000\000\000\000\000\000\000nclude$\000F#Fr\000\001r \000]\000'
# box length, box, then operations: 3 = append, 0 = flip, 1 = cut, 2 = raw.
seed "$C/fuzz_cache" append '\000\052From a\nS: 1\n\nbody\n\nFrom b\nS: 2\n\ntwo\n\n\003\020From c\nS: 3\n\nx\n'
seed "$C/fuzz_cache" clen '\000\066From a\nContent-Length: 40\n\nHi\n\nFrom b\nS: 2\n\ntwo\n\n\003\022\nFrom c\nS: 3\n\nxyz\n'
seed "$C/fuzz_cache" flip '\000\040From a\nX-UIDL: u1\n\nb\n\nFrom b\n\nc\n\000\000\000\170\004\003\006From d'
seed "$C/fuzz_cache" cut '\000\036\001\001\001\001\nFrom a\nS: 1\n\nb\n\001\001\001\001\n\001\000\000\100'
# An MMDF text message (no delimiter: from == body) continued from the cache.
seed "$C/fuzz_cache" mmdf-text '\000\036\001\001\001\001\012Fb\012\001\001\001\001\012\001\001\001\001\015\012\001\000\000@qqqqqqqqqqq\012Fb\012\021\001\001\001\012\001\001\001\001\015\012\001\000\000@qqqqqqqqqqq'
seed "$C/fuzz_sasl" plain 'AGFsaWNlAHNlY3JldA=='
seed "$C/fuzz_sasl" authzid 'Ym9iAGFsaWNlAHB3'
seed "$C/fuzz_sasl" bits 'Zh=='
seed "$C/fuzz_sasl" pad1 'Zm9vYmE='
# A database of three users made by popauth(8), the same cut short, none,
# and one whose hash directory misses a record that iteration finds.
P="$C/fuzz_popauth_db"
for f in small inconsistent; do
	[ -f "$P/$f" ] || cp "$SRC/seeds/fuzz_popauth_db.$f" "$P/$f"
done
[ -f "$P/truncated" ] || head -c 700 "$SRC/seeds/fuzz_popauth_db.small" >"$P/truncated"
seed "$P" empty ''
# flags (1 APOP stamp, 2 chunky, 4 LOGIN-DELAY, 8 GSSAPI), k, k piece
# sizes, client.
seed "$C/fuzz_pop3_session" login '\000\000USER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 1\r\nDELE 1\r\nLIST 9\r\nRSET\r\nNOOP\r\nQUIT\r\n'
seed "$C/fuzz_pop3_session" apop '\001\001\003CAPA\r\nAPOP alice C4C9334BAC560ECC979E58001B3E22FB\r\nLIST 2\r\nUIDL 1\r\nRETR 3\r\nNOOP\r\n'
seed "$C/fuzz_pop3_session" sasl '\002\002\000\007AUTH\r\nAUTH PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nCAPA\r\nRETR 4\r\nSTAT\r\n'
seed "$C/fuzz_pop3_session" in-use '\004\000capa\nUSER bob\nPASS secret\nAUTH PLAIN *\nQUIT\n'
seed "$C/fuzz_pop3_session" bad '\003\000APOP x y\r\nAPOP alice 0123456789abcdef0123456789abcdef\r\nAPOP alice c4c9334bac560ecc979e58001b3e22fb\r\nPASS x\r\nUSER a/b\r\nSTLS\r\nAUTH PLAIN\r\n*\r\nAUTH X\r\nRETR 1\r\n\000\r\n'
seed "$C/fuzz_pop3_session" gssapi '\010\000AUTH GSSAPI\r\nYw==\r\nY2M=\r\nb2s=\r\nSTAT\r\nAUTH GSSAPI\r\n*\r\nQUIT\r\n'
seed "$C/fuzz_pop3_session" echo '\000\000USER alice\r\nPASS secret\r\nLIST \033[2J\r\nTOP 1 \r\r\nQUIT\r\n'
SP64=$(printf '%64s' '')
R32=RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR
# byte 0: 1 RSA key, 2 byte 1 picks a TLS scheme; then the bytes to sign.
seed "$C/fuzz_keysign" tls13-pss "\\003\\010\\000${SP64}TLS 1.3, server CertificateVerify\\000$R32"
seed "$C/fuzz_keysign" tls13-ecdsa "\\002\\005\\000${SP64}TLS 1.3, server CertificateVerify\\000$R32$R32"
seed "$C/fuzz_keysign" tls13-client "\\003\\010\\000${SP64}TLS 1.3, client CertificateVerify\\000$R32"
seed "$C/fuzz_keysign" tls12-x25519 "\\003\\002\\000$R32$R32\\003\\000\\035\\040$R32"
seed "$C/fuzz_keysign" tls12-p256 "\\000\\004\\003$R32$R32\\003\\000\\027\\101\\004$R32$R32"
seed "$C/fuzz_keysign" sha1 "\\001\\002\\001$R32$R32\\003\\000\\035\\040$R32"
# byte 0: 0-3 the sender, 4 fix the length, 8 debug; u8 priority, u32, line.
seed "$C/fuzz_relay_log" own '\004\006\000\000\000\000net 4f1c2a9e0b7d3856: hello'
seed "$C/fuzz_relay_log" spoof '\005\003\000\000\000\000net 4f1c2a9e0b7d3856: not the spool'
seed "$C/fuzz_relay_log" ctl '\016\177\000\000\000\000key: \033[31m\ttab\r\nnext\377'
seed "$C/fuzz_relay_log" debug '\014\007\000\000\000\000debug line'
seed "$C/fuzz_relay_log" badlen '\000\006\377\000\000\000abc'
# byte 0: names - 1; the names, one a line; then the file.
seed "$C/fuzz_passwd_file" ok '\001alice\nbob\n# comment\n\nalice:$6$salt$hash:1000:1000:/var/mail/alice\nbob:x:root:mail:/var/mail/bob'
seed "$C/fuzz_passwd_file" malformed '\003a\nb\nc\nd\na:h:1:1:rel\nb:h:1:1:/m:extra\nc:h:1\nd::1:1:/m\n'
# A line longer than 1534 bytes, and a NUL: neither ends a line.
LONG=$(printf '%1521s' '' | tr ' ' x)
seed "$C/fuzz_passwd_file" long "\\000bob\\nalice:h:1:1:/m${LONG}bob:h:1:1:/stolen\\n"
seed "$C/fuzz_passwd_file" nul '\001a\nb\na:h:1:1:/m\000x\nb\000:h:1:1:/n\n'
seed "$C/fuzz_passwd_file" first '\002e\ne:\nf\ne:h:1:1:/first\ne:h:2:2:/second\n#f:h:1:1:/c\nf:h:nosuchuser-e2e:1:/m\n'
seed "$C/fuzz_proxy" v1-tcp4 'PROXY TCP4 127.0.0.4 127.0.0.2 47800 1110\r\nUSER a\r\n'
seed "$C/fuzz_proxy" v1-tcp6 'PROXY TCP6 2001:db8::1 ::1 65535 110\r\n'
seed "$C/fuzz_proxy" v1-unknown 'PROXY UNKNOWN\r\n'
seed "$C/fuzz_proxy" v2-tcp4 '\r\n\r\n\000\r\nQUIT\n\041\021\000\014\177\000\000\004\177\000\000\002\272\270\004\126CAPA\r\n'
seed "$C/fuzz_proxy" v2-tcp6-tlv '\r\n\r\n\000\r\nQUIT\n\041\041\000\053\040\001\015\270\000\000\000\000\000\000\000\000\000\000\000\005\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\001\000\120\004\126\001\000\004h2xy'
seed "$C/fuzz_proxy" v2-local '\r\n\r\n\000\r\nQUIT\n\040\000\000\000'
seed "$C/fuzz_msg" any '\044\003\000\001\022\003\000\003\001\000\000\000\000\000\000\000\000'

if [ -n "$REPLAY" ]; then
	for t in $TARGETS; do
		"$OUT/$t" "$C/$t"/* || exit 1
	done
	exit 0
fi

fail=0
for t in ${FUZZ_TARGETS:-$TARGETS}; do
	A="$OUT/artifacts/$t"
	mkdir -p "$A"
	dict=
	[ -f "$SRC/$t.dict" ] && dict="-dict=$SRC/$t.dict"
	# shellcheck disable=SC2086
	"$OUT/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$A/" $dict "$C/$t" \
	    >"$OUT/$t.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$t.log")
	cov=$(grep -o 'cov: [0-9]*' "$OUT/$t.log" | tail -1)
	if [ "$rc" -ne 0 ]; then
		fail=1
		echo "$t: CRASH (exit $rc) after ${runs:-?} runs; see $OUT/$t.log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|invariant failed|.*runtime error)' \
		    "$OUT/$t.log" | head -5 | sed 's/^/    /'
		ls "$A" | sed "s|^|    input: $A/|"
	else
		echo "$t: ok, ${runs:-?} runs in ${SECS}s, $cov"
	fi
done
exit $fail
