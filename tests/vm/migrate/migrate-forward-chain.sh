#!/usr/bin/env bash
# VM test: A -> B -> C with connections to a service only A has (issue 14
# item 2, "no chains").
#
#   A -> B: L1, L2 (to 127.0.0.1 of A's guest namespace) stay at A,
#           forwarded to B; W (to the world) moves.
#   B -> C: B holds A's remnant, ships L1 and L2 with the bytes under way;
#           after the pages A's hostrpcd opens a forward link to C itself
#           and A's remnant moves L1 and L2 onto it (MOVE/MOVED).
#
# First a B -> C that fails after B held the remnant and froze the
# stand-ins (C's QEMU killed while the state ships): the stand-ins thaw, B
# says RESUME, L1 and L2 carry on at B.
#
# Checks: each move exits 0; tcp_from_remnant and tcp_repointed are 2;
# hostrpcctl locations at C lists both living at A, A's remnant relays to C,
# B keeps nothing; B's hostrpcd killed after the move changes nothing (no
# chain through B); L1, L2 and W run to the end with every byte checked;
# the service at A never sees a reset.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
. "$top_srcdir/tests/vm/migrate/lib.sh"
command -v python3 > /dev/null || vm_skip "python3 missing"
MIG_THIRD_HOST=1
mig_setup
trap mig_cleanup EXIT
vm_watchdog 300

SECS=${FWD_SECS:-90}
ctl=$top_builddir/hostrpc/daemon/hostrpcctl

echo "1..9"
mig_fwd_prepare A
mig_hostrpcd C
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

sleep 3
mig_qemu C0 C incoming
: > "$mig_tmp/mig.err"
( wait_for 30 grep -q 'holding' "$mig_tmp/mig.err"; kill -9 "$mig_qemu_C0" ) &
inject=$!
rc=0
mig_migrate B1 C0 --hold ship-state=3 || rc=$?
wait "$inject" || true
ok=0
[ "$rc" = 1 ] || ok=1
grep -q '2 forwarded connections held at their remnants' "$B/hostrpcd.log" || ok=1
tap 2 "$ok" "B -> C with C's QEMU killed after B held the remnant: rolled back (exit $rc): $(mig_json "$mig_tmp/mig.json" "d.get('error')" 2> /dev/null)"
ok=0
grep -q 'migration rolled back' "$B/hostrpcd.log" || ok=1
l2=$(grep -a '^fwd t=' "$mig_tmp/B1.out.log" | tail -1 | sed -n 's/.* L2 bytes=\([0-9]*\).*/\1/p')
wait_for 15 eval "[ \$(grep -a '^fwd t=' '$mig_tmp/B1.out.log' | tail -1 | sed -n 's/.* L2 bytes=\([0-9]*\).*/\1/p') -gt ${l2:-0} ]" || ok=1
grep -aE 'fwd (L1|L2|W) (eof|error|hung|BAD)' "$mig_tmp/B1.out.log" | tr -d '\r' | sed 's/^/# guest: /' && ok=1
tap 3 "$ok" "rolled back: RESUME, L1 and L2 carry on at B through A's remnant, nothing lost"

mig_qemu C1 C incoming
sleep 1
rc=0
mig_migrate B1 C1 || rc=$?
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
sed 's/^/# B -> C: /' "$mig_tmp/mig.json"
back=$(mig_json "$mig_tmp/mig.json" "d['tcp_from_remnant']" 2> /dev/null || echo -1)
rep=$(mig_json "$mig_tmp/mig.json" "d['tcp_repointed']" 2> /dev/null || echo -1)
grep -hE 'remnant|forward link|forwarded|held|local again' "$A/hostrpcd.log" "$B/hostrpcd.log" \
	"$C/hostrpcd.log" | sed 's/^/# /'
