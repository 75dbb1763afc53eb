/* SPDX-License-Identifier: MIT */
/*
 * options.c - hostrpcd's settings from the command line and hostrpcd.conf.
 *
 * One table of rows, each a GOptionEntry whose arg_data is an offset into
 * HrpcdOptions: the command line is parsed into one struct, each key of the
 * file, turned into "--key=value", by the same entry into another, and the
 * two merged row by row (command line first).  So a value means the same in
 * both places and is checked by the same code (check()).
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include "hostrpc/daemon/ivshmem-server.h"
#include "hostrpc/daemon/options.h"
#include "hostrpc/daemon/sandbox.h"
#include "hostrpc/daemon/worker.h"

#define DEFAULT_SOCKET       RUNSTATEDIR "/hostrpc/hostrpcd.sock"
#define DEFAULT_ADMIN_SOCKET RUNSTATEDIR "/hostrpc/admin.sock"
#define DEFAULT_STATE_DIR    LOCALSTATEDIR "/lib/hostrpc"
#define DEFAULT_ENDPOINT_DIR RUNSTATEDIR "/hostrpc/ivshmem"

G_DEFINE_QUARK(hrpcd-options-error-quark, hrpcd_options_error)

/* "auto" polling (worker.h, "Polling"): on with 4 or more online CPUs; with
 * fewer, a spinning worker takes the core a guest's vCPU thread needs (the
 * 2-core case measured in issue 11), so it stays off unless asked for. */
#define POLL_AUTO_US 200

typedef struct {
	GOptionEntry e;      /* arg_data: offset into HrpcdOptions */
	const char *def;     /* the default as people read it; NULL: print the value */
	gboolean action;     /* command line only: not a key of the file */
} Row;

#define OFF(f) GSIZE_TO_POINTER(G_STRUCT_OFFSET(HrpcdOptions, f))

