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
	inst_make hrpc-print-install-dirs > "$inst_dest.dirs" || exit 99
	. "$inst_dest.dirs"
	rm -f "$inst_dest.dirs"
}
