#!/bin/bash
# guestsource/demo.sh - guest-sourcing in one minute: boot the demo guest
# (QEMU TCG, the tools/guest-image image) with guestrpcd behind two
# virtio-serial channels, mount the guest's own /srv (a tmpfs the host does
# not have) on the host, and run guest commands from the host.
#
# usage: guestsource/demo.sh        (after ./configure && make; as root)
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/tests/vm/guestsource/lib.sh"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

gs_vm_prepare > /dev/null
echo "booting the demo guest (QEMU TCG)..."
gs_vm_start || exit 1
echo "guest up; channels: $gs_sock0 (org.hostrpc.guest.0), $gs_sock1 (.1)"
mnt=$gs_work/guest-srv

step "hostrpc-guest-exec \$SOCK1 -- sh -c 'echo made in the guest > /srv/hello; uname -sr'"
"$gexec" "$gs_sock1" -- sh -c 'echo made in the guest > /srv/hello; uname -sr'
step "hostrpc-guestmount \$SOCK0 /srv $mnt"
gs_mount "$gs_sock0" /srv "$mnt" && echo mounted
step "cat $mnt/hello; echo written by the host > $mnt/from-host"
cat "$mnt/hello"
echo written by the host > "$mnt/from-host"
step "hostrpc-guest-exec \$SOCK1 -- sh -c 'ls -l /srv; cat /srv/from-host; df -h /srv'"
"$gexec" "$gs_sock1" -- sh -c 'ls -l /srv; cat /srv/from-host; df -h /srv'
step "hostrpc-guest-exec \$SOCK1 -- sh -c 'echo to stderr >&2; exit 7'; echo \"exit status \$?\""
"$gexec" "$gs_sock1" -- sh -c 'echo to stderr >&2; exit 7'
echo "exit status $?"
step "fusermount3 -u $mnt"
fusermount3 -u "$mnt" && echo unmounted
gs_vm_stop
echo "guest stopped"
