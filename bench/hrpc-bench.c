/* SPDX-License-Identifier: MIT */
/*
 * hrpc-bench - Host RPC over memfd rings vs a plain unix-socket
 * request/response baseline, measured in the same run:
 *   - null-call round trip p50/p99 (polling server+client, and doorbell-only)
 *   - bulk throughput at 4 KiB, 64 KiB and 1 MiB (client writes the data,
 *     server copies it out and checksums it, replies with the sum)
 * Prints each figure, the ratios, and whether the project's goals are met:
 *   ring p50 <= 1/5 of unix p50; bulk >= 5 GB/s at 1 MiB.
 * Usage: hrpc-bench [--quick] [--check]   (--check: exit 1 if a goal is missed)
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostrpc/echo.h"
#include "hostrpc/hostrpc.h"

static int iters = 200000;
static int bulk_bytes_target = 2048; /* MiB moved per size */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct lat { double p50, p99; };

static struct lat summarize(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return (struct lat){ v[n / 2] / 1000.0, v[(int)(n * 0.99)] / 1000.0 };
}

/* ---- hostrpc over memfd ---------------------------------------------------- */

struct ring_rig {
	hrpc_server *srv;
	hrpc_conn *conn;
	hrpc_client *cli;
	pthread_t th;
	volatile bool stop;
};

static void *ring_serve(void *arg)
{
	struct ring_rig *r = arg;

	hrpc_conn_serve(r->conn, &r->stop);
	return NULL;
}

static int ring_up(struct ring_rig *r, uint32_t spin_ns)
{
	hrpc_chan *s, *c;
	int sv[2], rc;

	memset(r, 0, sizeof(*r));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -errno;
	r->srv = hrpc_server_new("bench");
	hrpc_server_register_builtins(r->srv);
	rc = hrpc_memfd_server_new(sv[0], 16u << 20, &s);
	if (!rc)
		rc = hrpc_memfd_client_new(sv[1], &c);
	close(sv[0]);
	close(sv[1]);
	if (rc)
		return rc;
	hrpc_chan_set_spin(s, spin_ns);
	hrpc_chan_set_spin(c, spin_ns);
	rc = hrpc_conn_new(r->srv, s, 1, &r->conn);
	if (rc)
		return rc;
	pthread_create(&r->th, NULL, ring_serve, r);
	return hrpc_client_new(c, "bench", 5000, &r->cli);
}

static void ring_down(struct ring_rig *r)
{
	__atomic_store_n(&r->stop, true, __ATOMIC_RELEASE);  /* hrpc_conn_serve() reads it atomically */
	pthread_join(r->th, NULL);
	hrpc_client_free(r->cli);
	hrpc_conn_free(r->conn);
	hrpc_server_free(r->srv);
}

static struct lat ring_null(uint32_t spin_ns, int n)
{
	struct ring_rig r;
	uint64_t *v = calloc((size_t)n, sizeof(*v));
	struct hrpc_call c = { .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_PING, .timeout_ms = 5000 };
	struct lat l;

	if (ring_up(&r, spin_ns)) {
		fprintf(stderr, "ring set-up failed\n");
		exit(2);
	}
	for (int i = 0; i < n / 10; i++)
		hrpc_client_call(r.cli, &c);
	for (int i = 0; i < n; i++) {
		uint64_t t0 = hrpc_now_ns();

		if (hrpc_client_call(r.cli, &c)) {
			fprintf(stderr, "call failed\n");
			exit(2);
		}
		v[i] = hrpc_now_ns() - t0;
	}
	ring_down(&r);
	l = summarize(v, n);
	free(v);
	return l;
}

static int bulk_done;

static void on_bulk(hrpc_client *c, struct hrpc_call *call, void *opaque)
{
	struct hrpc_echo_sum *sum = call->rep;

	if (call->status || sum->len != call->bulk_len) {
		fprintf(stderr, "bulk call failed: %d\n", call->status);
		exit(2);
	}
	bulk_done++;
}

/*
 * Bulk through the data area.  `window` calls are in flight, each with its
 * own buffer: with 1 the client's copy and the server's read alternate;
 * with more the client fills one buffer while the server reads another,
 * which is how a stream (a socket, a file copy) uses the API.
 */
