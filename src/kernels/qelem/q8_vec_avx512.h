/* q8_vec_avx512.h - TFLite's fixed-point rescale steps on 16 int32 lanes
 * (AVX-512), equal lane by lane to the scalar ones in
 * kernels/ref/quant_math.h. Included only by *_avx512.c files. */
#ifndef KILN_KERNELS_QELEM_Q8_VEC_AVX512_H
#define KILN_KERNELS_QELEM_Q8_VEC_AVX512_H

#include <immintrin.h>
#include <stdint.h>

/* kiln_srdhm(a, m) for a multiplier m > INT32_MIN (every multiplier from
 * kiln_quantize_multiplier is >= 0, so the saturating case never arises):
 * the reference's nudge-then-truncate equals floor((a m + 2^30) / 2^31),
 * i.e. bits 31..62 of the 64-bit sum, which a logical shift reads too. */
static inline __m512i q8v_srdhm(__m512i a, __m512i m) {
  const __m512i nudge = _mm512_set1_epi64(INT64_C(1) << 30);
  __m512i even = _mm512_add_epi64(_mm512_mul_epi32(a, m), nudge);
  __m512i odd =
      _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), m), nudge);
  even = _mm512_srli_epi64(even, 31); /* result in the low half */
  odd = _mm512_slli_epi64(odd, 1);    /* result in the high half */
  return _mm512_mask_blend_epi32(0xAAAA, even, odd);
}

/* A right shift by e in [0, 31] rounding to nearest, ties away from zero
 * (kiln_rounding_divide_by_pot): `mask` is 2^e - 1 in every lane. */
typedef struct q8v_shift {
  __m512i mask, half;
  __m128i count;
} q8v_shift;

static inline q8v_shift q8v_shift_make(int e) {
  q8v_shift s;
  const int32_t mask = (int32_t)((UINT32_C(1) << e) - 1);
  s.mask = _mm512_set1_epi32(mask);
  s.half = _mm512_set1_epi32(mask >> 1);
  s.count = _mm_cvtsi32_si128(e);
  return s;
}

static inline __m512i q8v_rdbp(__m512i x, const q8v_shift *s) {
  const __m512i rem = _mm512_and_si512(x, s->mask);
  const __m512i threshold = _mm512_add_epi32(s->half, _mm512_srli_epi32(x, 31));
  const __m512i q = _mm512_sra_epi32(x, s->count); /* floor */
  return _mm512_mask_sub_epi32(q, _mm512_cmpgt_epi32_mask(rem, threshold), q,
                               _mm512_set1_epi32(-1));
}

#endif
