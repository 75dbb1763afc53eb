# Unit tests: one standalone TAP program per thing proven.
unit_ldadd = hostrpc/libhostrpc.la -lpthread
TESTS += tests/unit/test-ring tests/unit/test-codec tests/unit/test-endpoint tests/unit/test-malformed
check_PROGRAMS += tests/unit/test-ring tests/unit/test-codec tests/unit/test-endpoint tests/unit/test-malformed
TESTS += tests/unit/test-bulk-alloc-wrap tests/unit/test-echo-events-bounded
check_PROGRAMS += tests/unit/test-bulk-alloc-wrap tests/unit/test-echo-events-bounded
tests_unit_test_bulk_alloc_wrap_LDADD = $(unit_ldadd)
tests_unit_test_echo_events_bounded_LDADD = $(unit_ldadd)
TESTS += tests/unit/test-deferred
check_PROGRAMS += tests/unit/test-deferred
tests_unit_test_deferred_LDADD = $(unit_ldadd)
TESTS += tests/unit/test-handle-table
check_PROGRAMS += tests/unit/test-handle-table
# sockets v2 data rings (include/hostrpc/sockring.h): header-only, no library
TESTS += tests/unit/test-sockring
check_PROGRAMS += tests/unit/test-sockring
tests_unit_test_sockring_LDADD = -lpthread
tests_unit_test_handle_table_LDADD = $(unit_ldadd)
TESTS += tests/unit/test-socket-mode
check_PROGRAMS += tests/unit/test-socket-mode
tests_unit_test_socket_mode_SOURCES = tests/unit/test-socket-mode.c \
	hostrpc/daemon/listen-socket.c hostrpc/daemon/listen-socket.h
tests_unit_test_socket_mode_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) -DG_LOG_DOMAIN=\"hostrpcd\"
tests_unit_test_socket_mode_LDADD = $(GLIB_LIBS)
tests_unit_test_ring_LDADD = -lpthread
tests_unit_test_codec_LDADD = $(unit_ldadd)
tests_unit_test_endpoint_LDADD = $(unit_ldadd)
tests_unit_test_malformed_LDADD = $(unit_ldadd)
EXTRA_DIST += tests/unit/testutil.h tests/unit/fss-call.h

if HAVE_LIBVIRT
TESTS += tests/unit/test-libvirt-domains
check_PROGRAMS += tests/unit/test-libvirt-domains
tests_unit_test_libvirt_domains_SOURCES = tests/unit/test-libvirt-domains.c \
	hostrpc/daemon/libvirt-domains.c hostrpc/daemon/libvirt-domains.h
tests_unit_test_libvirt_domains_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) $(LIBVIRT_CFLAGS) -DG_LOG_DOMAIN=\"hostrpcd\"
tests_unit_test_libvirt_domains_LDADD = $(GLIB_LIBS) $(LIBVIRT_LIBS)
endif
# guestmount's and guest-exec's checks of guest replies (pure functions).
TESTS += tests/unit/test-gfs-decode
check_PROGRAMS += tests/unit/test-gfs-decode
tests_unit_test_gfs_decode_SOURCES = tests/unit/test-gfs-decode.c \
	guestsource/gfs-decode.c guestsource/gex-decode.c
# guestmount's inode table (no FUSE needed: GLib only).
TESTS += tests/unit/test-inode-table
check_PROGRAMS += tests/unit/test-inode-table
tests_unit_test_inode_table_SOURCES = tests/unit/test-inode-table.c \
	guestsource/inode-table.c guestsource/gfs-decode.c
tests_unit_test_inode_table_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_unit_test_inode_table_LDADD = $(GLIB_LIBS) -lpthread
# The socket service's IPv4/IPv6 translation and its policy rules (pure functions).
TESTS += tests/unit/test-sock-translate
check_PROGRAMS += tests/unit/test-sock-translate
tests_unit_test_sock_translate_SOURCES = tests/unit/test-sock-translate.c \
	outsource/sock/translate.c outsource/sock/translate.h \
	outsource/sock/policy.c outsource/sock/policy.h
# (own object names: the same sources are in libhrpc-sock.la)
tests_unit_test_sock_translate_CFLAGS = $(AM_CFLAGS)
# The host's pumps of a sockets v2 socket area (outsource/sock/sockarea.h),
# against a socketpair (own object names, as above).
TESTS += tests/unit/test-sock-area
check_PROGRAMS += tests/unit/test-sock-area
tests_unit_test_sock_area_SOURCES = tests/unit/test-sock-area.c \
	outsource/sock/sockarea.c outsource/sock/sockarea.h
tests_unit_test_sock_area_CFLAGS = $(AM_CFLAGS)
TESTS += tests/unit/test-idmap
check_PROGRAMS += tests/unit/test-idmap
tests_unit_test_idmap_LDADD = $(unit_ldadd)
# A guest's filesystem exports (outsource/fs/policy.h).
TESTS += tests/unit/test-fs-policy
check_PROGRAMS += tests/unit/test-fs-policy
tests_unit_test_fs_policy_SOURCES = tests/unit/test-fs-policy.c \
	outsource/fs/policy.c outsource/fs/policy.h
