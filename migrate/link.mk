# migrate/link.mk
# The authenticated host-to-host link (wire format: include/hostrpc/miglink.h).
# hostrpc-migrate (client) and hostrpcd (server) both link it.
noinst_LTLIBRARIES += migrate/libhrpc-miglink.la
migrate_libhrpc_miglink_la_SOURCES = migrate/link.h migrate/link.c \
	migrate/forward.h migrate/forward.c
migrate_libhrpc_miglink_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) -DG_LOG_DOMAIN=\"hostrpc-migrate\"
migrate_libhrpc_miglink_la_LIBADD = $(GLIB_LIBS)
hostrpcinclude_HEADERS += include/hostrpc/miglink.h include/hostrpc/migfwd.h
# Over TCP on 127.0.0.1: keys, intros, tampering relays, timeouts.
TESTS += tests/unit/test-miglink
check_PROGRAMS += tests/unit/test-miglink
tests_unit_test_miglink_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_unit_test_miglink_LDADD = migrate/libhrpc-miglink.la $(GLIB_LIBS) -lpthread
# The forward link's two ends (migrate/forward.h) relaying real TCP
# connections: data, half-close, reset, backpressure, a cut link, a hostile peer.
TESTS += tests/unit/test-migfwd
check_PROGRAMS += tests/unit/test-migfwd
tests_unit_test_migfwd_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_unit_test_migfwd_LDADD = migrate/libhrpc-miglink.la $(GLIB_LIBS) -lpthread
