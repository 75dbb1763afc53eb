#!/usr/bin/env bash
# bench/xen-bench.sh - the Xen transport's benchmark (issue 16 item 5): Host
# RPC between a PV domU and hostrpcd in dom0 against libxenvchan's own
# client/server pair, in the same boot of real Xen 4.17 under QEMU TCG
# (tests/vm/xen/lib.sh: Xen + PV dom0 + one PV domU, the Debian 6.1 kernel).
#
#   hostrpc (the product's path): hostrpcd --xen in dom0, the domU's
#     hostrpc_core.ko attached through the hostrpc xenbus device (granted
#     pages, event channels), the worker serving the echo service.  In the
#     domU, hrpc-echo (tests/vm/guest/hrpc-echo.c): XEN_BENCH_N PINGs of
#     64 B, timed each (CLOCK_MONOTONIC) in three wait modes - irq (the
#     caller sleeps until the ring interrupt), poll (it spins up to 50 us
#     first), async (the module's async API) - then XEN_BENCH_MIB MiB in
#     SINK calls of 1 MiB (copied into the granted bulk area, read once by
#     the worker, its sum answered and checked).
#   libxenvchan (baseline): tests/vm/xen/vchan-bench.c, server in the domU
#     (64 KiB rings each way, libxenvchan's fast setting: ~1 MiB/s with its
#     default rings), client in dom0: XEN_BENCH_N round trips of 64 B,
#     then XEN_BENCH_MIB MiB streamed to the server, which sums them and
#     answers the sum (checked).
# Both run with blocking waits (libxenvchan_wait / the ring interrupt);
# hostrpc's "poll" row is its bounded spin, which vchan does not have.
#
# Output: one row per measurement and the ratios (vchan's time over
# hostrpc's for round trips, hostrpc's MiB/s over vchan's for bulk);
# FAILED lines when something did not run.  Env: XEN_BENCH_N (500),
# XEN_BENCH_MIB (64), XEN_BENCH_SMP (QEMU vCPUs, 1: with 2, dom0 sometimes
# hangs early in its boot under TCG, and on this 2-core machine it was no
# faster), XEN_BENCH_POLL (hostrpcd --poll, default auto: off on a dom0
# with fewer than 4 vCPUs), HOSTRPC_GUEST_DIR, HOSTRPC_GUEST_BUILD.
set -uo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/vm/xen/lib.sh"
n=${XEN_BENCH_N:-500}
mib=${XEN_BENCH_MIB:-64}
smp=${XEN_BENCH_SMP:-1}
poll_us=${XEN_BENCH_POLL:-auto}
vb=$top_builddir/tests/vm/xen/vchan-bench
[ -x "$vb" ] || xen_skip "no $vb (configure found no Xen libraries?)"
xen_prepare

cat > "$xen_work/domu.sh" <<EOF
insmod /lib/modules/hostrpc_core.ko
i=0
while [ \$i -lt 300 ] && ! dmesg | grep -q 'hostrpc.*attached:'; do sleep 0.1; i=\$((i + 1)); done
echo "x-attached: \$(dmesg | grep -c 'hostrpc.*attached:')"
hrpc-echo -q -n $n -s 64 -p 50 -e 0 -l 65536 -B $mib | sed 's/^/x-echo: /'
echo "x-echo-done"
vchan-bench server 0 /local/domain/\$(xenstore-read domid)/data/vchan-bench $n $mib 65536 2>&1 | sed 's/^/x-vchan: /'
echo "x-vchan-done"
EOF

cat > "$xen_work/dom0.sh" <<EOF
mkdir -p /run/hostrpc /var/lib/hostrpc
hostrpcd --foreground --xen --no-fdstore --no-process-guests --poll=$poll_us \\
	--admin-socket=/run/hostrpc/admin.sock --state-dir=/var/lib/hostrpc > /tmp/hostrpcd.log 2>&1 &
