#!/bin/bash
# Host RPC on real Xen (Xen 4.17 under QEMU TCG): hostrpcd --xen in a PV
# dom0 serves PV domUs through the hostrpc xenbus device (grants + event
# channels, include/hostrpc/xen.h); the domUs run the same hostrpc_core.ko
# and hostrpc_sock.ko as QEMU guests, and guestrpcd --vchan for the
# guest-sourcing tools.
#
#   domU x1 (no vif)                      dom0
#   hrpc-echo ---- grants/evtchn ------>  hostrpcd --xen, worker of x1
#   busybox wget ---- hostrpc_sock ---->  busybox httpd 127.0.0.1:8080
#   mount -t hostrpcfs e ---- hostrpcfs ---> /srv/exp (export e)
#   guestrpcd --vchan <--- libxenvchan -- hostrpc-guest-exec / -guestmount xen:x1
#   domU forger: forges its request ring -> fenced alone, x1 unaffected
#   x1 destroyed while calling -> its worker and grants are freed
#
# The domUs take commands from dom0 through xenstore (data/hostrpc-test/cmd,
# "SEQ COMMAND"), answer on their console ("x-out SEQ: ..", "x-done SEQ rc=N").
. "$(dirname "$0")/lib.sh"
xen_prepare
plan=21
echo "1..$((plan + 1))"

cat > "$xen_work/domu.sh" <<'EOF'
name=$(xenstore-read name)
forge=""
[ "$name" = forger ] && forge="debug_forge=1"
insmod /lib/modules/hostrpc_core.ko $forge
i=0
while [ $i -lt 300 ] && ! dmesg | grep -q 'hostrpc.*attached:'; do sleep 0.1; i=$((i + 1)); done
echo "x-attached: $(dmesg | grep 'hostrpc.*attached:' | tail -n 1)"
insmod /lib/modules/hostrpc_sock.ko
seq=0
while :; do
	c=$(xenstore-read data/hostrpc-test/cmd 2> /dev/null)
	n=${c%% *}
	if [ -n "$c" ] && [ "$n" != "$seq" ]; then
		seq=$n
		echo "x-run $seq"
		sh -c "${c#* }" > /tmp/x.out 2>&1
		rc=$?
		sed "s/^/x-out $seq: /" /tmp/x.out
		echo "x-done $seq rc=$rc"
	fi
	sleep 0.2
done
EOF

cat > "$xen_work/dom0.sh" <<'EOF'
# x_run DOMU TIMEOUT COMMAND: run COMMAND in the domU, its output in /tmp/x.out;
# returns its exit status (124 if it did not finish in time).
x_seq=0
x_run() {
	local d=$1 t=$2 id log i=0
	shift 2
	x_seq=$((x_seq + 1))
	id=$(xen_domid $d)
	log=$(xen_domu_log $d)
	xenstore-write /local/domain/$id/data/hostrpc-test/cmd "$x_seq $*"
	while ! grep -q "^x-done $x_seq rc=" $log; do
		i=$((i + 1))
		[ $i -gt $((t * 5)) ] && { : > /tmp/x.out; return 124; }
		sleep 0.2
	done
	tr -d '\r' < $log | sed -n "s/^x-out $x_seq: //p" > /tmp/x.out
	return $(tr -d '\r' < $log | sed -n "s/^x-done $x_seq rc=//p" | head -n 1)
}
res() { sed -n "s/^RESULT $1 //p" /tmp/x.out | head -n 1; }
val() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ctl() { hostrpcctl --admin-socket=/run/hostrpc/admin.sock "$@"; }

mkdir -p /run/hostrpc /var/lib/hostrpc /etc/hostrpc/sock /etc/hostrpc/fs /srv/exp /mnt/x1
printf 'connect allow loopback\n' > /etc/hostrpc/sock/default.conf
printf 'export e /srv/exp ids=passthrough\n' > /etc/hostrpc/fs/default.conf
echo hello-from-dom0 > /srv/exp/fs.txt
head -c 8388608 /dev/urandom > /srv/big.bin
md5=$(md5sum /srv/big.bin | cut -d' ' -f1)
busybox httpd -p 127.0.0.1:8080 -h /srv
hostrpcd --foreground --verbose --xen --no-fdstore --no-process-guests \
	--admin-socket=/run/hostrpc/admin.sock --state-dir=/var/lib/hostrpc \
	--sock-policy-dir=/etc/hostrpc/sock --fs-policy-dir=/etc/hostrpc/fs > /tmp/hostrpcd.log 2>&1 &
hpid=$!
i=0
while [ $i -lt 100 ] && ! grep -q 'ready:' /tmp/hostrpcd.log; do sleep 0.1; i=$((i + 1)); done
grep -q 'ready:' /tmp/hostrpcd.log && xen_ok "hostrpcd --xen started in dom0" ||
	{ xen_notok "hostrpcd --xen started in dom0"; xen_diag "$(tail -n 20 /tmp/hostrpcd.log)"; }

