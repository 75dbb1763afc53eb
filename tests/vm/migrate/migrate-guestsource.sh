#!/usr/bin/env bash
# VM test: guest-sourcing sessions across a migration.  The guest runs the
# Guest RPC agent (guestrpcd) behind three virtio-serial ports; host A's tools
# hold all of them when hostrpc-migrate moves the guest to host B
# (tools/two-hosts, as migrate-vm.sh):
#
#   host A                                     host B
#   hostrpc-guestmount -- A1.gs0.sock --+       +-- B1.gs0.sock -- hostrpc-guestmount
#     a file open, a reader reading it  |       |                  (the same command)
#   hostrpc-guest-exec -- A1.gs1.sock --+  g1   +-- B1.gs1.sock -- hostrpc-guest-exec
#     cat /dev/zero, stopped (SIGSTOP)  | ====> |
#   hostrpc-guest-exec -- A1.gs2.sock --+       +-- B1.gs2.sock -- hostrpc-guest-exec
#     sleep 600
#
# The tools run in the test's own namespaces (a FUSE mount made under `ip
# netns exec` would be private to it); the channels are the QEMUs' unix
# sockets, the QEMUs and hostrpcds run in the hosts' namespaces.  At the
# switch the mount's channel carries reads, the second channel is full (its
# tool stopped reading: QEMU holds the port throttled, and B's QEMU restores
# it so), the third is idle.
#
# Checks: when A's QEMU quits, both guest-exec sessions end with exit 125
# and "lost the guest: the guest closed the channel" at once (the stopped
# one when it runs again); the reader's reads were all right, then
# ENOTCONN; the mount answers ENOTCONN at once - a read of the open file
# where the page cache has nothing, a lookup, a listing - hostrpc-guestmount
# says why, unmounts cleanly and exits 0; both hostrpcds live; at B the
# agent serves again: the same hostrpc-guestmount command (B's channel)
# mounts the guest's /srv and reads the file byte for byte,
# hostrpc-guest-exec runs commands on each channel - the one left throttled
# too (its first connection is reset: guestrpc/session.c) - and the
# commands A's sessions had started were ended by the agent when A's host
# left; the guest powers off cleanly at B.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
. "$top_srcdir/tests/vm/migrate/lib.sh"
command -v python3 > /dev/null || vm_skip "python3 missing"
agent=$top_builddir/guestrpc/guestrpcd
gmount=$top_builddir/guestsource/hostrpc-guestmount
gexec=$top_builddir/guestsource/hostrpc-guest-exec
[ -x "$gmount" ] || vm_skip "hostrpc-guestmount not built (configure found no fuse3)"
[ -x "$agent" ] && [ -x "$gexec" ] || vm_skip "guestrpcd / hostrpc-guest-exec not built"
file -L "$agent" 2> /dev/null | grep -q 'statically linked' ||
	vm_skip "guestrpcd is not static (glibc static libraries missing?)"
[ -c /dev/fuse ] && command -v fusermount3 > /dev/null || vm_skip "no /dev/fuse or fusermount3"
kver=$(sed -n 's/^KVER=//p' "$HOSTRPC_GUEST_DIR/env" 2> /dev/null || true)
kmods=$HOSTRPC_GUEST_DIR/kernel/lib/modules/$kver/kernel
[ -n "$kver" ] && [ -f "$kmods/drivers/char/virtio_console.ko" ] ||
	vm_skip "the guest kernel tree has no virtio_console.ko ($kmods)"
mig_setup
m=$mig_tmp/mnt
gs_cleanup() {
	exec 7<&- 2> /dev/null || true
	fusermount3 -u -z "$m" 2> /dev/null || true
	mig_cleanup
}
trap gs_cleanup EXIT
vm_watchdog 420

# The guest: the virtio console modules (tests/vm/guestsource/lib.sh's
# order), a tmpfs at /srv that only it has, the agent logging to the
# test's serial port, until the host asks it to power off.
mods="virtio/virtio_ring virtio/virtio virtio/virtio_pci_legacy_dev
	virtio/virtio_pci_modern_dev virtio/virtio_pci char/virtio_console"
