#!/usr/bin/env bash
# sock-vm-bench - the socket benchmarks of issue 11 ("Sockets v2"): the same
# guest kernel with outsourced sockets and with an emulated NIC, in the same
# run, against the same host servers:
#
#   A: NIC-less guest, hostrpc_sock.ko, hostrpcd (ivshmem)  -> 127.0.0.1
#   B: same kernel, virtio-net on QEMU user networking     -> 10.0.2.2
#      (QEMU hands the guest's 10.0.2.2 to the host's 127.0.0.1)
#
#   host (127.0.0.1)                     guest (1 vCPU, TCG)
#   bench/sock-rr-server  TCP+UDP echo   <- bench/guest/sock-rr (static)
#   busybox httpd         16 MiB file    <- curl (the host's, with its libraries)
#   iperf3 -s                            <- iperf3 -c (the host's, with its libraries)
#
# Measurements, each guest in turn (RESULT/CURL/IPERF lines from the guest):
#   (a) rr:50:1   50 connections, 64-byte request / 64-byte reply, one in
#                 flight per connection: requests/s, p50/p99 latency
#   (b) rr:50:16  the same with 16 requests pipelined per connection
#   (c) tcp-pp, udp-pp  1-byte ping-pong: p50/p99 round trip
#   (d) curl of a 16 MiB file over HTTP (the better of two runs)
#   (e) iperf3 guest->host and host->guest
# Goals (issue 11), reported as MET / NOT MET, never enforced:
#   (a)(b) A >= 1.5x B in requests/s; (c) A's p50 <= 0.5x B's;
#   (d)(e) A >= 3x B.
# What A measures is the product's path with its defaults: hostrpc_sock.ko
# version 2 (each socket's bytes in data rings in the shared memory, a
# doorbell only where the other side asked, a blocking recv spinning a
# while first), served by the guest's hostrpcd worker (polling off on a
# host with fewer than 4 CPUs).  SOCK_BENCH_GUEST_ARGS=hostrpc_sock.v2=0
# measures version 1 (every send/recv a Host RPC call).
#
# Exit: 0 when every number was measured (whatever the goals say); 1 when a
# guest failed or a number is missing; 77 when a prerequisite is missing.
# Environment:
#   SOCK_BENCH_QUICK=1     smoke run (make check): 1 s per measurement,
#                          4 MiB download, iperf3 -t 1
#   SOCK_BENCH_SECS        seconds per measurement (default 5)
#   SOCK_BENCH_MIB         download size in MiB (default 16)
#   SOCK_BENCH_RESULTS=F   also write the numbers to F, one "KEY A B" line
#                          each ("-" = missing), and "guest-A RC"/"guest-B RC"
#   SOCK_BENCH_GUEST_ARGS  extra kernel command line of guest A (e.g.
#                          "hostrpc_sock.ring_kb=256" or "hostrpc_sock.v2=0")
set -euo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/vm/lib.sh"
vm_prepare
if [ "${SOCK_BENCH_QUICK:-0}" = 1 ]; then
	secs=${SOCK_BENCH_SECS:-1} mib=${SOCK_BENCH_MIB:-4} vm_timeout=180
else
	secs=${SOCK_BENCH_SECS:-5} mib=${SOCK_BENCH_MIB:-16} vm_timeout=600
fi
rr_server=${SOCK_BENCH_RR_SERVER:-$top_builddir/bench/sock-rr-server}
[ -x "$rr_server" ] || vm_skip "no $rr_server (make builds it)"
command -v busybox >/dev/null || vm_skip "busybox missing on the host (apt-get install busybox-static)"
command -v curl >/dev/null || vm_skip "curl missing on the host (apt-get install curl)"
command -v iperf3 >/dev/null || vm_skip "iperf3 missing on the host (apt-get install iperf3)"
${CC:-gcc} -static -O2 -std=gnu11 -o "$vm_tmp/sock-rr" "$top_srcdir/bench/guest/sock-rr.c" \
	2> "$vm_tmp/cc.log" || { cat "$vm_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (apt-get install libc6-dev)"; }

