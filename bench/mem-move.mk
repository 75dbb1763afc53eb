# Memory outsourcing's benchmark (issue 15 item 7, part 1), included from
# bench/local.mk:
#   make mem-move-bench   the time to move 1 GiB from one guest to another:
#                         hostrpcctl memory reclaim + grant through
#                         hostrpcd's memory service (two QEMU guests with
#                         hostrpc_mem.ko) vs virtio-balloon inflate +
#                         deflate through libvirt (virsh setmem), TCG,
#                         medians of 3 moves; prints the ratio (root;
#                         MEM_MOVE_BENCH_MIB=N, MEM_MOVE_BENCH_RUNS=N; the
#                         smoke run of tests/vm/mem/mem-move-bench-smoke.sh:
#                         128 MiB, 1 move)
EXTRA_DIST += bench/mem-move-bench.sh
.PHONY: mem-move-bench
mem-move-bench: hostrpc/daemon/hostrpcd hostrpc/daemon/hostrpcctl
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		$(SHELL) $(top_srcdir)/bench/mem-move-bench.sh