i=0
while [ \$i -lt 100 ] && ! grep -q 'ready:' /tmp/hostrpcd.log; do sleep 0.1; i=\$((i + 1)); done
xen_domu_start b1 || true
log=\$(xen_domu_log b1)
xen_domu_wait b1 '^x-echo-done' 600 || true
hostrpcctl --admin-socket=/run/hostrpc/admin.sock stats b1 2>&1 | sed 's/^/BENCH-DIAG hostrpcctl stats: /'
id=\$(xen_domid b1)
i=0
while [ \$i -lt 300 ] && ! xenstore-read /local/domain/\$id/data/vchan-bench/event-channel > /dev/null 2>&1; do sleep 0.1; i=\$((i + 1)); done
vchan-bench client \$id /local/domain/\$id/data/vchan-bench $n $mib > /tmp/vchan.out 2>&1
echo "vchan client rc=\$?"
xen_domu_wait b1 '^x-vchan-done' 120 || true
tr -d '\r' < \$log | sed -n 's/^x-echo: RESULT /BENCH hostrpc /p'
tr -d '\r' < \$log | grep -E '^x-echo: not ok|^x-vchan: ' | sed 's/^/BENCH-DIAG /'
sed -n 's/^RESULT /BENCH /p' /tmp/vchan.out
grep -v '^RESULT' /tmp/vchan.out | sed 's/^/BENCH-DIAG /'
kill %1 2> /dev/null
xl destroy b1
EOF

xen_run -t 400 -c "$smp" -f "$vb:/bin/vchan-bench" -F "$vb:/bin/vchan-bench" \
	-u "$xen_work/domu.sh" "$xen_work/dom0.sh" || true
out=$(tr -d '\r' < "$xen_log" | grep -a -E '^BENCH(-DIAG)? ')
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
row() { echo "$out" | grep -a "^BENCH $1" | head -n 1; }
irq=$(row "hostrpc latency mode=irq")
poll=$(row "hostrpc latency mode=poll")
async=$(row "hostrpc latency mode=async")
hb=$(row "hostrpc bulk")
vc=$(row "vchan")
echo "# Xen 4.17 under QEMU TCG (-smp $smp), PV dom0 + PV domU; $n round trips of 64 B, $mib MiB bulk"
echo "# hostrpcd --xen --poll=$poll_us"
echo "# boot: dom0 ready after ${xen_ready_secs:-?} s, run ${xen_secs:-?} s"
printf '%-44s %10s %10s\n' "round trip, 64 B" "p50_us" "mean_us"
fail=0
for m in irq poll async; do
	r=$(eval echo "\$$m")
	if [ -n "$r" ]; then
		printf '%-44s %10s %10s\n' "hostrpc echo ($m)" "$(kv "$r" p50_us)" "$(kv "$r" mean_us)"
	else
		echo "FAILED hostrpc echo ($m): no result"; fail=1
	fi
done
if [ -n "$vc" ]; then
	printf '%-44s %10s %10s\n' "libxenvchan (64 KiB rings)" "$(kv "$vc" p50_us)" "$(kv "$vc" mean_us)"
else
	echo "FAILED libxenvchan: no result"; fail=1
fi
printf '%-44s %10s\n' "bulk, one way" "MiB/s"
[ -n "$hb" ] && printf '%-44s %10s\n' "hostrpc (1 MiB SINK calls)" "$(kv "$hb" mib_s)" ||
	{ echo "FAILED hostrpc bulk: no result"; fail=1; }
[ -n "$vc" ] && printf '%-44s %10s\n' "libxenvchan (64 KiB rings)" "$(kv "$vc" mib_s)"
if [ "$fail" = 0 ]; then
	awk -v hi="$(kv "$irq" mean_us)" -v hp="$(kv "$poll" mean_us)" -v v="$(kv "$vc" mean_us)" \
	    -v hb="$(kv "$hb" mib_s)" -v vb="$(kv "$vc" mib_s)" 'BEGIN {
		printf "ratio round trip vchan/hostrpc: %.2fx (irq), %.2fx (poll)\n", v / hi, v / hp
		printf "ratio bulk hostrpc/vchan: %.2fx\n", hb / vb
	}'
fi
echo "$out" | grep -a '^BENCH-DIAG ' | grep -a -v '^BENCH-DIAG *$' | sed 's/^BENCH-DIAG /# /'
if [ "$fail" != 0 ]; then
	xen_dump 40
	exit 1
fi
exit 0
