# Process-level tests of guest-sourcing: guestrpcd (or a hostile fake guest)
# and the host tools over unix sockets, no VM.
gs_itests = \
	tests/integration/guestsource/exec-streams.sh \
	tests/integration/guestsource/exec-hostile-guest.sh \
	tests/integration/guestsource/exec-hostile-deadlines.sh \
	tests/integration/guestsource/mount-ops.sh \
	tests/integration/guestsource/mount-creds.sh \
	tests/integration/guestsource/mount-posix.sh \
	tests/integration/guestsource/mount-restrict.sh \
	tests/integration/guestsource/mount-timeouts.sh \
	tests/integration/guestsource/mount-hostile-guest.sh \
	tests/integration/guestsource/mount-hostile-options.sh \
	tests/integration/guestsource/mount-hostile-deadlines.sh \
	tests/integration/guestsource/mount-random-guest.sh
TESTS += tests/integration/guestsource/test-agent-hostile-host \
	tests/integration/guestsource/test-channels-xml \
	tests/integration/guestsource/test-xen-target $(gs_itests)
dist_check_SCRIPTS += $(gs_itests)
check_PROGRAMS += tests/integration/guestsource/fake-guest \
	tests/integration/guestsource/test-agent-hostile-host \
	tests/integration/guestsource/test-channels-xml \
	tests/integration/guestsource/test-xen-target
tests_integration_guestsource_fake_guest_LDADD = hostrpc/libhostrpc.la -lpthread
tests_integration_guestsource_test_agent_hostile_host_LDADD = hostrpc/libhostrpc.la
EXTRA_DIST += tests/integration/guestsource/lib.sh
tests_integration_guestsource_test_channels_xml_LDADD = guestrpc/libguestrpc-client.la
# DOMAIN xen:NAME / xen:ID, the pure half (guestrpc/vchan.h): no Xen needed.
tests_integration_guestsource_test_xen_target_SOURCES = \
	tests/integration/guestsource/test-xen-target.c guestrpc/xen-target.c
