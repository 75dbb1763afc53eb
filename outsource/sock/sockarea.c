/* SPDX-License-Identifier: MIT */
/* sockarea.c - the host's pumps of a sockets v2 socket area (sockarea.h). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "outsource/sock/sockarea.h"

/* One datagram at a time (the service is single-threaded per worker; a
 * thread-local buffer keeps the tests' threads apart all the same). */
static __thread uint8_t dbuf[HRPC_SOCK_DGRAM_MAX];

int sock_area_bind(struct sock_area *a, void *data, uint32_t data_size,
		   const struct hrpc_sock_area *ref, bool dgram)
{
	struct hrpc_sock_area r = *ref;
	uint8_t *base;

	if (hrpc_sock_area_check(&r, data_size) < 0)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->ref = r;
	a->dgram = dgram;
	base = (uint8_t *)data + r.off;
	a->hdr = (struct hrpc_sock_area_hdr *)base;
	/* A new socket starts empty and with no flags, whatever the area held
	 * before (an earlier socket's SHUTWR would shut this one down): the
	 * host owns the socket's start (the guest may not touch the area
	 * before the reply that names it). */
	memset(a->hdr, 0, sizeof(*a->hdr));   /* rings, host words, guest words */
	hrpc_sock_area_bind(&a->out, &a->in, base, &r, 0);
	sock_area_publish(a);
	return 0;
}

int sock_area_adopt(struct sock_area *a, void *data, uint32_t data_size,
		    const struct hrpc_sock_area *ref, bool dgram, uint32_t in_prod, uint32_t out_cons)
{
	struct hrpc_sock_area r = *ref;
	uint8_t *base;

	if (hrpc_sock_area_check(&r, data_size) < 0)
		return -EINVAL;
	base = (uint8_t *)data + r.off;
	a->ref = r;
	a->dgram = dgram;
	a->hdr = (struct hrpc_sock_area_hdr *)base;
	hrpc_sock_area_bind(&a->out, &a->in, base, &r, 0);
	/* Our own indexes are the source host's word, not the guest memory's
	 * (which the guest could have rewritten meanwhile). */
	a->in.pvt = in_prod;
	a->out.pvt = out_cons;
	sock_area_publish(a);
	return 0;
}

void sock_area_publish(struct sock_area *a)
{
	a->host_seq++;
	hrpc_write_once(a->hdr->host_mask, a->host_mask);
	hrpc_write_once(a->hdr->host_err, a->host_err);
	hrpc_write_once(a->hdr->host_flags, a->host_flags);
	hrpc_write_once(a->hdr->host_err_seq, a->host_err_seq);
	/* Release: the words above are visible before the seq that covers them. */
	hrpc_store_release(&a->hdr->host_seq, a->host_seq);
}

/* The host socket failed with `err`: the socket's pending error. */
static void fail(struct sock_area *a, int err, uint32_t flags, uint32_t *ev)
{
	a->host_err = err;
	a->host_err_seq++;
	a->host_flags |= flags;
	a->host_mask |= HRPC_POLLERR;
	sock_area_publish(a);
	*ev |= SOCK_AREA_EV_NOTIFY;
}

/* The in ring has no room for `need` bytes: ask the guest for a doorbell
 * when it frees some.  1: idle now; 0: room appeared; -EPROTO. */
static int in_full(struct sock_area *a, uint32_t need, uint32_t *ev)
{
	int r = hrpc_ring_arm_space(&a->in, need);

	if (r < 0)
		return -EPROTO;
	if (r)
		*ev |= SOCK_AREA_EV_IDLE;
	return r;
}

