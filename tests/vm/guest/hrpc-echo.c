/* SPDX-License-Identifier: MIT */
/*
 * hrpc-echo - guest program: calls the host's echo service through
 * /dev/hostrpcN and checks every byte.
 *
 * usage: hrpc-echo [-d DEV] [-n CALLS] [-s LAT_SIZE] [-p POLL_US] [-e EVENTS]
 *                  [-l MAX_BULK] [-q]
 *   integrity: PING with inline payloads 0 B .. 64 KiB, BULK with bulk
 *   payloads 1 B .. MAX_BULK (default 1 MiB), each with interrupt-driven
 *   waits, bounded polling, and through the module's async call API;
 *   latency: CALLS PINGs of LAT_SIZE bytes (default 64) with interrupt-
 *   driven waits, then with bounded polling; prints p50/p99/mean;
 *   events: ECHO EVENTS with EVENTS ticks (default 100), read back in order.
 *   -R SECS: first wait up to SECS for a host reset while calling (prints
 *   "RESET-ME" for the harness), check that calls fail only with
 *   ECONNRESET/ENOTCONN meanwhile and work again afterwards.
 *   -t MS: per-call timeout (default: the module's).
 *   -B MIB: one-way bulk throughput: MIB MiB through SINK calls of 1 MiB
 *   (the host reads each once and answers its sum, which is checked), after
 *   the integrity checks; prints "RESULT bulk ...".
 * Prints "ok"/"not ok" lines and "RESULT ..." lines for the harness; exits
 * 1 on any mismatch or failed call, 77 if the device is missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "hostrpc/msg.h"
#include "hostrpc/echo.h"
#include "hostrpc/chardev.h"

static int fd = -1;
static int failures;
static int verbose = 1;
static uint32_t timeout_ms;

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	if (!ok)
		failures++;
	if (ok && !verbose)
		return;
	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static int do_call(struct hrpc_ioc_call *c)
{
	c->argsz = sizeof(*c);
	if (!c->timeout_ms)
		c->timeout_ms = timeout_ms;
	return ioctl(fd, HRPC_IOC_CALL, c);
}

static int get_info(struct hrpc_ioc_info *i)
{
	memset(i, 0, sizeof(*i));
	i->argsz = sizeof(*i);
	return ioctl(fd, HRPC_IOC_INFO, i);
}

static const char *const mode_name[] = { "irq", "poll", "async" };
static const uint32_t mode_flags[] = { 0, HRPC_IOC_CALL_POLL, HRPC_IOC_CALL_ASYNC };

static int ping(uint32_t len, int mode, uint32_t poll_us, uint64_t seed)
{
	static uint8_t req[HRPC_MSG_MAX_PAYLOAD], rep[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_ioc_call c = {
		.service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_PING,
		.flags = mode_flags[mode], .poll_us = poll_us,
		.req = (uintptr_t)req, .req_len = len,
		.rep = (uintptr_t)rep, .rep_cap = sizeof(rep),
	};

	fill(req, len, seed);
	memset(rep, 0xa5, len);
	if (do_call(&c) < 0) {
		check(0, "PING %u B (%s): ioctl: %s", len, mode_name[mode], strerror(errno));
		return -1;
	}
	if (c.status || c.rep_len != len || memcmp(req, rep, len)) {
		check(0, "PING %u B (%s): status %d rep_len %u%s", len, mode_name[mode],
		      c.status, c.rep_len, c.rep_len == len ? " payload differs" : "");
		return -1;
	}
	return 0;
}

static int bulk(uint32_t len, int mode, uint64_t seed)
{
	static uint8_t *in, *out;
	static uint32_t have;
	struct hrpc_echo_sum sum = { 0 };
	struct hrpc_ioc_call c = {
		.service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_BULK,
		.flags = mode_flags[mode],
		.rep = (uintptr_t)&sum, .rep_cap = sizeof(sum),
		.bulk_len = len, .bulk_cap = 2 * len,
		.bulk_out_cap = len,
	};

	if (have < len) {
		free(in);
		free(out);
		in = malloc(len);
		out = malloc(len);
		have = len;
		if (!in || !out) {
			check(0, "malloc %u", len);
			exit(1);
		}
	}
	fill(in, len, seed);
	memset(out, 0x5a, len);
	c.bulk_in = (uintptr_t)in;
	c.bulk_out = (uintptr_t)out;
	if (do_call(&c) < 0) {
		check(0, "BULK %u B: ioctl: %s", len, strerror(errno));
		return -1;
	}
	if (c.status || c.rep_len != sizeof(sum) || c.rep_bulk_len != len ||
	    c.rep_bulk_pos != len) {
		check(0, "BULK %u B: status %d rep_len %u bulk %u@%u", len, c.status, c.rep_len,
		      c.rep_bulk_len, c.rep_bulk_pos);
		return -1;
	}
	if (sum.len != len || sum.sum != hrpc_echo_sum(in, len)) {
		check(0, "BULK %u B: host's sum differs (host read other bytes)", len);
		return -1;
	}
	if (memcmp(in, out, len)) {
		check(0, "BULK %u B: echoed bytes differ", len);
		return -1;
	}
	return 0;
}

static int sink(const uint8_t *in, uint32_t len)
{
	struct hrpc_echo_sum sum = { 0 };
	struct hrpc_ioc_call c = {
		.service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_SINK,
		.rep = (uintptr_t)&sum, .rep_cap = sizeof(sum),
		.bulk_in = (uintptr_t)in, .bulk_len = len, .bulk_cap = len,
	};

	if (do_call(&c) < 0 || c.status || c.rep_len != sizeof(sum)) {
		check(0, "SINK %u B: rc/status %d", len, c.status);
		return -1;
	}
	if (sum.len != len || sum.sum != hrpc_echo_sum(in, len)) {
		check(0, "SINK %u B: the host's sum differs", len);
		return -1;
	}
	return 0;
}

static void throughput(int mib)
{
	uint32_t len = 1u << 20;
	uint8_t *in = malloc(len);
	uint64_t t0, ns;
	int bad = 0;

	if (!in) {
		check(0, "malloc %u", len);
		return;
	}
	fill(in, len, 42);
	t0 = now_ns();
	for (int i = 0; i < mib; i++)
		bad += sink(in, len) < 0;
	ns = now_ns() - t0;
	printf("RESULT bulk mib=%d secs=%.3f mib_s=%.1f\n", mib, ns / 1e9,
	       ns ? mib / (ns / 1e9) : 0.0);
	check(!bad, "bulk throughput: %d MiB in 1 MiB SINK calls, %d failed", mib, bad);
	free(in);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void latency(const char *mode, int n, uint32_t size, int poll_mode, uint32_t poll_us)
{
	uint64_t *t = calloc(n, sizeof(*t)), total = 0;
	int i, bad = 0;

	for (i = 0; i < 50 && i < n; i++)	/* warm up */
		ping(size, poll_mode, poll_us, i);
	for (i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		if (ping(size, poll_mode, poll_us, i) < 0)
			bad++;
		t[i] = now_ns() - t0;
		total += t[i];
	}
	qsort(t, n, sizeof(*t), cmp_u64);
	printf("RESULT latency mode=%s size=%u n=%d p50_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f max_us=%.1f\n",
	       mode, size, n, t[n / 2] / 1e3, t[(n * 99) / 100] / 1e3, total / 1e3 / n,
	       t[0] / 1e3, t[n - 1] / 1e3);
	check(!bad, "latency %s: %d calls, %d failed", mode, n, bad);
	free(t);
}

