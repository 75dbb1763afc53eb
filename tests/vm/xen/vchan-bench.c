/* SPDX-License-Identifier: MIT */
/*
 * vchan-bench - the baseline of bench/xen-bench.sh: libxenvchan's own
 * client/server pair between dom0 and a domU, doing what hrpc-echo does
 * through hostrpc: 64-byte round trips, then a bulk stream.
 *
 * usage: vchan-bench server PEER XS_PATH [ROUNDTRIPS [MIB [RING]]]   (domU)
 *        vchan-bench client PEER XS_PATH [ROUNDTRIPS [MIB]]          (dom0)
 * The server echoes ROUNDTRIPS 64-byte messages, then reads MIB MiB and
 * answers their byte sum; the client checks both and prints
 *   RESULT vchan roundtrips=N mean_us=.. p50_us=.. mib=M secs=.. mib_s=..
 * RING (bytes, default 65536) is the size of each of the server's rings:
 * the probe measured ~1 MiB/s with libxenvchan's default tiny rings and
 * ~50 MiB/s with 64 KiB ones, so the baseline uses the fast setting.
 *
 *        vchan-bench ping-server PEER XS_PATH [ROUNDTRIPS]           (domU)
 *        vchan-bench ping-client PEER XS_PATH [ROUNDTRIPS]           (dom0)
 * The floor under both transports: a bare event-channel ping-pong, no ring
 * and no data (libxenevtchn on both sides; the domU allocates the port and
 * writes it to XS_PATH/port).  Each round trip is what any event-driven
 * Xen transport pays at least: a notify, a wake-up of the peer's blocked
 * reader, a notify back and a wake-up.  The client prints
 *   RESULT evtchn roundtrips=N mean_us=.. p50_us=..
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errno.h>
#include <poll.h>

#include <libxenvchan.h>
#include <xenevtchn.h>
#include <xenstore.h>

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t sum_bytes(const uint8_t *p, size_t n, uint64_t s)
{
	for (size_t i = 0; i < n; i++)
		s = s * 31 + p[i];
	return s;
}

/* Wait for the port's event, at most `ms` (a peer that is gone must not
 * hang the benchmark), then unmask it. */
static int evtchn_wait(xenevtchn_handle *h, evtchn_port_t port, int ms)
{
	struct pollfd pfd = { .fd = xenevtchn_fd(h), .events = POLLIN };
	xenevtchn_port_or_error_t p;

	if (poll(&pfd, 1, ms) != 1) {
		errno = ETIMEDOUT;
		return -1;
	}
	p = xenevtchn_pending(h);
	if (p < 0 || (evtchn_port_t)p != port)
		return -1;
	return xenevtchn_unmask(h, port);
}

static int ping(int server, int peer, const char *path, int n)
{
	xenevtchn_handle *h = xenevtchn_open(NULL, 0);
	struct xs_handle *xs = xs_open(0);
	char key[256], val[32], *rv;
	xenevtchn_port_or_error_t port;
	uint64_t *t = calloc((size_t)n, sizeof(*t)), rt = 0;
	const int warm = 20;

	if (!h || !xs || !t) {
		perror("vchan-bench: xenevtchn_open/xs_open");
		return 1;
	}
	snprintf(key, sizeof(key), "%s/port", path);
	if (server) {
		port = xenevtchn_bind_unbound_port(h, (uint32_t)peer);
		snprintf(val, sizeof(val), "%d", port);
		if (port < 0 || !xs_write(xs, XBT_NULL, key, val, strlen(val))) {
			perror("vchan-bench ping-server: port");
			return 1;
		}
	} else {
		unsigned int len;

		for (int i = 0; !(rv = xs_read(xs, XBT_NULL, key, &len)); i++) {
			if (i > 300) {
				fprintf(stderr, "vchan-bench ping-client: no %s\n", key);
				return 1;
			}
			nanosleep(&(struct timespec){ .tv_nsec = 100000000 }, NULL);
		}
		port = xenevtchn_bind_interdomain(h, (uint32_t)peer, (evtchn_port_t)atoi(rv));
		free(rv);
		if (port < 0) {
			perror("vchan-bench ping-client: bind");
			return 1;
		}
	}
	/* Binding marks the binder's own port pending, always (Xen's
	 * evtchn_bind_interdomain: a notify sent to the unbound port could
	 * have been lost).  Take exactly that event before counting, however
	 * late it is delivered: taken as a reply, it would put the two sides
	 * one event apart, and the pending bit that merges two notifies into
	 * one would then leave both waiting.  The server's unbound port gets
	 * no such event, and must not drain either: what comes there is the
	 * client's first ping.  (Draining for 200 ms on both sides, as
	 * before, lost that ping when the client was quicker - a hang.) */
	if (!server && evtchn_wait(h, (evtchn_port_t)port, 60000))
		goto broken;
	for (int i = 0; i < n + warm; i++) {
		uint64_t t0 = now_ns();

		if (server) {
			if (evtchn_wait(h, (evtchn_port_t)port, 60000) ||
			    xenevtchn_notify(h, (evtchn_port_t)port))
				goto broken;
			continue;
		}
		if (xenevtchn_notify(h, (evtchn_port_t)port) ||
		    evtchn_wait(h, (evtchn_port_t)port, 60000))
			goto broken;
		if (i >= warm) {
			t[i - warm] = now_ns() - t0;
			rt += t[i - warm];
		}
	}
	if (!server) {
		qsort(t, (size_t)n, sizeof(*t), cmp_u64);
		printf("RESULT evtchn roundtrips=%d mean_us=%.1f p50_us=%.1f\n", n, rt / 1e3 / n,
		       t[n / 2] / 1e3);
	}
	xenevtchn_unbind(h, (evtchn_port_t)port);
	xenevtchn_close(h);
	xs_close(xs);
	free(t);
	return 0;
broken:
	perror(server ? "vchan-bench ping-server" : "vchan-bench ping-client");
	return 1;
}

