/* SPDX-License-Identifier: MIT */
/*
 * chardev.h - ioctl interface of /dev/hostrpcN, the char device of the guest
 * core module (drivers-frontend/core).  Included by the module and by guest
 * userspace; uses only the uapi types of <linux/types.h>.
 *
 * Conventions: pointers travel as __u64; every struct starts with `argsz`
 * (the caller's sizeof) so fields can be appended later: the module takes
 * an argsz larger than its own struct when the bytes it does not know are 0
 * (else E2BIG), one smaller is EINVAL, and the size encoded in the command
 * number is ignored (argsz says it).  Reserved fields and unknown flags must
 * be 0 (else EINVAL).  ioctl() returns 0 when the
 * transport worked - the host's own result is in `status` - and -1 with
 * errno for local and transport errors (ENOTCONN, ECONNRESET, ETIMEDOUT,
 * EINTR, EPROTO, ENODEV, EFAULT, EINVAL, ENOSPC, E2BIG).
 *
 * Events: HRPC_IOC_SUBSCRIBE(service) queues that service's events on the
 * open file; read() returns one struct hrpc_ioc_event plus its payload per
 * call (EMSGSIZE if the buffer is too small for the next one), blocks unless
 * O_NONBLOCK, and poll() reports POLLIN.  A full queue drops events and
 * counts them in the next event's `dropped`.
 */
#ifndef HOSTRPC_CHARDEV_H
#define HOSTRPC_CHARDEV_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define HRPC_CHARDEV_NAME      "hostrpc"   /* /dev/hostrpc0, 1, ... */
#define HRPC_IOC_TYPE          0xB7
#define HRPC_IOC_MAX_BULK      (16u << 20) /* per call, also capped by the data area */

/* struct hrpc_ioc_info.state */
enum hrpc_ioc_state {
	HRPC_IOC_STATE_DETACHED = 0, /* waiting for the host */
	HRPC_IOC_STATE_ATTACHING = 1,
	HRPC_IOC_STATE_ATTACHED = 2,
	HRPC_IOC_STATE_BROKEN = 3,   /* host broke the protocol; waiting for a reset */
	HRPC_IOC_STATE_DEAD = 4,     /* device removed */
};

struct hrpc_ioc_info {
	__u32 argsz;
	__u32 state;         /* enum hrpc_ioc_state */
	__s32 last_error;    /* last attach error (0 or -errno) */
	__u32 guest_id;      /* from WELCOME */
	__u16 revision;      /* negotiated protocol revision */
	__u16 reserved0;
	__u32 host_gen;      /* generation attached to */
	__u64 features;      /* negotiated HRPC_FEAT_* */
	__u32 req_size;      /* ring bytes */
	__u32 rsp_size;
	__u32 data_size;     /* bulk data area bytes */
	__u32 data_free;     /* bulk bytes currently free */
	__u64 calls;         /* calls published */
	__u64 replies;       /* replies matched to a call */
	__u64 events;        /* events received */
	__u64 unknown_replies; /* replies whose call id was not in flight */
	__u64 bad_replies;   /* replies failing the checks (bulk ref, kind) */
	__u64 orphan_replies;/* late replies to calls that gave up */
	__u64 ring_irqs;     /* MSI-X vector 0 */
	__u64 reset_irqs;    /* MSI-X vector 1 */
	__u64 doorbells;     /* doorbells rung to the host */
	__u64 resets;        /* re-attaches after a host reset */
	__u64 poll_hits;     /* polled calls completed while spinning */
	__u64 poll_misses;   /* polled calls that fell back to sleeping */
	char  server[64];    /* server label from WELCOME, NUL-terminated */
};

/* struct hrpc_ioc_call.flags */
#define HRPC_IOC_CALL_POLL   0x1u  /* bounded polling, then sleep */
#define HRPC_IOC_CALL_ASYNC  0x2u  /* through the in-kernel async API (tests it);
				    * a transport error then shows in `status` */
#define HRPC_IOC_CALL_FLAGS  (HRPC_IOC_CALL_POLL | HRPC_IOC_CALL_ASYNC)

