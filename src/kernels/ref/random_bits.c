/* random_bits.c - Philox4x32-10, Threefry2x32-20 and TensorFlow's
 * conversions of their words into floats (see random_bits.h). The
 * constants are the ones the Random123 paper specifies. */
#include "kernels/ref/random_bits.h"

#include <math.h>
#include <string.h>

/* Philox4x32: the round multipliers and the key's Weyl increments. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* Threefry2x32: the key schedule's parity constant and the rotations of
 * the even and odd groups of four rounds. */
#define THREEFRY_PARITY 0x1BD11BDAu
static const int threefry_rotations[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};

void kiln_philox4x32(const uint32_t key[2], const uint32_t counter[4],
                     uint32_t out[4]) {
  uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
    uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

void kiln_philox_seed(kiln_philox *p, uint64_t seed, uint64_t seed2) {
  p->key[0] = (uint32_t)seed;
  p->key[1] = (uint32_t)(seed >> 32);
  p->counter[0] = 0;
  p->counter[1] = 0;
  p->counter[2] = (uint32_t)seed2;
  p->counter[3] = (uint32_t)(seed2 >> 32);
}

void kiln_philox_next(kiln_philox *p, uint32_t out[4]) {
  kiln_philox4x32(p->key, p->counter, out);
  for (int i = 0; i < 4; i++)
    if (++p->counter[i] != 0) break;
}

void kiln_philox_skip(kiln_philox *p, uint64_t count) {
  uint32_t lo = (uint32_t)count, hi = (uint32_t)(count >> 32);
  p->counter[0] += lo;
  if (p->counter[0] < lo) hi++; /* the carry out of word 0 */
  p->counter[1] += hi;
  if (p->counter[1] < hi && ++p->counter[2] == 0) p->counter[3]++;
}

static uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

void kiln_threefry2x32(uint32_t key0, uint32_t key1, const uint32_t counter[2],
                       uint32_t out[2]) {
  uint32_t ks[3] = {key0, key1, key0 ^ key1 ^ THREEFRY_PARITY};
  uint32_t x0 = counter[0] + ks[0], x1 = counter[1] + ks[1];
  /* Five groups of four rounds; after group g the key words g+1 and g+2
   * (mod 3) are injected, the second plus the group's number. */
  for (int g = 0; g < 5; g++) {
    const int *rot = threefry_rotations[g % 2];
    for (int r = 0; r < 4; r++) {
      x0 += x1;
      x1 = rotl32(x1, rot[r]);
      x1 ^= x0;
    }
    x0 += ks[(g + 1) % 3];
    x1 += ks[(g + 2) % 3] + (uint32_t)(g + 1);
  }
  out[0] = x0;
  out[1] = x1;
}

float kiln_uint32_to_unit_float(uint32_t x) {
  /* exponent 0 (biased 127) over 23 random mantissa bits: [1, 2) */
  uint32_t bits = (127u << 23) | (x & 0x7fffffu);
  float f;
  memcpy(&f, &bits, sizeof f);
  return f - 1.0f;
}

double kiln_uint64_to_unit_double(uint32_t hi, uint32_t lo) {
  uint64_t bits =
      (UINT64_C(1023) << 52) | ((uint64_t)(hi & 0xfffffu) << 32) | lo;
  double d;
  memcpy(&d, &bits, sizeof d);
  return d - 1.0;
}

void kiln_box_muller(uint32_t x0, uint32_t x1, float *f0, float *f1) {
  const float epsilon = 1.0e-7f; /* keeps log() finite */
  float u1 = kiln_uint32_to_unit_float(x0);
  if (u1 < epsilon) u1 = epsilon;
  /* TF forms the angle in double (M_PI is a double) and rounds it once. */
  const double two_pi = 6.283185307179586476925286766559;
  float v1 = (float)(two_pi * kiln_uint32_to_unit_float(x1));
  float u2 = (float)sqrt(-2.0 * log((double)u1));
  *f0 = sinf(v1) * u2;
  *f1 = cosf(v1) * u2;
}
