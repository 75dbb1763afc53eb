#!/usr/bin/env bash
# VM test: real programs on a host directory mounted in the guest, through
# hostrpcfs (default) or, with FS_WORKLOADS_FS=9p or virtiofs, through the
# peers bench/fs-bench.sh measures it against (the same checks, so that a
# failure can be told apart from the workload's own).  One boot
# (tests/vm/fs/fs-peers.sh), a fresh empty export; the host's fio, sqlite3
# and dbench travel with their libraries into the guest's initramfs, the
# tree to unpack (a tarball of FS_WORKLOADS_TREE, default /usr/include) as a
# read-only virtio-blk disk, so that none of them is read through the
# filesystem under test.
#
#   fio      32 MiB of 4 KiB random writes (psync) with crc32c verify,
#            then a verify-only pass after the guest dropped its caches
#   untar    the tree, busybox tar into /mnt; the archive's listing (tar
#            tvf: type, mode, size of regular files, name) equals the
#            mount's (find + stat); on the host, diff -r of the export
#            against the tree
#   sqlite3  10000 rows in 100 transactions, an index, then in a second
#            process after drop_caches: PRAGMA integrity_check = ok, 10000 rows
#   dbench   dbench -t 10 with 2 clients and Debian's loadfile, no error
#
# Skips (exit 77) when fio, sqlite3 or dbench is missing, and in the
# default mode when hostrpcfs is not built (no hostrpcfs.ko in the guest
# image, or a hostrpcd without the fs service).
set -uo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/vm/lib.sh"

fs=${FS_WORKLOADS_FS:-hostrpcfs}
tree=${FS_WORKLOADS_TREE:-/usr/include}
loadfile=${FS_WORKLOADS_DBENCH_LOADFILE:-/usr/share/dbench/client.txt}
case $fs in
9p|virtiofs|hostrpcfs) ;;
*) echo "Bail out! FS_WORKLOADS_FS=$fs: not 9p, virtiofs or hostrpcfs"; exit 1 ;;
esac
missing=""
for p in fio sqlite3 dbench; do
	command -v "$p" > /dev/null || missing="$missing $p"
done
[ -z "$missing" ] || vm_skip "missing:$missing (apt-get install fio sqlite3 dbench)"
[ -f "$loadfile" ] || vm_skip "no dbench loadfile $loadfile (apt-get install dbench)"
[ -d "$tree" ] || vm_skip "no tree to unpack at $tree (apt-get install libc6-dev)"
vm_prepare
# make -j: it loads every core for a minute; alone (tests/lib.sh)
vm_load_lock exclusive
. "$top_srcdir/tests/vm/fs/fs-peers.sh"
vm_watchdog 900
trap 'kill "$vm_watchdog_pid" 2> /dev/null; fsp_cleanup' EXIT
fsp_image > /dev/null 2>&1
if [ "$fs" = hostrpcfs ]; then
	why=$(fsp_hostrpcfs_missing) && vm_skip "hostrpcfs not built: $why"
fi
fsp_available "$fs" || vm_skip "$fs cannot run here ($fsp_virtiofsd missing? apt-get install qemu-system-x86)"

# Dynamically linked host programs travel with their libraries (vm_add_prog).
files=()
vm_add_prog files "$(command -v fio)"
vm_add_prog files "$(command -v sqlite3)"
vm_add_prog files "$(command -v dbench)"
files+=(-f "$loadfile:/hostrpc/client.txt")

tname=$(basename "$tree")
tar -C "$(dirname "$tree")" -cf "$vm_tmp/tree.tar" "$tname" ||
	{ echo "Bail out! cannot make a tarball of $tree"; exit 1; }
ntree=$(tar -tf "$vm_tmp/tree.tar" | wc -l)

# The database: 100 transactions of 100 rows.
{
	echo "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT NOT NULL, v BLOB);"
	for b in $(seq 0 99); do
		echo "BEGIN;"
		echo "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100)"
		echo "  INSERT INTO t(k, v) SELECT 'k' || ($b * 100 + i), randomblob(200) FROM c;"
		echo "COMMIT;"
	done
	echo "CREATE INDEX t_k ON t(k);"
} > "$vm_tmp/fill.sql"

