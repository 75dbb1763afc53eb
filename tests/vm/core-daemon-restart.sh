#!/usr/bin/env bash
# VM test: hostrpcd itself is restarted under a running guest - killed
# outright (SIGKILL) in one boot, stopped in order (SIGTERM) in another -
# while the guest keeps calling.  QEMU never reconnects, so this only works
# because hostrpcd's fd holder kept the endpoint's socket, QEMU's connection,
# the memory and the eventfds: the restarted daemon adopts them, its worker
# lays out the next host_gen on the same memory and rings the reset vector,
# and the guest's module re-attaches by itself.  Calls fail only with
# ECONNRESET/ENOTCONN meanwhile and work again with intact data; the second
# boot's QEMU attaches to the endpoint the restarted daemon adopted.
#
#   guest (hrpc-echo -R)  --ivshmem-->  guest.ivshmem  <-- fd holder (stays)
#                                             |
#                          hostrpcd #1 --kill--> hostrpcd #2 --term--> #3
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vm_prepare
[ "$vm_server_is_hostrpcd" = 1 ] ||
	vm_skip "needs hostrpcd (HOSTRPC_IVSHMEM_SERVER names another ivshmem server)"

hostrpcd=$top_builddir/hostrpc/daemon/hostrpcd
sock=$vm_tmp/guest.ivshmem
log=$vm_tmp

cleanup() {
	local p
	p=$(cat "$vm_tmp/daemon.pid" 2>/dev/null || true)
	[ -n "$p" ] && kill -TERM "$p" 2>/dev/null && sleep 0.5
	# The holder keeps the endpoint after the daemon stops; let it go.
	"$hostrpcd" --fdstore-release --state-dir="$vm_tmp/state" >/dev/null 2>&1 || true
	rm -rf "$vm_tmp"
}
trap cleanup EXIT

# restart.sh SIGNAL N: stop the running daemon with SIGNAL, wait until it is
# gone, start daemon number N on the same state directory.  Run by vm-run
# on the host once the guest asks for a reset (RESET-ME).
cat > "$vm_tmp/restart.sh" <<EOF
#!/usr/bin/env bash
sig=\$1 n=\$2
old=\$(cat "$vm_tmp/daemon.pid")
ls -i "$sock" | awk '{ print \$1 }' >> "$vm_tmp/inodes"
kill -"\$sig" "\$old"
# gone, or a zombie its parent (the test script) has not reaped yet
while [ -e /proc/\$old ] && ! grep -q '^[0-9]* (.*) Z' /proc/\$old/stat 2>/dev/null; do
	sleep 0.05
done
"$hostrpcd" --foreground --verbose --no-process-guests --admin-socket="$vm_tmp/admin.sock" \\
	--state-dir="$vm_tmp/state" --ivshmem="guest=$sock" > "$log/hostrpcd.\$n.log" 2>&1 &
echo \$! > "$vm_tmp/daemon.pid"
for _ in \$(seq 1 100); do
	grep -q 'ready:' "$log/hostrpcd.\$n.log" && break
	sleep 0.05
done
ls -i "$sock" | awk '{ print \$1 }' >> "$vm_tmp/inodes"
echo "restart: daemon \$old stopped with SIG\$sig, daemon \$! started"
EOF
chmod +x "$vm_tmp/restart.sh"

# Not a job of this shell: it is killed later by restart.sh.
("$hostrpcd" --foreground --verbose --no-process-guests --admin-socket="$vm_tmp/admin.sock" \
	--state-dir="$vm_tmp/state" --ivshmem="guest=$sock" > "$log/hostrpcd.1.log" 2>&1 &
 echo $! > "$vm_tmp/daemon.pid")
for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { sed 's/^/# /' "$log/hostrpcd.1.log"; echo "Bail out! hostrpcd did not start"; exit 1; }

guest_cmd='dmesg | grep "hostrpc_core.*attached"; hrpc-echo -q -R 30 -n 100 -e 10 -l 262144; r=$?
dmesg | grep "hostrpc_core.*attached"
echo "dmesg-problems: $(dmesg | grep -cE "BUG|WARNING|Oops|general protection|refcount_t")"
exit $r'

echo "1..8"
failed=0
t() {
	tap "$@"
	[ "$2" = 0 ] || failed=1
}
# run N SIGNAL: a boot whose guest gets daemon N-1 replaced by daemon N
run() {
	local rc=0
	"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-240}" -x "$sock" -l "$log/console.$1" \
		-e "$vm_tmp/restart.sh $2 $1" -E '^RESET-ME' "$guest_cmd" \
		> "$log/out.$1" 2> "$log/err.$1" || rc=$?
	sed 's/^/# /' "$log/out.$1"
	sed 's/^/# vm-run: /' "$log/err.$1"
	echo "$rc" > "$log/rc.$1"
}
# gens N: the host_gen values the guest attached to, in order
gens() {
	sed -n 's/.*attached: host_gen \([0-9]*\) .*/\1/p' "$log/out.$1" | uniq | tr '\n' ' '
}

run 2 KILL
r=0; { grep -qE '^RESULT reset resets=[1-9][0-9]* .* other=0 ok_after=20 ' "$log/out.2" &&
       grep -q '^RESULT integrity=PASS' "$log/out.2" && [ "$(cat "$log/rc.2")" = 0 ]; } || r=1
t 1 $r "hostrpcd killed (SIGKILL) under a calling guest: re-attached, calls work again, only ECONNRESET/ENOTCONN meanwhile"
g=$(gens 2)
r=0; [ "$g" = "1 2 " ] || r=1
t 2 $r "the guest went from host_gen 1 to 2 on the same memory (saw: $g)"
r=0; { grep -q 'fd holder pid .*(found)' "$log/hostrpcd.2.log" &&
       grep -q 'guest 1 (guest): QEMU pid .* still attached, adopted' "$log/hostrpcd.2.log"; } || r=1
t 3 $r "the restarted daemon found the fd holder and adopted the attached QEMU"

# The first QEMU is gone; a second one boots on the endpoint daemon 2 adopted.
run 3 TERM
r=0; { grep -qE '^RESULT reset resets=[1-9][0-9]* .* other=0 ok_after=20 ' "$log/out.3" &&
       grep -q '^RESULT integrity=PASS' "$log/out.3" && [ "$(cat "$log/rc.3")" = 0 ]; } || r=1
t 4 $r "a new guest on the adopted endpoint; hostrpcd stopped (SIGTERM) and restarted under it: re-attached, calls work again"
g=$(gens 3)
r=0; [ "$g" = "1 2 " ] || r=1
t 5 $r "that guest went from host_gen 1 to 2 (saw: $g)"
r=0; { grep -q 'keeps 1 ivshmem endpoint(s) for the next hostrpcd' "$log/hostrpcd.2.log" &&
       grep -q 'still attached, adopted' "$log/hostrpcd.3.log"; } || r=1
t 6 $r "the stopping daemon left the endpoint with the holder, the next one adopted the QEMU"
r=0; [ "$(sort -u "$vm_tmp/inodes" | wc -l)" = 1 ] || r=1
t 7 $r "the endpoint's socket kept its inode through both restarts"
r=0; { grep -q '^dmesg-problems: 0$' "$log/out.2" && grep -q '^dmesg-problems: 0$' "$log/out.3"; } || r=1
t 8 $r "no kernel warning, BUG or oops in either guest"

if [ "$failed" = 1 ]; then
	for n in 1 2 3; do
		echo "# ---- hostrpcd $n ----"
		tail -n 40 "$log/hostrpcd.$n.log" 2>/dev/null | sed 's/^/# /'
	done
fi
