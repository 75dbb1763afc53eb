#!/usr/bin/env bash
# VM test: kill -9 at random points under a real guest kernel (issue 18
# item 5, VM guests).  A guest booted under QEMU (TCG) on hostrpcd's ivshmem
# endpoint runs hrpc-echo -R over and over: each run announces itself
# (RESET-ME), keeps calling until the host resets its channel, needs 20
# calls to work again and only ECONNRESET/ENOTCONN meanwhile, then checks
# PINGs and BULKs byte for byte.  For every run, after a random delay, the
# host SIGKILLs one of:
#   - the guest's worker (the supervisor starts a fresh one: reset),
#   - the supervisor (restarted here as a service manager would; it adopts
#     the endpoint and QEMU's descriptors from the fd holder: reset),
#   - the fd holder (the daemon starts a new one and hands it everything),
#     then the supervisor - which only works if the new holder really got
#     QEMU's connection, memory and eventfds.
# After FAULT_PER_BOOT runs the host SIGKILLs QEMU itself in the middle of a
# checked run; the daemon must drop the guest and the holder its descriptors
# (counts back to the baseline), and the next boot attaches to the same
# endpoint.  FAULT_BOOTS boots (default 1, then a last one that just checks
# it attaches), FAULT_PER_BOOT runs each (default 20; 10 x 20 = 200 runs for
# the long version).  HOSTRPC_FAULT_SEED replays a run's choices.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vm_prepare
[ "$vm_server_is_hostrpcd" = 1 ] ||
	vm_skip "needs hostrpcd (HOSTRPC_IVSHMEM_SERVER names another ivshmem server)"

hostrpcd=$top_builddir/hostrpc/daemon/hostrpcd
sock=$vm_tmp/guest.ivshmem
log=$vm_tmp
boots=${FAULT_BOOTS:-1}
per_boot=${FAULT_PER_BOOT:-20}
seed=${HOSTRPC_FAULT_SEED:-$(( $(date +%s) % 32768 ))}

cleanup() {
	local p
	p=$(cat "$vm_tmp/daemon.pid" 2>/dev/null || true)
	[ -n "$p" ] && kill -TERM "$p" 2>/dev/null && sleep 0.5
	"$hostrpcd" --fdstore-release --state-dir="$vm_tmp/state" >/dev/null 2>&1 || true
	[ -n "${KEEP:-}" ] || rm -rf "$vm_tmp"
}
trap cleanup EXIT

# The daemon, started by the test and by the driver (a service manager's
# job); not a job of this shell.
cat > "$vm_tmp/start-daemon.sh" <<EOF
#!/usr/bin/env bash
n=\$(( \$(cat "$vm_tmp/starts" 2>/dev/null || echo 0) + 1 ))
echo \$n > "$vm_tmp/starts"
"$hostrpcd" --foreground --verbose --no-process-guests --admin-socket="$vm_tmp/admin.sock" \\
	--state-dir="$vm_tmp/state" --ivshmem="guest=$sock" > "$log/hostrpcd.\$n.log" 2>&1 &
echo \$! > "$vm_tmp/daemon.pid"
ln -sf "$log/hostrpcd.\$n.log" "$log/hostrpcd.log"
for _ in \$(seq 1 200); do
	grep -q 'ready:' "$log/hostrpcd.\$n.log" && exit 0
	sleep 0.05
done
echo "hostrpcd \$n did not get ready" >&2
exit 1
EOF
chmod +x "$vm_tmp/start-daemon.sh"

