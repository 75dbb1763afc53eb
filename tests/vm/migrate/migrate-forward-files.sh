#!/usr/bin/env bash
# VM test: files open in an export only the source has stay there and are
# forwarded (issue 14, the location table, item 1's files).
#
#                      host A                     host B
#   export "data"      $tmp/A-data                (none)
#   export "common"    $tmp/A-common              $tmp/B-srv/common (the same
#                                                 files, bind-mounted)
#
# The guest mounts both and runs fs-mig-probe in "data": a log it appends
# to, a file it reads through, a flock and a POSIX lock, and a TCP
# connection to the world, all open across three moves.  B has no export
# "data": by default its server stays in A's worker (the remnant), B's
# worker forwards every call on its handles over the forward link and the
# guest's reply waits for the remnant's (hostrpc deferred replies); the
# "common" export moves as usual.
#
#   A1 -> B1   --keep-local export:data first: refused before the switch,
#              saying why; then the default: fs_forwarded 1, files 3;
#              `hostrpcctl files` at B (FORWARDED data); the locks still
#              held at A; the guest reads and writes on at B
#   B1 -> A2   back: the remnant gives the files' state (FS_EXPORT) and
#              they are local again at A (fs_from_remnant 1), the remnant
#              ends, the locks are held by A's new worker; the probe ends
#              at A: every byte right, the log in order
#   A2 -> B2   forwarded again; new files the guest makes land at A
#   B2 -> C1   C has no "data" either: A's remnant links to C itself and
#              the calls go there (no chain through B; fs_repointed 1);
#              then A's hostrpcd dies: the guest's next call on "data"
#              fails with EIO, "common" goes on, C's hostrpcd serves on.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
. "$top_srcdir/tests/vm/migrate/lib.sh"
command -v python3 > /dev/null || vm_skip "python3 missing"
[ -e "$HOSTRPC_GUEST_DIR/modules/hostrpcfs.ko" ] ||
	vm_skip "the guest image has no hostrpcfs.ko (tools/guest-image)"
MIG_THIRD_HOST=1
mig_setup
trap 'umount -l "$mig_tmp/B-srv/common" "$mig_tmp/C-srv/common" 2> /dev/null; mig_cleanup' EXIT
vm_watchdog 300

mig_guest_build fs-mig-probe
wport=$((20000 + RANDOM % 5000))
SECS=${FSM_SECS:-40}
ctl=$top_builddir/hostrpc/daemon/hostrpcctl

echo "1..15"
mkdir -p "$mig_tmp/A-data" "$mig_tmp/A-common" "$mig_tmp/B-srv/common" "$mig_tmp/C-srv/common" \
	"$A/fspolicy" "$B/fspolicy" "$C/fspolicy"
mount --bind "$mig_tmp/A-common" "$mig_tmp/B-srv/common" || vm_skip "cannot bind-mount (not root?)"
mount --bind "$mig_tmp/A-common" "$mig_tmp/C-srv/common" || vm_skip "cannot bind-mount (not root?)"
printf 'export data %s ids=passthrough\nexport common %s ids=passthrough\n' \
	"$mig_tmp/A-data" "$mig_tmp/A-common" > "$A/fspolicy/g1.conf"
printf 'export common %s ids=passthrough\n' "$mig_tmp/B-srv/common" > "$B/fspolicy/g1.conf"
printf 'export common %s ids=passthrough\n' "$mig_tmp/C-srv/common" > "$C/fspolicy/g1.conf"
python3 -c 'import sys
open(sys.argv[1], "wb").write(bytes(((i * 7 + (i >> 8)) & 0xff) for i in range(1 << 18)))' \
	"$mig_tmp/A-data/input.bin"
mig_hostrpcd A
mig_hostrpcd B
mig_hostrpcd C
ip netns exec "$mig_p-W" python3 "$top_srcdir/tests/vm/migrate/echo.py" 10.77.0.1 "$wport" \
	"$mig_tmp/world-echo.log" > "$mig_tmp/world-echo.err" 2>&1 &
