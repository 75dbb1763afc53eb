#!/bin/bash
# A hostile guest agent (fake-guest) against hostrpc-guest-exec: OUTPUT
# events for another command, with a size that is not the payload's, on a
# stream that does not exist, an EXIT for another command - all ignored;
# output far beyond the flow-control window - the session is dropped (exit
# 125) instead of buffering without end; impossible exit codes and signals
# - exit 125, never a made-up status.
. "$(dirname "$0")/lib.sh"
[ -x "$gexec" ] && [ -x "$fake" ] || skip_all "hostrpc-guest-exec or fake-guest not built"
echo "1..6"

sock=$work/guest.sock
"$fake" "$sock" 2>"$work/fake.log" &
pids+=($!)
wait_for 5 eval "[ -S '$sock' ]"

"$gexec" -n "$sock" -- forged > "$work/o" 2> "$work/e"
rc=$?
ok $([ $rc = 5 ]; echo $?) "forged events ignored: the real command's exit code 5 (rc $rc)"
ok $([ "$(cat "$work/o")" = ok ]; echo $?) "only the real command's output was written ($(head -c 40 "$work/o" | tr '\n' ' '))"

"$gexec" -n --window=1048576 "$sock" -- flood > "$work/o" 2> "$work/e"
rc=$?
size=$(stat -c %s "$work/o")
ok $([ $rc = 125 ]; echo $?) "a guest flooding past the window: exit 125 ($(head -c 80 "$work/e"))"
ok $([ "$size" -le $((3 << 20)) ]; echo $?) "no more than 2 windows + 1 MiB were taken in ($size bytes)"

"$gexec" -n "$sock" -- badexit 2>/dev/null
rc=$?
ok $([ $rc = 125 ]; echo $?) "exit code 999: exit 125 (rc $rc)"
"$gexec" -n "$sock" -- badsig 2>/dev/null
rc=$?
ok $([ $rc = 125 ]; echo $?) "signal 200: exit 125 (rc $rc)"
[ $failed = 0 ]
