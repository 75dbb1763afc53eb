/* SPDX-License-Identifier: MIT */
/*
 * hostrpc-migrate - move a running guest to another host; its outsourced
 * sockets move with it (migrate/README.md has the sequence and why).
 *
 *   hostrpc-migrate --qmp SRC.qmp --dest-qmp DST.qmp --uri tcp:HOST:PORT
 *                   [--key FILE] [--migrate-socket PATH] [--json] GUEST DEST
 *   hostrpc-migrate --libvirt SRC_URI [--dest-xml FILE] --uri tcp:HOST:PORT
 *                   [...] DST_URI DOMAIN DEST
 *
 * GUEST is the guest's name in the source hostrpcd (a libvirt domain's is
 * its name); DEST the destination hostrpcd's --migrate-listen address.
 * Runs on the source host as root (it freezes the guest's TCP connections
 * with TCP_REPAIR).  QEMU itself is driven through migrate/hv.h: by QMP, or
 * by libvirt.
 *
 * One error convention: -errno from every step, a message in `m->why`
 * (reported once, at the top).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "hostrpc/fsstate.h"
#include "hostrpc/hostrpc.h"
#include "hostrpc/migfwd.h"
#include "hostrpc/migrate.h"
#include "hostrpc/sockstate.h"
#include "migrate/hv.h"
#include "migrate/link.h"
#include "migrate/location-rule.h"
#include "migrate/netident.h"
#include "outsource/sock/sockaddr.h"
#include "outsource/sock/tcprepair.h"

#define DEFAULT_KEY        SYSCONFDIR "/hostrpc/migrate.key"
#define DEFAULT_PORT       LOCALSTATEDIR "/lib/hostrpc/migrate.sock"
#define STEP_TIMEOUT_MS    30000
#define LINK_RETRY_MS      10000
#define LINK_MAX           ((size_t)1 << 30)

enum phase { P_PREPARE, P_PRECOPY, P_QUIESCE, P_SHIP, P_SWITCH, P_PAGES, P_RESUME, P_N };
static const char *const phase_name[P_N] = {
	"prepare", "pre-copy", "quiesce", "ship-state", "switch", "pages", "resume",
};

typedef struct {
	/* options */
	const char *guest, *dest, *uri, *key_path, *port_path;
	gboolean json, keep_source, tty;
	gboolean prepare;          /* --prepare: the forward link before pre-copy */
	int timeout_s;
	int max_bandwidth;         /* MiB/s for QEMU's stream; 0: QEMU's default */
	enum mig_precopy precopy;  /* --precopy */
	int hold_phase, hold_s;    /* --hold: stop this long at the start of a phase */
	struct mig_loc_rule *keep_rules, *fwd_rules;   /* --keep-local, --forward */
	unsigned nkeep, nfwd_rules;
	GStrv keep_exports, fwd_exports;   /* --keep-local/--forward export:NAME */
	guint8 key[MIG_KEY_SIZE];  /* the pair's, until the forward link is made */

	/* the conversation */
	int port;                  /* the source worker's */
	mig_link *link;            /* the destination worker's */
	mig_hv *hv;                /* QEMU's half (QMP or libvirt) */
	guint64 shm_size;

	/* what the source handed over */
	struct hrpc_mig_state st;
	guint8 *table;             /* socket table as exported (no images) */
	gsize table_len;
	guint8 *fs_table;          /* filesystem table (fsstate.h), passed on as is */
	gsize fs_table_len;
	int *fds;                  /* the guest's host sockets, table order */
	guint32 nfds;
	int netns_fd;
	gboolean *frozen;          /* per fd: in repair mode (thaw on rollback) */
	guint64 *fwd;              /* handles of the connections that stay here */
	guint32 nfwd;
	/* FWD_HOLD: the source's stand-ins of connections at a remnant
	 * elsewhere, as held (struct hrpc_mig_fwd_held) */
	struct held {
		guint64 handle;
		guint32 flags;
		guint16 link;      /* which of the worker's forward links */
		gboolean imaged;   /* its forward image went in the state */
		GByteArray *pend;
		int fd;            /* the stand-in's far end */
		gboolean frozen;
	} *held;
	guint32 nheld;
	gboolean quiesced, link_down, switched;
	gboolean fwd_link_up;      /* the source's worker holds a forward link */
	gboolean stranded;         /* rolled back too late: paused at the destination */

	/* report */
	gint64 t0, t_phase[P_N + 1];
	gint64 t_paused, t_resumed;
	guint64 state_bytes, page_bytes, pages, ram_total, ram_transferred;
	guint32 tcp_moved, tcp_lost, tcp_forwarded, tcp_refwd, tcp_repointed, sockets;
	guint32 listen_forwarded;  /* listeners a copy of which stays here */
	guint64 fs_keep;           /* filesystem servers that stay here (tags) */
	guint64 fs_fetch_tags;     /* forwarded servers the destination has: fetched */
	guint64 fs_repoint;        /* forwarded servers it lacks: their remnant re-points */
	guint64 fs_fetched;        /* servers whose state a remnant gave (tags) */
	guint32 fs_from_remnant;   /* and how many */
	guint32 fs_repointed;
	guint32 fs_forwarded;      /* and how many */
	guint32 files_forwarded;   /* the files open through them */
	gint64 repoint_us;         /* of the pages phase: re-pointing remnants */
	gboolean remnant_there;    /* the destination holds their remnant: local again */
	char why[512];
} Mig;

static gint64 now_us(void)
{
	return g_get_monotonic_time();
}

G_GNUC_PRINTF(2, 3)
static int fail(Mig *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_vsnprintf(m->why, sizeof(m->why), fmt, ap);
	va_end(ap);
	return -1;
}

static void phase(Mig *m, enum phase p)
{
	if ((int)p == m->hold_phase && m->hold_s) {
		/* A failure injected by a test (or a person) lands here. */
		fprintf(stderr, "hostrpc-migrate: holding %d s before %s\n", m->hold_s,
			phase_name[p]);
		g_usleep((gulong)m->hold_s * G_USEC_PER_SEC);
	}
	m->t_phase[p] = now_us();
	fprintf(stderr, "%s[%7.3f s] %s\n", m->tty ? "\r\033[K" : "",
			(double)(m->t_phase[p] - m->t0) / 1e6, phase_name[p]);
}

/* ---- the source worker's port --------------------------------------------------- */

static int port_open(Mig *m)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct hrpc_mig_open o = { .magic = HRPC_MIG_PORT_MAGIC, .version = HRPC_MIG_VERSION };
	struct {
		struct hrpc_mig_msg h;
		union {
			struct hrpc_mig_hello hello;
			struct hrpc_mig_status st;
		};
	} r;
	struct timeval tv = { .tv_sec = STEP_TIMEOUT_MS / 1000 };
	ssize_t n;

	if (strlen(m->port_path) >= sizeof(a.sun_path) || strlen(m->guest) >= sizeof(o.guest))
		return fail(m, "path or guest name too long");
	strcpy(a.sun_path, m->port_path);
	g_strlcpy(o.guest, m->guest, sizeof(o.guest));
	m->port = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (m->port < 0 || connect(m->port, (struct sockaddr *)&a, sizeof(a)) < 0)
		return fail(m, "cannot reach the source hostrpcd at %s: %s", m->port_path,
			    g_strerror(errno));
	setsockopt(m->port, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(m->port, &o, sizeof(o), MSG_NOSIGNAL) != sizeof(o))
		return fail(m, "source hostrpcd: %s", g_strerror(errno));
	n = recv(m->port, &r, sizeof(r), 0);
	if (n == (ssize_t)(sizeof(r.h) + sizeof(r.st)) && r.h.type == HRPC_MIG_STATUS) {
		r.st.message[sizeof(r.st.message) - 1] = 0;
		return fail(m, "source hostrpcd: %s", r.st.message);
	}
	if (n != (ssize_t)(sizeof(r.h) + sizeof(r.hello)) || r.h.type != HRPC_MIG_HELLO)
		return fail(m, "source hostrpcd: no answer from the guest's worker");
	m->shm_size = r.hello.shm_size;
	if (!m->shm_size || m->shm_size % HRPC_MIG_PAGE_SIZE)
		return fail(m, "source worker: odd shared memory size %" PRIu64, m->shm_size);
	return 0;
}

/* One message: header, payload (into buf, up to cap) and descriptors. */
static int port_recv(Mig *m, struct hrpc_mig_msg *h, void *buf, gsize cap, gsize *len,
		     int *fds, int *nfds)
{
	g_autofree guint8 *b = g_malloc(sizeof(*h) + cap);
	long rc = hrpc_unix_recv_msg(m->port, b, sizeof(*h) + cap, fds, nfds, 0);

	if (rc < (long)sizeof(*h)) {
		for (int i = 0; nfds && i < *nfds; i++)
			close(fds[i]);
		return fail(m, "source worker: port %s",
			    rc < 0 ? g_strerror((int)-rc) : "message cut short");
	}
	memcpy(h, b, sizeof(*h));
	*len = (gsize)rc - sizeof(*h);
	if (*len)
		memcpy(buf, b + sizeof(*h), *len);
	if (h->type == HRPC_MIG_STATUS && *len == sizeof(struct hrpc_mig_status)) {
		struct hrpc_mig_status *st = buf;

		st->message[sizeof(st->message) - 1] = 0;
		if (st->status < 0)
			return fail(m, "source worker: %s", st->message);
	}
	return 0;
}

