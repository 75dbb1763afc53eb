#!/usr/bin/env bash
# VM test: host files in guest processes (issue 15 item 3).  A guest process
# maps a file of a host export MAP_SHARED from a hostrpcfs mount
# (drivers-frontend/fs, served by the guest's hostrpcd worker, outsource/fs)
# and the host writes the same file with plain write(2).  Copy-based and
# coherent: the guest's pages are its page cache, msync writes them to the
# host (WRITE), a host write reaches the guest as an INVAL event that
# writes back the guest's dirty pages and drops (unmaps) the rest, so the
# next access refaults with the host's bytes.  (Zero-copy mapping is not
# done: hostrpcd has no QMP connection to the guest's QEMU to hot-plug a
# file-backed memory backend; drivers-frontend/fs/README.md.)
#
#   guest (tests/vm/mem/guest/hostfile-map.c)    host (hook script, vm-run -e)
#   map /tmp/m/hostfile.bin (4 MiB), touch all
#   (a) "guest-0" page at 1 MiB, msync  ------>  the file has it at once
#   (b) poll the mapping at 2 MiB      <------  pwrite "host-0" at 2 MiB
#   (c) rounds 1..5: "guest-k" at 1 MiB (msync; the last round leaves it
#       dirty, unsynced), poll for      <------  check "guest-k", pwrite
#       "host-k" at 2 MiB                        "host-k" at 2 MiB
#       the last round's unsynced page survives the host's INVAL; msync
#                                       ------>  both pages, the rest intact
#   (d) no kernel warning
# The mount trusts attributes for 60 s: only the INVAL event can make the
# host's writes show within the 15 s the guest polls.
# Exit 77 (with the reason) when a prerequisite is missing.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
vm_prepare
# make -j: its checks have deadlines (tests/lib.sh)
vm_load_lock shared
[ "$vm_server_is_hostrpcd" = 1 ] || vm_skip "the fs service needs hostrpcd's ivshmem mode"
"$top_builddir/hostrpc/daemon/hostrpcd" --help 2>&1 | grep -q -- '--fs-policy-dir' ||
	vm_skip "hostrpcd has no --fs-policy-dir (no outsource/fs)"
[ -f "$HOSTRPC_GUEST_DIR/modules/hostrpcfs.ko" ] ||
	vm_skip "no hostrpcfs.ko in the guest image (tools/guest-image builds drivers-frontend/fs)"
command -v python3 > /dev/null || vm_skip "python3 missing (apt-get install python3)"
${CC:-gcc} -static -O2 -I "$top_srcdir/include" -o "$vm_tmp/hostfile-map" \
	"$top_srcdir/tests/vm/mem/guest/hostfile-map.c" 2> "$vm_tmp/cc.log" ||
	{ cat "$vm_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (apt-get install libc6-dev)"; }

rounds=5
exp=$vm_tmp/exp
log=$vm_tmp
mkdir -p "$exp" "$vm_tmp/conf"
chmod 755 "$vm_tmp" "$exp"
printf 'export e %s ids=passthrough\n' "$exp" > "$vm_tmp/conf/default.conf"
head -c $((4 << 20)) /dev/urandom > "$exp/hostfile.bin"
cp "$exp/hostfile.bin" "$vm_tmp/orig.bin"

