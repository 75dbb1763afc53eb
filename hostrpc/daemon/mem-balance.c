/* SPDX-License-Identifier: MIT */
/* mem-balance.c - hostrpcd's memory balancing (mem-balance.h). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "hostrpc/daemon/guest-table.h"
#include "hostrpc/daemon/mem-balance.h"
#ifdef HAVE_LIBVIRT
#include "hostrpc/daemon/mem-balloon.h"
#endif
#include "hostrpc/daemon/worker-ctl.h"
#include "hostrpc/mem.h"

#define STATE_MAX_AGE_US (3 * G_USEC_PER_SEC)
#define MIB_MAX (HRPC_MEM_CHUNKS_MAX * (HRPC_MEM_CHUNK >> 20))
/* A balloon that has not moved toward what we asked for this long: we stop
 * waiting (the guest gives what it can; there is no deadline to enforce). */
#define BALLOON_PATIENCE_US (10 * G_USEC_PER_SEC)

/* What a guest's worker said last.  It stays while the guest is in the
 * table, fresh or not: its memory counts against the pool whatever its
 * worker can say now (a worker that is restarting, a slow answer, an action
 * under way); only a fresh state is acted on. */
typedef struct {
	struct mem_balance_guest g;
	gint64 at;                 /* when the worker said it; 0: stale */
	guint64 acted;             /* the round of our last action on it */
} GuestState;

struct _HrpcdMemBalancer {
	gint ref;
	gboolean stopped;
	HrpcdSupervisor *sup;
	struct mem_balance_cfg cfg;
	GSource *timer;
	GHashTable *states;        /* guest id -> GuestState */
	guint64 round;             /* ticks so far */
	GHashTable *region_attached; /* guest ids whose driver said attached lately */
	guint64 grants, reclaims;  /* actions taken */
#ifdef HAVE_LIBVIRT
	HrpcdMemBalloon *balloon;  /* NULL: no libvirt */
	guint32 balloon_min_mib;
	GHashTable *domains;       /* domain name -> Balloon */
#endif
};

#ifdef HAVE_LIBVIRT
/* A libvirt domain that is a hostrpc guest (main loop only). */
typedef struct {
	char *domain;
	char *guest;               /* its hostrpc guest name (the endpoint's) */
	guint32 id;                /* the guest's id when last asked */
	gboolean fresh;            /* the last round read its balloon */
	gint64 at;
	gboolean reports;
	guint64 actual_kib, prev_actual_kib, unused_kib, max_kib;
	guint64 target_kib;        /* asked for and not reached; 0: none */
	gint64 progress_at;        /* when it last moved toward target_kib */
	guint64 set_kib;           /* to ask for with the next round */
} Balloon;

static void balloon_free(gpointer p)
{
	Balloon *d = p;

	g_free(d->domain);
	g_free(d->guest);
	g_free(d);
}
#endif

typedef struct {
	HrpcdMemBalancer *b;
	guint32 id;
	guint64 round;             /* when it was asked */
	struct mem_balance_action act;
} Question;

static HrpcdMemBalancer *ref(HrpcdMemBalancer *b)
{
	g_atomic_int_inc(&b->ref);
	return b;
}

static void unref(HrpcdMemBalancer *b)
{
	if (!g_atomic_int_dec_and_test(&b->ref))
		return;
	g_hash_table_destroy(b->states);
	g_hash_table_destroy(b->region_attached);
#ifdef HAVE_LIBVIRT
	g_hash_table_destroy(b->domains);
#endif
	g_free(b);
}

static gboolean get_mib(JsonObject *o, const char *key, guint32 *out)
{
	JsonNode *n = json_object_get_member(o, key);
	gint64 v;

	if (!n || json_node_get_value_type(n) != G_TYPE_INT64)
		return FALSE;
	v = json_node_get_int(n);
	*out = (guint32)CLAMP(v, 0, MIB_MAX);
	return TRUE;
}

