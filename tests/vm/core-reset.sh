#!/usr/bin/env bash
# VM test: when the host re-initialises the channel (reset vector, new
# host_gen) while the guest is making calls, the calls in flight fail with
# ECONNRESET (or ENOTCONN until re-attached), the module re-attaches by
# itself, and calls work again with intact data.
#
# The reset: HOSTRPC_IVSHMEM_RESET, run on the host ($VM_SERVER_PID = the
# server).  With hostrpcd it defaults to killing the guest's worker process:
# the supervisor starts a fresh worker, which lays out a new generation on
# the same memory and rings the guest's reset vector (a worker crash).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vm_prepare
reset_cmd=${HOSTRPC_IVSHMEM_RESET:-}
if [ -z "$reset_cmd" ] && [ "$vm_server_is_hostrpcd" = 1 ]; then
	reset_cmd='pkill -KILL -P "$VM_SERVER_PID"'
fi
[ -n "$reset_cmd" ] ||
	vm_skip "no way to make the ivshmem server reset a channel (set HOSTRPC_IVSHMEM_RESET)"

log=$vm_tmp
echo "1..2"
rc=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-240}" -s "$vm_server" -l "$log/console" -L "$log/server" \
	-e "$reset_cmd" -E '^RESET-ME' \
	'hrpc-echo -q -R 30 -n 100 -e 10' > "$log/out" 2> "$log/err" || rc=$?
sed 's/^/# /' "$log/out"
sed 's/^/# vm-run: /' "$log/err"

r=0; { grep -qE '^RESULT reset resets=[1-9][0-9]* .* other=0 ok_after=20 ' "$log/out"; } || r=1
tap 1 $r "re-attached after the host reset; only ECONNRESET/ENOTCONN meanwhile"
r=0; { grep -q '^RESULT integrity=PASS' "$log/out" && [ "$rc" = 0 ]; } || r=1
tap 2 $r "echo integrity after the reset (exit $rc)"
