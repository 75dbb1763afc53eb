/* SPDX-License-Identifier: MIT */
/*
 * sock.h - service 16: outsourced sockets.
 *
 * The guest's TCP and UDP sockets (IPv4 and IPv6) live in the host's network
 * stack, inside the guest's hostrpcd worker (outsource/sock/).  The guest
 * half is drivers-frontend/sock/ (or a process guest using libhostrpc).
 *
 * Model.  Every procedure is non-blocking on the host: a call that cannot
 * complete now fails with -EAGAIN (send, recv, accept) or -EINPROGRESS
 * (connect), and the guest waits for a READY event before it tries again.
 * Blocking semantics, timeouts (SO_RCVTIMEO/SO_SNDTIMEO), MSG_WAITALL and
 * signals are the guest's business; the host never sleeps on behalf of a
 * guest, so one guest socket can never stall the worker.
 *
 * Handles.  A socket is named by a 64-bit handle: table index in the low 32
 * bits, a generation number (never 0) in the high 32 bits.  A handle of a
 * closed socket stays invalid for good (its slot gets a new generation when
 * reused): -EBADF.  Handles are never host fds or pointers.
 *
 * Numbers.  Families, socket types, protocols, option levels and names,
 * MSG_* flags, poll bits and errno values are Linux's (x86-64/generic):
 * AF_INET = 2, AF_INET6 = 10, SOCK_STREAM = 1, SOCK_DGRAM = 2,
 * SOL_SOCKET = 1, EPOLLIN = 0x1 ...  Ports travel as plain numbers
 * (little-endian u16, *not* network byte order); addresses as bytes in
 * network order.
 *
 * Readiness.  Each reply about a socket carries `struct hrpc_sock_state`:
 * the socket's poll mask right after the operation and a per-socket sequence
 * number.  The host then watches the host socket for the bits that were
 * *not* set ("rising edges") and sends one READY event with the new mask
 * when one of them comes up.  A guest applies a state only if its seq is
 * newer than the last one it applied for that socket (replies and events can
 * be consumed by different guest threads in a different order than sent);
 * seq comparisons are modulo 2^32: (s32)(new - old) > 0.  Falling edges
 * (e.g. no longer writable) are not announced: the guest learns them from
 * the mask of its next reply (typically -EAGAIN).
 *
 * Credits (flow control of host->guest traffic).  READY events are the only
 * messages the host sends unasked.  The host may send one READY message per
 * event credit; INIT grants the first credits and CREDIT grants more.  With
 * no credit left the host keeps at most one pending state per socket
 * (coalesced, latest wins) and sends them once credit arrives, so the memory
 * the host spends on a guest that does not listen is bounded by its socket
 * count.  Data is never pushed: send and recv move bytes directly between
 * the guest's buffer and the host socket (no host-side buffering beyond the
 * kernel's socket buffers, which SO_SNDBUF/SO_RCVBUF bound).  The guest may
 * not hold more than HRPC_SOCK_MAX_CREDIT credits: a grant beyond that fails
 * with -EINVAL and grants nothing.
 *
 * Data.  SEND takes its bytes from the call's bulk buffer if the call has
 * one (BULK flag), else from the inline payload right after the request
 * struct.  RECV writes into the bulk buffer if there is one (reply bulk at
 * offset 0), else inline after the reply struct.  One call moves at most
 * HRPC_SOCK_MAX_IO bytes; larger lengths are clamped (not an error), as
 * Linux clamps large writes.
 *
 * Version 2: data rings.  A guest that says version 2 in INIT (and gets it
 * back, with HRPC_SOCK_FEAT_AREAS) may give a socket a socket area in the
 * channel's data area (include/hostrpc/sockring.h): SOCKET with
 * HRPC_SOCK_F_AREA and a struct hrpc_sock_area after the request, ACCEPT
 * with arg = HRPC_SOCK_F_AREA and the new socket's area after the request.
 * Such a socket's bytes never travel in calls (SEND and RECV on it are
 * -EINVAL): the guest writes into the out ring and reads the in ring, and
 * the host's worker drains and fills them (outsource/sock/sockarea.h).
 * Doorbells only where the other side asked (event indexes):
 *   - guest -> host: KICK, a one-way call naming up to HRPC_SOCK_KICK_MAX
 *     handles whose out ring got bytes (or in ring got room) while the host
 *     had asked for a doorbell (hrpc_ring_need_notify() /
 *     hrpc_ring_consumed_notify() said so); a busy host is never kicked;
 *   - host -> guest: a READY event for the socket when a ring moved that
 *     the guest had armed, or the host's words in the area header changed
 *     (error, EOF).  For an area socket the guest takes its poll mask from
 *     the rings and the header (POLLIN: in ring not empty or EOF; POLLOUT:
 *     out ring not full), the event's mask only as a wake-up.
 * SHUT_WR on an area socket is the guest's HRPC_SOCK_AREA_G_SHUTWR flag and
 * a KICK (the FIN goes after the bytes still in the ring); SHUTDOWN with
 * SHUT_RD works as in version 1.  Listening sockets need no area (one given
 * stays unused).  Version 1 guests are served as before.
 *
 * Closing.  CLOSE never waits on the host: SO_LINGER with a timeout is
 * cleared before the host closes, and the host kernel finishes the close in
 * the background.  A guest that honours SO_LINGER does the waiting itself
 * (drivers-frontend/sock/README.md): SHUTDOWN(SHUT_WR) (an area socket:
 * HRPC_SOCK_AREA_G_SHUTWR), then it polls GETSOCKOPT(IPPROTO_TCP, TCP_INFO)
 * (the first byte is the host socket's TCP state, Linux's numbers) until
 * the FIN is acknowledged or its linger time is up, then CLOSE.  SO_LINGER
 * {1, 0} set before CLOSE makes the CLOSE a reset.  An area socket's out
 * ring is not drained by CLOSE: bytes the guest wants delivered must be
 * taken by the host first (the guest waits for cons == prod before CLOSE).
 * No procedure was added for this: older hosts serve it as well.
 *
 * Policy.  The host may refuse a bind, connect or sendto destination:
 * -EACCES (bind: also below port 1024 when the policy says so) and the
 * refusal is written to the guest's audit log on the host.  Quota of
 * sockets exhausted: -EMFILE.
 */
