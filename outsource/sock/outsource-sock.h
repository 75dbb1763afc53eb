/* SPDX-License-Identifier: MIT */
/*
 * outsource-sock.h - the host half of socket outsourcing (service 16,
 * include/hostrpc/sock.h), run inside one guest's hostrpcd worker.
 *
 * The core does not depend on GLib or on any event loop: it keeps its host
 * sockets in an epoll set of its own; outsource_sock_fd() is that set's fd.
 * Whatever loop the caller runs watches it for readability and calls
 * outsource_sock_dispatch(), which sends the guest its READY events.
 * outsource-sock-glib.h is the adapter for a GMainContext.
 *
 * One outsource_sock serves one guest (one hrpc_server, one connection at a
 * time).  Error convention: -errno, as in libhostrpc.  Nothing here exits or
 * aborts on anything the guest sends.
 */
#ifndef OUTSOURCE_SOCK_H
#define OUTSOURCE_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "hostrpc/hostrpc.h"
#include "hostrpc/sock.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct outsource_sock outsource_sock;

struct outsource_sock_config {
	uint32_t guest_id;
	const char *guest_name;   /* for the audit log; NULL = "guest<id>" */
	/* Policy text (policy.h format) or a file holding it; neither = the
	 * built-in default (worker's namespace, 1024 sockets, the built-in
	 * rules of policy.h: nothing of the host's, no port below 1024).  The
	 * built-in rules follow a given policy's own rules too. */
	const char *policy_text;
	const char *policy_path;
	/* Where the policy came from, for people (NULL: the path, or "built-in
	 * default (no policy file)"); the listing prints it. */
	const char *policy_source;
	/* Audit log: appended to `audit_path` (created 0640), or written to
	 * `audit_fd` (not closed), or, with neither, nowhere. */
	const char *audit_path;
	int audit_fd;             /* -1: none */
	/* Records without time, guest id and name ("sock=N ..."): a collector
	 * that knows the guest adds them (hostrpcd's supervisor, audit-sink.h). */
	bool audit_bare;
	/* The worker runs as a uid of this guest alone (hostrpcd's sandbox):
	 * Linux groups SO_REUSEPORT sockets of one uid only, so the option can
	 * only share a port among the guest's own sockets and is allowed.
	 * Without it SO_REUSEPORT could join a host service's group: -EPERM. */
	bool own_uid;
};

/* Build the service (policy loaded, netns opened, audit log opened).
 * On a policy error `err` (may be NULL) says which line and why. */
int outsource_sock_new(const struct outsource_sock_config *cfg, outsource_sock **out,
		       char *err, size_t errlen);

/* Move the calling process into the policy's network namespace for good
 * (no-op without one), so that sockets can later be made there without
 * CAP_SYS_ADMIN: hostrpcd's worker calls it before it drops its
 * privileges.  0 or -errno. */
int outsource_sock_enter_netns(outsource_sock *s);

/* Closes every socket (audited) and the log. NULL is fine. */
void outsource_sock_free(outsource_sock *s);

/* Register the handlers of HRPC_SVC_SOCK on `srv`. */
int outsource_sock_register(outsource_sock *s, hrpc_server *srv);

/* Readable when outsource_sock_dispatch() has work. */
int outsource_sock_fd(outsource_sock *s);

/* Look at the host sockets whose readiness changed and send the guest its
 * READY events (within its credit).  Non-blocking.  Returns the number of
 * sockets looked at or -errno. */
int outsource_sock_dispatch(outsource_sock *s);

/* The guest's connection went away (events have nowhere to go until the next
 * call arrives on a new one).  Sockets stay until INIT or free. */
void outsource_sock_detach(outsource_sock *s);

/* ---- introspection (hostrpcctl sockets) --------------------------------- */

struct outsource_sock_info {
	uint64_t handle;
	int family;                 /* AF_INET / AF_INET6 */
	int type;                   /* SOCK_STREAM / SOCK_DGRAM */
	const char *state;          /* "new", "bound", "listening", "connecting",
				     * "connected", "shut-down" */
	struct sockaddr_storage local, peer; /* family 0 if unknown */
	uint64_t bytes_sent, bytes_received; /* by the guest */
	uint64_t created_ns;        /* hrpc_now_ns() clock */
	uint32_t mask;              /* last readiness told to the guest */
};

struct outsource_sock_totals {
	uint32_t open, max_sockets;
	uint64_t created, closed, denied, events, credit;
	uint64_t bytes_sent, bytes_received;
};

/* Fill up to `max` entries; returns how many sockets there are in all. */
/*
 * Migration (hostrpc-migrate; include/hostrpc/sockstate.h).  Source:
 * quiesce (the caller stops serving the channel and dispatching us), export
 * the table (malloc'ed; *fds gets each record's host socket, ours: the
 * caller may pass copies on but must not close them), then either the guest
 * moved (free the service: a frozen TCP socket closes silently) or resume
 * (a rollback).  Destination, in the guest's netns, privileged (TCP_REPAIR):
 * import the table before the switch (every socket made; all or nothing),
 * attach once the guest's memory has arrived and the channel is adopted.
 * 0 or -errno; `err` says what was wrong with a table.
 */