static const Row rows[] = {
	{ { "socket", 's', 0, G_OPTION_ARG_FILENAME, OFF(socket_path),
	    "Process-guest socket (default " DEFAULT_SOCKET ")", "PATH" }, DEFAULT_SOCKET },
	{ { "no-process-guests", 0, 0, G_OPTION_ARG_NONE, OFF(no_process_guests),
	    "Do not listen for process guests", NULL } },
	{ { "xen", 0, 0, G_OPTION_ARG_NONE, OFF(xen),
	    "Serve this Xen host's domUs (run in dom0): a hostrpc xenbus device "
	    "for each, a worker once its frontend connects", NULL } },
	{ { "admin-socket", 'a', 0, G_OPTION_ARG_FILENAME, OFF(admin_path),
	    "Admin socket for hostrpcctl (default " DEFAULT_ADMIN_SOCKET ")", "PATH" },
	  DEFAULT_ADMIN_SOCKET },
	{ { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, OFF(state_dir),
	    "State directory; workers run in it (default " DEFAULT_STATE_DIR ")", "DIR" },
	  DEFAULT_STATE_DIR },
	{ { "ivshmem", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, OFF(ivshmem),
	    "ivshmem server socket for guest NAME (repeatable; a bare SOCKPATH "
	    "names the guest after the file)", "NAME=SOCKPATH" } },
	{ { "ivshmem-size", 0, 0, G_OPTION_ARG_STRING, OFF(ivshmem_size),
	    "Shared memory per ivshmem guest, a power of two (default 32M)", "SIZE" }, "32M" },
	{ { "libvirt", 0, 0, G_OPTION_ARG_STRING, OFF(libvirt_uri),
	    "Follow the libvirt domains at URI (e.g. qemu:///system): an ivshmem endpoint "
	    "for each hostrpc device in their XML", "URI" } },
	{ { "endpoint-dir", 0, 0, G_OPTION_ARG_FILENAME, OFF(endpoint_dir),
	    "Where libvirt domains' endpoints live (default " DEFAULT_ENDPOINT_DIR ")", "DIR" },
	  DEFAULT_ENDPOINT_DIR },
	{ { "max-guests", 0, 0, G_OPTION_ARG_INT, OFF(max_guests),
	    "Refuse guests beyond this many (default 256)", "N" }, "256" },
	{ { "hello-timeout", 0, 0, G_OPTION_ARG_INT, OFF(hello_timeout),
	    "Drop a process guest that has not said HELLO after SECS (default 10)", "SECS" },
	  "10" },
	{ { "endpoint-group", 0, 0, G_OPTION_ARG_STRING, OFF(endpoint_group),
	    "ivshmem endpoint sockets are 0660 for GROUP (QEMU's group under libvirt), "
	    "not owner-only", "GROUP" } },
	{ { "worker-uid-base", 0, 0, G_OPTION_ARG_INT64, OFF(worker_uid_base),
	    "Guest N's worker runs as uid and gid BASE + N % 65536 (default 2130706432 "
	    "when run as root; 0: the daemon's own)", "BASE" } },
	{ { "audit-log-max", 0, 0, G_OPTION_ARG_STRING, OFF(audit_max),
	    "Rotate a guest's socket audit log at this size (default 1M)", "SIZE" }, "1M" },
	{ { "audit-rate", 0, 0, G_OPTION_ARG_INT, OFF(audit_rate),
	    "Socket audit lines a second per guest; the rest are counted (default 100)", "N" },
	  "100" },
	{ { "guest-policy-dir", 0, 0, G_OPTION_ARG_FILENAME, OFF(guest_policy_dir),
	    "A guest's whole policy: DIR/NAME.conf, else DIR/default.conf, with sections "
	    "[sockets], [exports], [memory]; when there, the three dirs below are not used "
	    "for that guest (default " SYSCONFDIR "/hostrpc/guests)", "DIR" },
	  SYSCONFDIR "/hostrpc/guests" },
	{ { "sock-policy-dir", 0, 0, G_OPTION_ARG_FILENAME, OFF(sock_policy_dir),
	    "Socket policies: DIR/NAME.conf, else DIR/default.conf, else the built-in "
	    "default (default " SYSCONFDIR "/hostrpc/sock)", "DIR" }, SYSCONFDIR "/hostrpc/sock" },
	{ { "fs-policy-dir", 0, 0, G_OPTION_ARG_FILENAME, OFF(fs_policy_dir),
	    "Filesystem exports (outsource/fs/policy.h): DIR/NAME.conf, else "
	    "DIR/default.conf, else none (default " SYSCONFDIR "/hostrpc/fs)", "DIR" },
	  SYSCONFDIR "/hostrpc/fs" },
	{ { "mem-policy-dir", 0, 0, G_OPTION_ARG_FILENAME, OFF(mem_policy_dir),
	    "Memory regions (outsource/mem/outsource-mem.h): DIR/NAME.conf, else "
	    "DIR/default.conf, else none (default " SYSCONFDIR "/hostrpc/mem)", "DIR" },
	  SYSCONFDIR "/hostrpc/mem" },
	{ { "mem-pool-mib", 0, 0, G_OPTION_ARG_INT, OFF(mem_pool_mib),
	    "Balance host-owned memory across guests: all grants together at most MIB "
	    "(default 0: no balancing; outsource/mem/balance.h)", "MIB" } },
	{ { "mem-balance-step-mib", 0, 0, G_OPTION_ARG_INT, OFF(mem_balance_step_mib),
	    "What one balancing action moves (default 64); a guest with less than a "
	    "quarter of it unused is under pressure, one with more than half has slack",
	    "MIB" } },
	{ { "mem-balance-ms", 0, 0, G_OPTION_ARG_INT, OFF(mem_balance_ms),
	    "How often balancing looks at the guests (default 1000)", "MS" } },
	{ { "mem-balloon-min-mib", 0, 0, G_OPTION_ARG_INT, OFF(mem_balloon_min_mib),
	    "With --libvirt: libvirt domains without the memory driver are balanced "
	    "through their virtio balloon, never below MIB (default 256)", "MIB" } },
	{ { "sock-audit-dir", 0, 0, G_OPTION_ARG_FILENAME, OFF(sock_audit_dir),
	    "Socket audit logs DIR/NAME.sock.log, written by the daemon (default "
	    "STATE_DIR/sock-audit)", "DIR" }, "STATE_DIR/sock-audit" },
	{ { "migrate-socket", 0, 0, G_OPTION_ARG_FILENAME, OFF(migrate_socket),
	    "Where hostrpc-migrate reaches a guest's worker on this (source) host "
	    "(default STATE_DIR/migrate.sock, mode 0600)", "PATH" }, "STATE_DIR/migrate.sock" },
	{ { "migrate-listen", 0, 0, G_OPTION_ARG_STRING, OFF(migrate_listen),
	    "Accept incoming migrations of guests whose QEMU waits here (-incoming) on "
	    "this TCP address; needs --migrate-key", "HOST:PORT" } },
	{ { "migrate-key", 0, 0, G_OPTION_ARG_FILENAME, OFF(migrate_key),
	    "The per-pair key the source host's hostrpc-migrate must prove (64 hex "
	    "digits, a file of mode 0600)", "FILE" } },
	{ { "poll", 0, 0, G_OPTION_ARG_STRING, OFF(poll),
	    "After serving calls a worker spins this long at most (adaptive) for the "
	    "guest's next call before it sleeps: auto (default: 200 on hosts with 4 or "
	    "more online CPUs, else off), off, or microseconds", "auto|off|US" }, "auto" },
	{ { "poll-spinners", 0, 0, G_OPTION_ARG_INT, OFF(poll_spinners),
	    "Most workers spinning at once (default: online CPUs / 2 - 1, at least 1)",
	    "N" }, "0" },
	{ { "no-fdstore", 0, 0, G_OPTION_ARG_NONE, OFF(no_fdstore),
	    "No fd holder: a restart of hostrpcd strands the QEMU guests attached", NULL } },
	{ { "fdstore-idle", 0, 0, G_OPTION_ARG_INT, OFF(fdstore_idle),
	    "A started fd holder exits after this long without a daemon when no guest "
	    "is attached (default 30)", "SECS" }, "30" },
	{ { "foreground", 'f', 0, G_OPTION_ARG_NONE, OFF(foreground),
	    "Stay in the foreground and log to stderr", NULL } },
	{ { "daemon", 0, 0, G_OPTION_ARG_NONE, OFF(daemon),
	    "Fork into the background once ready and log to syslog (the default "
	    "without --foreground)", NULL } },
	{ { "pidfile", 0, 0, G_OPTION_ARG_FILENAME, OFF(pidfile),
	    "Write the daemon's pid to PATH once it is ready; removed when it stops", "PATH" } },
	{ { "verbose", 'v', 0, G_OPTION_ARG_NONE, OFF(verbose), "Log debug messages", NULL } },
	/* Actions. */
	{ { "config", 'c', 0, G_OPTION_ARG_FILENAME, OFF(config),
	    "Configuration file (default " HRPCD_DEFAULT_CONFIG "; the command line wins "
	    "over it)", "FILE" }, NULL, TRUE },
	{ { "check-config", 0, 0, G_OPTION_ARG_NONE, OFF(check_config),
	    "Check the configuration, print every setting and where it came from, start "
	    "nothing", NULL }, NULL, TRUE },
	{ { "guest", 0, 0, G_OPTION_ARG_STRING, OFF(guest),
	    "With --check-config: also the policy file of guest NAME and its effective "
	    "policy, as the services parse it", "NAME" }, NULL, TRUE },
	{ { "fdstore-release", 0, 0, G_OPTION_ARG_NONE, OFF(fdstore_release),
	    "Make the fd holder of --state-dir close all it holds (attached QEMU guests "
	    "lose their channel for good) and exit; refused while a hostrpcd runs", NULL },
	  NULL, TRUE },
	{ { "version", 'V', 0, G_OPTION_ARG_NONE, OFF(version), "Print the version", NULL },
	  NULL, TRUE },
};
G_STATIC_ASSERT(G_N_ELEMENTS(rows) <= HRPCD_OPTIONS_MAX);

