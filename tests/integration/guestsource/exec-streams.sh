#!/bin/bash
# hostrpc-guest-exec against the real agent (guestrpcd --listen, a process
# guest): stdout and stderr kept apart, 96 MiB of output streamed intact
# (no cap) also through a slow reader (credit flow control), stdin passed
# through (32 MiB), exit codes, signals, timeout, exec errors, env and cwd,
# and several commands at once on separate channels.
. "$(dirname "$0")/lib.sh"
[ -x "$gexec" ] && [ -x "$agent" ] || skip_all "hostrpc-guest-exec or guestrpcd not built"
echo "1..14"

sock=$work/agent.sock
start_agent "$sock"
ok $? "agent listening"

"$gexec" "$sock" -- sh -c 'echo out1; echo err1 >&2; echo out2; echo err2 >&2' \
	> "$work/o" 2> "$work/e"
ok $([ "$(cat "$work/o")" = "$(printf 'out1\nout2')" ] && [ "$(cat "$work/e")" = "$(printf 'err1\nerr2')" ]; echo $?) \
	"stdout and stderr kept apart"

want=$(head -c 100663296 /dev/zero | tr '\0' 'x' | md5sum | cut -d' ' -f1)
got=$("$gexec" -n "$sock" -- sh -c 'head -c 100663296 /dev/zero | tr "\0" x' | md5sum | cut -d' ' -f1)
ok $([ "$want" = "$got" ]; echo $?) "96 MiB of stdout streamed intact"

# A slow reader: the window is 64 KiB, the reader sleeps between chunks.
slow_reader() {
	while dd bs=65536 count=1 status=none iflag=fullblock of="$work/chunk" && [ -s "$work/chunk" ]; do
		cat "$work/chunk"
		sleep 0.01
	done
}
got=$("$gexec" -n --window=65536 "$sock" -- head -c 4194304 /dev/urandom | slow_reader | wc -c)
ok $([ "$got" = 4194304 ]; echo $?) "slow reader with a 64 KiB window: all 4 MiB arrive ($got)"

head -c 33554432 /dev/urandom > "$work/in"
got=$("$gexec" "$sock" -- md5sum < "$work/in" | cut -d' ' -f1)
ok $([ "$got" = "$(md5sum < "$work/in" | cut -d' ' -f1)" ]; echo $?) "32 MiB of stdin passed through"

"$gexec" -n "$sock" -- sh -c 'exit 42'
ok $([ $? = 42 ]; echo $?) "exit code 42 comes back"
"$gexec" -n "$sock" -- sh -c 'kill -KILL $$'
ok $([ $? = 137 ]; echo $?) "killed by SIGKILL: 137"
start=$(date +%s)
"$gexec" -n -t 1 "$sock" -- sleep 30 2>/dev/null
rc=$?
ok $([ $rc = 124 ] && [ $(( $(date +%s) - start )) -lt 10 ]; echo $?) "timeout: 124, and no wait for the command (rc $rc)"
"$gexec" -n "$sock" -- /nonexistent 2>/dev/null
ok $([ $? = 127 ]; echo $?) "a missing program: 127"
"$gexec" -n "$sock" -- /etc/passwd 2>/dev/null
ok $([ $? = 126 ]; echo $?) "a file that is not executable: 126"
out=$("$gexec" -n -e HRPC_T=v1 -C /tmp "$sock" -- sh -c 'echo $HRPC_T $(pwd)')
ok $([ "$out" = "v1 /tmp" ]; echo $?) "environment and working directory ($out)"
out=$("$gexec" -n --clear-env -e ONLY=1 "$sock" -- /usr/bin/env)
ok $([ "$out" = "ONLY=1" ]; echo $?) "--clear-env ($out)"

# A signal to the host tool reaches the command's process group (once
# the command has set its trap: it says so in a file - the agent is a
# process on this machine).
rm -f "$work/trapped"
"$gexec" -n "$sock" -- sh -c "trap 'exit 7' TERM; : > '$work/trapped'; sleep 30 & wait" &
p=$!
wait_for 10 test -e "$work/trapped"
started=$?
kill -TERM $p
wait $p
rc=$?
ok $([ $started = 0 ] && [ $rc = 7 ]; echo $?) "SIGTERM forwarded to the guest command (rc $rc, want 7$([ $started = 0 ] || echo "; it never started in 10 s"))"

# Several at once: each tool has its own channel (connection).
jobs=()
for i in 1 2 3 4; do
	"$gexec" -n "$sock" -- sh -c "sleep 1; echo job$i" > "$work/job$i" &
	jobs+=($!)
done
wait "${jobs[@]}"
ok $([ "$(cat "$work"/job*)" = "$(printf 'job1\njob2\njob3\njob4')" ]; echo $?) "four commands at once"
[ $failed = 0 ]