# The driver: run by vm-run on the host at the guest's first RESET-ME.
# driver.sh BOOT: FAULT_PER_BOOT kills, one per hrpc-echo -R run, then
# QEMU's.  Its log: one line per kill.
cat > "$vm_tmp/driver.sh" <<'EOF'
#!/usr/bin/env bash
set -u
boot=$1 per_boot=$2 RANDOM=$3 tmp=$4 ctl=$5
out=$VM_OUT_LOG
dlog=$tmp/driver.$boot
count() { grep -c "$1" "$out" 2>/dev/null || true; }
sleep_ms() { sleep "$(printf '0.%03d' "$1")"; }
holder() { sed -n 's/.*fd holder pid \([0-9]*\).*/\1/p' "$tmp/hostrpcd.log" | tail -n 1; }
# gone or a zombie nobody reaped yet
dead() { [ ! -e /proc/$1 ] || grep -q '^[0-9]* (.*) [ZX]' /proc/$1/stat 2>/dev/null; }
wait_dead() { for _ in $(seq 1 200); do dead "$1" && return 0; sleep 0.025; done; return 1; }
worker() {
	# the guest's worker, as hostrpcctl lists it (a fresh one may still
	# be starting after the previous kill)
	for _ in $(seq 1 200); do
		p=$("$ctl" --admin-socket "$tmp/admin.sock" --json list 2>/dev/null |
			sed -n 's/.*"worker_pid":\([1-9][0-9]*\).*/\1/p' | head -n 1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.025
	done
}
kill_supervisor() {
	local d
	d=$(cat "$tmp/daemon.pid")
	kill -9 "$d"
	wait_dead "$d" || echo "FAIL supervisor $d outlived SIGKILL" >> "$dlog"
	"$tmp/start-daemon.sh" || echo "FAIL supervisor restart" >> "$dlog"
}
for k in $(seq 1 "$per_boot"); do
	# the k-th run is calling and waiting for its reset
	for _ in $(seq 1 1200); do [ "$(count '^RESET-ME')" -ge "$k" ] && break; sleep 0.05; done
	if [ "$(count '^RESET-ME')" -lt "$k" ]; then
		echo "FAIL run $k never started" >> "$dlog"
		exit 0
	fi
	delay=$(( RANDOM % 400 ))
	sleep_ms "$delay"
	case $(( RANDOM % 3 )) in
	0)	w=$(worker)
		echo "run $k: +${delay} ms kill -9 worker $w" >> "$dlog"
		kill -9 "$w" ;;
	1)	echo "run $k: +${delay} ms kill -9 supervisor $(cat "$tmp/daemon.pid")" >> "$dlog"
		kill_supervisor ;;
	2)	h=$(holder)
		echo "run $k: +${delay} ms kill -9 fd holder $h, then the supervisor" >> "$dlog"
		kill -9 "$h"
		wait_dead "$h" || echo "FAIL holder $h outlived SIGKILL" >> "$dlog"
		# A holder slow to start (a loaded host) is given up after
		# 5 s and looked for again 5 s later (fdstore-client.c).
		for _ in $(seq 1 600); do
			n=$(holder)
			[ -n "$n" ] && [ "$n" != "$h" ] && grep -q 'holds the 1 endpoint(s) again' "$tmp/hostrpcd.log" && break
			sleep 0.025
		done
		if [ "$(holder)" != "$h" ] && grep -q 'holds the 1 endpoint(s) again' "$tmp/hostrpcd.log"; then
			kill_supervisor
		else
			# without a holder a restart strands the guest (README):
			# a failure, and the run gets its reset from the worker
			echo "FAIL no new fd holder within 15 s" >> "$dlog"
			kill -9 "$(worker)"
		fi ;;
	esac
done
# QEMU itself, in the middle of a checked run after the last reset.
for _ in $(seq 1 1200); do [ "$(count '^RESULT reset')" -ge "$per_boot" ] && break; sleep 0.05; done
sleep_ms $(( RANDOM % 500 ))
echo "kill -9 QEMU $VM_QEMU_PID" >> "$dlog"
kill -9 "$VM_QEMU_PID"
EOF
chmod +x "$vm_tmp/driver.sh"

held() { # descriptors of a process, pidfds aside
	ls -l /proc/"$1"/fd 2>/dev/null | grep -vc pidfd || true
}
holder_pid() { sed -n 's/.*fd holder pid \([0-9]*\).*/\1/p' "$log/hostrpcd.log" | tail -n 1; }

"$vm_tmp/start-daemon.sh" || { sed 's/^/# /' "$log/hostrpcd.1.log"; echo "Bail out! hostrpcd did not start"; exit 1; }
sleep 0.3
base_sup=$(held "$(cat "$vm_tmp/daemon.pid")")
base_holder=$(held "$(holder_pid)")

echo "1..7"
echo "# seed $seed (HOSTRPC_FAULT_SEED=$seed replays it), $boots boot(s) x $per_boot kills, then QEMU's"
failed=0
t() {
	tap "$@"
	[ "$2" = 0 ] || failed=1
}

