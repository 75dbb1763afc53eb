/* SPDX-License-Identifier: MIT */
/*
 * test-socket-mode - hostrpcd's unix sockets never exist with a mode wider
 * than the one asked for, whatever the umask: bind() is interposed here and
 * looks at the file the moment the kernel created it, before any chmod()
 * could narrow it.  (A chmod after bind leaves a window in which anyone may
 * connect to the guest, admin or ivshmem socket.)  Covers
 * hrpcd_listen_socket_open() (guest, admin and ivshmem endpoint sockets) and
 * hrpcd_unix_bind() (the fd holder's SOCK_SEQPACKET socket).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>

#include "hostrpc/daemon/listen-socket.h"
#include "tests/tap.h"

static mode_t at_bind = (mode_t)-1;

/* Every bind() of this program (the daemon code is linked in): record the
 * mode of the file right after the kernel made it. */
int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct stat st;
	long rc = syscall(SYS_bind, fd, addr, len);

	if (rc == 0 && addr->sa_family == AF_UNIX &&
	    lstat(((const struct sockaddr_un *)addr)->sun_path, &st) == 0)
		at_bind = st.st_mode & 07777;
	return (int)rc;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static void listen_case(const char *dir, mode_t umask_v, mode_t want)
{
	g_autofree char *path = g_strdup_printf("%s/s-%03o-%03o.sock", dir, umask_v, want);
	g_autoptr(GError) err = NULL;
	int fd;

	umask(umask_v);
	at_bind = (mode_t)-1;
	fd = hrpcd_listen_socket_open(path, want, &err);
	umask(022);
	tap_ok(fd >= 0 && at_bind != (mode_t)-1 && !(at_bind & ~want),
	       "listen socket, umask %03o, mode %03o: created %03o (never wider)%s%s", umask_v,
	       want, at_bind, err ? ": " : "", err ? err->message : "");
	tap_ok(fd >= 0 && mode_of(path) == want, "... and then exactly %03o (%03o)", want,
	       mode_of(path));
	hrpcd_listen_socket_close(fd, path);
}

int main(void)
{
	g_autofree char *dir = g_dir_make_tmp("hrpc-sockmode-XXXXXX", NULL);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, rc;

	tap_plan(9);
	if (!dir)
		tap_skip_all("no temporary directory");
	listen_case(dir, 0, 0600);     /* ivshmem endpoints, admin socket */
	listen_case(dir, 0, 0660);     /* process-guest socket */
	listen_case(dir, 077, 0660);   /* a strict umask does not narrow the final mode */

	/* The fd holder's socket. */
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/fdstore.sock", dir);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	umask(0);
	at_bind = (mode_t)-1;
	rc = hrpcd_unix_bind(fd, &a, 0600);
	umask(022);
	tap_ok(rc == 0 && at_bind != (mode_t)-1 && !(at_bind & ~0600),
	       "fd holder socket, umask 000: created %03o (never wider than 600)", at_bind);
	tap_ok(rc == 0 && mode_of(a.sun_path) == 0600, "... and then exactly 600 (%03o)",
	       mode_of(a.sun_path));
	tap_ok(hrpcd_unix_bind(fd, &a, 0600) < 0, "binding a bound socket again fails");
	close(fd);
	unlink(a.sun_path);
	rmdir(dir);
	return tap_done();
}
