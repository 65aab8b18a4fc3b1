/* qdw_avx512_ops.h - qdw.inc's vector operations on AVX-512 (16 channels
 * of int32 per zmm), shared by qdw_avx512.c and qdw_vnni.c, which differ
 * only in q_madd (QDW_MADD). Included once, by those files alone.
 *
 * Products: the input is sign-extended to int32 and the packed weight word
 * holds the int8 weight in its low int16 and 0 in its high one, so one
 * multiply-add of int16 pairs gives x * w exactly.
 *
 * Requantization (equal bit for bit to kiln_mul_by_quantized_multiplier
 * for multipliers >= 0 and shifts in [-31, 30], what applies checks): the
 * rounding doubling high multiply rounds (x * m + nudge) / 2^31 toward
 * zero with nudge 2^30, or 1 - 2^30 for a negative product; for either
 * sign that is floor((x * m + 2^30) / 2^31) (qdw_avx2.c computes it so).
 * The rounding divide by 2^r then adds one to the floor quotient when the
 * remainder exceeds half the divisor (or reaches it, for a negative
 * dividend); q_rq_load explains how both become one shift here. */
#include <immintrin.h>

#define QDW_LANES 16

typedef __m512i qv;

static inline __mmask16 q_mask(int n) { return (__mmask16)((1u << n) - 1u); }

static inline qv q_load(const int8_t *p, int n, bool tail) {
  return _mm512_cvtepi8_epi32(tail ? _mm_maskz_loadu_epi8(q_mask(n), p)
                                   : _mm_loadu_si128((const __m128i *)p));
}

static inline qv q_splat(int32_t x) { return _mm512_set1_epi32(x); }

static inline qv q_w(const int32_t *w) { return _mm512_load_si512(w); }

static inline qv q_madd(qv acc, qv x, qv w) { return QDW_MADD(acc, x, w); }

/* Per block, once a row: the multiplier's odd lanes moved to the low
 * dwords, and for the even and odd lanes as int64 the constant added to
 * the product, the correction of a negative one and the total shift. */
typedef struct q_rq {
  qv bias, mult, mult_odd, left, out_zp;
  __m128i lo, hi; /* the clamp, as int8 */
  qv add_even, add_odd, neg_even, neg_odd, shift_even, shift_odd;
  /* KILN_INT8_ROUNDING_FP32: the float scale and the clamp less the zero
   * point (kiln_fp32_requantize's steps). */
  bool fp32;
  __m512 scale, flo, fhi;
} q_rq;

static inline qv q_rq_part(const int32_t *p, int n, bool tail) {
  return tail ? _mm512_maskz_loadu_epi32(q_mask(n), p) : _mm512_loadu_si512(p);
}

/* The two roundings as one: with P = x * m, high = floor((P + 2^30) /
 * 2^31) and the result floor((high + a) / 2^r), where a is 2^(r-1) (less
 * one when high < 0, i.e. P < -2^30) for r > 0 and 0 for r = 0. Nested
 * floors of integers merge: the result is floor((P + 2^30 + a * 2^31) /
 * 2^(31 + r)), one 64-bit arithmetic shift. */