gboolean hrpcd_mem_balance_parse(const char *json, gsize len, struct mem_balance_guest *g)
{
	g_autoptr(JsonParser) p = json_parser_new();
	JsonNode *root, *att, *reg;
	JsonObject *o;

	if (!json_parser_load_from_data(p, json, (gssize)len, NULL))
		return FALSE;
	root = json_parser_get_root(p);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root))
		return FALSE;
	o = json_node_get_object(root);
	att = json_object_get_member(o, "attached");
	reg = json_object_get_member(o, "region");
	if (!att || json_node_get_value_type(att) != G_TYPE_BOOLEAN || !reg ||
	    json_node_get_value_type(reg) != G_TYPE_BOOLEAN)
		return FALSE;
	if (!get_mib(o, "granted_mib", &g->granted_mib) ||
	    !get_mib(o, "reclaiming_mib", &g->reclaiming_mib) ||
	    !get_mib(o, "used_mib", &g->used_mib) || !get_mib(o, "min_mib", &g->min_mib) ||
	    !get_mib(o, "max_mib", &g->max_mib))
		return FALSE;
	g->attached = json_node_get_boolean(att) && json_node_get_boolean(reg);
	if (g->min_mib > g->max_mib)
		g->attached = FALSE;   /* nonsense: leave it alone */
	return TRUE;
}

static void answered(int status, const char *text, gsize len, gpointer data)
{
	Question *q = data;
	HrpcdMemBalancer *b = q->b;
	GuestState *s, *old = b->stopped ? NULL :
				     g_hash_table_lookup(b->states, GUINT_TO_POINTER(q->id));
	struct mem_balance_guest g = { .id = q->id };

	if (b->stopped) {
		/* nothing */
	} else if (old && q->round <= old->acted) {
		/* Asked in the round of our last action on it, or before: the
		 * answer may not have it yet.  The next round's will. */
	} else if (status == 0 && hrpcd_mem_balance_parse(text, len, &g)) {
		s = old ? old : g_new0(GuestState, 1);
		s->g = g;
		s->at = g_get_monotonic_time();
		if (s->g.attached)
			g_hash_table_add(b->region_attached, GUINT_TO_POINTER(q->id));
		else
			g_hash_table_remove(b->region_attached, GUINT_TO_POINTER(q->id));
		if (!old)
			g_hash_table_insert(b->states, GUINT_TO_POINTER(q->id), s);
	} else {
		/* No answer, or none we can read: keep what it said last (its
		 * memory still counts), but do not act on it. */
		if (old)
			old->at = 0;
		g_hash_table_remove(b->region_attached, GUINT_TO_POINTER(q->id));
	}
	unref(b);
	g_free(q);
}

static void acted(int status, const char *text, gsize len, gpointer data)
{
	Question *q = data;

	(void)text;
	(void)len;
	if (!q->b->stopped && status < 0)
		g_debug("memory balance: guest %u: %s %u MiB failed: %s", q->id,
			q->act.op == MEM_BALANCE_GRANT ? "grant" : "reclaim", q->act.mib,
			g_strerror(-status));
	unref(q->b);
	g_free(q);
}

static void act(HrpcdMemBalancer *b, const struct mem_balance_action *a)
{
	HrpcdWorkerCtl *ctl = hrpcd_supervisor_worker_ctl(b->sup);
	struct hrpcd_ctl_mem_act m = {
		.op = a->op == MEM_BALANCE_GRANT ? HRPCD_CTL_MEM_GRANT : HRPCD_CTL_MEM_RECLAIM,
		.chunks = a->mib / (HRPC_MEM_CHUNK >> 20),
	};
	Question *q = g_new0(Question, 1);

	q->b = ref(b);
	q->id = a->id;
	q->act = *a;
	if (hrpcd_worker_ctl_memory(ctl, a->id, 0, &m, acted, q) < 0) {
		unref(b);
		g_free(q);
		return;
	}
	if (a->op == MEM_BALANCE_GRANT) {
		b->grants++;
		g_info("memory balance: guest %u under pressure: granting %u MiB", a->id, a->mib);
	} else {
		b->reclaims++;
		g_info("memory balance: guest %u has slack: reclaiming %u MiB for guest %u",
		       a->id, a->mib, a->for_id);
	}
}

#ifdef HAVE_LIBVIRT
/* The guest a balloon domain is now, if it runs as a hostrpc guest whose
 * memory driver is not attached: a balloon guest. */
