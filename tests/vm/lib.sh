# tests/vm/lib.sh - shared by the VM tests (sourced; bash).
#
# vm_prepare: find or build the guest image and find an ivshmem server, or
# print "1..0 # SKIP <reason>" and exit 77.
#   HOSTRPC_GUEST_DIR        guest image (default <srcdir>/.guest, or
#                            <builddir>/.guest if the source tree is read-only)
#   HOSTRPC_GUEST_BUILD=0    do not run tools/guest-image (skip if no image)
#   HOSTRPC_IVSHMEM_SERVER   server command, "{sock}" = socket path (default:
#                            hostrpcd's ivshmem mode when it has one)
top_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib.sh"   # wait_for
vm_server_is_hostrpcd=0
vm_run=$top_srcdir/tests/vm/vm-run

vm_skip() {
	echo "1..0 # SKIP $*"
	exit 77
}

vm_find_server() {
	local d
	if [ -n "${HOSTRPC_IVSHMEM_SERVER:-}" ]; then
		echo "$HOSTRPC_IVSHMEM_SERVER"
		return 0
	fi
	d=$top_builddir/hostrpc/daemon/hostrpcd
	if [ -x "$d" ] && "$d" --help 2>&1 | grep -q -- '--ivshmem='; then
		vm_server_is_hostrpcd=1
		echo "$d --foreground --no-process-guests --admin-socket=$vm_tmp/admin.sock" \
			"--state-dir=$vm_tmp/state --ivshmem=guest={sock}"
		return 0
	fi
	return 1
}

# vm_tmp: a scratch directory removed when the test exits; a test's own
# hostrpcd listens on $vm_gsock and $vm_admin and keeps its state in $vm_state.
vm_prepare() {
	vm_tmp=$(mktemp -d "${TMPDIR:-/tmp}/hostrpc-vm.XXXXXX")
	vm_gsock=$vm_tmp/guests.sock
	vm_admin=$vm_tmp/admin.sock
	vm_state=$vm_tmp/state
	mkdir -p "$vm_state"
	trap 'rm -rf "$vm_tmp"' EXIT
	command -v qemu-system-x86_64 >/dev/null ||
		vm_skip "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
	if [ -z "${HOSTRPC_GUEST_DIR:-}" ]; then
		HOSTRPC_GUEST_DIR=$top_srcdir/.guest
		if [ ! -d "$HOSTRPC_GUEST_DIR" ] && [ ! -w "$top_srcdir" ]; then
			HOSTRPC_GUEST_DIR=$top_builddir/.guest
		fi
	fi
	export HOSTRPC_GUEST_DIR
	if [ "${HOSTRPC_GUEST_BUILD:-1}" != 0 ]; then
		# make -j runs VM tests side by side: one build at a time, the
		# others then find the image up to date.
		mkdir -p "$HOSTRPC_GUEST_DIR"
		(
			command -v flock >/dev/null && flock 9
			"$top_srcdir/tools/guest-image" -d "$HOSTRPC_GUEST_DIR" build >&2
		) 9> "$HOSTRPC_GUEST_DIR/.build-lock" ||
			vm_skip "tools/guest-image could not build the guest image (see above)"
	fi
	[ -f "$HOSTRPC_GUEST_DIR/initramfs.cpio.gz" ] ||
		vm_skip "no guest image in $HOSTRPC_GUEST_DIR (run tools/guest-image)"
	vm_find_server > "$vm_tmp/server" ||
		vm_skip "no ivshmem server: hostrpcd has no ivshmem mode yet (set HOSTRPC_IVSHMEM_SERVER='cmd {sock}')"
	vm_server=$(cat "$vm_tmp/server")
}

# tap N OK DESCRIPTION
tap() {
	if [ "$2" = 0 ]; then echo "ok $1 - $3"; else echo "not ok $1 - $3"; fi
}

