/* SPDX-License-Identifier: MIT */
/*
 * sock.c - service 16: the guest's sockets in the host's network stack.
 *
 * Every host socket is non-blocking; no handler ever sleeps.  A socket's
 * readiness is reported in each reply (struct hrpc_sock_state) and the socket
 * then sits in our epoll set, EPOLLONESHOT, for exactly the poll bits the
 * guest was told are *off*; when one comes on we send a READY event and do
 * not watch that bit again until a reply tells the guest it is off again.
 * So a socket costs at most one event per guest call, and a guest that does
 * not answer costs us nothing: no event credit, no event (the state is kept,
 * coalesced, in the socket's slot).
 *
 * Everything in a request is the guest's word: sizes are checked, handles
 * are table index + generation (-EBADF if stale), addresses are converted
 * field by field, option values are copied into private memory before the
 * host kernel sees them, and bulk bytes are only ever handed to send()
 * (which reads each once) or written by recv().
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/handle-table.h"
#include "hostrpc/sock.h"
#include "hostrpc/sockstate.h"
#include "outsource/audit-limit.h"
#include "outsource/sock/outsource-sock.h"
#include "outsource/sock/policy.h"
#include "outsource/sock/sockaddr.h"
#include "outsource/sock/sockarea.h"
#include "outsource/sock/tcprepair.h"
#include "outsource/sock/translate.h"

#define WATCH_BITS (HRPC_POLLIN | HRPC_POLLOUT | HRPC_POLLRDHUP)
#define MASK_BITS  (HRPC_POLLIN | HRPC_POLLPRI | HRPC_POLLOUT | HRPC_POLLERR | \
		    HRPC_POLLHUP | HRPC_POLLRDHUP)
#define TIMER_TAG  UINT64_MAX
#define RETRY_NS   (2 * 1000 * 1000)

enum sstate { S_FREE, S_NEW, S_BOUND, S_LISTEN, S_CONNECTING, S_CONNECTED, S_SHUT };

static const char *const state_name[] = {
	[S_FREE] = "free", [S_NEW] = "new", [S_BOUND] = "bound", [S_LISTEN] = "listening",
	[S_CONNECTING] = "connecting", [S_CONNECTED] = "connected", [S_SHUT] = "shut-down",
};

struct hsock {
	uint64_t handle;        /* its name in outsource_sock.socks */
	int fd;                 /* -1 until made */
	uint8_t state;          /* enum sstate */
	bool in_epoll;
	bool pending;           /* on the pending list: state to send */
	bool connect_open;      /* a non-blocking connect whose end is not audited */
	bool connect_retry;     /* it ended; the guest's re-try is not a new connect */
	uint16_t family, type;
	uint32_t seq;
	uint32_t reported;      /* the mask the guest was (or is being) told */
	uint32_t watching;      /* epoll bits armed, 0 = none */
	uint64_t created_ns;
	uint64_t sent, received;
	struct sockaddr_storage local, peer;   /* the host's view */
	struct sock_xlat_sock xl;       /* IPv4/IPv6 translation (translate.h) */
	struct sock_area *area;         /* version 2: its data rings; NULL: version 1 */
	bool want_in, want_out;         /* area: the pumps wait for the host socket */
	uint32_t backlog;               /* listen()'s, for a migration's replay */
	uint8_t njopt;                  /* the options the guest set (journal_put()) */
	struct hrpc_sock_mig_opt *jopt; /* HRPC_SOCK_MIG_OPTS entries, or NULL */
	struct hrpc_sock_mig *mig;      /* arrived with a migration, until attached */
	bool forwarded;                 /* fd is a local stand-in for a connection that
	                                 * stayed on another host (migfwd.h): its
	                                 * addresses are local/peer, not the fd's */
	bool fwd_listen;                /* a listener a remnant elsewhere keeps a copy
	                                 * of: connections it accepts arrive here */
	bool listen_deferred;           /* imported, its address held by that remnant
	                                 * here: GO takes the remnant's (localize) */
};

/* A connection a remnant accepted, on its way to the guest's listener: the
 * stand-in's near end connects from `port` (loopback); the guest's accept
 * takes it as `object` with the remnant's addresses (migfwd.h ACCEPT). */
struct fwd_expect {
	uint64_t listener, object;
	struct sockaddr_storage from;   /* the near end's address */
	struct sockaddr_storage local, peer;
};

struct outsource_sock {
	struct sock_policy policy;
	uint32_t guest_id;
	char name[64];
	uint32_t version;       /* the guest's INIT: 1, or 2 (data rings) */
	bool own_uid;           /* outsource_sock_config.own_uid */
	int epfd;
	int timerfd;
	bool timer_armed;
	int netns_fd;           /* -1: the worker's namespace */
	int home_ns_fd;
	int rtfd;               /* NETLINK_ROUTE in the sockets' namespace */
	uint32_t rtseq;
	FILE *audit;
	bool own_audit;
	bool audit_bare;        /* the collector adds time and guest */
	struct outsource_audit_limit audit_limit;
	hrpc_conn *conn;

	struct hrpc_handle_table socks; /* of struct hsock, max = policy.max_sockets */

	struct hsock **pend;    /* sockets with pending states */
	uint32_t npend;
	uint32_t pend_cap;      /* >= the number of sockets */

	uint32_t credit;
	bool quiesced;          /* a migration stopped us (outsource_sock_mig_quiesce) */
	/* Imported forwarded connections: the far ends of their stand-ins,
	 * until outsource_sock_mig_forwards() hands them on. */
	struct outsource_sock_fwd *fwd;
	uint32_t nfwd;
	struct fwd_expect *expect;      /* of nexpect */
	uint32_t nexpect;
	outsource_sock_fwd_hook fwd_hook;   /* outsource_sock_set_fwd_hook() */
	void *fwd_hook_data;
	struct outsource_sock_totals tot;
	struct hrpc_sock_ev_state evbuf[HRPC_SOCK_EV_MAX_STATES];
};

static void pump(outsource_sock *s, struct hsock *hs);

/* ---- audit log ------------------------------------------------------------ */

static const char *fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "-");
	}
	return buf;
}

/* A line's start: "sock=N " for the collector, or time, guest and name
 * too in a file of our own (sock=0: the service's, not a socket's). */
static void audit_prefix(outsource_sock *s, uint32_t idx)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	if (s->audit_bare) {
		fprintf(s->audit, "sock=%" PRIu32 " ", idx);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(s->audit, "%s.%03ldZ guest=%" PRIu32 " name=%s sock=%" PRIu32 " ", when,
		ts.tv_nsec / 1000000, s->guest_id, s->name, idx);
}

/* One line per event; only host-made text (numbers and inet_ntop output)
 * goes in, so a guest cannot forge or split lines.  At most
 * OUTSOURCE_AUDIT_MAX_RATE lines a second (audit-limit.h): a guest that
 * has its denials audited in a loop costs the supervisor, or the disk,
 * no more than that; a line says how many were held back.  The service's
 * own start, stop and migration lines (once each) always go. */
static void vaudit(outsource_sock *s, uint32_t idx, bool always, const char *fmt, va_list ap)
{
	uint64_t held = 0;

	if (!s->audit)
		return;
	if (always) {
		held = s->audit_limit.held;
		s->audit_limit.held = 0;
	} else if (!outsource_audit_take(&s->audit_limit, (int64_t)(hrpc_now_ns() / 1000),
					 &held)) {
		return;
	}
	if (held) {
		audit_prefix(s, 0);
		fprintf(s->audit, "audit: %" PRIu64 " records not written (more than %u a second)\n",
			held, OUTSOURCE_AUDIT_MAX_RATE);
		fflush(s->audit);
	}
	audit_prefix(s, idx);
	vfprintf(s->audit, fmt, ap);
	fputc('\n', s->audit);
	fflush(s->audit);
}

__attribute__((format(printf, 3, 4)))
static void audit(outsource_sock *s, uint32_t idx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vaudit(s, idx, false, fmt, ap);
	va_end(ap);
}

/* The service's own lines: not counted, never held back. */
__attribute__((format(printf, 2, 3)))
static void audit_service(outsource_sock *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vaudit(s, 0, true, fmt, ap);
	va_end(ap);
}

/* ---- addresses -------------------------------------------------------------- */

int sock_addr_from_wire(const struct hrpc_sock_addr *w, struct sockaddr_storage *ss,
			socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (w->reserved)
		return -EINVAL;
	if (w->family == HRPC_AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		for (int i = 4; i < 16; i++)
			if (w->addr[i])
				return -EINVAL;
		if (w->flowinfo || w->scope_id)
			return -EINVAL;
		in->sin_family = AF_INET;
		in->sin_port = htons(w->port);
		memcpy(&in->sin_addr, w->addr, 4);
		*len = sizeof(*in);
		return 0;
	}
	if (w->family == HRPC_AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(w->port);
		in6->sin6_flowinfo = htonl(w->flowinfo);
		memcpy(&in6->sin6_addr, w->addr, 16);
		in6->sin6_scope_id = w->scope_id;
		*len = sizeof(*in6);
		return 0;
	}
	return -EAFNOSUPPORT;
}

void sock_addr_to_wire(const struct sockaddr_storage *ss, struct hrpc_sock_addr *w)
{
	memset(w, 0, sizeof(*w));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		w->family = HRPC_AF_INET;
		w->port = ntohs(in->sin_port);
		memcpy(w->addr, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		w->family = HRPC_AF_INET6;
		w->port = ntohs(in6->sin6_port);
		w->flowinfo = ntohl(in6->sin6_flowinfo);
		memcpy(w->addr, &in6->sin6_addr, 16);
		w->scope_id = in6->sin6_scope_id;
	}
}

/* ---- the table ------------------------------------------------------------- */

/* The socket `handle` names, or NULL: the only way from a guest's handle to
 * a socket.  *idx (may be NULL): its table index, the audit log's sock=. */
static struct hsock *lookup(outsource_sock *s, uint64_t handle, uint32_t *idx)
{
	struct hsock *hs = hrpc_handle_table_get(&s->socks, handle);

	if (hs && idx)
		*idx = hrpc_handle_index(handle);
	return hs;
}

static uint32_t idx_of(const struct hsock *hs)
{
	return hrpc_handle_index(hs->handle);
}

/* A new socket, in the table but not made yet (fd -1): the caller makes
 * it or hands it back with slot_discard().  -EMFILE at the quota. */
static int slot_alloc(outsource_sock *s, struct hsock **out)
{
	struct hsock *hs = calloc(1, sizeof(*hs));
	uint32_t n = hrpc_handle_table_count(&s->socks) + 1;
	int rc;

	if (!hs)
		return -ENOMEM;
	hs->fd = -1;
	rc = hrpc_handle_table_add(&s->socks, hs, &hs->handle);
	if (rc < 0) {
		free(hs);
		return rc;
	}
	/* Room on the pending list for every socket, so that dispatch()
	 * never has to allocate. */
	if (n > s->pend_cap) {
		uint32_t cap = s->pend_cap ? s->pend_cap * 2 : 64;
		struct hsock **p;

		if (cap > s->policy.max_sockets)
			cap = s->policy.max_sockets;
		p = realloc(s->pend, cap * sizeof(*p));
		if (!p) {
			hrpc_handle_table_remove(&s->socks, hs->handle);
			free(hs);
			return -ENOMEM;
		}
		s->pend = p;
		s->pend_cap = cap;
	}
	*out = hs;
	return 0;
}

/* Hand back a socket of slot_alloc() that was never made. */
static void slot_discard(outsource_sock *s, struct hsock *hs)
{
	hrpc_handle_table_remove(&s->socks, hs->handle);
	free(hs->area);
	free(hs->jopt);
	free(hs->mig);
	free(hs);
}

static void pend_remove(outsource_sock *s, struct hsock *hs)
{
	for (uint32_t i = 0; i < s->npend; i++)
		if (s->pend[i] == hs) {
			s->pend[i] = s->pend[--s->npend];
			break;
		}
	hs->pending = false;
}

/* Close `hs` (audited: `why` says why when the guest did not ask) and
 * free it: its handle, and every earlier one of its slot, stays dead. */