mig_pids+=($!)
sleep 0.5
mig_load=hostrpc_sock,hostrpcfs
# After the probe: a new file in each export every half second, until
# the test has seen what it waits for.
mig_initrd "mkdir -p /mnt /mnt2 && mount -t hostrpcfs data /mnt && mount -t hostrpcfs common /mnt2 &&
/hostrpc/fs-mig-probe /mnt 10.77.0.1 $wport $SECS
echo \"probe rc=\$?\"
i=0
while [ \$i -lt 240 ]; do
	if { echo x > /mnt/cut-\$i; } 2> /tmp/e; then echo \"fscut \$i ok\"; else echo \"fscut \$i fail \$(cat /tmp/e)\"; fi
	if { echo y > /mnt2/ok-\$i; } 2> /tmp/e; then echo \"fscommon \$i ok\"; else echo \"fscommon \$i fail \$(cat /tmp/e)\"; fi
	[ -e /mnt2/stop ] && break
	sleep 0.5
	i=\$((i + 1))
done
true" "$mig_tmp/fs-mig-probe"
mig_qemu A1 A
if ! wait_for 90 grep -q 'fsm up' "$mig_tmp/A1.out.log"; then
	sed 's/^/# guest: /' "$mig_tmp/A1.out.log" "$mig_tmp/A1.console.log" | tail -30
	echo "Bail out! the guest's files and connection did not start"
	exit 1
fi

# The operator says the export's files must move: B has none, so the
# move fails before the switch, and says why.
mig_qemu B0 B incoming
sleep 2
rc=0
mig_migrate A1 B0 --keep-local export:data || rc=$?
why=$(mig_json "$mig_tmp/mig.json" "d.get('error')" 2> /dev/null || true)
ok=0
[ "$rc" = 1 ] && echo "$why" | grep -q 'export data' || ok=1
n0=$(grep -ac '^fsm t=' "$mig_tmp/A1.out.log" || true)
wait_for 10 eval "[ \$(grep -ac '^fsm t=' '$mig_tmp/A1.out.log') -gt $n0 ]" || ok=1
tap 1 "$ok" "--keep-local export:data: refused before the switch ($why), the guest goes on at A"
kill "$mig_qemu_B0" 2> /dev/null || true

mig_qemu B1 B incoming
sleep 2
rc=0
mig_migrate A1 B1 || rc=$?
sed 's/^/# /' "$mig_tmp/mig.json"
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
ffs=$(mig_json "$mig_tmp/mig.json" "d['fs_forwarded']" 2> /dev/null || echo -1)
ffi=$(mig_json "$mig_tmp/mig.json" "d['files_forwarded']" 2> /dev/null || echo -1)
ok=0
[ "$rc" = 0 ] && [ "$ffs" = 1 ] && [ "$ffi" = 3 ] || ok=1
tap 2 "$ok" "the guest moved to B; export data's server and its $ffi open files stay at A (exit $rc)"

ok=0
wait_for 10 eval "! kill -0 $mig_qemu_A1 2>/dev/null" || ok=1
sleep 1
"$ctl" --admin-socket "$B/admin.sock" files g1 > "$mig_tmp/files-b.txt" 2>&1 || ok=1
sed 's/^/# B: /' "$mig_tmp/files-b.txt"
grep -q '^FORWARDED data at the source' "$mig_tmp/files-b.txt" &&
	grep -q "EXPORT common $mig_tmp/B-srv/common" "$mig_tmp/files-b.txt" || ok=1
"$ctl" --admin-socket "$B/admin.sock" locations g1 > "$mig_tmp/loc-b.txt" 2>&1 || ok=1
"$ctl" --admin-socket "$A/admin.sock" locations g1 --json > "$mig_tmp/loc-a.json" 2>&1 || ok=1
sed 's/^/# B: /' "$mig_tmp/loc-b.txt"
grep -q "files of export data .*$(mig_ip A)" "$mig_tmp/loc-b.txt" || ok=1
[ "$(mig_json "$mig_tmp/loc-a.json" "d['role'] + ' ' + d['files'][0]['export'] + ' ' + d['files'][0]['lives']" 2> /dev/null)" = "remnant data here" ] || ok=1
tap 3 "$ok" "hostrpcctl at B: export common here, export data forwarded (files, locations); A's remnant lists it as its own"

locked() {	# the guest's flock and POSIX lock on A-data/lock are held
	! flock -n "$mig_tmp/A-data/lock" true 2> /dev/null &&
	python3 -c 'import fcntl, sys
f = open(sys.argv[1], "r+")
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
except OSError:
    sys.exit(0)
sys.exit(1)' "$mig_tmp/A-data/lock"
}
ok=0
locked || ok=1
tap 4 "$ok" "the guest's flock and POSIX lock are still held at A (its remnant took them again)"

