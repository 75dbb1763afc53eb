# migrate/qmp.mk - the QMP client hostrpc-migrate drives QEMU with
# (migrate/qmp.h).
noinst_LTLIBRARIES += migrate/libhrpc-qmp.la
migrate_libhrpc_qmp_la_SOURCES = migrate/qmp.c migrate/qmp.h
migrate_libhrpc_qmp_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSON_GLIB_CFLAGS)
migrate_libhrpc_qmp_la_LIBADD = $(JSON_GLIB_LIBS) $(GLIB_LIBS)

# Against real QEMU processes (skips without qemu-system-x86_64).
check_PROGRAMS += tests/integration/migrate/test-qmp
TESTS += tests/integration/migrate/test-qmp
tests_integration_migrate_test_qmp_SOURCES = tests/integration/migrate/test-qmp.c
tests_integration_migrate_test_qmp_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSON_GLIB_CFLAGS)
tests_integration_migrate_test_qmp_LDADD = migrate/libhrpc-qmp.la $(JSON_GLIB_LIBS) $(GLIB_LIBS)
tests_integration_migrate_test_qmp_LDFLAGS = -no-install
