#!/usr/bin/env bash
# VM test: the guest core module attaches to the host over ivshmem-doorbell
# and the host's echo service returns every byte intact - inline payloads
# 0 B..64 KiB and bulk 1 B..1 MiB, with interrupt-driven waits and with
# bounded polling - and events arrive in order.  Prints the latency of both
# wait modes (p50/p99) as TAP comments.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vm_prepare

log=$vm_tmp
echo "1..5"
rc=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-240}" -s "$vm_server" -l "$log/console" -L "$log/server" \
	'dmesg | grep hostrpc_core; hrpc-echo -n 1000; r=$?
	echo "dmesg-problems: $(dmesg | grep -cE "BUG|WARNING|Oops|general protection|refcount_t")"
	exit $r' > "$log/out" 2> "$log/err" || rc=$?
sed 's/^/# /' "$log/out"
sed 's/^/# vm-run: /' "$log/err"

r=0; { grep -q 'info(start): state=2 ' "$log/out"; } || r=1
tap 1 $r "guest attached to the host (HELLO negotiated)"
r=0; { grep -q '^RESULT integrity=PASS' "$log/out" && [ "$rc" = 0 ]; } || r=1
tap 2 $r "echo integrity, inline and bulk, irq, poll and async waits (guest exit $rc)"
r=0; { grep -q '^ok - events' "$log/out"; } || r=1
tap 3 $r "events delivered in order"
r=0; { grep -q '^RESULT latency mode=irq' "$log/out" && grep -q '^RESULT latency mode=poll' "$log/out"; } || r=1
tap 4 $r "latency measured for irq, poll and async waits"
r=0; { grep -q '^dmesg-problems: 0$' "$log/out"; } || r=1
tap 5 $r "no kernel warning, BUG or oops"
if [ "$rc" != 0 ]; then
	echo "# ---- console (tail) ----"
	tail -n 30 "$log/console" | sed 's/^/# /'
	echo "# ---- server (tail) ----"
	tail -n 30 "$log/server" 2>/dev/null | sed 's/^/# /'
fi
