/* SPDX-License-Identifier: MIT */
/* tcprepair.c - TCP_REPAIR freeze and restore (tcprepair.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostrpc/sockstate.h"
#include "outsource/sock/sockaddr.h"
#include "outsource/sock/tcprepair.h"

#ifndef SIOCOUTQNSD
#define SIOCOUTQNSD 0x894B
#endif
#ifndef TCPOPT_SACK_PERM
#define TCPOPT_SACK_PERM 4
#endif
#ifndef TCPOPT_MAXSEG
#define TCPOPT_MAXSEG 2
#endif
#ifndef TCPOPT_WINDOW
#define TCPOPT_WINDOW 3
#endif
#ifndef TCPOPT_TIMESTAMP
#define TCPOPT_TIMESTAMP 8
#endif

static int sopt(int fd, int name, const void *v, socklen_t l)
{
	return setsockopt(fd, IPPROTO_TCP, name, v, l) < 0 ? -errno : 0;
}

static int sint(int fd, int name, int v)
{
	return sopt(fd, name, &v, sizeof(v));
}

static int gint(int fd, int name, uint32_t *out)
{
	int v = 0;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, IPPROTO_TCP, name, &v, &l) < 0)
		return -errno;
	*out = (uint32_t)v;
	return 0;
}

static int qlen(int fd, unsigned long req, uint32_t *out)
{
	int v = 0;

	if (ioctl(fd, req, &v) < 0)
		return -errno;
	if (v < 0 || (uint32_t)v > HRPC_TCP_IMAGE_QUEUE_MAX)
		return -EFBIG;
	*out = (uint32_t)v;
	return 0;
}

/* The sequence number after `queue`'s last byte, and its bytes (peeked). */
static int queue_get(int fd, int queue, uint32_t *seq, uint8_t *buf, uint32_t len)
{
	int rc = sint(fd, TCP_REPAIR_QUEUE, queue);

	if (rc == 0)
		rc = gint(fd, TCP_QUEUE_SEQ, seq);
	if (rc == 0 && len) {
		ssize_t n = recv(fd, buf, len, MSG_PEEK | MSG_DONTWAIT);

		if (n < 0)
			rc = -errno;
		else if ((uint32_t)n != len)
			rc = -EIO;
	}
	return rc;
}

/* The socket's own address or its peer's, on the wire. */
static int name_of(int fd, bool peer, struct hrpc_sock_addr *w)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &sl) :
			getsockname(fd, (struct sockaddr *)&ss, &sl);

	if (rc < 0)
		return -errno;
	sock_addr_to_wire(&ss, w);
	return 0;
}

int sock_tcp_freeze(int fd, void **image, size_t *len)
{
	struct hrpc_tcp_image h;
	struct tcp_info ti;
	struct tcp_repair_window win;
	socklen_t tl = sizeof(ti), wl = sizeof(win);
	uint8_t *img = NULL;
	int rc;

	*image = NULL;
	*len = 0;
	memset(&h, 0, sizeof(h));
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0)
		return -errno;
	if (ti.tcpi_state != TCP_ESTABLISHED)
		return -EINVAL;
	rc = sint(fd, TCP_REPAIR, 1);
	if (rc)
		return rc;
	/* In repair mode the queues stand still: sizes, then bytes. */
	rc = qlen(fd, SIOCOUTQ, &h.outq_len);
	if (!rc)
		rc = qlen(fd, SIOCOUTQNSD, &h.unsq_len);
	if (!rc)
		rc = qlen(fd, SIOCINQ, &h.inq_len);
	if (!rc && h.unsq_len > h.outq_len)
		rc = -EIO;
	if (!rc) {
		img = malloc(sizeof(h) + (size_t)h.inq_len + h.outq_len);
		if (!img)
			rc = -ENOMEM;
	}
	if (!rc)
		rc = queue_get(fd, TCP_RECV_QUEUE, &h.rcv_seq, img + sizeof(h), h.inq_len);
	if (!rc)
		rc = queue_get(fd, TCP_SEND_QUEUE, &h.snd_seq, img + sizeof(h) + h.inq_len,
			       h.outq_len);
	if (!rc)
		rc = gint(fd, TCP_MAXSEG, &h.mss);
	if (!rc)
		rc = gint(fd, TCP_TIMESTAMP, &h.timestamp);
	if (!rc && getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &win, &wl) < 0)
		rc = -errno;
	if (!rc)
		rc = name_of(fd, false, &h.local);
	if (!rc)
		rc = name_of(fd, true, &h.peer);
	if (rc) {
		free(img);
		sint(fd, TCP_REPAIR, 0);	/* as it was */
		return rc;
	}
	h.magic = HRPC_TCP_IMAGE_MAGIC;
	h.state = HRPC_TCP_ESTABLISHED;
	h.size = (uint32_t)(sizeof(h) + h.inq_len + h.outq_len);
	if (ti.tcpi_options & TCPI_OPT_SACK)
		h.opts |= HRPC_TCP_OPT_SACK;
	if (ti.tcpi_options & TCPI_OPT_TIMESTAMPS)
		h.opts |= HRPC_TCP_OPT_TSTAMP;
	if (ti.tcpi_options & TCPI_OPT_WSCALE) {
		h.opts |= HRPC_TCP_OPT_WSCALE;
		h.snd_wscale = ti.tcpi_snd_wscale;
		h.rcv_wscale = ti.tcpi_rcv_wscale;
	}
	h.snd_wl1 = win.snd_wl1;
	h.snd_wnd = win.snd_wnd;
	h.max_window = win.max_window;
	h.rcv_wnd = win.rcv_wnd;
	h.rcv_wup = win.rcv_wup;
	memcpy(img, &h, sizeof(h));
	*image = img;
	*len = h.size;
	return 0;
}

