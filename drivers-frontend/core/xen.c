// SPDX-License-Identifier: GPL-2.0
/*
 * The Xen transport: a xenbus frontend for device type "hostrpc" whose
 * backend is hostrpcd in dom0.  The handshake (xenstore keys, limits) is
 * include/hostrpc/xen.h; the channel on the shared pages is ring.h, as on
 * ivshmem.
 *
 * One connection ("conn") is one set of pages, grants and event channels:
 *   backend InitWait   read its versions and max-pages, allocate and grant
 *                      the pages and the directory pages, allocate and bind
 *                      two event channels (ring, reset), write the keys in
 *                      one transaction; Initialised
 *   backend Connected  hrpck_chan_create() + hrpck_chan_register() (attach
 *                      waits for READY as on ivshmem); Connected
 *   backend Closing, Closed or gone, or remove()
 *                      tear down in reverse; Closed
 * A backend that comes back (hostrpcd restarted) and offers InitWait again
 * gets a new connection with fresh pages, whatever state we were in.
 *
 * All of it runs from probe(), remove() and the otherend watch, which the
 * xenbus core serialises (remove() unregisters the watch first, waiting for
 * a callback in progress), so the device needs no lock of its own.
 *
 * Memory: one alloc_page() per channel page, vmap()ed into one virtually
 * contiguous range (8 MiB of physically contiguous memory is not to be had
 * in a running guest).  Each page is granted on its own, so each can be
 * given back on its own when the channel's last reference goes (open files
 * and bulk buffers keep it after remove(), as on ivshmem): a page dom0
 * still maps is freed only once it unmaps it (conn_free()), so a backend
 * that is slow to unmap, or never does, costs memory, never a page reused
 * under its feet.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>

#include <xen/events.h>
#include <xen/grant_table.h>
#include <xen/page.h>
#include <xen/xen.h>
#include <xen/xenbus.h>

#include <hostrpc/xen.h>

#include "chan.h"

enum { XEN_PORT_RING, XEN_PORT_RESET, XEN_NR_PORTS };

/* A transaction that keeps conflicting is someone else's loop, not ours. */
#define XEN_PUBLISH_TRIES 16
/* How long a release waits for dom0 to unmap before deferring (conn_free). */
#define XEN_UNMAP_WAIT_MS 2000
#define XEN_UNMAP_POLL_MS 10

struct hrpck_xen_conn {
	struct xenbus_device *xdev;	/* holds a device reference */
	domid_t domid;

	/* the channel: pages, their grants, the directory pages */
	unsigned int nr_pages;
	struct page **pages;
	grant_ref_t *refs;
	void *shm;			/* vmap() of pages */
	unsigned int nr_dirs;
	struct page *dirs[HRPC_XEN_MAX_DIRS];
	grant_ref_t dir_refs[HRPC_XEN_MAX_DIRS];

	evtchn_port_t port[XEN_NR_PORTS];
	bool port_alloc[XEN_NR_PORTS];	/* xenbus_free_evtchn() if not bound */
	int irq[XEN_NR_PORTS];
	bool irq_bound[XEN_NR_PORTS];	/* unbind_from_irqhandler() closes the port */
	bool published;			/* our keys are in xenstore */

	/* Set once hrpck_chan_create() succeeded: the channel then owns this
	 * structure and frees it in xen_release().  Read by the ring
	 * interrupt from then on. */
	struct hrpck_chan *chan;

	/* Reset interrupts reach the channel only once it is registered:
	 * one before would re-attach it from the reset work behind
	 * hrpck_chan_register()'s back.  One that came meanwhile is replayed
	 * after it (reset_missed). */
	spinlock_t reset_lock;
	struct hrpck_chan *reset_to;
	bool reset_missed;
};

/* ---- transport operations ---------------------------------------------- */

static void xen_kick(struct hrpck_chan *chan)
{
	struct hrpck_xen_conn *conn = chan->tpriv;

	notify_remote_via_evtchn(conn->port[XEN_PORT_RING]);
}

/* The reset port towards dom0: "this channel is stale, lay out a fresh one". */
static void xen_request_reset(struct hrpck_chan *chan)
{
	struct hrpck_xen_conn *conn = chan->tpriv;

	notify_remote_via_evtchn(conn->port[XEN_PORT_RESET]);
}

