# Socket outsourcing benchmarks (include from bench/local.mk or Makefile.am).
#   make sock-bench      process guest vs host TCP loopback (same run): the
#                        service in-process, then through a private hostrpcd's
#                        worker (the product's path for a process guest)
#   make sock-vm-bench   issue 11's benchmarks: NIC-less guest with
#                        hostrpc_sock vs the same guest kernel with virtio-net
#                        on QEMU user networking (SOCK_BENCH_QUICK=1: the
#                        smoke run of tests/vm/sock/sock-bench-smoke.sh)
noinst_PROGRAMS += bench/sock-bench
bench_sock_bench_SOURCES = bench/sock-bench.c
bench_sock_bench_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) -O2
bench_sock_bench_LDADD = outsource/sock/libhrpc-sock-guest.la \
	outsource/sock/libhrpc-sock-glib.la outsource/sock/libhrpc-sock.la \
	hostrpc/libhostrpc-glib.la hostrpc/libhostrpc.la $(GLIB_LIBS) -lpthread
# The host's TCP/UDP echo server of sock-vm-bench (the guest's client,
# bench/guest/sock-rr.c, is built static by the script itself).
noinst_PROGRAMS += bench/sock-rr-server
bench_sock_rr_server_SOURCES = bench/sock-rr-server.c
bench_sock_rr_server_CFLAGS = $(AM_CFLAGS) -O2
EXTRA_DIST += bench/sock-vm-bench.sh bench/guest/sock-rr.c

.PHONY: sock-bench sock-vm-bench
sock-bench: bench/sock-bench hostrpc/daemon/hostrpcd
	$(builddir)/bench/sock-bench -D $(abs_top_builddir)/hostrpc/daemon/hostrpcd
sock-vm-bench: hostrpc/daemon/hostrpcd bench/sock-rr-server
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		$(SHELL) $(top_srcdir)/bench/sock-vm-bench.sh
