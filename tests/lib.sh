# tests/lib.sh - shell helpers shared by every script test (sourced; POSIX
# sh, so the /bin/sh tests can use it as well as the bash ones).  The other
# libraries (tests/vm/lib.sh, tests/vm/guestsource/lib.sh,
# tests/integration/guestsource/lib.sh) source it; a test without one
# sources it from $top_srcdir, which make check exports.
#
# wait_for SECONDS COMMAND [ARG...]
#     Run COMMAND every 0.1 s until it succeeds, for at most SECONDS
#     (fractions allowed: 0.5).  0 once it succeeded, 1 if it never did.
#     COMMAND's output is left alone: redirect the call to silence it.  A
#     shell expression goes through eval:
#         wait_for 5 test -S "$sock"
#         wait_for 10 eval '[ "$(fd_count "$pid")" = "$base" ]'
#     Tests wait for the condition they need this way, never for a fixed
#     time.

# vm_load_lock shared|exclusive
#     make -j runs VM tests side by side on a small machine.  Tests whose
#     checks have deadlines (guest-sourcing: a guest must answer in so many
#     seconds) take this lock shared; tests that load every core for a
#     minute (live migrations: two QEMUs, hostrpcd on two hosts, streams
#     both ways) take it exclusive, so the two never run together.  Held on
#     descriptor 8 until the test and what it started have exited.
vm_load_lock() {
	command -v flock > /dev/null || return 0
	exec 8>> "${top_builddir:-.}/.vm-load.lock" || return 0
	case $1 in
	shared) flock -s 8 ;;
	*) flock -x 8 ;;
	esac
}

wait_for() {
	local wait_for_tenths
	wait_for_tenths=$(awk -v s="$1" 'BEGIN { t = int(s * 10 + 0.5); print (t > 0 ? t : 1) }')
	shift
	until "$@"; do
		wait_for_tenths=$((wait_for_tenths - 1))
		[ "$wait_for_tenths" -gt 0 ] || return 1
		sleep 0.1
	done
}

# watchdog_start SECONDS
#     "Bail out! watchdog" and exit 1 when the test is still running after
#     SECONDS; sets $watchdog (the guard's pid: kill it in the EXIT trap).
watchdog_start() {
	trap 'echo "Bail out! watchdog"; exit 1' ALRM
	(
		sleep "$1" & s=$!
		trap 'kill $s; exit 0' TERM
		wait $s && kill -ALRM $$
	) > /dev/null 2>&1 &
	watchdog=$!
}
