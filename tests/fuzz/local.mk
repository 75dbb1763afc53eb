# libFuzzer targets for every decoder the host exposes to guests, built with
# clang (FUZZ_CC) and ASan/UBSan straight from the library sources.
fuzz_lib_sources = hostrpc/chan.c hostrpc/chan-shm.c hostrpc/chan-memfd.c hostrpc/chan-vport.c \
	hostrpc/client.c hostrpc/server.c hostrpc/builtins.c hostrpc/unix.c hostrpc/handle-table.c
fuzz_cflags = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I$(top_builddir) -I$(top_srcdir)/include -I$(top_srcdir)
EXTRA_DIST += tests/fuzz/fuzz-conn.c tests/fuzz/fuzz-sock.c tests/fuzz/make-seeds.c
EXTRA_DIST += tests/fuzz/fuzz-gm.c tests/fuzz/fuzz-gex.c tests/fuzz/fuzz-client.c \
	tests/fuzz/fuzz-session.c tests/fuzz/fuzz-sockring.c tests/fuzz/fuzz-sockstate.c \
	tests/fuzz/fuzz-miglink.c
fuzz_sock_sources = outsource/sock/sock.c outsource/sock/policy.c outsource/sock/sockarea.c outsource/sock/translate.c \
	outsource/sock/tcprepair.c
TESTS += tests/fuzz/smoke.sh
dist_check_SCRIPTS += tests/fuzz/smoke.sh
# make fuzz-long's bookkeeping, on two fast targets (a few seconds).
TESTS += tests/fuzz/test-long.sh
dist_check_SCRIPTS += tests/fuzz/test-long.sh
if HAVE_FUZZ
check_PROGRAMS += tests/fuzz/make-seeds
tests_fuzz_make_seeds_SOURCES = tests/fuzz/make-seeds.c
check_SCRIPTS += tests/fuzz/fuzz-conn tests/fuzz/fuzz-sock
CLEANFILES += tests/fuzz/fuzz-conn tests/fuzz/fuzz-sock
# The host's client side: guestmount's and guest-exec's decoders, the
# libhostrpc client and the Guest RPC session, against a hostile guest.
check_SCRIPTS += tests/fuzz/fuzz-gm tests/fuzz/fuzz-gex tests/fuzz/fuzz-client tests/fuzz/fuzz-session
CLEANFILES += tests/fuzz/fuzz-gm tests/fuzz/fuzz-gex tests/fuzz/fuzz-client tests/fuzz/fuzz-session
# The host's side of a sockets v2 socket area (header-only).
check_SCRIPTS += tests/fuzz/fuzz-sockring
CLEANFILES += tests/fuzz/fuzz-sockring
tests/fuzz/fuzz-sockring: $(top_srcdir)/tests/fuzz/fuzz-sockring.c $(top_srcdir)/include/hostrpc/sockring.h $(top_srcdir)/include/hostrpc/ring.h config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) -o $@ $(top_srcdir)/tests/fuzz/fuzz-sockring.c
# A migrating guest's socket table as another host ships it (sockstate.h),
# replayed by the socket service.
check_SCRIPTS += tests/fuzz/fuzz-socktable
CLEANFILES += tests/fuzz/fuzz-socktable
EXTRA_DIST += tests/fuzz/fuzz-socktable.c tests/fuzz/fuzz-netns.h tests/fuzz/fuzz-runner.h
tests/fuzz/fuzz-socktable: $(top_srcdir)/tests/fuzz/fuzz-socktable.c $(top_srcdir)/tests/fuzz/fuzz-netns.h $(addprefix $(top_srcdir)/,$(fuzz_lib_sources) $(fuzz_sock_sources)) config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) -o $@ $(top_srcdir)/tests/fuzz/fuzz-socktable.c \
		$(addprefix $(top_srcdir)/,$(fuzz_lib_sources) $(fuzz_sock_sources)) -lpthread
