#!/usr/bin/env bash
# bench/mem-file-bench.sh - host files in guest processes (issue 15 item 3):
# reading a host file through a shared mapping of a hostrpcfs mount against
# read() through QEMU's virtio-9p, the same guest kernel, image, memory and
# file (tests/vm/fs/fs-peers.sh boots them).
#
# This measures the real path: the guest kernel's page cache and
# hostrpcfs.ko (drivers-frontend/fs) -> ivshmem -> the guest's hostrpcd
# worker (outsource/fs) -> the host file, under QEMU TCG (no KVM), so
# absolute numbers are TCG's; the ratios are the point.  The mapping is
# copy-based (the guest's page cache, filled by READ calls), not zero-copy:
# see drivers-frontend/fs/README.md, "Host files in guest processes".
#
#   host: a file of MEM_FILE_BENCH_MIB MiB (256) of random bytes, and the
#         sum of the first byte of each 4 KiB page (the guest's checksum)
#   guest (1 vCPU, FS_MEM MiB, TCG), tests/vm/mem/guest/hostfile-map.c,
#   timed in the guest (CLOCK_MONOTONIC), each step cold (umount, sync,
#   echo 3 > drop_caches, mount again):
#     hostrpcfs  mapread: open, mmap(MAP_SHARED, PROT_READ) the whole file,
#                         touch one byte per 4 KiB page (summed), munmap
#                read:    read() of the whole file in 1 MiB blocks (large
#                         reads of an uncached, unmapped file go straight
#                         to the caller's buffer: hostrpcfs.stream_kb)
#     9p         read:    the same read() through virtio-9p, mounted as
#                         fs-bench.sh does (trans=virtio, 9p2000.L,
#                         msize=512 KiB, no cache= option: the kernel's
#                         default, cache=none)
#   checked: every step's sum equals the host's.
#
# The table: seconds and MiB/s of each, and the ratios "hostrpcfs mmap vs
# 9p read()" and "hostrpcfs read() vs 9p read()" (MiB/s / MiB/s; > 1 =
# hostrpcfs faster).  A "n/a" cell and a line "hostrpcfs: not available:
# WHY" when the hostrpcfs boot cannot run.
#
# Exit: 0 when every boot that can run here measured every step with the
# right sum; 1 otherwise (FAILED lines say which); 77 when a prerequisite
# is missing.
# Environment:
#   MEM_FILE_BENCH_MIB=N  the file's size in MiB (256; the smoke test: 16)
#   FS_MEM                guest MiB (1024), HOSTRPC_GUEST_FS_DIR (the image)
set -euo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/vm/lib.sh"
vm_prepare
# make -j: a timed run; alone (tests/lib.sh)
vm_load_lock exclusive
. "$top_srcdir/tests/vm/fs/fs-peers.sh"
command -v python3 > /dev/null || vm_skip "python3 missing (apt-get install python3)"
${CC:-gcc} -static -O2 -I "$top_srcdir/include" -o "$vm_tmp/hostfile-map" \
	"$top_srcdir/tests/vm/mem/guest/hostfile-map.c" 2> "$vm_tmp/cc.log" ||
	{ cat "$vm_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (apt-get install libc6-dev)"; }

mib=${MEM_FILE_BENCH_MIB:-256}
guest_timeout=$(( 120 + mib * 3 ))
vm_watchdog $(( 2 * (guest_timeout + 30) + 300 ))
# The watchdog's subshell holds our stdout: it goes when we do.
trap 'kill "$vm_watchdog_pid" 2> /dev/null; fsp_cleanup' EXIT
fsp_image

exp=$vm_tmp/export
mkdir -p "$exp"
head -c $((mib << 20)) /dev/urandom > "$exp/r"
sum=$(python3 - "$exp/r" <<'EOF'
import sys
s = 0
with open(sys.argv[1], "rb") as f:
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        s += sum(b[i] for i in range(0, len(b), 4096))
print(s)
EOF
)

# The guest's side: STEPS are hostfile-map's modes, each from a cold cache.
cat > "$vm_tmp/mf-run.sh" <<'EOF'
#!/bin/sh
# mf-run.sh SUM MOUNT-COMMAND STEP...
sum=$1 mountcmd=$2
shift 2
fail=0
mkdir -p /mnt
for step in "$@"; do
	umount /mnt 2> /dev/null
	sync
	echo 3 > /proc/sys/vm/drop_caches
	$mountcmd || { echo "FAIL mount: $mountcmd"; exit 1; }
	line=$(hostfile-map "$step" /mnt/r)
	echo "$line"
	set -- $line
	[ "$1" = T ] && [ "$5" = "$sum" ] || { echo "FAIL $step: $line (want the sum $sum)"; fail=1; }
