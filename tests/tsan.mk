# make check-tsan: the ThreadSanitizer pass (tools/quickstart check runs it
# in a tree of its own, configured with --enable-tsan).  The tests whose code
# runs threads, and nothing else (the rest gain nothing from TSan, and the
# pass must stay short):
#  - libhostrpc's client and channels across threads: the ring and socket
#    ring producer/consumer pairs, the stream framing core and the vchan
#    channel with a reader thread;
#  - the migration link and forwarding (migrate/link.c, forward.c) with
#    their server and relay threads, and the network identity's thread in
#    another namespace (migrate/netident.c, netident.sh);
#  - hostrpcd's libvirt follower (libvirt-domains.c: libvirt's events come
#    through GLib's default context, also the caller's), alone and in a
#    hostrpcd following the real libvirtd (as make check, it needs
#    tools/libvirt-setup start);
#  - the socket service's process guests (outsource/sock/sockguest.c: the
#    host half in a thread, the guest half through libhostrpc), and the
#    service in a real hostrpcd with a serving thread;
#  - the supervisor and workers under callers in threads (ivshmem), and the
#    worker filter with threads (sandbox.c; relaxed as under ASan, so that
#    TSan's own calls are answered, never killed);
#  - guest-sourcing: hostrpc-guestmount (multithreaded FUSE loop), hostrpc-
#    guest-exec (signal and stdin threads) and the Guest RPC session
#    (guestrpc/session.c: reader and watchdog threads) against the real agent
#    and the hostile fake guest (its pump threads).
# Each runs through tests/tsan-run: any report of any process fails it.
# The guest-sourcing tests' time limits stretch by 1.5 (HOSTRPC_TIME_SLACK,
# tests/integration/guestsource/lib.sh).
tsan_unit_tests = tests/unit/test-ring tests/unit/test-sockring \
	tests/unit/test-stream-framing tests/unit/test-miglink tests/unit/test-migfwd \
	tests/unit/test-libvirt-domains
if HAVE_XEN
tsan_unit_tests += tests/unit/test-vchan-chan
endif
# The socket tests with a process guest (sockguest.c); not test-tcp-repair,
# which runs no thread.
tsan_sock_tests = tests/integration/sock/test-sock-procs tests/integration/sock/test-sock-hostile \
	tests/integration/sock/test-sock-policy tests/integration/sock/test-sock-default-policy \
	tests/integration/sock/test-sock-translate tests/integration/sock/test-sock-v2 \
	tests/integration/sock/test-sock-close
tsan_itests = $(tsan_sock_tests) tests/integration/sock/test-sock-daemon \
	tests/integration/ivshmem-handshake tests/integration/ivshmem-daemon-restart \
	tests/integration/libvirt-endpoints \
	tests/integration/worker-seccomp-filter \
	tests/integration/guestsource/test-agent-hostile-host
tsan_scripts = $(gs_itests) tests/integration/migrate/netident.sh
tsan_tests = $(tsan_unit_tests) $(tsan_itests) $(tsan_scripts)
# What they run beside themselves (the tools and hostrpcd come with `all`).
tsan_helpers = tests/integration/guestsource/fake-guest$(EXEEXT) \
	tests/integration/itest-guest$(EXEEXT) tests/posix/runas$(EXEEXT) \
	tests/integration/migrate/test-netident$(EXEEXT)
EXTRA_DIST += tests/tsan-run
.PHONY: check-tsan
if ENABLE_TSAN
# Only these programs are built (check_PROGRAMS, which check-TESTS waits
# for, is narrowed to them); the tests run in parallel as in make check.
check-tsan: all
	$(MAKE) $(AM_MAKEFLAGS) $(tsan_unit_tests:=$(EXEEXT)) $(tsan_itests:=$(EXEEXT)) $(tsan_helpers)
	HOSTRPC_TIME_SLACK=$${HOSTRPC_TIME_SLACK-1.5} \
	$(MAKE) $(AM_MAKEFLAGS) check-TESTS TESTS='$(tsan_tests)' \
		check_PROGRAMS='$(tsan_unit_tests:=$(EXEEXT)) $(tsan_itests:=$(EXEEXT)) $(tsan_helpers)' \
		LOG_COMPILER='$(SHELL) $(top_srcdir)/tests/tsan-run' \
		SH_LOG_COMPILER='$(SHELL) $(top_srcdir)/tests/tsan-run $(SHELL)'
else
check-tsan:
	@echo "make check-tsan needs a tree configured with --enable-tsan (not with --enable-sanitizers: a tree of its own)" >&2; exit 1
endif
