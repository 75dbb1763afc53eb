/* SPDX-License-Identifier: MIT */
/*
 * worker-ctl.h - the supervisor's control channel to each worker.
 *
 * The daemon asks a worker what only the worker knows (today: its socket
 * service's listing) instead of reading files the worker writes
 * (STYLE.md, habit 12).  Each worker gets the end of a SOCK_SEQPACKET pair
 * at spawn (worker.h, descriptor 10) next to the one-way audit pair
 * (descriptor 9, audit-sink.h); this one carries requests one way and
 * replies the other.  One message is one datagram:
 *
 *   supervisor -> worker   struct hrpcd_ctl_msg { type, seq, flags, 0 }
 *   worker -> supervisor   struct hrpcd_ctl_msg { type, seq, status, len }
 *                          followed by `len` bytes
 *
 * Native endianness (both ends are the same binary).  `seq` is the
 * supervisor's: a reply whose seq names no pending request is dropped.
 *
 * The worker is the guest's (sandbox.h), so its replies are display data:
 * the supervisor cuts them at HRPCD_CTL_LISTING_MAX bytes (marked), turns
 * every byte outside printable ASCII, newline and tab into '?', and never
 * waits for them: a request fails with -ETIMEDOUT after `timeout_ms`, with
 * -ENODATA when the worker goes (or is replaced) first, and the
 * supervisor's loop keeps serving meanwhile.  A worker that sends garbage
 * (short, unknown type) has that datagram dropped and nothing else.
 *
 * Error convention: -errno (callbacks), -1 + GError (set-up).
 */
#ifndef HOSTRPCD_WORKER_CTL_H
#define HOSTRPCD_WORKER_CTL_H

#include <stdint.h>

#include <glib.h>

enum hrpcd_ctl_type {
	HRPCD_CTL_LIST_SOCKETS = 1,       /* flags: HRPCD_CTL_F_JSON */
	HRPCD_CTL_LIST_SOCKETS_REPLY = 2, /* status 0 + the listing, or -errno */
	HRPCD_CTL_MIGRATE_PORT = 3,       /* + one fd: hostrpc-migrate's port (migrate.h) */
	/* Worker -> supervisor, unasked: a migration's news.  seq: enum
	 * hrpcd_ctl_mig_event; status: 0 or -errno; a short text follows. */
	HRPCD_CTL_MIGRATION = 4,
	/* Supervisor -> a remnant, + one fd: the guest migrates back here;
	 * its incoming worker holds the other end (worker-priv.h).  No answer. */
	HRPCD_CTL_REMNANT_PEER = 5,
	/* Supervisor -> a remnant, the answer to its HRPCD_CTL_MIG_FWD_CONNECT:
	 * status 0, len sizeof(struct hrpc_mig_fwd_link) (the session, as the
	 * client) and the link's socket; or status -errno and nothing. */
	HRPCD_CTL_FWD_LINK = 6,
};

#define HRPCD_CTL_F_JSON  0x1u
#define HRPCD_CTL_F_FILES 0x2u /* the filesystem service's listing instead */
#define HRPCD_CTL_F_LOCATIONS 0x4u /* the location table instead (issue 14) */
/* The memory service's listing instead (hostrpcctl memory, issue 15); the
 * request may carry a struct hrpcd_ctl_mem_act to do first. */
#define HRPCD_CTL_F_MEMORY 0x8u

enum hrpcd_ctl_mem_op {
	HRPCD_CTL_MEM_GRANT = 1,    /* `chunks` more */
	HRPCD_CTL_MEM_RECLAIM = 2,  /* `chunks` back within deadline_ms (0: the policy's) */
};
struct hrpcd_ctl_mem_act {
	uint32_t op;
	uint32_t chunks;
	uint32_t deadline_ms;
	uint32_t reserved;
};

enum hrpcd_ctl_mig_event {
	HRPCD_CTL_MIG_OUT_ROLLBACK = 1,   /* source: serving again */
	HRPCD_CTL_MIG_IN_DONE = 2,        /* destination: the guest is served here */
	HRPCD_CTL_MIG_IN_FAILED = 3,      /* destination: gave up (text: why) */
	HRPCD_CTL_MIG_OUT_FAILED = 4,     /* source: not serving again, the guest
					   * stays (fenced at the quiesce; text: why) */
	HRPCD_CTL_MIG_OUT_REMNANT = 5,    /* source: migrated; the worker stays as the
					   * remnant of connections forwarded to it */
	HRPCD_CTL_MIG_FWD_CONNECT = 6,    /* a remnant: its guest moved on; open a
					   * forward link to "HOST PORT" (the text) for
					   * it (answer: HRPCD_CTL_FWD_LINK) */
};
#define HRPCD_CTL_MIG_TEXT_MAX 120

