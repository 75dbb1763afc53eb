# The Xen transport's benchmark (issue 16 item 5), included from
# bench/local.mk:
#   make xen-bench   in one boot of Xen 4.17 + a PV dom0 + a PV domU under
#                    QEMU TCG: 64 B round trips and one-way bulk through
#                    hostrpc (hostrpcd --xen, hrpc-echo in the domU) against
#                    libxenvchan's own pair (tests/vm/xen/vchan-bench);
#                    prints both ratios (root; XEN_BENCH_N, XEN_BENCH_MIB,
#                    XEN_BENCH_SMP, XEN_BENCH_POLL; the smoke run of
#                    tests/vm/xen/xen-bench-smoke.sh: 100 round trips, 8 MiB)
EXTRA_DIST += bench/xen.mk
.PHONY: xen-bench
if HAVE_XEN
if !ENABLE_SANITIZERS
xen-bench: hostrpc/daemon/hostrpcd hostrpc/daemon/hostrpcctl tests/vm/xen/vchan-bench
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		$(SHELL) $(top_srcdir)/bench/xen-bench.sh
endif
endif
