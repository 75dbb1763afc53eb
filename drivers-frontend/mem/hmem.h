/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmem.h - private interface of hostrpc_mem.ko: memory the host grants to
 * the guest (service 18, HRPC_SVC_MEM, protocol include/hostrpc/mem.h),
 * mapped by guest processes through /dev/hostmem (include/hostrpc/hostmem.h).
 *
 *   main.c    module, parameters, channel notifier, HELLO, GRANT/RECLAIM
 *             events (queued from the atomic callback to a work item), the
 *             reclaim pass (move, release, lose at the deadline), PRESSURE
 *   region.c  the PCI driver of the ivshmem-plain device (BAR2 = the
 *             region), the chunk table and its free pool
 *   dev.c     /dev/hostmem: open files, mmap, fault, INFO/PIN/UNPIN
 *
 * Error convention: -errno.  What the host sends (HELLO reply, events,
 * statuses) is checked once, on our copy, before use.
 *
 * Locking (outer to inner):
 *   hmem.op_lock   serialises what changes chunk ownership with the host:
 *                  HELLO's table reset, event application, the reclaim
 *                  pass and its RELEASE calls, PIN/UNPIN ioctls, PCI
 *                  remove.  Held across calls to the host.
 *   mmap_lock      (the fault handler and ->mmap run under it)
 *   hmem.lock      the chunk table, the free pool, every file's slots, the
 *                  counters, the region pointers.  Never held across a call
 *                  to the host or a user copy (a user copy may fault on a
 *                  /dev/hostmem mapping, whose handler takes it).
 *   hmem.ev_lock   spinlock: the event queue filled in atomic context.
 */
#ifndef HOSTRPC_HMEM_H
#define HOSTRPC_HMEM_H

#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/pci.h>
#include <linux/fs.h>

#include "hostrpc_core.h"
#include "hostrpc/msg.h"
#include "hostrpc/mem.h"
#include "hostrpc/hostmem.h"

#define HMEM_NAME "hostrpc_mem"

#define HMEM_CHUNK_PAGES   (HRPC_MEM_CHUNK >> PAGE_SHIFT)
#define HMEM_CALL_TIMEOUT  5000u          /* ms a call to the host may take */
#define HMEM_EVQ           1024u          /* events queued at most (power of 2) */

/*
 * Each open file's mapping lives at its own page offset in the device
 * inode's address_space (vm_pgoff = file id << HMEM_FILE_SHIFT, set by
 * ->mmap), so unmap_mapping_pages() of one file's chunk zaps that file's
 * PTEs only, however many files map /dev/hostmem.
 */
#define HMEM_FILE_SHIFT    (16 + 21 - PAGE_SHIFT)   /* CHUNKS_MAX * CHUNK_PAGES */
#define HMEM_FILES_MAX     (1u << 20)

#define HMEM_SLOT_LOST     U32_MAX        /* hmem_file.slot[]: taken at a deadline */

enum hmem_chunk_state {
	HMEM_C_NONE = 0,   /* not granted to us (never, released, or taken) */
	HMEM_C_FREE,       /* granted, in the free pool */
	HMEM_C_MAPPED,     /* granted, in a file's slot */
};

struct hmem_reclaim;
struct hmem_file;

/* One chunk of the region, under hmem.lock. */
struct hmem_chunk {
	u8 state;                       /* enum hmem_chunk_state */
	bool pinned;                    /* the host holds it resident for us */
	bool unpin;                     /* pinned, back in the pool: UNPIN due */
	bool regranted;                 /* named by a GRANT since the last HELLO */
	struct hmem_reclaim *reclaim;   /* the RECLAIM that wants it, or NULL */
	struct hmem_file *file;         /* HMEM_C_MAPPED: whose */
	u32 slot;                       /* HMEM_C_MAPPED: which of its slots */
};

