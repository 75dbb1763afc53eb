#!/usr/bin/env bash
# VM test: four guest processes on two vCPUs call the host at once (inline
# and bulk, irq and poll waits): every byte comes back intact, every call is
# answered, the bulk area is whole again afterwards and the kernel logs no
# warning, BUG or oops (in-flight table, ring and pool locking under load).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vm_prepare

log=$vm_tmp
echo "1..3"
rc=0
"$vm_run" -c 2 -t "${HOSTRPC_VM_TIMEOUT:-240}" -s "$vm_server" -l "$log/console" -L "$log/server" '
for i in 1 2 3 4; do hrpc-echo -q -n 300 -e 0 -l 262144 > /tmp/out.$i 2>&1 & done
wait
cat /tmp/out.*
echo "pass-count: $(grep -c "^RESULT integrity=PASS" /tmp/out.*  | awk -F: "{ s += \$2 } END { print s }")"
hrpc-echo -q -n 0 -e 0 -l 4096 | grep "info(end)"
echo "dmesg-problems: $(dmesg | grep -cE "BUG|WARNING|Oops|general protection|refcount_t")"
' > "$log/out" 2> "$log/err" || rc=$?
sed 's/^/# /' "$log/out"
sed 's/^/# vm-run: /' "$log/err"

r=0; { [ "$rc" = 0 ] && grep -q '^pass-count: 4$' "$log/out"; } || r=1
tap 1 $r "4 concurrent callers on 2 vCPUs: all data intact (exit $rc)"
r=0; { grep -E 'info\(end\)' "$log/out" | grep -qE ' data=([0-9]+) free=\1 '; } || r=1
tap 2 $r "bulk data area completely free again"
r=0; { grep -q '^dmesg-problems: 0$' "$log/out"; } || r=1
tap 3 $r "no kernel warning, BUG or oops"
