/* SPDX-License-Identifier: MIT */
/*
 * fuzz-xen - libFuzzer target for the dom0 side of the Xen transport's
 * handshake: everything hostrpcd reads from a domU's xenstore entries
 * before it maps a grant (include/hostrpc/xen.h, hostrpc/daemon/xen-fe.c,
 * the checks xen-domains.c and the worker call):
 *
 *   - the frontend's keys (version, nr-pages, page-dir-ref-N,
 *     event-channel, event-channel-reset, state) as hrpc_xen_parse_u32()
 *     reads them, through hrpcd_xen_fe_check();
 *   - the domain's name (hrpcd_xen_dom_name());
 *   - the directory refs as the supervisor passes them to the worker and
 *     the worker parses them (hrpcd_xen_dirs_parse()), both what the
 *     supervisor would write for an accepted frontend (it must read back
 *     the same) and hostile strings.
 *
 * The input is the frontend's directory as a list of writes:
 *
 *   [key u8][len u8][len value bytes] ...
 *
 * key % 12 picks one of the keys below (a later write replaces an earlier
 * one); values are kept exactly `len` bytes long and not NUL-terminated,
 * as xs_read() reports them, so that a read past `len` is ASan's to see.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostrpc/xen.h"
#include "hostrpc/daemon/guest-table.h"
#include "hostrpc/daemon/xen-fe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keys[] = {
	HRPC_XS_VERSION, HRPC_XS_NR_PAGES, HRPC_XS_DIR_REF "0", HRPC_XS_DIR_REF "1",
	HRPC_XS_DIR_REF "2", HRPC_XS_DIR_REF "3", HRPC_XS_EVTCHN, HRPC_XS_EVTCHN_RESET,
	"state", "name", "worker-dirs", HRPC_XS_DIR_REF "4",
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct store {
	char *v[NKEYS];
	unsigned int len[NKEYS];
	unsigned int reads;
};

/* xen-domains.c's fe_u32() without xenstore: the key's value, if written,
 * through the one parser of frontend numbers. */
static int store_read(void *arg, const char *key, guint32 max, guint32 *out)
{
	struct store *s = arg;

	s->reads++;
	for (unsigned int i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i], key))
			return s->v[i] ? hrpc_xen_parse_u32(s->v[i], s->len[i], max, out) : -ENOENT;
	return -ENOENT;
}

static void check_name(const char *name, guint32 domid)
{
	char dflt[32];

	snprintf(dflt, sizeof(dflt), "xen-dom%u", domid);
	if (!name[0] || (!strcmp(name, ".") || !strcmp(name, "..")))
		abort();
	for (const char *c = name; *c; c++)
		if (!g_ascii_isalnum(*c) && *c != '.' && *c != '_' && *c != '-')
			abort();
	if (strcmp(name, dflt) && hrpcd_guest_name_is_default(name))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct store s = { 0 };
	struct hrpc_xen_chan_spec spec = { .domid = 7 };
	guint32 reset_port = 0, st, refs[HRPC_XEN_MAX_DIRS];
	char name[64];
	const char *why;

	while (n >= 2) {
		unsigned int k = d[0] % NKEYS, l = d[1];

		d += 2;
		n -= 2;
		if (l > n)
			l = (unsigned int)n;
		free(s.v[k]);
		s.v[k] = malloc(l ? l : 1);
		memcpy(s.v[k], d, l);
		s.len[k] = l;
		d += l;
		n -= l;
	}

	/* fe_changed(): the state, any number up to RECONFIGURED. */
	if (store_read(&s, "state", HRPC_XB_RECONFIGURED, &st) == 0 && st > HRPC_XB_RECONFIGURED)
		abort();

	why = hrpcd_xen_fe_check(store_read, &s, &spec, &reset_port);
	if (!why) {
		GString *dirs = g_string_new(NULL);
		guint32 back[HRPC_XEN_MAX_DIRS] = { 0 };

		/* What the backend goes on to map must be within the limits the
		 * channel code relies on. */
		if (spec.nr_pages < HRPC_XEN_MIN_PAGES || spec.nr_pages > HRPC_XEN_MAX_PAGES ||
		    !spec.port || !reset_port || spec.port == reset_port)
			abort();
		/* The supervisor hands the refs to the worker as worker.c writes
		 * them; the worker must read back exactly those. */
		for (guint32 i = 0; i < HRPC_XEN_DIRS(spec.nr_pages); i++)
			g_string_append_printf(dirs, "%s%u", i ? "," : "", spec.dir_refs[i]);
		if (!hrpcd_xen_dirs_parse(dirs->str, spec.nr_pages, back) ||
		    memcmp(back, spec.dir_refs, HRPC_XEN_DIRS(spec.nr_pages) * sizeof(back[0])))
			abort();
		g_string_free(dirs, TRUE);
	}

	/* A worker started with a hostile list (it must not write past refs). */
	if (s.v[10]) {
		char *list = g_strndup(s.v[10], s.len[10]);
		/* worker.c clamps the page count it is given to the maximum. */
		guint32 pages = s.len[10] ? MIN((guint32)(unsigned char)s.v[10][0] << 5,
						HRPC_XEN_MAX_PAGES) : 0;

		hrpcd_xen_dirs_parse(list, pages, refs);
		g_free(list);
	}

	hrpcd_xen_dom_name(s.v[9], s.len[9], spec.domid, name, sizeof(name));
	check_name(name, spec.domid);

	for (unsigned int i = 0; i < NKEYS; i++)
		free(s.v[i]);
	return 0;
}
