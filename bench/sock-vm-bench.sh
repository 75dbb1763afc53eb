#!/usr/bin/env bash
# sock-vm-bench - in-guest download throughput and request/response latency
# through outsourced sockets vs the same guest kernel with an emulated NIC,
# measured in the same run:
#
#   A: NIC-less guest, hostrpc_sock.ko, hostrpcd (ivshmem)  -> 127.0.0.1
#   B: same kernel, virtio-net on QEMU user networking     -> 10.0.2.2
#
# Each guest runs busybox wget of a 64 MiB file from busybox httpd on the
# host (twice; the better run counts) and 2000 1-byte TCP round trips to an
# echo server on the host, and iperf3 both ways when the host has it.
# Goal (issue 4): A >= 2x B in throughput.
# Environment: SOCK_BENCH_MIB (default 64), SOCK_BENCH_RTT (2000).
set -euo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/vm/lib.sh"
vm_prepare
mib=${SOCK_BENCH_MIB:-64}
rtts=${SOCK_BENCH_RTT:-2000}
srcd=$top_srcdir/tests/vm/sock
${CC:-gcc} -static -O2 -std=gnu11 -pthread -o "$vm_tmp/sock-probe" "$srcd/guest/sock-probe.c" 2>/dev/null ||
	vm_skip "cannot build the static guest program (apt-get install libc6-dev)"

# The NIC guest: the same kernel, plus the virtio-net driver.
nicdir=${HOSTRPC_GUEST_NIC_DIR:-$top_builddir/.guest-nic}
if [ ! -d "$nicdir/kernel" ] && [ -d "$HOSTRPC_GUEST_DIR/kernel" ]; then
	mkdir -p "$nicdir"
	cp -a "$HOSTRPC_GUEST_DIR/kernel" "$HOSTRPC_GUEST_DIR/env" "$nicdir/"
fi
"$top_srcdir/tools/guest-image" -d "$nicdir" -m failover -m net_failover -m virtio_net -m virtio_pci build >&2 ||
	vm_skip "cannot build the NIC guest image"

port=$((20000 + RANDOM % 20000)) hport=$((port + 2)) iport=$((port + 5))
extra=()
if command -v iperf3 >/dev/null; then
	f=$(command -v iperf3)
	extra+=(-f "$f:/bin/iperf3")
	for lib in $(ldd "$f" | awk '/=> \//{ print $3 } /^\t\/[^ ]* \(/{ print $1 }'); do
		d=$lib
		case $d in /lib64/*) d=/lib/${d#/lib64/} ;; esac
		extra+=(-f "$lib:$d")
	done
fi
pids=()
cleanup_bench() { for p in "${pids[@]:+${pids[@]}}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$vm_tmp"; }
trap cleanup_bench EXIT
python3 "$srcd/host-echo.py" "$port" > "$vm_tmp/echo.log" 2>&1 &
pids+=($!)
mkdir -p "$vm_tmp/www"
head -c $((mib << 20)) /dev/zero > "$vm_tmp/www/big.bin"
busybox httpd -f -p "0.0.0.0:$hport" -h "$vm_tmp/www" &
pids+=($!)
if [ ${#extra[@]} -gt 0 ]; then
	iperf3 -s -p "$iport" > "$vm_tmp/iperf.log" 2>&1 &
	pids+=($!)
fi
# The built-in socket rules keep the host's loopback from a guest: allow it.
mkdir -p "$vm_tmp/conf"
echo "connect allow loopback" > "$vm_tmp/conf/default.conf"
vm_server="$vm_server --sock-policy-dir=$vm_tmp/conf"
sleep 0.5

guest_run() {	# guest_run HOST_IP: the measuring commands
	cat <<EOC
$1
for i in 1 2; do
	t0=\$(cut -d' ' -f1 /proc/uptime)
	wget -q -O /dev/null http://$2:$hport/big.bin; rc=\$?
	t1=\$(cut -d' ' -f1 /proc/uptime)
	echo "WGET rc=\$rc t0=\$t0 t1=\$t1"
done
sock-probe -H $2 -p $port -n $rtts rtt
if [ -x /bin/iperf3 ]; then
	iperf3 -c $2 -p $iport -t 3 -f m > /tmp/ip1 2>&1 && echo "IPERF up \$(grep receiver /tmp/ip1 | awk '{ print \$7 }')"
	iperf3 -c $2 -p $iport -t 3 -f m -R > /tmp/ip2 2>&1 && echo "IPERF down \$(grep receiver /tmp/ip2 | awk '{ print \$7 }')"
fi
EOC
}
echo "# A: outsourced sockets (NIC-less guest)"
"$vm_run" -t 600 -s "$vm_server" -a hrpc.load=hostrpc_sock -f "$vm_tmp/sock-probe:/bin/sock-probe" \
	"${extra[@]:+${extra[@]}}" \
	"$(guest_run ":" 127.0.0.1)" > "$vm_tmp/a.out" 2> "$vm_tmp/a.err" || true
sed 's/^/#   /' "$vm_tmp/a.out"
echo "# B: virtio-net + QEMU user networking"
"$vm_run" -t 600 -S -g "$nicdir" -Q "-netdev user,id=n0 -device virtio-net-pci,netdev=n0" \
	-f "$vm_tmp/sock-probe:/bin/sock-probe" "${extra[@]:+${extra[@]}}" \
	"$(guest_run "ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2" 10.0.2.2)" \
	> "$vm_tmp/b.out" 2> "$vm_tmp/b.err" || true
sed 's/^/#   /' "$vm_tmp/b.out"

best() {	# best FILE -> MiB/s of the better wget
	awk -v mib="$mib" '/^WGET rc=0/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		d = v["t1"] - v["t0"]; if (d > 0 && (best == 0 || mib / d > best)) best = mib / d }
		END { if (best) printf "%.1f", best; else print "0" }' "$1"
}
rtt() { sed -n 's/^RESULT rtt PASS n=[0-9]* avg_us=\([0-9.]*\).*/\1/p' "$1" | head -n 1; }
ta=$(best "$vm_tmp/a.out") tb=$(best "$vm_tmp/b.out")
ra=$(rtt "$vm_tmp/a.out") rb=$(rtt "$vm_tmp/b.out")
printf '%-40s %12s %12s %8s\n' "" outsourced virtio-net ratio
printf '%-40s %12s %12s %8s\n' "wget $mib MiB from the host (MiB/s)" "$ta" "$tb" \
	"$(awk -v a="$ta" -v b="$tb" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "?" }')"
printf '%-40s %12s %12s %8s\n' "1-byte TCP round trip (us)" "${ra:-?}" "${rb:-?}" \
	"$(awk -v a="${ra:-0}" -v b="${rb:-0}" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "?" }')"
ip() { sed -n "s/^IPERF $1 \\([0-9.]*\\).*/\\1/p" "$2" | head -n 1; }
for dir in up down; do
	ia=$(ip $dir "$vm_tmp/a.out") ib=$(ip $dir "$vm_tmp/b.out")
	[ -n "$ia$ib" ] || continue
	printf '%-40s %12s %12s %8s\n' "iperf3 $([ $dir = up ] && echo guest-\>host || echo host-\>guest) (Mbit/s)" \
		"${ia:-?}" "${ib:-?}" \
		"$(awk -v a="${ia:-0}" -v b="${ib:-0}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "?" }')"
done
awk -v a="$ta" -v b="$tb" 'BEGIN { printf "goal: in-guest throughput >= 2x the emulated NIC: %s\n",
	(b > 0 && a >= 2 * b) ? "MET" : "NOT MET" }'
