/* SPDX-License-Identifier: MIT */
/*
 * hostrpcd - the per-host Host RPC daemon: options, daemonising, signals.
 * The work is done by the supervisor (supervisor.c), the per-guest workers
 * (worker.c), the fd holder (fdstore.c) and the admin service (admin.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "hostrpc/daemon/admin.h"
#include "hostrpc/daemon/mem-balance.h"
#ifdef HAVE_LIBVIRT
#include "hostrpc/daemon/libvirt-domains.h"
#endif
#include "hostrpc/daemon/fdstore.h"
#include "hostrpc/daemon/ivshmem-server.h"
#include "hostrpc/daemon/log.h"
#include "hostrpc/daemon/migrate-doors.h"
#include "migrate/link.h"
#include "hostrpc/daemon/sandbox.h"
#include "hostrpc/daemon/supervisor.h"
#include "hostrpc/daemon/worker.h"

#define DEFAULT_SOCKET       RUNSTATEDIR "/hostrpc/hostrpcd.sock"
#define DEFAULT_ADMIN_SOCKET RUNSTATEDIR "/hostrpc/admin.sock"
#define DEFAULT_STATE_DIR    LOCALSTATEDIR "/lib/hostrpc"
#define DEFAULT_ENDPOINT_DIR RUNSTATEDIR "/hostrpc/ivshmem"

typedef struct {
	char *socket_path;
	char *admin_path;
	char *state_dir;
	char **ivshmem;      /* NAME=SOCKPATH */
	char *ivshmem_size;
	guint64 shm_size;    /* parsed ivshmem_size */
	char *libvirt_uri;
	char *endpoint_dir;
	gint max_guests;
	gint64 worker_uid_base;  /* -1: the default (sandbox.h) when root */
	char *audit_max;
	guint64 audit_max_bytes; /* parsed audit_max */
	gint audit_rate;
	char *sock_policy_dir;
	char *fs_policy_dir;
	char *mem_policy_dir;
	gint mem_pool_mib;       /* 0: no balancing */
	gint mem_balance_step_mib;
	gint mem_balance_ms;
	gint mem_balloon_min_mib;
	char *sock_audit_dir;
	char *migrate_socket;    /* the port for hostrpc-migrate (migrate-doors.h) */
	char *migrate_listen;    /* HOST:PORT for incoming migrations */
	char *migrate_key;       /* their per-pair key */
	gint hello_timeout;
	char *poll;              /* auto, off or microseconds */
	gint poll_spinners;
	guint32 poll_max_ns;     /* parsed poll */
	guint32 poll_spinners_n; /* resolved */
	long online_cpus;
	char *endpoint_group;
	gid_t endpoint_gid;      /* resolved endpoint_group; 0: none */
	gint fdstore_idle;
	gboolean no_fdstore;
	gboolean fdstore_release;
	gboolean no_process_guests;
	gboolean xen;
	gboolean foreground;
	gboolean verbose;
	gboolean version;
} Options;

static void options_clear(Options *o)
{
	g_free(o->socket_path);
	g_free(o->admin_path);
	g_free(o->state_dir);
	g_free(o->audit_max);
	g_free(o->sock_policy_dir);
	g_free(o->fs_policy_dir);
	g_free(o->mem_policy_dir);
	g_free(o->sock_audit_dir);
	g_free(o->migrate_socket);
	g_free(o->migrate_listen);
	g_free(o->migrate_key);
	g_free(o->poll);
	g_strfreev(o->ivshmem);
	g_free(o->ivshmem_size);
	g_free(o->libvirt_uri);
	g_free(o->endpoint_group);
	g_free(o->endpoint_dir);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Options, options_clear)

/* "8M", "8MiB", "1G", "4096": bytes. */
/*
 * --poll: a worker's spin budget after activity (worker.h, "Polling").
 * auto: on with 4 or more online CPUs; with fewer, a spinning worker takes
 * the core a guest's vCPU thread needs (the 2-core case measured in
 * issue 11), so it stays off unless asked for.
 */
