/* SPDX-License-Identifier: MIT */
/*
 * libvirt-endpoints - hostrpcd --libvirt follows a real libvirtd: defining a
 * domain with a hostrpc ivshmem device (tools/domain-xml) creates its
 * endpoint, a QEMU attaching there is served, undefining the domain while
 * that QEMU is attached keeps the endpoint (QEMU never reconnects) until
 * QEMU detaches, and undefining an idle domain removes it at once.  Two
 * domains whose endpoint files would sanitise to one guest name ("a_b" and
 * "a b"): the second is refused with a clear error, and undefining it leaves
 * the first one's endpoint in place.  No VM is started: a fake QEMU attaches
 * to the endpoint.
 *
 * Needs libvirtd answering on qemu:///system (tools/libvirt-setup start);
 * skips (77) otherwise.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/tap.h"
#include "itest.h"

#define URI "qemu:///system"

static char domain[64], xml[400], endpoint[400], twin[64], twin_b[64];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1200];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(stdout);
	rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static bool exists_within(const char *path, bool want, int ms)
{
	for (int waited = 0;; waited += 20) {
		struct stat st;
		bool there = stat(path, &st) == 0 && S_ISSOCK(st.st_mode);

		if (there == want)
			return true;
		if (waited >= ms)
			return false;
		usleep(20000);
	}
}

static void undefine(void)
{
	if (domain[0])
		sh("virsh -q -c " URI " undefine %s > /dev/null 2>&1", domain);
	if (twin[0])
		sh("virsh -q -c " URI " undefine %s > /dev/null 2>&1", twin);
	if (twin_b[0])
		sh("virsh -q -c " URI " undefine %s > /dev/null 2>&1", twin_b);
}

/* hrpc_twin_PID.ivshmem and, for another domain, "hrpc twin_PID.ivshmem":
 * the same guest name once sanitised. */
static void twins(struct itest_daemon *d, const char *srcdir)
{
	char txml[400], bxml[400], tep[400];
	int rc;

	snprintf(twin, sizeof(twin), "hrpc_twin_%ld", (long)getpid());
	snprintf(twin_b, sizeof(twin_b), "hrpc-twin-b-%ld", (long)getpid());
	snprintf(txml, sizeof(txml), "%s/%s.xml", d->dir, twin);
	snprintf(bxml, sizeof(bxml), "%s/%s.xml", d->dir, twin_b);
	snprintf(tep, sizeof(tep), "%s/endpoints/%s.ivshmem", d->dir, twin);
	rc = sh("'%s/tools/domain-xml' %s --endpoint-dir '%s/endpoints' > '%s' && "
		"virsh -q -c " URI " define '%s' > /dev/null", srcdir ? srcdir : ".", twin,
		d->dir, txml, txml);
	tap_ok(rc == 0 && exists_within(tep, true, 5000), "domain %s: its endpoint appears", twin);
	/* The twin: another name and uuid, its endpoint file with a space. */
	rc = sh("sed -e 's|<name>%s</name>|<name>%s</name>|' -e '/<uuid>/d' "
		"-e 's|/%s.ivshmem|/hrpc twin_%ld.ivshmem|' '%s' > '%s' && "
		"virsh -q -c " URI " define '%s' > /dev/null", twin, twin_b, twin, (long)getpid(),
		txml, bxml, bxml);
	tap_ok(rc == 0 && itest_log_wait(d, 5000, twin_b, "refused", NULL),
	       "domain %s with endpoint file \"hrpc twin_%ld.ivshmem\" is refused, with a clear error",
	       twin_b, (long)getpid());
	sh("virsh -q -c " URI " undefine %s > /dev/null 2>&1", twin_b);
	twin_b[0] = 0;
	/* Events are applied in order: once the first domain, defined again,
	 * has its endpoint back, the twin's undefine has been applied. */
	rc = sh("virsh -q -c " URI " define '%s' > /dev/null", xml);
	tap_ok(rc == 0 && exists_within(endpoint, true, 5000) && exists_within(tep, true, 0) &&
	       !itest_log_wait(d, 0, "endpoint for guest", twin, "removed", NULL),
	       "undefining the twin left %s's endpoint alone", twin);
	sh("virsh -q -c " URI " undefine %s > /dev/null 2>&1", domain);
	sh("virsh -q -c " URI " undefine %s > /dev/null 2>&1", twin);
	exists_within(tep, false, 5000);
	twin[0] = 0;
}

