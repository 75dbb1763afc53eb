#!/usr/bin/env bash
# bench/migrate-bench.sh - issue 12's benchmark: the downtime and the bytes
# of a live migration of a guest with 100 established connections streaming
# data both ways, against a plain QEMU migration of the same guest kernel
# with virtio-net on QEMU user networking (slirp, which QEMU carries in its
# own stream), measured in the same run.
#
#   A (the product's path): a NIC-less guest whose sockets are outsourced,
#     moved by hostrpc-migrate between two hosts (tools/two-hosts: hostrpcd
#     on each, QEMU's stream and the migration link over the LAN bridge);
#     its peers are in the world namespace.
#   B (baseline): the same kernel with virtio-net + slirp; both QEMUs on
#     one host, migrated with QMP (the same capabilities, no pause); its
#     peers on that host's loopback through slirp.
#
# Both guests run tests/vm/migrate/guest/mig-stream: N connections to a
# world server, RATE bytes a second each way on each, every byte checked.
# Reported: the downtime (QEMU's figure; for A also hostrpc-migrate's paused
# to resumed time, which includes the socket switch), the longest silence a
# peer saw, the bytes moved (QEMU's stream; for A plus the host state and
# the shared pages resent) against the guest's RAM, and how many streams
# survived, every byte right.  Goals (issue 12): downtime <= 300 ms with 100
# connections, host state <= 1 % of guest RAM.
#
# Environment: MIG_BENCH_CONNS (100), MIG_BENCH_RATE (bytes/s per stream
# and direction, 8192), MIG_BENCH_SECS (the guests' run, 40), MIG_MEM (MiB,
# 256).  Root (namespaces, TCP_REPAIR).  Exit 77 when something is missing.
set -euo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/vm/lib.sh"
vm_prepare
. "$top_srcdir/tests/vm/migrate/lib.sh"
command -v python3 > /dev/null || vm_skip "python3 missing"
mig_setup
trap mig_cleanup EXIT

N=${MIG_BENCH_CONNS:-100} RATE=${MIG_BENCH_RATE:-8192} SECS=${MIG_BENCH_SECS:-40}
vm_watchdog $((2 * SECS + 300))
mig_stream_build

# The NIC guest: the same kernel plus virtio-net (as bench/sock-vm-bench.sh).
nicdir=${HOSTRPC_GUEST_NIC_DIR:-$top_builddir/.guest-nic}
mkdir -p "$nicdir"
if [ ! -d "$nicdir/kernel" ] && [ -d "$HOSTRPC_GUEST_DIR/kernel" ]; then
	cp -a "$HOSTRPC_GUEST_DIR/kernel" "$HOSTRPC_GUEST_DIR/env" "$nicdir/"
fi
(
	command -v flock > /dev/null && flock 9
	"$top_srcdir/tools/guest-image" -d "$nicdir" -m failover -m net_failover -m virtio_net \
		-m virtio_pci build >&2
) 9> "$nicdir/.build-lock" || vm_skip "cannot build the NIC guest image"

