#!/usr/bin/env bash
# VM test: the host side of a hostrpcfs mount goes away (the guest's worker
# is killed; the supervisor starts a fresh one, which resets the channel)
# while the guest holds open files, dirty pages and a reader in a loop.
# The old mount's handles are gone with the worker: every use of it fails
# with EIO at once - no crash, no hang - umount works, and a new mount of
# the same export works.
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

exp=$vm_tmp/exp
mkdir -p "$exp" "$vm_tmp/conf"
printf 'export e %s ids=passthrough\n' "$exp" > "$vm_tmp/conf/default.conf"
vm_server="$vm_server --fs-policy-dir=$vm_tmp/conf"
head -c $((8 << 20)) /dev/urandom > "$exp/data.bin"
sum=$(sha256sum "$exp/data.bin" | cut -d' ' -f1)

guest_cmd="
M=/tmp/m; mkdir -p \$M /tmp/m2
mount -t hostrpcfs e \$M; echo \"R mount \$?\"
exec 3< \$M/data.bin
( while :; do echo 3 > /proc/sys/vm/drop_caches; cat \$M/data.bin > /dev/null 2>&1 || break; done; echo \"R reader-ended\" ) &
dd if=/dev/zero of=\$M/dirty.bin bs=1M count=4 2>/dev/null
echo RESET-ME
i=0; while [ \$i -lt 300 ] && [ \$(dmesg | grep -c 'hostrpc_core.*attached: host_gen') -lt 2 ]; do usleep 100000; i=\$((i + 1)); done
echo \"R reattached \$(dmesg | grep -c 'hostrpc_core.*attached: host_gen')\"
wait
cat \$M/data.bin > /dev/null 2> /tmp/err1; echo \"R oldcat \$? \$(cat /tmp/err1)\"
ls \$M > /dev/null 2> /tmp/err2; echo \"R oldls \$? \$(cat /tmp/err2)\"
cat <&3 > /dev/null 2> /tmp/err3; echo \"R oldfd \$? \$(cat /tmp/err3)\"
exec 3<&-
umount \$M; echo \"R umount \$?\"
mount -t hostrpcfs e /tmp/m2; echo \"R mount2 \$?\"
echo \"R sum2 \$(sha256sum /tmp/m2/data.bin | cut -d' ' -f1)\"
umount /tmp/m2; echo \"R umount2 \$?\"
echo \"R dmesg \$(dmesg | grep -cE 'BUG|WARNING|Oops|general protection|refcount_t')\"
dmesg | grep -E 'hostrpcfs|BUG|WARNING|Oops' | tail -n 10
"

echo "1..7"
rc=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-300}" -s "$vm_server" -a "hrpc.load=hostrpcfs" \
	-l "$vm_tmp/console" -L "$vm_tmp/server" \
	-e 'pkill -KILL -P "$VM_SERVER_PID"' -E '^RESET-ME' \
	"$guest_cmd" > "$vm_tmp/out" 2> "$vm_tmp/err" || rc=$?
sed 's/^/# /' "$vm_tmp/out"
sed 's/^/# vm-run: /' "$vm_tmp/err"

set +e
n=0
t() { n=$((n + 1)); tap "$n" "$1" "$2"; }
r() { grep -m1 "^R $1" "$vm_tmp/out" | cut -d' ' -f3- ; }
is() { [ "$(r "$1")" = "$2" ]; }
is mount 0 && [ "$(r reattached)" -ge 2 ] 2>/dev/null
t $? "mounted, then the worker was killed and the channel re-attached ($(r reattached) attaches)"
grep -q '^R reader-ended' "$vm_tmp/out"; t $? "a reader looping on the mount ended with an error (no hang)"
set -- $(r oldcat) ; a=$1; set -- $(r oldls); b=$1
set -- $(r oldfd); c=$1
[ "${a:-0}" != 0 ] && [ "${b:-0}" != 0 ] && [ "${c:-0}" != 0 ] &&
	r oldcat | grep -q 'Input/output error' && r oldls | grep -q 'Input/output error' &&
	r oldfd | grep -q 'I/O error\|Input/output error'
t $? "the old mount fails with EIO: open ($(r oldcat)), readdir ($(r oldls)), a file open before ($(r oldfd))"
is umount 0; t $? "umount of the dead mount"
is mount2 0 && is sum2 "$sum" && is umount2 0; t $? "a new mount of the export reads the data intact"
is dmesg 0; t $? "no kernel BUG, WARNING or oops"
[ "$rc" = 0 ]; t $? "guest exit status $rc"
if [ "$rc" != 0 ]; then
	echo "# ---- console (tail) ----"
	tail -n 40 "$vm_tmp/console" 2>/dev/null | sed 's/^/# /'
fi
