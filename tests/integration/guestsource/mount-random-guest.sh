#!/bin/bash
# A guest agent that answers every filesystem call with random bytes (a
# random status, random inline reply often of exactly the expected size,
# random reply bulk): hostrpc-guestmount must mount, stay up and keep
# answering (mostly EIO), never crash or hang, refuse what breaks the
# protocol (it says how many replies it refused when it exits: random
# answers must give some), and unmount cleanly.  Three seeds.
. "$(dirname "$0")/lib.sh"
need_fuse
[ -x "$fake" ] || skip_all "fake-guest not built"
echo "1..15"

for seed in 1 77 4242; do
	sock=$work/guest$seed.sock
	mnt=$work/mnt$seed
	FAKE_GUEST_RANDOM=$seed "$fake" "$sock" 2>"$work/fake$seed.log" &
	pids+=($!)
	wait_for 5 eval "[ -S '$sock' ]"
	# This mount's own log: the lines mount.log gets from here on.
	from=$(($(cat "$work/mount.log" 2>/dev/null | wc -l) + 1))
	mount_guest "$sock" / "$mnt" --cache=none --timeout=5
	ok $? "seed $seed: mounted (the random guest's MOUNT answer was a directory)"
	timeout 60 sh -c "for i in \$(seq 1 150); do
		ls -la '$mnt' '$mnt/d\$i' ; stat '$mnt/a\$i'; cat '$mnt/b\$i'; readlink '$mnt/l\$i'
		echo x > '$mnt/w\$i'; mkdir '$mnt/m\$i'; mv '$mnt/a\$i' '$mnt/c\$i'; df '$mnt'
		getfattr -d '$mnt/x\$i'; find '$mnt' -maxdepth 2
	done" > /dev/null 2>&1
	rc=$?
	ok $([ $rc != 124 ]; echo $?) "seed $seed: 150 rounds of calls finish (no hang)"
	ok $(kill -0 $mount_pid 2>/dev/null; echo $?) "seed $seed: hostrpc-guestmount is still running (no crash)"
	fusermount3 -u "$mnt" && wait_for 10 eval "! kill -0 $mount_pid 2>/dev/null"
	ok $? "seed $seed: unmounted, the tool exited"
	tail -n +"$from" "$work/mount.log" > "$work/mount$seed.log"
	v=$(sed -n 's/.* \([0-9][0-9]*\) guest protocol violations, each refused with EIO$/\1/p' \
		"$work/mount$seed.log")
	ok $([ "${v:-0}" -gt 0 ]; echo $?) "seed $seed: the tool refused ${v:-no} replies as protocol violations"
	[ "${v:-0}" -gt 0 ] || sed 's/^/# /' "$work/mount$seed.log" | tail -n 5
done
[ $failed = 0 ]
