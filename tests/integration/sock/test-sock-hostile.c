/* SPDX-License-Identifier: MIT */
/*
 * test-sock-hostile - a malicious process guest against the socket service:
 * forged and stale handles, payloads of the wrong size, reserved fields,
 * huge lengths, bulk references outside the data area, unsupported
 * families/types/options/flags, credit abuse, quota exhaustion, an event
 * flood the guest does not drain, and thousands of random calls.  The host
 * must answer each with the right errno, never fence, never crash, keep its
 * resources bounded, and keep serving normal traffic afterwards.
 */
#include "config.h"

#include <stdlib.h>
#include <sys/resource.h>

#include "tests/tap.h"
#include "outsource/sock/sockguest.h"

static struct sguest g;

static int raw(uint16_t proc, const void *req, uint32_t len)
{
	static uint8_t rep[HRPC_MSG_MAX_PAYLOAD];

	return sg_call(&g, proc, req, len, rep, sizeof(rep), NULL, 0, NULL);
}

/* Every fixed-size request, one byte short and one byte long: -EINVAL. */
static void test_sizes(uint64_t h)
{
	static const struct { uint16_t proc; uint32_t size; } fixed[] = {
		{ HRPC_SOCK_INIT, sizeof(struct hrpc_sock_init_req) },
		{ HRPC_SOCK_SOCKET, sizeof(struct hrpc_sock_socket_req) },
		{ HRPC_SOCK_CLOSE, sizeof(struct hrpc_sock_handle_req) },
		{ HRPC_SOCK_BIND, sizeof(struct hrpc_sock_addr_req) },
		{ HRPC_SOCK_LISTEN, sizeof(struct hrpc_sock_handle_req) },
		{ HRPC_SOCK_CONNECT, sizeof(struct hrpc_sock_addr_req) },
		{ HRPC_SOCK_ACCEPT, sizeof(struct hrpc_sock_handle_req) },
		{ HRPC_SOCK_RECV, sizeof(struct hrpc_sock_recv_req) },
		{ HRPC_SOCK_SHUTDOWN, sizeof(struct hrpc_sock_handle_req) },
		{ HRPC_SOCK_GETNAME, sizeof(struct hrpc_sock_handle_req) },
		{ HRPC_SOCK_SETSOCKOPT, sizeof(struct hrpc_sock_opt) },
		{ HRPC_SOCK_GETSOCKOPT, sizeof(struct hrpc_sock_opt) },
		{ HRPC_SOCK_IOCTL, sizeof(struct hrpc_sock_handle_req) },
		{ HRPC_SOCK_POLL, sizeof(struct hrpc_sock_handle_req) },
		{ HRPC_SOCK_CREDIT, sizeof(struct hrpc_sock_credit) },
	};
	uint8_t buf[1024];
	int bad = 0;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, &h, sizeof(h));
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (raw(fixed[i].proc, buf, fixed[i].size - 1) != -EINVAL)
			bad++;
		if (raw(fixed[i].proc, buf, fixed[i].size + 1) != -EINVAL)
			bad++;
		if (raw(fixed[i].proc, buf, 0) != -EINVAL)
			bad++;
	}
	if (raw(HRPC_SOCK_SEND, buf, sizeof(struct hrpc_sock_send_req) - 1) != -EINVAL)
		bad++;
	tap_ok(!bad, "every procedure: short, long and empty payloads -> -EINVAL (%d wrong)", bad);
	bad = 0;
	for (unsigned int p = 0; p < 70000; p += (p < 40 ? 1 : 997))
		if ((p == 0 || p > HRPC_SOCK_PROC_MAX) && raw((uint16_t)p, buf, 16) != -ENOSYS)
			bad++;
	tap_ok(!bad, "unknown procedures -> -ENOSYS (%d wrong)", bad);
}

