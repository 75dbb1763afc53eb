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
#     caller sleeps until the ring interrupt), poll (it spins up to the
#     configuration's guest spin first), async (the module's async API) -
#     then XEN_BENCH_MIB MiB in SINK calls of 1 MiB (copied into the
#     granted bulk area, read once by the worker, its sum answered and
#     checked).
#   libxenvchan (baseline): tests/vm/xen/vchan-bench.c, server in the domU
#     (64 KiB rings each way, libxenvchan's fast setting: ~1 MiB/s with its
#     default rings), client in dom0: XEN_BENCH_N round trips of 64 B,
#     then XEN_BENCH_MIB MiB streamed to the server, which sums them and
#     answers the sum (checked).  libxenvchan has only blocking waits.
#   the floor: the same tool's ping-server/ping-client, a bare event-channel
#     ping-pong between the same two domains (libxenevtchn, no ring, no
#     data): what a transport that sleeps until its peer's event pays per
#     round trip at least.  vchan/floor says how much of vchan's time such
#     a transport could save; only spinning (hostrpc's poll) goes below it,
#     and only where both sides have a CPU to spin on.
#
# Configurations, one boot each (XEN_BENCH_CONFIGS, space-separated
# SMP:HOSTRPCD_POLL:GUEST_SPIN, default "1:auto:50 2:2000:2000"):
#   1:auto:50     one QEMU vCPU, so one physical CPU under Xen: dom0 and the
#                 domU take turns, every round trip needs two event
#                 deliveries and no spin can help (the peer cannot run
#                 while you spin); hostrpcd's --poll=auto is off there.
#   2:2000:2000   two QEMU vCPUs: hostrpcd --poll=2000 (the worker spins up
#                 to 2 ms after each call before it sleeps) and the guest's
#                 poll wait spins up to 2 ms, so a round trip needs no event
#                 at all while both are spinning.
# A configuration whose dom0 is not up after 120 s is booted once more
# (with two vCPUs, dom0 has hung early in its boot under TCG: "Poking
# KASLR"); the retry is reported.
#
# Output: per configuration, one row per measurement and the ratios
# (vchan's time over hostrpc's for round trips, mean and p50; hostrpc's
# MiB/s over vchan's for bulk); FAILED lines when something did not run.
# Env: XEN_BENCH_N (500), XEN_BENCH_MIB (64), XEN_BENCH_CONFIGS,
# HOSTRPC_GUEST_DIR, HOSTRPC_GUEST_BUILD.
set -uo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/vm/xen/lib.sh"
n=${XEN_BENCH_N:-500}
mib=${XEN_BENCH_MIB:-64}
configs=${XEN_BENCH_CONFIGS:-1:auto:50 2:2000:2000}
vb=$top_builddir/tests/vm/xen/vchan-bench
[ -x "$vb" ] || xen_skip "no $vb (configure found no Xen libraries?)"
for c in $configs; do
	echo "$c" | grep -qE '^[1-9]:(auto|[0-9]+):[0-9]+$' ||
		{ echo "xen-bench: bad configuration '$c' (want SMP:HOSTRPCD_POLL:GUEST_SPIN)" >&2; exit 2; }
done
xen_prepare

kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }

