/* SPDX-License-Identifier: MIT */
/*
 * admin.h - service 512 (HRPC_SVC_ADMIN): hostrpcctl <-> hostrpcd.
 *
 * Host only.  hostrpcd serves it on its admin unix socket with the vport
 * transport (vport.h: frames over the stream, no shared memory); any
 * libhostrpc client can call it after the usual HELLO.
 *
 * Listing procedures are paged: a query names the lowest guest id it wants
 * (`first_id`), the reply is a struct hrpc_admin_page followed by `count`
 * records of `record_size` bytes each, and `next_id` is the first_id of the
 * next page (0: this was the last).  A client reads the fields it knows from
 * each record and skips `record_size` bytes, so later revisions may append
 * fields.  Strings are NUL-padded and always NUL-terminated by the daemon; a
 * client terminates its copy anyway.  All numbers are little-endian.
 *
 * The counters come from the per-guest worker processes and are display data
 * only: the daemon neither trusts nor acts on them.
 *
 * Errors (reply status): -EINVAL for a malformed query (wrong length,
 * reserved bits set), -ENOSYS for an unknown procedure.
 *
 * What only a guest's worker knows (its socket listing) is asked of the
 * worker, and the daemon does not wait for it while serving others: the
 * call (HRPC_ADMIN_SOCKETS_ASK) answers at once with a ticket, and the
 * answer follows as one event (HRPC_ADMIN_EV_SOCKETS) on the same
 * connection naming that ticket - the listing, or the worker's failure:
 * -ETIMEDOUT when it did not answer within `timeout_ms`, -ENODATA when it
 * went first or runs no socket service.  The text comes from a worker
 * (the guest's, hostrpc/daemon/sandbox.h): the daemon cuts it at
 * HRPC_ADMIN_SOCKETS_TEXT_MAX bytes (ending "[listing truncated]") and
 * sends only printable ASCII, newline and tab.
 */
#ifndef HOSTRPC_ADMIN_H
#define HOSTRPC_ADMIN_H

#include "compat.h"
#include "stats.h"

/* 2: HRPC_ADMIN_SOCKETS (4) retired for HRPC_ADMIN_SOCKETS_ASK (5) and its
 * event; 1 otherwise the same. */
#define HRPC_ADMIN_VERSION 2u

enum hrpc_admin_proc {
	HRPC_ADMIN_INFO     = 1, /* no payload -> struct hrpc_admin_info */
	HRPC_ADMIN_GUESTS   = 2, /* hrpc_admin_query -> hrpc_admin_page + hrpc_admin_guest[] */
	HRPC_ADMIN_CHANNELS = 3, /* hrpc_admin_query -> hrpc_admin_page + hrpc_admin_channel[] */
	/* Version 1 only (the listing from a file the worker wrote); a version
	 * 2 daemon answers -ENOSYS. */
	HRPC_ADMIN_SOCKETS  = 4,
	/* hrpc_admin_sockets_query -> hrpc_admin_sockets_ticket, then one
	 * HRPC_ADMIN_EV_SOCKETS event with the guest's outsourced-socket
	 * listing (text or JSON).  -ENOENT: no such guest; -ENODATA: no worker
	 * running; -EBUSY: too many questions to that worker in flight. */
	HRPC_ADMIN_SOCKETS_ASK = 5,
	/* No payload -> hrpc_admin_page + hrpc_admin_migration[]: the
	 * migrations this daemon took part in (the last 64, oldest first).
	 * A daemon without migrations answers -ENOSYS. */
	HRPC_ADMIN_MIGRATIONS = 6,
	/* hrpc_admin_memory_query -> hrpc_admin_sockets_ticket, then one
	 * HRPC_ADMIN_EV_SOCKETS event with the guest's memory listing after
	 * the query's action (issue 15; errors as SOCKETS_ASK, and the
	 * action's: -ENODEV no region, -ENOTCONN no guest driver yet, -ENOSPC
	 * nothing left to grant, -ENOENT nothing to reclaim). */
	HRPC_ADMIN_MEMORY_ASK = 7,
	/* hrpc_admin_audit_query -> hrpc_admin_audit_reply + `len` bytes: the
	 * newest lines of the guest's socket audit log, which the daemon
	 * writes itself (hostrpc/daemon/audit-sink.h), so no worker is asked.
	 * A guest that has gone is found by name (guest_id 0) as long as its
	 * log is there.  -ENOENT: no such guest and no log of that name. */
	HRPC_ADMIN_AUDIT = 8,
};

