#!/usr/bin/env bash
# VM test: a guest whose connection to a source-only service is forwarded
# (migrate-forward.sh) comes back to the source while the remnant there
# still relays it.
#
#   A -> B: L (to 127.0.0.1 of A's guest namespace) stays at A, forwarded;
#           W (to the world) moves.
#   B -> A: the guest comes back; A has both the remnant (the old guest's
#           worker) and the new QEMU for the same name.
#
# Checks: the move back finds the new QEMU, not the remnant (exit 0); W
# carries on; L does not become local again yet (migrate/README.md, "Not
# done yet"): it fails cleanly (ECONNRESET at the guest's next call) and
# the remnant at A ends; hostrpcctl locations at A then has nothing.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
. "$top_srcdir/tests/vm/migrate/lib.sh"
command -v python3 > /dev/null || vm_skip "python3 missing"
mig_setup
trap mig_cleanup EXIT
vm_watchdog 240

SECS=${FWD_SECS:-40}
ctl=$top_builddir/hostrpc/daemon/hostrpcctl

echo "1..6"
mig_fwd_prepare A
mig_fwd_guest A1 A "$SECS"
mig_qemu B1 B incoming
sleep 3
rc=0
mig_migrate A1 B1 || rc=$?
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
fwd=$(mig_json "$mig_tmp/mig.json" "d['tcp_forwarded']" 2> /dev/null || echo -1)
ok=0
[ "$rc" = 0 ] && [ "$fwd" = 2 ] || ok=1
tap 1 "$ok" "A -> B: L1 and L2 stay at A, forwarded (exit $rc, $fwd forwarded)"

sleep 4
mig_qemu A2 A incoming
sleep 1
rc=0
mig_migrate B1 A2 || rc=$?
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
grep -E 'incoming migration|remnant|forward link' "$A/hostrpcd.log" | sed 's/^/# A: /'
tap 2 "$rc" "B -> A while A's remnant still relays: the move finds the new QEMU (exit $rc)"

ok=0
wait_for 20 grep -aq 'fwd L2 error=Connection reset by peer' "$mig_tmp/A2.out.log" || ok=1
grep -a 'fwd L[12] ' "$mig_tmp/A2.out.log" | tr -d '\r' | sed 's/^/# guest: /'
tap 3 "$ok" "the forwarded connections fail cleanly at the guest's next call (ECONNRESET): not local again yet"

ok=0
wait_for 20 eval "grep -q 'worker .* exited with status 6' '$A/hostrpcd.log'" || ok=1
wait_for 10 eval "'$ctl' --admin-socket '$A/admin.sock' locations g1 2>&1 | grep -q 'no object of g1'" || ok=1
"$ctl" --admin-socket "$A/admin.sock" locations g1 2>&1 | sed 's/^/# A: /'
tap 4 "$ok" "A's remnant ended; hostrpcctl locations at A lists nothing"

ok=0
wait_for $((SECS + 60)) grep -aq 'fwd done' "$mig_tmp/A2.out.log" || ok=1
grep -a 'fwd done' "$mig_tmp/A2.out.log" | tr -d '\r' | sed 's/^/# guest: /'
grep -aq 'fwd done L1=error=Connection reset by peer L2=error=Connection reset by peer W=ok' \
	"$mig_tmp/A2.out.log" || ok=1
tap 5 "$ok" "the moved connection W ran to the end at A, every byte right"

ok=0
kill -0 "$mig_daemon_A" 2> /dev/null && kill -0 "$mig_daemon_B" 2> /dev/null || ok=1
grep -E 'CRITICAL|fenced' "$A/hostrpcd.log" "$B/hostrpcd.log" | sed 's/^/# /' && ok=1
tap 6 "$ok" "both daemons up, nothing fenced"
