#!/usr/bin/env bash
# VM test: does this host's QEMU migrate a guest intact?  No hostrpc at all:
# a guest that loads none of hostrpc's modules (hrpc.noload=1), no ivshmem
# device, runs guest/memcheck (64 MiB kept in a known state, rewritten
# and checked all the time), and plain QEMU migrates it over a unix socket
# mid-run (QMP migrate), MIGCHECK_RUNS times (default 2).  Every migration
# test of hostrpc relies on this: when it fails, QEMU (or the host under
# it) damages guests it migrates, and the other migration tests' failures
# say nothing about hostrpc.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
command -v python3 > /dev/null || vm_skip "python3 missing"
runs=${MIGCHECK_RUNS:-2}
secs=${MIGCHECK_SECS:-30}
vm_watchdog $((runs * (secs + 120)))
tmp=$(mktemp -d "${TMPDIR:-/tmp}/migcheck.XXXXXX")
pids=()
stop_all() { for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; wait "$p" 2> /dev/null; done; pids=(); }
trap 'stop_all; [ -z "${vm_watchdog_pid:-}" ] || kill "$vm_watchdog_pid" 2> /dev/null; [ -n "${MIGCHECK_KEEP:-}" ] || rm -rf "$tmp"' EXIT

${CC:-gcc} -static -O2 -o "$tmp/memcheck" "$top_srcdir/tests/vm/migrate/guest/memcheck.c" ||
	vm_skip "cannot build the static guest program (libc6-dev)"
# The guest image plus the program as /hostrpc/cmd runs it (mig_initrd;
# only its helpers are used here, no two hosts).
. "$top_srcdir/tests/vm/migrate/lib.sh"
mig_tmp=$tmp
mig_initrd "/hostrpc/memcheck $secs" "$tmp/memcheck"

boot() {	# boot NAME [QEMU ARGS...]
	local n=$1
	shift
	qemu-system-x86_64 -accel tcg -m 320 -smp 1 -nographic -no-reboot -nic none \
		-kernel "$HOSTRPC_GUEST_DIR/vmlinuz" -initrd "$tmp/initrd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 hrpc.noload=1 hrpc.out=ttyS1" \
		-serial "file:$tmp/$n.console" -serial "file:$tmp/$n.out" -monitor none \
		-qmp "unix:$tmp/$n.qmp,server=on,wait=off" "$@" < /dev/null > "$tmp/$n.log" 2>&1 &
	pids+=($!)
}

# migrate QMP URI: QMP migrate (bandwidth unlimited for a local socket),
# then wait for "completed" (exit 0) or anything else (exit 1).
migrate() {
	python3 - "$1" "$2" << 'PYEOF'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
buf = b""
def msg():
    global buf
    while b"\n" not in buf:
        d = s.recv(65536)
        if not d:
            sys.exit("QMP closed")
        buf += d
    line, buf = buf.split(b"\n", 1)
    return json.loads(line)
def call(cmd, args=None):
    req = {"execute": cmd}
    if args:
        req["arguments"] = args
    s.sendall((json.dumps(req) + "\n").encode())
    while True:
        r = msg()
        if "return" in r or "error" in r:
            return r
msg()
call("qmp_capabilities")
call("migrate-set-parameters", {"max-bandwidth": 4 << 30, "downtime-limit": 300})
r = call("migrate", {"uri": sys.argv[2]})
if "error" in r:
    sys.exit(str(r["error"]))
end = time.time() + 120
while time.time() < end:
    st = call("query-migrate")["return"].get("status")
    if st == "completed":
        sys.exit(0)
    if st in ("failed", "cancelled"):
        sys.exit("migration " + st)
    time.sleep(0.2)
sys.exit("migration did not complete in 120 s")
PYEOF
}

echo "1..$((runs + 1))"
bad=0
for i in $(seq "$runs"); do
	a=A$i b=B$i
	boot "$a"
	if ! wait_for 90 grep -qs 'memcheck up' "$tmp/$a.out"; then
		tap "$i" 1 "run $i: the guest did not start memcheck"
		bad=$((bad + 1))
		stop_all
		continue
	fi
	boot "$b" -incoming "unix:$tmp/$i.mig"
	wait_for 20 test -S "$tmp/$i.mig"
	sleep 4
	rc=0
	migrate "$tmp/$a.qmp" "unix:$tmp/$i.mig" > "$tmp/$i.migrate" 2>&1 || rc=$?
	# The guest at B ends its run (done or BAD), or its kernel crashes.
	wait_for $((secs + 60)) eval "grep -aqs 'HOSTRPC-GUEST-EXIT' '$tmp/$b.out' ||
		grep -aqs 'Kernel panic\|BUG:\|Oops' '$tmp/$b.console'"
	res=$(grep -ash '^memcheck \(done\|BAD\)' "$tmp/$b.out" | tr -d '\r' | head -n 1)
	crash=$(grep -ash 'Kernel panic\|BUG:\|Oops' "$tmp/$b.console" | tr -d '\r' | head -n 1)
	ok=0
	[ "$rc" = 0 ] && [ -z "$crash" ] && [ "${res#memcheck done ok}" != "$res" ] || ok=1
	[ "$rc" = 0 ] || sed 's/^/# migrate: /' "$tmp/$i.migrate"
	tap "$i" "$ok" "run $i: QEMU migrated the guest (exit $rc); at the destination: ${res:-no result}${crash:+; guest kernel: $crash}"
	[ "$ok" = 0 ] || bad=$((bad + 1))
	stop_all
done
tap $((runs + 1)) "$bad" "this host's QEMU migrated a guest intact in every run ($bad of $runs damaged)"
