#!/usr/bin/env bash
# VM test: docs/libvirt.md's "Life cycle, as an operator sees it", run
# exactly as written.  The shell block is read from the document and each
# line run as it stands (comments and all) in a scratch directory whose
# tools/ is the source tree's, with the build tree's programs first on PATH
# and hostrpcd's default paths (the test refuses to run beside a hostrpcd
# that already uses them, or beside a libvirt domain called demo).  Between
# the lines the test checks what each comment promises: the daemon answers,
# the endpoint appears on define, the guest attaches and its guestrpcd
# answers after start, the worker goes on destroy, the endpoint on undefine.
# Whatever happens, the domain is destroyed and undefined and the daemon
# and its fd holder stopped.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
vm_prepare
uri=qemu:///system
doc=$top_srcdir/docs/libvirt.md
bin=$top_builddir/hostrpc/daemon
command -v virsh > /dev/null ||
	vm_skip "virsh missing (apt-get install libvirt-clients libvirt-daemon-driver-qemu)"
"$bin/hostrpcd" --help 2>&1 | grep -q -- '--libvirt' ||
	vm_skip "hostrpcd was built without libvirt (apt-get install libvirt-dev; configure)"
[ -x "$top_builddir/guestsource/hostrpc-guest-exec" ] || vm_skip "hostrpc-guest-exec not built"
[ "$(id -u)" = 0 ] || vm_skip "the documented life cycle is root's (virsh on qemu:///system)"
if ! virsh -c "$uri" version > /dev/null 2>&1; then
	"$top_srcdir/tools/libvirt-setup" start > "$vm_tmp/setup.log" 2>&1 ||
		vm_skip "libvirtd does not answer on $uri: $(tail -n 1 "$vm_tmp/setup.log")"
fi
[ -f "$HOSTRPC_GUEST_DIR/initrd.img" ] ||
	vm_skip "no $HOSTRPC_GUEST_DIR/initrd.img (tools/guest-image makes it)"
if virsh -c "$uri" dominfo demo > /dev/null 2>&1; then
	vm_skip "a libvirt domain called demo exists already; the documented commands would use it"
fi
# The paths the block's hostrpcd will use (its hostrpcd.conf counts), as
# tools/domain-xml reads them.
"$bin/hostrpcd" --check-config > "$vm_tmp/config" 2>&1 ||
	{ sed 's/^/# /' "$vm_tmp/config"; echo "Bail out! hostrpcd --check-config failed"; exit 1; }
admin_default=$(sed -n 's/^admin-socket=\([^ ]*\) .*$/\1/p' "$vm_tmp/config")
endpoint_dir=$(sed -n 's/^endpoint-dir=\([^ ]*\) .*$/\1/p' "$vm_tmp/config")
[ -n "$admin_default" ] && [ -n "$endpoint_dir" ] ||
	{ echo "Bail out! no admin-socket or endpoint-dir in hostrpcd --check-config"; exit 1; }
if "$bin/hostrpcctl" info > /dev/null 2>&1; then
	vm_skip "a hostrpcd already answers on $admin_default; the documented commands would use it"
fi

# The block: from the "```sh" after the heading to the closing "```".
awk '/^## Life cycle, as an operator sees it/ { h = 1; next }
     h && /^```sh$/ { b = 1; next }
     b && /^```$/ { exit }
     b { print }' "$doc" > "$vm_tmp/block"
mapfile -t lines < "$vm_tmp/block"

work=$vm_tmp/cwd
mkdir -p "$work"
ln -s "$top_srcdir/tools" "$work/tools"
# QEMU may run as libvirt-qemu: what the domain names must be reachable.
chmod 0711 "$vm_tmp"
export PATH=$bin:$top_builddir/guestsource:$PATH
daemon_pid=""
daemon() { "$bin/hostrpcctl" info --json 2>/dev/null | sed -n 's/.*"pid":\([0-9]*\).*/\1/p'; }
cleanup() {
	set +e
	[ -n "${vm_watchdog_pid:-}" ] && kill "$vm_watchdog_pid" 2> /dev/null
	command virsh -q -c "$uri" destroy demo > /dev/null 2>&1
	command virsh -q -c "$uri" undefine demo > /dev/null 2>&1
	# The daemon the block started, even if the test lost track of it.
	[ -n "$daemon_pid" ] || daemon_pid=$(daemon)
	[ -n "$daemon_pid" ] && vm_stop_pid "$daemon_pid"
	"$bin/hostrpcd" --fdstore-release > /dev/null 2>&1
	rm -rf "$vm_tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
vm_watchdog "${HOSTRPC_VM_TIMEOUT:-300}"

expected=("hostrpcd --libvirt" "tools/domain-xml demo" "virsh define demo.xml" "virsh start demo"
	  "hostrpcctl list" "hostrpc-guest-exec demo" "virsh destroy demo" "virsh undefine demo")
echo "1..$((${#expected[@]} + 1))"
failed=0
n=1
r=0
[ "${#lines[@]}" = "${#expected[@]}" ] || r=1
for i in "${!expected[@]}"; do
	case ${lines[$i]:-} in "${expected[$i]}"*) ;; *) r=1 ;; esac