static gpointer field(const HrpcdOptions *o, const Row *r)
{
	return (char *)o + GPOINTER_TO_SIZE(r->e.arg_data);
}

/* The table pointing into *o (n rows from `first`), NULL-terminated. */
static GOptionEntry *entries_for(HrpcdOptions *o, guint first, guint n)
{
	GOptionEntry *e = g_new0(GOptionEntry, n + 1);

	for (guint i = 0; i < n; i++) {
		e[i] = rows[first + i].e;
		e[i].arg_data = field(o, &rows[first + i]);
	}
	return e;
}

void hrpcd_options_clear(HrpcdOptions *o)
{
	for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
		gpointer p = field(o, &rows[i]);

		switch (rows[i].e.arg) {
		case G_OPTION_ARG_STRING:
		case G_OPTION_ARG_FILENAME:
			g_clear_pointer((char **)p, g_free);
			break;
		case G_OPTION_ARG_STRING_ARRAY:
		case G_OPTION_ARG_FILENAME_ARRAY:
			g_clear_pointer((char ***)p, g_strfreev);
			break;
		default:
			break;
		}
	}
	g_clear_pointer(&o->config_used, g_free);
}

static void set_defaults(HrpcdOptions *o)
{
	o->worker_uid_base = -1;
	o->mem_balance_step_mib = 64;
	o->mem_balance_ms = 1000;
	o->mem_balloon_min_mib = 256;
}

