/* SPDX-License-Identifier: MIT */
/* guest-policy.c - guests/NAME.conf: one file, a section per service. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <gio/gio.h>

#include "fs-server/server.h"
#include "hostrpc/daemon/guest-policy.h"
#include "outsource/fs/policy.h"
#include "outsource/mem/outsource-mem.h"
#include "outsource/sock/policy.h"

#define DEFAULT_GUEST_DIR SYSCONFDIR "/hostrpc/guests"

static const char *const section_names[HRPCD_GUEST_NSECTIONS] = {
	[HRPCD_GUEST_SOCKETS] = "sockets",
	[HRPCD_GUEST_EXPORTS] = "exports",
	[HRPCD_GUEST_MEMORY] = "memory",
};

const char *hrpcd_guest_section_name(HrpcdGuestSection s)
{
	return s < HRPCD_GUEST_NSECTIONS ? section_names[s] : "?";
}

void hrpcd_guest_policy_clear(HrpcdGuestPolicy *gp)
{
	g_clear_pointer(&gp->path, g_free);
	g_clear_pointer(&gp->skipped, g_free);
	for (guint i = 0; i < HRPCD_GUEST_NSECTIONS; i++)
		g_clear_pointer(&gp->text[i], g_free);
}

/* "[name]" (blanks around allowed): the name, else NULL. */
static char *section_header(const char *line)
{
	g_autofree char *l = g_strstrip(g_strdup(line));
	gsize n = strlen(l);

	if (n < 2 || l[0] != '[' || l[n - 1] != ']')
		return NULL;
	return g_strstrip(g_strndup(l + 1, n - 2));
}

gboolean hrpcd_guest_policy_split(HrpcdGuestPolicy *gp, const char *path, const char *text,
				  GError **error)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint n = g_strv_length(lines);
	guint first[HRPCD_GUEST_NSECTIONS] = { 0 };
	/* Each line's section; -1: none (comments before the first). */
	g_autofree int *owner = g_new(int, n + 1);
	int cur = -1;
	gboolean any = FALSE;

	hrpcd_guest_policy_clear(gp);
	for (guint i = 0; i < n; i++) {
		g_autofree char *name = section_header(lines[i]);
		const char *l = lines[i];

		if (name) {
			cur = -1;
			for (int s = 0; s < HRPCD_GUEST_NSECTIONS; s++)
				if (!strcmp(name, section_names[s]))
					cur = s;
			if (cur < 0) {
				g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
					    "%s:%u: unknown section [%s] (sockets, exports, memory)",
					    path, i + 1, name);
				return FALSE;
			}
			if (first[cur]) {
				g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
					    "%s:%u: [%s] again (first on line %u)", path, i + 1,
					    name, first[cur]);
				return FALSE;
			}
			first[cur] = i + 1;
			any = TRUE;
			owner[i] = -2 - cur;  /* the header of section cur */
			continue;
		}
		owner[i] = cur;
		while (g_ascii_isspace(*l))
			l++;
		if (cur < 0 && *l && *l != '#') {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
				    "%s:%u: \"%s\" is outside a section ([sockets], [exports] or "
				    "[memory])", path, i + 1, lines[i]);
			return FALSE;
		}
	}
	if (!any) {
		gp->skipped = g_strdup(path);
		return TRUE;
	}
	for (int s = 0; s < HRPCD_GUEST_NSECTIONS; s++) {
		GString *t;

		if (!first[s])
			continue;
		t = g_string_new(NULL);
		for (guint i = 0; i < n; i++) {
			/* [memory] is a GKeyFile group: its parser wants the
			 * header; the line-based parsers want only directives. */
			if (owner[i] == s || (s == HRPCD_GUEST_MEMORY && owner[i] == -2 - s))
				g_string_append(t, lines[i]);
			if (i + 1 < n)
				g_string_append_c(t, '\n');
		}
		gp->text[s] = g_string_free(t, FALSE);
	}
	gp->path = g_strdup(path);
	return TRUE;
}

