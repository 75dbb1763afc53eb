#!/usr/bin/env bash
# VM test: a real guest writes forged ring state into its shared memory -
# a request ring prod index more than the ring holds, then a record header
# claiming 64 KiB of payload of which only the header is published - and
# rings the doorbell (hostrpc_core loaded with debug_forge=1, driven by
# hrpc-forge).  hostrpcd fences that guest only: its worker logs the reason
# and exits (status 3), hostrpcctl shows the guest fenced with the reason,
# while a process guest on the same daemon keeps being served.  The fresh
# worker rings the guest's reset vector and calls work again.
#
#   guest "vm" (hrpc-forge) --ivshmem--> hostrpcd -- worker vm    (fenced, restarted)
#   hostrpc-ping "bystander" --memfd---> hostrpcd -- worker ping  (keeps serving)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vm_prepare
[ "$vm_server_is_hostrpcd" = 1 ] || vm_skip "needs hostrpcd as the ivshmem server"
hostrpcd=$top_builddir/hostrpc/daemon/hostrpcd
hostrpcctl=$top_builddir/hostrpc/daemon/hostrpcctl
[ -x "$vm_ping" ] || vm_skip "hostrpc-ping not built"
log=$vm_tmp
admin=$vm_admin
# Our own hostrpcd (not vm-run's, which would stop it with the VM): it
# outlives the guest, so the bystander is stopped once the VM is gone and
# its last run still finds the daemon serving.
trap vm_hostrpcd_cleanup EXIT
ivs=$vm_tmp/vm.ivshmem
vm_hostrpcd_start --ivshmem="vm=$ivs"

# The bystander: process guests calling back to back (about a second each)
# from before the guest boots until it has powered off; every run must
# succeed.
vm_bystander bystander
# What hostrpcctl shows, ten times a second.
(
	while [ ! -e "$vm_tmp/stop" ]; do
		"$hostrpcctl" --admin-socket="$admin" --json channels 2>&1 || true
		"$hostrpcctl" --admin-socket="$admin" list 2>&1 | sed 's/^/list: /' || true
		sleep 0.1
	done > "$log/admin.log"
) &
vm_bg+=($!)

echo "1..7"
rc=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-240}" -x "$ivs" -a hostrpc_core.debug_forge=1 \
	-l "$log/console" '
attached() {	# wait up to 20 s until calls work again
	i=0
	while [ $i -lt 200 ]; do
		hrpc-echo -q -n 0 -e 0 -l 1 > /dev/null 2>&1 && return 0
		i=$((i + 1)); sleep 0.1
	done
	return 1
}
hrpc-echo -q -n 50 -e 0 -l 65536 | sed "s/^/before: /"
for what in prod len; do
	hrpc-forge $what | sed "s/^/$what: /"
	t0=$(cut -d" " -f1 /proc/uptime)
	attached && echo "$what: calls work again after $(echo "$(cut -d" " -f1 /proc/uptime) - $t0" | bc 2>/dev/null || echo ?) s"
	hrpc-echo -q -n 50 -e 0 -l 65536 | sed "s/^/$what after: /"
done
dmesg | grep -E "hostrpc_core.*(debug_forge|re-attaching|attached:)"
echo "dmesg-problems: $(dmesg | grep -cE "BUG|WARNING|Oops|general protection|refcount_t")"
' > "$log/out" 2> "$log/err" || rc=$?
touch "$vm_tmp/stop"
for p in "${vm_bg[@]}"; do wait "$p" 2>/dev/null || true; done
vm_bg=()
sed 's/^/# /' "$log/out"
sed 's/^/# vm-run: /' "$log/err"
grep -E 'fenced|fresh worker|exited with status|process guest' "$log/hostrpcd.log" | sed 's/^/# server: /'

r=0; { grep -q '^before: RESULT integrity=PASS' "$log/out" &&
       grep -q '^prod: ok - forged prod published' "$log/out" &&
       grep -q '^len: ok - forged len published' "$log/out"; } || r=1
tap 1 $r "the guest published a forged prod index, then a forged record length"
r=0; { [ "$(grep -c 'guest [0-9]* (vm): fenced: guest broke the ring or frame format' "$log/hostrpcd.log")" = 2 ] &&
       [ "$(grep -c 'guest [0-9]* (vm): worker [0-9]* exited with status 3 (guest fenced)' "$log/hostrpcd.log")" = 2 ]; } || r=1
tap 2 $r "hostrpcd fenced the guest twice: the worker logged why and exited with status 3"
r=0; { grep -q '"name":"vm","transport":"ivshmem","state":"fenced".*"fence_reason":"guest broke the ring or frame format' "$log/admin.log" &&
       grep -qE '^list: [0-9]+ +vm +ivshmem +fenced ' "$log/admin.log"; } || r=1
tap 3 $r "hostrpcctl showed the guest fenced, with the reason"
sed 's/^/# bystander: /' "$log/ping.log"
r=0; { ! grep -qE 'fenced' <(grep -v '(vm)' "$log/hostrpcd.log") &&
       [ -e "$vm_tmp/bystander-done" ] && [ "$(grep -c '^run ok' "$log/ping.log")" -ge 2 ] &&
       ! grep -q '^run FAILED' "$log/ping.log"; } || r=1
tap 4 $r "the process guest next to it kept being served ($(grep -c '^run ok' "$log/ping.log") runs of 200 calls, $(grep -c '^run FAILED' "$log/ping.log") failed)"
r=0; { grep -q 'prod: calls work again' "$log/out" && grep -q 'len: calls work again' "$log/out" &&
       grep -q '^prod after: RESULT integrity=PASS' "$log/out" &&
       grep -q '^len after: RESULT integrity=PASS' "$log/out" && [ "$rc" = 0 ]; } || r=1
tap 5 $r "after each fence the reset vector re-attached the guest and calls are intact (exit $rc)"
r=0; { grep -qE '^len after: # info\(end\): state=2 .* gen=3 ' "$log/out"; } || r=1
tap 6 $r "the guest's channel is at generation 3 (two resets)"
r=0; { grep -q '^dmesg-problems: 0$' "$log/out"; } || r=1
tap 7 $r "no kernel warning, BUG or oops"
if [ "$rc" != 0 ]; then
	echo "# ---- console (tail) ----"
	tail -n 30 "$log/console" | sed 's/^/# /'
	echo "# ---- server (tail) ----"
	tail -n 30 "$log/hostrpcd.log" 2>/dev/null | sed 's/^/# /'
fi
