# Host files in guest processes (issue 15 item 3), included from
# bench/local.mk:
#   make mem-file-bench   a 256 MiB host file read in the guest through a
#                         MAP_SHARED mapping of a hostrpcfs mount vs read()
#                         through virtio-9p (hostrpcfs read() for
#                         reference), cold caches, TCG; prints the ratios
#                         (MEM_FILE_BENCH_MIB=N: another size; the smoke
#                         run of tests/vm/mem/mem-file-bench-smoke.sh: 16)
EXTRA_DIST += bench/mem-file-bench.sh
.PHONY: mem-file-bench
mem-file-bench: hostrpc/daemon/hostrpcd
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		$(SHELL) $(top_srcdir)/bench/mem-file-bench.sh
