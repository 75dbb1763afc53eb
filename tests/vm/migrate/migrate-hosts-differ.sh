#!/usr/bin/env bash
# VM test: a guest moves to a host configured otherwise and keeps working,
# because it sees sockets and files, not devices (issue 14, "hidden
# hardware differences").
#
#                      host A                     host B
#   guest's uplink     eth0                       uplink0 (another name)
#   export "data"      $tmp/A-data, first         $tmp/B-srv/data (the same
#                      in the policy              files, bind-mounted: shared
#                                                 storage at another path),
#                                                 second (another handle tag)
#   hostrpcd           --poll=auto (default)      --poll=off, other limits
#
# The guest mounts export "data" (hostrpcfs) and runs fs-mig-probe: a log
# it appends to, a file it reads through, a flock and a POSIX lock, and a
# TCP connection to the world, all open across the move.  Checks: the
# move (exit 0), the locks held at B (a host process cannot take them),
# `hostrpcctl files` at B, every line of the log on the host in order,
# every byte read right, the TCP round trips on after the move, B's
# uplink0 carries the guest's identity.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
. "$top_srcdir/tests/vm/migrate/lib.sh"
command -v python3 > /dev/null || vm_skip "python3 missing"
[ -e "$HOSTRPC_GUEST_DIR/modules/hostrpcfs.ko" ] ||
	vm_skip "the guest image has no hostrpcfs.ko (tools/guest-image)"
mig_setup
trap 'umount -l "$mig_tmp/B-srv/data" 2> /dev/null; mig_cleanup' EXIT
vm_watchdog 300

mig_guest_build fs-mig-probe
wport=$((20000 + RANDOM % 5000))
SECS=${FSM_SECS:-30}
ctl=$top_builddir/hostrpc/daemon/hostrpcctl

echo "1..9"
# Host B: another uplink name, the export elsewhere and listed second,
# another hostrpcd configuration.
ip -n "$mig_p-gB" link set eth0 name uplink0
printf 'netns /run/netns/%s-gB\nidentity uplink0\n' "$mig_p" > "$B/policy/g1.conf"
mkdir -p "$mig_tmp/A-data" "$mig_tmp/B-srv/scratch" "$mig_tmp/B-srv/data" "$A/fspolicy" "$B/fspolicy"
mount --bind "$mig_tmp/A-data" "$mig_tmp/B-srv/data" || vm_skip "cannot bind-mount (not root?)"
printf 'export data %s ids=passthrough\n' "$mig_tmp/A-data" > "$A/fspolicy/g1.conf"
printf 'export scratch %s\nexport data %s ids=passthrough\nmax-files 200\n' \
	"$mig_tmp/B-srv/scratch" "$mig_tmp/B-srv/data" > "$B/fspolicy/g1.conf"
mig_hostrpcd_args_B="--poll=off"
python3 -c 'import sys
open(sys.argv[1], "wb").write(bytes(((i * 7 + (i >> 8)) & 0xff) for i in range(1 << 18)))' \
	"$mig_tmp/A-data/input.bin"
mig_hostrpcd A
mig_hostrpcd B
ip netns exec "$mig_p-W" python3 "$top_srcdir/tests/vm/migrate/echo.py" 10.77.0.1 "$wport" \
	"$mig_tmp/world-echo.log" > "$mig_tmp/world-echo.err" 2>&1 &
mig_pids+=($!)
sleep 0.5
mig_load=hostrpc_sock,hostrpcfs
mig_initrd "mkdir -p /mnt && mount -t hostrpcfs data /mnt && /hostrpc/fs-mig-probe /mnt 10.77.0.1 $wport $SECS" \
	"$mig_tmp/fs-mig-probe"
mig_qemu A1 A
if ! wait_for 90 grep -q 'fsm up' "$mig_tmp/A1.out.log"; then
	sed 's/^/# guest: /' "$mig_tmp/A1.out.log" "$mig_tmp/A1.console.log" | tail -30
	echo "Bail out! the guest's files and connection did not start"
	exit 1
fi
mig_qemu B1 B incoming
sleep 4
rc=0
mig_migrate A1 B1 || rc=$?
sed 's/^/# /' "$mig_tmp/mig.json"
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
tap 1 "$rc" "the guest moved to B, configured otherwise (exit $rc)"

