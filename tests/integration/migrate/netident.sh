#!/usr/bin/env bash
# Integration test: a guest's network identity (MAC, MTU, addresses) moves
# from one host's interface to another's, as in a migration's switch
# (migrate/netident.h), and the LAN follows it: the bridge learns the new
# port and the neighbours' caches the MAC from the announce, and the
# addresses answer pings and TCP from the new place at once.
#
#              namespace W ("the LAN")
#     br0: 10.78.0.1/24, fd78::1/64
#        |                      |
#       wa                     wb
#        |                      |
#      eth0                   eth0
#   namespace A              namespace B
#   ("the source")           ("the destination")
#   10.78.0.10/24            down, no addresses,
#   fd78::10/64              until apply gives it
#   02:78:00:00:00:10        A's identity
#
# test-netident (the driver) runs in whichever namespace ip netns exec puts
# it.  Needs root, ip(8), bridge(8) and python3; else skips (77).
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib.sh"
T=$top_builddir/tests/integration/migrate/test-netident
skip() { echo "1..0 # SKIP $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "no ip(8) (apt-get install iproute2)"
command -v bridge >/dev/null || skip "no bridge(8) (apt-get install iproute2)"
command -v python3 >/dev/null || skip "no python3"
[ -x "$T" ] || skip "no $T (make check builds it)"

s=$$
W=hrpcniW$s A=hrpcniA$s B=hrpcniB$s
mac=02:78:00:00:00:10
tmp=$(mktemp -d) || exit 99
listener=
cleanup() {
	[ -n "$listener" ] && kill "$listener" 2>/dev/null && wait "$listener" 2>/dev/null
	kill "$watchdog" 2>/dev/null
	for ns in $W $A $B; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
watchdog_start 120
ip netns add $W && ip netns add $A && ip netns add $B || skip "cannot make network namespaces"
{
	for ns in $W $A $B; do ip -n $ns link set lo up || exit 1; done
	ip -n $W link add br0 type bridge &&
	ip -n $W link set br0 up &&
	ip -n $W addr add 10.78.0.1/24 dev br0 &&
	ip -n $W addr add fd78::1/64 dev br0 nodad &&
	ip -n $W link add wa type veth peer name eth0 netns $A &&
	ip -n $W link add wb type veth peer name eth0 netns $B &&
	ip -n $W link set wa master br0 up &&
	ip -n $W link set wb master br0 up &&
	ip -n $A link set eth0 address $mac up &&
	ip -n $A addr add 10.78.0.10/24 dev eth0 &&
	ip -n $A addr add fd78::10/64 dev eth0 nodad
} || skip "cannot build the bridge and veth pairs"

echo "1..21"
n=0
check() {   # check DESCRIPTION COMMAND [ARG...]
	local d=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $d"; else echo "not ok $n - $d"; fi
}
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# Echo replies NS has sent so far, for IPv4 or IPv6 (its /proc/net).
echo_replies() {
	if [ "$2" = 4 ]; then
		nsx "$1" awk '/^Icmp:/ { if (!c) { for (i = 1; i <= NF; i++) if ($i == "OutEchoReps") c = i }
			else print $c }' /proc/net/snmp
	else
		nsx "$1" awk '$1 == "Icmp6OutEchoReplies" { print $2 }' /proc/net/snmp6
	fi
}
# W pings ADDR once and NS (not the other) sent the reply.
ping_from() {
	local ns=$1 other=$2 addr=$3 v=4 a0 o0
	case $addr in *:*) v=6 ;; esac
	a0=$(echo_replies "$ns" $v) o0=$(echo_replies "$other" $v)
	nsx $W "$T" ping "$addr" &&
	[ "$(echo_replies "$ns" $v)" -gt "$a0" ] && [ "$(echo_replies "$other" $v)" = "$o0" ]
}
# Python over ip -j output: json in d.
pyj() { python3 -c "import json, sys; d = json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
has_identity() {   # has_identity NS: eth0 is UP with the MAC and each address once
	ip -n "$1" -j addr show dev eth0 | pyj "
		d[0]['address'] == '$mac' and d[0]['operstate'] == 'UP' and d[0]['mtu'] == 1500 and
		sorted((a['local'], a['prefixlen']) for a in d[0]['addr_info'] if a['scope'] == 'global')
		== [('10.78.0.10', 24), ('fd78::10', 64)]"
}
neigh_is() {   # neigh_is ADDR MAC [STATE]: W's neighbour entry for ADDR
	ip -n $W -j neigh show dev br0 to "$1" | pyj "
		len(d) == 1 and d[0].get('lladdr') == '$2' and ('${3:-}' == '' or '${3:-}' in d[0]['state'])"
}

wait_for 5 nsx $W "$T" ping 10.78.0.10 >/dev/null 2>&1   # the bridge ports forward
id=$(nsx $A "$T" read eth0)
check "read in A: $("$T" format "$id") (A's link-local fe80:: left out)" \
	eval '[ "$("$T" format "$id")" = "$mac mtu 1500 10.78.0.10/24 fd78::10/64" ] &&
	      ip -n $A -6 addr show dev eth0 scope link | grep -q fe80::'
check "W pings 10.78.0.10: A answers" ping_from $A $B 10.78.0.10
check "W pings fd78::10: A answers" ping_from $A $B fd78::10

# The switch.  The source's caller lives in another netns: in-netns joins
# A's in a thread of its own (the driver checks its own netns stayed).
check "down in A, from outside A's netns (netident_in_netns)" \
	eval '"$T" in-netns /run/netns/$A down eth0 &&
	      ip -n $A -j link show dev eth0 | pyj "\"UP\" not in d[0][\"flags\"]"'
ip -n $A -6 addr show dev eth0 | grep -q fd78::10 ||
	echo "# A's fd78::10 went with its link (keep_addr_on_down=0): a rollback applies the identity again"
check "apply in B" nsx $B "$T" apply eth0 "$id"
check "B's eth0: MAC, MTU 1500, both addresses, state UP (ip -j)" has_identity $B
# Poison W's neighbour cache, so that only the announce can set it right.
ip -n $W neigh replace 10.78.0.10 lladdr 02:00:00:00:00:99 dev br0 nud stale
ip -n $W neigh replace fd78::10 lladdr 02:00:00:00:00:99 dev br0 nud stale
check "announce in B" nsx $B "$T" announce eth0 "$id"
check "W's bridge learnt the MAC on B's port (wb) from the announce" \
	wait_for 2 eval 'bridge -n $W -j fdb show br br0 | pyj "
		any(e[\"mac\"] == \"$mac\" and e.get(\"ifname\") == \"wb\" for e in d)"'
check "W's neighbour entry for 10.78.0.10 took the MAC from the gratuitous ARP" \
	wait_for 2 neigh_is 10.78.0.10 $mac
check "W's neighbour entry for fd78::10 took the MAC from the unsolicited NA" \
	wait_for 2 neigh_is fd78::10 $mac

# TCP at once, before B's link-local finished its DAD: bind() and the
# connections need nothing of it.
nsx $B python3 -c '
import socket, sys
socks = []
for fam, addr in ((socket.AF_INET, "10.78.0.10"), (socket.AF_INET6, "fd78::10")):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((addr, 7878))
    s.listen()
    s.settimeout(10)
    socks.append(s)
print("ready", flush=True)
for s in socks:
    c, _ = s.accept()
    c.settimeout(10)
    c.sendall(b"B:" + c.recv(64))
    c.close()
' > "$tmp/listener" 2>&1 &
listener=$!
wait_for 5 grep -q ready "$tmp/listener"
ip -n $B -6 addr show dev eth0 scope link | grep -q tentative &&
	echo "# B's link-local is still tentative (DAD running)"
connect() {
	[ "$(nsx $W python3 -c '
import socket, sys
c = socket.create_connection((sys.argv[1], 7878), timeout=5)
c.sendall(b"hello")
print(c.recv(64).decode())' "$1")" = "B:hello" ]
}
check "TCP from W to a listener in B on 10.78.0.10, right after apply and announce" connect 10.78.0.10
check "TCP from W to a listener in B on [fd78::10], right after apply and announce" connect fd78::10
wait "$listener" || cat "$tmp/listener" | sed 's/^/# /'
listener=
# The connections left W's entries in DELAY (confirmed, REACHABLE when the
# kernel's timer runs, 5 s later): forget them, so that the pings resolve
# the addresses afresh (ARP, neighbour solicitation) and B must answer.
ip -n $W neigh show dev br0 | sed 's/^/# before the pings: /'
ip -n $W neigh flush dev br0
check "W pings 10.78.0.10: B answers, A does not" ping_from $B $A 10.78.0.10
check "W pings fd78::10: B answers, A does not" ping_from $B $A fd78::10
check "W's neighbour entries for both addresses, resolved again, are REACHABLE with the MAC" \
	eval 'neigh_is 10.78.0.10 $mac REACHABLE && neigh_is fd78::10 $mac REACHABLE'
check "apply in B again: 0, the same identity, each address once" \
	eval 'nsx $B "$T" apply eth0 "$id" && has_identity $B'

out=$(nsx $B "$T" apply nosuch0 "$id" 2>&1)
check "apply to an unknown interface: -ENODEV ($out)" eval '[[ $out = *"No such device (-19)"* ]]'
forged=0000${id#????}                                   # magic 'HRNI' gone
out=$(nsx $B "$T" apply eth0 "$forged" 2>&1)
check "apply of a forged record (bad magic): -EINVAL ($out)" eval '[[ $out = *"(-22)"* ]]'
forged=${id:0:16}03${id:18}                             # a multicast MAC
out=$(nsx $B "$T" announce eth0 "$forged" 2>&1)
check "announce of a forged record (multicast MAC): -EINVAL ($out)" eval '[[ $out = *"(-22)"* ]]'

# Rollback: B lets go, A takes its identity back (apply, not only up: A's
# IPv6 address went with its link) and announces it.
check "rollback: down in B, apply and announce in A, W reaches A on both addresses" \
	eval 'nsx $B "$T" down eth0 && nsx $A "$T" apply eth0 "$id" &&
	      nsx $A "$T" announce eth0 "$id" && has_identity $A &&
	      ping_from $A $B 10.78.0.10 && ping_from $A $B fd78::10'

# No carrier (W's end of B's veth down): apply applies, waits for the link
# to come up operationally, and says it did not.
ip -n $W link set wb down
out=$(nsx $B "$T" apply eth0 "$id" 2>&1)
check "apply without carrier: -ETIMEDOUT after 3 s ($out)" eval '[[ $out = *"(-110)"* ]]'
