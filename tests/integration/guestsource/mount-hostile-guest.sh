#!/bin/bash
# A hostile guest agent (fake-guest) against hostrpc-guestmount: names with
# '/' or NUL and ".." with a node in a listing, forged handles (the root or
# the parent returned for a child), a handle that changes type, impossible
# sizes and modes, READ returning more than asked, a symlink target with a
# NUL, impossible errnos - each is refused with EIO and the mount keeps
# serving.  Then the guest stops answering: the call fails after --timeout,
# every later one is ENOTCONN at once, and the mount unmounts cleanly.
. "$(dirname "$0")/lib.sh"
need_fuse
[ -x "$fake" ] || skip_all "fake-guest not built"
echo "1..20"

sock=$work/guest.sock
mnt=$work/mnt
"$fake" "$sock" 2>"$work/fake.log" &
fake_pid=$!
pids+=("$fake_pid")
wait_for 5 eval "[ -S '$sock' ]"
mount_guest "$sock" / "$mnt" --cache=none --timeout=2
ok $? "mounted the fake guest"

ls "$mnt" > "$work/ls" 2>&1
ok $(grep -qx good "$work/ls" && grep -qx dir "$work/ls"; echo $?) "a good listing is shown"
cat "$mnt/good" > "$work/good" 2>&1
ok $(grep -qx hello "$work/good"; echo $?) "a good file reads"

eio() {  # eio DESCRIPTION COMMAND...: the command fails with EIO
	local d=$1
	shift
	"$@" > "$work/out" 2>&1
	local rc=$?
	[ $rc != 0 ] && grep -q "Input/output error" "$work/out"
	ok $? "$d (rc $rc: $(head -c 100 "$work/out" | tr '\n' ' '))"
}
eio "listing with '/', NUL and '..'-with-a-node: refused" ls "$mnt/evil"
eio "lookup returning the root's handle: refused" stat "$mnt/rootalias"
eio "lookup returning the parent itself (a loop): refused" stat "$mnt/dir/self"
eio "a handle that changes type: refused" stat "$mnt/typechange"
eio "size 2^64-1: refused" stat "$mnt/hugesize"
eio "impossible file type bits: refused" stat "$mnt/badmode"
eio "READ claiming more than asked: refused" cat "$mnt/bigread"
eio "symlink target with a NUL: refused" readlink -v "$mnt/badlink"
eio "errno 512 (ERESTARTSYS) never reaches the kernel" stat "$mnt/weirderrno"
eio "statfs with more free blocks than blocks: refused" df "$mnt"
stat "$mnt/nosys" > "$work/out" 2>&1
ok $(grep -q "Operation not supported" "$work/out"; echo $?) "ENOSYS from the guest becomes EOPNOTSUPP"
ok $(grep -q "protocol violation" "$work/mount.log"; echo $?) "violations are logged"

# The guest stops answering - and stops reading, so a big write blocks in
# send: the other call's time-out must still end it (no lock held across).
( exec 3<>"$mnt/good"; sleep 1; dd if=/dev/zero bs=1M count=16 >&3 2>/dev/null ) &
wp=$!
sleep 0.3
start=$(date +%s.%N)
stat "$mnt/mute" > "$work/out" 2>&1
rc=$?
t=$(calc "$(date +%s.%N) - $start")
ok $([ $rc != 0 ] && lt "$t" 8; echo $?) "a mute guest: the call fails after the timeout (${t}s: $(head -c 80 "$work/out"))"
wait $wp
wrc=$?
t=$(calc "$(date +%s.%N) - $start")
ok $([ $wrc != 0 ] && lt "$t" 8; echo $?) "a 16 MiB write stuck in send behind it fails too (${t}s, rc $wrc)"
start=$(date +%s.%N)
stat "$mnt/good" > "$work/out" 2>&1
rc=$?
t=$(calc "$(date +%s.%N) - $start")
ok $([ $rc != 0 ] && grep -q "not connected" "$work/out" && lt "$t" 1; echo $?) \
	"then every call is ENOTCONN at once (${t}s)"
t0=$(date +%s.%N)
fusermount3 -u "$mnt"
ok $? "unmount works"
wait_for 30 eval "! kill -0 $mount_pid 2>/dev/null"
ok $? "hostrpc-guestmount exited after the unmount ($(calc "$(date +%s.%N) - $t0") s)"
if kill -0 $mount_pid 2>/dev/null; then
	for t in /proc/$mount_pid/task/*; do echo "# thread ${t##*/}: $(cat $t/wchan 2>/dev/null) $(cat $t/stat 2>/dev/null | cut -d' ' -f3)"; done
	sed 's/^/# /' "$work/mount.log"
fi
[ $failed = 0 ]