done
umount /mnt
echo "DONE fail=$fail"
exit "$fail"
EOF

kver=$(sed -n 's/^KVER=//p' "$fsp_dir/env" 2> /dev/null || echo "?")
echo "mem-file-bench: guest kernel $kver, 1 vCPU, $fsp_mem MiB, QEMU TCG; a $mib MiB host file, cold caches"
results=$vm_tmp/results
: > "$results"
failed=0
hostrpcfs_why=""
if hostrpcfs_why=$(fsp_hostrpcfs_missing); then
	echo "hostrpcfs: not available: $hostrpcfs_why"
fi

# bench_one FS STEP...: boot, measure, check; "FS STEP SECONDS MIB/S" lines
bench_one() {
	local fs=$1 rc=0 t0 t1
	shift
	t0=$(date +%s)
	fsp_run "$fs" "$exp" "$fs" -t "$guest_timeout" -f "$vm_tmp/mf-run.sh:/hostrpc/mf-run.sh" \
		-f "$vm_tmp/hostfile-map:/bin/hostfile-map" -- \
		"sh /hostrpc/mf-run.sh $sum '$(fsp_mount "$fs")' $*" \
		> "$vm_tmp/$fs.out" 2> "$vm_tmp/$fs.err" || rc=$?
	t1=$(date +%s)
	if [ "$rc" != 0 ] || grep -q '^FAIL' "$vm_tmp/$fs.out"; then
		failed=1
		echo "FAILED: $fs: guest exit $rc after $((t1 - t0)) s"
		grep '^FAIL' "$vm_tmp/$fs.out" | sed 's/^/  /' || true
		sed 's/^/  vm-run: /' "$vm_tmp/$fs.err"
		echo "  guest console (tail):"
		tail -n 30 "$vm_tmp/$fs.console.log" 2> /dev/null | sed 's/^/    /'
		[ ! -s "$vm_tmp/$fs.server.log" ] || { echo "  server (tail):"; tail -n 30 "$vm_tmp/$fs.server.log" | sed 's/^/    /'; }
		return
	fi
	echo "# $fs: $((t1 - t0)) s from boot to power-off"
	tr -d '\r' < "$vm_tmp/$fs.out" | awk -v fs="$fs" '$1 == "T" { print fs, $2, $3, $4 }' >> "$results"
}

fsp_available 9p || vm_skip "virtio-9p cannot run here"
[ -n "$hostrpcfs_why" ] || bench_one hostrpcfs mapread read
bench_one 9p read

python3 - "$results" "$mib" <<'EOF'
import sys
path, mib = sys.argv[1], sys.argv[2]
vals = {}
for line in open(path):
    fs, step, sec, rate = line.split()
    vals[(fs, step)] = (float(sec), float(rate))
rows = [(("hostrpcfs", "mapread"), "hostrpcfs mmap(MAP_SHARED), 1 byte/4 KiB page"),
        (("hostrpcfs", "read"), "hostrpcfs read(), 1 MiB blocks"),
        (("9p", "read"), "virtio-9p read(), 1 MiB blocks (cache=none)")]
f = "%-48s %9s %9s"
print(f % ("%s MiB host file, cold (guest-timed)" % mib, "seconds", "MiB/s"))
for key, label in rows:
    v = vals.get(key)
    print(f % (label, "%.3f" % v[0] if v else "n/a", "%.1f" % v[1] if v else "n/a"))
def ratio(a, b):
    a, b = vals.get(a), vals.get(b)
    return "%.2fx" % (a[1] / b[1]) if a and b and b[1] > 0 else "n/a"
print("ratio hostrpcfs mmap vs 9p read():   %s" % ratio(("hostrpcfs", "mapread"), ("9p", "read")))
print("ratio hostrpcfs read() vs 9p read(): %s" % ratio(("hostrpcfs", "read"), ("9p", "read")))
print("ratios: MiB/s over 9p read()'s MiB/s; > 1 means hostrpcfs is faster")
EOF
if [ "$failed" != 0 ]; then
	echo "mem-file-bench: a step or a check failed (FAILED lines above)" >&2
	exit 1
fi
