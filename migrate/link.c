/* SPDX-License-Identifier: MIT */
/*
 * link.c - the authenticated host-to-host link of a live migration.
 * Protocol: include/hostrpc/miglink.h; API and error rules: link.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "migrate/link.h"

/* A frame that makes no progress for this long means a dead peer. */
#define SEND_IDLE_MS 30000

struct mig_link {
	int fd;
	int err;                          /* what broke the link; 0 while it works */
	uint8_t k_send[HRPC_MIG_MAC_SIZE], k_recv[HRPC_MIG_MAC_SIZE];
	uint64_t seq_send, seq_recv;      /* the next one each way */
	uint64_t bytes_sent, bytes_received;
};

static gint64 deadline_in(int ms)
{
	return ms < 0 ? -1 : g_get_monotonic_time() + (gint64)ms * 1000;
}

/* Wait until fd is ready for ev or the deadline (monotonic µs, -1: none)
 * has passed.  An error condition counts as ready: the next call says it. */
static int wait_fd(int fd, short ev, gint64 deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = ev };
		int ms = -1, r;

		if (deadline >= 0) {
			gint64 left = deadline - g_get_monotonic_time();

			if (left <= 0)
				return -ETIMEDOUT;
			ms = (int)MIN((left + 999) / 1000, INT_MAX);
		}
		r = poll(&p, 1, ms);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/*
 * Move all of iov (which it consumes) over fd.  Every call is MSG_DONTWAIT,
 * so it works on a caller's blocking socket as on our non-blocking one and
 * poll() alone decides how long we wait.  With idle_ms > 0 the deadline
 * moves on with every byte: a slow link is fine, a stalled one is not.
 * *moved (may be NULL) counts the bytes moved, also on failure.
 */
static int xfer(int fd, bool out, struct iovec *iov, int n, gint64 deadline, int idle_ms,
		size_t *moved)
{
	while (n > 0) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = MIN(n, IOV_MAX) };
		ssize_t r;

		if (iov->iov_len == 0) {
			iov++, n--;
			continue;
		}
		r = out ? sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) : recvmsg(fd, &m, MSG_DONTWAIT);
		if (r == 0 && !out)
			return -ECONNRESET;
		if (r < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			if (e != EAGAIN && e != EWOULDBLOCK)
				return -e;
			e = wait_fd(fd, out ? POLLOUT : POLLIN, deadline);
			if (e < 0)
				return e;
			continue;
		}
		if (moved)
			*moved += (size_t)r;
		if (idle_ms > 0)
			deadline = deadline_in(idle_ms);
		for (size_t left = (size_t)r; left > 0;) {
			size_t k = MIN(left, iov->iov_len);

			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= k;
			left -= k;
			if (iov->iov_len == 0)
				iov++, n--;
		}
	}
	return 0;
}

static int xfer1(int fd, bool out, void *buf, size_t len, gint64 deadline, size_t *moved)
{
	struct iovec v = { .iov_base = buf, .iov_len = len };

	return xfer(fd, out, &v, 1, deadline, 0, moved);
}

static void mac_iov(const uint8_t key[HRPC_MIG_MAC_SIZE], uint8_t out[HRPC_MIG_MAC_SIZE],
		    const struct iovec *v, int n)
{
	GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, key, HRPC_MIG_MAC_SIZE);
	gsize len = HRPC_MIG_MAC_SIZE;

	for (int i = 0; i < n; i++)
		g_hmac_update(h, v[i].iov_base, (gssize)v[i].iov_len);
	g_hmac_get_digest(h, out, &len);
	g_hmac_unref(h);
}

/* HMAC(key, label || a || b): the proofs and the session keys. */
static void mac3(const uint8_t key[HRPC_MIG_MAC_SIZE], uint8_t out[HRPC_MIG_MAC_SIZE],
		 const char *label, const void *a, size_t alen, const void *b, size_t blen)
{
	struct iovec v[] = {
		{ (void *)label, strlen(label) }, { (void *)a, alen }, { (void *)b, blen },
	};

	mac_iov(key, out, v, 3);
}

