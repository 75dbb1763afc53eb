# debian/: the Debian packaging (README.md, "Debian packages").  Listed file
# by file so that a tarball never carries what dpkg-buildpackage leaves in
# debian/ after an in-tree build.
EXTRA_DIST += \
	debian/changelog \
	debian/control \
	debian/copyright \
	debian/hostrpc-guest.install \
	debian/hostrpc.install \
	debian/libhostrpc-dev.install \
	debian/libhostrpc0.install \
	debian/libhostrpc0.symbols \
	debian/local.mk \
	debian/rules \
	debian/source/format
