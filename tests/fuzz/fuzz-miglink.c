/* SPDX-License-Identifier: MIT */
/*
 * fuzz-miglink - libFuzzer target for the checks of what a peer host sends
 * on the migration link before anything is authenticated
 * (include/hostrpc/miglink.h).  The first byte picks the message, the rest
 * is it: 0 an intro, 1 a challenge, 2 a client proof, 3 a frame header
 * followed by the receiver's limit (8 bytes).  What a check passes must be
 * what the link relies on: a guest name of 1..63 safe characters with only
 * NULs after it, a known magic and version, and a frame no larger than the
 * limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostrpc/miglink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void intro(const uint8_t *p, size_t n)
{
	struct hrpc_mig_intro in;
	size_t len;

	if (n < sizeof(in))
		return;
	memcpy(&in, p, sizeof(in));   /* a private copy, as the server reads it */
	if (hrpc_mig_intro_check(&in) != 0)
		return;
	check(in.magic == HRPC_MIG_INTRO_MAGIC && in.version == HRPC_MIG_VERSION && !in.flags);
	len = strnlen(in.guest, sizeof(in.guest));
	check(len >= 1 && len < sizeof(in.guest));
	check(strspn(in.guest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len);
	check(strcmp(in.guest, ".") && strcmp(in.guest, ".."));
	for (size_t i = len; i < sizeof(in.guest); i++)
		check(in.guest[i] == 0);
}

static void challenge(const uint8_t *p, size_t n)
{
	struct hrpc_mig_challenge ch;

	if (n < sizeof(ch))
		return;
	memcpy(&ch, p, sizeof(ch));
	if (hrpc_mig_challenge_check(&ch) == 0)
		check(ch.magic == HRPC_MIG_CHALLENGE_MAGIC && ch.version == HRPC_MIG_VERSION &&
		      !ch.reserved);
}

static void proof(const uint8_t *p, size_t n)
{
	struct hrpc_mig_proof pr;

	if (n < sizeof(pr))
		return;
	memcpy(&pr, p, sizeof(pr));
	if (hrpc_mig_proof_check(&pr) == 0)
		check(pr.magic == HRPC_MIG_PROOF_MAGIC && !pr.reserved);
}

static void frame(const uint8_t *p, size_t n)
{
	struct hrpc_mig_frame h;
	uint64_t max;
	int rc;

	if (n < sizeof(h) + sizeof(max))
		return;
	memcpy(&h, p, sizeof(h));
	memcpy(&max, p + sizeof(h), sizeof(max));
	rc = hrpc_mig_frame_check(&h, max);
	check(rc == 0 || rc == -EBADMSG || rc == -EMSGSIZE);
	if (rc == 0)
		check(h.magic == HRPC_MIG_FRAME_MAGIC && h.type != 0 && h.len <= max);
	if (rc == -EMSGSIZE)
		check(h.magic == HRPC_MIG_FRAME_MAGIC && h.type != 0 && h.len > max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0: intro(data + 1, size - 1); break;
	case 1: challenge(data + 1, size - 1); break;
	case 2: proof(data + 1, size - 1); break;
	default: frame(data + 1, size - 1); break;
	}
	return 0;
}
