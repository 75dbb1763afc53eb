# tests/vm/xen/lib.sh - boot real Xen + a PV dom0 (+ PV domUs) under QEMU
# TCG for the Xen tests (sourced; bash).  Images: tools/xen-image (after
# tools/guest-image).  See tests/vm/xen/README.md.
#
# Host side:
#   xen_prepare        find (or build, unless HOSTRPC_GUEST_BUILD=0) the
#                      images, or print "1..0 # SKIP <reason>" and exit 77;
#                      makes $xen_work (scratch, removed on exit)
#   xen_run [options] DOM0_SCRIPT
#                      boot Xen; dom0 runs DOM0_SCRIPT (a file, sourced by
#                      busybox sh after the dom0 helpers below), prints
#                      "HRPC-XEN-EXIT <status>" and powers off.  Options:
#       -u FILE        domU script: /hostrpc/domu-cmd in every domU that
#                      xen_domu_start starts (its /init runs it after
#                      printing HRPC-DOMU-INIT; the domU helpers are there)
#       -f SRC[:DEST]  copy a host file into dom0 (default /hostrpc/NAME)
#       -F SRC[:DEST]  copy a host file into the domUs (default /hostrpc/NAME)
#       -t SECONDS     hard timeout (default $HOSTRPC_XEN_TIMEOUT or 240)
#       -b SECONDS     give up early if dom0 is not ready by then (default:
#                      only the hard timeout)
#       -m MIB         dom0 memory (default 512)
#       -c CPUS        QEMU vCPUs (default $HOSTRPC_XEN_SMP or 1)
#       -a ARGS        more dom0 kernel arguments
#       -A ARGS        more Xen arguments
#     Returns 0 when dom0's script exited 0.  Sets:
#       $xen_log       the serial log (Xen + dom0 console): read it freely
#       $xen_status    the script's exit status ("" if no HRPC-XEN-EXIT)
#       $xen_end       exit | crash (a crash marker) | timeout | qemu (QEMU
#                      ended without a marker) | boot-timeout (-b)
#       $xen_secs, $xen_ready_secs  wall seconds to the end / to dom0's
#                      "HRPC-DOM0-READY" (Xen + dom0 boot + xenstored ...)
#   xen_report [N]     print dom0's results as TAP ("ok K - ..." numbered
#                      from $xen_n + 1), "not ok" for each of N expected ones
#                      that never came, then one more: "dom0 script exited
#                      0"; on a failure, the tail of the serial log as "#"
#                      lines.  A test's plan counts N + 1 for it.
#   xen_ok RC DESC     one more TAP result from the host side (RC 0 = ok)
#   xen_finish         exit 0 if every result was ok, else 1
#   HOSTRPC_XEN_KEEP=DIR  keep the serial log there (NAME.serial.log)
#
# dom0 side (the script is sourced after these; busybox sh, cwd /tmp):
#   xen_ok DESC / xen_notok DESC    a result line for the host
#   xen_check DESC CMD...           run CMD: ok, or not ok + its output
#   xen_diag TEXT...                "#" lines in the host's TAP
#   xen_say TEXT...                 a console line with dom0's uptime
#   xen_domu_start NAME [-m MIB] [-c VCPUS] [-e KERNEL_ARGS] [-r RAMDISK]
#                  [-k KERNEL]
#                                   xl create a PV domU (160 MiB, 1 vCPU,
#                                   the domU image + the -u/-F files)
#   xen_domu_wait NAME REGEX [SECONDS]   wait (default 60 s) for a line of
#                                   the domU's console log; on failure its
#                                   tail as "#" lines
#   xen_domu_log NAME               the console log's path
#   xen_domid NAME                  the domain id (xl domid)
#   xen_domu_gone NAME [SECONDS]    wait until no domain has that name
# The domU side gets xen_say.  Result lines are "HRPC-TAP: ok - DESC",
# "HRPC-TAP: not ok - DESC", "HRPC-TAP: # TEXT" on dom0's console.
top_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib.sh"   # wait_for, vm_load_lock

xen_n=0
xen_failed=0
xen_work=""
xen_qemu_pid=""

xen_skip() {
	echo "1..0 # SKIP $*"
	exit 77
}