static void slot_close(outsource_sock *s, struct hsock *hs, const char *why)
{
	char l[80], p[80];

	audit(s, idx_of(hs), "close %s local=%s peer=%s state=%s sent=%" PRIu64 " received=%" PRIu64 "%s%s",
	      hs->type == SOCK_STREAM ? "tcp" : "udp",
	      fmt_addr(&hs->local, l, sizeof(l)), fmt_addr(&hs->peer, p, sizeof(p)),
	      state_name[hs->state], hs->sent, hs->received, why ? " reason=" : "", why ? why : "");
	if (hs->pending)
		pend_remove(s, hs);
	if (hs->in_epoll)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, hs->fd, NULL);
	if (hs->fwd_listen && s->fwd_hook && !(why && !strcmp(why, "migrated")))
		/* the remnant's copy goes too */
		s->fwd_hook(s->fwd_hook_data, OUTSOURCE_SOCK_FWD_LISTENER_CLOSED, hs->handle, 0);
	for (uint32_t i = 0; hs->fwd_listen && i < s->nexpect;)
		if (s->expect[i].listener == hs->handle)   /* nobody accepts those now */
			s->expect[i] = s->expect[--s->nexpect];
		else
			i++;
	/* SO_LINGER with a timeout would make close() sleep in the worker:
	 * let the host kernel finish the close in the background instead (a
	 * guest that lingers has waited before its CLOSE: sock.h "Closing").
	 * {1, 0} stays: the close resets, as the guest asked. */
	if (hs->type == SOCK_STREAM) {
		struct linger lg;
		socklen_t ll = sizeof(lg);

		if (!getsockopt(hs->fd, SOL_SOCKET, SO_LINGER, &lg, &ll) && lg.l_onoff &&
		    lg.l_linger > 0) {
			lg.l_onoff = 0;
			setsockopt(hs->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
	}
	close(hs->fd);
	hrpc_handle_table_remove(&s->socks, hs->handle);
	free(hs->area);   /* the host stops touching it with the CLOSE reply */
	free(hs->jopt);
	free(hs->mig);
	free(hs);
	s->tot.closed++;
}

/* A non-blocking connect ended: audit how, once. */
static void connect_done(outsource_sock *s, struct hsock *hs, int err)
{
	char a[80];

	if (!hs->connect_open)
		return;
	hs->connect_open = false;
	hs->state = err ? S_NEW : S_CONNECTED;
	audit(s, idx_of(hs), "connect %s %s", fmt_addr(&hs->peer, a, sizeof(a)),
	      err ? strerror(err < 0 ? -err : err) : "established");
}

/* ---- readiness ------------------------------------------------------------------ */

static uint32_t poll_mask(struct hsock *hs)
{
	struct pollfd pfd = { .fd = hs->fd, .events = POLLIN | POLLPRI | POLLOUT | POLLRDHUP };

	if (poll(&pfd, 1, 0) < 0)
		return HRPC_POLLERR;
	/* POLL* and HRPC_POLL* are the same Linux bits. */
	return (uint32_t)pfd.revents & MASK_BITS;
}

/* Does an area socket move data now (its pumps run)?  A stream once
 * connected; a datagram socket always. */
static bool area_live(const struct hsock *hs)
{
	return hs->area && (hs->type == SOCK_DGRAM || hs->state == S_CONNECTED ||
			    hs->state == S_SHUT);
}

/* Watch for the bits the guest believes are off; a live area socket, for
 * what its pumps wait for. */
static void rewatch(outsource_sock *s, struct hsock *hs)
{
	uint32_t want = WATCH_BITS & ~hs->reported;
	struct epoll_event ev;

	if (area_live(hs))
		want = (hs->want_in ? HRPC_POLLIN : 0) | (hs->want_out ? HRPC_POLLOUT : 0);

	/* Nothing further can rise after a hang-up; an error stays until the
	 * guest collects it (its next call recomputes the watch). */
	if (hs->reported & (HRPC_POLLHUP | HRPC_POLLERR))
		want = 0;
	if (hs->state == S_LISTEN)
		want &= HRPC_POLLIN;
	if (!want) {
		if (hs->in_epoll && hs->watching)
			epoll_ctl(s->epfd, EPOLL_CTL_MOD, hs->fd,
				  &(struct epoll_event){ .events = EPOLLONESHOT,
							 .data.u64 = hs->handle });
		hs->watching = 0;
		return;
	}
	ev.events = want | EPOLLONESHOT;
	ev.data.u64 = hs->handle;
	if (epoll_ctl(s->epfd, hs->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, hs->fd, &ev) == 0) {
		hs->in_epoll = true;
		hs->watching = want;
	}
}

/* The state to put in a reply: current mask, next seq; then watch. */
static struct hrpc_sock_state report(outsource_sock *s, struct hsock *hs)
{
	struct hrpc_sock_state st;

	hs->reported = poll_mask(hs);
	/* A connect that ended before this reply (loopback is that fast): the
	 * guest learns it from this mask, and OUT is not watched any more, so
	 * dispatch() would never see it end: end it here (a socket with data
	 * rings starts moving data). */
	if (hs->connect_open && (hs->reported & HRPC_POLLOUT) &&
	    !(hs->reported & (HRPC_POLLERR | HRPC_POLLHUP))) {
		connect_done(s, hs, 0);
		hs->connect_retry = true;
	}
	st.mask = hs->reported;
	st.seq = ++hs->seq;
	/* A newer state supersedes a coalesced one waiting for credit. */
	if (hs->pending)
		pend_remove(s, hs);
	rewatch(s, hs);
	return st;
}

static void timer_arm(outsource_sock *s, long ns)
{
	struct itimerspec its = { .it_value.tv_nsec = ns };

	if (s->timer_armed)
		return;
	if (timerfd_settime(s->timerfd, 0, &its, NULL) == 0)
		s->timer_armed = true;
}

/* Have dispatch() run soon.  Handlers never send events themselves: the
 * server took their call only because the reply fits in the response ring,
 * and an event sent first could take that room. */
static void kick(outsource_sock *s)
{
	if (s->npend && s->credit)
		timer_arm(s, 1);
}

/* The guest is to hear about `hs` (a READY event, sent by flush()). */
static void queue_ready(outsource_sock *s, struct hsock *hs)
{
	if (!hs->pending) {
		hs->pending = true;
		s->pend[s->npend++] = hs;
	}
}

/* Send pending states within the credit.  A full event ring: try again
 * from the timer. */
static void flush(outsource_sock *s)
{
	while (s->npend && s->credit && s->conn) {
		uint32_t n = 0, take = s->npend < HRPC_SOCK_EV_MAX_STATES ?
			s->npend : HRPC_SOCK_EV_MAX_STATES;
		int rc;

		for (uint32_t i = 0; i < take; i++) {
			struct hsock *hs = s->pend[s->npend - 1 - i];
			uint32_t mask = poll_mask(hs);

			/* The latest state, sent now. */
			hs->reported = mask;
			s->evbuf[n].handle = hs->handle;
			s->evbuf[n].state.mask = mask;
			s->evbuf[n].state.seq = ++hs->seq;
			n++;
		}
		rc = hrpc_conn_send_event(s->conn, HRPC_SVC_SOCK, HRPC_SOCK_EV_READY, s->evbuf,
					  n * (uint32_t)sizeof(s->evbuf[0]));
		if (rc == -EAGAIN) {
			timer_arm(s, RETRY_NS);
			return;
		}
		if (rc < 0) {
			/* fenced or gone: nothing more to send to this conn */
			s->conn = NULL;
			return;
		}
		s->credit--;
		s->tot.events++;
		for (uint32_t i = 0; i < take; i++) {
			struct hsock *hs = s->pend[--s->npend];

			hs->pending = false;
			rewatch(s, hs);
		}
	}
}

int outsource_sock_dispatch(outsource_sock *s)
{
	struct epoll_event ev[64];
	int n, seen = 0;

	do {
		n = epoll_wait(s->epfd, ev, 64, 0);
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		for (int i = 0; i < n; i++) {
			struct hsock *hs;
			uint32_t mask;
			bool connected = false;

			if (ev[i].data.u64 == TIMER_TAG) {
				uint64_t x;

				if (read(s->timerfd, &x, sizeof(x)) < 0) {
					/* nothing: the timer is re-armed below if needed */
				}
				s->timer_armed = false;
				continue;
			}
			hs = lookup(s, ev[i].data.u64, NULL);
			if (!hs)
				continue; /* closed since */
			seen++;
			hs->watching = 0; /* EPOLLONESHOT: disarmed now */
			mask = poll_mask(hs);
			/* A failed connect is audited when the guest collects
			 * its error (SO_ERROR or connect again). */
			if (hs->connect_open && (mask & HRPC_POLLOUT) &&
			    !(mask & (HRPC_POLLERR | HRPC_POLLHUP))) {
				connect_done(s, hs, 0);
				hs->connect_retry = true;
				connected = true;
			}
			if (area_live(hs)) {
				/* The host socket can move data: pump (which
				 * tells the guest what it asked to hear).  The
				 * connect's end and errors are news as well. */
				if (connected || ((mask & ~hs->reported) & (HRPC_POLLERR | HRPC_POLLHUP)))
					queue_ready(s, hs);
				hs->reported = mask;
				pump(s, hs);
				continue;
			}
			if ((mask & ~hs->reported) & (WATCH_BITS | HRPC_POLLERR | HRPC_POLLHUP)) {
				hs->reported = mask;
				if (!hs->pending) {
					hs->pending = true;
					s->pend[s->npend++] = hs;
				}
			} else {
				hs->reported &= mask | ~(WATCH_BITS);
				rewatch(s, hs);
			}
		}
	} while (n == 64);
	flush(s);
	return seen;
}

/* ---- policy ---------------------------------------------------------------------- */

/*
 * `host` rules: is `a` one of the addresses of the namespace the guest's
 * sockets live in?  Asked of the kernel's routing (RTM_GETROUTE, what
 * `ip route get` does) at decision time: a local, broadcast, multicast or
 * anycast route is "the host".  rtnetlink answers inside send(), so the
 * reply is queued when recv() runs: this never waits.  1, 0 or -errno.
 */
static int host_addr(void *ctx, const struct sock_addr_norm *a)
{
	outsource_sock *s = ctx;
	size_t alen = a->family == AF_INET ? 4 : 16;
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		uint8_t attrs[RTA_SPACE(16) + RTA_SPACE(4)];
	} req;
	union {
		struct nlmsghdr nh;
		uint8_t b[8192];
	} buf;
	struct rtattr *rta;
	uint32_t seq = ++s->rtseq;

	if (s->rtfd < 0)
		return -EBADF;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = seq;
	req.rt.rtm_family = (unsigned char)a->family;
	req.rt.rtm_dst_len = (unsigned char)(alen * 8);
	rta = (struct rtattr *)req.attrs;
	rta->rta_type = RTA_DST;
	rta->rta_len = RTA_LENGTH(alen);
	memcpy(RTA_DATA(rta), a->addr, alen);
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rt)) + RTA_SPACE(alen);
	if (a->scope_id) {
		rta = (struct rtattr *)(req.attrs + RTA_SPACE(alen));
		rta->rta_type = RTA_OIF;
		rta->rta_len = RTA_LENGTH(4);
		memcpy(RTA_DATA(rta), &a->scope_id, 4);
		req.nh.nlmsg_len += RTA_SPACE(4);
	}
	if (send(s->rtfd, &req, req.nh.nlmsg_len, 0) < 0)
		return -errno;
	for (int tries = 0; tries < 8; tries++) {
		ssize_t n = recv(s->rtfd, buf.b, sizeof(buf.b), 0);
		int len = (int)n;

		if (n < 0)
			return -errno;
		for (struct nlmsghdr *nh = &buf.nh; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_seq != seq)
				continue; /* an answer to an earlier question */
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				/* No route (or a blackhole/prohibit one): the
				 * kernel will not deliver it here either. */
				if (e->error == -ENETUNREACH || e->error == -EHOSTUNREACH ||
				    e->error == -EACCES || e->error == -EINVAL)
					return 0;
				return e->error ? e->error : -EPROTO;
			}
			if (nh->nlmsg_type == RTM_NEWROUTE) {
				const struct rtmsg *rt = NLMSG_DATA(nh);

				return rt->rtm_type == RTN_LOCAL || rt->rtm_type == RTN_BROADCAST ||
				       rt->rtm_type == RTN_MULTICAST || rt->rtm_type == RTN_ANYCAST;
			}
		}
	}
	return -EPROTO;
}

/*
 * The policy's verdict on `ss` for `hs`: 0, or -EACCES (counted and
 * audited as "<what> <address> denied by policy"), or the normaliser's
 * -errno.  Every policy decision comes through here, and so through
 * sock_addr_normalize().
 */
static int policy_check(outsource_sock *s, struct hsock *hs, uint32_t idx,
			enum sock_policy_dir dir, const struct sockaddr_storage *ss, socklen_t len,
			const char *what)
{
	static const uint8_t zero[16];
	struct sock_addr_norm n;
	char a[80];
	bool ok;
	int rc;

	rc = sock_addr_normalize((const struct sockaddr *)ss, len, dir, &n);
	if (rc < 0)
		return rc;
	ok = sock_policy_allows(&s->policy, dir, &n, host_addr, s);
	/* An IPv6 socket bound to :: without IPV6_V6ONLY takes IPv4 too: that
	 * bind must also be allowed as 0.0.0.0 (V6ONLY cannot change once
	 * bound, so the answer read now holds). */
	if (ok && dir == SOCK_POLICY_BIND && n.family == AF_INET6 && !memcmp(n.addr, zero, 16)) {
		int v6only = 0;
		socklen_t ol = sizeof(v6only);

		if (getsockopt(hs->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol) < 0 || !v6only) {
			struct sock_addr_norm v4 = { .family = AF_INET, .port = n.port };

			ok = sock_policy_allows(&s->policy, dir, &v4, host_addr, s);
		}
	}
	if (ok)
		return 0;
	s->tot.denied++;
	audit(s, idx, "%s %s denied by policy", what, fmt_addr(ss, a, sizeof(a)));
	return -EACCES;
}

/* ---- handlers -------------------------------------------------------------------- */

#define REQ(type, var)                                          \
	const type *var = req->payload;                         \
	if (req->len != sizeof(type))                           \
		return -EINVAL

static struct hsock *get(outsource_sock *s, uint64_t handle, uint32_t reserved, uint32_t *idx)
{
	if (reserved)
		return NULL;
	return lookup(s, handle, idx);
}

static int do_init(outsource_sock *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	REQ(struct hrpc_sock_init_req, r);
	struct hrpc_sock_init_rep *o = rep->payload;
	struct hsock *hs;
	uint32_t pos = 0;

	if (r->version != HRPC_SOCK_VERSION && r->version != HRPC_SOCK_VERSION_2)
		return -EPROTONOSUPPORT;
	if (r->reserved || r->credit > HRPC_SOCK_MAX_CREDIT)
		return -EINVAL;
	/* Data rings need shared memory (not the stream transport). */
	if (r->version == HRPC_SOCK_VERSION_2 && !hrpc_chan_data(hrpc_conn_chan(req->conn), NULL))
		return -EPROTONOSUPPORT;
	/* A (re)starting guest: its old sockets are gone from its view. */
	while ((hs = hrpc_handle_table_next(&s->socks, &pos, NULL)))
		slot_close(s, hs, "guest-init");
	s->npend = 0;
	s->credit = r->credit;
	s->version = r->version;
	memset(o, 0, sizeof(*o));
	o->version = r->version;
	o->features = r->version == HRPC_SOCK_VERSION_2 ? HRPC_SOCK_FEAT_AREAS : 0;
	o->max_sockets = s->policy.max_sockets;
	o->max_io = HRPC_SOCK_MAX_IO;
	o->max_credit = HRPC_SOCK_MAX_CREDIT;
	rep->len = sizeof(*o);
	audit(s, 0, "init version=%" PRIu32 " credit=%" PRIu32 " max-sockets=%" PRIu32, r->version,
	      r->credit, s->policy.max_sockets);
	return 0;
}