/* No early exit: the time taken must not tell a forger how many bytes of
 * his tag were right. */
static bool mac_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;

	for (int i = 0; i < HRPC_MIG_MAC_SIZE; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static int random_bytes(uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t r = getrandom(buf, len, 0);

		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			buf += r, len -= (size_t)r;
	}
	return 0;
}

static mig_link *link_new(int fd, const uint8_t key[MIG_KEY_SIZE], const uint8_t *nonce_c,
			  const uint8_t *nonce_s, bool client)
{
	mig_link *l = g_new0(mig_link, 1);
	int one = 1;

	/* Replies are small frames right after requests; Nagle would hold
	 * one back behind the previous frame's ACK.  Best effort: the link
	 * works without it (and a test's socketpair has no such option). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	l->fd = fd;
	mac3(key, client ? l->k_send : l->k_recv, "c2s", nonce_c, HRPC_MIG_NONCE_SIZE,
	     nonce_s, HRPC_MIG_NONCE_SIZE);
	mac3(key, client ? l->k_recv : l->k_send, "s2c", nonce_c, HRPC_MIG_NONCE_SIZE,
	     nonce_s, HRPC_MIG_NONCE_SIZE);
	return l;
}

int mig_key_load(const char *path, uint8_t key[MIG_KEY_SIZE], const char **why)
{
	char buf[2 * MIG_KEY_SIZE + 2];   /* one more than a key and its newline */
	const char *unused;
	struct stat st;
	ssize_t n = -1;
	int fd, r = 0;

	why = why ? why : &unused;
	*why = NULL;
	/* O_NONBLOCK: a FIFO put in the key's place must not hang us */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		*why = "cannot open the key file";
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		*why = "cannot stat the key file";
	} else if (!S_ISREG(st.st_mode)) {
		r = -EPERM;
		*why = "the key file is not a regular file";
	} else if (st.st_uid != geteuid() && st.st_uid != 0) {
		r = -EPERM;
		*why = "the key file belongs to another user (it must be ours or root's)";
	} else if (st.st_mode & 077) {
		r = -EPERM;
		*why = "the key file is open to group or others (chmod 600 it)";
	} else if ((n = read(fd, buf, sizeof(buf))) < 0) {
		r = -errno;
		*why = "cannot read the key file";
	} else if (!(n == 2 * MIG_KEY_SIZE || (n == 2 * MIG_KEY_SIZE + 1 && buf[n - 1] == '\n'))) {
		r = -EINVAL;
	}
	for (int i = 0; r == 0 && i < MIG_KEY_SIZE; i++) {
		int hi = g_ascii_xdigit_value(buf[2 * i]), lo = g_ascii_xdigit_value(buf[2 * i + 1]);

		if (hi < 0 || lo < 0)
			r = -EINVAL;
		else
			key[i] = (uint8_t)(hi << 4 | lo);
	}
	if (r == -EINVAL) {
		*why = "the key file is not 64 hex digits and an optional newline";
		explicit_bzero(key, MIG_KEY_SIZE);
	}
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return r;
}

/* "host:port" or "[v6]:port" into its parts; a bare IPv6 literal is
 * ambiguous and refused. */
