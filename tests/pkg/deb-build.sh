#!/usr/bin/env bash
# deb-build - the Debian packages build from this tree, hold what they
# should, are lintian-clean (no error) and work as installed:
#
#   1. a copy of the source tree (git's files, or the distributed tree where
#      there is no git: never build products) goes through
#      DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b;
#   2. the five packages hold their key files (dpkg-deb -c), no .la file,
#      libhostrpc0 its symbols file; lintian --fail-on error passes (its
#      warnings are printed as diagnostics);
#   3. the packages are unpacked into a scratch root (dpkg-deb -x: nothing is
#      installed on this machine), and the *unpacked* hostrpcd, on private
#      sockets, serves the unpacked hostrpc-ping's echo calls (inline and
#      bulk) while the unpacked hostrpcctl lists that guest.  The programs
#      find the unpacked libhostrpc through LD_LIBRARY_PATH, which ldd
#      confirms;
#   4. dkms builds the four modules from the unpacked hostrpc-dkms against
#      the guest kernel's headers (tools/guest-image installs them), in a
#      scratch dkms tree, in a mount namespace of its own whose tmpfs on
#      /var/lib/dkms takes the signing key dkms makes: nothing is added to
#      this machine's dkms.
#
# Every file `make install` installs must land in some package or the build
# fails (dh_missing --fail-missing, debhelper compat 13): that is the check
# that new install rules were given a package.
#
# Root only (as CI runs it): the packaged daemon runs as root, its workers
# under per-guest uids; dkms and its namespace need root too.  Skips (77)
# without root, dpkg-buildpackage, lintian, dkms or the build dependencies
# (tools/quickstart installs them all).  Not in the
# sanitizer pass: it is in VM_TESTS (tests/local.mk), which that pass narrows.
# Environment: DEB_BUILD_KEEP=1 keeps the work directory.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib.sh"   # wait_for, watchdog_start, vm_load_lock

skip() { echo "1..0 # SKIP $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (the packaged hostrpcd runs as root)"
for t in dpkg-buildpackage dpkg-deb dpkg-architecture dpkg-checkbuilddeps lintian dkms ldd unshare; do
	command -v "$t" > /dev/null ||
		skip "no $t (apt-get install dpkg-dev debhelper dh-dkms lintian dkms)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/hostrpc-deb.XXXXXX") || exit 99