static int port_send(Mig *m, guint32 type, int fd, guint64 len)
{
	struct hrpc_mig_msg h = { .type = type, .nfds = fd >= 0, .len = len };
	int rc = hrpc_unix_send(m->port, &h, sizeof(h), fd >= 0 ? &fd : NULL, fd >= 0);

	return rc < 0 ? fail(m, "source worker: %s", g_strerror(-rc)) : 0;
}

static int port_status(Mig *m, guint32 type)
{
	struct hrpc_mig_msg h;
	struct hrpc_mig_status st;
	gsize len = 0;
	int nfds = 0;

	if (port_send(m, type, -1, 0) < 0 ||
	    port_recv(m, &h, &st, sizeof(st), &len, NULL, &nfds) < 0)
		return -1;
	return h.type == HRPC_MIG_STATUS ? 0 : fail(m, "source worker: unexpected answer");
}

static guint8 *memfd_read(int fd, guint64 len)
{
	struct stat sb;
	guint8 *b;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (guint64)sb.st_size != len ||
	    len > LINK_MAX)
		return NULL;
	b = g_malloc(len ? len : 1);
	if (len && pread(fd, b, len, 0) != (ssize_t)len) {
		g_free(b);
		return NULL;
	}
	return b;
}

/* QUIESCE: the worker's state, the netns, then the sockets in batches. */
static int quiesce(Mig *m)
{
	struct hrpc_mig_msg h;
	struct hrpc_mig_status st;
	struct hrpc_sock_mig_table t = { 0 };
	int fds[HRPC_UNIX_MAX_FDS], nfds = 2;
	gsize len = 0, rest;
	g_autofree guint8 *blob = NULL;
	guint32 want = 0;

	if (port_send(m, HRPC_MIG_QUIESCE, -1, 0) < 0 ||
	    port_recv(m, &h, &st, sizeof(st), &len, fds, &nfds) < 0)
		return -1;
	if (h.type != HRPC_MIG_STATE_OUT || nfds != 2)
		return fail(m, "source worker: no state");
	m->quiesced = TRUE;
	m->netns_fd = fds[1];
	blob = memfd_read(fds[0], h.len);
	close(fds[0]);
	if (!blob || h.len < sizeof(m->st))
		return fail(m, "source worker: state unreadable");
	memcpy(&m->st, blob, sizeof(m->st));
	rest = h.len - sizeof(m->st);
	if (m->st.flags & HRPC_MIG_STATE_F_SOCK) {
		if (rest < sizeof(t))
			return fail(m, "source worker: socket table cut short");
		memcpy(&t, blob + sizeof(m->st), sizeof(t));
		if (t.magic != HRPC_SOCK_MIG_MAGIC || t.size > rest ||
		    t.size != sizeof(t) + (gsize)t.nsock * sizeof(struct hrpc_sock_mig))
			return fail(m, "source worker: bad socket table");
		m->table_len = t.size;
		m->table = g_memdup2(blob + sizeof(m->st), m->table_len);
		rest -= m->table_len;
		want = t.nsock;
	}
	/* The filesystem table goes to the destination as it is (fsstate.h). */
	if ((m->st.flags & HRPC_MIG_STATE_F_FS) ? !rest : rest != 0)
		return fail(m, "source worker: bad state");
	if (rest) {
		m->fs_table = g_memdup2(blob + h.len - rest, rest);
		m->fs_table_len = rest;
	}
	m->fds = g_new(int, want ? want : 1);
	m->frozen = g_new0(gboolean, want ? want : 1);
	m->fwd = g_new0(guint64, MIN(want, HRPC_MIG_FWD_MAX) + 1);
	while (m->nfds < want) {
		nfds = G_N_ELEMENTS(fds);
		if (port_recv(m, &h, &st, sizeof(st), &len, fds, &nfds) < 0)
			return -1;
		if (h.type != HRPC_MIG_STATE_OUT || !nfds || m->nfds + (guint32)nfds > want) {
			for (int i = 0; i < nfds; i++)
				close(fds[i]);
			return fail(m, "source worker: sockets missing");
		}
		memcpy(m->fds + m->nfds, fds, (gsize)nfds * sizeof(int));
		m->nfds += (guint32)nfds;
	}
	m->sockets = want;
	return 0;
}

/* ---- the network identity and the sockets ------------------------------------------- */

typedef struct {
	const char *ifname;
	gboolean up;
	const struct hrpc_netident *id;
} LinkArg;

static int link_set(void *arg)
{
	LinkArg *a = arg;

	/* Down drops the IPv6 addresses (keep_addr_on_down is 0): back up,
	 * the whole identity goes on again. */
	if (a->up && a->id)
		return netident_apply(a->ifname, a->id);
	return netident_set_up(a->ifname, a->up);
}

typedef struct {
	const char *ifname;
	struct hrpc_netident *id;
} ReadArg;

static int ident_read(void *arg)
{
	ReadArg *a = arg;

	return netident_read(a->ifname, a->id);
}

/* The guest's network identity, as its interface at the source has it. */
static int source_ident(Mig *m)
{
	char ifname[sizeof(m->st.ifname) + 1];
	ReadArg a = { .ifname = ifname, .id = &m->st.ident };
	int rc;

	if (!(m->st.flags & HRPC_MIG_STATE_F_IDENT))
		return 0;
	g_strlcpy(ifname, m->st.ifname, sizeof(ifname));
	rc = netident_in_netns(m->netns_fd, ident_read, &a);
	if (rc < 0)
		return fail(m, "cannot read the guest's identity on %s: %s", ifname, g_strerror(-rc));
	return 0;
}

/* The guest's interface at the source: down at the switch (peers' packets
 * then wait for the destination), up again at a rollback. */
static int source_link(Mig *m, gboolean up)
{
	LinkArg a = { .up = up, .id = m->st.ident.magic ? &m->st.ident : NULL };
	char ifname[sizeof(m->st.ifname) + 1];
	int rc;

	if (!(m->st.flags & HRPC_MIG_STATE_F_IDENT) || m->netns_fd < 0)
		return 0;
	g_strlcpy(ifname, m->st.ifname, sizeof(ifname));
	a.ifname = ifname;
	rc = netident_in_netns(m->netns_fd, link_set, &a);
	if (rc < 0)
		return fail(m, "cannot take the guest's interface %s %s: %s", ifname,
			    up ? "up" : "down", g_strerror(-rc));
	m->link_down = !up;
	return 0;
}

/* Is `fd` the TCP connection record `r` says?  The worker that passed it
 * is the guest's (sandboxed, but parsing what the guest sends): we put
 * only that connection into repair mode, not a socket of its choosing. */
/*
 * FWD_HOLD: the worker's stand-ins (connections forwarded here from a
 * remnant on another host) are held: the remnant sends nothing more, and
 * the worker tells what came that its stand-ins have not passed on, and
 * hands us their far ends to freeze with the near ones (freeze()).
 */
static int fwd_hold(Mig *m)
{
	struct hrpc_mig_msg h;
	struct hrpc_mig_status st;
	int fds[HRPC_UNIX_MAX_FDS], nfds = 1;
	g_autofree guint8 *blob = NULL;
	gsize len = 0, off = 0;
	guint32 got = 0, want, slot = 0;

	if (port_send(m, HRPC_MIG_FWD_HOLD, -1, 0) < 0 ||
	    port_recv(m, &h, &st, sizeof(st), &len, fds, &nfds) < 0)
		return -1;
	if (h.type != HRPC_MIG_FWD_HELD || nfds != 1) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return fail(m, "source worker: no held connections");
	}
	blob = memfd_read(fds[0], h.len);
	close(fds[0]);
	if (!blob)
		return fail(m, "source worker: held connections unreadable");
	m->held = g_new0(struct held, HRPC_MIG_FWD_MAX);
	while (off < h.len) {
		struct hrpc_mig_fwd_held r;

		if (h.len - off < sizeof(r) || m->nheld == HRPC_MIG_FWD_MAX)
			return fail(m, "source worker: bad held connections");
		memcpy(&r, blob + off, sizeof(r));
		off += sizeof(r);
		if (r.pend_len > HRPC_FWD_WINDOW || h.len - off < r.pend_len ||
		    (r.flags & ~(HRPC_MIG_FWD_HELD_F_SHUT | HRPC_MIG_FWD_HELD_F_LINK |
				 HRPC_MIG_FWD_HELD_F_FILES)) ||
		    ((r.flags & HRPC_MIG_FWD_HELD_F_FILES) && !(r.flags & HRPC_MIG_FWD_HELD_F_LINK)) ||
		    ((r.flags & HRPC_MIG_FWD_HELD_F_LINK) && (r.handle || r.pend_len)))
			return fail(m, "source worker: bad held connections");
		m->held[m->nheld].handle = r.handle;
		m->held[m->nheld].flags = r.flags;
		m->held[m->nheld].link = r.link;
		m->held[m->nheld].pend = g_byte_array_new();
		g_byte_array_append(m->held[m->nheld].pend, blob + off, r.pend_len);
		m->held[m->nheld].fd = -1;
		m->nheld++;
		off += r.pend_len;
	}
	want = m->nheld;
	/* The links' records have no descriptor: the connections' come in order. */
	for (guint32 i = 0; i < m->nheld; i++)
		if (m->held[i].flags & HRPC_MIG_FWD_HELD_F_LINK)
			want--;
	while (got < want) {
		nfds = G_N_ELEMENTS(fds);
		if (port_recv(m, &h, &st, sizeof(st), &len, fds, &nfds) < 0)
			return -1;
		if (h.type != HRPC_MIG_FWD_HELD || !nfds || got + (guint32)nfds > want) {
			for (int i = 0; i < nfds; i++)
				close(fds[i]);
			return fail(m, "source worker: held connections' sockets missing");
		}
		for (int i = 0; i < nfds; i++, got++) {
			while (m->held[slot].flags & HRPC_MIG_FWD_HELD_F_LINK)
				slot++;
			m->held[slot++].fd = fds[i];
		}
	}
	return 0;
}

