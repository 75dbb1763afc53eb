/* SPDX-License-Identifier: MIT */
/*
 * fake-guest - a hostile guest agent for hostrpc-guestmount's tests.
 *
 * usage: fake-guest SOCKET
 *
 * Listens on SOCKET like QEMU's chardev does for a virtio-serial port and
 * serves service 256 with libhostrpc, answering well for some names and
 * breaking every rule the host must check for others:
 *
 *   /good, /dir          a plain file and directory
 *   /evil                a directory whose listing has names with '/', NUL,
 *                        and ".." with a node
 *   /rootalias           lookup returns the root's handle
 *   /dir/self            lookup returns /dir's own handle (a loop)
 *   /typechange          a file whose GETATTR then says "directory"
 *   /hugesize            size 2^64-1
 *   /badmode             file type bits that are no file type
 *   /bigread             READ claims more bytes than asked
 *   /badlink             a symlink target with a NUL inside
 *   /weirderrno          lookup fails with 512 (ERESTARTSYS)
 *   /nosys               lookup fails with ENOSYS
 *   /mute                the agent stops answering (sleeps forever)
 *   /die                 the agent exits
 *   /suidbin             mode 04755, owner root; its bytes are those of the
 *                        host file $FAKE_GUEST_EXE (a program to run)
 *                        and the file capability cap_setuid+ep (xattr
 *                        security.capability; user.ok is a harmless one)
 *   /sgid                mode 02755;   /devnode  char device 1:3 (/dev/null)
 *   /loopdir             a listing whose cookie never advances (always 1)
 *   /hugedir             a listing without end (cookies advance forever)
 *
 * With FAKE_GUEST_RELAY=1 the channel runs through a relay in this process
 * (one thread per direction), so the agent can misbehave below the
 * protocol - set by looking up (or running, on service 257) a name:
 *   trickle   from this reply on, bytes to the host go 1 per 100 ms
 *   deaf      after this reply, 256 KiB more are read from the host (the
 *             host's small calls get through, a big WRITE stops midway),
 *             then nothing
 *   sip       after this reply, 4 KiB are read from the host per 100 ms
 *
 * Service 257 also knows "ignore": started, then never an EXIT, whatever
 * the host sends (KILL included); and "trickle", "deaf", "sip" as above,
 * which then behave as "ignore".
 *
 * and service 257, by the command's name:
 *   forged    OUTPUT for another handle, with a size that is not the
 *             payload's, on stream 3, an EXIT for another handle; then
 *             "ok\n" and exit code 5 for the real one
 *   flood     OUTPUT far beyond the flow-control window
 *   badexit   EXIT with code 999;  badsig  EXIT with signal 200
 *   ignore, trickle, deaf, sip   (above)
 *
 * With FAKE_GUEST_RANDOM=seed every filesystem call but MOUNT gets random
 * bytes: a random status, inline reply of random length (often exactly the
 * expected size, so the checks behind the length check run too) and a
 * random reply bulk.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hostrpc/guestexec.h"
#include "hostrpc/guestfs.h"
#include "hostrpc/hostrpc.h"

#define H(i) HRPC_GFS_HANDLE(i, 1)
enum { ROOT = 1, GOOD, DIR_, EVIL, TYPECHANGE, HUGE, BADMODE, BIGREAD, BADLINK, LOOPX,
       SUIDBIN, SGID, DEVNODE, LOOPDIR, HUGEDIR, TRICKLE };

/* Relay modes (FAKE_GUEST_RELAY): what the relay threads do now. */
enum { RELAY_NORMAL, RELAY_TRICKLE, RELAY_DEAF, RELAY_SIP };
static int relay_mode;
static long relay_budget;      /* RELAY_DEAF: bytes still read first */
static int exe_fd = -1;

