#!/bin/bash
# A mount that cannot be turned against the host.  The label of a mount
# (DOMAIN or SOCKET, and GUEST_PATH) is text the caller - or whoever named
# the domain or the socket - chooses; before the fix it was pasted into
# libfuse's -o string, so ",suid,dev,allow_other,fsname=x" in it became
# mount options, and an unprivileged host user ran a setuid-root program the
# guest served and got euid 0.  Checked here, against a fake guest that
# serves a setuid-root copy of id(1), a setgid file and a device node
# (char 1:3, the host's /dev/null):
#  - a socket path or GUEST_PATH with ",suid,dev,allow_other,fsname=x":
#    the mount is still nosuid,nodev, without allow_other, and its fsname
#    is the whole label;
#  - setuid/setgid bits and file capabilities (security.capability) are
#    not reported, device nodes are 0:0 and cannot be opened, and user
#    nobody gets no euid 0 from the setuid program - not even when the
#    operator asks for allow_other;
#  - -o suid / -o dev are refused; --allow-suid / --allow-dev give them.
# Needs root: root's mounts are made with mount(2) by libfuse itself, and
# that is where the options came through (for a user, fusermount3 forces
# nosuid,nodev).
. "$(dirname "$0")/lib.sh"
need_fuse
[ -x "$fake" ] || skip_all "fake-guest not built"
[ "$(id -u)" = 0 ] || skip_all "needs root (the hole is in mounts made by root)"
command -v setpriv >/dev/null || skip_all "setpriv missing (util-linux)"
command -v getfattr >/dev/null || skip_all "getfattr missing (apt-get install attr)"
idbin=$(command -v id)
nobody=$(id -u nobody 2>/dev/null) || skip_all "no user nobody"
echo "1..22"

evil=",suid,dev,allow_other,fsname=x"
sock="$work/g$evil.sock"
mnt=$work/mnt
FAKE_GUEST_EXE=$idbin "$fake" "$sock" 2>"$work/fake.log" &
pids+=($!)
wait_for 5 eval "[ -S '$sock' ]"

# mountinfo MOUNTPOINT: "MOUNT_OPTIONS SOURCE SUPER_OPTIONS" of that mount.
mountinfo() {
	awk -v m="$1" '$5 == m { for (i = 7; $i != "-"; i++); print $6, $(i + 2), $(i + 3) }' \
		/proc/self/mountinfo
}
has_opt() { case ",$1," in *",$2,"*) return 0;; esac; return 1; }
unmount() {
	fusermount3 -u "$mnt"
	wait_for 10 eval "! kill -0 $mount_pid 2>/dev/null"
}
as_nobody() { setpriv --reuid="$nobody" --regid="$nobody" --clear-groups "$@"; }

mount_guest "$sock" / "$mnt" --cache=none --timeout=5
ok $? "mounted through a socket whose path has '$evil' in it"
read -r mopts src sopts <<< "$(mountinfo "$mnt")"
ok $(has_opt "$mopts" nosuid && has_opt "$mopts" nodev; echo $?) "still nosuid,nodev ($mopts)"
ok $(! has_opt "$sopts" allow_other; echo $?) "no allow_other ($sopts)"
ok $([ "$src" = "hostrpc:$sock:/" ]; echo $?) "the fsname is the whole label ($src)"
ok $([ "$(stat -c %a "$mnt/suidbin")" = 755 ]; echo $?) \
	"a setuid-root file is shown without S_ISUID ($(stat -c %A "$mnt/suidbin"))"
ok $([ "$(stat -c %a "$mnt/sgid")" = 755 ]; echo $?) \
	"a setgid file is shown without S_ISGID ($(stat -c %A "$mnt/sgid"))"
ok $([ "$(stat -c %t:%T "$mnt/devnode")" = 0:0 ]; echo $?) \
	"a device node names no host device (char $(stat -c %t:%T "$mnt/devnode"))"
