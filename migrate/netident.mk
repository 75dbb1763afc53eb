# migrate/netident.mk - a guest's network identity (MAC, MTU, addresses)
# moving from the source's interface to the destination's: the wire record
# (include/hostrpc/netident.h) and the rtnetlink/AF_PACKET library that
# reads, applies and announces it (migrate/netident.h).  No GLib: hostrpcd's
# worker and hostrpc-migrate both link it.
noinst_LTLIBRARIES += migrate/libhrpc-netident.la
migrate_libhrpc_netident_la_SOURCES = migrate/netident.h migrate/netident.c
migrate_libhrpc_netident_la_LIBADD = -lpthread
hostrpcinclude_HEADERS += include/hostrpc/netident.h

# The destination's check of a record another host sent, and its log line.
TESTS += tests/unit/test-netident-check
check_PROGRAMS += tests/unit/test-netident-check
tests_unit_test_netident_check_LDADD = migrate/libhrpc-netident.la

# The identity moving between two namespaces on one bridge, as between two
# hosts on one LAN (root; the script drives test-netident).
check_PROGRAMS += tests/integration/migrate/test-netident
tests_integration_migrate_test_netident_LDADD = migrate/libhrpc-netident.la
dist_check_SCRIPTS += tests/integration/migrate/netident.sh
TESTS += tests/integration/migrate/netident.sh
