/* SPDX-License-Identifier: MIT */
/*
 * hv-libvirt.c - the hypervisor's half of a migration for a libvirt domain
 * (migrate/hv.h).
 *
 * libvirt runs the migration (virDomainMigrate3 from here, with both
 * connections: libvirt's own prepare, perform, finish and confirm) and uses
 * QEMU's pause-before-switchover itself: it continues at once, nobody else
 * can hold the switch there.  So QEMU's stream passes through this process
 * (the source QEMU connects to 127.0.0.1:PORT, a relay forwards it to the
 * destination QEMU at HOST:PORT) and the relay holds back the stream's last
 * byte until switch_over:
 *
 *  - the destination cannot finish, and libvirt's finish waits for it: the
 *    source QEMU is still there, paused, and libvirt has not ended it;
 *  - the guest's vCPUs stop when QEMU has converged (libvirt reports the
 *    domain paused for migration): that is the switch, wait_paused returns;
 *  - a rollback cuts the stream: the destination's incoming migration
 *    fails, libvirt kills the destination and runs the guest at the
 *    source again, as for any failed migration.
 * The destination stays paused after libvirt's finish (VIR_MIGRATE_PAUSED):
 * resume runs it once hostrpcd's worker there has adopted the channel.
 * libvirt ends the source QEMU in its confirm step, right after the switch.
 * That takes QEMU's exit (1-2 s under TCG), so switch_over does not wait
 * for the call: it returns once the destination libvirtd has finished
 * (the domain there paused by "user", no longer by the migration), and
 * resume runs the domain there while the source's confirm goes on;
 * end_source waits for it.
 *
 * Threads: the libvirt call blocks for the whole migration, so it runs in a
 * thread of its own; the relay in another.  Both belong to the HvLibvirt
 * that started them, which joins them in free(); what they share is under
 * `lock`.  The call has the two connections (sconn, dconn) to itself while
 * it runs: the steps ask the two libvirtds on their own (qconn, qdconn).  With
 * one connection shared, libvirt 9.0's client now and then never hands a
 * second thread its reply while the first waits in virDomainMigrate3 (seen:
 * virDomainGetInfo blocked until the migration ended, the guest paused).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "migrate/hv.h"

#define RELAY_BUF   (256 * 1024)
#define POLL_MS     5
#define STATS_US    (100 * 1000)

typedef struct {
	mig_hv base;
	virConnectPtr sconn, dconn;   /* the libvirt call's */
	virDomainPtr dom, ddom;       /* dom on sconn; ddom, its result, on dconn */
	virConnectPtr qconn, qdconn;  /* the steps' (this thread's) */
	virDomainPtr qdom, qddom;     /* the domain on each (qddom once it is there) */
	uint64_t ram_total;           /* the domain's maximum memory, bytes */
	gboolean dest_done;           /* the destination libvirtd finished (switched) */
	char *name, *host, *port, *dest_xml;
	int max_bandwidth;
	unsigned int flags;           /* virDomainMigrate3's */

	GThread *call, *relay;
	int lfd;                  /* the relay's listening socket, 127.0.0.1:port */
	int wake[2];              /* a pipe: the relay reads its orders again */

	GMutex lock;              /* all below */
	GCond cond;
	gboolean accepted;        /* the source QEMU connected */
	gboolean release, cut;    /* orders to the relay */
	int sfd, dfd;             /* the relay's two connections (cut shuts them) */
	gboolean relay_done;
	char relay_err[128];
	guint64 relayed;          /* bytes source -> destination */
	gboolean call_done;
	virDomainPtr call_result;
	char call_err[256];
} HvLibvirt;

static void lv_error_quiet(void *data, virErrorPtr e)
{
	(void)data, (void)e;   /* reported where the call fails */
}

static const char *lv_why(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown error";
}

/* ---- the relay ------------------------------------------------------------------------ */