gboolean hrpcd_guest_policy_load(HrpcdGuestPolicy *gp, const char *dir, const char *name,
				 GError **error)
{
	const char *d = dir ? dir : DEFAULT_GUEST_DIR;
	g_autofree char *file = g_strdup_printf("%s.conf", name);
	g_autofree char *path = g_build_filename(d, file, NULL);
	g_autofree char *text = NULL;
	g_autoptr(GError) e = NULL;
	g_autofree char *skipped = NULL;

	hrpcd_guest_policy_clear(gp);
	/* A guest name is [A-Za-z0-9._-] (guest-table.h): never a path, but
	 * "." and ".." are names too. */
	if (!*name || strchr(name, '/'))
		return TRUE;
	for (int pass = 0; pass < 2; pass++) {
		if (pass) {
			g_free(path);
			path = g_build_filename(d, "default.conf", NULL);
		}
		if (!g_file_get_contents(path, &text, NULL, &e)) {
			if (g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
				g_clear_error(&e);
				continue;
			}
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", e->message);
			return FALSE;
		}
		if (!hrpcd_guest_policy_split(gp, path, text, error))
			return FALSE;
		g_clear_pointer(&text, g_free);
		if (gp->path)
			break;
		/* Only comments: as if it were not there. */
		if (!skipped)
			skipped = g_steal_pointer(&gp->skipped);
		g_clear_pointer(&gp->skipped, g_free);
	}
	if (!gp->path)
		gp->skipped = g_steal_pointer(&skipped);
	return TRUE;
}

/* ---- hostrpcd --check-config --guest=NAME ---------------------------------------- */

/* DIR/NAME.conf, else DIR/default.conf (each service's own lookup), or NULL. */
static char *service_file(const char *dir, const char *name)
{
	g_autofree char *file = g_strdup_printf("%s.conf", name);
	g_autofree char *p = g_build_filename(dir, file, NULL);

	if (g_file_test(p, G_FILE_TEST_EXISTS))
		return g_steal_pointer(&p);
	g_free(p);
	p = g_build_filename(dir, "default.conf", NULL);
	return g_file_test(p, G_FILE_TEST_EXISTS) ? g_steal_pointer(&p) : NULL;
}

static gboolean print_sockets(FILE *f, const char *text, const char *source, GError **error)
{
	struct sock_policy p;
	char err[512] = "";
	int rc = 0;

	sock_policy_init(&p);
	if (text)
		rc = sock_policy_parse(&p, text, err, sizeof(err));
	if (!rc)
		rc = sock_policy_add_builtin(&p);
	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc), "%s: %s", source,
			    err[0] ? err : g_strerror(-rc));
		sock_policy_clear(&p);
		return FALSE;
	}
	snprintf(p.source, sizeof(p.source), "%s", source);
	sock_policy_print(&p, f, false);
	sock_policy_clear(&p);
	return TRUE;
}

static gboolean print_exports(FILE *f, const char *text, const char *source, GError **error)
{
	struct fs_policy p;
	char err[512] = "";
	int rc = fs_policy_parse(text ? text : "", source, &p, err, sizeof(err));

	if (rc < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-rc), "%s", err);
		return FALSE;
	}
	fprintf(f, "source: %s\n", source);
	for (guint i = 0; i < p.nexports; i++) {
		const struct fs_export_policy *e = &p.exports[i];

		fprintf(f, "export %s %s%s ids=%s", e->name, e->path, e->ro ? " ro" : "",
			e->ids_spec[0] ? e->ids_spec : FS_POLICY_DEFAULT_IDS);
		if (e->allow)
			fprintf(f, " allow=%s%s%s%s%s", e->allow & FSS_ALLOW_SUID ? "suid" : "",
				(e->allow & FSS_ALLOW_SUID) && (e->allow & ~FSS_ALLOW_SUID) ? ","
				: "", e->allow & FSS_ALLOW_DEV ? "dev" : "",
				(e->allow & FSS_ALLOW_DEV) && (e->allow & FSS_ALLOW_PRIV_XATTRS) ? ","
				: "", e->allow & FSS_ALLOW_PRIV_XATTRS ? "xattrs" : "");
		if (e->quota)
			fprintf(f, " quota=%" G_GUINT64_FORMAT, (guint64)e->quota);
		fputc('\n', f);
	}
	if (!p.nexports)
		fprintf(f, "# no exports\n");
	fprintf(f, "max-files %u\nmax-nodes %u\n", p.max_files, p.max_nodes);
	fs_policy_clear(&p);
	return TRUE;
}

