/* SPDX-License-Identifier: MIT */
/* testutil.h - a server conn and a client over memfd or vport, in-process. */
#ifndef HOSTRPC_TESTS_TESTUTIL_H
#define HOSTRPC_TESTS_TESTUTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostrpc/hostrpc.h"

struct tpair {
	hrpc_server *srv;
	hrpc_conn *conn;
	hrpc_client *cli;
	pthread_t thread;
	volatile bool stop;
	int serve_rc;
};

static void *tpair_serve(void *arg)
{
	struct tpair *p = arg;

	p->serve_rc = hrpc_conn_serve(p->conn, &p->stop);
	return NULL;
}

/* vport = false: memfd rings; true: framed stream over a socketpair. */
static inline int tpair_start(struct tpair *p, bool vport, uint32_t spin_ns)
{
	hrpc_chan *sch, *cch;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	p->stop = false;
	p->srv = hrpc_server_new("test");
	hrpc_server_register_builtins(p->srv);
	if (vport) {
		rc = hrpc_vport_chan_new(HRPC_ROLE_SERVER, sv[0], &sch);
		if (rc == 0)
			rc = hrpc_vport_chan_new(HRPC_ROLE_CLIENT, sv[1], &cch);
	} else {
		rc = hrpc_memfd_server_new(sv[0], 0, &sch);
		if (rc == 0)
			rc = hrpc_memfd_client_new(sv[1], &cch);
		close(sv[0]);
		close(sv[1]);
	}
	if (rc < 0)
		return rc;
	hrpc_chan_set_spin(sch, spin_ns);
	hrpc_chan_set_spin(cch, spin_ns);
	rc = hrpc_conn_new(p->srv, sch, 7, &p->conn);
	if (rc < 0)
		return rc;
	pthread_create(&p->thread, NULL, tpair_serve, p);
	return hrpc_client_new(cch, "unit-test", 5000, &p->cli);
}

static inline void tpair_stop(struct tpair *p)
{
	p->stop = true;
	pthread_join(p->thread, NULL);
	hrpc_client_free(p->cli);
	hrpc_conn_free(p->conn);
	hrpc_server_free(p->srv);
}

#endif
