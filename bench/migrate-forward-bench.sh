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
#   run 3: files.  A has exports "data" and "common", B only "common" (the
#          same files); a guest with both mounted times open+close of a
#          file in each (tests/vm/migrate/guest/fs-lat.c) and moves A -> B:
#          "data" stays at A, its calls forwarded.
#
# Reported, each against its baseline measured in the same run: the 64-byte
# round trip of the forwarded connection at B against the same connection
# at A before the move (the latency forwarding adds per call), and the
# moved connection's at B against at A (what the move itself costs, for
# scale); the downtime (paused to resumed, hostrpc-migrate's figure) with
# --prepare against without; a forwarded file's open+close at B against the
# same at A before the move (the latency a forwarded file call adds), and
# the local export's at B for scale.
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
mkdir -p "$A/fspolicy" "$B/fspolicy" "$mig_tmp/A-data" "$mig_tmp/A-common" "$mig_tmp/B-srv/common"
mount --bind "$mig_tmp/A-common" "$mig_tmp/B-srv/common" || vm_skip "cannot bind-mount (not root?)"
trap 'umount -l "$mig_tmp/B-srv/common" 2> /dev/null; mig_cleanup' EXIT
${CC:-gcc} -static -O2 -std=gnu11 -o "$mig_tmp/fs-lat" "$top_srcdir/tests/vm/migrate/guest/fs-lat.c" \
	2> "$mig_tmp/cc-fs.log" || { cat "$mig_tmp/cc-fs.log" >&2; vm_skip "cannot build fs-lat (libc6-dev)"; }
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

# run 3: a guest with an export only A has.
run3() {
	printf 'export data %s ids=passthrough\nexport common %s ids=passthrough\n' \
		"$mig_tmp/A-data" "$mig_tmp/A-common" > "$A/fspolicy/g1.conf"
	printf 'export common %s ids=passthrough\n' "$mig_tmp/B-srv/common" > "$B/fspolicy/g1.conf"
	echo lat > "$mig_tmp/A-data/lat.bin"
	echo lat > "$mig_tmp/A-common/lat.bin"
	mig_load=hostrpc_sock,hostrpcfs
	mig_initrd "mkdir -p /mnt /mnt2 && mount -t hostrpcfs data /mnt && mount -t hostrpcfs common /mnt2 && /hostrpc/fs-lat /mnt /mnt2 $SECS" \
		"$mig_tmp/fs-lat"
	mig_qemu A3 A
	mig_up A3 'fslat up'
	mig_qemu B3 B incoming
	sleep 6   # open+close at A, both local
	mig_migrate A3 B3 || { cat "$mig_tmp/mig.err" >&2; return 1; }
	cp "$mig_tmp/mig.json" "$mig_tmp/r3.json"
	wait_for $((SECS + 60)) grep -aq 'fslat done' "$mig_tmp/B3.out.log" || true
	wait_for 20 grep -aq 'HOSTRPC-GUEST-EXIT' "$mig_tmp/B3.out.log" || true
}
[ "$rc" = 0 ] && { run3 || rc=1; }

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
def fslat(f, key):
    v = []
    try:
        for line in open(os.path.join(d, f), errors="replace"):
            m = re.search(r"^fslat t=\d+ .*\b%s=([0-9.]+)" % key, line)
            if m and float(m.group(1)) > 0:
                v.append(float(m.group(1)))
    except OSError:
        pass
    # the first second after the move still waits on the switch
    return statistics.median(v[1:] if len(v) > 2 else v) if v else -1
r3 = load("r3.json")
fa, fb, cb = fslat("A3.out.log", "a_us"), fslat("B3.out.log", "a_us"), fslat("B3.out.log", "b_us")
print(row % ("r3: forwarded file, open+close (us)", "%.0f" % fa, "%.0f" % fb,
             "%.2f" % (fb / fa) if fa > 0 and fb > 0 else "-"))
print(row % ("r3:   added by forwarding, per open+close (us)", "",
             "%.0f" % (fb - fa) if fa > 0 and fb > 0 else -1, ""))
print(row % ("r3: local export at B, same (us)", "%.0f" % fslat("A3.out.log", "b_us"),
             "%.0f" % cb, ""))
print(row % ("exports forwarded / files (run 3)", r3.get("fs_forwarded", -1),
             r3.get("files_forwarded", -1), ""))
print("phases (ms) run 1:", json.dumps(r1.get("phases_ms", {})))
print("phases (ms) run 2:", json.dumps(r2.get("phases_ms", {})))
EOF
echo "remnants that ended by themselves once their connections did: $(cat "$A/hostrpcd.log" "$B/hostrpcd.log" | grep -c 'remnant: every forwarded connection ended')"
for g in B1 A2; do
	echo "guest $g: $(grep -a 'fwd done' "$mig_tmp/$g.out.log" 2> /dev/null | tr -d '\r')"
done
echo "guest B3: $(grep -a 'fslat done' "$mig_tmp/B3.out.log" 2> /dev/null | tr -d '\r')"
exit "$rc"
