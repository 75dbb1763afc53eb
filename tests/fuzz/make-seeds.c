/* SPDX-License-Identifier: MIT */
/* make-seeds conn|sock DIR - write a few valid inputs: for fuzz-conn a HELLO
 * followed by echo calls, as shm ring bytes and as a vport stream; for
 * fuzz-sock a script of socket calls in its input format. */
#include <stdio.h>
#include <string.h>

#include "hostrpc/control.h"
#include "hostrpc/echo.h"
#include "hostrpc/ring.h"
#include "hostrpc/sock.h"
#include "hostrpc/stats.h"

static size_t rec(uint8_t *out, uint16_t svc, uint16_t proc, const void *p, uint32_t len,
		  uint16_t flags, uint32_t boff, uint32_t blen, uint32_t bcap, int pad)
{
	struct hrpc_msg_hdr h;

	hrpc_msg_init(&h, HRPC_KIND_CALL, svc, proc, 1, len);
	h.flags = flags;
	h.bulk_off = boff;
	h.bulk_len = blen;
	h.bulk_cap = bcap;
	memcpy(out, &h, sizeof(h));
	if (len)
		memcpy(out + sizeof(h), p, len);
	return pad ? HRPC_RECORD_SIZE(len) : sizeof(h) + len;
}

static size_t op(uint8_t *out, uint8_t proc, uint8_t flags, const void *p, uint16_t len)
{
	out[0] = proc;
	out[1] = flags;
	out[2] = (uint8_t)len;
	out[3] = (uint8_t)(len >> 8);
	memcpy(out + 4, p, len);
	return 4u + len;
}

static int write_file(const char *dir, const char *name, const uint8_t *buf, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, n, f) != n)
		return 1;
	return fclose(f) != 0;
}

/* TCP and UDP sockets bound to loopback, a listener, a connect to it, I/O. */
static int sock_seeds(const char *dir)
{
	static uint8_t buf[4096];
	struct hrpc_sock_socket_req tcp = { .family = HRPC_AF_INET, .type = HRPC_SOCK_STREAM };
	struct hrpc_sock_socket_req udp6 = { .family = HRPC_AF_INET6, .type = HRPC_SOCK_DGRAM };
	struct {
		uint64_t handle;
		struct hrpc_sock_addr a;
	} bind = { .a = { .family = HRPC_AF_INET, .addr = { 127, 0, 0, 1 } } };
	struct { uint64_t handle; uint32_t arg, reserved; } hr = { .arg = 16 };
	size_t n = 0;

	n += op(buf + n, HRPC_SOCK_SOCKET, 4, &tcp, sizeof(tcp));
	n += op(buf + n, HRPC_SOCK_BIND, 2 | 4, &bind, sizeof(bind));
	n += op(buf + n, HRPC_SOCK_LISTEN, 2 | 4, &hr, sizeof(hr));
	n += op(buf + n, HRPC_SOCK_GETNAME, 2 | 4, &hr, sizeof(hr));
	n += op(buf + n, HRPC_SOCK_SOCKET, 4, &udp6, sizeof(udp6));
	n += op(buf + n, HRPC_SOCK_POLL, 2 | 4, &hr, sizeof(hr));
	n += op(buf + n, HRPC_SOCK_ACCEPT, 2 | 4, &hr, sizeof(hr));
	n += op(buf + n, HRPC_SOCK_CLOSE, 2 | 4, &hr, sizeof(hr));
	return write_file(dir, "seed-sock", buf, n);
}

int main(int argc, char **argv)
{
	static uint8_t buf[8192];
	struct hrpc_control_hello he = { .min_revision = 1, .max_revision = 1 };
	struct hrpc_echo_source_req sr = { .seed = 1, .len = 64 };

	if (argc != 3) {
		fprintf(stderr, "usage: make-seeds conn|sock DIR\n");
		return 2;
	}
	if (!strcmp(argv[1], "sock"))
		return sock_seeds(argv[2]);
	for (int mode = 0; mode < 2; mode++) {
		size_t n = 1 + (mode ? 0 : 8);

		memset(buf, 0, sizeof(buf));
		buf[0] = (uint8_t)mode;
		n += rec(buf + n, HRPC_SVC_CONTROL, HRPC_CONTROL_HELLO, &he, sizeof(he), 0, 0, 0, 0, !mode);
		n += rec(buf + n, HRPC_SVC_ECHO, HRPC_ECHO_PING, "hello", 5, 0, 0, 0, 0, !mode);
		n += rec(buf + n, HRPC_SVC_ECHO, HRPC_ECHO_SOURCE, &sr, sizeof(sr), HRPC_MSG_F_BULK,
			 0, 0, 64, !mode);
		n += rec(buf + n, HRPC_SVC_STATS, HRPC_STATS_GET, NULL, 0, 0, 0, 0, 0, !mode);
		if (write_file(argv[2], mode ? "seed-vport" : "seed-shm", buf, n))
			return 1;
	}
	return 0;
}
