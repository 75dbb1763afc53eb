/* SPDX-License-Identifier: MIT */
/* make-seeds conn|sock|gm|gex|client|session DIR - write a few valid
 * inputs: for fuzz-conn a HELLO followed by echo calls, as shm ring bytes
 * and as a vport stream; for fuzz-sock a script of socket calls in its
 * input format; for the host-side targets (fuzz-gm, fuzz-gex, fuzz-client,
 * fuzz-session) valid guest replies and events in theirs. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>

#include "hostrpc/control.h"
#include "hostrpc/echo.h"
#include "hostrpc/guestexec.h"
#include "hostrpc/guestfs.h"
#include "hostrpc/mem.h"
#include "hostrpc/ring.h"
#include "hostrpc/sock.h"
#include "hostrpc/fsstate.h"
#include "hostrpc/migfwd.h"
#include "hostrpc/miglink.h"
#include "hostrpc/sockstate.h"
#include "hostrpc/stats.h"

static size_t rec(uint8_t *out, uint16_t svc, uint16_t proc, const void *p, uint32_t len,
		  uint16_t flags, uint32_t boff, uint32_t blen, uint32_t bcap, int pad)
{
	struct hrpc_msg_hdr h;

	hrpc_msg_init(&h, HRPC_KIND_CALL, svc, proc, 1, len);
	h.flags = flags;
	h.bulk_off = boff;
	h.bulk_len = blen;
	h.bulk_cap = bcap;
	memcpy(out, &h, sizeof(h));
	if (len)
		memcpy(out + sizeof(h), p, len);
	return pad ? HRPC_RECORD_SIZE(len) : sizeof(h) + len;
}

static size_t op(uint8_t *out, uint8_t proc, uint8_t flags, const void *p, uint16_t len)
{
	out[0] = proc;
	out[1] = flags;
	out[2] = (uint8_t)len;
	out[3] = (uint8_t)(len >> 8);
	memcpy(out + 4, p, len);
	return 4u + len;
}

static int write_file(const char *dir, const char *name, const uint8_t *buf, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, n, f) != n)
		return 1;
	return fclose(f) != 0;
}

/* TCP and UDP sockets bound to loopback, a listener, a connect to it, I/O. */
static int sock_seeds(const char *dir)
{
	static uint8_t buf[4096];
	struct hrpc_sock_socket_req tcp = { .family = HRPC_AF_INET, .type = HRPC_SOCK_STREAM };
	struct hrpc_sock_socket_req udp6 = { .family = HRPC_AF_INET6, .type = HRPC_SOCK_DGRAM };
	struct {
		uint64_t handle;
		struct hrpc_sock_addr a;
	} bind = { .a = { .family = HRPC_AF_INET, .addr = { 127, 0, 0, 1 } } };
	struct { uint64_t handle; uint32_t arg, reserved; } hr = { .arg = 16 };
	size_t n = 0;

	n += op(buf + n, HRPC_SOCK_SOCKET, 4, &tcp, sizeof(tcp));
	n += op(buf + n, HRPC_SOCK_BIND, 2 | 4, &bind, sizeof(bind));
	n += op(buf + n, HRPC_SOCK_LISTEN, 2 | 4, &hr, sizeof(hr));
	n += op(buf + n, HRPC_SOCK_GETNAME, 2 | 4, &hr, sizeof(hr));
	n += op(buf + n, HRPC_SOCK_SOCKET, 4, &udp6, sizeof(udp6));
	n += op(buf + n, HRPC_SOCK_POLL, 2 | 4, &hr, sizeof(hr));
	n += op(buf + n, HRPC_SOCK_ACCEPT, 2 | 4, &hr, sizeof(hr));
	n += op(buf + n, HRPC_SOCK_CLOSE, 2 | 4, &hr, sizeof(hr));
	return write_file(dir, "seed-sock", buf, n);
}

/* [kind u8][len u16 LE][bytes]: the chunk format of the host-side targets. */
static size_t chunk(uint8_t *out, uint8_t kind, const void *a, size_t alen, const void *b,
		    size_t blen)
{
	out[0] = kind;
	out[1] = (uint8_t)(alen + blen);
	out[2] = (uint8_t)((alen + blen) >> 8);
	if (alen)
		memcpy(out + 3, a, alen);
	if (blen)
		memcpy(out + 3 + alen, b, blen);
	return 3 + alen + blen;
}

static struct hrpc_gfs_attr file_attr(uint32_t mode)
{
	return (struct hrpc_gfs_attr){ .ino = 12, .size = 5, .blocks = 8, .mode = mode,
				       .nlink = 1, .blksize = 4096 };
}