static void test_handles(void)
{
	uint64_t h, h2;
	struct hrpc_sock_handle_req r = { 0 };
	int bad = 0, rc;

	sg_socket(&g, AF_INET, SOCK_DGRAM, &h);
	static const uint64_t forged[] = { 0, 1, 0xffffffffull, 0xffffffffffffffffull,
					   0x100000000ull | 60000, 0x7fffffff00000000ull };
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		r.handle = forged[i];
		if (raw(HRPC_SOCK_POLL, &r, sizeof(r)) != -EBADF)
			bad++;
	}
	r.handle = hrpc_sock_handle(hrpc_sock_handle_index(h), hrpc_sock_handle_gen(h) + 1);
	if (raw(HRPC_SOCK_POLL, &r, sizeof(r)) != -EBADF)
		bad++;
	r.handle = hrpc_sock_handle(hrpc_sock_handle_index(h), 0);
	if (raw(HRPC_SOCK_POLL, &r, sizeof(r)) != -EBADF)
		bad++;
	tap_ok(!bad, "forged handles (index out of range, wrong or zero generation) -> -EBADF");
	rc = sg_close(&g, h);
	tap_ok(rc == 0 && sg_close(&g, h) == -EBADF, "close twice: second -EBADF");
	sg_socket(&g, AF_INET, SOCK_DGRAM, &h2);
	r.handle = h;
	rc = raw(HRPC_SOCK_POLL, &r, sizeof(r));
	tap_ok(hrpc_sock_handle_index(h2) == hrpc_sock_handle_index(h) && h2 != h && rc == -EBADF,
	       "a reused slot gets a new generation: the old handle stays dead");
	r.handle = h2;
	r.reserved = 1;
	tap_ok(raw(HRPC_SOCK_POLL, &r, sizeof(r)) == -EINVAL, "reserved field set -> -EINVAL");
	sg_close(&g, h2);
}

static void test_socket_args(void)
{
	static const struct { uint16_t fam, type; uint32_t proto; int want; const char *what; } c[] = {
		{ 1, 1, 0, -EAFNOSUPPORT, "AF_UNIX" },
		{ 17, 3, 0, -EAFNOSUPPORT, "AF_PACKET" },
		{ 16, 3, 0, -EAFNOSUPPORT, "AF_NETLINK" },
		{ 0, 1, 0, -EAFNOSUPPORT, "AF_UNSPEC" },
		{ 2, 3, 0, -ESOCKTNOSUPPORT, "SOCK_RAW" },
		{ 2, 5, 0, -ESOCKTNOSUPPORT, "SOCK_SEQPACKET" },
		{ 2, 1 | 04000, 0, -ESOCKTNOSUPPORT, "type with SOCK_NONBLOCK" },
		{ 2, 1, 17, -EPROTONOSUPPORT, "stream + UDP" },
		{ 10, 2, 6, -EPROTONOSUPPORT, "dgram + TCP" },
		{ 2, 1, 132, -EPROTONOSUPPORT, "SCTP" },
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct hrpc_sock_socket_req r = { .family = c[i].fam, .type = c[i].type,
						  .protocol = c[i].proto };
		int rc = raw(HRPC_SOCK_SOCKET, &r, sizeof(r));

		if (rc != c[i].want) {
			bad++;
			tap_diag("%s: %d, want %d", c[i].what, rc, c[i].want);
		}
	}
	tap_ok(!bad, "unsupported families, types and protocols get their errno");
}