int sock_tcp_thaw(int fd)
{
	return sint(fd, TCP_REPAIR, 0);
}

/* Put `len` bytes into the queue selected (repair mode). */
static int queue_put(int fd, const uint8_t *buf, uint32_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (uint32_t)n;
	}
	return 0;
}

int sock_tcp_restore(const void *image, size_t len, int *out)
{
	struct hrpc_tcp_image h;
	struct sockaddr_storage ss;
	struct tcp_repair_opt opt[4];
	struct tcp_repair_window win;
	const uint8_t *inq, *outq;
	uint32_t sent;
	int fd, rc, one = 1, nopt = 0;
	socklen_t sl;

	*out = -1;
	rc = hrpc_tcp_image_check(image, len);
	if (rc)
		return rc;
	memcpy(&h, image, sizeof(h));
	inq = (const uint8_t *)image + sizeof(h);
	outq = inq + h.inq_len;
	sent = h.outq_len - h.unsq_len;

	fd = socket(h.local.family == HRPC_AF_INET ? AF_INET : AF_INET6,
		    SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = sint(fd, TCP_REPAIR, 1);
	if (!rc && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		rc = -errno;
	/* The queues start where the frozen ones start: the receive queue at
	 * rcv_nxt less what it holds, the send queue at its oldest byte,
	 * unacknowledged or unsent. */
	if (!rc)
		rc = sint(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE);
	if (!rc)
		rc = sint(fd, TCP_QUEUE_SEQ, (int)(h.rcv_seq - h.inq_len));
	if (!rc)
		rc = sint(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE);
	if (!rc)
		rc = sint(fd, TCP_QUEUE_SEQ, (int)(h.snd_seq - h.outq_len));
	if (!rc)
		rc = sock_addr_from_wire(&h.local, &ss, &sl);
	/* A migration may restore before the guest's address is up here. */
	if (!rc)
		rc = setsockopt(fd, h.local.family == HRPC_AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
				h.local.family == HRPC_AF_INET ? IP_FREEBIND : IPV6_FREEBIND, &one,
				sizeof(one)) < 0 ? -errno : 0;
	if (!rc && bind(fd, (struct sockaddr *)&ss, sl) < 0)
		rc = -errno;
	if (!rc)
		rc = sock_addr_from_wire(&h.peer, &ss, &sl);
	/* in repair mode: no SYN, the socket is ESTABLISHED at once */
	if (!rc && connect(fd, (struct sockaddr *)&ss, sl) < 0)
		rc = -errno;
	if (!rc) {
		opt[nopt].opt_code = TCPOPT_MAXSEG;
		opt[nopt++].opt_val = h.mss;
		if (h.opts & HRPC_TCP_OPT_WSCALE) {
			opt[nopt].opt_code = TCPOPT_WINDOW;
			opt[nopt++].opt_val = h.snd_wscale + ((uint32_t)h.rcv_wscale << 16);
		}
		if (h.opts & HRPC_TCP_OPT_SACK) {
			opt[nopt].opt_code = TCPOPT_SACK_PERM;
			opt[nopt++].opt_val = 0;
		}
		if (h.opts & HRPC_TCP_OPT_TSTAMP) {
			opt[nopt].opt_code = TCPOPT_TIMESTAMP;
			opt[nopt++].opt_val = 0;
		}
		rc = sopt(fd, TCP_REPAIR_OPTIONS, opt, (socklen_t)(nopt * sizeof(opt[0])));
	}
	if (!rc && (h.opts & HRPC_TCP_OPT_TSTAMP))
		rc = sint(fd, TCP_TIMESTAMP, (int)h.timestamp);
	/* The bytes: what was received and not read; what was sent and not
	 * acknowledged (retransmitted from here as needed). */
	if (!rc)
		rc = sint(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE);
	if (!rc)
		rc = queue_put(fd, inq, h.inq_len);
	if (!rc)
		rc = sint(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE);
	if (!rc)
		rc = queue_put(fd, outq, sent);
	/* The window last: the kernel checks it against rcv_nxt, which the
	 * receive queue's bytes just moved to where it was. */
	if (!rc) {
		win.snd_wl1 = h.snd_wl1;
		win.snd_wnd = h.snd_wnd;
		win.max_window = h.max_window;
		win.rcv_wnd = h.rcv_wnd;
		win.rcv_wup = h.rcv_wup;
		rc = sopt(fd, TCP_REPAIR_WINDOW, &win, sizeof(win));
	}
	if (!rc)
		rc = sint(fd, TCP_REPAIR, 0);
	/* What was never sent goes out as a program's send would. */
	if (!rc)
		rc = queue_put(fd, outq + sent, h.unsq_len);
	if (rc) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}