#define POLL_AUTO_US 200
#define POLL_AUTO_MIN_CPUS 4

static gboolean poll_resolve(Options *o, GError **error)
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
		us = o->online_cpus >= POLL_AUTO_MIN_CPUS ? POLL_AUTO_US : 0;
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

/* A key that does not load fails the start, not the first migration. */
static gboolean check_migrate_key(const char *path, GError **error)
{
	guint8 key[MIG_KEY_SIZE];
	const char *why = NULL;
	int rc = mig_key_load(path, key, &why);

	memset(key, 0, sizeof(key));
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc), "--migrate-key %s: %s",
			    path, why ? why : g_strerror(-rc));
		return FALSE;
	}
	return TRUE;
}

static gboolean parse_options(int argc, char **argv, Options *o, GError **error)
{
	GOptionEntry entries[] = {
		{ "socket", 's', 0, G_OPTION_ARG_FILENAME, &o->socket_path,
		  "Process-guest socket (default " DEFAULT_SOCKET ")", "PATH" },
		{ "no-process-guests", 0, 0, G_OPTION_ARG_NONE, &o->no_process_guests,
		  "Do not listen for process guests", NULL },
		{ "xen", 0, 0, G_OPTION_ARG_NONE, &o->xen,
		  "Serve this Xen host's domUs (run in dom0): a hostrpc xenbus device "
		  "for each, a worker once its frontend connects", NULL },
		{ "admin-socket", 'a', 0, G_OPTION_ARG_FILENAME, &o->admin_path,
		  "Admin socket for hostrpcctl (default " DEFAULT_ADMIN_SOCKET ")", "PATH" },
		{ "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->state_dir,
		  "State directory; workers run in it (default " DEFAULT_STATE_DIR ")", "DIR" },
		{ "ivshmem", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, &o->ivshmem,
		  "ivshmem server socket for guest NAME (repeatable; a bare SOCKPATH "
		  "names the guest after the file)", "NAME=SOCKPATH" },
		{ "ivshmem-size", 0, 0, G_OPTION_ARG_STRING, &o->ivshmem_size,
		  "Shared memory per ivshmem guest, a power of two (default 32M)", "SIZE" },
		{ "libvirt", 0, 0, G_OPTION_ARG_STRING, &o->libvirt_uri,
		  "Follow the libvirt domains at URI (e.g. qemu:///system): an ivshmem endpoint "
		  "for each hostrpc device in their XML", "URI" },
		{ "endpoint-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->endpoint_dir,
		  "Where libvirt domains' endpoints live (default " DEFAULT_ENDPOINT_DIR ")", "DIR" },
		{ "max-guests", 0, 0, G_OPTION_ARG_INT, &o->max_guests,
		  "Refuse guests beyond this many (default 256)", "N" },
		{ "hello-timeout", 0, 0, G_OPTION_ARG_INT, &o->hello_timeout,
		  "Drop a process guest that has not said HELLO after SECS (default 10)", "SECS" },
		{ "endpoint-group", 0, 0, G_OPTION_ARG_STRING, &o->endpoint_group,
		  "ivshmem endpoint sockets are 0660 for GROUP (QEMU's group under libvirt), "
		  "not owner-only", "GROUP" },
		{ "worker-uid-base", 0, 0, G_OPTION_ARG_INT64, &o->worker_uid_base,
		  "Guest N's worker runs as uid and gid BASE + N % 65536 (default 2130706432 "
		  "when run as root; 0: the daemon's own)", "BASE" },
		{ "audit-log-max", 0, 0, G_OPTION_ARG_STRING, &o->audit_max,
		  "Rotate a guest's socket audit log at this size (default 1M)", "SIZE" },
		{ "audit-rate", 0, 0, G_OPTION_ARG_INT, &o->audit_rate,
		  "Socket audit lines a second per guest; the rest are counted (default 100)", "N" },
		{ "sock-policy-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->sock_policy_dir,
		  "Socket policies: DIR/NAME.conf, else DIR/default.conf, else the built-in "
		  "default (default " SYSCONFDIR "/hostrpc/sock)", "DIR" },
		{ "fs-policy-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->fs_policy_dir,
		  "Filesystem exports (outsource/fs/policy.h): DIR/NAME.conf, else "
		  "DIR/default.conf, else none (default " SYSCONFDIR "/hostrpc/fs)", "DIR" },
		{ "mem-policy-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->mem_policy_dir,
		  "Memory regions (outsource/mem/outsource-mem.h): DIR/NAME.conf, else "
		  "DIR/default.conf, else none (default " SYSCONFDIR "/hostrpc/mem)", "DIR" },
		{ "mem-pool-mib", 0, 0, G_OPTION_ARG_INT, &o->mem_pool_mib,
		  "Balance host-owned memory across guests: all grants together at most MIB "
		  "(default 0: no balancing; outsource/mem/balance.h)", "MIB" },
		{ "mem-balance-step-mib", 0, 0, G_OPTION_ARG_INT, &o->mem_balance_step_mib,
		  "What one balancing action moves (default 64); a guest with less than a "
		  "quarter of it unused is under pressure, one with more than half has slack",
		  "MIB" },
		{ "mem-balance-ms", 0, 0, G_OPTION_ARG_INT, &o->mem_balance_ms,
		  "How often balancing looks at the guests (default 1000)", "MS" },
		{ "mem-balloon-min-mib", 0, 0, G_OPTION_ARG_INT, &o->mem_balloon_min_mib,
		  "With --libvirt: libvirt domains without the memory driver are balanced "
		  "through their virtio balloon, never below MIB (default 256)", "MIB" },
		{ "sock-audit-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->sock_audit_dir,
		  "Socket audit logs DIR/NAME.sock.log, written by the daemon (default "
		  "STATE_DIR/sock-audit)", "DIR" },
		{ "migrate-socket", 0, 0, G_OPTION_ARG_FILENAME, &o->migrate_socket,
		  "Where hostrpc-migrate reaches a guest's worker on this (source) host "
		  "(default STATE_DIR/migrate.sock, mode 0600)", "PATH" },
		{ "migrate-listen", 0, 0, G_OPTION_ARG_STRING, &o->migrate_listen,
		  "Accept incoming migrations of guests whose QEMU waits here (-incoming) on "
		  "this TCP address; needs --migrate-key", "HOST:PORT" },
		{ "migrate-key", 0, 0, G_OPTION_ARG_FILENAME, &o->migrate_key,
		  "The per-pair key the source host's hostrpc-migrate must prove (64 hex "
		  "digits, a file of mode 0600)", "FILE" },
		{ "poll", 0, 0, G_OPTION_ARG_STRING, &o->poll,
		  "After serving calls a worker spins this long at most (adaptive) for the "
		  "guest's next call before it sleeps: auto (default: 200 on hosts with 4 or "
		  "more online CPUs, else off), off, or microseconds", "auto|off|US" },
		{ "poll-spinners", 0, 0, G_OPTION_ARG_INT, &o->poll_spinners,
		  "Most workers spinning at once (default: online CPUs / 2 - 1, at least 1)",
		  "N" },
		{ "no-fdstore", 0, 0, G_OPTION_ARG_NONE, &o->no_fdstore,
		  "No fd holder: a restart of hostrpcd strands the QEMU guests attached", NULL },
		{ "fdstore-idle", 0, 0, G_OPTION_ARG_INT, &o->fdstore_idle,
		  "A started fd holder exits after this long without a daemon when no guest "
		  "is attached (default 30)", "SECS" },
		{ "fdstore-release", 0, 0, G_OPTION_ARG_NONE, &o->fdstore_release,
		  "Make the fd holder of --state-dir close all it holds (attached QEMU guests "
		  "lose their channel for good) and exit; refused while a hostrpcd runs", NULL },
		{ "foreground", 'f', 0, G_OPTION_ARG_NONE, &o->foreground,
		  "Stay in the foreground and log to stderr", NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose, "Log debug messages", NULL },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &o->version, "Print the version", NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- Host RPC daemon");

	o->worker_uid_base = -1;
	o->mem_balance_step_mib = 64;
	o->mem_balance_ms = 1000;
	o->mem_balloon_min_mib = 256;
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_summary(ctx,
		"Serves Host RPC to guests: process guests on a unix socket (memfd\n"
		"transport) and QEMU guests through ivshmem-doorbell endpoints.\n"
		"Each guest is served by its own worker process.");
	if (!g_option_context_parse(ctx, &argc, &argv, error))
		return FALSE;
	if (argc > 1) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
			    "unexpected argument \"%s\"", argv[1]);
		return FALSE;
	}
	if (o->max_guests < 0) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--max-guests must not be negative");
		return FALSE;
	}
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
	if (o->audit_max && !parse_size(o->audit_max, &o->audit_max_bytes, error))
		return FALSE;
	if (o->fdstore_idle < 0) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--fdstore-idle must not be negative");
		return FALSE;
	}
	/* Before daemonize() leaves the directory they are relative to. */
	absolutize(&o->sock_policy_dir);
	absolutize(&o->fs_policy_dir);
	absolutize(&o->mem_policy_dir);
	absolutize(&o->sock_audit_dir);
	absolutize(&o->migrate_socket);
	absolutize(&o->migrate_key);
	if (o->migrate_listen && !o->migrate_key) {
		g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--migrate-listen needs --migrate-key");
		return FALSE;
	}
	if (!o->socket_path && !o->no_process_guests)
		o->socket_path = g_strdup(DEFAULT_SOCKET);
	if (!o->admin_path)
		o->admin_path = g_strdup(DEFAULT_ADMIN_SOCKET);
	if (!o->state_dir)
		o->state_dir = g_strdup(DEFAULT_STATE_DIR);
	if (!o->endpoint_dir)
		o->endpoint_dir = g_strdup(DEFAULT_ENDPOINT_DIR);
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