int main(int argc, char **argv)
{
	static uint8_t buf[65536];
	struct libxenvchan *c;
	int server, peer, n, mib, ring;
	const char *path;
	uint64_t total, moved = 0, sum = 0;

	if (argc >= 4 && (!strcmp(argv[1], "ping-server") || !strcmp(argv[1], "ping-client"))) {
		n = argc > 4 ? atoi(argv[4]) : 1000;
		if (n < 1) {
			fprintf(stderr, "vchan-bench: bad counts\n");
			return 2;
		}
		return ping(!strcmp(argv[1], "ping-server"), atoi(argv[2]), argv[3], n);
	}
	if (argc < 4 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		fprintf(stderr, "usage: %s server|client PEER XS_PATH [ROUNDTRIPS [MIB [RING]]]\n"
				"       %s ping-server|ping-client PEER XS_PATH [ROUNDTRIPS]\n",
			argv[0], argv[0]);
		return 2;
	}
	server = !strcmp(argv[1], "server");
	peer = atoi(argv[2]);
	path = argv[3];
	n = argc > 4 ? atoi(argv[4]) : 1000;
	mib = argc > 5 ? atoi(argv[5]) : 16;
	ring = argc > 6 ? atoi(argv[6]) : 65536;
	if (n < 1 || mib < 0) {
		fprintf(stderr, "vchan-bench: bad counts\n");
		return 2;
	}
	total = (uint64_t)mib << 20;
	c = server ? libxenvchan_server_init(NULL, peer, path, (size_t)ring, (size_t)ring)
		   : libxenvchan_client_init(NULL, peer, path);
	if (!c) {
		perror(server ? "libxenvchan_server_init" : "libxenvchan_client_init");
		return 1;
	}
	c->blocking = 1;
	if (server) {
		uint8_t m[64];

		while (libxenvchan_is_open(c) == 2)
			libxenvchan_wait(c);
		for (int i = 0; i < n; i++)
			if (libxenvchan_recv(c, m, 64) != 64 || libxenvchan_send(c, m, 64) != 64) {
				fprintf(stderr, "vchan-bench server: round trip %d failed\n", i);
				return 1;
			}
		while (moved < total) {
			int r = libxenvchan_read(c, buf, sizeof(buf));

			if (r <= 0) {
				fprintf(stderr, "vchan-bench server: read failed after %llu bytes\n",
					(unsigned long long)moved);
				return 1;
			}
			sum = sum_bytes(buf, (size_t)r, sum);
			moved += (uint64_t)r;
		}
		if (libxenvchan_send(c, &sum, sizeof(sum)) != (int)sizeof(sum))
			return 1;
		/* Until the client has read the answer and closed. */
		while (libxenvchan_is_open(c) == 1) {
			if (libxenvchan_data_ready(c) == 0)
				libxenvchan_wait(c);
			else
				libxenvchan_read(c, buf, sizeof(buf));
		}
	} else {
		uint64_t *t = calloc((size_t)n, sizeof(*t)), t0, rt = 0, want = 0, got = 0;
		uint8_t p[64], q[64];

		if (!t)
			return 1;
		for (int i = 0; i < n; i++) {
			memset(p, i & 0xff, sizeof(p));
			snprintf((char *)p, sizeof(p), "ping %d", i);
			t0 = now_ns();
			if (libxenvchan_send(c, p, 64) != 64 || libxenvchan_recv(c, q, 64) != 64 ||
			    memcmp(p, q, 64)) {
				fprintf(stderr, "vchan-bench client: round trip %d failed\n", i);
				return 1;
			}
			t[i] = now_ns() - t0;
			rt += t[i];
		}
		qsort(t, (size_t)n, sizeof(*t), cmp_u64);
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(i * 7 + 1);
		t0 = now_ns();
		while (moved < total) {
			size_t len = total - moved < sizeof(buf) ? (size_t)(total - moved) : sizeof(buf);
			int w = libxenvchan_write(c, buf, len);

			if (w <= 0) {
				fprintf(stderr, "vchan-bench client: write failed\n");
				return 1;
			}
			want = sum_bytes(buf, (size_t)w, want);
			moved += (uint64_t)w;
		}
		if (libxenvchan_recv(c, &got, sizeof(got)) != (int)sizeof(got) || got != want) {
			fprintf(stderr, "vchan-bench client: the server's sum differs\n");
			return 1;
		}
		t0 = now_ns() - t0;
		printf("RESULT vchan roundtrips=%d mean_us=%.1f p50_us=%.1f mib=%d secs=%.3f mib_s=%.1f\n",
		       n, rt / 1e3 / n, t[n / 2] / 1e3, mib, t0 / 1e9,
		       t0 ? mib / (t0 / 1e9) : 0.0);
		free(t);
	}
	libxenvchan_close(c);
	return 0;
}
