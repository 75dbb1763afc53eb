/* SPDX-License-Identifier: MIT */
/*
 * test-xen-handshake - what hostrpcd accepts from a domU's frontend
 * directory (include/hostrpc/xen.h): numbers as xenstore carries them (not
 * NUL-terminated, hostile), the limits, and hrpc_xen_chan_new()'s refusal of
 * specs outside them before it touches the hypervisor.  The handshake
 * itself runs on real Xen in tests/vm/xen/.
 */
#include "config.h"

#include <string.h>

#include "hostrpc/hostrpc.h"
#include "hostrpc/xen.h"
#include "tests/tap.h"

static int parse(const char *v, uint32_t max, uint32_t *out)
{
	return hrpc_xen_parse_u32(v, (unsigned int)strlen(v), max, out);
}

int main(void)
{
	static const char *bad[] = {
		"", "-1", "+1", " 1", "1 ", "01", "00", "1a", "0x10", "4294967296",
		"99999999999", "1\n",
	};
	struct hrpc_xen_chan_spec spec;
	hrpc_chan *ch = NULL;
	uint32_t v = 7;
	char unterminated[4] = { '1', '2', '3', '4' };

	tap_plan(15);
	tap_ok(parse("0", 10, &v) == 0 && v == 0, "\"0\" is 0");
	tap_ok(parse("4294967295", UINT32_MAX, &v) == 0 && v == UINT32_MAX, "u32 max parses");
	tap_ok(parse("4096", HRPC_XEN_MAX_PAGES, &v) == 0 && v == 4096, "4096 pages is the limit");
	v = 7;
	tap_ok(parse("4097", HRPC_XEN_MAX_PAGES, &v) == -ERANGE && v == 7,
	       "4097 pages: -ERANGE, output untouched");
	{
		int refused = 0;

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			refused += parse(bad[i], UINT32_MAX, &v) < 0;
		tap_ok(refused == (int)(sizeof(bad) / sizeof(bad[0])),
		       "signs, spaces, leading zeros, hex, overflow, newline refused (%d/%zu)",
		       refused, sizeof(bad) / sizeof(bad[0]));
	}
	tap_ok(hrpc_xen_parse_u32(unterminated, 3, 1000, &v) == 0 && v == 123,
	       "a value is its reported length, not up to a NUL");
	tap_ok(hrpc_xen_parse_u32(NULL, 1, 1, &v) == -EINVAL, "NULL value refused");
	tap_ok(HRPC_XEN_DIRS(HRPC_XEN_MIN_PAGES) == 1 && HRPC_XEN_DIRS(1) == 1 && HRPC_XEN_DIRS(1024) == 1 &&
	       HRPC_XEN_DIRS(1025) == 2 && HRPC_XEN_DIRS(HRPC_XEN_MAX_PAGES) == HRPC_XEN_MAX_DIRS,
	       "directory pages: 1024 references each");
	tap_ok(HRPC_XEN_DEFAULT_PAGES >= HRPC_XEN_MIN_PAGES &&
	       HRPC_XEN_DEFAULT_PAGES <= HRPC_XEN_MAX_PAGES &&
	       (uint64_t)HRPC_XEN_DEFAULT_PAGES * HRPC_XEN_PAGE == HRPC_SHM_DEFAULT_SIZE,
	       "the default channel is the ivshmem default size");
	{
		struct hrpc_shm_hdr g;

		tap_ok(hrpc_shm_geometry_init(&g, (uint64_t)HRPC_XEN_MIN_PAGES * HRPC_XEN_PAGE,
					      HRPC_RING_DEFAULT_SIZE) == 0 &&
		       g.data_size >= 256u << 10,
		       "the smallest channel holds a header, hostrpcd's rings and 256 KiB of data");
	}

	memset(&spec, 0, sizeof(spec));
	spec.domid = 0;
	spec.nr_pages = 2048;
	tap_ok(hrpc_xen_chan_new(&spec, &ch) == -EINVAL && !ch, "domain 0 refused");
	spec.domid = 5;
	spec.nr_pages = HRPC_XEN_MIN_PAGES - 1;
	tap_ok(hrpc_xen_chan_new(&spec, &ch) == -EINVAL && !ch, "too few pages refused");
	spec.nr_pages = HRPC_XEN_MAX_PAGES + 1;
	tap_ok(hrpc_xen_chan_new(&spec, &ch) == -EINVAL && !ch, "too many pages refused");
	spec.domid = 0x7ff0;   /* DOMID_FIRST_RESERVED */
	spec.nr_pages = 2048;
	tap_ok(hrpc_xen_chan_new(&spec, &ch) == -EINVAL && !ch, "reserved domain ids refused");
	spec.domid = 5;
	{
		int rc = hrpc_xen_chan_new(&spec, &ch);

		/* Not under Xen (this test's host): the devices are missing. */
		tap_ok(rc < 0 && !ch, "a valid spec outside Xen fails cleanly (%s)", strerror(-rc));
	}
	return tap_done();
}
