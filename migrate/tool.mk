# migrate/tool.mk