#ifndef HOSTRPC_SOCK_H
#define HOSTRPC_SOCK_H

#include "compat.h"

#define HRPC_SOCK_VERSION     1
#define HRPC_SOCK_VERSION_2   2   /* data rings (see "Version 2") */
/* hrpc_sock_init_rep.features */
#define HRPC_SOCK_FEAT_AREAS  0x1ull
/* Most handles in one KICK. */
#define HRPC_SOCK_KICK_MAX    256u

/* Largest byte count of one SEND or RECV. */
#define HRPC_SOCK_MAX_IO      (4u << 20)
/* Most event credits a guest may hold at once. */
#define HRPC_SOCK_MAX_CREDIT  4096u
/* Largest option value. */
#define HRPC_SOCK_OPT_MAX     256u
/* Most states in one READY event. */
#define HRPC_SOCK_EV_MAX_STATES 256u

enum hrpc_sock_proc {
	HRPC_SOCK_INIT       = 1,  /* hrpc_sock_init_req -> hrpc_sock_init_rep */
	HRPC_SOCK_SOCKET     = 2,  /* hrpc_sock_socket_req -> hrpc_sock_handle_rep */
	HRPC_SOCK_CLOSE      = 3,  /* hrpc_sock_handle_req -> (nothing) */
	HRPC_SOCK_BIND       = 4,  /* hrpc_sock_addr_req -> hrpc_sock_state */
	HRPC_SOCK_LISTEN     = 5,  /* hrpc_sock_handle_req (arg = backlog) -> hrpc_sock_state */
	HRPC_SOCK_CONNECT    = 6,  /* hrpc_sock_addr_req -> hrpc_sock_state */
	HRPC_SOCK_ACCEPT     = 7,  /* hrpc_sock_handle_req (arg = 0) -> hrpc_sock_accept_rep */
	HRPC_SOCK_SEND       = 8,  /* hrpc_sock_send_req + data -> hrpc_sock_io_rep */
	HRPC_SOCK_RECV       = 9,  /* hrpc_sock_recv_req -> hrpc_sock_io_rep + data */
	HRPC_SOCK_SHUTDOWN   = 10, /* hrpc_sock_handle_req (arg = SHUT_*) -> hrpc_sock_state */
	HRPC_SOCK_GETNAME    = 11, /* hrpc_sock_handle_req (arg = 1: peer) -> hrpc_sock_name_rep */
	HRPC_SOCK_SETSOCKOPT = 12, /* hrpc_sock_opt -> hrpc_sock_state */
	HRPC_SOCK_GETSOCKOPT = 13, /* hrpc_sock_opt (len = capacity) -> hrpc_sock_opt */
	HRPC_SOCK_IOCTL      = 14, /* hrpc_sock_handle_req (arg = cmd) -> hrpc_sock_ioctl_rep */
	HRPC_SOCK_POLL       = 15, /* hrpc_sock_handle_req -> hrpc_sock_state */
	HRPC_SOCK_CREDIT     = 16, /* hrpc_sock_credit -> hrpc_sock_credit */
	HRPC_SOCK_KICK       = 17, /* one-way (version 2): 1..KICK_MAX x u64 handle */
	HRPC_SOCK_PROC_MAX   = 17,
};

