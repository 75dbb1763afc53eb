#!/bin/bash
# bench/guestsource-bench.sh - guest-sourcing against its peers, measured in
# the same run on the same guest disk image (QEMU 7.2 TCG, no KVM):
#
#   filesystem  hostrpc-guestmount (the running guest serves its own ext4
#               through guestrpcd) vs libguestfs guestmount (its own
#               appliance VM opens the same image): mount-ready time,
#               sequential read of a 256 MiB file, find and tar of a
#               5000-file tree (read-only mounts), untar of that tree
#               (read-write: hostrpc into the running guest, libguestfs into
#               a copy of the image);
#   exec        hostrpc-guest-exec vs qemu-guest-agent guest-exec +
#               guest-exec-status polled through `virsh qemu-agent-command`,
#               both in the same libvirt domain: round trip of `true`
#               (median of N), and 16 MiB of output in 2 MiB commands
#               (libvirt refuses agent replies over 10 MiB).
#
# Prints one line per measurement with the ratio peer/hostrpc (> 1: hostrpc
# is faster).  Needs: root, qemu-system-x86, libvirt (tools/libvirt-setup),
# libguestfs-tools, qemu-guest-agent, e2fsprogs, fuse3, and the guest image
# (tools/guest-image).  Missing peers are reported and skipped.
#
# Environment: GS_BENCH_N (round trips, default 20), GS_BENCH_BIG_MIB (256),
# GS_BENCH_FILES (5000), HOSTRPC_GUEST_DIR.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/tests/vm/guestsource/lib.sh"
N=${GS_BENCH_N:-20}
BIG=${GS_BENCH_BIG_MIB:-256}
FILES=${GS_BENCH_FILES:-5000}

say() { echo "guestsource-bench: $*" >&2; }
now() { date +%s.%N; }
dt() { calc "$2 - $1"; }
num() { [[ $1 =~ ^[0-9]*\.?[0-9]+$ ]]; }
ratio() { num "${1:-}" && num "${2:-}" && calc "$1 / $2" || echo "-"; }
row() {  # row NAME HOSTRPC PEER UNIT [higher-is-better]
	local r
	if [ "${5:-}" = hib ]; then r=$(ratio "$2" "$3"); else r=$(ratio "$3" "$2"); fi
	printf '%-44s %12s %12s %-6s %8s\n' "$1" "${2:--}" "${3:--}" "$4" "$r"
}
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }

gs_vm_prepare > /dev/null || exit 0
[ "$(id -u)" = 0 ] || { say "needs root"; exit 0; }

# ---- the guest disk image ---------------------------------------------------
stage=$gs_work/stage
mkdir -p "$stage/tree"
say "making the guest disk image (ext4: ${BIG} MiB file + ${FILES}-file tree)"
head -c $((BIG << 20)) /dev/urandom > "$stage/big"
python3 - "$stage/tree" "$FILES" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
random.seed(7)
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 50), "s%d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.c" % i), "wb") as f:
        f.write(os.urandom(random.randint(200, 6000)).hex().encode()[:random.randint(200, 6000)])
EOF
tar -C "$stage" -cf "$gs_work/tree.tar" tree
nent=$(find "$stage/tree" | wc -l)
img=$gs_work/disk.img
mkfs.ext4 -q -F -d "$stage" "$img" $((BIG + 512))M || { say "mkfs.ext4 -d failed"; exit 1; }
cp --sparse=always "$img" "$gs_work/disk-lg.img"
rm -rf "$stage"

declare -A H L