static void set_mode(const char *name)
{
	int m = !strcmp(name, "trickle") ? RELAY_TRICKLE : !strcmp(name, "deaf") ? RELAY_DEAF :
		!strcmp(name, "sip") ? RELAY_SIP : -1;

	if (m >= 0) {
		fprintf(stderr, "fake-guest: relay mode %s\n", name);
		__atomic_store_n(&relay_budget, 256 * 1024, __ATOMIC_RELEASE);
		__atomic_store_n(&relay_mode, m, __ATOMIC_RELEASE);
	}
}

static void attr(struct hrpc_gfs_attr *a, uint32_t mode, uint64_t size)
{
	memset(a, 0, sizeof(*a));
	a->ino = 1000 + (mode & 0xff);
	a->mode = mode;
	a->size = size;
	a->nlink = 1;
	a->blksize = 4096;
}

static int entry(struct hrpc_reply *rep, uint64_t node, uint32_t mode, uint64_t size)
{
	struct hrpc_gfs_entry *e = rep->payload;

	e->node = node;
	attr(&e->attr, mode, size);
	rep->len = sizeof(*e);
	return 0;
}

static void dirent(uint8_t *p, const char *name, size_t len, uint64_t node, uint32_t mode,
		   uint64_t off)
{
	struct hrpc_gfs_dirent_plus dp;

	memset(&dp, 0, sizeof(dp));
	dp.d.off = off;
	dp.d.ino = 100 + off;
	dp.d.type = (mode & S_IFMT) >> 12;
	dp.d.name.len = (uint16_t)len;
	memcpy(dp.d.name.name, name, len);
	dp.entry.node = node;
	if (node)
		attr(&dp.entry.attr, mode, 1);
	memcpy(p, &dp, sizeof(dp));
}

static uint64_t rnd_state;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rnd_state >> 33);
}

static const uint32_t rep_sizes[] = { 0, 8, 56, 88, 96, 104, 8, 4095 };

static int random_reply(const struct hrpc_req *req, struct hrpc_reply *rep)
{
	uint8_t *p = rep->payload;
	uint32_t k = rnd() % 16;

	rep->len = k < 8 ? rep_sizes[k] : rnd() % 700;
	for (uint32_t i = 0; i < rep->len; i++)
		p[i] = (uint8_t)rnd();
	/* Often plausible: small values where sizes and modes live. */
	if (rep->len >= 88 && rnd() % 2)
		memset(p + 8, 0, 16);
	if (req->bulk && req->bulk_cap && rnd() % 2) {
		rep->bulk_len = rnd() % (req->bulk_cap + 1);
		for (uint32_t i = 0; i < rep->bulk_len; i++)
			req->bulk[i] = (uint8_t)rnd();
	}
	switch (rnd() % 8) {
	case 0: return -(int)(rnd() % 600) - 1;
	case 1: return -ENOENT;
	default: return 0;
	}
}

static int fs_call(void *opaque, const struct hrpc_req *req, struct hrpc_reply *rep);

/* Every call starts with its caller (guestfs.h): checked, then skipped. */
static int fs(void *opaque, const struct hrpc_req *req0, struct hrpc_reply *rep)
{
	struct hrpc_gfs_cred c;
	struct hrpc_req req = *req0;

	if (req0->len < sizeof(c))
		return -EINVAL;
	memcpy(&c, req0->payload, sizeof(c));
	if (hrpc_gfs_cred_check(&c) < 0)
		return -EINVAL;
	req.payload = (const uint8_t *)req0->payload + sizeof(c);
	req.len -= (uint32_t)sizeof(c);
	return fs_call(opaque, &req, rep);
}