static int send_all(int fd, const guint8 *b, size_t len)
{
	while (len) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static int dial(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	int fd = -1;

	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static void relay_fail(HvLibvirt *h, const char *what)
{
	g_mutex_lock(&h->lock);
	if (!h->relay_err[0] && !h->cut)
		g_snprintf(h->relay_err, sizeof(h->relay_err), "%s: %s", what, g_strerror(errno));
	g_mutex_unlock(&h->lock);
}

static gpointer relay_main(gpointer data)
{
	HvLibvirt *h = data;
	g_autofree guint8 *buf = g_malloc(RELAY_BUF);
	gboolean s_eof = FALSE, d_eof = FALSE, released = FALSE;
	int held = -1;            /* the stream's last byte so far, held back */
	int s = -1, d = -1;
	char c;

	/* The source QEMU's connection (libvirt's perform step). */
	for (;;) {
		struct pollfd p[2] = { { .fd = h->lfd, .events = POLLIN },
				       { .fd = h->wake[0], .events = POLLIN } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			goto out;
		if (p[1].revents) {
			g_mutex_lock(&h->lock);
			gboolean cut = h->cut;
			g_mutex_unlock(&h->lock);
			while (read(h->wake[0], &c, 1) == 1)
				;
			if (cut)
				goto out;
		}
		if (p[0].revents & POLLIN) {
			s = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC);
			if (s >= 0)
				break;
		}
	}
	d = dial(h->host, h->port);
	if (d < 0) {
		relay_fail(h, "cannot reach the destination QEMU");
		goto out;
	}
	g_mutex_lock(&h->lock);
	h->sfd = s;
	h->dfd = d;
	h->accepted = TRUE;
	if (h->cut) {
		shutdown(s, SHUT_RDWR);
		shutdown(d, SHUT_RDWR);
	}
	g_cond_broadcast(&h->cond);
	g_mutex_unlock(&h->lock);

	while (!(s_eof && d_eof)) {
		struct pollfd p[3] = { { .fd = s_eof ? -1 : s, .events = POLLIN },
				       { .fd = d_eof ? -1 : d, .events = POLLIN },
				       { .fd = h->wake[0], .events = POLLIN } };
		ssize_t n;

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			relay_fail(h, "poll");
			break;
		}
		if (p[2].revents) {
			gboolean cut;

			while (read(h->wake[0], &c, 1) == 1)
				;
			g_mutex_lock(&h->lock);
			cut = h->cut;
			released = h->release;
			g_mutex_unlock(&h->lock);
			if (cut)
				break;
			if (released && held >= 0) {
				guint8 b = (guint8)held;

				held = -1;
				if (send_all(d, &b, 1) < 0) {
					relay_fail(h, "to the destination QEMU");
					break;
				}
				if (s_eof)
					shutdown(d, SHUT_WR);
			}
		}
		if (p[0].revents) {
			n = recv(s, buf, RELAY_BUF, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				relay_fail(h, "from the source QEMU");
				break;
			}
			if (n == 0) {
				s_eof = TRUE;
				if (released || held < 0)
					shutdown(d, SHUT_WR);
			} else {
				guint64 got = (guint64)n;
				int out = 0;

				if (!released) {
					/* Hold the last byte: whatever follows is not
					 * the end of the stream. */
					if (held >= 0 && send_all(d, &(guint8){ (guint8)held }, 1) < 0)
						out = -1;
					held = buf[n - 1];
					n--;
				}
				if (out == 0 && n && send_all(d, buf, (size_t)n) < 0)
					out = -1;
				if (out < 0) {
					relay_fail(h, "to the destination QEMU");
					break;
				}
				g_mutex_lock(&h->lock);
				h->relayed += got;
				g_mutex_unlock(&h->lock);
			}
		}
		if (p[1].revents) {
			/* QEMU's return path, if it has one: not held. */
			n = recv(d, buf, RELAY_BUF, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				d_eof = TRUE;
				shutdown(s, SHUT_WR);
			} else if (send_all(s, buf, (size_t)n) < 0) {
				relay_fail(h, "to the source QEMU");
				break;
			}
		}
	}
out:
	g_mutex_lock(&h->lock);
	h->sfd = h->dfd = -1;
	h->relay_done = TRUE;
	g_cond_broadcast(&h->cond);
	g_mutex_unlock(&h->lock);
	if (s >= 0)
		close(s);
	if (d >= 0)
		close(d);
	return NULL;
}

static void relay_order(HvLibvirt *h, gboolean cut)
{
	g_mutex_lock(&h->lock);
	if (cut) {
		h->cut = TRUE;
		/* Also wakes a relay blocked sending. */
		if (h->sfd >= 0)
			shutdown(h->sfd, SHUT_RDWR);
		if (h->dfd >= 0)
			shutdown(h->dfd, SHUT_RDWR);
	} else {
		h->release = TRUE;
	}
	g_mutex_unlock(&h->lock);
	if (write(h->wake[1], "x", 1) < 0 && errno != EAGAIN)
		g_warning("relay: %s", g_strerror(errno));
}

/* ---- the libvirt call --------------------------------------------------------------- */

static gpointer call_main(gpointer data)
{
	HvLibvirt *h = data;
	virTypedParameterPtr params = NULL;
	int n = 0, max = 0;
	g_autofree char *uri = g_strdup_printf("tcp:127.0.0.1:%s", h->port);
	virDomainPtr dd = NULL;

	if (virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_URI, uri) == 0 &&
	    virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_LISTEN_ADDRESS,
				    h->host) == 0 &&
	    (!h->dest_xml || virTypedParamsAddString(&params, &n, &max,
						     VIR_MIGRATE_PARAM_DEST_XML,
						     h->dest_xml) == 0) &&
	    (!h->max_bandwidth || virTypedParamsAddULLong(&params, &n, &max,
							  VIR_MIGRATE_PARAM_BANDWIDTH,
							  (unsigned long long)h->max_bandwidth) == 0))
		dd = virDomainMigrate3(h->dom, h->dconn, params, (unsigned int)n, h->flags);
	g_mutex_lock(&h->lock);
	h->call_done = TRUE;
	h->call_result = dd;
	if (!dd)
		g_strlcpy(h->call_err, lv_why(), sizeof(h->call_err));
	g_cond_broadcast(&h->cond);
	g_mutex_unlock(&h->lock);
	virTypedParamsFree(params, n);
	return NULL;
}