xen_ok() {
	xen_n=$((xen_n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $xen_n - $2"
	else
		echo "not ok $xen_n - $2"
		xen_failed=$((xen_failed + 1))
	fi
}

xen_finish() {
	[ "$xen_failed" = 0 ] && exit 0
	exit 1
}

xen_cleanup() {
	if [ -n "$xen_qemu_pid" ]; then
		kill -TERM "$xen_qemu_pid" 2> /dev/null
		wait_for 5 eval "! kill -0 $xen_qemu_pid 2> /dev/null" ||
			kill -KILL "$xen_qemu_pid" 2> /dev/null
		wait "$xen_qemu_pid" 2> /dev/null
		xen_qemu_pid=""
	fi
	[ -n "$xen_work" ] && rm -rf "$xen_work"
}

xen_prepare() {
	vm_load_lock shared
	command -v qemu-system-x86_64 > /dev/null ||
		xen_skip "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
	command -v cpio > /dev/null || xen_skip "cpio missing"
	if [ -z "${HOSTRPC_GUEST_DIR:-}" ]; then
		HOSTRPC_GUEST_DIR=$top_srcdir/.guest
		if [ ! -d "$HOSTRPC_GUEST_DIR" ] && [ ! -w "$top_srcdir" ]; then
			HOSTRPC_GUEST_DIR=$top_builddir/.guest
		fi
	fi
	export HOSTRPC_GUEST_DIR
	if [ "${HOSTRPC_GUEST_BUILD:-1}" != 0 ]; then
		# One build at a time (tests/vm/lib.sh takes the same lock).
		mkdir -p "$HOSTRPC_GUEST_DIR"
		(
			command -v flock > /dev/null && flock 9
			"$top_srcdir/tools/guest-image" -d "$HOSTRPC_GUEST_DIR" build >&2 &&
				"$top_srcdir/tools/xen-image" -d "$HOSTRPC_GUEST_DIR" -b "$top_builddir" build >&2
		) 9> "$HOSTRPC_GUEST_DIR/.build-lock" ||
			xen_skip "tools/guest-image or tools/xen-image could not build the images (see above)"
	fi
	xen_dir=$HOSTRPC_GUEST_DIR/xen
	local f
	for f in "$HOSTRPC_GUEST_DIR/vmlinuz" "$xen_dir/xen" "$xen_dir/dom0.cpio.gz" "$xen_dir/domu.cpio.gz"; do
		[ -f "$f" ] || xen_skip "no $f (run tools/guest-image, then tools/xen-image)"
	done
	# QEMU's multiboot -initrd takes "PATH ARGS,PATH": no blanks or commas.
	local tmp=${TMPDIR:-/tmp}
	case $tmp in *[\ ,]*) tmp=/tmp ;; esac
	xen_work=$(mktemp -d "$tmp/hostrpc-xen.XXXXXX")
	trap xen_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# The helpers dom0's (and the domUs') scripts are sourced after.
xen_guest_lib() {
	cat <<'EOF'
# /hostrpc/lib.sh - Xen test helpers (from tests/vm/xen/lib.sh)
xen_say() { echo "[$xen_who $(cut -d' ' -f1 /proc/uptime)] $*"; }
xen_ok() { echo "HRPC-TAP: ok - $*"; }
xen_notok() { echo "HRPC-TAP: not ok - $*"; }
xen_diag() { printf '%s\n' "$@" | while IFS= read -r l; do echo "HRPC-TAP: # $l"; done; }
xen_check() {
	local d=$1 rc
	shift
	"$@" > /tmp/xen-check.out 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		xen_ok "$d"
	else
		xen_notok "$d"
		xen_diag "$* failed ($rc):" "$(tail -n 20 /tmp/xen-check.out)"
	fi
	return $rc
}
xen_domu_log() { echo "/var/log/xen/console/guest-$1.log"; }
xen_domid() { xl domid "$1" 2> /dev/null; }
xen_domu_start() {
	local name=$1 mem=160 vcpus=1 extra="" ramdisk="" kernel=/boot/vmlinuz rc
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		-m) mem=$2; shift 2 ;;
		-c) vcpus=$2; shift 2 ;;
		-e) extra=$2; shift 2 ;;
		-r) ramdisk=$2; shift 2 ;;
		-k) kernel=$2; shift 2 ;;
		*) xen_diag "xen_domu_start: unknown option $1"; return 2 ;;
		esac
	done
	if [ -z "$ramdisk" ]; then
		ramdisk=/boot/domu.cpio.gz
		if [ -f /boot/domu-extra.cpio.gz ]; then
			ramdisk=/run/domu-test.cpio.gz
			[ -f $ramdisk ] || cat /boot/domu.cpio.gz /boot/domu-extra.cpio.gz > $ramdisk
		fi
	fi
	cat > /etc/xen/$name.cfg <<CFG
