# data/: what `make install` puts outside the programs' own directories:
# systemd units, the guests' modules-load.d file and udev rules, the sample
# configuration and the documentation.
#
# Directories (configure --with-...=DIR|no): systemdsystemunitdir,
# modulesloaddir, udevrulesdir; the sample configuration goes to
# $(sysconfdir)/hostrpc and $(sysconfdir)/hostrpc/guests, the documentation
# to $(docdir).

# ---- documentation ----------------------------------------------------------
# (README.md and docs/ are in EXTRA_DIST already.)
doc_DATA = README.md docs/protocol.md docs/libvirt.md

# ---- systemd units ----------------------------------------------------------
# @sbindir@ and @docdir@ are filled in at build time (make expands the
# directories fully; configure would leave ${exec_prefix} in them).  The
# runtime and state directories are systemd's (RuntimeDirectory=,
# StateDirectory=) when the daemon's defaults are where systemd puts them:
# configure --localstatedir=/var --runstatedir=/run, as distributions build.
# Otherwise (the default prefix: /usr/local/var/...) they are made before
# the daemon starts and made writable, as ProtectSystem=full leaves /usr
# read-only.
hrpc_units = data/systemd/hostrpcd.service data/systemd/guestrpcd.service \
	data/systemd/guestrpcd-vchan.service
EXTRA_DIST += $(hrpc_units:=.in)
CLEANFILES += $(hrpc_units)
if HAVE_SYSTEMDSYSTEMUNITDIR
systemdsystemunit_DATA = $(hrpc_units)
else
noinst_DATA = $(hrpc_units)
endif

hrpc_subst_unit = \
	rtd='$(runstatedir)/hostrpc'; std='$(localstatedir)/lib/hostrpc'; \
	case $$rtd in \
	/run/hostrpc) rt='RuntimeDirectory=hostrpc';; \
	*) rt="ExecStartPre=+/usr/bin/install -d -m 0755 $$rtd\nReadWritePaths=$$rtd";; \
	esac; \
	case $$std in \
	/var/lib/hostrpc) st='StateDirectory=hostrpc\nStateDirectoryMode=0700';; \
	*) st="ExecStartPre=+/usr/bin/install -d -m 0700 $$std\nReadWritePaths=$$std";; \
	esac; \
	$(MKDIR_P) $(@D) && \
	$(SED) -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@docdir[@]|$(docdir)|g' \
		-e "s|@RUNTIME_DIRECTORY[@]|$$rt|" -e "s|@STATE_DIRECTORY[@]|$$st|" \
		$< > $@.tmp && mv $@.tmp $@

data/systemd/%.service: $(srcdir)/data/systemd/%.service.in Makefile
	$(AM_V_GEN)$(hrpc_subst_unit)

# ---- guest side: modules-load.d, udev ---------------------------------------
EXTRA_DIST += data/modules-load.d/hostrpc.conf data/udev/70-hostrpc.rules
if HAVE_MODULESLOADDIR
modulesload_DATA = data/modules-load.d/hostrpc.conf
endif
if HAVE_UDEVRULESDIR
udevrules_DATA = data/udev/70-hostrpc.rules
endif

# ---- sample configuration ---------------------------------------------------
# Installed only where no file of that name is (an administrator's edits
# survive a reinstall), and uninstalled only while it is still the sample
# (they survive `make uninstall` too).  A fresh prefix - make distcheck's -
# gets them and loses them again.
hrpc_conf_dir = $(sysconfdir)/hostrpc
hrpc_confs = data/hostrpcd.conf:$(hrpc_conf_dir)/hostrpcd.conf \
	data/guests/default.conf:$(hrpc_conf_dir)/guests/default.conf
EXTRA_DIST += data/hostrpcd.conf data/guests/default.conf

install-data-local: install-hrpc-conf
uninstall-local: uninstall-hrpc-conf

install-hrpc-conf:
	@for pair in $(hrpc_confs); do \
	  src=$${pair%%:*}; dst=$(DESTDIR)$${pair#*:}; \
	  test -f "$$src" || src=$(srcdir)/$$src; \
	  if test -e "$$dst"; then \
	    echo " keeping $$dst (installed sample: $$src)"; \
	  else \
	    echo " $(MKDIR_P) '$${dst%/*}'"; $(MKDIR_P) "$${dst%/*}" || exit 1; \
	    echo " $(INSTALL_DATA) $$src '$$dst'"; $(INSTALL_DATA) "$$src" "$$dst" || exit 1; \
	  fi; \
	done

uninstall-hrpc-conf:
	@for pair in $(hrpc_confs); do \
	  src=$${pair%%:*}; dst=$(DESTDIR)$${pair#*:}; \
	  test -f "$$src" || src=$(srcdir)/$$src; \
	  if test -f "$$dst" && ! cmp -s "$$src" "$$dst"; then \
	    echo " keeping $$dst (changed since installed)"; \
	  else \
	    echo " rm -f '$$dst'"; rm -f "$$dst"; \
	  fi; \
	done

.PHONY: install-hrpc-conf uninstall-hrpc-conf

# make distcheck installs into a prefix of its own and checks that nothing
# stays there after uninstall: the system directories must be in it too.
AM_DISTCHECK_CONFIGURE_FLAGS = \
	--with-systemdsystemunitdir=$$dc_install_base/lib/systemd/system \
	--with-modulesloaddir=$$dc_install_base/lib/modules-load.d \
	--with-udevrulesdir=$$dc_install_base/lib/udev/rules.d

# The installation directories, fully expanded, for tests/install/ (which
# cannot read them from anywhere else without re-deriving configure's work).
hrpc-print-install-dirs:
	@echo "version=$(VERSION)"; echo "prefix=$(prefix)"; echo "bindir=$(bindir)"; echo "sbindir=$(sbindir)"; \
	echo "libdir=$(libdir)"; echo "includedir=$(includedir)"; echo "docdir=$(docdir)"; \
	echo "sysconfdir=$(sysconfdir)"; echo "systemdsystemunitdir=$(systemdsystemunitdir)"; \
	echo "modulesloaddir=$(modulesloaddir)"; echo "udevrulesdir=$(udevrulesdir)"
.PHONY: hrpc-print-install-dirs
