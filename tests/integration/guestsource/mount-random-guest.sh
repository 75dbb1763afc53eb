#!/bin/bash
# A guest agent that answers every filesystem call with random bytes (a
# random status, random inline reply often of exactly the expected size,
# random reply bulk): hostrpc-guestmount must stay up and keep answering
# (mostly EIO), never crash or hang, and unmount cleanly.  Three seeds.
. "$(dirname "$0")/lib.sh"
need_fuse
[ -x "$fake" ] || skip_all "fake-guest not built"
echo "1..9"

for seed in 1 77 4242; do
	sock=$work/guest$seed.sock
	mnt=$work/mnt$seed
	FAKE_GUEST_RANDOM=$seed "$fake" "$sock" 2>"$work/fake$seed.log" &
	pids+=($!)
	wait_for 5 eval "[ -S '$sock' ]"
	mount_guest "$sock" / "$mnt" --cache=none --timeout=5
	timeout 60 sh -c "for i in \$(seq 1 150); do
		ls -la '$mnt' '$mnt/d\$i' ; stat '$mnt/a\$i'; cat '$mnt/b\$i'; readlink '$mnt/l\$i'
		echo x > '$mnt/w\$i'; mkdir '$mnt/m\$i'; mv '$mnt/a\$i' '$mnt/c\$i'; df '$mnt'
		getfattr -d '$mnt/x\$i'; find '$mnt' -maxdepth 2
	done" > /dev/null 2>&1
	rc=$?
	ok $([ $rc != 124 ]; echo $?) "seed $seed: 150 rounds of calls finish (no hang)"
	ok $(kill -0 $mount_pid 2>/dev/null; echo $?) "seed $seed: hostrpc-guestmount is still running (no crash)"
	fusermount3 -u "$mnt" && wait_for 10 eval "! kill -0 $mount_pid 2>/dev/null"
	ok $? "seed $seed: unmounted, the tool exited ($(grep -c 'protocol violation' "$work/mount.log") violations logged so far)"
done
[ $failed = 0 ]
