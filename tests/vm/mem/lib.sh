# tests/vm/mem/lib.sh - sourced by the memory outsourcing VM tests after
# tests/vm/lib.sh and vm_prepare:
#   mem_vm_prepare  skip (77, saying why) unless hostrpcd is the ivshmem
#       server, the guest image has hostrpc_mem.ko and hostmem-touch, and
#       /dev/shm is tmpfs (the regions live there); sets $hostrpcctl.
#   mem_qemu_region FILE MIB  the QEMU arguments (vm-run -Q) of a guest's
#       region: FILE mapped shared as an ivshmem-plain BAR of MIB MiB.
mem_vm_prepare() {
	[ "$vm_server_is_hostrpcd" = 1 ] || vm_skip "needs hostrpcd as the ivshmem server"
	[ -f "$HOSTRPC_GUEST_DIR/modules/hostrpc_mem.ko" ] ||
		vm_skip "the guest image has no hostrpc_mem.ko (tools/guest-image build)"
	[ -x "$HOSTRPC_GUEST_DIR/bin/hostmem-touch" ] || vm_skip "the guest image has no hostmem-touch"
	[ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ] || vm_skip "no tmpfs /dev/shm"
	hostrpcctl=$top_builddir/hostrpc/daemon/hostrpcctl
}
mem_qemu_region() {
	echo "-object memory-backend-file,id=hmem,share=on,mem-path=$1,size=$2M -device ivshmem-plain,memdev=hmem"
}
