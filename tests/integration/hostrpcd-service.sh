#!/bin/sh
# hostrpcd-service - hostrpcd as a service manager runs it: --daemon forks
# into the background once ready (the caller's exit status says so),
# --pidfile holds the daemon's pid while it runs and goes when it stops;
# with NOTIFY_SOCKET (systemd Type=notify; a path or an abstract @name)
# it sends READY=1 with its MAINPID, RELOADING=1 then READY=1 around a
# SIGHUP, STOPPING=1 at shutdown; --daemon and --foreground together are
# refused.  The notify socket is played by python3.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/lib.sh"   # wait_for, watchdog_start
hostrpcd=$top_builddir/hostrpc/daemon/hostrpcd

command -v python3 >/dev/null 2>&1 || {
	echo "1..0 # SKIP python3 missing (apt-get install python3)"; exit 77; }

dir=$(mktemp -d /tmp/hostrpc-itest.XXXXXX)
listener=
cleanup() {
	[ -s "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null
	[ -n "$listener" ] && kill "$listener" 2>/dev/null
	[ -n "${fg:-}" ] && kill "$fg" 2>/dev/null
	kill "$watchdog" 2>/dev/null
	wait 2>/dev/null
	[ -n "${ITEST_KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
watchdog_start 60

n=0
failed=0
ok() {	# ok STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}

# listen ADDR LOG: a notify socket (ADDR a path or @name); one line per datagram
listen() {
	rm -f "$2" "$2.up"
	python3 -c '
import socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + a[1:] if a.startswith("@") else a)
open(sys.argv[2] + ".up", "w").close()
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " ") + "\n")
' "$1" "$2" &
	listener=$!
	wait_for 10 test -e "$2.up"
}
has() { grep -q -- "$1" "$2" 2>/dev/null; }

echo "1..10"

listen "$dir/notify" "$dir/notify.log"
# Started with the soft descriptor limit a shell gives (1024, or lower if
# the hard one is), which is too low for a guest's max-sockets.
hard=$(ulimit -Hn)
soft=1024
[ "$hard" != unlimited ] && [ "$hard" -lt $soft ] && soft=$((hard / 2))
( ulimit -Sn $soft
NOTIFY_SOCKET=$dir/notify exec "$hostrpcd" --config /dev/null --daemon --pidfile "$dir/pid" --no-fdstore \
	--socket "$dir/guests.sock" --admin-socket "$dir/admin.sock" --state-dir "$dir/state" ) \
	> "$dir/start.log" 2>&1
st=$?
sed 's/^/# /' "$dir/start.log"
pid=$(cat "$dir/pid" 2>/dev/null)
[ $st = 0 ] && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ -S "$dir/guests.sock" ]
ok $? "--daemon --pidfile: the caller returns 0 once ready, the pid file names the running daemon ($pid)"

wait_for 5 has "READY=1 MAINPID=$pid" "$dir/notify.log"
ok $? "NOTIFY_SOCKET (a path): READY=1 with MAINPID=$pid"

lim=$(awk '/^Max open files/ { print $4 " " $5 }' "/proc/$pid/limits" 2>/dev/null)
echo "# started with soft $soft, hard $hard; the daemon's: $lim"
[ "$lim" = "$hard $hard" ]
ok $? "the daemon takes the hard descriptor limit (workers inherit it): $lim"

kill -HUP "$pid"
wait_for 5 eval '[ "$(grep -c . "$dir/notify.log")" -ge 3 ]'
sed 's/^/# notify: /' "$dir/notify.log"
sed -n 2p "$dir/notify.log" | grep -q '^RELOADING=1 MONOTONIC_USEC=[0-9]*$' &&
	sed -n 3p "$dir/notify.log" | grep -q '^READY=1$'
ok $? "SIGHUP: RELOADING=1 (with MONOTONIC_USEC) then READY=1"
kill -0 "$pid" 2>/dev/null
ok $? "the daemon is still running after SIGHUP"

kill -TERM "$pid"
wait_for 10 eval '! kill -0 "$pid" 2>/dev/null'
has "STOPPING=1" "$dir/notify.log"
ok $? "SIGTERM: STOPPING=1"
wait_for 5 eval '[ ! -e "$dir/pid" ]'
ok $? "the pid file is gone once the daemon stopped"
kill "$listener" 2>/dev/null; wait "$listener" 2>/dev/null; listener=

# An abstract socket, and --foreground (the systemd Type=notify way).
listen "@hostrpc-itest-$$" "$dir/notify2.log"
NOTIFY_SOCKET=@hostrpc-itest-$$ "$hostrpcd" --config /dev/null --foreground --no-fdstore \
	--socket "$dir/guests.sock" --admin-socket "$dir/admin.sock" --state-dir "$dir/state" \
	> "$dir/fg.log" 2>&1 &
fg=$!
wait_for 10 has "READY=1 MAINPID=$fg" "$dir/notify2.log"
ok $? "NOTIFY_SOCKET=@name (abstract) with --foreground: READY=1 MAINPID=$fg"
kill -TERM "$fg"; wait "$fg" 2>/dev/null; fg=

"$hostrpcd" --daemon --foreground --socket "$dir/x.sock" > "$dir/both.log" 2>&1
st=$?
sed 's/^/# /' "$dir/both.log"
[ $st = 2 ] && has "exclude each other" "$dir/both.log"
ok $? "--daemon with --foreground is refused (exit $st)"

"$hostrpcd" --config "$dir/nowhere.conf" --socket "$dir/x.sock" > "$dir/nofile.log" 2>&1
st=$?
sed 's/^/# /' "$dir/nofile.log"
[ $st = 1 ] && has "nowhere.conf" "$dir/nofile.log"
ok $? "a --config file that is not there: exit 1 naming it"
exit $failed
