#!/usr/bin/env bash
# VM test: a real guest forges the data rings of its sockets (version 2
# socket areas, include/hostrpc/sockring.h) - a TCP socket's out ring prod
# index more than the ring holds ahead of the host's cons, then a UDP
# socket's out ring record header claiming more payload than the ring holds
# - and KICKs the host (hostrpc_sock loaded with debug_forge=1, written
# through debug_forge_area, drivers-frontend/sock/forge.c).  hostrpcd fences
# that guest only: its worker logs the reason and exits (status 3),
# hostrpcctl shows the guest fenced with the reason, the daemon keeps
# running and a process guest on it keeps being served.  The fresh worker
# rings the guest's reset vector; the guest's old sockets fail as
# documented for a host reset (POLLERR|POLLHUP, ECONNRESET) and new ones
# echo again.
#
#   guest "vm" (area-forge-probe) --ivshmem--> hostrpcd -- worker vm   (fenced, restarted)
#                                                  |          `--> host-echo.py 127.0.0.1:PORT
#   hostrpc-ping "bystander" -------memfd----------'-- worker ping     (keeps serving)
#
# SOCK_FORGE_KEEP=DIR: copy the logs (daemon, hostrpcctl, guest) to DIR.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
[ "$vm_server_is_hostrpcd" = 1 ] || vm_skip "needs hostrpcd as the ivshmem server"
hostrpcctl=$top_builddir/hostrpc/daemon/hostrpcctl
[ -x "$vm_ping" ] || vm_skip "hostrpc-ping not built"
[ -x "$hostrpcctl" ] || vm_skip "hostrpcctl not built"
command -v python3 > /dev/null || vm_skip "python3 missing (host echo server)"
${CC:-gcc} -static -O2 -Wall -std=gnu11 -o "$vm_tmp/area-forge-probe" \
	"$top_srcdir/tests/vm/sock/guest/area-forge-probe.c" 2> "$vm_tmp/cc.log" ||
	{ cat "$vm_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (apt-get install libc6-dev)"; }
log=$vm_tmp
admin=$vm_admin
reason="guest forged a socket's data ring index or record"

echo_pid=
cleanup_forged() {
	[ -z "$echo_pid" ] || { kill "$echo_pid" 2> /dev/null; wait "$echo_pid" 2> /dev/null; } || true
	vm_hostrpcd_cleanup
}
# Our own hostrpcd (not vm-run's, which would stop it with the VM): it
# outlives the guest, so the bystander is stopped once the VM is gone and
# its last run still finds the daemon serving.
trap cleanup_forged EXIT
port=$(vm_free_port)
python3 "$top_srcdir/tests/vm/sock/host-echo.py" "$port" > "$log/echo.log" 2>&1 &
echo_pid=$!
wait_for 10 grep -qs '^READY' "$log/echo.log" ||
	{ cat "$log/echo.log" >&2; echo "Bail out! host-echo.py did not start"; exit 1; }
mkdir -p "$log/conf"
echo "connect allow loopback" > "$log/conf/default.conf"
ivs=$vm_tmp/vm.ivshmem
vm_hostrpcd_start --ivshmem="vm=$ivs" --sock-policy-dir="$log/conf"

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

echo "1..8"
rc=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-300}" -x "$ivs" \
	-a "hrpc.load=hostrpc_sock hostrpc_sock.v2=1 hostrpc_sock.debug_forge=1" \
	-f "$vm_tmp/area-forge-probe:/bin/area-forge-probe" -l "$log/console" "
area-forge-probe $port tcp prod > /tmp/tcp.out 2>&1
echo \"tcp: exit \$?\"
sed 's/^/tcp: /' /tmp/tcp.out
area-forge-probe $port udp rec > /tmp/udp.out 2>&1
echo \"udp: exit \$?\"
sed 's/^/udp: /' /tmp/udp.out
dmesg | grep -E 'hostrpc_(sock|core)' | grep -E 'debug_forge|broke|re-attach|attached|reset' | sed 's/^/dmesg: /'
echo \"dmesg-forged: \$(dmesg | grep -c 'debug_forge_area: forged')\"
echo \"dmesg-problems: \$(dmesg | grep -cE 'BUG|WARNING|Oops|general protection|refcount_t')\"
" > "$log/out" 2> "$log/err" || rc=$?
daemon_alive=0
kill -0 "$vm_daemon" 2> /dev/null && "$hostrpcctl" --admin-socket="$admin" list > "$log/list-end" 2>&1 &&
	daemon_alive=1