static long push_stream(struct sock_area *a, int fd, uint32_t *ev)
{
	long total = 0;

	for (;;) {
		void *p0, *p1;
		uint32_t n0, n1;
		long space = hrpc_sring_free_spans(&a->in, &p0, &n0, &p1, &n1);
		struct iovec iov[2] = { { p0, n0 }, { p1, n1 } };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n1 ? 2 : 1 };
		ssize_t n;
		int r;

		if (space < 0)
			return -EPROTO;
		if (space == 0) {
			r = in_full(a, 1, ev);
			if (r < 0)
				return r;
			if (r)
				break;
			continue;
		}
		n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n > 0) {
			hrpc_sring_produce(&a->in, (uint32_t)n);
			total += n;
			a->pushed += (uint64_t)n;
			continue;
		}
		if (n == 0) {
			/* The peer's FIN: after the bytes already in the ring. */
			a->host_flags |= HRPC_SOCK_AREA_H_EOF;
			a->host_mask |= HRPC_POLLRDHUP;
			sock_area_publish(a);
			*ev |= SOCK_AREA_EV_NOTIFY;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			*ev |= SOCK_AREA_EV_WANT_IN;
			break;
		}
		fail(a, -errno, HRPC_SOCK_AREA_H_EOF, ev);
		break;
	}
	return total;
}

/* An address of the host's control messages, on the wire. */
static void meta_addr4(struct hrpc_sock_addr *w, const struct in_addr *a)
{
	memset(w, 0, sizeof(*w));
	w->family = HRPC_AF_INET;
	memcpy(w->addr, a, 4);
}

static void meta_addr6(struct hrpc_sock_addr *w, const struct in6_addr *a, uint32_t ifindex)
{
	memset(w, 0, sizeof(*w));
	w->family = HRPC_AF_INET6;
	memcpy(w->addr, a, 16);
	/* a link-local destination is only meaningful with its interface */
	if (IN6_IS_ADDR_LINKLOCAL(a))
		w->scope_id = ifindex;
}

/* The ancillary data recvmsg() gave for one datagram; false if none. */
static bool meta_from_cmsgs(struct msghdr *mh, struct hrpc_sock_dgram_meta *m)
{
	memset(m, 0, sizeof(*m));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			m->have |= HRPC_SOCK_META_PKTINFO;
			m->ifindex = (uint32_t)pi.ipi_ifindex;
			meta_addr4(&m->dst, &pi.ipi_addr);
			meta_addr4(&m->spec_dst, &pi.ipi_spec_dst);
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			m->have |= HRPC_SOCK_META_PKTINFO;
			m->ifindex = pi.ipi6_ifindex;
			meta_addr6(&m->dst, &pi.ipi6_addr, pi.ipi6_ifindex);
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			m->have |= HRPC_SOCK_META_TSTAMP;
			m->ts_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		}
	}
	return m->have != 0;
}

static long push_dgram(struct sock_area *a, int fd, sock_area_src_fn src, void *ctx,
		       uint32_t *ev)
{
	const uint32_t maxpay = hrpc_dring_max_payload(a->in.size);
	const uint32_t meta_sz = (uint32_t)sizeof(struct hrpc_sock_dgram_meta);
	long total = 0;

	/* The guest's SO_TIMESTAMP*: the host kernel stamps what arrives from
	 * now on (earlier datagrams get the guest's time of reading). */
	if (!a->tstamp_on && (hrpc_read_once(a->hdr->guest_flags) & HRPC_SOCK_AREA_G_TSTAMP)) {
		int one = 1;

		a->tstamp_on = true;
		(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	}
	for (;;) {
		union {
			struct cmsghdr align;
			uint8_t buf[CMSG_SPACE(sizeof(struct in_pktinfo)) +
				    CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				    CMSG_SPACE(sizeof(struct timespec)) + 64];
		} ctl;
		struct sockaddr_storage from;
		struct hrpc_sock_dgram h;
		struct hrpc_sock_dgram_meta meta;
		struct iovec iov;
		struct msghdr mh;
		ssize_t full, n;
		uint32_t len, need;
		bool has_meta;
		long space;
		int r;

		full = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
		if (full < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				*ev |= SOCK_AREA_EV_WANT_IN;
				break;
			}
			/* An ICMP error (ECONNREFUSED...), cleared by reading it:
			 * the guest's pending error; look again when woken. */
			fail(a, -errno, 0, ev);
			*ev |= SOCK_AREA_EV_WANT_IN;
			break;
		}
		len = (uint64_t)full < maxpay ? (uint32_t)full : maxpay;
		space = hrpc_ring_space(&a->in);
		if (space < 0)
			return -EPROTO;
		/* room for the record as it may come: with ancillary data (and
		 * then at most maxpay - meta_sz bytes of payload, see below) */
		need = HRPC_SOCK_DGRAM_REC(len < maxpay - meta_sz ? len : maxpay - meta_sz) + meta_sz;
		if ((uint32_t)space < need) {
			r = in_full(a, need, ev);
			if (r < 0)
				return r;
			if (r)
				break;
			continue;
		}
		iov.iov_base = dbuf;
		iov.iov_len = len;
		memset(&mh, 0, sizeof(mh));
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				fail(a, -errno, 0, ev);
			*ev |= SOCK_AREA_EV_WANT_IN;
			break;
		}
		has_meta = meta_from_cmsgs(&mh, &meta);
		memset(&h, 0, sizeof(h));
		h.len = (uint32_t)n < len ? (uint32_t)n : len;
		/* a largest datagram with ancillary data loses its tail, as
		 * MSG_TRUNC tells the guest (full_len keeps the real size) */
		if (has_meta && h.len > maxpay - meta_sz)
			h.len = maxpay - meta_sz;
		h.full_len = (uint64_t)n < HRPC_SOCK_DGRAM_MAX ? (uint32_t)n : HRPC_SOCK_DGRAM_MAX;
		if (src && src(ctx, &from, mh.msg_namelen, &h.addr) < 0) {
			a->dropped++;
			continue;
		}
		if (hrpc_dring_put_meta(&a->in, &h, has_meta ? &meta : NULL, dbuf) < 0)
			return -EPROTO;   /* the room checked above went away: forged */
		total += h.len;
		a->pushed += h.len;
	}
	return total;
}

