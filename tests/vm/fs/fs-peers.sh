# tests/vm/fs/fs-peers.sh - one host directory in the guest through one of
# three filesystems, the same guest kernel and image for all three (sourced;
# bash, after tests/vm/lib.sh and vm_prepare).  Used by bench/fs-bench.sh
# and tests/vm/fs/fs-workloads.sh.
#
#   9p         QEMU's virtio-9p (-virtfs local, security_model=none)
#   virtiofs   QEMU's C virtiofsd (/usr/lib/qemu/virtiofsd, cache=auto) on a
#              vhost-user-fs-pci device
#   hostrpcfs  the guest's hostrpcfs.ko served by hostrpcd (the VM tests'
#              server, tests/vm/lib.sh vm_find_server) with an fs policy
#              exporting the directory as "bench", ids=passthrough
#
#   fsp_image          build the image (the guest image's kernel plus the 9p,
#                      virtio-fs and virtio-blk modules) in $fsp_dir:
#                      $HOSTRPC_GUEST_FS_DIR, default <builddir>/.guest-fs;
#                      skip if it cannot be built
#   fsp_hostrpcfs_missing  print why the hostrpcfs row cannot run; false
#                      when it can
#   fsp_available FS   true when FS can run here (hostrpcfs: see above;
#                      virtiofs: /usr/lib/qemu/virtiofsd exists)
#   fsp_mount FS       the guest's command that mounts FS on /mnt
#   fsp_run FS DIR NAME [VM-RUN ARGS...] -- COMMAND
#                      boot the image with DIR as FS's export and run
#                      COMMAND (tests/vm/vm-run); the guest's memory is
#                      $fsp_mem MiB (FS_MEM, default 1024) in a shared memfd
#                      backend for all three (virtio-fs needs it); logs
#                      $vm_tmp/NAME.{console,server,virtiofsd}.log; returns
#                      vm-run's status
#   fsp_cleanup        (from the EXIT trap) release the fd holder the
#                      hostrpcfs boots' hostrpcd left, remove $vm_tmp
fsp_dir=${HOSTRPC_GUEST_FS_DIR:-$top_builddir/.guest-fs}
fsp_mem=${FS_MEM:-1024}
fsp_virtiofsd=${FS_VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
fsp_modules="virtio_pci netfs fscache 9pnet 9pnet_virtio 9p fuse virtiofs virtio_blk"

fsp_image() {
	local m margs=()
	for m in $fsp_modules; do margs+=(-m "$m"); done
	mkdir -p "$fsp_dir"
	# The downloaded kernel travels from the main image (as .guest-nic's).
	if [ ! -d "$fsp_dir/kernel" ] && [ -d "$HOSTRPC_GUEST_DIR/kernel" ]; then
		cp -a "$HOSTRPC_GUEST_DIR/kernel" "$HOSTRPC_GUEST_DIR/env" "$fsp_dir/"
	fi
	(
		command -v flock > /dev/null && flock 9
		"$top_srcdir/tools/guest-image" -d "$fsp_dir" "${margs[@]}" build >&2
	) 9> "$fsp_dir/.build-lock" || vm_skip "cannot build the filesystem guest image in $fsp_dir"
}

fsp_hostrpcfs_missing() {
	local why=""
	[ -f "$fsp_dir/modules/hostrpcfs.ko" ] ||
		why="the guest image $fsp_dir has no hostrpcfs.ko (tools/guest-image builds it from drivers-frontend/fs)"
	if ! "$vm_hostrpcd" --help 2>&1 | grep -q -- '--fs-policy-dir'; then
		why="${why:+$why; }hostrpcd has no --fs-policy-dir (no host fs service, outsource/fs)"
	elif [ "$vm_server_is_hostrpcd" != 1 ]; then
		why="${why:+$why; }the VM tests' server is not hostrpcd (HOSTRPC_IVSHMEM_SERVER is set)"
	fi
	[ -n "$why" ] || return 1
	echo "$why"
}

fsp_available() {
	case $1 in
	9p) return 0 ;;
	virtiofs) [ -x "$fsp_virtiofsd" ] ;;
	hostrpcfs) ! fsp_hostrpcfs_missing > /dev/null ;;
	*) return 1 ;;
	esac
}

fsp_mount() {
	case $1 in
	9p) echo "mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 h /mnt" ;;
	virtiofs) echo "mount -t virtiofs v /mnt" ;;
	hostrpcfs) echo "mount -t hostrpcfs bench /mnt" ;;
	esac
}

fsp_run() {
	local fs=$1 dir=$2 name=$3 args=() rc=0 vfs_pid="" sock
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	args+=(-g "$fsp_dir" -m "$fsp_mem" -l "$vm_tmp/$name.console.log"
		-Q "-object memory-backend-memfd,id=mem,size=${fsp_mem}M,share=on -numa node,memdev=mem")
	case $fs in
	9p)
		args+=(-S -Q "-virtfs local,path=$dir,mount_tag=h,security_model=none")
		;;
	virtiofs)
		sock=$vm_tmp/$name.vfs.sock
		rm -f "$sock"
		"$fsp_virtiofsd" --socket-path="$sock" -o source="$dir" -o cache=auto \
			> "$vm_tmp/$name.virtiofsd.log" 2>&1 &
		vfs_pid=$!
		if ! wait_for 20 test -S "$sock"; then
			echo "fs-peers: virtiofsd did not start:" >&2
			cat "$vm_tmp/$name.virtiofsd.log" >&2
			kill "$vfs_pid" 2> /dev/null
			wait "$vfs_pid" 2> /dev/null
			return 125
		fi
		args+=(-S -Q "-chardev socket,id=vfs,path=$sock -device vhost-user-fs-pci,chardev=vfs,tag=v")
		;;
	hostrpcfs)
		# The policy names the export; the daemon may serve it as another
		# user, so the way down to it is open (the directory itself too).
		mkdir -p "$vm_tmp/$name.fsconf"
		echo "export bench $dir ids=passthrough" > "$vm_tmp/$name.fsconf/default.conf"
		chmod 755 "$vm_tmp" "$dir"
		args+=(-s "$vm_server --fs-policy-dir=$vm_tmp/$name.fsconf" -L "$vm_tmp/$name.server.log"
			-a "hrpc.load=hostrpcfs")
		;;
	*)
		echo "fs-peers: unknown filesystem $fs" >&2
		return 2
		;;
	esac
	"$vm_run" "${args[@]}" "$@" || rc=$?
	if [ -n "$vfs_pid" ]; then
		# virtiofsd exits when its guest's QEMU closes the socket.
		wait_for 10 eval "! kill -0 $vfs_pid 2> /dev/null" || kill "$vfs_pid" 2> /dev/null
		wait "$vfs_pid" 2> /dev/null || true
	fi
	return "$rc"
}

fsp_cleanup() {
	# hostrpcd's fd holder outlives the daemon on purpose (tests/tap-run)
	[ "$vm_server_is_hostrpcd" != 1 ] ||
		"$vm_hostrpcd" --fdstore-release --state-dir="$vm_state" > /dev/null 2>&1 || true
	rm -rf "$vm_tmp"
}