int main(void)
{
	static const char *args[] = {
		"--no-process-guests", "--libvirt", URI, "--endpoint-dir", "@DIR@/endpoints", NULL
	};
	const char *srcdir = getenv("top_srcdir");
	struct hrpc_admin_guest g = { 0 };
	struct itest_daemon d;
	struct itest_qemu q;
	hrpc_client *c = NULL;
	int rc;

#ifndef HAVE_LIBVIRT
	tap_skip_all("hostrpcd was built without libvirt (libvirt-dev missing at configure)");
#endif
	if (sh("virsh -q -c " URI " version > /dev/null 2>&1") != 0)
		tap_skip_all("libvirtd does not answer on " URI " (tools/libvirt-setup start)");
	itest_watchdog(120);
	tap_plan(14);
	rc = itest_daemon_start(&d, args);
	if (!tap_ok(rc == 0, "hostrpcd --libvirt " URI " starts"))
		return 1;
	snprintf(domain, sizeof(domain), "hrpc-itest-%ld", (long)getpid());
	snprintf(xml, sizeof(xml), "%s/%s.xml", d.dir, domain);
	snprintf(endpoint, sizeof(endpoint), "%s/endpoints/%s.ivshmem", d.dir, domain);
	atexit(undefine);

	rc = sh("'%s/tools/domain-xml' %s --endpoint-dir '%s/endpoints' > '%s' && "
		"virsh -q -c " URI " define '%s' > /dev/null", srcdir ? srcdir : ".", domain,
		d.dir, xml, xml);
	tap_ok(rc == 0, "virsh define %s (tools/domain-xml)", domain);
	tap_ok(exists_within(endpoint, true, 5000), "its endpoint appears: %s", endpoint);

	/* The file appears at bind(), a moment before listen(): a connect in
	 * between is refused (seen under the sanitizers).  QEMU comes when
	 * libvirt starts the domain, long after its definition. */
	for (int i = 0; i < 100; i++) {
		rc = itest_qemu_attach(endpoint, "fake-qemu", &q, &c);
		if (rc != -ECONNREFUSED)
			break;
		usleep(20000);
	}
	if (rc == 0)
		rc = itest_echo_workload(c, 1, 500, 10);
	tap_ok(rc == 0, "a QEMU attached to it is served (%s)", strerror(-rc));
	rc = itest_admin_find(d.admin_sock, domain, &g);
	tap_ok(rc == 0 && g.transport == HRPC_ADMIN_TRANSPORT_IVSHMEM &&
	       g.state == HRPC_ADMIN_STATE_NEGOTIATED, "admin lists guest %s", domain);

	/* A running domain may be undefined (it becomes transient). */
	undefine();
	tap_ok(itest_log_wait(&d, 5000, domain, "will be removed when QEMU detaches", NULL) &&
	       exists_within(endpoint, true, 0) && itest_echo_workload(c, 2, 200, 2) == 0,
	       "undefined while QEMU is attached: the endpoint stays and the guest is still served");
	hrpc_client_free(c);
	itest_qemu_disconnect(&q);
	tap_ok(exists_within(endpoint, false, 5000) &&
	       itest_log_wait(&d, 2000, "endpoint for guest", domain, "removed", NULL),
	       "QEMU detached: now the endpoint is removed");

	rc = sh("virsh -q -c " URI " define '%s' > /dev/null", xml);
	tap_ok(rc == 0 && exists_within(endpoint, true, 5000), "defined again: the endpoint is back");
	undefine();
	tap_ok(exists_within(endpoint, false, 5000), "undefined while idle: removed at once");
	twins(&d, srcdir);
	domain[0] = 0;

	tap_ok(itest_daemon_alive(&d) && !itest_log_wait(&d, 0, "critical", NULL),
	       "hostrpcd still runs, nothing critical logged");
	if (tap_failed)
		itest_log_dump(&d);
	tap_ok(itest_daemon_stop(&d) == 0, "hostrpcd exits cleanly on SIGTERM");
	return tap_done();
}
