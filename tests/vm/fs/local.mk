# VM tests of filesystem outsourcing: hostrpcfs.ko (drivers-frontend/fs) in
# a guest against hostrpcd's fs service (outsource/fs).  The static guest
# program is built by the test itself.
fs_vm_tests = tests/vm/fs/fs-vm.sh
# The host side reset under a mount: EIO, no hang, umount, a new mount works.
fs_vm_tests += tests/vm/fs/fs-reset.sh
EXTRA_DIST += tests/vm/fs/guest/fs-probe.c
dist_check_SCRIPTS += $(fs_vm_tests)
# The shared POSIX credential checks (tests/posix/creds.sh) in a guest
# through hostrpcfs, as mount-posix.sh runs them through
# hostrpc-guestmount; its static runas is built by the test.
fs_vm_tests += tests/vm/fs/fs-posix.sh
# A hostile guest program speaking the protocol itself (escape-probe, built
# static by the test) tries to leave its export: "..", symlinks out, a
# magic link, a directory swapped with a link to / during lookups.
fs_vm_tests += tests/vm/fs/fs-escape.sh
EXTRA_DIST += tests/vm/fs/guest/escape-probe.c
