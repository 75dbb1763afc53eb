/* SPDX-License-Identifier: MIT */
/*
 * builtins.c - the echo and stats services every hostrpc server offers.
 * echo proves integrity and measures the transport (echo.h); stats lets a
 * guest read its own channel counters (stats.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hostrpc/chan.h"
#include "hostrpc/echo.h"
#include "hostrpc/ring.h"

static int put_sum(struct hrpc_reply *rep, const void *p, uint32_t len)
{
	struct hrpc_echo_sum *s = rep->payload;

	s->sum = hrpc_echo_sum(p, len);
	s->len = len;
	s->reserved = 0;
	rep->len = sizeof(*s);
	return 0;
}

static int echo_handle(void *opaque, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const struct hrpc_echo_source_req *src;
	const struct hrpc_echo_events_req *evr;
	hrpc_chan *ch;
	uint8_t *buf;
	uint32_t i;
	int rc;

	switch (req->hdr->proc) {
	case HRPC_ECHO_PING:
		memcpy(rep->payload, req->payload, req->len);
		rep->len = req->len;
		return 0;
	case HRPC_ECHO_SINK:
		/* Consumed in place, once, like a socket send would: nothing is
		 * parsed, so a guest rewriting the bytes only changes its sum. */
		if (!req->bulk)
			return -EINVAL;
		return put_sum(rep, req->bulk, req->bulk_len);
	case HRPC_ECHO_BULK:
		if (!req->bulk)
			return -EINVAL;
		if (req->bulk_len > req->bulk_cap - req->bulk_len)
			return -ENOBUFS;
		/* Private copy: what we checksum and send back is what we
		 * read once, not what the guest may rewrite meanwhile. */
		buf = hrpc_conn_scratch(req->conn, req->bulk_len);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, req->bulk, req->bulk_len);
		memcpy(req->bulk + req->bulk_len, buf, req->bulk_len);
		rep->bulk_pos = req->bulk_len;
		rep->bulk_len = req->bulk_len;
		return put_sum(rep, buf, req->bulk_len);
	case HRPC_ECHO_SOURCE:
		if (req->len != sizeof(*src) || !req->bulk)
			return -EINVAL;
		src = req->payload;
		if (src->len > req->bulk_cap || src->reserved)
			return -EINVAL;
		buf = hrpc_conn_scratch(req->conn, src->len);
		if (!buf)
			return -ENOMEM;
		for (i = 0; i < src->len; i++)
			buf[i] = hrpc_echo_pattern(src->seed, i);
		memcpy(req->bulk, buf, src->len);
		rep->bulk_pos = 0;
		rep->bulk_len = src->len;
		return put_sum(rep, buf, src->len);
	case HRPC_ECHO_EVENTS:
		if (req->len != sizeof(*evr))
			return -EINVAL;
		evr = req->payload;
		if (evr->count > HRPC_ECHO_MAX_EVENTS || evr->reserved)
			return -EINVAL;
		ch = hrpc_conn_chan(req->conn);
		for (i = 0; i < evr->count; i++) {
			uint64_t seq = i;
			long space = ch->ops->space(ch);

			/* The server took this call because its reply fits;
			 * events must not eat that room, or the reply could
			 * not be sent and the guest would have fenced its own
			 * channel by asking for more than it drains. */
			if (space < 0)
				return (int)space;
			if (space < (long)(HRPC_RECORD_SIZE(sizeof(seq)) + HRPC_RECORD_SIZE(sizeof(i))))
				break;
			rc = hrpc_conn_send_event(req->conn, HRPC_SVC_ECHO, HRPC_ECHO_EV_TICK,
						  &seq, sizeof(seq));
			if (rc == -EAGAIN)
				break;  /* ring full: the reply says how many went out */
			if (rc < 0)
				return rc;
		}
		memcpy(rep->payload, &i, sizeof(i));
		rep->len = sizeof(i);
		return 0;
	default:
		return -ENOSYS;
	}
}

static int stats_handle(void *opaque, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	if (req->hdr->proc != HRPC_STATS_GET)
		return -ENOSYS;
	if (req->len)
		return -EINVAL;
	memcpy(rep->payload, hrpc_conn_stats(req->conn), sizeof(struct hrpc_stats));
	rep->len = sizeof(struct hrpc_stats);
	return 0;
}

int hrpc_server_register_builtins(hrpc_server *s)
{
	int rc;

	rc = hrpc_server_register(s, HRPC_SVC_ECHO, "echo", echo_handle, NULL);
	if (rc < 0)
		return rc;
	return hrpc_server_register(s, HRPC_SVC_STATS, "stats", stats_handle, NULL);
}
