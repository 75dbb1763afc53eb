# VM tests: boot the Debian guest kernel under QEMU (TCG) with the project's
# modules (image from tools/guest-image) against an ivshmem server.
# tests/vm/vm-run is the harness; tests/vm/guest/*.c are static guest
# programs built into the image.
EXTRA_DIST += tests/vm/vm-run tests/vm/lib.sh tests/vm/guest/hrpc-echo.c
vm_tests = tests/vm/core-echo.sh tests/vm/core-lifecycle.sh tests/vm/core-reset.sh \
	tests/vm/core-concurrency.sh
vm_tests += tests/vm/core-daemon-restart.sh
vm_tests += tests/vm/guest-reboot.sh
vm_tests += tests/vm/guest-forged-ring.sh
vm_tests += tests/vm/guest-killed.sh
vm_tests += tests/vm/virsh-guest.sh
vm_tests += tests/vm/libvirt-lifecycle.sh
vm_tests += tests/vm/endpoint-churn.sh
vm_tests += tests/vm/demo.sh
# kill -9 of worker, supervisor, fd holder and QEMU under a checking guest
# (issue 18 item 5; FAULT_BOOTS=10 for the 200-kill run)
vm_tests += tests/vm/fault-loop.sh
EXTRA_DIST += tests/vm/guest/hrpc-forge.c
dist_check_SCRIPTS += $(vm_tests)