/* Numbers not given on the command line stay at these. */
static void set_unset(HrpcdOptions *o)
{
	for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
		if (rows[i].e.arg == G_OPTION_ARG_INT)
			*(gint *)field(o, &rows[i]) = G_MININT;
		else if (rows[i].e.arg == G_OPTION_ARG_INT64)
			*(gint64 *)field(o, &rows[i]) = G_MININT64;
	}
}

static gboolean given(const HrpcdOptions *o, const Row *r)
{
	gpointer p = field(o, r);

	switch (r->e.arg) {
	case G_OPTION_ARG_NONE: return *(gboolean *)p;
	case G_OPTION_ARG_INT: return *(gint *)p != G_MININT;
	case G_OPTION_ARG_INT64: return *(gint64 *)p != G_MININT64;
	default: return *(gpointer *)p != NULL;
	}
}

/* dst's row gets src's value: moved (steal) or shared (a check's overlay,
 * never cleared). */
static void copy_row(HrpcdOptions *dst, HrpcdOptions *src, const Row *r, gboolean steal)
{
	gpointer d = field(dst, r), s = field(src, r);

	switch (r->e.arg) {
	case G_OPTION_ARG_NONE: *(gboolean *)d = *(gboolean *)s; break;
	case G_OPTION_ARG_INT: *(gint *)d = *(gint *)s; break;
	case G_OPTION_ARG_INT64: *(gint64 *)d = *(gint64 *)s; break;
	case G_OPTION_ARG_STRING_ARRAY:
	case G_OPTION_ARG_FILENAME_ARRAY:
		if (steal) {
			g_strfreev(*(char ***)d);
			*(char ***)d = g_steal_pointer((char ***)s);
		} else {
			*(char ***)d = *(char ***)s;
		}
		break;
	default:
		if (steal) {
			g_free(*(char **)d);
			*(char **)d = g_steal_pointer((char **)s);
		} else {
			*(char **)d = *(char **)s;
		}
		break;
	}
}

/* ---- the checks: one set for the command line and the file ---------------------- */

static gboolean parse_size(const char *s, guint64 *out, GError **error)
{
	char *end = NULL;
	guint64 v, mul = 1;

	errno = 0;
	v = g_ascii_strtoull(s, &end, 10);
	if (errno || end == s)
		goto bad;
	switch (g_ascii_toupper(*end)) {
	case 'K': mul = 1ull << 10; end++; break;
	case 'M': mul = 1ull << 20; end++; break;
	case 'G': mul = 1ull << 30; end++; break;
	default: break;
	}
	if (mul > 1 && (!g_ascii_strcasecmp(end, "iB") || !g_ascii_strcasecmp(end, "B")))
		end += strlen(end);
	if (*end || v > G_MAXUINT64 / mul)
		goto bad;
	*out = v * mul;
	return TRUE;
bad:
	g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "invalid size \"%s\"", s);
	return FALSE;
}

static gboolean poll_resolve(HrpcdOptions *o, GError **error)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	gint64 us;
	char *end;

	o->online_cpus = cpus > 0 ? cpus : 1;
	if (o->poll_spinners < 0) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--poll-spinners must not be negative");
		return FALSE;
	}
	if (!o->poll || g_str_equal(o->poll, "auto")) {
		us = o->online_cpus >= HRPCD_POLL_AUTO_MIN_CPUS ? POLL_AUTO_US : 0;
	} else if (g_str_equal(o->poll, "off")) {
		us = 0;
	} else {
		errno = 0;
		us = g_ascii_strtoll(o->poll, &end, 10);
		if (errno || end == o->poll || *end || us < 0 ||
		    us > HRPCD_POLL_MAX_NS / 1000) {
			g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--poll: \"%s\" is not auto, off or 0..%u microseconds", o->poll,
				    HRPCD_POLL_MAX_NS / 1000);
			return FALSE;
		}
	}
	o->poll_max_ns = (guint32)us * 1000;
	o->poll_spinners_n = o->poll_spinners ? (guint32)o->poll_spinners
			     : (guint32)MAX(1, o->online_cpus / 2 - 1);
	return TRUE;
}

