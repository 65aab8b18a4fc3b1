/* random_bits.h - the counter-based generators behind kiln's random
 * operators, as TensorFlow defines them: Philox4x32-10 (Salmon et al.,
 * "Parallel random numbers: as easy as 1, 2, 3", SC 2011) with TF's
 * 128-bit counter and seeding, Threefry2x32-20 for
 * STABLEHLO_RNG_BIT_GENERATOR, and TF's conversions of random words to
 * uniform and normal floats. Pure functions over small structs: no state
 * beyond what the caller keeps. */
#ifndef KILN_KERNELS_REF_RANDOM_BITS_H
#define KILN_KERNELS_REF_RANDOM_BITS_H

#include <stdint.h>

/* A Philox stream: the 128-bit counter (word 0 lowest) and 64-bit key. */
typedef struct kiln_philox {
  uint32_t counter[4];
  uint32_t key[2];
} kiln_philox;

/* Ten Philox4x32 rounds of `counter` under `key` (the key raised by the
 * Weyl constants between rounds). */
void kiln_philox4x32(const uint32_t key[2], const uint32_t counter[4],
                     uint32_t out[4]);

/* TF's PhiloxRandom(seed, seed2): the key is `seed`, the counter's upper
 * half `seed2`, its lower half 0. */
void kiln_philox_seed(kiln_philox *p, uint64_t seed, uint64_t seed2);

/* The next four words of the stream; the counter advances by one. */
void kiln_philox_next(kiln_philox *p, uint32_t out[4]);

/* Advances the counter by `count` blocks (as TF's Skip: the carry out of
 * the low 64 bits reaches the upper half). */
void kiln_philox_skip(kiln_philox *p, uint64_t count);

/* Twenty Threefry2x32 rounds of `counter` under `key`. */
void kiln_threefry2x32(uint32_t key0, uint32_t key1, const uint32_t counter[2],
                       uint32_t out[2]);

/* [0, 1) from the low 23 bits of x (TF's Uint32ToFloat). */
float kiln_uint32_to_unit_float(uint32_t x);

/* [0, 1) from the low 20 bits of hi and all of lo (TF's Uint64ToDouble). */
double kiln_uint64_to_unit_double(uint32_t hi, uint32_t lo);

/* Two standard normal floats from two words by Box-Muller (TF's
 * BoxMullerFloat). */
void kiln_box_muller(uint32_t x0, uint32_t x1, float *f0, float *f1);

#endif
