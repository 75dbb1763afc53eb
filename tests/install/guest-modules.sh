#!/bin/sh
# drivers-frontend/Makefile builds the four guest modules against the guest
# kernel's headers in one make (hostrpc_core first, the frontends against
# its symbols), installs them with modules_install under INSTALL_MOD_PATH,
# and make dkms-src lays out a tree that builds by itself (what DKMS runs).
. "${top_srcdir:-.}/tests/install/lib.sh"
install_prepare
guest_kdir

mods="core/hostrpc_core sock/hostrpc_sock fs/hostrpcfs mem/hostrpc_mem"
echo "1..6"
src=$inst_dest/src
guest_src "$src" || exit 99
log=$inst_dest/log

# tap N STATUS DESCRIPTION; the log's last lines on failure
tap() {
	if [ "$2" = 0 ]; then echo "ok $1 - $3"; else echo "not ok $1 - $3"; tail -n 20 "$log" | sed 's/^/# /'; fi
}
all_there() { # DIR SUFFIX: every module's DIR/<name>SUFFIX exists
	for m in $mods; do [ -f "$1/${m#*/}$2" ] || { echo "# missing ${m#*/}$2" >> "$log"; return 1; }; done
}

make -C "$src/drivers-frontend" KDIR="$kdir" > "$log" 2>&1
rc=$?
for m in $mods; do [ -f "$src/drivers-frontend/$m.ko" ] || rc=1; done
tap 1 $rc "make -C drivers-frontend KDIR=$kdir builds the four modules"

# The frontends were linked against hostrpc_core's symbols, not left with
# unresolved ones: modpost would have warned, and modinfo names the
# dependency.
rc=0
grep -q 'WARNING: modpost' "$log" && rc=1
for m in sock/hostrpc_sock fs/hostrpcfs mem/hostrpc_mem; do
	modinfo -F depends "$src/drivers-frontend/$m.ko" 2>> "$log" | grep -qx hostrpc_core || rc=1
done
tap 2 $rc "the frontends depend on hostrpc_core's exported symbols"

root=$inst_dest/root
make -C "$src/drivers-frontend" KDIR="$kdir" modules_install INSTALL_MOD_PATH="$root" > "$log" 2>&1
rc=$?
all_there "$root/lib/modules/$kver/extra" .ko || rc=1
tap 3 $rc "modules_install INSTALL_MOD_PATH puts them in lib/modules/$kver/extra"

make -C "$src/drivers-frontend" KDIR="$kdir" clean > "$log" 2>&1
rc=$?
left=$(find "$src/drivers-frontend" -name '*.ko' -o -name '*.o' | head -n 3)
[ -z "$left" ] || { echo "$left" | sed 's/^/left: /' >> "$log"; rc=1; }
tap 4 $rc "make clean removes what the build made"

dk=$inst_dest/usr/src/hostrpc-$version
inst_make dkms-src DESTDIR="$inst_dest" > "$log" 2>&1
rc=$?
grep -qx "PACKAGE_VERSION=\"$version\"" "$dk/dkms.conf" 2>> "$log" || rc=1
[ -f "$dk/Makefile" ] && [ -f "$dk/include/hostrpc/msg.h" ] && [ -f "$dk/core/hostrpc_core.h" ] || rc=1
tap 5 $rc "make dkms-src lays out /usr/src/hostrpc-$version with the sources, headers, Makefile and dkms.conf"

# What dkms.conf's MAKE runs, in the dkms tree alone.
make -C "$dk" KDIR="$kdir" modules > "$log" 2>&1
rc=$?
for m in $mods; do [ -f "$dk/$m.ko" ] || rc=1; done
tap 6 $rc "the dkms-src tree builds by itself"
