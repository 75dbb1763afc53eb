# VM tests of memory outsourcing: hostrpc_mem.ko (drivers-frontend/mem) in a
# guest with an ivshmem-plain region against hostrpcd's memory service
# (outsource/mem).  The guest program is tests/vm/guest/hostmem-touch.c.
# Grants beyond the guest's RAM, a cooperative and an ignored reclaim, pins
# within and past the quota, a forged RELEASE fenced.
mem_vm_tests = tests/vm/mem/mem-vm.sh
dist_check_SCRIPTS += $(mem_vm_tests)
