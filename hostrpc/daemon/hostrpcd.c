/* SPDX-License-Identifier: MIT */
/*
 * hostrpcd - the per-host Host RPC daemon: daemonising, signals (SIGHUP
 * reads the configuration again), systemd's readiness protocol, and
 * --check-config.  Settings come from options.c (command line and
 * hostrpcd.conf), a guest's policy file from guest-policy.c.
 * The work is done by the supervisor (supervisor.c), the per-guest workers
 * (worker.c), the fd holder (fdstore.c) and the admin service (admin.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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
#include "hostrpc/daemon/options.h"
#include "hostrpc/daemon/guest-policy.h"
#include "migrate/link.h"
#include "hostrpc/daemon/supervisor.h"
#include "hostrpc/daemon/worker.h"

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

/* ---- systemd's readiness protocol (sd_notify(3), natively) ---------------------- */

/* One datagram to $NOTIFY_SOCKET ("@name": the abstract namespace), if
 * there is one; failures are not the daemon's business. */
static void notify(const char *msg)
{
	const char *path = g_getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	size_t n;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	n = strlen(path);
	if (n >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = 0;
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		g_debug("NOTIFY_SOCKET %s: %s", path, g_strerror(errno));
	close(fd);
}

/* ---- --pidfile ---------------------------------------------------------------- */

static gboolean pidfile_write(const char *path, GError **error)
{
	g_autofree char *pid = g_strdup_printf("%ld\n", (long)getpid());

	return g_file_set_contents(path, pid, -1, error);
}

static gboolean add_endpoints(HrpcdSupervisor *sup, const HrpcdOptions *o, GError **error)
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
 * A guest's worker holds a descriptor per outsourced socket and open file
 * (max-sockets defaults to 1024 a guest, and the worker has its channel,
 * region and log besides), and workers inherit this process's limits.  The
 * soft limit of 1024 a shell gives is the select() era's; nothing here uses
 * select(), so take the hard limit, as the fd holder does and as
 * hostrpcd.service's LimitNOFILE= does under systemd.
 */
static void raise_fd_limit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &r) < 0)
			g_debug("cannot raise the descriptor limit: %s", g_strerror(errno));
	}
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

/* What the supervisor is told, at start and at each SIGHUP. */
static void supervisor_config(const HrpcdOptions *o, HrpcdSupervisorConfig *cfg)
{
	cfg->socket_path = o->socket_path;
	cfg->state_dir = o->state_dir;
	cfg->max_guests = (guint)o->max_guests;
	cfg->worker_uid_base = (guint32)o->worker_uid_base;
	cfg->audit_max_bytes = (gsize)o->audit_max_bytes;
	cfg->audit_rate = (guint)o->audit_rate;
	cfg->sock_policy_dir = o->sock_policy_dir;
	cfg->fs_policy_dir = o->fs_policy_dir;
	cfg->mem_policy_dir = o->mem_policy_dir;
	cfg->guest_policy_dir = o->guest_policy_dir;
	cfg->sock_audit_dir = o->sock_audit_dir;
	cfg->hello_timeout_s = (guint)o->hello_timeout;
	cfg->endpoint_gid = o->endpoint_gid;
	cfg->poll_max_ns = o->poll_max_ns;
	cfg->poll_spinners = o->poll_spinners_n;
	cfg->migrate_key = o->migrate_key;
	cfg->xen = o->xen;
}

/* ---- SIGHUP: read the configuration again ------------------------------------- */

typedef struct {
	int argc;
	char **argv;
	HrpcdOptions *o;         /* what runs */
	HrpcdSupervisor *sup;
} Reload;

/* What a running daemon can take over: they apply to what comes next
 * (workers started from now on, new guests, the next audit line). */
static const char *const reloadable[] = {
	"guest-policy-dir", "sock-policy-dir", "fs-policy-dir", "mem-policy-dir",
	"max-guests", "hello-timeout", "audit-log-max", "audit-rate", "poll",
	"poll-spinners", NULL,
};

#define TAKE(field)                                                                        \
	do {                                                                               \
		typeof(cur->field) tmp_ = cur->field;                                      \
		cur->field = new->field;                                                   \
		new->field = tmp_;                                                         \
	} while (0)

static void take_reloadable(HrpcdOptions *cur, HrpcdOptions *new)
{
	TAKE(guest_policy_dir);
	TAKE(sock_policy_dir);
	TAKE(fs_policy_dir);
	TAKE(mem_policy_dir);
	TAKE(max_guests);
	TAKE(hello_timeout);
	TAKE(audit_max);
	TAKE(audit_max_bytes);
	TAKE(audit_rate);
	TAKE(poll);
	TAKE(poll_max_ns);
	TAKE(poll_spinners);
	TAKE(poll_spinners_n);
}