static int fs_call(void *opaque, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	static int typechange_calls;
	const struct hrpc_gfs_dir_name_req *dn = req->payload;
	const struct hrpc_gfs_node_req *nr = req->payload;
	char name[300] = "";

	if (rnd_state && req->hdr->proc != HRPC_GFS_MOUNT)
		return random_reply(req, rep);
	switch (req->hdr->proc) {
	case HRPC_GFS_MOUNT:
		return entry(rep, H(ROOT), S_IFDIR | 0755, 4096);
	case HRPC_GFS_LOOKUP:
		memcpy(name, dn->name.name, dn->name.len < 256 ? dn->name.len : 255);
		if (dn->parent == H(DIR_))
			return !strcmp(name, "self") ? entry(rep, H(DIR_), S_IFDIR | 0755, 0) : -ENOENT;
		if (!strcmp(name, "good"))
			return entry(rep, H(GOOD), S_IFREG | 0644, 5);
		if (!strcmp(name, "dir"))
			return entry(rep, H(DIR_), S_IFDIR | 0755, 0);
		if (!strcmp(name, "evil"))
			return entry(rep, H(EVIL), S_IFDIR | 0755, 0);
		if (!strcmp(name, "rootalias"))
			return entry(rep, H(ROOT), S_IFDIR | 0755, 0);
		if (!strcmp(name, "typechange"))
			return entry(rep, H(TYPECHANGE), S_IFREG | 0644, 1);
		if (!strcmp(name, "hugesize"))
			return entry(rep, H(HUGE), S_IFREG | 0644, UINT64_MAX);
		if (!strcmp(name, "badmode"))
			return entry(rep, H(BADMODE), 0170644, 1);
		if (!strcmp(name, "bigread"))
			return entry(rep, H(BIGREAD), S_IFREG | 0644, 100);
		if (!strcmp(name, "badlink"))
			return entry(rep, H(BADLINK), S_IFLNK | 0777, 3);
		if (!strcmp(name, "weirderrno"))
			return -512;
		if (!strcmp(name, "nosys"))
			return -ENOSYS;
		if (!strcmp(name, "mute"))
			for (;;)
				pause();
		if (!strcmp(name, "die"))
			_exit(3);
		if (!strcmp(name, "suidbin")) {
			struct stat st;

			if (exe_fd < 0 || fstat(exe_fd, &st) < 0)
				return -ENOENT;
			entry(rep, H(SUIDBIN), S_IFREG | 04755, (uint64_t)st.st_size);
			return 0;
		}
		if (!strcmp(name, "sgid"))
			return entry(rep, H(SGID), S_IFREG | 02755, 1);
		if (!strcmp(name, "devnode")) {
			entry(rep, H(DEVNODE), S_IFCHR | 0666, 0);
			((struct hrpc_gfs_entry *)rep->payload)->attr.rdev = (1u << 8) | 3u;
			return 0;
		}
		if (!strcmp(name, "loopdir"))
			return entry(rep, H(LOOPDIR), S_IFDIR | 0755, 0);
		if (!strcmp(name, "hugedir"))
			return entry(rep, H(HUGEDIR), S_IFDIR | 0755, 0);
		if (!strcmp(name, "trickle") || !strcmp(name, "deaf") || !strcmp(name, "sip")) {
			set_mode(name);
			return entry(rep, H(TRICKLE), S_IFREG | 0644, 1);
		}
		return -ENOENT;
	case HRPC_GFS_GETATTR:
		if (nr->node == H(ROOT) || nr->node == H(DIR_) || nr->node == H(EVIL)) {
			attr(rep->payload, S_IFDIR | 0755, 4096);
		} else if (nr->node == H(TYPECHANGE)) {
			attr(rep->payload, ++typechange_calls > 0 ? S_IFDIR | 0755 : S_IFREG, 1);
		} else if (nr->node == H(GOOD)) {
			attr(rep->payload, S_IFREG | 0644, 5);
		} else if (nr->node == H(BIGREAD)) {
			attr(rep->payload, S_IFREG | 0644, 100);
		} else if (nr->node == H(SUIDBIN)) {
			struct stat st;

			if (exe_fd < 0 || fstat(exe_fd, &st) < 0)
				return -ESTALE;
			attr(rep->payload, S_IFREG | 04755, (uint64_t)st.st_size);
		} else if (nr->node == H(SGID)) {
			attr(rep->payload, S_IFREG | 02755, 1);
		} else if (nr->node == H(DEVNODE)) {
			attr(rep->payload, S_IFCHR | 0666, 0);
			((struct hrpc_gfs_attr *)rep->payload)->rdev = (1u << 8) | 3u;
		} else if (nr->node == H(LOOPDIR) || nr->node == H(HUGEDIR)) {
			attr(rep->payload, S_IFDIR | 0755, 4096);
		} else if (nr->node == H(TRICKLE)) {
			attr(rep->payload, S_IFREG | 0644, 1);
		} else {
			return -ESTALE;
		}
		rep->len = sizeof(struct hrpc_gfs_attr);
		return 0;
	case HRPC_GFS_OPENDIR:
	case HRPC_GFS_OPEN: {
		struct hrpc_gfs_fh_rep *f = rep->payload;

		f->fh = nr->node;  /* fh = node handle: fine for a fake */
		rep->len = sizeof(*f);
		return 0;
	}
	case HRPC_GFS_RELEASE:
	case HRPC_GFS_RELEASEDIR:
	case HRPC_GFS_FORGET:
		return 0;
	case HRPC_GFS_READ: {
		const struct hrpc_gfs_io_req *r = req->payload;
		struct hrpc_gfs_io_rep *ir = rep->payload;
		uint32_t n = r->size < 5 ? r->size : 5;

		if (r->fh == H(SUIDBIN)) {
			ssize_t k = pread(exe_fd, req->bulk, r->size < req->bulk_cap ? r->size : req->bulk_cap,
					  (off_t)r->offset);

			if (k < 0)
				return -EIO;
			ir->size = (uint32_t)k;
			rep->len = sizeof(*ir);
			rep->bulk_len = (uint32_t)k;
			return 0;
		}
		memcpy(req->bulk, "hello", n);
		ir->size = r->fh == H(BIGREAD) ? r->size + 1 : n;
		rep->len = sizeof(*ir);
		rep->bulk_len = n;
		return 0;
	}
	case HRPC_GFS_WRITE: {
		const struct hrpc_gfs_io_req *r = req->payload;
		struct hrpc_gfs_io_rep *ir = rep->payload;

		ir->size = r->size;
		rep->len = sizeof(*ir);
		return 0;
	}
	case HRPC_GFS_READLINK:
		memcpy(rep->payload, "a\0b", 3);
		rep->len = 3;
		return 0;
	case HRPC_GFS_READDIR: {
		const struct hrpc_gfs_readdir_req *r = req->payload;
		struct hrpc_gfs_readdir_rep *rr = rep->payload;
		bool plus = r->flags & HRPC_GFS_READDIR_PLUS;
		size_t esz = plus ? sizeof(struct hrpc_gfs_dirent_plus) : sizeof(struct hrpc_gfs_dirent);
		uint8_t tmp[sizeof(struct hrpc_gfs_dirent_plus)];
		uint32_t n = 0;

		if (r->fh == H(LOOPDIR) || r->fh == H(HUGEDIR)) {
			/* Never at the end: the same cookie again and again, or
			 * new ones without end. */
			uint32_t k = r->fh == H(LOOPDIR) ? 1 : 500;

			for (; n < k; n++) {
				char nm[32];
				uint64_t off = r->fh == H(LOOPDIR) ? 1 : r->offset + n + 1;

				snprintf(nm, sizeof(nm), "f%llu", (unsigned long long)(r->offset + n + 1));
				dirent(tmp, nm, strlen(nm), plus ? H(GOOD) : 0, S_IFREG | 0644, off);
				memcpy(req->bulk + n * esz, tmp, esz);
			}
			rr->count = n;
			rr->eof = 0;
			rep->len = sizeof(*rr);
			rep->bulk_len = (uint32_t)(n * esz);
			return 0;
		}
		if (r->offset == 0) {
			if (r->fh == H(EVIL)) {
				dirent(tmp, "ok", 2, plus ? H(GOOD) : 0, S_IFREG, ++n);
				memcpy(req->bulk + (n - 1) * esz, tmp, esz);
				dirent(tmp, "sl/ash", 6, plus ? H(GOOD) : 0, S_IFREG, ++n);
				memcpy(req->bulk + (n - 1) * esz, tmp, esz);
				dirent(tmp, "nul\0in", 6, plus ? H(GOOD) : 0, S_IFREG, ++n);
				memcpy(req->bulk + (n - 1) * esz, tmp, esz);
				dirent(tmp, "..", 2, plus ? H(ROOT) : 0, S_IFDIR, ++n);
				memcpy(req->bulk + (n - 1) * esz, tmp, esz);
			} else {
				dirent(tmp, ".", 1, 0, S_IFDIR, ++n);
				memcpy(req->bulk + (n - 1) * esz, tmp, esz);
				dirent(tmp, "good", 4, plus ? H(GOOD) : 0, S_IFREG | 0644, ++n);
				memcpy(req->bulk + (n - 1) * esz, tmp, esz);
				dirent(tmp, "dir", 3, plus ? H(DIR_) : 0, S_IFDIR | 0755, ++n);
				memcpy(req->bulk + (n - 1) * esz, tmp, esz);
			}
		}
		rr->count = n;
		rr->eof = 1;
		rep->len = sizeof(*rr);
		rep->bulk_len = (uint32_t)(n * esz);
		return 0;
	}
	case HRPC_GFS_GETXATTR:
	case HRPC_GFS_LISTXATTR: {
		/* vfs_cap_data v2, effective: CAP_SETUID (7) permitted. */
		static const uint8_t cap[20] = { 0x01, 0x00, 0x00, 0x02, 0x80 };
		static const char list[] = "security.capability\0user.ok";
		const struct hrpc_gfs_xattr_req *x = req->payload;
		struct hrpc_gfs_xattr_rep *xr = rep->payload;
		const void *val;
		uint32_t len;

		if (x->node != H(SUIDBIN))
			return req->hdr->proc == HRPC_GFS_GETXATTR ? -ENODATA : 0;
		memcpy(name, x->name.name, x->name.len < 256 ? x->name.len : 255);
		if (req->hdr->proc == HRPC_GFS_LISTXATTR) {
			val = list;
			len = sizeof(list);
		} else if (!strcmp(name, "security.capability")) {
			val = cap;
			len = sizeof(cap);
		} else if (!strcmp(name, "user.ok")) {
			val = "1";
			len = 1;
		} else {
			return -ENODATA;
		}
		memset(xr, 0, sizeof(*xr));
		xr->size = len;
		rep->len = sizeof(*xr);
		if (x->size) {
			if (x->size < len || !req->bulk || req->bulk_cap < len)
				return -ERANGE;
			memcpy(req->bulk, val, len);
			rep->bulk_len = len;
		}
		return 0;
	}
	case HRPC_GFS_STATFS: {
		struct hrpc_gfs_statfs *s = rep->payload;

		memset(s, 0, sizeof(*s));
		s->blocks = 10;
		s->bfree = 20;  /* more free than there is */
		s->bsize = 4096;
		rep->len = sizeof(*s);
		return 0;
	}
	default:
		return -ENOSYS;
	}
}

