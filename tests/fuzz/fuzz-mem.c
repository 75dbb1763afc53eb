/* SPDX-License-Identifier: MIT */
/*
 * fuzz-mem - libFuzzer target for the memory service (outsource/mem/,
 * service 18, include/hostrpc/mem.h) as a hostile guest drives it: ring
 * records into a real hrpc_conn, the service's requests, and the host's own
 * decisions (grant, reclaim, deadlines, balancing) interleaved with them,
 * on a real region file on tmpfs.  The input is:
 *
 *   [mode u8] then [op u8][len u8][len payload bytes] ...
 *
 * mode bit 0: the worker adopts the region (a restart: chunks holding data
 *             are the guest's again).
 * op % 13:
 *   0..7   a call of proc op (1..6 are the service's; 0 and 7 are not);
 *          op bit 7: a range payload's first/count/seq are replaced by the
 *          last RECLAIM event's, bit 6 by the last GRANT event's (so that
 *          calls reach chunks the host did hand out)
 *   8      the host grants payload[0] chunks (hostrpcctl memory grant)
 *   9      the host reclaims payload[0] chunks by payload[1] ms
 *   10     payload[0] seconds pass: the service's tick (deadlines, refills)
 *   11     the guest writes into chunk payload[0] of its BAR (the region
 *          file, as its QEMU mapping would)
 *   12     hostrpcd's balancing decides with this guest's reported state
 *          and a neighbour made of the payload (balance.c)
 *
 * Each input gets a fresh server, channel and service (HELLO is the guest's
 * to send); the region file is punched empty at each start.  The service's
 * source is included to reach the tick's work at a chosen clock (tick_at).
 * Anything the guest does may fence its channel; nothing may crash, leak or
 * leave the chunk table inconsistent with what the service reports.
 */
#define _GNU_SOURCE
#include "outsource/mem/service.c"

#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "hostrpc/control.h"
#include "hostrpc/ring.h"
#include "outsource/mem/balance.h"

#define SHM_SIZE (2u << 20)
#define REGION_CHUNKS 16u

static void *shm;
static int efd[2], audit_pair[2];
static char *policy;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
	(void)domain;
	(void)level;
	(void)msg;
	(void)data;
}

static char region_file[64];

static void region_unlink(void)
{
	unlink(region_file);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The service's warnings on every fence would be most of the run's
	 * time; a critical (a g_return_if_fail) is still a bug and aborts. */
	g_log_set_default_handler(quiet, NULL);
	g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
	snprintf(region_file, sizeof(region_file), "/dev/shm/hostrpc-fuzz-mem-%d", (int)getpid());
	atexit(region_unlink);
	policy = g_strdup_printf("[memory]\nregion-mib=%u\nregion-file=%s\ngrant-mib=16\n"
				 "pin-quota-mib=8\nreclaim-deadline-ms=1000\n",
				 REGION_CHUNKS * (HRPC_MEM_CHUNK >> 20), region_file);
	shm = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	efd[0] = eventfd(0, EFD_NONBLOCK);
	efd[1] = eventfd(0, EFD_NONBLOCK);
	if (shm == MAP_FAILED || efd[0] < 0 || efd[1] < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, audit_pair) < 0) {
		perror("fuzz-mem: set-up");
		exit(77);
	}
	return 0;
}

struct run {
	struct hrpc_shm_hdr *h;
	struct hrpc_ring req, rsp;
	hrpc_conn *conn;
	OutsourceMemService *svc;
	struct hrpc_mem_grant_event grant;
	struct hrpc_mem_reclaim_event reclaim;
	uint64_t id;
};

/* The guest's side of the response ring: replies and events, remembered
 * so that later calls can name what the host handed out. */
