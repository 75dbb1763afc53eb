/* SPDX-License-Identifier: MIT */
/* mem-balloon.c - virtio balloons through libvirt, off the main loop (mem-balloon.h). */
#include "config.h"

#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hostrpc/daemon/mem-balloon.h"

struct _HrpcdMemBalloon {
	gint ref;                 /* ours, and each round's */
	gboolean stopped;
	char *uri;
	GMainContext *ctx;
	GThread *thread;
	GAsyncQueue *rounds;      /* Round *, or the stop mark */
	gboolean busy;            /* a round is out (main loop only) */
	/* thread only: */
	virConnectPtr conn;
	GHashTable *period_set;   /* domain name -> the domain id it was set for */
};

typedef struct {
	HrpcdMemBalloon *mb;
	GPtrArray *items;
	HrpcdBalloonDone done;
	gpointer user_data;
	GDestroyNotify notify;
} Round;

static char stop_mark;

static void mb_unref(HrpcdMemBalloon *mb)
{
	if (!g_atomic_int_dec_and_test(&mb->ref))
		return;
	g_async_queue_unref(mb->rounds);
	g_hash_table_unref(mb->period_set);
	g_main_context_unref(mb->ctx);
	g_free(mb->uri);
	g_free(mb);
}

HrpcdBalloonItem *hrpcd_balloon_item_new(const char *domain, guint32 id, guint64 set_kib)
{
	HrpcdBalloonItem *it = g_new0(HrpcdBalloonItem, 1);

	it->domain = g_strdup(domain);
	it->id = id;
	it->set_kib = set_kib;
	return it;
}

void hrpcd_balloon_item_free(gpointer item)
{
	HrpcdBalloonItem *it = item;

	g_free(it->domain);
	g_free(it);
}

static void round_free(gpointer data)
{
	Round *r = data;

	if (r->notify)
		r->notify(r->user_data);
	g_ptr_array_unref(r->items);
	mb_unref(r->mb);
	g_free(r);
}

/* Main loop: the round is back. */
static gboolean round_back(gpointer data)
{
	Round *r = data;

	r->mb->busy = FALSE;
	if (!r->mb->stopped)
		r->done(r->items, r->user_data);
	return G_SOURCE_REMOVE;
}

static const char *last_error(void)
{
	virErrorPtr e = virGetLastError();

	return e && e->message ? e->message : "unknown error";
}

static void do_item(HrpcdMemBalloon *mb, HrpcdBalloonItem *it)
{
	virDomainMemoryStatStruct st[VIR_DOMAIN_MEMORY_STAT_NR];
	virDomainPtr dom = virDomainLookupByName(mb->conn, it->domain);
	gpointer had;
	unsigned int id;
	int n;

	if (!dom)
		return;
	if (virDomainIsActive(dom) != 1)
		goto out;
	id = virDomainGetID(dom);
	if (it->set_kib &&
	    virDomainSetMemoryFlags(dom, (unsigned long)it->set_kib, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		g_debug("memory balance: domain %s: setmem %" G_GUINT64_FORMAT " KiB: %s",
			it->domain, it->set_kib, last_error());
		it->set_failed = TRUE;
	}
	/* The guest reports its statistics only when asked to, once per run
	 * of the domain (a new id: it was restarted). */
	if (!g_hash_table_lookup_extended(mb->period_set, it->domain, NULL, &had) ||
	    GPOINTER_TO_UINT(had) != id) {
		if (virDomainSetMemoryStatsPeriod(dom, 1, VIR_DOMAIN_AFFECT_LIVE) < 0)
			g_debug("memory balance: domain %s: statistics period: %s", it->domain,
				last_error());
		else
			g_hash_table_replace(mb->period_set, g_strdup(it->domain),
					     GUINT_TO_POINTER(id));
	}
	it->max_kib = virDomainGetMaxMemory(dom);
	n = virDomainMemoryStats(dom, st, VIR_DOMAIN_MEMORY_STAT_NR, 0);
	if (n < 0 || !it->max_kib)
		goto out;
	for (int i = 0; i < n; i++) {
		switch (st[i].tag) {
		case VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON:
			it->actual_kib = st[i].val;
			it->running = TRUE;
			break;
		case VIR_DOMAIN_MEMORY_STAT_UNUSED:
			it->unused_kib = st[i].val;
			it->has_unused = TRUE;
			break;
		case VIR_DOMAIN_MEMORY_STAT_USABLE:
			it->usable_kib = st[i].val;
			it->has_usable = TRUE;
			break;
		case VIR_DOMAIN_MEMORY_STAT_AVAILABLE:
			it->available_kib = st[i].val;
			break;
		default:
			break;
		}
	}
out:
	virDomainFree(dom);
}

static gpointer balloon_thread(gpointer data)
{
	HrpcdMemBalloon *mb = data;
	gpointer p;

	while ((p = g_async_queue_pop(mb->rounds)) != &stop_mark) {
		Round *r = p;

		if (mb->conn && virConnectIsAlive(mb->conn) != 1) {
			virConnectClose(mb->conn);
			mb->conn = NULL;
		}
		if (!mb->conn) {
			mb->conn = virConnectOpen(mb->uri);
			if (!mb->conn)
				g_debug("memory balance: cannot connect to libvirt at %s: %s", mb->uri,
					last_error());
			g_hash_table_remove_all(mb->period_set);
		}
		for (guint i = 0; mb->conn && i < r->items->len; i++)
			do_item(mb, g_ptr_array_index(r->items, i));
		/* A source on the main loop's context, not g_main_context_invoke():
		 * that would run round_back() here, in this thread, whenever the
		 * (default) context is free to acquire - racing with the main
		 * thread on `busy` and the caller's state (as libvirt-domains.c
		 * did under ThreadSanitizer). */
		GSource *src = g_idle_source_new();

		g_source_set_priority(src, G_PRIORITY_DEFAULT);
		g_source_set_callback(src, round_back, r, round_free);
		g_source_attach(src, mb->ctx);
		g_source_unref(src);
	}
	if (mb->conn)
		virConnectClose(mb->conn);
	mb->conn = NULL;
	return NULL;
}

HrpcdMemBalloon *hrpcd_mem_balloon_new(const char *uri, GMainContext *ctx)
{
	HrpcdMemBalloon *mb = g_new0(HrpcdMemBalloon, 1);

	mb->ref = 1;
	mb->uri = g_strdup(uri);
	mb->ctx = ctx ? g_main_context_ref(ctx) : g_main_context_ref_thread_default();
	mb->rounds = g_async_queue_new();
	mb->period_set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	mb->thread = g_thread_new("mem-balloon", balloon_thread, mb);
	return mb;
}

gboolean hrpcd_mem_balloon_round(HrpcdMemBalloon *mb, GPtrArray *items, HrpcdBalloonDone done,
				 gpointer user_data, GDestroyNotify notify)
{
	Round *r;

	if (mb->busy)
		return FALSE;
	r = g_new0(Round, 1);
	g_atomic_int_inc(&mb->ref);
	r->mb = mb;
	r->items = items;
	r->done = done;
	r->user_data = user_data;
	r->notify = notify;
	mb->busy = TRUE;
	g_async_queue_push(mb->rounds, r);
	return TRUE;
}

gboolean hrpcd_mem_balloon_busy(HrpcdMemBalloon *mb)
{
	return mb->busy;
}

void hrpcd_mem_balloon_free(HrpcdMemBalloon *mb)
{
	if (!mb)
		return;
	mb->stopped = TRUE;
	g_async_queue_push(mb->rounds, &stop_mark);
	g_thread_join(mb->thread);
	mb_unref(mb);
}