# ---- libguestfs guestmount on the image (no VM running on it) ----------------
lg_ok=0
if command -v guestmount >/dev/null; then
	say "libguestfs: preparing the appliance kernel (supermin needs modules.dep)"
	kroot=$top_builddir/.gs-bench-kernel
	if [ ! -f "$kroot/lib/modules/$gs_kver/modules.dep" ]; then
		rm -rf "$kroot"
		mkdir -p "$kroot/lib/modules"
		cp -a "$HOSTRPC_GUEST_DIR/kernel/lib/modules/$gs_kver" "$kroot/lib/modules/"
		depmod -b "$kroot" "$gs_kver"
	fi
	export SUPERMIN_KERNEL=$HOSTRPC_GUEST_DIR/kernel/boot/vmlinuz-$gs_kver
	export SUPERMIN_MODULES=$kroot/lib/modules/$gs_kver
	export LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg
	export LIBGUESTFS_CACHEDIR=$top_builddir/.gs-bench-cache TMPDIR=$gs_work/lgtmp
	export XDG_RUNTIME_DIR=$gs_work/lgrun
	mkdir -p "$LIBGUESTFS_CACHEDIR" "$TMPDIR" "$XDG_RUNTIME_DIR"
	chmod 700 "$XDG_RUNTIME_DIR"
	# First use builds the appliance: not part of any measurement.
	if guestfish --ro -a "$img" run > "$gs_work/lg-warm.log" 2>&1; then
		lg_ok=1
	else
		say "libguestfs does not work here (see libguestfs-test-tool): $(tail -n 2 "$gs_work/lg-warm.log")"
	fi
fi
if [ $lg_ok = 1 ]; then
	say "libguestfs: guestmount --ro"
	lm=$gs_work/lgmnt
	mkdir -p "$lm"
	t0=$(now)
	guestmount --ro -a "$img" -m /dev/sda "$lm" && L[ready]=$(dt "$t0" "$(now)")
	drop
	t0=$(now); cat "$lm/big" > /dev/null; L[read]=$(calc "$BIG / $(dt "$t0" "$(now)")")
	drop
	t0=$(now); L[findn]=$(find "$lm/tree" | wc -l); L[find]=$(dt "$t0" "$(now)")
	drop
	t0=$(now); tar -C "$lm" -cf - tree | wc -c > /dev/null; L[tar]=$(dt "$t0" "$(now)")
	guestunmount "$lm" 2>/dev/null || fusermount3 -u "$lm"
	say "libguestfs: guestmount (read-write, a copy of the image): untar"
	guestmount -a "$gs_work/disk-lg.img" -m /dev/sda "$lm" && mkdir -p "$lm/untar" &&
		{ t0=$(now); tar -C "$lm/untar" -xf "$gs_work/tree.tar"; L[untar]=$(dt "$t0" "$(now)"); }
	guestunmount "$lm" 2>/dev/null || fusermount3 -u "$lm"
fi
rm -f "$gs_work/disk-lg.img"

# ---- hostrpc: the guest itself serves the image ---------------------------------
"$top_srcdir/tools/libvirt-setup" start > "$gs_work/libvirt-setup.log" 2>&1 ||
	{ say "libvirtd cannot run: $(tail -n 1 "$gs_work/libvirt-setup.log")"; exit 1; }
dom=hrpc-gs-bench-$$
extra=()
command -v qemu-ga >/dev/null && extra=(-x "$(command -v qemu-ga):/bin/qemu-ga")
say "hostrpc: booting the guest (libvirt domain $dom, the image as its disk)"
t0=$(now)
gs_libvirt_start "$dom" -d "$img" "${extra[@]:+${extra[@]}}" || { say "guest did not boot"; exit 1; }
boot=$(dt "$t0" "$(now)")
hm=$gs_work/hmnt
mkdir -p "$hm"
t0=$(now)
"$gmount" --ro "$dom" /srv "$hm" && H[ready]=$(dt "$t0" "$(now)")
drop
t0=$(now); cat "$hm/big" > /dev/null; H[read]=$(calc "$BIG / $(dt "$t0" "$(now)")")
drop
t0=$(now); H[findn]=$(find "$hm/tree" | wc -l); H[find]=$(dt "$t0" "$(now)")
drop
t0=$(now); tar -C "$hm" -cf - tree | wc -c > /dev/null; H[tar]=$(dt "$t0" "$(now)")
fusermount3 -u "$hm"
"$gmount" "$dom" /srv "$hm" && mkdir -p "$hm/untar" &&
	{ t0=$(now); tar -C "$hm/untar" -xf "$gs_work/tree.tar"; H[untar]=$(dt "$t0" "$(now)"); }
fusermount3 -u "$hm"

# ---- exec ------------------------------------------------------------------------------
say "exec: $N round trips each"
for i in $(seq "$N"); do
	t0=$(now); "$gexec" -n "$dom" -- /bin/true; dt "$t0" "$(now)"
