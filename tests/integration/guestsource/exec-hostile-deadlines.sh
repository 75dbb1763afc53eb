#!/bin/bash
# A guest agent that tries to hang hostrpc-guest-exec (fake-guest behind its
# relay): a command that never ends and ignores KILL, a START reply trickled
# 1 byte per 100 ms, a guest that stops reading (or sips 4 KiB per 100 ms)
# while stdin is pumped to it.  The host tool must end by its own clock:
#  - --timeout=1: exit 124 once the guest's kill is 3 s late;
#  - SIGTERM / SIGINT: 128+N once the forwarded signal is 3 s (--grace)
#    late, at once on a second signal or before the command started;
#  - --call-timeout=2: a trickled reply or a stuck send ends it (exit 125)
#    by then, however the guest trickles.
# Each bound is checked; a tool still running past it is killed (and fails).
. "$(dirname "$0")/lib.sh"
[ -x "$gexec" ] && [ -x "$fake" ] || skip_all "hostrpc-guest-exec or fake-guest not built"
echo "1..11"

sock=$work/guest.sock
FAKE_GUEST_RELAY=1 "$fake" "$sock" 2>"$work/fake.log" &
pids+=($!)
wait_for 5 eval "[ -S '$sock' ]"

now() { date +%s.%N; }
since() { calc "$(now) - $1"; }
starts() { grep -c "START" "$work/fake.log"; }
# run_bg ARGS...: hostrpc-guest-exec in the background, stdin from $stdin;
# sets $gpid and remembers how many commands the guest had started.
stdin=/dev/null
run_bg() {
	before=$(starts)
	"$gexec" "$@" < "$stdin" > "$work/o" 2> "$work/e" &
	gpid=$!
	pids+=($gpid)
}
wait_started() { wait_for 10 eval "[ \$(starts) -gt $before ]"; }
# reap SECONDS: wait for $gpid to end (killing it after SECONDS); sets $rc.
reap() {
	wait_for "$1" eval "! kill -0 $gpid 2>/dev/null" || kill -KILL $gpid 2>/dev/null
	wait $gpid
	rc=$?
}

t0=$(now)
run_bg -n -t 1 "$sock" -- ignore
reap 15
t=$(since "$t0")
ok $([ $rc = 124 ] && lt "$t" 5.5; echo $?) \
	"--timeout=1, a guest that never ends the command: exit 124 in ${t}s (rc $rc)"
ok $(grep -q "timed out" "$work/e"; echo $?) "and says so ($(head -c 100 "$work/e"))"

for s in TERM INT; do
	run_bg -n "$sock" -- ignore
	wait_started
	t0=$(now)
	kill -$s $gpid
	reap 10
	t=$(since "$t0")
	want=$((128 + $(kill -l $s)))
	ok $([ $rc = $want ] && lt "$t" 4.5; echo $?) \
		"SIG$s, a guest that ignores it: exit $want in ${t}s (rc $rc: $(head -c 80 "$work/e"))"
done

run_bg -n --grace=0.5 "$sock" -- ignore
wait_started
t0=$(now)
kill -TERM $gpid
reap 5
t=$(since "$t0")
ok $([ $rc = 143 ] && lt "$t" 1.5; echo $?) "--grace=0.5: exit 143 in ${t}s (rc $rc)"

run_bg -n "$sock" -- ignore
wait_started
kills=$(grep -c KILL "$work/fake.log")
kill -TERM $gpid
wait_for 5 eval "[ \$(grep -c KILL '$work/fake.log') -gt $kills ]"  # the first one was forwarded
t0=$(now)
kill -TERM $gpid
reap 5
t=$(since "$t0")
ok $([ $rc = 143 ] && lt "$t" 1; echo $?) "a second SIGTERM: exit 143 at once (${t}s, rc $rc)"

run_bg -n "$sock" -- trickle
wait_started
t0=$(now)
kill -TERM $gpid
reap 5
t=$(since "$t0")
ok $([ $rc = 143 ] && lt "$t" 1; echo $?) \
	"SIGTERM while the guest trickles the START reply: exit 143 at once (${t}s, rc $rc)"

t0=$(now)
run_bg -n --call-timeout=2 "$sock" -- trickle
reap 15
t=$(since "$t0")
ok $([ $rc = 125 ] && lt "$t" 4 && grep -q "did not" "$work/e"; echo $?) \
	"a START reply trickled 1 byte per 100 ms: exit 125 in ${t}s (rc $rc: $(head -c 80 "$work/e"))"

stdin=/dev/zero
for mode in deaf sip; do
	t0=$(now)
	run_bg --call-timeout=2 "$sock" -- $mode
	reap 15
	t=$(since "$t0")
	ok $([ $rc = 125 ] && lt "$t" 4.5 && grep -q "did not" "$work/e"; echo $?) \
		"stdin pumped to a guest that is $mode: exit 125 in ${t}s (rc $rc: $(head -c 80 "$work/e"))"
done
stdin=/dev/null

"$gexec" -n "$sock" -- forged > "$work/o" 2> "$work/e"
rc=$?
ok $([ $rc = 5 ]; echo $?) "the guest is served again afterwards (rc $rc)"
[ $failed = 0 ]
