#!/usr/bin/env bash
# VM test: issue 14's benchmark (bench/migrate-forward-bench.sh) in a quick
# mode (20 s guest runs), so that CI runs it on every change: the latency a
# forwarded call adds, and the downtime with and without --prepare, each
# against its baseline from the same run.
#
# Passes when both migrations ran, every number was measured, and both
# guests' connections worked to the end with every byte right; the numbers
# are printed, not judged (a quick run on a busy machine says little).
set -uo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
tmp=$(mktemp -d "${TMPDIR:-/tmp}/migrate-forward-bench-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

rc=0
FWD_BENCH_SECS=20 bash "$top_srcdir/bench/migrate-forward-bench.sh" > "$tmp/out" 2> "$tmp/err" ||
	rc=$?
if [ "$rc" = 77 ]; then
	grep -m1 '^1\.\.0 # SKIP' "$tmp/out" || echo "1..0 # SKIP the benchmark cannot run here"
	exit 77
fi
echo "1..5"
sed 's/^/# /' "$tmp/out"
[ "$rc" = 0 ] || tail -20 "$tmp/err" | sed 's/^/# stderr: /'
ok=0; [ "$rc" = 0 ] || ok=1
echo "$( [ $ok = 0 ] && echo ok || echo not ok ) 1 - the benchmark ran both migrations (exit $rc)"
ok=0
n=$(grep -cE '^r[12]: (forwarded call|moved connection).* [0-9]+ +[0-9]+ +[0-9.]+$' "$tmp/out")
[ "$n" = 4 ] || ok=1
grep -qE '^downtime, paused to resumed .* [0-9]+\.[0-9] +[0-9]+\.[0-9] +[0-9.]+$' "$tmp/out" || ok=1
echo "$( [ $ok = 0 ] && echo ok || echo not ok ) 2 - every latency and downtime was measured ($n of 4 latency rows)"
ok=0
[ "$(grep -c '^connections forwarded / moved (run [12]) *2 *1 *$' "$tmp/out")" = 2 ] || ok=1
echo "$( [ $ok = 0 ] && echo ok || echo not ok ) 3 - in both runs 2 connections stayed at the source and 1 moved"
ok=0
[ "$(grep -c 'fwd done L1=ok L2=ok W=ok' "$tmp/out")" = 2 ] || ok=1
echo "$( [ $ok = 0 ] && echo ok || echo not ok ) 4 - both guests' connections worked to the end, every byte right"
ok=0
grep -q '^remnants that ended by themselves once their connections did: 2$' "$tmp/out" || ok=1
echo "$( [ $ok = 0 ] && echo ok || echo not ok ) 5 - each run's remnant ended by itself once the guest closed its forwarded connections"
