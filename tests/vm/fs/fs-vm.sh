#!/usr/bin/env bash
# VM test: a host directory mounted in the guest with hostrpcfs.ko
# (drivers-frontend/fs), served by the guest's hostrpcd worker (outsource/fs,
# service 17) from the export `e` of the guest's policy (ids=passthrough, so
# guest uids are host uids):
#
#   guest                                         host (hostrpcd worker)
#   mount -t hostrpcfs e /tmp/m  -- ivshmem -->   fs-server on $vm_tmp/exp
#   busybox, fs-probe (static)                    host edits -> INVAL events
#
# Checks: mount (nosuid,nodev shown), data both ways (a 64 MiB file written
# in the guest has the host's checksum, before and after the guest drops its
# caches; a host-written file read in the guest; O_DIRECT), unlink and
# rename over open files, hard links, symlinks (one leading out of the
# export resolves in the guest), 1000 files in a directory, truncate, a
# sparse file, O_APPEND from two writers, O_EXCL, chmod/chown and a non-root
# creator seen on the host, permissions as another user (EACCES, sticky
# directory), a shared writable mapping, statfs, xattrs, fsync,
# RENAME_NOREPLACE and RENAME_WHITEOUT, a host edit seen in the guest (time
# measured, long timeouts so only the INVAL event can make it quick), a
# host flock seen by the guest, a read-only mount, umount, and no kernel
# warning; after the umounts the host holds only what a fresh mount holds
# (FORGET and RELEASE complete).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
# make -j: its checks have deadlines (tests/lib.sh)
vm_load_lock shared
[ "$vm_server_is_hostrpcd" = 1 ] || vm_skip "the fs service needs hostrpcd's ivshmem mode"
"$top_builddir/hostrpc/daemon/hostrpcd" --help 2>&1 | grep -q -- '--fs-policy-dir' ||
	vm_skip "hostrpcd has no --fs-policy-dir (no outsource/fs)"
[ -f "$HOSTRPC_GUEST_DIR/modules/hostrpcfs.ko" ] ||
	vm_skip "no hostrpcfs.ko in the guest image (tools/guest-image builds drivers-frontend/fs)"
command -v flock >/dev/null || vm_skip "flock(1) missing on the host (apt-get install util-linux)"
command -v python3 >/dev/null || vm_skip "python3 missing (apt-get install python3)"
srcd=$top_srcdir/tests/vm/fs
${CC:-gcc} -static -O2 -std=gnu11 -I "$top_srcdir/include" -o "$vm_tmp/fs-probe" "$srcd/guest/fs-probe.c" \
	2> "$vm_tmp/cc.log" || { cat "$vm_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (apt-get install libc6-dev)"; }

exp=$vm_tmp/exp
mkdir -p "$exp" "$vm_tmp/conf"
chmod 755 "$exp"
printf 'export e %s ids=passthrough\n' "$exp" > "$vm_tmp/conf/default.conf"
vm_server="$vm_server --fs-policy-dir=$vm_tmp/conf"
head -c $((4 << 20)) /dev/urandom > "$exp/hostfile.bin"
host_sum=$(sha256sum "$exp/hostfile.bin" | cut -d' ' -f1)
printf version-1 > "$exp/coh.txt"
printf mmap-v1xx > "$exp/mmh.txt"
: > "$exp/lockf"
: > "$exp/lockp"
lock_pid=""
cleanup_fs() {
	[ -z "$lock_pid" ] || kill "$lock_pid" 2>/dev/null || true
	[ ! -f "$vm_tmp/flock.pid" ] || kill "$(cat "$vm_tmp/flock.pid")" 2>/dev/null || true
	[ ! -f "$vm_tmp/plock.pid" ] || kill "$(cat "$vm_tmp/plock.pid")" 2>/dev/null || true
	rm -rf "$vm_tmp"
}
trap cleanup_fs EXIT

