#!/usr/bin/env bash
# VM test: a guest that forges its ring state for the quiesce is fenced,
# never a daemon (tools/two-hosts, as migrate-vm.sh):
#
#   host A (PREFIX-hA)                           host B (PREFIX-hB)
#   hostrpcd A -- worker g1 (fenced, restarted)  hostrpcd B -- incoming g1 (aborted)
#              -- worker bystander (serves)                 -- worker bystander (serves)
#   QEMU A1: guest g1, hostrpc_core.debug_forge=1  QEMU B1 -incoming, then B2
#
# While hostrpc-migrate's QEMU pre-copy runs (--max-bandwidth makes it
# last), the test pokes the guest on its third serial port and the guest
# publishes a request ring prod index more than the ring holds, WITHOUT
# ringing the doorbell (hrpc-forge -q).  A's worker sleeps armed, so nothing
# looks at the ring until the quiesce: at pre-switchover (vCPUs stopped) it
# drains what the guest queued and finds the forgery there.
#
# The right outcome, and what the code does: the migration rolls back and
# the source fences the channel.  The quiesce is before the switch, and any
# failure before the switch leaves the guest at the source (migrate/README);
# the source worker is the one that found the forgery, and a fenced worker
# has no honest state to hand over (its connection is dead, its socket
# table belongs to a guest it no longer trusts).  Completing the move and
# letting B fence at the adoption would only fence the same guest one host
# later, after the guest's memory, sockets and address had moved for
# nothing.  B never adopts: the guest is paused from the quiesce on, so B
# would see exactly what A's drain refused.  So: A's worker logs why, exits
# with status 3 (guest fenced), the tool rolls back (exit 1, it says the
# guest broke its channel during the quiesce), B's worker ends on the
# abort, A's QEMU runs on and the supervisor's fresh worker resets the
# channel as after any fence; process guests on both daemons are served
# throughout.  Then the guest migrates to B after all: nothing of the
# failed attempt was left behind on either host.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
. "$top_srcdir/tests/vm/migrate/lib.sh"
command -v python3 > /dev/null || vm_skip "python3 missing"
[ -x "$top_builddir/hostrpc/hostrpc-ping" ] || vm_skip "hostrpc-ping not built"
[ -x "$HOSTRPC_GUEST_DIR/bin/hrpc-forge" ] ||
	vm_skip "the guest image has no hrpc-forge (tools/guest-image)"
mig_setup
trap mig_cleanup EXIT
vm_watchdog 360
ctl=$top_builddir/hostrpc/daemon/hostrpcctl

# The guest: its module may forge (debug_forge=1), and a third serial port
# (its /dev/ttyS2) on a socket the test writes to, on every QEMU alike.
mig_append=hostrpc_core.debug_forge=1
mig_qemu_args=(-chardev "socket,id=poke,path=$mig_tmp/@NAME@.poke,server=on,wait=off"
	-serial chardev:poke)
# mig_poke NAME: a line to the guest in QEMU NAME
mig_poke() {
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"go\n")
time.sleep(0.5)   # let QEMU take it before the hang-up
' "$mig_tmp/$1.poke"
}
mig_initrd '
stty -F /dev/ttyS2 clocal -echo 2> /dev/null
exec 3< /dev/ttyS2
hrpc-echo -q -n 20 -e 0 -l 4096 | sed "s/^/before: /"
echo "forge armed"
read go <&3
hrpc-forge -q prod | sed "s/^/forge: /"
i=0
until hrpc-echo -q -n 0 -e 0 -l 1 > /dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 1500 ] || { echo "never re-attached"; exit 1; }
	sleep 0.1
done
echo "re-attached"
hrpc-echo -q -n 20 -e 0 -l 4096 | sed "s/^/after: /"
read go <&3
hrpc-echo -q -n 20 -e 0 -l 4096 | sed "s/^/moved: /"
dmesg | grep -E "hostrpc_core.*(debug_forge|re-attaching|attached:)"
echo "dmesg-problems: $(dmesg | grep -cE "BUG|WARNING|Oops|general protection|refcount_t")"
'

