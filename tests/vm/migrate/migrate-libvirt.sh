#!/usr/bin/env bash
# VM test: a virsh-managed guest moves from host A to host B with
# `hostrpc-migrate --libvirt` while its outsourced sockets carry data both
# ways (the streams of migrate-vm.sh).  Each host has its own libvirtd (own
# config, sockets, state and host_uuid, in its own mount namespace, where
# /run/hostrpc is its own too) and its own hostrpcd; libvirt migrates the
# domain (virDomainMigrate3, QEMU's stream relayed by hostrpc-migrate, which
# holds its last byte until the guest's host state is at B).
#
#   1. the guest moves to B: libvirt runs the domain there (resumed once
#      B's worker adopted the channel) and ends A's QEMU;
#   2. back to A, but A's hostrpcd is killed while the guest's connections
#      are frozen (--hold ship-state): the stream is cut, libvirt ends A's
#      QEMU and runs the guest at B again, nothing lost.
# Checks: every byte of every stream both ways (the guest and the world
# check the pattern), new connections accepted at B, UDP, both daemons,
# the domain's state on each side, hostrpcctl migrations.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
. "$top_srcdir/tests/vm/migrate/lib.sh"
command -v python3 > /dev/null || vm_skip "python3 missing"
command -v nsenter > /dev/null && command -v unshare > /dev/null ||
	vm_skip "nsenter/unshare missing (util-linux)"
"$mig_tool" --libvirt x --uri tcp:1.2.3.4:5 y g d 2>&1 | grep -q 'built without libvirt' &&
	vm_skip "hostrpc-migrate was built without libvirt (apt-get install libvirt-dev; configure)"
mig_setup
trap mig_cleanup EXIT
vm_watchdog $(( ${MIG_SECS:-50} + 200 ))

NOUT=${MIG_NOUT:-4} NIN=${MIG_NIN:-4} SECS=${MIG_SECS:-50} RATE=${MIG_RATE:-16384}
mig_stream_build

echo "1..10"
mig_host_ns A
mig_host_ns B
mig_libvirtd A B
mig_hostrpcd A
mig_hostrpcd B
mig_world_start "$NIN" "$RATE"
mig_initrd "/hostrpc/mig-stream 10.77.0.1 $mig_port $NOUT $NIN $SECS $RATE" "$mig_tmp/mig-stream"
"$top_srcdir/tools/domain-xml" g1 --kernel "$HOSTRPC_GUEST_DIR/vmlinuz" --initrd "$mig_tmp/initrd" \
	--cmdline "console=ttyS0 panic=-1 quiet loglevel=4 hrpc.out=ttyS1 hrpc.load=hostrpc_sock" \
	--endpoint-dir /run/hostrpc --console /run/hostrpc/g1.console.log \
	--output /run/hostrpc/g1.out.log --memory "$mig_mem" > "$mig_tmp/g1.xml"
va=$(mig_virt_uri A) vb=$(mig_virt_uri B)
virsh -q -c "$va" create "$mig_tmp/g1.xml" > /dev/null
mig_streams_up "$A/run/g1.out.log" "$A/run/g1.console.log"
sleep 6

lv_migrate() {	# lv_migrate FROM TO [ARGS...]
	local f=$1 t=$2
	shift 2
	ip netns exec "$mig_p-h$f" "$mig_tool" --libvirt "$(mig_virt_uri "$f")" \
		--uri "tcp:$(mig_ip "$t"):49300" --key "$mig_key" \
		--migrate-socket "$mig_tmp/$f/migrate.sock" --json "$@" \
		"$(mig_virt_uri "$t")" g1 "$(mig_ip "$t"):7000" \
		> "$mig_tmp/mig.json" 2> "$mig_tmp/mig.err"
}
state() { virsh -q -c "$1" domstate g1 2> /dev/null | head -1 || true; }

# 1. The guest moves to B.
t_mig=$(date +%s.%N)
rc=0
lv_migrate A B || rc=$?
t_mig_end=$(date +%s.%N)
tap 1 "$rc" "hostrpc-migrate --libvirt moved the guest from A to B (exit $rc)"
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
sed 's/^/# /' "$mig_tmp/mig.json"
cp "$mig_tmp/mig.json" "$mig_tmp/mig1.json"

ok=0
sa=$(state "$va") sb=$(state "$vb")
[ -z "$sa" ] && [ "$sb" = running ] || ok=1
grep -q 'migrated to another host\|guest migrated away' "$A/hostrpcd.log" || ok=1
grep -q 'migrated in: channel adopted' "$B/hostrpcd.log" || ok=1
tap 2 "$ok" "libvirt runs the domain at B ('$sb') and no longer at A ('${sa:-no domain}'); A's worker let go, B's adopted the channel"

