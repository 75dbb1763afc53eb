# tests/vm/migrate/lib.sh - the two-host migration tests' set-up (sourced;
# bash, after tests/vm/lib.sh and vm_prepare).
#
#   mig_setup          namespaces (tools/two-hosts), the key, both hosts'
#                      policies; sets $mig_p (prefix), $mig_key, $A and $B
#                      (each host's directory)
#   mig_hostrpcd H [process-guests]  start host H's (A or B) hostrpcd in its
#                      namespace, with its migration port and --migrate-listen
#                      10.77.0.{2,3}:7000; process-guests: it also serves
#                      process guests on $mig_tmp/H/guests.sock; with
#                      --fs-policy-dir=$mig_tmp/H/fspolicy if that exists, and
#                      the words of $mig_hostrpcd_args_H (a host configured
#                      otherwise)
#   mig_bystander H    (after mig_hostrpcd H process-guests) process guest
#                      "bystander" on host H: runs of 200 calls back to back
#                      until $mig_tmp/stop, a "run ok" / "run FAILED" line each
#                      in $mig_tmp/H/ping.log
#   mig_initrd CMD FILE...  the guest's command and files
#   mig_qemu NAME H [incoming] [guestrpc]  start guest QEMU NAME on host H
#                      (incoming: waits for a migration, -incoming defer -S;
#                      guestrpc: a virtio-serial-pci with the Guest RPC ports
#                      org.hostrpc.guest.0/.1/.2 on sockets $(mig_gs_sock NAME N));
#                      its files are $mig_tmp/NAME.{out,console,qemu}.log and
#                      NAME.qmp, its pid $mig_qemu_NAME
#   mig_append         more words for the guest kernel's command line (e.g.
#                      hostrpc_core.debug_forge=1), for every QEMU
#   mig_load           the guest modules to load (hrpc.load=, default hostrpc_sock)
#   mig_qemu_args      more QEMU arguments (an array), for every QEMU alike,
#                      as migration wants the same machine on both ends;
#                      @NAME@ in them becomes the QEMU's NAME
#   mig_stream_build   the guest's stream program (static), or skip
#   mig_streams_start NOUT NIN SECS RATE  hostrpcd on both hosts, the world
#                      (world.py on port $mig_port, results in
#                      $mig_tmp/world.json) and guest A1 on host A running
#                      mig-stream; returns once its streams run both ways
#   mig_world_start NIN RATE, mig_streams_up OUT CONSOLE  the parts of it
#   mig_fwd_prepare HOSTS...  for the forwarding tests: builds the guest's
#                      fwd-probe (or skips), picks $mig_lport and $mig_wport,
#                      lets g1 reach its namespace's loopback on HOSTS (their
#                      policies), starts both hostrpcds, an echo service on
#                      127.0.0.1:$mig_lport in each HOSTS' guest namespace
#                      (log $mig_tmp/local-H.log; $mig_tmp/close-l1 makes it
#                      shut its first connection down) and one in the world on
#                      10.77.0.1:$mig_wport
#   mig_fwd_guest NAME H SECS  guest NAME on host H running fwd-probe for SECS
#                      against them; returns once its connections are up
#   mig_up NAME WORD   wait for the guest's WORD on QEMU NAME's output, or bail
#                      out with its output
#   mig_migrations H [EXPR]  host H's migrations, a word each (hostrpcctl)
#   mig_migrate FROM TO [ARGS...]  hostrpc-migrate g1 from QEMU FROM to QEMU TO
#                      (run on FROM's host), JSON in $mig_tmp/mig.json, stderr
#                      in $mig_tmp/mig.err
#   mig_host_ns H      host H's own mount namespace too (in its network
#                      namespace): /run/hostrpc ($H/run) and libvirt's
#                      /etc/libvirt, /run/libvirt, /var/lib/libvirt, ... are
#                      its own, as on a machine of its own; $(mig_in H) CMD
#                      runs CMD there
#   mig_libvirtd H...  each host's libvirtd (own config, sockets in $H/lv, own
#                      host_uuid, QEMU as root, no cgroups); its URI is
#                      $(mig_virt_uri H)
#   mig_cleanup        (EXIT trap) everything stops, namespaces go
#
# Everything of one test is in $vm_tmp; names carry the test's pid.
top_builddir=${top_builddir:-$top_srcdir}
mig_p=m$$
mig_tmp=$vm_tmp
A=$mig_tmp/A
B=$mig_tmp/B
C=$mig_tmp/C	# MIG_THIRD_HOST=1 before mig_setup: a third host (tools/two-hosts ... C)
mig_key=$mig_tmp/migrate.key
mig_pids=()
mig_hostrpcd_bin=$top_builddir/hostrpc/daemon/hostrpcd
mig_tool=$top_builddir/migrate/hostrpc-migrate
mig_mem=${MIG_MEM:-256}
mig_append=""
mig_load=hostrpc_sock
mig_qemu_args=()

