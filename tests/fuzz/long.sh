#!/bin/sh
# make fuzz-long: every fuzz target for FUZZ_LONG_RUNS executions (default
# 10000000), a bench-style run that is not part of make check.
#
# Each target starts from a copy of its checked-in corpus
# (tests/fuzz/corpus/TARGET/) and make-seeds' inputs; the copy grows, the
# checked-in corpus does not (tests/fuzz/README says how to fold new
# inputs back in).  Any crash, leak, timeout or out-of-memory fails the
# run; the offending input is kept under the work directory.  At the end a
# table - target, execs, cov, ft, corpus files/bytes, wall seconds, exec/s,
# whether FUZZ_LONG_RUNS was reached - goes to stdout and to FUZZ_LONG_OUT
# (default tests/fuzz/fuzz-long.txt in the build tree).
#
# A campaign may be split over several runs (a slow target needs hours on
# a small machine): with FUZZ_LONG_RESUME=1 and a FUZZ_LONG_WORK directory,
# a target goes on from the corpus its last run left there, for the
# executions still missing, and its ledger (WORK/TARGET.ledger: one line
# per run - when, executions, seconds, how it ended, the source commit and
# the fuzz binary's checksum) sums them.  Only runs that ended cleanly
# count; a run that failed stops the target's campaign until its artifact
# is dealt with (fixed, then removed from WORK).  The table's execs column
# is then the campaign's total and runs says over how many runs and builds.
#
#   FUZZ_LONG_RUNS=N       executions per target (libFuzzer -runs)
#   FUZZ_LONG_TARGETS="a b" only these targets (default: smoke.sh's list);
#                          one named twice runs twice at once on its one
#                          corpus, each run taking half the executions
#                          still missing (the last target of a campaign
#                          on two cores)
#   FUZZ_LONG_JOBS=N       targets run at once (default 1; each is one
#                          process, so N cores)
#   FUZZ_LONG_PIN=0        do not pin each job to a core of its own (the
#                          default when 1 < N <= the cores this runs on):
#                          a target with threads (session, fsservice)
#                          otherwise pays for cross-CPU wake-ups and TLB
#                          shootdowns at every thread's end - unpinned,
#                          fuzz-session made 430 exec/s here, pinned 716
#   FUZZ_LONG_MAX_SECONDS=S  stop a target after S seconds (default 0: no
#                          limit); a target stopped so reports "no" in
#                          the reached column and does not fail the run
#   FUZZ_LONG_WORK=DIR     keep the work (corpora, logs, ledgers) there
#   FUZZ_LONG_RESUME=1     go on with the campaign in FUZZ_LONG_WORK
#   FUZZ_TIMEOUT=S         one input running longer fails (default 60: on a
#                          loaded machine an inotify close alone took 50 s)
set -u
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
T=$top_builddir/tests/fuzz
runs=${FUZZ_LONG_RUNS:-10000000}
jobs=${FUZZ_LONG_JOBS:-1}
maxsecs=${FUZZ_LONG_MAX_SECONDS:-0}
resume=${FUZZ_LONG_RESUME:-0}
out=${FUZZ_LONG_OUT:-$T/fuzz-long.txt}
targets=${FUZZ_LONG_TARGETS:-$(sed -n 's/^targets="\(.*\)"$/\1/p' "$top_srcdir/tests/fuzz/smoke.sh")}
for t in $targets; do
	if [ ! -x "$T/fuzz-$t" ]; then
		echo "fuzz-long: $T/fuzz-$t not built (configure found no clang with -fsanitize=fuzzer)" >&2
		exit 1
	fi
done
if [ "$resume" = 1 ] && [ -z "${FUZZ_LONG_WORK:-}" ]; then
	echo "fuzz-long: FUZZ_LONG_RESUME=1 needs FUZZ_LONG_WORK (where the campaign is kept)" >&2
	exit 1
fi
commit=$(git -C "$top_srcdir" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "${FUZZ_LONG_WORK:-}" ]; then
	work=$FUZZ_LONG_WORK
	mkdir -p "$work"
else
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
fi

# The table's columns: one place for their format.
cols() {
	printf '%-10s %12s %6s %7s %12s %7s %8s %-6s %s\n' "$@"
}

# One row of the table, kept in $work/NAME.row (NAME: its first column,
# the target or TARGET.N for its run N) and shown.
row() {
	cols "$@" > "$work/$1.row"
	cat "$work/$1.row"
}

# Executions the ledger counts (runs that ended cleanly), and how many
# runs and distinct fuzz binaries they took.
ledger_sum() {
	[ -f "$1" ] || { echo "0 0 0"; return; }
	awk '$4 == "ok" { n += $2; r++; if (!($6 in b)) { b[$6] = 1; nb++ } }
	     END { printf "%d %d %d\n", n, r, nb }' "$1"
}

