#!/bin/sh
# hostrpcctl-shows-guests - hostrpcctl lists the guests of a running hostrpcd
# and their per-channel counters, as aligned columns and as valid JSON
# (checked with python3's json module), finds a guest by name or id, and
# fails cleanly for one that does not exist.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/lib.sh"   # wait_for, watchdog_start
hostrpcd=$top_builddir/hostrpc/daemon/hostrpcd
hostrpcctl=$top_builddir/hostrpc/daemon/hostrpcctl
guest=$top_builddir/tests/integration/itest-guest

command -v python3 >/dev/null 2>&1 || {
	echo "1..0 # SKIP python3 missing (apt-get install python3)"; exit 77; }

dir=$(mktemp -d /tmp/hostrpc-itest.XXXXXX)
daemon=
guests=
cleanup() {
	for p in $guests; do kill "$p" 2>/dev/null; done
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null
	kill "$watchdog" 2>/dev/null
	wait 2>/dev/null
	[ -n "${ITEST_KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
watchdog_start 120

n=0
ok() {	# ok COND-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}
failed=0
ctl() { timeout 10 "$hostrpcctl" --admin-socket "$dir/admin.sock" "$@"; }
py() { python3 -c "$@"; }
# check DESCRIPTION PYTHON FILE: run a python check, its complaints as diagnostics
check() {
	py "$2" "$3" > "$dir/py.out" 2>&1
	st=$?
	sed 's/^/# /' "$dir/py.out"
	ok $st "$1"
}

echo "1..14"
"$hostrpcd" --config /dev/null --foreground --verbose --socket "$dir/guests.sock" --admin-socket "$dir/admin.sock" \
	--state-dir "$dir/state" > "$dir/hostrpcd.log" 2>&1 &
daemon=$!
wait_for 10 ctl info > /dev/null 2>&1
ok $? "hostrpcd answers hostrpcctl info"

"$guest" "$dir/guests.sock" alpha 50 > "$dir/alpha.out" 2>&1 &
guests="$guests $!"
"$guest" "$dir/guests.sock" beta 7 > "$dir/beta.out" 2>&1 &
guests="$guests $!"
wait_for 10 grep -qs ready "$dir/alpha.out" &&
	wait_for 10 grep -qs ready "$dir/beta.out"
ok $? "two process guests connected and made their calls"
alpha_id=$(sed -n 's/^ready //p' "$dir/alpha.out")

ctl list > "$dir/list.txt"
st=$?
sed 's/^/# /' "$dir/list.txt"
[ $st = 0 ] && head -n 1 "$dir/list.txt" | grep -q '^ID  *NAME  *TRANSPORT  *STATE  *WORKER' &&
	grep -Eq '^[0-9]+ +alpha +memfd +negotiated +[0-9]+ ' "$dir/list.txt" &&
	grep -Eq '^[0-9]+ +beta +memfd +negotiated +[0-9]+ ' "$dir/list.txt"
ok $? "list: a header and one aligned row per guest"
check "list: every column starts where its header does" 'import sys
rows = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
starts = [i for i, c in enumerate(rows[0]) if c != " " and (i == 0 or rows[0][i-1] == " ")]
for r in rows[1:]:
    for s in starts:
        assert s == 0 or r[s-1] == " ", (r, s)
' "$dir/list.txt"

ctl --json list > "$dir/list.json"
check "list --json: valid JSON naming both guests, their transport, state and live workers" 'import json, sys, os
d = json.load(open(sys.argv[1]))
g = sorted(d["guests"], key=lambda x: x["name"])
assert [x["name"] for x in g] == ["alpha", "beta"], g
for x in g:
    assert x["transport"] == "memfd" and x["state"] == "negotiated", x
    assert x["worker_pid"] > 0 and x["peer_pid"] > 0 and x["id"] > 0, x
    os.kill(x["worker_pid"], 0)
' "$dir/list.json"

check_alpha='import json, sys
d = json.load(sys.stdin)
ch = d["channels"]
assert len(ch) == 1 and ch[0]["name"] == "alpha", ch
s = ch[0]["stats"]
assert s["calls"] == 51 and s["replies"] == 51 and s["errors"] == 0, s
assert s["bytes_in"] > 0 and s["bytes_out"] > 0, s
assert ch[0]["state"] == "negotiated" and ch[0]["generation"] == 1, ch
assert ch[0]["peer"] == "alpha" and ch[0]["fence_reason"] == "", ch
'
# the counters are published when a worker goes idle
wait_for 5 sh -c "timeout 10 '$hostrpcctl' --admin-socket '$dir/admin.sock' --json stats alpha > '$dir/alpha.json' && python3 -c '$check_alpha' < '$dir/alpha.json'" > /dev/null 2>&1
check "stats alpha --json: HELLO + 50 calls counted, no errors" "$check_alpha" /dev/null < "$dir/alpha.json"

ctl --json stats "$alpha_id" | py 'import json,sys; d=json.load(sys.stdin); assert [c["name"] for c in d["channels"]] == ["alpha"], d'
ok $? "stats $alpha_id --json: the same guest found by id"

ctl stats alpha > "$dir/stats.txt"
st=$?
sed 's/^/# /' "$dir/stats.txt"
[ $st = 0 ] && grep -Eq '^guest [0-9]+ \(alpha\): memfd, negotiated' "$dir/stats.txt" &&
	grep -Eq '^  calls +51$' "$dir/stats.txt" && grep -Eq '^  errors +0$' "$dir/stats.txt"
ok $? "stats alpha: every counter, one per line"

ctl channels > "$dir/channels.txt"
st=$?
sed 's/^/# /' "$dir/channels.txt"
[ $st = 0 ] && [ "$(wc -l < "$dir/channels.txt")" = 3 ] &&
	grep -Eq '^[0-9]+ +beta +memfd +negotiated +1 +8 +8 ' "$dir/channels.txt"
ok $? "channels: one row of counters per channel (beta: HELLO + 7 calls)"

ctl --json channels | py 'import json,sys; d=json.load(sys.stdin); assert len(d["channels"]) == 2, d'
ok $? "channels --json: valid JSON, two channels"

ctl --json info | py 'import json,sys,os; d=json.load(sys.stdin); assert d["guests"] == 2 and d["pid"] == int(sys.argv[1]) and d["daemon"].startswith("hostrpcd"), d' "$daemon"
ok $? "info --json: the daemon's pid and two guests"

ctl stats nosuch > /dev/null 2> "$dir/err.txt"
st=$?
sed 's/^/# /' "$dir/err.txt"
[ $st = 1 ] && grep -q 'no guest nosuch' "$dir/err.txt"
ok $? "stats of an unknown guest fails with a message (exit $st)"

timeout 10 "$hostrpcctl" --admin-socket "$dir/nothing-here.sock" list > /dev/null 2> "$dir/err.txt"
st=$?
sed 's/^/# /' "$dir/err.txt"
[ $st = 1 ] && grep -q 'cannot connect' "$dir/err.txt"
ok $? "no daemon: a clear error and exit status 1"

for p in $guests; do kill "$p"; done
wait $guests 2>/dev/null
guests=
wait_for 5 sh -c "timeout 10 '$hostrpcctl' --admin-socket '$dir/admin.sock' --json list | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"guests\"] == []'" > /dev/null 2>&1
ok $? "list --json is empty once the guests are gone"

[ "$failed" = 0 ] || sed 's/^/# /' "$dir/hostrpcd.log"
exit $failed
