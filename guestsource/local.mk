# guestsource/: host tools that use a guest's subsystems through Guest RPC.
bin_PROGRAMS += guestsource/hostrpc-guest-exec
guestsource_hostrpc_guest_exec_SOURCES = guestsource/guest-exec.c \
	guestsource/gex-decode.c guestsource/gex-decode.h
guestsource_hostrpc_guest_exec_LDADD = guestrpc/libguestrpc-client.la -lpthread

if HAVE_FUSE3
bin_PROGRAMS += guestsource/hostrpc-guestmount
guestsource_hostrpc_guestmount_SOURCES = guestsource/guestmount.c \
	guestsource/gfs-decode.c guestsource/gfs-decode.h \
	guestsource/inode-table.c guestsource/inode-table.h
guestsource_hostrpc_guestmount_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) $(GLIB_CFLAGS)
guestsource_hostrpc_guestmount_LDADD = guestrpc/libguestrpc-client.la $(FUSE3_LIBS) $(GLIB_LIBS) -lpthread
endif
EXTRA_DIST += guestsource/README.md

include tests/integration/guestsource/local.mk
EXTRA_DIST += guestsource/demo.sh