/* Is the link that carries the guest's forwarded files among the held? */
static gboolean held_files_link(Mig *m)
{
	for (guint32 i = 0; i < m->nheld; i++)
		if (m->held[i].flags & HRPC_MIG_FWD_HELD_F_FILES)
			return TRUE;
	return FALSE;
}

/* Does the worker serve stand-ins of connections at a remnant elsewhere? */
static gboolean has_standins(Mig *m)
{
	const struct hrpc_sock_mig *recs;
	struct hrpc_sock_mig_table t;

	if (!m->table)
		return FALSE;
	memcpy(&t, m->table, sizeof(t));
	recs = (const struct hrpc_sock_mig *)(m->table + sizeof(t));
	for (guint32 i = 0; i < t.nsock; i++) {
		struct hrpc_sock_mig r;

		memcpy(&r, &recs[i], sizeof(r));
		/* (a listener a remnant keeps a copy of rides a link to it too) */
		if (r.flags & (HRPC_SOCK_MIG_F_FORWARD | HRPC_SOCK_MIG_F_FWD_LISTEN))
			return TRUE;
	}
	return FALSE;
}

static struct held *held_find(Mig *m, guint64 handle)
{
	for (guint32 i = 0; handle && i < m->nheld; i++)
		if (m->held[i].handle == handle)
			return &m->held[i];
	return NULL;
}

/* The first `skip` bytes of run b are the last ones of run a (mod 2^32). */
static guint32 overlap(guint32 a_end, guint32 b_start, guint32 b_len)
{
	guint32 d = a_end - b_start;

	return (gint32)d <= 0 ? 0 : MIN(d, b_len);
}

/*
 * A stand-in's forward image (sockstate.h): its two ends are frozen (the
 * guest's near end g, the far end f that the forwarder served), so every
 * byte between the guest and the remnant is in one of: g's receive queue,
 * f's send queue (less what g has), the forwarder's pending bytes (from
 * the remnant); f's receive queue, g's send queue (less what f has).
 */
static int fwd_image(int gfd, struct held *hd, GByteArray *out, const char **why)
{
	g_autofree void *gimg = NULL, *fimg = NULL;
	struct hrpc_tcp_image g, f;
	struct hrpc_sock_fwd_image fi = { .magic = HRPC_SOCK_FWD_IMAGE_MAGIC };
	size_t glen = 0, flen = 0;
	const guint8 *gq, *fq;
	guint32 skip_f, skip_g;
	guint start = out->len;

	if (hd->flags & HRPC_MIG_FWD_HELD_F_SHUT) {
		*why = "half closed";
		return -1;
	}
	if (sock_tcp_freeze(gfd, &gimg, &glen) < 0) {
		*why = "the guest's end is not established";
		return -1;
	}
	if (sock_tcp_freeze(hd->fd, &fimg, &flen) < 0) {
		sock_tcp_thaw(gfd);
		*why = "the forwarder's end is not established";
		return -1;
	}
	hd->frozen = TRUE;
	memcpy(&g, gimg, sizeof(g));
	memcpy(&f, fimg, sizeof(f));
	gq = (const guint8 *)gimg + sizeof(g);
	fq = (const guint8 *)fimg + sizeof(f);
	skip_f = overlap(g.rcv_seq, f.snd_seq - f.outq_len, f.outq_len);
	skip_g = overlap(f.rcv_seq, g.snd_seq - g.outq_len, g.outq_len);
	g_byte_array_append(out, (const guint8 *)&fi, sizeof(fi));
	/* for the guest */
	g_byte_array_append(out, gq, g.inq_len);
	g_byte_array_append(out, fq + f.inq_len + skip_f, f.outq_len - skip_f);
	g_byte_array_append(out, hd->pend->data, hd->pend->len);
	fi.in_len = out->len - start - (guint)sizeof(fi);
	/* from the guest */
	g_byte_array_append(out, fq, f.inq_len);
	g_byte_array_append(out, gq + g.inq_len + skip_g, g.outq_len - skip_g);
	fi.out_len = out->len - start - (guint)sizeof(fi) - fi.in_len;
	fi.size = (guint32)(out->len - start);
	memcpy(out->data + start, &fi, sizeof(fi));
	return 0;
}

static gboolean is_connection(int fd, const struct hrpc_sock_mig *r)
{
	struct sockaddr_storage ss;
	struct hrpc_sock_addr w;
	socklen_t sl = sizeof(int);
	int type = 0, proto = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) < 0 || type != SOCK_STREAM)
		return FALSE;
	sl = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &sl) < 0 || proto != IPPROTO_TCP)
		return FALSE;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return FALSE;
	sock_addr_to_wire(&ss, &w);
	if (memcmp(&w, &r->local, sizeof(w)))
		return FALSE;
	sl = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return FALSE;
	sock_addr_to_wire(&ss, &w);
	/* the service's peer may be unset (an accepted socket's is); the kernel's is what moves */
	return !r->peer.family || !memcmp(&w, &r->peer, sizeof(w));
}

/* The table to ship: each record, with its TCP image when it has one. */
static int freeze(Mig *m, GByteArray *out)
{
	struct hrpc_sock_mig_table t;
	struct hrpc_sock_mig *recs;

	memcpy(&t, m->table, sizeof(t));
	recs = (struct hrpc_sock_mig *)(m->table + sizeof(t));
	g_byte_array_append(out, (const guint8 *)&t, sizeof(t));
	for (guint32 i = 0; i < t.nsock; i++) {
		struct hrpc_sock_mig r;
		void *img = NULL;
		size_t ilen = 0;

		memcpy(&r, &recs[i], sizeof(r));
		r.tcp_len = 0;
		if (r.type == HRPC_SOCK_STREAM && r.state == HRPC_SOCK_MIG_LISTEN &&
		    !(r.flags & HRPC_SOCK_MIG_F_FWD_LISTEN) && r.local.family && r.local.port &&
		    mig_loc_forward(m->keep_rules, m->nkeep, m->fwd_rules, m->nfwd_rules,
				    &r.local)) {
			/* Bound to an address only this host has: it moves, and
			 * a copy stays here, whose connections are forwarded. */
			if (m->nfwd == HRPC_MIG_FWD_MAX)
				return fail(m, "more than %u objects would stay at the source",
					    HRPC_MIG_FWD_MAX);
			r.flags |= HRPC_SOCK_MIG_F_FWD_LISTEN;
			m->fwd[m->nfwd++] = r.handle;
			m->listen_forwarded++;
		}
		if (r.type == HRPC_SOCK_STREAM &&
		    (r.state == HRPC_SOCK_MIG_CONNECTED || r.state == HRPC_SOCK_MIG_SHUT)) {
			struct sockaddr_storage ss;
			struct hrpc_sock_addr peer = { 0 };
			socklen_t sl = sizeof(ss);
			int rc;

			if (r.flags & HRPC_SOCK_MIG_F_FORWARD) {
				/* A stand-in here: its connection lives at a remnant
				 * elsewhere; its bytes under way go with it. */
				struct held *hd = held_find(m, r.handle);
				const char *why = "not held";
				guint at = out->len;

				g_byte_array_append(out, (const guint8 *)&r, sizeof(r));
				if (hd && hd->fd >= 0 &&
				    fwd_image(m->fds[i], hd, out, &why) == 0) {
					m->frozen[i] = TRUE;
					hd->imaged = TRUE;
					r.tcp_len = out->len - at - (guint)sizeof(r);
					memcpy(out->data + at, &r, sizeof(r));
					m->tcp_refwd++;
				} else {
					r.flags = (guint16)((r.flags & ~HRPC_SOCK_MIG_F_FORWARD) |
							    HRPC_SOCK_MIG_F_LOST);
					memcpy(out->data + at, &r, sizeof(r));
					(void)why;   /* the guest sees a reset */
					m->tcp_lost++;
				}
				continue;
			}
			if (r.flags & HRPC_SOCK_MIG_F_LOST) {
				/* A connection forwarded here from an earlier host: it
				 * does not follow a second move (yet): reset. */
				m->tcp_lost++;
				g_byte_array_append(out, (const guint8 *)&r, sizeof(r));
				continue;
			}
			if (!is_connection(m->fds[i], &r))
				return fail(m, "source worker: socket %u is not the connection its "
					    "record names", i);
			if (getpeername(m->fds[i], (struct sockaddr *)&ss, &sl) == 0)
				sock_addr_to_wire(&ss, &peer);
			if (mig_loc_forward(m->keep_rules, m->nkeep, m->fwd_rules, m->nfwd_rules,
					    &peer)) {
				/* Stays here, in the worker that becomes its remnant. */
				if (m->nfwd == HRPC_MIG_FWD_MAX)
					return fail(m, "more than %u connections would stay at the "
						    "source", HRPC_MIG_FWD_MAX);
				r.flags |= HRPC_SOCK_MIG_F_FORWARD;
				m->fwd[m->nfwd++] = r.handle;
				m->tcp_forwarded++;
				g_byte_array_append(out, (const guint8 *)&r, sizeof(r));
				continue;
			}
			rc = sock_tcp_freeze(m->fds[i], &img, &ilen);

			if (rc == 0) {
				m->frozen[i] = TRUE;
				r.tcp_len = (guint32)ilen;
				m->tcp_moved++;
			} else {
				/* Not established (a half-closed connection): the
				 * guest sees a reset at the destination. */
				r.flags |= HRPC_SOCK_MIG_F_LOST;
				m->tcp_lost++;
			}
		}
		g_byte_array_append(out, (const guint8 *)&r, sizeof(r));
		if (img)
			g_byte_array_append(out, img, (guint)ilen);
		free(img);
	}
	t.size = out->len;
	memcpy(out->data, &t, sizeof(t));
	return 0;
}

