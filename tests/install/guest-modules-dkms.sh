#!/bin/sh
# DKMS builds the four guest modules from the tree make dkms-src lays out,
# with drivers-frontend/dkms.conf, against the guest kernel's headers.
# dkms runs on private trees here (--dkmstree, --sourcetree, --installtree:
# nothing under /var/lib/dkms or /lib/modules), and signs nothing (sign_file
# names no program: dkms would otherwise make a key in /var/lib/dkms).
# Needs dkms (Debian: dkms) and root (dkms refuses otherwise).
. "${top_srcdir:-.}/tests/install/lib.sh"
command -v dkms > /dev/null || { echo "1..0 # SKIP dkms not found (apt-get install dkms)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP dkms needs root"; exit 77; }
install_prepare
guest_kdir

echo "1..2"
log=$inst_dest/log
inst_make dkms-src DESTDIR="$inst_dest" > "$log" 2>&1 || { sed 's/^/# /' "$log"; exit 99; }
trees="--dkmstree $inst_dest/dkms --sourcetree $inst_dest/usr/src --installtree $inst_dest/lib"
mkdir -p "$inst_dest/dkms" "$inst_dest/lib"
export sign_file=/nonexistent/sign-file

tap() {
	if [ "$2" = 0 ]; then echo "ok $1 - $3"; else echo "not ok $1 - $3"; tail -n 30 "$log" | sed 's/^/# /'; fi
}
dkms add -m hostrpc -v "$version" $trees > "$log" 2>&1
tap 1 $? "dkms add -m hostrpc -v $version takes dkms.conf"

dkms build -m hostrpc -v "$version" -k "$kver" --kernelsourcedir "$kdir" $trees > "$log" 2>&1
rc=$?
for m in hostrpc_core hostrpc_sock hostrpcfs hostrpc_mem; do
	ls "$inst_dest/dkms/hostrpc/$version/$kver/"*/module/$m.ko* > /dev/null 2>&1 ||
		{ echo "no $m.ko in the dkms tree" >> "$log"; rc=1; }
done
tap 2 $rc "dkms build makes hostrpc_core, hostrpc_sock, hostrpcfs and hostrpc_mem"
