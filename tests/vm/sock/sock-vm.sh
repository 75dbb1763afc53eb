#!/usr/bin/env bash
# VM test: a guest with no network device (QEMU -nic none) loads
# hostrpc_sock.ko and its unmodified programs use the host's TCP/IP stack:
#
#   guest (no NIC)                               host (hostrpcd worker)
#   busybox wget ----\                           busybox httpd 127.0.0.1:H
#   sock-probe -------+-- ivshmem / Host RPC --> host-echo.py 127.0.0.1:P, [::1]:P
#   busybox httpd <--/                           busybox wget 127.0.0.1:G (from the host)
#
# The module runs version 2 (data rings per socket, its default);
# SOCK_VM_V2=0 checks version 1 (every send/recv a call), which make check
# runs too (tests/vm/sock/sock-vm-v1.sh).
#
# Checks: wget of a 16 MiB file (checksum), a server inside the guest reached
# from the host, TCP/UDP echo over IPv4 and IPv6, poll/epoll/select,
# non-blocking connect to a closed port -> ECONNREFUSED via SO_ERROR, a
# destination the guest's policy denies (EACCES + host audit log), 200
# concurrent connections, a blocked recv interrupted by a signal,
# SO_RCVTIMEO, shutdown waking a blocked accept, close racing a blocked recv,
# dup/fork sharing, unsupported types, buffer semantics (partial writes,
# back-pressure from a reader that does not read, a reader that never reads,
# MSG_PEEK, MSG_WAITALL, SO_RCVLOWAT, FIONREAD, MSG_OOB, shutdown(SHUT_WR)
# after a large write, EPIPE/SIGPIPE, UDP MSG_TRUNC), close semantics
# (SO_LINGER with a timeout and 0, every byte delivered after a close without
# it, a server restarting on its port with SO_REUSEADDR) and no kernel
# warnings.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
command -v python3 >/dev/null || vm_skip "python3 missing (apt-get install python3)"
command -v busybox >/dev/null || vm_skip "busybox missing (apt-get install busybox-static)"
srcd=$top_srcdir/tests/vm/sock
${CC:-gcc} -static -O2 -std=gnu11 -pthread -I "$top_srcdir/include" -o "$vm_tmp/sock-probe" "$srcd/guest/sock-probe.c" \
	2> "$vm_tmp/cc.log" || { cat "$vm_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (apt-get install libc6-dev)"; }

port=$((20000 + RANDOM % 12000))   # below the ephemeral ports (32768-)
hport=$((port + 2)) gport=$((port + 3)) dport=$((port + 4)) iport=$((port + 5))

# Unmodified dynamically linked programs too: curl and iperf3 with their
# libraries (vm-run -f), when the host has them.
extra=()
have_curl=0 have_iperf=0
command -v curl >/dev/null && { vm_add_prog extra "$(command -v curl)"; have_curl=1; }
command -v iperf3 >/dev/null && { vm_add_prog extra "$(command -v iperf3)"; have_iperf=1; }
pids=()
cleanup_sock() { for p in "${pids[@]:+${pids[@]}}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$vm_tmp"; }
trap cleanup_sock EXIT

python3 "$srcd/host-echo.py" "$port" > "$vm_tmp/echo.log" 2>&1 &
pids+=($!)
mkdir -p "$vm_tmp/www" "$vm_tmp/conf"
head -c $((16 << 20)) /dev/urandom > "$vm_tmp/www/big.bin"
want=$(sha256sum "$vm_tmp/www/big.bin" | cut -d' ' -f1)
busybox httpd -f -p "127.0.0.1:$hport" -h "$vm_tmp/www" &
pids+=($!)
if [ "$have_iperf" = 1 ]; then
	iperf3 -s -B 127.0.0.1 -p "$iport" > "$vm_tmp/iperf.log" 2>&1 &
	pids+=($!)
fi
wait_for 5 grep -qs READY "$vm_tmp/echo.log"
# The guest's policy (hostrpcd reads <conf>/default.conf for every guest):
# the host's servers are on its loopback, which the built-in rules keep
# from a guest without a policy; 127.0.0.3 stays denied (the "denied" probe).
printf 'connect deny 127.0.0.3\nconnect allow loopback\n' > "$vm_tmp/conf/default.conf"
vm_server="$vm_server --sock-policy-dir=$vm_tmp/conf"

# sock-probe's checks, one TAP line each.
probes="raw poll epoll select udp udp6 v6 nbrefused denied many sigrecv rcvtimeo
	shutdown-accept nonblock options getname close-race share
	partial backpressure neverread peek waitall rcvlowat fionread oob shutwr epipe udptrunc
	linger closeflush rebind closemany udprefused reuseport"
guest_cmd="
dmesg | grep hostrpc_sock
sock-probe -p $port -n 200 -d 127.0.0.3 $(echo $probes)
t0=\$(cut -d' ' -f1 /proc/uptime)
wget -q -O /tmp/big.bin http://127.0.0.1:$hport/big.bin; rc=\$?
t1=\$(cut -d' ' -f1 /proc/uptime)
echo \"WGET rc=\$rc sum=\$(sha256sum /tmp/big.bin | cut -d' ' -f1) t0=\$t0 t1=\$t1\"
rm -f /tmp/big.bin
[ -x /bin/curl ] && curl -s -o /dev/null -w 'CURL %{http_code} %{size_download} %{speed_download}\\n' http://127.0.0.1:$hport/big.bin
if [ -x /bin/iperf3 ]; then
	iperf3 -c 127.0.0.1 -p $iport -t 2 -f m > /tmp/ip1 2>&1; echo \"IPERF up rc=\$? \$(grep receiver /tmp/ip1 | awk '{ print \$7, \$8 }')\"
	iperf3 -c 127.0.0.1 -p $iport -t 2 -f m -R > /tmp/ip2 2>&1; echo \"IPERF down rc=\$? \$(grep receiver /tmp/ip2 | awk '{ print \$7, \$8 }')\"