static void thaw_all(Mig *m)
{
	for (guint32 i = 0; i < m->nheld; i++)
		if (m->held[i].frozen && sock_tcp_thaw(m->held[i].fd) == 0)
			m->held[i].frozen = FALSE;
	for (guint32 i = 0; i < m->nfds; i++)
		if (m->frozen[i] && sock_tcp_thaw(m->fds[i]) == 0)
			m->frozen[i] = FALSE;
}

/* ---- the destination's link -------------------------------------------------------- */

static int link_status(Mig *m, const char *what)
{
	g_autofree void *buf = NULL;
	struct hrpc_mig_status st;
	guint32 type;
	gsize len;
	int rc = mig_link_recv(m->link, &type, &buf, &len, sizeof(st), m->timeout_s * 1000);

	if (rc < 0)
		return fail(m, "destination (%s): link %s", what, g_strerror(-rc));
	if (type != HRPC_MIG_STATUS || len != sizeof(st))
		return fail(m, "destination (%s): unexpected answer", what);
	memcpy(&st, buf, sizeof(st));
	st.message[sizeof(st.message) - 1] = 0;
	if (st.status < 0)
		return fail(m, "destination (%s): %s", what, st.message);
	return 0;
}

static int link_call(Mig *m, guint32 type, const void *buf, gsize len, const char *what)
{
	int rc = mig_link_send(m->link, type, buf, len);

	if (rc < 0)
		return fail(m, "destination (%s): %s", what, g_strerror(-rc));
	return link_status(m, what);
}

/* ---- files of exports the destination does not have ------------------------------ */

/* One server record of a filesystem table with its nodes and files:
 * its length, or 0 when it does not fit before `end`. */
static gsize fs_record_len(const guint8 *p, const guint8 *end)
{
	const guint8 *q = p;
	struct hrpc_fs_mig_server r;

	if ((gsize)(end - q) < sizeof(r))
		return 0;
	memcpy(&r, q, sizeof(r));
	q += sizeof(r);
	for (guint32 k = 0; k < r.nnodes; k++) {
		struct hrpc_fs_mig_node nr;

		if ((gsize)(end - q) < sizeof(nr))
			return 0;
		memcpy(&nr, q, sizeof(nr));
		if ((gsize)(end - q) - sizeof(nr) < (((gsize)nr.path_len + 7) & ~(gsize)7))
			return 0;
		q += sizeof(nr) + (((gsize)nr.path_len + 7) & ~(gsize)7);
	}
	if ((gsize)(end - q) / sizeof(struct hrpc_fs_mig_file) < r.nfiles)
		return 0;
	return (gsize)(q - p) + (gsize)r.nfiles * sizeof(struct hrpc_fs_mig_file);
}

/*
 * The source forwards some of the guest's exports to a remnant on another
 * host (its table has HRPC_FS_MIG_F_FORWARD records, empty): that remnant
 * gives their state (FS_FETCH; it lets go of their locks) and it takes the
 * records' place, so the destination makes them again as any.  A rollback
 * (RESUME) gives the remnant its locks back.
 */
static int fs_fetch(Mig *m)
{
	guint8 *p = m->fs_table, *end = p ? p + m->fs_table_len : NULL;
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autofree guint8 *got = NULL;
	struct hrpc_fs_mig_table t, ft;
	struct hrpc_mig_msg h;
	struct hrpc_mig_status st;
	guint64 want = 0;
	gsize len = 0;
	int fd = -1, nfds = 1;

	if (!p || m->fs_table_len < sizeof(t))
		return 0;
	memcpy(&t, p, sizeof(t));
	g_byte_array_append(out, p, sizeof(t));
	t.nserv = 0;
	p += sizeof(t);
	while (p < end) {
		struct hrpc_fs_mig_server r;
		gsize rl = fs_record_len(p, end);

		if (!rl)
			return fail(m, "source worker: filesystem table cut short");
		memcpy(&r, p, sizeof(r));
		if (r.tag < 64 && (m->fs_fetch_tags & (G_GUINT64_CONSTANT(1) << r.tag)))
			want |= G_GUINT64_CONSTANT(1) << r.tag;
		else {
			g_byte_array_append(out, p, (guint)rl);
			t.nserv++;
		}
		p += rl;
	}
	if (!want)
		return 0;
	if (port_send(m, HRPC_MIG_FS_FETCH, -1, 0) < 0 ||
	    port_recv(m, &h, &st, sizeof(st), &len, &fd, &nfds) < 0)
		return -1;
	if (h.type != HRPC_MIG_FS_FETCHED || nfds != 1) {
		if (nfds == 1)
			close(fd);
		return fail(m, "source worker: no state of the files at the remnant");
	}
	got = memfd_read(fd, h.len);
	close(fd);
	/* Another host's worker made it: the destination checks it all; here
	 * only what the splice needs. */
	if (!got || h.len < sizeof(ft))
		return fail(m, "the remnant's filesystem state: unreadable");
	memcpy(&ft, got, sizeof(ft));
	if (ft.magic != HRPC_FS_MIG_MAGIC || ft.size != h.len ||
	    t.nserv + ft.nserv > HRPC_FS_MIG_SERVERS)
		return fail(m, "the remnant's filesystem state: bad header");
	for (p = got + sizeof(ft), end = got + h.len; p < end;) {
		struct hrpc_fs_mig_server r;
		gsize rl = fs_record_len(p, end);

		if (!rl)
			return fail(m, "the remnant's filesystem state: cut short");
		memcpy(&r, p, sizeof(r));
		if (r.tag >= 64 || !(want & (G_GUINT64_CONSTANT(1) << r.tag)) ||
		    (m->fs_fetched & (G_GUINT64_CONSTANT(1) << r.tag)) || r.flags)
			return fail(m, "the remnant's filesystem state: a server the guest does "
				    "not have there");
		m->fs_fetched |= G_GUINT64_CONSTANT(1) << r.tag;
		m->fs_from_remnant++;
		p += rl;
	}
	/* A forwarded server the remnant no longer has (unmounted there)
	 * stays out: the guest's handles on it are stale at the destination. */
	g_byte_array_append(out, got + sizeof(ft), (guint)(h.len - sizeof(ft)));
	t.nserv += ft.nserv;
	t.size = out->len;
	memcpy(out->data, &t, sizeof(t));
	g_free(m->fs_table);
	m->fs_table_len = out->len;
	m->fs_table = g_byte_array_free(g_steal_pointer(&out), FALSE);
	return 0;
}

static gboolean export_listed(GStrv names, const char *name)
{
	return names && g_strv_contains((const gchar *const *)names, name);
}

/*
 * The guest's mounted exports (the filesystem table's server records):
 * the destination says which its policy has (before the hold: a remnant
 * of forwarded files re-points only if the destination lacks them).  One it lacks stays here
 * (HRPC_FS_MIG_F_FORWARD: the source's worker keeps its server as the
 * remnant, the destination forwards the calls), unless --keep-local
 * export:NAME (then the destination refuses the state, saying why);
 * --forward export:NAME keeps one here even if the destination has it.
 */
