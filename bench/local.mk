# Benchmarks: not tests.  `make bench` prints ratios against baselines
# measured in the same run.
noinst_PROGRAMS += bench/hrpc-bench
bench_hrpc_bench_LDADD = hostrpc/libhostrpc.la -lpthread
bench_hrpc_bench_CFLAGS = $(AM_CFLAGS) -O2

.PHONY: bench
bench: bench/hrpc-bench
	$(builddir)/bench/hrpc-bench

# Issue 12: a live migration with 100 streaming connections, hostrpc-migrate
# vs a plain QEMU migration with virtio-net + slirp (root; two hosts as
# network namespaces).
EXTRA_DIST += bench/migrate-bench.sh
.PHONY: migrate-bench
migrate-bench: hostrpc/daemon/hostrpcd migrate/hostrpc-migrate
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		$(SHELL) $(top_srcdir)/bench/migrate-bench.sh

# Issue 14: the latency a forwarded call adds (a connection that stayed at
# the source), and the downtime with and without --prepare.
EXTRA_DIST += bench/migrate-forward-bench.sh
.PHONY: migrate-forward-bench
migrate-forward-bench: hostrpc/daemon/hostrpcd migrate/hostrpc-migrate
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		$(SHELL) $(top_srcdir)/bench/migrate-forward-bench.sh

include $(top_srcdir)/bench/fs.mk
include $(top_srcdir)/bench/mem.mk
include $(top_srcdir)/bench/mem-move.mk
include $(top_srcdir)/bench/xen.mk

# Issue 18 item 6: SOAK_GUESTS guests x SOAK_SOCKETS outsourced sockets
# through hostrpcd for SOAK_SECONDS, the daemon's descriptors and RSS
# sampled and required flat.  make check runs the short default (16 x 100,
# 20 s: tests/integration/local.mk); this is the full run.
.PHONY: soak
soak: bench/soak
	top_builddir='$(abs_top_builddir)' SOAK_SOCKETS=$${SOAK_SOCKETS:-1000} \
		SOAK_SECONDS=$${SOAK_SECONDS:-600} nice $(builddir)/bench/soak
