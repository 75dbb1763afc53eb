/* SPDX-License-Identifier: MIT */
/*
 * hv-qmp.c - the hypervisor's half of a migration for a QEMU driven by QMP
 * (migrate/hv.h): the destination QEMU was started with `-incoming defer
 * -S`; pause-before-switchover stops the source at the switch until
 * migrate-continue.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "migrate/hv.h"
#include "migrate/qmp.h"

#define QMP_TIMEOUT_MS 10000

typedef struct {
	mig_hv base;
	qmp *src, *dst;
	char *uri;
	int max_bandwidth, keep_source;
	enum mig_precopy precopy;
	mig_hv_progress_fn progress;
	void *progress_data;
} HvQmp;

static int call(qmp *q, const char *which, const char *cmd, const char *args, char *err,
		size_t errlen)
{
	char e[256] = "";

	if (qmp_call(q, cmd, args, NULL, QMP_TIMEOUT_MS, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "%s QEMU: %s: %s", which, cmd, e);
		return -1;
	}
	return 0;
}

static int hvq_incoming(mig_hv *hv, int timeout_ms, char *err, size_t errlen)
{
	/* Started by whoever started it, waiting (-incoming defer -S). */
	(void)hv, (void)timeout_ms, (void)err, (void)errlen;
	return 0;
}

/* Does the source QEMU run TCG, and which QEMU is it?  -1 and a message in
 * err when it does not say. */
static int source_accel(HvQmp *h, int *kvm, int *major, int *minor, char *err, size_t errlen)
{
	g_autoptr(JsonNode) k = NULL, v = NULL;
	JsonObject *o;
	char e[256] = "";

	if (qmp_call(h->src, "query-kvm", NULL, &k, QMP_TIMEOUT_MS, e, sizeof(e)) < 0 ||
	    qmp_call(h->src, "query-version", NULL, &v, QMP_TIMEOUT_MS, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "source QEMU: %s", e);
		return -1;
	}
	if (!JSON_NODE_HOLDS_OBJECT(k) || !JSON_NODE_HOLDS_OBJECT(v) ||
	    !json_object_has_member(json_node_get_object(k), "enabled") ||
	    !(o = json_object_get_object_member(json_node_get_object(v), "qemu")) ||
	    !json_object_has_member(o, "major") || !json_object_has_member(o, "minor")) {
		snprintf(err, errlen, "source QEMU: query-kvm or query-version: unexpected answer");
		return -1;
	}
	*kvm = json_object_get_boolean_member(json_node_get_object(k), "enabled");
	*major = (int)json_object_get_int_member(o, "major");
	*minor = (int)json_object_get_int_member(o, "minor");
	return 0;
}

static int hvq_precopy(mig_hv *hv, char *err, size_t errlen)
{
	HvQmp *h = (HvQmp *)hv;
	int kvm = 1, major = 0, minor = 0;
	static const char caps[] =
		"{\"capabilities\":[{\"capability\":\"pause-before-switchover\",\"state\":true},"
		"{\"capability\":\"events\",\"state\":true}]}";
	g_autofree char *args = g_strdup_printf("{\"uri\":\"%s\"}", h->uri);

	if (call(h->src, "source", "migrate-set-capabilities", caps, err, errlen) < 0 ||
	    call(h->dst, "destination", "migrate-set-capabilities", caps, err, errlen) < 0)
		return -1;
	if (h->precopy == MIG_PRECOPY_AUTO &&
	    source_accel(h, &kvm, &major, &minor, err, errlen) < 0)
		return -1;
	/* threshold = bandwidth x downtime-limit = 0: no sync of the dirty
	 * bitmap until the pass ends, then the guest stops for the rest. */
	if (mig_hv_choose_precopy(hv, h->precopy, kvm, major, minor) &&
	    call(h->src, "source", "migrate-set-parameters", "{\"downtime-limit\":0}", err,
		 errlen) < 0)
		return -1;
	if (h->max_bandwidth) {
		g_autofree char *bw = g_strdup_printf("{\"max-bandwidth\":%lld}",
						      (long long)h->max_bandwidth << 20);

		if (call(h->src, "source", "migrate-set-parameters", bw, err, errlen) < 0)
			return -1;
	}
	if (call(h->dst, "destination", "migrate-incoming", args, err, errlen) < 0 ||
	    call(h->src, "source", "migrate", args, err, errlen) < 0)
		return -1;
	return 0;
}

static void progress(const struct qmp_migrate_info *mi, void *data)
{
	HvQmp *h = data;
	struct mig_hv_progress p = {
		.status = mi->status,
		.ram_total = mi->ram_total,
		.ram_transferred = mi->ram_transferred,
		.ram_remaining = mi->ram_remaining,
		.dirty_pages_rate = mi->ram_dirty_rate,
		.expected_downtime_ms = mi->expected_downtime_ms,
	};

	if (h->progress)
		h->progress(&p, h->progress_data);
}