mig_setup() {
	[ "$(id -u)" = 0 ] || vm_skip "migration tests need root (network namespaces, TCP_REPAIR)"
	command -v ip > /dev/null || vm_skip "ip missing (apt-get install iproute2)"
	[ -x "$mig_tool" ] || vm_skip "hostrpc-migrate not built"
	vm_load_lock exclusive
	"$top_srcdir/tools/two-hosts" up "$mig_p" ${MIG_THIRD_HOST:+C} ||
		vm_skip "cannot make the two hosts' namespaces"
	mkdir -p "$A/state" "$B/state" "$A/policy" "$B/policy"
	chmod 0755 "$mig_tmp"
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$mig_key"
	chmod 0600 "$mig_key"
	printf 'netns /run/netns/%s-gA\nidentity eth0\n' "$mig_p" > "$A/policy/g1.conf"
	printf 'netns /run/netns/%s-gB\nidentity eth0\n' "$mig_p" > "$B/policy/g1.conf"
	if [ -n "${MIG_THIRD_HOST:-}" ]; then
		mkdir -p "$C/state" "$C/policy"
		printf 'netns /run/netns/%s-gC\nidentity eth0\n' "$mig_p" > "$C/policy/g1.conf"
	fi
}

mig_hostrpcd() {	# mig_hostrpcd H [process-guests]: in H's network namespace, or its own host (mig_host_ns)
	local h=$1 d ns run=() ep pg=--no-process-guests extra=() more=()
	d=$mig_tmp/$h
	ns=$mig_p-h$h
	[ "${2:-}" = process-guests ] && pg=--socket=$d/guests.sock
	[ -d "$d/fspolicy" ] && extra+=(--fs-policy-dir="$d/fspolicy")
	read -ra more <<< "$(eval "echo \${mig_hostrpcd_args_$h:-}")"
	extra+=("${more[@]}")
	run=(ip netns exec "$ns")
	ep=$d/g1.ivshmem
	if [ -n "$(eval "echo \${mig_ns_$h:-}")" ]; then
		read -ra run <<< "$(mig_in "$h")"
		ep=/run/hostrpc/g1.ivshmem
	fi
	"${run[@]}" "$mig_hostrpcd_bin" --foreground --verbose "$pg" \
		--admin-socket="$d/admin.sock" --state-dir="$d/state" --ivshmem="g1=$ep" \
		--sock-policy-dir="$d/policy" --sock-audit-dir="$d" \
		--migrate-socket="$d/migrate.sock" --migrate-listen="$(mig_ip "$h"):7000" \
		--migrate-key="$mig_key" "${extra[@]}" > "$d/hostrpcd.log" 2>&1 &
	mig_pids+=($!)
	eval "mig_daemon_$h=$!"
	if ! wait_for 20 grep -q 'ready:' "$d/hostrpcd.log"; then
		sed "s/^/# hostrpcd $h: /" "$d/hostrpcd.log"
		echo "Bail out! hostrpcd $h did not start"
		exit 1
	fi
}

