# Manual pages (issue 17).  Each is written as docs/man/PAGE.in, plain troff
# with the man macros, and made at build time with the configured paths
# (sysconfdir, localstatedir, runstatedir) and version substituted, so that
# what a page says is where this build looks.  The .in files are shipped
# (make dist); the pages are not, since their paths are this build's.
man_in_pages = \
	docs/man/hostrpcd.8.in docs/man/hostrpcctl.8.in docs/man/hostrpcd.conf.5.in \
	docs/man/hostrpc-migrate.8.in docs/man/guestrpcd.8.in \
	docs/man/hostrpc-guest-exec.1.in docs/man/hostrpc-guestmount.1.in \
	docs/man/hostrpc-ping.1.in
man_MANS = \
	docs/man/hostrpcd.8 docs/man/hostrpcctl.8 docs/man/hostrpcd.conf.5 \
	docs/man/hostrpc-migrate.8 docs/man/guestrpcd.8 docs/man/hostrpc-guest-exec.1 \
	docs/man/hostrpc-ping.1
if HAVE_FUSE3
man_MANS += docs/man/hostrpc-guestmount.1
endif
EXTRA_DIST += $(man_in_pages)
CLEANFILES += docs/man/hostrpcd.8 docs/man/hostrpcctl.8 docs/man/hostrpcd.conf.5 \
	docs/man/hostrpc-migrate.8 docs/man/guestrpcd.8 docs/man/hostrpc-guest-exec.1 \
	docs/man/hostrpc-guestmount.1 docs/man/hostrpc-ping.1

# [@] keeps config.status from substituting these here.
man_subst = sed -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|@localstatedir[@]|$(localstatedir)|g' \
	-e 's|@runstatedir[@]|$(runstatedir)|g' \
	-e 's|@PACKAGE_VERSION[@]|$(PACKAGE_VERSION)|g'
docs/man/%: docs/man/%.in Makefile
	$(AM_V_GEN)$(MKDIR_P) docs/man && $(man_subst) $< > $@.tmp && mv -f $@.tmp $@

# EXTRA_DIST ships docs/ whole: without this an in-tree build's pages,
# with its paths, would go into the tarball and VPATH would take them
# for up to date in every build made from it.
dist-hook: man-dist-hook
man-dist-hook:
	rm -f $(addprefix $(distdir)/,$(basename $(man_in_pages)))
.PHONY: man-dist-hook
