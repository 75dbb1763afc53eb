/* area-forge-probe - guest side of tests/vm/sock/sock-forged-area.sh.
 *
 * usage: area-forge-probe PORT tcp|udp prod|rec|none
 *
 * Opens a connected socket to the host's echo server on 127.0.0.1:PORT and
 * checks it echoes, writes WHAT to hostrpc_sock's debug_forge_area ("none":
 * write nothing, to see the test fail), then waits (30 s at most) for the
 * old socket to report the host's reset, and for a new socket to echo.
 * One line per step ("step: ok ..." or "step: FAILED ..."), for the test
 * to grep; exit 0 when every step went as documented for a host reset
 * (drivers-frontend/sock/README.md: existing sockets fail with ECONNRESET
 * and poll POLLERR|POLLHUP, new sockets work once the channel re-attached).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define PARAM "/sys/module/hostrpc_sock/parameters/debug_forge_area"

static int port, type;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A connected socket that echoed one message, or -1 (errno in *err). */
static int echo_sock(const char *msg, int *err)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 5 };
	char buf[256];
	size_t len = strlen(msg), got = 0;
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, type, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	if (send(fd, msg, len, 0) != (ssize_t)len)
		goto fail;
	while (got < len) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);

		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;
			goto fail;
		}
		got += (size_t)n;
		if (type == SOCK_DGRAM)
			break;
	}
	if (got != len || memcmp(buf, msg, len)) {
		errno = EBADMSG;
		goto fail;
	}
	return fd;
fail:
	*err = errno;
	if (fd >= 0)
		close(fd);
	return -1;
}

int main(int argc, char **argv)
{
	const char *what;
	struct pollfd p;
	double t0, t1;
	int old, fd = -1, err = 0, rc = 0, pr;
	char c;
	ssize_t n;

	if (argc != 4) {
		fprintf(stderr, "usage: %s PORT tcp|udp prod|rec|none\n", argv[0]);
		return 2;
	}
	port = atoi(argv[1]);
	type = strcmp(argv[2], "udp") ? SOCK_STREAM : SOCK_DGRAM;
	what = argv[3];

	old = echo_sock("before the forgery", &err);
	if (old < 0) {
		printf("before: FAILED %s\n", strerror(err));
		return 1;
	}
	printf("before: ok %s socket echoes\n", argv[2]);
	fflush(stdout);

	if (strcmp(what, "none")) {
		int pf = open(PARAM, O_WRONLY);

		if (pf < 0 || write(pf, what, strlen(what)) != (ssize_t)strlen(what)) {
			printf("forge: FAILED %s: %s\n", PARAM, strerror(errno));
			return 1;
		}
		close(pf);
		printf("forge: ok wrote %s to debug_forge_area\n", what);
	} else {
		printf("forge: skipped (none)\n");
	}
	fflush(stdout);
	t0 = now();

	/* The old socket: the reset shows as POLLERR|POLLHUP, then ECONNRESET. */
	p = (struct pollfd){ .fd = old, .events = POLLIN };
	pr = poll(&p, 1, 30000);
	if (pr == 1 && (p.revents & (POLLERR | POLLHUP)) == (POLLERR | POLLHUP)) {
		printf("old-poll: ok POLLERR|POLLHUP after %.2f s (revents 0x%x)\n", now() - t0,
		       p.revents);
	} else {
		printf("old-poll: FAILED poll %d revents 0x%x after %.2f s\n", pr, p.revents,
		       now() - t0);
		rc = 1;
	}
	n = recv(old, &c, 1, MSG_DONTWAIT);
	err = errno;
	if (n < 0 && err == ECONNRESET) {
		printf("old-recv: ok ECONNRESET\n");
	} else {
		printf("old-recv: FAILED recv %zd %s\n", n, n < 0 ? strerror(err) : "");
		rc = 1;
	}
	n = send(old, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	err = errno;
	if (n < 0 && err == ECONNRESET) {
		printf("old-send: ok ECONNRESET\n");
	} else {
		printf("old-send: FAILED send %zd %s\n", n, n < 0 ? strerror(err) : "");
		rc = 1;
	}
	close(old);

	/* A new socket works once the channel re-attached (30 s of its own). */
	t1 = now();
	do {
		fd = echo_sock("after the reset", &err);
		if (fd >= 0)
			break;
		usleep(100000);
	} while (now() - t1 < 30);
	if (fd >= 0) {
		printf("after: ok a new %s socket echoes %.2f s after the forgery\n", argv[2],
		       now() - t0);
		close(fd);
	} else {
		printf("after: FAILED no new socket echoed within 30 s (last: %s)\n", strerror(err));
		rc = 1;
	}
	return rc;
}