/*
 * End the grants of @n pages whose dom0 mapping is gone, and free those
 * pages; return how many dom0 still maps.  A page never granted is freed.
 */
static unsigned int end_unmapped(grant_ref_t *refs, struct page **pages, unsigned int n)
{
	unsigned int i, left = 0;

	for (i = 0; i < n; i++) {
		if (!pages[i])
			continue;
		if (refs[i] != INVALID_GRANT_REF && !gnttab_try_end_foreign_access(refs[i])) {
			left++;
			continue;
		}
		refs[i] = INVALID_GRANT_REF;
		__free_page(pages[i]);
		pages[i] = NULL;
	}
	return left;
}

/* Leave the rest to the kernel: freed once dom0 unmaps them. */
static void end_deferred(grant_ref_t *refs, struct page **pages, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (pages[i])
			gnttab_end_foreign_access(refs[i], pages[i]);
}

/*
 * Free a connection's memory and grants.  Needs no live xenbus device: the
 * channel's last reference may go long after remove().
 *
 * At a close dom0 still maps the pages; it unmaps them once it sees us
 * Closed, which xenbus_frontend_closed() or the xenbus core writes right
 * after conn_close().  With @wait, look again for up to XEN_UNMAP_WAIT_MS
 * before handing what is still mapped to gnttab_end_foreign_access(): the
 * kernel retries deferred grants 10 a second for every driver together
 * (a 2048-page channel: 3.5 minutes of 2048 grant entries held).
 */
static void conn_free(struct hrpck_xen_conn *conn, bool wait)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(XEN_UNMAP_WAIT_MS);
	unsigned int left;

	/* No kernel mapping left when a page is freed. */
	if (conn->shm)
		vunmap(conn->shm);
	if (conn->pages) {
		for (;;) {
			left = end_unmapped(conn->dir_refs, conn->dirs, conn->nr_dirs) +
			       end_unmapped(conn->refs, conn->pages, conn->nr_pages);
			if (!left || !wait || time_after(jiffies, deadline))
				break;
			msleep(XEN_UNMAP_POLL_MS);
		}
		if (left) {
			dev_info(&conn->xdev->dev, "dom%u still maps %u pages: freed when it unmaps them\n",
				 conn->domid, left);
			end_deferred(conn->dir_refs, conn->dirs, conn->nr_dirs);
			end_deferred(conn->refs, conn->pages, conn->nr_pages);
		}
	}
	kvfree(conn->refs);
	kvfree(conn->pages);
	put_device(&conn->xdev->dev);
	kfree(conn);
}

/* Last channel reference gone (process context, hrpck_wq): may wait. */
static void xen_release(struct hrpck_chan *chan)
{
	conn_free(chan->tpriv, true);
}

static const struct hrpck_transport_ops xen_ops = {
	.name = "xen",
	.kick = xen_kick,
	.request_reset = xen_request_reset,
	.release = xen_release,
};

static irqreturn_t xen_ring_irq(int irq, void *data)
{
	struct hrpck_xen_conn *conn = data;
	/* Pairs with the release in conn_attach(): the channel is initialised. */
	struct hrpck_chan *chan = smp_load_acquire(&conn->chan);

	if (chan)
		hrpck_chan_ring_irq(chan);
	return IRQ_HANDLED;
}

static irqreturn_t xen_reset_irq(int irq, void *data)
{
	struct hrpck_xen_conn *conn = data;
	struct hrpck_chan *chan;
	unsigned long flags;

	spin_lock_irqsave(&conn->reset_lock, flags);
	chan = conn->reset_to;
	if (!chan)
		conn->reset_missed = true;
	spin_unlock_irqrestore(&conn->reset_lock, flags);
	/* The channel outlives the binding: conn_close() unbinds first. */
	if (chan)
		hrpck_chan_reset_irq(chan);
	return IRQ_HANDLED;
}

static const struct {
	irq_handler_t handler;
	const char *name;
} xen_ports[XEN_NR_PORTS] = {
	[XEN_PORT_RING] = { xen_ring_irq, HRPCK_CORE_NAME "-ring" },
	[XEN_PORT_RESET] = { xen_reset_irq, HRPCK_CORE_NAME "-reset" },
};

/* ---- what the backend wrote (hostile) ---------------------------------- */

