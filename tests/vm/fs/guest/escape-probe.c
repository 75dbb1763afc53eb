/* SPDX-License-Identifier: MIT */
/*
 * escape-probe - a hostile guest program speaking filesystem outsourcing's
 * protocol (Host RPC service 17) itself, through /dev/hostrpc0, with forged
 * requests that try to leave the export:
 *
 *   dotdot    LOOKUP "..", "a/b", "." and an over-long name: EINVAL/ENAMETOOLONG
 *   mountdot  MOUNT /EXPORT/../../.. stays at the export's root (its marker
 *             file is there, the host's /etc is not)
 *   abslink   an absolute symlink to / in the export: MOUNT through it stays
 *             in the export, LOOKUP under the link node is ENOTDIR
 *   rellink   a relative symlink ../../../../.. the same
 *   magic     a symlink to /proc/self/root: MOUNT through it fails
 *   swap      the host swaps a directory and a symlink to / back and forth
 *             while we look up DIR then "etc" under it 2000 times: never found
 *   forged    a node handle of another export's tag and a random one: ESTALE
 *
 * Prints "RESULT NAME PASS|FAIL detail" lines; exit 0.
 * usage: escape-probe EXPORT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hostrpc/chardev.h"
#include "hostrpc/guestfs.h"
#include "hostrpc/msg.h"

static int dev;
static const char *export_name;

static int call(uint16_t proc, const void *req, uint32_t len, void *rep, uint32_t cap)
{
	static uint8_t buf[sizeof(struct hrpc_gfs_cred) + 8192];
	struct hrpc_gfs_cred cred = { 0 };
	struct hrpc_ioc_call c = {
		.argsz = sizeof(c), .service = HRPC_SVC_FS, .proc = proc,
		.req_len = (uint32_t)(sizeof(cred) + len), .req = (uintptr_t)buf,
		.rep = (uintptr_t)rep, .rep_cap = cap, .timeout_ms = 5000,
	};

	memcpy(buf, &cred, sizeof(cred));
	memcpy(buf + sizeof(cred), req, len);
	if (ioctl(dev, HRPC_IOC_CALL, &c) < 0)
		return -errno;
	return c.status;
}

static int do_mount(const char *path, struct hrpc_gfs_entry *e)
{
	struct hrpc_gfs_mount_req m = { 0 };

	m.path_len = (uint16_t)strlen(path);
	memcpy(m.path, path, m.path_len);
	return call(HRPC_GFS_MOUNT, &m, sizeof(m), e, sizeof(*e));
}

static void raw_name(struct hrpc_gfs_name *n, const char *s, size_t len)
{
	memset(n, 0, sizeof(*n));
	n->len = (uint16_t)len;
	memcpy(n->name, s, len < sizeof(n->name) ? len : sizeof(n->name));
}

static int lookup(uint64_t dir, const char *name, struct hrpc_gfs_entry *e)
{
	struct hrpc_gfs_dir_name_req r = { .parent = dir };

	raw_name(&r.name, name, strlen(name));
	return call(HRPC_GFS_LOOKUP, &r, sizeof(r), e, sizeof(*e));
}

static void result(const char *name, int ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void result(const char *name, int ok, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("RESULT %s %s %s\n", name, ok ? "PASS" : "FAIL", msg);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	char path[512];
	struct hrpc_gfs_entry root, e, x;
	int a, b, c, d, rc;

	if (argc != 2) {
		fprintf(stderr, "usage: escape-probe EXPORT\n");
		return 2;
	}
	export_name = argv[1];
	dev = open("/dev/hostrpc0", O_RDWR);
	if (dev < 0) {
		perror("/dev/hostrpc0");
		return 1;
	}
	snprintf(path, sizeof(path), "/%s", export_name);
	rc = do_mount(path, &root);
	if (rc) {
		result("mount", 0, "MOUNT %s: %d", path, rc);
		return 0;
	}
	{
		struct hrpc_gfs_dir_name_req r = { .parent = root.node };
		char longname[300];

		raw_name(&r.name, "..", 2);
		a = call(HRPC_GFS_LOOKUP, &r, sizeof(r), &e, sizeof(e));
		raw_name(&r.name, "a/b", 3);
		b = call(HRPC_GFS_LOOKUP, &r, sizeof(r), &e, sizeof(e));
		raw_name(&r.name, ".", 1);
		c = call(HRPC_GFS_LOOKUP, &r, sizeof(r), &e, sizeof(e));
		memset(longname, 'x', sizeof(longname));
		raw_name(&r.name, longname, 256);
		d = call(HRPC_GFS_LOOKUP, &r, sizeof(r), &e, sizeof(e));
		result("dotdot", a == -EINVAL && b == -EINVAL && c == -EINVAL && d == -ENAMETOOLONG,
		       "'..' %d, 'a/b' %d, '.' %d, 256 bytes %d", a, b, c, d);
	}
	snprintf(path, sizeof(path), "/%s/../../..", export_name);
	a = do_mount(path, &x);
	b = a ? a : lookup(x.node, "marker-inside", &e);
	c = a ? a : lookup(x.node, "etc", &e);
	result("mountdot", a == 0 && b == 0 && c == -ENOENT,
	       "MOUNT %s %d, its marker %d, etc %d", path, a, b, c);
	snprintf(path, sizeof(path), "/%s/abslink", export_name);
	a = do_mount(path, &x);
	b = a ? a : lookup(x.node, "marker-inside", &e);
	c = lookup(root.node, "abslink", &e);
	d = c ? c : lookup(e.node, "etc", &x);
	result("abslink", a == 0 && b == 0 && c == 0 && d == -ENOTDIR,
	       "MOUNT through a link to / %d (the export's marker %d), LOOKUP link %d, under it %d",
	       a, b, c, d);
	snprintf(path, sizeof(path), "/%s/rellink/etc", export_name);
	a = do_mount(path, &x);
	c = lookup(root.node, "rellink", &e);
	d = c ? c : lookup(e.node, "etc", &x);
	result("rellink", a == -ENOENT && c == 0 && d == -ENOTDIR,
	       "MOUNT through ../../../../../etc %d, LOOKUP under the link %d", a, d);
	snprintf(path, sizeof(path), "/%s/magic/etc", export_name);
	a = do_mount(path, &x);
	result("magic", a < 0, "MOUNT through a link to /proc/self/root: %d", a);
	{
		int found = 0, dirs = 0, links = 0, n;

		for (n = 0; n < 2000; n++) {
			if (lookup(root.node, "swap", &e) != 0)
				continue;
			if ((e.attr.mode & 0170000) == 0040000)
				dirs++;
			else
				links++;
			if (lookup(e.node, "etc", &x) == 0)
				found++;
		}
		result("swap", found == 0 && dirs + links > 0,
		       "2000 lookups while the host swaps a directory and a link to /: %d as "
		       "directory, %d as link, host's etc found %d times", dirs, links, found);
	}
	{
		struct hrpc_gfs_node_req r = { .node = root.node ^ (0x5aull << 24) };
		struct hrpc_gfs_attr at;

		a = call(HRPC_GFS_GETATTR, &r, sizeof(r), &at, sizeof(at));
		r.node = 0x123456789abcdefull;
		b = call(HRPC_GFS_GETATTR, &r, sizeof(r), &at, sizeof(at));
		result("forged", a == -ESTALE && b == -ESTALE, "another tag %d, a random handle %d",
		       a, b);
	}
	return 0;
}
