#!/usr/bin/env bash
# VM test: no lost wake-up between the guest and its hostrpcd worker.
#
# The rings suppress doorbells with event indexes (include/hostrpc/ring.h):
# a side about to sleep stores its event index and loads the other's index;
# the other stores its index and loads the event index.  Without a full
# barrier on both sides, both may miss each other's store and the sleeper is
# never woken.  QEMU's TCG before 8.1 drops the guest's barriers when the
# machine has one possible CPU (drivers-frontend/core/fence.c), which is the
# configuration here: 1 vCPU, and hostrpc_core's rekick work (which rings
# again every second while calls wait, for doorbells lost in migration) made
# as good as absent (rekick_ms=600000), so a lost wake-up is a stall.
#
#   guest (1 vCPU, TCG, hostrpc_sock version 2)     host
#   sock-rr rr:50:1, 1 s, 12 times  -- ivshmem -->  bench/sock-rr-server
#
# 50 connections of request/reply ring about 100 000 doorbells a second
# each way; before the fence, 5 of 25 such runs stalled.  Checks: the
# fence is in force (hostrpc_core.host_fence reads 1), each run ends within
# 10 s and passes, and the kernel logged no warning.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
runs=${SOCK_WAKEUP_RUNS:-12}
rr_server=$top_builddir/bench/sock-rr-server
[ -x "$rr_server" ] || vm_skip "no $rr_server (make builds it)"
${CC:-gcc} -static -O2 -std=gnu11 -o "$vm_tmp/sock-rr" "$top_srcdir/bench/guest/sock-rr.c" \
	2> "$vm_tmp/cc.log" || { cat "$vm_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (apt-get install libc6-dev)"; }

rr_pid=
cleanup_wakeups() {
	[ -z "$rr_pid" ] || { kill "$rr_pid" 2>/dev/null; wait "$rr_pid" 2>/dev/null; } || true
	"$vm_hostrpcd" --fdstore-release --state-dir="$vm_state" > /dev/null 2>&1 || true
	rm -rf "$vm_tmp"
}
trap cleanup_wakeups EXIT
"$rr_server" > "$vm_tmp/rr.log" 2>&1 &
rr_pid=$!
wait_for 10 grep -qs '^READY port=' "$vm_tmp/rr.log" ||
	{ cat "$vm_tmp/rr.log" >&2; echo "sock-wakeups: sock-rr-server did not start" >&2; exit 1; }
port=$(sed -n 's/^READY port=//p' "$vm_tmp/rr.log")
mkdir -p "$vm_tmp/conf"
echo "connect allow loopback" > "$vm_tmp/conf/default.conf"

guest_cmd="
echo \"FENCE \$(cat /sys/module/hostrpc_core/parameters/host_fence)\"
echo 600000 > /sys/module/hostrpc_core/parameters/rekick_ms
for i in $(seq -s ' ' 1 "$runs"); do
	sock-rr -H 127.0.0.1 -p $port -t 1 rr:50:1 > /tmp/rr.out 2>&1 &
	p=\$!
	n=0
	while kill -0 \$p 2>/dev/null && [ \$n -lt 20 ]; do sleep 0.5; n=\$((n + 1)); done
	if kill -0 \$p 2>/dev/null; then
		echo \"RUN \$i STALLED\"
		echo 200 > /sys/module/hostrpc_core/parameters/rekick_ms
		wait \$p
		echo 600000 > /sys/module/hostrpc_core/parameters/rekick_ms
	else
		wait \$p
		echo \"RUN \$i \$(grep '^RESULT' /tmp/rr.out)\"
	fi
done
echo \"dmesg-problems: \$(dmesg | grep -cE 'BUG|WARNING|Oops|general protection|refcount_t')\"
"
echo "1..$((runs + 2))"
rc=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-300}" -c 1 -s "$vm_server --sock-policy-dir=$vm_tmp/conf" \
	-a "hrpc.load=hostrpc_sock hostrpc_sock.v2=1" -f "$vm_tmp/sock-rr:/bin/sock-rr" \
	-l "$vm_tmp/console" -L "$vm_tmp/server" \
	"$guest_cmd" > "$vm_tmp/out" 2> "$vm_tmp/err" || rc=$?
sed 's/^/# /' "$vm_tmp/out"
[ "$rc" = 0 ] || { sed 's/^/# vm-run: /' "$vm_tmp/err"; tail -n 20 "$vm_tmp/server" | sed 's/^/# server: /'; }

set +e
n=0
t() { n=$((n + 1)); tap "$n" "$1" "$2"; }
grep -q '^FENCE 1$' "$vm_tmp/out"
t $? "hostrpc_core fences ring barriers on a one-CPU TCG guest (host_fence reads $(sed -n 's/^FENCE //p' "$vm_tmp/out"))"
for i in $(seq 1 "$runs"); do
	line=$(grep -m1 "^RUN $i " "$vm_tmp/out" || echo "RUN $i no result")
	echo "$line" | grep -q "^RUN $i RESULT rr:50:1 PASS "
	t $? "run $i of 50 connections ended without a lost wake-up: $(echo "${line#RUN $i }" | awk '{ print $1, $2, $3, $9, $10 }')"
done
p=$(sed -n 's/^dmesg-problems: //p' "$vm_tmp/out")
[ "$p" = 0 ]
t $? "no kernel warnings in the guest (${p:-no answer})"