enum hrpc_sock_event {
	/* payload: 1..HRPC_SOCK_EV_MAX_STATES x struct hrpc_sock_ev_state */
	HRPC_SOCK_EV_READY = 1,
};

/* Linux numbering, so neither side needs a translation table. */
#define HRPC_AF_INET          2
#define HRPC_AF_INET6         10
#define HRPC_SOCK_STREAM      1
#define HRPC_SOCK_DGRAM       2
#define HRPC_IPPROTO_TCP      6
#define HRPC_IPPROTO_UDP      17

/* poll bits (EPOLL* / POLL* of Linux) */
#define HRPC_POLLIN           0x0001u
#define HRPC_POLLPRI          0x0002u
#define HRPC_POLLOUT          0x0004u
#define HRPC_POLLERR          0x0008u
#define HRPC_POLLHUP          0x0010u
#define HRPC_POLLRDHUP        0x2000u

/* MSG_* flags accepted by SEND/RECV (others: -EOPNOTSUPP) */
#define HRPC_MSG_OOB          0x0001u
#define HRPC_MSG_PEEK         0x0002u
#define HRPC_MSG_DONTROUTE    0x0004u
#define HRPC_MSG_TRUNC        0x0020u
#define HRPC_MSG_DONTWAIT     0x0040u /* accepted; every host call is non-blocking */
#define HRPC_MSG_EOR          0x0080u
#define HRPC_MSG_WAITALL      0x0100u /* accepted; the guest loops */
#define HRPC_MSG_NOSIGNAL     0x4000u /* accepted; the host never raises SIGPIPE */
#define HRPC_MSG_MORE         0x8000u
#define HRPC_MSG_CTRUNC       0x0008u /* reply msg_flags only */

/* ioctl commands (IOCTL arg) */
#define HRPC_SIOCINQ          0x541Bu /* FIONREAD */
#define HRPC_SIOCOUTQ         0x5411u
#define HRPC_SIOCOUTQNSD      0x894Bu
#define HRPC_SIOCATMARK       0x8905u

/* hrpc_sock_socket_req.flags */
#define HRPC_SOCK_F_AREA      0x1u /* version 2: a struct hrpc_sock_area follows */
#define HRPC_SOCK_F_KNOWN     HRPC_SOCK_F_AREA

