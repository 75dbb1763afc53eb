# tests/integration/guestsource/lib.sh - shared by the process-level
# guest-sourcing tests (sourced; bash).  Guests are processes here: the real
# agent (guestrpcd --listen) or a hostile fake, on a unix socket as QEMU's
# chardev would offer it.
top_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib.sh"   # wait_for
agent=$top_builddir/guestrpc/guestrpcd
# The host tools under test; overridable to run a test against another
# build (e.g. to show that a hostile test fails on an older one).
gmount=${HOSTRPC_GUESTMOUNT:-$top_builddir/guestsource/hostrpc-guestmount}
gexec=${HOSTRPC_GUEST_EXEC:-$top_builddir/guestsource/hostrpc-guest-exec}
fake=$top_builddir/tests/integration/guestsource/fake-guest

n=0
failed=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }
# Arithmetic on fractional seconds without bc: calc EXPR, lt A B.  lt is
# only ever a time limit (lt "$t" LIMIT): LIMIT stretches by
# $HOSTRPC_TIME_SLACK (default 1; make check-tsan: 1.5, the tools being
# several times slower under ThreadSanitizer) - what each proves, that a
# deadline cuts a wait short, holds at 1.5 times as well.
calc() { awk "BEGIN { printf \"%.3f\\n\", $* }"; }
lt() { awk "BEGIN { exit !($1 < $2 * ${HOSTRPC_TIME_SLACK:-1}) }"; }
skip_all() { echo "1..0 # SKIP $*"; exit 77; }
need_fuse() {
	[ -x "$gmount" ] || skip_all "hostrpc-guestmount not built (configure found no fuse3: apt-get install libfuse3-dev fuse3)"
	[ -c /dev/fuse ] || skip_all "no /dev/fuse"
	command -v fusermount3 >/dev/null || skip_all "fusermount3 missing (apt-get install fuse3)"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/gs-test.XXXXXX")
pids=()
mnts=()
cleanup() {
	local m p
	for m in "${mnts[@]:+${mnts[@]}}"; do
		fusermount3 -u -z "$m" 2>/dev/null || true
	done
	for p in "${pids[@]:+${pids[@]}}"; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

# start_agent SOCKET [guestrpcd args...]: the real agent on a unix socket.
start_agent() {
	local sock=$1
	shift
	"$agent" --listen "$sock" "$@" 2>>"$work/agent.log" &
	agent_pid=$!
	pids+=("$agent_pid")
	wait_for 5 eval "[ -S '$sock' ]"
}

# mount_guest SOCKET GUEST_PATH MOUNTPOINT [options]: foreground mount in
# the background; waits until it is mounted.
mount_guest() {
	local sock=$1 gpath=$2 mnt=$3
	shift 3
	mkdir -p "$mnt"
	"$gmount" -f "$@" "$sock" "$gpath" "$mnt" 2>>"$work/mount.log" &
	mount_pid=$!
	pids+=("$mount_pid")
	mnts+=("$mnt")
	wait_for 5 eval "grep -q ' $mnt fuse' /proc/mounts"
}

is_mounted() { grep -q " $1 fuse" /proc/mounts; }
