# Integration tests: process guests and fake QEMU peers against a private
# hostrpcd each (tests/integration/itest.h); standalone TAP programs.
# itest.o is shared by the programs (no per-program flags).
itest_sources = tests/integration/itest.h tests/integration/itest.c
itest_ldadd = hostrpc/libhostrpc.la
itest_ldflags = -no-install

integration_tests = \
	tests/integration/concurrent-guests \
	tests/integration/crashed-guest \
	tests/integration/hostile-guest-fenced \
	tests/integration/ivshmem-handshake \
	tests/integration/ivshmem-echo \
	tests/integration/ivshmem-worker-restart \
	tests/integration/ivshmem-daemon-restart \
	tests/integration/supervisor-killed \
	tests/integration/libvirt-endpoints \
	tests/integration/guest-lifetime-churn \
	tests/integration/fdstore-impostor \
	tests/integration/guest-identity \
	tests/integration/hostile-neighbour

check_PROGRAMS += $(integration_tests)
TESTS += $(integration_tests)

# Shell tests, and the process guest they use.
integration_scripts = \
	tests/integration/hostrpcctl-shows-guests.sh \
	tests/integration/worker-polling.sh \
	tests/integration/hostrpcd-service.sh \
	tests/integration/installed-config.sh \
	tests/integration/ivshmem-real-qemu.sh
dist_check_SCRIPTS += $(integration_scripts)
TESTS += $(integration_scripts)
check_PROGRAMS += tests/integration/itest-guest
tests_integration_itest_guest_SOURCES = tests/integration/itest-guest.c $(itest_sources)
tests_integration_itest_guest_LDADD = $(itest_ldadd)
tests_integration_itest_guest_LDFLAGS = $(itest_ldflags)

tests_integration_concurrent_guests_SOURCES = tests/integration/concurrent-guests.c $(itest_sources)
tests_integration_concurrent_guests_LDADD = $(itest_ldadd)
tests_integration_concurrent_guests_LDFLAGS = $(itest_ldflags)

tests_integration_crashed_guest_SOURCES = tests/integration/crashed-guest.c $(itest_sources)
tests_integration_crashed_guest_LDADD = $(itest_ldadd)
tests_integration_crashed_guest_LDFLAGS = $(itest_ldflags)

tests_integration_hostile_guest_fenced_SOURCES = tests/integration/hostile-guest-fenced.c $(itest_sources)
tests_integration_hostile_guest_fenced_LDADD = $(itest_ldadd)
tests_integration_hostile_guest_fenced_LDFLAGS = $(itest_ldflags)

# In-process: links the daemon's own pieces.
tests_integration_ivshmem_handshake_SOURCES = tests/integration/ivshmem-handshake.c $(itest_sources)
tests_integration_ivshmem_handshake_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_ivshmem_handshake_LDADD = hostrpc/daemon/libhostrpcd.la $(itest_ldadd) $(GLIB_LIBS)
tests_integration_ivshmem_handshake_LDFLAGS = $(itest_ldflags)

tests_integration_ivshmem_echo_SOURCES = tests/integration/ivshmem-echo.c $(itest_sources)
tests_integration_ivshmem_echo_LDADD = $(itest_ldadd)
tests_integration_ivshmem_echo_LDFLAGS = $(itest_ldflags)

tests_integration_ivshmem_worker_restart_SOURCES = tests/integration/ivshmem-worker-restart.c $(itest_sources)
tests_integration_ivshmem_worker_restart_LDADD = $(itest_ldadd)
tests_integration_ivshmem_worker_restart_LDFLAGS = $(itest_ldflags)

tests_integration_ivshmem_daemon_restart_SOURCES = tests/integration/ivshmem-daemon-restart.c $(itest_sources)
tests_integration_ivshmem_daemon_restart_LDADD = $(itest_ldadd) -lpthread
tests_integration_ivshmem_daemon_restart_LDFLAGS = $(itest_ldflags)

tests_integration_supervisor_killed_SOURCES = tests/integration/supervisor-killed.c $(itest_sources)
tests_integration_supervisor_killed_LDADD = $(itest_ldadd)
tests_integration_supervisor_killed_LDFLAGS = $(itest_ldflags)