static int ns_socket(outsource_sock *s, int family, int type, int proto)
{
	int fd, err;

	if (s->netns_fd < 0) {
		fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
		return fd < 0 ? -errno : fd;
	}
	if (setns(s->netns_fd, CLONE_NEWNET) < 0)
		return -errno;
	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	err = fd < 0 ? -errno : 0;
	if (setns(s->home_ns_fd, CLONE_NEWNET) < 0) {
		/* Cannot happen short of a kernel bug; stay safe: refuse. */
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	return fd < 0 ? err : fd;
}

/* ---- translation (translate.h) -------------------------------------------- */

/*
 * A guest's address `ss` (in place) becomes the one the host uses, and the
 * policy decides on that one (policy_check(): `what` is `verb`).  A
 * translated destination may need another host socket: an AF_INET one is
 * made again as IPv6 while it is unbound (else -ENETUNREACH), an AF_INET6
 * one drops IPV6_V6ONLY (the guest still reads 1).  Each translated
 * destination is audited the first time the socket uses it.
 */
static int xlat_dest(outsource_sock *s, struct hsock *hs, uint32_t idx, enum sock_policy_dir dir,
		     const char *verb, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sock_xlat_dest d;
	char what[128], a[80], b[80], rule[128];
	int rc, fd;

	rc = sock_xlat_to_host(s->policy.xlat, s->policy.nxlat, hs->family, &hs->xl,
			       dir == SOCK_POLICY_CONNECT, ss, &d);
	if (rc < 0)
		return rc;
	if (d.rule < 0)
		snprintf(what, sizeof(what), "%s", verb);
	else
		snprintf(what, sizeof(what), "%s %s translated to", verb, fmt_addr(ss, a, sizeof(a)));
	rc = policy_check(s, hs, idx, dir, &d.addr, d.len, what);
	if (rc < 0)
		return rc;
	if (d.need_v6 && hs->xl.host_family != AF_INET6) {
		rc = hs->state == S_NEW && sock_xlat_unbound(hs->fd) ? 0 : -ENETUNREACH;
		fd = rc ? -1 : ns_socket(s, AF_INET6, hs->type, 0);
		if (!rc && fd < 0)
			rc = fd;
		if (!rc && (rc = sock_xlat_respawn(hs->fd, fd, hs->type)) < 0)
			close(fd);
		if (!rc) {
			if (hs->in_epoll)
				epoll_ctl(s->epfd, EPOLL_CTL_DEL, hs->fd, NULL);
			close(hs->fd);
			hs->fd = fd;
			hs->in_epoll = false;
			hs->watching = 0;
			hs->xl.host_family = AF_INET6;
		}
	} else if (d.need_dual) {
		rc = sock_xlat_dual(hs->fd, &hs->xl);
	}
	if (d.rule >= 0) {
		sock_xlat_format(&s->policy.xlat[d.rule], rule, sizeof(rule));
		fmt_addr(ss, a, sizeof(a));
		fmt_addr(&d.addr, b, sizeof(b));
		if (rc < 0) {
			audit(s, idx, "translate %s %s -> %s rule %s refused: %s", verb, a, b, rule,
			      rc == -ENETUNREACH ? "the socket is bound already" : strerror(-rc));
		} else {
			hs->xl.rule = (uint16_t)(d.rule + 1);
			if (sock_xlat_first_use(&hs->xl, &d.addr))
				audit(s, idx, "translate %s %s %s -> %s rule %s",
				      hs->type == SOCK_STREAM ? "tcp" : "udp", verb, a, b, rule);
		}
	}
	if (rc < 0)
		return rc;
	*ss = d.addr;
	*len = d.len;
	return 0;
}

/* The host's address `ss` (in place) as the guest is shown it; false when
 * the guest's family cannot show it (`ss` is then its wildcard). */
static bool xlat_guest(outsource_sock *s, struct hsock *hs, struct sockaddr_storage *ss)
{
	return sock_xlat_to_guest(s->policy.xlat, s->policy.nxlat, hs->family, &hs->xl, ss, ss) == 0;
}

/*
 * Version 2: a socket area the guest names after its request (sock.h).  The
 * reference is copied out of the call and checked against the channel's
 * data area; *ref gets the copy.  0, or -EINVAL (also for a version 1
 * guest, or a transport without shared memory).
 */
static int area_ref(outsource_sock *s, const struct hrpc_req *req, size_t head,
		    struct hrpc_sock_area *ref)
{
	uint32_t size = 0;

	if (s->version != HRPC_SOCK_VERSION_2 || req->len != head + sizeof(*ref))
		return -EINVAL;
	memcpy(ref, (const uint8_t *)req->payload + head, sizeof(*ref));
	if (!hrpc_chan_data(hrpc_conn_chan(req->conn), &size))
		return -EINVAL;
	return hrpc_sock_area_check(ref, size);
}

/* Give `hs` the area `ref` (checked by area_ref()). */
static int area_attach(outsource_sock *s, const struct hrpc_req *req, struct hsock *hs,
		       const struct hrpc_sock_area *ref)
{
	uint32_t size = 0;
	void *data = hrpc_chan_data(hrpc_conn_chan(req->conn), &size);
	int rc;

	(void)s;
	hs->area = calloc(1, sizeof(*hs->area));
	if (!hs->area)
		return -ENOMEM;
	rc = sock_area_bind(hs->area, data, size, ref, hs->type == SOCK_DGRAM);
	if (rc < 0) {
		free(hs->area);
		hs->area = NULL;
	}
	/* Once it moves data, the first thing to wait for is the host
	 * socket's bytes (the guest's first write kicks us: its ring starts
	 * with a doorbell asked for). */
	hs->want_in = true;
	return rc;
}

static int do_socket(outsource_sock *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_sock_socket_req *r = req->payload;
	struct hrpc_sock_handle_rep *o = rep->payload;
	struct hrpc_sock_area ref;
	bool with_area;
	struct hsock *hs;
	int fd, rc;

	if (req->len < sizeof(*r) || (r->flags & ~HRPC_SOCK_F_KNOWN) || r->reserved)
		return -EINVAL;
	with_area = r->flags & HRPC_SOCK_F_AREA;
	if (with_area ? area_ref(s, req, sizeof(*r), &ref) < 0 : req->len != sizeof(*r))
		return -EINVAL;
	if (r->family != HRPC_AF_INET && r->family != HRPC_AF_INET6)
		return -EAFNOSUPPORT;
	if (r->type != HRPC_SOCK_STREAM && r->type != HRPC_SOCK_DGRAM)
		return -ESOCKTNOSUPPORT;
	if (r->protocol && r->protocol != (r->type == HRPC_SOCK_STREAM ? HRPC_IPPROTO_TCP :
					   HRPC_IPPROTO_UDP))
		return -EPROTONOSUPPORT;
	rc = slot_alloc(s, &hs);
	if (rc < 0)
		return rc;
	fd = ns_socket(s, r->family, r->type, (int)r->protocol);
	if (fd < 0) {
		slot_discard(s, hs);
		return fd;
	}
	hs->fd = fd;
	hs->state = S_NEW;
	hs->family = r->family;
	hs->type = r->type;
	hs->created_ns = hrpc_now_ns();
	if (with_area && (rc = area_attach(s, req, hs, &ref)) < 0) {
		close(fd);
		slot_discard(s, hs);
		return rc;
	}
	s->tot.created++;
	memset(o, 0, sizeof(*o));
	o->handle = hs->handle;
	o->state = report(s, hs);
	rep->len = sizeof(*o);
	return 0;
}

static int do_close(outsource_sock *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	REQ(struct hrpc_sock_handle_req, r);
	struct hsock *hs = get(s, r->handle, r->reserved | r->arg, NULL);

	if (!hs)
		return r->reserved || r->arg ? -EINVAL : -EBADF;
	slot_close(s, hs, NULL);
	return 0;
}

static void note_local(struct hsock *hs)
{
	socklen_t len = sizeof(hs->local);

	if (getsockname(hs->fd, (struct sockaddr *)&hs->local, &len) < 0)
		memset(&hs->local, 0, sizeof(hs->local));
}

static void reply_state(outsource_sock *s, struct hsock *hs, struct hrpc_reply *rep)
{
	struct hrpc_sock_state *st = rep->payload;

	*st = report(s, hs);
	rep->len = sizeof(*st);
}

static int do_bind_connect(outsource_sock *s, const struct hrpc_req *req,
			   struct hrpc_reply *rep, bool is_bind)
{
	REQ(struct hrpc_sock_addr_req, r);
	struct hrpc_sock_addr wa = r->addr; /* private copy */
	struct sockaddr_storage ss;
	socklen_t len;
	struct hsock *hs;
	uint32_t idx;
	char a[80];
	int rc;

	if (r->flags || r->reserved)
		return -EINVAL;
	hs = lookup(s, r->handle, &idx);
	if (!hs)
		return -EBADF;
	if (!is_bind && wa.family == 0) {
		/* connect(AF_UNSPEC): dissolve the association */
		struct sockaddr sa = { .sa_family = AF_UNSPEC };

		rc = connect(hs->fd, &sa, sizeof(sa)) < 0 ? -errno : 0;
		if (!rc) {
			memset(&hs->peer, 0, sizeof(hs->peer));
			if (hs->state == S_CONNECTED)
				hs->state = hs->local.ss_family ? S_BOUND : S_NEW;
		}
		reply_state(s, hs, rep);
		return rc;
	}
	rc = sock_addr_from_wire(&wa, &ss, &len);
	if (rc < 0)
		return rc;
	/* An AF_INET6 socket takes IPv6 addresses only; AF_INET, IPv4 only. */
	if (ss.ss_family != hs->family)
		return hs->family == AF_INET ? -EAFNOSUPPORT : -EINVAL;
	rc = xlat_dest(s, hs, idx, is_bind ? SOCK_POLICY_BIND : SOCK_POLICY_CONNECT,
		       is_bind ? "bind" : "connect", &ss, &len);
	if (rc < 0) {
		reply_state(s, hs, rep);
		return rc;
	}
	if (is_bind) {
		rc = bind(hs->fd, (struct sockaddr *)&ss, len) < 0 ? -errno : 0;
		if (!rc) {
			note_local(hs);
			if (hs->state == S_NEW)
				hs->state = S_BOUND;
		}
		audit(s, idx, "bind %s %s", fmt_addr(&ss, a, sizeof(a)), rc ? strerror(-rc) : "ok");
	} else {
		bool again = hs->state == S_CONNECTING || hs->connect_retry;

		hs->connect_retry = false;
		rc = connect(hs->fd, (struct sockaddr *)&ss, len) < 0 ? -errno : 0;
		if (again) {
			/* The re-try of a blocking connect: its verdict. */
			if (rc != -EALREADY && rc != -EINPROGRESS)
				connect_done(s, hs, rc == -EISCONN ? 0 : rc);
		} else {
			if (!rc || rc == -EINPROGRESS) {
				hs->state = rc ? S_CONNECTING : S_CONNECTED;
				hs->connect_open = rc != 0;
				memcpy(&hs->peer, &ss, sizeof(ss));
				note_local(hs);
			}
			audit(s, idx, "connect %s local=%s %s", fmt_addr(&ss, a, sizeof(a)),
			      fmt_addr(&hs->local, (char[80]){ 0 }, 80),
			      rc == -EINPROGRESS ? "in-progress" : rc ? strerror(-rc) : "established");
		}
	}
	reply_state(s, hs, rep);
	return rc;
}

static int do_listen(outsource_sock *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	REQ(struct hrpc_sock_handle_req, r);
	struct hsock *hs;
	uint32_t idx;
	char a[80];
	int rc, backlog = r->arg > 4096 ? 4096 : (int)r->arg;

	hs = get(s, r->handle, r->reserved, &idx);
	if (!hs)
		return r->reserved ? -EINVAL : -EBADF;
	if (hs->type != SOCK_STREAM)
		return -EOPNOTSUPP;
	/* listen() on an unbound socket binds an ephemeral port: that is a
	 * bind as far as the policy goes. */
	if (!hs->local.ss_family) {
		struct sockaddr_storage any = { .ss_family = hs->xl.host_family ?: hs->family };

		rc = policy_check(s, hs, idx, SOCK_POLICY_BIND, &any, sizeof(any),
				  "listen (implicit bind)");
		if (rc < 0)
			return rc;
	}
	rc = listen(hs->fd, backlog) < 0 ? -errno : 0;
	if (!rc) {
		hs->state = S_LISTEN;
		hs->backlog = (uint32_t)backlog;
		note_local(hs);
	}
	audit(s, idx, "listen %s backlog=%d %s", fmt_addr(&hs->local, a, sizeof(a)), backlog,
	      rc ? strerror(-rc) : "ok");
	reply_state(s, hs, rep);
	return rc;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return !memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			       &((const struct sockaddr_in *)b)->sin_addr, 4) &&
		       ((const struct sockaddr_in *)a)->sin_port ==
			       ((const struct sockaddr_in *)b)->sin_port;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, 16) &&
		       ((const struct sockaddr_in6 *)a)->sin6_port ==
			       ((const struct sockaddr_in6 *)b)->sin6_port;
	return false;
}

/* The guest accepted a connection a remnant elsewhere accepted (its near
 * end came from the stand-in's far end): it is that connection, forwarded;
 * *ss becomes the peer the guest is told. */
static void fwd_accepted(outsource_sock *s, struct hsock *ls, struct hsock *hs,
			 struct sockaddr_storage *ss)
{
	for (uint32_t i = 0; i < s->nexpect; i++) {
		struct fwd_expect *e = &s->expect[i];

		if (e->listener != ls->handle || !same_addr(&e->from, ss))
			continue;
		hs->forwarded = true;
		memcpy(&hs->local, &e->local, sizeof(hs->local));
		memcpy(&hs->peer, &e->peer, sizeof(hs->peer));
		memcpy(ss, &e->peer, sizeof(*ss));
		if (s->fwd_hook)
			s->fwd_hook(s->fwd_hook_data, OUTSOURCE_SOCK_FWD_ACCEPTED, e->object,
				    hs->handle);
		s->expect[i] = s->expect[--s->nexpect];
		return;
	}
}

