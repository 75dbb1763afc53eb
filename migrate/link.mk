# migrate/link.mk
