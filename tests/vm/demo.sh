#!/usr/bin/env bash
# VM test: the README's demo, run as a user runs it (tools/demo: real guests
# under QEMU served by hostrpcd, process guests, socket outsourcing,
# guest-sourcing).  It must end with status 0 and "all N steps passed",
# with hostrpcd alive after every step - tools/demo checks that itself and
# this test checks tools/demo: no step may fail, nothing may crash.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vm_prepare
[ "$vm_server_is_hostrpcd" = 1 ] || vm_skip "needs hostrpcd as the ivshmem server"
command -v curl > /dev/null || vm_skip "curl missing (the demo's host client)"
command -v fusermount3 > /dev/null || vm_skip "fusermount3 missing (apt-get install fuse3)"
echo "1..3"
rc=0
top_builddir=$top_builddir "$top_srcdir/tools/demo" > "$vm_tmp/demo.out" 2>&1 || rc=$?
# Its output, without colours, as diagnostics.
sed 's/\x1b\[[0-9;]*m//g; s/^/# /' "$vm_tmp/demo.out"
tap 1 "$rc" "tools/demo exits with status 0 ($rc)"
r=0; { grep -qE 'demo: all [0-9]+ steps passed' "$vm_tmp/demo.out" &&
       ! grep -q 'FAILED' "$vm_tmp/demo.out"; } || r=1
tap 2 $r "every step of the demo passed ($(grep -c 'demo: ok:' "$vm_tmp/demo.out" || true) steps)"
r=0; ! grep -qE 'Segmentation fault|core dumped|Aborted|AddressSanitizer|runtime error:' \
	"$vm_tmp/demo.out" || r=1
tap 3 $r "nothing crashed along the way"
