# tests/pkg: the Debian packages (debian/) build, are lintian-clean and work
# unpacked.  One whole build of the project: it runs in make check, in
# VM_TESTS (tests/local.mk) so that the sanitizer pass (make distcheck
# 'VM_TESTS=$(vm_lifetime_tests)', tools/quickstart check) leaves it out:
# the package build ignores --enable-sanitizers, so a second run there would
# test nothing new.
pkg_tests = tests/pkg/deb-build.sh
dist_check_SCRIPTS += $(pkg_tests)
