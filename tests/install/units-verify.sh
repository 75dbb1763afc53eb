#!/bin/sh
# The systemd units make install puts in place (data/systemd/*.service, built
# from their .in) load cleanly: systemd-analyze verify reports nothing (an
# unknown directive or a bad value is only a warning to it, so any output
# fails).  verify also wants what a unit executes to exist: the units' $sbindir
# is pointed at the build's own programs.  systemd-analyze does not need
# systemd as init.  Debian: systemd.
. "${top_srcdir:-.}/tests/install/lib.sh"
command -v systemd-analyze > /dev/null ||
	{ echo "1..0 # SKIP systemd-analyze not found (apt-get install systemd)"; exit 77; }
install_prepare

units="hostrpcd.service guestrpcd.service guestrpcd-vchan.service"
echo "1..2"
inst_make data/systemd/hostrpcd.service data/systemd/guestrpcd.service \
	data/systemd/guestrpcd-vchan.service > "$inst_dest.log" 2>&1 || sed 's/^/# /' "$inst_dest.log"
rm -f "$inst_dest.log"
mkdir "$inst_dest/sbin" "$inst_dest/units"
ln -s "$(cd "$top_builddir" && pwd)/hostrpc/daemon/hostrpcd" "$inst_dest/sbin/hostrpcd"
ln -s "$(cd "$top_builddir" && pwd)/guestrpc/guestrpcd" "$inst_dest/sbin/guestrpcd"
for u in $units; do
	sed "s|=$sbindir/|=$inst_dest/sbin/|" "$top_builddir/data/systemd/$u" \
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