# The NIC guest: the same kernel, plus the virtio-net driver (one build at
# a time, as vm_prepare does for the main image).
nicdir=${HOSTRPC_GUEST_NIC_DIR:-$top_builddir/.guest-nic}
mkdir -p "$nicdir"
if [ ! -d "$nicdir/kernel" ] && [ -d "$HOSTRPC_GUEST_DIR/kernel" ]; then
	cp -a "$HOSTRPC_GUEST_DIR/kernel" "$HOSTRPC_GUEST_DIR/env" "$nicdir/"
fi
(
	command -v flock >/dev/null && flock 9
	"$top_srcdir/tools/guest-image" -d "$nicdir" -m failover -m net_failover -m virtio_net \
		-m virtio_pci build >&2
) 9> "$nicdir/.build-lock" || vm_skip "cannot build the NIC guest image"

# Dynamically linked host programs travel with their libraries (vm-run -f).
files=(-f "$vm_tmp/sock-rr:/bin/sock-rr")
vm_add_prog files "$(command -v curl)"
vm_add_prog files "$(command -v iperf3)"

pids=()
cleanup_bench() {
	local p
	for p in "${pids[@]:+${pids[@]}}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]:+${pids[@]}}"; do wait "$p" 2>/dev/null || true; done
	# guest A's hostrpcd left its fd holder (outside our session): release it
	[ "$vm_server_is_hostrpcd" != 1 ] ||
		"$vm_hostrpcd" --fdstore-release --state-dir="$vm_state" > /dev/null 2>&1 || true
	rm -rf "$vm_tmp"
}
trap cleanup_bench EXIT
"$rr_server" > "$vm_tmp/rr.log" 2>&1 &
pids+=($!)
wait_for 10 grep -qs '^READY port=' "$vm_tmp/rr.log" || { cat "$vm_tmp/rr.log" >&2; echo "sock-vm-bench: sock-rr-server did not start" >&2; exit 1; }
port=$(sed -n 's/^READY port=//p' "$vm_tmp/rr.log")
hport=$(vm_free_port) iport=$(vm_free_port)
[ "$iport" != "$hport" ] || iport=$((hport + 1))
mkdir -p "$vm_tmp/www"
head -c $((mib << 20)) /dev/zero > "$vm_tmp/www/big.bin"
busybox httpd -f -p "127.0.0.1:$hport" -h "$vm_tmp/www" &
pids+=($!)
iperf3 -s -B 127.0.0.1 -p "$iport" > "$vm_tmp/iperf.log" 2>&1 &
pids+=($!)
wait_for 10 eval "curl -sf -o /dev/null -r 0-0 http://127.0.0.1:$hport/big.bin" ||
	{ echo "sock-vm-bench: busybox httpd did not answer" >&2; exit 1; }
wait_for 10 eval "ss -ltn | grep -q ':$iport '" 2>/dev/null || true
# The built-in socket rules keep the host's loopback from a guest: allow it.
mkdir -p "$vm_tmp/conf"
echo "connect allow loopback" > "$vm_tmp/conf/default.conf"
vm_server="$vm_server --sock-policy-dir=$vm_tmp/conf"