# A TCP connection's image as another host ships it (sockstate.h).
check_SCRIPTS += tests/fuzz/fuzz-sockstate
CLEANFILES += tests/fuzz/fuzz-sockstate
tests/fuzz/fuzz-sockstate: $(top_srcdir)/tests/fuzz/fuzz-sockstate.c $(top_srcdir)/include/hostrpc/sockstate.h $(top_srcdir)/include/hostrpc/sock.h config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) -o $@ $(top_srcdir)/tests/fuzz/fuzz-sockstate.c
# A migrating guest's filesystem state as another host ships it (fsstate.h),
# made again by fs-server on a private tree.
check_SCRIPTS += tests/fuzz/fuzz-fsstate
CLEANFILES += tests/fuzz/fuzz-fsstate
EXTRA_DIST += tests/fuzz/fuzz-fsstate.c
tests/fuzz/fuzz-fsstate: $(top_srcdir)/tests/fuzz/fuzz-fsstate.c $(top_srcdir)/fs-server/server.c $(top_srcdir)/fs-server/server.h $(top_srcdir)/include/hostrpc/fsstate.h config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) -o $@ $(top_srcdir)/tests/fuzz/fuzz-fsstate.c \
		$(top_srcdir)/fs-server/server.c $(top_srcdir)/hostrpc/handle-table.c $(top_srcdir)/hostrpc/idmap.c
# One end of a forward link (migrate/forward.c) against a hostile peer host
# that holds the link's keys (migfwd.h).
check_SCRIPTS += tests/fuzz/fuzz-migfwd
CLEANFILES += tests/fuzz/fuzz-migfwd
EXTRA_DIST += tests/fuzz/fuzz-migfwd.c
tests/fuzz/fuzz-migfwd: $(top_srcdir)/tests/fuzz/fuzz-migfwd.c $(top_srcdir)/migrate/forward.c $(top_srcdir)/migrate/forward.h $(top_srcdir)/migrate/link.c $(top_srcdir)/migrate/link.h $(top_srcdir)/include/hostrpc/migfwd.h $(top_srcdir)/include/hostrpc/miglink.h config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) $(GLIB_CFLAGS) -o $@ $(top_srcdir)/tests/fuzz/fuzz-migfwd.c \
		$(top_srcdir)/migrate/forward.c $(top_srcdir)/migrate/link.c $(GLIB_LIBS)
# The migration link's messages before authentication (miglink.h).
check_SCRIPTS += tests/fuzz/fuzz-miglink
CLEANFILES += tests/fuzz/fuzz-miglink
tests/fuzz/fuzz-miglink: $(top_srcdir)/tests/fuzz/fuzz-miglink.c $(top_srcdir)/include/hostrpc/miglink.h config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) -o $@ $(top_srcdir)/tests/fuzz/fuzz-miglink.c
tests/fuzz/fuzz-gm: $(top_srcdir)/tests/fuzz/fuzz-gm.c $(top_srcdir)/guestsource/gfs-decode.c $(top_srcdir)/guestsource/gfs-decode.h config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) -o $@ $(top_srcdir)/tests/fuzz/fuzz-gm.c \
		$(top_srcdir)/guestsource/gfs-decode.c
# The filesystem server (fs-server/) against a hostile client, on a private
# tree (tests/fuzz/fuzz-fss.c says what it checks).
check_SCRIPTS += tests/fuzz/fuzz-fss
CLEANFILES += tests/fuzz/fuzz-fss
EXTRA_DIST += tests/fuzz/fuzz-fss.c
tests/fuzz/fuzz-fss: $(top_srcdir)/tests/fuzz/fuzz-fss.c $(top_srcdir)/fs-server/server.c $(top_srcdir)/fs-server/server.h $(top_srcdir)/include/hostrpc/guestfs.h config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) -o $@ $(top_srcdir)/tests/fuzz/fuzz-fss.c \
		$(top_srcdir)/fs-server/server.c $(top_srcdir)/hostrpc/handle-table.c $(top_srcdir)/hostrpc/idmap.c
tests/fuzz/fuzz-gex: $(top_srcdir)/tests/fuzz/fuzz-gex.c $(top_srcdir)/guestsource/gex-decode.c $(top_srcdir)/guestsource/gex-decode.h config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) -o $@ $(top_srcdir)/tests/fuzz/fuzz-gex.c \
		$(top_srcdir)/guestsource/gex-decode.c
tests/fuzz/fuzz-client: $(top_srcdir)/tests/fuzz/fuzz-client.c $(top_srcdir)/tests/fuzz/fuzz-runner.h $(addprefix $(top_srcdir)/,$(fuzz_lib_sources)) config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) -o $@ $(top_srcdir)/tests/fuzz/fuzz-client.c \
		$(addprefix $(top_srcdir)/,$(fuzz_lib_sources)) -lpthread
