#!/usr/bin/env bash
# VM test: the shared POSIX credential checks (tests/posix/creds.sh) in a
# guest, through hostrpcfs (filesystem outsourcing): a host directory
# exported with ids=passthrough, mounted in the guest, used by the guest's
# root and its uid 4321 (tests/posix/runas, static).  The same checks run
# on the host through hostrpc-guestmount (mount-posix.sh): one protocol,
# one server, the same permissions both ways.  Then, on the host: what the
# guest's uid 4321 made is the host's uid 4321's, and the guest's opens
# are in the host's audit log.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
# make -j: its checks have deadlines (tests/lib.sh)
vm_load_lock shared
[ -f "$HOSTRPC_GUEST_DIR/modules/hostrpcfs.ko" ] ||
	vm_skip "the guest image has no hostrpcfs.ko (drivers-frontend/fs)"
${CC:-gcc} -static -O2 -o "$vm_tmp/runas" "$top_srcdir/tests/posix/runas.c" 2> "$vm_tmp/cc.log" ||
	{ cat "$vm_tmp/cc.log" >&2; vm_skip "cannot build the static runas (apt-get install libc6-dev)"; }
count=$(sed -n 's/^CREDS_COUNT=//p' "$top_srcdir/tests/posix/creds.sh")

exp=$vm_tmp/export
mkdir -p "$exp/pub" "$vm_tmp/fs"
chmod 777 "$exp/pub"
chmod 755 "$vm_tmp" "$exp"
echo "export posix $exp ids=passthrough" > "$vm_tmp/fs/default.conf"

guest_cmd="
mkdir -p /mnt && mount -t hostrpcfs posix /mnt && echo MOUNTED
grep ' /mnt ' /proc/mounts
CREDS_FIRST=2 sh /bin/creds.sh /mnt /bin/runas
runas 4321 4321 - touch /mnt/pub/byuser && echo MADE
umount /mnt && echo UMOUNTED
echo \"dmesg-problems: \$(dmesg | grep -cE 'BUG|WARNING|Oops|general protection|refcount_t')\"
"
echo "1..$((count + 4))"
rc=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-300}" -m 512 -s "$vm_server --fs-policy-dir=$vm_tmp/fs" \
	-a "hrpc.load=hostrpcfs" -f "$vm_tmp/runas:/bin/runas" \
	-f "$top_srcdir/tests/posix/creds.sh:/bin/creds.sh" -l "$vm_tmp/console" \
	"$guest_cmd" > "$vm_tmp/out" 2> "$vm_tmp/err" || rc=$?
sed 's/^/# /' "$vm_tmp/err"

set +e
n=0
t() { n=$((n + 1)); tap "$n" "$1" "$2"; }
grep -q '^MOUNTED' "$vm_tmp/out" && grep ' /mnt ' "$vm_tmp/out" | grep -q nosuid
t $? "mount -t hostrpcfs posix /mnt, nosuid ($(grep ' /mnt ' "$vm_tmp/out" | head -1))"
for i in $(seq 2 $((count + 1))); do
	line=$(grep -m1 -E "^(not )?ok $i - " "$vm_tmp/out" || echo "not ok $i - no result")
	echo "$line" | grep -q "^ok $i - "
	t $? "guest: ${line#* - }"
done
grep -q '^MADE' "$vm_tmp/out" && [ "$(stat -c %u:%g "$exp/pub/byuser" 2>&1)" = 4321:4321 ]
t $? "a file the guest's uid 4321 made is the host's 4321:4321 ($(stat -c %u:%g "$exp/pub/byuser" 2>&1))"
grep -qs 'fs export=posix open ' "$vm_tmp"/state/sock-audit/*.log
t $? "the guest's opens are in the host's audit log ($(cat "$vm_tmp"/state/sock-audit/*.log 2>/dev/null | grep -c 'fs export=posix') fs records)"
grep -q '^UMOUNTED' "$vm_tmp/out" && grep -q '^dmesg-problems: 0$' "$vm_tmp/out" && [ "$rc" = 0 ]
t $? "umount, no kernel warning, guest exit status $rc"
if [ "$rc" != 0 ] || grep -q '^not ok' "$vm_tmp/out"; then
	sed 's/^/# out: /' "$vm_tmp/out" | tail -n 40
	tail -n 30 "$vm_tmp/console" 2>/dev/null | sed 's/^/# console: /'
fi
