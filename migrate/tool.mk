# migrate/tool.mk
# hostrpc-migrate: the tool (runs on the source host, as root); QEMU's half
# of the migration through migrate/hv.h: by QMP, or by libvirt when built
# with it.
sbin_PROGRAMS += migrate/hostrpc-migrate
migrate_hostrpc_migrate_SOURCES = migrate/hostrpc-migrate.c migrate/hv.h migrate/hv-qmp.c \
	migrate/location-rule.h migrate/location-rule.c
migrate_hostrpc_migrate_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(JSON_GLIB_CFLAGS)
migrate_hostrpc_migrate_LDADD = migrate/libhrpc-qmp.la migrate/libhrpc-miglink.la \
	migrate/libhrpc-netident.la outsource/sock/libhrpc-sock.la hostrpc/libhostrpc.la \
	$(JSON_GLIB_LIBS) $(GLIB_LIBS) -lpthread
if HAVE_LIBVIRT
migrate_hostrpc_migrate_SOURCES += migrate/hv-libvirt.c
migrate_hostrpc_migrate_CFLAGS += $(LIBVIRT_CFLAGS)
migrate_hostrpc_migrate_LDADD += $(LIBVIRT_LIBS)
else
migrate_hostrpc_migrate_SOURCES += migrate/hv-libvirt-none.c
endif
# Which connections stay at the source (--forward, --keep-local, the default).
TESTS += tests/unit/test-location-rule
check_PROGRAMS += tests/unit/test-location-rule
tests_unit_test_location_rule_SOURCES = tests/unit/test-location-rule.c \
	migrate/location-rule.c migrate/location-rule.h
tests_unit_test_location_rule_CFLAGS = $(AM_CFLAGS)
