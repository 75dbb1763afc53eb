/* SPDX-License-Identifier: MIT */
/* fss-call.h - one call to an in-process fs-server (fs-server/server.h), as
 * root, for the unit tests that drive it without a transport. */
#ifndef HOSTRPC_TESTS_FSS_CALL_H
#define HOSTRPC_TESTS_FSS_CALL_H

#include <stdlib.h>
#include <string.h>

#include "fs-server/server.h"
#include "hostrpc/guestfs.h"
#include "hostrpc/msg.h"

/* The payload after the credentials (p, len), request bulk (bulk, blen);
 * the reply's first outlen bytes into out and its bulk into rbulk (either
 * may be NULL).  Returns the server's status. */
static inline int fss_call(struct fss *s, uint16_t proc, const void *p, size_t len,
			   const void *bulk, uint32_t blen, void *out, size_t outlen, void *rbulk)
{
	static uint8_t rep_buf[HRPC_MSG_MAX_PAYLOAD], bulk_buf[HRPC_GFS_IO_MAX];
	struct hrpc_msg_hdr hdr = { .kind = HRPC_KIND_CALL, .service = HRPC_SVC_FS, .proc = proc };
	struct hrpc_reply rep = { .payload = rep_buf };
	struct hrpc_req req = { .hdr = &hdr };
	struct hrpc_gfs_cred cred = { 0 };
	uint8_t *buf = calloc(1, sizeof(cred) + len);
	int rc;

	if (!buf)
		return -ENOMEM;
	memcpy(buf + sizeof(cred), p, len);
	if (blen)
		memcpy(bulk_buf, bulk, blen);
	req.payload = buf;
	req.len = (uint32_t)(sizeof(cred) + len);
	hdr.len = req.len;
	req.bulk = bulk_buf;
	req.bulk_len = blen;
	req.bulk_cap = sizeof(bulk_buf);
	rc = fss_handle(s, &req, &rep);
	if (rc == 0 && out)
		memcpy(out, rep_buf, outlen < rep.len ? outlen : rep.len);
	if (rc == 0 && rbulk)
		memcpy(rbulk, bulk_buf + rep.bulk_pos, rep.bulk_len);
	free(buf);
	return rc;
}

#endif
