/* SPDX-License-Identifier: MIT */
/*
 * test-miglink - the authenticated migration link (migrate/link.h) over TCP
 * on 127.0.0.1, the server in a thread:
 *   - key files: mode, owner type, hex and length are checked;
 *   - an intro with a bad magic, version, flags or name is refused before
 *     any key is touched;
 *   - the right key both ways: frames intact both directions, empty ones,
 *     gathered ones, 32 MiB ones (exactly the receiver's limit);
 *   - a wrong key on either side: the client gets -EACCES and never sends
 *     its proof; a client that forges its proof gets -EACCES at the server;
 *   - a relay in the middle that changes the intro, a payload, a header or
 *     a tag, or replays, drops or reorders a frame: -EBADMSG (-EACCES for
 *     the intro), and the link stays dead;
 *   - a header announcing more than the limit: -EMSGSIZE, nothing
 *     allocated (2^62 bytes would be -ENOMEM);
 *   - a silent peer: -ETIMEDOUT, in step if no byte of a frame came; a
 *     peer that closes: -ECONNRESET.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "migrate/link.h"
#include "tests/tap.h"

#define PLAN 52
#define TMO 5000
#define BIG (32u << 20)

static uint8_t key_a[MIG_KEY_SIZE], key_b[MIG_KEY_SIZE];
static int srv_lfd, relay_lfd;
static uint16_t srv_port, relay_port;

static int listener(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		tap_skip_all("no TCP on 127.0.0.1: %s", strerror(errno));
	*port = ntohs(sa.sin_port);
	return fd;
}

static int dial(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int read_n(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int write_n(int fd, const void *buf, size_t n)
{
	return send(fd, buf, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* ---- the server: one accepted connection per thread ---- */

struct srv {
	const uint8_t *key;
	int rc;
	mig_link *link;
	struct hrpc_mig_intro intro;
	GThread *th;
};

static gpointer srv_main(gpointer p)
{
	struct srv *s = p;
	int fd = accept(srv_lfd, NULL, NULL);

	s->rc = mig_link_read_intro(fd, &s->intro, TMO);
	if (s->rc == 0)
		s->rc = mig_link_accept(fd, &s->intro, s->key, TMO, &s->link);
	if (s->rc < 0)
		close(fd);
	return NULL;
}

static void srv_start(struct srv *s, const uint8_t *key)
{
	memset(s, 0, sizeof(*s));
	s->key = key;
	s->th = g_thread_new("server", srv_main, s);
}

/* Connect a client with ckey through `port` to a server with skey. */
static int pair_up(const uint8_t *ckey, const uint8_t *skey, uint16_t port, mig_link **c,
		   struct srv *s)
{
	char hp[32];
	int rc;

	srv_start(s, skey);
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", port);
	rc = mig_link_connect(hp, ckey, "guest-1.test_x", TMO, c);
	g_thread_join(s->th);
	return rc;
}

/* ---- a relay in the middle that may tamper with the client's bytes ---- */

enum tamper { T_NONE, T_INTRO, T_PAYLOAD, T_HEADER, T_TAG, T_REPLAY, T_DROP, T_REORDER };

struct relay {
	enum tamper t;
	int a, b;                 /* the client's side, the server's side */
	GThread *th;
};

struct frame {
	uint8_t *bytes;
	size_t len;
};

static void copy_rest(int from, int to)
{
	char buf[65536];
	ssize_t r;

	while ((r = read(from, buf, sizeof(buf))) > 0)
		if (write_n(to, buf, (size_t)r) < 0)
			break;
	shutdown(to, SHUT_WR);
}

static gpointer relay_back(gpointer p)
{
	struct relay *r = p;

	copy_rest(r->b, r->a);
	return NULL;
}

static int read_frame(int fd, struct frame *f)
{
	struct hrpc_mig_frame h;

	if (read_n(fd, &h, sizeof(h)) < 0)
		return -1;
	f->len = sizeof(h) + h.len + HRPC_MIG_MAC_SIZE;
	f->bytes = g_malloc(f->len);
	memcpy(f->bytes, &h, sizeof(h));
	return read_n(fd, f->bytes + sizeof(h), f->len - sizeof(h));
}