done
tap $n $r "docs/libvirt.md's block has the ${#expected[@]} steps this test checks (${#lines[@]} lines)"
[ $r = 0 ] || { sed 's/^/# doc: /' "$vm_tmp/block"; exit 1; }

# run LINE: the document's line, as written, in the scratch directory.
run() {
	(cd "$work" && eval "$1") > "$vm_tmp/out" 2>&1
}
listed() { "$bin/hostrpcctl" list 2>/dev/null | awk -v s="$1" '$2 == "demo" && $4 == s { f = 1 } END { exit !f }'; }

for line in "${lines[@]}"; do
	n=$((n + 1))
	r=0
	case $line in
	"hostrpcd --libvirt"*)
		run "$line" || r=1
		daemon_pid=$(daemon)
		[ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2> /dev/null || r=1
		what="the daemon forked, is ready and answers hostrpcctl (pid ${daemon_pid:-none})" ;;
	"tools/domain-xml demo"*)
		run "$line" || r=1
		ep=$(sed -n "s/.*<server path='\([^']*\)'.*/\1/p" "$work/demo.xml")
		grep -q "$HOSTRPC_GUEST_DIR/initrd.img" "$work/demo.xml" || r=1
		grep -q "org.hostrpc.guest.0" "$work/demo.xml" || r=1
		[ "$(dirname "${ep:-/x/y}")" = "$endpoint_dir" ] || r=1
		what="demo.xml: initrd.img, the agent channel, the daemon's endpoint ${ep:-none}" ;;
	"virsh define demo.xml"*)
		run "$line" || r=1
		wait_for 10 test -S "${ep:-/nonexistent}" || r=1
		what="the endpoint appeared while demo is shut off" ;;
	"virsh start demo"*)
		run "$line" || r=1
		wait_for 120 listed negotiated || r=1
		what="the guest's module attached: demo negotiated" ;;
	"hostrpcctl list"*)
		run "$line" || r=1
		awk '$2 == "demo" && $3 == "ivshmem" && $4 == "negotiated" && $5 > 0 { f = 1 } END { exit !f }' \
			"$vm_tmp/out" || r=1
		what="demo, ivshmem, negotiated, with a worker" ;;
	"hostrpc-guest-exec demo"*)
		# The guest's service command starts guestrpcd a moment after the
		# module attaches: the same line, again, for up to 60 s.
		wait_for 60 run "$line" || r=1
		[ "$(cat "$vm_tmp/out")" = "$(sed -n 's/^KVER=//p' "$HOSTRPC_GUEST_DIR/env")" ] || r=1
		what="the guest answered: $(head -c 60 "$vm_tmp/out")" ;;
	"virsh destroy demo"*)
		worker=$("$bin/hostrpcctl" list | awk '$2 == "demo" { print $5 }')
		run "$line" || r=1
		wait_for 20 eval '! "$bin/hostrpcctl" list | grep -q " demo "' || r=1
		[ -n "$worker" ] && ! kill -0 "$worker" 2> /dev/null || r=1
		what="the guest and its worker ${worker:-?} are gone" ;;
	"virsh undefine demo"*)
		run "$line" || r=1
		wait_for 10 eval '! test -e "$ep"' || r=1
		kill -0 "${daemon_pid:-0}" 2> /dev/null || r=1
		what="the endpoint is gone, the daemon runs on" ;;
	esac
	tap $n $r "\`$line\`: $what"
	[ $r = 0 ] || { failed=1; sed 's/^/# output: /' "$vm_tmp/out"; }
done
[ "$failed" = 0 ]