mig_host_ns() {	# mig_host_ns H
	local h=$1 d=$mig_tmp/$1 m
	mkdir -p "$d/run" "$d/etc" "$d/lv" "$d/log"
	cp -a /etc/libvirt/libvirt.conf /etc/libvirt/qemu.conf "$d/etc/" 2> /dev/null || true
	ip netns exec "$mig_p-h$h" unshare -m --propagation private sh -c '
		d=$1
		mount --bind "$d/run" /run/hostrpc 2> /dev/null ||
			{ mkdir -p /run/hostrpc && mount --bind "$d/run" /run/hostrpc; } || exit 1
		mount --bind "$d/etc" /etc/libvirt || exit 1
		for m in /run/libvirt /var/lib/libvirt /var/cache/libvirt; do
			mkdir -p "$m" && mount -t tmpfs tmpfs "$m" || exit 1
		done
		mkdir -p /var/log/libvirt && mount --bind "$d/log" /var/log/libvirt || exit 1
		mkdir -p /var/lib/libvirt/qemu /var/log/libvirt/qemu /var/cache/libvirt/qemu
		touch "$d/ns-ready"
		exec sleep 100000' sh "$d" > "$d/ns.log" 2>&1 8>&- &
	mig_pids+=($!)
	wait_for 10 test -e "$d/ns-ready" || { cat "$d/ns.log" >&2; vm_skip "cannot make host $h's mount namespace"; }
	eval "mig_ns_$h=$!"
}

# The command that enters host H (words): $(mig_in H) CMD... runs CMD there,
# as its own process (a background job's $! is CMD's pid).
mig_in() { echo "nsenter -t $(eval "echo \$mig_ns_$1") -m -n"; }

mig_virt_uri() { echo "qemu+unix:///system?socket=$mig_tmp/$1/lv/libvirt-sock"; }

mig_libvirtd() {	# mig_libvirtd H...: start them, then wait for each
	local h d
	command -v libvirtd > /dev/null && command -v virsh > /dev/null ||
		vm_skip "libvirtd or virsh missing (apt-get install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)"
	for h in "$@"; do
		d=$mig_tmp/$h
		cat > "$d/etc/libvirtd.conf" <<-CONF
		unix_sock_dir = "$d/lv"
		unix_sock_group = "root"
		unix_sock_rw_perms = "0700"
		unix_sock_ro_perms = "0700"
		auth_unix_rw = "none"
		auth_unix_ro = "none"
		host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
		log_outputs = "${MIG_LIBVIRT_LOG:-3}:file:$d/libvirtd.log"
		log_filters = "${MIG_LIBVIRT_FILTERS:-}"
		CONF
		# QEMU as root (the test's files stay root's), no cgroups (the
		# two hosts' domains would meet there), QEMU's output to files.
		cat > "$d/etc/qemu.conf" <<-CONF
		user = "root"
		group = "root"
		security_driver = "none"
		dynamic_ownership = 0
		stdio_handler = "file"
		cgroup_controllers = [ ]
		CONF
		$(mig_in "$h") libvirtd -f /etc/libvirt/libvirtd.conf -p "$d/libvirtd.pid" \
			> "$d/libvirtd.out" 2>&1 8>&- &
		mig_pids+=($!)
	done
	for h in "$@"; do
		d=$mig_tmp/$h
		if ! wait_for 90 virsh -q -c "$(mig_virt_uri "$h")" version > /dev/null 2>&1; then
			tail -5 "$d/libvirtd.out" "$d/libvirtd.log" >&2
			echo "Bail out! libvirtd $h did not start"
			exit 1
		fi
	done
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

mig_ip() { case $1 in A) echo 10.77.0.2 ;; B) echo 10.77.0.3 ;; C) echo 10.77.0.4 ;; esac; }

# The host end of QEMU NAME's Guest RPC port org.hostrpc.guest.N.
mig_gs_sock() { echo "$mig_tmp/$1.gs$2.sock"; }

mig_bystander() {	# mig_bystander A|B
	local d=$mig_tmp/$1
	(
		while [ ! -e "$mig_tmp/stop" ]; do
			if "$top_builddir/hostrpc/hostrpc-ping" --socket "$d/guests.sock" \
				--name bystander --count 200 --interval-ms 5 > "$d/ping.out" 2>&1; then
				echo "run ok: $(cat "$d/ping.out")"
			else
				echo "run FAILED: $(cat "$d/ping.out")"
			fi
		done > "$d/ping.log"
	) &
	mig_pids+=($!)
}

