#!/bin/bash
# What the filesystem server refuses unless the export allows it
# (fs-server/server.h, FSS_ALLOW_*), through hostrpc-guestmount against the
# real agent run with --restrict, as root: setuid and file-setgid modes
# (chmod, create, mknod), device nodes, and the security.* / trusted.*
# xattrs (file capabilities: refused to set, hidden from listings and
# reads).  The same calls on an agent without --restrict go through, so
# the refusals are the server's.
. "$(dirname "$0")/lib.sh"
need_fuse
[ -x "$agent" ] || skip_all "guestrpcd not built"
[ "$(id -u)" = 0 ] || skip_all "needs root (mknod, trusted.* xattrs)"
command -v python3 > /dev/null || skip_all "python3 missing"
echo "1..10"

exp=$work/export
s=$exp/srv
mkdir -p "$s/d"
echo x > "$s/f"
# xattrs the export already has: a file capability and a trusted.* note.
python3 - "$s/f" <<'PY'
import os, sys
os.setxattr(sys.argv[1], "security.capability",
            bytes.fromhex("0100000200200000000000000000000000000000"))
os.setxattr(sys.argv[1], "trusted.note", b"t")
os.setxattr(sys.argv[1], "user.note", b"u")
PY
# xattr OP PATH [NAME [VALUE]]: python's view of one xattr call, "ok" or
# the errno name (VALUE hex:... for bytes).
xattr() {
	python3 - "$@" <<'PY'
import errno, os, sys
op, path = sys.argv[1], sys.argv[2]
try:
    if op == "list":
        print(" ".join(sorted(os.listxattr(path))))
    elif op == "get":
        os.getxattr(path, sys.argv[3]); print("ok")
    elif op == "set":
        v = sys.argv[4]
        os.setxattr(path, sys.argv[3], bytes.fromhex(v[4:]) if v.startswith("hex:") else v.encode())
        print("ok")
    elif op == "remove":
        os.removexattr(path, sys.argv[3]); print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}

start_agent "$work/r.sock" -r "$exp" --restrict
mount_guest "$work/r.sock" /srv "$work/r"
ok $? "mounted /srv of an agent run with --restrict"
m=$work/r

! chmod u+s "$m/f" 2> /dev/null && ! chmod g+s "$m/f" 2> /dev/null &&
	[ "$(stat -c %a "$s/f")" = 644 ] && chmod g+s "$m/d" && [ "$(stat -c %a "$s/d")" = 2755 ]
ok $? "chmod u+s and g+s of a file: refused (mode $(stat -c %a "$s/f")); g+s of a directory: allowed"
! python3 -c "import os; os.close(os.open('$m/suid', os.O_CREAT | os.O_WRONLY, 0o4755))" 2> /dev/null &&
	[ ! -e "$s/suid" ]
ok $? "creating a setuid file: refused"
! mknod "$m/null" c 1 3 2> /dev/null && [ ! -e "$s/null" ] && mkfifo "$m/fifo" && [ -p "$s/fifo" ]
ok $? "mknod of a character device: refused; a FIFO: allowed"
cap=hex:0100000200200000000000000000000000000000   # cap_net_raw, valid: the host kernel passes it on
[ "$(xattr set "$m/f" security.capability $cap)" = EPERM ] &&
	[ "$(xattr set "$m/f" trusted.x y)" = EPERM ] &&
	[ "$(xattr remove "$m/f" security.capability)" = EPERM ] &&
	[ "$(xattr set "$m/f" user.x y)" = ok ]
ok $? "security.* and trusted.* xattrs: EPERM to set or remove; user.* works ($(xattr set "$m/f" security.capability $cap) $(xattr set "$m/f" trusted.x y) $(xattr remove "$m/f" security.capability) $(xattr set "$m/f" user.x y))"
l=$(xattr list "$m/f")
[ "$l" = "user.note user.x" ] && [ "$(xattr get "$m/f" security.capability)" = ENODATA ] &&
	[ "$(xattr get "$m/f" user.note)" = ok ]
ok $? "the file's capability and trusted note are hidden ($l), reading one: ENODATA"
[ "$(python3 -c "import os; print(' '.join(sorted(os.listxattr('$s/f'))))")" = \
	"security.capability trusted.note user.note user.x" ]
ok $? "and still there in the export"
fusermount3 -u "$m"

# The same agent without --restrict: the host may (it is root over the guest).
start_agent "$work/a.sock" -r "$exp"
# (--allow-suid: hostrpc-guestmount itself hides file capabilities without it.)
mount_guest "$work/a.sock" /srv "$work/a" --allow-suid
ok $? "mounted the same tree from an agent without --restrict (--allow-suid)"
m=$work/a
l=$(xattr list "$m/f")
[ "$l" = "security.capability trusted.note user.note user.x" ]
ok $? "there every xattr is listed ($l)"
chmod u+s "$m/f" && [ "$(stat -c %a "$s/f")" = 4644 ] && mknod "$m/null" c 1 3 && [ -c "$s/null" ]
ok $? "and chmod u+s and mknod c work"
fusermount3 -u "$m"
exit $((failed > 0))
