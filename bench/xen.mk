# The Xen transport's benchmark (issue 16 item 5), included from
# bench/local.mk:
#   make xen-bench   in each of two boots of Xen 4.17 + a PV dom0 + a PV
#                    domU under QEMU TCG (one vCPU, blocking waits; two
#                    vCPUs, hostrpc's spins): 64 B round trips and one-way
#                    bulk through hostrpc (hostrpcd --xen, hrpc-echo in the
#                    domU) against libxenvchan's own pair and a bare
#                    event-channel ping-pong (tests/vm/xen/vchan-bench);
#                    prints the ratios (root; XEN_BENCH_N, XEN_BENCH_MIB,
#                    XEN_BENCH_CONFIGS; the smoke run of
#                    tests/vm/xen/xen-bench-smoke.sh: 100 round trips, 8 MiB)
EXTRA_DIST += bench/xen.mk
.PHONY: xen-bench
if HAVE_XEN
if !SANITIZED_BUILD
xen-bench: hostrpc/daemon/hostrpcd hostrpc/daemon/hostrpcctl tests/vm/xen/vchan-bench
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		$(SHELL) $(top_srcdir)/bench/xen-bench.sh
endif
endif
