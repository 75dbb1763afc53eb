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
#   FUZZ_LONG_RUNS=N       executions per target (libFuzzer -runs)
#   FUZZ_LONG_TARGETS="a b" only these targets (default: smoke.sh's list)
#   FUZZ_LONG_JOBS=N       targets run at once (default 1; each is one
#                          process, so N cores)
#   FUZZ_LONG_MAX_SECONDS=S  stop a target after S seconds (default 0: no
#                          limit); a target stopped so reports "no" in
#                          the reached column and does not fail the run
#   FUZZ_LONG_WORK=DIR     keep the work (corpora, logs) there
#   FUZZ_TIMEOUT=S         one input running longer fails (default 60: on a
#                          loaded machine an inotify close alone took 50 s)
set -u
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
T=$top_builddir/tests/fuzz
runs=${FUZZ_LONG_RUNS:-10000000}
jobs=${FUZZ_LONG_JOBS:-1}
maxsecs=${FUZZ_LONG_MAX_SECONDS:-0}
out=${FUZZ_LONG_OUT:-$T/fuzz-long.txt}
targets=${FUZZ_LONG_TARGETS:-$(sed -n 's/^targets="\(.*\)"$/\1/p' "$top_srcdir/tests/fuzz/smoke.sh")}
for t in $targets; do
	if [ ! -x "$T/fuzz-$t" ]; then
		echo "fuzz-long: $T/fuzz-$t not built (configure found no clang with -fsanitize=fuzzer)" >&2
		exit 1
	fi
done
if [ -n "${FUZZ_LONG_WORK:-}" ]; then
	work=$FUZZ_LONG_WORK
	mkdir -p "$work"
else
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
fi

# One target: its corpus copy, the run, one line of figures in $work/$t.row.
one() {
	t=$1
	rm -rf "$work/$t" "$work/$t".row "$work/$t"-crash-* "$work/$t"-leak-* \
		"$work/$t"-timeout-* "$work/$t"-oom-*
	mkdir -p "$work/$t"
	if [ -d "$top_srcdir/tests/fuzz/corpus/$t" ]; then
		cp "$top_srcdir/tests/fuzz/corpus/$t"/* "$work/$t"/ 2>/dev/null
	fi
	"$T/make-seeds" "$t" "$work/$t" || return 1
	start=$(date +%s)
	"$T/fuzz-$t" -runs="$runs" -max_total_time="$maxsecs" -timeout="${FUZZ_TIMEOUT:-60}" -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/$t-" "$work/$t" > "$work/$t.log" 2>&1
	rc=$?
	wall=$(( $(date +%s) - start ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -n 1)
	last=$(grep -E '^#[0-9]+' "$work/$t.log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.* corp: \([^ ]*\).*/\1/p')
	: "${execs:=0}"
	reached=no
	[ "$execs" -ge "$runs" ] && reached=yes
	if [ "$rc" != 0 ]; then
		reached=FAIL
		sed 's/^/# /' "$work/$t.log" | grep -v '^# #[0-9]' | tail -n 30 >&2
	fi
	printf '%-10s %12s %6s %7s %12s %7s %8s %s\n' "$t" "$execs" "${cov:-?}" "${ft:-?}" \
		"${corp:-?}" "$wall" "$(( execs / (wall > 0 ? wall : 1) ))" "$reached" > "$work/$t.row"
	cat "$work/$t.row"
	[ "$rc" = 0 ]
}

header=$(printf '%-10s %12s %6s %7s %12s %7s %8s %s' target execs cov ft corpus wall_s exec/s reached)
echo "fuzz-long: $runs runs per target, $jobs at once, work in $work"
echo "$header"
fail=0
if [ "$jobs" -gt 1 ]; then
	for t in $targets; do
		# A simple pool: start up to $jobs, wait for the oldest.
		( one "$t" ) &
		set -- "$@" $!
		if [ $# -ge "$jobs" ]; then
			wait "$1" || fail=1
			shift
		fi
	done
	for p in "$@"; do
		wait "$p" || fail=1
	done
else
	for t in $targets; do
		one "$t" || fail=1
	done
fi
{
	echo "# make fuzz-long, $(date -u +%Y-%m-%dT%H:%MZ), FUZZ_LONG_RUNS=$runs, $(nproc) cores"
	echo "$header"
	for t in $targets; do
		cat "$work/$t.row" 2>/dev/null || echo "$t (no result)"
	done
} > "$out"
echo "fuzz-long: table in $out"
for a in "$work"/*-crash-* "$work"/*-leak-* "$work"/*-timeout-* "$work"/*-oom-*; do
	[ -e "$a" ] && echo "fuzz-long: artifact $a" && fail=1
done
exit $fail