struct hrpcd_ctl_msg {
	uint32_t type;
	uint32_t seq;
	int32_t  status;  /* requests: flags */
	uint32_t len;     /* bytes following (replies) */
};
_Static_assert(sizeof(struct hrpcd_ctl_msg) == 16, "ctl message header is 16 bytes");

/* The most listing text that goes out (it must fit an admin event,
 * include/hostrpc/admin.h, with its header). */
#define HRPCD_CTL_LISTING_MAX (65536u - 64u)
#define HRPCD_CTL_TRUNCATED "\n[listing truncated]\n"
/* Requests in flight per guest; more answer -EBUSY. */
#define HRPCD_CTL_MAX_PENDING 8
#define HRPCD_CTL_DEFAULT_TIMEOUT_MS 2000

typedef struct _HrpcdWorkerCtl HrpcdWorkerCtl;

/* `status` 0: `text` (`len` bytes, printable, not NUL-terminated) is the
 * listing; else -errno and no text.  Called exactly once per request, from
 * the main loop (never from inside hrpcd_worker_ctl_list_sockets()). */
typedef void (*HrpcdWorkerCtlDone)(int status, const char *text, gsize len, gpointer data);

/* Sources go on `ctx` (NULL: the default context). */
HrpcdWorkerCtl *hrpcd_worker_ctl_new(guint timeout_ms, GMainContext *ctx);
/* Fails what is pending with -ECANCELED. */
void hrpcd_worker_ctl_free(HrpcdWorkerCtl *ctl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HrpcdWorkerCtl, hrpcd_worker_ctl_free)

/* A worker's migration news (HRPCD_CTL_MIGRATION): `text` is printable,
 * at most HRPCD_CTL_MIG_TEXT_MAX bytes; status 0 or -errno (clamped). */
typedef void (*HrpcdWorkerCtlMigFn)(guint32 guest_id, guint32 event, int status,
				    const char *text, gpointer data);
void hrpcd_worker_ctl_set_migration_cb(HrpcdWorkerCtl *ctl, HrpcdWorkerCtlMigFn fn, gpointer data);

/* A new worker of guest `guest_id`: replaces the previous worker's channel
 * (its pending requests fail with -ENODATA).  Returns the worker's end
 * (close it once the worker is forked), or -1 with `error` set. */
int hrpcd_worker_ctl_open(HrpcdWorkerCtl *ctl, guint32 guest_id, GError **error);
/* The guest is gone: pending requests fail with -ENODATA. */
void hrpcd_worker_ctl_release(HrpcdWorkerCtl *ctl, guint32 guest_id);

/* Hand hostrpc-migrate's port `fd` (a copy goes; the caller closes its
 * own) to the worker of `guest_id`.  0, -ENODATA (no worker), -errno. */
int hrpcd_worker_ctl_pass_port(HrpcdWorkerCtl *ctl, guint32 guest_id, int fd);
/* The same for any one-way request with a descriptor (HRPCD_CTL_REMNANT_PEER). */
int hrpcd_worker_ctl_pass_fd(HrpcdWorkerCtl *ctl, guint32 guest_id, guint32 type, int fd);
/* A one-way message with a status, `len` bytes and an optional descriptor
 * (HRPCD_CTL_FWD_LINK).  0, -ENODATA (no worker), -errno. */
int hrpcd_worker_ctl_send(HrpcdWorkerCtl *ctl, guint32 guest_id, guint32 type, int status,
			  const void *payload, gsize len, int fd);

/* Ask the worker of `guest_id` for its socket listing (flags: HRPCD_CTL_F_*;
 * F_FILES: its filesystem listing).  Returns 0 (`done`
 * will be called), -ENODATA (no worker channel) or -EBUSY. */
int hrpcd_worker_ctl_list_sockets(HrpcdWorkerCtl *ctl, guint32 guest_id, guint flags,
				  HrpcdWorkerCtlDone done, gpointer data);
/* The same with F_MEMORY and an action done first (NULL: none). */
int hrpcd_worker_ctl_memory(HrpcdWorkerCtl *ctl, guint32 guest_id, guint flags,
			    const struct hrpcd_ctl_mem_act *act, HrpcdWorkerCtlDone done,
			    gpointer data);

/* A worker's listing made safe to print (pure; exposed for tests): every
 * byte outside 0x20-0x7e, '\n' and '\t' becomes '?' in place, and text
 * longer than HRPCD_CTL_LISTING_MAX is cut there and ends with
 * HRPCD_CTL_TRUNCATED.  `buf` has room for HRPCD_CTL_LISTING_MAX bytes.
 * Returns the new length. */
gsize hrpcd_worker_ctl_sanitize(char *buf, gsize len, gboolean truncated);

#endif /* HOSTRPCD_WORKER_CTL_H */
