#!/bin/sh
# Fuzz smoke run: a short libFuzzer session of every decoder target, from
# seeds of valid traffic.  Any crash, leak or sanitizer report fails.
#   fuzz-conn  the server connection: ring records, stream frames, HELLO,
#              echo/stats (everything a guest's bytes reach first)
#   fuzz-sock  the socket service's procedures (in a private network
#              namespace with only loopback; without root, inside a user
#              namespace it makes itself, so it runs for any user)
#   fuzz-gm      hostrpc-guestmount's checks of guest replies (gfs-decode)
#   fuzz-gex     hostrpc-guest-exec's reading of guest events (gex-decode)
#   fuzz-fss     the filesystem server (fs-server/) against a hostile client,
#                on a private tree it must not get out of
#   fuzz-client  libhostrpc's client: replies and events from a hostile peer
#   fuzz-session the host's Guest RPC session (reader thread, calls, events)
#   fuzz-sockring the host's side of a sockets v2 socket area (sockring.h)
#   fuzz-sockstate the check of a TCP connection's migration image (sockstate.h)
#   fuzz-miglink the checks of the migration link's messages (miglink.h)
#   fuzz-socktable the socket service's replay of a migrating guest's table
#   fuzz-migfwd  one end of a forward link against a hostile peer host
#   fuzz-fsstate the import of a migrating guest's filesystem state
#   fuzz-mem     the memory service's requests, with the host's grants,
#                reclaims, deadlines and balancing interleaved
#   fuzz-xen     a domU's xenstore handshake values as dom0 checks them
#   fuzz-fsservice the filesystem service above fs-server: a migration
#                table from another host, a guest's calls routed to exports
#   fuzz-workerctl the supervisor's end of the worker control channel
#                against a hostile (guest-owned) worker
# Each target runs on a copy of its checked-in corpus (tests/fuzz/corpus/)
# and make-seeds' inputs.  make fuzz-long is the long run (tests/fuzz/README).
set -u
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
T=$top_builddir/tests/fuzz
secs=${HOSTRPC_FUZZ_SECONDS:-20}
targets="conn sock gm gex fss client session sockring sockstate miglink socktable migfwd fsstate mem xen fsservice workerctl"
for t in $targets; do
	if [ ! -x "$T/fuzz-$t" ]; then
		echo "1..0 # SKIP fuzz-$t not built (configure found no clang with -fsanitize=fuzzer; apt-get install clang libclang-rt-14-dev)"
		exit 77
	fi
done
echo "1..$(echo $targets | wc -w)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
fail=0
for t in $targets; do
	n=$((n + 1))
	mkdir -p "$work/$t"
	if [ -d "$top_srcdir/tests/fuzz/corpus/$t" ]; then
		cp "$top_srcdir/tests/fuzz/corpus/$t"/* "$work/$t"/ 2>/dev/null
	fi
	if ! "$T/make-seeds" "$t" "$work/$t"; then
		echo "not ok $n - fuzz-$t: cannot write seeds"
		fail=1
		continue
	fi
	"$T/fuzz-$t" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 \
		-artifact_prefix="$work/$t-" "$work/$t" > "$work/$t.log" 2>&1
	rc=$?
	if [ "$rc" = 77 ]; then
		sed 's/^/# /' "$work/$t.log" | tail -n 5
		echo "not ok $n - fuzz-$t could not set up (see above)"
		fail=1
	elif [ "$rc" = 0 ]; then
		runs=$(grep -o 'Done [0-9]* runs' "$work/$t.log" | tail -n 1)
		cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -n 1)
		echo "ok $n - fuzz-$t: no crash in ${secs}s ($runs, $cov)"
	else
		sed 's/^/# /' "$work/$t.log" | tail -n 40
		for a in "$work/$t"-crash-* "$work/$t"-leak-* "$work/$t"-timeout-*; do
			[ -e "$a" ] && echo "# artifact $a: $(od -An -tx1 "$a" | head -n 4 | tr '\n' ' ')"
		done
		echo "not ok $n - fuzz-$t found a problem"
		fail=1
	fi
done
exit $fail
