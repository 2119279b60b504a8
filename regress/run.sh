#!/bin/sh
# Runs every test of popsep: the unit-test programs built in $1/regress/
# and the end-to-end scripts in regress/e2e/.  Each prints one line per
# check, "PASS name", "FAIL name" or "SKIP name (reason)"; this script
# counts them.  A program that exits non-zero without a FAIL line counts
# as one failure.  The last line is "N passed, N failed, N skipped".
# Run as root (the end-to-end tests start the real daemon).
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
export POPSEPD="$TOP/$BUILD/popsepd" POPSEP_TOP="$TOP" POPSEP_BUILD="$TOP/$BUILD"
case "$BUILD" in
*san*)	export POPSEP_SANITIZE=1
	# Children end with _exit(); leaks are looked for by the unit tests.
	export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ;;
esac
LOG=$(mktemp -d /tmp/popsep-check.XXXXXX)
# The daemon's two system users (_popsep, _popsepkey), if missing.
[ "$(id -u)" = 0 ] && sh "$TOP/etc/users.sh"
pass=0; fail=0; skip=0

run_one() {
	name=$1; shift
	out="$LOG/$name.out"
	"$@" >"$out" 2>"$LOG/$name.err"
	rc=$?
	p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out")
	s=$(grep -c '^SKIP ' "$out")
	grep -E '^(FAIL|SKIP) ' "$out" | sed "s/^/  $name: /"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "  $name: FAIL exit status $rc"
		sed 's/^/    | /' "$LOG/$name.err" | tail -15
		f=1
	elif [ "$f" -ne 0 ]; then
		sed 's/^/    | /' "$LOG/$name.err" | tail -15
	fi
	echo "$name: $p passed, $f failed, $s skipped"
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}

for t in "$TOP/$BUILD"/regress/test_*; do
	[ -x "$t" ] || continue
	run_one "$(basename "$t")" "$t"
done
# The fuzz targets still build, and replay their seeds.
run_one fuzz_replay sh "$TOP/regress/fuzz/run.sh" --replay "$TOP/$BUILD"
for t in "$TOP"/regress/e2e/test_*.py; do
	[ -f "$t" ] || continue
	run_one "$(basename "$t" .py)" python3 "$t"
done
echo "logs in $LOG"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