tests_integration_libvirt_endpoints_SOURCES = tests/integration/libvirt-endpoints.c $(itest_sources)
tests_integration_libvirt_endpoints_LDADD = $(itest_ldadd)
tests_integration_libvirt_endpoints_LDFLAGS = $(itest_ldflags)

tests_integration_guest_lifetime_churn_SOURCES = tests/integration/guest-lifetime-churn.c $(itest_sources)
tests_integration_guest_lifetime_churn_LDADD = $(itest_ldadd)
tests_integration_guest_lifetime_churn_LDFLAGS = $(itest_ldflags)

tests_integration_fdstore_impostor_SOURCES = tests/integration/fdstore-impostor.c $(itest_sources)
tests_integration_fdstore_impostor_LDADD = $(itest_ldadd)
tests_integration_fdstore_impostor_LDFLAGS = $(itest_ldflags)

tests_integration_guest_identity_SOURCES = tests/integration/guest-identity.c $(itest_sources)
tests_integration_guest_identity_LDADD = $(itest_ldadd)
tests_integration_guest_identity_LDFLAGS = $(itest_ldflags)

# A neighbour's latency while a hostile guest attacks each service (issue 18).
tests_integration_hostile_neighbour_SOURCES = tests/integration/hostile-neighbour.c $(itest_sources)
tests_integration_hostile_neighbour_LDADD = $(itest_ldadd)
tests_integration_hostile_neighbour_LDFLAGS = $(itest_ldflags)

# Workers' sandbox (hostrpc/daemon/sandbox.h) and the supervisor's audit
# log (audit-sink.h) and control channel (worker-ctl.h).  The last four run
# pieces of the daemon in-process.
sandbox_tests = \
	tests/integration/worker-sandboxed \
	tests/integration/worker-seccomp-filter \
	tests/integration/audit-sink-hostile \
	tests/integration/worker-ctl-hostile \
	tests/integration/sock/test-sock-audit-flood
check_PROGRAMS += $(sandbox_tests)
TESTS += $(sandbox_tests)
tests_integration_worker_sandboxed_SOURCES = tests/integration/worker-sandboxed.c $(itest_sources)
tests_integration_worker_sandboxed_LDADD = $(itest_ldadd)
tests_integration_worker_sandboxed_LDFLAGS = $(itest_ldflags)
tests_integration_worker_seccomp_filter_SOURCES = tests/integration/worker-seccomp-filter.c
tests_integration_worker_seccomp_filter_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_worker_seccomp_filter_LDADD = hostrpc/daemon/libhostrpcd.la -lpthread
tests_integration_worker_seccomp_filter_LDFLAGS = $(itest_ldflags)
tests_integration_audit_sink_hostile_SOURCES = tests/integration/audit-sink-hostile.c
tests_integration_audit_sink_hostile_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_audit_sink_hostile_LDADD = hostrpc/daemon/libhostrpcd.la $(GLIB_LIBS)
tests_integration_audit_sink_hostile_LDFLAGS = $(itest_ldflags)
tests_integration_worker_ctl_hostile_SOURCES = tests/integration/worker-ctl-hostile.c
tests_integration_worker_ctl_hostile_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_worker_ctl_hostile_LDADD = hostrpc/daemon/libhostrpcd.la $(GLIB_LIBS)
tests_integration_worker_ctl_hostile_LDFLAGS = $(itest_ldflags)
tests_integration_sock_test_sock_audit_flood_SOURCES = \
	tests/integration/sock/test-sock-audit-flood.c $(itest_sources)
tests_integration_sock_test_sock_audit_flood_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_sock_test_sock_audit_flood_LDADD = $(sock_itest_ldadd)
tests_integration_sock_test_sock_audit_flood_LDFLAGS = $(itest_ldflags)

# A compromised worker of each service (sock, fs, mem, migration), simulated
# with ptrace: forbidden paths, capabilities and system calls (issue 18).
check_PROGRAMS += tests/integration/worker-attacked
TESTS += tests/integration/worker-attacked
tests_integration_worker_attacked_SOURCES = tests/integration/worker-attacked.c $(itest_sources)
tests_integration_worker_attacked_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_worker_attacked_LDADD = $(sock_itest_ldadd)
tests_integration_worker_attacked_LDFLAGS = $(itest_ldflags)