echo "1..11"
mig_hostrpcd A process-guests
mig_hostrpcd B process-guests
mig_bystander A
mig_bystander B
# What hostrpcctl shows at A, ten times a second (a fenced worker shows
# for a second, FENCE_HOLD_MS, before the fresh one).
(
	while [ ! -e "$mig_tmp/stop" ]; do
		"$ctl" --admin-socket="$A/admin.sock" --json channels 2>&1 || true
		sleep 0.1
	done > "$mig_tmp/A-admin.log"
) &
mig_pids+=($!)

mig_qemu A1 A
if ! wait_for 90 grep -q 'forge armed' "$mig_tmp/A1.out.log"; then
	sed 's/^/# guest: /' "$mig_tmp/A1.out.log" "$mig_tmp/A1.console.log" | tail -30
	echo "Bail out! the guest did not get ready"
	exit 1
fi
mig_qemu B1 B incoming

# 1. The forgery, quiet, in pre-copy.
rc=0
mig_migrate A1 B1 --max-bandwidth 8 &
migrating=$!
ok=0
wait_for 30 grep -q 'pre-copy' "$mig_tmp/mig.err" || ok=1
mig_poke A1 || ok=1
wait_for 20 grep -aq '^forge: ' "$mig_tmp/A1.out.log" || ok=1
grep -q 'quiesce' "$mig_tmp/mig.err" && ok=1   # must still be in pre-copy
grep -aq '^before: RESULT integrity=PASS' "$mig_tmp/A1.out.log" || ok=1
grep -aq '^forge: ok - forged prod published, no doorbell' "$mig_tmp/A1.out.log" || ok=1
grep -a '^forge: ' "$mig_tmp/A1.out.log" | sed 's/^/# guest: /' || true
tap 1 "$ok" "the guest, served, published a forged prod index without a doorbell during pre-copy"

wait "$migrating" || rc=$?
sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err" | grep -v '\] pre-copy:' || true
ok=0
err=$(mig_json "$mig_tmp/mig.json" "d.get('error')" 2> /dev/null || echo '?')
[ "$rc" = 1 ] || ok=1
[ "$(mig_json "$mig_tmp/mig.json" "d['result']" 2> /dev/null)" = failed ] || ok=1
# The worker found it draining at the quiesce, not before: a worker that
# had fenced earlier would have left the port (another error).
case $err in
"source worker: the guest broke its channel during the quiesce: guest broke the ring or frame format"*) ;;
*) ok=1 ;;
esac
tap 2 "$ok" "hostrpc-migrate rolled back (exit $rc): $err"

ok=0
wait_for 20 grep -q 'guest [0-9]* (g1): worker [0-9]* exited' "$A/hostrpcd.log" || ok=1
grep -E '\(g1\): (fenced|worker [0-9]* exited|fresh worker)' "$A/hostrpcd.log" | sed 's/^/# A: /' || true
[ "$(grep -c '(g1): fenced' "$A/hostrpcd.log")" = 1 ] || ok=1
grep -q '(g1): fenced at the quiesce for migration: guest broke the ring or frame format' \
	"$A/hostrpcd.log" || ok=1
[ "$(grep -c '(g1): worker [0-9]* exited' "$A/hostrpcd.log")" = 1 ] || ok=1
grep -q '(g1): worker [0-9]* exited with status 3 (guest fenced)' "$A/hostrpcd.log" || ok=1
tap 3 "$ok" "A's worker fenced the guest at the quiesce, logged why and exited with status 3"

ok=0
grep -q '"name":"g1","transport":"ivshmem","state":"fenced".*"fence_reason":"guest broke the ring or frame format' \
	"$mig_tmp/A-admin.log" || ok=1
tap 4 "$ok" "hostrpcctl at A showed g1 fenced, with the reason"

