/* SPDX-License-Identifier: MIT */
/*
 * options.h - hostrpcd's settings: the command line and the configuration
 * file (-c/--config, default SYSCONFDIR/hostrpc/hostrpcd.conf).
 *
 * The file is a GKeyFile with one group, [hostrpcd]; each long option of
 * hostrpcd is a key of the same name (socket=PATH, poll=auto, xen=true,
 * ivshmem=a=/run/a.sock;b=/run/b.sock for a repeatable one), except the
 * actions: help, version, config, check-config, guest, fdstore-release.
 * A key's value goes through the very GOptionEntry the command line uses
 * and the same checks, into the same struct; the command line wins over
 * the file.  An unknown group or key, a key given twice, a value that does
 * not parse or is refused: an error naming the file, the line and the key
 * (HRPCD_OPTIONS_ERROR_FILE).  A missing default file is no error; a
 * missing --config file is.
 *
 * Error convention: gboolean + GError.  Errors of the command line itself
 * are G_OPTION_ERROR (hostrpcd exits 2, as it always did); those of the
 * file are HRPCD_OPTIONS_ERROR (exit 1).
 */
#ifndef HOSTRPCD_OPTIONS_H
#define HOSTRPCD_OPTIONS_H

#include <stdio.h>
#include <sys/types.h>

#include <glib.h>

#define HRPCD_DEFAULT_CONFIG SYSCONFDIR "/hostrpc/hostrpcd.conf"

/* poll=auto polls with this many online CPUs or more (options.c). */
#define HRPCD_POLL_AUTO_MIN_CPUS 4

#define HRPCD_OPTIONS_ERROR (hrpcd_options_error_quark())
GQuark hrpcd_options_error_quark(void);
enum { HRPCD_OPTIONS_ERROR_FILE };

typedef enum {
	HRPCD_OPT_DEFAULT,
	HRPCD_OPT_FILE,
	HRPCD_OPT_CMDLINE,
} HrpcdOptSource;

/* The settings' table has this many rows at most (options.c checks). */
#define HRPCD_OPTIONS_MAX 64

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
	char *guest_policy_dir;  /* guests/NAME.conf (guest-policy.h) */
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
	gboolean no_process_guests;
	gboolean xen;
	gboolean foreground;
	gboolean daemon;         /* --daemon: the default without --foreground */
	char *pidfile;
	gboolean verbose;
	/* Actions: command line only. */
	char *config;            /* -c; NULL: HRPCD_DEFAULT_CONFIG */
	gboolean check_config;
	char *guest;             /* with check_config */
	gboolean fdstore_release;
	gboolean version;
	/* Where each row of the table got its value (hrpcd_options_print). */
	HrpcdOptSource source[HRPCD_OPTIONS_MAX];
	char *config_used;       /* the file read; NULL: none */
} HrpcdOptions;

void hrpcd_options_clear(HrpcdOptions *o);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(HrpcdOptions, hrpcd_options_clear)

/* Parse argv (g_option_context_parse: the program name first) and the
 * configuration file it names (or the default one) into *o (zeroed).
 * Relative paths become absolute (from the working directory), defaults
 * are filled in.  SIGHUP loads again from the same argv into a fresh
 * struct. */
gboolean hrpcd_options_load(HrpcdOptions *o, int argc, char **argv, GError **error);
/* Every setting, key=value, and where it came from, as the file would
 * say it (hostrpcd --check-config). */
void hrpcd_options_print(const HrpcdOptions *o, FILE *f);
/* The keys whose value differs between `a` and `b`, NULL-terminated
 * (g_strfreev). */
char **hrpcd_options_diff(const HrpcdOptions *a, const HrpcdOptions *b);

#endif /* HOSTRPCD_OPTIONS_H */