static void ev_out(hrpc_conn *c, uint64_t h, uint32_t stream, uint32_t size, uint32_t len,
		   const char *data)
{
	static uint8_t buf[HRPC_MSG_MAX_PAYLOAD];
	struct hrpc_gex_output o = { .handle = h, .stream = stream, .size = size };

	memcpy(buf, &o, sizeof(o));
	memcpy(buf + sizeof(o), data, len);
	hrpc_conn_send_event(c, HRPC_SVC_GUEST_EXEC, HRPC_GEX_EV_OUTPUT, buf, (uint32_t)sizeof(o) + len);
}

static void ev_exit(hrpc_conn *c, uint64_t h, int32_t code, uint32_t sig)
{
	struct hrpc_gex_status st = { .handle = h, .state = HRPC_GEX_EXITED, .code = code, .signal = sig };

	hrpc_conn_send_event(c, HRPC_SVC_GUEST_EXEC, HRPC_GEX_EV_EXIT, &st, sizeof(st));
}

static int gex(void *opaque, const struct hrpc_req *req, struct hrpc_reply *rep)
{
	const uint64_t h = H(77);
	static char zeros[HRPC_GEX_OUTPUT_MAX];
	const char *cmd;

	if (req->hdr->proc == HRPC_GEX_KILL && req->len >= sizeof(struct hrpc_gex_kill_req))
		fprintf(stderr, "fake-guest: KILL %u\n",
			((const struct hrpc_gex_kill_req *)req->payload)->signal);
	if (req->hdr->proc != HRPC_GEX_START)
		return 0;  /* CREDIT, RELEASE, WRITE, KILL: fine */
	if (!req->bulk || !req->bulk_len || req->bulk[req->bulk_len - 1])
		return -EINVAL;
	cmd = (const char *)req->bulk;
	if (!strcmp(cmd, "forged")) {
		ev_out(req->conn, h + 1, 1, 6, 6, "forged");
		ev_out(req->conn, h, 1, 100, 6, "forged");
		ev_out(req->conn, h, 3, 6, 6, "forged");
		ev_exit(req->conn, h + 1, 9, 0);
		ev_out(req->conn, h, 1, 3, 3, "ok\n");
		ev_exit(req->conn, h, 5, 0);
	} else if (!strcmp(cmd, "flood")) {
		for (int i = 0; i < 2048; i++)
			if (hrpc_conn_fenced(req->conn))
				break;
			else
				ev_out(req->conn, h, 1, sizeof(zeros), sizeof(zeros), zeros);
	} else if (!strcmp(cmd, "badexit")) {
		ev_exit(req->conn, h, 999, 0);
	} else if (!strcmp(cmd, "badsig")) {
		ev_exit(req->conn, h, -1, 200);
	} else if (!strcmp(cmd, "ignore") || !strcmp(cmd, "trickle") || !strcmp(cmd, "deaf") ||
		   !strcmp(cmd, "sip")) {
		fprintf(stderr, "fake-guest: START %s\n", cmd);
		set_mode(cmd);
	} else {
		return -ENOENT;
	}
	((struct hrpc_gex_started *)rep->payload)->handle = h;
	rep->len = sizeof(struct hrpc_gex_started);
	return 0;
}

