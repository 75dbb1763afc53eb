#!/bin/sh
# man-pages - the manual pages (docs/man) say what the tools take:
#   * each tool's options in its --help (--help-all where it has option
#     groups), long and short, are exactly those of its page's OPTIONS
#     section (each .TP's tag line: `.B "\-x, \-\-long"` or
#     `.BI "\-x, \-\-long=" ARG`);
#   * hostrpcctl's commands in --help are those of its page's COMMANDS;
#   * hostrpcd.conf(5) has a key for every long option of hostrpcd but the
#     actions, and no other;
#   * every page renders without a warning (groff -man -ww) and has no
#     @variable@ left from its .in file.
# Each difference is a diagnostic line naming the option and the page.
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
man=$top_builddir/docs/man

# Options a page documents that --help does not list (yet).  Keep short:
# each entry is a known gap, to be removed when the gap closes.
#
# hostrpcd: being added in parallel (issue 17, configuration file and
# reload); the page already describes them.  Remove at merge.
pending_hostrpcd=""
# The tool accepts these (its getopt_long table) but its --help does not
# show them; remove each once --help does.
pending_guestmount=""
pending_guest_exec=""
pending_guestrpcd=""
pending_hostrpcctl=""
pending_migrate=""
# hostrpcd's options that are not keys of hostrpcd.conf (hostrpcd.conf(5)).
conf_actions="help version config check-config guest fdstore-release"

if ! command -v groff > /dev/null 2>&1; then
	echo "1..0 # SKIP groff not installed (Debian: groff-base), the pages cannot be checked"
	exit 77
fi

echo "1..17"
n=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/man-pages.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
}
skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}

# help_options BINARY: the options --help lists, one a line (--long, -x).
# Only lines that start with two spaces and a dash are options (deeper ones
# are continued descriptions); long options are taken from the option
# column (up to the first two spaces), short ones from the whole line, as
# guestmount's help puts two short options on one line.
help_options() {
	out=$("$1" --help 2>&1)
	case $out in
	*--help-all*) out=$("$1" --help-all 2>&1) ;;
	esac
	printf '%s\n' "$out" | awk '
		/^  -/ {
			line = substr($0, 3)
			col = line
			i = index(col, "  ")
			if (i)
				col = substr(col, 1, i - 1)
			while (match(col, /--[a-z0-9][a-z0-9-]*/)) {
				print substr(col, RSTART, RLENGTH)
				col = substr(col, RSTART + RLENGTH)
			}
			line = " " line
			while (match(line, /[ ,]-[A-Za-z]([ ,=]|$)/)) {
				print substr(line, RSTART + 1, 2)
				line = substr(line, RSTART + 2)
			}
		}' | sort -u
}

