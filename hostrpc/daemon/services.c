/* SPDX-License-Identifier: MIT */
/* services.c - the table of services every guest's worker offers. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <gio/gio.h>

#include "hostrpc/daemon/guest-policy.h"
#include "hostrpc/daemon/services.h"
#include "hostrpc/daemon/worker.h"
#include "outsource/sock/outsource-sock-glib.h" /* socket outsourcing (outsource/sock) */
#include "outsource/fs/outsource-fs.h"           /* filesystem outsourcing (outsource/fs) */
#include "outsource/mem/outsource-mem.h"         /* memory outsourcing (outsource/mem) */

static gboolean builtins_start(hrpc_server *srv, const HrpcdWorkerSpec *spec, gpointer *state,
			       GError **error)
{
	int rc = hrpc_server_register_builtins(srv);

	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc),
			    "cannot register the echo and stats services: %s", g_strerror(-rc));
		return FALSE;
	}
	return TRUE;
}

/*
 * A guest with a guests/ file (guest-policy.h): the text of its section
 * `sec` for that service (NULL: the file has none) and, in `*source`, what
 * names the policy in the service's messages - the file, or what the
 * missing section means: "ABSENT (FILE has no [SECTION])SUFFIX".
 */
static const char *guest_section(const HrpcdGuestPolicy *gp, HrpcdGuestSection sec,
				 const char *absent, const char *suffix, char **source)
{
	const char *text = gp->text[sec];

	*source = text ? g_strdup(gp->path)
		       : g_strdup_printf("%s (%s has no [%s])%s", absent, gp->path,
					 hrpcd_guest_section_name(sec), suffix);
	return text;
}

/* ---- socket outsourcing (outsource/sock, service 16) ---- */
static gboolean sock_start(hrpc_server *srv, const HrpcdWorkerSpec *spec, gpointer *state,
			   GError **error)
{
	/* A worker uid of the guest's own (sandbox.h): SO_REUSEPORT can only
	 * group the guest's own sockets. */
	g_autofree char *source = NULL;
	const HrpcdGuestPolicy *gp = spec->guest_policy;

	if (gp && gp->path) {
		const char *text = guest_section(gp, HRPCD_GUEST_SOCKETS, "built-in default", "",
						 &source);

		*state = outsource_sock_service_start_text(srv, spec->guest_id, spec->name, text,
							   source, spec->audit_fd,
							   spec->uid != (uid_t)-1, error);
	} else {
		*state = outsource_sock_service_start(srv, spec->guest_id, spec->name,
						      spec->sock_policy_dir, spec->audit_fd,
						      spec->uid != (uid_t)-1, error);
	}
	return *state != NULL;
}

static void sock_stop(gpointer state)
{
	outsource_sock_service_stop(state);
}
/* ---- end socket outsourcing ---- */

/* ---- filesystem outsourcing (outsource/fs, service 17) ---- */
static gboolean fs_start(hrpc_server *srv, const HrpcdWorkerSpec *spec, gpointer *state,
			 GError **error)
{
	g_autofree char *source = NULL;
	const HrpcdGuestPolicy *gp = spec->guest_policy;

	if (gp && gp->path) {
		const char *text = guest_section(gp, HRPCD_GUEST_EXPORTS, "none", ": no exports",
						 &source);

		*state = outsource_fs_service_start_text(srv, spec->guest_id, spec->name, text,
							 source, spec->audit_fd, error);
	} else {
		*state = outsource_fs_service_start(srv, spec->guest_id, spec->name,
						    spec->fs_policy_dir, spec->audit_fd, error);
	}
	return *state != NULL;
}

static void fs_stop(gpointer state)
{
	outsource_fs_service_stop(state);
}
/* ---- end filesystem outsourcing ---- */

/* ---- memory outsourcing (outsource/mem, service 18) ---- */
static gboolean mem_start(hrpc_server *srv, const HrpcdWorkerSpec *spec, gpointer *state,
			  GError **error)
{
	g_autofree char *source = NULL;
	const HrpcdGuestPolicy *gp = spec->guest_policy;

	if (gp && gp->path) {
		const char *text = guest_section(gp, HRPCD_GUEST_MEMORY, "none", "", &source);

		*state = outsource_mem_service_start_text(srv, spec->guest_id, spec->name, text,
							  source, spec->mem_adopt, spec->audit_fd,
							  error);
	} else {
		*state = outsource_mem_service_start(srv, spec->guest_id, spec->name,
						     spec->mem_policy_dir, spec->mem_adopt,
						     spec->audit_fd, error);
	}
	return *state != NULL;
}