int outsource_sock_mig_quiesce(outsource_sock *s);
/* The policy's `identity` interface, or NULL. */
const char *outsource_sock_identity(outsource_sock *s);
void outsource_sock_mig_resume(outsource_sock *s);
int outsource_sock_mig_export(outsource_sock *s, void **table, size_t *len, int **fds,
			      uint32_t *nfds);
int outsource_sock_mig_import(outsource_sock *s, const void *table, size_t len, char *err,
			      size_t errlen);
int outsource_sock_mig_attach(outsource_sock *s, hrpc_conn *conn);
/* An incoming migration failed after the import: the restored connections
 * go without a word to their peers (repair mode), as the source keeps
 * them. */
void outsource_sock_mig_abandon(outsource_sock *s);
/*
 * Connections that stay at the source (issue 14, HRPC_SOCK_MIG_F_FORWARD).
 * Destination: import made each a local stand-in; this hands over the far
 * ends (the caller owns the array, malloc'ed, and the descriptors; NULL
 * and *n 0 when there are none) for the forward link to relay.  Source,
 * after the switch: take the host sockets of `handles` out of the service
 * (fds[i], the caller's now; -1 where a handle is not a connection here)
 * and close every other socket; listening[i]: a listener's copy (issue 14,
 * HRPC_SOCK_MIG_F_FWD_LISTEN).  Returns how many were taken.
 */
struct outsource_sock_fwd {
	uint64_t handle;
	int fd;
	/* moved: the record's forward image (sockstate.h, checked; malloc'ed,
	 * the caller's to free); NULL for a connection that stays at the source */
	void *img;
	size_t img_len;
};
struct outsource_sock_fwd *outsource_sock_mig_forwards(outsource_sock *s, uint32_t *n);
/*
 * Destination: stand-ins of connections that lived at a remnant on a
 * third host or on this one (a record with a forward image): the far ends
 * and images, handed on as above.  Before outsource_sock_mig_attach(), a
 * connection the caller made again from the remnant's socket replaces the
 * stand-in (localize: `fd` is the service's now, the guest's options are
 * set on it; the stand-in's far end stays the caller's).  0, -ENOENT, -errno.
 */
struct outsource_sock_fwd *outsource_sock_mig_moved(outsource_sock *s, uint32_t *n);
int outsource_sock_mig_localize(outsource_sock *s, uint64_t handle, int fd);
/*
 * Listeners a remnant elsewhere keeps a copy of (HRPC_SOCK_MIG_F_FWD_LISTEN).
 * Destination: one whose address that remnant holds on this host (the
 * guest came back) is imported unbound: `handles` gets those (at most
 * max); GO localizes the remnant's copy in its place or, failing that,
 * relistens (bind and listen again: 0 or -errno).
 * Where the guest runs: outsource_sock_fwd_arrive() makes a connection the
 * remnant accepted (migfwd.h ACCEPT) arrive at the guest's listener: it
 * returns the stand-in's far end (connected, non-blocking) or -errno;
 * once the guest accepts it the hook hears OUTSOURCE_SOCK_FWD_ACCEPTED
 * (object, the guest's handle), and when the guest closes such a listener,
 * OUTSOURCE_SOCK_FWD_LISTENER_CLOSED (its handle, 0).
 */
uint32_t outsource_sock_mig_deferred(outsource_sock *s, uint64_t *handles, uint32_t max);
/* Does the guest have such a listener? */
bool outsource_sock_mig_fwd_listening(outsource_sock *s);
int outsource_sock_mig_relisten(outsource_sock *s, uint64_t handle);
int outsource_sock_fwd_arrive(outsource_sock *s, uint64_t listener, uint64_t object,
			      const struct hrpc_sock_addr *local, const struct hrpc_sock_addr *peer);
enum outsource_sock_fwd_event {
	OUTSOURCE_SOCK_FWD_ACCEPTED = 1,
	OUTSOURCE_SOCK_FWD_LISTENER_CLOSED = 2,
};
typedef void (*outsource_sock_fwd_hook)(void *data, int event, uint64_t a, uint64_t b);
void outsource_sock_set_fwd_hook(outsource_sock *s, outsource_sock_fwd_hook fn, void *data);
/* "tcp LOCAL -> PEER" (the host's view) of a socket, for listings. */
int outsource_sock_describe(outsource_sock *s, uint64_t handle, char *buf, size_t len);
int outsource_sock_mig_remnant(outsource_sock *s, const uint64_t *handles, uint32_t n, int *fds,
			       bool *listening);

size_t outsource_sock_list(outsource_sock *s, struct outsource_sock_info *out, size_t max);
void outsource_sock_totals(outsource_sock *s, struct outsource_sock_totals *t);

/* Print the effective policy and the sockets as a table, or as JSON (one
 * object: totals, "sockets", "policy"). */
void outsource_sock_print(outsource_sock *s, FILE *f, bool json);

#ifdef __cplusplus
}
#endif

#endif /* OUTSOURCE_SOCK_H */