long sock_area_push(struct sock_area *a, int fd, sock_area_src_fn src, void *ctx, uint32_t *ev)
{
	uint32_t old = a->in.pvt;
	long total;

	*ev = 0;
	if (!a->dgram && (a->host_flags & HRPC_SOCK_AREA_H_EOF))
		return 0;   /* nothing follows the end */
	total = a->dgram ? push_dgram(a, fd, src, ctx, ev) : push_stream(a, fd, ev);
	if (total > 0 && hrpc_ring_need_notify(&a->in, old))
		*ev |= SOCK_AREA_EV_NOTIFY;
	return total;
}

/* The out ring is empty: shut down writing if the guest asked to once its
 * bytes were out, and ask for a doorbell on its next write.  1: idle now;
 * 0: bytes appeared; -EPROTO. */
static int out_empty(struct sock_area *a, int fd, uint32_t *ev)
{
	int r;

	if (!a->dgram && !a->shut_sent &&
	    (hrpc_read_once(a->hdr->guest_flags) & HRPC_SOCK_AREA_G_SHUTWR)) {
		a->shut_sent = true;
		if (shutdown(fd, SHUT_WR) < 0 && errno != ENOTCONN)
			fail(a, -errno, HRPC_SOCK_AREA_H_WRSHUT, ev);
	}
	r = hrpc_ring_arm(&a->out);
	if (r < 0)
		return -EPROTO;
	if (r)
		*ev |= SOCK_AREA_EV_IDLE;
	return r;
}

static long drain_stream(struct sock_area *a, int fd, uint32_t *ev)
{
	long total = 0;

	for (;;) {
		const void *p0, *p1;
		uint32_t n0, n1;
		long avail = hrpc_sring_data_spans(&a->out, UINT32_MAX, &p0, &n0, &p1, &n1);
		struct iovec iov[2] = { { (void *)p0, n0 }, { (void *)p1, n1 } };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n1 ? 2 : 1 };
		int flags = MSG_DONTWAIT | MSG_NOSIGNAL, r;
		ssize_t n;

		if (avail < 0)
			return -EPROTO;
		if (avail == 0) {
			r = out_empty(a, fd, ev);
			if (r < 0)
				return r;
			if (r)
				break;
			continue;
		}
		if (a->host_flags & HRPC_SOCK_AREA_H_WRSHUT) {
			/* Nothing takes them any more (the error is pending):
			 * drop them, as a reset connection does. */
			hrpc_sring_consume(&a->out, (uint32_t)avail);
			continue;
		}
		if (hrpc_read_once(a->hdr->guest_flags) & HRPC_SOCK_AREA_G_MORE)
			flags |= MSG_MORE;
		n = sendmsg(fd, &mh, flags);
		if (n > 0) {
			hrpc_sring_consume(&a->out, (uint32_t)n);
			total += n;
			a->drained += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			*ev |= SOCK_AREA_EV_WANT_OUT;
			break;
		}
		fail(a, n < 0 ? -errno : -EPIPE, HRPC_SOCK_AREA_H_WRSHUT, ev);
	}
	return total;
}

