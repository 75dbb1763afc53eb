/* SPDX-License-Identifier: MIT */
/*
 * fuzz-conn - libFuzzer target for everything a guest can feed a server
 * connection: the first byte picks the transport, then
 *   shm:   4 bytes producer index, 4 bytes response consumer index, the rest
 *          copied into the request ring bytes (records, headers, bulk refs);
 *   vport: the rest is the byte stream.
 * The server must answer or fence; ASan/UBSan catch the rest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostrpc/hostrpc.h"
#include "hostrpc/ring.h"

#define SHM_SIZE (2u << 20)

static void *shm;
static int efd[2];
static hrpc_server *srv;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	shm = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	efd[0] = eventfd(0, EFD_NONBLOCK);
	efd[1] = eventfd(0, EFD_NONBLOCK);
	srv = hrpc_server_new("fuzz");
	hrpc_server_register_builtins(srv);
	return 0;
}

static void run_shm(const uint8_t *d, size_t n)
{
	struct hrpc_shm_hdr *h = shm;
	hrpc_chan *ch;
	hrpc_conn *c;
	uint32_t prod, rcons;

	if (n < 8 || hrpc_shm_chan_new(HRPC_ROLE_SERVER, shm, SHM_SIZE, efd[0], efd[1], false, &ch))
		return;
	memcpy(&prod, d, 4);
	memcpy(&rcons, d + 4, 4);
	d += 8;
	n -= 8;
	if (n > h->req_size)
		n = h->req_size;
	memcpy((uint8_t *)shm + h->req_off, d, n);
	/* Mostly plausible indexes, sometimes wild ones. */
	h->req.prod = (prod & 0x80000000u) ? prod : (uint32_t)n & ~7u;
	h->rsp.cons = (rcons & 0x80000000u) ? rcons : 0;
	if (hrpc_conn_new(srv, ch, 1, &c))
		return;
	for (int i = 0; i < 4 && hrpc_conn_process(c) > 0; i++)
		;
	hrpc_conn_free(c);
}

static void run_vport(const uint8_t *d, size_t n)
{
	hrpc_chan *ch;
	hrpc_conn *c;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return;
	if (hrpc_vport_chan_new(HRPC_ROLE_SERVER, sv[0], &ch)) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (n && write(sv[1], d, n) < 0)
		n = 0;
	shutdown(sv[1], SHUT_WR);
	if (hrpc_conn_new(srv, ch, 2, &c) == 0) {
		for (int i = 0; i < 8 && hrpc_conn_process(c) >= 0; i++)
			;
		hrpc_conn_free(c);
	}
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		run_vport(data + 1, size - 1);
	else
		run_shm(data + 1, size - 1);
	return 0;
}
