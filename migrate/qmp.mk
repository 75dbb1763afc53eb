# migrate/qmp.mk - the QMP client hostrpc-migrate drives QEMU with
# (migrate/qmp.h).
noinst_LTLIBRARIES += migrate/libhrpc-qmp.la
migrate_libhrpc_qmp_la_SOURCES = migrate/qmp.c migrate/qmp.h
migrate_libhrpc_qmp_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSON_GLIB_CFLAGS)
migrate_libhrpc_qmp_la_LIBADD = $(JSON_GLIB_LIBS) $(GLIB_LIBS)
