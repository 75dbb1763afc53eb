/* SPDX-License-Identifier: MIT */
/*
 * test-bulk-alloc-wrap - hrpc_client_bulk_alloc() with sizes near
 * UINT32_MAX: the page count is computed without wrapping, so a huge
 * request fails (-ENOSPC) instead of "succeeding" with a buffer that runs
 * past the data area (the old cap + PAGE - 1 wrapped to 0 pages), and the
 * allocator still works afterwards.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostrpc/chan.h"
#include "hostrpc/echo.h"
#include "tests/tap.h"
#include "tests/unit/testutil.h"

static const uint32_t huge[] = {
	UINT32_MAX, UINT32_MAX - 1, UINT32_MAX - 4094, UINT32_MAX - 4095, UINT32_MAX - 4096,
	(uint32_t)(SIZE_MAX & UINT32_MAX), UINT32_MAX / 2 + 1,
};

int main(void)
{
	struct tpair p;
	struct hrpc_bulk first, b, again;
	uint32_t data_size;
	int rc;

	tap_plan(6);
	rc = tpair_start(&p, false, 20000);
	if (rc) {
		tap_diag("cannot start a memfd pair: %d", rc);
		exit(1);
	}
	data_size = (uint32_t)hrpc_client_chan(p.cli)->data_size;
	tap_diag("data area %u bytes", data_size);
	/* A used page first: with the old wrap, need = 0 matched right
	 * after it. */
	rc = hrpc_client_bulk_alloc(p.cli, 4096, &first);
	tap_ok(rc == 0 && first.ptr, "one page allocated (%d)", rc);

	int bad = 0;
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		rc = hrpc_client_bulk_alloc(p.cli, huge[i], &b);
		if (rc != -ENOSPC || b.ptr || b.cap) {
			tap_diag("cap %u: rc %d ptr %p cap %u off %u", huge[i], rc, b.ptr, b.cap,
				 (unsigned)b.off);
			bad++;
			if (rc == 0)
				hrpc_client_bulk_free(p.cli, &b);
		}
	}
	tap_ok(!bad, "caps near UINT32_MAX are refused with -ENOSPC, nothing handed out");
	rc = hrpc_client_bulk_alloc(p.cli, data_size + 1, &b);
	tap_ok(rc == -ENOSPC && !b.ptr, "one byte more than the data area is refused (%d)", rc);
	rc = hrpc_client_bulk_alloc(p.cli, data_size - 4096, &b);
	tap_ok(rc == 0 && b.ptr && (uint64_t)b.off + b.cap <= data_size,
	       "the rest of the data area can still be taken (%d)", rc);
	if (rc == 0)
		hrpc_client_bulk_free(p.cli, &b);
	hrpc_client_bulk_free(p.cli, &first);
	rc = hrpc_client_bulk_alloc(p.cli, data_size, &again);
	tap_ok(rc == 0 && again.off == 0, "after freeing, the whole area is one buffer (%d)", rc);
	{
		struct hrpc_echo_sum sum;
		struct hrpc_call c = { .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_SINK,
			.rep = &sum, .rep_cap = sizeof(sum), .timeout_ms = 5000 };

		memset(again.ptr, 0x5a, 4096);
		c.bulk = &again;
		c.bulk_len = 4096;
		rc = hrpc_client_call(p.cli, &c);
		tap_ok(rc == 0 && sum.len == 4096, "the channel still works (%d)", rc);
	}
	hrpc_client_bulk_free(p.cli, &again);
	tpair_stop(&p);
	return tap_done();
}
