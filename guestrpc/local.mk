# guestrpc/: the guest agent guestrpcd + the host-side Guest RPC client
# library the guestsource/ tools share.

# guestrpcd runs in the guest image, which carries no libraries: link it
# statically, with libhostrpc's sources compiled in.
sbin_PROGRAMS += guestrpc/guestrpcd
guestrpc_guestrpcd_SOURCES = \
	guestrpc/agent-main.c guestrpc/agent-exec.c guestrpc/agent.h \
	fs-server/server.c fs-server/server.h hostrpc/idmap.c hostrpc/idmap.h \
	hostrpc/chan.c hostrpc/chan-shm.c hostrpc/chan-memfd.c hostrpc/chan-vport.c \
	hostrpc/client.c hostrpc/server.c hostrpc/builtins.c hostrpc/unix.c \
	hostrpc/handle-table.c hostrpc/handle-table.h
guestrpc_guestrpcd_CFLAGS = $(AM_CFLAGS) -O2
if ENABLE_SANITIZERS
# ASan cannot link statically: in a sanitizer build the agent is dynamic,
# for the process-level tests on the host (the guest images' VM tests need
# a normal build's static agent and skip, saying so).
guestrpc_guestrpcd_LDFLAGS =
else
guestrpc_guestrpcd_LDFLAGS = -all-static
endif

noinst_LTLIBRARIES += guestrpc/libguestrpc-client.la
guestrpc_libguestrpc_client_la_SOURCES = guestrpc/session.c guestrpc/session.h guestrpc/resolve.c
guestrpc_libguestrpc_client_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(LIBVIRT_CFLAGS)
guestrpc_libguestrpc_client_la_LIBADD = hostrpc/libhostrpc.la $(GLIB_LIBS) $(LIBVIRT_LIBS) -lpthread

hostrpcinclude_HEADERS += include/hostrpc/guestfs.h include/hostrpc/guestexec.h
EXTRA_DIST += guestrpc/README.md guestrpc/PROTOCOL.md
