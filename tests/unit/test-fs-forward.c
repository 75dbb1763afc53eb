/* SPDX-License-Identifier: MIT */
/*
 * test-fs-forward - an export whose server stayed at a migration's remnant
 * (outsource/fs, issue 14), in-process: two fs services, each behind its
 * own hrpc server and memfd channel, the forward link between them played
 * by a queue this test drains (as migrate/forward.c would: the remnant
 * answers each call at once, the destination gets the reply later).
 *
 *   client (the guest) --memfd--> D: export "data" forwarded
 *                                  | calls (queued) ^ replies
 *                                  v                |
 *                                 S: the remnant, keeping "data"'s server
 *
 * Checks: the guest's handles from before the move work at D (GETATTR,
 * READ with reply bulk, WRITE with request bulk reaching the host's file);
 * the guest's reply waits for the remnant's (nothing answered before);
 * FORGET goes one-way; a host-side edit at the remnant comes back as an
 * INVAL event, an event about a node of no forwarded server is refused;
 * MOUNT of the forwarded export at D is ENOENT; `hostrpcctl files` lists
 * it as FORWARDED; once the link is lost, the next call is EIO at once.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "hostrpc/fsstate.h"
#include "hostrpc/guestfs.h"
#include "outsource/fs/outsource-fs.h"
#include "tests/tap.h"
#include "tests/unit/testutil.h"

/* The link: calls D sent, not yet answered. */
typedef struct {
	guint64 id;
	guint16 proc;
	gboolean oneway;
	guint8 *payload;
	guint32 len;
	guint8 *bulk;
	guint32 bulk_len, bulk_cap;
} Queued;

static GQueue link_q = G_QUEUE_INIT;
static int oneways;

static int fwd_fn(void *data, guint tag, const OutsourceFsCall *c)
{
	Queued *q = g_new0(Queued, 1);

	(void)data, (void)tag;
	q->id = c->id;
	q->proc = c->proc;
	q->oneway = c->oneway;
	q->payload = g_memdup2(c->payload, c->len);
	q->len = c->len;
	q->bulk_cap = c->bulk_cap;
	q->bulk = g_malloc0(c->bulk_cap + 1);
	if (c->bulk_len)
		memcpy(q->bulk, c->bulk, c->bulk_len);
	q->bulk_len = c->bulk_len;
	oneways += c->oneway;
	g_queue_push_tail(&link_q, q);
	return 0;
}

static struct hrpc_gfs_inval_event s_events[16];
static int s_nevents;

static void s_event(void *data, guint16 proc, const void *payload, guint32 len)
{
	(void)data;
	if (proc == HRPC_GFS_EVT_INVAL && len == sizeof(s_events[0]) && s_nevents < 16)
		memcpy(&s_events[s_nevents++], payload, len);
}

static int c_events;
static guint64 c_event_node;

static void on_event(hrpc_client *c, const struct hrpc_msg_hdr *h, const void *p, void *o)
{
	(void)c, (void)o;
	if (h->service == HRPC_SVC_FS && h->proc == HRPC_GFS_EVT_INVAL &&
	    h->len == sizeof(struct hrpc_gfs_inval_event)) {
		c_events++;
		memcpy(&c_event_node, p, sizeof(c_event_node));
	}
}

static OutsourceFsService *S, *D;

/* The remnant answers everything queued (S), D gets the replies. */
static int drain_link(void)
{
	Queued *q;
	int n = 0;

	while ((q = g_queue_pop_head(&link_q))) {
		OutsourceFsCall c = { .id = q->id, .proc = q->proc, .oneway = q->oneway,
			.payload = q->payload, .len = q->len, .bulk = q->bulk_cap ? q->bulk : NULL,
			.bulk_len = q->bulk_len, .bulk_cap = q->bulk_cap };
		struct hrpc_reply rep;
		int st = outsource_fs_service_call(S, &c, &rep);

		if (!q->oneway)
			outsource_fs_service_fwd_reply(D, q->id, st, rep.payload, rep.len,
						       st == 0 && rep.bulk_len ? q->bulk + rep.bulk_pos :
										  NULL,
						       st == 0 ? rep.bulk_len : 0);
		g_free(q->payload);
		g_free(q->bulk);
		g_free(q);
		n++;
	}
	return n;
}

