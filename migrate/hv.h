/* SPDX-License-Identifier: MIT */
/*
 * hv.h - the hypervisor's half of a migration, as hostrpc-migrate drives it:
 * QEMU by its QMP sockets (hv-qmp.c), or a libvirt domain by two libvirt
 * connections (hv-libvirt.c).
 *
 * The order hostrpc-migrate follows, and what each step promises:
 *   incoming     the destination QEMU exists and waits for the guest
 *                (attached to the destination hostrpcd's endpoint)
 *   precopy      QEMU's live pre-copy runs; the guest runs at the source
 *   wait_paused  returns once the guest's vCPUs stopped for the switch; the
 *                destination cannot finish before switch_over
 *   switch_over  QEMU finishes: the destination has the guest's memory and
 *                stays paused
 *   resume       the guest runs at the destination
 *   end_source   the source QEMU goes (unless kept)
 *   rollback     any time before resume: the guest runs at the source, as
 *                before, and the destination QEMU goes (0); or, where the
 *                source QEMU has already gone (libvirt, after the switch),
 *                the guest waits paused at the destination (-1)
 * Each returns 0 or -1 with a message in err (one line, no trailing dot).
 */
#ifndef HOSTRPC_MIGRATE_HV_H
#define HOSTRPC_MIGRATE_HV_H

#include <stddef.h>
#include <stdint.h>

typedef struct mig_hv mig_hv;

struct mig_hv_progress {
	const char *status;
	uint64_t ram_total, ram_transferred, ram_remaining;
	uint64_t dirty_pages_rate, expected_downtime_ms;
};

typedef void (*mig_hv_progress_fn)(const struct mig_hv_progress *p, void *data);

struct mig_hv_ops {
	const char *name;
	int (*incoming)(mig_hv *hv, int timeout_ms, char *err, size_t errlen);
	int (*precopy)(mig_hv *hv, char *err, size_t errlen);
	int (*wait_paused)(mig_hv *hv, int timeout_ms, mig_hv_progress_fn fn, void *data,
			   uint64_t *ram_total, char *err, size_t errlen);
	int (*switch_over)(mig_hv *hv, int timeout_ms, uint64_t *ram_sent, char *err,
			   size_t errlen);
	int (*resume)(mig_hv *hv, char *err, size_t errlen);
	void (*end_source)(mig_hv *hv);
	int (*rollback)(mig_hv *hv);
	void (*free)(mig_hv *hv);
};

struct mig_hv {
	const struct mig_hv_ops *ops;
};

/* QEMU by QMP.  uri: QEMU's stream (tcp:HOST:PORT); max_bandwidth in MiB/s
 * (0: QEMU's default); keep_source: end_source leaves the source paused. */
int mig_hv_qmp_open(const char *src_qmp, const char *dst_qmp, const char *uri,
		    int max_bandwidth, int keep_source, mig_hv **out, char *err, size_t errlen);

/* A libvirt domain: src_uri and dst_uri are the two libvirtds, domain the
 * domain's name at the source, uri QEMU's stream at the destination
 * (tcp:HOST:PORT; the source QEMU reaches it through hostrpc-migrate),
 * dest_xml the domain's XML for the destination (NULL: the source's). */
int mig_hv_libvirt_open(const char *src_uri, const char *dst_uri, const char *domain,
			const char *uri, const char *dest_xml, int max_bandwidth, mig_hv **out,
			char *err, size_t errlen);

#endif
