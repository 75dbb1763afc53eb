# migrate/qmp.mk
