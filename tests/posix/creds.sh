#!/bin/sh
# creds.sh MOUNT RUNAS - POSIX permission and ownership checks on a mounted
# filesystem, run as root with other users through RUNAS (tests/posix/runas
# or a wrapper with its arguments: UID GID GROUPS|- PROG ARGS...).  Plain
# POSIX sh and busybox applets, so the same checks run on the host against
# hostrpc-guestmount (guest-sourcing) and in a guest against hostrpcfs
# (filesystem outsourcing).  Everything goes through MOUNT: what is set up
# as root there, then what uid 4321 may and may not do.  One TAP line per
# check, numbered from CREDS_FIRST (default 1); CREDS_COUNT checks.
#
# Checks: another user's 0600 file unreadable, 0644 readable but not
# writable, no create in root's 0755 directory, what a user creates is
# theirs, the caller's umask, chmod and chown of what is not yours
# refused, chmod of your own allowed, a sticky directory, access(2) for
# the caller, a supplementary group's file, a setgid directory's group
# inherited, O_EXCL of an existing name, root still allowed everything.
CREDS_COUNT=16
m=$1
runas=$2
n=$((${CREDS_FIRST:-1} - 1))
ok() {	# ok STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
as() {	# as UID GROUPS CMD...
	u=$1 g=$2
	shift 2
	$runas "$u" "$u" "$g" "$@" 2> /tmp/creds-as.err
}
t=$m/creds.$$
rm -rf "$t"
mkdir -p "$t/pub" "$t/sticky" "$t/rootdir" "$t/sgid"
chmod 755 "$t" "$t/rootdir"
chmod 1777 "$t/sticky"
chmod 777 "$t/pub"
chown 0:555 "$t/sgid" && chmod 2777 "$t/sgid"
echo secret > "$t/private" && chmod 600 "$t/private"
echo public > "$t/public" && chmod 644 "$t/public"
echo group > "$t/group" && chown 0:555 "$t/group" && chmod 640 "$t/group"
echo mine > "$t/sticky/roots" && chmod 666 "$t/sticky/roots"

! as 4321 - cat "$t/private" > /dev/null
ok $? "uid 4321 cannot read root's 0600 file"
[ "$(as 4321 - cat "$t/public")" = public ]
ok $? "uid 4321 reads root's 0644 file"
! as 4321 - sh -c "echo x >> '$t/public'" && [ "$(cat "$t/public")" = public ]
ok $? "uid 4321 cannot write it"
! as 4321 - mkdir "$t/rootdir/x" && [ ! -e "$t/rootdir/x" ]
ok $? "uid 4321 cannot create in root's 0755 directory"
as 4321 - touch "$t/pub/made" && [ "$(stat -c %u:%g "$t/pub/made")" = 4321:4321 ]
ok $? "what uid 4321 creates is 4321:4321 ($(stat -c %u:%g "$t/pub/made" 2>&1))"
as 4321 - sh -c "umask 027; mkdir '$t/pub/dm' && echo x > '$t/pub/fm'" &&
	[ "$(stat -c %a "$t/pub/dm")" = 750 ] && [ "$(stat -c %a "$t/pub/fm")" = 640 ]
ok $? "the caller's umask 027: mkdir 750, file 640 ($(stat -c %a "$t/pub/dm" "$t/pub/fm" 2>&1 | tr '\n' ' '))"
! as 4321 - chmod 666 "$t/private" && [ "$(stat -c %a "$t/private")" = 600 ]
ok $? "uid 4321 cannot chmod root's file"
as 4321 - chmod 600 "$t/pub/made" && [ "$(stat -c %a "$t/pub/made")" = 600 ]
ok $? "uid 4321 can chmod its own file"
! as 4321 - chown 0 "$t/pub/made" && [ "$(stat -c %u "$t/pub/made")" = 4321 ]
ok $? "uid 4321 cannot give its file to root"
! as 4321 - rm -f "$t/sticky/roots" && [ -e "$t/sticky/roots" ]
ok $? "uid 4321 cannot remove root's file from a sticky directory"
! as 4321 - test -r "$t/private" && as 4321 - test -r "$t/public" &&
	! as 4321 - test -w "$t/public" && as 4321 - test -w "$t/pub" &&
	! as 4321 - test -w "$t/rootdir" && test -w "$t/private"
ok $? "access(2) for the caller: 0600 not readable, 0644 readable not writable, 0777 dir writable, 0755 dir not; root may write"
as 4321 555 cat "$t/group" > /dev/null && ! as 4321 - cat "$t/group" > /dev/null
ok $? "uid 4321 reads group 555's 0640 file only with the supplementary group"
as 4321 - touch "$t/sgid/f" && [ "$(stat -c %g "$t/sgid/f")" = 555 ]
ok $? "a file made in a setgid directory takes its group ($(stat -c %g "$t/sgid/f" 2>&1))"
as 4321 - sh -c "set -C; echo x > '$t/pub/made'" 2> /dev/null
[ $? != 0 ] && [ "$(stat -c %s "$t/pub/made")" = 0 ]
ok $? "O_EXCL (set -C) on an existing name fails and leaves it alone"
as 4321 - sh -c "echo x > '$t/pub/w' && chmod 400 '$t/pub/w'" && ! as 4321 - sh -c "echo y >> '$t/pub/w'"
ok $? "the owner cannot write its own 0400 file"
cat "$t/private" > /dev/null && chown 4321 "$t/private" && [ "$(stat -c %u "$t/private")" = 4321 ] &&
	rm -f "$t/sticky/roots" && [ ! -e "$t/sticky/roots" ]
ok $? "root reads, chowns and removes anything"
rm -rf "$t"
