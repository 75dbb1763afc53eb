#!/bin/sh
# migrate-options - hostrpc-migrate's --precopy takes auto, iterative or
# single-pass and nothing else: a bad MODE is a usage error (exit 2) that
# names it; a good one gets past the options (here to the missing QEMU).
set -u
top_builddir=${top_builddir:-.}
tool=$top_builddir/migrate/hostrpc-migrate
echo "1..2"
if [ ! -x "$tool" ]; then
	echo "ok 1 # SKIP hostrpc-migrate not built"
	echo "ok 2 # SKIP hostrpc-migrate not built"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() {	# run MODE: the tool's exit status; its stderr in $tmp/err
	"$tool" --qmp "$tmp/no-src.qmp" --dest-qmp "$tmp/no-dst.qmp" --uri tcp:127.0.0.1:1 \
		--precopy="$1" g1 127.0.0.1:1 > /dev/null 2> "$tmp/err"
}
run bogus
rc=$?
if [ "$rc" = 2 ] && grep -q "precopy wants auto, iterative or single-pass, not 'bogus'" "$tmp/err"; then
	echo "ok 1 - --precopy=bogus: usage error naming the mode (exit 2)"
else
	echo "not ok 1 - --precopy=bogus: usage error naming the mode (exit $rc)"
	sed 's/^/# /' "$tmp/err"
fi
bad=0
for mode in auto iterative single-pass; do
	run "$mode"
	rc=$?
	if [ "$rc" = 2 ] || ! grep -q "source QEMU ($tmp/no-src.qmp)" "$tmp/err"; then
		echo "# --precopy=$mode: exit $rc"
		sed 's/^/# /' "$tmp/err"
		bad=1
	fi
done
if [ "$bad" = 0 ]; then
	echo "ok 2 - --precopy=auto, iterative and single-pass are taken"
else
	echo "not ok 2 - --precopy=auto, iterative and single-pass are taken"
fi
