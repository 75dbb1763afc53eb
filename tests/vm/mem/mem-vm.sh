#!/usr/bin/env bash
# VM test: memory outsourcing (issue 15) on the real guest kernel.  The
# guest (256 MiB of RAM) gets a second ivshmem device, ivshmem-plain over
# the region file hostrpcd's worker owns (/dev/shm, 512 MiB); hostrpc_mem.ko
# serves /dev/hostmem from the chunks the host grants (384 MiB at HELLO).
#
#   guest process C maps 48 MiB, A 320 MiB, B 16 MiB (lowest chunks first);
#   C exits: chunks 0-23 are free
#   host: hostrpcctl memory vm reclaim 48      the top 24 chunks, A's and B's:
#         the driver moves them down, RELEASEs; A and B read their data back
#   guest: cooperate=0
#   host: hostrpcctl memory vm reclaim 16 1500 ignored: taken at the deadline
#         (punched: the host holds 16 MiB less); A faults (SIGBUS) on those
#         pages, B does not
#   host: grant 64; guest pins 8 MiB (ok) and 32 MiB (EDQUOT past the quota)
#   guest: a forged RELEASE of a chunk never granted (/dev/hostrpc0)
#          fences its channel; a process guest of the same hostrpcd is
#          served throughout; the fresh worker for the reset channel keeps
#          the chunks holding data (B reads its memory back)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
. "$top_srcdir/tests/vm/mem/lib.sh"
mem_vm_prepare
[ -x "$vm_ping" ] || vm_skip "hostrpc-ping not built"
log=$vm_tmp
ivs=$vm_tmp/vm.ivshmem
region=/dev/shm/hostrpc-mem-test-$$
trap 'vm_hostrpcd_cleanup; rm -f "$region"' EXIT
install -m 600 /dev/null "$region"
mkdir -p "$vm_tmp/mem"
cat > "$vm_tmp/mem/vm.conf" <<EOF
[memory]
region-mib=512
grant-mib=384
pin-quota-mib=16
reclaim-deadline-ms=3000
region-file=$region
EOF
vm_hostrpcd_start --ivshmem="vm=$ivs" --mem-policy-dir="$vm_tmp/mem"
admin=$vm_admin
vm_bystander bystander
echo "1..9"

# The host's part, from the guest's MEM-FILLED on.
cat > "$vm_tmp/host.sh" <<HOST
#!/usr/bin/env bash
ctl() { "$hostrpcctl" --admin-socket="$admin" "\$@"; }
wl() { for i in \$(seq 1200); do grep -q "\$1" "\$VM_OUT_LOG" && return 0; sleep 0.1; done; echo "no \$1"; return 1; }
settled() { for i in \$(seq 300); do ctl memory vm | grep -q 'reclaiming 0 MiB' && return 0; sleep 0.1; done; return 1; }
ctl memory vm > "$log/m0" 2>&1
ctl memory vm reclaim 48 > "$log/m1" 2>&1
settled
ctl memory vm > "$log/m2" 2>&1
wl '^MEM-UNCOOPERATIVE'
ctl --json memory vm > "$log/j3" 2>&1
ctl memory vm reclaim 16 1500 > "$log/m3" 2>&1
settled
sleep 1
ctl --json memory vm > "$log/j4" 2>&1
ctl memory vm > "$log/m4" 2>&1
wl '^MEM-PIN'
ctl memory vm grant 64 > "$log/m5" 2>&1
wl '^MEM-FORGED'
sleep 2
ctl list > "$log/list.after" 2>&1
echo host-done
HOST
chmod +x "$vm_tmp/host.sh"

rc=0
"$vm_run" -m 256 -t "${HOSTRPC_VM_TIMEOUT:-420}" -x "$ivs" -l "$log/console" -L "$log/hook" \
	-a hrpc.load=hostrpc_mem \
	-Q "$(mem_qemu_region "$region" 512)" \
	-e "$vm_tmp/host.sh" -E '^MEM-FILLED' '
