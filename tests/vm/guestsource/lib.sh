# tests/vm/guestsource/lib.sh - boot a QEMU (TCG) guest running guestrpcd
# behind two virtio-serial channels, for the guest-sourcing VM tests and
# benchmarks (sourced; bash).
#
#   gs_vm_prepare            find/build the guest image (tools/guest-image) or skip
#   gs_vm_start [-d DISK] [-m MIB] [-x FILE:DEST]...
#                            boot; the guest serves a tmpfs at /srv (or DISK,
#                            an ext4 image, mounted at /srv) - a filesystem only
#                            the guest has; returns once guestrpcd is ready
#   gs_vm_stop               power the guest off (kill QEMU if it does not go)
#
# After gs_vm_start: $gs_sock0 / $gs_sock1 are the host ends of the channels
# org.hostrpc.guest.0 / .1 (QEMU -chardev socket,server=on,wait=off),
# $gs_qemu_pid is QEMU, $gs_work a scratch directory removed on exit.
#
# The guest image is tools/guest-image's (its /init runs /hostrpc/cmd); the
# agent and the virtio modules travel in a second cpio appended per boot, so
# the image itself needs nothing for these tests.
top_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib.sh"   # wait_for
agent=$top_builddir/guestrpc/guestrpcd
gmount=$top_builddir/guestsource/hostrpc-guestmount
gexec=$top_builddir/guestsource/hostrpc-guest-exec

n=0
failed=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }
skip_one() { n=$((n + 1)); echo "ok $n - # SKIP $*"; }
# Arithmetic on fractional seconds without bc: calc EXPR, lt A B.
calc() { awk "BEGIN { printf \"%.3f\\n\", $* }"; }
lt() { awk "BEGIN { exit !($1 < $2) }"; }
skip_all() { echo "1..0 # SKIP $*"; exit 77; }

gs_work=$(mktemp -d "${TMPDIR:-/tmp}/gs-vm.XXXXXX")
# A libvirt domain's QEMU may run as an unprivileged user (tools/libvirt-setup):
# it must reach the initrd and log files libvirt hands it from here.
chmod 0711 "$gs_work"
gs_qemu_pid=""
gs_pids=()
gs_mnts=()
gs_cleanup() {
	local m p
	for m in "${gs_mnts[@]:+${gs_mnts[@]}}"; do
		fusermount3 -u -z "$m" 2>/dev/null || true
	done
	for p in "${gs_pids[@]:+${gs_pids[@]}}" $gs_qemu_pid; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	[ -n "${gs_domain:-}" ] && virsh -q -c qemu:///system destroy "$gs_domain" > /dev/null 2>&1
	if [ -n "${GS_KEEP_LOGS:-}" ]; then
		cp "$gs_work"/*.log "$GS_KEEP_LOGS"/ 2>/dev/null || true
	fi
	rm -rf "$gs_work"
}
trap gs_cleanup EXIT

gs_vm_prepare() {
	vm_load_lock shared
	command -v qemu-system-x86_64 >/dev/null ||
		skip_all "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
	command -v cpio >/dev/null || skip_all "cpio missing"
	[ -x "$agent" ] && [ -x "$gexec" ] || skip_all "guestrpcd / hostrpc-guest-exec not built"
	file -L "$agent" 2>/dev/null | grep -q 'statically linked' ||
		skip_all "guestrpcd is not static (glibc static libraries missing?)"
	if [ -z "${HOSTRPC_GUEST_DIR:-}" ]; then
		HOSTRPC_GUEST_DIR=$top_srcdir/.guest
		if [ ! -d "$HOSTRPC_GUEST_DIR" ] && [ ! -w "$top_srcdir" ]; then
			HOSTRPC_GUEST_DIR=$top_builddir/.guest
		fi
	fi
	export HOSTRPC_GUEST_DIR
	if [ "${HOSTRPC_GUEST_BUILD:-1}" != 0 ]; then
		# One build at a time, under the lock tests/vm/lib.sh takes too:
		# two at once raced on the image's files (CI: "mv: cannot stat
		# initramfs.inputs.new").
		mkdir -p "$HOSTRPC_GUEST_DIR"
		(
			command -v flock > /dev/null && flock 9
			"$top_srcdir/tools/guest-image" -d "$HOSTRPC_GUEST_DIR" build >&2
		) 9> "$HOSTRPC_GUEST_DIR/.build-lock" ||
			skip_all "tools/guest-image could not build the guest image (see above)"
	fi
	[ -f "$HOSTRPC_GUEST_DIR/vmlinuz" ] && [ -f "$HOSTRPC_GUEST_DIR/initramfs.cpio.gz" ] ||
		skip_all "no guest image in $HOSTRPC_GUEST_DIR (run tools/guest-image)"
	gs_kver=$(sed -n 's/^KVER=//p' "$HOSTRPC_GUEST_DIR/env")
	gs_kmods=$HOSTRPC_GUEST_DIR/kernel/lib/modules/$gs_kver/kernel
	[ -f "$gs_kmods/drivers/char/virtio_console.ko" ] ||
		skip_all "the guest kernel tree has no virtio_console.ko ($gs_kmods)"
}

# Modules in load order (dependencies first).
gs_virtio_mods="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev
	drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/char/virtio_console"
gs_disk_mods="drivers/block/virtio_blk lib/crc16 fs/mbcache fs/jbd2/jbd2 crypto/crc32c_generic fs/ext4/ext4"

# gs_initrd DISK(or "") EXTRA...: the image's initramfs + our cpio -> $gs_work/initrd
gs_initrd() {
	local disk=$1 m
	shift
	local extras=("$@")
	local x=$gs_work/extra
	rm -rf "$x"
	mkdir -p "$x/hostrpc/mod" "$x/bin"
	cp "$agent" "$x/bin/guestrpcd"
	local mods=$gs_virtio_mods
	[ -n "$disk" ] && mods="$mods $gs_disk_mods"
	: > "$x/hostrpc/modules"
	for m in $mods; do
		cp "$gs_kmods/$m.ko" "$x/hostrpc/mod/"
		echo "$(basename "$m").ko" >> "$x/hostrpc/modules"
	done
	for m in "${extras[@]:+${extras[@]}}"; do
		gs_copy_with_libs "${m%%:*}" "${m#*:}" "$x"
	done
	cat > "$x/hostrpc/cmd" <<'EOF'
#!/bin/sh
for m in $(cat /hostrpc/modules); do
	insmod /hostrpc/mod/$m || echo "guest: insmod $m failed"
done
mkdir -p /srv
if [ -b /dev/vda ]; then
	mount -t ext4 /dev/vda /srv || echo "guest: mount /dev/vda failed"
else
	mount -t tmpfs -o size=600m srv /srv
fi
/bin/guestrpcd -v > /tmp/guestrpcd.log 2>&1 &
if [ -x /bin/qemu-ga ]; then
	mkdir -p /dev/virtio-ports /var/run
	for p in /sys/class/virtio-ports/*; do
		ln -sf /dev/${p##*/} /dev/virtio-ports/$(cat $p/name)
	done
	/bin/qemu-ga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -t /var/run \
		> /tmp/qemu-ga.log 2>&1 &
