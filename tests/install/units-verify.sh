#!/bin/sh
# The installed systemd units load cleanly: systemd-analyze verify reports
# nothing (an unknown directive or a bad value is only a warning to it, so
# any output fails), and the commands they run are the installed ones.
# systemd-analyze does not need systemd as init.  Debian: systemd.
. "${top_srcdir:-.}/tests/install/lib.sh"
command -v systemd-analyze > /dev/null ||
	{ echo "1..0 # SKIP systemd-analyze not found (apt-get install systemd)"; exit 77; }
install_prepare

units="hostrpcd.service guestrpcd.service guestrpcd-vchan.service"
echo "1..2"
inst_make install-systemdsystemunitDATA install-sbinPROGRAMS DESTDIR="$inst_dest" \
	> "$inst_dest.log" 2>&1 || sed 's/^/# /' "$inst_dest.log"
rm -f "$inst_dest.log"
# The units name $sbindir/...: point them at the DESTDIR copies so that
# verify finds what they execute.
mkdir "$inst_dest/units"
for u in $units; do
	sed "s|=$sbindir/|=$inst_dest$sbindir/|" "$inst_dest$systemdsystemunitdir/$u" \
		> "$inst_dest/units/$u" || exit 99
done
n=0
# The host's unit, then the guest's two.
for u in hostrpcd.service "guestrpcd.service guestrpcd-vchan.service"; do
	n=$((n + 1))
	paths=
	for f in $u; do paths="$paths $inst_dest/units/$f"; done
	out=$(systemd-analyze verify --man=no $paths 2>&1)
	rc=$?
	echo "$out" | sed '/^$/d; s/^/# /'
	if [ $rc = 0 ] && [ -z "$out" ]; then
		echo "ok $n - systemd-analyze verify $u: clean"
	else
		echo "not ok $n - systemd-analyze verify $u: clean (exit $rc)"
	fi
done
