/* SPDX-License-Identifier: MIT */
/* guest-table.c - the supervisor's guests, sorted by id (guest-table.h). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include "hostrpc/daemon/guest-table.h"

struct _HrpcdGuestTable {
	GPtrArray *guests;   /* HrpcdGuest *, ascending id */
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
	hrpcd_guest_unref(g);
}

HrpcdGuestTable *hrpcd_guest_table_new(guint max_guests)
{
	HrpcdGuestTable *t = g_new0(HrpcdGuestTable, 1);

	t->guests = g_ptr_array_new_with_free_func((GDestroyNotify)guest_leave);
	t->max = max_guests;
	t->next_id = 1;
	return t;
}

void hrpcd_guest_table_free(HrpcdGuestTable *t)
{
	if (!t)
		return;
	g_ptr_array_unref(t->guests);
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
	g->status = hrpcd_status_new(&g->status_fd);
	if (!g->status) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot map a status page: %s", g_strerror(errno));
		g_free(g);
		return NULL;
	}
	g->id = take_id(t);
	g->transport = transport;
	g->peer_pid = peer_pid;
	g->connected_us = g_get_monotonic_time();
	if (name) {
		g_strlcpy(g->name, name, sizeof(g->name));
		g->named = TRUE;
	} else {
		g_snprintf(g->name, sizeof(g->name), "guest-%u", g->id);
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
	for (guint i = 0; i < t->guests->len; i++) {
		HrpcdGuest *g = g_ptr_array_index(t->guests, i);

		if (!strcmp(g->name, name))
			return g;
	}
	return NULL;
}

guint hrpcd_guest_table_count(HrpcdGuestTable *t)
{
	return t->guests->len;
}

enum hrpc_admin_state hrpcd_guest_read_status(HrpcdGuest *g, struct hrpcd_status *out)
{
	hrpcd_status_read(g->status, out);
	if (!g->named && out->peer[0]) {
		char name[HRPCD_GUEST_NAME_MAX];

		/* The label is the guest's word: take it once, sanitised. */
		if (hrpcd_name_sanitize(out->peer, name, sizeof(name)))
			g_strlcpy(g->name, name, sizeof(g->name));
		g->named = TRUE;
	}
	if (g->stopping)
		return HRPC_ADMIN_STATE_STOPPING;
	if (!g->worker_pid)
		return HRPC_ADMIN_STATE_RESTARTING;
	if (out->state == HRPC_ADMIN_STATE_UNKNOWN)
		return HRPC_ADMIN_STATE_STARTING;
	return (enum hrpc_admin_state)out->state;
}