/*
 * A RECLAIM being answered.  Owns the chunks of its range whose ->reclaim
 * points at it (@left of them); freed when none is left.  List and
 * lifetime under op_lock.
 */
struct hmem_reclaim {
	struct list_head link;          /* hmem.reclaims */
	u32 first, count, seq;
	u32 left;
	unsigned long deadline;         /* jiffies */
};

/*
 * One open /dev/hostmem.  Freed at ->release, which comes after the last
 * munmap (every vma holds the file).  Slots under hmem.lock.
 */
struct hmem_file {
	struct list_head link;          /* hmem.files */
	int id;                         /* page offset base, see HMEM_FILE_SHIFT */
	struct address_space *mapping;  /* the file's f_mapping, for zapping */
	bool mapped;                    /* the one mmap happened */
	bool dead;                      /* the region went (PCI remove): SIGBUS */
	u32 nslots;
	u32 *slot;                      /* chunk index or HMEM_SLOT_LOST */
};

/* A stored GRANT or RECLAIM, copied out of the atomic callback. */
struct hmem_event {
	u16 event;
	union {
		struct hrpc_mem_grant_event grant;
		struct hrpc_mem_reclaim_event reclaim;
	};
};

struct hmem {
	struct mutex op_lock;
	struct mutex lock;

	/* region (region.c), under lock */
	struct pci_dev *pdev;
	phys_addr_t bar_start;          /* user mappings (pfns) */
	resource_size_t bar_len;
	void *kva;                      /* memremap(WB): our own copies */
	u32 bar_chunks;                 /* chunks the BAR holds, <= CHUNKS_MAX */
	struct hmem_chunk *chunks;      /* [bar_chunks] */

	/* host state (main.c), under lock */
	bool attached;                  /* HELLO answered on the current channel */
	u32 nchunks;                    /* the region as the host sees it */
	u32 pin_quota;
	u32 nfree, nmapped, npinned, nlost, nunpin;
	/* After a HELLO: the GRANT events it announced, and those seen; when
	 * all came, mapped chunks none named are lost (main.c, reconcile). */
	bool reconciling;
	u32 hello_expect, hello_seen;
	u64 reclaims, moved, released, forced;
	struct list_head files;         /* hmem_file.link */
	struct list_head reclaims_list; /* hmem_reclaim.link, under op_lock */

	/* events (atomic callback -> event work), under ev_lock */
	spinlock_t ev_lock;
	bool stopping;                  /* module exit: queue no more work */
	u32 ev_gen;                     /* +1 at every detach: a HELLO older is stale */
	u32 ev_head, ev_tail, ev_dropped;
	struct hmem_event evq[HMEM_EVQ];
};

extern struct hmem hmem;
extern bool hmem_cooperate;

/* main.c */
int hmem_call(u16 proc, const void *req, u32 req_len, void *rep, u32 rep_cap,
	      u32 *rep_len, u32 flags);
int hmem_call_ranges(u16 proc, const struct hrpc_mem_range_req *runs, u32 nruns,
		     u32 *done_chunks);
void hmem_kick(void);               /* run the event/reclaim work */
void hmem_region_changed(void);     /* a region appeared: HELLO if attached */

/* region.c */
int hmem_pci_init(void);
void hmem_pci_exit(void);
void hmem_chunk_set(struct hmem_chunk *c, enum hmem_chunk_state state);
void hmem_chunk_pin(struct hmem_chunk *c, bool pinned);
bool hmem_chunk_free_usable(const struct hmem_chunk *c);
int hmem_chunk_find_free(u32 *cursor);
u32 hmem_runs_add(struct hrpc_mem_range_req *runs, u32 nruns, u32 chunk, u32 seq);

/* dev.c */
int hmem_dev_register(struct device *parent);
void hmem_dev_unregister(void);
void hmem_file_zap(struct hmem_file *hf, u32 slot);
void hmem_files_kill(void);

#endif /* HOSTRPC_HMEM_H */
