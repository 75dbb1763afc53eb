/* SPDX-License-Identifier: MIT */
/* hv-libvirt-none.c - hostrpc-migrate built without libvirt (migrate/hv.h). */
#include "config.h"

#include <stdio.h>

#include "migrate/hv.h"

int mig_hv_libvirt_open(const char *src_uri, const char *dst_uri, const char *domain,
			const char *uri, const char *dest_xml, int max_bandwidth,
			enum mig_precopy precopy, mig_hv **out, char *err, size_t errlen)
{
	(void)src_uri, (void)dst_uri, (void)domain, (void)uri, (void)dest_xml;
	(void)max_bandwidth, (void)precopy, (void)out;
	snprintf(err, errlen, "--libvirt: hostrpc-migrate was built without libvirt "
		 "(apt-get install libvirt-dev; configure)");
	return -1;
}