static int fs_plan(Mig *m)
{
	guint8 *p = m->fs_table, *end = p ? p + m->fs_table_len : NULL;
	struct hrpc_fs_mig_table t;
	guint8 *rec[HRPC_FS_MIG_SERVERS];
	char names[HRPC_FS_MIG_SERVERS][64];
	g_autofree void *buf = NULL;
	guint64 have = 0;
	guint32 type, n = 0;
	gsize len = 0;
	int rc;

	if (!p)
		return 0;
	if (m->fs_table_len < sizeof(t))
		return fail(m, "source worker: bad filesystem table");
	memcpy(&t, p, sizeof(t));
	if (t.nserv > HRPC_FS_MIG_SERVERS)
		return fail(m, "source worker: bad filesystem table");
	p += sizeof(t);
	for (guint32 i = 0; i < t.nserv; i++) {
		struct hrpc_fs_mig_server r;
		gsize rl = fs_record_len(p, end);

		if (!rl)
			return fail(m, "source worker: filesystem table cut short");
		memcpy(&r, p, sizeof(r));
		rec[n] = p;
		memset(names[n], 0, sizeof(names[n]));
		memcpy(names[n], r.export_name, sizeof(r.export_name) - 1);
		n++;
		p += rl;
	}
	if (!n)
		return 0;
	rc = mig_link_send(m->link, HRPC_MIG_FS_HAVE, names, (gsize)n * sizeof(names[0]));
	if (rc == 0)
		rc = mig_link_recv(m->link, &type, &buf, &len, sizeof(struct hrpc_mig_status),
				   STEP_TIMEOUT_MS);
	if (rc < 0)
		return fail(m, "destination (exports): %s", g_strerror(-rc));
	if (type == HRPC_MIG_FS_HAVE && len == sizeof(have)) {
		memcpy(&have, buf, sizeof(have));
	} else if (type == HRPC_MIG_STATUS && len == sizeof(struct hrpc_mig_status)) {
		struct hrpc_mig_status st;

		memcpy(&st, buf, sizeof(st));
		st.message[sizeof(st.message) - 1] = 0;
		return fail(m, "destination (exports): %s", st.message);
	} else {
		return fail(m, "destination (exports): unexpected answer");
	}
	for (guint32 i = 0; i < n; i++) {
		struct hrpc_fs_mig_server r;
		gboolean fwd;

		memcpy(&r, rec[i], sizeof(r));
		if (r.flags & HRPC_FS_MIG_F_FORWARD) {
			/* Its files are at a remnant on another host (the source
			 * forwards them): a destination with the export makes
			 * them again from the remnant's state (fs_fetch), one
			 * without it is linked to by the remnant (repoint). */
			if (r.tag >= 64)
				return fail(m, "source worker: bad filesystem table");
			if (have & (G_GUINT64_CONSTANT(1) << i)) {
				m->fs_fetch_tags |= G_GUINT64_CONSTANT(1) << r.tag;
			} else {
				m->fs_repoint |= G_GUINT64_CONSTANT(1) << r.tag;
				m->fs_repointed++;
			}
			continue;
		}
		if (export_listed(m->keep_exports, names[i]))
			fwd = FALSE;
		else
			fwd = export_listed(m->fwd_exports, names[i]) ||
			      !(have & (G_GUINT64_CONSTANT(1) << i));
		if (!fwd || r.tag >= 64)
			continue;
		r.flags |= HRPC_FS_MIG_F_FORWARD;
		memcpy(rec[i], &r, sizeof(r));
		m->fs_keep |= G_GUINT64_CONSTANT(1) << r.tag;
		m->fs_forwarded++;
		m->files_forwarded += r.nfiles;
	}
	/* The destination forwards files to one remnant. */
	if (m->fs_repoint && m->fs_keep)
		return fail(m, "the guest's files would stay on two hosts (some at the remnant it "
			    "already has, some here): the destination forwards files to one");
	return 0;
}

/* The servers that stay here, to the source's worker (quiesced). */
static int fs_keep(Mig *m)
{
	struct {
		struct hrpc_mig_msg h;
		guint64 tags;
	} msg = { .h = { .type = HRPC_MIG_FS_KEEP, .len = sizeof(guint64) }, .tags = m->fs_keep };
	struct hrpc_mig_status st;
	gsize len = 0;
	int rc, nfds = 0;

	rc = hrpc_unix_send(m->port, &msg, sizeof(msg), NULL, 0);
	if (rc < 0)
		return fail(m, "source worker: %s", g_strerror(-rc));
	if (port_recv(m, &msg.h, &st, sizeof(st), &len, NULL, &nfds) < 0)
		return -1;
	return msg.h.type == HRPC_MIG_STATUS ? 0 : fail(m, "source worker: unexpected answer");
}

/*
 * Connections that stay here need a forward link between this host and
 * the destination (include/hostrpc/migfwd.h): the destination's worker
 * listens, we connect and authenticate with the pair's key, and hand the
 * link (its socket and session, not the key) to the source's worker,
 * which becomes their remnant at DONE.  Made at the quiesce when some
 * connection stays, or before pre-copy with --prepare (out of the
 * downtime, whether or not one will).
 */