/* Events (daemon -> hostrpcctl), service HRPC_SVC_ADMIN. */
enum hrpc_admin_event {
	/* struct hrpc_admin_sockets_event + `len` bytes of listing */
	HRPC_ADMIN_EV_SOCKETS = 1,
};

enum hrpc_admin_transport {
	HRPC_ADMIN_TRANSPORT_NONE    = 0,
	HRPC_ADMIN_TRANSPORT_MEMFD   = 1, /* process guest: memfd rings over a unix socket */
	HRPC_ADMIN_TRANSPORT_IVSHMEM = 2, /* QEMU guest: ivshmem-doorbell */
	HRPC_ADMIN_TRANSPORT_VPORT   = 3, /* byte stream (virtio-serial) */
	HRPC_ADMIN_TRANSPORT_XEN     = 4, /* Xen domU: granted pages + event channels */
};

enum hrpc_admin_state {
	HRPC_ADMIN_STATE_UNKNOWN    = 0,
	HRPC_ADMIN_STATE_STARTING   = 1, /* worker runs, no HELLO yet */
	HRPC_ADMIN_STATE_NEGOTIATED = 2, /* HELLO done, serving */
	HRPC_ADMIN_STATE_FENCED     = 3, /* guest broke the protocol; worker exits */
	HRPC_ADMIN_STATE_CLOSED     = 4, /* guest said BYE or hung up; worker exits */
	HRPC_ADMIN_STATE_RESTARTING = 5, /* no worker; a fresh one is due (ivshmem) */
	HRPC_ADMIN_STATE_STOPPING   = 6, /* guest gone; its worker is being stopped */
	HRPC_ADMIN_STATE_REMNANT    = 7, /* the guest moved away; its worker relays the
	                                  * connections that stayed here (hostrpcctl
	                                  * locations) */
};

/* Names used by hostrpcctl's output (and its JSON). */
static inline const char *hrpc_admin_state_name(hrpc_u32 state)
{
	switch (state) {
	case HRPC_ADMIN_STATE_STARTING:   return "starting";
	case HRPC_ADMIN_STATE_NEGOTIATED: return "negotiated";
	case HRPC_ADMIN_STATE_FENCED:     return "fenced";
	case HRPC_ADMIN_STATE_CLOSED:     return "closed";
	case HRPC_ADMIN_STATE_RESTARTING: return "restarting";
	case HRPC_ADMIN_STATE_STOPPING:   return "stopping";
	case HRPC_ADMIN_STATE_REMNANT:    return "remnant";
	default:                          return "unknown";
	}
}

static inline const char *hrpc_admin_transport_name(hrpc_u32 transport)
{
	switch (transport) {
	case HRPC_ADMIN_TRANSPORT_MEMFD:   return "memfd";
	case HRPC_ADMIN_TRANSPORT_IVSHMEM: return "ivshmem";
	case HRPC_ADMIN_TRANSPORT_VPORT:   return "vport";
	case HRPC_ADMIN_TRANSPORT_XEN:     return "xen";
	default:                           return "none";
	}
}

struct hrpc_admin_info {
	hrpc_u32 version;     /* HRPC_ADMIN_VERSION */
	hrpc_u32 daemon_pid;
	hrpc_u32 guests;      /* guests known now */
	hrpc_u32 endpoints;   /* ivshmem endpoints (listening sockets for named guests) */
	hrpc_u64 uptime_ns;
	char     daemon[64];  /* "hostrpcd VERSION" */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_admin_info) == 88, "admin info is 88 bytes");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_admin_info, uptime_ns) == 16, "uptime at 16");

