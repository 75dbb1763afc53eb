# Filesystem outsourcing's benchmark (issue 13), included from bench/local.mk:
#   make fs-bench    hostrpcfs vs virtio-9p and virtio-fs (QEMU's C
#                    virtiofsd), the same guest kernel and files in the same
#                    run: dd write/read, untar, find, a stat storm, rm -rf
#                    (BENCH_RUNS=N: medians of N boots each; FS_BENCH_SMALL=1:
#                    the smoke run of tests/vm/fs/fs-bench-smoke.sh)
EXTRA_DIST += bench/fs-bench.sh
.PHONY: fs-bench
fs-bench: hostrpc/daemon/hostrpcd
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		$(SHELL) $(top_srcdir)/bench/fs-bench.sh
