/* SPDX-License-Identifier: MIT */
/*
 * test-sock-policy - per-guest identity and policy of the socket service:
 * connect/sendto/bind rules (first match wins; IPv4-mapped, -compatible and
 * NAT64 IPv6 cannot slip past IPv4 rules; the normaliser's readings),
 * denials answered with -EACCES and written to the audit log - at most
 * OUTSOURCE_AUDIT_MAX_RATE lines a second, however fast a guest has them
 * made - policy syntax errors reported by line, and a guest whose sockets
 * live in a network namespace of their own (skipped without the privilege
 * to make one).
 */
#include "config.h"

#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "tests/tap.h"
#include "outsource/audit-limit.h"
#include "outsource/sock/sockguest.h"
#include "outsource/sock/policy.h"

static struct sguest g;

static const char policy[] =
	"# test policy\n"
	"connect deny 127.0.0.2\n"
	"connect allow 127.0.0.0/8 *\n"
	"connect allow ::1\n"
	"connect deny any\n"
	"bind allow 127.0.0.1 0,20000-65535\n"
	"bind allow ::1/128\n"
	"bind deny any\n";

static int host_listener(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	listen(fd, 8);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_rules(void)
{
	char path[] = "/tmp/sock-policy-audit.XXXXXX";
	int afd = mkstemp(path), lfd, rc;
	uint16_t port;
	uint64_t h, u, h6;
	struct hrpc_sock_addr a;
	static char log[1 << 20];
	ssize_t n;

	rc = sg_start(&g, policy, afd);
	if (rc < 0) {
		printf("Bail out! cannot start: %s\n", strerror(-rc));
		exit(1);
	}
	lfd = host_listener(&port);

	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	sg_addr(&a, AF_INET, "127.0.0.2", port);
	rc = sg_addrcall(&g, HRPC_SOCK_CONNECT, h, &a);
	tap_ok(rc == -EACCES, "connect to a denied address -> -EACCES (%d)", rc);
	sg_addr(&a, AF_INET, "192.0.2.1", 80);
	rc = sg_addrcall(&g, HRPC_SOCK_CONNECT, h, &a);
	tap_ok(rc == -EACCES, "connect outside the allowed networks -> -EACCES (%d)", rc);
	sg_addr(&a, AF_INET, "127.0.0.1", port);
	rc = sg_connect(&g, h, &a, 5000);
	tap_ok(rc == 0, "connect to an allowed destination works (%d)", rc);
	sg_close(&g, h);

	sg_socket(&g, AF_INET6, SOCK_STREAM, &h6);
	sg_addr(&a, AF_INET6, "::ffff:127.0.0.2", port);
	rc = sg_addrcall(&g, HRPC_SOCK_CONNECT, h6, &a);
	tap_ok(rc == -EACCES, "IPv4-mapped IPv6 form of a denied address -> -EACCES (%d)", rc);
	sg_addr(&a, AF_INET6, "::ffff:127.0.0.1", port);
	rc = sg_connect(&g, h6, &a, 5000);
	tap_ok(rc == 0, "IPv4-mapped IPv6 form of an allowed address works (%d)", rc);
	sg_close(&g, h6);

	sg_socket(&g, AF_INET, SOCK_DGRAM, &u);
	sg_addr(&a, AF_INET, "127.0.0.2", 9);
	rc = sg_send(&g, u, "x", 1, NULL, 0, &a);
	tap_ok(rc == -EACCES, "UDP sendto a denied address -> -EACCES (%d)", rc);
	rc = sg_addrcall(&g, HRPC_SOCK_CONNECT, u, &a);
	tap_ok(rc == -EACCES, "UDP connect to a denied address -> -EACCES (%d)", rc);
	sg_addr(&a, AF_INET, "0.0.0.0", 0);
	rc = sg_addrcall(&g, HRPC_SOCK_BIND, u, &a);
	tap_ok(rc == -EACCES, "bind to the wildcard address -> -EACCES (%d)", rc);
	sg_addr(&a, AF_INET, "127.0.0.1", 80);
	rc = sg_addrcall(&g, HRPC_SOCK_BIND, u, &a);
	tap_ok(rc == -EACCES, "bind to a port outside the allowed ranges -> -EACCES (%d)", rc);
	sg_addr(&a, AF_INET, "127.0.0.1", 0);
	rc = sg_addrcall(&g, HRPC_SOCK_BIND, u, &a);
	tap_ok(rc == 0, "bind to an allowed address with port 0 works (%d)", rc);
	sg_close(&g, u);

	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	rc = sg_simple(&g, HRPC_SOCK_LISTEN, h, 4);
	tap_ok(rc == -EACCES, "listen without bind (an implicit wildcard bind) -> -EACCES (%d)", rc);
	sg_close(&g, h);
	sg_stop(&g);

	n = pread(afd, log, sizeof(log) - 1, 0);
	log[n > 0 ? n : 0] = 0;
	tap_ok(strstr(log, "connect 127.0.0.2:") && strstr(log, "denied by policy") &&
	       strstr(log, "sendto 127.0.0.2:9 denied") && strstr(log, "bind 0.0.0.0:0 denied") &&
	       strstr(log, "rules=7"), "denials are in the audit log with their addresses");
	close(lfd);
	close(afd);
	unlink(path);
}

static void test_syntax(void)
{
	static const char *const bad[] = {
		"connect allow 300.1.1.1\n",
		"connect maybe any\n",
		"bind allow 10.0.0.0/33\n",
		"bind allow any 70000\n",
		"bind allow any 5-3\n",
		"max-sockets 0\n",
		"netns relative/path\n",
		"frobnicate\n",
		"connect allow any 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\n",
		"translate 10.64.0.0/16 -> 2001:db8::/64\n",      /* 16 vs 64 host bits */
		"translate 10.64.0.0/16 -> 11.64.0.0/16\n",       /* IPv4 both sides */
		"translate 10.64.1.0/16 -> 2001:db8::/112\n",     /* host bits set */
		"translate 10.64.0.0/40 -> 2001:db8::/112\n",     /* length does not fit */
		"translate 10.64.0.0/16 -> ::ffff:10.0.0.0/112\n", /* IPv4-mapped is IPv4 */
		"translate 10.64.0.0/16 2001:db8::/112\n",        /* no arrow */
		"translate nat64 64:ff9b::/96\n",
		"translate\n",
	};
	struct sock_policy p;
	char err[128];
	int wrong = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sock_policy_init(&p);
		err[0] = 0;
		if (sock_policy_parse(&p, bad[i], err, sizeof(err)) != -EINVAL ||
		    strncmp(err, "line 1:", 7)) {
			wrong++;
			tap_diag("accepted or unexplained: %s", bad[i]);
		}
		sock_policy_clear(&p);
	}
	tap_ok(!wrong, "bad policies are refused with the line and the reason");
	{
		static const char *const overlapping[] = {
			"translate 10.64.0.0/16 -> 2001:db8:1::/112\ntranslate 10.64.5.0/24 -> 2001:db8:2::/120\n",
			"translate 10.64.0.0/16 -> 2001:db8:1::/112\ntranslate 10.65.0.0/24 -> 2001:db8:1::/120\n",
			"translate nat64\ntranslate 64:ff9b::/120 -> 10.0.0.0/24\n",
		};
		int w2 = 0;

		for (size_t i = 0; i < sizeof(overlapping) / sizeof(overlapping[0]); i++) {
			sock_policy_init(&p);
			err[0] = 0;
			if (sock_policy_parse(&p, overlapping[i], err, sizeof(err)) != -EINVAL ||
			    strncmp(err, "line 2:", 7) || !strstr(err, "line 1")) {
				w2++;
				tap_diag("overlap accepted or unexplained (\"%s\"): %s", err, overlapping[i]);
			}
			sock_policy_clear(&p);
		}
		sock_policy_init(&p);
		w2 += sock_policy_parse(&p, "translate nat64\ntranslate mapped\n"
					"translate 0.0.0.0/0 -> 2001:db8:46::/96\n", err, sizeof(err)) != 0;
		w2 += p.nxlat != 3;
		sock_policy_clear(&p);
		tap_ok(!w2, "overlapping translate rules are refused with both lines; nat64, mapped and "
		       "a 4->6 rule of all IPv4 live together (%d wrong)", w2);
	}
	{
		struct outsource_sock_config cfg = { .policy_text = "\n\nbind allow nowhere\n",
						     .audit_fd = -1 };
		outsource_sock *s = NULL;
		int rc = outsource_sock_new(&cfg, &s, err, sizeof(err));

		tap_ok(rc == -EINVAL && !s && strstr(err, "line 3"),
		       "the service does not start with a bad policy (\"%s\")", err);
	}
}