/* Wait (the lock held) until cond_fn says so or the deadline passes. */
static gboolean wait_until(HvLibvirt *h, gboolean (*cond_fn)(HvLibvirt *), gint64 deadline)
{
	while (!cond_fn(h))
		if (!g_cond_wait_until(&h->cond, &h->lock, deadline))
			return cond_fn(h);
	return TRUE;
}

static gboolean is_accepted_or_done(HvLibvirt *h)
{
	return h->accepted || h->call_done || h->relay_done;
}

/* ---- the steps ------------------------------------------------------------------------ */

static int hvl_incoming(mig_hv *hv, int timeout_ms, char *err, size_t errlen)
{
	HvLibvirt *h = (HvLibvirt *)hv;
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai = NULL;
	int one = 1, rc = 0;

	/* libvirt's prepare step starts the destination QEMU; its perform
	 * step has the source connect: then both exist. */
	if (getaddrinfo("127.0.0.1", h->port, &hints, &ai) != 0 || !ai) {
		snprintf(err, errlen, "bad port %s", h->port);
		return -1;
	}
	h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->lfd < 0 || setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(h->lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(h->lfd, 1) < 0) {
		snprintf(err, errlen, "relay on 127.0.0.1:%s: %s", h->port, g_strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	h->relay = g_thread_new("relay", relay_main, h);
	h->call = g_thread_new("libvirt-migrate", call_main, h);
	g_mutex_lock(&h->lock);
	if (!wait_until(h, is_accepted_or_done, g_get_monotonic_time() +
			(gint64)timeout_ms * 1000)) {
		snprintf(err, errlen, "libvirt did not start the migration within %d s",
			 timeout_ms / 1000);
		rc = -1;
	} else if (!h->accepted) {
		snprintf(err, errlen, "libvirt: %s", h->call_done ? h->call_err : h->relay_err);
		rc = -1;
	}
	g_mutex_unlock(&h->lock);
	return rc;
}

static int hvl_precopy(mig_hv *hv, char *err, size_t errlen)
{
	(void)hv, (void)err, (void)errlen;   /* running since incoming */
	return 0;
}

static void stats(HvLibvirt *h, mig_hv_progress_fn fn, void *data, uint64_t *ram_total)
{
	virTypedParameterPtr params = NULL;
	int n = 0, type = 0;
	unsigned long long v;
	struct mig_hv_progress p = { .status = "active" };

	if (virDomainGetJobStats(h->qdom, &type, &params, &n, 0) < 0)
		return;
	if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_MEMORY_TOTAL, &v) == 1)
		p.ram_total = v;
	if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_MEMORY_PROCESSED, &v) == 1)
		p.ram_transferred = v;
	if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_MEMORY_REMAINING, &v) == 1)
		p.ram_remaining = v;
	if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE, &v) == 1)
		p.dirty_pages_rate = v;
	if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DOWNTIME, &v) == 1)
		p.expected_downtime_ms = v;
	virTypedParamsFree(params, n);
	if (p.ram_total)
		*ram_total = p.ram_total;
	if (fn)
		fn(&p, data);
}

