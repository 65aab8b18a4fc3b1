/* qdw_avx2.c - int8 DEPTHWISE_CONV_2D on AVX2, 8 channels of int32 per
 * ymm: qdw.inc with products through vpmaddwd + vpaddd and the
 * requantization of kernels/quant/q8_vec_avx2.h (the GEMM's too): the
 * rounding doubling high multiply as floor((x * m + 2^30) / 2^31), whose
 * low 32 bits a logical 64-bit shift gives as well as an arithmetic one
 * (AVX2 has no 64-bit arithmetic shift), the rounding shift on int32. A
 * tail block goes through a small buffer, since AVX2 has no masked byte
 * loads. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/quant/q8_vec_avx2.h"
#include "kernels/ref/quant_params.h"

#define QDW_LANES 8
#define QDW_OX 4
#define QDW_NAME(kind) kiln_q8_dwconv_##kind##__avx2

typedef __m256i qv;

static inline qv q_load(const int8_t *p, int n, bool tail) {
  if (!tail) return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p));
  int8_t buf[16] = {0};
  memcpy(buf, p, (size_t)n);
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)buf));
}

static inline qv q_splat(int32_t x) { return _mm256_set1_epi32(x); }

static inline qv q_w(const int32_t *w) {
  return _mm256_load_si256((const __m256i *)w);
}

static inline qv q_madd(qv acc, qv x, qv w) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(x, w));
}

typedef struct q_rq {
  qv bias, out_zp, lo, hi;
  q8v8_double rescale;
  /* KILN_INT8_ROUNDING_FP32: the float scale and the clamp less the zero
   * point (kiln_fp32_requantize's steps). */
  bool fp32;
  __m256 scale, flo, fhi;
} q_rq;

static inline qv q_rq_part(const int32_t *p, int n, bool tail) {
  if (!tail) return _mm256_loadu_si256((const __m256i *)p);
  const qv lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_maskload_epi32(p, _mm256_cmpgt_epi32(q_splat(n), lanes));
}

static inline q_rq q_rq_load(const kiln_quant_params *q, int64_t c0, int n,
                             bool tail) {
  _Static_assert(sizeof(int) == sizeof(int32_t), "shifts load as int32");
  const qv shift = q_rq_part((const int32_t *)(q->shift + c0), n, tail);
  const qv mult = q_rq_part(q->multiplier + c0, n, tail);
  q_rq r = {q_rq_part(q->bias32 + c0, n, tail),
            _mm256_set1_epi32(q->output_zp),
            _mm256_set1_epi32(q->act_min),
            _mm256_set1_epi32(q->act_max),
            q8v8_double_make(mult, shift),
            q->fp32_rounding,
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps()};
  if (r.fp32) {
    /* mult * 2^(shift - 31) rounded once, as kiln_fp32_requant_scale: the
     * conversion rounds, and 2^(shift - 31) (normal for shifts in
     * [-31, 30]) is built from its exponent bits, an exact multiply. */
    const qv exponent = _mm256_add_epi32(shift, _mm256_set1_epi32(127 - 31));
    const __m256 pow2 = _mm256_castsi256_ps(_mm256_slli_epi32(exponent, 23));
    r.scale = _mm256_mul_ps(_mm256_cvtepi32_ps(mult), pow2);
    r.flo = _mm256_set1_ps((float)(q->act_min - q->output_zp));
    r.fhi = _mm256_set1_ps((float)(q->act_max - q->output_zp));
  }
  return r;
}

static inline qv q_rq_bias(const q_rq *rq) { return rq->bias; }

static inline qv q_requantize(qv acc, const q_rq *rq) {
  if (rq->fp32) {
    __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), rq->scale);
    x = _mm256_min_ps(_mm256_max_ps(x, rq->flo), rq->fhi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(x), rq->out_zp);
  }
  qv y = q8v8_requant_double(acc, &rq->rescale);
  y = _mm256_add_epi32(y, rq->out_zp); /* wraps, as TFLite's */
  return _mm256_min_epi32(_mm256_max_epi32(y, rq->lo), rq->hi);
}

static inline void q_store(int8_t *p, qv acc, const q_rq *rq, int n,
                           bool tail) {
  const qv y = q_requantize(acc, rq);
  const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(y),
                                      _mm256_extracti128_si256(y, 1));
  const __m128i b8 = _mm_packs_epi16(w16, w16);
  if (!tail) {
    _mm_storel_epi64((__m128i *)p, b8);
    return;
  }
  int8_t buf[16];
  _mm_storeu_si128((__m128i *)buf, b8);
  memcpy(p, buf, (size_t)n);
}

#include "kernels/qdw/qdw.inc"
