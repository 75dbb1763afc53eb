/* SPDX-License-Identifier: MIT */
/*
 * test-libvirt-domains - hostrpcd's libvirt follower: which <shmem>
 * devices of a domain XML become endpoints (and which are refused), and
 * the live path through libvirt's test driver: defining a domain creates
 * its endpoint, redefining without the device removes it, undefining
 * removes everything.  Two domains naming one endpoint path: the second is
 * refused, undefining it leaves the first one's endpoint alone, and the
 * path passes to it only once the first lets go.
 */
#include "config.h"

#include <string.h>

#include <libvirt/libvirt.h>

#include "hostrpc/daemon/libvirt-domains.h"
#include "tests/tap.h"

#define DIR "/run/hostrpc/ivshmem"

static const char *shmem(const char *model, const char *path)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
		 "<domain type='qemu'><name>g</name><devices>"
		 "<shmem name='hostrpc'><model type='%s'/><size unit='M'>8</size>"
		 "<server path='%s'/><msi vectors='2' ioeventfd='on'/></shmem>"
		 "</devices></domain>", model, path);
	return buf;
}

static int count(const char *xml)
{
	g_autoptr(GError) err = NULL;
	GPtrArray *p = NULL;
	int n;

	if (!hrpcd_domain_xml_endpoints(xml, DIR "/", &p, &err))
		return -1;
	n = (int)p->len;
	g_ptr_array_unref(p);
	return n;
}

/* ---- live: libvirt test driver -------------------------------------------- */

static GPtrArray *added, *removed;

static void on_add(const char *dom, const char *path, gpointer u)
{
	g_ptr_array_add(added, g_strdup_printf("%s %s", dom, path));
}

static void on_remove(const char *dom, const char *path, gpointer u)
{
	g_ptr_array_add(removed, g_strdup_printf("%s %s", dom, path));
}

static gboolean wait_for(GPtrArray *a, guint n)
{
	gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

	while (a->len < n && g_get_monotonic_time() < end)
		g_main_context_iteration(NULL, FALSE), g_usleep(1000);
	return a->len >= n;
}

static const char *test_domain(gboolean with_shmem)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
		 "<domain type='test'><name>hrpc-guest</name><uuid>6a1f3b3e-1d2c-4c55-9a35-1b2c3d4e5f60</uuid><memory>65536</memory>"
		 "<os><type>hvm</type></os><devices>%s</devices></domain>",
		 with_shmem ? "<shmem name='hostrpc'><model type='ivshmem-doorbell'/>"
			      "<size unit='M'>8</size><server path='" DIR "/hrpc-guest.ivshmem'/>"
			      "<msi vectors='2' ioeventfd='on'/></shmem>" : "");
	return buf;
}

static const char *named_domain(const char *name, int uuid_tail, const char *file)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
		 "<domain type='test'><name>%s</name><uuid>6a1f3b3e-1d2c-4c55-9a35-%012d</uuid>"
		 "<memory>65536</memory><os><type>hvm</type></os><devices>"
		 "<shmem name='hostrpc'><model type='ivshmem-doorbell'/><size unit='M'>8</size>"
		 "<server path='" DIR "/%s'/><msi vectors='2' ioeventfd='on'/></shmem>"
		 "</devices></domain>", name, uuid_tail, file);
	return buf;
}

static gboolean has(GPtrArray *a, const char *entry)
{
	for (guint i = 0; i < a->len; i++)
		if (!strcmp(g_ptr_array_index(a, i), entry))
			return TRUE;
	return FALSE;
}

/* Events arrive in order: once a fresh domain's endpoint is added, every
 * update before it has been applied. */
static gboolean sync_events(virConnectPtr conn)
{
	static int n;
	char name[32], file[48];
	g_autofree char *entry = NULL;
	virDomainPtr dom;
	gboolean ok;

	n++;
	snprintf(name, sizeof(name), "hrpc-sync-%d", n);
	snprintf(file, sizeof(file), "sync-%d.ivshmem", n);
	dom = virDomainDefineXML(conn, named_domain(name, 900 + n, file));
	entry = g_strdup_printf("%s " DIR "/%s", name, file);
	ok = FALSE;
	for (gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
	     dom && !(ok = has(added, entry)) && g_get_monotonic_time() < end;)
		g_main_context_iteration(NULL, FALSE), g_usleep(1000);
	if (dom) {
		virDomainUndefine(dom);
		virDomainFree(dom);
	}
	return ok;
}

