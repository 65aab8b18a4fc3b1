/* farmhash.c - farmhash's Fingerprint64 (= farmhashna::Hash64), written
 * from the published algorithm and constants: strings of up to 16, 32 and
 * 64 bytes each have their own mixing, longer ones run 64-byte blocks
 * through two 32-byte accumulators and finish on the last 64 bytes. All
 * loads are little-endian. The input is a pair of byte pieces read through
 * fetch functions (see farmhash.h). */
#include "kernels/ref/farmhash.h"

#include <string.h>

static const uint64_t k0 = 0xc3a5c85c97cb3127ull;
static const uint64_t k1 = 0xb492b66fbe98f273ull;
static const uint64_t k2 = 0x9ae16a3b2f90404full;

typedef struct pieces {
  const unsigned char *a, *b;
  size_t a_len, len;
} pieces;

static unsigned byte_at(const pieces *p, size_t i) {
  return i < p->a_len ? p->a[i] : p->b[i - p->a_len];
}

/* Little-endian `n`-byte load at offset i (fast when in one piece). */
static uint64_t load(const pieces *p, size_t i, int n) {
  uint64_t v = 0;
  if (i + (size_t)n <= p->a_len || i >= p->a_len) {
    const unsigned char *src = i >= p->a_len ? p->b + (i - p->a_len) : p->a + i;
    for (int k = n - 1; k >= 0; k--) v = v << 8 | src[k];
    return v;
  }
  for (int k = n - 1; k >= 0; k--) v = v << 8 | byte_at(p, i + (size_t)k);
  return v;
}

static uint64_t fetch64(const pieces *p, size_t i) { return load(p, i, 8); }
static uint64_t fetch32(const pieces *p, size_t i) { return load(p, i, 4); }

static uint64_t rotate(uint64_t v, int shift) {
  return shift == 0 ? v : (v >> shift) | (v << (64 - shift));
}

static uint64_t shift_mix(uint64_t v) { return v ^ (v >> 47); }

static uint64_t hash_len16(uint64_t u, uint64_t v, uint64_t mul) {
  uint64_t a = (u ^ v) * mul;
  a ^= a >> 47;
  uint64_t b = (v ^ a) * mul;
  b ^= b >> 47;
  return b * mul;
}

static uint64_t hash_len0to16(const pieces *p) {
  size_t len = p->len;
  if (len >= 8) {
    uint64_t mul = k2 + len * 2;
    uint64_t a = fetch64(p, 0) + k2;
    uint64_t b = fetch64(p, len - 8);
    uint64_t c = rotate(b, 37) * mul + a;
    uint64_t d = (rotate(a, 25) + b) * mul;
    return hash_len16(c, d, mul);
  }
  if (len >= 4) {
    uint64_t mul = k2 + len * 2;
    uint64_t a = fetch32(p, 0);
    return hash_len16(len + (a << 3), fetch32(p, len - 4), mul);
  }
  if (len > 0) {
    uint8_t a = (uint8_t)byte_at(p, 0), b = (uint8_t)byte_at(p, len >> 1),
            c = (uint8_t)byte_at(p, len - 1);
    uint32_t y = (uint32_t)a + ((uint32_t)b << 8);
    uint32_t z = (uint32_t)len + ((uint32_t)c << 2);
    return shift_mix(y * k2 ^ z * k0) * k2;
  }
  return k2;
}

static uint64_t hash_len17to32(const pieces *p) {
  size_t len = p->len;
  uint64_t mul = k2 + len * 2;
  uint64_t a = fetch64(p, 0) * k1;
  uint64_t b = fetch64(p, 8);
  uint64_t c = fetch64(p, len - 8) * mul;
  uint64_t d = fetch64(p, len - 16) * k2;
  return hash_len16(rotate(a + b, 43) + rotate(c, 30) + d,
                    a + rotate(b + k2, 18) + c, mul);
}