static HrpcdGuest *balloon_guest(HrpcdMemBalancer *b, Balloon *d)
{
	HrpcdGuest *x = hrpcd_guest_table_find_name(hrpcd_supervisor_guests(b->sup), d->guest);

	if (!x || !x->worker_pid || x->stopping ||
	    g_hash_table_contains(b->region_attached, GUINT_TO_POINTER(x->id)))
		return NULL;
	return x;
}

/* Its entry for this round; FALSE if there is none. */
static gboolean balloon_entry(HrpcdMemBalancer *b, Balloon *d, gint64 now,
			      struct mem_balance_guest *g)
{
	struct mem_balance_balloon bl;
	HrpcdGuest *x = balloon_guest(b, d);

	if (!x || x->id != d->id || !d->fresh || now - d->at > STATE_MAX_AGE_US)
		return FALSE;
	bl = (struct mem_balance_balloon){
		.actual_kib = d->actual_kib, .unused_kib = d->unused_kib, .max_kib = d->max_kib,
		.target_kib = d->target_kib, .reports = d->reports,
		.settled = d->prev_actual_kib &&
			   (d->actual_kib > d->prev_actual_kib ? d->actual_kib - d->prev_actual_kib
				: d->prev_actual_kib - d->actual_kib) < 2048,
	};
	memset(g, 0, sizeof(*g));
	g->id = d->id;
	mem_balance_balloon_guest(&bl, b->balloon_min_mib, g);
	/* A round still out: we could not carry an action out now. */
	if (hrpcd_mem_balloon_busy(b->balloon))
		g->attached = false;
	return TRUE;
}

static Balloon *balloon_by_id(HrpcdMemBalancer *b, guint32 id)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, b->domains);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Balloon *d = v;

		if (d->fresh && d->id == id)
			return d;
	}
	return NULL;
}

static void balloon_act(HrpcdMemBalancer *b, const struct mem_balance_action *a, gint64 now)
{
	Balloon *d = balloon_by_id(b, a->id);
	guint64 size;

	if (!d)
		return;
	size = mem_balance_balloon_size(d->actual_kib, a);
	d->set_kib = d->target_kib = size;
	d->progress_at = now;
	if (a->op == MEM_BALANCE_GRANT) {
		b->grants++;
		g_info("memory balance: guest %u (domain %s) under pressure: deflating its balloon "
		       "by %u MiB to %" G_GUINT64_FORMAT " MiB", a->id, d->domain, a->mib, size >> 10);
	} else {
		b->reclaims++;
		g_info("memory balance: guest %u (domain %s) has slack: inflating its balloon by "
		       "%u MiB to %" G_GUINT64_FORMAT " MiB for guest %u", a->id, d->domain, a->mib,
		       size >> 10, a->for_id);
	}
}

static void balloon_back(GPtrArray *items, gpointer data)
{
	HrpcdMemBalancer *b = data;
	gint64 now = g_get_monotonic_time();

	for (guint i = 0; i < items->len; i++) {
		HrpcdBalloonItem *it = g_ptr_array_index(items, i);
		Balloon *d = g_hash_table_lookup(b->domains, it->domain);

		if (!d)
			continue;
		if (!it->running || d->id != it->id) {
			d->fresh = FALSE;
			d->reports = FALSE;
			d->prev_actual_kib = 0;
			d->target_kib = 0;
			if (!it->running)
				continue;
		}
		if (it->set_failed && it->set_kib == d->target_kib)
			d->target_kib = 0;
		d->prev_actual_kib = d->fresh ? d->actual_kib : 0;
		d->fresh = TRUE;
		d->at = now;
		d->actual_kib = it->actual_kib;
		/* What the guest could use without reclaiming hard (MemAvailable:
		 * free less the kernel's reserves, plus cache it can drop), else
		 * MemFree. */
		d->unused_kib = it->has_usable ? it->usable_kib : it->unused_kib;
		d->max_kib = it->max_kib;
		if (it->has_unused && !d->reports)
			g_info("memory balance: guest %u (domain %s): a balloon guest, at %"
			       G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " MiB", d->id, d->domain,
			       d->actual_kib >> 10, d->max_kib >> 10);
		d->reports = it->has_unused;
		if (d->target_kib) {
			guint64 gap = d->actual_kib > d->target_kib ? d->actual_kib - d->target_kib :
				      d->target_kib - d->actual_kib;
			guint64 was = d->prev_actual_kib > d->target_kib ?
				      d->prev_actual_kib - d->target_kib :
				      d->target_kib - d->prev_actual_kib;

			if (gap < 2048) {
				d->target_kib = 0;
			} else if (gap < was) {
				d->progress_at = now;
			} else if (now - d->progress_at > BALLOON_PATIENCE_US) {
				g_message("memory balance: domain %s: its balloon stays at %"
					  G_GUINT64_FORMAT " MiB, not %" G_GUINT64_FORMAT
					  " MiB; no longer waiting", d->domain, d->actual_kib >> 10,
					  d->target_kib >> 10);
				d->target_kib = 0;
			}
		}
	}
}

