# Xen tests: real Xen 4.17 + a PV dom0 + PV domUs under QEMU TCG.
# tools/xen-image builds the images (after tools/guest-image);
# tests/vm/xen/lib.sh is the harness (README.md).  Included from Makefile.am
# after tests/local.mk: vm_tests (tests/vm/local.mk) is in VM_TESTS and
# dist_check_SCRIPTS already.
EXTRA_DIST += tests/vm/xen/lib.sh tests/vm/xen/README.md
vm_tests += tests/vm/xen/xen-boot.sh
# Host RPC over grants + event channels, an outsourced socket, guest-sourcing
# over libxenvchan, a fenced domU, a domU destroyed mid-call.
vm_tests += tests/vm/xen/xen-hostrpc.sh
# bench/xen-bench.sh small: hostrpc against libxenvchan in one boot.
vm_tests += tests/vm/xen/xen-bench-smoke.sh
EXTRA_DIST += bench/xen-bench.sh tests/vm/xen/vchan-bench.c
if HAVE_XEN
if !SANITIZED_BUILD
# libxenvchan's own client/server pair, the benchmark's baseline: static, so
# that the same binary runs in dom0 and in the domU (whose image carries no
# Xen libraries).  Not in a sanitizer build (ASan, TSan cannot link static; that
# pass runs no Xen test).
check_PROGRAMS += tests/vm/xen/vchan-bench
tests_vm_xen_vchan_bench_LDFLAGS = -all-static
tests_vm_xen_vchan_bench_LDADD = -lxenvchan -lxengnttab -lxenevtchn -lxenstore \
	-lxentoollog -lxentoolcore -lpthread
endif
endif