static long drain_dgram(struct sock_area *a, int fd, sock_area_dest_fn dest, void *ctx,
			uint32_t *ev)
{
	long total = 0;

	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = 0;
		struct hrpc_sock_dgram h;
		struct hrpc_sock_dgram_meta m;
		long n = hrpc_dring_get_meta(&a->out, &h, &m, dbuf, sizeof(dbuf), 1);
		const struct hrpc_sock_dgram_meta *mp;
		union {
			struct cmsghdr align;
			uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		} ctl;
		struct iovec iov;
		struct msghdr mh;
		ssize_t sent;
		int r;

		if (n == -EAGAIN) {
			r = out_empty(a, fd, ev);
			if (r < 0)
				return r;
			if (r)
				break;
			continue;
		}
		if (n < 0)
			return -EPROTO;
		/* What the record says is copied out and checked; the
		 * addresses are the service's to judge. */
		mp = (m.have & HRPC_SOCK_META_PKTINFO) ? &m : NULL;
		r = dest ? dest(ctx, &h.addr, mp, &ss, &sl, &fd) :
			   (h.addr.family || mp ? -EINVAL : 0);
		if (r < 0) {
			hrpc_sring_consume(&a->out, hrpc_sock_dgram_rec(&h));
			a->dropped++;
			fail(a, r, 0, ev);
			continue;
		}
		iov.iov_base = dbuf;
		iov.iov_len = (size_t)n;
		memset(&mh, 0, sizeof(mh));
		mh.msg_name = sl ? &ss : NULL;
		mh.msg_namelen = sl;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (mp) {
			/* the source the guest chose (the service allowed it);
			 * the interface is the host's routing's to pick */
			bool v4 = mp->spec_dst.family == HRPC_AF_INET;
			union {
				struct in_pktinfo p4;
				struct in6_pktinfo p6;
			} pi;
			size_t plen = v4 ? sizeof(pi.p4) : sizeof(pi.p6);
			struct cmsghdr *c;

			memset(&ctl, 0, sizeof(ctl));
			memset(&pi, 0, sizeof(pi));
			if (v4)
				memcpy(&pi.p4.ipi_spec_dst, mp->spec_dst.addr, 4);
			else
				memcpy(&pi.p6.ipi6_addr, mp->spec_dst.addr, 16);
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(plen);
			c = (struct cmsghdr *)ctl.buf;
			c->cmsg_level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
			c->cmsg_type = v4 ? IP_PKTINFO : IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(plen);
			memcpy(CMSG_DATA(c), &pi, plen);
		}
		sent = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
			*ev |= SOCK_AREA_EV_WANT_OUT;
			break;   /* the record stays for the next try */
		}
		hrpc_sring_consume(&a->out, hrpc_sock_dgram_rec(&h));
		if (sent < 0) {
			fail(a, -errno, 0, ev);
			continue;
		}
		total += sent;
		a->drained += (uint64_t)sent;
	}
	return total;
}

long sock_area_drain(struct sock_area *a, int fd, sock_area_dest_fn dest, void *ctx, uint32_t *ev)
{
	uint32_t old = a->out.pvt;
	long total;

	*ev = 0;
	total = a->dgram ? drain_dgram(a, fd, dest, ctx, ev) : drain_stream(a, fd, ev);
	if (a->out.pvt != old && hrpc_ring_consumed_notify(&a->out, old))
		*ev |= SOCK_AREA_EV_NOTIFY;
	return total;
}