static void events(uint32_t count)
{
	struct hrpc_echo_events_req r = { .count = count };
	struct hrpc_ioc_call c = {
		.service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_EVENTS,
		.req = (uintptr_t)&r, .req_len = sizeof(r),
	};
	uint32_t svc = HRPC_SVC_ECHO, got = 0, dropped = 0, order_bad = 0;
	struct {
		struct hrpc_ioc_event ev;
		uint64_t seq;
	} e;

	if (ioctl(fd, HRPC_IOC_SUBSCRIBE, &svc) < 0) {
		check(0, "subscribe: %s", strerror(errno));
		return;
	}
	if (do_call(&c) < 0 || c.status) {
		check(0, "EVENTS %u: %s status %d", count, strerror(errno), c.status);
		goto out;
	}
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 2000) <= 0)
			break;
		n = read(fd, &e, sizeof(e));
		if (n != sizeof(e) || e.ev.service != HRPC_SVC_ECHO ||
		    e.ev.event != HRPC_ECHO_EV_TICK || e.ev.len != 8) {
			order_bad++;
			continue;
		}
		dropped += e.ev.dropped;
		if (e.seq != got + dropped)
			order_bad++;
		got++;
		if (got + dropped == count)
			break;
	}
	check(got == count && !order_bad && !dropped,
	      "events: %u of %u ticks in order (dropped %u, bad %u)", got, count, dropped, order_bad);