static void test_addrs_opts(void)
{
	uint64_t h, t;
	struct hrpc_sock_addr_req r;
	int bad = 0, rc;

	sg_socket(&g, AF_INET, SOCK_DGRAM, &h);
	memset(&r, 0, sizeof(r));
	r.handle = h;
	sg_addr(&r.addr, AF_INET, "127.0.0.1", 0);
	r.addr.reserved = 1;
	if (raw(HRPC_SOCK_BIND, &r, sizeof(r)) != -EINVAL)
		bad++;
	r.addr.reserved = 0;
	r.addr.addr[9] = 1; /* IPv4 with garbage after the 4 bytes */
	if (raw(HRPC_SOCK_BIND, &r, sizeof(r)) != -EINVAL)
		bad++;
	r.addr.addr[9] = 0;
	r.addr.family = 99;
	if (raw(HRPC_SOCK_BIND, &r, sizeof(r)) != -EAFNOSUPPORT)
		bad++;
	sg_addr(&r.addr, AF_INET6, "::1", 0);
	if (raw(HRPC_SOCK_BIND, &r, sizeof(r)) != -EAFNOSUPPORT)
		bad++;
	r.flags = 1;
	sg_addr(&r.addr, AF_INET, "127.0.0.1", 0);
	if (raw(HRPC_SOCK_BIND, &r, sizeof(r)) != -EINVAL)
		bad++;
	tap_ok(!bad, "malformed addresses and flags -> -EINVAL / -EAFNOSUPPORT (%d wrong)", bad);

	{
		struct hrpc_sock_opt o = { .handle = h, .level = SOL_SOCKET, .name = SO_REUSEADDR,
					   .len = 1000 };
		bad = 0;
		if (raw(HRPC_SOCK_SETSOCKOPT, &o, sizeof(o)) != -EINVAL)
			bad++;
		o.len = 4;
		o.name = SO_BINDTODEVICE;
		if (raw(HRPC_SOCK_SETSOCKOPT, &o, sizeof(o)) != -EPERM)
			bad++;
		o.name = SO_MARK;
		if (raw(HRPC_SOCK_SETSOCKOPT, &o, sizeof(o)) != -EPERM)
			bad++;
		o.name = 9999;
		if (raw(HRPC_SOCK_SETSOCKOPT, &o, sizeof(o)) != -ENOPROTOOPT)
			bad++;
		o.level = 255;
		o.name = 1;
		if (raw(HRPC_SOCK_GETSOCKOPT, &o, sizeof(o)) != -ENOPROTOOPT)
			bad++;
		o.level = SOL_SOCKET;
		o.name = SO_TYPE;
		if (raw(HRPC_SOCK_SETSOCKOPT, &o, sizeof(o)) != -ENOPROTOOPT)
			bad++;
		o.name = SO_LINGER;
		o.len = 2;
		if (raw(HRPC_SOCK_SETSOCKOPT, &o, sizeof(o)) != -EINVAL)
			bad++;
		o.level = IPPROTO_TCP;
		o.name = 1;
		o.len = 4;
		if (raw(HRPC_SOCK_SETSOCKOPT, &o, sizeof(o)) != -EOPNOTSUPP)
			bad++;
		o.level = SOL_SOCKET;
		o.name = SO_RCVBUF;
		o.len = 0; /* getsockopt with no room */
		rc = raw(HRPC_SOCK_GETSOCKOPT, &o, sizeof(o));
		if (rc != 0 && rc != -EINVAL)
			bad++;
		tap_ok(!bad, "options: oversize, denied (SO_BINDTODEVICE, SO_MARK), unknown, read-only, "
		       "short, wrong protocol (%d wrong)", bad);
	}
	{
		struct hrpc_sock_handle_req q = { .handle = h, .arg = 0x1234 };

		bad = 0;
		if (raw(HRPC_SOCK_IOCTL, &q, sizeof(q)) != -ENOTTY)
			bad++;
		q.arg = 3;
		if (raw(HRPC_SOCK_SHUTDOWN, &q, sizeof(q)) != -EINVAL)
			bad++;
		q.arg = 2;
		if (raw(HRPC_SOCK_GETNAME, &q, sizeof(q)) != -EINVAL)
			bad++;
		q.arg = 5;
		if (raw(HRPC_SOCK_LISTEN, &q, sizeof(q)) != -EOPNOTSUPP)
			bad++;
		sg_socket(&g, AF_INET, SOCK_STREAM, &t);
		q.handle = t;
		q.arg = 0;
		if (raw(HRPC_SOCK_ACCEPT, &q, sizeof(q)) != -EINVAL)
			bad++;
		sg_close(&g, t);
		tap_ok(!bad, "ioctl/shutdown/getname/listen/accept with bad arguments (%d wrong)", bad);
	}
	{
		struct hrpc_sock_init_req in = { .version = HRPC_SOCK_VERSION_2 + 1, .credit = 1 };
		struct hrpc_sock_recv_req rr = { .handle = h, .flags = 0x2000 /* MSG_ERRQUEUE */ };

		bad = 0;
		if (raw(HRPC_SOCK_INIT, &in, sizeof(in)) != -EPROTONOSUPPORT)
			bad++;
		in.version = HRPC_SOCK_VERSION;
		in.credit = HRPC_SOCK_MAX_CREDIT + 1;
		if (raw(HRPC_SOCK_INIT, &in, sizeof(in)) != -EINVAL)
			bad++;
		if (raw(HRPC_SOCK_RECV, &rr, sizeof(rr)) != -EOPNOTSUPP)
			bad++;
		tap_ok(!bad, "INIT with a future version or too much credit; MSG_ERRQUEUE (%d wrong)", bad);
	}
	sg_close(&g, h);
}