files=("$agent")
for f in $mods; do files+=("$kmods/drivers/$f.ko"); done
mig_initrd "$(cat <<EOF
for m in $(for f in $mods; do printf '%s ' "${f#*/}"; done); do
	insmod /hostrpc/\$m.ko || echo "guest: insmod \$m failed"
done
mkdir -p /srv && mount -t tmpfs -o size=64m srv /srv
/hostrpc/guestrpcd -v 2>&1 &
while [ ! -e /tmp/hrpc-poweroff ]; do sleep 0.2; done
echo GUESTRPC-DONE
EOF
)" "${files[@]}"

# pyop OP PATH [ARG]: one system call on the mount; prints "ok ..." or the
# errno's name.  Bounded: a hang is "timeout".
pyop() {
	timeout 20 python3 - "$@" <<'EOF' 2>&1 || [ $? != 124 ] || echo timeout
import errno, os, sys
op, path = sys.argv[1], sys.argv[2]
try:
    if op == "pread":  # on fd 7, inherited
        r = os.pread(7, 4096, int(path))
    elif op == "stat":
        r = os.stat(path).st_size
    elif op == "listdir":
        r = len(os.listdir(path))
    print("ok", r if not isinstance(r, bytes) else len(r))
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
EOF
}

echo "1..15"
mig_hostrpcd A
mig_hostrpcd B
mig_qemu A1 A guestrpc
ok=0
wait_for 120 grep -aq 'guestrpcd: ready' "$mig_tmp/A1.out.log" || ok=1
tap 1 "$ok" "guest up at A, guestrpcd serving org.hostrpc.guest.0/.1/.2"
if [ "$ok" != 0 ]; then
	sed 's/^/# guest: /' "$mig_tmp/A1.out.log" "$mig_tmp/A1.console.log" | tail -30
	echo "Bail out! the guest's agent did not start"
	exit 1
fi
mig_qemu B1 B incoming guestrpc

# At A: 8 MiB of the guest's in its /srv; the host's copy comes through
# guest-exec, so that nothing of the mount's page cache has it yet.
ok=0
"$gexec" -n "$(mig_gs_sock A1 1)" -- sh -c \
	'dd if=/dev/urandom of=/srv/data bs=65536 count=128 2>/dev/null && cat /srv/data' \
	> "$mig_tmp/data" || ok=1
[ "$(stat -c %s "$mig_tmp/data")" = 8388608 ] || ok=1
mkdir -p "$m"
mount_cmd() {	# the same command at either host, but for the channel
	"$gmount" -f "$1" /srv "$m" 2>> "$mig_tmp/mount.log" &
	mount_pid=$!
	mig_pids+=("$mount_pid")
	wait_for 30 eval "grep -q ' $m fuse' /proc/mounts || ! kill -0 $mount_pid 2>/dev/null"
	grep -q " $m fuse" /proc/mounts
}
mount_cmd "$(mig_gs_sock A1 0)" || ok=1
exec 7< "$m/data"
head -c 65536 <&7 | cmp -s - <(head -c 65536 "$mig_tmp/data") || ok=1
tap 2 "$ok" "at A: the guest's /srv mounted, a file of it open, its first 64 KiB read right"