tests_unit_test_fs_policy_CFLAGS = $(AM_CFLAGS)
tests_unit_test_fs_policy_LDADD = $(unit_ldadd)
# A migrating guest's filesystem state: exported at one path, made again
# under the same handles at another (fsstate.h).
TESTS += tests/unit/test-fss-migrate
check_PROGRAMS += tests/unit/test-fss-migrate
tests_unit_test_fss_migrate_SOURCES = tests/unit/test-fss-migrate.c \
	fs-server/server.c fs-server/server.h hostrpc/idmap.c
tests_unit_test_fss_migrate_CFLAGS = $(AM_CFLAGS)
tests_unit_test_fss_migrate_LDADD = $(unit_ldadd)
# Memory outsourcing: a guest's host-owned region, its chunk table and what
# grants, reclaims and pins do to the file (outsource/mem/region.h).
TESTS += tests/unit/test-mem-region
check_PROGRAMS += tests/unit/test-mem-region
tests_unit_test_mem_region_SOURCES = tests/unit/test-mem-region.c \
	outsource/mem/region.c outsource/mem/region.h
tests_unit_test_mem_region_CFLAGS = $(AM_CFLAGS)
# Host-driven balancing's decision (outsource/mem/balance.h).
TESTS += tests/unit/test-mem-balance
check_PROGRAMS += tests/unit/test-mem-balance
tests_unit_test_mem_balance_SOURCES = tests/unit/test-mem-balance.c \
	outsource/mem/balance.c outsource/mem/balance.h
tests_unit_test_mem_balance_CFLAGS = $(AM_CFLAGS)
EXTRA_DIST += outsource/mem/README.md
# An export whose server stayed at a migration's remnant: the destination's
# fs service forwards its calls and defers the guest's replies.
TESTS += tests/unit/test-fs-forward
check_PROGRAMS += tests/unit/test-fs-forward
tests_unit_test_fs_forward_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_unit_test_fs_forward_LDADD = outsource/fs/libhrpc-fs.la $(unit_ldadd) $(GLIB_LIBS)
# fs-server's INVAL events: the host's edits, never the client's own.
TESTS += tests/unit/test-fss-watch
check_PROGRAMS += tests/unit/test-fss-watch
tests_unit_test_fss_watch_SOURCES = tests/unit/test-fss-watch.c \
	fs-server/server.c fs-server/server.h hostrpc/idmap.c
tests_unit_test_fss_watch_CFLAGS = $(AM_CFLAGS)
tests_unit_test_fss_watch_LDADD = $(unit_ldadd)
# Xen transport: the frontend handshake's parsing and limits (include/hostrpc/xen.h)
TESTS += tests/unit/test-xen-handshake
check_PROGRAMS += tests/unit/test-xen-handshake
tests_unit_test_xen_handshake_LDADD = $(unit_ldadd)
# The vport framing core (hostrpc/chan-stream.h) on a ring transport with
# libxenvchan's manners: split frames, crossing writes, hang-ups, limits.
TESTS += tests/unit/test-stream-framing
check_PROGRAMS += tests/unit/test-stream-framing
tests_unit_test_stream_framing_LDADD = $(unit_ldadd)
if HAVE_XEN
# libhostrpc's vchan transport on an in-process libxenvchan (no Xen needed).
TESTS += tests/unit/test-vchan-chan
check_PROGRAMS += tests/unit/test-vchan-chan
tests_unit_test_vchan_chan_SOURCES = tests/unit/test-vchan-chan.c \
	tests/unit/vchan-mock.c tests/unit/vchan-mock.h \
	hostrpc/chan.c hostrpc/chan-shm.c hostrpc/chan-memfd.c hostrpc/chan-vport.c \
	hostrpc/chan-vchan.c hostrpc/client.c hostrpc/server.c hostrpc/builtins.c \
	hostrpc/unix.c hostrpc/handle-table.c hostrpc/idmap.c
tests_unit_test_vchan_chan_CFLAGS = $(AM_CFLAGS) $(XEN_CFLAGS)
tests_unit_test_vchan_chan_LDADD = -lpthread
endif
# The manual pages (docs/man) against each tool's --help, and that each
# renders without a warning (groff, tools/quickstart installs groff-base);
# hostrpc-migrate's --precopy modes.
TESTS += tests/unit/man-pages.sh tests/unit/migrate-options.sh
dist_check_SCRIPTS += tests/unit/man-pages.sh tests/unit/migrate-options.sh
# hostrpcd.conf and guests/NAME.conf as hostrpcd reads them (options.c,
# guest-policy.c, the services' own policy parsers).
TESTS += tests/unit/test-hostrpcd-config
check_PROGRAMS += tests/unit/test-hostrpcd-config
tests_unit_test_hostrpcd_config_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS)
tests_unit_test_hostrpcd_config_LDADD = hostrpc/daemon/libhostrpcd.la $(GLIB_LIBS)
tests_unit_test_hostrpcd_config_LDFLAGS = -no-install
# hostrpcd's log writer: journald's native protocol when stderr is the
# journal's stream (hostrpc/daemon/log.c), against a journal played by the test.
TESTS += tests/unit/test-log-journal
check_PROGRAMS += tests/unit/test-log-journal
tests_unit_test_log_journal_SOURCES = tests/unit/test-log-journal.c \
	hostrpc/daemon/log.c hostrpc/daemon/log.h hostrpc/daemon/log-priv.h
tests_unit_test_log_journal_CFLAGS = $(AM_CFLAGS) $(GLIB_CFLAGS) -DG_LOG_DOMAIN=\"hostrpcd\"
tests_unit_test_log_journal_LDADD = $(GLIB_LIBS)