static void mem_stop(gpointer state)
{
	outsource_mem_service_stop(state);
}
/* ---- end memory outsourcing ---- */

/* Stopped in reverse.  Filesystems before sockets: a guest with exports
 * keeps its worker uid 0 (sandbox.h), which the socket service must know
 * (SO_REUSEPORT groups only the worker's own uid's sockets). */
static const HrpcdService service_table[] = {
	{ "builtins (echo, stats)", builtins_start, NULL },
	{ "filesystems (outsource/fs)", fs_start, fs_stop },
	{ "sockets (outsource/sock)", sock_start, sock_stop },
	{ "memory (outsource/mem)", mem_start, mem_stop },
};

struct _HrpcdServices {
	guint started;
	gpointer state[G_N_ELEMENTS(service_table)];
};

HrpcdServices *hrpcd_services_start(hrpc_server *srv, const HrpcdWorkerSpec *spec,
				    GError **error)
{
	g_autoptr(HrpcdServices) svcs = g_new0(HrpcdServices, 1);
	g_auto(HrpcdGuestPolicy) gp = { 0 };
	HrpcdWorkerSpec s = *spec;

	/* Read here, before the sandbox, as each service reads its own dir. */
	if (!hrpcd_guest_policy_load(&gp, spec->guest_policy_dir, spec->name, error))
		return NULL;
	if (gp.skipped)
		g_info("guest %s: %s has no section: the per-service policy directories apply",
		       spec->name, gp.skipped);
	s.guest_policy = &gp;
	for (guint i = 0; i < G_N_ELEMENTS(service_table); i++) {
		guint32 allow;

		/* What the worker will be: uid 0 kept for a guest with exports. */
		if (service_table[i].start == sock_start && hrpcd_services_fs_exports(svcs, &allow))
			s.uid = (uid_t)-1;
		if (!service_table[i].start(srv, &s, &svcs->state[i], error)) {
			g_prefix_error(error, "%s: ", service_table[i].name);
			return NULL;
		}
		svcs->started = i + 1;
	}
	return g_steal_pointer(&svcs);
}

void hrpcd_services_stop(HrpcdServices *svcs)
{
	if (!svcs)
		return;
	for (guint i = svcs->started; i-- > 0;)
		if (service_table[i].stop)
			service_table[i].stop(svcs->state[i]);
	g_free(svcs);
}

OutsourceSockService *hrpcd_services_sock(HrpcdServices *svcs)
{
	if (!svcs)
		return NULL;
	for (guint i = 0; i < svcs->started; i++)
		if (service_table[i].start == sock_start)
			return svcs->state[i];
	return NULL;
}

OutsourceFsService *hrpcd_services_fs(HrpcdServices *svcs)
{
	for (guint i = 0; svcs && i < svcs->started; i++)
		if (service_table[i].start == fs_start)
			return svcs->state[i];
	return NULL;
}

guint hrpcd_services_fs_exports(HrpcdServices *svcs, guint32 *allow)
{
	*allow = 0;
	for (guint i = 0; svcs && i < svcs->started; i++)
		if (service_table[i].start == fs_start)
			return outsource_fs_service_exports(svcs->state[i], allow);
	return 0;
}

int hrpcd_services_list_files(HrpcdServices *svcs, gboolean json, char **text, gsize *len)
{
	*text = NULL;
	*len = 0;
	for (guint i = 0; svcs && i < svcs->started; i++)
		if (service_table[i].start == fs_start && svcs->state[i]) {
			*text = outsource_fs_service_listing(svcs->state[i], json, len);
			return *text ? 0 : -ENOMEM;
		}
	return -ENODATA;
}

int hrpcd_services_list_sockets(HrpcdServices *svcs, gboolean json, char **text, gsize *len)
{
	*text = NULL;
	*len = 0;
	if (!svcs)
		return -ENODATA;
	for (guint i = 0; i < svcs->started; i++)
		if (service_table[i].start == sock_start && svcs->state[i]) {
			*text = outsource_sock_service_listing(svcs->state[i], json, len);
			return *text ? 0 : -ENOMEM;
		}
	return -ENODATA;
}

OutsourceMemService *hrpcd_services_mem(HrpcdServices *svcs)
{
	for (guint i = 0; svcs && i < svcs->started; i++)
		if (service_table[i].start == mem_start)
			return svcs->state[i];
	return NULL;
}
