# Socket outsourcing benchmarks (include from bench/local.mk or Makefile.am).
#   make sock-bench      process guest vs host TCP loopback (same run)
#   make sock-vm-bench   NIC-less guest with hostrpc_sock vs the same guest
#                        kernel with virtio-net on QEMU user networking
noinst_PROGRAMS += bench/sock-bench
bench_sock_bench_SOURCES = bench/sock-bench.c
bench_sock_bench_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) -O2
bench_sock_bench_LDADD = outsource/sock/libhrpc-sock-guest.la \
	outsource/sock/libhrpc-sock-glib.la outsource/sock/libhrpc-sock.la \
	hostrpc/libhostrpc-glib.la hostrpc/libhostrpc.la $(GLIB_LIBS) -lpthread
EXTRA_DIST += bench/sock-vm-bench.sh

.PHONY: sock-bench sock-vm-bench
sock-bench: bench/sock-bench
	$(builddir)/bench/sock-bench
sock-vm-bench: hostrpc/daemon/hostrpcd
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		$(SHELL) $(top_srcdir)/bench/sock-vm-bench.sh