# At A, three sessions; at the switch the mount's channel carries reads
# (O_DIRECT, past the page cache, each checked), the second channel's tool
# is stopped with the guest's output pending, the third is idle.
ok=0
exec_a() {	# exec_a N NAME CMD: a guest-exec session at A on channel N (pid in NAME.pid)
	(
		erc=0
		(echo "$BASHPID" > "$mig_tmp/$2.pid"; exec "$gexec" -n "$(mig_gs_sock A1 "$1")" -- sh -c "$3") \
			2> "$mig_tmp/$2.err" | wc -c > "$mig_tmp/$2.bytes" || erc=${PIPESTATUS[0]}
		echo "$erc $(date +%s.%N)" > "$mig_tmp/$2.rc"
	) &
	mig_pids+=($!)
}
exec_a 1 stream 'echo $$ > /srv/stream.pid; exec cat /dev/zero'
exec_a 2 idle 'echo $$ > /srv/idle.pid; exec sleep 600'
wait_for 30 test -s "$m/stream.pid" -a -s "$m/idle.pid" || ok=1
timeout 300 python3 - "$m/data" "$mig_tmp/data" "$mig_tmp/reader" 2> "$mig_tmp/reader.err" <<'PY' &
import errno, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
want = open(sys.argv[2], "rb").read()
n, bad, short, why = 0, 0, 0, "none"
try:
    while True:
        for off in range(0, len(want), 1 << 20):
            got = os.pread(fd, 1 << 20, off)
            w = want[off:off + (1 << 20)]
            # A short read is a right one: the kernel splits an O_DIRECT
            # read of an unaligned buffer in two FUSE requests, and returns
            # what the first brought if the second fails.
            if not got or not w.startswith(got):
                bad += 1
                sys.stderr.write("# wrong read at %d: %d bytes\n" % (off, len(got)))
            short += len(got) < len(w)
            n += 1
            if n == 8:
                open(sys.argv[3] + ".up", "w").close()
except OSError as e:
    why = errno.errorcode.get(e.errno, str(e.errno))
open(sys.argv[3], "w").write("%s %d %d %d %.3f\n" % (why, n, bad, short, time.time()))
PY
reader_pid=$!
mig_pids+=("$reader_pid")
wait_for 60 test -e "$mig_tmp/reader.up" || ok=1
kill -0 "$reader_pid" 2> /dev/null || ok=1
# The streaming tool stops reading: the socket fills, QEMU throttles the port.
stream_pid=$(cat "$mig_tmp/stream.pid")
kill -STOP "$stream_pid" || ok=1
tap 3 "$ok" "at A: a reader reads through the mount, a guest-exec session streams (then stops reading), another waits"

t0=$(date +%s.%N)
rc=0
mig_migrate A1 B1 || rc=$?
t1=$(date +%s.%N)
[ "$rc" = 0 ] || sed 's/^/# hostrpc-migrate: /' "$mig_tmp/mig.err"
wait_for 10 eval "! kill -0 $mig_qemu_A1 2>/dev/null" || rc=1
tap 4 "$rc" "hostrpc-migrate moved the guest from A to B and A's QEMU ended ($(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s)"

# The source's sessions end: each tool sees its channel's end when A's
# QEMU quits, not a time-out.
ok=0
kill -CONT "$stream_pid" 2> /dev/null || true
msg=""
for x in idle stream; do
	wait_for 10 test -s "$mig_tmp/$x.rc" || ok=1
	read -r erc te < "$mig_tmp/$x.rc" || { erc=none; te=0; }
	sed "s/^/# guest-exec at A ($x): /" "$mig_tmp/$x.err"
	[ "$erc" = 125 ] && grep -q 'lost the guest: the guest closed the channel' "$mig_tmp/$x.err" || ok=1
	msg="$msg $x: exit $erc $(awk "BEGIN { printf \"%.1f\", $te - $t1 }") s after, $(cat "$mig_tmp/$x.bytes") bytes;"
done
[ "$(cat "$mig_tmp/stream.bytes")" -gt 0 ] || ok=1
tap 5 "$ok" "the guest-exec sessions at A ended with 125, 'lost the guest' ($msg)"

ok=0
wait_for 10 test -s "$mig_tmp/reader" || ok=1
read -r why nreads bad short tr < "$mig_tmp/reader" || { why=none; nreads=0; bad=0; short=0; tr=0; }
cat "$mig_tmp/reader.err"
[ "$why" = ENOTCONN ] && [ "$bad" = 0 ] && [ "$nreads" -gt 8 ] || ok=1
tap 6 "$ok" "the reader at A got $nreads right reads of 1 MiB ($bad wrong, $short short), then $why ($(awk "BEGIN { printf \"%.1f\", $tr - $t1 }") s after the migration)"