# ---- A: outsourced sockets, hostrpc-migrate ---------------------------------------
mig_streams_start "$N" 0 "$SECS" "$RATE"
mig_qemu B1 B incoming
sleep 10
rca=0
mig_migrate A1 B1 || rca=$?
cp "$mig_tmp/mig.json" "$mig_tmp/a.json"
[ "$rca" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err" >&2
wait_for $((SECS + 60)) eval "mig_guest_out | grep -aq 'mig-stream .*streams'" || true
touch "$mig_tmp/stop"
wait_for 20 test -s "$mig_tmp/world.json" || true
mig_guest_out | grep -a 'mig-stream \(ok\|FAILED\)' > "$mig_tmp/a-guest.txt" || true

# ---- B: virtio-net + slirp, plain QEMU migration -----------------------------------
bport=$((mig_port + 10))
rm -f "$mig_tmp/stop"
ip netns exec "$mig_p-hA" python3 "$top_srcdir/tests/vm/migrate/world.py" 10.0.2.15 "$bport" \
	0 "$RATE" "$mig_tmp/stop" "$mig_tmp/world-b.json" > "$mig_tmp/world-b.log" 2>&1 &
mig_pids+=($!)
mkdir -p "$mig_tmp/nic/hostrpc"
printf '#!/bin/sh\nip link set lo up; ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2\n/hostrpc/mig-stream 10.0.2.2 %s %s 0 %s %s\n' \
	"$bport" "$N" "$SECS" "$RATE" > "$mig_tmp/nic/hostrpc/cmd"
cp "$mig_tmp/mig-stream" "$mig_tmp/nic/hostrpc/"
(cd "$mig_tmp/nic" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 > "$mig_tmp/nic.cpio.gz"
cat "$nicdir/initramfs.cpio.gz" "$mig_tmp/nic.cpio.gz" > "$mig_tmp/initrd-nic"
nic_qemu() {	# nic_qemu NAME [QEMU ARGS]
	local n=$1
	shift
	: > "$mig_tmp/$n.out.log"
	ip netns exec "$mig_p-hA" qemu-system-x86_64 -accel tcg -m "$mig_mem" -smp 1 -nographic \
		-no-reboot -kernel "$nicdir/vmlinuz" -initrd "$mig_tmp/initrd-nic" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 hrpc.out=ttyS1 hrpc.noload=1" \
		-serial "file:$mig_tmp/$n.console.log" -serial "file:$mig_tmp/$n.out.log" \
		-monitor none -qmp "unix:$mig_tmp/$n.qmp,server=on,wait=off" \
		-netdev user,id=n0 -device virtio-net-pci,netdev=n0 "$@" \
		< /dev/null > "$mig_tmp/$n.qemu.log" 2>&1 &
	mig_pids+=($!)
	wait_for 20 test -S "$mig_tmp/$n.qmp"
}
nic_qemu N1
wait_for 90 grep -q 'mig-stream up' "$mig_tmp/N1.out.log" ||
	{ tail -20 "$mig_tmp/N1.out.log" "$mig_tmp/N1.console.log"; echo "guest B did not start" >&2; exit 1; }
nic_qemu N2 -incoming defer -S
sleep 10
# The same migration, driven over QMP as a management tool would.
ip netns exec "$mig_p-hA" python3 - "$mig_tmp/N1.qmp" "$mig_tmp/N2.qmp" "unix:$mig_tmp/nic-mig.sock" \
	> "$mig_tmp/b.json" <<'EOF'
import json, socket, sys, time
def qmp(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rw")
    f.readline()
    call(f, "qmp_capabilities")
    return f
def call(f, cmd, **args):
    f.write(json.dumps({"execute": cmd, "arguments": args} if args else {"execute": cmd}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
src, dst = qmp(sys.argv[1]), qmp(sys.argv[2])
caps = [{"capability": "events", "state": True}]
call(src, "migrate-set-capabilities", capabilities=caps)
# Pre-copy as hostrpc-migrate's --precopy=auto has it (migrate/README.md):
# single-pass where TCG before QEMU 9.0 would lose the guest's stores.
kvm = call(src, "query-kvm")["return"].get("enabled")
single = not kvm and call(src, "query-version")["return"]["qemu"]["major"] < 9
if single:
    call(src, "migrate-set-parameters", **{"downtime-limit": 0})
call(dst, "migrate-incoming", uri=sys.argv[3])
t0 = time.monotonic()
call(src, "migrate", uri=sys.argv[3])
while True:
    mi = call(src, "query-migrate")["return"]
    if mi.get("status") in ("completed", "failed", "cancelled") and mi.get("total-time"):
        break
    time.sleep(0.005)
while call(dst, "query-migrate")["return"].get("status") != "completed":
    time.sleep(0.005)
call(dst, "cont")
print(json.dumps({"status": mi["status"], "downtime_ms": mi.get("downtime", -1),
                  "precopy": "single-pass" if single else "iterative",
                  "total_ms": mi.get("total-time", -1),
                  "qemu_bytes": mi.get("ram", {}).get("transferred", -1),
                  "guest_ram_bytes": mi.get("ram", {}).get("total", -1)}))
call(src, "quit")
EOF
wait_for $((SECS + 60)) eval "grep -aq 'mig-stream .*streams' '$mig_tmp/N2.out.log'" || true
touch "$mig_tmp/stop"
wait_for 20 test -s "$mig_tmp/world-b.json" || true
tr -d '\r' < "$mig_tmp/N2.out.log" | grep -a 'mig-stream \(ok\|FAILED\)' > "$mig_tmp/b-guest.txt" || true

# ---- the table ------------------------------------------------------------------------
python3 - "$mig_tmp" "$N" "$RATE" "$SECS" <<'EOF'
import json, os, sys
d, n, rate, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def load(f):
    try:
        return json.load(open(os.path.join(d, f)))
    except Exception:
        return {}
a, b = load("a.json"), load("b.json")
wa, wb = load("world.json"), load("world-b.json")
def survived(w):
    s = w.get("streams", [])
    ok = sum(1 for x in s if x["bad"] == 0 and x["rcvd"] >= rate * (secs - 20))
    return ok, len(s), max((x["max_gap_ms"] for x in s), default=-1)
sa, sb = survived(wa), survived(wb)
ram = a.get("guest_ram_bytes", 0) or b.get("guest_ram_bytes", 0) or 1
state = a.get("host_state_bytes", -1)
pages = a.get("shared_page_bytes", -1)
print(f"migration of a guest with {n} connections streaming {rate} B/s each way "
      f"(guest RAM {ram >> 20} MiB, 1 vCPU, TCG; pre-copy: hostrpc "
      f"{a.get('precopy', '?')}, baseline {b.get('precopy', '?')})")
row = "%-46s %16s %16s  %s"
print(row % ("", "hostrpc", "virtio-net+slirp", "goal"))
down_a = a.get("downtime_ms", -1)
print(row % ("downtime, paused to resumed (ms)", "%.1f" % down_a,
             "%.1f" % b.get("downtime_ms", -1),
             "<= 300 %s" % ("MET" if 0 <= down_a <= 300 else "NOT MET")))
print(row % ("longest silence a peer saw (ms)", "%.1f" % sa[2], "%.1f" % sb[2], ""))
print(row % ("streams intact, every byte right", "%d/%d" % sa[:2], "%d/%d" % sb[:2],
             "all"))
def guest(f):
    try:
        t = open(os.path.join(d, f)).read().split()
        return "%s, %s bad" % (t[1].rstrip(":"), t[4])
    except Exception:
        return "no result"
print(row % ("  the guest's own check of what it received", guest("a-guest.txt"),
             guest("b-guest.txt"), ""))
print(row % ("QEMU's stream (bytes)", a.get("qemu_bytes", -1), b.get("qemu_bytes", -1), ""))
pct = 100.0 * state / ram
print(row % ("host state shipped (bytes, % of guest RAM)", "%d (%.4f%%)" % (state, pct), "-",
             "<= 1%% %s" % ("MET" if 0 <= pct <= 1 else "NOT MET")))
print(row % ("shared pages resent (bytes)", pages, "-", ""))
print(row % ("migration total (ms)", "%.0f" % a.get("total_ms", -1),
             "%.0f" % b.get("total_ms", -1), ""))
print("phases (ms):", json.dumps(a.get("phases_ms", {})))
EOF
echo "guest A: $(cat "$mig_tmp/a-guest.txt" 2> /dev/null)"
echo "guest B: $(cat "$mig_tmp/b-guest.txt" 2> /dev/null)"
[ "$rca" = 0 ]
