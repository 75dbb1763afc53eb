/* SPDX-License-Identifier: MIT */
/*
 * agent.h - guestrpcd, the guest agent: the pieces its main loop ties
 * together.  One agent_port per channel (a virtio-serial port, or a unix
 * socket in process-level tests); each port has its own filesystem tables
 * and exec sessions, created when a host connects and dropped when it goes.
 *
 * The agent is one thread around poll(): every handler returns at once
 * (commands run as child processes whose pipes the loop polls; files that
 * could block on open - FIFOs, devices - are never opened), so a host may
 * keep many calls in flight and a slow command never stalls the others.
 *
 * Error convention: -errno (handlers return it as the reply status).
 * Nothing the host sends can make the agent exit: a host that breaks the
 * framing loses its channel (fenced), which is reopened for the next host.
 */
#ifndef GUESTRPC_AGENT_H
#define GUESTRPC_AGENT_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hostrpc/hostrpc.h"

struct agent_config {
	const char *export_root;   /* MOUNT paths resolve beneath it ("/") */
	uint32_t max_nodes;        /* per channel */
	uint32_t max_files;        /* open files + dirs per channel */
	uint32_t max_sessions;     /* exec sessions per channel */
	int verbose;
};

extern const struct agent_config *agent_cfg;

__attribute__((format(printf, 1, 2)))
void agent_log(const char *fmt, ...);
#define agent_debug(...) do { if (agent_cfg->verbose) agent_log(__VA_ARGS__); } while (0)

/* The filesystem service is fs-server/server.h's, one per port. */

/* ---- exec service (agent-exec.c) --------------------------------------- */
struct gex_state;
struct gex_state *gex_state_new(void);
/* Kills every session's process group and frees it. */
void gex_state_free(struct gex_state *s);
int gex_handle(void *opaque, const struct hrpc_req *req, struct hrpc_reply *rep);
/* Bind the state to the conn it sends events on (set once the conn exists). */
void gex_state_set_conn(struct gex_state *s, hrpc_conn *conn);
/* Add the pipes the loop must watch; returns the number of pollfds used.
 * *timeout_ms is lowered to the nearest session deadline. */
int gex_poll_fill(struct gex_state *s, struct pollfd *pfd, int max, int *timeout_ms);
/* After poll(): handle the pollfds gex_poll_fill() added (same order),
 * send output/exit events.  Returns -errno if sending broke the channel. */
int gex_poll_done(struct gex_state *s, const struct pollfd *pfd, int n);
/* A child exited (the loop reaps; this routes the status). */
bool gex_child_exited(struct gex_state *s, pid_t pid, int status);
/* Time-outs, exits to report: call every loop iteration. */
int gex_tick(struct gex_state *s);

#endif