/* fuzz-gm: a READDIRPLUS listing in two batches, then one of each reply. */
static int gm_seeds(const char *dir)
{
	static uint8_t buf[8192], bulk[2 * sizeof(struct hrpc_gfs_dirent_plus)];
	static const char *names[] = { "a", "b", "..", "c" };
	struct hrpc_gfs_dirent_plus dp[2];
	struct hrpc_gfs_readdir_rep rr = { .count = 2 };
	struct hrpc_gfs_attr a = file_attr(S_IFREG | 0644);
	struct hrpc_gfs_entry root = { .node = 1, .attr = file_attr(S_IFDIR | 0755) };
	struct hrpc_gfs_statfs sf = { .blocks = 100, .bfree = 50, .bavail = 40, .files = 10,
				      .ffree = 5, .bsize = 4096, .namemax = 255 };
	struct hrpc_gfs_open_read_rep orr = { .fh = 7, .size = 5, .eof = 1 };
	struct hrpc_gfs_io_rep ir = { .size = 5 };
	struct hrpc_gfs_xattr_rep xr;
	static const char xl[] = "user.a\0security.capability\0user.b";
	size_t n = 0;

	for (int batch = 0; batch < 2; batch++) {
		memset(dp, 0, sizeof(dp));
		for (int i = 0; i < 2; i++) {
			const char *nm = names[batch * 2 + i];

			dp[i].d.off = (uint64_t)(batch * 2 + i + 1);
			dp[i].d.ino = 20u + (uint64_t)i;
			dp[i].d.type = nm[0] == '.' ? 4 : 8;
			dp[i].d.name.len = (uint16_t)strlen(nm);
			memcpy(dp[i].d.name.name, nm, strlen(nm));
			if (nm[0] != '.') {
				dp[i].entry.node = 100u + (uint64_t)(batch * 2 + i);
				dp[i].entry.attr = a;
			}
		}
		rr.eof = (uint32_t)batch;
		memcpy(bulk, dp, sizeof(dp));
		n += chunk(buf + n, 0 | 8 | 64 | (batch ? 0 : 16), &rr, sizeof(rr), bulk, sizeof(bulk));
	}
	n += chunk(buf + n, 1 | 8, &a, sizeof(a), NULL, 0);
	n += chunk(buf + n, 2, "target", 6, NULL, 0);
	n += chunk(buf + n, 3, &sf, sizeof(sf), NULL, 0);
	n += chunk(buf + n, 4 | 8, &orr, sizeof(orr), "hello", 5);
	n += chunk(buf + n, 5 | 8, &ir, sizeof(ir), "hello", 5);
	xr = (struct hrpc_gfs_xattr_rep){ .size = sizeof(xl) };
	n += chunk(buf + n, 6 | 16, &xr, sizeof(xr), xl, sizeof(xl));
	n += chunk(buf + n, 7, &root, sizeof(root), NULL, 0);
	return write_file(dir, "seed-gm", buf, n);
}

#define GEX_SEED_HANDLE 0x1122334455667788ull

/* fuzz-fss: one call of its script, credentials first (fuzz-fss.c). */
static size_t fss_call(uint8_t *out, uint8_t proc, uint32_t uid, const void *p, uint16_t len,
		       const void *bulk, uint16_t blen)
{
	struct hrpc_gfs_cred c = { .uid = uid, .gid = uid };
	uint16_t total = (uint16_t)(sizeof(c) + len);

	out[0] = proc;
	out[1] = (uint8_t)total;
	out[2] = (uint8_t)(total >> 8);
	out[3] = (uint8_t)blen;
	out[4] = (uint8_t)(blen >> 8);
	memcpy(out + 5, &c, sizeof(c));
	memcpy(out + 5 + sizeof(c), p, len);
	if (blen)
		memcpy(out + 5 + total, bulk, blen);
	return 5u + total + blen;
}

static void fss_name(struct hrpc_gfs_name *n, const char *s)
{
	memset(n, 0, sizeof(*n));
	n->len = (uint16_t)strlen(s);
	memcpy(n->name, s, n->len);
}

/* fuzz-fss: mount, look up, open, read, create, write, mkdir, list,
 * xattrs, rename, link, access, unlink, as root and as uid 1000; and a
 * MOUNT through a symlink that leads out.  In the harness a handle field
 * below 32 is the handle that many replies ago (0: the root). */
static size_t fss_script(uint8_t *buf);
static size_t fs_node(uint8_t *out, uint64_t h, uint16_t type, const char *path);

static int fss_seeds(const char *dir)
{
	static uint8_t buf[32768];

	return write_file(dir, "seed-fss", buf, fss_script(buf));
}

/* fuzz-fsservice: [mode][tlen u16][table] then fuzz-fss's calls; the
 * exports are srv/ and up/, so fss_script's MOUNTs of /srv and /up name
 * them.  One input without a table, one with a table of the srv export's
 * root and d/ (the service's tag 0). */
static int fsservice_seeds(const char *dir)
{
	static uint8_t buf[32768];
	struct hrpc_fs_mig_table t = { .magic = HRPC_FS_MIG_MAGIC, .nserv = 1 };
	struct hrpc_fs_mig_server sv = { .export_name = "srv", .tag = 0, .nnodes = 2 };
	size_t n, tl;

	buf[0] = 0;
	buf[1] = buf[2] = 0;
	n = 3 + fss_script(buf + 3);
	if (write_file(dir, "seed-fsservice", buf, n))
		return 1;
	tl = sizeof(t) + sizeof(sv);
	tl += fs_node(buf + 3 + tl, 0, 4, "");
	tl += fs_node(buf + 3 + tl, 1, 4, "d");
	t.size = tl;
	memcpy(buf + 3, &t, sizeof(t));
	memcpy(buf + 3 + sizeof(t), &sv, sizeof(sv));
	buf[0] = 1;
	buf[1] = (uint8_t)tl;
	buf[2] = (uint8_t)(tl >> 8);
	n = 3 + tl + fss_script(buf + 3 + tl);
	return write_file(dir, "seed-fsservice-table", buf, n);
}