static int hvl_wait_paused(mig_hv *hv, int timeout_ms, mig_hv_progress_fn fn, void *data,
			   uint64_t *ram_total, char *err, size_t errlen)
{
	HvLibvirt *h = (HvLibvirt *)hv;
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000, next_stats = 0;

	for (;;) {
		int state = 0, reason = 0;
		gboolean done;

		g_mutex_lock(&h->lock);
		done = h->call_done || h->relay_done;
		if (done)
			snprintf(err, errlen, "libvirt: %s", h->call_done && !h->call_result ?
				 h->call_err : h->relay_err[0] ? h->relay_err :
				 "the migration ended before the switch");
		g_mutex_unlock(&h->lock);
		if (done)
			return -1;
		if (virDomainGetState(h->qdom, &state, &reason, 0) < 0) {
			snprintf(err, errlen, "libvirt: source domain: %s", lv_why());
			return -1;
		}
		if (state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_MIGRATION) {
			*ram_total = h->ram_total;
			return 0;
		}
		/* Job statistics take libvirt's query job and QEMU's monitor:
		 * only for someone watching. */
		if (fn && g_get_monotonic_time() >= next_stats) {
			stats(h, fn, data, ram_total);
			next_stats = g_get_monotonic_time() + STATS_US;
		}
		if (g_get_monotonic_time() > deadline) {
			snprintf(err, errlen, "pre-copy took longer than %d s", timeout_ms / 1000);
			return -1;
		}
		g_usleep(POLL_MS * 1000);
	}
}

/* The destination libvirtd has finished its part: the domain there is
 * paused by "user" (VIR_MIGRATE_PAUSED), no longer by the migration. */
static gboolean dest_finished(HvLibvirt *h)
{
	int state = 0, reason = 0;

	if (!h->qddom) {
		h->qddom = virDomainLookupByName(h->qdconn, h->name);
		if (!h->qddom)
			return FALSE;
	}
	return virDomainGetState(h->qddom, &state, &reason, 0) == 0 &&
	       state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_USER;
}

static int hvl_switch_over(mig_hv *hv, int timeout_ms, uint64_t *ram_sent, char *err,
			   size_t errlen)
{
	HvLibvirt *h = (HvLibvirt *)hv;
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	int rc = 1;

	relay_order(h, FALSE);
	while (rc > 0) {
		g_mutex_lock(&h->lock);
		if (h->call_done) {
			if (h->call_result) {
				h->ddom = h->call_result;
				h->call_result = NULL;
				rc = 0;
			} else {
				snprintf(err, errlen, "libvirt: %s", h->call_err);
				rc = -1;
			}
		}
		*ram_sent = h->relayed;
		g_mutex_unlock(&h->lock);
		if (rc <= 0)
			break;
		if (dest_finished(h)) {
			h->dest_done = TRUE;
			return 0;   /* the call goes on: the source's confirm */
		}
		if (g_get_monotonic_time() > deadline) {
			snprintf(err, errlen, "libvirt did not finish the migration within %d s",
				 timeout_ms / 1000);
			return -1;
		}
		g_usleep(POLL_MS * 1000);
	}
	return rc;
}

static int hvl_resume(mig_hv *hv, char *err, size_t errlen)
{
	HvLibvirt *h = (HvLibvirt *)hv;

	if (virDomainResume(h->qddom ? h->qddom : h->ddom) < 0) {
		snprintf(err, errlen, "libvirt: cannot resume %s at the destination: %s", h->name,
			 lv_why());
		return -1;
	}
	return 0;
}

