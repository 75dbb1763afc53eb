#!/bin/bash
# A guest agent that tries to hang hostrpc-guestmount or take its memory
# (fake-guest behind its relay, so it can misbehave below the protocol):
#  - a listing whose cookie never advances, and one without end: EIO at
#    once (and at --max-dir-entries), not a listing that never ends while
#    the host's memory fills - and the mount keeps serving;
#  - a guest that stops reading in the middle of a 16 MiB write, and one
#    that reads it 4 KiB per 100 ms: the write fails by --timeout (2 s),
#    though no other call is waiting (before: after 30 s without progress
#    for the first, ~22 s for the second, which keeps making progress);
#  - a reply trickled 1 byte per 100 ms: the call fails by --timeout (it
#    did before too: a regression check);
# after each the mount answers ENOTCONN and unmounts.
. "$(dirname "$0")/lib.sh"
need_fuse
[ -x "$fake" ] || skip_all "fake-guest not built"
echo "1..15"

sock=$work/guest.sock
mnt=$work/mnt
FAKE_GUEST_RELAY=1 "$fake" "$sock" 2>"$work/fake.log" &
pids+=($!)
wait_for 5 eval "[ -S '$sock' ]"

now() { date +%s.%N; }
since() { calc "$(now) - $1"; }
unmount() {
	fusermount3 -u "$mnt"
	wait_for 10 eval "! kill -0 $mount_pid 2>/dev/null"
}

mount_guest "$sock" / "$mnt" --cache=none --timeout=2
ok $? "mounted the fake guest (--timeout=2)"

t0=$(now)
timeout 20 ls -f "$mnt/loopdir" > "$work/ls" 2> "$work/err"
rc=$?
t=$(since "$t0")
ok $([ $rc != 0 ] && [ $rc != 124 ] && grep -q "Input/output error" "$work/err" && lt "$t" 3; echo $?) \
	"a cookie that does not advance: EIO in ${t}s (rc $rc, $(wc -l < "$work/ls") names)"
ok $([ "$(cat "$mnt/good" 2>&1)" = hello ]; echo $?) "the mount still serves"
unmount

# Deaf: after the lookup of "deaf" the guest reads 256 KiB more, then
# nothing: the kernel's small calls before a write (GETXATTR of
# security.capability) get through and are answered, the first 1 MiB WRITE
# stops midway - no other call is waiting whose time-out would end it.
# (Attributes cached for 60 s and fresh: no GETATTR first either.)
mount_guest "$sock" / "$mnt" --timeout=2 --cache=always
exec 3<>"$mnt/good"
stat "$mnt/good" > /dev/null
stat "$mnt/deaf" > /dev/null
t0=$(now)
timeout 40 dd if=/dev/zero bs=1M count=16 >&3 2> "$work/err"
rc=$?
t=$(since "$t0")
exec 3>&-
ok $([ $rc != 0 ] && [ $rc != 124 ] && lt "$t" 4.5; echo $?) \
	"a guest that stops reading: a 16 MiB write fails in ${t}s (rc $rc: $(grep error "$work/err" | head -c 80))"
t0=$(now)
stat "$mnt/good" > "$work/out" 2>&1
rc=$?
t=$(since "$t0")
ok $([ $rc != 0 ] && grep -q "not connected" "$work/out" && lt "$t" 1; echo $?) \
	"then every call is ENOTCONN at once (${t}s)"
unmount
ok $? "unmounted, hostrpc-guestmount exited"

mount_guest "$sock" / "$mnt" --cache=none --timeout=2 --max-dir-entries=5000
ok $? "mounted with --max-dir-entries=5000"
t0=$(now)
timeout 20 ls -f "$mnt/hugedir" > "$work/ls" 2> "$work/err"
rc=$?
t=$(since "$t0")
names=$(wc -l < "$work/ls")
ok $([ $rc != 0 ] && [ $rc != 124 ] && grep -q "Input/output error" "$work/err" && lt "$t" 10; echo $?) \
	"a listing without end: EIO in ${t}s (rc $rc)"
ok $([ "$names" -gt 0 ] && [ "$names" -le 5000 ]; echo $?) \
	"--max-dir-entries=5000: at most that many names listed ($names)"
unmount

# Sip: 4 KiB per 100 ms - progress, so a time-out restarted by progress
# never fires; the call's deadline does.
mount_guest "$sock" / "$mnt" --timeout=2 --cache=always
exec 3<>"$mnt/good"
stat "$mnt/good" > /dev/null
stat "$mnt/sip" > /dev/null
t0=$(now)
timeout 25 dd if=/dev/zero bs=1M count=16 >&3 2> "$work/err"
rc=$?
t=$(since "$t0")
exec 3>&-
ok $([ $rc != 0 ] && [ $rc != 124 ] && lt "$t" 4.5; echo $?) \
	"a guest that sips 4 KiB per 100 ms: a 16 MiB write fails in ${t}s (rc $rc)"
grep -q "unreachable" "$work/mount.log"
ok $? "the mount says why ($(grep unreachable "$work/mount.log" | tail -1 | sed 's/.*unreachable: //' | head -c 80))"
unmount
ok $? "unmounted, hostrpc-guestmount exited"

# Trickle: from the reply to "trickle" on, 1 byte per 100 ms to the host.
mount_guest "$sock" / "$mnt" --cache=none --timeout=2
t0=$(now)
timeout 25 stat "$mnt/trickle" > "$work/out" 2>&1
rc=$?
t=$(since "$t0")
ok $([ $rc != 0 ] && [ $rc != 124 ] && lt "$t" 4.5; echo $?) \
	"a reply trickled 1 byte per 100 ms: the call fails in ${t}s (rc $rc: $(head -c 80 "$work/out"))"
t0=$(now)
stat "$mnt/good" > "$work/out" 2>&1
rc=$?
t=$(since "$t0")
ok $([ $rc != 0 ] && lt "$t" 1; echo $?) "then every call fails at once (${t}s)"
unmount
ok $? "unmounted, hostrpc-guestmount exited"
[ $failed = 0 ]
