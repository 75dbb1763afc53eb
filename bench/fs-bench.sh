#!/usr/bin/env bash
# bench/fs-bench.sh - filesystem outsourcing's benchmark (issue 13): a host
# directory in the guest through hostrpcfs against QEMU's virtio-9p and
# virtio-fs, the same guest kernel, image, memory and files, in the same run
# (tests/vm/fs/fs-peers.sh boots them).
#
#   host: one source directory, copied afresh for every boot:
#           r   a file of FS_BENCH_MIB MiB (256) of seeded random bytes
#         a tarball of a tree (5000 files of 0-8 KiB in 100 directories,
#         seeded content) and the list of its files' paths, which travel in
#         the guest's initramfs (RAM), not through the filesystem measured
#   guest (1 vCPU, FS_MEM MiB, TCG), on a mount of the copy at /mnt, each
#   step timed in the guest with /proc/uptime (10 ms resolution), the
#   guest's caches dropped (sync; echo 3 > drop_caches) before each:
#     write  dd if=/dev/zero of=/mnt/f bs=1M count=MIB conv=fsync
#     read   dd if=/mnt/r of=/dev/null bs=1M (the file the host made)
#     untar  busybox tar -xf tree.tar -C /mnt, then sync
#     find   find /mnt/t | wc -l
#     stat   lstat every file of the tree, 3 passes (busybox xargs stat)
#     rm     rm -rf /mnt/t, then sync
#   and checked: the read file's sha256 (guest), the file and entry counts
#   and the stat sizes' sum (guest), /mnt/t gone after rm (guest), the
#   written file's size and zeros (host), a clean umount within 30 s (a
#   peer's hung umount is noted, not failed: QEMU 7.2's C virtiofsd once
#   left it blocked; the guest powers off anyway).
#
# The table: seconds for each filesystem (medians of BENCH_RUNS boots
# each; the boots' order rotates from run to run), and hostrpcfs' speedups
# (virtio-fs s / hostrpcfs s, 9p s / hostrpcfs s; > 1 = hostrpcfs faster).
# Goals (issue 13), reported met / NOT MET, never enforced: >= 1.0x against
# virtio-fs on every row, >= 5x against 9p on the metadata rows (untar,
# find, stat, rm).  Until the guest's hostrpcfs.ko and hostrpcd's fs
# service are in the tree, the hostrpcfs column reads "n/a" and a line
# "hostrpcfs: not available: WHY" says why.
#
# Exit: 0 when every filesystem that can run here ran every step, every
# check right; 1 when a step or a check failed (FAILED lines say which);
# 77 when a prerequisite of the benchmark is missing.
# Environment:
#   BENCH_RUNS=N        boots per filesystem; the table shows medians (1)
#   FS_BENCH_SMALL=1    the smoke run (make check): 16 MiB, 300 files
#   FS_BENCH_MIB, FS_BENCH_FILES  override the sizes
#   FS_BENCH_FS         the filesystems to run ("9p virtiofs hostrpcfs")
#   FS_MEM              guest MiB (1024), HOSTRPC_GUEST_FS_DIR (the image)
#   FS_BENCH_RESULTS=F  also write "FS ROW RUN SECONDS" lines to F
set -euo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/vm/lib.sh"
vm_prepare
# make -j: it loads every core for a minute; alone (tests/lib.sh)
vm_load_lock exclusive
. "$top_srcdir/tests/vm/fs/fs-peers.sh"
command -v python3 > /dev/null || vm_skip "python3 missing (apt-get install python3)"

if [ "${FS_BENCH_SMALL:-0}" = 1 ]; then
	mib=${FS_BENCH_MIB:-16} nfiles=${FS_BENCH_FILES:-300} guest_timeout=240
else
	mib=${FS_BENCH_MIB:-256} nfiles=${FS_BENCH_FILES:-5000} guest_timeout=480
fi
runs=${BENCH_RUNS:-1}
passes=3
ndirs=$(( (nfiles + 49) / 50 ))
fss=${FS_BENCH_FS:-9p virtiofs hostrpcfs}
nfs=$(echo $fss | wc -w)
vm_watchdog $(( runs * nfs * (guest_timeout + 30) + 300 ))
# The watchdog's subshell holds our stdout: it goes when we do.
trap 'kill "$vm_watchdog_pid" 2> /dev/null; fsp_cleanup' EXIT
fsp_image

