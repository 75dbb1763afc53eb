#!/usr/bin/env bash
# VM test: filesystem outsourcing's benchmark (bench/fs-bench.sh) in its
# small mode (16 MiB files, a tree of 300 files), so that CI runs it on
# every change: hostrpcfs, virtio-9p and virtio-fs, the same guest kernel
# and files, one boot each.
#
# Passes when the benchmark ran every step on the three filesystems with
# every check right (the read file's sha256, the tree's counts and sizes,
# the host's copy of the written file, rm), and printed a number in every
# cell and both of hostrpcfs' ratios on every row.  The goals are printed
# with met / NOT MET as diagnostics, not checked (a small run on a busy
# machine says little about them).  Skips (exit 77) only when the hostrpcfs
# row cannot run (no hostrpcfs.ko in the guest image, or a hostrpcd
# without the fs service) or the benchmark lacks a prerequisite; the other
# two rows failing is a failure even then.
set -uo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fs-bench-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

rc=0
FS_BENCH_SMALL=1 BENCH_RUNS=1 bash "$top_srcdir/bench/fs-bench.sh" > "$tmp/out" 2> "$tmp/err" || rc=$?
if [ "$rc" = 77 ]; then
	grep -m1 '^1\.\.0 # SKIP' "$tmp/out" || echo "1..0 # SKIP the benchmark cannot run here"
	exit 77
fi
why=$(sed -n 's/^hostrpcfs: not available: //p' "$tmp/out")
if [ -n "$why" ] && [ "$rc" = 0 ]; then
	sed 's/^/# /' "$tmp/out"
	echo "1..0 # SKIP the hostrpcfs row cannot run: $why"
	exit 77
fi
echo "1..3"
sed 's/^/# /' "$tmp/out"
[ "$rc" = 0 ] || tail -20 "$tmp/err" | sed 's/^/# stderr: /'
ok=0; [ "$rc" = 0 ] || ok=1
echo "$( [ $ok = 0 ] && echo ok || echo not ok ) 1 - the benchmark ran every step on 9p, virtio-fs and hostrpcfs, every check right (exit $rc)"
ok=0
for row in 'seq write' 'seq read' 'untar' 'find' 'stat storm' 'rm -rf'; do
	grep -qE "^$row[ ,].* [0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+x +[0-9.]+x " "$tmp/out" ||
		{ echo "# missing a number: $row"; ok=1; }
done
echo "$( [ $ok = 0 ] && echo ok || echo not ok ) 2 - every row has three times and both ratios"
ok=0
[ -z "$why" ] || { echo "# hostrpcfs: $why"; ok=1; }
echo "$( [ $ok = 0 ] && echo ok || echo not ok ) 3 - the hostrpcfs row ran"
