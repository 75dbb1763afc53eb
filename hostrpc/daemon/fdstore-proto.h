/* SPDX-License-Identifier: MIT */
/*
 * fdstore-proto.h - the wire format between hostrpcd and its fd holder
 * (fdstore.h).  Private to hostrpcd: both ends are the same program, on the
 * same host, so fields are in host byte order; the sizes are fixed anyway
 * and the version lets a newer daemon recognise an older holder that
 * survived an upgrade.
 *
 * Transport: a SOCK_SEQPACKET unix socket (mode 0600) in hostrpcd's state
 * directory.  Every message is exactly one `struct hrpcd_fdstore_msg`; the
 * descriptors of its entries travel with it by SCM_RIGHTS, one per entry,
 * in entry order.  Entries past `count` are zero.
 *
 * Requests (daemon -> holder) and their replies (same op, `status`):
 *   HELLO   opens the session.  One session at a time: -EBUSY while another
 *           daemon holds one.  Reply: holder pid, entries held.
 *   STORE   `count` entries, `count` fds.  An entry replaces one with the
 *           same (name, role, index) (whose fd is closed).  All or nothing.
 *   REMOVE  `count` entries naming (name, role): every entry of that name
 *           and role goes (any index); role 0 = every role of the name.
 *           No fds.  Reply `total` = entries removed.
 *   FETCH   no entries.  Replies: as many FETCH messages as needed, each
 *           with up to HRPCD_FDSTORE_BATCH entries and their fds (dups: the
 *           holder keeps its own); the last has HRPCD_FDSTORE_LAST.
 *   QUIT    close everything held and exit after the reply.
 * Anything before HELLO but HELLO gets -ENOTCONN; a malformed message ends
 * the connection.
 */
#ifndef HOSTRPCD_FDSTORE_PROTO_H
#define HOSTRPCD_FDSTORE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define HRPCD_FDSTORE_MAGIC    0x53444648u  /* "HFDS" */
#define HRPCD_FDSTORE_VERSION  1
#define HRPCD_FDSTORE_BATCH    8            /* entries (and fds) per message */
#define HRPCD_FDSTORE_NAME_MAX 64           /* NUL included */
#define HRPCD_FDSTORE_SOCKET   "fdstore.sock"   /* in the state directory */

enum hrpcd_fdstore_op {
	HRPCD_FDSTORE_HELLO  = 1,
	HRPCD_FDSTORE_STORE  = 2,
	HRPCD_FDSTORE_REMOVE = 3,
	HRPCD_FDSTORE_FETCH  = 4,
	HRPCD_FDSTORE_QUIT   = 5,
};

/* What a descriptor is to hostrpcd; the holder does not care. */
enum hrpcd_fdstore_role {
	HRPCD_FDSTORE_ANY         = 0, /* REMOVE only: every role */
	HRPCD_FDSTORE_LISTEN      = 1, /* an ivshmem endpoint's listening socket; value = shm size */
	HRPCD_FDSTORE_CONN        = 2, /* QEMU's connection to it */
	HRPCD_FDSTORE_SHM         = 3, /* the shared memfd; value = its size */
	HRPCD_FDSTORE_HOST_EVENT  = 4, /* index = vector: the guest rings it */
	HRPCD_FDSTORE_GUEST_EVENT = 5, /* index = vector: we ring it */
	HRPCD_FDSTORE_ROLE_MAX    = 5,
};

/* flags */
#define HRPCD_FDSTORE_LAST 0x1u    /* FETCH reply: no more follow */

struct hrpcd_fdstore_entry {
	char name[HRPCD_FDSTORE_NAME_MAX]; /* endpoint (guest) name, NUL-terminated and -padded */
	uint16_t role;                     /* enum hrpcd_fdstore_role */
	uint16_t index;
	uint32_t reserved;                 /* 0 */
	uint64_t value;                    /* per role (above) */
};

struct hrpcd_fdstore_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t op;                       /* enum hrpcd_fdstore_op */
	int32_t status;                    /* replies: 0 or -errno; requests: 0 */
	uint32_t count;                    /* entries in use (<= BATCH) */
	uint32_t flags;
	uint32_t pid;                      /* HELLO reply: the holder's pid */
	uint32_t total;                    /* HELLO reply: entries held; REMOVE reply: removed */
	uint32_t reserved;                 /* 0 */
	struct hrpcd_fdstore_entry entries[HRPCD_FDSTORE_BATCH];
};

_Static_assert(sizeof(struct hrpcd_fdstore_entry) == 80, "fdstore entry is 80 bytes");
_Static_assert(offsetof(struct hrpcd_fdstore_entry, role) == 64, "role at 64");
_Static_assert(offsetof(struct hrpcd_fdstore_entry, value) == 72, "value at 72");
_Static_assert(offsetof(struct hrpcd_fdstore_msg, entries) == 32, "entries at 32");
_Static_assert(sizeof(struct hrpcd_fdstore_msg) == 32 + 80 * HRPCD_FDSTORE_BATCH,
	       "fdstore message is 672 bytes");

#endif /* HOSTRPCD_FDSTORE_PROTO_H */