declare -A mig_host
mig_qemu() {	# mig_qemu NAME A|B [incoming] [guestrpc]
	local n=$1 h=$2 ns extra=() opt i
	ns=$mig_p-h$h
	mig_host[$n]=$h
	for opt in "${@:3}"; do
		case $opt in
		incoming) extra+=(-incoming defer -S) ;;
		guestrpc)
			# As tests/vm/guestsource/lib.sh: one host tool per port.
			extra+=(-device virtio-serial-pci)
			for i in 0 1 2; do
				extra+=(-chardev "socket,path=$(mig_gs_sock "$n" $i),server=on,wait=off,id=gs$i"
					-device "virtserialport,chardev=gs$i,name=org.hostrpc.guest.$i")
			done
			;;
		*) echo "Bail out! mig_qemu: unknown option $opt"; exit 1 ;;
		esac
	done
	: > "$mig_tmp/$n.out.log"
	ip netns exec "$ns" qemu-system-x86_64 -accel tcg -m "$mig_mem" -smp 1 -nographic \
		-no-reboot -kernel "$HOSTRPC_GUEST_DIR/vmlinuz" -initrd "$mig_tmp/initrd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 hrpc.out=ttyS1 hrpc.load=$mig_load${mig_append:+ $mig_append}" \
		-serial "file:$mig_tmp/$n.console.log" -serial "file:$mig_tmp/$n.out.log" \
		-monitor none -qmp "unix:$mig_tmp/$n.qmp,server=on,wait=off" -nic none \
		-chardev "socket,path=$mig_tmp/$h/g1.ivshmem,id=ivs" \
		-device ivshmem-doorbell,chardev=ivs,vectors=2,master=on \
		"${mig_qemu_args[@]//@NAME@/$n}" "${extra[@]}" \
		< /dev/null > "$mig_tmp/$n.qemu.log" 2>&1 &
	mig_pids+=($!)
	eval "mig_qemu_$n=$!"
	wait_for 20 test -S "$mig_tmp/$n.qmp" ||
		{ cat "$mig_tmp/$n.qemu.log" >&2; echo "Bail out! QEMU $n"; exit 1; }
}

mig_migrate() {	# mig_migrate FROM TO [ARGS...]
	local from=$1 to=$2 h t
	shift 2
	h=${mig_host[$from]}
	t=${mig_host[$to]}
	ip netns exec "$mig_p-h$h" "$mig_tool" --qmp "$mig_tmp/$from.qmp" \
		--dest-qmp "$mig_tmp/$to.qmp" --uri "tcp:$(mig_ip "$t"):4444" --key "$mig_key" \
		--migrate-socket "$mig_tmp/$h/migrate.sock" --json "$@" g1 "$(mig_ip "$t"):7000" \
		> "$mig_tmp/mig.json" 2> "$mig_tmp/mig.err"
}

mig_guest_build() {	# mig_guest_build NAME: tests/vm/migrate/guest/NAME.c -> $mig_tmp/NAME, static
	${CC:-gcc} -static -O2 -std=gnu11 -o "$mig_tmp/$1" \
		"$top_srcdir/tests/vm/migrate/guest/$1.c" 2> "$mig_tmp/cc.log" ||
		{ cat "$mig_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (libc6-dev)"; }
}

mig_stream_build() {
	${CC:-gcc} -static -O2 -std=gnu11 -o "$mig_tmp/mig-stream" \
		"$top_srcdir/tests/vm/migrate/guest/mig-stream.c" 2> "$mig_tmp/cc.log" ||
		{ cat "$mig_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (libc6-dev)"; }
}

mig_port=$((20000 + RANDOM % 12000))   # below the ephemeral ports (32768-)
mig_world_start() {	# mig_world_start NIN RATE: world.py, and the guest's command
	ip netns exec "$mig_p-W" python3 "$top_srcdir/tests/vm/migrate/world.py" 10.77.0.10 \
		"$mig_port" "$1" "$2" "$mig_tmp/stop" "$mig_tmp/world.json" "$mig_tmp/start-in" \
		> "$mig_tmp/world.log" 2>&1 &
	mig_pids+=($!)
}

# Once the guest's streams run (its output in OUT, console in CONSOLE), the
# world starts its inbound ones.
mig_streams_up() {	# mig_streams_up OUT CONSOLE
	if ! wait_for 90 grep -q 'mig-stream up' "$1"; then
		sed 's/^/# guest: /' "$1" "$2" | tail -30
		echo "Bail out! the guest's streams did not start"
		exit 1
	fi
	touch "$mig_tmp/start-in"
}

