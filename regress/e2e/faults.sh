#!/bin/sh
# "make faults": many trials of regress/e2e/test_faults.py, in JOBS
# parallel runs (each with its own daemon, ports and spool), then a table
# of trials by fault, point, target and mode with the lost, corrupted and
# duplicated messages, false replies and failed trials.  The results
# (one JSON line per trial), each run's PASS/FAIL lines and the details of
# every failure (with the command that replays it) stay in the folder
# printed at the end.  Run as root.
#
#	sh regress/e2e/faults.sh [BUILD] [TRIALS] [JOBS] [SEED]
BUILD=${1:-build}
TRIALS=${2:-2000}
JOBS=${3:-4}
SEED=${4:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
export POPSEPD="$TOP/$BUILD/popsepd" POPSEP_TOP="$TOP"
OUT=$(mktemp -d /tmp/popsep-faults-run.XXXXXX)
[ "$(id -u)" = 0 ] && sh "$TOP/etc/users.sh"
echo "faults: $TRIALS trials, seed $SEED, $JOBS jobs; results in $OUT"
per=$(( (TRIALS + JOBS - 1) / JOBS ))
start=$(date +%s)
pids=""
j=0
while [ "$j" -lt "$JOBS" ]; do
	first=$(( j * per + 1 ))
	n=$per
	[ $(( first + n - 1 )) -gt "$TRIALS" ] && n=$(( TRIALS - first + 1 ))
	if [ "$n" -gt 0 ]; then
		POPSEP_FAULT_SEED=$SEED POPSEP_FAULT_FIRST=$first \
		    POPSEP_FAULT_TRIALS=$n \
		    POPSEP_FAULT_RESULTS="$OUT/results-$j.jsonl" \
		    python3 "$TOP/regress/e2e/test_faults.py" \
		    >"$OUT/out-$j.txt" 2>"$OUT/err-$j.txt" &
		pids="$pids $!"
	fi
	j=$((j + 1))
done
for p in $pids; do
	wait "$p"
done
secs=$(( $(date +%s) - start ))
python3 "$TOP/regress/e2e/test_faults.py" --table "$OUT"/results-*.jsonl \
    >"$OUT/table.md"
cat "$OUT/table.md"
grep -h '^SKIP ' "$OUT"/out-*.txt | sort -u
p=$(cat "$OUT"/out-*.txt | grep -c '^PASS ')
f=$(cat "$OUT"/out-*.txt | grep -c '^FAIL ')
echo "faults: seed $SEED, $((p + f)) trials in $secs s; failures and replay" \
    "commands in $OUT/err-*.txt"
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
