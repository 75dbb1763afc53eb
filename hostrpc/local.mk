# libhostrpc: rings, transports, client and server endpoints (no GLib).
lib_LTLIBRARIES += hostrpc/libhostrpc.la
hostrpc_libhostrpc_la_SOURCES = \
	hostrpc/chan.h \
	hostrpc/chan-stream.h \
	hostrpc/chan.c \
	hostrpc/chan-shm.c \
	hostrpc/chan-memfd.c \
	hostrpc/chan-vport.c \
	hostrpc/chan-xen.c \
	hostrpc/client.c \
	hostrpc/server.c \
	hostrpc/builtins.c \
	hostrpc/handle-table.h \
	hostrpc/handle-table.c \
	hostrpc/idmap.c hostrpc/idmap.h \
	hostrpc/unix.c
if HAVE_XEN
hostrpc_libhostrpc_la_SOURCES += hostrpc/chan-vchan.c
hostrpc_libhostrpc_la_CFLAGS = $(AM_CFLAGS) $(XEN_CFLAGS)
hostrpc_libhostrpc_la_LIBADD = $(XEN_LIBS)
endif
hostrpc_libhostrpc_la_LDFLAGS = -version-info 0:0:0 \
	-Wl,--version-script=$(top_srcdir)/hostrpc/libhostrpc.sym
EXTRA_hostrpc_libhostrpc_la_DEPENDENCIES = hostrpc/libhostrpc.sym
EXTRA_DIST += hostrpc/libhostrpc.sym

hostrpcinclude_HEADERS += \
	include/hostrpc/compat.h include/hostrpc/msg.h include/hostrpc/ring.h \
	include/hostrpc/control.h include/hostrpc/echo.h include/hostrpc/stats.h \
	include/hostrpc/memfd.h include/hostrpc/vport.h include/hostrpc/ivshmem.h include/hostrpc/xen.h \
	include/hostrpc/hostrpc.h include/hostrpc/hostrpc-glib.h
pkgconfig_DATA += hostrpc/libhostrpc.pc

# GLib main-loop adapter, beside the core.
lib_LTLIBRARIES += hostrpc/libhostrpc-glib.la
hostrpc_libhostrpc_glib_la_SOURCES = hostrpc/glib-source.c
hostrpc_libhostrpc_glib_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
hostrpc_libhostrpc_glib_la_LIBADD = hostrpc/libhostrpc.la $(GLIB_LIBS)
hostrpc_libhostrpc_glib_la_LDFLAGS = -version-info 0:0:0

# A process guest for demos and manual checks.
bin_PROGRAMS += hostrpc/hostrpc-ping
hostrpc_hostrpc_ping_SOURCES = hostrpc/ping.c
hostrpc_hostrpc_ping_LDADD = hostrpc/libhostrpc.la
