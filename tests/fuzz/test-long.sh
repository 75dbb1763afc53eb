#!/bin/sh
# make fuzz-long's campaign bookkeeping (tests/fuzz/long.sh), on two fast
# targets and a few thousand executions: the table, the ledgers, resuming,
# a target named twice, a target done before, an artifact that blocks its
# target and fails the run.  The 10 M run itself is not part of check.
set -u
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
T=$top_builddir/tests/fuzz
for t in conn client; do
	if [ ! -x "$T/fuzz-$t" ] || [ ! -x "$T/make-seeds" ]; then
		echo "1..0 # SKIP fuzz-$t not built (configure found no clang with -fsanitize=fuzzer; apt-get install clang libclang-rt-14-dev)"
		exit 77
	fi
done
work=$(mktemp -d /tmp/fuzz-long-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
n=0
fail=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fail=1
	fi
}
# long.sh with the campaign in $work/c; the table (stdout) in $work/out.
run() {
	env FUZZ_LONG_WORK="$work/c" FUZZ_LONG_OUT="$work/table" \
		top_builddir="$top_builddir" top_srcdir="$top_srcdir" "$@" \
		sh "$top_srcdir/tests/fuzz/long.sh" > "$work/out" 2> "$work/err"
}
# Column $2 of the table's row $1 (execs: 2, reached: 8).
cell() {
	awk -v t="$1" -v c="$2" '$1 == t { print $c }' "$work/table"
}
lines() {
	[ -f "$1" ] && wc -l < "$1" || echo 0
}

echo "1..8"
run FUZZ_LONG_RUNS=2000 FUZZ_LONG_JOBS=2 FUZZ_LONG_TARGETS="conn client"
rc=$?
ok $(( rc != 0 )) "two targets at once, 2000 runs each: exit $rc"
[ "$(cell conn 2)/$(cell conn 8)/$(cell client 2)/$(cell client 8)" = 2000/yes/2000/yes ]
ok $? "the table: both at 2000, reached yes ($(cell conn 2)/$(cell conn 8), $(cell client 2)/$(cell client 8))"
[ "$(lines "$work/c/conn.ledger")" = 1 ] && grep -q '^[0-9T:-]*Z 2000 [0-9]* ok ' "$work/c/conn.ledger"
ok $? "conn's ledger: one line, 2000 executions, ok"

run FUZZ_LONG_RESUME=1 FUZZ_LONG_RUNS=3000 FUZZ_LONG_JOBS=2 FUZZ_LONG_TARGETS="conn client client"
rc=$?
got=$(awk '{ print $2 }' "$work/c/client.ledger" | tr '\n' ' ')
[ "$rc" = 0 ] && [ "$got" = "2000 500 500 " ] && [ -n "$(cell client 2)" ] &&
	[ -n "$(cell client.1 2)" ]
ok $? "resumed with client named twice: two runs of 500 each, a row each (exit $rc, ledger: $got)"
[ "$(lines "$work/c/conn.ledger")" = 2 ] && [ "$(cell conn 2)" = 3000 ]
ok $? "conn resumed for the 1000 missing (3000 in all)"

run FUZZ_LONG_RESUME=1 FUZZ_LONG_RUNS=3000 FUZZ_LONG_TARGETS="conn"
rc=$?
[ "$rc" = 0 ] && [ "$(lines "$work/c/conn.ledger")" = 2 ] && grep -q 'done before' "$work/table"
ok $? "resumed once more: conn is done before, nothing runs (exit $rc)"

touch "$work/c/conn-crash-0000"
run FUZZ_LONG_RESUME=1 FUZZ_LONG_RUNS=4000 FUZZ_LONG_JOBS=2 FUZZ_LONG_TARGETS="conn client"
rc=$?
[ "$rc" != 0 ] && [ "$(cell conn 8)" = FAIL ] && [ "$(lines "$work/c/conn.ledger")" = 2 ] &&
	[ "$(cell client 2)" = 4000 ] && grep -q 'conn-crash-0000 is still there' "$work/err"
ok $? "an artifact left: conn does not run, FAIL, client still does; the run fails (exit $rc)"

rm -f "$work/c/conn-crash-0000"
run FUZZ_LONG_RUNS=1000 FUZZ_LONG_TARGETS="conn"
rc=$?
[ "$rc" = 0 ] && [ "$(lines "$work/c/conn.ledger")" = 1 ] && [ "$(cell conn 2)" = 1000 ]
ok $? "without FUZZ_LONG_RESUME the campaign starts again (exit $rc)"
[ "$fail" = 0 ] || sed 's/^/# /' "$work/out" "$work/err"
exit $fail
