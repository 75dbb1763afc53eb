/* SPDX-License-Identifier: MIT */
/*
 * sockguest.c - a process guest of the socket service (see sockguest.h).
 */
#include "config.h"

#include <stdlib.h>

#include "outsource/sock/sockguest.h"

static void sg_conn_done(hrpc_conn *conn, int err, gpointer data)
{
	struct sguest *g = data;

	__atomic_store_n(&g->conn_done, err ? err : -EPIPE, __ATOMIC_RELEASE);
}

static void *sg_serve(void *arg)
{
	struct sguest *g = arg;
	GSource *src;

	g_main_context_push_thread_default(g->ctx);
	hrpc_glib_conn_attach(g->conn, g->ctx, sg_conn_done, g);
	src = outsource_sock_glib_attach(g->sock, g->ctx);
	while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE))
		g_main_context_iteration(g->ctx, TRUE);
	g_source_destroy(src);
	g_source_unref(src);
	g_main_context_pop_thread_default(g->ctx);
	return NULL;
}

static struct sg_track *sg_slot(struct sguest *g, uint64_t handle)
{
	struct sg_track *t = &g->track[hrpc_sock_handle_index(handle) % SG_MAX_TRACK];

	if (t->handle != handle) {
		memset(t, 0, sizeof(*t));
		t->handle = handle;
	}
	return t;
}

/* Apply a state only if it is newer than what we have. */
static void sg_apply(struct sguest *g, uint64_t handle, const struct hrpc_sock_state *st)
{
	struct sg_track *t = sg_slot(g, handle);

	if (!t->known || hrpc_sock_seq_after(st->seq, t->st.seq)) {
		t->st = *st;
		t->known = true;
	}
}

void sg_event(hrpc_client *c, const struct hrpc_msg_hdr *h, const void *payload,
	      void *opaque)
{
	struct sguest *g = opaque;
	const struct hrpc_sock_ev_state *e = payload;

	if (h->service != HRPC_SVC_SOCK || h->proc != HRPC_SOCK_EV_READY)
		return;
	g->events++;
	g->credit_due++;
	for (uint32_t i = 0; i < h->len / sizeof(*e); i++) {
		g->ev_states++;
		sg_apply(g, e[i].handle, &e[i].state);
	}
}

/* Start host and guest halves.  policy: text in policy.h format or NULL;
 * audit_fd: where the audit log goes (-1: nowhere). */
int sg_start_full(struct sguest *g, const char *policy, int audit_fd,
		  bool init, uint32_t credit)
{
	struct outsource_sock_config cfg = { .guest_id = 7, .guest_name = "test-guest",
					     .policy_text = policy, .audit_fd = audit_fd };
	hrpc_chan *sch, *cch;
	char err[256] = "";
	int sv[2], rc;

	memset(g, 0, sizeof(*g));
	rc = outsource_sock_new(&cfg, &g->sock, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "outsource_sock_new: %s (%s)\n", strerror(-rc), err);
		return rc;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	g->srv = hrpc_server_new("sock-test");
	hrpc_server_register_builtins(g->srv);
	rc = outsource_sock_register(g->sock, g->srv);
	if (rc == 0)
		rc = hrpc_memfd_server_new(sv[0], 0, &sch);
	if (rc == 0)
		rc = hrpc_memfd_client_new(sv[1], &cch);
	close(sv[0]);
	close(sv[1]);
	if (rc < 0)
		return rc;
	rc = hrpc_conn_new(g->srv, sch, 7, &g->conn);
	if (rc < 0)
		return rc;
	g->ctx = g_main_context_new();
	pthread_create(&g->thread, NULL, sg_serve, g);
	rc = hrpc_client_new(cch, "sock-test-guest", 5000, &g->cli);
	if (rc < 0)
		return rc;
	hrpc_client_set_event_handler(g->cli, sg_event, g);
	if (init) {
		struct hrpc_sock_init_req r = { .version = HRPC_SOCK_VERSION, .credit = credit };
		struct hrpc_sock_init_rep o;
		struct hrpc_call c = { .service = HRPC_SVC_SOCK, .proc = HRPC_SOCK_INIT,
				       .req = &r, .req_len = sizeof(r), .rep = &o,
				       .rep_cap = sizeof(o), .timeout_ms = 5000 };

		rc = hrpc_client_call(g->cli, &c);
	}
	return rc;
}

