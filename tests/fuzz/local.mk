# libFuzzer targets for every decoder the host exposes to guests, built with
# clang (FUZZ_CC) and ASan/UBSan straight from the library sources.
fuzz_lib_sources = hostrpc/chan.c hostrpc/chan-shm.c hostrpc/chan-memfd.c hostrpc/chan-vport.c \
	hostrpc/client.c hostrpc/server.c hostrpc/builtins.c hostrpc/unix.c hostrpc/handle-table.c
fuzz_cflags = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I$(top_builddir) -I$(top_srcdir)/include -I$(top_srcdir)
EXTRA_DIST += tests/fuzz/fuzz-conn.c tests/fuzz/fuzz-sock.c tests/fuzz/make-seeds.c
fuzz_sock_sources = outsource/sock/sock.c outsource/sock/policy.c
TESTS += tests/fuzz/smoke.sh
dist_check_SCRIPTS += tests/fuzz/smoke.sh
if HAVE_FUZZ
check_PROGRAMS += tests/fuzz/make-seeds
tests_fuzz_make_seeds_SOURCES = tests/fuzz/make-seeds.c
check_SCRIPTS += tests/fuzz/fuzz-conn tests/fuzz/fuzz-sock
CLEANFILES += tests/fuzz/fuzz-conn tests/fuzz/fuzz-sock
tests/fuzz/fuzz-conn: $(top_srcdir)/tests/fuzz/fuzz-conn.c $(addprefix $(top_srcdir)/,$(fuzz_lib_sources)) config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) -o $@ $(top_srcdir)/tests/fuzz/fuzz-conn.c \
		$(addprefix $(top_srcdir)/,$(fuzz_lib_sources))
tests/fuzz/fuzz-sock: $(top_srcdir)/tests/fuzz/fuzz-sock.c $(addprefix $(top_srcdir)/,$(fuzz_lib_sources) $(fuzz_sock_sources)) config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) -o $@ $(top_srcdir)/tests/fuzz/fuzz-sock.c \
		$(addprefix $(top_srcdir)/,$(fuzz_lib_sources) $(fuzz_sock_sources))
endif