/*
 * A decimal number as hrpc_xen_parse_u32() in include/hostrpc/xen.h takes
 * it: digits only (no sign, no space, no newline), no leading zero but
 * "0", nothing after it.
 */
static int parse_uint(const char *s, size_t len, unsigned int *out)
{
	char buf[11];
	size_t i;

	if (!len || len >= sizeof(buf) || (len > 1 && s[0] == '0'))
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!isdigit(s[i]))
			return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return kstrtouint(buf, 10, out);	/* -ERANGE above UINT_MAX */
}

/*
 * Is @want in the backend's list of versions ("1", "1,2": numbers as
 * parse_uint() takes them, separated by single commas)?  A malformed list
 * is an error, not a "no".
 */
static int versions_has(const char *s, size_t len, unsigned int want, bool *found)
{
	size_t start = 0, i;
	unsigned int v;
	int ret;

	*found = false;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != ',')
			continue;
		ret = parse_uint(s + start, i - start, &v);
		if (ret)
			return ret;
		if (v == want)
			*found = true;
		start = i + 1;
	}
	return 0;
}

static char *read_backend(struct xenbus_device *xdev, const char *key, unsigned int *len)
{
	char *v = xenbus_read(XBT_NIL, xdev->otherend, key, len);

	if (IS_ERR(v))
		return v;
	/* The length is the wire's: a NUL inside ends no string of ours. */
	if (memchr(v, '\0', *len)) {
		kfree(v);
		return ERR_PTR(-EINVAL);
	}
	return v;
}

/*
 * Check the backend's handshake versions and read how many pages it maps;
 * return how many we offer (xen_pages, capped by that), or -errno with
 * @what set.
 */
static int backend_pages(struct xenbus_device *xdev, const char **what)
{
	unsigned int len, max;
	bool found;
	char *v;
	int ret;

	*what = "reading the backend's " HRPC_XS_VERSIONS;
	v = read_backend(xdev, HRPC_XS_VERSIONS, &len);
	if (IS_ERR(v))
		return PTR_ERR(v);
	ret = versions_has(v, len, HRPC_XEN_HANDSHAKE_VERSION, &found);
	kfree(v);
	if (ret)
		return ret;
	if (!found) {
		*what = "the backend does not speak our handshake version";
		return -EPROTONOSUPPORT;
	}

	*what = "reading the backend's " HRPC_XS_MAX_PAGES;
	v = read_backend(xdev, HRPC_XS_MAX_PAGES, &len);
	if (IS_ERR(v))
		return PTR_ERR(v);
	ret = parse_uint(v, len, &max);
	kfree(v);
	if (ret)
		return ret;
	if (max < HRPC_XEN_MIN_PAGES) {
		*what = "the backend's " HRPC_XS_MAX_PAGES " is below our minimum";
		return -ERANGE;
	}
	/* More than we would ever offer is not an error. */
	return min3(max, READ_ONCE(hrpck_xen_pages), HRPC_XEN_MAX_PAGES);
}

/* ---- set-up ------------------------------------------------------------ */

static struct hrpck_xen_conn *conn_new(struct xenbus_device *xdev)
{
	struct hrpck_xen_conn *conn = kzalloc(sizeof(*conn), GFP_KERNEL);
	unsigned int i;

	if (!conn)
		return NULL;
	get_device(&xdev->dev);		/* the channel's parent, until conn_free() */
	conn->xdev = xdev;
	conn->domid = xdev->otherend_id;
	for (i = 0; i < HRPC_XEN_MAX_DIRS; i++)
		conn->dir_refs[i] = INVALID_GRANT_REF;
	spin_lock_init(&conn->reset_lock);
	return conn;
}

