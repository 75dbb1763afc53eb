#!/bin/sh
# Fuzz smoke run: a short libFuzzer session of every decoder target, from
# seeds of valid traffic.  Any crash, leak or sanitizer report fails.
set -u
: "${top_builddir:=.}"
T=$top_builddir/tests/fuzz
secs=${HOSTRPC_FUZZ_SECONDS:-20}
if [ ! -x "$T/fuzz-conn" ]; then
	echo "1..0 # SKIP fuzz-conn not built (configure found no clang with -fsanitize=fuzzer; apt-get install clang)"
	exit 77
fi
echo "1..1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
"$T/make-seeds" "$work/corpus" || { echo "not ok 1 - cannot write seeds"; exit 1; }
if "$T/fuzz-conn" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 \
	-artifact_prefix="$work/" "$work/corpus" > "$work/log" 2>&1; then
	runs=$(grep -o 'Done [0-9]* runs' "$work/log" | tail -n 1)
	echo "ok 1 - fuzz-conn: no crash in ${secs}s ($runs)"
else
	sed 's/^/# /' "$work/log" | tail -n 40
	for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
		[ -e "$a" ] && echo "# artifact: $(od -An -tx1 "$a" | head -n 4)"
	done
	echo "not ok 1 - fuzz-conn found a problem"
	exit 1
fi