guest_loop="i=0; while :; do i=\$((i+1)); hrpc-echo -q -R 60 -n 10 -e 10 -l 65536; echo \"RUN-END \$i rc=\$?\"; done"
runs_ok=0 runs_bad=0 driver_fail=0 samples="" t0=$(date +%s)
for b in $(seq 1 "$boots"); do
	rc=0
	"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-$(( 120 + per_boot * 20 ))}" -x "$sock" -l "$log/console.$b" \
		-e "$vm_tmp/driver.sh $b $per_boot $(( (seed + b) % 32768 )) $vm_tmp $top_builddir/hostrpc/daemon/hostrpcctl" -E '^RESET-ME' \
		"$guest_loop" > "$log/out.$b" 2> "$log/err.$b" || rc=$?
	sed 's/^/# driver: /' "$log/driver.$b" 2>/dev/null || true
	grep -q '^FAIL' "$log/driver.$b" 2>/dev/null && driver_fail=$((driver_fail + 1))
	# Every run the driver reset: re-attached, clean errors, then checked
	# data; QEMU's kill may land in the last one's checks (no RESULT
	# integrity line then), never a failed one.
	ok=$(grep -cE '^RESULT reset resets=[1-9][0-9]* .* other=0 ok_after=20 ' "$log/out.$b" || true)
	pass=$(grep -c '^RESULT integrity=PASS' "$log/out.$b" || true)
	bad=$(grep -cE '^RESULT integrity=FAIL|^RUN-END [0-9]+ rc=[1-9]' "$log/out.$b" || true)
	echo "# boot $b: QEMU exit $rc; $ok runs re-attached after their reset, $pass integrity passes, $bad failed"
	if [ "$ok" -lt "$per_boot" ] || [ "$pass" -lt $(( per_boot - 1 )) ] || [ "$bad" != 0 ]; then
		runs_bad=$((runs_bad + 1))
		grep -E 'not ok|^RESULT|RUN-END' "$log/out.$b" | tail -n 20 | sed 's/^/#   /'
	fi
	runs_ok=$((runs_ok + ok))
	# QEMU is gone: the daemon drops the guest, the holder QEMU's descriptors.
	sup=$(cat "$vm_tmp/daemon.pid")
	for _ in $(seq 1 100); do
		[ "$(held "$sup")" = "$base_sup" ] && [ "$(held "$(holder_pid)")" = "$base_holder" ] && break
		sleep 0.05
	done
	samples="$samples $(held "$sup")/$(held "$(holder_pid)")"
done
elapsed=$(( $(date +%s) - t0 ))
t 1 "$(( runs_bad == 0 && runs_ok >= boots * per_boot ? 0 : 1 ))" \
	"$runs_ok runs, each reset by a kill -9 of worker, supervisor or fd holder + supervisor: re-attached, only ECONNRESET/ENOTCONN meanwhile, data intact ($elapsed s)"
t 2 "$driver_fail" "every killed part came back (new worker, restarted supervisor, new fd holder)"
r=0; for s in $samples; do [ "$s" = "$base_sup/$base_holder" ] || r=1; done
t 3 $r "after each QEMU kill the supervisor's and the fd holder's descriptors are back to the baseline ($base_sup/$base_holder; after each boot:$samples)"
# A last boot on the same endpoint: attaches, checked calls work.
rc=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-120}" -x "$sock" -l "$log/console.last" \
	'hrpc-echo -q -n 10 -e 10 -l 65536; r=$?; echo "dmesg-problems: $(dmesg | grep -cE "BUG|WARNING|Oops|general protection|refcount_t")"; exit $r' \
	> "$log/out.last" 2> "$log/err.last" || rc=$?
sed 's/^/# last boot: /' "$log/out.last"
r=0; { [ "$rc" = 0 ] && grep -q '^RESULT integrity=PASS' "$log/out.last"; } || r=1
t 4 $r "after $boots QEMU kill(s), a new guest attaches to the same endpoint and its checked calls work"
r=0; grep -q '^dmesg-problems: 0$' "$log/out.last" || r=1
for b in $(seq 1 "$boots"); do
	grep -qE 'BUG:|WARNING:|Oops|general protection|refcount_t' "$log/console.$b" 2>/dev/null && r=1
done
t 5 $r "no kernel warning, BUG or oops in any boot"
d=$(cat "$vm_tmp/daemon.pid")
r=0; kill -0 "$d" 2>/dev/null || r=1
t 6 $r "hostrpcd runs ($(cat "$vm_tmp/starts") starts)"
r=0; grep -l 'ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer' "$log"/hostrpcd.*.log >/dev/null 2>&1 && r=1
t 7 $r "no sanitizer report in any daemon's or worker's log"
if [ "$failed" = 1 ]; then
	echo "# ---- latest hostrpcd log ----"
	tail -n 40 "$log/hostrpcd.log" | sed 's/^/# /'
fi
exit 0