# hf.py put|check|rest FILE OFF TAG: a page of "TAG|" repeated (as
# hostfile-map.c builds it) written with pwrite, or compared; rest: the
# file is orig.bin but for the two pages.
cat > "$vm_tmp/hf.py" <<'PY'
import os, sys
op, path, off, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
unit = (tag + "|").encode()
page = (unit * (4096 // len(unit) + 1))[:4096]
if op == "put":
    fd = os.open(path, os.O_WRONLY)
    os.pwrite(fd, page, off)
    os.close(fd)
    print("wrote")
elif op == "check":
    fd = os.open(path, os.O_RDONLY)
    got = os.pread(fd, 4096, off)
    os.close(fd)
    print("ok" if got == page else "bad(%r)" % got[:12])
else:
    a, b = open(path, "rb").read(), open(sys.argv[5], "rb").read()
    same = len(a) == len(b) and all(a[i:i + 4096] == b[i:i + 4096]
                                   for i in range(0, len(a), 4096) if i not in (1 << 20, 2 << 20))
    print("intact" if same else "changed (%d bytes)" % len(a))
PY

# The host's part, from the guest's HF-A-DONE on: every check at once (no
# retry), results in $log/host.res.
cat > "$vm_tmp/host.sh" <<HOST
#!/usr/bin/env bash
f=$exp/hostfile.bin
hf() { python3 "$vm_tmp/hf.py" "\$1" "\$f" "\$2" "\$3"; }
wl() { for i in \$(seq 1200); do grep -qa "^\$1" "\$VM_OUT_LOG" && return 0; sleep 0.05; done; echo "no \$1"; return 1; }
res=$log/host.res
echo "a \$(hf check $((1 << 20)) guest-0)" >> \$res
echo "put 0 \$(hf put $((2 << 20)) host-0)" >> \$res
for k in \$(seq $rounds); do
	wl "HF-ROUND \$k" || break
	# the last round's guest page is dirty in the guest, not yet synced
	[ \$k = $rounds ] || echo "round \$k \$(hf check $((1 << 20)) guest-\$k)" >> \$res
	echo "put \$k \$(hf put $((2 << 20)) host-\$k)" >> \$res
done
wl HF-FINAL
echo "final \$(hf check $((1 << 20)) guest-$rounds) \$(hf check $((2 << 20)) host-$rounds)" >> \$res
echo "rest \$(python3 "$vm_tmp/hf.py" rest "\$f" 0 - "$vm_tmp/orig.bin")" >> \$res
touch "$exp/host-done"
echo host-done
HOST
chmod +x "$vm_tmp/host.sh"

guest_cmd="
mkdir -p /tmp/m
mount -t hostrpcfs -o attr_timeout=60 e /tmp/m; echo \"R mount \$?\"
hostfile-map coherence /tmp/m/hostfile.bin $rounds; echo \"R prog \$?\"
i=0; while [ ! -e /tmp/m/host-done ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
umount /tmp/m; echo \"R umount \$?\"
echo \"R dmesg \$(dmesg | grep -cE 'BUG|WARNING|Oops|general protection|refcount_t|hostrpcfs: .*(bogus|no writable)')\"
dmesg | grep -E 'hostrpcfs|BUG|WARNING|Oops' | tail -n 20
"

echo "1..7"
rc=0
"$vm_run" -t "${HOSTRPC_VM_TIMEOUT:-300}" -m 512 -s "$vm_server --fs-policy-dir=$vm_tmp/conf" \
	-a "hrpc.load=hostrpcfs" -f "$vm_tmp/hostfile-map:/bin/hostfile-map" \
	-l "$log/console" -L "$log/server" -e "$vm_tmp/host.sh" -E '^HF-A-DONE' \
	"$guest_cmd" > "$log/out" 2> "$log/err" || rc=$?
sed 's/^/# /' "$log/out"
sed 's/^/# vm-run: /' "$log/err"
sed 's/^/# host: /' "$log/host.res" 2> /dev/null || true

# Every check is reported, a failing one too.
set +e
n=0
t() { n=$((n + 1)); tap "$n" "$1" "$2"; }
# the rest of the first line that starts with R KEY / KEY (KEY: words)
r() { grep -m1 "^R $1 " "$log/out" | cut -d' ' -f$(($(echo "$1" | wc -w) + 2))-; }
h() { grep -m1 "^$1 " "$log/host.res" 2> /dev/null | cut -d' ' -f$(($(echo "$1" | wc -w) + 1))-; }

[ "$(r mount)" = 0 ] && r mapped | grep -q "^$((4 << 20)) bytes"
t $? "a guest process maps the 4 MiB host file MAP_SHARED from a hostrpcfs mount ($(r mapped))"
[ "$(h a)" = ok ]
t $? "guest write through the mapping + msync: the host's file has the page at once ($(h a))"
set -- $(r b)
[ "${1:-}" = seen ] && [ "${2:-99999}" -lt 15000 ]
t $? "host write(2) at 2 MiB: the guest process sees it through its existing mapping in ${2:-?} ms"
ok=0 seen=""
for k in $(seq "$rounds"); do
	set -- $(r "round $k")
	[ "${1:-}" = seen ] || ok=1
	seen="$seen ${2:-?}"
	[ "$k" = "$rounds" ] || [ "$(h "round $k")" = ok ] || ok=1
	[ "$(h "put $k")" = wrote ] || ok=1
done
t $ok "$rounds rounds of writes to different pages from both sides: the host read each msynced guest page, the guest saw each host page (ms:$seen)"
[ "$(r final)" = "ok guest-page=kept host-page=seen" ] && [ "$(h final)" = "ok ok" ]
t $? "the guest's unsynced page survived the host's INVAL and reached the file after msync; the host's last page is in the mapping (guest: $(r final); host: $(h final))"
[ "$(h rest)" = intact ] && [ "$(r prog)" = 0 ] && [ "$(r umount)" = 0 ]
t $? "the rest of the file is the host's original bytes ($(h rest)); the program exited $(r prog), umount $(r umount)"
[ "$(r dmesg)" = 0 ] && [ "$rc" = 0 ]
t $? "no kernel warning, BUG or oops in the guest ($(r dmesg)); guest exit status $rc"
[ "$rc" = 0 ] || tail -n 30 "$log/console" 2> /dev/null | sed 's/^/# console: /'
[ "$rc" = 0 ] || tail -n 20 "$log/server" 2> /dev/null | sed 's/^/# server: /'
exit 0