static void test_lengths(void)
{
	uint64_t a, b;
	struct hrpc_sock_addr any, nb;
	struct hrpc_sock_send_req s;
	struct hrpc_bulk bk, fake;
	struct hrpc_sock_io_rep io;
	uint8_t buf[256];
	uint32_t dsize;
	int rc, bad = 0;

	sg_socket(&g, AF_INET, SOCK_DGRAM, &a);
	sg_socket(&g, AF_INET, SOCK_DGRAM, &b);
	sg_addr(&any, AF_INET, "127.0.0.1", 0);
	sg_addrcall(&g, HRPC_SOCK_BIND, b, &any);
	sg_getname(&g, b, false, &nb);

	memset(buf, 0, sizeof(buf));
	memset(&s, 0, sizeof(s));
	s.handle = a;
	s.has_addr = 1;
	s.addr = nb;
	s.len = 1000; /* claims more than follows */
	memcpy(buf, &s, sizeof(s));
	if (raw(HRPC_SOCK_SEND, buf, sizeof(s) + 10) != -EINVAL)
		bad++;
	s.len = 0xffffffffu;
	memcpy(buf, &s, sizeof(s));
	if (raw(HRPC_SOCK_SEND, buf, sizeof(s) + 10) != -EINVAL)
		bad++;
	s.len = 10;
	s.has_addr = 7;
	memcpy(buf, &s, sizeof(s));
	if (raw(HRPC_SOCK_SEND, buf, sizeof(s) + 10) != -EINVAL)
		bad++;
	tap_ok(!bad, "inline SEND whose length disagrees with the payload -> -EINVAL");

	hrpc_client_bulk_alloc(g.cli, 8192, &bk);
	s.has_addr = 1;
	s.len = 9000; /* beyond bulk_len */
	rc = sg_call(&g, HRPC_SOCK_SEND, &s, sizeof(s), &io, sizeof(io), &bk, 100, NULL);
	tap_ok(rc == -EINVAL, "bulk SEND with len > bulk_len -> -EINVAL (%d)", rc);
	hrpc_chan_data(hrpc_client_chan(g.cli), &dsize);
	fake = bk;
	fake.off = dsize - 4096;
	fake.cap = 1u << 20; /* reaches beyond the data area */
	s.len = 100;
	rc = sg_call(&g, HRPC_SOCK_SEND, &s, sizeof(s), &io, sizeof(io), &fake, 100, NULL);
	tap_ok(rc == -EFAULT, "bulk reference outside the data area -> -EFAULT (%d)", rc);

	/* huge recv lengths are clamped to the buffer, not trusted */
	sg_send(&g, a, "0123456789", 10, NULL, 0, &nb);
	sg_wait(&g, b, HRPC_POLLIN, 2000);
	{
		struct hrpc_sock_recv_req rr = { .handle = b, .len = 0xffffffffu };
		static uint8_t rep[HRPC_MSG_MAX_PAYLOAD];
		struct hrpc_call c;

		rc = sg_call(&g, HRPC_SOCK_RECV, &rr, sizeof(rr), rep, sizeof(rep), NULL, 0, &c);
		tap_ok(rc == 0 && c.rep_len == sizeof(io) + 10, "RECV len 0xffffffff inline: clamped, "
		       "10 bytes back");
		sg_send(&g, a, buf, 200, NULL, 0, &nb);
		sg_wait(&g, b, HRPC_POLLIN, 2000);
		bk.cap = 64; /* smaller buffer than the datagram */
		rc = sg_call(&g, HRPC_SOCK_RECV, &rr, sizeof(rr), rep, sizeof(rep), &bk, 0, &c);
		memcpy(&io, rep, sizeof(io));
		tap_ok(rc == 0 && c.rep_bulk_len == 64 && io.full_len == 200 &&
		       (io.msg_flags & HRPC_MSG_TRUNC), "RECV len 0xffffffff into a 64-byte bulk "
		       "buffer: 64 bytes, MSG_TRUNC, full_len 200");
		bk.cap = 8192;
	}
	hrpc_client_bulk_free(g.cli, &bk);
	sg_close(&g, a);
	sg_close(&g, b);
}

