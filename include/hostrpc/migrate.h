/* SPDX-License-Identifier: MIT */
/*
 * migrate.h - what hostrpc-migrate says to the two workers of a migrating
 * guest (migrate/README.md has the sequence).
 *
 * Two conversations, one message set:
 *
 *  - the **port** to the source's worker: a SOCK_SEQPACKET connection to the
 *    source hostrpcd's migration socket (root only, mode 0600), which the
 *    supervisor hands to the guest's worker after the first message
 *    (struct hrpc_mig_open).  Large payloads travel in a sealed memfd
 *    (SCM_RIGHTS), the guest's socket descriptors as SCM_RIGHTS too.
 *  - the **link** to the destination's worker: frames of the authenticated
 *    host-to-host link (miglink.h) on a TCP connection the destination
 *    hostrpcd accepted on its migration address and handed to the fresh
 *    worker of the incoming guest.
 *
 * Every message is { struct hrpc_mig_msg, payload }; every request gets one
 * HRPC_MIG_STATUS (or the reply its row names).  The destination checks all
 * it receives: it comes from another host.
 *
 * Numbers are little-endian (compat.h).
 */
#ifndef HOSTRPC_MIGRATE_H
#define HOSTRPC_MIGRATE_H

#include "compat.h"
#include "netident.h"

#define HRPC_MIG_VERSION        1u
#define HRPC_MIG_PAGE_SIZE      4096u
#define HRPC_MIG_PORT_MAGIC     0x4f474d48u  /* "HMGO" */

enum hrpc_mig_type {
	/* port (source worker) */
	HRPC_MIG_QUIESCE    = 1,  /* stop serving; reply HRPC_MIG_STATE_OUT + memfd + fds */
	HRPC_MIG_STATE_OUT  = 2,  /* the worker's state (struct hrpc_mig_state + socket table) */
	HRPC_MIG_DIFF       = 3,  /* memfd: the destination's page hashes; reply HRPC_MIG_PAGES_OUT */
	HRPC_MIG_PAGES_OUT  = 4,  /* memfd: struct hrpc_mig_page records */
	HRPC_MIG_RESUME     = 5,  /* a rollback: serve again where we stopped */
	HRPC_MIG_DONE       = 6,  /* the guest runs at the destination: end */
	HRPC_MIG_HELLO      = 7,  /* the worker's greeting on a new port: struct hrpc_mig_hello */
	HRPC_MIG_FWD_LINK   = 8,  /* struct hrpc_mig_fwd_link, the link's socket; reply
	                           * STATUS (any time before the switch) */
	HRPC_MIG_FWD_KEEP   = 9,  /* u64 handles (1..HRPC_MIG_FWD_MAX), quiesced, after
	                           * FWD_LINK; reply STATUS.  At DONE the worker stays
	                           * as the remnant of those objects (issue 14) */
	HRPC_MIG_FWD_HOLD   = 10, /* empty, quiesced: the connections this worker
	                           * forwards to a remnant elsewhere are held there
	                           * (migfwd.h HOLD); reply FWD_HELD + memfd of
	                           * struct hrpc_mig_fwd_held records, then (FWD_HELD,
	                           * no memfd) the stand-ins' far ends in record order.
	                           * A RESUME lets the remnant go on. */
	HRPC_MIG_FWD_HELD   = 11,
	HRPC_MIG_FWD_MOVE   = 12, /* struct hrpc_mig_fwd_move, after the pages: the
	                           * remnant behind held link `link` opens a forward
	                           * link to the destination's listener and moves its
	                           * objects there (migfwd.h MOVE); reply STATUS: the
	                           * number moved, or -errno */
	HRPC_MIG_FS_KEEP    = 13, /* u64: tags of the filesystem servers that stay
	                           * (fsstate.h HRPC_FS_MIG_F_FORWARD), quiesced, after
	                           * FWD_LINK; reply STATUS.  At DONE the worker stays
	                           * as their remnant and serves the forwarded calls */
	HRPC_MIG_FS_FETCH   = 14, /* empty, quiesced: the servers of exports forwarded to
	                           * a remnant (fsstate.h HRPC_FS_MIG_F_FORWARD records of
	                           * STATE_OUT): the remnant lets go of their locks and
	                           * answers their state (migfwd.h FS_EXPORT); reply
	                           * FS_FETCHED + memfd of that filesystem table, or
	                           * STATUS.  A RESUME makes the remnant take them again */
	HRPC_MIG_FS_FETCHED = 15,
	/* link (destination worker) */
	HRPC_MIG_PREPARE    = 16, /* struct hrpc_mig_prepare; reply STATUS */
	HRPC_MIG_STATE_IN   = 17, /* struct hrpc_mig_state + socket table with TCP images */
	HRPC_MIG_HASH       = 18, /* struct hrpc_mig_hash_req; reply HRPC_MIG_HASHES */
	HRPC_MIG_HASHES     = 19, /* u64 per page of the shared memory */
	HRPC_MIG_PAGES_IN   = 20, /* struct hrpc_mig_page records; reply STATUS */
	HRPC_MIG_GO         = 21, /* adopt the channel, attach, announce, serve; reply STATUS */
	HRPC_MIG_ABORT      = 22, /* give up: the worker ends, nothing of the guest kept */
	HRPC_MIG_FWD_OPEN   = 23, /* empty: listen for the forward link; reply
	                           * HRPC_MIG_FWD_PORT, then STATUS once it is up */
	HRPC_MIG_FWD_PORT   = 24, /* struct hrpc_mig_fwd_port */
	HRPC_MIG_FWD_REMOTE = 25, /* u64 handles (0..HRPC_MIG_FWD_MAX), after the state:
	                           * the stand-ins whose remnant (elsewhere) will link
	                           * here; reply FWD_PORT, then STATUS once it did; or
	                           * STATUS at once: the remnant is on this host (they
	                           * become local again, no link) */
	HRPC_MIG_FS_HAVE    = 26, /* names[n][64] (1..64 of the guest's mounted exports,
	                           * NUL-padded), before the state; reply FS_HAVE:
	                           * u64, bit i set = this host's policy has names[i] */
	HRPC_MIG_FWD_REMOTE_FS = 27, /* as FWD_REMOTE, and the link also carries the calls
	                           * of the guest's forwarded exports (fsstate.h
	                           * HRPC_FS_MIG_F_FORWARD records of the state) */
	/* both */
	HRPC_MIG_STATUS     = 32, /* struct hrpc_mig_status */
};

