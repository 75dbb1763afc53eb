#!/bin/sh
# ivshmem-real-qemu - a real QEMU (paused with -S: no guest image needed)
# takes hostrpcd's ivshmem set-up for ivshmem-doorbell with vectors=2 and
# master=on without a complaint,
# appears in hostrpcctl as an ivshmem guest with QEMU's pid, and when QEMU
# quits its worker is stopped and the guest freed.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/lib.sh"   # wait_for
hostrpcd=$top_builddir/hostrpc/daemon/hostrpcd
hostrpcctl=$top_builddir/hostrpc/daemon/hostrpcctl
qemu=${QEMU:-qemu-system-x86_64}

command -v "$qemu" >/dev/null 2>&1 || {
	echo "1..0 # SKIP $qemu missing (apt-get install qemu-system-x86)"; exit 77; }
command -v python3 >/dev/null 2>&1 || {
	echo "1..0 # SKIP python3 missing (apt-get install python3)"; exit 77; }

dir=$(mktemp -d /tmp/hostrpc-itest.XXXXXX)
daemon= qpid=
cleanup() {
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null
	wait 2>/dev/null
	[ -n "${ITEST_KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
n=0 failed=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}
ctl() { timeout 10 "$hostrpcctl" --admin-socket "$dir/admin.sock" "$@"; }
# guests_json PYTHON-CONDITION: on `hostrpcctl --json list` as g (list of guests)
guests() {
	ctl --json list | python3 -c "import json,sys; g=json.load(sys.stdin)['guests']; sys.exit(0 if ($1) else 1)"
}

echo "1..5"
"$hostrpcd" --config /dev/null --foreground --verbose --no-process-guests --admin-socket "$dir/admin.sock" \
	--state-dir "$dir/state" --ivshmem "vmq=$dir/vmq.ivshmem" > "$dir/hostrpcd.log" 2>&1 &
daemon=$!
wait_for 10 ctl info > /dev/null 2>&1
ok $? "hostrpcd runs with an ivshmem endpoint"

"$qemu" -M pc -S -nographic -nodefaults -display none -pidfile "$dir/qemu.pid" \
	-chardev socket,id=hrpc,path="$dir/vmq.ivshmem" \
	-device ivshmem-doorbell,chardev=hrpc,vectors=2,master=on > "$dir/qemu.log" 2>&1 &
qpid=$!
wait_for 10 test -s "$dir/qemu.pid" > /dev/null 2>&1
wait_for 5 guests 'len(g) == 1' > /dev/null 2>&1
sleep 0.5
# Wrong version, id or memory make QEMU exit at start-up; a wrong number
# of eventfds only makes it complain ("Too many eventfd received").
kill -0 "$qpid" 2>/dev/null && ! grep -q . "$dir/qemu.log"
ok $? "QEMU accepted the set-up (vectors=2, master=on) without a complaint and keeps running"
sed 's/^/# qemu: /' "$dir/qemu.log"

qemu_pid=$(cat "$dir/qemu.pid" 2>/dev/null || echo 0)
guests "len(g) == 1 and g[0]['name'] == 'vmq' and g[0]['transport'] == 'ivshmem' and g[0]['peer_pid'] == $qemu_pid and g[0]['worker_pid'] > 0"
ok $? "hostrpcctl lists guest vmq: ivshmem, QEMU's pid $qemu_pid, a worker"
ctl list | sed 's/^/# /'

kill "$qpid"; wait "$qpid" 2>/dev/null; qpid=
wait_for 5 guests 'g == []' > /dev/null 2>&1
ok $? "QEMU quit: the guest is gone"
grep -q 'guest 1 (vmq): worker [0-9]* killed by signal 15' "$dir/hostrpcd.log"
ok $? "its worker was stopped and reaped"

[ "$failed" = 0 ] || sed 's/^/# /' "$dir/hostrpcd.log"
exit $failed
