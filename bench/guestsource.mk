# Guest-sourcing benchmark: hostrpc-guestmount vs libguestfs guestmount and
# hostrpc-guest-exec vs qemu-guest-agent, same guest image, same run.
# `make bench-guestsource` (also run by `make bench`).  Needs root, libvirt,
# libguestfs-tools, qemu-guest-agent (see the script's header).
EXTRA_DIST += bench/guestsource-bench.sh

.PHONY: bench-guestsource
bench-guestsource: all
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		$(SHELL) $(top_srcdir)/bench/guestsource-bench.sh

bench: bench-guestsource