static int hvq_wait_paused(mig_hv *hv, int timeout_ms, mig_hv_progress_fn fn, void *data,
			   uint64_t *ram_total, char *err, size_t errlen)
{
	HvQmp *h = (HvQmp *)hv;
	struct qmp_migrate_info mi;
	char e[256] = "";

	h->progress = fn;
	h->progress_data = data;
	if (qmp_wait_migration(h->src, "pre-switchover|failed|cancelled|completed", timeout_ms,
			       100, progress, h, &mi, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "source QEMU: %s", e);
		return -1;
	}
	if (strcmp(mi.status, "pre-switchover")) {
		snprintf(err, errlen, "QEMU's migration %s%s%s", mi.status,
			 mi.error[0] ? ": " : "", mi.error);
		return -1;
	}
	*ram_total = mi.ram_total;
	return 0;
}

static int hvq_switch_over(mig_hv *hv, int timeout_ms, uint64_t *ram_sent, char *err,
			   size_t errlen)
{
	HvQmp *h = (HvQmp *)hv;
	struct qmp_migrate_info mi;
	char e[256] = "";
	int rc;

	if (call(h->src, "source", "migrate-continue", "{\"state\":\"pre-switchover\"}", err,
		 errlen) < 0)
		return -1;
	rc = qmp_wait_migration(h->src, "completed|failed|cancelled", timeout_ms, 5, NULL, NULL,
				&mi, e, sizeof(e));
	if (rc < 0) {
		snprintf(err, errlen, "source QEMU: %s", e);
		return -1;
	}
	if (strcmp(mi.status, "completed")) {
		snprintf(err, errlen, "QEMU's migration %s%s%s", mi.status,
			 mi.error[0] ? ": " : "", mi.error);
		return -1;
	}
	*ram_sent = mi.ram_transferred;
	/* The destination QEMU has the memory once its side completes too. */
	rc = qmp_wait_migration(h->dst, "completed|failed", timeout_ms, 5, NULL, NULL, &mi, e,
				sizeof(e));
	if (rc < 0 || strcmp(mi.status, "completed")) {
		snprintf(err, errlen, "destination QEMU: %s", rc < 0 ? e : mi.status);
		return -1;
	}
	return 0;
}

static int hvq_resume(mig_hv *hv, char *err, size_t errlen)
{
	HvQmp *h = (HvQmp *)hv;

	return call(h->dst, "destination", "cont", NULL, err, errlen);
}

static void hvq_end_source(mig_hv *hv)
{
	HvQmp *h = (HvQmp *)hv;
	char e[256];

	if (!h->keep_source)
		qmp_call(h->src, "quit", NULL, NULL, QMP_TIMEOUT_MS, e, sizeof(e));
}

static int hvq_rollback(mig_hv *hv)
{
	HvQmp *h = (HvQmp *)hv;
	struct qmp_migrate_info mi;
	char e[256];

	qmp_call(h->src, "migrate_cancel", NULL, NULL, QMP_TIMEOUT_MS, e, sizeof(e));
	qmp_wait_migration(h->src, "cancelled|failed|completed|none", QMP_TIMEOUT_MS, 50, NULL,
			   NULL, &mi, e, sizeof(e));
	/* A source paused for the switch runs again. */
	qmp_call(h->src, "cont", NULL, NULL, QMP_TIMEOUT_MS, e, sizeof(e));
	qmp_call(h->dst, "quit", NULL, NULL, QMP_TIMEOUT_MS, e, sizeof(e));
	return 0;
}

static void hvq_free(mig_hv *hv)
{
	HvQmp *h = (HvQmp *)hv;

	if (!h)
		return;
	qmp_close(h->src);
	qmp_close(h->dst);
	g_free(h->uri);
	g_free(h);
}

static const struct mig_hv_ops hvq_ops = {
	.name = "qmp",
	.incoming = hvq_incoming,
	.precopy = hvq_precopy,
	.wait_paused = hvq_wait_paused,
	.switch_over = hvq_switch_over,
	.resume = hvq_resume,
	.end_source = hvq_end_source,
	.rollback = hvq_rollback,
	.free = hvq_free,
};

int mig_hv_choose_precopy(mig_hv *hv, enum mig_precopy precopy, int kvm, int major, int minor)
{
	if (precopy == MIG_PRECOPY_AUTO && !kvm && major < 9)
		snprintf(hv->single_pass_why, sizeof(hv->single_pass_why),
			 "the source QEMU %d.%d runs TCG, whose iterative pre-copy loses guest "
			 "writes before QEMU 9.0", major, minor);
	hv->single_pass = precopy == MIG_PRECOPY_SINGLE_PASS || hv->single_pass_why[0];
	return hv->single_pass;
}

int mig_hv_qmp_open(const char *src_qmp, const char *dst_qmp, const char *uri,
		    int max_bandwidth, enum mig_precopy precopy, int keep_source, mig_hv **out,
		    char *err, size_t errlen)
{
	HvQmp *h = g_new0(HvQmp, 1);
	char e[256] = "";

	h->base.ops = &hvq_ops;
	h->uri = g_strdup(uri);
	h->max_bandwidth = max_bandwidth;
	h->precopy = precopy;
	h->keep_source = keep_source;
	if (qmp_open(src_qmp, QMP_TIMEOUT_MS, &h->src, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "source QEMU (%s): %s", src_qmp, e);
		hvq_free(&h->base);
		return -1;
	}
	if (qmp_open(dst_qmp, QMP_TIMEOUT_MS, &h->dst, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "destination QEMU (%s): %s", dst_qmp, e);
		hvq_free(&h->base);
		return -1;
	}
	*out = &h->base;
	return 0;
}