struct pending {
	struct hrpc_call c;
	guint8 req[sizeof(struct hrpc_gfs_cred) + sizeof(struct hrpc_gfs_mount_req)];
	int done;
};

static void on_done(hrpc_client *cl, struct hrpc_call *call, void *opaque)
{
	(void)cl, (void)call;
	((struct pending *)opaque)->done = 1;
}

/* One call on `p`: sent, the server turned, the link drained only when
 * `answer`; returns the status (or 1: no reply yet). */
static int call(struct tpair *p, struct pending *pd, guint16 proc, const void *req, guint32 len,
		void *rep, guint32 rep_cap, struct hrpc_bulk *bulk, guint32 bulk_len, gboolean answer)
{
	struct hrpc_gfs_cred cred = { 0 };

	g_assert(len <= sizeof(pd->req) - sizeof(cred));
	memset(pd, 0, sizeof(*pd));
	memcpy(pd->req, &cred, sizeof(cred));
	memcpy(pd->req + sizeof(cred), req, len);
	pd->c = (struct hrpc_call){ .service = HRPC_SVC_FS, .proc = proc, .req = pd->req,
		.req_len = (guint32)sizeof(cred) + len, .rep = rep, .rep_cap = rep_cap,
		.bulk = bulk, .bulk_len = bulk_len, .timeout_ms = 5000 };
	if (hrpc_client_call_async(p->cli, &pd->c, on_done, pd) < 0)
		return -EIO;
	for (int i = 0; i < 200 && !pd->done; i++) {
		hrpc_conn_process(p->conn);
		if (answer)
			drain_link();
		hrpc_client_process(p->cli, 1);
	}
	return pd->done ? pd->c.status : 1;
}

static void serve_hello(struct tpair *p)
{
	p->stop = true;   /* HELLO done: served by hand from here */
	pthread_join(p->thread, NULL);
}