out:
	ioctl(fd, HRPC_IOC_UNSUBSCRIBE, &svc);
}

static void info(const char *when)
{
	struct hrpc_ioc_info i;

	if (get_info(&i) < 0) {
		check(0, "INFO: %s", strerror(errno));
		return;
	}
	printf("# info(%s): state=%u err=%d guest_id=%u rev=%u gen=%u data=%u free=%u server='%s'\n",
	       when, i.state, i.last_error, i.guest_id, i.revision, i.host_gen, i.data_size,
	       i.data_free, i.server);
#define U(x) ((unsigned long long)(x))
	printf("# counters: calls=%llu replies=%llu events=%llu unknown=%llu bad=%llu orphan=%llu"
	       " ring_irqs=%llu reset_irqs=%llu doorbells=%llu resets=%llu poll_hits=%llu"
	       " poll_misses=%llu\n",
	       U(i.calls), U(i.replies), U(i.events), U(i.unknown_replies), U(i.bad_replies),
	       U(i.orphan_replies), U(i.ring_irqs), U(i.reset_irqs), U(i.doorbells), U(i.resets),
	       U(i.poll_hits), U(i.poll_misses));
#undef U
	fflush(stdout);
}

/* Keep calling while the host resets the channel. */
static void reset_wait(int secs)
{
	uint8_t buf[64];
	struct hrpc_ioc_info i;
	uint64_t resets0, t0 = now_ns(), t_reset = 0;
	unsigned int ok_before = 0, ok_after = 0, econnreset = 0, enotconn = 0, other = 0;

	if (get_info(&i) < 0) {
		check(0, "INFO: %s", strerror(errno));
		return;
	}
	resets0 = i.resets;
	printf("RESET-ME\n");
	fflush(stdout);
	while (now_ns() - t0 < (uint64_t)secs * 1000000000ull) {
		struct hrpc_ioc_call c = {
			.service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_PING,
			.req = (uintptr_t)buf, .req_len = sizeof(buf),
			.rep = (uintptr_t)buf, .rep_cap = sizeof(buf),
		};
		int r = do_call(&c), err = errno;

		if (get_info(&i) == 0 && i.resets > resets0 && !t_reset)
			t_reset = now_ns();
		if (r == 0 && c.status == 0) {
			if (t_reset && i.state == HRPC_IOC_STATE_ATTACHED) {
				if (++ok_after >= 20)
					break;
			} else {
				ok_before++;
			}
			continue;
		}
		if (r < 0 && err == ECONNRESET)
			econnreset++;
		else if (r < 0 && err == ENOTCONN)
			enotconn++;
		else
			other++;
		usleep(1000);
	}
	printf("RESULT reset resets=%llu ok_before=%u econnreset=%u enotconn=%u other=%u ok_after=%u recover_ms=%.1f\n",
	       (unsigned long long)(i.resets - resets0), ok_before, econnreset, enotconn, other,
	       ok_after, t_reset ? (now_ns() - t_reset) / 1e6 : -1.0);
	check(i.resets > resets0 && ok_after >= 20 && !other,
	      "host reset: re-attached, calls work again, only ECONNRESET/ENOTCONN meanwhile");
}

/*
 * argsz: a caller built against a header with fields appended to
 * struct hrpc_ioc_call (a longer argsz, and so another size in the command
 * number) is served while the fields the module does not know are 0, and
 * refused with E2BIG when one is not; a shorter argsz is EINVAL.
 */
