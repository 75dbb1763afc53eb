# VM tests of hostrpc-migrate: two hosts on one machine (tools/two-hosts),
# a real guest moved between them by QEMU live migration with its
# outsourced sockets (tests/vm/migrate/lib.sh).  Root only (network
# namespaces, TCP_REPAIR); the guest program is built static by the test.
# First what they all rely on: plain QEMU migrates a guest (no hostrpc)
# with its memory intact on this host.
mig_vm_tests = tests/vm/migrate/qemu-migrate-sanity.sh
mig_vm_tests += tests/vm/migrate/migrate-vm.sh
# Failures before the switch (QEMU, the destination hostrpcd, the network)
# leave the guest at the source with every socket intact.
mig_vm_tests += tests/vm/migrate/migrate-rollback.sh
mig_vm_tests += tests/vm/migrate/migrate-forged.sh
# The migration benchmark (bench/migrate-bench.sh) in its quick mode.
mig_vm_tests += tests/vm/migrate/migrate-bench-smoke.sh
mig_vm_tests += tests/vm/migrate/migrate-guestsource.sh
# The virsh path: two libvirtds side by side, hostrpc-migrate --libvirt.
mig_vm_tests += tests/vm/migrate/migrate-libvirt.sh
# Connections that stay at the source, forwarded (the location table).
mig_vm_tests += tests/vm/migrate/migrate-forward.sh
# ... the guest coming back to the source: they become local again;
mig_vm_tests += tests/vm/migrate/migrate-forward-return.sh
# ... and on to a third host: the remnant relays there, no chain.
mig_vm_tests += tests/vm/migrate/migrate-forward-chain.sh
# A listener on an address only the source has: a copy stays there.
mig_vm_tests += tests/vm/migrate/migrate-forward-listen.sh
# Files open in an export only the source has: its server stays there.
mig_vm_tests += tests/vm/migrate/migrate-forward-files.sh
# Issue 14's benchmark (bench/migrate-forward-bench.sh) in its quick mode.
mig_vm_tests += tests/vm/migrate/migrate-forward-bench-smoke.sh
# A destination configured otherwise (uplink name, export path and order,
# hostrpcd options); the guest's hostrpcfs files move with it.
mig_vm_tests += tests/vm/migrate/migrate-hosts-differ.sh
dist_check_SCRIPTS += $(mig_vm_tests)
EXTRA_DIST += tests/vm/migrate/lib.sh tests/vm/migrate/world.py \
	tests/vm/migrate/guest/mig-stream.c tests/vm/migrate/guest/fwd-probe.c \
	tests/vm/migrate/echo.py tests/vm/migrate/guest/fs-mig-probe.c \
	tests/vm/migrate/guest/listen-echo.c tests/vm/migrate/lis-client.py \
	tests/vm/migrate/guest/fs-lat.c tests/vm/migrate/guest/memcheck.c \
	tests/vm/migrate/guest/hotpage.c
