#!/bin/sh
# make install DESTDIR=... puts every file where it belongs (programs,
# libraries, pkg-config file, headers, documentation, systemd units with
# their paths filled in, the guests' modules-load.d file and udev rules,
# the sample configuration), a reinstall keeps a changed configuration file,
# and make uninstall removes everything else.
. "${top_srcdir:-.}/tests/install/lib.sh"
install_prepare

echo "1..8"
n=0
check() { # DESCRIPTION COMMAND...
	n=$((n + 1)); d=$1; shift
	if "$@"; then echo "ok $n - $d"; else echo "not ok $n - $d"; fi
}
missing() { # FILE... : print the ones that are not there, fail if any
	rc=0
	for f in "$@"; do
		[ -f "$inst_dest$f" ] || { echo "# missing: $f"; rc=1; }
	done
	return $rc
}

inst_make install DESTDIR="$inst_dest" > "$inst_dest.log" 2>&1 ||
	{ sed 's/^/# /' "$inst_dest.log"; }
check "make install DESTDIR succeeds" test -f "$inst_dest$sbindir/hostrpcd"
rm -f "$inst_dest.log"

check "programs, libraries, pkg-config file and headers" missing \
	"$sbindir/hostrpcd" "$sbindir/guestrpcd" "$bindir/hostrpcctl" "$bindir/hostrpc-ping" \
	"$libdir/libhostrpc.so.0" "$libdir/libhostrpc-glib.so.0" "$libdir/pkgconfig/libhostrpc.pc" \
	"$includedir/hostrpc/hostrpc.h" "$includedir/hostrpc/msg.h" "$includedir/hostrpc/admin.h"
check "documentation in docdir" missing \
	"$docdir/README.md" "$docdir/protocol.md" "$docdir/libvirt.md"

units="hostrpcd.service guestrpcd.service guestrpcd-vchan.service"
unit_paths() {
	if [ "$systemdsystemunitdir" = no ]; then
		echo "# configured --with-systemdsystemunitdir=no"
		! find "$inst_dest" -name '*.service' | grep .
		return
	fi
	rc=0
	for u in $units; do
		f=$inst_dest$systemdsystemunitdir/$u
		[ -f "$f" ] || { echo "# missing: $systemdsystemunitdir/$u"; rc=1; continue; }
		if grep -n '@[A-Za-z_]*@' "$f" > "$inst_dest.at"; then
			sed "s|^|# $u: unsubstituted: |" "$inst_dest.at"; rc=1
		fi
		rm -f "$inst_dest.at"
	done
	grep -qx "ExecStart=$sbindir/hostrpcd --foreground" "$inst_dest$systemdsystemunitdir/hostrpcd.service" ||
		{ echo "# hostrpcd.service does not start $sbindir/hostrpcd"; rc=1; }
	grep -qx "ExecStart=$sbindir/guestrpcd" "$inst_dest$systemdsystemunitdir/guestrpcd.service" ||
		{ echo "# guestrpcd.service does not start $sbindir/guestrpcd"; rc=1; }
	grep -qx "KillMode=process" "$inst_dest$systemdsystemunitdir/hostrpcd.service" ||
		{ echo "# hostrpcd.service would kill the fd holder on restart"; rc=1; }
	return $rc
}
check "systemd units in systemdsystemunitdir, paths filled in" unit_paths
guest_side() {
	rc=0
	if [ "$modulesloaddir" = no ]; then
		! find "$inst_dest" -path '*/modules-load.d/*' | grep . || rc=1
	else
		missing "$modulesloaddir/hostrpc.conf" || rc=1
	fi
	if [ "$udevrulesdir" = no ]; then
		! find "$inst_dest" -name '70-hostrpc.rules' | grep . || rc=1
	else
		missing "$udevrulesdir/70-hostrpc.rules" || rc=1
	fi
	return $rc
}
check "guest side: modules-load.d file and udev rules (or none, configured so)" guest_side
check "sample configuration in sysconfdir/hostrpc" missing \
	"$sysconfdir/hostrpc/hostrpcd.conf" "$sysconfdir/hostrpc/guests/default.conf"

# An administrator's configuration survives a reinstall and an uninstall.
conf=$inst_dest$sysconfdir/hostrpc/hostrpcd.conf
echo "# changed by the administrator" >> "$conf"
inst_make install DESTDIR="$inst_dest" > /dev/null 2>&1
inst_make uninstall DESTDIR="$inst_dest" > /dev/null 2>&1
kept() { tail -n 1 "$conf" 2> /dev/null | grep -qx "# changed by the administrator"; }
check "a changed configuration file is kept by install and uninstall" kept

rm -f "$conf"
left=$(find "$inst_dest" ! -type d | sed "s|^$inst_dest||")
[ -z "$left" ] || echo "$left" | sed 's/^/# left behind: /'
check "make uninstall DESTDIR leaves no file" test -z "$left"