guest_run() {	# guest_run SETUP HOST_IP: the measuring commands
	cat <<EOC
$1
fail=0
sock-rr -H $2 -p $port -t $secs rr:50:1 rr:50:16 tcp-pp udp-pp || fail=1
for i in 1 2; do
	curl -s --max-time 60 -o /dev/null -w 'CURL %{http_code} %{size_download} %{time_total}\n' http://$2:$hport/big.bin || fail=1
done
iperf3 --connect-timeout 10000 -c $2 -p $iport -t $secs -f m > /tmp/ip1 2>&1; rc=\$?; [ \$rc = 0 ] || fail=1
echo "IPERF up rc=\$rc \$(grep receiver /tmp/ip1 | awk '{ print \$7 }')"
iperf3 --connect-timeout 10000 -c $2 -p $iport -t $secs -f m -R > /tmp/ip2 2>&1; rc=\$?; [ \$rc = 0 ] || fail=1
echo "IPERF down rc=\$rc \$(grep receiver /tmp/ip2 | awk '{ print \$7 }')"
# the guest kernel's own account when something failed
[ \$fail = 0 ] || dmesg | tail -n 30 | sed 's/^/DMESG /'
EOC
}
kver=$(sed -n 's/^KVER=//p' "$HOSTRPC_GUEST_DIR/env" 2>/dev/null || echo "?")
echo "sock-vm-bench: guest kernel $kver, 1 vCPU, QEMU TCG; $secs s per measurement, $mib MiB download"
t0=$(date +%s)
rca=0
"$vm_run" -t "$vm_timeout" -s "$vm_server" -a "hrpc.load=hostrpc_sock ${SOCK_BENCH_GUEST_ARGS:-}" "${files[@]}" \
	-l "$vm_tmp/a.console" -L "$vm_tmp/a.server" \
	"$(guest_run ":" 127.0.0.1)" > "$vm_tmp/a.out" 2> "$vm_tmp/a.err" || rca=$?
echo "# A: outsourced sockets (NIC-less guest), exit $rca"
sed 's/^/#   /' "$vm_tmp/a.out"
[ "$rca" = 0 ] || sed 's/^/#   vm-run: /' "$vm_tmp/a.err"
t1=$(date +%s)
rcb=0
"$vm_run" -t "$vm_timeout" -S -g "$nicdir" -Q "-netdev user,id=n0 -device virtio-net-pci,netdev=n0" \
	"${files[@]}" -l "$vm_tmp/b.console" \
	"$(guest_run "ip link set lo up; ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2" 10.0.2.2)" \
	> "$vm_tmp/b.out" 2> "$vm_tmp/b.err" || rcb=$?
echo "# B: virtio-net + QEMU user networking, exit $rcb"
sed 's/^/#   /' "$vm_tmp/b.out"
[ "$rcb" = 0 ] || sed 's/^/#   vm-run: /' "$vm_tmp/b.err"
t2=$(date +%s)

# field FILE MODE KEY: KEY=value of the guest's passing RESULT line of MODE
field() {
	awk -v m="$2" -v k="$3" '$1 == "RESULT" && $2 == m && $3 == "PASS" {
		for (i = 4; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' "$1"
}
# curl_mbs FILE: MB/s of the better complete download
curl_mbs() {
	awk -v want=$((mib << 20)) '$1 == "CURL" && $2 == 200 && $3 == want && $4 > 0 {
		v = $3 / $4 / 1e6; if (v > best) best = v } END { if (best) printf "%.1f", best }' "$1"
}
iperf() { sed -n "s/^IPERF $1 rc=0 \\([0-9.][0-9.]*\\)\$/\\1/p" "$2" | head -n 1; }

# The rows: KEY|LABEL|A|B|GOAL, GOAL = ">=X" (A/B at least X), "<=X" (at most X) or "".
rows=()
row() { rows+=("$1|$2|${3:--}|${4:--}|${5:-}"); }
o_a=$vm_tmp/a.out o_b=$vm_tmp/b.out
rrrow() {	# rrrow KEY MODE LABEL
	row "$1-rps" "$3 (req/s)" "$(field "$o_a" "$2" rps)" "$(field "$o_b" "$2" rps)" ">=1.5"
	row "$1-p50" "    p50 latency (us)" "$(field "$o_a" "$2" p50_us)" "$(field "$o_b" "$2" p50_us)"
	row "$1-p99" "    p99 latency (us)" "$(field "$o_a" "$2" p99_us)" "$(field "$o_b" "$2" p99_us)"
}
rrrow a rr:50:1 "(a) 50 conns, 64 B request/reply"
rrrow b rr:50:16 "(b) the same, 16 pipelined per conn"
for p in tcp udp; do
	P=$(echo $p | tr a-z A-Z)
	row "c-$p-p50" "(c) 1-byte $P ping-pong p50 (us)" \
		"$(field "$o_a" $p-pp p50_us)" "$(field "$o_b" $p-pp p50_us)" "<=0.5"
	row "c-$p-p99" "    1-byte $P ping-pong p99 (us)" \
		"$(field "$o_a" $p-pp p99_us)" "$(field "$o_b" $p-pp p99_us)"