# Each target once, before any runs: its artifacts (resume) or a fresh
# start, its corpus copy, and the executions each of its $2 runs takes
# ($work/$t.want; 0: nothing to run, its row is written).
prepare() {
	t=$1
	ledger=$work/$t.ledger
	rm -f "$work/$t".row "$work/$t".*.row "$work/$t.want"
	if [ "$resume" = 1 ]; then
		for a in "$work/$t"-crash-* "$work/$t"-leak-* "$work/$t"-timeout-* "$work/$t"-oom-*; do
			if [ -e "$a" ]; then
				echo "fuzz-long: $t: $a is still there: fix what it found, remove it, resume" >&2
				row "$t" - - - - - - FAIL "artifact"
				echo 0 > "$work/$t.want"
				return 1
			fi
		done
	else
		rm -rf "$work/$t" "$ledger" "$work/$t"-crash-* "$work/$t"-leak-* \
			"$work/$t"-timeout-* "$work/$t"-oom-*
	fi
	set -- $(ledger_sum "$ledger") "$2"
	want=$(( runs - $1 ))
	if [ "$want" -le 0 ]; then
		row "$t" "$1" - - - 0 - yes "$2 runs, $3 builds (done before)"
		echo 0 > "$work/$t.want"
		return 0
	fi
	mkdir -p "$work/$t"
	if [ -d "$top_srcdir/tests/fuzz/corpus/$t" ]; then
		cp "$top_srcdir/tests/fuzz/corpus/$t"/* "$work/$t"/ 2>/dev/null
	fi
	if ! "$T/make-seeds" "$t" "$work/$t"; then
		row "$t" "$1" - - - - - FAIL "make-seeds failed"
		echo 0 > "$work/$t.want"
		return 1
	fi
	echo $(( (want + $4 - 1) / $4 )) > "$work/$t.want"
}

# One run of target $1 (prepared): one line of figures in its row file.
# $2: the core to pin it to, if any; $3: which of the target's runs this
# is (0: the only or first one; its log and row are $t.log and $t.row).
one() {
	trap 'touch "$work/.stopped"' INT TERM
	t=$1
	pin=
	[ -n "${2:-}" ] && pin="taskset -c $2"
	sfx=
	[ "${3:-0}" -gt 0 ] && sfx=.$3
	ledger=$work/$t.ledger
	want=$(cat "$work/$t.want" 2>/dev/null || echo 0)
	[ "$want" -le 0 ] && return 0
	if [ -e "$work/.stopped" ]; then
		set -- $(ledger_sum "$ledger")
		row "$t$sfx" "$1" - - - 0 - no "$2 runs, $3 builds (not run: interrupted)"
		return 0
	fi
	start=$(date +%s)
	$pin "$T/fuzz-$t" -runs="$want" -max_total_time="$maxsecs" -timeout="${FUZZ_TIMEOUT:-60}" -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/$t-" "$work/$t" > "$work/$t$sfx.log" 2>&1
	rc=$?
	wall=$(( $(date +%s) - start ))
	cat "$work/$t$sfx.log" >> "$work/$t.logs"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t$sfx.log" | tail -n 1)
	# The line may quote an input's dictionary entry ("\377..."): printf,
	# not dash's echo, which would make those bytes; and bytes, not
	# characters, in case ('.' does not match them in a UTF-8 locale).
	last=$(LC_ALL=C grep -E '^#[0-9]+' "$work/$t$sfx.log" | tail -n 1)
	cov=$(printf "%s\n" "$last" | LC_ALL=C sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(printf "%s\n" "$last" | LC_ALL=C sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(printf "%s\n" "$last" | LC_ALL=C sed -n 's/.* corp: \([^ ]*\).*/\1/p')
	: "${execs:=0}"
	# 72: libFuzzer's exit on SIGINT - stopped by hand, every execution
	# before it was checked; it counts, and fails nothing.
	[ "$rc" = 72 ] && rc=0
	end=ok
	[ "$rc" = 0 ] || end=FAIL
	bin=$(sha1sum < "$T/fuzz-$t" | cut -c1-12)
	# One write in append mode: two runs of a target may end at once.
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $execs $wall $end $commit $bin" >> "$ledger"
	set -- $(ledger_sum "$ledger")
	total=$1
	reached=no
	[ "$total" -ge "$runs" ] && reached=yes
	if [ "$rc" != 0 ]; then
		reached=FAIL
		sed 's/^/# /' "$work/$t$sfx.log" | grep -v '^# #[0-9]' | tail -n 30 >&2
	fi
	row "$t$sfx" "$total" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$wall" \
		"$(( execs / (wall > 0 ? wall : 1) ))" "$reached" "$2 runs, $3 builds"
	[ "$rc" = 0 ]
}