static gboolean reload_signal(gpointer user_data)
{
	Reload *r = user_data;
	g_auto(HrpcdOptions) n = { 0 };
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) changed = NULL;
	g_autofree char *reloading = g_strdup_printf("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT,
						     g_get_monotonic_time());
	HrpcdSupervisorConfig cfg = { 0 };
	guint applied = 0;

	if (!r->sup) {
		g_message("SIGHUP before hostrpcd is ready: ignored");
		return G_SOURCE_CONTINUE;
	}
	notify(reloading);
	if (!hrpcd_options_load(&n, r->argc, r->argv, &error)) {
		g_warning("SIGHUP: %s; the configuration stays as it was", error->message);
		notify("READY=1");
		return G_SOURCE_CONTINUE;
	}
	changed = hrpcd_options_diff(r->o, &n);
	for (char **k = changed; *k; k++) {
		if (g_strv_contains(reloadable, *k))
			applied++;
		else
			g_warning("SIGHUP: %s changed: that takes a restart; it stays as it was "
				  "until then", *k);
	}
	take_reloadable(r->o, &n);
	supervisor_config(r->o, &cfg);
	if (!hrpcd_supervisor_reconfigure(r->sup, &cfg, &error)) {
		/* Polling could not be turned on: keep the rest, not that. */
		g_warning("SIGHUP: %s; polling stays off", error->message);
		r->o->poll_max_ns = 0;
		supervisor_config(r->o, &cfg);
		hrpcd_supervisor_reconfigure(r->sup, &cfg, NULL);
	}
	g_message("SIGHUP: configuration %s read again: %u setting(s) changed and applied",
		  r->o->config_used ? r->o->config_used : "(none)", applied);
	notify("READY=1");
	return G_SOURCE_CONTINUE;
}

/* hostrpcd --check-config [--guest=NAME] */
static int check_config(const HrpcdOptions *o)
{
	g_autoptr(GError) error = NULL;
	HrpcdPolicyDirs dirs = {
		.guest_dir = o->guest_policy_dir, .sock_dir = o->sock_policy_dir,
		.fs_dir = o->fs_policy_dir, .mem_dir = o->mem_policy_dir,
	};

	if (o->migrate_key && !check_migrate_key(o->migrate_key, &error)) {
		fprintf(stderr, "hostrpcd: %s\n", error->message);
		return 1;
	}
	hrpcd_options_print(o, stdout);
	if (o->guest && !hrpcd_guest_policy_print(stdout, &dirs, o->guest, &error)) {
		fflush(stdout);
		fprintf(stderr, "hostrpcd: guest %s: %s\n", o->guest, error->message);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	g_auto(HrpcdOptions) o = { 0 };
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
	g_autofree char *ready_msg = NULL;
	Reload reload = { argc, argv, &o, NULL };
	guint sig[3];
	int ready_fd = -1;

	/* The supervisor runs its workers as hostrpcd --worker (worker.h), and
	 * its fd holder as hostrpcd --fdstore (fdstore.h). */
	if (argc > 1 && !strcmp(argv[1], "--worker"))
		return hrpcd_worker_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--fdstore"))
		return hrpcd_fdstore_main(argc, argv);
	ensure_std_fds();
	raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);
	g_set_prgname("hostrpcd");
	if (!hrpcd_options_load(&o, argc, argv, &error)) {
		fprintf(stderr, "hostrpcd: %s\n", error->message);
		/* Usage errors exit 2 as they always did; a bad file, or any
		 * error of --check-config, 1. */
		return error->domain == G_OPTION_ERROR && !o.check_config &&
		       !g_strv_contains((const char *const *)argv, "--check-config") ? 2 : 1;
	}
	if (o.version) {
		printf("hostrpcd %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (o.check_config)
		return check_config(&o);
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
	sig[2] = g_unix_signal_add(SIGHUP, reload_signal, &reload);

	supervisor_config(&o, &cfg);
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
	reload.sup = sup;
	if (o.poll_max_ns)
		g_message("polling: a worker spins up to %u us after serving calls, at most %u "
			  "at once (%ld online CPUs)", o.poll_max_ns / 1000, o.poll_spinners_n,
			  o.online_cpus);
	else
		g_message("polling: off (%ld online CPUs%s)", o.online_cpus,
			  o.poll && !g_str_equal(o.poll, "auto") ? ""
			  : "; auto needs " G_STRINGIFY(HRPCD_POLL_AUTO_MIN_CPUS));
	g_message("hostrpcd %s ready: process guests on %s, admin on %s, %u ivshmem endpoint(s)",
		  PACKAGE_VERSION, o.socket_path ? o.socket_path : "(none)", o.admin_path,
		  hrpcd_supervisor_endpoint_count(sup));
	/* Before the parent is told: a pidfile that cannot be written fails
	 * the start where the caller sees it. */
	if (o.pidfile && !pidfile_write(o.pidfile, &error)) {
		g_critical("--pidfile: %s", error->message);
		return 1;
	}
	daemon_ready(ready_fd);
	ready_msg = g_strdup_printf("READY=1\nMAINPID=%ld", (long)getpid());
	notify(ready_msg);

	g_main_loop_run(loop);

	notify("STOPPING=1");
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
	if (o.pidfile)
		unlink(o.pidfile);
	return 0;
}
