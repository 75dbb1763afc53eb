#!/usr/bin/env bash
# Integration test: an established TCP connection moves between two network
# namespaces with its address, as a migrating guest's connections move from
# host A to host B (issue 12), and its peer on the "LAN" sees no difference.
#
#   namespace W ("the world", the peer 10.77.0.1 on bridge br0)
#     |-- veth --> namespace A: the guest's address 10.77.0.10, MAC M
#     '-- veth --> namespace B: down, until the switch gives it 10.77.0.10
#                  and MAC M (the bridge learns M's new port from the first
#                  frame B sends, as a real migration's announce does)
#
# test-tcp-repair (TCP_MOVE_NS="W A B") freezes our socket in A with
# TCP_REPAIR, closes it there (no FIN, no RST), runs the switch and makes
# the connection again in B; every byte both ways arrives in order.  Its
# TAP is this test's.  Needs root and ip(8) with netns; else skips (77).
set -u
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/../../.." && pwd)}
prog=$top_builddir/tests/integration/sock/test-tcp-repair
skip() { echo "1..0 # SKIP $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, TCP_REPAIR)"
command -v ip >/dev/null || skip "no ip(8) (apt-get install iproute2)"
[ -x "$prog" ] || skip "no $prog (make check builds it)"
s=$$
W=hrpcW$s A=hrpcA$s B=hrpcB$s
cleanup() { for n in $W $A $B; do ip netns del "$n" 2>/dev/null; done; }
trap cleanup EXIT
ip netns add $W && ip netns add $A && ip netns add $B || skip "cannot make network namespaces"
mac=02:77:00:00:00:10
{
	ip -n $W link add br0 type bridge &&
	ip -n $W link set br0 up &&
	ip -n $W addr add 10.77.0.1/24 dev br0 &&
	ip -n $W link add wa type veth peer name ga netns $A &&
	ip -n $W link add wb type veth peer name gb netns $B &&
	ip -n $W link set wa master br0 up &&
	ip -n $W link set wb master br0 up &&
	ip -n $A link set ga address $mac up &&
	ip -n $A addr add 10.77.0.10/24 dev ga &&
	ip -n $A link set lo up && ip -n $B link set lo up &&
	ip -n $W link set lo up
} || skip "cannot build the bridge and veth pairs"
# Wait for the bridge ports to forward (no STP: at once, but the links come
# up asynchronously).
for _ in $(seq 1 50); do
	ip netns exec $A ping -c1 -W1 10.77.0.1 >/dev/null 2>&1 && break
	sleep 0.1
done
switch="ip -n $A link set ga down && ip -n $B link set gb address $mac up &&
	ip -n $B addr add 10.77.0.10/24 dev gb"
TCP_MOVE_NS="$W $A $B" TCP_MOVE_PEER=10.77.0.1 TCP_MOVE_SWITCH="$switch" "$prog"
