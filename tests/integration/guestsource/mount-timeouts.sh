#!/bin/bash
# hostrpc-guestmount's cache timeouts against the real agent: with
# --cache=always (60 s) a name looked up as absent stays absent and a size
# stays stale after the guest's own change; --attr-timeout=0
# --entry-timeout=0 --negative-timeout=0 on top of it show the guest's
# changes at once; bad values are refused.
. "$(dirname "$0")/lib.sh"
need_fuse
[ -x "$agent" ] || skip_all "guestrpcd not built"
echo "1..5"

exp=$work/export
s=$exp/srv
mkdir -p "$s"
echo 1234 > "$s/f"
start_agent "$work/agent.sock" -r "$exp"

mount_guest "$work/agent.sock" /srv "$work/a" --cache=always
ok $? "mounted with --cache=always"
m=$work/a
stat "$m/new" > /dev/null 2>&1; stat -c %s "$m/f" > /dev/null
echo made > "$s/new"; echo 123456789 > "$s/f"
! stat "$m/new" > /dev/null 2>&1 && [ "$(stat -c %s "$m/f")" = 5 ]
ok $? "--cache=always: an absent name stays absent, a size stays stale (the kernel trusts them 60 s)"
fusermount3 -u "$m"

rm "$s/new"; echo 1234 > "$s/f"
mount_guest "$work/agent.sock" /srv "$work/b" --cache=always --attr-timeout=0 \
	--entry-timeout=0 --negative-timeout=0
m=$work/b
stat "$m/new" > /dev/null 2>&1; stat -c %s "$m/f" > /dev/null
echo made > "$s/new"; echo 123456789 > "$s/f"
stat "$m/new" > /dev/null 2>&1 && [ "$(stat -c %s "$m/f")" = 10 ]
ok $? "with the three timeouts 0: the guest's new file and new size show at once"
fusermount3 -u "$m"

"$gmount" --attr-timeout=-1 "$work/agent.sock" /srv "$work/c" 2> "$work/err"
[ $? = 2 ] && grep -q 'attr-timeout wants seconds' "$work/err"
ok $? "--attr-timeout=-1: refused ($(cat "$work/err"))"
"$gmount" --negative-timeout=1e9 "$work/agent.sock" /srv "$work/c" 2> "$work/err"
[ $? = 2 ] && grep -q 'negative-timeout wants seconds' "$work/err"
ok $? "--negative-timeout=1e9: refused"
exit $((failed > 0))