int outsource_sock_fwd_arrive(outsource_sock *s, uint64_t listener, uint64_t object,
			      const struct hrpc_sock_addr *local, const struct hrpc_sock_addr *peer)
{
	struct hsock *ls = hrpc_handle_table_get(&s->socks, listener);
	struct sockaddr_storage to;
	socklen_t tl = sizeof(to), fl;
	struct fwd_expect e = { .listener = listener, .object = object };
	struct fwd_expect *ne;
	int fd, rc;

	if (!ls || ls->state != S_LISTEN || !ls->fwd_listen || ls->fd < 0)
		return -ECONNREFUSED;
	if (sock_addr_from_wire(local, &e.local, &fl) < 0 ||
	    sock_addr_from_wire(peer, &e.peer, &fl) < 0)
		return -EINVAL;
	if (s->nexpect >= 4096)
		return -ENOBUFS;   /* the guest does not accept: the backlog is full anyway */
	if (getsockname(ls->fd, (struct sockaddr *)&to, &tl) < 0)
		return -errno;
	/* To the listener's own address; an unspecified one is its loopback. */
	if (to.ss_family == AF_INET && ((struct sockaddr_in *)&to)->sin_addr.s_addr == INADDR_ANY)
		((struct sockaddr_in *)&to)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (to.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&to)->sin6_addr))
		((struct sockaddr_in6 *)&to)->sin6_addr = in6addr_loopback;
	fd = ns_socket(s, to.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return fd;
	if (connect(fd, (struct sockaddr *)&to, tl) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		close(fd);
		return rc;
	}
	fl = sizeof(e.from);
	if (getsockname(fd, (struct sockaddr *)&e.from, &fl) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	ne = realloc(s->expect, (s->nexpect + 1) * sizeof(*ne));
	if (!ne) {
		close(fd);
		return -ENOMEM;
	}
	s->expect = ne;
	s->expect[s->nexpect++] = e;
	return fd;
}

void outsource_sock_set_fwd_hook(outsource_sock *s, outsource_sock_fwd_hook fn, void *data)
{
	s->fwd_hook = fn;
	s->fwd_hook_data = data;
}

static int do_accept(outsource_sock *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_sock_handle_req *r = req->payload;
	struct hrpc_sock_accept_rep *o = rep->payload;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct hrpc_sock_area ref;
	struct hsock *ls, *hs;
	bool with_area;
	uint32_t lidx;
	char a[80], b[80];
	int fd, rc;

	if (req->len < sizeof(*r))
		return -EINVAL;
	with_area = req->len != sizeof(*r);
	if (with_area ? r->arg != HRPC_SOCK_F_AREA || area_ref(s, req, sizeof(*r), &ref) < 0
		      : r->arg != 0)
		return -EINVAL;
	ls = get(s, r->handle, r->reserved, &lidx);
	if (!ls)
		return r->reserved ? -EINVAL : -EBADF;
	memset(o, 0, sizeof(*o));
	rep->len = sizeof(*o);
	if (ls->state != S_LISTEN) {
		o->lstate = report(s, ls);
		return -EINVAL;
	}
	/* Quota first: an unaccepted connection stays in the host's backlog. */
	rc = slot_alloc(s, &hs);
	if (rc == 0 && with_area) {
		/* Before the accept: a connection taken is never lost to a
		 * failure after it. */
		hs->type = SOCK_STREAM;
		rc = area_attach(s, req, hs, &ref);
		if (rc < 0)
			slot_discard(s, hs);
	}
	if (rc < 0) {
		o->lstate = report(s, ls);
		return rc;
	}
	fd = accept4(ls->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		slot_discard(s, hs);
		o->lstate = report(s, ls);
		return rc;
	}
	hs->fd = fd;
	hs->state = S_CONNECTED;
	hs->family = ls->family;
	hs->xl.host_family = ls->xl.host_family;
	hs->type = SOCK_STREAM;
	hs->created_ns = hrpc_now_ns();
	memcpy(&hs->peer, &ss, sizeof(ss));
	note_local(hs);
	if (ls->fwd_listen)
		fwd_accepted(s, ls, hs, &ss);
	s->tot.created++;
	audit(s, idx_of(hs), "accept on sock=%" PRIu32 " local=%s peer=%s", lidx,
	      fmt_addr(&hs->local, a, sizeof(a)), fmt_addr(&ss, b, sizeof(b)));
	o->handle = hs->handle;
	o->state = report(s, hs);
	o->lstate = report(s, ls);
	xlat_guest(s, hs, &ss);
	sock_addr_to_wire(&ss, &o->peer);
	pump(s, hs);   /* bytes may be there already */
	return 0;
}

#define SEND_FLAGS (HRPC_MSG_OOB | HRPC_MSG_DONTROUTE | HRPC_MSG_DONTWAIT | HRPC_MSG_EOR | \
		    HRPC_MSG_NOSIGNAL | HRPC_MSG_MORE)
#define RECV_FLAGS (HRPC_MSG_OOB | HRPC_MSG_PEEK | HRPC_MSG_TRUNC | HRPC_MSG_DONTWAIT | \
		    HRPC_MSG_WAITALL)

static int do_send(outsource_sock *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_sock_send_req *r = req->payload;
	struct hrpc_sock_io_rep *o = rep->payload;
	struct sockaddr_storage ss;
	socklen_t salen = 0;
	const void *data;
	struct hsock *hs;
	uint32_t idx, len;
	ssize_t n;
	int rc = 0;

	if (req->len < sizeof(*r) || r->reserved || r->has_addr > 1)
		return -EINVAL;
	hs = lookup(s, r->handle, &idx);
	if (!hs)
		return -EBADF;
	if (hs->area)
		return -EINVAL;   /* its bytes go through its rings */
	if (r->flags & ~SEND_FLAGS)
		return -EOPNOTSUPP;
	len = r->len;
	if (req->bulk) {
		if (req->len != sizeof(*r) || len > req->bulk_len)
			return -EINVAL;
		data = req->bulk;
	} else {
		if (len != req->len - sizeof(*r))
			return -EINVAL;
		data = (const uint8_t *)req->payload + sizeof(*r);
	}
	if (len > HRPC_SOCK_MAX_IO)
		len = HRPC_SOCK_MAX_IO;
	if (r->has_addr) {
		struct hrpc_sock_addr wa = r->addr;

		rc = sock_addr_from_wire(&wa, &ss, &salen);
		if (rc < 0)
			return rc;
		if (hs->type == SOCK_DGRAM)
			rc = xlat_dest(s, hs, idx, SOCK_POLICY_CONNECT, "sendto", &ss, &salen);
		else
			salen = 0;
		if (rc < 0)
			return rc;
	} else if (hs->type == SOCK_DGRAM) {
		/* A connected UDP socket: its peer is checked again at every
		 * send (the host's own addresses may have changed since the
		 * connect).  Not connected: the kernel answers EDESTADDRREQ. */
		socklen_t pl = sizeof(ss);

		if (getpeername(hs->fd, (struct sockaddr *)&ss, &pl) == 0) {
			rc = policy_check(s, hs, idx, SOCK_POLICY_CONNECT, &ss, pl, "send");
			if (rc < 0)
				return rc;
		}
	}
	/* A stream socket sends to its peer, checked at connect; an address
	 * given with it is not passed on (sendto() on TCP ignores it today,
	 * and must not start to mean anything later, e.g. fast open). */
	memset(o, 0, sizeof(*o));
	rep->len = sizeof(*o);
	n = sendto(hs->fd, data, len, (int)(r->flags & ~HRPC_MSG_DONTWAIT) | MSG_DONTWAIT | MSG_NOSIGNAL,
		   salen ? (struct sockaddr *)&ss : NULL, salen);
	if (n < 0) {
		rc = -errno;
	} else {
		o->len = o->full_len = (uint32_t)n;
		hs->sent += (uint64_t)n;
		s->tot.bytes_sent += (uint64_t)n;
		if (hs->type == SOCK_DGRAM && !hs->local.ss_family)
			note_local(hs); /* auto-bound by the first datagram */
	}
	o->state = report(s, hs);
	return rc;
}

static int do_recv(outsource_sock *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	REQ(struct hrpc_sock_recv_req, r);
	struct hrpc_sock_io_rep *o = rep->payload;
	struct sockaddr_storage ss;
	struct iovec iov;
	struct msghdr mh = { .msg_name = &ss, .msg_namelen = sizeof(ss), .msg_iov = &iov,
			     .msg_iovlen = 1 };
	struct hsock *hs;
	uint32_t idx, cap;
	ssize_t n;
	int flags, rc = 0;

	hs = lookup(s, r->handle, &idx);
	if (!hs)
		return -EBADF;
	if (hs->area)
		return -EINVAL;   /* its bytes go through its rings */
	if (r->flags & ~RECV_FLAGS)
		return -EOPNOTSUPP;
	if (req->bulk) {
		iov.iov_base = req->bulk;
		cap = req->bulk_cap;
	} else {
		iov.iov_base = (uint8_t *)rep->payload + sizeof(*o);
		cap = HRPC_MSG_MAX_PAYLOAD - (uint32_t)sizeof(*o);
	}
	if (cap > HRPC_SOCK_MAX_IO)
		cap = HRPC_SOCK_MAX_IO;
	iov.iov_len = r->len < cap ? r->len : cap;
	flags = (int)(r->flags & (HRPC_MSG_OOB | HRPC_MSG_PEEK | HRPC_MSG_TRUNC)) | MSG_DONTWAIT;
	/* Datagrams: always learn the real size, to report truncation. */
	if (hs->type == SOCK_DGRAM)
		flags |= MSG_TRUNC;
	memset(&ss, 0, sizeof(ss));
	memset(o, 0, sizeof(*o));
	rep->len = sizeof(*o);
	n = recvmsg(hs->fd, &mh, flags);
	if (n < 0) {
		rc = -errno;
	} else if (hs->type == SOCK_DGRAM && mh.msg_namelen && !xlat_guest(s, hs, &ss)) {
		/* A sender the guest's family cannot show (IPv6 on a guest
		 * AF_INET socket the host made IPv6, no rule for it): dropped,
		 * as a firewall would. */
		if (r->flags & HRPC_MSG_PEEK)
			(void)recv(hs->fd, NULL, 0, MSG_DONTWAIT | MSG_TRUNC);
		rc = -EAGAIN;
	} else {
		uint32_t got = (uint32_t)n;

		o->full_len = got;
		if (hs->type == SOCK_DGRAM && got > iov.iov_len)
			got = (uint32_t)iov.iov_len;
		/* TCP with MSG_TRUNC discards: nothing was written. */
		o->len = (hs->type == SOCK_STREAM && (r->flags & HRPC_MSG_TRUNC)) ? 0 : got;
		o->msg_flags = (uint32_t)mh.msg_flags & (HRPC_MSG_TRUNC | HRPC_MSG_CTRUNC |
							 HRPC_MSG_OOB | HRPC_MSG_EOR);
		if (hs->type == SOCK_DGRAM && mh.msg_namelen)
			sock_addr_to_wire(&ss, &o->addr);
		if (!(r->flags & HRPC_MSG_PEEK)) {
			hs->received += o->full_len;
			s->tot.bytes_received += o->full_len;
		}
		if (req->bulk) {
			rep->bulk_pos = 0;
			rep->bulk_len = o->len;
		} else {
			rep->len += o->len;
		}
	}
	o->state = report(s, hs);
	return rc;
}

static int do_shutdown(outsource_sock *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	REQ(struct hrpc_sock_handle_req, r);
	struct hsock *hs;
	uint32_t idx;
	int rc;

	hs = get(s, r->handle, r->reserved, &idx);
	if (!hs)
		return r->reserved ? -EINVAL : -EBADF;
	if (r->arg > SHUT_RDWR)
		return -EINVAL;
	/* An area socket's bytes still in its out ring go out first (the
	 * guest's own way is HRPC_SOCK_AREA_G_SHUTWR and a KICK). */
	pump(s, hs);
	rc = shutdown(hs->fd, (int)r->arg) < 0 ? -errno : 0;
	if (!rc && hs->type == SOCK_STREAM && hs->state == S_CONNECTED)
		hs->state = S_SHUT;
	reply_state(s, hs, rep);
	return rc;
}

static int do_getname(outsource_sock *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	REQ(struct hrpc_sock_handle_req, r);
	struct hrpc_sock_name_rep *o = rep->payload;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct hsock *hs;
	int rc = 0;

	hs = get(s, r->handle, r->reserved, NULL);
	if (!hs)
		return r->reserved ? -EINVAL : -EBADF;
	if (r->arg > 1)
		return -EINVAL;
	memset(&ss, 0, sizeof(ss));
	if (hs->forwarded)   /* the connection as it is at the other host */
		memcpy(&ss, r->arg ? &hs->peer : &hs->local, sizeof(ss));
	else
		rc = (r->arg ? getpeername(hs->fd, (struct sockaddr *)&ss, &len) :
		      getsockname(hs->fd, (struct sockaddr *)&ss, &len)) < 0 ? -errno : 0;
	memset(o, 0, sizeof(*o));
	if (!rc) {
		xlat_guest(s, hs, &ss);
		sock_addr_to_wire(&ss, &o->addr);
	}
	o->state = report(s, hs);
	rep->len = sizeof(*o);
	return rc;
}

/* Options a guest may use, with the value size checks Linux would do
 * anyway (we just refuse before the host kernel sees odd sizes). */
