/* simd_x86.h - the operations of simd.h that AVX2 and AVX-512 name alike
 * (_mm256_add_ps, _mm512_add_ps): simd_avx2.h and simd_avx512.h define
 * SIMD_X86(op) as their prefix pasted to op; vec, ivec and vfrom_bits;
 * vhalf, vdouble (half a vector as floats, and as doubles), vlow, vhigh
 * and vjoin; then include this. */
#ifndef KILN_KERNELS_X86_SIMD_X86_H
#define KILN_KERNELS_X86_SIMD_X86_H

#include <immintrin.h>

#include "kernels/x86/simd.h"

SIMD_INLINE vec vload(const float *p) { return SIMD_X86(loadu_ps)(p); }
SIMD_INLINE vec vload_aligned(const float *p) { return SIMD_X86(load_ps)(p); }
SIMD_INLINE void vstore(float *p, vec v) { SIMD_X86(storeu_ps)(p, v); }
SIMD_INLINE vec vsplat(float x) { return SIMD_X86(set1_ps)(x); }
SIMD_INLINE vec vzero(void) { return SIMD_X86(setzero_ps)(); }
SIMD_INLINE vec vadd(vec a, vec b) { return SIMD_X86(add_ps)(a, b); }
SIMD_INLINE vec vsub(vec a, vec b) { return SIMD_X86(sub_ps)(a, b); }
SIMD_INLINE vec vmul(vec a, vec b) { return SIMD_X86(mul_ps)(a, b); }
SIMD_INLINE vec vdiv(vec a, vec b) { return SIMD_X86(div_ps)(a, b); }
SIMD_INLINE vec vmin(vec a, vec b) { return SIMD_X86(min_ps)(a, b); }
SIMD_INLINE vec vmax(vec a, vec b) { return SIMD_X86(max_ps)(a, b); }
SIMD_INLINE vec vand(vec a, vec b) { return SIMD_X86(and_ps)(a, b); }
SIMD_INLINE vec vor(vec a, vec b) { return SIMD_X86(or_ps)(a, b); }
SIMD_INLINE vec vandnot(vec a, vec b) { return SIMD_X86(andnot_ps)(a, b); }
SIMD_INLINE vec vfma(vec a, vec b, vec c) {
  return SIMD_X86(fmadd_ps)(a, b, c);
}
SIMD_INLINE vec vfnma(vec a, vec b, vec c) {
  return SIMD_X86(fnmadd_ps)(a, b, c);
}

/* n = floor(n / 2) + the rest, each half's power of two built from its
 * exponent bits (k in [-126, 127]). */
SIMD_INLINE vec vscale_pow2(vec p, vec n) {
  const ivec ni = SIMD_X86(cvtps_epi32)(n), bias = SIMD_X86(set1_epi32)(127);
  const ivec n1 = SIMD_X86(srai_epi32)(ni, 1), n2 = SIMD_X86(sub_epi32)(ni, n1);
  const vec s1 =
      vfrom_bits(SIMD_X86(slli_epi32)(SIMD_X86(add_epi32)(n1, bias), 23));
  const vec s2 =
      vfrom_bits(SIMD_X86(slli_epi32)(SIMD_X86(add_epi32)(n2, bias), 23));
  return vmul(vmul(p, s1), s2);
}

typedef struct vsum {
  vdouble lo, hi;
} vsum;
SIMD_INLINE vsum vsum_zero(void) {
  return (vsum){SIMD_X86(setzero_pd)(), SIMD_X86(setzero_pd)()};
}
SIMD_INLINE vsum vsum_add(vsum s, vec v) {
  s.lo = SIMD_X86(add_pd)(s.lo, SIMD_X86(cvtps_pd)(vlow(v)));
  s.hi = SIMD_X86(add_pd)(s.hi, SIMD_X86(cvtps_pd)(vhigh(v)));
  return s;
}
SIMD_INLINE vsum vsum_merge(vsum a, vsum b) {
  return (vsum){SIMD_X86(add_pd)(a.lo, b.lo), SIMD_X86(add_pd)(a.hi, b.hi)};
}
SIMD_INLINE vec vsum_div(vsum s, double d) {
  const vdouble dv = SIMD_X86(set1_pd)(d);
  return vjoin(SIMD_X86(cvtpd_ps)(SIMD_X86(div_pd)(s.lo, dv)),
               SIMD_X86(cvtpd_ps)(SIMD_X86(div_pd)(s.hi, dv)));
}

#endif
