# Autotest suite: unit tests (tests/unit), integration with process guests
# (tests/integration), VM tests (tests/vm), fuzz smoke runs (tests/fuzz).
EXTRA_DIST += tests/tap-run tests/tap.h tests/lib.sh
include tests/unit/local.mk
include tests/integration/local.mk
include tests/posix/local.mk
include tests/install/local.mk
include tests/fuzz/local.mk
include tests/vm/local.mk
include tests/vm/sock/local.mk
include tests/vm/fs/local.mk
include tests/vm/guestsource/local.mk
include tests/vm/migrate/local.mk
include tests/vm/mem/local.mk
include tests/vm/fs/workloads.mk
include tests/pkg/local.mk
include tests/tsan.mk

# The VM tests (real guest kernels under QEMU) that `make check` runs: all of
# them by default.  `make check VM_TESTS='$$(vm_lifetime_tests)'` runs only
# the daemon-lifetime ones - the sanitizer pass of tools/quickstart check
# (make distcheck with --enable-sanitizers), so that the rest run once.
# The Debian package build (tests/pkg) is no VM test but is grouped here for
# the same reason: it runs once, in make check.
vm_lifetime_tests = tests/vm/endpoint-churn.sh
VM_TESTS = $(vm_tests) $(sock_vm_tests) $(fs_vm_tests) $(gs_vm_tests) $(mig_vm_tests) $(mem_vm_tests)
VM_TESTS += $(fs_workload_vm_tests) $(install_vm_tests)
VM_TESTS += $(pkg_tests)
TESTS += $(VM_TESTS)