static size_t fss_script(uint8_t *buf)
{
	static struct hrpc_gfs_mount_req m;
	struct hrpc_gfs_dir_name_req dn = { .parent = 0 };
	struct hrpc_gfs_open_req o = { .node = 1, .flags = 2 };
	struct hrpc_gfs_io_req io = { .fh = 2, .size = 5 };
	struct hrpc_gfs_make_req mk = { .parent = 0, .mode = 0644, .umask = 022, .flags = 2 };
	struct hrpc_gfs_node_req nr = { .node = 1 };
	struct hrpc_gfs_xattr_req x = { .node = 1, .size = 1 };
	struct hrpc_gfs_rename_req rn = { .olddir = 0, .newdir = 0 };
	struct hrpc_gfs_link_req ln = { .node = 1, .newparent = 0 };
	struct hrpc_gfs_access_req ac = { .node = 1, .mask = HRPC_GFS_ACCESS_R };
	struct hrpc_gfs_readdir_req rd = { .flags = 0 };
	size_t n = 0;

	m.path_len = 4;
	memcpy(m.path, "/srv", 4);
	n += fss_call(buf + n, HRPC_GFS_MOUNT, 0, &m, sizeof(m), NULL, 0);          /* h0 root */
	fss_name(&dn.name, "f");
	n += fss_call(buf + n, HRPC_GFS_LOOKUP, 0, &dn, sizeof(dn), NULL, 0);       /* h1 f */
	n += fss_call(buf + n, HRPC_GFS_OPEN, 0, &o, sizeof(o), NULL, 0);           /* h2 fh */
	n += fss_call(buf + n, HRPC_GFS_READ, 0, &io, sizeof(io), NULL, 0);
	n += fss_call(buf + n, HRPC_GFS_WRITE, 0, &io, sizeof(io), "world", 5);
	n += fss_call(buf + n, HRPC_GFS_GETATTR, 0, &nr, sizeof(nr), NULL, 0);
	fss_name(&mk.name, "g");
	n += fss_call(buf + n, HRPC_GFS_CREATE, 0, &mk, sizeof(mk), NULL, 0);      /* h3 g, h4 fh */
	mk.mode = 0755;
	mk.flags = 0;
	fss_name(&mk.name, "sub");
	n += fss_call(buf + n, HRPC_GFS_MKDIR, 0, &mk, sizeof(mk), NULL, 0);        /* h5 sub */
	nr.node = 0;
	n += fss_call(buf + n, HRPC_GFS_OPENDIR, 0, &nr, sizeof(nr), NULL, 0);      /* h6 dir fh */
	rd.fh = 6;
	n += fss_call(buf + n, HRPC_GFS_READDIR, 0, &rd, sizeof(rd), NULL, 0);
	fss_name(&x.name, "user.k");
	n += fss_call(buf + n, HRPC_GFS_SETXATTR, 0, &x, sizeof(x), "v", 1);
	n += fss_call(buf + n, HRPC_GFS_GETXATTR, 0, &x, sizeof(x), NULL, 0);
	fss_name(&rn.oldname, "g");
	fss_name(&rn.newname, "h");
	n += fss_call(buf + n, HRPC_GFS_RENAME, 0, &rn, sizeof(rn), NULL, 0);
	fss_name(&ln.newname, "f2");
	n += fss_call(buf + n, HRPC_GFS_LINK, 0, &ln, sizeof(ln), NULL, 0);
	n += fss_call(buf + n, HRPC_GFS_ACCESS, 1000, &ac, sizeof(ac), NULL, 0);
	fss_name(&dn.name, "f2");
	n += fss_call(buf + n, HRPC_GFS_UNLINK, 0, &dn, sizeof(dn), NULL, 0);
	fss_name(&dn.name, "etc");
	n += fss_call(buf + n, HRPC_GFS_LOOKUP, 0, &dn, sizeof(dn), NULL, 0);
	memset(&m, 0, sizeof(m));
	m.path_len = 3;
	memcpy(m.path, "/up", 3);
	n += fss_call(buf + n, HRPC_GFS_MOUNT, 0, &m, sizeof(m), NULL, 0);
	return n;
}

/* fuzz-gex: output on both streams, stdin room, the exit. */
static int gex_seeds(const char *dir)
{
	static uint8_t buf[1024];
	struct hrpc_gex_output o = { .handle = GEX_SEED_HANDLE, .stream = HRPC_GEX_STDOUT, .size = 6 };
	struct hrpc_gex_stdin_room room = { .handle = GEX_SEED_HANDLE, .room = 4096 };
	struct hrpc_gex_status st = { .handle = GEX_SEED_HANDLE, .state = HRPC_GEX_EXITED, .code = 3 };
	size_t n = 0;

	n += chunk(buf + n, HRPC_GEX_EV_OUTPUT, &o, sizeof(o), "hello\n", 6);
	o.stream = HRPC_GEX_STDERR;
	n += chunk(buf + n, HRPC_GEX_EV_OUTPUT, &o, sizeof(o), "oops!\n", 6);
	n += chunk(buf + n, HRPC_GEX_EV_STDIN, &room, sizeof(room), NULL, 0);
	n += chunk(buf + n, HRPC_GEX_EV_EXIT, &st, sizeof(st), NULL, 0);
	return write_file(dir, "seed-gex", buf, n);
}

/* fuzz-client and fuzz-session share a script: a call, its reply with a
 * bulk (the call's id put in by the harness), an event, processing. */