static void drain(struct run *r)
{
	static uint8_t buf[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_msg_hdr m;

	while (hrpc_ring_get(&r->rsp, &m, buf, sizeof(buf)) == 0) {
		if (m.kind != HRPC_KIND_EVENT || m.service != HRPC_SVC_MEM)
			continue;
		if (m.proc == HRPC_MEM_EVT_GRANT && m.len == sizeof(r->grant))
			memcpy(&r->grant, buf, sizeof(r->grant));
		else if (m.proc == HRPC_MEM_EVT_RECLAIM && m.len == sizeof(r->reclaim))
			memcpy(&r->reclaim, buf, sizeof(r->reclaim));
	}
}

/* The audit records of one input (the service drops what a full socket
 * buffer cannot take): a recv per record, not one per pump - an empty
 * recv after every call was a third of the run's time. */
static void drain_audit(void)
{
	char rec[512];

	while (recv(audit_pair[1], rec, sizeof(rec), MSG_DONTWAIT) > 0)
		;
}

static void pump(struct run *r)
{
	for (int i = 0; i < 4; i++) {
		if (hrpc_conn_process(r->conn) <= 0)
			break;
		drain(r);
	}
	drain(r);
}

static void call(struct run *r, uint16_t svc, uint16_t proc, const void *p, uint32_t len)
{
	struct hrpc_msg_hdr m;

	hrpc_msg_init(&m, HRPC_KIND_CALL, svc, proc, ++r->id, len);
	if (hrpc_ring_put(&r->req, &m, p) == -EAGAIN) {
		pump(r);
		hrpc_ring_put(&r->req, &m, p);
	}
	pump(r);
}

/* What the service reports must be what its table holds. */
static void check_status(struct run *r)
{
	struct hrpc_mem_status st;

	mem_region_status(r->svc->region, &st);
	/* granted and reclaiming are disjoint; a pinned chunk is never reclaimed. */
	if (st.nchunks != REGION_CHUNKS || st.granted + st.reclaiming > st.nchunks ||
	    st.pinned > st.granted || st.pinned > st.pin_quota) {
		fprintf(stderr, "fuzz-mem: inconsistent status: nchunks %u granted %u "
			"reclaiming %u pinned %u quota %u\n", st.nchunks, st.granted,
			st.reclaiming, st.pinned, st.pin_quota);
		abort();
	}
}

static void balance(struct run *r, const uint8_t *p, uint32_t len)
{
	uint8_t b[16] = { 0 };
	struct hrpc_mem_status st;
	struct mem_balance_cfg cfg;
	struct mem_balance_guest g[2];
	struct mem_balance_action a[4];
	int n;

	memcpy(b, p, MIN(len, sizeof(b)));
	mem_region_status(r->svc->region, &st);
	cfg = (struct mem_balance_cfg){
		.pool_mib = (uint32_t)b[0] * 16, .step_mib = (uint32_t)(b[1] % 8 + 1) * 2,
		.low_mib = b[2], .high_mib = b[3],
	};
	g[0] = (struct mem_balance_guest){
		.id = 1, .kind = MEM_BALANCE_REGION, .attached = r->svc->hello,
		.granted_mib = st.granted * 2, .reclaiming_mib = st.reclaiming * 2,
		.used_mib = (uint32_t)MIN(r->svc->pressure.used_kb >> 10, G_MAXUINT32),
		.min_mib = r->svc->pol.min_mib, .max_mib = r->svc->pol.max_mib,
	};
	g[1] = (struct mem_balance_guest){
		.id = 2, .kind = b[4] & 1, .attached = b[4] & 2,
		.granted_mib = (uint32_t)b[5] << 4, .reclaiming_mib = b[6], .used_mib = (uint32_t)b[7] << 4,
		.min_mib = b[8], .max_mib = (uint32_t)b[9] << 4,
	};
	n = mem_balance_plan(&cfg, g, 2, a, G_N_ELEMENTS(a));
	for (int i = 0; i < n; i++) {
		if (n > (int)G_N_ELEMENTS(a) || (a[i].id != 1 && a[i].id != 2) ||
		    (a[i].op != MEM_BALANCE_GRANT && a[i].op != MEM_BALANCE_RECLAIM)) {
			fprintf(stderr, "fuzz-mem: balancing made a bad action\n");
			abort();
		}
		/* Carried out as hostrpcd would for a region guest. */
		if (a[i].id == 1 && a[i].op == MEM_BALANCE_GRANT)
			outsource_mem_service_grant(r->svc, a[i].mib / 2);
		else if (a[i].id == 1)
			outsource_mem_service_reclaim(r->svc, a[i].mib / 2, 0);
	}
	pump(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct hrpc_control_hello he = { .min_revision = 1, .max_revision = 1 };
	static uint8_t payload[256];
	struct run r = { .h = shm };
	g_autoptr(GError) e = NULL;
	guint64 clock;
	hrpc_server *srv;
	hrpc_chan *ch;
	gsize len;

	if (n < 1)
		return 0;
	srv = hrpc_server_new("fuzz-mem");
	if (!srv || hrpc_server_register_builtins(srv) < 0 ||
	    !(r.svc = outsource_mem_service_start_text(srv, 1, "fuzz", policy, "fuzz-mem",
						       d[0] & 1, audit_pair[0], &e)) ||
	    !r.svc->region ||
	    hrpc_shm_chan_new(HRPC_ROLE_SERVER, shm, SHM_SIZE, efd[0], efd[1], false, &ch) ||
	    hrpc_conn_new(srv, ch, 1, &r.conn)) {
		fprintf(stderr, "fuzz-mem: set-up failed%s%s\n", e ? ": " : "",
			e ? e->message : "");
		abort();
	}
	d++;
	n--;
	clock = now_ms();
	hrpc_ring_bind(&r.req, &r.h->req, (uint8_t *)shm + r.h->req_off, r.h->req_size, 1);
	hrpc_ring_bind(&r.rsp, &r.h->rsp, (uint8_t *)shm + r.h->rsp_off, r.h->rsp_size, 0);
	call(&r, HRPC_SVC_CONTROL, HRPC_CONTROL_HELLO, &he, sizeof(he));

	while (n >= 2) {
		uint8_t op = d[0], l = d[1];

		d += 2;
		n -= 2;
		if (l > n)
			l = (uint8_t)n;
		memset(payload, 0, 16);
		memcpy(payload, d, l);
		d += l;
		n -= l;
		switch (op % 13) {
		case 8:
			outsource_mem_service_grant(r.svc, payload[0]);
			pump(&r);
			break;
		case 9:
			outsource_mem_service_reclaim(r.svc, payload[0], payload[1]);
			pump(&r);
			break;
		case 10:
			clock += (guint64)payload[0] * 1000;
			tick_at(r.svc, clock);
			pump(&r);
			break;
		case 11: {
			uint8_t one = 0x5a;

			(void)!pwrite(mem_region_fd(r.svc->region), &one, 1,
				      (off_t)(payload[0] % REGION_CHUNKS) * HRPC_MEM_CHUNK +
				      payload[1] * 4096);
			break;
		}
		case 12:
			balance(&r, payload, l);
			break;
		default: {
			struct hrpc_mem_range_req *rr = (void *)payload;

			if ((op & 0x80) && l >= sizeof(*rr)) {
				rr->first = r.reclaim.first;
				rr->count = r.reclaim.count;
				rr->seq = r.reclaim.seq;
			} else if ((op & 0x40) && l >= sizeof(*rr)) {
				rr->first = r.grant.first;
				rr->count = r.grant.count;
			}
			call(&r, HRPC_SVC_MEM, op % 13, payload, l);
			break;
		}
		}
		check_status(&r);
	}
	g_free(outsource_mem_service_listing(r.svc, d[-1] & 1, &len));
	hrpc_conn_free(r.conn);
	outsource_mem_service_stop(r.svc);
	hrpc_server_free(srv);
	drain_audit();
	return 0;
}
