#!/bin/bash
# The shared POSIX credential checks (tests/posix/creds.sh) through
# hostrpc-guestmount -o allow_other of a process guest's directory (the
# agent, guestrpcd, run as root): the same checks tests/vm/fs/fs-posix.sh
# runs in a guest through hostrpcfs, so both directions of the filesystem
# protocol give the same permissions and ownership.
. "$(dirname "$0")/lib.sh"
need_fuse
[ -x "$agent" ] || skip_all "guestrpcd not built"
[ "$(id -u)" = 0 ] || skip_all "needs root (the agent acts as other users)"
runas=$top_builddir/tests/posix/runas
[ -x "$runas" ] || skip_all "tests/posix/runas not built (make check builds it)"
CREDS_COUNT=$(sed -n "s/^CREDS_COUNT=//p" "$top_srcdir/tests/posix/creds.sh")
echo "1..$((CREDS_COUNT + 1))"

sock=$work/agent.sock
exp=$work/export
mkdir -p "$exp/srv" "$work/mnt"
chmod 755 "$work" "$exp" "$exp/srv"
start_agent "$sock" -r "$exp"
mount_guest "$sock" /srv "$work/mnt" -o allow_other
ok $? "mounted /srv of the process guest with -o allow_other"
out=$(CREDS_FIRST=2 sh "$top_srcdir/tests/posix/creds.sh" "$work/mnt" "$runas")
echo "$out"
n=$((n + CREDS_COUNT))
failed=$((failed + $(echo "$out" | grep -c '^not ok')))
[ "$(echo "$out" | grep -c '^ok')" = "$CREDS_COUNT" ] || failed=$((failed + 1))
exit $((failed > 0))
