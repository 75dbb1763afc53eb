#!/usr/bin/env bash
# VM test: hostrpcd balances libvirt guests without hostrpc_mem.ko through
# their virtio balloon (issue 15 item 5).  A private hostrpcd follows libvirt
# (--libvirt qemu:///system) with a pool of 1152 MiB, steps of 128 MiB, and
# two domains of our guest kernel (hrpc-balloon-1, -2), each with
# <memballoon model='virtio'/>, 768 MiB at most, 512 MiB current; the guests
# load virtio_balloon (from the Debian kernel's modules, in this test's own
# initrd archive), no hostrpc_mem.  Guest 1 comes under pressure
# (tests/vm/mem/guest/balloon-eat.c takes all its free memory but a few MiB
# and holds it), guest 2 stays idle:
#
#   the pool has 128 MiB of room: guest 1's balloon is deflated (it grows)
#   the pool spent: guest 2's balloon is inflated (a reclaim), then guest 1
#     grows by what came back, until guest 1 is at its maximum or guest 2
#     at --mem-balloon-min-mib (256)
#
# Checks (virsh dommemstat's "actual"): guest 1 grew to 640 MiB or more and
# guest 2 shrank to 448 MiB or less, both moves in hostrpcd's log, the two
# together never above the pool once booted (sampled), no kernel warning or
# OOM in the guests, hostrpcd up.  Whatever happens, the domains are
# destroyed and undefined and hostrpcd stopped.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
uri=qemu:///system
hostrpcd=$top_builddir/hostrpc/daemon/hostrpcd
command -v virsh > /dev/null ||
	vm_skip "virsh missing (apt-get install libvirt-clients libvirt-daemon-driver-qemu)"
"$hostrpcd" --help 2>&1 | grep -q -- '--mem-balloon-min-mib' ||
	vm_skip "hostrpcd was built without libvirt (apt-get install libvirt-dev; configure)"
. "$HOSTRPC_GUEST_DIR/env" 2> /dev/null || true
kmods=$HOSTRPC_GUEST_DIR/kernel/lib/modules/${KVER:-none}/kernel/drivers/virtio
[ -f "$kmods/virtio_balloon.ko" ] ||
	vm_skip "the guest kernel's virtio_balloon.ko is not in $kmods (tools/guest-image build)"
${CC:-gcc} -static -O2 -o "$vm_tmp/balloon-eat" "$top_srcdir/tests/vm/mem/guest/balloon-eat.c" \
	> "$vm_tmp/cc.log" 2>&1 ||
	{ cat "$vm_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (apt-get install libc6-dev)"; }
if ! virsh -c "$uri" version > /dev/null 2>&1; then
	# libvirtd is down (so no domain runs): start it here if we may.
	{ [ "$(id -u)" = 0 ] && "$top_srcdir/tools/libvirt-setup" start > "$vm_tmp/setup.log" 2>&1; } ||
		vm_skip "libvirtd does not answer on $uri (tools/libvirt-setup start, as root): $(tail -n 1 "$vm_tmp/setup.log" 2>/dev/null)"
fi
# two guests at once: not beside the other heavy tests
vm_load_lock exclusive

doms=(hrpc-balloon-1 hrpc-balloon-2)
ep=$vm_tmp/ep
log=$vm_tmp
admin=$vm_tmp/admin.sock
pool=1152
qgroup=$("$top_srcdir/tools/libvirt-setup" qemu-group)
group_arg=()
if [ "$qgroup" != root ]; then
	chmod 0711 "$vm_tmp"
	group_arg=(--endpoint-group="$qgroup")
