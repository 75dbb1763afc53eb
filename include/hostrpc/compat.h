/* SPDX-License-Identifier: MIT */
/*
 * compat.h - the few primitives the wire headers need, for both sides.
 *
 * Every header under include/hostrpc/ is included by userspace (libhostrpc,
 * hostrpcd, tests) and by the guest kernel modules in drivers-frontend/.
 * This file is the only place that knows the difference.
 *
 * Wire fields are little-endian.  hostrpc runs on little-endian machines
 * only (x86-64 hosts and guests); the check below turns a port to a
 * big-endian machine into a build error instead of silent corruption.
 */
#ifndef HOSTRPC_COMPAT_H
#define HOSTRPC_COMPAT_H

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "hostrpc wire headers assume a little-endian machine"
#endif

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/errno.h>
#include <linux/compiler.h>
#include <asm/barrier.h>
#include <linux/jump_label.h>

typedef __u8  hrpc_u8;
typedef __u16 hrpc_u16;
typedef __u32 hrpc_u32;
typedef __u64 hrpc_u64;
typedef __s32 hrpc_s32;

#define hrpc_load_acquire(p)      smp_load_acquire(p)
#define hrpc_store_release(p, v)  smp_store_release(p, v)
#define hrpc_read_once(x)         READ_ONCE(x)
#define hrpc_write_once(x, v)     WRITE_ONCE(x, v)
/* A full barrier the host sees.  smp_mb() is one on hardware and KVM; QEMU's
 * TCG before 8.1 drops it when the guest has one possible CPU, and then
 * hostrpc_core.ko adds one (drivers-frontend/core/fence.c). */
DECLARE_STATIC_KEY_FALSE(hrpck_host_fence_on);
void hrpck_host_fence(void);
#define hrpc_mb() do {						\
		smp_mb();					\
		if (static_branch_unlikely(&hrpck_host_fence_on))	\
			hrpck_host_fence();			\
	} while (0)
#define hrpc_likely(x)            likely(x)
#define hrpc_unlikely(x)          unlikely(x)

#else /* userspace: C11 memory model through the GCC/clang __atomic builtins */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <errno.h>

typedef uint8_t  hrpc_u8;
typedef uint16_t hrpc_u16;
typedef uint32_t hrpc_u32;
typedef uint64_t hrpc_u64;
typedef int32_t  hrpc_s32;

#define hrpc_load_acquire(p)      __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define hrpc_store_release(p, v)  __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define hrpc_read_once(x)         __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define hrpc_write_once(x, v)     __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define hrpc_mb()                 __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define hrpc_likely(x)            __builtin_expect(!!(x), 1)
#define hrpc_unlikely(x)          __builtin_expect(!!(x), 0)
#endif

#define HRPC_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#define HRPC_ALIGN(x, a)          (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))

#endif /* HOSTRPC_COMPAT_H */