xen_domu_start x1 || true
xen_domu_wait x1 '^x-attached: .*attached:' 120 && xen_ok "domU x1: hostrpc_core attached over the xenbus device" ||
	{ xen_notok "domU x1: hostrpc_core attached over the xenbus device"; xen_diag "$(tail -n 40 /tmp/hostrpcd.log)"; }
id1=$(xen_domid x1)
ctl list > /tmp/list 2>&1
grep -qE ' x1 +xen +negotiated' /tmp/list && xen_ok "hostrpcctl list: x1, transport xen, negotiated" ||
	{ xen_notok "hostrpcctl list: x1, transport xen, negotiated"; xen_diag "$(cat /tmp/list)"; }
be=$(xenstore-read /local/domain/0/backend/hostrpc/$id1/0/state 2>&1)
fe=$(xenstore-read /local/domain/$id1/device/hostrpc/0/state 2>&1)
[ "$be" = 4 ] && [ "$fe" = 4 ] && xen_ok "xenbus states: backend $be, frontend $fe (Connected)" ||
	xen_notok "xenbus states: backend $be, frontend $fe (want 4, 4)"

# Echo: every byte of inline and bulk payloads, 0 B .. 1 MiB, three wait modes.
x_run x1 240 hrpc-echo -n 300 -e 50 -l 1048576 -B 16
rc=$?
[ $rc = 0 ] && grep -q 'RESULT integrity=PASS' /tmp/x.out &&
	xen_ok "echo integrity over grants + event channels: inline 0..64 KiB, bulk 1 B..1 MiB, events" ||
	{ xen_notok "echo integrity over grants + event channels (rc $rc)"; xen_diag "$(grep -v '^ok' /tmp/x.out | tail -n 20)"; }
xen_diag "$(grep RESULT /tmp/x.out)"
lat=$(res "latency mode=irq")
bulk=$(res bulk)
[ -n "$lat" ] && [ -n "$bulk" ] && xen_ok "echo latency (irq): p50 $(val "$lat" p50_us) us, mean $(val "$lat" mean_us) us; bulk $(val "$bulk" mib_s) MiB/s" ||
	xen_notok "echo latency and bulk measured"

# An outsourced socket: x1 has no network device at all.
x_run x1 240 'ls /sys/class/net | tr "\n" " "; echo; wget -q -O /tmp/big.bin http://127.0.0.1:8080/big.bin && md5sum /tmp/big.bin'
rc=$?
grep -q "$md5" /tmp/x.out && ! grep -q eth /tmp/x.out &&
	xen_ok "x1 (no vif) downloads 8 MiB from dom0's httpd through hostrpc_sock, checksum equal" ||
	{ xen_notok "x1 downloads 8 MiB through hostrpc_sock (rc $rc)"; xen_diag "$(cat /tmp/x.out)"; }

# A dom0 directory as a domU filesystem (hostrpcfs.ko, unchanged from QEMU guests).
x_run x1 120 'insmod /lib/modules/hostrpcfs.ko; mkdir -p /tmp/m && mount -t hostrpcfs e /tmp/m && cat /tmp/m/fs.txt && echo from-domU > /tmp/m/back.txt && umount /tmp/m'
rc=$?
[ $rc = 0 ] && grep -q hello-from-dom0 /tmp/x.out && [ "$(cat /srv/exp/back.txt 2>&1)" = from-domU ] &&
	xen_ok "x1 mounts dom0's export (hostrpcfs): reads dom0's file, writes one dom0 reads" ||
	{ xen_notok "x1 mounts dom0's export (rc $rc)"; xen_diag "$(cat /tmp/x.out)" "$(grep -i 'fs\|sandbox' /tmp/hostrpcd.log | tail -n 5)"; }

# Guest-sourcing over libxenvchan.
x_run x1 30 'guestrpcd --vchan > /tmp/guestrpcd.log 2>&1 & sleep 1; xenstore-ls data | grep -c hostrpc-guestrpc'
i=0
while [ $i -lt 100 ] && ! xenstore-read /local/domain/$id1/data/hostrpc-guestrpc/0/event-channel > /dev/null 2>&1 &&
      ! xenstore-ls /local/domain/$id1/data 2> /dev/null | grep -q event-channel; do sleep 0.2; i=$((i + 1)); done
timeout 60 hostrpc-guest-exec xen:x1 -- cat /proc/sys/kernel/hostname /sys/hypervisor/type > /tmp/gx.out 2> /tmp/gx.err
rc=$?
grep -q xen /tmp/gx.out && [ $rc = 0 ] && xen_ok "hostrpc-guest-exec xen:x1 runs a command in the domU over vchan" ||
	{ xen_notok "hostrpc-guest-exec xen:x1 (rc $rc)"; xen_diag "$(cat /tmp/gx.out /tmp/gx.err)"; }
timeout 60 hostrpc-guest-exec xen:$id1 -- sh -c 'exit 7'
rc=$?
[ $rc = 7 ] && xen_ok "hostrpc-guest-exec xen:$id1 (by id): the command's exit status 7" ||
	xen_notok "hostrpc-guest-exec xen:$id1: exit status $rc, want 7"