touch "$vm_tmp/stop"
for p in "${vm_bg[@]}"; do wait "$p" 2> /dev/null || true; done
vm_bg=()
sed 's/^/# /' "$log/out"
sed 's/^/# vm-run: /' "$log/err"
grep -vE '\((bystander|guest-[0-9]+)\)' "$log/hostrpcd.log" | sed 's/^/# server: /'
[ -z "${SOCK_FORGE_KEEP:-}" ] || cp -r "$log" "$SOCK_FORGE_KEEP"

set +e
n=0
t() { n=$((n + 1)); tap "$n" "$1" "$2"; }
{ grep -q '^tcp: before: ok' "$log/out" && grep -q '^tcp: forge: ok wrote prod' "$log/out" &&
  grep -q '^udp: before: ok' "$log/out" && grep -q '^udp: forge: ok wrote rec' "$log/out" &&
  grep -q '^dmesg-forged: 2$' "$log/out"; }
t $? "the guest's TCP and UDP sockets echoed, then it forged an out ring prod index and a datagram record header and KICKed"
{ [ "$(grep -c "guest [0-9]* (vm): fenced: $reason" "$log/hostrpcd.log")" = 2 ] &&
  [ "$(grep -c 'guest [0-9]* (vm): worker [0-9]* exited with status 3 (guest fenced)' "$log/hostrpcd.log")" = 2 ]; }
t $? "hostrpcd fenced the guest twice: its worker logged \"$reason\" and exited with status 3"
{ grep -q "\"name\":\"vm\",\"transport\":\"ivshmem\",\"state\":\"fenced\".*\"fence_reason\":\"$reason" "$log/admin.log" &&
  grep -qE '^list: [0-9]+ +vm +ivshmem +fenced ' "$log/admin.log"; }
t $? "hostrpcctl showed the guest fenced, with the reason"
[ "$daemon_alive" = 1 ]
t $? "hostrpcd is still running and answers hostrpcctl after the fences"
sed 's/^/# bystander: /' "$log/ping.log"
{ ! grep -qE 'fenced' <(grep -v '(vm)' "$log/hostrpcd.log") &&
  [ -e "$vm_tmp/bystander-done" ] && [ "$(grep -c '^run ok' "$log/ping.log")" -ge 2 ] &&
  ! grep -q '^run FAILED' "$log/ping.log"; }
t $? "the process guest next to it kept being served ($(grep -c '^run ok' "$log/ping.log") runs of 200 calls, $(grep -c '^run FAILED' "$log/ping.log") failed)"
( for p in tcp udp; do
	grep -q "^$p: old-poll: ok POLLERR|POLLHUP" "$log/out" &&
	grep -q "^$p: old-recv: ok ECONNRESET" "$log/out" &&
	grep -q "^$p: old-send: ok ECONNRESET" "$log/out" || exit 1
  done )
t $? "each forging socket then failed as after a host reset: POLLERR|POLLHUP, recv and send ECONNRESET"
{ grep -q '^tcp: after: ok' "$log/out" && grep -q '^udp: after: ok' "$log/out" &&
  grep -q '^tcp: exit 0$' "$log/out" && grep -q '^udp: exit 0$' "$log/out" && [ "$rc" = 0 ]; }
t $? "after each fence the guest re-attached and a new socket echoes ($(sed -n 's/^\(tcp\|udp\): after: ok .* echoes \([0-9.]* s\) .*/\1 \2/p' "$log/out" | tr '\n' ' ')after the forgery; vm-run exit $rc)"
p=$(sed -n 's/^dmesg-problems: //p' "$log/out")
[ "$p" = 0 ]
t $? "no kernel warning, BUG or oops in the guest (${p:-no answer}; the hook's own pr_warn aside)"
if [ "$rc" != 0 ]; then
	echo "# ---- console (tail) ----"
	tail -n 30 "$log/console" | sed 's/^/# /'
	echo "# ---- server (tail) ----"
	tail -n 30 "$log/hostrpcd.log" 2> /dev/null | sed 's/^/# /'
fi
exit 0