# bench_config SMP POLL SPIN: one boot; prints its section, returns 1 when
# a row is missing.
bench_config() {
	local smp=$1 poll_us=$2 spin=$3 out try m r fail=0
	local irq poll async hb vc ev

	cat > "$xen_work/domu.sh" <<EOF
insmod /lib/modules/hostrpc_core.ko
i=0
while [ \$i -lt 300 ] && ! dmesg | grep -q 'hostrpc.*attached:'; do sleep 0.1; i=\$((i + 1)); done
echo "x-attached: \$(dmesg | grep -c 'hostrpc.*attached:')"
hrpc-echo -q -n $n -s 64 -p $spin -e 0 -l 65536 -B $mib | sed 's/^/x-echo: /'
echo "x-echo-done"
vchan-bench server 0 /local/domain/\$(xenstore-read domid)/data/vchan-bench $n $mib 65536 2>&1 | sed 's/^/x-vchan: /'
echo "x-vchan-done"
vchan-bench ping-server 0 /local/domain/\$(xenstore-read domid)/data/evtchn-ping $n 2>&1 | sed 's/^/x-ping: /'
echo "x-ping-done"
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
vchan-bench ping-client \$id /local/domain/\$id/data/evtchn-ping $n > /tmp/ping.out 2>&1
echo "ping client rc=\$?"
xen_domu_wait b1 '^x-ping-done' 120 || true
tr -d '\r' < \$log | sed -n 's/^x-echo: RESULT /BENCH hostrpc /p'
tr -d '\r' < \$log | grep -E '^x-echo: not ok|^x-vchan: |^x-ping: ' | sed 's/^/BENCH-DIAG /'
sed -n 's/^RESULT /BENCH /p' /tmp/vchan.out /tmp/ping.out
grep -hv '^RESULT' /tmp/vchan.out /tmp/ping.out | sed 's/^/BENCH-DIAG /'
kill %1 2> /dev/null
xl destroy b1
EOF

	for try in 1 2; do
		xen_run -t 400 -b 120 -c "$smp" -f "$vb:/bin/vchan-bench" -F "$vb:/bin/vchan-bench" \
			-u "$xen_work/domu.sh" "$xen_work/dom0.sh" || true
		[ "$xen_end" = boot-timeout ] || break
		echo "# dom0 was not up after 120 s (-smp $smp), booting once more; its last lines:"
		tr -d '\r' < "$xen_log" | tail -n 3 | sed 's/^/#   /'
	done
	out=$(tr -d '\r' < "$xen_log" | grep -a -E '^BENCH(-DIAG)? ')
	row() { echo "$out" | grep -a "^BENCH $1" | head -n 1; }
	irq=$(row "hostrpc latency mode=irq")
	poll=$(row "hostrpc latency mode=poll")
	async=$(row "hostrpc latency mode=async")
	hb=$(row "hostrpc bulk")
	vc=$(row "vchan")
	ev=$(row "evtchn")
	echo "## -smp $smp: hostrpcd --xen --poll=$poll_us, guest spin $spin us"
	echo "# boot: dom0 ready after ${xen_ready_secs:-?} s, run ${xen_secs:-?} s"
	printf '%-44s %10s %10s\n' "round trip, 64 B" "p50_us" "mean_us"
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
	if [ -n "$ev" ]; then
		printf '%-44s %10s %10s\n' "floor: bare event-channel ping-pong" "$(kv "$ev" p50_us)" "$(kv "$ev" mean_us)"
	else
		echo "FAILED event-channel floor: no result"; fail=1
	fi
	printf '%-44s %10s\n' "bulk, one way" "MiB/s"
	[ -n "$hb" ] && printf '%-44s %10s\n' "hostrpc (1 MiB SINK calls)" "$(kv "$hb" mib_s)" ||
		{ echo "FAILED hostrpc bulk: no result"; fail=1; }
	[ -n "$vc" ] && printf '%-44s %10s\n' "libxenvchan (64 KiB rings)" "$(kv "$vc" mib_s)"
	if [ "$fail" = 0 ]; then
		awk -v hi="$(kv "$irq" mean_us)" -v hp="$(kv "$poll" mean_us)" -v v="$(kv "$vc" mean_us)" \
		    -v hi5="$(kv "$irq" p50_us)" -v hp5="$(kv "$poll" p50_us)" -v v5="$(kv "$vc" p50_us)" \
		    -v f="$(kv "$ev" mean_us)" -v f5="$(kv "$ev" p50_us)" \
		    -v hb="$(kv "$hb" mib_s)" -v vb="$(kv "$vc" mib_s)" 'BEGIN {
			printf "ratio round trip vchan/hostrpc: %.2fx (irq), %.2fx (poll); p50: %.2fx (irq), %.2fx (poll)\n",
			       v / hi, v / hp, v5 / hi5, v5 / hp5
			printf "ratio round trip vchan/floor: %.2fx; p50: %.2fx\n", v / f, v5 / f5
			printf "ratio bulk hostrpc/vchan: %.2fx\n", hb / vb
		}'
	fi
	echo "$out" | grep -a '^BENCH-DIAG ' | grep -a -v '^BENCH-DIAG *$' | sed 's/^BENCH-DIAG /# /'
	if [ "$fail" != 0 ]; then
		xen_dump 40
		return 1
	fi
	return 0
}

echo "# Xen 4.17 under QEMU TCG, PV dom0 + PV domU; $n round trips of 64 B, $mib MiB bulk"
rc=0
for c in $configs; do
	IFS=: read -r smp poll_us spin <<< "$c"
	bench_config "$smp" "$poll_us" "$spin" || rc=1
done
exit $rc