# ---- the host's files ------------------------------------------------------------
src=$vm_tmp/src gen=$vm_tmp/gen
mkdir -p "$src" "$gen"
total=$(python3 - "$src/r" "$mib" "$gen" "$nfiles" "$ndirs" <<'EOF'
import os, random, sys
path, mib, gen, n, nd = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(13)
with open(path, "wb") as f:
    for _ in range(mib):
        f.write(rng.randbytes(1 << 20))
total = 0
for i in range(n):
    d = os.path.join(gen, "t", "d%03d" % (i % nd))
    os.makedirs(d, exist_ok=True)
    size = rng.randrange(0, 8193)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(rng.randbytes(size))
    total += size
print(total)
EOF
)
sha=$(sha256sum "$src/r" | cut -d' ' -f1)
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$gen" -cf "$vm_tmp/tree.tar" t
(cd "$gen" && find t -type f | LC_ALL=C sort | sed 's|^|/mnt/|') > "$vm_tmp/paths"
nentries=$((nfiles + ndirs + 1))
rm -rf "$gen"

# The guest's side: one script, the filesystem's mount command its argument.
cat > "$vm_tmp/fs-run.sh" <<'EOF'
#!/bin/sh
# fs-run.sh MIB NFILES NENTRIES TOTAL SHA256 PASSES MOUNT-COMMAND
mib=$1 nfiles=$2 nentries=$3 total=$4 sha=$5 passes=$6 mountcmd=$7
fail=0
bad() { echo "FAIL $*"; fail=1; }
now() { read -r up _ < /proc/uptime; echo "$up"; }
# Each step starts from the same state: nothing dirty, nothing cached.
begin() { sync; echo 3 > /proc/sys/vm/drop_caches; t0=$(now); }
end() { echo "T $1 $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')"; }
mkdir -p /mnt
$mountcmd || { echo "FAIL mount: $mountcmd"; exit 1; }

begin
dd if=/dev/zero of=/mnt/f bs=1M count="$mib" conv=fsync 2> /tmp/err || bad "write: $(tail -n 1 /tmp/err)"
end write

begin
dd if=/mnt/r of=/dev/null bs=1M 2> /tmp/err || bad "read: $(tail -n 1 /tmp/err)"
end read
s=$(sha256sum /mnt/r | cut -d' ' -f1)
[ "$s" = "$sha" ] || bad "read: sha256 $s, the host's $sha"

begin
{ tar -xf /hostrpc/tree.tar -C /mnt && sync; } 2> /tmp/err || bad "untar: $(tail -n 1 /tmp/err)"
end untar
n=$(find /mnt/t -type f | wc -l)
[ "$n" = "$nfiles" ] || bad "untar: $n files, the tarball has $nfiles"

begin
n=$(find /mnt/t | wc -l)
end find
[ "$n" = "$nentries" ] || bad "find: $n entries, the tree has $nentries"

begin
i=0
while [ "$i" -lt "$passes" ]; do
	# A pipe, not a redirect: busybox xargs run by busybox sh rereads
	# parts of a seekable stdin (seen as extra and garbled paths).
	cat /hostrpc/paths | xargs stat -c %s || bad "stat: xargs stat failed"
	i=$((i + 1))
done > /tmp/sizes 2> /tmp/err
end stat
awk -v n=$((passes * nfiles)) -v t=$((passes * total)) '{ c++; s += $1 }
	END { if (c != n || s != t) { printf "stat: %d sizes summing to %d, want %d summing to %d\n", c, s, n, t; exit 1 } }' \
	/tmp/sizes > /tmp/why || bad "$(cat /tmp/why)"

begin
{ rm -rf /mnt/t && sync; } 2> /tmp/err || bad "rm: $(tail -n 1 /tmp/err)"
end rm
[ ! -e /mnt/t ] || bad "rm: /mnt/t is still there"

