#!/usr/bin/env bash
# VM test: a virsh-managed guest.  A private hostrpcd follows libvirt
# (--libvirt qemu:///system --endpoint-dir <tmp>); tools/domain-xml writes
# the domain.  define -> hostrpcd creates the domain's endpoint before the
# domain ever runs; start -> QEMU attaches, the guest's hrpc-echo checks
# every byte and measures latency, hostrpcctl lists the guest with QEMU's
# pid; destroy -> hostrpcd stops and reaps the guest's worker and frees the
# guest (its descriptors too); undefine -> the endpoint goes.  Whatever
# happens, the domain is destroyed and undefined and hostrpcd stopped.
#
#   virsh define|start|destroy|undefine --> libvirtd --> QEMU (TCG, no KVM)
#                                              | events    | ivshmem-doorbell
#   hostrpcd --libvirt <-----------------------+           v
#            --endpoint-dir <tmp>/ep  <---------------- <tmp>/ep/NAME.ivshmem
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vm_prepare
uri=qemu:///system
hostrpcd=$top_builddir/hostrpc/daemon/hostrpcd
hostrpcctl=$top_builddir/hostrpc/daemon/hostrpcctl
command -v virsh >/dev/null ||
	vm_skip "virsh missing (apt-get install libvirt-clients libvirt-daemon-driver-qemu)"
"$hostrpcd" --help 2>&1 | grep -q -- '--libvirt' ||
	vm_skip "hostrpcd was built without libvirt (apt-get install libvirt-dev; configure)"
if ! virsh -c "$uri" version > /dev/null 2>&1; then
	# As in CI: start libvirtd here if we may.
	{ [ "$(id -u)" = 0 ] && "$top_srcdir/tools/libvirt-setup" start > "$vm_tmp/setup.log" 2>&1; } ||
		vm_skip "libvirtd does not answer on $uri (tools/libvirt-setup start, as root): $(tail -n 1 "$vm_tmp/setup.log" 2>/dev/null)"
fi

dom=hrpc-virsh-$$
ep=$vm_tmp/ep
# QEMU as an unprivileged user (HOSTRPC_QEMU_USER=libvirt-qemu
# tools/libvirt-setup start): the endpoint is its group's, and the files the
# domain names must be reachable.
qgroup=$("$top_srcdir/tools/libvirt-setup" qemu-group)
group_arg=()
if [ "$qgroup" != root ]; then
	chmod 0711 "$vm_tmp"
	group_arg=(--endpoint-group="$qgroup")
