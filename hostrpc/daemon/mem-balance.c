/* SPDX-License-Identifier: MIT */
/* mem-balance.c - hostrpcd's memory balancing (mem-balance.h). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "hostrpc/daemon/guest-table.h"
#include "hostrpc/daemon/mem-balance.h"
#include "hostrpc/daemon/worker-ctl.h"
#include "hostrpc/mem.h"

#define STATE_MAX_AGE_US (3 * G_USEC_PER_SEC)
#define MIB_MAX (HRPC_MEM_CHUNKS_MAX * (HRPC_MEM_CHUNK >> 20))

typedef struct {
	struct mem_balance_guest g;
	gint64 at;                 /* when the worker said it */
} GuestState;

struct _HrpcdMemBalancer {
	gint ref;
	gboolean stopped;
	HrpcdSupervisor *sup;
	struct mem_balance_cfg cfg;
	GSource *timer;
	GHashTable *states;        /* guest id -> GuestState */
	guint64 grants, reclaims;  /* actions taken */
};

typedef struct {
	HrpcdMemBalancer *b;
	guint32 id;
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
	GuestState *s;

	if (!b->stopped && status == 0) {
		s = g_new0(GuestState, 1);
		s->g.id = q->id;
		if (hrpcd_mem_balance_parse(text, len, &s->g)) {
			s->at = g_get_monotonic_time();
			g_hash_table_replace(b->states, GUINT_TO_POINTER(q->id), s);
		} else {
			g_free(s);
			g_hash_table_remove(b->states, GUINT_TO_POINTER(q->id));
		}
	} else if (!b->stopped) {
		g_hash_table_remove(b->states, GUINT_TO_POINTER(q->id));
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

static gboolean tick(gpointer data)
{
	HrpcdMemBalancer *b = data;
	HrpcdGuestTable *t = hrpcd_supervisor_guests(b->sup);
	HrpcdWorkerCtl *ctl = hrpcd_supervisor_worker_ctl(b->sup);
	struct mem_balance_guest g[256];
	struct mem_balance_action acts[16];
	gint64 now = g_get_monotonic_time();
	GHashTableIter it;
	gpointer v;
	guint n = 0;
	int k;

	/* Decide on what the workers said lately... */
	g_hash_table_iter_init(&it, b->states);
	while (n < G_N_ELEMENTS(g) && g_hash_table_iter_next(&it, NULL, &v)) {
		GuestState *s = v;

		if (now - s->at <= STATE_MAX_AGE_US && hrpcd_guest_table_lookup(t, s->g.id))
			g[n++] = s->g;
	}
	k = mem_balance_plan(&b->cfg, g, n, acts, G_N_ELEMENTS(acts));
	for (int i = 0; i < k; i++) {
		act(b, &acts[i]);
		/* What it said no longer holds: ask again before deciding on it. */
		g_hash_table_remove(b->states, GUINT_TO_POINTER(acts[i].id));
	}
	/* ...and ask them again for the next round. */
	for (HrpcdGuest *x = hrpcd_guest_table_next(t, 0); x;
	     x = x->id < G_MAXUINT32 ? hrpcd_guest_table_next(t, x->id + 1) : NULL) {
		Question *q;

		if (!x->worker_pid || x->stopping)
			continue;
		q = g_new0(Question, 1);
		q->b = ref(b);
		q->id = x->id;
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
	unref(b);
}