static gboolean add_endpoints(HrpcdSupervisor *sup, const Options *o, GError **error)
{
	for (char **spec = o->ivshmem; spec && *spec; spec++) {
		const char *eq = strchr(*spec, '=');
		g_autofree char *name = NULL;
		const char *path;

		if (eq) {
			name = g_strndup(*spec, (gsize)(eq - *spec));
			path = eq + 1;
		} else {
			/* Bare SOCKPATH: the guest is named after the socket
			 * file, without its extension. */
			g_autofree char *base = g_path_get_basename(*spec);
			char clean[HRPCD_GUEST_NAME_MAX];

			*strchrnul(base, '.') = 0;
			if (hrpcd_name_sanitize(base, clean, sizeof(clean)))
				name = g_strdup(clean);
			path = *spec;
		}
		if (!name || !*name || !*path) {
			g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--ivshmem wants NAME=SOCKPATH, not \"%s\"", *spec);
			return FALSE;
		}
		if (!hrpcd_supervisor_add_endpoint(sup, name, path, o->shm_size, error))
			return FALSE;
	}
	return TRUE;
}

#ifdef HAVE_LIBVIRT
/* libvirt domains: endpoint DIR/NAME.ivshmem is guest NAME. */
typedef struct {
	HrpcdSupervisor *sup;
	gsize shm_size;
	HrpcdMemBalancer *bal;   /* balloon guests: NULL without balancing */
} Follow;

