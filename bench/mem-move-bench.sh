#!/usr/bin/env bash
# bench/mem-move-bench.sh - memory outsourcing's benchmark (issue 15 item 7,
# part 1): the time to move MEM_MOVE_BENCH_MIB MiB (1024) from one guest to
# another, hostrpc's memory service against virtio-balloon inflate + deflate
# through libvirt, measured in the same run, both under QEMU TCG (no KVM).
#
#   hostrpc (the product's path): one hostrpcd, two guests (tests/vm/vm-run,
#     256 MiB of RAM, 1 vCPU) attached to its --ivshmem endpoints, each with
#     a region (an ivshmem-plain BAR2 over a /dev/shm file its worker owns;
#     2048 MiB).  g1 is granted MIB + 64 MiB at HELLO, g2 64 MiB.  In each
#     guest, hostmem-touch waitmap MIB (tests/vm/guest/hostmem-touch.c)
#     waits for the memory, maps MIB MiB of /dev/hostmem, touches one byte
#     per 2 MiB chunk, prints "mapped MIB", unmaps.  One move, timed on the
#     host (CLOCK_MONOTONIC) from just before
#         hostrpcctl memory SRC reclaim MIB
#     until SRC's listing (hostrpcctl --json memory SRC) says the reclaim is
#     over (reclaiming_mib 0, moves.released_mib grown by MIB: the guest's
#     driver RELEASEd them, none taken at the deadline), then
#         hostrpcctl memory DST grant MIB
#     until DST's program printed "mapped MIB" (its serial output file,
#     polled every 10 ms).  Includes: the hostrpcctl round trips, hostrpcd's
#     worker, the RECLAIM/GRANT events through ivshmem, the source driver's
#     RELEASE (the chunks are free there: nothing to copy), the hole punch
#     of the chunks in the source's region file, the destination program's
#     5 ms poll, its mmap and 512 page faults, the serial line.
#   virtio-balloon (baseline): two libvirt domains (type qemu: TCG, 1 vCPU,
#     <memory> 256 + MIB MiB, <memballoon model='virtio'/>), the same guest
#     kernel and initramfs, virtio_pci + virtio_balloon loaded by the guest's
#     command (the modules travel in a per-boot cpio, as the guest-sourcing
#     tests' virtio modules do).  g1 at 256 + MIB MiB, g2 ballooned down to
#     256.  One move, timed on the host from just before
#         virsh setmem SRC 256M --live
#     until virsh dommemstat SRC says actual = 256 MiB (the guest inflated
#     its balloon by MIB), then
#         virsh setmem DST (256+MIB)M --live
#     until DST's actual reaches it (deflated), polled every 50 ms.
#     Includes: the virsh round trips and libvirtd, the guests' balloon
#     drivers (page allocation, the virtqueue, QEMU's discard of each page)
#     and the polls.  It stops at QEMU's balloon figure: no program in the
#     destination allocates the memory (hostrpc's figure includes that).
#
# MEM_MOVE_BENCH_RUNS moves (3) each, directions alternating (g1 -> g2,
# g2 -> g1, ...); the table gives the medians and the ratio "balloon s /
# hostrpc s" (> 1 = hostrpc faster).
#
# Root (hostrpcd's workers, libvirt's domains).  Exit 0 when every move was
# measured; 1 when one failed (FAILED lines say which); 77 with the reason
# when a prerequisite is missing (libvirtd is started with
# tools/libvirt-setup start when it does not answer).
# Environment:
#   MEM_MOVE_BENCH_MIB=N   MiB moved (1024; a multiple of 2; the smoke: 128)
#   MEM_MOVE_BENCH_RUNS=N  moves per mechanism (3; the smoke: 1)
#   MEM_MOVE_BENCH_URI     libvirt URI (qemu:///system)
set -euo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/vm/lib.sh"
[ "$(id -u)" = 0 ] || vm_skip "mem-move-bench needs root (hostrpcd's workers, libvirt domains)"
vm_prepare
mib=${MEM_MOVE_BENCH_MIB:-1024}
runs=${MEM_MOVE_BENCH_RUNS:-3}
uri=${MEM_MOVE_BENCH_URI:-qemu:///system}
case $mib in *[!0-9]*|'') vm_skip "MEM_MOVE_BENCH_MIB must be a number" ;; esac
[ $((mib % 2)) = 0 ] && [ "$mib" -ge 2 ] || vm_skip "MEM_MOVE_BENCH_MIB must be a positive multiple of 2"
case $runs in *[!0-9]*|''|0) vm_skip "MEM_MOVE_BENCH_RUNS must be a positive number" ;; esac

