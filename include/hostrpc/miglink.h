/* SPDX-License-Identifier: MIT */
/*
 * miglink.h - the host-to-host link of a live migration (issue 12).
 *
 * hostrpc-migrate on the source host connects over TCP to hostrpcd on the
 * destination host and ships the state of the guest's outsourced objects.
 * Both hosts hold the same 32-byte pre-shared key for this pair of hosts.
 * The link is AUTHENTICATED, NOT ENCRYPTED: a process that does not know
 * the key can neither open a link nor inject, change, replay, reorder or
 * drop a frame without the receiver noticing, but anyone on the path reads
 * everything (socket queues, addresses).  Run it over a network you trust
 * with that, or inside a tunnel (WireGuard, IPsec) when you do not.
 *
 * Handshake (mutual: each side proves it knows the key before it trusts
 * the other; HMAC is HMAC-SHA256, "||" concatenation, strings without NUL):
 *
 *   client -> server  struct hrpc_mig_intro       (nonce_c: 32 random bytes)
 *   server -> client  struct hrpc_mig_challenge   (nonce_s: 32 random bytes)
 *       proof = HMAC(key, "hostrpc-migrate server" || intro || nonce_s)
 *   client            checks the server's proof; on a mismatch it hangs up
 *                     without sending anything more
 *   client -> server  struct hrpc_mig_proof
 *       proof = HMAC(key, "hostrpc-migrate client" || intro || nonce_s)
 *   server            checks the client's proof; on a mismatch it hangs up
 *
 * "intro" is the 104 bytes of the intro as sent.  The two labels differ,
 * so neither side can be used as an oracle for the other's proof; the
 * fresh nonces make an old handshake worthless.  The guest's name is inside
 * the intro, so it is covered by both proofs: the server may pick the key
 * by the name (mig_link_read_intro() before mig_link_accept()).
 *
 * Session keys, one per direction:
 *   k_c2s = HMAC(key, "c2s" || nonce_c || nonce_s)
 *   k_s2c = HMAC(key, "s2c" || nonce_c || nonce_s)
 *
 * Then each direction is a stream of frames:
 *   struct hrpc_mig_frame (24 bytes) | payload (len bytes) | tag (32 bytes)
 *   tag = HMAC(k_dir, header || payload)
 * seq starts at 0 in each direction and goes up by one per frame; a
 * receiver takes exactly the next one, so a replayed, reordered or dropped
 * frame is as bad as a changed one (-EBADMSG, the link is dead).  A
 * receiver checks the header (hrpc_mig_frame_check(), against its own
 * limit) before it reserves memory for the payload, and the tag before it
 * hands the payload on.  Tags are compared in constant time.  What no tag
 * can show is a stream cut short between two frames: it reads as a peer
 * that hung up, so a protocol on top ends with an explicit last frame.
 *
 * Numbers are little-endian, as everywhere in hostrpc (compat.h).  The
 * checks below are pure functions of a private copy, for the fuzz target.
 */
#ifndef HOSTRPC_MIGLINK_H
#define HOSTRPC_MIGLINK_H

#include "compat.h"

#define HRPC_MIG_INTRO_MAGIC     0x494d5248u  /* "HRMI" */
#define HRPC_MIG_CHALLENGE_MAGIC 0x434d5248u  /* "HRMC" */
#define HRPC_MIG_PROOF_MAGIC     0x504d5248u  /* "HRMP" */
#define HRPC_MIG_FRAME_MAGIC     0x464d5248u  /* "HRMF" */
#define HRPC_MIG_VERSION         1u

#define HRPC_MIG_NAME_SIZE       64   /* a guest's name: 1..63 bytes, then NULs */
#define HRPC_MIG_NONCE_SIZE      32
#define HRPC_MIG_MAC_SIZE        32   /* HMAC-SHA256 */

struct hrpc_mig_intro {
	hrpc_u32 magic;                      /* HRPC_MIG_INTRO_MAGIC */
	hrpc_u16 version;                    /* HRPC_MIG_VERSION */
	hrpc_u16 flags;                      /* 0 */
	char     guest[HRPC_MIG_NAME_SIZE];  /* [A-Za-z0-9._-]{1,63}, NUL-padded */
	hrpc_u8  nonce[HRPC_MIG_NONCE_SIZE]; /* nonce_c */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_intro) == 104, "intro is 104 bytes");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_mig_intro, guest) == 8, "guest at 8");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_mig_intro, nonce) == 72, "nonce at 72");