static gboolean print_memory(FILE *f, const char *text, const char *source, const char *name,
			     GError **error)
{
	g_autofree char *out = text ? outsource_mem_policy_format(text, source, name, error)
				    : g_strdup("");

	if (!out)
		return FALSE;
	fprintf(f, "source: %s\n", source);
	fputs(*out ? out : "# no region\n", f);
	return TRUE;
}

gboolean hrpcd_guest_policy_print(FILE *f, const HrpcdPolicyDirs *dirs, const char *name,
				  GError **error)
{
	g_auto(HrpcdGuestPolicy) gp = { 0 };
	const char *guest_dir = dirs->guest_dir ? dirs->guest_dir : DEFAULT_GUEST_DIR;

	/* Names are [A-Za-z0-9._-] (guest-table.h): nothing else names a file
	 * any service would read. */
	for (const char *c = name; *c || c == name; c++)
		if (!*c || !(g_ascii_isalnum(*c) || strchr("._-", *c))) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
				    "\"%s\" is not a guest name (letters, digits, '.', '_', '-')",
				    name);
			return FALSE;
		}
	if (!hrpcd_guest_policy_load(&gp, guest_dir, name, error))
		return FALSE;
	fprintf(f, "\n# guest %s\n", name);
	if (gp.skipped)
		fprintf(f, "# %s has no section: ignored\n", gp.skipped);
	if (gp.path)
		fprintf(f, "# policy file: %s (every section from it)\n", gp.path);
	else
		fprintf(f, "# policy file: none in %s: the per-service directories apply\n",
			guest_dir);
	for (int s = 0; s < HRPCD_GUEST_NSECTIONS; s++) {
		static const char *const defaults[HRPCD_GUEST_NSECTIONS] = {
			SYSCONFDIR "/hostrpc/sock", SYSCONFDIR "/hostrpc/fs",
			SYSCONFDIR "/hostrpc/mem",
		};
		const char *dir = s == HRPCD_GUEST_SOCKETS ? dirs->sock_dir
				  : s == HRPCD_GUEST_EXPORTS ? dirs->fs_dir : dirs->mem_dir;
		g_autofree char *text = NULL, *source = NULL, *file = NULL;
		gboolean ok;

		if (!dir)
			dir = defaults[s];
		if (gp.path && gp.text[s]) {
			text = g_strdup(gp.text[s]);
			source = g_strdup(gp.path);
		} else if (gp.path) {
			source = g_strdup_printf("built-in default (%s has no [%s])", gp.path,
						 section_names[s]);
		} else if ((file = service_file(dir, name))) {
			if (!g_file_get_contents(file, &text, NULL, error))
				return FALSE;
			source = g_strdup(file);
		} else {
			source = g_strdup_printf("built-in default (no %s/%s.conf, no "
						 "%s/default.conf)", dir, name, dir);
		}
		fprintf(f, "\n[%s]\n", section_names[s]);
		fflush(f);
		if (s == HRPCD_GUEST_SOCKETS)
			ok = print_sockets(f, text, source, error);
		else if (s == HRPCD_GUEST_EXPORTS)
			ok = print_exports(f, text, source, error);
		else
			ok = print_memory(f, text, source, name, error);
		if (!ok)
			return FALSE;
	}
	return TRUE;
}