static gpointer relay_main(gpointer p)
{
	struct relay *r = p;
	uint8_t hs[sizeof(struct hrpc_mig_intro) + sizeof(struct hrpc_mig_proof)];
	struct frame f0 = { 0 }, f1 = { 0 };
	GThread *back;

	r->a = accept(relay_lfd, NULL, NULL);
	r->b = dial(srv_port);
	back = g_thread_new("relay-back", relay_back, r);
	/* the intro, then (once the server answered) the client's proof */
	if (read_n(r->a, hs, sizeof(struct hrpc_mig_intro)) < 0)
		goto out;
	if (r->t == T_INTRO)
		hs[offsetof(struct hrpc_mig_intro, nonce)] ^= 1;
	write_n(r->b, hs, sizeof(struct hrpc_mig_intro));
	if (read_n(r->a, hs, sizeof(struct hrpc_mig_proof)) < 0)
		goto out;
	write_n(r->b, hs, sizeof(struct hrpc_mig_proof));
	/* the client's first two frames */
	if (read_frame(r->a, &f0) < 0 || read_frame(r->a, &f1) < 0)
		goto out;
	if (r->t == T_PAYLOAD)
		f0.bytes[sizeof(struct hrpc_mig_frame)] ^= 0x20;
	if (r->t == T_HEADER)
		f0.bytes[offsetof(struct hrpc_mig_frame, type)] ^= 0x80;
	if (r->t == T_TAG)
		f0.bytes[f0.len - 1] ^= 1;
	if (r->t == T_REORDER)
		write_n(r->b, f1.bytes, f1.len);
	if (r->t != T_DROP)
		write_n(r->b, f0.bytes, f0.len);
	if (r->t == T_REPLAY)
		write_n(r->b, f0.bytes, f0.len);
	if (r->t != T_REORDER)
		write_n(r->b, f1.bytes, f1.len);
out:
	copy_rest(r->a, r->b);
	g_thread_join(back);
	close(r->a);
	close(r->b);
	g_free(f0.bytes);
	g_free(f1.bytes);
	return NULL;
}

/* ---- the cases ---- */

static int key_file(const char *dir, const char *name, const char *text, mode_t mode,
		    uint8_t key[MIG_KEY_SIZE], const char **why)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);

	g_file_set_contents(path, text, -1, NULL);
	chmod(path, mode);
	return mig_key_load(path, key, why);
}

static void test_keys(void)
{
	static const char hex[] = "000102030405060708090a0b0c0d0e0f"
				  "101112131415161718191A1B1C1D1E1F";
	g_autofree char *dir = g_dir_make_tmp("miglink-XXXXXX", NULL);
	g_autofree char *text = NULL;
	uint8_t key[MIG_KEY_SIZE], want[MIG_KEY_SIZE];
	const char *why = NULL;
	int rc;

	for (int i = 0; i < MIG_KEY_SIZE; i++)
		want[i] = (uint8_t)i;
	text = g_strconcat(hex, "\n", NULL);
	rc = key_file(dir, "good", text, 0600, key, &why);
	tap_ok(rc == 0 && !memcmp(key, want, sizeof(key)) && !why,
	       "key: 64 hex digits and a newline, mode 0600: loaded (%d)", rc);
	rc = key_file(dir, "good-no-nl", hex, 0400, key, &why);
	tap_ok(rc == 0 && !memcmp(key, want, sizeof(key)), "key: without the newline, mode 0400 (%d)", rc);
	rc = key_file(dir, "open", text, 0644, key, &why);
	tap_ok(rc == -EPERM && why && strstr(why, "group or others"),
	       "key: mode 0644 is -EPERM and says why (%d, %s)", rc, why);
	rc = key_file(dir, "badhex", "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
		      0600, key, &why);
	tap_ok(rc == -EINVAL && why, "key: a non-hex digit is -EINVAL (%d, %s)", rc, why);
	rc = key_file(dir, "short", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e\n",
		      0600, key, &why);
	tap_ok(rc == -EINVAL, "key: 62 digits are -EINVAL (%d)", rc);
	rc = key_file(dir, "long", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
		      0600, key, &why);
	tap_ok(rc == -EINVAL, "key: 66 digits are -EINVAL (%d)", rc);
	rc = key_file(dir, "crlf", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r\n",
		      0600, key, &why);
	tap_ok(rc == -EINVAL, "key: a CR before the newline is -EINVAL (%d)", rc);
	rc = mig_key_load(dir, key, &why);
	tap_ok(rc == -EPERM && why && strstr(why, "regular"), "key: a directory is -EPERM (%d, %s)", rc, why);
	g_free(text);
	text = g_build_filename(dir, "missing", NULL);
	rc = mig_key_load(text, key, NULL);
	tap_ok(rc == -ENOENT, "key: a missing file is -ENOENT, why may be NULL (%d)", rc);
	g_free(text);
	text = g_strdup_printf("rm -rf '%s'", dir);
	if (system(text) != 0)
		tap_diag("could not remove %s", dir);
}

