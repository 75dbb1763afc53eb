/* SPDX-License-Identifier: MIT */
/*
 * guestexec.h - service 257 (HRPC_SVC_GUEST_EXEC): run commands in the
 * guest, Guest RPC direction (the host calls, the guest agent serves).
 * guestrpc/PROTOCOL.md is the prose specification.
 *
 * A command is a session: START spawns it and returns a handle (table index
 * + generation, as in guestfs.h; a dead or forged handle is -ESRCH).  Its
 * stdout and stderr come back as OUTPUT events, never capped in total but
 * flow-controlled by credit: the agent sends at most `window` bytes beyond
 * what the host acknowledged with CREDIT, and stops reading the command's
 * pipes meanwhile (so a slow host slows the command, it never makes the
 * agent buffer).  stdin is fed with WRITE calls.  When the command has
 * exited AND both output pipes reached end-of-file AND all output was sent,
 * the agent sends one EXIT event; output events of a session never follow
 * its EXIT.  RELEASE frees the session (killing the command's process group
 * if it still runs); a channel that goes away releases all its sessions.
 *
 * Several sessions run at once; calls of different sessions interleave.
 */
#ifndef HOSTRPC_GUESTEXEC_H
#define HOSTRPC_GUESTEXEC_H

#include "compat.h"

#define HRPC_GEX_STRINGS_MAX  (1024u * 1024u) /* bulk bytes of argv+env+cwd */
#define HRPC_GEX_ARGS_MAX     8192u           /* argc + envc */
#define HRPC_GEX_OUTPUT_MAX   (65536u - 16u)  /* data bytes per OUTPUT event */
#define HRPC_GEX_WINDOW_MIN   65536u
#define HRPC_GEX_WINDOW_MAX   (64u << 20)
#define HRPC_GEX_STDIN_MAX    (1024u * 1024u) /* agent-side stdin buffer */

enum hrpc_gex_proc {
	HRPC_GEX_START   = 1, /* start_req + bulk strings -> started       */
	HRPC_GEX_WRITE   = 2, /* write_req + bulk data -> write_rep         */
	HRPC_GEX_CREDIT  = 3, /* credit_req -> -                            */
	HRPC_GEX_KILL    = 4, /* kill_req -> -                              */
	HRPC_GEX_STATUS  = 5, /* handle_req -> status                       */
	HRPC_GEX_RELEASE = 6, /* handle_req -> -                            */
};

enum hrpc_gex_event {
	HRPC_GEX_EV_OUTPUT = 1, /* output + data                           */
	HRPC_GEX_EV_EXIT   = 2, /* status (state EXITED)                   */
	HRPC_GEX_EV_STDIN  = 3, /* stdin_room: WRITE may continue          */
};

#define HRPC_GEX_F_STDIN        0x1u /* stdin is a pipe fed by WRITE (else /dev/null) */
#define HRPC_GEX_F_CLEAR_ENV    0x2u /* environment = env strings only */
#define HRPC_GEX_F_MERGE_STDERR 0x4u /* stderr goes to the stdout stream */
#define HRPC_GEX_F_KNOWN        0x7u

/* The bulk holds argc + envc (+1 if cwd_len) NUL-terminated strings back
 * to back, filling exactly strings_len == bulk_len bytes: argv (argv[0] is
 * the program, looked up in PATH if it has no '/'), then "NAME=value"
 * environment strings, then the working directory (cwd_len bytes including
 * its NUL; 0 = the agent's default). */
struct hrpc_gex_start_req {
	hrpc_u32 argc;           /* >= 1 */
	hrpc_u32 envc;
	hrpc_u32 flags;          /* HRPC_GEX_F_* */
	hrpc_u32 timeout_ms;     /* 0 = none; then the process group is killed (SIGKILL) */
	hrpc_u32 window;         /* output credit, HRPC_GEX_WINDOW_MIN..MAX */
	hrpc_u32 cwd_len;
	hrpc_u32 strings_len;
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gex_start_req) == 32, "gex start req is 32 bytes");

/* START fails with the errno of the guest's exec (-ENOENT, -EACCES, ...)
 * when the program could not be started. */
struct hrpc_gex_started {
	hrpc_u64 handle;
	hrpc_u32 pid;            /* guest pid, informative */
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gex_started) == 16, "gex started is 16 bytes");

#define HRPC_GEX_WRITE_EOF 0x1u  /* close stdin after these bytes */

struct hrpc_gex_write_req {
	hrpc_u64 handle;
	hrpc_u32 flags;          /* HRPC_GEX_WRITE_EOF */
	hrpc_u32 size;           /* == bulk_len, <= HRPC_GEX_STDIN_MAX */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gex_write_req) == 16, "gex write req is 16 bytes");

/* WRITE takes what fits in the agent's stdin buffer: accepted < size means
 * "send the rest after an HRPC_GEX_EV_STDIN event"; EOF is honoured only
 * with everything accepted.  A command that closed its stdin: -EPIPE. */
struct hrpc_gex_write_rep {
	hrpc_u32 accepted;
	hrpc_u32 room;           /* free bytes in the agent's buffer afterwards */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gex_write_rep) == 8, "gex write rep is 8 bytes");

struct hrpc_gex_credit_req {
	hrpc_u64 handle;
	hrpc_u32 bytes;          /* output bytes the host consumed */
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gex_credit_req) == 16, "gex credit req is 16 bytes");

struct hrpc_gex_kill_req {
	hrpc_u64 handle;
	hrpc_u32 signal;         /* 1..64, sent to the command's process group */
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gex_kill_req) == 16, "gex kill req is 16 bytes");

struct hrpc_gex_handle_req {
	hrpc_u64 handle;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gex_handle_req) == 8, "gex handle req is 8 bytes");

enum hrpc_gex_stream {
	HRPC_GEX_STDOUT = 1,
	HRPC_GEX_STDERR = 2,
};

/* Event OUTPUT: header then `size` bytes; payload length == 16 + size. */
struct hrpc_gex_output {
	hrpc_u64 handle;
	hrpc_u32 stream;         /* enum hrpc_gex_stream */
	hrpc_u32 size;           /* 1..HRPC_GEX_OUTPUT_MAX */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gex_output) == 16, "gex output is 16 bytes");

enum hrpc_gex_state {
	HRPC_GEX_RUNNING = 1,    /* the command or its output is still going */
	HRPC_GEX_EXITED  = 2,    /* exited and all output sent */
};

#define HRPC_GEX_X_TIMEDOUT 0x1u /* killed because timeout_ms passed */

/* STATUS reply and EXIT event. */
struct hrpc_gex_status {
	hrpc_u64 handle;
	hrpc_u32 state;          /* enum hrpc_gex_state */
	hrpc_s32 code;           /* exit code 0..255, or -1 if signalled / running */
	hrpc_u32 signal;         /* terminating signal, or 0 */
	hrpc_u32 flags;          /* HRPC_GEX_X_* */
	hrpc_u64 out_bytes;      /* stdout bytes sent */
	hrpc_u64 err_bytes;      /* stderr bytes sent */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gex_status) == 40, "gex status is 40 bytes");

struct hrpc_gex_stdin_room {
	hrpc_u64 handle;
	hrpc_u32 room;
	hrpc_u32 reserved;
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_gex_stdin_room) == 16, "gex stdin room is 16 bytes");

#endif /* HOSTRPC_GUESTEXEC_H */