struct hrpc_mig_challenge {
	hrpc_u32 magic;                      /* HRPC_MIG_CHALLENGE_MAGIC */
	hrpc_u16 version;                    /* HRPC_MIG_VERSION */
	hrpc_u16 reserved;                   /* 0 */
	hrpc_u8  nonce[HRPC_MIG_NONCE_SIZE]; /* nonce_s */
	hrpc_u8  proof[HRPC_MIG_MAC_SIZE];   /* the server's */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_challenge) == 72, "challenge is 72 bytes");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_mig_challenge, proof) == 40, "proof at 40");

struct hrpc_mig_proof {
	hrpc_u32 magic;                      /* HRPC_MIG_PROOF_MAGIC */
	hrpc_u32 reserved;                   /* 0 */
	hrpc_u8  proof[HRPC_MIG_MAC_SIZE];   /* the client's */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_proof) == 40, "proof message is 40 bytes");

struct hrpc_mig_frame {
	hrpc_u32 magic;                      /* HRPC_MIG_FRAME_MAGIC */
	hrpc_u32 type;                       /* the user's; 0 is never sent */
	hrpc_u64 seq;                        /* 0, 1, 2, ... per direction */
	hrpc_u64 len;                        /* payload bytes after this header */
};
HRPC_STATIC_ASSERT(sizeof(struct hrpc_mig_frame) == 24, "frame header is 24 bytes");
HRPC_STATIC_ASSERT(offsetof(struct hrpc_mig_frame, seq) == 8, "seq at 8");

/*
 * A guest's name as both hosts know it (libvirt's domain name).  The
 * destination builds paths and looks things up with it, so besides the
 * character set "." and ".." are refused.  Exactly one NUL region: every
 * byte after the first NUL is NUL, so no hidden second string rides along.
 */
static inline int hrpc_mig_name_check(const char name[HRPC_MIG_NAME_SIZE])
{
	int n = 0;

	while (n < HRPC_MIG_NAME_SIZE && name[n]) {
		char c = name[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return -EINVAL;
		n++;
	}
	if (n == 0 || n == HRPC_MIG_NAME_SIZE)
		return -EINVAL;
	if ((n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.'))
		return -EINVAL;
	for (int i = n; i < HRPC_MIG_NAME_SIZE; i++)
		if (name[i])
			return -EINVAL;
	return 0;
}

/* The intro, as the server reads it before anything is authenticated.
 * 0, -EPROTO (not an intro), -EPROTONOSUPPORT (another version), -EINVAL
 * (the name). */
static inline int hrpc_mig_intro_check(const struct hrpc_mig_intro *in)
{
	if (in->magic != HRPC_MIG_INTRO_MAGIC || in->flags)
		return -EPROTO;
	if (in->version != HRPC_MIG_VERSION)
		return -EPROTONOSUPPORT;
	return hrpc_mig_name_check(in->guest);
}

/* The challenge, before its proof is checked.  0, -EPROTO, -EPROTONOSUPPORT. */
static inline int hrpc_mig_challenge_check(const struct hrpc_mig_challenge *ch)
{
	if (ch->magic != HRPC_MIG_CHALLENGE_MAGIC || ch->reserved)
		return -EPROTO;
	return ch->version == HRPC_MIG_VERSION ? 0 : -EPROTONOSUPPORT;
}

static inline int hrpc_mig_proof_check(const struct hrpc_mig_proof *p)
{
	return p->magic == HRPC_MIG_PROOF_MAGIC && !p->reserved ? 0 : -EPROTO;
}

/*
 * A frame header, before its tag can be checked (the tag follows the
 * payload).  0, -EBADMSG (not a frame header: the stream is lost),
 * -EMSGSIZE (more than the receiver takes: nothing may be allocated).
 * The sequence number is the receiver's to check: it is state.
 */
static inline int hrpc_mig_frame_check(const struct hrpc_mig_frame *h, hrpc_u64 max_len)
{
	if (h->magic != HRPC_MIG_FRAME_MAGIC || h->type == 0)
		return -EBADMSG;
	return h->len <= max_len ? 0 : -EMSGSIZE;
}

#endif /* HOSTRPC_MIGLINK_H */