# ---- prerequisites ---------------------------------------------------------------
[ "$vm_server_is_hostrpcd" = 1 ] || vm_skip "needs hostrpcd as the ivshmem server"
hostrpcctl=$top_builddir/hostrpc/daemon/hostrpcctl
[ -x "$hostrpcctl" ] || vm_skip "hostrpcctl not built"
[ -f "$HOSTRPC_GUEST_DIR/modules/hostrpc_mem.ko" ] ||
	vm_skip "the guest image has no hostrpc_mem.ko (tools/guest-image build)"
grep -qa 'waitmap MIB' "$HOSTRPC_GUEST_DIR/bin/hostmem-touch" 2> /dev/null ||
	vm_skip "the guest image's hostmem-touch has no waitmap (tools/guest-image build)"
[ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ] || vm_skip "no tmpfs /dev/shm"
command -v python3 > /dev/null || vm_skip "python3 missing (apt-get install python3)"
command -v virsh > /dev/null ||
	vm_skip "virsh missing (apt-get install libvirt-clients libvirt-daemon-driver-qemu)"
if ! virsh -c "$uri" version > /dev/null 2>&1; then
	"$top_srcdir/tools/libvirt-setup" start > "$vm_tmp/setup.log" 2>&1 ||
		vm_skip "libvirtd does not answer on $uri (tools/libvirt-setup start): $(tail -n 1 "$vm_tmp/setup.log")"
fi
kver=$(sed -n 's/^KVER=//p' "$HOSTRPC_GUEST_DIR/env")
kmods=$HOSTRPC_GUEST_DIR/kernel/lib/modules/$kver/kernel/drivers/virtio
balloon_mods="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_balloon"
for m in $balloon_mods; do
	[ -f "$kmods/$m.ko" ] || vm_skip "the guest kernel tree has no $m.ko ($kmods)"
done
# A timed run: alone (tests/lib.sh)
vm_load_lock exclusive