echo x 2>"$work/err" > "$mnt/devnode"
ok $([ $? != 0 ]; echo $?) "a device node cannot be opened ($(head -c 80 "$work/err"))"
out=$(as_nobody "$mnt/suidbin" -u 2>&1)
ok $([ "$out" != 0 ]; echo $?) "user nobody gets no euid 0 from the setuid program ($(echo $out | head -c 80))"
getfattr -n security.capability "$mnt/suidbin" > "$work/out" 2>&1
ok $([ $? != 0 ] && grep -q "No such attribute" "$work/out"; echo $?) \
	"its file capability (cap_setuid+ep) is not shown ($(tail -1 "$work/out" | head -c 80))"
getfattr -d -m - "$mnt/suidbin" > "$work/out" 2>&1
ok $(grep -q user.ok "$work/out" && ! grep -q security.capability "$work/out"; echo $?) \
	"nor listed; the harmless user.ok is ($(grep = "$work/out" | tr '\n' ' '))"
unmount

mount_guest "$sock" "/x$evil" "$mnt" --cache=none --timeout=5
read -r mopts src sopts <<< "$(mountinfo "$mnt")"
ok $(has_opt "$mopts" nosuid && has_opt "$mopts" nodev && ! has_opt "$sopts" allow_other &&
     [ "$src" = "hostrpc:$sock:/x$evil" ]; echo $?) \
	"the same in GUEST_PATH: options unchanged ($mopts $sopts), fsname $src"
unmount

# The operator may share the mount with other users; it stays nosuid.
mount_guest "$sock" / "$mnt" --cache=none --timeout=5 -o allow_other
out=$(as_nobody "$mnt/suidbin" -u 2>&1)
ok $([ "$out" = "$nobody" ]; echo $?) "-o allow_other: nobody runs the program, as nobody (euid $out)"
read -r mopts src sopts <<< "$(mountinfo "$mnt")"
ok $(has_opt "$mopts" nosuid && has_opt "$mopts" nodev; echo $?) "-o allow_other: still nosuid,nodev ($mopts)"
unmount

# (Bounded: a tool that accepts the option stays mounted in the foreground.)
timeout 5 "$gmount" -f -o suid "$sock" / "$mnt" > "$work/out" 2>&1
rc=$?
fusermount3 -u -z "$mnt" 2>/dev/null
ok $([ $rc = 2 ] && grep -q -- --allow-suid "$work/out" && ! is_mounted "$mnt"; echo $?) \
	"-o suid is refused (rc $rc: $(head -c 100 "$work/out"))"
timeout 5 "$gmount" -f -o "allow_other,dev" "$sock" / "$mnt" > "$work/out" 2>&1
rc=$?
fusermount3 -u -z "$mnt" 2>/dev/null
ok $([ $rc = 2 ] && grep -q -- --allow-dev "$work/out" && ! is_mounted "$mnt"; echo $?) \
	"-o dev is refused (rc $rc: $(head -c 100 "$work/out"))"
"$gmount" -f -o 'fsname=a\,suid' "$sock" / "$mnt" > "$work/out" 2>&1 &
mount_pid=$!
pids+=($mount_pid)
mnts+=("$mnt")
wait_for 5 eval "is_mounted '$mnt'"
read -r mopts src sopts <<< "$(mountinfo "$mnt")"
ok $(has_opt "$mopts" nosuid && [ "$src" = "a,suid" ]; echo $?) \
	"an escaped ',' in the operator's -o stays in its value ($src, $mopts)"
unmount

mount_guest "$sock" / "$mnt" --cache=none --timeout=5 --allow-suid --allow-dev
ok $? "--allow-suid --allow-dev: mounted"
read -r mopts src sopts <<< "$(mountinfo "$mnt")"
ok $([ -n "$mopts" ] && ! has_opt "$mopts" nosuid && ! has_opt "$mopts" nodev; echo $?) \
	"--allow-suid --allow-dev: the operator's choice, suid and dev ($mopts)"
ok $([ "$(stat -c %a "$mnt/suidbin")" = 4755 ]; echo $?) \
	"--allow-suid: the setuid bit is shown ($(stat -c %A "$mnt/suidbin"))"
ok $([ "$(stat -c %t:%T "$mnt/devnode")" = 1:3 ]; echo $?) \
	"--allow-dev: the device number is shown ($(stat -c %t:%T "$mnt/devnode"))"
getfattr -n security.capability "$mnt/suidbin" > "$work/out" 2>&1
ok $? "--allow-suid: the file capability is shown"
unmount
[ $failed = 0 ]