# tag_lines PAGE SECTION: the tag line of each .TP in SECTION, with roff's
# \- as -, font escapes, quotes and the macro name taken away.
tag_lines() {
	awk -v want="$2" '
		/^\.SH/ {
			name = $0
			sub(/^\.SH[ \t]+/, "", name)
			gsub(/"/, "", name)
			in_sec = (name == want)
			next
		}
		in_sec && /^\.TP/ { tag = 1; next }
		in_sec && tag {
			tag = 0
			line = $0
			gsub(/\\-/, "-", line)
			gsub(/\\f[BIRP]/, "", line)
			gsub(/\\c/, "", line)
			gsub(/"/, "", line)
			sub(/^\.[A-Z]+[ \t]+/, "", line)
			print line
		}' "$1"
}

# page_options PAGE: the options its OPTIONS section documents.
page_options() {
	tag_lines "$1" OPTIONS | awk '{
		col = $0
		while (match(col, /--[a-z0-9][a-z0-9-]*/)) {
			print substr(col, RSTART, RLENGTH)
			col = substr(col, RSTART + RLENGTH)
		}
		line = " " $0
		while (match(line, /[ ,]-[A-Za-z]([ ,=]|$)/)) {
			print substr(line, RSTART + 1, 2)
			line = substr(line, RSTART + 2)
		}
	}' | sort -u
}

# compare WHAT HELP_FILE PAGE_FILE PAGE_NAME PENDING: 0 when the page has
# every entry of the help and no other, but for PENDING ones.
compare() {
	printf '%s\n' $5 | sed '/^$/d' | sort -u > "$tmp/pending"
	rc=0
	for o in $(comm -23 "$2" "$3"); do
		echo "# $1: $o is in --help but not in $4"
		rc=1
	done
	for o in $(comm -13 "$2" "$3" | comm -23 - "$tmp/pending"); do
		echo "# $1: $o is in $4 but not in --help"
		rc=1
	done
	# An entry --help now lists is one to drop from this test's lists.
	for o in $(comm -12 "$2" "$tmp/pending"); do
		echo "# $1: $o is in --help now: drop it from $0's pending list"
	done
	return $rc
}

check_tool() {  # NAME BINARY PAGE PENDING
	if [ ! -x "$2" ]; then
		skip "$1: not built here ($2), its page is not checked against it"
		return
	fi
	if [ ! -f "$man/$3" ]; then
		not_ok "$1: no page $man/$3"
		return
	fi
	help_options "$2" > "$tmp/help"
	page_options "$man/$3" > "$tmp/page"
	if [ ! -s "$tmp/help" ]; then
		not_ok "$1: no options found in its --help"
	elif compare "$1" "$tmp/help" "$tmp/page" "$3" "$4"; then
		ok "$1: the options of --help are those of $3"
	else
		not_ok "$1: the options of --help are those of $3"
	fi
}

b=$top_builddir
check_tool hostrpcd "$b/hostrpc/daemon/hostrpcd" hostrpcd.8 "$pending_hostrpcd"
check_tool hostrpcctl "$b/hostrpc/daemon/hostrpcctl" hostrpcctl.8 "$pending_hostrpcctl"
check_tool hostrpc-migrate "$b/migrate/hostrpc-migrate" hostrpc-migrate.8 "$pending_migrate"
check_tool guestrpcd "$b/guestrpc/guestrpcd" guestrpcd.8 "$pending_guestrpcd"
check_tool hostrpc-guest-exec "$b/guestsource/hostrpc-guest-exec" hostrpc-guest-exec.1 \
	"$pending_guest_exec"
check_tool hostrpc-guestmount "$b/guestsource/hostrpc-guestmount" hostrpc-guestmount.1 \
	"$pending_guestmount"
check_tool hostrpc-ping "$b/hostrpc/hostrpc-ping" hostrpc-ping.1 ""

# hostrpcctl's commands: the "Commands:" block of --help, the first word
# of each entry; in the page the first word of each tag in COMMANDS.
"$b/hostrpc/daemon/hostrpcctl" --help 2>&1 | awk '
	/^Commands:/ { c = 1; next }
	c && /^$/ { exit }
	c && /^  [a-z]/ { print $1 }' | sort -u > "$tmp/help"
tag_lines "$man/hostrpcctl.8" COMMANDS | awk '{ print $1 }' | sort -u > "$tmp/page"
if [ ! -s "$tmp/help" ]; then
	not_ok "hostrpcctl: no commands found in its --help"
elif compare "hostrpcctl commands" "$tmp/help" "$tmp/page" hostrpcctl.8 ""; then
	ok "hostrpcctl: the commands of --help are those of hostrpcctl.8"
else
	not_ok "hostrpcctl: the commands of --help are those of hostrpcctl.8"
fi

# hostrpcd.conf(5): a key for each long option of hostrpcd (those still
# pending included) but the actions.
{
	help_options "$b/hostrpc/daemon/hostrpcd"
	printf '%s\n' $pending_hostrpcd
} | sed -n 's/^--//p' | sort -u > "$tmp/opts"
printf '%s\n' $conf_actions | sort -u > "$tmp/actions"
comm -23 "$tmp/opts" "$tmp/actions" > "$tmp/help"
tag_lines "$man/hostrpcd.conf.5" KEYS | sed -n 's/^\([a-z0-9-]*\)=.*/\1/p' | sort -u > "$tmp/page"
if [ ! -s "$tmp/help" ]; then
	not_ok "hostrpcd.conf.5: no hostrpcd options found"
elif compare "hostrpcd.conf keys" "$tmp/help" "$tmp/page" hostrpcd.conf.5 ""; then
	ok "hostrpcd.conf.5: a key for each of hostrpcd's long options but the actions"
else
	not_ok "hostrpcd.conf.5: a key for each of hostrpcd's long options but the actions"
fi

# Rendering.
for page in hostrpcd.8 hostrpcctl.8 hostrpcd.conf.5 hostrpc-migrate.8 guestrpcd.8 \
	hostrpc-guest-exec.1 hostrpc-guestmount.1 hostrpc-ping.1; do
	p=$man/$page
	if [ ! -f "$p" ]; then
		not_ok "$page renders without warnings (no $p)"
		continue
	fi
	warn=$(groff -man -ww -z "$p" 2>&1)
	# The same page under a long prefix (distcheck's is about 50
	# characters): a path in a tag that cannot be adjusted warns only
	# there, so check it here whatever this build's prefix is.
	long=/build/work/main/hostrpc-0.1.0/_build/sub/_inst
	if [ -f "$top_srcdir/docs/man/$page.in" ]; then
		warn=$warn$(sed -e "s|@sysconfdir@|$long/etc|g; s|@localstatedir@|$long/var|g;
			s|@runstatedir@|$long/var/run|g; s|@[A-Za-z_]*dir@|$long/x|g;
			s|@[A-Za-z_]*@|x|g" "$top_srcdir/docs/man/$page.in" |
			groff -man -ww -z 2>&1 | sed 's/^/(long prefix) /')
	fi
	left=$(grep -n '@[A-Za-z_]*@' "$p")
	if [ -z "$warn" ] && [ -z "$left" ]; then
		ok "$page renders without warnings"
	else
		printf "%s\n%s\n" "$warn" "$left" | sed '/^$/d; s/^/# /'
		not_ok "$page renders without warnings"
	fi
done
[ "$failed" = 0 ]
