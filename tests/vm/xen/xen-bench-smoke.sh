#!/usr/bin/env bash
# VM test: the Xen transport's benchmark (bench/xen-bench.sh) small, so that
# CI runs it on every change: in each of its two configurations (one boot
# of real Xen each: one vCPU with blocking waits, two vCPUs with hostrpc's
# spins), 100 round trips and 8 MiB through hostrpc (hostrpcd --xen,
# hrpc-echo in the domU), through libxenvchan's own pair (vchan-bench), and
# the bare event-channel ping-pong.  Passes when the benchmark exited 0 and
# printed a number in every row and every ratio of both configurations; the
# ratios' values are diagnostics (a small run on a busy 2-core machine says
# little).
set -uo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
tmp=$(mktemp -d "${TMPDIR:-/tmp}/xen-bench-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

rc=0
XEN_BENCH_N=100 XEN_BENCH_MIB=8 bash "$top_srcdir/bench/xen-bench.sh" > "$tmp/out" 2> "$tmp/err" || rc=$?
if [ "$rc" = 77 ]; then
	grep -m1 '^1\.\.0 # SKIP' "$tmp/out" || echo "1..0 # SKIP the benchmark cannot run here"
	exit 77
fi
echo "1..4"
sed 's/^/# /' "$tmp/out"
[ "$rc" = 0 ] || tail -20 "$tmp/err" | sed 's/^/# stderr: /'
ok() { if [ "$1" = 0 ]; then echo "ok $2"; else echo "not ok $2"; fi; }
num='[0-9]+(\.[0-9]+)?'
r=0; { [ "$rc" = 0 ] && ! grep -q '^FAILED' "$tmp/out"; } || r=1
ok $r "1 - the benchmark ran both sides, nothing failed (exit $rc)"
# count REGEX: how many lines of the output match
count() { grep -cE "$1" "$tmp/out"; }
r=0
[ "$(count '^## -smp 1: ')" = 1 ] && [ "$(count '^## -smp 2: ')" = 1 ] || r=1
for m in irq poll async; do
	[ "$(count "^hostrpc echo \($m\) +$num +$num\$")" = 2 ] || r=1
done
[ "$(count "^hostrpc \(1 MiB SINK calls\) +$num\$")" = 2 ] || r=1
ok $r "2 - hostrpc's rows in both configurations: round trips in three wait modes and bulk"
r=0
[ "$(count "^libxenvchan \(64 KiB rings\) +$num( +$num)?\$")" = 4 ] || r=1
[ "$(count "^floor: bare event-channel ping-pong +$num +$num\$")" = 2 ] || r=1
ok $r "3 - libxenvchan's rows (round trip and bulk) and the event-channel floor in both"
r=0
[ "$(count "^ratio round trip vchan/hostrpc: ${num}x \(irq\), ${num}x \(poll\); p50: ${num}x \(irq\), ${num}x \(poll\)\$")" = 2 ] || r=1
[ "$(count "^ratio round trip vchan/floor: ${num}x; p50: ${num}x\$")" = 2 ] || r=1
[ "$(count "^ratio bulk hostrpc/vchan: ${num}x\$")" = 2 ] || r=1
ok $r "4 - every ratio printed in both configurations"