static void hvl_end_source(mig_hv *hv)
{
	HvLibvirt *h = (HvLibvirt *)hv;

	/* libvirt's confirm step ends it: wait for the call. */
	if (h->call) {
		g_thread_join(h->call);
		h->call = NULL;
	}
	if (h->call_result) {
		h->ddom = h->call_result;
		h->call_result = NULL;
	} else if (!h->ddom) {
		g_printerr("hostrpc-migrate: warning: libvirt, after the switch: %s\n",
			   h->call_err);
	}
}

/* The libvirt call ends (cutting the stream if it must), then returns. */
static void call_end(HvLibvirt *h)
{
	gboolean done;

	g_mutex_lock(&h->lock);
	done = h->call_done;
	g_mutex_unlock(&h->lock);
	if (h->call && !done && !h->dest_done) {
		/* Before libvirt's finish: the stream cut, the destination's
		 * incoming migration fails, libvirt resumes the source. */
		relay_order(h, TRUE);
		virDomainAbortJob(h->qdom);
	}
	if (h->call) {
		g_thread_join(h->call);
		h->call = NULL;
	}
	if (h->relay) {
		relay_order(h, TRUE);
		g_thread_join(h->relay);
		h->relay = NULL;
	}
}

static int hvl_rollback(mig_hv *hv)
{
	HvLibvirt *h = (HvLibvirt *)hv;
	int state = 0, reason = 0;

	call_end(h);
	if (h->call_result || h->ddom || h->dest_done) {
		/* libvirt finished: the source QEMU is gone, the guest waits,
		 * paused, at the destination (hostrpc-migrate says so). */
		return -1;
	}
	/* libvirt runs a source it paused for the migration again; make sure. */
	if (virDomainGetState(h->qdom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED &&
	    reason == VIR_DOMAIN_PAUSED_MIGRATION)
		virDomainResume(h->qdom);
	return 0;
}

static void hvl_free(mig_hv *hv)
{
	HvLibvirt *h = (HvLibvirt *)hv;

	if (!h)
		return;
	call_end(h);
	if (h->call_result)
		virDomainFree(h->call_result);
	if (h->ddom)
		virDomainFree(h->ddom);
	if (h->dom)
		virDomainFree(h->dom);
	if (h->qdom)
		virDomainFree(h->qdom);
	if (h->qddom)
		virDomainFree(h->qddom);
	if (h->qdconn)
		virConnectClose(h->qdconn);
	if (h->qconn)
		virConnectClose(h->qconn);
	if (h->dconn)
		virConnectClose(h->dconn);
	if (h->sconn)
		virConnectClose(h->sconn);
	if (h->lfd >= 0)
		close(h->lfd);
	close(h->wake[0]);
	close(h->wake[1]);
	g_mutex_clear(&h->lock);
	g_cond_clear(&h->cond);
	g_free(h->name);
	g_free(h->host);
	g_free(h->port);
	g_free(h->dest_xml);
	g_free(h);
}

static const struct mig_hv_ops hvl_ops = {
	.name = "libvirt",
	.incoming = hvl_incoming,
	.precopy = hvl_precopy,
	.wait_paused = hvl_wait_paused,
	.switch_over = hvl_switch_over,
	.resume = hvl_resume,
	.end_source = hvl_end_source,
	.rollback = hvl_rollback,
	.free = hvl_free,
};

/* tcp:HOST:PORT, HOST numeric ([v6] in brackets). */
static int parse_uri(const char *uri, char **host, char **port)
{
	const char *h, *colon;

	if (strncmp(uri, "tcp:", 4))
		return -1;
	h = uri + 4;
	colon = strrchr(h, ':');
	if (!colon || colon == h || !colon[1] || strspn(colon + 1, "0123456789") !=
	    strlen(colon + 1))
		return -1;
	if (h[0] == '[') {
		if (colon[-1] != ']')
			return -1;
		*host = g_strndup(h + 1, (gsize)(colon - h - 2));
	} else {
		*host = g_strndup(h, (gsize)(colon - h));
	}
	*port = g_strdup(colon + 1);
	return 0;
}

/* The domain runs TCG (<domain type='qemu'>) rather than KVM? */
static int domain_kvm(virDomainPtr dom)
{
	g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
	const char *t = xml ? strstr(xml, "<domain type=") : NULL;

	return !t || !strncmp(t + 14, "kvm", 3);
}

/* As hv-qmp.c: single-pass pre-copy (a downtime limit of 0) where the
 * source QEMU's iterative pre-copy loses guest writes, and libvirt
 * migrating live otherwise.  Where libvirt refuses the limit, the guest
 * stays paused for the whole copy (a migration that is not live). */
static void choose_precopy(HvLibvirt *h, enum mig_precopy precopy)
{
	unsigned long version = 0;

	h->flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PAUSED;
	if (virConnectGetVersion(h->qconn, &version) < 0)
		version = 0;
	if (!mig_hv_choose_precopy(&h->base, precopy, domain_kvm(h->qdom),
				   (int)(version / 1000000), (int)(version / 1000 % 1000)))
		return;
	if (virDomainMigrateSetMaxDowntime(h->qdom, 0, 0) < 0) {
		size_t n = strlen(h->base.single_pass_why);

		snprintf(h->base.single_pass_why + n, sizeof(h->base.single_pass_why) - n,
			 "%slibvirt refused a downtime limit of 0 (%s): not live",
			 n ? "; " : "", lv_why());
		h->flags &= ~(unsigned int)VIR_MIGRATE_LIVE;
	}
}

int mig_hv_libvirt_open(const char *src_uri, const char *dst_uri, const char *domain,
			const char *uri, const char *dest_xml, int max_bandwidth,
			enum mig_precopy precopy, mig_hv **out, char *err, size_t errlen)
{
	HvLibvirt *h = g_new0(HvLibvirt, 1);
	int state = 0, reason = 0;

	h->base.ops = &hvl_ops;
	h->lfd = h->sfd = h->dfd = -1;
	h->wake[0] = h->wake[1] = -1;
	g_mutex_init(&h->lock);
	g_cond_init(&h->cond);
	h->name = g_strdup(domain);
	h->dest_xml = g_strdup(dest_xml);
	h->max_bandwidth = max_bandwidth;
	virSetErrorFunc(NULL, lv_error_quiet);
	if (!g_unix_open_pipe(h->wake, FD_CLOEXEC, NULL) ||
	    !g_unix_set_fd_nonblocking(h->wake[0], TRUE, NULL) ||
	    !g_unix_set_fd_nonblocking(h->wake[1], TRUE, NULL)) {
		snprintf(err, errlen, "pipe: %s", g_strerror(errno));
		goto fail;
	}
	if (parse_uri(uri, &h->host, &h->port) < 0) {
		snprintf(err, errlen, "--uri %s: want tcp:HOST:PORT with a numeric HOST", uri);
		goto fail;
	}
	h->sconn = virConnectOpen(src_uri);
	if (!h->sconn) {
		snprintf(err, errlen, "libvirt %s: %s", src_uri, lv_why());
		goto fail;
	}
	h->dconn = virConnectOpen(dst_uri);
	if (!h->dconn) {
		snprintf(err, errlen, "libvirt %s: %s", dst_uri, lv_why());
		goto fail;
	}
	h->dom = virDomainLookupByName(h->sconn, domain);
	if (!h->dom) {
		snprintf(err, errlen, "libvirt %s: %s", src_uri, lv_why());
		goto fail;
	}
	h->qconn = virConnectOpen(src_uri);
	h->qdom = h->qconn ? virDomainLookupByName(h->qconn, domain) : NULL;
	if (!h->qdom) {
		snprintf(err, errlen, "libvirt %s: %s", src_uri, lv_why());
		goto fail;
	}
	h->qdconn = virConnectOpen(dst_uri);
	if (!h->qdconn) {
		snprintf(err, errlen, "libvirt %s: %s", dst_uri, lv_why());
		goto fail;
	}
	if (virDomainGetState(h->qdom, &state, &reason, 0) < 0 || state != VIR_DOMAIN_RUNNING) {
		snprintf(err, errlen, "domain %s is not running at the source", domain);
		goto fail;
	}
	h->ram_total = (uint64_t)virDomainGetMaxMemory(h->qdom) << 10;
	choose_precopy(h, precopy);
	*out = &h->base;
	return 0;
fail:
	hvl_free(&h->base);
	return -1;
}