/* Every check of a value, and the values derived from them.  Writes only
 * scalars (derived ones, worker_uid_base's default), so it can run on an
 * overlay that shares another struct's strings. */
static gboolean check(HrpcdOptions *o, GError **error)
{
	if (o->max_guests < 0) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--max-guests must not be negative");
		return FALSE;
	}
	o->endpoint_gid = 0;
	if (o->endpoint_group) {
		struct group *gr = getgrnam(o->endpoint_group);

		if (!gr || !gr->gr_gid) {
			g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--endpoint-group: no group \"%s\" (or it is root's)",
				    o->endpoint_group);
			return FALSE;
		}
		o->endpoint_gid = gr->gr_gid;
	}
	if (o->hello_timeout < 0) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--hello-timeout must not be negative");
		return FALSE;
	}
	if (o->worker_uid_base == -1)
		o->worker_uid_base = geteuid() == 0 ? HRPCD_SANDBOX_UID_BASE : 0;
	if (o->worker_uid_base < 0 ||
	    o->worker_uid_base > (gint64)G_MAXUINT32 - HRPCD_SANDBOX_UID_SPAN) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--worker-uid-base is out of range");
		return FALSE;
	}
	if (!poll_resolve(o, error))
		return FALSE;
	if (o->mem_pool_mib < 0 || o->mem_balance_step_mib < 2 || o->mem_balance_step_mib % 2 ||
	    o->mem_balance_ms < 10 || o->mem_balloon_min_mib < 0) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--mem-pool-mib must not be negative, --mem-balance-step-mib must "
				    "be a positive multiple of 2, --mem-balance-ms at least 10, "
				    "--mem-balloon-min-mib not negative");
		return FALSE;
	}
	if (o->audit_rate < 0) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--audit-rate must not be negative");
		return FALSE;
	}
	o->audit_max_bytes = 0;
	if (o->audit_max && !parse_size(o->audit_max, &o->audit_max_bytes, error))
		return FALSE;
	if (o->fdstore_idle < 0) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--fdstore-idle must not be negative");
		return FALSE;
	}
	if (o->migrate_listen && !o->migrate_key) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--migrate-listen needs --migrate-key");
		return FALSE;
	}
	if (o->daemon && o->foreground) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--daemon and --foreground exclude each other");
		return FALSE;
	}
#ifndef HAVE_LIBVIRT
	if (o->libvirt_uri) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
				    "--libvirt: hostrpcd was built without libvirt");
		return FALSE;
	}
#endif
	o->shm_size = HRPCD_IVSHMEM_DEFAULT_SIZE;
	if (o->ivshmem_size && (!parse_size(o->ivshmem_size, &o->shm_size, error) ||
				!hrpcd_ivshmem_size_valid(o->shm_size, error)))
		return FALSE;
	return TRUE;
}

static void absolutize(char **path)
{
	g_autofree char *cwd = NULL;
	char *abs;

	if (!*path || g_path_is_absolute(*path))
		return;
	cwd = g_get_current_dir();
	abs = g_build_filename(cwd, *path, NULL);
	g_free(*path);
	*path = abs;
}

/* ---- the file --------------------------------------------------------------------- */

typedef struct {
	guint row;
	guint line;
} FileKey;

static const Row *row_named(const char *key, guint *index)
{
	for (guint i = 0; i < G_N_ELEMENTS(rows); i++)
		if (!rows[i].action && !strcmp(rows[i].e.long_name, key)) {
			*index = i;
			return &rows[i];
		}
	return NULL;
}

static gboolean file_error(GError **error, const char *path, guint line, const char *key,
			   const char *why)
{
	if (line && key)
		g_set_error(error, HRPCD_OPTIONS_ERROR, HRPCD_OPTIONS_ERROR_FILE, "%s:%u: %s: %s",
			    path, line, key, why);
	else if (line)
		g_set_error(error, HRPCD_OPTIONS_ERROR, HRPCD_OPTIONS_ERROR_FILE, "%s:%u: %s",
			    path, line, why);
	else
		g_set_error(error, HRPCD_OPTIONS_ERROR, HRPCD_OPTIONS_ERROR_FILE, "%s: %s", path,
			    why);
	return FALSE;
}