static int forward_link(Mig *m)
{
	g_autofree void *buf = NULL;
	struct {
		struct hrpc_mig_msg h;
		struct hrpc_mig_fwd_link f;
	} msg;
	struct hrpc_mig_fwd_port fp;
	struct mig_link_session ses;
	struct hrpc_mig_status st;
	mig_link *fl = NULL;
	const char *colon = strrchr(m->dest, ':');
	g_autofree char *hp = NULL;
	guint32 type;
	gsize len = 0, mlen;
	int rc, fd, nfds = 0;

	rc = mig_link_send(m->link, HRPC_MIG_FWD_OPEN, NULL, 0);
	if (rc == 0)
		rc = mig_link_recv(m->link, &type, &buf, &len, sizeof(st), STEP_TIMEOUT_MS);
	if (rc < 0)
		return fail(m, "destination (forward link): %s", g_strerror(-rc));
	if (type == HRPC_MIG_STATUS && len == sizeof(st)) {
		memcpy(&st, buf, sizeof(st));
		st.message[sizeof(st.message) - 1] = 0;
		return fail(m, "destination (forward link): %s", st.message);
	}
	if (type != HRPC_MIG_FWD_PORT || len != sizeof(fp))
		return fail(m, "destination (forward link): unexpected answer");
	memcpy(&fp, buf, sizeof(fp));
	if (!fp.port || fp.reserved[0] || fp.reserved[1] || fp.reserved[2] || !colon)
		return fail(m, "destination (forward link): bad port");
	hp = g_strdup_printf("%.*s:%u", (int)(colon - m->dest), m->dest, fp.port);
	rc = mig_link_connect(hp, m->key, m->guest, STEP_TIMEOUT_MS, &fl);
	if (rc < 0)
		return fail(m, "forward link to %s: %s", hp, g_strerror(-rc));
	if (link_status(m, "forward link") < 0) {
		mig_link_free(fl);
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	mig_link_session_get(fl, &ses);
	msg.h.type = HRPC_MIG_FWD_LINK;
	msg.h.nfds = 1;
	memcpy(msg.f.k_send, ses.k_send, sizeof(msg.f.k_send));
	memcpy(msg.f.k_recv, ses.k_recv, sizeof(msg.f.k_recv));
	msg.f.seq_send = ses.seq_send;
	msg.f.seq_recv = ses.seq_recv;
	mlen = sizeof(msg);
	msg.h.len = sizeof(msg.f);
	fd = mig_link_fd(fl);
	rc = hrpc_unix_send(m->port, &msg, mlen, &fd, 1);
	explicit_bzero(&ses, sizeof(ses));
	explicit_bzero(&msg.f, sizeof(msg.f));
	mig_link_free(fl);   /* our copy: the worker has its own */
	if (rc < 0)
		return fail(m, "source worker: %s", g_strerror(-rc));
	if (port_recv(m, &msg.h, &st, sizeof(st), &len, NULL, &nfds) < 0)
		return -1;
	if (msg.h.type != HRPC_MIG_STATUS)
		return fail(m, "source worker: unexpected answer");
	m->fwd_link_up = TRUE;
	return 0;
}

/* The connections that stay here, to the source's worker (quiesced). */
static int forward_keep(Mig *m)
{
	struct {
		struct hrpc_mig_msg h;
		guint64 handles[HRPC_MIG_FWD_MAX];
	} msg = { .h = { .type = HRPC_MIG_FWD_KEEP, .len = m->nfwd * sizeof(guint64) } };
	struct hrpc_mig_status st;
	gsize len = 0;
	int rc, nfds = 0;

	if (!m->fwd_link_up && forward_link(m) < 0)
		return -1;
	memcpy(msg.handles, m->fwd, m->nfwd * sizeof(guint64));
	rc = hrpc_unix_send(m->port, &msg, sizeof(msg.h) + m->nfwd * sizeof(guint64), NULL, 0);
	if (rc < 0)
		return fail(m, "source worker: %s", g_strerror(-rc));
	if (port_recv(m, &msg.h, &st, sizeof(st), &len, NULL, &nfds) < 0)
		return -1;
	return msg.h.type == HRPC_MIG_STATUS ? 0 : fail(m, "source worker: unexpected answer");
}

/*
 * Connections that were forwarded here from remnants on other hosts went
 * in the state with their forward images.  The destination has their
 * remnant (they become local again at GO: it says so at once), or each
 * remnant links to the destination's forward listener: we ask the
 * destination to take that link (FWD_REMOTE), and our worker to have the
 * remnant make it (FWD_MOVE: migfwd.h MOVE), one remnant at a time.
 * After the pages, so nothing here can roll back: a connection whose
 * remnant does not follow is reset at the destination.
 */
static void repoint(Mig *m)
{
	const char *colon = strrchr(m->dest, ':');
	guint32 done_links = 0;

	for (guint32 i = 0; i < m->nheld; i++) {
		g_autofree guint64 *handles = g_new(guint64, m->nheld);
		g_autofree void *buf = NULL;
		struct {
			struct hrpc_mig_msg h;
			struct hrpc_mig_fwd_move mv;
		} msg = { .h = { .type = HRPC_MIG_FWD_MOVE, .len = sizeof(msg.mv) } };
		struct hrpc_mig_status st;
		struct hrpc_mig_fwd_port fp;
		struct hrpc_mig_msg h;
		guint32 n = 0, type;
		gsize len = 0;
		int nfds = 0, rc;
		gboolean files;

		/* one round per link: its record (every held link has one) */
		if (!(m->held[i].flags & HRPC_MIG_FWD_HELD_F_LINK) ||
		    (done_links & (1u << MIN(m->held[i].link, 31))))
			continue;
		done_links |= 1u << MIN(m->held[i].link, 31);
		for (guint32 j = 0; j < m->nheld; j++)
			if (m->held[j].imaged && m->held[j].link == m->held[i].link)
				handles[n++] = m->held[j].handle;
		files = m->fs_repoint && (m->held[i].flags & HRPC_MIG_FWD_HELD_F_FILES);
		rc = mig_link_send(m->link, files ? HRPC_MIG_FWD_REMOTE_FS : HRPC_MIG_FWD_REMOTE,
				   handles, n * sizeof(guint64));
		if (rc == 0)
			rc = mig_link_recv(m->link, &type, &buf, &len, sizeof(st), STEP_TIMEOUT_MS);
		if (rc < 0) {
			if (files)
				m->fs_repointed = 0;
			return;   /* GO says what became of the link */
		}
		if (type == HRPC_MIG_STATUS && len == sizeof(st)) {
			memcpy(&st, buf, sizeof(st));
			if (st.status >= 0)
				m->remnant_there = TRUE;   /* all of them: local again */
			else if (files)
				m->fs_repointed = 0;
			return;
		}
		if (type != HRPC_MIG_FWD_PORT || len != sizeof(fp) || !colon ||
		    colon - m->dest >= (gssize)sizeof(msg.mv.host))
			return;
		memcpy(&fp, buf, sizeof(fp));
		msg.mv.link = m->held[i].link;
		msg.mv.port = fp.port;
		memcpy(msg.mv.host, m->dest, (gsize)(colon - m->dest));
		if (msg.mv.host[0] == '[') {   /* [v6]:port */
			memmove(msg.mv.host, msg.mv.host + 1, strlen(msg.mv.host));
			msg.mv.host[strcspn(msg.mv.host, "]")] = 0;
		}
		rc = hrpc_unix_send(m->port, &msg, sizeof(msg), NULL, 0);
		/* The worker answers once the remnant said MOVED. */
		if (rc == 0) {
			struct hrpc_mig_status pst = { 0 };

			rc = port_recv(m, &h, &pst, sizeof(pst), &len, NULL, &nfds);
			if (rc == 0 && h.type == HRPC_MIG_STATUS && pst.status > 0)
				m->tcp_repointed += (guint32)pst.status;
			if (files && (rc < 0 || h.type != HRPC_MIG_STATUS || pst.status < 0))
				m->fs_repointed = 0;   /* the remnant did not follow: EIO there */
		}
		/* ... and the destination once the link came (or did not). */
		g_clear_pointer(&buf, g_free);
		if (mig_link_recv(m->link, &type, &buf, &len, sizeof(st), STEP_TIMEOUT_MS) < 0)
			return;
	}
}

/* The pages the source host wrote after QEMU sent them (QEMU does not see
 * another process's writes to shared memory): compare keyed page hashes,
 * send only those that differ. */
static int pages(Mig *m)
{
	struct hrpc_mig_hash_req req;
	g_autofree guint8 *hashes = NULL, *recs = NULL;
	struct hrpc_mig_msg h;
	struct hrpc_mig_status st;
	guint32 type;
	gsize len = 0;
	int fd, nfds = 1, rc;

	if (getrandom(&req.seed, sizeof(req.seed), 0) != sizeof(req.seed))
		return fail(m, "getrandom: %s", g_strerror(errno));
	rc = mig_link_send(m->link, HRPC_MIG_HASH, &req, sizeof(req));
	if (rc == 0)
		rc = mig_link_recv(m->link, &type, (void **)&hashes, &len,
				   16 + m->shm_size / HRPC_MIG_PAGE_SIZE * 8, STEP_TIMEOUT_MS);
	if (rc < 0)
		return fail(m, "destination (page hashes): %s", g_strerror(-rc));
	if (type != HRPC_MIG_HASHES || len != 16 + m->shm_size / HRPC_MIG_PAGE_SIZE * 8)
		return fail(m, "destination (page hashes): unexpected answer");
	fd = memfd_create("hostrpc-migrate-hashes", MFD_CLOEXEC);
	if (fd < 0 || pwrite(fd, hashes, len, 0) != (ssize_t)len)
		return fail(m, "memfd: %s", g_strerror(errno));
	rc = port_send(m, HRPC_MIG_DIFF, fd, len);
	close(fd);
	if (rc < 0 || port_recv(m, &h, &st, sizeof(st), &len, &fd, &nfds) < 0)
		return -1;
	if (h.type != HRPC_MIG_PAGES_OUT || nfds != 1)
		return fail(m, "source worker: no pages");
	recs = memfd_read(fd, h.len);
	close(fd);
	if (!recs)
		return fail(m, "source worker: pages unreadable");
	m->pages = h.len / sizeof(struct hrpc_mig_page);
	m->page_bytes = h.len;
	return link_call(m, HRPC_MIG_PAGES_IN, recs, h.len, "pages");
}

/* ---- QEMU ---------------------------------------------------------------------------- */

static void progress(const struct mig_hv_progress *mi, void *data)
{
	Mig *m = data;
	double done = mi->ram_total ? 100.0 * (double)mi->ram_transferred / (double)mi->ram_total
				    : 0;

	m->ram_total = mi->ram_total;
	m->ram_transferred = mi->ram_transferred;
	if (m->json || !m->tty)
		return;
	fprintf(stderr, "\r\033[K  pre-copy: %s, %" PRIu64 " of %" PRIu64 " MiB sent (%.0f%%), "
		"%" PRIu64 " MiB left, dirty %" PRIu64 " pages/s, expected downtime %" PRIu64 " ms",
		mi->status, mi->ram_transferred >> 20, mi->ram_total >> 20, done,
		mi->ram_remaining >> 20, mi->dirty_pages_rate, mi->expected_downtime_ms);
	fflush(stderr);
}

/* ---- the whole ------------------------------------------------------------------------ */

static void rollback(Mig *m)
{
	if (m->link)
		mig_link_send(m->link, HRPC_MIG_ABORT, NULL, 0);
	thaw_all(m);
	if (m->link_down)
		source_link(m, TRUE);
	if (m->quiesced && m->port >= 0 && port_status(m, HRPC_MIG_RESUME) == 0)
		m->quiesced = FALSE;
	/* The worker serves again before the guest runs again. */
	if (m->hv && m->hv->ops->rollback(m->hv) < 0)
		m->stranded = TRUE;
}

/* The destination hostrpcd routes the link to the guest's worker once its
 * QEMU has attached there; a QEMU libvirt has just started may not have. */
static int link_open(Mig *m, const guint8 *key)
{
	gint64 deadline = now_us() + (gint64)LINK_RETRY_MS * 1000;
	struct hrpc_mig_prepare pr = { .shm_size = m->shm_size };
	int rc;

	for (;;) {
		rc = mig_link_connect(m->dest, key, m->guest, STEP_TIMEOUT_MS, &m->link);
		if (rc == 0 || rc == -EACCES || rc == -ECONNREFUSED || now_us() > deadline)
			break;
		g_usleep(100 * 1000);
	}
	if (rc < 0)
		return fail(m, "destination hostrpcd %s: %s", m->dest,
			    rc == -EACCES ? "authentication failed (not the same key?)" :
			    g_strerror(-rc));
	return link_call(m, HRPC_MIG_PREPARE, &pr, sizeof(pr), "prepare");
}

static int hv_fail(Mig *m, int rc, const char *err)
{
	return rc < 0 ? fail(m, "%s", err) : 0;
}

static int migrate(Mig *m)
{
	const struct mig_hv_ops *hv = m->hv->ops;
	g_autoptr(GByteArray) state = g_byte_array_new();
	const char *why = NULL;
	char err[256] = "";
	guint64 ram_sent = 0;
	int rc;

	m->t0 = now_us();
	phase(m, P_PREPARE);
	rc = mig_key_load(m->key_path, m->key, &why);
	if (rc < 0)
		return fail(m, "key %s: %s", m->key_path, why ? why : g_strerror(-rc));
	if (port_open(m) < 0 ||
	    hv_fail(m, hv->incoming(m->hv, STEP_TIMEOUT_MS, err, sizeof(err)), err) < 0)
		return -1;
	if (link_open(m, m->key) < 0)
		return -1;
	if (m->prepare && forward_link(m) < 0)
		return -1;

	phase(m, P_PRECOPY);
	if (hv_fail(m, hv->precopy(m->hv, err, sizeof(err)), err) < 0)
		return -1;
	if (m->hv->single_pass_why[0])
		fprintf(stderr, "hostrpc-migrate: single-pass pre-copy: %s (upstream 03bfc2188f)\n",
			m->hv->single_pass_why);
	if (hv_fail(m, hv->wait_paused(m->hv, m->timeout_s * 1000,
				       m->tty && !m->json ? progress : NULL, m, &m->ram_total,
				       err, sizeof(err)), err) < 0)
		return -1;
	m->t_paused = now_us();   /* the guest's vCPUs stopped */

	phase(m, P_QUIESCE);
	if (quiesce(m) < 0 || source_ident(m) < 0)
		return -1;
	if (fs_plan(m) < 0)
		return -1;
	if ((has_standins(m) || m->fs_repoint) && fwd_hold(m) < 0)
		return -1;
	if (m->fs_repoint && !held_files_link(m))
		return fail(m, "the guest's forwarded files: their remnant's link is gone, and the "
			    "destination has no such export");
	if (source_link(m, FALSE) < 0)
		return -1;
	if (freeze(m, state) < 0)
		return -1;
	if (fs_fetch(m) < 0)
		return -1;
	if (m->nfwd && forward_keep(m) < 0)
		return -1;
	if (m->fs_keep && ((!m->fwd_link_up && forward_link(m) < 0) || fs_keep(m) < 0))
		return -1;
	explicit_bzero(m->key, sizeof(m->key));
	{
		g_autoptr(GByteArray) msg = g_byte_array_new();

		g_byte_array_append(msg, (const guint8 *)&m->st, sizeof(m->st));
		if (m->st.flags & HRPC_MIG_STATE_F_SOCK)
			g_byte_array_append(msg, state->data, state->len);
		if (m->fs_table)
			g_byte_array_append(msg, m->fs_table, (guint)m->fs_table_len);
		m->state_bytes = msg->len;
		phase(m, P_SHIP);
		if (link_call(m, HRPC_MIG_STATE_IN, msg->data, msg->len, "state") < 0)
			return -1;
	}

	phase(m, P_SWITCH);
	rc = hv->switch_over(m->hv, STEP_TIMEOUT_MS, &ram_sent, err, sizeof(err));
	m->ram_transferred = ram_sent;
	if (rc < 0)
		return fail(m, "%s", err);
	m->switched = TRUE;

	phase(m, P_PAGES);
	if (pages(m) < 0)
		return -1;
	if (m->nheld) {
		gint64 t = now_us();

		repoint(m);
		m->repoint_us = now_us() - t;
	}
	phase(m, P_RESUME);
	if (link_call(m, HRPC_MIG_GO, NULL, 0, "go") < 0)
		return -1;
	if (hv_fail(m, hv->resume(m->hv, err, sizeof(err)), err) < 0)
		return -1;
	m->t_resumed = now_us();
	m->t_phase[P_N] = m->t_resumed;
	/* The guest runs at the destination: the source lets go.  Its worker
	 * ends (and closes the port) before its QEMU does, so that the source
	 * hostrpcd sees why it ended. */
	if (port_status(m, HRPC_MIG_DONE) == 0) {
		struct pollfd pfd = { .fd = m->port, .events = POLLIN };
		char b;

		while (poll(&pfd, 1, 5000) == 1 && recv(m->port, &b, 1, 0) > 0)
			;
	}
	for (guint32 i = 0; i < m->nfds; i++) {
		close(m->fds[i]);   /* frozen: silently */
		m->frozen[i] = FALSE;
	}
	m->nfds = 0;
	hv->end_source(m->hv);
	return 0;
}

static void report(Mig *m, int rc)
{
	double down = m->t_resumed ? (double)(m->t_resumed - m->t_paused) / 1000.0 : 0;

	if (m->json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		g_autoptr(JsonGenerator) gen = json_generator_new();
		g_autoptr(JsonNode) root = NULL;
		g_autofree char *text = NULL;

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "guest");
		json_builder_add_string_value(b, m->guest);
		json_builder_set_member_name(b, "result");
		json_builder_add_string_value(b, rc == 0 ? "migrated" : "failed");
		if (rc) {
			json_builder_set_member_name(b, "error");
			json_builder_add_string_value(b, m->why);
			json_builder_set_member_name(b, "guest_at");
			json_builder_add_string_value(b, m->stranded ? "destination-paused" : "source");
		}
		json_builder_set_member_name(b, "downtime_ms");
		json_builder_add_double_value(b, down);
		json_builder_set_member_name(b, "precopy");
		json_builder_add_string_value(b, m->hv && m->hv->single_pass ? "single-pass"
									   : "iterative");
		json_builder_set_member_name(b, "total_ms");
		json_builder_add_double_value(b, (double)(now_us() - m->t0) / 1000.0);
		json_builder_set_member_name(b, "guest_ram_bytes");
		json_builder_add_int_value(b, (gint64)m->ram_total);
		json_builder_set_member_name(b, "qemu_bytes");
		json_builder_add_int_value(b, (gint64)m->ram_transferred);
		json_builder_set_member_name(b, "host_state_bytes");
		json_builder_add_int_value(b, (gint64)m->state_bytes);
		json_builder_set_member_name(b, "shared_pages");
		json_builder_add_int_value(b, (gint64)m->pages);
		json_builder_set_member_name(b, "shared_page_bytes");
		json_builder_add_int_value(b, (gint64)m->page_bytes);
		json_builder_set_member_name(b, "sockets");
		json_builder_add_int_value(b, m->sockets);
		json_builder_set_member_name(b, "tcp_moved");
		json_builder_add_int_value(b, m->tcp_moved);
		json_builder_set_member_name(b, "tcp_lost");
		json_builder_add_int_value(b, m->tcp_lost);
		json_builder_set_member_name(b, "tcp_forwarded");
		json_builder_add_int_value(b, m->tcp_forwarded);
		json_builder_set_member_name(b, "tcp_from_remnant");
		json_builder_add_int_value(b, m->tcp_refwd);
		json_builder_set_member_name(b, "tcp_repointed");
		json_builder_add_int_value(b, m->tcp_repointed);
		json_builder_set_member_name(b, "listen_forwarded");
		json_builder_add_int_value(b, m->listen_forwarded);
		json_builder_set_member_name(b, "fs_forwarded");
		json_builder_add_int_value(b, m->fs_forwarded);
		json_builder_set_member_name(b, "files_forwarded");
		json_builder_add_int_value(b, m->files_forwarded);
		json_builder_set_member_name(b, "fs_from_remnant");
		json_builder_add_int_value(b, m->fs_from_remnant);
		json_builder_set_member_name(b, "fs_repointed");
		json_builder_add_int_value(b, m->fs_repointed);
		json_builder_set_member_name(b, "repoint_ms");
		json_builder_add_double_value(b, (double)m->repoint_us / 1000.0);
		json_builder_set_member_name(b, "remnant_at_destination");
		json_builder_add_boolean_value(b, m->remnant_there);
		json_builder_set_member_name(b, "phases_ms");
		json_builder_begin_object(b);
		for (int p = 0; p < P_N; p++) {
			gint64 end = 0;

			if (!m->t_phase[p])
				continue;
			for (int q = p + 1; q <= P_N && !end; q++)
				end = m->t_phase[q];
			json_builder_set_member_name(b, phase_name[p]);
			json_builder_add_double_value(b, end ? (double)(end - m->t_phase[p]) / 1000.0
							     : -1);
		}
		json_builder_end_object(b);
		json_builder_end_object(b);
		root = json_builder_get_root(b);
		json_generator_set_root(gen, root);
		text = json_generator_to_data(gen, NULL);
		printf("%s\n", text);
		return;
	}
	if (rc) {
		fprintf(stderr, "%shostrpc-migrate: %s: %s; %s\n", m->tty ? "\r\033[K" : "",
			m->guest, m->why, m->stranded ?
			"the source QEMU has gone and the guest waits, paused, at the destination "
			"(resume it there, e.g. virsh resume)" : "the guest stays at the source");
		return;
	}
	fprintf(stderr, "%shostrpc-migrate: %s migrated to %s: downtime %.1f ms; host state "
		"%" PRIu64 " bytes (%u sockets, %u TCP connections moved, %u lost, %u stay here, "
		"forwarded; %u exports' files stay here, forwarded), %" PRIu64 " shared pages "
		"resent, guest RAM %" PRIu64 " MiB\n",
		m->tty ? "\r\033[K" : "", m->guest, m->dest, down, m->state_bytes, m->sockets,
		m->tcp_moved, m->tcp_lost, m->tcp_forwarded, m->fs_forwarded, m->pages,
		m->ram_total >> 20);
}

