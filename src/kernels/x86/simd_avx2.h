/* simd_avx2.h - simd.h's operations on AVX2 + FMA: 8 floats; tails through
 * maskload / maskstore, comparisons as all-ones lanes for blendv. Only for
 * files compiled for AVX2 (*_avx2.c). */
#ifndef KILN_KERNELS_X86_SIMD_AVX2_H
#define KILN_KERNELS_X86_SIMD_AVX2_H

#include <immintrin.h>
#include <stddef.h>

#include "kernels/x86/simd.h"

#define SIMD_SUFFIX avx2
#define SIMD_ISA KILN_ISA_AVX2
#define SIMD_X86(op) _mm256_##op

enum { LANES = 8 };

typedef __m256 vec;
typedef __m256i ivec;
typedef __m256i vmask;
typedef __m256 vbool;

SIMD_INLINE vec vfrom_bits(ivec i) { return _mm256_castsi256_ps(i); }

/* Halves of a vector, for the double sums. */
typedef __m128 vhalf;
typedef __m256d vdouble;
SIMD_INLINE vhalf vlow(vec v) { return _mm256_castps256_ps128(v); }
SIMD_INLINE vhalf vhigh(vec v) { return _mm256_extractf128_ps(v, 1); }
SIMD_INLINE vec vjoin(vhalf lo, vhalf hi) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
}

#include "kernels/x86/simd_x86.h"

SIMD_INLINE vmask vfirst(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
/* Masked loads do not fault on the lanes they leave out. */
SIMD_INLINE vec vload_part(const float *p, vmask m) {
  return _mm256_maskload_ps(p, m);
}
SIMD_INLINE void vstore_part(float *p, vmask m, vec v) {
  _mm256_maskstore_ps(p, m, v);
}
SIMD_INLINE vec vround(vec x) {
  return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
SIMD_INLINE vbool vlt(vec a, vec b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
SIMD_INLINE vbool vle(vec a, vec b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
SIMD_INLINE vbool visnan(vec a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
SIMD_INLINE vec vselect(vbool m, vec a, vec b) {
  return _mm256_blendv_ps(b, a, m);
}

#endif