static int intro_via_pair(const struct hrpc_mig_intro *in, size_t len)
{
	struct hrpc_mig_intro got;
	int sv[2], rc;

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	write_n(sv[0], in, len);
	if (len > 0 && len < sizeof(*in))
		shutdown(sv[0], SHUT_WR);   /* part of one, then EOF */
	rc = mig_link_read_intro(sv[1], &got, len ? TMO : 200);
	close(sv[0]);
	close(sv[1]);
	return rc;
}

static void test_intro(void)
{
	struct hrpc_mig_intro good = { .magic = HRPC_MIG_INTRO_MAGIC, .version = 1 }, in;
	mig_link *l = NULL;
	int rc;

	strcpy(good.guest, "vm-01.prod_a");
	tap_ok(intro_via_pair(&good, sizeof(good)) == 0, "intro: a good one is read");
	in = good, in.magic ^= 1;
	tap_ok(intro_via_pair(&in, sizeof(in)) == -EPROTO, "intro: a bad magic is -EPROTO");
	in = good, in.version = 2;
	tap_ok(intro_via_pair(&in, sizeof(in)) == -EPROTONOSUPPORT, "intro: version 2 is -EPROTONOSUPPORT");
	in = good, in.flags = 1;
	tap_ok(intro_via_pair(&in, sizeof(in)) == -EPROTO, "intro: flags are -EPROTO");
	in = good, strcpy(in.guest, "../etc");
	tap_ok(intro_via_pair(&in, sizeof(in)) == -EINVAL, "intro: a '/' in the name is -EINVAL");
	in = good, strcpy(in.guest, "..");
	tap_ok(intro_via_pair(&in, sizeof(in)) == -EINVAL, "intro: the name '..' is -EINVAL");
	in = good, memset(in.guest, 0, sizeof(in.guest));
	tap_ok(intro_via_pair(&in, sizeof(in)) == -EINVAL, "intro: an empty name is -EINVAL");
	in = good, in.guest[40] = 'x';
	tap_ok(intro_via_pair(&in, sizeof(in)) == -EINVAL, "intro: a byte after the NUL is -EINVAL");
	in = good, memset(in.guest, 'a', sizeof(in.guest));
	tap_ok(intro_via_pair(&in, sizeof(in)) == -EINVAL, "intro: 64 name bytes without a NUL are -EINVAL");
	in = good, memset(in.guest, 'a', 63), in.guest[63] = 0;
	tap_ok(intro_via_pair(&in, sizeof(in)) == 0, "intro: a 63-byte name is fine");
	tap_ok(intro_via_pair(&good, 50) == -ECONNRESET, "intro: half of one, then EOF, is -ECONNRESET");
	tap_ok(intro_via_pair(&good, 0) == -ETIMEDOUT, "intro: none at all is -ETIMEDOUT");
	rc = mig_link_connect("127.0.0.1:1", key_a, "a/b", TMO, &l);
	tap_ok(rc == -EINVAL && !l, "connect: a bad guest name is -EINVAL before connecting (%d)", rc);
	rc = mig_link_connect("::1:80", key_a, "vm", TMO, &l);
	tap_ok(rc == -EINVAL, "connect: a bare IPv6 literal is -EINVAL (\"[::1]:80\" is the way) (%d)", rc);
	rc = mig_link_connect("127.0.0.1:0", key_a, "vm", TMO, &l);
	tap_ok(rc == -EINVAL, "connect: port 0 is -EINVAL (%d)", rc);
}

