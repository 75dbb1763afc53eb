#!/bin/bash
# hostrpc-guest-exec against a QEMU (TCG) guest over virtio-serial: stdout
# and stderr kept apart, 72 MiB of output streamed intact (qemu-guest-agent
# caps at 16 MiB), 16 MiB of stdin passed through, exit codes, signals,
# timeout, a missing program, two commands at once on the two channels, and
# a host that disconnects mid-command (the guest's command is killed and the
# channel serves the next host).
. "$(dirname "$0")/lib.sh"
gs_vm_prepare
echo "1..12"

gs_vm_start
ok $? "guest booted, guestrpcd ready"
x() { "$gexec" "$@"; }

x -n "$gs_sock0" -- sh -c 'echo o1; echo e1 >&2; echo o2; echo e2 >&2; exit 0' > "$gs_work/o" 2> "$gs_work/e"
ok $([ "$(cat "$gs_work/o")" = "$(printf 'o1\no2')" ] && [ "$(cat "$gs_work/e")" = "$(printf 'e1\ne2')" ]; echo $?) \
	"stdout and stderr kept apart"

want=$(head -c 75497472 /dev/zero | md5sum | cut -d' ' -f1)
t0=$(date +%s.%N)
got=$(x -n "$gs_sock0" -- dd if=/dev/zero bs=1M count=72 2>/dev/null | md5sum | cut -d' ' -f1)
t1=$(date +%s.%N)
ok $([ "$got" = "$want" ]; echo $?) "72 MiB of output streamed intact ($(calc "72 / ($t1 - $t0)") MiB/s)"

head -c 16777216 /dev/urandom > "$gs_work/in"
t0=$(date +%s.%N)
got=$(x "$gs_sock0" -- md5sum < "$gs_work/in" | cut -d' ' -f1)
t1=$(date +%s.%N)
ok $([ "$got" = "$(md5sum < "$gs_work/in" | cut -d' ' -f1)" ]; echo $?) \
	"16 MiB of stdin passed through ($(calc "16 / ($t1 - $t0)") MiB/s)"

x -n "$gs_sock0" -- sh -c 'exit 3'
ok $([ $? = 3 ]; echo $?) "exit code 3"
x -n "$gs_sock0" -- sh -c 'kill -USR1 $$'
ok $([ $? = 138 ]; echo $?) "killed by SIGUSR1: 128+10"
t0=$(date +%s)
x -n -t 2 "$gs_sock0" -- sleep 60 2>/dev/null
rc=$?
ok $([ $rc = 124 ] && [ $(( $(date +%s) - t0 )) -lt 20 ]; echo $?) "timeout after 2 s: 124"
x -n "$gs_sock0" -- /no/such/program 2>/dev/null
ok $([ $? = 127 ]; echo $?) "missing program: 127"

"$gexec" -n "$gs_sock0" -- sh -c 'sleep 2; echo A' > "$gs_work/a" &
pa=$!
"$gexec" -n "$gs_sock1" -- sh -c 'sleep 2; echo B' > "$gs_work/b" &
pb=$!
t0=$(date +%s.%N)
wait $pa $pb
t1=$(date +%s.%N)
ok $([ "$(cat "$gs_work/a")" = A ] && [ "$(cat "$gs_work/b")" = B ] && lt "$t1 - $t0" 3.9; echo $?) \
	"two commands at once on the two channels ($(calc "$t1 - $t0") s for 2x2 s)"

# A host that goes away mid-command: the agent kills the command's group.
"$gexec" -n "$gs_sock0" -- sh -c 'echo $$ > /tmp/victim; exec sleep 600' &
p=$!
sleep 2
kill -KILL $p
wait $p 2>/dev/null
sleep 1
out=$(x -n "$gs_sock0" -- sh -c 'kill -0 $(cat /tmp/victim) 2>/dev/null && echo alive || echo gone')
ok $([ "$out" = gone ]; echo $?) "host vanished mid-command: the guest command was killed ($out)"
out=$(x -n "$gs_sock0" -- echo still-serving)
ok $([ "$out" = still-serving ]; echo $?) "the channel serves the next host"

gs_vm_stop
ok $(grep -q GUESTRPC-DONE "$gs_work/out.log"; echo $?) "guest shut down cleanly"
[ $failed = 0 ]