/* The keys of `text` with their lines: GKeyFile gives neither lines nor a
 * word about unknown keys, so the structure is checked here first. */
static gboolean file_scan(const char *path, const char *text, GArray *keys, GError **error)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint seen[G_N_ELEMENTS(rows)] = { 0 };
	gboolean in_group = FALSE;

	for (guint i = 0; lines[i]; i++) {
		g_autofree char *l = g_strstrip(g_strdup(lines[i]));
		g_autofree char *key = NULL;
		const char *eq;
		FileKey fk;

		if (!*l || *l == '#')
			continue;
		if (*l == '[') {
			if (strcmp(l, "[hostrpcd]"))
				return file_error(error, path, i + 1, NULL,
						  "unknown group (the only one is [hostrpcd])");
			in_group = TRUE;
			continue;
		}
		eq = strchr(l, '=');
		if (!eq)
			return file_error(error, path, i + 1, NULL,
					  "not a key=value line, a [group] or a # comment");
		key = g_strstrip(g_strndup(l, (gsize)(eq - l)));
		if (!in_group)
			return file_error(error, path, i + 1, key, "key before [hostrpcd]");
		if (!row_named(key, &fk.row))
			return file_error(error, path, i + 1, key,
					  "unknown key (a long option of hostrpcd --help, "
					  "not an action)");
		if (seen[fk.row]) {
			g_autofree char *why = g_strdup_printf("given twice (first on line %u)",
							       seen[fk.row]);
			return file_error(error, path, i + 1, key, why);
		}
		fk.line = seen[fk.row] = i + 1;
		g_array_append_val(keys, fk);
	}
	return TRUE;
}

/* Each key of the file into *file through its own GOptionEntry. */
static gboolean file_parse(const char *path, const char *text, HrpcdOptions *file,
			   GArray *keys, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) e = NULL;

	if (!file_scan(path, text, keys, error))
		return FALSE;
	if (!g_key_file_load_from_data(kf, text, (gsize)-1, G_KEY_FILE_NONE, &e))
		return file_error(error, path, 0, NULL, e->message);
	for (guint k = 0; k < keys->len; k++) {
		const FileKey *fk = &g_array_index(keys, FileKey, k);
		const Row *r = &rows[fk->row];
		const char *key = r->e.long_name;
		GPtrArray *args;
		g_autoptr(GOptionContext) ctx = NULL;
		g_autofree GOptionEntry *ent = NULL;
		g_auto(GStrv) argv = NULL;

		if (r->e.arg == G_OPTION_ARG_NONE) {
			gboolean v = g_key_file_get_boolean(kf, "hostrpcd", key, &e);

			if (e)
				return file_error(error, path, fk->line, key,
						  "wants true or false");
			*(gboolean *)field(file, r) = v;
			continue;
		}
		args = g_ptr_array_new_with_free_func(g_free);
		g_ptr_array_add(args, g_strdup("hostrpcd"));
		if (r->e.arg == G_OPTION_ARG_FILENAME_ARRAY ||
		    r->e.arg == G_OPTION_ARG_STRING_ARRAY) {
			g_auto(GStrv) list = g_key_file_get_string_list(kf, "hostrpcd", key, NULL,
									&e);

			if (e) {
				g_ptr_array_free(args, TRUE);
				return file_error(error, path, fk->line, key, e->message);
			}
			for (guint i = 0; list[i]; i++)
				g_ptr_array_add(args, g_strdup_printf("--%s=%s", key, list[i]));
		} else {
			g_autofree char *v = g_key_file_get_string(kf, "hostrpcd", key, &e);

			if (e) {
				g_ptr_array_free(args, TRUE);
				return file_error(error, path, fk->line, key, e->message);
			}
			g_ptr_array_add(args, g_strdup_printf("--%s=%s", key, v));
		}
		g_ptr_array_add(args, NULL);
		g_ptr_array_set_free_func(args, NULL);
		argv = (char **)g_ptr_array_free(args, FALSE);
		ctx = g_option_context_new(NULL);
		g_option_context_set_help_enabled(ctx, FALSE);
		ent = entries_for(file, fk->row, 1);
		g_option_context_add_main_entries(ctx, ent, NULL);
		if (!g_option_context_parse_strv(ctx, &argv, &e))
			return file_error(error, path, fk->line, key, e->message);
	}
	return TRUE;
}

