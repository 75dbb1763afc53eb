# migrate/netident.mk - a guest's network identity (MAC, MTU, addresses)
# moving from the source's interface to the destination's: the wire record
# (include/hostrpc/netident.h).
hostrpcinclude_HEADERS += include/hostrpc/netident.h

# The destination's check of a record another host sent.
TESTS += tests/unit/test-netident-check
check_PROGRAMS += tests/unit/test-netident-check
