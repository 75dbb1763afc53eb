# Installation tests: make install / uninstall into a scratch DESTDIR, the
# systemd units checked by systemd-analyze, the guest modules built and
# installed through drivers-frontend/Makefile.
install_tests = tests/install/install-layout.sh tests/install/units-verify.sh
dist_check_SCRIPTS += $(install_tests)
TESTS += $(install_tests)
# make install relinks libraries and programs in the build tree (libtool
# moves the build's copy aside while it does): another test could start a
# program just then.  So install-layout runs after every other test of the run.
tests/install/install-layout.log: \
	$(filter-out tests/install/install-layout.log,$(TEST_LOGS))
EXTRA_DIST += tests/install/lib.sh

# The guest modules through drivers-frontend/Makefile and DKMS: they need
# the guest kernel's headers, which tools/guest-image installs, so they run
# with the VM tests (VM_TESTS, tests/local.mk) though they boot nothing.
install_vm_tests = tests/install/guest-modules.sh tests/install/guest-modules-dkms.sh
dist_check_SCRIPTS += $(install_vm_tests)
