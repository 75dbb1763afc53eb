# migrate/link.mk
# The authenticated host-to-host link (wire format: include/hostrpc/miglink.h).
hostrpcinclude_HEADERS += include/hostrpc/miglink.h