# Not a step: a hung umount (C virtiofsd once left the guest's umount
# blocked in FUSE_DESTROY) is reported and the guest powers off anyway.
umount /mnt 2> /tmp/err &
u=$!
i=0
while kill -0 "$u" 2> /dev/null && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$u" 2> /dev/null; then
	echo "HUNG umount: not done after 30 s"
else
	wait "$u" || bad "umount: $(cat /tmp/err)"
fi
echo "DONE fail=$fail"
exit "$fail"
EOF

kver=$(sed -n 's/^KVER=//p' "$fsp_dir/env" 2> /dev/null || echo "?")
echo "fs-bench: guest kernel $kver, 1 vCPU, $fsp_mem MiB, QEMU TCG; $mib MiB files," \
	"a tree of $nfiles files ($(( total >> 10 )) KiB) in $ndirs directories; $runs run(s)"
results=$vm_tmp/results
: > "$results"
failed=0
hostrpcfs_why=""
if [[ " $fss " == *" hostrpcfs "* ]] && hostrpcfs_why=$(fsp_hostrpcfs_missing); then
	echo "hostrpcfs: not available: $hostrpcfs_why"
fi

# bench_one FS RUN: boot, measure, check; T lines into $results
bench_one() {
	local fs=$1 run=$2 name="$1-$2" exp rc=0 t0 t1 sz
	exp=$vm_tmp/export-$name
	cp -a "$src" "$exp"
	t0=$(date +%s)
	fsp_run "$fs" "$exp" "$name" -t "$guest_timeout" -f "$vm_tmp/fs-run.sh:/hostrpc/fs-run.sh" \
		-f "$vm_tmp/tree.tar:/hostrpc/tree.tar" -f "$vm_tmp/paths:/hostrpc/paths" -- \
		"sh /hostrpc/fs-run.sh $mib $nfiles $nentries $total $sha $passes '$(fsp_mount "$fs")'" \
		> "$vm_tmp/$name.out" 2> "$vm_tmp/$name.err" || rc=$?
	t1=$(date +%s)
	# The host's side of the checks.
	sz=$(stat -c %s "$exp/f" 2> /dev/null || echo none)
	if [ "$sz" != $((mib << 20)) ]; then
		echo "FAIL write: the host sees a file of $sz bytes, want $((mib << 20))" >> "$vm_tmp/$name.out"
	elif ! cmp -s -n $((mib << 20)) "$exp/f" /dev/zero; then
		echo "FAIL write: the host's copy of the file is not all zeros" >> "$vm_tmp/$name.out"
	fi
	[ ! -e "$exp/t" ] || echo "FAIL rm: the host still has the tree" >> "$vm_tmp/$name.out"
	# A peer's hung umount is the peer's (its numbers and checks stand);
	# hostrpcfs' is a failure.
	if grep -q '^HUNG umount' "$vm_tmp/$name.out"; then
		if [ "$fs" = hostrpcfs ]; then
			echo "FAIL umount: hung (more than 30 s)" >> "$vm_tmp/$name.out"
		else
			echo "# note: $fs, run $run: the guest's umount hung (more than 30 s); its numbers stand"
		fi
	fi
	rm -rf "$exp"
	tr -d '\r' < "$vm_tmp/$name.out" | awk -v fs="$fs" -v run="$run" '$1 == "T" { print fs, $2, run, $3 }' >> "$results"
	if [ "$rc" != 0 ] || grep -q '^FAIL' "$vm_tmp/$name.out"; then
		failed=1
		echo "FAILED: $fs, run $run: guest exit $rc after $((t1 - t0)) s"
		grep '^FAIL' "$vm_tmp/$name.out" | sed 's/^/  /' || true
		sed 's/^/  vm-run: /' "$vm_tmp/$name.err"
		echo "  guest console (tail):"
		tail -n 30 "$vm_tmp/$name.console.log" 2> /dev/null | sed 's/^/    /'
		for l in server virtiofsd; do
			[ -s "$vm_tmp/$name.$l.log" ] || continue
			echo "  $l (tail):"
			tail -n 30 "$vm_tmp/$name.$l.log" | sed 's/^/    /'
		done
		# the rows of a failed boot are not measurements
		awk -v fs="$fs" -v run="$run" '!($1 == fs && $3 == run)' "$results" > "$results.tmp"
		mv "$results.tmp" "$results"
	else
		echo "# $fs, run $run: $((t1 - t0)) s from boot to power-off"
	fi
}

