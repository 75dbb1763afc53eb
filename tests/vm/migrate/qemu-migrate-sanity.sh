#!/usr/bin/env bash
# VM test: does this host's QEMU migrate a running guest intact the way
# hostrpc-migrate has it migrate one?  No hostrpc at all: a guest that loads
# none of hostrpc's modules (hrpc.noload=1), no ivshmem device, runs
# guest/hotpage (a counter stored to 4 pages that stay hot in the vCPU's
# TLB, read back before each store) and guest/memcheck (64 MiB kept in a
# known state, rewritten and checked all the time); plain QEMU migrates it
# over a unix socket mid-run (QMP migrate), MIGCHECK_RUNS times (default 2),
# and at the destination both must find their memory as they left it and
# the guest's kernel must not crash.
#
# MIGCHECK_PRECOPY=single-pass (the default) is what hostrpc-migrate's
# --precopy=auto chooses where the source QEMU runs TCG and is older than
# 9.0: downtime-limit 0, so QEMU syncs its dirty bitmap only once while the
# guest runs.  MIGCHECK_PRECOPY=iterative (a downtime limit of 1 ms for 3 s,
# then 300 ms: a few passes, as a busy guest gets) shows why: TCG in QEMU
# before 9.0 loses the guest's stores to a page it sent after a sync (fixed
# upstream by 03bfc2188f), and hotpage finds a counter that went back.
set -uo pipefailset -uo pipefail
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

precopy=${MIGCHECK_PRECOPY:-single-pass}
case $precopy in single-pass | iterative) ;; *) echo "Bail out! MIGCHECK_PRECOPY=$precopy"; exit 1 ;; esac
for prog in hotpage memcheck; do
	${CC:-gcc} -static -O2 -o "$tmp/$prog" "$top_srcdir/tests/vm/migrate/guest/$prog.c" ||
		vm_skip "cannot build the static guest program (libc6-dev)"
done
# The guest image plus the program as /hostrpc/cmd runs it (mig_initrd;
# only its helpers are used here, no two hosts).
. "$top_srcdir/tests/vm/migrate/lib.sh"
mig_tmp=$tmp
mig_initrd "/hostrpc/memcheck $secs & /hostrpc/hotpage $secs; wait" "$tmp/hotpage" "$tmp/memcheck"

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
	python3 - "$1" "$2" "$precopy" << 'PYEOF'
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
# single-pass: threshold = bandwidth x 0, no sync until the pass ends.
# iterative: 1 ms keeps QEMU in pre-copy (a pass over the pages the guest
# dirtied, a sync of the dirty bitmap, again) for 3 s; then 300 ms lets it
# finish.
iterative = sys.argv[3] == "iterative"
call("migrate-set-parameters", {"max-bandwidth": 4 << 30,
                                "downtime-limit": 1 if iterative else 0})
r = call("migrate", {"uri": sys.argv[2]})
if "error" in r:
    sys.exit(str(r["error"]))
t0 = time.time()
end = t0 + 120
raised = False
while time.time() < end:
    if iterative and not raised and time.time() - t0 > 3:
        call("migrate-set-parameters", {"downtime-limit": 300})
        raised = True
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
	if ! wait_for 90 eval "grep -qs 'hotpage up' '$tmp/$a.out' && grep -qs 'memcheck up' '$tmp/$a.out'"; then
		tap "$i" 1 "run $i: the guest did not start hotpage and memcheck"
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
	res=$(grep -ash '^\(hotpage\|memcheck\) \(done\|BAD\)' "$tmp/$b.out" | tr -d '\r' | sort | paste -sd ';')
	crash=$(grep -ash 'Kernel panic\|BUG:\|Oops' "$tmp/$b.console" | tr -d '\r' | head -n 1)
	ok=0
	[ "$rc" = 0 ] && [ -z "$crash" ] && [[ $res == "hotpage done ok "*";memcheck done ok "* ]] || ok=1
	[ "$rc" = 0 ] || sed 's/^/# migrate: /' "$tmp/$i.migrate"
	tap "$i" "$ok" "run $i: QEMU migrated the guest ($precopy pre-copy, exit $rc); at the destination: ${res:-no result}${crash:+; guest kernel: $crash}"
	[ "$ok" = 0 ] || bad=$((bad + 1))
	stop_all
done
tap $((runs + 1)) "$bad" "this host's QEMU migrated a guest intact in every run of $precopy pre-copy ($bad of $runs damaged)"
