/* SPDX-License-Identifier: MIT */
/* guest-table.c - the supervisor's guests, sorted by id (guest-table.h). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include "hostrpc/daemon/guest-table.h"
#include "hostrpc/daemon/log.h"

struct _HrpcdGuestTable {
	GPtrArray *guests;   /* HrpcdGuest *, ascending id */
	GHashTable *reserved; /* VM (endpoint) names */
	guint max;
	guint32 next_id;
};

HrpcdGuest *hrpcd_guest_ref(HrpcdGuest *g)
{
	g_return_val_if_fail(g && g->refs > 0, g);
	g->refs++;
	return g;
}

void hrpcd_guest_unref(HrpcdGuest *g)
{
	if (!g)
		return;
	g_return_if_fail(g->refs > 0);
	if (--g->refs)
		return;
	hrpcd_status_free(g->status);
	if (g->status_fd >= 0)
		close(g->status_fd);
	if (g->mig_fd >= 0)
		close(g->mig_fd);
	g_free(g->mig_intro);
	g_free(g);
}

gboolean hrpcd_guest_removed(const HrpcdGuest *g)
{
	return g->removed;
}

/* The table's reference, dropped as the guest leaves it. */
static void guest_leave(HrpcdGuest *g)
{
	g->removed = TRUE;
	g->table = NULL;
	hrpcd_guest_unref(g);
}

void hrpcd_guest_table_set_max(HrpcdGuestTable *t, guint max_guests)
{
	/* Guests beyond a lowered limit stay: it refuses only new ones. */
	t->max = max_guests;
}

HrpcdGuestTable *hrpcd_guest_table_new(guint max_guests)
{
	HrpcdGuestTable *t = g_new0(HrpcdGuestTable, 1);

	t->guests = g_ptr_array_new_with_free_func((GDestroyNotify)guest_leave);
	t->reserved = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	t->max = max_guests;
	t->next_id = 1;
	return t;
}

void hrpcd_guest_table_free(HrpcdGuestTable *t)
{
	if (!t)
		return;
	g_ptr_array_unref(t->guests);
	g_hash_table_unref(t->reserved);
	g_free(t);
}

/* Index of the first guest with id >= id. */
static guint lower_bound(HrpcdGuestTable *t, guint32 id)
{
	guint lo = 0, hi = t->guests->len;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		HrpcdGuest *g = g_ptr_array_index(t->guests, mid);

		if (g->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void default_name(HrpcdGuest *g)
{
	g_snprintf(g->name, sizeof(g->name), "guest-%u", g->id);
}

static guint32 take_id(HrpcdGuestTable *t)
{
	/* Ascending and never 0; after a wrap (2^32 guests later) skip ids
	 * still in use. */
	for (;;) {
		guint32 id = t->next_id++;

		if (!t->next_id)
			t->next_id = 1;
		if (id && !hrpcd_guest_table_lookup(t, id))
			return id;
	}
}

HrpcdGuest *hrpcd_guest_table_add(HrpcdGuestTable *t, enum hrpc_admin_transport transport,
				  const char *name, pid_t peer_pid, GError **error)
{
	HrpcdGuest *g;

	if (t->guests->len >= t->max) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
			    "too many guests (at most %u)", t->max);
		return NULL;
	}
	g = g_new0(HrpcdGuest, 1);
	g->refs = 1;
	g->mig_fd = -1;
	g->status = hrpcd_status_new(&g->status_fd);
	if (!g->status) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot map a status page: %s", g_strerror(errno));
		g_free(g);
		return NULL;
	}
	g->id = take_id(t);
	g->table = t;
	g->transport = transport;
	g->peer_pid = peer_pid;
	g->connected_us = g_get_monotonic_time();
	if (name) {
		g_strlcpy(g->name, name, sizeof(g->name));
		g->named = TRUE;
	} else {
		default_name(g);
	}
	g_ptr_array_insert(t->guests, (gint)lower_bound(t, g->id), g);
	return g;
}

void hrpcd_guest_table_remove(HrpcdGuestTable *t, HrpcdGuest *g)
{
	guint i = lower_bound(t, g->id);

	g_return_if_fail(i < t->guests->len && g_ptr_array_index(t->guests, i) == g);
	g_ptr_array_remove_index(t->guests, i);   /* guest_leave() */
}

HrpcdGuest *hrpcd_guest_table_lookup(HrpcdGuestTable *t, guint32 id)
{
	HrpcdGuest *g = hrpcd_guest_table_next(t, id);

	return g && g->id == id ? g : NULL;
}