static void unref_cb(gpointer data)
{
	unref(data);
}

/* Read every balloon guest's balloon (and set those acted on). */
static void balloon_round(HrpcdMemBalancer *b)
{
	GPtrArray *items = g_ptr_array_new_with_free_func(hrpcd_balloon_item_free);
	GHashTableIter it;
	gpointer v;

	if (hrpcd_mem_balloon_busy(b->balloon)) {
		g_ptr_array_unref(items);
		return;
	}
	g_hash_table_iter_init(&it, b->domains);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Balloon *d = v;
		HrpcdGuest *x = balloon_guest(b, d);

		if (!x) {
			d->fresh = FALSE;
			d->target_kib = d->set_kib = 0;
			continue;
		}
		if (d->id != x->id) {
			d->fresh = FALSE;
			d->target_kib = d->set_kib = 0;
			d->id = x->id;
		}
		g_ptr_array_add(items, hrpcd_balloon_item_new(d->domain, d->id, d->set_kib));
		d->set_kib = 0;
	}
	if (!items->len || !hrpcd_mem_balloon_round(b->balloon, items, balloon_back, ref(b), unref_cb)) {
		if (items->len)
			unref(b);
		g_ptr_array_unref(items);
	}
}
#endif

/* What the guest's worker said no longer holds once we acted on it: the
 * action counts in its state until it answers a question asked after it,
 * and it is not acted on again before then. */
static void count_action(HrpcdMemBalancer *b, const struct mem_balance_action *a)
{
	GuestState *s = g_hash_table_lookup(b->states, GUINT_TO_POINTER(a->id));

	if (!s)
		return;
	if (a->op == MEM_BALANCE_GRANT) {
		s->g.granted_mib += a->mib;
	} else {
		s->g.granted_mib -= MIN(a->mib, s->g.granted_mib);
		s->g.reclaiming_mib += a->mib;
	}
	s->at = 0;
	s->acted = b->round;
}

static gboolean tick(gpointer data)
{
	HrpcdMemBalancer *b = data;
	HrpcdGuestTable *t = hrpcd_supervisor_guests(b->sup);
	HrpcdWorkerCtl *ctl = hrpcd_supervisor_worker_ctl(b->sup);
	struct mem_balance_guest g[256];
	struct mem_balance_action acts[16];
	gint64 now = g_get_monotonic_time();
	GHashTableIter it;
	gpointer k_, v;
	guint n = 0, nballoon = 0;
	int k;

	b->round++;
#ifdef HAVE_LIBVIRT
	/* Balloon guests first: a guest is one or the other. */
	if (b->balloon) {
		g_hash_table_iter_init(&it, b->domains);
		while (n < G_N_ELEMENTS(g) && g_hash_table_iter_next(&it, NULL, &v))
			if (balloon_entry(b, v, now, &g[n]))
				n++;
	}
#endif
	nballoon = n;
	/* Decide on what the workers said lately: every guest in the table
	 * counts against the pool, only those with a fresh state are acted on. */
	g_hash_table_iter_init(&it, b->states);
	while (n < G_N_ELEMENTS(g) && g_hash_table_iter_next(&it, &k_, &v)) {
		GuestState *s = v;
		gboolean dup = FALSE;

		if (!hrpcd_guest_table_lookup(t, GPOINTER_TO_UINT(k_))) {
			g_hash_table_iter_remove(&it);   /* gone, and its memory with it */
			continue;
		}
		for (guint i = 0; i < nballoon; i++)
			dup |= g[i].id == s->g.id;
		if (dup)
			continue;
		g[n] = s->g;
		if (!s->at || now - s->at > STATE_MAX_AGE_US)
			g[n].attached = false;
		n++;
	}
	k = mem_balance_plan(&b->cfg, g, n, acts, G_N_ELEMENTS(acts));
	for (int i = 0; i < k; i++) {
#ifdef HAVE_LIBVIRT
		if (acts[i].kind == MEM_BALANCE_BALLOON) {
			balloon_act(b, &acts[i], now);
			continue;
		}
#endif
		act(b, &acts[i]);
		count_action(b, &acts[i]);
	}
#ifdef HAVE_LIBVIRT
	if (b->balloon)
		balloon_round(b);
#endif
	/* ...and ask them again for the next round. */
	for (HrpcdGuest *x = hrpcd_guest_table_next(t, 0); x;
	     x = x->id < G_MAXUINT32 ? hrpcd_guest_table_next(t, x->id + 1) : NULL) {
		Question *q;

		if (!x->worker_pid || x->stopping)
			continue;
		q = g_new0(Question, 1);
		q->b = ref(b);
		q->id = x->id;
		q->round = b->round;
		if (hrpcd_worker_ctl_memory(ctl, x->id, HRPCD_CTL_F_JSON, NULL, answered, q) < 0) {
			unref(b);
			g_free(q);
		}
	}
	return G_SOURCE_CONTINUE;
}