mig_streams_start() {	# mig_streams_start NOUT NIN SECS RATE
	mig_hostrpcd A
	mig_hostrpcd B
	mig_world_start "$2" "$4"
	mig_initrd "/hostrpc/mig-stream 10.77.0.1 $mig_port $1 $2 $3 $4" "$mig_tmp/mig-stream"
	mig_qemu A1 A
	mig_streams_up "$mig_tmp/A1.out.log" "$mig_tmp/A1.console.log"
}

mig_up() {	# mig_up NAME WORD
	if ! wait_for 90 grep -q "$2" "$mig_tmp/$1.out.log"; then
		sed 's/^/# guest: /' "$mig_tmp/$1.out.log" "$mig_tmp/$1.console.log" | tail -30
		echo "Bail out! guest $1 did not start ('$2')"
		exit 1
	fi
}

mig_fwd_prepare() {	# mig_fwd_prepare HOSTS...
	local h
	${CC:-gcc} -static -O2 -std=gnu11 -o "$mig_tmp/fwd-probe" \
		"$top_srcdir/tests/vm/migrate/guest/fwd-probe.c" 2> "$mig_tmp/cc.log" ||
		{ cat "$mig_tmp/cc.log" >&2; vm_skip "cannot build the static guest program (libc6-dev)"; }
	mig_lport=$((20000 + RANDOM % 5000))
	mig_wport=$((mig_lport + 7))
	for h in "$@"; do
		printf 'connect allow loopback\n' >> "$mig_tmp/$h/policy/g1.conf"
	done
	mig_hostrpcd A
	mig_hostrpcd B
	for h in "$@"; do
		ip netns exec "$mig_p-g$h" python3 "$top_srcdir/tests/vm/migrate/echo.py" 127.0.0.1 \
			"$mig_lport" "$mig_tmp/local-$h.log" "$mig_tmp/close-l1" \
			> "$mig_tmp/local-$h.err" 2>&1 &
		mig_pids+=($!)
	done
	ip netns exec "$mig_p-W" python3 "$top_srcdir/tests/vm/migrate/echo.py" 10.77.0.1 \
		"$mig_wport" "$mig_tmp/world-echo.log" > "$mig_tmp/world-echo.err" 2>&1 &
	mig_pids+=($!)
	sleep 0.5
}

mig_fwd_guest() {	# mig_fwd_guest NAME H SECS
	mig_initrd "/hostrpc/fwd-probe $mig_lport 10.77.0.1 $mig_wport $3" "$mig_tmp/fwd-probe"
	mig_qemu "$1" "$2"
	mig_up "$1" 'fwd up'
}

# Host H's hostrpcd's migrations, one word each: EXPR (python on `m`, one
# record of hostrpcctl --json migrations; default direction:state).
mig_migrations() {	# mig_migrations H [EXPR]
	local expr=${2:-}
	[ -n "$expr" ] || expr="m['direction'] + ':' + m['state']"
	"$top_builddir/hostrpc/daemon/hostrpcctl" --admin-socket "$mig_tmp/$1/admin.sock" \
		--json migrations | python3 -c "import json,sys
print(' '.join($expr for m in json.load(sys.stdin)['migrations']))"
}

# Everything the guest printed, wherever it ran.
# (QEMU's logs, and libvirt's in each host's /run/hostrpc; none may exist.)
mig_guest_out() { { cat "$mig_tmp"/*.out.log "$mig_tmp"/?/run/*.out.log 2> /dev/null || true; } | tr -d '\r'; }

# A JSON field of a file: mig_json FILE EXPR (python expression on `d`)
mig_json() {
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

mig_cleanup() {
	local p
	set +e
	touch "$mig_tmp/stop"
	[ -z "${vm_watchdog_pid:-}" ] || kill "$vm_watchdog_pid" 2> /dev/null
	# libvirtd leaves its domains running when it stops
	for h in A B; do
		[ -S "$mig_tmp/$h/lv/libvirt-sock" ] || continue
		for p in $(virsh -q -c "$(mig_virt_uri "$h")" list --name 2> /dev/null); do
			virsh -q -c "$(mig_virt_uri "$h")" destroy "$p" > /dev/null 2>&1
		done
	done
	pkill -KILL -f "qemu-system-x86_64.*$mig_tmp/initrd" 2> /dev/null
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