static void test_credit_abuse(void)
{
	struct hrpc_sock_credit cr = { .credit = 4096 }, co = { 0 };
	int ok = 0, einval = 0, rc;

	for (int i = 0; i < 1000; i++) {
		rc = sg_call(&g, HRPC_SOCK_CREDIT, &cr, sizeof(cr), &co, sizeof(co), NULL, 0, NULL);
		if (rc == 0)
			ok++;
		else if (rc == -EINVAL)
			einval++;
	}
	tap_ok(einval >= 999 && co.credit <= HRPC_SOCK_MAX_CREDIT,
	       "1000 grants of 4096 credits: the holding never exceeds %u (held %u, %d refused)",
	       HRPC_SOCK_MAX_CREDIT, co.credit, einval);
	cr.credit = 0xffffffffu;
	rc = sg_call(&g, HRPC_SOCK_CREDIT, &cr, sizeof(cr), &co, sizeof(co), NULL, 0, NULL);
	tap_ok(rc == -EINVAL && co.credit <= HRPC_SOCK_MAX_CREDIT, "grant of 2^32-1 credits: "
	       "-EINVAL, no overflow");
	cr.credit = 0;
	cr.reserved = 1;
	rc = sg_call(&g, HRPC_SOCK_CREDIT, &cr, sizeof(cr), &co, sizeof(co), NULL, 0, NULL);
	tap_ok(rc == -EINVAL, "credit with reserved bits -> -EINVAL");
}

/* 100 listeners become readable while the guest does not read its ring;
 * the host keeps at most one state per socket and does not grow. */