/*
 * One call.  Inline request `req`/`req_len` (<= 65536), inline reply into
 * `rep`/`rep_cap`.  Bulk: when `bulk_cap` is non-zero the module allocates a
 * bulk buffer of `bulk_cap` bytes, copies `bulk_len` bytes from `bulk_in`
 * into it, and after the reply copies the reply's bulk bytes (at most
 * `bulk_out_cap`) to `bulk_out`.  Reply payload or bulk data longer than the
 * buffer is truncated; `rep_len`/`rep_bulk_len` still say the full length.
 */
struct hrpc_ioc_call {
	__u32 argsz;
	__u16 service;
	__u16 proc;
	__u32 flags;         /* HRPC_IOC_CALL_* */
	__u32 timeout_ms;    /* 0 = module default */
	__u32 poll_us;       /* spin budget with HRPC_IOC_CALL_POLL; 0 = module default */
	__u32 req_len;
	__u64 req;
	__u64 rep;
	__u32 rep_cap;
	__u32 bulk_len;      /* request bytes at bulk_in */
	__u64 bulk_in;
	__u64 bulk_out;
	__u32 bulk_cap;      /* bulk buffer size, 0 = no bulk */
	__u32 bulk_out_cap;
	/* out */
	__s32 status;        /* host's 0 / -errno */
	__u32 rep_len;
	__u32 rep_bulk_pos;  /* where the reply bulk bytes started in the buffer */
	__u32 rep_bulk_len;
	__u64 elapsed_ns;    /* kernel: call published -> reply processed */
};

struct hrpc_ioc_event {
	__u16 service;
	__u16 event;         /* proc field of the EVENT */
	__u32 len;           /* payload bytes following this struct */
	__u32 dropped;       /* events dropped before this one (queue full) */
	__u32 reserved;
};

/*
 * Testing only: HRPC_IOC_DEBUG_FORGE writes into shared memory what a hostile
 * guest would, rings the doorbell (unless HRPC_IOC_FORGE_F_QUIET) and leaves
 * the channel BROKEN until the host resets it.  EPERM unless the module was
 * loaded with debug_forge=1.
 */
enum hrpc_ioc_forge_what {
	HRPC_IOC_FORGE_REQ_PROD = 1, /* request ring prod = ours + value
				      * (0: ring size + 8, more than it holds) */
	HRPC_IOC_FORGE_REC_LEN = 2,  /* publish only the header of a record
				      * claiming `value` payload bytes (0: 65536) */
};

/* struct hrpc_ioc_forge.flags */
#define HRPC_IOC_FORGE_F_QUIET 0x1u  /* publish only, ring no doorbell: the host
				      * finds the forgery whenever it next looks
				      * (its next doorbell, a migration's quiesce) */
#define HRPC_IOC_FORGE_FLAGS   HRPC_IOC_FORGE_F_QUIET

struct hrpc_ioc_forge {
	__u32 argsz;
	__u32 what;          /* enum hrpc_ioc_forge_what */
	__u32 value;
	__u32 flags;         /* HRPC_IOC_FORGE_F_*; was `reserved` (must be 0):
			      * a module without flags refuses one (EINVAL) */
};

_Static_assert(sizeof(struct hrpc_ioc_info) == 208, "hrpc_ioc_info is 208 bytes");
_Static_assert(sizeof(struct hrpc_ioc_call) == 96, "hrpc_ioc_call is 96 bytes");
_Static_assert(sizeof(struct hrpc_ioc_event) == 16, "hrpc_ioc_event is 16 bytes");
_Static_assert(sizeof(struct hrpc_ioc_forge) == 16, "hrpc_ioc_forge is 16 bytes");
_Static_assert(__builtin_offsetof(struct hrpc_ioc_forge, flags) == 12,
	       "hrpc_ioc_forge.flags is where `reserved` was");

#define HRPC_IOC_INFO        _IOWR(HRPC_IOC_TYPE, 0x00, struct hrpc_ioc_info)
#define HRPC_IOC_CALL        _IOWR(HRPC_IOC_TYPE, 0x01, struct hrpc_ioc_call)
#define HRPC_IOC_SUBSCRIBE   _IOW(HRPC_IOC_TYPE, 0x02, __u32)
#define HRPC_IOC_UNSUBSCRIBE _IOW(HRPC_IOC_TYPE, 0x03, __u32)
#define HRPC_IOC_DEBUG_FORGE _IOW(HRPC_IOC_TYPE, 0x04, struct hrpc_ioc_forge)

#endif /* HOSTRPC_CHARDEV_H */