static inline q_rq q_rq_load(const kiln_quant_params *q, int64_t c0, int n,
                             bool tail) {
  _Static_assert(sizeof(int) == sizeof(int32_t), "shifts load as int32");
  const qv shift = q_rq_part((const int32_t *)(q->shift + c0), n, tail);
  const qv zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
  const qv right = _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero);
  const __mmask16 rounds = _mm512_cmpgt_epi32_mask(right, zero);
  const qv half =
      _mm512_maskz_sllv_epi32(rounds, one, _mm512_sub_epi32(right, one));
  const qv neg = _mm512_maskz_mov_epi32(rounds, one);
  const qv low = _mm512_set1_epi64(0xffffffff);
  const qv nudge = _mm512_set1_epi64(INT64_C(1) << 30);
  const qv s31 = _mm512_set1_epi64(31);
  const qv mult = q_rq_part(q->multiplier + c0, n, tail);
  q_rq r;
  r.bias = q_rq_part(q->bias32 + c0, n, tail);
  r.mult = mult;
  r.mult_odd = _mm512_srli_epi64(mult, 32);
  r.left = _mm512_max_epi32(shift, zero);
  r.out_zp = _mm512_set1_epi32(q->output_zp);
  r.lo = _mm_set1_epi8((int8_t)q->act_min);
  r.hi = _mm_set1_epi8((int8_t)q->act_max);
  r.add_even = _mm512_add_epi64(
      nudge, _mm512_slli_epi64(_mm512_and_si512(half, low), 31));
  r.add_odd = _mm512_add_epi64(
      nudge, _mm512_slli_epi64(_mm512_srli_epi64(half, 32), 31));
  r.neg_even = _mm512_slli_epi64(_mm512_and_si512(neg, low), 31);
  r.neg_odd = _mm512_slli_epi64(_mm512_srli_epi64(neg, 32), 31);
  r.shift_even = _mm512_add_epi64(_mm512_and_si512(right, low), s31);
  r.shift_odd = _mm512_add_epi64(_mm512_srli_epi64(right, 32), s31);
  /* mult * 2^(shift - 31) rounded once, as kiln_fp32_requant_scale: the
   * conversion rounds, the power of two is exact. */
  r.fp32 = q->fp32_rounding;
  if (r.fp32) {
    r.scale = _mm512_scalef_ps(
        _mm512_cvtepi32_ps(mult),
        _mm512_cvtepi32_ps(_mm512_sub_epi32(shift, _mm512_set1_epi32(31))));
    r.flo = _mm512_set1_ps((float)(q->act_min - q->output_zp));
    r.fhi = _mm512_set1_ps((float)(q->act_max - q->output_zp));
  }
  return r;
}

static inline qv q_rq_bias(const q_rq *rq) { return rq->bias; }

/* One half's lanes as int64: the product, rounded and shifted. */
static inline qv q_round_half(qv x, qv mult, qv add, qv neg, qv shift) {
  const qv p = _mm512_mul_epi32(x, mult);
  const __mmask8 negative =
      _mm512_cmplt_epi64_mask(p, _mm512_set1_epi64(-(INT64_C(1) << 30)));
  qv s = _mm512_add_epi64(p, add);
  s = _mm512_mask_sub_epi64(s, negative, s, neg);
  return _mm512_srav_epi64(s, shift);
}

static inline qv q_requantize(qv acc, const q_rq *rq) {
  if (rq->fp32) {
    __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), rq->scale);
    x = _mm512_min_ps(_mm512_max_ps(x, rq->flo), rq->fhi);
    return _mm512_add_epi32(_mm512_cvtps_epi32(x), rq->out_zp);
  }
  const qv x = _mm512_sllv_epi32(acc, rq->left); /* wraps, as TFLite's */
  const qv even =
      q_round_half(x, rq->mult, rq->add_even, rq->neg_even, rq->shift_even);
  const qv odd = q_round_half(_mm512_srli_epi64(x, 32), rq->mult_odd,
                              rq->add_odd, rq->neg_odd, rq->shift_odd);
  qv y = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  return _mm512_add_epi32(y, rq->out_zp); /* wraps, as TFLite's */
}

/* Narrowing with saturation first and clamping int8 after gives the
 * int32 clamp's bytes (the clamp lies inside int8's range), with the
 * clamp on 128-bit vectors, half the work of 512-bit ones. */
static inline void q_store(int8_t *p, qv acc, const q_rq *rq, int n,
                           bool tail) {
  __m128i y = _mm512_cvtsepi32_epi8(q_requantize(acc, rq));
  y = _mm_min_epi8(_mm_max_epi8(y, rq->lo), rq->hi);
  if (tail)
    _mm_mask_storeu_epi8(p, q_mask(n), y);
  else
    _mm_storeu_si128((__m128i *)p, y);
}