# Ctrl-C, or SIGTERM to the process group (a shell started in the
# background ignores SIGINT for good), stops the running targets
# (libFuzzer exits 72 on either and they are counted) and starts no more;
# the table is still written.  one() sets the same trap: a subshell's are
# reset.
rm -f "$work/.stopped"
trap 'touch "$work/.stopped"' INT TERM
header=$(cols target execs cov ft corpus wall_s exec/s reached runs)
echo "fuzz-long: $runs runs per target, $jobs at once, work in $work$([ "$resume" = 1 ] && echo ", resumed")"
echo "$header"
# Wait for job $1; a trapped Ctrl-C interrupts wait itself (status > 128
# while the job still runs): wait again.
reap() {
	while :; do
		wait "$1"
		r=$?
		if [ "$r" -gt 128 ] && kill -0 "$1" 2>/dev/null; then
			continue
		fi
		return "$r"
	done
}

# A pool of $jobs: when it is full, the first job to end makes room (sh
# has no 'wait -n': look once a second; a job that ended and is not yet
# reaped is a zombie).  $running: the jobs, as PID:CORE (CORE "-" when
# not pinned).
running=
ended() {
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -z "$st" ] || [ "$st" = Z ]
}
fill() {
	while :; do
		n=0
		left=
		for j in $running; do
			if ended "${j%%:*}"; then
				reap "${j%%:*}" || fail=1
			else
				n=$((n + 1))
				left="$left $j"
			fi
		done
		running=$left
		[ "$n" -lt "$1" ] && return
		sleep 1
	done
}

# The cores this may run on, one per line ("0-3,6" expanded).
cores() {
	taskset -pc $$ 2>/dev/null | sed 's/.*: *//' | tr ',' '\n' |
		awk -F- 'NF == 2 { for (c = $1; c <= $2; c++) print c; next } NF { print }'
}
# A core no running job is pinned to.
free_core() {
	for c in $cpus; do
		case " $running " in
		*":$c "*) ;;
		*) echo "$c"; return ;;
		esac
	done
}

# The targets once each, in order, and how many runs each gets.
distinct=
for t in $targets; do
	case " $distinct " in
	*" $t "*) ;;
	*) distinct="$distinct $t" ;;
	esac
done
# How often $1 is in the list that follows.
count() {
	n=0
	w=$1
	shift
	for u in "$@"; do
		[ "$u" = "$w" ] && n=$((n + 1))
	done
	echo "$n"
}

fail=0
for t in $distinct; do
	prepare "$t" "$(count "$t" $targets)" || fail=1
done
# A run's number: how many of its target's runs started before it.
started=
if [ "$jobs" -gt 1 ]; then
	cpus=
	if [ "${FUZZ_LONG_PIN:-1}" = 1 ] && command -v taskset > /dev/null; then
		cpus=$(cores | tr '\n' ' ')
		[ "$jobs" -le "$(echo $cpus | wc -w)" ] || cpus=
	fi
	for t in $targets; do
		[ "$(cat "$work/$t.want")" -gt 0 ] || continue
		fill "$jobs"
		c=$(free_core)
		( one "$t" "$c" "$(count "$t" $started)" ) &
		running="$running $!:${c:--}"
		started="$started $t"
	done
	for j in $running; do
		reap "${j%%:*}" || fail=1
	done
else
	for t in $targets; do
		one "$t" "" "$(count "$t" $started)" || fail=1
		started="$started $t"
	done
fi
{
	echo "# make fuzz-long, $(date -u +%Y-%m-%dT%H:%MZ), FUZZ_LONG_RUNS=$runs, $(nproc) cores, commit $commit"
	echo "# execs: this run's, or with FUZZ_LONG_RESUME=1 the campaign's (ledgers in $work); wall_s and exec/s: this run's"
	echo "$header"
	for t in $distinct; do
		shown=0
		for f in "$work/$t.row" "$work/$t".*.row; do
			[ -e "$f" ] && cat "$f" && shown=1
		done
		[ "$shown" = 1 ] || echo "$t (no result)"
	done
} > "$out"
echo "fuzz-long: table in $out"
for a in "$work"/*-crash-* "$work"/*-leak-* "$work"/*-timeout-* "$work"/*-oom-*; do
	[ -e "$a" ] && echo "fuzz-long: artifact $a" && fail=1
done
exit $fail
