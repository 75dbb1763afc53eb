#!/bin/bash
# guestsource/demo.sh - guest-sourcing in one minute: boot the demo guest
# (QEMU TCG, the tools/guest-image image) with guestrpcd behind two
# virtio-serial channels, mount the guest's own /srv (a tmpfs the host does
# not have) on the host, and run guest commands from the host.
#
# usage: guestsource/demo.sh        (after ./configure && make; as root)
# Each step checks its result; the first failure exits non-zero.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/tests/vm/guestsource/lib.sh"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
die() { printf '\033[1;31mguest-sourcing demo: FAILED: %s\033[0m\n' "$*" >&2; exit 1; }

gs_vm_prepare > /dev/null || die "no guest image or agent (see above)"
echo "booting the demo guest (QEMU TCG)..."
gs_vm_start || die "the guest did not come up"
echo "guest up; channels: $gs_sock0 (org.hostrpc.guest.0), $gs_sock1 (.1)"
mnt=$gs_work/guest-srv

step "hostrpc-guest-exec \$SOCK1 -- sh -c 'echo made in the guest > /srv/hello; uname -sr'"
out=$("$gexec" "$gs_sock1" -- sh -c 'echo made in the guest > /srv/hello; uname -sr') ||
	die "hostrpc-guest-exec failed"
echo "$out"
case $out in Linux\ *) ;; *) die "the guest's uname did not come back";; esac
step "hostrpc-guestmount \$SOCK0 /srv $mnt"
gs_mount "$gs_sock0" /srv "$mnt" || { cat "$gs_work/mount.log" >&2; die "hostrpc-guestmount failed"; }
echo mounted
step "cat $mnt/hello; echo written by the host > $mnt/from-host"
out=$(cat "$mnt/hello") || die "cannot read the guest's file through the mount"
echo "$out"
[ "$out" = "made in the guest" ] || die "the mount shows \"$out\", not the guest's file"
echo written by the host > "$mnt/from-host" || die "cannot write through the mount"
step "hostrpc-guest-exec \$SOCK1 -- sh -c 'ls -l /srv; cat /srv/from-host; df -h /srv'"
out=$("$gexec" "$gs_sock1" -- sh -c 'ls -l /srv; cat /srv/from-host; df -h /srv') ||
	die "hostrpc-guest-exec failed"
echo "$out"
grep -qx "written by the host" <<< "$out" || die "the guest does not see the host's file"
step "hostrpc-guest-exec \$SOCK1 -- sh -c 'echo to stderr >&2; exit 7'; echo \"exit status \$?\""
rc=0
"$gexec" "$gs_sock1" -- sh -c 'echo to stderr >&2; exit 7' || rc=$?
echo "exit status $rc"
[ "$rc" = 7 ] || die "the guest command's exit status 7 came back as $rc"
step "fusermount3 -u $mnt"
fusermount3 -u "$mnt" || die "cannot unmount $mnt"
echo unmounted
gs_vm_stop
echo "guest stopped"