static void test_event_flood(void)
{
	enum { N = 100 };
	uint64_t lh[N];
	int hfd[N];
	uint64_t ev0 = g.events, st0 = g.ev_states;
	struct hrpc_sock_addr any, name;
	int got = 0;

	sg_addr(&any, AF_INET, "127.0.0.1", 0);
	for (int i = 0; i < N; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };

		sg_socket(&g, AF_INET, SOCK_STREAM, &lh[i]);
		sg_addrcall(&g, HRPC_SOCK_BIND, lh[i], &any);
		sg_simple(&g, HRPC_SOCK_LISTEN, lh[i], 4);
		sg_getname(&g, lh[i], false, &name);
		sa.sin_port = htons(name.port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		hfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(hfd[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	/* do not look at the ring for a while: the host coalesces */
	usleep(300000);
	for (int i = 0; i < N; i++)
		if (sg_wait(&g, lh[i], HRPC_POLLIN, 2000))
			got++;
	tap_ok(got == N && g.ev_states - st0 <= N,
	       "event flood: all %d listeners reported readable with %llu states in %llu events "
	       "(at most one per socket)", N, (unsigned long long)(g.ev_states - st0),
	       (unsigned long long)(g.events - ev0));
	for (int i = 0; i < N; i++) {
		close(hfd[i]);
		sg_close(&g, lh[i]);
	}
}

static void test_random(void)
{
	uint64_t live[32];
	int nlive = 0, fenced = 0;
	uint8_t buf[2048];
	unsigned int seed = 12345;

	for (int i = 0; i < 32; i++)
		if (sg_socket(&g, i % 2 ? AF_INET6 : AF_INET, i % 3 ? SOCK_DGRAM : SOCK_STREAM,
			      &live[nlive]) == 0)
			nlive++;
	for (int i = 0; i < 20000; i++) {
		uint16_t proc = (uint16_t)(rand_r(&seed) % (HRPC_SOCK_PROC_MAX + 3));
		uint32_t len = (uint32_t)(rand_r(&seed) % 400);
		int rc;

		for (uint32_t k = 0; k < len; k++)
			buf[k] = (uint8_t)rand_r(&seed);
		/* mostly real handles, so the call gets past the lookup */
		if (len >= 8 && nlive && rand_r(&seed) % 4)
			memcpy(buf, &live[rand_r(&seed) % nlive], 8);
		/* keep the credit sane and avoid INIT (it would close the set) */
		if (proc == HRPC_SOCK_INIT || proc == HRPC_SOCK_CLOSE)
			proc = HRPC_SOCK_POLL;
		rc = raw(proc, buf, len);
		if (rc == -EPROTO || rc == -EPIPE || rc == -ETIMEDOUT)
			fenced++;
		hrpc_client_process(g.cli, 0);
	}
	tap_ok(!fenced && !hrpc_conn_fenced(g.conn),
	       "20000 random calls (random procedures, sizes, bytes): answered, never fenced");
	for (int i = 0; i < nlive; i++)
		sg_close(&g, live[i]);
}

static void test_still_works(void)
{
	uint64_t lh, ch, ah;
	struct hrpc_sock_addr any, name;
	char buf[8] = "";
	int rc;

	sg_socket(&g, AF_INET, SOCK_STREAM, &lh);
	sg_addr(&any, AF_INET, "127.0.0.1", 0);
	sg_addrcall(&g, HRPC_SOCK_BIND, lh, &any);
	sg_simple(&g, HRPC_SOCK_LISTEN, lh, 4);
	sg_getname(&g, lh, false, &name);
	sg_socket(&g, AF_INET, SOCK_STREAM, &ch);
	rc = sg_connect(&g, ch, &name, 5000);
	if (!rc)
		rc = sg_accept(&g, lh, &ah, NULL, 5000);
	if (!rc)
		rc = sg_send(&g, ch, "alive", 5, NULL, 0, NULL) == 5 ? 0 : -EIO;
	if (!rc)
		rc = sg_recv_all(&g, ah, (uint8_t *)buf, 5, NULL, 2000);
	tap_ok(rc == 0 && !strcmp(buf, "alive"), "after all that, a normal connection works");
	sg_close(&g, ah);
	sg_close(&g, ch);
	sg_close(&g, lh);
}

int main(void)
{
	struct outsource_sock_totals t;
	uint64_t h;
	int rc;

	tap_plan(26);
	rc = sg_start(&g, SG_LOOPBACK_POLICY, -1);
	if (rc < 0) {
		printf("Bail out! cannot start the service: %s\n", strerror(-rc));
		return 1;
	}
	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	test_sizes(h);
	sg_close(&g, h);
	test_handles();
	test_socket_args();
	test_addrs_opts();
	test_lengths();
	test_credit_abuse();
	test_event_flood();
	test_random();
	test_still_works();
	sg_stop(&g);

	/* Quota: a guest with max-sockets 16. */
	rc = sg_start(&g, "max-sockets 16\n" SG_LOOPBACK_POLICY, -1);
	{
		uint64_t s[17], lh, ah;
		struct hrpc_sock_addr any, name;
		int n = 0, last = 0, hfd;
		struct sockaddr_in sa = { .sin_family = AF_INET };

		for (int i = 0; i < 17; i++) {
			last = sg_socket(&g, AF_INET, SOCK_DGRAM, &s[i]);
			if (last == 0)
				n++;
		}
		tap_ok(n == 16 && last == -EMFILE, "quota of 16 sockets: the 17th -> -EMFILE");
		sg_close(&g, s[0]);
		sg_close(&g, s[1]);
		sg_socket(&g, AF_INET, SOCK_STREAM, &lh);
		sg_addr(&any, AF_INET, "127.0.0.1", 0);
		sg_addrcall(&g, HRPC_SOCK_BIND, lh, &any);
		sg_simple(&g, HRPC_SOCK_LISTEN, lh, 4);
		sg_getname(&g, lh, false, &name);
		sg_socket(&g, AF_INET, SOCK_DGRAM, &s[0]); /* table full again */
		sa.sin_port = htons(name.port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		hfd = socket(AF_INET, SOCK_STREAM, 0);
		connect(hfd, (struct sockaddr *)&sa, sizeof(sa));
		sg_wait(&g, lh, HRPC_POLLIN, 2000);
		rc = sg_accept(&g, lh, &ah, NULL, 500);
		tap_ok(rc == -EMFILE, "accept with the quota used up -> -EMFILE (%d)", rc);
		sg_close(&g, s[0]);
		rc = sg_accept(&g, lh, &ah, NULL, 2000);
		tap_ok(rc == 0, "the connection waited in the backlog: accepted after a close");
		sg_totals(&g, &t);
		close(hfd);
	}
	sg_stop(&g);
	tap_ok(t.open == 16 && t.max_sockets == 16, "totals: %u of %u sockets open", t.open,
	       t.max_sockets);
	return tap_done();
}
