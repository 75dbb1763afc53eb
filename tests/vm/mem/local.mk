# VM tests of memory outsourcing: hostrpc_mem.ko (drivers-frontend/mem) in a
# guest with an ivshmem-plain region against hostrpcd's memory service
# (outsource/mem).  The guest program is tests/vm/guest/hostmem-touch.c.
# Grants beyond the guest's RAM, a cooperative and an ignored reclaim, pins
# within and past the quota, a forged RELEASE fenced.
mem_vm_tests = tests/vm/mem/mem-vm.sh
dist_check_SCRIPTS += $(mem_vm_tests)
# Host files in guest processes (issue 15 item 3): a host file mapped
# MAP_SHARED from a hostrpcfs mount, writes from both sides seen by the
# other (tests/vm/mem/guest/hostfile-map.c, built static by the test).
mem_vm_tests += tests/vm/mem/mem-hostfile.sh
EXTRA_DIST += tests/vm/mem/guest/hostfile-map.c tests/vm/mem/lib.sh
# bench/mem-file-bench.sh with a 16 MiB file: every number measured, the
# ratios printed.
mem_vm_tests += tests/vm/mem/mem-file-bench-smoke.sh
# hostrpcd's balancing between two real guests under alternating pressure
# (issue 15 item 5): memory moves to the one in need and back.
mem_vm_tests += tests/vm/mem/mem-balance.sh
# bench/mem-move-bench.sh small (128 MiB, one move): hostrpc's move and
# virtio-balloon's through libvirt both measured, the ratio printed.
mem_vm_tests += tests/vm/mem/mem-move-bench-smoke.sh
# Guests without hostrpc_mem.ko balanced through libvirt's virtio balloon:
# guest 1 under pressure grows, idle guest 2's balloon is inflated for it.
mem_vm_tests += tests/vm/mem/mem-balloon.sh
EXTRA_DIST += tests/vm/mem/guest/balloon-eat.c
