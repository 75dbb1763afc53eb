# VM tests of filesystem outsourcing with real programs and its benchmark,
# on a host directory mounted in the guest (tests/vm/fs/fs-peers.sh boots
# hostrpcfs, virtio-9p or virtio-fs alike).  Both skip until hostrpcfs.ko
# and hostrpcd's fs service are in the tree.
#   fs-workloads.sh    fio with verify, untar of /usr/include checked on
#                      both sides, sqlite3, dbench (FS_WORKLOADS_FS=9p or
#                      virtiofs: the same on a peer)
#   fs-bench-smoke.sh  bench/fs-bench.sh in its small mode
fs_workload_vm_tests = tests/vm/fs/fs-workloads.sh tests/vm/fs/fs-bench-smoke.sh
dist_check_SCRIPTS += $(fs_workload_vm_tests)
EXTRA_DIST += tests/vm/fs/fs-peers.sh