static inline hrpc_u64 hrpc_sock_handle(hrpc_u32 index, hrpc_u32 gen)
{
	return ((hrpc_u64)gen << 32) | index;
}
static inline hrpc_u32 hrpc_sock_handle_index(hrpc_u64 h) { return (hrpc_u32)h; }
static inline hrpc_u32 hrpc_sock_handle_gen(hrpc_u64 h) { return (hrpc_u32)(h >> 32); }

/* A socket address.  family 0 = none (e.g. getpeername of an unconnected
 * UDP socket is -ENOTCONN, not this). */
struct hrpc_sock_addr {
	hrpc_u16 family;      /* HRPC_AF_INET / HRPC_AF_INET6 */
	hrpc_u16 port;        /* plain number, not network order */
	hrpc_u32 flowinfo;    /* IPv6 only, else 0 */
	hrpc_u8  addr[16];    /* IPv4: 4 bytes then 12 zero bytes */
	hrpc_u32 scope_id;    /* IPv6 only, else 0 */
	hrpc_u32 reserved;    /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_addr) == 32, "sock addr is 32 bytes");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_sock_addr, addr) == 8, "addr at 8");

/* Readiness of one socket after an operation (see "Readiness" above). */
struct hrpc_sock_state {
	hrpc_u32 mask;        /* HRPC_POLL* */
	hrpc_u32 seq;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_state) == 8, "sock state is 8 bytes");

struct hrpc_sock_init_req {
	hrpc_u32 version;     /* HRPC_SOCK_VERSION */
	hrpc_u32 credit;      /* initial event credits, <= HRPC_SOCK_MAX_CREDIT */
	hrpc_u64 reserved;    /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_init_req) == 16, "init req is 16 bytes");

/*
 * INIT may be repeated (a guest that re-attached after a channel reset): it
 * closes every socket of the guest and sets the credit anew.
 */
struct hrpc_sock_init_rep {
	hrpc_u32 version;     /* HRPC_SOCK_VERSION */
	hrpc_u32 max_sockets; /* this guest's quota */
	hrpc_u32 max_io;      /* HRPC_SOCK_MAX_IO */
	hrpc_u32 max_credit;  /* HRPC_SOCK_MAX_CREDIT */
	hrpc_u64 features;    /* 0 in version 1; version 2: HRPC_SOCK_FEAT_AREAS */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_init_rep) == 24, "init rep is 24 bytes");

struct hrpc_sock_socket_req {
	hrpc_u16 family;      /* HRPC_AF_INET, HRPC_AF_INET6; else -EAFNOSUPPORT */
	hrpc_u16 type;        /* HRPC_SOCK_STREAM, HRPC_SOCK_DGRAM; else -ESOCKTNOSUPPORT */
	hrpc_u32 protocol;    /* 0, or TCP for stream / UDP for dgram; else -EPROTONOSUPPORT */
	hrpc_u32 flags;       /* 0 */
	hrpc_u32 reserved;    /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_socket_req) == 16, "socket req is 16 bytes");

struct hrpc_sock_handle_rep {
	hrpc_u64 handle;
	struct hrpc_sock_state state;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_handle_rep) == 16, "handle rep is 16 bytes");

struct hrpc_sock_handle_req {
	hrpc_u64 handle;
	hrpc_u32 arg;         /* per procedure */
	hrpc_u32 reserved;    /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_handle_req) == 16, "handle req is 16 bytes");

/* BIND and CONNECT.  CONNECT with family AF_UNSPEC (0) dissolves a UDP
 * association, as connect(AF_UNSPEC) does. */
struct hrpc_sock_addr_req {
	hrpc_u64 handle;
	hrpc_u32 flags;       /* 0 */
	hrpc_u32 reserved;    /* 0 */
	struct hrpc_sock_addr addr;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_addr_req) == 48, "addr req is 48 bytes");

