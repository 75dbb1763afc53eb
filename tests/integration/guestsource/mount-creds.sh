#!/bin/bash
# hostrpc-guestmount -o allow_other against the real agent (a process guest
# run as root, serving a directory the test made), used by other users of
# the host (setpriv): every call runs as its caller in the agent (fsuid,
# fsgid, supplementary groups, umask), so the permissions are the export's
# own.  Reading another user's private file, writing without the right,
# chmod and chown of what is not yours, a sticky directory, a group's file
# through a supplementary group, the owner and mode of what a user creates
# (umask included), and root still allowed everything.  Then the id
# policies (--ids): a map (host 4321.. are the guest's 1000..; root, outside
# it, is 65534 there) and a squash (everyone is one user), in
# hostrpc-guestmount; and the agent's own (guestrpcd --ids: the guest says
# who the host's callers are).
. "$(dirname "$0")/lib.sh"
need_fuse
[ -x "$agent" ] || skip_all "guestrpcd not built"
[ "$(id -u)" = 0 ] || skip_all "needs root (the agent acts as other users; setpriv)"
command -v setpriv > /dev/null || skip_all "setpriv missing (util-linux)"
echo "1..23"

sock=$work/agent.sock
exp=$work/export
mnt=$work/mnt
s=$exp/srv m=$mnt
mkdir -p "$s/pub" "$s/sticky" "$s/rootdir"
chmod 755 "$exp" "$s" "$s/rootdir"
chmod 1777 "$s/sticky"
chmod 777 "$s/pub"
echo secret > "$s/private" && chmod 600 "$s/private"
echo public > "$s/public" && chmod 644 "$s/public"
echo group > "$s/group" && chown 0:555 "$s/group" && chmod 640 "$s/group"
echo mine > "$s/sticky/roots" && chmod 666 "$s/sticky/roots"
chmod 755 "$work"
start_agent "$sock" -r "$exp"
mount_guest "$sock" /srv "$mnt" -o allow_other
ok $? "mounted /srv of the process guest with -o allow_other"

# as UID [GROUPS] CMD...: run CMD as UID:UID with those supplementary groups
# (comma-separated, or "-" for none); its stderr in $work/as.err.
as() {
	local u=$1 g=$2
	shift 2
	if [ "$g" = - ]; then
		setpriv --reuid="$u" --regid="$u" --clear-groups "$@" 2> "$work/as.err"
	else
		setpriv --reuid="$u" --regid="$u" --groups="$g" "$@" 2> "$work/as.err"
	fi
}
denied() { grep -q "$1" "$work/as.err"; }

! as 4321 - cat "$m/private" > /dev/null && denied 'Permission denied'
ok $? "uid 4321 cannot read root's 0600 file ($(cat "$work/as.err"))"
[ "$(as 4321 - cat "$m/public")" = public ]
ok $? "uid 4321 reads root's 0644 file"
! as 4321 - sh -c "echo x >> '$m/public'" && denied 'Permission denied' &&
	[ "$(cat "$s/public")" = public ]
ok $? "uid 4321 cannot write it ($(cat "$work/as.err"))"
! as 4321 - mkdir "$m/rootdir/x" && denied 'Permission denied' && [ ! -e "$s/rootdir/x" ]
ok $? "uid 4321 cannot create in root's 0755 directory ($(cat "$work/as.err"))"
as 4321 - touch "$m/pub/made" && [ "$(stat -c %u:%g "$s/pub/made")" = 4321:4321 ]
ok $? "what uid 4321 creates is 4321's in the export ($(stat -c %u:%g "$s/pub/made" 2>&1))"
as 4321 - sh -c "umask 027; mkdir '$m/pub/dm' && echo x > '$m/pub/fm'" &&
	[ "$(stat -c %a "$s/pub/dm")" = 750 ] && [ "$(stat -c %a "$s/pub/fm")" = 640 ]
ok $? "the caller's umask 027: mkdir 750, file 640 ($(stat -c %a "$s/pub/dm" "$s/pub/fm" 2>&1 | tr '\n' ' '))"
! as 4321 - chmod 666 "$m/private" && denied 'Operation not permitted' &&
	[ "$(stat -c %a "$s/private")" = 600 ]
ok $? "uid 4321 cannot chmod root's file ($(cat "$work/as.err"))"
as 4321 - chmod 600 "$m/pub/made" && [ "$(stat -c %a "$s/pub/made")" = 600 ]
ok $? "uid 4321 can chmod its own file"
! as 4321 - chown 0 "$m/pub/made" && denied 'Operation not permitted' &&
	[ "$(stat -c %u "$s/pub/made")" = 4321 ]
