# Checks shared by both directions of the filesystem protocol: run on the
# host against hostrpc-guestmount and in a guest against hostrpcfs.
check_PROGRAMS += tests/posix/runas
EXTRA_DIST += tests/posix/creds.sh tests/posix/runas.c
