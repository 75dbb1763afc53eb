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
agent=$top_builddir/guestrpc/guestrpcd
gmount=$top_builddir/guestsource/hostrpc-guestmount
gexec=$top_builddir/guestsource/hostrpc-guest-exec

n=0
failed=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }
skip_one() { n=$((n + 1)); echo "ok $n - # SKIP $*"; }
skip_all() { echo "1..0 # SKIP $*"; exit 77; }

gs_work=$(mktemp -d "${TMPDIR:-/tmp}/gs-vm.XXXXXX")
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
	if [ -n "${GS_KEEP_LOGS:-}" ]; then
		cp "$gs_work"/*.log "$GS_KEEP_LOGS"/ 2>/dev/null || true
	fi
	rm -rf "$gs_work"
}
trap gs_cleanup EXIT

wait_for() {
	local i
	for i in $(seq 1 "${2:-50}"); do
		eval "$1" && return 0
		sleep 0.1
	done
	return 1
}

gs_vm_prepare() {
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
		"$top_srcdir/tools/guest-image" -d "$HOSTRPC_GUEST_DIR" build >&2 ||
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
gs_disk_mods="drivers/block/virtio_blk lib/crc16 fs/mbcache fs/jbd2 crypto/crc32c_generic fs/ext4"

gs_vm_start() {
	local disk="" mem=1024 extras=() opt m
	OPTIND=1
	while getopts "d:m:x:" opt; do
		case $opt in
		d) disk=$OPTARG ;;
		m) mem=$OPTARG ;;
		x) extras+=("$OPTARG") ;;
		*) return 2 ;;
		esac
	done
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
		mkdir -p "$x$(dirname "${m#*:}")"
		cp -L "${m%%:*}" "$x${m#*:}"
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
	if ! wait_for "grep -q GUESTRPC-READY '$gs_work/out.log' || ! kill -0 $gs_qemu_pid 2>/dev/null" 1200 ||
	   ! grep -q GUESTRPC-READY "$gs_work/out.log"; then
		echo "# guest did not come up; console:"
		tail -n 20 "$gs_work/console.log" | sed 's/^/# /'
		sed 's/^/# out: /' "$gs_work/out.log"
		return 1
	fi
	grep -q "guestrpcd: ready" "$gs_work/out.log"
}

gs_vm_stop() {
	[ -n "$gs_qemu_pid" ] || return 0
	"$gexec" -n "$gs_sock1" -- touch /tmp/hrpc-poweroff >/dev/null 2>&1 ||
		"$gexec" -n "$gs_sock0" -- touch /tmp/hrpc-poweroff >/dev/null 2>&1
	wait_for "! kill -0 $gs_qemu_pid 2>/dev/null" 300 || kill -KILL "$gs_qemu_pid" 2>/dev/null
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
	wait_for "grep -q ' $mnt fuse' /proc/mounts || ! kill -0 $gs_mount_pid 2>/dev/null" 300
	grep -q " $mnt fuse" /proc/mounts
}
