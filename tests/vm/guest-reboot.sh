#!/usr/bin/env bash
# VM test: the guest reboots (`reboot -f` while it hammers the host and has
# an outsourced listening socket open and events streaming; QEMU resets the machine, the ivshmem
# memory and hostrpcd's worker stay).  On the new boot hostrpc_core finds the
# channel the previous life attached to and rings the reset request (host
# vector 1); the worker ends, the supervisor's fresh worker lays out
# host_gen + 1 and rings the guest's reset vector, and the module attaches to
# that.  Nothing of the previous life leaks into the new one: no stale
# replies reach it, and its host-side listening socket is gone (the new
# life binds the same port and serves its own page).  (No connection is made
# to that port in the first life: its TIME-WAIT would block the new bind,
# the outsourced SO_REUSEADDR notwithstanding.)
#
# Boots are told apart by a byte of CMOS RAM (rtc_cmos nvmem), which a
# machine reset keeps.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vm_prepare
[ "$vm_server_is_hostrpcd" = 1 ] || vm_skip "needs hostrpcd as the ivshmem server (reset request)"
mkdir -p "$vm_tmp/conf"
vm_server="$vm_server --sock-policy-dir=$vm_tmp/conf"
port=$((20000 + RANDOM % 12000))   # below the ephemeral ports (32768-)
# The guest fetches from its own server on the host's loopback, which the
# built-in rules keep from a guest without a policy: allow that port.
echo "connect allow 127.0.0.1 $port" > "$vm_tmp/conf/default.conf"

log=$vm_tmp
echo "1..6"
rc=0
"$vm_run" -r -t "${HOSTRPC_VM_TIMEOUT:-240}" -s "$vm_server --verbose" -a hrpc.load=hostrpc_sock \
	-l "$log/console" -L "$log/server" "
nv=/sys/bus/nvmem/devices/cmos_nvram0/nvmem
boot=\$(dd if=\$nv bs=1 skip=100 count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
boot=\$((boot + 1))
printf \"\\\\\$(printf %o \$boot)\" | dd of=\$nv bs=1 seek=100 conv=notrunc 2>/dev/null
echo \"BOOT \$boot\"
dmesg | grep -E 'hostrpc_core .*(asking|attached)' | sed \"s/^/boot \$boot: /\"
hrpc-echo -q -n 0 -e 0 -l 1 | grep -E '^# (info.start|counters)' | head -n 2 | sed \"s/^/boot \$boot: early /\"
mkdir -p /tmp/www && echo \"served by life \$boot\" > /tmp/www/index.html
httpd -p 127.0.0.1:$port -h /tmp/www && echo \"boot \$boot: httpd bound\"
if [ \$boot = 1 ]; then
	hrpc-echo -q -n 20 -e 0 -l 4096 | sed 's/^/boot 1: /'
	hrpc-echo -q -n 1000000 -e 0 -l 65536 > /dev/null 2>&1 &
	(while :; do hrpc-echo -q -n 0 -l 1 -e 4096; done) > /dev/null 2>&1 &
	sleep 1
	echo 'boot 1: rebooting with calls in flight'
	reboot -f
	sleep 30
fi
echo \"boot 2: page: \$(wget -q -O - http://127.0.0.1:$port/)\"
hrpc-echo -n 200 -e 10 | sed 's/^/boot 2: /'
echo \"dmesg-problems: \$(dmesg | grep -cE 'BUG|WARNING|Oops|general protection|refcount_t')\"
" > "$log/out" 2> "$log/err" || rc=$?
sed 's/^/# /' "$log/out"
sed 's/^/# vm-run: /' "$log/err"

gen1=$(sed -n 's/^boot 1: # info(end): .* gen=\([0-9]*\) .*/\1/p' "$log/out")
gen2=$(sed -n 's/^boot 2: # info(start): state=2 .* gen=\([0-9]*\) .*/\1/p' "$log/out")
r=0; { grep -q '^boot 1: RESULT integrity=PASS' "$log/out" &&
       grep -q '^boot 1: httpd bound' "$log/out" &&
       grep -q '^boot 1: rebooting with calls in flight' "$log/out"; } || r=1
tap 1 $r "first life: calls and an outsourced listening socket, then reboot -f mid-calls"
r=0; { grep -qE '^boot 2: .*channel generation [0-9]+ was used before .*asking the host for a fresh one' "$log/out" &&
       [ -n "$gen1" ] && [ -n "$gen2" ] && [ "$gen2" -gt "$gen1" ]; } || r=1
tap 2 $r "second life: module rang the reset request and attached to a fresh generation ($gen1 -> $gen2)"
r=0; { grep -q 'guest asked for a channel reset' "$log/server" &&
       grep -q 'fresh worker .* on the same memory' "$log/server"; } || r=1
tap 3 $r "hostrpcd ended the old worker and started a fresh one"
r=0; { grep -q '^boot 2: RESULT integrity=PASS' "$log/out" && [ "$rc" = 0 ] &&
       grep -qE '^boot 2: early # counters: .* events=0 unknown=0 ' "$log/out" &&
       grep -E '^boot 2: # counters' "$log/out" | tail -n 1 | grep -q ' unknown=0 .* orphan=0 '; } || r=1
tap 4 $r "second life: echo intact, no reply or event of the first life reached it (exit $rc)"
r=0; { grep -q '^boot 2: httpd bound' "$log/out" &&
       grep -q '^boot 2: page: served by life 2$' "$log/out"; } || r=1
tap 5 $r "the first life's host-side socket is gone: the same port serves the second life"
r=0; { grep -q '^dmesg-problems: 0$' "$log/out"; } || r=1
tap 6 $r "no kernel warning, BUG or oops"
if [ "$rc" != 0 ]; then
	echo "# ---- console (tail) ----"
	tail -n 30 "$log/console" | sed 's/^/# /'
	echo "# ---- server (tail) ----"
	tail -n 30 "$log/server" 2>/dev/null | sed 's/^/# /'
fi
