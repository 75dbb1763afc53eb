#!/usr/bin/env bash
# VM test: a hostile guest program tries to leave its export through
# filesystem outsourcing's protocol itself (tests/vm/fs/guest/escape-probe.c
# speaks Host RPC service 17 through /dev/hostrpc0 with forged requests):
# names "..", "a/b", ".", too long; MOUNT through "/../../.."; absolute and
# relative symlinks out of the export; a symlink to /proc/self/root; a
# directory the host swaps with a symlink to / while the guest looks it up
# (2000 times); forged node handles.  Everything stays inside the export
# (the host's /etc is never reached), the bad names are in the host's audit
# log, and the guest's worker and hostrpcd serve on.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
# make -j: the host swapping a directory all the while; alone (tests/lib.sh)
vm_load_lock exclusive
${CC:-gcc} -static -O2 -I "$top_srcdir/include" -o "$vm_tmp/escape-probe" \
	"$top_srcdir/tests/vm/fs/guest/escape-probe.c" 2> "$vm_tmp/cc.log" ||
	{ cat "$vm_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (apt-get install libc6-dev)"; }

exp=$vm_tmp/export
mkdir -p "$exp/realdir/inside" "$vm_tmp/fs"
touch "$exp/marker-inside"
ln -s / "$exp/abslink"
ln -s ../../../../../.. "$exp/rellink"
ln -s /proc/self/root "$exp/magic"
ln -s / "$exp/rootlink"
mv -T "$exp/realdir" "$exp/swap"
echo "export share $exp ids=passthrough" > "$vm_tmp/fs/default.conf"
# The host swaps swap/ (a directory) and rootlink (a link to /) for the
# whole run: RENAME_EXCHANGE, so "swap" always exists.
python3 - "$exp" > "$vm_tmp/swapper.log" 2>&1 <<'PY' &
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
d = sys.argv[1].encode()
n = 0
end = time.time() + 120
while time.time() < end and os.path.exists(sys.argv[1]):
    if libc.renameat2(-100, d + b"/swap", -100, d + b"/rootlink", 2) == 0:
        n += 1
    time.sleep(0.0002)   # thousands of swaps a second, not a core's worth
print("swaps", n)
PY
swapper=$!
trap 'kill $swapper 2>/dev/null; rm -rf "$vm_tmp"' EXIT

probes="dotdot mountdot abslink rellink magic swap forged"
echo "1..$(($(echo $probes | wc -w) + 3))"
rc=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-300}" -m 512 -s "$vm_server --fs-policy-dir=$vm_tmp/fs" \
	-f "$vm_tmp/escape-probe:/bin/escape-probe" -l "$vm_tmp/console" \
	"escape-probe share; echo \"dmesg-problems: \$(dmesg | grep -cE 'BUG|WARNING|Oops')\"" \
	> "$vm_tmp/out" 2> "$vm_tmp/err" || rc=$?
kill "$swapper" 2> /dev/null || true
wait "$swapper" 2> /dev/null || true
sed 's/^/# /' "$vm_tmp/err"

set +e
n=0
t() { n=$((n + 1)); tap "$n" "$1" "$2"; }
for c in $probes; do
	line=$(grep -m1 "^RESULT $c " "$vm_tmp/out" || echo "RESULT $c FAIL (no result)")
	echo "$line" | grep -q "^RESULT $c PASS"
	t $? "$c: ${line#RESULT $c * }"
done
grep -qs 'fs export=share refused lookup: a name that is not one path component (length 2, "..")' \
	"$vm_tmp"/state/sock-audit/*.log
t $? "the host's audit log has the refused names ($(cat "$vm_tmp"/state/sock-audit/*.log 2>/dev/null | grep -c 'refused') refusals)"
[ -e "$exp/marker-inside" ] && [ -d /etc ] && ! grep -q 'fenced' "$vm_tmp/server" 2>/dev/null
t $? "the export is intact and the guest was served to the end"
grep -q '^dmesg-problems: 0$' "$vm_tmp/out" && [ "$rc" = 0 ]
t $? "no kernel warning, guest exit status $rc"
[ "$rc" = 0 ] || tail -n 20 "$vm_tmp/console" 2>/dev/null | sed 's/^/# console: /'
