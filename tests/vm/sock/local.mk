# VM tests of socket outsourcing: a NIC-less guest with hostrpc_sock.ko
# against hostrpcd's ivshmem endpoint (tests/vm/lib.sh, tests/vm/vm-run).
# The guest program is built static by the test itself.
sock_vm_tests = tests/vm/sock/sock-vm.sh
# The same with version 1 of the data path (hostrpc_sock.v2=0).
sock_vm_tests += tests/vm/sock/sock-vm-v1.sh
# The socket benchmarks (bench/sock-vm-bench.sh) in their quick mode: every
# number measured in both guests (outsourced sockets and virtio-net).
sock_vm_tests += tests/vm/sock/sock-bench-smoke.sh
# IPv4/IPv6 translation (policy `translate` rules) seen from unmodified guest
# programs; its guest program is built static by the test.
sock_vm_tests += tests/vm/sock/sock-translate-vm.sh
# No lost wake-up on a one-CPU TCG guest (drivers-frontend/core/fence.c).
sock_vm_tests += tests/vm/sock/sock-wakeups.sh
# UDP ancillary data: IP_PKTINFO, IPV6_PKTINFO, SO_TIMESTAMP(NS).
sock_vm_tests += tests/vm/sock/sock-ancillary.sh
EXTRA_DIST += tests/vm/sock/guest/ancil-probe.c
EXTRA_DIST += tests/vm/sock/guest/xlat-probe.c
dist_check_SCRIPTS += $(sock_vm_tests)

EXTRA_DIST += tests/vm/sock/guest/sock-probe.c tests/vm/sock/host-echo.py
# A guest forging its socket data rings (hostrpc_sock.debug_forge_area) is
# fenced alone; its guest program is built static by the test.
sock_vm_tests += tests/vm/sock/sock-forged-area.sh
EXTRA_DIST += tests/vm/sock/guest/area-forge-probe.c
