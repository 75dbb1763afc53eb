// SPDX-License-Identifier: MIT
/*
 * fs-probe - the system calls tests/vm/fs/fs-vm.sh needs that busybox has
 * no applet for, one per subcommand.  Each prints one line (the result or
 * the errno's name) and exits 0 when the call did what the line says.
 *
 *   runas UID GID CMD...       setgroups(0) setgid setuid, exec CMD
 *   errno-open PATH FLAGS      open(PATH, FLAGS: w|excl|r); errno name or "ok"
 *   errno-unlink PATH          unlink; errno name or "ok"
 *   append PATH N TAG          N lines "TAG i" with O_APPEND, one write each
 *   mmapw PATH OFF TEXT        MAP_SHARED write of TEXT at OFF, msync, munmap
 *   flocknb PATH               flock(LOCK_EX|LOCK_NB): "ok" or errno name
 *   fsyncw PATH TEXT           write TEXT, fsync: "ok" or errno name
 *   direct PATH                O_DIRECT read of PATH to stdout
 *   noreplace OLD NEW          renameat2(RENAME_NOREPLACE): "ok" or errno name
 *   whiteout OLD NEW           renameat2(RENAME_WHITEOUT): "ok" or errno name
 *   unlink-open PATH           open, unlink, read: the bytes read
 *   rename-open SRC DST        open DST, rename SRC over DST, read the fd
 *   xattr PATH                 set user.hrpc=v1, get, list (size probe), ERANGE
 *   pwrite PATH OFF TEXT       pwrite TEXT at OFF, fsync
 *   watch PATH TEXT MS         reread PATH until it starts with TEXT: "seen N ms"
 *   mmapwatch PATH TEXT MS     map PATH shared, read it, then watch the mapping
 *                              until it starts with TEXT: "seen N ms"
 *   waitfile PATH MS           until PATH exists: "seen N ms"
 *   setlk PATH                 F_SETLK write lock: "ok" or errno name
 *   locktwo PATH               locks that are granted, and conflicts between
 *                              two opens (flock) and two processes (F_SETLK):
 *                              "ok" or what went wrong
 *   setlkw PATH SECS           F_SETLKW with alarm(SECS): "ok"/errno name, "N ms"
 *   bulkfree                   free bytes of /dev/hostrpc0's bulk data area
 *   punch PATH OFF LEN         fallocate(PUNCH_HOLE|KEEP_SIZE), then read it back:
 *                              "ok zeros" when the range reads as zeros
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/syscall.h>
#include <signal.h>
#include <sys/ioctl.h>
#include "hostrpc/chardev.h"

static void on_alarm(int sig)
{
	(void)sig;
}

static const char *ename(int e)
{
	switch (e) {
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case EWOULDBLOCK: return "EWOULDBLOCK";
	case EINVAL: return "EINVAL";
	case EIO: return "EIO";
	case ERANGE: return "ERANGE";
	case ENODATA: return "ENODATA";
	case EROFS: return "EROFS";
	case EBADF: return "EBADF";
	case ENOTSUP: return "ENOTSUP";
	case EINTR: return "EINTR";
	default: return strerror(e);
	}
}

static int say(int ret)
{
	if (ret < 0) {
		printf("%s\n", ename(errno));
		return 1;
	}
	printf("ok\n");
	return 0;
}

static long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int rename2(const char *a, const char *b, unsigned int flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	char buf[65536];
	int fd;

	if (!strcmp(cmd, "runas") && argc > 4) {
		gid_t g = atoi(argv[3]);

		if (setgroups(0, NULL) || setgid(g) || setuid(atoi(argv[2]))) {
			perror("runas");
			return 126;
		}
		execvp(argv[4], argv + 4);
		perror("exec");
		return 127;
	}
	if (!strcmp(cmd, "errno-open") && argc > 3) {
		int fl = !strcmp(argv[3], "w") ? O_WRONLY :
			 !strcmp(argv[3], "excl") ? O_WRONLY | O_CREAT | O_EXCL : O_RDONLY;

		return say(open(argv[2], fl, 0644));
	}
	if (!strcmp(cmd, "errno-unlink") && argc > 2)
		return say(unlink(argv[2]));
	if (!strcmp(cmd, "append") && argc > 4) {
		int i, n = atoi(argv[3]);

		fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (fd < 0)
			return say(-1);
		for (i = 0; i < n; i++) {
			int len = snprintf(buf, sizeof(buf), "%s %d\n", argv[4], i);

			if (write(fd, buf, len) != len)
				return say(-1);
		}
		return say(close(fd));
	}
	if (!strcmp(cmd, "mmapw") && argc > 4) {
		off_t off = atol(argv[3]);
		size_t len = strlen(argv[4]);
		char *p;

		fd = open(argv[2], O_RDWR);
		if (fd < 0)
			return say(-1);
		p = mmap(NULL, off + len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return say(-1);
		memcpy(p + off, argv[4], len);
		if (msync(p, off + len, MS_SYNC))
			return say(-1);
		munmap(p, off + len);
		return say(close(fd));
	}
	if (!strcmp(cmd, "flocknb") && argc > 2) {
		fd = open(argv[2], O_RDONLY);
		if (fd < 0)
			return say(-1);
		return say(flock(fd, LOCK_EX | LOCK_NB));
	}
	if (!strcmp(cmd, "locktwo") && argc > 2) {
		struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10,
				   .l_len = 5 };
		int a = open(argv[2], O_RDWR), b = open(argv[2], O_RDWR), p[2], q[2];
		char c;
		pid_t pid;

		if (a < 0 || b < 0 || pipe(p) < 0 || pipe(q) < 0)
			return say(-1);
		if (flock(a, LOCK_EX | LOCK_NB) < 0)
			return printf("flock granted: %s\n", ename(errno)), 1;
		if (flock(b, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK)
			return printf("second open's flock not refused\n"), 1;
		if (flock(a, LOCK_UN) < 0 || flock(b, LOCK_SH | LOCK_NB) < 0)
			return printf("flock after unlock: %s\n", ename(errno)), 1;
		flock(b, LOCK_UN);
		pid = fork();
		if (pid == 0) {
			int fd = open(argv[2], O_RDWR);

			c = fcntl(fd, F_SETLK, &l) == 0 ? 'y' : 'n';
			(void)!write(p[1], &c, 1);
			(void)!read(q[0], &c, 1);   /* hold until the parent tried */
			_exit(0);
		}
		if (read(p[0], &c, 1) != 1 || c != 'y')
			return printf("child's F_SETLK [10,15) not granted\n"), 1;
		l.l_start = 12;
		l.l_len = 1;
		if (fcntl(a, F_SETLK, &l) == 0 || (errno != EAGAIN && errno != EACCES))
			return printf("overlapping F_SETLK not refused: %s\n", ename(errno)), 1;
		l.l_start = 20;
		if (fcntl(a, F_SETLK, &l) < 0)
			return printf("disjoint F_SETLK: %s\n", ename(errno)), 1;
		(void)!write(q[1], "x", 1);
		waitpid(pid, NULL, 0);
		l.l_start = 12;
		return say(fcntl(a, F_SETLK, &l));   /* the child's lock went with it */
	}
	if (!strcmp(cmd, "setlk") && argc > 2) {
		struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		fd = open(argv[2], O_RDWR);
		if (fd < 0)
			return say(-1);
		return say(fcntl(fd, F_SETLK, &l));
	}
	if (!strcmp(cmd, "setlkw") && argc > 3) {
		struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
		long t0;
		int ret;

		fd = open(argv[2], O_RDWR);
		if (fd < 0)
			return say(-1);
		sigaction(SIGALRM, &sa, NULL);
		alarm(atoi(argv[3]));
		t0 = ms_now();
		ret = fcntl(fd, F_SETLKW, &l);
		printf("%s %ld ms\n", ret ? ename(errno) : "ok", ms_now() - t0);
		return 0;
	}
	if (!strcmp(cmd, "punch") && argc > 4) {
		off_t off = atol(argv[3]);
		size_t len = atol(argv[4]), i;
		char *p = malloc(len);

		fd = open(argv[2], O_RDWR);
		if (fd < 0 || !p || fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len))
			return say(-1);
		if (pread(fd, p, len, off) != (ssize_t)len)
			return say(-1);
		for (i = 0; i < len && !p[i]; i++)
			;
		printf("%s\n", i == len ? "ok zeros" : "not zeros");
		return i != len;
	}
	if (!strcmp(cmd, "bulkfree")) {
		struct hrpc_ioc_info i = { .argsz = sizeof(i) };

		fd = open("/dev/hostrpc0", O_RDWR);
		if (fd < 0 || ioctl(fd, HRPC_IOC_INFO, &i) < 0)
			return say(-1);
		printf("%u\n", i.data_free);
		return 0;
	}
	if (!strcmp(cmd, "fsyncw") && argc > 3) {
		size_t len = strlen(argv[3]);

		fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, argv[3], len) != (ssize_t)len)
			return say(-1);
		if (fsync(fd))
			return say(-1);
		return say(close(fd));
	}
	if (!strcmp(cmd, "pwrite") && argc > 4) {
		size_t len = strlen(argv[4]);

		fd = open(argv[2], O_WRONLY | O_CREAT, 0644);
		if (fd < 0 || pwrite(fd, argv[4], len, atol(argv[3])) != (ssize_t)len || fsync(fd))
			return say(-1);
		return say(close(fd));
	}
	if (!strcmp(cmd, "direct") && argc > 2) {
		void *p;
		ssize_t n;

		if (posix_memalign(&p, 4096, 1 << 20))
			return 1;
		fd = open(argv[2], O_RDONLY | O_DIRECT);
		if (fd < 0) {
			fprintf(stderr, "open O_DIRECT: %s\n", ename(errno));
			return 1;
		}
		while ((n = read(fd, p, 1 << 20)) > 0)
			if (fwrite(p, 1, n, stdout) != (size_t)n)
				return 1;
		if (n < 0) {
			fprintf(stderr, "read O_DIRECT: %s\n", ename(errno));
			return 1;
		}
		return 0;
	}
	if (!strcmp(cmd, "noreplace") && argc > 3)
		return say(rename2(argv[2], argv[3], RENAME_NOREPLACE));
	if (!strcmp(cmd, "whiteout") && argc > 3)
		return say(rename2(argv[2], argv[3], RENAME_WHITEOUT));
	if (!strcmp(cmd, "unlink-open") && argc > 2) {
		ssize_t n;

		fd = open(argv[2], O_RDONLY);
		if (fd < 0 || unlink(argv[2]))
			return say(-1);
		n = read(fd, buf, sizeof(buf) - 1);
		if (n < 0)
			return say(-1);
		buf[n] = 0;
		printf("%s\n", buf);
		return 0;
	}
	if (!strcmp(cmd, "rename-open") && argc > 3) {
		ssize_t n;

		fd = open(argv[3], O_RDONLY);
		if (fd < 0 || rename(argv[2], argv[3]))
			return say(-1);
		n = read(fd, buf, sizeof(buf) - 1);
		if (n < 0)
			return say(-1);
		buf[n] = 0;
		printf("%s\n", buf);
		return 0;
	}
	if (!strcmp(cmd, "xattr") && argc > 2) {
		char small[1];
		ssize_t n, m;

		if (setxattr(argv[2], "user.hrpc", "v1", 2, 0))
			return say(-1);
		n = getxattr(argv[2], "user.hrpc", buf, sizeof(buf));
		if (n != 2 || memcmp(buf, "v1", 2)) {
			printf("get %zd\n", n);
			return 1;
		}
		m = listxattr(argv[2], NULL, 0);
		n = listxattr(argv[2], buf, sizeof(buf));
		if (n <= 0 || m != n || !memmem(buf, n, "user.hrpc", 10)) {
			printf("list %zd/%zd\n", m, n);
			return 1;
		}
		if (getxattr(argv[2], "user.hrpc", small, sizeof(small)) >= 0 || errno != ERANGE) {
			printf("no ERANGE: %s\n", ename(errno));
			return 1;
		}
		if (removexattr(argv[2], "user.hrpc") ||
		    getxattr(argv[2], "user.hrpc", buf, sizeof(buf)) >= 0 || errno != ENODATA) {
			printf("remove: %s\n", ename(errno));
			return 1;
		}
		if (setxattr(argv[2], "user.kept", "kept-value", 10, 0))
			return say(-1);
		printf("ok set/get/list/ERANGE/remove\n");
		return 0;
	}
	if (!strcmp(cmd, "watch") && argc > 4) {
		long t0 = ms_now(), limit = atol(argv[4]);
		size_t len = strlen(argv[3]);

		for (;;) {
			ssize_t n = -1;

			fd = open(argv[2], O_RDONLY);
			if (fd >= 0) {
				n = read(fd, buf, sizeof(buf));
				close(fd);
			}
			if (n >= (ssize_t)len && !memcmp(buf, argv[3], len)) {
				printf("seen %ld ms\n", ms_now() - t0);
				return 0;
			}
			if (ms_now() - t0 > limit) {
				printf("not seen in %ld ms\n", limit);
				return 1;
			}
			usleep(5000);
		}
	}
	if (!strcmp(cmd, "mmapwatch") && argc > 4) {
		size_t len = strlen(argv[3]);
		long t0, limit = atol(argv[4]);
		volatile char *p;
		char first;

		fd = open(argv[2], O_RDONLY);
		if (fd < 0)
			return say(-1);
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return say(-1);
		first = p[0];   /* the page is in, with what the file held */
		(void)first;
		t0 = ms_now();
		for (;;) {
			size_t i;

			for (i = 0; i < len && p[i] == argv[3][i]; i++)
				;
			if (i == len) {
				printf("seen %ld ms\n", ms_now() - t0);
				return 0;
			}
			if (ms_now() - t0 > limit) {
				printf("not seen in %ld ms\n", limit);
				return 1;
			}
			usleep(5000);
		}
	}
	if (!strcmp(cmd, "waitfile") && argc > 3) {
		long t0 = ms_now(), limit = atol(argv[3]);
		struct stat st;

		while (stat(argv[2], &st)) {
			if (ms_now() - t0 > limit) {
				printf("not seen in %ld ms\n", limit);
				return 1;
			}
			usleep(5000);
		}
		printf("seen %ld ms\n", ms_now() - t0);
		return 0;
	}
	fprintf(stderr, "usage: fs-probe CMD ARGS (see the source)\n");
	return 2;
}
