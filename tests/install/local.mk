# Installation tests: make install / uninstall into a scratch DESTDIR, the
# systemd units checked by systemd-analyze, the guest modules built and
# installed through drivers-frontend/Makefile.
install_tests = tests/install/install-layout.sh tests/install/units-verify.sh
dist_check_SCRIPTS += $(install_tests)
TESTS += $(install_tests)
EXTRA_DIST += tests/install/lib.sh