static void shared_path(virConnectPtr conn)
{
	const char *a_entry = "hrpc-a " DIR "/shared.ivshmem", *b_entry = "hrpc-b " DIR "/shared.ivshmem";
	virDomainPtr a, b;

	g_ptr_array_set_size(added, 0);
	g_ptr_array_set_size(removed, 0);
	a = virDomainDefineXML(conn, named_domain("hrpc-a", 1, "shared.ivshmem"));
	b = virDomainDefineXML(conn, named_domain("hrpc-b", 2, "shared.ivshmem"));
	tap_ok(a && b && sync_events(conn) && has(added, a_entry) && !has(added, b_entry),
	       "a second domain naming the same endpoint path is refused");
	if (b) {
		virDomainUndefine(b);
		virDomainFree(b);
	}
	tap_ok(sync_events(conn) && !has(removed, a_entry) && !has(removed, b_entry),
	       "undefining it leaves the first domain's endpoint alone");
	b = virDomainDefineXML(conn, named_domain("hrpc-b", 2, "shared.ivshmem"));
	if (a) {
		virDomainUndefine(a);
		virDomainFree(a);
	}
	tap_ok(b && sync_events(conn) && has(removed, a_entry) && has(added, b_entry),
	       "once the first domain lets go, the path passes to the one still asking");
	if (b) {
		virDomainUndefine(b);
		virDomainFree(b);
	}
	tap_ok(sync_events(conn) && has(removed, b_entry),
	       "and its undefine removes it");
	if (tap_failed) {
		for (guint i = 0; i < added->len; i++)
			tap_diag("added %s", (char *)g_ptr_array_index(added, i));
		for (guint i = 0; i < removed->len; i++)
			tap_diag("removed %s", (char *)g_ptr_array_index(removed, i));
	}
}

int main(void)
{
	g_autoptr(GError) err = NULL;
	HrpcdLibvirt *lv;
	virConnectPtr conn;
	virDomainPtr dom;

	tap_plan(14);
	tap_ok(count(shmem("ivshmem-doorbell", DIR "/g.ivshmem")) == 1, "doorbell shmem in our directory: one endpoint");
	tap_ok(count(shmem("ivshmem-plain", DIR "/g.ivshmem")) == 0, "ivshmem-plain is not ours");
	tap_ok(count(shmem("ivshmem-doorbell", "/tmp/g.ivshmem")) == 0, "a server path outside the endpoint directory is refused");
	tap_ok(count(shmem("ivshmem-doorbell", DIR "/../etc/g.ivshmem")) == 0, "'..' in the path is refused");
	tap_ok(count(shmem("ivshmem-doorbell", DIR "/g.sock")) == 0, "a name without .ivshmem is refused");
	tap_ok(count("<domain><devices><shmem") == -1, "truncated XML is an error, not a crash");

	added = g_ptr_array_new_with_free_func(g_free);
	removed = g_ptr_array_new_with_free_func(g_free);
	conn = virConnectOpen("test:///default");
	if (!conn)
		tap_skip_all("libvirt test driver not available");
	lv = hrpcd_libvirt_new("test:///default", DIR, NULL, on_add, on_remove, NULL, &err);
	tap_ok(lv != NULL, "following test:///default%s%s", err ? ": " : "", err ? err->message : "");
	dom = virDomainDefineXML(conn, test_domain(TRUE));
	tap_ok(dom && wait_for(added, 1) && !strcmp(g_ptr_array_index(added, 0), "hrpc-guest " DIR "/hrpc-guest.ivshmem"),
	       "defining a domain with the device creates its endpoint");
	if (dom)
		virDomainFree(dom);
	dom = virDomainDefineXML(conn, test_domain(FALSE));
	tap_ok(dom && wait_for(removed, 1), "redefining it without the device removes the endpoint");
	if (dom) {
		virDomainFree(dom);
		dom = virDomainDefineXML(conn, test_domain(TRUE));
		wait_for(added, 2);
		virDomainUndefine(dom);
		virDomainFree(dom);
	}
	tap_ok(wait_for(removed, 2) && added->len == 2, "undefining it removes the endpoint again");
	shared_path(conn);
	hrpcd_libvirt_free(lv);
	virConnectClose(conn);
	return tap_done();
}