static int split_hostport(const char *hp, char **host, char **port)
{
	const char *colon, *h = hp;
	size_t hlen;

	if (hp[0] == '[') {
		const char *end = strchr(hp, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		h = hp + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(hp, ':');
		if (!colon || memchr(hp, ':', (size_t)(colon - hp)))
			return -EINVAL;
		hlen = (size_t)(colon - hp);
	}
	if (hlen == 0 || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strlen(colon + 1) > 5 || atoi(colon + 1) < 1 || atoi(colon + 1) > 65535)
		return -EINVAL;
	*host = g_strndup(h, hlen);
	*port = g_strdup(colon + 1);
	return 0;
}

/* Try each address of host in turn until one answers or time runs out. */
static int tcp_connect(const char *host, const char *port, gint64 deadline)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	int r, fd = -ENOENT;

	r = getaddrinfo(host, port, &hints, &res);
	if (r)
		return r == EAI_SYSTEM ? -errno : r == EAI_AGAIN ? -EAGAIN :
		       r == EAI_MEMORY ? -ENOMEM : -ENOENT;
	for (ai = res; ai; ai = ai->ai_next) {
		int err = 0;
		socklen_t elen = sizeof(err);

		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			fd = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			err = errno == EINPROGRESS ? -wait_fd(fd, POLLOUT, deadline) : errno;
			if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
				err = errno;
		}
		if (!err)
			break;
		close(fd);
		fd = -err;
		if (err == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

int mig_link_connect(const char *hostport, const uint8_t key[MIG_KEY_SIZE], const char *guest,
		     int timeout_ms, mig_link **out)
{
	struct hrpc_mig_intro in = { .magic = HRPC_MIG_INTRO_MAGIC, .version = HRPC_MIG_VERSION };
	struct hrpc_mig_challenge ch;
	struct hrpc_mig_proof pr = { .magic = HRPC_MIG_PROOF_MAGIC };
	uint8_t want[HRPC_MIG_MAC_SIZE];
	g_autofree char *host = NULL, *port = NULL;
	gint64 deadline = deadline_in(timeout_ms);
	int fd, r;

	*out = NULL;
	if (strlen(guest) >= sizeof(in.guest))
		return -EINVAL;
	memcpy(in.guest, guest, strlen(guest));
	r = hrpc_mig_intro_check(&in);
	if (r == 0)
		r = random_bytes(in.nonce, sizeof(in.nonce));
	if (r == 0)
		r = split_hostport(hostport, &host, &port);
	if (r < 0)
		return r;
	fd = tcp_connect(host, port, deadline);
	if (fd < 0)
		return fd;
	r = xfer1(fd, true, &in, sizeof(in), deadline, NULL);
	if (r == 0)
		r = xfer1(fd, false, &ch, sizeof(ch), deadline, NULL);
	if (r == 0)
		r = hrpc_mig_challenge_check(&ch);
	if (r == 0) {
		/* Say nothing more to a server that cannot prove it has the key. */
		mac3(key, want, "hostrpc-migrate server", &in, sizeof(in), ch.nonce, sizeof(ch.nonce));
		if (!mac_equal(want, ch.proof))
			r = -EACCES;
	}
	if (r == 0) {
		mac3(key, pr.proof, "hostrpc-migrate client", &in, sizeof(in), ch.nonce, sizeof(ch.nonce));
		r = xfer1(fd, true, &pr, sizeof(pr), deadline, NULL);
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	*out = link_new(fd, key, in.nonce, ch.nonce, true);
	return 0;
}

int mig_link_read_intro(int fd, struct hrpc_mig_intro *intro, int timeout_ms)
{
	int r = xfer1(fd, false, intro, sizeof(*intro), deadline_in(timeout_ms), NULL);

	return r < 0 ? r : hrpc_mig_intro_check(intro);
}

int mig_link_accept(int fd, const struct hrpc_mig_intro *intro, const uint8_t key[MIG_KEY_SIZE],
		    int timeout_ms, mig_link **out)
{
	struct hrpc_mig_challenge ch = { .magic = HRPC_MIG_CHALLENGE_MAGIC,
					 .version = HRPC_MIG_VERSION };
	struct hrpc_mig_proof pr;
	uint8_t want[HRPC_MIG_MAC_SIZE];
	gint64 deadline = deadline_in(timeout_ms);
	int r;

	*out = NULL;
	r = hrpc_mig_intro_check(intro);
	if (r == 0)
		r = random_bytes(ch.nonce, sizeof(ch.nonce));
	if (r < 0)
		return r;
	mac3(key, ch.proof, "hostrpc-migrate server", intro, sizeof(*intro), ch.nonce, sizeof(ch.nonce));
	r = xfer1(fd, true, &ch, sizeof(ch), deadline, NULL);
	if (r == 0)
		r = xfer1(fd, false, &pr, sizeof(pr), deadline, NULL);
	if (r == 0)
		r = hrpc_mig_proof_check(&pr);
	if (r < 0)
		return r;
	mac3(key, want, "hostrpc-migrate client", intro, sizeof(*intro), ch.nonce, sizeof(ch.nonce));
	if (!mac_equal(want, pr.proof))
		return -EACCES;
	*out = link_new(fd, key, intro->nonce, ch.nonce, false);
	return 0;
}

int mig_link_sendv(mig_link *l, uint32_t type, const struct iovec *iov, int iovcnt)
{
	struct hrpc_mig_frame h = { .magic = HRPC_MIG_FRAME_MAGIC, .type = type, .seq = l->seq_send };
	uint8_t tag[HRPC_MIG_MAC_SIZE];
	g_autofree struct iovec *v = NULL;
	int r;

	if (type == 0 || iovcnt < 0)
		return -EINVAL;
	if (l->err)
		return l->err;
	/* header | the caller's pieces | tag, in one sendmsg() where it fits */
	v = g_new(struct iovec, (size_t)iovcnt + 2);
	v[0] = (struct iovec){ &h, sizeof(h) };
	for (int i = 0; i < iovcnt; i++) {
		v[i + 1] = iov[i];
		h.len += iov[i].iov_len;
	}
	mac_iov(l->k_send, tag, v, iovcnt + 1);
	v[iovcnt + 1] = (struct iovec){ tag, sizeof(tag) };
	r = xfer(l->fd, true, v, iovcnt + 2, deadline_in(SEND_IDLE_MS), SEND_IDLE_MS, NULL);
	if (r < 0)
		return l->err = r;   /* part of a frame may be out: the stream is lost */
	l->seq_send++;
	l->bytes_sent += sizeof(h) + h.len + sizeof(tag);
	return 0;
}

int mig_link_send(mig_link *l, uint32_t type, const void *buf, size_t len)
{
	struct iovec v = { .iov_base = (void *)buf, .iov_len = len };

	return mig_link_sendv(l, type, &v, 1);
}

int mig_link_recv(mig_link *l, uint32_t *type, void **buf, size_t *len, size_t max,
		  int timeout_ms)
{
	struct hrpc_mig_frame h;
	uint8_t tag[HRPC_MIG_MAC_SIZE], want[HRPC_MIG_MAC_SIZE];
	g_autofree void *p = NULL;
	gint64 deadline = deadline_in(timeout_ms);
	size_t got = 0;
	int r;

	*type = 0, *buf = NULL, *len = 0;
	if (l->err)
		return l->err;
	r = xfer1(l->fd, false, &h, sizeof(h), deadline, &got);
	if (r == -ETIMEDOUT && got == 0)
		return r;   /* nothing of a frame was taken: still in step */
	if (r == 0)
		r = hrpc_mig_frame_check(&h, max);
	if (r == 0 && h.seq != l->seq_recv)
		r = -EBADMSG;   /* replayed, reordered or dropped */
	if (r == 0 && h.len && !(p = g_try_malloc(h.len)))
		r = -ENOMEM;
	if (r == 0)
		r = xfer1(l->fd, false, p, h.len, deadline, NULL);
	if (r == 0)
		r = xfer1(l->fd, false, tag, sizeof(tag), deadline, NULL);
	if (r == 0) {
		struct iovec v[] = { { &h, sizeof(h) }, { p, h.len } };

		mac_iov(l->k_recv, want, v, 2);
		if (!mac_equal(want, tag))
			r = -EBADMSG;
	}
	if (r < 0)
		return l->err = r;
	l->seq_recv++;
	l->bytes_received += sizeof(h) + h.len + sizeof(tag);
	*type = h.type;
	*len = h.len;
	*buf = g_steal_pointer(&p);
	return 0;
}

int mig_link_seal(mig_link *l, uint32_t type, const struct iovec *iov, int iovcnt,
		  GByteArray *out)
{
	struct hrpc_mig_frame h = { .magic = HRPC_MIG_FRAME_MAGIC, .type = type, .seq = l->seq_send };
	uint8_t tag[HRPC_MIG_MAC_SIZE];
	GHmac *mac;
	gsize tlen = sizeof(tag);

	if (type == 0 || iovcnt < 0)
		return -EINVAL;
	if (l->err)
		return l->err;
	for (int i = 0; i < iovcnt; i++)
		h.len += iov[i].iov_len;
	mac = g_hmac_new(G_CHECKSUM_SHA256, l->k_send, HRPC_MIG_MAC_SIZE);
	g_hmac_update(mac, (const guchar *)&h, sizeof(h));
	g_byte_array_append(out, (const guint8 *)&h, sizeof(h));
	for (int i = 0; i < iovcnt; i++) {
		g_hmac_update(mac, iov[i].iov_base, (gssize)iov[i].iov_len);
		g_byte_array_append(out, iov[i].iov_base, (guint)iov[i].iov_len);
	}
	g_hmac_get_digest(mac, tag, &tlen);
	g_hmac_unref(mac);
	g_byte_array_append(out, tag, sizeof(tag));
	l->seq_send++;
	l->bytes_sent += sizeof(h) + h.len + sizeof(tag);
	return 0;
}

int mig_link_unseal(mig_link *l, GByteArray *in, uint32_t *type, void **buf, size_t *len,
		    size_t max)
{
	struct hrpc_mig_frame h;
	uint8_t want[HRPC_MIG_MAC_SIZE];
	struct iovec v[2];
	int r;

	*type = 0, *buf = NULL, *len = 0;
	if (l->err)
		return l->err;
	if (in->len < sizeof(h))
		return 0;
	memcpy(&h, in->data, sizeof(h));
	r = hrpc_mig_frame_check(&h, max);
	if (r == 0 && h.seq != l->seq_recv)
		r = -EBADMSG;
	if (r < 0)
		return l->err = r;
	if (in->len - sizeof(h) < h.len + HRPC_MIG_MAC_SIZE)
		return 0;
	v[0] = (struct iovec){ &h, sizeof(h) };
	v[1] = (struct iovec){ in->data + sizeof(h), h.len };
	mac_iov(l->k_recv, want, v, 2);
	if (!mac_equal(want, in->data + sizeof(h) + h.len))
		return l->err = -EBADMSG;
	*buf = h.len ? g_memdup2(in->data + sizeof(h), h.len) : NULL;
	*type = h.type;
	*len = h.len;
	g_byte_array_remove_range(in, 0, (guint)(sizeof(h) + h.len + HRPC_MIG_MAC_SIZE));
	l->seq_recv++;
	l->bytes_received += sizeof(h) + h.len + HRPC_MIG_MAC_SIZE;
	return 1;
}

void mig_link_session_get(const mig_link *l, struct mig_link_session *s)
{
	memcpy(s->k_send, l->k_send, sizeof(s->k_send));
	memcpy(s->k_recv, l->k_recv, sizeof(s->k_recv));
	s->seq_send = l->seq_send;
	s->seq_recv = l->seq_recv;
}

mig_link *mig_link_adopt(int fd, const struct mig_link_session *s)
{
	mig_link *l = g_new0(mig_link, 1);

	l->fd = fd;
	memcpy(l->k_send, s->k_send, sizeof(l->k_send));
	memcpy(l->k_recv, s->k_recv, sizeof(l->k_recv));
	l->seq_send = s->seq_send;
	l->seq_recv = s->seq_recv;
	return l;
}

void mig_link_break(mig_link *l, int err)
{
	if (!l->err)
		l->err = err < 0 ? err : -EPIPE;
}

int mig_link_fd(const mig_link *l)
{
	return l->fd;
}

uint64_t mig_link_bytes_sent(const mig_link *l)
{
	return l->bytes_sent;
}

uint64_t mig_link_bytes_received(const mig_link *l)
{
	return l->bytes_received;
}

void mig_link_free(mig_link *l)
{
	if (!l)
		return;
	close(l->fd);
	explicit_bzero(l, sizeof(*l));
	g_free(l);
}