done | median > "$gs_work/h-rt"
H[rt]=$(calc "$(cat "$gs_work/h-rt") * 1000")
t0=$(now)
for i in 1 2 3 4 5 6 7 8; do "$gexec" -n "$dom" -- head -c 2097152 /dev/zero | wc -c; done > "$gs_work/h-out"
H[out]=$(calc "16 / $(dt "$t0" "$(now)")")
[ "$(sort -u "$gs_work/h-out")" = 2097152 ] || say "hostrpc exec output came back short: $(sort -u "$gs_work/h-out" | tr '\n' ' ')"
t0=$(now)
got=$("$gexec" -n "$dom" -- dd if=/dev/zero bs=1M count=256 2>/dev/null | wc -c)
H[out256]=$(calc "256 / $(dt "$t0" "$(now)")")
[ "$got" = 268435456 ] || say "hostrpc 256 MiB output came back short: $got"

ga() { virsh -q -c qemu:///system qemu-agent-command "$dom" "$1" 2>&1; }
ga_exec() {  # ga_exec PATH ARG...: run, poll status until exited; prints out-data length
	local args="" a pid st
	for a in "${@:2}"; do args="$args\"$a\","; done
	pid=$(ga "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"$1\",\"arg\":[${args%,}],\"capture-output\":true}}" |
		sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
	[ -n "$pid" ] || return 1
	while :; do
		st=$(ga "{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":$pid}}")
		case $st in *'"exited":true'*) break ;; *'"exited":false'*) ;; *) return 1 ;; esac
	done
	echo "$st" | sed -n 's/.*"out-data":"\([^"]*\)".*/\1/p' | base64 -d 2>/dev/null | wc -c
}
if [ ${#extra[@]} -gt 0 ] && ga '{"execute":"guest-ping"}' | grep -q return; then
	for i in $(seq "$N"); do
		t0=$(now); ga_exec /bin/true > /dev/null || { say "qemu-ga guest-exec failed"; break; }
		dt "$t0" "$(now)"
	done | median > "$gs_work/g-rt"
	[ -s "$gs_work/g-rt" ] && L[grt]=$(calc "$(cat "$gs_work/g-rt") * 1000")
	t0=$(now)
	for i in 1 2 3 4 5 6 7 8; do ga_exec /bin/head -c 2097152 /dev/zero; done > "$gs_work/g-out"
	[ "$(sort -u "$gs_work/g-out")" = 2097152 ] &&
		L[gout]=$(calc "16 / $(dt "$t0" "$(now)")") ||
		say "qemu-ga output came back short: $(sort -u "$gs_work/g-out" | tr '\n' ' ')"
else
	say "qemu-guest-agent not available in the guest: exec peer skipped"
fi
gs_libvirt_stop

# ---- report --------------------------------------------------------------------------------
echo
echo "guest-sourcing benchmark ($(date -u +%F), QEMU TCG, guest boot ${boot}s; $nent-entry tree, $BIG MiB file)"
printf '%-44s %12s %12s %-6s %8s\n' "measurement" "hostrpc" "peer" "unit" "ratio"
row "mount ready (libguestfs: appliance boot)" "${H[ready]:-}" "${L[ready]:-}" s
row "sequential read ${BIG} MiB, cold (--ro)" "${H[read]:-}" "${L[read]:-}" MiB/s hib
row "find tree, cold (--ro)" "${H[find]:-}" "${L[find]:-}" s
row "tar cf of the tree, cold (--ro)" "${H[tar]:-}" "${L[tar]:-}" s
row "untar the tree (read-write)" "${H[untar]:-}" "${L[untar]:-}" s
row "exec round trip /bin/true (median of $N)" "${H[rt]:-}" "${L[grt]:-}" ms
row "exec output 16 MiB as 8 x 2 MiB" "${H[out]:-}" "${L[gout]:-}" MiB/s hib
row "exec output 256 MiB in one command" "${H[out256]:-}" "(cap 16)" MiB/s
echo "peers: libguestfs guestmount (filesystem rows), qemu-guest-agent via virsh (exec rows);"
echo "ratio = peer time / hostrpc time (or hostrpc rate / peer rate): > 1 means hostrpc is faster"
[ "${H[findn]:-0}" = "${L[findn]:-${H[findn]:-0}}" ] || say "find counts differ: hostrpc ${H[findn]:-} libguestfs ${L[findn]:-}"