ok=0
wait_for 60 grep -aq '^after: RESULT integrity=' "$mig_tmp/A1.out.log" || ok=1
kill -0 "$mig_qemu_A1" 2> /dev/null || ok=1
grep -aq '^re-attached' "$mig_tmp/A1.out.log" || ok=1
grep -aq '^after: RESULT integrity=PASS' "$mig_tmp/A1.out.log" || ok=1
grep -q '(g1): fresh worker' "$A/hostrpcd.log" || ok=1
wait_for 10 eval "! kill -0 $mig_qemu_B1 2>/dev/null" || ok=1
grep -q '(g1): incoming migration: aborted by hostrpc-migrate' "$B/hostrpcd.log" || ok=1
grep -E '\(g1\)' "$B/hostrpcd.log" | sed 's/^/# B: /' || true
tap 5 "$ok" "the guest ran on at A; a fresh worker reset its channel and calls work; B's QEMU quit, B's worker ended on the abort"

ok=0
"$ctl" --admin-socket "$A/admin.sock" migrations | sed 's/^/# A: /'
"$ctl" --admin-socket "$B/admin.sock" migrations | sed 's/^/# B: /'
ma=$(mig_migrations A)
mb=$(mig_migrations B)
da=$(mig_migrations A "m['detail']")
[ "$ma" = "out:failed" ] && [ "$mb" = "in:failed" ] || ok=1
case $da in "guest fenced at the quiesce: "*) ;; *) ok=1 ;; esac
tap 6 "$ok" "hostrpcctl migrations: A '$ma' ($da), B '$mb'"

ok=0
kill -0 "$mig_daemon_A" 2> /dev/null && kill -0 "$mig_daemon_B" 2> /dev/null || ok=1
grep -E 'CRITICAL' "$A/hostrpcd.log" "$B/hostrpcd.log" | sed 's/^/# /' && ok=1
grep -v '(g1)' "$A/hostrpcd.log" | grep -E 'fenced' | sed 's/^/# A: /' && ok=1
grep -E 'fenced' "$B/hostrpcd.log" | sed 's/^/# B: /' && ok=1
tap 7 "$ok" "both hostrpcds up; nothing else fenced"

# 2. Then the move works, once B has let go of B1's guest.
wait_for 20 grep -q '(g1): freed' "$B/hostrpcd.log" || true
mig_qemu B2 B incoming
rc=0
mig_migrate A1 B2 || rc=$?
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
ok=$rc
mig_poke B2 || ok=1
wait_for 30 grep -aq 'HOSTRPC-GUEST-EXIT' "$mig_tmp/B2.out.log" || ok=1
grep -aq '^moved: RESULT integrity=PASS' "$mig_tmp/B2.out.log" || ok=1
grep -aq 'HOSTRPC-GUEST-EXIT 0' "$mig_tmp/B2.out.log" || ok=1
tap 8 "$ok" "then the guest migrated to B (exit $rc) and its calls work there"

ok=0
ma=$(mig_migrations A)
mb=$(mig_migrations B)
[ "$ma" = "out:failed out:migrated" ] && [ "$mb" = "in:failed in:migrated" ] || ok=1
tap 9 "$ok" "hostrpcctl migrations: A '$ma', B '$mb'"

# The bystanders: served all along, and still after the move.
ok=0
for h in A B; do
	n=$(grep -c '^run ok' "$mig_tmp/$h/ping.log" || true)
	wait_for 20 eval "[ \$(grep -c '^run ok' '$mig_tmp/$h/ping.log') -gt $n ]" || ok=1
done
touch "$mig_tmp/stop"
for h in A B; do
	runs=$(grep -c '^run ok' "$mig_tmp/$h/ping.log" || true)
	failed=$(grep -c '^run FAILED' "$mig_tmp/$h/ping.log" || true)
	grep '^run FAILED' "$mig_tmp/$h/ping.log" | head -3 | sed "s/^/# $h: /" || true
	echo "# bystander at $h: $runs runs of 200 calls, $failed failed"
	[ "$runs" -ge 5 ] && [ "$failed" = 0 ] || ok=1
done
kill -0 "$mig_daemon_A" 2> /dev/null && kill -0 "$mig_daemon_B" 2> /dev/null || ok=1
tap 10 "$ok" "a process guest on each hostrpcd was served throughout, and both daemons are up"

ok=0
mig_guest_out | grep -aE 'hostrpc_core|dmesg-problems' | sed 's/^/# guest: /' || true
mig_guest_out | grep -aq '^dmesg-problems: 0$' || ok=1
tap 11 "$ok" "no kernel warning, BUG or oops in the guest"