struct hrpc_mig_msg {
	hrpc_u32 type;             /* enum hrpc_mig_type */
	hrpc_u32 nfds;             /* port: descriptors with this message */
	hrpc_u64 len;              /* payload bytes (port: in the message, or the memfd's) */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_msg) == 16, "migration message header is 16 bytes");

/* The first message on the source's migration socket: which guest. */
struct hrpc_mig_open {
	hrpc_u32 magic;            /* HRPC_MIG_PORT_MAGIC */
	hrpc_u32 version;          /* HRPC_MIG_VERSION */
	char     guest[64];        /* NUL-terminated name */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_open) == 72, "open is 72 bytes");

struct hrpc_mig_hello {
	hrpc_u64 shm_size;         /* the guest's shared memory */
	hrpc_u32 pid;              /* the worker's */
	hrpc_u32 reserved;         /* 0 */
	char     guest[64];
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_hello) == 80, "hello is 80 bytes");

struct hrpc_mig_status {
	hrpc_s32 status;           /* 0 or -errno */
	hrpc_u32 reserved;         /* 0 */
	char     message[120];     /* NUL-terminated, printable */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_status) == 128, "status is 128 bytes");

struct hrpc_mig_prepare {
	hrpc_u64 shm_size;         /* the guest's shared memory: must be the destination's */
	hrpc_u32 flags;            /* 0 */
	hrpc_u32 reserved;         /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_prepare) == 16, "prepare is 16 bytes");

/* struct hrpc_mig_state.flags */
#define HRPC_MIG_STATE_F_NEGOTIATED 0x1u   /* the guest said HELLO */
#define HRPC_MIG_STATE_F_IDENT      0x2u   /* `ident` is the guest's network identity */
#define HRPC_MIG_STATE_F_SOCK       0x4u   /* a socket table follows */
#define HRPC_MIG_STATE_F_FS         0x8u   /* then a filesystem table (fsstate.h) */
#define HRPC_MIG_STATE_F_ALL        0xfu
#define HRPC_MIG_STATE_MAGIC        0x5453474du  /* "MGST" */

/* The worker's state; the socket table (sockstate.h; its header says its
 * size) and the filesystem table (fsstate.h) follow, each if its flag says. */
