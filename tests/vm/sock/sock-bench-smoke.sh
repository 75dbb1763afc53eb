#!/usr/bin/env bash
# VM test: the socket benchmarks of issue 11 run, in their quick mode
# (bench/sock-vm-bench.sh with SOCK_BENCH_QUICK=1: 1 s per measurement, a
# 4 MiB download, iperf3 -t 1), so that CI runs them on every change:
#
#   A: NIC-less guest, hostrpc_sock.ko, hostrpcd (ivshmem)  \   sock-rr-server,
#   B: same kernel, virtio-net on QEMU user networking      /   httpd, iperf3 -s
#
# Passes when both guests ran and every number of the table was measured:
# 50-connection request/reply (plain and pipelined), TCP and UDP ping-pong,
# curl over HTTP, iperf3 both ways.  The goals are not checked here (a quick
# run on a busy machine says little): the table, with MET / NOT MET, is
# printed as diagnostics.  Skips (exit 77) when the benchmark cannot run:
# no guest image, no curl, iperf3 or busybox on the host.
set -uo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
rows="a-rps a-p50 a-p99 b-rps b-p50 b-p99 c-tcp-p50 c-tcp-p99 c-udp-p50 c-udp-p99 d-curl e-up e-down"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sock-bench-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

t0=$(date +%s)
rc=0
SOCK_BENCH_QUICK=1 SOCK_BENCH_RESULTS=$tmp/results \
	bash "$top_srcdir/bench/sock-vm-bench.sh" > "$tmp/out" 2> "$tmp/err" || rc=$?
t1=$(date +%s)
if [ "$rc" = 77 ]; then
	grep -m1 '^1\.\.0 # SKIP' "$tmp/out" || echo "1..0 # SKIP the benchmark cannot run here"
	exit 77
fi

echo "1..$((2 + $(echo $rows | wc -w)))"
sed 's/^/# /' "$tmp/out"
[ "$rc" = 0 ] || sed 's/^/# stderr: /' "$tmp/err"
echo "# the quick benchmark took $((t1 - t0)) s (exit $rc)"
n=0
t() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
get() { awk -v k="$1" '$1 == k { print $2, $3; exit }' "$tmp/results" 2> /dev/null; }
for g in A B; do
	st=$(get "guest-$g" | awk '{ print $1 }')
	[ "$st" = 0 ]
	t $? "guest $g ($([ $g = A ] && echo outsourced sockets || echo virtio-net)) booted and ran the benchmark (exit ${st:-none})"
done
for k in $rows; do
	v=$(get "$k")
	read -r a b <<< "$v"
	[ -n "${a:-}" ] && [ "$a" != - ] && [ -n "${b:-}" ] && [ "$b" != - ]
	t $? "$k measured in both guests (outsourced ${a:-none}, virtio-net ${b:-none})"
done
