# Installation tests: make install / uninstall into a scratch DESTDIR, the
# systemd units checked by systemd-analyze, the guest modules built and
# installed through drivers-frontend/Makefile.
install_tests = tests/install/install-layout.sh tests/install/units-verify.sh
dist_check_SCRIPTS += $(install_tests)
TESTS += $(install_tests)
# make install relinks libraries and programs in the build tree (libtool
# moves the build's copy aside while it does): under make -j the two would
# clash, and another test could start a program just then.  So they run
# after every other test of the run, one after the other.
tests/install/install-layout.log: \
	$(filter-out $(install_tests:.sh=.log),$(TEST_LOGS))
tests/install/units-verify.log: tests/install/install-layout.log
EXTRA_DIST += tests/install/lib.sh

# The guest modules through drivers-frontend/Makefile and DKMS: they need
# the guest kernel's headers, which tools/guest-image installs, so they run
# with the VM tests (VM_TESTS, tests/local.mk) though they boot nothing.
install_vm_tests = tests/install/guest-modules.sh tests/install/guest-modules-dkms.sh
dist_check_SCRIPTS += $(install_vm_tests)
