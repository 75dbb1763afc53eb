/* SPDX-License-Identifier: MIT */
/*
 * guestrpcd - the Guest RPC agent: serves a guest directory tree (service
 * 256) and command execution (service 257) to the host over virtio-serial
 * ports named org.hostrpc.guest.N (vport framing, docs/protocol.md §4).
 *
 * usage: guestrpcd [-v] [-r EXPORT_ROOT] [-p PORT_DEVICE]... [--listen SOCKET] [--fd N]
 *                  [--vchan [--vchan-backend DOMID] [--vchan-channels N]]
 *
 * Without -p/--listen/--fd/--vchan it serves every virtio-serial port whose
 * name (/sys/class/virtio-ports/ * /name) starts with "org.hostrpc.guest.".
 * --listen serves connections on a unix socket and --fd an inherited
 * connected socket (process-level tests; --fd exits when its peer hangs up).
 * --vchan (Xen domU) publishes libxenvchan channels for dom0 instead
 * (guestrpc/vchan.h): each serves one host, then is made anew for the next.
 *
 * A virtio-serial port reads end-of-file while no host is connected; the
 * agent then waits for the host's "port open" (SIGIO, with a slow poll as a
 * fallback) instead of spinning, and starts a fresh channel - new tables,
 * no sessions - for every host connection.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_XEN
#include <xenstore.h>
#endif

#include "hostrpc/hostrpc.h"
#include "guestrpc/agent.h"
#include "guestrpc/vchan.h"
#include "fs-server/server.h"

#define PORT_PREFIX "org.hostrpc.guest."
#define MAX_POLL 4096
#define RECHECK_MS 1000

enum port_kind { PORT_DEVICE, PORT_SOCKET, PORT_FD, PORT_VCHAN };

struct port {
	enum port_kind kind;
	char *path;              /* device: its /dev path */
	char name[64];           /* for the log */
	int fd;                  /* device fd while no host is connected */
	hrpc_server *srv;
	hrpc_conn *conn;
	struct fss *fs;
	struct gex_state *ex;
	int pfd_conn, pfd_gex, n_gex;
	/* PORT_VCHAN */
	unsigned int vchan_index;
	uint64_t retry_ns;       /* no set-up before (monotonic) */
	unsigned int fails;      /* set-ups failed in a row */
	bool published;          /* logged once */
	struct port *next;
};

static struct agent_config cfg = {
	.export_root = "/",
	.max_nodes = 1u << 20,
	.max_files = 1u << 16,
	.max_sessions = 256,
};
const struct agent_config *agent_cfg = &cfg;

static struct port *ports;
static int export_fd = -1;
static struct fss_config fs_cfg;
static uint32_t vchan_backend;   /* --vchan-backend: who may connect (dom0) */
static uint32_t vchan_ring;      /* --vchan-ring: bytes each way (0: libhostrpc's 64 KiB) */