ok=0
reads() { grep -a '^fsm t=' "$mig_tmp/$1.out.log" | tail -1 | sed -n 's/.*read=\([0-9]*\).*/\1/p'; }
ra=$(reads A1)
wait_for 20 eval "[ \"\$(reads B1)\" -gt \"${ra:-0}\" ] 2> /dev/null" || ok=1
sleep 3
"$ctl" --admin-socket "$B/admin.sock" files g1 --json > "$mig_tmp/files-b.json" 2>&1 || ok=1
calls=$(mig_json "$mig_tmp/files-b.json" "d['forwarded'][0]['calls']" 2> /dev/null || echo 0)
[ "$calls" -gt 0 ] || ok=1
grep -aq 'bad=[1-9]' "$mig_tmp/B1.out.log" && ok=1
tap 5 "$ok" "at B the guest reads and writes on through the forward link (read ${ra:-?} -> $(reads B1) bytes, $calls calls forwarded), nothing wrong"

# Back to A: the remnant's state of the files goes with the guest.
mig_qemu A2 A incoming
sleep 2
rc=0
mig_migrate B1 A2 || rc=$?
sed 's/^/# /' "$mig_tmp/mig.json"
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
ffr=$(mig_json "$mig_tmp/mig.json" "d['fs_from_remnant']" 2> /dev/null || echo -1)
ffs=$(mig_json "$mig_tmp/mig.json" "d['fs_forwarded']" 2> /dev/null || echo -1)
ok=0
[ "$rc" = 0 ] && [ "$ffr" = 1 ] && [ "$ffs" = 0 ] || ok=1
tap 6 "$ok" "back to A: the remnant gave the state of the guest's files there; nothing forwarded now (exit $rc)"

ok=0
wait_for 10 eval "! kill -0 $mig_qemu_B1 2>/dev/null" || ok=1
wait_for 10 grep -q 'remnant: the guest moves on; the state of its files' "$A/hostrpcd.log" || ok=1
sleep 1
"$ctl" --admin-socket "$A/admin.sock" files g1 > "$mig_tmp/files-a.txt" 2>&1 || ok=1
sed 's/^/# A: /' "$mig_tmp/files-a.txt"
grep -q "EXPORT data $mig_tmp/A-data" "$mig_tmp/files-a.txt" &&
	grep -q 'log.txt' "$mig_tmp/files-a.txt" && grep -q 'input.bin' "$mig_tmp/files-a.txt" &&
	grep -q '/lock' "$mig_tmp/files-a.txt" || ok=1
grep -q '^FORWARDED' "$mig_tmp/files-a.txt" && ok=1
locked || ok=1
tap 7 "$ok" "at A the guest's three files are local again, its locks held there"

ok=0
wait_for 20 grep -q "forward link to $(mig_ip B) ended: the guest's files kept here are closed" "$A/hostrpcd.log" || ok=1
wait_for 20 grep -q 'worker .* exited with status 6' "$A/hostrpcd.log" || ok=1
tap 8 "$ok" "A's remnant ended (it holds nothing for the guest any more)"

ok=0
wait_for $((SECS + 60)) grep -aq 'fsm done' "$mig_tmp/A2.out.log" || ok=1
for n in A1 B1 A2; do grep -a '^fsm' "$mig_tmp/$n.out.log" | tail -1 | sed "s/^/# guest at $n: /"; done
done_line=$(grep -a 'fsm done' "$mig_tmp/A2.out.log" | tr -d '\r' || true)
echo "$done_line" | grep -q 'bad=0 verify=ok' || ok=1
lines=$(echo "$done_line" | sed -n 's/.*lines=\([0-9]*\).*/\1/p')
python3 -c 'import sys
want = ["line %d" % i for i in range(int(sys.argv[2]))]
sys.exit(0 if open(sys.argv[1]).read().splitlines() == want else 1)' \
	"$mig_tmp/A-data/log.txt" "${lines:-0}" || ok=1
tap 9 "$ok" "the probe ended at A: every byte read right, A's log.txt has its ${lines:-0} lines in order, none twice or lost ($done_line)"

