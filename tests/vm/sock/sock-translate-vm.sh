#!/usr/bin/env bash
# VM test: IPv4/IPv6 translation in the host's socket service.  A guest with
# no network device (QEMU -nic none) loads hostrpc_sock.ko; its unmodified
# programs use the host's stack, and the guest's policy translates:
#
#   guest (no NIC)                                   host (hostrpcd worker)
#   xlat-probe AF_INET   10.64.0.1:P6 ---------+     services on [::1]:P6 only
#     translate 10.64.0.1 -> ::1               +---> (IPV6_V6ONLY), TCP + UDP
#   xlat-probe AF_INET6, IPV6_V6ONLY            |
#     [64:ff9b::7f00:1]:P4   (translate nat64) -+---> services on 127.0.0.1:P4
#     [::ffff:127.0.0.1]:P4  (translate mapped)       only, TCP + UDP
#
# Each host service greets a client with its own family and the peer it saw
# ("v6 ::1", "v4 127.0.0.1"), so a pass proves which service answered.
# Checks: TCP and UDP both ways with getpeername/getsockname/recvfrom in the
# guest's family and form, IPV6_V6ONLY still 1, a destination translated into
# a denied network refused, the translated connections and the denial in the
# host's audit log, the rules in `hostrpcctl sockets`, no kernel warnings.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
command -v python3 >/dev/null || vm_skip "python3 missing (apt-get install python3)"
python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null ||
	vm_skip "no IPv6 loopback (::1) on this host"
srcd=$top_srcdir/tests/vm/sock
${CC:-gcc} -static -O2 -std=gnu11 -o "$vm_tmp/xlat-probe" "$srcd/guest/xlat-probe.c" \
	2> "$vm_tmp/cc.log" || { cat "$vm_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (apt-get install libc6-dev)"; }

p4=$(vm_free_port) p6=$(vm_free_port) dport=$(vm_free_port)
pids=()
cleanup_xlat() { for p in "${pids[@]:+${pids[@]}}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$vm_tmp"; }
trap cleanup_xlat EXIT

# The host's services: IPv6 only on [::1]:P6, IPv4 only on 127.0.0.1:P4.
cat > "$vm_tmp/greeter.py" <<'EOF'
import socket, sys, threading
p4, p6 = int(sys.argv[1]), int(sys.argv[2])
def tcp(family, addr, port, tag):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port)); s.listen(16)
    def serve(c, peer):
        with c:
            c.sendall(("%s %s\n" % (tag, peer[0])).encode())
            while True:
                d = c.recv(4096)
                if not d:
                    return
                c.sendall(d)
    def loop():
        while True:
            c, peer = s.accept()
            threading.Thread(target=serve, args=(c, peer), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
def udp(family, addr, port, tag):
    s = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    def loop():
        while True:
            d, peer = s.recvfrom(4096)
            s.sendto(("%s %s" % (tag, peer[0])).encode(), peer)
    threading.Thread(target=loop, daemon=True).start()
tcp(socket.AF_INET6, "::1", p6, "v6"); udp(socket.AF_INET6, "::1", p6, "v6")
tcp(socket.AF_INET, "127.0.0.1", p4, "v4"); udp(socket.AF_INET, "127.0.0.1", p4, "v4")
print("READY", flush=True)
threading.Event().wait()
EOF
python3 "$vm_tmp/greeter.py" "$p4" "$p6" > "$vm_tmp/greeter.log" 2>&1 &
pids+=($!)
wait_for 5 grep -qs READY "$vm_tmp/greeter.log" ||
	{ sed 's/^/# /' "$vm_tmp/greeter.log"; echo "Bail out! the host's services did not start"; exit 1; }

# The guest's policy (hostrpcd reads <conf>/default.conf for every guest).
mkdir -p "$vm_tmp/conf"
cat > "$vm_tmp/conf/default.conf" <<EOF
translate 10.64.0.1 -> ::1
translate 10.66.0.0/16 -> 2001:db8:66::/112
translate nat64
translate mapped
connect deny 2001:db8:66::/48
connect allow loopback
EOF
vm_server="$vm_server --sock-policy-dir=$vm_tmp/conf"

probes="tcp4 udp4 tcp6 udp6 mapped denied"
guest_cmd="
dmesg | grep hostrpc_sock
xlat-probe -4 $p4 -6 $p6 $probes
echo XLAT-PROBES-DONE
timeout 60 nc -l -p $dport > /tmp/done
echo \"HOSTDONE \$(cat /tmp/done)\"
echo \"dmesg-problems: \$(dmesg | grep -cE 'BUG|WARNING|Oops|general protection|refcount_t')\"
"
host_cmd="$top_builddir/hostrpc/daemon/hostrpcctl --admin-socket $vm_tmp/admin.sock sockets guest > $vm_tmp/ctl-sockets 2>&1;
python3 -c 'import socket; s=socket.create_connection((\"127.0.0.1\", $dport)); s.sendall(b\"listed\\n\")'"

# The probes and 9 checks around them, declared before anything runs.
echo "1..$(($(echo $probes | wc -w) + 9))"
rc=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-300}" -m 512 -s "$vm_server" -a hrpc.load=hostrpc_sock \
	-f "$vm_tmp/xlat-probe:/bin/xlat-probe" \
	-l "$vm_tmp/console" -L "$vm_tmp/server" \
	-e "$host_cmd" -E XLAT-PROBES-DONE \
	"$guest_cmd" > "$vm_tmp/out" 2> "$vm_tmp/err" || rc=$?