int main(int argc, char **argv)
{
	Mig m = { .port = -1, .netns_fd = -1, .timeout_s = 600 };
	g_autofree char *qmp_path = NULL, *dest_qmp_path = NULL, *uri = NULL, *key = NULL,
		*port = NULL, *hold = NULL, *libvirt = NULL, *dest_xml_path = NULL,
		*dest_xml = NULL, *precopy = NULL;
	g_auto(GStrv) fwd_specs = NULL, keep_specs = NULL;
	GOptionEntry entries[] = {
		{ "libvirt", 0, 0, G_OPTION_ARG_STRING, &libvirt,
		  "A libvirt domain: the source's libvirt URI; the destination's comes before "
		  "DOMAIN", "SRC_URI" },
		{ "dest-xml", 0, 0, G_OPTION_ARG_FILENAME, &dest_xml_path,
		  "With --libvirt: the domain's XML at the destination (default: the source's)",
		  "FILE" },
		{ "qmp", 0, 0, G_OPTION_ARG_FILENAME, &qmp_path,
		  "The source QEMU's QMP socket", "PATH" },
		{ "dest-qmp", 0, 0, G_OPTION_ARG_FILENAME, &dest_qmp_path,
		  "The destination QEMU's QMP socket (started with -incoming defer -S)", "PATH" },
		{ "uri", 0, 0, G_OPTION_ARG_STRING, &uri,
		  "QEMU's migration stream, e.g. tcp:HOST:PORT", "URI" },
		{ "key", 0, 0, G_OPTION_ARG_FILENAME, &key,
		  "The per-pair key shared with the destination (default " DEFAULT_KEY ")",
		  "FILE" },
		{ "migrate-socket", 0, 0, G_OPTION_ARG_FILENAME, &port,
		  "The source hostrpcd's migration socket (default " DEFAULT_PORT ")", "PATH" },
		{ "forward", 0, 0, G_OPTION_ARG_STRING_ARRAY, &fwd_specs,
		  "Connections to SPEC stay at the source and are forwarded, and listeners bound "
		  "to SPEC leave a copy there (repeatable; default: loopback); export:NAME: the "
		  "files of that export stay here even if the destination has one of that name "
		  "(default: those the destination does not have)", "SPEC" },
		{ "keep-local", 0, 0, G_OPTION_ARG_STRING_ARRAY, &keep_specs,
		  "Connections to SPEC move with the guest even if --forward or the default "
		  "would keep them here (repeatable); export:NAME: that export's files move "
		  "(the migration fails if the destination has no such export)", "SPEC" },
		{ "prepare", 0, 0, G_OPTION_ARG_NONE, &m.prepare,
		  "Prepare the destination fully before pre-copy (the forward link for "
		  "connections that may stay here), so that the switch is shorter", NULL },
		{ "json", 0, 0, G_OPTION_ARG_NONE, &m.json, "Report as JSON on stdout", NULL },
		{ "keep-source", 0, 0, G_OPTION_ARG_NONE, &m.keep_source,
		  "Leave the source QEMU paused instead of ending it", NULL },
		{ "timeout", 0, 0, G_OPTION_ARG_INT, &m.timeout_s,
		  "Give up (and roll back) after this long in pre-copy (default 600)", "SECS" },
		{ "max-bandwidth", 0, 0, G_OPTION_ARG_INT, &m.max_bandwidth,
		  "Limit QEMU's migration stream to this many MiB/s", "MIB" },
		{ "precopy", 0, 0, G_OPTION_ARG_STRING, &precopy,
		  "How QEMU's pre-copy runs: iterative (passes until what is left fits the "
		  "downtime), single-pass (one pass, the rest with the guest paused), or auto "
		  "(the default: iterative, but single-pass where the source QEMU is older "
		  "than 9.0 and runs TCG, whose iterative pre-copy loses guest writes)",
		  "MODE" },
		{ "hold", 0, 0, G_OPTION_ARG_STRING, &hold,
		  "Stop SECONDS before PHASE (prepare, pre-copy, quiesce, ship-state, switch, "
		  "pages, resume): to inject failures in tests or watch a phase", "PHASE=SECONDS" },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("[DST_URI] GUEST DEST");
	g_autoptr(GError) error = NULL;
	char err[256] = "";
	int rc;

	g_option_context_set_summary(ctx,
		"Move a running guest to the host whose hostrpcd listens for migrations at DEST\n"
		"(HOST:PORT); its outsourced sockets move with it.  Run as root on the source.");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "hostrpc-migrate: %s\n", error->message);
		return 2;
	}
	if (libvirt ? argc != 4 || qmp_path || dest_qmp_path || !uri || m.keep_source
		    : argc != 3 || !qmp_path || !dest_qmp_path || !uri || dest_xml_path) {
		fprintf(stderr, "hostrpc-migrate: want --qmp, --dest-qmp, --uri and GUEST DEST, "
			"or --libvirt SRC_URI, --uri and DST_URI DOMAIN DEST (no --keep-source: "
			"libvirt ends the source) (see --help)\n");
		return 2;
	}
	if (dest_xml_path && !g_file_get_contents(dest_xml_path, &dest_xml, NULL, &error)) {
		fprintf(stderr, "hostrpc-migrate: %s\n", error->message);
		return 2;
	}
	m.hold_phase = -1;
	if (hold) {
		char *eq = strchr(hold, '=');

		for (int p = 0; eq && p < P_N; p++)
			if ((size_t)(eq - hold) == strlen(phase_name[p]) &&
			    !strncmp(hold, phase_name[p], (size_t)(eq - hold)))
				m.hold_phase = p;
		m.hold_s = eq ? atoi(eq + 1) : 0;
		if (m.hold_phase < 0 || m.hold_s <= 0) {
			fprintf(stderr, "hostrpc-migrate: --hold wants PHASE=SECONDS\n");
			return 2;
		}
	}
	if (m.max_bandwidth < 0) {
		fprintf(stderr, "hostrpc-migrate: --max-bandwidth must not be negative\n");
		return 2;
	}
	if (!precopy || !strcmp(precopy, "auto"))
		m.precopy = MIG_PRECOPY_AUTO;
	else if (!strcmp(precopy, "iterative"))
		m.precopy = MIG_PRECOPY_ITERATIVE;
	else if (!strcmp(precopy, "single-pass"))
		m.precopy = MIG_PRECOPY_SINGLE_PASS;
	else {
		fprintf(stderr, "hostrpc-migrate: --precopy wants auto, iterative or "
			"single-pass, not '%s'\n", precopy);
		return 2;
	}
	if (m.timeout_s <= 0) {
		fprintf(stderr, "hostrpc-migrate: --timeout must be positive\n");
		return 2;
	}
	for (int k = 0; k < 2; k++) {
		GStrv specs = k ? keep_specs : fwd_specs;
		guint n = specs ? g_strv_length(specs) : 0;
		struct mig_loc_rule *r = g_new0(struct mig_loc_rule, n + 1);
		g_autoptr(GPtrArray) exports = g_ptr_array_new();

		/* export:NAME rules are about files; the rest about addresses. */
		for (guint i = 0; i < n;) {
			char nb[HRPC_MIG_NAME_SIZE] = { 0 };

			if (strncmp(specs[i], "export:", 7)) {
				i++;
				continue;
			}
			if (strlen(specs[i] + 7) >= sizeof(nb) ||
			    hrpc_mig_name_check(strncpy(nb, specs[i] + 7, sizeof(nb) - 1)) < 0) {
				fprintf(stderr, "hostrpc-migrate: --%s: %s: not an export name\n",
					k ? "keep-local" : "forward", specs[i]);
				g_free(r);
				return 2;
			}
			g_ptr_array_add(exports, g_strdup(specs[i] + 7));
			g_free(specs[i]);
			memmove(&specs[i], &specs[i + 1], (n - i) * sizeof(specs[0]));
			n--;
		}
		g_ptr_array_add(exports, NULL);
		if (k)
			m.keep_exports = (GStrv)g_ptr_array_free(g_steal_pointer(&exports), FALSE);
		else
			m.fwd_exports = (GStrv)g_ptr_array_free(g_steal_pointer(&exports), FALSE);
		for (guint i = 0; i < n; i++)
			if (mig_loc_rule_parse(specs[i], &r[i], err, sizeof(err)) < 0) {
				fprintf(stderr, "hostrpc-migrate: --%s: %s\n",
					k ? "keep-local" : "forward", err);
				g_free(r);
				return 2;
			}
		if (k) {
			m.keep_rules = r;
			m.nkeep = n;
		} else {
			m.fwd_rules = r;
			m.nfwd_rules = n;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	m.guest = argv[argc - 2];
	m.dest = argv[argc - 1];
	m.uri = uri;
	m.key_path = key ? key : DEFAULT_KEY;
	m.port_path = port ? port : DEFAULT_PORT;
	m.tty = isatty(STDERR_FILENO);

	if (libvirt)
		rc = mig_hv_libvirt_open(libvirt, argv[1], m.guest, uri, dest_xml,
					 m.max_bandwidth, m.precopy, &m.hv, err, sizeof(err));
	else
		rc = mig_hv_qmp_open(qmp_path, dest_qmp_path, uri, m.max_bandwidth,
				     m.precopy, m.keep_source, &m.hv, err, sizeof(err));
	if (rc < 0) {
		m.t0 = now_us();
		fail(&m, "%s", err);
	} else {
		rc = migrate(&m);
		if (rc < 0)
			rollback(&m);
	}
	report(&m, rc);
	mig_link_free(m.link);
	if (m.hv)
		m.hv->ops->free(m.hv);
	for (guint32 i = 0; i < m.nfds; i++)
		close(m.fds[i]);
	for (guint32 i = 0; i < m.nheld; i++) {
		if (m.held[i].fd >= 0)
			close(m.held[i].fd);   /* frozen (moved): silently */
		g_byte_array_unref(m.held[i].pend);
	}
	g_free(m.held);
	if (m.netns_fd >= 0)
		close(m.netns_fd);
	if (m.port >= 0)
		close(m.port);
	explicit_bzero(m.key, sizeof(m.key));
	g_free(m.fds);
	g_free(m.frozen);
	g_free(m.fwd);
	g_free(m.keep_rules);
	g_free(m.fwd_rules);
	g_free(m.table);
	g_free(m.fs_table);
	return rc < 0 ? 1 : 0;
}