fi
mkdir -p /tmp/www && echo 'hello from the guest' > /tmp/www/index.html
httpd -p 127.0.0.1:$gport -h /tmp/www
echo GUEST-HTTPD-READY
timeout 60 nc -l -p $dport > /tmp/done
echo \"HOSTDONE \$(cat /tmp/done)\"
echo \"dmesg-problems: \$(dmesg | grep -cE 'BUG|WARNING|Oops|general protection|refcount_t')\"
"
host_cmd="busybox wget -q -O $vm_tmp/fromguest http://127.0.0.1:$gport/index.html;
$top_builddir/hostrpc/daemon/hostrpcctl --admin-socket $vm_tmp/admin.sock sockets guest > $vm_tmp/ctl-sockets 2>&1;
python3 -c 'import socket,sys; s=socket.create_connection((\"127.0.0.1\", $dport)); s.sendall(b\"fetched\\n\")'"

# The probes and 10 checks around them, declared before anything runs.
echo "1..$(($(echo $probes | wc -w) + 10))"
rc=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-400}" -m 512 -s "$vm_server" \
	-a "hrpc.load=hostrpc_sock hostrpc_sock.v2=${SOCK_VM_V2:-1}" \
	-f "$vm_tmp/sock-probe:/bin/sock-probe" "${extra[@]:+${extra[@]}}" \
	-l "$vm_tmp/console" -L "$vm_tmp/server" \
	-e "$host_cmd" -E GUEST-HTTPD-READY \
	"$guest_cmd" > "$vm_tmp/out" 2> "$vm_tmp/err" || rc=$?
sed 's/^/# /' "$vm_tmp/out"
sed 's/^/# vm-run: /' "$vm_tmp/err"
echo "# data path: $(grep -o 'host sockets ready (version [0-9]*[^)]*' "$vm_tmp/out" | head -1)"

# Every check is reported, a failing one too (no set -e from here on).
set +e
n=0
t() { n=$((n + 1)); tap "$n" "$1" "$2"; }
grep -q 'AF_INET and AF_INET6 sockets are now served by the host' "$vm_tmp/out"
t $? "hostrpc_sock.ko took over AF_INET/AF_INET6 in a guest without a NIC"
for c in $probes; do
	line=$(grep -m1 "^RESULT $c " "$vm_tmp/out" || echo "RESULT $c FAIL (no result)")
	echo "$line" | grep -q "^RESULT $c PASS"
	t $? "$c: ${line#RESULT $c PASS }"
done
w=$(grep -m1 '^WGET ' "$vm_tmp/out" || true)
echo "$w" | grep -q "rc=0 sum=$want"
st=$?
mbs=$(echo "$w" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	d = v["t1"] - v["t0"]; if (d > 0) printf "%.1f", 16 / d; else print "?" }')
t $st "busybox wget of a 16 MiB file from the host, checksum equal ($mbs MiB/s)"
if [ "$have_curl" = 1 ]; then
	c=$(grep -m1 '^CURL ' "$vm_tmp/out" || true)
	echo "$c" | grep -q "^CURL 200 $((16 << 20)) "
	t $? "curl (dynamically linked) downloads 16 MiB ($(echo "$c" | awk '{ printf "%.1f MB/s", $4 / 1e6 }'))"
else
	n=$((n + 1)); echo "ok $n # SKIP curl missing on the host (apt-get install curl)"
fi
if [ "$have_iperf" = 1 ]; then
	up=$(grep -m1 '^IPERF up rc=0 ' "$vm_tmp/out" || true)
	down=$(grep -m1 '^IPERF down rc=0 ' "$vm_tmp/out" || true)
	[ -n "$up" ] && [ -n "$down" ]
	t $? "iperf3 guest->host ${up#IPERF up rc=0 }, host->guest ${down#IPERF down rc=0 }"
else
	n=$((n + 1)); echo "ok $n # SKIP iperf3 missing on the host (apt-get install iperf3)"
fi
grep -q 'hello from the guest' "$vm_tmp/fromguest" 2>/dev/null && grep -q '^HOSTDONE fetched' "$vm_tmp/out"
t $? "a server inside the guest (busybox httpd) reached from the host"
grep -q 'connect 127.0.0.3:.* denied by policy' "$vm_tmp"/state/sock-audit/*.sock.log 2>/dev/null
t $? "the denial is in the host's audit log"
sed 's/^/# hostrpcctl sockets guest: /' "$vm_tmp/ctl-sockets" 2>/dev/null || true
grep -q "^POLICY $vm_tmp/conf/default.conf" "$vm_tmp/ctl-sockets" 2>/dev/null &&
	grep -Eq "listening +127\.0\.0\.1:$gport " "$vm_tmp/ctl-sockets"
t $? "hostrpcctl sockets guest: the worker's policy and the guest's listening server"
[ -z "$(find "$vm_tmp/state" -name '*.sockets*' 2>/dev/null)" ]
t $? "no socket listing file in the state directory"
grep -q '^dmesg-problems: 0$' "$vm_tmp/out"
t $? "no kernel warning, BUG or oops"
[ "$rc" = 0 ]
t $? "guest exit status $rc"
if [ "$rc" != 0 ]; then
	echo "# ---- console (tail) ----"
	tail -n 40 "$vm_tmp/console" 2>/dev/null | sed 's/^/# /'
	echo "# ---- server (tail) ----"
	tail -n 20 "$vm_tmp/server" 2>/dev/null | sed 's/^/# /'
fi
