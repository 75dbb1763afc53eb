# tests/vm/migrate/lib.sh - the two-host migration tests' set-up (sourced;
# bash, after tests/vm/lib.sh and vm_prepare).
#
#   mig_setup          namespaces (tools/two-hosts), the key, both hosts'
#                      policies; sets $mig_p (prefix), $mig_key, $A and $B
#                      (each host's directory)
#   mig_hostrpcd H     start host H's (A or B) hostrpcd in its namespace
#   mig_qemu H CMD [QEMU ARGS...]  start a guest QEMU on host H that runs CMD
#                      (B: waits for a migration, -incoming defer -S)
#   mig_migrate [ARGS...]  hostrpc-migrate g1 from A to B, JSON in $mig_tmp/mig.json
#   mig_cleanup        (EXIT trap) everything stops, namespaces go
#
# Everything of one test is in $vm_tmp; names carry the test's pid.
top_builddir=${top_builddir:-$top_srcdir}
mig_p=m$$
mig_tmp=$vm_tmp
A=$mig_tmp/A
B=$mig_tmp/B
mig_key=$mig_tmp/migrate.key
mig_pids=()
mig_hostrpcd_bin=$top_builddir/hostrpc/daemon/hostrpcd
mig_tool=$top_builddir/migrate/hostrpc-migrate
mig_mem=${MIG_MEM:-256}

mig_setup() {
	[ "$(id -u)" = 0 ] || vm_skip "migration tests need root (network namespaces, TCP_REPAIR)"
	command -v ip > /dev/null || vm_skip "ip missing (apt-get install iproute2)"
	[ -x "$mig_tool" ] || vm_skip "hostrpc-migrate not built"
	"$top_srcdir/tools/two-hosts" up "$mig_p" ||
		vm_skip "cannot make the two hosts' namespaces"
	mkdir -p "$A/state" "$B/state" "$A/policy" "$B/policy"
	chmod 0755 "$mig_tmp"
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$mig_key"
	chmod 0600 "$mig_key"
	printf 'netns /run/netns/%s-gA\nidentity eth0\n' "$mig_p" > "$A/policy/g1.conf"
	printf 'netns /run/netns/%s-gB\nidentity eth0\n' "$mig_p" > "$B/policy/g1.conf"
}

mig_hostrpcd() {
	local h=$1 d ns extra=()
	d=$mig_tmp/$h
	ns=$mig_p-h$h
	[ "$h" = B ] && extra=(--migrate-listen=10.77.0.3:7000 --migrate-key="$mig_key")
	ip netns exec "$ns" "$mig_hostrpcd_bin" --foreground --verbose --no-process-guests \
		--admin-socket="$d/admin.sock" --state-dir="$d/state" --ivshmem="g1=$d/g1.ivshmem" \
		--sock-policy-dir="$d/policy" --sock-audit-dir="$d" \
		--migrate-socket="$d/migrate.sock" "${extra[@]}" > "$d/hostrpcd.log" 2>&1 &
	mig_pids+=($!)
	eval "mig_daemon_$h=$!"
	if ! wait_for 20 grep -q 'ready:' "$d/hostrpcd.log"; then
		sed "s/^/# hostrpcd $h: /" "$d/hostrpcd.log"
		echo "Bail out! hostrpcd $h did not start"
		exit 1
	fi
}

# The guest's command and files go in a second initramfs archive (as vm-run).
mig_initrd() {	# mig_initrd CMD FILE...
	local cmd=$1 f
	shift
	mkdir -p "$mig_tmp/extra/hostrpc"
	printf '#!/bin/sh\n%s\n' "$cmd" > "$mig_tmp/extra/hostrpc/cmd"
	for f in "$@"; do cp -L "$f" "$mig_tmp/extra/hostrpc/"; done
	(cd "$mig_tmp/extra" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
		gzip -1 > "$mig_tmp/extra.cpio.gz"
	cat "$HOSTRPC_GUEST_DIR/initramfs.cpio.gz" "$mig_tmp/extra.cpio.gz" > "$mig_tmp/initrd"
}

mig_qemu() {	# mig_qemu A|B [QEMU ARGS...]
	local h=$1 d ns
	shift
	d=$mig_tmp/$h
	ns=$mig_p-h$h
	[ "$h" = B ] && set -- -incoming defer -S "$@"
	: > "$d/out.log"
	ip netns exec "$ns" qemu-system-x86_64 -accel tcg -m "$mig_mem" -smp 1 -nographic \
		-no-reboot -kernel "$HOSTRPC_GUEST_DIR/vmlinuz" -initrd "$mig_tmp/initrd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 hrpc.out=ttyS1 hrpc.load=hostrpc_sock" \
		-serial "file:$d/console.log" -serial "file:$d/out.log" -monitor none \
		-qmp "unix:$d/qmp.sock,server=on,wait=off" -nic none \
		-chardev "socket,path=$d/g1.ivshmem,id=ivs" \
		-device ivshmem-doorbell,chardev=ivs,vectors=2,master=on "$@" \
		< /dev/null > "$d/qemu.log" 2>&1 &
	mig_pids+=($!)
	eval "mig_qemu_$h=$!"
	wait_for 20 test -S "$d/qmp.sock" || { cat "$d/qemu.log" >&2; echo "Bail out! QEMU $h"; exit 1; }
}

mig_migrate() {
	ip netns exec "$mig_p-hA" "$mig_tool" --qmp "$A/qmp.sock" --dest-qmp "$B/qmp.sock" \
		--uri tcp:10.77.0.3:4444 --key "$mig_key" --migrate-socket "$A/migrate.sock" \
		--json "$@" g1 10.77.0.3:7000 > "$mig_tmp/mig.json" 2> "$mig_tmp/mig.err"
}

# A JSON field of a file: mig_json FILE EXPR (python expression on `d`)
mig_json() {
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

mig_cleanup() {
	local p
	set +e
	touch "$mig_tmp/stop"
	[ -z "${vm_watchdog_pid:-}" ] || kill "$vm_watchdog_pid" 2> /dev/null
	for p in "${mig_pids[@]:+${mig_pids[@]}}"; do kill -TERM "$p" 2> /dev/null; done
	for p in "${mig_pids[@]:+${mig_pids[@]}}"; do
		wait_for 10 eval "! kill -0 $p 2>/dev/null" || kill -KILL "$p" 2> /dev/null
		wait "$p" 2> /dev/null
	done
	for h in A B; do
		"$mig_hostrpcd_bin" --fdstore-release --state-dir="$mig_tmp/$h/state" > /dev/null 2>&1
	done
	"$top_srcdir/tools/two-hosts" down "$mig_p"
	if [ -n "${MIG_KEEP:-}" ]; then
		echo "# kept $mig_tmp" >&2
	else
		rm -rf "$mig_tmp"
	fi
}
