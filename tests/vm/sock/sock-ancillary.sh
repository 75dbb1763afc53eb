#!/usr/bin/env bash
# VM test: UDP ancillary data through outsourced sockets (version 2: a
# datagram's ancillary data rides in the in ring with it, as a
# struct hrpc_sock_dgram_meta, include/hostrpc/sockring.h).
#
#   guest (no NIC)                                 host (hostrpcd worker)
#   ancil-probe: two UDP sockets on loopback  -->  two host sockets; the
#   receiver asks IP_PKTINFO, IPV6_RECVPKTINFO,     host kernel's control
#   SO_TIMESTAMP, SO_TIMESTAMPNS                    messages -> the ring
#
# Checks (tests/vm/sock/guest/ancil-probe.c; the same program passes on the
# host's own stack): IP_PKTINFO (address, spec_dst, interface), IPV6_PKTINFO,
# SO_TIMESTAMP and SO_TIMESTAMPNS (within 5 s of the guest's clock; with
# IP_PKTINFO at once), MSG_CTRUNC for a short control buffer, MSG_PEEK
# giving them too; sendmsg's IP_PKTINFO choosing the source address (the
# policy's bind rules judge it); and, with version 1 (hostrpc_sock.v2=0, whose RECVFROM
# has no room for them), IP_PKTINFO refused with ENOPROTOOPT instead of
# silently ignored.  No kernel warnings.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
probes="pktinfo4 tstampns ctrunc peek tstamp srcinfo pktinfo6"
${CC:-gcc} -static -O2 -std=gnu11 -o "$vm_tmp/ancil-probe" "$top_srcdir/tests/vm/sock/guest/ancil-probe.c" \
	2> "$vm_tmp/cc.log" || { cat "$vm_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (apt-get install libc6-dev)"; }
cleanup_ancil() {
	"$vm_hostrpcd" --fdstore-release --state-dir="$vm_state" > /dev/null 2>&1 || true
	rm -rf "$vm_tmp"
}
trap cleanup_ancil EXIT
# The built-in rules keep the host's loopback from a guest: allow it.
mkdir -p "$vm_tmp/conf"
echo "connect allow loopback" > "$vm_tmp/conf/default.conf"


echo "1..$(($(echo $probes | wc -w) + 3))"
rc=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-200}" -s "$vm_server --sock-policy-dir=$vm_tmp/conf" \
	-a "hrpc.load=hostrpc_sock" -f "$vm_tmp/ancil-probe:/bin/ancil-probe" \
	-l "$vm_tmp/console" -L "$vm_tmp/server" \
	"ancil-probe; r=\$?; echo \"dmesg-problems: \$(dmesg | grep -cE 'BUG|WARNING|Oops|general protection|refcount_t')\"; exit \$r" \
	> "$vm_tmp/out" 2> "$vm_tmp/err" || rc=$?
sed 's/^/# /' "$vm_tmp/out"
[ "$rc" = 0 ] || sed 's/^/# vm-run: /' "$vm_tmp/err"
# Version 1: the same probe's first setsockopt(IP_PKTINFO) must fail.
rc1=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-200}" -s "$vm_server --sock-policy-dir=$vm_tmp/conf" \
	-a "hrpc.load=hostrpc_sock hostrpc_sock.v2=0" -f "$vm_tmp/ancil-probe:/bin/ancil-probe" \
	-l "$vm_tmp/console1" -L "$vm_tmp/server1" \
	"ancil-probe 2>&1 | grep '^RESULT pktinfo4'" > "$vm_tmp/out1" 2> "$vm_tmp/err1" || rc1=$?
sed 's/^/# v1: /' "$vm_tmp/out1"

set +e
n=0
t() { n=$((n + 1)); tap "$n" "$1" "$2"; }
for p in $probes; do
	line=$(grep -m1 "^RESULT $p " "$vm_tmp/out" || echo "RESULT $p FAIL (no result)")
	echo "$line" | grep -q "^RESULT $p PASS"
	t $? "$p: ${line#RESULT $p }"
done
[ "$rc" = 0 ]
t $? "the probe passed as a whole in the version 2 guest (exit $rc)"
grep -q '^RESULT pktinfo4 FAIL set-up or recvmsg failed: Protocol not available' "$vm_tmp/out1"
t $? "version 1: IP_PKTINFO refused with ENOPROTOOPT, not ignored ($(head -c 120 "$vm_tmp/out1"))"
p=$(sed -n 's/^dmesg-problems: //p' "$vm_tmp/out")
[ "$p" = 0 ]
t $? "no kernel warnings in the guest (${p:-no answer})"
