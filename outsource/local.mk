# outsource/: host-side services (sock/, fs/, mem/), linked into hostrpcd's workers

# ---- sock: the guest's sockets in the host's network stack -------------------
# Core (no GLib): the socket table, handlers, policy, audit log.
noinst_LTLIBRARIES += outsource/sock/libhrpc-sock.la
outsource_sock_libhrpc_sock_la_SOURCES = \
	outsource/sock/outsource-sock.h \
	outsource/sock/policy.h outsource/sock/policy.c \
	outsource/sock/translate.h outsource/sock/translate.c \
	outsource/sock/sockarea.h outsource/sock/sockarea.c \
	outsource/sock/sockaddr.h \
	outsource/sock/tcprepair.h outsource/sock/tcprepair.c \
	outsource/sock/sock.c
outsource_sock_libhrpc_sock_la_LIBADD = hostrpc/libhostrpc.la
# The GLib adapter and the worker's entry points; hostrpcd links this one.
noinst_LTLIBRARIES += outsource/sock/libhrpc-sock-glib.la
outsource_sock_libhrpc_sock_glib_la_SOURCES = \
	outsource/sock/outsource-sock-glib.h outsource/sock/sock-glib.c
outsource_sock_libhrpc_sock_glib_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) \
	-DG_LOG_DOMAIN=\"hostrpc-sock\"
outsource_sock_libhrpc_sock_glib_la_LIBADD = outsource/sock/libhrpc-sock.la \
	hostrpc/libhostrpc-glib.la $(GLIB_LIBS)
hostrpcinclude_HEADERS += include/hostrpc/sock.h include/hostrpc/sockring.h include/hostrpc/mem.h \
	include/hostrpc/sockstate.h
EXTRA_DIST += outsource/sock/README.md

# A process guest of the service in one process (host half in a thread, guest
# half through libhostrpc over memfd rings), built once for the tests below
# and bench/sock-bench.
noinst_LTLIBRARIES += outsource/sock/libhrpc-sock-guest.la
outsource_sock_libhrpc_sock_guest_la_SOURCES = \
	outsource/sock/sockguest.h outsource/sock/sockguest.c
outsource_sock_libhrpc_sock_guest_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)

# Process-guest tests: drive every host procedure through libhostrpc over
# memfd rings, including hostile input.
sock_itest_ldadd = outsource/sock/libhrpc-sock-guest.la \
	outsource/sock/libhrpc-sock-glib.la outsource/sock/libhrpc-sock.la \
	hostrpc/libhostrpc-glib.la hostrpc/libhostrpc.la $(GLIB_LIBS) -lpthread
sock_itests = \
	tests/integration/sock/test-sock-procs \
	tests/integration/sock/test-sock-hostile \
	tests/integration/sock/test-sock-policy \
	tests/integration/sock/test-sock-default-policy \
	tests/integration/sock/test-sock-translate \
	tests/integration/sock/test-sock-v2 \
	tests/integration/sock/test-sock-close \
	tests/integration/sock/test-tcp-repair
check_PROGRAMS += $(sock_itests)
TESTS += $(sock_itests)
tests_integration_sock_test_sock_procs_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_sock_test_sock_v2_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_sock_test_sock_v2_LDADD = $(sock_itest_ldadd)
tests_integration_sock_test_sock_close_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_sock_test_sock_close_LDADD = $(sock_itest_ldadd)
# TCP_REPAIR freeze and restore of real loopback connections (issue 12).
tests_integration_sock_test_tcp_repair_LDADD = $(sock_itest_ldadd)
# The same connection moving between network namespaces with its address
# and MAC, a migration's network switch (runs test-tcp-repair).
dist_check_SCRIPTS += tests/integration/sock/tcp-move-netns.sh
TESTS += tests/integration/sock/tcp-move-netns.sh
tests_integration_sock_test_sock_procs_LDADD = $(sock_itest_ldadd)
tests_integration_sock_test_sock_hostile_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_sock_test_sock_hostile_LDADD = $(sock_itest_ldadd)
tests_integration_sock_test_sock_policy_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_sock_test_sock_policy_LDADD = $(sock_itest_ldadd)
tests_integration_sock_test_sock_default_policy_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_sock_test_sock_default_policy_LDADD = $(sock_itest_ldadd)
tests_integration_sock_test_sock_translate_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_sock_test_sock_translate_LDADD = $(sock_itest_ldadd)

# The service inside a real hostrpcd worker (process guest over memfd).
check_PROGRAMS += tests/integration/sock/test-sock-daemon
TESTS += tests/integration/sock/test-sock-daemon
tests_integration_sock_test_sock_daemon_SOURCES = tests/integration/sock/test-sock-daemon.c \
	tests/integration/itest.h tests/integration/itest.c
tests_integration_sock_test_sock_daemon_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_integration_sock_test_sock_daemon_LDADD = $(sock_itest_ldadd)
tests_integration_sock_test_sock_daemon_LDFLAGS = -no-install
EXTRA_DIST += outsource/fs/README.md

# ---- fs: a host directory mounted in the guest (hostrpcfs) -------------------
# The routing service over fs-server/ (one server per export), its policy,
# the GLib entry points hostrpcd's worker calls.
noinst_LTLIBRARIES += outsource/fs/libhrpc-fs.la
outsource_fs_libhrpc_fs_la_SOURCES = \
	outsource/fs/outsource-fs.h outsource/fs/service.c \
	outsource/fs/policy.h outsource/fs/policy.c \
	fs-server/server.h fs-server/server.c
outsource_fs_libhrpc_fs_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) \
	-DG_LOG_DOMAIN=\"hostrpc-fs\"
outsource_fs_libhrpc_fs_la_LIBADD = hostrpc/libhostrpc.la $(GLIB_LIBS)
EXTRA_DIST += outsource/fs/README.md

# ---- mem: host-owned memory granted to the guest (hostrpc_mem.ko) -----------
noinst_LTLIBRARIES += outsource/mem/libhrpc-mem.la
outsource_mem_libhrpc_mem_la_SOURCES = \
	outsource/mem/outsource-mem.h outsource/mem/service.c \
	outsource/mem/region.h outsource/mem/region.c \
	outsource/mem/balance.h outsource/mem/balance.c
outsource_mem_libhrpc_mem_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) \
	-DG_LOG_DOMAIN=\"hostrpc-mem\"
outsource_mem_libhrpc_mem_la_LIBADD = hostrpc/libhostrpc.la $(GLIB_LIBS)
hostrpcinclude_HEADERS += include/hostrpc/hostmem.h
EXTRA_DIST += outsource/mem/README.md
# a service's cap on its worker's audit records (mem, fs)
EXTRA_DIST += outsource/audit-limit.h
