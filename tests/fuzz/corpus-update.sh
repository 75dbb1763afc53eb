#!/bin/sh
# tests/fuzz/corpus-update.sh [TARGET...] - grow and minimize the checked-in
# corpora (tests/fuzz/corpus/TARGET/): each target runs CORPUS_SECONDS
# (default 60) from its corpus, make-seeds' inputs and the inputs in
# CORPUS_EXTRA/TARGET/ if given (say a make fuzz-long work directory), then
# libFuzzer's -merge=1 keeps the smallest set with the same coverage in
# place of the old corpus.  Run from the build tree; commit the result.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
T=$top_builddir/tests/fuzz
secs=${CORPUS_SECONDS:-60}
targets=${*:-$(sed -n 's/^targets="\(.*\)"$/\1/p' "$top_srcdir/tests/fuzz/smoke.sh")}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in $targets; do
	c=$top_srcdir/tests/fuzz/corpus/$t
	mkdir -p "$c" "$work/$t" "$work/$t.min"
	cp "$c"/* "$work/$t"/ 2>/dev/null || true
	"$T/make-seeds" "$t" "$work/$t"
	if [ -n "${CORPUS_EXTRA:-}" ] && [ -d "$CORPUS_EXTRA/$t" ]; then
		cp "$CORPUS_EXTRA/$t"/* "$work/$t"/ 2>/dev/null || true
	fi
	if [ "$secs" -gt 0 ]; then
		"$T/fuzz-$t" -max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-60}" -rss_limit_mb=2048 \
			-artifact_prefix="$work/$t-" "$work/$t" > "$work/$t.log" 2>&1 || {
			tail -n 30 "$work/$t.log" >&2
			echo "corpus-update: fuzz-$t found a problem" >&2
			exit 1
		}
	fi
	"$T/fuzz-$t" -merge=1 -timeout="${FUZZ_TIMEOUT:-60}" -rss_limit_mb=2048 "$work/$t.min" "$work/$t" \
		> "$work/$t.merge.log" 2>&1
	rm -rf "$c"
	mkdir -p "$c"
	cp "$work/$t.min"/* "$c"/
	echo "corpus-update: $t: $(ls "$c" | wc -l) files, $(du -sk "$c" | cut -f1) KiB," \
		"$(grep -o 'cov: [0-9]*' "$work/$t.merge.log" | tail -n 1)"
done
