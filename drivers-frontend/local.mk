# drivers-frontend: guest kernel modules.  They are built out of tree against
# the guest kernel's headers - by tools/guest-image for the tests, by
# drivers-frontend/Makefile (all four; modules_install) or DKMS
# (drivers-frontend/dkms.conf) for a guest - not by automake; automake only
# ships them.
EXTRA_DIST += drivers-frontend/Makefile drivers-frontend/dkms.conf
EXTRA_DIST += \
	drivers-frontend/core/README.md \
	drivers-frontend/core/Kbuild \
	drivers-frontend/core/Makefile \
	drivers-frontend/core/hostrpc_core.h \
	drivers-frontend/core/chan.h \
	drivers-frontend/core/main.c \
	drivers-frontend/core/chan.c \
	drivers-frontend/core/bulk.c \
	drivers-frontend/core/chardev.c \
	drivers-frontend/core/fence.c \
	drivers-frontend/core/ivshmem.c \
	drivers-frontend/core/xen.c

# drivers-frontend/mem: memory frontend module hostrpc_mem.ko (built by
# tools/guest-image), and its guest test program (tests/vm/guest/).
EXTRA_DIST += \
	drivers-frontend/mem/Kbuild \
	drivers-frontend/mem/Makefile \
	drivers-frontend/mem/README.md \
	drivers-frontend/mem/hmem.h \
	drivers-frontend/mem/main.c \
	drivers-frontend/mem/region.c \
	drivers-frontend/mem/dev.c \
	tests/vm/guest/hostmem-touch.c

# make dkms-src [DESTDIR=...] [dkmssrcdir=/usr/src/hostrpc-VERSION]: the
# DKMS source tree of the four modules (drivers-frontend/Makefile dkms-src),
# then: dkms add -m hostrpc -v VERSION && dkms install -m hostrpc -v VERSION.
dkmssrcdir = /usr/src/$(PACKAGE)-$(VERSION)
dkms-src:
	$(MAKE) -C $(abs_top_srcdir)/drivers-frontend dkms-src \
		HOSTRPC_INCLUDE=$(abs_top_srcdir)/include VERSION=$(VERSION) \
		DESTDIR="$$(case '$(DESTDIR)$(dkmssrcdir)' in /*) echo '$(DESTDIR)$(dkmssrcdir)';; \
			*) echo "$$PWD/$(DESTDIR)$(dkmssrcdir)";; esac)"
.PHONY: dkms-src