/* The file's values, each alone on the defaults, then all together,
 * through check(): an error names the key (and line) it is about. */
static gboolean file_check(const char *path, HrpcdOptions *file, GArray *keys, GError **error)
{
	HrpcdOptions all = { 0 };
	g_autoptr(GError) e = NULL;

	set_defaults(&all);
	for (guint k = 0; k < keys->len; k++) {
		const FileKey *fk = &g_array_index(keys, FileKey, k);
		HrpcdOptions one = { 0 };

		set_defaults(&one);
		copy_row(&one, file, &rows[fk->row], FALSE);
		copy_row(&all, file, &rows[fk->row], FALSE);
		if (!check(&one, &e))
			return file_error(error, path, fk->line, rows[fk->row].e.long_name,
					  e->message);
	}
	if (!check(&all, &e))
		return file_error(error, path, 0, NULL, e->message);
	return TRUE;
}

gboolean hrpcd_options_load(HrpcdOptions *o, int argc, char **argv, GError **error)
{
	g_auto(HrpcdOptions) cli = { 0 };
	g_auto(HrpcdOptions) file = { 0 };
	g_autoptr(GOptionContext) ctx = g_option_context_new("- Host RPC daemon");
	g_autofree GOptionEntry *ent = entries_for(&cli, 0, G_N_ELEMENTS(rows));
	g_autoptr(GArray) keys = g_array_new(FALSE, FALSE, sizeof(FileKey));
	g_auto(GStrv) args = g_new0(char *, argc + 1);
	g_autofree char *text = NULL;
	g_autoptr(GError) e = NULL;
	const char *path;
	gboolean in_file[G_N_ELEMENTS(rows)] = { 0 };

	for (int i = 0; i < argc; i++)
		args[i] = g_strdup(argv[i]);
	set_unset(&cli);
	g_option_context_add_main_entries(ctx, ent, NULL);
	g_option_context_set_summary(ctx,
		"Serves Host RPC to guests: process guests on a unix socket (memfd\n"
		"transport) and QEMU guests through ivshmem-doorbell endpoints.\n"
		"Each guest is served by its own worker process.  Settings come from\n"
		"the command line and, for what it does not say, the configuration\n"
		"file: each long option is a key of its [hostrpcd] group.");
	if (!g_option_context_parse_strv(ctx, &args, error))
		return FALSE;
	if (g_strv_length(args) > 1) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
			    "unexpected argument \"%s\"", args[1]);
		return FALSE;
	}
	if (cli.guest && !cli.check_config) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
				    "--guest goes with --check-config");
		return FALSE;
	}

	/* The file: the default one may be missing, a named one not. */
	path = cli.config ? cli.config : HRPCD_DEFAULT_CONFIG;
	if (!cli.version && !g_file_get_contents(path, &text, NULL, &e)) {
		if (cli.config || !g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
			g_set_error(error, HRPCD_OPTIONS_ERROR, HRPCD_OPTIONS_ERROR_FILE,
				    "configuration file: %s", e->message);
			return FALSE;
		}
		g_clear_error(&e);
	}
	if (text) {
		if (!file_parse(path, text, &file, keys, error) ||
		    !file_check(path, &file, keys, error))
			return FALSE;
		for (guint k = 0; k < keys->len; k++)
			in_file[g_array_index(keys, FileKey, k).row] = TRUE;
	}

	/* Merge: the command line, else the file, else the default. */
	hrpcd_options_clear(o);
	memset(o, 0, sizeof(*o));
	set_defaults(o);
	o->config_used = text ? g_strdup(path) : NULL;
	for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
		if (rows[i].action || given(&cli, &rows[i])) {
			copy_row(o, &cli, &rows[i], TRUE);
			o->source[i] = rows[i].action ? HRPCD_OPT_DEFAULT : HRPCD_OPT_CMDLINE;
		} else if (in_file[i]) {
			copy_row(o, &file, &rows[i], TRUE);
			o->source[i] = HRPCD_OPT_FILE;
		}
	}
	/* --daemon and --foreground are one setting: the command line's one
	 * wins over the file's other. */
	for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
		if (cli.foreground && field(o, &rows[i]) == (gpointer)&o->daemon && !cli.daemon) {
			o->daemon = FALSE;
			o->source[i] = HRPCD_OPT_CMDLINE;
		}
		if (cli.daemon && field(o, &rows[i]) == (gpointer)&o->foreground && !cli.foreground) {
			o->foreground = FALSE;
			o->source[i] = HRPCD_OPT_CMDLINE;
		}
	}
	if (!check(o, error))
		return FALSE;
	/* Workers run in the state directory: a relative path handed to
	 * them would point elsewhere.  The pid file, removed at exit, the
	 * same. */
	absolutize(&o->sock_policy_dir);
	absolutize(&o->fs_policy_dir);
	absolutize(&o->mem_policy_dir);
	absolutize(&o->guest_policy_dir);
	absolutize(&o->sock_audit_dir);
	absolutize(&o->migrate_socket);
	absolutize(&o->migrate_key);
	absolutize(&o->pidfile);
	if (!o->socket_path && !o->no_process_guests)
		o->socket_path = g_strdup(DEFAULT_SOCKET);
	if (!o->admin_path)
		o->admin_path = g_strdup(DEFAULT_ADMIN_SOCKET);
	if (!o->state_dir)
		o->state_dir = g_strdup(DEFAULT_STATE_DIR);
	if (!o->endpoint_dir)
		o->endpoint_dir = g_strdup(DEFAULT_ENDPOINT_DIR);
	return TRUE;
}

