#!/bin/bash
# A QEMU (TCG) guest serves a tmpfs that only it has mounted (/srv); the
# host mounts it with hostrpc-guestmount over the virtio-serial channel and
# works through it: create, read, write, rename, delete, mkdir, chmod,
# symlink; another host user (setpriv, -o allow_other) held to the guest's
# permissions; a 64 MiB file copied in and out with checksums; a source tree
# (/usr/include/linux) untarred and listed; concurrent readers; an external
# workload (fio with verify) passes; guest-exec on the second channel at the
# same time sees the files; then the guest is killed while mounted: the
# mount answers errors at once and unmounts cleanly.
. "$(dirname "$0")/lib.sh"
[ -x "$gmount" ] || skip_all "hostrpc-guestmount not built (configure found no fuse3)"
[ -c /dev/fuse ] && command -v fusermount3 >/dev/null || skip_all "no /dev/fuse or fusermount3"
gs_vm_prepare
echo "1..22"

gs_vm_start
ok $? "guest booted, guestrpcd ready on org.hostrpc.guest.0/.1"
m=$gs_work/mnt
gs_mount "$gs_sock0" /srv "$m" -o allow_other
ok $? "guest's /srv (tmpfs only the guest has) mounted on the host"
g() { "$gexec" -n "$gs_sock1" -- "$@"; }

echo hello > "$m/f" && [ "$(cat "$m/f")" = hello ] && [ "$(g cat /srv/f)" = hello ]
ok $? "create + write + read; the guest sees it (guest-exec on the second channel)"
mv "$m/f" "$m/g" && [ "$(g ls /srv)" = g ]
ok $? "rename"
mkdir -p "$m/d/e" && g test -d /srv/d/e
ok $? "mkdir"
chmod 600 "$m/g" && [ "$(g stat -c %a /srv/g)" = 600 ] && [ "$(stat -c %a "$m/g")" = 600 ]
ok $? "chmod"
ln -s g "$m/s" && [ "$(g readlink /srv/s)" = g ] && [ "$(cat "$m/s")" = hello ]
ok $? "symlink"
rm "$m/s" && rmdir "$m/d/e" "$m/d" && [ "$(g ls /srv)" = g ]
ok $? "delete (unlink, rmdir)"

# Another host user: each call runs in the guest as its caller.
chmod 755 "$gs_work"
as4321() { setpriv --reuid=4321 --regid=4321 --clear-groups "$@"; }
g sh -c 'echo secret > /srv/private && chmod 600 /srv/private && mkdir -m 1777 /srv/pub &&
	echo r > /srv/pub/roots && chmod 666 /srv/pub/roots'
! as4321 cat "$m/private" > /dev/null 2>&1 && as4321 sh -c "umask 027; echo x > '$m/pub/mine'" &&
	[ "$(g stat -c %u:%g:%a /srv/pub/mine)" = 4321:4321:640 ] &&
	! as4321 rm -f "$m/pub/roots" 2> /dev/null && g test -e /srv/pub/roots &&
	[ "$(cat "$m/private")" = secret ]
ok $? "uid 4321 on the host: root's 0600 file refused, its new file is 4321's with its umask \
($(g stat -c %u:%g:%a /srv/pub/mine 2>&1)), root's file in a sticky directory stays; root reads all"
rm -rf "$m/pub" "$m/private"

head -c 67108864 /dev/urandom > "$gs_work/big"
sum=$(md5sum < "$gs_work/big" | cut -d' ' -f1)
t0=$(date +%s.%N)
cp "$gs_work/big" "$m/big"
t1=$(date +%s.%N)
ok $([ "$(g md5sum /srv/big | cut -d' ' -f1)" = "$sum" ]; echo $?) \
	"64 MiB copied in: guest checksum matches ($(calc "64 / ($t1 - $t0)") MiB/s)"