static double ring_bulk(uint32_t size, int window)
{
	static uint8_t *src;
	struct ring_rig r;
	struct hrpc_bulk b[4];
	struct hrpc_echo_sum sum[4];
	struct hrpc_call c[4];
	uint64_t n = ((uint64_t)bulk_bytes_target << 20) / size, t0, t, sent = 0;

	if (!src) {
		src = malloc(1u << 20);
		for (int i = 0; i < 1 << 20; i++)
			src[i] = (uint8_t)(i * 7);
	}
	if (ring_up(&r, 50000)) {
		fprintf(stderr, "ring set-up failed\n");
		exit(2);
	}
	for (int w = 0; w < window; w++) {
		if (hrpc_client_bulk_alloc(r.cli, size, &b[w])) {
			fprintf(stderr, "bulk alloc failed\n");
			exit(2);
		}
		c[w] = (struct hrpc_call){ .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_SINK,
			.rep = &sum[w], .rep_cap = sizeof(sum[w]), .bulk = &b[w], .bulk_len = size };
	}
	bulk_done = 0;
	t0 = hrpc_now_ns();
	while ((uint64_t)bulk_done < n) {
		/* Refill every buffer whose call completed, then wait. */
		while (sent < n && sent - (uint64_t)bulk_done < (uint64_t)window) {
			int w = (int)(sent % (uint64_t)window);

			memcpy(b[w].ptr, src, size);  /* the client produces its data */
			if (hrpc_client_call_async(r.cli, &c[w], on_bulk, NULL)) {
				fprintf(stderr, "bulk call failed\n");
				exit(2);
			}
			sent++;
		}
		if (hrpc_client_process(r.cli, 1000) < 0) {
			fprintf(stderr, "bulk wait failed\n");
			exit(2);
		}
	}
	t = hrpc_now_ns() - t0;
	if (sum[0].sum != hrpc_echo_sum(src, size)) {
		fprintf(stderr, "bulk checksum mismatch\n");
		exit(2);
	}
	for (int w = 0; w < window; w++)
		hrpc_client_bulk_free(r.cli, &b[w]);
	ring_down(&r);
	return (double)n * size / t;  /* bytes per ns = GB/s */
}

/* ---- baseline: unix socket request/response -------------------------------- */

