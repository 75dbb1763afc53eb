/* SPDX-License-Identifier: MIT */
/*
 * listen-echo - the guest's side of tests/vm/migrate/migrate-forward-listen.sh:
 * a listener bound to 127.0.0.1 (an address only the host it runs on has)
 * that must keep taking connections made at the source after the guest
 * moved (issue 14: the remnant keeps a copy and forwards what it accepts).
 *
 *   listen-echo PORT SECONDS
 *
 * Listens on 127.0.0.1:PORT and echoes every byte of every connection.
 * Prints "lis up" once listening, "lis accept N peer=IP:PORT local=IP:PORT"
 * per connection (getpeername/getsockname: the addresses at the host where
 * the connection was made) and "lis close N bytes=B" when its peer closes.
 * Exits after SECONDS.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 32

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void name(int fd, int peer, char *buf, size_t len)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char a[32] = "?";

	if ((peer ? getpeername(fd, (struct sockaddr *)&sa, &sl) :
		    getsockname(fd, (struct sockaddr *)&sa, &sl)) == 0)
		inet_ntop(AF_INET, &sa.sin_addr, a, sizeof(a));
	snprintf(buf, len, "%s:%d", a, ntohs(sa.sin_port));
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct pollfd p[MAXC + 1];
	unsigned long long bytes[MAXC + 1];
	int id[MAXC + 1], n = 1, next = 1, one = 1;
	double end;
	int lfd;

	if (argc != 3) {
		fprintf(stderr, "usage: listen-echo PORT SECONDS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	end = now() + atof(argv[2]);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0) {
		printf("lis cannot listen: %s\n", strerror(errno));
		return 1;
	}
	printf("lis up\n");
	p[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	while (now() < end) {
		if (poll(p, (nfds_t)n, 200) <= 0)
			continue;
		if ((p[0].revents & POLLIN) && n <= MAXC) {
			int fd = accept(lfd, NULL, NULL);
			char pa[64], la[64];

			if (fd >= 0) {
				name(fd, 1, pa, sizeof(pa));
				name(fd, 0, la, sizeof(la));
				printf("lis accept %d peer=%s local=%s\n", next, pa, la);
				p[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
				bytes[n] = 0;
				id[n++] = next++;
			}
		}
		for (int i = 1; i < n; i++) {
			char buf[65536];
			ssize_t r;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(p[i].fd, buf, sizeof(buf));
			if (r > 0) {
				for (ssize_t o = 0; o < r;) {
					ssize_t w = write(p[i].fd, buf + o, (size_t)(r - o));

					if (w <= 0)
						break;
					o += w;
				}
				bytes[i] += (unsigned long long)r;
				continue;
			}
			printf("lis close %d bytes=%llu%s%s\n", id[i], bytes[i], r < 0 ? " error=" : "",
			       r < 0 ? strerror(errno) : "");
			close(p[i].fd);
			p[i] = p[n - 1];
			bytes[i] = bytes[n - 1];
			id[i] = id[n - 1];
			n--;
			i--;
		}
	}
	printf("lis done\n");
	sleep(2);
	return 0;
}
