/* SPDX-License-Identifier: MIT */
/*
 * fuzz-netns.h - a private network namespace for the socket fuzz targets
 * (fuzz-sock, fuzz-socktable), from LLVMFuzzerInitialize: root makes one
 * directly, anyone else inside a user namespace of their own.
 */
#ifndef TESTS_FUZZ_NETNS_H
#define TESTS_FUZZ_NETNS_H

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	strcpy(ifr.ifr_name, "lo");
	if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (fd >= 0)
		close(fd);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		rc = -errno;
	close(fd);
	return rc;
}

/* A network namespace with only loopback.  root makes one directly; anyone
 * else makes it inside a user namespace of their own, which gives them
 * CAP_NET_ADMIN over it (that needs a single-threaded process: libFuzzer
 * calls this before it starts its threads). */
static int private_netns(void)
{
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();
	int rc;

	if (unshare(CLONE_NEWNET) == 0)
		return 0;
	if (errno != EPERM)
		return -errno;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
		return -errno;
	/* Our own ids map to root inside; setgroups must be denied first. */
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
	rc = write_file("/proc/self/uid_map", map);
	if (rc < 0)
		return rc;
	rc = write_file("/proc/self/setgroups", "deny");
	if (rc < 0)
		return rc;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
	return write_file("/proc/self/gid_map", map);
}

#endif /* TESTS_FUZZ_NETNS_H */