echo 3 > /proc/sys/vm/drop_caches
t0=$(date +%s.%N)
cp "$m/big" "$gs_work/big.back"
t1=$(date +%s.%N)
ok $([ "$(md5sum < "$gs_work/big.back" | cut -d' ' -f1)" = "$sum" ]; echo $?) \
	"64 MiB copied out: checksum matches ($(calc "64 / ($t1 - $t0)") MiB/s)"

tar -C /usr/include -cf "$gs_work/src.tar" linux
t0=$(date +%s.%N)
tar -C "$m" -xf "$gs_work/src.tar"
t1=$(date +%s.%N)
ok $? "a source tree (/usr/include/linux, $(tar -tf "$gs_work/src.tar" | wc -l) entries) untarred ($(calc "$t1 - $t0") s)"
diff -r /usr/include/linux "$m/linux" > /dev/null
ok $? "the untarred tree reads back identical"
[ "$(find "$m/linux" | wc -l)" = "$(find /usr/include/linux | wc -l)" ] &&
	[ "$(g find /srv/linux | wc -l)" = "$(find /usr/include/linux | wc -l)" ]
ok $? "listed: the host's find and the guest's find agree"

echo 3 > /proc/sys/vm/drop_caches
readers=()
for i in 1 2 3 4 5 6; do md5sum < "$m/big" > "$gs_work/sum$i" & readers+=($!); done
wait "${readers[@]}"
ok $([ "$(cat "$gs_work"/sum* | sort -u | cut -d' ' -f1)" = "$sum" ]; echo $?) "6 concurrent readers agree"

if command -v fio >/dev/null; then
	fio --name=verify --verify_state_save=0 --directory="$m" --rw=randwrite --bs=4k --size=8M --numjobs=2 \
		--ioengine=psync --verify=crc32c --verify_fatal=1 --do_verify=1 \
		--output="$gs_work/fio.log" > /dev/null 2>&1
	rc=$?
	ok $([ $rc = 0 ] && grep -q "err= 0" "$gs_work/fio.log"; echo $?) "fio randwrite + crc32c verify, 2 jobs (rc $rc)"
else
	skip_one "fio not installed (apt-get install fio)"
fi
if command -v dbench >/dev/null && [ -f /usr/share/dbench/client.txt ]; then
	timeout 120 dbench -t 10 -D "$m" -c /usr/share/dbench/client.txt 2 > "$gs_work/dbench.log" 2>&1
	rc=$?
	ok $([ $rc = 0 ] && grep -q Throughput "$gs_work/dbench.log"; echo $?) \
		"dbench, 2 clients, 10 s ($(grep Throughput "$gs_work/dbench.log" | head -c 60))"
else
	skip_one "dbench not installed (apt-get install dbench)"
fi
rm -rf "$m/linux" "$m"/verify.* "$m/clients" 2>/dev/null
ok $([ -z "$(g ls /srv/linux 2>/dev/null)" ]; echo $?) "rm -rf of the tree through the mount"

# The guest is killed while mounted.
kill -KILL "$gs_qemu_pid"
wait "$gs_qemu_pid" 2>/dev/null
gs_qemu_pid=""
t0=$(date +%s.%N)
cat "$m/g" > "$gs_work/out" 2>&1
rc=$?
t1=$(date +%s.%N)
ok $([ $rc != 0 ] && lt "$t1 - $t0" 5; echo $?) \
	"guest killed: the mount fails at once ($(head -c 70 "$gs_work/out"))"
ls "$m" > "$gs_work/out" 2>&1
ok $(grep -q "not connected" "$gs_work/out"; echo $?) "and keeps failing with ENOTCONN"
t0=$(date +%s.%N)
fusermount3 -u "$m"
ok $? "clean unmount"
wait_for 30 eval "! kill -0 $gs_mount_pid 2>/dev/null"
ok $? "hostrpc-guestmount exited ($(calc "$(date +%s.%N) - $t0") s after the unmount)"
kill -0 $gs_mount_pid 2>/dev/null && sed 's/^/# /' "$gs_work/mount.log"
[ $failed = 0 ]