/* The guest name is the file name as it is: one that would need sanitising
 * ("a b", or longer than a name) is refused, so two endpoint files never
 * share a name (and its policy, audit log, fd holder entries). */
static char *endpoint_name(const char *path)
{
	g_autofree char *base = g_path_get_basename(path);
	char clean[HRPCD_GUEST_NAME_MAX];

	if (g_str_has_suffix(base, ".ivshmem"))
		base[strlen(base) - strlen(".ivshmem")] = 0;
	if (!hrpcd_name_sanitize(base, clean, sizeof(clean)) || strcmp(clean, base))
		return NULL;
	return g_strdup(clean);
}

static void libvirt_add(const char *domain, const char *path, gpointer user_data)
{
	Follow *f = user_data;
	g_autofree char *name = endpoint_name(path);
	g_autoptr(GError) error = NULL;

	if (!name)
		g_warning("libvirt: domain %s: endpoint %s refused: a guest name is up to %d "
			  "letters, digits, '.', '_', '-' before .ivshmem", domain, path,
			  HRPCD_GUEST_NAME_MAX - 1);
	else if (!hrpcd_supervisor_add_endpoint(f->sup, name, path, f->shm_size, &error))
		g_warning("libvirt: domain %s: %s", domain, error->message);
	else if (f->bal)
		hrpcd_mem_balancer_domain(f->bal, domain, name);
}