tests/fuzz/fuzz-session: $(top_srcdir)/tests/fuzz/fuzz-session.c $(top_srcdir)/tests/fuzz/fuzz-runner.h $(top_srcdir)/guestrpc/session.c $(addprefix $(top_srcdir)/,$(fuzz_lib_sources) $(guestrpc_session_sources)) config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) -o $@ $(top_srcdir)/tests/fuzz/fuzz-session.c \
		$(top_srcdir)/guestrpc/session.c $(addprefix $(top_srcdir)/,$(fuzz_lib_sources) $(guestrpc_session_sources)) \
		$(guestrpc_session_libs) -lpthread
tests/fuzz/fuzz-conn: $(top_srcdir)/tests/fuzz/fuzz-conn.c $(addprefix $(top_srcdir)/,$(fuzz_lib_sources)) config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) -o $@ $(top_srcdir)/tests/fuzz/fuzz-conn.c \
		$(addprefix $(top_srcdir)/,$(fuzz_lib_sources))
tests/fuzz/fuzz-sock: $(top_srcdir)/tests/fuzz/fuzz-sock.c $(addprefix $(top_srcdir)/,$(fuzz_lib_sources) $(fuzz_sock_sources)) config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) -o $@ $(top_srcdir)/tests/fuzz/fuzz-sock.c \
		$(addprefix $(top_srcdir)/,$(fuzz_lib_sources) $(fuzz_sock_sources))
endif
# The memory service (outsource/mem/) against a hostile guest, on a region
# file of its own on /dev/shm, with the host's grants, reclaims, deadlines
# and balancing interleaved (tests/fuzz/fuzz-mem.c).
if HAVE_FUZZ
check_SCRIPTS += tests/fuzz/fuzz-mem
CLEANFILES += tests/fuzz/fuzz-mem
endif
EXTRA_DIST += tests/fuzz/fuzz-mem.c
fuzz_mem_sources = outsource/mem/region.c outsource/mem/balance.c
tests/fuzz/fuzz-mem: $(top_srcdir)/tests/fuzz/fuzz-mem.c $(top_srcdir)/outsource/mem/service.c $(top_srcdir)/outsource/mem/region.h $(top_srcdir)/outsource/mem/balance.h $(top_srcdir)/include/hostrpc/mem.h $(addprefix $(top_srcdir)/,$(fuzz_lib_sources) $(fuzz_mem_sources)) config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) $(GLIB_CFLAGS) -DSYSCONFDIR=\"/nonexistent\" -o $@ $(top_srcdir)/tests/fuzz/fuzz-mem.c \
		$(addprefix $(top_srcdir)/,$(fuzz_lib_sources) $(fuzz_mem_sources)) $(GLIB_LIBS) -lpthread
# The dom0 side of the Xen handshake: a domU's xenstore values as hostrpcd
# checks them before it maps a grant (hostrpc/daemon/xen-fe.c); no libxen.
if HAVE_FUZZ
check_SCRIPTS += tests/fuzz/fuzz-xen
CLEANFILES += tests/fuzz/fuzz-xen
endif
EXTRA_DIST += tests/fuzz/fuzz-xen.c
fuzz_xen_sources = hostrpc/daemon/xen-fe.c hostrpc/daemon/guest-status.c hostrpc/daemon/guest-table.c \
	hostrpc/daemon/log.c
tests/fuzz/fuzz-xen: $(top_srcdir)/tests/fuzz/fuzz-xen.c $(top_srcdir)/hostrpc/daemon/xen-fe.h $(top_srcdir)/include/hostrpc/xen.h $(addprefix $(top_srcdir)/,$(fuzz_xen_sources)) config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) $(GLIB_CFLAGS) -o $@ $(top_srcdir)/tests/fuzz/fuzz-xen.c \
		$(addprefix $(top_srcdir)/,$(fuzz_xen_sources)) $(GLIB_LIBS)
# make fuzz-long: every target for FUZZ_LONG_RUNS (default 10 M) executions
# from its checked-in corpus (tests/fuzz/long.sh); not part of check.
EXTRA_DIST += tests/fuzz/long.sh tests/fuzz/corpus-update.sh tests/fuzz/README \
	tests/fuzz/workerctl-cov-ignore.txt