static int recv_is(mig_link *l, uint32_t type, const void *want, size_t len)
{
	g_autofree void *buf = NULL;
	uint32_t t;
	size_t n;
	int rc = mig_link_recv(l, &t, &buf, &n, 1 << 20, TMO);

	if (rc < 0)
		return rc;
	return t == type && n == len && (len == 0 || !memcmp(buf, want, len)) ? 0 : -EILSEQ;
}

static uint8_t pat(size_t i)
{
	return (uint8_t)(i * 131 + (i >> 11));
}

static gpointer send_big(gpointer p)
{
	mig_link *l = p;
	uint8_t *buf = g_malloc(BIG);
	int rc;

	for (size_t i = 0; i < BIG; i++)
		buf[i] = pat(i);
	rc = mig_link_send(l, 9, buf, BIG);
	g_free(buf);
	return GINT_TO_POINTER(rc);
}

static int big_one_way(mig_link *from, mig_link *to)
{
	GThread *th = g_thread_new("big", send_big, from);
	g_autofree uint8_t *buf = NULL;
	uint32_t t;
	size_t n, bad = 0;
	int rc = mig_link_recv(to, &t, (void **)&buf, &n, BIG, 20000);
	int src = GPOINTER_TO_INT(g_thread_join(th));

	if (rc < 0 || src < 0)
		return rc < 0 ? rc : src;
	for (size_t i = 0; i < n; i++)
		bad += buf[i] != pat(i);
	return t == 9 && n == BIG && !bad ? 0 : -EILSEQ;
}

static void test_good(void)
{
	struct srv s;
	mig_link *c = NULL;
	struct iovec v[3] = { { "gath", 4 }, { "", 0 }, { "ered", 4 } };
	int rc = pair_up(key_a, key_a, srv_port, &c, &s);

	tap_ok(rc == 0 && s.rc == 0 && c && s.link, "right key: both sides authenticated (%d, %d)", rc, s.rc);
	if (!c || !s.link)
		goto out;
	tap_ok(!strcmp(s.intro.guest, "guest-1.test_x"), "right key: the server knows the guest's name");
	rc = mig_link_send(c, 1, "hello", 5);
	tap_ok(rc == 0 && recv_is(s.link, 1, "hello", 5) == 0, "client -> server: a frame arrives intact");
	rc = mig_link_send(s.link, 2, "world!", 6);
	tap_ok(rc == 0 && recv_is(c, 2, "world!", 6) == 0, "server -> client: a frame arrives intact");
	rc = mig_link_send(c, 3, NULL, 0) | mig_link_send(s.link, 4, NULL, 0);
	tap_ok(rc == 0 && recv_is(s.link, 3, NULL, 0) == 0 && recv_is(c, 4, NULL, 0) == 0,
	       "empty frames both ways");
	rc = mig_link_sendv(c, 5, v, 3);
	tap_ok(rc == 0 && recv_is(s.link, 5, "gathered", 8) == 0, "a gathered frame arrives as one");
	tap_ok(mig_link_send(c, 0, "x", 1) == -EINVAL && mig_link_send(c, 6, "ok", 2) == 0 &&
	       recv_is(s.link, 6, "ok", 2) == 0, "type 0 is -EINVAL and the link goes on");
	tap_ok(big_one_way(c, s.link) == 0, "client -> server: 32 MiB (the receiver's limit) intact");
	tap_ok(big_one_way(s.link, c) == 0, "server -> client: 32 MiB intact");
	tap_ok(mig_link_bytes_sent(c) == mig_link_bytes_received(s.link) &&
	       mig_link_bytes_sent(s.link) == mig_link_bytes_received(c) &&
	       mig_link_bytes_sent(c) == 5 * (24 + 32) + 5 + 0 + 8 + 2 + BIG,
	       "byte counts agree on both sides (%llu sent)",
	       (unsigned long long)mig_link_bytes_sent(c));
out:
	mig_link_free(c);
	mig_link_free(s.link);
}

