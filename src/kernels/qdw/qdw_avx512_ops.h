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
 * sign that is floor((x * m + 2^30) / 2^31), whose low 32 bits a logical
 * 64-bit shift gives as well as an arithmetic one. The rounding divide by
 * 2^right adds one to the floor quotient when the remainder exceeds half
 * the divisor (or reaches it, for a negative dividend). */
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

typedef struct q_rq {
  qv bias, mult, left, right, out_zp, lo, hi;
} q_rq;

static inline qv q_rq_part(const int32_t *p, int n, bool tail) {
  return tail ? _mm512_maskz_loadu_epi32(q_mask(n), p) : _mm512_loadu_si512(p);
}

static inline q_rq q_rq_load(const kiln_quant_params *q, int64_t c0, int n,
                             bool tail) {
  _Static_assert(sizeof(int) == sizeof(int32_t), "shifts load as int32");
  const qv shift = q_rq_part((const int32_t *)(q->shift + c0), n, tail);
  const qv zero = _mm512_setzero_si512();
  return (q_rq){q_rq_part(q->bias32 + c0, n, tail),
                q_rq_part(q->multiplier + c0, n, tail),
                _mm512_max_epi32(shift, zero),
                _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero),
                _mm512_set1_epi32(q->output_zp),
                _mm512_set1_epi32(q->act_min),
                _mm512_set1_epi32(q->act_max)};
}

static inline qv q_rq_bias(const q_rq *rq) { return rq->bias; }

static inline qv q_requantize(qv acc, const q_rq *rq) {
  const qv x = _mm512_sllv_epi32(acc, rq->left); /* wraps, as TFLite's */
  const qv nudge = _mm512_set1_epi64(INT64_C(1) << 30);
  qv even = _mm512_mul_epi32(x, rq->mult);
  qv odd = _mm512_mul_epi32(_mm512_srli_epi64(x, 32),
                            _mm512_srli_epi64(rq->mult, 32));
  even = _mm512_srli_epi64(_mm512_add_epi64(even, nudge), 31);
  odd = _mm512_slli_epi64(_mm512_add_epi64(odd, nudge), 1);
  const qv high = _mm512_mask_blend_epi32(0xAAAA, even, odd);
  const qv one = _mm512_set1_epi32(1);
  const qv mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, rq->right), one);
  const qv rem = _mm512_and_si512(high, mask);
  const qv threshold =
      _mm512_sub_epi32(_mm512_srli_epi32(mask, 1), _mm512_srai_epi32(high, 31));
  qv y = _mm512_srav_epi32(high, rq->right);
  y = _mm512_mask_add_epi32(y, _mm512_cmpgt_epi32_mask(rem, threshold), y, one);
  y = _mm512_add_epi32(y, rq->out_zp);
  return _mm512_min_epi32(_mm512_max_epi32(y, rq->lo), rq->hi);
}

static inline void q_store(int8_t *p, qv acc, const q_rq *rq, int n,
                           bool tail) {
  const qv y = q_requantize(acc, rq);
  if (tail)
    _mm512_mask_cvtepi32_storeu_epi8(p, q_mask(n), y);
  else
    _mm_storeu_si128((__m128i *)p, _mm512_cvtepi32_epi8(y));
}