ok=0
wait_for 10 eval "! kill -0 $mig_qemu_A1 2>/dev/null" || ok=1
sleep 2
"$ctl" --admin-socket "$B/admin.sock" files g1 > "$mig_tmp/files-b.txt" 2>&1 || ok=1
sed 's/^/# B: /' "$mig_tmp/files-b.txt"
grep -q "EXPORT data $mig_tmp/B-srv/data" "$mig_tmp/files-b.txt" &&
	grep -q 'log.txt' "$mig_tmp/files-b.txt" && grep -q 'input.bin' "$mig_tmp/files-b.txt" &&
	grep -q '/lock' "$mig_tmp/files-b.txt" || ok=1
tap 2 "$ok" "hostrpcctl files at B: export data at B's path, the guest's three files open there"

ok=0
flock -n "$mig_tmp/A-data/lock" true 2> /dev/null && ok=1
python3 -c 'import fcntl, sys
f = open(sys.argv[1], "r+")
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
except OSError:
    sys.exit(0)
sys.exit(1)' "$mig_tmp/A-data/lock" || ok=1
tap 3 "$ok" "the guest's flock and POSIX lock are held at B: a host process cannot take them"

ok=0
wait_for $((SECS + 60)) grep -aq 'fsm done' "$mig_tmp/B1.out.log" || ok=1
grep -a '^fsm' "$mig_tmp/A1.out.log" | tail -2 | sed 's/^/# guest at A: /'
grep -a '^fsm' "$mig_tmp/B1.out.log" | tail -3 | sed 's/^/# guest at B: /'
done_line=$(grep -a 'fsm done' "$mig_tmp/B1.out.log" | tr -d '\r' || true)
echo "$done_line" | grep -q 'bad=0 verify=ok' || ok=1
tap 4 "$ok" "the guest wrote, read and talked on at B; every byte right, its log read back in order ($done_line)"

ok=0
lines=$(echo "$done_line" | sed -n 's/.*lines=\([0-9]*\).*/\1/p')
python3 -c 'import sys
want = ["line %d" % i for i in range(int(sys.argv[2]))]
sys.exit(0 if open(sys.argv[1]).read().splitlines() == want else 1)' \
	"$mig_tmp/A-data/log.txt" "${lines:-0}" || ok=1
tap 5 "$ok" "the host's log.txt has the guest's ${lines:-0} lines, in order, none twice or lost"

ok=0
ta=$(grep -a '^fsm t=' "$mig_tmp/A1.out.log" | tail -1 | sed -n 's/.*tcp=\([0-9]*\).*/\1/p')
tb=$(echo "$done_line" | sed -n 's/.*tcp=\([0-9]*\).*/\1/p')
[ -n "$ta" ] && [ -n "$tb" ] && [ "$tb" -gt "$ta" ] || ok=1
tap 6 "$ok" "the TCP connection carried on at B (${ta:-?} bytes echoed at A, ${tb:-?} in all)"

ok=0
# Whole outputs, then grep: ip writes a line at a time, and grep -q on a
# pipe would leave it to die of SIGPIPE, which pipefail counts as failure.
addrs=$(ip -n "$mig_p-gB" addr show uplink0 2>&1) || ok=1
link=$(ip -n "$mig_p-gB" link show uplink0 2>&1) || ok=1
grep -q '10.77.0.10/' <<< "$addrs" || ok=1
grep -q '02:77:00:00:00:10' <<< "$link" || ok=1
[ "$ok" = 0 ] || sed 's/^/# B: /' <<< "$addrs"
tap 7 "$ok" "B's uplink0 carries the guest's address and MAC"

ok=0
wait_for 20 grep -aq 'HOSTRPC-GUEST-EXIT 0' "$mig_tmp/B1.out.log" || ok=1
tap 8 "$ok" "the guest exited 0 at B"

ok=0
kill -0 "$mig_daemon_A" 2> /dev/null && kill -0 "$mig_daemon_B" 2> /dev/null || ok=1
grep -E 'CRITICAL|fenced' "$A/hostrpcd.log" "$B/hostrpcd.log" | sed 's/^/# /' && ok=1
tap 9 "$ok" "both daemons up, nothing fenced"