static void test_brackets(void)
{
	struct srv s;
	mig_link *c = NULL;
	char hp[40];
	int rc;

	srv_start(&s, key_a);
	snprintf(hp, sizeof(hp), "[127.0.0.1]:%u", srv_port);
	rc = mig_link_connect(hp, key_a, "vm", TMO, &c);
	g_thread_join(s.th);
	tap_ok(rc == 0 && s.rc == 0, "connect: \"[address]:port\" is understood (%d, %d)", rc, s.rc);
	mig_link_free(c);
	mig_link_free(s.link);
}

static void test_wrong_key(void)
{
	struct srv s;
	mig_link *c = NULL;
	struct hrpc_mig_intro in = { .magic = HRPC_MIG_INTRO_MAGIC, .version = 1, .guest = "vm" };
	struct hrpc_mig_challenge ch;
	struct hrpc_mig_proof pr = { .magic = HRPC_MIG_PROOF_MAGIC };
	GHmac *h;
	gsize len = sizeof(pr.proof);
	int rc, fd;

	rc = pair_up(key_b, key_a, srv_port, &c, &s);
	tap_ok(rc == -EACCES && !c && s.rc == -ECONNRESET && !s.link,
	       "client without the key: -EACCES at the client, which never sent a proof (%d, %d)",
	       rc, s.rc);
	rc = pair_up(key_a, key_b, srv_port, &c, &s);
	tap_ok(rc == -EACCES && !c && !s.link,
	       "server without the key: the client refuses it, -EACCES (%d, %d)", rc, s.rc);
	/* A client that ignores the server's proof and forges its own. */
	srv_start(&s, key_a);
	fd = dial(srv_port);
	write_n(fd, &in, sizeof(in));
	read_n(fd, &ch, sizeof(ch));
	h = g_hmac_new(G_CHECKSUM_SHA256, key_b, sizeof(key_b));
	g_hmac_update(h, (const guchar *)"hostrpc-migrate client", 22);
	g_hmac_update(h, (const guchar *)&in, sizeof(in));
	g_hmac_update(h, ch.nonce, sizeof(ch.nonce));
	g_hmac_get_digest(h, pr.proof, &len);
	g_hmac_unref(h);
	write_n(fd, &pr, sizeof(pr));
	g_thread_join(s.th);
	close(fd);
	tap_ok(s.rc == -EACCES && !s.link, "a forged client proof is -EACCES at the server (%d)", s.rc);
}

static void test_relay(enum tamper t, int want0, int want1, const char *what)
{
	struct relay r = { .t = t };
	struct srv s;
	mig_link *c = NULL;
	int rc, rc0, rc1, dead;

	r.th = g_thread_new("relay", relay_main, &r);
	rc = pair_up(key_a, key_a, relay_port, &c, &s);
	if (t == T_INTRO) {
		tap_ok(rc == -EACCES && !s.link, "relay %s: the client gets -EACCES (%d, %d)", what, rc, s.rc);
		goto out;
	}
	if (rc < 0 || s.rc < 0) {
		tap_ok(0, "relay %s: handshake failed (%d, %d)", what, rc, s.rc);
		goto out;
	}
	mig_link_send(c, 1, "frame zero", 10);
	mig_link_send(c, 2, "frame one", 9);
	rc0 = recv_is(s.link, 1, "frame zero", 10);
	rc1 = recv_is(s.link, 2, "frame one", 9);
	/* after a bad frame the link stays dead, for sends too */
	dead = want1 < 0 ? mig_link_send(s.link, 1, "x", 1) == want1 : 1;
	tap_ok(rc0 == want0 && rc1 == want1 && dead, "relay %s: %d then %d%s (%d, %d)", what,
	       want0, want1, want1 < 0 ? ", and the link is dead" : "", rc0, rc1);
out:
	mig_link_free(c);
	mig_link_free(s.link);
	g_thread_join(r.th);
}

