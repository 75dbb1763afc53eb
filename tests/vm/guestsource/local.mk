# VM tests of guest-sourcing: a QEMU (TCG) guest runs guestrpcd behind two
# virtio-serial channels; the host mounts its filesystem and runs its
# commands (tests/vm/guestsource/lib.sh boots it from tools/guest-image's
# image, adding the agent and the virtio modules per boot).
gs_vm_tests = tests/vm/guestsource/gs-vm-exec.sh tests/vm/guestsource/gs-vm-mount.sh \
	tests/vm/guestsource/gs-vm-libvirt.sh
dist_check_SCRIPTS += $(gs_vm_tests)

EXTRA_DIST += tests/vm/guestsource/lib.sh
