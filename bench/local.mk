# Benchmarks: not tests.  `make bench` prints ratios against baselines
# measured in the same run.
noinst_PROGRAMS += bench/hrpc-bench
bench_hrpc_bench_LDADD = hostrpc/libhostrpc.la -lpthread
bench_hrpc_bench_CFLAGS = $(AM_CFLAGS) -O2

.PHONY: bench
bench: bench/hrpc-bench
	$(builddir)/bench/hrpc-bench
