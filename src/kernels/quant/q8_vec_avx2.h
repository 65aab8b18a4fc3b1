/* q8_vec_avx2.h - TFLite's requantization of int32 accumulators on 8 int32
 * lanes (AVX2), equal lane by lane to kernels/ref/quant_math.h's
 * kiln_mul_by_quantized_multiplier (double rounding) and
 * kiln_mul_by_quantized_multiplier_single (FULLY_CONNECTED's one rounding)
 * for any int32 multiplier and shifts in [-31, 30], plus the narrowing of
 * four rows of 8 results to int8. The int8 kernels' output stages (GEMM,
 * depthwise) share it instead of each keeping a copy; included only by
 * *_avx2.c files, which are built with AVX2 enabled.
 *
 * AVX2 multiplies 32-bit lanes into 64-bit products only on even lanes
 * (vpmuldq), so odd lanes are moved down, multiplied, and the two halves
 * blended back; it has no 64-bit arithmetic shift, so where one is needed
 * it is a logical shift between two sign flips (floor(y / 2^s) =
 * ~(~y >> s) for y < 0). */
#ifndef KILN_KERNELS_QUANT_Q8_VEC_AVX2_H
#define KILN_KERNELS_QUANT_Q8_VEC_AVX2_H

#include <immintrin.h>
#include <stdint.h>

/* Per-lane constants of the double rounding, from a multiplier and a
 * TFLite shift (positive = left) per lane. */
typedef struct q8v8_double {
  __m256i mult, mult_odd, left, right, rmask, rhalf;
} q8v8_double;

/* Per-lane constants of the single rounding: the total right shift
 * 31 - shift and its rounding term 2^(total - 1), as int64 for the even
 * lanes and for the odd lanes moved down. */
typedef struct q8v8_single {
  __m256i mult, mult_odd, ts_even, ts_odd, round_even, round_odd;
} q8v8_single;

static inline q8v8_double q8v8_double_make(__m256i mult, __m256i shift) {
  const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);
  q8v8_double s;
  s.mult = mult;
  s.mult_odd = _mm256_srli_epi64(mult, 32);
  s.left = _mm256_max_epi32(shift, zero);
  s.right = _mm256_max_epi32(_mm256_sub_epi32(zero, shift), zero);
  s.rmask = _mm256_sub_epi32(_mm256_sllv_epi32(one, s.right), one);
  s.rhalf = _mm256_srli_epi32(s.rmask, 1);
  return s;
}

static inline q8v8_single q8v8_single_make(__m256i mult, __m256i shift) {
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256i ts = _mm256_sub_epi32(_mm256_set1_epi32(31), shift);
  q8v8_single s;
  s.mult = mult;
  s.mult_odd = _mm256_srli_epi64(mult, 32);
  s.ts_even = _mm256_and_si256(ts, _mm256_set1_epi64x(0xFFFFFFFF));
  s.ts_odd = _mm256_srli_epi64(ts, 32);
  s.round_even = _mm256_sllv_epi64(one, _mm256_sub_epi64(s.ts_even, one));
  s.round_odd = _mm256_sllv_epi64(one, _mm256_sub_epi64(s.ts_odd, one));
  return s;
}

/* kiln_srdhm(a, m) per lane (m_odd: m's odd lanes moved down). TFLite's
 * nudge-then-truncate equals floor((a m + 2^30) / 2^31) for either sign:
 * bits 31..62 of the 64-bit sum, which a logical shift reads as well as an
 * arithmetic one. That value is 2^31 only for a = m = INT32_MIN, and it
 * wraps to INT32_MIN there, a value it never takes otherwise (a m >
 * -2^62 + 2^31): that lane becomes INT32_MAX, the reference's saturation. */
