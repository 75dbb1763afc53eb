#!/usr/bin/env bash
# VM test: one ivshmem endpoint, many real guests in a row.  Successive QEMU
# processes attach to hostrpcd's endpoint "vm", each with a different life:
#   kind 0  hostrpc_core only: echo calls, then a clean power-off;
#   kind 1  hostrpc_sock too: the guest (no NIC) fetches a page from a web
#           server on the host's loopback, then powers off;
#   kind 2  hostrpc_core hammering the host: QEMU is SIGKILLed mid-calls;
#   kind 3  hostrpc_core hammering: its worker is SIGKILLed, the module
#           re-attaches to the fresh worker and calls again, then power-off;
#   kind 4  hostrpc_sock fetching in a loop: the guest powers itself off
#           at once (sysrq o) with socket calls in flight.
# Meanwhile process guests come and go on the same daemon and hostrpcctl
# asks for list / stats / sockets vm in a loop (the name lookup that used to
# free the guest table, tools/demo's crash).  hostrpcd's supervisor must
# survive every boot, see every QEMU detach, serve every process guest, and
# end with no guest listed, its descriptors as before, flat memory and
# nothing critical - or, in a --enable-sanitizers build, any ASan/UBSan
# report - in its log.
#
#   QEMU #1..#N (one at a time) --ivshmem--> hostrpcd -- worker vm (one per QEMU)
#   hostrpc-ping churn-*        --memfd----> hostrpcd -- worker per process guest
#   hostrpcctl list/stats/sockets vm (loop) -> admin socket
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vm_prepare
[ "$vm_server_is_hostrpcd" = 1 ] || vm_skip "needs hostrpcd as the ivshmem server"
hostrpcctl=$top_builddir/hostrpc/daemon/hostrpcctl
[ -x "$vm_ping" ] || vm_skip "hostrpc-ping not built"
command -v python3 >/dev/null || vm_skip "python3 missing (the host's web server)"
boots=${HOSTRPC_CHURN_BOOTS:-20}
log=$vm_tmp
ivs=$vm_tmp/vm.ivshmem
trap vm_hostrpcd_cleanup EXIT
# In a sanitizer build, memory ASan holds back after a free (its quarantine)
# would read as growth; a small one still catches a use right after a free.
[ -z "${ASAN_OPTIONS:-}" ] || export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=2"
# The host's web server's port.  The built-in socket rules keep the host's
# loopback from a guest: the guest's policy allows that port.
port=$(vm_free_port)
mkdir -p "$vm_tmp/sock-conf"
echo "connect allow 127.0.0.1 $port" > "$vm_tmp/sock-conf/vm.conf"
vm_hostrpcd_start --ivshmem="vm=$ivs" --sock-policy-dir="$vm_tmp/sock-conf"
daemon=$vm_daemon
admin=$vm_admin
ctl() { "$hostrpcctl" --admin-socket="$admin" "$@"; }
echo "1..9"
tap 1 0 "hostrpcd starts with the ivshmem endpoint vm"
sleep 0.5
base=$(vm_fd_count "$daemon")

# The host's web server for the socket guests.
mkdir -p "$vm_tmp/www"
echo "churn-page-ok" > "$vm_tmp/www/hello.txt"
python3 -m http.server --bind 127.0.0.1 --directory "$vm_tmp/www" "$port" > /dev/null 2>&1 &
vm_bg+=($!)
wait_for 10 eval "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null || true

# Process guests connecting and leaving until the test is done.
vm_bystander churn 50 2
# hostrpcctl by name and by id, over and over.
(
	while [ ! -e "$vm_tmp/stop" ]; do
		ctl list; ctl sockets vm; ctl --json stats; ctl stats vm; ctl sockets 1
		sleep 0.05
	done > /dev/null 2>&1
) &
vm_bg+=($!)

# Hooks run on the host once the guest says so (vm-run -e/-E).
cat > "$vm_tmp/kill-qemu.sh" <<HOOK
#!/usr/bin/env bash
sleep 1
qemu=\$("$hostrpcctl" --admin-socket="$admin" list | awk '\$2 == "vm" && \$4 != "stopping" { q = \$6 } END { print q }')
echo "killing QEMU \$qemu"
kill -KILL "\$qemu"
HOOK
cat > "$vm_tmp/kill-worker.sh" <<HOOK
#!/usr/bin/env bash
sleep 1
w=\$("$hostrpcctl" --admin-socket="$admin" list | awk '\$2 == "vm" && \$4 != "stopping" { w = \$5 } END { print w }')
echo "killing worker \$w"
kill -KILL "\$w"
HOOK
chmod +x "$vm_tmp/kill-qemu.sh" "$vm_tmp/kill-worker.sh"