static uint64_t hash_len33to64(const pieces *p) {
  size_t len = p->len;
  uint64_t mul = k2 + len * 2;
  uint64_t a = fetch64(p, 0) * k2;
  uint64_t b = fetch64(p, 8);
  uint64_t c = fetch64(p, len - 8) * mul;
  uint64_t d = fetch64(p, len - 16) * k2;
  uint64_t y = rotate(a + b, 43) + rotate(c, 30) + d;
  uint64_t z = hash_len16(y, a + rotate(b + k2, 18) + c, mul);
  uint64_t e = fetch64(p, 16) * mul;
  uint64_t f = fetch64(p, 24);
  uint64_t g = (y + fetch64(p, len - 32)) * mul;
  uint64_t h = (z + fetch64(p, len - 24)) * mul;
  return hash_len16(rotate(e + f, 43) + rotate(g, 30) + h,
                    e + rotate(f + a, 18) + g, mul);
}

typedef struct pair64 {
  uint64_t first, second;
} pair64;

/* The 32 bytes at offset i mixed into seeds a and b. */
static pair64 weak_hash32(const pieces *p, size_t i, uint64_t a, uint64_t b) {
  uint64_t w = fetch64(p, i), x = fetch64(p, i + 8), y = fetch64(p, i + 16),
           z = fetch64(p, i + 24);
  a += w;
  b = rotate(b + a + z, 21);
  uint64_t c = a;
  a += x;
  a += y;
  b += rotate(a, 44);
  return (pair64){a + z, b + c};
}

static uint64_t hash_long(const pieces *p) {
  size_t len = p->len;
  const uint64_t seed = 81;
  uint64_t x = seed, y = seed * k1 + 113;
  uint64_t z = shift_mix(y * k2 + 113) * k2;
  pair64 v = {0, 0}, w = {0, 0};
  x = x * k2 + fetch64(p, 0);
  size_t end = (len - 1) / 64 * 64;
  size_t last64 = end + ((len - 1) & 63) - 63;
  for (size_t s = 0; s != end; s += 64) {
    x = rotate(x + y + v.first + fetch64(p, s + 8), 37) * k1;
    y = rotate(y + v.second + fetch64(p, s + 48), 42) * k1;
    x ^= w.second;
    y += v.first + fetch64(p, s + 40);
    z = rotate(z + w.first, 33) * k1;
    v = weak_hash32(p, s, v.second * k1, x + w.first);
    w = weak_hash32(p, s + 32, z + w.second, y + fetch64(p, s + 16));
    uint64_t t = z;
    z = x;
    x = t;
  }
  uint64_t mul = k1 + ((z & 0xff) << 1);
  size_t s = last64;
  w.first += (len - 1) & 63;
  v.first += w.first;
  w.first += v.first;
  x = rotate(x + y + v.first + fetch64(p, s + 8), 37) * mul;
  y = rotate(y + v.second + fetch64(p, s + 48), 42) * mul;
  x ^= w.second * 9;
  y += v.first * 9 + fetch64(p, s + 40);
  z = rotate(z + w.first, 33) * mul;
  v = weak_hash32(p, s, v.second * mul, x + w.first);
  w = weak_hash32(p, s + 32, z + w.second, y + fetch64(p, s + 16));
  uint64_t t = z;
  z = x;
  x = t;
  return hash_len16(hash_len16(v.first, w.first, mul) + shift_mix(y) * k0 + z,
                    hash_len16(v.second, w.second, mul) + x, mul);
}

uint64_t kiln_fingerprint64_2(const void *a, size_t a_len, const void *b,
                              size_t b_len) {
  pieces p = {a, b, a_len, a_len + b_len};
  if (p.len <= 16) return hash_len0to16(&p);
  if (p.len <= 32) return hash_len17to32(&p);
  if (p.len <= 64) return hash_len33to64(&p);
  return hash_long(&p);
}

uint64_t kiln_fingerprint64(const void *s, size_t len) {
  return kiln_fingerprint64_2(s, len, NULL, 0);
}