order=()
for fs in $fss; do
	case $fs in
	9p|virtiofs|hostrpcfs) ;;
	*) echo "fs-bench: unknown filesystem $fs (9p, virtiofs, hostrpcfs)" >&2; exit 2 ;;
	esac
	[ "$fs" = hostrpcfs ] && [ -n "$hostrpcfs_why" ] && continue
	fsp_available "$fs" || vm_skip "$fs cannot run here ($fsp_virtiofsd missing? apt-get install qemu-system-x86)"
	order+=("$fs")
done
[ ${#order[@]} -gt 0 ] || vm_skip "no filesystem to measure: hostrpcfs: $hostrpcfs_why"
for run in $(seq 1 "$runs"); do
	# Rotate the order, so that no filesystem always boots first.
	k=$(( (run - 1) % ${#order[@]} ))
	for fs in "${order[@]:k}" "${order[@]:0:k}"; do
		bench_one "$fs" "$run"
	done
done
[ -z "${FS_BENCH_RESULTS:-}" ] || cp "$results" "$FS_BENCH_RESULTS"

python3 - "$results" "$mib" "$nfiles" "$nentries" "$passes" "$runs" "$fss" <<'EOF'
import statistics, sys
path, mib, nfiles, nentries, passes, runs, fss = sys.argv[1:8]
fss = fss.split()
vals = {}
for line in open(path):
    fs, row, run, sec = line.split()
    vals.setdefault((fs, row), []).append(float(sec))
rows = [("write", "seq write %s MiB (dd 1M, fsync)" % mib, False),
        ("read", "seq read %s MiB (host's file, cold)" % mib, False),
        ("untar", "untar %s files + sync" % nfiles, True),
        ("find", "find, %s entries (cold)" % nentries, True),
        ("stat", "stat storm, %s x %s lstat (cold)" % (passes, nfiles), True),
        ("rm", "rm -rf the tree + sync", True)]
def med(fs, row):
    v = vals.get((fs, row))
    return statistics.median(v) if v and fs in fss else None
def fmt(x):
    return "%.2f" % x if x is not None else "n/a"
def ratio(other, h):
    # 10 ms is the clock's resolution: a step faster than that counts as 10 ms
    if other is None or h is None:
        return None
    return max(other, 0.01) / max(h, 0.01)
def verdict(r, goal):
    if r is None:
        return "n/a"
    return "met" if r >= goal else "NOT MET"
f = "%-38s %8s %10s %10s %9s %7s  %-20s %s"
print(f % ("row (seconds, median of %s)" % runs, "9p", "virtio-fs", "hostrpcfs",
           "vs vfs", "vs 9p", "goal >=1.0x vs vfs", "goal >=5x vs 9p"))
for key, label, meta in rows:
    p9, vfs, h = med("9p", key), med("virtiofs", key), med("hostrpcfs", key)
    rv, r9 = ratio(vfs, h), ratio(p9, h)
    print(f % (label, fmt(p9), fmt(vfs), fmt(h),
               "%.2fx" % rv if rv is not None else "n/a",
               "%.2fx" % r9 if r9 is not None else "n/a",
               verdict(rv, 1.0), verdict(r9, 5.0) if meta else "-"))
print("vs vfs = virtio-fs s / hostrpcfs s, vs 9p = 9p s / hostrpcfs s: > 1 means hostrpcfs is faster")
EOF
if [ "$failed" != 0 ]; then
	echo "fs-bench: a step or a check failed (FAILED lines above)" >&2
	exit 1
fi
# Every filesystem that ran must have every number.
for fs in "${order[@]}"; do
	for row in write read untar find stat rm; do
		n=$(awk -v fs="$fs" -v row="$row" '$1 == fs && $2 == row' "$results" | wc -l)
		if [ "$n" != "$runs" ]; then
			echo "fs-bench: $fs has $n measurements of $row, want $runs" >&2
			exit 1
		fi
	done
done
