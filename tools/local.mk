# tools: quickstart, demo, libvirt set-up, guest image builder (scripts).
EXTRA_DIST += tools/quickstart tools/demo tools/libvirt-setup tools/domain-xml
EXTRA_DIST += tools/guest-image