struct hrpc_sock_accept_rep {
	hrpc_u64 handle;                 /* the new socket */
	struct hrpc_sock_state state;    /* of the new socket */
	struct hrpc_sock_state lstate;   /* of the listening socket */
	hrpc_u64 reserved;
	struct hrpc_sock_addr peer;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_accept_rep) == 64, "accept rep is 64 bytes");

/* SEND (send, sendto, sendmsg without control data).  Data: `len` bytes,
 * inline after this struct, or the first `len` bytes of the bulk buffer
 * (then len must equal the call's bulk_len). */
struct hrpc_sock_send_req {
	hrpc_u64 handle;
	hrpc_u32 flags;       /* HRPC_MSG_* */
	hrpc_u32 len;
	hrpc_u32 has_addr;    /* 1: sendto `addr` */
	hrpc_u32 reserved;    /* 0 */
	struct hrpc_sock_addr addr;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_send_req) == 56, "send req is 56 bytes");

struct hrpc_sock_recv_req {
	hrpc_u64 handle;
	hrpc_u32 flags;       /* HRPC_MSG_* */
	hrpc_u32 len;         /* at most this many bytes (clamped to the buffer) */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_recv_req) == 16, "recv req is 16 bytes");

/* Reply of SEND and RECV.  RECV: `len` bytes follow (inline) or lie at
 * offset 0 of the bulk buffer; `full_len` is the datagram's real size (UDP:
 * larger than len means MSG_TRUNC, which is set in msg_flags); `addr` is the
 * sender (UDP) or family 0. */
struct hrpc_sock_io_rep {
	hrpc_u32 len;
	hrpc_u32 full_len;
	hrpc_u32 msg_flags;
	hrpc_u32 reserved;
	struct hrpc_sock_state state;
	struct hrpc_sock_addr addr;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_io_rep) == 56, "io rep is 56 bytes");

struct hrpc_sock_name_rep {
	struct hrpc_sock_addr addr;
	struct hrpc_sock_state state;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_name_rep) == 40, "name rep is 40 bytes");

/*
 * SETSOCKOPT: `len` bytes of `val`.  GETSOCKOPT: request `len` = capacity;
 * reply `len` = bytes of the value.  Supported options (others:
 * -ENOPROTOOPT; SO_BINDTODEVICE and friends: -EPERM) are listed in
 * drivers-frontend/sock/README.md.  SO_RCVTIMEO/SO_SNDTIMEO are the guest's.
 */
struct hrpc_sock_opt {
	hrpc_u64 handle;      /* request only; 0 in the reply */
	hrpc_u32 level;       /* SOL_SOCKET 1, IPPROTO_IP 0, IPPROTO_TCP 6, IPPROTO_IPV6 41 ... */
	hrpc_u32 name;
	hrpc_u32 len;         /* <= HRPC_SOCK_OPT_MAX */
	hrpc_u32 reserved;    /* 0 */
	struct hrpc_sock_state state; /* reply only */
	hrpc_u8  val[HRPC_SOCK_OPT_MAX];
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_opt) == 32 + HRPC_SOCK_OPT_MAX, "opt size");

struct hrpc_sock_ioctl_rep {
	hrpc_u64 value;
	struct hrpc_sock_state state;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_ioctl_rep) == 16, "ioctl rep is 16 bytes");

struct hrpc_sock_credit {
	hrpc_u32 credit;      /* request: credits granted; reply: credits now held */
	hrpc_u32 reserved;    /* 0 */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_credit) == 8, "credit is 8 bytes");

/* One entry of a READY event. */
struct hrpc_sock_ev_state {
	hrpc_u64 handle;
	struct hrpc_sock_state state;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_sock_ev_state) == 16, "ev state is 16 bytes");

/* Is `a` newer than `b` (sequence numbers modulo 2^32)? */
static inline int hrpc_sock_seq_after(hrpc_u32 a, hrpc_u32 b)
{
	return (hrpc_s32)(a - b) > 0;
}

#endif /* HOSTRPC_SOCK_H */