/* sock_addr_normalize(): what the kernel will use, and a policy file's
 * deny rule that no other spelling of its address gets past. */
static void test_normalize(void)
{
	static const struct {
		int family;
		const char *in;
		int dir;
		int out_family;
		const char *out;
	} cases[] = {
		{ AF_INET, "0.0.0.0", SOCK_POLICY_CONNECT, AF_INET, "127.0.0.1" },
		{ AF_INET, "0.0.0.0", SOCK_POLICY_BIND, AF_INET, "0.0.0.0" },
		{ AF_INET6, "::", SOCK_POLICY_CONNECT, AF_INET6, "::1" },
		{ AF_INET6, "::", SOCK_POLICY_BIND, AF_INET6, "::" },
		{ AF_INET6, "::1", SOCK_POLICY_CONNECT, AF_INET6, "::1" },
		{ AF_INET6, "::ffff:0.0.0.0", SOCK_POLICY_CONNECT, AF_INET, "127.0.0.1" },
		{ AF_INET6, "::ffff:10.1.2.3", SOCK_POLICY_CONNECT, AF_INET, "10.1.2.3" },
		{ AF_INET6, "::10.1.2.3", SOCK_POLICY_CONNECT, AF_INET, "10.1.2.3" },
		{ AF_INET6, "64:ff9b::10.1.2.3", SOCK_POLICY_CONNECT, AF_INET, "10.1.2.3" },
		{ AF_INET6, "2001:db8::1", SOCK_POLICY_CONNECT, AF_INET6, "2001:db8::1" },
	};
	static const char *const spellings[] = {
		"::ffff:10.1.2.3", "::10.1.2.3", "64:ff9b::a01:203",
	};
	struct sock_policy p;
	char err[128];
	int wrong = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = { .ss_family = (sa_family_t)cases[i].family };
		struct sock_addr_norm n;
		uint8_t want[16] = { 0 };
		int rc;

		if (cases[i].family == AF_INET)
			inet_pton(AF_INET, cases[i].in, &((struct sockaddr_in *)&ss)->sin_addr);
		else
			inet_pton(AF_INET6, cases[i].in, &((struct sockaddr_in6 *)&ss)->sin6_addr);
		inet_pton(cases[i].out_family, cases[i].out, want);
		rc = sock_addr_normalize((struct sockaddr *)&ss, sizeof(ss), cases[i].dir, &n);
		if (rc || n.family != cases[i].out_family ||
		    memcmp(n.addr, want, cases[i].out_family == AF_INET ? 4 : 16)) {
			wrong++;
			tap_diag("%s (%s) not read as %s", cases[i].in,
				 cases[i].dir == SOCK_POLICY_BIND ? "bind" : "connect", cases[i].out);
		}
	}
	{
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_scope_id = 7 };
		struct sock_addr_norm n;

		inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
		sock_addr_normalize((struct sockaddr *)&s6, sizeof(s6), SOCK_POLICY_CONNECT, &n);
		wrong += n.scope_id != 0;  /* Linux ignores it for a global address */
		wrong += sock_addr_normalize((struct sockaddr *)&s6, 8, SOCK_POLICY_CONNECT, &n) != -EINVAL;
	}
	tap_ok(!wrong, "addresses normalise to what the kernel will use (%d wrong)", wrong);

	sock_policy_init(&p);
	sock_policy_parse(&p, "connect deny 10.1.2.3\nconnect allow any\n", err, sizeof(err));
	wrong = 0;
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(80) };
		struct sock_addr_norm n;

		inet_pton(AF_INET6, spellings[i], &s6.sin6_addr);
		sock_addr_normalize((struct sockaddr *)&s6, sizeof(s6), SOCK_POLICY_CONNECT, &n);
		if (sock_policy_allows(&p, SOCK_POLICY_CONNECT, &n, NULL, NULL)) {
			wrong++;
			tap_diag("%s gets past 'connect deny 10.1.2.3'", spellings[i]);
		}
	}
	sock_policy_clear(&p);
	tap_ok(!wrong, "a deny rule for 10.1.2.3 holds for its mapped, compatible and NAT64 "
	       "spellings (%d wrong)", wrong);
}