HrpcdGuest *hrpcd_guest_table_next(HrpcdGuestTable *t, guint32 first_id)
{
	guint i = lower_bound(t, first_id);

	return i < t->guests->len ? g_ptr_array_index(t->guests, i) : NULL;
}

HrpcdGuest *hrpcd_guest_table_find_name(HrpcdGuestTable *t, const char *name)
{
	HrpcdGuest *remnant = NULL;

	for (guint i = 0; i < t->guests->len; i++) {
		HrpcdGuest *g = g_ptr_array_index(t->guests, i);

		if (strcmp(g->name, name))
			continue;
		if (!g->remnant)
			return g;
		remnant = remnant ? remnant : g;
	}
	/* Only the remnant of a guest that moved away has the name. */
	return remnant;
}

gboolean hrpcd_guest_name_is_default(const char *name)
{
	const char *d = g_str_has_prefix(name, "guest-") ? name + strlen("guest-") : NULL;
	guint64 id;
	char *end;

	if (!d || !g_ascii_isdigit(*d) || (*d == '0' && d[1]))
		return FALSE;
	id = g_ascii_strtoull(d, &end, 10);
	return !*end && id && id <= G_MAXUINT32;
}

void hrpcd_guest_table_reserve_name(HrpcdGuestTable *t, const char *name)
{
	g_hash_table_add(t->reserved, g_strdup(name));
	for (guint i = 0; i < t->guests->len; i++) {
		HrpcdGuest *g = g_ptr_array_index(t->guests, i);

		if (g->transport != HRPC_ADMIN_TRANSPORT_IVSHMEM && !strcmp(g->name, name)) {
			default_name(g);
			hrpcd_log_guest(G_LOG_LEVEL_WARNING, g->id, g->name,
					"process guest loses the name %s: a VM endpoint has it now",
					name);
		}
	}
}

void hrpcd_guest_table_release_name(HrpcdGuestTable *t, const char *name)
{
	g_hash_table_remove(t->reserved, name);
}

const char *hrpcd_guest_table_name_taken(HrpcdGuestTable *t, const char *name, guint32 id)
{
	char own[HRPCD_GUEST_NAME_MAX];

	if (g_hash_table_contains(t->reserved, name))
		return "a VM endpoint's name";
	for (guint i = 0; i < t->guests->len; i++) {
		HrpcdGuest *g = g_ptr_array_index(t->guests, i);

		if (g->transport == HRPC_ADMIN_TRANSPORT_IVSHMEM && !strcmp(g->name, name))
			return "a VM guest's name";
	}
	g_snprintf(own, sizeof(own), "guest-%u", id);
	if (hrpcd_guest_name_is_default(name) && strcmp(name, own))
		return "another guest's default name";
	return NULL;
}

guint hrpcd_guest_table_count(HrpcdGuestTable *t)
{
	return t->guests->len;
}

enum hrpc_admin_state hrpcd_guest_read_status(HrpcdGuest *g, struct hrpcd_status *out)
{
	hrpcd_status_read(g->status, out);
	/* Out of the table: nobody looks it up by name any more. */
	if (!g->named && out->peer[0] && g->table) {
		char name[HRPCD_GUEST_NAME_MAX];
		const char *why = NULL;

		/* The label is the guest's word: take it once, sanitised, and
		 * never a name that belongs to another guest (Names). */
		if (hrpcd_name_sanitize(out->peer, name, sizeof(name)) &&
		    !(why = hrpcd_guest_table_name_taken(g->table, name, g->id))) {
			hrpcd_log_guest(G_LOG_LEVEL_INFO, g->id, g->name,
					"known as %s from now on (its HELLO label)", name);
			g_strlcpy(g->name, name, sizeof(g->name));
		} else if (why)
			hrpcd_log_guest(G_LOG_LEVEL_WARNING, g->id, g->name,
					"process guest said HELLO as \"%s\", %s; it stays %s", name,
					why, g->name);
		g->named = TRUE;
	}
	if (g->remnant && g->worker_pid)
		return HRPC_ADMIN_STATE_REMNANT;
	if (g->stopping)
		return HRPC_ADMIN_STATE_STOPPING;
	if (!g->worker_pid)
		return HRPC_ADMIN_STATE_RESTARTING;
	if (out->state == HRPC_ADMIN_STATE_UNKNOWN)
		return HRPC_ADMIN_STATE_STARTING;
	return (enum hrpc_admin_state)out->state;
}