static int peer_seeds(const char *dir, const char *name, uint16_t ev_service)
{
	static uint8_t buf[2048];
	struct hrpc_msg_hdr h;
	uint8_t body[16 + 64], call[2] = { 4, 1 };
	size_t n = 1;

	buf[0] = 0;
	n += chunk(buf + n, 2, call, sizeof(call), NULL, 0);
	hrpc_msg_init(&h, HRPC_KIND_REPLY, HRPC_SVC_GUEST_FS, 1, 0, 16);
	h.flags = HRPC_MSG_F_BULK;
	memset(body, 'r', sizeof(body));
	/* bits: 4 valid magic, 8 the call's id (call 0), 16 lengths from the body */
	n += chunk(buf + n, 1 | 4 | 8 | 16, &h, sizeof(h), body, 32);
	n += chunk(buf + n, 3, NULL, 0, NULL, 0);
	hrpc_msg_init(&h, HRPC_KIND_EVENT, ev_service, HRPC_GEX_EV_OUTPUT, 0, sizeof(body));
	n += chunk(buf + n, 1 | 4 | 16, &h, sizeof(h), body, sizeof(body));
	n += chunk(buf + n, 3, NULL, 0, NULL, 0);
	if (write_file(dir, name, buf, n))
		return 1;
	/* fuzz-client: the same over shared memory (first byte, bit 1). */
	buf[0] = 2;
	return strcmp(name, "seed-client") ? 0 : write_file(dir, "seed-client-shm", buf, n);
}

/* fuzz-sockring: a guest that sends and reads honestly (a stream script
 * and a datagram script; op byte, then a 4-byte argument). */
static int sockring_seeds(const char *dir)
{
	static const struct { uint8_t op; uint32_t arg; } script[] = {
		{ 0, 100 }, { 3, 60 }, { 4, 1 << 30 }, { 5, 300 }, { 1, 300 },
		{ 6, 0 }, { 1, 300 + 8192 }, { 0, 5000 }, { 4, 4097 }, { 3, 9000 },
	};
	uint8_t buf[1 + sizeof(script) / sizeof(script[0]) * 5];

	for (int dgram = 0; dgram < 2; dgram++) {
		size_t n = 0;

		buf[n++] = (uint8_t)dgram;
		for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
			buf[n++] = script[i].op;
			memcpy(buf + n, &script[i].arg, 4);
			n += 4;
		}
		if (write_file(dir, dgram ? "seed-sockring-dgram" : "seed-sockring-stream", buf, n))
			return 1;
	}
	return 0;
}

/* fuzz-sockstate: an honest image of an IPv4 and an IPv6 connection with
 * a few bytes queued each way. */
static int sockstate_seeds(const char *dir)
{
	uint8_t buf[sizeof(struct hrpc_tcp_image) + 24];

	for (int v6 = 0; v6 < 2; v6++) {
		struct hrpc_tcp_image h;

		memset(&h, 0, sizeof(h));
		h.magic = HRPC_TCP_IMAGE_MAGIC;
		h.size = sizeof(buf);
		h.state = HRPC_TCP_ESTABLISHED;
		h.local.family = h.peer.family = v6 ? HRPC_AF_INET6 : HRPC_AF_INET;
		h.local.port = 40000;
		h.peer.port = 80;
		h.local.addr[0] = h.peer.addr[0] = v6 ? 0xfd : 10;
		h.peer.addr[3] = 1;
		h.snd_seq = 1000;
		h.rcv_seq = 5000;
		h.inq_len = 8;
		h.outq_len = 16;
		h.unsq_len = 4;
		h.mss = 1460;
		h.opts = HRPC_TCP_OPT_ALL;
		h.snd_wscale = h.rcv_wscale = 7;
		h.snd_wnd = h.rcv_wnd = h.max_window = 65535;
		memcpy(buf, &h, sizeof(h));
		memset(buf + sizeof(h), 'q', 24);
		if (write_file(dir, v6 ? "seed-sockstate-6" : "seed-sockstate-4", buf, sizeof(buf)))
			return 1;
	}
	return 0;
}

/* fuzz-socktable: an honest table of a listener, a connected UDP socket
 * and a TCP connection with its image, all on loopback. */
