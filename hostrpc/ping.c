/* SPDX-License-Identifier: MIT */
/*
 * hostrpc-ping - a process guest: connect to hostrpcd's guest socket (memfd
 * rings) or to any Host RPC stream socket (--vport), call the echo service
 * and report integrity and latency.  Used by the demo and by hand.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostrpc/echo.h"
#include "hostrpc/hostrpc.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hostrpc-ping [--socket PATH] [--vport] [--name NAME] [--count N]\n"
		"                    [--size BYTES] [--bulk] [--interval-ms MS] [--spin-us US]\n"
		"  --socket PATH    hostrpcd guest socket (default " RUNSTATEDIR "/hostrpc/hostrpcd.sock)\n"
		"  --vport          PATH is a stream (vport) socket instead of a memfd one\n"
		"  --name NAME      the guest name sent in HELLO (default hostrpc-ping)\n"
		"  --count N        calls to make (default 1000)\n"
		"  --size BYTES     payload per call (default 64; > 65536 implies --bulk)\n"
		"  --bulk           send the payload through the bulk data area\n"
		"  --interval-ms MS pause between calls (default 0)\n"
		"  --spin-us US     poll this long before sleeping (default 20)\n"
		"  --help           print this and exit\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' }, { "vport", no_argument, NULL, 'v' },
		{ "name", required_argument, NULL, 'n' }, { "count", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 'z' }, { "bulk", no_argument, NULL, 'b' },
		{ "interval-ms", required_argument, NULL, 'i' }, { "spin-us", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *path = RUNSTATEDIR "/hostrpc/hostrpcd.sock", *name = "hostrpc-ping";
	long count = 1000, size = 64, interval = 0, spin = 20;
	bool vport = false, bulk = false;
	uint8_t *in = NULL, *out = NULL;
	struct hrpc_bulk b = { 0 };
	hrpc_client *cli;
	hrpc_chan *ch;
	uint64_t *lat;
	long bad = 0;
	int o, rc;

	while ((o = getopt_long(argc, argv, "s:vn:c:z:bi:p:h", opts, NULL)) != -1) {
		switch (o) {
		case 's': path = optarg; break;
		case 'v': vport = true; break;
		case 'n': name = optarg; break;
		case 'c': count = strtol(optarg, NULL, 0); break;
		case 'z': size = strtol(optarg, NULL, 0); break;
		case 'b': bulk = true; break;
		case 'i': interval = strtol(optarg, NULL, 0); break;
		case 'p': spin = strtol(optarg, NULL, 0); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || count <= 0 || size < 0 || size > (64l << 20) || interval < 0 || spin < 0) {
		usage(stderr);
		return 2;
	}
	if (size > HRPC_MSG_MAX_PAYLOAD)
		bulk = true;
	rc = vport ? hrpc_vport_connect(path, &ch) : hrpc_memfd_connect(path, &ch);
	if (rc < 0) {
		fprintf(stderr, "hostrpc-ping: cannot connect to %s: %s\n", path, strerror(-rc));
		return 1;
	}
	hrpc_chan_set_spin(ch, (uint32_t)spin * 1000);
	rc = hrpc_client_new(ch, name, 5000, &cli);
	if (rc < 0) {
		fprintf(stderr, "hostrpc-ping: HELLO failed: %s\n", strerror(-rc));
		return 1;
	}
	lat = calloc((size_t)count, sizeof(*lat));
	in = malloc((size_t)size + 1);
	out = malloc(HRPC_MSG_MAX_PAYLOAD);
	if (bulk && (rc = hrpc_client_bulk_alloc(cli, size ? (uint32_t)size * 2 : 2, &b)) < 0) {
		fprintf(stderr, "hostrpc-ping: no bulk buffer of %ld bytes: %s\n", size * 2, strerror(-rc));
		return 1;
	}
	for (long i = 0; i < count; i++) {
		struct hrpc_echo_sum sum;
		struct hrpc_call c = { .service = HRPC_SVC_ECHO, .timeout_ms = 10000 };
		uint64_t t0;

		for (long k = 0; k < size; k++)
			in[k] = (uint8_t)(k * 13 + i);
		if (bulk) {
			memcpy(b.ptr, in, (size_t)size);
			c.proc = HRPC_ECHO_BULK;
			c.bulk = &b;
			c.bulk_len = (uint32_t)size;
			c.rep = &sum;
			c.rep_cap = sizeof(sum);
		} else {
			c.proc = HRPC_ECHO_PING;
			c.req = in;
			c.req_len = (uint32_t)size;
			c.rep = out;
			c.rep_cap = HRPC_MSG_MAX_PAYLOAD;
		}
		t0 = hrpc_now_ns();
		rc = hrpc_client_call(cli, &c);
		lat[i] = hrpc_now_ns() - t0;
		if (rc < 0) {
			fprintf(stderr, "hostrpc-ping: call %ld failed: %s\n", i, strerror(-rc));
			return 1;
		}
		if (bulk ? (c.rep_bulk_len != size || memcmp((uint8_t *)b.ptr + c.rep_bulk_pos, in, (size_t)size))
			 : (c.rep_len != size || memcmp(out, in, (size_t)size)))
			bad++;
		if (interval)
			usleep((useconds_t)interval * 1000);
	}
	qsort(lat, (size_t)count, sizeof(*lat), cmp_u64);
	/* doorbells: how often we had to wake the server (it slept) */
	printf("%s: guest %u, %ld calls of %ld bytes (%s), %ld corrupted, p50 %.2f us, p99 %.2f us, "
	       "doorbells %llu\n",
	       name, hrpc_client_guest_id(cli), count, size, bulk ? "bulk" : "inline", bad,
	       lat[count / 2] / 1000.0, lat[count * 99 / 100] / 1000.0,
	       (unsigned long long)hrpc_chan_stats(ch)->doorbells_out);
	hrpc_client_bulk_free(cli, &b);
	hrpc_client_free(cli);
	free(lat);
	free(in);
	free(out);
	return bad ? 1 : 0;
}
