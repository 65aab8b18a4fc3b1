/* simd_portable.h - simd.h's operations in C with GNU vectors of 4 floats:
 * one SSE register on baseline x86-64, one NEON register on ARM. Not 8:
 * GCC compares vectors wider than the target's registers lane by lane in
 * scalar code, which made every clamp several times slower. No FMA: vfma
 * and vfnma round the product (ISO C mode does not contract a * b + c). */
#ifndef KILN_KERNELS_X86_SIMD_PORTABLE_H
#define KILN_KERNELS_X86_SIMD_PORTABLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/x86/simd.h"

#define SIMD_SUFFIX portable
#define SIMD_ISA KILN_ISA_PORTABLE

enum { LANES = 4 };

typedef float vec __attribute__((vector_size(16)));
typedef int32_t ivec __attribute__((vector_size(16)));
typedef uint32_t vbits __attribute__((vector_size(16)));
typedef ivec vbool;   /* 0 or all ones */
typedef size_t vmask; /* lanes [0, vmask) */

SIMD_INLINE vmask vfirst(size_t n) { return n; }
SIMD_INLINE vec vload(const float *p) {
  vec v;
  memcpy(&v, p, sizeof v);
  return v;
}
SIMD_INLINE vec vload_aligned(const float *p) { return vload(p); }
SIMD_INLINE void vstore(float *p, vec v) { memcpy(p, &v, sizeof v); }
/* A whole vector apart: memcpy of a variable size is a call. */
SIMD_INLINE vec vload_part(const float *p, vmask m) {
  if (m == LANES) return vload(p);
  vec v = {0};
  memcpy(&v, p, m * sizeof(float));
  return v;
}
SIMD_INLINE void vstore_part(float *p, vmask m, vec v) {
  if (m == LANES)
    vstore(p, v);
  else
    memcpy(p, &v, m * sizeof(float));
}
/* Not (vec){0} + x, which turns -0.0f into +0.0f. */
SIMD_INLINE vec vsplat(float x) { return (vec){x, x, x, x}; }
SIMD_INLINE vec vzero(void) { return (vec){0}; }
SIMD_INLINE vec vadd(vec a, vec b) { return a + b; }
SIMD_INLINE vec vsub(vec a, vec b) { return a - b; }
SIMD_INLINE vec vmul(vec a, vec b) { return a * b; }
SIMD_INLINE vec vdiv(vec a, vec b) { return a / b; }
SIMD_INLINE vec vfma(vec a, vec b, vec c) { return a * b + c; }
SIMD_INLINE vec vfnma(vec a, vec b, vec c) { return c - a * b; }
SIMD_INLINE vec vand(vec a, vec b) { return (vec)((vbits)a & (vbits)b); }
SIMD_INLINE vec vor(vec a, vec b) { return (vec)((vbits)a | (vbits)b); }
SIMD_INLINE vec vandnot(vec a, vec b) { return (vec)(~(vbits)a & (vbits)b); }
SIMD_INLINE vbool vlt(vec a, vec b) { return a < b; }
SIMD_INLINE vbool vle(vec a, vec b) { return a <= b; }
SIMD_INLINE vbool visnan(vec a) { return a != a; }
SIMD_INLINE vec vselect(vbool m, vec a, vec b) {
  return (vec)(((vbits)m & (vbits)a) | (~(vbits)m & (vbits)b));
}
/* Lane by lane, which GCC turns into minps / maxps (their rule is this
 * one); a select over a < b stays four instructions. */
SIMD_INLINE vec vmin(vec a, vec b) {
  vec r;
  for (int i = 0; i < LANES; i++) r[i] = a[i] < b[i] ? a[i] : b[i];
  return r;
}
SIMD_INLINE vec vmax(vec a, vec b) {
  vec r;
  for (int i = 0; i < LANES; i++) r[i] = a[i] > b[i] ? a[i] : b[i];
  return r;
}

/* Adding and subtracting 1.5 * 2^23 rounds to an integer in the current
 * (nearest-even) mode without a libm call. */
SIMD_INLINE vec vround(vec x) {
  const vec magic = vsplat(12582912.0f);
  return (x + magic) - magic;
}

SIMD_INLINE vec vscale_pow2(vec p, vec n) {
  const ivec ni = __builtin_convertvector(n, ivec);
  const ivec n1 = ni >> 1, n2 = ni - n1;
  const vec s1 = (vec)((vbits)(n1 + 127) << 23);
  const vec s2 = (vec)((vbits)(n2 + 127) << 23);
  return p * s1 * s2;
}

typedef double vsum __attribute__((vector_size(32)));
SIMD_INLINE vsum vsum_zero(void) { return (vsum){0}; }
SIMD_INLINE vsum vsum_add(vsum s, vec v) {
  return s + __builtin_convertvector(v, vsum);
}
SIMD_INLINE vsum vsum_merge(vsum a, vsum b) { return a + b; }
SIMD_INLINE vec vsum_div(vsum s, double d) {
  return __builtin_convertvector(s / d, vec);
}

#endif