ok=0
t0=$(date +%s.%N)
r1=$(pyop pread $((7 << 20)))
t1=$(date +%s.%N)
r2=$(pyop stat "$m/never-looked-up")
r3=$(pyop listdir "$m")
[ "$r1" = ENOTCONN ] && [ "$r2" = ENOTCONN ] && [ "$r3" = ENOTCONN ] || ok=1
awk "BEGIN { exit !($t1 - $t0 < 5) }" || ok=1
tap 7 "$ok" "the mount at A answers ENOTCONN at once: the open file where nothing is cached $r1 ($(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s), a lookup $r2, a listing $r3"

ok=0
kill -0 "$mount_pid" 2> /dev/null || ok=1
grep -q 'guest unreachable: the guest closed the channel; every request now fails with ENOTCONN' \
	"$mig_tmp/mount.log" || ok=1
sed 's/^/# guestmount at A: /' "$mig_tmp/mount.log"
tap 8 "$ok" "hostrpc-guestmount at A says why and waits for the unmount"

ok=0
exec 7<&-
fusermount3 -u "$m" || ok=1
mrc=0
wait_for 10 eval "! kill -0 $mount_pid 2>/dev/null" || ok=1
wait "$mount_pid" || mrc=$?
[ "$mrc" = 0 ] || ok=1
grep -q " $m fuse" /proc/mounts && ok=1
tap 9 "$ok" "the mount at A unmounted cleanly, hostrpc-guestmount exited $mrc"

ok=0
kill -0 "$mig_daemon_A" 2> /dev/null && kill -0 "$mig_daemon_B" 2> /dev/null || ok=1
grep -q 'migrated in: channel adopted' "$B/hostrpcd.log" || ok=1
grep -E 'CRITICAL|fenced' "$A/hostrpcd.log" "$B/hostrpcd.log" | sed 's/^/# /' && ok=1
tap 10 "$ok" "both hostrpcds up, B's worker adopted the guest's channel, nothing fenced"

# At B: the agent serves again on every port, the same commands work.
: > "$mig_tmp/mount.log"
ok=0
t0=$(date +%s.%N)
mount_cmd "$(mig_gs_sock B1 0)" || ok=1
t1=$(date +%s.%N)
sed 's/^/# guestmount at B: /' "$mig_tmp/mount.log"
tap 11 "$ok" "at B: the same hostrpc-guestmount command mounts the guest's /srv again ($(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s)"

ok=0
cmp "$m/data" "$mig_tmp/data" || ok=1
tap 12 "$ok" "at B: the file reads back byte for byte through the mount"

ok=0
want=$(md5sum < "$mig_tmp/data" | cut -d' ' -f1)
msg=""
for i in 2 1; do
	t0=$(date +%s.%N)
	out=$("$gexec" -n "$(mig_gs_sock B1 $i)" -- sh -c 'md5sum /srv/data; echo at-b >&2' \
		2> "$mig_tmp/e") || ok=1
	t1=$(date +%s.%N)
	sed "s/^/# guest-exec at B (channel $i): /" "$mig_tmp/e"
	[ "${out%% *}" = "$want" ] && [ "$(cat "$mig_tmp/e")" = at-b ] || ok=1
	msg="$msg channel $i in $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s;"
done
tap 13 "$ok" "at B: hostrpc-guest-exec runs a command, on the idle channel and on the one left throttled ($msg)"

ok=0
out=$("$gexec" -n "$(mig_gs_sock B1 2)" -- \
	sh -c 'for p in $(cat /srv/stream.pid /srv/idle.pid); do kill -0 $p 2>/dev/null && echo alive || echo gone; done') || ok=1
[ "$(echo $out)" = "gone gone" ] || ok=1
tap 14 "$ok" "the commands of A's sessions were ended by the agent when A's host left ($(echo $out))"

ok=0
fusermount3 -u "$m" || ok=1
wait_for 10 eval "! kill -0 $mount_pid 2>/dev/null" || ok=1
"$gexec" -n "$(mig_gs_sock B1 2)" -- touch /tmp/hrpc-poweroff || ok=1
wait_for 30 grep -aq 'HOSTRPC-GUEST-EXIT 0' "$mig_tmp/B1.out.log" || ok=1
tap 15 "$ok" "at B: unmounted, and the guest powered off cleanly"
mig_guest_out | grep -a 'guestrpcd' | sed 's/^/# guest: /' || true