enum { OPT_INT = 1, OPT_LINGER, OPT_STR, OPT_ANY };
struct optdef {
	int level, name;
	uint8_t kind;
	bool set;        /* may be set */
};
static const struct optdef opts[] = {
	{ SOL_SOCKET, SO_REUSEADDR, OPT_INT, true },
	{ SOL_SOCKET, SO_REUSEPORT, OPT_INT, true },
	{ SOL_SOCKET, SO_KEEPALIVE, OPT_INT, true },
	{ SOL_SOCKET, SO_BROADCAST, OPT_INT, true },
	{ SOL_SOCKET, SO_OOBINLINE, OPT_INT, true },
	{ SOL_SOCKET, SO_DONTROUTE, OPT_INT, true },
	{ SOL_SOCKET, SO_RCVBUF, OPT_INT, true },
	{ SOL_SOCKET, SO_SNDBUF, OPT_INT, true },
	{ SOL_SOCKET, SO_RCVLOWAT, OPT_INT, true },
	{ SOL_SOCKET, SO_LINGER, OPT_LINGER, true },
	{ SOL_SOCKET, SO_PRIORITY, OPT_INT, true },
	{ SOL_SOCKET, SO_TYPE, OPT_INT, false },
	{ SOL_SOCKET, SO_ERROR, OPT_INT, false },
	{ SOL_SOCKET, SO_ACCEPTCONN, OPT_INT, false },
	{ SOL_SOCKET, SO_PROTOCOL, OPT_INT, false },
	{ SOL_SOCKET, SO_DOMAIN, OPT_INT, false },
	{ IPPROTO_TCP, TCP_NODELAY, OPT_INT, true },
	{ IPPROTO_TCP, TCP_MAXSEG, OPT_INT, true },
	{ IPPROTO_TCP, TCP_CORK, OPT_INT, true },
	{ IPPROTO_TCP, TCP_KEEPIDLE, OPT_INT, true },
	{ IPPROTO_TCP, TCP_KEEPINTVL, OPT_INT, true },
	{ IPPROTO_TCP, TCP_KEEPCNT, OPT_INT, true },
	{ IPPROTO_TCP, TCP_QUICKACK, OPT_INT, true },
	{ IPPROTO_TCP, TCP_USER_TIMEOUT, OPT_INT, true },
	{ IPPROTO_TCP, TCP_SYNCNT, OPT_INT, true },
	{ IPPROTO_TCP, TCP_DEFER_ACCEPT, OPT_INT, true },
	{ IPPROTO_TCP, TCP_NOTSENT_LOWAT, OPT_INT, true },
	{ IPPROTO_TCP, TCP_INFO, OPT_ANY, false },
	{ IPPROTO_TCP, TCP_CONGESTION, OPT_STR, false },
	{ IPPROTO_IP, IP_TOS, OPT_INT, true },
	{ IPPROTO_IP, IP_TTL, OPT_INT, true },
	{ IPPROTO_IP, IP_RECVERR, OPT_INT, false },
	{ IPPROTO_IP, IP_MTU_DISCOVER, OPT_INT, true },
	{ IPPROTO_IP, IP_PKTINFO, OPT_INT, true },          /* version 2: the in ring's meta */
	{ IPPROTO_IPV6, IPV6_RECVPKTINFO, OPT_INT, true },  /* likewise */
	{ IPPROTO_IPV6, IPV6_V6ONLY, OPT_INT, true },
	{ IPPROTO_IPV6, IPV6_UNICAST_HOPS, OPT_INT, true },
	{ IPPROTO_IPV6, IPV6_TCLASS, OPT_INT, true },
};

static const struct optdef *find_opt(int level, int name)
{
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (opts[i].level == level && opts[i].name == name)
			return &opts[i];
	return NULL;
}

#ifndef SO_BINDTOIFINDEX
#define SO_BINDTOIFINDEX 62
#endif
#ifndef SO_DETACH_REUSEPORT_BPF
#define SO_DETACH_REUSEPORT_BPF 68
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

static bool opt_denied(int level, int name)
{
	/* Would reach outside the guest's sandbox: host interfaces, marks,
	 * socket filters, transparent proxying, binding addresses the host
	 * does not have (a host service that binds one later would find it
	 * taken), steering a host port's reuse group. */
	if (level == SOL_SOCKET)
		return name == SO_BINDTODEVICE || name == SO_BINDTOIFINDEX || name == SO_MARK ||
		       name == SO_ATTACH_FILTER || name == SO_ATTACH_BPF ||
		       name == SO_ATTACH_REUSEPORT_CBPF || name == SO_ATTACH_REUSEPORT_EBPF ||
		       name == SO_DETACH_REUSEPORT_BPF;
	if (level == IPPROTO_IP)
		return name == IP_TRANSPARENT || name == IP_FREEBIND;
	if (level == IPPROTO_IPV6)
		return name == IPV6_TRANSPARENT || name == IPV6_FREEBIND;
	return false;
}

/*
 * Setting these would let a guest share a port with a host service and
 * receive its connections or datagrams: SO_REUSEPORT joins a host socket's
 * reuse group when the worker runs as the same user as host services
 * (Linux groups only sockets of one uid: with a uid of the guest's own,
 * s->own_uid, the group can only hold the guest's sockets, and the option
 * is allowed), and SO_REUSEADDR on UDP lets a second socket bind a port in
 * use whoever owns it (unicast goes to the newest).  SO_REUSEADDR on TCP
 * stays: Linux never lets it bind over a listening socket, and guest
 * servers restart with it.  Turning an option off is always fine.
 */
static bool opt_shares_port(const outsource_sock *s, const struct hsock *hs, int level, int name,
			    const uint8_t *val)
{
	int v;

	if (level != SOL_SOCKET || (name != SO_REUSEPORT && name != SO_REUSEADDR))
		return false;
	memcpy(&v, val, sizeof(v));
	if (!v)
		return false;
	if (name == SO_REUSEPORT)
		return !s->own_uid;
	return hs->type == SOCK_DGRAM;
}

/* The value the guest set last, for a migration's replay (an option set
 * cannot always be read back as it was given: SO_RCVBUF reads double). */
static void journal_put(struct hsock *hs, int level, int name, const uint8_t *val, uint32_t len)
{
	uint32_t i;

	if (len > sizeof(hs->jopt[0].val))
		len = sizeof(hs->jopt[0].val);   /* every settable option fits */
	if (!hs->jopt && !(hs->jopt = calloc(HRPC_SOCK_MIG_OPTS, sizeof(*hs->jopt))))
		return;
	for (i = 0; i < hs->njopt; i++)
		if (hs->jopt[i].level == level && hs->jopt[i].name == name)
			break;
	if (i == hs->njopt) {
		if (i == HRPC_SOCK_MIG_OPTS)
			return;   /* more distinct options than the table has */
		hs->njopt++;
	}
	hs->jopt[i].level = level;
	hs->jopt[i].name = name;
	hs->jopt[i].len = len;
	memset(hs->jopt[i].val, 0, sizeof(hs->jopt[i].val));
	memcpy(hs->jopt[i].val, val, len);
}

static int do_sockopt(outsource_sock *s, const struct hrpc_req *req, struct hrpc_reply *rep,
		      bool set)
{
	REQ(struct hrpc_sock_opt, r);
	struct hrpc_sock_opt *o = rep->payload;
	const struct optdef *d;
	struct hsock *hs;
	uint8_t val[HRPC_SOCK_OPT_MAX];
	socklen_t len;
	int rc;

	hs = get(s, r->handle, r->reserved, NULL);
	if (!hs)
		return r->reserved ? -EINVAL : -EBADF;
	if (r->len > HRPC_SOCK_OPT_MAX)
		return -EINVAL;
	if (opt_denied((int)r->level, (int)r->name))
		return -EPERM;
	d = find_opt((int)r->level, (int)r->name);
	if (!d)
		return -ENOPROTOOPT;
	if ((d->level == IPPROTO_IPV6 && hs->family != AF_INET6) ||
	    (d->level == IPPROTO_TCP && hs->type != SOCK_STREAM))
		return -EOPNOTSUPP;
	memset(o, 0, sizeof(*o));
	rep->len = sizeof(*o);
	if (set) {
		if (!d->set)
			return -ENOPROTOOPT;
		if ((d->kind == OPT_INT && r->len < sizeof(int)) ||
		    (d->kind == OPT_LINGER && r->len < sizeof(struct linger)))
			return -EINVAL;
		memcpy(val, r->val, r->len);
		if (opt_shares_port(s, hs, (int)r->level, (int)r->name, val)) {
			rc = -EPERM;
			goto out;
		}
		rc = setsockopt(hs->fd, (int)r->level, (int)r->name, val, r->len) < 0 ? -errno : 0;
		if (!rc) {
			journal_put(hs, (int)r->level, (int)r->name, val, r->len);
			sock_xlat_setopt_mirror(hs->fd, &hs->xl, (int)r->level, (int)r->name, val, r->len);
			if (r->level == IPPROTO_IPV6 && r->name == IPV6_V6ONLY)
				hs->xl.v6only = false; /* the host holds the guest's value again */
		}
	} else {
		len = r->len;
		rc = getsockopt(hs->fd, (int)r->level, (int)r->name, val, &len) < 0 ? -errno : 0;
		if (!rc) {
			sock_xlat_getopt(&hs->xl, hs->family, (int)r->level, (int)r->name, val, len);
			o->level = r->level;
			o->name = r->name;
			o->len = len > HRPC_SOCK_OPT_MAX ? HRPC_SOCK_OPT_MAX : len;
			memcpy(o->val, val, o->len);
			/* SO_ERROR collected: a connect that failed is over. */
			if (r->level == SOL_SOCKET && r->name == SO_ERROR && hs->connect_open) {
				int e;

				memcpy(&e, val, sizeof(e));
				if (e)
					connect_done(s, hs, e);
			}
		}
	}
out:
	o->state = report(s, hs);
	return rc;
}

static int do_ioctl(outsource_sock *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	REQ(struct hrpc_sock_handle_req, r);
	struct hrpc_sock_ioctl_rep *o = rep->payload;
	struct hsock *hs;
	int v = 0, rc;

	hs = get(s, r->handle, r->reserved, NULL);
	if (!hs)
		return r->reserved ? -EINVAL : -EBADF;
	switch (r->arg) {
	case HRPC_SIOCINQ:
	case HRPC_SIOCOUTQ:
	case HRPC_SIOCOUTQNSD:
	case HRPC_SIOCATMARK:
		break;
	default:
		return -ENOTTY;
	}
	rc = ioctl(hs->fd, (unsigned long)r->arg, &v) < 0 ? -errno : 0;
	memset(o, 0, sizeof(*o));
	o->value = rc ? 0 : (uint64_t)(uint32_t)v;
	o->state = report(s, hs);
	rep->len = sizeof(*o);
	return rc;
}

static int do_poll(outsource_sock *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	REQ(struct hrpc_sock_handle_req, r);
	struct hsock *hs = get(s, r->handle, r->reserved | r->arg, NULL);

	if (!hs)
		return r->reserved || r->arg ? -EINVAL : -EBADF;
	reply_state(s, hs, rep);
	return 0;
}

static int do_credit(outsource_sock *s, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	REQ(struct hrpc_sock_credit, r);
	struct hrpc_sock_credit *o = rep->payload;
	int rc = 0;

	if (r->reserved)
		return -EINVAL;
	if (r->credit > HRPC_SOCK_MAX_CREDIT - s->credit)
		rc = -EINVAL; /* more than it may hold: grant nothing */
	else
		s->credit += r->credit;
	s->tot.credit = s->credit;
	o->credit = s->credit;
	o->reserved = 0;
	rep->len = sizeof(*o);
	return rc;
}

/* ---- version 2: data rings (sockarea.h) -------------------------------------------- */

struct area_ctx {
	outsource_sock *s;
	struct hsock *hs;
};

/* A datagram's destination from the guest's out ring: converted, translated
 * and judged by the policy as a SEND's would be. */
/*
 * The source address a guest's IP_PKTINFO / IPV6_PKTINFO asks for: of the
 * host socket's family, and one the guest could bind this socket's port to
 * (the policy's bind rules), or unspecified (then only the interface was
 * asked for, which the host's routing picks anyway).
 */
static int area_source(struct area_ctx *c, const struct hrpc_sock_dgram_meta *m)
{
	struct hsock *hs = c->hs;
	struct sockaddr_storage local, src;
	socklen_t ll = sizeof(local), sl;
	struct hrpc_sock_addr w = m->spec_dst;
	static const uint8_t zero[16];
	int rc;

	if (getsockname(hs->fd, (struct sockaddr *)&local, &ll) < 0)
		return -errno;
	if ((w.family == HRPC_AF_INET) != (local.ss_family == AF_INET) ||
	    (w.family != HRPC_AF_INET && w.family != HRPC_AF_INET6))
		return -EINVAL;
	if (!memcmp(w.addr, zero, 16))
		return 0;
	w.port = local.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&local)->sin_port) :
					      ntohs(((struct sockaddr_in6 *)&local)->sin6_port);
	w.flowinfo = w.scope_id = w.reserved = 0;
	rc = sock_addr_from_wire(&w, &src, &sl);
	if (rc == 0)
		rc = policy_check(c->s, hs, idx_of(hs), SOCK_POLICY_BIND, &src, sl, "sendmsg source");
	return rc;
}

static int area_dest(void *ctx, const struct hrpc_sock_addr *w,
		     const struct hrpc_sock_dgram_meta *m, struct sockaddr_storage *ss,
		     socklen_t *len, int *fd)
{
	struct area_ctx *c = ctx;
	struct hsock *hs = c->hs;
	uint32_t idx = idx_of(hs);
	struct hrpc_sock_addr wa = *w;
	int rc;

	*len = 0;
	if (m) {
		rc = area_source(c, m);
		if (rc < 0)
			return rc;
	}
	if (!wa.family) {
		socklen_t pl = sizeof(*ss);

		/* Connected: the peer, checked again at every send. */
		if (getpeername(hs->fd, (struct sockaddr *)ss, &pl) == 0)
			rc = policy_check(c->s, hs, idx, SOCK_POLICY_CONNECT, ss, pl, "send");
		else
			rc = -EDESTADDRREQ;
		return rc;
	}
	rc = sock_addr_from_wire(&wa, ss, len);
	if (rc == 0)
		rc = xlat_dest(c->s, hs, idx, SOCK_POLICY_CONNECT, "sendto", ss, len);
	*fd = hs->fd;   /* translation may have made it anew */
	return rc;
}

/* A datagram's sender, as the guest is to see it. */
static int area_src(void *ctx, const struct sockaddr_storage *from, socklen_t len,
		    struct hrpc_sock_addr *out)
{
	struct area_ctx *c = ctx;
	struct sockaddr_storage ss = { 0 };

	memcpy(&ss, from, len < sizeof(ss) ? len : sizeof(ss));
	if (!xlat_guest(c->s, c->hs, &ss))
		return -EAFNOSUPPORT;   /* a sender the guest's family cannot show */
	sock_addr_to_wire(&ss, out);
	return 0;
}

/*
 * Move what can move between a live area socket's rings and its host
 * socket, tell the guest what it asked to hear, and watch what the pumps
 * wait for.  A forged ring index fences the guest's channel (and only its).
 */