void agent_log(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "guestrpcd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void fs_log(void *data, const char *msg)
{
	(void)data;
	agent_log("%s", msg);
}

/* ---- ports ------------------------------------------------------------------ */

static void port_deactivate(struct port *p, int why)
{
	if (!p->conn)
		return;
	if (hrpc_conn_fenced(p->conn))
		agent_log("%s: host fenced: %s", p->name, hrpc_conn_fence_reason(p->conn));
	else
		agent_debug("%s: host left (%s)", p->name, strerror(-why));
	/* Sessions die with the channel: nobody could read their output. */
	gex_state_free(p->ex);
	fss_free(p->fs);
	hrpc_conn_free(p->conn);
	hrpc_server_free(p->srv);
	p->ex = NULL;
	p->fs = NULL;
	p->conn = NULL;
	p->srv = NULL;
}

/* Serve `ch` (owned from here on) as a fresh channel. */
static int port_serve(struct port *p, hrpc_chan *ch)
{
	int rc;

	p->srv = hrpc_server_new("guestrpcd");
	p->fs = fss_new(export_fd, &fs_cfg);
	p->ex = gex_state_new();
	if (!p->srv || !p->fs || !p->ex) {
		rc = -ENOMEM;
		hrpc_chan_free(ch);
		goto err;
	}
	if ((rc = hrpc_server_register_builtins(p->srv)) < 0 ||
	    (rc = hrpc_server_register(p->srv, HRPC_SVC_GUEST_FS, "guest-fs", fss_handle, p->fs)) < 0 ||
	    (rc = hrpc_server_register(p->srv, HRPC_SVC_GUEST_EXEC, "guest-exec", gex_handle, p->ex)) < 0) {
		hrpc_chan_free(ch);
		goto err;
	}
	rc = hrpc_conn_new(p->srv, ch, 0, &p->conn);
	if (rc < 0)
		goto err;
	gex_state_set_conn(p->ex, p->conn);
	/* A vchan is made before its host maps it. */
	agent_debug("%s: %s", p->name, p->kind == PORT_VCHAN ? "ready for a host" : "host connected");
	return 0;
err:
	gex_state_free(p->ex);
	fss_free(p->fs);
	hrpc_server_free(p->srv);
	p->ex = NULL;
	p->fs = NULL;
	p->srv = NULL;
	agent_log("%s: cannot serve: %s", p->name, strerror(-rc));
	return rc;
}

/* Serve `fd` (owned from here on) as a fresh vport channel. */
static int port_activate(struct port *p, int fd)
{
	hrpc_chan *ch;
	int rc = hrpc_vport_chan_new(HRPC_ROLE_SERVER, fd, &ch);

	if (rc < 0) {
		close(fd);
		agent_log("%s: cannot serve: %s", p->name, strerror(-rc));
		return rc;
	}
	return port_serve(p, ch);
}

static struct port *port_add(enum port_kind kind, const char *path, const char *name)
{
	struct port *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->kind = kind;
	p->fd = -1;
	p->path = path ? strdup(path) : NULL;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->next = ports;
	ports = p;
	return p;
}

static void port_remove(struct port *p)
{
	struct port **pp = &ports;

	while (*pp != p)
		pp = &(*pp)->next;
	*pp = p->next;
	port_deactivate(p, 0);
	if (p->fd >= 0)
		close(p->fd);
	free(p->path);
	free(p);
}

/*
 * The host of a device port left.  Closing the port would make the guest
 * kernel drop whatever is queued on it (port_fops_release) - and that may
 * already be the next host's HELLO: a host tool that gives up on a port
 * QEMU restored throttled after a migration reconnects at once (see
 * guestrpc/session.c, connect_path).  So keep the port open when reading
 * proves nothing of the old host is left on it: end of file (no host,
 * nothing queued) or EAGAIN before any byte (a new host, nothing of it
 * here yet).  Bytes and then EAGAIN could be either host's: close, and the
 * next host's HELLO times out and is retried.  Returns a new descriptor
 * of the port, or -1.
 */
static int port_keep_fd(struct port *p)
{
	int fd = hrpc_conn_wait_fd(p->conn);
	char buf[4096];
	size_t got = 0;
	ssize_t n;

	if (p->kind != PORT_DEVICE || hrpc_conn_fenced(p->conn) || fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		got += n > 0 ? (size_t)n : 0;
	if (n < 0 && (errno != EAGAIN || got))
		return -1;
	return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

/* Watch a device port that has no channel: SIGIO on the host's "port open". */
static void port_watch(struct port *p, int fd)
{
	p->fd = fd;
	fcntl(p->fd, F_SETOWN, getpid());
	fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_ASYNC);
}

/*
 * A device port without a channel: open it (for SIGIO on the host's "port
 * open") and start a channel once a host is there - poll() says POLLHUP
 * while nobody is connected.
 */
static void device_check(struct port *p)
{
	struct pollfd pfd;

	if (p->conn)
		return;
	if (p->fd < 0) {
		int fd = open(p->path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

		if (fd < 0) {
			agent_debug("%s: open %s: %s", p->name, p->path, strerror(errno));
			return;
		}
		port_watch(p, fd);
	}
	pfd = (struct pollfd){ .fd = p->fd, .events = POLLIN };
	if (poll(&pfd, 1, 0) < 0 || (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
		return;
	fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) & ~O_ASYNC);
	port_activate(p, p->fd);
	p->fd = -1;
}

/* ---- vchan ports (Xen) ---------------------------------------------------------- */

#define VCHAN_RETRY_MAX_S 60
/* A vchan that ended before any HELLO is made anew only this much later, so
 * that a peer that maps and drops it in a loop does not keep us in one. */
#define VCHAN_UNUSED_RETRY_MS 250

#ifdef HAVE_XEN
/* Our domain id, from xenstore ("domid", relative to our own directory). */
static int own_domid(uint32_t *domid)
{
	struct xs_handle *xs = xs_open(0);
	unsigned int len = 0;
	char *v;
	int rc;

	if (!xs)
		return errno > 0 ? -errno : -EIO;
	v = xs_read(xs, XBT_NULL, "domid", &len);
	rc = v ? guestrpc_xen_parse_domid(v, len, domid) : (errno > 0 ? -errno : -ENOENT);
	free(v);
	xs_close(xs);
	return rc;
}

/* What is missing, most likely, when setting up a vchan failed. */
static const char *vchan_hint(void)
{
	if (access("/dev/xen/xenbus", F_OK) < 0)
		return " (no /dev/xen/xenbus: not a Xen guest, or /dev not devtmpfs?)";
	if (access("/dev/xen/gntalloc", F_OK) < 0)
		return " (no /dev/xen/gntalloc: modprobe xen-gntalloc)";
	if (access("/dev/xen/evtchn", F_OK) < 0)
		return " (no /dev/xen/evtchn: modprobe xen-evtchn)";
	return "";
}
#endif

/*
 * A vchan port without a channel: publish a fresh vchan for the backend -
 * made anew every time a host left, so the next host finds new rings and
 * fresh tables.  A failure is logged and tried again later, less often each
 * time (1, 2, 4 ... 60 s): never a busy loop, never an exit.
 */
static void vchan_check(struct port *p)
{
#ifdef HAVE_XEN
	char path[64] = "";
	unsigned int delay;
	uint32_t self = 0;
	hrpc_chan *ch;
	int rc;

	if (p->conn || hrpc_now_ns() < p->retry_ns)
		return;
	rc = own_domid(&self);
	if (rc < 0) {
		agent_log("%s: cannot read our domain id from xenstore: %s%s", p->name,
			  strerror(-rc), vchan_hint());
		goto retry;
	}
	rc = guestrpc_vchan_path(self, p->vchan_index, path, sizeof(path));
	if (rc == 0)
		rc = hrpc_vchan_server_new(vchan_backend, path, vchan_ring, &ch);
	if (rc < 0) {
		agent_log("%s: cannot publish vchan %s for domain %u: %s%s", p->name, path,
			  vchan_backend, strerror(-rc), vchan_hint());
		goto retry;
	}
	if (!p->published || p->fails)
		agent_log("serving vchan %s for domain %u", path, vchan_backend);
	if (port_serve(p, ch) < 0)
		goto retry;
	p->published = true;
	p->fails = 0;
	return;
retry:
	delay = p->fails < 6 ? 1u << p->fails : VCHAN_RETRY_MAX_S;
	if (p->fails < 100)
		p->fails++;
	p->retry_ns = hrpc_now_ns() + (uint64_t)delay * 1000000000ull;
#else
	(void)p;
#endif
}

/* Milliseconds until a vchan port without a channel tries again. */
static int vchan_wait_ms(const struct port *p)
{
	uint64_t now = hrpc_now_ns();

	if (p->retry_ns <= now)
		return 0;
	return (int)((p->retry_ns - now + 999999) / 1000000);
}

static int scan_ports(void)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[512], name[128] = "";
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (!fgets(name, sizeof(name), f))
			name[0] = 0;
		fclose(f);
		name[strcspn(name, "\n")] = 0;
		if (strncmp(name, PORT_PREFIX, strlen(PORT_PREFIX)))
			continue;
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		if (port_add(PORT_DEVICE, path, name)) {
			agent_log("serving port %s (%s)", name, path);
			n++;
		}
	}
	closedir(d);
	return n;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	/* The socket's own mode before bind() is the file's (less the umask):
	 * the file never exists with a wider mode than 0600. */
	if (fchmod(fd, 0600) < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 8) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

/* ---- main loop -------------------------------------------------------------- */

static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (struct port *p = ports; p; p = p->next)
			if (p->ex && gex_child_exited(p->ex, pid, status))
				break;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: guestrpcd [-v] [-r EXPORT_ROOT] [--restrict] [--ids POLICY] [-p PORT_DEVICE]...\n"
		"                 [--listen SOCKET] [--fd N]\n"
		"       guestrpcd --vchan [--vchan-backend DOMID] [--vchan-channels N] [--vchan-ring BYTES]\n"
		"  -r, --root=DIR  hosts may mount paths beneath DIR only (default /)\n"
		"  --restrict    hosts may not make setuid files (setgid ones but directories),\n"
		"                device nodes, nor see or change security.* and trusted.*\n"
		"                xattrs (file capabilities, LSM labels); default: they may,\n"
		"                the host being root over the guest anyway\n"
		"  --ids POLICY  who the host's callers are in the guest: passthrough (default)\n"
		"                | squash:UID:GID (all of them that user, no groups) |\n"
		"                map:HOST:GUEST:COUNT (host ids HOST.. are GUEST.., others\n"
		"                65534; the guest's ids shown back the same way)\n"
		"  -p, --port=DEV  serve this virtio-serial port device (repeatable); default:\n"
		"                every port named " PORT_PREFIX "* in /sys/class/virtio-ports\n"
		"  --listen PATH serve connections on a unix socket (tests)\n"
		"  --fd N        serve one connected socket, exit when it closes (tests)\n"
		"  --vchan       Xen domU: serve over libxenvchan instead of virtio-serial:\n"
		"                channel i in xenstore /local/domain/<our id>/" GUESTRPC_VCHAN_DIR "/i,\n"
		"                one host at a time each (host: hostrpc-guestmount xen:NAME ...)\n"
		"  --vchan-backend DOMID  the domain that may connect (default 0, dom0)\n"
		"  --vchan-channels N     channels to serve, 1..%u (default %u: a mount and an\n"
		"                exec at the same time)\n"
		"  --vchan-ring BYTES     ring size each way (default 65536, 1024..1048576)\n"
		"  -v, --verbose   log every connection and command\n"
		"  -h, --help      this help\n",
		GUESTRPC_VCHAN_MAX, GUESTRPC_VCHAN_DEFAULT);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "port", required_argument, NULL, 'p' },
		{ "listen", required_argument, NULL, 'L' },
		{ "fd", required_argument, NULL, 'F' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "restrict", no_argument, NULL, 'R' },
		{ "ids", required_argument, NULL, 'I' },
		{ "vchan", no_argument, NULL, 'X' },
		{ "vchan-backend", required_argument, NULL, 'B' },
		{ "vchan-channels", required_argument, NULL, 'N' },
		{ "vchan-ring", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct pollfd pfd[MAX_POLL];
	const char *listen_path = NULL;
	int listen_fd = -1, sig_fd, inherited = -1, opt;
	struct rlimit rl;
	sigset_t mask;
	bool nports = false, restrict_fs = false, vchan = false;
	unsigned int vchan_channels = GUESTRPC_VCHAN_DEFAULT;
	struct hrpc_idmap ids = { .kind = HRPC_IDMAP_PASSTHROUGH };

	while ((opt = getopt_long(argc, argv, "r:p:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			cfg.export_root = optarg;
			break;
		case 'p':
			if (!port_add(PORT_DEVICE, optarg, optarg))
				return 1;
			nports = true;
			break;
		case 'L':
			listen_path = optarg;
			break;
		case 'F':
			inherited = atoi(optarg);
			break;
		case 'v':
			cfg.verbose++;
			break;
		case 'R':
			restrict_fs = true;
			break;
		case 'I': {
			char why[256];

			if (hrpc_idmap_parse(optarg, &ids, why, sizeof(why)) < 0) {
				agent_log("--ids %s", why);
				return 2;
			}
			break;
		}
		case 'X':
			vchan = true;
			break;
		case 'B':
			if (guestrpc_xen_parse_domid(optarg, strlen(optarg), &vchan_backend) < 0) {
				agent_log("--vchan-backend %s: not a domain id (0..%u)", optarg,
					  GUESTRPC_XEN_DOMID_MAX);
				return 2;
			}
			break;
		case 'N': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);

			if (*end || end == optarg || n < 1 || n > GUESTRPC_VCHAN_MAX) {
				agent_log("--vchan-channels %s: not 1..%u", optarg, GUESTRPC_VCHAN_MAX);
				return 2;
			}
			vchan_channels = (unsigned int)n;
			break;
		}
		case 'S': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);

			if (*end || end == optarg || n < 1024 || n > (1ul << 20)) {
				agent_log("--vchan-ring %s: not 1024..1048576 bytes", optarg);
				return 2;
			}
			vchan_ring = (uint32_t)n;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	fs_cfg = (struct fss_config){
		.max_nodes = cfg.max_nodes, .max_files = cfg.max_files, .log = fs_log,
		.flags = restrict_fs ? 0 : FSS_ALLOW_SUID | FSS_ALLOW_DEV | FSS_ALLOW_PRIV_XATTRS,
		.ids = ids,
	};
	export_fd = open(cfg.export_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (export_fd < 0) {
		agent_log("export root %s: %s", cfg.export_root, strerror(errno));
		return 1;
	}
	/* One O_PATH fd per node the host holds: allow many. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t want = rl.rlim_max;

		rl.rlim_cur = rl.rlim_max = 1u << 20;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			rl.rlim_cur = rl.rlim_max = want;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGIO);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0) {
		agent_log("signalfd: %s", strerror(errno));
		return 1;
	}
	if (listen_path) {
		listen_fd = listen_unix(listen_path);
		if (listen_fd < 0) {
			agent_log("listen %s: %s", listen_path, strerror(-listen_fd));
			return 1;
		}
		nports = true;
	}
	if (vchan) {
#ifdef HAVE_XEN
		for (unsigned int i = vchan_channels; i-- > 0;) {
			char name[32];
			struct port *p;

			snprintf(name, sizeof(name), "vchan.%u", i);
			p = port_add(PORT_VCHAN, NULL, name);
			if (!p)
				return 1;
			p->vchan_index = i;
		}
		nports = true;
#else
		(void)vchan_channels;
		agent_log("--vchan: this guestrpcd was built without Xen support (libxen-dev)");
		return 2;
#endif
	}
	if (inherited >= 0) {
		struct port *p = port_add(PORT_FD, NULL, "fd");

		if (!p || port_activate(p, inherited) < 0)
			return 1;
		nports = true;
	}
	if (!nports && scan_ports() == 0) {
		agent_log("no virtio-serial port named " PORT_PREFIX "* (is virtio_console loaded?)");
		return 1;
	}
	for (struct port *p = ports; p; p = p->next) {
		if (p->kind == PORT_DEVICE)
			device_check(p);
		else if (p->kind == PORT_VCHAN)
			vchan_check(p);
	}
	agent_log("ready (export root %s)", cfg.export_root);

	for (;;) {
		int n = 0, timeout = -1, rc;
		bool waiting = false;
		struct signalfd_siginfo si;
		struct port *p, *pn;

		pfd[n++] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
		if (listen_fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
		for (p = ports; p; p = p->next) {
			p->pfd_conn = p->n_gex = -1;
			if (!p->conn) {
				waiting |= p->kind == PORT_DEVICE;
				if (p->kind == PORT_VCHAN) {
					int ms = vchan_wait_ms(p);

					if (timeout < 0 || ms < timeout)
						timeout = ms;
				}
				continue;
			}
			p->pfd_conn = n;
			pfd[n++] = (struct pollfd){ .fd = hrpc_conn_wait_fd(p->conn), .events = POLLIN };
			p->pfd_gex = n;
			p->n_gex = gex_poll_fill(p->ex, pfd + n, MAX_POLL - n, &timeout);
			n += p->n_gex;
		}
		if (waiting && (timeout < 0 || timeout > RECHECK_MS))
			timeout = RECHECK_MS;
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			agent_log("poll: %s", strerror(errno));
			return 1;
		}
		while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGCHLD)
				reap();
			else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
				agent_log("signal %u: exiting", si.ssi_signo);
				while (ports)
					port_remove(ports);
				return 0;
			}
		}
		if (listen_fd >= 0 && (pfd[1].revents & POLLIN)) {
			int cfd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (cfd >= 0) {
				p = port_add(PORT_SOCKET, NULL, "socket");
				if (!p || port_activate(p, cfd) < 0) {
					if (p)
						port_remove(p);
				}
			}
		}
		for (p = ports; p; p = pn) {
			pn = p->next;
			if (!p->conn) {
				if (p->kind == PORT_DEVICE)
					device_check(p);
				else if (p->kind == PORT_VCHAN)
					vchan_check(p);
				continue;
			}
			if (p->n_gex < 0)
				continue;  /* accepted in this iteration */
			rc = gex_poll_done(p->ex, pfd + p->pfd_gex, p->n_gex);
			/* Always: the stream may hold frames read while a write
			 * was blocked, with nothing left on the fd to poll. */
			if (rc >= 0)
				rc = hrpc_conn_process(p->conn);
			if (rc >= 0)
				rc = gex_tick(p->ex);
			if (rc < 0) {
				bool unused = p->kind == PORT_VCHAN && !hrpc_conn_negotiated(p->conn);
				int keep = port_keep_fd(p);

				port_deactivate(p, rc);
				if (keep >= 0)
					port_watch(p, keep);
				if (p->kind == PORT_SOCKET)
					port_remove(p);
				else if (p->kind == PORT_FD) {
					port_remove(p);
					return 0;
				} else if (p->kind == PORT_VCHAN) {
					/* A fresh vchan for the next host. */
					if (unused)
						p->retry_ns = hrpc_now_ns() +
							VCHAN_UNUSED_RETRY_MS * 1000000ull;
					vchan_check(p);
				} else
					device_check(p);
			}
		}
	}
}