fi
i=0
while ! grep -q ready /tmp/guestrpcd.log 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
cat /tmp/guestrpcd.log
echo GUESTRPC-READY
# The host ends the run with: hostrpc-guest-exec ... -- touch /tmp/hrpc-poweroff
while [ ! -e /tmp/hrpc-poweroff ]; do sleep 0.2; done
sync
umount /srv 2>/dev/null
echo GUESTRPC-DONE
EOF
	(cd "$x" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 > "$gs_work/extra.cpio.gz"
	cat "$HOSTRPC_GUEST_DIR/initramfs.cpio.gz" "$gs_work/extra.cpio.gz" > "$gs_work/initrd"
}

# gs_copy_with_libs FILE DEST STAGE: a host binary and the libraries ldd names.
gs_copy_with_libs() {
	local f=$1 dest=$2 stage=$3 lib
	mkdir -p "$stage$(dirname "$dest")"
	cp -L "$f" "$stage$dest"
	for lib in $(ldd "$f" 2>/dev/null | awk '/=> \//{ print $3 } /^\t\/[^ ]* \(/{ print $1 }'); do
		[ -e "$stage$lib" ] && continue
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
	[ -e "$stage/lib64" ] || ln -s lib "$stage/lib64"
}

# gs_wait_ready: until the guest's command said GUESTRPC-READY (or died).
gs_wait_ready() {
	local alive=$1
	if ! wait_for 120 eval "grep -q GUESTRPC-READY '$gs_work/out.log' 2>/dev/null || ! $alive" ||
	   ! grep -q GUESTRPC-READY "$gs_work/out.log" 2>/dev/null; then
		echo "# guest did not come up; console:"
		tail -n 20 "$gs_work/console.log" 2>/dev/null | sed 's/^/# /'
		sed 's/^/# out: /' "$gs_work/out.log" 2>/dev/null
		return 1
	fi
	grep -q "guestrpcd: ready" "$gs_work/out.log"
}

