#!/usr/bin/env bash
# VM test: the benchmark of host files in guest processes
# (bench/mem-file-bench.sh) with a 16 MiB file, so that make check runs it
# on every change: a hostrpcfs boot (mmap MAP_SHARED, read()) and a
# virtio-9p boot (read()), the same guest kernel and file.
#
# Passes when both boots measured every step with the right checksum and
# the table has a number in every cell and both ratios.  The ratios are
# printed as diagnostics, not checked (a small run on a busy machine says
# little).  Skips (exit 77) when the benchmark lacks a prerequisite or the
# hostrpcfs boot cannot run (no hostrpcfs.ko, no fs service in hostrpcd).
set -uo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mem-file-bench-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

rc=0
MEM_FILE_BENCH_MIB=16 bash "$top_srcdir/bench/mem-file-bench.sh" > "$tmp/out" 2> "$tmp/err" || rc=$?
if [ "$rc" = 77 ]; then
	grep -m1 '^1\.\.0 # SKIP' "$tmp/out" || echo "1..0 # SKIP the benchmark cannot run here"
	exit 77
fi
why=$(sed -n 's/^hostrpcfs: not available: //p' "$tmp/out")
if [ -n "$why" ] && [ "$rc" = 0 ]; then
	sed 's/^/# /' "$tmp/out"
	echo "1..0 # SKIP the hostrpcfs boot cannot run: $why"
	exit 77
fi
echo "1..3"
sed 's/^/# /' "$tmp/out"
[ "$rc" = 0 ] || tail -20 "$tmp/err" | sed 's/^/# stderr: /'
ok=0; [ "$rc" = 0 ] || ok=1
echo "$( [ $ok = 0 ] && echo ok || echo not ok ) 1 - the benchmark ran both boots, every step's checksum right (exit $rc)"
ok=0
for row in 'hostrpcfs mmap' 'hostrpcfs read()' 'virtio-9p read()'; do
	grep -F "$row" "$tmp/out" | grep -v '^ratio' | grep -qE ' [0-9]+\.[0-9]+ +[0-9]+\.[0-9]+$' ||
		{ echo "# missing a number: $row"; ok=1; }
done
echo "$( [ $ok = 0 ] && echo ok || echo not ok ) 2 - seconds and MiB/s measured for hostrpcfs mmap, hostrpcfs read() and 9p read()"
ok=0
grep -qE '^ratio hostrpcfs mmap vs 9p read\(\): +[0-9.]+x$' "$tmp/out" &&
	grep -qE '^ratio hostrpcfs read\(\) vs 9p read\(\): +[0-9.]+x$' "$tmp/out" || ok=1
echo "$( [ $ok = 0 ] && echo ok || echo not ok ) 3 - both ratios printed ($(grep '^ratio hostrpcfs mmap' "$tmp/out"))"
