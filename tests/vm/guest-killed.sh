#!/usr/bin/env bash
# VM test: QEMU is SIGKILLed while its guest hammers the host with calls
# (inline and 1 MiB bulk, irq and poll waits, several processes).  hostrpcd
# sees QEMU's ivshmem connection hang up and frees everything of that guest:
# its worker is stopped and reaped, the guest leaves hostrpcctl's list, and
# the supervisor and the fd holder are back to the descriptors they held
# before QEMU came (socket, memfd, eventfds closed).  Process guests on the
# same daemon keep being served throughout.
#
#   guest "vm" (4 x hrpc-echo) --ivshmem--> hostrpcd -- worker vm    <- QEMU SIGKILL
#   hostrpc-ping "bystander"   --memfd----> hostrpcd -- worker ping  (keeps serving)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vm_prepare
[ "$vm_server_is_hostrpcd" = 1 ] || vm_skip "needs hostrpcd as the ivshmem server"
hostrpcctl=$top_builddir/hostrpc/daemon/hostrpcctl
[ -x "$vm_ping" ] || vm_skip "hostrpc-ping not built"
log=$vm_tmp
ivs=$vm_tmp/vm.ivshmem
trap vm_hostrpcd_cleanup EXIT
vm_hostrpcd_start --ivshmem="vm=$ivs"
daemon=$vm_daemon
admin=$vm_admin
state=$vm_state
ctl() { "$hostrpcctl" --admin-socket="$admin" "$@"; }
fds() { vm_fd_count "$1"; }
echo "1..6"
holder=""
for p in $(pgrep -f -- "--fdstore --socket=$state/fdstore.sock" || true); do holder=$p; done
sleep 0.5
base=$(fds "$daemon")
hbase=$([ -n "$holder" ] && fds "$holder" || echo 0)

# The bystander: process guests calling back to back (about a second each)
# until the test is done; every run must succeed.
vm_bystander bystander

# On the host once the guest hammers: note what hostrpcctl shows, then
# SIGKILL QEMU (the peer pid of guest "vm").
cat > "$vm_tmp/kill-qemu.sh" <<KILL
#!/usr/bin/env bash
sleep 2
"$hostrpcctl" --admin-socket="$admin" list > "$log/list.before"
"$hostrpcctl" --admin-socket="$admin" --json channels > "$log/channels.before"
fds_attached=\$(ls /proc/$daemon/fd | wc -l)
echo "\$fds_attached" > "$log/fds.attached"
qemu=\$(awk '\$2 == "vm" { print \$6 }' "$log/list.before")
echo "killing QEMU \$qemu"
kill -KILL "\$qemu"
date +%s.%N > "$log/killed.at"
KILL
chmod +x "$vm_tmp/kill-qemu.sh"

rc=0
"$vm_run" -c 2 -t "${HOSTRPC_VM_TIMEOUT:-240}" -x "$ivs" -l "$log/console" -L "$log/hook" \
	-e "$vm_tmp/kill-qemu.sh" -E '^HAMMERING' '
for i in 1 2 3 4; do
	(while :; do hrpc-echo -q -n 200 -e 0 -l 1048576 || echo "caller $i: FAILED"; done) &
done
sleep 1
echo HAMMERING
sleep 120
echo "NOT KILLED"
' > "$log/out" 2> "$log/err" || rc=$?
sed 's/^/# /' "$log/out"
sed 's/^/# vm-run: /' "$log/err"
cat "$log/hook" 2>/dev/null | sed 's/^/# host: /'
sed 's/^/# before the kill: /' "$log/list.before" 2>/dev/null || true
worker=$(awk '$2 == "vm" { print $5 }' "$log/list.before" 2>/dev/null || true)
# One JSON object per channel: split them to read guest vm's calls.
calls=$(sed 's/},{"guest_id"/}\n{"guest_id"/g' "$log/channels.before" 2>/dev/null |
	sed -n 's/.*"name":"vm".*"stats":{"calls":\([0-9]*\).*/\1/p' || true)

r=0; { [ -n "$worker" ] && [ "${calls:-0}" -gt 0 ] && grep -q '^killing QEMU [0-9]' "$log/hook" &&
       ! grep -q 'NOT KILLED' "$log/out" && [ "$rc" = 125 ]; } || r=1
tap 1 $r "QEMU SIGKILLed while its guest was calling (worker ${worker:-?}, ${calls:-?} calls served)"
r=0; { wait_for 10 eval '[ ! -d "/proc/$worker" ]' &&
       grep -q "guest [0-9]* (vm): QEMU detached; stopping the guest" "$log/hostrpcd.log" &&
       grep -q "guest [0-9]* (vm): worker $worker killed by signal 15" "$log/hostrpcd.log" &&
       grep -q "guest [0-9]* (vm): freed" "$log/hostrpcd.log"; } || r=1
tap 2 $r "hostrpcd stopped and reaped the guest's worker and freed the guest"
r=0; { wait_for 5 eval '! ctl list | awk "\$2 == \"vm\"" | grep -q .'; } || r=1
tap 3 $r "hostrpcctl no longer lists guest vm"
# The bystander stops here: its own worker would blur the count.
touch "$vm_tmp/stop"
wait_for 10 test -e "$vm_tmp/bystander-done" || true
r=0; { wait_for 10 eval '[ "$(fds "$daemon")" = "$base" ]'; } || r=1
tap 4 $r "the supervisor holds its $base descriptors again ($(cat "$log/fds.attached" 2>/dev/null || echo ?) with QEMU attached, $(fds "$daemon") now)"
r=0; { [ -n "$holder" ] && wait_for 10 eval '[ "$(fds "$holder")" = "$hbase" ]'; } || r=1
tap 5 $r "the fd holder forgot the guest's socket, memory and eventfds ($hbase descriptors, $(fds "${holder:-0}") now)"
sed 's/^/# bystander: /' "$log/ping.log"
r=0; { [ -e "$vm_tmp/bystander-done" ] && [ "$(grep -c '^run ok' "$log/ping.log")" -ge 2 ] &&
       ! grep -q '^run FAILED' "$log/ping.log" && kill -0 "$daemon"; } || r=1
tap 6 $r "process guests kept being served meanwhile ($(grep -c '^run ok' "$log/ping.log") runs of 200 calls, $(grep -c '^run FAILED' "$log/ping.log") failed)"
grep -E '\(vm\)|fdstore|critical' "$log/hostrpcd.log" | sed 's/^/# hostrpcd: /'