static void test_peer(void)
{
	struct hrpc_mig_frame h = { .magic = HRPC_MIG_FRAME_MAGIC, .type = 1, .len = 1ull << 62 };
	g_autofree void *buf = NULL;
	struct srv s;
	mig_link *c = NULL;
	uint32_t t;
	size_t n;
	gint64 t0;
	int rc;

	pair_up(key_a, key_a, srv_port, &c, &s);
	write_n(mig_link_fd(s.link), &h, sizeof(h));
	rc = mig_link_recv(c, &t, &buf, &n, 1 << 20, TMO);
	tap_ok(rc == -EMSGSIZE && !buf, "a header announcing 2^62 bytes is -EMSGSIZE, nothing allocated (%d)", rc);
	mig_link_free(c);
	mig_link_free(s.link);

	pair_up(key_a, key_a, srv_port, &c, &s);
	t0 = g_get_monotonic_time();
	rc = mig_link_recv(c, &t, &buf, &n, 64, 200);
	tap_ok(rc == -ETIMEDOUT && g_get_monotonic_time() - t0 >= 190000,
	       "a silent peer is -ETIMEDOUT after the timeout (%d)", rc);
	mig_link_send(s.link, 7, "late", 4);
	tap_ok(recv_is(c, 7, "late", 4) == 0, "a timeout before a frame began leaves the link in step");
	mig_link_free(s.link);
	rc = mig_link_recv(c, &t, &buf, &n, 64, TMO);
	tap_ok(rc == -ECONNRESET, "a peer that closes is -ECONNRESET (%d)", rc);
	mig_link_free(c);

	pair_up(key_a, key_a, srv_port, &c, &s);
	write_n(mig_link_fd(s.link), &h, 10);
	rc = mig_link_recv(c, &t, &buf, &n, 64, 200);
	tap_ok(rc == -ETIMEDOUT && mig_link_recv(c, &t, &buf, &n, 64, 200) == -ETIMEDOUT &&
	       mig_link_send(c, 1, "x", 1) == -ETIMEDOUT,
	       "a timeout inside a frame breaks the link: later calls fail (%d)", rc);
	mig_link_free(c);
	mig_link_free(s.link);
}

int main(void)
{
	int fd;
	mig_link *l = NULL;
	uint16_t dead_port;
	char hp[32];

	tap_plan(PLAN);
	memset(key_a, 0xa5, sizeof(key_a));
	memset(key_b, 0xa5, sizeof(key_b));
	key_b[31] ^= 1;   /* one bit away */
	srv_lfd = listener(&srv_port);
	relay_lfd = listener(&relay_port);

	test_keys();
	test_intro();
	fd = listener(&dead_port);
	close(fd);
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", dead_port);
	tap_ok(mig_link_connect(hp, key_a, "vm", TMO, &l) == -ECONNREFUSED, "connect: a closed port is -ECONNREFUSED");
	test_good();
	test_brackets();
	test_wrong_key();
	test_relay(T_NONE, 0, 0, "that only forwards");
	test_relay(T_INTRO, 0, 0, "changing a byte of the intro");
	test_relay(T_PAYLOAD, -EBADMSG, -EBADMSG, "flipping a payload byte");
	test_relay(T_HEADER, -EBADMSG, -EBADMSG, "flipping a header byte (type)");
	test_relay(T_TAG, -EBADMSG, -EBADMSG, "flipping a tag byte");
	test_relay(T_REPLAY, 0, -EBADMSG, "replaying a frame");
	test_relay(T_DROP, -EBADMSG, -EBADMSG, "dropping a frame");
	test_relay(T_REORDER, -EBADMSG, -EBADMSG, "swapping two frames");
	test_peer();
	close(srv_lfd);
	close(relay_lfd);
	return tap_done();
}
