# tests/install/lib.sh - shared by the install tests (sourced; POSIX sh).
#
# install_prepare: a scratch DESTDIR ($inst_dest, removed at exit) and the
# build's installation directories as shell variables (prefix, sbindir,
# ..., systemdsystemunitdir, modulesloaddir, udevrulesdir).
# inst_make TARGET...: make in the build tree, outside the make that runs
# the test (its jobserver is not ours).
top_builddir=${top_builddir:-.}

inst_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top_builddir" "$@"
}

install_prepare() {
	command -v make > /dev/null || { echo "1..0 # SKIP make not found"; exit 77; }
	[ -f "$top_builddir/Makefile" ] || { echo "1..0 # SKIP no configured build tree"; exit 77; }
	inst_dest=$(mktemp -d "${TMPDIR:-/tmp}/hostrpc-install.XXXXXX") || exit 99
	trap 'rm -rf "$inst_dest"' EXIT
	inst_make hrpc-print-install-dirs > "$inst_dest.all" || exit 99
	# (make may regenerate the Makefile first and say so)
	grep -E "^[a-z]+=" "$inst_dest.all" > "$inst_dest.dirs"; rm -f "$inst_dest.all"
	. "$inst_dest.dirs"
	rm -f "$inst_dest.dirs"
}

# guest_kdir: the guest kernel's headers as tools/guest-image uses them
# ($HOSTRPC_GUEST_KDIR, else /usr/src/linux-headers-<guest version>), in
# $kdir and $kver; built (tools/guest-image installs the headers) unless
# HOSTRPC_GUEST_BUILD=0, as the VM tests do; else the test is skipped.
guest_kdir() {
	top_srcdir=${top_srcdir:-.}
	if [ -z "${HOSTRPC_GUEST_DIR:-}" ]; then
		HOSTRPC_GUEST_DIR=$top_srcdir/.guest
		if [ ! -d "$HOSTRPC_GUEST_DIR" ] && [ ! -w "$top_srcdir" ]; then
			HOSTRPC_GUEST_DIR=$top_builddir/.guest
		fi
	fi
	export HOSTRPC_GUEST_DIR
	kver=$("$top_srcdir/tools/guest-image" -d "$HOSTRPC_GUEST_DIR" print 2> /dev/null |
		sed -n 's/^KVER=//p')
	[ -n "$kver" ] || { echo "1..0 # SKIP cannot tell the guest kernel version (tools/guest-image print)"; exit 77; }
	kdir=${HOSTRPC_GUEST_KDIR:-/usr/src/linux-headers-$kver}
	if [ ! -f "$kdir/Makefile" ] && [ "${HOSTRPC_GUEST_BUILD:-1}" != 0 ]; then
		(
			command -v flock > /dev/null && flock 9
			"$top_srcdir/tools/guest-image" -d "$HOSTRPC_GUEST_DIR" build >&2
		) 9> "$HOSTRPC_GUEST_DIR/.build-lock"
	fi
	[ -f "$kdir/Makefile" ] ||
		{ echo "1..0 # SKIP no guest kernel headers in $kdir (run tools/guest-image)"; exit 77; }
}

# guest_src DIR: a copy of the module sources and wire headers (the source
# tree may be read-only: make distcheck), as in the distributed tree.
guest_src() {
	mkdir -p "$1" &&
	cp -R "$top_srcdir/drivers-frontend" "$top_srcdir/include" "$1/" &&
	find "$1" \( -name '*.o' -o -name '*.ko' -o -name '*.cmd' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name Module.symvers -o -name modules.order -o -name local.mk \) -delete &&
	chmod -R u+w "$1"
}