# 2. Back to A, but A's hostrpcd dies while the guest's connections are
# frozen at B: the guest runs on at B.
sleep 5
( wait_for 60 grep -q 'holding' "$mig_tmp/mig.err"; kill -9 "$mig_daemon_A" ) &
rc=0
lv_migrate B A --hold ship-state=3 || rc=$?
sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err" | tail -2
ok=0
[ "$rc" = 1 ] || ok=1
sleep 2
sa=$(state "$va") sb=$(state "$vb")
[ "$sb" = running ] && [ -z "$sa" ] || ok=1
n0=$(grep -ac 't=' "$B/run/g1.out.log" || true)
wait_for 20 eval '[ "$(grep -ac "t=" "$B/run/g1.out.log")" -gt "$n0" ]' || ok=1
n1=$(grep -ac 't=' "$B/run/g1.out.log" || true)
tap 3 "$ok" "A's hostrpcd killed at the switch: exit $rc, the guest runs on at B (B: '$sb', A: '${sa:-no domain}', its progress lines $n0 -> $n1)"
wait "$mig_daemon_A" 2> /dev/null || true

ok=0
wait_for $((SECS + 60)) grep -aq 'HOSTRPC-GUEST-EXIT' "$B/run/g1.out.log" || ok=1
t_guest_end=$(date +%s.%N)
touch "$mig_tmp/stop"
wait_for 20 test -s "$mig_tmp/world.json" || true
mig_guest_out | grep -a 'mig-stream' | grep -v 't=' | sed 's/^/# guest: /'
grep -aq 'HOSTRPC-GUEST-EXIT 0' "$B/run/g1.out.log" && mig_guest_out | grep -aq 'mig-stream ok' || ok=1
tap 4 "$ok" "the guest ran on at B, and every byte it received was right"

ok=0
streams=$(mig_json "$mig_tmp/world.json" "len(d['streams'])" 2> /dev/null || echo 0)
bad=$(mig_json "$mig_tmp/world.json" "sum(s['bad'] for s in d['streams'])" 2> /dev/null || echo 1)
short=$(mig_json "$mig_tmp/world.json" \
	"sum(1 for s in d['streams'] if s['rcvd'] < $RATE * ($SECS - 25))" 2> /dev/null || echo 1)
[ "$streams" = $((NOUT + NIN)) ] && [ "$bad" = 0 ] && [ "$short" = 0 ] || ok=1
mig_json "$mig_tmp/world.json" "'\n'.join('# world: stream %(id)s inbound=%(inbound)s sent=%(sent)s rcvd=%(rcvd)s bad=%(bad)s max_gap_ms=%(max_gap_ms)s' % s for s in d['streams'])" 2> /dev/null || true
tap 5 "$ok" "the world got every byte of $((NOUT + NIN)) streams in order, none stopped early ($streams streams, $bad bad, $short short)"

ok=0
late_b=$(mig_json "$mig_tmp/world.json" \
	"sum(1 for l in d['late'] if l['ok'] and $t_mig_end < l['t'] < $t_guest_end - 2)" 2> /dev/null || echo 0)
mig_json "$mig_tmp/world.json" \
	"len([l for l in d['late'] if not l['ok'] and l['t'] < $t_guest_end - 2]) <= 2 or exit(1)" \
	> /dev/null 2>&1 || ok=1
[ "$late_b" -ge 3 ] || ok=1
tap 6 "$ok" "the guest's listening socket accepted new connections at B ($late_b)"

ok=0
udp=$(mig_guest_out | grep -a 'mig-stream udp' | head -1)
echo "$udp" | awk '{ split($3, s, "="); split($4, e, "="); exit !(s[2] > 0 && e[2] >= s[2] - 40) }' || ok=1
tap 7 "$ok" "UDP kept working across the move and the failure ($udp)"

ok=0
kill -0 "$mig_daemon_B" 2> /dev/null || ok=1
grep -E 'CRITICAL|fenced' "$A/hostrpcd.log" "$B/hostrpcd.log" | sed 's/^/# /' && ok=1
tap 8 "$ok" "B's daemon up (A's was killed by the test), nothing fenced"

ok=0
down=$(mig_json "$mig_tmp/mig1.json" "d['downtime_ms']" 2> /dev/null || echo -1)
qb=$(mig_json "$mig_tmp/mig1.json" "d['qemu_bytes']" 2> /dev/null || echo 0)
gap=$(mig_json "$mig_tmp/world.json" "max(s['max_gap_ms'] for s in d['streams'])" 2> /dev/null || echo -1)
echo "# downtime ${down} ms (paused to resumed), QEMU's stream ${qb} bytes; the longest silence a world peer saw: ${gap} ms"
python3 -c "import sys; sys.exit(not (0 < float('$down') and int('$qb') > 1000000))" || ok=1
tap 9 "$ok" "hostrpc-migrate reported downtime and bytes"

ok=0
ctl=$top_builddir/hostrpc/daemon/hostrpcctl
"$ctl" --admin-socket "$B/admin.sock" migrations | sed 's/^/# B: /'
mb=$(mig_migrations B)
[ "$mb" = "in:migrated out:rolled-back" ] || ok=1
tap 10 "$ok" "hostrpcctl migrations at B: '$mb'"