info() { hostmem-touch info | sed -n "s/^$1=//p"; }
until_ok() { n=0; while ! eval "$1"; do n=$((n + 1)); [ $n -ge $2 ] && return 1; sleep 0.2; done; }
line() { echo "$1 $(hostmem-touch info | tr "\n" " ")"; }
until_ok "[ \"\$(info attached)\" = 1 ] && [ \"\$(info granted)\" = 192 ]" 300 || line NO-GRANT
echo "ram-kb $(awk "/MemTotal/ { print \$2 }" /proc/meminfo)"
hostmem-touch fill 48 3 > /tmp/c.out & C=$!
until_ok "grep -q ^filled /tmp/c.out" 900
hostmem-touch fill 320 7 > /tmp/a.out & A=$!
until_ok "grep -q ^filled /tmp/a.out" 3000
hostmem-touch fill 16 9 > /tmp/b.out & B=$!
until_ok "grep -q ^filled /tmp/b.out" 900
kill $C; wait $C
echo "a0: $(cat /tmp/a.out)"
line MEM-FILLED
until_ok "[ \"\$(info granted)\" = 168 ]" 600 || line NO-RECLAIM
kill -USR1 $A $B
until_ok "grep -q ^verify /tmp/a.out && grep -q ^verify /tmp/b.out" 1500
line PHASE1
echo "a1: $(grep ^verify /tmp/a.out | tail -n 1)"
echo "b1: $(grep ^verify /tmp/b.out | tail -n 1)"
echo 0 > /sys/module/hostrpc_mem/parameters/cooperate
line MEM-UNCOOPERATIVE
until_ok "[ \"\$(info forced)\" -ge 8 ]" 600 || line NO-FORCE
kill -USR1 $A $B
until_ok "[ \$(grep -c ^verify /tmp/a.out) = 2 ] && [ \$(grep -c ^verify /tmp/b.out) = 2 ]" 1500
line PHASE2
echo "a2: $(grep ^verify /tmp/a.out | tail -n 1) sigbus-lines $(grep -c ^sigbus /tmp/a.out)"
echo "b2: $(grep ^verify /tmp/b.out | tail -n 1) sigbus-lines $(grep -c ^sigbus /tmp/b.out)"
echo 1 > /sys/module/hostrpc_mem/parameters/cooperate
line MEM-PIN
until_ok "[ \"\$(info free)\" -ge 16 ]" 600 || line NO-GRANT2
echo "pin8: $(hostmem-touch pin 8)"
echo "pin32: $(hostmem-touch pin 32)"
kill $A
wait $A 2> /dev/null
echo "forge: $(hostmem-touch forge 255)"
echo MEM-FORGED
# The fenced channel is reset and a fresh worker serves it: B keeps its data.
until_ok "[ \"\$(info attached)\" = 0 ]" 100
until_ok "[ \"\$(info attached)\" = 1 ]" 600 || line NOT-REATTACHED
c=$(grep -c ^verify /tmp/b.out)
kill -USR1 $B
until_ok "[ \$(grep -c ^verify /tmp/b.out) -gt $c ]" 600
echo "b3: $(grep ^verify /tmp/b.out | tail -n 1)"
line AFTER-RESTART
kill $B
sleep 2
echo "dmesg-problems: $(dmesg | grep -cE "BUG|WARNING|Oops")"
dmesg | grep -i hostrpc_mem | tail -n 5
' > "$log/out" 2> "$log/err" || rc=$?
sed 's/^/# /' "$log/out"
sed 's/^/# vm-run: /' "$log/err"
sed 's/^/# host: /' "$log/hook" 2> /dev/null || true
for f in m0 m1 m2 m3 m4 m5 list.after; do sed "s/^/# $f: /" "$log/$f" 2> /dev/null || true; done

set +e
g() { grep -m1 "^$1" "$log/out" | sed "s/^$1:\{0,1\} *//"; }
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
jf() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2> /dev/null; }

ram=$(g ram-kb)
r=0; { [ -n "$ram" ] && [ "$ram" -lt 262144 ] && g a0 | grep -q '^filled 320'; } || r=1
tap 1 $r "a guest process with ${ram:-?} kB of RAM maps and touches 320 MiB of the 384 MiB the host granted"

