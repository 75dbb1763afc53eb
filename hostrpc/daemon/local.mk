# hostrpcd (per-host daemon: supervisor, per-guest workers, ivshmem endpoints,
# fd holder, admin service) and hostrpcctl.  The daemon's parts form a convenience
# library so integration tests can run pieces (the ivshmem server) in-process.
HRPCD_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) -DG_LOG_USE_STRUCTURED=1

noinst_LTLIBRARIES += hostrpc/daemon/libhostrpcd.la
hostrpc_daemon_libhostrpcd_la_SOURCES = \
	hostrpc/daemon/log.h hostrpc/daemon/log-priv.h hostrpc/daemon/log.c \
	hostrpc/daemon/listen-socket.h hostrpc/daemon/listen-socket.c \
	hostrpc/daemon/guest-status.h hostrpc/daemon/guest-status.c \
	hostrpc/daemon/guest-table.h hostrpc/daemon/guest-table.c \
	hostrpc/daemon/xen-fe.h hostrpc/daemon/xen-fe.c \
	hostrpc/daemon/spawn.h hostrpc/daemon/spawn.c \
	hostrpc/daemon/sandbox.h hostrpc/daemon/sandbox.c \
	hostrpc/daemon/audit-sink.h hostrpc/daemon/audit-sink.c \
	hostrpc/daemon/worker-ctl.h hostrpc/daemon/worker-ctl.c \
	hostrpc/daemon/guest-policy.h hostrpc/daemon/guest-policy.c \
	hostrpc/daemon/options.h hostrpc/daemon/options.c \
	hostrpc/daemon/services.h hostrpc/daemon/services.c \
	hostrpc/daemon/worker.h hostrpc/daemon/worker.c \
	hostrpc/daemon/worker-priv.h hostrpc/daemon/worker-migrate.c \
	hostrpc/daemon/migrate-doors.h hostrpc/daemon/migrate-doors.c \
	hostrpc/daemon/ivshmem-server.h hostrpc/daemon/ivshmem-server.c \
	hostrpc/daemon/fdstore-proto.h hostrpc/daemon/fdstore.h \
	hostrpc/daemon/fdstore.c hostrpc/daemon/fdstore-client.c \
	hostrpc/daemon/supervisor.h hostrpc/daemon/supervisor.c \
	hostrpc/daemon/admin.h hostrpc/daemon/admin.c \
	hostrpc/daemon/mem-balance.h hostrpc/daemon/mem-balance.c
hostrpc_daemon_libhostrpcd_la_CFLAGS = $(HRPCD_CFLAGS) $(SECCOMP_CFLAGS) $(JSON_GLIB_CFLAGS) \
	-DG_LOG_DOMAIN=\"hostrpcd\"
hostrpc_daemon_libhostrpcd_la_LIBADD = hostrpc/libhostrpc-glib.la hostrpc/libhostrpc.la \
	$(GLIB_LIBS) $(SECCOMP_LIBS) $(JSON_GLIB_LIBS)
# libvirt follower (--libvirt URI): endpoints from domain XML
if HAVE_LIBVIRT
hostrpc_daemon_libhostrpcd_la_SOURCES += \
	hostrpc/daemon/libvirt-domains.h hostrpc/daemon/libvirt-domains.c \
	hostrpc/daemon/mem-balloon.h hostrpc/daemon/mem-balloon.c
hostrpc_daemon_libhostrpcd_la_CFLAGS += $(LIBVIRT_CFLAGS)
hostrpc_daemon_libhostrpcd_la_LIBADD += $(LIBVIRT_LIBS)
endif
# Xen domUs (--xen): xenstore, libxenctrl; the channel itself is libhostrpc's
if HAVE_XEN
hostrpc_daemon_libhostrpcd_la_SOURCES += \
	hostrpc/daemon/xen-domains.h hostrpc/daemon/xen-domains.c
hostrpc_daemon_libhostrpcd_la_CFLAGS += $(XEN_CFLAGS)
hostrpc_daemon_libhostrpcd_la_LIBADD += $(XEN_LIBS)
endif
# socket outsourcing service (outsource/sock), registered in services.c
hostrpc_daemon_libhostrpcd_la_LIBADD += outsource/sock/libhrpc-sock-glib.la
hostrpc_daemon_libhostrpcd_la_LIBADD += outsource/fs/libhrpc-fs.la
hostrpc_daemon_libhostrpcd_la_LIBADD += outsource/mem/libhrpc-mem.la
# live migration (worker-migrate.c, migrate-doors.c): the link and the
# guest's network identity (migrate/)
hostrpc_daemon_libhostrpcd_la_LIBADD += migrate/libhrpc-miglink.la migrate/libhrpc-netident.la

sbin_PROGRAMS += hostrpc/daemon/hostrpcd
hostrpc_daemon_hostrpcd_SOURCES = hostrpc/daemon/hostrpcd.c
hostrpc_daemon_hostrpcd_CFLAGS = $(HRPCD_CFLAGS) -DG_LOG_DOMAIN=\"hostrpcd\"
hostrpc_daemon_hostrpcd_LDADD = hostrpc/daemon/libhostrpcd.la $(GLIB_LIBS)

bin_PROGRAMS += hostrpc/daemon/hostrpcctl
hostrpc_daemon_hostrpcctl_SOURCES = hostrpc/daemon/hostrpcctl.c
hostrpc_daemon_hostrpcctl_CFLAGS = $(HRPCD_CFLAGS) -DG_LOG_DOMAIN=\"hostrpcctl\"
hostrpc_daemon_hostrpcctl_LDADD = hostrpc/libhostrpc.la $(GLIB_LIBS)

hostrpcinclude_HEADERS += include/hostrpc/admin.h
EXTRA_DIST += hostrpc/daemon/README.md
# Sample configuration (README.md, "Configuration"); installed by data/'s rules.
EXTRA_DIST += data/hostrpcd.conf data/guests/default.conf