gs_vm_start() {
	local disk="" mem=1024 extras=() opt
	OPTIND=1
	while getopts "d:m:x:" opt; do
		case $opt in
		d) disk=$OPTARG ;;
		m) mem=$OPTARG ;;
		x) extras+=("$OPTARG") ;;
		*) return 2 ;;
		esac
	done
	gs_initrd "$disk" "${extras[@]:+${extras[@]}}"
	gs_sock0=$gs_work/gs0.sock
	gs_sock1=$gs_work/gs1.sock
	local diskargs=()
	[ -n "$disk" ] && diskargs=(-drive "file=$disk,if=virtio,format=raw,cache=unsafe")
	: > "$gs_work/out.log"
	qemu-system-x86_64 -accel tcg -m "$mem" -smp "${GS_VM_SMP:-2}" -nographic -no-reboot \
		-kernel "$HOSTRPC_GUEST_DIR/vmlinuz" -initrd "$gs_work/initrd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 hrpc.out=ttyS1 hrpc.noload=1" \
		-serial mon:stdio -serial "file:$gs_work/out.log" -nic none \
		-device virtio-serial-pci \
		-chardev "socket,path=$gs_sock0,server=on,wait=off,id=c0" \
		-device virtserialport,chardev=c0,name=org.hostrpc.guest.0 \
		-chardev "socket,path=$gs_sock1,server=on,wait=off,id=c1" \
		-device virtserialport,chardev=c1,name=org.hostrpc.guest.1 \
		"${diskargs[@]}" \
		< /dev/null > "$gs_work/console.log" 2>&1 &
	gs_qemu_pid=$!
	gs_wait_ready "kill -0 $gs_qemu_pid 2>/dev/null"
}

# gs_libvirt_start NAME [-d DISK] [-x FILE:DEST]...: the same guest as a
# transient libvirt domain (<domain type='qemu'>, direct kernel boot) with
# channels org.hostrpc.guest.0/.1 and org.qemu.guest_agent.0.
gs_libvirt_start() {
	local name=$1 disk="" extras=() opt
	shift
	OPTIND=1
	while getopts "d:x:" opt; do
		case $opt in
		d) disk=$OPTARG ;;
		x) extras+=("$OPTARG") ;;
		*) return 2 ;;
		esac
	done
	gs_initrd "$disk" "${extras[@]:+${extras[@]}}"
	gs_sock0=$gs_work/gs0.sock
	gs_sock1=$gs_work/gs1.sock
	gs_domain=$name
	local diskxml=""
	[ -n "$disk" ] && diskxml="<disk type='file' device='disk'><driver name='qemu' type='raw' cache='unsafe'/><source file='$disk'/><target dev='vda' bus='virtio'/></disk>"
	cat > "$gs_work/domain.xml" <<EOX
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>1024</memory>
  <vcpu>${GS_VM_SMP:-2}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$HOSTRPC_GUEST_DIR/vmlinuz</kernel>
    <initrd>$gs_work/initrd</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet loglevel=4 hrpc.out=ttyS1 hrpc.noload=1</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    $diskxml
    <serial type='file'><source path='$gs_work/console.log'/><target port='0'/></serial>
    <serial type='file'><source path='$gs_work/out.log'/><target port='1'/></serial>
    <channel type='unix'><source mode='bind' path='$gs_sock0'/><target type='virtio' name='org.hostrpc.guest.0'/></channel>
    <channel type='unix'><source mode='bind' path='$gs_sock1'/><target type='virtio' name='org.hostrpc.guest.1'/></channel>
    <channel type='unix'><source mode='bind'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <memballoon model='none'/>
  </devices>
</domain>
EOX
	virsh -q -c qemu:///system create "$gs_work/domain.xml" > "$gs_work/virsh.log" 2>&1 || {
		sed 's/^/# virsh: /' "$gs_work/virsh.log"
		return 1
	}
	gs_wait_ready "virsh -q -c qemu:///system domstate '$name' 2>/dev/null | grep -q running"
}

gs_libvirt_stop() {
	[ -n "${gs_domain:-}" ] || return 0
	virsh -q -c qemu:///system destroy "$gs_domain" > /dev/null 2>&1
	gs_domain=""
}

gs_vm_stop() {
	[ -n "$gs_qemu_pid" ] || return 0
	"$gexec" -n "$gs_sock1" -- touch /tmp/hrpc-poweroff >/dev/null 2>&1 ||
		"$gexec" -n "$gs_sock0" -- touch /tmp/hrpc-poweroff >/dev/null 2>&1
	wait_for 30 eval "! kill -0 $gs_qemu_pid 2>/dev/null" || kill -KILL "$gs_qemu_pid" 2>/dev/null
	wait "$gs_qemu_pid" 2>/dev/null
	gs_qemu_pid=""
}

# gs_mount SOCKET GUEST_PATH MOUNTPOINT [options]
gs_mount() {
	local sock=$1 gpath=$2 mnt=$3
	shift 3
	mkdir -p "$mnt"
	"$gmount" -f "$@" "$sock" "$gpath" "$mnt" 2>>"$gs_work/mount.log" &
	gs_mount_pid=$!
	gs_pids+=("$gs_mount_pid")
	gs_mnts+=("$mnt")
	wait_for 30 eval "grep -q ' $mnt fuse' /proc/mounts || ! kill -0 $gs_mount_pid 2>/dev/null"
	grep -q " $mnt fuse" /proc/mounts
}