struct hrpc_mig_state {
	hrpc_u32 magic;            /* HRPC_MIG_STATE_MAGIC */
	hrpc_u32 flags;            /* HRPC_MIG_STATE_F_* */
	hrpc_u16 revision;         /* the channel's negotiated protocol revision */
	hrpc_u16 reserved0;        /* 0 */
	hrpc_u32 reserved1;        /* 0 */
	hrpc_u64 features;         /* negotiated HRPC_FEAT_* */
	char     peer[64];         /* the guest's HELLO label, printable */
	char     ifname[16];       /* the source's identity interface: the worker names
	                            * it, the tool reads `ident` there */
	struct hrpc_netident ident;
};
HRPC_STATIC_ASSERT(offsetof(struct hrpc_mig_state, ident) == 104, "ident at 104");

/*
 * The forward link (migfwd.h) of the objects that stay at the source.  The
 * destination's worker listens (FWD_OPEN, on the address the migration
 * link came to), hostrpc-migrate connects and authenticates as on the
 * migration link, and hands the link's socket and session (never the
 * pair's key) to the source's worker (FWD_LINK), then at the quiesce the
 * handles of the objects that stay (FWD_KEEP).  With --prepare the link
 * is made before pre-copy, out of the guest's downtime.
 */
struct hrpc_mig_fwd_port {
	hrpc_u16 port;             /* TCP, on the migration link's address */
	hrpc_u16 reserved[3];      /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_fwd_port) == 8, "fwd port is 8 bytes");

#define HRPC_MIG_FWD_MAX 256u      /* objects one migration leaves behind */

struct hrpc_mig_fwd_link {
	hrpc_u32 reserved[2];      /* 0 */
	hrpc_u8  k_send[32], k_recv[32];   /* the session, as the client (this end) */
	hrpc_u64 seq_send, seq_recv;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_fwd_link) == 88, "fwd link is 88 bytes");

/* One held connection: the bytes the remnant sent that its stand-in here
 * has not passed on (pend_len of them follow the record). */
struct hrpc_mig_fwd_held {
	hrpc_u64 handle;
	hrpc_u32 pend_len;         /* <= HRPC_FWD_WINDOW */
	hrpc_u16 flags;            /* HRPC_MIG_FWD_HELD_F_* */
	hrpc_u16 link;             /* which of the worker's forward links (FWD_MOVE) */
};
#define HRPC_MIG_FWD_HELD_F_SHUT 0x1u   /* half closed: it cannot become local again */
#define HRPC_MIG_FWD_HELD_F_LINK 0x2u   /* not a connection: link `link` is held (it may
                                         * carry only a listener's copy); handle 0, no
                                         * bytes, no descriptor */
#define HRPC_MIG_FWD_HELD_F_FILES 0x4u  /* with F_LINK: the link also carries the calls
                                         * of the guest's forwarded exports */
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_fwd_held) == 16, "fwd held is 16 bytes");

struct hrpc_mig_fwd_move {
	hrpc_u16 link;             /* as in struct hrpc_mig_fwd_held */
	hrpc_u16 port;             /* the destination's forward listener */
	hrpc_u32 reserved;         /* 0 */
	char     host[64];         /* the destination's address, numeric */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_fwd_move) == 72, "fwd move is 72 bytes");

struct hrpc_mig_hash_req {
	hrpc_u64 seed;             /* keys the page hash (a fresh random value) */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_hash_req) == 8, "hash request is 8 bytes");

/* One page of the shared memory as the source has it. */
struct hrpc_mig_page {
	hrpc_u32 index;            /* page number in the shared memory */
	hrpc_u32 reserved;         /* 0 */
	hrpc_u8  bytes[HRPC_MIG_PAGE_SIZE];
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_page) == 8 + HRPC_MIG_PAGE_SIZE, "page record");

/* A page's hash, keyed by the seed: the source and the destination compare
 * theirs to find the pages the host wrote after QEMU last sent them (QEMU
 * cannot see another process's writes to shared memory). */
static inline hrpc_u64 hrpc_mig_page_hash(const void *page, hrpc_u64 seed)
{
	const hrpc_u8 *p = (const hrpc_u8 *)page;
	hrpc_u64 h = seed ^ 0x9e3779b97f4a7c15ull, w;

	for (unsigned int i = 0; i < HRPC_MIG_PAGE_SIZE; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 32);
}

#endif /* HOSTRPC_MIGRATE_H */
