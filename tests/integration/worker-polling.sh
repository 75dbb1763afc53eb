#!/bin/sh
# worker-polling - hostrpcd --poll: after serving calls a worker spins on its
# guest's rings (adaptive budget, a spinner count shared by all workers)
# before it sleeps, so a guest in a request/response loop finds it awake and
# rings no doorbell.  Checked by what the guest counts, not by timing: a
# process guest (hostrpc-ping, spinning for its replies) makes 3000 calls
# through a real hostrpcd worker; with --poll=off it has to ring for most of
# 30 % or more of them (most, on an idle host), with --poll=2000 for under
# 10 % (about 1 %).  Bad values are refused with a
# message, and the daemon says which polling it chose.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/lib.sh"   # wait_for, watchdog_start
hostrpcd=$top_builddir/hostrpc/daemon/hostrpcd
ping=$top_builddir/hostrpc/hostrpc-ping
calls=3000

dir=$(mktemp -d /tmp/hostrpc-itest.XXXXXX)
daemon=
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null
	kill "$watchdog" 2>/dev/null
	wait 2>/dev/null
	[ -n "${ITEST_KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
watchdog_start 120

n=0
failed=0
ok() {	# ok STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}

# start ARGS...: a private hostrpcd; its log in $dir/hostrpcd.log
start() {
	rm -rf "$dir/state" "$dir/guests.sock" "$dir/admin.sock"
	"$hostrpcd" --config /dev/null --foreground --verbose --no-fdstore --socket "$dir/guests.sock" \
		--admin-socket "$dir/admin.sock" --state-dir "$dir/state" "$@" \
		> "$dir/hostrpcd.log" 2>&1 &
	daemon=$!
	wait_for 30 eval 'grep -q "ready:" "$dir/hostrpcd.log" && [ -S "$dir/guests.sock" ]' && return 0
	sed 's/^/# hostrpcd: /' "$dir/hostrpcd.log"
	return 1
}
stop() {
	kill "$daemon" 2>/dev/null
	wait "$daemon" 2>/dev/null
	daemon=
}
# doorbells NAME: run the guest, print the doorbells it rang ("" if it failed)
doorbells() {
	"$ping" --socket "$dir/guests.sock" --name "$1" --count $calls --spin-us 200 \
		> "$dir/$1.out" 2>&1 || { sed 's/^/# /' "$dir/$1.out" >&2; return 1; }
	sed -n 's/.*doorbells \([0-9]*\)$/\1/p' "$dir/$1.out"
}

echo "1..7"

start --poll=off
ok $? "hostrpcd starts with --poll=off"
grep -q 'polling: off' "$dir/hostrpcd.log"
ok $? "it says polling is off"
d=$(doorbells asleep | tail -n 1)
sed 's/^/# /' "$dir/asleep.out"
[ -n "$d" ] && [ "$d" -ge $((calls * 3 / 10)) ]
ok $? "--poll=off: the guest rang for 30 % or more of its $calls calls (${d:-?} doorbells)"
stop

start --poll=2000 --poll-spinners=1
grep -q 'polling: a worker spins up to 2000 us after serving calls, at most 1 at once' \
	"$dir/hostrpcd.log"
ok $? "hostrpcd --poll=2000 --poll-spinners=1 says what it does"
d=$(doorbells awake | tail -n 1)
sed 's/^/# /' "$dir/awake.out"
[ -n "$d" ] && [ "$d" -lt $((calls / 10)) ]
ok $? "--poll=2000: the guest rang for under 10 % of its calls: the worker was awake (${d:-?} doorbells for $calls)"
stop

"$hostrpcd" --config /dev/null --foreground --no-fdstore --socket "$dir/x.sock" --admin-socket "$dir/xa.sock" \
	--state-dir "$dir/xstate" --poll=fast > "$dir/bad.log" 2>&1
st=$?
sed 's/^/# /' "$dir/bad.log"
[ $st -ne 0 ] && grep -q -- '--poll: "fast" is not auto, off or 0..' "$dir/bad.log"
ok $? "--poll=fast is refused with a message (exit $st)"

cpus=$(getconf _NPROCESSORS_ONLN)
start
if [ "$cpus" -ge 4 ]; then
	grep -q 'polling: a worker spins up to 200 us' "$dir/hostrpcd.log"
else
	grep -q "polling: off ($cpus online CPUs; auto needs 4)" "$dir/hostrpcd.log"
fi
ok $? "--poll=auto on $cpus online CPUs: $(sed -n 's/.*\(polling: .*\)/\1/p' "$dir/hostrpcd.log")"
stop
exit $failed