ok=0
[ "$rc" = 0 ] && [ "$back" = 2 ] && [ "$rep" = 2 ] || ok=1
down=$(mig_json "$mig_tmp/mig.json" "'%.1f ms downtime, %.1f ms of it re-pointing' % (d['downtime_ms'], d['repoint_ms'])" 2> /dev/null || echo "?")
tap 4 "$ok" "B -> C: L1 and L2 go along, their remnant at A re-pointed to C (exit $rc, $back from the remnant, $rep re-pointed; $down)"

ok=0
grep -q 'remnant: 2 connections now forwarded to 10.77.0.4 (no longer to 10.77.0.3)' \
	"$A/hostrpcd.log" || ok=1
json=$("$ctl" --admin-socket "$C/admin.sock" --json locations g1 2>&1 || true)
echo "# C: $json"
n=$(echo "$json" | python3 -c "import json,sys
d=json.load(sys.stdin); print(sum(1 for o in d['objects'] if o['lives'] == '10.77.0.2'))" \
	2> /dev/null || echo 0)
[ "$n" = 2 ] || ok=1
"$ctl" --admin-socket "$A/admin.sock" locations g1 2>&1 | sed 's/^/# A: /'
"$ctl" --admin-socket "$A/admin.sock" locations g1 2>&1 | grep -q 'forward link to 10.77.0.4: up' ||
	ok=1
wait_for 20 eval "grep -q 'worker .* exited with status 6' '$B/hostrpcd.log'" || ok=1
tap 5 "$ok" "C lists L1 and L2 living at A ($n); A's remnant relays to C; B's worker ended"

# No chain: B has nothing to do with them any more.
kill "$mig_daemon_B" 2> /dev/null || true
sleep 3
ok=0
t0=$(grep -ac '^fwd t=' "$mig_tmp/C1.out.log" || true)
wait_for 20 eval "[ \$(grep -ac '^fwd t=' '$mig_tmp/C1.out.log') -ge $((t0 + 3)) ]" || ok=1
line=$(grep -a '^fwd t=' "$mig_tmp/C1.out.log" | tail -1 | tr -d '\r')
echo "# guest at C: $line"
case "$line" in *L1\ bytes=*L2\ bytes=*W\ bytes=*) ;; *) ok=1 ;; esac
grep -aE 'fwd L[12] (error|eof|hung|BAD)' "$mig_tmp/C1.out.log" | tr -d '\r' | sed 's/^/# guest: /' && ok=1
tap 6 "$ok" "L1 and L2 carry on at C with B's hostrpcd gone: no chain"

ok=0
wait_for $((SECS + 60)) grep -aq 'fwd done' "$mig_tmp/C1.out.log" || ok=1
grep -a 'fwd done' "$mig_tmp/C1.out.log" | tr -d '\r' | sed 's/^/# guest: /'
grep -aq 'fwd done L1=ok L2=ok W=ok' "$mig_tmp/C1.out.log" || ok=1
tap 7 "$ok" "L1, L2 and W ran to the end at C, every byte right"

ok=0
wait_for 10 eval "[ \$(grep -c 'end=eof' '$mig_tmp/local-A.log' 2> /dev/null) -ge 2 ]" || ok=1
sed 's/^/# service at A: /' "$mig_tmp/local-A.log" 2> /dev/null || true
grep -q 'reset' "$mig_tmp/local-A.log" 2> /dev/null && ok=1
wait_for 20 grep -q 'remnant: every forwarded connection ended' "$A/hostrpcd.log" || ok=1
[ "$ok" = 0 ] || tail -5 "$A/hostrpcd.log" | sed 's/^/# A: /'
tap 8 "$ok" "the service at A saw both connections end with the guest's close; A's remnant ended"

ok=0
kill -0 "$mig_daemon_A" 2> /dev/null && kill -0 "$mig_daemon_C" 2> /dev/null || ok=1
grep -E 'CRITICAL|fenced' "$A/hostrpcd.log" "$C/hostrpcd.log" | sed 's/^/# /' && ok=1
tap 9 "$ok" "A's and C's daemons up, nothing fenced"