static inline __m256i q8v8_srdhm(__m256i a, __m256i m, __m256i m_odd) {
  const __m256i nudge = _mm256_set1_epi64x(INT64_C(1) << 30);
  __m256i even = _mm256_add_epi64(_mm256_mul_epi32(a, m), nudge);
  __m256i odd = _mm256_add_epi64(
      _mm256_mul_epi32(_mm256_srli_epi64(a, 32), m_odd), nudge);
  /* The result sits in the low half of even lanes, the high of odd ones. */
  __m256i q = _mm256_blend_epi32(_mm256_srli_epi64(even, 31),
                                 _mm256_slli_epi64(odd, 1), 0xAA);
  const __m256i min = _mm256_set1_epi32(INT32_MIN);
  return _mm256_xor_si256(q, _mm256_cmpeq_epi32(q, min));
}

/* kiln_rounding_divide_by_pot(x, right) per lane, right in [0, 31]: the
 * floor quotient plus one where the remainder exceeds half the divisor,
 * or reaches it for a negative x (ties away from zero). */
static inline __m256i q8v8_rdbp(__m256i x, __m256i right, __m256i rmask,
                                __m256i rhalf) {
  const __m256i rem = _mm256_and_si256(x, rmask);
  const __m256i threshold = _mm256_add_epi32(rhalf, _mm256_srli_epi32(x, 31));
  const __m256i floor_div = _mm256_srav_epi32(x, right);
  /* cmpgt gives -1 where the quotient rounds up. */
  return _mm256_sub_epi32(floor_div, _mm256_cmpgt_epi32(rem, threshold));
}

/* kiln_mul_by_quantized_multiplier per lane: x << left (wrapping, as
 * TFLite's int32 product), the rounding doubling high multiply, then the
 * rounding right shift. */
static inline __m256i q8v8_requant_double(__m256i x, const q8v8_double *s) {
  x = _mm256_sllv_epi32(x, s->left);
  return q8v8_rdbp(q8v8_srdhm(x, s->mult, s->mult_odd), s->right, s->rmask,
                   s->rhalf);
}

/* floor(y / 2^s) per 64-bit lane, s in [0, 63]. */
static inline __m256i q8v8_sra64(__m256i y, __m256i s) {
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), y);
  return _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(y, sign), s),
                          sign);
}

/* kiln_mul_by_quantized_multiplier_single per lane for int32 sums:
 * (x m + 2^(ts - 1)) >> ts in 64 bits, the low 32 bits kept. |x m| <=
 * 2^62 and the rounding term is below 2^62, so the sum cannot wrap and
 * the exact product equals the reference's wrapping one. */
static inline __m256i q8v8_requant_single(__m256i x, const q8v8_single *s) {
  __m256i even = _mm256_add_epi64(_mm256_mul_epi32(x, s->mult), s->round_even);
  __m256i odd = _mm256_add_epi64(
      _mm256_mul_epi32(_mm256_srli_epi64(x, 32), s->mult_odd), s->round_odd);
  even = q8v8_sra64(even, s->ts_even);
  odd = _mm256_slli_epi64(q8v8_sra64(odd, s->ts_odd), 32);
  return _mm256_blend_epi32(even, odd, 0xAA);
}

/* Four rows of 8 int32 results to int8, clamped to [lo, hi] (int8 bounds
 * in every byte): row r's 8 bytes at bytes 8r..8r+7. The saturating packs
 * are monotonic and the clamp lies inside int8's range, so clamping after
 * them equals clamping the int32 values. Each pack works within 128-bit
 * halves, leaving dwords in the order row0 c0-3, row1 c0-3, row2 c0-3,
 * row3 c0-3 | the same for c4-7; one permute interleaves the halves. */
static inline __m256i q8v8_pack4(__m256i y0, __m256i y1, __m256i y2, __m256i y3,
                                 __m256i lo, __m256i hi) {
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(y0, y1),
                                 _mm256_packs_epi32(y2, y3));
  b = _mm256_permutevar8x32_epi32(b, order);
  return _mm256_min_epi8(_mm256_max_epi8(b, lo), hi);
}

#endif