/* ---- a guest in its own network namespace --------------------------------- */

static pid_t ns_child(int *ready)
{
	int pfd[2];
	pid_t pid;

	if (pipe(pfd) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct ifreq ifr = { 0 };
		char ok = 'n';
		int fd;

		close(pfd[0]);
		if (unshare(CLONE_NEWNET) == 0) {
			fd = socket(AF_INET, SOCK_DGRAM, 0);
			snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
			if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
				ifr.ifr_flags |= IFF_UP;
				if (ioctl(fd, SIOCSIFFLAGS, &ifr) == 0)
					ok = 'y';
			}
		}
		if (write(pfd[1], &ok, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	*ready = 0;
	if (pid > 0) {
		char c = 0;

		if (read(pfd[0], &c, 1) == 1 && c == 'y')
			*ready = 1;
	}
	close(pfd[0]);
	return pid;
}

static void test_netns(void)
{
	char pol[128];
	int ready = 0, lfd, rc, hfd;
	uint16_t hport;
	pid_t pid = ns_child(&ready);
	uint64_t lh, ch, ah, h;
	struct hrpc_sock_addr a, name;
	struct sockaddr_in sa = { .sin_family = AF_INET };

	if (pid <= 0 || !ready) {
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		for (int i = 0; i < 3; i++)
			printf("ok %d # SKIP cannot create a network namespace (needs CAP_SYS_ADMIN)\n",
			       ++tap_n);
		return;
	}
	/* the namespace's loopback is its own: the policy lets the guest use it */
	snprintf(pol, sizeof(pol), "netns /proc/%d/ns/net\nconnect allow loopback\n", (int)pid);
	rc = sg_start(&g, pol, -1);
	lfd = host_listener(&hport);

	/* a guest server inside the namespace, a guest client reaching it */
	sg_socket(&g, AF_INET, SOCK_STREAM, &lh);
	sg_addr(&a, AF_INET, "127.0.0.1", 0);
	sg_addrcall(&g, HRPC_SOCK_BIND, lh, &a);
	sg_simple(&g, HRPC_SOCK_LISTEN, lh, 4);
	sg_getname(&g, lh, false, &name);
	sg_socket(&g, AF_INET, SOCK_STREAM, &ch);
	rc = sg_connect(&g, ch, &name, 5000);
	if (!rc)
		rc = sg_accept(&g, lh, &ah, NULL, 5000);
	tap_ok(rc == 0, "netns: guest client reaches a guest server on the namespace's loopback");

	/* the host's loopback is another one */
	sg_socket(&g, AF_INET, SOCK_STREAM, &h);
	sg_addr(&a, AF_INET, "127.0.0.1", hport);
	rc = sg_connect(&g, h, &a, 5000);
	tap_ok(rc == -ECONNREFUSED, "netns: the host's 127.0.0.1:%u is not reachable (%d)", hport, rc);
	sa.sin_port = htons(name.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	hfd = socket(AF_INET, SOCK_STREAM, 0);
	rc = connect(hfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	tap_ok(rc == -ECONNREFUSED, "netns: the guest's listener is not on the host's loopback (%d)", rc);
	close(hfd);
	close(lfd);
	sg_stop(&g);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/*
 * A guest that has its denials audited in a loop: every one is answered
 * -EACCES, but the log takes at most OUTSOURCE_AUDIT_MAX_RATE lines a
 * second, and lines say how many were held back (the denials, and the
 * socket's close after them, which may fall in a full second too).  The
 * denials run far
 * faster than the cap (tens of thousands a second in-process); the bound
 * is checked against the wall time they took, whatever it was.
 */
static void test_audit_cap(void)
{
	enum { DENIALS = 20000 };
	char path[] = "/tmp/sock-policy-cap.XXXXXX";
	int afd = mkstemp(path), rc, denied = 0;
	g_autofree char *log = NULL;
	uint64_t u, t0, t1, held = 0;
	struct hrpc_sock_addr a;
	unsigned lines = 0, notes = 0, windows;
	bool stop_line;

	rc = sg_start(&g, policy, afd);
	if (rc < 0) {
		printf("Bail out! cannot start: %s\n", strerror(-rc));
		exit(1);
	}
	sg_socket(&g, AF_INET, SOCK_DGRAM, &u);
	sg_addr(&a, AF_INET, "127.0.0.2", 9);
	t0 = hrpc_now_ns();
	for (int i = 0; i < DENIALS; i++)
		denied += sg_send(&g, u, "x", 1, NULL, 0, &a) == -EACCES;
	t1 = hrpc_now_ns();
	sg_close(&g, u);
	sg_stop(&g);
	g_file_get_contents(path, &log, NULL, NULL);
	{
		g_auto(GStrv) v = g_strsplit(log ? log : "", "\n", -1);

		for (int i = 0; v[i] && v[i][0]; i++) {
			const char *n = strstr(v[i], " audit: ");

			if (strstr(v[i], "sendto 127.0.0.2:9 denied"))
				lines++;
			if (n) {
				notes++;
				held += g_ascii_strtoull(n + 8, NULL, 10);
			}
		}
		stop_line = log && strstr(log, "service stop created=1 denied=20000");
	}
	/* Windows of one second the denials touched, at most. */
	windows = (unsigned)((t1 - t0) / 1000000000u) + 2;
	tap_ok(denied == DENIALS && lines >= 1 && lines <= windows * OUTSOURCE_AUDIT_MAX_RATE &&
	       lines + held >= DENIALS && lines + held <= DENIALS + 2 && notes >= 1 && stop_line,
	       "%d denials in %.2f s: %u audit lines (at most %u a second), %u lines say %llu "
	       "were held back, the stop line counts all", denied, (double)(t1 - t0) / 1e9, lines,
	       OUTSOURCE_AUDIT_MAX_RATE, notes, (unsigned long long)held);
	close(afd);
	unlink(path);
}

int main(void)
{
	tap_plan(21);
	test_rules();
	test_audit_cap();
	test_syntax();
	test_normalize();
	test_netns();
	return tap_done();
}