# Forwarded again, then A's hostrpcd dies.
wait_for 20 grep -aq 'fscut [0-9]* ok' "$mig_tmp/A2.out.log" || true
mig_qemu B2 B incoming
sleep 2
rc=0
mig_migrate A2 B2 || rc=$?
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
ffs=$(mig_json "$mig_tmp/mig.json" "d['fs_forwarded']" 2> /dev/null || echo -1)
ok=0
[ "$rc" = 0 ] && [ "$ffs" = 1 ] || ok=1
wait_for 20 grep -aq 'fscut [0-9]* ok' "$mig_tmp/B2.out.log" || ok=1
n=$(grep -a 'fscut [0-9]* ok' "$mig_tmp/B2.out.log" | tail -1 | sed -n 's/fscut \([0-9]*\) ok.*/\1/p')
[ -e "$mig_tmp/A-data/cut-${n:-x}" ] || ok=1
tap 10 "$ok" "to B again: new files the guest makes in data at B land in A's directory (cut-${n:-?})"

# On to C, which has no "data" either: A's remnant re-points to C.
mig_qemu C1 C incoming
sleep 2
rc=0
mig_migrate B2 C1 || rc=$?
sed 's/^/# /' "$mig_tmp/mig.json"
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
rep=$(mig_json "$mig_tmp/mig.json" "d['fs_repointed']" 2> /dev/null || echo -1)
ok=0
[ "$rc" = 0 ] && [ "$rep" = 1 ] || ok=1
wait_for 10 grep -q "remnant: 0 connections and the guest's files now forwarded to $(mig_ip C)" "$A/hostrpcd.log" || ok=1
tap 11 "$ok" "B -> C, which has no export data: A's remnant links to C for the files (exit $rc, fs_repointed $rep)"

ok=0
wait_for 10 eval "! kill -0 $mig_qemu_B2 2>/dev/null" || ok=1
"$ctl" --admin-socket "$C/admin.sock" locations g1 > "$mig_tmp/loc-c.txt" 2>&1 || ok=1
sed 's/^/# C: /' "$mig_tmp/loc-c.txt"
grep -q "files of export data .*$(mig_ip A)" "$mig_tmp/loc-c.txt" || ok=1
n0=$(grep -a 'fscut [0-9]* ok' "$mig_tmp/B2.out.log" | tail -1 | sed -n 's/fscut \([0-9]*\) ok.*/\1/p')
wait_for 20 grep -aq 'fscut [0-9]* ok' "$mig_tmp/C1.out.log" || ok=1
n=$(grep -a 'fscut [0-9]* ok' "$mig_tmp/C1.out.log" | tail -1 | sed -n 's/fscut \([0-9]*\) ok.*/\1/p')
[ -e "$mig_tmp/A-data/cut-${n:-x}" ] || ok=1
tap 12 "$ok" "at C the files of data live at A (hostrpcctl locations); new ones the guest makes land at A (cut-${n:-?}, after cut-${n0:-?} at B)"

kill -KILL "$mig_daemon_A"
ok=0
wait_for 30 grep -aEq 'fscut [0-9]* fail.*(Input/output|I/O) error' "$mig_tmp/C1.out.log" || ok=1
cut=$(grep -a 'fscut [0-9]* fail' "$mig_tmp/C1.out.log" | head -1 | tr -d '\r' || true)
echo "# guest: $cut"
tap 13 "$ok" "A's hostrpcd killed: the guest's next call on data fails with EIO, nothing hangs"

ok=0
n=$(echo "$cut" | sed -n 's/fscut \([0-9]*\) fail.*/\1/p')
wait_for 20 grep -aq "fscommon $((${n:-0} + 2)) ok" "$mig_tmp/C1.out.log" || ok=1
touch "$mig_tmp/A-common/stop"
wait_for 30 grep -aq 'HOSTRPC-GUEST-EXIT 0' "$mig_tmp/C1.out.log" || ok=1
grep -aq 'fscommon [0-9]* fail' "$mig_tmp/A2.out.log" "$mig_tmp/B2.out.log" "$mig_tmp/C1.out.log" && ok=1
tap 14 "$ok" "export common served on at C (local: unaffected by the cut); the guest exited 0"

ok=0
kill -0 "$mig_daemon_B" 2> /dev/null && kill -0 "$mig_daemon_C" 2> /dev/null || ok=1
grep -E 'CRITICAL|fenced' "$B/hostrpcd.log" "$C/hostrpcd.log" | sed 's/^/# /' && ok=1
grep -q 'files of exports that live there are gone' "$C/hostrpcd.log" || ok=1
tap 15 "$ok" "B's and C's hostrpcd up, nothing fenced; C logged the lost link"
