#!/usr/bin/env bash
# VM test: memory outsourcing's benchmark (bench/mem-move-bench.sh) small,
# so that CI runs it on every change: 128 MiB moved once from one guest to
# another through hostrpcd's memory service (hostrpcctl memory reclaim +
# grant, two QEMU guests with hostrpc_mem.ko) and once by virtio-balloon
# inflate + deflate through libvirt.
#
# Passes when the benchmark exited 0 (every move measured, nothing FAILED)
# and printed a number in every cell of both rows and the ratio.  The
# ratio's value is a diagnostic, not checked (a small run on a busy machine
# says little).  Skips (exit 77, with the benchmark's reason) when it
# cannot run here: not root, libvirtd not available (the benchmark starts
# it with tools/libvirt-setup start when it may), no hostrpc_mem.ko or
# hostmem-touch waitmap in the guest image, ...
set -uo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mem-move-bench-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

rc=0
MEM_MOVE_BENCH_MIB=128 MEM_MOVE_BENCH_RUNS=1 bash "$top_srcdir/bench/mem-move-bench.sh" \
	> "$tmp/out" 2> "$tmp/err" || rc=$?
if [ "$rc" = 77 ]; then
	grep -m1 '^1\.\.0 # SKIP' "$tmp/out" || echo "1..0 # SKIP the benchmark cannot run here"
	exit 77
fi
echo "1..4"
sed 's/^/# /' "$tmp/out"
[ "$rc" = 0 ] || tail -20 "$tmp/err" | sed 's/^/# stderr: /'
ok() { if [ "$1" = 0 ]; then echo "ok $2"; else echo "not ok $2"; fi; }
r=0; { [ "$rc" = 0 ] && ! grep -q '^FAILED' "$tmp/out"; } || r=1
ok $r "1 - the benchmark moved 128 MiB by both mechanisms, nothing failed (exit $rc)"
num='[0-9]+\.[0-9]+'
r=0; grep -qE "^hostrpc \(reclaim \+ grant \+ map\) +$num +$num +$num +g1->g2 $num\$" "$tmp/out" || r=1
ok $r "2 - hostrpc's row: the move, its reclaim and its grant + map measured"
r=0; grep -qE "^virtio-balloon \(inflate \+ deflate\) +$num +$num +$num +g1->g2 $num\$" "$tmp/out" || r=1
ok $r "3 - virtio-balloon's row: the move, its inflate and its deflate measured"
r=0; grep -qE "^ratio balloon s / hostrpc s: ${num}x " "$tmp/out" || r=1
ok $r "4 - the ratio printed: $(sed -n 's/^ratio balloon s \/ hostrpc s: //p' "$tmp/out")"