sed 's/^/# /' "$vm_tmp/out"
sed 's/^/# vm-run: /' "$vm_tmp/err"

n=0
t() { n=$((n + 1)); tap "$n" "$1" "$2"; }
grep -q 'AF_INET and AF_INET6 sockets are now served by the host' "$vm_tmp/out"
t $? "hostrpc_sock.ko took over AF_INET/AF_INET6 in a guest without a NIC"
for c in $probes; do
	line=$(grep -m1 "^RESULT $c " "$vm_tmp/out" || echo "RESULT $c FAIL (no result)")
	echo "$line" | grep -q "^RESULT $c PASS"
	t $? "$c: ${line#RESULT $c PASS }"
done
audit=$(cat "$vm_tmp"/state/sock-audit/*.sock.log 2>/dev/null || true)
echo "$audit" | grep 'translate\|denied' | sed 's/^/# audit: /' || true
grep -q "translate tcp connect 10\.64\.0\.1:$p6 -> \[::1\]:$p6 rule 10\.64\.0\.1/32 -> ::1/128" <<< "$audit"
t $? "audit: the IPv4 guest's TCP connection translated to [::1]:$p6"
grep -q "translate udp sendto 10\.64\.0\.1:$p6 -> \[::1\]:$p6 " <<< "$audit"
t $? "audit: the IPv4 guest's UDP destination translated to [::1]:$p6"
grep -q "translate tcp connect \[64:ff9b::7f00:1\]:$p4 -> \[::ffff:127\.0\.0\.1\]:$p4 rule 64:ff9b::/96 -> 0\.0\.0\.0/0" <<< "$audit" &&
	grep -q "translate udp sendto \[64:ff9b::7f00:1\]:$p4 -> " <<< "$audit" &&
	grep -q "translate tcp connect \[::ffff:127\.0\.0\.1\]:$p4 -> .* rule ::ffff:0\.0\.0\.0/96" <<< "$audit"
t $? "audit: the IPv6 guest's NAT64 TCP and UDP and its IPv4-mapped connection"
grep -q "connect 10\.66\.0\.5:$p6 translated to \[2001:db8:66::5\]:$p6 denied by policy" <<< "$audit"
t $? "audit: the denial names the guest's and the translated address"
sed 's/^/# hostrpcctl sockets guest: /' "$vm_tmp/ctl-sockets" 2>/dev/null || true
grep -Eq "^ +translate 10\.64\.0\.1/32 -> ::1/128 +policy line 1" "$vm_tmp/ctl-sockets" 2>/dev/null &&
	grep -Eq "^ +translate 64:ff9b::/96 -> 0\.0\.0\.0/0 +policy line 3 \(nat64\)" "$vm_tmp/ctl-sockets"
t $? "hostrpcctl sockets guest: the translate rules in the worker's policy"
grep -q '^HOSTDONE listed' "$vm_tmp/out"
t $? "the host listed the guest's sockets while it ran"
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