ok $? "uid 4321 cannot give its file to root ($(cat "$work/as.err"))"
! as 4321 - rm -f "$m/sticky/roots" && denied 'Operation not permitted' && [ -e "$s/sticky/roots" ]
ok $? "uid 4321 cannot remove root's file from a sticky directory ($(cat "$work/as.err"))"
# access(2) (test -r/-w, chdir): the guest answers for the caller.
! as 4321 - test -r "$m/private" && as 4321 - test -r "$m/public" && ! as 4321 - test -w "$m/public" &&
	as 4321 - test -w "$m/pub" && ! as 4321 - test -w "$m/rootdir" && test -w "$m/private"
ok $? "access(2) as uid 4321: root's 0600 file not readable, 0644 readable not writable, its 0777 dir writable, root's 0755 dir not; root may write"
as 4321 555 test -r "$m/group" && ! as 4321 - test -r "$m/group"
ok $? "access(2) with and without the supplementary group"
[ "$(as 4321 555 cat "$m/group")" = group ]
ok $? "uid 4321 in supplementary group 555 reads the group's 0640 file"
! as 4321 - cat "$m/group" > /dev/null && denied 'Permission denied'
ok $? "without the group it cannot ($(cat "$work/as.err"))"
[ "$(cat "$m/private")" = secret ] && chown 4321:4321 "$m/private" &&
	[ "$(stat -c %u:%g "$s/private")" = 4321:4321 ] && rm "$m/sticky/roots"
ok $? "root still reads, chowns and removes anything"

fusermount3 -u "$mnt"

# --ids=map:4321:1000:10: host uid 4321 is the guest's 1000.
mnt2=$work/mnt2
mount_guest "$sock" /srv "$mnt2" -o allow_other --ids=map:4321:1000:10
as 4321 - touch "$mnt2/pub/mapped" && [ "$(stat -c %u:%g "$s/pub/mapped")" = 1000:1000 ] &&
	[ "$(stat -c %u:%g "$mnt2/pub/mapped")" = 4321:4321 ]
ok $? "map: host uid 4321 creates as the guest's 1000, sees its file as 4321's ($(stat -c %u:%g "$s/pub/mapped" "$mnt2/pub/mapped" 2>&1 | tr '\n' ' '))"
! cat "$mnt2/private" > /dev/null 2> "$work/as.err" && denied 'Permission denied' &&
	[ "$(stat -c %u "$mnt2/rootdir")" = 65534 ]
ok $? "map: host root, outside the map, is 65534 in the guest: cannot read a 0600 file; root's files show as 65534"
! as 4321 - chown 4000 "$mnt2/pub/mapped" && denied 'Invalid argument'
ok $? "map: chown to an id the map does not cover: EINVAL ($(cat "$work/as.err"))"
fusermount3 -u "$mnt2"

mount_guest "$sock" /srv "$mnt2" -o allow_other --ids=squash:2000:2001
touch "$mnt2/pub/squashed" && [ "$(stat -c %u:%g "$s/pub/squashed")" = 2000:2001 ] &&
	! cat "$mnt2/private" > /dev/null 2>&1
ok $? "squash:2000:2001: host root creates as 2000:2001 and cannot read a 0600 file"
fusermount3 -u "$mnt2"

# guestrpcd --ids=map:0:100000:65536: the host's root is the guest's 100000.
start_agent "$work/map.sock" -r "$exp" --ids=map:0:100000:65536
mount_guest "$work/map.sock" /srv "$mnt2" -o allow_other
touch "$mnt2/pub/agentmap" && [ "$(stat -c %u:%g "$s/pub/agentmap")" = 100000:100000 ] &&
	[ "$(stat -c %u:%g "$mnt2/pub/agentmap")" = 0:0 ] &&
	[ "$(stat -c %u "$mnt2/rootdir")" = 65534 ]
ok $? "agent map: host root creates as the guest's 100000 and sees it as its own; the guest's root files show as 65534"
! cat "$mnt2/group" > /dev/null 2>&1 && ! touch "$mnt2/rootdir/x" 2> /dev/null
ok $? "agent map: host root has no rights over the guest root's files"
! chown 70000 "$mnt2/pub/agentmap" 2> "$work/as.err" && denied 'Invalid argument' &&
	! chown 5 "$mnt2/pub/agentmap" 2> "$work/as.err" && denied 'Operation not permitted' &&
	[ "$(stat -c %u "$s/pub/agentmap")" = 100000 ]
ok $? "agent map: chown to an unmapped 70000: EINVAL; to 5: EPERM (the guest's 100000 is no root there)"
fusermount3 -u "$mnt2"
exit $((failed > 0))
