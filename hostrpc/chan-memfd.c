/* SPDX-License-Identifier: MIT */
/*
 * chan-memfd.c - the memfd transport: set up a shm channel between two
 * processes (memfd.h describes the one set-up message).
 *
 * The server owns the memory.  The memfd is sealed against shrinking so a
 * hostile client cannot truncate it under the server (SIGBUS).
 */
#include "config.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostrpc/chan.h"
#include "hostrpc/memfd.h"
#include "hostrpc/ring.h"

int hrpc_memfd_server_new(int sock, size_t shm_size, hrpc_chan **out)
{
	struct hrpc_memfd_offer offer = {
		.magic = HRPC_MEMFD_MAGIC, .version = HRPC_MEMFD_VERSION,
	};
	int mfd = -1, to_srv = -1, to_cli = -1, rc;
	void *map = MAP_FAILED;
	hrpc_chan *ch = NULL;

	if (!shm_size)
		shm_size = HRPC_SHM_DEFAULT_SIZE;
	offer.shm_size = shm_size;
	mfd = memfd_create("hostrpc-chan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		goto err_errno;
	if (ftruncate(mfd, (off_t)shm_size) < 0 ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto err_errno;
	to_srv = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	to_cli = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (to_srv < 0 || to_cli < 0)
		goto err_errno;
	map = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (map == MAP_FAILED)
		goto err_errno;
	rc = hrpc_shm_chan_new(HRPC_ROLE_SERVER, map, shm_size, to_cli, to_srv, false, &ch);
	if (rc < 0)
		goto err;
	rc = hrpc_unix_send(sock, &offer, sizeof(offer), (int[]){ mfd, to_srv, to_cli }, 3);
	if (rc < 0)
		goto err;
	close(mfd);
	hrpc_chan_set_owned(ch, map, shm_size, to_srv, to_cli, -1);
	*out = ch;
	return 0;

err_errno:
	rc = -errno;
err:
	if (ch)
		hrpc_chan_free(ch);
	if (map != MAP_FAILED)
		munmap(map, shm_size);
	if (to_cli >= 0)
		close(to_cli);
	if (to_srv >= 0)
		close(to_srv);
	if (mfd >= 0)
		close(mfd);
	return rc;
}

int hrpc_memfd_client_new(int sock, hrpc_chan **out)
{
	struct hrpc_memfd_offer offer;
	int fds[HRPC_MEMFD_NR_FDS], nfds = HRPC_MEMFD_NR_FDS, rc, fl;
	void *map = MAP_FAILED;
	hrpc_chan *ch = NULL;
	struct stat st;

	rc = hrpc_unix_recv(sock, &offer, sizeof(offer), fds, &nfds);
	if (rc < 0)
		return rc;
	if (nfds != HRPC_MEMFD_NR_FDS || offer.magic != HRPC_MEMFD_MAGIC ||
	    offer.version != HRPC_MEMFD_VERSION) {
		rc = -EPROTO;
		goto err;
	}
	/* The server says how big; believe only the sealed size of the fd. */
	if (fstat(fds[0], &st) < 0) {
		rc = -errno;
		goto err;
	}
	fl = fcntl(fds[0], F_GET_SEALS);
	if (fl < 0 || !(fl & F_SEAL_SHRINK) || (uint64_t)st.st_size < offer.shm_size ||
	    offer.shm_size < sizeof(struct hrpc_shm_hdr) || offer.shm_size > (1ull << 32)) {
		rc = -EPROTO;
		goto err;
	}
	map = mmap(NULL, offer.shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		goto err;
	}
	fl = fcntl(fds[2], F_GETFL);
	if (fl < 0 || fcntl(fds[2], F_SETFL, fl | O_NONBLOCK) < 0) {
		rc = -errno;
		goto err;
	}
	rc = hrpc_shm_chan_new(HRPC_ROLE_CLIENT, map, offer.shm_size, fds[1], fds[2], false, &ch);
	if (rc < 0)
		goto err;
	close(fds[0]);
	hrpc_chan_set_owned(ch, map, offer.shm_size, fds[1], fds[2], -1);
	*out = ch;
	return 0;

err:
	if (map != MAP_FAILED)
		munmap(map, offer.shm_size);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return rc;
}

int hrpc_memfd_connect(const char *path, hrpc_chan **out)
{
	hrpc_chan *ch;
	int fd, rc;

	fd = hrpc_unix_connect(path);
	if (fd < 0)
		return fd;
	rc = hrpc_memfd_client_new(fd, &ch);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	ch->own_fd[2] = fd;
	ch->hup_fd = fd;
	*out = ch;
	return 0;
}
