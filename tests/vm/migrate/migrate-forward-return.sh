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
# Checks: the move back finds the new QEMU, not the remnant (exit 0); B's
# stand-ins are held and their bytes under way go along (tcp_from_remnant
# 2); at A the new worker takes L1 and L2 from the remnant and makes them
# again with those bytes: they are local again (the remnant ends,
# hostrpcctl locations lists nothing, B's hostrpcd can die) and carry on
# with every byte checked, as W does.
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

echo "1..7"
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
grep -E 'incoming migration|remnant|forward link|local again|held' "$A/hostrpcd.log" \
	"$B/hostrpcd.log" | sed 's/^/# /'
back=$(mig_json "$mig_tmp/mig.json" "d['tcp_from_remnant']" 2> /dev/null || echo -1)
ok=0
[ "$rc" = 0 ] && [ "$back" = 2 ] || ok=1
tap 2 "$ok" "B -> A while A's remnant still relays: the move finds the new QEMU, L1 and L2 go along held (exit $rc, $back from the remnant)"

ok=0
grep -q '2 forwarded connections are local again' "$A/hostrpcd.log" || ok=1
grep -q 'remnant: the guest came back; 2 of 2 connections handed' "$A/hostrpcd.log" || ok=1
wait_for 20 eval "grep -q 'worker .* exited with status 6' '$A/hostrpcd.log'" || ok=1
wait_for 10 eval "'$ctl' --admin-socket '$A/admin.sock' locations g1 2>&1 | grep -q 'no object of g1'" || ok=1
"$ctl" --admin-socket "$A/admin.sock" locations g1 2>&1 | sed 's/^/# A: /'
tap 3 "$ok" "at A the remnant handed L1 and L2 to the new worker and ended; hostrpcctl locations lists nothing"

# Local means B has nothing to do with them any more: B's hostrpcd goes.
kill "$mig_daemon_B" 2> /dev/null || true
sleep 3
ok=0
t0=$(grep -ac '^fwd t=' "$mig_tmp/A2.out.log" || true)
wait_for 20 eval "[ \$(grep -ac '^fwd t=' '$mig_tmp/A2.out.log') -ge $((t0 + 3)) ]" || ok=1
line=$(grep -a '^fwd t=' "$mig_tmp/A2.out.log" | tail -1 | tr -d '\r')
echo "# guest: $line"
case "$line" in *L1\ bytes=*L2\ bytes=*W\ bytes=*) ;; *) ok=1 ;; esac
grep -aE 'fwd L[12] (error|eof|hung|BAD)' "$mig_tmp/A2.out.log" | tr -d '\r' | sed 's/^/# guest: /' && ok=1
# The 64-byte round trip of L2 (median, us): at A before the move, at B
# (forwarded), back at A (local again): printed, not judged (TCG, 2 cores).
rtt=$(python3 - "$mig_tmp" <<'PY'
import re, statistics, sys
def med(f):
    v = []
    try:
        for line in open(sys.argv[1] + "/" + f, errors="replace"):
            m = re.search(r"^fwd t=.* L2 bytes=\d+ rtt_us=(\d+)", line)
            if m and int(m.group(1)) > 0:
                v.append(int(m.group(1)))
    except OSError:
        pass
    return "%.0f" % statistics.median(v) if v else "-"
print("L2 round trip (median us): at A %s, forwarded at B %s, local again at A %s"
      % (med("A1.out.log"), med("B1.out.log"), med("A2.out.log")))
PY
)
echo "# $rtt"
tap 4 "$ok" "L1 and L2 carry on at A with B's hostrpcd gone: local again ($rtt)"

ok=0
wait_for $((SECS + 60)) grep -aq 'fwd done' "$mig_tmp/A2.out.log" || ok=1
grep -a 'fwd done' "$mig_tmp/A2.out.log" | tr -d '\r' | sed 's/^/# guest: /'
grep -aq 'fwd done L1=ok L2=ok W=ok' "$mig_tmp/A2.out.log" || ok=1
tap 5 "$ok" "L1, L2 and W ran to the end, every byte right"

ok=0
wait_for 10 eval "[ \$(grep -c 'end=eof' '$mig_tmp/local-A.log' 2> /dev/null) -ge 2 ]" || ok=1
sed 's/^/# service at A: /' "$mig_tmp/local-A.log" 2> /dev/null || true
grep -q 'reset' "$mig_tmp/local-A.log" 2> /dev/null && ok=1
tap 6 "$ok" "the service at A saw both connections end with the guest's close, never a reset"

ok=0
kill -0 "$mig_daemon_A" 2> /dev/null || ok=1
grep -E 'CRITICAL|fenced' "$A/hostrpcd.log" "$B/hostrpcd.log" | sed 's/^/# /' && ok=1
tap 7 "$ok" "A's daemon up, nothing fenced"
