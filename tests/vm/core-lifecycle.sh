#!/usr/bin/env bash
# VM test: hostrpc_core can be loaded and unloaded repeatedly while the host
# stays up: each load attaches and negotiates again, each unload detaches
# cleanly (BYE, guest_state CLOSED), calls work after every re-load, and the
# kernel logs no warning, BUG or oops on the way.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vm_prepare

log=$vm_tmp
echo "1..3"
rc=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-240}" -s "$vm_server" -a hrpc.noload=1 \
	-l "$log/console" -L "$log/server" '
for i in 1 2 3; do
	insmod /lib/modules/hostrpc_core.ko || { echo "insmod $i failed"; exit 1; }
	hrpc-echo -q -n 20 -e 5 -l 65536 | grep "^RESULT integrity" | sed "s/^/load $i: /"
	rmmod hostrpc_core || { echo "rmmod $i failed"; exit 1; }
	[ -e /dev/hostrpc0 ] && { echo "/dev/hostrpc0 still there after rmmod"; exit 1; }
done
echo "dmesg-problems: $(dmesg | grep -cE "BUG|WARNING|Oops|general protection|refcount_t")"
dmesg | grep hostrpc_core
' > "$log/out" 2> "$log/err" || rc=$?
sed 's/^/# /' "$log/out"
sed 's/^/# vm-run: /' "$log/err"

r=0; { [ "$rc" = 0 ] && [ "$(grep -c '^load [123]: RESULT integrity=PASS' "$log/out")" = 3 ]; } || r=1
tap 1 $r "three load/call/unload cycles, calls intact after every re-attach (exit $rc)"
r=0; { [ "$(grep -c 'attached: host_gen' "$log/out")" -ge 3 ]; } || r=1
tap 2 $r "every load attached (HELLO negotiated again)"
r=0; { grep -q '^dmesg-problems: 0$' "$log/out"; } || r=1
tap 3 $r "no kernel warning, BUG or oops"