static int socktable_seeds(const char *dir)
{
	uint8_t buf[sizeof(struct hrpc_sock_mig_table) + 3 * sizeof(struct hrpc_sock_mig) +
		    sizeof(struct hrpc_tcp_image) + 24];
	struct hrpc_sock_mig_table t = { .magic = HRPC_SOCK_MIG_MAGIC, .nsock = 3,
					 .size = sizeof(buf), .version = 1, .credit = 16 };
	struct hrpc_sock_mig r[3];
	struct hrpc_tcp_image h;
	uint8_t *p = buf;

	memset(r, 0, sizeof(r));
	for (int i = 0; i < 3; i++) {
		r[i].handle = ((uint64_t)7 << 32) | (uint64_t)i;
		r[i].family = HRPC_AF_INET;
		r[i].local.family = HRPC_AF_INET;
		r[i].local.addr[0] = 127;
		r[i].local.addr[3] = 1;
	}
	r[0].state = HRPC_SOCK_MIG_LISTEN;
	r[0].type = HRPC_SOCK_STREAM;
	r[0].local.port = 39100;
	r[0].backlog = 16;
	r[0].nopt = 1;
	r[0].opt[0].level = 1;   /* SOL_SOCKET, SO_REUSEADDR */
	r[0].opt[0].name = 2;
	r[0].opt[0].len = 4;
	r[0].opt[0].val[0] = 1;
	r[1].state = HRPC_SOCK_MIG_CONNECTED;
	r[1].type = HRPC_SOCK_DGRAM;
	r[1].local.port = 39101;
	r[1].peer = r[1].local;
	r[1].peer.port = 39102;
	r[2].state = HRPC_SOCK_MIG_CONNECTED;
	r[2].type = HRPC_SOCK_STREAM;
	r[2].local.port = 39103;
	r[2].peer = r[2].local;
	r[2].peer.port = 39100;
	r[2].tcp_len = sizeof(h) + 24;
	memset(&h, 0, sizeof(h));
	h.magic = HRPC_TCP_IMAGE_MAGIC;
	h.size = sizeof(h) + 24;
	h.state = HRPC_TCP_ESTABLISHED;
	h.local = r[2].local;
	h.peer = r[2].peer;
	h.snd_seq = 1000;
	h.rcv_seq = 5000;
	h.inq_len = 8;
	h.outq_len = 16;
	h.unsq_len = 4;
	h.mss = 1460;
	h.snd_wnd = h.rcv_wnd = h.max_window = 65535;
	memcpy(p, &t, sizeof(t));
	p += sizeof(t);
	memcpy(p, r, sizeof(r));
	p += sizeof(r);
	memcpy(p, &h, sizeof(h));
	memset(p + sizeof(h), 'q', 24);
	if (write_file(dir, "seed-socktable", buf, sizeof(buf)) < 0)
		return -1;
	/* The same listener, and a connection forwarded from a remnant on
	 * another host with its forward image (sockstate.h) and one staying at
	 * the source (no image). */
	{
		uint8_t fbuf[sizeof(struct hrpc_sock_mig_table) + 3 * sizeof(struct hrpc_sock_mig) +
			     sizeof(struct hrpc_sock_fwd_image) + 12];
		struct hrpc_sock_fwd_image fi = { .magic = HRPC_SOCK_FWD_IMAGE_MAGIC,
						  .size = sizeof(fi) + 12, .in_len = 5,
						  .out_len = 7 };

		t.size = sizeof(fbuf);
		r[1] = r[2];
		r[1].handle = ((uint64_t)7 << 32) | 1;
		r[1].flags = HRPC_SOCK_MIG_F_FORWARD;
		r[1].tcp_len = 0;
		r[2].flags = HRPC_SOCK_MIG_F_FORWARD;
		r[2].tcp_len = sizeof(fi) + 12;
		r[2].local.port = 39104;
		p = fbuf;
		memcpy(p, &t, sizeof(t));
		p += sizeof(t);
		memcpy(p, r, sizeof(r));
		p += sizeof(r);
		memcpy(p, &fi, sizeof(fi));
		memset(p + sizeof(fi), 'f', 12);
		return write_file(dir, "seed-socktable-fwd", fbuf, sizeof(fbuf));
	}
}

/* fuzz-miglink: one honest message of each kind, behind its selector byte
 * (0 intro, 1 challenge, 2 proof, 3 frame header and the receiver's limit). */
static int miglink_seeds(const char *dir)
{
	struct hrpc_mig_intro in = { .magic = HRPC_MIG_INTRO_MAGIC, .version = HRPC_MIG_VERSION,
				     .guest = "vm-01.prod_a" };
	struct hrpc_mig_challenge ch = { .magic = HRPC_MIG_CHALLENGE_MAGIC,
					 .version = HRPC_MIG_VERSION };
	struct hrpc_mig_proof pr = { .magic = HRPC_MIG_PROOF_MAGIC };
	struct hrpc_mig_frame fr = { .magic = HRPC_MIG_FRAME_MAGIC, .type = 1, .seq = 3, .len = 4096 };
	uint64_t max = 1u << 20;
	uint8_t buf[1 + sizeof(in)];

	memset(in.nonce, 0x11, sizeof(in.nonce));
	memset(ch.nonce, 0x22, sizeof(ch.nonce));
	memset(ch.proof, 0x33, sizeof(ch.proof));
	memset(pr.proof, 0x44, sizeof(pr.proof));
	buf[0] = 0;
	memcpy(buf + 1, &in, sizeof(in));
	if (write_file(dir, "seed-miglink-intro", buf, 1 + sizeof(in)))
		return 1;
	buf[0] = 1;
	memcpy(buf + 1, &ch, sizeof(ch));
	if (write_file(dir, "seed-miglink-challenge", buf, 1 + sizeof(ch)))
		return 1;
	buf[0] = 2;
	memcpy(buf + 1, &pr, sizeof(pr));
	if (write_file(dir, "seed-miglink-proof", buf, 1 + sizeof(pr)))
		return 1;
	buf[0] = 3;
	memcpy(buf + 1, &fr, sizeof(fr));
	memcpy(buf + 1 + sizeof(fr), &max, sizeof(max));
	return write_file(dir, "seed-miglink-frame", buf, 1 + sizeof(fr) + sizeof(max));
}

/* fuzz-migfwd: scripts of frames ([type - 63][len u16][payload]) an honest
 * peer sends: HELLO, data both objects, acknowledgements, a shutdown, a
 * reset, BYE; the guest moving on (HOLD, RESUME, HOLD again, BYE); and
 * one that ends in a HELD nobody asked for (the forwarder never holds
 * there: a protocol error). */