static void pump(outsource_sock *s, struct hsock *hs)
{
	struct area_ctx c = { .s = s, .hs = hs };
	uint32_t ev_out = 0, ev_in = 0;
	long out, in = 0;

	if (!area_live(hs) || !s->conn)
		return;
	out = sock_area_drain(hs->area, hs->fd, hs->type == SOCK_DGRAM ? area_dest : NULL, &c,
			      &ev_out);
	if (out >= 0)
		in = sock_area_push(hs->area, hs->fd, hs->type == SOCK_DGRAM ? area_src : NULL, &c,
				    &ev_in);
	if (out < 0 || in < 0) {
		audit(s, idx_of(hs), "fenced: guest forged a data ring index or record");
		hrpc_conn_fence(s->conn, "guest forged a socket's data ring index or record");
		s->conn = NULL;
		return;
	}
	hs->sent += (uint64_t)out;
	hs->received += (uint64_t)in;
	hs->want_out = (ev_out & SOCK_AREA_EV_WANT_OUT) != 0;
	hs->want_in = (ev_in & SOCK_AREA_EV_WANT_IN) != 0;
	if ((ev_out | ev_in) & SOCK_AREA_EV_NOTIFY)
		queue_ready(s, hs);
	rewatch(s, hs);
}

/* KICK: the guest wrote into these sockets' out rings or freed room in
 * their in rings while we had asked for a doorbell.  One-way: nothing to
 * answer; a handle that is gone (closed meanwhile) is no error. */
static int do_kick(outsource_sock *s, const struct hrpc_req *req)
{
	uint64_t h[HRPC_SOCK_KICK_MAX];
	uint32_t n = req->len / (uint32_t)sizeof(h[0]);

	if (!req->len || req->len % sizeof(h[0]) || n > HRPC_SOCK_KICK_MAX)
		return -EINVAL;
	memcpy(h, req->payload, req->len);
	for (uint32_t i = 0; i < n && s->conn; i++) {
		struct hsock *hs = lookup(s, h[i], NULL);

		if (hs)
			pump(s, hs);
	}
	return 0;   /* the READY events go out from dispatch() (kick()) */
}

static int handle(void *opaque, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	outsource_sock *s = opaque;
	int rc;

	/* One worker serves one guest; a re-attached guest comes back on a
	 * new connection. */
	s->conn = req->conn;
	switch (req->hdr->proc) {
	case HRPC_SOCK_INIT:       rc = do_init(s, req, rep); break;
	case HRPC_SOCK_SOCKET:     rc = do_socket(s, req, rep); break;
	case HRPC_SOCK_CLOSE:      rc = do_close(s, req, rep); break;
	case HRPC_SOCK_BIND:       rc = do_bind_connect(s, req, rep, true); break;
	case HRPC_SOCK_LISTEN:     rc = do_listen(s, req, rep); break;
	case HRPC_SOCK_CONNECT:    rc = do_bind_connect(s, req, rep, false); break;
	case HRPC_SOCK_ACCEPT:     rc = do_accept(s, req, rep); break;
	case HRPC_SOCK_SEND:       rc = do_send(s, req, rep); break;
	case HRPC_SOCK_RECV:       rc = do_recv(s, req, rep); break;
	case HRPC_SOCK_SHUTDOWN:   rc = do_shutdown(s, req, rep); break;
	case HRPC_SOCK_GETNAME:    rc = do_getname(s, req, rep); break;
	case HRPC_SOCK_SETSOCKOPT: rc = do_sockopt(s, req, rep, true); break;
	case HRPC_SOCK_GETSOCKOPT: rc = do_sockopt(s, req, rep, false); break;
	case HRPC_SOCK_IOCTL:      rc = do_ioctl(s, req, rep); break;
	case HRPC_SOCK_POLL:       rc = do_poll(s, req, rep); break;
	case HRPC_SOCK_CREDIT:     rc = do_credit(s, req, rep); break;
	case HRPC_SOCK_KICK:       rc = do_kick(s, req); break;
	default:                   rc = -ENOSYS; break;
	}
	/* States may be waiting for credit, or for a connection. */
	kick(s);
	return rc;
}

/* ---- migration (sockstate.h) ---------------------------------------------------- */

const char *outsource_sock_identity(outsource_sock *s)
{
	return s->policy.identity[0] ? s->policy.identity : NULL;
}

int outsource_sock_mig_quiesce(outsource_sock *s)
{
	/* Nothing more moves: no pump runs until outsource_sock_mig_resume()
	 * (the caller stops dispatching us and serving the channel).  What the
	 * guest queued in its out rings stays there: guest memory moves with
	 * the guest, and the out ring's consumer index with our table. */
	s->quiesced = true;
	return 0;
}

void outsource_sock_mig_resume(outsource_sock *s)
{
	struct hsock *hs;
	uint32_t pos = 0;

	s->quiesced = false;
	/* A migration that failed before the switch: go on where we stopped. */
	while ((hs = hrpc_handle_table_next(&s->socks, &pos, NULL)))
		pump(s, hs);
	kick(s);
}

static void mig_addr_out(const struct sockaddr_storage *ss, struct hrpc_sock_addr *w)
{
	memset(w, 0, sizeof(*w));
	if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6)
		sock_addr_to_wire(ss, w);
}

int outsource_sock_mig_export(outsource_sock *s, void **out, size_t *out_len, int **out_fds,
			      uint32_t *nfds)
{
	uint32_t n = hrpc_handle_table_count(&s->socks), i = 0, pos = 0;
	struct hrpc_sock_mig_table *t;
	struct hrpc_sock_mig *m;
	size_t len = sizeof(*t) + (size_t)n * sizeof(*m);
	struct hsock *hs;
	int *fds;

	if (!s->quiesced)
		return -EBUSY;
	t = calloc(1, len);
	fds = calloc(n ? n : 1, sizeof(*fds));
	if (!t || !fds) {
		free(t);
		free(fds);
		return -ENOMEM;
	}
	t->magic = HRPC_SOCK_MIG_MAGIC;
	t->nsock = n;
	t->size = len;
	t->version = s->version;
	t->credit = s->credit;
	m = (struct hrpc_sock_mig *)(t + 1);
	while ((hs = hrpc_handle_table_next(&s->socks, &pos, NULL)) && i < n) {
		struct hrpc_sock_mig *r = &m[i];

		r->handle = hs->handle;
		r->state = hs->state;
		r->family = hs->family;
		r->type = hs->type;
		r->host_family = hs->xl.host_family == AF_INET6 ? HRPC_AF_INET6 : 0;
		r->xl_rule = hs->xl.rule;
		r->backlog = hs->backlog;
		r->seq = hs->seq;
		r->reported = hs->reported;
		r->sent = hs->sent;
		r->received = hs->received;
		/* The kernel's word for the local address: a send or connect
		 * may have bound the socket without the service noting it. */
		{
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);

			/* (a stand-in's kernel address is its loopback one) */
			if (!hs->forwarded && getsockname(hs->fd, (struct sockaddr *)&ss, &sl) == 0 &&
			    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
				mig_addr_out(&ss, &r->local);
			else
				mig_addr_out(&hs->local, &r->local);
		}
		/* An accepted connection's peer the service never noted: the
		 * kernel's (a forwarded connection answers with it later). */
		{
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);

			if (!hs->peer.ss_family && !hs->forwarded && hs->type == SOCK_STREAM &&
			    getpeername(hs->fd, (struct sockaddr *)&ss, &sl) == 0 &&
			    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
				mig_addr_out(&ss, &r->peer);
			else
				mig_addr_out(&hs->peer, &r->peer);
		}
		r->flags = (hs->want_in ? HRPC_SOCK_MIG_F_WANT_IN : 0) |
			   (hs->want_out ? HRPC_SOCK_MIG_F_WANT_OUT : 0) |
			   (hs->connect_open ? HRPC_SOCK_MIG_F_CONNECT_OPEN : 0) |
			   (hs->connect_retry ? HRPC_SOCK_MIG_F_CONNECT_RETRY : 0) |
			   (hs->xl.v6only ? HRPC_SOCK_MIG_F_V6ONLY : 0) |
			   (hs->pending ? HRPC_SOCK_MIG_F_PENDING : 0) |
			   /* A stand-in: hostrpc-migrate makes its forward image
			    * (sockstate.h) or, if it cannot, marks it lost. */
			   (hs->forwarded ? HRPC_SOCK_MIG_F_FORWARD : 0) |
			   (hs->fwd_listen ? HRPC_SOCK_MIG_F_FWD_LISTEN : 0);
		if (hs->area) {
			struct sock_area *a = hs->area;

			r->flags |= HRPC_SOCK_MIG_F_AREA |
				    (a->shut_sent ? HRPC_SOCK_MIG_F_SHUT_SENT : 0) |
				    (a->tstamp_on ? HRPC_SOCK_MIG_F_TSTAMP : 0);
			r->area = a->ref;
			r->host_flags = a->host_flags;
			r->host_mask = a->host_mask;
			r->host_seq = a->host_seq;
			r->host_err_seq = a->host_err_seq;
			r->host_err = a->host_err;
			r->in_prod = a->in.pvt;
			r->out_cons = a->out.pvt;
			r->pushed = a->pushed;
			r->drained = a->drained;
			r->dropped = a->dropped;
		}
		r->nopt = hs->njopt;
		if (hs->njopt)
			memcpy(r->opt, hs->jopt, hs->njopt * sizeof(r->opt[0]));
		fds[i++] = hs->fd;
	}
	*out = t;
	*out_len = len;
	*out_fds = fds;
	*nfds = i;
	return 0;
}

static int sopt_int(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v)) < 0 ? -errno : 0;
}

/* The value the journal has for an int option, else 0 (Linux's default
 * for those we look up). */
static int mig_opt_int(const struct hrpc_sock_mig *m, int level, int name)
{
	int v = 0;

	for (unsigned int i = 0; i < m->nopt; i++)
		if (m->opt[i].level == level && m->opt[i].name == name &&
		    m->opt[i].len >= sizeof(v))
			memcpy(&v, m->opt[i].val, sizeof(v));
	return v;
}

/* Make one migrated socket's host socket (the destination's netns is ours
 * by now: outsource_sock_enter_netns()). */
/*
 * A connection that stayed at the source: the guest's socket here is one
 * end of a TCP connection on the loopback of the sockets' namespace (so
 * it behaves as TCP: options, shutdown, a reset reads ECONNRESET); the
 * forward link relays the other end.  Its addresses stay the ones it has
 * at the source (do_getname()).
 */
