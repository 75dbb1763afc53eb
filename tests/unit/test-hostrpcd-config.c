/* SPDX-License-Identifier: MIT */
/*
 * test-hostrpcd-config - hostrpcd.conf and guests/NAME.conf as hostrpcd
 * reads them (options.h, guest-policy.h): a good file's values land with
 * their source, the command line wins, a bad value, an unknown key or group,
 * a key given twice or an action in the file are errors naming file, line
 * and key; the sample data/hostrpcd.conf parses and names every key; a
 * guests/ file's bad section is reported at its real line by the service's
 * own parser (sockets, exports, memory).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "tests/tap.h"
#include "hostrpc/daemon/guest-policy.h"
#include "hostrpc/daemon/options.h"

static char *dir;

static char *write_file(const char *name, const char *text)
{
	char *path = g_build_filename(dir, name, NULL);

	g_assert(g_file_set_contents(path, text, -1, NULL));
	return path;
}

/* Load with `conf` and the extra arguments (NULL-terminated). */
static gboolean load(HrpcdOptions *o, const char *conf, GError **error, ...)
{
	g_autoptr(GPtrArray) av = g_ptr_array_new_with_free_func(g_free);
	va_list ap;
	const char *a;

	g_ptr_array_add(av, g_strdup("hostrpcd"));
	if (conf)
		g_ptr_array_add(av, g_strdup_printf("--config=%s", conf));
	va_start(ap, error);
	while ((a = va_arg(ap, const char *)))
		g_ptr_array_add(av, g_strdup(a));
	va_end(ap);
	g_ptr_array_add(av, NULL);
	return hrpcd_options_load(o, (int)av->len - 1, (char **)av->pdata, error);
}

static char *printed(const HrpcdOptions *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	hrpcd_options_print(o, f);
	fclose(f);
	return buf;
}

/* Does loading `text` fail with an error containing every needle? */
static int bad_file(const char *text, const char *what, ...)
{
	g_autofree char *path = write_file("bad.conf", text);
	g_auto(HrpcdOptions) o = { 0 };
	g_autoptr(GError) e = NULL;
	gboolean ok = load(&o, path, &e, NULL);
	va_list ap;
	const char *needle;
	int good = !ok && e && e->domain == HRPCD_OPTIONS_ERROR && strstr(e->message, path);

	va_start(ap, what);
	while (good && (needle = va_arg(ap, const char *)))
		good = strstr(e->message, needle) != NULL;
	va_end(ap);
	return tap_ok(good, "%s: \"%s\"", what, e ? e->message : "(no error)");
}

static int guest_error(const char *text, const char *what, const char *needle)
{
	g_autofree char *gdir = g_build_filename(dir, "guests", NULL);
	g_autofree char *path = g_build_filename(gdir, "g1.conf", NULL);
	HrpcdPolicyDirs dirs = { .guest_dir = gdir };
	g_autoptr(GError) e = NULL;
	g_autofree char *want = g_strdup_printf("%s%s", path, needle);
	FILE *null = fopen("/dev/null", "w");
	gboolean ok;

	g_mkdir_with_parents(gdir, 0700);
	g_assert(g_file_set_contents(path, text, -1, NULL));
	ok = hrpcd_guest_policy_print(null, &dirs, "g1", &e);
	fclose(null);
	return tap_ok(!ok && e && strstr(e->message, want), "%s: \"%s\"", what,
		      e ? e->message : "(no error)");
}