# Every check prints "R KEY STATUS [WHY]"; the host turns them into TAP.
cat > "$vm_tmp/workloads.sh" <<'EOF'
#!/bin/sh
# workloads.sh TREE MOUNT-COMMAND
tname=$1 mountcmd=$2
failed=0
r() { echo "R $1 $2 ${3:-}"; [ "$2" = 0 ] || failed=1; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
mkdir -p /mnt
if ! $mountcmd 2> /tmp/err; then
	r mount 1 "$mountcmd: $(cat /tmp/err)"
	exit 1
fi
r mount 0
# the kernel log so far: what comes after is the workloads
kmsg0=$(dmesg -r | wc -l)

# fio: write with verification, then verify what is on the host.
job="--name=v --directory=/mnt --size=32m --rw=randwrite --bs=4k --verify=crc32c --ioengine=psync"
fio $job > /tmp/fio1 2>&1
rc=$?
[ $rc = 0 ] && grep -q 'err= 0' /tmp/fio1 || rc=1
r fio-write $rc "$(grep -m1 -E 'WRITE:|error|verify' /tmp/fio1)"
[ $rc = 0 ] || sed 's/^/FIO /' /tmp/fio1 | tail -n 20
drop
fio $job --verify_only > /tmp/fio2 2>&1
rc=$?
[ $rc = 0 ] && grep -q 'err= 0' /tmp/fio2 || rc=1
r fio-verify $rc "$(grep -m1 -E 'READ:|error|verify' /tmp/fio2)"
[ $rc = 0 ] || sed 's/^/FIO /' /tmp/fio2 | tail -n 20
rm -f /mnt/v.0.0

# untar from the virtio-blk disk, then the archive's listing against the mount's.
mkdir /mnt/w
t0=$(cut -d' ' -f1 /proc/uptime)
tar -xf /dev/vda -C /mnt/w 2> /tmp/err && sync
rc=$?
t1=$(cut -d' ' -f1 /proc/uptime)
n=$(find "/mnt/w/$tname" | wc -l)
r untar $rc "$n entries in $(awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }') s $(tail -n 1 /tmp/err)"
echo "ENTRIES $n"
drop
# "TYPE+MODE SIZE NAME": sizes of regular files only (a directory's differs).
tar -tvf /dev/vda | awk '{ n = $6; sub(/\/$/, "", n); print $1, (substr($1, 1, 1) == "-" ? $3 : "-"), n }' |
	sort > /tmp/l-tar
(cd /mnt/w && find "$tname" -exec stat -c '%A %s %n' {} +) |
	awk '{ print $1, (substr($1, 1, 1) == "-" ? $2 : "-"), $3 }' | sort > /tmp/l-mnt
if cmp -s /tmp/l-tar /tmp/l-mnt && [ -s /tmp/l-tar ]; then
	r listing 0 "$(wc -l < /tmp/l-tar) entries"
else
	r listing 1 "$(wc -l < /tmp/l-tar) in the archive, $(wc -l < /tmp/l-mnt) on the mount"
	diff /tmp/l-tar /tmp/l-mnt | head -n 20 | sed 's/^/LISTING /'
fi

# sqlite3: fill in transactions, then a second process checks it cold.
mkdir /mnt/db
sqlite3 -bail /mnt/db/t.db < /hostrpc/fill.sql > /tmp/sq1 2>&1
rc=$?
r sqlite-fill $rc "$(head -n 3 /tmp/sq1)"
drop
out=$(sqlite3 -bail /mnt/db/t.db 'PRAGMA integrity_check; SELECT count(*), count(DISTINCT k) FROM t;' 2>&1)
rc=$?
[ "$(echo $out)" = "ok 10000|10000" ] || rc=1
r sqlite-check $rc "$(echo $out)"

# dbench: its own loadfile, two clients, ten seconds.
mkdir /mnt/dbench
dbench -t 10 -D /mnt/dbench -c /hostrpc/client.txt 2 > /tmp/dbench 2>&1
rc=$?
grep -q '^Throughput' /tmp/dbench || rc=1
# (its start barrier wants SysV semaphores, which this guest refuses: said
# and ignored, the clients start anyway)
grep -iE 'error|failed' /tmp/dbench | grep -v 'failed to create barrier semaphore' |
	sed 's/^/DBENCH /' | head -n 20 | grep . && rc=1
r dbench $rc "$(grep -m1 '^Throughput' /tmp/dbench)"
[ $rc = 0 ] || tail -n 20 /tmp/dbench | sed 's/^/DBENCH /'
rm -rf /mnt/dbench

# within 30 s: a hung umount is reported, the guest powers off anyway
umount /mnt 2> /tmp/err &
u=$!
i=0
while kill -0 $u 2> /dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $u 2> /dev/null; then
	r umount 1 "still blocked after 30 s"
else
	wait $u
	r umount $? "$(cat /tmp/err)"
fi
# Warnings and errors the guest kernel logged meanwhile (a workload may
# not notice a failed call: dbench ignores what its fcntl locks return).
dmesg -r | tail -n +$((kmsg0 + 1)) | grep -E '^<[0-4]>' > /tmp/kwarn
r kernel $([ -s /tmp/kwarn ] && echo 1 || echo 0) "$(wc -l < /tmp/kwarn) lines"
# What the guest kernel said, where something failed (the console has
# only errors: loglevel=4).
[ $failed = 0 ] || dmesg | tail -n 15 | sed 's/^/KMSG /'
EOF

checks="mount fio-write fio-verify untar listing diff sqlite-fill sqlite-check dbench umount kernel"
echo "1..$(echo $checks | wc -w)"
echo "# $fs: fio, $ntree entries of $tree, sqlite3, dbench"
exp=$vm_tmp/export
mkdir -p "$exp"
rc=0
fsp_run "$fs" "$exp" guest -t 600 "${files[@]}" \
	-f "$vm_tmp/workloads.sh:/hostrpc/workloads.sh" -f "$vm_tmp/fill.sql:/hostrpc/fill.sql" \
	-Q "-drive file=$vm_tmp/tree.tar,format=raw,if=virtio,readonly=on" -- \
	"sh /hostrpc/workloads.sh $tname '$(fsp_mount "$fs")'" > "$vm_tmp/out" 2> "$vm_tmp/err" || rc=$?
tr -d '\r' < "$vm_tmp/out" > "$vm_tmp/res"

# The host's side: what the guest unpacked is the tree, byte for byte.
if [ -d "$exp/w/$tname" ]; then
	diff -r --no-dereference "$tree" "$exp/w/$tname" > "$vm_tmp/diff" 2>&1
	echo "R diff $? $(wc -l < "$vm_tmp/diff") lines of differences" >> "$vm_tmp/res"
else
	echo "R diff 1 no $exp/w/$tname on the host" > "$vm_tmp/diff"
	cat "$vm_tmp/diff" >> "$vm_tmp/res"
fi

i=0
for c in $checks; do
	i=$((i + 1))
	line=$(awk -v c="$c" '$1 == "R" && $2 == c { $1 = ""; $2 = ""; print; exit }' "$vm_tmp/res")
	st=${line# }; st=${st# }; st=${st%% *}
	detail=${line#*"$st"}
	detail=${detail# }
	case $c in
	mount) d="the host directory mounts ($fs)" ;;
	fio-write) d="fio: 32 MiB of 4 KiB random writes, crc32c verified" ;;
	fio-verify) d="fio: a verify-only pass after drop_caches" ;;
	untar) d="untar of $tree ($ntree entries) with busybox tar" ;;
	listing) d="the archive's listing (type, mode, size, name) is the mount's" ;;
	diff) d="the host's copy is the tree (diff -r)" ;;
	sqlite-fill) d="sqlite3: 10000 rows in 100 transactions and an index" ;;
	sqlite-check) d="sqlite3: integrity_check ok and 10000 rows, read cold by another process" ;;
	dbench) d="dbench: 2 clients for 10 s, no error" ;;
	umount) d="umount (within 30 s)" ;;
	kernel) d="the guest kernel logged no warning or error during the workloads" ;;
	esac
	if [ "$st" = 0 ]; then
		echo "ok $i - $d${detail:+ ($detail)}"
	else
		echo "not ok $i - $d"
		[ -z "$line" ] && echo "#   no result (guest exit $rc)"
		[ -z "$detail" ] || echo "#   $detail"
	fi
done
grep -E '^(FIO|LISTING|DBENCH|KMSG) ' "$vm_tmp/res" | sed 's/^/# /'
[ ! -s "$vm_tmp/diff" ] || head -n 20 "$vm_tmp/diff" | sed 's/^/# diff: /'
if [ "$rc" != 0 ]; then
	echo "# guest exit $rc"
	sed 's/^/# vm-run: /' "$vm_tmp/err"
	tail -n 30 "$vm_tmp/guest.console.log" 2> /dev/null | sed 's/^/# console: /'
	for l in server virtiofsd; do
		[ -s "$vm_tmp/guest.$l.log" ] && tail -n 30 "$vm_tmp/guest.$l.log" | sed "s/^/# $l: /"
	done
fi
exit 0