hostrpc-guestmount -f xen:x1 / /mnt/x1 > /tmp/gm.log 2>&1 &
gmpid=$!
i=0
while [ $i -lt 150 ] && ! grep -q ' /mnt/x1 ' /proc/mounts; do sleep 0.2; i=$((i + 1)); done
head -c 3145728 /dev/urandom > /tmp/copy.bin
cmd5=$(md5sum /tmp/copy.bin | cut -d' ' -f1)
cp /tmp/copy.bin /mnt/x1/tmp/copy.bin 2> /tmp/cp.err && sync
x_run x1 60 md5sum /tmp/copy.bin
grep -q "$cmd5" /tmp/x.out && xen_ok "hostrpc-guestmount xen:x1: 3 MiB copied into the domU's /tmp, checksum equal in the domU" ||
	{ xen_notok "hostrpc-guestmount xen:x1 file copy"; xen_diag "$(cat /tmp/gm.log /tmp/cp.err /tmp/x.out)"; }
ls /mnt/x1/lib/modules > /tmp/ls.out 2>&1
grep -q hostrpc_core.ko /tmp/ls.out && xen_ok "the mount lists the domU's /lib/modules" ||
	{ xen_notok "the mount lists the domU's /lib/modules"; xen_diag "$(cat /tmp/ls.out)"; }
fusermount3 -u /mnt/x1 2> /dev/null || umount /mnt/x1
wait $gmpid
rc=$?
[ $rc = 0 ] && xen_ok "hostrpc-guestmount exited 0 after the unmount" ||
	{ xen_notok "hostrpc-guestmount exited 0 after the unmount ($rc)"; xen_diag "$(tail -n 5 /tmp/gm.log)"; }

# A domU that forges its ring is fenced; x1 goes on.
xen_domu_start forger || true
xen_domu_wait forger '^x-attached: .*attached:' 120 || true
x_run forger 60 'hrpc-forge prod; i=0; while [ $i -lt 200 ]; do hrpc-echo -q -n 0 -e 0 -l 1 > /dev/null 2>&1 && { echo AGAIN; break; }; i=$((i + 1)); sleep 0.1; done'
grep -q 'forger.*fenced' /tmp/hostrpcd.log && grep -q AGAIN /tmp/x.out &&
	xen_ok "forger's forged prod index fenced its channel; it got a fresh worker and calls work again" ||
	{ xen_notok "forger fenced and back"; xen_diag "$(cat /tmp/x.out)" "$(grep forger /tmp/hostrpcd.log | tail -n 10)"; }
x_run x1 120 hrpc-echo -q -n 50 -e 0 -l 65536
[ $? = 0 ] && ! grep -q 'x1.*fenced' /tmp/hostrpcd.log && xen_ok "x1 unaffected: echo still intact, never fenced" ||
	{ xen_notok "x1 unaffected by forger"; xen_diag "$(tail -n 10 /tmp/x.out)"; }
xl destroy forger
xen_domu_gone forger 20

# x1 destroyed in the middle of calls.
x_run x1 10 'hrpc-echo -q -n 100000000 -e 0 -l 1 > /dev/null 2>&1 & echo started'
sleep 3
wpid=$(sed -n 's/.*(x1).*worker \([0-9]*\).*/\1/p' /tmp/hostrpcd.log | tail -n 1)
xl destroy x1
xen_domu_gone x1 30 && xen_ok "xl destroy x1 during calls: the domain is gone (no grant left mapped holds it)" ||
	{ xen_notok "x1 gone after xl destroy"; xen_diag "$(xl list 2>&1)"; }
i=0
while [ $i -lt 50 ] && [ -n "$wpid" ] && [ -d /proc/$wpid ]; do sleep 0.2; i=$((i + 1)); done
[ -n "$wpid" ] && [ ! -d /proc/$wpid ] && xen_ok "x1's worker ($wpid) ended" || xen_notok "x1's worker ($wpid) ended"
xenstore-ls /local/domain/0/backend/hostrpc > /tmp/be 2>&1
ctl list > /tmp/list 2>&1
! grep -q "^$id1 " /tmp/be && ! grep -q ' x1 ' /tmp/list &&
	xen_ok "its backend directory and guest entry are gone" ||
	{ xen_notok "its backend directory and guest entry are gone"; xen_diag "$(cat /tmp/be /tmp/list)"; }
kill -0 $hpid && xen_ok "hostrpcd still runs" || xen_notok "hostrpcd still runs"
kill $hpid; wait $hpid
xen_ok "hostrpcd exited on SIGTERM (status $?)"
grep -q 'CRITICAL\|assertion' /tmp/hostrpcd.log && { xen_notok "no critical messages in hostrpcd's log"; xen_diag "$(grep -B2 -A2 'CRITICAL\|assertion' /tmp/hostrpcd.log)"; } ||
	xen_ok "no critical messages in hostrpcd's log"
xen_diag "$(tail -n 15 /tmp/hostrpcd.log)"
EOF

xen_run -t 600 -u "$xen_work/domu.sh" "$xen_work/dom0.sh"
xen_report $plan
xen_finish
