#!/bin/bash
# Real Xen under QEMU TCG: Xen 4.17 boots a PV dom0 whose init starts the
# Xen tools; dom0 starts a PV domU (xl create), sees it running in xl list,
# gets its init marker through xenconsoled's log, reads its name from
# xenstore, runs a domU script (the harness's -u), checks that the images
# carry hostrpc's programs (hostrpcd & co. with their libraries in dom0,
# guestrpcd and the modules in the domU), then destroys the domain.
. "$(dirname "$0")/lib.sh"
xen_prepare
echo "1..10"

cat > "$xen_work/domu.sh" <<'EOF'
echo "domu-script: domid=$(xenstore-read domid) name=$(xenstore-read name)"
ok=yes
guestrpcd --help > /dev/null 2>&1 || ok=no
for m in hostrpc_core hostrpc_sock hostrpcfs hostrpc_mem; do
	[ -f /lib/modules/$m.ko ] || ok="no($m)"
done
# Loaded by no one but a test.
grep -q '^hostrpc' /proc/modules && ok=loaded
echo "domu-files: $ok"
EOF

cat > "$xen_work/dom0.sh" <<'EOF'
xen_domu_start boot1 -e "hrpc.test=xen-boot"
rc=$?
[ $rc = 0 ] && xen_ok "xl create boot1" || xen_notok "xl create boot1 ($rc)"

# Running: not paused, shut down, crashed or dying (r, b or "-": runnable).
xl list > /tmp/xl-list 2>&1
awk '$1 == "boot1" && $5 !~ /[pscd]/ { f = 1 } END { exit !f }' /tmp/xl-list &&
	xen_ok "xl list shows boot1 running" ||
	{ xen_notok "xl list shows boot1 running"; xen_diag "$(cat /tmp/xl-list)"; }

xen_domu_wait boot1 'HRPC-DOMU-INIT' 90 &&
	xen_ok "domU init marker in its console log" || xen_notok "domU init marker in its console log"

id=$(xen_domid boot1)
name=$(xenstore-read /local/domain/$id/name 2>&1)
[ "$name" = boot1 ] && xen_ok "xenstore-read /local/domain/$id/name: $name" ||
	xen_notok "xenstore-read /local/domain/$id/name: '$name'"

log=$(xen_domu_log boot1)
xen_domu_wait boot1 'HRPC-DOMU-EXIT' 30
grep -q "domu-script: domid=$id name=boot1" $log && grep -q 'HRPC-DOMU-EXIT 0' $log &&
	xen_ok "the domU script ran in domain $id" ||
	{ xen_notok "the domU script ran in domain $id"; xen_diag "$(tail -n 20 $log)"; }
grep -q 'domu-files: yes' $log &&
	xen_ok "domU has guestrpcd and the hostrpc modules (not loaded)" ||
	{ xen_notok "domU has guestrpcd and the hostrpc modules (not loaded)"; xen_diag "$(grep domu-files $log)"; }

bad=""
for p in hostrpcd hostrpcctl hostrpc-guestmount hostrpc-guest-exec fusermount3 xl; do
	if [ ! -x /bin/$p ]; then
		bad="$bad $p(missing)"
	elif /lib64/ld-linux-x86-64.so.2 --list /bin/$p 2>&1 | grep -q 'not found'; then
		bad="$bad $p(libraries)"
	fi
done
hostrpcd --help > /dev/null 2>&1 || bad="$bad hostrpcd(--help)"
[ -c /dev/fuse ] || bad="$bad /dev/fuse"
[ -z "$bad" ] && xen_ok "dom0 has hostrpcd, its tools, fusermount3 and /dev/fuse" ||
	xen_notok "dom0 has hostrpcd, its tools, fusermount3 and /dev/fuse:$bad"

xen_check "xl destroy boot1" xl destroy boot1
xen_domu_gone boot1 20 && xen_ok "boot1 is gone" ||
	{ xen_notok "boot1 is gone"; xen_diag "$(xl list 2>&1)"; }
EOF

xen_run -u "$xen_work/domu.sh" "$xen_work/dom0.sh"
xen_report 9
xen_finish
