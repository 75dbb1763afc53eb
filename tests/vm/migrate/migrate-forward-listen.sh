#!/usr/bin/env bash
# VM test: a listener bound to an address only the source has (issue 14
# item 1): the guest listens on 127.0.0.1 (its namespace's loopback at A).
#
#   A -> B: the listener moves (B's loopback has it too) and A's remnant
#           keeps a copy: a client at A connects after the move and the
#           guest at B accepts it (migfwd.h ACCEPT), sees the client's own
#           address, and echoes every byte through the forward link.
#   B -> C: A's remnant's link, which carries only the copy (the open
#           connection of the first move ended), is held and re-pointed to
#           C: a client at A is accepted by the guest at C.
#   C -> A: the guest comes back; the remnant's copy is the guest's
#           listener again (its address is taken here): clients at A are
#           served locally.
#
# Checks: the moves exit 0 (listen_forwarded 1); a client at A before, after
# and after the return gets every byte back; the guest's accept reports the
# client's address at A; hostrpcctl locations at B lists the forwarded
# connection living at A; A's remnant ends after the return.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
. "$top_srcdir/tests/vm/migrate/lib.sh"
command -v python3 > /dev/null || vm_skip "python3 missing"
MIG_THIRD_HOST=1
mig_setup
trap mig_cleanup EXIT
vm_watchdog 300

SECS=${FWD_SECS:-100}
ctl=$top_builddir/hostrpc/daemon/hostrpcctl
client=$top_srcdir/tests/vm/migrate/lis-client.py

echo "1..9"
mig_fwd_prepare A
mig_hostrpcd C
${CC:-gcc} -static -O2 -std=gnu11 -o "$mig_tmp/listen-echo" \
	"$top_srcdir/tests/vm/migrate/guest/listen-echo.c" 2> "$mig_tmp/cc.log" ||
	{ cat "$mig_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (libc6-dev)"; }
lport=$((mig_lport + 3))
mig_initrd "/hostrpc/listen-echo $lport $SECS" "$mig_tmp/listen-echo"
mig_qemu A1 A
mig_up A1 'lis up'
# A client at A: in A's guest namespace, where 127.0.0.1 is the guest's.
at_a() { ip netns exec "$mig_p-gA" python3 "$client" 127.0.0.1 "$lport" "$1"; }

ok=0
out=$(at_a 200000 || true)
echo "# client at A: $out"
case "$out" in ok\ bytes=200000*) ;; *) ok=1 ;; esac
tap 1 "$ok" "a client at A gets every byte back from the guest's listener on 127.0.0.1"

mig_qemu B1 B incoming
sleep 1
rc=0
mig_migrate A1 B1 || rc=$?
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
lf=$(mig_json "$mig_tmp/mig.json" "d['listen_forwarded']" 2> /dev/null || echo -1)
ok=0
[ "$rc" = 0 ] && [ "$lf" = 1 ] || ok=1
tap 2 "$ok" "A -> B: the listener moves, a copy stays at A (exit $rc, listen_forwarded $lf)"

ok=0
out=$(at_a 300000 || true)
echo "# client at A after the move: $out"
case "$out" in ok\ bytes=300000*) ;; *) ok=1 ;; esac
cport=${out##*:}
grep -a 'lis ' "$mig_tmp/B1.out.log" | tr -d '\r' | sed 's/^/# guest at B: /'
grep -aq "lis accept 2 peer=127.0.0.1:$cport local=127.0.0.1:$lport" "$mig_tmp/B1.out.log" || ok=1
tap 3 "$ok" "after the move a client at A is accepted by the guest at B, which sees the client's address, and gets every byte back"

ok=0
out=$(ip netns exec "$mig_p-gA" python3 - "$lport" <<'PY' || true
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"x" * 1000)
got = b""
while len(got) < 1000:
    got += s.recv(1000)
import time
time.sleep(4)   # open while hostrpcctl looks
print("held", len(got))
PY
) &
hold=$!
sleep 2
"$ctl" --admin-socket "$B/admin.sock" locations g1 2>&1 | sed 's/^/# B: /'
"$ctl" --admin-socket "$A/admin.sock" locations g1 2>&1 | sed 's/^/# A: /'
"$ctl" --admin-socket "$B/admin.sock" locations g1 2>&1 | grep -q "127.0.0.1:$lport .*10.77.0.2" || ok=1
wait "$hold" || true
tap 4 "$ok" "hostrpcctl locations at B lists the open forwarded connection living at A"

sleep 2
mig_qemu C1 C incoming
sleep 1
rc=0
mig_migrate B1 C1 || rc=$?
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
ok=0
[ "$rc" = 0 ] || ok=1
grep -q 'remnant: 1 connections now forwarded to 10.77.0.4' "$A/hostrpcd.log" || ok=1
tap 5 "$ok" "B -> C: A's remnant's link, with only the listener's copy, follows to C (exit $rc)"

ok=0
out=$(at_a 300000 || true)
echo "# client at A, the guest at C: $out"
case "$out" in ok\ bytes=300000*) ;; *) ok=1 ;; esac
cport=${out##*:}
grep -a 'lis ' "$mig_tmp/C1.out.log" | tr -d '\r' | sed 's/^/# guest at C: /'
grep -aq "lis accept [0-9]* peer=127.0.0.1:$cport local=127.0.0.1:$lport" "$mig_tmp/C1.out.log" || ok=1
tap 6 "$ok" "a client at A is accepted by the guest at C and gets every byte back"

sleep 1
mig_qemu A2 A incoming
sleep 1
rc=0
mig_migrate C1 A2 || rc=$?
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
grep -E 'listener|remnant|local again' "$A/hostrpcd.log" | sed 's/^/# A: /'
ok=0
[ "$rc" = 0 ] || ok=1
grep -q "the remnant's copy is the guest's again" "$A/hostrpcd.log" || ok=1
tap 7 "$ok" "C -> A: the remnant's copy of the listener is the guest's again (exit $rc)"

ok=0
out=$(at_a 300000 || true)
echo "# client at A after the return: $out"
case "$out" in ok\ bytes=300000*) ;; *) ok=1 ;; esac
wait_for 20 eval "grep -q 'worker .* exited with status 6' '$A/hostrpcd.log'" || ok=1
tap 8 "$ok" "back at A a client is served locally; the remnant ended"

ok=0
for h in A B C; do kill -0 "$(eval "echo \$mig_daemon_$h")" 2> /dev/null || ok=1; done
grep -E 'CRITICAL|fenced' "$A/hostrpcd.log" "$B/hostrpcd.log" "$C/hostrpcd.log" | sed 's/^/# /' && ok=1
tap 9 "$ok" "the three daemons up, nothing fenced"