static size_t fwd_frame(uint8_t *out, uint32_t type, const void *p, uint16_t len)
{
	out[0] = (uint8_t)(type - (HRPC_FWD_HELLO - 1));
	out[1] = (uint8_t)len;
	out[2] = (uint8_t)(len >> 8);
	if (len)
		memcpy(out + 3, p, len);
	return 3u + len;
}

static int migfwd_seeds(const char *dir)
{
	static uint8_t buf[8192];
	struct hrpc_fwd_hello h = { .magic = HRPC_FWD_MAGIC, .version = HRPC_FWD_VERSION,
				    .guest = "g1", .nobj = 2 };
	struct hrpc_fwd_ack a = { .object = 1, .bytes = 100 };
	struct hrpc_fwd_obj o = { .object = 2 };
	struct hrpc_fwd_reset r = { .object = 1, .error = ECONNRESET };
	uint8_t data[8 + 200];
	size_t n = 0;

	memset(data, 'x', sizeof(data));
	n += fwd_frame(buf + n, HRPC_FWD_HELLO, &h, sizeof(h));
	data[0] = 1;
	memset(data + 1, 0, 7);
	n += fwd_frame(buf + n, HRPC_FWD_DATA, data, sizeof(data));
	data[0] = 2;
	n += fwd_frame(buf + n, HRPC_FWD_DATA, data, sizeof(data));
	if (write_file(dir, "seed-migfwd-data", buf, n))
		return 1;
	n += fwd_frame(buf + n, HRPC_FWD_ACK, &a, sizeof(a));
	n += fwd_frame(buf + n, HRPC_FWD_SHUT, &o, sizeof(o));
	n += fwd_frame(buf + n, HRPC_FWD_RESET, &r, sizeof(r));
	if (write_file(dir, "seed-migfwd-all", buf, n))
		return 1;
	n += fwd_frame(buf + n, HRPC_FWD_BYE, NULL, 0);
	if (write_file(dir, "seed-migfwd-bye", buf, n))
		return 1;
	/* The guest's end holds and resumes around data both ways. */
	n = 0;
	n += fwd_frame(buf + n, HRPC_FWD_HELLO, &h, sizeof(h));
	data[0] = 1;
	n += fwd_frame(buf + n, HRPC_FWD_DATA, data, sizeof(data));
	n += fwd_frame(buf + n, HRPC_FWD_ACK, &a, sizeof(a));
	n += fwd_frame(buf + n, HRPC_FWD_HOLD, NULL, 0);
	n += fwd_frame(buf + n, HRPC_FWD_RESUME, NULL, 0);
	data[0] = 2;
	n += fwd_frame(buf + n, HRPC_FWD_DATA, data, sizeof(data));
	n += fwd_frame(buf + n, HRPC_FWD_HOLD, NULL, 0);
	if (write_file(dir, "seed-migfwd-hold", buf, n))
		return 1;
	n += fwd_frame(buf + n, HRPC_FWD_RESUME, NULL, 0);
	n += fwd_frame(buf + n, HRPC_FWD_SHUT, &o, sizeof(o));
	n += fwd_frame(buf + n, HRPC_FWD_BYE, NULL, 0);
	if (write_file(dir, "seed-migfwd-resume", buf, n))
		return 1;
	/* Calls: the peer's own CALL (payload and bulk), an EVENT, and the
	 * answers to the target's two calls under way (ids 1 and 2). */
	{
		struct {
			struct hrpc_fwd_call c;
			uint8_t pl[16], b[8];
		} call = { .c = { .id = 9, .service = 17, .proc = 4, .len = 16, .bulk_len = 8,
				  .bulk_cap = 16 } };
		struct {
			struct hrpc_fwd_event e;
			uint8_t pl[4];
		} ev = { .e = { .service = 17, .proc = 1, .len = 4 } };
		struct {
			struct hrpc_fwd_reply r;
			uint8_t pl[4], b[8];
		} rp = { .r = { .id = 2, .len = 4, .bulk_len = 8 } };
		struct hrpc_fwd_reply r1 = { .id = 1, .status = -ENOENT };

		n = 0;
		n += fwd_frame(buf + n, HRPC_FWD_HELLO, &h, sizeof(h));
		n += fwd_frame(buf + n, HRPC_FWD_CALL, &call, sizeof(call));
		n += fwd_frame(buf + n, HRPC_FWD_EVENT, &ev, sizeof(ev));
		n += fwd_frame(buf + n, HRPC_FWD_REPLY, &r1, sizeof(r1));
		n += fwd_frame(buf + n, HRPC_FWD_REPLY, &rp, sizeof(rp));
		n += fwd_frame(buf + n, HRPC_FWD_BYE, NULL, 0);
		if (write_file(dir, "seed-migfwd-calls", buf, n))
			return 1;
	}
	/* HELD unasked. */
	n = 0;
	n += fwd_frame(buf + n, HRPC_FWD_HELLO, &h, sizeof(h));
	n += fwd_frame(buf + n, HRPC_FWD_DATA, data, sizeof(data));
	n += fwd_frame(buf + n, HRPC_FWD_HELD, NULL, 0);
	return write_file(dir, "seed-migfwd-held", buf, n);
}

/* fuzz-fsstate: [nnodes][nfiles][ro], the root, d, d/f and f open for
 * reading with a read lock, as a source host exports them. */
