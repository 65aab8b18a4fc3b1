/* simd_avx512.h - simd.h's operations on AVX-512: 16 floats, tails and
 * comparisons in mask registers. Only for files compiled for AVX-512
 * (*_avx512.c). */
#ifndef KILN_KERNELS_X86_SIMD_AVX512_H
#define KILN_KERNELS_X86_SIMD_AVX512_H

#include <immintrin.h>
#include <stddef.h>

#include "kernels/x86/simd.h"

#define SIMD_SUFFIX avx512
#define SIMD_ISA KILN_ISA_AVX512
#define SIMD_X86(op) _mm512_##op

enum { LANES = 16 };

typedef __m512 vec;
typedef __m512i ivec;
typedef __mmask16 vmask;
typedef __mmask16 vbool;

SIMD_INLINE vec vfrom_bits(ivec i) { return _mm512_castsi512_ps(i); }

/* Halves of a vector, for the double sums. */
typedef __m256 vhalf;
typedef __m512d vdouble;
SIMD_INLINE vhalf vlow(vec v) { return _mm512_castps512_ps256(v); }
SIMD_INLINE vhalf vhigh(vec v) {
  return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}
SIMD_INLINE vec vjoin(vhalf lo, vhalf hi) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

#include "kernels/x86/simd_x86.h"

SIMD_INLINE vmask vfirst(size_t n) { return (vmask)((1u << n) - 1u); }
SIMD_INLINE vec vload_part(const float *p, vmask m) {
  return _mm512_maskz_loadu_ps(m, p);
}
SIMD_INLINE void vstore_part(float *p, vmask m, vec v) {
  _mm512_mask_storeu_ps(p, m, v);
}
SIMD_INLINE vec vround(vec x) {
  return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
SIMD_INLINE vbool vlt(vec a, vec b) {
  return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ);
}
SIMD_INLINE vbool vle(vec a, vec b) {
  return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ);
}
SIMD_INLINE vbool visnan(vec a) {
  return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
}
SIMD_INLINE vec vselect(vbool m, vec a, vec b) {
  return _mm512_mask_blend_ps(m, b, a);
}

#endif