/* Allocate, map and grant the channel pages, then the directory pages. */
static int conn_grant(struct hrpck_xen_conn *conn, unsigned int nr_pages)
{
	unsigned int i, d;
	__le32 *dir;
	int ref;

	conn->pages = kvcalloc(nr_pages, sizeof(*conn->pages), GFP_KERNEL);
	conn->refs = kvmalloc_array(nr_pages, sizeof(*conn->refs), GFP_KERNEL);
	if (!conn->pages || !conn->refs)
		return -ENOMEM;
	for (i = 0; i < nr_pages; i++)
		conn->refs[i] = INVALID_GRANT_REF;
	conn->nr_pages = nr_pages;

	/* Zeroed: dom0 sees none of our old data, and guest_state is NONE. */
	for (i = 0; i < nr_pages; i++) {
		conn->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!conn->pages[i])
			return -ENOMEM;
	}
	conn->shm = vmap(conn->pages, nr_pages, VM_MAP, PAGE_KERNEL);
	if (!conn->shm)
		return -ENOMEM;
	for (i = 0; i < nr_pages; i++) {
		ref = gnttab_grant_foreign_access(conn->domid,
						  xen_page_to_gfn(conn->pages[i]), 0);
		if (ref < 0)
			return ref;
		conn->refs[i] = ref;
	}

	for (d = 0; d < HRPC_XEN_DIRS(nr_pages); d++) {
		/* Not __GFP_HIGHMEM: page_address() below. */
		conn->dirs[d] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!conn->dirs[d])
			return -ENOMEM;
		conn->nr_dirs = d + 1;
		dir = page_address(conn->dirs[d]);
		for (i = 0; i < HRPC_XEN_REFS_PER_DIR &&
			    d * HRPC_XEN_REFS_PER_DIR + i < nr_pages; i++)
			dir[i] = cpu_to_le32(conn->refs[d * HRPC_XEN_REFS_PER_DIR + i]);
		/* dom0 only reads the directory. */
		ref = gnttab_grant_foreign_access(conn->domid,
						  xen_page_to_gfn(conn->dirs[d]), 1);
		if (ref < 0)
			return ref;
		conn->dir_refs[d] = ref;
	}
	return 0;
}

/* Two unbound ports for dom0, each bound to its interrupt handler here. */
static int conn_ports(struct hrpck_xen_conn *conn, const char **what)
{
	int i, ret;

	for (i = 0; i < XEN_NR_PORTS; i++) {
		ret = xenbus_alloc_evtchn(conn->xdev, &conn->port[i]);
		if (ret) {
			*what = NULL;	/* xenbus_alloc_evtchn() reported it */
			return ret;
		}
		conn->port_alloc[i] = true;
		ret = bind_evtchn_to_irqhandler(conn->port[i], xen_ports[i].handler, 0,
						xen_ports[i].name, conn);
		if (ret < 0) {
			*what = "binding an event channel";
			return ret;
		}
		conn->irq[i] = ret;
		conn->irq_bound[i] = true;
	}
	return 0;
}

/* Everything the backend needs, in one transaction. */
static int conn_publish(struct hrpck_xen_conn *conn, const char **what)
{
	const char *node = conn->xdev->nodename;
	char key[sizeof(HRPC_XS_DIR_REF) + 10];
	struct xenbus_transaction xbt;
	unsigned int tries = 0, i;
	int ret;

again:
	*what = "starting a xenstore transaction";
	ret = xenbus_transaction_start(&xbt);
	if (ret)
		return ret;
	ret = xenbus_printf(xbt, node, HRPC_XS_VERSION, "%u", HRPC_XEN_HANDSHAKE_VERSION);
	if (!ret)
		ret = xenbus_printf(xbt, node, HRPC_XS_NR_PAGES, "%u", conn->nr_pages);
	for (i = 0; !ret && i < conn->nr_dirs; i++) {
		snprintf(key, sizeof(key), HRPC_XS_DIR_REF "%u", i);
		ret = xenbus_printf(xbt, node, key, "%u", conn->dir_refs[i]);
	}
	if (!ret)
		ret = xenbus_printf(xbt, node, HRPC_XS_EVTCHN, "%u",
				    conn->port[XEN_PORT_RING]);
	if (!ret)
		ret = xenbus_printf(xbt, node, HRPC_XS_EVTCHN_RESET, "%u",
				    conn->port[XEN_PORT_RESET]);
	if (ret) {
		xenbus_transaction_end(xbt, 1);
		*what = "writing the connection keys";
		return ret;
	}
	ret = xenbus_transaction_end(xbt, 0);
	if (ret == -EAGAIN && ++tries < XEN_PUBLISH_TRIES)
		goto again;
	if (ret) {
		*what = "ending a xenstore transaction";
		return ret;
	}
	conn->published = true;
	return 0;
}

