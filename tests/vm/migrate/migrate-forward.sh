#!/usr/bin/env bash
# VM test: connections that cannot move stay at the source and are
# forwarded (issue 14, the location table).
#
#   host A's guest namespace (PREFIX-gA)      world (PREFIX-W)
#     echo.py 127.0.0.1:LP   <== L1, L2 ==    echo.py 10.77.0.1:WP <== W ==
#                                 guest g1 (fwd-probe), on A then on B
#
# A service on the loopback of the guest's namespace at A: only host A has
# it.  g1 talks to it on two connections (L1, L2) and to the world on one
# (W), every byte of every echo checked by the guest.  hostrpc-migrate
# moves g1 to B with the default rule (loopback peers stay): W moves
# (TCP_REPAIR), L1 and L2 stay in A's worker, now their remnant, and B's
# worker forwards them over the authenticated forward link.  Checks: the
# guest keeps talking on all three at B (bytes checked, the peer address
# unchanged), `hostrpcctl locations` at both ends, the latency a forwarded
# call adds; the service shuts L1 down (the guest reads end of file and
# closes it, and the object ends at both ends); then A's hostrpcd dies:
# L2 fails with ECONNRESET at the guest's next call, W goes on, B's
# hostrpcd serves on.  Before all that, a move that fails after the
# quiesce (B's QEMU dies while the state ships) rolls back with the three
# connections untouched at A.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
. "$top_srcdir/tests/vm/migrate/lib.sh"
command -v python3 > /dev/null || vm_skip "python3 missing"
mig_setup
trap mig_cleanup EXIT
vm_watchdog 300

SECS=${FWD_SECS:-60}
ctl=$top_builddir/hostrpc/daemon/hostrpcctl

echo "1..13"
# A lets g1 reach its own namespace's loopback; B has no such service.
mig_fwd_prepare A
lport=$mig_lport wport=$mig_wport
mig_fwd_guest A1 A "$SECS"
sleep 3   # round trips on all three, locally at A
# A rollback first: B's QEMU dies while the state ships, after the forward
# link was made and A's worker was told which connections stay.
mig_qemu B0 B incoming
: > "$mig_tmp/mig.err"
( wait_for 30 grep -q 'holding' "$mig_tmp/mig.err"; kill -9 "$mig_qemu_B0" ) &
inject=$!
rc=0
mig_migrate A1 B0 --hold ship-state=3 || rc=$?
wait "$inject" || true
ok=0
[ "$rc" = 1 ] && [ "$(mig_json "$mig_tmp/mig.json" "d['result']" 2> /dev/null)" = failed ] || ok=1
tap 1 "$ok" "a move whose destination QEMU dies after the quiesce fails and says why: $(mig_json "$mig_tmp/mig.json" "d.get('error')" 2> /dev/null) (exit $rc)"
ok=0
grep -q 'migration rolled back' "$A/hostrpcd.log" || ok=1
l2=$(grep -a '^fwd t=' "$mig_tmp/A1.out.log" | tail -1 | sed -n 's/.* L2 bytes=\([0-9]*\).*/\1/p')
wait_for 15 eval "[ \$(grep -a '^fwd t=' '$mig_tmp/A1.out.log' | tail -1 | sed -n 's/.* L2 bytes=\([0-9]*\).*/\1/p') -gt ${l2:-0} ]" || ok=1
grep -aqE 'fwd (L1|L2|W) (eof|error|hung|BAD)' "$mig_tmp/A1.out.log" && ok=1   # none ended
tap 2 "$ok" "rolled back: A's worker serves again and L1, L2 and W carry on at A"

mig_qemu B1 B incoming
sleep 2
rc=0
mig_migrate A1 B1 || rc=$?
sed 's/^/# /' "$mig_tmp/mig.json"
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
fwd=$(mig_json "$mig_tmp/mig.json" "d['tcp_forwarded']" 2> /dev/null || echo -1)
moved=$(mig_json "$mig_tmp/mig.json" "d['tcp_moved']" 2> /dev/null || echo -1)
ok=0
[ "$rc" = 0 ] && [ "$fwd" = 2 ] && [ "$moved" = 1 ] || ok=1
tap 3 "$ok" "hostrpc-migrate moved g1 to B: 1 connection moved, $fwd stay at A, forwarded (exit $rc)"

ok=0
grep -q 'connections stay here, forwarded' "$A/hostrpcd.log" || ok=1
grep -q 'connections live at 10.77.0.2: forwarded' "$B/hostrpcd.log" || ok=1
wait_for 10 eval "! kill -0 $mig_qemu_A1 2>/dev/null" || ok=1
grep -E 'remnant|forward' "$A/hostrpcd.log" "$B/hostrpcd.log" | sed 's/^/# /'
"$ctl" --admin-socket "$A/admin.sock" list | sed 's/^/# A: /'
"$ctl" --admin-socket "$A/admin.sock" list | grep -q ' remnant ' || ok=1
tap 4 "$ok" "A's worker stays as the remnant (A's QEMU ended; hostrpcctl list says remnant), B's worker forwards to it"

sleep 6   # round trips at B: W local, L1 and L2 through the forward link
ok=0
"$ctl" --admin-socket "$B/admin.sock" locations g1 > "$mig_tmp/loc-b.txt" 2>&1 || ok=1
"$ctl" --admin-socket "$A/admin.sock" locations g1 > "$mig_tmp/loc-a.txt" 2>&1 || ok=1
"$ctl" --admin-socket "$B/admin.sock" --json locations g1 > "$mig_tmp/loc-b.json" 2>&1 || ok=1
sed 's/^/# B: /' "$mig_tmp/loc-b.txt"
sed 's/^/# A: /' "$mig_tmp/loc-a.txt"
n=$(mig_json "$mig_tmp/loc-b.json" \
	"len([o for o in d['objects'] if '127.0.0.1:$lport' in o['what'] and o['lives'] == '10.77.0.2' and o['bytes_in'] > 0 and o['bytes_out'] > 0])" \
	2> /dev/null || echo 0)