# vm_add_prog ARRAY PATH: vm-run -f arguments that bring the dynamically
# linked host program PATH (as /bin/NAME) and its libraries into the guest,
# appended to the array called ARRAY.
vm_add_prog() {
	local -n vm_ap_files=$1
	local lib d
	vm_ap_files+=(-f "$2:/bin/$(basename "$2")")
	for lib in $(ldd "$2" | awk '/=> \//{ print $3 } /^\t\/[^ ]* \(/{ print $1 }'); do
		d=$lib
		case $d in /lib64/*) d=/lib/${d#/lib64/} ;; esac	# /lib64 -> lib in the image
		vm_ap_files+=(-f "$lib:$d")
	done
}

# Open descriptors / resident memory (KiB) of a process.
vm_fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
vm_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# A TCP port free on the host's loopback right now.
vm_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# vm_sanitizer_reports LOG: print ASan/UBSan reports found in LOG (a
# --enable-sanitizers build's daemon and workers) as TAP diagnostics;
# success if there was one.
vm_sanitizer_reports() {
	grep -A 30 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1" 2>/dev/null |
		sed 's/^/# sanitizer: /' | grep .
}

# vm_watchdog SECONDS: send this test SIGTERM after SECONDS (its EXIT trap
# still runs).  The cleanup kills $vm_watchdog_pid, and its sleep goes with
# it: nothing is left holding the TAP pipe open.
vm_watchdog() {
	(
		trap 'kill "$s" 2> /dev/null; exit 0' TERM
		sleep "$1" < /dev/null > /dev/null 2>&1 &
		s=$!
		wait "$s" && { echo "# timeout after $1 s" >&2; kill -TERM $$; }
	) &
	vm_watchdog_pid=$!
}

# A private hostrpcd for the VM tests that start their own:
#   vm_hostrpcd_start ARGS...  hostrpcd --foreground --verbose, process
#       guests on $vm_gsock, admin socket $vm_admin, state in $vm_state, log
#       $vm_tmp/hostrpcd.log, plus ARGS; sets $vm_daemon.  "Bail out!" and
#       exit if it does not get ready.
#   vm_bystander NAME [COUNT [INTERVAL_MS]]  once $vm_gsock exists, process
#       guests NAME making COUNT calls (200) INTERVAL_MS apart (5), back to
#       back until $vm_tmp/stop exists; a "run ok" / "run FAILED" line each
#       in $vm_tmp/ping.log, then $vm_tmp/bystander-done.  Joins vm_bg.
#   vm_stop_pid PID  SIGTERM, SIGKILL after 10 s, reap.
#   vm_hostrpcd_cleanup  (from the test's EXIT trap) stop the helpers in
#       vm_bg and the daemon, if it started one, release the fd holder,
#       remove $vm_tmp.
vm_hostrpcd=$top_builddir/hostrpc/daemon/hostrpcd
vm_ping=$top_builddir/hostrpc/hostrpc-ping
vm_daemon=""
vm_bg=()
vm_hostrpcd_start() {
	"$vm_hostrpcd" --foreground --verbose --socket="$vm_gsock" --admin-socket="$vm_admin" \
		--state-dir="$vm_state" "$@" > "$vm_tmp/hostrpcd.log" 2>&1 &
	vm_daemon=$!
	if ! wait_for 20 grep -q 'ready:' "$vm_tmp/hostrpcd.log"; then
		sed 's/^/# hostrpcd: /' "$vm_tmp/hostrpcd.log"
		echo "Bail out! hostrpcd did not start"
		exit 1
	fi
}
vm_bystander() {
	(
		until [ -S "$vm_gsock" ] || [ -e "$vm_tmp/stop" ]; do sleep 0.05; done
		while [ ! -e "$vm_tmp/stop" ]; do
			if "$vm_ping" --socket "$vm_gsock" --name "$1" --count "${2:-200}" \
				--interval-ms "${3:-5}" > "$vm_tmp/ping.out" 2>&1; then
				echo "run ok: $(cat "$vm_tmp/ping.out")"
			else
				echo "run FAILED: $(cat "$vm_tmp/ping.out")"
			fi
		done > "$vm_tmp/ping.log"
		touch "$vm_tmp/bystander-done"
	) &
	vm_bg+=($!)
}
vm_stop_pid() {
	kill -TERM "$1" 2> /dev/null
	wait_for 10 eval "! kill -0 $1 2>/dev/null" || kill -KILL "$1" 2> /dev/null
	wait "$1" 2> /dev/null
}
vm_hostrpcd_cleanup() {
	local p
	set +e
	touch "$vm_tmp/stop"
	for p in "${vm_bg[@]:+${vm_bg[@]}}"; do kill "$p" 2> /dev/null; wait "$p" 2> /dev/null; done
	[ -z "$vm_daemon" ] || vm_stop_pid "$vm_daemon"
	"$vm_hostrpcd" --fdstore-release --state-dir="$vm_state" > /dev/null 2>&1
	# HOSTRPC_VM_KEEP=1: the logs stay for a look (the test says where).
	if [ -n "${HOSTRPC_VM_KEEP:-}" ]; then
		echo "# kept $vm_tmp"
	else
		rm -rf "$vm_tmp"
	fi
}