static void argsz_checks(void)
{
	struct {
		struct hrpc_ioc_call c;
		uint64_t appended;
	} big;
	static uint8_t req[8] = "argsz!!", rep[8];
	unsigned long cmd_big = _IOWR(HRPC_IOC_TYPE, 0x01, big);
	int rc, e;

	memset(&big, 0, sizeof(big));
	big.c = (struct hrpc_ioc_call){
		.argsz = sizeof(big), .service = HRPC_SVC_ECHO, .proc = HRPC_ECHO_PING,
		.timeout_ms = timeout_ms, .req = (uintptr_t)req, .req_len = sizeof(req),
		.rep = (uintptr_t)rep, .rep_cap = sizeof(rep),
	};
	rc = ioctl(fd, cmd_big, &big);
	e = errno;
	check(rc == 0 && big.c.status == 0 && big.c.rep_len == sizeof(req) &&
	      !memcmp(req, rep, sizeof(req)),
	      "argsz %zu (appended field 0): PING served (rc %d %s, status %d)",
	      sizeof(big), rc, rc ? strerror(e) : "", big.c.status);
	big.c.argsz = sizeof(big);
	big.appended = 1;
	rc = ioctl(fd, cmd_big, &big);
	check(rc < 0 && errno == E2BIG, "argsz %zu (appended field not 0): E2BIG (rc %d %s)",
	      sizeof(big), rc, rc ? strerror(errno) : "");
	big.c.argsz = sizeof(big.c) - 4;
	rc = ioctl(fd, HRPC_IOC_CALL, &big.c);
	check(rc < 0 && errno == EINVAL, "argsz %zu (shorter): EINVAL (rc %d %s)",
	      sizeof(big.c) - 4, rc, rc ? strerror(errno) : "");
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/hostrpc0";
	int n = 1000, opt, nev = 100, reset_secs = 0, bulk_mib = 0;
	uint32_t lat_size = 64, poll_us = 0, max_bulk = 1u << 20;
	static const uint32_t inline_sizes[] = { 0, 1, 7, 8, 40, 100, 1000, 4096, 4097,
						 32768, 65535, 65536 };
	uint64_t seed = 1;
	int mode;

	while ((opt = getopt(argc, argv, "d:n:s:p:e:l:qR:t:B:")) != -1) {
		switch (opt) {
		case 'd': dev = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 's': lat_size = (uint32_t)atoi(optarg); break;
		case 'p': poll_us = (uint32_t)atoi(optarg); break;
		case 'e': nev = atoi(optarg); break;
		case 'l': max_bulk = (uint32_t)atoi(optarg); break;
		case 'q': verbose = 0; break;
		case 'R': reset_secs = atoi(optarg); break;
		case 't': timeout_ms = (uint32_t)atoi(optarg); break;
		case 'B': bulk_mib = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-d DEV] [-n CALLS] [-s SIZE] [-p POLL_US] [-e EVENTS] [-l MAX_BULK] [-q] [-R SECS] [-t MS] [-B MIB]\n",
				argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("# SKIP cannot open %s: %s\n", dev, strerror(errno));
		return 77;
	}
	info("start");
	{
		struct hrpc_ioc_info i;

		if (get_info(&i) == 0 && i.state != HRPC_IOC_STATE_ATTACHED) {
			check(0, "channel not attached (state %u, last error %d)", i.state, i.last_error);
			printf("RESULT integrity=FAIL failures=%d\n", failures);
			return 1;
		}
	}
	if (reset_secs)
		reset_wait(reset_secs);
	else
		argsz_checks();

	for (mode = 0; mode < 3; mode++) {
		int bad = 0, calls = 0;

		for (size_t i = 0; i < sizeof(inline_sizes) / sizeof(inline_sizes[0]); i++, calls++)
			bad += ping(inline_sizes[i], mode, poll_us, seed++) < 0;
		check(!bad, "PING inline 0..65536 B (%s): %d calls, %d bad", mode_name[mode],
		      calls, bad);
		bad = calls = 0;
		for (uint32_t len = 1; len <= max_bulk; len = len < 4096 ? len * 4 + 3 : len * 2, calls++) {
			bad += bulk(len, mode, seed++) < 0;
			if (len < max_bulk && len * 2 > max_bulk && len >= 4096) {
				len = max_bulk / 2;	/* finish with max_bulk itself */
			}
		}
		bad += bulk(max_bulk, mode, seed++) < 0;
		calls++;
		check(!bad, "BULK 1..%u B (%s): %d calls, %d bad", max_bulk, mode_name[mode],
		      calls, bad);
	}

	if (n > 0) {
		latency("irq", n, lat_size, 0, 0);
		latency("poll", n, lat_size, 1, poll_us);
		latency("async", n, lat_size, 2, 0);
	}
	if (nev > 0)
		events((uint32_t)nev);
	if (bulk_mib > 0)
		throughput(bulk_mib);
	info("end");
	printf("RESULT integrity=%s failures=%d\n", failures ? "FAIL" : "PASS", failures);
	close(fd);
	return failures ? 1 : 0;
}
