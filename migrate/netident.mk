# migrate/netident.mk