region_mib=64
while [ "$region_mib" -lt $((mib + 64)) ]; do region_mib=$((region_mib * 2)); done
small=256 big=$((256 + mib))
r1=$(( (runs + 1) / 2 ))   # moves into g2 (the odd ones)
r2=$(( runs / 2 ))         # moves into g1
doms=()
vmpids=()
regions=()
cleanup() {
	set +e
	kill "$vm_watchdog_pid" 2> /dev/null
	for p in "${vmpids[@]:+${vmpids[@]}}"; do vm_stop_pid "$p"; done
	for d in "${doms[@]:+${doms[@]}}"; do
		virsh -q -c "$uri" destroy "$d" > /dev/null 2>&1
		virsh -q -c "$uri" undefine "$d" > /dev/null 2>&1
	done
	rm -f "${regions[@]:+${regions[@]}}"
	vm_hostrpcd_cleanup
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
vm_watchdog $(( 900 + runs * 600 ))
fail=0
failed() { echo "FAILED: $*"; fail=1; }

# ---- hostrpc: one hostrpcd, two guests ---------------------------------------------
mkdir -p "$vm_tmp/mem"
ivargs=()
for g in g1 g2; do
	region=/dev/shm/hostrpc-mem-bench-$$-$g
	regions+=("$region")
	install -m 600 /dev/null "$region"
	grant=64
	[ "$g" = g1 ] && grant=$((mib + 64))
	cat > "$vm_tmp/mem/$g.conf" <<EOF
[memory]
region-mib=$region_mib
grant-mib=$grant
pin-quota-mib=0
reclaim-deadline-ms=30000
region-file=$region
EOF
	ivargs+=("--ivshmem=$g=$vm_tmp/$g.ivshmem")
done
vm_hostrpcd_start "${ivargs[@]}" --mem-policy-dir="$vm_tmp/mem"
wait_for 10 test -S "$vm_tmp/g1.ivshmem" -a -S "$vm_tmp/g2.ivshmem" ||
	{ failed "hostrpcd made no ivshmem endpoints"; exit 1; }

for g in g1 g2; do
	if [ "$g" = g1 ]; then want=$(( (mib + 64) / 2 )) rounds=$r2; else want=32 rounds=$r1; fi
	"$vm_run" -m 256 -t $(( 600 + runs * 300 )) -x "$vm_tmp/$g.ivshmem" \
		-l "$vm_tmp/$g.console" -L "$vm_tmp/$g.hook" -a hrpc.load=hostrpc_mem \
		-Q "-object memory-backend-file,id=hmem,share=on,mem-path=${regions[${g#g} - 1]},size=${region_mib}M -device ivshmem-plain,memdev=hmem" \
		-e "ln -sf \"\$VM_OUT_LOG\" '$vm_tmp/$g.out'" -E '^READY' "
info() { hostmem-touch info | sed -n \"s/^\$1=//p\"; }
n=0
until [ \"\$(info attached)\" = 1 ] && [ \"\$(info granted)\" = $want ]; do
	n=\$((n + 1)); [ \$n -ge 1500 ] && { echo NO-GRANT; hostmem-touch info | tr '\n' ' '; echo; break; }
	sleep 0.2
done
echo READY
[ $rounds = 0 ] || hostmem-touch waitmap $mib $rounds
echo WAITMAP-EXIT \$?
exec sleep 100000
" > "$vm_tmp/$g.vmrun" 2>&1 &
	vmpids+=($!)
done
for g in g1 g2; do
	wait_for 600 test -e "$vm_tmp/$g.out" || { failed "guest $g did not get ready"; break; }
done
sleep 1   # the waitmap programs start polling
ctl() { "$hostrpcctl" --admin-socket="$vm_admin" "$@"; }
for g in g1 g2; do
	ctl memory "$g" 2>&1 | sed "s/^/# before: $g: /"
	grep -a NO-GRANT "$vm_tmp/$g.out" 2> /dev/null | sed "s/^/# $g: /" && failed "$g was not granted its memory"
done

measure=$vm_tmp/measure.py
cat > "$measure" <<'PY'
import json, os, subprocess, sys, time
mode = sys.argv[1]
mib, runs = int(sys.argv[2]), int(sys.argv[3])
out = open(sys.argv[4], "w")
TIMEOUT = 600

def run(*a):
    return subprocess.run(a, capture_output=True, text=True, check=True).stdout

def until(what, cond, every):
    end = time.monotonic() + TIMEOUT
    while not cond():
        if time.monotonic() > end:
            raise RuntimeError("timeout waiting for " + what)
        time.sleep(every)

if mode == "hostrpc":
    ctl, admin = sys.argv[5], sys.argv[6]
    outs = {"g1": sys.argv[7], "g2": sys.argv[8]}
    def c(*a):
        return run(ctl, "--admin-socket=" + admin, *a)
    def js(g):
        return json.loads(c("--json", "memory", g))
    def count(g, prefix):
        with open(outs[g], "rb") as f:
            return sum(1 for l in f.read().split(b"\n") if l.startswith(prefix))
    for r in range(runs):
        src, dst = ("g1", "g2") if r % 2 == 0 else ("g2", "g1")
        j0 = js(src)
        rel0, exp0 = j0["moves"]["released_mib"], j0["moves"]["expired_mib"]
        n0 = count(dst, b"mapped ")
        def reclaimed():
            j = js(src)
            if j["moves"]["expired_mib"] != exp0:
                raise RuntimeError("%s: chunks taken at the deadline" % src)
            return j["reclaiming_mib"] == 0 and j["moves"]["released_mib"] >= rel0 + mib
        t0 = time.monotonic()
        c("memory", src, "reclaim", str(mib))
        until("%s's reclaim" % src, reclaimed, 0.01)
        t1 = time.monotonic()
        c("memory", dst, "grant", str(mib))
        until("%s's mapped line" % dst, lambda: count(dst, b"mapped ") > n0, 0.01)
        t2 = time.monotonic()
        print("hostrpc %d %s %s %.4f %.4f %.4f" % (r + 1, src, dst, t2 - t0, t1 - t0, t2 - t1),
              file=out, flush=True)
        # untimed: the destination unmapped (its chunks free again) before
        # the next move takes them back
        until("%s's unmapped line" % dst, lambda: count(dst, b"unmapped ") > n0, 0.02)
else:
    uri, doms = sys.argv[5], {"g1": sys.argv[6], "g2": sys.argv[7]}
    small, big = 256, 256 + mib
    def v(*a):
        return run("virsh", "-q", "-c", uri, *a)
    def actual(g):
        for l in v("dommemstat", doms[g]).splitlines():
            k = l.split()
            if len(k) == 2 and k[0] == "actual":
                return int(k[1])
        raise RuntimeError("no actual in dommemstat " + doms[g])
    for r in range(runs):
        src, dst = ("g1", "g2") if r % 2 == 0 else ("g2", "g1")
        t0 = time.monotonic()
        v("setmem", doms[src], "%dM" % small, "--live")
        until("%s's inflate" % src, lambda: actual(src) <= small * 1024, 0.05)
        t1 = time.monotonic()
        v("setmem", doms[dst], "%dM" % big, "--live")
        until("%s's deflate" % dst, lambda: actual(dst) >= big * 1024, 0.05)
        t2 = time.monotonic()
        print("balloon %d %s %s %.4f %.4f %.4f" % (r + 1, src, dst, t2 - t0, t1 - t0, t2 - t1),
              file=out, flush=True)
PY
results=$vm_tmp/results
: > "$results"
if [ "$fail" = 0 ]; then
	python3 "$measure" hostrpc "$mib" "$runs" "$results.hostrpc" "$hostrpcctl" "$vm_admin" \
		"$vm_tmp/g1.out" "$vm_tmp/g2.out" 2> "$vm_tmp/measure.err" ||
		failed "hostrpc: $(tail -n 1 "$vm_tmp/measure.err")"
	cat "$results.hostrpc" >> "$results" 2> /dev/null || true
fi
for g in g1 g2; do
	ctl memory "$g" 2>&1 | sed "s/^/# after: $g: /"
	tr -d '\r' < "$vm_tmp/$g.out" 2> /dev/null | sed "s/^/# $g: /" | tail -n 8
done
# The guests go: the balloon's domains get the CPUs to themselves.
for p in "${vmpids[@]}"; do vm_stop_pid "$p" || true; done
vmpids=()
{ grep -E 'memory|fenced' "$vm_tmp/hostrpcd.log" | grep -viE 'debug' | tail -n 6 | sed 's/^/# hostrpcd: /'; } || true

# ---- virtio-balloon: two libvirt domains -------------------------------------------
bdir=$vm_tmp/balloon
mkdir -p "$bdir/extra/hostrpc/mod"
chmod 0711 "$vm_tmp"
for m in $balloon_mods; do cp "$kmods/$m.ko" "$bdir/extra/hostrpc/mod/"; done
cat > "$bdir/extra/hostrpc/cmd" <<CMD
#!/bin/sh
for m in $balloon_mods; do insmod /hostrpc/mod/\$m.ko || echo "insmod \$m failed"; done
ls /sys/bus/virtio/drivers/virtio_balloon | grep -q virtio && echo BALLOON-READY
exec sleep 100000
CMD
(cd "$bdir/extra" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 > "$bdir/extra.cpio.gz"
cat "$HOSTRPC_GUEST_DIR/initramfs.cpio.gz" "$bdir/extra.cpio.gz" > "$bdir/initrd"
cp "$HOSTRPC_GUEST_DIR/vmlinuz" "$bdir/vmlinuz"
chmod 0755 "$bdir"
chmod 0644 "$bdir/initrd" "$bdir/vmlinuz"
bdoms=()
for g in g1 g2; do
	d=hrpc-memmove-$$-$g
	cur=$small
	[ "$g" = g1 ] && cur=$big
	cat > "$bdir/$g.xml" <<XML
<domain type='qemu'>
  <name>$d</name>
  <memory unit='MiB'>$big</memory>
  <currentMemory unit='MiB'>$cur</currentMemory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$bdir/vmlinuz</kernel>
    <initrd>$bdir/initrd</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet loglevel=4 hrpc.out=ttyS1 hrpc.noload=1</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <serial type='file'><source path='$bdir/$g.console'/><target port='0'/></serial>
    <serial type='file'><source path='$bdir/$g.out'/><target port='1'/></serial>
    <memballoon model='virtio'/>
  </devices>
</domain>
XML
	doms+=("$d")
	bdoms+=("$d")
	virsh -q -c "$uri" define "$bdir/$g.xml" > "$bdir/virsh.log" 2>&1 &&
		virsh -q -c "$uri" start "$d" >> "$bdir/virsh.log" 2>&1 ||
		{ sed 's/^/# virsh: /' "$bdir/virsh.log"; failed "virsh could not start $d"; }
done
actual() { virsh -q -c "$uri" dommemstat "$1" 2> /dev/null | awk '$1 == "actual" { print $2 }'; }
if [ "$fail" = 0 ]; then
	for g in g1 g2; do
		wait_for 600 grep -qa BALLOON-READY "$bdir/$g.out" ||
			{ tr -d '\r' < "$bdir/$g.out" 2> /dev/null | sed "s/^/# $g: /"; failed "$g: no virtio_balloon driver"; }
	done
fi
# g2 starts at <currentMemory>: its balloon inflates while it boots (untimed).
if [ "$fail" = 0 ]; then
	wait_for 600 eval '[ "$(actual "${bdoms[1]}")" = $((small * 1024)) ]' ||
		failed "g2 did not balloon down to $small MiB at boot (actual $(actual "${bdoms[1]}") KiB)"
	wait_for 60 eval '[ "$(actual "${bdoms[0]}")" = $((big * 1024)) ]' ||
		failed "g1 is not at $big MiB (actual $(actual "${bdoms[0]}") KiB)"
fi
if [ "$fail" = 0 ]; then
	python3 "$measure" balloon "$mib" "$runs" "$results.balloon" "$uri" "${bdoms[0]}" "${bdoms[1]}" \
		2> "$vm_tmp/measure.err" || failed "virtio-balloon: $(tail -n 1 "$vm_tmp/measure.err")"
	cat "$results.balloon" >> "$results" 2> /dev/null || true
fi
for i in 0 1; do
	echo "# after: g$((i + 1)): $(virsh -q -c "$uri" dommemstat "${bdoms[$i]}" 2> /dev/null | tr '\n' ' ')"
done

# ---- the table ---------------------------------------------------------------------
python3 - "$results" "$mib" "$runs" <<'PY'
import statistics, sys
res, mib, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = {"hostrpc": [], "balloon": []}
for l in open(res):
    k = l.split()
    rows[k[0]].append((int(k[1]), k[2], k[3], float(k[4]), float(k[5]), float(k[6])))
def med(m, i):
    return statistics.median(x[i] for x in rows[m]) if rows[m] else None
def f(x):
    return "n/a" if x is None else "%.3f" % x
print("mem-move-bench: moving %d MiB from one guest to another, QEMU TCG (no KVM), 1 vCPU guests" % mib)
print("medians of %d moves each, directions alternating g1->g2, g2->g1, ...; host CLOCK_MONOTONIC" % runs)
print("  hostrpc: `hostrpcctl memory SRC reclaim %d` until SRC's listing shows the %d MiB released," % (mib, mib))
print("           then `hostrpcctl memory DST grant %d` until DST's guest program has mapped %d MiB" % (mib, mib))
print("           of /dev/hostmem and touched a byte per 2 MiB chunk (its \"mapped\" line seen on the host)")
print("  balloon: `virsh setmem SRC 256M --live` until dommemstat's actual = 256 MiB (inflate %d MiB)," % mib)
print("           then `virsh setmem DST %dM --live` until DST's actual = %d MiB (deflate)" % (256 + mib, 256 + mib))
print("           (QEMU's balloon figure: no program in DST allocates the memory, unlike hostrpc's row)")
print()
print("%-34s %10s %10s %10s   %s" % ("mechanism", "median s", "1st half", "2nd half", "moves (s)"))
names = {"hostrpc": "hostrpc (reclaim + grant + map)", "balloon": "virtio-balloon (inflate + deflate)"}
for m in ("hostrpc", "balloon"):
    print("%-34s %10s %10s %10s   %s" % (names[m], f(med(m, 3)), f(med(m, 4)), f(med(m, 5)),
          " ".join("%s->%s %.3f" % (x[1], x[2], x[3]) for x in rows[m]) or "-"))
print("  (1st half: hostrpc reclaim / balloon inflate; 2nd half: hostrpc grant + map / balloon deflate)")
h, b = med("hostrpc", 3), med("balloon", 3)
if h and b:
    print("ratio balloon s / hostrpc s: %.2fx (> 1 = hostrpc faster)" % (b / h))
else:
    print("ratio balloon s / hostrpc s: n/a (a mechanism was not measured)")
PY
exit "$fail"