hammer='for i in 1 2; do (while :; do hrpc-echo -q -n 100 -e 0 -l 262144 >/dev/null 2>&1; done) & done'
fetch="wget -q -O - http://127.0.0.1:$port/hello.txt"
failed=()
detach_missed=()
rss_warm=""
for i in $(seq 0 $((boots - 1))); do
	kind=$((i % 5))
	args=(-t "${HOSTRPC_VM_TIMEOUT:-120}" -x "$ivs" -l "$log/console.$i" -L "$log/hook.$i")
	want=0 expect=""
	case $kind in
	0)	cmd='hrpc-echo -q -n 300 -l 65536 && echo ECHO-OK'; expect=ECHO-OK ;;
	1)	args+=(-a hrpc.load=hostrpc_sock); cmd="$fetch"; expect=churn-page-ok ;;
	2)	args+=(-e "$vm_tmp/kill-qemu.sh" -E '^HAMMERING')
		cmd="$hammer; echo HAMMERING; sleep 60; echo NOT-KILLED"; want=125 ;;
	3)	args+=(-e "$vm_tmp/kill-worker.sh" -E '^HAMMERING')
		# (hammering until the host's reset is seen - the hook may
		# come late on a loaded host - then echo again)
		cmd="$hammer; n0=\$(dmesg | grep -c 'host reset the channel'); echo HAMMERING;
		     t=0; while [ \$t -lt 60 ] && [ \$(dmesg | grep -c 'host reset the channel') -le \$n0 ]; do
		         sleep 0.5; t=\$((t + 1)); done;
		     [ \$t -lt 60 ] || echo NOT-RESET;
		     kill %1 %2 2>/dev/null;
		     for t in 1 2 3 4 5 6 7 8 9 10; do hrpc-echo -q -n 50 >/dev/null 2>&1 && break; sleep 0.5; done;
		     hrpc-echo -q -n 100 && echo AFTER-RESET-OK"
		expect=AFTER-RESET-OK ;;
	4)	args+=(-a hrpc.load=hostrpc_sock)
		cmd="$fetch; (while :; do wget -q -O /dev/null http://127.0.0.1:$port/hello.txt; done) &
		     sleep 1; echo o > /proc/sysrq-trigger; sleep 30; echo NOT-OFF"
		expect=churn-page-ok want=125 ;;
	esac
	rc=0
	"$vm_run" "${args[@]}" "$cmd" > "$log/out.$i" 2> "$log/err.$i" || rc=$?
	ok=1
	[ "$rc" = "$want" ] || ok=0
	[ -z "$expect" ] || grep -q "^$expect" "$log/out.$i" || ok=0
	! grep -q "NOT-" "$log/out.$i" || ok=0
	if [ "$ok" = 0 ]; then
		failed+=("boot $i (kind $kind, exit $rc)")
		sed "s/^/# boot $i: /" "$log/out.$i" "$log/err.$i" "$log/hook.$i" 2>/dev/null | tail -n 20
	fi
	# The next QEMU comes once this one's detach was seen.
	if ! wait_for 15 eval '[ "$(grep -c "(vm): QEMU detached" "$log/hostrpcd.log")" -gt "$i" ]' ||
	   ! kill -0 "$daemon" 2>/dev/null; then
		detach_missed+=("$i")
		kill -0 "$daemon" 2>/dev/null || { echo "# hostrpcd died during boot $i"; break; }
	fi
	[ "$i" = 4 ] && rss_warm=$(vm_rss_kb "$daemon")
done
echo "# $boots boots; failed: ${failed[*]:-none}"
r=0; [ "${#failed[@]}" = 0 ] || r=1
tap 2 $r "$boots successive QEMUs on one endpoint (5 kinds of life, core and sock frontends) each did what they were told"
r=0; { [ "${#detach_missed[@]}" = 0 ] && kill -0 "$daemon" 2>/dev/null; } || r=1
tap 3 $r "hostrpcd's supervisor survived them all and saw every detach (missed: ${detach_missed[*]:-none})"
touch "$vm_tmp/stop"
wait_for 20 test -e "$vm_tmp/bystander-done" || true
runs=$(grep -c '^run ok' "$log/ping.log" || true)
bad=$(grep -c '^run FAILED' "$log/ping.log" || true)
{ grep '^run FAILED' "$log/ping.log" || true; } | head -n 5 | sed 's/^/# /'
r=0; { [ -e "$vm_tmp/bystander-done" ] && [ "$runs" -ge 5 ] && [ "$bad" = 0 ]; } || r=1
tap 4 $r "process guests coming and going meanwhile were all served ($runs runs, $bad failed)"
r=0; wait_for 10 eval '[ -z "$(ctl list | awk "NR > 1")" ]' || r=1
tap 5 $r "no guest is left listed"
r=0; wait_for 10 eval '[ "$(vm_fd_count "$daemon")" = "$base" ]' || r=1
tap 6 $r "the supervisor holds its $base descriptors again ($(vm_fd_count "$daemon") now)"
rss=$(vm_rss_kb "$daemon")
r=0; { [ -n "$rss_warm" ] && [ "$rss" -le $((rss_warm + 4096)) ]; } || r=1
tap 7 $r "supervisor memory flat: RSS ${rss_warm:-?} KiB after 5 boots, $rss KiB after $boots"
r=0
! grep -E ': critical:|runtime check failed' "$log/hostrpcd.log" | sed 's/^/# /' | grep -q . || r=1
vm_sanitizer_reports "$log/hostrpcd.log" && r=1
tap 8 $r "nothing critical, no failed runtime check, no sanitizer report in hostrpcd's log"
kill -TERM "$daemon"
st=0
wait_for 10 eval '! kill -0 $daemon 2>/dev/null' || true
wait "$daemon" || st=$?
vm_daemon=""
vm_sanitizer_reports "$log/hostrpcd.log" && st=sanitizer
tap 9 "$st" "hostrpcd exits cleanly on SIGTERM (status $st)"
{ grep -E '\(vm\)' "$log/hostrpcd.log" || true; } | { grep -v debug || true; } | tail -n 12 |
	sed 's/^/# hostrpcd: /'
