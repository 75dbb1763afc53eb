#!/bin/bash
# hostrpc-guestmount against the real agent (guestrpcd --listen, a process
# guest serving a directory the test made): create, read, write, rename,
# delete, mkdir, chmod, chown, truncate, utimens, symlink, hard link,
# xattrs, statfs; a 64 MiB file copied in and out with checksums; a tree
# untarred and compared; 8 concurrent readers; a read-only mount; a guest
# path outside the agent's export root refused; the agent killed while
# mounted -> ENOTCONN, and the mount unmounts cleanly.
. "$(dirname "$0")/lib.sh"
need_fuse
[ -x "$agent" ] || skip_all "guestrpcd not built"
echo "1..27"

sock=$work/agent.sock
exp=$work/export
mnt=$work/mnt
mkdir -p "$exp/srv" "$exp/outside"
echo secret > "$exp/outside/secret"
ln -s /etc "$exp/srv/etc-link"
start_agent "$sock" -r "$exp"
mount_guest "$sock" /srv "$mnt"
ok $? "mounted /srv of the process guest"
m=$mnt s=$exp/srv

echo hello > "$m/f" && [ "$(cat "$s/f")" = hello ] && [ "$(cat "$m/f")" = hello ]
ok $? "create + write + read"
echo more >> "$m/f" && [ "$(cat "$s/f")" = "$(printf 'hello\nmore')" ]
ok $? "append"
mv "$m/f" "$m/g" && [ -f "$s/g" ] && [ ! -e "$s/f" ]
ok $? "rename"
mkdir "$m/d" && mkdir "$m/d/e" && [ -d "$s/d/e" ]
ok $? "mkdir"
chmod 640 "$m/g" && [ "$(stat -c %a "$s/g")" = 640 ] && [ "$(stat -c %a "$m/g")" = 640 ]
ok $? "chmod"
chown 123:456 "$m/g" && [ "$(stat -c %u:%g "$s/g")" = 123:456 ]
ok $? "chown"
truncate -s 3 "$m/g" && [ "$(cat "$s/g")" = hel ]
ok $? "truncate"
touch -d '2001-02-03 04:05:06' "$m/g" && [ "$(stat -c %Y "$s/g")" = "$(date -d '2001-02-03 04:05:06' +%s)" ]
ok $? "utimens"
ln -s g "$m/sym" && [ "$(readlink "$s/sym")" = g ] && [ "$(cat "$m/sym")" = hel ]
ok $? "symlink + readlink + follow"
ln "$m/g" "$m/hard" && [ "$(stat -c %h "$m/g")" = 2 ] && [ "$(stat -c %i "$s/g")" = "$(stat -c %i "$s/hard")" ]
ok $? "hard link"
rc=0
if command -v setfattr >/dev/null; then
	setfattr -n user.hrpc -v v1 "$m/g" && [ "$(getfattr --only-values -n user.hrpc "$s/g")" = v1 ] || rc=1
fi
ok $rc "xattrs (setfattr/getfattr)"
rm "$m/hard" "$m/sym" && rmdir "$m/d/e" && rm -r "$m/d" && [ ! -e "$s/d" ] && [ ! -e "$s/sym" ]
ok $? "unlink + rmdir"
df "$m" > /dev/null
ok $? "statfs"
echo a > "$m/x1"; echo b > "$m/x2"
python3 - "$m/x1" "$m/x2" <<'PY'
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def renameat2(a, b, flags):
    r = libc.syscall(316, -100, a.encode(), -100, b.encode(), flags)
    return 0 if r == 0 else ctypes.get_errno()