static int read_full(int fd, void *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			return -1;
		p = (uint8_t *)p + r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p = (const uint8_t *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

/* Same message header as Host RPC; payload follows; server replies with a
 * header (+ hrpc_echo_sum when there was a payload). */
static void *unix_serve(void *arg)
{
	int fd = *(int *)arg;
	uint8_t *buf = malloc(1u << 20);
	struct hrpc_msg_hdr h;

	while (read_full(fd, &h, sizeof(h)) == 0) {
		struct hrpc_echo_sum s = { 0 };

		if (h.len > (1u << 20) || read_full(fd, buf, h.len))
			break;
		if (h.len) {
			s.sum = hrpc_echo_sum(buf, h.len);
			s.len = h.len;
		}
		h.kind = HRPC_KIND_REPLY;
		h.len = s.len ? sizeof(s) : 0;
		if (write_full(fd, &h, sizeof(h)) || (h.len && write_full(fd, &s, sizeof(s))))
			break;
	}
	free(buf);
	return NULL;
}

struct unix_rig { int sv[2]; pthread_t th; };

static void unix_up(struct unix_rig *u)
{
	int sz = 4 << 20;

	socketpair(AF_UNIX, SOCK_STREAM, 0, u->sv);
	for (int i = 0; i < 2; i++) {
		setsockopt(u->sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(u->sv[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	pthread_create(&u->th, NULL, unix_serve, &u->sv[1]);
}

static void unix_down(struct unix_rig *u)
{
	close(u->sv[0]);
	pthread_join(u->th, NULL);
	close(u->sv[1]);
}

static int unix_call(int fd, const void *p, uint32_t len, struct hrpc_echo_sum *s)
{
	struct hrpc_msg_hdr h;

	hrpc_msg_init(&h, HRPC_KIND_CALL, HRPC_SVC_ECHO, HRPC_ECHO_SINK, 1, len);
	if (write_full(fd, &h, sizeof(h)) || (len && write_full(fd, p, len)) ||
	    read_full(fd, &h, sizeof(h)) || (h.len && read_full(fd, s, sizeof(*s))))
		return -1;
	return 0;
}

static struct lat unix_null(int n)
{
	struct unix_rig u;
	uint64_t *v = calloc((size_t)n, sizeof(*v));
	struct hrpc_echo_sum s;
	struct lat l;

	unix_up(&u);
	for (int i = 0; i < n / 10; i++)
		unix_call(u.sv[0], NULL, 0, &s);
	for (int i = 0; i < n; i++) {
		uint64_t t0 = hrpc_now_ns();

		unix_call(u.sv[0], NULL, 0, &s);
		v[i] = hrpc_now_ns() - t0;
	}
	unix_down(&u);
	l = summarize(v, n);
	free(v);
	return l;
}

static double unix_bulk(uint32_t size)
{
	static uint8_t *src, *buf;
	struct unix_rig u;
	struct hrpc_echo_sum s;
	uint64_t n = ((uint64_t)bulk_bytes_target << 20) / size, t0, t;

	if (!src) {
		src = malloc(1u << 20);
		buf = malloc(1u << 20);
		for (int i = 0; i < 1 << 20; i++)
			src[i] = (uint8_t)(i * 7);
	}
	unix_up(&u);
	t0 = hrpc_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		memcpy(buf, src, size);  /* the client produces its data, as above */
		if (unix_call(u.sv[0], buf, size, &s) || s.len != size) {
			fprintf(stderr, "unix bulk failed\n");
			exit(2);
		}
	}
	t = hrpc_now_ns() - t0;
	unix_down(&u);
	return (double)n * size / t;
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 4096, 65536, 1u << 20 };
	bool check = false, ok = true;
	struct lat rp, ri, up;
	double rb[3], rp2[3], ub[3];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			iters = 20000;
			bulk_bytes_target = 256;
		} else if (!strcmp(argv[i], "--check")) {
			check = true;
		} else {
			fprintf(stderr, "usage: %s [--quick] [--check]\n", argv[0]);
			return 2;
		}
	}
	printf("hostrpc bench: %d null calls per mode, %d MiB per bulk size, %ld online CPUs\n",
	       iters, bulk_bytes_target, sysconf(_SC_NPROCESSORS_ONLN));
	up = unix_null(iters);
	rp = ring_null(50000, iters);
	ri = ring_null(0, iters / 4);
	printf("null call round trip (us)          p50      p99\n");
	printf("  unix socket baseline        %8.2f %8.2f\n", up.p50, up.p99);
	printf("  ring, adaptive poll (50us)  %8.2f %8.2f\n", rp.p50, rp.p99);
	printf("  ring, doorbell only         %8.2f %8.2f\n", ri.p50, ri.p99);
	printf("bulk throughput (GB/s)   ring 1-deep  ring 4-deep     unix   ring/unix (4-deep)\n");
	for (int i = 0; i < 3; i++) {
		ub[i] = unix_bulk(sizes[i]);
		rb[i] = ring_bulk(sizes[i], 1);
		rp2[i] = ring_bulk(sizes[i], 4);
		printf("  %7u B              %9.2f  %11.2f  %7.2f   %6.2fx\n", sizes[i], rb[i], rp2[i],
		       ub[i], rp2[i] / ub[i]);
	}
	printf("ratio: ring p50 / unix p50 = %.3f (goal <= 0.200): %s\n", rp.p50 / up.p50,
	       rp.p50 / up.p50 <= 0.2 ? "met" : "MISSED");
	printf("goal: ring bulk at 1 MiB, 4 buffers in flight = %.2f GB/s (goal >= 5.00): %s\n",
	       rp2[2], rp2[2] >= 5.0 ? "met" : "MISSED");
	ok = rp.p50 / up.p50 <= 0.2 && rp2[2] >= 5.0;
	return check && !ok ? 1 : 0;
}
