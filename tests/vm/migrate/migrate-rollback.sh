#!/usr/bin/env bash
# VM test: migrations that fail before the switch leave the guest running at
# the source with every socket intact (tools/two-hosts, as migrate-vm.sh):
#
#   1. QEMU's migration fails: the destination QEMU is killed in pre-copy
#      (hostrpc-migrate --max-bandwidth makes pre-copy last);
#   2. the destination hostrpcd dies after the quiesce, while the guest's TCP
#      connections are frozen and its interface at A is down
#      (hostrpc-migrate --hold ship-state=...);
#   3. the link is cut there: the destination host's network goes down
#      (--timeout);
#   4. then a migration that works: nothing of the three was left behind.
#
# Meanwhile the guest's streams run both ways; at the end every byte of
# every stream is checked, at the guest and in the world.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
. "$top_srcdir/tests/vm/migrate/lib.sh"
command -v python3 > /dev/null || vm_skip "python3 missing"
mig_setup
trap mig_cleanup EXIT
SECS=${MIG_SECS:-75}
vm_watchdog $((SECS + 150))

NOUT=3 NIN=3 RATE=16384
mig_stream_build

echo "1..13"
mig_streams_start "$NOUT" "$NIN" "$SECS" "$RATE"
sleep 4

# still_at_a N WHAT: the attempt failed, said why, and the guest runs at A
still_at_a() {
	local n=$1 what=$2 ok=0 before
	[ "$rc" = 1 ] || ok=1
	[ "$(mig_json "$mig_tmp/mig.json" "d['result']" 2> /dev/null)" = failed ] || ok=1
	echo "# hostrpc-migrate: $(mig_json "$mig_tmp/mig.json" "d.get('error')" 2> /dev/null)"
	tap "$n" "$ok" "$what: hostrpc-migrate failed and said why (exit $rc)"
	ok=0
	kill -0 "$mig_qemu_A1" 2> /dev/null || ok=1
	before=$(grep -ac 'mig-stream t=' "$mig_tmp/A1.out.log")
	wait_for 15 eval "[ \$(grep -ac 'mig-stream t=' '$mig_tmp/A1.out.log') -gt $before ]" || ok=1
	tap $((n + 1)) "$ok" "$what: the guest runs on at A"
}

# 1. QEMU's migration fails.
mig_qemu B1 B incoming
( sleep 2; kill -9 "$mig_qemu_B1" ) &
inject=$!
rc=0
mig_migrate A1 B1 --max-bandwidth 16 || rc=$?
wait "$inject" || true
still_at_a 1 "destination QEMU killed in pre-copy"

# 2. The destination hostrpcd dies after the quiesce.
mig_qemu B2 B incoming
: > "$mig_tmp/mig.err"
( wait_for 30 grep -q 'holding' "$mig_tmp/mig.err"; kill -9 "$mig_daemon_B" ) &
inject=$!
rc=0
mig_migrate A1 B2 --hold ship-state=3 || rc=$?
wait "$inject" || true
still_at_a 3 "destination hostrpcd killed while the sockets were frozen"
ok=0
grep -q 'migration rolled back' "$A/hostrpcd.log" || ok=1
tap 5 "$ok" "A's worker rolled back and serves again"
kill -9 "$mig_qemu_B2" 2> /dev/null || true
mig_hostrpcd B

# 3. The link is cut: host B's network goes.
mig_qemu B3 B incoming
: > "$mig_tmp/mig.err"
( wait_for 30 grep -q 'holding' "$mig_tmp/mig.err"; ip -n "$mig_p-hB" link set eth0 down ) &
inject=$!
rc=0
mig_migrate A1 B3 --hold ship-state=2 --timeout 6 || rc=$?
wait "$inject" || true
still_at_a 6 "network of the destination cut while the sockets were frozen"
ip -n "$mig_p-hB" link set eth0 up
kill -9 "$mig_qemu_B3" 2> /dev/null || true
sleep 1

# 4. A migration that works.
mig_qemu B4 B incoming
rc=0
mig_migrate A1 B4 || rc=$?
tap 8 "$rc" "then the guest migrates to B (exit $rc)"
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"

ok=0
wait_for $((SECS + 60)) eval "mig_guest_out | grep -aq 'mig-stream .*streams'" || ok=1
touch "$mig_tmp/stop"
wait_for 20 test -s "$mig_tmp/world.json" || true
mig_guest_out | grep -a 'mig-stream' | grep -v 't=' | sed 's/^/# guest: /'
mig_guest_out | grep -aq 'mig-stream ok' || ok=1
tap 9 "$ok" "every byte the guest received, through three rollbacks and a move, was right"

ok=0
streams=$(mig_json "$mig_tmp/world.json" "len(d['streams'])" 2> /dev/null || echo 0)
bad=$(mig_json "$mig_tmp/world.json" "sum(s['bad'] for s in d['streams'])" 2> /dev/null || echo 1)
[ "$streams" = $((NOUT + NIN)) ] && [ "$bad" = 0 ] || ok=1
mig_json "$mig_tmp/world.json" "'\n'.join('# world: stream %(id)s sent=%(sent)s rcvd=%(rcvd)s bad=%(bad)s max_gap_ms=%(max_gap_ms)s' % s for s in d['streams'])" 2> /dev/null || true
tap 10 "$ok" "the world got every byte of $((NOUT + NIN)) streams in order ($streams streams, $bad bad)"

ok=0
grep -q 'Connection reset' "$mig_tmp/world.log" && ok=1
tap 11 "$ok" "no connection was reset"

ok=0
kill -0 "$mig_daemon_A" 2> /dev/null || ok=1
grep -E 'CRITICAL|fenced' "$A/hostrpcd.log" | sed 's/^/# /' && ok=1
tap 12 "$ok" "A's hostrpcd up throughout, nothing fenced"

ok=0
"$top_builddir/hostrpc/daemon/hostrpcctl" --admin-socket "$A/admin.sock" migrations | sed 's/^/# A: /'
ma=$(mig_migrations A "m['state']")
[ "$ma" = "rolled-back rolled-back rolled-back migrated" ] || ok=1
tap 13 "$ok" "hostrpcctl migrations at A: $ma"