int main(void)
{
	g_autofree char *good = NULL, *p = NULL, *sample = NULL, *text = NULL;
	const char *srcdir = g_getenv("top_srcdir") ? g_getenv("top_srcdir") : ".";
	g_autoptr(GError) e = NULL;

	tap_plan(24);
	dir = g_dir_make_tmp("hostrpcd-config-XXXXXX", NULL);

	good = write_file("good.conf",
			  "# a comment\n"
			  "\n"
			  "[hostrpcd]\n"
			  "max-guests = 7\n"
			  "poll=off\n"
			  "xen=false\n"
			  "no-fdstore=true\n"
			  "ivshmem=a=/run/a.sock;b=/run/b.sock\n"
			  "audit-log-max=2M\n"
			  "sock-policy-dir=rel/sock\n");
	{
		g_auto(HrpcdOptions) o = { 0 };
		g_autofree char *out = NULL;
		gboolean ok = load(&o, good, &e, NULL);

		tap_ok(ok && o.max_guests == 7 && o.poll_max_ns == 0 && o.no_fdstore &&
		       o.audit_max_bytes == 2u << 20 && o.ivshmem && g_strv_length(o.ivshmem) == 2 &&
		       !strcmp(o.ivshmem[1], "b=/run/b.sock"),
		       "a good file's values land in the settings (%s)", e ? e->message : "ok");
		tap_ok(ok && g_path_is_absolute(o.sock_policy_dir) &&
		       g_str_has_suffix(o.sock_policy_dir, "/rel/sock"),
		       "a relative path from the file is made absolute as on the command line");
		out = ok ? printed(&o) : NULL;
		tap_ok(out && strstr(out, "\nmax-guests=7 ") && strstr(out, "# file\n") &&
		       strstr(out, "\nhello-timeout=10 ") && strstr(out, "# default\n"),
		       "--check-config's listing says file or default per key");
		g_clear_error(&e);
	}
	{
		g_auto(HrpcdOptions) o = { 0 };
		g_autofree char *out = NULL;
		gboolean ok = load(&o, good, &e, "--max-guests=9", "--poll=2000", NULL);

		out = ok ? printed(&o) : NULL;
		tap_ok(ok && o.max_guests == 9 && o.poll_max_ns == 2000u * 1000 &&
		       o.no_fdstore && out && strstr(out, "# command line\n"),
		       "the command line wins over the file, the file's other keys stay");
		g_clear_error(&e);
	}
	{
		g_auto(HrpcdOptions) o = { 0 };
		g_autofree char *path = write_file("fg.conf", "[hostrpcd]\nforeground=true\n");
		gboolean ok = load(&o, path, &e, "--daemon", NULL);

		tap_ok(ok && o.daemon && !o.foreground,
		       "--daemon on the command line wins over foreground=true in the file");
		g_clear_error(&e);
	}
	{
		g_auto(HrpcdOptions) o = { 0 };
		g_autofree char *missing = g_build_filename(dir, "missing.conf", NULL);
		gboolean ok = load(&o, missing, &e, NULL);

		tap_ok(!ok && e && e->domain == HRPCD_OPTIONS_ERROR && strstr(e->message, missing),
		       "a missing --config file is an error: \"%s\"", e ? e->message : "");
		g_clear_error(&e);
	}
	bad_file("[hostrpcd]\n\n# x\nmax-guests=-1\n", "a refused value names file, line and key",
		 ":4: max-guests: ", "must not be negative", NULL);
	bad_file("[hostrpcd]\npoll=fast\n", "the command line's own check refuses it",
		 ":2: poll: ", "is not auto, off", NULL);
	bad_file("[hostrpcd]\nmax-guests=many\n", "a value GOption cannot parse",
		 ":2: max-guests: ", NULL);
	bad_file("[hostrpcd]\nxen=maybe\n", "a boolean that is not one", ":2: xen: ", NULL);
	bad_file("[hostrpcd]\nmax-guest=3\n", "an unknown key", ":2: max-guest: unknown key",
		 NULL);
	bad_file("[hostrpcd]\ncheck-config=true\n", "an action is not a key",
		 ":2: check-config: unknown key", NULL);
	bad_file("[hostrpcd]\n[daemon]\npoll=off\n", "an unknown group", ":2: unknown group",
		 NULL);
	bad_file("[hostrpcd]\npoll=off\npoll=auto\n", "a key given twice",
		 ":3: poll: given twice (first on line 2)", NULL);
	bad_file("[hostrpcd]\nmigrate-listen=0.0.0.0:4444\n", "what two keys must agree on",
		 ": --migrate-listen needs --migrate-key", NULL);

	/* The sample: parses as it is, and names every key. */
	sample = g_build_filename(srcdir, "data", "hostrpcd.conf", NULL);
	{
		g_auto(HrpcdOptions) o = { 0 };
		g_autofree char *out = NULL;
		g_auto(GStrv) lines = NULL;
		gboolean ok = load(&o, sample, &e, NULL);
		guint missing = 0, keys = 0;

		tap_ok(ok, "data/hostrpcd.conf parses (%s)", e ? e->message : "ok");
		g_clear_error(&e);
		g_file_get_contents(sample, &text, NULL, NULL);
		out = ok ? printed(&o) : g_strdup("");
		lines = g_strsplit(out, "\n", -1);
		for (guint i = 0; lines[i]; i++) {
			g_autofree char *key = NULL, *want = NULL;
			const char *eq = strchr(lines[i], '=');

			if (lines[i][0] == '#' || lines[i][0] == '[' || !eq)
				continue;
			keys++;
			key = g_strndup(lines[i], (gsize)(eq - lines[i]));
			want = g_strdup_printf("\n#%s=", key);
			if (!text || !strstr(text, want)) {
				tap_diag("data/hostrpcd.conf lacks #%s=", key);
				missing++;
			}
		}
		tap_ok(keys > 30 && !missing, "data/hostrpcd.conf names each of the %u keys", keys);
	}

	/* guests/NAME.conf: the services' parsers, the file's real lines. */
	guest_error("# g1\n[memory]\nregion-mib=64\n\n[sockets]\nmax-sockets 8\nconnect maybe any\n",
		    "a bad [sockets] line: the socket parser's error at the file's line",
		    ": line 7: ");
	guest_error("[sockets]\nmax-sockets 8\n[exports]\n\nexport bad/name /tmp\n",
		    "a bad [exports] line: the fs parser's error at the file's line", ":5: ");
	guest_error("[exports]\n[memory]\nregion-mib=64\ngrant-mib=3\n",
		    "a bad [memory] key: the line of the key", ":4: grant-mib: ");
	guest_error("[memory]\nregion-mib=64\ngrant-mb=2\n", "a misspelt [memory] key",
		    ":3: grant-mb: unknown key");
	guest_error("[sockets]\n[network]\n", "an unknown section", ":2: unknown section");
	guest_error("# x\nmax-sockets 3\n[sockets]\n", "a line outside a section",
		    ":2: \"max-sockets 3\" is outside a section");
	{
		g_autofree char *gdir = g_build_filename(dir, "guests", NULL);
		g_auto(HrpcdGuestPolicy) gp = { 0 };
		gboolean ok;

		p = g_build_filename(gdir, "g1.conf", NULL);
		g_unlink(p);
		g_free(p);
		p = g_build_filename(gdir, "default.conf", NULL);
		g_file_set_contents(p, "# all commented\n#[sockets]\n#max-sockets 3\n", -1, NULL);
		ok = hrpcd_guest_policy_load(&gp, gdir, "g1", &e);
		tap_ok(ok && !gp.path && gp.skipped && !strcmp(gp.skipped, p),
		       "a guests/ file with no section counts as none (the sample changes nothing)");
	}
	{
		g_autofree char *rm = g_strdup_printf("rm -rf '%s'", dir);

		if (!g_getenv("ITEST_KEEP") && system(rm) != 0)
			tap_diag("could not remove %s", dir);
	}
	return tap_done();
}
