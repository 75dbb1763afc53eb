# migrate/: hostrpc-migrate, the host-to-host link and the pieces both
# hostrpcd (the destination's worker) and the tool link.
EXTRA_DIST += migrate/README.md migrate/demo.sh
include migrate/link.mk
include migrate/netident.mk
include migrate/qmp.mk
include migrate/tool.mk