assert renameat2(sys.argv[1], sys.argv[2], 1) == errno.EEXIST      # RENAME_NOREPLACE
assert renameat2(sys.argv[1], sys.argv[2], 2) == 0                 # RENAME_EXCHANGE
assert open(sys.argv[1]).read() == "b\n" and open(sys.argv[2]).read() == "a\n"
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b"c\n"); os.fsync(fd); os.fdatasync(fd); os.close(fd)
PY
ok $([ $? = 0 ] && [ "$(cat "$s/x1")" = "$(printf 'b\nc')" ]; echo $?) "rename with NOREPLACE (EEXIST) and EXCHANGE; fsync, fdatasync"
printf 'old contents, long enough' > "$m/pr"
python3 - "$m/pr" <<'PY'
import os, sys
f = sys.argv[1]
r = os.open(f, os.O_RDONLY)          # OPEN_READ brings the first bytes along
w = os.open(f, os.O_WRONLY)
os.pwrite(w, b"NEW", 4)              # ... now stale: must not be served
assert os.pread(r, 100, 0) == b"old NEWtents, long enough", os.pread(r, 100, 0)
os.close(w); os.close(r)
r = os.open(f, os.O_RDONLY)
assert os.read(r, 5) == b"old N" and os.read(r, 100) == b"EWtents, long enough"
os.close(r)
PY
ok $? "pre-read bytes of an open are never served after a write through the mount"
mkfifo "$m/fifo" && [ -p "$s/fifo" ] && [ -p "$m/fifo" ] && ! timeout 5 sh -c "echo x > '$m/fifo'" 2>/dev/null
ok $? "mknod of a FIFO works; opening it is refused (the agent never opens what could block)"
rm -f "$m/x1" "$m/x2" "$m/fifo"
# A symlink in the served tree is the guest's data, never followed by the agent.
[ -L "$m/etc-link" ] && [ "$(readlink "$m/etc-link")" = /etc ]
ok $? "a symlink to /etc is served as a symlink (the agent never follows it)"

head -c 67108864 /dev/urandom > "$work/big"
cp "$work/big" "$m/big" && cp "$m/big" "$work/big.back" && \
	[ "$(md5sum < "$work/big")" = "$(md5sum < "$s/big")" ] && \
	[ "$(md5sum < "$work/big")" = "$(md5sum < "$work/big.back")" ]
ok $? "64 MiB copied in and out, checksums equal"

mkdir -p "$work/tree"
for i in $(seq 1 20); do mkdir -p "$work/tree/d$i"; for j in $(seq 1 50); do echo "$i.$j" > "$work/tree/d$i/f$j"; done; done
tar -C "$work" -cf "$work/tree.tar" tree
tar -C "$m" -xf "$work/tree.tar" && diff -r "$work/tree" "$m/tree" && diff -r "$work/tree" "$s/tree"
ok $? "a 1000-file tree untarred through the mount and compared"
[ "$(find "$m/tree" | wc -l)" = 1021 ]
ok $? "find lists all of it"

readers=()
for i in 1 2 3 4 5 6 7 8; do md5sum < "$m/big" > "$work/sum$i" & readers+=($!); done
wait "${readers[@]}"
ok $([ "$(cat "$work"/sum* | sort -u | wc -l)" = 1 ] && [ "$(cat "$work/sum1")" = "$(md5sum < "$work/big")" ]; echo $?) \
	"8 concurrent readers of the 64 MiB file agree"

fusermount3 -u "$mnt"
ok $? "unmount"

# A second tool on the same agent: read-only mount.
mount_guest "$sock" /srv "$mnt" --ro
( echo x > "$mnt/nope" ) 2>/dev/null
ok $([ $? != 0 ] && [ ! -e "$s/nope" ] && [ "$(cat "$mnt/g")" = hel ]; echo $?) "read-only mount: reads work, writes refused"
fusermount3 -u "$mnt"

mkdir -p "$work/mnt2"
"$gmount" -f "$sock" /../outside/../../ "$work/mnt2" 2>"$work/esc.log" &
p=$!
pids+=("$p")
wait_for 5 eval "grep -q ' $work/mnt2 fuse' /proc/mounts || ! kill -0 $p 2>/dev/null"
if grep -q " $work/mnt2 fuse" /proc/mounts; then
	# ".." at the export root stays there: the tree is the export root.
	[ ! -e "$work/mnt2/etc/passwd" ] && [ -d "$work/mnt2/srv" ]
	rc=$?
	fusermount3 -u "$work/mnt2"
else
	rc=0
fi
ok $rc "'..' cannot climb out of the agent's export root"

mount_guest "$sock" /srv "$mnt"
kill -KILL "$agent_pid"
start=$(date +%s)
cat "$mnt/g" > "$work/out" 2>&1
rc=$?
ok $([ $rc != 0 ] && grep -q "not connected" "$work/out" && [ $(( $(date +%s) - start )) -lt 5 ]; echo $?) \
	"agent killed while mounted: ENOTCONN at once ($(head -c 80 "$work/out"))"
fusermount3 -u "$mnt"
ok $? "unmount after the guest died"
[ $failed = 0 ]
