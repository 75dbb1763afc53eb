/* SPDX-License-Identifier: MIT */
/*
 * fs-mig-probe - the guest's side of tests/vm/migrate/migrate-hosts-differ.sh:
 * files of an outsourced filesystem (hostrpcfs) and a TCP connection that
 * must keep working while the guest moves to a host configured otherwise.
 *
 *   fs-mig-probe DIR WORLD_IP WPORT SECONDS
 *
 * Opens, and keeps open for SECONDS: DIR/log.txt for appending (one line
 * "line N" every 50 ms), DIR/input.bin for reading (4 KiB every 50 ms,
 * from the start again at its end, every byte checked against the
 * pattern the host wrote), DIR/lock with an exclusive flock and a POSIX
 * lock on its first 10 bytes; a TCP connection to WORLD_IP:WPORT (an echo
 * service) with a 16 KiB round trip every 50 ms, checked.  Once a second
 * "fsm t=... lines=... read=... tcp=... bad=...".  At the end it reads
 * log.txt back (every line, in order, once) and prints
 * "fsm done lines=N read=R tcp=T bad=B verify=ok|BAD", exit 0 when all
 * is right.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* input.bin's byte at offset i (the test writes the same with python) */
static uint8_t pat(uint64_t i)
{
	return (uint8_t)((i * 7 + (i >> 8)) & 0xff);
}

static int echo_round(int fd, uint64_t *off)
{
	static uint8_t out[16384], in[16384];
	size_t sent = 0, got = 0;

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)((*off + i) * 131);
	while (got < sizeof(in)) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < sizeof(out) ? POLLOUT : 0) };
		ssize_t r;

		if (poll(&p, 1, 10000) != 1)
			return -ETIMEDOUT;
		if (sent < sizeof(out) && (p.revents & POLLOUT)) {
			r = send(fd, out + sent, sizeof(out) - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (r < 0 && errno != EAGAIN)
				return -errno;
			if (r > 0)
				sent += (size_t)r;
		}
		if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
			r = recv(fd, in + got, sizeof(in) - got, MSG_DONTWAIT);
			if (r == 0)
				return -ECONNRESET;
			if (r < 0 && errno != EAGAIN)
				return -errno;
			if (r > 0)
				got += (size_t)r;
		}
	}
	*off += sizeof(out);
	return memcmp(in, out, sizeof(in)) ? -EBADMSG : 0;
}

int main(int argc, char **argv)
{
	char path[512], line[64], buf[4096];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	long lines = 0, bad = 0, tcp_err = 0;
	uint64_t rd = 0, tcp = 0, in_off = 0;
	int logfd, infd, lockfd, sfd, secs;
	double t0, next;
	FILE *f;

	if (argc != 5) {
		fprintf(stderr, "usage: fs-mig-probe DIR WORLD_IP WPORT SECONDS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	secs = atoi(argv[4]);
	snprintf(path, sizeof(path), "%s/log.txt", argv[1]);
	logfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0644);
	snprintf(path, sizeof(path), "%s/input.bin", argv[1]);
	infd = open(path, O_RDONLY);
	snprintf(path, sizeof(path), "%s/lock", argv[1]);
	lockfd = open(path, O_RDWR | O_CREAT, 0644);
	if (logfd < 0 || infd < 0 || lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0 ||
	    fcntl(lockfd, F_SETLK, &fl) < 0) {
		printf("fsm cannot open or lock: %s\n", strerror(errno));
		return 2;
	}
	sfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_port = htons((uint16_t)atoi(argv[3]));
	inet_pton(AF_INET, argv[2], &sa.sin_addr);
	if (connect(sfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("fsm cannot connect: %s\n", strerror(errno));
		return 2;
	}
	printf("fsm up\n");
	t0 = now();
	next = t0 + 1;
	while (now() - t0 < secs) {
		ssize_t n;
		int len = snprintf(line, sizeof(line), "line %ld\n", lines);

		if (write(logfd, line, (size_t)len) != len) {
			printf("fsm write: %s\n", strerror(errno));
			bad++;
		} else {
			lines++;
		}
		n = read(infd, buf, sizeof(buf));
		if (n == 0) {
			lseek(infd, 0, SEEK_SET);
			in_off = 0;
		} else if (n < 0) {
			printf("fsm read: %s\n", strerror(errno));
			bad++;
		} else {
			for (ssize_t i = 0; i < n; i++)
				if ((uint8_t)buf[i] != pat(in_off + (uint64_t)i))
					bad++;
			in_off += (uint64_t)n;
			rd += (uint64_t)n;
		}
		if (!tcp_err) {
			int r = echo_round(sfd, &tcp);

			if (r < 0) {
				printf("fsm tcp: %s\n", strerror(-r));
				tcp_err = 1;
				bad++;
			}
		}
		if (now() >= next) {
			printf("fsm t=%.0f lines=%ld read=%llu tcp=%llu bad=%ld\n", now() - t0, lines,
			       (unsigned long long)rd, (unsigned long long)tcp, bad);
			next += 1;
		}
		usleep(50000);
	}
	if (fsync(logfd) < 0)
		bad++;
	close(logfd);
	close(infd);
	snprintf(path, sizeof(path), "%s/log.txt", argv[1]);
	f = fopen(path, "r");
	{
		long want = 0;
		char l[64];

		while (f && fgets(l, sizeof(l), f)) {
			char expect[64];

			snprintf(expect, sizeof(expect), "line %ld\n", want);
			if (strcmp(l, expect))
				break;
			want++;
		}
		printf("fsm done lines=%ld read=%llu tcp=%llu bad=%ld verify=%s\n", lines,
		       (unsigned long long)rd, (unsigned long long)tcp, bad,
		       f && want == lines && feof(f) ? "ok" : "BAD");
		if (f)
			fclose(f);
		close(lockfd);
		return bad || want != lines;
	}
}
