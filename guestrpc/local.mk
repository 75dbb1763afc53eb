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
	hostrpc/handle-table.c hostrpc/handle-table.h hostrpc/chan-stream.h \
	guestrpc/vchan.h guestrpc/xen-target.c
guestrpc_guestrpcd_CFLAGS = $(AM_CFLAGS) -O2
if HAVE_XEN
# --vchan: Guest RPC over libxenvchan in a Xen domU.  Listed for the static
# link, each library before those it uses (not $(XEN_LIBS): libtool keeps
# only the last of repeated -l flags, in pkg-config's dynamic order).
guestrpc_guestrpcd_SOURCES += hostrpc/chan-vchan.c
guestrpc_guestrpcd_CFLAGS += $(XEN_CFLAGS)
guestrpc_guestrpcd_LDADD = -lxenvchan -lxenstore -lxengnttab -lxenevtchn \
	-lxentoollog -lxentoolcore -lpthread
endif
if SANITIZED_BUILD
# ASan and TSan cannot link statically: in a sanitizer build the agent is dynamic,
# for the process-level tests on the host (the guest images' VM tests need
# a normal build's static agent and skip, saying so).
guestrpc_guestrpcd_LDFLAGS =
else
guestrpc_guestrpcd_LDFLAGS = -all-static
endif

noinst_LTLIBRARIES += guestrpc/libguestrpc-client.la
guestrpc_libguestrpc_client_la_SOURCES = guestrpc/session.c guestrpc/session.h guestrpc/resolve.c \
	guestrpc/vchan.h guestrpc/xen-target.c guestrpc/xen-resolve.c
guestrpc_libguestrpc_client_la_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(LIBVIRT_CFLAGS) $(XEN_CFLAGS)
guestrpc_libguestrpc_client_la_LIBADD = hostrpc/libhostrpc.la $(GLIB_LIBS) $(LIBVIRT_LIBS) \
	$(XEN_LIBS) -lpthread

hostrpcinclude_HEADERS += include/hostrpc/guestfs.h include/hostrpc/guestexec.h
EXTRA_DIST += guestrpc/README.md guestrpc/PROTOCOL.md

# What session.c needs beside libhostrpc's sources, for programs built
# straight from the sources (tests/fuzz/fuzz-session).
guestrpc_session_sources = guestrpc/xen-target.c guestrpc/xen-resolve.c
guestrpc_session_libs =
if HAVE_XEN
guestrpc_session_sources += hostrpc/chan-vchan.c
guestrpc_session_libs += $(XEN_LIBS)
endif