static size_t fs_node(uint8_t *out, uint64_t h, uint16_t type, const char *path)
{
	struct hrpc_fs_mig_node r = { .handle = h, .nlookup = 1, .type = type,
				      .path_len = (uint16_t)strlen(path) };
	size_t padded = (r.path_len + 7u) & ~7u;

	memcpy(out, &r, sizeof(r));
	memset(out + sizeof(r), 0, padded);
	memcpy(out + sizeof(r), path, r.path_len);
	return sizeof(r) + padded;
}

static int fsstate_seeds(const char *dir)
{
	static uint8_t buf[4096];
	struct hrpc_fs_mig_file f = { .handle = 1ull << 32, .node = 1ull << 32 | 2, .flags = 0,
				      .nlocks = 1, .flock_type = 2 };
	size_t n = 3;

	buf[0] = 3;
	buf[1] = 1;
	buf[2] = 0;
	n += fs_node(buf + n, 1ull << 32 | 0, 4, "");
	n += fs_node(buf + n, 1ull << 32 | 1, 4, "d");
	n += fs_node(buf + n, 1ull << 32 | 2, 8, "d/f");
	f.locks[0].start = 0;
	f.locks[0].end = 10;
	f.locks[0].type = 0;
	memcpy(buf + n, &f, sizeof(f));
	n += sizeof(f);
	if (write_file(dir, "seed-fsstate-tree", buf, n))
		return 1;
	buf[0] = 2;
	buf[1] = 0;
	n = 3;
	n += fs_node(buf + n, 1ull << 32 | 0, 4, "d/e");
	n += fs_node(buf + n, 2ull << 32 | 5, 10, "up");
	return write_file(dir, "seed-fsstate-links", buf, n);
}

/* fuzz-mem: [mode] then [op][len][payload] (tests/fuzz/fuzz-mem.c). */
static size_t mem_op(uint8_t *out, uint8_t op, const void *p, uint8_t len)
{
	out[0] = op;
	out[1] = len;
	if (len)    /* p may be NULL then: memcpy's arguments must not be */
		memcpy(out + 2, p, len);
	return 2u + len;
}

static int mem_seeds(const char *dir)
{
	static uint8_t buf[1024];
	struct hrpc_mem_hello_req he = { .version = HRPC_MEM_VERSION, .bar_size = 32u << 20 };
	struct hrpc_mem_range_req rr = { .first = 0, .count = 1 };
	struct hrpc_mem_pressure pr = { .some_avg10 = 500, .full_avg10 = 100, .free_kb = 1024,
					.avail_kb = 4096, .used_kb = 8192 };
	uint8_t two[2] = { 4, 10 }, five[1] = { 5 }, touch[2] = { 15, 0 }, grant[1] = { 2 };
	uint8_t bal[16] = { 64, 1, 8, 4, 3, 8, 0, 1, 0, 16 };
	size_t n;

	for (int mode = 0; mode < 2; mode++) {
		n = 0;
		buf[n++] = (uint8_t)mode;
		n += mem_op(buf + n, HRPC_MEM_HELLO, &he, sizeof(he));
		n += mem_op(buf + n, HRPC_MEM_STATUS, NULL, 0);
		n += mem_op(buf + n, HRPC_MEM_PIN | 0x40, &rr, sizeof(rr));
		n += mem_op(buf + n, HRPC_MEM_UNPIN | 0x40, &rr, sizeof(rr));
		n += mem_op(buf + n, HRPC_MEM_PRESSURE, &pr, sizeof(pr));
		n += mem_op(buf + n, 9, two, sizeof(two));            /* host reclaims */
		n += mem_op(buf + n, HRPC_MEM_RELEASE | 0x80, &rr, sizeof(rr));
		n += mem_op(buf + n, 9, two, sizeof(two));
		n += mem_op(buf + n, 10, five, sizeof(five));         /* deadline passes */
		n += mem_op(buf + n, 11, touch, sizeof(touch));       /* guest writes */
		n += mem_op(buf + n, 10, five, sizeof(five));
		n += mem_op(buf + n, 8, grant, sizeof(grant));        /* host grants */
		n += mem_op(buf + n, 12, bal, sizeof(bal));           /* balancing */
		n += mem_op(buf + n, HRPC_MEM_RELEASE | 0x40, &rr, sizeof(rr));
		if (write_file(dir, mode ? "seed-mem-adopt" : "seed-mem", buf, n))
			return 1;
	}
	return 0;
}

/* fuzz-xen: [key][len][value] writes of a frontend (tests/fuzz/fuzz-xen.c). */
static size_t xen_kv(uint8_t *out, uint8_t key, const char *v)
{
	size_t l = strlen(v);

	out[0] = key;
	out[1] = (uint8_t)l;
	memcpy(out + 2, v, l);
	return 2 + l;
}

static int xen_seeds(const char *dir)
{
	static uint8_t buf[512];
	static const char *const pages[] = { "2048", "256", "4096" };
	size_t n;

	for (int i = 0; i < 3; i++) {
		char name[32];

		n = 0;
		n += xen_kv(buf + n, 8, "3");
		n += xen_kv(buf + n, 0, "1");
		n += xen_kv(buf + n, 1, pages[i]);
		n += xen_kv(buf + n, 2, "8");
		n += xen_kv(buf + n, 3, "9");
		n += xen_kv(buf + n, 4, "10");
		n += xen_kv(buf + n, 5, "4294967295");
		n += xen_kv(buf + n, 6, "12");
		n += xen_kv(buf + n, 7, "13");
		n += xen_kv(buf + n, 9, i ? "guest-3" : "web-1");
		n += xen_kv(buf + n, 10, "\x40" "8,9");
		snprintf(name, sizeof(name), "seed-xen-%s", pages[i]);
		if (write_file(dir, name, buf, n))
			return 1;
	}
	return 0;
}