struct hrpc_admin_query {
	hrpc_u32 first_id;    /* report guests with id >= first_id (0: from the start) */
	hrpc_u32 guest_id;    /* 0: every guest; else only this one */
	hrpc_u32 max;         /* at most this many records; 0: as many as fit */
	hrpc_u32 reserved;    /* must be 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_admin_query) == 16, "admin query is 16 bytes");

struct hrpc_admin_page {
	hrpc_u32 count;       /* records following this header */
	hrpc_u32 record_size; /* bytes per record, >= the struct this header defines */
	hrpc_u32 next_id;     /* first_id of the next page; 0: no more */
	hrpc_u32 total;       /* guests the daemon knows now (all pages) */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_admin_page) == 16, "admin page is 16 bytes");

/* One guest: a process guest connection or a QEMU guest on an ivshmem endpoint. */
struct hrpc_admin_guest {
	hrpc_u32 guest_id;    /* small integer assigned by hostrpcd, never reused while it runs */
	hrpc_u16 transport;   /* enum hrpc_admin_transport */
	hrpc_u16 state;       /* enum hrpc_admin_state */
	hrpc_u32 worker_pid;  /* 0: no worker process right now */
	hrpc_u32 peer_pid;    /* process guest or QEMU (SO_PEERCRED); 0: unknown */
	hrpc_u32 restarts;    /* workers started for this guest after the first */
	hrpc_u32 reserved;
	hrpc_u64 age_ns;      /* since the guest connected */
	char     name[64];    /* endpoint name, or the sanitized HELLO label */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_admin_guest) == 96, "admin guest is 96 bytes");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_admin_guest, age_ns) == 24, "age at 24");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_admin_guest, name) == 32, "name at 32");

/* hrpc_admin_migration.direction / .state */
#define HRPC_ADMIN_MIG_OUT         1u   /* the guest left this host */
#define HRPC_ADMIN_MIG_IN          2u   /* the guest came to this host */
#define HRPC_ADMIN_MIG_UNDER_WAY   1u
#define HRPC_ADMIN_MIG_MIGRATED    2u
#define HRPC_ADMIN_MIG_ROLLED_BACK 3u   /* the guest runs on at the source */
#define HRPC_ADMIN_MIG_FAILED      4u

static inline const char *hrpc_admin_mig_state_name(hrpc_u32 state)
{
	switch (state) {
	case HRPC_ADMIN_MIG_UNDER_WAY:   return "under-way";
	case HRPC_ADMIN_MIG_MIGRATED:    return "migrated";
	case HRPC_ADMIN_MIG_ROLLED_BACK: return "rolled-back";
	case HRPC_ADMIN_MIG_FAILED:      return "failed";
	default:                         return "unknown";
	}
}

/* One migration of one guest, as this daemon saw it. */
struct hrpc_admin_migration {
	hrpc_u32 id;          /* ascending, this daemon's */
	hrpc_u32 guest_id;    /* the guest's id here */
	hrpc_u16 direction;   /* HRPC_ADMIN_MIG_OUT / _IN */
	hrpc_u16 state;       /* HRPC_ADMIN_MIG_* */
	hrpc_u32 reserved;
	hrpc_u64 started_unix_ns;
	hrpc_u64 duration_ns; /* to its end, or so far */
	char     guest[64];
	char     detail[128]; /* printable: how it ended, from the worker or the supervisor */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_admin_migration) == 224, "admin migration is 224 bytes");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_admin_migration, guest) == 32, "guest at 32");

/* One channel (today every guest has exactly one). */
struct hrpc_admin_channel {
	hrpc_u32 guest_id;
	hrpc_u16 transport;   /* enum hrpc_admin_transport */
	hrpc_u16 state;       /* enum hrpc_admin_state */
	hrpc_u32 generation;  /* shm channels: host_gen of the current layout */
	hrpc_u32 reserved;
	char     name[64];    /* as in hrpc_admin_guest */
	char     peer[64];    /* HELLO label as the worker saw it (printable ASCII) */
	char     fence_reason[160]; /* empty unless state is FENCED */
	struct hrpc_stats stats;
};
HRPC_STATIC_ASSERT(offsetof(struct hrpc_admin_channel, name) == 16, "name at 16");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_admin_channel, stats) == 304, "stats at 304");
HRPC_STATIC_ASSERT(sizeof(struct hrpc_admin_channel) == 384, "admin channel is 384 bytes");