static void libvirt_remove(const char *domain, const char *path, gpointer user_data)
{
	Follow *f = user_data;
	g_autofree char *name = endpoint_name(path);
	g_autoptr(GError) error = NULL;

	if (f->bal)
		hrpcd_mem_balancer_domain(f->bal, domain, NULL);
	/* Only the endpoint this path made: never another's of the same name. */
	if (name && !g_strcmp0(hrpcd_supervisor_endpoint_path(f->sup, name), path) &&
	    !hrpcd_supervisor_remove_endpoint(f->sup, name, &error))
		g_warning("libvirt: domain %s: %s", domain, error->message);
}
#endif

/* The state directory is private (0700), but parents made on the way (a
 * fresh prefix's var/) stay 0755: QEMU under libvirt runs as its own user
 * and must reach the endpoints below var/run of the same prefix. */
static gboolean mkdir_private(const char *dir)
{
	g_autofree char *parent = g_path_get_dirname(dir);

	if (g_mkdir_with_parents(parent, 0755) < 0)
		return FALSE;
	return mkdir(dir, 0700) == 0 || errno == EEXIST;
}

/* Descriptors 0-2 must be taken, or a socket could land there and leak into
 * every worker as its stdin/stdout/stderr. */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
			_exit(1);
}

/*
 * Fork into the background.  The parent waits until the child says it is
 * ready (sockets bound) or failed, so start-up errors reach the caller's
 * terminal and exit status.  Returns the fd to report readiness on.
 */
static int daemonize(void)
{
	int pfd[2];
	pid_t pid;
	char c = 1;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		perror("hostrpcd: pipe");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("hostrpcd: fork");
		exit(1);
	}
	if (pid > 0) {
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			c = 1;
		_exit(c);
	}
	close(pfd[0]);
	setsid();
	return pfd[1];
}

static void daemon_ready(int ready_fd)
{
	char ok = 0;
	int null;

	if (ready_fd < 0)
		return;
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > 2)
			close(null);
	}
	hrpcd_log_init(HRPCD_LOG_SYSLOG, FALSE);
	if (write(ready_fd, &ok, 1) != 1)
		_exit(1);
	close(ready_fd);
}

/* --fdstore-release */
static int fdstore_release(const char *path)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(HrpcdFdstore) fs = hrpcd_fdstore_connect(path, &error);
	guint held;

	if (!fs && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
		printf("hostrpcd: no fd holder on %s\n", path);
		return 0;
	}
	held = fs ? hrpcd_fdstore_held(fs) : 0;
	if (!fs || !hrpcd_fdstore_quit(fs, &error)) {
		fprintf(stderr, "hostrpcd: %s\n", error->message);
		return 1;
	}
	printf("hostrpcd: the fd holder (pid %ld) let go of %u descriptor(s) and exits\n",
	       (long)hrpcd_fdstore_pid(fs), held);
	return 0;
}