int main(void)
{
	char dir[] = "/tmp/test-fs-forward.XXXXXX", path[1100], pol_s[512], pol_d[512];
	struct tpair ps, pd;
	struct pending w;
	struct hrpc_gfs_entry root, ent;
	struct hrpc_gfs_fh_rep fh;
	struct hrpc_bulk bulk_s, bulk_d;
	g_autoptr(GError) err = NULL;
	void *table = NULL;
	size_t tlen = 0;
	struct hrpc_fs_mig_server rec;
	guint64 fwd;
	int rc;
	FILE *f;

	tap_plan(12);
	if (!mkdtemp(dir))
		tap_skip_all("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/data", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/data/f", dir);
	g_file_set_contents(path, "hello", 5, NULL);
	snprintf(pol_s, sizeof(pol_s), "%s/pol-s", dir);
	snprintf(pol_d, sizeof(pol_d), "%s/pol-d", dir);
	mkdir(pol_s, 0755);
	mkdir(pol_d, 0755);
	snprintf(path, sizeof(path), "%s/g.conf", pol_s);
	f = fopen(path, "w");
	fprintf(f, "export data %s/data ids=passthrough\n", dir);
	fclose(f);

	/* The source: the guest mounts "data", looks f up and opens it. */
	rc = tpair_start(&ps, false, 0);
	if (rc == 0 && !(S = outsource_fs_service_start(ps.srv, 1, "g", pol_s, -1, &err)))
		rc = -EIO;
	serve_hello(&ps);
	if (rc == 0)
		rc = hrpc_client_bulk_alloc(ps.cli, 4096, &bulk_s);
	{
		struct hrpc_gfs_mount_req m = { .path_len = 5 };
		struct hrpc_gfs_dir_name_req l = { 0 };
		struct hrpc_gfs_open_req o = { .flags = 2 /* O_RDWR */ };

		memcpy(m.path, "/data", 5);
		rc = rc ? rc : call(&ps, &w, HRPC_GFS_MOUNT, &m, sizeof(m), &root, sizeof(root), NULL,
				    0, FALSE);
		l.parent = root.node;
		l.name.len = 1;
		l.name.name[0] = 'f';
		rc = rc ? rc : call(&ps, &w, HRPC_GFS_LOOKUP, &l, sizeof(l), &ent, sizeof(ent), NULL,
				    0, FALSE);
		o.node = ent.node;
		rc = rc ? rc : call(&ps, &w, HRPC_GFS_OPEN, &o, sizeof(o), &fh, sizeof(fh), NULL, 0,
				    FALSE);
	}
	tap_ok(rc == 0 && ent.attr.size == 5, "source: MOUNT /data, LOOKUP f, OPEN f (%d)", rc);

	/* The move: S exports and keeps its server; D imports it forwarded. */
	outsource_fs_service_mig_quiesce(S);
	rc = outsource_fs_service_mig_export(S, &table, &tlen);
	memcpy(&rec, (guint8 *)table + sizeof(struct hrpc_fs_mig_table), sizeof(rec));
	rec.flags |= HRPC_FS_MIG_F_FORWARD;
	memcpy((guint8 *)table + sizeof(struct hrpc_fs_mig_table), &rec, sizeof(rec));
	if (rc == 0)
		rc = outsource_fs_service_mig_keep(S, G_GUINT64_CONSTANT(1) << rec.tag, s_event, NULL);
	rc = rc ? rc : tpair_start(&pd, false, 0);
	g_clear_error(&err);
	if (rc == 0 && !(D = outsource_fs_service_start(pd.srv, 1, "g", pol_d, -1, &err)))
		rc = -EIO;
	serve_hello(&pd);
	if (rc == 0)
		rc = hrpc_client_bulk_alloc(pd.cli, 4096, &bulk_d);
	hrpc_client_set_event_handler(pd.cli, on_event, NULL);
	{
		char e[200] = "";

		if (rc == 0)
			rc = outsource_fs_service_mig_import(D, table, tlen, e, sizeof(e));
	}
	free(table);
	fwd = outsource_fs_service_forwarded(D);
	outsource_fs_service_set_forward(D, fwd_fn, NULL);
	tap_ok(rc == 0 && fwd == G_GUINT64_CONSTANT(1) << rec.tag,
	       "destination: export data imported as forwarded (tag %u)", rec.tag);

	/* GETATTR: no reply before the remnant's. */
	{
		struct hrpc_gfs_node_req n = { .node = ent.node };
		struct hrpc_gfs_attr a = { 0 };

		rc = call(&pd, &w, HRPC_GFS_GETATTR, &n, sizeof(n), &a, sizeof(a), NULL, 0, FALSE);
		tap_ok(rc == 1 && g_queue_get_length(&link_q) == 1,
		       "a GETATTR on the guest's handle goes over the link; no reply yet");
		for (int i = 0; i < 200 && !w.done; i++) {
			hrpc_conn_process(pd.conn);
			drain_link();
			hrpc_client_process(pd.cli, 1);
		}
		tap_ok(w.done && w.c.status == 0 && a.size == 5,
		       "the remnant's answer reaches the guest (size %" G_GUINT64_FORMAT ")", a.size);
	}
	/* READ (reply bulk) and WRITE (request bulk). */
	{
		struct hrpc_gfs_io_req io = { .fh = fh.fh, .offset = 0, .size = 5 };
		struct hrpc_gfs_io_rep ir = { 0 };

		rc = call(&pd, &w, HRPC_GFS_READ, &io, sizeof(io), &ir, sizeof(ir), &bulk_d, 0, TRUE);
		tap_ok(rc == 0 && ir.size == 5 &&
		       !memcmp((guint8 *)bulk_d.ptr + w.c.rep_bulk_pos, "hello", 5),
		       "READ through the remnant: its bytes in the guest's bulk buffer");
		memcpy(bulk_d.ptr, "HELLO", 5);
		rc = call(&pd, &w, HRPC_GFS_WRITE, &io, sizeof(io), &ir, sizeof(ir), &bulk_d, 5, TRUE);
		{
			g_autofree char *got = NULL;

			snprintf(path, sizeof(path), "%s/data/f", dir);
			g_file_get_contents(path, &got, NULL, NULL);
			tap_ok(rc == 0 && ir.size == 5 && got && !strcmp(got, "HELLO"),
			       "WRITE through the remnant reaches the host's file (%s)", got);
		}
	}
	/* A host-side edit at the remnant: INVAL back to the guest. */
	{
		struct hrpc_gfs_inval_event bogus = { .node = root.node ^ (G_GUINT64_CONSTANT(0x7f) << 24) };

		snprintf(path, sizeof(path), "%s/data/f", dir);
		g_file_set_contents(path, "from the host", 13, NULL);
		for (int i = 0; i < 50 && !s_nevents; i++) {
			g_main_context_iteration(NULL, FALSE);
			g_usleep(10000);
		}
		for (int i = 0; i < s_nevents; i++)
			outsource_fs_service_fwd_event(D, HRPC_GFS_EVT_INVAL, &s_events[i],
						       sizeof(s_events[i]));
		for (int i = 0; i < 50 && !c_events; i++)
			hrpc_client_process(pd.cli, 2);
		tap_ok(s_nevents > 0 && c_events > 0 && c_event_node == ent.node,
		       "an edit on the remnant's host comes back as an INVAL event (%d)", c_events);
		tap_ok(outsource_fs_service_fwd_event(D, HRPC_GFS_EVT_INVAL, &bogus, sizeof(bogus)) ==
			       -EPROTO &&
		       outsource_fs_service_fwd_event(D, 9, &bogus, sizeof(bogus)) == -EPROTO,
		       "an event about a node of no forwarded server, or not an INVAL: refused");
	}
	/* FORGET one-way; MOUNT of the forwarded export here: ENOENT. */
	{
		struct {
			struct hrpc_gfs_forget_req r;
			struct hrpc_gfs_forget_item it;
		} fg = { .r = { .count = 1 }, .it = { .node = ent.node, .nlookup = 1 } };
		struct hrpc_gfs_mount_req m = { .path_len = 5 };

		oneways = 0;
		rc = call(&pd, &w, HRPC_GFS_FORGET, &fg, sizeof(fg), NULL, 0, NULL, 0, FALSE);
		tap_ok(rc == 0 && oneways == 1, "FORGET answered here, sent on one-way");
		drain_link();
		memcpy(m.path, "/data", 5);
		rc = call(&pd, &w, HRPC_GFS_MOUNT, &m, sizeof(m), &root, sizeof(root), NULL, 0, TRUE);
		tap_ok(rc == -ENOENT, "MOUNT of the forwarded export at the destination: ENOENT");
	}
	{
		gsize len;
		g_autofree char *l = outsource_fs_service_listing(D, FALSE, &len);

		tap_ok(l && strstr(l, "FORWARDED data at the source's remnant calls="),
		       "the listing says export data is forwarded");
	}
	/* The link is lost. */
	{
		struct hrpc_gfs_node_req n = { .node = root.node };
		struct hrpc_gfs_attr a;

		outsource_fs_service_fwd_lost(D);
		rc = call(&pd, &w, HRPC_GFS_GETATTR, &n, sizeof(n), &a, sizeof(a), NULL, 0, FALSE);
		tap_ok(rc == -EIO && g_queue_is_empty(&link_q),
		       "the link lost: the next call is EIO at once, nothing sent (%d)", rc);
	}
	hrpc_client_bulk_free(ps.cli, &bulk_s);
	hrpc_client_bulk_free(pd.cli, &bulk_d);
	hrpc_client_free(pd.cli);
	hrpc_conn_free(pd.conn);
	outsource_fs_service_stop(D);
	hrpc_server_free(pd.srv);
	hrpc_client_free(ps.cli);
	hrpc_conn_free(ps.conn);
	outsource_fs_service_stop(S);
	hrpc_server_free(ps.srv);
	{
		g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);

		(void)!system(cmd);
	}
	return tap_done();
}