/* ---- showing them ---------------------------------------------------------------- */

static char *row_value(const HrpcdOptions *o, guint i)
{
	const Row *r = &rows[i];
	gpointer p = field(o, r);

	switch (r->e.arg) {
	case G_OPTION_ARG_NONE: return g_strdup(*(gboolean *)p ? "true" : "false");
	case G_OPTION_ARG_INT: return g_strdup_printf("%d", *(gint *)p);
	case G_OPTION_ARG_INT64: return g_strdup_printf("%" G_GINT64_FORMAT, *(gint64 *)p);
	case G_OPTION_ARG_STRING_ARRAY:
	case G_OPTION_ARG_FILENAME_ARRAY:
		return *(char ***)p ? g_strjoinv(";", *(char ***)p) : g_strdup("");
	default:
		return g_strdup(*(char **)p ? *(char **)p : "");
	}
}

void hrpcd_options_print(const HrpcdOptions *o, FILE *f)
{
	static const char *const from[] = { "default", "file", "command line" };

	if (o->config_used)
		fprintf(f, "# configuration file: %s\n", o->config_used);
	else
		fprintf(f, "# configuration file: none (%s is not there): defaults and the "
			"command line\n", o->config ? o->config : HRPCD_DEFAULT_CONFIG);
	fprintf(f, "[hostrpcd]\n");
	for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autofree char *v = NULL;
		g_autofree char *kv = NULL;

		if (rows[i].action)
			continue;
		/* A default the daemon fills in later is shown as documented. */
		v = o->source[i] == HRPCD_OPT_DEFAULT && rows[i].def ? g_strdup(rows[i].def)
			: row_value(o, i);
		kv = g_strdup_printf("%s=%s", rows[i].e.long_name, v);
		fprintf(f, "%-56s # %s\n", kv, from[o->source[i]]);
	}
	if (o->poll_max_ns)
		fprintf(f, "# polling: up to %u us, %u worker(s) at once (%ld online CPUs)\n",
			o->poll_max_ns / 1000, o->poll_spinners_n, o->online_cpus);
	else
		fprintf(f, "# polling: off (%ld online CPUs)\n", o->online_cpus);
}

char **hrpcd_options_diff(const HrpcdOptions *a, const HrpcdOptions *b)
{
	GPtrArray *keys = g_ptr_array_new();

	for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autofree char *va = NULL, *vb = NULL;

		if (rows[i].action)
			continue;
		va = row_value(a, i);
		vb = row_value(b, i);
		if (strcmp(va, vb))
			g_ptr_array_add(keys, g_strdup(rows[i].e.long_name));
	}
	g_ptr_array_add(keys, NULL);
	return (char **)g_ptr_array_free(keys, FALSE);
}