CLEANFILES += tests/fuzz/fuzz-long.txt
.PHONY: fuzz-long
if HAVE_FUZZ
fuzz_bins = tests/fuzz/fuzz-conn tests/fuzz/fuzz-sock tests/fuzz/fuzz-gm tests/fuzz/fuzz-gex \
	tests/fuzz/fuzz-fss tests/fuzz/fuzz-client tests/fuzz/fuzz-session tests/fuzz/fuzz-sockring \
	tests/fuzz/fuzz-sockstate tests/fuzz/fuzz-miglink tests/fuzz/fuzz-socktable \
	tests/fuzz/fuzz-migfwd tests/fuzz/fuzz-fsstate tests/fuzz/fuzz-mem tests/fuzz/fuzz-xen \
	tests/fuzz/fuzz-fsservice tests/fuzz/fuzz-workerctl
fuzz-long: $(fuzz_bins) tests/fuzz/make-seeds
	top_builddir=$(top_builddir) top_srcdir=$(top_srcdir) $(SHELL) $(top_srcdir)/tests/fuzz/long.sh
else
fuzz-long:
	@echo "fuzz-long: configure found no clang with -fsanitize=fuzzer"; exit 1
endif
# The checked-in corpora (tests/fuzz/corpus/TARGET/, files named by their
# SHA-1 as libFuzzer writes them): a directory copy, as automake has no
# wildcards for EXTRA_DIST.
dist-hook: fuzz-corpus-dist
.PHONY: fuzz-corpus-dist
fuzz-corpus-dist:
	rm -rf $(distdir)/tests/fuzz/corpus
	$(MKDIR_P) $(distdir)/tests/fuzz
	cp -R $(top_srcdir)/tests/fuzz/corpus $(distdir)/tests/fuzz/corpus
# The filesystem service above fs-server (outsource/fs/service.c): the
# migration table another host ships and the routing of a hostile guest's
# calls to its exports (tests/fuzz/fuzz-fsservice.c).
if HAVE_FUZZ
check_SCRIPTS += tests/fuzz/fuzz-fsservice
CLEANFILES += tests/fuzz/fuzz-fsservice
endif
EXTRA_DIST += tests/fuzz/fuzz-fsservice.c
fuzz_fsservice_sources = outsource/fs/service.c outsource/fs/policy.c fs-server/server.c \
	hostrpc/idmap.c
tests/fuzz/fuzz-fsservice: $(top_srcdir)/tests/fuzz/fuzz-fsservice.c $(top_srcdir)/outsource/fs/outsource-fs.h $(top_srcdir)/fs-server/server.h $(top_srcdir)/include/hostrpc/fsstate.h $(addprefix $(top_srcdir)/,$(fuzz_lib_sources) $(fuzz_fsservice_sources)) config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) $(GLIB_CFLAGS) -DSYSCONFDIR=\"/nonexistent\" -o $@ \
		$(top_srcdir)/tests/fuzz/fuzz-fsservice.c \
		$(addprefix $(top_srcdir)/,$(fuzz_lib_sources) $(fuzz_fsservice_sources)) $(GLIB_LIBS) -lpthread
# The supervisor's end of the worker control channel against a hostile
# (guest-owned) worker (tests/fuzz/fuzz-workerctl.c).
if HAVE_FUZZ
check_SCRIPTS += tests/fuzz/fuzz-workerctl
CLEANFILES += tests/fuzz/fuzz-workerctl
endif
EXTRA_DIST += tests/fuzz/fuzz-workerctl.c
tests/fuzz/fuzz-workerctl: $(top_srcdir)/tests/fuzz/fuzz-workerctl.c $(top_srcdir)/hostrpc/daemon/worker-ctl.c $(top_srcdir)/hostrpc/daemon/worker-ctl.h $(top_srcdir)/hostrpc/unix.c $(top_srcdir)/tests/fuzz/workerctl-cov-ignore.txt config.h
	$(AM_V_CC)$(FUZZ_CC) $(fuzz_cflags) $(GLIB_CFLAGS) \
		-fsanitize-coverage-ignorelist=$(top_srcdir)/tests/fuzz/workerctl-cov-ignore.txt \
		-o $@ $(top_srcdir)/tests/fuzz/fuzz-workerctl.c \
		$(top_srcdir)/hostrpc/daemon/worker-ctl.c $(top_srcdir)/hostrpc/unix.c $(GLIB_LIBS)