[ "$n" = 2 ] && grep -q "remnant" "$mig_tmp/loc-a.txt" && [ "$(grep -c "127.0.0.1:$lport" "$mig_tmp/loc-a.txt")" = 2 ] || ok=1
tap 5 "$ok" "hostrpcctl locations: B lists 2 objects living at 10.77.0.2 with traffic both ways ($n), A lists itself as their remnant"

# The latency a forwarded call adds: the guest's 64-byte round trips,
# medians per second, at A (local) and at B (forwarded).
lat() {	# lat FILE CONN: median of the per-second medians
	grep -a '^fwd t=' "$1" | tr -d '\r' | awk -v c="$2" '{ for (i = 1; i <= NF; i++) if ($i == c) { split($(i+2), r, "="); if (r[2] > 0) print r[2] } }' |
		sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : -1 }'
}
ok=0
la=$(lat "$mig_tmp/A1.out.log" L2)
lb=$(lat "$mig_tmp/B1.out.log" L2)
wa=$(lat "$mig_tmp/A1.out.log" W)
wb=$(lat "$mig_tmp/B1.out.log" W)
echo "# 64-byte round trip (median): L2 at A ${la} us, forwarded from B ${lb} us; W at A ${wa} us, at B ${wb} us"
[ "$la" -gt 0 ] && [ "$lb" -gt 0 ] || ok=1
tap 6 "$ok" "forwarded calls work; they add $((lb - la)) us per 64-byte round trip (L2: ${la} us at A, ${lb} us forwarded; the moved W: ${wa} / ${wb} us)"

# The service shuts L1 down: the guest reads end of file, closes it.
touch "$mig_tmp/close-l1"
ok=0
wait_for 20 grep -aq 'fwd L1 eof' "$mig_tmp/B1.out.log" || ok=1
wait_for 20 grep -qs 'conn 1 .*end=closed-after-shutdown' "$mig_tmp/local-A.log" || ok=1
sed 's/^/# service: /' "$mig_tmp/local-A.log" 2> /dev/null || true
grep -a 'fwd L1' "$mig_tmp/B1.out.log" | sed 's/^/# guest: /'
tap 7 "$ok" "a shutdown by the service at A reaches the guest at B as end of file, and its close reaches the service"

nobj() {
	"$ctl" --admin-socket "$B/admin.sock" --json locations g1 > "$mig_tmp/loc.json" 2>&1 &&
		[ "$(mig_json "$mig_tmp/loc.json" "len(d['objects'])")" = "$1" ]
}
ok=0
wait_for 10 nobj 1 || ok=1
"$ctl" --admin-socket "$B/admin.sock" locations g1 | sed 's/^/# B: /'
tap 8 "$ok" "the closed connection left the location table: one object left"

# A's hostrpcd dies: the remnant with it, the link is cut.
kill -KILL "$mig_daemon_A"
ok=0
wait_for 20 grep -aq 'fwd L2 error=Connection reset by peer' "$mig_tmp/B1.out.log" || ok=1
grep -a 'fwd L2' "$mig_tmp/B1.out.log" | sed 's/^/# guest: /'
tap 9 "$ok" "A's hostrpcd killed: the guest's next call on L2 fails with ECONNRESET, nothing hangs"

ok=0
wait_for $((SECS + 60)) grep -aq 'fwd done' "$mig_tmp/B1.out.log" || ok=1
grep -a 'fwd done\|peer=' "$mig_tmp/A1.out.log" "$mig_tmp/B1.out.log" | sed 's/^/# guest: /'
grep -aq 'fwd done L1=eof L2=error=Connection reset by peer W=ok' "$mig_tmp/B1.out.log" || ok=1
tap 10 "$ok" "the moved connection W ran to the end; L1 ended cleanly, L2 was reset; no byte was wrong"

ok=0
grep -aq "fwd L2 end peer=" "$mig_tmp/B1.out.log" && ok=1   # L2 is gone by then
grep -aq "fwd L1 start peer=127.0.0.1:$lport" "$mig_tmp/A1.out.log" || ok=1
wait_for 20 grep -aq 'HOSTRPC-GUEST-EXIT 0' "$mig_tmp/B1.out.log" || ok=1
grep -aq "fwd W end peer=10.77.0.1:$wport" "$mig_tmp/B1.out.log" || ok=1
tap 11 "$ok" "the guest exited 0 at B; W's peer address stayed the world's"

ok=0
kill -0 "$mig_daemon_B" 2> /dev/null || ok=1
grep -E 'CRITICAL|fenced' "$B/hostrpcd.log" | sed 's/^/# /' && ok=1
grep -q 'forward link to 10.77.0.2 lost' "$B/hostrpcd.log" || ok=1
tap 12 "$ok" "B's hostrpcd serves on; its log says the forward link was lost"

ok=0
# the world's connection moved (not forwarded): its peer never saw a reset
grep -q 'conn 1 .*end=reset' "$mig_tmp/world-echo.log" 2> /dev/null && ok=1
grep -q 'forward' "$mig_tmp/mig.err" 2> /dev/null || true
tap 13 "$ok" "no connection that moved was reset"