p1=$(g PHASE1)
r=0; { grep -q 'asked back 48 MiB' "$log/m1" && grep -q 'released 48 MiB' "$log/m2" &&
       [ "$(kv "$p1" granted)" = 168 ] && [ "$(kv "$p1" moved)" -ge 24 ] &&
       [ "$(g a1)" = "verify ok 0" ] && [ "$(g b1)" = "verify ok 0" ]; } || r=1
tap 2 $r "a cooperative reclaim of 48 MiB: the driver moved $(kv "$p1" moved) chunks and released them; both processes read every page back (A: $(g a1), B: $(g b1))"

res3=$(jf "$log/j3" 'm["resident_bytes"]'); res4=$(jf "$log/j4" 'm["resident_bytes"]')
p2=$(g PHASE2)
r=0; { grep -q 'asked back 16 MiB' "$log/m3" && [ "$(jf "$log/j4" 'm["moves"]["expired_mib"]')" = 16 ] &&
       [ -n "$res3" ] && [ -n "$res4" ] && [ $((res3 - res4)) = $((16 << 20)) ]; } || r=1
tap 3 $r "an ignored reclaim of 16 MiB is taken at its deadline: the host holds $(( (${res3:-0} - ${res4:-0}) >> 20 )) MiB less ($(( ${res3:-0} >> 20 )) -> $(( ${res4:-0} >> 20 )) MiB)"
r=0; { g a2 | grep -q '^verify bad 4096 sigbus-lines 8' && g b2 | grep -q '^verify ok 0 sigbus-lines 0' &&
       [ "$(kv "$p2" lost)" = 8 ]; } || r=1
tap 4 $r "only the process on those chunks faults: A $(g a2), B $(g b2)"

r=0; { grep -q 'granted 64 MiB' "$log/m5" && [ "$(g pin8)" = "pin ok" ] && [ "$(g pin32)" = "pin EDQUOT" ]; } || r=1
tap 5 $r "pins: 8 MiB within the 16 MiB quota ($(g pin8)), 32 MiB beyond it ($(g pin32))"

r=0; { grep -q 'memory: guest released memory the host had not granted it: fencing its channel' "$log/hostrpcd.log" &&
       grep -q 'guest [0-9]* (vm): fenced: guest released memory the host had not granted it' "$log/hostrpcd.log" &&
       [ "$(g forge)" != "forge status 0" ]; } || r=1
tap 6 $r "a forged RELEASE of a chunk never granted fences the guest's channel ($(g forge))"

r=0; { [ "$(g b3)" = "verify ok 0" ] &&
       grep -q 'a restart for the same guest: the [0-9]* MiB holding data stay granted' "$log/hostrpcd.log"; } || r=1
tap 7 $r "the fresh worker after the fence keeps the memory holding data: B reads its 16 MiB back ($(g b3); $(grep -o 'the [0-9]* MiB holding data stay granted' "$log/hostrpcd.log" | head -n 1))"

touch "$vm_tmp/stop"
wait_for 10 test -e "$vm_tmp/bystander-done" || true
r=0; { [ "$(grep -c '^run ok' "$log/ping.log")" -ge 1 ] && ! grep -q '^run FAILED' "$log/ping.log" &&
       kill -0 "$vm_daemon" && ! grep -q 'kept using memory' "$log/hostrpcd.log"; } || r=1
tap 8 $r "hostrpcd and a process guest were served throughout ($(grep -c '^run ok' "$log/ping.log") runs); no refill fence"
r=0; { [ "$rc" = 0 ] && grep -q '^dmesg-problems: 0$' "$log/out"; } || r=1
tap 9 $r "no kernel warning, BUG or oops in the guest (exit $rc)"
[ "$rc" = 0 ] || tail -n 30 "$log/console" 2> /dev/null | sed 's/^/# console: /'
grep -E 'memory|mem ' "$log/hostrpcd.log" | tail -n 20 | sed 's/^/# hostrpcd: /'