fi
daemon=""
watchdog=""
virsh() { command virsh -q -c "$uri" "$@"; }
cleanup() {
	set +e
	[ -n "$watchdog" ] && kill "$watchdog" 2> /dev/null
	for d in "${doms[@]}"; do
		virsh destroy "$d" > /dev/null 2>&1
		virsh undefine "$d" > /dev/null 2>&1
	done
	# The sampler ends its round (killed, it would leave its virsh behind).
	touch "$vm_tmp/stop"
	for p in "${vm_bg[@]:+${vm_bg[@]}}"; do
		wait_for 10 eval "! kill -0 $p 2>/dev/null" || kill "$p" 2> /dev/null
		wait "$p" 2> /dev/null
	done
	[ -z "$daemon" ] || vm_stop_pid "$daemon"
	"$hostrpcd" --fdstore-release --state-dir="$vm_tmp/state" > /dev/null 2>&1
	rm -rf "$vm_tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
vm_watchdog "${HOSTRPC_VM_TIMEOUT:-240}"
watchdog=$vm_watchdog_pid
# Leftovers of an interrupted run.
for d in "${doms[@]}"; do
	virsh destroy "$d" > /dev/null 2>&1 || true
	virsh undefine "$d" > /dev/null 2>&1 || true
done

# The initrds: the image's initramfs plus a cpio with the command, the
# virtio modules and balloon-eat.  Output on ttyS1 (a file).
mkdir -p "$ep" "$vm_tmp/nomem"
for i in 1 2; do
	x=$vm_tmp/extra$i
	mkdir -p "$x/hostrpc" "$x/lib/modules/balloon" "$x/bin"
	for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_balloon; do
		cp "$kmods/$m.ko" "$x/lib/modules/balloon/"
	done
	cp "$vm_tmp/balloon-eat" "$x/bin/"
	{
		cat <<'CMD'
#!/bin/sh
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_balloon; do
	insmod /lib/modules/balloon/$m.ko 2> /dev/null
done
[ -d /sys/bus/virtio/drivers/virtio_balloon ] && echo BALLOON-LOADED || echo BALLOON-MISSING
# Until libvirt's balloon took the guest from 768 to 512 MiB.
n=0
until [ "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)" -lt 560000 ]; do
	n=$((n + 1)); [ $n -lt 600 ] || { echo NOT-INFLATED; break; }; sleep 0.2
done
echo "BOOTED $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) kB"
CMD
		[ "$i" = 1 ] && echo 'balloon-eat 12 &'
		cat <<'CMD'
seen=0
while :; do
	n=$(dmesg | grep -cE 'BUG|WARNING|Oops|oom-killer|Out of memory')
	[ "$n" = "$seen" ] || dmesg | grep -E 'BUG|WARNING|Oops|oom-killer|Out of memory' | tail -n 3
	seen=$n
	echo "dmesg-problems: $n"
	sleep 1
done
CMD
	} > "$x/hostrpc/cmd"
	(cd "$x" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 > "$x.cpio.gz"
	cat "$HOSTRPC_GUEST_DIR/initramfs.cpio.gz" "$x.cpio.gz" > "$vm_tmp/initrd$i"
	: > "$log/out$i.log"
	"$top_srcdir/tools/domain-xml" "${doms[i - 1]}" --kernel "$HOSTRPC_GUEST_DIR/vmlinuz" \
		--initrd "$vm_tmp/initrd$i" --endpoint-dir "$ep" --console "$log/console$i.log" \
		--output "$log/out$i.log" --memory 768 \
		--cmdline "console=ttyS0 panic=-1 quiet loglevel=4 hrpc.out=ttyS1" |
		sed -e "s|<memory unit='MiB'>768</memory>|&<currentMemory unit='MiB'>512</currentMemory>|" \
		    -e "s|<memballoon model='none'/>|<memballoon model='virtio'/>|" > "$vm_tmp/domain$i.xml"
	grep -q "<currentMemory unit='MiB'>512" "$vm_tmp/domain$i.xml" &&
		grep -q "<memballoon model='virtio'/>" "$vm_tmp/domain$i.xml" ||
		{ echo "Bail out! tools/domain-xml's output changed: cannot add the balloon"; exit 1; }
done

"$hostrpcd" --foreground --verbose --libvirt="$uri" --endpoint-dir="$ep" "${group_arg[@]}" \
	--socket="$vm_tmp/guests.sock" --admin-socket="$admin" --state-dir="$vm_tmp/state" \
	--mem-policy-dir="$vm_tmp/nomem" --mem-pool-mib=$pool --mem-balance-step-mib=128 \
	--mem-balance-ms=500 --mem-balloon-min-mib=256 > "$log/hostrpcd.log" 2>&1 &
daemon=$!
echo "1..6"
if ! wait_for 20 grep -q 'ready:' "$log/hostrpcd.log"; then
	sed 's/^/# hostrpcd: /' "$log/hostrpcd.log"
	echo "Bail out! hostrpcd --libvirt $uri did not start"
	exit 1
fi
t0=$(date +%s)
for i in 1 2; do
	virsh define "$vm_tmp/domain$i.xml" >> "$log/virsh.log" 2>&1 &&
		wait_for 10 test -S "$ep/${doms[i - 1]}.ivshmem" &&
		virsh start "${doms[i - 1]}" >> "$log/virsh.log" 2>&1 ||
		{ sed 's/^/# virsh: /' "$log/virsh.log"; echo "Bail out! cannot start ${doms[i - 1]}"; exit 1; }
done
actual() { virsh dommemstat "$1" 2> /dev/null | awk '$1 == "actual" { print int($2 / 1024) }'; }
booted() { grep -qa '^BOOTED' "$log/out1.log" && grep -qa '^BOOTED' "$log/out2.log" &&
	   grep -qa '^eat' "$log/out1.log"; }

rb=0; wait_for 120 booted || rb=1
echo "# booted in $(($(date +%s) - t0)) s: $(grep -ah '^BOOTED\|BALLOON' "$log/out1.log" "$log/out2.log" | tr -d '\r' | paste -sd ' ')"
r=0; { [ "$rb" = 0 ] && grep -qa '^BALLOON-LOADED' "$log/out1.log" &&
       grep -qa '^BALLOON-LOADED' "$log/out2.log" && grep -qa '^eat' "$log/out1.log"; } || r=1
tap 1 $r "both guests booted with virtio_balloon at 512 of 768 MiB; guest 1 eats its free memory"

# Both balloons' actual sizes, sampled from now on.
(
	while [ ! -e "$vm_tmp/stop" ]; do
		echo "$(actual "${doms[0]}") $(actual "${doms[1]}")"
		sleep 0.5
	done > "$log/samples"
) &
vm_bg+=($!)
moved() {
	a1=$(actual "${doms[0]}"); a2=$(actual "${doms[1]}")
	[ -n "$a1" ] && [ -n "$a2" ] && [ "$a1" -ge 640 ] && [ "$a2" -le 448 ]
}
# (wall-clock: each look costs two virsh calls)
until_t() { local end=$(($(date +%s) + $1)); shift; until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.5; done; }
t1=$(date +%s)
r=0; until_t 90 moved || r=1
tap 2 $r "memory moved: guest 1 at ${a1:-?} MiB (>= 640), guest 2 at ${a2:-?} MiB (<= 448) after $(($(date +%s) - t1)) s"
id1=$(grep -o "guest [0-9]* (domain ${doms[0]})" "$log/hostrpcd.log" | head -n 1 | awk '{ print $2 }' || true)
r=0; { grep -q "guest [0-9]* (domain ${doms[0]}) under pressure: deflating its balloon" "$log/hostrpcd.log" &&
       grep -q "guest [0-9]* (domain ${doms[1]}) has slack: inflating its balloon by [0-9]* MiB to [0-9]* MiB for guest ${id1:-x}" "$log/hostrpcd.log"; } || r=1
tap 3 $r "hostrpcd's log: guest 1's balloon deflated $(grep -c "(domain ${doms[0]}) under pressure" "$log/hostrpcd.log") times, guest 2's inflated for it $(grep -c "(domain ${doms[1]}) has slack" "$log/hostrpcd.log") times"
kill "${vm_bg[-1]}" 2> /dev/null || true
set +e
max=$(awk 'NF == 2 { s = $1 + $2; if (s > m) m = s } END { print m + 0 }' "$log/samples")
r=0; { [ "$max" -gt 0 ] && [ "$max" -le $((pool + 2)) ]; } || r=1
tap 4 $r "the two guests together never above the $pool MiB pool (at most $max MiB, $(wc -l < "$log/samples") samples)"
# A fresh report from each guest, after the moves.
n1=$(grep -ac '^dmesg-problems' "$log/out1.log"); n2=$(grep -ac '^dmesg-problems' "$log/out2.log")
wait_for 10 eval '[ "$(grep -ac ^dmesg-problems "$log/out1.log")" -gt "$n1" ] &&
		  [ "$(grep -ac ^dmesg-problems "$log/out2.log")" -gt "$n2" ]' || true
p1=$(grep -a '^dmesg-problems' "$log/out1.log" | tail -n 1 | tr -d '\r')
p2=$(grep -a '^dmesg-problems' "$log/out2.log" | tail -n 1 | tr -d '\r')
r=0; { [ "$p1" = "dmesg-problems: 0" ] && [ "$p2" = "dmesg-problems: 0" ]; } || r=1
tap 5 $r "no kernel warning, BUG, oops or OOM in either guest (${p1:-?}; ${p2:-?})"
r=0; { kill -0 "$daemon" && ! grep -qE 'critical|fenced' "$log/hostrpcd.log"; } || r=1
tap 6 $r "hostrpcd still runs; nothing critical"
tr -d '\r' < "$log/out1.log" | grep -v '^dmesg-problems\|^eat' | sed 's/^/# guest 1: /'
echo "# guest 1 ate: $(grep -a '^eat' "$log/out1.log" | tail -n 1 | tr -d '\r')"
grep -E 'memory balanc|libvirt' "$log/hostrpcd.log" | sed 's/^/# hostrpcd: /' | tail -n 40