name = "$name"
type = "pv"
kernel = "$kernel"
ramdisk = "$ramdisk"
extra = "console=hvc0 quiet loglevel=3 $extra"
memory = $mem
vcpus = $vcpus
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "preserve"
CFG
	xl create /etc/xen/$name.cfg > /tmp/xl-create-$name.log 2>&1
	rc=$?
	[ $rc = 0 ] || xen_diag "xl create $name failed ($rc):" "$(cat /tmp/xl-create-$name.log)"
	return $rc
}
xen_domu_wait() {
	local log=/var/log/xen/console/guest-$1.log s=${3:-60} i=0
	while [ $i -lt $((s * 5)) ]; do
		grep -q -E "$2" "$log" 2> /dev/null && return 0
		sleep 0.2
		i=$((i + 1))
	done
	xen_diag "no /$2/ in $log after $s s; its tail:" "$(tail -n 30 "$log" 2>&1)"
	return 1
}
xen_domu_gone() {
	local s=${2:-30} i=0
	while [ $i -lt $((s * 5)) ]; do
		xl domid "$1" > /dev/null 2>&1 || return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}
EOF
}

# xen_cpio DIR OUT: pack DIR as a gzipped newc archive.
xen_cpio() {
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 > "$2"
}

# xen_copy_in STAGE SRC[:DEST]: a file into a staging tree.
xen_copy_in() {
	local src=${2%%:*} dst=${2#*:}
	[ "$dst" = "$2" ] && dst=/hostrpc/$(basename "$src")
	[ -e "$src" ] || { echo "Bail out! no such file: $src"; exit 1; }
	mkdir -p "$1$(dirname "$dst")"
	cp -L "$src" "$1$dst"
}

xen_run() {
	local timeout=${HOSTRPC_XEN_TIMEOUT:-240} mem=512 cpus=${HOSTRPC_XEN_SMP:-1} boot_timeout=""
	local dom0_args="" xen_args="" domu_script="" opt f
	local dom0_files=() domu_files=()
	OPTIND=1
	while getopts "u:f:F:t:b:m:c:a:A:" opt; do
		case $opt in
		u) domu_script=$OPTARG ;;
		f) dom0_files+=("$OPTARG") ;;
		F) domu_files+=("$OPTARG") ;;
		t) timeout=$OPTARG ;;
		b) boot_timeout=$OPTARG ;;
		m) mem=$OPTARG ;;
		c) cpus=$OPTARG ;;
		a) dom0_args="$dom0_args $OPTARG" ;;
		A) xen_args="$xen_args $OPTARG" ;;
		*) echo "Bail out! xen_run: bad option"; exit 1 ;;
		esac
	done
	shift $((OPTIND - 1))
	local script=$1 x=$xen_work/dom0-extra u=$xen_work/domu-extra
	[ -f "$script" ] || { echo "Bail out! xen_run: no dom0 script $script"; exit 1; }

	# The test's part of the dom0 initramfs, appended to the image's.
	rm -rf "$x" "$u"
	mkdir -p "$x/hostrpc" "$x/boot"
	xen_guest_lib > "$x/hostrpc/lib.sh"
	cp "$script" "$x/hostrpc/dom0.sh"
	printf '#!/bin/sh\nxen_who=dom0\n. /hostrpc/lib.sh\n. /hostrpc/dom0.sh\n' > "$x/hostrpc/dom0-cmd"
	for f in "${dom0_files[@]:+${dom0_files[@]}}"; do xen_copy_in "$x" "$f"; done
	if [ -n "$domu_script" ] || ((${#domu_files[@]})); then
		mkdir -p "$u/hostrpc"
		xen_guest_lib > "$u/hostrpc/lib.sh"
		if [ -n "$domu_script" ]; then
			cp "$domu_script" "$u/hostrpc/domu.sh"
			printf '#!/bin/sh\nxen_who=domU\n. /hostrpc/lib.sh\n. /hostrpc/domu.sh\n' > "$u/hostrpc/domu-cmd"
		fi
		for f in "${domu_files[@]:+${domu_files[@]}}"; do xen_copy_in "$u" "$f"; done
		xen_cpio "$u" "$x/boot/domu-extra.cpio.gz"
	fi
	xen_cpio "$x" "$xen_work/dom0-extra.cpio.gz"
	cat "$xen_dir/dom0.cpio.gz" "$xen_work/dom0-extra.cpio.gz" > "$xen_work/initrd"
	ln -sf "$HOSTRPC_GUEST_DIR/vmlinuz" "$xen_work/vmlinuz"

	xen_log=$xen_work/serial.log
	: > "$xen_log"
	xen_status=""
	xen_end=""
	xen_ready_secs=""
	local start now el
	start=$(date +%s.%N)
	qemu-system-x86_64 -accel tcg,thread=multi -cpu qemu64 -smp "$cpus" -m 2048 \
		-nographic -monitor none -display none -no-reboot -nic none \
		-serial "file:$xen_log" \
		-kernel "$xen_dir/xen" \
		-append "console=com1 com1=115200,8n1 dom0_mem=${mem}M,max:${mem}M noreboot$xen_args" \
		-initrd "$xen_work/vmlinuz console=hvc0 earlyprintk=xen quiet loglevel=3$dom0_args,$xen_work/initrd" \
		< /dev/null > "$xen_work/qemu.log" 2>&1 &
	xen_qemu_pid=$!
	local crash='Hardware Dom0 crashed|Panic on CPU|Kernel panic'
	while :; do
		now=$(date +%s.%N)
		el=$(awk -v a="$start" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
		if [ -z "$xen_ready_secs" ] && grep -a -q 'HRPC-DOM0-READY' "$xen_log"; then
			xen_ready_secs=$el
		fi
		if grep -a -q 'HRPC-XEN-EXIT [0-9]' "$xen_log"; then
			xen_end=exit
			break
		fi
		if grep -a -E "$crash" "$xen_log" | grep -a -q -v 'HRPC-TAP:'; then
			xen_end=crash
			sleep 2	# the rest of the backtrace
			break
		fi
		if ! kill -0 "$xen_qemu_pid" 2> /dev/null; then
			# dom0 may have printed its marker and powered off
			# since the grep above: QEMU's end is the marker's.
			xen_end=qemu
			grep -a -q 'HRPC-XEN-EXIT [0-9]' "$xen_log" && xen_end=exit
			break
		fi
		if awk -v e="$el" -v t="$timeout" 'BEGIN { exit !(e >= t) }'; then
			xen_end=timeout
			break
		fi
		if [ -z "$xen_ready_secs" ] && [ -n "$boot_timeout" ] &&
		   awk -v e="$el" -v t="$boot_timeout" 'BEGIN { exit !(e >= t) }'; then
			xen_end=boot-timeout
			break
		fi
		sleep 0.2
	done
	# Power-off under Xen with noreboot leaves QEMU running: end it.
	[ "$xen_end" = exit ] && wait_for 1 eval "! kill -0 $xen_qemu_pid 2> /dev/null"
	kill -TERM "$xen_qemu_pid" 2> /dev/null
	wait_for 5 eval "! kill -0 $xen_qemu_pid 2> /dev/null" || kill -KILL "$xen_qemu_pid" 2> /dev/null
	wait "$xen_qemu_pid" 2> /dev/null
	xen_qemu_pid=""
	xen_secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	xen_status=$(tr -d '\r' < "$xen_log" | sed -n 's/.*HRPC-XEN-EXIT \([0-9][0-9]*\).*/\1/p' | head -n 1)
	if [ -n "${HOSTRPC_XEN_KEEP:-}" ]; then
		mkdir -p "$HOSTRPC_XEN_KEEP"
		cp "$xen_log" "$HOSTRPC_XEN_KEEP/$(basename "$0" .sh).serial.log"
	fi
	[ "$xen_status" = 0 ]
}

# xen_dump [LINES]: the serial log's tail as TAP diagnostics.
xen_dump() {
	echo "# serial log, last ${1:-60} lines:"
	tr -d '\r' < "$xen_log" | tail -n "${1:-60}" | sed 's/^/#   /'
	[ -s "$xen_work/qemu.log" ] && sed 's/^/# qemu: /' "$xen_work/qemu.log"
	return 0
}

xen_report() {
	local want=${1:-0} got=0 line failed0=$xen_failed
	while IFS= read -r line; do
		case $line in
		"ok - "*) xen_ok 0 "${line#ok - }"; got=$((got + 1)) ;;
		"not ok - "*) xen_ok 1 "${line#not ok - }"; got=$((got + 1)) ;;
		"#"*) echo "$line" ;;
		esac
	done < <(tr -d '\r' < "$xen_log" | grep -a 'HRPC-TAP: ' | sed 's/.*HRPC-TAP: //')
	while [ "$got" -lt "$want" ]; do
		xen_ok 1 "missing result $((got + 1)) of $want (dom0 did not get that far)"
		got=$((got + 1))
	done
	case $xen_end in
	exit) xen_ok "$xen_status" "dom0 script exited $xen_status (${xen_secs} s, dom0 ready after ${xen_ready_secs:-?} s)" ;;
	timeout) xen_ok 1 "dom0 script finished (timed out after $xen_secs s)" ;;
	crash) xen_ok 1 "dom0 script finished (crash after $xen_secs s)" ;;
	*) xen_ok 1 "dom0 script finished (QEMU ended after $xen_secs s without HRPC-XEN-EXIT)" ;;
	esac
	[ "$xen_failed" = "$failed0" ] || xen_dump
	return 0
}