# Filesystem outsourcing's host half in a real worker (issue 13).
check_PROGRAMS += tests/integration/fs/test-fs-service
# memory outsourcing's host half in a real worker (issue 15)
check_PROGRAMS += tests/integration/mem/test-mem-service
TESTS += tests/integration/mem/test-mem-service
tests_integration_mem_test_mem_service_SOURCES = tests/integration/mem/test-mem-service.c \
	tests/integration/mem/memitest.c tests/integration/mem/memitest.h $(itest_sources)
tests_integration_mem_test_mem_service_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/integration
tests_integration_mem_test_mem_service_LDADD = $(itest_ldadd)
tests_integration_mem_test_mem_service_LDFLAGS = $(itest_ldflags)
# hostrpcd's balancing across two process guests (issue 15 item 5)
check_PROGRAMS += tests/integration/mem/test-mem-balance
TESTS += tests/integration/mem/test-mem-balance
tests_integration_mem_test_mem_balance_SOURCES = tests/integration/mem/test-mem-balance.c \
	tests/integration/mem/memitest.c tests/integration/mem/memitest.h $(itest_sources)
tests_integration_mem_test_mem_balance_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/integration
tests_integration_mem_test_mem_balance_LDADD = $(itest_ldadd)
tests_integration_mem_test_mem_balance_LDFLAGS = $(itest_ldflags)
# the memory service against a hostile guest (issue 18)
check_PROGRAMS += tests/integration/mem/test-mem-hostile
TESTS += tests/integration/mem/test-mem-hostile
tests_integration_mem_test_mem_hostile_SOURCES = tests/integration/mem/test-mem-hostile.c \
	tests/integration/mem/memitest.c tests/integration/mem/memitest.h $(itest_sources)
tests_integration_mem_test_mem_hostile_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/integration
tests_integration_mem_test_mem_hostile_LDADD = $(itest_ldadd)
tests_integration_mem_test_mem_hostile_LDFLAGS = $(itest_ldflags)
TESTS += tests/integration/fs/test-fs-service
tests_integration_fs_test_fs_service_SOURCES = tests/integration/fs/test-fs-service.c $(itest_sources)
tests_integration_fs_test_fs_service_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/integration
tests_integration_fs_test_fs_service_LDADD = $(itest_ldadd)
tests_integration_fs_test_fs_service_LDFLAGS = $(itest_ldflags)
# The fs service against a hostile guest (issue 18).
check_PROGRAMS += tests/integration/fs/test-fs-hostile
TESTS += tests/integration/fs/test-fs-hostile
tests_integration_fs_test_fs_hostile_SOURCES = tests/integration/fs/test-fs-hostile.c $(itest_sources)
tests_integration_fs_test_fs_hostile_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/integration
tests_integration_fs_test_fs_hostile_LDADD = $(itest_ldadd) -lpthread
tests_integration_fs_test_fs_hostile_LDFLAGS = $(itest_ldflags)

# hostrpcd.conf and guests/NAME.conf with process guests using the socket
# service (sockguest), SIGHUP included.
check_PROGRAMS += tests/integration/sock/test-guest-policy
TESTS += tests/integration/sock/test-guest-policy
tests_integration_sock_test_guest_policy_SOURCES = tests/integration/sock/test-guest-policy.c \
	$(itest_sources)
tests_integration_sock_test_guest_policy_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_sock_test_guest_policy_LDADD = $(sock_itest_ldadd)
tests_integration_sock_test_guest_policy_LDFLAGS = -no-install

# kill -9 of guests, workers, the supervisor, the fd holder and a fake QEMU
# at random points under checked traffic (issue 18 item 5);
# HOSTRPC_FAULT_SEED replays, HOSTRPC_FAULT_ITERATIONS (200).
check_PROGRAMS += tests/integration/fault-loop
TESTS += tests/integration/fault-loop
tests_integration_fault_loop_SOURCES = tests/integration/fault-loop.c $(itest_sources)
tests_integration_fault_loop_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_fault_loop_LDADD = $(sock_itest_ldadd)
tests_integration_fault_loop_LDFLAGS = $(itest_ldflags)

# The soak's short run (bench/soak.c; `make soak` is the long one).
check_PROGRAMS += bench/soak
TESTS += bench/soak
bench_soak_SOURCES = bench/soak.c $(itest_sources)
bench_soak_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
bench_soak_LDADD = $(sock_itest_ldadd)
bench_soak_LDFLAGS = $(itest_ldflags)