daemon=
ping_pid=
watchdog=
cleanup() {
	[ -n "$ping_pid" ] && kill "$ping_pid" 2> /dev/null
	[ -n "$daemon" ] && kill "$daemon" 2> /dev/null
	[ -n "$watchdog" ] && kill "$watchdog" 2> /dev/null
	wait 2> /dev/null
	if [ -n "${DEB_BUILD_KEEP:-}" ]; then
		echo "# kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# ---- the source copy --------------------------------------------------------
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/config.h" 2> /dev/null)
[ -n "$version" ] || skip "no PACKAGE_VERSION in $top_builddir/config.h (run configure)"
src=$work/hostrpc-$version
mkdir -p "$src"
if [ -e "$top_srcdir/.git" ] && command -v git > /dev/null; then
	# What git tracks, plus new files it does not ignore (a packaging change
	# not committed yet); a tracked file deleted in the work tree is left out.
	git -C "$top_srcdir" ls-files -z --cached --others --exclude-standard |
		(cd "$top_srcdir" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
		tar -C "$top_srcdir" -c --null -T - | tar -C "$src" -x ||
		skip "cannot copy the tree that git lists in $top_srcdir"
else
	# A tarball (make distcheck): the files it distributes, whatever was
	# built beside them.
	rmdir "$src"
	${MAKE:-make} -s -C "$top_builddir" distdir distdir="$src" > "$work/distdir.log" 2>&1 ||
		{ sed 's/^/# /' "$work/distdir.log"; skip "make distdir failed"; }
fi
[ -f "$src/debian/control" ] || skip "no debian/ in the copied tree"
missing=$(cd "$src" && dpkg-checkbuilddeps 2>&1) ||
	skip "build dependencies missing: ${missing##*dependencies: }"

arch=$(dpkg-architecture -qDEB_HOST_ARCH)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
debver=$(cd "$src" && dpkg-parsechangelog -SVersion)

# Two whole builds' worth of load on every core (the package, the modules):
# like the live-migration tests, not beside the tests with deadlines.
vm_load_lock exclusive
watchdog_start 900
echo "1..17"
n=0
failed=0
ok() {	# ok STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}

r=0; [ "$debver" = "$version" ] || r=1
ok $r "debian/changelog's version ($debver) is configure's ($version)"

# ---- build ------------------------------------------------------------------
# make check's own make state must not reach the package's make.
t0=$(date +%s)
(
	cd "$src" &&
	unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES top_srcdir top_builddir &&
	DEB_BUILD_OPTIONS='nocheck parallel=2' dpkg-buildpackage -us -uc -b
) > "$work/build.log" 2>&1
r=$?
t1=$(date +%s)
if [ $r != 0 ]; then
	tail -n 40 "$work/build.log" | sed 's/^/# /'
	ok 1 "dpkg-buildpackage -us -uc -b"
	echo "Bail out! the packages did not build (log above)"
	exit 1
fi
ok 0 "dpkg-buildpackage -us -uc -b ($((t1 - t0)) s)"

deb() { echo "$work/${1}_${debver}_${2:-$arch}.deb"; }
r=0
for p in hostrpc libhostrpc0 libhostrpc-dev hostrpc-guest; do
	[ -f "$(deb $p)" ] || { echo "# missing $(deb $p)"; r=1; }
done
[ -f "$(deb hostrpc-dkms all)" ] || { echo "# missing $(deb hostrpc-dkms all)"; r=1; }
ok $r "the five packages were built"
[ $r = 0 ] || { echo "Bail out! packages missing"; exit 1; }

# has PACKAGE [ARCH] PATH...: each PATH is in the package (file or link)
has() {
	local p=$1 a=$arch; shift
	[ "$1" = all ] && { a=all; shift; }
	dpkg-deb -c "$(deb "$p" "$a")" | awk '{ print $6 }' > "$work/$p.list" || return 1
	local f r=0
	for f; do
		grep -qxF "./$f" "$work/$p.list" || { echo "# $p lacks /$f"; r=1; }
	done
	return $r
}
has hostrpc usr/sbin/hostrpcd usr/bin/hostrpcctl usr/bin/hostrpc-guestmount \
	usr/bin/hostrpc-guest-exec usr/sbin/hostrpc-migrate usr/bin/hostrpc-ping \
	usr/share/doc/hostrpc/copyright
ok $? "hostrpc: hostrpcd, hostrpcctl, hostrpc-guestmount, hostrpc-guest-exec, hostrpc-migrate, hostrpc-ping"
r=0
has libhostrpc0 "usr/lib/$ma/libhostrpc.so.0" "usr/lib/$ma/libhostrpc-glib.so.0" || r=1
dpkg-deb -I "$(deb libhostrpc0)" symbols 2> /dev/null | grep -q '^ hrpc_client_new@HOSTRPC_0.1 ' || {
	echo "# libhostrpc0 has no symbols file with the HOSTRPC_0.1 version node"; r=1; }
ok $r "libhostrpc0: libhostrpc.so.0, libhostrpc-glib.so.0, a symbols file"
has libhostrpc-dev usr/include/hostrpc/hostrpc.h usr/include/hostrpc/hostrpc-glib.h \
	usr/include/hostrpc/msg.h "usr/lib/$ma/libhostrpc.so" "usr/lib/$ma/libhostrpc-glib.so" \
	"usr/lib/$ma/pkgconfig/libhostrpc.pc"
ok $? "libhostrpc-dev: headers, .so links, libhostrpc.pc"
has hostrpc-guest usr/sbin/guestrpcd
ok $? "hostrpc-guest: guestrpcd"
d=usr/src/hostrpc-$version
has hostrpc-dkms all "$d/dkms.conf" "$d/Makefile" "$d/include/hostrpc/msg.h" \
	"$d/core/Kbuild" "$d/sock/Kbuild" "$d/fs/Kbuild" "$d/mem/Kbuild"
ok $? "hostrpc-dkms: the four modules' sources and dkms.conf in /$d"
r=0; ! grep -h '\.la$' "$work"/*.list || r=1
ok $r "no libtool .la file in any package"

# The .changes covers the dbgsym packages too; warnings are listed, not fatal.
lintian --fail-on error "$work/hostrpc_${debver}_$arch.changes" > "$work/lintian.out" 2>&1
r=$?
grep -v 'running with root privileges' "$work/lintian.out" | sed 's/^/# lintian: /'
ok $r "lintian --fail-on error: no error ($(grep -c '^W: ' "$work/lintian.out") warnings)"

# ---- the unpacked packages at work ------------------------------------------
root=$work/root
r=0
for p in hostrpc libhostrpc0 hostrpc-guest; do
	dpkg-deb -x "$(deb $p)" "$root" || r=1
done
dpkg-deb -x "$(deb hostrpc-dkms all)" "$root" || r=1
export LD_LIBRARY_PATH=$root/usr/lib/$ma
hostrpcd=$root/usr/sbin/hostrpcd
hostrpcctl=$root/usr/bin/hostrpcctl
ping=$root/usr/bin/hostrpc-ping
for b in "$hostrpcd" "$hostrpcctl" "$ping"; do
	ldd "$b" > "$work/ldd.out" 2>&1
	grep -q "libhostrpc.so.0 => $root/" "$work/ldd.out" ||
		{ echo "# $b does not resolve libhostrpc.so.0 in $root:"; sed 's/^/#   /' "$work/ldd.out"; r=1; }
done
ok $r "unpacked; hostrpcd, hostrpcctl, hostrpc-ping load the unpacked libhostrpc"

w=$work/run
mkdir -p "$w/state" "$w/sock-policy" "$w/fs-policy" "$w/mem-policy"
ctl() { timeout 10 "$hostrpcctl" --admin-socket "$w/admin.sock" "$@"; }
# Private sockets and empty policy directories: nothing of this machine's
# /etc/hostrpc or /run/hostrpc is read or touched.  No fd holder: it would
# outlive the daemon on purpose.
"$hostrpcd" --foreground --no-fdstore --socket "$w/guests.sock" \
	--admin-socket "$w/admin.sock" --state-dir "$w/state" \
	--sock-policy-dir "$w/sock-policy" --fs-policy-dir "$w/fs-policy" \
	--mem-policy-dir "$w/mem-policy" > "$w/hostrpcd.log" 2>&1 &
daemon=$!
wait_for 10 ctl info > /dev/null 2>&1
ok $? "the unpacked hostrpcd answers the unpacked hostrpcctl info"

# A process guest calling echo, long enough to be listed while connected.
"$ping" --socket "$w/guests.sock" --name deb-guest --count 3000 --interval-ms 1 \
	--size 1000 > "$w/ping.out" 2>&1 &
ping_pid=$!
listed() { ctl list > "$w/list" 2>&1 && awk '$2 == "deb-guest" { f = 1 } END { exit !f }' "$w/list"; }
wait_for 10 listed
r=$?
sed 's/^/# /' "$w/list"
ok $r "hostrpcctl list shows the process guest deb-guest"
wait "$ping_pid"
r=$?
ping_pid=
sed 's/^/# /' "$w/ping.out"
[ $r = 0 ] && grep -q ' 0 corrupted' "$w/ping.out" || r=1
ok $r "hostrpc-ping: 3000 echo calls of 1000 B came back intact"
timeout 60 "$ping" --socket "$w/guests.sock" --name deb-bulk --count 20 --size 1048576 \
	> "$w/bulk.out" 2>&1
r=$?
sed 's/^/# /' "$w/bulk.out"
[ $r = 0 ] && grep -q ' 0 corrupted' "$w/bulk.out" || r=1
ok $r "hostrpc-ping --size 1048576: bulk echo calls came back intact"

r=0
kill -0 "$daemon" 2> /dev/null || r=1
kill -TERM "$daemon" 2> /dev/null
wait "$daemon"
st=$?
daemon=
[ $r = 0 ] && [ $st = 0 ] || r=1
[ $r = 0 ] || { echo "# hostrpcd exit status $st; its log:"; tail -n 30 "$w/hostrpcd.log" | sed 's/^/#   /'; }
ok $r "hostrpcd was still running and stopped cleanly on SIGTERM (status $st)"

# ---- the DKMS package's modules build ----------------------------------------
# The guest image's kernel, else any kernel whose headers are here.
kver=$(sed -n 's/^KVER=//p' "${HOSTRPC_GUEST_DIR:-$top_srcdir/.guest}/env" 2> /dev/null)
[ -n "$kver" ] && [ -d "/lib/modules/$kver/build" ] || kver=
if [ -z "$kver" ]; then
	for b in /lib/modules/*/build; do
		[ -d "$b" ] && { kver=${b#/lib/modules/}; kver=${kver%/build}; break; }
	done
fi
if [ -z "$kver" ]; then
	n=$((n + 1))
	echo "ok $n # SKIP dkms build: no kernel headers in /lib/modules/*/build (tools/guest-image installs the guest kernel's)"
else
	dk="--sourcetree $root/usr/src --dkmstree $work/dkms"
	mkdir -p "$work/dkms"
	unshare -m sh -c "mount -t tmpfs hostrpc-deb-build /var/lib/dkms &&
		dkms add -m hostrpc -v $version $dk &&
		dkms build -m hostrpc -v $version -k $kver $dk --kernelsourcedir /lib/modules/$kver/build" \
		> "$work/dkms.log" 2>&1
	r=$?
	for m in hostrpc_core hostrpc_sock hostrpcfs hostrpc_mem; do
		ls "$work/dkms/hostrpc/$version/$kver"/*/module/$m.ko* > /dev/null 2>&1 ||
			{ echo "# dkms built no $m.ko"; r=1; }
	done
	[ $r = 0 ] || { tail -n 30 "$work/dkms.log" | sed 's/^/#   /'
		cat "$work/dkms/hostrpc/$version/build/make.log" 2> /dev/null | tail -n 30 | sed 's/^/#   /'; }
	ok $r "dkms builds hostrpc_core, hostrpc_sock, hostrpcfs, hostrpc_mem from hostrpc-dkms for $kver"
fi
exit $failed