HrpcdMemBalancer *hrpcd_mem_balancer_new(HrpcdSupervisor *sup, const struct mem_balance_cfg *cfg,
					 guint interval_ms, GMainContext *ctx, GError **error)
{
	HrpcdMemBalancer *b;
	struct mem_balance_action a;

	if (mem_balance_plan(cfg, NULL, 0, &a, 0) < 0 || !interval_ms) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "memory balancing: the step must be a positive multiple of 2 MiB, "
			    "low at most high, the interval not 0");
		return NULL;
	}
	b = g_new0(HrpcdMemBalancer, 1);
	b->ref = 1;
	b->sup = sup;
	b->cfg = *cfg;
	b->states = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	b->region_attached = g_hash_table_new(g_direct_hash, g_direct_equal);
#ifdef HAVE_LIBVIRT
	b->domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, balloon_free);
#endif
	b->timer = g_timeout_source_new(interval_ms);
	g_source_set_callback(b->timer, tick, b, NULL);
	g_source_attach(b->timer, ctx);
	g_message("memory balancing: a pool of %u MiB, steps of %u MiB, every %u ms (pressure "
		  "below %u MiB unused, slack above %u MiB)", cfg->pool_mib, cfg->step_mib,
		  interval_ms, cfg->low_mib, cfg->high_mib);
	return b;
}

void hrpcd_mem_balancer_free(HrpcdMemBalancer *b)
{
	if (!b)
		return;
	g_source_destroy(b->timer);
	g_source_unref(b->timer);
	b->stopped = TRUE;
#ifdef HAVE_LIBVIRT
	g_clear_pointer(&b->balloon, hrpcd_mem_balloon_free);
#endif
	unref(b);
}

#ifdef HAVE_LIBVIRT
void hrpcd_mem_balancer_use_libvirt(HrpcdMemBalancer *b, const char *uri, guint32 balloon_min_mib)
{
	if (b->balloon)
		return;
	b->balloon = hrpcd_mem_balloon_new(uri, NULL);
	b->balloon_min_mib = balloon_min_mib;
	g_message("memory balancing: libvirt domains without the memory driver through their "
		  "virtio balloon (at least %u MiB each)", balloon_min_mib);
}

void hrpcd_mem_balancer_domain(HrpcdMemBalancer *b, const char *domain, const char *guest)
{
	Balloon *d;

	if (!guest) {
		g_hash_table_remove(b->domains, domain);
		return;
	}
	d = g_hash_table_lookup(b->domains, domain);
	if (d && !g_strcmp0(d->guest, guest))
		return;
	d = g_new0(Balloon, 1);
	d->domain = g_strdup(domain);
	d->guest = g_strdup(guest);
	g_hash_table_replace(b->domains, d->domain, d);
}
#endif
