/* farmhash.h - Google's farmhash Fingerprint64 (farmhashna's Hash64: a
 * stable 64-bit hash of a byte string, the same on every platform), which
 * LSH_PROJECTION hashes its seeds and inputs with. The bytes may come in
 * two pieces hashed as if concatenated, so that a kernel can hash
 * "seed bytes + input row" without building the key in memory. */
#ifndef KILN_KERNELS_REF_FARMHASH_H
#define KILN_KERNELS_REF_FARMHASH_H

#include <stddef.h>
#include <stdint.h>

/* Fingerprint64 of a's a_len bytes followed by b's b_len bytes. */
uint64_t kiln_fingerprint64_2(const void *a, size_t a_len, const void *b,
                              size_t b_len);

/* Fingerprint64 of one byte string. */
uint64_t kiln_fingerprint64(const void *s, size_t len);

#endif
