#!/usr/bin/env bash
# bench/migrate-forward-bench.sh - issue 14's benchmark: what forwarding a
# connection that stayed at the source costs, and what --prepare saves.
#
# The product's real path: a NIC-less guest (real kernel, TCG) whose
# sockets are outsourced, moved by hostrpc-migrate between two hosts
# (tools/two-hosts).  It talks to an echo service on the loopback of its
# namespace at A (only host A has it: the connection stays at A and is
# forwarded) and to an echo service in the world (that connection moves),
# with tests/vm/migrate/guest/fwd-probe: 64-byte round trips, timed, and
# 16 KiB ones, every byte checked.
#
#   run 1: the guest moves A -> B without --prepare: the forward link is
#          made in the quiesce, inside the guest's downtime;
#   run 2: a fresh guest, started where the first one's address went (B),
#          moves back to A with --prepare: the link is made before
#          pre-copy.  Each host has the loopback service in its guest
#          namespace, so the run is the same but for the direction.
#
# Reported, each against its baseline measured in the same run: the 64-byte
# round trip of the forwarded connection at B against the same connection
# at A before the move (the latency forwarding adds per call), and the
# moved connection's at B against at A (what the move itself costs, for
# scale); the downtime (paused to resumed, hostrpc-migrate's figure) with
# --prepare against without.
#
# Environment: FWD_BENCH_SECS (each guest's run, 25).  Root (namespaces,
# TCP_REPAIR).  Exit 77 when something is missing.
set -euo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/vm/lib.sh"
vm_prepare
. "$top_srcdir/tests/vm/migrate/lib.sh"
command -v python3 > /dev/null || vm_skip "python3 missing"
mig_setup
trap mig_cleanup EXIT

SECS=${FWD_BENCH_SECS:-25}
vm_watchdog $((2 * SECS + 300))
mig_fwd_prepare A B

# run R FROM H1 TO H2 [ARGS]: a guest on host H1, moved to host H2; its
# results in R.*
run() {
	local r=$1 from=$2 h1=$3 to=$4 h2=$5
	shift 5
	mig_fwd_guest "$from" "$h1" "$SECS"
	mig_qemu "$to" "$h2" incoming
	sleep 6   # round trips at A
	mig_migrate "$from" "$to" "$@" || { cat "$mig_tmp/mig.err" >&2; return 1; }
	cp "$mig_tmp/mig.json" "$mig_tmp/$r.json"
	# the guest runs to its end at B; then its remnant at A goes
	wait_for $((SECS + 60)) grep -aq 'fwd done' "$mig_tmp/$to.out.log" || true
	wait_for 20 grep -aq 'HOSTRPC-GUEST-EXIT' "$mig_tmp/$to.out.log" || true
	wait_for 20 eval "! grep -q 'remnant' <('$top_builddir/hostrpc/daemon/hostrpcctl' --admin-socket '$mig_tmp/$h1/admin.sock' locations g1 2>&1)" ||
		true
	sleep 1
}
rc=0
run r1 A1 A B1 B || rc=1
[ "$rc" = 0 ] && { run r2 B2 B A2 A --prepare || rc=1; }

python3 - "$mig_tmp" <<'EOF'
import json, os, re, sys, statistics
d = sys.argv[1]
def load(f):
    try:
        return json.load(open(os.path.join(d, f)))
    except Exception:
        return {}
def rtts(f, conn):
    v = []
    try:
        for line in open(os.path.join(d, f), errors="replace"):
            if not line.startswith("fwd t="):
                continue
            m = re.search(r"\b%s bytes=\d+ rtt_us=(\d+)" % conn, line)
            if m and int(m.group(1)) > 0:
                v.append(int(m.group(1)))
    except OSError:
        pass
    return statistics.median(v) if v else -1
r1, r2 = load("r1.json"), load("r2.json")
row = "%-52s %12s %12s %10s"
print("forwarding a connection that stayed at the source (real guest under TCG, "
      "1 vCPU; echo services in namespaces)")
print(row % ("", "baseline", "measured", "ratio"))
for run, src, dst in (("r1", "A1", "B1"), ("r2", "B2", "A2")):
    la, lb = rtts(src + ".out.log", "L2"), rtts(dst + ".out.log", "L2")
    wa, wb = rtts(src + ".out.log", "W"), rtts(dst + ".out.log", "W")
    print(row % ("%s: forwarded call, 64-byte round trip (us)" % run, "%.0f" % la, "%.0f" % lb,
                 "%.2f" % (lb / la) if la > 0 and lb > 0 else "-"))
    print(row % ("%s:   added by forwarding, per call (us)" % run, "",
                 "%.0f" % (lb - la) if la > 0 and lb > 0 else -1, ""))
    print(row % ("%s: moved connection, same round trip (us)" % run, "%.0f" % wa, "%.0f" % wb,
                 "%.2f" % (wb / wa) if wa > 0 and wb > 0 else "-"))
d1, d2 = r1.get("downtime_ms", -1), r2.get("downtime_ms", -1)
print(row % ("downtime, paused to resumed (ms): without / with --prepare", "%.1f" % d1,
             "%.1f" % d2, "%.2f" % (d2 / d1) if d1 > 0 and d2 > 0 else "-"))
q1 = r1.get("phases_ms", {}).get("quiesce", -1)
q2 = r2.get("phases_ms", {}).get("quiesce", -1)
print(row % ("  of which the quiesce (ms): without / with --prepare", "%.1f" % q1, "%.1f" % q2,
             "%.2f" % (q2 / q1) if q1 > 0 and q2 > 0 else "-"))
print(row % ("connections forwarded / moved (run 1)", r1.get("tcp_forwarded", -1),
             r1.get("tcp_moved", -1), ""))
print(row % ("connections forwarded / moved (run 2)", r2.get("tcp_forwarded", -1),
             r2.get("tcp_moved", -1), ""))
print("phases (ms) run 1:", json.dumps(r1.get("phases_ms", {})))
print("phases (ms) run 2:", json.dumps(r2.get("phases_ms", {})))
EOF
echo "remnants that ended by themselves once their connections did: $(cat "$A/hostrpcd.log" "$B/hostrpcd.log" | grep -c 'remnant: every forwarded connection ended')"
for g in B1 A2; do
	echo "guest $g: $(grep -a 'fwd done' "$mig_tmp/$g.out.log" 2> /dev/null | tr -d '\r')"
done
exit "$rc"