#define HRPC_ADMIN_SOCKETS_F_JSON  0x1u
/* The filesystem service's exports and open files instead (hostrpcctl files). */
#define HRPC_ADMIN_SOCKETS_F_FILES 0x2u
/* The location table instead (hostrpcctl locations; issue 14). */
#define HRPC_ADMIN_SOCKETS_F_LOCATIONS 0x4u

struct hrpc_admin_sockets_query {
	hrpc_u32 guest_id;    /* 0: look the guest up by name */
	hrpc_u32 flags;       /* HRPC_ADMIN_SOCKETS_F_* */
	char     name[64];    /* NUL-terminated when guest_id is 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_admin_sockets_query) == 72, "sockets query is 72 bytes");

/* hostrpcctl audit */
#define HRPC_ADMIN_AUDIT_LINES_DEFAULT 20u
#define HRPC_ADMIN_AUDIT_LINES_MAX     1000u
struct hrpc_admin_audit_query {
	hrpc_u32 guest_id;    /* 0: look the guest (or its log) up by name */
	hrpc_u32 lines;       /* 0: HRPC_ADMIN_AUDIT_LINES_DEFAULT; at most _MAX */
	hrpc_u32 reserved[2]; /* must be 0 */
	char     name[64];    /* NUL-terminated when guest_id is 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_admin_audit_query) == 80, "audit query is 80 bytes");

struct hrpc_admin_audit_reply {
	hrpc_u32 guest_id;    /* 0: a guest that is gone, found by its log's name */
	hrpc_u32 lines;       /* lines in the text, each ending in a newline */
	hrpc_u32 len;         /* bytes of text following (printable ASCII and newlines) */
	hrpc_u32 reserved;
	char     name[64];
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_admin_audit_reply) == 80, "audit reply is 80 bytes");

struct hrpc_admin_sockets_ticket {
	hrpc_u32 ticket;      /* named by the event that answers; unique per connection */
	hrpc_u32 guest_id;
	hrpc_u32 timeout_ms;  /* the event comes within this (plus delivery) */
	hrpc_u32 reserved;
	char     name[64];
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_admin_sockets_ticket) == 80, "sockets ticket is 80 bytes");

struct hrpc_admin_sockets_event {
	hrpc_u32 ticket;
	hrpc_s32 status;      /* 0, or -ETIMEDOUT, -ENODATA, -EIO (the worker's answer was
			       * bad), -EFBIG (JSON longer than HRPC_ADMIN_SOCKETS_TEXT_MAX;
			       * the text form is cut instead) */
	hrpc_u32 guest_id;
	hrpc_u32 len;         /* bytes of listing following; 0 unless status is 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_admin_sockets_event) == 16, "sockets event is 16 bytes");

enum hrpc_admin_memory_op {
	HRPC_ADMIN_MEMORY_LIST = 0,
	HRPC_ADMIN_MEMORY_GRANT = 1,    /* mib more to the guest */
	HRPC_ADMIN_MEMORY_RECLAIM = 2,  /* mib back, within deadline_ms (0: the policy's) */
};

struct hrpc_admin_memory_query {
	hrpc_u32 guest_id;    /* 0: look the guest up by name */
	hrpc_u32 flags;       /* HRPC_ADMIN_SOCKETS_F_JSON */
	hrpc_u32 op;          /* enum hrpc_admin_memory_op */
	hrpc_u32 mib;         /* a multiple of 2 (HRPC_MEM_CHUNK), not 0 for an action */
	hrpc_u32 deadline_ms;
	hrpc_u32 reserved;
	char     name[64];    /* NUL-terminated when guest_id is 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_admin_memory_query) == 88, "memory query is 88 bytes");

/* The most listing text one event carries. */
#define HRPC_ADMIN_SOCKETS_TEXT_MAX (65536u - 64u)

#endif /* HOSTRPC_ADMIN_H */
