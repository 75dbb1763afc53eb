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

/* How QEMU's pre-copy runs.  MIG_PRECOPY_AUTO: iterative, except where the
 * source QEMU cannot migrate a running guest that way without losing its
 * writes (TCG before QEMU 9.0, below), then single-pass. */
enum mig_precopy { MIG_PRECOPY_AUTO, MIG_PRECOPY_ITERATIVE, MIG_PRECOPY_SINGLE_PASS };

struct mig_hv {
	const struct mig_hv_ops *ops;
	/* Set by precopy: whether it ran single-pass, and why (or ""). */
	int single_pass;
	char single_pass_why[160];
};

/* TCG in QEMU before 9.0 loses writes of a running guest when its dirty
 * bitmap is synced more than once before the guest stops: the sync does not
 * re-arm TCG's TLB, so the guest's later stores to a page QEMU has already
 * sent again go unseen (fixed upstream by 03bfc2188f, "physmem: Fix
 * migration dirty bitmap coherency with TCG memory access").  Single-pass
 * pre-copy (downtime-limit 0) syncs only once while the guest runs, when
 * dirty logging starts and TCG's TLB is flushed; the pages dirtied during
 * that pass go while the guest is paused.  Decides for `precopy` and a
 * source QEMU major.minor under this accelerator (kvm: 1 for KVM, 0 for
 * TCG): sets hv->single_pass, and hv->single_pass_why where auto chose it;
 * returns hv->single_pass. */
int mig_hv_choose_precopy(mig_hv *hv, enum mig_precopy precopy, int kvm, int major, int minor);

/* QEMU by QMP.  uri: QEMU's stream (tcp:HOST:PORT); max_bandwidth in MiB/s
 * (0: QEMU's default); keep_source: end_source leaves the source paused. */
int mig_hv_qmp_open(const char *src_qmp, const char *dst_qmp, const char *uri,
		    int max_bandwidth, enum mig_precopy precopy, int keep_source, mig_hv **out,
		    char *err, size_t errlen);

/* A libvirt domain: src_uri and dst_uri are the two libvirtds, domain the
 * domain's name at the source, uri QEMU's stream at the destination
 * (tcp:HOST:PORT; the source QEMU reaches it through hostrpc-migrate),
 * dest_xml the domain's XML for the destination (NULL: the source's). */
int mig_hv_libvirt_open(const char *src_uri, const char *dst_uri, const char *domain,
			const char *uri, const char *dest_xml, int max_bandwidth,
			enum mig_precopy precopy, mig_hv **out, char *err, size_t errlen);

#endif
