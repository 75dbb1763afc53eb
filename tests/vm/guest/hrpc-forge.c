/* SPDX-License-Identifier: MIT */
/*
 * hrpc-forge - guest program: play the hostile guest.  Asks hostrpc_core
 * (loaded with debug_forge=1) to write a forged request ring index or an
 * impossible record length into shared memory and ring the doorbell, so
 * that the host must fence this guest (docs/protocol.md section 5).
 *
 * usage: hrpc-forge [-d DEV] [-q] prod|len [VALUE]
 *   -q:   quiet: publish the forgery but ring no doorbell; the host finds it
 *         only when it looks on its own (e.g. hostrpc-migrate's quiesce)
 *   prod: the request ring's prod index runs VALUE bytes ahead of ours
 *         (default: ring size + 8, more than the ring holds)
 *   len:  a record header claiming VALUE payload bytes (default 65536) of
 *         which only the header is published
 * Exits 0 when the forgery was published, 1 on error, 77 if the device is
 * missing or the module was loaded without debug_forge=1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hostrpc/chardev.h"

int main(int argc, char **argv)
{
	const char *dev = "/dev/hostrpc0";
	struct hrpc_ioc_forge f = { .argsz = sizeof(f) };
	int fd, arg = 1;

	if (argc > arg + 1 && !strcmp(argv[arg], "-d")) {
		dev = argv[arg + 1];
		arg += 2;
	}
	if (argc > arg && !strcmp(argv[arg], "-q")) {
		f.flags |= HRPC_IOC_FORGE_F_QUIET;
		arg++;
	}
	if (arg >= argc || argc > arg + 2) {
		fprintf(stderr, "usage: %s [-d DEV] [-q] prod|len [VALUE]\n", argv[0]);
		return 2;
	}
	if (!strcmp(argv[arg], "prod"))
		f.what = HRPC_IOC_FORGE_REQ_PROD;
	else if (!strcmp(argv[arg], "len"))
		f.what = HRPC_IOC_FORGE_REC_LEN;
	else {
		fprintf(stderr, "%s: forge \"prod\" or \"len\", not \"%s\"\n", argv[0], argv[arg]);
		return 2;
	}
	if (arg + 1 < argc)
		f.value = (__u32)strtoul(argv[arg + 1], NULL, 0);

	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("# SKIP cannot open %s: %s\n", dev, strerror(errno));
		return 77;
	}
	if (ioctl(fd, HRPC_IOC_DEBUG_FORGE, &f) < 0) {
		int err = errno;

		printf("%s - forge %s: %s\n", err == EPERM ? "# SKIP" : "not ok", argv[arg],
		       err == EPERM ? "hostrpc_core was loaded without debug_forge=1" : strerror(err));
		return err == EPERM ? 77 : 1;
	}
	printf("ok - forged %s published, %s\n", argv[arg],
	       f.flags & HRPC_IOC_FORGE_F_QUIET ? "no doorbell" : "doorbell rung");
	close(fd);
	return 0;
}
