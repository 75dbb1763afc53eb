#!/bin/bash
# DOMAIN resolution through libvirt: a transient <domain type='qemu'> with
# channels org.hostrpc.guest.0/.1 runs guestrpcd; hostrpc-guest-exec and
# hostrpc-guestmount take the domain's name (virDomainGetXMLDesc -> the
# channel's socket).  With the mount holding channel .0, guest-exec takes .1
# without waiting; the guest's qemu-guest-agent works beside it; destroying
# the domain turns the mount into ENOTCONN and it unmounts cleanly.
. "$(dirname "$0")/lib.sh"
[ -x "$gmount" ] || skip_all "hostrpc-guestmount not built (configure found no fuse3)"
[ -c /dev/fuse ] && command -v fusermount3 >/dev/null || skip_all "no /dev/fuse or fusermount3"
"$gexec" -c qemu:///system nosuchdomain -- true 2>&1 | grep -q "no libvirt support" &&
	skip_all "built without libvirt (apt-get install libvirt-dev)"
command -v virsh >/dev/null || skip_all "virsh missing (apt-get install libvirt-clients libvirt-daemon-driver-qemu)"
gs_vm_prepare
"$top_srcdir/tools/libvirt-setup" start > "$gs_work/libvirt-setup.log" 2>&1 ||
	skip_all "libvirtd cannot run here: $(tail -n 1 "$gs_work/libvirt-setup.log")"
echo "1..9"

dom=hrpc-gs-$$
extra=()
command -v qemu-ga >/dev/null && extra=(-x "$(command -v qemu-ga):/bin/qemu-ga")
gs_libvirt_start "$dom" "${extra[@]:+${extra[@]}}"
ok $? "transient libvirt domain $dom (type qemu) running guestrpcd"

out=$("$gexec" -n "$dom" -- uname -s)
ok $([ "$out" = Linux ]; echo $?) "hostrpc-guest-exec $dom -- uname -s: $out"

m=$gs_work/mnt
gs_mount "$dom" /srv "$m"
ok $? "hostrpc-guestmount $dom /srv (channel .0 by libvirt)"
echo via-mount > "$m/file"
t0=$(date +%s.%N)
out=$("$gexec" -n "$dom" -- cat /srv/file)
t1=$(date +%s.%N)
ok $([ "$out" = via-mount ] && lt "$t1 - $t0" 2; echo $?) \
	"with .0 held by the mount, guest-exec takes .1 at once ($(calc "$t1 - $t0") s) and sees the file"

if [ ${#extra[@]} -gt 0 ]; then
	virsh -c qemu:///system qemu-agent-command "$dom" '{"execute":"guest-ping"}' > "$gs_work/ga" 2>&1
	ok $(grep -q return "$gs_work/ga"; echo $?) "qemu-guest-agent answers beside it ($(head -c 40 "$gs_work/ga"))"
else
	skip_one "qemu-guest-agent not installed"
fi
"$gexec" -c qemu:///system nosuchdomain -- true 2> "$gs_work/err"
rc=$?
ok $([ $rc = 125 ] && grep -q "no libvirt domain" "$gs_work/err"; echo $?) "an unknown domain: a clear error, exit 125"

gs_libvirt_stop
ls "$m" > "$gs_work/out" 2>&1
ok $([ $? != 0 ]; echo $?) "domain destroyed while mounted: the mount fails ($(head -c 60 "$gs_work/out"))"
fusermount3 -u "$m"
ok $? "clean unmount"
"$gexec" -n "$dom" -- true 2> "$gs_work/err"
ok $([ $? = 125 ]; echo $?) "the domain is gone: guest-exec exits 125 ($(head -c 60 "$gs_work/err"))"
[ $failed = 0 ]