/* Take our keys out again, so that no backend reads refs we ended. */
static void conn_unpublish(struct hrpck_xen_conn *conn)
{
	const char *node = conn->xdev->nodename;
	char key[sizeof(HRPC_XS_DIR_REF) + 10];
	unsigned int i;

	/* Best effort: the directory may be gone with the device. */
	xenbus_rm(XBT_NIL, node, HRPC_XS_EVTCHN_RESET);
	xenbus_rm(XBT_NIL, node, HRPC_XS_EVTCHN);
	for (i = 0; i < conn->nr_dirs; i++) {
		snprintf(key, sizeof(key), HRPC_XS_DIR_REF "%u", i);
		xenbus_rm(XBT_NIL, node, key);
	}
	xenbus_rm(XBT_NIL, node, HRPC_XS_NR_PAGES);
	xenbus_rm(XBT_NIL, node, HRPC_XS_VERSION);
}

/*
 * Tear down the current connection, in the reverse order of set-up; any
 * half-built state is fine.  The pages stay until the channel's last
 * reference goes (open files, bulk buffers): xen_release().
 */
static void conn_close(struct xenbus_device *xdev)
{
	struct hrpck_xen_conn *conn = dev_get_drvdata(&xdev->dev);
	struct hrpck_chan *chan;
	int i;

	if (!conn)
		return;
	dev_set_drvdata(&xdev->dev, NULL);
	chan = conn->chan;
	/* BYE, calls fail, /dev/hostrpcN goes; needs the ring interrupt. */
	if (chan)
		hrpck_chan_destroy(chan);
	for (i = XEN_NR_PORTS - 1; i >= 0; i--) {
		/* Waits for a handler in progress; closes the port. */
		if (conn->irq_bound[i])
			unbind_from_irqhandler(conn->irq[i], conn);
		else if (conn->port_alloc[i])
			xenbus_free_evtchn(xdev, conn->port[i]);
	}
	if (conn->published)
		conn_unpublish(conn);
	if (chan)
		hrpck_chan_put(chan);	/* xen_release() frees conn */
	else
		conn_free(conn, false);	/* xenwatch: dom0 waits for our Closed */
}

/* Backend in InitWait: offer it a fresh connection, then Initialised. */
static void conn_offer(struct xenbus_device *xdev)
{
	struct hrpck_xen_conn *conn;
	const char *what = "allocating the connection";
	int nr_pages, ret;

	conn = conn_new(xdev);
	if (!conn) {
		ret = -ENOMEM;
		goto err;
	}
	dev_set_drvdata(&xdev->dev, conn);

	nr_pages = backend_pages(xdev, &what);
	if (nr_pages < 0) {
		ret = nr_pages;
		goto err;
	}
	what = "allocating and granting the channel pages";
	ret = conn_grant(conn, nr_pages);
	if (ret)
		goto err;
	ret = conn_ports(conn, &what);
	if (ret)
		goto err;
	ret = conn_publish(conn, &what);
	if (ret)
		goto err;
	ret = xenbus_switch_state(xdev, XenbusStateInitialised);
	if (ret) {
		what = NULL;		/* xenbus_switch_state() reported it */
		goto err;
	}
	dev_dbg(&xdev->dev, "offered %u pages to dom%u, ports %u/%u\n",
		conn->nr_pages, conn->domid, conn->port[XEN_PORT_RING],
		conn->port[XEN_PORT_RESET]);
	return;

err:
	conn_close(xdev);
	/* Closing, with the reason in xenstore: the backend answers it. */
	if (what)
		xenbus_dev_fatal(xdev, ret, "%s", what);
	else
		xenbus_switch_state(xdev, XenbusStateClosing);
}

