#!/bin/bash
# migrate/demo.sh - the README demo's migration step (tools/demo): a guest
# whose sockets are outsourced moves from host A to host B and back while
# its TCP connections (both ways), its listening socket and its UDP socket
# carry data checked byte for byte by both ends.  The two hosts are network
# namespaces with their own hostrpcd on one LAN bridge (tools/two-hosts);
# the run is tests/vm/migrate/migrate-vm.sh, whose checks are the demo's.
# Environment: HOSTRPC_GUEST_DIR, top_builddir (as tools/demo).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export top_srcdir=$top top_builddir=${top_builddir:-$top}
export HOSTRPC_GUEST_BUILD=0 MIG_SECS=${MIG_SECS:-35}
out=$(mktemp /tmp/hostrpc-migrate-demo.XXXXXX)
trap 'rm -f "$out"' EXIT
[ "$(id -u)" = 0 ] || { echo "migrate demo: needs root (network namespaces, TCP_REPAIR)" >&2; exit 1; }
bash "$top/tests/vm/migrate/migrate-vm.sh" > "$out" 2>&1
rc=$?
# What a person wants to see: each check, the two migrations' reports.
grep -E '^(ok|not ok) |^# (mig1|mig):|longest silence|^# \{' "$out" |
	sed -e 's/^# {/  hostrpc-migrate --json: {/' -e 's/^# /  /'
if [ "$rc" != 0 ] || grep -q '^not ok' "$out" || ! grep -q '^1\.\.' "$out"; then
	echo "migrate demo: a check failed (exit $rc); the run's last lines:" >&2
	tail -n 30 "$out" >&2
	exit 1
fi