done
row d-curl "(d) curl $mib MiB over HTTP (MB/s)" "$(curl_mbs "$o_a")" "$(curl_mbs "$o_b")" ">=3"
row e-up "(e) iperf3 guest->host (Mbit/s)" "$(iperf up "$o_a")" "$(iperf up "$o_b")" ">=3"
row e-down "    iperf3 host->guest (Mbit/s)" "$(iperf down "$o_a")" "$(iperf down "$o_b")" ">=3"

missing=0 missing_a=0 missing_b=0
printf '%-44s %11s %11s %7s  %-8s %s\n' "" outsourced virtio-net ratio goal ""
for r in "${rows[@]}"; do
	IFS='|' read -r key label a b goal <<< "$r"
	[ "$a" != - ] || missing_a=$((missing_a + 1))
	[ "$b" != - ] || missing_b=$((missing_b + 1))
	[ "$a" != - ] && [ "$b" != - ] || missing=$((missing + 1))
	awk -v label="$label" -v a="$a" -v b="$b" -v goal="$goal" 'BEGIN {
		ok = (a != "-" && b != "-" && b + 0 > 0)
		ratio = ok ? sprintf("%.2fx", a / b) : "?"
		verdict = ""
		if (goal != "") {
			x = substr(goal, 3) + 0
			if (!ok)
				verdict = "MISSING"
			else if (substr(goal, 1, 2) == ">=")
				verdict = (a / b >= x) ? "MET" : "NOT MET"
			else
				verdict = (a / b <= x) ? "MET" : "NOT MET"
			goal = substr(goal, 1, 2) " " x "x"
		}
		printf "%-44s %11s %11s %7s  %-8s %s\n", label, a, b, ratio, goal, verdict }'
	[ -z "${SOCK_BENCH_RESULTS:-}" ] || echo "$key $a $b" >> "$SOCK_BENCH_RESULTS"
done
echo "ratio = outsourced / virtio-net (for latencies lower is better); guest A ran $((t1 - t0)) s, guest B $((t2 - t1)) s"
if [ -n "${SOCK_BENCH_RESULTS:-}" ]; then
	echo "guest-A $rca" >> "$SOCK_BENCH_RESULTS"
	echo "guest-B $rcb" >> "$SOCK_BENCH_RESULTS"
fi
# What the guest kernel and the host said, where something is missing.
if [ "$rca" != 0 ] || [ "$missing_a" != 0 ]; then
	echo "# A: guest console (tail):"
	tail -n 40 "$vm_tmp/a.console" 2>/dev/null | sed 's/^/#   /'
	echo "# A: hostrpcd (tail):"
	tail -n 40 "$vm_tmp/a.server" 2>/dev/null | sed 's/^/#   /'
fi
if [ "$rcb" != 0 ] || [ "$missing_b" != 0 ]; then
	echo "# B: guest console (tail):"
	tail -n 40 "$vm_tmp/b.console" 2>/dev/null | sed 's/^/#   /'
fi
if [ "$rca" != 0 ] || [ "$rcb" != 0 ] || [ "$missing" != 0 ]; then
	echo "sock-vm-bench: incomplete: guest A exit $rca, guest B exit $rcb, $missing rows missing a number" >&2
	exit 1
fi