/* ---- relay ---------------------------------------------------------------- */

struct pipe_dir {
	int from, to;
	bool to_host;
};

static int write_full(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *pump(void *arg)
{
	struct pipe_dir *pd = arg;
	static __thread uint8_t buf[65536];

	for (;;) {
		struct pollfd pf = { .fd = pd->from, .events = POLLIN };
		size_t want = sizeof(buf);
		ssize_t n;
		int mode;

		/* The mode is read once bytes are there: a reply that set it is
		 * already relayed the new way. */
		if (poll(&pf, 1, 100) == 0)
			continue;
		mode = __atomic_load_n(&relay_mode, __ATOMIC_ACQUIRE);

		if (!pd->to_host && mode == RELAY_DEAF &&
		    __atomic_load_n(&relay_budget, __ATOMIC_ACQUIRE) <= 0) {
			/* The host's bytes stay unread; only its hang-up is seen. */
			struct pollfd p = { .fd = pd->from, .events = POLLRDHUP };

			if (poll(&p, 1, 100) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
				break;
			continue;
		}
		if (pd->to_host && mode == RELAY_TRICKLE)
			want = 1;
		if (!pd->to_host && mode == RELAY_SIP)
			want = 4096;
		if (!pd->to_host && mode == RELAY_DEAF &&
		    (long)want > __atomic_load_n(&relay_budget, __ATOMIC_ACQUIRE))
			want = (size_t)__atomic_load_n(&relay_budget, __ATOMIC_ACQUIRE);
		n = read(pd->from, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write_full(pd->to, buf, (size_t)n) < 0)
			break;
		if (!pd->to_host && mode == RELAY_DEAF)
			__atomic_sub_fetch(&relay_budget, n, __ATOMIC_ACQ_REL);
		if ((pd->to_host && mode == RELAY_TRICKLE) || (!pd->to_host && mode == RELAY_SIP))
			usleep(100000);
	}
	/* One direction ended: end both, so that nobody waits on the other. */
	shutdown(pd->to, SHUT_RDWR);
	shutdown(pd->from, SHUT_RDWR);
	return NULL;
}

/* Serve one host connection through the relay: host <-> sp[1] | sp[0] <-> agent. */
static void serve_relayed(hrpc_server *srv, int hfd)
{
	struct pipe_dir up, down;
	pthread_t t_up, t_down;
	hrpc_conn *conn;
	hrpc_chan *ch;
	int sp[2];

	__atomic_store_n(&relay_mode, RELAY_NORMAL, __ATOMIC_RELEASE);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
		exit(1);
	down = (struct pipe_dir){ .from = hfd, .to = sp[1], .to_host = false };
	up = (struct pipe_dir){ .from = sp[1], .to = hfd, .to_host = true };
	pthread_create(&t_down, NULL, pump, &down);
	pthread_create(&t_up, NULL, pump, &up);
	if (hrpc_vport_chan_new(HRPC_ROLE_SERVER, sp[0], &ch) < 0 ||
	    hrpc_conn_new(srv, ch, 0, &conn) < 0)
		exit(1);
	hrpc_conn_serve(conn, NULL);
	hrpc_conn_free(conn);  /* closes sp[0]: the up pump sees the end */
	/* The host may be gone or deaf: do not wait for the pumps to drain. */
	shutdown(hfd, SHUT_RDWR);
	shutdown(sp[1], SHUT_RDWR);
	pthread_join(t_up, NULL);
	pthread_join(t_down, NULL);
	close(sp[1]);
	close(hfd);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	hrpc_server *srv;
	hrpc_conn *conn;
	hrpc_chan *ch;
	int lfd, fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(a.sun_path)) {
		fprintf(stderr, "usage: fake-guest SOCKET\n");
		return 2;
	}
	strcpy(a.sun_path, argv[1]);
	signal(SIGPIPE, SIG_IGN);
	if (getenv("FAKE_GUEST_RANDOM"))
		rnd_state = strtoull(getenv("FAKE_GUEST_RANDOM"), NULL, 0) | 1;
	if (getenv("FAKE_GUEST_EXE"))
		exe_fd = open(getenv("FAKE_GUEST_EXE"), O_RDONLY | O_CLOEXEC);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	unlink(argv[1]);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0) {
		perror("fake-guest: listen");
		return 1;
	}
	srv = hrpc_server_new("fake-guest");
	hrpc_server_register(srv, HRPC_SVC_GUEST_FS, "guest-fs", fs, NULL);
	hrpc_server_register(srv, HRPC_SVC_GUEST_EXEC, "guest-exec", gex, NULL);
	/* One host after another, as a QEMU chardev serves them. */
	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		if (getenv("FAKE_GUEST_RELAY")) {
			serve_relayed(srv, fd);
			continue;
		}
		if (hrpc_vport_chan_new(HRPC_ROLE_SERVER, fd, &ch) < 0 ||
		    hrpc_conn_new(srv, ch, 0, &conn) < 0)
			return 1;
		hrpc_conn_serve(conn, NULL);
		hrpc_conn_free(conn);
	}
	hrpc_server_free(srv);
	return 0;
}