static gboolean quit_signal(gpointer user_data)
{
	g_main_loop_quit(user_data);
	return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
	g_auto(Options) o = { 0 };
	g_autoptr(GError) error = NULL;
	g_autoptr(HrpcdSupervisor) sup = NULL;
	HrpcdMemBalancer *bal = NULL;
	g_autoptr(HrpcdAdmin) adm = NULL;
	g_autoptr(HrpcdMigrateDoors) doors = NULL;
	g_autoptr(GMainLoop) loop = NULL;
#ifdef HAVE_LIBVIRT
	g_autoptr(HrpcdLibvirt) lv = NULL;
	Follow follow = { 0 };
#endif
	HrpcdSupervisorConfig cfg = { 0 };
	g_autofree char *fdstore_path = NULL;
	guint sig[3];
	int ready_fd = -1;

	/* The supervisor runs its workers as hostrpcd --worker (worker.h), and
	 * its fd holder as hostrpcd --fdstore (fdstore.h). */
	if (argc > 1 && !strcmp(argv[1], "--worker"))
		return hrpcd_worker_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--fdstore"))
		return hrpcd_fdstore_main(argc, argv);
	ensure_std_fds();
	signal(SIGPIPE, SIG_IGN);
	g_set_prgname("hostrpcd");
	if (!parse_options(argc, argv, &o, &error)) {
		fprintf(stderr, "hostrpcd: %s\n", error->message);
		return 2;
	}
	if (o.version) {
		printf("hostrpcd %s\n", PACKAGE_VERSION);
		return 0;
	}
	hrpcd_log_init(HRPCD_LOG_STDERR, o.verbose);
	fdstore_path = g_build_filename(o.state_dir, HRPCD_FDSTORE_SOCKET, NULL);
	if (o.fdstore_release)
		return fdstore_release(fdstore_path);
	if (!mkdir_private(o.state_dir)) {
		g_critical("cannot create state directory %s: %s", o.state_dir, g_strerror(errno));
		return 1;
	}
	if (!o.foreground)
		ready_fd = daemonize();

	/* Signals first: GLib's helper thread and its descriptors then exist
	 * before any guest comes, and the descriptor count stays flat. */
	loop = g_main_loop_new(NULL, FALSE);
	sig[0] = g_unix_signal_add(SIGTERM, quit_signal, loop);
	sig[1] = g_unix_signal_add(SIGINT, quit_signal, loop);
	sig[2] = g_unix_signal_add(SIGHUP, quit_signal, loop);

	cfg.socket_path = o.socket_path;
	cfg.state_dir = o.state_dir;
	cfg.max_guests = (guint)o.max_guests;
	cfg.worker_uid_base = (guint32)o.worker_uid_base;
	cfg.audit_max_bytes = (gsize)o.audit_max_bytes;
	cfg.audit_rate = (guint)o.audit_rate;
	cfg.sock_policy_dir = o.sock_policy_dir;
	cfg.fs_policy_dir = o.fs_policy_dir;
	cfg.mem_policy_dir = o.mem_policy_dir;
	cfg.sock_audit_dir = o.sock_audit_dir;
	cfg.hello_timeout_s = (guint)o.hello_timeout;
	cfg.endpoint_gid = o.endpoint_gid;
	cfg.poll_max_ns = o.poll_max_ns;
	cfg.poll_spinners = o.poll_spinners_n;
	cfg.migrate_key = o.migrate_key;
	cfg.xen = o.xen;
	/* Not the process guests' socket: they reconnect by themselves. */
	if (!o.no_fdstore) {
		cfg.fdstore_path = fdstore_path;
		cfg.fdstore_idle_s = (guint)o.fdstore_idle;
		cfg.fdstore_syslog = !o.foreground;
	}
	sup = hrpcd_supervisor_new(&cfg, &error);
	if (sup && o.migrate_key && !check_migrate_key(o.migrate_key, &error))
		g_clear_pointer(&sup, hrpcd_supervisor_free);
	if (sup && add_endpoints(sup, &o, &error)) {
		g_autofree char *port = o.migrate_socket ? g_strdup(o.migrate_socket) :
			g_build_filename(o.state_dir, "migrate.sock", NULL);

		doors = hrpcd_migrate_doors_new(sup, port, o.migrate_listen, &error);
		if (doors)
			adm = hrpcd_admin_new(sup, o.admin_path, cfg.worker_ctl_timeout_ms, &error);
	}
	if (adm && o.mem_pool_mib > 0) {
		struct mem_balance_cfg bc = {
			.pool_mib = (guint32)o.mem_pool_mib,
			.step_mib = (guint32)o.mem_balance_step_mib,
			.low_mib = (guint32)o.mem_balance_step_mib / 4,
			.high_mib = (guint32)o.mem_balance_step_mib / 2,
		};

		bal = hrpcd_mem_balancer_new(sup, &bc, (guint)o.mem_balance_ms, NULL, &error);
		if (!bal)
			g_clear_pointer(&adm, hrpcd_admin_free);
#ifdef HAVE_LIBVIRT
		/* Before the follower: it names the domains it finds at once. */
		else if (o.libvirt_uri)
			hrpcd_mem_balancer_use_libvirt(bal, o.libvirt_uri,
						       (guint32)o.mem_balloon_min_mib);
#endif
	}
#ifdef HAVE_LIBVIRT
	if (adm && o.libvirt_uri) {
		follow.sup = sup;
		follow.shm_size = o.shm_size;
		follow.bal = bal;
		if (g_mkdir_with_parents(o.endpoint_dir, 0755) < 0) {
			g_set_error(&error, G_IO_ERROR, g_io_error_from_errno(errno),
				    "cannot create %s: %s", o.endpoint_dir, g_strerror(errno));
			g_clear_pointer(&adm, hrpcd_admin_free);
		} else {
			lv = hrpcd_libvirt_new(o.libvirt_uri, o.endpoint_dir, NULL, libvirt_add,
					       libvirt_remove, &follow, &error);
			if (!lv)
				g_clear_pointer(&adm, hrpcd_admin_free);
		}
	}
#endif
	if (!adm) {
		g_critical("%s", error->message);
		return 1;
	}
	/* Every configured endpoint is there now (the libvirt follower adds
	 * those of the domains it found before returning). */
	hrpcd_supervisor_adoption_done(sup);
	if (o.poll_max_ns)
		g_message("polling: a worker spins up to %u us after serving calls, at most %u "
			  "at once (%ld online CPUs)", o.poll_max_ns / 1000, o.poll_spinners_n,
			  o.online_cpus);
	else
		g_message("polling: off (%ld online CPUs%s)", o.online_cpus,
			  o.poll && !g_str_equal(o.poll, "auto") ? ""
			  : "; auto needs " G_STRINGIFY(POLL_AUTO_MIN_CPUS));
	g_message("hostrpcd %s ready: process guests on %s, admin on %s, %u ivshmem endpoint(s)",
		  PACKAGE_VERSION, o.socket_path ? o.socket_path : "(none)", o.admin_path,
		  hrpcd_supervisor_endpoint_count(sup));
	daemon_ready(ready_fd);

	g_main_loop_run(loop);

	g_message("stopping");
#ifdef HAVE_LIBVIRT
	g_clear_pointer(&lv, hrpcd_libvirt_free);
#endif
	g_clear_pointer(&bal, hrpcd_mem_balancer_free);
	g_clear_pointer(&adm, hrpcd_admin_free);
	g_clear_pointer(&doors, hrpcd_migrate_doors_free);
	g_clear_pointer(&sup, hrpcd_supervisor_free);
	for (int i = G_N_ELEMENTS(sig); i-- > 0;)
		g_source_remove(sig[i]);
	return 0;
}