int sg_start(struct sguest *g, const char *policy, int audit_fd)
{
	return sg_start_full(g, policy, audit_fd, true, 1024);
}

void sg_stop(struct sguest *g)
{
	hrpc_client_free(g->cli);
	__atomic_store_n(&g->stop, true, __ATOMIC_RELEASE);
	g_main_context_wakeup(g->ctx);
	pthread_join(g->thread, NULL);
	hrpc_conn_free(g->conn);
	hrpc_server_free(g->srv);
	outsource_sock_free(g->sock);
	g_main_context_unref(g->ctx);
}

struct sg_host_job {
	struct sguest *g;
	void (*fn)(outsource_sock *s, void *data);
	void *data;
	/* pthread, not GMutex/GCond: GLib's are futexes inside libglib,
	 * which ThreadSanitizer does not see (make check-tsan). */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static gboolean sg_host_job_run(gpointer p)
{
	struct sg_host_job *j = p;

	pthread_mutex_lock(&j->mu);   /* the caller waits, having let go of it */
	j->fn(j->g->sock, j->data);
	j->done = true;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	return G_SOURCE_REMOVE;
}

void sg_host_call(struct sguest *g, void (*fn)(outsource_sock *s, void *data), void *data)
{
	struct sg_host_job j = { .g = g, .fn = fn, .data = data,
				 .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

	/* g->ctx is neither owned by nor the default of this thread: this
	 * queues the job for sg_serve()'s loop and wakes it.  (The lock makes
	 * the hand-over visible to ThreadSanitizer, which cannot see GLib's.) */
	pthread_mutex_lock(&j.mu);
	g_main_context_invoke(g->ctx, sg_host_job_run, &j);
	while (!j.done)
		pthread_cond_wait(&j.cv, &j.mu);
	pthread_mutex_unlock(&j.mu);
}

static void sg_totals_fn(outsource_sock *s, void *data)
{
	outsource_sock_totals(s, data);
}

void sg_totals(struct sguest *g, struct outsource_sock_totals *t)
{
	sg_host_call(g, sg_totals_fn, t);
}

struct sg_print_args {
	FILE *f;
	bool json;
};

static void sg_print_fn(outsource_sock *s, void *data)
{
	struct sg_print_args *a = data;

	outsource_sock_print(s, a->f, a->json);
}

void sg_print(struct sguest *g, FILE *f, bool json)
{
	struct sg_print_args a = { f, json };

	sg_host_call(g, sg_print_fn, &a);
}

/* Give back the credit the host spent on events, in batches, as a guest
 * kernel would (never from inside the event handler). */
void sg_credit_return(struct sguest *g)
{
	struct hrpc_sock_credit cr = { .credit = g->credit_due }, co;
	struct hrpc_call cc = { .service = HRPC_SVC_SOCK, .proc = HRPC_SOCK_CREDIT,
				.req = &cr, .req_len = sizeof(cr), .rep = &co,
				.rep_cap = sizeof(co), .timeout_ms = 10000 };

	if (g->credit_due < 64 || g->no_auto_credit)
		return;
	g->credit_due = 0;
	hrpc_client_call(g->cli, &cc);
}

/* A raw call: returns the status; *rep_len the reply length. */
int sg_call(struct sguest *g, uint16_t proc, const void *req, uint32_t req_len,
	    void *rep, uint32_t rep_cap, struct hrpc_bulk *bulk, uint32_t bulk_len,
	    struct hrpc_call *out)
{
	struct hrpc_call c = { .service = HRPC_SVC_SOCK, .proc = proc, .req = req,
			       .req_len = req_len, .rep = rep, .rep_cap = rep_cap,
			       .bulk = bulk, .bulk_len = bulk_len, .timeout_ms = 10000 };
	int rc;

	if (proc != HRPC_SOCK_CREDIT && proc != HRPC_SOCK_INIT)
		sg_credit_return(g);
	rc = hrpc_client_call(g->cli, &c);

	if (out)
		*out = c;
	return rc;
}

void sg_addr(struct hrpc_sock_addr *a, int family, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = (uint16_t)family;
	a->port = port;
	inet_pton(family, ip, a->addr);
}

int sg_socket(struct sguest *g, int family, int type, uint64_t *h)
{
	struct hrpc_sock_socket_req r = { .family = (uint16_t)family, .type = (uint16_t)type };
	struct hrpc_sock_handle_rep o;
	int rc = sg_call(g, HRPC_SOCK_SOCKET, &r, sizeof(r), &o, sizeof(o), NULL, 0, NULL);

	if (rc == 0) {
		*h = o.handle;
		sg_apply(g, o.handle, &o.state);
	}
	return rc;
}

int sg_simple(struct sguest *g, uint16_t proc, uint64_t h, uint32_t arg)
{
	struct hrpc_sock_handle_req r = { .handle = h, .arg = arg };
	struct hrpc_sock_state st;
	struct hrpc_call c;
	int rc = sg_call(g, proc, &r, sizeof(r), &st, sizeof(st), NULL, 0, &c);

	if (c.rep_len == sizeof(st) && proc != HRPC_SOCK_CLOSE)
		sg_apply(g, h, &st);
	return rc;
}

int sg_close(struct sguest *g, uint64_t h)
{
	return sg_simple(g, HRPC_SOCK_CLOSE, h, 0);
}

int sg_addrcall(struct sguest *g, uint16_t proc, uint64_t h,
		const struct hrpc_sock_addr *a)
{
	struct hrpc_sock_addr_req r = { .handle = h, .addr = *a };
	struct hrpc_sock_state st;
	struct hrpc_call c;
	int rc = sg_call(g, proc, &r, sizeof(r), &st, sizeof(st), NULL, 0, &c);

	if (c.rep_len == sizeof(st))
		sg_apply(g, h, &st);
	return rc;
}

int sg_getname(struct sguest *g, uint64_t h, bool peer, struct hrpc_sock_addr *a)
{
	struct hrpc_sock_handle_req r = { .handle = h, .arg = peer };
	struct hrpc_sock_name_rep o;
	int rc = sg_call(g, HRPC_SOCK_GETNAME, &r, sizeof(r), &o, sizeof(o), NULL, 0, NULL);

	if (rc == 0)
		*a = o.addr;
	return rc;
}

uint32_t sg_mask(struct sguest *g, uint64_t h)
{
	return sg_slot(g, h)->st.mask;
}

/* Wait (processing events) until the socket's known mask has one of `bits`.
 * Returns the mask, or 0 on timeout. */
uint32_t sg_wait(struct sguest *g, uint64_t h, uint32_t bits, int timeout_ms)
{
	uint64_t deadline = hrpc_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	for (;;) {
		uint32_t m = sg_mask(g, h);

		if (m & bits)
			return m;
		if (hrpc_now_ns() >= deadline)
			return 0;
		sg_credit_return(g);
		/* A channel whose host end is gone (its worker was killed)
		 * says so at once: no use waiting out the timeout. */
		if (hrpc_client_process(g->cli, 10) == -EPIPE)
			return 0;
	}
}

int sg_setopt_int(struct sguest *g, uint64_t h, int level, int name, int v)
{
	struct hrpc_sock_opt r = { .handle = h, .level = (uint32_t)level, .name = (uint32_t)name,
				   .len = sizeof(int) };
	struct hrpc_sock_opt o;

	memcpy(r.val, &v, sizeof(v));
	return sg_call(g, HRPC_SOCK_SETSOCKOPT, &r, sizeof(r), &o, sizeof(o), NULL, 0, NULL);
}

int sg_getopt_int(struct sguest *g, uint64_t h, int level, int name, int *v)
{
	struct hrpc_sock_opt r = { .handle = h, .level = (uint32_t)level, .name = (uint32_t)name,
				   .len = sizeof(int) };
	struct hrpc_sock_opt o;
	int rc = sg_call(g, HRPC_SOCK_GETSOCKOPT, &r, sizeof(r), &o, sizeof(o), NULL, 0, NULL);

	if (rc == 0) {
		if (o.len != sizeof(int))
			return -EPROTO;
		memcpy(v, o.val, sizeof(*v));
		sg_apply(g, h, &o.state);
	}
	return rc;
}

/* send: inline when bulk is NULL (len <= 64 KiB - 56), else from bulk->ptr.
 * Returns bytes sent or -errno. */
int sg_send(struct sguest *g, uint64_t h, const void *data, uint32_t len,
	    struct hrpc_bulk *bulk, uint32_t flags, const struct hrpc_sock_addr *to)
{
	static uint8_t buf[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_sock_send_req *r = (struct hrpc_sock_send_req *)buf;
	struct hrpc_sock_io_rep o;
	struct hrpc_call c;
	int rc;

	memset(r, 0, sizeof(*r));
	r->handle = h;
	r->flags = flags;
	r->len = len;
	if (to) {
		r->has_addr = 1;
		r->addr = *to;
	}
	if (bulk) {
		if (data && data != bulk->ptr)
			memcpy(bulk->ptr, data, len);
		rc = sg_call(g, HRPC_SOCK_SEND, r, sizeof(*r), &o, sizeof(o), bulk, len, &c);
	} else {
		if (len > sizeof(buf) - sizeof(*r))
			return -EMSGSIZE;
		memcpy(buf + sizeof(*r), data, len);
		rc = sg_call(g, HRPC_SOCK_SEND, r, (uint32_t)sizeof(*r) + len, &o, sizeof(o), NULL, 0, &c);
	}
	if (c.rep_len == sizeof(o))
		sg_apply(g, h, &o.state);
	return rc < 0 ? rc : (int)o.len;
}

/* recv into `out` (up to cap): through bulk if given, else inline.
 * Returns bytes or -errno; *io gets the reply. */
int sg_recv(struct sguest *g, uint64_t h, void *out, uint32_t cap,
	    struct hrpc_bulk *bulk, uint32_t flags, struct hrpc_sock_io_rep *io)
{
	static uint8_t rbuf[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_sock_recv_req r = { .handle = h, .flags = flags, .len = cap };
	struct hrpc_sock_io_rep *o = (struct hrpc_sock_io_rep *)rbuf;
	struct hrpc_call c;
	int rc;

	memset(o, 0, sizeof(*o));
	rc = sg_call(g, HRPC_SOCK_RECV, &r, sizeof(r), rbuf, sizeof(rbuf), bulk, 0, &c);
	if (c.rep_len >= sizeof(*o))
		sg_apply(g, h, &o->state);
	if (io)
		*io = *o;
	if (rc < 0)
		return rc;
	if (bulk) {
		if (c.rep_bulk_len != o->len || o->len > cap)
			return -EPROTO;
		if (out && out != bulk->ptr)
			memcpy(out, (uint8_t *)bulk->ptr + c.rep_bulk_pos, o->len);
	} else {
		if (c.rep_len != sizeof(*o) + o->len || o->len > cap)
			return -EPROTO;
		if (out)
			memcpy(out, rbuf + sizeof(*o), o->len);
	}
	return (int)o->len;
}

/* accept, waiting for the listener's IN first if needed. */
int sg_accept(struct sguest *g, uint64_t lh, uint64_t *h,
	      struct hrpc_sock_addr *peer, int timeout_ms)
{
	uint64_t deadline = hrpc_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	for (;;) {
		struct hrpc_sock_handle_req r = { .handle = lh };
		struct hrpc_sock_accept_rep o;
		struct hrpc_call c;
		int rc = sg_call(g, HRPC_SOCK_ACCEPT, &r, sizeof(r), &o, sizeof(o), NULL, 0, &c);

		if (c.rep_len == sizeof(o))
			sg_apply(g, lh, &o.lstate);
		if (rc == 0) {
			*h = o.handle;
			sg_apply(g, o.handle, &o.state);
			if (peer)
				*peer = o.peer;
			return 0;
		}
		if (rc != -EAGAIN)
			return rc;
		if (hrpc_now_ns() >= deadline)
			return -ETIMEDOUT;
		sg_wait(g, lh, HRPC_POLLIN | HRPC_POLLERR, 100);
	}
}

/* connect like a blocking connect(2): CONNECT, wait for OUT/ERR/HUP, CONNECT
 * again for the verdict. */
int sg_connect(struct sguest *g, uint64_t h, const struct hrpc_sock_addr *a,
	       int timeout_ms)
{
	int rc = sg_addrcall(g, HRPC_SOCK_CONNECT, h, a);

	if (rc != -EINPROGRESS)
		return rc;
	if (!sg_wait(g, h, HRPC_POLLOUT | HRPC_POLLERR | HRPC_POLLHUP, timeout_ms))
		return -ETIMEDOUT;
	/* The verdict; "already connected" is success (as the guest module
	 * takes it). */
	rc = sg_addrcall(g, HRPC_SOCK_CONNECT, h, a);
	return rc == -EISCONN ? 0 : rc;
}

/* Receive exactly len bytes (stream). */
int sg_recv_all(struct sguest *g, uint64_t h, uint8_t *out, uint32_t len,
		struct hrpc_bulk *bulk, int timeout_ms)
{
	uint32_t got = 0;

	while (got < len) {
		uint32_t want = len - got;
		int n;

		if (bulk && want > bulk->cap)
			want = bulk->cap;
		n = sg_recv(g, h, out + got, want, bulk, 0, NULL);
		if (n == -EAGAIN) {
			if (!sg_wait(g, h, HRPC_POLLIN | HRPC_POLLERR | HRPC_POLLHUP | HRPC_POLLRDHUP,
				     timeout_ms))
				return -ETIMEDOUT;
			continue;
		}
		if (n < 0)
			return n;
		if (n == 0)
			return -ECONNRESET;
		got += (uint32_t)n;
	}
	return 0;
}

/* Send all of len bytes (stream), bulk chunks of bulk->cap. */
int sg_send_all(struct sguest *g, uint64_t h, const uint8_t *data, uint32_t len,
		struct hrpc_bulk *bulk, int timeout_ms)
{
	uint32_t done = 0;

	while (done < len) {
		uint32_t n = len - done;
		int rc;

		if (bulk && n > bulk->cap)
			n = bulk->cap;
		if (!bulk && n > 32768)
			n = 32768;
		rc = sg_send(g, h, data + done, n, bulk, 0, NULL);
		if (rc == -EAGAIN) {
			if (!sg_wait(g, h, HRPC_POLLOUT | HRPC_POLLERR | HRPC_POLLHUP, timeout_ms))
				return -ETIMEDOUT;
			continue;
		}
		if (rc < 0)
			return rc;
		done += (uint32_t)rc;
	}
	return 0;
}

/* ---- version 2: data rings ------------------------------------------------- */

int sg_init(struct sguest *g, uint32_t version, uint32_t credit, struct hrpc_sock_init_rep *o)
{
	struct hrpc_sock_init_req r = { .version = version, .credit = credit };
	struct hrpc_sock_init_rep rep;

	return sg_call(g, HRPC_SOCK_INIT, &r, sizeof(r), o ? o : &rep, sizeof(rep), NULL, 0, NULL);
}

static int area_alloc(struct sguest *g, struct sg_area *a, uint32_t out_size, uint32_t in_size)
{
	memset(a, 0, sizeof(*a));
	a->busy_ns = sg_busy_poll_ns / 8;	/* a first guess */
	a->ref.out_size = out_size;
	a->ref.in_size = in_size;
	if (hrpc_client_bulk_alloc(g->cli, hrpc_sock_area_bytes(&a->ref), &a->bulk) < 0)
		return -ENOMEM;
	a->ref.off = a->bulk.off;
	return 0;
}

/* After the host's reply: it reset the rings; take our indexes from there. */
static void area_bind(struct sg_area *a)
{
	a->hdr = (struct hrpc_sock_area_hdr *)a->bulk.ptr;
	hrpc_sock_area_bind(&a->out, &a->in, a->bulk.ptr, &a->ref, 1);
}

void sg_area_free(struct sguest *g, struct sg_area *a)
{
	if (a->bulk.ptr)
		hrpc_client_bulk_free(g->cli, &a->bulk);
	memset(a, 0, sizeof(*a));
}

int sg_socket_area(struct sguest *g, int family, int type, uint32_t out_size, uint32_t in_size,
		   struct sg_area *a, uint64_t *h)
{
	struct {
		struct hrpc_sock_socket_req r;
		struct hrpc_sock_area ref;
	} req = { .r = { .family = (uint16_t)family, .type = (uint16_t)type,
			 .flags = HRPC_SOCK_F_AREA } };
	struct hrpc_sock_handle_rep o;
	int rc = area_alloc(g, a, out_size, in_size);

	if (rc < 0)
		return rc;
	req.ref = a->ref;
	rc = sg_call(g, HRPC_SOCK_SOCKET, &req, sizeof(req), &o, sizeof(o), NULL, 0, NULL);
	if (rc < 0) {
		sg_area_free(g, a);
		return rc;
	}
	*h = o.handle;
	sg_apply(g, o.handle, &o.state);
	area_bind(a);
	return 0;
}

int sg_accept_area(struct sguest *g, uint64_t lh, uint32_t out_size, uint32_t in_size,
		   struct sg_area *a, uint64_t *h, struct hrpc_sock_addr *peer, int timeout_ms)
{
	uint64_t deadline = hrpc_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int rc = area_alloc(g, a, out_size, in_size);

	if (rc < 0)
		return rc;
	for (;;) {
		struct {
			struct hrpc_sock_handle_req r;
			struct hrpc_sock_area ref;
		} req = { .r = { .handle = lh, .arg = HRPC_SOCK_F_AREA }, .ref = a->ref };
		struct hrpc_sock_accept_rep o;
		struct hrpc_call c;

		rc = sg_call(g, HRPC_SOCK_ACCEPT, &req, sizeof(req), &o, sizeof(o), NULL, 0, &c);
		if (c.rep_len == sizeof(o))
			sg_apply(g, lh, &o.lstate);
		if (rc == 0) {
			*h = o.handle;
			sg_apply(g, o.handle, &o.state);
			if (peer)
				*peer = o.peer;
			area_bind(a);
			return 0;
		}
		if (rc != -EAGAIN || hrpc_now_ns() >= deadline)
			break;
		sg_wait(g, lh, HRPC_POLLIN | HRPC_POLLERR, 100);
	}
	sg_area_free(g, a);
	return rc == -EAGAIN ? -ETIMEDOUT : rc;
}

struct sg_kick_call {
	struct hrpc_call c;
	uint64_t h;
};

static void kick_done(hrpc_client *c, struct hrpc_call *call, void *opaque)
{
	(void)c;
	(void)call;
	free(opaque);
}

int sg_kick(struct sguest *g, uint64_t h)
{
	/* Without waiting, as a guest kernel's one-way KICK (libhostrpc's
	 * client has no one-way calls: the host answers it with nothing, and
	 * the answer is reaped later). */
	struct sg_kick_call *k = calloc(1, sizeof(*k));
	int rc;

	if (!k)
		return -ENOMEM;
	hrpc_client_process(g->cli, 0);
	k->h = h;
	k->c = (struct hrpc_call){ .service = HRPC_SVC_SOCK, .proc = HRPC_SOCK_KICK,
				   .req = &k->h, .req_len = sizeof(k->h), .timeout_ms = 5000 };
	rc = hrpc_client_call_async(g->cli, &k->c, kick_done, k);
	if (rc < 0)
		free(k);
	return rc;
}

/* The host's pending error, if it published one. */
static int area_err(const struct sg_area *a)
{
	return hrpc_load_acquire(&a->hdr->host_err);
}

long sg_area_send(struct sguest *g, uint64_t h, struct sg_area *a, const void *data,
		  uint32_t len)
{
	uint32_t old = a->out.pvt;
	long n;

	if (area_err(a))
		return area_err(a);
	n = hrpc_sring_write(&a->out, data, len);
	if (n > 0 && hrpc_ring_need_notify(&a->out, old)) {
		a->kicks++;
		sg_kick(g, h);
	}
	return n;
}

/* Wait for a READY event (any), at most until `deadline`. */
static bool area_sleep(struct sguest *g, uint64_t deadline)
{
	uint64_t now = hrpc_now_ns();

	if (now >= deadline)
		return false;
	sg_credit_return(g);
	hrpc_client_process(g->cli, (int)((deadline - now) / 1000000ull) < 10 ?
				    (int)((deadline - now) / 1000000ull) + 1 : 10);
	return true;
}

long sg_area_send_all(struct sguest *g, uint64_t h, struct sg_area *a, const void *data,
		      uint32_t len, int timeout_ms)
{
	uint64_t deadline = hrpc_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	uint32_t done = 0;

	while (done < len) {
		long n = sg_area_send(g, h, a, (const uint8_t *)data + done, len - done);

		if (n < 0)
			return done ? (long)done : n;
		done += (uint32_t)n;
		if (n == 0) {
			int r = hrpc_ring_arm_space(&a->out, 1);

			if (r < 0)
				return -EPROTO;
			if (r && !area_sleep(g, deadline))
				return done ? (long)done : -EAGAIN;
		}
	}
	return (long)done;
}

uint32_t sg_busy_poll_ns = 50000;

/*
 * Before waiting for `need` bytes (or records) in the in ring: spin within
 * the area's budget.  True if they came.  *t0: when this wait's first spin
 * began, for busy_learn().  The rules of hostrpc_sock.ko's in_busy_wait().
 */
static bool busy_wait(struct sg_area *a, uint64_t *t0)
{
	uint32_t max = sg_busy_poll_ns, budget = a->busy_ns < max ? a->busy_ns : max;
	uint64_t now, end;
	unsigned int n = 0;

	if (!max)
		return false;
	if (!budget) {
		if (++a->busy_probe % 32)
			return false;
		budget = max / 8;
	}
	now = hrpc_now_ns();
	if (!*t0)
		*t0 = now;
	end = now + budget;
	for (;;) {
		if (hrpc_sring_avail(&a->in) != 0 ||
		    (hrpc_load_acquire(&a->hdr->host_flags) & HRPC_SOCK_AREA_H_EOF))
			return true;
		if (++n % 64 == 0 && hrpc_now_ns() >= end)
			return false;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
}

/* Woken after the spin gave up: learn from how long the wait was. */
static void busy_learn(struct sg_area *a, uint64_t t0)
{
	uint32_t max = sg_busy_poll_ns;
	uint64_t waited;

	if (!t0 || !max)
		return;
	waited = hrpc_now_ns() - t0;
	if (waited <= max)
		a->busy_ns = (uint32_t)(waited + waited / 4 < max ? waited + waited / 4 : max);
	else
		a->busy_ns = a->busy_ns / 2 < max / 16 ? 0 : a->busy_ns / 2;
}

long sg_area_recv(struct sguest *g, uint64_t h, struct sg_area *a, void *buf, uint32_t len,
		  bool peek, int timeout_ms)
{
	uint64_t t0 = 0;
	uint64_t deadline = hrpc_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	for (;;) {
		uint32_t old = a->in.pvt;
		long n = peek ? hrpc_sring_peek(&a->in, 0, buf, len) : hrpc_sring_read(&a->in, buf, len);
		int r;

		if (n < 0)
			return n;
		if (n > 0) {
			if (!peek && hrpc_ring_consumed_notify(&a->in, old)) {
				a->kicks++;
				sg_kick(g, h);
			}
			return n;
		}
		if (hrpc_load_acquire(&a->hdr->host_flags) & HRPC_SOCK_AREA_H_EOF) {
			/* EOF comes after the bytes: look once more */
			if (hrpc_sring_avail(&a->in) == 0)
				return area_err(a) ? area_err(a) : 0;
			continue;
		}
		if (area_err(a))
			return area_err(a);
		if (busy_wait(a, &t0))
			continue;
		r = hrpc_ring_arm(&a->in);
		if (r < 0)
			return -EPROTO;
		if (r && !area_sleep(g, deadline))
			return -EAGAIN;
		if (r) {
			busy_learn(a, t0);
			t0 = 0;
		}
	}
}

int sg_area_sendto(struct sguest *g, uint64_t h, struct sg_area *a, const void *data,
		   uint32_t len, const struct hrpc_sock_addr *to)
{
	struct hrpc_sock_dgram d = { .len = len, .full_len = len };
	uint32_t old = a->out.pvt;
	int rc;

	if (to)
		d.addr = *to;
	rc = hrpc_dring_put(&a->out, &d, data);
	if (rc == 0 && hrpc_ring_need_notify(&a->out, old)) {
		a->kicks++;
		sg_kick(g, h);
	}
	return rc;
}

long sg_area_recvfrom(struct sguest *g, uint64_t h, struct sg_area *a, void *buf, uint32_t cap,
		      struct hrpc_sock_dgram *d, int timeout_ms)
{
	uint64_t t0 = 0;
	uint64_t deadline = hrpc_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	for (;;) {
		uint32_t old = a->in.pvt;
		long n = hrpc_dring_get(&a->in, d, buf, cap, 0);
		int r;

		if (n >= 0) {
			if (hrpc_ring_consumed_notify(&a->in, old)) {
				a->kicks++;
				sg_kick(g, h);
			}
			return n;
		}
		if (n != -EAGAIN)
			return n;
		if (busy_wait(a, &t0))
			continue;
		r = hrpc_ring_arm(&a->in);
		if (r < 0)
			return -EPROTO;
		if (r && !area_sleep(g, deadline))
			return -EAGAIN;
		if (r) {
			busy_learn(a, t0);
			t0 = 0;
		}
	}
}