static int mig_make_forward(outsource_sock *s, struct hsock *hs, const void *img, size_t img_len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	struct outsource_sock_fwd *nf;
	int lfd, cfd = -1, afd = -1, rc = 0;

	nf = realloc(s->fwd, (s->nfwd + 1) * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	s->fwd = nf;
	lfd = ns_socket(s, AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		return lfd;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		rc = -errno;
	if (!rc && (cfd = ns_socket(s, AF_INET, SOCK_STREAM, 0)) < 0)
		rc = cfd;
	if (!rc && connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		rc = -errno;
	if (!rc) {
		/* The loopback handshake is done by now; wait a little if not. */
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		if (poll(&p, 1, 1000) != 1)
			rc = -ETIMEDOUT;
		else if ((afd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
			rc = -errno;
	}
	close(lfd);
	if (rc < 0) {
		if (cfd >= 0)
			close(cfd);
		return rc == -ENETUNREACH ? -ENETDOWN : rc;
	}
	hs->fd = cfd;
	hs->forwarded = true;
	s->fwd[s->nfwd].handle = hs->handle;
	s->fwd[s->nfwd].fd = afd;
	s->fwd[s->nfwd].img = NULL;
	s->fwd[s->nfwd].img_len = 0;
	if (img_len) {
		/* It lived at a remnant elsewhere: its bytes under way came along. */
		s->fwd[s->nfwd].img = malloc(img_len);
		if (!s->fwd[s->nfwd].img) {
			close(afd);
			return -ENOMEM;
		}
		memcpy(s->fwd[s->nfwd].img, img, img_len);
		s->fwd[s->nfwd].img_len = img_len;
	}
	s->nfwd++;
	return 0;
}

static int mig_make(outsource_sock *s, struct hsock *hs, const struct hrpc_sock_mig *m,
		    const void *img)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, rc = 0;
	int fam = m->host_family == HRPC_AF_INET6 ? AF_INET6 : m->family;
	bool stream = m->type == HRPC_SOCK_STREAM;

	if (m->flags & HRPC_SOCK_MIG_F_FORWARD)
		return mig_make_forward(s, hs, img, m->tcp_len);
	if (stream && m->tcp_len) {
		rc = sock_tcp_restore(img, m->tcp_len, &fd);
		if (rc < 0)
			return rc;
		/* Leaving repair mode took the port's sharing away: a listener
		 * of this port, made next, could not bind (mig_import() gives
		 * the guest's value back once it has). */
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) < 0) {
			rc = -errno;
			close(fd);
			return rc;
		}
	} else {
		fd = ns_socket(s, fam, stream ? SOCK_STREAM : SOCK_DGRAM, 0);
		if (fd < 0)
			return fd;
	}
	hs->fd = fd;
	/* The guest's options first: SO_REUSEADDR and friends matter to bind. */
	for (unsigned int i = 0; i < m->nopt; i++) {
		const struct hrpc_sock_mig_opt *o = &m->opt[i];
		const struct optdef *d = find_opt(o->level, o->name);

		if (!d || !d->set || opt_denied(o->level, o->name))
			return -EPROTO;   /* nothing a guest could have set here */
		if (setsockopt(fd, o->level, o->name, o->val, o->len) < 0)
			return -errno;
	}
	if (fam == AF_INET6 && (m->host_family || (m->flags & HRPC_SOCK_MIG_F_V6ONLY)) &&
	    (rc = sopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0)) < 0)
		return rc;
	if (stream && m->tcp_len)
		return 0;
	if (stream && (m->state == HRPC_SOCK_MIG_CONNECTED || m->state == HRPC_SOCK_MIG_SHUT)) {
		/* A connection with no image (the source could not freeze it):
		 * the guest learns it was reset (mig_attach_one()). */
		return 0;
	}
	/* Bound, explicitly or by a send, listen or connect: the same port. */
	if (m->local.family && m->local.port) {
		rc = sock_addr_from_wire(&m->local, &ss, &sl);
		/* The guest's address comes up on this host's interface with the
		 * switch (netident): bind before it is there. */
		if (!rc)
			rc = fam == AF_INET ? sopt_int(fd, IPPROTO_IP, IP_FREEBIND, 1) :
					      sopt_int(fd, IPPROTO_IPV6, IPV6_FREEBIND, 1);
		/* A listener shares its port with its accepted connections,
		 * made already: SO_REUSEADDR for the bind, then the guest's. */
		if (!rc && m->state == HRPC_SOCK_MIG_LISTEN)
			rc = sopt_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
		if (!rc && bind(fd, (struct sockaddr *)&ss, sl) < 0)
			rc = -errno;
		if (rc == -EADDRINUSE && (m->flags & HRPC_SOCK_MIG_F_FWD_LISTEN)) {
			/* The remnant of an earlier move holds its copy here: the
			 * guest came back.  GO takes that one (outsource_sock_mig_
			 * localize()); this socket stands in until then. */
			hs->listen_deferred = true;
			return 0;
		}
		if (rc < 0)
			return rc;
	}
	if (m->state == HRPC_SOCK_MIG_LISTEN) {
		if (listen(fd, (int)m->backlog) < 0)
			return -errno;
		rc = sopt_int(fd, SOL_SOCKET, SO_REUSEADDR,
			      mig_opt_int(m, SOL_SOCKET, SO_REUSEADDR));
		if (rc < 0)
			return rc;
	}
	if (m->peer.family && (m->type == HRPC_SOCK_DGRAM || m->state == HRPC_SOCK_MIG_CONNECTING)) {
		rc = sock_addr_from_wire(&m->peer, &ss, &sl);
		if (!rc && connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS)
			rc = -errno;
	}
	return rc;
}

static void mig_addr_in(const struct hrpc_sock_addr *w, struct sockaddr_storage *ss)
{
	socklen_t sl;

	memset(ss, 0, sizeof(*ss));
	if (w->family)
		sock_addr_from_wire(w, ss, &sl);
}

int outsource_sock_mig_import(outsource_sock *s, const void *buf, size_t len, char *err,
			      size_t errlen)
{
	struct hrpc_sock_mig_table t;
	const uint8_t *p = buf, *end = p + len;
	const uint8_t **imgs = NULL;
	struct hsock *hs, **order = NULL;
	uint32_t pos = 0;
	int rc = 0;

	if (len < sizeof(t))
		return -EPROTO;
	memcpy(&t, buf, sizeof(t));
	if (t.magic != HRPC_SOCK_MIG_MAGIC || t.size != len || t.reserved ||
	    t.nsock > HRPC_SOCK_MIG_MAX || t.credit > HRPC_SOCK_MAX_CREDIT ||
	    (t.version && t.version != HRPC_SOCK_VERSION && t.version != HRPC_SOCK_VERSION_2)) {
		snprintf(err, errlen, "socket table: bad header");
		return -EPROTO;
	}
	if (t.nsock > s->policy.max_sockets) {
		snprintf(err, errlen, "%u sockets, this host's policy allows %u", t.nsock,
			 s->policy.max_sockets);
		return -EMFILE;
	}
	if (hrpc_handle_table_count(&s->socks)) {
		snprintf(err, errlen, "the service has sockets already");
		return -EBUSY;
	}
	p += sizeof(t);
	order = calloc(t.nsock ? t.nsock : 1, sizeof(*order));
	imgs = calloc(t.nsock ? t.nsock : 1, sizeof(*imgs));
	if (!order || !imgs) {
		free(order);
		free(imgs);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < t.nsock; i++) {
		struct hrpc_sock_mig *m = malloc(sizeof(*m));

		if (!m) {
			rc = -ENOMEM;
			break;
		}
		if ((size_t)(end - p) < sizeof(*m)) {
			free(m);
			rc = -EPROTO;
			snprintf(err, errlen, "socket table: record %u cut short", i);
			break;
		}
		memcpy(m, p, sizeof(*m));
		p += sizeof(*m);
		rc = hrpc_sock_mig_check(m);
		if (!rc && (size_t)(end - p) < m->tcp_len)
			rc = -EPROTO;
		if (!rc && m->tcp_len && (m->type != HRPC_SOCK_STREAM ||
					  (m->state != HRPC_SOCK_MIG_CONNECTED &&
					   m->state != HRPC_SOCK_MIG_SHUT)))
			rc = -EPROTO;
		/* (a TCP image is checked where it is used: sock_tcp_restore()) */
		if (!rc && m->tcp_len && (m->flags & HRPC_SOCK_MIG_F_FORWARD) &&
		    hrpc_sock_fwd_image_check(p, m->tcp_len) < 0)
			rc = -EPROTO;
		if (!rc && (m->flags & HRPC_SOCK_MIG_F_AREA) && t.version != HRPC_SOCK_VERSION_2)
			rc = -EPROTO;
		if (rc < 0) {
			free(m);
			snprintf(err, errlen, "socket table: record %u is not one a host sends", i);
			break;
		}
		hs = calloc(1, sizeof(*hs));
		if (!hs || (rc = hrpc_handle_table_put(&s->socks, hs, m->handle)) < 0) {
			rc = hs ? rc : -ENOMEM;
			snprintf(err, errlen, "socket table: record %u: handle %#" PRIx64 ": %s", i,
				 m->handle, strerror(-rc));
			free(hs);
			free(m);
			break;
		}
		hs->handle = m->handle;
		hs->fd = -1;
		hs->mig = m;
		imgs[i] = p;
		order[i] = hs;
		p += m->tcp_len;
		hs->state = m->state;
		hs->family = m->family;
		hs->type = m->type;
		hs->seq = m->seq;
		hs->reported = m->reported;
		hs->sent = m->sent;
		hs->received = m->received;
		hs->backlog = m->backlog;
		hs->created_ns = hrpc_now_ns();
		mig_addr_in(&m->local, &hs->local);
		mig_addr_in(&m->peer, &hs->peer);
		hs->xl.host_family = m->host_family ? AF_INET6 : 0;
		hs->xl.rule = m->xl_rule <= s->policy.nxlat ? m->xl_rule : 0;
		hs->xl.v6only = (m->flags & HRPC_SOCK_MIG_F_V6ONLY) != 0;
		hs->connect_open = (m->flags & HRPC_SOCK_MIG_F_CONNECT_OPEN) != 0;
		hs->connect_retry = (m->flags & HRPC_SOCK_MIG_F_CONNECT_RETRY) != 0;
		hs->want_in = (m->flags & HRPC_SOCK_MIG_F_WANT_IN) != 0;
		hs->want_out = (m->flags & HRPC_SOCK_MIG_F_WANT_OUT) != 0;
		hs->fwd_listen = (m->flags & HRPC_SOCK_MIG_F_FWD_LISTEN) != 0;
		if (m->nopt && (hs->jopt = calloc(HRPC_SOCK_MIG_OPTS, sizeof(*hs->jopt)))) {
			memcpy(hs->jopt, m->opt, m->nopt * sizeof(*hs->jopt));
			hs->njopt = m->nopt;
		}
	}
	if (!rc && p != end) {
		rc = -EPROTO;
		snprintf(err, errlen, "socket table: %zu bytes after the last record",
			 (size_t)(end - p));
	}
	/* Connections first: a repaired socket cannot bind a port a listener
	 * holds, a listener (SO_REUSEADDR) can bind one they hold. */
	for (int pass = 0; pass < 2 && !rc; pass++)
		for (uint32_t i = 0; i < t.nsock && !rc; i++) {
			char a[80];

			hs = order[i];
			if ((hs->mig->tcp_len != 0) != (pass == 0))
				continue;
			rc = mig_make(s, hs, hs->mig, imgs[i]);
			if (rc < 0)
				snprintf(err, errlen, "socket %#" PRIx64 " (%s %s): %s", hs->handle,
					 hs->type == SOCK_STREAM ? "tcp" : "udp",
					 fmt_addr(&hs->local, a, sizeof(a)), strerror(-rc));
		}
	for (uint32_t i = 0; i < t.nsock && !rc; i++)
		if (order[i]->mig->tcp_len)
			rc = sopt_int(order[i]->fd, SOL_SOCKET, SO_REUSEADDR,
				      mig_opt_int(order[i]->mig, SOL_SOCKET, SO_REUSEADDR));
	free(order);
	free(imgs);
	if (rc < 0) {
		/* All or nothing: the source still has every socket (a
		 * connection made here goes silently, in repair mode). */
		while ((hs = hrpc_handle_table_next(&s->socks, &pos, NULL))) {
			int one = 1;

			if (hs->fd >= 0 && hs->type == SOCK_STREAM)
				(void)setsockopt(hs->fd, IPPROTO_TCP, TCP_REPAIR, &one, sizeof(one));
			if (hs->fd >= 0)
				close(hs->fd);
			slot_discard(s, hs);
		}
		for (uint32_t i = 0; i < s->nfwd; i++) {
			close(s->fwd[i].fd);
			free(s->fwd[i].img);
		}
		s->nfwd = 0;
		return rc;
	}
	/* Room on the pending list for every socket (slot_alloc()'s rule). */
	if (t.nsock > s->pend_cap) {
		struct hsock **np = realloc(s->pend, t.nsock * sizeof(*np));

		if (!np)
			return -ENOMEM;
		s->pend = np;
		s->pend_cap = t.nsock;
	}
	s->version = t.version;
	s->credit = t.credit;
	audit_service(s, "migrated in: %u sockets, version %u", t.nsock, t.version);
	return 0;
}

/* Phase 2: guest memory is here, the channel adopted. */
static int mig_attach_one(outsource_sock *s, struct hsock *hs, void *data, uint32_t size)
{
	struct hrpc_sock_mig *m = hs->mig;
	int rc;

	if (m->flags & HRPC_SOCK_MIG_F_AREA) {
		struct sock_area *a = calloc(1, sizeof(*a));

		if (!a)
			return -ENOMEM;
		a->host_flags = m->host_flags;
		a->host_err = m->host_err;
		a->host_mask = m->host_mask;
		a->host_seq = m->host_seq;
		a->host_err_seq = m->host_err_seq;
		a->shut_sent = (m->flags & HRPC_SOCK_MIG_F_SHUT_SENT) != 0;
		a->tstamp_on = (m->flags & HRPC_SOCK_MIG_F_TSTAMP) != 0;
		a->pushed = m->pushed;
		a->drained = m->drained;
		a->dropped = m->dropped;
		rc = sock_area_adopt(a, data, size, &m->area, hs->type == SOCK_DGRAM, m->in_prod,
				     m->out_cons);
		if (rc < 0) {
			free(a);
			return rc;
		}
		hs->area = a;
	}
	if (hs->type == SOCK_STREAM && !m->tcp_len && !hs->forwarded &&
	    (hs->state == S_CONNECTED || hs->state == S_SHUT)) {
		/* Lost on the way: the guest sees a reset, as after a network
		 * failure. */
		if (hs->area) {
			hs->area->host_err = -ECONNRESET;
			hs->area->host_err_seq++;
			hs->area->host_flags |= HRPC_SOCK_AREA_H_EOF;
			hs->area->host_mask |= HRPC_POLLERR | HRPC_POLLHUP;
			sock_area_publish(hs->area);
		}
		hs->state = S_NEW;
		audit(s, idx_of(hs), "migrated connection lost: reset");
	}
	if (m->flags & HRPC_SOCK_MIG_F_PENDING)
		queue_ready(s, hs);
	free(m);
	hs->mig = NULL;
	rewatch(s, hs);
	pump(s, hs);
	return 0;
}

void outsource_sock_mig_abandon(outsource_sock *s)
{
	uint32_t pos = 0;
	struct hsock *hs;
	int one = 1;

	/* Back in repair mode, a connection closes without a FIN or RST:
	 * the source still has it, and its peer must not hear of ours. */
	while ((hs = hrpc_handle_table_next(&s->socks, &pos, NULL)))
		if (hs->fd >= 0 && hs->type == SOCK_STREAM &&
		    (hs->state == S_CONNECTED || hs->state == S_SHUT))
			(void)setsockopt(hs->fd, IPPROTO_TCP, TCP_REPAIR, &one, sizeof(one));
}

int outsource_sock_mig_attach(outsource_sock *s, hrpc_conn *conn)
{
	uint32_t size = 0, pos = 0;
	void *data = hrpc_chan_data(hrpc_conn_chan(conn), &size);
	struct hsock *hs;
	int rc;

	s->conn = conn;
	while ((hs = hrpc_handle_table_next(&s->socks, &pos, NULL))) {
		if (!hs->mig)
			continue;
		if ((hs->mig->flags & HRPC_SOCK_MIG_F_AREA) && !data)
			return -EPROTO;
		rc = mig_attach_one(s, hs, data, size);
		if (rc < 0)
			return rc;
	}
	kick(s);
	return 0;
}

/* ---- life cycle ------------------------------------------------------------------- */

int outsource_sock_new(const struct outsource_sock_config *cfg, outsource_sock **out,
		       char *err, size_t errlen)
{
	outsource_sock *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TIMER_TAG };
	int rc;

	if (!s)
		return -ENOMEM;
	s->epfd = s->timerfd = s->netns_fd = s->home_ns_fd = s->rtfd = -1;
	s->guest_id = cfg->guest_id;
	if (cfg->guest_name && cfg->guest_name[0]) {
		/* Keep the name a single printable word in the log. */
		size_t i;

		for (i = 0; cfg->guest_name[i] && i < sizeof(s->name) - 1; i++) {
			char c = cfg->guest_name[i];

			s->name[i] = (c > 0x20 && c < 0x7f) ? c : '_';
		}
		s->name[i] = 0;
	} else {
		snprintf(s->name, sizeof(s->name), "guest%" PRIu32, cfg->guest_id);
	}
	sock_policy_init(&s->policy);
	rc = 0;
	if (cfg->policy_path)
		rc = sock_policy_load(&s->policy, cfg->policy_path, err, errlen);
	if (!rc && cfg->policy_text) {
		rc = sock_policy_parse(&s->policy, cfg->policy_text, err, errlen);
		if (!cfg->policy_path)
			snprintf(s->policy.source, sizeof(s->policy.source),
				 "policy text from the service's configuration");
	}
	/* Fail closed: what the policy does not decide, the built-in rules
	 * keep from the host (a guest without a policy gets only them). */
	if (!rc)
		rc = sock_policy_add_builtin(&s->policy);
	if (cfg->policy_source)
		snprintf(s->policy.source, sizeof(s->policy.source), "%s", cfg->policy_source);
	if (rc < 0)
		goto fail;
	if (s->policy.netns[0]) {
		s->netns_fd = open(s->policy.netns, O_RDONLY | O_CLOEXEC);
		s->home_ns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (s->netns_fd < 0 || s->home_ns_fd < 0) {
			rc = -errno;
			if (err && errlen)
				snprintf(err, errlen, "netns %s: %s", s->policy.netns, strerror(-rc));
			goto fail;
		}
	}
	/* `host` rules ask the routing of the sockets' own namespace. */
	s->rtfd = ns_socket(s, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	if (s->rtfd < 0) {
		rc = s->rtfd;
		if (err && errlen)
			snprintf(err, errlen, "routing socket for the policy's host rules: %s",
				 strerror(-rc));
		goto fail;
	}
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->epfd < 0 || s->timerfd < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->timerfd, &ev) < 0) {
		rc = -errno;
		goto fail;
	}
	if (cfg->audit_path) {
		int fd = open(cfg->audit_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

		if (fd < 0 || !(s->audit = fdopen(fd, "a"))) {
			rc = -errno;
			if (fd >= 0)
				close(fd);
			if (err && errlen)
				snprintf(err, errlen, "audit log %s: %s", cfg->audit_path, strerror(-rc));
			goto fail;
		}
		s->own_audit = true;
	} else if (cfg->audit_fd >= 0) {
		int fd = fcntl(cfg->audit_fd, F_DUPFD_CLOEXEC, 3);

		if (fd < 0 || !(s->audit = fdopen(fd, "a"))) {
			rc = -errno;
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		s->own_audit = true;
		s->audit_bare = cfg->audit_bare;
	}
	s->own_uid = cfg->own_uid;
	/* A random generation base: a handle of a previous worker of this
	 * guest does not name one of this worker's sockets. */
	hrpc_handle_table_init(&s->socks, s->policy.max_sockets, 0);
	s->tot.max_sockets = s->policy.max_sockets;
	audit_service(s, "service start netns=%s max-sockets=%" PRIu32 " rules=%zu builtin-rules=%zu",
		      s->policy.netns[0] ? s->policy.netns : "-", s->policy.max_sockets,
		      s->policy.nrules - s->policy.nbuiltin, s->policy.nbuiltin);
	*out = s;
	return 0;
fail:
	outsource_sock_free(s);
	return rc;
}

int outsource_sock_enter_netns(outsource_sock *s)
{
	if (s->netns_fd < 0)
		return 0;
	if (setns(s->netns_fd, CLONE_NEWNET) < 0)
		return -errno;
	/* ns_socket() now makes its sockets where we are. */
	close(s->netns_fd);
	close(s->home_ns_fd);
	s->netns_fd = s->home_ns_fd = -1;
	return 0;
}

int outsource_sock_describe(outsource_sock *s, uint64_t handle, char *buf, size_t len)
{
	struct hsock *hs = hrpc_handle_table_get(&s->socks, handle);
	char l[80], p[80];

	if (!hs)
		return -EBADF;
	snprintf(buf, len, "%s %s -> %s", hs->type == SOCK_STREAM ? "tcp" : "udp",
		 fmt_addr(&hs->local, l, sizeof(l)), fmt_addr(&hs->peer, p, sizeof(p)));
	return 0;
}

/* Hand on the stand-ins with (moved) or without a forward image. */
static struct outsource_sock_fwd *fwd_take(outsource_sock *s, bool moved, uint32_t *n)
{
	struct outsource_sock_fwd *f = NULL;
	uint32_t keep = 0;

	*n = 0;
	for (uint32_t i = 0; i < s->nfwd; i++) {
		if ((s->fwd[i].img != NULL) != moved) {
			s->fwd[keep++] = s->fwd[i];
			continue;
		}
		if (!f && !(f = calloc(s->nfwd, sizeof(*f)))) {
			/* cannot hand them on: they fail as a reset would */
			close(s->fwd[i].fd);
			free(s->fwd[i].img);
			continue;
		}
		f[(*n)++] = s->fwd[i];
	}
	s->nfwd = keep;
	return f;
}

struct outsource_sock_fwd *outsource_sock_mig_forwards(outsource_sock *s, uint32_t *n)
{
	return fwd_take(s, false, n);
}

struct outsource_sock_fwd *outsource_sock_mig_moved(outsource_sock *s, uint32_t *n)
{
	return fwd_take(s, true, n);
}

int outsource_sock_mig_localize(outsource_sock *s, uint64_t handle, int fd)
{
	struct hsock *hs = hrpc_handle_table_get(&s->socks, handle);
	int fl;

	if (!hs || (!hs->forwarded && !hs->listen_deferred))
		return -ENOENT;
	/* The guest's options, as a moved connection's get them. */
	for (unsigned int i = 0; i < hs->njopt; i++) {
		const struct hrpc_sock_mig_opt *o = &hs->jopt[i];
		const struct optdef *d = find_opt(o->level, o->name);

		if (!d || !d->set || opt_denied(o->level, o->name))
			continue;
		if (setsockopt(fd, o->level, o->name, o->val, o->len) < 0)
			return -errno;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	close(hs->fd);   /* the stand-in's end: its peer is the caller's to close */
	hs->fd = fd;
	hs->forwarded = false;
	hs->listen_deferred = false;
	audit(s, idx_of(hs), "local again: the connection lived at a remnant on this host");
	return 0;
}

int outsource_sock_mig_remnant(outsource_sock *s, const uint64_t *handles, uint32_t n, int *fds,
			       bool *listening)
{
	struct hsock *hs;
	uint32_t pos = 0;
	int kept = 0;

	for (uint32_t i = 0; i < n; i++) {
		fds[i] = -1;
		listening[i] = false;
		hs = hrpc_handle_table_get(&s->socks, handles[i]);
		if (!hs || hs->type != SOCK_STREAM || hs->fd < 0 ||
		    (hs->state != S_CONNECTED && hs->state != S_SHUT && hs->state != S_LISTEN))
			continue;
		listening[i] = hs->state == S_LISTEN;
		if (hs->in_epoll)
			(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, hs->fd, NULL);
		if (hs->pending)
			pend_remove(s, hs);
		audit(s, idx_of(hs), "stays here after the migration: forwarded to the guest");
		fds[i] = hs->fd;
		slot_discard(s, hs);
		kept++;
	}
	/* The rest moved (frozen: they close silently) or were lost. */
	while ((hs = hrpc_handle_table_next(&s->socks, &pos, NULL)))
		slot_close(s, hs, "migrated");
	return kept;
}

void outsource_sock_free(outsource_sock *s)
{
	struct hsock *hs;
	uint32_t pos = 0;

	if (!s)
		return;
	for (uint32_t i = 0; i < s->nfwd; i++) {
		close(s->fwd[i].fd);
		free(s->fwd[i].img);
	}
	free(s->fwd);
	free(s->expect);
	while ((hs = hrpc_handle_table_next(&s->socks, &pos, NULL)))
		slot_close(s, hs, "service-stop");
	if (s->audit && s->epfd >= 0)
		audit_service(s, "service stop created=%" PRIu64 " denied=%" PRIu64
			      " sent=%" PRIu64 " received=%" PRIu64, s->tot.created, s->tot.denied,
			      s->tot.bytes_sent, s->tot.bytes_received);
	if (s->audit)
		fclose(s->audit);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->timerfd >= 0)
		close(s->timerfd);
	if (s->netns_fd >= 0)
		close(s->netns_fd);
	if (s->home_ns_fd >= 0)
		close(s->home_ns_fd);
	if (s->rtfd >= 0)
		close(s->rtfd);
	sock_policy_clear(&s->policy);
	hrpc_handle_table_fini(&s->socks);
	free(s->pend);
	free(s);
}

int outsource_sock_register(outsource_sock *s, hrpc_server *srv)
{
	return hrpc_server_register(srv, HRPC_SVC_SOCK, "sock", handle, s);
}

int outsource_sock_fd(outsource_sock *s)
{
	return s->epfd;
}

void outsource_sock_detach(outsource_sock *s)
{
	s->conn = NULL;
}

/* ---- introspection ----------------------------------------------------------------- */

size_t outsource_sock_list(outsource_sock *s, struct outsource_sock_info *out, size_t max)
{
	struct hsock *hs;
	uint32_t pos = 0;
	size_t n = 0;

	while ((hs = hrpc_handle_table_next(&s->socks, &pos, NULL))) {
		if (n < max) {
			struct outsource_sock_info *o = &out[n];

			o->handle = hs->handle;
			o->family = hs->family;
			o->type = hs->type;
			o->state = state_name[hs->state];
			o->local = hs->local;
			o->peer = hs->peer;
			o->bytes_sent = hs->sent;
			o->bytes_received = hs->received;
			o->created_ns = hs->created_ns;
			o->mask = hs->reported;
		}
		n++;
	}
	return n;
}

void outsource_sock_totals(outsource_sock *s, struct outsource_sock_totals *t)
{
	*t = s->tot;
	t->open = hrpc_handle_table_count(&s->socks);
	t->credit = s->credit;
	t->max_sockets = s->policy.max_sockets;
}

void outsource_sock_print(outsource_sock *s, FILE *f, bool json)
{
	struct outsource_sock_totals t;
	uint64_t now = hrpc_now_ns();
	bool first = true;
	char l[80], p[80];
	struct hsock *hs;
	uint32_t pos = 0;
	uint64_t ring_bytes = 0;
	uint32_t nring = 0;

	outsource_sock_totals(s, &t);
	if (json)
		fprintf(f, "{\"guest_id\":%" PRIu32 ",\"name\":\"%s\",\"open\":%" PRIu32
			",\"max_sockets\":%" PRIu32 ",\"created\":%" PRIu64 ",\"closed\":%" PRIu64
			",\"denied\":%" PRIu64 ",\"events\":%" PRIu64 ",\"credit\":%" PRIu64
			",\"bytes_sent\":%" PRIu64 ",\"bytes_received\":%" PRIu64 ",\"sockets\":[",
			s->guest_id, s->name, t.open, t.max_sockets, t.created, t.closed, t.denied,
			t.events, t.credit, t.bytes_sent, t.bytes_received);
	else
		sock_policy_print(&s->policy, f, false);
	if (!json)
		fprintf(f, "%-18s %-4s %-5s %-11s %-28s %-28s %12s %12s %8s %s\n", "HANDLE", "FAM",
			"TYPE", "STATE", "LOCAL", "PEER", "SENT", "RECEIVED", "AGE(s)",
			"RINGS(out/in KiB)");
	while ((hs = hrpc_handle_table_next(&s->socks, &pos, NULL))) {
		const char *fam = hs->family == AF_INET ? "ipv4" : "ipv6";
		const char *type = hs->type == SOCK_STREAM ? "tcp" : "udp";

		/* version 2: its rings, in the guest's channel memory */
		uint32_t ro = hs->area ? hs->area->ref.out_size : 0;
		uint32_t ri = hs->area ? hs->area->ref.in_size : 0;
		char rings[32] = "-";

		fmt_addr(&hs->local, l, sizeof(l));
		fmt_addr(&hs->peer, p, sizeof(p));
		if (hs->area) {
			ring_bytes += (uint64_t)ro + ri;
			nring++;
			snprintf(rings, sizeof(rings), "%" PRIu32 "/%" PRIu32, ro >> 10, ri >> 10);
		}
		if (json) {
			fprintf(f, "%s{\"handle\":%" PRIu64 ",\"family\":\"%s\",\"type\":\"%s\","
				"\"state\":\"%s\",\"local\":\"%s\",\"peer\":\"%s\",\"sent\":%" PRIu64
				",\"received\":%" PRIu64 ",\"age_ns\":%" PRIu64 ",\"mask\":%" PRIu32
				",\"ring_out\":%" PRIu32 ",\"ring_in\":%" PRIu32 "}",
				first ? "" : ",", hs->handle, fam, type, state_name[hs->state], l,
				p, hs->sent, hs->received, now - hs->created_ns, hs->reported, ro, ri);
			first = false;
		} else {
			fprintf(f, "%#-18" PRIx64 " %-4s %-5s %-11s %-28s %-28s %12" PRIu64 " %12" PRIu64
				" %8.1f %s\n", hs->handle, fam, type, state_name[hs->state], l, p,
				hs->sent, hs->received, (double)(now - hs->created_ns) / 1e9, rings);
		}
	}
	if (json) {
		/* The effective policy, last: listings cut short keep the sockets. */
		fprintf(f, "],\"version\":%" PRIu32 ",\"ring_bytes\":%" PRIu64 ",\"policy\":",
			s->version, ring_bytes);
		sock_policy_print(&s->policy, f, true);
		fprintf(f, "}\n");
	}
	else
		fprintf(f, "%" PRIu32 "/%" PRIu32 " sockets, %" PRIu64 " denied, credit %" PRIu64
			"; protocol version %" PRIu32 ", %" PRIu32 " with data rings (%" PRIu64
			" KiB of the guest's channel memory; the host buffers no more than each "
			"socket's kernel buffers)\n",
			t.open, t.max_sockets, t.denied, t.credit, s->version, nring, ring_bytes >> 10);
}

uint32_t outsource_sock_mig_deferred(outsource_sock *s, uint64_t *handles, uint32_t max)
{
	struct hsock *hs;
	uint32_t pos = 0, n = 0;

	while ((hs = hrpc_handle_table_next(&s->socks, &pos, NULL)))
		if (hs->listen_deferred && n < max)
			handles[n++] = hs->handle;
	return n;
}

int outsource_sock_mig_relisten(outsource_sock *s, uint64_t handle)
{
	struct hsock *hs = hrpc_handle_table_get(&s->socks, handle);
	socklen_t sl;

	if (!hs || !hs->listen_deferred)
		return -ENOENT;
	sl = hs->local.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
					      sizeof(struct sockaddr_in6);
	if (bind(hs->fd, (struct sockaddr *)&hs->local, sl) < 0 ||
	    listen(hs->fd, (int)hs->backlog) < 0)
		return -errno;
	hs->listen_deferred = false;
	return 0;
}

bool outsource_sock_mig_fwd_listening(outsource_sock *s)
{
	struct hsock *hs;
	uint32_t pos = 0;

	while ((hs = hrpc_handle_table_next(&s->socks, &pos, NULL)))
		if (hs->fwd_listen && hs->state == S_LISTEN)
			return true;
	return false;
}