/* fuzz-workerctl: [op][len u16][bytes] (tests/fuzz/fuzz-workerctl.c). */
static size_t ctl_op(uint8_t *out, uint8_t op, const void *p, uint16_t len)
{
	out[0] = op;
	out[1] = (uint8_t)len;
	out[2] = (uint8_t)(len >> 8);
	if (len)    /* p may be NULL then: memcpy's arguments must not be */
		memcpy(out + 3, p, len);
	return 3u + len;
}

static int workerctl_seeds(const char *dir)
{
	static uint8_t buf[1024];
	static const char listing[] = "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0tcp 127.0.0.1:80 LISTEN\n";
	static const char mig[] = "\0\0\0\0\2\0\0\0\0\0\0\0\0\0\0\0done";
	uint8_t flags = 1;
	size_t n = 0;

	n += ctl_op(buf + n, 0, &flags, 1);                               /* ask */
	n += ctl_op(buf + n, 1 | 8, listing, sizeof(listing) - 1);        /* its reply */
	n += ctl_op(buf + n, 2, NULL, 0);                                 /* loop */
	n += ctl_op(buf + n, 0 | 8, &flags, 1);                           /* memory */
	n += ctl_op(buf + n, 1 | 16, mig, sizeof(mig) - 1);               /* news */
	n += ctl_op(buf + n, 1 | 8 | 32, listing, sizeof(listing) - 1);   /* too long */
	n += ctl_op(buf + n, 2, NULL, 0);
	n += ctl_op(buf + n, 0, &flags, 1);
	n += ctl_op(buf + n, 4, NULL, 0);                                 /* replaced */
	n += ctl_op(buf + n, 0, &flags, 1);
	n += ctl_op(buf + n, 3, NULL, 0);                                 /* hangs up */
	n += ctl_op(buf + n, 2, NULL, 0);
	n += ctl_op(buf + n, 0, &flags, 1);
	n += ctl_op(buf + n, 2, NULL, 0);
	return write_file(dir, "seed-workerctl", buf, n);
}

int main(int argc, char **argv)
{
	static uint8_t buf[8192];
	struct hrpc_control_hello he = { .min_revision = 1, .max_revision = 1 };
	struct hrpc_echo_source_req sr = { .seed = 1, .len = 64 };

	if (argc != 3) {
		fprintf(stderr, "usage: make-seeds conn|sock|mem|xen|fsservice|workerctl|sockring|sockstate|socktable|miglink|migfwd|fsstate|gm|gex|fss|client|session DIR\n");
		return 2;
	}
	if (!strcmp(argv[1], "sock"))
		return sock_seeds(argv[2]);
	if (!strcmp(argv[1], "gm"))
		return gm_seeds(argv[2]);
	if (!strcmp(argv[1], "mem"))
		return mem_seeds(argv[2]);
	if (!strcmp(argv[1], "xen"))
		return xen_seeds(argv[2]);
	if (!strcmp(argv[1], "fsservice"))
		return fsservice_seeds(argv[2]);
	if (!strcmp(argv[1], "workerctl"))
		return workerctl_seeds(argv[2]);
	if (!strcmp(argv[1], "sockring"))
		return sockring_seeds(argv[2]);
	if (!strcmp(argv[1], "sockstate"))
		return sockstate_seeds(argv[2]);
	if (!strcmp(argv[1], "socktable"))
		return socktable_seeds(argv[2]);
	if (!strcmp(argv[1], "miglink"))
		return miglink_seeds(argv[2]);
	if (!strcmp(argv[1], "migfwd"))
		return migfwd_seeds(argv[2]);
	if (!strcmp(argv[1], "fsstate"))
		return fsstate_seeds(argv[2]);
	if (!strcmp(argv[1], "gex"))
		return gex_seeds(argv[2]);
	if (!strcmp(argv[1], "fss"))
		return fss_seeds(argv[2]);
	if (!strcmp(argv[1], "client"))
		return peer_seeds(argv[2], "seed-client", HRPC_SVC_GUEST_EXEC);
	if (!strcmp(argv[1], "session"))
		return peer_seeds(argv[2], "seed-session", HRPC_SVC_GUEST_EXEC);
	for (int mode = 0; mode < 2; mode++) {
		size_t n = 1 + (mode ? 0 : 8);

		memset(buf, 0, sizeof(buf));
		buf[0] = (uint8_t)mode;
		n += rec(buf + n, HRPC_SVC_CONTROL, HRPC_CONTROL_HELLO, &he, sizeof(he), 0, 0, 0, 0, !mode);
		n += rec(buf + n, HRPC_SVC_ECHO, HRPC_ECHO_PING, "hello", 5, 0, 0, 0, 0, !mode);
		n += rec(buf + n, HRPC_SVC_ECHO, HRPC_ECHO_SOURCE, &sr, sizeof(sr), HRPC_MSG_F_BULK,
			 0, 0, 64, !mode);
		n += rec(buf + n, HRPC_SVC_STATS, HRPC_STATS_GET, NULL, 0, 0, 0, 0, 0, !mode);
		if (write_file(argv[2], mode ? "seed-vport" : "seed-shm", buf, n))
			return 1;
	}
	return 0;
}
