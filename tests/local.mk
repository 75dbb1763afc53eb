# Autotest suite: unit tests (tests/unit), integration with process guests
# (tests/integration), VM tests (tests/vm), fuzz smoke runs (tests/fuzz).
EXTRA_DIST += tests/tap-run tests/tap.h
include tests/unit/local.mk
include tests/integration/local.mk
include tests/fuzz/local.mk
include tests/vm/local.mk
include tests/vm/sock/local.mk
include tests/vm/guestsource/local.mk