/* Backend Connected (mapped, bound, channel READY): attach, then Connected. */
static void conn_attach(struct xenbus_device *xdev, struct hrpck_xen_conn *conn)
{
	struct hrpck_chan *chan;
	bool missed;
	int ret;

	chan = hrpck_chan_create(&xdev->dev, &xen_ops, conn, conn->shm,
				 (u64)conn->nr_pages * HRPC_XEN_PAGE);
	if (IS_ERR(chan)) {
		ret = PTR_ERR(chan);
		goto err;
	}
	/* Resets until now are covered by the attach in register. */
	spin_lock_irq(&conn->reset_lock);
	conn->reset_missed = false;
	spin_unlock_irq(&conn->reset_lock);
	/* Release: the ring interrupt sees an initialised channel. */
	smp_store_release(&conn->chan, chan);

	/* Waits (attach_timeout_ms at most) for READY and the HELLO.  A
	 * failed attach is retried at the next reset, as on ivshmem. */
	ret = hrpck_chan_register(chan);
	if (ret)
		goto err;

	spin_lock_irq(&conn->reset_lock);
	conn->reset_to = chan;
	missed = conn->reset_missed;
	spin_unlock_irq(&conn->reset_lock);
	if (missed)
		hrpck_chan_reset_irq(chan);

	ret = xenbus_switch_state(xdev, XenbusStateConnected);
	if (ret)
		return;		/* reported; the backend will close */
	dev_info(&xdev->dev, "dom%u maps %u pages (%u KiB), ports %u/%u, /dev/%s\n",
		 conn->domid, conn->nr_pages, conn->nr_pages * (HRPC_XEN_PAGE / 1024),
		 conn->port[XEN_PORT_RING], conn->port[XEN_PORT_RESET], chan->misc_name);
	return;

err:
	conn_close(xdev);
	xenbus_dev_fatal(xdev, ret, "creating the channel");
}

/* ---- the xenbus driver ------------------------------------------------- */

static void xen_backend_changed(struct xenbus_device *xdev,
				enum xenbus_state bstate)
{
	struct hrpck_xen_conn *conn = dev_get_drvdata(&xdev->dev);

	dev_dbg(&xdev->dev, "backend %s, we are %s\n", xenbus_strstate(bstate),
		xenbus_strstate(xdev->state));
	switch (bstate) {
	case XenbusStateInitWait:
		/* Offered already; the backend has yet to see Initialised. */
		if (conn && !conn->chan && xdev->state == XenbusStateInitialised)
			break;
		/* We failed (xenbus_dev_fatal): the backend answers that first. */
		if (xdev->state == XenbusStateClosing)
			break;
		/* Anything else is a new backend (hostrpcd restarted, a
		 * restored domain): the old connection is of no use to it. */
		conn_close(xdev);
		conn_offer(xdev);
		break;
	case XenbusStateConnected:
		if (conn && !conn->chan && xdev->state == XenbusStateInitialised)
			conn_attach(xdev, conn);
		break;
	case XenbusStateClosing:
	case XenbusStateClosed:
	case XenbusStateUnknown:	/* the backend directory went away */
		if (!conn && xdev->state == XenbusStateClosed)
			break;
		conn_close(xdev);
		xenbus_frontend_closed(xdev);
		break;
	default:
		break;
	}
}

static int xen_probe(struct xenbus_device *xdev, const struct xenbus_device_id *id)
{
	dev_set_drvdata(&xdev->dev, NULL);
	/* A new frontend (after a module reload the node still says Closed):
	 * the backend offers InitWait to a frontend in Initialising or Closed;
	 * the otherend watch, registered after probe, takes it from there. */
	return xenbus_switch_state(xdev, XenbusStateInitialising);
}

/* The xenbus core unregistered the watch first and writes Closed after. */
static void xen_remove(struct xenbus_device *xdev)
{
	conn_close(xdev);
}

static const struct xenbus_device_id xen_ids[] = {
	{ HRPC_XEN_DEVTYPE },
	{ "" }
};

static struct xenbus_driver xen_driver = {
	.name = HRPCK_CORE_NAME,
	.ids = xen_ids,
	.probe = xen_probe,
	.remove = xen_remove,
	.otherend_changed = xen_backend_changed,
	/* Loading the module waits 30 s, not 5 min, for a backend that is
	 * not there (xenbus' wait_for_devices()). */
	.not_essential = true,
};

MODULE_ALIAS("xen:" HRPC_XEN_DEVTYPE);

static bool xen_registered;

int hrpck_xen_init(void)
{
	int ret;

	/* Not a Xen guest (QEMU/KVM: ivshmem): nothing to do, no error. */
	if (!xen_domain())
		return 0;
	if (PAGE_SIZE != HRPC_XEN_PAGE) {
		pr_info("xen: transport needs %u-byte pages, not registered\n",
			HRPC_XEN_PAGE);
		return 0;
	}
	ret = xenbus_register_frontend(&xen_driver);
	if (ret)
		return ret;
	xen_registered = true;
	return 0;
}

void hrpck_xen_exit(void)
{
	if (xen_registered)
		xenbus_unregister_driver(&xen_driver);
	xen_registered = false;
}
