#!/bin/sh
# installed-config - the configuration as an installed hostrpcd reads it:
# `make install DESTDIR=$scratch` of this build tree, then the *installed*
# $scratch/usr/local/sbin/hostrpcd (its libraries by LD_LIBRARY_PATH) with
# --config $scratch/usr/local/etc/hostrpc/hostrpcd.conf, a file written here
# with private sockets and state under $scratch and guest-policy-dir
# $scratch/usr/local/etc/hostrpc/guests.  --check-config says so, and a
# process guest's worker (started by the installed binary) runs with the
# [sockets] of guests/default.conf: the installed hostrpcctl shows that file
# and its quota as the worker's effective policy.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/lib.sh"   # wait_for, watchdog_start
guest=$top_builddir/tests/integration/itest-guest
MAKE=${MAKE:-make}

[ -f "$top_builddir/Makefile" ] || {
	echo "1..0 # SKIP no build tree at $top_builddir to install"; exit 77; }
command -v "$MAKE" >/dev/null 2>&1 || {
	echo "1..0 # SKIP $MAKE missing"; exit 77; }
prefix=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")
sysconfdir=$(sed -n 's/^sysconfdir = //p' "$top_builddir/Makefile" | sed "s|\${prefix}|$prefix|")
sbindir=$(sed -n 's/^sbindir = //p' "$top_builddir/Makefile" | sed 's|\${exec_prefix}|'"$prefix"'|')
bindir=$(sed -n 's/^bindir = //p' "$top_builddir/Makefile" | sed 's|\${exec_prefix}|'"$prefix"'|')
libdir=$(sed -n 's/^libdir = //p' "$top_builddir/Makefile" | sed 's|\${exec_prefix}|'"$prefix"'|')
case $sysconfdir$sbindir$bindir$libdir in
*'$'*) echo "1..0 # SKIP cannot tell the install paths from the Makefile"; exit 77 ;;
esac

scratch=$(mktemp -d /tmp/hostrpc-install.XXXXXX)
daemon=
gpid=
cleanup() {
	[ -n "$gpid" ] && kill "$gpid" 2>/dev/null
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null
	kill "$watchdog" 2>/dev/null
	wait 2>/dev/null
	[ -n "${ITEST_KEEP:-}" ] || rm -rf "$scratch"
}
trap cleanup EXIT
watchdog_start 300

n=0
failed=0
ok() {	# ok STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}

echo "1..5"
# Not in parallel with the rest of the tree's make: one job, quietly.
"$MAKE" -C "$top_builddir" -j1 install DESTDIR="$scratch" > "$scratch/install.log" 2>&1
st=$?
[ $st = 0 ] || tail -n 20 "$scratch/install.log" | sed 's/^/# install: /'
hostrpcd=$scratch$sbindir/hostrpcd
hostrpcctl=$scratch$bindir/hostrpcctl
etc=$scratch$sysconfdir/hostrpc
[ $st = 0 ] && [ -x "$hostrpcd" ] && [ -x "$hostrpcctl" ]
ok $? "make install DESTDIR=$scratch installs $sbindir/hostrpcd and $bindir/hostrpcctl"
[ $st = 0 ] || exit 1
export LD_LIBRARY_PATH="$scratch$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

mkdir -p "$etc/guests" "$scratch/run"
cat > "$etc/hostrpcd.conf" <<EOF
# written by tests/integration/installed-config.sh
[hostrpcd]
socket=$scratch/run/guests.sock
admin-socket=$scratch/run/admin.sock
state-dir=$scratch/state
guest-policy-dir=$etc/guests
no-fdstore=true
foreground=true
EOF
printf '[sockets]\nmax-sockets 11\nconnect deny 192.0.2.0/24\n' > "$etc/guests/default.conf"

"$hostrpcd" --config "$etc/hostrpcd.conf" --check-config --guest=guest-1 > "$scratch/check.out" 2>&1
st=$?
sed 's/^/# /' "$scratch/check.out"
[ $st = 0 ] && grep -q "^# configuration file: $etc/hostrpcd.conf" "$scratch/check.out" &&
	grep -q "^guest-policy-dir=$etc/guests  *# file" "$scratch/check.out" &&
	grep -q "max-sockets 11" "$scratch/check.out"
ok $? "the installed hostrpcd --check-config reads the installed file and the guest's policy"

"$hostrpcd" --config "$etc/hostrpcd.conf" --verbose > "$scratch/hostrpcd.log" 2>&1 &
daemon=$!
wait_for 30 eval 'grep -q "ready:" "$scratch/hostrpcd.log" && [ -S "$scratch/run/guests.sock" ]'
ok $? "the installed hostrpcd starts with its sockets and state from the file"

"$guest" "$scratch/run/guests.sock" installed 3 > "$scratch/guest.out" 2>&1 &
gpid=$!
wait_for 10 grep -qs ready "$scratch/guest.out"
timeout 10 "$hostrpcctl" --admin-socket "$scratch/run/admin.sock" sockets guest-1 \
	> "$scratch/sockets.out" 2>&1 ||
	timeout 10 "$hostrpcctl" --admin-socket "$scratch/run/admin.sock" sockets installed \
	> "$scratch/sockets.out" 2>&1
sed 's/^/# /' "$scratch/sockets.out"
grep -q "^POLICY $etc/guests/default.conf" "$scratch/sockets.out" &&
	grep -q "max-sockets 11;" "$scratch/sockets.out" &&
	grep -Eq "connect deny +192.0.2.0/24 .*policy" "$scratch/sockets.out"
ok $? "a process guest's worker runs with [sockets] from the installed guests/default.conf"

kill "$gpid"; wait "$gpid" 2>/dev/null; gpid=
kill "$daemon"; wait "$daemon"
st=$?
ok $st "the installed hostrpcd stops cleanly (status $st)"
[ $failed = 0 ] || sed 's/^/# hostrpcd: /' "$scratch/hostrpcd.log"
exit $failed