M=/tmp/m
guest_cmd="
M=$M; mkdir -p \$M /tmp/m2 /tmp/ro
echo \"R bulk0 \$(fs-probe bulkfree)\"
gone() { [ -e \"\$1\" ] && echo exists || echo gone; }
mount -t hostrpcfs e \$M; echo \"R mount \$?\"
echo \"R mountline \$(grep \" \$M \" /proc/mounts)\"
echo \"R hostfile \$(sha256sum \$M/hostfile.bin | cut -d' ' -f1)\"
dd if=/dev/urandom of=/tmp/big.src bs=1M count=64 2>/dev/null
echo \"R bigsrc \$(sha256sum /tmp/big.src | cut -d' ' -f1)\"
dd if=/tmp/big.src of=\$M/big.bin bs=1M 2>/dev/null; echo \"R bigdd \$? \$(stat -c %s \$M/big.bin)\"
rm -f /tmp/big.src
for bs in 1 4k 64k 200k; do dd if=/dev/zero of=\$M/dd\$bs bs=\$bs count=3 2>/dev/null; echo \"R dd\$bs \$(stat -c %s \$M/dd\$bs)\"; done
echo \"R bigsum1 \$(sha256sum \$M/big.bin | cut -d' ' -f1)\"
sync; echo 3 > /proc/sys/vm/drop_caches
echo \"R bigsum2 \$(sha256sum \$M/big.bin | cut -d' ' -f1)\"
echo \"R direct \$(fs-probe direct \$M/hostfile.bin | sha256sum | cut -d' ' -f1)\"
echo unlinked-data > \$M/ul.txt
echo \"R unlinkopen \$(fs-probe unlink-open \$M/ul.txt) \$(gone \$M/ul.txt)\"
echo old-target > \$M/ro-dst; echo new-source > \$M/ro-src
echo \"R renameopen \$(fs-probe rename-open \$M/ro-src \$M/ro-dst) \$(cat \$M/ro-dst) \$(gone \$M/ro-src)\"
echo hl > \$M/hl1; ln \$M/hl1 \$M/hl2
echo \"R hardlink \$(stat -c %h \$M/hl1) \$(stat -c %h \$M/hl2) \$( [ \$(stat -c %i \$M/hl1) = \$(stat -c %i \$M/hl2) ] && echo same || echo differ)\"
ln -s hl1 \$M/sl1; echo \"R symlink \$(readlink \$M/sl1) \$(cat \$M/sl1)\"
echo guest-namespace > /guest-marker; ln -s ../../.. \$M/up
echo \"R symup \$(readlink \$M/up) \$(cat \$M/up/guest-marker 2>&1)\"
mkdir \$M/many; i=0; while [ \$i -lt 1000 ]; do : > \$M/many/f\$i; i=\$((i + 1)); done
echo \"R readdir \$(ls \$M/many | wc -l) \$(ls -a \$M/many | wc -l)\"
rm -r \$M/many; echo \"R rmdir \$? \$(gone \$M/many)\"
printf 0123456789 > \$M/tr; truncate -s 100000 \$M/tr; s1=\$(stat -c %s \$M/tr)
truncate -s 4 \$M/tr; echo \"R truncate \$s1 \$(stat -c %s \$M/tr) \$(cat \$M/tr)\"
fs-probe pwrite \$M/sparse 104857600 x > /dev/null
echo \"R sparse \$(stat -c '%s %b' \$M/sparse) \$(du -k \$M/sparse | cut -f1)\"
fs-probe append \$M/app 200 A > /tmp/a1 & fs-probe append \$M/app 200 B > /tmp/a2 & wait
echo \"R append \$(cat /tmp/a1 /tmp/a2 | tr '\\n' ' ')\$(wc -l < \$M/app) \$(grep -c '^A ' \$M/app) \$(grep -c '^B ' \$M/app)\"
: > \$M/ex; echo \"R excl \$(fs-probe errno-open \$M/ex excl)\"
echo c > \$M/own; chmod 640 \$M/own; chown 1234:1235 \$M/own; echo \"R chown \$? \$(stat -c '%a %u %g' \$M/own)\"
mkdir \$M/sticky; chmod 1777 \$M/sticky
fs-probe runas 1000 1000 sh -c \"echo u > \$M/sticky/byuser\"; echo \"R usercreate \$? \$(stat -c '%u %g' \$M/sticky/byuser)\"
fs-probe runas 2000 2000 sh -c \"echo v > \$M/sticky/other\"
echo r > \$M/rootfile; chmod 644 \$M/rootfile
echo \"R eacces \$(fs-probe runas 1000 1000 fs-probe errno-open \$M/rootfile w)\"
echo \"R sticky \$(fs-probe runas 1000 1000 fs-probe errno-unlink \$M/sticky/other) \$(gone \$M/sticky/other)\"
printf AAAAAAAAAAAAAAAAAAAA > \$M/mm; echo \"R mmap \$(fs-probe mmapw \$M/mm 5 HELLO)\"
echo \"R statfs \$(stat -f -c '%b %S' \$M)\"
echo x > \$M/xa; echo \"R xattr \$(fs-probe xattr \$M/xa)\"
echo \"R fsync \$(fs-probe fsyncw \$M/fs.txt fsync-data)\"
dd if=/dev/urandom of=\$M/punch bs=64k count=4 2>/dev/null; cat \$M/punch > /dev/null
echo \"R punch \$(fs-probe punch \$M/punch 65536 65536) \$(stat -c %s \$M/punch)\"
echo a > \$M/nr1; echo b > \$M/nr2
echo \"R noreplace \$(fs-probe noreplace \$M/nr1 \$M/nr2) \$(cat \$M/nr2)\"
echo \"R whiteout \$(fs-probe whiteout \$M/nr1 \$M/nr3)\"
mkfifo \$M/fifo; echo \"R fifo \$? \$(stat -c %F \$M/fifo)\"
mount -t hostrpcfs -o attr_timeout=60,entry_timeout=60 e /tmp/m2; echo \"R mount2 \$?\"
echo \"R cached \$(cat /tmp/m2/coh.txt) \$(gone /tmp/m2/locked)\"
fs-probe mmapwatch /tmp/m2/mmh.txt mmap-v2xx 5000 > /tmp/mmw & mmw=\$!
sleep 0.3
echo HOST-STEP
echo \"R coherence \$(fs-probe watch /tmp/m2/coh.txt version-2 5000)\"
wait \$mmw; echo \"R mmapcoh \$(cat /tmp/mmw)\"
echo \"R hostlock \$(fs-probe waitfile /tmp/m2/locked 5000)\"
echo \"R flock \$(fs-probe flocknb /tmp/m2/lockf)\"
echo \"R hostplock \$(fs-probe waitfile /tmp/m2/plocked 5000)\"
echo \"R setlk \$(fs-probe setlk /tmp/m2/lockp)\"
echo \"R setlkw \$(fs-probe setlkw /tmp/m2/lockp 1)\"
: > /tmp/m/locktwo; echo \"R locktwo \$(fs-probe locktwo /tmp/m/locktwo)\"
umount /tmp/m2; echo \"R umount2 \$?\"
mount -t hostrpcfs -o ro e /tmp/ro; echo \"R romount \$? \$(fs-probe errno-open /tmp/ro/newfile excl) \$(cat /tmp/ro/fs.txt)\"
umount /tmp/ro
umount \$M; echo \"R umount \$?\"
mkdir -p /tmp/m3; mount -t hostrpcfs e /tmp/m3 && : > /tmp/m3/step2
echo \"R listed \$(fs-probe waitfile /tmp/m3/step2-done 20000)\"
umount /tmp/m3; echo \"R umount3 \$?\"
echo \"R bulk1 \$(fs-probe bulkfree)\"
echo \"R dmesg \$(dmesg | grep -cE 'BUG|WARNING|Oops|general protection|refcount_t|hostrpcfs: .*(bogus|no writable)')\"
dmesg | grep -E 'hostrpcfs|BUG|WARNING|Oops' | tail -n 20
"
# The host edits a file the guest holds cached and takes a flock (one
# process each, so the test's cleanup leaves nothing running).
host_cmd="printf version-2 > $exp/coh.txt
printf mmap-v2xx > $exp/mmh.txt
python3 -c 'import fcntl, time; f = open(\"$exp/lockf\"); fcntl.flock(f, fcntl.LOCK_EX); open(\"$exp/locked\", \"w\"); time.sleep(60)' > /dev/null 2>&1 &
echo \$! > $vm_tmp/flock.pid
python3 -c 'import fcntl, time; f = open(\"$exp/lockp\", \"r+\"); fcntl.lockf(f, fcntl.LOCK_EX); open(\"$exp/plocked\", \"w\"); time.sleep(60)' > /dev/null 2>&1 &
echo \$! > $vm_tmp/plock.pid
( for i in \$(seq 400); do [ -e $exp/step2 ] && break; sleep 0.05; done
  $top_builddir/hostrpc/daemon/hostrpcctl --admin-socket $vm_admin files guest > $vm_tmp/files.txt 2>&1
  touch $exp/step2-done ) &"

echo "1..42"
rc=0
t_start=$(date +%s)
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-600}" -m 768 -c "${FS_VM_CPUS:-1}" -s "$vm_server" \
	-a "hrpc.load=hostrpcfs" \
	-f "$vm_tmp/fs-probe:/bin/fs-probe" \
	-l "$vm_tmp/console" -L "$vm_tmp/server" \
	-e "$host_cmd" -E HOST-STEP \
	"$guest_cmd" > "$vm_tmp/out" 2> "$vm_tmp/err" || rc=$?
sed 's/^/# /' "$vm_tmp/out"
sed 's/^/# vm-run: /' "$vm_tmp/err"
echo "# guest run: $(( $(date +%s) - t_start )) s"

# Every check is reported, a failing one too (no set -e from here on).
set +e
n=0
t() { n=$((n + 1)); tap "$n" "$1" "$2"; }
r() { grep -m1 "^R $1 " "$vm_tmp/out" | cut -d' ' -f3- ; }
is() { [ "$(r "$1")" = "$2" ]; }
hstat() { stat -c "$1" "$2" 2>/dev/null; }

is mount 0; t $? "mount -t hostrpcfs e /tmp/m"
r mountline | grep -q 'nosuid' && r mountline | grep -q 'nodev'
t $? "/proc/mounts shows nosuid,nodev: $(r mountline)"
is hostfile "$host_sum"; t $? "a 4 MiB file written on the host reads the same in the guest"
big=$(sha256sum "$exp/big.bin" 2>/dev/null | cut -d' ' -f1)
[ -n "$big" ] && is bigsrc "$big" && is bigsum1 "$big" && is bigdd "0 $((64 << 20))" &&
	[ "$(hstat %s "$exp/big.bin")" = $((64 << 20)) ]
t $? "64 MiB copied into the mount in the guest (dd bs=1M): the host's file has the source's sha256 and size"
is dd1 3 && is dd4k 12288 && is dd64k 196608 && is dd200k 614400 && [ "$(hstat %s "$exp/dd200k")" = 614400 ]
t $? "dd of 3 blocks of 1, 4k, 64k, 200k: sizes $(r dd1) $(r dd4k) $(r dd64k) $(r dd200k)"
is bigsum2 "$big"; t $? "... and again after the guest dropped its page cache (read from the host)"
is direct "$host_sum"; t $? "O_DIRECT read of the host's file"
is unlinkopen "unlinked-data gone"; t $? "unlink while open: still readable ($(r unlinkopen))"
is renameopen "old-target new-source gone"; t $? "rename over an open file: the fd reads the old file ($(r renameopen))"
is hardlink "2 2 same" && [ "$(hstat %h "$exp/hl1")" = 2 ]; t $? "hard link: nlink 2 in guest and host, one inode"
is symlink "hl1 hl"; t $? "symlink: readlink and follow"
is symup "../../.. guest-namespace" && [ "$(readlink "$exp/up")" = ../../.. ]
t $? "a symlink to ../../.. resolves in the guest's namespace ($(r symup))"
is readdir "1000 1002"; t $? "readdir of 1000 files (guest: $(r readdir))"
is rmdir "0 gone" && [ ! -e "$exp/many" ]; t $? "rm -r of the directory (gone on the host)"
is truncate "100000 4 0123" && [ "$(hstat %s "$exp/tr")" = 4 ]; t $? "truncate grow then shrink ($(r truncate))"
set -- $(r sparse)
hs=$(hstat %s "$exp/sparse") hb=$(hstat %b "$exp/sparse")
[ "${1:-0}" = 104857601 ] && [ $(( ${3:-999999} * 1024 )) -lt 104857601 ] && [ "$hs" = 104857601 ] &&
	[ $(( ${hb:-999999} * 512 )) -lt 1048576 ]
t $? "sparse file: size $1, guest du ${3:-?} KiB, host $hb blocks"
is append "ok ok 400 200 200"; t $? "O_APPEND from two guest writers: 400 whole lines ($(r append))"
is excl EEXIST; t $? "O_EXCL on an existing file: $(r excl)"
[ "$(hstat '%a %u %g' "$exp/own")" = "640 1234 1235" ] && is chown "0 640 1234 1235"
t $? "chmod 640 / chown 1234:1235 by root show on the host ($(hstat '%a %u %g' "$exp/own"))"
[ "$(hstat '%u %g' "$exp/sticky/byuser")" = "1000 1000" ]; t $? "a file created by guest uid 1000 is owned by 1000 on the host"
is eacces EACCES; t $? "uid 1000 cannot open a 0644 root file for writing: $(r eacces)"
is sticky "EPERM exists" && [ -e "$exp/sticky/other" ]; t $? "uid 1000 cannot unlink another's file in a sticky directory: $(r sticky)"
[ "$(cat "$exp/mm" 2>/dev/null)" = AAAAAHELLOAAAAAAAAAA ] && is mmap ok
t $? "shared writable mmap + msync reaches the host ($(cat "$exp/mm" 2>/dev/null))"
is statfs "$(stat -f -c '%b %S' "$exp")"; t $? "statfs: $(r statfs) (host: $(stat -f -c '%b %S' "$exp"))"
kept=$(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.kept").decode())' "$exp/xa" 2>&1)
is xattr "ok set/get/list/ERANGE/remove" && [ "$kept" = kept-value ]
t $? "xattrs: $(r xattr); the host reads user.kept=$kept"
is fsync ok && [ "$(cat "$exp/fs.txt" 2>/dev/null)" = fsync-data ]; t $? "write + fsync reach the host"
is punch "ok zeros 262144" &&
	[ "$(python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); print(len(d), d[65536:131072].count(0))' "$exp/punch")" = "262144 65536" ]
t $? "fallocate PUNCH_HOLE: the cached range reads as zeros in the guest and on the host ($(r punch))"
is noreplace "EEXIST b"; t $? "RENAME_NOREPLACE over an existing name: $(r noreplace)"
is whiteout EINVAL; t $? "RENAME_WHITEOUT: $(r whiteout)"
is fifo "0 fifo" && [ -p "$exp/fifo" ]; t $? "mkfifo (a FIFO on the host too)"
is cached "version-1 gone"; t $? "a second mount (60 s timeouts) caches the file: $(r cached)"
ms=$(r coherence | awk '$1 == "seen" { print $2 }')
[ -n "$ms" ] && [ "$ms" -lt 1000 ]
t $? "a host edit of a cached file is seen in the guest in ${ms:-no} ms (INVAL event; includes vm-run's 100 ms poll)"
is flock EWOULDBLOCK && r hostlock | grep -q '^seen'
t $? "a host flock(1) makes the guest's LOCK_NB fail: $(r flock) (the lock's marker $(r hostlock))"
w=$(r setlkw)
set -- $w
is setlk EWOULDBLOCK && r hostplock | grep -q '^seen' && [ "${1:-}" = EINTR ] && [ "${2:-0}" -ge 900 ]
t $? "a host POSIX lock: the guest's F_SETLK is $(r setlk) (EAGAIN), F_SETLKW retries until a signal: ${w:-none}"
ms=$(r mmapcoh | awk '$1 == "seen" { print $2 }')
[ -n "$ms" ] && [ "$ms" -lt 1000 ]
t $? "a host edit of a file the guest has mapped shows in the mapping in ${ms:-no} ms (mmap coherence host -> guest)"
is locktwo ok
t $? "granted locks, and conflicts between two guest opens (flock) and processes (F_SETLK byte ranges): $(r locktwo)"
set -- $(r romount)
[ "${1:-}" = 0 ] && [ "${2:-}" = EROFS ] && [ "${3:-}" = fsync-data ]; t $? "-o ro: reads work, creation is EROFS ($(r romount))"
is umount 0 && is umount2 0 && is umount3 0; t $? "umount of every mount"
sed 's/^/# hostrpcctl files guest: /' "$vm_tmp/files.txt" 2>/dev/null
nodes=$(sed -n 's/^EXPORT e .* nodes=\([0-9]*\).*/\1/p' "$vm_tmp/files.txt" 2>/dev/null)
[ -n "$nodes" ] && [ "$nodes" -le 2 ] && ! grep -qE '^ +(file|dir) ' "$vm_tmp/files.txt"
t $? "after the umounts the host holds ${nodes:-?} nodes (a fresh mount's root and one file) and no open file: every lookup was forgotten, every fh released"
[ -n "$(r bulk0)" ] && [ "$(r bulk0)" = "$(r bulk1)" ]
t $? "no bulk buffer leaked: the data area has $(r bulk1) bytes free after the umounts, $(r bulk0) before the mounts"
is dmesg 0; t $? "no kernel BUG, WARNING, oops or bogus reply in dmesg"
[ "$rc" = 0 ]; t $? "guest exit status $rc"
if [ "$rc" != 0 ]; then
	echo "# ---- console (tail) ----"
	tail -n 40 "$vm_tmp/console" 2>/dev/null | sed 's/^/# /'
	echo "# ---- server (tail) ----"
	tail -n 20 "$vm_tmp/server" 2>/dev/null | sed 's/^/# /'
fi