fi
log=$vm_tmp
admin=$vm_tmp/admin.sock
daemon=""
watchdog=""
virsh() { command virsh -q -c "$uri" "$@"; }
ctl() { "$hostrpcctl" --admin-socket="$admin" "$@"; }
cleanup() {
	set +e
	[ -n "$watchdog" ] && kill "$watchdog" 2> /dev/null
	virsh destroy "$dom" > /dev/null 2>&1
	virsh undefine "$dom" > /dev/null 2>&1
	[ -z "$daemon" ] || vm_stop_pid "$daemon"
	# The fd holder keeps a stopped daemon's endpoints; let it go.
	"$hostrpcd" --fdstore-release --state-dir="$vm_tmp/state" > /dev/null 2>&1
	rm -rf "$vm_tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
# A hard limit for the whole test; cleanup still runs.
vm_watchdog "${HOSTRPC_VM_TIMEOUT:-240}"
watchdog=$vm_watchdog_pid

# The initrd: the image's initramfs plus a cpio with the command (as vm-run
# does).  The command's output goes to ttyS1, the domain's second serial
# port (a file); the guest then stays up until it is destroyed.
mkdir -p "$vm_tmp/extra/hostrpc" "$ep"
cat > "$vm_tmp/extra/hostrpc/cmd" <<'CMD'
#!/bin/sh
dmesg | grep 'hostrpc_core.*attached'
hrpc-echo -n 1000 -e 20
echo "HRPC-ECHO-EXIT $?"
exec sleep 100000
CMD
(cd "$vm_tmp/extra" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
	gzip -1 > "$vm_tmp/extra.cpio.gz"
cat "$HOSTRPC_GUEST_DIR/initramfs.cpio.gz" "$vm_tmp/extra.cpio.gz" > "$vm_tmp/initrd"
"$top_srcdir/tools/domain-xml" "$dom" --kernel "$HOSTRPC_GUEST_DIR/vmlinuz" \
	--initrd "$vm_tmp/initrd" --endpoint-dir "$ep" --console "$log/console.log" \
	--output "$log/out.log" --cmdline "console=ttyS0 panic=-1 quiet loglevel=4 hrpc.out=ttyS1" \
	> "$vm_tmp/domain.xml"
if command -v virt-xml-validate > /dev/null; then
	virt-xml-validate "$vm_tmp/domain.xml" domain > "$vm_tmp/validate.log" 2>&1 ||
		sed 's/^/# virt-xml-validate: /' "$vm_tmp/validate.log"
fi

"$hostrpcd" --foreground --verbose --libvirt="$uri" --endpoint-dir="$ep" "${group_arg[@]}" \
	--socket="$vm_tmp/guests.sock" --admin-socket="$admin" --state-dir="$vm_tmp/state" \
	> "$log/hostrpcd.log" 2>&1 &
daemon=$!
echo "1..10"
if ! wait_for 20 grep -q 'ready:' "$log/hostrpcd.log"; then
	sed 's/^/# hostrpcd: /' "$log/hostrpcd.log"
	echo "Bail out! hostrpcd --libvirt $uri did not start"
	exit 1
fi
fds() { ls "/proc/$daemon/fd" | wc -l; }

# 1. define: the endpoint exists before the domain runs.
virsh define "$vm_tmp/domain.xml" > "$log/virsh.log" 2>&1 || sed 's/^/# virsh: /' "$log/virsh.log"
r=0; { wait_for 10 test -S "$ep/$dom.ivshmem" &&
       [ "$(virsh domstate "$dom" 2>/dev/null)" = "shut off" ] &&
       grep -q "ivshmem endpoint for guest $dom on $ep/$dom.ivshmem" "$log/hostrpcd.log"; } || r=1
tap 1 $r "virsh define: hostrpcd created $dom's endpoint while the domain is shut off"
sleep 0.5
fds_defined=$(fds)

# 2. start: QEMU attaches, the guest calls.
t0=$(date +%s.%N)
virsh start "$dom" >> "$log/virsh.log" 2>&1 || sed 's/^/# virsh: /' "$log/virsh.log"
wait_for 180 grep -qa '^HRPC-ECHO-EXIT' "$log/out.log" 2>/dev/null || true
t1=$(date +%s.%N)
tr -d '\r' < "$log/out.log" 2>/dev/null | sed 's/^/# guest: /'
r=0; { grep -qa '^HRPC-ECHO-EXIT 0' "$log/out.log" &&
       grep -qa '^RESULT integrity=PASS' "$log/out.log"; } || r=1
tap 2 $r "virsh start: the guest's echo calls are intact, inline and bulk up to 1 MiB ($(echo "$t1 - $t0" | bc) s)"
lat=$(grep -a '^RESULT latency' "$log/out.log" | tr -d '\r' |
	sed -n 's/^RESULT latency mode=\([a-z]*\) .*p50_us=\([0-9.]*\) p99_us=\([0-9.]*\) .*/\1 p50 \2 p99 \3 us/p' |
	paste -sd ';' -)
r=0; { grep -qa '^RESULT latency mode=irq' "$log/out.log" &&
       grep -qa '^RESULT latency mode=poll' "$log/out.log"; } || r=1
tap 3 $r "latency measured: $lat"

# 3. hostrpcctl lists the guest, attached by libvirt's QEMU.
qpid=$(cat "/run/libvirt/qemu/$dom.pid" 2>/dev/null || cat "/var/run/libvirt/qemu/$dom.pid" 2>/dev/null || echo "?")
ctl list > "$log/list" 2>&1 || true
sed 's/^/# hostrpcctl list: /' "$log/list"
row=$(awk -v n="$dom" '$2 == n' "$log/list")
worker=$(echo "$row" | awk '{ print $5 }')
r=0; { echo "$row" | grep -qE " ivshmem +negotiated +[0-9]+ +$qpid " &&
       [ -d "/proc/$worker" ]; } || r=1
tap 4 $r "hostrpcctl list: $dom, ivshmem, negotiated, worker ${worker:-?}, QEMU pid $qpid"
quid=$(awk '/^Uid:/ { print $2 }' "/proc/$qpid/status" 2>/dev/null || echo '?')
qmode="$(stat -c '%A %U:%G' "$ep/$dom.ivshmem" 2>/dev/null)"
echo "# QEMU runs as uid $quid; endpoint $qmode"

# 4. destroy: hostrpcd frees the guest.
virsh destroy "$dom" >> "$log/virsh.log" 2>&1 || sed 's/^/# virsh: /' "$log/virsh.log"
r=0; { wait_for 10 eval '! awk -v n="$dom" "\$2 == n" <(ctl list 2>/dev/null) | grep -q .' &&
       wait_for 10 eval '[ ! -d "/proc/$worker" ]' &&
       grep -q "guest [0-9]* ($dom): QEMU detached; stopping the guest" "$log/hostrpcd.log" &&
       grep -q "guest [0-9]* ($dom): worker $worker killed by signal 15" "$log/hostrpcd.log" &&
       grep -q "guest [0-9]* ($dom): freed" "$log/hostrpcd.log"; } || r=1
tap 5 $r "virsh destroy: hostrpcd stopped and reaped worker $worker and freed the guest"
r=0; { wait_for 10 eval '[ "$(fds)" = "$fds_defined" ]'; } || r=1
tap 6 $r "hostrpcd holds as many descriptors as before the start ($(fds) vs $fds_defined: memory and eventfds closed)"
r=0; { [ -S "$ep/$dom.ivshmem" ] && [ "$(virsh domstate "$dom" 2>/dev/null)" = "shut off" ]; } || r=1
tap 7 $r "the endpoint stays while $dom is defined"

# 5. undefine: the endpoint goes.
virsh undefine "$dom" >> "$log/virsh.log" 2>&1 || sed 's/^/# virsh: /' "$log/virsh.log"
r=0; { wait_for 10 eval '[ ! -e "$ep/$dom.ivshmem" ]' &&
       grep -q "ivshmem endpoint for guest $dom removed" "$log/hostrpcd.log"; } || r=1
tap 8 $r "virsh undefine: hostrpcd removed the endpoint"
r=0; { kill -0 "$daemon" && ! grep -qE 'critical|fenced' "$log/hostrpcd.log"; } || r=1
tap 9 $r "hostrpcd still runs; nothing critical, nothing fenced"
# What tools/libvirt-setup configured: QEMU as libvirt-qemu by default, then
# the endpoint is 0660 for that group and not the world's.
if [ "$qgroup" = root ]; then
	r=0; [ "$quid" = 0 ] || r=1
	tap 10 $r "QEMU ran as root, as HOSTRPC_QEMU_USER=root asked (uid $quid)"
else
	r=0; { [ "$quid" != 0 ] && [ "$quid" = "$(id -u libvirt-qemu)" ] &&
	       [ "$qmode" = "srw-rw---- root:$qgroup" ]; } || r=1
	tap 10 $r "QEMU ran unprivileged (uid $quid = libvirt-qemu), endpoint $qmode"
fi
grep -E "($dom|endpoint|libvirt)" "$log/hostrpcd.log" | sed 's/^/# hostrpcd: /'
